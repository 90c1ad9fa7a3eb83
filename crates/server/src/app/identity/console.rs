//! The operator console's sign-in: operators sign in to pages with their
//! e-mail and a password (API keys stay for machines), and get a console
//! session of their own — never an account session.
//!
//! Sessions last at most [`CONSOLE_LIFETIME`] and end after [`CONSOLE_IDLE`]
//! without a request: an unattended console is a risk worth a sign-in.

use std::time::Duration;

use gatehouse_domain::audit::{Actor, AuditAction, NewAuditEntry};
use gatehouse_domain::throttle::ThrottlePolicy;
use gatehouse_domain::{
    Email, LoginPassword, NewPassword, SessionId, SessionToken, Timestamp, console_csrf_token,
};
use gatehouse_store::{Account, NewConsoleSession, Operator};
use secrecy::ExposeSecret;

use crate::app::{App, AppError, Client};

/// A console session ends this long after sign-in, whatever happens.
pub const CONSOLE_LIFETIME: Duration = Duration::from_secs(12 * 3600);
/// … or after this long without a request.
pub const CONSOLE_IDLE: Duration = Duration::from_secs(30 * 60);
/// Activity is written at most this often per session (a page load is not a write).
const TOUCH_EVERY: Duration = Duration::from_secs(60);

/// A new console session: the cookie's token and who it is for.
pub struct ConsoleSignIn {
    /// The secret for the cookie (shown nowhere else, stored hashed).
    pub token: SessionToken,
    /// Who signed in.
    pub operator: Operator,
}

/// A request from a signed-in operator.
#[derive(Clone, Debug)]
pub struct ConsoleOperator {
    /// Who.
    pub operator: Operator,
    /// Their console session.
    pub session: SessionId,
    /// The anti-forgery token every console form must carry.
    pub csrf: String,
}

impl App {
    /// Sets (or replaces) an operator's console password, from the CLI. The
    /// password follows the same policy as accounts' (length, breached-password
    /// refusal). Ends the operator's console sessions.
    pub async fn set_operator_password(
        &self,
        email: &str,
        password: &str,
    ) -> Result<Operator, AppError> {
        let email = Email::parse(email).map_err(AppError::email)?;
        let typed = password;
        let password = NewPassword::parse(password, &self.config.password_policy)
            .map_err(|e| AppError::password("password", e))?;
        self.refuse_breached("password", password.expose(), typed, "operator")?;
        let login = self
            .store
            .operator_login(&email.key())
            .await?
            .ok_or(AppError::NotFound("operator with this e-mail address"))?;
        let hash = self.hasher.hash(&password, self.entropy.as_ref()).await??;
        let now = self.clock.now();
        let audit = NewAuditEntry::new(now, Actor::System, AuditAction::OperatorPasswordSet)
            .target(login.operator.id)
            .detail(serde_json::json!({ "via": "cli" }));
        self.store
            .set_operator_password(login.operator.id, &hash, now, audit)
            .await?;
        Ok(login.operator)
    }

    /// Checks an operator's e-mail and password and opens a console session.
    /// Unknown operators, operators without a password and wrong passwords get
    /// the same answer after the same work; failures count against the same
    /// throttle as account logins (per address and per client network).
    pub async fn console_sign_in(
        &self,
        email: &str,
        password: &str,
        client: &Client,
    ) -> Result<ConsoleSignIn, AppError> {
        let email = Email::parse(email).map_err(AppError::email)?;
        let password =
            LoginPassword::parse(password).map_err(|e| AppError::password("password", e))?;
        let keys = [
            (format!("opr:{}", email.key()), ThrottlePolicy::ACCOUNT),
            (client.throttle_key(), ThrottlePolicy::CLIENT),
        ];
        self.check_throttle(&keys).await?;
        let login = self.store.operator_login(&email.key()).await?;
        let stored = login.as_ref().and_then(|l| l.password_hash.as_deref());
        let verified = self.hasher.verify(&password, stored).await?;
        let Some(login) = login.filter(|l| l.password_hash.is_some() && verified.matched) else {
            self.record_failure(&keys, None, client, "console", None)
                .await?;
            metrics::counter!("gatehouse_console_sign_ins_total", "outcome" => "failed")
                .increment(1);
            return Err(AppError::InvalidCredentials);
        };
        let now = self.clock.now();
        let token = SessionToken::generate(self.entropy.as_ref());
        let id = SessionId::generate(self.entropy.as_ref());
        let new = NewConsoleSession {
            id,
            operator: login.operator.id,
            token_hash: token.hash(),
            created_at: now,
            expires_at: now.plus(CONSOLE_LIFETIME),
            ip: client.ip_string(),
            user_agent: client.user_agent.clone(),
        };
        let audit = NewAuditEntry::new(now, login.operator.actor(), AuditAction::OperatorSignedIn)
            .target(login.operator.id)
            .ip(client.ip_string())
            .detail(serde_json::json!({ "session": id }));
        self.store.create_console_session(&new, audit).await?;
        metrics::counter!("gatehouse_console_sign_ins_total", "outcome" => "succeeded")
            .increment(1);
        Ok(ConsoleSignIn {
            token,
            operator: login.operator,
        })
    }

    /// The operator behind a console cookie, if the session is live.
    pub async fn console_authenticate(&self, presented: &str) -> Result<ConsoleOperator, AppError> {
        let token = SessionToken::parse(presented).map_err(|_| AppError::Unauthenticated)?;
        let hash = token.hash();
        let session = self
            .store
            .console_session(&hash)
            .await?
            .filter(|s| s.token_hash.ct_eq(&hash))
            .ok_or(AppError::Unauthenticated)?;
        let now = self.clock.now();
        if !console_session_live(
            session.ended_at,
            session.expires_at,
            session.last_seen_at,
            now,
        ) {
            return Err(AppError::Unauthenticated);
        }
        if now.since(session.last_seen_at) >= TOUCH_EVERY {
            self.store.touch_console_session(session.id, now).await?;
        }
        Ok(ConsoleOperator {
            csrf: console_csrf_token(self.secret_key.expose_secret(), &session.id.to_string()),
            operator: session.operator,
            session: session.id,
        })
    }

    /// Ends a console session (sign-out).
    pub async fn console_sign_out(
        &self,
        who: &ConsoleOperator,
        client: &Client,
    ) -> Result<(), AppError> {
        let now = self.clock.now();
        let audit = NewAuditEntry::new(now, who.operator.actor(), AuditAction::OperatorSignedOut)
            .target(who.operator.id)
            .ip(client.ip_string())
            .detail(serde_json::json!({ "session": who.session }));
        self.store
            .end_console_session(who.session, now, audit)
            .await?;
        Ok(())
    }

    /// Accounts for the console's search box: by e-mail prefix or exact id.
    pub async fn search_accounts(&self, query: &str) -> Result<Vec<Account>, AppError> {
        let q = query.trim().to_lowercase();
        // A control character names no account (and PostgreSQL refuses a NUL).
        if q.is_empty() || gatehouse_domain::text::has_controls(&q) {
            return Ok(Vec::new());
        }
        Ok(self.store.search_accounts(&q, 50).await?)
    }
}

/// Whether a console session may be used at `now`: not ended, not past its
/// absolute end, not idle too long.
fn console_session_live(
    ended_at: Option<Timestamp>,
    expires_at: Timestamp,
    last_seen_at: Timestamp,
    now: Timestamp,
) -> bool {
    ended_at.is_none() && now < expires_at && now.since(last_seen_at) < CONSOLE_IDLE
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_end_when_ended_expired_or_idle() {
        let t0 = Timestamp::from_millis(1_000_000_000);
        let end = t0.plus(CONSOLE_LIFETIME);
        assert!(console_session_live(None, end, t0, t0));
        assert!(console_session_live(
            None,
            end,
            t0,
            t0.plus(CONSOLE_IDLE - Duration::from_secs(1))
        ));
        assert!(!console_session_live(None, end, t0, t0.plus(CONSOLE_IDLE)));
        assert!(!console_session_live(Some(t0), end, t0, t0));
        let late = end.plus(Duration::from_secs(1));
        assert!(!console_session_live(None, end, late, late));
    }
}
