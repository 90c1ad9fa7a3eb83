//! OpenID Shared Signals Framework 1.0 transmitter (issue 17, part 2): the
//! transmitter metadata, stream management for receivers (registered OIDC
//! clients, authenticated with their secret), and the Security Event Tokens
//! (RFC 8417) the app-delivery outbox carries to each stream.
//!
//! SET rows are written by the store in the transactions that end sessions or
//! change credentials (see `gatehouse_store::SsfStore`); like logout tokens,
//! a row holds facts (event type, subject, time, reason), the `jti` fixed in
//! the row. The SET is signed once, ahead of delivery, and stored in the row
//! (`set_tokens.rs`); an attempt that finds no token, or one whose key is no
//! longer published, signs it then with the key that signs now.
//!
//! **Which events, when** (each only to streams that requested it and that
//! cover the subject: the stream's client holds a grant of the account — or,
//! for `session-revoked`, of that session — or the receiver added the
//! subject):
//! - CAEP `session-revoked`: every session end (sign-out, ending others, a
//!   password change ending others, recovery, an operator ending one, a
//!   forced reset suspending them), one per (stream, session).
//! - RISC `sessions-revoked`: all of an account's sessions ended (recovery,
//!   a forced reset, signing out everywhere).
//! - RISC `account-credential-change-required`: a forced reset.
//! - CAEP `credential-change` (`password`, `update`): a password change or
//!   recovery — and an **undo** of a forced reset, with `initiating_entity:
//!   admin` and a `reason_admin` saying the prior password works again. RISC
//!   has no event that withdraws `account-credential-change-required`, and
//!   CAEP's `credential-change` is what tells a receiver "the credential is
//!   not what you last heard: re-evaluate"; the sessions the undo
//!   reinstates are Gatehouse's own, the receiver's ended sessions stay
//!   ended (the person signs in again, silently while the Gatehouse session
//!   is live), so no session event is sent for them.

use gatehouse_domain::{AccountId, Email};
use gatehouse_store::{AppDelivery, StreamRecord, StreamStatus, set_event};
use serde::{Deserialize, Serialize};

use super::jwt;
use super::{ClientCredentials, OAuthError};
use crate::app::{App, AppError};

/// The JWT `typ` of a SET (RFC 8417 §2.3).
pub const SET_TYP: &str = "secevent+jwt";
/// Push delivery (RFC 8935), SSF's delivery method URN.
pub const PUSH_METHOD: &str = "urn:ietf:rfc:8935";
/// How receivers authenticate (SSF §7.1 `authorization_schemes`): OAuth 2.0
/// client authentication (RFC 6749 §2.3.1, `client_secret_basic`).
pub const AUTH_SCHEME: &str = "urn:ietf:rfc:6749";

/// A refusal of a stream-management request, with its HTTP status (SSF
/// §8.1: 400, 401, 404, 409), answered in the OAuth error shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SsfError {
    /// HTTP status.
    pub status: u16,
    /// `invalid_request`, `invalid_client`, `not_found`, `conflict`, `server_error`.
    pub code: &'static str,
    /// What went wrong.
    pub description: String,
}

impl SsfError {
    fn new(status: u16, code: &'static str, d: impl Into<String>) -> Self {
        Self {
            status,
            code,
            description: d.into(),
        }
    }
    fn invalid(d: impl Into<String>) -> Self {
        Self::new(400, "invalid_request", d)
    }
    fn not_found() -> Self {
        Self::new(404, "not_found", "no such stream for this receiver")
    }
}

impl From<OAuthError> for SsfError {
    fn from(e: OAuthError) -> Self {
        Self::new(e.status(), e.code, e.description)
    }
}

impl From<AppError> for SsfError {
    fn from(e: AppError) -> Self {
        match e {
            AppError::Conflict(what) => Self::new(409, "conflict", what),
            AppError::NotFound(_) => Self::not_found(),
            AppError::Invalid { field, message } => Self::invalid(format!("{field}: {message}")),
            AppError::InvalidRequest(m) => Self::invalid(m),
            other => OAuthError::from(other).into(),
        }
    }
}

/// A stream's delivery (SSF §8.1.1).
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Delivery {
    /// `urn:ietf:rfc:8935` (push) — the only method offered.
    pub method: String,
    /// Where SETs are POSTed: `https`, or `http` on a loopback host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint_url: Option<String>,
    /// Sent as the `Authorization` header of each push, if given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_header: Option<String>,
}

/// A stream's configuration as a receiver sends it (create, update, replace).
#[derive(Clone, Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct StreamRequest {
    /// The stream (update, replace).
    pub stream_id: Option<String>,
    /// How SETs are delivered.
    pub delivery: Option<Delivery>,
    /// Event type URIs wanted; delivered: those ∩ `events_supported`.
    pub events_requested: Option<Vec<String>>,
    /// Free text.
    pub description: Option<String>,
}

/// A stream's configuration (SSF §8.1.1).
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct StreamConfig {
    /// The stream.
    pub stream_id: String,
    /// The transmitter (`public_url`).
    pub iss: String,
    /// The receiver: its client id, the SETs' `aud`.
    pub aud: String,
    /// How SETs are delivered (the header is not shown back).
    pub delivery: Delivery,
    /// Every event type Gatehouse transmits.
    pub events_supported: Vec<String>,
    /// What the receiver asked for.
    pub events_requested: Vec<String>,
    /// What it gets.
    pub events_delivered: Vec<String>,
    /// The receiver's description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// A stream's status (SSF §8.1.2).
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StreamStatusBody {
    /// The stream.
    pub stream_id: String,
    /// `enabled`, `paused` or `disabled`.
    #[schema(pattern = "^(enabled|paused|disabled)$")]
    pub status: String,
    /// Why (free text).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Add or remove a subject (SSF §8.1.3).
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
pub struct SubjectRequest {
    /// The stream.
    pub stream_id: String,
    /// RFC 9493: `{"format": "email", "email": …}` or `{"format": "iss_sub", "iss": …, "sub": …}`.
    #[schema(value_type = Object)]
    pub subject: serde_json::Value,
    /// Whether the receiver verified the subject (recorded as given; ignored).
    pub verified: Option<bool>,
}

/// Ask for a verification event (SSF §8.1.4.2).
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
pub struct VerifyRequest {
    /// The stream.
    pub stream_id: String,
    /// Echoed in the verification event.
    pub state: Option<String>,
}

fn to_config(app: &App, s: &StreamRecord) -> StreamConfig {
    StreamConfig {
        stream_id: s.id.clone(),
        iss: app.oidc_issuer(),
        aud: s.client_id.clone(),
        delivery: Delivery {
            method: PUSH_METHOD.to_owned(),
            endpoint_url: Some(s.endpoint_url.clone()),
            authorization_header: None,
        },
        events_supported: set_event::SUPPORTED.map(str::to_owned).to_vec(),
        events_requested: s.requested.clone(),
        events_delivered: s.events.clone(),
        description: s.description.clone(),
    }
}

/// The delivery of a request, checked: push only, its endpoint URL checked
/// like a back-channel logout URI (absolute, `https` or loopback `http`, no
/// fragment) for the same reason: SETs are bearer facts about people.
fn checked_delivery(d: &Delivery) -> Result<(String, Option<String>), SsfError> {
    if d.method != PUSH_METHOD {
        return Err(SsfError::invalid(format!(
            "delivery.method must be {PUSH_METHOD} (push); {:?} is not offered",
            d.method
        )));
    }
    let url = d
        .endpoint_url
        .as_deref()
        .ok_or_else(|| SsfError::invalid("delivery.endpoint_url is required for push"))?;
    let url = super::check_backchannel_logout_uri(url).map_err(|e| match e {
        AppError::Invalid { message, .. } => {
            SsfError::invalid(format!("delivery.endpoint_url: {message}"))
        }
        other => other.into(),
    })?;
    if let Some(h) = &d.authorization_header
        && (h.is_empty() || h.len() > 4096 || h.chars().any(|c| c.is_control()))
    {
        return Err(SsfError::invalid(
            "delivery.authorization_header must be 1 to 4096 characters, none a control character",
        ));
    }
    Ok((url, d.authorization_header.clone()))
}

/// requested ∩ supported, sorted and without repeats.
fn delivered(requested: &[String]) -> Vec<String> {
    let mut out: Vec<String> = set_event::SUPPORTED
        .iter()
        .filter(|s| requested.iter().any(|r| r == *s))
        .map(|s| (*s).to_owned())
        .collect();
    out.sort();
    out
}

fn check_requested(requested: &[String]) -> Result<(), SsfError> {
    if requested.len() > 64 || requested.iter().any(|r| r.len() > 512) {
        return Err(SsfError::invalid(
            "events_requested: at most 64 URIs of at most 512 characters",
        ));
    }
    Ok(())
}

fn check_description(d: &Option<String>) -> Result<(), SsfError> {
    if d.as_ref().is_some_and(|d| d.chars().count() > 500) {
        return Err(SsfError::invalid("description: at most 500 characters"));
    }
    Ok(())
}

impl App {
    /// The transmitter configuration metadata (SSF §7.1),
    /// `/.well-known/ssf-configuration`.
    pub fn ssf_configuration(&self) -> serde_json::Value {
        let iss = self.oidc_issuer();
        serde_json::json!({
            "spec_version": "1_0",
            "issuer": iss,
            "jwks_uri": format!("{iss}/oauth2/jwks"),
            "delivery_methods_supported": [PUSH_METHOD],
            "configuration_endpoint": format!("{iss}/ssf/streams"),
            "status_endpoint": format!("{iss}/ssf/status"),
            "add_subject_endpoint": format!("{iss}/ssf/subjects:add"),
            "remove_subject_endpoint": format!("{iss}/ssf/subjects:remove"),
            "verification_endpoint": format!("{iss}/ssf/verify"),
            "authorization_schemes": [{ "spec_urn": AUTH_SCHEME }],
        })
    }

    /// The receiver behind a stream-management request: a registered,
    /// enabled, confidential OIDC client presenting its secret.
    pub async fn ssf_receiver(&self, creds: &ClientCredentials) -> Result<String, SsfError> {
        Ok(self.oidc_authenticate_client(creds, false).await?.id)
    }

    async fn own_stream(&self, client: &str, id: &str) -> Result<StreamRecord, SsfError> {
        self.store
            .stream(id)
            .await
            .map_err(AppError::from)?
            .filter(|s| s.client_id == client)
            .ok_or_else(SsfError::not_found)
    }

    /// Creates the receiver's stream (one per receiver), enabled.
    pub async fn ssf_create_stream(
        &self,
        client: &str,
        req: &StreamRequest,
    ) -> Result<StreamConfig, SsfError> {
        let delivery = req
            .delivery
            .as_ref()
            .ok_or_else(|| SsfError::invalid("delivery is required"))?;
        let (url, auth) = checked_delivery(delivery)?;
        let requested = req.events_requested.clone().unwrap_or_default();
        check_requested(&requested)?;
        check_description(&req.description)?;
        let mut id = [0u8; 16];
        self.entropy.fill(&mut id);
        let now = self.clock.now();
        let s = StreamRecord {
            id: hex::encode(id),
            client_id: client.to_owned(),
            endpoint_url: url,
            authorization_header: auth,
            description: req.description.clone(),
            status: StreamStatus::Enabled,
            status_reason: None,
            events: delivered(&requested),
            requested,
            created_at: now,
            updated_at: now,
        };
        self.store.create_stream(&s).await.map_err(AppError::from)?;
        Ok(to_config(self, &s))
    }

    /// The receiver's streams (`stream_id` given: that one, or 404).
    pub async fn ssf_streams(
        &self,
        client: &str,
        id: Option<&str>,
    ) -> Result<Vec<StreamConfig>, SsfError> {
        let found = match id {
            Some(id) => Some(self.own_stream(client, id).await?),
            None => self
                .store
                .stream_of_client(client)
                .await
                .map_err(AppError::from)?,
        };
        Ok(found.iter().map(|s| to_config(self, s)).collect())
    }

    /// Updates (PATCH: the fields given) or replaces (PUT: every field,
    /// absent ones emptied) the receiver's stream.
    pub async fn ssf_update_stream(
        &self,
        client: &str,
        req: &StreamRequest,
        replace: bool,
    ) -> Result<StreamConfig, SsfError> {
        let id = req
            .stream_id
            .as_deref()
            .ok_or_else(|| SsfError::invalid("stream_id is required"))?;
        let mut s = self.own_stream(client, id).await?;
        match (&req.delivery, replace) {
            (Some(d), _) => {
                let (url, auth) = checked_delivery(d)?;
                s.endpoint_url = url;
                s.authorization_header = auth;
            }
            (None, true) => return Err(SsfError::invalid("delivery is required")),
            (None, false) => {}
        }
        if let Some(r) = &req.events_requested {
            check_requested(r)?;
            s.requested = r.clone();
        } else if replace {
            s.requested = Vec::new();
        }
        s.events = delivered(&s.requested);
        if req.description.is_some() || replace {
            check_description(&req.description)?;
            s.description = req.description.clone();
        }
        s.updated_at = self.clock.now();
        if !self.store.update_stream(&s).await.map_err(AppError::from)? {
            return Err(SsfError::not_found());
        }
        Ok(to_config(self, &s))
    }

    /// Deletes the receiver's stream; its SETs not sent yet are dropped.
    pub async fn ssf_delete_stream(&self, client: &str, id: &str) -> Result<(), SsfError> {
        self.own_stream(client, id).await?;
        self.store.delete_stream(id).await.map_err(AppError::from)?;
        Ok(())
    }

    /// A stream's status.
    pub async fn ssf_status(&self, client: &str, id: &str) -> Result<StreamStatusBody, SsfError> {
        let s = self.own_stream(client, id).await?;
        Ok(StreamStatusBody {
            stream_id: s.id,
            status: s.status.as_str().to_owned(),
            reason: s.status_reason,
        })
    }

    /// Sets a stream's status: `paused` holds its SETs (written, sent when
    /// enabled again), `disabled` writes none and drops those not sent.
    pub async fn ssf_set_status(
        &self,
        client: &str,
        req: &StreamStatusBody,
    ) -> Result<StreamStatusBody, SsfError> {
        self.own_stream(client, &req.stream_id).await?;
        let status: StreamStatus = req.status.parse().map_err(SsfError::invalid)?;
        if req.reason.as_ref().is_some_and(|r| r.chars().count() > 500) {
            return Err(SsfError::invalid("reason: at most 500 characters"));
        }
        self.store
            .set_stream_status(
                &req.stream_id,
                status,
                req.reason.as_deref(),
                self.clock.now(),
            )
            .await
            .map_err(AppError::from)?;
        // Paused rows are due again at once: the sender picks them up.
        self.ssf_status(client, &req.stream_id).await
    }

    /// The account an RFC 9493 subject names: `email` (by address) or
    /// `iss_sub` (our issuer, `sub` = the account id, as in ID tokens).
    /// `Ok(None)`: well formed, but no such account.
    async fn subject_account(
        &self,
        subject: &serde_json::Value,
    ) -> Result<(Option<AccountId>, &'static str), SsfError> {
        let field = |k: &str| subject.get(k).and_then(|v| v.as_str());
        match field("format") {
            Some("email") => {
                let email = Email::parse(field("email").unwrap_or_default())
                    .map_err(|e| SsfError::invalid(format!("subject.email: {e}")))?;
                let found = self
                    .store
                    .login_record(&email.key())
                    .await
                    .map_err(AppError::from)?;
                Ok((found.map(|r| r.account.id), "email"))
            }
            Some("iss_sub") => {
                if field("iss") != Some(self.oidc_issuer().as_str()) {
                    return Err(SsfError::invalid(format!(
                        "subject.iss must be {}",
                        self.oidc_issuer()
                    )));
                }
                let Some(sub) = field("sub").and_then(|s| s.parse::<AccountId>().ok()) else {
                    return Ok((None, "iss_sub"));
                };
                let found = self.store.account(sub).await.map_err(AppError::from)?;
                Ok((found.map(|a| a.id), "iss_sub"))
            }
            _ => Err(SsfError::invalid(
                "subject.format must be \"email\" or \"iss_sub\" (RFC 9493)",
            )),
        }
    }

    /// Adds a subject to the stream. A subject naming no account is accepted
    /// and ignored, so the endpoint does not tell which addresses have one.
    pub async fn ssf_add_subject(
        &self,
        client: &str,
        req: &SubjectRequest,
    ) -> Result<(), SsfError> {
        self.own_stream(client, &req.stream_id).await?;
        if let (Some(account), format) = self.subject_account(&req.subject).await? {
            self.store
                .add_stream_subject(&req.stream_id, account, format, self.clock.now())
                .await
                .map_err(AppError::from)?;
        }
        Ok(())
    }

    /// Removes a subject from the stream (the stream still covers the
    /// accounts its client holds grants of).
    pub async fn ssf_remove_subject(
        &self,
        client: &str,
        req: &SubjectRequest,
    ) -> Result<(), SsfError> {
        self.own_stream(client, &req.stream_id).await?;
        if let (Some(account), _) = self.subject_account(&req.subject).await? {
            self.store
                .remove_stream_subject(&req.stream_id, account)
                .await
                .map_err(AppError::from)?;
        }
        Ok(())
    }

    /// Queues a verification event for the stream (SSF §8.1.4.2), through
    /// the outbox like every SET.
    pub async fn ssf_verify(&self, client: &str, req: &VerifyRequest) -> Result<(), SsfError> {
        let s = self.own_stream(client, &req.stream_id).await?;
        if s.status == StreamStatus::Disabled {
            return Err(SsfError::new(409, "conflict", "the stream is disabled"));
        }
        if req.state.as_ref().is_some_and(|st| st.len() > 1024) {
            return Err(SsfError::invalid("state: at most 1024 characters"));
        }
        let mut id = [0u8; 16];
        self.entropy.fill(&mut id);
        let event = match &req.state {
            Some(state) => serde_json::json!({ "state": state }),
            None => serde_json::json!({}),
        };
        self.store
            .owe_verification(
                &s.id,
                &format!("set.{}.verify.{}", s.id, hex::encode(id)),
                &event,
                self.clock.now(),
            )
            .await
            .map_err(AppError::from)?;
        Ok(())
    }

    /// The SET of a delivery, signed now: `iss`, `jti`, `iat`, `aud`,
    /// `sub_id` (RFC 9493) and `events` with the one event (RFC 8417 §2.2),
    /// header `typ: secevent+jwt`.
    pub async fn security_event_token(&self, d: &AppDelivery) -> Result<String, AppError> {
        let claims = self.set_claims(d)?;
        let ring = self.key_ring(false).await?;
        jwt::sign(&ring, SET_TYP, &claims)
    }

    /// The claims of a delivery's SET (see [`App::security_event_token`]).
    pub fn set_claims(&self, d: &AppDelivery) -> Result<serde_json::Value, AppError> {
        let iss = self.oidc_issuer();
        let event_type = d
            .event_type
            .as_deref()
            .ok_or_else(|| anyhow::anyhow!("SET delivery {} has no event type", d.id))?;
        let secs = |t: gatehouse_domain::Timestamp| t.as_millis().div_euclid(1000);
        let user = serde_json::json!({ "format": "iss_sub", "iss": iss, "sub": d.account });
        let sub_id = if event_type == set_event::VERIFICATION {
            serde_json::json!({ "format": "opaque", "id": d.stream_id })
        } else if event_type == set_event::SESSION_REVOKED {
            // SSF §3.3 complex subject: the person and their session (`sid`
            // as in the ID token and the logout token).
            serde_json::json!({
                "format": "complex",
                "user": user,
                "session": { "format": "opaque", "id": d.session },
            })
        } else {
            user
        };
        let mut event = match &d.event {
            Some(text) => serde_json::from_str(text)
                .map_err(|e| anyhow::anyhow!("SET delivery {}: bad event JSON: {e}", d.id))?,
            None => serde_json::json!({}),
        };
        if event_type != set_event::VERIFICATION {
            let (initiating, reason) = reason_words(&d.reason);
            let obj = event.as_object_mut().expect("the event is an object");
            obj.insert("event_timestamp".into(), secs(d.event_at).into());
            obj.insert("initiating_entity".into(), initiating.into());
            obj.insert("reason_admin".into(), serde_json::json!({ "en": reason }));
            if event_type == set_event::CREDENTIAL_CHANGE {
                obj.insert("credential_type".into(), "password".into());
                obj.insert("change_type".into(), "update".into());
            }
        }
        Ok(serde_json::json!({
            "iss": iss,
            "jti": d.id,
            "iat": secs(self.clock.now()),
            "aud": d.client_id,
            "sub_id": sub_id,
            "events": { event_type: event },
        }))
    }

    /// The SETs a forced reset of `accounts` would send now, per receiver.
    pub async fn sets_of(&self, accounts: &[AccountId]) -> Result<Vec<(String, i64)>, AppError> {
        Ok(self.store.sets_of(accounts, self.clock.now()).await?)
    }
}

/// CAEP's `initiating_entity` and an English `reason_admin` for a row's reason.
fn reason_words(reason: &str) -> (&'static str, String) {
    match reason {
        "logout" => ("user", "the person signed out".into()),
        "ended_by_user" => ("user", "the person ended this session".into()),
        "ended_by_operator" => ("admin", "an operator ended this session".into()),
        "password_changed" => ("user", "the person changed their password".into()),
        "password_recovered" => (
            "user",
            "the person recovered their account with a new password".into(),
        ),
        "forced_reset" => (
            "policy",
            "a remediation campaign forced a password reset".into(),
        ),
        "forced_reset_undone" => (
            "admin",
            "a forced password reset was undone: the password from before it works again".into(),
        ),
        other => ("system", other.replace('_', " ")),
    }
}
