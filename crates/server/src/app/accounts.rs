//! Sign-up and password change.

use gatehouse_domain::audit::{Actor, AuditAction, NewAuditEntry};
use gatehouse_domain::{AccountId, Email, LoginPassword, NewPassword};
use gatehouse_store::{Account, NewAccount, PasswordChange, PasswordChanged};

use super::{App, AppError, Authenticated, Client};

impl App {
    /// Creates an account. `Conflict` if the address is taken.
    pub async fn sign_up(
        &self,
        email: &str,
        password: &str,
        client: &Client,
    ) -> Result<Account, AppError> {
        let email = Email::parse(email).map_err(AppError::email)?;
        let password = NewPassword::parse(password, &self.config.password_policy)
            .map_err(|e| AppError::password("password", e))?;
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
        let new = NewPassword::parse(new, &self.config.password_policy)
            .map_err(|e| AppError::password("new_password", e))?;
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
            self.record_failure(&keys, Some(record.account.id), client, "change_password")
                .await?;
            return Err(AppError::WrongCurrentPassword);
        }
        let hash = self.hasher.hash(&new, self.entropy.as_ref()).await??;
        let now = self.clock.now();
        let change = PasswordChange {
            account: who.account,
            expected_version: record.version,
            new_hash: &hash,
            now,
            keep_session: Some(who.session),
            end_other_sessions: !keep_other_sessions,
            end_reason: "password_changed",
        };
        let audit = NewAuditEntry::new(
            now,
            Actor::Account(Some(who.account.to_string())),
            AuditAction::PasswordChanged,
        )
        .target(who.account)
        .ip(client.ip_string());
        let done = self.store.change_password(&change, audit).await?;
        self.forget_sessions_of(who.account, Some(who.session));
        Ok(done)
    }
}
