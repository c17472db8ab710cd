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

/// A new ledger is made with 16 KiB pages (the WAL index of a 10M-voucher
/// import is a quarter of what 4 KiB pages gave, ADR 0005); a ledger made
/// with other pages keeps them, since SQLite fixes a file's page size.
#[tokio::test]
async fn a_new_sqlite_ledger_has_16_kib_pages_and_an_old_one_keeps_its_own() {
    let db = TestDb::sqlite();
    let store = db.store().await;
    assert_eq!(setting(&store, "PRAGMA page_size").await, "16384");
    store.close().await;

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    let old = rusqlite::Connection::open(&path).unwrap();
    old.execute_batch("PRAGMA page_size = 4096; PRAGMA journal_mode = WAL; CREATE TABLE t (x);")
        .unwrap();
    drop(old);
    let url = format!("sqlite:{}", path.display());
    let store = Store::open(&url, OpenMode::Create).await.unwrap();
    assert_eq!(setting(&store, "PRAGMA page_size").await, "4096");
    store.close().await;
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
