//! Exact matching and binding: redirect-URI variants, PKCE required (S256),
//! codes bound to client, redirect and verifier, client authentication,
//! public clients, `prompt`/`max_age`, and `/login`'s return-to.

use reqwest::StatusCode;
use reqwest::header::LOCATION;

use crate::oidc::*;
use crate::support::*;

on_both_engines!(redirects_pkce_and_clients_are_exact);

async fn redirects_pkce_and_clients_are_exact(engine: Engine) {
    let Some(t) = TestApp::spawn(engine, &[]).await else {
        return;
    };
    t.sign_up("cy@example.com", PW).await;
    let secret = client(&t, "shop", false, true).await.unwrap();
    let other = client(&t, "other", false, true).await.unwrap();
    let b = browser();
    let p = pkce("a");

    // Unknown client: a page, never a redirect.
    let r = b
        .get(authorize_url(&t, "nobody", &p, &[]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.headers().get(LOCATION).is_none());

    // Every variant of the registered redirect URI: a page, never a redirect.
    let variants = [
        "https://app.example:444/auth/callback",
        "https://app.example/auth/callback/evil",
        "https://app.example/auth/callbackx",
        "https://app.example/auth/callback?next=https://evil.example/",
        "https://app.example/auth/callback#x",
        "https://evil.example@app.example/auth/callback",
        "https://user:pw@app.example/auth/callback",
        "https://APP.example/auth/callback",
        "https://app.example/AUTH/callback",
        "https://app.example/auth%2Fcallback",
        "https://app.example/auth/callback%2F..%2Fevil",
        "http://app.example/auth/callback",
        "https://evil.example/auth/callback",
        "",
    ];
    for v in variants {
        let r = b
            .get(authorize_url(&t, "shop", &p, &[("redirect_uri", v)]))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{v}");
        assert!(r.headers().get(LOCATION).is_none(), "{v} redirected");
    }

    // Without PKCE, or with plain: refused back to the client.
    for extra in [
        vec![("code_challenge", ""), ("code_challenge_method", "")],
        vec![("code_challenge_method", "plain")],
    ] {
        let r = b
            .get(authorize_url(&t, "shop", &p, &extra))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        let loc = location(&r);
        assert!(loc.starts_with(CB));
        assert_eq!(param(&loc, "error").as_deref(), Some("invalid_request"));
        assert_eq!(param(&loc, "state").as_deref(), Some("st-1"));
    }
    // Unknown scope, implicit flow: refused.
    let r = b
        .get(authorize_url(&t, "shop", &p, &[("scope", "openid admin")]))
        .send()
        .await
        .unwrap();
    assert_eq!(
        param(&location(&r), "error").as_deref(),
        Some("invalid_scope")
    );
    let r = b
        .get(authorize_url(&t, "shop", &p, &[("response_type", "token")]))
        .send()
        .await
        .unwrap();
    assert_eq!(
        param(&location(&r), "error").as_deref(),
        Some("unsupported_response_type")
    );
    // prompt=none with nobody signed in.
    let r = b
        .get(authorize_url(&t, "shop", &p, &[("prompt", "none")]))
        .send()
        .await
        .unwrap();
    assert_eq!(
        param(&location(&r), "error").as_deref(),
        Some("login_required")
    );
    // /login follows only a local authorization request.
    for bad in [
        "https://evil.example/",
        "//evil.example/oauth2/authorize?x",
        "/settings",
    ] {
        let r = b
            .post(t.url("/login"))
            .form(&[
                ("email", "cy@example.com"),
                ("password", PW),
                ("return_to", bad),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(location(&r), "/settings", "{bad}");
    }

    // Codes are bound to their client, redirect and verifier.
    let r = authorize(
        &t,
        &b,
        &authorize_url(&t, "shop", &p, &[]),
        "cy@example.com",
    )
    .await;
    let code = code_of(&t, &r);
    for (form, basic) in [
        (
            vec![
                ("grant_type", "authorization_code"),
                ("code", code.as_str()),
                ("redirect_uri", CB),
                ("code_verifier", p.verifier.as_str()),
            ],
            ("other", other.as_str()),
        ),
        (
            vec![
                ("grant_type", "authorization_code"),
                ("code", code.as_str()),
                ("redirect_uri", "https://app.example/other"),
                ("code_verifier", p.verifier.as_str()),
            ],
            ("shop", secret.as_str()),
        ),
        (
            vec![
                ("grant_type", "authorization_code"),
                ("code", code.as_str()),
                ("redirect_uri", CB),
                ("code_verifier", pkce("z").verifier.as_str()),
            ],
            ("shop", secret.as_str()),
        ),
        (
            vec![
                ("grant_type", "authorization_code"),
                ("code", code.as_str()),
                ("redirect_uri", CB),
            ],
            ("shop", secret.as_str()),
        ),
    ] {
        let r = token(&t, &form, Some(basic)).await;
        oauth_error(r, StatusCode::BAD_REQUEST, "invalid_grant").await;
    }
    // A wrong secret, or none, for a confidential client.
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", CB),
        ("code_verifier", p.verifier.as_str()),
    ];
    oauth_error(
        token(&t, &form, Some(("shop", "ghk_nope"))).await,
        StatusCode::UNAUTHORIZED,
        "invalid_client",
    )
    .await;
    let mut no_secret = form.to_vec();
    no_secret.push(("client_id", "shop"));
    oauth_error(
        token(&t, &no_secret, None).await,
        StatusCode::UNAUTHORIZED,
        "invalid_client",
    )
    .await;
    // After all that, the right request still works (the failures did not use it).
    exchange(&t, &code, &p, "shop", &secret).await;

    // A public client: PKCE and its id, no secret.
    client(&t, "spa", true, true).await;
    let p2 = pkce("spa");
    let r = b
        .get(authorize_url(&t, "spa", &p2, &[]))
        .send()
        .await
        .unwrap();
    let code = code_of(&t, &r);
    let r = token(
        &t,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", CB),
            ("code_verifier", &p2.verifier),
            ("client_id", "spa"),
        ],
        None,
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);

    // Signed in already: prompt=login and max_age=0 ask for the password again
    // (once: the sign-in they asked for satisfies them); prompt=none does not ask.
    for extra in [("prompt", "login"), ("max_age", "0")] {
        let r = b
            .get(authorize_url(&t, "shop", &p, &[extra]))
            .send()
            .await
            .unwrap();
        assert!(location(&r).starts_with("/login?"), "{extra:?}");
        let r = authorize(
            &t,
            &b,
            &authorize_url(&t, "shop", &p, &[extra]),
            "cy@example.com",
        )
        .await;
        code_of(&t, &r);
    }
    let r = b
        .get(authorize_url(&t, "shop", &p, &[("prompt", "none")]))
        .send()
        .await
        .unwrap();
    code_of(&t, &r);
    let r = t
        .http
        .post(t.url("/oauth2/userinfo"))
        .bearer_auth("not-a-token")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(
        r.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("invalid_token")
    );
}
