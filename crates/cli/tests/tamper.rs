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

/// The one table the generic tamper test (store/tests/tamper_generic.rs)
/// exempts, `_sqlx_migrations`, is sqlx's record of applied migrations: no
/// command prints from it. Changing its columns leaves every reading
/// command's output byte-identical; removing a row, or marking it failed,
/// makes every command refuse (exit 1, nothing on stdout) until `init`.
/// (docs/adr/0003-every-stored-fact-sealed.md)
#[test]
fn migrations_table_changes_no_output() {
    let outputs = |db: &TestDb| -> Vec<(String, String)> {
        let commands: &[&[&str]] = &[
            &["reconcile", "--as-of", "2021-06-30", "--format", "csv"],
            &["reconcile", "--as-of", "2021-09-30", "--format", "json"],
            &["balance", "--format", "csv"],
            &["export", "journal"],
            &["export", "trail"],
            &["verify"],
        ];
        commands
            .iter()
            .map(|args| {
                let run = fl(db, args).ok();
                (run.stdout, run.stderr)
            })
            .collect()
    };
    for db in TestDb::all() {
        gd_ledger(&db);
        fl(&db, &["close", "--through", "2021-06"]).ok();
        let before = outputs(&db);
        let checksum = match db.backend {
            fundledger_store::Backend::Sqlite => "X'00'",
            fundledger_store::Backend::Postgres => "'\\x00'::bytea",
        };
        let edit = format!(
            "UPDATE _sqlx_migrations SET description = description || 'x', \
             installed_on = CURRENT_TIMESTAMP, execution_time = execution_time + 1, \
             checksum = {checksum}"
        );
        tamper(&db, &[&edit]);
        assert_eq!(outputs(&db), before, "{:?}", db.backend);
        let (success_false, delete) = (
            match db.backend {
                fundledger_store::Backend::Sqlite => "UPDATE _sqlx_migrations SET success = 0 WHERE version = 1",
                fundledger_store::Backend::Postgres => "UPDATE _sqlx_migrations SET success = false WHERE version = 1",
            },
            "DELETE FROM _sqlx_migrations WHERE version = (SELECT MAX(version) FROM _sqlx_migrations)",
        );
        for sql in [success_false, delete] {
            let copy = TestDb::all()
                .into_iter()
                .find(|d| d.backend == db.backend)
                .expect("same backend");
            gd_ledger(&copy);
            tamper(&copy, &[sql]);
            for args in [
                &["reconcile", "--as-of", "2021-06-30"][..],
                &["verify"],
                &["export", "trail"],
            ] {
                let run = fl(&copy, args).expect_code(1);
                assert!(run.stdout.is_empty(), "{sql}: {args:?}: {}", run.stdout);
                assert!(
                    run.stderr.contains("fundledger init"),
                    "{sql}: {}",
                    run.stderr
                );
            }
        }
    }
}

/// Issue 15: `verify` keeps the first 1,000 failures and only counts the
/// rest, so a ledger broken everywhere cannot grow its memory without bound;
/// the count it prints is still every failure found.
#[test]
fn verify_lists_the_first_failures_and_counts_the_rest() {
    let db = TestDb::sqlite();
    fl(&db, &["demo", "--format", "csv"]).ok();
    tamper(
        &db,
        &["UPDATE journal SET description = description || ' x'"],
    );
    let run = fl(&db, &["verify"]).expect_code(1);
    let broken: Vec<&str> = run
        .stdout
        .lines()
        .filter(|l| l.starts_with("BROKEN "))
        .collect();
    assert_eq!(broken.len(), 1_001, "{}", run.stdout);
    let last = broken[1_000];
    let more: u64 = last
        .strip_prefix("BROKEN … and ")
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no count of the omitted failures: {last}"));
    assert!(more > 0, "{last}");
    assert!(
        run.stderr
            .contains(&format!("verify failed: {} problem(s)", 1_000 + more)),
        "{}",
        run.stderr
    );
    let json = fl(&db, &["verify", "--format", "json"]).expect_code(1);
    let doc: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(doc["failures"].as_array().map(Vec::len), Some(1_000));
    assert_eq!(
        doc["failures_omitted"].as_u64(),
        Some(more),
        "{}",
        json.stdout
    );
}
