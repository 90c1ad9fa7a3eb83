//! The `gatehouse` binary, run as a user would: exit codes and messages.

use std::process::Command;

use crate::support::*;

#[tokio::test]
async fn import_reports_bad_lines_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    for db in databases(dir.path()).await {
        let file = dir.path().join("users.jsonl");
        let good = |i: u32| format!(r#"{{"email":"u{i}@example.com","password_hash":"{BCRYPT}"}}"#);
        std::fs::write(
            &file,
            format!(
                "{}\n{}\n{{\"email\":\"bad\"}}\n{}\n",
                good(1),
                good(2),
                good(3)
            ),
        )
        .unwrap();
        let f = file.to_str().unwrap();

        // --strict: a bad line means nothing is imported.
        let o = gatehouse(
            dir.path(),
            &db,
            &["accounts", "import", f, "--strict", "--quiet"],
        );
        let (_, err) = text(&o);
        assert!(!o.status.success());
        assert!(
            err.contains("users.jsonl:3:") && err.contains("nothing was imported"),
            "{err}"
        );

        // Default: good lines go in, the bad one is named, exit status says so.
        let o = gatehouse(dir.path(), &db, &["accounts", "import", f, "--quiet"]);
        let (out, err) = text(&o);
        assert_eq!(o.status.code(), Some(1));
        assert!(
            err.contains("users.jsonl:3: not a valid import object: missing field `password_hash`"),
            "{err}"
        );
        assert!(
            out.contains("3 accounts imported, 0 already existed, 1 bad lines"),
            "{out}"
        );

        // Running again resumes: nothing is imported twice.
        let o = gatehouse(dir.path(), &db, &["accounts", "import", f, "--quiet"]);
        assert!(
            text(&o)
                .0
                .contains("0 accounts imported, 3 already existed"),
            "{:?}",
            text(&o)
        );

        let o = gatehouse(dir.path(), &db, &["audit", "verify"]);
        assert!(
            o.status.success() && text(&o).0.contains("audit log intact"),
            "{:?}",
            text(&o)
        );

        // A checkpoint kept outside the database, and the log checked against it.
        let o = gatehouse(dir.path(), &db, &["audit", "checkpoint"]);
        assert!(o.status.success(), "{:?}", text(&o));
        let cp = text(&o).0;
        let saved = dir.path().join("checkpoint.json");
        std::fs::write(&saved, &cp).unwrap();
        let f = saved.to_str().unwrap();
        let o = gatehouse(dir.path(), &db, &["audit", "verify", "--against", f]);
        assert!(
            o.status.success() && text(&o).0.contains("audit log intact"),
            "{:?}",
            text(&o)
        );
        // A checkpoint this server did not sign is refused.
        let mut forged: serde_json::Value = serde_json::from_str(cp.trim()).unwrap();
        forged["seq"] = serde_json::json!(forged["seq"].as_i64().unwrap() - 1);
        std::fs::write(&saved, forged.to_string()).unwrap();
        let o = gatehouse(dir.path(), &db, &["audit", "verify", "--against", f]);
        assert!(!o.status.success());
        assert!(
            text(&o).1.contains("signature does not match"),
            "{:?}",
            text(&o)
        );
        std::fs::write(&saved, "not json").unwrap();
        let o = gatehouse(dir.path(), &db, &["audit", "verify", "--against", f]);
        assert!(!o.status.success());
        assert!(
            text(&o).1.contains("not an audit checkpoint"),
            "{:?}",
            text(&o)
        );
    }
}

#[tokio::test]
async fn operator_create_prints_the_key_once() {
    let dir = tempfile::tempdir().unwrap();
    for db in databases(dir.path()).await {
        let o = gatehouse(
            dir.path(),
            &db,
            &["operator", "create", "--email", "ops@example.com"],
        );
        let (out, err) = text(&o);
        assert!(o.status.success(), "{err}");
        assert!(
            out.trim().starts_with("gho_") && out.trim().len() == 47,
            "{out}"
        );
        assert!(err.contains("shown once"));
        let again = gatehouse(
            dir.path(),
            &db,
            &["operator", "create", "--email", "OPS@example.com"],
        );
        assert!(!again.status.success());
        assert!(text(&again).1.contains("exists"), "{:?}", text(&again));
    }
}

/// The production build carries no benchmark code: `gatehouse bench …` names
/// the command that runs it instead, with the user's arguments, and fails.
#[cfg(not(feature = "bench"))]
#[test]
fn bench_without_the_feature_says_how_to_run_it() {
    let o = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .args(["bench", "campaign", "--accounts", "1000"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{:?}", text(&o));
    let (_, err) = text(&o);
    assert!(
        err.contains("cargo run --release -p gatehouse-bench -- campaign --accounts 1000")
            && err.contains("--features bench"),
        "{err}"
    );
}

/// `gatehouse config` lists every key the server reads, in text and JSON, and
/// needs no valid configuration to do so.
#[test]
fn config_lists_every_key() {
    let dir = tempfile::tempdir().unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .arg("config")
        .current_dir(dir.path())
        .env("GATEHOUSE_LISTEN", "nowhere")
        .output()
        .unwrap();
    assert!(o.status.success(), "{:?}", text(&o));
    let out = text(&o).0;
    for key in gatehouse_server::config::KEY_NAMES {
        let env = format!("GATEHOUSE_{}", key.to_uppercase());
        assert!(out.contains(&format!("{key}  (env {env})")), "{key}: {out}");
    }
    assert!(out.contains("default: 127.0.0.1:8080"), "{out}");

    let o = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .args(["config", "--format", "json"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{:?}", text(&o));
    let keys: Vec<serde_json::Value> = serde_json::from_slice(&o.stdout).unwrap();
    let listed: Vec<&str> = keys.iter().map(|k| k["key"].as_str().unwrap()).collect();
    assert_eq!(listed, gatehouse_server::config::KEY_NAMES);
    for k in &keys {
        assert!(k["help"].as_str().is_some_and(|h| !h.is_empty()), "{k}");
        assert!(
            k["env"]
                .as_str()
                .is_some_and(|e| e.starts_with("GATEHOUSE_")),
            "{k}"
        );
    }
}

#[test]
fn bad_configuration_names_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .args(["migrate"])
        .current_dir(dir.path())
        .env("GATEHOUSE_LISTEN", "nowhere")
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(
        text(&o).1.contains("`listen` (env GATEHOUSE_LISTEN)"),
        "{:?}",
        text(&o)
    );

    let cfg = dir.path().join("g.toml");
    std::fs::write(&cfg, "listen = \"nowhere\"\n").unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .args(["--config", cfg.to_str().unwrap(), "migrate"])
        .current_dir(dir.path())
        .env_remove("GATEHOUSE_LISTEN")
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(
        text(&o)
            .1
            .contains(&format!("`listen` (in config file {})", cfg.display())),
        "{:?}",
        text(&o)
    );

    std::fs::write(&cfg, "pasword_min_length = 12\n").unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .args(["--config", cfg.to_str().unwrap(), "migrate"])
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(
        text(&o).1.contains("unknown key `pasword_min_length`"),
        "{:?}",
        text(&o)
    );

    let o = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .args(["accounts", "import", "/nonexistent.jsonl"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(
        text(&o).1.contains("cannot open /nonexistent.jsonl"),
        "{:?}",
        text(&o)
    );
}
