//! Gatehouse storage.
//!
//! The store is split by capability ([`AccountStore`], [`SessionStore`], …)
//! and combined in [`Store`]. Each write method is one *use-case transaction*:
//! it takes the [`NewAuditEntry`](gatehouse_domain::audit::NewAuditEntry)
//! that records it and commits state change and audit entry together
//! (invariant *No side effect without its record*), so a caller cannot forget
//! either.
//!
//! Each capability is a module holding its trait and the rows it reads and
//! writes. Two engines implement every trait with the same SQL text (see [`sql`]):
//! SQLite (the zero-setup default; WAL, `busy_timeout`, `BEGIN IMMEDIATE` for
//! writes) and PostgreSQL (the scale-out engine). [`connect`] picks one from the
//! URL; nothing else in Gatehouse branches on the engine.
#![deny(missing_docs)]

mod accounts;
mod app_deliveries; // back-channel logout (issue 17)
mod audit;
mod audit_verify;
mod campaigns;
mod console;
mod credentials;
mod error;
mod events;
mod findings;
mod oidc; // OpenID Connect provider (issue 16)
mod operators;
mod outbox;
mod postgres;
mod recovery;
mod rules;
mod sessions;
mod sql;
mod sqlite;
mod ssf; // Shared Signals streams (issue 17)
mod status;
#[cfg(feature = "testing")]
pub mod testing;
mod throttle;

use std::sync::Arc;

use async_trait::async_trait;

pub use accounts::*;
pub use app_deliveries::*;
pub use audit::*;
pub use audit_verify::{ChainReport, verify_audit_chain, verify_audit_chain_against};
pub use campaigns::*;
pub use console::*;
pub use credentials::*;
pub use error::StoreError;
pub use events::*;
pub use findings::*;
pub use oidc::*;
pub use operators::*;
pub use outbox::*;
pub use postgres::PgStore;
pub use recovery::*;
pub use rules::*;
pub use sessions::*;
pub use sql::NOTICE_REFERENCE_TAKEN;
pub use sqlite::SqliteStore;
pub use ssf::*;
pub use status::*;
pub use throttle::*;

/// Result of a store call.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Everything Gatehouse stores, in one object.
#[async_trait]
pub trait Store:
    AccountStore
    + CredentialStore
    + SessionStore
    + ThrottleStore
    + OperatorStore
    + ConsoleStore
    + AuditStore
    + OutboxStore
    + RecoveryStore
    + EventStore
    + RuleStore
    + FindingStore
    + CampaignStore
    + StatusStore
    + OidcStore
    + AppDeliveryStore
    + SsfStore
    + Send
    + Sync
{
    /// `"sqlite"` or `"postgres"`.
    fn engine(&self) -> &'static str;

    /// Applies pending migrations.
    async fn migrate(&self) -> Result<()>;

    /// Cheap liveness check.
    async fn ping(&self) -> Result<()>;

    /// Closes the pool.
    async fn close(&self);
}

/// Pool settings common to both engines.
#[derive(Clone, Debug)]
pub struct ConnectOptions {
    /// Most connections in the pool.
    pub max_connections: u32,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        Self {
            max_connections: 16,
        }
    }
}

/// Opens the store a URL names: `sqlite:…` or `postgres://…` (`postgresql://`).
/// Does not migrate.
pub async fn connect(url: &str, opts: &ConnectOptions) -> Result<Arc<dyn Store>> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(SqliteStore::connect(url, opts).await?))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(PgStore::connect(url, opts).await?))
    } else {
        Err(StoreError::Config(format!(
            "unsupported database URL {:?}: use sqlite:PATH or postgres://…",
            redact_url(url)
        )))
    }
}

/// A URL with any password replaced by `***`, for messages and logs.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme_end + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn redacts_passwords() {
        assert_eq!(
            super::redact_url("postgres://u:secret@h/db"),
            "postgres://u:***@h/db"
        );
        assert_eq!(super::redact_url("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(super::redact_url("sqlite:x.db"), "sqlite:x.db");
    }
}
