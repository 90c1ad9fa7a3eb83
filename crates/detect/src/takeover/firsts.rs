//! The site's first sign-ins: successes of accounts with no earlier successful
//! sign-in on record, and the hours when they surge
//! (`TakeoverConfig::first_sign_in_surge`).
//!
//! Without a history, a success during an attack is judged by its address
//! alone: one that tried another account or two and mostly failed speaks
//! against it (`address_tried_others`). That is a proxy's exit — or an office's
//! address when the site's single sign-on fails and its staff fall back to
//! passwords they never used here, mistyping them, each signing in for the
//! first time within the same hour or two. The fifth trace's identity-provider
//! outage did that during its spray and its low-and-slow stuffing: 337 first
//! sign-ins in an hour against 3–10 on an ordinary one, and 12 and 15 of those
//! people flagged over six runs. An onboarded tenant's first morning, a
//! marketing e-mail's returners and a game patch that signs everyone out look
//! the same. An attack's takeovers of accounts without history come a few an
//! hour (at most 17 in any hour of the kept attack runs), among hundreds to
//! thousands of attempts on names that do not exist; the surges' first sign-ins
//! come at about half the rate of such names or more.
//!
//! So while the first sign-ins of about the last quarter of an hour come at a
//! high rate ([`FIRSTS_MIN`] an hour), a multiple of the site's own usual rate,
//! and at least [`FIRSTS_PER_UNKNOWN`] of the rate of its attempts on unknown
//! accounts (counted here at the same speed), a success without history is not
//! "unlike its owner" by that alone. The address and network
//! rules that need no history (a grain's own excess of unknown names) still
//! speak. What it costs: a takeover of an account without history during such a
//! surge is lost to this rule (one on the runs it was designed on; the spraying
//! rule found that one).
//!
//! Fixed memory: three decayed counts and two minutes (20 bytes).

use super::grains::minutes;

/// The rate of first sign-ins (an hour's worth) a surge needs: a few dozen an
/// hour are an ordinary site's weekly and monthly users coming back.
pub(super) const FIRSTS_MIN: f32 = 50.0;

/// The surge's rate of first sign-ins must be at least this share of the
/// site's rate of attempts on names that do not exist (over about the last
/// quarter of an hour, as the first sign-ins): a combo list's own takeovers are a few in a thousand of its attempts,
/// most of them names the site does not have; an outage's fallback, an
/// onboarding or a patch brings many first sign-ins and few such names (0.8–7
/// on the traces' surges, at most 0.12 in an attack's busiest hour of
/// takeovers).
pub(super) const FIRSTS_PER_UNKNOWN: f32 = 0.5;

/// The half-life (hours) of the count a surge is read from: a quarter of an
/// hour. The fallback's first people are the ones flagged (their colleagues
/// mistype beside them), and the hour's half-life showed its surges 25–30
/// minutes in, after them (the fifth trace's spraying, seeds 29 and 33: 5 and
/// 2 of 12 and 10 innocents spared, against 8 and 7 at a quarter of an hour,
/// which shows them 5–10 minutes in).
pub(super) const FIRSTS_HALF_LIFE_HOURS: f32 = 0.25;

/// How long the counts must have run before the site's usual rate means
/// anything.
const WARM_MINUTES: u32 = 24 * 60;

/// Decayed counts of first sign-ins at [`FIRSTS_HALF_LIFE_HOURS`] and at the
/// baseline's half-life (about three days), and of attempts on unknown
/// accounts at [`FIRSTS_HALF_LIFE_HOURS`] too: the two rates are compared at
/// one speed, or an attack starting under a patch's surge would show its names
/// that do not exist only after the surge had excused its first takeovers (the
/// third trace's `patch_cover`, seed 32: three lost at the hour's speed).
#[derive(Clone, Copy, Default)]
pub(super) struct Firsts {
    /// [first sign-ins fast, first sign-ins baseline, unknown accounts fast].
    counts: [f32; 3],
    /// Minutes since the epoch of the first and the last update (0: never).
    first_min: u32,
    last_min: u32,
}

impl Firsts {
    /// Counts a first sign-in at `now_ms`; `halves` are the surge's and the
    /// baseline's half-lives in hours.
    pub(super) fn add(&mut self, now_ms: i64, halves: [f32; 2]) {
        self.counts = self.at(now_ms, halves);
        let now = minutes(now_ms);
        if self.first_min == 0 {
            self.first_min = now;
        }
        self.last_min = self.last_min.max(now);
        self.counts[0] += 1.0;
        self.counts[1] += 1.0;
    }

    /// Counts an attempt on an unknown account at `now_ms` (only once the
    /// first sign-ins have started: the counts' clock is theirs).
    pub(super) fn add_unknown(&mut self, now_ms: i64, halves: [f32; 2]) {
        if self.first_min == 0 {
            return;
        }
        self.counts = self.at(now_ms, halves);
        self.last_min = self.last_min.max(minutes(now_ms));
        self.counts[2] += 1.0;
    }

    /// The counts aged to `now_ms` (not stored).
    fn at(&self, now_ms: i64, halves: [f32; 2]) -> [f32; 3] {
        let now = minutes(now_ms);
        if self.last_min == 0 || now <= self.last_min {
            return self.counts;
        }
        let dt = (now - self.last_min) as f32 / 60.0;
        let (fast, slow) = ((-dt / halves[0]).exp2(), (-dt / halves[1]).exp2());
        [
            self.counts[0] * fast,
            self.counts[1] * slow,
            self.counts[2] * fast,
        ]
    }

    /// Whether the first sign-ins surge at `now_ms`: their rate (per hour)
    /// at least [`FIRSTS_MIN`], `ratio` times the site's usual rate, and
    /// [`FIRSTS_PER_UNKNOWN`] of the site's rate of attempts on unknown
    /// accounts. Never before the counts have run a day, nor with `ratio` 0.
    pub(super) fn surge(&self, now_ms: i64, halves: [f32; 2], ratio: f32) -> bool {
        let now = minutes(now_ms);
        if ratio <= 0.0 || self.first_min == 0 || now < self.first_min + WARM_MINUTES {
            return false;
        }
        let [fast, slow, unknown] = self.at(now_ms, halves);
        // A decayed count of a steady rate r (per hour) that began t hours ago
        // holds r · h / ln 2 · (1 − 2^(−t/h)) for a half-life of h hours: the
        // rates of both counts, the baseline's corrected for a short past.
        let ran = (now - self.first_min) as f32 / 60.0;
        let per_hour = |count: f32, h: f32, t: f32| {
            count * std::f32::consts::LN_2 / (h * (1.0 - (-t / h).exp2()).max(1e-3))
        };
        let now_rate = per_hour(fast, halves[0], ran);
        let usual = per_hour(slow, halves[1], ran);
        now_rate >= FIRSTS_MIN && now_rate >= ratio * usual && fast >= FIRSTS_PER_UNKNOWN * unknown
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 3_600_000;
    const HALVES: [f32; 2] = [FIRSTS_HALF_LIFE_HOURS, 72.0];

    /// `n` attempts on unknown accounts spread over the ten minutes before `at`.
    fn unknown(f: &mut Firsts, at: i64, n: i64) {
        for k in 0..n {
            f.add_unknown(at - 600_000 + k * 600_000 / n.max(1), HALVES);
        }
    }

    /// A steady `per_hour` first sign-ins for `hours`, from `start`.
    fn steady(f: &mut Firsts, start: i64, hours: i64, per_hour: i64) -> i64 {
        let step = HOUR / per_hour;
        let mut t = start;
        while t < start + hours * HOUR {
            f.add(t, HALVES);
            t += step;
        }
        t
    }

    #[test]
    fn a_steady_rate_never_surges_and_a_burst_does() {
        let mut f = Firsts::default();
        let t0 = 1_800_000_000_000;
        let t = steady(&mut f, t0, 72, 20);
        assert!(!f.surge(t, HALVES, 4.0), "20 an hour, as ever");
        let t = steady(&mut f, t, 1, 300);
        let mut g = f;
        unknown(&mut f, t, 20);
        assert!(
            f.surge(t, HALVES, 4.0),
            "300 an hour, 120 unknown names an hour"
        );
        unknown(&mut g, t, 300);
        assert!(
            !g.surge(t, HALVES, 4.0),
            "an attack's 1,800 unknown names an hour"
        );
        assert!(!f.surge(t + 2 * HOUR, HALVES, 4.0), "two hours later");
        assert!(!f.surge(t, HALVES, 0.0), "off");
    }

    #[test]
    fn a_surge_shows_within_minutes_of_its_start() {
        let mut f = Firsts::default();
        let t = steady(&mut f, 1_800_000_000_000, 72, 20);
        // Ten minutes at 600 an hour: 100 first sign-ins.
        let mut at = t;
        for _ in 0..100 {
            f.add(at, HALVES);
            at += 6_000;
        }
        assert!(f.surge(at, HALVES, 4.0));
    }

    #[test]
    fn a_busy_site_needs_a_multiple_of_its_own_rate() {
        let mut f = Firsts::default();
        let t = steady(&mut f, 1_800_000_000_000, 72, 200);
        assert!(
            !f.surge(t, HALVES, 4.0),
            "200 an hour is this site's normal"
        );
        let t = steady(&mut f, t, 1, 600);
        assert!(!f.surge(t, HALVES, 4.0), "three times its rate");
        let t = steady(&mut f, t, 1, 2400);
        assert!(f.surge(t, HALVES, 4.0), "twelve times, for an hour");
    }

    #[test]
    fn nothing_surges_in_the_first_day() {
        let mut f = Firsts::default();
        let t = steady(&mut f, 1_800_000_000_000, 1, 500);
        assert!(!f.surge(t, HALVES, 4.0));
        let t = steady(&mut f, t + 23 * HOUR, 1, 500);
        assert!(f.surge(t, HALVES, 4.0), "after a quiet day");
    }
}
