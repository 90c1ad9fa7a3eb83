//! The server's integration tests, one binary: the real server on port 0 over
//! HTTP, each test on SQLite and on PostgreSQL, mail over SMTP to a real
//! `smtp-sink`. `support` holds the harness and the both-engines macros.

#[macro_use]
mod support;

mod api;
mod backchannel;
mod breach;
mod campaigns;
mod console;
mod detection;
mod events;
mod fuzz_corpora;
mod notices;
mod oidc;
mod oidc_clients_api;
mod oidc_exact;
mod oidc_keys;
mod oidc_rp;
mod oidc_session;
mod operators;
mod ssf;
mod status;
mod takeover;
