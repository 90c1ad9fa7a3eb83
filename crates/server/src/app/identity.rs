//! Identity: accounts and the ways people and operators prove who they are.
//!
//! - `accounts` — sign-up and password change (other sessions end by default).
//! - `sessions` — login (throttle, dummy verify for unknown accounts, breached
//!   login hook), authenticate with the session cache, list and end sessions.
//! - `recovery` — recovery by a code typed on the site (request, complete).
//! - `operators` — operators and their API keys.
//! - `console` — operator console sign-in: console passwords, console sessions
//!   with idle and absolute limits, the anti-forgery token, account search.
//! - `import` — accounts from JSON Lines with their argon2id or bcrypt hashes.
//! - `rekey` — accounts stored before addresses were normalised, re-keyed.

pub(crate) mod accounts;
pub mod console;
pub mod import;
pub mod operators;
pub mod recovery;
pub mod rekey;
pub(crate) mod sessions;
