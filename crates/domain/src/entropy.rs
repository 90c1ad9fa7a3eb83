//! The two impure inputs of domain logic, passed in rather than reached for.
//!
//! Services hold a `dyn Clock` and a `dyn Entropy`; tests substitute a manual
//! clock and a seeded byte source.

use crate::time::Timestamp;

/// Source of the current time.
pub trait Clock: Send + Sync + 'static {
    /// The current instant.
    fn now(&self) -> Timestamp;
}

/// The system's wall clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::from(time::OffsetDateTime::now_utc())
    }
}

/// Source of random bytes for secrets and identifiers.
pub trait Entropy: Send + Sync + 'static {
    /// Fills `buf` with random bytes.
    fn fill(&self, buf: &mut [u8]);
}

/// The operating system's CSPRNG (`getrandom`). The only source fit for secrets.
#[derive(Clone, Copy, Debug, Default)]
pub struct OsEntropy;

impl Entropy for OsEntropy {
    fn fill(&self, buf: &mut [u8]) {
        // A failing OS RNG leaves no safe way to mint secrets; refusing to run is
        // the only correct answer, and it does not happen on supported systems.
        getrandom::fill(buf).expect("the operating system's random number generator failed");
    }
}

/// Test entropy: every byte is the same value, so generated secrets are predictable.
#[cfg(test)]
pub(crate) struct Fixed(pub u8);

#[cfg(test)]
impl Entropy for Fixed {
    fn fill(&self, buf: &mut [u8]) {
        buf.fill(self.0);
    }
}
