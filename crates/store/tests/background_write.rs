//! A write transaction writes its buffered rows on a task of its own while
//! the command builds the next ones (ADR 0005, decision 13). These tests pin
//! what that must not change: a write that fails mid-import fails the
//! command and leaves the ledger as it was, and a transaction dropped with a
//! write still in flight leaves nothing behind and frees the writer lock.

mod common;

use common::{day, gd_ledger, voucher, RECORDED_AT};
use fundledger_core::domain::Voucher;
use fundledger_store::testing::TestDb;
use fundledger_store::{Backend, Store, VoucherImport, WriteTx};
use sqlx::Executor;

/// Enough vouchers for several background writes inside one chunk (a write
/// starts every 250 vouchers: 500 postings); `boom_at` names one of them
/// `BOOM`.
fn many_vouchers(n: usize, boom_at: Option<usize>) -> Vec<Voucher> {
    (0..n)
        .map(|i| {
            let no = if Some(i) == boom_at {
                "BOOM".to_string()
            } else {
                format!("BG{i:06}")
            };
            voucher(
                i as u64 + 2,
                &no,
                day(2021, 7, 1),
                ("440100", "JS02"),
                None,
                1,
                None,
            )
        })
        .collect()
}

/// Makes the database itself refuse the voucher `BOOM`: an insert error no
/// check of ours sees coming, like a full disk.
async fn refuse_boom(store: &Store) {
    let mut conn = store.pool().acquire().await.unwrap();
    let statements: &[&str] = match store.backend() {
        Backend::Sqlite => &["CREATE TRIGGER boom BEFORE INSERT ON vouchers \
             WHEN NEW.voucher_no = 'BOOM' BEGIN SELECT RAISE(ABORT, 'boom refused'); END"],
        Backend::Postgres => &[
            "CREATE FUNCTION boom() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
             IF NEW.voucher_no = 'BOOM' THEN RAISE EXCEPTION 'boom refused'; END IF; \
             RETURN NEW; END $$",
            "CREATE TRIGGER boom BEFORE INSERT ON vouchers FOR EACH ROW EXECUTE FUNCTION boom()",
        ],
    };
    for sql in statements {
        conn.execute(*sql).await.unwrap();
    }
}

async fn counts(store: &Store) -> (i64, i64, i64, i64) {
    let mut conn = store.pool().acquire().await.unwrap();
    let mut out = [0i64; 4];
    for (i, table) in ["journal", "postings", "vouchers", "batches"]
        .iter()
        .enumerate()
    {
        out[i] = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
            .fetch_one(&mut *conn)
            .await
            .unwrap();
    }
    (out[0], out[1], out[2], out[3])
}

async fn begin(store: &Store) -> WriteTx {
    WriteTx::begin(
        store,
        "import disbursements",
        Some(("bg.csv", "0")),
        RECORDED_AT,
    )
    .await
    .expect("begin")
}

/// Runs one import of `vouchers` to the end: the first error, or the commit.
async fn import(store: &Store, vouchers: Vec<Voucher>) -> fundledger_store::Result<()> {
    let mut w = begin(store).await;
    let mut imp = VoucherImport::start(&mut w).await?;
    imp.note_batch(w.batch_id());
    imp.push_chunk(&mut w, vouchers).await?;
    imp.finish(&mut w).await?;
    w.commit().await
}

async fn assert_sound(store: &Store) {
    let report = store.verify().await.expect("verify");
    assert!(report.failures.is_empty(), "{:?}", report.failures);
}

#[tokio::test]
async fn a_background_write_that_fails_fails_the_command_and_leaves_the_ledger_unchanged() {
    for db in TestDb::all() {
        let store = db.store().await;
        gd_ledger(&store).await;
        refuse_boom(&store).await;
        let before = counts(&store).await;

        let err = import(&store, many_vouchers(1_200, Some(600)))
            .await
            .expect_err("the database refused BOOM");
        assert!(
            err.to_string().contains("boom refused"),
            "{:?}: {err}",
            db.backend
        );
        assert_eq!(counts(&store).await, before, "{:?}", db.backend);
        assert_sound(&store).await;

        // The pool is not left holding the failed transaction: the next
        // import (without BOOM) goes in whole.
        import(&store, many_vouchers(1_200, None))
            .await
            .expect("the next import");
        let after = counts(&store).await;
        assert_eq!(after.2, before.2 + 1_200, "{:?}", db.backend);
        assert_sound(&store).await;
        store.close().await;
    }
}

#[tokio::test]
async fn a_write_tx_dropped_with_a_write_in_flight_leaves_nothing_and_frees_the_writer() {
    for db in TestDb::all() {
        let store = db.store().await;
        gd_ledger(&store).await;
        let before = counts(&store).await;

        let mut w = begin(&store).await;
        let mut imp = VoucherImport::start(&mut w).await.unwrap();
        imp.note_batch(w.batch_id());
        imp.push_chunk(&mut w, many_vouchers(1_000, None))
            .await
            .unwrap();
        // 1,000 vouchers: four writes started, the last one may be running.
        w.flush().await.unwrap();
        drop(imp);
        drop(w);

        // The writer lock is free again (SQLite waits for it, PostgreSQL's
        // advisory lock goes with the closed session) and nothing of the
        // dropped command was kept.
        import(&store, many_vouchers(10, None))
            .await
            .expect("an import after the dropped one");
        let after = counts(&store).await;
        assert_eq!(
            (after.0, after.2, after.3),
            (before.0 + 10, before.2 + 10, before.3 + 1),
            "{:?}",
            db.backend
        );
        assert_sound(&store).await;
        store.close().await;
    }
}

/// A store on one pooled connection (the tamper tests') writes through
/// the pooled path, on SQLite too; a ledger file's store writes through the
/// writer thread. Both make the same ledger, to the chain head and the
/// seals (the tests' clock is fixed), so both paths write the same rows.
#[tokio::test]
async fn the_pooled_path_and_the_writer_thread_make_the_same_ledger() {
    let mut pairs = vec![(TestDb::sqlite(), TestDb::sqlite())];
    if let (Some(a), Some(b)) = (TestDb::postgres(), TestDb::postgres()) {
        pairs.push((a, b));
    }
    for (direct, pooled) in pairs {
        let mut reports = Vec::new();
        for (db, one_connection) in [(&direct, false), (&pooled, true)] {
            let store = db.store().await;
            let store = if one_connection {
                store.close().await;
                db.single_connection_store().await
            } else {
                store
            };
            gd_ledger(&store).await;
            import(&store, many_vouchers(1_200, None))
                .await
                .expect("import");
            let report = store.verify().await.expect("verify");
            assert!(report.failures.is_empty(), "{:?}", report.failures);
            reports.push(report);
            store.close().await;
        }
        assert_eq!(reports[0], reports[1], "{:?}", direct.backend);
        assert_eq!(reports[0].entries, 18 + 1_200);
    }
}
