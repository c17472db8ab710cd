//! The references every imported voucher makes (journal.batch_id,
//! postings.entry_no, vouchers.entry_no) are enforced by the database on
//! both backends: by SQLite's foreign keys, and on PostgreSQL since
//! migration 0008 by a check per statement over all its rows (ADR 0005,
//! decision 19), which since migration 0009 counts a range of the parent's
//! key before it looks any row up (decision 22), and since migration 0010
//! runs as static queries planned once, in the ledger's own schema
//! (decision 23). A row naming no parent is refused, however many good
//! rows share its statement, with PostgreSQL's foreign-key error, and the
//! table is left as it was. Re-keying a row is refused the same way once
//! the append-only triggers, which refuse it first, are gone.

mod common;

use common::gd_ledger;
use fundledger_store::testing::{drop_append_only_triggers_sql, TestDb};
use fundledger_store::{Backend, Store};

/// (table, referencing column, a good reference for the copied row `n`,
/// the constraint PostgreSQL names). A copied voucher names entries 1-3
/// (the budget and the first indicator lines), which no voucher holds: its
/// entry_no is unique.
const REFERENCES: &[(&str, &str, &str, &str)] = &[
    ("journal", "batch_id", "batch_id", "journal_batch_id_fkey"),
    ("postings", "entry_no", "entry_no", "postings_entry_no_fkey"),
    ("vouchers", "entry_no", "n + 1", "vouchers_entry_no_fkey"),
];

/// A copy of `table`'s last three rows with every unique key moved,
/// referencing `good`, and `bad` on the last row (`n = 0`): the good rows
/// and the bad one in one statement.
fn insert_sql(table: &str, good: &str, bad: &str) -> String {
    let reference = format!("CASE WHEN n = 0 THEN {bad} ELSE {good} END");
    let (columns, values, key) = match table {
        "journal" => (
            "entry_no, tx_id, tx_date, kind, description, batch_id, recorded_at, prev_hash, hash",
            format!(
                "entry_no + 100000, tx_id || 'x', tx_date, kind, description, {reference}, \
                 recorded_at, prev_hash, hash"
            ),
            "entry_no",
        ),
        "postings" => (
            "entry_no, seq, account, amount_fen",
            format!("{reference}, seq + 100, account, amount_fen"),
            "entry_no",
        ),
        "vouchers" => (
            "voucher_no, paid_on, fiscal_year, region_code, project_code, amount_fen, entry_no",
            format!(
                "voucher_no || 'x', paid_on, fiscal_year, region_code, project_code, amount_fen, \
                 {reference}"
            ),
            "voucher_no",
        ),
        other => panic!("no insert for {other}"),
    };
    format!(
        "INSERT INTO {table} ({columns}) SELECT {values} FROM \
         (SELECT t.*, ROW_NUMBER() OVER (ORDER BY {key} DESC) - 1 AS n FROM {table} t) numbered \
         WHERE n < 3"
    )
}

async fn rows(store: &Store, table: &str) -> i64 {
    sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
        .fetch_one(store.pool())
        .await
        .unwrap_or_else(|e| panic!("count {table}: {e}"))
}

/// `sql` must be refused as a broken reference, and `table` unchanged.
async fn check_refused(store: &Store, table: &str, constraint: &str, sql: &str) {
    let before = rows(store, table).await;
    let refused = sqlx::query(sql).execute(store.pool()).await.expect_err(sql);
    let message = refused.to_string();
    match store.backend() {
        Backend::Sqlite => assert!(
            message.contains("FOREIGN KEY constraint failed"),
            "{sql}: {message}"
        ),
        Backend::Postgres => {
            let code = refused
                .as_database_error()
                .and_then(|e| e.code())
                .map(|c| c.to_string());
            assert_eq!(code.as_deref(), Some("23503"), "{sql}: {message}");
            assert!(
                message.contains(&format!(
                    "on table \"{table}\" violates foreign key constraint \"{constraint}\""
                )),
                "{sql}: {message}"
            );
        }
    }
    assert_eq!(rows(store, table).await, before, "{sql}");
}

#[tokio::test]
async fn a_row_naming_no_parent_is_refused_among_good_ones() {
    for db in TestDb::all() {
        let store = db.store().await;
        gd_ledger(&store).await;
        for (table, _, good, constraint) in REFERENCES {
            // The same statement with every reference good goes in: the
            // check looks at each row's own parent.
            let good_sql = insert_sql(table, good, good);
            let before = rows(&store, table).await;
            let mut tx = store.pool().begin().await.expect("begin");
            let done = sqlx::query(&good_sql)
                .execute(&mut *tx)
                .await
                .expect(&good_sql);
            assert_eq!(done.rows_affected(), 3, "{:?}: {good_sql}", db.backend);
            tx.rollback().await.expect("rollback");
            assert_eq!(rows(&store, table).await, before);

            let bad_sql = insert_sql(table, good, "999999");
            check_refused(&store, table, constraint, &bad_sql).await;
        }
        let report = store.verify().await.expect("verify");
        assert!(report.ok(), "{:?}: {:?}", db.backend, report.failures);
        store.close().await;
    }
}

#[tokio::test]
async fn a_row_re_keyed_to_no_parent_is_refused() {
    for db in TestDb::all() {
        let store = db.store().await;
        gd_ledger(&store).await;
        let mut conn = store.pool().acquire().await.expect("connection");
        for sql in drop_append_only_triggers_sql(db.backend) {
            sqlx::query(&sql).execute(&mut *conn).await.expect(&sql);
        }
        drop(conn);
        for (table, column, _, constraint) in REFERENCES {
            let sql = format!(
                "UPDATE {table} SET {column} = 999999 \
                 WHERE {column} = (SELECT MAX({column}) FROM {table})"
            );
            check_refused(&store, table, constraint, &sql).await;
        }
        store.close().await;
    }
}

/// The parent may come in an earlier statement of the same transaction,
/// as every import writes it (journal rows, then their postings).
#[tokio::test]
async fn a_parent_written_earlier_in_the_transaction_is_found() {
    for db in TestDb::all() {
        let store = db.store().await;
        gd_ledger(&store).await;
        let mut tx = store.pool().begin().await.expect("begin");
        for sql in [
            insert_sql("journal", "batch_id", "batch_id"),
            "INSERT INTO postings (entry_no, seq, account, amount_fen) \
             SELECT entry_no, 1, 'x', 0 FROM journal WHERE entry_no > 100000"
                .to_string(),
        ] {
            let done = sqlx::query(&sql).execute(&mut *tx).await.expect(&sql);
            assert_eq!(done.rows_affected(), 3, "{:?}: {sql}", db.backend);
        }
        tx.rollback().await.expect("rollback");
        store.close().await;
    }
}

/// The keys a statement names need not be dense (migration 0009 counts the
/// parent's keys between the lowest and highest first, ADR 0005 decision
/// 22): keys on both sides of a gap in the parent go in, and a key missing
/// inside a range whose ends are present is refused, by name.
#[tokio::test]
async fn a_gap_in_the_parent_is_looked_through_key_by_key() {
    for db in TestDb::all() {
        let store = db.store().await;
        gd_ledger(&store).await;
        let mut tx = store.pool().begin().await.expect("begin");
        // Entries 100000 + n beside 1..=n: a gap of about 100,000 numbers.
        let copies = insert_sql("journal", "batch_id", "batch_id");
        sqlx::query(&copies).execute(&mut *tx).await.expect(&copies);
        let last: i64 = sqlx::query_scalar("SELECT MAX(entry_no) FROM journal")
            .fetch_one(&mut *tx)
            .await
            .expect("last entry");
        assert!(last > 100_000, "{last}");

        let across = format!(
            "INSERT INTO postings (entry_no, seq, account, amount_fen) \
             VALUES (1, 101, 'x', 0), ({last}, 101, 'x', 0)"
        );
        let done = sqlx::query(&across).execute(&mut *tx).await.expect(&across);
        assert_eq!(done.rows_affected(), 2, "{:?}", db.backend);

        let into_the_gap = format!(
            "INSERT INTO postings (entry_no, seq, account, amount_fen) \
             VALUES (1, 102, 'x', 0), (50000, 102, 'x', 0), ({last}, 102, 'x', 0)"
        );
        let refused = sqlx::query(&into_the_gap)
            .execute(&mut *tx)
            .await
            .expect_err(&into_the_gap);
        let message = refused.to_string();
        match db.backend {
            Backend::Sqlite => {
                assert!(
                    message.contains("FOREIGN KEY constraint failed"),
                    "{message}"
                )
            }
            Backend::Postgres => {
                let e = refused.as_database_error().expect("a database error");
                assert_eq!(e.code().as_deref(), Some("23503"), "{message}");
                let detail = e
                    .try_downcast_ref::<sqlx::postgres::PgDatabaseError>()
                    .and_then(|e| e.detail().map(str::to_string));
                assert_eq!(
                    detail.as_deref(),
                    Some("Key (entry_no)=(50000) is not present in table \"journal\"."),
                    "{message}"
                );
            }
        }
        tx.rollback().await.expect("rollback");
        store.close().await;
    }
}

/// The checks find the parent in the ledger's own schema (migration 0010
/// pins the function's search path, ADR 0005 decision 23): a session's
/// temporary table named `journal`, holding the entry a posting names,
/// does not make that posting's reference good.
#[tokio::test]
async fn a_temporary_table_cannot_stand_in_for_the_parent() {
    for db in TestDb::all() {
        let store = db.store().await;
        gd_ledger(&store).await;
        let mut tx = store.pool().begin().await.expect("begin");
        for sql in [
            "CREATE TEMP TABLE journal (entry_no BIGINT PRIMARY KEY)",
            "INSERT INTO journal (entry_no) VALUES (999999)",
        ] {
            sqlx::query(sql).execute(&mut *tx).await.expect(sql);
        }
        let sql = "INSERT INTO postings (entry_no, seq, account, amount_fen) \
                   VALUES (999999, 1, 'x', 0)";
        let refused = sqlx::query(sql).execute(&mut *tx).await.expect_err(sql);
        let message = refused.to_string();
        match db.backend {
            Backend::Sqlite => assert!(
                message.contains("FOREIGN KEY constraint failed"),
                "{message}"
            ),
            Backend::Postgres => assert_eq!(
                refused
                    .as_database_error()
                    .and_then(|e| e.code())
                    .as_deref(),
                Some("23503"),
                "{message}"
            ),
        }
        tx.rollback().await.expect("rollback");
        store.close().await;
    }
}

/// A trigger on the check function other than the three the schema
/// declares still gets the check (migration 0010 keeps 0009's query, built
/// as text, for any reference it has no static query for): a table of
/// this test's own referencing `batches`.
#[tokio::test]
async fn a_reference_without_a_static_query_is_still_checked() {
    let Some(db) = TestDb::postgres() else {
        return;
    };
    let store = db.store().await;
    gd_ledger(&store).await;
    let mut tx = store.pool().begin().await.expect("begin");
    for sql in [
        "CREATE TABLE notes (batch_id BIGINT)",
        "CREATE TRIGGER notes_batch_id_fkey_insert AFTER INSERT ON notes \
         REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION \
         fundledger_references_exist('notes_batch_id_fkey', 'batch_id', 'batches', 'batch_id')",
        "INSERT INTO notes (batch_id) SELECT batch_id FROM batches",
    ] {
        sqlx::query(sql).execute(&mut *tx).await.expect(sql);
    }
    let sql = "INSERT INTO notes (batch_id) VALUES (1), (999999)";
    let refused = sqlx::query(sql).execute(&mut *tx).await.expect_err(sql);
    let e = refused.as_database_error().expect("a database error");
    assert_eq!(e.code().as_deref(), Some("23503"), "{refused}");
    let pg = e
        .try_downcast_ref::<sqlx::postgres::PgDatabaseError>()
        .expect("a PostgreSQL error");
    assert_eq!(
        pg.message(),
        "insert or update on table \"notes\" violates foreign key constraint \"notes_batch_id_fkey\""
    );
    assert_eq!(
        pg.detail(),
        Some("Key (batch_id)=(999999) is not present in table \"batches\".")
    );
    tx.rollback().await.expect("rollback");
    store.close().await;
}
