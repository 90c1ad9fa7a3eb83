//! The `gatehouse` binary as a user runs it, one test binary: imports resumed
//! after SIGINT, `serve` SIGKILLed mid-delivery and mid-campaign, two replicas
//! on one PostgreSQL, the demo checked against its maildir and audit chain;
//! PostgreSQL restarted and down, the mail server refusing, the disk full
//! (`fault_*`).
//! `support` holds the shared runner.

mod support;

mod breach;
mod campaign_crash;
mod cli;
mod delivery_crash;
mod demo;
mod events;
mod fault_disk;
mod fault_postgres;
mod fault_smtp;
mod oidc;
mod operators;
mod renormalise;
mod rules;
mod scan;
mod status;
mod two_replicas;
