//! Rollover planning (SPEC §6): what the year-end rollover of fiscal year Y
//! carries into Y+1, recovers, or flags. Pure: the plan is a function of the
//! report as of Y-12-31; the store turns it into transactions.

use crate::domain::{FiscalYear, LineKey, RegionCode};
use crate::money::Fen;
use crate::reconcile::Report;
use chrono::NaiveDate;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RolloverParams {
    /// The year being closed (Y).
    pub fiscal_year: FiscalYear,
    /// Years money may stay live, >= 1 (default 2): money of origin year
    /// <= Y - (recover_after - 1) is recovered at Y's rollover.
    pub recover_after: i32,
}

/// One line-year carried into Y+1.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CarryPlan {
    pub from: LineKey,
    /// Same doc_no and project; region via successor as of Y+1.
    pub to: LineKey,
    pub origin_year: FiscalYear,
    pub doc_date: NaiveDate,
    pub deadline_days: i64,
    /// May be < 0 for over lines.
    pub amount: Fen,
}

/// One line-year's unspent money recovered at Y's rollover.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecoveryPlan {
    pub key: LineKey,
    pub origin_year: FiscalYear,
    /// > 0.
    pub amount: Fen,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RolloverPlan {
    pub fiscal_year: FiscalYear,
    pub carries: Vec<CarryPlan>,
    pub recoveries: Vec<RecoveryPlan>,
    /// The over-disbursed ones, also in carries.
    pub exceptions: Vec<CarryPlan>,
}

/// From the report of fiscal year Y as of Y-12-31 (rows with fiscal_year == Y only; unmatched
/// vouchers ignored) plus each line-year's deadline_days, plan the rollover:
/// outstanding > 0 → carried to Y+1 unless origin_year <= Y - (recover_after - 1) → recovered;
/// outstanding < 0 (over) → carried with negative amount and listed in exceptions
/// (never recovered: an over-payment is a claim to settle, not money to take back);
/// outstanding == 0 → nothing. `successor(code, Y+1)` gives the region to use.
///
/// Panics if `recover_after < 1` (the command line refuses it).
pub fn plan_rollover(
    report: &Report,
    deadline_days: &dyn Fn(&LineKey) -> i64,
    successor: &dyn Fn(RegionCode, FiscalYear) -> RegionCode,
    params: &RolloverParams,
) -> RolloverPlan {
    assert!(
        params.recover_after >= 1,
        "recover_after must be >= 1, got {}",
        params.recover_after
    );
    let year = params.fiscal_year;
    let last_live_origin = year - (params.recover_after - 1);
    let next_year = year + 1;
    let mut plan = RolloverPlan {
        fiscal_year: year,
        carries: Vec::new(),
        recoveries: Vec::new(),
        exceptions: Vec::new(),
    };
    for row in report.lines.iter().filter(|row| row.fiscal_year == year) {
        let outstanding = row.outstanding;
        if outstanding.is_zero() {
            continue;
        }
        if outstanding.is_positive() && row.origin_year <= last_live_origin {
            plan.recoveries.push(RecoveryPlan {
                key: row.key.clone(),
                origin_year: row.origin_year,
                amount: outstanding,
            });
            continue;
        }
        let carry = CarryPlan {
            from: row.key.clone(),
            to: LineKey {
                region: successor(row.key.region, next_year),
                ..row.key.clone()
            },
            origin_year: row.origin_year,
            doc_date: row.doc_date,
            deadline_days: deadline_days(&row.key),
            amount: outstanding,
        };
        if outstanding.is_negative() {
            plan.exceptions.push(carry.clone());
        }
        plan.carries.push(carry);
    }
    plan
}
