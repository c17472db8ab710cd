//! `fundledger demo` against the fixture generator's own model
//! (fixtures/hunan-2020/expected_summary.json, computed in memory by
//! crates/devtools, not by reading the files back): every line's figures,
//! status and settled_on, every unmatched voucher, and the grand totals.
//! Also: csv, json and table agree.

use std::collections::BTreeMap;
use std::process::Command;

fn demo(format: &str, db: Option<&str>) -> String {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_fundledger"));
    cmd.arg("demo")
        .arg("--format")
        .arg(format)
        .env_remove("FUNDLEDGER_DB");
    if let Some(db) = db {
        cmd.arg("--db").arg(db);
    }
    let out = cmd.output().expect("run fundledger demo");
    assert!(
        out.status.success(),
        "demo failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 report")
}

fn fen(text: &str) -> i64 {
    let (sign, digits) = text.strip_prefix('-').map(|d| (-1, d)).unwrap_or((1, text));
    let (whole, frac) = digits.split_once('.').expect("two decimals");
    assert_eq!(frac.len(), 2, "{text}");
    sign * (whole.parse::<i64>().unwrap() * 100 + frac.parse::<i64>().unwrap())
}

fn expected() -> serde_json::Value {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fixtures/hunan-2020/expected_summary.json"
    ))
    .expect("expected_summary.json");
    serde_json::from_str(&text).expect("JSON")
}

type Key = (String, String, String);

#[test]
fn demo_report_equals_the_generators_independent_model() {
    let csv_text = demo("csv", None);
    let mut rdr = csv::Reader::from_reader(csv_text.as_bytes());
    let header: Vec<String> = rdr.headers().unwrap().iter().map(str::to_string).collect();
    assert_eq!(
        header.join(","),
        "fiscal_year,origin_year,doc_no,doc_date,region_code,region_name,project_code,project_name,allocated,disbursed,outstanding,due_date,settled_on,status,voucher_no"
    );
    let mut lines: BTreeMap<Key, csv::StringRecord> = BTreeMap::new();
    let mut unmatched: BTreeMap<String, csv::StringRecord> = BTreeMap::new();
    for rec in rdr.records() {
        let rec = rec.unwrap();
        if &rec[13] == "unmatched" {
            unmatched.insert(rec[14].to_string(), rec);
        } else {
            lines.insert(
                (rec[2].to_string(), rec[4].to_string(), rec[6].to_string()),
                rec,
            );
        }
    }
    let model = expected();
    let model_lines = model["lines"].as_array().unwrap();
    assert_eq!(
        lines.len(),
        model_lines.len(),
        "one report row per indicator line"
    );
    let mut allocated_total = 0;
    for m in model_lines {
        let key = (
            m["doc_no"].as_str().unwrap().to_string(),
            m["region_code"].as_str().unwrap().to_string(),
            m["project_code"].as_str().unwrap().to_string(),
        );
        let row = lines
            .get(&key)
            .unwrap_or_else(|| panic!("no report row for {key:?}"));
        let ctx = format!("{key:?}");
        assert_eq!(&row[5], m["region_name"].as_str().unwrap(), "{ctx}");
        assert_eq!(&row[7], m["project_name"].as_str().unwrap(), "{ctx}");
        assert_eq!(fen(&row[8]), m["allocated_fen"].as_i64().unwrap(), "{ctx}");
        assert_eq!(fen(&row[9]), m["disbursed_fen"].as_i64().unwrap(), "{ctx}");
        assert_eq!(
            fen(&row[10]),
            m["outstanding_fen"].as_i64().unwrap(),
            "{ctx}"
        );
        assert_eq!(&row[11], m["due_date"].as_str().unwrap(), "{ctx}");
        assert_eq!(&row[12], m["settled_on"].as_str().unwrap_or(""), "{ctx}");
        assert_eq!(&row[13], m["status"].as_str().unwrap(), "{ctx}");
        allocated_total += fen(&row[8]);
    }
    assert_eq!(
        allocated_total, 5_166_000_000,
        "51,660,000.00 yuan allocated"
    );
    let model_unmatched: Vec<&serde_json::Value> = model["vouchers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| !v["unmatched_reason"].is_null())
        .collect();
    assert_eq!(unmatched.len(), model_unmatched.len());
    for v in model_unmatched {
        let row = &unmatched[v["voucher_no"].as_str().unwrap()];
        assert_eq!(fen(&row[9]), v["amount_fen"].as_i64().unwrap());
    }
}

#[test]
fn demo_formats_agree() {
    let csv_text = demo("csv", None);
    let json: serde_json::Value = serde_json::from_str(&demo("json", None)).unwrap();
    let table = demo("table", None);
    let mut rdr = csv::Reader::from_reader(csv_text.as_bytes());
    let records: Vec<csv::StringRecord> = rdr.records().map(Result::unwrap).collect();
    let rows = json["rows"].as_array().unwrap();
    assert_eq!(records.len(), rows.len());
    let mut allocated = 0;
    let mut disbursed = 0;
    for (rec, row) in records.iter().zip(rows) {
        assert_eq!(&rec[13], row["status"].as_str().unwrap());
        assert_eq!(&rec[9], row["disbursed"].as_str().unwrap());
        assert_eq!(&rec[8], row["allocated"].as_str().unwrap_or(""));
        if &rec[13] != "unmatched" {
            allocated += fen(&rec[8]);
            disbursed += fen(&rec[9]);
        }
    }
    assert_eq!(
        fen(json["totals"]["allocated"].as_str().unwrap()),
        allocated
    );
    assert_eq!(
        fen(json["totals"]["disbursed"].as_str().unwrap()),
        disbursed
    );
    let total_line = table
        .lines()
        .find(|l| l.starts_with("total"))
        .expect("table total line");
    let a = format!("{}.{:02}", allocated / 100, allocated % 100);
    let d = format!("{}.{:02}", disbursed / 100, disbursed % 100);
    assert!(
        total_line.contains(&a) && total_line.contains(&d),
        "{total_line}"
    );
    for status in ["settled", "late", "over", "overdue"] {
        let n = records.iter().filter(|r| &r[13] == status).count();
        assert_eq!(
            json["status_counts"][status].as_u64().unwrap() as usize,
            n,
            "{status}"
        );
    }
}

#[test]
fn demo_refuses_a_database_that_is_not_empty() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite:{}", dir.path().join("kept.db").display());
    demo("csv", Some(&db));
    let out = Command::new(env!("CARGO_BIN_EXE_fundledger"))
        .args(["demo", "--db", &db])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("needs an empty database"));
}

/// The demo's year-end report, CSV and table, against committed snapshots.
/// Regenerate deliberately with `UPDATE_SNAPSHOTS=1 cargo test -p fundledger --test demo`.
#[test]
fn demo_report_snapshots() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/snapshots");
    for (format, file) in [
        ("csv", "demo_reconcile_2020-12-31.csv"),
        ("table", "demo_reconcile_2020-12-31.txt"),
    ] {
        let got = demo(format, None);
        let path = format!("{dir}/{file}");
        if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
            std::fs::create_dir_all(dir).unwrap();
            std::fs::write(&path, &got).unwrap();
        }
        let want =
            std::fs::read_to_string(&path).unwrap_or_else(|_| panic!("missing snapshot {path}"));
        assert!(got == want, "demo {format} output differs from {path}; if the change is intended, regenerate with UPDATE_SNAPSHOTS=1");
    }
}
