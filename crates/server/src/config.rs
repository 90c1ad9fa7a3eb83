//! Configuration: defaults, then an optional TOML file, then `GATEHOUSE_*`
//! environment variables (each key's env name is `GATEHOUSE_` + the key in
//! upper case, e.g. `GATEHOUSE_DATABASE_URL`). A bad value stops start-up with
//! a message naming the key and where it came from.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use gatehouse_domain::session::SessionPolicy;
use gatehouse_domain::{NoticeKind, PasswordPolicy};
use ipnet::IpNet;
use serde::Deserialize;
use url::Url;

/// Every key, for checking a config file for typos and for the docs.
pub const KEYS: &[(&str, &str)] = &[
    (
        "data_dir",
        "directory for the SQLite file and the mail directory (default ./gatehouse-data)",
    ),
    (
        "database_url",
        "sqlite:PATH or postgres://… (default sqlite:<data_dir>/gatehouse.db)",
    ),
    (
        "database_max_connections",
        "connection pool size (default 16)",
    ),
    (
        "listen",
        "address to serve HTTP on (default 127.0.0.1:8080)",
    ),
    (
        "public_url",
        "the origin people type to reach Gatehouse; used for cookies, CSRF and links (default http://127.0.0.1:8080)",
    ),
    (
        "smtp_url",
        "SMTP server for notices: smtp://[user:pass@]host[:port] (STARTTLS required unless the host is loopback) or smtps://… (TLS from the start); unset: mail goes to the maildir <data_dir>/mail",
    ),
    (
        "mail_from",
        "sender of notices, e.g. \"Example Security <security@example.com>\" (default: Gatehouse <gatehouse@HOST of public_url>, or @localhost for an IP)",
    ),
    (
        "site_name",
        "the name notices and pages use for this service (default Gatehouse)",
    ),
    (
        "mail_link_kinds",
        "notice kinds whose mail may carry a link, comma-separated (recovery, forced_reset); default none: people type the code on the site",
    ),
    (
        "notice_cap_per_day",
        "most security notices to one address per 24 hours; more of one kind merge into one (default 5)",
    ),
    (
        "status_mail_per_hour",
        "most status-page e-mails (subscription confirmations and incident updates) sent per hour, all replicas together; they go out only after every due security notice (default 1000)",
    ),
    (
        "mail_rate_per_second",
        "most notices this replica sends per second (default 50)",
    ),
    (
        "mail_concurrency",
        "notices this replica sends at once (default 4)",
    ),
    (
        "mail_retry_base_ms",
        "first retry delay after a temporary delivery failure; doubles per attempt up to an hour (default 30000)",
    ),
    (
        "mail_max_attempts",
        "delivery attempts before a notice is marked failed (default 20, about a day)",
    ),
    (
        "smtp_timeout_seconds",
        "time limit for one SMTP delivery (default 30)",
    ),
    (
        "dkim_key_file",
        "PEM file with an RSA or Ed25519 private key: notices are DKIM-signed when set",
    ),
    (
        "dkim_selector",
        "DKIM selector (required with dkim_key_file)",
    ),
    (
        "recovery_code_minutes",
        "how long a recovery code and link work, 5 to 1440 (default 30)",
    ),
    (
        "secret_key_file",
        "32-byte server key for recovery-code digests; created if missing; replicas must share it (default <data_dir>/secret.key)",
    ),
    (
        "breach_index",
        "breached-password index file (from `gatehouse breach import`); default <data_dir>/breach.idx when that file exists; an empty value turns breach checks off",
    ),
    (
        "password_min_length",
        "minimum length of new passwords in characters, 8 to 64 (default 15)",
    ),
    ("argon2_memory_kib", "argon2id memory cost (default 19456)"),
    ("argon2_iterations", "argon2id time cost (default 2)"),
    ("argon2_parallelism", "argon2id lanes (default 1)"),
    (
        "hash_workers",
        "password hashes computed at once (default: number of CPU cores)",
    ),
    (
        "hash_queue",
        "requests that may wait for a hash worker before 503 (default 2 per worker)",
    ),
    (
        "hash_queue_timeout_ms",
        "longest wait for a hash worker before 503 (default 100)",
    ),
    (
        "session_lifetime_hours",
        "absolute session lifetime (default 336 = 14 days)",
    ),
    (
        "session_idle_hours",
        "a session unused this long ends (default 72)",
    ),
    (
        "session_cache_seconds",
        "how long a replica trusts a session it has checked; bounds how late a revocation made on another replica takes effect here (default 2, 0 disables)",
    ),
    (
        "trusted_proxies",
        "networks whose X-Forwarded-For is believed, comma-separated CIDRs (default none)",
    ),
    (
        "request_timeout_seconds",
        "per-request time limit (default 30)",
    ),
    (
        "max_body_bytes",
        "largest request body accepted (default 65536)",
    ),
    (
        "event_retention_days",
        "days login events are kept for the compromise checks and backtests, 1 to 3650 (default 90)",
    ),
    (
        "rules_file",
        "TOML file of compromise-check rules, applied at start (a changed rule gets a new version); default none: the shipped rules are installed once when there are no rules",
    ),
    (
        "detection",
        "whether `serve` runs the compromise checks over incoming login events, true or false (default true)",
    ),
    (
        "approval_max_accounts",
        "a campaign over this many accounts needs a second operator's approval (default 1000)",
    ),
    (
        "approval_max_multiple_of_normal",
        "a campaign over this multiple of the normal daily forced resets needs a second approval (default 10)",
    ),
    (
        "approval_max_share_percent",
        "a campaign over this percentage of active accounts (a sign-in or session use in the last 30 days; all accounts when there is no login history) needs a second approval (default 0.1)",
    ),
    (
        "budget_hourly_floor",
        "forced resets allowed per hour whatever the history (default 50)",
    ),
    (
        "budget_daily_floor",
        "forced resets allowed per day whatever the history (default 100)",
    ),
    (
        "budget_multiple_of_normal",
        "forced resets allowed per day as a multiple of the normal daily volume, if larger than the floor (default 3)",
    ),
    (
        "report_gate_percent",
        "a campaign pauses when more than this share of its notices were reported on /verify as unexpected (default 2; at least 3 reports)",
    ),
    (
        "bounce_gate_percent",
        "a campaign pauses between stages when more than this share of its notices bounced (default 5)",
    ),
    (
        "recovery_gate_percent",
        "a campaign pauses before its next stage when fewer than this share of the people whose notice was delivered set a new password (default 1)",
    ),
    (
        "recovery_gate_min_sample",
        "the recovery gate judges only this many delivered notices or more (default 50)",
    ),
    (
        "recovery_gate_min_age_minutes",
        "a notice counts for the recovery gate once delivered at least this long ago, or the campaign's bake time if longer (default 10)",
    ),
    ("log_format", "text or json (default text)"),
];

#[derive(Debug, Deserialize)]
struct Raw {
    data_dir: Option<PathBuf>,
    database_url: Option<String>,
    database_max_connections: Option<u32>,
    listen: Option<String>,
    public_url: Option<String>,
    smtp_url: Option<String>,
    mail_from: Option<String>,
    site_name: Option<String>,
    mail_link_kinds: Option<Vec<String>>,
    notice_cap_per_day: Option<i64>,
    status_mail_per_hour: Option<i64>,
    mail_rate_per_second: Option<u32>,
    mail_concurrency: Option<usize>,
    mail_retry_base_ms: Option<u64>,
    mail_max_attempts: Option<u32>,
    smtp_timeout_seconds: Option<u64>,
    dkim_key_file: Option<PathBuf>,
    dkim_selector: Option<String>,
    recovery_code_minutes: Option<u64>,
    secret_key_file: Option<PathBuf>,
    breach_index: Option<String>,
    password_min_length: Option<usize>,
    argon2_memory_kib: Option<u32>,
    argon2_iterations: Option<u32>,
    argon2_parallelism: Option<u32>,
    hash_workers: Option<usize>,
    hash_queue: Option<usize>,
    hash_queue_timeout_ms: Option<u64>,
    session_lifetime_hours: Option<u64>,
    session_idle_hours: Option<u64>,
    session_cache_seconds: Option<u64>,
    trusted_proxies: Option<Vec<String>>,
    request_timeout_seconds: Option<u64>,
    max_body_bytes: Option<usize>,
    event_retention_days: Option<u64>,
    rules_file: Option<PathBuf>,
    detection: Option<bool>,
    approval_max_accounts: Option<u64>,
    approval_max_multiple_of_normal: Option<f64>,
    approval_max_share_percent: Option<f64>,
    budget_hourly_floor: Option<u64>,
    budget_daily_floor: Option<u64>,
    budget_multiple_of_normal: Option<f64>,
    bounce_gate_percent: Option<f64>,
    report_gate_percent: Option<f64>,
    recovery_gate_percent: Option<f64>,
    recovery_gate_min_sample: Option<u64>,
    recovery_gate_min_age_minutes: Option<u64>,
    log_format: Option<String>,
}

/// Argon2id cost parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Argon2Config {
    /// Memory in KiB.
    pub memory_kib: u32,
    /// Passes.
    pub iterations: u32,
    /// Lanes.
    pub parallelism: u32,
}

impl Default for Argon2Config {
    /// OWASP's recommendation: m=19456 KiB, t=2, p=1.
    fn default() -> Self {
        Self {
            memory_kib: 19456,
            iterations: 2,
            parallelism: 1,
        }
    }
}

/// Log output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Validated configuration.
#[derive(Clone, Debug)]
pub struct Config {
    /// Data directory.
    pub data_dir: PathBuf,
    /// Database URL (may hold a password: print with `gatehouse_store::redact_url`).
    pub database_url: String,
    /// Pool size.
    pub database_max_connections: u32,
    /// Listen address.
    pub listen: SocketAddr,
    /// Public origin.
    pub public_url: Url,
    /// SMTP URL, if any (may hold a password); otherwise the maildir.
    pub smtp_url: Option<Url>,
    /// Notice delivery settings.
    pub mail: MailConfig,
    /// Service name in notices and pages.
    pub site_name: String,
    /// How long recovery codes work.
    pub recovery_code_ttl: Duration,
    /// Server key file.
    pub secret_key_file: PathBuf,
    /// Where the breached-password index comes from.
    pub breach_index: BreachIndexSource,
    /// New-password rules.
    pub password_policy: PasswordPolicy,
    /// Hash cost.
    pub argon2: Argon2Config,
    /// Concurrent hashes.
    pub hash_workers: usize,
    /// Waiting hash requests allowed.
    pub hash_queue: usize,
    /// Longest wait for a hash worker.
    pub hash_queue_timeout: Duration,
    /// Session lifetimes.
    pub session_policy: SessionPolicy,
    /// Session cache time-to-live.
    pub session_cache_ttl: Duration,
    /// Proxies whose X-Forwarded-For is trusted.
    pub trusted_proxies: Vec<IpNet>,
    /// Per-request timeout.
    pub request_timeout: Duration,
    /// Largest body.
    pub max_body_bytes: usize,
    /// How long login events are kept.
    pub event_retention: Duration,
    /// Rules applied at start, if any.
    pub rules_file: Option<PathBuf>,
    /// Whether `serve` runs the detection monitor.
    pub detection: bool,
    /// When a campaign needs a second operator.
    pub approval: gatehouse_domain::campaign::ApprovalPolicy,
    /// The reset budget's size.
    pub budget: gatehouse_domain::campaign::BudgetPolicy,
    /// Share of bounced notices (0..1) that pauses a campaign between stages.
    pub bounce_gate: f64,
    /// Share of notices reported as unexpected (0..1) that pauses a campaign.
    pub report_gate: f64,
    /// The recovery-completion health gate (checked before each next stage).
    pub recovery_gate: gatehouse_domain::campaign::RecoveryGate,
    /// Log format.
    pub log_format: LogFormat,
}

/// How notices are sent.
#[derive(Clone, Debug)]
pub struct MailConfig {
    /// `From:` header.
    pub from: String,
    /// Kinds whose mail may carry a link.
    pub link_kinds: Vec<NoticeKind>,
    /// Per-address cap per 24 h.
    pub cap_per_day: i64,
    /// Status-page mail per hour (all replicas): its own budget.
    pub status_per_hour: i64,
    /// Sends per second (this replica).
    pub rate_per_second: u32,
    /// Concurrent sends.
    pub concurrency: usize,
    /// First retry delay.
    pub retry_base: Duration,
    /// Attempts before failing.
    pub max_attempts: u32,
    /// One SMTP delivery's time limit.
    pub smtp_timeout: Duration,
    /// DKIM key file and selector.
    pub dkim: Option<(PathBuf, String)>,
}

/// Where `serve` finds the breached-password index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BreachIndexSource {
    /// Breach checks are off (`breach_index` set to an empty value, or a
    /// command that does not check passwords).
    Off,
    /// The default `<data_dir>/breach.idx`: used when the file exists, and
    /// breach checks are off (not an error) when it does not.
    Default(PathBuf),
    /// Named in the configuration: must exist and be a valid index, or
    /// start-up fails.
    Explicit(PathBuf),
}

impl BreachIndexSource {
    /// The file this source names, if any.
    pub fn path(&self) -> Option<&Path> {
        match self {
            Self::Off => None,
            Self::Default(p) | Self::Explicit(p) => Some(p),
        }
    }
}

/// A configuration problem, naming the key.
#[derive(Debug, thiserror::Error)]
#[error("configuration: {0}")]
pub struct ConfigError(pub String);

fn bad(key: &str, msg: impl std::fmt::Display) -> ConfigError {
    ConfigError(format!(
        "`{key}` (env GATEHOUSE_{}): {msg}",
        key.to_uppercase()
    ))
}

impl Config {
    /// Defaults overlaid by `file` (if given; it must exist) and then by the
    /// process environment.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        Self::load_from(file, std::env::vars())
    }

    /// Like [`Config::load`] with an explicit environment (for tests).
    pub fn load_from(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let mut builder = config::Config::builder();
        if let Some(path) = file {
            let text = std::fs::read_to_string(path).map_err(|e| {
                ConfigError(format!("cannot read config file {}: {e}", path.display()))
            })?;
            let table: toml_keys::Table = text.parse().map_err(|e| {
                ConfigError(format!(
                    "config file {} is not valid TOML: {e}",
                    path.display()
                ))
            })?;
            for key in table.keys() {
                if !KEYS.iter().any(|(k, _)| k == key) {
                    return Err(ConfigError(format!(
                        "config file {}: unknown key `{key}` (known keys: {})",
                        path.display(),
                        KEYS.iter().map(|(k, _)| *k).collect::<Vec<_>>().join(", ")
                    )));
                }
            }
            builder = builder.add_source(config::File::from_str(&text, config::FileFormat::Toml));
        }
        // Only known keys are taken from the environment, so GATEHOUSE_TEST_* and
        // the like do not trip the parser; values stay strings and are parsed below.
        let mut env_map = std::collections::HashMap::new();
        for (name, value) in env {
            if let Some(key) = name.strip_prefix("GATEHOUSE_").map(str::to_lowercase)
                && KEYS.iter().any(|(k, _)| *k == key)
            {
                env_map.insert(name, value);
            }
        }
        builder = builder.add_source(
            config::Environment::with_prefix("GATEHOUSE")
                .source(Some(env_map))
                .try_parsing(true)
                .list_separator(",")
                .with_list_parse_key("trusted_proxies")
                .with_list_parse_key("mail_link_kinds"),
        );
        let raw: Raw = builder
            .build()
            .and_then(|c| c.try_deserialize())
            .map_err(|e| ConfigError(e.to_string()))?;
        Self::validate(raw)
    }

    fn validate(raw: Raw) -> Result<Self, ConfigError> {
        let data_dir = raw
            .data_dir
            .unwrap_or_else(|| PathBuf::from("./gatehouse-data"));
        let database_url = raw
            .database_url
            .unwrap_or_else(|| format!("sqlite:{}", data_dir.join("gatehouse.db").display()));
        if !(database_url.starts_with("sqlite:")
            || database_url.starts_with("postgres://")
            || database_url.starts_with("postgresql://"))
        {
            return Err(bad(
                "database_url",
                "must start with sqlite: or postgres://",
            ));
        }
        let listen_s = raw.listen.unwrap_or_else(|| "127.0.0.1:8080".into());
        let listen: SocketAddr = listen_s.parse().map_err(|e| {
            bad(
                "listen",
                format!("{listen_s:?} is not an address:port ({e})"),
            )
        })?;
        let public_s = raw
            .public_url
            .unwrap_or_else(|| "http://127.0.0.1:8080".into());
        let public_url =
            Url::parse(&public_s).map_err(|e| bad("public_url", format!("{public_s:?}: {e}")))?;
        if !matches!(public_url.scheme(), "http" | "https") || public_url.host().is_none() {
            return Err(bad(
                "public_url",
                "must be an http:// or https:// URL with a host",
            ));
        }
        if public_url.query().is_some()
            || public_url.fragment().is_some()
            || public_url.path() != "/"
        {
            return Err(bad(
                "public_url",
                "must be an origin only, such as https://id.example.com",
            ));
        }
        let password_policy = PasswordPolicy::new(raw.password_min_length.unwrap_or(15))
            .map_err(|e| bad("password_min_length", e))?;
        let argon2 = Argon2Config {
            memory_kib: raw.argon2_memory_kib.unwrap_or(19456),
            iterations: raw.argon2_iterations.unwrap_or(2),
            parallelism: raw.argon2_parallelism.unwrap_or(1),
        };
        if argon2.memory_kib < 8 * argon2.parallelism.max(1) || argon2.memory_kib > 4 * 1024 * 1024
        {
            return Err(bad(
                "argon2_memory_kib",
                "must be between 8×parallelism and 4194304",
            ));
        }
        if !(1..=100).contains(&argon2.iterations) {
            return Err(bad("argon2_iterations", "must be between 1 and 100"));
        }
        if !(1..=64).contains(&argon2.parallelism) {
            return Err(bad("argon2_parallelism", "must be between 1 and 64"));
        }
        let cores = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1);
        let hash_workers = raw.hash_workers.unwrap_or(cores);
        if !(1..=1024).contains(&hash_workers) {
            return Err(bad("hash_workers", "must be between 1 and 1024"));
        }
        let hash_queue = raw.hash_queue.unwrap_or(2 * hash_workers);
        let hours = |key: &str, v: Option<u64>, default: u64| -> Result<Duration, ConfigError> {
            let h = v.unwrap_or(default);
            if !(1..=24 * 366).contains(&h) {
                return Err(bad(key, "must be between 1 and 8784 hours"));
            }
            Ok(Duration::from_secs(h * 3600))
        };
        let session_policy = SessionPolicy {
            lifetime: hours("session_lifetime_hours", raw.session_lifetime_hours, 336)?,
            idle_timeout: hours("session_idle_hours", raw.session_idle_hours, 72)?,
            ..SessionPolicy::default()
        };
        let session_cache_secs = raw.session_cache_seconds.unwrap_or(2);
        if session_cache_secs > 60 {
            return Err(bad(
                "session_cache_seconds",
                "must be at most 60 (revocations would take too long to reach other replicas)",
            ));
        }
        let trusted_proxies = raw
            .trusted_proxies
            .unwrap_or_default()
            .iter()
            .filter(|s| !s.trim().is_empty())
            .map(|s| {
                let s = s.trim();
                s.parse::<IpNet>()
                    .or_else(|_| s.parse::<std::net::IpAddr>().map(IpNet::from))
                    .map_err(|_| {
                        bad(
                            "trusted_proxies",
                            format!("{s:?} is not an IP address or CIDR network"),
                        )
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let timeout = raw.request_timeout_seconds.unwrap_or(30);
        if !(1..=3600).contains(&timeout) {
            return Err(bad("request_timeout_seconds", "must be between 1 and 3600"));
        }
        let max_body_bytes = raw.max_body_bytes.unwrap_or(64 * 1024);
        if !(1024..=64 * 1024 * 1024).contains(&max_body_bytes) {
            return Err(bad("max_body_bytes", "must be between 1024 and 67108864"));
        }
        let log_format = match raw.log_format.as_deref().unwrap_or("text") {
            "text" => LogFormat::Text,
            "json" => LogFormat::Json,
            other => {
                return Err(bad(
                    "log_format",
                    format!("{other:?} is neither text nor json"),
                ));
            }
        };
        let smtp_url = raw
            .smtp_url
            .filter(|s| !s.trim().is_empty())
            .map(|s| {
                let u = Url::parse(&s).map_err(|e| bad("smtp_url", format!("not a URL: {e}")))?;
                if !matches!(u.scheme(), "smtp" | "smtps") || u.host().is_none() {
                    return Err(bad(
                        "smtp_url",
                        "must be smtp://host[:port] or smtps://host[:port]",
                    ));
                }
                Ok(u)
            })
            .transpose()?;
        let host = public_url.host_str().unwrap_or("localhost");
        let from_domain = if public_url.domain().is_some() {
            host
        } else {
            "localhost"
        };
        let from = raw
            .mail_from
            .unwrap_or_else(|| format!("Gatehouse <gatehouse@{from_domain}>"));
        if from.parse::<lettre::message::Mailbox>().is_err() {
            return Err(bad(
                "mail_from",
                format!("{from:?} is not a mailbox like \"Name <user@example.com>\""),
            ));
        }
        let link_kinds = raw
            .mail_link_kinds
            .unwrap_or_default()
            .iter()
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.parse::<NoticeKind>()
                    .map_err(|e| bad("mail_link_kinds", e))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let in_range = |key: &str, v: u64, lo: u64, hi: u64| {
            if (lo..=hi).contains(&v) {
                Ok(v)
            } else {
                Err(bad(key, format!("must be between {lo} and {hi}")))
            }
        };
        let dkim = match (raw.dkim_key_file, raw.dkim_selector) {
            (None, None) => None,
            (Some(file), Some(sel)) if !sel.trim().is_empty() => Some((file, sel)),
            _ => {
                return Err(bad(
                    "dkim_selector",
                    "dkim_key_file and dkim_selector go together",
                ));
            }
        };
        let mail = MailConfig {
            from,
            link_kinds,
            cap_per_day: in_range(
                "notice_cap_per_day",
                raw.notice_cap_per_day.unwrap_or(5).max(0) as u64,
                1,
                1000,
            )? as i64,
            status_per_hour: in_range(
                "status_mail_per_hour",
                raw.status_mail_per_hour.unwrap_or(1000).max(0) as u64,
                1,
                10_000_000,
            )? as i64,
            rate_per_second: in_range(
                "mail_rate_per_second",
                raw.mail_rate_per_second.unwrap_or(50).into(),
                1,
                100_000,
            )? as u32,
            concurrency: in_range(
                "mail_concurrency",
                raw.mail_concurrency.unwrap_or(4) as u64,
                1,
                256,
            )? as usize,
            retry_base: Duration::from_millis(in_range(
                "mail_retry_base_ms",
                raw.mail_retry_base_ms.unwrap_or(30_000),
                10,
                3_600_000,
            )?),
            max_attempts: in_range(
                "mail_max_attempts",
                raw.mail_max_attempts.unwrap_or(20).into(),
                1,
                1000,
            )? as u32,
            smtp_timeout: Duration::from_secs(in_range(
                "smtp_timeout_seconds",
                raw.smtp_timeout_seconds.unwrap_or(30),
                1,
                600,
            )?),
            dkim,
        };
        let recovery_code_ttl = Duration::from_secs(
            60 * in_range(
                "recovery_code_minutes",
                raw.recovery_code_minutes.unwrap_or(30),
                5,
                1440,
            )?,
        );
        let event_retention = Duration::from_secs(
            24 * 3600
                * in_range(
                    "event_retention_days",
                    raw.event_retention_days.unwrap_or(90),
                    1,
                    3650,
                )?,
        );
        let fraction = |key: &str, v: f64, lo: f64, hi: f64| {
            if v.is_finite() && (lo..=hi).contains(&v) {
                Ok(v)
            } else {
                Err(bad(key, format!("must be a number between {lo} and {hi}")))
            }
        };
        let approval = gatehouse_domain::campaign::ApprovalPolicy {
            max_accounts: in_range(
                "approval_max_accounts",
                raw.approval_max_accounts.unwrap_or(1000),
                1,
                1_000_000_000,
            )?,
            max_multiple_of_normal: fraction(
                "approval_max_multiple_of_normal",
                raw.approval_max_multiple_of_normal.unwrap_or(10.0),
                1.0,
                1e6,
            )?,
            max_share_of_active: fraction(
                "approval_max_share_percent",
                raw.approval_max_share_percent.unwrap_or(0.1),
                0.0,
                100.0,
            )? / 100.0,
        };
        let budget = gatehouse_domain::campaign::BudgetPolicy {
            hourly_floor: in_range(
                "budget_hourly_floor",
                raw.budget_hourly_floor.unwrap_or(50),
                1,
                10_000_000,
            )?,
            daily_floor: in_range(
                "budget_daily_floor",
                raw.budget_daily_floor.unwrap_or(100),
                1,
                100_000_000,
            )?,
            multiple_of_normal: fraction(
                "budget_multiple_of_normal",
                raw.budget_multiple_of_normal.unwrap_or(3.0),
                0.0,
                1e6,
            )?,
        };
        let bounce_gate = fraction(
            "bounce_gate_percent",
            raw.bounce_gate_percent.unwrap_or(5.0),
            0.0,
            100.0,
        )? / 100.0;
        let report_gate = fraction(
            "report_gate_percent",
            raw.report_gate_percent.unwrap_or(2.0),
            0.0,
            100.0,
        )? / 100.0;
        let recovery_gate = gatehouse_domain::campaign::RecoveryGate {
            min_share: fraction(
                "recovery_gate_percent",
                raw.recovery_gate_percent.unwrap_or(1.0),
                0.0,
                100.0,
            )? / 100.0,
            min_sample: in_range(
                "recovery_gate_min_sample",
                raw.recovery_gate_min_sample.unwrap_or(50),
                1,
                1_000_000_000,
            )?,
            min_age_secs: 60
                * in_range(
                    "recovery_gate_min_age_minutes",
                    raw.recovery_gate_min_age_minutes.unwrap_or(10),
                    0,
                    10_080,
                )?,
        };
        let secret_key_file = raw
            .secret_key_file
            .unwrap_or_else(|| data_dir.join("secret.key"));
        let breach_index = match raw.breach_index {
            None => BreachIndexSource::Default(data_dir.join("breach.idx")),
            Some(s) if s.trim().is_empty() => BreachIndexSource::Off,
            Some(s) => BreachIndexSource::Explicit(PathBuf::from(s.trim())),
        };
        let site_name = raw.site_name.unwrap_or_else(|| "Gatehouse".into());
        if site_name.trim().is_empty()
            || site_name.len() > 80
            || site_name.chars().any(char::is_control)
        {
            return Err(bad("site_name", "must be 1 to 80 printable characters"));
        }
        Ok(Self {
            data_dir,
            database_url,
            database_max_connections: raw.database_max_connections.unwrap_or(16).max(1),
            listen,
            public_url,
            smtp_url,
            mail,
            site_name,
            recovery_code_ttl,
            secret_key_file,
            breach_index,
            password_policy,
            argon2,
            hash_workers,
            hash_queue,
            hash_queue_timeout: Duration::from_millis(raw.hash_queue_timeout_ms.unwrap_or(50)),
            session_policy,
            session_cache_ttl: Duration::from_secs(session_cache_secs),
            trusted_proxies,
            request_timeout: Duration::from_secs(timeout),
            max_body_bytes,
            event_retention,
            rules_file: raw.rules_file,
            detection: raw.detection.unwrap_or(true),
            approval,
            budget,
            bounce_gate,
            report_gate,
            recovery_gate,
            log_format,
        })
    }

    /// Whether the public origin is https (cookies then get `Secure` and `__Host-`).
    pub fn is_https(&self) -> bool {
        self.public_url.scheme() == "https"
    }

    /// The public origin without a trailing slash, e.g. `https://id.example.com`.
    pub fn public_origin(&self) -> String {
        self.public_url.origin().ascii_serialization()
    }
}

/// Just enough TOML to list a file's top-level keys.
mod toml_keys {
    pub type Table = toml::Table;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults() {
        let c = Config::load_from(None, env(&[])).unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(c.database_url, "sqlite:./gatehouse-data/gatehouse.db");
        assert_eq!(c.public_origin(), "http://127.0.0.1:8080");
        assert_eq!(c.password_policy.min_chars(), 15);
        assert_eq!(c.argon2, Argon2Config::default());
        assert!(!c.is_https());
        assert!(c.trusted_proxies.is_empty());
        assert_eq!(c.event_retention, Duration::from_secs(90 * 24 * 3600));
        assert_eq!(
            c.recovery_gate,
            gatehouse_domain::campaign::RecoveryGate::default()
        );
        assert_eq!(
            c.breach_index,
            BreachIndexSource::Default(PathBuf::from("./gatehouse-data/breach.idx"))
        );
    }

    #[test]
    fn breach_index_explicit_or_off() {
        let c =
            Config::load_from(None, env(&[("GATEHOUSE_BREACH_INDEX", "/srv/pwned.idx")])).unwrap();
        assert_eq!(
            c.breach_index,
            BreachIndexSource::Explicit(PathBuf::from("/srv/pwned.idx"))
        );
        let c = Config::load_from(None, env(&[("GATEHOUSE_BREACH_INDEX", "")])).unwrap();
        assert_eq!(c.breach_index, BreachIndexSource::Off);
    }

    #[test]
    fn env_overrides_file() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("g.toml");
        std::fs::write(
            &f,
            "listen = \"127.0.0.1:9000\"\npassword_min_length = 12\n",
        )
        .unwrap();
        let c = Config::load_from(
            Some(&f),
            env(&[
                ("GATEHOUSE_PASSWORD_MIN_LENGTH", "10"),
                ("GATEHOUSE_TRUSTED_PROXIES", "10.0.0.0/8, 192.0.2.1"),
                ("GATEHOUSE_PUBLIC_URL", "https://id.example.com"),
                ("GATEHOUSE_TEST_PG_URL", "ignored"),
            ]),
        )
        .unwrap();
        assert_eq!(c.listen.port(), 9000);
        assert_eq!(c.password_policy.min_chars(), 10);
        assert_eq!(c.trusted_proxies.len(), 2);
        assert!(c.is_https());
    }

    #[test]
    fn bad_values_name_the_key() {
        for (k, v, key) in [
            ("GATEHOUSE_LISTEN", "nowhere", "`listen`"),
            (
                "GATEHOUSE_PASSWORD_MIN_LENGTH",
                "4",
                "`password_min_length`",
            ),
            (
                "GATEHOUSE_PASSWORD_MIN_LENGTH",
                "many",
                "password_min_length",
            ),
            ("GATEHOUSE_PUBLIC_URL", "ftp://x", "`public_url`"),
            (
                "GATEHOUSE_PUBLIC_URL",
                "https://x.org/app?x=1",
                "`public_url`",
            ),
            ("GATEHOUSE_DATABASE_URL", "mysql://x", "`database_url`"),
            (
                "GATEHOUSE_TRUSTED_PROXIES",
                "10.0.0.0/99",
                "`trusted_proxies`",
            ),
            ("GATEHOUSE_LOG_FORMAT", "xml", "`log_format`"),
            (
                "GATEHOUSE_EVENT_RETENTION_DAYS",
                "0",
                "`event_retention_days`",
            ),
            (
                "GATEHOUSE_EVENT_RETENTION_DAYS",
                "forever",
                "event_retention_days",
            ),
            (
                "GATEHOUSE_RECOVERY_GATE_PERCENT",
                "101",
                "`recovery_gate_percent`",
            ),
            (
                "GATEHOUSE_RECOVERY_GATE_MIN_SAMPLE",
                "0",
                "`recovery_gate_min_sample`",
            ),
            (
                "GATEHOUSE_RECOVERY_GATE_MIN_AGE_MINUTES",
                "20000",
                "`recovery_gate_min_age_minutes`",
            ),
        ] {
            let err = Config::load_from(None, env(&[(k, v)]))
                .unwrap_err()
                .to_string();
            assert!(err.contains(key), "{k}={v}: {err}");
        }
    }

    #[test]
    fn unknown_file_key_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("g.toml");
        std::fs::write(&f, "lisen = \"127.0.0.1:9000\"\n").unwrap();
        let err = Config::load_from(Some(&f), env(&[]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown key `lisen`"), "{err}");
        let missing = Config::load_from(Some(&dir.path().join("nope.toml")), env(&[])).unwrap_err();
        assert!(missing.to_string().contains("cannot read config file"));
    }
}
