//! Detection: the checks for compromised accounts, from login events to findings.
//!
//! - `events` — login events: Gatehouse's own logins, app batches over the API,
//!   event files, retention.
//! - `rules` — the rule model, TOML/JSON parsing, versions, the shipped rules.
//! - `findings` — stored event → detector event; signal → finding with evidence.
//! - `evaluate` — every event rule's detectors over one event stream (shared by
//!   the live monitor and backtests).
//! - `monitor` — the live monitor in `serve`.
//! - `backtest` — read-only runs of a rule or draft over stored events (and, on
//!   request, their results recorded as shadow findings).
//! - `rules_status` — each rule's recent findings, the monitor's position, late history.
//! - `breach` — the breached-password index in the server (`/breach/check`,
//!   refusing breached new passwords, the breached-login hook).
//! - `leaked` — `gatehouse scan --leaked`: leaked e-mail + password pairs.
//!
//! A finding never acts by itself (invariant *Shadow before enforce*): what acts
//! is remediation.

pub mod backtest;
pub mod breach;
pub mod evaluate;
pub mod events;
pub mod findings;
pub mod leaked;
pub mod monitor;
pub mod rules;
pub mod rules_status;
