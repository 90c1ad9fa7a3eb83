//! The compromise checks from the command line, on both engines: `rules list`,
//! `rules apply` (new versions, bad files named), events imported from a file and
//! picked up by the detection monitor of a running `gatehouse serve`,
//! `findings`, and `rules backtest` of a broken draft.

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use gatehouse_domain::Timestamp;

use crate::support::*;

fn ok(o: &Output) -> String {
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        o.status.success(),
        "{out}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    out
}

struct Serve(Child);

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn serve(dir: &Path, db: &str) -> Serve {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .arg("serve")
        .env_remove("GATEHOUSE_CONFIG")
        .env("GATEHOUSE_DATA_DIR", dir.join("data"))
        .env("GATEHOUSE_DATABASE_URL", db)
        .env("GATEHOUSE_LISTEN", format!("127.0.0.1:{port}"))
        .env("GATEHOUSE_PUBLIC_URL", format!("http://127.0.0.1:{port}"))
        .env("GATEHOUSE_ARGON2_MEMORY_KIB", "1024")
        .env("GATEHOUSE_ARGON2_ITERATIONS", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start gatehouse serve");
    Serve(child)
}

/// A stuffing run a few minutes ago: 30 failures from 203.0.113.0/24 over a combo
/// list, then `victims` sign in from that network; `u9` signs in from home.
fn attack_file(victims: &[&str]) -> String {
    let now = Timestamp::from_millis(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64,
    );
    let at = |secs_ago: u64| now.minus(Duration::from_secs(secs_ago)).to_rfc3339();
    let mut lines: Vec<String> = (0..30)
        .map(|i| {
            format!(
                r#"{{"time":"{}","account":"combo{i}@example.net","ip":"203.0.113.{}","outcome":"unknown_account"}}"#,
                at(600 - i),
                i + 1
            )
        })
        .collect();
    for (i, v) in victims.iter().enumerate() {
        lines.push(format!(
            r#"{{"time":"{}","account":"{v}","ip":"203.0.113.200","outcome":"success"}}"#,
            at(300 - i as u64)
        ));
    }
    lines.push(format!(
        r#"{{"time":"{}","account":"u9@example.com","ip":"198.51.100.9","outcome":"success"}}"#,
        at(250)
    ));
    lines.join("\n") + "\n"
}

#[tokio::test]
async fn rules_findings_and_backtests_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for db in databases(d).await {
        let _ = std::fs::remove_dir_all(d.join("data"));
        let users: String = (1..=9)
            .map(|i| format!("{{\"email\":\"u{i}@example.com\",\"password_hash\":\"{BCRYPT}\"}}\n"))
            .collect();
        std::fs::write(d.join("users.jsonl"), users).unwrap();
        ok(&gatehouse(
            d,
            &db,
            &["accounts", "import", "users.jsonl", "--quiet"],
        ));

        // The shipped rules, all in shadow mode.
        let list = ok(&gatehouse(d, &db, &["rules", "list"]));
        for id in [
            "credential-stuffing",
            "password-spraying",
            "distributed-guessing",
            "breached-password",
            "leaked-credentials",
        ] {
            let line = list
                .lines()
                .find(|l| l.starts_with(id))
                .unwrap_or_else(|| panic!("{list}"));
            assert!(line.contains(" shadow "), "{line}");
        }

        // A bad file is refused with where and why; nothing changes.
        std::fs::write(
            d.join("bad.toml"),
            "[[rule]]\nid = \"credential-stuffing\"\ndetector = \"credential_stuffing\"\nmode = \"loud\"\n",
        )
        .unwrap();
        let o = gatehouse(d, &db, &["rules", "apply", "bad.toml"]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success());
        assert!(err.contains("bad.toml") && err.contains("line 4"), "{err}");

        // Enforce stuffing with a cap of one a day: version 2.
        std::fs::write(
            d.join("rules.toml"),
            "[[rule]]\nid = \"credential-stuffing\"\ndetector = \"credential_stuffing\"\nmode = \"enforce\"\naction = \"force_reset\"\nmax_findings_per_day = 1\n",
        )
        .unwrap();
        let out = ok(&gatehouse(d, &db, &["rules", "apply", "rules.toml"]));
        assert_eq!(
            out.trim(),
            "stored credential-stuffing (version 2, enforce)"
        );
        let out = ok(&gatehouse(d, &db, &["rules", "apply", "rules.toml"]));
        assert_eq!(
            out.trim(),
            "unchanged credential-stuffing (version 2, enforce)"
        );
        let shown = ok(&gatehouse(
            d,
            &db,
            &["rules", "show", "credential-stuffing", "--version", "1"],
        ));
        assert!(
            shown.contains("mode = \"shadow\"") && shown.contains("min_distinct = 20"),
            "{shown}"
        );

        // Events from a file reach the monitor of a running server.
        let server = serve(d, &db);
        std::fs::write(
            d.join("attack.jsonl"),
            attack_file(&["u1@example.com", "u2@example.com"]),
        )
        .unwrap();
        ok(&gatehouse(
            d,
            &db,
            &["events", "import", "attack.jsonl", "--quiet"],
        ));
        let deadline = Instant::now() + Duration::from_secs(60);
        let found: Vec<serde_json::Value> = loop {
            let o = gatehouse(d, &db, &["findings", "--json"]);
            let found: Vec<serde_json::Value> =
                serde_json::from_slice(&o.stdout).unwrap_or_default();
            if found.len() >= 2 {
                break found;
            }
            assert!(
                Instant::now() < deadline,
                "no findings within 60 s: {found:?}"
            );
            std::thread::sleep(Duration::from_millis(200));
        };
        drop(server);
        assert_eq!(found.len(), 2, "{found:#?}");
        let mut statuses: Vec<&str> = found
            .iter()
            .map(|f| f["status"].as_str().unwrap())
            .collect();
        statuses.sort();
        assert_eq!(
            statuses,
            ["held", "pending"],
            "the cap of one a day holds the second"
        );
        let text = ok(&gatehouse(
            d,
            &db,
            &["findings", "--account", "u1@example.com"],
        ));
        assert!(
            text.contains("credential-stuffing v2") && text.contains("203.0.113.0/24 tried about "),
            "{text}"
        );

        // A broken draft: its backtest shows the damage before anything runs.
        std::fs::write(
            d.join("draft.toml"),
            "[[rule]]\nid = \"credential-stuffing\"\ndetector = \"credential_stuffing\"\nthresholds = { min_distinct = 1, min_failures = 1, min_failure_ratio = 0.0 }\ngrouping = \"asn\"\n",
        )
        .unwrap();
        let report = ok(&gatehouse(
            d,
            &db,
            &[
                "rules",
                "backtest",
                "credential-stuffing",
                "--since",
                "1d",
                "--draft",
                "draft.toml",
            ],
        ));
        assert!(
            report.contains("current version 2: 2 accounts flagged"),
            "{report}"
        );
        assert!(report.contains("draft: "), "{report}");
        assert!(
            report.contains("sources judged attacking") && report.contains("203.0.113.0/24"),
            "{report}"
        );
        // Every flagged account to CSV; recording is refused for a draft.
        let report = ok(&gatehouse(
            d,
            &db,
            &[
                "rules",
                "backtest",
                "credential-stuffing",
                "--since",
                "1d",
                "--csv",
                "flagged.csv",
                "--record",
            ],
        ));
        assert!(
            report.contains("recorded as shadow findings: 0 new, 2 already recorded"),
            "the live monitor recorded them already: {report}"
        );
        let csv = std::fs::read_to_string(d.join("flagged.csv")).unwrap();
        assert_eq!(csv.lines().count(), 3, "{csv}");
        assert!(csv.contains("u1@example.com"), "{csv}");
        let o = gatehouse(
            d,
            &db,
            &[
                "rules",
                "backtest",
                "credential-stuffing",
                "--draft",
                "draft.toml",
                "--record",
            ],
        );
        assert!(!o.status.success(), "--record and --draft conflict");
        // What the checks are doing.
        let status = ok(&gatehouse(d, &db, &["rules", "status"]));
        assert!(
            status.contains("credential-stuffing") && status.contains("late history: none"),
            "{status}"
        );
        let json: serde_json::Value =
            serde_json::from_str(&ok(&gatehouse(d, &db, &["rules", "status", "--json"]))).unwrap();
        let rule = json["rules"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == "credential-stuffing")
            .unwrap();
        assert_eq!(
            (rule["pending_24h"].as_i64(), rule["held_24h"].as_i64()),
            (Some(1), Some(1))
        );
        let o = gatehouse(
            d,
            &db,
            &[
                "rules",
                "backtest",
                "credential-stuffing",
                "--since",
                "last week",
            ],
        );
        assert!(!o.status.success());
        assert!(String::from_utf8_lossy(&o.stderr).contains("duration like 24h"));
    }
}
