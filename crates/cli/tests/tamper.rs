//! Issue 3/6 "done when": a row tampered with behind fundledger's back (the
//! append-only triggers dropped with raw SQL, as anyone with database access
//! can) makes `fundledger verify` exit 1 and name it, on SQLite and
//! PostgreSQL. The store's tests cover every kind of row; this one checks
//! what the user sees from the binary.

mod support;

use fundledger_store::testing::drop_append_only_triggers_sql;
use sqlx::Executor;
use support::{fl, gd_ledger, TestDb};

fn tamper(db: &TestDb, statements: &[&str]) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let store = db.store().await;
        let mut conn = store.pool().acquire().await.unwrap();
        for sql in drop_append_only_triggers_sql(db.backend) {
            conn.execute(sql.as_str()).await.unwrap();
        }
        for sql in statements {
            conn.execute(*sql).await.unwrap();
        }
        drop(conn);
        store.close().await;
    });
}

/// (what is tampered, the SQL, what `verify` must print on a `BROKEN` line)
const CASES: &[(&str, &str, &str)] = &[
    (
        "a voucher's amount",
        "UPDATE vouchers SET amount_fen = 800000 WHERE voucher_no = 'GZ21041001'",
        "(voucher:GZ21041001): vouchers row differs from what its entry recorded",
    ),
    (
        "a posting's amount",
        "UPDATE postings SET amount_fen = amount_fen + 1 WHERE seq = 1 AND entry_no = \
         (SELECT entry_no FROM journal WHERE tx_id = 'voucher:GZ21041001')",
        "(voucher:GZ21041001): invalid transaction: transaction voucher:GZ21041001 does not balance",
    ),
    (
        "the month-end closing",
        "DELETE FROM closings",
        "closings row was sealed but is missing: `closings|through_date=2021-06-30`",
    ),
];

#[test]
fn verify_exits_1_naming_the_row_tampered_with() {
    for (what, sql, named) in CASES {
        for db in TestDb::all() {
            gd_ledger(&db);
            fl(&db, &["close", "--through", "2021-06"]).ok();
            let clean = fl(&db, &["verify"]).ok();
            assert!(clean.stdout.contains("seal head "), "{}", clean.stdout);
            tamper(&db, &[sql]);
            let run = fl(&db, &["verify"]).expect_code(1);
            assert!(
                !run.stdout.contains("rows but the journal records"),
                "{:?}: {what}: a broken entry still owns its record row\n{}",
                db.backend,
                run.stdout
            );
            assert!(
                run.stdout
                    .lines()
                    .any(|l| l.starts_with("BROKEN ") && l.contains(named))
                    && run.stderr.contains("verify failed"),
                "{:?}: {what}: expected `{named}`\n--- stdout\n{}\n--- stderr\n{}",
                db.backend,
                run.stdout,
                run.stderr
            );
        }
    }
}
