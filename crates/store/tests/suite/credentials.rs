//! Password changes.

use super::*;

both_engines!(
    password_change_bumps_version_and_ends_other_sessions,
    |s: Arc<dyn Store>| async move {
        let a = new_account("p@example.com");
        s.create_account(&a, audit(AuditAction::AccountCreated))
            .await
            .unwrap();
        let (keep, _) = new_session(a.id, T0);
        let (other, _) = new_session(a.id, T0);
        s.create_session(&keep, "k", None, audit(AuditAction::LoginSucceeded))
            .await
            .unwrap();
        s.create_session(&other, "k", None, audit(AuditAction::LoginSucceeded))
            .await
            .unwrap();
        let change = PasswordChange {
            account: a.id,
            expected_version: 1,
            new_hash: "$argon2id$new",
            now: T0,
            keep_session: Some(keep.id),
            end_other_sessions: true,
            end_reason: "password_changed",
            notice: None,
        };
        let done = s
            .change_password(&change, audit(AuditAction::PasswordChanged))
            .await
            .unwrap();
        assert_eq!(
            done,
            PasswordChanged {
                version: 2,
                sessions_ended: 1
            }
        );
        let rec = s.login_record("p@example.com").await.unwrap().unwrap();
        assert_eq!((rec.version, rec.hash.as_str()), (2, "$argon2id$new"));
        // A change based on a stale version is refused.
        let err = s
            .change_password(&change, audit(AuditAction::PasswordChanged))
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Conflict(_)));
        // Rehash is compare-and-swap on the old hash.
        assert!(
            !s.rehash_credential(
                a.id,
                "$argon2id$old",
                "$x",
                audit(AuditAction::PasswordRehashed)
            )
            .await
            .unwrap()
        );
        assert!(
            s.rehash_credential(
                a.id,
                "$argon2id$new",
                "$x",
                audit(AuditAction::PasswordRehashed)
            )
            .await
            .unwrap()
        );
        assert_eq!(
            s.login_record("p@example.com")
                .await
                .unwrap()
                .unwrap()
                .version,
            2,
            "rehash keeps the version"
        );
        // Without a session to keep, all end.
        let change = PasswordChange {
            expected_version: 2,
            new_hash: "$y",
            keep_session: None,
            ..change
        };
        assert_eq!(
            s.change_password(&change, audit(AuditAction::PasswordChanged))
                .await
                .unwrap()
                .sessions_ended,
            1
        );
        // Keeping other sessions is possible on request.
        let (extra, _) = new_session(a.id, T0);
        s.create_session(&extra, "k", None, audit(AuditAction::LoginSucceeded))
            .await
            .unwrap();
        let change = PasswordChange {
            expected_version: 3,
            new_hash: "$z",
            end_other_sessions: false,
            ..change
        };
        assert_eq!(
            s.change_password(&change, audit(AuditAction::PasswordChanged))
                .await
                .unwrap()
                .sessions_ended,
            0
        );
        assert_eq!(s.active_sessions(a.id, T0).await.unwrap().len(), 1);
    }
);
