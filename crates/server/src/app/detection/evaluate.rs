//! Running event rules over stored login events: the part the live monitor and
//! backtests share. Each event rule gets its own bounded-memory detectors
//! (`gatehouse_detect::Detectors` with only its detector on and its thresholds);
//! every event goes to every rule; a `LikelyCompromised` signal becomes a
//! candidate finding once its account is resolved.

use gatehouse_detect::{Detectors, Signal, SignalKind};
use gatehouse_domain::{AccountId, Timestamp};
use gatehouse_store::{LoginEvent, NewFinding, Store};

use crate::app::findings::{EventMapper, signal_finding};
use crate::app::rules::{ACCOUNT_HISTORY_SECS, Rule};

/// One rule's detectors.
pub struct RuleEngine {
    /// The rule (resolved, a stored version or a draft).
    pub rule: Rule,
    detectors: Detectors,
}

/// A signal that names an account, waiting for the account to be resolved.
pub struct Candidate {
    /// Which engine (index into [`Evaluator::engines`]).
    pub engine: usize,
    /// The signal.
    pub signal: Signal,
    /// Resolved already when the signal came from the event being observed.
    pub account: Option<Option<AccountId>>,
}

/// Rules over one event stream.
pub struct Evaluator {
    /// The rules' engines, in the order given.
    pub engines: Vec<RuleEngine>,
    /// Event → detector form.
    pub mapper: EventMapper,
    signals: Vec<Signal>,
    /// Events observed.
    pub events: u64,
    /// When `Some`, the `Attack` signals (a source, password or account crossing
    /// its detector's thresholds) are kept here with their engine, for a
    /// backtest to say which sources it judged attacking; the monitor leaves it
    /// `None`.
    pub attacks: Option<Vec<(usize, Signal)>>,
}

impl RuleEngine {
    /// The site-level attack windows its account-takeover detector saw (empty
    /// for the other detectors).
    pub fn attack_windows(&self) -> Vec<gatehouse_detect::takeover::AttackWindow> {
        self.detectors.attack_windows()
    }
}

impl Evaluator {
    /// Engines for the event rules among `rules` (others are skipped).
    pub fn new(rules: impl IntoIterator<Item = Rule>) -> Self {
        let engines = rules
            .into_iter()
            .filter_map(|rule| {
                let cfg = rule.spec.detect_config()?;
                Some(RuleEngine {
                    rule,
                    detectors: Detectors::new(cfg),
                })
            })
            .collect();
        Evaluator {
            engines,
            mapper: EventMapper::new(),
            signals: Vec::new(),
            events: 0,
            attacks: None,
        }
    }

    /// The longest window among the rules: events older than this are not live
    /// traffic (they raise no findings in the monitor).
    pub fn longest_window(&self) -> std::time::Duration {
        let secs = self
            .engines
            .iter()
            .map(|e| e.rule.spec.window())
            .max()
            .unwrap_or(0);
        std::time::Duration::from_secs(u64::from(secs))
    }

    /// How far back the rules' state reaches: the longest window, or the account
    /// histories' [`ACCOUNT_HISTORY_SECS`] when a rule learns them. A rebuild
    /// replays this much, and a backtest reads this much before its period; the
    /// part older than the rule's window only teaches ([`Evaluator::warm_up`]).
    pub fn history(&self) -> std::time::Duration {
        let learns = self.engines.iter().any(|e| e.rule.spec.learns_histories());
        let history = std::time::Duration::from_secs(u64::from(ACCOUNT_HISTORY_SECS));
        if learns {
            self.longest_window().max(history)
        } else {
            self.longest_window()
        }
    }

    /// Feeds one stored event to every rule for what it teaches (account
    /// histories, baselines, windows) and drops the signals it raises: replayed
    /// history older than the live window never becomes a finding.
    pub fn warm_up(&mut self, ev: &LoginEvent) {
        let Some(de) = self.mapper.detect_event(ev) else {
            return;
        };
        for engine in &mut self.engines {
            self.signals.clear();
            engine.detectors.observe(&de, &mut self.signals);
        }
        self.signals.clear();
    }

    /// Feeds one stored event to every rule; candidates go to `out`.
    pub fn observe(&mut self, ev: &LoginEvent, out: &mut Vec<Candidate>) {
        let Some(de) = self.mapper.detect_event(ev) else {
            return;
        };
        self.events += 1;
        for (i, engine) in self.engines.iter_mut().enumerate() {
            self.signals.clear();
            engine.detectors.observe(&de, &mut self.signals);
            for s in self.signals.drain(..) {
                if s.kind != SignalKind::LikelyCompromised {
                    if let Some(attacks) = &mut self.attacks {
                        attacks.push((i, s));
                    }
                    continue;
                }
                let Some(account) = s.account else { continue };
                let here = account == de.account
                    && s.evidence.success.is_some_and(|w| w.time_ms == de.time_ms);
                out.push(Candidate {
                    engine: i,
                    signal: s,
                    account: here.then_some(ev.account_id),
                });
            }
        }
    }

    /// Resolves a candidate's account and makes its finding (`None`: the account
    /// is unknown to Gatehouse, or the signal is below the rule's score).
    /// A signal raised after its success (a success before the attack crossed
    /// the thresholds) is resolved from the stored success event.
    pub async fn finding(
        &self,
        store: &dyn Store,
        c: &Candidate,
    ) -> gatehouse_store::Result<Option<NewFinding>> {
        let account = match c.account {
            Some(a) => a,
            None => self.resolve(store, &c.signal).await?,
        };
        Ok(account.and_then(|a| signal_finding(&self.engines[c.engine].rule, &c.signal, a)))
    }

    async fn resolve(
        &self,
        store: &dyn Store,
        s: &Signal,
    ) -> gatehouse_store::Result<Option<AccountId>> {
        let (Some(key), Some(success)) = (s.account, s.evidence.success) else {
            return Ok(None);
        };
        let at = Timestamp::from_millis(success.time_ms);
        let rows = store
            .login_events(at, Timestamp::from_millis(success.time_ms + 1), None, 1000)
            .await?;
        Ok(rows
            .iter()
            .find(|e| self.mapper.account_key(e) == key)
            .and_then(|e| e.account_id))
    }
}
