//! `regions import` (issue 12 §6): a name is stored as a column and read
//! back as one, so any character the import accepts survives; control
//! characters are refused at the import, never stored.

mod support;

use support::{fingerprint, fl, gd_ledger, import, reconcile_csv, write_file, Gd, TestDb};

const HEADER: &str = "code,name,level,parent_code,valid_from,valid_to,successor_codes\n";

/// Used to store the row as CSV text without quoting, after which every
/// reconcile, import and trail failed with "stored data is corrupt".
#[test]
fn region_name_with_a_comma_is_stored_and_read_back() {
    for db in TestDb::all() {
        gd_ledger(&db);
        let before = reconcile_csv(&db, "2021-06-30", &[]);
        let dir = tempfile::tempdir().unwrap();
        let file = write_file(
            dir.path(),
            "zones.csv",
            format!("{HEADER}440272,\"A,B\",zone,440200,2021,,\n").as_bytes(),
        );
        let run = fl(&db, &["regions", "import", &file]).ok();
        assert!(run.stderr.contains("1 added"), "{}", run.stderr);
        assert_eq!(
            reconcile_csv(&db, "2021-06-30", &[]),
            before,
            "{:?}",
            db.backend
        );
        let again = import(&db, Gd::Doc40).ok();
        assert!(again.stderr.contains("already present"), "{}", again.stderr);
        fl(&db, &["export", "trail", "--region", "440200"]).ok();
        fl(&db, &["export", "trail"]).ok();
        fl(&db, &["verify"]).ok();
        // Importing the same file again finds the row already present: the
        // stored name reads back exactly as imported.
        let twice = fl(&db, &["regions", "import", &file]).ok();
        assert!(
            twice.stderr.contains("0 added, 1 already present"),
            "{}",
            twice.stderr
        );
    }
}

/// A line break in a name used to inject a division that exists in no
/// table; now the import is refused, naming the file and line, and the
/// ledger is unchanged.
#[test]
fn region_name_with_a_control_character_is_refused() {
    for (what, name) in [
        ("line break", "\"A\nB\""),
        ("tab", "\"A\tB\""),
        ("carriage return", "\"A\rB\""),
    ] {
        for db in TestDb::all() {
            gd_ledger(&db);
            let before = fingerprint(&db);
            let dir = tempfile::tempdir().unwrap();
            let file = write_file(
                dir.path(),
                "zones.csv",
                format!("{HEADER}440272,{name},zone,440200,2021,,\n").as_bytes(),
            );
            let run = fl(&db, &["regions", "import", &file]).expect_code(1);
            assert!(
                run.stderr.contains("zones.csv")
                    && run.stderr.contains("line 2")
                    && run.stderr.contains("control character"),
                "{what}: {}",
                run.stderr
            );
            assert_eq!(fingerprint(&db), before, "{what}: {:?}", db.backend);
        }
    }
}
