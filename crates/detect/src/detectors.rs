//! The three detectors over one stream of [`LoginEvent`]s.
//!
//! Each detector is a [`KeyTracker`] keyed differently:
//!
//! | detector | key | distinct targets | a success signals |
//! |---|---|---|---|
//! | credential stuffing | source (IP, /24·/64, ASN) | accounts | the account, from that source |
//! | password spraying | password digest | accounts | the account, with that password |
//! | distributed guessing | account | sources | the account |

use crate::config::DetectConfig;
use crate::event::{LoginEvent, Outcome, Source};
use crate::exact::ExactTracker;
use crate::hash::mix2;
use crate::signal::{Detector, Signal, SignalKind, Subject};
use crate::takeover::Takeover;
use crate::tracker::{Attempt, KeyTracker, SketchTracker, TrackerParams, TrackerStats};

/// The detectors, generic over how they count: [`Detectors`] (sketches, bounded
/// memory) or [`ExactDetectors`] (hash maps, the baseline).
pub struct Engine<T> {
    cfg: DetectConfig,
    stuffing: Option<T>,
    spraying: Option<T>,
    guessing: Option<T>,
    takeover: Option<Takeover>,
}

/// The bounded-memory detectors.
pub type Detectors = Engine<SketchTracker>;
/// The exact hash-map baseline.
pub type ExactDetectors = Engine<ExactTracker>;

/// Per-detector counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EngineStats {
    /// Credential stuffing.
    pub stuffing: TrackerStats,
    /// Password spraying.
    pub spraying: TrackerStats,
    /// Distributed guessing.
    pub guessing: TrackerStats,
}

// Seeds that keep the three key spaces apart.
const SPRAY_SEED: u64 = 0x0073_7072_6179; // "spray"
const GUESS_SEED: u64 = 0x0067_7565_7373; // "guess"

impl<T: KeyTracker> Engine<T> {
    /// Detectors with `cfg`'s thresholds and sizes.
    pub fn new(cfg: DetectConfig) -> Self {
        let half = cfg.half_window_ms();
        let params =
            |detector, thresholds, capacity, (unseen_source_factor, novel_unseen_factor)| {
                TrackerParams {
                    detector,
                    thresholds,
                    capacity,
                    unseen_source_factor,
                    novel_unseen_factor,
                    min_marked_share: 0.0,
                    recent_failure_ms: 0,
                    half_window_ms: half,
                }
            };
        Engine {
            cfg,
            stuffing: cfg.stuffing.enabled.then(|| {
                T::new(params(
                    Detector::CredentialStuffing,
                    cfg.stuffing.thresholds,
                    cfg.stuffing.capacity,
                    (1.0, 0.0),
                ))
            }),
            spraying: cfg.spraying.enabled.then(|| {
                T::new(TrackerParams {
                    // The marks are read from the account histories the legacy
                    // gate keeps; without them every failure counts as marked.
                    min_marked_share: if cfg.takeover.legacy_gate {
                        cfg.spraying.min_marked_share
                    } else {
                        0.0
                    },
                    recent_failure_ms: i64::from(cfg.spraying.recent_failure_minutes) * 60_000,
                    ..params(
                        Detector::PasswordSpraying,
                        cfg.spraying.thresholds,
                        cfg.spraying.capacity,
                        (
                            cfg.spraying.unseen_source_factor,
                            cfg.spraying.novel_unseen_factor,
                        ),
                    )
                })
            }),
            guessing: cfg.guessing.enabled.then(|| {
                T::new(params(
                    Detector::DistributedGuessing,
                    cfg.guessing.thresholds,
                    cfg.guessing.capacity,
                    (
                        cfg.guessing.unseen_source_factor,
                        cfg.guessing.novel_unseen_factor,
                    ),
                ))
            }),
            takeover: (cfg.takeover.enabled || cfg.takeover.legacy_gate)
                .then(|| Takeover::new(cfg.takeover)),
        }
    }

    /// The configuration in force.
    pub fn config(&self) -> &DetectConfig {
        &self.cfg
    }

    /// Feed one event (events should come roughly in time order; anything older
    /// than the window is counted as late and ignored). Signals go to `out`.
    #[inline]
    pub fn observe(&mut self, ev: &LoginEvent, out: &mut Vec<Signal>) {
        let first = out.len();
        self.observe_event(ev, out);
        // An account judged taken over: the password its history learnt from the
        // attacker's success is the stolen one, not the owner's own — the
        // attacker's retries with it (after a force-reset, say) are wrong
        // passwords (`own_password_failures`).
        if out.len() > first
            && let Some(t) = &mut self.takeover
        {
            for s in &out[first..] {
                if let (SignalKind::LikelyCompromised, Some(a)) = (s.kind, s.account) {
                    t.forget_password(a);
                }
            }
        }
    }

    #[inline]
    fn observe_event(&mut self, ev: &LoginEvent, out: &mut Vec<Signal>) {
        let failure = ev.outcome.is_failure();
        // The account's history is read once, before this event teaches it: for a
        // success, and for a wrong password that carries a digest (is it the
        // password the account last signed in with? Is it tried from a network
        // the account never signed in from?).
        let looked = match &self.takeover {
            Some(t)
                if !failure || (ev.outcome == Outcome::WrongPassword && ev.password.is_some()) =>
            {
                Some(t.novelty(ev))
            }
            _ => None,
        };
        let novelty = if failure { None } else { looked };
        // The account's own password failing is the site failing (an outage logged
        // as wrong passwords) or the owner's password manager, never an attacker's
        // wrong guess (`TakeoverConfig::own_password_failures`): the trackers skip
        // it, and the takeover detector counts it only at its address, as the
        // person's attempt on their own account. In an outage at 100,000 accounts
        // a common password "failed" on 20–30 accounts of its own people: a spray,
        // by count.
        if let Some(t) = &mut self.takeover
            && looked.is_some()
            && t.own_password_failure(ev, looked)
        {
            t.observe(ev, looked, out);
            return;
        }
        let gate_on = self.cfg.takeover.legacy_gate;
        let gate = gate_on && novelty.is_some();
        // Spraying and guessing: only the owner's own device and network excuse a
        // success (a spray list of harvested real names has no unknown excess).
        let owner_like = gate && novelty.is_some_and(|n| n.owner_like());
        // Unlike the owner: a new device on a new network (not an account
        // without history: at the start of a backtest, after a promotion, every
        // returning account has none; nor a known device abroad: a traveller
        // whose popular password is being sprayed). A sprayed password's or a
        // guessed account's success from a fresh address — a residential proxy's
        // single try — is reported only so (`novel_unseen_factor`).
        let novel =
            gate && novelty.is_some_and(|n| n.known_successes > 0 && n.new_device && n.new_network);
        // Stuffing: so does a source that shows no combo list (its
        // address and network have no excess of unknown-account attempts) — a
        // carrier's NAT during an outage fails a lot, but on real accounts.
        // Nor a source whose failures are a password spray's, for a success with
        // the person's own password (`TakeoverConfig::sprayed_share`): the spray's
        // proxies exit through carriers' and offices' /24s, whose people then
        // sign in with passwords the sprayer does not know (fifth trace, a spray
        // at 100,000 accounts: 43 such people flagged by this rule).
        // Nor the owner's own device at home on a new network
        // (`TakeoverConfig::own_device_home`): a 4G proxy network exits through
        // the carrier's CGNAT /24s its people's phones are on (second trace,
        // `mobile_proxy`: 38 of them flagged by this rule over three seeds, and
        // no takeover).
        // Nor a success through a cold user agent while the attack shows in
        // warm ones (`TakeoverConfig::cold_client_share`): the people on those
        // /24s sign in with their own browsers, not the list's.
        let not_combo = owner_like
            || (gate
                && self.takeover.as_ref().is_some_and(|t| {
                    !t.source_combo_like(ev)
                        || t.spray_explains(ev, self.cfg.stuffing.grouping)
                        || novelty.is_some_and(|n| t.own_device_home(ev, n))
                        || t.cold_client(ev)
                }));
        if let Some(t) = &mut self.stuffing {
            let source = Source::of(self.cfg.stuffing.grouping, ev.ip, ev.asn);
            t.observe(
                &Attempt {
                    time_ms: ev.time_ms,
                    key: source.key(),
                    subject: Subject::Source(source),
                    item: ev.account.0,
                    // Unused: the source is the key itself (factor 1.0).
                    witness: ev.account.0,
                    failure,
                    account: ev.account,
                    source,
                    owner_like: not_combo,
                    novel: false,
                    marked: true,
                },
                out,
            );
        }
        // Spraying: also an ASN the account knows, from an address and network that
        // have not been trying unknown names — at 100,000 accounts a carrier's
        // CGNAT /24 sees its own users fail with a popular (sprayed) password, and
        // its users' successes on a new phone were flagged.
        let spray_owner_like = owner_like
            || (gate
                && ev.asn.is_some()
                && novelty.is_some_and(|n| n.known_successes > 0 && !n.new_asn)
                && !self
                    .takeover
                    .as_ref()
                    .is_some_and(|t| t.source_tried_unknown(ev)));
        if let (Some(t), Some(pw)) = (&mut self.spraying, ev.password) {
            let source = Source::of(self.cfg.stuffing.grouping, ev.ip, ev.asn);
            // A spray's mark on a failure: a name the site does not have, or an
            // account with history tried from a network it never signed in from.
            // People who forgot a password guess it on their own accounts from
            // their own places (or have no history to say otherwise).
            let marked = failure
                && (ev.outcome == Outcome::UnknownAccount
                    || match looked {
                        // (The history read above, for a wrong password.)
                        Some(n) if gate_on && self.cfg.spraying.min_marked_share > 0.0 => {
                            n.known_successes > 0 && n.new_network
                        }
                        _ => true,
                    });
            t.observe(
                &Attempt {
                    time_ms: ev.time_ms,
                    key: mix2(SPRAY_SEED, pw.0),
                    subject: Subject::Password(pw),
                    item: ev.account.0,
                    witness: source.key(),
                    failure,
                    account: ev.account,
                    source,
                    owner_like: spray_owner_like,
                    novel,
                    marked,
                },
                out,
            );
        }
        if let Some(t) = &mut self.guessing {
            let source = Source::of(self.cfg.guessing.grouping, ev.ip, ev.asn);
            t.observe(
                &Attempt {
                    time_ms: ev.time_ms,
                    key: mix2(GUESS_SEED, ev.account.0),
                    subject: Subject::Account(ev.account),
                    item: source.key(),
                    witness: source.key(),
                    failure,
                    account: ev.account,
                    source,
                    owner_like,
                    novel,
                    marked: true,
                },
                out,
            );
        }
        if let Some(t) = &mut self.takeover {
            t.observe(ev, looked, out);
        }
    }

    /// The account-takeover detector, when on (for explaining its decisions).
    pub fn takeover(&self) -> Option<&Takeover> {
        self.takeover.as_ref()
    }

    /// The site-level attack-in-progress windows the account-takeover detector saw
    /// (bounded, oldest first; empty when it is off).
    pub fn attack_windows(&self) -> Vec<crate::takeover::AttackWindow> {
        self.takeover
            .as_ref()
            .map(Takeover::attack_windows)
            .unwrap_or_default()
    }

    /// Counters per detector.
    pub fn stats(&self) -> EngineStats {
        let s = |t: &Option<T>| t.as_ref().map(KeyTracker::stats).unwrap_or_default();
        EngineStats {
            stuffing: s(&self.stuffing),
            spraying: s(&self.spraying),
            guessing: s(&self.guessing),
        }
    }
}

impl Detectors {
    /// Upper bound on the bytes the enabled detectors hold, whatever the traffic.
    pub fn bound_bytes(&self) -> usize {
        let c = &self.cfg;
        [
            (c.stuffing.enabled, &c.stuffing.capacity),
            (c.spraying.enabled, &c.spraying.capacity),
            (c.guessing.enabled, &c.guessing.capacity),
        ]
        .iter()
        .filter(|(on, _)| *on)
        .map(|(_, cap)| SketchTracker::bound_bytes(cap))
        .sum::<usize>()
            + if c.takeover.enabled || c.takeover.legacy_gate {
                Takeover::bound_bytes(&c.takeover)
            } else {
                0
            }
    }
}
