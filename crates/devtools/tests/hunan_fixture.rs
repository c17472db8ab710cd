//! The checked-in demo must be exactly what the generator writes now, and its
//! files must add up when read back as a bureau's files (not from the model).

use fundledger_core::{Fen, Unit};
use fundledger_devtools::hunan::Model;
use fundledger_devtools::hunan_files::{self, LONG_CSV, WIDE_CSV, WIDE_XLSX};
use fundledger_devtools::reference::hunan_prefectures_2020;
use rust_decimal::Decimal;
use std::path::PathBuf;
use std::str::FromStr;

const REGENERATE: &str = "cargo run -p fundledger-devtools -- gen-hunan --out fixtures/hunan-2020";

fn fixture_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/hunan-2020")
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(fixture_dir().join(name))
        .unwrap_or_else(|e| panic!("{name}: {e}; run {REGENERATE}"))
}

fn sorted_names(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn checked_in_fixture_is_byte_identical_to_a_fresh_run() {
    let out = tempfile::tempdir().unwrap();
    hunan_files::write_all(&Model::build(), out.path()).unwrap();
    assert_eq!(
        sorted_names(out.path()),
        sorted_names(&fixture_dir()),
        "file set differs; run {REGENERATE}"
    );
    for name in sorted_names(out.path()) {
        let fresh = std::fs::read(out.path().join(&name)).unwrap();
        assert!(fresh == fixture(&name), "{name} is stale; run {REGENERATE}");
    }
}

#[test]
fn two_runs_are_byte_identical() {
    let first = hunan_files::all_files(&Model::build()).unwrap();
    let second = hunan_files::all_files(&Model::build()).unwrap();
    assert_eq!(first, second);
}

/// Amount text as bureaus write it (`1,234.50`, `(1,234.50)`, `-12`) to fen.
fn fen(text: &str, unit: Unit) -> Fen {
    let (negative, body) = match text.strip_prefix('(').and_then(|t| t.strip_suffix(')')) {
        Some(inner) => (true, inner),
        None => (false, text),
    };
    let value = Decimal::from_str(&body.replace(',', "")).unwrap_or_else(|e| panic!("{text}: {e}"));
    let amount = Fen::from_decimal(value, unit).unwrap();
    if negative {
        amount.checked_neg().unwrap()
    } else {
        amount
    }
}

fn wide_csv_rows() -> Vec<Vec<String>> {
    let bytes = fixture(WIDE_CSV);
    let (text, had_errors) = encoding_rs::GB18030.decode_without_bom_handling(&bytes);
    assert!(!had_errors, "36号 CSV is valid GB18030");
    csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes())
        .records()
        .map(|r| r.unwrap().iter().map(str::to_string).collect())
        .collect()
}

fn amount_cells(row: &[String]) -> Vec<Fen> {
    row[2..]
        .iter()
        .map(|c| {
            if c.is_empty() {
                Fen::ZERO
            } else {
                fen(c, Unit::Wan)
            }
        })
        .collect()
}

fn add(a: &mut [Fen], b: &[Fen]) {
    for (x, y) in a.iter_mut().zip(b) {
        *x = x.checked_add(*y).unwrap();
    }
}

#[test]
fn wide_table_adds_up_row_by_row_and_block_by_block() {
    let rows = wide_csv_rows();
    let header = rows.iter().position(|r| r[0] == "序号").unwrap();
    assert!(rows[..header].iter().any(|r| r[0] == "单位：万元"));
    assert!(rows[..header].iter().any(|r| r[0] == "2020年3月20日"));
    let body = &rows[header + 1..];
    assert_eq!(body[0][1], "合计");
    let columns = rows[header].len() - 2;
    let mut leaves = vec![Fen::ZERO; columns];
    let mut block: Option<(Vec<Fen>, Vec<Fen>)> = None;
    let close = |block: &mut Option<(Vec<Fen>, Vec<Fen>)>| {
        if let Some((stated, children)) = block.take() {
            assert_eq!(stated, children, "subtotal = sum of its children");
        }
    };
    for row in &body[1..] {
        let cells = amount_cells(row);
        let projects = Fen::checked_sum(cells[1..].iter().copied()).unwrap();
        assert_eq!(
            cells[0], projects,
            "row {:?}: 合计 = sum of projects",
            row[1]
        );
        let is_county = row[0].bytes().all(|b| b.is_ascii_digit());
        if is_county {
            add(&mut block.as_mut().unwrap().1, &cells);
            add(&mut leaves, &cells);
        } else {
            close(&mut block);
            block = Some((cells, vec![Fen::ZERO; columns]));
        }
    }
    close(&mut block);
    assert_eq!(amount_cells(&body[0]), leaves, "合计 row = sum of leaves");
    assert_eq!(leaves[0], Fen::new(4_166_000_000));
}

fn long_rows() -> Vec<Vec<String>> {
    let bytes = fixture(LONG_CSV);
    let text = std::str::from_utf8(&bytes).unwrap();
    csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes())
        .records()
        .skip(2)
        .map(|r| r.unwrap().iter().map(str::to_string).collect())
        .collect()
}

#[test]
fn documents_36_and_37_total_exactly_51_66_million() {
    let wide = wide_csv_rows();
    let total_row = wide.iter().find(|r| r.len() > 1 && r[1] == "合计").unwrap();
    let wide_total = fen(&total_row[2], Unit::Wan);
    let long = long_rows();
    let (total_row, lines) = long.split_last().unwrap();
    assert_eq!(total_row[3], "合计");
    let long_total = Fen::checked_sum(lines.iter().map(|r| fen(&r[6], Unit::Yuan))).unwrap();
    assert_eq!(fen(&total_row[6], Unit::Yuan), long_total);
    assert_eq!(
        wide_total.checked_add(long_total).unwrap(),
        Fen::new(5_166_000_000)
    );
    assert_eq!(Model::build().total_allocated(), Fen::new(5_166_000_000));
}

#[test]
fn every_hunan_county_and_prefecture_appears_under_its_official_name() {
    let names: Vec<String> = wide_csv_rows()
        .into_iter()
        .filter(|r| r.len() > 1)
        .map(|r| r[1].clone())
        .collect();
    for prefecture in hunan_prefectures_2020() {
        let own = format!("{}本级", prefecture.name);
        let heading = format!("{}小计", prefecture.name);
        assert!(names.contains(&own), "{own}");
        assert!(
            names.contains(&prefecture.name) || names.contains(&heading),
            "{}",
            prefecture.name
        );
        for county in &prefecture.counties {
            assert!(
                names.contains(&county.name),
                "{} {}",
                county.code,
                county.name
            );
        }
    }
    assert_eq!(names.iter().filter(|n| n.ends_with("本级")).count(), 14);
}

#[test]
fn xlsx_holds_the_same_cells_as_the_gb18030_csv() {
    use calamine::{Data, Reader, Xlsx};
    let mut workbook: Xlsx<_> = calamine::open_workbook(fixture_dir().join(WIDE_XLSX)).unwrap();
    let range = workbook.worksheet_range_at(0).unwrap().unwrap();
    assert_eq!(range.start(), Some((0, 0)));
    let csv_rows = wide_csv_rows();
    assert_eq!(range.height(), csv_rows.len());
    let header = csv_rows.iter().position(|r| r[0] == "序号").unwrap();
    for (r, (xlsx_row, csv_row)) in range.rows().zip(&csv_rows).enumerate() {
        for (c, cell) in xlsx_row.iter().enumerate() {
            let text = csv_row.get(c).map(String::as_str).unwrap_or("");
            match cell {
                Data::Empty => assert_eq!(text, "", "({r},{c})"),
                Data::String(s) => assert_eq!(s, text, "({r},{c})"),
                Data::Float(excel_value) if r > header && c >= 2 => {
                    // xlsx numeric cell in 万元: round to fen at once.
                    let fen_from_excel = (excel_value * 1_000_000.0).round() as i64;
                    assert_eq!(Fen::new(fen_from_excel), fen(text, Unit::Wan), "({r},{c})");
                }
                Data::Float(excel_ordinal) => {
                    assert_eq!(format!("{excel_ordinal}"), text, "({r},{c})");
                }
                other => panic!("({r},{c}): unexpected xlsx cell {other:?}"),
            }
        }
    }
}

#[test]
fn disbursement_files_add_up_to_the_model_and_stay_below_allocations() {
    let model = Model::build();
    let mut total = Fen::ZERO;
    let mut voucher_numbers: Vec<String> = Vec::new();
    for month in 1..=12 {
        let name = hunan_files::disbursement_file_name(month);
        let bytes = fixture(&name);
        let text =
            std::str::from_utf8(bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes)).unwrap();
        let rows: Vec<Vec<String>> = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(text.as_bytes())
            .records()
            .map(|r| r.unwrap().iter().map(str::to_string).collect())
            .collect();
        let header = rows.iter().position(|r| r[0].contains("凭证号")).unwrap();
        let amount_column = rows[header]
            .iter()
            .position(|h| h.contains("金额"))
            .unwrap();
        let unit = if rows[header][amount_column].contains("万元") {
            Unit::Wan
        } else {
            Unit::Yuan
        };
        for row in &rows[header + 1..] {
            total = total.checked_add(fen(&row[amount_column], unit)).unwrap();
            voucher_numbers.push(row[0].clone());
        }
    }
    assert_eq!(total, model.total_disbursed());
    assert!(total <= Fen::new(5_166_000_000));
    let count = voucher_numbers.len();
    voucher_numbers.sort();
    voucher_numbers.dedup();
    assert_eq!(
        voucher_numbers.len(),
        count,
        "voucher numbers unique across files"
    );
    assert_eq!(count, model.vouchers.len());
}
