//! `export beancount` is accepted by the real `bean-check`, and `bean-query`'s
//! balance per account equals ours (`balance --format csv`) to the fen, on
//! the Hunan demo and on the Guangdong ledger after its rollover. Without
//! beancount the check fails under CI (CI set) and otherwise says loudly that
//! it did not run.

mod support;

use fundledger_formats::beancount::account_name;
use std::collections::BTreeMap;
use std::process::Command;
use support::*;

fn beancount_available() -> bool {
    let found = ["bean-check", "bean-query"].iter().all(|tool| {
        Command::new(tool)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    });
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "bean-check/bean-query are not installed but CI is set: .ci/run must install them"
        );
        eprintln!(
            "\n*** beancount check NOT RUN: bean-check/bean-query are not installed \
             (pip install beancount beanquery) ***\n"
        );
    }
    found
}

/// Our balances under their beancount names, zero balances left out.
fn ours(db: &TestDb) -> BTreeMap<String, i64> {
    let out = fl(db, &["balance", "--format", "csv"]).ok().stdout;
    csv_rows(&out)
        .into_iter()
        .map(|r| (account_name(&r["account"]), fen(&r["balance"])))
        .filter(|(_, fen)| *fen != 0)
        .collect()
}

fn theirs(path: &str) -> BTreeMap<String, i64> {
    let check = Command::new("bean-check")
        .arg(path)
        .output()
        .expect("run bean-check");
    assert!(
        check.status.success(),
        "bean-check refused our export: {}{}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );
    let out = Command::new("bean-query")
        .args([
            "-f",
            "csv",
            path,
            "SELECT account, sum(number) AS total GROUP BY account ORDER BY account",
        ])
        .output()
        .expect("run bean-query");
    assert!(
        out.status.success(),
        "bean-query failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).expect("bean-query output is UTF-8");
    csv_rows(&text)
        .into_iter()
        .map(|r| (r["account"].trim().to_string(), fen(r["total"].trim())))
        .filter(|(_, fen)| *fen != 0)
        .collect()
}

fn check_ledger(db: &TestDb) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir
        .path()
        .join("fundledger.beancount")
        .display()
        .to_string();
    fl(db, &["export", "beancount", "--output", &path]).ok();
    let text = std::fs::read_to_string(&path).expect("beancount file");
    let journal = fl(db, &["export", "journal"]).ok().stdout;
    assert_eq!(
        text.matches("\n  hash: \"").count(),
        journal.matches(", hash:").count(),
        "every entry carries its chain hash"
    );
    let ours = ours(db);
    assert!(ours.len() > 10, "the ledger has accounts: {ours:?}");
    assert_eq!(theirs(&path), ours, "{:?}", db.backend);
}

#[test]
fn bean_check_accepts_the_demo_and_bean_query_agrees_to_the_fen() {
    if !beancount_available() {
        return;
    }
    let db = TestDb::sqlite();
    fl(&db, &["demo"]).ok();
    check_ledger(&db);
}

#[test]
fn bean_query_agrees_on_the_guangdong_ledger_after_rollover() {
    if !beancount_available() {
        return;
    }
    for db in TestDb::all() {
        gd_ledger(&db);
        fl(
            &db,
            &[
                "budget",
                "set",
                "--fiscal-year",
                "2022",
                "--amount-yuan",
                "1.00",
            ],
        )
        .ok();
        fl(
            &db,
            &["rollover", "--fiscal-year", "2021", "--format", "json"],
        )
        .ok();
        check_ledger(&db);
    }
}
