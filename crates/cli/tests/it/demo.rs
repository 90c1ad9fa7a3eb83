//! `gatehouse demo` as a newcomer runs it: the report's claims checked against
//! what it says and against the files it leaves (maildir, audit chain), and the
//! refusal to touch a directory that is not the demo's.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

fn demo(dir: &Path, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .args(["demo", "--accounts", "2000", "--json", "--data-dir"])
        .arg(dir)
        .args(extra)
        .env_remove("GATEHOUSE_CONFIG")
        .env_remove("RUST_LOG")
        .output()
        .expect("run gatehouse demo")
}

fn report(out: &Output) -> Value {
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "demo failed: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}"))
}

fn n(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a count: {v}"))
}

fn mails_in(dir: &Path) -> u64 {
    std::fs::read_dir(dir.join("mail/new"))
        .map(|d| d.count() as u64)
        .unwrap_or(0)
}

#[test]
fn the_demo_tells_the_story_with_true_figures() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("demo");
    let r = report(&demo(&dir, &[]));

    // Two combo lists at once: the stuffing rule finds the concentrated one, only
    // the account-takeover rule the one spread thin under its threshold per /24;
    // together their campaigns reset every true takeover and nothing else.
    let s = &r["stuffing"];
    let attacks = s["attacks"].as_array().unwrap();
    assert_eq!(attacks.len(), 2, "{s}");
    let (concentrated, spread) = (&attacks[0], &attacks[1]);
    assert_eq!(concentrated["attack"], "concentrated");
    assert_eq!(
        concentrated["found_by_takeover_rule"], concentrated["true_takeovers"],
        "{concentrated}"
    );
    // The stuffing rule finds every one of them live, whatever the clock: the
    // demo's sign-ins to the example app are stamped now, before the attack's
    // events (from the last hour) arrive; the stuffing rule's buckets, aligned
    // to half its window, used to drop the attack's first half hour as late.
    assert_eq!(
        concentrated["found_by_stuffing_rule"], concentrated["true_takeovers"],
        "{concentrated}"
    );
    assert_eq!(spread["attack"], "spread thin");
    assert!(n(&spread["true_takeovers"]) >= 5, "{spread}");
    assert_eq!(n(&spread["found_by_stuffing_rule"]), 0, "{spread}");
    assert_eq!(
        spread["found_by_takeover_rule"], spread["true_takeovers"],
        "{spread}"
    );
    assert_eq!(spread["reset"], spread["true_takeovers"], "{spread}");
    assert!(n(&s["true_takeovers"]) >= 5, "{s}");
    assert_eq!(s["accounts_reset"], s["true_takeovers"], "{s}");
    assert_eq!(s["exactly_the_takeovers"], true, "{s}");
    assert_eq!(
        (s["precision"].as_f64(), s["recall"].as_f64()),
        (Some(1.0), Some(1.0))
    );

    // The example app (issue 17): the taken-over people signed in to it are
    // signed out of it by their reset, the bystanders are not; the outbox
    // delivered a logout token per app session ended and the SETs of each
    // reset (session-revoked per session, the two RISC events per account).
    let a = &r["apps"];
    assert_eq!(a["sign_ins_refused"].as_array().unwrap().len(), 0, "{a}");
    assert_eq!(n(&a["victims_signed_in"]), 5, "{a}");
    assert_eq!(n(&a["victims_signed_out_by_reset"]), 5, "{a}");
    assert_eq!(n(&a["bystanders_signed_in"]), 3, "{a}");
    assert_eq!(n(&a["bystanders_still_signed_in"]), 3, "{a}");
    assert!(n(&a["app_sessions_ended"]) >= 5, "{a}");
    assert_eq!(a["logout_tokens_delivered"], a["app_sessions_ended"], "{a}");
    let sets = &a["sets_by_event"];
    assert_eq!(sets["session-revoked"], a["app_sessions_ended"], "{a}");
    assert!(n(&sets["account-credential-change-required"]) >= 5, "{a}");
    assert_eq!(
        sets["sessions-revoked"], sets["account-credential-change-required"],
        "{a}"
    );
    assert_eq!(
        (n(&a["deliveries_pending"]), n(&a["deliveries_failed"])),
        (0, 0),
        "{a}"
    );

    // The broken rule's preview: about 30 % of accounts, far above normal, a second operator.
    let b = &r["broken_rule"];
    let share = b["preview_share_of_accounts"].as_f64().unwrap();
    assert!((0.2..0.4).contains(&share), "{b}");
    assert!(
        b["preview_multiple_of_normal"].as_f64().unwrap() > 10.0,
        "{b}"
    );
    assert_eq!(b["preview_needs_second_approval"], true, "{b}");
    assert!(
        b["self_approval_refused"]
            .as_str()
            .unwrap()
            .contains("nobody approves their own campaign"),
        "{b}"
    );

    // Forced through: stopped by the budget and the breaker, with an incident draft.
    let h = &r["halt"];
    let wrong = n(&h["accounts_wrongly_reset"]);
    assert!(wrong > 0, "{h}");
    assert!(wrong <= n(&h["budget_left_for_the_rule"]), "{h}");
    assert!(
        n(&h["used_last_hour_before"]) + wrong <= n(&h["budget_per_hour"]),
        "{h}"
    );
    assert_eq!(n(&h["findings_pending_at_enforce"]), 0, "{h}");
    assert_eq!(
        n(&h["resets_last_day"]),
        n(&s["accounts_reset"]) + wrong,
        "every reset is a takeover or counted as wrong: {h}"
    );
    assert_eq!(h["breaker_open"], true, "{h}");
    assert!(
        h["breaker_reason"]
            .as_str()
            .unwrap()
            .contains("budget used up"),
        "{h}"
    );
    assert_eq!(n(&h["resets_after_halt"]), 0, "{h}");
    assert!(
        h["seconds_first_wrong_reset_to_halt"].as_f64().is_some(),
        "{h}"
    );
    assert_eq!(
        h["incident_draft_title"], "Unexpected password reset e-mails",
        "{h}"
    );

    // Undo: nobody changed their password, so everyone is restored and corrected.
    let u = &r["undo"];
    assert_eq!(n(&u["accounts_restored"]), wrong, "{u}");
    assert_eq!(n(&u["not_restorable"]), 0, "{u}");
    let m = &r["mail"];
    // A correction for every wrong reset mail that went out; a held one is
    // withdrawn instead (the reset that used up the budget tripped the breaker
    // in its own transaction, so its mail never left).
    assert_eq!(
        n(&m["corrections"]) + n(&m["forced_reset_withdrawn"]),
        wrong,
        "{m}"
    );
    assert_eq!(n(&m["operators_alerted"]), 2, "alice and bob: {m}");

    // Notices counted from the maildir: the files are there, one per notice.
    assert_eq!(n(&m["in_maildir"]), mails_in(&dir), "{m}");
    let by_kind: u64 = m["by_kind"].as_object().unwrap().values().map(n).sum();
    assert_eq!(
        by_kind,
        n(&m["in_maildir"]),
        "every mail is a notice in the outbox: {m}"
    );
    assert_eq!(
        n(&m["forced_reset_takeovers"])
            + n(&m["forced_reset_wrong"])
            + n(&m["forced_reset_held"])
            + n(&m["forced_reset_withdrawn"]),
        n(&s["accounts_reset"]) + wrong,
        "one forced-reset notice per reset, sent or held: {m}"
    );

    // The audit chain, by the report and by `gatehouse audit verify` on the demo's store.
    assert_eq!(r["audit_chain"]["intact"], true);
    let verify = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .args(["audit", "verify"])
        .env("GATEHOUSE_DATA_DIR", &dir)
        .env_remove("GATEHOUSE_DATABASE_URL")
        .env_remove("GATEHOUSE_CONFIG")
        .output()
        .unwrap();
    assert!(verify.status.success(), "{verify:?}");

    // A second run on the previous demo's directory starts fresh.
    let again = report(&demo(&dir, &[]));
    assert_eq!(n(&again["population"]["accounts"]), 2000);
    assert_eq!(n(&again["mail"]["in_maildir"]), mails_in(&dir));
    // The same story, not necessarily the same mail count: how many wrong reset
    // mails left before the breaker tripped (and so get a correction rather than
    // being withdrawn) depends on how fast delivery ran. The accounting holds.
    let (m2, h2) = (&again["mail"], &again["halt"]);
    assert_eq!(
        n(&m2["corrections"]) + n(&m2["forced_reset_withdrawn"]),
        n(&h2["accounts_wrongly_reset"]),
        "{m2}"
    );
    assert_eq!(again["halt"]["breaker_open"], true);
}

#[test]
fn the_demo_refuses_a_directory_that_is_not_its_own() {
    let tmp = tempfile::tempdir().unwrap();
    let keep = tmp.path().join("keep.txt");
    std::fs::write(&keep, "not the demo's").unwrap();
    let out = demo(tmp.path(), &[]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("is not a Gatehouse demo directory"),
        "{stderr}"
    );
    assert_eq!(std::fs::read_to_string(&keep).unwrap(), "not the demo's");
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 1);
}

/// A GET over a plain TCP connection: (status, headers and body as text).
fn http_get(url: &str) -> (u16, String) {
    use std::io::{Read as _, Write as _};
    let rest = url.strip_prefix("http://").expect("an http URL");
    let (host, path) = rest
        .split_once('/')
        .map_or((rest, "/".to_owned()), |(h, p)| (h, format!("/{p}")));
    let mut s = std::net::TcpStream::connect(host).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let status = text[9..12].parse().unwrap();
    (status, text)
}

fn location(response: &str) -> String {
    response
        .lines()
        .find_map(|l| l.strip_prefix("location: "))
        .unwrap_or_else(|| panic!("no location in {response}"))
        .trim()
        .to_owned()
}

/// `demo --serve` registers the example app and runs it next to `serve`: its
/// URL is printed, its page answers, and its sign-in goes to Gatehouse's
/// authorization endpoint with a client and redirect URI Gatehouse accepts.
#[test]
fn demo_serve_starts_the_example_app() {
    use std::io::BufRead as _;
    let tmp = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let public = format!("http://127.0.0.1:{port}");
    let mut child = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .args([
            "demo",
            "--serve",
            "--accounts",
            "1000",
            "--json",
            "--data-dir",
        ])
        .arg(tmp.path().join("demo"))
        .env("GATEHOUSE_LISTEN", format!("127.0.0.1:{port}"))
        .env("GATEHOUSE_PUBLIC_URL", &public)
        .env_remove("GATEHOUSE_CONFIG")
        .env_remove("RUST_LOG")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // stderr is read to its end on a thread (a full pipe would stall the server).
    let stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in stderr.lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut app_url = None;
    let mut seen = Vec::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(300);
    while let Ok(line) =
        rx.recv_timeout(deadline.saturating_duration_since(std::time::Instant::now()))
    {
        if let Some(rest) = line.trim().strip_prefix("an app of the site:") {
            app_url = rest
                .split_whitespace()
                .next()
                .map(|u| u.trim_end_matches('/').to_owned());
        }
        // `serve` says so once it listens.
        if line.contains("Gatehouse is serving on") {
            break;
        }
        seen.push(line);
    }
    let app_url = app_url.unwrap_or_else(|| panic!("no example app URL in:\n{}", seen.join("\n")));

    let (status, home) = http_get(&format!("{app_url}/"));
    assert_eq!(status, 200, "{home}");
    assert!(home.contains("Sign in"), "{home}");
    let (status, login) = http_get(&format!("{app_url}/login"));
    assert_eq!(status, 303, "{login}");
    let authorize = location(&login);
    assert!(
        authorize.starts_with(&format!("{public}/oauth2/authorize?")),
        "{authorize}"
    );
    assert!(authorize.contains("client_id=example-app"), "{authorize}");
    // Gatehouse accepts the client and its redirect URI: it asks the person to
    // sign in (an unknown client or URI would be an error page, not a redirect).
    let (status, answer) = http_get(&authorize);
    assert_eq!(status, 303, "{answer}");
    assert!(
        location(&answer).starts_with("/login?return_to="),
        "{answer}"
    );

    child.kill().unwrap();
    child.wait().unwrap();
}
