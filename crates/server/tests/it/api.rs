//! HTTP integration tests: the real server on port 0, one fresh database per
//! test, every test on SQLite and on PostgreSQL.

use crate::support::*;
use reqwest::StatusCode;
use reqwest::header;
use serde_json::{Value, json};

const PW: &str = "correct horse battery staple";

both_engines!(signup_login_me_logout, |t: TestApp| async move {
    let r = t
        .post_json(
            "/api/v1/accounts",
            &json!({"email": " Ada@Example.COM ", "password": PW}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["email"], "Ada@example.com");
    assert!(body["id"].as_str().unwrap().len() == 36);

    let dup = t
        .post_json(
            "/api/v1/accounts",
            &json!({"email": "ada@example.com", "password": PW}),
        )
        .await;
    assert_error(dup, StatusCode::CONFLICT, "conflict").await;

    let r = t
        .post_json(
            "/api/v1/sessions",
            &json!({"email": "ADA@example.com", "password": PW}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.starts_with("gatehouse_session=ghs_"), "{cookie}");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax") && cookie.contains("Path=/"),
        "{cookie}"
    );
    assert!(
        !cookie.contains("Secure"),
        "plain-http public URL: no Secure flag"
    );
    let body: Value = r.json().await.unwrap();
    let token = body["token"].as_str().unwrap().to_owned();
    assert!(body["expires_at"].as_str().unwrap().ends_with('Z'));

    let me: Value = t.get_auth("/api/v1/me", &token).await.json().await.unwrap();
    assert_eq!(me["email"], "Ada@example.com");
    // The cookie authenticates as well as the bearer token.
    let cookie_value = cookie.split(';').next().unwrap();
    let r = t
        .http
        .get(t.url("/api/v1/me"))
        .header("cookie", cookie_value)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);

    let r = t.delete_auth("/api/v1/sessions/current", &token).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert!(
        r.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    let r = t.get_auth("/api/v1/me", &token).await;
    assert_eq!(r.headers()["www-authenticate"], "Bearer");
    assert_error(r, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    let r = t.get_auth("/api/v1/me", "ghs_not-a-token").await;
    assert_error(r, StatusCode::UNAUTHORIZED, "unauthenticated").await;

    let actions = t.audit_actions().await;
    assert_eq!(
        actions,
        ["account.created", "login.succeeded", "session.ended"]
    );
});

both_engines!(
    wrong_password_and_unknown_account_look_the_same,
    |t: TestApp| async move {
        t.sign_up("bob@example.com", PW).await;
        let wrong = t
            .post_json(
                "/api/v1/sessions",
                &json!({"email": "bob@example.com", "password": "not the password at all"}),
            )
            .await;
        let unknown = t
            .post_json(
                "/api/v1/sessions",
                &json!({"email": "nobody@example.com", "password": PW}),
            )
            .await;
        assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(unknown.status(), StatusCode::UNAUTHORIZED);
        let (a, b) = (wrong.text().await.unwrap(), unknown.text().await.unwrap());
        assert_eq!(a, b);
        assert!(a.contains("invalid_credentials"));
        // Both are audited as failures; neither names whether the account exists.
        assert_eq!(
            t.audit_actions().await,
            ["account.created", "login.failed", "login.failed"]
        );
    }
);

both_engines!(password_rules, |t: TestApp| async move {
    let r = t
        .post_json(
            "/api/v1/accounts",
            &json!({"email": "c@example.com", "password": "short"}),
        )
        .await;
    let body = assert_error(r, StatusCode::BAD_REQUEST, "invalid_input").await;
    assert_eq!(body["error"]["field"], "password");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("at least 15")
    );
    let r = t
        .post_json(
            "/api/v1/accounts",
            &json!({"email": "not-an-email", "password": PW}),
        )
        .await;
    let body = assert_error(r, StatusCode::BAD_REQUEST, "invalid_input").await;
    assert_eq!(body["error"]["field"], "email");
    // 64 characters and more are accepted; no composition rules.
    let long = "a".repeat(64);
    assert_eq!(
        t.post_json(
            "/api/v1/accounts",
            &json!({"email": "d@example.com", "password": long})
        )
        .await
        .status(),
        StatusCode::CREATED
    );
    // NFKC: a password typed in fullwidth form matches its ASCII form.
    t.sign_up("e@example.com", "ｆｕｌｌｗｉｄｔｈ password here")
        .await;
    t.log_in("e@example.com", "fullwidth password here").await;
});

both_engines!(
    failed_logins_are_throttled_before_hashing,
    |t: TestApp| async move {
        t.sign_up("f@example.com", PW).await;
        for _ in 0..6 {
            let r = t
                .post_json(
                    "/api/v1/sessions",
                    &json!({"email": "f@example.com", "password": "wrong wrong wrong"}),
                )
                .await;
            assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        }
        // Blocked now, even with the right password; the answer says when to retry.
        let r = t
            .post_json(
                "/api/v1/sessions",
                &json!({"email": "f@example.com", "password": PW}),
            )
            .await;
        let retry: u64 = r.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=2).contains(&retry), "{retry}");
        assert_error(r, StatusCode::TOO_MANY_REQUESTS, "too_many_attempts").await;
        // Other accounts from other networks are unaffected by this account's block.
        t.sign_up("g@example.com", PW).await;
        t.log_in("g@example.com", PW).await;
        // The block ends by itself.
        tokio::time::sleep(std::time::Duration::from_millis(1100 * retry)).await;
        t.log_in("f@example.com", PW).await;
    }
);

both_engines!(sessions_are_listed_and_ended, |t: TestApp| async move {
    t.sign_up("h@example.com", PW).await;
    let t1 = t.log_in("h@example.com", PW).await;
    let t2 = t.log_in("h@example.com", PW).await;
    let t3 = t.log_in("h@example.com", PW).await;
    let list: Vec<Value> = t
        .get_auth("/api/v1/me/sessions", &t1)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list.len(), 3);
    assert_eq!(list.iter().filter(|s| s["current"] == true).count(), 1);
    assert!(
        list.iter()
            .all(|s| s["ip"] == "127.0.0.1" && s["user_agent"] == "gatehouse-tests")
    );
    let me2: Value = t.get_auth("/api/v1/me", &t2).await.json().await.unwrap();
    let id2 = me2["session_id"].as_str().unwrap();

    // Someone else cannot end my session: it is simply not found for them.
    t.sign_up("i@example.com", PW).await;
    let other = t.log_in("i@example.com", PW).await;
    let r = t
        .delete_auth(&format!("/api/v1/me/sessions/{id2}"), &other)
        .await;
    assert_error(r, StatusCode::NOT_FOUND, "not_found").await;
    let r = t.delete_auth("/api/v1/me/sessions/not-a-uuid", &t1).await;
    assert_error(r, StatusCode::NOT_FOUND, "not_found").await;

    let r = t
        .delete_auth(&format!("/api/v1/me/sessions/{id2}"), &t1)
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        t.get_auth("/api/v1/me", &t2).await.status(),
        StatusCode::UNAUTHORIZED,
        "ended at once, cache or not"
    );

    let r: Value = t
        .delete_auth("/api/v1/me/sessions", &t1)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(r["sessions_ended"], 1);
    assert_eq!(
        t.get_auth("/api/v1/me", &t3).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(t.get_auth("/api/v1/me", &t1).await.status(), StatusCode::OK);
    assert_eq!(
        t.get_auth("/api/v1/me", &other).await.status(),
        StatusCode::OK,
        "other accounts untouched"
    );
});

both_engines!(password_change, |t: TestApp| async move {
    t.sign_up("j@example.com", PW).await;
    let current = t.log_in("j@example.com", PW).await;
    let other = t.log_in("j@example.com", PW).await;
    let change = |cur: &str, new: &str| json!({"current_password": cur, "new_password": new});

    let r = t
        .post_json_auth(
            "/api/v1/me/password",
            &current,
            &change("wrong wrong wrong", "a brand new passphrase"),
        )
        .await;
    assert_error(r, StatusCode::FORBIDDEN, "wrong_password").await;
    let r = t
        .post_json_auth("/api/v1/me/password", &current, &change(PW, "too short"))
        .await;
    let body = assert_error(r, StatusCode::BAD_REQUEST, "invalid_input").await;
    assert_eq!(body["error"]["field"], "new_password");
    let r = t
        .post_json("/api/v1/me/password", &change(PW, "a brand new passphrase"))
        .await;
    assert_error(r, StatusCode::UNAUTHORIZED, "unauthenticated").await;

    let r = t
        .post_json_auth(
            "/api/v1/me/password",
            &current,
            &change(PW, "a brand new passphrase"),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.json::<Value>().await.unwrap()["sessions_ended"], 1);
    assert_eq!(
        t.get_auth("/api/v1/me", &current).await.status(),
        StatusCode::OK,
        "the changing session stays"
    );
    assert_eq!(
        t.get_auth("/api/v1/me", &other).await.status(),
        StatusCode::UNAUTHORIZED,
        "the others end"
    );
    let r = t
        .post_json(
            "/api/v1/sessions",
            &json!({"email": "j@example.com", "password": PW}),
        )
        .await;
    assert_eq!(
        r.status(),
        StatusCode::UNAUTHORIZED,
        "the old password no longer works"
    );
    let third = t.log_in("j@example.com", "a brand new passphrase").await;

    // Keeping other sessions is possible on request.
    let body = json!({"current_password": "a brand new passphrase", "new_password": "yet another passphrase", "end_other_sessions": false});
    let r = t
        .post_json_auth("/api/v1/me/password", &current, &body)
        .await;
    assert_eq!(r.json::<Value>().await.unwrap()["sessions_ended"], 0);
    assert_eq!(
        t.get_auth("/api/v1/me", &third).await.status(),
        StatusCode::OK
    );
    assert!(
        t.audit_actions()
            .await
            .iter()
            .filter(|a| *a == "password.changed")
            .count()
            == 2
    );
});

both_engines!(bad_input_gets_clear_errors, |t: TestApp| async move {
    let r = t
        .http
        .post(t.url("/api/v1/accounts"))
        .header("content-type", "application/json")
        .body("{\"email\":")
        .send()
        .await
        .unwrap();
    assert_error(r, StatusCode::BAD_REQUEST, "malformed_body").await;
    let r = t
        .http
        .post(t.url("/api/v1/accounts"))
        .header("content-type", "application/json")
        .body("{\"email\":\"x@example.com\"}")
        .send()
        .await
        .unwrap();
    let body = assert_error(r, StatusCode::BAD_REQUEST, "malformed_body").await;
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("password"),
        "{body}"
    );
    let r = t
        .http
        .post(t.url("/api/v1/accounts"))
        .body("email=x")
        .send()
        .await
        .unwrap();
    assert_error(
        r,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await;
    let huge = json!({"email": "x@example.com", "password": "p".repeat(100_000)});
    assert_error(
        t.post_json("/api/v1/accounts", &huge).await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
    )
    .await;
    assert_error(
        t.http
            .get(t.url("/api/v1/nothing/here"))
            .send()
            .await
            .unwrap(),
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert_error(
        t.http.put(t.url("/api/v1/me")).send().await.unwrap(),
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
    )
    .await;
    let r = t.http.get(t.url("/no-such-page")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    // The process is still fine.
    assert_eq!(
        t.http.get(t.url("/healthz")).send().await.unwrap().status(),
        StatusCode::OK
    );
});

both_engines!(
    surface_health_metrics_openapi_headers,
    |t: TestApp| async move {
        let h: Value = t.get_json("/healthz").await;
        assert_eq!(h["status"], "ok");
        assert_eq!(h["engine"], t.engine);

        let r = t.http.get(t.url("/login")).send().await.unwrap();
        let hdr = |n: &str| {
            r.headers()
                .get(n)
                .map(|v| v.to_str().unwrap().to_owned())
                .unwrap_or_default()
        };
        assert!(hdr("content-security-policy").contains("frame-ancestors 'none'"));
        assert_eq!(hdr("referrer-policy"), "no-referrer");
        assert_eq!(hdr("x-content-type-options"), "nosniff");
        assert!(!hdr("x-request-id").is_empty());

        let spec: Value = t.get_json("/openapi.json").await;
        let paths = spec["paths"].as_object().unwrap();
        for (path, method) in [
            ("/api/v1/accounts", "post"),
            ("/api/v1/sessions", "post"),
            ("/api/v1/sessions/current", "delete"),
            ("/api/v1/me", "get"),
            ("/api/v1/me/sessions", "get"),
            ("/api/v1/me/sessions", "delete"),
            ("/api/v1/me/sessions/{id}", "delete"),
            ("/api/v1/me/password", "post"),
            ("/api/v1/me/campaigns", "get"),
            ("/api/v1/admin/audit", "get"),
            ("/api/v1/admin/audit/verify", "get"),
        ] {
            assert!(
                paths.get(path).and_then(|p| p.get(method)).is_some(),
                "{method} {path} missing from the OpenAPI spec"
            );
        }

        let m = t.metrics().await;
        assert!(m.contains("http_requests_total"), "{m}");
    }
);

both_engines!(
    metrics_need_their_token_and_never_tell_whether_an_account_exists,
    |t: TestApp| async move {
        t.sign_up("known@example.com", PW).await;
        // Without the token, or with another: 401, nothing shown.
        let r = t.http.get(t.url("/metrics")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        assert!(r.headers().contains_key("www-authenticate"));
        assert!(!r.text().await.unwrap().contains("gatehouse_"));
        let r = t
            .http
            .get(t.url("/metrics"))
            .bearer_auth("test-metrics-token-0123456789abcdef012345678X")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        // Recovery for a known and an unknown address moves the same counter
        // the same way: nothing labelled by what the lookup found.
        let recovery_lines = |m: &str| -> Vec<String> {
            m.lines()
                .filter(|l| l.starts_with("gatehouse_recovery_requests_total"))
                .map(|l| l.rsplit_once(' ').unwrap().0.to_owned())
                .collect()
        };
        for email in ["known@example.com", "nobody@example.com"] {
            let r = t
                .post_json("/api/v1/recovery", &json!({ "email": email }))
                .await;
            assert_eq!(r.status(), StatusCode::ACCEPTED, "{email}");
        }
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        let m = t.metrics().await;
        assert_eq!(
            recovery_lines(&m),
            ["gatehouse_recovery_requests_total"],
            "one series, no result label: {m}"
        );
        assert!(!m.contains("no_account"), "{m}");
        // A server without a token file serves no metrics at all.
        let plain = t
            .restart_with(&[("GATEHOUSE_METRICS_TOKEN_FILE", "")])
            .await;
        let r = plain.http.get(plain.url("/metrics")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
    }
);

both_engines!(cross_site_form_posts_are_refused, |t: TestApp| async move {
    t.sign_up("k@example.com", PW).await;
    let form = [("email", "k@example.com"), ("password", PW)];
    let r = t
        .http
        .post(t.url("/login"))
        .header("origin", "https://evil.example")
        .header("sec-fetch-site", "cross-site")
        .form(&form)
        .send()
        .await
        .unwrap();
    // A person's browser gets a page saying what happened, with a way back...
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let ctype = r.headers()[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(ctype.starts_with("text/html"), "{ctype}");
    let html = r.text().await.unwrap();
    assert!(
        html.contains("<h1>This form came from another site</h1>"),
        "{html}"
    );
    assert!(html.contains("nothing was changed"), "{html}");
    assert!(
        html.contains(&t.base),
        "names the site's own address: {html}"
    );
    assert!(
        html.contains(r#"<a href="/">Go to the start page</a>"#),
        "{html}"
    );
    assert!(!html.contains("cross_origin_request"), "{html}");
    // ...as does an operator on a console form (the console's own way back)...
    let r = t
        .http
        .post(t.url("/console/breaker/trip"))
        .header("origin", "https://evil.example")
        .header("sec-fetch-site", "cross-site")
        .form(&[("reason", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let html = r.text().await.unwrap();
    assert!(
        html.contains(r#"<a href="/console">Back to the console</a>"#),
        "{html}"
    );
    // ...while the JSON API keeps its error shape.
    let r = t
        .http
        .post(t.url("/api/v1/sessions"))
        .header("origin", "https://evil.example")
        .header("sec-fetch-site", "cross-site")
        .json(&json!({ "email": "k@example.com", "password": PW }))
        .send()
        .await
        .unwrap();
    assert_error(r, StatusCode::FORBIDDEN, "cross_origin_request").await;
    // A form body the page cannot read: a page too, with the status kept.
    let r = t
        .http
        .post(t.url("/login"))
        .header("origin", t.base.clone())
        .header("sec-fetch-site", "same-origin")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body("email=k%40example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let html = r.text().await.unwrap();
    assert!(
        html.contains("<h1>That form could not be read</h1>"),
        "{html}"
    );
    assert!(html.contains("Nothing was changed."), "{html}");
    assert!(
        html.contains(r#"<a href="/">Go to the start page</a>"#),
        "{html}"
    );
    let r = t
        .http
        .post(t.url("/login"))
        .header("origin", "https://evil.example")
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::FORBIDDEN,
        "a foreign Origin alone is refused"
    );
    let r = t
        .http
        .post(t.url("/login"))
        .header("origin", t.base.clone())
        .header("sec-fetch-site", "same-origin")
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
});

both_engines!(
    pages_sign_up_change_password_and_sessions,
    |t: TestApp| async move {
        let page = t.http.get(t.url("/signup")).send().await.unwrap();
        assert_eq!(page.status(), StatusCode::OK);
        let html = page.text().await.unwrap();
        assert!(
            html.contains("<form method=\"post\" action=\"/signup\">")
                && html.contains("<label for=\"password\">")
        );

        // Mismatched confirmation: the form comes back with the address kept and a message.
        let r = t
            .post_form(
                "/signup",
                &[
                    ("email", "<b>l</b>@example.com"),
                    ("password", PW),
                    ("password_confirm", "x"),
                ],
            )
            .await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        let html = r.text().await.unwrap();
        assert!(html.contains("not the same"));
        assert!(
            html.contains("&#60;b&#62;l&#60;/b&#62;@example.com") || html.contains("&lt;b&gt;"),
            "input is escaped: {html}"
        );

        let r = t
            .post_form(
                "/signup",
                &[
                    ("email", "l@example.com"),
                    ("password", PW),
                    ("password_confirm", PW),
                ],
            )
            .await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        assert_eq!(r.headers()["location"], "/settings?done=welcome");
        let html = t.page("/settings").await;
        assert!(
            html.contains("l@example.com") && html.contains("This device"),
            "{html}"
        );

        // A second session, from elsewhere (another cookie jar).
        let elsewhere = t.log_in("l@example.com", PW).await;
        let html = t.page("/settings").await;
        assert!(html.contains("Sign out all other sessions"));

        // Wrong current password: a message, nothing changes.
        let form = change_form("wrong wrong wrong");
        let r = t.post_form("/settings/password", &form).await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        assert!(
            r.text()
                .await
                .unwrap()
                .contains("current password is not correct")
        );
        let form = change_form(PW);
        let r = t.post_form("/settings/password", &form).await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        assert_eq!(r.headers()["location"], "/settings?done=password");
        assert_eq!(
            t.get_auth("/api/v1/me", &elsewhere).await.status(),
            StatusCode::UNAUTHORIZED
        );
        let html = t.page("/settings?done=password").await;
        assert!(html.contains("Your password was changed."));

        let r = t.http.post(t.url("/logout")).send().await.unwrap();
        assert_eq!(r.headers()["location"], "/login?done=logout");
        let r = t.http.get(t.url("/settings")).send().await.unwrap();
        assert_eq!(r.headers()["location"], "/login");

        // Login page: wrong password shows the neutral message; right one signs in.
        let r = t
            .post_form("/login", &[("email", "l@example.com"), ("password", PW)])
            .await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        assert!(
            r.text()
                .await
                .unwrap()
                .contains("e-mail address or password is not correct")
        );
        let r = t
            .post_form(
                "/login",
                &[
                    ("email", "l@example.com"),
                    ("password", "the new page password"),
                ],
            )
            .await;
        assert_eq!(r.headers()["location"], "/settings");
    }
);

both_engines!(operator_key_guards_admin_routes, |t: TestApp| async move {
    let (_op, key) = t.app.create_operator("ops@example.com").await.unwrap();
    t.sign_up("m@example.com", PW).await;
    let user = t.log_in("m@example.com", PW).await;
    assert_error(
        t.http
            .get(t.url("/api/v1/admin/audit"))
            .send()
            .await
            .unwrap(),
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    )
    .await;
    assert_error(
        t.get_auth("/api/v1/admin/audit", &user).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    )
    .await;
    let entries: Vec<Value> = t
        .get_auth("/api/v1/admin/audit?limit=2", key.expose())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0]["action"], "operator.created");
    assert_eq!(entries[1]["ip"], "127.0.0.1");
    let v: Value = t
        .get_auth("/api/v1/admin/audit/verify", key.expose())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["intact"], true);
    assert_eq!(v["entries"], 3);
});

both_engines!(
    imported_bcrypt_hash_logs_in_and_is_upgraded,
    |t: TestApp| async move {
        let hash = bcrypt::hash("an imported legacy password", 4).unwrap();
        let file = format!(
            "{}\n\n{}\nnot json\n",
            json!({"email": "legacy@example.com", "password_hash": hash, "created_at": "2019-05-01T10:00:00Z"}),
            json!({"email": "legacy@example.com", "password_hash": hash})
        );
        let report = t
            .app
            .import_accounts(file.as_bytes(), 2, |_| {})
            .await
            .unwrap();
        assert_eq!(
            (
                report.lines,
                report.inserted,
                report.skipped_existing,
                report.error_count
            ),
            (3, 1, 1, 1)
        );
        assert_eq!(report.errors[0].line, 4);
        t.log_in("legacy@example.com", "an imported legacy password")
            .await;
        let hash = t.stored_hash("legacy@example.com").await;
        assert!(hash.starts_with("$argon2id$"), "upgraded at login: {hash}");
        t.log_in("legacy@example.com", "an imported legacy password")
            .await;
    }
);

both_engines!(
    overloaded_hash_pool_answers_503,
    |t: TestApp| async move {
        t.sign_up("n@example.com", PW).await;
        let mut tasks = Vec::new();
        for _ in 0..24 {
            let http = reqwest::Client::new();
            let url = t.url("/api/v1/sessions");
            tasks.push(tokio::spawn(async move {
                http.post(url)
                    .json(&json!({"email": "n@example.com", "password": PW}))
                    .send()
                    .await
                    .unwrap()
            }));
        }
        let mut statuses = Vec::new();
        for task in tasks {
            let r = task.await.unwrap();
            if r.status() == StatusCode::SERVICE_UNAVAILABLE {
                assert_eq!(r.headers()["retry-after"], "1");
            }
            statuses.push(r.status());
        }
        assert!(statuses.contains(&StatusCode::CREATED), "{statuses:?}");
        assert!(
            statuses.contains(&StatusCode::SERVICE_UNAVAILABLE),
            "{statuses:?}"
        );
        assert!(
            statuses
                .iter()
                .all(|s| *s == StatusCode::CREATED || *s == StatusCode::SERVICE_UNAVAILABLE)
        );
    },
    |c: &mut Vec<(String, String)>| {
        c.push(("GATEHOUSE_HASH_WORKERS".into(), "1".into()));
        c.push(("GATEHOUSE_HASH_QUEUE".into(), "1".into()));
        c.push(("GATEHOUSE_HASH_QUEUE_TIMEOUT_MS".into(), "20".into()));
        c.push(("GATEHOUSE_ARGON2_MEMORY_KIB".into(), "19456".into()));
        c.push(("GATEHOUSE_ARGON2_ITERATIONS".into(), "4".into()));
    }
);

both_engines!(
    https_public_url_hardens_cookies,
    |t: TestApp| async move {
        t.sign_up("o@example.com", PW).await;
        let r = t
            .post_json(
                "/api/v1/sessions",
                &json!({"email": "o@example.com", "password": PW}),
            )
            .await;
        let cookie = r.headers()["set-cookie"].to_str().unwrap().to_owned();
        assert!(
            cookie.starts_with("__Host-gatehouse_session=") && cookie.contains("Secure"),
            "{cookie}"
        );
        assert!(
            r.headers()["strict-transport-security"]
                .to_str()
                .unwrap()
                .contains("max-age=")
        );
    },
    |c: &mut Vec<(String, String)>| c.push((
        "GATEHOUSE_PUBLIC_URL".into(),
        "https://id.example.com".into()
    ))
);

/// The settings page's password form, changing to "the new page password".
fn change_form(current: &str) -> [(&'static str, &str); 4] {
    [
        ("current_password", current),
        ("new_password", "the new page password"),
        ("new_password_confirm", "the new page password"),
        ("end_other_sessions", "on"),
    ]
}

/// The address recorded for a login that claims to come from 203.0.113.9 via X-Forwarded-For.
async fn recorded_ip_for_forwarded_login(t: &TestApp, email: &str) -> Value {
    t.sign_up(email, PW).await;
    let r = t
        .http
        .post(t.url("/api/v1/sessions"))
        .header("x-forwarded-for", "203.0.113.9")
        .json(&json!({"email": email, "password": PW}))
        .send()
        .await
        .unwrap();
    let token = r.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let list: Vec<Value> = t
        .get_auth("/api/v1/me/sessions", &token)
        .await
        .json()
        .await
        .unwrap();
    list[0]["ip"].clone()
}

both_engines!(
    forwarded_for_is_trusted_only_from_configured_proxies,
    |t: TestApp| async move {
        assert_eq!(
            recorded_ip_for_forwarded_login(&t, "p@example.com").await,
            "203.0.113.9"
        );
    },
    |c: &mut Vec<(String, String)>| c
        .push(("GATEHOUSE_TRUSTED_PROXIES".into(), "127.0.0.1/32".into()))
);

both_engines!(
    forwarded_for_is_ignored_by_default,
    |t: TestApp| async move {
        assert_eq!(
            recorded_ip_for_forwarded_login(&t, "q@example.com").await,
            "127.0.0.1"
        );
    }
);

#[tokio::test]
async fn stale_argon2_parameters_are_upgraded_at_login() {
    let t = TestApp::spawn(Engine::Sqlite, &[]).await.unwrap();
    t.sign_up("r@example.com", PW).await;
    let before = t.stored_hash("r@example.com").await;
    assert!(before.contains("m=1024,t=1,p=1"), "{before}");
    // The operator raises the cost: the next login rehashes.
    let stronger = t
        .restart_with(&[("GATEHOUSE_ARGON2_MEMORY_KIB", "2048")])
        .await;
    stronger.log_in("r@example.com", PW).await;
    let after = stronger.stored_hash("r@example.com").await;
    assert!(after.contains("m=2048,t=1,p=1"), "{after}");
    assert!(
        stronger
            .audit_actions()
            .await
            .contains(&"password.rehashed".to_string())
    );
}

#[tokio::test]
async fn default_parameters_are_owasp_argon2id() {
    let cfg = gatehouse_server::Config::load_from(None, Vec::new()).unwrap();
    let h = gatehouse_server::app::hashing::Hasher::new(
        cfg.argon2,
        1,
        1,
        std::time::Duration::from_secs(1),
        &gatehouse_domain::OsEntropy,
    )
    .unwrap();
    let hash = h
        .hash_now("whatever it may be", &gatehouse_domain::OsEntropy)
        .unwrap();
    assert!(
        hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{hash}"
    );
}

both_engines!(sign_ups_are_limited_per_network, |t: TestApp| async move {
    for i in 0..5 {
        t.sign_up(&format!("s{i}@example.com"), PW).await;
    }
    // The sixth sign-up from one network within the window is counted and delayed.
    t.sign_up("s5@example.com", PW).await;
    let r = t
        .post_json(
            "/api/v1/accounts",
            &json!({"email": "s6@example.com", "password": PW}),
        )
        .await;
    assert!(r.headers().contains_key("retry-after"));
    assert_error(r, StatusCode::TOO_MANY_REQUESTS, "too_many_attempts").await;
    // Logins are not affected.
    t.log_in("s0@example.com", PW).await;
});

both_engines!(
    token_bearing_answers_are_never_cached,
    |t: TestApp| async move {
        t.sign_up("cache@example.com", PW).await;
        let r = t
            .post_json(
                "/api/v1/sessions",
                &json!({"email": "cache@example.com", "password": PW}),
            )
            .await;
        assert_eq!(r.status(), StatusCode::CREATED);
        assert_eq!(r.headers()["cache-control"], "no-store");
        for path in ["/settings", "/console/login", "/login", "/api/v1/me"] {
            let r = t.http.get(t.url(path)).send().await.unwrap();
            assert_eq!(r.headers()["cache-control"], "no-store", "{path}");
        }
        // The public status page may be cached (it must survive an incident's load).
        let r = t.http.get(t.url("/status")).send().await.unwrap();
        assert!(
            r.headers()
                .get("cache-control")
                .is_none_or(|v| v != "no-store")
        );
    }
);

both_engines!(
    bad_query_strings_and_path_segments_get_the_error_shape,
    |t: TestApp| async move {
        let (_op, key) = t.app.create_operator("ops@example.com").await.unwrap();
        let key = key.expose().to_string();
        for (path, status, code) in [
            ("/api/v1/admin/findings?limit=many", 400, "invalid_input"),
            (
                "/api/v1/admin/findings?limit=1&limit=2",
                400,
                "invalid_input",
            ),
            ("/api/v1/admin/findings?before=-x", 400, "invalid_input"),
            ("/api/v1/admin/audit?after=soon", 400, "invalid_input"),
            (
                "/api/v1/admin/rules/credential-stuffing?version=v1",
                400,
                "invalid_input",
            ),
            ("/api/v1/admin/campaigns?limit=%FF", 400, "invalid_input"),
            ("/api/v1/admin/outbox?limit=1e3", 400, "invalid_input"),
            ("/api/v1/admin/rules/%FF", 404, "not_found"),
            ("/api/v1/admin/campaigns/%FF", 404, "not_found"),
            (
                "/api/v1/admin/status/incidents/%FF%FE",
                400,
                "invalid_input",
            ),
            (
                "/api/v1/admin/status/components/%FF%FE",
                405,
                "method_not_allowed",
            ),
        ] {
            let r = t.get_auth(path, &key).await;
            assert_eq!(r.status().as_u16(), status, "{path}");
            assert!(
                r.headers()["content-type"]
                    .to_str()
                    .unwrap()
                    .starts_with("application/json"),
                "{path}"
            );
            let body: Value = r.json().await.unwrap();
            assert_eq!(body["error"]["code"], code, "{path}: {body}");
        }
    }
);

both_engines!(
    control_characters_are_refused_or_replaced_the_same_on_both_engines,
    |t: TestApp| async move {
        let (_op, key) = t.app.create_operator("ops@example.com").await.unwrap();
        let key = key.expose().to_string();
        t.sign_up("ctl@example.com", PW).await;
        let refused = |path: &'static str, body: Value, field: &'static str| {
            let t = &t;
            let key = key.clone();
            async move {
                let r = t.post_json_auth(path, &key, &body).await;
                let body = assert_error(r, StatusCode::BAD_REQUEST, "invalid_input").await;
                assert_eq!(body["error"]["field"], field, "{path}: {body}");
            }
        };
        let campaign = |name: &str, reason: &str| json!({"name": name, "reason": reason, "accounts": ["ctl@example.com"]});
        refused(
            "/api/v1/admin/campaigns",
            campaign("nul\0name", "why"),
            "name",
        )
        .await;
        refused(
            "/api/v1/admin/campaigns",
            campaign("spring", "\u{1b}[2Jcleared"),
            "reason",
        )
        .await;
        refused(
            "/api/v1/admin/campaigns",
            campaign("spring", &"long reason ".repeat(5000)),
            "reason",
        )
        .await;
        refused(
            "/api/v1/admin/breaker/trip",
            json!({"reason": "drill\0"}),
            "reason",
        )
        .await;
        refused(
            "/api/v1/admin/status/incidents",
            json!({"title": "Slow\r\nBcc: someone", "body": "b"}),
            "title",
        )
        .await;
        let r = t.get_auth("/api/v1/admin/findings?rule=%00", &key).await;
        assert_error(r, StatusCode::BAD_REQUEST, "invalid_input").await;
        assert!(t.app.search_accounts("ctl\0").await.unwrap().is_empty());
        // An app's event with a NUL in its user agent is kept, the NUL replaced:
        // refusing it would make the app resend the batch forever.
        let r = t
            .post_json_auth(
                "/api/v1/events/login",
                &key,
                &json!({"events": [{
                    "time": t.app.clock.now().to_rfc3339(),
                    "account": "ctl@example.com", "ip": "192.0.2.1",
                    "outcome": "success", "user_agent": "Agent\u{0}/1"}]}),
            )
            .await;
        assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
        let since = t.app.clock.now().minus(std::time::Duration::from_secs(60));
        let until = t.app.clock.now().plus(std::time::Duration::from_secs(60));
        let stored = t
            .app
            .raw_store()
            .login_events(since, until, None, 10)
            .await
            .unwrap();
        let ua: Vec<_> = stored.iter().filter_map(|e| e.user_agent.clone()).collect();
        assert!(ua.contains(&"Agent\u{FFFD}/1".to_owned()), "{ua:?}");
        // Nothing was created by the refused requests.
        assert!(t.app.list_campaigns(None, 10).await.unwrap().is_empty());
        assert!(!t.app.raw_store().breaker().await.unwrap().open);
    }
);

both_engines!(
    a_failed_sign_in_takes_the_floor_whatever_the_account_holds,
    |t: TestApp| async move {
        // An imported account still on its bcrypt hash, a native one, none.
        let imported = format!(
            "{}\n",
            json!({"email": "old@example.com", "password_hash": "$2b$04$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW"})
        );
        t.app
            .import_accounts(imported.as_bytes(), 10, |_| {})
            .await
            .unwrap();
        t.sign_up("native@example.com", PW).await;
        let t = t
            .restart_with(&[("GATEHOUSE_LOGIN_FAILURE_FLOOR_MS", "300")])
            .await;
        for email in [
            "old@example.com",
            "native@example.com",
            "nobody@example.com",
        ] {
            let started = std::time::Instant::now();
            let r = t
                .post_json(
                    "/api/v1/sessions",
                    &json!({"email": email, "password": "wrong wrong wrong"}),
                )
                .await;
            let took = started.elapsed();
            assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{email}");
            assert!(
                took >= std::time::Duration::from_millis(300),
                "{email}: answered after {took:?}, before the floor"
            );
        }
        // A success is not held back.
        let r = t
            .post_json(
                "/api/v1/sessions",
                &json!({"email": "native@example.com", "password": PW}),
            )
            .await;
        assert_eq!(r.status(), StatusCode::CREATED);
    }
);

// Person-facing pages carry the operator's name for the site, not the
// product's, in the title, the header and the footer (and the 404 page, which
// no handler of its own serves).
both_engines!(
    pages_carry_the_sites_own_name,
    |t: TestApp| async move {
        for (path, title) in [
            ("/login", "Sign in"),
            ("/signup", "Create an account"),
            ("/recover", "Recover your password"),
            ("/verify", "Check a notice"),
            ("/status", "Status"),
            ("/no-such-page", "Page not found"),
        ] {
            let page = t.page(path).await;
            assert!(
                page.contains(&format!("<title>{title} · Example ID</title>")),
                "{path}: {page}"
            );
            assert!(
                page.contains("Example ID will never ask for your password"),
                "{path}: {page}"
            );
            assert!(!page.contains("Gatehouse"), "{path}: {page}");
        }
    },
    |c: &mut Vec<(String, String)>| c.push(("GATEHOUSE_SITE_NAME".into(), "Example ID".into()))
);
