//! Header recognition: which column is which, and the unit of the amounts.
//!
//! A header cell matches a column when, after `normalise_header` (trim,
//! full-width → ASCII, spaces dropped, ASCII lower-cased), it equals the
//! column's canonical English name or one of its Chinese aliases (SPEC §4.4,
//! §4.6, exactly). An amount column may carry a unit suffix: `金额（万元）`,
//! `金额(元)`, `amount_yuan`, `amount_wan`. Unknown columns are ignored.

use crate::cells::{normalise_header, split_unit_suffix, unit_from_preamble};
use crate::error::RowError;
use crate::table::{CellValue, RawRow};
use fundledger_core::Unit;

/// One column a layout knows.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ColumnSpec {
    pub canonical: &'static str,
    pub aliases: &'static [&'static str],
    pub required: bool,
    /// An amount column: accepts a unit suffix.
    pub amount: bool,
}

const fn col(
    canonical: &'static str,
    aliases: &'static [&'static str],
    required: bool,
) -> ColumnSpec {
    ColumnSpec {
        canonical,
        aliases,
        required,
        amount: false,
    }
}

/// The columns of one file layout.
#[derive(Debug)]
pub(crate) struct Layout {
    pub name: &'static str,
    pub columns: &'static [ColumnSpec],
    /// Groups of which at least one column must be present
    /// (project_code "required unless project_name resolves").
    pub one_of: &'static [&'static [&'static str]],
}

/// SPEC §4.4, indicator file, long form.
pub(crate) const LONG: Layout = Layout {
    name: "long-form indicator file",
    columns: &[
        col("doc_no", &["指标文号", "文号", "文件号"], true),
        col("doc_date", &["下达日期", "发文日期", "文件日期"], true),
        col("fiscal_year", &["预算年度", "年度"], false),
        col(
            "region_code",
            &["地区编码", "区划代码", "区划编码", "财政区划代码"],
            true,
        ),
        col("region_name", &["地区", "地区名称", "区划名称"], false),
        col("project_code", &["项目编码", "项目代码"], false),
        col("project_name", &["项目名称", "项目"], false),
        col(
            "func_code",
            &["功能分类", "功能科目", "支出功能分类科目"],
            false,
        ),
        ColumnSpec {
            canonical: "amount",
            aliases: &["金额", "指标金额"],
            required: true,
            amount: true,
        },
        col("adjusts_doc_no", &["原指标文号", "调整文号"], false),
        col("remark", &["备注"], false),
    ],
    one_of: &[&["project_code", "project_name"]],
};

/// SPEC §4.6, disbursement file.
pub(crate) const DISBURSEMENT: Layout = Layout {
    name: "disbursement file",
    columns: &[
        col("voucher_no", &["支付凭证号", "凭证号", "拨款凭证号"], true),
        col("paid_on", &["支付日期", "拨付日期", "实际支付日期"], true),
        col(
            "region_code",
            &["地区编码", "区划代码", "财政区划代码"],
            true,
        ),
        col("region_name", &["地区", "地区名称"], false),
        col("project_code", &["项目编码", "项目代码"], false),
        col("project_name", &["项目名称"], false),
        col("doc_no", &["指标文号"], false),
        col("fiscal_year", &["预算年度"], false),
        ColumnSpec {
            canonical: "amount",
            aliases: &["金额", "支付金额", "实际支付金额"],
            required: true,
            amount: true,
        },
        col("original_voucher_no", &["原凭证号", "原支付凭证号"], false),
        col("payee", &["收款单位", "收款人"], false),
        col("memo", &["摘要", "用途"], false),
    ],
    one_of: &[&["project_code", "project_name"]],
};

impl Layout {
    fn spec(&self, canonical: &str) -> &ColumnSpec {
        self.columns
            .iter()
            .find(|c| c.canonical == canonical)
            .expect("canonical name belongs to the layout")
    }

    /// The column a normalised header text names, with the unit its suffix states.
    pub(crate) fn match_header(
        &self,
        normalised: &str,
    ) -> Option<(&'static ColumnSpec, Option<Unit>)> {
        let names = |spec: &ColumnSpec| {
            std::iter::once(spec.canonical)
                .chain(spec.aliases.iter().copied())
                .any(|n| normalise_header(n) == normalised)
        };
        if let Some(spec) = self.columns.iter().find(|s| names(s)) {
            return Some((spec, None));
        }
        let (base, unit) = split_unit_suffix(normalised);
        unit?;
        self.columns
            .iter()
            .filter(|s| s.amount)
            .find(|s| {
                std::iter::once(s.canonical)
                    .chain(s.aliases.iter().copied())
                    .any(|n| normalise_header(n) == base)
            })
            .map(|s| (s, unit))
    }

    /// How many of these normalised header texts name a column of this layout.
    pub(crate) fn known_count(&self, normalised: &[String]) -> usize {
        normalised
            .iter()
            .filter(|t| self.match_header(t).is_some())
            .count()
    }

    /// Does the header name this column (under any of its names)?
    pub(crate) fn has_column(&self, normalised: &[String], canonical: &str) -> bool {
        normalised.iter().any(|t| {
            self.match_header(t)
                .is_some_and(|(s, _)| s.canonical == canonical)
        })
    }

    /// Positions of the header cells that name any of `canonicals`.
    pub(crate) fn positions(&self, normalised: &[String], canonicals: &[&str]) -> Vec<usize> {
        normalised
            .iter()
            .enumerate()
            .filter(|(_, t)| {
                self.match_header(t)
                    .is_some_and(|(s, _)| canonicals.contains(&s.canonical))
            })
            .map(|(i, _)| i)
            .collect()
    }

    /// The accepted names of a column, for messages.
    pub(crate) fn expected_names(&self, canonical: &str) -> String {
        let spec = self.spec(canonical);
        let mut names: Vec<String> = vec![spec.canonical.to_string()];
        if spec.amount {
            names.push(format!("{}_yuan", spec.canonical));
            names.push(format!("{}_wan", spec.canonical));
        }
        for alias in spec.aliases {
            names.push(alias.to_string());
            if spec.amount {
                names.push(format!("{alias}（元）"));
                names.push(format!("{alias}（万元）"));
            }
        }
        names.join(", ")
    }
}

/// Where each known column of a layout sits in the header.
#[derive(Clone, Debug)]
pub(crate) struct HeaderMap {
    columns: Vec<(&'static str, usize)>,
    texts: Vec<String>,
    pub line: u64,
    /// The unit the amount column's header states, if any.
    pub header_unit: Option<Unit>,
}

impl HeaderMap {
    pub(crate) fn index(&self, canonical: &str) -> Option<usize> {
        self.columns
            .iter()
            .find(|(c, _)| *c == canonical)
            .map(|(_, i)| *i)
    }

    /// The header text as written, for messages (the canonical name if absent).
    pub(crate) fn column_text(&self, canonical: &str) -> String {
        self.index(canonical)
            .and_then(|i| self.texts.get(i))
            .cloned()
            .unwrap_or_else(|| canonical.to_string())
    }

    /// The row's cell in that column (`Empty` if the column is absent or the row short).
    pub(crate) fn cell<'a>(&self, row: &'a RawRow, canonical: &str) -> &'a CellValue {
        const EMPTY: CellValue = CellValue::Empty;
        match self.index(canonical) {
            Some(i) => row.cell(i),
            None => &EMPTY,
        }
    }
}

/// Map a header row onto a layout. Errors (all of them): a required column
/// missing (naming the accepted names), two columns meaning the same thing.
pub(crate) fn map_header(
    layout: &Layout,
    header: &RawRow,
    file: &str,
) -> Result<HeaderMap, Vec<RowError>> {
    let texts: Vec<String> = header.cells.iter().map(crate::cells::cell_text).collect();
    let mut errors = Vec::new();
    let (columns, header_unit) = locate_columns(layout, &texts, header.line, file, &mut errors);
    errors.extend(missing_columns(layout, &columns, header.line, file));
    if errors.is_empty() {
        Ok(HeaderMap {
            columns,
            texts,
            line: header.line,
            header_unit,
        })
    } else {
        Err(errors)
    }
}

/// Each known column's position and the unit the amount header states; a
/// second column meaning the same thing is an error.
fn locate_columns(
    layout: &Layout,
    texts: &[String],
    line: u64,
    file: &str,
    errors: &mut Vec<RowError>,
) -> (Vec<(&'static str, usize)>, Option<Unit>) {
    let mut columns: Vec<(&'static str, usize)> = Vec::new();
    let mut header_unit = None;
    for (index, text) in texts.iter().enumerate() {
        let Some((spec, unit)) = layout.match_header(&normalise_header(text)) else {
            continue;
        };
        if let Some(&(_, first)) = columns.iter().find(|(c, _)| *c == spec.canonical) {
            errors.push(RowError::at(
                file,
                line,
                Some(text),
                format!(
                    "columns `{}` and `{}` both mean {}; keep one",
                    texts[first], text, spec.canonical
                ),
            ));
            continue;
        }
        columns.push((spec.canonical, index));
        if spec.amount {
            header_unit = unit;
        }
    }
    (columns, header_unit)
}

/// The required columns, and the one-of groups, that the header lacks.
fn missing_columns(
    layout: &Layout,
    columns: &[(&'static str, usize)],
    line: u64,
    file: &str,
) -> Vec<RowError> {
    let mut errors = Vec::new();
    for spec in layout.columns.iter().filter(|s| s.required) {
        if !columns.iter().any(|(c, _)| *c == spec.canonical) {
            errors.push(RowError::at(
                file,
                line,
                None,
                format!(
                    "{}: required column {} is missing (expected one of: {})",
                    layout.name,
                    spec.canonical,
                    layout.expected_names(spec.canonical)
                ),
            ));
        }
    }
    for group in layout.one_of {
        if !group.iter().any(|g| columns.iter().any(|(c, _)| c == g)) {
            let names: Vec<String> = group.iter().map(|g| layout.expected_names(g)).collect();
            errors.push(RowError::at(
                file,
                line,
                None,
                format!(
                    "{}: one of the columns {} is required (expected one of: {})",
                    layout.name,
                    group.join(" / "),
                    names.join(", ")
                ),
            ));
        }
    }
    errors
}

/// The unit of the file's amounts from its three possible sources: the amount
/// column's header suffix, a `单位：…` preamble line, `--unit`. They must agree,
/// and at least one must be there: a 万元 table read as yuan is a 10,000× error.
pub(crate) fn resolve_unit(
    file: &str,
    header: &HeaderMap,
    amount_column: &str,
    preamble: &[(u64, String)],
    option: Option<Unit>,
) -> Result<Unit, RowError> {
    let mut sources: Vec<(Unit, String)> = Vec::new();
    if let Some(unit) = header.header_unit {
        sources.push((unit, format!("the header `{amount_column}`")));
    }
    for (line, text) in preamble {
        if let Some(unit) = unit_from_preamble(text) {
            sources.push((unit, format!("preamble line {line}")));
        }
    }
    if let Some(unit) = option {
        sources.push((unit, "--unit".to_string()));
    }
    let Some((first, _)) = sources.first() else {
        return Err(RowError::at(
            file,
            header.line,
            Some(amount_column),
            "no unit for the amounts: write 金额（元） or 金额（万元） in the header, 单位：万元 in a line above it, or pass --unit yuan|wan",
        ));
    };
    if sources.iter().all(|(u, _)| u == first) {
        return Ok(*first);
    }
    let said: Vec<String> = sources
        .iter()
        .map(|(u, s)| format!("{s} says {}", u.name()))
        .collect();
    Err(RowError::at(
        file,
        header.line,
        Some(amount_column),
        format!("conflicting units: {}", said.join(", ")),
    ))
}

/// The columns of one data row, collecting every problem found in it.
pub(crate) struct RowFields<'a> {
    pub file: &'a str,
    pub header: &'a HeaderMap,
    pub row: &'a RawRow,
    pub errors: Vec<RowError>,
}

impl<'a> RowFields<'a> {
    pub(crate) fn new(file: &'a str, header: &'a HeaderMap, row: &'a RawRow) -> Self {
        RowFields {
            file,
            header,
            row,
            errors: Vec::new(),
        }
    }

    pub(crate) fn cell(&self, canonical: &str) -> &'a CellValue {
        self.header.cell(self.row, canonical)
    }

    /// The trimmed text of a cell, None if blank or absent.
    pub(crate) fn text(&self, canonical: &str) -> Option<String> {
        let text = crate::cells::cell_text(self.cell(canonical));
        (!text.is_empty()).then_some(text)
    }

    /// Record a problem in a column (named as the header writes it).
    pub(crate) fn error(&mut self, canonical: &str, message: impl Into<String>) {
        let column = self.header.column_text(canonical);
        self.errors.push(RowError::at(
            self.file,
            self.row.line,
            Some(&column),
            message,
        ));
    }

    /// A required cell's text; an error if blank.
    pub(crate) fn required_text(&mut self, canonical: &str) -> Option<String> {
        let text = self.text(canonical);
        if text.is_none() {
            self.error(canonical, format!("{canonical} is empty (required)"));
        }
        text
    }

    /// Parse a cell's text with `parse`, recording its error.
    pub(crate) fn parsed<T, E: std::fmt::Display>(
        &mut self,
        canonical: &str,
        required: bool,
        parse: impl FnOnce(&str) -> Result<T, E>,
    ) -> Option<T> {
        let text = if required {
            self.required_text(canonical)?
        } else {
            self.text(canonical)?
        };
        match parse(&text) {
            Ok(value) => Some(value),
            Err(e) => {
                self.error(canonical, e.to_string());
                None
            }
        }
    }

    /// A date cell (any SPEC §4.2 form or an xlsx date).
    pub(crate) fn date(&mut self, canonical: &str, required: bool) -> Option<chrono::NaiveDate> {
        match crate::cells::parse_date_cell(self.cell(canonical)) {
            Ok(Some(date)) => Some(date),
            Ok(None) => {
                if required {
                    self.error(canonical, format!("{canonical} is empty (required)"));
                }
                None
            }
            Err(e) => {
                self.error(canonical, e);
                None
            }
        }
    }

    /// The amount: required, whole fen in `unit`; zero is recorded as an error
    /// but still returned (it adds nothing to a 合计 check).
    pub(crate) fn amount(&mut self, unit: Unit) -> Option<fundledger_core::Fen> {
        match crate::cells::parse_amount_cell(self.cell("amount"), unit) {
            Ok(Some(fen)) if fen.is_zero() => {
                self.error(
                    "amount",
                    "amount is zero (a zero row records nothing; leave it out)",
                );
                None
            }
            Ok(Some(fen)) => Some(fen),
            Ok(None) => {
                self.error("amount", "amount is empty (required)");
                None
            }
            Err(e) => {
                self.error("amount", e);
                None
            }
        }
    }

    /// An optional fiscal-year cell.
    pub(crate) fn fiscal_year(&mut self) -> Option<i32> {
        match crate::cells::parse_year_cell(self.cell("fiscal_year")) {
            Ok(year) => year,
            Err(e) => {
                self.error("fiscal_year", e);
                None
            }
        }
    }
}

/// Is this a 合计/总计 total row (by its region name, or its first cell)?
pub(crate) fn is_total_row(header: &HeaderMap, row: &RawRow) -> bool {
    is_total_cell(header.cell(row, "region_name")) || is_total_cell(row.cell(0))
}

/// Is this a 小计 subtotal row (`长沙市小计`, `小计`)?
pub(crate) fn is_subtotal_row(header: &HeaderMap, row: &RawRow) -> bool {
    is_subtotal_cell(header.cell(row, "region_name")) || is_subtotal_cell(row.cell(0))
}

fn is_total_cell(cell: &CellValue) -> bool {
    may_name_a_total(cell)
        && matches!(
            normalise_header(&crate::cells::cell_text(cell)).as_str(),
            "合计" | "总计"
        )
}

fn is_subtotal_cell(cell: &CellValue) -> bool {
    may_name_a_total(cell) && normalise_header(&crate::cells::cell_text(cell)).ends_with("小计")
}

/// Whether the cell holds a `计` at all, without which no normalising
/// makes it 合计, 总计 or …小计 (the normaliser drops whitespace and folds
/// ASCII forms, quotes and brackets, never to or from `计`). Checked first
/// because every data row is asked twice per name (two cells' text copied
/// and normalised: eight allocations a row).
fn may_name_a_total(cell: &CellValue) -> bool {
    matches!(cell, CellValue::Text(t) if t.contains('计'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(texts: &[&str]) -> RawRow {
        RawRow {
            line: 2,
            cells: texts
                .iter()
                .map(|t| CellValue::Text(t.to_string()))
                .collect(),
        }
    }

    fn check_match(layout: &Layout, text: &str, expected: Option<(&str, Option<Unit>)>) {
        let got = layout
            .match_header(&normalise_header(text))
            .map(|(s, u)| (s.canonical, u));
        assert_eq!(got, expected, "{text}");
    }

    #[test]
    fn aliases_match_exactly_after_normalising() {
        type Case<'a> = (&'a Layout, &'a str, Option<(&'a str, Option<Unit>)>);
        let table: &[Case] = &[
            (&LONG, "指标文号", Some(("doc_no", None))),
            (&LONG, " 文件号 ", Some(("doc_no", None))),
            (&LONG, "DOC_NO", Some(("doc_no", None))),
            (&LONG, "区划编码", Some(("region_code", None))),
            (&LONG, "项目", Some(("project_name", None))),
            (&LONG, "金额（万元）", Some(("amount", Some(Unit::Wan)))),
            (&LONG, "指标金额(元)", Some(("amount", Some(Unit::Yuan)))),
            (&LONG, "amount_yuan", Some(("amount", Some(Unit::Yuan)))),
            (&LONG, "金额", Some(("amount", None))),
            (&LONG, "调整文号", Some(("adjusts_doc_no", None))),
            (&LONG, "支付金额", None),
            (&LONG, "备注（元）", None),
            (&LONG, "序号", None),
            (&DISBURSEMENT, "区划编码", None),
            (&DISBURSEMENT, "项目", None),
            (
                &DISBURSEMENT,
                "支付金额（元）",
                Some(("amount", Some(Unit::Yuan))),
            ),
            (
                &DISBURSEMENT,
                "原支付凭证号",
                Some(("original_voucher_no", None)),
            ),
            (&DISBURSEMENT, "用途", Some(("memo", None))),
        ];
        for (layout, text, expected) in table {
            check_match(layout, text, *expected);
        }
    }

    /// Every header cell of the Guangdong 2021 and Hunan 2020 fixtures maps to
    /// the column it mapped to before the header and catalog normalisers
    /// became one (core `text::normalise_text`).
    #[test]
    fn fixture_headers_map_as_before() {
        type Case<'a> = (&'a Layout, &'a str, Option<(&'a str, Option<Unit>)>);
        let yuan = Some(Unit::Yuan);
        let table: &[Case] = &[
            // gd_2021_40_long.csv, hunan-2020/37_long.csv
            (&LONG, "序号", None),
            (&LONG, "指标文号", Some(("doc_no", None))),
            (&LONG, "下达日期", Some(("doc_date", None))),
            (&LONG, "区划代码", Some(("region_code", None))),
            (&LONG, "地区名称", Some(("region_name", None))),
            (&LONG, "项目编码", Some(("project_code", None))),
            (&LONG, "项目名称", Some(("project_name", None))),
            (&LONG, "金额（元）", Some(("amount", yuan))),
            (&LONG, "备注", Some(("remark", None))),
            // gd_2021_77_adjust.csv
            (&LONG, "doc_no", Some(("doc_no", None))),
            (&LONG, "doc_date", Some(("doc_date", None))),
            (&LONG, "region_code", Some(("region_code", None))),
            (&LONG, "region_name", Some(("region_name", None))),
            (&LONG, "project_code", Some(("project_code", None))),
            (&LONG, "amount_yuan", Some(("amount", yuan))),
            (&LONG, "adjusts_doc_no", Some(("adjusts_doc_no", None))),
            (&LONG, "remark", Some(("remark", None))),
            // gd_2021_disbursements.csv, hunan-2020/disb_2020_*.csv
            (&DISBURSEMENT, "支付凭证号", Some(("voucher_no", None))),
            (&DISBURSEMENT, "凭证号", Some(("voucher_no", None))),
            (&DISBURSEMENT, "拨款凭证号", Some(("voucher_no", None))),
            (&DISBURSEMENT, "支付日期", Some(("paid_on", None))),
            (&DISBURSEMENT, "拨付日期", Some(("paid_on", None))),
            (&DISBURSEMENT, "实际支付日期", Some(("paid_on", None))),
            (&DISBURSEMENT, "财政区划代码", Some(("region_code", None))),
            (&DISBURSEMENT, "区划代码", Some(("region_code", None))),
            (&DISBURSEMENT, "地区编码", Some(("region_code", None))),
            (&DISBURSEMENT, "地区", Some(("region_name", None))),
            (&DISBURSEMENT, "地区名称", Some(("region_name", None))),
            (&DISBURSEMENT, "项目编码", Some(("project_code", None))),
            (&DISBURSEMENT, "项目代码", Some(("project_code", None))),
            (&DISBURSEMENT, "项目名称", Some(("project_name", None))),
            (&DISBURSEMENT, "指标文号", Some(("doc_no", None))),
            (&DISBURSEMENT, "预算年度", Some(("fiscal_year", None))),
            (&DISBURSEMENT, "支付金额（元）", Some(("amount", yuan))),
            (&DISBURSEMENT, "实际支付金额(元)", Some(("amount", yuan))),
            (&DISBURSEMENT, "金额（元）", Some(("amount", yuan))),
            (
                &DISBURSEMENT,
                "原支付凭证号",
                Some(("original_voucher_no", None)),
            ),
            (
                &DISBURSEMENT,
                "原凭证号",
                Some(("original_voucher_no", None)),
            ),
            (&DISBURSEMENT, "收款单位", Some(("payee", None))),
            (&DISBURSEMENT, "收款人", Some(("payee", None))),
            (&DISBURSEMENT, "摘要", Some(("memo", None))),
            (&DISBURSEMENT, "用途", Some(("memo", None))),
        ];
        for (layout, text, expected) in table {
            check_match(layout, text, *expected);
        }
    }

    fn check_map(layout: &Layout, texts: &[&str], expected: Result<(), &[&str]>) {
        let got = map_header(layout, &header(texts), "f.csv");
        match (got, expected) {
            (Ok(_), Ok(())) => {}
            (Err(errors), Err(wants)) => {
                assert_eq!(errors.len(), wants.len(), "{errors:?}");
                for (e, want) in errors.iter().zip(wants) {
                    let shown = e.to_string();
                    assert!(shown.starts_with("f.csv:2: "), "{shown}");
                    assert!(shown.contains(want), "{shown} lacks {want}");
                }
            }
            (got, want) => panic!("{texts:?}: got {got:?}, want {want:?}"),
        }
    }

    #[test]
    fn required_missing_and_duplicate_columns() {
        check_map(
            &LONG,
            &[
                "doc_no",
                "doc_date",
                "region_code",
                "project_code",
                "amount_yuan",
            ],
            Ok(()),
        );
        check_map(
            &LONG,
            &["doc_no", "region_code", "project_code", "amount"],
            Err(&["required column doc_date is missing (expected one of: doc_date, 下达日期, 发文日期, 文件日期)"]),
        );
        check_map(
            &LONG,
            &["doc_no", "doc_date", "region_code", "金额（元）"],
            Err(&["one of the columns project_code / project_name is required"]),
        );
        check_map(
            &LONG,
            &[
                "doc_no",
                "文号",
                "doc_date",
                "region_code",
                "项目",
                "金额",
                "指标金额",
            ],
            Err(&[
                "columns `doc_no` and `文号` both mean doc_no",
                "columns `金额` and `指标金额` both mean amount",
            ]),
        );
        check_map(
            &DISBURSEMENT,
            &["凭证号", "支付日期", "地区编码", "项目名称", "支付金额"],
            Ok(()),
        );
        check_map(
            &DISBURSEMENT,
            &["支付日期", "地区编码", "项目名称"],
            Err(&["required column voucher_no", "required column amount"]),
        );
    }

    #[test]
    fn unit_sources_must_agree_and_exist() {
        let map = |texts: &[&str]| map_header(&LONG, &header(texts), "f.csv").unwrap();
        let with_yuan = map(&[
            "doc_no",
            "doc_date",
            "region_code",
            "project_code",
            "金额（元）",
        ]);
        let bare = map(&["doc_no", "doc_date", "region_code", "project_code", "金额"]);
        let wan_line = vec![(1, "单位：万元".to_string())];
        let yuan_line = vec![(1, "单位：元,,".to_string())];
        let none: Vec<(u64, String)> = vec![(1, "标题".to_string())];
        type Case<'a> = (
            &'a HeaderMap,
            &'a Vec<(u64, String)>,
            Option<Unit>,
            Result<Unit, &'a str>,
        );
        let cases: Vec<Case> = vec![
            (&with_yuan, &none, None, Ok(Unit::Yuan)),
            (&with_yuan, &yuan_line, Some(Unit::Yuan), Ok(Unit::Yuan)),
            (&bare, &wan_line, None, Ok(Unit::Wan)),
            (&bare, &none, Some(Unit::Wan), Ok(Unit::Wan)),
            (
                &with_yuan,
                &wan_line,
                None,
                Err(
                    "conflicting units: the header `金额（元）` says 元, preamble line 1 says 万元",
                ),
            ),
            (&bare, &yuan_line, Some(Unit::Wan), Err("conflicting units")),
            (&bare, &none, None, Err("no unit for the amounts")),
        ];
        for (header_map, preamble, option, expected) in cases {
            let column = header_map.column_text("amount");
            let got = resolve_unit("f.csv", header_map, &column, preamble, option);
            match (got, expected) {
                (Ok(u), Ok(w)) => assert_eq!(u, w),
                (Err(e), Err(w)) => assert!(e.to_string().contains(w), "{e}"),
                (got, want) => panic!("got {got:?}, want {want:?}"),
            }
        }
    }

    /// The totals' words as the cells were judged before the `计` check.
    fn judged_in_full(cell: &CellValue) -> (bool, bool) {
        let text = normalise_header(&crate::cells::cell_text(cell));
        (
            matches!(text.as_str(), "合计" | "总计"),
            text.ends_with("小计"),
        )
    }

    proptest::proptest! {
        #[test]
        fn totals_are_judged_as_in_full(
            text in "[ \t\u{3000}\u{FEFF}合总小计长沙市（）【】“”aA0-9]{0,8}",
            number in proptest::num::f64::ANY,
        ) {
            for cell in [
                CellValue::Text(text.clone()),
                CellValue::Number(number),
                CellValue::Empty,
            ] {
                proptest::prop_assert_eq!(
                    (is_total_cell(&cell), is_subtotal_cell(&cell)),
                    judged_in_full(&cell),
                    "{:?}", cell
                );
            }
        }
    }
}
