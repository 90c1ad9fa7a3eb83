//! Registered clients: what operators create, list, change and disable
//! (`gatehouse oidc client …`), and how the token endpoint authenticates one.

use gatehouse_domain::audit::{Actor, AuditAction, NewAuditEntry};
use gatehouse_domain::oidc::{ClientSecret, RedirectUri, valid_client_id};
use gatehouse_store::ClientRecord;

use super::OAuthError;
use crate::app::{App, AppError};

/// What an operator asks for when registering or changing a client.
#[derive(Clone, Debug, Default)]
pub struct ClientSpec {
    /// Shown on the consent page.
    pub name: String,
    /// Exact redirect URIs (at least one).
    pub redirect_uris: Vec<String>,
    /// Exact post-logout redirect URIs (may be empty).
    pub post_logout_redirect_uris: Vec<String>,
    /// Skip the consent page (the operator's own apps).
    pub first_party: bool,
    /// Where the app takes logout tokens (OpenID Connect Back-Channel
    /// Logout): absolute `https`, or `http` on a loopback host; no fragment.
    pub backchannel_logout_uri: Option<String>,
    /// The app needs `sid` in logout tokens (Gatehouse always sends it).
    pub backchannel_logout_session_required: bool,
    /// How its ID tokens are signed: ES256 (the default when registering),
    /// RS256 for an old client. `None` on a change keeps the current one.
    pub id_token_alg: Option<super::SigningAlg>,
}

/// A client as operators see it (CLI `--json`, admin API, console): never its
/// secret or the secret's digest.
#[derive(Clone, Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ClientView {
    /// The `client_id` the app sends.
    pub client_id: String,
    /// Shown on the consent page.
    pub name: String,
    /// `confidential` (has a secret) or `public` (PKCE only).
    #[serde(rename = "type")]
    #[schema(example = "confidential")]
    pub kind: &'static str,
    /// No consent page (the site's own app).
    pub first_party: bool,
    /// Exact redirect URIs.
    pub redirect_uris: Vec<String>,
    /// Exact post-logout redirect URIs.
    pub post_logout_redirect_uris: Vec<String>,
    /// Where logout tokens go when a session the app holds tokens in ends;
    /// null: the app gets none.
    pub backchannel_logout_uri: Option<String>,
    /// The app asked for `sid` in logout tokens (always sent).
    pub backchannel_logout_session_required: bool,
    /// How its ID tokens are signed: `ES256` or `RS256`.
    #[schema(example = "ES256")]
    pub id_token_signed_response_alg: String,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339: the last change (update, secret rotation, disabling).
    pub updated_at: String,
    /// RFC 3339; null while enabled. A disabled client signs no one in.
    pub disabled_at: Option<String>,
}

impl From<&ClientRecord> for ClientView {
    fn from(c: &ClientRecord) -> Self {
        Self {
            client_id: c.id.clone(),
            name: c.name.clone(),
            kind: if c.secret_hash.is_some() {
                "confidential"
            } else {
                "public"
            },
            first_party: c.first_party,
            redirect_uris: c.redirect_uris.clone(),
            post_logout_redirect_uris: c.post_logout_redirect_uris.clone(),
            backchannel_logout_uri: c.backchannel_logout_uri.clone(),
            backchannel_logout_session_required: c.backchannel_logout_session_required,
            id_token_signed_response_alg: c.id_token_alg.clone(),
            created_at: c.created_at.to_rfc3339(),
            updated_at: c.updated_at.to_rfc3339(),
            disabled_at: c.disabled_at.map(|t| t.to_rfc3339()),
        }
    }
}

/// A client just registered; `secret` is shown once and never again.
#[derive(Debug)]
pub struct CreatedClient {
    /// The client as stored.
    pub client: ClientRecord,
    /// The secret of a confidential client.
    pub secret: Option<ClientSecret>,
}

fn check_uris(field: &'static str, uris: &[String]) -> Result<Vec<String>, AppError> {
    uris.iter()
        .map(|u| {
            RedirectUri::parse(u)
                .map(|r| r.as_str().to_owned())
                .map_err(|e| AppError::Invalid {
                    field,
                    message: e.to_string(),
                })
        })
        .collect()
}

/// Checks a back-channel logout URI (Back-Channel Logout 1.0 §2.2): an
/// absolute URL, `https` — or `http` on a loopback host, for an app on the
/// same machine —, without a fragment. Logout tokens are bearer proof that a
/// session ended; sent in clear over a network, anyone on the path could
/// replay one to sign the person out elsewhere.
pub fn check_backchannel_logout_uri(uri: &str) -> Result<String, AppError> {
    let bad = |message: String| AppError::Invalid {
        field: "backchannel_logout_uri",
        message,
    };
    let url = url::Url::parse(uri.trim())
        .map_err(|e| bad(format!("{uri:?} is not an absolute URL ({e})")))?;
    if url.fragment().is_some() {
        return Err(bad(format!(
            "{uri:?} has a fragment (#…): a logout URI may not"
        )));
    }
    let loopback = match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    match url.scheme() {
        "https" if url.host().is_some() => {}
        "http" if loopback => {}
        "http" => {
            return Err(bad(format!(
                "{uri:?} is http on a non-loopback host: logout tokens go over https \
                 (http only to 127.0.0.1, [::1] or localhost)"
            )));
        }
        _ => return Err(bad(format!("{uri:?} is not an https URL"))),
    }
    Ok(url.to_string())
}

fn check_spec(spec: &ClientSpec) -> Result<(Vec<String>, Vec<String>), AppError> {
    // One plain line: people read it on the consent page.
    if let Err(m) = gatehouse_domain::text::one_line(&spec.name, 100) {
        return Err(AppError::Invalid {
            field: "name",
            message: format!("the name {m} (people see it on the consent page)"),
        });
    }
    if spec.redirect_uris.is_empty() {
        return Err(AppError::Invalid {
            field: "redirect_uri",
            message: "a client needs at least one redirect URI".into(),
        });
    }
    Ok((
        check_uris("redirect_uri", &spec.redirect_uris)?,
        check_uris("post_logout_redirect_uri", &spec.post_logout_redirect_uris)?,
    ))
}

impl App {
    /// Registers a client. A confidential client gets a secret (returned once);
    /// a public one (`public = true`: a browser or mobile app) has none and
    /// must use PKCE, which every client must anyway.
    pub async fn oidc_create_client(
        &self,
        id: &str,
        spec: &ClientSpec,
        public: bool,
        actor: Actor,
    ) -> Result<CreatedClient, AppError> {
        if !valid_client_id(id) {
            return Err(AppError::Invalid {
                field: "client_id",
                message: "a client id is 1 to 64 characters of letters, digits, '.', '_' and '-'"
                    .into(),
            });
        }
        let (redirect_uris, post_logout_redirect_uris) = check_spec(spec)?;
        let backchannel_logout_uri = spec
            .backchannel_logout_uri
            .as_deref()
            .map(check_backchannel_logout_uri)
            .transpose()?;
        let secret = (!public).then(|| ClientSecret::generate(self.entropy.as_ref()));
        let now = self.clock.now();
        let client = ClientRecord {
            id: id.to_owned(),
            name: spec.name.trim().to_owned(),
            secret_hash: secret.as_ref().map(ClientSecret::hash),
            redirect_uris,
            post_logout_redirect_uris,
            first_party: spec.first_party,
            backchannel_logout_uri,
            backchannel_logout_session_required: spec.backchannel_logout_session_required,
            created_at: now,
            updated_at: now,
            disabled_at: None,
            id_token_alg: spec.id_token_alg.unwrap_or_default().as_str().into(),
        };
        let audit = NewAuditEntry::new(now, actor, AuditAction::OidcClientChanged)
            .target(id)
            .detail(serde_json::json!({
                "change": "created",
                "public": public,
                "first_party": spec.first_party,
                "redirect_uris": client.redirect_uris,
                "backchannel_logout_uri": client.backchannel_logout_uri,
                "id_token_signed_response_alg": client.id_token_alg,
            }));
        self.store
            .create_client(&client, audit)
            .await
            .map_err(|e| match e {
                gatehouse_store::StoreError::Conflict(_) => {
                    AppError::Conflict("a client with this id exists")
                }
                e => e.into(),
            })?;
        self.publish_signing_key_for(spec.id_token_alg).await?;
        Ok(CreatedClient { client, secret })
    }

    /// Every registered client.
    pub async fn oidc_clients(&self) -> Result<Vec<ClientRecord>, AppError> {
        Ok(self.store.clients().await?)
    }

    /// One client.
    pub async fn oidc_client(&self, id: &str) -> Result<ClientRecord, AppError> {
        self.store
            .client(id)
            .await?
            .ok_or(AppError::NotFound("client"))
    }

    /// Replaces a client's name, URIs and first-party flag.
    pub async fn oidc_update_client(
        &self,
        id: &str,
        spec: &ClientSpec,
        actor: Actor,
    ) -> Result<ClientRecord, AppError> {
        let old = self.oidc_client(id).await?;
        let (redirect_uris, post_logout_redirect_uris) = check_spec(spec)?;
        let backchannel_logout_uri = spec
            .backchannel_logout_uri
            .as_deref()
            .map(check_backchannel_logout_uri)
            .transpose()?;
        let now = self.clock.now();
        let new = ClientRecord {
            name: spec.name.trim().to_owned(),
            redirect_uris,
            post_logout_redirect_uris,
            first_party: spec.first_party,
            backchannel_logout_uri,
            backchannel_logout_session_required: spec.backchannel_logout_session_required,
            updated_at: now,
            id_token_alg: spec
                .id_token_alg
                .map_or(old.id_token_alg.clone(), |a| a.as_str().into()),
            ..old.clone()
        };
        let audit = NewAuditEntry::new(now, actor, AuditAction::OidcClientChanged)
            .target(id)
            .detail(serde_json::json!({
                "change": "updated",
                "name": new.name,
                "first_party": new.first_party,
                "redirect_uris": new.redirect_uris,
                "post_logout_redirect_uris": new.post_logout_redirect_uris,
                "backchannel_logout_uri": new.backchannel_logout_uri,
                "id_token_signed_response_alg": new.id_token_alg,
            }));
        if !self.store.update_client(&new, audit).await? {
            return Err(AppError::NotFound("client"));
        }
        self.oidc.live.forget_clients();
        self.publish_signing_key_for(spec.id_token_alg).await?;
        Ok(new)
    }

    /// Gives a confidential client a new secret (the old one stops working at
    /// once here, on other replicas within `session_cache_seconds`).
    pub async fn oidc_rotate_client_secret(
        &self,
        id: &str,
        actor: Actor,
    ) -> Result<ClientSecret, AppError> {
        let client = self.oidc_client(id).await?;
        if client.secret_hash.is_none() {
            return Err(AppError::InvalidRequest(format!(
                "{id} is a public client: it has no secret to rotate"
            )));
        }
        let secret = ClientSecret::generate(self.entropy.as_ref());
        let now = self.clock.now();
        let audit = NewAuditEntry::new(now, actor, AuditAction::OidcClientChanged)
            .target(id)
            .detail(serde_json::json!({ "change": "secret_rotated" }));
        if !self
            .store
            .set_client_secret(id, &secret.hash(), now, audit)
            .await?
        {
            return Err(AppError::NotFound("client"));
        }
        self.oidc.live.forget_clients();
        Ok(secret)
    }

    /// Disables a client: its grants are revoked and it can sign no one in.
    /// Returns whether it was enabled.
    pub async fn oidc_disable_client(&self, id: &str, actor: Actor) -> Result<bool, AppError> {
        self.oidc_client(id).await?;
        let now = self.clock.now();
        let audit = NewAuditEntry::new(now, actor, AuditAction::OidcClientChanged)
            .target(id)
            .detail(serde_json::json!({ "change": "disabled" }));
        let was_enabled = self.store.disable_client(id, now, audit).await?;
        self.oidc.live.forget_clients();
        self.oidc.live.forget_all_grants();
        Ok(was_enabled)
    }

    /// Makes sure a key of `alg` exists and is published when a client is
    /// registered for it, so the JWKS has it before the client's first ID
    /// token (the first RS256 key is made here).
    async fn publish_signing_key_for(
        &self,
        alg: Option<super::SigningAlg>,
    ) -> Result<(), AppError> {
        if let Some(alg) = alg {
            self.key_ring_for(alg).await?;
        }
        Ok(())
    }

    /// Authenticates the client of a token, revocation or introspection
    /// request. A confidential client must present its secret (Basic or post);
    /// a public client presents only its id, and only where `public_ok`.
    pub(crate) async fn oidc_authenticate_client(
        &self,
        creds: &ClientCredentials,
        public_ok: bool,
    ) -> Result<ClientRecord, OAuthError> {
        let invalid = || OAuthError::invalid_client("client authentication failed");
        let id = creds.id.as_deref().ok_or_else(invalid)?;
        let client = self
            .store
            .client(id)
            .await
            .map_err(AppError::from)?
            .filter(|c| c.disabled_at.is_none())
            .ok_or_else(invalid)?;
        match (&client.secret_hash, &creds.secret) {
            (Some(stored), Some(given)) => {
                let ok = ClientSecret::parse(given).is_ok_and(|s| s.hash().ct_eq(stored));
                if !ok {
                    return Err(invalid());
                }
            }
            (Some(_), None) => return Err(invalid()),
            // A public client has nothing to prove; a secret sent for one is a
            // confused client, refused rather than ignored.
            (None, Some(_)) => return Err(invalid()),
            (None, None) if public_ok => {}
            (None, None) => {
                return Err(OAuthError::invalid_client(
                    "public clients cannot use this endpoint",
                ));
            }
        }
        Ok(client)
    }
}

/// The client credentials of a request, from `Authorization: Basic` or the form.
#[derive(Clone, Debug, Default)]
pub struct ClientCredentials {
    /// `client_id`.
    pub id: Option<String>,
    /// `client_secret`, if any.
    pub secret: Option<String>,
}
