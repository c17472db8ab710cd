//! Loading the reconciliation's inputs: every line-year (original lines with
//! their reductions, carried line-years) and the vouchers as one sorted
//! stream, so memory is bounded by lines, not vouchers.

use crate::ledger::parse_date;
use crate::{Backend, Result, Store, StoreError};
use fundledger_core::reconcile::{LineYear, ReconcileParams, Reconciler, Report, VoucherIn};
use fundledger_core::{DocNo, Fen, LineKey, ProjectCode, RegionCode};
use futures_util::TryStreamExt;
use sqlx::any::AnyRow;
use sqlx::AnyConnection;
use sqlx::Row;
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
        let as_of = params.as_of.format("%Y-%m-%d").to_string();
        let mut tx = self.pool().begin().await?;
        if self.backend() == Backend::Postgres {
            // READ COMMITTED (the default) takes a new snapshot per statement.
            sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                .execute(&mut *tx)
                .await?;
        }
        let lines = load_line_years(&mut tx).await?;
        let refunded: Vec<String> =
            sqlx::query_scalar("SELECT DISTINCT original_voucher_no FROM vouchers WHERE original_voucher_no IS NOT NULL")
                .fetch_all(&mut *tx)
                .await?;
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

/// Every line-year, read on `conn` (inside the caller's snapshot).
async fn load_line_years(conn: &mut AnyConnection) -> Result<Vec<LineYear>> {
    let mut years: LineYears = BTreeMap::new();
    load_original_lines(conn, &mut years).await?;
    load_reductions(conn, &mut years).await?;
    load_carries(conn, &mut years).await?;
    Ok(years.into_values().collect())
}

/// Each indicator line is a line-year of its origin year.
async fn load_original_lines(conn: &mut AnyConnection, years: &mut LineYears) -> Result<()> {
    let lines = sqlx::query(
        "SELECT doc_no, region_code, project_code, origin_year, doc_date, deadline_days, amount_fen \
         FROM indicator_lines",
    )
    .fetch_all(&mut *conn)
    .await?;
    for r in &lines {
        let k = key(
            &r.try_get::<String, _>(0)?,
            &r.try_get::<String, _>(1)?,
            &r.try_get::<String, _>(2)?,
        )?;
        let origin = r.try_get::<i64, _>(3)? as i32;
        let doc_date = parse_date(&r.try_get::<String, _>(4)?)?;
        years.insert(
            (origin, k.clone()),
            LineYear {
                key: k,
                fiscal_year: origin,
                origin_year: origin,
                doc_date,
                deadline_days: r.try_get(5)?,
                allocation_events: vec![(doc_date, Fen::new(r.try_get(6)?))],
            },
        );
    }
    Ok(())
}

/// A reduction is an allocation event of the line-year it reduces.
async fn load_reductions(conn: &mut AnyConnection, years: &mut LineYears) -> Result<()> {
    let reductions = sqlx::query(
        "SELECT r.target_doc_no, r.region_code, r.project_code, r.doc_date, r.amount_fen, l.origin_year \
         FROM reductions r JOIN indicator_lines l ON l.doc_no = r.target_doc_no \
         AND l.region_code = r.region_code AND l.project_code = r.project_code",
    )
    .fetch_all(&mut *conn)
    .await?;
    for r in &reductions {
        let k = key(
            &r.try_get::<String, _>(0)?,
            &r.try_get::<String, _>(1)?,
            &r.try_get::<String, _>(2)?,
        )?;
        let origin = r.try_get::<i64, _>(5)? as i32;
        let date = parse_date(&r.try_get::<String, _>(3)?)?;
        let line = years
            .get_mut(&(origin, k))
            .ok_or_else(|| StoreError::Corrupt("reduction without its line".into()))?;
        line.allocation_events.push((date, Fen::new(r.try_get(4)?)));
    }
    Ok(())
}

/// A carry is a line-year of the year after the one it left.
async fn load_carries(conn: &mut AnyConnection, years: &mut LineYears) -> Result<()> {
    let carries = sqlx::query(
        "SELECT doc_no, to_region, project_code, from_year, origin_year, doc_date, deadline_days, carried_on, amount_fen \
         FROM carries",
    )
    .fetch_all(&mut *conn)
    .await?;
    for r in &carries {
        let k = key(
            &r.try_get::<String, _>(0)?,
            &r.try_get::<String, _>(1)?,
            &r.try_get::<String, _>(2)?,
        )?;
        let year = r.try_get::<i64, _>(3)? as i32 + 1;
        years.insert(
            (year, k.clone()),
            LineYear {
                key: k,
                fiscal_year: year,
                origin_year: r.try_get::<i64, _>(4)? as i32,
                doc_date: parse_date(&r.try_get::<String, _>(5)?)?,
                deadline_days: r.try_get(6)?,
                allocation_events: vec![(
                    parse_date(&r.try_get::<String, _>(7)?)?,
                    Fen::new(r.try_get(8)?),
                )],
            },
        );
    }
    Ok(())
}

fn voucher_in(r: &AnyRow) -> Result<VoucherIn> {
    let doc: Option<String> = r.try_get(5)?;
    Ok(VoucherIn {
        voucher_no: r.try_get(0)?,
        paid_on: parse_date(&r.try_get::<String, _>(1)?)?,
        fiscal_year: r.try_get::<i64, _>(2)? as i32,
        region: RegionCode::parse(&r.try_get::<String, _>(3)?)
            .map_err(|e| corrupt("stored region", e))?,
        project: ProjectCode::parse(&r.try_get::<String, _>(4)?)
            .map_err(|e| corrupt("stored project", e))?,
        doc_no: doc
            .map(|d| DocNo::parse(&d))
            .transpose()
            .map_err(|e| corrupt("stored doc_no", e))?,
        amount: Fen::new(r.try_get(6)?),
        original_voucher_no: r.try_get(7)?,
    })
}
