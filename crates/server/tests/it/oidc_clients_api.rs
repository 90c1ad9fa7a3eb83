//! OpenID Connect clients on the admin API (`/api/v1/admin/oidc/clients`), on
//! both engines: register (the secret shown once, and it works), list, show,
//! change, rotate the secret (the old one refused at once), disable (the
//! client's grants revoked, its sign-ins refused), every change audited under
//! the operator whose key made it, refusals not audited, and all of it in
//! `/openapi.json`.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::oidc::{CB, authorize_url, oauth_error, pkce, refresh, signed_in_app};
use crate::support::*;

const CLIENTS: &str = "/api/v1/admin/oidc/clients";

async fn send(r: reqwest::RequestBuilder) -> (StatusCode, Value) {
    let r = r.send().await.unwrap();
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// Whether the token endpoint's neighbour accepts these client credentials:
/// introspection of a token nobody issued answers `active: false` to an
/// authenticated client and 401 `invalid_client` to anyone else.
async fn authenticates(t: &TestApp, id: &str, secret: &str) -> bool {
    let r = t
        .http
        .post(t.url("/oauth2/introspect"))
        .basic_auth(id, Some(secret))
        .form(&[("token", "nobody-issued-this")])
        .send()
        .await
        .unwrap();
    match r.status() {
        StatusCode::OK => {
            assert_eq!(r.json::<Value>().await.unwrap()["active"], false);
            true
        }
        StatusCode::UNAUTHORIZED => false,
        other => panic!("introspection answered {other}"),
    }
}

/// The `oidc.client_changed` entries: ("kind:id" of the actor, target, detail).
async fn client_changes(t: &TestApp) -> Vec<(String, String, Value)> {
    t.app
        .raw_store()
        .audit_entries(0, 10_000)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.action == "oidc.client_changed")
        .map(|e| {
            (
                format!("{}:{}", e.actor_kind, e.actor_id.unwrap_or_default()),
                e.target.unwrap_or_default(),
                serde_json::from_str(&e.detail).unwrap(),
            )
        })
        .collect()
}

both_engines!(
    operators_manage_clients_on_the_admin_api,
    |t: TestApp| async move {
        let (ann_op, ann) = t.app.create_operator("ann@ops.example").await.unwrap();
        let ann = ann.expose().to_owned();
        let url = |p: &str| t.url(&format!("{CLIENTS}{p}"));
        let get = |p: &str| t.http.get(url(p)).bearer_auth(&ann);
        let post = |p: &str, body: Value| t.http.post(url(p)).bearer_auth(&ann).json(&body);
        let patch = |p: &str, body: Value| t.http.patch(url(p)).bearer_auth(&ann).json(&body);

        // Operator routes: no key, no clients.
        assert_error(
            t.http.get(url("")).send().await.unwrap(),
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
        )
        .await;

        let (status, shop) = send(post(
            "",
            json!({"client_id": "shop", "name": "Shop", "redirect_uris": [CB],
                   "post_logout_redirect_uris": ["https://app.example/bye"]}),
        ))
        .await;
        assert_eq!(status, StatusCode::CREATED, "{shop}");
        assert_eq!(shop["client"]["client_id"], "shop");
        assert_eq!(shop["client"]["type"], "confidential");
        assert_eq!(shop["client"]["first_party"], false);
        assert_eq!(shop["client"]["redirect_uris"], json!([CB]));
        assert_eq!(shop["client"]["disabled_at"], Value::Null);
        let secret = shop["client_secret"].as_str().unwrap().to_owned();
        assert!(
            authenticates(&t, "shop", &secret).await,
            "the secret shown works"
        );

        let (status, spa) = send(post(
            "",
            json!({"client_id": "spa", "name": "SPA", "redirect_uris": [CB],
                   "public": true, "first_party": true}),
        ))
        .await;
        assert_eq!(status, StatusCode::CREATED, "{spa}");
        assert_eq!(spa["client"]["type"], "public");
        assert_eq!(
            spa["client_secret"],
            Value::Null,
            "a public client has none"
        );

        // Refusals, each saying what is wrong, none audited.
        let r = post(
            "",
            json!({"client_id": "shop", "name": "Again", "redirect_uris": [CB]}),
        );
        assert_error(r.send().await.unwrap(), StatusCode::CONFLICT, "conflict").await;
        for (body, field) in [
            (
                json!({"client_id": "x", "name": "X", "redirect_uris": ["https://app.example/cb#frag"]}),
                "redirect_uri",
            ),
            (
                json!({"client_id": "x", "name": "X", "redirect_uris": []}),
                "redirect_uri",
            ),
            (
                json!({"client_id": "bad id!", "name": "X", "redirect_uris": [CB]}),
                "client_id",
            ),
            (
                json!({"client_id": "x", "name": " ", "redirect_uris": [CB]}),
                "name",
            ),
        ] {
            let e = assert_error(
                post("", body.clone()).send().await.unwrap(),
                StatusCode::BAD_REQUEST,
                "invalid_input",
            )
            .await;
            assert_eq!(e["error"]["field"], field, "{body} → {e}");
        }
        let r = post(
            "",
            json!({"client_id": "x", "name": "X", "redirect_uris": [CB], "secret": "mine"}),
        );
        assert_error(
            r.send().await.unwrap(),
            StatusCode::BAD_REQUEST,
            "malformed_body",
        )
        .await;

        // List and show: the facts, never a secret or its digest.
        let (status, list) = send(get("")).await;
        assert_eq!(status, StatusCode::OK);
        let ids: Vec<&str> = list["clients"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["client_id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, ["shop", "spa"]);
        let text = list.to_string();
        assert!(
            !text.contains("secret") && !text.contains(&secret),
            "{text}"
        );
        let (status, shown) = send(get("/shop")).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(shown, shop["client"]);
        assert_error(
            get("/nobody").send().await.unwrap(),
            StatusCode::NOT_FOUND,
            "not_found",
        )
        .await;

        // A change touches only the fields given.
        let (status, changed) = send(patch(
            "/shop",
            json!({"name": "The Shop", "first_party": true}),
        ))
        .await;
        assert_eq!(status, StatusCode::OK, "{changed}");
        assert_eq!(changed["name"], "The Shop");
        assert_eq!(changed["first_party"], true);
        assert_eq!(changed["redirect_uris"], json!([CB]));
        assert_eq!(
            changed["post_logout_redirect_uris"],
            json!(["https://app.example/bye"])
        );
        assert_eq!(changed["type"], "confidential");
        assert!(
            authenticates(&t, "shop", &secret).await,
            "a change keeps the secret"
        );
        assert_error(
            patch("/shop", json!({})).send().await.unwrap(),
            StatusCode::BAD_REQUEST,
            "invalid_input",
        )
        .await;
        assert_error(
            patch("/nobody", json!({"name": "N"})).send().await.unwrap(),
            StatusCode::NOT_FOUND,
            "not_found",
        )
        .await;

        // A new secret, once; the old one is refused at once.
        let (status, rotated) = send(post("/shop/rotate-secret", json!({}))).await;
        assert_eq!(status, StatusCode::OK, "{rotated}");
        let new_secret = rotated["client_secret"].as_str().unwrap();
        assert_ne!(new_secret, secret);
        assert!(
            !authenticates(&t, "shop", &secret).await,
            "the old secret stops"
        );
        assert!(authenticates(&t, "shop", new_secret).await);
        assert_error(
            post("/spa/rotate-secret", json!({})).send().await.unwrap(),
            StatusCode::BAD_REQUEST,
            "invalid_input",
        )
        .await;

        // Disabled: its secret is refused; a second disable changes nothing.
        let (status, off) = send(post("/shop/disable", json!({}))).await;
        assert_eq!(status, StatusCode::OK, "{off}");
        assert_eq!(off["changed"], true);
        assert!(off["client"]["disabled_at"].is_string());
        assert!(!authenticates(&t, "shop", new_secret).await);
        let (_, again) = send(post("/shop/disable", json!({}))).await;
        assert_eq!(again["changed"], false);
        assert_eq!(again["client"]["disabled_at"], off["client"]["disabled_at"]);

        // Each change once, under Ann, with what changed; no refusal audited.
        let ann_id = format!("operator:{}", ann_op.id);
        let changes: Vec<(String, String, String)> = client_changes(&t)
            .await
            .into_iter()
            .map(|(who, target, d)| (who, target, d["change"].as_str().unwrap().to_owned()))
            .collect();
        let expected: Vec<(String, String, String)> = [
            ("shop", "created"),
            ("spa", "created"),
            ("shop", "updated"),
            ("shop", "secret_rotated"),
            ("shop", "disabled"),
        ]
        .into_iter()
        .map(|(c, what)| (ann_id.clone(), c.to_owned(), what.to_owned()))
        .collect();
        assert_eq!(changes, expected);

        let spec = t.get_json("/openapi.json").await;
        for (path, method) in [
            ("/api/v1/admin/oidc/clients", "get"),
            ("/api/v1/admin/oidc/clients", "post"),
            ("/api/v1/admin/oidc/clients/{id}", "get"),
            ("/api/v1/admin/oidc/clients/{id}", "patch"),
            ("/api/v1/admin/oidc/clients/{id}/rotate-secret", "post"),
            ("/api/v1/admin/oidc/clients/{id}/disable", "post"),
        ] {
            assert!(
                spec["paths"][path][method].is_object(),
                "{method} {path} missing from /openapi.json"
            );
        }
    }
);

both_engines!(
    changes_on_the_api_reach_sign_in_at_once,
    |t: TestApp| async move {
        let (_, ann) = t.app.create_operator("ann@ops.example").await.unwrap();
        let ann = ann.expose().to_owned();
        let (b, secret, tokens) = signed_in_app(&t, "ida@example.com").await;
        let rt = tokens["refresh_token"].as_str().unwrap();

        // A redirect URI taken away is refused as a page, never redirected to.
        let other = "https://app.example/other/callback";
        let r = t
            .http
            .patch(t.url(&format!("{CLIENTS}/shop")))
            .bearer_auth(&ann)
            .json(&json!({"redirect_uris": [other]}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let p = pkce("b");
        let r = b
            .get(authorize_url(&t, "shop", &p, &[]))
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.status(),
            StatusCode::BAD_REQUEST,
            "the old URI is refused"
        );
        assert!(r.headers().get("location").is_none());
        let r = b
            .get(authorize_url(&t, "shop", &p, &[("redirect_uri", other)]))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        assert!(
            r.headers()["location"].to_str().unwrap().starts_with(other),
            "the new one works"
        );

        // Disabling revokes the grant the app holds: its refresh is refused.
        let r = t
            .post_json_auth(&format!("{CLIENTS}/shop/disable"), &ann, &json!({}))
            .await;
        assert_eq!(r.status(), StatusCode::OK);
        oauth_error(
            refresh(&t, rt, "shop", &secret).await,
            StatusCode::UNAUTHORIZED,
            "invalid_client",
        )
        .await;
        let revoked = client_changes(&t)
            .await
            .into_iter()
            .find(|(_, _, d)| d["change"] == "disabled")
            .expect("the disable is audited");
        assert_eq!(revoked.2["grants_revoked"], 1, "{}", revoked.2);
        // And nobody signs in to it any more.
        let r = b
            .get(authorize_url(&t, "shop", &p, &[("redirect_uri", other)]))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        assert!(r.headers().get("location").is_none());
    }
);

both_engines!(the_console_lists_the_apps, |t: TestApp| async move {
    let console = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = console.get(t.url("/console/apps")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "operators only");
    assert!(
        r.headers()["location"]
            .to_str()
            .unwrap()
            .starts_with("/console/login")
    );

    t.app.create_operator("ann@ops.example").await.unwrap();
    let pw = "operators use long passphrases too";
    t.app
        .set_operator_password("ann@ops.example", pw)
        .await
        .unwrap();
    let r = console
        .post(t.url("/console/login"))
        .form(&[
            ("email", "ann@ops.example"),
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
    assert!(page.contains("No apps are registered yet."), "{page}");

    crate::oidc::client(&t, "shop", false, false).await.unwrap();
    crate::oidc::client(&t, "spa", true, true).await;
    t.app
        .oidc_disable_client("spa", gatehouse_domain::audit::Actor::System)
        .await
        .unwrap();
    let page = console
        .get(t.url("/console/apps"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains(r#"aria-current="page">Apps"#),
        "the nav marks the page"
    );
    for fact in [
        "App shop",
        "<code>shop</code>",
        "Confidential (has a secret)",
        "Third party: people are asked first",
        "<code>https://app.example/auth/callback</code>",
        "<code>https://app.example/signed-out</code>",
        "App spa",
        "Public (PKCE only, no secret)",
        "First party: no consent page",
        r#"data-state="disabled""#,
        r#"data-state="enabled""#,
        &format!("{}/.well-known/openid-configuration", t.app.oidc_issuer()),
    ] {
        assert!(page.contains(fact), "{fact} missing from the page:\n{page}");
    }
    assert!(!page.contains("No apps are registered yet."));
});
