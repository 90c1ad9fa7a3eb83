//! Real servers for integration tests.
//!
//! Gatehouse's tests send mail over SMTP to a real SMTP server process, not a
//! mock: [`SmtpSink`] runs Postfix's `smtp-sink` on a loopback port, dumping
//! every accepted message to a file, and hands the messages back parsed
//! ([`ReceivedMail`]). `scripts/test.sh` installs Postfix when it is missing.

mod smtp_sink;

pub use smtp_sink::{ReceivedMail, SinkMode, SmtpSink};
