//! Password recovery: request a code by e-mail, then set a new password with it.
//!
//! The request answers the same, at the same speed, whether or not the
//! account exists: the caller only checks the input and the per-network limit,
//! and the lookup, the per-account limit and the mail happen in a background
//! task after the answer has gone. Completion counts the attempt *before*
//! comparing the code (at most five guesses per request, even concurrently),
//! and the store uses the request up in the same transaction that sets the
//! password, so of many concurrent redemptions exactly one succeeds.

use std::sync::Arc;
use std::time::Duration;

use gatehouse_domain::audit::{Actor, AuditAction, NewAuditEntry};
use gatehouse_domain::throttle::ThrottlePolicy;
use gatehouse_domain::{Email, NewPassword, NoticeKind, RecoveryCode, RecoveryId, RecoveryToken};
use gatehouse_store::{NewRecovery, RecoveryCompletion, RecoveryLookup, StoreError};
use secrecy::ExposeSecret;

use crate::app::{App, AppError, Client};
use crate::mail::{NoticeFacts, PasswordChangedFacts, RecoveryFacts};

/// Wrong guesses allowed per request.
pub const MAX_CODE_ATTEMPTS: i64 = 5;

/// Recovery requests per client network: 10 free an hour, then slower, 60 at most.
const REQUESTS_PER_CLIENT: ThrottlePolicy = ThrottlePolicy {
    free_failures: 10,
    base_delay: Duration::from_secs(1),
    max_delay: Duration::from_secs(10 * 60),
    cap: 60,
    window: Duration::from_secs(3600),
};

/// Recovery mails per account: 3 an hour, then one per doubling wait, 10 at
/// most, so nobody can use Gatehouse to flood someone's inbox.
const REQUESTS_PER_ACCOUNT: ThrottlePolicy = ThrottlePolicy {
    free_failures: 3,
    base_delay: Duration::from_secs(60),
    max_delay: Duration::from_secs(30 * 60),
    cap: 10,
    window: Duration::from_secs(3600),
};

/// Wrong codes and tokens per client network: 20 free an hour, 200 at most.
const FAILURES_PER_CLIENT: ThrottlePolicy = ThrottlePolicy {
    free_failures: 20,
    base_delay: Duration::from_secs(1),
    max_delay: Duration::from_secs(5 * 60),
    cap: 200,
    window: Duration::from_secs(3600),
};

/// What a completion presents.
#[derive(Debug)]
pub enum RecoveryProof<'a> {
    /// The address and the code typed from the mail.
    Code {
        /// Address.
        email: &'a str,
        /// Code as typed.
        code: &'a str,
    },
    /// The token from the mail's link.
    Token(&'a str),
}

impl App {
    /// Accepts a recovery request. Returns before anything about the account
    /// is looked up; the rest happens in the background.
    pub async fn request_recovery(
        self: &Arc<Self>,
        email: &str,
        client: &Client,
    ) -> Result<(), AppError> {
        let email = Email::parse(email).map_err(AppError::email)?;
        let key = format!("recover:{}", client.throttle_key());
        self.rate_limit(&key, REQUESTS_PER_CLIENT).await?;
        // Counted here, before the account is looked up, and never by what the
        // lookup found: a counter that moved differently for unknown addresses
        // would undo the identical answer (the outbox and the audit log say
        // what was sent, to operators).
        metrics::counter!("gatehouse_recovery_requests_total").increment(1);
        let app = self.clone();
        let client = client.clone();
        tokio::spawn(async move {
            if let Err(e) = app.send_recovery(&email, &client).await {
                tracing::error!(error = %e, "recovery request could not be processed");
            }
        });
        Ok(())
    }

    /// The background half of a request: look up, limit, store, enqueue.
    async fn send_recovery(&self, email: &Email, client: &Client) -> Result<(), AppError> {
        let Some(record) = self.store.login_record(&email.key()).await? else {
            return Ok(());
        };
        let account_key = format!("recover:acct:{}", email.key());
        match self.rate_limit(&account_key, REQUESTS_PER_ACCOUNT).await {
            Ok(()) => {}
            Err(AppError::Throttled(_)) => {
                tracing::info!(account = %record.account.id, "recovery request limit reached for the account; no mail sent");
                return Ok(());
            }
            Err(e) => return Err(e),
        }
        let to = Email::parse(&record.account.email).unwrap_or_else(|_| email.clone());
        let with_link = self.config.mail.link_kinds.contains(&NoticeKind::Recovery);
        let ttl = self.config.recovery_code_ttl;
        self.with_fresh_reference(|| async {
            let now = self.clock.now();
            let id = RecoveryId::generate(self.entropy.as_ref());
            let code = RecoveryCode::generate(self.entropy.as_ref());
            let token = with_link.then(|| RecoveryToken::generate(self.entropy.as_ref()));
            let expires_at = now.plus(ttl);
            let facts = NoticeFacts::Recovery(RecoveryFacts {
                occasion: self.occasion(now, client),
                code: code.display(),
                token: token.as_ref().map(|t| t.expose().to_owned()),
                expires_minutes: ttl.as_secs() / 60,
            });
            let notice = self.new_notice(
                Some(record.account.id),
                &to,
                format!("recovery/{id}"),
                &facts,
                Some(expires_at),
            );
            let request = NewRecovery {
                id,
                account: record.account.id,
                code_hash: code.digest(self.secret_key.expose_secret(), &id.to_string()),
                token_hash: token.as_ref().map(RecoveryToken::hash),
                created_at: now,
                expires_at,
                ip: client.ip_string(),
            };
            let audit = NewAuditEntry::new(now, Actor::Account(None), AuditAction::RecoveryRequested)
                .target(record.account.id)
                .ip(client.ip_string())
                .detail(serde_json::json!({ "request": id.to_string(), "reference": notice.reference, "link": with_link }));
            self.store.create_recovery(&request, &notice, audit).await
        })
        .await?;
        self.wake_outbox();
        Ok(())
    }

    /// Sets a new password with a code or link token. Ends every session,
    /// clears the account's login throttle, and mails a "password changed"
    /// notice. Does not sign in.
    pub async fn complete_recovery(
        &self,
        proof: RecoveryProof<'_>,
        new_password: &str,
        client: &Client,
    ) -> Result<(), AppError> {
        // Check what needs no secret first, so a typo costs no attempt.
        let new = NewPassword::parse(new_password, &self.config.password_policy)
            .map_err(|e| AppError::password("new_password", e))?;
        // A breached choice is refused before the code is looked at, so it costs
        // neither one of the request's attempts nor a hash.
        self.refuse_breached("new_password", new.expose(), new_password, "recovery")?;
        let ip_key = format!("recover-fail:{}", client.throttle_key());
        self.blocked(&[ip_key.as_str()]).await?;
        let now = self.clock.now();
        let (lookup, code) = match proof {
            RecoveryProof::Code { email, code } => {
                let email = Email::parse(email).map_err(AppError::email)?;
                let code = RecoveryCode::parse(code).map_err(|e| AppError::Invalid {
                    field: "code",
                    message: e.to_string(),
                })?;
                match self.store.login_record(&email.key()).await? {
                    Some(r) => (Some(RecoveryLookup::Account(r.account.id)), Some(code)),
                    None => (None, Some(code)),
                }
            }
            RecoveryProof::Token(token) => {
                let token = RecoveryToken::parse(token.trim()).map_err(|_| AppError::Invalid {
                    field: "token",
                    message: "this link is damaged; type the code from the e-mail instead".into(),
                })?;
                (Some(RecoveryLookup::Token(token.hash())), None)
            }
        };
        let attempt = match lookup {
            Some(l) => {
                self.store
                    .recovery_attempt(&l, now, MAX_CODE_ATTEMPTS)
                    .await?
            }
            None => None,
        };
        let Some(attempt) = attempt else {
            self.store
                .count_throttle_event(&[(ip_key.as_str(), FAILURES_PER_CLIENT)], now)
                .await?;
            return Err(AppError::RecoveryCodeInvalid);
        };
        if let Some(code) = &code
            && !code.matches(
                self.secret_key.expose_secret(),
                &attempt.id.to_string(),
                &attempt.code_hash,
            )
        {
            let exhausted = attempt.attempts >= MAX_CODE_ATTEMPTS;
            let audit = NewAuditEntry::new(now, Actor::Account(None), AuditAction::RecoveryRejected)
                .target(attempt.account)
                .ip(client.ip_string())
                .detail(serde_json::json!({ "request": attempt.id.to_string(), "attempts": attempt.attempts, "exhausted": exhausted }));
            self.store
                .reject_recovery_attempt(attempt.id, exhausted, now, audit)
                .await?;
            self.store
                .count_throttle_event(&[(ip_key.as_str(), FAILURES_PER_CLIENT)], now)
                .await?;
            return Err(AppError::RecoveryCodeInvalid);
        }
        let hash = self.hasher.hash(&new, self.entropy.as_ref()).await??;
        let to = Email::parse(&attempt.email)
            .map_err(|e| AppError::Unexpected(anyhow::anyhow!("stored e-mail: {e}")))?;
        let account_key = format!("acct:{}", to.key());
        let keys = [account_key.as_str()];
        let done = self
            .with_fresh_reference(|| async {
                let now = self.clock.now();
                let facts = NoticeFacts::PasswordChanged(PasswordChangedFacts {
                    occasion: self.occasion(now, client),
                    via: "password recovery".into(),
                });
                // The store replaces the key with password-changed/<account>/<version>.
                let notice =
                    self.new_notice(Some(attempt.account), &to, String::new(), &facts, None);
                let completion = RecoveryCompletion {
                    request: attempt.id,
                    account: attempt.account,
                    new_hash: &hash,
                    now,
                    clear_throttle_keys: &keys,
                    notice: &notice,
                };
                let audit = NewAuditEntry::new(
                    now,
                    Actor::Account(Some(attempt.account.to_string())),
                    AuditAction::RecoveryCompleted,
                )
                .target(attempt.account)
                .ip(client.ip_string());
                self.store.complete_recovery(&completion, audit).await
            })
            .await;
        match done {
            Ok(_) => {}
            Err(StoreError::Conflict(_)) => return Err(AppError::RecoveryCodeInvalid),
            Err(e) => return Err(e.into()),
        }
        self.forget_sessions_of(attempt.account, None);
        metrics::counter!("gatehouse_recovery_completed_total").increment(1);
        self.wake_outbox();
        Ok(())
    }
}
