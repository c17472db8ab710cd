//! The "xls" many web systems export: an HTML page holding a `<table>`.
//! Each table becomes a sheet ("table 1", "table 2", …); `colspan` and
//! `rowspan` are laid out as a spreadsheet lays out merged cells (the text in
//! the first cell, the others empty), and a row's number is its position in
//! its table.

use crate::context::EncodingChoice;
use crate::decode::{decode_error_of, detect_encoding, DecodingReader};
use crate::limits::{MAX_CELL_BYTES, MAX_COLUMNS};
use crate::table::{CellValue, RawRow};
use scraper::{ElementRef, Html, Selector};
use std::io::Read;

/// The page's text, decoded strictly as CSV files are: `--encoding`, or
/// UTF-8 (with or without BOM) if it is valid UTF-8, else GB18030.
pub(crate) fn decode(bytes: Vec<u8>, choice: EncodingChoice) -> Result<String, String> {
    let encoding = detect_encoding(choice, || Ok(bytes.as_slice())).map_err(|e| e.to_string())?;
    let mut text = String::new();
    DecodingReader::new(bytes.as_slice(), encoding)
        .read_to_string(&mut text)
        .map_err(|e| match decode_error_of(&e) {
            Some(d) => d.to_string(),
            None => e.to_string(),
        })?;
    Ok(text)
}

/// The page's tables (outermost first, in document order).
pub(crate) fn tables(text: &str) -> Result<Vec<(String, Vec<RawRow>)>, String> {
    let page = Html::parse_document(text);
    let table_sel = Selector::parse("table").expect("valid selector");
    let mut out = Vec::new();
    for (i, table) in page.select(&table_sel).enumerate() {
        out.push((format!("table {}", i + 1), table_rows(table)?));
    }
    if out.is_empty() {
        return Err(
            "this is an HTML page without a table: save the table itself as XLSX or CSV"
                .to_string(),
        );
    }
    Ok(out)
}

/// The `<tr>`s that belong to this table (not to a table nested in it).
fn own_rows(table: ElementRef<'_>) -> Vec<ElementRef<'_>> {
    let tr_sel = Selector::parse("tr").expect("valid selector");
    table
        .select(&tr_sel)
        .filter(|tr| {
            tr.ancestors()
                .filter_map(ElementRef::wrap)
                .find(|e| e.value().name() == "table")
                .is_some_and(|t| t.id() == table.id())
        })
        .collect()
}

fn table_rows(table: ElementRef<'_>) -> Result<Vec<RawRow>, String> {
    // Columns still covered by a rowspan from above: rows left to cover.
    let mut covered: Vec<u32> = Vec::new();
    let mut rows = Vec::new();
    for (index, tr) in own_rows(table).into_iter().enumerate() {
        let line = index as u64 + 1;
        let mut cells: Vec<CellValue> = Vec::new();
        let mut col = 0usize;
        for cell in tr.children().filter_map(ElementRef::wrap) {
            if !matches!(cell.value().name(), "td" | "th") {
                continue;
            }
            while covered.get(col).is_some_and(|&n| n > 0) {
                col += 1;
            }
            let span = |attr: &str| {
                cell.value()
                    .attr(attr)
                    .and_then(|v| v.trim().parse::<usize>().ok())
                    .unwrap_or(1)
                    .clamp(1, MAX_COLUMNS)
            };
            let (colspan, rowspan) = (span("colspan"), span("rowspan"));
            if col + colspan > MAX_COLUMNS {
                return Err(format!(
                    "table row {line} is wider than the limit of {MAX_COLUMNS} columns"
                ));
            }
            let text = cell_text(cell);
            if text.len() > MAX_CELL_BYTES {
                return Err(format!(
                    "table row {line}: a cell of {} bytes, more than the limit of {MAX_CELL_BYTES}",
                    text.len()
                ));
            }
            if cells.len() < col + colspan {
                cells.resize(col + colspan, CellValue::Empty);
            }
            if !text.is_empty() {
                cells[col] = CellValue::Text(text);
            }
            if covered.len() < col + colspan {
                covered.resize(col + colspan, 0);
            }
            for slot in &mut covered[col..col + colspan] {
                *slot = rowspan as u32;
            }
            col += colspan;
        }
        for slot in covered.iter_mut() {
            *slot = slot.saturating_sub(1);
        }
        rows.push(RawRow { line, cells });
    }
    Ok(rows)
}

/// A cell's text with runs of white space (line breaks, `&nbsp;`) as one space.
fn cell_text(cell: ElementRef<'_>) -> String {
    let joined: String = cell.text().collect();
    joined.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(rows: &[RawRow]) -> Vec<Vec<String>> {
        rows.iter()
            .map(|r| r.cells.iter().map(crate::cells::cell_text).collect())
            .collect()
    }

    #[test]
    fn spans_are_laid_out_like_merged_cells() {
        let page = r#"<html><body><p>单位：万元</p>
          <table border=1>
            <tr><th rowspan=2>序号</th><th rowspan="2">地区</th><th rowspan=2>合计</th><th colspan=2>其中：项目资金</th></tr>
            <tr><th>计生保险</th><th>三结合</th></tr>
            <tr><td>1</td><td>长沙市&nbsp;</td><td>1,000.00</td><td>400.00</td><td>600.00</td></tr>
          </table></body></html>"#;
        let tables = tables(page).unwrap();
        assert_eq!(tables.len(), 1);
        assert_eq!(tables[0].0, "table 1");
        assert_eq!(
            texts(&tables[0].1),
            vec![
                vec!["序号", "地区", "合计", "其中：项目资金", ""],
                vec!["", "", "", "计生保险", "三结合"],
                vec!["1", "长沙市", "1,000.00", "400.00", "600.00"],
            ]
        );
    }

    #[test]
    fn nested_tables_keep_their_own_rows() {
        let page = "<table><tr><td><table><tr><td>inner</td></tr></table></td></tr><tr><td>x</td></tr></table>";
        let tables = tables(page).unwrap();
        assert_eq!(tables.len(), 2);
        assert_eq!(tables[0].1.len(), 2);
        assert_eq!(texts(&tables[1].1), vec![vec!["inner"]]);
    }

    #[test]
    fn a_page_without_a_table_says_so() {
        let err = tables("<html><body><p>登录已过期</p></body></html>").unwrap_err();
        assert!(
            err.starts_with("this is an HTML page without a table"),
            "{err}"
        );
    }
}
