//! Importing the same file again changes nothing and says so (SPEC §4.7).
//! Property over every accepted fixture: the second import exits 0, reports
//! nothing new with every row skipped as already present, and `export
//! journal` and `balance` are byte-identical before and after it.

mod support;

use support::*;

/// Imports `path` a second time and checks the property; `rows` is how many
/// lines or vouchers the file holds (all of them must be skipped).
fn second_import_changes_nothing(db: &TestDb, kind: &str, path: &str, rows: u64) {
    let before = fingerprint(db);
    let run = fl(db, &["import", kind, path]).ok();
    let unit = if kind == "indicators" {
        "line(s)"
    } else {
        "voucher(s)"
    };
    assert!(
        run.stderr.contains("nothing new"),
        "{path} again ({:?}): {}",
        db.backend,
        run.stderr
    );
    let skipped = format!("total: 0 {unit} added, {rows} skipped as already present");
    assert!(
        run.stderr.contains(&skipped),
        "{path} again ({:?}): expected `{skipped}` in\n{}",
        db.backend,
        run.stderr
    );
    assert_eq!(
        fingerprint(db),
        before,
        "{path} imported twice changed the ledger"
    );
}

/// First import (must add `rows`), then the property.
fn twice(db: &TestDb, kind: &str, path: &str, rows: u64) {
    let run = fl(db, &["import", kind, path]).ok();
    let unit = if kind == "indicators" {
        "line(s)"
    } else {
        "voucher(s)"
    };
    // Deferred refunds and reductions are annotated between "added" and the
    // skipped count ("(of which 1 refund(s), …)"), so match the two halves.
    let added = format!("total: {rows} {unit} added");
    let total_line = run
        .stderr
        .lines()
        .find(|l| l.starts_with("total: "))
        .unwrap_or_default();
    // A reduction adds no line: it is counted apart.
    let reductions = format!("total: 0 line(s) added, {rows} reduction(s) applied, 0 skipped");
    assert!(
        total_line.starts_with(&reductions)
            || (total_line.starts_with(&added)
                && total_line[added.len()..].starts_with([' ', ','])
                && total_line.contains(", 0 skipped as already present")),
        "{path} ({:?}): expected `{added}` in\n{}",
        db.backend,
        run.stderr
    );
    second_import_changes_nothing(db, kind, path, rows);
}

#[test]
fn guangdong_files_imported_twice() {
    for db in TestDb::all() {
        gd_base(&db);
        // lines: 12号 has 15 non-empty, non-zero cells; 77号 is a reduction
        // (no line of its own, but one skipped row on the second run)
        for (f, rows) in [
            (Gd::Doc12, 15),
            (Gd::Doc40, 3),
            (Gd::Doc77, 1),
            (Gd::Disbursements, 11),
        ] {
            twice(&db, f.kind(), &f.path(), rows);
        }
        // the whole example again in one command: still nothing new
        let before = fingerprint(&db);
        fl(
            &db,
            &[
                "import",
                "indicators",
                &Gd::Doc12.path(),
                &Gd::Doc40.path(),
                &Gd::Doc77.path(),
            ],
        )
        .ok();
        assert_eq!(fingerprint(&db), before);
        assert_eq!(
            reconcile_csv(&db, "2021-09-30", &[]),
            read_fixture("gd-2021/expected_reconcile_2021-09-30.csv")
        );
    }
}

/// Vouchers per monthly file, from fixtures/hunan-2020/README.md.
const HUNAN_VOUCHERS: [u64; 12] = [0, 0, 166, 285, 5, 157, 122, 8, 8, 8, 7, 7];

#[test]
fn hunan_files_imported_twice_and_the_xlsx_then_its_csv_twin() {
    for db in TestDb::all() {
        hunan_base(&db);
        twice(
            &db,
            "indicators",
            &fixture("hunan-2020/36_wide_wan.xlsx"),
            414,
        );
        // the GB18030 CSV is the same document, cell for cell: all skipped
        second_import_changes_nothing(
            &db,
            "indicators",
            &fixture("hunan-2020/36_wide_wan_gb18030.csv"),
            414,
        );
        twice(&db, "indicators", &fixture("hunan-2020/37_long.csv"), 246);
        for (i, vouchers) in HUNAN_VOUCHERS.iter().enumerate() {
            let path = fixture(&format!("hunan-2020/disb_2020_{:02}.csv", i + 1));
            if *vouchers == 0 {
                // header-only months: nothing to add either time
                second_import_changes_nothing(&db, "disbursements", &path, 0);
            } else {
                twice(&db, "disbursements", &path, *vouchers);
            }
        }
        assert_eq!(HUNAN_VOUCHERS.iter().sum::<u64>(), 773);
        fl(&db, &["verify"]).ok();
    }
}

#[test]
fn hunan_csv_twin_first_then_the_xlsx() {
    // the other way round, on SQLite (the two backends are covered above)
    let db = TestDb::sqlite();
    hunan_base(&db);
    twice(
        &db,
        "indicators",
        &fixture("hunan-2020/36_wide_wan_gb18030.csv"),
        414,
    );
    second_import_changes_nothing(
        &db,
        "indicators",
        &fixture("hunan-2020/36_wide_wan.xlsx"),
        414,
    );
}

#[test]
fn accepted_format_fixtures_imported_twice() {
    for db in TestDb::all() {
        fl(&db, &["init"]).ok();
        // 粤财社〔2021〕50号 allocates 12,353,178.91 yuan: a pool to hold it
        fl(
            &db,
            &[
                "budget",
                "set",
                "--fiscal-year",
                "2021",
                "--amount-yuan",
                "20000000.00",
            ],
        )
        .ok();
        fl(
            &db,
            &["projects", "import", &fixture("reference/projects.csv")],
        )
        .ok();
        twice(&db, "indicators", &fixture("formats/long_gb18030.csv"), 1);
        // the same line saved as UTF-8 with a BOM: identical, skipped
        second_import_changes_nothing(&db, "indicators", &fixture("formats/long_utf8_bom.csv"), 1);
        twice(
            &db,
            "indicators",
            &fixture("formats/long_wan_preamble.csv"),
            3,
        );
        twice(
            &db,
            "disbursements",
            &fixture("formats/disbursements_english.csv"),
            2,
        );
        fl(&db, &["verify"]).ok();
    }
}

#[test]
fn dry_run_of_an_already_imported_file_says_nothing_new() {
    for db in TestDb::all() {
        gd_ledger(&db);
        let before = fingerprint(&db);
        let run = fl(
            &db,
            &[
                "import",
                "disbursements",
                "--dry-run",
                &Gd::Disbursements.path(),
            ],
        )
        .ok();
        assert!(
            run.stderr.contains("would add 0 voucher(s), 11 skipped"),
            "{}",
            run.stderr
        );
        assert_eq!(fingerprint(&db), before);
    }
}
