//! Snapshots (insta) of what an officer and a script see on the Guangdong
//! ledger, and of the help text. Both backends must give the same snapshot.
//! Nothing is redacted: these outputs are deterministic, and the recording
//! time of entries must not appear in them.

mod support;

use support::*;

/// Reports must not depend on when the entries were recorded.
fn assert_no_timestamp(text: &str) {
    let now = chrono_like_today();
    assert!(
        !text.contains(&now),
        "output carries today's date {now} (a recorded_at?):\n{text}"
    );
    assert!(!text.contains("recorded_at"), "{text}");
}

/// Today's date as YYYY-MM-DD from the system clock, without a date crate.
fn chrono_like_today() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs() as i64;
    let days = secs.div_euclid(86_400);
    // civil_from_days (Howard Hinnant's algorithm)
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

#[test]
fn guangdong_reports() {
    for db in TestDb::all() {
        gd_ledger(&db);
        for as_of in ["2021-06-30", "2021-09-30"] {
            let table = reconcile(&db, as_of, &["--format", "table"]).ok().stdout;
            assert_no_timestamp(&table);
            insta::assert_snapshot!(format!("reconcile_table_{as_of}"), table);
            let json = reconcile(&db, as_of, &["--format", "json"]).ok().stdout;
            assert_no_timestamp(&json);
            insta::assert_snapshot!(format!("reconcile_json_{as_of}"), json);
        }
        let balance = fl(&db, &["balance", "--format", "table", "--depth", "3"])
            .ok()
            .stdout;
        assert_no_timestamp(&balance);
        insta::assert_snapshot!("balance_table_depth_3", balance);
        let balance = fl(&db, &["balance", "--format", "table"]).ok().stdout;
        assert_no_timestamp(&balance);
        insta::assert_snapshot!("balance_table", balance);
    }
}

#[test]
fn help_texts() {
    let cases: [(&str, &[&str]); 15] = [
        ("help", &["--help"]),
        (
            "help_import_indicators",
            &["import", "indicators", "--help"],
        ),
        (
            "help_import_disbursements",
            &["import", "disbursements", "--help"],
        ),
        ("help_reconcile", &["reconcile", "--help"]),
        ("help_balance", &["balance", "--help"]),
        ("help_rollover", &["rollover", "--help"]),
        ("help_demo", &["demo", "--help"]),
        ("help_verify", &["verify", "--help"]),
        ("help_close", &["close", "--help"]),
        ("help_budget_set", &["budget", "set", "--help"]),
        ("help_export_trail", &["export", "trail", "--help"]),
        ("help_export_journal", &["export", "journal", "--help"]),
        ("help_init", &["init", "--help"]),
        ("help_regions_import", &["regions", "import", "--help"]),
        ("help_projects_import", &["projects", "import", "--help"]),
    ];
    for (name, args) in cases {
        let run = fl_bare(args).ok();
        assert!(run.stderr.is_empty(), "{}", run.stderr);
        insta::assert_snapshot!(name, run.stdout);
    }
}
