//! Regression tests named after bugs found while building fundledger.

use fundledger_store::testing::TestDb;
use std::process::{Command, Output};

fn run(db: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fundledger"))
        .env_remove("FUNDLEDGER_DB")
        .arg("--db")
        .arg(db)
        .args(args)
        .output()
        .expect("run fundledger")
}

fn ok(db: &str, args: &[&str]) -> String {
    let out = run(db, args);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn fixture(name: &str) -> String {
    format!("{}/../../fixtures/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn gd_ledger(db: &TestDb) {
    ok(&db.url, &["init"]);
    ok(
        &db.url,
        &[
            "budget",
            "set",
            "--fiscal-year",
            "2021",
            "--amount-yuan",
            "1000000.00",
        ],
    );
    ok(
        &db.url,
        &["projects", "import", &fixture("reference/projects.csv")],
    );
    ok(
        &db.url,
        &[
            "import",
            "indicators",
            &fixture("gd-2021/gd_2021_40_long.csv"),
        ],
    );
}

/// `--project js08` used to select nothing and exit 0.
#[test]
fn project_filter_lowercase_code_or_alias_selects_the_project() {
    let db = TestDb::sqlite();
    gd_ledger(&db);
    let by_code = ok(
        &db.url,
        &[
            "reconcile",
            "--as-of",
            "2021-09-30",
            "--project",
            "JS08",
            "--format",
            "csv",
        ],
    );
    assert_eq!(by_code.lines().count(), 3, "{by_code}");
    for spelling in ["js08", "托育示范", "托育服务示范点"] {
        let got = ok(
            &db.url,
            &[
                "reconcile",
                "--as-of",
                "2021-09-30",
                "--project",
                spelling,
                "--format",
                "csv",
            ],
        );
        assert_eq!(got, by_code, "--project {spelling}");
    }
    let out = run(
        &db.url,
        &["reconcile", "--as-of", "2021-09-30", "--project", "JS99"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a code, name or alias"));
}

/// `reconcile … | head` used to panic on the closed pipe.
#[test]
fn closed_stdout_pipe_is_not_an_error() {
    let db = TestDb::sqlite();
    gd_ledger(&db);
    for args in [
        vec!["reconcile", "--as-of", "2021-09-30", "--format", "csv"],
        vec!["export", "journal"],
        vec!["balance", "--format", "csv"],
    ] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_fundledger"))
            .env_remove("FUNDLEDGER_DB")
            .arg("--db")
            .arg(&db.url)
            .args(&args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
}

/// `projects import` and `regions import` used to read UTF-8 only, so a
/// catalog saved from Excel in GBK failed with "stream did not contain valid
/// UTF-8" and no position.
#[test]
fn reference_tables_saved_in_gbk_import_and_bad_bytes_are_located() {
    let db = TestDb::sqlite();
    ok(&db.url, &["init"]);
    let dir = tempfile::tempdir().unwrap();
    let projects = "code,name,aliases\nZZ01,县级试点项目,试点;县试点\n";
    let gbk = encoding_rs::GB18030.encode(projects).0.into_owned();
    let path = dir.path().join("projects_gbk.csv");
    std::fs::write(&path, &gbk).unwrap();
    let out = run(&db.url, &["projects", "import", path.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("1 project(s) loaded"));

    let regions = "code,name,parent,valid_from,valid_to\n439901,示范区,430000,2020,\n";
    let mut bad = encoding_rs::GB18030.encode(regions).0.into_owned();
    bad.push(0x81);
    let path = dir.path().join("regions_bad.csv");
    std::fs::write(&path, &bad).unwrap();
    let out = run(&db.url, &["regions", "import", path.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("regions_bad.csv") && stderr.contains("line 3, byte offset"),
        "{stderr}"
    );
}

/// A file with a refund used to report "10 voucher(s) added" while the total
/// line said 11: the refund, applied after every file is read, went unsaid.
#[test]
fn per_file_summary_counts_the_refunds_and_reductions_it_holds_back() {
    let db = TestDb::sqlite();
    gd_ledger(&db);
    let reduction = run(
        &db.url,
        &[
            "import",
            "indicators",
            &fixture("gd-2021/gd_2021_12_wide_wan.csv"),
            &fixture("gd-2021/gd_2021_77_adjust.csv"),
        ],
    );
    let stderr = String::from_utf8_lossy(&reduction.stderr);
    assert!(reduction.status.success(), "{stderr}");
    assert!(
        stderr.contains(
            "gd_2021_77_adjust.csv: long form, 1 row(s) read, 0 line(s) added, \
             1 reduction(s) held until every file is read, 0 skipped"
        ),
        "{stderr}"
    );
    let refund = run(
        &db.url,
        &[
            "import",
            "disbursements",
            &fixture("gd-2021/gd_2021_disbursements.csv"),
        ],
    );
    let stderr = String::from_utf8_lossy(&refund.stderr);
    assert!(refund.status.success(), "{stderr}");
    assert!(
        stderr.contains(
            "11 row(s) read, 10 voucher(s) added, \
             1 refund(s) held until every file is read, 0 skipped"
        ),
        "{stderr}"
    );
    assert!(stderr.contains("total: 11 voucher(s) added (of which 1 refund(s)"));
}
