//! What the detectors emit: a [`Signal`] with the [`Evidence`] that explains it.

use serde::{Deserialize, Serialize};

use crate::event::{AccountKey, Country, PasswordDigest, Source};

/// Which detector spoke.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Detector {
    /// One source, many accounts.
    CredentialStuffing,
    /// One password, many accounts.
    PasswordSpraying,
    /// One account, many sources.
    DistributedGuessing,
    /// A success unlike the account's history while a combo list runs nearby
    /// (`takeover.rs`): only `LikelyCompromised` signals.
    AccountTakeover,
}

/// The grain at which a source looked like a combo list.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Grain {
    /// The address.
    Ip,
    /// Its /24 (IPv4) or /64 (IPv6).
    Network,
    /// Its autonomous system.
    Asn,
    /// Its user agent.
    UserAgent,
    /// Its IPv6 /48: what a provider hands one customer or one hosting tenant
    /// (65,536 /64s) — an attacker rotating /64s inside it stays in it.
    V6Block,
    /// The whole site (an attack in progress, no single grain stood out).
    Site,
}

/// Why an account-takeover signal: how the success differs from the account's
/// history, and the grain whose unknown-account attempts stood out.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct TakeoverEvidence {
    /// The grain that stood out.
    pub grain: Grain,
    /// Its unknown-account excess in standard deviations over its baseline.
    pub z: f32,
    /// Its (decayed) unknown-account attempts.
    pub unknown: f32,
    /// How many its baseline share predicted.
    pub expected_unknown: f32,
    /// The site's unknown-account excess (z) at the time.
    pub site_z: f32,
    /// Successes the account had before (0: no history kept).
    pub known_successes: u16,
    /// A user agent the account never succeeded with.
    pub new_device: bool,
    /// A /24 · /64 it never succeeded from.
    pub new_network: bool,
    /// An ASN it never succeeded from.
    pub new_asn: bool,
    /// A country it never succeeded from.
    pub new_country: bool,
    /// The success's country.
    pub country: Country,
    /// Which rule spoke (older signals: `grain_excess`).
    #[serde(default)]
    pub rule: TakeoverRule,
    /// Accounts the success's address tried lately (decayed over about a day;
    /// a person's own address tries one, theirs).
    #[serde(default)]
    pub address_accounts: f32,
    /// Share of the address's attempts lately that failed.
    #[serde(default)]
    pub address_failure_share: f32,
    /// What besides the grain spoke for the success being the attacker's: for an
    /// ASN, which of the success's own grains showed the attack too; for
    /// `address_tried_others`, `network_failures` when the attack showed only in
    /// the /24 · /64's other addresses failing (no site, ASN or user-agent
    /// excess: low-and-slow). Older signals and the other cases: `none`.
    #[serde(default)]
    pub corroboration: Corroboration,
    /// The site's unknown-account share over the last 24 hours against its
    /// own earlier days (a ratio; 0 without enough days of history), and
    /// whether that drift counted as an attack in progress.
    #[serde(default)]
    pub site_drift: f32,
    /// See `site_drift`.
    #[serde(default)]
    pub site_drifting: bool,
    /// Seconds between the success and its judgement (0: judged as it came). A
    /// success judged after the fact was kept and judged again when its own
    /// address or network showed the attack later; only the context it came in
    /// (`TakeoverConfig::context_minutes`) counts for it.
    #[serde(default)]
    pub judged_after_secs: u32,
}

/// Which of a success's own grains corroborated an attacked ASN or network
/// (`TakeoverEvidence::corroboration`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Corroboration {
    /// Nothing besides the grain (or not asked).
    #[default]
    None,
    /// The address tried unknown accounts too.
    AddressUnknown,
    /// The /24 · /64 tried unknown accounts too.
    NetworkUnknown,
    /// The /24 · /64 failed on several other accounts
    /// (`TakeoverConfig::network_failures`); for `address_tried_others`, its
    /// addresses other than the success's did.
    NetworkFailures,
    /// The user agent shows the combo list's excess too.
    UserAgent,
    /// The site's slow drift (`TakeoverConfig::drift_z`): over the last day
    /// its share of attempts on unknown accounts rose well above its own
    /// earlier days — an attack spread over days, with no window of the hour.
    SiteDrift,
    /// No attack context at all: for an account's first sign-in on record,
    /// its address tried a name the site does not have only *after* the
    /// success (`TakeoverConfig::names_after_first_sign_in`) — a list's next
    /// line, not the owner's typo.
    NamesAfter,
    /// No attack context at all, for an account's first sign-in on record:
    /// its address had tried a name the site does not have from the same
    /// browser more than about an hour before, never redeemed
    /// (`TakeoverConfig::names_long_before_first_sign_in`) — an exit trying
    /// a list's lines over hours, not the owner's typo of minutes before.
    NamesLongBefore,
    /// The ASN carries none of the site's people
    /// (`TakeoverConfig::peopleless_asn_share`): no past before about the last
    /// day, or a past mostly of names that do not exist — a hosting provider
    /// the attack trickles through, whose excess is nobody else's.
    NoPeople,
}

/// Which account-takeover rule flagged a success (`TakeoverEvidence::rule`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TakeoverRule {
    /// The grain's own unknown-account excess (`grain`, `z`) with the novelty the
    /// grain requires.
    #[default]
    GrainExcess,
    /// During an attack (site or ASN excess), the success's address also tried
    /// other accounts and mostly failed, and the success was unlike the owner.
    AddressTriedOthers,
    /// During an attack on the site *and* on the success's ASN, a mature account
    /// signed in on a new device from a new network and a new ASN.
    AttackWindow,
    /// During an attack on the site, an account with history signed in on a
    /// new device from a new network, ASN and country.
    AbroadInWindow,
}

/// What a signal says.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignalKind {
    /// An attack crossed the thresholds (once per attacking key while tracked);
    /// `account` is set only for distributed guessing (the account attacked).
    Attack,
    /// An account logged in successfully in a way tied to an attack: likely in an
    /// attacker's hands.
    LikelyCompromised,
}

/// The attacking key the evidence is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Subject {
    /// A source (credential stuffing).
    Source(Source),
    /// A password digest (spraying).
    Password(PasswordDigest),
    /// An account (distributed guessing).
    Account(AccountKey),
}

/// Why: the figures behind a signal, over `window_start_ms..=window_end_ms`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    /// The attacking source, password or attacked account.
    pub subject: Subject,
    /// Distinct accounts (stuffing, spraying) or sources (guessing) it touched,
    /// estimated (HyperLogLog; near-exact below a few hundred).
    pub distinct: u32,
    /// Attempts seen while tracked.
    pub attempts: u32,
    /// Failed attempts seen while tracked.
    pub failures: u32,
    /// `failures / attempts`.
    pub failure_ratio: f32,
    /// Of the failures, those carrying an attacker's mark: for password spraying,
    /// an account the site does not have, or an account with history tried from a
    /// network it never signed in from (people guessing their own forgotten
    /// password do so on their own accounts, from their own places). 0 for the
    /// other detectors and for findings stored before the ninth pass.
    #[serde(default)]
    pub marked: u32,
    /// Start of the window the counts cover.
    pub window_start_ms: i64,
    /// The event that raised the signal.
    pub window_end_ms: i64,
    /// For `LikelyCompromised`: where and when the successful login came from.
    pub success: Option<SuccessSeen>,
    /// For [`Detector::AccountTakeover`]: the account-level and grain evidence. Its
    /// `attempts` and `failures` above are then the grain's (decayed) attempts and
    /// unknown-account attempts, and `distinct` is 0.
    #[serde(default)]
    pub takeover: Option<TakeoverEvidence>,
}

/// The successful login behind a `LikelyCompromised` signal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)] // fields named for their columns; documented where the name is not enough
pub struct SuccessSeen {
    pub time_ms: i64,
    /// From where (under the detector's grouping).
    pub source: Source,
    /// Whether that source had failed on this account in the window (guessing).
    pub source_failed_before: bool,
}

/// One detector output.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)] // fields named for their columns; documented where the name is not enough
pub struct Signal {
    /// Which detector.
    pub detector: Detector,
    /// Attack or likely compromised account.
    pub kind: SignalKind,
    /// The account concerned, when there is one.
    pub account: Option<AccountKey>,
    /// Confidence in `0..=1`: grows with how far the evidence is past the thresholds.
    pub score: f32,
    pub evidence: Evidence,
}
