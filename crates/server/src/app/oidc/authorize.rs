//! The authorization request: checked in the order that keeps errors safe,
//! then decided (sign in, consent, or a code), then the code issued.
//!
//! Until the client and its redirect URI are known to be exactly registered,
//! nothing is sent anywhere: the person sees a page (RFC 6749 §4.1.2.1) —
//! otherwise Gatehouse would be an open redirector. After that, errors go back
//! to the client with `state` and `iss` (RFC 9207).

use gatehouse_domain::oidc::{
    AuthCode, CodeChallenge, MaxAge, Prompt, RedirectUri, Scopes, needs_login,
};
use gatehouse_domain::{SessionId, Timestamp};
use gatehouse_store::{ClientRecord, CodeRecord};

use crate::app::{App, AppError, Authenticated};

/// The authorization request's parameters, as sent (query or consent form).
#[derive(Clone, Debug, Default, serde::Deserialize, serde::Serialize)]
pub struct AuthorizeParams {
    #[allow(missing_docs)]
    pub client_id: Option<String>,
    #[allow(missing_docs)]
    pub redirect_uri: Option<String>,
    #[allow(missing_docs)]
    pub response_type: Option<String>,
    #[allow(missing_docs)]
    pub scope: Option<String>,
    #[allow(missing_docs)]
    pub state: Option<String>,
    #[allow(missing_docs)]
    pub nonce: Option<String>,
    #[allow(missing_docs)]
    pub code_challenge: Option<String>,
    #[allow(missing_docs)]
    pub code_challenge_method: Option<String>,
    #[allow(missing_docs)]
    pub prompt: Option<String>,
    #[allow(missing_docs)]
    pub max_age: Option<String>,
    #[allow(missing_docs)]
    pub response_mode: Option<String>,
    #[allow(missing_docs)]
    pub request: Option<String>,
    #[allow(missing_docs)]
    pub request_uri: Option<String>,
    /// Ours, added when we send the person to sign in: "a sign-in at or after
    /// this instant (ms) satisfies `prompt=login`/`max_age`", so coming back
    /// from `/login` does not ask again forever. Whoever writes the URL could
    /// set it, but they could as well leave `prompt=login` out: it only ever
    /// serves the client, which checks `auth_time` itself.
    pub gh_login_at: Option<i64>,
}

/// A checked authorization request.
#[derive(Clone, Debug)]
pub struct ValidRequest {
    /// The client (enabled).
    pub client: ClientRecord,
    /// Exactly one of its registered redirect URIs.
    pub redirect_uri: String,
    /// Requested scopes.
    pub scopes: Scopes,
    /// Echoed back.
    pub state: Option<String>,
    /// Carried into the ID token.
    pub nonce: Option<String>,
    /// PKCE S256.
    pub challenge: CodeChallenge,
    /// `prompt`.
    pub prompt: Prompt,
    /// `max_age`.
    pub max_age: Option<MaxAge>,
    /// See [`AuthorizeParams::gh_login_at`].
    pub login_at: Option<Timestamp>,
    /// The parameters, to carry through the login and consent pages.
    pub params: AuthorizeParams,
}

/// An authorization request that failed.
#[derive(Debug)]
pub enum AuthorizeError {
    /// Unsafe to send back (unknown client, bad redirect URI): show it.
    Page(String),
    /// Send back to the client: the full redirect URL.
    Redirect(String),
}

/// The person signed in to Gatehouse, as the authorization needs them.
#[derive(Clone, Debug)]
pub struct SignedIn {
    /// Who.
    pub who: Authenticated,
    /// When they entered their password (the session's start): `auth_time`.
    pub auth_time: Timestamp,
}

/// What to do next with a valid request.
#[derive(Debug)]
pub enum AuthorizeOutcome {
    /// Send the person to `/login`, then back to this path (a local
    /// `/oauth2/authorize?…`).
    Login {
        /// Where `/login` returns to.
        return_to: String,
    },
    /// Show the consent page.
    Consent,
    /// Redirect to the client (a code, or an error such as `login_required`).
    Redirect(String),
}

/// `redirect_uri` with the response parameters appended.
fn response_url(redirect_uri: &str, params: &[(&str, &str)]) -> String {
    let sep = if redirect_uri.contains('?') { '&' } else { '?' };
    let query = serde_urlencoded::to_string(params).unwrap_or_default();
    format!("{redirect_uri}{sep}{query}")
}

impl ValidRequest {
    /// An error response for the client (with `state` and `iss`).
    pub fn error(&self, issuer: &str, code: &str, description: &str) -> String {
        let mut p = vec![
            ("error", code),
            ("error_description", description),
            ("iss", issuer),
        ];
        if let Some(s) = &self.state {
            p.push(("state", s));
        }
        response_url(&self.redirect_uri, &p)
    }
}

impl App {
    /// The signed-in person behind a session cookie's value, with `auth_time`.
    pub async fn oidc_signed_in(&self, cookie: &str) -> Option<SignedIn> {
        let who = self.authenticate(cookie).await.ok()?;
        let token = gatehouse_domain::SessionToken::parse(cookie).ok()?;
        let rec = self.store.session_by_token(&token.hash()).await.ok()??;
        // Read from the store, not the per-replica session cache: a session a
        // forced reset suspended a moment ago must not be handed a new code.
        if rec.state != gatehouse_domain::SessionState::Active || rec.expires_at <= self.clock.now()
        {
            return None;
        }
        Some(SignedIn {
            who,
            auth_time: rec.created_at,
        })
    }

    /// The origin of the registered redirect URI a `/login` return-to leads
    /// to, if it is a valid authorization request: the login page must allow it
    /// as a form target, since browsers check `form-action` against every
    /// redirect that follows a form's submission.
    pub async fn oidc_return_origin(&self, return_to: &str) -> Option<String> {
        let query = return_to.strip_prefix("/oauth2/authorize?")?;
        let params: AuthorizeParams = serde_urlencoded::from_str(query).ok()?;
        let req = self.oidc_check_authorize(&params).await.ok()?;
        Some(
            url::Url::parse(&req.redirect_uri)
                .ok()?
                .origin()
                .ascii_serialization(),
        )
    }

    /// Checks an authorization request (see the module's note on order).
    pub async fn oidc_check_authorize(
        &self,
        p: &AuthorizeParams,
    ) -> Result<ValidRequest, AuthorizeError> {
        let page = |m: &str| Err(AuthorizeError::Page(m.to_owned()));
        let Some(client_id) = p.client_id.as_deref() else {
            return page("The app that sent you here did not say who it is (no client_id).");
        };
        let client = match self.store.client(client_id).await {
            Ok(Some(c)) if c.disabled_at.is_none() => c,
            Ok(_) => return page("The app that sent you here is not registered with this site."),
            Err(e) => {
                tracing::error!(error = %e, "OIDC: reading a client failed");
                return page("Something went wrong on our side. Please try again later.");
            }
        };
        let Some(redirect_uri) = p.redirect_uri.as_deref() else {
            return page(
                "The app that sent you here did not say where to return (no redirect_uri).",
            );
        };
        let registered: Vec<RedirectUri> = client
            .redirect_uris
            .iter()
            .filter_map(|u| RedirectUri::parse(u).ok())
            .collect();
        if RedirectUri::find(&registered, redirect_uri).is_none() {
            return page(
                "The app that sent you here asked to return to an address it has not registered, \
                 so you were not sent there.",
            );
        }
        // From here on, errors go back to the client.
        let partial = ValidRequest {
            client: client.clone(),
            redirect_uri: redirect_uri.to_owned(),
            scopes: Scopes::parse("openid").expect("openid parses"),
            state: p.state.clone(),
            nonce: None,
            challenge: CodeChallenge::from_stored(String::new()),
            prompt: Prompt::default(),
            max_age: None,
            login_at: None,
            params: p.clone(),
        };
        let iss = self.oidc_issuer();
        let back =
            |code: &str, d: &str| Err(AuthorizeError::Redirect(partial.error(&iss, code, d)));
        if p.request.is_some() {
            return back("request_not_supported", "request objects are not supported");
        }
        if p.request_uri.is_some() {
            return back("request_uri_not_supported", "request_uri is not supported");
        }
        if p.response_type.as_deref() != Some("code") {
            return back(
                "unsupported_response_type",
                "only the authorization code flow (response_type=code) is offered",
            );
        }
        if p.response_mode.as_deref().is_some_and(|m| m != "query") {
            return back("invalid_request", "only response_mode=query is offered");
        }
        let scopes = match Scopes::parse(p.scope.as_deref().unwrap_or("")) {
            Ok(s) => s,
            Err(e) => return back("invalid_scope", &e.to_string()),
        };
        let challenge = match CodeChallenge::parse(
            p.code_challenge.as_deref(),
            p.code_challenge_method.as_deref(),
        ) {
            Ok(c) => c,
            Err(e) => return back("invalid_request", &e.to_string()),
        };
        let prompt = match Prompt::parse(p.prompt.as_deref()) {
            Ok(x) => x,
            Err(e) => return back("invalid_request", &e.to_string()),
        };
        let max_age = match MaxAge::parse(p.max_age.as_deref()) {
            Ok(x) => x,
            Err(e) => return back("invalid_request", &e.to_string()),
        };
        if p.nonce.as_ref().is_some_and(|n| n.len() > 512)
            || p.state.as_ref().is_some_and(|s| s.len() > 2048)
        {
            return back("invalid_request", "nonce or state is too long");
        }
        Ok(ValidRequest {
            scopes,
            nonce: p.nonce.clone(),
            challenge,
            prompt,
            max_age,
            login_at: p.gh_login_at.map(Timestamp::from_millis),
            ..partial
        })
    }

    /// Decides what a valid request needs now, and issues the code if nothing.
    pub async fn oidc_authorize(
        &self,
        req: &ValidRequest,
        signed_in: Option<&SignedIn>,
    ) -> Result<AuthorizeOutcome, AppError> {
        let now = self.clock.now();
        let iss = self.oidc_issuer();
        let auth_time = signed_in.map(|s| s.auth_time);
        // A sign-in made after we asked for one satisfies prompt=login and max_age.
        let fresh = match (auth_time, req.login_at) {
            (Some(at), Some(asked)) => at >= asked,
            _ => false,
        };
        if signed_in.is_none() || (!fresh && needs_login(auth_time, req.prompt, req.max_age, now)) {
            if req.prompt.none {
                return Ok(AuthorizeOutcome::Redirect(req.error(
                    &iss,
                    "login_required",
                    "the person is not signed in",
                )));
            }
            let mut params = req.params.clone();
            params.gh_login_at = Some(now.as_millis());
            let query =
                serde_urlencoded::to_string(&params).map_err(|e| AppError::Unexpected(e.into()))?;
            return Ok(AuthorizeOutcome::Login {
                return_to: format!("/oauth2/authorize?{query}"),
            });
        }
        let signed_in = signed_in.expect("checked above");
        if !req.client.first_party {
            let consented = self
                .store
                .consent(signed_in.who.account, &req.client.id)
                .await?
                .and_then(|s| Scopes::parse(&s).ok())
                .is_some_and(|given| req.scopes.within(&given));
            if !consented || req.prompt.consent {
                if req.prompt.none {
                    return Ok(AuthorizeOutcome::Redirect(req.error(
                        &iss,
                        "consent_required",
                        "the person has not agreed to share this with the app",
                    )));
                }
                return Ok(AuthorizeOutcome::Consent);
            }
        }
        Ok(AuthorizeOutcome::Redirect(
            self.oidc_issue_code(req, signed_in).await?,
        ))
    }

    /// The person's answer on the consent page: a code, or `access_denied`.
    pub async fn oidc_consent(
        &self,
        req: &ValidRequest,
        signed_in: &SignedIn,
        allow: bool,
    ) -> Result<String, AppError> {
        if !allow {
            return Ok(req.error(&self.oidc_issuer(), "access_denied", "the person declined"));
        }
        self.store
            .save_consent(
                signed_in.who.account,
                &req.client.id,
                &req.scopes.to_string(),
                self.clock.now(),
            )
            .await?;
        self.oidc_issue_code(req, signed_in).await
    }

    async fn oidc_issue_code(
        &self,
        req: &ValidRequest,
        signed_in: &SignedIn,
    ) -> Result<String, AppError> {
        let code = AuthCode::generate(self.entropy.as_ref());
        let now = self.clock.now();
        self.store
            .insert_code(&CodeRecord {
                code_hash: code.hash(),
                client_id: req.client.id.clone(),
                account: signed_in.who.account,
                session: signed_in.who.session,
                redirect_uri: req.redirect_uri.clone(),
                scope: req.scopes.to_string(),
                nonce: req.nonce.clone(),
                code_challenge: req.challenge.as_str().to_owned(),
                auth_time: signed_in.auth_time,
                created_at: now,
                used_at: None,
                grant_id: None,
            })
            .await?;
        metrics::counter!("gatehouse_oidc_codes_total").increment(1);
        let iss = self.oidc_issuer();
        let mut p = vec![("code", code.expose()), ("iss", iss.as_str())];
        if let Some(s) = &req.state {
            p.push(("state", s));
        }
        Ok(response_url(&req.redirect_uri, &p))
    }

    /// The consent and logout pages' anti-forgery token: HMAC of the session id under a
    /// key derived from the server key (on top of the CSRF layer's
    /// Origin/Sec-Fetch-Site check, as the console's forms).
    pub fn oidc_form_token(&self, session: SessionId) -> String {
        gatehouse_domain::console_csrf_token(
            &keys::derive_key(
                secrecy::ExposeSecret::expose_secret(&self.secret_key),
                b"gatehouse/oidc-consent-csrf/v1",
            ),
            &format!("oidc-consent:{session}"),
        )
    }
}

use super::keys;
