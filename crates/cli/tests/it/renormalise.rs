//! `gatehouse accounts renormalise` (issue 18 item 10) on accounts stored the
//! way earlier versions stored them (before NFC and Punycode decoding): a dry
//! run changes nothing; `--apply` re-keys the one that is alone in its new
//! form, reports the two that would become one account (never merged) and the
//! address that no longer parses; a second run finds nothing to do. On SQLite
//! and PostgreSQL.

use gatehouse_domain::audit::{Actor, AuditAction, NewAuditEntry};
use gatehouse_domain::{AccountId, OsEntropy, Timestamp};
use gatehouse_store::NewAccount;

use crate::support::*;

/// (stored address, stored key) as an earlier version wrote them.
const OLD: [(&str, &str); 5] = [
    ("E\u{301}mile@Example.com", "e\u{301}mile@example.com"),
    ("hans@xn--bcher-kva.de", "hans@xn--bcher-kva.de"),
    ("hans@bücher.de", "hans@bücher.de"),
    ("bo\u{200B}b@example.com", "bo\u{200B}b@example.com"),
    ("plain@example.com", "plain@example.com"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn old_addresses_are_rekeyed_and_collisions_reported() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for db in databases(d).await {
        let _ = std::fs::remove_dir_all(d.join("data"));
        std::fs::create_dir_all(d.join("data")).unwrap();
        let o = gatehouse(d, &db, &["migrate"]);
        assert!(o.status.success(), "{:?}", text(&o));
        let store = gatehouse_store::connect(&db, &Default::default())
            .await
            .unwrap();
        let rows: Vec<NewAccount> = OLD
            .iter()
            .map(|(email, key)| NewAccount {
                id: AccountId::generate(&OsEntropy),
                email: email.to_string(),
                email_key: key.to_string(),
                created_at: Timestamp::from_millis(1_700_000_000_000),
                password_hash: BCRYPT.to_owned(),
            })
            .collect();
        let audit = NewAuditEntry::new(
            Timestamp::from_millis(1_700_000_000_000),
            Actor::System,
            AuditAction::AccountsImported,
        );
        assert_eq!(
            store.import_accounts(&rows, audit).await.unwrap(),
            [true; 5]
        );

        let dry = gatehouse(d, &db, &["accounts", "renormalise"]);
        let (out, err) = text(&dry);
        assert_eq!(dry.status.code(), Some(1), "{out}{err}");
        assert!(
            out.contains("5 accounts: 1 to re-key, 1 collisions, 1 unparseable (dry run"),
            "{out}"
        );
        assert!(out.contains(&format!("re-key {} ", rows[0].id)), "{out}");
        assert!(
            store.login_record(OLD[0].1).await.unwrap().is_some(),
            "a dry run changes nothing"
        );

        let o = gatehouse(d, &db, &["accounts", "renormalise", "--apply", "--json"]);
        assert_eq!(o.status.code(), Some(1), "{:?}", text(&o));
        let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(r["applied"], true);
        assert_eq!(r["rekeyed"].as_array().unwrap().len(), 1, "{r}");
        assert_eq!(r["rekeyed"][0]["new_email"], "\u{c9}mile@example.com");
        let collision = &r["collisions"][0];
        assert_eq!(collision["key"], "hans@bücher.de", "{r}");
        let ids: Vec<&str> = collision["accounts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a[0].as_str().unwrap())
            .collect();
        assert_eq!(ids.len(), 2);
        assert!(
            ids.contains(&rows[1].id.to_string().as_str())
                && ids.contains(&rows[2].id.to_string().as_str())
        );
        assert_eq!(r["unparseable"][0][0], rows[3].id.to_string());

        // Re-keyed: found by its new key only; the colliding pair untouched.
        let found = store
            .login_record("\u{e9}mile@example.com")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(found.account.id, rows[0].id);
        assert_eq!(found.account.email, "\u{c9}mile@example.com");
        assert!(store.login_record(OLD[0].1).await.unwrap().is_none());
        for (email, key) in &OLD[1..] {
            assert_eq!(
                store
                    .login_record(key)
                    .await
                    .unwrap()
                    .unwrap()
                    .account
                    .email,
                *email
            );
        }
        let mut rekeyed = 0;
        let mut after = 0;
        loop {
            let page = store.audit_entries(after, 1000).await.unwrap();
            let Some(last) = page.last() else { break };
            after = last.seq;
            rekeyed += page
                .iter()
                .filter(|e| e.action == "account.rekeyed")
                .count();
        }
        assert_eq!(rekeyed, 1, "one audit entry per re-key");

        let again = gatehouse(d, &db, &["accounts", "renormalise"]);
        let (out, _) = text(&again);
        assert!(
            out.contains("5 accounts: 0 to re-key, 1 collisions, 1 unparseable"),
            "{out}"
        );
        store.close().await;
    }
}
