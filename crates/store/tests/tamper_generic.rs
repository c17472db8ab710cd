//! Issue 12: every stored fact is covered, checked generically. The schema
//! is read from the database's own catalog (sqlite_master / pragma
//! table_info on SQLite, information_schema on PostgreSQL), so a table or
//! column added by a later migration is tampered with here the day it is
//! added. On a ledger with a row in every table (`ledger_with_catalog`),
//! triggers dropped and foreign keys off, each of these must make `verify`
//! report a failure (which makes `fundledger verify` exit 1) naming what
//! broke:
//!
//! - every column of the table's last row changed (an integer + 1, a text
//!   with a character appended, NULL given a value);
//! - every nullable column: a value made NULL, and a NULL made '';
//! - the last row deleted;
//! - a plausible row inserted: a copy of the last row under batch 999 (which
//!   has no seal) where the table has a batch, with each unique key moved
//!   to a value not yet used.
//!
//! Exempt: `_sqlx_migrations` (sqlx's own bookkeeping; see
//! docs/adr/0003-every-stored-fact-sealed.md and the CLI test
//! `migrations_table_changes_no_output`). The ledger is built once per
//! backend: SQLite copies the file per mutation, PostgreSQL runs each
//! mutation in a transaction on a one-connection pool and rolls it back.

mod common;

use fundledger_store::testing::{drop_append_only_triggers_sql, TestDb};
use fundledger_store::{Backend, Store, VerifyFailure};
use sqlx::{Executor, Row};

/// Tables whose rows cannot change what a command prints (see module doc).
const EXEMPT_TABLES: &[&str] = &["_sqlx_migrations"];

#[derive(Clone, Debug)]
struct Column {
    name: String,
    int: bool,
    nullable: bool,
}

#[derive(Clone, Debug)]
struct Table {
    name: String,
    columns: Vec<Column>,
    /// Primary key and unique constraints, each a list of column names.
    unique: Vec<Vec<String>>,
}

/// One tampering: a label and its statements.
struct Mutation {
    table: String,
    what: String,
    sql: Vec<String>,
}

async fn strings(store: &Store, sql: &str, bind: Option<&str>) -> Vec<String> {
    let mut q = sqlx::query(sql);
    if let Some(b) = bind {
        q = q.bind(b.to_string());
    }
    q.fetch_all(store.pool())
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .iter()
        .map(|r| r.try_get::<String, _>(0).expect("text"))
        .collect()
}

/// The catalog queries of each backend: tables, columns (name, type,
/// nullable, primary-key position), unique constraints (name, column).
fn catalog_sql(backend: Backend) -> (&'static str, &'static str, &'static str) {
    match backend {
        Backend::Sqlite => (
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
            "SELECT name, type, \"notnull\" = 0 AND pk = 0, pk FROM pragma_table_info($1) ORDER BY cid",
            "SELECT il.name, ii.name FROM pragma_index_list($1) il, pragma_index_info(il.name) ii \
             WHERE il.\"unique\" = 1 ORDER BY il.name, ii.seqno",
        ),
        Backend::Postgres => (
            "SELECT table_name::text FROM information_schema.tables \
             WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY table_name",
            "SELECT column_name::text, data_type::text, \
             CAST(CASE WHEN is_nullable::text = 'YES' THEN 1 ELSE 0 END AS BIGINT), \
             CAST(0 AS BIGINT) FROM information_schema.columns \
             WHERE table_schema = 'public' AND table_name = $1 ORDER BY ordinal_position",
            "SELECT tc.constraint_name::text, kcu.column_name::text \
             FROM information_schema.table_constraints tc \
             JOIN information_schema.key_column_usage kcu \
               ON kcu.constraint_name = tc.constraint_name AND kcu.table_schema = tc.table_schema \
              AND kcu.table_name = tc.table_name \
             WHERE tc.table_schema = 'public' AND tc.table_name = $1 \
               AND tc.constraint_type IN ('PRIMARY KEY', 'UNIQUE') \
             ORDER BY tc.constraint_name, kcu.ordinal_position",
        ),
    }
}

/// The schema as the database itself describes it.
async fn schema(store: &Store) -> Vec<Table> {
    let (tables_sql, columns_sql, unique_sql) = catalog_sql(store.backend());
    let mut tables = Vec::new();
    for name in strings(store, tables_sql, None).await {
        let (columns, pk) = columns(store, columns_sql, &name).await;
        let mut unique = unique_keys(store, unique_sql, &name).await;
        if !pk.is_empty() && !unique.contains(&pk) {
            unique.insert(0, pk);
        }
        tables.push(Table {
            name,
            columns,
            unique,
        });
    }
    tables
}

/// A table's columns and its primary key (as `pragma_table_info` gives it).
async fn columns(store: &Store, sql: &str, table: &str) -> (Vec<Column>, Vec<String>) {
    let rows = sqlx::query(sql)
        .bind(table.to_string())
        .fetch_all(store.pool())
        .await
        .expect("columns");
    let mut columns = Vec::new();
    let mut pk = Vec::new();
    for r in &rows {
        let col: String = r.try_get(0).unwrap();
        let ty: String = r.try_get(1).unwrap();
        let nullable = r.try_get::<i64, _>(2).unwrap() != 0;
        if r.try_get::<i64, _>(3).unwrap() > 0 {
            pk.push(col.clone());
        }
        columns.push(Column {
            name: col,
            int: ty.to_ascii_uppercase().contains("INT"),
            nullable,
        });
    }
    (columns, pk)
}

/// A table's unique constraints (the primary key among them on
/// PostgreSQL), each once.
async fn unique_keys(store: &Store, sql: &str, table: &str) -> Vec<Vec<String>> {
    let rows = sqlx::query(sql)
        .bind(table.to_string())
        .fetch_all(store.pool())
        .await
        .expect("unique constraints");
    let mut keys: Vec<(String, Vec<String>)> = Vec::new();
    for r in &rows {
        let (constraint, col): (String, String) = (r.try_get(0).unwrap(), r.try_get(1).unwrap());
        match keys.last_mut() {
            Some((c, cols)) if *c == constraint => cols.push(col),
            _ => keys.push((constraint, vec![col])),
        }
    }
    let mut distinct: Vec<Vec<String>> = Vec::new();
    for (_, key) in keys {
        if !distinct.contains(&key) {
            distinct.push(key);
        }
    }
    distinct
}

/// `WHERE` selecting the table's last row (by physical row), optionally
/// among those matching `filter`.
fn last_row(backend: Backend, table: &str, filter: &str) -> String {
    last_row_by(backend, table, filter, "")
}

/// [`last_row`], the rows first ordered by `first` (`"col DESC, "`).
fn last_row_by(backend: Backend, table: &str, filter: &str, first: &str) -> String {
    let (id, order) = match backend {
        Backend::Sqlite => ("rowid", "rowid DESC"),
        Backend::Postgres => ("ctid", "ctid DESC"),
    };
    format!("{id} = (SELECT {id} FROM {table} WHERE {filter} ORDER BY {first}{order} LIMIT 1)")
}

/// The row whose integer `col` is highest (a non-NULL one if any): `col + 1`
/// then collides with no unique key holding `col`. The physical last row
/// need not be that one: PostgreSQL puts a row where its free space map
/// finds room, so a later entry may sit before an earlier one (regression
/// `the_last_physical_row_need_not_hold_the_highest_key`, seen in CI as
/// "duplicate key value violates unique constraint journal_pkey").
fn highest_row(backend: Backend, table: &str, col: &str) -> String {
    last_row_by(
        backend,
        table,
        "1 = 1",
        &format!("({col} IS NULL), {col} DESC, "),
    )
}

async fn count(store: &Store, table: &str, filter: &str) -> i64 {
    sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table} WHERE {filter}"))
        .fetch_one(store.pool())
        .await
        .expect("count")
}

/// Every mutation of `t`; only those with a row to act on.
async fn mutations(store: &Store, t: &Table) -> Vec<Mutation> {
    let b = store.backend();
    let name = &t.name;
    let mut out = Vec::new();
    let mut push = |what: String, sql: String| {
        out.push(Mutation {
            table: name.clone(),
            what,
            sql: vec![sql],
        })
    };
    for c in &t.columns {
        let col = &c.name;
        let changed = if c.int {
            format!("CASE WHEN {col} IS NULL THEN 1 ELSE {col} + 1 END")
        } else {
            format!("COALESCE({col}, '') || 'x'")
        };
        let row = if c.int {
            highest_row(b, name, col)
        } else {
            last_row(b, name, "1 = 1")
        };
        push(
            format!("{col} changed"),
            format!("UPDATE {name} SET {col} = {changed} WHERE {row}"),
        );
        if c.nullable && count(store, name, &format!("{col} IS NOT NULL")).await > 0 {
            push(
                format!("{col} made NULL"),
                format!(
                    "UPDATE {name} SET {col} = NULL WHERE {}",
                    last_row(b, name, &format!("{col} IS NOT NULL"))
                ),
            );
        }
        if c.nullable && !c.int && count(store, name, &format!("{col} IS NULL")).await > 0 {
            push(
                format!("{col} NULL made ''"),
                format!(
                    "UPDATE {name} SET {col} = '' WHERE {}",
                    last_row(b, name, &format!("{col} IS NULL"))
                ),
            );
        }
    }
    push(
        "last row deleted".into(),
        format!("DELETE FROM {name} WHERE {}", last_row(b, name, "1 = 1")),
    );
    push("plausible row inserted".into(), insert_sql(b, t));
    out
}

/// A copy of the last row under batch 999 (when the table has a batch),
/// with each unique key not satisfied by that moved to an unused value.
fn insert_sql(backend: Backend, t: &Table) -> String {
    let has_batch = t.columns.iter().any(|c| c.name == "batch_id");
    let mut changed: Vec<&str> = Vec::new();
    for key in &t.unique {
        if has_batch && key.iter().any(|c| c == "batch_id") {
            continue;
        }
        if key.iter().any(|k| changed.contains(&k.as_str())) {
            continue;
        }
        let cols: Vec<&Column> = key
            .iter()
            .map(|k| t.columns.iter().find(|c| c.name == *k).expect("key column"))
            .collect();
        let pick = cols
            .iter()
            .find(|c| c.int)
            .or(cols.last())
            .expect("a key has columns");
        changed.push(&pick.name);
    }
    let exprs: Vec<String> = t
        .columns
        .iter()
        .map(|c| {
            let col = &c.name;
            if has_batch && col == "batch_id" {
                "999".to_string()
            } else if changed.contains(&col.as_str()) && c.int {
                format!("(SELECT MAX({col}) FROM {}) + 1", t.name)
            } else if changed.contains(&col.as_str()) {
                format!("{col} || '9'")
            } else {
                col.clone()
            }
        })
        .collect();
    let names: Vec<&str> = t.columns.iter().map(|c| c.name.as_str()).collect();
    format!(
        "INSERT INTO {0} ({1}) SELECT {2} FROM {0} WHERE {3}",
        t.name,
        names.join(", "),
        exprs.join(", "),
        last_row(backend, &t.name, "1 = 1")
    )
}

/// Whether `failures` name the table tampered with: by name, or for the
/// journal and its postings by the entry.
fn names(table: &str, failures: &[VerifyFailure]) -> bool {
    failures.iter().any(|f| {
        f.message.contains(table)
            || (matches!(table, "journal" | "postings") && f.entry_no.is_some())
    })
}

fn listing(failures: &[VerifyFailure]) -> String {
    failures
        .iter()
        .map(|f| format!("  {f}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every table, every column, every mutation, on one backend.
async fn run(db: &TestDb, store: &Store, apply: impl AsyncApply) {
    let tables = schema(store).await;
    assert!(
        tables.len() >= 15,
        "{:?}: schema read: {tables:?}",
        db.backend
    );
    let mut tried = 0;
    for t in tables
        .iter()
        .filter(|t| !EXEMPT_TABLES.contains(&t.name.as_str()))
    {
        assert!(
            count(store, &t.name, "1 = 1").await > 0,
            "{:?}: the ledger has no {} row to tamper with",
            db.backend,
            t.name
        );
        for m in mutations(store, t).await {
            let failures = apply.apply(&m).await;
            assert!(
                names(&m.table, &failures),
                "{:?}: {}: {} ({:?}) not named by verify:\n{}",
                db.backend,
                m.table,
                m.what,
                m.sql,
                listing(&failures)
            );
            tried += 1;
        }
    }
    eprintln!(
        "{:?}: {tried} mutations, every one named by verify",
        db.backend
    );
}

/// Applies one mutation to a fresh copy of the ledger and returns what
/// verify reports.
trait AsyncApply {
    fn apply(&self, m: &Mutation) -> impl std::future::Future<Output = Vec<VerifyFailure>>;
}

struct SqliteCopies {
    template: std::path::PathBuf,
}

impl AsyncApply for SqliteCopies {
    async fn apply(&self, m: &Mutation) -> Vec<VerifyFailure> {
        let dir = tempfile::tempdir().expect("temporary directory");
        let path = dir.path().join("copy.db");
        std::fs::copy(&self.template, &path).expect("copy ledger");
        let url = format!("sqlite:{}", path.display());
        let store = Store::open(&url, fundledger_store::OpenMode::MustExist)
            .await
            .expect("open copy");
        let mut conn = store.pool().acquire().await.expect("connection");
        conn.execute("PRAGMA foreign_keys = OFF")
            .await
            .expect("fk off");
        for sql in &m.sql {
            let done = conn
                .execute(sql.as_str())
                .await
                .unwrap_or_else(|e| panic!("SQLite: {}: {sql}: {e}", m.what));
            assert_eq!(done.rows_affected(), 1, "SQLite: {}: {sql}", m.what);
        }
        drop(conn);
        let report = store.verify().await.expect("verify");
        store.close().await;
        report.failures
    }
}

struct PgRollback {
    store: Store,
}

impl AsyncApply for PgRollback {
    async fn apply(&self, m: &Mutation) -> Vec<VerifyFailure> {
        let mut conn = self.store.pool().acquire().await.expect("connection");
        conn.execute("BEGIN").await.expect("begin");
        conn.execute("SET LOCAL session_replication_role = replica")
            .await
            .expect("fk off");
        for sql in &m.sql {
            let done = conn
                .execute(sql.as_str())
                .await
                .unwrap_or_else(|e| panic!("PostgreSQL: {}: {sql}: {e}", m.what));
            assert_eq!(done.rows_affected(), 1, "PostgreSQL: {}: {sql}", m.what);
        }
        drop(conn);
        let report = self.store.verify().await.expect("verify");
        let mut conn = self.store.pool().acquire().await.expect("connection");
        conn.execute("ROLLBACK").await.expect("rollback");
        drop(conn);
        // Each mutation starts from the intact ledger.
        let after = self.store.verify().await.expect("verify after rollback");
        assert!(
            after.ok(),
            "{}: not rolled back: {:?}",
            m.what,
            after.failures
        );
        report.failures
    }
}

/// Builds the ledger, checks it verifies, drops the triggers for good.
async fn populated(db: &TestDb) -> Store {
    let store = db.store().await;
    common::ledger_with_catalog(&store).await;
    let clean = store.verify().await.expect("verify before tampering");
    assert!(clean.ok(), "{:?}: {}", db.backend, listing(&clean.failures));
    let mut conn = store.pool().acquire().await.expect("connection");
    for sql in drop_append_only_triggers_sql(db.backend) {
        conn.execute(sql.as_str()).await.expect("drop trigger");
    }
    drop(conn);
    store
}

#[tokio::test]
async fn every_column_of_every_table_changed_deleted_or_inserted_is_named() {
    let sqlite = TestDb::sqlite();
    let store = populated(&sqlite).await;
    if let Backend::Sqlite = store.backend() {
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(store.pool())
            .await
            .expect("checkpoint");
    }
    store.close().await;
    let template = std::path::PathBuf::from(sqlite.url.trim_start_matches("sqlite:"));
    let reader = Store::open(&sqlite.url, fundledger_store::OpenMode::MustExist)
        .await
        .expect("reopen");
    // Copies must be of a quiescent file: the schema is read from the
    // original, mutations run on copies.
    run(&sqlite, &reader, SqliteCopies { template }).await;
    reader.close().await;

    if let Some(pg) = TestDb::postgres() {
        let store = populated(&pg).await;
        store.close().await;
        let single = pg.single_connection_store().await;
        let apply = PgRollback {
            store: single.clone(),
        };
        run(&pg, &single, apply).await;
        single.close().await;
    }
}

/// The mutation "entry_no changed" took the physically last journal row
/// and failed in CI with a duplicate key: on PostgreSQL a row inserted
/// after a vacuum reuses a freed slot, so it sits before rows with lower
/// keys. [`highest_row`] picks by the key itself.
#[tokio::test]
async fn the_last_physical_row_need_not_hold_the_highest_key() {
    let Some(db) = TestDb::postgres() else { return };
    let store = db.store().await;
    let mut conn = store.pool().acquire().await.unwrap();
    for sql in [
        "CREATE TABLE t (k BIGINT PRIMARY KEY)",
        "INSERT INTO t VALUES (1), (2), (3)",
        "DELETE FROM t WHERE k = 1",
        "VACUUM t",
        "INSERT INTO t VALUES (4)",
    ] {
        conn.execute(sql).await.unwrap();
    }
    let physical_last: i64 = sqlx::query_scalar("SELECT k FROM t ORDER BY ctid DESC LIMIT 1")
        .fetch_one(&mut *conn)
        .await
        .unwrap();
    assert_eq!(physical_last, 3, "the freed slot was reused by k = 4");
    let by_ctid = format!(
        "UPDATE t SET k = k + 1 WHERE {}",
        last_row(Backend::Postgres, "t", "1 = 1")
    );
    assert!(
        conn.execute(by_ctid.as_str()).await.is_err(),
        "3 + 1 collides"
    );
    let by_key = format!(
        "UPDATE t SET k = k + 1 WHERE {}",
        highest_row(Backend::Postgres, "t", "k")
    );
    assert_eq!(
        conn.execute(by_key.as_str()).await.unwrap().rows_affected(),
        1
    );
    drop(conn);
    store.close().await;
}
