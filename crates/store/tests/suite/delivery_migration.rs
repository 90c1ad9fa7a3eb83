//! Migrations 0019 (the app-delivery outbox's indexes) and 0020 (the SETs'
//! tokens in a table of their own) on a database that holds rows in every
//! state, signed and unsigned: the rows stay as they were, and what reads them
//! through the new indexes and table (the claim, the counts, the operators'
//! listing, the sign-ahead stage, the purge) finds each where it was.

use std::str::FromStr;

use sqlx::migrate::Migrator;

use super::*;

/// The last migration before the one under test.
const BEFORE: i64 = 18;

/// Rows at 0018's schema: one receiver with a row in every state (a lease
/// that ran out and one that did not; a sent row older than the purge's
/// horizon and one newer), and a second receiver's pending rows: a logout
/// token, a SET signed ahead and one not signed yet.
const ROWS: &str = "
INSERT INTO oidc_clients (id, name, redirect_uris, post_logout_redirect_uris, first_party,
    created_at, updated_at, backchannel_logout_uri)
VALUES ('c1', 'one', '[]', '[]', 0, 1, 1, 'http://127.0.0.1:9/logout'),
       ('c2', 'two', '[]', '[]', 0, 1, 1, 'http://127.0.0.1:9/logout');
INSERT INTO app_deliveries (id, client_id, account_id, session_id, reason, event_at, state,
    attempts, next_attempt_at, lease_id, lease_until, last_error, created_at, sent_at)
VALUES
 ('pending', 'c1', 'a', 's1', 'logout', 1000, 'pending', 0, 1000, NULL, NULL, NULL, 1000, NULL),
 ('lapsed', 'c1', 'a', 's2', 'logout', 1001, 'sending', 1, 1001, 'old', 5000, NULL, 1001, NULL),
 ('leased', 'c1', 'a', 's3', 'logout', 1002, 'sending', 1, 1002, 'live', 90000, NULL, 1002, NULL),
 ('sent_old', 'c1', 'a', 's4', 'logout', 1003, 'sent', 1, 1003, NULL, NULL, NULL, 1003, 2000),
 ('sent_new', 'c1', 'a', 's5', 'logout', 1004, 'sent', 1, 1004, NULL, NULL, NULL, 1004, 8000),
 ('failed', 'c1', 'a', 's6', 'logout', 1005, 'failed', 5, 1005, NULL, NULL, 'HTTP 500', 1005, NULL),
 ('other', 'c2', 'b', 's7', 'logout', 1006, 'pending', 0, 1006, NULL, NULL, NULL, 1006, NULL);
INSERT INTO app_deliveries (id, kind, stream_id, event_type, event, client_id, account_id,
    session_id, reason, event_at, state, attempts, next_attempt_at, created_at, token)
VALUES
 ('set_signed', 'set', 'st', 'verification', '{}', 'c2', '', '', '', 1007, 'pending', 0, 1007,
  1007, 'STORED.TOKEN.BYTES'),
 ('set_unsigned', 'set', 'st', 'verification', '{}', 'c2', '', '', '', 1008, 'pending', 0, 1008,
  1008, NULL);
";

/// Checks the rows through the store, after every migration.
async fn rows_are_where_they_were(store: Arc<dyn Store>) {
    let count = |counts: &[AppDeliveryCount], client: &str, state: AppDeliveryState| {
        counts
            .iter()
            .find(|c| c.client_id == client && c.state == state)
            .map_or(0, |c| c.count)
    };
    let counts = store.app_delivery_counts().await.unwrap();
    assert_eq!(count(&counts, "c1", AppDeliveryState::Pending), 1);
    assert_eq!(count(&counts, "c1", AppDeliveryState::Sending), 2);
    assert_eq!(count(&counts, "c1", AppDeliveryState::Sent), 2);
    assert_eq!(count(&counts, "c1", AppDeliveryState::Failed), 1);
    assert_eq!(count(&counts, "c2", AppDeliveryState::Pending), 3);
    assert_eq!(counts.len(), 5, "{counts:?}");

    let listed = |state: AppDeliveryState, client: Option<&str>| {
        let store = store.clone();
        let f = AppDeliveryFilter {
            state: Some(state),
            client_id: client.map(str::to_owned),
            limit: 100,
        };
        async move {
            let mut ids: Vec<String> = store
                .app_deliveries(&f)
                .await
                .unwrap()
                .into_iter()
                .map(|d| d.id)
                .collect();
            ids.sort();
            ids
        }
    };
    assert_eq!(
        listed(AppDeliveryState::Pending, None).await,
        ["other", "pending", "set_signed", "set_unsigned"]
    );
    assert_eq!(
        listed(AppDeliveryState::Pending, Some("c1")).await,
        ["pending"]
    );
    assert_eq!(
        listed(AppDeliveryState::Sending, None).await,
        ["lapsed", "leased"]
    );
    assert_eq!(
        listed(AppDeliveryState::Sent, Some("c1")).await,
        ["sent_new", "sent_old"]
    );
    assert_eq!(listed(AppDeliveryState::Failed, None).await, ["failed"]);
    let failed = store
        .app_deliveries(&AppDeliveryFilter {
            state: Some(AppDeliveryState::Failed),
            client_id: None,
            limit: 10,
        })
        .await
        .unwrap();
    assert_eq!(failed[0].attempts, 5);
    assert_eq!(failed[0].last_error.as_deref(), Some("HTTP 500"));

    // The stored token came along; the unsigned SET is the stage's to sign,
    // and a token stored for a row that has one already is not taken.
    let token_of = |id: &'static str| {
        let store = store.clone();
        async move {
            store
                .app_deliveries(&AppDeliveryFilter {
                    state: Some(AppDeliveryState::Pending),
                    client_id: Some("c2".into()),
                    limit: 10,
                })
                .await
                .unwrap()
                .into_iter()
                .find(|d| d.id == id)
                .unwrap()
                .token
        }
    };
    assert_eq!(
        token_of("set_signed").await.as_deref(),
        Some("STORED.TOKEN.BYTES")
    );
    assert_eq!(token_of("set_unsigned").await, None);
    let unsigned: Vec<String> = store
        .unsigned_sets(10)
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.id)
        .collect();
    assert_eq!(unsigned, ["set_unsigned"]);
    let tokens = [
        ("set_unsigned".to_owned(), "NEW.TOKEN".to_owned()),
        ("set_signed".to_owned(), "ANOTHER.TOKEN".to_owned()),
    ];
    assert_eq!(store.store_set_tokens(&tokens).await.unwrap(), 1);
    assert_eq!(token_of("set_unsigned").await.as_deref(), Some("NEW.TOKEN"));
    assert_eq!(
        token_of("set_signed").await.as_deref(),
        Some("STORED.TOKEN.BYTES")
    );
    assert!(store.unsigned_sets(10).await.unwrap().is_empty());

    // Due at 10 s: the pending row and the lease that ran out, not the live one.
    let now = Timestamp::from_millis(10_000);
    assert_eq!(
        store.due_app_receivers(now).await.unwrap(),
        ["c1".to_owned(), "c2".to_owned()]
    );
    let claimed = store
        .claim_app_deliveries(&AppClaim {
            client_id: "c1",
            now,
            lease_id: "new",
            lease: Duration::from_secs(60),
            limit: 10,
        })
        .await
        .unwrap();
    let ids: Vec<&str> = claimed.iter().map(|c| c.delivery.id.as_str()).collect();
    assert_eq!(ids, ["pending", "lapsed"]);
    assert_eq!(
        claimed[1].delivery.attempts, 2,
        "a resend counts as an attempt"
    );
    assert_eq!(
        store
            .app_deliveries_sent(&["pending".to_owned()], "new", now)
            .await
            .unwrap(),
        1
    );
    // The purge takes the sent rows older than its horizon, and only them.
    assert_eq!(
        store
            .purge_app_deliveries(Timestamp::from_millis(5_000))
            .await
            .unwrap(),
        1
    );
    let counts = store.app_delivery_counts().await.unwrap();
    assert_eq!(count(&counts, "c1", AppDeliveryState::Pending), 0);
    assert_eq!(count(&counts, "c1", AppDeliveryState::Sending), 2);
    assert_eq!(count(&counts, "c1", AppDeliveryState::Sent), 2);
    assert_eq!(count(&counts, "c1", AppDeliveryState::Failed), 1);
    assert_eq!(
        listed(AppDeliveryState::Sent, None).await,
        ["pending", "sent_new"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("gatehouse.db").display());
    let options = sqlx::sqlite::SqliteConnectOptions::from_str(&url)
        .unwrap()
        .create_if_missing(true)
        .foreign_keys(true);
    let pool = sqlx::SqlitePool::connect_with(options).await.unwrap();
    let migrator: Migrator = sqlx::migrate!("./migrations/sqlite");
    migrator.run_to(BEFORE, &pool).await.unwrap();
    sqlx::raw_sql(ROWS).execute(&pool).await.unwrap();
    pool.close().await;
    let store = connect(&url, &ConnectOptions { max_connections: 4 })
        .await
        .unwrap();
    store.migrate().await.unwrap();
    rows_are_where_they_were(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres() {
    let Some(url) = gatehouse_store::testing::fresh_pg_database().await else {
        return;
    };
    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    let migrator: Migrator = sqlx::migrate!("./migrations/postgres");
    migrator.run_to(BEFORE, &pool).await.unwrap();
    sqlx::raw_sql(ROWS).execute(&pool).await.unwrap();
    pool.close().await;
    let store = connect(&url, &ConnectOptions { max_connections: 4 })
        .await
        .unwrap();
    store.migrate().await.unwrap();
    rows_are_where_they_were(store).await;
}
