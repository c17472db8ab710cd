//! Input files as bureaus and web systems really send them (issue 10): every
//! container and layout of the 36号 table imports to the same ledger as the
//! plain XLSX; files that are not tables say what they are; a FIFO is
//! refused; the recorded hash is of the bytes parsed; a reduction is
//! identified by (doc_no, region, project, adjusts_doc_no).

mod support;

use sha2::{Digest, Sha256};
use sqlx::Row;
use support::{fingerprint, fixture, fl, hunan_base, write_file, TestDb};

/// What must not depend on the container: the reconcile report, the
/// balances, and verify's counts of entries and postings.
fn ledger_after_import(file: &str) -> (String, String, String) {
    let db = TestDb::sqlite();
    hunan_base(&db);
    fl(&db, &["import", "indicators", file]).ok();
    let reconcile = fl(
        &db,
        &["reconcile", "--as-of", "2020-12-31", "--format", "csv"],
    )
    .ok()
    .stdout;
    let balance = fl(&db, &["balance", "--format", "csv"]).ok().stdout;
    let verify: serde_json::Value =
        serde_json::from_str(&fl(&db, &["verify", "--format", "json"]).ok().stdout).unwrap();
    let counts = format!(
        "{} entries, {} postings",
        verify["entries"], verify["postings"]
    );
    (reconcile, balance, counts)
}

#[test]
fn every_container_and_layout_imports_to_the_same_ledger() {
    let cases = [
        (
            "hunan-2020/36_wide_wan.xlsx",
            &[
                "hunan-2020-variants/36_wide_wan.xls",
                "hunan-2020-variants/36_wide_wan.ods",
                "hunan-2020-variants/36_html_table.xls",
                "hunan-2020-variants/36_tab_separated.xls",
                "hunan-2020-variants/36_two_level_header.xlsx",
                "hunan-2020-variants/36_cover_sheet.xlsx",
            ][..],
        ),
        (
            "hunan-2020/37_long.csv",
            &["hunan-2020-variants/37_long_two_level.csv"][..],
        ),
    ];
    for (plain, variants) in cases {
        let want = ledger_after_import(&fixture(plain));
        assert!(want.0.lines().count() > 100, "{plain}: {}", want.0);
        for variant in variants {
            let got = ledger_after_import(&fixture(variant));
            assert!(got == want, "{variant} differs from {plain}: {got:?}");
        }
    }
}

#[test]
fn files_that_are_not_a_table_say_what_they_are() {
    let cases = [
        ("bad_pdf_renamed.xls", "this is a PDF document, not a table"),
        (
            "bad_zip_not_workbook.xlsx",
            "this is a ZIP archive without a workbook, not a table",
        ),
        (
            "bad_html_without_table.xls",
            "this is an HTML page without a table",
        ),
        (
            "bad_two_sheets.xlsx",
            "sheets `36号`, `36号副本` each hold a recognised header: choose one with --sheet NAME",
        ),
    ];
    let db = TestDb::sqlite();
    hunan_base(&db);
    let before = fingerprint(&db);
    for (name, message) in cases {
        let path = fixture(&format!("hunan-2020-variants/{name}"));
        let run = fl(&db, &["import", "indicators", &path]).expect_code(1);
        assert!(
            run.stderr.contains(&format!("{path}: {message}")),
            "{name}: {}",
            run.stderr
        );
        assert_eq!(fingerprint(&db), before, "{name}");
    }
    // Two sheets with a header: --sheet picks one.
    let two = fixture("hunan-2020-variants/bad_two_sheets.xlsx");
    fl(&db, &["import", "indicators", "--sheet", "36号", &two]).ok();
}

#[test]
fn a_fifo_input_is_refused_not_waited_on() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("disb.csv");
    let c_path = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: mkfifo on a NUL-terminated path in our own temporary directory.
    assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
    let db = TestDb::sqlite();
    hunan_base(&db);
    let before = fingerprint(&db);
    let fifo = fifo.display().to_string();
    for kind in ["indicators", "disbursements"] {
        let run = fl(&db, &["import", kind, &fifo]).expect_code(1);
        assert!(
            run.stderr.contains(&format!(
                "{fifo}: this is a FIFO (named pipe), not a regular file"
            )),
            "{}",
            run.stderr
        );
    }
    let run = fl(&db, &["projects", "import", &fifo]).expect_code(1);
    assert!(run.stderr.contains("not a regular file"), "{}", run.stderr);
    assert_eq!(fingerprint(&db), before);
}

/// The SHA-256 each batch recorded for its file.
fn recorded_hashes(db: &TestDb) -> Vec<(String, String)> {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let store = db.store().await;
        let rows = sqlx::query(
            "SELECT file_name, file_sha256 FROM batches WHERE file_sha256 IS NOT NULL ORDER BY batch_id",
        )
        .fetch_all(store.pool())
        .await
        .unwrap();
        let out = rows
            .iter()
            .map(|r| (r.get::<String, _>(0), r.get::<String, _>(1)))
            .collect();
        store.close().await;
        out
    })
}

#[test]
fn the_recorded_hash_is_of_the_bytes_parsed() {
    let db = TestDb::sqlite();
    hunan_base(&db);
    let files = [
        fixture("hunan-2020-variants/36_html_table.xls"),
        fixture("hunan-2020/37_long.csv"),
    ];
    fl(&db, &["import", "indicators", &files[0], &files[1]]).ok();
    let hashes = recorded_hashes(&db);
    let sha = |path: &str| hex::encode(Sha256::digest(std::fs::read(path).unwrap()));
    let catalog = fixture("reference/projects.csv");
    assert_eq!(
        hashes,
        vec![
            (catalog.clone(), sha(&catalog)),
            (files[0].clone(), sha(&files[0])),
            (files[1].clone(), sha(&files[1])),
        ]
    );
}

const REDUCTION_BASE: &str = "\
指标文号,下达日期,区划代码,项目编码,金额（元）
湘财社指〔2020〕10号,2020-02-10,430111,JS02,\"20,000.00\"
湘财社指〔2020〕11号,2020-02-20,430111,JS02,\"30,000.00\"
";

/// 湘财社指〔2020〕88号 cuts 430111/JS02 of two documents: two rows, one key
/// (doc_no, region, project), two different targets.
const REDUCTION_88: &str = "\
指标文号,下达日期,区划代码,项目编码,金额（元）,原指标文号
湘财社指〔2020〕88号,2020-09-01,430111,JS02,-965.00,湘财社指〔2020〕10号
湘财社指〔2020〕88号,2020-09-01,430111,JS02,\"-9,529.00\",湘财社指〔2020〕11号
";

#[test]
fn one_adjustment_may_reduce_the_same_line_key_in_two_documents() {
    for db in TestDb::all() {
        let dir = tempfile::tempdir().unwrap();
        let base = write_file(dir.path(), "base.csv", REDUCTION_BASE.as_bytes());
        let cut = write_file(dir.path(), "88.csv", REDUCTION_88.as_bytes());
        hunan_base(&db);
        fl(&db, &["import", "indicators", &base]).ok();
        let run = fl(&db, &["import", "indicators", &cut]).ok();
        assert!(
            run.stderr
                .contains("total: 0 line(s) added, 2 reduction(s) applied"),
            "{}",
            run.stderr
        );
        let balance = fl(&db, &["balance", "--format", "csv"]).ok().stdout;
        // 50,000.00 allocated less 965.00 and 9,529.00.
        assert!(balance.contains("39506.00"), "{balance}");
        // The same file again: both rows are already there.
        let run = fl(&db, &["import", "indicators", &cut]).ok();
        assert!(
            run.stderr.contains("2 skipped as already present"),
            "{}",
            run.stderr
        );
        fl(&db, &["verify"]).ok();
    }
}

#[test]
fn the_same_reduction_twice_in_one_import_is_refused() {
    let db = TestDb::sqlite();
    let dir = tempfile::tempdir().unwrap();
    let base = write_file(dir.path(), "base.csv", REDUCTION_BASE.as_bytes());
    let twice = format!(
        "{REDUCTION_88}湘财社指〔2020〕88号,2020-09-01,430111,JS02,-965.00,湘财社指（2020）10号\n"
    );
    let cut = write_file(dir.path(), "88.csv", twice.as_bytes());
    hunan_base(&db);
    fl(&db, &["import", "indicators", &base]).ok();
    let before = fingerprint(&db);
    let run = fl(&db, &["import", "indicators", &cut]).expect_code(1);
    assert!(
        run.stderr.contains(&format!(
            "{cut}:4: doc_no: reduction 湘财社指〔2020〕88号/430111/JS02 of 湘财社指〔2020〕10号 appears twice in this import: first at {cut}:2"
        )),
        "{}",
        run.stderr
    );
    assert_eq!(fingerprint(&db), before);
}
