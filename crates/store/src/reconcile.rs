//! Loading the reconciliation's inputs: every line-year (original lines with
//! their reductions, carried line-years) and the vouchers as one sorted
//! stream, so memory is bounded by lines, not vouchers.

use crate::ledger::parse_date;
use crate::read::{Cells, TextCells};
use crate::scan::SqliteScan;
use crate::{Backend, Result, Store, StoreError};
use chrono::NaiveDate;
use fundledger_core::reconcile::{LineYear, ReconcileParams, Reconciler, Report, VoucherIn};
use fundledger_core::{DocNo, Fen, LineKey, ProjectCode, RegionCode};
use futures_util::TryStreamExt;
use sqlx::AnyConnection;
use std::collections::{BTreeMap, HashMap, HashSet};

fn corrupt(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("{what}: {e}"))
}

/// Parses the codes and dates of line rows, each distinct text once: a
/// document's lines share its number and date, a project's its code.
#[derive(Default)]
struct LineReader {
    doc_nos: HashMap<String, DocNo>,
    projects: HashMap<String, ProjectCode>,
    dates: HashMap<String, NaiveDate>,
}

impl LineReader {
    fn key(
        &mut self,
        r: &impl TextCells,
        doc: usize,
        region: usize,
        project: usize,
    ) -> Result<LineKey> {
        Ok(LineKey {
            doc_no: cached(&mut self.doc_nos, r.str(doc)?, |t| {
                DocNo::parse(t).map_err(|e| corrupt("stored doc_no", e))
            })?,
            region: RegionCode::parse(r.str(region)?).map_err(|e| corrupt("stored region", e))?,
            project: cached(&mut self.projects, r.str(project)?, |t| {
                ProjectCode::parse(t).map_err(|e| corrupt("stored project", e))
            })?,
        })
    }

    fn date(&mut self, r: &impl TextCells, i: usize) -> Result<NaiveDate> {
        cached(&mut self.dates, r.str(i)?, parse_date)
    }
}

/// `parse(text)` through `cache`; the cache holds at most one entry per
/// line row read, so it is bounded by lines like the rest of the load.
fn cached<T: Clone>(
    cache: &mut HashMap<String, T>,
    text: &str,
    parse: impl FnOnce(&str) -> Result<T>,
) -> Result<T> {
    if let Some(value) = cache.get(text) {
        return Ok(value.clone());
    }
    let value = parse(text)?;
    cache.insert(text.to_string(), value.clone());
    Ok(value)
}

impl Store {
    /// Every line-year in the ledger, keyed by (fiscal year, line).
    pub async fn line_years(&self) -> Result<Vec<LineYear>> {
        let mut conn = self.pool().acquire().await?;
        load_line_years(&mut conn).await
    }

    /// Runs the reconciliation of SPEC §5 over the whole ledger, reading
    /// lines, refunds and vouchers in one snapshot: an import committing
    /// meanwhile is either wholly in the report or wholly out of it.
    pub async fn reconcile(&self, params: ReconcileParams) -> Result<Report> {
        if let (Backend::Sqlite, Some(path)) = (self.backend(), self.sqlite_path()) {
            let path = path.to_string();
            return tokio::task::spawn_blocking(move || reconcile_sqlite(&path, params))
                .await
                .expect("the reconciliation task never panics");
        }
        let as_of = params.as_of.format("%Y-%m-%d").to_string();
        let mut tx = self.pool().begin().await?;
        if self.backend() == Backend::Postgres {
            // READ COMMITTED (the default) takes a new snapshot per statement.
            sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                .execute(&mut *tx)
                .await?;
        }
        let lines = load_line_years(&mut tx).await?;
        let refunded: Vec<String> = sqlx::query_scalar(REFUNDED).fetch_all(&mut *tx).await?;
        let mut engine =
            Reconciler::new(lines, refunded.into_iter().collect::<HashSet<_>>(), params);
        stream_vouchers(&mut tx, self.backend(), &as_of, &mut engine).await?;
        tx.rollback().await?;
        engine
            .finish()
            .map_err(|e| StoreError::Refused(e.to_string()))
    }
}

/// Vouchers dated <= `as_of` in (paid_on, voucher_no) byte order, as one
/// query streamed row by row. Keyset pages re-scanned and re-sorted the
/// remaining vouchers for every page on PostgreSQL (no index serves the byte
/// order `COLLATE "C"`), quadratic in vouchers; on SQLite, whose default
/// collation is byte order, pages were no faster (sqlx hands rows over one by
/// one either way).
async fn stream_vouchers(
    conn: &mut AnyConnection,
    backend: Backend,
    as_of: &str,
    engine: &mut Reconciler,
) -> Result<()> {
    let sql = match backend {
        Backend::Sqlite => format!(
            "SELECT {VOUCHER_COLUMNS} FROM vouchers WHERE paid_on <= ? ORDER BY paid_on, voucher_no"
        ),
        Backend::Postgres => format!(
            "SELECT {VOUCHER_COLUMNS} FROM vouchers WHERE paid_on <= $1 \
             ORDER BY paid_on COLLATE \"C\", voucher_no COLLATE \"C\""
        ),
    };
    let mut rows = sqlx::query(&sql).bind(as_of).fetch(&mut *conn);
    let mut reader = VoucherReader::default();
    while let Some(row) = rows.try_next().await? {
        engine
            .push_ref(reader.read(&row)?)
            .map_err(|e| StoreError::Refused(e.to_string()))?;
    }
    Ok(())
}

const VOUCHER_COLUMNS: &str = "voucher_no, paid_on, fiscal_year, region_code, project_code, doc_no, amount_fen, original_voucher_no";

/// Line-years by (fiscal year, line).
type LineYears = BTreeMap<(i32, LineKey), LineYear>;

const ORIGINAL_LINES: &str = "SELECT doc_no, region_code, project_code, origin_year, doc_date, \
    deadline_days, amount_fen FROM indicator_lines";
const REDUCTIONS: &str = "SELECT r.target_doc_no, r.region_code, r.project_code, r.doc_date, \
    r.amount_fen, l.origin_year FROM reductions r JOIN indicator_lines l \
    ON l.doc_no = r.target_doc_no AND l.region_code = r.region_code \
    AND l.project_code = r.project_code";
const CARRIES: &str = "SELECT doc_no, to_region, project_code, from_year, origin_year, doc_date, \
    deadline_days, carried_on, amount_fen FROM carries";
const REFUNDED: &str =
    "SELECT DISTINCT original_voucher_no FROM vouchers WHERE original_voucher_no IS NOT NULL";

/// Every line-year, read on `conn` (inside the caller's snapshot).
async fn load_line_years(conn: &mut AnyConnection) -> Result<Vec<LineYear>> {
    let mut years: LineYears = BTreeMap::new();
    let mut reader = LineReader::default();
    for r in &sqlx::query(ORIGINAL_LINES).fetch_all(&mut *conn).await? {
        add_original_line(&mut years, &mut reader, r)?;
    }
    for r in &sqlx::query(REDUCTIONS).fetch_all(&mut *conn).await? {
        add_reduction(&mut years, &mut reader, r)?;
    }
    for r in &sqlx::query(CARRIES).fetch_all(&mut *conn).await? {
        add_carry(&mut years, &mut reader, r)?;
    }
    Ok(years.into_values().collect())
}

/// Each indicator line is a line-year of its origin year.
fn add_original_line(years: &mut LineYears, p: &mut LineReader, r: &impl TextCells) -> Result<()> {
    let k = p.key(r, 0, 1, 2)?;
    let origin = r.int(3)? as i32;
    let doc_date = p.date(r, 4)?;
    years.insert(
        (origin, k.clone()),
        LineYear {
            key: k,
            fiscal_year: origin,
            origin_year: origin,
            doc_date,
            deadline_days: r.int(5)?,
            allocation_events: vec![(doc_date, Fen::new(r.int(6)?))],
        },
    );
    Ok(())
}

/// A reduction is an allocation event of the line-year it reduces.
fn add_reduction(years: &mut LineYears, p: &mut LineReader, r: &impl TextCells) -> Result<()> {
    let k = p.key(r, 0, 1, 2)?;
    let origin = r.int(5)? as i32;
    let date = p.date(r, 3)?;
    let line = years
        .get_mut(&(origin, k))
        .ok_or_else(|| StoreError::Corrupt("reduction without its line".into()))?;
    line.allocation_events.push((date, Fen::new(r.int(4)?)));
    Ok(())
}

/// A carry is a line-year of the year after the one it left.
fn add_carry(years: &mut LineYears, p: &mut LineReader, r: &impl TextCells) -> Result<()> {
    let k = p.key(r, 0, 1, 2)?;
    let year = r.int(3)? as i32 + 1;
    years.insert(
        (year, k.clone()),
        LineYear {
            key: k,
            fiscal_year: year,
            origin_year: r.int(4)? as i32,
            doc_date: p.date(r, 5)?,
            deadline_days: r.int(6)?,
            allocation_events: vec![(p.date(r, 7)?, Fen::new(r.int(8)?))],
        },
    );
    Ok(())
}

/// Reads voucher rows ([`VOUCHER_COLUMNS`]) into one reused [`VoucherIn`]:
/// a million rows must not cost a million sets of allocations. Vouchers come
/// in date order, so the date is parsed once per day; a document number is
/// parsed once per distinct text (the cache is bounded).
struct VoucherReader {
    voucher: VoucherIn,
    paid_on_text: String,
    doc_nos: HashMap<String, DocNo>,
}

/// Distinct document numbers the reader keeps parsed; past this the cache
/// starts over, so memory stays bounded whatever the vouchers name.
const DOC_NO_CACHE_ENTRIES: usize = 1 << 16;

impl Default for VoucherReader {
    fn default() -> VoucherReader {
        VoucherReader {
            voucher: VoucherIn {
                voucher_no: String::new(),
                paid_on: chrono::NaiveDate::MIN,
                fiscal_year: 0,
                region: RegionCode::from_u32(100_000),
                project: ProjectCode::parse("_").expect("a valid project code"),
                doc_no: None,
                amount: Fen::ZERO,
                original_voucher_no: None,
            },
            paid_on_text: String::new(),
            doc_nos: HashMap::new(),
        }
    }
}

impl VoucherReader {
    fn read(&mut self, r: &impl TextCells) -> Result<&VoucherIn> {
        let v = &mut self.voucher;
        v.voucher_no.clear();
        v.voucher_no.push_str(r.str(0)?);
        let paid_on = r.str(1)?;
        if paid_on != self.paid_on_text {
            v.paid_on = parse_date(paid_on)?;
            self.paid_on_text.clear();
            self.paid_on_text.push_str(paid_on);
        }
        v.fiscal_year = r.int(2)? as i32;
        v.region = RegionCode::parse(r.str(3)?).map_err(|e| corrupt("stored region", e))?;
        let project = r.str(4)?;
        if project != v.project.as_str() {
            v.project = ProjectCode::parse(project).map_err(|e| corrupt("stored project", e))?;
        }
        v.doc_no = match r.opt_str(5)? {
            None => None,
            Some(text) => Some(match self.doc_nos.get(text) {
                Some(doc_no) => doc_no.clone(),
                None => {
                    let doc_no = DocNo::parse(text).map_err(|e| corrupt("stored doc_no", e))?;
                    if self.doc_nos.len() >= DOC_NO_CACHE_ENTRIES {
                        self.doc_nos.clear();
                    }
                    self.doc_nos.insert(text.to_string(), doc_no.clone());
                    doc_no
                }
            }),
        };
        v.amount = Fen::new(r.int(6)?);
        match (r.opt_str(7)?, &mut v.original_voucher_no) {
            (None, original) => *original = None,
            (Some(text), Some(original)) => {
                original.clear();
                original.push_str(text);
            }
            (Some(text), original) => *original = Some(text.to_string()),
        }
        Ok(&self.voucher)
    }
}

/// The whole reconciliation of a SQLite ledger through rusqlite, in one
/// read transaction (one snapshot, as on the sqlx path): sqlx handed every
/// voucher row across a channel from its worker thread, most of the time
/// reconcile spent beyond the query itself (docs/adr/0005-write-path.md).
pub(crate) fn reconcile_sqlite(path: &str, params: ReconcileParams) -> Result<Report> {
    let as_of = params.as_of.format("%Y-%m-%d").to_string();
    let scan = SqliteScan::open(path)?;
    let mut years: LineYears = BTreeMap::new();
    let mut p = LineReader::default();
    scan.each_row(ORIGINAL_LINES, (), |r| {
        add_original_line(&mut years, &mut p, r)
    })?;
    scan.each_row(REDUCTIONS, (), |r| add_reduction(&mut years, &mut p, r))?;
    scan.each_row(CARRIES, (), |r| add_carry(&mut years, &mut p, r))?;
    let mut refunded = HashSet::new();
    scan.each_row(REFUNDED, (), |r| {
        refunded.insert(r.text(0)?);
        Ok(())
    })?;
    let mut engine = Reconciler::new(years.into_values().collect(), refunded, params);
    let sql = format!(
        "SELECT {VOUCHER_COLUMNS} FROM vouchers WHERE paid_on <= ?1 ORDER BY paid_on, voucher_no"
    );
    let mut reader = VoucherReader::default();
    scan.each_row(&sql, [as_of], |r| {
        engine
            .push_ref(reader.read(r)?)
            .map_err(|e| StoreError::Refused(e.to_string()))
    })?;
    engine
        .finish()
        .map_err(|e| StoreError::Refused(e.to_string()))
}
