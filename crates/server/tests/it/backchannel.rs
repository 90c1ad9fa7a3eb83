//! OpenID Connect Back-Channel Logout (issue 17): real receivers (axum on
//! port 0) validate every logout token with the `jsonwebtoken` crate — not
//! Gatehouse's code — against the published JWKS: signature, `typ`, `iss`,
//! `aud`, `iat`/`exp`, the back-channel event, `sid`, `sub`, and no `nonce`.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use gatehouse_domain::audit::Actor;
use gatehouse_server::app::oidc::ClientSpec;
use gatehouse_store::AppDeliveryState;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::oidc::*;
use crate::support::*;

const EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

#[derive(Clone, Copy)]
enum Mode {
    /// 200 to everything valid.
    Ok,
    /// 500 to the first n requests, then 200.
    FailFirst(usize),
    /// Never answers.
    Hang,
}

/// One request a receiver got: the token's claims once validated, or why not.
#[derive(Clone, Debug)]
struct Got {
    claims: Result<Value, String>,
    answered: u16,
}

struct Receiver {
    url: String,
    got: Arc<Mutex<Vec<Got>>>,
    _server: Abort,
}

/// Aborts a task when dropped (a receiver, the sender).
pub(crate) struct Abort(pub(crate) tokio::task::JoinHandle<()>);
impl Drop for Abort {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Receiver {
    fn got(&self) -> Vec<Got> {
        self.got.lock().unwrap().clone()
    }
    /// The validated tokens it answered 200 to.
    fn accepted(&self) -> Vec<Value> {
        self.got()
            .into_iter()
            .filter(|g| g.answered == 200)
            .map(|g| g.claims.expect("only valid tokens are accepted"))
            .collect()
    }
}

/// Validates a logout token as an app would, with `jsonwebtoken`.
async fn validate(
    jwks_url: &str,
    issuer: &str,
    audience: &str,
    token: &str,
) -> Result<Value, String> {
    let header = jsonwebtoken::decode_header(token).map_err(|e| format!("header: {e}"))?;
    if header.typ.as_deref() != Some("logout+jwt") {
        return Err(format!("typ {:?}", header.typ));
    }
    if header.alg != Algorithm::ES256 {
        return Err(format!("alg {:?}", header.alg));
    }
    let kid = header.kid.ok_or("no kid")?;
    let jwks: JwkSet = reqwest::get(jwks_url)
        .await
        .map_err(|e| e.to_string())?
        .json()
        .await
        .map_err(|e| e.to_string())?;
    let jwk = jwks.find(&kid).ok_or("kid not in the JWKS")?;
    let key = DecodingKey::from_jwk(jwk).map_err(|e| format!("jwk: {e}"))?;
    let mut v = Validation::new(Algorithm::ES256);
    v.set_issuer(&[issuer]);
    v.set_audience(&[audience]);
    v.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
    let claims = jsonwebtoken::decode::<Value>(token, &key, &v)
        .map_err(|e| format!("decode: {e}"))?
        .claims;
    // Back-Channel Logout 1.0 §2.6: the event, a sid or sub, a jti, no nonce.
    if !claims["events"][EVENT].is_object() {
        return Err(format!("no back-channel logout event: {claims}"));
    }
    if claims.get("nonce").is_some() {
        return Err("a logout token must not carry a nonce".into());
    }
    for c in ["sid", "sub", "jti"] {
        if !claims[c].is_string() {
            return Err(format!("no {c}: {claims}"));
        }
    }
    Ok(claims)
}

async fn receiver(t: &TestApp, client_id: &str, mode: Mode) -> Receiver {
    let got: Arc<Mutex<Vec<Got>>> = Arc::default();
    let (jwks, iss, aud) = (
        t.url("/oauth2/jwks"),
        t.app.oidc_issuer(),
        client_id.to_owned(),
    );
    let seen = got.clone();
    let handler = move |body: String| {
        let (jwks, iss, aud, seen) = (jwks.clone(), iss.clone(), aud.clone(), seen.clone());
        async move {
            let form: HashMap<String, String> =
                serde_urlencoded::from_str(&body).unwrap_or_default();
            let claims = match form.get("logout_token") {
                Some(tok) => validate(&jwks, &iss, &aud, tok).await,
                None => Err(format!("no logout_token in {body:?}")),
            };
            let n = seen.lock().unwrap().len();
            let answered = match (mode, &claims) {
                (_, Err(_)) => 400,
                (Mode::FailFirst(k), _) if n < k => 500,
                (Mode::Hang, _) => 0,
                _ => 200,
            };
            seen.lock().unwrap().push(Got { claims, answered });
            if answered == 0 {
                tokio::time::sleep(Duration::from_secs(3600)).await;
            }
            StatusCode::from_u16(answered.max(200)).unwrap()
        }
    };
    let router = axum::Router::new().route("/bcl", axum::routing::post(handler));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/bcl", listener.local_addr().unwrap());
    let server = tokio::spawn(async move {
        axum::serve(listener, router).await.unwrap();
    });
    Receiver {
        url,
        got,
        _server: Abort(server),
    }
}

/// Registers a first-party confidential client with a logout URI; its secret.
pub(crate) async fn app_with_logout(t: &TestApp, id: &str, uri: &str) -> String {
    let spec = ClientSpec {
        name: format!("App {id}"),
        redirect_uris: vec![CB.into()],
        first_party: true,
        backchannel_logout_uri: Some(uri.into()),
        ..ClientSpec::default()
    };
    let created = t
        .app
        .oidc_create_client(id, &spec, false, Actor::System)
        .await
        .unwrap();
    created.secret.unwrap().expose().to_owned()
}

/// Signs the browser in to the app (through Gatehouse's login the first
/// time); returns the ID token's `sid` and `sub`.
pub(crate) async fn sign_in_to(
    t: &TestApp,
    b: &reqwest::Client,
    client: &str,
    secret: &str,
    email: &str,
) -> (String, String) {
    let p = pkce(client);
    let r = authorize(t, b, &authorize_url(t, client, &p, &[]), email).await;
    let code = code_of(t, &r);
    let tokens = exchange(t, &code, &p, client, secret).await;
    let payload = tokens["id_token"]
        .as_str()
        .unwrap()
        .split('.')
        .nth(1)
        .unwrap();
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    (
        claims["sid"].as_str().unwrap().to_owned(),
        claims["sub"].as_str().unwrap().to_owned(),
    )
}

pub(crate) fn sender(t: &TestApp) -> Abort {
    Abort(gatehouse_server::backchannel::spawn_backchannel(t.app.clone()).unwrap())
}

/// Waits (up to 30 s) until `done` holds.
pub(crate) async fn until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Waits (up to 10 s) until the clients' deliveries are all settled (none
/// pending or leased).
async fn settled(t: &TestApp, clients: &[&str]) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let counts = t.app.app_delivery_counts().await.unwrap();
        if counts
            .iter()
            .filter(|c| clients.contains(&c.client_id.as_str()))
            .all(|c| c.pending + c.sending == 0)
        {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not settled: {counts:?}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

async fn deliveries(t: &TestApp, client: &str) -> Vec<gatehouse_store::AppDelivery> {
    t.app
        .app_deliveries(None, Some(client.into()), 1000)
        .await
        .unwrap()
}

on_both_engines!(
    every_session_end_signs_the_apps_out_once,
    a_failing_app_recovers_and_a_hanging_one_holds_only_itself,
    operators_see_and_retry_logout_tokens,
    a_suspended_session_ended_later_is_told_once,
);

async fn every_session_end_signs_the_apps_out_once(engine: Engine) {
    let Some(t) = TestApp::spawn(engine, &[("GATEHOUSE_BACKCHANNEL_RETRY_BASE_MS", "20")]).await
    else {
        return;
    };
    let d = t.get_json("/.well-known/openid-configuration").await;
    assert_eq!(d["backchannel_logout_supported"], true);
    assert_eq!(d["backchannel_logout_session_supported"], true);
    let shop = receiver(&t, "shop", Mode::Ok).await;
    let crm = receiver(&t, "crm", Mode::Ok).await;
    let shop_secret = app_with_logout(&t, "shop", &shop.url).await;
    let crm_secret = app_with_logout(&t, "crm", &crm.url).await;
    let mut expected: BTreeSet<(String, String, String)> = BTreeSet::new();

    // Logout: one Gatehouse session, two apps signed in through it.
    t.sign_up("al@example.com", PW).await;
    let b1 = browser();
    let (sid1, al) = sign_in_to(&t, &b1, "shop", &shop_secret, "al@example.com").await;
    let (sid1b, _) = sign_in_to(&t, &b1, "crm", &crm_secret, "al@example.com").await;
    assert_eq!(sid1, sid1b, "one Gatehouse session");
    // Signed in to the app twice in the session: still one token per app.
    sign_in_to(&t, &b1, "shop", &shop_secret, "al@example.com").await;
    let r = b1.post(t.url("/logout")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    expected.insert(("shop".into(), sid1.clone(), al.clone()));
    expected.insert(("crm".into(), sid1.clone(), al.clone()));

    // A password change ending the other sessions.
    t.sign_up("bo@example.com", PW).await;
    let b2 = browser();
    let (sid2, bo) = sign_in_to(&t, &b2, "shop", &shop_secret, "bo@example.com").await;
    let bearer = t.log_in("bo@example.com", PW).await;
    let r = t
        .post_json_auth(
            "/api/v1/me/password",
            &bearer,
            &json!({"current_password": PW, "new_password": "a wholly new passphrase 42"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    expected.insert(("shop".into(), sid2.clone(), bo.clone()));

    let worker = sender(&t);
    until("the logout and the password change", || {
        shop.accepted().len() == 2 && crm.accepted().len() == 1
    })
    .await;
    // The app records a token before the sender has its answer: stopping the
    // sender now could leave a delivered row leased, unsettled (sent again
    // once its lease runs out — a sender's crash, not what this checks).
    settled(&t, &["shop", "crm"]).await;

    // A campaign's forced reset, applied with the sender stopped; then the
    // breaker trips: the tokens of the reset already applied still go.
    drop(worker);
    t.sign_up("cy@example.com", PW).await;
    let b3 = browser();
    let (sid3, cy) = sign_in_to(&t, &b3, "crm", &crm_secret, "cy@example.com").await;
    let preview_apps = t.app.app_sessions_of(&[cy.parse().unwrap()]).await.unwrap();
    assert_eq!(preview_apps, vec![("crm".to_owned(), 1)]);
    let (ann, campaign) = crate::oidc_session::campaign_reset(&t, "cy@example.com").await;
    let preview = t
        .app
        .campaign(campaign.parse().unwrap())
        .await
        .unwrap()
        .preview;
    assert_eq!(
        preview.unwrap()["app_sessions"],
        json!([{"client_id": "crm", "sessions": 1, "seconds_at_rate": 0.05}]),
        "the preview says which apps the reset signs out"
    );
    t.app
        .trip_breaker("drill: stop everything", Actor::System)
        .await
        .unwrap();
    expected.insert(("crm".into(), sid3.clone(), cy.clone()));
    let _worker = sender(&t);
    until("the forced reset's token with the breaker open", || {
        crm.accepted().len() == 2
    })
    .await;

    // The undo reinstates the session (and its grants): the logout token
    // already sent stays sent — the person signs in to the app again. A
    // later end of the reinstated session is a new end: a new token.
    let r = t
        .post_json_auth(
            &format!("/api/v1/admin/campaigns/{campaign}/undo"),
            &ann,
            &json!({}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    for _ in 0..30 {
        t.app.campaigns_pass().await.unwrap();
        let state = t
            .app
            .campaign(campaign.parse().unwrap())
            .await
            .unwrap()
            .state;
        if state.as_str() == "undone" {
            break;
        }
        t.clock.advance(Duration::from_secs(61));
    }
    let r = b3.post(t.url("/logout")).send().await.unwrap();
    assert_eq!(
        r.status(),
        StatusCode::SEE_OTHER,
        "the reinstated session signs out"
    );
    until("the reinstated session's logout", || {
        crm.accepted().len() == 3
    })
    .await;
    let sid3_tokens: Vec<Value> = crm
        .accepted()
        .into_iter()
        .filter(|c| c["sid"] == sid3.as_str())
        .collect();
    assert_eq!(sid3_tokens.len(), 2);
    assert_ne!(sid3_tokens[0]["jti"], sid3_tokens[1]["jti"]);
    expected.insert(("crm".into(), sid3.clone(), cy.clone()));

    // Exactly one token per (app, session end), each valid, none left over.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let mut seen = BTreeSet::new();
    let mut twice = BTreeSet::new();
    let mut jtis = BTreeSet::new();
    for (aud, r) in [("shop", &shop), ("crm", &crm)] {
        for g in r.got() {
            let c = g
                .claims
                .unwrap_or_else(|e| panic!("{aud} got an invalid token: {e}"));
            assert_eq!(g.answered, 200);
            assert_eq!(c["aud"], aud);
            assert!(
                jtis.insert(c["jti"].as_str().unwrap().to_owned()),
                "jti unique"
            );
            let key = (
                aud.to_owned(),
                c["sid"].as_str().unwrap().to_owned(),
                c["sub"].as_str().unwrap().to_owned(),
            );
            if !seen.insert(key.clone()) {
                // Only the reinstated session ends twice (reset, then logout).
                assert_eq!(key.1, sid3, "one token per (app, session end): {c}");
                assert!(
                    twice.insert(key),
                    "at most two ends of the reinstated session"
                );
            }
        }
    }
    assert_eq!(seen, expected);
    assert_eq!(twice.len(), 1);
    for client in ["shop", "crm"] {
        let rows = deliveries(&t, client).await;
        let odd: Vec<_> = rows
            .iter()
            .filter(|d| d.state != AppDeliveryState::Sent || d.attempts != 1)
            .map(|d| (&d.id, d.state, d.attempts, &d.last_error))
            .collect();
        assert!(odd.is_empty(), "{client}: not sent once: {odd:?}");
    }
    // Operators see them per receiver.
    let counts = t.app.app_delivery_counts().await.unwrap();
    let crm_counts = counts.iter().find(|c| c.client_id == "crm").unwrap();
    assert_eq!((crm_counts.sent, crm_counts.failed), (3, 0));
}

async fn a_failing_app_recovers_and_a_hanging_one_holds_only_itself(engine: Engine) {
    let Some(t) = TestApp::spawn(
        engine,
        &[
            ("GATEHOUSE_BACKCHANNEL_RETRY_BASE_MS", "20"),
            ("GATEHOUSE_BACKCHANNEL_TIMEOUT_SECONDS", "3"),
        ],
    )
    .await
    else {
        return;
    };
    let good = receiver(&t, "good", Mode::Ok).await;
    let flaky = receiver(&t, "flaky", Mode::FailFirst(3)).await;
    let stuck = receiver(&t, "stuck", Mode::Hang).await;
    let mut secrets = HashMap::new();
    for (id, r) in [("good", &good), ("flaky", &flaky), ("stuck", &stuck)] {
        secrets.insert(id, app_with_logout(&t, id, &r.url).await);
    }
    // Two people, each signed in to the three apps, sign out.
    for email in ["di@example.com", "ed@example.com"] {
        t.sign_up(email, PW).await;
        let b = browser();
        for id in ["good", "flaky", "stuck"] {
            sign_in_to(&t, &b, id, &secrets[id], email).await;
        }
        b.post(t.url("/logout")).send().await.unwrap();
    }
    let _worker = sender(&t);
    // The healthy app gets both before the hanging one's first attempt has
    // even timed out: the hanging app holds only its own queue.
    until("the healthy app's tokens", || good.accepted().len() == 2).await;
    assert!(
        deliveries(&t, "stuck")
            .await
            .iter()
            .all(|d| d.state != AppDeliveryState::Sent && d.last_error.is_none()),
        "no attempt to the hanging app has ended yet"
    );
    // The failing app recovers: both tokens complete, each with the jti it
    // had on its failed attempts.
    until("the flaky app's tokens", || flaky.accepted().len() == 2).await;
    let attempts = flaky.got();
    assert!(attempts.iter().filter(|g| g.answered == 500).count() >= 3);
    let jti = |g: &Got| {
        g.claims.as_ref().unwrap()["jti"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let all: BTreeSet<String> = attempts.iter().map(jti).collect();
    let sent: BTreeSet<String> = flaky
        .accepted()
        .iter()
        .map(|c| c["jti"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(all, sent, "a retry repeats the jti");
    // The app's 200 comes before the row is settled: wait for the settle.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let rows = loop {
        let rows = deliveries(&t, "flaky").await;
        if rows.iter().all(|d| d.state == AppDeliveryState::Sent) {
            break rows;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not settled: {rows:?}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    };
    assert!(rows.iter().any(|d| d.attempts > 1));
    // The hanging app's rows wait for it, with why.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let rows = deliveries(&t, "stuck").await;
        assert_eq!(rows.len(), 2);
        assert!(rows.iter().all(|d| d.state != AppDeliveryState::Sent));
        if rows
            .iter()
            .any(|d| d.last_error.as_deref() == Some("the app did not answer in time"))
        {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no timeout recorded: {rows:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(!stuck.got().is_empty());
}

async fn operators_see_and_retry_logout_tokens(engine: Engine) {
    let Some(t) = TestApp::spawn(
        engine,
        &[
            ("GATEHOUSE_BACKCHANNEL_RETRY_BASE_MS", "20"),
            ("GATEHOUSE_BACKCHANNEL_MAX_ATTEMPTS", "1"),
        ],
    )
    .await
    else {
        return;
    };
    let (_op, key) = t.app.create_operator("ops@example.com").await.unwrap();
    let key = key.expose().to_owned();
    // The URI is checked where it is registered.
    for (uri, why) in [
        ("http://app.example/bcl", "http on a non-loopback host"),
        ("https://app.example/bcl#x", "a fragment"),
        ("/bcl", "not absolute"),
    ] {
        let r = t
            .post_json_auth(
                "/api/v1/admin/oidc/clients",
                &key,
                &json!({"client_id": "bad", "name": "Bad", "redirect_uris": [CB], "backchannel_logout_uri": uri}),
            )
            .await;
        let body = assert_error(r, StatusCode::BAD_REQUEST, "invalid_input").await;
        assert_eq!(
            body["error"]["field"], "backchannel_logout_uri",
            "{why}: {body}"
        );
    }
    let shop = receiver(&t, "shop", Mode::FailFirst(1)).await;
    let r = t
        .post_json_auth(
            "/api/v1/admin/oidc/clients",
            &key,
            &json!({"client_id": "shop", "name": "Shop", "redirect_uris": [CB], "first_party": true,
                    "backchannel_logout_uri": shop.url}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let created: Value = r.json().await.unwrap();
    assert_eq!(
        created["client"]["backchannel_logout_uri"],
        shop.url.as_str()
    );
    let secret = created["client_secret"].as_str().unwrap().to_owned();

    t.sign_up("fe@example.com", PW).await;
    let b = browser();
    sign_in_to(&t, &b, "shop", &secret, "fe@example.com").await;
    b.post(t.url("/logout")).send().await.unwrap();
    let _worker = sender(&t);
    // One attempt allowed: the app's 500 fails it, visible with its answer.
    let outbox = loop {
        let r = t
            .get_auth("/api/v1/admin/outbox/apps?state=failed", &key)
            .await;
        assert_eq!(r.status(), StatusCode::OK);
        let v: Value = r.json().await.unwrap();
        if v["deliveries"].as_array().is_some_and(|d| !d.is_empty()) {
            break v;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    };
    // A client id no client can have (a NUL, which PostgreSQL's text cannot
    // even hold) is refused by name on both engines, not a server error.
    let r = t
        .get_auth("/api/v1/admin/outbox/apps?client_id=%00shop", &key)
        .await;
    let body = assert_error(r, StatusCode::BAD_REQUEST, "invalid_input").await;
    assert_eq!(body["error"]["field"], "client_id", "{body}");
    let failed = &outbox["deliveries"][0];
    assert_eq!(failed["client_id"], "shop");
    assert_eq!(failed["reason"], "logout");
    assert!(
        failed["last_error"].as_str().unwrap().contains("500"),
        "{failed}"
    );
    assert_eq!(outbox["receivers"][0]["failed"], 1);
    let id = failed["id"].as_str().unwrap().to_owned();
    // The console's apps page shows it too.
    let pw = "operators use long passphrases too";
    t.app
        .set_operator_password("ops@example.com", pw)
        .await
        .unwrap();
    let console = browser();
    let r = console
        .post(t.url("/console/login"))
        .form(&[
            ("email", "ops@example.com"),
            ("password", pw),
            ("next", "/console/apps"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let page = console
        .get(t.url("/console/apps"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains(&format!("Sent to <code>{}</code>", shop.url))
            && page.contains("0 sent, 0 waiting, <strong>1 failed</strong>"),
        "{page}"
    );
    // Retried by hand: delivered with the same jti.
    let retry = format!("/api/v1/admin/outbox/apps/{id}/retry");
    let r = t.post_json_auth(&retry, &key, &json!({})).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    until("the retried token", || shop.accepted().len() == 1).await;
    assert_eq!(shop.accepted()[0]["jti"], id.as_str());
    assert_eq!(shop.got()[0].claims.as_ref().unwrap()["jti"], id.as_str());
    let r = t.post_json_auth(&retry, &key, &json!({})).await;
    assert_error(r, StatusCode::CONFLICT, "conflict").await;
    // Prometheus sees each outcome per receiver, once the retried token's
    // delivery is settled (sent deliveries are settled in batches, and counted
    // then).
    settled(&t, &["shop"]).await;
    let metrics = t.metrics().await;
    for outcome in ["failed", "sent"] {
        assert!(
            metrics
                .lines()
                .any(|l| l.starts_with("gatehouse_backchannel_deliveries_total{")
                    && l.contains(r#"client="shop""#)
                    && l.contains(&format!(r#"outcome="{outcome}""#))),
            "{outcome} counted"
        );
    }
    assert!(
        t.audit_actions()
            .await
            .contains(&"oidc.logout_token_retried".to_owned())
    );
    let spec = t.get_json("/openapi.json").await;
    assert!(spec["paths"]["/api/v1/admin/outbox/apps"]["get"].is_object());
    assert!(spec["paths"]["/api/v1/admin/outbox/apps/{id}/retry"]["post"].is_object());
}

/// A reset suspends the session (its apps are told), then the owner recovers
/// the account, which revokes it: the apps were told already, nothing more.
async fn a_suspended_session_ended_later_is_told_once(engine: Engine) {
    let Some(t) = TestApp::spawn(engine, &[("GATEHOUSE_BACKCHANNEL_RETRY_BASE_MS", "20")]).await
    else {
        return;
    };
    let crm = receiver(&t, "crm", Mode::Ok).await;
    let secret = app_with_logout(&t, "crm", &crm.url).await;
    t.sign_up("gy@example.com", PW).await;
    let b = browser();
    let (sid, _) = sign_in_to(&t, &b, "crm", &secret, "gy@example.com").await;
    crate::oidc_session::campaign_reset(&t, "gy@example.com").await;
    // The forced-reset notice's code, from the outbox (no mail worker here).
    let claimed = t
        .app
        .raw_store()
        .claim_notices(&gatehouse_store::ClaimPolicy {
            now: t.app.clock.now(),
            lease_id: "backchannel-test".into(),
            lease: Duration::from_secs(60),
            limit: 10,
            cap_per_recipient: 100,
            cap_window: Duration::from_secs(86_400),
            status_per_hour: 1000,
        })
        .await
        .unwrap()
        .claimed;
    let notice = claimed
        .iter()
        .find(|c| c.notice.recipient == "gy@example.com")
        .expect("the forced-reset notice");
    let r = t
        .post_json(
            "/api/v1/recovery/complete",
            &json!({"email": "gy@example.com", "code": notice.payload["code"],
                    "new_password": "a brand new passphrase here"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
    let _worker = sender(&t);
    until("the reset's logout token", || crm.accepted().len() == 1).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let got = crm.accepted();
    assert_eq!(got.len(), 1, "told once: {got:?}");
    assert_eq!(got[0]["sid"], sid.as_str());
    let rows = deliveries(&t, "crm").await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].reason, "forced_reset");
}
