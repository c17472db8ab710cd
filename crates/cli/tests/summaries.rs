//! Issue 11 §2: summaries say what happened. Never "added" for a row the
//! ledger does not hold; lines and reductions counted apart; new projects
//! named; an empty ledger is not "verify: ok"; the table keeps an unmatched
//! voucher's document and never calls an `over` row settled.

mod support;
use support::*;

#[test]
fn refused_import_never_says_added() {
    for db in TestDb::all() {
        gd_ledger(&db);
        let dir = tempfile::tempdir().unwrap();
        // One good voucher, one voucher number already in the ledger with
        // other content: the command is refused as a whole.
        let file = write_file(
            dir.path(),
            "bad.csv",
            "支付凭证号,支付日期,财政区划代码,项目名称,支付金额（元）\n\
             SG21033001,20210330,440222000,三结合,6000.00\n\
             SG21062901,2021-06-29,440281,三结合,20000.00\n"
                .as_bytes(),
        );
        let before = fingerprint(&db);
        let run = fl(&db, &["import", "disbursements", &file]).expect_code(1);
        assert!(!run.stderr.contains("added"), "{}", run.stderr);
        assert!(
            run.stderr
                .contains("bad.csv: 2 row(s) read and checked, amount 26000.00"),
            "{}",
            run.stderr
        );
        assert!(
            run.stderr
                .contains("import refused: nothing was imported, the ledger is unchanged"),
            "{}",
            run.stderr
        );
        assert_eq!(fingerprint(&db), before);
    }
}

#[test]
fn dry_run_says_would_add_not_added() {
    for db in TestDb::all() {
        gd_base(&db);
        let run = fl(
            &db,
            &[
                "import",
                "indicators",
                "--dry-run",
                &Gd::Doc12.path(),
                &Gd::Doc40.path(),
            ],
        )
        .ok();
        assert!(!run.stderr.contains("added"), "{}", run.stderr);
        assert!(
            run.stderr
                .contains("long form, 3 row(s) read, would add 3 line(s), 0 skipped"),
            "{}",
            run.stderr
        );
        assert!(
            run.stderr.contains(
                "dry run, nothing written: would add 18 line(s), 0 skipped as already present, amount 985300.50"
            ),
            "{}",
            run.stderr
        );
    }
}

#[test]
fn reduction_is_counted_apart_from_lines() {
    for db in TestDb::all() {
        gd_base(&db);
        import(&db, Gd::Doc12).ok();
        let run = import(&db, Gd::Doc77).ok();
        assert!(
            run.stderr.contains(
                "total: 0 line(s) added, 1 reduction(s) applied, 0 skipped as already present, amount -20000.00"
            ),
            "{}",
            run.stderr
        );
        assert!(!run.stderr.contains("1 line(s) added"), "{}", run.stderr);
    }
}

#[test]
fn new_projects_registered_by_an_indicator_import_are_named() {
    for db in TestDb::all() {
        // No catalog: the long file's JS08 and JS04 are new projects.
        fl(&db, &["init"]).ok();
        fl(
            &db,
            &[
                "budget",
                "set",
                "--fiscal-year",
                "2021",
                "--amount-yuan",
                "1000000.00",
            ],
        )
        .ok();
        let dry = fl(
            &db,
            &["import", "indicators", "--dry-run", &Gd::Doc40.path()],
        )
        .ok();
        assert!(
            dry.stderr.contains(
                "2 new project(s) would be registered: JS08 托育服务示范点, JS04 住院护理补贴"
            ),
            "{}",
            dry.stderr
        );
        let run = import(&db, Gd::Doc40).ok();
        assert!(
            run.stderr.contains("gd_2021_40_long.csv: 2 new project(s) registered: JS08 托育服务示范点, JS04 住院护理补贴"),
            "{}",
            run.stderr
        );
    }
}

#[test]
fn verify_on_an_empty_ledger_says_it_is_empty_and_exits_1() {
    for db in TestDb::all() {
        fl(&db, &["init"]).ok();
        let run = fl(&db, &["verify"]).expect_code(1);
        assert!(run.stderr.contains("the ledger is EMPTY"), "{}", run.stderr);
        assert!(!run.stderr.contains("verify: ok"), "{}", run.stderr);
        let json = fl(&db, &["verify", "--format", "json"]).expect_code(1);
        let v: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
        assert_eq!(v["ok"], serde_json::json!(false));
        assert_eq!(v["empty"], serde_json::json!(true));
    }
}

/// A SQLite database copied without its -wal file holds what was last
/// checkpointed: here, nothing. verify used to print `verify: ok`.
#[test]
fn verify_of_a_wal_copy_without_its_wal_file_says_empty() {
    let db = TestDb::sqlite();
    gd_ledger(&db);
    let path = db.url.strip_prefix("sqlite:").unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("copy.db");
    std::fs::copy(&path, &copy).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_fundledger"))
        .env_remove("FUNDLEDGER_DB")
        .args(["--db", &format!("sqlite:{}", copy.display()), "verify"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Either the checkpoint had happened (then the copy is whole and ok),
    // or the copy is empty and says so: never an empty "verify: ok".
    let stdout = String::from_utf8_lossy(&out.stdout);
    if stdout.contains("entries 0\n") {
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains("the ledger is EMPTY"), "{stderr}");
    } else {
        assert!(stderr.contains("verify: ok"), "{stdout}{stderr}");
    }
}

#[test]
fn table_keeps_the_doc_no_of_an_unmatched_voucher() {
    for db in TestDb::all() {
        gd_ledger(&db);
        let out = reconcile(&db, "2021-06-30", &["--format", "table"])
            .ok()
            .stdout;
        assert!(
            out.contains("no line for doc_no 粤财社〔2021〕99号"),
            "{out}"
        );
    }
}

#[test]
fn table_never_calls_an_over_row_settled() {
    for db in TestDb::all() {
        gd_ledger(&db);
        let out = reconcile(&db, "2021-06-30", &["--format", "table"])
            .ok()
            .stdout;
        let over = out
            .lines()
            .find(|l| l.starts_with("over "))
            .expect("an over row");
        assert!(!over.contains("settled"), "{over}");
        assert!(over.contains("paid ≥ allocated since 2021-06-15"), "{over}");
    }
}

/// formats.md says the functional zones are built in, yet `regions import`
/// of them reported "15 added" (and wrote 15 extension rows).
#[test]
fn regions_import_of_the_built_in_zones_adds_nothing() {
    for db in TestDb::all() {
        gd_ledger(&db);
        let before = fingerprint(&db);
        let run = fl(
            &db,
            &[
                "regions",
                "import",
                &fixture("reference/hunan_nbs_functional_zones_2020.csv"),
            ],
        )
        .ok();
        assert!(
            run.stderr.contains(
                "15 division(s) read, 0 added, 15 already present (built in or imported before)"
            ),
            "{}",
            run.stderr
        );
        assert_eq!(fingerprint(&db), before);
    }
}
