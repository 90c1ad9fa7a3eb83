//! The rule every detector applies to its counts, shared by the sketch detectors and
//! the exact baseline so they differ only in how they count.

use crate::config::Thresholds;
use crate::event::{AccountKey, Source};
use crate::signal::{Detector, Evidence, Signal, SignalKind, Subject, SuccessSeen};

/// The window figures of one attacking key.
#[derive(Clone, Copy, Debug, PartialEq)]
#[allow(missing_docs)] // fields named for their columns; documented where the name is not enough
pub struct Counts {
    /// Distinct targets (estimated or exact).
    pub distinct: u32,
    pub attempts: u32,
    pub failures: u32,
    /// Failures that carry an attacker's mark (see [`crate::tracker::Attempt::marked`]).
    pub marked: u32,
}

impl Counts {
    /// `failures / attempts` (0 with no attempts).
    pub fn failure_ratio(&self) -> f32 {
        if self.attempts == 0 {
            0.0
        } else {
            self.failures as f32 / self.attempts as f32
        }
    }

    /// Whether at least `min_marked_share` of the failures carry an attacker's mark
    /// (always, at 0): before that a key's successes are held, not reported.
    pub fn corroborated(&self, min_marked_share: f32) -> bool {
        min_marked_share <= 0.0 || self.marked as f32 >= min_marked_share * self.failures as f32
    }
}

/// `Some(score)` when `c` meets every threshold, else `None`.
///
/// The score is 0.5 at the thresholds and grows to 1.0 when the weaker of
/// distinct/min_distinct and failures/min_failures reaches 8× (log scale), scaled by
/// 0.8..1.0 as the failure ratio goes from its threshold to 1.
pub fn judge(t: &Thresholds, c: &Counts) -> Option<f32> {
    let ratio = c.failure_ratio();
    if c.distinct < t.min_distinct || c.failures < t.min_failures || ratio < t.min_failure_ratio {
        return None;
    }
    let over = |v: u32, min: u32| v as f32 / min.max(1) as f32;
    let excess = over(c.distinct, t.min_distinct).min(over(c.failures, t.min_failures));
    let size = 0.5 + 0.5 * (excess.log2() / 3.0).clamp(0.0, 1.0);
    let span = (1.0 - t.min_failure_ratio).max(f32::EPSILON);
    let purity = 0.8 + 0.2 * ((ratio - t.min_failure_ratio) / span).clamp(0.0, 1.0);
    Some((size * purity).clamp(0.0, 1.0))
}

/// What a tracker needs to say about one key when it raises a signal.
#[allow(missing_docs)] // fields named for their columns; documented where the name is not enough
pub struct Raise {
    /// Which detector.
    pub detector: Detector,
    /// The attacking key.
    pub subject: Subject,
    /// Its counts.
    pub counts: Counts,
    /// The attack's score from [`judge`].
    pub score: f32,
    /// Window start.
    pub window_start_ms: i64,
    pub now_ms: i64,
}

impl Raise {
    fn evidence(&self, success: Option<SuccessSeen>) -> Evidence {
        Evidence {
            subject: self.subject,
            distinct: self.counts.distinct,
            attempts: self.counts.attempts,
            failures: self.counts.failures,
            failure_ratio: self.counts.failure_ratio(),
            marked: self.counts.marked,
            window_start_ms: self.window_start_ms,
            window_end_ms: self.now_ms,
            success,
            takeover: None,
        }
    }

    /// The attack itself.
    pub fn attack(&self) -> Signal {
        let account = match self.subject {
            Subject::Account(a) => Some(a),
            _ => None,
        };
        Signal {
            detector: self.detector,
            kind: SignalKind::Attack,
            account,
            score: self.score,
            evidence: self.evidence(None),
        }
    }

    /// An account that logged in successfully in the attack's shadow; `None` when
    /// the success came from a source that had not failed under the key and
    /// `unseen_source_factor` is 0 (such a success is likely the owner's) — or,
    /// for a success unlike the account's history ([`PendingSuccess::novel`]),
    /// `novel_unseen_factor` is 0.
    pub fn compromised(
        &self,
        s: &PendingSuccess,
        unseen_source_factor: f32,
        novel_unseen_factor: f32,
    ) -> Option<Signal> {
        if s.owner_like {
            return None;
        }
        let factor = if s.source_failed_before {
            1.0
        } else if s.novel {
            unseen_source_factor.max(novel_unseen_factor)
        } else {
            unseen_source_factor
        };
        if factor <= 0.0 {
            return None;
        }
        Some(Signal {
            detector: self.detector,
            kind: SignalKind::LikelyCompromised,
            account: Some(s.account),
            score: (self.score * factor).clamp(0.0, 1.0),
            evidence: self.evidence(Some(SuccessSeen {
                time_ms: s.time_ms,
                source: s.source,
                source_failed_before: s.source_failed_before,
            })),
        })
    }
}

/// A success seen on a key before it crossed the thresholds, kept (a few per key)
/// so it can be reported when the key does cross them within the window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(missing_docs)] // fields named for their columns; documented where the name is not enough
pub struct PendingSuccess {
    /// Who logged in.
    pub account: AccountKey,
    pub time_ms: i64,
    /// When the window counts it ([`crate::tracker::Clock::counted_at`]): its
    /// own time, or the window's start for one that arrived out of order. It is
    /// reported only while that is still in the window.
    pub counted_ms: i64,
    /// From where.
    pub source: Source,
    /// Whether the success's witness (its source, for spraying and guessing) had
    /// failed under this key earlier in the window.
    pub source_failed_before: bool,
    /// It came from a device and network the account already knew (see
    /// `TakeoverConfig::legacy_gate`): not reported.
    pub owner_like: bool,
    /// Unlike the account's history (see [`crate::tracker::Attempt::novel`]).
    pub novel: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Thresholds = Thresholds {
        min_distinct: 20,
        min_failures: 20,
        min_failure_ratio: 0.8,
    };

    #[test]
    fn every_threshold_must_hold() {
        let ok = Counts {
            distinct: 20,
            attempts: 25,
            failures: 20,
            marked: 0,
        };
        assert!(judge(&T, &ok).is_some());
        assert!(judge(&T, &Counts { distinct: 19, ..ok }).is_none());
        assert!(judge(&T, &Counts { failures: 19, ..ok }).is_none());
        assert!(
            judge(&T, &Counts { attempts: 26, ..ok }).is_none(),
            "ratio 20/26 < 0.8"
        );
    }

    #[test]
    fn score_grows_with_size_and_purity() {
        let at = judge(
            &T,
            &Counts {
                distinct: 20,
                attempts: 25,
                failures: 20,
                marked: 0,
            },
        )
        .unwrap();
        let big = judge(
            &T,
            &Counts {
                distinct: 160,
                attempts: 200,
                failures: 160,
                marked: 0,
            },
        )
        .unwrap();
        let pure = judge(
            &T,
            &Counts {
                distinct: 160,
                attempts: 160,
                failures: 160,
                marked: 0,
            },
        )
        .unwrap();
        assert!(
            (at - 0.4).abs() < 1e-6,
            "0.5 × 0.8 at every threshold, got {at}"
        );
        assert!(big > at && pure > big && (pure - 1.0).abs() < 1e-6);
    }
}
