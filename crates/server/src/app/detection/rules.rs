//! Rules: the declarative compromise checks.
//!
//! A rule names a detector, its thresholds, a mode (`off | shadow | enforce`), an
//! action (`notify | force_reset`) and a daily cap. Operators write rules in TOML
//! (`rules_file`, `gatehouse rules apply`) or through the admin API; either way a
//! rule is parsed into a [`RuleSpec`], checked, and *resolved*: every threshold the
//! operator left out is filled in from the detector's default, so the stored
//! definition says everything the rule does. Storing a resolved definition that
//! differs from the current one writes a new version; the same definition again
//! changes nothing. Findings name the (rule, version) that made them, and every
//! version is kept, so a finding explains itself even after its rule changed.
//!
//! The shipped rules (`rules.default.toml`) are installed once, on a store that has
//! no rules. Every one of them is in `shadow` mode: Gatehouse records what it would
//! do and acts on nothing until an operator enforces a rule.

use gatehouse_detect::{Capacity, DetectConfig, SourceGrouping, Thresholds};
use gatehouse_domain::Timestamp;
use gatehouse_domain::audit::{Actor, AuditAction, NewAuditEntry};
use gatehouse_domain::finding::{RuleAction, RuleMode};
use gatehouse_store::{NewRuleVersion, RuleRecord};
use serde::{Deserialize, Serialize};

use crate::app::{App, AppError};

/// The rules Gatehouse ships with (all in shadow mode).
pub const DEFAULT_RULES: &str = include_str!("../../../rules.default.toml");

/// What a rule runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DetectorKind {
    /// One source trying many accounts, mostly failing; flags accounts that then
    /// sign in from it.
    CredentialStuffing,
    /// One password tried against many accounts; flags accounts it opened.
    PasswordSpraying,
    /// One account failing from many sources; flags a success from one of them.
    DistributedGuessing,
    /// A successful login whose password is in the breach index.
    BreachedPassword,
    /// An e-mail/password pair from a dump that opens the account (`gatehouse scan --leaked`).
    LeakedCredentials,
    /// A successful sign-in unlike the account's own history (new device, network,
    /// ASN, country) from an address, network, ASN or user agent whose attempts on
    /// addresses that do not exist stand far above its own baseline: catches
    /// stuffing spread thin over botnets and residential proxies.
    AccountTakeover,
}

impl DetectorKind {
    /// Stable text form.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CredentialStuffing => "credential_stuffing",
            Self::PasswordSpraying => "password_spraying",
            Self::DistributedGuessing => "distributed_guessing",
            Self::BreachedPassword => "breached_password",
            Self::LeakedCredentials => "leaked_credentials",
            Self::AccountTakeover => "account_takeover",
        }
    }

    /// Whether the detector reads login events (and so runs in the monitor and
    /// can be backtested); the other two act at login and in scans.
    pub fn reads_events(self) -> bool {
        matches!(
            self,
            Self::CredentialStuffing
                | Self::PasswordSpraying
                | Self::DistributedGuessing
                | Self::AccountTakeover
        )
    }

    /// Whether the detector counts attempts in a sliding window (`window_secs`,
    /// `thresholds`, `capacity`); account takeover keeps decayed counts and
    /// account histories instead.
    pub fn has_window(self) -> bool {
        self.reads_events() && self != Self::AccountTakeover
    }
}

/// How long an account-takeover rule keeps judging a success as evidence comes
/// in (a proxy's success may come before its address's failures): the detector's
/// `pending_hours`, as the monitor's window for that rule.
pub const TAKEOVER_WINDOW_SECS: u32 = 6 * 3600;

/// How much sign-in history the event rules learn account histories from (the
/// devices, networks, ASNs and countries each account signed in from) and the
/// sources' baselines: replayed by the monitor after a restart or a rule change,
/// and read by a backtest before its period. Thirty days: people who sign in
/// once or twice a month must still have a history, or every sign-in of theirs
/// looks new (and an account without history can only be judged by its
/// address). The cost is a replay of 30 days of events at each rebuild.
pub const ACCOUNT_HISTORY_SECS: u32 = 30 * 86_400;

/// Thresholds as an operator writes them: any left out take the detector's default.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ThresholdsSpec {
    /// Distinct targets in the window (accounts, or sources for guessing).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_distinct: Option<u32>,
    /// Failed attempts in the window.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_failures: Option<u32>,
    /// Failures / attempts, `0..=1`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_failure_ratio: Option<f32>,
}

/// Memory bounds as an operator writes them (rarely needed).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CapacitySpec {
    /// Failures before a key is tracked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub promote_after_failures: Option<u32>,
    /// Keys tracked at once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tracked_keys: Option<u32>,
    /// Bytes of the count-min sketch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sketch_bytes: Option<u32>,
}

/// A rule as written (TOML or JSON). After [`RuleSpec::resolve`] every optional
/// setting of its detector is filled in.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    /// 1–64 of `a-z 0-9 _ -`, starting with a letter or digit.
    #[schema(pattern = "^[a-z0-9][a-z0-9_-]{0,63}$")]
    pub id: String,
    /// What the rule is for, for people (blank, or up to 500 characters).
    #[serde(default)]
    #[schema(format = "optional-multi-line", max_length = 500)]
    pub description: String,
    /// Which detector.
    pub detector: DetectorKind,
    /// `off`, `shadow` (default: record, act on nothing) or `enforce`.
    #[serde(default = "default_mode")]
    #[schema(value_type = String, pattern = "^(off|shadow|enforce)$")]
    pub mode: RuleMode,
    /// `notify` (default) or `force_reset`: what remediation does with an enforced finding.
    #[serde(default = "default_action")]
    #[schema(value_type = String, pattern = "^(notify|force_reset)$")]
    pub action: RuleAction,
    /// Enforced findings handed on per trailing 24 hours; the rest are held for a
    /// person (default 100).
    #[serde(default = "default_cap")]
    #[schema(maximum = 1_000_000)]
    pub max_findings_per_day: u32,
    /// Signals scoring below this are ignored, `0..=1` (default 0).
    #[serde(default)]
    #[schema(minimum = 0, maximum = 1)]
    pub min_score: f32,
    /// Event detectors: the sliding window in seconds (default 3600).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window_secs: Option<u32>,
    /// Event detectors: `ip`, `network` (/24, /64) or `asn`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, pattern = "^(ip|network|asn)$")]
    pub grouping: Option<SourceGrouping>,
    /// Event detectors: when a key counts as attacking.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thresholds: Option<ThresholdsSpec>,
    /// Spraying and guessing: score factor for a success from a source that had
    /// not failed under the attack, `0..=1` (default 0: no finding).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 0, maximum = 1)]
    pub unseen_source_factor: Option<f32>,
    /// Event detectors: memory bounds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity: Option<CapacitySpec>,
    /// Stuffing, spraying and guessing: do not flag a success that looks like the
    /// owner — a device the account signed in with before (or none sent) on a
    /// network or ASN it signed in from before — however busy its source (the
    /// owner behind an office NAT or a carrier's CGNAT, retrying after an outage).
    /// Default true; rules stored before this setting existed behave as true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skip_familiar_logins: Option<bool>,
}

fn default_mode() -> RuleMode {
    RuleMode::Shadow
}
fn default_action() -> RuleAction {
    RuleAction::Notify
}
fn default_cap() -> u32 {
    100
}

/// A rules file: `[[rule]]` tables.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    #[serde(default)]
    rule: Vec<RuleSpec>,
}

/// A rule that is stored: its current version and resolved definition.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Rule {
    /// The resolved definition.
    #[serde(flatten)]
    pub spec: RuleSpec,
    /// Bumped by every change.
    pub version: i64,
    /// When this version was written (RFC 3339).
    #[schema(value_type = String)]
    #[serde(serialize_with = "gatehouse_domain::time::rfc3339::serialize")]
    pub updated_at: Timestamp,
    /// Who wrote it.
    pub updated_by: String,
}

impl Rule {
    /// A stored record, parsed (a definition that no longer parses is a store corruption).
    pub fn from_record(r: RuleRecord) -> Result<Self, AppError> {
        let spec: RuleSpec = serde_json::from_value(r.definition).map_err(|e| {
            AppError::Unexpected(anyhow::anyhow!(
                "stored rule {:?} does not parse: {e}",
                r.id
            ))
        })?;
        Ok(Rule {
            spec,
            version: r.version,
            updated_at: r.updated_at,
            updated_by: r.updated_by,
        })
    }
}

fn invalid(message: String) -> AppError {
    AppError::InvalidRule(message)
}

impl RuleSpec {
    /// Checks every value and fills in the detector's defaults. Names the rule and
    /// the setting at fault.
    pub fn resolve(mut self) -> Result<Self, AppError> {
        let id = self.id.clone();
        let bad = |what: &str, msg: &str| invalid(format!("rule {id:?}: `{what}` {msg}"));
        let id_ok = (1..=64).contains(&self.id.len())
            && self
                .id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
            && self
                .id
                .bytes()
                .next()
                .is_some_and(|b| b.is_ascii_alphanumeric());
        if !id_ok {
            return Err(bad(
                "id",
                "must be 1 to 64 of a-z, 0-9, _ and -, starting with a letter or digit",
            ));
        }
        if self.description.chars().count() > 500 {
            return Err(bad("description", "is longer than 500 characters"));
        }
        if !self.description.trim().is_empty()
            && let Err(m) = gatehouse_domain::text::multi_line(&self.description, 500)
        {
            return Err(bad("description", &m));
        }
        if self.max_findings_per_day > 1_000_000 {
            return Err(bad("max_findings_per_day", "must be at most 1000000"));
        }
        if !(0.0..=1.0).contains(&self.min_score) {
            return Err(bad("min_score", "must be between 0 and 1"));
        }
        if !self.detector.has_window() {
            let what = if self.detector.reads_events() {
                "applies only to the windowed detectors (stuffing, spraying, guessing), not"
            } else {
                "applies only to the login-event detectors, not"
            };
            for (set, name) in [
                (self.window_secs.is_some(), "window_secs"),
                (self.grouping.is_some(), "grouping"),
                (self.thresholds.is_some(), "thresholds"),
                (self.unseen_source_factor.is_some(), "unseen_source_factor"),
                (self.capacity.is_some(), "capacity"),
                (self.skip_familiar_logins.is_some(), "skip_familiar_logins"),
            ] {
                if set {
                    return Err(bad(name, &format!("{what} {}", self.detector.as_str())));
                }
            }
            return Ok(self);
        }
        let base = DetectConfig::default();
        let (grouping, thresholds, capacity, unseen) = match self.detector {
            DetectorKind::CredentialStuffing => (
                Some(base.stuffing.grouping),
                base.stuffing.thresholds,
                base.stuffing.capacity,
                None,
            ),
            DetectorKind::PasswordSpraying => (
                None,
                base.spraying.thresholds,
                base.spraying.capacity,
                Some(base.spraying.unseen_source_factor),
            ),
            _ => (
                Some(base.guessing.grouping),
                base.guessing.thresholds,
                base.guessing.capacity,
                Some(base.guessing.unseen_source_factor),
            ),
        };
        let window = self.window_secs.unwrap_or(base.window_secs);
        if !(60..=7 * 86_400).contains(&window) {
            return Err(bad("window_secs", "must be between 60 and 604800"));
        }
        self.window_secs = Some(window);
        match (grouping, self.grouping) {
            (None, Some(_)) => {
                return Err(bad(
                    "grouping",
                    "does not apply to password_spraying (its key is the password)",
                ));
            }
            (Some(default), given) => self.grouping = Some(given.unwrap_or(default)),
            (None, None) => {}
        }
        let t = self.thresholds.unwrap_or_default();
        let t = ThresholdsSpec {
            min_distinct: Some(t.min_distinct.unwrap_or(thresholds.min_distinct)),
            min_failures: Some(t.min_failures.unwrap_or(thresholds.min_failures)),
            min_failure_ratio: Some(t.min_failure_ratio.unwrap_or(thresholds.min_failure_ratio)),
        };
        if t.min_distinct == Some(0) {
            return Err(bad("thresholds.min_distinct", "must be at least 1"));
        }
        if t.min_failures == Some(0) {
            return Err(bad("thresholds.min_failures", "must be at least 1"));
        }
        if !t
            .min_failure_ratio
            .is_some_and(|r| (0.0..=1.0).contains(&r))
        {
            return Err(bad(
                "thresholds.min_failure_ratio",
                "must be between 0 and 1",
            ));
        }
        self.thresholds = Some(t);
        match (unseen, self.unseen_source_factor) {
            (None, Some(_)) => {
                return Err(bad(
                    "unseen_source_factor",
                    "does not apply to credential_stuffing (every success from the source counts)",
                ));
            }
            (Some(default), given) => {
                let f = given.unwrap_or(default);
                if !(0.0..=1.0).contains(&f) {
                    return Err(bad("unseen_source_factor", "must be between 0 and 1"));
                }
                self.unseen_source_factor = Some(f);
            }
            (None, None) => {}
        }
        let c = self.capacity.unwrap_or_default();
        let c = CapacitySpec {
            promote_after_failures: Some(
                c.promote_after_failures
                    .unwrap_or(capacity.promote_after_failures),
            ),
            tracked_keys: Some(c.tracked_keys.unwrap_or(capacity.tracked_keys)),
            sketch_bytes: Some(c.sketch_bytes.unwrap_or(capacity.sketch_bytes)),
        };
        if !c
            .promote_after_failures
            .is_some_and(|p| (1..=255).contains(&p))
        {
            return Err(bad("capacity.promote_after_failures", "must be 1 to 255"));
        }
        if !c.tracked_keys.is_some_and(|k| (16..=1 << 20).contains(&k)) {
            return Err(bad("capacity.tracked_keys", "must be 16 to 1048576"));
        }
        if !c
            .sketch_bytes
            .is_some_and(|b| (64 << 10..=256 << 20).contains(&b))
        {
            return Err(bad(
                "capacity.sketch_bytes",
                "must be 65536 to 268435456 (64 KiB to 256 MiB)",
            ));
        }
        self.capacity = Some(c);
        self.skip_familiar_logins = Some(self.skip_familiar_logins.unwrap_or(true));
        Ok(self)
    }

    /// How far back the monitor's live window reaches for this rule.
    pub fn window(&self) -> u32 {
        match self.detector {
            DetectorKind::AccountTakeover => TAKEOVER_WINDOW_SECS,
            _ => self.window_secs.unwrap_or(3600),
        }
    }

    /// Whether the rule needs account histories (the takeover detector, or the
    /// familiar-login gate).
    pub fn learns_histories(&self) -> bool {
        self.detector == DetectorKind::AccountTakeover
            || (self.detector.has_window() && self.familiar_logins_skipped())
    }

    fn familiar_logins_skipped(&self) -> bool {
        self.skip_familiar_logins.unwrap_or(true)
    }

    /// The detector configuration of a resolved event rule: only its detector on.
    /// `None` for the detectors that do not read events.
    pub fn detect_config(&self) -> Option<DetectConfig> {
        if !self.detector.reads_events() {
            return None;
        }
        let mut cfg = DetectConfig {
            window_secs: self.window_secs.unwrap_or(3600),
            ..DetectConfig::default()
        };
        cfg.stuffing.enabled = self.detector == DetectorKind::CredentialStuffing;
        cfg.spraying.enabled = self.detector == DetectorKind::PasswordSpraying;
        cfg.guessing.enabled = self.detector == DetectorKind::DistributedGuessing;
        cfg.takeover.enabled = self.detector == DetectorKind::AccountTakeover;
        // The takeover detector's account histories also gate the other detectors'
        // compromise signals: a success that looks like the owner is not flagged.
        cfg.takeover.legacy_gate = self.detector.has_window() && self.familiar_logins_skipped();
        if self.detector == DetectorKind::AccountTakeover {
            cfg.takeover.pending_hours = TAKEOVER_WINDOW_SECS / 3600;
            return Some(cfg);
        }
        let defaults = match self.detector {
            DetectorKind::CredentialStuffing => cfg.stuffing.thresholds,
            DetectorKind::PasswordSpraying => cfg.spraying.thresholds,
            _ => cfg.guessing.thresholds,
        };
        let t = self.thresholds.unwrap_or_default();
        let thresholds = Thresholds {
            min_distinct: t.min_distinct.unwrap_or(defaults.min_distinct),
            min_failures: t.min_failures.unwrap_or(defaults.min_failures),
            min_failure_ratio: t.min_failure_ratio.unwrap_or(defaults.min_failure_ratio),
        };
        let c = self.capacity.unwrap_or_default();
        let base = Capacity::default();
        let capacity = Capacity {
            promote_after_failures: c
                .promote_after_failures
                .unwrap_or(base.promote_after_failures),
            tracked_keys: c.tracked_keys.unwrap_or(base.tracked_keys),
            sketch_bytes: c.sketch_bytes.unwrap_or(base.sketch_bytes),
        };
        match self.detector {
            DetectorKind::CredentialStuffing => {
                cfg.stuffing.thresholds = thresholds;
                cfg.stuffing.capacity = capacity;
                if let Some(g) = self.grouping {
                    cfg.stuffing.grouping = g;
                }
            }
            DetectorKind::PasswordSpraying => {
                cfg.spraying.thresholds = thresholds;
                cfg.spraying.capacity = capacity;
                cfg.spraying.unseen_source_factor = self.unseen_source_factor.unwrap_or(0.0);
            }
            _ => {
                cfg.guessing.thresholds = thresholds;
                cfg.guessing.capacity = capacity;
                cfg.guessing.unseen_source_factor = self.unseen_source_factor.unwrap_or(0.0);
                if let Some(g) = self.grouping {
                    cfg.guessing.grouping = g;
                }
            }
        }
        Some(cfg)
    }
}

/// Parses a rules file (TOML, `[[rule]]` tables), resolving every rule. Errors name
/// the line and column (syntax) or the rule and setting (values); ids must be unique.
pub fn parse_rules_toml(text: &str) -> Result<Vec<RuleSpec>, AppError> {
    let file: RuleFile = toml::from_str(text).map_err(|e| invalid(e.to_string()))?;
    let mut seen = std::collections::HashSet::new();
    file.rule
        .into_iter()
        .map(|r| {
            if !seen.insert(r.id.clone()) {
                return Err(invalid(format!("rule {:?} is defined twice", r.id)));
            }
            r.resolve()
        })
        .collect()
}

/// What putting one rule did.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct RuleChange {
    /// The rule as stored now.
    #[serde(flatten)]
    pub rule: Rule,
    /// Whether a new version was written (false: identical to the stored one).
    pub changed: bool,
}

impl App {
    /// Every rule, by id.
    pub async fn rules(&self) -> Result<Vec<Rule>, AppError> {
        self.store
            .rules()
            .await?
            .into_iter()
            .map(Rule::from_record)
            .collect()
    }

    /// One rule (its current version, or `version`).
    pub async fn rule(&self, id: &str, version: Option<i64>) -> Result<Rule, AppError> {
        let record = match version {
            None => self.store.rule(id).await?,
            Some(v) => self.store.rule_version(id, v).await?,
        };
        Rule::from_record(record.ok_or(AppError::NotFound("rule"))?)
    }

    /// Creates or edits a rule: resolved, stored as a new version if it differs
    /// from the current one, audited. Wakes the monitor, which rebuilds its state.
    pub async fn put_rule(&self, spec: RuleSpec, by: Actor) -> Result<RuleChange, AppError> {
        let spec = spec.resolve()?;
        let now = self.clock.now();
        let definition = serde_json::to_value(&spec).map_err(|e| AppError::Unexpected(e.into()))?;
        let by_text = match by.parts() {
            (kind, Some(id)) => format!("{kind}:{id}"),
            (kind, None) => kind.to_owned(),
        };
        let record = NewRuleVersion {
            id: spec.id.clone(),
            detector: spec.detector.as_str().to_owned(),
            mode: spec.mode,
            definition,
            now,
            by: by_text,
        };
        let audit = NewAuditEntry::new(now, by, AuditAction::RuleChanged).target(&spec.id);
        let (stored, changed) = self.store.put_rule(&record, audit).await?;
        if changed {
            self.rules_changed.notify_waiters();
            tracing::info!(rule = %stored.id, version = stored.version, mode = %stored.mode, "rule stored");
        }
        Ok(RuleChange {
            rule: Rule::from_record(stored)?,
            changed,
        })
    }

    /// Applies a rules file: each rule is put (rules not in the file are left as
    /// they are). Everything is checked before anything is stored.
    pub async fn apply_rules(&self, text: &str, by: Actor) -> Result<Vec<RuleChange>, AppError> {
        let specs = parse_rules_toml(text)?;
        let mut out = Vec::with_capacity(specs.len());
        for spec in specs {
            out.push(self.put_rule(spec, by.clone()).await?);
        }
        Ok(out)
    }

    /// Installs the shipped rules on a store that has none; then applies
    /// `rules_file` if configured. Run at start.
    pub async fn install_rules(&self) -> anyhow::Result<()> {
        if self.store.rules().await?.is_empty() {
            let installed = self.apply_rules(DEFAULT_RULES, Actor::System).await?;
            tracing::info!(
                rules = installed.len(),
                "installed the shipped rules (shadow mode)"
            );
        }
        if let Some(path) = &self.config.rules_file {
            let text = std::fs::read_to_string(path)
                .map_err(|e| anyhow::anyhow!("rules_file {}: {e}", path.display()))?;
            let changes = self
                .apply_rules(&text, Actor::System)
                .await
                .map_err(|e| anyhow::anyhow!("rules_file {}: {e}", path.display()))?;
            let changed = changes.iter().filter(|c| c.changed).count();
            tracing::info!(path = %path.display(), rules = changes.len(), changed, "applied rules_file");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_rules_parse_and_are_all_shadow() {
        let rules = parse_rules_toml(DEFAULT_RULES).unwrap();
        assert!(rules.len() >= 5);
        assert!(rules.iter().all(|r| r.mode == RuleMode::Shadow));
        for kind in [
            DetectorKind::CredentialStuffing,
            DetectorKind::PasswordSpraying,
            DetectorKind::DistributedGuessing,
            DetectorKind::BreachedPassword,
            DetectorKind::LeakedCredentials,
            DetectorKind::AccountTakeover,
        ] {
            assert!(
                rules.iter().any(|r| r.detector == kind),
                "{kind:?} has a rule"
            );
        }
    }

    #[test]
    fn resolving_fills_the_detectors_defaults_and_is_stable() {
        let r = parse_rules_toml(
            "[[rule]]\nid = \"g\"\ndetector = \"distributed_guessing\"\nthresholds = { min_distinct = 12 }\n",
        )
        .unwrap()
        .remove(0);
        let t = r.thresholds.unwrap();
        assert_eq!(t.min_distinct, Some(12));
        assert_eq!(
            t.min_failures,
            Some(10),
            "guessing's default, not stuffing's"
        );
        assert_eq!(r.grouping, Some(SourceGrouping::Ip));
        assert_eq!(
            r.clone().resolve().unwrap(),
            r,
            "resolving twice changes nothing"
        );
        let cfg = r.detect_config().unwrap();
        assert!(cfg.guessing.enabled && !cfg.stuffing.enabled && !cfg.spraying.enabled);
        assert_eq!(cfg.guessing.thresholds.min_distinct, 12);
        let json = serde_json::to_value(&r).unwrap();
        let back: RuleSpec = serde_json::from_value(json).unwrap();
        assert_eq!(back, r);
    }

    #[test]
    fn bad_rules_are_refused_naming_the_setting() {
        let err = |toml: &str| parse_rules_toml(toml).unwrap_err().to_string();
        assert!(
            err("[[rule]]\nid = \"Bad Id\"\ndetector = \"credential_stuffing\"").contains("`id`")
        );
        assert!(
            err("[[rule]]\nid = \"b\"\ndetector = \"breached_password\"\nwindow_secs = 60")
                .contains("`window_secs` applies only to the login-event detectors")
        );
        assert!(
            err("[[rule]]\nid = \"s\"\ndetector = \"credential_stuffing\"\nthresholds = { min_failure_ratio = 1.5 }")
                .contains("min_failure_ratio")
        );
        assert!(
            err("[[rule]]\nid = \"s\"\ndetector = \"password_spraying\"\ngrouping = \"ip\"")
                .contains("`grouping` does not apply")
        );
        assert!(
            err("[[rule]]\nid = \"t\"\ndetector = \"account_takeover\"\nwindow_secs = 60")
                .contains("`window_secs` applies only to the windowed detectors")
        );
        assert!(
            err("[[rule]]\nid = \"t\"\ndetector = \"account_takeover\"\nskip_familiar_logins = false")
                .contains("`skip_familiar_logins`")
        );
        assert!(err("[[rule]]\nid = \"s\"\ndetector = \"stuffing\"").contains("unknown variant"));
        assert!(
            err("[[rule]]\nid = \"s\"\ndetector = \"credential_stuffing\"\nmod = \"enforce\"")
                .contains("unknown field")
        );
        assert!(
            err("[[rule]]\nid = \"s\"\ndetector = \"credential_stuffing\"\n[[rule]]\nid = \"s\"\ndetector = \"password_spraying\"")
                .contains("defined twice")
        );
    }
}
