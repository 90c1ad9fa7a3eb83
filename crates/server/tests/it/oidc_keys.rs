//! Signing keys (issue 16, "Discovery and keys"): RS256 for a client
//! registered for it, validated by an independent JWT library
//! (`jsonwebtoken`); rotation that publishes a key before it signs and keeps
//! the one it replaces until every token it signed has expired; and no
//! algorithm confusion between the two kinds of key.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use gatehouse_domain::audit::Actor;
use gatehouse_server::app::oidc::{ClientSpec, PUBLISH_AHEAD, RETAIN_AFTER_SIGNING, SigningAlg};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::Sha256;
use std::time::Duration;

use crate::oidc::*;
use crate::support::*;

on_both_engines!(
    an_rs256_client_validates_its_id_token_with_an_independent_library,
    rotation_publishes_first_and_retires_only_after_expiry,
);

fn header_of(jwt: &str) -> Value {
    let h = jwt.split('.').next().unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(h).unwrap()).unwrap()
}

/// A fresh sign-in of `email` (already signed up) at client `id`.
async fn sign_in(t: &TestApp, id: &str, secret: &str, email: &str, seed: &str) -> Value {
    let p = pkce(seed);
    let r = authorize(t, &browser(), &authorize_url(t, id, &p, &[]), email).await;
    exchange(t, &code_of(t, &r), &p, id, secret).await
}

async fn an_rs256_client_validates_its_id_token_with_an_independent_library(engine: Engine) {
    let Some(t) = TestApp::spawn(engine, &[]).await else {
        return;
    };
    let d = t.get_json("/.well-known/openid-configuration").await;
    assert_eq!(
        d["id_token_signing_alg_values_supported"],
        json!(["ES256", "RS256"])
    );
    let spec = ClientSpec {
        name: "Old app".into(),
        redirect_uris: vec![CB.into()],
        first_party: true,
        id_token_alg: Some(SigningAlg::Rs256),
        ..ClientSpec::default()
    };
    let created = t
        .app
        .oidc_create_client("old", &spec, false, Actor::System)
        .await
        .unwrap();
    let secret = created.secret.unwrap().expose().to_owned();
    // Registering it published an RS256 key before any token.
    let jwks: JwkSet = serde_json::from_value(t.get_json("/oauth2/jwks").await).unwrap();
    assert_eq!(jwks.keys.len(), 2, "the ES256 key and the new RS256 key");

    t.sign_up("ro@example.com", PW).await;
    let tokens = sign_in(&t, "old", &secret, "ro@example.com", "rs").await;
    let id_token = tokens["id_token"].as_str().unwrap();
    let header = jsonwebtoken::decode_header(id_token).unwrap();
    assert_eq!(header.alg, Algorithm::RS256);
    let jwk = jwks
        .find(header.kid.as_deref().unwrap())
        .expect("kid published");
    let key = DecodingKey::from_jwk(jwk).unwrap();
    let mut v = Validation::new(Algorithm::RS256);
    v.set_issuer(&[t.app.oidc_issuer()]);
    v.set_audience(&["old"]);
    v.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
    let claims = jsonwebtoken::decode::<Value>(id_token, &key, &v)
        .expect("a relying party validates the RS256 ID token")
        .claims;
    assert_eq!(claims["aud"], "old");
    // Access tokens stay ES256 (only Gatehouse reads them); they work.
    let at = tokens["access_token"].as_str().unwrap();
    assert_eq!(header_of(at)["alg"], "ES256");
    assert_eq!(userinfo(&t, at).await.status(), StatusCode::OK);
    // A refresh signs the new ID token with RS256 too.
    let r = refresh(
        &t,
        tokens["refresh_token"].as_str().unwrap(),
        "old",
        &secret,
    )
    .await;
    let refreshed: Value = r.json().await.unwrap();
    assert_eq!(
        header_of(refreshed["id_token"].as_str().unwrap())["alg"],
        "RS256"
    );

    // Confusion: the access token's claims under an RS256 header naming the
    // ES256 key, or under HS256 keyed with the RSA public key, or `none`.
    let parts: Vec<&str> = at.split('.').collect();
    let es_kid = header_of(at)["kid"].as_str().unwrap().to_owned();
    let rs_kid = header.kid.clone().unwrap();
    let forge = |alg: &str, kid: &str| {
        URL_SAFE_NO_PAD.encode(json!({"alg": alg, "typ": "at+jwt", "kid": kid}).to_string())
    };
    let swapped = format!("{}.{}.{}", forge("RS256", &es_kid), parts[1], parts[2]);
    let hs_input = format!("{}.{}", forge("HS256", &rs_kid), parts[1]);
    let rsa_public = serde_json::to_string(jwk).unwrap();
    let mut mac =
        <hmac::Hmac<Sha256> as hmac::KeyInit>::new_from_slice(rsa_public.as_bytes()).unwrap();
    hmac::Mac::update(&mut mac, hs_input.as_bytes());
    let hs = format!(
        "{hs_input}.{}",
        URL_SAFE_NO_PAD.encode(hmac::Mac::finalize(mac).into_bytes())
    );
    let none = format!("{}.{}.", forge("none", &rs_kid), parts[1]);
    for forged in [&swapped, &hs, &none] {
        assert_eq!(
            userinfo(&t, forged).await.status(),
            StatusCode::UNAUTHORIZED,
            "{forged}"
        );
        assert_eq!(
            introspect(&t, forged, "old", &secret).await["active"],
            false
        );
    }
}

async fn rotation_publishes_first_and_retires_only_after_expiry(engine: Engine) {
    let Some(t) = TestApp::spawn(engine, &[]).await else {
        return;
    };
    let (_b, secret, tokens) = signed_in_app(&t, "ko@example.com").await;
    let old_at = tokens["access_token"].as_str().unwrap().to_owned();
    let old_kid = header_of(&old_at)["kid"].as_str().unwrap().to_owned();
    let kids = |jwks: Value| -> Vec<String> {
        jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap().to_owned())
            .collect()
    };

    let new_kid = t
        .app
        .oidc_rotate_key(SigningAlg::Es256, Actor::System)
        .await
        .unwrap();
    // Published at once, not yet signing.
    let published = kids(t.get_json("/oauth2/jwks").await);
    assert!(published.contains(&new_kid) && published.contains(&old_kid));
    let fresh = sign_in(&t, "shop", &secret, "ko@example.com", "r1").await;
    assert_eq!(
        header_of(fresh["id_token"].as_str().unwrap())["kid"],
        old_kid
    );

    // Once every cached JWKS has it, the new key signs; the old one stays
    // published and its tokens keep working until they expire.
    t.clock.advance(PUBLISH_AHEAD + Duration::from_secs(1));
    let fresh = sign_in(&t, "shop", &secret, "ko@example.com", "r2").await;
    assert_eq!(
        header_of(fresh["id_token"].as_str().unwrap())["kid"],
        new_kid
    );
    assert_eq!(
        header_of(fresh["access_token"].as_str().unwrap())["kid"],
        new_kid
    );
    assert!(kids(t.get_json("/oauth2/jwks").await).contains(&old_kid));
    assert_eq!(
        introspect(&t, &old_at, "shop", &secret).await["active"],
        true
    );
    let keys = t.app.oidc_keys().await.unwrap();
    let old = keys.iter().find(|k| k.kid == old_kid).unwrap();
    assert!(!old.signing && old.published_until.is_some(), "{old:?}");

    // Just before its last token can have expired it is still published;
    // after, it is gone from the JWKS.
    t.clock
        .advance(RETAIN_AFTER_SIGNING - Duration::from_secs(2));
    assert!(kids(t.get_json("/oauth2/jwks").await).contains(&old_kid));
    t.clock.advance(Duration::from_secs(2));
    assert_eq!(kids(t.get_json("/oauth2/jwks").await), vec![new_kid]);
}
