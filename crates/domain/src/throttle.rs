//! Failed-login throttling, as a pure state machine (after kanidm's softlock).
//!
//! One [`ThrottleState`] exists per key (an account's e-mail key, or a client
//! network). Failures inside a fixed window are counted:
//!
//! ```text
//!  failures ≤ free            → no delay
//!  free < failures < cap      → blocked for base·2^(failures−free−1), at most max_delay
//!  failures ≥ cap             → blocked until the window ends
//!  window over                → counting starts again from zero
//! ```
//!
//! Every block ends by itself (at the latest when the window closes), so an
//! attacker can slow a victim's logins down but never lock the account for
//! good; the account key is cleared by a successful login. The state is kept in
//! the database so every replica sees the same counts; the caller checks it
//! *before* spending an argon2 verification.

use std::time::Duration;

use crate::time::Timestamp;

/// Tuning for one kind of key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ThrottlePolicy {
    /// Failures allowed in a window before any delay.
    pub free_failures: u32,
    /// The first delay; each further failure doubles it.
    pub base_delay: Duration,
    /// The longest delay short of the cap.
    pub max_delay: Duration,
    /// Failures per window after which the key is blocked until the window ends.
    pub cap: u32,
    /// Length of the counting window.
    pub window: Duration,
}

impl ThrottlePolicy {
    /// Per-account default: 5 free failures, then 1 s doubling up to 15 min,
    /// and never more than 100 failures an hour.
    pub const ACCOUNT: Self = Self {
        free_failures: 5,
        base_delay: Duration::from_secs(1),
        max_delay: Duration::from_secs(15 * 60),
        cap: 100,
        window: Duration::from_secs(3600),
    };

    /// Per-client-network default: more generous (offices and carrier NAT share
    /// addresses), 1,000 failures an hour at most.
    pub const CLIENT: Self = Self {
        free_failures: 20,
        base_delay: Duration::from_secs(1),
        max_delay: Duration::from_secs(5 * 60),
        cap: 1000,
        window: Duration::from_secs(3600),
    };

    /// Per-client-network sign-ups: each costs an argon2 hash from the same
    /// pool logins use, so a sign-up flood must not starve logins.
    /// 5 free, then 1 s doubling up to 10 min, at most 30 an hour.
    pub const SIGNUP: Self = Self {
        free_failures: 5,
        base_delay: Duration::from_secs(1),
        max_delay: Duration::from_secs(10 * 60),
        cap: 30,
        window: Duration::from_secs(3600),
    };

    /// The longest window of any shipped policy: counters older than this are stale.
    pub const LONGEST_WINDOW: Duration = Duration::from_secs(3600);
}

/// Counters for one key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ThrottleState {
    /// When the current counting window began.
    pub window_start: Timestamp,
    /// Failures counted in that window.
    pub failures: u32,
    /// No attempt is admitted before this instant.
    pub blocked_until: Timestamp,
}

impl ThrottleState {
    /// A key with no failures.
    pub fn fresh(now: Timestamp) -> Self {
        Self {
            window_start: now,
            failures: 0,
            // "Never blocked", not `now`: a request that read the clock a moment
            // before this state was written must not see itself blocked.
            blocked_until: Timestamp::from_millis(0),
        }
    }

    /// `Err(retry_after)` if an attempt at `now` must be refused.
    pub fn check(&self, now: Timestamp) -> Result<(), Duration> {
        if now < self.blocked_until {
            Err(self.blocked_until.since(now))
        } else {
            Ok(())
        }
    }

    /// The state after one more failure at `now`.
    pub fn record_failure(self, now: Timestamp, policy: &ThrottlePolicy) -> Self {
        let mut s = if now.since(self.window_start) >= policy.window || now < self.window_start {
            Self::fresh(now)
        } else {
            self
        };
        s.failures = s.failures.saturating_add(1);
        let block_until = if s.failures >= policy.cap {
            s.window_start.plus(policy.window)
        } else if s.failures > policy.free_failures {
            let doublings = (s.failures - policy.free_failures - 1).min(30);
            let delay = policy
                .base_delay
                .saturating_mul(1 << doublings)
                .min(policy.max_delay);
            now.plus(delay)
        } else {
            // A free failure blocks nothing. (Setting `now` here made a request
            // that read the clock a moment earlier, racing with this one, see
            // itself "blocked" for that moment: a spurious 429.)
            s.blocked_until
        };
        s.blocked_until = s.blocked_until.max(block_until);
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_free_failure_does_not_block_a_request_that_read_the_clock_earlier() {
        // Two requests race: one records a free failure at t+5 ms, the other
        // read the clock at t and checks after that write.
        let t = Timestamp::from_millis(1_000_000);
        let s = ThrottleState::fresh(t.plus(Duration::from_millis(5)))
            .record_failure(t.plus(Duration::from_millis(5)), &ThrottlePolicy::CLIENT);
        assert_eq!(s.check(t), Ok(()));
        // Past the free failures, the block is real.
        let mut s = s;
        for _ in 0..ThrottlePolicy::CLIENT.free_failures {
            s = s.record_failure(t.plus(Duration::from_millis(5)), &ThrottlePolicy::CLIENT);
        }
        assert!(s.check(t).is_err());
    }
    use proptest::prelude::*;

    const P: ThrottlePolicy = ThrottlePolicy::ACCOUNT;

    fn t(secs: i64) -> Timestamp {
        Timestamp::from_millis(secs * 1000)
    }

    #[test]
    fn free_then_doubling() {
        let mut s = ThrottleState::fresh(t(0));
        for _ in 0..5 {
            s = s.record_failure(t(0), &P);
            assert!(s.check(t(0)).is_ok());
        }
        s = s.record_failure(t(0), &P);
        assert_eq!(s.check(t(0)), Err(Duration::from_secs(1)));
        s = s.record_failure(t(1), &P);
        assert_eq!(s.check(t(1)), Err(Duration::from_secs(2)));
        s = s.record_failure(t(3), &P);
        assert_eq!(s.check(t(3)), Err(Duration::from_secs(4)));
        assert!(s.check(t(7)).is_ok());
    }

    #[test]
    fn delay_is_capped_and_cap_blocks_until_window_end() {
        let mut s = ThrottleState::fresh(t(0));
        for i in 0..99 {
            s = s.record_failure(t(i), &P);
        }
        // Far past the doubling range, the delay stays at the maximum.
        assert_eq!(s.check(t(98)), Err(P.max_delay));
        s = s.record_failure(t(99), &P);
        assert_eq!(s.failures, 100);
        assert_eq!(s.check(t(99)), Err(Duration::from_secs(3600 - 99)));
        // The window closes: counting starts again, nothing is permanent.
        assert!(s.check(t(3600)).is_ok());
        let s = s.record_failure(t(3600), &P);
        assert_eq!(s.failures, 1);
        assert!(s.check(t(3600)).is_ok());
    }

    proptest! {
        #[test]
        fn never_blocks_past_the_window(steps in proptest::collection::vec(0i64..120, 1..300)) {
            let mut now = 0i64;
            let mut s = ThrottleState::fresh(t(0));
            for step in steps {
                now += step;
                s = s.record_failure(t(now), &P);
                let limit = s.window_start.plus(P.window);
                prop_assert!(s.blocked_until <= limit.max(t(now).plus(P.max_delay)));
            }
        }
    }
}
