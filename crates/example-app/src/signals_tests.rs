//! The Shared Signals receiver (`POST /ssf/events`) against the issuer
//! stand-in of `backchannel_tests.rs`: SETs signed with its key, pushed as
//! Gatehouse pushes them.

use serde_json::json;

use crate::backchannel_tests::{CLIENT, Issuer, now, serve_app};

const SESSION_REVOKED: &str = "https://schemas.openid.net/secevent/caep/event-type/session-revoked";
const SESSIONS_REVOKED: &str =
    "https://schemas.openid.net/secevent/risc/event-type/sessions-revoked";
const CREDENTIAL_CHANGE: &str =
    "https://schemas.openid.net/secevent/caep/event-type/credential-change";

fn set(issuer: &Issuer, jti: &str, event: &str, sub_id: serde_json::Value) -> String {
    issuer.sign(
        json!({"alg": "ES256", "typ": "secevent+jwt", "kid": "k1"}),
        &json!({"iss": issuer.url, "aud": CLIENT, "iat": now(), "jti": jti,
                "sub_id": sub_id, "events": {event: {"event_timestamp": now()}}}),
    )
}

/// The status and the error code (`err`) of a refusal.
async fn push(url: &str, token: &str, content_type: &str) -> (u16, String) {
    let r = reqwest::Client::new()
        .post(format!("{url}/ssf/events"))
        .header("content-type", content_type)
        .body(token.to_owned())
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let body: serde_json::Value =
        serde_json::from_slice(&r.bytes().await.unwrap()).unwrap_or_default();
    (status, body["err"].as_str().unwrap_or("").to_owned())
}

#[tokio::test]
async fn revoked_sessions_end_and_forged_sets_are_refused() {
    let issuer = Issuer::start().await;
    let (app, url) = serve_app(&issuer).await;
    let s = &app.sessions;
    let sign_in = |sid: &str| {
        s.sign_in(
            "person-1".into(),
            None,
            Some(sid.into()),
            issuer.id_token(sid),
        )
    };
    let (a, b) = (sign_in("sid-a"), sign_in("sid-b"));
    let user = json!({"format": "iss_sub", "iss": issuer.url, "sub": "person-1"});
    const SET: &str = "application/secevent+jwt";

    // A credential change ends nothing; session-revoked ends that session only.
    let change = set(&issuer, "j0", CREDENTIAL_CHANGE, user.clone());
    assert_eq!(push(&url, &change, SET).await.0, 202);
    assert!(s.get(&a).is_some() && s.get(&b).is_some());
    let complex = json!({"format": "complex", "user": user,
                         "session": {"format": "opaque", "id": "sid-a"}});
    let revoked = set(&issuer, "j1", SESSION_REVOKED, complex);
    assert_eq!(push(&url, &revoked, SET).await.0, 202);
    assert!(s.get(&a).is_none() && s.get(&b).is_some());
    // Gatehouse's retry of the same jti: accepted, nothing more to do.
    assert_eq!(push(&url, &revoked, SET).await.0, 202);

    // Refused, each for its reason, and no session ends.
    let all = set(&issuer, "j2", SESSIONS_REVOKED, user.clone());
    let other_aud = issuer.sign(
        json!({"alg": "ES256", "typ": "secevent+jwt", "kid": "k1"}),
        &json!({"iss": issuer.url, "aud": "someone-else", "iat": now(), "jti": "j3",
                "sub_id": user, "events": {SESSIONS_REVOKED: {}}}),
    );
    let logout_typ = issuer.sign(
        json!({"alg": "ES256", "typ": "logout+jwt", "kid": "k1"}),
        &json!({"iss": issuer.url, "aud": CLIENT, "iat": now(), "jti": "j4",
                "sub_id": user, "events": {SESSIONS_REVOKED: {}}}),
    );
    // Another SET's claims under this one's signature.
    let mut tampered: Vec<String> = all.split('.').map(str::to_owned).collect();
    let other = set(
        &issuer,
        "j5",
        SESSIONS_REVOKED,
        json!({"format": "iss_sub",
        "iss": issuer.url, "sub": "person-2"}),
    );
    tampered[1] = other.split('.').nth(1).unwrap().to_owned();
    for (token, ct, err) in [
        (all.as_str(), "text/plain", "invalid_request"),
        (other_aud.as_str(), SET, "invalid_audience"),
        (logout_typ.as_str(), SET, "invalid_request"),
        (&tampered.join("."), SET, "invalid_key"),
    ] {
        assert_eq!(push(&url, token, ct).await, (400, err.to_owned()));
    }
    assert!(s.get(&b).is_some(), "no refused SET ended a session");

    // RISC sessions-revoked: every session of the person.
    assert_eq!(push(&url, &all, SET).await.0, 202);
    assert!(s.get(&b).is_none());
}
