//! Long-form indicator files (SPEC §4.4): one row per allocation.
//!
//! Rows stream: the reader keeps no state that grows with the rows, except the
//! per-document sums for the 合计 check (one figure per document) and the new
//! projects it registers (one per new code).
//!
//! Decisions: a zero amount is an error (a zero row allocates nothing and is
//! most likely a slip); a 小计 row is an error (a long file has no hierarchy to
//! check it against); a fiscal_year that differs from the document number's
//! year is an error; an adjusts_doc_no on a positive row, or naming the row's
//! own document, is an error.

use crate::context::ImportContext;
use crate::error::RowError;
use crate::header::{is_subtotal_row, is_total_row, resolve_unit, HeaderMap, RowFields, LONG};
use crate::table::{RawRow, Table};
use fundledger_core::catalog::Project;
use fundledger_core::domain::{IndicatorLine, IndicatorRow, Reduction, SourceRef};
use fundledger_core::{DocNo, Fen, LineKey, ProjectCode, RegionCode, Unit};
use std::collections::{HashMap, VecDeque};

/// Which of the two indicator layouts a file had.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IndicatorLayout {
    Long,
    Wide,
}

/// What an indicator file held, complete once the reader is exhausted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndicatorSummary {
    pub layout: IndicatorLayout,
    /// Data rows read (total rows excluded), with or without errors.
    pub rows_read: u64,
    /// Sum of the rows returned without error.
    pub amount_total: Fen,
    /// Projects the file introduces (a code unknown to the catalog, with a name), once per code.
    pub new_projects: Vec<Project>,
}

impl IndicatorSummary {
    pub fn new(layout: IndicatorLayout) -> Self {
        IndicatorSummary {
            layout,
            rows_read: 0,
            amount_total: Fen::ZERO,
            new_projects: Vec::new(),
        }
    }
}

/// A 合计 row's stated figure, checked when the file ends.
struct StatedTotal {
    line: u64,
    column: String,
    doc: Option<DocNo>,
    stated: Fen,
}

/// Sums for the 合计 check: the whole file and each document.
#[derive(Default)]
pub(crate) struct Totals {
    file_sum: Fen,
    by_doc: HashMap<DocNo, Fen>,
    stated: Vec<StatedTotal>,
    /// Some row's amount could not be read, so no total can be verified.
    unverifiable: bool,
}

impl Totals {
    pub(crate) fn add(&mut self, doc: Option<&DocNo>, amount: Option<Fen>) {
        let Some(amount) = amount else {
            self.unverifiable = true;
            return;
        };
        let sum = |a: Fen| a.checked_add(amount);
        match sum(self.file_sum) {
            Ok(s) => self.file_sum = s,
            Err(_) => self.unverifiable = true,
        }
        if let Some(doc) = doc {
            let entry = self.by_doc.entry(doc.clone()).or_insert(Fen::ZERO);
            match sum(*entry) {
                Ok(s) => *entry = s,
                Err(_) => self.unverifiable = true,
            }
        }
    }

    /// A total row: read its doc_no (if any) and amount now, check at the end.
    pub(crate) fn state(&mut self, fields: &mut RowFields<'_>, unit: Unit, with_doc: bool) {
        let doc = if with_doc {
            fields.parsed("doc_no", false, DocNo::parse)
        } else {
            None
        };
        let column = fields.header.column_text("amount");
        match crate::cells::parse_amount_cell(fields.cell("amount"), unit) {
            Ok(Some(stated)) => self.stated.push(StatedTotal {
                line: fields.row.line,
                column,
                doc,
                stated,
            }),
            Ok(None) => fields.error("amount", "the 合计 row has no amount"),
            Err(e) => fields.error("amount", e),
        }
    }

    /// Every stated total that differs from the computed sum.
    pub(crate) fn check(&self, file: &str) -> Vec<RowError> {
        if self.unverifiable {
            return Vec::new();
        }
        let mut errors = Vec::new();
        for total in &self.stated {
            let (computed, what) = match &total.doc {
                Some(doc) => (
                    self.by_doc.get(doc).copied().unwrap_or(Fen::ZERO),
                    format!("the rows of {doc}"),
                ),
                None => (self.file_sum, "all rows of the file".to_string()),
            };
            if computed != total.stated {
                errors.push(RowError::at(
                    file,
                    total.line,
                    Some(&total.column),
                    format!(
                        "合计 row states {} 元 but {what} sum to {} 元 (difference {} 元)",
                        total.stated,
                        computed,
                        Fen::new(total.stated.as_i64().saturating_sub(computed.as_i64()))
                    ),
                ));
            }
        }
        errors
    }
}

/// Streaming reader of a long-form indicator file.
pub struct LongReader {
    table: Table,
    header: HeaderMap,
    unit: Unit,
    ctx: ImportContext,
    pending: VecDeque<Result<IndicatorRow, RowError>>,
    totals: Totals,
    /// New project codes seen so far: name and the line that introduced it.
    new_codes: HashMap<ProjectCode, (String, u64)>,
    finished: bool,
    summary: IndicatorSummary,
}

impl LongReader {
    /// Map the header and settle the unit; errors here concern the whole file.
    pub fn new(table: Table, ctx: &ImportContext) -> Result<LongReader, Vec<RowError>> {
        let file = table.file.clone();
        let header = crate::header::map_header(&LONG, &table.header, &file)?;
        let amount_column = header.column_text("amount");
        let unit = resolve_unit(
            &file,
            &header,
            &amount_column,
            &table.preamble,
            ctx.options.unit,
        )
        .map_err(|e| vec![e])?;
        Ok(LongReader {
            table,
            header,
            unit,
            ctx: ctx.clone(),
            pending: VecDeque::new(),
            totals: Totals::default(),
            new_codes: HashMap::new(),
            finished: false,
            summary: IndicatorSummary::new(IndicatorLayout::Long),
        })
    }

    pub fn summary(&self) -> &IndicatorSummary {
        &self.summary
    }

    pub fn unit(&self) -> Unit {
        self.unit
    }

    fn handle_row(&mut self, row: RawRow) {
        let file = self.table.file.clone();
        let mut fields = RowFields::new(&file, &self.header, &row);
        if is_total_row(&self.header, &row) {
            self.totals.state(&mut fields, self.unit, true);
        } else if is_subtotal_row(&self.header, &row) {
            let column = if self.header.index("region_name").is_some() {
                "region_name"
            } else {
                "amount"
            };
            fields.error(
                column,
                "a 小计 subtotal row cannot be checked in a long-form file; remove it (only a 合计 row of the whole file or document is allowed)",
            );
        } else {
            self.summary.rows_read += 1;
            let mut state = RowState {
                ctx: &self.ctx,
                totals: &mut self.totals,
                new_codes: &mut self.new_codes,
                summary: &mut self.summary,
            };
            if let Some(parsed) = parse_row(&mut fields, self.unit, &mut state) {
                match self.summary.amount_total.checked_add(row_amount(&parsed)) {
                    Ok(sum) => {
                        self.summary.amount_total = sum;
                        self.pending.push_back(Ok(parsed));
                    }
                    Err(e) => fields.error("amount", e.to_string()),
                }
            }
        }
        let errors = std::mem::take(&mut fields.errors);
        self.pending.extend(errors.into_iter().map(Err));
    }
}

fn row_amount(row: &IndicatorRow) -> Fen {
    match row {
        IndicatorRow::Line(l) => l.amount,
        IndicatorRow::Reduction(r) => r.amount,
    }
}

/// The reader's state a row may update.
struct RowState<'a> {
    ctx: &'a ImportContext,
    totals: &'a mut Totals,
    new_codes: &'a mut HashMap<ProjectCode, (String, u64)>,
    summary: &'a mut IndicatorSummary,
}

impl Iterator for LongReader {
    type Item = Result<IndicatorRow, RowError>;
    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(item) = self.pending.pop_front() {
                return Some(item);
            }
            if self.finished {
                return None;
            }
            match self.table.next() {
                Some(Ok(row)) => self.handle_row(row),
                Some(Err(e)) => {
                    self.totals.unverifiable = true;
                    self.pending.push_back(Err(e));
                }
                None => {
                    self.finished = true;
                    let errors = self.totals.check(&self.table.file);
                    self.pending.extend(errors.into_iter().map(Err));
                }
            }
        }
    }
}

/// Parse one data row; every problem goes to `fields.errors`. The amount is
/// added to the 合计 sums whatever else is wrong with the row.
fn parse_row(
    fields: &mut RowFields<'_>,
    unit: Unit,
    state: &mut RowState<'_>,
) -> Option<IndicatorRow> {
    let doc_no = fields.parsed("doc_no", true, DocNo::parse);
    let doc_date = fields.date("doc_date", true);
    let fiscal_year = fields.fiscal_year();
    if let (Some(doc), Some(year)) = (&doc_no, fiscal_year) {
        if doc.year() != year {
            fields.error(
                "fiscal_year",
                format!(
                    "fiscal year {year} conflicts with the year {} of document {doc}",
                    doc.year()
                ),
            );
        }
    }
    let region = region(fields, state.ctx, doc_date);
    let project = project(fields, state);
    let func_code = fields.parsed("func_code", false, check_func_code);
    let amount = fields.amount(unit);
    let adjusts = fields.parsed("adjusts_doc_no", false, DocNo::parse);
    let remark = fields.text("remark");
    check_adjusts(fields, amount, adjusts.as_ref(), doc_no.as_ref());
    state.totals.add(doc_no.as_ref(), amount);
    if !fields.errors.is_empty() {
        return None;
    }
    let (doc_no, doc_date, region, project, amount) =
        (doc_no?, doc_date?, region?, project?, amount?);
    let key = LineKey {
        doc_no: doc_no.clone(),
        region,
        project: project.clone(),
    };
    let source = SourceRef {
        file: fields.file.to_string(),
        line: fields.row.line,
    };
    let fiscal_year = doc_no.year();
    Some(match adjusts {
        Some(target_doc) => IndicatorRow::Reduction(Reduction {
            key,
            doc_date,
            fiscal_year,
            target: LineKey {
                doc_no: target_doc,
                region,
                project,
            },
            amount,
            remark,
            source,
        }),
        None => IndicatorRow::Line(IndicatorLine {
            key,
            fiscal_year,
            doc_date,
            amount,
            func_code,
            remark,
            source,
        }),
    })
}

/// The region code, and the name beside it checked against the division table
/// valid at the document date.
pub(crate) fn region(
    fields: &mut RowFields<'_>,
    ctx: &ImportContext,
    on: Option<chrono::NaiveDate>,
) -> Option<RegionCode> {
    let code = fields.parsed("region_code", true, RegionCode::parse)?;
    let on = on?;
    let name = fields.text("region_name");
    match ctx.divisions.check(code, name.as_deref(), on) {
        Ok(_) => Some(code),
        Err(e) => {
            let column = match e {
                fundledger_core::divisions::RegionError::NameMismatch { .. } => "region_name",
                _ => "region_code",
            };
            fields.error(column, e.to_string());
            None
        }
    }
}

/// The project by code and/or name. A code the catalog does not know, given
/// with a name, is a new project: registered once per code (the same new code
/// with another name later in the file is an error).
fn project(fields: &mut RowFields<'_>, state: &mut RowState<'_>) -> Option<ProjectCode> {
    let code_text = fields.text("project_code");
    let name = fields.text("project_name");
    let column = if code_text.is_some() {
        "project_code"
    } else {
        "project_name"
    };
    if code_text.is_none() && name.is_none() {
        fields.error(
            column,
            "project_code and project_name are both empty (one is required)",
        );
        return None;
    }
    if let Some(code) = code_text
        .as_deref()
        .and_then(|c| ProjectCode::parse(c).ok())
    {
        if let Some((first_name, first_line)) = state.new_codes.get(&code) {
            return match &name {
                Some(n) if n != first_name => {
                    fields.error(
                        "project_name",
                        format!("new project {code} was named {first_name} on line {first_line}, not {n}"),
                    );
                    None
                }
                _ => Some(code),
            };
        }
    }
    match state
        .ctx
        .projects
        .resolve(code_text.as_deref(), name.as_deref(), true)
    {
        Ok(Some(code)) => Some(code),
        Ok(None) => {
            let (code_text, name) = (code_text?, name?);
            let code = ProjectCode::parse(&code_text).ok()?;
            let func_code = fields.text("func_code");
            state
                .new_codes
                .insert(code.clone(), (name.clone(), fields.row.line));
            state.summary.new_projects.push(Project {
                code: code.clone(),
                name,
                aliases: Vec::new(),
                func_code,
            });
            Some(code)
        }
        Err(e) => {
            let column = match e {
                fundledger_core::catalog::ProjectError::NameMismatch { .. } => "project_name",
                _ => column,
            };
            fields.error(column, e.to_string());
            None
        }
    }
}

/// A functional classification code is seven digits (2100799).
fn check_func_code(text: &str) -> Result<String, String> {
    if text.len() == 7 && text.bytes().all(|b| b.is_ascii_digit()) {
        Ok(text.to_string())
    } else {
        Err(format!(
            "`{text}` is not a functional classification code (expected 7 digits, e.g. 2100799)"
        ))
    }
}

/// A negative amount needs the document it reduces; a positive one must not name one.
fn check_adjusts(
    fields: &mut RowFields<'_>,
    amount: Option<Fen>,
    adjusts: Option<&DocNo>,
    doc_no: Option<&DocNo>,
) {
    let adjusts_given = fields.text("adjusts_doc_no").is_some();
    match amount {
        Some(a) if a.is_negative() && !adjusts_given => fields.error(
            "amount",
            "a negative amount reduces an earlier line: adjusts_doc_no (原指标文号) is required",
        ),
        Some(a) if a.is_positive() && adjusts_given => fields.error(
            "adjusts_doc_no",
            "adjusts_doc_no is only for negative amounts (a reduction of an earlier line)",
        ),
        _ => {}
    }
    if let (Some(target), Some(own)) = (adjusts, doc_no) {
        if target == own {
            fields.error(
                "adjusts_doc_no",
                format!("document {own} cannot adjust itself"),
            );
        }
    }
}
