//! Loading the reconciliation's inputs: every line-year (original lines with
//! their reductions, carried line-years) and the vouchers as one sorted
//! stream, so memory is bounded by lines, not vouchers.

use crate::ledger::parse_date;
use crate::read::Cells;
use crate::scan::SqliteScan;
use crate::{Backend, Result, Store, StoreError};
use fundledger_core::reconcile::{LineYear, ReconcileParams, Reconciler, Report, VoucherIn};
use fundledger_core::{DocNo, Fen, LineKey, ProjectCode, RegionCode};
use futures_util::TryStreamExt;
use sqlx::AnyConnection;
use std::collections::{BTreeMap, HashSet};

fn corrupt(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("{what}: {e}"))
}

fn key(doc: &str, region: &str, project: &str) -> Result<LineKey> {
    Ok(LineKey {
        doc_no: DocNo::parse(doc).map_err(|e| corrupt("stored doc_no", e))?,
        region: RegionCode::parse(region).map_err(|e| corrupt("stored region", e))?,
        project: ProjectCode::parse(project).map_err(|e| corrupt("stored project", e))?,
    })
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
    while let Some(row) = rows.try_next().await? {
        engine
            .push(voucher_in(&row)?)
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
    for r in &sqlx::query(ORIGINAL_LINES).fetch_all(&mut *conn).await? {
        add_original_line(&mut years, r)?;
    }
    for r in &sqlx::query(REDUCTIONS).fetch_all(&mut *conn).await? {
        add_reduction(&mut years, r)?;
    }
    for r in &sqlx::query(CARRIES).fetch_all(&mut *conn).await? {
        add_carry(&mut years, r)?;
    }
    Ok(years.into_values().collect())
}

/// Each indicator line is a line-year of its origin year.
fn add_original_line(years: &mut LineYears, r: &impl Cells) -> Result<()> {
    let k = key(&r.text(0)?, &r.text(1)?, &r.text(2)?)?;
    let origin = r.int(3)? as i32;
    let doc_date = parse_date(&r.text(4)?)?;
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
fn add_reduction(years: &mut LineYears, r: &impl Cells) -> Result<()> {
    let k = key(&r.text(0)?, &r.text(1)?, &r.text(2)?)?;
    let origin = r.int(5)? as i32;
    let date = parse_date(&r.text(3)?)?;
    let line = years
        .get_mut(&(origin, k))
        .ok_or_else(|| StoreError::Corrupt("reduction without its line".into()))?;
    line.allocation_events.push((date, Fen::new(r.int(4)?)));
    Ok(())
}

/// A carry is a line-year of the year after the one it left.
fn add_carry(years: &mut LineYears, r: &impl Cells) -> Result<()> {
    let k = key(&r.text(0)?, &r.text(1)?, &r.text(2)?)?;
    let year = r.int(3)? as i32 + 1;
    years.insert(
        (year, k.clone()),
        LineYear {
            key: k,
            fiscal_year: year,
            origin_year: r.int(4)? as i32,
            doc_date: parse_date(&r.text(5)?)?,
            deadline_days: r.int(6)?,
            allocation_events: vec![(parse_date(&r.text(7)?)?, Fen::new(r.int(8)?))],
        },
    );
    Ok(())
}

pub(crate) fn voucher_in(r: &impl Cells) -> Result<VoucherIn> {
    Ok(VoucherIn {
        voucher_no: r.text(0)?,
        paid_on: parse_date(&r.text(1)?)?,
        fiscal_year: r.int(2)? as i32,
        region: RegionCode::parse(&r.text(3)?).map_err(|e| corrupt("stored region", e))?,
        project: ProjectCode::parse(&r.text(4)?).map_err(|e| corrupt("stored project", e))?,
        doc_no: r
            .opt_text(5)?
            .map(|d| DocNo::parse(&d))
            .transpose()
            .map_err(|e| corrupt("stored doc_no", e))?,
        amount: Fen::new(r.int(6)?),
        original_voucher_no: r.opt_text(7)?,
    })
}

/// The whole reconciliation of a SQLite ledger through rusqlite, in one
/// read transaction (one snapshot, as on the sqlx path): sqlx handed every
/// voucher row across a channel from its worker thread, most of the time
/// reconcile spent beyond the query itself (docs/adr/0005-write-path.md).
pub(crate) fn reconcile_sqlite(path: &str, params: ReconcileParams) -> Result<Report> {
    let as_of = params.as_of.format("%Y-%m-%d").to_string();
    let scan = SqliteScan::open(path)?;
    let mut years: LineYears = BTreeMap::new();
    scan.each_row(ORIGINAL_LINES, (), |r| add_original_line(&mut years, r))?;
    scan.each_row(REDUCTIONS, (), |r| add_reduction(&mut years, r))?;
    scan.each_row(CARRIES, (), |r| add_carry(&mut years, r))?;
    let mut refunded = HashSet::new();
    scan.each_row(REFUNDED, (), |r| {
        refunded.insert(r.text(0)?);
        Ok(())
    })?;
    let mut engine = Reconciler::new(years.into_values().collect(), refunded, params);
    let sql = format!(
        "SELECT {VOUCHER_COLUMNS} FROM vouchers WHERE paid_on <= ?1 ORDER BY paid_on, voucher_no"
    );
    scan.each_row(&sql, [as_of], |r| {
        engine
            .push(voucher_in(r)?)
            .map_err(|e| StoreError::Refused(e.to_string()))
    })?;
    engine
        .finish()
        .map_err(|e| StoreError::Refused(e.to_string()))
}
