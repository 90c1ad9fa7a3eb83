//! OpenID Connect provider storage: keys, clients, codes, grants, consents.

use gatehouse_domain::SessionState;
use gatehouse_domain::oidc::{AuthCode, ClientSecret, RefreshToken};

use super::*;

fn client(id: &str, secret: Option<&ClientSecret>) -> ClientRecord {
    ClientRecord {
        id: id.into(),
        name: format!("App {id}"),
        secret_hash: secret.map(|s| s.hash()),
        redirect_uris: vec!["https://app.example/cb".into()],
        post_logout_redirect_uris: vec!["https://app.example/bye".into()],
        first_party: false,
        backchannel_logout_uri: None,
        backchannel_logout_session_required: false,
        created_at: T0,
        updated_at: T0,
        disabled_at: None,
        id_token_alg: "ES256".into(),
    }
}

fn code_for(c: &ClientRecord, session: &NewSession, at: Timestamp) -> (CodeRecord, AuthCode) {
    let code = AuthCode::generate(&OsEntropy);
    (
        CodeRecord {
            code_hash: code.hash(),
            client_id: c.id.clone(),
            account: session.account,
            session: session.id,
            redirect_uri: c.redirect_uris[0].clone(),
            scope: "openid email offline_access".into(),
            nonce: Some("n-1".into()),
            code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".into(),
            auth_time: session.created_at,
            created_at: at,
            used_at: None,
            grant_id: None,
        },
        code,
    )
}

fn refresh(generation: i64, at: Timestamp) -> (NewRefreshToken, RefreshToken) {
    let t = RefreshToken::generate(&OsEntropy);
    (
        NewRefreshToken {
            token_hash: t.hash(),
            generation,
            created_at: at,
            expires_at: at.plus(Duration::from_secs(86_400)),
        },
        t,
    )
}

both_engines!(clients_and_keys, |s: Arc<dyn Store>| async move {
    let secret = ClientSecret::generate(&OsEntropy);
    let c = client("shop", Some(&secret));
    s.create_client(&c, audit(AuditAction::OidcClientChanged))
        .await
        .unwrap();
    assert!(matches!(
        s.create_client(&c, audit(AuditAction::OidcClientChanged))
            .await,
        Err(StoreError::Conflict(_))
    ));
    let public = client("spa", None);
    s.create_client(&public, audit(AuditAction::OidcClientChanged))
        .await
        .unwrap();
    assert_eq!(s.client("shop").await.unwrap().unwrap(), c);
    assert!(s.client("nope").await.unwrap().is_none());
    assert_eq!(
        s.clients()
            .await
            .unwrap()
            .iter()
            .map(|c| c.id.as_str())
            .collect::<Vec<_>>(),
        vec!["shop", "spa"]
    );

    let mut edited = c.clone();
    edited.name = "Shop".into();
    edited.redirect_uris.push("https://app.example/cb2".into());
    edited.first_party = true;
    edited.updated_at = T0.plus(Duration::from_secs(1));
    assert!(
        s.update_client(&edited, audit(AuditAction::OidcClientChanged))
            .await
            .unwrap()
    );
    assert_eq!(s.client("shop").await.unwrap().unwrap(), edited);

    // A new secret replaces the old; a public client cannot get one.
    let new_secret = ClientSecret::generate(&OsEntropy);
    assert!(
        s.set_client_secret(
            "shop",
            &new_secret.hash(),
            T0,
            audit(AuditAction::OidcClientChanged)
        )
        .await
        .unwrap()
    );
    assert_eq!(
        s.client("shop").await.unwrap().unwrap().secret_hash,
        Some(new_secret.hash())
    );
    assert!(
        !s.set_client_secret(
            "spa",
            &new_secret.hash(),
            T0,
            audit(AuditAction::OidcClientChanged)
        )
        .await
        .unwrap()
    );

    let key = SigningKeyRecord {
        kid: "kid-a".into(),
        alg: "ES256".into(),
        public_jwk: "{}".into(),
        sealed_private: vec![1, 2, 3],
        created_at: T0,
    };
    s.insert_signing_key(&key, audit(AuditAction::OidcKeyChanged))
        .await
        .unwrap();
    let newer = SigningKeyRecord {
        kid: "kid-b".into(),
        created_at: T0.plus(Duration::from_secs(5)),
        ..key.clone()
    };
    s.insert_signing_key(&newer, audit(AuditAction::OidcKeyChanged))
        .await
        .unwrap();
    assert_eq!(s.signing_keys().await.unwrap(), vec![newer, key]);
});

both_engines!(codes_are_redeemed_once, |s: Arc<dyn Store>| async move {
    let a = new_account("o@example.com");
    s.create_account(&a, audit(AuditAction::AccountCreated))
        .await
        .unwrap();
    let (session, _) = new_session(a.id, T0);
    s.create_session(&session, "k", None, audit(AuditAction::LoginSucceeded))
        .await
        .unwrap();
    let c = client("shop", None);
    s.create_client(&c, audit(AuditAction::OidcClientChanged))
        .await
        .unwrap();
    let (rec, code) = code_for(&c, &session, T0);
    s.insert_code(&rec).await.unwrap();
    let stored = s.code(&code.hash()).await.unwrap().unwrap();
    assert_eq!(stored.nonce.as_deref(), Some("n-1"));
    assert!(stored.used_at.is_none());

    let grant = NewGrant {
        id: "g1".into(),
        client_id: "shop".into(),
        account: a.id,
        session: session.id,
        scope: rec.scope.clone(),
        auth_time: T0,
        created_at: T0,
    };
    let (r0, _) = refresh(0, T0);
    assert_eq!(
        s.redeem_code(&code.hash(), T0, &grant, Some(&r0))
            .await
            .unwrap(),
        Applied::Done
    );
    // The second redemption loses and writes nothing.
    let again = NewGrant {
        id: "g2".into(),
        ..grant.clone()
    };
    assert_eq!(
        s.redeem_code(&code.hash(), T0, &again, None).await.unwrap(),
        Applied::Lost
    );
    assert!(s.grant("g2").await.unwrap().is_none());
    let used = s.code(&code.hash()).await.unwrap().unwrap();
    assert_eq!(used.grant_id.as_deref(), Some("g1"));

    let g = s.grant("g1").await.unwrap().unwrap();
    assert_eq!(g.account_email, "o@example.com");
    assert_eq!(g.session_state, Some(SessionState::Active));
    assert!(g.is_live(T0));

    // A replay revokes what the code issued, once.
    assert!(s.revoke_code_grant(&code.hash(), T0).await.unwrap());
    assert!(!s.revoke_code_grant(&code.hash(), T0).await.unwrap());
    assert!(!s.grant("g1").await.unwrap().unwrap().is_live(T0));
});

both_engines!(
    refresh_families_rotate_once,
    |s: Arc<dyn Store>| async move {
        let a = new_account("r@example.com");
        s.create_account(&a, audit(AuditAction::AccountCreated))
            .await
            .unwrap();
        let (session, _) = new_session(a.id, T0);
        s.create_session(&session, "k", None, audit(AuditAction::LoginSucceeded))
            .await
            .unwrap();
        let c = client("shop", None);
        s.create_client(&c, audit(AuditAction::OidcClientChanged))
            .await
            .unwrap();
        let (rec, code) = code_for(&c, &session, T0);
        s.insert_code(&rec).await.unwrap();
        let grant = NewGrant {
            id: "fam".into(),
            client_id: "shop".into(),
            account: a.id,
            session: session.id,
            scope: rec.scope.clone(),
            auth_time: T0,
            created_at: T0,
        };
        let (r0, t0) = refresh(0, T0);
        s.redeem_code(&code.hash(), T0, &grant, Some(&r0))
            .await
            .unwrap();
        let found = s.refresh_token(&t0.hash()).await.unwrap().unwrap();
        assert_eq!((found.generation, found.grant.generation), (0, 0));

        let (r1, t1) = refresh(1, T0);
        assert_eq!(
            s.rotate_refresh("fam", 0, &r1).await.unwrap(),
            Applied::Done
        );
        // A concurrent rotation of generation 0 loses.
        let (r1b, _) = refresh(1, T0);
        assert_eq!(
            s.rotate_refresh("fam", 0, &r1b).await.unwrap(),
            Applied::Lost
        );
        // The old token is still known (so its reuse is recognised), now stale.
        let old = s.refresh_token(&t0.hash()).await.unwrap().unwrap();
        assert_eq!((old.generation, old.grant.generation), (0, 1));
        let new = s.refresh_token(&t1.hash()).await.unwrap().unwrap();
        assert_eq!(new.generation, 1);

        // The session's state is read through, not copied: ending it kills the grant.
        s.end_session(
            a.id,
            session.id,
            T0,
            "user",
            audit(AuditAction::SessionEnded),
        )
        .await
        .unwrap();
        let g = s.grant("fam").await.unwrap().unwrap();
        assert_eq!(g.session_state, Some(SessionState::Revoked));
        assert!(!g.is_live(T0) && g.revoked_at.is_none());

        // Housekeeping keeps a live grant and a recent code.
        assert_eq!(s.purge_oidc(T0, T0).await.unwrap(), 0);
        assert!(s.code(&code.hash()).await.unwrap().is_some());

        assert!(s.revoke_grant("fam", T0, "reuse").await.unwrap());
        assert!(!s.revoke_grant("fam", T0, "reuse").await.unwrap());
        let (r2, _) = refresh(2, T0);
        assert_eq!(
            s.rotate_refresh("fam", 1, &r2).await.unwrap(),
            Applied::Lost
        );

        // Disabling a client revokes its grants.
        let c2 = client("other", None);
        s.create_client(&c2, audit(AuditAction::OidcClientChanged))
            .await
            .unwrap();
        assert!(
            s.disable_client("other", T0, audit(AuditAction::OidcClientChanged))
                .await
                .unwrap()
        );
        assert!(
            !s.disable_client("other", T0, audit(AuditAction::OidcClientChanged))
                .await
                .unwrap()
        );
        assert!(
            s.client("other")
                .await
                .unwrap()
                .unwrap()
                .disabled_at
                .is_some()
        );

        // Later, housekeeping removes the old code and the revoked grant with
        // every refresh token of its family.
        let later = T0.plus(Duration::from_secs(1));
        assert_eq!(s.purge_oidc(later, later).await.unwrap(), 1);
        assert!(s.code(&code.hash()).await.unwrap().is_none());
        assert!(s.grant("fam").await.unwrap().is_none());
        assert!(s.refresh_token(&t0.hash()).await.unwrap().is_none());
        assert!(s.refresh_token(&t1.hash()).await.unwrap().is_none());
    }
);

both_engines!(consents, |s: Arc<dyn Store>| async move {
    let a = new_account("c@example.com");
    s.create_account(&a, audit(AuditAction::AccountCreated))
        .await
        .unwrap();
    s.create_client(&client("shop", None), audit(AuditAction::OidcClientChanged))
        .await
        .unwrap();
    assert!(s.consent(a.id, "shop").await.unwrap().is_none());
    s.save_consent(a.id, "shop", "openid", T0).await.unwrap();
    s.save_consent(a.id, "shop", "openid email", T0)
        .await
        .unwrap();
    assert_eq!(
        s.consent(a.id, "shop").await.unwrap().as_deref(),
        Some("openid email")
    );
});
