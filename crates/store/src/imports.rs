//! Applying parsed indicator rows and vouchers to the ledger, in chunks, with
//! the ledger-level checks of SPEC §4.7: duplicates (within the command and
//! against the ledger), closed periods, rolled-over years, reduction targets,
//! refund originals and the pool limit. Rejections are collected, never
//! raised one at a time, and the caller rolls back if there are any.

use crate::ledger::{
    append_with_details, closed_through, pool_state, INDICATOR_LINES, REDUCTIONS, VOUCHERS,
};
use crate::read::Cells;
use crate::sql::Sql;
use crate::write::{placeholders, Val, WriteTx};
use crate::{Result, StoreError};
use chrono::NaiveDate;
use fundledger_core::adjustments::{
    check_reduction, check_refund, OriginalVoucher, ReductionTarget,
};
use fundledger_core::capped::KEPT_PROBLEMS;
use fundledger_core::domain::{IndicatorLine, IndicatorRow, Reduction, Voucher};
use fundledger_core::{Account, Fen, LineKey, Transaction, TxKind, TxMeta};
use std::collections::{BTreeSet, HashMap};

/// A row the ledger refuses. Display: `FILE:LINE: column: message`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LedgerRejection {
    pub file: String,
    pub line: u64,
    pub column: Option<String>,
    pub message: String,
}

impl std::fmt::Display for LedgerRejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.column, self.line) {
            (Some(c), l) if l > 0 => write!(f, "{}:{}: {}: {}", self.file, l, c, self.message),
            (None, l) if l > 0 => write!(f, "{}:{}: {}", self.file, l, self.message),
            _ => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

/// Counts for one file (or one command).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImportOutcome {
    pub added: u64,
    /// Of `added`: reductions or refunds, applied after every file of the
    /// command was read (their targets may come later in the files).
    pub applied_after_reading: u64,
    pub skipped: u64,
    pub amount_added: Fen,
    /// The first [`KEPT_PROBLEMS`] rejections, in order.
    pub rejections: Vec<LedgerRejection>,
    /// Rejections past those kept: counted, not held in memory.
    pub rejections_omitted: u64,
}

impl ImportOutcome {
    fn reject(&mut self, rejection: LedgerRejection) {
        if self.rejections.len() < KEPT_PROBLEMS {
            self.rejections.push(rejection);
        } else {
            self.rejections_omitted += 1;
        }
    }
}

/// Transaction ids looked up per query (bound parameters stay well under
/// every backend's limit).
const TX_IDS_PER_LOOKUP: usize = 500;

/// What the ledger already holds under a transaction id.
struct Existing {
    details: Option<String>,
    source: String,
    batch_id: i64,
}

async fn existing_by_tx_id(w: &mut WriteTx, ids: &[String]) -> Result<HashMap<String, Existing>> {
    let mut found = HashMap::new();
    for chunk in ids.chunks(TX_IDS_PER_LOOKUP) {
        let sql = format!(
            "SELECT tx_id, details, source_file, source_line, batch_id FROM journal WHERE tx_id IN ({})",
            placeholders(w.backend(), chunk.len())
        );
        let args = chunk.iter().map(|id| Val::Text(id.clone())).collect();
        for r in w.rows(&sql, args).await? {
            let file = r.opt_text(2)?;
            let line = r.opt_int(3)?;
            found.insert(
                r.text(0)?,
                Existing {
                    details: r.opt_text(1)?,
                    source: format!("{}:{}", file.unwrap_or_default(), line.unwrap_or(0)),
                    batch_id: r.int(4)?,
                },
            );
        }
    }
    Ok(found)
}

/// Years whose rollover has run: nothing may be added to them any more.
async fn rolled_years(w: &mut WriteTx) -> Result<BTreeSet<i32>> {
    w.rows("SELECT fiscal_year FROM rollovers", Vec::new())
        .await?
        .iter()
        .map(|r| Ok(r.int(0)? as i32))
        .collect()
}

fn date_text(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

/// Identity of a row for "already present": same details, ignoring the
/// import setting `deadline_days` (not part of the file's content).
fn same_content(stored: Option<&str>, new: &str) -> bool {
    fn strip(d: &str) -> &str {
        d.split(";deadline_days=").next().unwrap_or(d)
    }
    stored.is_some_and(|s| strip(s) == strip(new))
}

/// Decision for a row whose key may already exist.
enum Presence {
    New,
    Skip,
    Reject(String),
}

/// `what` names the row in a rejection; it is only built for one.
fn presence(
    existing: Option<&Existing>,
    batch_ids: &BTreeSet<i64>,
    details: &str,
    what: impl FnOnce() -> String,
) -> Presence {
    match existing {
        None => Presence::New,
        Some(e) if batch_ids.contains(&e.batch_id) => Presence::Reject(format!(
            "{} appears twice in this import: first at {}",
            what(),
            e.source
        )),
        Some(e) if same_content(e.details.as_deref(), details) => Presence::Skip,
        Some(e) => Presence::Reject(format!(
            "{} is already in the ledger with different content (from {})",
            what(),
            e.source
        )),
    }
}

/// What a row added by this command leaves for later rows of the command:
/// only where it came from. Its details are never compared, because a
/// second row with its key in the same command is refused as a duplicate
/// before content is looked at.
fn added_here(source: String, batch_id: i64) -> Existing {
    Existing {
        details: None,
        source,
        batch_id,
    }
}

fn indicator_tx_id(key: &LineKey) -> String {
    format!("indicator:{}:{}:{}", key.doc_no, key.region, key.project)
}

/// The stored reduction with the same identity (doc_no, region, project,
/// adjusts_doc_no), if any: one adjusting document may reduce the same region
/// and project in several earlier documents.
async fn existing_reduction(w: &mut WriteTx, r: &Reduction) -> Result<Option<Existing>> {
    let row = w
        .row(
            "SELECT j.details, j.source_file, j.source_line, j.batch_id \
             FROM reductions r JOIN journal j ON j.entry_no = r.entry_no \
             WHERE r.doc_no = $1 AND r.region_code = $2 AND r.project_code = $3 AND r.target_doc_no = $4",
            vec![
                Val::Text(r.key.doc_no.to_string()),
                Val::Text(r.key.region.to_string()),
                Val::Text(r.key.project.to_string()),
                Val::Text(r.target.doc_no.to_string()),
            ],
        )
        .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let file = row.opt_text(1)?;
    let line = row.opt_int(2)?;
    Ok(Some(Existing {
        details: row.opt_text(0)?,
        source: format!("{}:{}", file.unwrap_or_default(), line.unwrap_or(0)),
        batch_id: row.int(3)?,
    }))
}

/// A reduction's journal id. The first reduction of a (doc_no, region,
/// project) keeps the id it always had (so existing chains are unchanged);
/// a further one of the same key, reducing another document, names that
/// document too.
async fn reduction_tx_id(w: &mut WriteTx, r: &Reduction) -> Result<String> {
    let base = indicator_tx_id(&r.key);
    let taken = existing_by_tx_id(w, std::slice::from_ref(&base)).await?;
    Ok(if taken.is_empty() {
        base
    } else {
        format!("{base}:adjusts:{}", r.target.doc_no)
    })
}

/// State carried across the chunks of one import command.
pub struct IndicatorImport {
    deadline_days: i64,
    closed: Option<NaiveDate>,
    rolled: BTreeSet<i32>,
    /// Batches of this command (one per file): a key seen in any is a duplicate.
    batch_ids: BTreeSet<i64>,
    reductions: Vec<Reduction>,
    touched_years: BTreeSet<i32>,
    pub outcome: ImportOutcome,
}

impl IndicatorImport {
    pub async fn start(w: &mut WriteTx, deadline_days: i64) -> Result<IndicatorImport> {
        if deadline_days < 0 {
            return Err(StoreError::Refused(format!(
                "--deadline-days must be >= 0, not {deadline_days}"
            )));
        }
        Ok(IndicatorImport {
            deadline_days,
            closed: closed_through(w).await?,
            rolled: rolled_years(w).await?,
            batch_ids: BTreeSet::new(),
            reductions: Vec::new(),
            touched_years: BTreeSet::new(),
            outcome: ImportOutcome::default(),
        })
    }

    /// Call when the writer switches to a new file's batch.
    pub fn note_batch(&mut self, batch_id: i64) {
        self.batch_ids.insert(batch_id);
    }

    /// Reductions read so far and held until `finish`.
    pub fn deferred(&self) -> u64 {
        self.reductions.len() as u64
    }

    pub async fn push_chunk(&mut self, w: &mut WriteTx, rows: Vec<IndicatorRow>) -> Result<()> {
        let mut lines = Vec::with_capacity(rows.len());
        for row in rows {
            match row {
                IndicatorRow::Line(l) => lines.push(l),
                // Reductions wait for every line of the command: their
                // target may come later in the same file or command.
                IndicatorRow::Reduction(r) => self.reductions.push(r),
            }
        }
        let ids: Vec<String> = lines.iter().map(|l| indicator_tx_id(&l.key)).collect();
        let mut existing = existing_by_tx_id(w, &ids).await?;
        for (line, id) in lines.into_iter().zip(ids) {
            let row = self.line_row(&line);
            let details = INDICATOR_LINES.details(&row);
            match presence(existing.get(&id), &self.batch_ids, &details, || {
                format!("line {}", line.key)
            }) {
                Presence::Skip => self.outcome.skipped += 1,
                Presence::Reject(message) => self.reject(&line.source, Some("doc_no"), message),
                Presence::New => {
                    if let Some((column, message)) =
                        self.period_refusal(line.doc_date, line.fiscal_year)
                    {
                        self.reject(&line.source, Some(column), message);
                        continue;
                    }
                    let source = line.source.to_string();
                    self.add_line(w, &line, row, details, &id).await?;
                    existing.insert(id, added_here(source, w.batch_id()));
                }
            }
        }
        Ok(())
    }

    fn line_row(&self, l: &IndicatorLine) -> Vec<Val> {
        vec![
            Val::Text(l.key.doc_no.to_string()),
            Val::Text(l.key.region.to_string()),
            Val::Text(l.key.project.to_string()),
            Val::Int(i64::from(l.fiscal_year)),
            Val::Text(date_text(l.doc_date)),
            Val::Int(l.amount.as_i64()),
            Val::OptText(l.func_code.clone()),
            Val::OptText(l.remark.clone()),
            Val::Int(self.deadline_days),
        ]
    }

    /// The column at fault and why: the date for a closed period, the
    /// fiscal year for a rolled-over year.
    fn period_refusal(&self, date: NaiveDate, year: i32) -> Option<(&'static str, String)> {
        if let Some(c) = self.closed.filter(|c| date <= *c) {
            let message = format!(
                "{} is in a closed period (closed through {})",
                date_text(date),
                date_text(c)
            );
            return Some(("doc_date", message));
        }
        if self.rolled.iter().any(|r| year <= *r) {
            let message =
                format!("fiscal year {year} has been rolled over; nothing more can be added to it");
            return Some(("fiscal_year", message));
        }
        None
    }

    fn reject(
        &mut self,
        source: &fundledger_core::domain::SourceRef,
        column: Option<&str>,
        message: String,
    ) {
        self.outcome.reject(LedgerRejection {
            file: source.file.clone(),
            line: source.line,
            column: column.map(str::to_string),
            message,
        });
    }

    async fn add_line(
        &mut self,
        w: &mut WriteTx,
        l: &IndicatorLine,
        row: Vec<Val>,
        details: String,
        id: &str,
    ) -> Result<()> {
        let year = l.fiscal_year;
        let meta = TxMeta {
            fiscal_year: Some(year),
            doc_no: Some(l.key.doc_no.to_string()),
            region_code: Some(l.key.region.to_string()),
            project_code: Some(l.key.project.to_string()),
            source_file: Some(l.source.file.clone()),
            source_line: Some(l.source.line),
            ..TxMeta::default()
        };
        let description = format!(
            "allocation {} {} {}",
            l.key.doc_no, l.key.region, l.key.project
        );
        append_with_details(w, &INDICATOR_LINES, row, details, |details| {
            Ok(Transaction::transfer(
                id.to_string(),
                l.doc_date,
                TxKind::Allocation,
                description,
                TxMeta {
                    details: Some(details),
                    ..meta
                },
                Account::allocated(year, l.key.region, &l.key.project),
                Account::pool(year),
                l.amount,
            )?)
        })
        .await?;
        self.touched_years.insert(year);
        self.outcome.added += 1;
        self.outcome.amount_added = self
            .outcome
            .amount_added
            .checked_add(l.amount)
            .map_err(|_| StoreError::Refused("import total overflows".into()))?;
        Ok(())
    }

    /// Applies the reductions, then checks every touched year's pool.
    pub async fn finish(mut self, w: &mut WriteTx, label: &str) -> Result<ImportOutcome> {
        let reductions = std::mem::take(&mut self.reductions);
        for r in reductions {
            self.apply_reduction(w, r).await?;
        }
        for year in std::mem::take(&mut self.touched_years) {
            let message = match pool_state(w, year).await? {
                None => Some(format!(
                    "fiscal year {year} has no pool: run `fundledger budget set --fiscal-year {year} --amount-yuan N` first"
                )),
                Some(p) if p.unallocated.is_negative() => Some(format!(
                    "allocations of fiscal year {year} would exceed its pool: pool {}, allocated {}, excess {}",
                    p.budget,
                    p.allocated()?,
                    p.unallocated.checked_neg()?
                )),
                Some(_) => None,
            };
            if let Some(message) = message {
                self.outcome.reject(LedgerRejection {
                    file: label.to_string(),
                    line: 0,
                    column: None,
                    message,
                });
            }
        }
        Ok(self.outcome)
    }

    async fn apply_reduction(&mut self, w: &mut WriteTx, r: Reduction) -> Result<()> {
        let row = reduction_row(&r);
        let details = REDUCTIONS.details(&row);
        let existing = existing_reduction(w, &r).await?;
        match presence(existing.as_ref(), &self.batch_ids, &details, || {
            format!("reduction {} of {}", r.key, r.target.doc_no)
        }) {
            Presence::Skip => {
                self.outcome.skipped += 1;
                return Ok(());
            }
            Presence::Reject(message) => {
                self.reject(&r.source, Some("doc_no"), message);
                return Ok(());
            }
            Presence::New => {}
        }
        let target = reduction_target(w, &r.target).await?;
        let year = match check_reduction(&r, target.as_ref())? {
            Ok(year) => year,
            Err(refusal) => {
                self.reject(&r.source, Some(refusal.column()), refusal.to_string());
                return Ok(());
            }
        };
        if let Some((column, message)) = self.period_refusal(r.doc_date, year) {
            self.reject(&r.source, Some(column), message);
            return Ok(());
        }
        let id = reduction_tx_id(w, &r).await?;
        append_reduction(w, &r, year, id, row, details).await?;
        self.touched_years.insert(year);
        self.outcome.added += 1;
        self.outcome.applied_after_reading += 1;
        self.outcome.amount_added = self
            .outcome
            .amount_added
            .checked_add(r.amount)
            .map_err(|_| StoreError::Refused("import total overflows".into()))?;
        Ok(())
    }
}

/// State carried across the chunks of one disbursement import.
pub struct VoucherImport {
    closed: Option<NaiveDate>,
    rolled: BTreeSet<i32>,
    batch_ids: BTreeSet<i64>,
    refunds: Vec<Voucher>,
    /// Refunds wait for `finish`, so a repeated refund number in a later
    /// chunk is caught here rather than by the journal's unique key.
    refund_numbers: HashMap<String, String>,
    pub outcome: ImportOutcome,
}

fn voucher_tx_id(voucher_no: &str) -> String {
    format!("voucher:{voucher_no}")
}

fn reduction_row(r: &Reduction) -> Vec<Val> {
    vec![
        Val::Text(r.key.doc_no.to_string()),
        Val::Text(r.key.region.to_string()),
        Val::Text(r.key.project.to_string()),
        Val::Text(r.target.doc_no.to_string()),
        Val::Int(i64::from(r.fiscal_year)),
        Val::Text(date_text(r.doc_date)),
        Val::Int(r.amount.as_i64()),
        Val::OptText(r.remark.clone()),
    ]
}

/// Writes an accepted reduction: its row and the entry moving the amount
/// from the line's allocation back to the pool of `year`.
async fn append_reduction(
    w: &mut WriteTx,
    r: &Reduction,
    year: i32,
    id: String,
    row: Vec<Val>,
    details: String,
) -> Result<()> {
    let meta = TxMeta {
        fiscal_year: Some(year),
        doc_no: Some(r.key.doc_no.to_string()),
        region_code: Some(r.key.region.to_string()),
        project_code: Some(r.key.project.to_string()),
        source_file: Some(r.source.file.clone()),
        source_line: Some(r.source.line),
        ..TxMeta::default()
    };
    let description = format!("adjustment {} reduces {}", r.key.doc_no, r.target);
    let amount = r.amount.checked_neg()?;
    append_with_details(w, &REDUCTIONS, row, details, |details| {
        Ok(Transaction::transfer(
            id.clone(),
            r.doc_date,
            TxKind::Adjustment,
            description,
            TxMeta {
                details: Some(details),
                ..meta
            },
            Account::pool(year),
            Account::allocated(year, r.key.region, &r.key.project),
            amount,
        )?)
    })
    .await?;
    Ok(())
}

fn voucher_row(v: &Voucher) -> Vec<Val> {
    vec![
        Val::Text(v.voucher_no.clone()),
        Val::Text(date_text(v.paid_on)),
        Val::Int(i64::from(v.fiscal_year)),
        Val::Text(v.region.to_string()),
        Val::Text(v.project.to_string()),
        Val::OptText(v.doc_no.as_ref().map(|d| d.to_string())),
        Val::Int(v.amount.as_i64()),
        Val::OptText(v.original_voucher_no.clone()),
        Val::OptText(v.payee.clone()),
        Val::OptText(v.memo.clone()),
    ]
}

impl VoucherImport {
    pub async fn start(w: &mut WriteTx) -> Result<VoucherImport> {
        Ok(VoucherImport {
            closed: closed_through(w).await?,
            rolled: rolled_years(w).await?,
            batch_ids: BTreeSet::new(),
            refunds: Vec::new(),
            refund_numbers: HashMap::new(),
            outcome: ImportOutcome::default(),
        })
    }

    pub fn note_batch(&mut self, batch_id: i64) {
        self.batch_ids.insert(batch_id);
    }

    /// Refunds read so far and held until `finish`.
    pub fn deferred(&self) -> u64 {
        self.refunds.len() as u64
    }

    pub async fn push_chunk(&mut self, w: &mut WriteTx, vouchers: Vec<Voucher>) -> Result<()> {
        let ids: Vec<String> = vouchers
            .iter()
            .map(|v| voucher_tx_id(&v.voucher_no))
            .collect();
        let mut existing = existing_by_tx_id(w, &ids).await?;
        for (v, id) in vouchers.into_iter().zip(ids) {
            let row = voucher_row(&v);
            let details = VOUCHERS.details(&row);
            match presence(existing.get(&id), &self.batch_ids, &details, || {
                format!("voucher {}", v.voucher_no)
            }) {
                Presence::Skip => self.outcome.skipped += 1,
                Presence::Reject(message) => self.reject(&v, Some("voucher_no"), message),
                Presence::New => {
                    existing.insert(id, added_here(v.source.to_string(), w.batch_id()));
                    if let Some((column, message)) = self.period_refusal(&v) {
                        self.reject(&v, Some(column), message);
                    } else if v.amount.is_negative() {
                        // Refunds wait until every voucher of the command is
                        // in, so an original later in the files is found.
                        if let Some(first) = self.refund_numbers.get(&v.voucher_no) {
                            let message = format!(
                                "voucher {} appears twice in this import: first at {first}",
                                v.voucher_no
                            );
                            self.reject(&v, Some("voucher_no"), message);
                        } else {
                            self.refund_numbers
                                .insert(v.voucher_no.clone(), v.source.to_string());
                            self.refunds.push(v);
                        }
                    } else {
                        self.add(w, v, row, details).await?;
                    }
                }
            }
        }
        Ok(())
    }

    /// The column at fault and why: paid_on for a closed period, the fiscal
    /// year (given, or the year of paid_on) for a rolled-over year.
    fn period_refusal(&self, v: &Voucher) -> Option<(&'static str, String)> {
        if let Some(c) = self.closed.filter(|c| v.paid_on <= *c) {
            let message = format!(
                "{} is in a closed period (closed through {})",
                date_text(v.paid_on),
                date_text(c)
            );
            return Some(("paid_on", message));
        }
        if self.rolled.iter().any(|r| v.fiscal_year <= *r) {
            let message = format!(
                "fiscal year {} has been rolled over; its vouchers can no longer be added",
                v.fiscal_year
            );
            return Some(("fiscal_year", message));
        }
        None
    }

    fn reject(&mut self, v: &Voucher, column: Option<&str>, message: String) {
        self.outcome.reject(LedgerRejection {
            file: v.source.file.clone(),
            line: v.source.line,
            column: column.map(str::to_string),
            message,
        });
    }

    async fn add(
        &mut self,
        w: &mut WriteTx,
        v: Voucher,
        row: Vec<Val>,
        details: String,
    ) -> Result<()> {
        let year = v.fiscal_year;
        let refund = v.amount.is_negative();
        let meta = TxMeta {
            fiscal_year: Some(year),
            doc_no: v.doc_no.as_ref().map(|d| d.to_string()),
            voucher_no: Some(v.voucher_no.clone()),
            region_code: Some(v.region.to_string()),
            project_code: Some(v.project.to_string()),
            source_file: Some(v.source.file.clone()),
            source_line: Some(v.source.line),
            ..TxMeta::default()
        };
        let (kind, description) = if refund {
            let original = v.original_voucher_no.as_deref().unwrap_or("");
            (
                TxKind::Refund,
                format!("refund {} of {original}", v.voucher_no),
            )
        } else {
            (
                TxKind::Disbursement,
                format!("disbursement {}", v.voucher_no),
            )
        };
        let disbursed = Account::disbursed(year, v.region, &v.project);
        let allocated = Account::allocated(year, v.region, &v.project);
        append_with_details(w, &VOUCHERS, row, details, |details| {
            Ok(Transaction::transfer(
                voucher_tx_id(&v.voucher_no),
                v.paid_on,
                kind,
                description,
                TxMeta {
                    details: Some(details),
                    ..meta
                },
                disbursed,
                allocated,
                v.amount,
            )?)
        })
        .await?;
        self.outcome.added += 1;
        self.outcome.amount_added = self
            .outcome
            .amount_added
            .checked_add(v.amount)
            .map_err(|_| StoreError::Refused("import total overflows".into()))?;
        Ok(())
    }

    /// Applies refunds against their originals, then returns the counts.
    pub async fn finish(mut self, w: &mut WriteTx) -> Result<ImportOutcome> {
        let refunds = std::mem::take(&mut self.refunds);
        for v in refunds {
            if let Some(message) = self.refund_refusal(w, &v).await? {
                self.reject(&v, Some("original_voucher_no"), message);
                continue;
            }
            let row = voucher_row(&v);
            let details = VOUCHERS.details(&row);
            self.add(w, v, row, details).await?;
            self.outcome.applied_after_reading += 1;
        }
        Ok(self.outcome)
    }

    /// A refund must name a payment of the same year, region and project,
    /// and may not return more than that payment has left (core's rule over
    /// the original's stored row).
    async fn refund_refusal(&self, w: &mut WriteTx, v: &Voucher) -> Result<Option<String>> {
        let original_no = v.original_voucher_no.clone().unwrap_or_default();
        let original = original_voucher(w, &original_no).await?;
        Ok(check_refund(v, original.as_ref())?
            .err()
            .map(|refusal| refusal.to_string()))
    }
}

/// The stored line a reduction targets, with the sum of its stored
/// reductions; `None` when the line is not in the ledger.
async fn reduction_target(w: &mut WriteTx, target: &LineKey) -> Result<Option<ReductionTarget>> {
    let key = || {
        vec![
            Val::Text(target.doc_no.to_string()),
            Val::Text(target.region.to_string()),
            Val::Text(target.project.to_string()),
        ]
    };
    let found = w
        .row(
            "SELECT origin_year, amount_fen FROM indicator_lines WHERE doc_no = $1 AND region_code = $2 AND project_code = $3",
            key(),
        )
        .await?;
    let Some(found) = found else {
        return Ok(None);
    };
    let origin_year = found.int(0)?;
    let allocated_fen = found.int(1)?;
    let reduced_fen = w
        .int(
            "SELECT CAST(COALESCE(SUM(amount_fen), 0) AS BIGINT) FROM reductions \
             WHERE target_doc_no = $1 AND region_code = $2 AND project_code = $3",
            key(),
        )
        .await?;
    Ok(Some(ReductionTarget {
        origin_year: origin_year as i32,
        allocated: Fen::new(allocated_fen),
        reduced: Fen::new(reduced_fen),
    }))
}

/// The stored payment a refund names, with the sum of its stored refunds;
/// `None` when it is not in the ledger.
async fn original_voucher(w: &mut WriteTx, voucher_no: &str) -> Result<Option<OriginalVoucher>> {
    let number = || vec![Val::Text(voucher_no.to_string())];
    let found = w
        .row(
            "SELECT fiscal_year, region_code, project_code, amount_fen FROM vouchers WHERE voucher_no = $1",
            number(),
        )
        .await?;
    let Some(o) = found else {
        return Ok(None);
    };
    let (fiscal_year, region, project, amount_fen) = (o.int(0)?, o.text(1)?, o.text(2)?, o.int(3)?);
    let refunded_fen = w
        .int(
            "SELECT CAST(COALESCE(SUM(amount_fen), 0) AS BIGINT) FROM vouchers WHERE original_voucher_no = $1",
            number(),
        )
        .await?;
    Ok(Some(OriginalVoucher {
        fiscal_year,
        region,
        project,
        amount: Fen::new(amount_fen),
        refunded: Fen::new(refunded_fen),
    }))
}

#[cfg(test)]
mod tests {
    use super::{ImportOutcome, LedgerRejection, KEPT_PROBLEMS};

    /// Issue 15: a file rejected row by row keeps at most KEPT_PROBLEMS
    /// rejections in memory; the rest are counted, none is lost from the total.
    #[test]
    fn rejections_past_the_cap_are_counted_not_kept() {
        let mut outcome = ImportOutcome::default();
        for line in 0..(KEPT_PROBLEMS as u64 + 5) {
            outcome.reject(LedgerRejection {
                file: "f.csv".into(),
                line,
                column: None,
                message: "duplicate".into(),
            });
        }
        assert_eq!(outcome.rejections.len(), KEPT_PROBLEMS);
        assert_eq!(outcome.rejections_omitted, 5);
        assert_eq!(outcome.rejections[0].line, 0);
    }
}
