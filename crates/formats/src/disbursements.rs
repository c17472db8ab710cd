//! Disbursement files (SPEC §4.6): one payment voucher per row, streamed.
//!
//! Decisions: fiscal_year defaults to the year of paid_on; a zero amount is
//! an error; a negative amount (a refund, 退回) needs original_voucher_no, and a
//! positive one must not carry it; a voucher cannot refund itself; projects
//! must already be in the catalog (a disbursement never creates a project);
//! a 合计 row, if present, must equal the sum of the vouchers and is not imported.

use crate::context::ImportContext;
use crate::error::RowError;
use crate::header::{
    is_subtotal_row, is_total_row, map_header, resolve_unit, HeaderMap, RowFields, DISBURSEMENT,
};
use crate::limits::MAX_VOUCHER_NO_CHARS;
use crate::long::{region, Totals};
use crate::table::{RawRow, Table};
use chrono::Datelike;
use fundledger_core::domain::{SourceRef, Voucher};
use fundledger_core::{DocNo, Fen, ProjectCode, Unit};
use std::collections::VecDeque;

/// What a disbursement file held, complete once the reader is exhausted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DisbursementSummary {
    /// Data rows read (total rows excluded), with or without errors.
    pub rows_read: u64,
    /// Sum of the vouchers returned without error (refunds negative).
    pub amount_total: Fen,
}

/// Streaming reader of a disbursement file.
pub struct DisbursementReader {
    /// None when the header could not be used: only its errors are yielded.
    source: Option<Source>,
    pending: VecDeque<Result<Voucher, RowError>>,
    finished: bool,
    summary: DisbursementSummary,
}

struct Source {
    table: Table,
    header: HeaderMap,
    unit: Unit,
    ctx: ImportContext,
    totals: Totals,
}

impl DisbursementReader {
    /// Map the header and settle the unit. Header problems become the
    /// reader's only items (all of them).
    pub fn new(table: Table, ctx: &ImportContext) -> DisbursementReader {
        let file = table.file.clone();
        let settled = map_header(&DISBURSEMENT, &table.header, &file).and_then(|header| {
            let amount_column = header.column_text("amount");
            let unit = resolve_unit(
                &file,
                &header,
                &amount_column,
                &table.preamble,
                ctx.options.unit,
            )
            .map_err(|e| vec![e])?;
            Ok((header, unit))
        });
        let (source, pending) = match settled {
            Ok((header, unit)) => (
                Some(Source {
                    table,
                    header,
                    unit,
                    ctx: ctx.clone(),
                    totals: Totals::default(),
                }),
                VecDeque::new(),
            ),
            Err(errors) => (None, errors.into_iter().map(Err).collect()),
        };
        DisbursementReader {
            source,
            pending,
            finished: false,
            summary: DisbursementSummary::default(),
        }
    }

    pub fn summary(&self) -> &DisbursementSummary {
        &self.summary
    }

    /// The unit of the amounts, None if the header could not be used.
    pub fn unit(&self) -> Option<Unit> {
        self.source.as_ref().map(|s| s.unit)
    }
}

impl Source {
    fn handle_row(
        &mut self,
        row: RawRow,
        summary: &mut DisbursementSummary,
        pending: &mut VecDeque<Result<Voucher, RowError>>,
    ) {
        // Borrowed field by field: the file name is not copied per row.
        let Source {
            table,
            header,
            unit,
            ctx,
            totals,
        } = self;
        let mut fields = RowFields::new(&table.file, header, &row);
        if is_total_row(header, &row) {
            totals.state(&mut fields, *unit, false);
        } else if is_subtotal_row(header, &row) {
            fields.error(
                "amount",
                "a 小计 subtotal row cannot be checked in a disbursement file; remove it",
            );
        } else {
            summary.rows_read += 1;
            let voucher = parse_row(&mut fields, *unit, ctx, totals);
            if let Some(voucher) = voucher {
                match summary.amount_total.checked_add(voucher.amount) {
                    Ok(sum) => {
                        summary.amount_total = sum;
                        pending.push_back(Ok(voucher));
                    }
                    Err(e) => fields.error("amount", e.to_string()),
                }
            }
        }
        let errors = std::mem::take(&mut fields.errors);
        pending.extend(errors.into_iter().map(Err));
    }
}

impl Iterator for DisbursementReader {
    type Item = Result<Voucher, RowError>;
    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(item) = self.pending.pop_front() {
                return Some(item);
            }
            let source = self.source.as_mut()?;
            if self.finished {
                return None;
            }
            match source.table.next() {
                Some(Ok(row)) => source.handle_row(row, &mut self.summary, &mut self.pending),
                Some(Err(e)) => {
                    source.totals.add(None, None);
                    self.pending.push_back(Err(e));
                }
                None => {
                    self.finished = true;
                    let errors = source.totals.check(&source.table.file);
                    self.pending.extend(errors.into_iter().map(Err));
                }
            }
        }
    }
}

fn parse_row(
    fields: &mut RowFields<'_>,
    unit: Unit,
    ctx: &ImportContext,
    totals: &mut Totals,
) -> Option<Voucher> {
    let voucher_no = fields.required_text("voucher_no");
    check_voucher_no_length(fields, "voucher_no", voucher_no.as_deref());
    let paid_on = fields.date("paid_on", true);
    let region = region(fields, ctx, paid_on);
    let project = project(fields, ctx);
    let doc_no = fields.parsed("doc_no", false, DocNo::parse);
    let fiscal_year = fields.fiscal_year();
    let amount = fields.amount(unit);
    let original = fields.text("original_voucher_no");
    check_voucher_no_length(fields, "original_voucher_no", original.as_deref());
    let payee = fields.text("payee");
    let memo = fields.text("memo");
    check_refund(fields, amount, original.as_deref(), voucher_no.as_deref());
    totals.add(None, amount);
    if !fields.errors.is_empty() {
        return None;
    }
    let paid_on = paid_on?;
    Some(Voucher {
        voucher_no: voucher_no?,
        paid_on,
        region: region?,
        project: project?,
        doc_no,
        fiscal_year: fiscal_year.unwrap_or_else(|| paid_on.year()),
        amount: amount?,
        original_voucher_no: original,
        payee,
        memo,
        source: SourceRef {
            file: fields.file.to_string(),
            line: fields.row.line,
        },
    })
}

/// A voucher number is a short code that keys the ledger; a long one is a
/// wrong column or a hostile file, never stored.
fn check_voucher_no_length(fields: &mut RowFields<'_>, canonical: &str, text: Option<&str>) {
    if let Some(text) = text.filter(|t| t.chars().count() > MAX_VOUCHER_NO_CHARS) {
        let message = format!(
            "`{}` is not a voucher number: more than {MAX_VOUCHER_NO_CHARS} characters",
            crate::limits::shown(text)
        );
        fields.error(canonical, message);
    }
}

/// The project by code or name; it must be in the catalog.
fn project(fields: &mut RowFields<'_>, ctx: &ImportContext) -> Option<ProjectCode> {
    let code = fields.text("project_code");
    let name = fields.text("project_name");
    let column = if code.is_some() {
        "project_code"
    } else {
        "project_name"
    };
    if code.is_none() && name.is_none() {
        fields.error(
            column,
            "project_code and project_name are both empty (one is required)",
        );
        return None;
    }
    match ctx
        .projects
        .resolve(code.as_deref(), name.as_deref(), false)
    {
        Ok(Some(code)) => Some(code),
        Ok(None) => {
            fields.error(
                column,
                "unknown project (a disbursement cannot introduce a project)",
            );
            None
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

/// A refund names the voucher it returns; a payment does not.
fn check_refund(
    fields: &mut RowFields<'_>,
    amount: Option<Fen>,
    original: Option<&str>,
    own: Option<&str>,
) {
    match amount {
        Some(a) if a.is_negative() && original.is_none() => fields.error(
            "amount",
            "a negative amount is a refund: original_voucher_no (原支付凭证号) is required",
        ),
        Some(a) if a.is_positive() && original.is_some() => fields.error(
            "original_voucher_no",
            "original_voucher_no is only for negative amounts (refunds)",
        ),
        _ => {}
    }
    if let (Some(original), Some(own)) = (original, own) {
        if original == own {
            fields.error(
                "original_voucher_no",
                format!("voucher {own} cannot refund itself"),
            );
        }
    }
}
