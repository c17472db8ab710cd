//! SPEC §3/§6: history is append-only. Every journal and domain table refuses
//! UPDATE and DELETE by trigger on both backends (and TRUNCATE on
//! PostgreSQL), whatever connection the statement comes from.

mod common;

use fundledger_store::testing::TestDb;
use fundledger_store::{Backend, Store};

/// Every table the migrations make append-only, with a column to "update".
const APPEND_ONLY: &[(&str, &str)] = &[
    ("batches", "command"),
    ("journal", "description"),
    ("postings", "amount_fen"),
    ("indicator_lines", "amount_fen"),
    ("reductions", "amount_fen"),
    ("vouchers", "amount_fen"),
    ("carries", "amount_fen"),
    ("recoveries", "amount_fen"),
    ("rollovers", "recover_after"),
    ("closings", "through_date"),
    ("region_extensions", "name"),
    ("seals", "content"),
];

async fn row_count(store: &Store, table: &str) -> i64 {
    sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
        .fetch_one(store.pool())
        .await
        .unwrap_or_else(|e| panic!("count {table}: {e}"))
}

/// Runs `sql`, which must be refused with an "append-only" error, and
/// checks that the table still holds every row.
async fn check_refused(store: &Store, backend: Backend, table: &str, sql: &str) {
    let before = row_count(store, table).await;
    match sqlx::query(sql).execute(store.pool()).await {
        Ok(done) => panic!(
            "{backend:?}: `{sql}` was allowed ({} row(s) affected)",
            done.rows_affected()
        ),
        Err(e) => {
            let text = e.to_string();
            assert!(
                text.contains("append-only"),
                "{backend:?}: `{sql}` failed for another reason: {text}"
            );
        }
    }
    assert_eq!(
        row_count(store, table).await,
        before,
        "{backend:?}: `{sql}` changed {table}"
    );
}

#[tokio::test]
async fn every_append_only_table_refuses_update_and_delete() {
    for db in TestDb::all() {
        let store = db.store().await;
        common::full_ledger(&store).await;
        for (table, column) in APPEND_ONLY {
            // A trigger on rows only fires if there is a row to change.
            assert!(
                row_count(&store, table).await > 0,
                "{:?}: the fixture left {table} empty",
                db.backend
            );
            let update = format!("UPDATE {table} SET {column} = {column}");
            check_refused(&store, db.backend, table, &update).await;
            let delete = format!("DELETE FROM {table}");
            check_refused(&store, db.backend, table, &delete).await;
        }
        let report = store.verify().await.expect("verify");
        assert!(report.ok(), "{:?}: {:?}", db.backend, report.failures);
        store.close().await;
    }
}

#[tokio::test]
async fn postgres_tables_refuse_truncate() {
    let Some(db) = TestDb::postgres() else {
        return;
    };
    let store = db.store().await;
    common::full_ledger(&store).await;
    for (table, _) in APPEND_ONLY {
        // CASCADE: tables other tables point at cannot be truncated alone;
        // the trigger must refuse it all the same.
        let truncate = format!("TRUNCATE {table} CASCADE");
        check_refused(&store, db.backend, table, &truncate).await;
    }
    let report = store.verify().await.expect("verify");
    assert!(report.ok(), "{:?}", report.failures);
    store.close().await;
}

/// The mutable tables stay mutable: the triggers are not blanket refusals.
#[tokio::test]
async fn balances_and_projects_are_not_append_only() {
    for db in TestDb::all() {
        let store = db.store().await;
        common::gd_ledger(&store).await;
        for sql in [
            "UPDATE balances SET balance_fen = balance_fen",
            "INSERT INTO projects (code, name, aliases, func_code) VALUES ('JS01', '计生家庭系列保险', '', NULL)",
            "UPDATE projects SET name = name",
            "DELETE FROM projects",
        ] {
            sqlx::query(sql)
                .execute(store.pool())
                .await
                .unwrap_or_else(|e| panic!("{:?}: `{sql}`: {e}", db.backend));
        }
        store.close().await;
    }
}

/// The tamper tests drop the triggers of `testing::APPEND_ONLY_TABLES`; this
/// list, that one and the migrations' triggers must name the same tables.
#[tokio::test]
async fn append_only_lists_match_the_migrations() {
    use fundledger_store::testing::APPEND_ONLY_TABLES;
    let here: Vec<&str> = APPEND_ONLY.iter().map(|(t, _)| *t).collect();
    assert_eq!(here, APPEND_ONLY_TABLES);
    let db = TestDb::sqlite();
    let store = db.store().await;
    let mut with_triggers: Vec<String> = sqlx::query_scalar(
        "SELECT tbl_name FROM sqlite_master WHERE type = 'trigger' AND name LIKE '%_no_update'",
    )
    .fetch_all(store.pool())
    .await
    .unwrap();
    with_triggers.sort();
    let mut listed: Vec<String> = APPEND_ONLY_TABLES.iter().map(|t| t.to_string()).collect();
    listed.sort();
    assert_eq!(with_triggers, listed);
}
