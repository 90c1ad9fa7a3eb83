//! `gatehouse scan --leaked`, run as an operator would, on both engines: accounts
//! imported with real argon2id hashes, a dump with every kind of line, the
//! findings read back from the store, `--dump-date`, and a scan interrupted with
//! Ctrl-C (SIGINT) then resumed, and one resumed from an older saved position
//! (as after a crash).

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use argon2::password_hash::PasswordHasher as _;
use argon2::{Algorithm, Argon2, Params, Version};
use gatehouse_store::testing::fresh_pg_database;
use gatehouse_store::{Finding, FindingFilter};

fn gatehouse_cmd(dir: &Path, db: &str, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_gatehouse"));
    c.args(args)
        .current_dir(dir)
        .env("GATEHOUSE_DATA_DIR", dir.join("data"))
        .env("GATEHOUSE_DATABASE_URL", db)
        .env_remove("GATEHOUSE_CONFIG");
    c
}

fn gatehouse(dir: &Path, db: &str, args: &[&str]) -> Output {
    gatehouse_cmd(dir, db, args)
        .output()
        .expect("run gatehouse")
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

async fn databases(dir: &Path) -> Vec<String> {
    let mut dbs = vec![format!(
        "sqlite:{}",
        dir.join("data/gatehouse.db").display()
    )];
    if let Some(pg) = fresh_pg_database().await {
        dbs.push(pg);
    }
    dbs
}

/// An argon2id PHC string. `t` sets the cost: 1 for speed, more to make a scan
/// last long enough to interrupt.
fn argon2_hash(password: &str, t: u32) -> String {
    let params = Params::new(8192, t, 1, None).unwrap();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password_with_salt(password.as_bytes(), b"fixed salt, test")
        .unwrap()
        .to_string()
}

/// Imports `(email, password hash, created_at)` accounts (created_at is also
/// when their password was set).
fn import(dir: &Path, db: &str, accounts: &[(String, String, &str)]) {
    let file = dir.join("accounts.jsonl");
    let body: String = accounts
        .iter()
        .map(|(email, hash, at)| {
            format!(
                "{{\"email\":\"{email}\",\"password_hash\":\"{hash}\",\"created_at\":\"{at}\"}}\n"
            )
        })
        .collect();
    std::fs::write(&file, body).unwrap();
    let o = gatehouse(
        dir,
        db,
        &["accounts", "import", file.to_str().unwrap(), "--quiet"],
    );
    assert!(o.status.success(), "{:?}", text(&o));
}

async fn findings(db: &str) -> Vec<Finding> {
    let store = gatehouse_store::connect(db, &Default::default())
        .await
        .unwrap();
    let f = store
        .findings(&FindingFilter {
            limit: 1000,
            ..Default::default()
        })
        .await
        .unwrap();
    store.close().await;
    f
}

/// The number just before `what` in the summary ("… 3 pairs checked …").
fn count(out: &str, what: &str) -> u64 {
    let at = out
        .find(what)
        .unwrap_or_else(|| panic!("{what:?} in {out}"));
    out[..at]
        .trim_end()
        .rsplit(|c: char| !c.is_ascii_digit())
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("a number before {what:?} in {out}"))
}

#[tokio::test]
async fn scan_checks_pairs_and_records_explained_findings() {
    let dir = tempfile::tempdir().unwrap();
    for db in databases(dir.path()).await {
        let old = "2020-01-01T00:00:00Z";
        import(
            dir.path(),
            &db,
            &[
                (
                    "alice@example.com".into(),
                    argon2_hash("correct horse", 1),
                    old,
                ),
                ("bob@example.com".into(), argon2_hash("bob's own", 1), old),
                (
                    "carol@example.com".into(),
                    argon2_hash("pa:ss:word", 1),
                    old,
                ),
                // Set after the dump's date: the leaked password is not hers any more.
                (
                    "dave@example.com".into(),
                    argon2_hash("dave pw", 1),
                    "2025-06-01T00:00:00Z",
                ),
            ],
        );
        let dump = dir.path().join("leaked.txt");
        std::fs::write(
            &dump,
            "alice@example.com:correct horse\n\
             bob@example.com:not bob's\n\
             nobody@example.com:whatever\n\
             ALICE@example.com:correct horse\n\
             this line has no colon\n\
             carol@example.com:pa:ss:word\r\n\
             \n\
             dave@example.com:dave pw\n",
        )
        .unwrap();
        let f = dump.to_str().unwrap();

        let o = gatehouse(
            dir.path(),
            &db,
            &[
                "scan",
                "--leaked",
                f,
                "--dump-date",
                "2024-01-01",
                "--quiet",
            ],
        );
        let (out, err) = text(&o);
        assert_eq!(o.status.code(), Some(1), "a bad line: {out}{err}");
        assert!(
            err.contains("leaked.txt:5: no ':' between the e-mail address and the password"),
            "{err}"
        );
        assert!(
            out.contains(
                "7 lines: 3 pairs checked, 2 matched, 1 unknown addresses, 1 duplicates, 1 changed after the dump, 1 bad lines"
            ),
            "{out}"
        );
        assert!(
            out.contains(
                "findings (leaked-credentials): 2 shadow, 0 pending, 0 held, 0 recorded before"
            ),
            "{out}"
        );

        let found = findings(&db).await;
        let mut who: Vec<(&str, u64)> = found
            .iter()
            .map(|f| (f.email.as_str(), f.evidence["line"].as_u64().unwrap()))
            .collect();
        who.sort();
        assert_eq!(who, [("alice@example.com", 1), ("carol@example.com", 6)]);
        let alice = found
            .iter()
            .find(|f| f.email == "alice@example.com")
            .unwrap();
        assert_eq!(alice.rule_id, "leaked-credentials");
        assert_eq!(alice.detector, "leaked_credentials");
        assert_eq!(alice.status.to_string(), "shadow");
        let e = &alice.evidence;
        assert_eq!(e["dump"], "leaked.txt");
        assert_eq!(e["dump_date"], "2024-01-01");
        assert_eq!(e["password_changed_at"], "2020-01-01T00:00:00Z");
        assert_eq!(
            e["explanation"],
            "the e-mail/password pair on line 1 of leaked.txt (dump dated 2024-01-01) opens this account; its password was last changed at 2020-01-01T00:00:00Z."
        );
        let all =
            serde_json::to_string(&found.iter().map(|f| &f.evidence).collect::<Vec<_>>()).unwrap();
        assert!(
            !all.contains("correct horse") && !all.contains("pa:ss") && !all.contains("$argon2"),
            "evidence must not hold passwords or hashes: {all}"
        );

        // Done once: running again says so and does nothing.
        let o = gatehouse(dir.path(), &db, &["scan", "--leaked", f, "--quiet"]);
        let (out, err) = text(&o);
        assert!(o.status.success(), "{err}");
        assert!(err.contains("was scanned to the end already"), "{err}");
        assert!(out.is_empty(), "{out}");

        // From the start without a dump date: Dave is checked too, and only his
        // finding is new.
        let o = gatehouse(
            dir.path(),
            &db,
            &["scan", "--leaked", f, "--restart", "--quiet"],
        );
        let (out, _) = text(&o);
        assert!(
            out.contains("4 pairs checked, 3 matched") && out.contains("0 changed after the dump"),
            "{out}"
        );
        assert!(
            out.contains("1 shadow, 0 pending, 0 held, 2 recorded before"),
            "{out}"
        );
        let found = findings(&db).await;
        assert_eq!(found.len(), 3);
        let dave = found
            .iter()
            .find(|f| f.email == "dave@example.com")
            .unwrap();
        assert!(
            dave.evidence["explanation"]
                .as_str()
                .unwrap()
                .contains("(dump of unknown date)"),
            "{}",
            dave.evidence
        );

        // Each run is audited, without secrets, and the chain holds.
        let store = gatehouse_store::connect(&db, &Default::default())
            .await
            .unwrap();
        let runs: Vec<_> = store
            .audit_entries(0, 10_000)
            .await
            .unwrap()
            .into_iter()
            .filter(|a| a.action == "scan.leaked")
            .collect();
        store.close().await;
        assert_eq!(runs.len(), 2, "the no-op rerun writes nothing");
        let detail: serde_json::Value = serde_json::from_str(&runs[0].detail).unwrap();
        assert_eq!(runs[0].target.as_deref(), Some("leaked.txt"));
        assert_eq!(detail["matched"], 2);
        assert_eq!(detail["bad_lines"], 1);
        assert!(!runs[0].detail.contains("correct horse"));
        let o = gatehouse(dir.path(), &db, &["audit", "verify"]);
        assert!(o.status.success(), "{:?}", text(&o));

        // Unusable input: exit status 2, nothing scanned.
        let o = gatehouse(dir.path(), &db, &["scan", "--leaked", "missing.txt"]);
        assert_eq!(o.status.code(), Some(2));
        assert!(
            text(&o).1.contains("cannot open missing.txt"),
            "{:?}",
            text(&o)
        );
        let o = gatehouse(
            dir.path(),
            &db,
            &["scan", "--leaked", f, "--dump-date", "last May"],
        );
        assert_eq!(o.status.code(), Some(2));
        assert!(text(&o).1.contains("--dump-date:"), "{:?}", text(&o));

        std::fs::remove_dir_all(dir.path().join("data")).unwrap();
        std::fs::remove_file(dir.path().join("leaked.txt.scan-progress")).unwrap();
    }
}

#[tokio::test]
async fn interrupted_scan_resumes_and_checks_each_pair_once() {
    const N: usize = 300;
    let dir = tempfile::tempdir().unwrap();
    // One costly hash for every account (the importer does not mind shared salts):
    // each verification then takes long enough that Ctrl-C lands mid-scan.
    let hash = argon2_hash("the password", 8);
    for db in databases(dir.path()).await {
        let accounts: Vec<_> = (0..N)
            .map(|i| {
                (
                    format!("user{i}@example.com"),
                    hash.clone(),
                    "2020-01-01T00:00:00Z",
                )
            })
            .collect();
        import(dir.path(), &db, &accounts);
        // Even lines hold the password, odd ones a wrong one.
        let lines: Vec<String> = (0..N)
            .map(|i| {
                let pw = if i % 2 == 0 {
                    "the password"
                } else {
                    "a guess"
                };
                format!("user{i}@example.com:{pw}\n")
            })
            .collect();
        let dump = dir.path().join("big.txt");
        std::fs::write(&dump, lines.concat()).unwrap();
        let f = dump.to_str().unwrap();
        let state = dir.path().join("big.txt.scan-progress");

        let child = gatehouse_cmd(
            dir.path(),
            &db,
            &["scan", "--leaked", f, "--workers", "1", "--quiet"],
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
        // Interrupt once progress has been saved (every 2 s).
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while !state.exists() && std::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let kill = Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(kill.success());
        let o = child.wait_with_output().unwrap();
        let (out, err) = text(&o);
        assert_eq!(o.status.code(), Some(130), "{out}{err}");
        assert!(err.contains("interrupted; run again to resume"), "{err}");
        let first = count(&out, "pairs checked");
        assert!(0 < first && first < N as u64, "{out}");

        let o = gatehouse(dir.path(), &db, &["scan", "--leaked", f, "--quiet"]);
        let (out, err) = text(&o);
        assert!(o.status.success(), "{out}{err}");
        assert!(err.contains("resuming"), "{err}");
        assert!(
            out.contains(&format!("(resumed after line {first})")),
            "{out}"
        );
        let second = count(&out, "pairs checked");
        assert_eq!(first + second, N as u64, "every pair checked once: {out}");
        assert_eq!(count(&out, "recorded before"), 0, "{out}");
        let found = findings(&db).await;
        assert_eq!(found.len(), N / 2);
        let mut accounts: Vec<String> = found.iter().map(|f| f.account_id.to_string()).collect();
        accounts.sort();
        accounts.dedup();
        assert_eq!(accounts.len(), N / 2, "one finding per matching account");

        // A crash loses the progress since the last save: rewind the saved
        // position to line 250 and run again. Those lines are checked again and
        // record nothing twice.
        let mut saved: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&state).unwrap()).unwrap();
        let offset: usize = lines[..250].iter().map(String::len).sum();
        saved["position"] = serde_json::json!({ "offset": offset, "line": 250 });
        saved["complete"] = false.into();
        std::fs::write(&state, saved.to_string()).unwrap();
        let o = gatehouse(dir.path(), &db, &["scan", "--leaked", f, "--quiet"]);
        let (out, err) = text(&o);
        assert!(o.status.success(), "{out}{err}");
        assert!(
            out.contains("50 lines (resumed after line 250): 50 pairs checked, 25 matched"),
            "{out}"
        );
        assert!(
            out.contains("0 shadow, 0 pending, 0 held, 25 recorded before"),
            "{out}"
        );
        assert_eq!(findings(&db).await.len(), N / 2);

        std::fs::remove_dir_all(dir.path().join("data")).unwrap();
        std::fs::remove_file(&state).unwrap();
    }
}
