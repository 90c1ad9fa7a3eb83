//! Configuration: defaults, then an optional TOML file, then `GATEHOUSE_*`
//! environment variables (each key's env name is `GATEHOUSE_` + the key in
//! upper case, e.g. `GATEHOUSE_DATABASE_URL`). A bad value stops start-up with
//! a message naming the key and where it came from.
//!
//! Every key is declared once, in the `config_keys!` table below: its name
//! (which gives its env name), raw type, default, check and help. The table
//! makes the list of known keys (unknown file keys are refused), the reading
//! and checking of each value, and what `gatehouse config` prints; what is
//! left by hand is [`Config::build`], which combines keys (defaults derived
//! from other keys, checks across keys) into the [`Config`] the server uses.

mod setting;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use gatehouse_domain::session::SessionPolicy;
use gatehouse_domain::{NoticeKind, PasswordPolicy};
use ipnet::IpNet;
use url::Url;

use setting::{Check, Inputs, any, number, optional, range};
pub use setting::{KeyDoc, env_name};

/// Declares the keys: for each, doc comment lines (its help), then
/// `name: RawType = default [, shown "text"] => Type, check;` where `RawType`
/// is what the file or env gives, `default` its value when neither does
/// (`None` for a default derived from other keys, described by `shown`), and
/// `check` a [`Check`] turning the raw value into the `Type` that
/// [`Config::build`] receives, or refusing it.
macro_rules! config_keys {
    ($(
        $(#[doc = $help:literal])+
        $name:ident: $raw:ty = $default:expr $(, shown $shown:literal)? => $out:ty, $check:expr;
    )*) => {
        /// Every key's value, defaulted and checked on its own.
        struct Values {
            $($name: $out,)*
        }

        /// Every key, in the order `gatehouse config` lists them.
        pub const KEY_NAMES: &[&str] = &[$(stringify!($name)),*];

        /// Every key with its env name, default, accepted values and help.
        pub fn keys() -> Vec<KeyDoc> {
            vec![$({
                let shown: Option<&str> = None $(.or(Some($shown)))?;
                let check: Check<$raw, $out> = $check;
                KeyDoc {
                    key: stringify!($name),
                    env: env_name(stringify!($name)),
                    default: setting::default_text::<$raw>($default, shown),
                    derived: shown.is_some(),
                    allowed: check.allowed,
                    help: setting::help_text(&[$($help),+]),
                }
            },            )*]
        }

        fn read_values(inputs: &Inputs<'_>) -> Result<Values, ConfigError> {
            Ok(Values {
                $($name: inputs.value::<$raw, $out>(stringify!($name), $default, $check)?,)*
            })
        }
    };
}

config_keys! {
    /// Directory for the SQLite file and the mail directory.
    data_dir: PathBuf = "./gatehouse-data".into() => PathBuf, any();
    /// sqlite:PATH or postgres://user:pass@host/db.
    database_url: Option<String> = None, shown "sqlite:<data_dir>/gatehouse.db"
        => Option<String>, optional(database_url());
    /// Connection pool size (0 is taken as 1).
    database_max_connections: u32 = 16 => u32, Check::new(None, |n: u32| Ok(n.max(1)));
    /// Address to serve HTTP on.
    listen: String = "127.0.0.1:8080".into() => SocketAddr, listen();
    /// The origin people type to reach Gatehouse; used for cookies, CSRF and
    /// links, never the Host header.
    public_url: String = "http://127.0.0.1:8080".into() => Url, public_url();
    /// SMTP server for notices: smtp://[user:pass@]host[:port] (STARTTLS
    /// required unless the host is loopback) or smtps://… (TLS from the start).
    smtp_url: Option<String> = None, shown "none: mail goes to the maildir <data_dir>/mail"
        => Option<Url>, smtp_url();
    /// Sender of notices, e.g. "Example Security <security@example.com>".
    mail_from: Option<String> = None,
        shown "Gatehouse <gatehouse@HOST of public_url>, or @localhost for an IP"
        => Option<String>, optional(mailbox());
    /// The name notices and pages use for this service.
    site_name: String = "Gatehouse".into() => String, site_name();
    /// Notice kinds whose mail may carry a link, comma-separated (recovery,
    /// forced_reset); none: people type the code on the site.
    mail_link_kinds: Vec<String> = Vec::new() => Vec<NoticeKind>, link_kinds();
    /// Most security notices to one address per 24 hours; more of one kind
    /// merge into one.
    notice_cap_per_day: i64 = 5 => i64, range(1, 1000);
    /// Most status-page e-mails (subscription confirmations and incident
    /// updates) sent per hour, all replicas together; they go out only after
    /// every due security notice.
    status_mail_per_hour: i64 = 1000 => i64, range(1, 10_000_000);
    /// Most notices this replica sends per second.
    mail_rate_per_second: u32 = 50 => u32, range(1, 100_000);
    /// Notices this replica sends at once.
    mail_concurrency: usize = 4 => usize, range(1, 256);
    /// First retry delay after a temporary delivery failure, in milliseconds;
    /// doubles per attempt up to an hour.
    mail_retry_base_ms: u64 = 30_000 => u64, range(10, 3_600_000);
    /// Delivery attempts before a notice is marked failed (20 is about a day).
    mail_max_attempts: u32 = 20 => u32, range(1, 1000);
    /// Time limit for one SMTP delivery, in seconds.
    smtp_timeout_seconds: u64 = 30 => u64, range(1, 600);
    /// Most back-channel logout tokens this replica POSTs to one app per
    /// second: a large forced reset queues instead of flooding the app.
    backchannel_rate_per_second: u32 = 20 => u32, range(1, 100_000);
    /// Logout tokens this replica sends to one app at once.
    backchannel_concurrency: usize = 4 => usize, range(1, 64);
    /// Time limit for one logout-token POST, in seconds.
    backchannel_timeout_seconds: u64 = 5 => u64, range(1, 60);
    /// First retry delay after an app failed a logout token, in
    /// milliseconds; doubles per attempt up to an hour.
    backchannel_retry_base_ms: u64 = 5_000 => u64, range(10, 3_600_000);
    /// Attempts before a logout token is marked failed (15 is about 8 hours).
    backchannel_max_attempts: u32 = 15 => u32, range(1, 1000);
    /// PEM file with an RSA or Ed25519 private key: notices are DKIM-signed
    /// when set (with dkim_selector).
    dkim_key_file: Option<PathBuf> = None => Option<PathBuf>, any();
    /// DKIM selector (required with dkim_key_file).
    dkim_selector: Option<String> = None => Option<String>, any();
    /// How long a recovery code and link work, in minutes.
    recovery_code_minutes: u64 = 30 => u64, range(5, 1440);
    /// 32-byte server key for recovery-code digests; created if missing;
    /// replicas must share it.
    secret_key_file: Option<PathBuf> = None, shown "<data_dir>/secret.key"
        => Option<PathBuf>, any();
    /// File holding the bearer token Prometheus presents for /metrics
    /// (`Authorization: Bearer …`, e.g. scrape config `bearer_token_file`); at
    /// least 32 characters. Unset or empty: /metrics answers 404 (the counters
    /// tell an outsider how many people sign in, reset and recover).
    metrics_token_file: Option<PathBuf> = None => Option<PathBuf>, any();
    /// Breached-password index file (from `gatehouse breach import`) for
    /// `serve`; a named file must exist and be valid; an empty value turns
    /// breach checks off.
    breach_index: Option<String> = None, shown "<data_dir>/breach.idx when that file exists"
        => Option<String>, any();
    /// Minimum length of new passwords, in characters.
    password_min_length: usize = gatehouse_domain::password::DEFAULT_MIN_CHARS
        => PasswordPolicy, password_policy();
    /// Argon2id memory cost in KiB (at least 8 × argon2_parallelism); raising
    /// a cost rehashes at next login.
    argon2_memory_kib: u32 = Argon2Config::default().memory_kib => u32, range(8, 4 * 1024 * 1024);
    /// Argon2id time cost (passes).
    argon2_iterations: u32 = Argon2Config::default().iterations => u32, range(1, 100);
    /// Argon2id lanes.
    argon2_parallelism: u32 = Argon2Config::default().parallelism => u32, range(1, 64);
    /// Password hashes computed at once.
    hash_workers: Option<usize> = None, shown "number of CPU cores"
        => Option<usize>, optional(range(1, 1024));
    /// Requests that may wait for a hash worker before 503.
    hash_queue: Option<usize> = None, shown "2 × hash_workers" => Option<usize>, any();
    /// A failed sign-in is answered no sooner than this many milliseconds after
    /// its password check began, so the answer's timing does not tell which
    /// accounts exist with an imported hash (bcrypt cost 12 takes ~0.3 s, the
    /// configured argon2id ~25 ms). Waited asynchronously: no thread is held.
    /// Set it above your slowest imported hash; 0 turns it off.
    login_failure_floor_ms: u64 = 500 => u64, range(0, 10_000);
    /// Longest wait for a hash worker before 503, in milliseconds.
    hash_queue_timeout_ms: u64 = 50 => u64, any();
    /// Absolute session lifetime, in hours (336 = 14 days).
    session_lifetime_hours: u64 = 336 => Duration, hours();
    /// A session unused this many hours ends.
    session_idle_hours: u64 = 72 => Duration, hours();
    /// How long a replica trusts a session it has checked, in seconds; bounds
    /// how late a revocation made on another replica takes effect here (on the
    /// same replica: at once). 0 disables.
    session_cache_seconds: u64 = 2 => u64, session_cache_seconds();
    /// Networks whose X-Forwarded-For is believed, comma-separated CIDRs or
    /// addresses.
    trusted_proxies: Vec<String> = Vec::new() => Vec<IpNet>, trusted_proxies();
    /// Per-request time limit, in seconds.
    request_timeout_seconds: u64 = 30 => u64, range(1, 3600);
    /// Largest request body accepted, in bytes (larger bodies get 413;
    /// POST /events/login takes up to 2 MiB).
    max_body_bytes: usize = 64 * 1024 => usize, range(1024, 64 * 1024 * 1024);
    /// Days login events are kept for the compromise checks and backtests;
    /// older ones are deleted by serve's housekeeping.
    event_retention_days: u64 = 90 => u64, range(1, 3650);
    /// TOML file of compromise-check rules, applied at start (a changed rule
    /// gets a new version).
    rules_file: Option<PathBuf> = None,
        shown "none: the shipped rules are installed once when there are no rules"
        => Option<PathBuf>, any();
    /// Whether serve runs the compromise checks over incoming login events
    /// (false: events are stored, no rule runs).
    detection: bool = true => bool, any();
    /// A campaign over this many accounts needs a second operator's approval.
    approval_max_accounts: u64 = 1000 => u64, range(1, 1_000_000_000);
    /// A campaign over this multiple of the normal daily forced resets needs a
    /// second approval.
    approval_max_multiple_of_normal: f64 = 10.0 => f64, number(1.0, 1e6);
    /// A campaign over this percentage of active accounts (a sign-in or
    /// session use in the last 30 days; all accounts when there is no login
    /// history) needs a second approval.
    approval_max_share_percent: f64 = 0.1 => f64, number(0.0, 100.0);
    /// Forced resets allowed per hour whatever the history.
    budget_hourly_floor: u64 = 50 => u64, range(1, 10_000_000);
    /// Forced resets allowed per day whatever the history.
    budget_daily_floor: u64 = 100 => u64, range(1, 100_000_000);
    /// Forced resets allowed per day as a multiple of the normal daily
    /// volume, if larger than the floor.
    budget_multiple_of_normal: f64 = 3.0 => f64, number(0.0, 1e6);
    /// A campaign pauses when more than this percentage of its notices were
    /// reported on /verify as unexpected (at least 3 reports).
    report_gate_percent: f64 = 2.0 => f64, number(0.0, 100.0);
    /// A campaign pauses between stages when more than this percentage of its
    /// notices bounced.
    bounce_gate_percent: f64 = 5.0 => f64, number(0.0, 100.0);
    /// A campaign pauses before its next stage when fewer than this percentage
    /// of the people whose notice was delivered set a new password.
    recovery_gate_percent: f64 = 1.0 => f64, number(0.0, 100.0);
    /// The recovery gate judges only this many delivered notices or more.
    recovery_gate_min_sample: u64 = 50 => u64, range(1, 1_000_000_000);
    /// A notice counts for the recovery gate once delivered at least this many
    /// minutes ago, or the campaign's bake time if longer.
    recovery_gate_min_age_minutes: u64 = 10 => u64, range(0, 10_080);
    /// Log output: text or json (level via RUST_LOG).
    log_format: String = "text".into() => LogFormat, log_format();
}

// The checks of the table above that are more than a range.

fn database_url() -> Check<String, String> {
    Check::new(
        Some("sqlite:…, postgres://… or postgresql://…"),
        |url: String| {
            if url.starts_with("sqlite:")
                || url.starts_with("postgres://")
                || url.starts_with("postgresql://")
            {
                Ok(url)
            } else {
                Err("must start with sqlite: or postgres://".into())
            }
        },
    )
}

fn listen() -> Check<String, SocketAddr> {
    Check::new(Some("address:port"), |s: String| {
        s.parse()
            .map_err(|e| format!("{s:?} is not an address:port ({e})"))
    })
}

fn public_url() -> Check<String, Url> {
    Check::new(Some("http:// or https:// origin"), |s: String| {
        let url = Url::parse(&s).map_err(|e| format!("{s:?}: {e}"))?;
        if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
            return Err("must be an http:// or https:// URL with a host".into());
        }
        if url.query().is_some() || url.fragment().is_some() || url.path() != "/" {
            return Err("must be an origin only, such as https://id.example.com".into());
        }
        Ok(url)
    })
}

/// An empty value means unset (the maildir), as an unset one does.
fn smtp_url() -> Check<Option<String>, Option<Url>> {
    Check::new(Some("smtp://… or smtps://…"), |s: Option<String>| {
        s.filter(|s| !s.trim().is_empty())
            .map(|s| {
                let url = Url::parse(&s).map_err(|e| format!("not a URL: {e}"))?;
                if !matches!(url.scheme(), "smtp" | "smtps") || url.host().is_none() {
                    return Err("must be smtp://host[:port] or smtps://host[:port]".to_owned());
                }
                Ok(url)
            })
            .transpose()
    })
}

fn mailbox() -> Check<String, String> {
    Check::new(None, |from: String| mailbox_check(&from).map(|()| from))
}

fn mailbox_check(from: &str) -> Result<(), String> {
    match from.parse::<lettre::message::Mailbox>() {
        Ok(_) => Ok(()),
        Err(_) => Err(format!(
            "{from:?} is not a mailbox like \"Name <user@example.com>\""
        )),
    }
}

fn site_name() -> Check<String, String> {
    Check::new(Some("1 to 80 printable characters"), |name: String| {
        if name.trim().is_empty() || name.len() > 80 || name.chars().any(char::is_control) {
            Err("must be 1 to 80 printable characters".into())
        } else {
            Ok(name)
        }
    })
}

fn link_kinds() -> Check<Vec<String>, Vec<NoticeKind>> {
    Check::new(None, |kinds: Vec<String>| {
        kinds
            .iter()
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
            .map(str::parse)
            .collect()
    })
}

fn password_policy() -> Check<usize, PasswordPolicy> {
    Check::new(
        Some("8 to 64"),
        // The domain owns the bounds and says them in its error.
        PasswordPolicy::new,
    )
}

fn hours() -> Check<u64, Duration> {
    Check::new(Some("1 to 8784"), |h: u64| {
        if (1..=24 * 366).contains(&h) {
            Ok(Duration::from_secs(h * 3600))
        } else {
            Err("must be between 1 and 8784 hours".into())
        }
    })
}

fn session_cache_seconds() -> Check<u64, u64> {
    Check::new(Some("0 to 60"), |s: u64| {
        if s <= 60 {
            Ok(s)
        } else {
            Err(
                "must be at most 60 (revocations would take too long to reach other replicas)"
                    .into(),
            )
        }
    })
}

fn trusted_proxies() -> Check<Vec<String>, Vec<IpNet>> {
    Check::new(None, |nets: Vec<String>| {
        nets.iter()
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.parse::<IpNet>()
                    .or_else(|_| s.parse::<std::net::IpAddr>().map(IpNet::from))
                    .map_err(|_| format!("{s:?} is not an IP address or CIDR network"))
            })
            .collect()
    })
}

fn log_format() -> Check<String, LogFormat> {
    Check::new(Some("text or json"), |s: String| match s.as_str() {
        "text" => Ok(LogFormat::Text),
        "json" => Ok(LogFormat::Json),
        other => Err(format!("{other:?} is neither text nor json")),
    })
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
    /// Back-channel logout delivery settings (per app).
    pub backchannel: BackchannelConfig,
    /// Service name in notices and pages.
    pub site_name: String,
    /// How long recovery codes work.
    pub recovery_code_ttl: Duration,
    /// Server key file.
    pub secret_key_file: PathBuf,
    /// File with the bearer token for /metrics (`None`: /metrics is off).
    pub metrics_token_file: Option<PathBuf>,
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
    /// Least time before a failed sign-in is answered (see `login_failure_floor_ms`).
    pub login_failure_floor: Duration,
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

/// How logout tokens are sent to apps (each app on its own: its rate, its
/// concurrency, its circuit).
#[derive(Clone, Debug)]
pub struct BackchannelConfig {
    /// POSTs per second to one app (this replica).
    pub rate_per_second: u32,
    /// POSTs in flight to one app.
    pub concurrency: usize,
    /// Time limit of one POST.
    pub timeout: Duration,
    /// First retry delay.
    pub retry_base: Duration,
    /// Attempts before `failed`.
    pub max_attempts: u32,
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
        let file = match file {
            None => None,
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| {
                    ConfigError(format!("cannot read config file {}: {e}", path.display()))
                })?;
                let table: toml::Table = text.parse().map_err(|e| {
                    ConfigError(format!(
                        "config file {} is not valid TOML: {e}",
                        path.display()
                    ))
                })?;
                // A typo must not pass silently as "unset".
                if let Some(key) = table.keys().find(|k| !KEY_NAMES.contains(&k.as_str())) {
                    return Err(ConfigError(format!(
                        "config file {}: unknown key `{key}` (known keys: {})",
                        path.display(),
                        KEY_NAMES.join(", ")
                    )));
                }
                Some((path, table))
            }
        };
        // Only known keys are taken from the environment, so GATEHOUSE_TEST_*,
        // GATEHOUSE_CONFIG and the like are not mistaken for keys.
        let env = env
            .into_iter()
            .filter_map(|(name, value)| {
                let key = name.strip_prefix("GATEHOUSE_")?.to_lowercase();
                let known = KEY_NAMES.contains(&key.as_str());
                known.then_some((key, value))
            })
            .collect();
        let inputs = Inputs { file, env };
        let values = read_values(&inputs)?;
        Self::build(values, &inputs)
    }

    /// The configuration from the keys' values: defaults that depend on other
    /// keys, and the checks that involve more than one key.
    fn build(v: Values, inputs: &Inputs<'_>) -> Result<Self, ConfigError> {
        let data_dir = v.data_dir;
        let database_url = v
            .database_url
            .unwrap_or_else(|| format!("sqlite:{}", data_dir.join("gatehouse.db").display()));
        let argon2 = Argon2Config {
            memory_kib: v.argon2_memory_kib,
            iterations: v.argon2_iterations,
            parallelism: v.argon2_parallelism,
        };
        if argon2.memory_kib < 8 * argon2.parallelism {
            return Err(inputs.bad(
                "argon2_memory_kib",
                "must be between 8×parallelism and 4194304",
            ));
        }
        let hash_workers = v.hash_workers.unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        });
        let from = match v.mail_from {
            Some(from) => from,
            None => {
                let domain = match v.public_url.domain() {
                    Some(_) => v.public_url.host_str().unwrap_or("localhost"),
                    None => "localhost",
                };
                let from = format!("Gatehouse <gatehouse@{domain}>");
                // A host the URL parser takes may still not be a mail domain.
                mailbox_check(&from).map_err(|m| inputs.bad("mail_from", m))?;
                from
            }
        };
        let dkim = match (v.dkim_key_file, v.dkim_selector) {
            (None, None) => None,
            (Some(file), Some(selector)) if !selector.trim().is_empty() => Some((file, selector)),
            _ => {
                return Err(inputs.bad(
                    "dkim_selector",
                    "dkim_key_file and dkim_selector go together",
                ));
            }
        };
        let breach_index = match v.breach_index {
            None => BreachIndexSource::Default(data_dir.join("breach.idx")),
            Some(s) if s.trim().is_empty() => BreachIndexSource::Off,
            Some(s) => BreachIndexSource::Explicit(PathBuf::from(s.trim())),
        };
        Ok(Self {
            database_url,
            database_max_connections: v.database_max_connections,
            listen: v.listen,
            smtp_url: v.smtp_url,
            mail: MailConfig {
                from,
                link_kinds: v.mail_link_kinds,
                cap_per_day: v.notice_cap_per_day,
                status_per_hour: v.status_mail_per_hour,
                rate_per_second: v.mail_rate_per_second,
                concurrency: v.mail_concurrency,
                retry_base: Duration::from_millis(v.mail_retry_base_ms),
                max_attempts: v.mail_max_attempts,
                smtp_timeout: Duration::from_secs(v.smtp_timeout_seconds),
                dkim,
            },
            backchannel: BackchannelConfig {
                rate_per_second: v.backchannel_rate_per_second,
                concurrency: v.backchannel_concurrency,
                timeout: Duration::from_secs(v.backchannel_timeout_seconds),
                retry_base: Duration::from_millis(v.backchannel_retry_base_ms),
                max_attempts: v.backchannel_max_attempts,
            },
            site_name: v.site_name,
            recovery_code_ttl: Duration::from_secs(60 * v.recovery_code_minutes),
            secret_key_file: v
                .secret_key_file
                .unwrap_or_else(|| data_dir.join("secret.key")),
            metrics_token_file: v.metrics_token_file.filter(|p| !p.as_os_str().is_empty()),
            breach_index,
            password_policy: v.password_min_length,
            argon2,
            hash_workers,
            hash_queue: v.hash_queue.unwrap_or(2 * hash_workers),
            hash_queue_timeout: Duration::from_millis(v.hash_queue_timeout_ms),
            login_failure_floor: Duration::from_millis(v.login_failure_floor_ms),
            session_policy: SessionPolicy {
                lifetime: v.session_lifetime_hours,
                idle_timeout: v.session_idle_hours,
                ..SessionPolicy::default()
            },
            session_cache_ttl: Duration::from_secs(v.session_cache_seconds),
            trusted_proxies: v.trusted_proxies,
            request_timeout: Duration::from_secs(v.request_timeout_seconds),
            max_body_bytes: v.max_body_bytes,
            event_retention: Duration::from_secs(24 * 3600 * v.event_retention_days),
            rules_file: v.rules_file,
            detection: v.detection,
            approval: gatehouse_domain::campaign::ApprovalPolicy {
                max_accounts: v.approval_max_accounts,
                max_multiple_of_normal: v.approval_max_multiple_of_normal,
                max_share_of_active: v.approval_max_share_percent / 100.0,
            },
            budget: gatehouse_domain::campaign::BudgetPolicy {
                hourly_floor: v.budget_hourly_floor,
                daily_floor: v.budget_daily_floor,
                multiple_of_normal: v.budget_multiple_of_normal,
            },
            bounce_gate: v.bounce_gate_percent / 100.0,
            report_gate: v.report_gate_percent / 100.0,
            recovery_gate: gatehouse_domain::campaign::RecoveryGate {
                min_share: v.recovery_gate_percent / 100.0,
                min_sample: v.recovery_gate_min_sample,
                min_age_secs: 60 * v.recovery_gate_min_age_minutes,
            },
            log_format: v.log_format,
            public_url: v.public_url,
            data_dir,
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

/// The key table as `gatehouse config` prints it: one paragraph per key, or a
/// JSON array of [`KeyDoc`]s when `json`.
pub fn reference(json: bool) -> String {
    let keys = keys();
    if json {
        return serde_json::to_string_pretty(&keys).expect("key docs serialize") + "\n";
    }
    let mut out = String::from(
        "Keys of the TOML file given by --config; each is also set by its environment \
         variable, which wins over the file.\n",
    );
    for k in keys {
        out.push_str(&format!("\n{}  (env {})\n", k.key, k.env));
        let default = if k.default.is_empty() {
            "none"
        } else {
            &k.default
        };
        out.push_str(&format!("    default: {default}\n"));
        if let Some(allowed) = &k.allowed {
            out.push_str(&format!("    allowed: {allowed}\n"));
        }
        out.push_str(&format!("    {}\n", k.help));
    }
    out
}

#[cfg(test)]
mod tests;
