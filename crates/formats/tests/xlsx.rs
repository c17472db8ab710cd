//! XLSX input: a small workbook built here with the zip crate (inline strings,
//! numbers, a date-styled cell), read through the same readers as CSV.

use chrono::NaiveDate;
use fundledger_core::catalog::ProjectCatalog;
use fundledger_core::divisions::DivisionTable;
use fundledger_core::domain::IndicatorRow;
use fundledger_core::Fen;
use fundledger_formats::{open_indicators, ImportContext, ReadOptions, RowError};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A cell of the test sheet.
enum C<'a> {
    S(&'a str),
    N(f64),
    /// A number shown with a date format (style 1, numFmtId 14).
    D(f64),
}

fn col_name(i: usize) -> char {
    (b'A' + i as u8) as char
}

fn sheet_xml(rows: &[Vec<C<'_>>]) -> String {
    let mut xml = String::from(
        r#"<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>"#,
    );
    for (r, row) in rows.iter().enumerate() {
        xml.push_str(&format!(r#"<row r="{}">"#, r + 1));
        for (c, cell) in row.iter().enumerate() {
            let at = format!("{}{}", col_name(c), r + 1);
            match cell {
                C::S(t) => xml.push_str(&format!(
                    r#"<c r="{at}" t="inlineStr"><is><t>{t}</t></is></c>"#
                )),
                C::N(n) => xml.push_str(&format!(r#"<c r="{at}"><v>{n}</v></c>"#)),
                C::D(n) => xml.push_str(&format!(r#"<c r="{at}" s="1"><v>{n}</v></c>"#)),
            }
        }
        xml.push_str("</row>");
    }
    xml.push_str("</sheetData></worksheet>");
    xml
}

/// Write a workbook with the given sheets to `path`.
fn write_xlsx(path: &Path, sheets: &[(&str, Vec<Vec<C<'_>>>)]) {
    let file = std::fs::File::create(path).unwrap();
    let mut zip = zip::ZipWriter::new(file);
    let opts: zip::write::SimpleFileOptions =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    let mut put = |name: &str, body: &str| {
        zip.start_file(name, opts).unwrap();
        zip.write_all(body.as_bytes()).unwrap();
    };
    let mut overrides = String::new();
    let mut sheet_list = String::new();
    let mut rels = String::new();
    for (i, (name, _)) in sheets.iter().enumerate() {
        let n = i + 1;
        overrides.push_str(&format!(r#"<Override PartName="/xl/worksheets/sheet{n}.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>"#));
        sheet_list.push_str(&format!(
            r#"<sheet name="{name}" sheetId="{n}" r:id="rId{n}"/>"#
        ));
        rels.push_str(&format!(r#"<Relationship Id="rId{n}" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet{n}.xml"/>"#));
    }
    let styles_id = sheets.len() + 1;
    rels.push_str(&format!(r#"<Relationship Id="rId{styles_id}" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/>"#));
    put(
        "[Content_Types].xml",
        &format!(
            r#"<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>{overrides}</Types>"#
        ),
    );
    put(
        "_rels/.rels",
        r#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>"#,
    );
    put(
        "xl/workbook.xml",
        &format!(
            r#"<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets>{sheet_list}</sheets></workbook>"#
        ),
    );
    put(
        "xl/_rels/workbook.xml.rels",
        &format!(
            r#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">{rels}</Relationships>"#
        ),
    );
    put(
        "xl/styles.xml",
        r#"<?xml version="1.0" encoding="UTF-8"?><styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><cellXfs count="2"><xf numFmtId="0"/><xf numFmtId="14" applyNumberFormat="1"/></cellXfs></styleSheet>"#,
    );
    for (i, (_, rows)) in sheets.iter().enumerate() {
        put(
            &format!("xl/worksheets/sheet{}.xml", i + 1),
            &sheet_xml(rows),
        );
    }
    zip.finish().unwrap();
}

fn ctx(label: &str, sheet: Option<&str>) -> ImportContext {
    ImportContext {
        divisions: Arc::new(DivisionTable::builtin()),
        projects: Arc::new(ProjectCatalog::default_catalog()),
        options: ReadOptions {
            file_label: label.to_string(),
            sheet: sheet.map(str::to_string),
            ..ReadOptions::default()
        },
    }
}

fn workbook(dir: &Path) -> PathBuf {
    use C::*;
    let header = || {
        vec![
            S("指标文号"),
            S("下达日期"),
            S("区划代码"),
            S("地区名称"),
            S("项目编码"),
            S("金额"),
        ]
    };
    let long = vec![
        vec![S("单位：元")],
        header(),
        vec![
            S("粤财社〔2021〕40号"),
            D(44326.0),
            N(440203.0),
            S("武江区"),
            S("JS08"),
            N(100000.0),
        ],
        vec![
            S("粤财社〔2021〕40号"),
            N(44326.0),
            N(440105000.0),
            S("海珠区"),
            S("JS04"),
            N(36800.5),
        ],
        vec![
            S("粤财社〔2021〕40号"),
            S("2021-05-10"),
            N(440224.0),
            S("仁化县"),
            S("JS08"),
            N(0.123),
        ],
        vec![
            S("粤财社〔2021〕40号"),
            N(44326.5),
            N(440224.0),
            S("仁化县"),
            S("JS08"),
            N(1.0),
        ],
    ];
    let other = vec![
        vec![S("单位：万元")],
        header(),
        vec![
            S("粤财社〔2021〕41号"),
            D(44327.0),
            N(440203.0),
            S("武江区"),
            S("JS08"),
            N(3.68005),
        ],
    ];
    let path = dir.join("book.xlsx");
    write_xlsx(&path, &[("四十号", long), ("四十一号", other)]);
    path
}

#[test]
fn xlsx_numbers_dates_and_rejections() {
    let dir = tempfile::tempdir().unwrap();
    let path = workbook(dir.path());
    let items: Vec<Result<IndicatorRow, RowError>> =
        open_indicators(&path, &ctx("book.xlsx", Some("四十号")))
            .unwrap()
            .collect();
    let got: Vec<String> = items
        .iter()
        .map(|item| match item {
            Ok(IndicatorRow::Line(l)) => format!(
                "{} {} {} line {}",
                l.key,
                l.doc_date,
                l.amount.as_i64(),
                l.source.line
            ),
            Ok(IndicatorRow::Reduction(_)) => "reduction".to_string(),
            Err(e) => e.to_string(),
        })
        .collect();
    assert_eq!(
        got,
        vec![
            "粤财社〔2021〕40号/440203/JS08 2021-05-10 10000000 line 3",
            "粤财社〔2021〕40号/440105/JS04 2021-05-10 3680050 line 4",
            "book.xlsx:5: 金额: xlsx number 0.123 is not a whole number of fen (2 decimals at most in 元)",
            "book.xlsx:6: 下达日期: xlsx number 44326.5 is not a date serial number",
        ]
    );
}

#[test]
fn xlsx_sheet_by_name_and_missing_sheet() {
    let dir = tempfile::tempdir().unwrap();
    let path = workbook(dir.path());
    let rows: Vec<IndicatorRow> = open_indicators(&path, &ctx("book.xlsx", Some("四十一号")))
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    let IndicatorRow::Line(line) = &rows[0] else {
        panic!("not a line")
    };
    assert_eq!(line.amount, Fen::new(3_680_050));
    assert_eq!(line.doc_date, NaiveDate::from_ymd_opt(2021, 5, 11).unwrap());
    // Recognised by its ZIP magic bytes when the extension says nothing.
    let renamed = dir.path().join("book.dat");
    std::fs::copy(&path, &renamed).unwrap();
    let again: Vec<IndicatorRow> = open_indicators(&renamed, &ctx("book.dat", Some("四十一号")))
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    let expected: Vec<IndicatorRow> = rows.iter().map(|r| with_file(r, "book.dat")).collect();
    assert_eq!(again, expected);
    // Both sheets hold a header: without --sheet, no guess.
    let err = open_indicators(&path, &ctx("book.xlsx", None))
        .err()
        .unwrap();
    assert_eq!(
        err.to_string(),
        "book.xlsx: sheets `四十号`, `四十一号` each hold a recognised header: choose one with --sheet NAME"
    );
    let err = open_indicators(&path, &ctx("book.xlsx", Some("汇总")))
        .err()
        .unwrap();
    assert_eq!(
        err.to_string(),
        "book.xlsx: no sheet named `汇总`; the workbook has: 四十号, 四十一号"
    );
}

fn with_file(row: &IndicatorRow, file: &str) -> IndicatorRow {
    let mut row = row.clone();
    match &mut row {
        IndicatorRow::Line(l) => l.source.file = file.to_string(),
        IndicatorRow::Reduction(r) => r.source.file = file.to_string(),
    }
    row
}

#[test]
fn xlsx_sheet_discovery_without_sheet_option() {
    use C::S;
    let dir = tempfile::tempdir().unwrap();
    let cover = || vec![vec![S("湖南省财政厅")], vec![S("湘财社指〔2020〕36号")]];
    // No sheet holds a header: say which were looked at.
    let none = dir.path().join("none.xlsx");
    write_xlsx(&none, &[("封面", cover()), ("说明", cover())]);
    let err = open_indicators(&none, &ctx("none.xlsx", None))
        .err()
        .unwrap();
    assert!(
        err.to_string().starts_with(
            "none.xlsx: no sheet has a header row in its first 11 non-blank lines (looked at: 封面, 说明; expected"
        ),
        "{err}"
    );
    // A cover sheet first, the table second: the table's sheet is used.
    let header = || {
        [
            "指标文号",
            "下达日期",
            "区划代码",
            "地区名称",
            "项目编码",
            "金额",
        ]
        .into_iter()
        .map(S)
        .collect::<Vec<_>>()
    };
    let with_cover = dir.path().join("cover.xlsx");
    let table = vec![
        vec![S("单位：元")],
        header(),
        vec![
            S("粤财社〔2021〕41号"),
            S("2021-05-11"),
            S("440203"),
            S("武江区"),
            S("JS08"),
            S("36800.50"),
        ],
    ];
    write_xlsx(&with_cover, &[("封面", cover()), ("分配表", table)]);
    let rows: Vec<_> = open_indicators(&with_cover, &ctx("cover.xlsx", None))
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    assert_eq!(rows.len(), 1);
}
