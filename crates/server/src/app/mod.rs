//! Application services: the use cases, free of HTTP.
//!
//! [`App`] holds the store, the clock, the entropy source, the hashing pool and
//! the configuration. Its methods (split by use case into the submodules) take
//! already-parsed input and a [`Client`] describing who is asking, and return
//! domain results or an [`AppError`]. The HTTP layer and the CLI both call
//! these; neither touches the store for a security-relevant write directly.

pub mod detection;
mod error;
pub mod hashing;
mod housekeeping;
pub mod identity;
mod notices;
// OpenID Connect provider (issue 16).
pub mod oidc;
mod ops;
pub mod remediation;
pub mod secret;
pub mod status;

// The paths callers have always used (`app::campaigns::Preview`, …), and short
// names for the use-case modules inside this crate.
pub use detection::{
    backtest, breach, evaluate, events, findings, leaked, monitor, rules, rules_status,
};
use identity::sessions;
pub use identity::{console, import, operators, recovery, rekey};
pub use ops::AuditCheckpoint;
pub use remediation::undo::RuleUndoReport;
pub use remediation::{affected, campaigns};

use std::net::IpAddr;
use std::sync::Arc;

use gatehouse_domain::{Clock, Entropy};
use gatehouse_store::Store;

pub use breach::{BreachIndexInfo, PasswordAdvice};
pub use error::AppError;
pub use events::{IngestReport, ItemError};
pub use notices::VerifiedNotice;
pub use sessions::{Authenticated, LoginOutcome};

use crate::config::Config;
use hashing::Hasher;

/// Who is asking: the network facts recorded with every action.
#[derive(Clone, Debug, Default)]
pub struct Client {
    /// The client's address (after trusted-proxy resolution), if known.
    pub ip: Option<IpAddr>,
    /// The User-Agent header, truncated.
    pub user_agent: Option<String>,
}

impl Client {
    /// The address as text, for audit and session rows.
    pub fn ip_string(&self) -> Option<String> {
        self.ip.map(|ip| ip.to_string())
    }

    /// The throttle key for the client's network: the address for IPv4, the
    /// /64 for IPv6 (one subscriber usually holds a whole /64).
    pub fn throttle_key(&self) -> String {
        match self.ip {
            Some(IpAddr::V4(v4)) => format!("ip:{v4}"),
            Some(IpAddr::V6(v6)) => {
                let s = v6.segments();
                format!("ip:{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
            None => "ip:unknown".into(),
        }
    }
}

/// The application core.
pub struct App {
    /// Validated configuration.
    pub config: Config,
    /// Storage. Private to this crate: code outside it reads and writes through
    /// the use-case methods (see `ops.rs`), or, where the store itself is the
    /// subject (tests, benchmark baselines, bulk fixtures), `App::raw_store`.
    pub(crate) store: Arc<dyn Store>,
    /// Time source.
    pub clock: Arc<dyn Clock>,
    /// Randomness source.
    pub entropy: Arc<dyn Entropy>,
    /// Hashing pool.
    pub hasher: Hasher,
    /// Woken when a notice is enqueued, so the delivery worker sends it at once.
    pub outbox_wakeup: Arc<tokio::sync::Notify>,
    /// The breached-password index in use (swappable; may be absent).
    breach: breach::BreachGuard,
    /// Keys recovery-code digests.
    secret_key: secrecy::SecretBox<[u8; 32]>,
    /// Derived once from `secret_key`: what attempted passwords are digested
    /// under (own logins, on the login path, and apps' fingerprints).
    fingerprint_key: secrecy::SecretBox<[u8; 32]>,
    /// Per-network limit on `/verify` lookups (in memory, per replica).
    verify_limiter: governor::DefaultKeyedRateLimiter<String>,
    sessions: sessions::SessionCache,
    operators: operators::OperatorCache,
    /// One login-event batch written at a time per replica (see `events.rs`).
    event_writes: tokio::sync::Semaphore,
    /// Woken when a rule changes, so the detection monitor rebuilds at once.
    pub rules_changed: Arc<tokio::sync::Notify>,
    /// Woken when a campaign starts or resumes, or the breaker closes.
    pub campaigns_wakeup: Arc<tokio::sync::Notify>,
    /// What the workers found failing (database, mail server), for `/healthz`.
    pub health: crate::health::Health,
    /// OpenID Connect provider state (the signing-key cache).
    oidc: oidc::OidcState,
}

impl App {
    /// `Throttled` with the longest wait if any key is blocked now.
    pub(crate) async fn blocked(&self, keys: &[&str]) -> Result<(), AppError> {
        let now = self.clock.now();
        let wait = self
            .store
            .throttle_states(keys)
            .await?
            .into_iter()
            .flatten()
            .filter_map(|s| s.check(now).err())
            .max();
        wait.map_or(Ok(()), |d| Err(AppError::Throttled(d)))
    }

    /// A rate limit: refuses while `key` is blocked, otherwise counts one event against it.
    pub(crate) async fn rate_limit(
        &self,
        key: &str,
        policy: gatehouse_domain::throttle::ThrottlePolicy,
    ) -> Result<(), AppError> {
        self.blocked(&[key]).await?;
        self.store
            .count_throttle_event(&[(key, policy)], self.clock.now())
            .await?;
        Ok(())
    }

    /// Assembles the core. Builds the hashing pool (which hashes once, for the dummy)
    /// and loads the breached-password index the configuration names (an explicitly
    /// named index that cannot be opened is an error).
    pub fn new(
        config: Config,
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        entropy: Arc<dyn Entropy>,
    ) -> anyhow::Result<Self> {
        let hasher = Hasher::new(
            config.argon2,
            config.hash_workers,
            config.hash_queue,
            config.hash_queue_timeout,
            entropy.as_ref(),
        )?;
        let sessions = sessions::SessionCache::new(config.session_cache_ttl);
        let oidc = oidc::OidcState::new(config.session_cache_ttl);
        let operators = operators::OperatorCache::new(config.session_cache_ttl);
        let breach = breach::BreachGuard::load(config.breach_index.clone())?;
        if let Some(info) = breach.info() {
            metrics::gauge!("gatehouse_breach_index_keys").set(info.keys as f64);
        }
        let secret_key = secret::load_or_create(&config.secret_key_file, entropy.as_ref())?;
        let fingerprint_key = secrecy::SecretBox::new(Box::new(
            gatehouse_domain::login_event::password_fingerprint_key(
                secrecy::ExposeSecret::expose_secret(&secret_key),
            ),
        ));
        // 30 lookups a minute per network, bursts of 10: plenty for people, slow for enumeration.
        let verify_limiter = governor::RateLimiter::keyed(
            governor::Quota::per_minute(std::num::NonZeroU32::new(30).expect("non-zero"))
                .allow_burst(std::num::NonZeroU32::new(10).expect("non-zero")),
        );
        Ok(Self {
            config,
            store,
            clock,
            entropy,
            hasher,
            outbox_wakeup: Arc::new(tokio::sync::Notify::new()),
            breach,
            secret_key,
            fingerprint_key,
            verify_limiter,
            sessions,
            operators,
            event_writes: tokio::sync::Semaphore::new(1),
            rules_changed: Arc::new(tokio::sync::Notify::new()),
            campaigns_wakeup: Arc::new(tokio::sync::Notify::new()),
            health: crate::health::Health::default(),
            oidc,
        })
    }
}
