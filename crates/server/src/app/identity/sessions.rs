//! Log in, authenticate a request, list and end sessions.
//!
//! Login order matters: parse → throttle check (cheap, before argon2) →
//! argon2id verify on the bounded pool (against a dummy hash when there is no
//! account, so both cases cost the same) → breach check of the verified plaintext
//! → session + login event + audit in one transaction → the breached-password
//! hook, if it applies. A failed attempt stores its login event in the
//! transaction that counts the failure; a throttled one (password never
//! checked) stores none.

use std::time::Duration;

use gatehouse_domain::audit::{Actor, AuditAction, NewAuditEntry};
use gatehouse_domain::login_event::EventOutcome;
use gatehouse_domain::throttle::ThrottlePolicy;
use gatehouse_domain::{
    AccountId, CredentialState, Email, LoginPassword, SessionId, SessionState, SessionToken,
    Timestamp, TokenHash,
};
use gatehouse_store::{NewLoginEvent, NewSession, SessionRecord};
use moka::sync::Cache;

use crate::app::{App, AppError, Client};

/// A request's verified identity.
#[derive(Clone, Debug)]
pub struct Authenticated {
    /// The account.
    pub account: AccountId,
    /// Its address.
    pub email: String,
    /// The session used.
    pub session: SessionId,
    /// When that session expires.
    pub expires_at: Timestamp,
}

/// A new session.
#[derive(Debug)]
pub struct LoginOutcome {
    /// The bearer token: shown once, stored only hashed.
    pub token: SessionToken,
    /// Who logged in.
    pub who: Authenticated,
    /// What to ask of the person now (e.g. change a breached password), if anything.
    pub advice: Option<crate::app::PasswordAdvice>,
}

#[derive(Clone, Debug)]
struct CachedSession {
    who: Authenticated,
    token_hash: TokenHash,
    last_seen: Timestamp,
}

/// Sessions this replica checked recently, so a busy client does not cost a
/// database read per request. Entries live `session_cache_seconds`; a
/// revocation made on this replica removes them at once, one made on another
/// replica takes effect here within that time.
pub(crate) struct SessionCache {
    cache: Option<Cache<[u8; 32], CachedSession>>,
}

impl SessionCache {
    pub(crate) fn new(ttl: Duration) -> Self {
        let cache = (!ttl.is_zero()).then(|| {
            Cache::builder()
                .max_capacity(100_000)
                .time_to_live(ttl)
                .support_invalidation_closures()
                .build()
        });
        Self { cache }
    }
}

impl App {
    pub(crate) fn throttle_keys(
        &self,
        email: &Email,
        client: &Client,
    ) -> [(String, ThrottlePolicy); 2] {
        [
            (format!("acct:{}", email.key()), ThrottlePolicy::ACCOUNT),
            (client.throttle_key(), ThrottlePolicy::CLIENT),
        ]
    }

    pub(crate) async fn check_throttle(
        &self,
        keys: &[(String, ThrottlePolicy); 2],
    ) -> Result<(), AppError> {
        let names = [keys[0].0.as_str(), keys[1].0.as_str()];
        let result = self.blocked(&names).await;
        if let Err(AppError::Throttled(_)) = &result {
            metrics::counter!("gatehouse_logins_total", "outcome" => "throttled").increment(1);
        }
        result
    }

    pub(crate) async fn record_failure(
        &self,
        keys: &[(String, ThrottlePolicy); 2],
        account: Option<AccountId>,
        client: &Client,
        during: &str,
        event: Option<&NewLoginEvent>,
    ) -> Result<(), AppError> {
        let now = self.clock.now();
        let mut audit = NewAuditEntry::new(
            now,
            Actor::Account(account.map(|a| a.to_string())),
            AuditAction::LoginFailed,
        )
        .ip(client.ip_string())
        .detail(serde_json::json!({ "during": during, "key": keys[0].0 }));
        if let Some(a) = account {
            audit = audit.target(a);
        }
        let pairs = [
            (keys[0].0.as_str(), keys[0].1),
            (keys[1].0.as_str(), keys[1].1),
        ];
        self.store
            .record_login_failure(&pairs, now, event, audit)
            .await?;
        Ok(())
    }

    /// Waits until `login_failure_floor` has passed since `checking` began: a
    /// failed sign-in's answer then takes the same time whether the account is
    /// unknown, native, or holds an expensive imported hash (only a success,
    /// which needs the password, may come sooner). A check slower than the floor
    /// is logged: the floor should be raised above it.
    async fn failure_floor(&self, checking: std::time::Instant) {
        let floor = self.config.login_failure_floor;
        let took = checking.elapsed();
        if took < floor {
            tokio::time::sleep(floor - took).await;
        } else if !floor.is_zero() {
            metrics::counter!("gatehouse_login_failure_floor_exceeded_total").increment(1);
            tracing::warn!(
                took_ms = took.as_millis() as u64,
                floor_ms = floor.as_millis() as u64,
                "a failed sign-in took longer than login_failure_floor_ms: its timing may tell \
                 that the account exists (an expensive imported hash?); raise the floor"
            );
        }
    }

    /// Checks an e-mail and password and opens a session.
    pub async fn log_in(
        &self,
        email: &str,
        password: &str,
        client: &Client,
    ) -> Result<LoginOutcome, AppError> {
        let email = Email::parse(email).map_err(AppError::email)?;
        let password =
            LoginPassword::parse(password).map_err(|e| AppError::password("password", e))?;
        // Under overload, refuse before the database work: a refused login then
        // costs microseconds, not two queries (BENCHMARKS.md, figure 2).
        self.hasher.refuse_if_saturated()?;
        let keys = self.throttle_keys(&email, client);
        self.check_throttle(&keys).await?;
        let checking = std::time::Instant::now();
        let record = self.store.login_record(&email.key()).await?;
        let verified = self
            .hasher
            .verify(&password, record.as_ref().map(|r| r.hash.as_str()))
            .await?;
        // The login event is built, and stored with the failure or the session,
        // for known and unknown accounts alike: same work, same time (invariant *Same answer for every account*).
        let known = record.as_ref().map(|r| r.account.id);
        let outcome = match (known, verified.matched) {
            (Some(_), true) => EventOutcome::Success,
            (Some(_), false) => EventOutcome::WrongPassword,
            (None, _) => EventOutcome::UnknownAccount,
        };
        let event =
            self.own_login_event(&email, known, outcome, &password, client, self.clock.now());
        let Some(record) = record.filter(|_| verified.matched) else {
            self.record_failure(&keys, None, client, "login", Some(&event))
                .await?;
            metrics::counter!("gatehouse_logins_total", "outcome" => "failed").increment(1);
            self.failure_floor(checking).await;
            return Err(AppError::InvalidCredentials);
        };
        if record.state == CredentialState::ResetRequired {
            // The password was right, so whoever typed it knows it: the event says
            // so (the compromise checks need to see it), but the answer and the
            // throttle must not. A forced reset means someone else may hold this
            // password; telling them it is right would confirm a stolen password
            // for use elsewhere. So it is a failed login like any other: the same
            // answer, the same counted failure (the owner was told by e-mail to
            // choose a new one, and the failure message points to recovery).
            self.record_failure(&keys, None, client, "login", Some(&event))
                .await?;
            metrics::counter!("gatehouse_logins_total", "outcome" => "failed").increment(1);
            self.failure_floor(checking).await;
            return Err(AppError::InvalidCredentials);
        }
        // Only now, with the password proven, and with the plaintext already in hand.
        let breached =
            self.breached_at_login(password.expose(), password.expose_raw_if_different());
        let now = self.clock.now();
        let token = SessionToken::generate(self.entropy.as_ref());
        let id = SessionId::generate(self.entropy.as_ref());
        let new = NewSession {
            id,
            account: record.account.id,
            token_hash: token.hash(),
            created_at: now,
            expires_at: now.plus(self.config.session_policy.lifetime),
            ip: client.ip_string(),
            user_agent: client.user_agent.clone(),
        };
        let audit = NewAuditEntry::new(
            now,
            Actor::Account(Some(record.account.id.to_string())),
            AuditAction::LoginSucceeded,
        )
        .target(record.account.id)
        .ip(client.ip_string())
        .detail(serde_json::json!({ "session": id }));
        self.store
            .create_session(&new, &keys[0].0, Some(&event), audit)
            .await?;
        metrics::counter!("gatehouse_logins_total", "outcome" => "succeeded").increment(1);
        let advice = match breached {
            Some(approx_count) => {
                let login = crate::app::breach::BreachedLogin {
                    account: record.account.id,
                    session: id,
                    approx_count,
                    credential_version: record.version,
                    at: now,
                };
                Some(self.breached_password_in_use(&login, client).await)
            }
            None => None,
        };
        if verified.needs_rehash {
            self.upgrade_hash(record.account.id, &record.hash, password)
                .await;
        }
        Ok(LoginOutcome {
            token,
            who: Authenticated {
                account: record.account.id,
                email: record.account.email,
                session: id,
                expires_at: new.expires_at,
            },
            advice,
        })
    }

    /// Replaces an outdated hash (bcrypt import, older argon2 parameters) with a
    /// current one. Best effort: a busy pool or a lost race only defers it.
    async fn upgrade_hash(&self, account: AccountId, old_hash: &str, password: LoginPassword) {
        let Ok(Ok(new_hash)) = self
            .hasher
            .hash_str(password.expose(), self.entropy.as_ref())
            .await
        else {
            return;
        };
        let audit = NewAuditEntry::new(
            self.clock.now(),
            Actor::System,
            AuditAction::PasswordRehashed,
        )
        .target(account);
        if let Err(e) = self
            .store
            .rehash_credential(account, old_hash, &new_hash, audit)
            .await
        {
            tracing::warn!(error = %e, "could not store an upgraded password hash");
        }
    }

    /// Resolves a bearer token or cookie value to a live session.
    pub async fn authenticate(&self, presented: &str) -> Result<Authenticated, AppError> {
        let token = SessionToken::parse(presented).map_err(|_| AppError::Unauthenticated)?;
        let hash = token.hash();
        let now = self.clock.now();
        let policy = self.config.session_policy;
        if let Some(cache) = &self.sessions.cache
            && let Some(mut hit) = cache.get(&hash.0)
        {
            if hit.token_hash.ct_eq(&hash)
                && policy.is_usable(SessionState::Active, hit.who.expires_at, hit.last_seen, now)
            {
                if policy.should_touch(hit.last_seen, now) {
                    self.store.touch_session(hit.who.session, now).await?;
                    hit.last_seen = now;
                    cache.insert(hash.0, hit.clone());
                }
                return Ok(hit.who);
            }
            cache.invalidate(&hash.0);
            return Err(AppError::Unauthenticated);
        }
        let rec = self
            .store
            .session_by_token(&hash)
            .await?
            .ok_or(AppError::Unauthenticated)?;
        if !rec.token_hash.ct_eq(&hash)
            || !policy.is_usable(rec.state, rec.expires_at, rec.last_seen_at, now)
        {
            return Err(AppError::Unauthenticated);
        }
        let mut last_seen = rec.last_seen_at;
        if policy.should_touch(last_seen, now) {
            self.store.touch_session(rec.id, now).await?;
            last_seen = now;
        }
        let who = Authenticated {
            account: rec.account,
            email: rec.account_email,
            session: rec.id,
            expires_at: rec.expires_at,
        };
        if let Some(cache) = &self.sessions.cache {
            cache.insert(
                hash.0,
                CachedSession {
                    who: who.clone(),
                    token_hash: hash,
                    last_seen,
                },
            );
        }
        Ok(who)
    }

    /// The account's live sessions, most recently used first.
    pub async fn list_sessions(&self, who: &Authenticated) -> Result<Vec<SessionRecord>, AppError> {
        let now = self.clock.now();
        let policy = self.config.session_policy;
        let mut list = self.store.active_sessions(who.account, now).await?;
        list.retain(|s| policy.is_usable(s.state, s.expires_at, s.last_seen_at, now));
        Ok(list)
    }

    /// Ends one of the account's sessions (the current one is logging out).
    pub async fn end_session(
        &self,
        who: &Authenticated,
        session: SessionId,
        client: &Client,
    ) -> Result<(), AppError> {
        let now = self.clock.now();
        let reason = if session == who.session {
            "logout"
        } else {
            "ended_by_user"
        };
        let audit = NewAuditEntry::new(
            now,
            Actor::Account(Some(who.account.to_string())),
            AuditAction::SessionEnded,
        )
        .target(session)
        .ip(client.ip_string())
        .detail(serde_json::json!({ "reason": reason }));
        if !self
            .store
            .end_session(who.account, session, now, reason, audit)
            .await?
        {
            return Err(AppError::NotFound("session"));
        }
        self.forget_session(who.account, session);
        Ok(())
    }

    /// An operator ends one session (any account's), e.g. on a report of a
    /// stolen device: the same end as a sign-out — revoked, its apps owed
    /// their logout tokens and SETs in the same transaction — audited
    /// `session.ended` with the operator as actor and reason
    /// `ended_by_operator`.
    pub async fn operator_end_session(
        &self,
        session: SessionId,
        actor: Actor,
    ) -> Result<SessionRecord, AppError> {
        let record = self
            .store
            .session_by_id(session)
            .await?
            .ok_or(AppError::NotFound("session"))?;
        let now = self.clock.now();
        let reason = "ended_by_operator";
        let audit = NewAuditEntry::new(now, actor, AuditAction::SessionEnded)
            .target(session)
            .detail(serde_json::json!({ "reason": reason, "account": record.account.to_string() }));
        if !self
            .store
            .end_session(record.account, session, now, reason, audit)
            .await?
        {
            return Err(AppError::Conflict("the session has ended already"));
        }
        self.forget_session(record.account, session);
        Ok(record)
    }

    /// Ends every session of the account but the current one. Returns how many.
    pub async fn end_other_sessions(
        &self,
        who: &Authenticated,
        client: &Client,
    ) -> Result<u64, AppError> {
        let now = self.clock.now();
        let audit = NewAuditEntry::new(
            now,
            Actor::Account(Some(who.account.to_string())),
            AuditAction::OtherSessionsEnded,
        )
        .target(who.account)
        .ip(client.ip_string());
        let n = self
            .store
            .end_other_sessions(who.account, Some(who.session), now, "ended_by_user", audit)
            .await?;
        self.forget_sessions_of(who.account, Some(who.session));
        Ok(n)
    }

    fn forget_session(&self, account: AccountId, session: SessionId) {
        if let Some(cache) = &self.sessions.cache {
            let _ = cache.invalidate_entries_if(move |_, v| {
                v.who.account == account && v.who.session == session
            });
        }
        // The apps' grants on that session stop at once too (issue 16).
        self.oidc.live.forget_sessions(account, Some(session), None);
    }

    /// Forgets every cached session of these accounts, and the apps' grants
    /// on them (a campaign's forced resets suspended them): one pass over the
    /// caches per batch, not one per account.
    pub(crate) fn forget_sessions_of_accounts(&self, accounts: &[AccountId]) {
        if accounts.is_empty() {
            return;
        }
        let set: std::sync::Arc<std::collections::HashSet<AccountId>> =
            std::sync::Arc::new(accounts.iter().copied().collect());
        if let Some(cache) = &self.sessions.cache {
            let set = set.clone();
            let _ = cache.invalidate_entries_if(move |_, v| set.contains(&v.who.account));
        }
        self.oidc.live.forget_accounts(set);
    }

    pub(crate) fn forget_sessions_of(&self, account: AccountId, keep: Option<SessionId>) {
        if let Some(cache) = &self.sessions.cache {
            let _ = cache.invalidate_entries_if(move |_, v| {
                v.who.account == account && Some(v.who.session) != keep
            });
        }
        self.oidc.live.forget_sessions(account, None, keep);
    }
}
