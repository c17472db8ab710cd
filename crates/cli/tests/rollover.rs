//! Year-end rollover through the binary (SPEC §6) on the three-year scenario
//! of `fixtures/scenario-3y` (its README derives every figure checked here),
//! on SQLite and, when FUNDLEDGER_TEST_PG is set, PostgreSQL.

use fundledger_store::testing::TestDb;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Command, Output};

fn scenario_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/scenario-3y")
}

/// Runs the binary in the scenario directory, so sources read `file.csv:LINE`.
fn run(db: &TestDb, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fundledger"))
        .arg("--db")
        .arg(&db.url)
        .args(args)
        .current_dir(scenario_dir())
        .env_remove("FUNDLEDGER_DB")
        .output()
        .expect("run fundledger")
}

fn ok(db: &TestDb, args: &[&str]) -> String {
    let out = run(db, args);
    assert!(
        out.status.success(),
        "{:?}: fundledger {args:?} exited {:?}\n{}",
        db.backend,
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("stdout is UTF-8")
}

fn json_of(db: &TestDb, args: &[&str]) -> Value {
    serde_json::from_str(&ok(db, args)).expect("valid JSON")
}

fn journal(db: &TestDb) -> String {
    ok(db, &["export", "journal"])
}

fn balances(db: &TestDb) -> BTreeMap<String, String> {
    let text = ok(db, &["balance", "--format", "csv"]);
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    reader
        .records()
        .map(|r| {
            let r = r.expect("balance csv row");
            (r[0].to_string(), r[1].to_string())
        })
        .collect()
}

/// Pools for the three years, the 2020 document and its vouchers.
fn setup_2020(db: &TestDb) {
    ok(db, &["init"]);
    ok(db, &["projects", "import", "../reference/projects.csv"]);
    for (year, yuan) in [
        ("2020", "1000000.00"),
        ("2021", "500000.00"),
        ("2022", "300000.00"),
    ] {
        ok(
            db,
            &[
                "budget",
                "set",
                "--fiscal-year",
                year,
                "--amount-yuan",
                yuan,
            ],
        );
    }
    ok(db, &["import", "indicators", "ind_2020_36.csv"]);
    ok(db, &["import", "disbursements", "disb_2020.csv"]);
}

fn rollover_json(db: &TestDb, year: &str, extra: &[&str]) -> Value {
    let mut args = vec!["rollover", "--fiscal-year", year, "--format", "json"];
    args.extend_from_slice(extra);
    json_of(db, &args)
}

const DOC36: &str = "湘财社指〔2020〕36号";
const DOC12: &str = "湘财社指〔2021〕12号";

fn carry(doc: &str, from: &str, to: &str, project: &str, origin: i32, amount: &str) -> Value {
    json!({"doc_no": doc, "region_code": from, "to_region_code": to, "project_code": project,
           "origin_year": origin, "amount": amount})
}

fn over(doc: &str, region: &str, project: &str, amount: &str) -> Value {
    json!({"doc_no": doc, "region_code": region, "project_code": project, "amount": amount,
           "reason": "over-disbursed: carried with negative outstanding"})
}

fn expected_2020(status: &str) -> Value {
    json!({
        "fiscal_year": 2020, "status": status, "recover_after": 2,
        "carried_total": "45000.00", "recovered_total": "0.00",
        "pool": "1000000.00", "unallocated": "620000.00",
        "carries": [
            carry(DOC36, "430181", "430181", "JS04", 2020, "-5000.00"),
            carry(DOC36, "431121", "431181", "JS01", 2020, "50000.00"),
        ],
        "recoveries": [],
        "exceptions": [over(DOC36, "430181", "JS04", "-5000.00")],
    })
}

const RECONCILE_2021: &str = "\
fiscal_year,origin_year,doc_no,doc_date,region_code,region_name,project_code,project_name,allocated,disbursed,outstanding,due_date,settled_on,status,voucher_no
2021,2020,湘财社指〔2020〕36号,2020-03-10,430181,浏阳市,JS04,计生特殊家庭住院护理补贴,-5000.00,0.00,-5000.00,2020-04-09,2021-01-01,over,
2021,2020,湘财社指〔2020〕36号,2020-03-10,431181,祁阳市,JS01,计生家庭系列保险,50000.00,30000.00,20000.00,2020-04-09,,overdue,
2021,2021,湘财社指〔2021〕12号,2021-03-15,431181,祁阳市,JS02,计生三结合帮扶,60000.00,45000.00,15000.00,2021-04-14,,overdue,
";

const RECONCILE_2022: &str = "\
fiscal_year,origin_year,doc_no,doc_date,region_code,region_name,project_code,project_name,allocated,disbursed,outstanding,due_date,settled_on,status,voucher_no
2022,2020,湘财社指〔2020〕36号,2020-03-10,430181,浏阳市,JS04,计生特殊家庭住院护理补贴,-5000.00,0.00,-5000.00,2020-04-09,2022-01-01,over,
2022,2021,湘财社指〔2021〕12号,2021-03-15,431181,祁阳市,JS02,计生三结合帮扶,15000.00,15000.00,0.00,2021-04-14,2022-02-15,late,
";

fn check_balances(db: &TestDb, expected: &[(&str, &str)]) {
    let all = balances(db);
    for (account, balance) in expected {
        assert_eq!(
            all.get(*account).map(String::as_str),
            Some(*balance),
            "{:?}: balance of {account}",
            db.backend
        );
    }
}

#[test]
fn three_years_carry_recover_and_flag_exactly() {
    for db in TestDb::all() {
        setup_2020(&db);
        assert_eq!(rollover_json(&db, "2020", &[]), expected_2020("applied"));
        check_balances(
            &db,
            &[
                ("carryover:out:2020:431100:431121:JS01", "50000.00"),
                ("carryover:in:2021:431100:431181:JS01", "-50000.00"),
                ("allocated:2021:431100:431181:JS01", "50000.00"),
                ("carryover:out:2020:430100:430181:JS04", "-5000.00"),
                ("carryover:in:2021:430100:430181:JS04", "5000.00"),
                ("allocated:2021:430100:430181:JS04", "-5000.00"),
                ("pool:2020", "620000.00"),
            ],
        );
        assert!(
            !balances(&db).contains_key("allocated:2020:431100:431121:JS01"),
            "nothing stays allocated in a rolled-over year"
        );

        // 2021: the carried line is matched by doc_no and, without one, as
        // the only candidate of (2021, 431181, JS01).
        ok(&db, &["import", "indicators", "ind_2021_12.csv"]);
        ok(&db, &["import", "disbursements", "disb_2021.csv"]);
        let report = ok(
            &db,
            &[
                "reconcile",
                "--as-of",
                "2021-12-31",
                "--fiscal-year",
                "2021",
                "--format",
                "csv",
            ],
        );
        assert_eq!(report, RECONCILE_2021, "{:?}", db.backend);

        assert_eq!(
            rollover_json(&db, "2021", &[]),
            json!({
                "fiscal_year": 2021, "status": "applied", "recover_after": 2,
                "carried_total": "10000.00", "recovered_total": "20000.00",
                "pool": "500000.00", "unallocated": "440000.00",
                "carries": [
                    carry(DOC36, "430181", "430181", "JS04", 2020, "-5000.00"),
                    carry(DOC12, "431181", "431181", "JS02", 2021, "15000.00"),
                ],
                "recoveries": [{"doc_no": DOC36, "region_code": "431181", "project_code": "JS01",
                                "origin_year": 2020, "amount": "20000.00"}],
                "exceptions": [over(DOC36, "430181", "JS04", "-5000.00")],
            })
        );
        check_balances(
            &db,
            &[
                ("pool:2021:recovered", "20000.00"),
                ("carryover:out:2021:431100:431181:JS02", "15000.00"),
                ("carryover:in:2022:431100:431181:JS02", "-15000.00"),
                ("carryover:in:2022:430100:430181:JS04", "5000.00"),
                ("pool:2021", "440000.00"),
            ],
        );

        ok(&db, &["import", "disbursements", "disb_2022.csv"]);
        let report = ok(
            &db,
            &[
                "reconcile",
                "--as-of",
                "2022-12-31",
                "--fiscal-year",
                "2022",
                "--format",
                "csv",
            ],
        );
        assert_eq!(report, RECONCILE_2022, "{:?}", db.backend);
        let verify = json_of(&db, &["verify", "--format", "json"]);
        assert_eq!(verify["ok"], json!(true), "{verify}");
    }
}

#[test]
fn second_rollover_changes_nothing_and_says_so() {
    for db in TestDb::all() {
        setup_2020(&db);
        ok(&db, &["rollover", "--fiscal-year", "2020"]);
        let before = journal(&db);
        let out = run(&db, &["rollover", "--fiscal-year", "2020"]);
        assert_eq!(out.status.code(), Some(0));
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("the rollover of 2020 has already run; nothing changed"),
            "{text}"
        );
        let again = rollover_json(&db, "2020", &[]);
        assert_eq!(again["status"], json!("already_done"));
        assert_eq!(again["carries"], json!([]));
        assert_eq!(again["recoveries"], json!([]));
        assert_eq!(journal(&db), before, "{:?}: ledger changed", db.backend);
    }
}

#[test]
fn dry_run_shows_the_plan_and_writes_nothing() {
    for db in TestDb::all() {
        setup_2020(&db);
        let before = journal(&db);
        assert_eq!(
            rollover_json(&db, "2020", &["--dry-run"]),
            expected_2020("dry_run")
        );
        assert_eq!(journal(&db), before, "{:?}: dry run wrote", db.backend);
        // Not closed either: a late 2020 voucher is still accepted.
        ok(&db, &["import", "disbursements", "disb_2020_late.csv"]);
    }
}

#[test]
fn vouchers_of_a_rolled_over_year_are_refused_by_file_and_line() {
    for db in TestDb::all() {
        setup_2020(&db);
        ok(&db, &["rollover", "--fiscal-year", "2020"]);
        let before = journal(&db);
        let out = run(&db, &["import", "disbursements", "disb_2020_late.csv"]);
        assert_eq!(out.status.code(), Some(1), "{:?}", db.backend);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("disb_2020_late.csv:2: paid_on: 2020-12-20 is in a closed period"),
            "{err}"
        );
        assert!(
            err.contains(
                "disb_2020_late.csv:3: fiscal_year: fiscal year 2020 has been rolled over"
            ),
            "{err}"
        );
        assert_eq!(journal(&db), before);
    }
}

#[test]
fn recover_after_one_recovers_at_the_first_rollover() {
    for db in TestDb::all() {
        setup_2020(&db);
        let got = rollover_json(&db, "2020", &["--recover-after", "1"]);
        assert_eq!(got["recovered_total"], json!("50000.00"));
        assert_eq!(
            got["recoveries"],
            json!([{"doc_no": DOC36, "region_code": "431121", "project_code": "JS01",
                    "origin_year": 2020, "amount": "50000.00"}])
        );
        // An over-payment is never recovered: it is carried as a claim.
        assert_eq!(
            got["carries"],
            json!([carry(DOC36, "430181", "430181", "JS04", 2020, "-5000.00")])
        );
        check_balances(&db, &[("pool:2020:recovered", "50000.00")]);
        assert_eq!(
            json_of(&db, &["verify", "--format", "json"])["ok"],
            json!(true)
        );
    }
}

#[test]
fn bad_recover_after_is_a_usage_error() {
    for db in TestDb::all() {
        setup_2020(&db);
        let before = journal(&db);
        for option in ["--recover-after=0", "--recover-after=-1"] {
            let out = run(&db, &["rollover", "--fiscal-year", "2020", option]);
            assert_eq!(out.status.code(), Some(2), "{option}");
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(err.contains("must be at least 1"), "{option}: {err}");
        }
        assert_eq!(journal(&db), before);
    }
}

#[test]
fn years_roll_in_order() {
    for db in TestDb::all() {
        setup_2020(&db);
        let before = journal(&db);
        // 2020 holds data and is not rolled over: 2021 may not go first.
        for extra in [&[][..], &["--dry-run"][..]] {
            let mut args = vec!["rollover", "--fiscal-year", "2021"];
            args.extend_from_slice(extra);
            let out = run(&db, &args);
            assert_eq!(out.status.code(), Some(1), "{:?} {extra:?}", db.backend);
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(
                err.contains("fiscal year 2020 holds data and has not been rolled over"),
                "{err}"
            );
        }
        assert_eq!(journal(&db), before, "{:?}: nothing carried", db.backend);
        ok(&db, &["rollover", "--fiscal-year", "2020"]);
        ok(&db, &["rollover", "--fiscal-year", "2021"]);
        // A year already rolled still answers `already_done`, whatever came after.
        let again = rollover_json(&db, "2020", &[]);
        assert_eq!(again["status"], json!("already_done"));
    }
}
