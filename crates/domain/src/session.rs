//! Login sessions and their lifecycle.
//!
//! ```text
//!  Active ──forced reset──▶ Suspended ──undo──▶ Active
//!    │                         │
//!    └──logout / end / change password / expiry──▶ Revoked (final)
//! ```
//!
//! Suspension exists so a mistaken forced reset can be undone without logging
//! everyone out for good (invariant *Reversible*).

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use crate::time::Timestamp;

/// Where a session stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SessionState {
    /// Authenticates requests.
    Active,
    /// Held by a forced reset; may be reinstated.
    Suspended,
    /// Ended for good.
    Revoked,
}

impl SessionState {
    /// Stable text form used in storage.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Suspended => "suspended",
            Self::Revoked => "revoked",
        }
    }
}

impl FromStr for SessionState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "active" => Ok(Self::Active),
            "suspended" => Ok(Self::Suspended),
            "revoked" => Ok(Self::Revoked),
            other => Err(format!("unknown session state {other:?}")),
        }
    }
}

impl fmt::Display for SessionState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How long sessions live.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionPolicy {
    /// Absolute lifetime from creation.
    pub lifetime: Duration,
    /// A session unused this long ends.
    pub idle_timeout: Duration,
    /// `last_seen` is written at most this often per session, so a busy client
    /// does not turn every read into a database write.
    pub touch_interval: Duration,
}

impl Default for SessionPolicy {
    fn default() -> Self {
        Self {
            lifetime: Duration::from_secs(14 * 24 * 3600),
            idle_timeout: Duration::from_secs(3 * 24 * 3600),
            touch_interval: Duration::from_secs(60),
        }
    }
}

impl SessionPolicy {
    /// Whether a session in `state` that expires at `expires_at` and was last
    /// seen at `last_seen` may authenticate a request at `now`.
    pub fn is_usable(
        &self,
        state: SessionState,
        expires_at: Timestamp,
        last_seen: Timestamp,
        now: Timestamp,
    ) -> bool {
        state == SessionState::Active
            && now < expires_at
            && now.since(last_seen) < self.idle_timeout
    }

    /// Whether `last_seen` is stale enough to be written again.
    pub fn should_touch(&self, last_seen: Timestamp, now: Timestamp) -> bool {
        now.since(last_seen) >= self.touch_interval
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usability() {
        let p = SessionPolicy::default();
        let t0 = Timestamp::from_millis(1_000_000);
        let exp = t0.plus(p.lifetime);
        assert!(p.is_usable(SessionState::Active, exp, t0, t0));
        assert!(!p.is_usable(SessionState::Suspended, exp, t0, t0));
        assert!(!p.is_usable(SessionState::Revoked, exp, t0, t0));
        assert!(!p.is_usable(SessionState::Active, exp, t0, t0.plus(p.idle_timeout)));
        assert!(!p.is_usable(SessionState::Active, exp, exp, exp));
        assert!(p.should_touch(t0, t0.plus(p.touch_interval)));
        assert!(!p.should_touch(t0, t0.plus(Duration::from_secs(1))));
        for s in [
            SessionState::Active,
            SessionState::Suspended,
            SessionState::Revoked,
        ] {
            assert_eq!(s.as_str().parse::<SessionState>().unwrap(), s);
        }
    }
}
