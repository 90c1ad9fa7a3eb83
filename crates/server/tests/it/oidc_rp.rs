//! An independent relying party — the `openidconnect` crate, written for
//! apps, not for this provider — against the real server on both engines:
//! discovery, authorization code with PKCE, ID-token validation (signature,
//! `iss`, `aud`, `nonce`, `exp`), userinfo, and refresh with rotation.

use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreJwsSigningAlgorithm, CoreProviderMetadata,
    CoreUserInfoClaims,
};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, OAuth2TokenResponse,
    PkceCodeChallenge, RedirectUrl, Scope, TokenResponse,
};
use reqwest::StatusCode;

use crate::oidc::{CB, PW, authorize, browser, client};
use crate::support::*;

on_both_engines!(an_independent_rp_signs_in_refreshes_and_reads_userinfo);

async fn an_independent_rp_signs_in_refreshes_and_reads_userinfo(engine: Engine) {
    let Some(t) = TestApp::spawn(engine, &[]).await else {
        return;
    };
    t.sign_up("rp@example.com", PW).await;
    let secret = client(&t, "rp-app", false, true).await.unwrap();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();

    let issuer = IssuerUrl::new(t.app.oidc_issuer()).unwrap();
    let meta = CoreProviderMetadata::discover_async(issuer, &http)
        .await
        .expect("discovery");
    let rp = CoreClient::from_provider_metadata(
        meta,
        ClientId::new("rp-app".into()),
        Some(ClientSecret::new(secret)),
    )
    .set_redirect_uri(RedirectUrl::new(CB.into()).unwrap());

    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, state, nonce) = rp
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("email".into()))
        .add_scope(Scope::new("offline_access".into()))
        .set_pkce_challenge(challenge)
        .url();

    let b = browser();
    let r = authorize(&t, &b, url.as_str(), "rp@example.com").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let back = url::Url::parse(r.headers()["location"].to_str().unwrap()).unwrap();
    let q: std::collections::HashMap<_, _> = back.query_pairs().into_owned().collect();
    assert_eq!(q["state"], *state.secret());
    assert_eq!(q["iss"], t.app.oidc_issuer());

    let tokens = rp
        .exchange_code(AuthorizationCode::new(q["code"].clone()))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .expect("code exchange");
    // The RP's own checks: signature against the JWKS, iss, aud, nonce, exp.
    let es256 = || {
        rp.id_token_verifier()
            .set_allowed_algs([CoreJwsSigningAlgorithm::EcdsaP256Sha256])
    };
    let id_token = tokens.id_token().expect("an ID token");
    let claims = id_token.claims(&es256(), &nonce).expect("a valid ID token");
    assert_eq!(claims.email().map(|e| e.as_str()), Some("rp@example.com"));
    assert!(claims.auth_time().is_some());
    // A different nonce fails: the RP would catch a replayed ID token.
    assert!(
        id_token
            .claims(&es256(), &Nonce::new("other".into()))
            .is_err()
    );
    // Another client's verifier refuses it (audience).
    let stranger = CoreClient::from_provider_metadata(
        CoreProviderMetadata::discover_async(IssuerUrl::new(t.app.oidc_issuer()).unwrap(), &http)
            .await
            .unwrap(),
        ClientId::new("someone-else".into()),
        None,
    );
    assert!(
        id_token
            .claims(
                &stranger
                    .id_token_verifier()
                    .set_allowed_algs([CoreJwsSigningAlgorithm::EcdsaP256Sha256]),
                &nonce
            )
            .is_err()
    );

    let info: CoreUserInfoClaims = rp
        .user_info(
            tokens.access_token().clone(),
            Some(claims.subject().clone()),
        )
        .unwrap()
        .request_async(&http)
        .await
        .expect("userinfo");
    assert_eq!(info.email().map(|e| e.as_str()), Some("rp@example.com"));

    let first_refresh = tokens
        .refresh_token()
        .expect("offline_access gives a refresh token");
    let refreshed = rp
        .exchange_refresh_token(first_refresh)
        .unwrap()
        .request_async(&http)
        .await
        .expect("refresh");
    let second_refresh = refreshed.refresh_token().expect("rotated");
    assert_ne!(first_refresh.secret(), second_refresh.secret());
    // The rotated-out token is refused (and revokes the family).
    assert!(
        rp.exchange_refresh_token(first_refresh)
            .unwrap()
            .request_async(&http)
            .await
            .is_err()
    );
    assert!(
        rp.exchange_refresh_token(second_refresh)
            .unwrap()
            .request_async(&http)
            .await
            .is_err()
    );
}
