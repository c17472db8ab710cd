//! The 36号 attachment table again, in every container and layout bureaus
//! and web systems really send (issue 10), each of which must import to the
//! same ledger as `36_wide_wan.xlsx`; and the files that must be refused.
//! The `.xls` (BIFF8) copy is written by `scripts/gen_xls_fixture.py` from the
//! tab-separated one, because no Rust crate writes BIFF8.

use crate::hunan::Model;
use crate::hunan_files::{long_csv, wide_rows, Cell};
use crate::text::wan_text;
use anyhow::{Context, Result};
use std::io::Write;
use std::path::Path;

/// Rows of the preamble before the header in `wide_rows`.
const PREAMBLE_ROWS: usize = 5;

/// The header of `wide_rows` split over two rows: 序号/地区/合计 merged down,
/// the project names under a merged group heading.
pub fn two_level_rows(model: &Model) -> Vec<Vec<Cell>> {
    let mut rows = wide_rows(model);
    let header = rows[PREAMBLE_ROWS].clone();
    let mut top: Vec<Cell> = header[..3].to_vec();
    let mut bottom: Vec<Cell> = vec![Cell::Empty; 3];
    for (i, cell) in header[3..].iter().enumerate() {
        top.push(if i == 0 {
            Cell::Text("其中：项目资金".into())
        } else {
            Cell::Empty
        });
        bottom.push(cell.clone());
    }
    rows.splice(PREAMBLE_ROWS..=PREAMBLE_ROWS, [top, bottom]);
    rows
}

fn text_of(cell: &Cell) -> String {
    match cell {
        Cell::Empty => String::new(),
        Cell::Text(t) => t.clone(),
        Cell::Integer(n) => n.to_string(),
        Cell::Wan(amount) => wan_text(*amount),
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The table as a web system's "xls": an HTML page, the title lines as
/// full-width rows, the two-level header with rowspan/colspan.
pub fn html_xls(model: &Model) -> Vec<u8> {
    let rows = wide_rows(model);
    let width = rows[PREAMBLE_ROWS].len();
    let projects = width - 3;
    let mut html = String::from(
        "<html xmlns:x=\"urn:schemas-microsoft-com:office:excel\">\n<head><meta http-equiv=\"Content-Type\" content=\"text/html; charset=utf-8\"><title>分配表</title></head>\n<body>\n<table border=\"1\">\n",
    );
    for row in &rows[..PREAMBLE_ROWS] {
        html.push_str(&format!(
            "<tr><td colspan=\"{width}\">{}</td></tr>\n",
            escape(&text_of(&row[0]))
        ));
    }
    let header = &rows[PREAMBLE_ROWS];
    html.push_str("<tr>");
    for cell in &header[..3] {
        html.push_str(&format!(
            "<th rowspan=\"2\">{}</th>",
            escape(&text_of(cell))
        ));
    }
    html.push_str(&format!(
        "<th colspan=\"{projects}\">其中：项目资金</th></tr>\n<tr>"
    ));
    for cell in &header[3..] {
        html.push_str(&format!("<th>{}</th>", escape(&text_of(cell))));
    }
    html.push_str("</tr>\n");
    for row in &rows[PREAMBLE_ROWS + 1..] {
        html.push_str("<tr>");
        for cell in row {
            html.push_str(&format!("<td>{}</td>", escape(&text_of(cell))));
        }
        html.push_str("</tr>\n");
    }
    html.push_str("</table>\n</body>\n</html>\n");
    html.into_bytes()
}

/// The table as tab-separated GB18030 text with CRLF (another web "xls").
pub fn tab_xls(model: &Model) -> Vec<u8> {
    let mut text = String::new();
    for row in wide_rows(model) {
        let cells: Vec<String> = row.iter().map(text_of).collect();
        text.push_str(&cells.join("\t"));
        text.push_str("\r\n");
    }
    let (encoded, _, had_errors) = encoding_rs::GB18030.encode(&text);
    assert!(!had_errors, "every character of the table is in GB18030");
    encoded.into_owned()
}

/// An OpenDocument spreadsheet (LibreOffice, WPS), built by hand: numbers as
/// float cells, text as string cells.
pub fn ods(model: &Model) -> Result<Vec<u8>> {
    let mut content = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<office:document-content xmlns:office=\"urn:oasis:names:tc:opendocument:xmlns:office:1.0\" xmlns:table=\"urn:oasis:names:tc:opendocument:xmlns:table:1.0\" xmlns:text=\"urn:oasis:names:tc:opendocument:xmlns:text:1.0\" office:version=\"1.2\"><office:body><office:spreadsheet><table:table table:name=\"分配表\">\n",
    );
    for row in wide_rows(model) {
        content.push_str("<table:table-row>");
        for cell in &row {
            content.push_str(&ods_cell(cell));
        }
        content.push_str("</table:table-row>\n");
    }
    content
        .push_str("</table:table></office:spreadsheet></office:body></office:document-content>\n");
    let manifest = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<manifest:manifest xmlns:manifest=\"urn:oasis:names:tc:opendocument:xmlns:manifest:1.0\" manifest:version=\"1.2\"><manifest:file-entry manifest:full-path=\"/\" manifest:media-type=\"application/vnd.oasis.opendocument.spreadsheet\"/><manifest:file-entry manifest:full-path=\"content.xml\" manifest:media-type=\"text/xml\"/></manifest:manifest>\n";
    zip_of(&[
        ("mimetype", "application/vnd.oasis.opendocument.spreadsheet"),
        ("META-INF/manifest.xml", manifest),
        ("content.xml", &content),
    ])
}

fn ods_cell(cell: &Cell) -> String {
    match cell {
        Cell::Empty => "<table:table-cell/>".to_string(),
        Cell::Text(t) => format!(
            "<table:table-cell office:value-type=\"string\"><text:p>{}</text:p></table:table-cell>",
            escape(t)
        ),
        Cell::Integer(_) | Cell::Wan(_) => {
            let value = text_of(cell);
            format!(
                "<table:table-cell office:value-type=\"float\" office:value=\"{value}\"><text:p>{value}</text:p></table:table-cell>"
            )
        }
    }
}

/// A ZIP archive of stored entries with fixed times, so the bytes depend on
/// the contents alone.
fn zip_of(entries: &[(&str, &str)]) -> Result<Vec<u8>> {
    let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Stored)
        .last_modified_time(zip::DateTime::default());
    for (name, body) in entries {
        out.start_file(*name, options)?;
        out.write_all(body.as_bytes())?;
    }
    Ok(out.finish()?.into_inner())
}

/// Sheets of `Cell` rows as an XLSX workbook with fixed properties; `merges`
/// are (sheet, first_row, first_col, last_row, last_col).
fn xlsx_of(
    sheets: &[(&str, Vec<Vec<Cell>>)],
    merges: &[(usize, u32, u16, u32, u16)],
) -> Result<Vec<u8>> {
    use rust_xlsxwriter::{DocProperties, ExcelDateTime, Format, Workbook};
    let mut workbook = Workbook::new();
    let created = ExcelDateTime::from_ymd(2020, 3, 20)?.and_hms(9, 0, 0)?;
    workbook.set_properties(&DocProperties::new().set_creation_datetime(&created));
    let wan_format = Format::new().set_num_format("0.00");
    for (index, (name, rows)) in sheets.iter().enumerate() {
        let sheet = workbook.add_worksheet();
        sheet.set_name(*name)?;
        for &(_, r1, c1, r2, c2) in merges.iter().filter(|m| m.0 == index) {
            let text = match &rows[r1 as usize][c1 as usize] {
                Cell::Text(t) => t.clone(),
                _ => String::new(),
            };
            sheet.merge_range(r1, c1, r2, c2, &text, &Format::new())?;
        }
        for (r, row) in rows.iter().enumerate() {
            let r = u32::try_from(r)?;
            for (c, cell) in row.iter().enumerate() {
                let c = u16::try_from(c)?;
                let merged = merges
                    .iter()
                    .any(|m| m.0 == index && (m.1..=m.3).contains(&r) && (m.2..=m.4).contains(&c));
                match cell {
                    _ if merged => {}
                    Cell::Empty => {}
                    Cell::Text(text) => {
                        sheet.write_string(r, c, text)?;
                    }
                    Cell::Integer(n) => {
                        let ordinal_for_excel = *n as f64;
                        sheet.write_number(r, c, ordinal_for_excel)?;
                    }
                    Cell::Wan(amount) => {
                        let fen_for_excel = amount.as_i64() as f64;
                        sheet.write_number_with_format(
                            r,
                            c,
                            fen_for_excel / 1_000_000.0,
                            &wan_format,
                        )?;
                    }
                }
            }
        }
    }
    Ok(workbook.save_to_buffer()?)
}

/// The two-level header as Excel holds it: merged cells.
pub fn two_level_xlsx(model: &Model) -> Result<Vec<u8>> {
    let rows = two_level_rows(model);
    let last_col = u16::try_from(rows[PREAMBLE_ROWS].len() - 1)?;
    let (top, bottom) = (PREAMBLE_ROWS as u32, PREAMBLE_ROWS as u32 + 1);
    let merges = [
        (0, top, 0, bottom, 0),
        (0, top, 1, bottom, 1),
        (0, top, 2, bottom, 2),
        (0, top, 3, top, last_col),
    ];
    xlsx_of(&[("分配表", rows)], &merges)
}

fn cover_rows() -> Vec<Vec<Cell>> {
    [
        "湖南省财政厅",
        "关于下达2020年计划生育协会项目补助资金的通知",
        "湘财社指〔2020〕36号",
        "各市州财政局：现将2020年计划生育协会项目补助资金下达给你们，请按附件分配表拨付。",
    ]
    .iter()
    .map(|t| vec![Cell::Text((*t).to_string())])
    .collect()
}

/// A cover sheet first, the table on the second sheet.
pub fn cover_sheet_xlsx(model: &Model) -> Result<Vec<u8>> {
    xlsx_of(&[("封面", cover_rows()), ("分配表", wide_rows(model))], &[])
}

/// The 37号 long list with its header over two rows: 项目 above 项目编码 and
/// 项目名称, the other headings merged down.
pub fn long_two_level_csv(model: &Model) -> Result<Vec<u8>> {
    let text = String::from_utf8(long_csv(model)?)?;
    let mut lines: Vec<&str> = text.split_inclusive('\n').collect();
    let header = lines[1].trim_end();
    assert_eq!(
        header,
        "指标文号,下达日期,区划代码,地区名称,项目编码,项目名称,金额（元）,备注"
    );
    let two =
        "指标文号,下达日期,区划代码,地区名称,项目,,金额（元）,备注\n,,,,项目编码,项目名称,,\n";
    lines[1] = two;
    Ok(lines.concat().into_bytes())
}

/// Every variant that must import like `36_wide_wan.xlsx` (or, for the
/// long list, like `37_long.csv`), and every file that must be refused.
pub fn all_files(model: &Model) -> Result<Vec<(String, Vec<u8>)>> {
    Ok(vec![
        ("36_wide_wan.ods".into(), ods(model)?),
        ("36_html_table.xls".into(), html_xls(model)),
        ("36_tab_separated.xls".into(), tab_xls(model)),
        ("36_two_level_header.xlsx".into(), two_level_xlsx(model)?),
        ("36_cover_sheet.xlsx".into(), cover_sheet_xlsx(model)?),
        ("37_long_two_level.csv".into(), long_two_level_csv(model)?),
        ("bad_pdf_renamed.xls".into(), pdf_bytes()),
        (
            "bad_zip_not_workbook.xlsx".into(),
            zip_of(&[("说明.txt", "这是一个压缩包，不是表格。\n")])?,
        ),
        ("bad_html_without_table.xls".into(), html_without_table()),
        ("README.md".into(), README.as_bytes().to_vec()),
        (
            "bad_two_sheets.xlsx".into(),
            xlsx_of(
                &[("36号", wide_rows(model)), ("36号副本", wide_rows(model))],
                &[],
            )?,
        ),
    ])
}

const README: &str = "# 36号 and 37号 in every container and layout (generated — do not edit by hand)

The Hunan 2020 demo's 湘财社指〔2020〕36号 attachment table (`../hunan-2020/36_wide_wan.xlsx`)
and 37号 long list (`../hunan-2020/37_long.csv`), as bureaus and web systems also send
them. Each `36_*` file imports to exactly the same ledger as `36_wide_wan.xlsx`, and
`37_long_two_level.csv` as `37_long.csv` (`crates/cli/tests/inputs.rs`); each `bad_*`
file is refused with a message saying what it is. See docs/formats.md §1.

```
cargo run -p fundledger-devtools -- gen-variants --out fixtures/hunan-2020-variants
python3 scripts/gen_xls_fixture.py fixtures/hunan-2020-variants   # 36_wide_wan.xls, needs xlwt
```

| file | what it is |
|---|---|
| `36_wide_wan.xls` | Excel 97–2003 (BIFF8, OLE2), amounts as number cells; written by xlwt from `36_tab_separated.xls` |
| `36_wide_wan.ods` | OpenDocument spreadsheet, amounts as float cells |
| `36_html_table.xls` | a web system's \"xls\": an HTML page, title rows spanning the table, the header over two rows with rowspan/colspan |
| `36_tab_separated.xls` | another web \"xls\": tab-separated GB18030 text with CRLF |
| `36_two_level_header.xlsx` | 序号/地区/合计 merged over two rows, the projects under a merged `其中：项目资金` |
| `36_cover_sheet.xlsx` | a cover sheet first, the table on the second sheet (found without `--sheet`) |
| `37_long_two_level.csv` | 37号 with `项目` above `项目编码` and `项目名称` |
| `bad_pdf_renamed.xls` | a PDF named .xls |
| `bad_zip_not_workbook.xlsx` | a ZIP archive holding a text file |
| `bad_html_without_table.xls` | a web system's session-expired page |
| `bad_two_sheets.xlsx` | two sheets that both hold the table (refused without `--sheet`) |
";

/// A minimal one-page PDF (what a scanned or printed notice is).
fn pdf_bytes() -> Vec<u8> {
    b"%PDF-1.4\n1 0 obj <</Type /Catalog /Pages 2 0 R>> endobj\n2 0 obj <</Type /Pages /Kids [3 0 R] /Count 1>> endobj\n3 0 obj <</Type /Page /Parent 2 0 R /MediaBox [0 0 595 842]>> endobj\ntrailer <</Root 1 0 R>>\n%%EOF\n".to_vec()
}

/// What a web system sends when the session has expired.
fn html_without_table() -> Vec<u8> {
    "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>登录</title></head>\n<body><p>登录已超时，请重新登录后再导出。</p></body></html>\n"
        .as_bytes()
        .to_vec()
}

/// Writes every variant into `out` (the .xls copy comes from the script).
pub fn write_all(model: &Model, out: &Path) -> Result<()> {
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    for (name, bytes) in all_files(model)? {
        let path = out.join(&name);
        std::fs::write(&path, bytes).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}
