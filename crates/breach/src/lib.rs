//! Gatehouse's breach index: a local, offline index of the Pwned Passwords corpus
//! (about 2 billion SHA-1 hashes) that answers "has this password been seen in a
//! breach?" in tens of nanoseconds.
//!
//! Two tiers live in one versioned, checksummed file ([`format`]), mmapped read-only:
//!
//! 1. a **binary fuse filter** with 16-bit fingerprints over the first 64 bits of each
//!    SHA-1 ([`filter`]): about 18 bits per key, meant to stay in RAM, and a miss there
//!    means "certainly not breached";
//! 2. an **exact tier** ([`exact`]): every unique 64-bit key, Elias–Fano compressed,
//!    with a 4-bit log-scale breach count, consulted only on a filter hit.
//!
//! **Invariant: a filter hit never acts alone.** [`BreachIndex::check_sha1`] and
//! [`BreachIndex::check_password`] return [`Verdict::Breached`] only when the exact
//! tier holds the key; a filter false positive (about 1 in 65,000 clean passwords)
//! costs one more lookup and ends as [`Verdict::Clean`].
//!
//! Building ([`build`]) is sharded by the top key byte and bounded in memory; the
//! result is renamed into place atomically, so a failed import leaves the previous
//! index untouched.
//!
//! ```no_run
//! # fn main() -> Result<(), gatehouse_breach::BreachError> {
//! use gatehouse_breach::{BreachIndex, Verdict};
//! let index = BreachIndex::open("pwned.ghbi")?;
//! if let Verdict::Breached { approx_count } = index.check_password("hunter2") {
//!     println!("seen at least {approx_count} times");
//! }
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

// The file format is little-endian and mmapped in place as `&[u16]`/`&[u64]`.
#[cfg(target_endian = "big")]
compile_error!("gatehouse-breach reads its index in place and needs a little-endian target");

pub mod build;
pub mod count;
mod error;
pub mod exact;
pub mod filter;
pub mod format;
mod index;
pub mod parse;
pub mod synth;

pub use build::{BuildOptions, BuildReport, IndexBuilder, Phase, Progress, import};
pub use error::{BreachError, Result};
pub use index::{BreachIndex, OpenOptions, Stats, Verdict};
