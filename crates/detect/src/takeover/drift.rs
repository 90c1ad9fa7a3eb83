//! A slow, site-level "attack in progress": the share of attempts on unknown
//! accounts over the last 24 hours against the site's own earlier days.
//!
//! A combo list run over days (low-and-slow: a few dozen attempts an hour for
//! two or three days) never makes an hour or ten minutes stand out, so the
//! attack-in-progress windows of [`super::Takeover`] stay shut, yet it still
//! tries names that do not exist at a rate above the site's: over a whole day
//! the site's unknown-account share rises well beyond what its own earlier days
//! showed. The trailing 24 hours (hourly buckets, so a day's rhythm cancels out)
//! are weighed against the *lower median* of the shares of the complete days
//! before yesterday (at most [`DAYS`]): an attack that lasts a day or two does
//! not become its own baseline, as it would in a decayed average. It opens when
//! both the excess (z) and the ratio reach their thresholds — the ratio so that a
//! big site's tiny day-to-day change, significant in z, is not an attack.
//!
//! The rise must also be one of unknown names *among the failures*
//! (`drift_failure_ratio`): a combo list's failures are 30–80 % names the site
//! does not have, people's are mostly wrong passwords on their own accounts.
//! A day when people fail more — a mandatory password change whose old devices
//! send the old password for days, an outage, a patch that signs everyone out —
//! also brings more mistyped and forgotten addresses (the change's e-mail
//! brings dormant customers back, a fifth of them try another address of
//! theirs first), so the unknown share of *attempts* rises 2–3× while the
//! unknown share of *failures* falls (the fourth trace's forced change: 0.3×).
//!
//! Hours in which an attack-in-progress window of [`super::Takeover`] was open
//! are left out of the trailing day (`drift_outside_windows`): a burst has its
//! window, and for the day after it the burst alone kept the drift open — on
//! the second trace's `mobile_proxy` a four-hour proxy burst made every later
//! sign-in of the carrier's people on a new phone, from an address the proxies
//! had used, an attack's for a day.
//!
//! Fixed memory: 24 hourly and [`DAYS`] daily counters, and at most
//! [`super::ATTACK_WINDOWS_KEPT`] drift periods kept for operators.

use std::collections::VecDeque;

use super::{ATTACK_WINDOWS_KEPT, AttackWindow};

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;

/// Complete days kept for the baseline.
pub(super) const DAYS: usize = 8;

/// A day needs this many attempts to count in the baseline (a small site's
/// share is too noisy to drift against).
const MIN_DAY_ATTEMPTS: u32 = 1_000;

/// Days the baseline needs.
const MIN_DAYS: usize = 2;

/// A drift that reopens within this long extends the previous period.
const MERGE_MS: i64 = 6 * HOUR_MS;

/// The site's drift state: counters and the drift periods seen.
pub(super) struct Drift {
    /// (attempts, unknown, failures, an attack-in-progress window was open) per
    /// hour, indexed by hour number modulo 24.
    hours: [(u32, u32, u32, bool); 24],
    /// (attempts, unknown, failures) per day, indexed by day number modulo [`DAYS`].
    days: [(u32, u32, u32); DAYS],
    /// The latest hour counted (hour number since the epoch; `i64::MIN`: none).
    hour: i64,
    /// The latest day counted.
    day: i64,
    /// The excess (z) and ratio of the last check.
    pub(super) z: f32,
    pub(super) ratio: f32,
    /// The unknown share of the trailing day's failures over the baseline's,
    /// at the last check (0 without a baseline).
    pub(super) failure_ratio: f32,
    /// Whether the last check had a baseline (enough earlier days) to weigh
    /// the trailing day against.
    pub(super) baseline_known: bool,
    /// Drift periods, oldest first; the last may be open.
    pub(super) windows: VecDeque<AttackWindow>,
}

impl Drift {
    pub(super) fn new() -> Drift {
        Drift {
            hours: [(0, 0, 0, false); 24],
            days: [(0, 0, 0); DAYS],
            hour: i64::MIN,
            day: i64::MIN,
            z: 0.0,
            ratio: 0.0,
            failure_ratio: 0.0,
            baseline_known: false,
            windows: VecDeque::with_capacity(ATTACK_WINDOWS_KEPT),
        }
    }

    pub(super) fn bytes() -> usize {
        std::mem::size_of::<Drift>() + ATTACK_WINDOWS_KEPT * std::mem::size_of::<AttackWindow>()
    }

    /// Whether a drift period is open.
    pub(super) fn open(&self) -> bool {
        self.windows.back().is_some_and(|w| w.open)
    }

    /// Counts one attempt at `now` (a slightly late event counts in the current
    /// hour and day); `failure`: a wrong password or an unknown account;
    /// `in_window`: an attack-in-progress window is open.
    pub(super) fn add(&mut self, now: i64, unknown: bool, failure: bool, in_window: bool) {
        let (h, d) = (now.div_euclid(HOUR_MS), now.div_euclid(DAY_MS));
        if h > self.hour {
            // Clear the hours skipped since (at most a day of them).
            let from = if self.hour == i64::MIN {
                h - 23
            } else {
                (self.hour + 1).max(h - 23)
            };
            for k in from..=h {
                self.hours[k.rem_euclid(24) as usize] = (0, 0, 0, false);
            }
            self.hour = h;
        }
        if d > self.day {
            let from = if self.day == i64::MIN {
                d - DAYS as i64 + 1
            } else {
                (self.day + 1).max(d - DAYS as i64 + 1)
            };
            for k in from..=d {
                self.days[k.rem_euclid(DAYS as i64) as usize] = (0, 0, 0);
            }
            self.day = d;
        }
        let u = u32::from(unknown);
        let f = u32::from(failure || unknown);
        let hb = &mut self.hours[self.hour.rem_euclid(24) as usize];
        hb.0 = hb.0.saturating_add(1);
        hb.1 = hb.1.saturating_add(u);
        hb.2 = hb.2.saturating_add(f);
        hb.3 |= in_window;
        let db = &mut self.days[self.day.rem_euclid(DAYS as i64) as usize];
        db.0 = db.0.saturating_add(1);
        db.1 = db.1.saturating_add(u);
        db.2 = db.2.saturating_add(f);
        if let Some(w) = self.windows.back_mut().filter(|w| w.open) {
            w.end_ms = w.end_ms.max(now);
            w.attempts += 1;
            w.unknown += u64::from(unknown);
        }
    }

    /// The baseline shares: the lower medians, over the complete days before
    /// yesterday with enough attempts, of the unknown share of attempts and of
    /// failures (`None` without [`MIN_DAYS`] of them).
    fn baseline(&self) -> Option<(f32, f32)> {
        let mut shares = [0f32; DAYS];
        let mut of_failures = [0f32; DAYS];
        let mut n = 0;
        for k in 2..DAYS as i64 {
            let (a, u, f) = self.days[(self.day - k).rem_euclid(DAYS as i64) as usize];
            if a >= MIN_DAY_ATTEMPTS {
                shares[n] = u as f32 / a as f32;
                of_failures[n] = u as f32 / f.max(1) as f32;
                n += 1;
            }
        }
        if n < MIN_DAYS {
            return None;
        }
        let median = |s: &mut [f32]| {
            s.sort_by(f32::total_cmp);
            s[(s.len() - 1) / 2]
        };
        Some((median(&mut shares[..n]), median(&mut of_failures[..n])))
    }

    /// Weighs the trailing 24 hours against the baseline and opens a drift period
    /// (`min_z`, `min_ratio` and, on the unknown share of failures,
    /// `min_failure_ratio` (0: not asked); `min_z` ≤ 0: never) or closes it
    /// (below half). With `outside_windows`, the hours with an attack window are
    /// left out of the trailing day.
    pub(super) fn check(
        &mut self,
        now: i64,
        min_z: f32,
        min_ratio: f32,
        min_failure_ratio: f32,
        outside_windows: bool,
    ) {
        let (a, u, f) = self
            .hours
            .iter()
            .filter(|h| !(outside_windows && h.3))
            .fold((0u64, 0u64, 0u64), |s, h| {
                (
                    s.0 + u64::from(h.0),
                    s.1 + u64::from(h.1),
                    s.2 + u64::from(h.2),
                )
            });
        let baseline = self.baseline();
        self.baseline_known = baseline.is_some() && min_z > 0.0;
        let (z, ratio, failure_ratio) = match baseline {
            Some((p, pf)) if a > 0 && min_z > 0.0 => {
                let p = p.max(1e-4);
                let expected = p * a as f32;
                (
                    (u as f32 - expected) / (expected + 1.0).sqrt(),
                    u as f32 / expected,
                    (u as f32 / f.max(1) as f32) / pf.max(1e-4),
                )
            }
            _ => (0.0, 0.0, 0.0),
        };
        self.z = z;
        self.ratio = ratio;
        self.failure_ratio = failure_ratio;
        let of_failures = min_failure_ratio <= 0.0 || failure_ratio >= min_failure_ratio;
        let hot = min_z > 0.0 && z >= min_z && ratio >= min_ratio && of_failures;
        // Closed only once the excess has halved (z, and the ratio's excess over
        // 1): a day-long count crosses its threshold slowly, and would flicker.
        let cold = z < min_z / 2.0
            || ratio < 1.0 + (min_ratio - 1.0) / 2.0
            || (min_failure_ratio > 0.0
                && failure_ratio < 1.0 + (min_failure_ratio - 1.0).max(0.0) / 2.0);
        match self.windows.back_mut() {
            Some(w) if w.open => {
                w.peak_site_z = w.peak_site_z.max(z);
                if cold {
                    w.open = false;
                }
            }
            // A reopening within a few hours is the same attack.
            Some(w) if hot && now - w.end_ms <= MERGE_MS => {
                w.open = true;
                w.end_ms = now;
                w.peak_site_z = w.peak_site_z.max(z);
            }
            _ if hot => {
                if self.windows.len() == ATTACK_WINDOWS_KEPT {
                    self.windows.pop_front();
                }
                self.windows.push_back(AttackWindow {
                    start_ms: now,
                    end_ms: now,
                    open: true,
                    peak_site_z: z,
                    unknown: 0,
                    attempts: 0,
                });
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `days` of traffic from `start_day`: `per_hour` attempts an hour, `unknown`
    /// of them on unknown accounts, checked every minute.
    /// `wrong` of them wrong passwords.
    fn run_failing(
        d: &mut Drift,
        start_day: i64,
        days: i64,
        per_hour: u32,
        unknown: u32,
        wrong: u32,
    ) {
        for h in start_day * 24..(start_day + days) * 24 {
            for k in 0..per_hour {
                let t = h * HOUR_MS + i64::from(k) * (HOUR_MS / i64::from(per_hour));
                d.add(t, k < unknown, k < unknown + wrong, false);
                if k % 10 == 0 {
                    d.check(t, 8.0, 1.25, 1.5, true);
                }
            }
        }
    }

    /// As [`run_failing`], people's wrong passwords at 3 % of attempts.
    fn run(d: &mut Drift, start_day: i64, days: i64, per_hour: u32, unknown: u32) {
        run_failing(d, start_day, days, per_hour, unknown, per_hour * 3 / 100);
    }

    #[test]
    fn a_steady_site_does_not_drift_and_a_slow_combo_list_does() {
        let mut d = Drift::new();
        // Four days at 1 % unknown: no drift (no baseline for the first two).
        run(&mut d, 1000, 4, 2_000, 20);
        assert!(d.windows.is_empty(), "{:?}", d.windows);
        assert!(d.z.abs() < 4.0, "{}", d.z);
        // A day with 40 more unknown attempts an hour (+2 points of share).
        run(&mut d, 1004, 1, 2_040, 60);
        assert!(d.open(), "z {} ratio {}", d.z, d.ratio);
        // Back to normal: closes within the day.
        run(&mut d, 1005, 1, 2_000, 20);
        assert!(!d.open());
        assert_eq!(d.windows.len(), 1);
        // The attack day is in the baseline now, but the lower median is not moved.
        run(&mut d, 1006, 2, 2_000, 20);
        assert_eq!(d.windows.len(), 1);
    }

    /// The fourth trace's forced password change: a day with twice the attempts,
    /// ten times the wrong passwords (old devices) and 2.5 times the unknown
    /// names (returners trying their other addresses) is not a drift; a combo
    /// list adding the same unknown names with few wrong passwords is.
    #[test]
    fn people_failing_more_is_not_a_drift() {
        let mut d = Drift::new();
        run(&mut d, 1000, 4, 2_000, 20);
        run_failing(&mut d, 1004, 1, 4_000, 100, 600);
        assert!(
            !d.open(),
            "z {} ratio {} of failures {}",
            d.z,
            d.ratio,
            d.failure_ratio
        );
        assert!(
            d.ratio >= 1.25 && d.failure_ratio < 1.0,
            "{} {}",
            d.ratio,
            d.failure_ratio
        );
        run(&mut d, 1005, 1, 2_000, 20);
        run_failing(&mut d, 1006, 1, 2_080, 100, 80);
        assert!(
            d.open(),
            "z {} ratio {} of failures {}",
            d.z,
            d.ratio,
            d.failure_ratio
        );
    }

    /// Four normal days, then four hours of a burst (600 unknown names an hour,
    /// its attack window open) and the rest of that day normal: whether a drift
    /// is open at the end of the day.
    fn after_a_burst(outside_windows: bool) -> bool {
        let mut d = Drift::new();
        run(&mut d, 1000, 4, 2_000, 20);
        for h in 1004 * 24..1005 * 24 {
            let burst = h < 1004 * 24 + 4;
            let (per_hour, unknown) = if burst { (2_600, 620) } else { (2_000, 20) };
            for k in 0..per_hour {
                let t = h * HOUR_MS + i64::from(k) * (HOUR_MS / i64::from(per_hour));
                d.add(t, k < unknown, k < unknown + 60, burst);
                if k % 10 == 0 {
                    d.check(t, 8.0, 1.25, 1.5, outside_windows);
                }
            }
        }
        d.open()
    }

    #[test]
    fn a_burst_with_its_window_is_not_a_drift_for_the_day_after() {
        assert!(!after_a_burst(true));
        // Counted in the trailing day, the burst alone kept the drift open.
        assert!(after_a_burst(false));
    }

    #[test]
    fn a_small_site_has_no_baseline() {
        let mut d = Drift::new();
        run(&mut d, 1000, 4, 20, 0);
        run(&mut d, 1004, 1, 20, 10);
        assert!(d.windows.is_empty());
    }
}
