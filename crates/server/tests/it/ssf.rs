//! Shared Signals Framework 1.0 transmitter (issue 17, part 2): stream
//! management as a receiver does it (HTTP, client_secret_basic), and real
//! push receivers (axum on port 0) that validate every SET with the
//! `jsonwebtoken` crate — not Gatehouse's code — against the published JWKS:
//! signature, `typ: secevent+jwt`, `iss`, `aud`, one event in `events`, and
//! the subject (`sub_id`, RFC 9493).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::HeaderMap;
use gatehouse_domain::audit::Actor;
use gatehouse_server::app::oidc::{ClientSpec, PUBLISH_AHEAD, RETAIN_AFTER_SIGNING, SigningAlg};
use gatehouse_store::{AppDeliveryKind, AppDeliveryState};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::backchannel::{Abort, sender, sign_in_to, until};
use crate::oidc::*;
use crate::support::*;

const SESSION_REVOKED: &str = "https://schemas.openid.net/secevent/caep/event-type/session-revoked";
const CREDENTIAL_CHANGE: &str =
    "https://schemas.openid.net/secevent/caep/event-type/credential-change";
const CHANGE_REQUIRED: &str =
    "https://schemas.openid.net/secevent/risc/event-type/account-credential-change-required";
const SESSIONS_REVOKED: &str =
    "https://schemas.openid.net/secevent/risc/event-type/sessions-revoked";
const VERIFICATION: &str = "https://schemas.openid.net/secevent/ssf/event-type/verification";
const ALL: [&str; 4] = [
    SESSION_REVOKED,
    CREDENTIAL_CHANGE,
    CHANGE_REQUIRED,
    SESSIONS_REVOKED,
];
/// What each receiver asks the transmitter to put in `Authorization`.
const PUSH_AUTH: &str = "Bearer receiver-secret-42";

#[derive(Clone, Copy)]
enum Mode {
    Ok,
    /// 500 to the first n pushes, then 202.
    FailFirst(usize),
    /// Never answers.
    Hang,
}

/// One push a receiver got: the SET's claims once validated (or why not),
/// and what it answered.
#[derive(Clone, Debug)]
struct Got {
    claims: Result<Value, String>,
    answered: u16,
    /// The SET as POSTed.
    token: String,
}

struct Receiver {
    url: String,
    got: Arc<Mutex<Vec<Got>>>,
    _server: Abort,
}

impl Receiver {
    fn got(&self) -> Vec<Got> {
        self.got.lock().unwrap().clone()
    }
    /// The valid SETs it accepted.
    fn accepted(&self) -> Vec<Value> {
        self.got()
            .into_iter()
            .filter(|g| g.answered == 202)
            .map(|g| g.claims.expect("only valid SETs are accepted"))
            .collect()
    }
    /// The accepted SETs of one event type.
    fn of(&self, event: &str) -> Vec<Value> {
        self.accepted()
            .into_iter()
            .filter(|c| c["events"].get(event).is_some())
            .collect()
    }
}

/// Validates a SET as a receiver would, with `jsonwebtoken` (RFC 8417,
/// RFC 8935 §2: `application/secevent+jwt`).
async fn validate(
    jwks_url: &str,
    issuer: &str,
    audience: &str,
    headers: &HeaderMap,
    token: &str,
) -> Result<Value, String> {
    let ct = headers.get("content-type").and_then(|v| v.to_str().ok());
    if ct != Some("application/secevent+jwt") {
        return Err(format!("content type {ct:?}"));
    }
    let auth = headers.get("authorization").and_then(|v| v.to_str().ok());
    if auth != Some(PUSH_AUTH) {
        return Err(format!("authorization {auth:?}"));
    }
    let header = jsonwebtoken::decode_header(token).map_err(|e| format!("header: {e}"))?;
    if header.typ.as_deref() != Some("secevent+jwt") {
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
    // RFC 8417 §2.2: a SET has no `exp`; `iat` and `jti` it must have.
    v.validate_exp = false;
    v.set_required_spec_claims(&["iat", "iss", "aud"]);
    let claims = jsonwebtoken::decode::<Value>(token, &key, &v)
        .map_err(|e| format!("decode: {e}"))?
        .claims;
    let events = claims["events"].as_object().ok_or("no events")?;
    if events.len() != 1 {
        return Err(format!("one event per SET: {claims}"));
    }
    if !claims["jti"].is_string() || !claims["sub_id"]["format"].is_string() {
        return Err(format!("no jti or sub_id: {claims}"));
    }
    if claims.get("sub").is_some() {
        return Err("the subject is in sub_id (RFC 9493), not sub".into());
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
    let handler = move |headers: HeaderMap, body: String| {
        let (jwks, iss, aud, seen) = (jwks.clone(), iss.clone(), aud.clone(), seen.clone());
        async move {
            let claims = validate(&jwks, &iss, &aud, &headers, &body).await;
            let n = seen.lock().unwrap().len();
            let answered = match (mode, &claims) {
                (_, Err(_)) => 400,
                (Mode::FailFirst(k), _) if n < k => 500,
                (Mode::Hang, _) => 0,
                _ => 202,
            };
            seen.lock().unwrap().push(Got {
                claims,
                answered,
                token: body,
            });
            if answered == 0 {
                tokio::time::sleep(Duration::from_secs(3600)).await;
            }
            StatusCode::from_u16(answered.max(200)).unwrap()
        }
    };
    let router = axum::Router::new().route("/events", axum::routing::post(handler));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/events", listener.local_addr().unwrap());
    let server = tokio::spawn(async move {
        axum::serve(listener, router).await.unwrap();
    });
    Receiver {
        url,
        got,
        _server: Abort(server),
    }
}

/// Registers a first-party confidential client; its secret.
async fn client(t: &TestApp, id: &str) -> String {
    let spec = ClientSpec {
        name: format!("App {id}"),
        redirect_uris: vec![CB.into()],
        first_party: true,
        ..ClientSpec::default()
    };
    let created = t
        .app
        .oidc_create_client(id, &spec, false, Actor::System)
        .await
        .unwrap();
    created.secret.unwrap().expose().to_owned()
}

/// A stream-management call as a receiver makes it (client_secret_basic).
async fn call(
    t: &TestApp,
    method: reqwest::Method,
    path: &str,
    auth: (&str, &str),
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut r = reqwest::Client::new()
        .request(method, t.url(path))
        .basic_auth(auth.0, Some(auth.1));
    if let Some(b) = body {
        r = r.json(&b);
    }
    let r = r.send().await.unwrap();
    let status = r.status();
    let text = r.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Creates the receiver's stream asking for `events`; its id.
async fn stream(t: &TestApp, auth: (&str, &str), url: &str, events: &[&str]) -> String {
    let (status, v) = call(
        t,
        reqwest::Method::POST,
        "/ssf/streams",
        auth,
        Some(json!({
            "delivery": {"method": "urn:ietf:rfc:8935", "endpoint_url": url, "authorization_header": PUSH_AUTH},
            "events_requested": events,
        })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    v["stream_id"].as_str().unwrap().to_owned()
}

fn user(t: &TestApp, sub: &str) -> Value {
    json!({"format": "iss_sub", "iss": t.app.oidc_issuer(), "sub": sub})
}

on_both_engines!(
    receivers_manage_their_streams,
    every_event_kind_reaches_the_streams,
    a_failing_receiver_recovers_and_a_hanging_one_holds_only_itself,
    a_set_is_signed_once_and_again_only_when_its_key_leaves,
);

async fn receivers_manage_their_streams(engine: Engine) {
    let Some(t) = TestApp::spawn(engine, &[("GATEHOUSE_BACKCHANNEL_RETRY_BASE_MS", "20")]).await
    else {
        return;
    };
    let meta = t.get_json("/.well-known/ssf-configuration").await;
    let iss = t.app.oidc_issuer();
    assert_eq!(meta["issuer"], iss.as_str());
    assert_eq!(meta["jwks_uri"], format!("{iss}/oauth2/jwks"));
    assert_eq!(
        meta["delivery_methods_supported"],
        json!(["urn:ietf:rfc:8935"])
    );
    for (k, p) in [
        ("configuration_endpoint", "/ssf/streams"),
        ("status_endpoint", "/ssf/status"),
        ("add_subject_endpoint", "/ssf/subjects:add"),
        ("remove_subject_endpoint", "/ssf/subjects:remove"),
        ("verification_endpoint", "/ssf/verify"),
    ] {
        assert_eq!(meta[k], format!("{iss}{p}"));
    }
    assert_eq!(
        meta["authorization_schemes"],
        json!([{"spec_urn": "urn:ietf:rfc:6749"}])
    );

    let rx = receiver(&t, "shop", Mode::Ok).await;
    let secret = client(&t, "shop").await;
    let other = client(&t, "crm").await;
    let shop = ("shop", secret.as_str());
    let crm = ("crm", other.as_str());
    let post = reqwest::Method::POST;

    // Receivers only: no credentials, a wrong secret → 401.
    let (s, v) = call(
        &t,
        post.clone(),
        "/ssf/streams",
        ("shop", "wrong"),
        Some(json!({})),
    )
    .await;
    assert_eq!(
        (s, v["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_client"))
    );
    let r = reqwest::get(t.url("/ssf/streams")).await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    // The endpoint is checked like a back-channel logout URI; push only.
    for (delivery, why) in [
        (
            json!({"method": "urn:ietf:rfc:8935", "endpoint_url": "http://receiver.example/events"}),
            "plain http off loopback",
        ),
        (json!({"method": "urn:ietf:rfc:8936"}), "poll"),
        (
            json!({"method": "urn:ietf:rfc:8935", "endpoint_url": "https://r.example/e#x"}),
            "a fragment",
        ),
    ] {
        let (s, _) = call(
            &t,
            post.clone(),
            "/ssf/streams",
            shop,
            Some(json!({"delivery": delivery})),
        )
        .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{why}");
    }

    // Create: delivered = requested ∩ supported.
    let (s, v) = call(
        &t,
        post.clone(),
        "/ssf/streams",
        shop,
        Some(json!({
            "delivery": {"method": "urn:ietf:rfc:8935", "endpoint_url": rx.url, "authorization_header": PUSH_AUTH},
            "events_requested": [SESSION_REVOKED, CHANGE_REQUIRED, "https://example.com/unknown"],
            "description": "shop's stream",
        })),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let id = v["stream_id"].as_str().unwrap().to_owned();
    assert_eq!(v["iss"], iss.as_str());
    assert_eq!(v["aud"], "shop");
    let mut delivered = vec![CHANGE_REQUIRED, SESSION_REVOKED];
    delivered.sort();
    assert_eq!(v["events_delivered"], json!(delivered));
    assert_eq!(v["events_supported"].as_array().unwrap().len(), 4);
    assert!(
        v["delivery"].get("authorization_header").is_none(),
        "never shown back"
    );
    let (s, _) = call(
        &t,
        post.clone(),
        "/ssf/streams",
        shop,
        Some(json!({"delivery": {"method": "urn:ietf:rfc:8935", "endpoint_url": rx.url}})),
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT, "one stream per receiver");

    // Read: by id, as a list; another receiver does not see it.
    let (s, one) = call(
        &t,
        reqwest::Method::GET,
        &format!("/ssf/streams?stream_id={id}"),
        shop,
        None,
    )
    .await;
    assert_eq!((s, &one["stream_id"]), (StatusCode::OK, &json!(id)));
    let (_, list) = call(&t, reqwest::Method::GET, "/ssf/streams", shop, None).await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    let (s, _) = call(
        &t,
        reqwest::Method::GET,
        &format!("/ssf/streams?stream_id={id}"),
        crm,
        None,
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (_, list) = call(&t, reqwest::Method::GET, "/ssf/streams", crm, None).await;
    assert_eq!(list, json!([]));

    // Update (PATCH: what is given) and replace (PUT: everything).
    let (s, v) = call(
        &t,
        reqwest::Method::PATCH,
        "/ssf/streams",
        shop,
        Some(json!({"stream_id": id, "events_requested": ALL})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["events_delivered"].as_array().unwrap().len(), 4);
    assert_eq!(v["description"], "shop's stream");
    let (s, v) = call(&t, reqwest::Method::PUT, "/ssf/streams", shop, Some(json!({"stream_id": id, "delivery": {"method": "urn:ietf:rfc:8935", "endpoint_url": rx.url, "authorization_header": PUSH_AUTH}, "events_requested": [SESSION_REVOKED]}))).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["events_delivered"], json!([SESSION_REVOKED]));
    assert!(
        v.get("description").is_none(),
        "PUT replaces: no description"
    );

    // Status, and the verification event: held while paused, sent when enabled.
    let (s, v) = call(
        &t,
        reqwest::Method::GET,
        &format!("/ssf/status?stream_id={id}"),
        shop,
        None,
    )
    .await;
    assert_eq!((s, &v["status"]), (StatusCode::OK, &json!("enabled")));
    let (s, v) = call(
        &t,
        post.clone(),
        "/ssf/status",
        shop,
        Some(json!({"stream_id": id, "status": "paused", "reason": "maintenance"})),
    )
    .await;
    assert_eq!(
        (s, &v["status"], &v["reason"]),
        (StatusCode::OK, &json!("paused"), &json!("maintenance"))
    );
    let (s, _) = call(
        &t,
        post.clone(),
        "/ssf/verify",
        shop,
        Some(json!({"stream_id": id, "state": "nonce-123"})),
    )
    .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let _worker = sender(&t);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert!(rx.got().is_empty(), "a paused stream's events wait");
    let (s, _) = call(
        &t,
        post.clone(),
        "/ssf/status",
        shop,
        Some(json!({"stream_id": id, "status": "enabled"})),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    until("the verification event", || rx.accepted().len() == 1).await;
    let v = &rx.accepted()[0];
    assert_eq!(v["events"][VERIFICATION]["state"], "nonce-123");
    assert_eq!(v["sub_id"], json!({"format": "opaque", "id": id}));

    // Subjects: an account the receiver's client never signed in is covered
    // once added (by e-mail), and no longer once removed (by iss_sub).
    t.sign_up("di@example.com", PW).await;
    let bearer = t.log_in("di@example.com", PW).await;
    let (s, _) = call(
        &t,
        post.clone(),
        "/ssf/subjects:add",
        shop,
        Some(json!({"stream_id": id, "subject": {"format": "email", "email": "di@example.com"}})),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = call(
        &t,
        post.clone(),
        "/ssf/subjects:add",
        shop,
        Some(
            json!({"stream_id": id, "subject": {"format": "email", "email": "nobody@example.com"}}),
        ),
    )
    .await;
    assert_eq!(
        s,
        StatusCode::OK,
        "an unknown subject is accepted, not revealed"
    );
    let (s, _) = call(
        &t,
        post.clone(),
        "/ssf/subjects:add",
        shop,
        Some(json!({"stream_id": id, "subject": {"format": "phone_number", "phone_number": "+1"}})),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let r = t.delete_auth("/api/v1/sessions/current", &bearer).await;
    assert!(r.status().is_success(), "{}", r.status());
    until("di's session-revoked", || rx.of(SESSION_REVOKED).len() == 1).await;
    let di = rx.of(SESSION_REVOKED)[0]["sub_id"]["user"]["sub"]
        .as_str()
        .unwrap()
        .to_owned();
    let (s, _) = call(
        &t,
        post.clone(),
        "/ssf/subjects:remove",
        shop,
        Some(json!({"stream_id": id, "subject": user(&t, &di)})),
    )
    .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let bearer = t.log_in("di@example.com", PW).await;
    let r = t.delete_auth("/api/v1/sessions/current", &bearer).await;
    assert!(r.status().is_success());
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(
        rx.of(SESSION_REVOKED).len(),
        1,
        "removed: not covered any more"
    );

    // Delete: gone for its receiver.
    let (s, _) = call(
        &t,
        reqwest::Method::DELETE,
        &format!("/ssf/streams?stream_id={id}"),
        crm,
        None,
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "only its own receiver deletes it");
    let (s, _) = call(
        &t,
        reqwest::Method::DELETE,
        &format!("/ssf/streams?stream_id={id}"),
        shop,
        None,
    )
    .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = call(
        &t,
        reqwest::Method::GET,
        &format!("/ssf/status?stream_id={id}"),
        shop,
        None,
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

async fn every_event_kind_reaches_the_streams(engine: Engine) {
    let Some(t) = TestApp::spawn(engine, &[("GATEHOUSE_BACKCHANNEL_RETRY_BASE_MS", "20")]).await
    else {
        return;
    };
    let shop_rx = receiver(&t, "shop", Mode::Ok).await;
    let crm_rx = receiver(&t, "crm", Mode::Ok).await;
    let shop_secret = client(&t, "shop").await;
    let crm_secret = client(&t, "crm").await;
    stream(&t, ("shop", &shop_secret), &shop_rx.url, &ALL).await;
    // crm asks only for CAEP session-revoked.
    stream(&t, ("crm", &crm_secret), &crm_rx.url, &[SESSION_REVOKED]).await;
    let _worker = sender(&t);

    // A sign-out: session-revoked to the apps holding tokens in the session.
    t.sign_up("al@example.com", PW).await;
    let b1 = browser();
    let (sid1, al) = sign_in_to(&t, &b1, "shop", &shop_secret, "al@example.com").await;
    let r = b1.post(t.url("/logout")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    until("al's session-revoked", || {
        shop_rx.of(SESSION_REVOKED).len() == 1
    })
    .await;
    let c = &shop_rx.of(SESSION_REVOKED)[0];
    assert_eq!(
        c["sub_id"],
        json!({"format": "complex", "user": user(&t, &al), "session": {"format": "opaque", "id": sid1}})
    );
    assert_eq!(c["events"][SESSION_REVOKED]["initiating_entity"], "user");
    assert!(c["events"][SESSION_REVOKED]["event_timestamp"].is_i64());
    assert!(crm_rx.accepted().is_empty(), "crm held no token of al's");

    // A password change: credential-change to shop (crm did not ask).
    let b2 = browser();
    sign_in_to(&t, &b2, "shop", &shop_secret, "al@example.com").await;
    let bearer = t.log_in("al@example.com", PW).await;
    let r = t
        .post_json_auth(
            "/api/v1/me/password",
            &bearer,
            &json!({"current_password": PW, "new_password": "a wholly new passphrase 42"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    until("al's credential-change", || {
        shop_rx.of(CREDENTIAL_CHANGE).len() == 1 && shop_rx.of(SESSION_REVOKED).len() == 2
    })
    .await;
    let c = &shop_rx.of(CREDENTIAL_CHANGE)[0];
    assert_eq!(c["sub_id"], user(&t, &al));
    let e = &c["events"][CREDENTIAL_CHANGE];
    assert_eq!(
        (&e["credential_type"], &e["change_type"]),
        (&json!("password"), &json!("update"))
    );

    // An operator ends one session: session-revoked, initiated by an admin.
    t.sign_up("bo@example.com", PW).await;
    let b3 = browser();
    let (sid3, bo) = sign_in_to(&t, &b3, "crm", &crm_secret, "bo@example.com").await;
    let ops = t.app.create_operator("ops@example.com").await.unwrap().1;
    let r = t
        .post_json_auth(
            &format!("/api/v1/admin/sessions/{sid3}/end"),
            ops.expose(),
            &json!({}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let r = t
        .post_json_auth(
            &format!("/api/v1/admin/sessions/{sid3}/end"),
            ops.expose(),
            &json!({}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CONFLICT, "ended already");
    until("bo's session-revoked", || {
        crm_rx.of(SESSION_REVOKED).len() == 1
    })
    .await;
    let c = &crm_rx.of(SESSION_REVOKED)[0];
    assert_eq!(c["sub_id"]["session"]["id"], sid3.as_str());
    assert_eq!(c["events"][SESSION_REVOKED]["initiating_entity"], "admin");
    assert!(t.audit_actions().await.iter().any(|a| a == "session.ended"));

    // A forced reset: RISC account-credential-change-required and
    // sessions-revoked, CAEP session-revoked; the preview counted them.
    t.sign_up("cy@example.com", PW).await;
    let b4 = browser();
    let (sid4, cy) = sign_in_to(&t, &b4, "shop", &shop_secret, "cy@example.com").await;
    sign_in_to(&t, &b4, "crm", &crm_secret, "cy@example.com").await;
    let (ann, campaign) = crate::oidc_session::campaign_reset(&t, "cy@example.com").await;
    let preview = t
        .app
        .campaign(campaign.parse().unwrap())
        .await
        .unwrap()
        .preview
        .unwrap();
    assert_eq!(
        preview["security_events"],
        json!([
            {"client_id": "crm", "events": 1, "seconds_at_rate": 0.05},
            {"client_id": "shop", "events": 3, "seconds_at_rate": 0.15},
        ]),
        "the preview counts the SETs per receiver"
    );
    until("cy's reset events", || {
        shop_rx.of(CHANGE_REQUIRED).len() == 1
            && shop_rx.of(SESSIONS_REVOKED).len() == 1
            && shop_rx.of(SESSION_REVOKED).len() == 3
            && crm_rx.of(SESSION_REVOKED).len() == 2
    })
    .await;
    let c = &shop_rx.of(CHANGE_REQUIRED)[0];
    assert_eq!(c["sub_id"], user(&t, &cy));
    assert_eq!(c["events"][CHANGE_REQUIRED]["initiating_entity"], "policy");
    assert_eq!(shop_rx.of(SESSIONS_REVOKED)[0]["sub_id"], user(&t, &cy));
    assert!(
        crm_rx
            .of(SESSION_REVOKED)
            .iter()
            .any(|c| c["sub_id"]["session"]["id"] == sid4.as_str())
    );

    // Undo: the prior password works again — CAEP credential-change, by an admin.
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
        if t.app
            .campaign(campaign.parse().unwrap())
            .await
            .unwrap()
            .state
            .as_str()
            == "undone"
        {
            break;
        }
        t.clock.advance(Duration::from_secs(61));
    }
    until("cy's undo", || shop_rx.of(CREDENTIAL_CHANGE).len() == 2).await;
    let c = shop_rx
        .of(CREDENTIAL_CHANGE)
        .into_iter()
        .find(|c| c["sub_id"] == user(&t, &cy))
        .expect("the undo's credential-change is about cy");
    let e = &c["events"][CREDENTIAL_CHANGE];
    assert_eq!(e["initiating_entity"], "admin");
    assert!(
        e["reason_admin"]["en"].as_str().unwrap().contains("undone"),
        "{e}"
    );

    // Every SET valid and accepted once; each jti once; all sent first time.
    tokio::time::sleep(Duration::from_millis(800)).await;
    let mut jtis = std::collections::BTreeSet::new();
    for (aud, rx) in [("shop", &shop_rx), ("crm", &crm_rx)] {
        for g in rx.got() {
            let c = g
                .claims
                .unwrap_or_else(|e| panic!("{aud} got an invalid SET: {e}"));
            assert_eq!((g.answered, &c["aud"]), (202, &json!(aud)));
            assert!(
                jtis.insert(c["jti"].as_str().unwrap().to_owned()),
                "jti once: {c}"
            );
        }
    }
    assert_eq!(jtis.len(), 7 + 2, "shop 7, crm 2");
    let rows = t.app.app_deliveries(None, None, 1000).await.unwrap();
    let sets: Vec<_> = rows
        .iter()
        .filter(|d| d.kind == AppDeliveryKind::Set)
        .collect();
    assert_eq!(sets.len(), 9);
    assert!(
        sets.iter()
            .all(|d| d.state == AppDeliveryState::Sent && d.attempts == 1)
    );
    let _ = bo;
}

async fn a_failing_receiver_recovers_and_a_hanging_one_holds_only_itself(engine: Engine) {
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
    let flaky = receiver(&t, "flaky", Mode::FailFirst(2)).await;
    let stuck = receiver(&t, "stuck", Mode::Hang).await;
    let mut secrets = std::collections::HashMap::new();
    for (id, r) in [("good", &good), ("flaky", &flaky), ("stuck", &stuck)] {
        let s = client(&t, id).await;
        stream(&t, (id, &s), &r.url, &[SESSION_REVOKED]).await;
        secrets.insert(id, s);
    }
    t.sign_up("al@example.com", PW).await;
    let b = browser();
    for id in ["good", "flaky", "stuck"] {
        sign_in_to(&t, &b, id, &secrets[id], "al@example.com").await;
    }
    let r = b.post(t.url("/logout")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let started = std::time::Instant::now();
    let _worker = sender(&t);
    until("the good receiver", || good.accepted().len() == 1).await;
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "a hanging receiver does not slow the others ({:?})",
        started.elapsed()
    );
    until("the flaky receiver's recovery", || {
        flaky.accepted().len() == 1
    })
    .await;
    let pushes = flaky.got();
    assert_eq!(pushes.len(), 3, "two 500s, then 202");
    let jtis: std::collections::BTreeSet<_> = pushes
        .iter()
        .map(|g| {
            g.claims.clone().unwrap()["jti"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(jtis.len(), 1, "the same jti on every retry");
    let rows = t
        .app
        .app_deliveries(None, Some("stuck".into()), 10)
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert_ne!(
        rows[0].state,
        AppDeliveryState::Sent,
        "the hanging one waits"
    );
    // Operators see it per receiver (once settled: the 202 comes first).
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let counts = t.app.app_delivery_counts().await.unwrap();
        let flaky_counts = counts.iter().find(|c| c.client_id == "flaky").unwrap();
        if flaky_counts.sent == 1 {
            assert_eq!(flaky_counts.failed, 0);
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not settled: {flaky_counts:?}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// The stored token of the shop's delivery whose verification `state` is
/// `state`.
async fn stored_token(t: &TestApp, state: &str) -> (String, Option<String>, AppDeliveryState) {
    let rows = t
        .app
        .app_deliveries(None, Some("shop".into()), 10)
        .await
        .unwrap();
    let d = rows
        .iter()
        .find(|d| d.event.as_deref().is_some_and(|e| e.contains(state)))
        .unwrap_or_else(|| panic!("no delivery with state {state}"));
    (d.id.clone(), d.token.clone(), d.state)
}

async fn a_set_is_signed_once_and_again_only_when_its_key_leaves(engine: Engine) {
    let Some(t) = TestApp::spawn(engine, &[("GATEHOUSE_BACKCHANNEL_RETRY_BASE_MS", "20")]).await
    else {
        return;
    };
    let rx = receiver(&t, "shop", Mode::FailFirst(1)).await;
    let secret = client(&t, "shop").await;
    let id = stream(&t, ("shop", &secret), &rx.url, &[]).await;
    let verify = |state: &'static str| {
        call(
            &t,
            reqwest::Method::POST,
            "/ssf/verify",
            ("shop", &secret),
            Some(json!({"stream_id": id, "state": state})),
        )
    };

    // Signed ahead once; the first attempt (answered 500) and the retry
    // POST the same bytes.
    assert_eq!(verify("first").await.0, StatusCode::NO_CONTENT);
    assert_eq!(t.app.sign_ahead(1000).await.unwrap(), 1);
    assert_eq!(t.app.sign_ahead(1000).await.unwrap(), 0, "signed once");
    let (_, first, _) = stored_token(&t, "first").await;
    let first = first.expect("signed ahead");
    let worker = sender(&t);
    until("the retry", || rx.accepted().len() == 1).await;
    let pushes = rx.got();
    assert_eq!(
        pushes.iter().map(|g| g.answered).collect::<Vec<_>>(),
        vec![500, 202]
    );
    assert!(
        pushes.iter().all(|g| g.token == first),
        "every attempt POSTs the token signed ahead"
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while stored_token(&t, "first").await.2 != AppDeliveryState::Sent {
        assert!(std::time::Instant::now() < deadline, "not settled");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    drop(worker);

    // Signed ahead, then its key rotated out of the JWKS before it went:
    // the attempt signs it again with the key that signs now (same jti).
    assert_eq!(verify("second").await.0, StatusCode::NO_CONTENT);
    assert_eq!(t.app.sign_ahead(1000).await.unwrap(), 1);
    let (jti, second, _) = stored_token(&t, "second").await;
    let second = second.expect("signed ahead");
    let old_kid = jsonwebtoken::decode_header(&second).unwrap().kid.unwrap();
    let new_kid = t
        .app
        .oidc_rotate_key(SigningAlg::Es256, Actor::System)
        .await
        .unwrap();
    t.clock
        .advance(PUBLISH_AHEAD + RETAIN_AFTER_SIGNING + Duration::from_secs(60));
    let _worker = sender(&t);
    until("the second SET", || rx.accepted().len() == 2).await;
    let last = rx.got().pop().unwrap();
    assert_eq!(last.answered, 202, "valid against the JWKS of now");
    assert_ne!(last.token, second);
    let kid = jsonwebtoken::decode_header(&last.token).unwrap().kid;
    assert_eq!(kid.as_deref(), Some(new_kid.as_str()));
    assert_ne!(new_kid, old_kid);
    assert_eq!(last.claims.unwrap()["jti"], jti.as_str());
}
