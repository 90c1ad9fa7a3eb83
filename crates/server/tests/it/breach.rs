//! The breached-password index inside the server, over HTTP: refusals at every
//! password set (API and pages), the advice after a breached login, the check API
//! for other services, and reloads. Real index files, built here from a generated
//! corpus in the downloader's format plus a few known passwords; both engines.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::support::*;
use gatehouse_breach::{BuildOptions, synth};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha1::{Digest as _, Sha1};

/// In the corpus, seen 5,000 times (bucket lower bound 4,096).
const BREACHED: &str = "breached passphrase number one";
/// In the corpus, seen 20 times (bucket 16).
const BREACHED_TOO: &str = "breached passphrase number two";
/// Only in the second index of the reload test.
const BREACHED_LATER: &str = "breached only after the reload";
/// Never in any corpus.
const CLEAN: &str = "a clean passphrase nobody has used";
const CLEAN_TOO: &str = "another clean passphrase for today";

fn sha1_hex(p: &str) -> String {
    hex_upper(&Sha1::digest(p.as_bytes()).into())
}

fn hex_upper(h: &[u8; 20]) -> String {
    let mut out = [0u8; 40];
    synth::hex_upper(h, &mut out);
    String::from_utf8(out.to_vec()).unwrap()
}

/// Builds an index at `out` from 20,000 generated hashes plus `known` passwords
/// (one `HASH40:COUNT` file each), through the real import.
fn build_index(out: &Path, known: &[(&str, u64)]) {
    let dir = out.parent().unwrap();
    let generated = dir.join("generated.txt");
    synth::write_corpus_file(&generated, 20_000, 7).unwrap();
    let mut lines: Vec<String> = known
        .iter()
        .map(|(p, n)| format!("{}:{n}", sha1_hex(p)))
        .collect();
    lines.sort();
    let known_file = dir.join("known.txt");
    std::fs::write(&known_file, lines.join("\r\n") + "\r\n").unwrap();
    let opts = BuildOptions {
        source: "gatehouse server tests".into(),
        ..BuildOptions::default()
    };
    let report = gatehouse_breach::import(&[generated, known_file], out, &opts).unwrap();
    assert_eq!(report.keys, 20_000 + known.len() as u64);
}

fn fresh_dir(name: &str) -> PathBuf {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let dir = std::env::temp_dir().join(format!(
        "gatehouse-breach-{name}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The shared index (built once per test process): `BREACHED` and `BREACHED_TOO`.
fn shared_index() -> &'static Path {
    static INDEX: OnceLock<PathBuf> = OnceLock::new();
    INDEX.get_or_init(|| {
        let out = fresh_dir("shared").join("breach.idx");
        build_index(&out, &[(BREACHED, 5_000), (BREACHED_TOO, 20)]);
        out
    })
}

fn with_index(env: &mut Vec<(String, String)>) {
    env.push((
        "GATEHOUSE_BREACH_INDEX".into(),
        shared_index().display().to_string(),
    ));
}

async fn operator_key(t: &TestApp) -> String {
    let (_, key) = t.app.create_operator("ops@example.com").await.unwrap();
    key.expose().to_owned()
}

async fn check(t: &TestApp, key: &str, sha1: &str) -> reqwest::Response {
    t.post_json_auth("/api/v1/breach/check", key, &json!({ "sha1": sha1 }))
        .await
}

async fn check_ok(t: &TestApp, key: &str, sha1: &str) -> Value {
    let r = check(t, key, sha1).await;
    assert_eq!(r.status(), StatusCode::OK);
    r.json().await.unwrap()
}

/// The recovery code mailed for `email`, taken from the outbox (the harness runs no
/// delivery worker; the request is processed in the background, so wait for it).
async fn recovery_code(t: &TestApp, email: &str) -> String {
    let r = t
        .post_json("/api/v1/recovery", &json!({ "email": email }))
        .await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    for _ in 0..200 {
        let policy = gatehouse_store::ClaimPolicy {
            now: gatehouse_domain::Timestamp::from(time::OffsetDateTime::now_utc()),
            lease_id: "breach-test".into(),
            lease: std::time::Duration::from_secs(60),
            limit: 10,
            cap_per_recipient: 100,
            cap_window: std::time::Duration::from_secs(86_400),
            status_per_hour: 1000,
        };
        let claimed = t
            .app
            .raw_store()
            .claim_notices(&policy)
            .await
            .unwrap()
            .claimed;
        if let Some(code) = claimed
            .iter()
            .find_map(|n| n.payload["code"].as_str().map(str::to_owned))
        {
            return code;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("no recovery notice for {email}");
}

fn assert_breached_message(body: &Value, field: &str, times: &str) {
    assert_eq!(body["error"]["field"], field, "{body}");
    assert_eq!(
        body["error"]["message"],
        format!("this password has appeared in data breaches {times}; choose another"),
        "{body}"
    );
}

both_engines!(
    sign_up_refuses_a_breached_password,
    |t: TestApp| async move {
        let r = t
            .post_json(
                "/api/v1/accounts",
                &json!({"email": "ada@example.com", "password": BREACHED}),
            )
            .await;
        let body = assert_error(r, StatusCode::BAD_REQUEST, "breached_password").await;
        assert_breached_message(&body, "password", "about 4,096 times");
        assert_eq!(t.app.raw_store().count_accounts().await.unwrap(), 0);

        // The page: the message sits at the password field; the address is kept.
        let r = t
            .post_form(
                "/signup",
                &[
                    ("email", "ada@example.com"),
                    ("password", BREACHED_TOO),
                    ("password_confirm", BREACHED_TOO),
                ],
            )
            .await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        let html = r.text().await.unwrap();
        assert!(
            html.contains(
                "id=\"password-error\">This password has appeared in data breaches about 16 times; choose another.</p>"
            ),
            "{html}"
        );
        assert!(html.contains("aria-describedby=\"password-error password-help\""));
        assert!(html.contains("value=\"ada@example.com\""));
        assert!(!html.contains("id=\"form-error\""), "{html}");
        assert_eq!(t.app.raw_store().count_accounts().await.unwrap(), 0);

        // A clean password goes through.
        t.sign_up("ada@example.com", CLEAN).await;
    },
    with_index
);

both_engines!(
    password_change_refuses_a_breached_password,
    |t: TestApp| async move {
        t.sign_up("bob@example.com", CLEAN).await;
        let token = t.log_in("bob@example.com", CLEAN).await;
        let r = t
            .post_json_auth(
                "/api/v1/me/password",
                &token,
                &json!({"current_password": CLEAN, "new_password": BREACHED}),
            )
            .await;
        let body = assert_error(r, StatusCode::BAD_REQUEST, "breached_password").await;
        assert_breached_message(&body, "new_password", "about 4,096 times");

        // Refused before the current password is even verified: a wrong current
        // password gets the same refusal and costs no failed-login record.
        let r = t
            .post_json_auth(
                "/api/v1/me/password",
                &token,
                &json!({"current_password": "not the current one at all", "new_password": BREACHED}),
            )
            .await;
        assert_error(r, StatusCode::BAD_REQUEST, "breached_password").await;
        assert!(
            !t.audit_actions().await.contains(&"login.failed".to_owned()),
            "no argon2 verification happened"
        );
        // Nothing changed: the old password still works.
        t.log_in("bob@example.com", CLEAN).await;

        // The settings page: message at the new-password field.
        let r = t
            .post_form(
                "/login",
                &[("email", "bob@example.com"), ("password", CLEAN)],
            )
            .await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        let r = t
            .post_form(
                "/settings/password",
                &[
                    ("current_password", CLEAN),
                    ("new_password", BREACHED_TOO),
                    ("new_password_confirm", BREACHED_TOO),
                    ("end_other_sessions", "on"),
                ],
            )
            .await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        let html = r.text().await.unwrap();
        assert!(
            html.contains("id=\"new-password-error\">This password has appeared in data breaches about 16 times; choose another.</p>"),
            "{html}"
        );
        assert!(html.contains("bob@example.com") && html.contains("This device"));

        // A clean new password is accepted.
        let r = t
            .post_json_auth(
                "/api/v1/me/password",
                &token,
                &json!({"current_password": CLEAN, "new_password": CLEAN_TOO}),
            )
            .await;
        assert_eq!(r.status(), StatusCode::OK);
    },
    with_index
);

both_engines!(
    recovery_refuses_a_breached_password_without_using_the_code,
    |t: TestApp| async move {
        t.sign_up("cy@example.com", CLEAN).await;
        let code = recovery_code(&t, "cy@example.com").await;
        let r = t
            .post_json(
                "/api/v1/recovery/complete",
                &json!({"email": "cy@example.com", "code": code, "new_password": BREACHED}),
            )
            .await;
        let body = assert_error(r, StatusCode::BAD_REQUEST, "breached_password").await;
        assert_breached_message(&body, "new_password", "about 4,096 times");

        // The page keeps the address and the code (it was not tried) and puts the
        // message at the password field.
        let r = t
            .post_form(
                "/recover/complete",
                &[
                    ("email", "cy@example.com"),
                    ("code", code.as_str()),
                    ("new_password", BREACHED_TOO),
                    ("new_password_confirm", BREACHED_TOO),
                ],
            )
            .await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        let html = r.text().await.unwrap();
        assert!(
            html.contains("id=\"password-error\">This password has appeared in data breaches about 16 times; choose another.</p>"),
            "{html}"
        );
        assert!(html.contains(&format!("value=\"{code}\"")), "{html}");
        assert!(html.contains("value=\"cy@example.com\""));
        let actions = t.audit_actions().await;
        assert!(
            !actions.contains(&"recovery.rejected".to_owned()),
            "{actions:?}"
        );

        // The same code still works with a clean password.
        let r = t
            .post_json(
                "/api/v1/recovery/complete",
                &json!({"email": "cy@example.com", "code": code, "new_password": CLEAN_TOO}),
            )
            .await;
        assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
        t.log_in("cy@example.com", CLEAN_TOO).await;
    },
    with_index
);

both_engines!(
    a_login_with_a_breached_password_asks_for_a_change,
    |t: TestApp| async move {
        // Accounts whose passwords were fine when set (no index yet) …
        t.sign_up("dee@example.com", BREACHED).await;
        t.sign_up("eve@example.com", CLEAN).await;
        // … then the index arrives: the same database, a server with the index.
        let t = t
            .restart_with(&[("GATEHOUSE_BREACH_INDEX", shared_index().to_str().unwrap())])
            .await;
        t.app.install_rules().await.unwrap();

        let r = t
            .post_json(
                "/api/v1/sessions",
                &json!({"email": "dee@example.com", "password": BREACHED}),
            )
            .await;
        assert_eq!(r.status(), StatusCode::CREATED);
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["password_change_recommended"], true, "{body}");
        assert_eq!(body["password_change_reason"], "breached_password");
        assert!(
            body["password_change_message"]
                .as_str()
                .unwrap()
                .contains("appeared in data breaches about 4,096 times"),
            "{body}"
        );
        // Signed in all the same: the token works and nothing was reset.
        let me = t
            .get_auth("/api/v1/me", body["token"].as_str().unwrap())
            .await;
        assert_eq!(me.status(), StatusCode::OK);

        let r = t
            .post_json(
                "/api/v1/sessions",
                &json!({"email": "eve@example.com", "password": CLEAN}),
            )
            .await;
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["password_change_recommended"], false, "{body}");
        assert!(body.get("password_change_reason").is_none(), "{body}");

        // Audited once per breached login, without any password data.
        let entries = t.app.raw_store().audit_entries(0, 1000).await.unwrap();
        let detected: Vec<_> = entries
            .iter()
            .filter(|e| e.action == "breach.login_detected")
            .collect();
        assert_eq!(detected.len(), 1, "{entries:?}");
        let dee = t
            .app
            .raw_store()
            .login_record("dee@example.com")
            .await
            .unwrap()
            .unwrap()
            .account
            .id;
        assert_eq!(
            detected[0].target.as_deref(),
            Some(dee.to_string().as_str())
        );
        let detail: Value = serde_json::from_str(&detected[0].detail).unwrap();
        assert_eq!(detail["policy"], "ask_to_change");

        // A finding of the shipped `breached-password` rule (shadow: acts on
        // nothing), once per password: a second sign-in adds none.
        t.log_in("dee@example.com", BREACHED).await;
        let findings = t
            .app
            .findings(&gatehouse_store::FindingFilter {
                limit: 100,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(findings.len(), 1, "{findings:?}");
        let f = &findings[0];
        assert_eq!(
            (f.rule.as_str(), f.status.as_str()),
            ("breached-password", "shadow")
        );
        assert_eq!(f.account_id, dee.to_string());
        let why = f.evidence["explanation"].as_str().unwrap();
        assert!(why.contains("appears in known breaches"), "{why}");
        assert!(!f.evidence.to_string().contains(BREACHED));
        assert!(detail["session"].is_string());
        for e in &entries {
            assert!(
                !e.detail.contains(BREACHED) && !e.detail.contains(&sha1_hex(BREACHED)),
                "{e:?}"
            );
        }
        let metrics = t.metrics().await;
        assert!(
            metrics.contains("gatehouse_breach_logins_detected_total"),
            "{metrics}"
        );

        // The pages: straight to the change form, with the banner.
        let r = t
            .post_form(
                "/login",
                &[("email", "dee@example.com"), ("password", BREACHED)],
            )
            .await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        assert_eq!(
            r.headers()["location"],
            "/settings?done=breached#change-password"
        );
        let html = t.page("/settings?done=breached").await;
        assert!(
            html.contains("id=\"password-warning\">The password you signed in with has appeared in data breaches"),
            "{html}"
        );
        assert!(html.contains("id=\"change-password\""));
        let r = t
            .post_form(
                "/login",
                &[("email", "eve@example.com"), ("password", CLEAN)],
            )
            .await;
        assert_eq!(r.headers()["location"], "/settings");
    }
);

both_engines!(
    breach_check_api_answers_by_sha1,
    |t: TestApp| async move {
        let key = operator_key(&t).await;
        let upper = sha1_hex(BREACHED);
        let body = check_ok(&t, &key, &upper).await;
        assert_eq!(body, json!({"breached": true, "count": 4096}));
        let body = check_ok(&t, &key, &upper.to_lowercase()).await;
        assert_eq!(body, json!({"breached": true, "count": 4096}));
        let body = check_ok(&t, &key, &sha1_hex(BREACHED_TOO)).await;
        assert_eq!(body, json!({"breached": true, "count": 16}));
        let body = check_ok(&t, &key, &sha1_hex(CLEAN)).await;
        assert_eq!(body, json!({"breached": false, "count": null}));

        for bad in [
            "",
            &upper[..39],
            &format!("{upper}A"),
            &upper.replacen('A', "G", 1),
            "password",
        ] {
            let r = check(&t, &key, bad).await;
            let body = assert_error(r, StatusCode::BAD_REQUEST, "invalid_input").await;
            assert_eq!(body["error"]["field"], "sha1", "{bad:?}: {body}");
            assert!(
                body["error"]["message"]
                    .as_str()
                    .unwrap()
                    .contains("40 hexadecimal digits"),
                "{body}"
            );
        }
        let r = t
            .post_json_auth("/api/v1/breach/check", &key, &json!({"hash": upper}))
            .await;
        assert_error(r, StatusCode::BAD_REQUEST, "malformed_body").await;

        // Operators only.
        let r = t
            .post_json("/api/v1/breach/check", &json!({"sha1": upper}))
            .await;
        assert_error(r, StatusCode::UNAUTHORIZED, "unauthenticated").await;
        t.sign_up("fay@example.com", CLEAN).await;
        let session = t.log_in("fay@example.com", CLEAN).await;
        let r = check(&t, &session, &upper).await;
        assert_error(r, StatusCode::UNAUTHORIZED, "unauthenticated").await;

        // In the OpenAPI document with the operator scheme.
        let spec = t.get_json("/openapi.json").await;
        let op = &spec["paths"]["/api/v1/breach/check"]["post"];
        assert_eq!(op["security"][0]["operator"], json!([]), "{op}");
        assert!(spec["paths"]["/api/v1/admin/breach/reload"]["post"].is_object());
    },
    with_index
);

both_engines!(
    without_an_index_checks_are_off_and_say_so,
    |t: TestApp| async move {
        assert!(t.app.breach_status().is_none());
        let key = operator_key(&t).await;
        let r = check(&t, &key, &sha1_hex(BREACHED)).await;
        let body = assert_error(r, StatusCode::CONFLICT, "breach_index_unavailable").await;
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("breach checks are off"),
            "{body}"
        );
        // Bad input is still bad input.
        let r = check(&t, &key, "xyz").await;
        assert_error(r, StatusCode::BAD_REQUEST, "invalid_input").await;
        // Passwords are not checked: a breached one is accepted.
        t.sign_up("gus@example.com", BREACHED).await;
        // A reload with nothing at the default path fails clearly.
        let r = t
            .post_json_auth("/api/v1/admin/breach/reload", &key, &json!({}))
            .await;
        let body = assert_error(r, StatusCode::CONFLICT, "breach_reload_failed").await;
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("no index at"),
            "{body}"
        );
    }
);

both_engines!(reload_swaps_in_a_new_index, |t: TestApp| async move {
    // The index sits at the default path, <data_dir>/breach.idx, which this server
    // found empty at start-up.
    let path = t.app.config.data_dir.join("breach.idx");
    let key = operator_key(&t).await;
    let build = |known: &[(&str, u64)]| {
        let dir = fresh_dir("reload");
        let tmp = dir.join("breach.idx");
        build_index(&tmp, known);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        // As an import does: a complete file renamed over the path.
        std::fs::copy(&tmp, path.with_extension("new")).unwrap();
        std::fs::rename(path.with_extension("new"), &path).unwrap();
        std::fs::remove_dir_all(dir).unwrap();
    };
    build(&[(BREACHED, 5_000)]);
    let r = t
        .post_json_auth("/api/v1/admin/breach/reload", &key, &json!({}))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let info: Value = r.json().await.unwrap();
    assert_eq!(info["keys"], 20_001);
    assert_eq!(info["source"], "gatehouse server tests");
    assert_eq!(
        check_ok(&t, &key, &sha1_hex(BREACHED)).await["breached"],
        true
    );
    assert_eq!(
        check_ok(&t, &key, &sha1_hex(BREACHED_LATER)).await["breached"],
        false
    );

    // A new corpus: the old answers before the reload, the new ones after.
    build(&[(BREACHED_LATER, 300)]);
    assert_eq!(
        check_ok(&t, &key, &sha1_hex(BREACHED)).await["breached"],
        true
    );
    let r = t
        .post_json_auth("/api/v1/admin/breach/reload", &key, &json!({}))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        check_ok(&t, &key, &sha1_hex(BREACHED)).await["breached"],
        false
    );
    assert_eq!(
        check_ok(&t, &key, &sha1_hex(BREACHED_LATER)).await,
        json!({"breached": true, "count": 256})
    );
    // The sign-up check follows the swap too.
    let r = t
        .post_json(
            "/api/v1/accounts",
            &json!({"email": "hal@example.com", "password": BREACHED_LATER}),
        )
        .await;
    assert_error(r, StatusCode::BAD_REQUEST, "breached_password").await;

    // A damaged file: the reload fails, says why, and the index in use stays.
    let mut bytes = std::fs::read(&path).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(path.with_extension("bad"), &bytes).unwrap();
    std::fs::rename(path.with_extension("bad"), &path).unwrap();
    let r = t
        .post_json_auth("/api/v1/admin/breach/reload", &key, &json!({}))
        .await;
    let body = assert_error(r, StatusCode::CONFLICT, "breach_reload_failed").await;
    let msg = body["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("previous one stays in use") && msg.contains("checksum"),
        "{msg}"
    );
    assert_eq!(
        check_ok(&t, &key, &sha1_hex(BREACHED_LATER)).await["breached"],
        true
    );

    // Every reload, good or bad, is in the audit log.
    let reloads: Vec<Value> = t
        .app
        .raw_store()
        .audit_entries(0, 1000)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.action == "breach.index_reloaded")
        .map(|e| serde_json::from_str(&e.detail).unwrap())
        .collect();
    assert_eq!(reloads.len(), 3);
    assert_eq!(reloads[0]["ok"], true);
    assert_eq!(reloads[2]["ok"], false);
    // Operators only.
    let r = t.post_json("/api/v1/admin/breach/reload", &json!({})).await;
    assert_error(r, StatusCode::UNAUTHORIZED, "unauthenticated").await;
});
