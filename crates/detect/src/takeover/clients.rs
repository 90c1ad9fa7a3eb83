//! Which user agents the site's attempts on unknown accounts come through
//! (`TakeoverConfig::cold_client_share`): a combo list's rotated browser
//! strings show its excess; the browsers of the people it shares its CGNAT,
//! office and ISP addresses with do not.

use super::*;

/// Attempts on unknown accounts (decayed over about an hour, the fast
/// half-life) the site needs before the user agents they came through say
/// anything: a quiet site's few mistyped addresses are no attack's mix.
///
/// An attack's first attempts come through user agents not yet warm (each
/// needs a few dozen attempts to show the excess), and at the hour's half-life
/// they hold the share under 0.8 for a while: the first 47 minutes of the
/// second trace's `mobile_proxy` (seed 23), whose people were flagged
/// meanwhile. A quarter of an hour's half-life (and 10 attempts) shortened
/// that, but over the 15 kept store sets it spared 17 innocents fewer and lost
/// 6 takeovers more: a list trickling at a few names a minute dips under the
/// share between its bursts.
const MIX_MIN_UNKNOWN: f32 = 20.0;

/// Attempts (decayed over about a day) a user agent needs before it can be
/// cold: fewer say nothing about whose browser it is. A list's browser string
/// at a combo list's share of unknown names shows it within a few attempts.
const COLD_ATTEMPTS: f32 = 20.0;

/// The site's attempts on unknown accounts, and those of them through a user
/// agent warm with a combo list's excess at that moment, decayed over about an
/// hour.
#[derive(Clone, Copy, Default)]
pub(super) struct ClientMix {
    /// [unknown attempts, of them through a warm user agent].
    counts: [f32; 2],
    /// Minutes since the epoch of the last update (0: never).
    last_min: u32,
}

impl ClientMix {
    /// Count an attempt on an unknown account at `now_ms`, through a warm user
    /// agent or not; `half` is the half-life in hours.
    pub(super) fn add(&mut self, now_ms: i64, half: f32, warm: bool) {
        self.counts = self.at(now_ms, half);
        self.last_min = self.last_min.max(grains::minutes(now_ms));
        self.counts[0] += 1.0;
        self.counts[1] += f32::from(u8::from(warm));
    }

    /// The counts aged to `now_ms` (not stored).
    fn at(&self, now_ms: i64, half: f32) -> [f32; 2] {
        let now = grains::minutes(now_ms);
        if self.last_min == 0 || now <= self.last_min {
            return self.counts;
        }
        let k = (-((now - self.last_min) as f32 / 60.0) / half).exp2();
        self.counts.map(|v| v * k)
    }

    /// Whether at least `share` of the unknown attempts of about the last hour
    /// (`half`) came through warm user agents, and there were
    /// [`MIX_MIN_UNKNOWN`] of them.
    pub(super) fn warm_at_least(&self, now_ms: i64, half: f32, share: f32) -> bool {
        let [all, warm] = self.at(now_ms, half);
        all >= MIX_MIN_UNKNOWN && warm >= share * all
    }
}

impl Takeover {
    /// Whether the user agent of `key` shows a combo list's excess: at least
    /// `z_times` the wide z and `share_times` a local grain's unknown share
    /// (its last hour's share when contexts end, `context_ends`). `spray_only`
    /// excuses a grain a spray explains. Warm (1, 1): one of the user agents
    /// the attacker rotates; hot (2, 3): the one it is rotating right now, not
    /// one its real users merely share.
    pub(super) fn ua_excess_at(
        &self,
        key: u64,
        prior: f32,
        spray_only: &dyn Fn(&Decayed) -> bool,
        z_times: f32,
        share_times: f32,
    ) -> bool {
        let c = &self.cfg;
        key != 0
            && self.grains[3].peek(key).is_some_and(|d| {
                let (z, excess, ..) = d.excess(prior, c.min_history);
                let share = if c.context_ends {
                    d.fast_share()
                } else {
                    d.unknown_share()
                };
                !spray_only(&d)
                    && z >= z_times * c.wide_z
                    && excess >= c.min_excess
                    && share >= share_times * c.local_unknown_share
            })
    }

    /// Whether the user agent of `key` is cold: it has a past here
    /// ([`COLD_ATTEMPTS`] over about the last day) and tried names that do not
    /// exist at no more than people's share (under `wide_unknown_share` over
    /// both the hour and the day).
    pub(super) fn ua_cold(&self, key: u64) -> bool {
        key != 0
            && self.grains[3].peek(key).is_some_and(|d| {
                d.day[0] >= COLD_ATTEMPTS && d.unknown_share() < self.cfg.wide_unknown_share
            })
    }

    /// Whether the site's attack shows in its user agents now: at least
    /// `cold_client_share` of the last hour's unknown attempts came through
    /// warm ones (off at 0).
    pub(super) fn attack_in_clients(&self, now_ms: i64) -> bool {
        let c = &self.cfg;
        c.cold_client_share > 0.0
            && self
                .clients
                .warm_at_least(now_ms, c.fast_half_life_hours, c.cold_client_share)
    }

    /// Whether `ev` comes through a cold user agent ([`Takeover::ua_cold`])
    /// while the site's attack shows in warm ones
    /// (`TakeoverConfig::cold_client_share`): not the attack's, whatever its
    /// address did.
    pub fn cold_client(&self, ev: &LoginEvent) -> bool {
        self.attack_in_clients(ev.time_ms) && self.ua_cold(Self::keys(ev)[3])
    }
}
