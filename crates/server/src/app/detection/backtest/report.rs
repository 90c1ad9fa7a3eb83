//! What a backtest is asked and what it answers (the API's and CLI's types).

use serde::{Deserialize, Serialize};

use super::{PAGE_DEFAULT, PAGE_MAX};
use crate::app::AppError;
use crate::app::rules::RuleSpec;

/// What to backtest.
#[derive(Clone, Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BacktestRequest {
    /// Start of the period (RFC 3339; default a week before `until`).
    #[serde(default)]
    #[schema(format = DateTime)]
    pub since: Option<String>,
    /// End of the period (RFC 3339; default now).
    #[serde(default)]
    #[schema(format = DateTime)]
    pub until: Option<String>,
    /// A draft of the rule to test instead of the stored version (same id, or
    /// a new id); compared with the stored version when there is one.
    #[serde(default)]
    pub draft: Option<RuleSpec>,
    /// Flagged accounts to skip in `accounts` (in the order they were flagged).
    #[serde(default)]
    pub offset: Option<u64>,
    /// Flagged accounts to give in `accounts`, 1 to 1000 (default 20).
    #[serde(default)]
    #[schema(minimum = 1, maximum = 1000)]
    pub limit: Option<u64>,
    /// Record the stored rule's results as shadow findings (not for a draft):
    /// how findings are raised from history the live monitor did not see. The
    /// same behaviour is recorded once, however often this runs. Audited.
    #[serde(default)]
    pub record: bool,
}

impl BacktestRequest {
    /// The page of flagged accounts asked for, checked.
    pub(super) fn page(&self) -> Result<(u64, u64), AppError> {
        let limit = self.limit.unwrap_or(PAGE_DEFAULT);
        if !(1..=PAGE_MAX).contains(&limit) {
            return Err(AppError::Invalid {
                field: "limit",
                message: format!("must be 1 to {PAGE_MAX}"),
            });
        }
        Ok((self.offset.unwrap_or(0), limit))
    }
}

/// What one version of a rule would have done.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct BacktestOutcome {
    /// The stored version tested, or `None` for a draft.
    pub version: Option<i64>,
    /// Distinct Gatehouse accounts it would flag.
    pub flagged_accounts: u64,
    /// Findings (an account can be flagged more than once).
    pub findings: u64,
    /// Signals about addresses Gatehouse has no account for (never findings).
    pub unknown_addresses: u64,
    /// Flagged accounts per day of the period.
    pub per_day: f64,
    /// Flagged accounts as a share of all accounts, 0 to 1.
    pub share_of_accounts: f64,
    /// `per_day` over the normal daily volume (`None` when the rule has no history).
    pub multiple_of_normal: Option<f64>,
}

/// One flagged account, with why.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct BacktestSample {
    /// Account id.
    pub account_id: String,
    /// Its address.
    pub email: String,
    /// Confidence.
    pub score: f64,
    /// Why.
    #[schema(value_type = Object)]
    pub evidence: serde_json::Value,
}

/// One flagged account of the tested rule.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct BacktestAccount {
    /// Account id.
    pub account_id: String,
    /// Its address.
    pub email: String,
    /// Findings about it (the same account can be flagged more than once).
    pub findings: u32,
    /// The highest score.
    pub score: f64,
    /// When the behaviour of its first finding happened (RFC 3339).
    pub first_seen: String,
    /// Why (the first finding's evidence).
    #[schema(value_type = Object)]
    pub evidence: serde_json::Value,
}

/// A page of the tested rule's flagged accounts, in the order they were flagged.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct BacktestPage {
    /// Flagged accounts in all.
    pub total: u64,
    /// Skipped.
    pub offset: u64,
    /// Asked for.
    pub limit: u64,
    /// This page.
    pub items: Vec<BacktestAccount>,
}

/// A source (or password, or attacked account) a detector judged attacking.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct AttackingSource {
    /// `source` (an address, network or ASN), `password` (a digest: spraying),
    /// `account` (one account from many sources: guessing) or, for the
    /// account-takeover detector, the grain that stood out (`ip`, `network`,
    /// `asn`, `user_agent`).
    pub kind: String,
    /// Which (for a takeover grain: the grain of the flagged success's address).
    pub subject: String,
    /// Distinct accounts it touched (sources, for guessing), estimated; 0 for a
    /// takeover grain.
    pub distinct: u64,
    /// Attempts seen (a takeover grain: its decayed attempts).
    pub attempts: u64,
    /// Failed attempts (a takeover grain: its attempts on unknown addresses).
    pub failures: u64,
    /// When it was first judged attacking (RFC 3339).
    pub first_seen: String,
    /// Why, in a sentence.
    pub why: String,
}

/// The period's traffic, whatever the rule flagged.
#[derive(Clone, Debug, Default, Serialize, utoipa::ToSchema)]
pub struct Traffic {
    /// Sign-in attempts.
    pub attempts: u64,
    /// Successful.
    pub successes: u64,
    /// With a wrong password.
    pub wrong_password: u64,
    /// On addresses that do not exist.
    pub unknown_account: u64,
    /// The hour with the most attempts on addresses that do not exist (RFC 3339
    /// start), and how many.
    pub peak_hour: Option<String>,
    /// See `peak_hour`.
    pub peak_hour_unknown: u64,
    /// The median hour's attempts on addresses that do not exist (hours with
    /// traffic, in the period and the history read before it).
    pub median_hour_unknown: f64,
}

/// Consecutive hours in which attempts on addresses that do not exist stood far
/// above the period's normal hour: an attack in progress at the site level.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct AttackWindow {
    /// First hour (RFC 3339).
    pub start: String,
    /// End of the last hour (RFC 3339).
    pub end: String,
    /// Attempts on addresses that do not exist in it.
    pub unknown_account: u64,
    /// All attempts in it.
    pub attempts: u64,
    /// What the period's median hour predicts for it.
    pub expected_unknown: f64,
    /// Of `unknown_account`, the attempts whose address is an existing account:
    /// the sender's directory, not the address, was missing.
    pub existing_accounts: u64,
    /// Most of its "unknown" attempts named existing accounts: an outage-like
    /// burst (the sender's directory was down), not a combo list — whose
    /// addresses mostly do not exist here. The account-takeover detector reads
    /// such attempts as failures on existing accounts and raises no attack for them.
    pub outage_like: bool,
}

/// An attack in progress as the account-takeover detector saw it: the site's
/// attempts on addresses that do not exist far above its own baseline, over the
/// last hour and the last ten minutes alike.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct DetectorWindow {
    /// When it opened (RFC 3339).
    pub start: String,
    /// When it closed, or the last event while still open (RFC 3339).
    pub end: String,
    /// Still open at the end of the period.
    pub open: bool,
    /// The highest site excess seen in it, in standard deviations.
    pub peak_site_z: f32,
    /// Attempts on addresses that do not exist while it was open.
    pub unknown_account: u64,
    /// Attempts while it was open.
    pub attempts: u64,
}

/// What recording the results did.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Recorded {
    /// Findings recorded now (as shadow findings).
    pub recorded: u64,
    /// Already recorded (by the live monitor or an earlier backtest).
    pub duplicates: u64,
}

/// The report.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct BacktestReport {
    /// Rule id.
    pub rule: String,
    /// Period start.
    pub since: String,
    /// Period end.
    pub until: String,
    /// Events read.
    pub events: u64,
    /// Accounts Gatehouse has.
    pub accounts: i64,
    /// Median findings per day of the stored rule over the last 30 days (zero days included).
    pub normal_daily_findings: f64,
    /// What the tested rule (the draft, or the stored version) would do.
    pub tested: BacktestOutcome,
    /// What the stored version would do, when a draft was tested against it.
    pub current: Option<BacktestOutcome>,
    /// Flagged accounts of the tested rule, with evidence (up to 20).
    pub sample: Vec<BacktestSample>,
    /// The page of flagged accounts asked for (`offset`, `limit`).
    #[serde(rename = "flagged")]
    pub accounts_page: BacktestPage,
    /// The sources the tested rule's detector judged attacking, strongest
    /// first (at most 100).
    pub sources: Vec<AttackingSource>,
    /// How many it judged attacking in all.
    pub sources_total: u64,
    /// The period's traffic.
    pub traffic: Traffic,
    /// Hours in which attempts on unknown addresses stood far above normal.
    pub attack_windows: Vec<AttackWindow>,
    /// For an account-takeover rule: the attack windows its detector opened
    /// (finer than the hourly ones; at most the last 64).
    pub detector_windows: Vec<DetectorWindow>,
    /// Set when the results were recorded as shadow findings.
    pub recorded: Option<Recorded>,
    /// Plain warnings: a large share of accounts, far above normal, many more
    /// than the current version, an attack window in which it flagged nothing.
    pub warnings: Vec<String>,
}
