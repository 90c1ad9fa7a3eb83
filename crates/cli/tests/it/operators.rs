//! `gatehouse operator list|rotate-key|revoke-key|disable|enable` and
//! `create --expires-in` (issue 18 #6), as an administrator runs them, on each
//! engine: the keys the CLI prints are checked against the store itself.

use gatehouse_domain::ApiKey;
use serde_json::Value;

use crate::support::*;

/// `operator list --json`, by e-mail.
fn list(dir: &std::path::Path, db: &str) -> Vec<Value> {
    let o = gatehouse(dir, db, &["operator", "list", "--json"]);
    assert!(o.status.success(), "{:?}", text(&o));
    text(&o)
        .0
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Runs `gatehouse operator ARGS`, asserting success; (stdout, stderr).
fn ok(dir: &std::path::Path, db: &str, args: &[&str]) -> (String, String) {
    let mut all = vec!["operator"];
    all.extend_from_slice(args);
    let o = gatehouse(dir, db, &all);
    assert!(o.status.success(), "{args:?}: {:?}", text(&o));
    text(&o)
}

/// Runs `gatehouse operator ARGS`, asserting failure; stderr.
fn refused(dir: &std::path::Path, db: &str, args: &[&str]) -> String {
    let mut all = vec!["operator"];
    all.extend_from_slice(args);
    let o = gatehouse(dir, db, &all);
    assert!(!o.status.success(), "{args:?} succeeded: {:?}", text(&o));
    text(&o).1
}

#[tokio::test]
async fn operator_keys_have_a_life_cycle_on_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    for db in databases(dir.path()).await {
        let (ann_key, err) = ok(
            dir.path(),
            &db,
            &[
                "create",
                "--email",
                "ann@ops.example",
                "--expires-in",
                "90d",
            ],
        );
        assert!(err.contains("the key expires at"), "{err}");
        let (bob_key, _) = ok(dir.path(), &db, &["create", "--email", "bob@ops.example"]);
        let store = gatehouse_store::connect(&db, &Default::default())
            .await
            .unwrap();
        let holder = |key: String| {
            let store = store.clone();
            async move {
                let key = ApiKey::parse(key.trim()).unwrap();
                store.operator_key_holder(&key.hash()).await.unwrap()
            }
        };
        assert!(holder(ann_key.clone()).await.unwrap().expires_at.is_some());

        let ops = list(dir.path(), &db);
        assert_eq!(ops.len(), 2, "{ops:?}");
        assert_eq!(ops[0]["email"], "ann@ops.example");
        assert!(ops[0]["key_expires_at"].is_string(), "{:?}", ops[0]);
        assert_eq!(ops[1]["key_expires_at"], Value::Null);
        assert_eq!(ops[1]["key_state"], "active");
        // The plain listing names both, one line each.
        let (plain, _) = ok(dir.path(), &db, &["list"]);
        assert_eq!(plain.lines().count(), 2, "{plain}");
        assert!(
            plain.contains("bob@ops.example") && plain.contains("enabled"),
            "{plain}"
        );

        // Rotate: a new key printed once; the old one refused by the store.
        let (new_key, err) = ok(
            dir.path(),
            &db,
            &[
                "rotate-key",
                "--email",
                "bob@ops.example",
                "--expires-in",
                "12h",
            ],
        );
        assert!(err.contains("the old key no longer works"), "{err}");
        assert!(new_key.trim().starts_with("gho_"), "{new_key}");
        assert!(
            holder(bob_key.clone()).await.is_none(),
            "the old key still works"
        );
        assert!(holder(new_key.clone()).await.is_some());
        assert!(
            refused(
                dir.path(),
                &db,
                &[
                    "rotate-key",
                    "--email",
                    "bob@ops.example",
                    "--expires-in",
                    "soon"
                ]
            )
            .contains("not a lifetime")
        );

        // Revoke: refused; a second revoke changes nothing.
        let (_, err) = ok(
            dir.path(),
            &db,
            &["revoke-key", "--email", "bob@ops.example"],
        );
        assert!(err.contains("key revoked"), "{err}");
        assert!(
            holder(new_key.clone()).await.is_none(),
            "a revoked key still works"
        );
        let (_, err) = ok(
            dir.path(),
            &db,
            &["revoke-key", "--email", "bob@ops.example"],
        );
        assert!(err.contains("nothing changed"), "{err}");
        assert_eq!(list(dir.path(), &db)[1]["key_state"], "revoked");

        // Disable Bob (by id); Ann, then the last enabled, is never disabled.
        let bob_id = ops[1]["id"].as_str().unwrap().to_owned();
        ok(dir.path(), &db, &["disable", "--email", &bob_id]);
        assert_eq!(list(dir.path(), &db)[1]["enabled"], false);
        let err = refused(dir.path(), &db, &["disable", "--email", "ann@ops.example"]);
        assert!(err.contains("last enabled operator"), "{err}");
        assert!(
            holder(ann_key.clone()).await.is_some(),
            "Ann was locked out"
        );
        // A disabled operator's key is not rotated behind their back.
        let err = refused(
            dir.path(),
            &db,
            &["rotate-key", "--email", "bob@ops.example"],
        );
        assert!(err.contains("enable them first"), "{err}");
        ok(dir.path(), &db, &["enable", "--email", "bob@ops.example"]);
        assert_eq!(list(dir.path(), &db)[1]["enabled"], true);
        let err = refused(
            dir.path(),
            &db,
            &["disable", "--email", "nobody@ops.example"],
        );
        assert!(err.contains("not found"), "{err}");

        // Each change is audited, as the system (the CLI), via the CLI.
        let entries = store.audit_entries(0, 1000).await.unwrap();
        let actions: Vec<&str> = entries.iter().map(|e| e.action.as_str()).collect();
        for (action, n) in [
            ("operator.created", 2),
            ("operator.key_rotated", 1),
            ("operator.key_revoked", 1),
            ("operator.disabled", 1),
            ("operator.enabled", 1),
        ] {
            assert_eq!(
                actions.iter().filter(|a| **a == action).count(),
                n,
                "{action}: {actions:?}"
            );
        }
        let verify = gatehouse(dir.path(), &db, &["audit", "verify"]);
        assert!(verify.status.success(), "{:?}", text(&verify));
    }
}
