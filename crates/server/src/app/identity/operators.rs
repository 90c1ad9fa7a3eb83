//! Operators: created from the CLI, authenticated by API key; their keys'
//! life cycle (rotate, revoke, expiry, last use) and disabling, from the CLI,
//! the admin API and the console alike.

use std::time::Duration;

use gatehouse_domain::audit::{Actor, AuditAction, NewAuditEntry};
use gatehouse_domain::{ApiKey, Email, OperatorId, Timestamp};
use gatehouse_store::{KeyHolder, NewOperator, Operator, OperatorOverview};
use moka::sync::Cache;
use serde::Serialize;
use utoipa::ToSchema;

use crate::app::{App, AppError};

/// Operator keys this replica checked recently, keyed by the key's SHA-256, so a
/// service calling an operator route at a high rate (`/api/v1/breach/check`) does
/// not cost a database read per request. Same lifetime as the session cache
/// (`session_cache_seconds`): a key disabled on another replica stops working here
/// within that time. Only valid keys are kept; a wrong key always goes to the store.
pub(crate) struct OperatorCache {
    cache: Option<Cache<[u8; 32], KeyHolder>>,
}

impl OperatorCache {
    pub(crate) fn new(ttl: Duration) -> Self {
        let cache = (!ttl.is_zero()).then(|| {
            Cache::builder()
                .max_capacity(1_000)
                .time_to_live(ttl)
                .build()
        });
        Self { cache }
    }

    /// Forgets every key, after a change to any operator or key here (other
    /// replicas follow within the cache's lifetime).
    fn forget(&self) {
        if let Some(c) = &self.cache {
            c.invalidate_all();
        }
    }
}

/// A key's last use is written at most this often (a busy key must not cost a
/// write per request; "last used" to the minute is what people need).
const TOUCH_EVERY: Duration = Duration::from_secs(60);

/// The shortest and longest lifetime a key may be given.
pub const KEY_LIFETIME_MIN: Duration = Duration::from_secs(60);
/// See [`KEY_LIFETIME_MIN`].
pub const KEY_LIFETIME_MAX: Duration = Duration::from_secs(3650 * 86_400);

/// Where an operator's key stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum KeyState {
    /// It works (if the operator is enabled).
    Active,
    /// Revoked: no key works until the next rotation.
    Revoked,
    /// Past its expiry.
    Expired,
}

impl KeyState {
    /// The key's state at `now`.
    pub fn of(o: &OperatorOverview, now: Timestamp) -> Self {
        if o.key_revoked_at.is_some() {
            Self::Revoked
        } else if o.key_expires_at.is_some_and(|t| t <= now) {
            Self::Expired
        } else {
            Self::Active
        }
    }

    /// Stable text form (as in the JSON).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Revoked => "revoked",
            Self::Expired => "expired",
        }
    }
}

/// An operator and their key, as the admin API and the CLI show them
/// (times as RFC 3339, `null` for never).
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct OperatorView {
    /// The operator's id.
    pub id: String,
    /// Their e-mail address.
    pub email: String,
    /// Created at.
    pub created_at: String,
    /// Whether they may use their key and the console.
    pub enabled: bool,
    /// When they were disabled, or null.
    pub disabled_at: Option<String>,
    /// Where their key stands.
    pub key_state: KeyState,
    /// When the current key was made (created or rotated).
    pub key_created_at: Option<String>,
    /// When it stops working by itself, or null for never.
    pub key_expires_at: Option<String>,
    /// When it was revoked, or null.
    pub key_revoked_at: Option<String>,
    /// When it was last used (to the minute), or null for never.
    pub key_last_used_at: Option<String>,
    /// Whether they have a console password.
    pub console_password: bool,
}

impl OperatorView {
    /// The view of `o` at `now`.
    pub fn new(o: &OperatorOverview, now: Timestamp) -> Self {
        let text = |t: Option<Timestamp>| t.map(Timestamp::to_rfc3339);
        Self {
            id: o.operator.id.to_string(),
            email: o.operator.email.clone(),
            created_at: o.operator.created_at.to_rfc3339(),
            enabled: o.disabled_at.is_none(),
            disabled_at: text(o.disabled_at),
            key_state: KeyState::of(o, now),
            key_created_at: text(o.key_created_at),
            key_expires_at: text(o.key_expires_at),
            key_revoked_at: text(o.key_revoked_at),
            key_last_used_at: text(o.key_last_used_at),
            console_password: o.console_password,
        }
    }
}

/// A new key, shown once.
pub struct RotatedKey {
    /// Whose key it is.
    pub operator: Operator,
    /// The key (shown once, stored only hashed).
    pub key: ApiKey,
    /// When it stops working by itself, if ever.
    pub expires_at: Option<Timestamp>,
}

impl App {
    /// Creates an operator and returns the API key, which is shown once and stored only hashed.
    pub async fn create_operator(&self, email: &str) -> Result<(Operator, ApiKey), AppError> {
        self.create_operator_with_expiry(email, None)
            .await
            .map(|(op, key, _)| (op, key))
    }

    /// [`App::create_operator`] with an optional key lifetime (`--expires-in`).
    pub async fn create_operator_with_expiry(
        &self,
        email: &str,
        expires_in: Option<Duration>,
    ) -> Result<(Operator, ApiKey, Option<Timestamp>), AppError> {
        let email = Email::parse(email).map_err(AppError::email)?;
        let key = ApiKey::generate(self.entropy.as_ref());
        let now = self.clock.now();
        let expires_at = key_expiry(now, expires_in)?;
        let id = OperatorId::generate(self.entropy.as_ref());
        let new = NewOperator {
            id,
            email: email.as_str().to_owned(),
            email_key: email.key(),
            key_hash: key.hash(),
            key_expires_at: expires_at,
            created_at: now,
        };
        let audit = NewAuditEntry::new(now, Actor::System, AuditAction::OperatorCreated)
            .target(id)
            .detail(serde_json::json!({
                "email": email.as_str(),
                "via": "cli",
                "key_expires_at": expires_at.map(Timestamp::to_rfc3339),
            }));
        let op = self.store.create_operator(&new, audit).await?;
        Ok((op, key, expires_at))
    }

    /// The operator holding `presented`, if it is a valid, enabled key.
    pub async fn authenticate_operator(&self, presented: &str) -> Result<Operator, AppError> {
        let key = ApiKey::parse(presented).map_err(|_| AppError::Unauthenticated)?;
        let hash = key.hash();
        // The cache key is the SHA-256 of a 256-bit random key: looking it up in a
        // hash map reveals nothing useful about the key through timing.
        let now = self.clock.now();
        let live = |h: &KeyHolder| h.expires_at.is_none_or(|t| now < t);
        if let Some(hit) = self.operators.cache.as_ref().and_then(|c| c.get(&hash.0)) {
            return if live(&hit) {
                Ok(hit.operator)
            } else {
                Err(AppError::Unauthenticated)
            };
        }
        let holder = self
            .store
            .operator_key_holder(&hash)
            .await?
            .filter(live)
            .ok_or(AppError::Unauthenticated)?;
        // Last use, to the minute: a write only when the recorded one is older.
        if holder
            .last_used_at
            .is_none_or(|t| now.since(t) >= TOUCH_EVERY)
        {
            self.store
                .touch_operator_key(holder.operator.id, now, now.minus(TOUCH_EVERY))
                .await?;
        }
        if let Some(cache) = &self.operators.cache {
            cache.insert(hash.0, holder.clone());
        }
        Ok(holder.operator)
    }

    /// Every operator with their key's life cycle, by e-mail.
    pub async fn operators_overview(&self) -> Result<Vec<OperatorOverview>, AppError> {
        Ok(self.store.operators_overview().await?)
    }

    /// The operator named by `who`: their id or e-mail address (disabled ones too).
    pub async fn find_operator(&self, who: &str) -> Result<OperatorOverview, AppError> {
        let who = who.trim();
        let key = Email::parse(who).ok().map(|e| e.key());
        self.store
            .operators_overview()
            .await?
            .into_iter()
            .find(|o| {
                o.operator.id.to_string() == who
                    || key.as_deref() == Some(o.operator.email.to_lowercase().as_str())
            })
            .ok_or(AppError::NotFound("operator"))
    }

    /// Replaces the key of the operator named by `who` (id or e-mail): the new
    /// key is returned once, the old one stops working at once (on other
    /// replicas within `session_cache_seconds`). Audited as `actor`.
    pub async fn rotate_operator_key(
        &self,
        who: &str,
        expires_in: Option<Duration>,
        actor: Actor,
        via: &str,
    ) -> Result<RotatedKey, AppError> {
        let target = self.find_operator(who).await?;
        if target.disabled_at.is_some() {
            return Err(AppError::Conflict(
                "this operator is disabled: enable them first, then rotate their key",
            ));
        }
        let now = self.clock.now();
        let expires_at = key_expiry(now, expires_in)?;
        let key = ApiKey::generate(self.entropy.as_ref());
        let audit = NewAuditEntry::new(now, actor, AuditAction::OperatorKeyRotated)
            .target(target.operator.id)
            .detail(serde_json::json!({
                "via": via,
                "key_expires_at": expires_at.map(Timestamp::to_rfc3339),
            }));
        self.store
            .rotate_operator_key(target.operator.id, &key.hash(), expires_at, now, audit)
            .await?;
        self.operators.forget();
        Ok(RotatedKey {
            operator: target.operator,
            key,
            expires_at,
        })
    }

    /// Revokes the key of the operator named by `who`: no key of theirs works
    /// until the next rotation (their console password still does). `false`
    /// if it was revoked already. Audited as `actor`.
    pub async fn revoke_operator_key(
        &self,
        who: &str,
        actor: Actor,
        via: &str,
    ) -> Result<bool, AppError> {
        let target = self.find_operator(who).await?;
        refuse_self_lockout(
            &actor,
            &target,
            "you cannot revoke your own key: rotate it to replace it, or ask another operator",
        )?;
        let now = self.clock.now();
        let audit = NewAuditEntry::new(now, actor, AuditAction::OperatorKeyRevoked)
            .target(target.operator.id)
            .detail(serde_json::json!({ "via": via }));
        let changed = self
            .store
            .revoke_operator_key(target.operator.id, now, audit)
            .await?;
        self.operators.forget();
        Ok(changed)
    }

    /// Disables (`enabled: false`) or enables the operator named by `who`.
    /// Disabled, their key and console sign-in are refused and their console
    /// sessions end; the last enabled operator cannot be disabled (409).
    /// `false` if they were so already. Audited as `actor`.
    pub async fn set_operator_enabled(
        &self,
        who: &str,
        enabled: bool,
        actor: Actor,
        via: &str,
    ) -> Result<bool, AppError> {
        let target = self.find_operator(who).await?;
        if !enabled {
            refuse_self_lockout(
                &actor,
                &target,
                "you cannot disable yourself: ask another operator",
            )?;
        }
        let now = self.clock.now();
        let action = if enabled {
            AuditAction::OperatorEnabled
        } else {
            AuditAction::OperatorDisabled
        };
        let audit = NewAuditEntry::new(now, actor, action)
            .target(target.operator.id)
            .detail(serde_json::json!({ "via": via }));
        let changed = self
            .store
            .set_operator_disabled(target.operator.id, (!enabled).then_some(now), audit)
            .await?;
        self.operators.forget();
        Ok(changed)
    }
}

/// An operator acting on their own account may replace their key (rotate) but
/// not lock themselves out: a leaked key is rotated, and revoking or disabling
/// someone is a second operator's act, as it would be for anyone else. (The
/// CLI acts as the system, on the server's own host.)
fn refuse_self_lockout(
    actor: &Actor,
    target: &OperatorOverview,
    what: &'static str,
) -> Result<(), AppError> {
    match actor {
        Actor::Operator(id) if *id == target.operator.id.to_string() => {
            Err(AppError::Conflict(what))
        }
        _ => Ok(()),
    }
}

/// When a key made at `now` with this lifetime expires; a lifetime outside
/// [`KEY_LIFETIME_MIN`]..=[`KEY_LIFETIME_MAX`] is refused.
fn key_expiry(now: Timestamp, lifetime: Option<Duration>) -> Result<Option<Timestamp>, AppError> {
    match lifetime {
        None => Ok(None),
        Some(d) if (KEY_LIFETIME_MIN..=KEY_LIFETIME_MAX).contains(&d) => Ok(Some(now.plus(d))),
        Some(_) => Err(AppError::Invalid {
            field: "expires_in",
            message: "a key's lifetime must be between 1 minute and 3650 days".into(),
        }),
    }
}
