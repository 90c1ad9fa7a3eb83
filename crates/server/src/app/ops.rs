//! Operations the CLI needs that are not requests of their own: reading
//! campaign lists and the breaker, checking the audit chain, closing the pool.
//!
//! They exist so that [`App::store`](super::App) can stay private to this crate:
//! the CLI, the demo and the benchmarks reach the data only through `App`,
//! the same way the HTTP layer does, and a new security-relevant write cannot
//! slip in beside the use cases. [`App::raw_store`] is the one, clearly named,
//! way around that for code that must measure or inspect the storage layer
//! itself.

use std::sync::Arc;

use gatehouse_domain::campaign::CampaignState;
use gatehouse_domain::{CampaignId, Timestamp};
use gatehouse_store::{
    BreakerRecord, CampaignRecord, ChainReport, Operator, Store, TargetRecord, TargetState,
};

use super::{App, AppError};

/// A signed audit-log head (see [`App::audit_checkpoint`]): keep it outside
/// the database (a ticket, another system's log, a printout).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditCheckpoint {
    /// Entries in the log then.
    pub seq: i64,
    /// The last entry's hash (hex).
    pub hash: String,
    /// When it was taken (RFC 3339).
    pub at: String,
    /// HMAC-SHA256 over the above under a key derived from the server key (hex).
    pub mac: String,
}

impl App {
    /// The database engine's name (`sqlite` or `postgres`), for logs and reports.
    pub fn storage_engine(&self) -> &'static str {
        self.store.engine()
    }

    /// Closes the database pool, waiting for connections in use to be returned.
    /// Call it once, last: every later call on this `App` fails.
    pub async fn close(&self) {
        self.store.close().await;
    }

    /// Walks the whole audit chain and says whether every link holds.
    pub async fn verify_audit_chain(&self) -> Result<ChainReport, AppError> {
        Ok(gatehouse_store::verify_audit_chain(self.store.as_ref()).await?)
    }

    /// The audit log's head now, signed with a key derived from the server key:
    /// an anchor for the operator to keep *outside* the database. Whoever can
    /// write to the database can recompute every hash of the chain, but cannot
    /// make an entry at or before a saved checkpoint differ from it, nor forge a
    /// checkpoint, without the server key (`verify_audit_against`).
    pub async fn audit_checkpoint(&self) -> Result<AuditCheckpoint, AppError> {
        let (seq, hash) = self.store.audit_head().await?;
        let at = self.clock.now().to_rfc3339();
        let mac = self.checkpoint_mac(seq, &hash, &at);
        Ok(AuditCheckpoint { seq, hash, at, mac })
    }

    /// Verifies the chain, then that `checkpoint` is genuine and that the log
    /// still holds its entry unchanged (not cut below it, not rewritten up to it).
    pub async fn verify_audit_against(
        &self,
        checkpoint: &AuditCheckpoint,
    ) -> Result<ChainReport, AppError> {
        use subtle::ConstantTimeEq as _;
        let expected = self.checkpoint_mac(checkpoint.seq, &checkpoint.hash, &checkpoint.at);
        if !bool::from(expected.as_bytes().ct_eq(checkpoint.mac.as_bytes())) {
            return Err(AppError::Invalid {
                field: "checkpoint",
                message: "its signature does not match this server's key: not a checkpoint this \
                          Gatehouse made (or made with another server key)"
                    .into(),
            });
        }
        Ok(gatehouse_store::verify_audit_chain_against(
            self.store.as_ref(),
            checkpoint.seq,
            &checkpoint.hash,
            &checkpoint.at,
        )
        .await?)
    }

    fn checkpoint_mac(&self, seq: i64, hash: &str, at: &str) -> String {
        use hmac::{KeyInit as _, Mac as _};
        use secrecy::ExposeSecret as _;
        let mut k = hmac::Hmac::<sha2::Sha256>::new_from_slice(self.secret_key.expose_secret())
            .expect("HMAC takes keys of any length");
        k.update(b"gatehouse/audit-checkpoint-key/v1");
        let key = k.finalize().into_bytes();
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&key)
            .expect("HMAC takes keys of any length");
        mac.update(&seq.to_be_bytes());
        mac.update(hash.as_bytes());
        mac.update(b"\0");
        mac.update(at.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    /// The reset breaker as stored (open or closed, why, since when).
    pub async fn breaker(&self) -> Result<BreakerRecord, AppError> {
        Ok(self.store.breaker().await?)
    }

    /// Forced resets applied since `since` (what the reset budget counts).
    pub async fn resets_since(&self, since: Timestamp) -> Result<i64, AppError> {
        Ok(self.store.resets_since(since).await?)
    }

    /// The operator with this email key (`Email::key`), if any.
    pub async fn operator_by_email(&self, email_key: &str) -> Result<Option<Operator>, AppError> {
        Ok(self.store.operator_by_email(email_key).await?)
    }

    /// Campaigns, newest first, optionally only those in `state`.
    pub async fn list_campaigns(
        &self,
        state: Option<CampaignState>,
        limit: i64,
    ) -> Result<Vec<CampaignRecord>, AppError> {
        Ok(self.store.campaigns(state, limit).await?)
    }

    /// How many of a campaign's targets are in each state.
    pub async fn campaign_target_counts(
        &self,
        id: CampaignId,
    ) -> Result<Vec<(TargetState, i64)>, AppError> {
        Ok(self.store.campaign_target_counts(id).await?)
    }

    /// One page of a campaign's targets (optionally only those in `state`), in
    /// sequence order after `after` (`-1` for the first page).
    pub async fn campaign_targets(
        &self,
        id: CampaignId,
        state: Option<TargetState>,
        after: i64,
        limit: i64,
    ) -> Result<Vec<TargetRecord>, AppError> {
        Ok(self.store.campaign_targets(id, state, after, limit).await?)
    }

    /// The storage layer itself, past every use case: no throttles, no audit
    /// entry unless the caller writes one, no wake-ups of the workers.
    ///
    /// Only for code whose subject *is* the store: tests that inspect stored
    /// rows, the benchmarks' store-level baselines (what the database does
    /// without the use case around it), and bulk fixtures no use case exists for
    /// (100,000 accounts with chosen ids, a generated event trace). Request
    /// paths — HTTP, the CLI's verbs — call the use-case methods instead.
    pub fn raw_store(&self) -> &Arc<dyn Store> {
        &self.store
    }
}
