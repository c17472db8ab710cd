//! fundledger-formats: readers for the files finance bureaus send and writers
//! for what fundledger produces. Synchronous, no database.
//!
//! Readers: [`open_indicators`] (long or wide indicator files, SPEC §4.4–4.5)
//! and [`open_disbursements`] (SPEC §4.6). Both return iterators that yield
//! every error inline (`Err(RowError)`) and keep going; end-of-file checks
//! such as 合计 rows come last. Nothing here decides what to import: the
//! caller imports nothing if any item was an error.

// Every declared dependency is used (test targets are exempt: each test file
// names only some of them).
#![cfg_attr(not(test), warn(unused_crate_dependencies))]
// Short functions (clippy.toml: at most 70 lines) outside tests.
#![cfg_attr(not(test), warn(clippy::too_many_lines))]

pub mod beancount;
pub mod cells;
mod context;
pub mod csv_guard;
pub mod decode;
mod disbursements;
mod error;
pub mod export;
mod header;
mod html;
mod input;
pub mod labels;
mod limits;
mod long;
mod prescan;
pub mod report;
pub mod report_html;
pub mod report_xlsx;
mod sheets;
pub mod table;
pub mod wide;

pub use context::{EncodingChoice, ImportContext, ReadOptions};
pub use disbursements::{DisbursementReader, DisbursementSummary};
pub use error::RowError;
pub use input::{open_input, Container, Input};
pub use long::{IndicatorLayout, IndicatorSummary, LongReader};
pub use table::{CellValue, RawRow};

use fundledger_core::domain::IndicatorRow;
use std::collections::VecDeque;
use std::path::Path;

/// Parsed rows of an indicator file, errors inline.
pub struct IndicatorReader {
    inner: IndicatorInner,
}

enum IndicatorInner {
    Long(Box<LongReader>),
    /// A wide table is parsed whole (it is small); its result is replayed.
    Buffered {
        items: VecDeque<Result<IndicatorRow, RowError>>,
        summary: IndicatorSummary,
    },
}

impl IndicatorReader {
    /// Complete once the iterator is exhausted.
    pub fn summary(&self) -> &IndicatorSummary {
        match &self.inner {
            IndicatorInner::Long(reader) => reader.summary(),
            IndicatorInner::Buffered { summary, .. } => summary,
        }
    }

    fn from_errors(errors: Vec<RowError>, layout: IndicatorLayout) -> IndicatorReader {
        IndicatorReader {
            inner: IndicatorInner::Buffered {
                items: errors.into_iter().map(Err).collect(),
                summary: IndicatorSummary::new(layout),
            },
        }
    }
}

impl Iterator for IndicatorReader {
    type Item = Result<IndicatorRow, RowError>;
    fn next(&mut self) -> Option<Self::Item> {
        match &mut self.inner {
            IndicatorInner::Long(reader) => reader.next(),
            IndicatorInner::Buffered { items, .. } => items.pop_front(),
        }
    }
}

/// Is this header row an indicator header, long or wide?
fn is_indicator_header(normalised: &[String]) -> bool {
    header::LONG.has_column(normalised, "doc_no")
        || wide::looks_wide(normalised)
        || header::LONG.known_count(normalised) >= 3
}

/// Columns a second header row of an indicator file leaves blank.
fn indicator_key_columns(normalised: &[String]) -> Vec<usize> {
    if wide::looks_wide(normalised) {
        wide::key_columns(normalised)
    } else {
        header::LONG.positions(normalised, &["doc_no", "doc_date", "region_code"])
    }
}

/// Open and read an indicator file, see [`read_indicators`].
pub fn open_indicators(path: &Path, ctx: &ImportContext) -> Result<IndicatorReader, RowError> {
    let options = &ctx.options;
    read_indicators(
        open_input(path, &options.file_label, options.encoding)?,
        ctx,
    )
}

/// Read an indicator file. Long form when the header has a doc_no (指标文号)
/// column; wide when `wide::looks_wide`; otherwise long (and its missing
/// columns are reported). Errors that concern the whole file (cannot open, no
/// header) are returned here; header problems come out as the iterator's items.
pub fn read_indicators(input: Input, ctx: &ImportContext) -> Result<IndicatorReader, RowError> {
    let rule = table::HeaderRule {
        is_header: &is_indicator_header,
        key_columns: &indicator_key_columns,
        expected: "a long-form header with 指标文号/doc_no, 下达日期, 区划代码, 金额 … or a wide header 序号, 地区, 合计, <projects…>",
    };
    let table = table::open_input_table(input, &ctx.options, &rule)?;
    let normalised = table::normalised_texts(&table.header);
    let is_long = header::LONG.has_column(&normalised, "doc_no") || !wide::looks_wide(&normalised);
    if is_long {
        return Ok(match LongReader::new(table, ctx) {
            Ok(reader) => IndicatorReader {
                inner: IndicatorInner::Long(Box::new(reader)),
            },
            Err(errors) => IndicatorReader::from_errors(errors, IndicatorLayout::Long),
        });
    }
    Ok(read_wide(table, ctx))
}

fn read_wide(mut table: table::Table, ctx: &ImportContext) -> IndicatorReader {
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    for row in table.by_ref() {
        match row {
            Ok(row) => rows.push(row),
            Err(e) => errors.push(e),
        }
    }
    if !errors.is_empty() {
        return IndicatorReader::from_errors(errors, IndicatorLayout::Wide);
    }
    match wide::parse_wide(&table.preamble, &table.header, rows, ctx) {
        Ok(parsed) => {
            let mut summary = IndicatorSummary::new(IndicatorLayout::Wide);
            summary.new_projects = parsed.new_projects;
            let mut items = VecDeque::new();
            for line in parsed.lines {
                summary.rows_read += 1;
                match summary.amount_total.checked_add(line.amount) {
                    Ok(sum) => summary.amount_total = sum,
                    Err(e) => items.push_back(Err(RowError::at(
                        &table.file,
                        line.source.line,
                        None,
                        e.to_string(),
                    ))),
                }
                items.push_back(Ok(IndicatorRow::Line(line)));
            }
            IndicatorReader {
                inner: IndicatorInner::Buffered { items, summary },
            }
        }
        Err(errors) => IndicatorReader::from_errors(errors, IndicatorLayout::Wide),
    }
}

/// Is this header row a disbursement header?
fn is_disbursement_header(normalised: &[String]) -> bool {
    header::DISBURSEMENT.has_column(normalised, "voucher_no")
        || header::DISBURSEMENT.known_count(normalised) >= 3
}

/// Columns a second header row of a disbursement file leaves blank.
fn disbursement_key_columns(normalised: &[String]) -> Vec<usize> {
    header::DISBURSEMENT.positions(normalised, &["voucher_no", "paid_on", "region_code"])
}

/// Open and read a disbursement file, see [`read_disbursements`].
pub fn open_disbursements(
    path: &Path,
    ctx: &ImportContext,
) -> Result<DisbursementReader, RowError> {
    let options = &ctx.options;
    read_disbursements(
        open_input(path, &options.file_label, options.encoding)?,
        ctx,
    )
}

/// Read a disbursement file (SPEC §4.6). Errors that concern the whole file
/// are returned here; header problems come out as the iterator's items.
pub fn read_disbursements(
    input: Input,
    ctx: &ImportContext,
) -> Result<DisbursementReader, RowError> {
    let rule = table::HeaderRule {
        is_header: &is_disbursement_header,
        key_columns: &disbursement_key_columns,
        expected:
            "a disbursement header with 支付凭证号/voucher_no, 支付日期, 财政区划代码, 支付金额 …",
    };
    let table = table::open_input_table(input, &ctx.options, &rule)?;
    Ok(DisbursementReader::new(table, ctx))
}
