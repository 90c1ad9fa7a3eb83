//! Gatehouse's compromise detectors: streaming, bounded-memory detection of
//! credential stuffing, password spraying and distributed guessing over login
//! events. Pure: events in, signals out, time carried by the events; no I/O, no
//! clock, no global state.
//!
//! ```
//! use gatehouse_detect::{AccountKey, DetectConfig, Detectors, LoginEvent, Outcome};
//! let mut detectors = Detectors::new(DetectConfig::default());
//! let mut signals = Vec::new();
//! detectors.observe(
//!     &LoginEvent {
//!         time_ms: 1_700_000_000_000,
//!         account: AccountKey(42),
//!         ip: "203.0.113.7".parse().unwrap(),
//!         asn: Some(64500),
//!         outcome: Outcome::WrongPassword,
//!         password: None,
//!         user_agent: gatehouse_detect::user_agent_hash("Mozilla/5.0"),
//!         country: gatehouse_detect::Country::from_code("fr"),
//!     },
//!     &mut signals,
//! );
//! assert!(signals.is_empty(), "one failure is no attack");
//! ```
//!
//! How memory stays bounded: [`tracker`]. The exact baseline: [`exact`]. A
//! generated trace with ground truth: [`synth`]. Design, bounds and defaults:
//! the crate's README.md.
#![deny(missing_docs)]

pub mod config;
pub mod detectors;
pub mod event;
pub mod exact;
pub mod hash;
pub mod judge;
pub mod shapes;
pub mod signal;
pub mod sketch;
pub mod synth;
pub mod takeover;
pub mod tracker;

pub use config::{
    Capacity, DetectConfig, GuessingConfig, SprayingConfig, StuffingConfig, TakeoverConfig,
    Thresholds,
};
pub use detectors::{Detectors, Engine, EngineStats, ExactDetectors};
pub use event::{
    AccountKey, Country, LoginEvent, Outcome, PasswordDigest, Source, SourceGrouping,
    user_agent_hash,
};
pub use signal::{
    Corroboration, Detector, Evidence, Grain, Signal, SignalKind, Subject, SuccessSeen,
    TakeoverEvidence, TakeoverRule,
};
