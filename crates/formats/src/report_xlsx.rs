//! `reconcile --format xlsx`: the workbook an officer sends up. Sheets 汇总
//! (the roll-up of the table report), one per prefecture (its lines), 异常
//! (overdue, over, late, unmatched). Built from the same [`ReportRow`]s as
//! csv, json, table and html, so the five never disagree.
//!
//! Amounts are numeric cells formatted `#,##0.00`; a cell's double is parsed
//! from the amount's exact decimal text, never computed in floating point.
//! Rates are percentages from the exact basis points, dates are date cells.

use crate::labels::{Labels, ReportMeta};
use crate::report::{
    fen_grouped, is_exception, rate_basis_points, rollup, ReportRow, Rollup, RollupRow,
    LINE_STATUSES,
};
use chrono::{Datelike, NaiveDate};
use fundledger_core::divisions::DivisionTable;
use fundledger_core::reconcile::Status;
use fundledger_core::{Fen, RegionCode};
use rust_xlsxwriter::{
    DocProperties, ExcelDateTime, Format, FormatAlign, FormatBorder, Workbook, Worksheet, XlsxError,
};
use unicode_width::UnicodeWidthStr;

/// The workbook could not be built (a library limit, e.g. a sheet name).
#[derive(Debug, thiserror::Error)]
#[error("building the workbook: {0}")]
pub struct XlsxReportError(#[from] XlsxError);

/// Rows above the column headers: the heading, then filters and chain head.
const TITLE_ROWS: u32 = 2;
/// The row of the column headers (0-based); data starts below it.
const HEADER_ROW: u32 = TITLE_ROWS;
/// A4 in Excel's paper size table.
const PAPER_A4: u8 = 9;

/// One cell of a report sheet, typed so it gets the right number format.
#[derive(Clone, Debug)]
enum Cell {
    Text(String),
    Int(i64),
    Amount(Fen),
    /// Basis points (1/100 %); None when nothing was allocated.
    Rate(Option<i128>),
    Date(Option<NaiveDate>),
}

impl Cell {
    /// What a reader sees, for column widths.
    fn display_width(&self) -> usize {
        match self {
            Cell::Text(t) => t.width(),
            Cell::Int(n) => n.to_string().len(),
            Cell::Amount(a) => fen_grouped(*a).len(),
            // "100.00%" and an ISO date, with room to breathe beside each other.
            Cell::Rate(_) => 9,
            Cell::Date(_) => 11,
        }
    }
}

/// The double of an amount cell, from its exact decimal text. Up to 15
/// significant digits survive a double unchanged, so the cell shows (and
/// calamine reads back) exactly the fen.
fn amount_value(amount: Fen) -> f64 {
    assert!(
        amount.as_i64().unsigned_abs() < 10u64.pow(15),
        "amount {amount} has more digits than a spreadsheet number keeps"
    );
    amount
        .to_string()
        .parse()
        .expect("a Fen prints as a decimal number")
}

/// A rate in basis points as a spreadsheet fraction (87.21 % → 0.8721).
fn rate_value(basis_points: i128) -> f64 {
    let sign = if basis_points < 0 { "-" } else { "" };
    let bp = basis_points.abs();
    format!("{sign}{}.{:04}", bp / 10_000, bp % 10_000)
        .parse()
        .expect("a decimal fraction")
}

fn excel_date(d: NaiveDate) -> Result<ExcelDateTime, XlsxError> {
    let year = u16::try_from(d.year()).map_err(|_| XlsxError::DateTimeRangeError(d.to_string()))?;
    ExcelDateTime::from_ymd(year, d.month() as u8, d.day() as u8)
}

/// The cell formats of one workbook, plain and for the total row.
struct Styles {
    title: Format,
    meta: Format,
    header: Format,
    text: Format,
    int: Format,
    amount: Format,
    rate: Format,
    date: Format,
    total_text: Format,
    total_int: Format,
    total_amount: Format,
    total_rate: Format,
}

impl Styles {
    fn new() -> Styles {
        let total = |f: Format| f.set_bold().set_border_top(FormatBorder::Thin);
        let amount = Format::new().set_num_format("#,##0.00");
        let rate = Format::new().set_num_format("0.00%");
        let int = Format::new().set_num_format("0");
        Styles {
            title: Format::new().set_bold().set_font_size(13),
            meta: Format::new().set_font_size(9).set_font_color("#444444"),
            header: Format::new()
                .set_bold()
                .set_text_wrap()
                .set_align(FormatAlign::Center)
                .set_align(FormatAlign::VerticalCenter)
                .set_background_color("#DDE5F0")
                .set_border_bottom(FormatBorder::Thin),
            text: Format::new(),
            date: Format::new()
                .set_num_format("yyyy-mm-dd")
                .set_align(FormatAlign::Left),
            total_text: total(Format::new()),
            total_int: total(int.clone()),
            total_amount: total(amount.clone()),
            total_rate: total(rate.clone()),
            int,
            amount,
            rate,
        }
    }
}

/// A sheet's content: its headers, rows and optional total row.
struct SheetData {
    name: String,
    subtitle: String,
    headers: Vec<&'static str>,
    rows: Vec<Vec<Cell>>,
    total: Option<Vec<Cell>>,
    /// Rows written after a blank row below the table (notes with figures).
    notes: Vec<Vec<Cell>>,
}

fn write_cell(
    ws: &mut Worksheet,
    row: u32,
    col: u16,
    cell: &Cell,
    s: &Styles,
    total: bool,
) -> Result<(), XlsxError> {
    let pick = |plain: &Format, bold: &'_ Format| -> Format {
        if total {
            bold.clone()
        } else {
            plain.clone()
        }
    };
    match cell {
        // A total row's empty cells still carry its rule.
        Cell::Text(t) if t.is_empty() && total => {
            ws.write_blank(row, col, &s.total_text)?;
        }
        Cell::Text(t) if t.is_empty() => {}
        Cell::Text(t) => {
            ws.write_string_with_format(row, col, t, &pick(&s.text, &s.total_text))?;
        }
        Cell::Int(n) => {
            // Counts and years are small integers: exact in a double.
            ws.write_number_with_format(row, col, *n as f64, &pick(&s.int, &s.total_int))?;
        }
        Cell::Amount(a) => {
            ws.write_number_with_format(
                row,
                col,
                amount_value(*a),
                &pick(&s.amount, &s.total_amount),
            )?;
        }
        Cell::Rate(Some(bp)) => {
            ws.write_number_with_format(row, col, rate_value(*bp), &pick(&s.rate, &s.total_rate))?;
        }
        Cell::Rate(None) | Cell::Date(None) if total => {
            ws.write_blank(row, col, &s.total_text)?;
        }
        Cell::Rate(None) | Cell::Date(None) => {}
        Cell::Date(Some(d)) => {
            ws.write_date_with_format(row, col, excel_date(*d)?, &s.date)?;
        }
    }
    Ok(())
}

/// Widths by display width (a Chinese character counts two), within bounds.
fn column_widths(data: &SheetData) -> Vec<f64> {
    let mut widths: Vec<usize> = data.headers.iter().map(|h| h.width()).collect();
    let all = data.rows.iter().chain(data.total.iter());
    for row in all {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.display_width());
        }
    }
    widths
        .into_iter()
        .map(|w| (w + 2).clamp(6, 48) as f64)
        .collect()
}

fn write_sheet(
    wb: &mut Workbook,
    data: &SheetData,
    meta: &ReportMeta,
    s: &Styles,
) -> Result<(), XlsxError> {
    let l = meta.labels();
    let ws = wb.add_worksheet();
    ws.set_name(&data.name)?;
    ws.write_string_with_format(
        0,
        0,
        format!("{} · {}", meta.heading(), data.subtitle),
        &s.title,
    )?;
    let meta_line = format!("{} · {}", meta.filters_line(), meta.chain_line());
    ws.write_string_with_format(1, 0, meta_line, &s.meta)?;
    for (col, h) in data.headers.iter().enumerate() {
        ws.write_string_with_format(HEADER_ROW, col as u16, *h, &s.header)?;
    }
    let mut row = HEADER_ROW;
    for cells in &data.rows {
        row += 1;
        for (col, c) in cells.iter().enumerate() {
            write_cell(ws, row, col as u16, c, s, false)?;
        }
    }
    let last_data_row = row;
    if let Some(total) = &data.total {
        row += 1;
        for (col, c) in total.iter().enumerate() {
            write_cell(ws, row, col as u16, c, s, true)?;
        }
    }
    row += 1;
    for cells in &data.notes {
        row += 1;
        for (col, c) in cells.iter().enumerate() {
            write_cell(ws, row, col as u16, c, s, false)?;
        }
    }
    let last_col = (data.headers.len() - 1) as u16;
    for (col, w) in column_widths(data).into_iter().enumerate() {
        ws.set_column_width(col as u16, w)?;
    }
    ws.set_row_height(HEADER_ROW, 30)?;
    ws.set_freeze_panes(HEADER_ROW + 1, 0)?;
    ws.autofilter(HEADER_ROW, 0, last_data_row, last_col)?;
    ws.set_landscape();
    ws.set_paper_size(PAPER_A4);
    ws.set_print_fit_to_pages(1, 0);
    ws.set_repeat_rows(0, HEADER_ROW)?;
    ws.set_footer(format!("&C{}", l.page_footer));
    Ok(())
}

fn summary_cells(r: &RollupRow, l: &Labels) -> Vec<Cell> {
    let (code, name) = match r.prefecture {
        Some(p) => (p.to_string(), r.name.clone()),
        None => (l.total.to_string(), String::new()),
    };
    let mut cells = vec![
        Cell::Text(code),
        Cell::Text(name),
        Cell::Int(r.lines as i64),
        Cell::Amount(r.allocated),
        Cell::Amount(r.disbursed),
        Cell::Amount(r.outstanding),
        Cell::Rate(rate_basis_points(r.disbursed, r.allocated)),
    ];
    cells.extend(
        LINE_STATUSES
            .iter()
            .map(|st| Cell::Int(r.count(*st) as i64)),
    );
    cells
}

fn summary_sheet(roll: &Rollup, l: &Labels) -> SheetData {
    let mut headers = vec![
        l.prefecture_code,
        l.prefecture,
        l.lines,
        l.allocated,
        l.disbursed,
        l.outstanding,
        l.rate,
    ];
    headers.extend(LINE_STATUSES.iter().map(|st| l.status(*st)));
    let mut unmatched = vec![
        Cell::Text(l.unmatched_vouchers.into()),
        Cell::Text(String::new()),
    ];
    unmatched.push(Cell::Int(roll.unmatched_count as i64));
    unmatched.push(Cell::Text(String::new()));
    unmatched.push(Cell::Amount(roll.unmatched_disbursed));
    SheetData {
        name: l.summary_sheet.to_string(),
        subtitle: l.summary_sheet.to_string(),
        headers,
        rows: roll
            .prefectures
            .iter()
            .map(|r| summary_cells(r, l))
            .collect(),
        total: Some(summary_cells(&roll.total, l)),
        notes: if roll.unmatched_count > 0 {
            vec![unmatched]
        } else {
            Vec::new()
        },
    }
}

fn line_headers(l: &Labels) -> Vec<&'static str> {
    vec![
        l.fiscal_year,
        l.origin_year,
        l.doc_no,
        l.doc_date,
        l.region_code,
        l.region,
        l.project_code,
        l.project,
        l.allocated,
        l.disbursed,
        l.outstanding,
        l.rate,
        l.due_date,
        l.settled_on,
        l.status,
    ]
}

fn line_cells(r: &ReportRow, l: &Labels) -> Vec<Cell> {
    let allocated = r.allocated.unwrap_or(Fen::ZERO);
    vec![
        Cell::Int(i64::from(r.fiscal_year)),
        r.origin_year
            .map_or(Cell::Text(String::new()), |y| Cell::Int(i64::from(y))),
        Cell::Text(r.doc_no.clone().unwrap_or_default()),
        Cell::Date(r.doc_date),
        Cell::Text(r.region.to_string()),
        Cell::Text(r.region_name.clone()),
        Cell::Text(r.project.to_string()),
        Cell::Text(r.project_name.clone()),
        Cell::Amount(allocated),
        Cell::Amount(r.disbursed),
        Cell::Amount(r.outstanding.unwrap_or(Fen::ZERO)),
        Cell::Rate(rate_basis_points(r.disbursed, allocated)),
        Cell::Date(r.due_date),
        Cell::Date(r.settled_on),
        Cell::Text(l.status(r.status).into()),
    ]
}

fn line_total_cells(t: &RollupRow, l: &Labels) -> Vec<Cell> {
    let mut cells = vec![Cell::Text(l.total.into())];
    cells.extend((1..8).map(|_| Cell::Text(String::new())));
    cells.extend([
        Cell::Amount(t.allocated),
        Cell::Amount(t.disbursed),
        Cell::Amount(t.outstanding),
        Cell::Rate(rate_basis_points(t.disbursed, t.allocated)),
    ]);
    cells
}

/// A valid, unique sheet name for a prefecture: its name, else its code.
fn sheet_name(p: &RollupRow, taken: &[String]) -> String {
    let code = p.prefecture.map(|c| c.to_string()).unwrap_or_default();
    let cleaned: String = p
        .name
        .chars()
        .map(|c| if "[]:*?/\\'".contains(c) { '_' } else { c })
        .take(24)
        .collect();
    let base = if cleaned.is_empty() {
        code.clone()
    } else {
        cleaned
    };
    let clash = |n: &str| taken.iter().any(|t| t.to_lowercase() == n.to_lowercase());
    if clash(&base) {
        format!("{base} {code}")
    } else {
        base
    }
}

fn prefecture_sheets(rows: &[ReportRow], roll: &Rollup, l: &Labels) -> Vec<SheetData> {
    let mut taken = vec![l.summary_sheet.to_string(), l.exceptions_sheet.to_string()];
    let mut sheets = Vec::new();
    for p in &roll.prefectures {
        let code: Option<RegionCode> = p.prefecture;
        let mine: Vec<Vec<Cell>> = rows
            .iter()
            .filter(|r| r.status != Status::Unmatched && Some(r.region.prefecture_group()) == code)
            .map(|r| line_cells(r, l))
            .collect();
        let name = sheet_name(p, &taken);
        taken.push(name.clone());
        sheets.push(SheetData {
            subtitle: format!(
                "{} {}",
                code.map(|c| c.to_string()).unwrap_or_default(),
                p.name
            ),
            name,
            headers: line_headers(l),
            rows: mine,
            total: Some(line_total_cells(p, l)),
            notes: Vec::new(),
        });
    }
    sheets
}

fn exception_cells(r: &ReportRow, l: &Labels) -> Vec<Cell> {
    let note = match (r.reason, r.settled_on) {
        (Some(reason), _) => l.reason(reason),
        (None, Some(d)) => l.settled_note(d),
        _ => String::new(),
    };
    let opt_amount = |a: Option<Fen>| a.map_or(Cell::Text(String::new()), Cell::Amount);
    vec![
        Cell::Text(l.status(r.status).into()),
        Cell::Int(i64::from(r.fiscal_year)),
        Cell::Text(r.region.to_string()),
        Cell::Text(r.region_name.clone()),
        Cell::Text(r.project.to_string()),
        Cell::Text(r.project_name.clone()),
        Cell::Text(r.doc_no.clone().unwrap_or_default()),
        Cell::Text(r.voucher_no.clone().unwrap_or_default()),
        opt_amount(r.allocated),
        Cell::Amount(r.disbursed),
        opt_amount(r.outstanding),
        Cell::Date(r.due_date),
        Cell::Date(r.settled_on),
        Cell::Date(r.paid_on),
        Cell::Text(note),
    ]
}

fn exceptions_sheet(rows: &[ReportRow], l: &Labels) -> SheetData {
    SheetData {
        name: l.exceptions_sheet.to_string(),
        subtitle: format!("{}（{}）", l.exceptions_sheet, l.exceptions_note),
        headers: vec![
            l.status,
            l.fiscal_year,
            l.region_code,
            l.region,
            l.project_code,
            l.project,
            l.doc_no,
            l.voucher_no,
            l.allocated,
            l.disbursed,
            l.outstanding,
            l.due_date,
            l.settled_on,
            l.paid_on,
            l.note,
        ],
        rows: rows
            .iter()
            .filter(|r| is_exception(r.status))
            .map(|r| exception_cells(r, l))
            .collect(),
        total: None,
        notes: Vec::new(),
    }
}

/// The whole workbook as bytes. The same rows and meta give the same bytes:
/// the document's creation time is the report date, not the clock.
pub fn reconcile_xlsx(
    rows: &[ReportRow],
    divisions: &DivisionTable,
    meta: &ReportMeta,
) -> Result<Vec<u8>, XlsxReportError> {
    let l = meta.labels();
    let roll = rollup(rows, divisions, meta.as_of);
    let styles = Styles::new();
    let mut wb = Workbook::new();
    let created = excel_date(meta.as_of)?;
    wb.set_properties(
        &DocProperties::new()
            .set_title(meta.heading())
            .set_comment(meta.chain_line())
            .set_creation_datetime(&created),
    );
    let mut sheets = vec![summary_sheet(&roll, l)];
    sheets.extend(prefecture_sheets(rows, &roll, l));
    sheets.push(exceptions_sheet(rows, l));
    for data in &sheets {
        write_sheet(&mut wb, data, meta, &styles)?;
    }
    Ok(wb.save_to_buffer()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amount_cells_are_the_exact_decimal() {
        let check = |fen: i64, want: f64| assert_eq!(amount_value(Fen::new(fen)), want, "{fen}");
        check(0, 0.0);
        check(1, 0.01);
        check(123_450, 1234.5);
        check(5_166_000_000, 51_660_000.0);
        check(-2_000_000, -20_000.0);
        check(99_999_999_999_999, 999_999_999_999.99);
    }

    #[test]
    fn rates_are_fractions_of_the_exact_basis_points() {
        let check = |bp: i128, want: f64| assert_eq!(rate_value(bp), want, "{bp}");
        check(8721, 0.8721);
        check(10_000, 1.0);
        check(12_000, 1.2);
        check(0, 0.0);
        check(-150, -0.015);
    }

    #[test]
    fn sheet_names_are_valid_and_unique() {
        let p = |code: u32, name: &str| RollupRow {
            prefecture: Some(RegionCode::parse(&code.to_string()).unwrap()),
            name: name.into(),
            ..RollupRow::default()
        };
        let taken = vec!["汇总".to_string(), "异常".to_string()];
        assert_eq!(sheet_name(&p(430100, "长沙市"), &taken), "长沙市");
        assert_eq!(sheet_name(&p(430100, ""), &taken), "430100");
        assert_eq!(sheet_name(&p(430100, "a/b:c"), &taken), "a_b_c");
        assert_eq!(sheet_name(&p(430100, "汇总"), &taken), "汇总 430100");
    }
}
