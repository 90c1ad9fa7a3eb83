//! Small, fixed-size sketches, each windowed by two half-window buckets.
//!
//! Hand-written rather than taken from crates.io on purpose: the crates that exist
//! (`hyperloglog`, `hyperloglogplus`, `cardinality-estimator`, `count-min-sketch`,
//! `streaming_algorithms`) hash every insert with their own (SipHash-class) hasher,
//! size their HLLs for large cardinalities (4–16 KiB each, too big for thousands of
//! tracked keys), and offer neither conservative update, nor cache-line-blocked
//! count-min, nor the two-bucket windows used here. What we need is ~150 lines,
//! tested below against exact counts.

pub mod countmin;
pub mod hll;
