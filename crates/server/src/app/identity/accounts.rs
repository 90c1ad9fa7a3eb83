//! Sign-up and password change.

use gatehouse_domain::audit::{Actor, AuditAction, NewAuditEntry};
use gatehouse_domain::throttle::ThrottlePolicy;
use gatehouse_domain::{AccountId, Email, LoginPassword, NewPassword};
use gatehouse_store::{Account, NewAccount, PasswordChange, PasswordChanged};

use crate::app::{App, AppError, Authenticated, Client};
use crate::mail::{NoticeFacts, PasswordChangedFacts};

impl App {
    /// Creates an account. `Conflict` if the address is taken.
    pub async fn sign_up(
        &self,
        email: &str,
        password: &str,
        client: &Client,
    ) -> Result<Account, AppError> {
        let email = Email::parse(email).map_err(AppError::email)?;
        let typed = password;
        let password = NewPassword::parse(password, &self.config.password_policy)
            .map_err(|e| AppError::password("password", e))?;
        // Before the rate limit and the hash: a refusal here costs next to nothing.
        self.refuse_breached("password", password.expose(), typed, "signup")?;
        // Every sign-up costs a hash from the pool logins share: limit them per network.
        let key = format!("signup:{}", client.throttle_key());
        self.rate_limit(&key, ThrottlePolicy::SIGNUP).await?;
        let hash = self.hasher.hash(&password, self.entropy.as_ref()).await??;
        let now = self.clock.now();
        let id = AccountId::generate(self.entropy.as_ref());
        let new = NewAccount {
            id,
            email: email.as_str().to_owned(),
            email_key: email.key(),
            created_at: now,
            password_hash: hash,
        };
        let audit = NewAuditEntry::new(
            now,
            Actor::Account(Some(id.to_string())),
            AuditAction::AccountCreated,
        )
        .target(id)
        .ip(client.ip_string());
        let account = self.store.create_account(&new, audit).await?;
        metrics::counter!("gatehouse_signups_total").increment(1);
        Ok(account)
    }

    /// Changes the signed-in person's password after checking the current one.
    /// Ends every other session unless `keep_other_sessions`.
    pub async fn change_password(
        &self,
        who: &Authenticated,
        current: &str,
        new: &str,
        keep_other_sessions: bool,
        client: &Client,
    ) -> Result<PasswordChanged, AppError> {
        let current =
            LoginPassword::parse(current).map_err(|e| AppError::password("current_password", e))?;
        let typed = new;
        let new = NewPassword::parse(new, &self.config.password_policy)
            .map_err(|e| AppError::password("new_password", e))?;
        // Before verifying the current password: no argon2 work for a password that
        // would be refused anyway. (Whether a password is breached is public
        // knowledge, so answering it first tells a session thief nothing.)
        self.refuse_breached("new_password", new.expose(), typed, "change")?;
        let email = Email::parse(&who.email)
            .map_err(|e| AppError::Unexpected(anyhow::anyhow!("stored e-mail: {e}")))?;
        // Someone holding a stolen session must not get unlimited guesses at
        // the current password: the account's login throttle applies here too.
        let keys = self.throttle_keys(&email, client);
        self.check_throttle(&keys).await?;
        let record = self
            .store
            .login_record(&email.key())
            .await?
            .ok_or(AppError::Unauthenticated)?;
        let verified = self.hasher.verify(&current, Some(&record.hash)).await?;
        if !verified.matched {
            self.record_failure(
                &keys,
                Some(record.account.id),
                client,
                "change_password",
                None,
            )
            .await?;
            return Err(AppError::WrongCurrentPassword);
        }
        let hash = self.hasher.hash(&new, self.entropy.as_ref()).await??;
        let to = Email::parse(&record.account.email).unwrap_or(email);
        let done = self
            .with_fresh_reference(|| async {
                let now = self.clock.now();
                let facts = NoticeFacts::PasswordChanged(PasswordChangedFacts {
                    occasion: self.occasion(now, client),
                    via: "your account settings".into(),
                });
                // The store sets the key to password-changed/<account>/<version>.
                let notice = self.new_notice(Some(who.account), &to, String::new(), &facts, None);
                let change = PasswordChange {
                    account: who.account,
                    expected_version: record.version,
                    new_hash: &hash,
                    now,
                    keep_session: Some(who.session),
                    end_other_sessions: !keep_other_sessions,
                    end_reason: "password_changed",
                    notice: Some(&notice),
                };
                let audit = NewAuditEntry::new(
                    now,
                    Actor::Account(Some(who.account.to_string())),
                    AuditAction::PasswordChanged,
                )
                .target(who.account)
                .ip(client.ip_string());
                self.store.change_password(&change, audit).await
            })
            .await?;
        self.forget_sessions_of(who.account, Some(who.session));
        self.wake_outbox();
        Ok(done)
    }
}

impl App {
    /// An account named by id or e-mail address (`NotFound` if neither names one).
    pub async fn find_account_ref(&self, reference: &str) -> Result<AccountId, AppError> {
        if let Ok(id) = reference.parse::<AccountId>() {
            return Ok(id);
        }
        let email = Email::parse(reference).map_err(|e| AppError::Invalid {
            field: "account",
            message: format!("must be an account id or an e-mail address: {e}"),
        })?;
        self.store
            .login_record(&email.key())
            .await?
            .map(|r| r.account.id)
            .ok_or(AppError::NotFound("account"))
    }
}
