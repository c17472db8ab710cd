//! The reconciliation report's rows (SPEC §5 output contract) and its CSV.
//! One row model feeds csv, json and table, so the three always agree.

use chrono::NaiveDate;
use fundledger_core::catalog::ProjectCatalog;
use fundledger_core::divisions::DivisionTable;
use fundledger_core::reconcile::{Report, Status};
use fundledger_core::{Fen, ProjectCode, RegionCode};

/// The CSV header other programs parse: exactly these columns, this order.
pub(crate) const RECONCILE_HEADER: [&str; 15] = [
    "fiscal_year",
    "origin_year",
    "doc_no",
    "doc_date",
    "region_code",
    "region_name",
    "project_code",
    "project_name",
    "allocated",
    "disbursed",
    "outstanding",
    "due_date",
    "settled_on",
    "status",
    "voucher_no",
];

/// One output row: an indicator line-year, or an unmatched voucher.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReportRow {
    pub fiscal_year: i32,
    pub origin_year: Option<i32>,
    pub doc_no: Option<String>,
    pub doc_date: Option<NaiveDate>,
    pub region: RegionCode,
    pub region_name: String,
    pub project: ProjectCode,
    pub project_name: String,
    pub allocated: Option<Fen>,
    pub disbursed: Fen,
    pub outstanding: Option<Fen>,
    pub due_date: Option<NaiveDate>,
    pub settled_on: Option<NaiveDate>,
    pub status: Status,
    pub voucher_no: Option<String>,
    /// Unmatched vouchers only: why (json and table output).
    pub reason: Option<&'static str>,
    /// Unmatched vouchers only.
    pub paid_on: Option<NaiveDate>,
}

/// Which rows to show; matching always runs over the whole ledger.
#[derive(Clone, Debug, Default)]
pub struct RowFilter {
    pub fiscal_year: Option<i32>,
    pub region: Option<RegionCode>,
    pub project: Option<ProjectCode>,
}

impl RowFilter {
    fn keeps(
        &self,
        year: i32,
        region: RegionCode,
        project: &ProjectCode,
        divisions: &DivisionTable,
    ) -> bool {
        self.fiscal_year.is_none_or(|y| y == year)
            && self.region.is_none_or(|r| divisions.is_within(region, r))
            && self.project.as_ref().is_none_or(|p| p == project)
    }
}

fn project_name(catalog: &ProjectCatalog, code: &ProjectCode) -> String {
    catalog
        .get(code)
        .map(|p| p.name.clone())
        .unwrap_or_default()
}

/// Builds the rows in SPEC §5.1 order (the engine's order, filtered).
pub fn report_rows(
    report: &Report,
    divisions: &DivisionTable,
    catalog: &ProjectCatalog,
    filter: &RowFilter,
) -> Vec<ReportRow> {
    let mut rows = Vec::with_capacity(report.lines.len() + report.unmatched.len());
    for l in &report.lines {
        if !filter.keeps(l.fiscal_year, l.key.region, &l.key.project, divisions) {
            continue;
        }
        rows.push(ReportRow {
            fiscal_year: l.fiscal_year,
            origin_year: Some(l.origin_year),
            doc_no: Some(l.key.doc_no.to_string()),
            doc_date: Some(l.doc_date),
            region: l.key.region,
            region_name: divisions
                .name_at(l.key.region, l.doc_date)
                .unwrap_or_default()
                .to_string(),
            project: l.key.project.clone(),
            project_name: project_name(catalog, &l.key.project),
            allocated: Some(l.allocated),
            disbursed: l.disbursed,
            outstanding: Some(l.outstanding),
            due_date: Some(l.due_date),
            settled_on: l.settled_on,
            status: l.status,
            voucher_no: None,
            reason: None,
            paid_on: None,
        });
    }
    for u in &report.unmatched {
        if !filter.keeps(u.fiscal_year, u.region, &u.project, divisions) {
            continue;
        }
        rows.push(ReportRow {
            fiscal_year: u.fiscal_year,
            origin_year: None,
            doc_no: u.doc_no.as_ref().map(|d| d.to_string()),
            doc_date: None,
            region: u.region,
            region_name: divisions
                .name_at(u.region, u.paid_on)
                .unwrap_or_default()
                .to_string(),
            project: u.project.clone(),
            project_name: project_name(catalog, &u.project),
            allocated: None,
            disbursed: u.amount,
            outstanding: None,
            due_date: None,
            settled_on: None,
            status: Status::Unmatched,
            voucher_no: Some(u.voucher_no.clone()),
            reason: Some(u.reason.as_str()),
            paid_on: Some(u.paid_on),
        });
    }
    rows
}

#[cfg(test)]
fn opt<T: ToString>(v: &Option<T>) -> String {
    v.as_ref().map(|x| x.to_string()).unwrap_or_default()
}

#[cfg(test)]
impl ReportRow {
    /// The 15 CSV cells as first written, one `String` each: the reference
    /// [`RowText`] must render (`row_text_renders_the_csv_cells`).
    fn csv_cells(&self) -> [String; 15] {
        [
            self.fiscal_year.to_string(),
            opt(&self.origin_year),
            opt(&self.doc_no),
            opt(&self.doc_date),
            self.region.to_string(),
            self.region_name.clone(),
            self.project.to_string(),
            self.project_name.clone(),
            opt(&self.allocated),
            self.disbursed.to_string(),
            opt(&self.outstanding),
            opt(&self.due_date),
            opt(&self.settled_on),
            self.status.as_str().to_string(),
            opt(&self.voucher_no),
        ]
    }
}

/// Indices of the amount columns (allocated, disbursed, outstanding): never
/// altered by the formula guard, so `-20000.00` stays a number.
pub(crate) const RECONCILE_AMOUNT_COLUMNS: [usize; 3] = [8, 9, 10];

/// The `--format csv` document, `\n` line ends, no BOM; text cells pass
/// the formula guard (SPEC §9).
///
/// Each row's cells are rendered into one reused buffer and written from
/// there (as the trail does): 15 `String`s per row were most of the CSV's
/// cost at 100k rows. Same `Display`s, same guard, so the bytes are those
/// of the first writer (kept as the test's `csv_cells`).
pub fn reconcile_csv(rows: &[ReportRow]) -> String {
    use crate::csv_guard::{GuardedCsv, LineEnd};
    let mut w = GuardedCsv::new(
        Vec::with_capacity(rows.len() * 160),
        LineEnd::Lf,
        &RECONCILE_HEADER,
        &RECONCILE_AMOUNT_COLUMNS,
    )
    .expect("write to memory");
    let mut cells = RowText::default();
    for r in rows {
        cells.render(r);
        w.write_cells(&cells.cells()).expect("write to memory");
    }
    String::from_utf8(w.into_inner().expect("flush to memory"))
        .expect("CSV of UTF-8 strings is UTF-8")
}

/// One row's 15 CSV cells as one text and where each cell ends.
#[derive(Default)]
struct RowText {
    text: String,
    ends: [usize; 15],
}

impl RowText {
    /// The row's 15 CSV cells (amounts with two places, dates ISO, unknowns
    /// empty), in place of the last row's.
    fn render(&mut self, r: &ReportRow) {
        use std::fmt::Write;
        self.text.clear();
        let mut n = 0;
        let mut cell = |text: &mut String, v: Option<&dyn std::fmt::Display>| {
            if let Some(v) = v {
                write!(text, "{v}").expect("write to a String");
            }
            self.ends[n] = text.len();
            n += 1;
        };
        let t = &mut self.text;
        cell(t, Some(&r.fiscal_year));
        cell(t, r.origin_year.as_ref().map(|v| v as _));
        cell(t, r.doc_no.as_ref().map(|v| v as _));
        cell(t, r.doc_date.as_ref().map(|v| v as _));
        cell(t, Some(&r.region));
        cell(t, Some(&r.region_name));
        cell(t, Some(&r.project));
        cell(t, Some(&r.project_name));
        cell(t, r.allocated.as_ref().map(|v| v as _));
        cell(t, Some(&r.disbursed));
        cell(t, r.outstanding.as_ref().map(|v| v as _));
        cell(t, r.due_date.as_ref().map(|v| v as _));
        cell(t, r.settled_on.as_ref().map(|v| v as _));
        cell(t, Some(&r.status.as_str()));
        cell(t, r.voucher_no.as_ref().map(|v| v as _));
        assert_eq!(n, 15, "one text per CSV column");
    }

    fn cells(&self) -> [&str; 15] {
        let mut start = 0;
        self.ends.map(|end| {
            let cell = &self.text[start..end];
            start = end;
            cell
        })
    }
}

/// Disbursed / allocated in basis points (1/100 of a percent), exact
/// (integer arithmetic, rounded half up); None when nothing was allocated.
pub(crate) fn rate_basis_points(disbursed: Fen, allocated: Fen) -> Option<i128> {
    if allocated.as_i64() <= 0 {
        return None;
    }
    Some(
        (i128::from(disbursed.as_i64()) * 10_000 * 2 + i128::from(allocated.as_i64()))
            / (2 * i128::from(allocated.as_i64())),
    )
}

/// Disbursed / allocated as a percentage with two places, exact (integer
/// arithmetic, rounded half up); empty when nothing was allocated.
pub fn rate_percent(disbursed: Fen, allocated: Fen) -> String {
    let Some(basis_points) = rate_basis_points(disbursed, allocated) else {
        return String::new();
    };
    let sign = if basis_points < 0 { "-" } else { "" };
    let bp = basis_points.abs();
    format!("{sign}{}.{:02}%", bp / 100, bp % 100)
}

/// The statuses the table, the workbook and the page list as exceptions.
pub fn is_exception(status: Status) -> bool {
    matches!(
        status,
        Status::Overdue | Status::Over | Status::Late | Status::Unmatched
    )
}

/// The five line statuses, in the roll-up's column order.
pub const LINE_STATUSES: [Status; 5] = [
    Status::Settled,
    Status::Late,
    Status::Over,
    Status::Open,
    Status::Overdue,
];

/// One roll-up row: a prefecture's lines (unmatched vouchers are not lines
/// and are not counted), or the total of every prefecture.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RollupRow {
    /// None for the total row.
    pub prefecture: Option<RegionCode>,
    pub name: String,
    pub lines: u64,
    pub allocated: Fen,
    pub disbursed: Fen,
    pub outstanding: Fen,
    /// Counts per [`LINE_STATUSES`], same order.
    pub status_counts: [u64; 5],
}

impl RollupRow {
    fn add(&mut self, r: &ReportRow) {
        assert!(r.status != Status::Unmatched, "roll-ups count lines only");
        let sum = |a: Fen, b: Option<Fen>| {
            a.checked_add(b.unwrap_or(Fen::ZERO))
                .expect("report totals fit in i64 fen")
        };
        self.lines += 1;
        self.allocated = sum(self.allocated, r.allocated);
        self.disbursed = sum(self.disbursed, Some(r.disbursed));
        self.outstanding = sum(self.outstanding, r.outstanding);
        let at = LINE_STATUSES
            .iter()
            .position(|s| *s == r.status)
            .expect("a line status");
        self.status_counts[at] += 1;
    }
    pub fn rate_percent(&self) -> String {
        rate_percent(self.disbursed, self.allocated)
    }
    pub fn count(&self, status: Status) -> u64 {
        LINE_STATUSES
            .iter()
            .position(|s| *s == status)
            .map_or(0, |at| self.status_counts[at])
    }
}

/// Per-prefecture roll-up of the line rows, in prefecture code order, plus
/// the total. Prefectures are named as of the report date.
#[derive(Clone, Debug, Default)]
pub struct Rollup {
    pub prefectures: Vec<RollupRow>,
    pub total: RollupRow,
    pub unmatched_count: u64,
    pub unmatched_disbursed: Fen,
}

/// The caller makes sure the sum of the rows' amount magnitudes fits in
/// `i64` fen (the cli checks it before any format is rendered), so every
/// sum here fits: overflow is an invariant broken, not an input error.
pub fn rollup(rows: &[ReportRow], divisions: &DivisionTable, as_of: NaiveDate) -> Rollup {
    let mut by_pref: std::collections::BTreeMap<RegionCode, RollupRow> = Default::default();
    let mut out = Rollup::default();
    for r in rows {
        if r.status == Status::Unmatched {
            out.unmatched_count += 1;
            out.unmatched_disbursed = out
                .unmatched_disbursed
                .checked_add(r.disbursed)
                .expect("report totals fit in i64 fen");
            continue;
        }
        let pref = r.region.prefecture_group();
        by_pref
            .entry(pref)
            .or_insert_with(|| RollupRow {
                prefecture: Some(pref),
                name: divisions.name_at(pref, as_of).unwrap_or("").to_string(),
                ..RollupRow::default()
            })
            .add(r);
        out.total.add(r);
    }
    out.prefectures = by_pref.into_values().collect();
    out
}

/// `1234567.50` → `1,234,567.50`: for people (html), never for programs.
pub(crate) fn fen_grouped(amount: Fen) -> String {
    let plain = amount.to_string();
    let (sign, digits) = match plain.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", plain.as_str()),
    };
    let (whole, frac) = digits.split_once('.').expect("Fen prints two places");
    let mut grouped = String::with_capacity(whole.len() + whole.len() / 3);
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(c);
    }
    format!("{sign}{grouped}.{frac}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(text: &str, status: Status) -> ReportRow {
        ReportRow {
            fiscal_year: 2021,
            origin_year: Some(2021),
            doc_no: Some(text.into()),
            doc_date: NaiveDate::from_ymd_opt(2021, 3, 5),
            region: RegionCode::parse("440103").unwrap(),
            region_name: text.into(),
            project: ProjectCode::parse("JS01").unwrap(),
            project_name: text.into(),
            allocated: Some(Fen::new(-500)),
            disbursed: Fen::new(-1),
            outstanding: Some(Fen::new(-499)),
            due_date: None,
            settled_on: None,
            status,
            voucher_no: Some(text.into()),
            reason: None,
            paid_on: None,
        }
    }

    /// Issue 11 §3: `reconcile --format csv` wrote `=2+3`, `=EVIL〔2021〕1号`
    /// and `=HYPERLINK(…)` unguarded.
    #[test]
    fn reconcile_csv_guards_every_owasp_payload_but_not_amounts() {
        for p in crate::csv_guard::OWASP_PAYLOADS {
            let out = reconcile_csv(&[row(p, Status::Over)]);
            let mut r = csv::Reader::from_reader(out.as_bytes());
            let rec = r.records().next().unwrap().unwrap();
            for i in [2, 5, 7, 14] {
                assert_eq!(&rec[i], format!("'{p}"), "column {i}");
            }
            assert_eq!((&rec[8], &rec[9], &rec[10]), ("-5.00", "-0.01", "-4.99"));
        }
    }

    /// The reused buffer renders exactly `csv_cells`, with every optional
    /// cell both present and absent (reconcile_csv's bytes rest on it).
    #[test]
    fn row_text_renders_the_csv_cells() {
        let full = row("湘财社指〔2020〕36号", Status::Over);
        let mut empty = row("x", Status::Open);
        empty.origin_year = None;
        empty.doc_no = None;
        empty.doc_date = None;
        empty.allocated = None;
        empty.outstanding = None;
        empty.voucher_no = None;
        let mut dated = row("y", Status::Settled);
        dated.due_date = NaiveDate::from_ymd_opt(2021, 6, 30);
        dated.settled_on = NaiveDate::from_ymd_opt(2021, 5, 1);
        let mut text = RowText::default();
        for r in [full, empty, dated] {
            text.render(&r);
            assert_eq!(text.cells(), r.csv_cells().each_ref().map(String::as_str));
        }
    }

    #[test]
    fn rates_are_exact() {
        let check = |d: i64, a: i64, want: &str| {
            assert_eq!(rate_percent(Fen::new(d), Fen::new(a)), want, "{d}/{a}")
        };
        check(50, 100, "50.00%");
        check(1, 3, "33.33%");
        check(2, 3, "66.67%");
        check(120, 100, "120.00%");
        check(0, 100, "0.00%");
        check(5, 0, "");
    }

    #[test]
    fn grouped_amounts() {
        let check = |fen: i64, want: &str| assert_eq!(fen_grouped(Fen::new(fen)), want, "{fen}");
        check(0, "0.00");
        check(5, "0.05");
        check(-5, "-0.05");
        check(99_999, "999.99");
        check(100_000, "1,000.00");
        check(5_166_000_000, "51,660,000.00");
        check(-12_345_678_901, "-123,456,789.01");
    }
}
