//! Remediation: forced resets, only through campaigns.
//!
//! - `campaigns` — create, preview (the frozen snapshot and its figures),
//!   approve, start/pause/resume/abort.
//! - `apply` — the campaign worker's step: the pure guardrail
//!   (`domain::guardrail::next_step`) decides, the health gates check, one
//!   store transaction per account applies (invariant *Bounded blast radius*).
//! - `automatic` — automatic campaigns from enforced findings.
//! - `breaker` — the circuit breaker: trip, reset, the operators' alert mail
//!   and the incident draft.
//! - `undo` — undo, run by the worker at the campaign's rate.
//! - `affected` — "Was I affected?": a person's own campaigns in plain words.

pub mod affected;
pub(crate) mod apply;
pub(crate) mod automatic;
pub(crate) mod breaker;
pub mod campaigns;
pub(crate) mod undo;
