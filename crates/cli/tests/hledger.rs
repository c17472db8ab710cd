//! `export journal` is read by the real hledger, and hledger's account totals
//! equal ours (`balance --format csv`) to the fen. Without hledger the check
//! fails under CI (CI set) and otherwise says loudly that it did not run.

mod support;

use std::collections::BTreeMap;
use std::process::Command;
use support::*;

fn hledger_available() -> bool {
    let found = Command::new("hledger")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "hledger is not installed but CI is set: .ci/run must install it"
        );
        eprintln!(
            "\n*** hledger check NOT RUN: hledger is not installed \
             (apt-get install hledger) ***\n"
        );
    }
    found
}

/// hledger's amount cell (`50000.00`, `CNY 50000.00`, `¥-1,234.50`…) → fen.
fn hledger_fen(cell: &str) -> i64 {
    let number: String = cell
        .chars()
        .filter(|c| c.is_ascii_digit() || matches!(c, '-' | '.'))
        .collect();
    assert!(!number.is_empty(), "no amount in hledger cell {cell:?}");
    fen(&number)
}

fn ours(db: &TestDb) -> BTreeMap<String, i64> {
    let out = fl(db, &["balance", "--format", "csv"]).ok().stdout;
    csv_rows(&out)
        .into_iter()
        .map(|r| (r["account"].clone(), fen(&r["balance"])))
        .collect()
}

fn theirs(journal_path: &str) -> BTreeMap<String, i64> {
    let out = Command::new("hledger")
        .args(["-f", journal_path, "balance", "--flat", "-N", "-O", "csv"])
        .output()
        .expect("run hledger");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "hledger refused our journal: {stderr}"
    );
    let text = String::from_utf8(out.stdout).expect("hledger output is UTF-8");
    let mut totals = BTreeMap::new();
    for r in csv_rows(&text) {
        let fen = hledger_fen(&r["balance"]);
        if fen != 0 {
            totals.insert(r["account"].clone(), fen);
        }
    }
    totals
}

fn check_ledger(db: &TestDb) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("fundledger.journal");
    let path = path.display().to_string();
    fl(db, &["export", "journal", "--output", &path]).ok();
    let stdout_journal = fl(db, &["export", "journal"]).ok().stdout;
    assert_eq!(
        std::fs::read_to_string(&path).expect("journal file"),
        stdout_journal,
        "--output and stdout give the same journal"
    );
    let ours = ours(db);
    assert!(ours.len() > 10, "the ledger has accounts: {ours:?}");
    assert_eq!(theirs(&path), ours, "{:?}", db.backend);
}

#[test]
fn hledger_reads_the_guangdong_journal_and_agrees_to_the_fen() {
    if !hledger_available() {
        return;
    }
    for db in TestDb::all() {
        gd_ledger(&db);
        check_ledger(&db);
        // after a close and the year-end rollover too (carryover accounts)
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

#[test]
fn export_journal_twice_gives_the_same_bytes() {
    for db in TestDb::all() {
        gd_ledger(&db);
        let first = fl(&db, &["export", "journal"]).ok().stdout;
        let second = fl(&db, &["export", "journal"]).ok().stdout;
        assert!(!first.is_empty());
        assert_eq!(first, second);
    }
}
