//! SPEC §9 "no output destroys data" (issue 13 §3): every `--output` refuses
//! an existing file unless `--force`, never follows a planted symlink, and is
//! never the open database or its `-wal`/`-shm`.

mod support;

use std::path::{Path, PathBuf};
use support::*;

fn db_file(db: &TestDb) -> PathBuf {
    PathBuf::from(
        db.url
            .strip_prefix("sqlite:")
            .expect("a sqlite test database"),
    )
}

fn small_ledger() -> TestDb {
    let db = TestDb::sqlite();
    gd_base(&db);
    import(&db, Gd::Doc40).ok();
    db
}

fn path_arg(p: &Path) -> String {
    p.display().to_string()
}

/// `export trail --output fundledger.db` used to truncate the live ledger to
/// a CSV header ("database disk image is malformed" afterwards).
#[test]
fn export_over_the_open_database_is_refused_and_the_ledger_still_verifies() {
    let db = small_ledger();
    let before = fingerprint(&db);
    let file = db_file(&db);
    for name in ["", "-wal", "-shm"] {
        let target = format!("{}{name}", file.display());
        for command in [
            vec!["export", "trail", "--output", &target],
            vec!["export", "trail", "--output", &target, "--force"],
            vec!["export", "journal", "--output", &target, "--force"],
        ] {
            let run = fl(&db, &command).expect_code(1);
            assert!(
                run.stderr.contains("is the open database"),
                "{}: {}",
                run.what,
                run.stderr
            );
        }
    }
    fl(&db, &["verify"]).ok();
    assert_eq!(fingerprint(&db), before);
}

/// `out.csv.manifest.json -> ../precious.txt` used to overwrite precious.txt.
#[cfg(unix)]
#[test]
fn a_symlinked_manifest_is_refused_and_its_target_untouched() {
    let db = small_ledger();
    let dir = tempfile::tempdir().unwrap();
    let precious = dir.path().join("precious.txt");
    std::fs::write(&precious, "keep me").unwrap();
    let out = dir.path().join("out.csv");
    std::os::unix::fs::symlink(&precious, dir.path().join("out.csv.manifest.json")).unwrap();
    let run = fl(&db, &["export", "trail", "--output", &path_arg(&out)]).expect_code(1);
    assert!(run.stderr.contains("already exists"), "{}", run.stderr);
    assert_eq!(std::fs::read_to_string(&precious).unwrap(), "keep me");
    assert!(
        !out.exists(),
        "no CSV is written when its manifest is refused"
    );
    // With --force the link itself is replaced; its target is still untouched.
    fl(
        &db,
        &["export", "trail", "--output", &path_arg(&out), "--force"],
    )
    .ok();
    assert_eq!(std::fs::read_to_string(&precious).unwrap(), "keep me");
    let manifest = dir.path().join("out.csv.manifest.json");
    assert!(!std::fs::symlink_metadata(&manifest).unwrap().is_symlink());
    assert!(std::fs::read_to_string(&manifest)
        .unwrap()
        .contains("sha256"));
}

#[test]
fn an_existing_output_is_refused_without_force_and_replaced_with_it() {
    let db = small_ledger();
    let dir = tempfile::tempdir().unwrap();
    for (command, name) in [("trail", "trail.csv"), ("journal", "ledger.journal")] {
        let out = dir.path().join(name);
        std::fs::write(&out, "old").unwrap();
        let run = fl(&db, &["export", command, "--output", &path_arg(&out)]).expect_code(1);
        assert!(
            run.stderr.contains("already exists; pass --force"),
            "{}: {}",
            run.what,
            run.stderr
        );
        assert_eq!(std::fs::read_to_string(&out).unwrap(), "old");
        fl(
            &db,
            &["export", command, "--output", &path_arg(&out), "--force"],
        )
        .ok();
        let new = std::fs::read_to_string(&out).unwrap();
        assert_ne!(new, "old");
        // The same bytes as the stdout export.
        let stdout = fl(&db, &["export", command]).ok().stdout;
        assert_eq!(new, stdout, "{command}");
    }
    // No temporary files are left behind.
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["ledger.journal", "trail.csv", "trail.csv.manifest.json"]
    );
}

#[test]
fn force_without_output_is_a_usage_error() {
    let db = small_ledger();
    fl(&db, &["export", "journal", "--force"]).expect_code(2);
}

const VOUCHER_HEADER: &str =
    "支付凭证号,支付日期,财政区划代码,地区名称,项目名称,指标文号,支付金额（元）,原支付凭证号,收款单位,摘要\n";

/// Terminal escapes in a voucher number or a file name used to reach the
/// terminal raw (`ESC ]0;…` retitles it, `ESC [2J` clears it).
#[test]
fn control_characters_are_shown_escaped_in_tables_and_errors() {
    let db = small_ledger();
    let dir = tempfile::tempdir().unwrap();
    // An unmatched voucher: the exceptions table shows its number.
    let good = format!(
        "{VOUCHER_HEADER}Q\u{1b}]0;pwned\u{7}X,2021-06-01,440203,武江区,JS01,,100.00,,p,m\n"
    );
    let name = "d\u{1b}[2J.csv";
    let file = write_file(dir.path(), name, good.as_bytes());
    let run = fl(&db, &["import", "disbursements", &file]).ok();
    assert!(
        run.stderr.contains("d\\x1b[2J.csv: 1 row(s) read"),
        "{}",
        run.stderr
    );
    let table = reconcile(&db, "2021-12-31", &["--format", "table"])
        .ok()
        .stdout;
    assert!(table.contains("Q\\x1b]0;pwned\\x07X"), "{table}");
    // A refused row: the error names the file and the cell, escaped.
    let bad = format!("{VOUCHER_HEADER}W\u{1b}[2J,2021-06-01,440203,武江区,JS01,,1x0.00,,p,m\n");
    let file = write_file(dir.path(), "bad\u{9b}.csv", bad.as_bytes());
    let run = fl(&db, &["import", "disbursements", &file]).expect_code(1);
    assert!(run.stderr.contains("bad\\x9b.csv:2:"), "{}", run.stderr);
    for out in [&run.stdout, &run.stderr, &table] {
        assert!(
            !out.contains('\u{1b}') && !out.contains('\u{9b}') && !out.contains('\u{7}'),
            "{out}"
        );
    }
}
