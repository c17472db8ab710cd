//! Issue 15 regression: what is read back from the database is untrusted.
//! A forger with raw database access (append-only triggers dropped, as
//! crates/cli/tests/tamper.rs does) can store amounts whose sums pass `i64`;
//! `balance`, `reconcile` and `verify` must then report a typed overflow,
//! never print a wrapped figure (`balance --depth 1` over two pools of
//! 90000000000000000.00 printed `4467440737095516.16`) and never panic. A
//! forged account name is corrupt data, not text to roll up.

mod support;

use fundledger_store::testing::drop_append_only_triggers_sql;
use sqlx::Executor;
use support::{fl, gd_ledger, TestDb};

/// 90,000,000,000,000,000.00 yuan in fen: one fits in i64, two do not.
const HUGE_FEN: &str = "9000000000000000000";
/// Half of that: two fit, four do not.
const HALF_HUGE_FEN: &str = "5000000000000000000";

fn forge(db: &TestDb, statements: &[String]) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let store = db.store().await;
        let mut conn = store.pool().acquire().await.unwrap();
        for sql in drop_append_only_triggers_sql(db.backend) {
            conn.execute(sql.as_str()).await.unwrap();
        }
        for sql in statements {
            conn.execute(sql.as_str()).await.unwrap();
        }
        drop(conn);
        store.close().await;
    });
}

fn check_overflow(db: &TestDb, args: &[&str], stream_has: &str) {
    let run = fl(db, args).expect_code(1);
    let shown = format!("{}{}", run.stdout, run.stderr);
    assert!(
        shown.contains(stream_has) && shown.contains("amount overflow"),
        "{:?} {args:?}: expected `{stream_has}` and an overflow\n--- stdout\n{}\n--- stderr\n{}",
        db.backend,
        run.stdout,
        run.stderr
    );
    assert!(
        !run.stderr.contains("panicked"),
        "{:?} {args:?}: {}",
        db.backend,
        run.stderr
    );
}

#[test]
fn balance_over_stored_pools_past_i64_is_an_overflow_error_not_a_wrap() {
    for db in TestDb::all() {
        gd_ledger(&db);
        forge(
            &db,
            &[format!(
                "INSERT INTO balances (account, balance_fen) VALUES \
                 ('pool:2098', {HUGE_FEN}), ('pool:2099', {HUGE_FEN})"
            )],
        );
        check_overflow(&db, &["balance", "--depth", "1"], "balance of pool: ");
        check_overflow(&db, &["balance"], "total of the balances: ");
        check_overflow(
            &db,
            &["balance", "--format", "json"],
            "total of the balances: ",
        );
    }
}

#[test]
fn verify_over_stored_postings_past_i64_is_an_overflow_failure_not_a_panic() {
    for db in TestDb::all() {
        gd_ledger(&db);
        // The last entry becomes a carryover whose postings balance one by one
        // (+h, -h, +h, -h) but whose carried-out amounts sum past i64.
        let last = "(SELECT MAX(entry_no) FROM journal)";
        let posting = |seq: u32, account: &str, sign: &str| {
            format!(
                "INSERT INTO postings (entry_no, seq, account, amount_fen) \
                 SELECT MAX(entry_no), {seq}, '{account}', {sign}{HALF_HUGE_FEN} FROM journal"
            )
        };
        forge(
            &db,
            &[
                format!("UPDATE journal SET kind = 'carryover' WHERE entry_no = {last}"),
                format!("DELETE FROM postings WHERE entry_no = {last}"),
                posting(1, "carryover:out:2021:440100:440103:F1", ""),
                posting(2, "pool:2098", "-"),
                posting(3, "carryover:out:2021:440100:440103:F2", ""),
                posting(4, "pool:2099", "-"),
            ],
        );
        check_overflow(&db, &["verify"], "carryover postings: ");
    }
}

#[test]
fn reconcile_over_stored_lines_past_i64_is_an_overflow_error_not_a_panic() {
    for db in TestDb::all() {
        gd_ledger(&db);
        forge(
            &db,
            &[format!(
                "UPDATE indicator_lines SET amount_fen = {HALF_HUGE_FEN}"
            )],
        );
        for format in ["table", "json", "csv"] {
            check_overflow(
                &db,
                &["reconcile", "--as-of", "2021-06-30", "--format", format],
                "report totals: ",
            );
        }
    }
}

/// The store hands balances out as `Account`: a stored name that is not a
/// valid account (here with `;`, an hledger comment) is corrupt data, named,
/// not rolled up as text.
#[test]
fn balance_over_a_forged_account_name_is_corrupt_data() {
    for db in TestDb::all() {
        gd_ledger(&db);
        forge(
            &db,
            &["INSERT INTO balances (account, balance_fen) VALUES ('pool;2098', 5)".to_string()],
        );
        let run = fl(&db, &["balance", "--depth", "1"]).expect_code(1);
        assert!(
            run.stderr
                .contains("stored data is corrupt: balances row: account name `pool;2098`"),
            "{:?}\n{}",
            db.backend,
            run.stderr
        );
    }
}
