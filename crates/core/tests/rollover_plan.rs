//! Rollover planning (SPEC §6): carry or recover by origin year and
//! recover_after, over lines carried negative and flagged, successor regions.

use chrono::NaiveDate;
use fundledger_core::reconcile::{LineRow, Report, Status, UnmatchedReason, UnmatchedRow};
use fundledger_core::rollover::{plan_rollover, RolloverParams, RolloverPlan};
use fundledger_core::{DocNo, Fen, FiscalYear, LineKey, ProjectCode, RegionCode};

fn day(text: &str) -> NaiveDate {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
}

fn key(doc: &str, region: u32, project: &str) -> LineKey {
    LineKey {
        doc_no: DocNo::parse(doc).unwrap(),
        region: RegionCode::from_u32(region),
        project: ProjectCode::parse(project).unwrap(),
    }
}

/// A report row of `fiscal_year` with allocated 100 yuan and `disbursed_yuan` paid.
fn row(
    fiscal_year: FiscalYear,
    origin_year: FiscalYear,
    doc: &str,
    region: u32,
    disbursed_yuan: i64,
) -> LineRow {
    let allocated = Fen::new(10_000);
    let disbursed = Fen::new(disbursed_yuan * 100);
    LineRow {
        key: key(doc, region, "JS02"),
        fiscal_year,
        origin_year,
        doc_date: day(&format!("{origin_year}-03-15")),
        due_date: day(&format!("{origin_year}-04-14")),
        allocated,
        disbursed,
        outstanding: Fen::new(allocated.as_i64() - disbursed.as_i64()),
        settled_on: None,
        status: Status::Overdue,
    }
}

/// 431121 祁阳县 became 431181 祁阳市 in 2021.
fn successor(code: RegionCode, year: FiscalYear) -> RegionCode {
    if code.as_u32() == 431121 && year >= 2021 {
        RegionCode::from_u32(431181)
    } else {
        code
    }
}

/// One text line per planned action, in plan order.
fn show(plan: &RolloverPlan) -> Vec<String> {
    let carries = plan.carries.iter().map(|c| {
        format!(
            "carry {}/{} -> {} origin {} {} days {}",
            c.from.doc_no.number(),
            c.from.region,
            c.to.region,
            c.origin_year,
            c.deadline_days,
            c.amount
        )
    });
    let recoveries = plan.recoveries.iter().map(|r| {
        format!(
            "recover {}/{} origin {} {}",
            r.key.doc_no.number(),
            r.key.region,
            r.origin_year,
            r.amount
        )
    });
    let exceptions = plan.exceptions.iter().map(|c| {
        format!(
            "exception {}/{} {}",
            c.from.doc_no.number(),
            c.from.region,
            c.amount
        )
    });
    carries.chain(recoveries).chain(exceptions).collect()
}

fn check(rows: Vec<LineRow>, fiscal_year: FiscalYear, recover_after: i32, expected: &[&str]) {
    let report = Report {
        lines: rows,
        unmatched: vec![UnmatchedRow {
            voucher_no: "X1".into(),
            paid_on: day("2021-06-01"),
            fiscal_year: 2021,
            region: RegionCode::from_u32(430100),
            project: ProjectCode::parse("JS02").unwrap(),
            doc_no: None,
            amount: Fen::new(500),
            reason: UnmatchedReason::NoCandidateLine,
        }],
    };
    let deadline_days = |k: &LineKey| if k.region.as_u32() == 430102 { 45 } else { 30 };
    let plan = plan_rollover(
        &report,
        &deadline_days,
        &successor,
        &RolloverParams {
            fiscal_year,
            recover_after,
        },
    );
    assert_eq!(plan.fiscal_year, fiscal_year);
    assert_eq!(
        show(&plan),
        expected,
        "Y={fiscal_year} recover_after={recover_after}"
    );
}

const D36: &str = "湘财社指〔2020〕36号";
const D37: &str = "湘财社指〔2021〕37号";

#[test]
fn carry_or_recover_by_origin_year() {
    // A 2020 line carried into 2021 and a 2021 line, both unspent at the end of 2021.
    let rows = || {
        vec![
            row(2021, 2020, D36, 430102, 30),
            row(2021, 2021, D37, 430103, 0),
        ]
    };
    check(
        rows(),
        2021,
        2,
        &[
            "carry 37/430103 -> 430103 origin 2021 30 days 100.00",
            "recover 36/430102 origin 2020 70.00",
        ],
    );
    check(
        rows(),
        2021,
        1,
        &[
            "recover 36/430102 origin 2020 70.00",
            "recover 37/430103 origin 2021 100.00",
        ],
    );
    check(
        rows(),
        2021,
        3,
        &[
            "carry 36/430102 -> 430102 origin 2020 45 days 70.00",
            "carry 37/430103 -> 430103 origin 2021 30 days 100.00",
        ],
    );
}

#[test]
fn only_rows_of_the_year_closed_count() {
    check(
        vec![
            row(2020, 2020, D36, 430102, 0),
            row(2021, 2021, D37, 430103, 40),
        ],
        2021,
        2,
        &["carry 37/430103 -> 430103 origin 2021 30 days 60.00"],
    );
}

#[test]
fn over_lines_are_carried_negative_and_listed_as_exceptions() {
    // Never recovered, even when old enough to be.
    for recover_after in [1, 2] {
        check(
            vec![row(2021, 2020, D36, 430102, 120)],
            2021,
            recover_after,
            &[
                "carry 36/430102 -> 430102 origin 2020 45 days -20.00",
                "exception 36/430102 -20.00",
            ],
        );
    }
}

#[test]
fn carried_lines_move_to_the_successor_region() {
    check(
        vec![row(2020, 2020, D36, 431121, 10)],
        2020,
        2,
        &["carry 36/431121 -> 431181 origin 2020 30 days 90.00"],
    );
}

#[test]
fn zero_outstanding_plans_nothing() {
    check(vec![row(2021, 2021, D37, 430103, 100)], 2021, 2, &[]);
}

#[test]
#[should_panic(expected = "recover_after must be >= 1")]
fn recover_after_zero_is_refused() {
    check(vec![], 2021, 0, &[]);
}
