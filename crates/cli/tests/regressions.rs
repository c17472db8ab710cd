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
