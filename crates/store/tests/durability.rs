//! Acknowledged means durable (issue 13 §5): SQLite runs `synchronous =
//! FULL` in WAL mode, and a PostgreSQL session never runs with
//! `synchronous_commit = off`, even when the database is configured so.

use fundledger_store::testing::TestDb;
use fundledger_store::{Backend, OpenMode, Store};

async fn setting(store: &Store, sql: &str) -> String {
    let mut conn = store.pool().acquire().await.unwrap();
    let row = sqlx::query(sql).fetch_one(&mut *conn).await.unwrap();
    use sqlx::Row;
    row.try_get::<String, _>(0)
        .or_else(|_| row.try_get::<i64, _>(0).map(|n| n.to_string()))
        .unwrap()
}

#[tokio::test]
async fn sqlite_is_wal_with_synchronous_full() {
    let db = TestDb::sqlite();
    let store = db.store().await;
    assert_eq!(setting(&store, "PRAGMA journal_mode").await, "wal");
    // 2 = FULL (0 OFF, 1 NORMAL, 3 EXTRA).
    assert_eq!(setting(&store, "PRAGMA synchronous").await, "2");
}

#[tokio::test]
async fn postgres_sessions_turn_synchronous_commit_back_on() {
    let Some(db) = TestDb::postgres() else { return };
    let store = db.store().await;
    assert_eq!(db.backend, Backend::Postgres);
    let name = db
        .url
        .rsplit('/')
        .next()
        .unwrap()
        .split('?')
        .next()
        .unwrap();
    sqlx::query(&format!(
        "ALTER DATABASE \"{name}\" SET synchronous_commit = off"
    ))
    .execute(store.pool())
    .await
    .unwrap();
    store.close().await;
    // A fresh session would start with `off`; ours does not.
    let store = Store::open(&db.url, OpenMode::MustExist).await.unwrap();
    assert_eq!(
        setting(&store, "SELECT current_setting('synchronous_commit')").await,
        "on"
    );
    store.close().await;
}
