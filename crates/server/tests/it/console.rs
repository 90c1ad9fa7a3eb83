//! The operator console over HTTP, on both engines: operator sign-in (same
//! answer for unknown operators and wrong passwords, Strict cookie, idle
//! timeout, sign-out), the anti-forgery token on every form, and the whole
//! remediation story through its pages: a campaign created, previewed,
//! refused to its own creator, approved by a second operator, run, undone;
//! the kill switch; the breaker's incident draft published to /status.

use std::time::Duration;

use crate::support::*;
use reqwest::StatusCode;

const PW: &str = "correct horse battery staple";
const OP_PW: &str = "operators use long passphrases too";

/// A browser-like client of its own (own cookie jar, no redirects followed).
fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent("gatehouse-console-tests")
        .build()
        .unwrap()
}

/// An operator with a console password.
async fn operator(t: &TestApp, email: &str) {
    t.app.create_operator(email).await.unwrap();
    t.app.set_operator_password(email, OP_PW).await.unwrap();
}

async fn sign_in(
    t: &TestApp,
    c: &reqwest::Client,
    email: &str,
    password: &str,
) -> reqwest::Response {
    c.post(t.url("/console/login"))
        .form(&[
            ("email", email),
            ("password", password),
            ("next", "/console/campaigns"),
        ])
        .send()
        .await
        .unwrap()
}

async fn get(t: &TestApp, c: &reqwest::Client, path: &str) -> (StatusCode, String) {
    let r = c.get(t.url(path)).send().await.unwrap();
    let status = r.status();
    let location = r
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_owned());
    let body = r.text().await.unwrap();
    (status, location.unwrap_or(body))
}

/// The anti-forgery token in a console page's forms.
fn csrf_of(html: &str) -> String {
    let at = html
        .find("name=\"csrf\" value=\"")
        .expect("a console form with its token");
    html[at + 19..at + 19 + 64].to_owned()
}

async fn post(
    t: &TestApp,
    c: &reqwest::Client,
    path: &str,
    form: &[(&str, &str)],
) -> (StatusCode, String) {
    let r = c.post(t.url(path)).form(form).send().await.unwrap();
    let status = r.status();
    let location = r
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_owned());
    let body = r.text().await.unwrap();
    (status, location.unwrap_or(body))
}

both_engines!(operators_sign_in_to_the_console, |t: TestApp| async move {
    operator(&t, "ann@ops.example").await;
    t.app.create_operator("nopass@ops.example").await.unwrap();
    let c = browser();

    // Not signed in: to the sign-in page, remembering where to go.
    let (s, to) = get(&t, &c, "/console/campaigns").await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    assert_eq!(to, "/console/login?next=/console/campaigns");
    let (s, html) = get(&t, &c, "/console/login").await;
    assert_eq!(s, StatusCode::OK);
    assert!(html.contains("Operator sign-in"), "{html}");

    // Wrong password, unknown operator, operator without a password: one answer.
    for (email, pw) in [
        ("ann@ops.example", "not the operator's password"),
        ("nobody@ops.example", OP_PW),
        ("nopass@ops.example", OP_PW),
    ] {
        let r = sign_in(&t, &c, email, pw).await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{email}");
        assert!(r.headers().get("set-cookie").is_none());
        let html = r.text().await.unwrap();
        assert!(html.contains("That e-mail and password do not match an operator."));
    }
    // An account's password is not an operator's: accounts cannot sign in here.
    t.people(1, PW).await;
    assert_eq!(
        sign_in(&t, &c, "p0@example.com", PW).await.status(),
        StatusCode::UNAUTHORIZED
    );

    let r = sign_in(&t, &c, "ann@ops.example", OP_PW).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], "/console/campaigns");
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.starts_with("gatehouse_console="), "{cookie}");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Strict"), "{cookie}");

    // Every page renders for a signed-in operator.
    for (path, needle) in [
        ("/console", "Circuit breaker"),
        ("/console/accounts?q=p0", "p0@example.com"),
        ("/console/rules", "Rules"),
        ("/console/campaigns", "New campaign"),
        ("/console/breaker", "Trip the breaker"),
        ("/console/incidents", "New draft"),
        ("/console/audit", "operator.signed_in"),
        ("/console/audit?verify=1", "The chain is intact"),
    ] {
        let (s, html) = get(&t, &c, path).await;
        assert_eq!(s, StatusCode::OK, "{path}");
        assert!(html.contains(needle), "{path} lacks {needle:?}: {html}");
    }
    // A user session is no console session.
    let user = browser();
    user.post(t.url("/login"))
        .form(&[("email", "p0@example.com"), ("password", PW)])
        .send()
        .await
        .unwrap();
    assert_eq!(get(&t, &user, "/console").await.0, StatusCode::SEE_OTHER);

    // A form without the session's token changes nothing.
    let (s, _) = post(&t, &c, "/console/breaker/trip", &[("reason", "forged")]).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = post(
        &t,
        &c,
        "/console/breaker/trip",
        &[("reason", "forged"), ("csrf", &"0".repeat(64))],
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert!(!t.app.raw_store().breaker().await.unwrap().open);

    // Idle for 30 minutes: signed out.
    t.clock.advance(Duration::from_secs(31 * 60));
    assert_eq!(get(&t, &c, "/console").await.0, StatusCode::SEE_OTHER);
    let r = sign_in(&t, &c, "ann@ops.example", OP_PW).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);

    // Sign-out ends the session on the server, not only the cookie.
    let (_, html) = get(&t, &c, "/console").await;
    let token = csrf_of(&html);
    let last = t
        .app
        .raw_store()
        .audit_latest(None, 1)
        .await
        .unwrap()
        .remove(0);
    assert_eq!(last.action, "operator.signed_in");
    let (s, to) = post(&t, &c, "/console/logout", &[("csrf", &token)]).await;
    assert_eq!((s, to.as_str()), (StatusCode::SEE_OTHER, "/console/login"));
    assert_eq!(get(&t, &c, "/console").await.0, StatusCode::SEE_OTHER);
    let actions = t.audit_actions().await;
    assert!(actions.contains(&"operator.signed_out".to_string()));
    assert!(actions.contains(&"login.failed".to_string()));

    // A new password ends the operator's console sessions.
    let r = sign_in(&t, &c, "ann@ops.example", OP_PW).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    t.app
        .set_operator_password("ann@ops.example", "a brand new operator passphrase")
        .await
        .unwrap();
    assert_eq!(get(&t, &c, "/console").await.0, StatusCode::SEE_OTHER);
});

both_engines!(
    the_remediation_story_through_the_console,
    |t: TestApp| async move {
        let emails = t.people(3, PW).await;
        operator(&t, "ann@ops.example").await;
        operator(&t, "bob@ops.example").await;
        let ann = browser();
        let bob = browser();
        assert_eq!(
            sign_in(&t, &ann, "ann@ops.example", OP_PW).await.status(),
            StatusCode::SEE_OTHER
        );
        assert_eq!(
            sign_in(&t, &bob, "bob@ops.example", OP_PW).await.status(),
            StatusCode::SEE_OTHER
        );

        // The account page links to a one-account campaign, prefilled.
        let (_, found) = get(&t, &ann, "/console/accounts?q=p1@").await;
        let at = found.find("/console/accounts/").unwrap();
        let account_path = &found[at..at + found[at..].find('"').unwrap()];
        let (s, page) = get(&t, &ann, account_path).await;
        assert_eq!(s, StatusCode::OK);
        assert!(page.contains("p1@example.com") && page.contains("/console/campaigns?account="));

        // An empty list is refused, with the reason, and nothing is created.
        let (_, html) = get(&t, &ann, "/console/campaigns").await;
        let token = csrf_of(&html);
        let (s, body) = post(
            &t,
            &ann,
            "/console/campaigns",
            &[
                ("csrf", &token),
                ("name", "n"),
                ("reason", "r"),
                ("accounts", " \n "),
            ],
        )
        .await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
        assert!(body.contains("never means all"), "{body}");

        // Ann creates and previews a campaign over all three accounts.
        let list = emails.join("\n");
        let (s, to) = post(
            &t,
            &ann,
            "/console/campaigns",
            &[
                ("csrf", &token),
                ("name", "stolen list"),
                (
                    "reason",
                    "your password appeared in a list of stolen credentials",
                ),
                ("accounts", &list),
                ("rate_per_minute", "600"),
                ("bake_secs", "0"),
            ],
        )
        .await;
        assert_eq!(s, StatusCode::SEE_OTHER);
        let campaign = to.split('?').next().unwrap().to_owned();
        assert!(campaign.starts_with("/console/campaigns/"), "{to}");
        let (s, _) = post(
            &t,
            &ann,
            &format!("{campaign}/preview"),
            &[("csrf", &token)],
        )
        .await;
        assert_eq!(s, StatusCode::SEE_OTHER);
        let (_, page) = get(&t, &ann, &campaign).await;
        assert!(page.contains("Multiple of normal"), "{page}");
        assert!(
            page.contains(
                r#"<dd data-state="previewed"><strong>Previewed — waiting for approval</strong>"#
            ),
            "{page}"
        );
        assert!(!page.contains("<strong>previewed</strong>"), "{page}");
        // No forced resets before this one: no "multiple of zero", and a share
        // of all the accounts reads "100 %", not "100.000 %".
        assert!(
            page.contains("None: there were no forced resets in the last 30 days"),
            "{page}"
        );
        assert!(page.contains("100 % of all accounts"), "{page}");
        assert!(!page.contains('×') && !page.contains(".000"), "{page}");
        // All of the accounts: above the share threshold, so a second operator must approve.
        assert!(page.contains("another operator must approve"), "{page}");
        let snapshot = {
            let at = page.find("<code>").unwrap() + 6;
            page[at..at + 64].to_owned()
        };
        let (s, body) = post(
            &t,
            &ann,
            &format!("{campaign}/approve"),
            &[("csrf", &token), ("snapshot", &snapshot)],
        )
        .await;
        assert_eq!(s, StatusCode::CONFLICT, "{body}");

        // Bob approves what he sees, and Ann starts it.
        let (_, page) = get(&t, &bob, &campaign).await;
        let bob_token = csrf_of(&page);
        assert_ne!(bob_token, token, "the token is per session");
        assert!(page.contains("Approve these 3 accounts"), "{page}");
        // Ann's token is no good in Bob's session.
        let (s, _) = post(
            &t,
            &bob,
            &format!("{campaign}/approve"),
            &[("csrf", &token), ("snapshot", &snapshot)],
        )
        .await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        let (s, _) = post(
            &t,
            &bob,
            &format!("{campaign}/approve"),
            &[("csrf", &bob_token), ("snapshot", &snapshot)],
        )
        .await;
        assert_eq!(s, StatusCode::SEE_OTHER);
        // People are named by address, not by id.
        let (_, page) = get(&t, &ann, &campaign).await;
        assert!(page.contains("<dd>bob@ops.example</dd>"), "{page}");
        let (s, _) = post(
            &t,
            &ann,
            &format!("{campaign}/command"),
            &[("csrf", &token), ("command", "start")],
        )
        .await;
        assert_eq!(s, StatusCode::SEE_OTHER);
        for _ in 0..10 {
            t.app.campaigns_pass().await.unwrap();
            t.clock.advance(Duration::from_secs(61));
        }
        let (_, page) = get(&t, &ann, &campaign).await;
        assert!(page.contains("3 of 3 accounts reset"), "{page}");
        // The state for people, the stored word kept for machines.
        assert!(
            page.contains(
                r#"<dd data-state="completed"><strong>Completed — every account was handled</strong>"#
            ),
            "{page}"
        );

        // Undo: preview first, then restore.
        let (_, page) = get(&t, &ann, &format!("{campaign}/undo")).await;
        assert!(page.contains("restore 3 and explain to 0"), "{page}");
        let (s, _) = post(&t, &ann, &format!("{campaign}/undo"), &[("csrf", &token)]).await;
        assert_eq!(s, StatusCode::SEE_OTHER);
        let (_, page) = get(&t, &ann, &campaign).await;
        assert!(
            page.contains(
                r#"data-state="undoing"><strong>Being undone — accounts are being restored</strong>"#
            ),
            "{page}"
        );
        // The campaign worker restores them (here at once: 600 a minute).
        t.app.campaigns_pass().await.unwrap();
        let (_, page) = get(&t, &ann, &campaign).await;
        assert!(
            page.contains(r#"data-state="undone"><strong>Undone — accounts restored</strong>"#),
            "{page}"
        );
        assert!(page.contains("Reset undone: 3"), "{page}");

        // The kill switch: the breaker trips, its incident draft waits in the console.
        let (s, _) = post(
            &t,
            &bob,
            "/console/breaker/trip",
            &[("csrf", &bob_token), ("reason", "resets look wrong")],
        )
        .await;
        assert_eq!(s, StatusCode::SEE_OTHER);
        assert!(t.app.raw_store().breaker().await.unwrap().open);
        let (_, overview) = get(&t, &ann, "/console").await;
        assert!(overview.contains("Open (tripped)"), "{overview}");
        let (_, incidents) = get(&t, &ann, "/console/incidents").await;
        let at = incidents.find("/console/incidents/").unwrap();
        let incident = incidents[at..at + incidents[at..].find('"').unwrap()].to_owned();
        let (_, page) = get(&t, &ann, &incident).await;
        assert!(page.contains("Live figures (not public)"), "{page}");
        let public = t.page("/status").await;
        assert!(!public.contains("Live figures"));

        // Ann rewords and publishes it; the status page and its feed show it.
        let (s, _) = post(
            &t,
            &ann,
            &format!("{incident}/edit"),
            &[
                ("csrf", &token),
                ("title", "Some password resets were sent in error"),
                ("impact", "minor"),
                (
                    "body",
                    "We reset some passwords by mistake and are restoring them.",
                ),
            ],
        )
        .await;
        assert_eq!(s, StatusCode::SEE_OTHER);
        let (s, _) = post(
            &t,
            &ann,
            &format!("{incident}/publish"),
            &[("csrf", &token), ("state", "identified"), ("body", "")],
        )
        .await;
        assert_eq!(s, StatusCode::SEE_OTHER);
        assert!(
            t.page("/status")
                .await
                .contains("Some password resets were sent in error")
        );
        assert!(
            t.page("/status.atom")
                .await
                .contains("Some password resets were sent in error")
        );
        let (s, _) = post(
            &t,
            &ann,
            &format!("{incident}/update"),
            &[
                ("csrf", &token),
                ("state", "resolved"),
                ("body", "All accounts are restored."),
            ],
        )
        .await;
        assert_eq!(s, StatusCode::SEE_OTHER);

        // Only an operator closes the breaker, with a reason.
        let (s, _) = post(
            &t,
            &ann,
            "/console/breaker/reset",
            &[("csrf", &token), ("reason", "")],
        )
        .await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
        let (s, _) = post(
            &t,
            &ann,
            "/console/breaker/reset",
            &[("csrf", &token), ("reason", "the campaign is undone")],
        )
        .await;
        assert_eq!(s, StatusCode::SEE_OTHER);
        assert!(!t.app.raw_store().breaker().await.unwrap().open);
        let (_, audit) = get(&t, &ann, "/console/audit?verify=1").await;
        assert!(audit.contains("The chain is intact"), "{audit}");
        assert!(audit.contains("breaker.changed") && audit.contains("incident.published"));
    }
);

both_engines!(
    a_rule_is_undone_from_the_console_after_a_preview,
    |t: TestApp| async move {
        use gatehouse_domain::campaign::CampaignState as S;
        let _key = crate::campaigns::enforced_stuffing_takeover(&t, None).await;
        t.app
            .set_operator_password("ops@ops.example", OP_PW)
            .await
            .unwrap();
        // The rule's campaign resets its first account.
        assert_eq!(t.app.campaigns_pass().await.unwrap().applied, 1);
        let ops = browser();
        assert_eq!(
            sign_in(&t, &ops, "ops@ops.example", OP_PW).await.status(),
            StatusCode::SEE_OTHER
        );
        let (s, rules) = get(&t, &ops, "/console/rules?rule=credential-stuffing").await;
        assert_eq!(s, StatusCode::OK);
        assert!(
            rules.contains("/console/rules/credential-stuffing/undo"),
            "{rules}"
        );
        // The preview says what will happen; nothing happens yet.
        let (s, page) = get(&t, &ops, "/console/rules/credential-stuffing/undo").await;
        assert_eq!(s, StatusCode::OK);
        assert!(
            page.contains("Undo rule credential-stuffing: restore 1, explain to 0, abort 0"),
            "{page}"
        );
        let c = t.app.list_campaigns(None, 10).await.unwrap();
        assert_ne!(c[0].state, S::Undoing);
        // Without the form's token: refused.
        let (s, _) = post(&t, &ops, "/console/rules/credential-stuffing/undo", &[]).await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        let token = csrf_of(&page);
        let (s, to) = post(
            &t,
            &ops,
            "/console/rules/credential-stuffing/undo",
            &[("csrf", &token)],
        )
        .await;
        assert_eq!(s, StatusCode::SEE_OTHER);
        assert_eq!(to, "/console/rules?rule=credential-stuffing&ok=rule_undone");
        let c = t.app.list_campaigns(None, 10).await.unwrap();
        assert_eq!(c[0].state, S::Undoing);
        let (_, after) = get(&t, &ops, &to).await;
        assert!(after.contains("Undo of the rule"), "{after}");
        // An unknown rule is a 404 page, not an error.
        let (s, _) = get(&t, &ops, "/console/rules/no-such-rule/undo").await;
        assert_eq!(s, StatusCode::NOT_FOUND);
    },
    |env: &mut Vec<(String, String)>| {
        env.push(("GATEHOUSE_APPROVAL_MAX_SHARE_PERCENT".into(), "100".into()));
    }
);
