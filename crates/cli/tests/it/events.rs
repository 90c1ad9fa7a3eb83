//! `gatehouse events import`, run as a user would, on both engines: bad lines
//! named by number, `--strict`, re-runs that skip what is stored, and an import
//! interrupted with Ctrl-C (SIGINT) then resumed.

use std::process::{Command, Stdio};
use std::time::Duration;

use gatehouse_domain::Timestamp;

use crate::support::*;

async fn stored(db: &str) -> i64 {
    try_stored(db).await.expect("count stored events")
}

/// `None` while the database or its tables do not exist yet.
async fn try_stored(db: &str) -> Option<i64> {
    let store = gatehouse_store::connect(db, &Default::default())
        .await
        .ok()?;
    let n = store
        .count_login_events(Timestamp::from_millis(0), Timestamp::from_millis(i64::MAX))
        .await
        .ok();
    store.close().await;
    n
}

/// Line `i` of a generated file: a distinct event a few minutes old.
fn line(i: u64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let time = Timestamp::from_millis(now - 600_000 + i as i64).to_rfc3339();
    format!(
        r#"{{"time":"{time}","account":"user{}@example.com","ip":"198.51.100.{}","outcome":"wrong_password","asn":64500}}"#,
        i % 5000,
        i % 250
    )
}

#[tokio::test]
async fn import_names_bad_lines_and_skips_what_is_stored() {
    let dir = tempfile::tempdir().unwrap();
    for db in databases(dir.path()).await {
        let file = dir.path().join("events.jsonl");
        std::fs::write(
            &file,
            format!(
                "{}\n{}\n{{\"time\":\"2026-01-01T00:00:00Z\",\"account\":\"x@example.com\",\"ip\":\"nope\",\"outcome\":\"success\"}}\n\n{}\n",
                line(1),
                line(2),
                line(3)
            ),
        )
        .unwrap();
        let f = file.to_str().unwrap();

        // --strict: a bad line means nothing is imported.
        let o = gatehouse(
            dir.path(),
            &db,
            &["events", "import", f, "--strict", "--quiet"],
        );
        let (_, err) = text(&o);
        assert_eq!(o.status.code(), Some(1));
        assert!(
            err.contains("events.jsonl:3: ip: \"nope\" is not an IPv4 or IPv6 address")
                && err.contains("1 of 4 lines are bad; nothing was imported (--strict)"),
            "{err}"
        );
        assert_eq!(stored(&db).await, 0);

        // Default: good lines go in, the bad one is named, exit status 1.
        let o = gatehouse(dir.path(), &db, &["events", "import", f, "--quiet"]);
        let (out, err) = text(&o);
        assert_eq!(o.status.code(), Some(1));
        assert!(err.contains("events.jsonl:3: ip:"), "{err}");
        assert!(
            out.contains("4 lines: 3 events imported, 0 stored already, 0 older than event_retention_days (dropped), 1 bad lines"),
            "{out}"
        );
        assert_eq!(stored(&db).await, 3);

        // Again: nothing new.
        let o = gatehouse(dir.path(), &db, &["events", "import", f, "--quiet"]);
        let (out, _) = text(&o);
        assert!(out.contains("0 events imported, 3 stored already"), "{out}");
        assert_eq!(stored(&db).await, 3);

        // A clean file exits 0.
        std::fs::write(&file, format!("{}\n", line(4))).unwrap();
        let o = gatehouse(
            dir.path(),
            &db,
            &["events", "import", f, "--strict", "--quiet"],
        );
        assert!(o.status.success(), "{:?}", text(&o));
        assert_eq!(stored(&db).await, 4);

        let o = gatehouse(dir.path(), &db, &["events", "import", "missing.jsonl"]);
        assert!(text(&o).1.contains("cannot open missing.jsonl"));
        std::fs::remove_dir_all(dir.path().join("data")).unwrap();
    }
}

#[tokio::test]
async fn interrupted_import_resumes() {
    let dir = tempfile::tempdir().unwrap();
    for db in databases(dir.path()).await {
        const N: u64 = 40_000;
        let file = dir.path().join("big.jsonl");
        let mut body = String::with_capacity(N as usize * 130);
        for i in 0..N {
            body.push_str(&line(i));
            body.push('\n');
        }
        std::fs::write(&file, body).unwrap();
        let f = file.to_str().unwrap();

        let child = gatehouse_cmd(
            dir.path(),
            &db,
            &["events", "import", f, "--quiet", "--batch-size", "500"],
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
        // Interrupt once some batches are in.
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while try_stored(&db).await.unwrap_or(0) == 0 && std::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let kill = Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(kill.success());
        let o = child.wait_with_output().unwrap();
        let (_, err) = text(&o);
        let partial = stored(&db).await as u64;
        eprintln!(
            "{db}: status {:?}, {partial} of {N} stored at the interrupt",
            o.status.code()
        );
        if o.status.code() == Some(130) {
            assert!(
                err.contains("run the same command again to resume"),
                "{err}"
            );
            assert!(partial < N, "interrupted before the end");
        } else {
            // The machine was fast enough to finish first; the resume below still holds.
            assert!(o.status.success(), "{err}");
        }
        assert!(partial > 0);

        let o = gatehouse(dir.path(), &db, &["events", "import", f, "--quiet"]);
        let (out, err) = text(&o);
        assert!(o.status.success(), "{err}");
        let imported = N - partial;
        assert!(
            out.contains(&format!(
                "{N} lines: {imported} events imported, {partial} stored already"
            )),
            "{out}"
        );
        assert_eq!(stored(&db).await as u64, N);
        std::fs::remove_dir_all(dir.path().join("data")).unwrap();
    }
}

#[tokio::test]
async fn the_fingerprint_key_is_printed_stable_and_not_the_server_key() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let db = format!("sqlite:{}", d.join("data/gatehouse.db").display());
    let run = || {
        let o = gatehouse(d, &db, &["events", "fingerprint-key"]);
        let (out, err) = text(&o);
        assert!(o.status.success(), "{out}\n{err}");
        assert!(err.contains("a secret"), "{err}");
        out.trim().to_owned()
    };
    let key = run();
    assert_eq!(key.len(), 64, "{key}");
    assert!(key.bytes().all(|b| b.is_ascii_hexdigit()), "{key}");
    assert_eq!(
        run(),
        key,
        "derived from the server key: the same every time"
    );
    let server_key = std::fs::read_to_string(d.join("data/secret.key")).unwrap();
    assert_ne!(server_key.trim(), key, "never the server key itself");
}
