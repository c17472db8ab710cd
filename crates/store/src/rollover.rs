//! Year-end rollover (SPEC §6): one transaction that closes the year, carries
//! outstanding lines into the next year and recovers old money to the pool.

use crate::ledger::{
    append_with_row, closed_through, pool_state, record_closing, PoolState, CARRIES, RECOVERIES,
};
use crate::read::Cells;
use crate::sql::Sql;
use crate::write::{Val, WriteTx};
use crate::{Result, Store, StoreError};
use chrono::NaiveDate;
use fundledger_core::reconcile::ReconcileParams;
use fundledger_core::rollover::{
    plan_rollover, CarryPlan, RecoveryPlan, RolloverParams, RolloverPlan,
};
use fundledger_core::{
    Account, Fen, FiscalYear, LineKey, MoneyError, Posting, RegionCode, Transaction, TxKind, TxMeta,
};
use std::collections::HashMap;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RolloverOutcome {
    pub fiscal_year: FiscalYear,
    /// The rollover of this year had already run: nothing was done.
    pub already_done: bool,
    pub dry_run: bool,
    pub plan: RolloverPlan,
    /// The pool of the year, if it has one (unallocated part reported).
    pub pool: Option<PoolState>,
}

impl RolloverOutcome {
    pub fn carried_total(&self) -> Result<Fen, MoneyError> {
        Fen::checked_sum(self.plan.carries.iter().map(|c| c.amount))
    }
    pub fn recovered_total(&self) -> Result<Fen, MoneyError> {
        Fen::checked_sum(self.plan.recoveries.iter().map(|r| r.amount))
    }
}

fn date(y: i32, m: u32, d: u32) -> Result<NaiveDate> {
    NaiveDate::from_ymd_opt(y, m, d)
        .ok_or_else(|| StoreError::Refused(format!("year {y} is out of range")))
}

impl Store {
    pub async fn rollover(
        &self,
        year: FiscalYear,
        recover_after: i32,
        successor: &dyn Fn(RegionCode, FiscalYear) -> RegionCode,
        dry_run: bool,
        recorded_at: &str,
    ) -> Result<RolloverOutcome> {
        if recover_after < 1 {
            return Err(StoreError::Refused(format!(
                "--recover-after must be at least 1, not {recover_after}"
            )));
        }
        let year_end = date(year, 12, 31)?;
        let mut w = WriteTx::begin(self, "rollover", None, recorded_at).await?;
        let (already_done, later) = rolled_state(&mut w, year).await?;
        // Years roll in order: once Y+1 (or later) is rolled over and closed,
        // money carried from Y would land in a closed year and stay there.
        if let (false, Some(later)) = (already_done, later) {
            w.rollback().await?;
            return Err(StoreError::Refused(format!(
                "fiscal year {later} has already been rolled over; \
                 the rollover of {year} had to come first and can no longer run"
            )));
        }
        let pool = pool_state(&mut w, year).await?;
        let plan = self
            .plan_year(year, year_end, recover_after, successor)
            .await?;
        let mut outcome = RolloverOutcome {
            fiscal_year: year,
            already_done,
            dry_run,
            plan,
            pool,
        };
        if outcome.already_done {
            // Safe to run twice: the second run reports and changes nothing.
            outcome.plan.carries.clear();
            outcome.plan.recoveries.clear();
            outcome.plan.exceptions.clear();
            w.rollback().await?;
            return Ok(outcome);
        }
        apply_plan(&mut w, year, year_end, recover_after, &outcome.plan).await?;
        if dry_run {
            w.rollback().await?;
        } else {
            w.commit().await?;
        }
        Ok(outcome)
    }

    /// The plan (core's pure rule) over the report as of Y-12-31 and the
    /// lines' deadlines. The caller holds the writer lock, so what the
    /// report reads is what is about to be rolled.
    async fn plan_year(
        &self,
        year: FiscalYear,
        year_end: NaiveDate,
        recover_after: i32,
        successor: &dyn Fn(RegionCode, FiscalYear) -> RegionCode,
    ) -> Result<RolloverPlan> {
        let report = self
            .reconcile(ReconcileParams {
                as_of: year_end,
                deadline_days_override: None,
            })
            .await?;
        let deadlines: HashMap<(i32, LineKey), i64> = self
            .line_years()
            .await?
            .into_iter()
            .map(|l| ((l.fiscal_year, l.key), l.deadline_days))
            .collect();
        let deadline = |k: &LineKey| deadlines.get(&(year, k.clone())).copied().unwrap_or(30);
        let params = RolloverParams {
            fiscal_year: year,
            recover_after,
        };
        Ok(plan_rollover(&report, &deadline, successor, &params))
    }
}

/// Whether `year` has been rolled over, and the first later year that has.
async fn rolled_state(w: &mut WriteTx, year: FiscalYear) -> Result<(bool, Option<i64>)> {
    let year_arg = || vec![Val::Int(i64::from(year))];
    let done = w
        .int(
            "SELECT COUNT(*) FROM rollovers WHERE fiscal_year = $1",
            year_arg(),
        )
        .await?;
    let later = match w
        .row(
            "SELECT MIN(fiscal_year) FROM rollovers WHERE fiscal_year > $1",
            year_arg(),
        )
        .await?
    {
        Some(row) => row.opt_int(0)?,
        None => None,
    };
    Ok((done > 0, later))
}

/// Writes a plan: the year-end closing (unless already closed that far),
/// every carry and recovery, and the rollovers row.
async fn apply_plan(
    w: &mut WriteTx,
    year: FiscalYear,
    year_end: NaiveDate,
    recover_after: i32,
    plan: &RolloverPlan,
) -> Result<()> {
    if closed_through(w).await?.is_none_or(|c| c < year_end) {
        record_closing(w, year_end).await?;
    }
    for c in &plan.carries {
        append_carry(w, year, c).await?;
    }
    for r in &plan.recoveries {
        append_recovery(w, year, r).await?;
    }
    let batch = w.batch_id();
    w.execute(
        "INSERT INTO rollovers (fiscal_year, recover_after, batch_id) VALUES ($1, $2, $3)",
        vec![
            Val::Int(i64::from(year)),
            Val::Int(i64::from(recover_after)),
            Val::Int(batch),
        ],
    )
    .await?;
    Ok(())
}

async fn append_carry(w: &mut WriteTx, year: FiscalYear, c: &CarryPlan) -> Result<()> {
    let next = year + 1;
    let carried_on = date(next, 1, 1)?;
    let row = vec![
        Val::Text(c.from.doc_no.to_string()),
        Val::Text(c.from.region.to_string()),
        Val::Text(c.from.project.to_string()),
        Val::Int(i64::from(year)),
        Val::Text(c.to.region.to_string()),
        Val::Int(i64::from(c.origin_year)),
        Val::Text(c.doc_date.format("%Y-%m-%d").to_string()),
        Val::Int(c.deadline_days),
        Val::Text(carried_on.format("%Y-%m-%d").to_string()),
        Val::Int(c.amount.as_i64()),
    ];
    let x = c.amount;
    let neg = x.checked_neg()?;
    // Out of Y's allocation into Y's carried-out record; from Y+1's
    // carried-in source into Y+1's allocation (successor region).
    let postings = vec![
        Posting {
            account: Account::allocated(year, c.from.region, &c.from.project),
            amount: neg,
        },
        Posting {
            account: Account::carried_out(year, c.from.region, &c.from.project),
            amount: x,
        },
        Posting {
            account: Account::carried_in(next, c.to.region, &c.to.project),
            amount: neg,
        },
        Posting {
            account: Account::allocated(next, c.to.region, &c.to.project),
            amount: x,
        },
    ];
    let meta = TxMeta {
        fiscal_year: Some(year),
        doc_no: Some(c.from.doc_no.to_string()),
        region_code: Some(c.from.region.to_string()),
        project_code: Some(c.from.project.to_string()),
        ..TxMeta::default()
    };
    let description = format!("carry {} from {year} into {next} ({})", c.from, c.to.region);
    let id = format!(
        "carryover:{year}:{}:{}:{}",
        c.from.doc_no, c.from.region, c.from.project
    );
    append_with_row(w, &CARRIES, row, |details| {
        Ok(Transaction::new(
            id,
            carried_on,
            TxKind::Carryover,
            description,
            TxMeta {
                details: Some(details),
                ..meta
            },
            postings,
        )?)
    })
    .await?;
    Ok(())
}

async fn append_recovery(w: &mut WriteTx, year: FiscalYear, r: &RecoveryPlan) -> Result<()> {
    let row = vec![
        Val::Text(r.key.doc_no.to_string()),
        Val::Text(r.key.region.to_string()),
        Val::Text(r.key.project.to_string()),
        Val::Int(i64::from(year)),
        Val::Int(i64::from(r.origin_year)),
        Val::Int(r.amount.as_i64()),
    ];
    let meta = TxMeta {
        fiscal_year: Some(year),
        doc_no: Some(r.key.doc_no.to_string()),
        region_code: Some(r.key.region.to_string()),
        project_code: Some(r.key.project.to_string()),
        ..TxMeta::default()
    };
    let description = format!(
        "recover unspent {} (origin {}) to the {year} pool",
        r.key, r.origin_year
    );
    let id = format!(
        "recovery:{year}:{}:{}:{}",
        r.key.doc_no, r.key.region, r.key.project
    );
    append_with_row(w, &RECOVERIES, row, |details| {
        Ok(Transaction::transfer(
            id,
            date(year, 12, 31)?,
            TxKind::Recovery,
            description,
            TxMeta {
                details: Some(details),
                ..meta
            },
            Account::pool_recovered(year),
            Account::allocated(year, r.key.region, &r.key.project),
            r.amount,
        )?)
    })
    .await?;
    Ok(())
}
