//! Issue 11 §1: the irreversible commands (`rollover`, `close`, `budget set`)
//! refuse typos: years and months the ledger holds nothing for, that lie in
//! the future, or that skip an earlier year still open. Each refusal exits 1
//! and leaves the chain head (and everything else) unchanged; `--dry-run`
//! shows the same refusal.

mod support;
use chrono::Datelike;
use support::*;

/// Runs `args`, expects exit 1 with `needle` in stderr, and the ledger
/// (chain head, balances, journal, batches, seal head) unchanged.
fn refused(db: &TestDb, args: &[&str], needle: &str) {
    let before = fingerprint(db);
    let head_before = chain_head(db);
    let run = fl(db, args).expect_code(1);
    assert!(
        run.stderr.contains(needle),
        "`{}`: stderr lacks {needle:?}:\n{}",
        run.what,
        run.stderr
    );
    assert_eq!(
        chain_head(db),
        head_before,
        "{}: chain head moved",
        run.what
    );
    assert_eq!(fingerprint(db), before, "{}: ledger changed", run.what);
}

fn chain_head(db: &TestDb) -> String {
    let v: serde_json::Value =
        serde_json::from_str(&fl(db, &["verify", "--format", "json"]).ok().stdout).unwrap();
    v["chain_head"].as_str().unwrap().to_string()
}

fn this_year() -> i32 {
    chrono::Utc::now().year()
}

#[test]
fn rollover_of_a_year_the_ledger_holds_nothing_for_is_refused() {
    for db in TestDb::all() {
        gd_ledger(&db);
        for extra in [&[][..], &["--dry-run"][..], &["--format", "json"][..]] {
            let mut args = vec!["rollover", "--fiscal-year", "2025"];
            args.extend_from_slice(extra);
            refused(
                &db,
                &args,
                "fiscal year 2025: the ledger holds nothing for it",
            );
        }
        // The 2021 rollover is still possible afterwards.
        fl(&db, &["rollover", "--fiscal-year", "2021", "--dry-run"]).ok();
    }
}

#[test]
fn rollover_while_an_earlier_year_is_open_is_refused() {
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
                "10.00",
            ],
        )
        .ok();
        for extra in [&[][..], &["--dry-run"][..]] {
            let mut args = vec!["rollover", "--fiscal-year", "2022"];
            args.extend_from_slice(extra);
            refused(
                &db,
                &args,
                "fiscal year 2021 holds data and has not been rolled over",
            );
        }
    }
}

#[test]
fn rollover_of_an_out_of_range_or_future_year_is_refused() {
    let next = (this_year() + 1).to_string();
    let far = (this_year() + 2).to_string();
    for db in TestDb::all() {
        gd_ledger(&db);
        refused(
            &db,
            &["rollover", "--fiscal-year", "21"],
            "outside 2000–2100",
        );
        refused(
            &db,
            &["rollover", "--fiscal-year", "0", "--dry-run"],
            "outside 2000–2100",
        );
        refused(
            &db,
            &["rollover", "--fiscal-year", &far],
            "more than one year ahead of today",
        );
        fl(
            &db,
            &[
                "budget",
                "set",
                "--fiscal-year",
                &next,
                "--amount-yuan",
                "1.00",
            ],
        )
        .ok();
        refused(
            &db,
            &["rollover", "--fiscal-year", &next, "--dry-run"],
            "past the current month",
        );
    }
}

#[test]
fn close_past_the_current_month_is_refused() {
    for db in TestDb::all() {
        gd_ledger(&db);
        refused(
            &db,
            &["close", "--through", "2099-12"],
            "that month has not ended or begun",
        );
        let next_year = format!("{}-01", this_year() + 1);
        refused(
            &db,
            &["close", "--through", &next_year],
            "the current month is",
        );
    }
}

#[test]
fn close_past_the_last_month_with_data_is_refused_and_names_it() {
    for db in TestDb::all() {
        gd_ledger(&db);
        refused(
            &db,
            &["close", "--through", "2022-03"],
            "the last month the ledger holds data for is 2021-08",
        );
        fl(&db, &["close", "--through", "2021-08"]).ok();
    }
}

#[test]
fn close_of_an_empty_ledger_is_refused() {
    for db in TestDb::all() {
        gd_base(&db);
        refused(
            &db,
            &["close", "--through", "2021-06"],
            "the ledger holds no indicator line, reduction or voucher yet",
        );
    }
}

#[test]
fn budget_set_of_a_typo_year_is_refused() {
    let far = (this_year() + 2).to_string();
    for db in TestDb::all() {
        gd_ledger(&db);
        for year in ["21", "0", "1999", "2101", far.as_str()] {
            refused(
                &db,
                &[
                    "budget",
                    "set",
                    "--fiscal-year",
                    year,
                    "--amount-yuan",
                    "100.00",
                ],
                "fiscal year",
            );
        }
        // Next year's pool is set in December: allowed.
        let next = (this_year() + 1).to_string();
        fl(
            &db,
            &[
                "budget",
                "set",
                "--fiscal-year",
                &next,
                "--amount-yuan",
                "1.00",
            ],
        )
        .ok();
    }
}

#[test]
fn voucher_with_a_typo_fiscal_year_is_refused_by_file_and_line() {
    for db in TestDb::all() {
        gd_ledger(&db);
        let dir = tempfile::tempdir().unwrap();
        let file = write_file(
            dir.path(),
            "v.csv",
            "voucher_no,paid_on,region_code,project_code,fiscal_year,amount_yuan\n\
             X1,2021-07-01,440203,JS08,2099,1.00\n"
                .as_bytes(),
        );
        refused(
            &db,
            &["import", "disbursements", &file],
            "v.csv:2: fiscal_year: fiscal year 2099 is more than one year ahead of today",
        );
    }
}
