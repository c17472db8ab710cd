//! The backups of docs/guide-admin.md restore to a ledger that verifies with
//! the same chain and seal heads: SQLite `VACUUM INTO` (a consistent copy of
//! a live WAL database), PostgreSQL `pg_dump -Fc` / `pg_restore`.

mod support;

use sqlx::{Connection, Executor};
use std::process::Command;
use support::*;

fn heads(db: &TestDb) -> (String, String) {
    let v: serde_json::Value =
        serde_json::from_str(&fl(db, &["verify", "--format", "json"]).ok().stdout).unwrap();
    assert_eq!(v["ok"], true);
    (v["chain_head"].to_string(), v["seal_head"].to_string())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sqlite_vacuum_into_backup_restores_and_verifies() {
    let db = TestDb::sqlite();
    gd_ledger(&db);
    let dir = tempfile::tempdir().unwrap();
    let backup = dir.path().join("backup.db");
    // As the guide says: sqlite3 fundledger.db "VACUUM INTO 'backup.db'"
    // (the same statement through sqlx, so no outside tool is needed).
    let mut conn = sqlx::SqliteConnection::connect(&db.url).await.unwrap();
    conn.execute(format!("VACUUM INTO '{}'", backup.display()).as_str())
        .await
        .unwrap();
    conn.close().await.unwrap();
    // Restore: copy the backup into place, then verify.
    let restored = dir.path().join("restored.db");
    std::fs::copy(&backup, &restored).unwrap();
    let mut copy = TestDb::sqlite();
    copy.url = format!("sqlite:{}", restored.display());
    assert_eq!(heads(&copy), heads(&db));
    assert_eq!(fingerprint(&copy), fingerprint(&db));
}

fn tool(name: &str) -> bool {
    let found = Command::new(name).arg("--version").output().is_ok();
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "{name} is needed by this test and missing on CI"
        );
        eprintln!("\n*** {name} NOT FOUND: the PostgreSQL backup test did not run ***\n");
    }
    found
}

#[test]
fn a_pg_dump_backup_restores_and_verifies() {
    let Some(db) = TestDb::postgres() else { return };
    if !tool("pg_dump") || !tool("pg_restore") {
        return;
    }
    gd_ledger(&db);
    let dir = tempfile::tempdir().unwrap();
    let dump = dir.path().join("ledger.dump");
    let out = Command::new("pg_dump")
        .args(["-Fc", "-f", dump.to_str().unwrap(), &db.url])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let target = TestDb::postgres().unwrap(); // an empty database, dropped after
    let out = Command::new("pg_restore")
        .args(["--no-owner", "-d", &target.url, dump.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(heads(&target), heads(&db));
    assert_eq!(fingerprint(&target), fingerprint(&db));
}
