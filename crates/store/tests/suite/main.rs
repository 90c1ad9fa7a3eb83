//! The store test suite: every test runs on SQLite and on PostgreSQL.
//!
//! One test binary, a module per capability; the fixtures more than one
//! module uses, and `both_engines!`, live here.

use std::sync::Arc;
use std::time::Duration;

use gatehouse_domain::audit::{Actor, AuditAction, NewAuditEntry};
use gatehouse_domain::login_event::{EventOrigin, EventOutcome};
use gatehouse_domain::status::{Impact, IncidentState, SubscriberState};
use gatehouse_domain::throttle::ThrottlePolicy;
use gatehouse_domain::{
    AccountId, ApiKey, NoticeId, NoticeKind, OperatorId, OsEntropy, RecoveryId, Reference,
    SessionId, SessionToken, Timestamp,
};
use gatehouse_store::testing::{Engine, fresh};
use gatehouse_store::*;

const T0: Timestamp = Timestamp::from_millis(1_700_000_000_000);

fn audit(action: AuditAction) -> NewAuditEntry {
    NewAuditEntry::new(T0, Actor::System, action)
}

fn new_account(email: &str) -> NewAccount {
    NewAccount {
        id: AccountId::generate(&OsEntropy),
        email: email.to_string(),
        email_key: email.to_lowercase(),
        created_at: T0,
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA".into(),
    }
}

fn new_session(account: AccountId, at: Timestamp) -> (NewSession, SessionToken) {
    let token = SessionToken::generate(&OsEntropy);
    let s = NewSession {
        id: SessionId::generate(&OsEntropy),
        account,
        token_hash: token.hash(),
        created_at: at,
        expires_at: at.plus(Duration::from_secs(3600)),
        ip: Some("192.0.2.1".into()),
        user_agent: Some("test".into()),
    };
    (s, token)
}

/// Runs one async test body on both engines, as two named tests.
macro_rules! both_engines {
    ($name:ident, $body:expr) => {
        mod $name {
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let db = fresh(Engine::Sqlite).await.unwrap();
                ($body)(db.store.clone()).await;
                assert_chain_intact(&db.store).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let Some(db) = fresh(Engine::Postgres).await else {
                    return;
                };
                ($body)(db.store.clone()).await;
                assert_chain_intact(&db.store).await;
            }
        }
    };
}

async fn assert_chain_intact(store: &Arc<dyn Store>) {
    match verify_audit_chain(store.as_ref()).await.unwrap() {
        ChainReport::Intact { .. } => {}
        broken => panic!("audit chain broken: {broken:?}"),
    }
}

fn notice(to: &str, kind: NoticeKind, key: &str, at: Timestamp) -> NewNotice {
    let id = NoticeId::generate(&OsEntropy);
    NewNotice {
        id,
        reference: Reference::generate(&OsEntropy).to_string(),
        idempotency_key: key.to_string(),
        kind,
        account: None,
        recipient: to.to_string(),
        recipient_key: to.to_lowercase(),
        payload: serde_json::json!({ "n": key }),
        message_id: format!("<{id}@test>"),
        created_at: at,
        expires_at: None,
    }
}

fn claim_policy(now: Timestamp, cap: i64) -> ClaimPolicy {
    ClaimPolicy {
        now,
        lease_id: NoticeId::generate(&OsEntropy).to_string(),
        lease: Duration::from_secs(60),
        limit: 100,
        cap_per_recipient: cap,
        cap_window: Duration::from_secs(24 * 3600),
        status_per_hour: 1000,
    }
}

async fn stuffing_rule(
    store: &Arc<dyn Store>,
    mode: gatehouse_domain::finding::RuleMode,
) -> RuleRecord {
    let (rule, changed) = store
        .put_rule(
            &NewRuleVersion {
                id: "stuffing".into(),
                detector: "credential_stuffing".into(),
                mode,
                definition: serde_json::json!({
                    "id": "stuffing",
                    "mode": mode.as_str(),
                    "detector": "credential_stuffing",
                }),
                now: T0,
                by: "system".into(),
            },
            audit(AuditAction::RuleChanged),
        )
        .await
        .unwrap();
    assert!(changed);
    rule
}

// After `both_engines!`: a `macro_rules!` macro is visible only below its definition.
mod accounts;
mod audit;
mod campaign_batches;
mod campaigns;
mod credentials;
mod delivery_migration;
mod events;
mod findings;
mod housekeeping;
mod oidc;
mod operators;
mod outbox;
mod recovery;
mod rules;
mod sessions;
mod status;
mod throttle;
