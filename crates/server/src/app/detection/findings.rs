//! Findings: turning detector signals (and breached logins, and leaked pairs) into
//! recorded, explained judgements about accounts.
//!
//! Only a `LikelyCompromised` signal about an account Gatehouse has becomes a
//! finding: events for unknown addresses feed the detectors (they show an
//! attacker's spread) but never name an account to reset. A finding's evidence
//! says, in figures and in one sentence, which source or password attacked, how
//! many accounts or sources it touched, in which window, and which login made
//! this account suspect.

use std::hash::BuildHasher;
use std::net::IpAddr;

use gatehouse_detect::{
    AccountKey, Corroboration, Country, Evidence, Grain, LoginEvent as DetectEvent, Outcome,
    PasswordDigest, Signal, SignalKind, Subject, TakeoverEvidence, TakeoverRule, user_agent_hash,
};
use gatehouse_domain::audit::{Actor, AuditAction, NewAuditEntry};
use gatehouse_domain::finding::FindingStatus;
use gatehouse_domain::login_event::EventOutcome;
use gatehouse_domain::{AccountId, Timestamp};
use gatehouse_store::{
    Finding, FindingFilter, FindingRule, LoginEvent, NewFinding, RecordedFindings,
};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::app::rules::{DetectorKind, Rule};
use crate::app::{App, AppError};

/// Maps stored events to the detectors' compact form. Accounts become a keyed
/// 64-bit hash (SipHash under a per-process random key): an outsider cannot aim
/// collisions at an account, and the key never leaves the process.
pub struct EventMapper {
    keys: std::collections::hash_map::RandomState,
}

impl Default for EventMapper {
    fn default() -> Self {
        Self::new()
    }
}

impl EventMapper {
    /// A mapper with a fresh random key.
    pub fn new() -> Self {
        Self {
            keys: std::collections::hash_map::RandomState::new(),
        }
    }

    /// The detectors' key of an event's account: its Gatehouse account when the
    /// event resolved to one (so an address and an id naming it agree), else the
    /// reference as given.
    pub fn account_key(&self, ev: &LoginEvent) -> AccountKey {
        AccountKey(match ev.account_id {
            Some(id) => self.keys.hash_one(id.to_string().as_bytes()),
            None => self.keys.hash_one(("unresolved", ev.account.as_str())),
        })
    }

    /// The event as the detectors read it (`None` for an address that does not
    /// parse, which the ingestion path never stores).
    pub fn detect_event(&self, ev: &LoginEvent) -> Option<DetectEvent> {
        let ip: IpAddr = ev.ip.parse().ok()?;
        Some(DetectEvent {
            time_ms: ev.time.as_millis(),
            account: self.account_key(ev),
            ip,
            asn: ev.asn,
            outcome: match (ev.outcome, ev.account_id) {
                (EventOutcome::Success, _) => Outcome::Success,
                (EventOutcome::WrongPassword, _) => Outcome::WrongPassword,
                // The sender said "no such account", but the address is one of
                // ours: the app's directory was down or out of date (an outage
                // hour logs every active user's attempts so). To the detectors a
                // failed attempt on an existing account, which is what it was —
                // "unknown" attempts are the detectors' sign of a combo list, and
                // a burst of them on real accounts is an outage's, not an attack's.
                (EventOutcome::UnknownAccount, Some(_)) => Outcome::WrongPassword,
                (EventOutcome::UnknownAccount, None) => Outcome::UnknownAccount,
            },
            password: ev.password_digest.as_deref().and_then(|d| {
                d.get(..8)
                    .map(|b| PasswordDigest(u64::from_be_bytes(b.try_into().expect("8 bytes"))))
            }),
            user_agent: ev.user_agent.as_deref().map_or(0, user_agent_hash),
            country: ev
                .country
                .as_deref()
                .map_or(Country::UNKNOWN, Country::from_code),
        })
    }
}

/// 128 bits naming a finding: rule, account, and the behaviour (not the rule's
/// version), so replaying events after a restart or an edit records nothing twice.
pub fn finding_key(
    rule: &str,
    account: AccountId,
    detector: DetectorKind,
    behaviour: &str,
) -> [u8; 16] {
    let mut h = Sha256::new();
    for part in [rule, &account.to_string(), detector.as_str(), behaviour] {
        h.update((part.len() as u32).to_be_bytes());
        h.update(part.as_bytes());
    }
    h.finalize()[..16].try_into().expect("16 bytes")
}

fn time_text(ms: i64) -> String {
    Timestamp::from_millis(ms).to_rfc3339()
}

fn subject_text(s: &Subject) -> (String, &'static str) {
    match s {
        Subject::Source(src) => (src.to_string(), "accounts"),
        Subject::Password(PasswordDigest(d)) => (format!("password #{:016x}", d), "accounts"),
        Subject::Account(_) => ("this account".to_owned(), "sources"),
    }
}

/// The evidence of an account-takeover signal: how the success differs from the
/// account's history and which grain's attempts on unknown addresses stood out.
fn takeover_evidence(e: &Evidence, t: &TakeoverEvidence, score: f32) -> serde_json::Value {
    let grain = match t.grain {
        Grain::Ip => "its address",
        Grain::Network => "its address block (/24 or /64)",
        Grain::Asn => "its network operator (ASN)",
        Grain::UserAgent => "its user agent",
        Grain::V6Block => "its IPv6 /48 (a provider's block of 65,536 /64s)",
        Grain::Site => "the whole site",
    };
    let mut new: Vec<&str> = Vec::new();
    for (is_new, what) in [
        (t.new_device, "device"),
        (t.new_network, "network"),
        (t.new_asn, "network operator"),
        (t.new_country, "country"),
    ] {
        if is_new {
            new.push(what);
        }
    }
    let history = if t.known_successes == 0 {
        "no earlier successful sign-in is on record for it".to_owned()
    } else if new.is_empty() {
        format!("after {} earlier successful sign-ins", t.known_successes)
    } else {
        format!(
            "from a {} it had never used in {} earlier successful sign-ins",
            new.join(", "),
            t.known_successes
        )
    };
    let (source, at) = e
        .success
        .map(|s| (s.source.to_string(), time_text(s.time_ms)))
        .unwrap_or_default();
    let why = match t.rule {
        TakeoverRule::GrainExcess => format!(
            "{grain} had tried about {:.0} addresses that do not exist ({:.0} attempts) where about \
             {:.0} were expected ({:.1} standard deviations above its own baseline; the whole site \
             at {:.1})",
            t.unknown, e.attempts, t.expected_unknown, t.z, t.site_z
        ),
        // No attack in progress: the address's own line after the hit is
        // the whole case, and the words must not claim an attack.
        TakeoverRule::AddressTriedOthers if t.corroboration == Corroboration::NamesAfter => {
            format!(
                "its address had tried about {:.0} accounts, {:.0}% of its attempts failing, and \
                 only after this sign-in a name that does not exist — the next line of a list, \
                 not the owner's mistyped address, which comes before their sign-in",
                t.address_accounts,
                t.address_failure_share * 100.0
            )
        }
        TakeoverRule::AddressTriedOthers if t.corroboration == Corroboration::NamesLongBefore => {
            format!(
                "its address had tried about {:.0} accounts, {:.0}% of its attempts failing, \
                 among them a name that does not exist from the same browser more than an hour \
                 before this sign-in, never followed by a sign-in of its own — an exit trying a \
                 list's lines over hours, not the owner's mistyped address, which comes minutes \
                 before their sign-in",
                t.address_accounts,
                t.address_failure_share * 100.0
            )
        }
        TakeoverRule::AddressTriedOthers => format!(
            "during an attack (the whole site at {:.1} standard deviations of attempts on \
             addresses that do not exist; {grain} at {:.1}), that address had tried about {:.0} \
             accounts, {:.0}% of its attempts failing — a person's own address tries theirs",
            t.site_z,
            t.z,
            t.address_accounts,
            t.address_failure_share * 100.0
        ),
        TakeoverRule::AttackWindow => format!(
            "during an attack on the whole site ({:.1} standard deviations) and on {grain} ({:.1}), \
             with the attacking user agent",
            t.site_z, t.z
        ),
        TakeoverRule::AbroadInWindow => format!(
            "during an attack on the whole site ({:.1} standard deviations of attempts on \
             addresses that do not exist), from a country, network, provider and device all new \
             to the account — a proxy network's exit, or the owner on a borrowed computer abroad",
            t.site_z
        ),
    };
    // What besides the grain showed the attack, said in words: an operator
    // reading a low-and-slow finding must see that no hour stood out and why
    // the success was still judged an attack's.
    let context = match t.corroboration {
        Corroboration::None | Corroboration::NamesAfter | Corroboration::NamesLongBefore => {
            String::new()
        }
        Corroboration::AddressUnknown => {
            "; the address itself also tried addresses that do not exist".to_owned()
        }
        Corroboration::NetworkUnknown => {
            "; its address block also tried addresses that do not exist".to_owned()
        }
        Corroboration::NetworkFailures => {
            "; other addresses of its block (/24 or /64) failed on other accounts".to_owned()
        }
        Corroboration::UserAgent => {
            "; its user agent shows the same excess of addresses that do not exist".to_owned()
        }
        Corroboration::NoPeople => {
            "; that provider carried none of the site's own people before — no sign-ins, or \
             mostly addresses that do not exist — so its excess is nobody else's"
                .to_owned()
        }
        Corroboration::SiteDrift => format!(
            "; over the last day the whole site's share of attempts on addresses that do not \
             exist rose to {:.1}× its earlier days (an attack spread over days)",
            t.site_drift
        ),
    };
    // Judged after the fact: the sign-in was kept and judged again when its own
    // address or network showed the attack later. Said so, so that an operator
    // does not read the figures as what was known at the time of the sign-in.
    let late = if t.judged_after_secs >= 60 {
        format!(
            " (judged {} minutes after the sign-in, on what its own address or network did \
             since, in the attack context it came in)",
            t.judged_after_secs / 60
        )
    } else {
        String::new()
    };
    let explanation = format!(
        "this account signed in successfully from {source} at {at}, {history}; {why}{context}{late}."
    );
    serde_json::json!({
        "detector": DetectorKind::AccountTakeover.as_str(),
        "explanation": explanation,
        "rule": t.rule,
        "grain": t.grain,
        "z": t.z,
        "address_accounts": t.address_accounts,
        "address_failure_share": t.address_failure_share,
        "unknown_attempts": t.unknown,
        "expected_unknown": t.expected_unknown,
        "grain_attempts": e.attempts,
        "site_z": t.site_z,
        "corroboration": t.corroboration,
        "site_drift": t.site_drift,
        "judged_after_secs": t.judged_after_secs,
        "history": {
            "earlier_successes": t.known_successes,
            "new_device": t.new_device,
            "new_network": t.new_network,
            "new_asn": t.new_asn,
            "new_country": t.new_country,
        },
        "country": t.country.is_known().then(|| t.country.to_string()),
        "login": e.success.map(|s| serde_json::json!({
            "time": time_text(s.time_ms),
            "source": s.source.to_string(),
        })),
        "score": score,
    })
}

/// The evidence of an event-detector signal, for people and machines.
pub fn signal_evidence(detector: DetectorKind, e: &Evidence, score: f32) -> serde_json::Value {
    if let Some(t) = &e.takeover {
        return takeover_evidence(e, t, score);
    }
    let (subject, of) = subject_text(&e.subject);
    // The distinct count is a HyperLogLog estimate (near-exact at these sizes, but
    // it can overshoot by one or two); more targets than attempts would read as an error.
    let distinct = e.distinct.min(e.attempts);
    let pct = (e.failure_ratio * 100.0).round();
    let window = format!(
        "{} – {}",
        time_text(e.window_start_ms),
        time_text(e.window_end_ms)
    );
    let attack = match detector {
        DetectorKind::CredentialStuffing => format!(
            "{subject} tried about {distinct} accounts ({} attempts, {pct}% failed) within {window}",
            e.attempts
        ),
        DetectorKind::PasswordSpraying => format!(
            "one password ({subject}) was tried against about {distinct} accounts ({} attempts, {pct}% failed) within {window}{}",
            e.attempts,
            // Why it is a list and not people who forgot a shared password.
            if e.marked > 0 {
                format!(
                    ", {} of the {} failures on addresses that do not exist here or on accounts tried from a network they never signed in from",
                    e.marked, e.failures
                )
            } else {
                String::new()
            }
        ),
        _ => format!(
            "this account failed to sign in from about {distinct} sources ({} attempts, {pct}% failed) within {window}",
            e.attempts
        ),
    };
    let login = e.success.map(|s| {
        let how = match detector {
            DetectorKind::CredentialStuffing => "from that source".to_owned(),
            DetectorKind::PasswordSpraying => format!("with that password, from {}", s.source),
            _ => format!("from {}", s.source),
        };
        let before = if s.source_failed_before {
            ", a source that had failed under the attack"
        } else if detector == DetectorKind::CredentialStuffing {
            ""
        } else {
            // Spraying and guessing report a fresh source's success only when it
            // is unlike the account's history (or the rule's unseen_source_factor
            // asks for every one).
            ", a source new to the attack (reported: the sign-in is unlike the account's history, or the rule reports every new source)"
        };
        format!(
            "; this account then signed in successfully {how}{before} at {}",
            time_text(s.time_ms)
        )
    });
    let attacker = match e.subject {
        Subject::Source(src) => serde_json::json!({ "source": src.to_string() }),
        Subject::Password(PasswordDigest(d)) => {
            serde_json::json!({ "password_digest": format!("{d:016x}") })
        }
        Subject::Account(_) => serde_json::json!({ "account": "this account" }),
    };
    serde_json::json!({
        "detector": detector.as_str(),
        "explanation": format!("{attack}{}.", login.unwrap_or_default()),
        "attacker": attacker,
        "distinct": distinct,
        "distinct_of": of,
        "attempts": e.attempts,
        "failures": e.failures,
        "failure_ratio": e.failure_ratio,
        "marked": e.marked,
        "window": { "start": time_text(e.window_start_ms), "end": time_text(e.window_end_ms) },
        "login": e.success.map(|s| serde_json::json!({
            "time": time_text(s.time_ms),
            "source": s.source.to_string(),
            "source_failed_before": s.source_failed_before,
        })),
        "score": score,
    })
}

/// The finding a signal makes under `rule`, for `account` (resolved by the
/// caller); `None` unless it is a `LikelyCompromised` signal at or above the
/// rule's `min_score`.
pub fn signal_finding(rule: &Rule, sig: &Signal, account: AccountId) -> Option<NewFinding> {
    let success = sig.evidence.success?;
    if sig.kind != SignalKind::LikelyCompromised || sig.score < rule.spec.min_score {
        return None;
    }
    let detector = rule.spec.detector;
    let attacker = match sig.evidence.subject {
        Subject::Source(s) => s.to_string(),
        Subject::Password(PasswordDigest(d)) => format!("{d:016x}"),
        Subject::Account(_) => "account".to_owned(),
    };
    let behaviour = format!("{attacker}|{}|{}", success.time_ms, success.source);
    Some(NewFinding {
        account,
        detector: detector.as_str().to_owned(),
        score: f64::from(sig.score),
        evidence: signal_evidence(detector, &sig.evidence, sig.score),
        observed_at: Timestamp::from_millis(success.time_ms),
        dedupe_key: finding_key(&rule.spec.id, account, detector, &behaviour),
    })
}

/// A finding as the admin API and CLI show it.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct FindingView {
    /// Id.
    pub id: i64,
    /// The account.
    pub account_id: String,
    /// Its address.
    pub email: String,
    /// Rule id.
    pub rule: String,
    /// Rule version that made it.
    pub rule_version: i64,
    /// Detector.
    pub detector: String,
    /// `shadow` or `enforce`.
    pub mode: String,
    /// `notify` or `force_reset`.
    pub action: String,
    /// `shadow`, `pending` (handed to remediation) or `held` (over the cap).
    pub status: String,
    /// Confidence, 0 to 1.
    pub score: f64,
    /// Why: figures and a sentence.
    #[schema(value_type = Object)]
    pub evidence: serde_json::Value,
    /// When the behaviour happened.
    pub observed_at: String,
    /// When it was recorded.
    pub created_at: String,
}

impl From<Finding> for FindingView {
    fn from(f: Finding) -> Self {
        FindingView {
            id: f.id,
            account_id: f.account_id.to_string(),
            email: f.email,
            rule: f.rule_id,
            rule_version: f.rule_version,
            detector: f.detector,
            mode: f.mode.to_string(),
            action: f.action.to_string(),
            status: f.status.to_string(),
            score: f.score,
            evidence: f.evidence,
            observed_at: f.observed_at.to_rfc3339(),
            created_at: f.created_at.to_rfc3339(),
        }
    }
}

impl App {
    /// Records findings under `rule` (its current version). Shadow findings act on
    /// nothing; enforce findings within the cap are `pending` for remediation.
    pub async fn record_findings(
        &self,
        rule: &Rule,
        findings: &[NewFinding],
        by: Actor,
    ) -> Result<RecordedFindings, AppError> {
        let now = self.clock.now();
        let target = FindingRule {
            id: rule.spec.id.clone(),
            version: rule.version,
            mode: rule.spec.mode,
            action: rule.spec.action,
            max_per_day: i64::from(rule.spec.max_findings_per_day),
        };
        let audit =
            NewAuditEntry::new(now, by, AuditAction::FindingsRecorded).target(&rule.spec.id);
        let r = self
            .store
            .record_findings(&target, findings, now, audit)
            .await?;
        for (status, n) in [
            (FindingStatus::Shadow, r.shadow),
            (FindingStatus::Pending, r.pending),
            (FindingStatus::Held, r.held),
        ] {
            if n > 0 {
                metrics::counter!("gatehouse_findings_total", "rule" => rule.spec.id.clone(), "status" => status.as_str())
                    .increment(n);
            }
        }
        if r.held > 0 {
            tracing::warn!(rule = %rule.spec.id, held = r.held, cap = rule.spec.max_findings_per_day,
                "rule reached its daily cap: further findings wait for a person");
        }
        Ok(r)
    }

    /// Findings, newest first.
    pub async fn findings(&self, filter: &FindingFilter) -> Result<Vec<FindingView>, AppError> {
        Ok(self
            .store
            .findings(filter)
            .await?
            .into_iter()
            .map(FindingView::from)
            .collect())
    }

    /// The rule for a detector that acts outside the event stream (breached
    /// password, leaked pairs): the first one not `off`, if any.
    pub async fn rule_for_detector(&self, kind: DetectorKind) -> Result<Option<Rule>, AppError> {
        Ok(self.rules().await?.into_iter().find(|r| {
            r.spec.detector == kind && r.spec.mode != gatehouse_domain::finding::RuleMode::Off
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gatehouse_detect::SuccessSeen;

    /// An `address_tried_others` finding's evidence with `corroboration`.
    fn tried_others(corroboration: Corroboration) -> serde_json::Value {
        finding(TakeoverRule::AddressTriedOthers, Grain::Ip, corroboration)
    }

    /// A finding's evidence by `rule` on `grain` with `corroboration`, for an
    /// account's first sign-in on record.
    fn finding(
        rule: TakeoverRule,
        grain: Grain,
        corroboration: Corroboration,
    ) -> serde_json::Value {
        let t = TakeoverEvidence {
            grain,
            z: 0.0,
            unknown: 1.0,
            expected_unknown: 0.0,
            site_z: 0.4,
            known_successes: 0,
            new_device: true,
            new_network: true,
            new_asn: true,
            new_country: false,
            country: Country::from_code("DE"),
            rule,
            address_accounts: 2.0,
            address_failure_share: 0.5,
            corroboration,
            site_drift: 1.0,
            site_drifting: false,
            judged_after_secs: 300,
        };
        let ip: IpAddr = "192.0.2.7".parse().unwrap();
        let e = Evidence {
            subject: Subject::Account(AccountKey(1)),
            distinct: 0,
            attempts: 3,
            failures: 1,
            failure_ratio: 0.33,
            marked: 0,
            window_start_ms: 1_700_000_000_000,
            window_end_ms: 1_700_000_300_000,
            success: Some(SuccessSeen {
                time_ms: 1_700_000_000_000,
                source: gatehouse_detect::Source::Ip(ip),
                source_failed_before: false,
            }),
            takeover: Some(t),
        };
        takeover_evidence(&e, &t, 0.7)
    }

    #[test]
    fn a_first_sign_in_flagged_on_names_after_it_does_not_claim_an_attack() {
        let v = tried_others(Corroboration::NamesAfter);
        let text = v["explanation"].as_str().unwrap();
        assert!(!text.contains("during an attack"), "{text}");
        assert!(
            text.contains("only after this sign-in a name that does not exist"),
            "{text}"
        );
        assert!(text.contains("no earlier successful sign-in"), "{text}");
        assert_eq!(v["corroboration"], "names_after");
        // The same rule in an attack window says so.
        let v = tried_others(Corroboration::None);
        let text = v["explanation"].as_str().unwrap();
        assert!(
            text.starts_with("this account signed in successfully from 192.0.2.7"),
            "{text}"
        );
        assert!(text.contains("during an attack"), "{text}");
    }

    #[test]
    fn a_provider_without_the_sites_people_says_so() {
        let v = finding(
            TakeoverRule::GrainExcess,
            Grain::Asn,
            Corroboration::NoPeople,
        );
        let text = v["explanation"].as_str().unwrap();
        assert!(
            text.contains("that provider carried none of the site's own people before"),
            "{text}"
        );
        assert!(text.contains("no earlier successful sign-in"), "{text}");
        assert_eq!(v["corroboration"], "no_people");
    }

    #[test]
    fn a_first_sign_in_flagged_on_old_names_does_not_claim_an_attack() {
        let v = tried_others(Corroboration::NamesLongBefore);
        let text = v["explanation"].as_str().unwrap();
        assert!(!text.contains("during an attack"), "{text}");
        assert!(
            text.contains("from the same browser more than an hour before this sign-in"),
            "{text}"
        );
        assert_eq!(v["corroboration"], "names_long_before");
    }
}
