//! `gatehouse status …` as an operator runs it, on SQLite and PostgreSQL.

use crate::support::*;

#[tokio::test]
async fn incident_lifecycle_from_the_terminal() {
    let dir = tempfile::tempdir().unwrap();
    for db in databases(dir.path()).await {
        let run = |args: &[&str]| {
            let o = gatehouse(dir.path(), &db, args);
            let (out, err) = text(&o);
            (o.status.success(), out, err)
        };
        let (ok, out, err) = run(&[
            "status",
            "component",
            "set",
            "login",
            "--name",
            "Sign-in",
            "--position",
            "1",
        ]);
        assert!(ok, "{err}");
        assert!(out.contains("component login saved"), "{out}");
        let (_, out, _) = run(&["status", "component", "list"]);
        assert!(out.contains("login") && out.contains("Sign-in"), "{out}");

        let (ok, out, err) = run(&[
            "status",
            "incident",
            "create",
            "--title",
            "Sign-in is slow",
            "-m",
            "Looking into it.",
            "--impact",
            "major",
            "--components",
            "login",
        ]);
        assert!(ok, "{err}");
        let id = out
            .split_whitespace()
            .nth(1)
            .expect("incident N drafted")
            .to_string();
        assert!(out.contains("drafted (not public"), "{out}");

        // An update before publishing is refused, with the reason.
        let (ok, _, err) = run(&[
            "status",
            "incident",
            "update",
            &id,
            "--state",
            "identified",
            "-m",
            "x",
        ]);
        assert!(!ok);
        assert!(err.contains("publish it first"), "{err}");

        let (ok, out, err) = run(&["status", "incident", "publish", &id]);
        assert!(ok, "{err}");
        assert!(out.contains("published as investigating"), "{out}");
        let (ok, _, err) = run(&[
            "status",
            "incident",
            "update",
            &id,
            "--state",
            "identified",
            "-m",
            "A replica lags.",
        ]);
        assert!(ok, "{err}");
        let (ok, out, err) = run(&["status", "incident", "resolve", &id, "-m", "Fixed."]);
        assert!(ok, "{err}");
        assert!(out.contains("resolved"), "{out}");

        let (ok, out, _) = run(&["status", "incident", "list"]);
        assert!(ok);
        assert!(
            out.contains("[resolved] Sign-in is slow (impact major; login)"),
            "{out}"
        );
        assert!(out.contains("A replica lags."), "{out}");
        let (ok, _, err) = run(&["status", "incident", "publish", "999"]);
        assert!(!ok);
        assert!(err.contains("incident not found"), "{err}");
        let (ok, _, err) = run(&[
            "status", "incident", "create", "--title", "t", "-m", "b", "--impact", "huge",
        ]);
        assert!(!ok);
        assert!(err.contains("impact"), "{err}");
    }
}
