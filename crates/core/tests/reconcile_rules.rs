//! SPEC §5 / §5.1 rules, one table-driven test per rule, plus the Guangdong
//! 2021 worked example checked against its expected CSVs field by field.

use chrono::NaiveDate;
use fundledger_core::reconcile::{
    reconcile, LineYear, ReconcileError, ReconcileParams, Reconciler, Report, Status,
    UnmatchedReason, VoucherIn,
};
use fundledger_core::{DocNo, Fen, LineKey, ProjectCode, RegionCode};
use std::collections::{HashMap, HashSet};

// ---------------------------------------------------------------- builders

fn day(text: &str) -> NaiveDate {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").expect("test date")
}

fn yuan(amount: i64) -> Fen {
    Fen::new(amount * 100)
}

/// `"12"` → 粤财社〔2021〕12号; `"2020/36"` → 粤财社〔2020〕36号.
fn doc(short: &str) -> DocNo {
    let (year, number) = short.split_once('/').unwrap_or(("2021", short));
    DocNo::parse(&format!("粤财社〔{year}〕{number}号")).expect("test doc")
}

fn key(doc_short: &str, region: u32, project: &str) -> LineKey {
    LineKey {
        doc_no: doc(doc_short),
        region: RegionCode::from_u32(region),
        project: ProjectCode::parse(project).unwrap(),
    }
}

/// An original 2021 line with 30 days' deadline: (doc date, amount) first,
/// then any reductions.
fn line(
    doc_short: &str,
    region: u32,
    project: &str,
    doc_date: &str,
    amount: Fen,
    reductions: &[(&str, Fen)],
) -> LineYear {
    let mut events = vec![(day(doc_date), amount)];
    events.extend(reductions.iter().map(|(date, delta)| (day(date), *delta)));
    LineYear {
        key: key(doc_short, region, project),
        fiscal_year: 2021,
        origin_year: 2021,
        doc_date: day(doc_date),
        deadline_days: 30,
        allocation_events: events,
    }
}

fn pay(
    voucher_no: &str,
    paid_on: &str,
    region: u32,
    project: &str,
    doc_short: Option<&str>,
    amount: Fen,
) -> VoucherIn {
    VoucherIn {
        voucher_no: voucher_no.to_string(),
        paid_on: day(paid_on),
        fiscal_year: 2021,
        region: RegionCode::from_u32(region),
        project: ProjectCode::parse(project).unwrap(),
        doc_no: doc_short.map(doc),
        amount,
        original_voucher_no: None,
    }
}

fn refund(
    voucher_no: &str,
    paid_on: &str,
    region: u32,
    project: &str,
    amount: Fen,
    original: &str,
) -> VoucherIn {
    VoucherIn {
        original_voucher_no: Some(original.to_string()),
        ..pay(voucher_no, paid_on, region, project, None, amount)
    }
}

fn params(as_of: &str) -> ReconcileParams {
    ReconcileParams {
        as_of: day(as_of),
        deadline_days_override: None,
    }
}

// ---------------------------------------------------------------- checking

/// One compact text row per report row, so a table of expectations reads
/// like the report itself.
fn show(report: &Report) -> Vec<String> {
    let lines = report.lines.iter().map(|r| {
        format!(
            "{} {}-{} {} {} A={} P={} O={} due={} on={} {}",
            r.fiscal_year,
            r.key.doc_no.year(),
            r.key.doc_no.number(),
            r.key.region,
            r.key.project,
            r.allocated,
            r.disbursed,
            r.outstanding,
            r.due_date,
            r.settled_on.map_or("-".to_string(), |d| d.to_string()),
            r.status.as_str()
        )
    });
    let unmatched = report.unmatched.iter().map(|u| {
        format!(
            "unmatched {} {} {} ({})",
            u.voucher_no,
            u.paid_on,
            u.amount,
            u.reason.as_str()
        )
    });
    lines.chain(unmatched).collect()
}

fn check(lines: &[LineYear], vouchers: &[VoucherIn], as_of: &str, expected: &[&str]) {
    let report = reconcile(lines.to_vec(), vouchers.to_vec(), params(as_of))
        .unwrap_or_else(|e| panic!("as of {as_of}: {e}"));
    assert_eq!(show(&report), expected, "as of {as_of}");
}

const R1: u32 = 440103;
const R2: u32 = 440222;

// ---------------------------------------------------------------- rules

#[test]
fn fifo_fills_oldest_first_and_puts_the_excess_on_the_last() {
    let two_lines = [
        line("12", R1, "JS02", "2021-03-05", yuan(100), &[]),
        line("40", R1, "JS02", "2021-05-10", yuan(100), &[]),
    ];
    check(
        &two_lines,
        &[pay("V1", "2021-05-20", R1, "JS02", None, yuan(250))],
        "2021-06-30",
        &[
            "2021 2021-12 440103 JS02 A=100.00 P=100.00 O=0.00 due=2021-04-04 on=2021-05-20 late",
            "2021 2021-40 440103 JS02 A=100.00 P=150.00 O=-50.00 due=2021-06-09 on=2021-05-20 over",
        ],
    );
    // Two vouchers: the second fills what the first left.
    check(
        &two_lines,
        &[
            pay("V1", "2021-05-20", R1, "JS02", None, yuan(60)),
            pay("V2", "2021-05-21", R1, "JS02", None, yuan(70)),
        ],
        "2021-06-30",
        &[
            "2021 2021-12 440103 JS02 A=100.00 P=100.00 O=0.00 due=2021-04-04 on=2021-05-21 late",
            "2021 2021-40 440103 JS02 A=100.00 P=30.00 O=70.00 due=2021-06-09 on=- overdue",
        ],
    );
    // Same doc date: 36号 before 137号 (number as a number), then by year.
    check(
        &[
            line("137", R1, "JS02", "2021-03-05", yuan(100), &[]),
            line("36", R1, "JS02", "2021-03-05", yuan(100), &[]),
        ],
        &[pay("V1", "2021-03-10", R1, "JS02", None, yuan(100))],
        "2021-03-31",
        &[
            "2021 2021-36 440103 JS02 A=100.00 P=100.00 O=0.00 due=2021-04-04 on=2021-03-10 settled",
            "2021 2021-137 440103 JS02 A=100.00 P=0.00 O=100.00 due=2021-04-04 on=- open",
        ],
    );
}

#[test]
fn paid_on_the_due_date_is_settled_a_day_later_is_late() {
    let one_line = [line("12", R1, "JS01", "2021-03-05", yuan(320), &[])];
    for (paid_on, settled_on, status) in [
        ("2021-04-04", "2021-04-04", "settled"),
        ("2021-04-05", "2021-04-05", "late"),
        ("2021-03-05", "2021-03-05", "settled"),
    ] {
        check(
            &one_line,
            &[pay("V1", paid_on, R1, "JS01", Some("12"), yuan(320))],
            "2021-06-30",
            &[&format!(
                "2021 2021-12 440103 JS01 A=320.00 P=320.00 O=0.00 due=2021-04-04 on={settled_on} {status}"
            )],
        );
    }
}

#[test]
fn open_until_the_due_date_then_overdue() {
    let one_line = [line("12", R1, "JS01", "2021-03-05", yuan(320), &[])];
    let part = [pay("V1", "2021-03-10", R1, "JS01", None, yuan(100))];
    for (as_of, status) in [("2021-04-04", "open"), ("2021-04-05", "overdue")] {
        check(
            &one_line,
            &part,
            as_of,
            &[&format!(
                "2021 2021-12 440103 JS01 A=320.00 P=100.00 O=220.00 due=2021-04-04 on=- {status}"
            )],
        );
    }
}

#[test]
fn deadline_override_replaces_the_line_deadline() {
    let one_line = [line("12", R1, "JS01", "2021-03-05", yuan(320), &[])];
    let report = reconcile(
        one_line.to_vec(),
        vec![pay("V1", "2021-03-20", R1, "JS01", None, yuan(320))],
        ReconcileParams {
            as_of: day("2021-06-30"),
            deadline_days_override: Some(10),
        },
    )
    .unwrap();
    assert_eq!(
        show(&report),
        ["2021 2021-12 440103 JS01 A=320.00 P=320.00 O=0.00 due=2021-03-15 on=2021-03-20 late"]
    );
}

#[test]
fn over_keeps_the_day_p_first_reached_a() {
    check(
        &[line("40", R2, "JS08", "2021-05-10", yuan(100), &[])],
        &[
            pay("V1", "2021-05-20", R2, "JS08", Some("40"), yuan(60)),
            pay("V2", "2021-06-15", R2, "JS08", Some("40"), yuan(60)),
            pay("V3", "2021-06-20", R2, "JS08", Some("40"), yuan(5)),
        ],
        "2021-06-30",
        &["2021 2021-40 440222 JS08 A=100.00 P=125.00 O=-25.00 due=2021-06-09 on=2021-06-15 over"],
    );
}

#[test]
fn refund_goes_back_latest_line_first() {
    let two_lines = [
        line("12", R1, "JS02", "2021-03-05", yuan(100), &[]),
        line("40", R1, "JS02", "2021-03-05", yuan(100), &[]),
    ];
    let paid = pay("V1", "2021-03-10", R1, "JS02", None, yuan(200));
    let row = |doc: &str, p: i64, on: &str, status: &str| {
        format!(
            "2021 2021-{doc} 440103 JS02 A=100.00 P={p}.00 O={}.00 due=2021-04-04 on={on} {status}",
            100 - p
        )
    };
    for (refund_yuan, p12, p40) in [(50, 100, 50), (150, 50, 0), (250, -50, 0)] {
        let on12 = if p12 == 100 { "2021-03-10" } else { "-" };
        let on40 = if p40 == 100 { "2021-03-10" } else { "-" };
        check(
            &two_lines,
            &[
                paid.clone(),
                refund("V2", "2021-03-20", R1, "JS02", yuan(-refund_yuan), "V1"),
            ],
            "2021-03-31",
            &[
                &row("12", p12, on12, if p12 == 100 { "settled" } else { "open" }),
                &row("40", p40, on40, "open"),
            ],
        );
    }
    // Two partial refunds of one voucher: the second takes back only what
    // the first left on the later line, then moves to the earlier one.
    check(
        &two_lines,
        &[
            paid.clone(),
            refund("V2", "2021-03-20", R1, "JS02", yuan(-60), "V1"),
            refund("V3", "2021-03-21", R1, "JS02", yuan(-60), "V1"),
        ],
        "2021-03-31",
        &[&row("12", 80, "-", "open"), &row("40", 0, "-", "open")],
    );
}

#[test]
fn refund_of_a_zero_voucher_goes_onto_the_line_it_matched() {
    check(
        &[
            line("12", R1, "JS02", "2021-03-05", yuan(100), &[]),
            line("40", R1, "JS02", "2021-03-05", yuan(100), &[]),
        ],
        &[
            pay("V1", "2021-03-10", R1, "JS02", None, Fen::ZERO),
            refund("V2", "2021-03-20", R1, "JS02", yuan(-10), "V1"),
        ],
        "2021-03-31",
        &[
            "2021 2021-12 440103 JS02 A=100.00 P=0.00 O=100.00 due=2021-04-04 on=- open",
            "2021 2021-40 440103 JS02 A=100.00 P=-10.00 O=110.00 due=2021-04-04 on=- open",
        ],
    );
}

#[test]
fn refund_of_an_unmatched_voucher_is_unmatched_with_its_reason() {
    check(
        &[line("12", R1, "JS02", "2021-03-05", yuan(100), &[])],
        &[
            pay("V1", "2021-03-10", R1, "JS02", Some("99"), yuan(50)),
            refund("V2", "2021-03-20", R1, "JS02", yuan(-20), "V1"),
        ],
        "2021-03-31",
        &[
            "2021 2021-12 440103 JS02 A=100.00 P=0.00 O=100.00 due=2021-04-04 on=- open",
            "unmatched V1 2021-03-10 50.00 (no line for doc_no)",
            "unmatched V2 2021-03-20 -20.00 (no line for doc_no)",
        ],
    );
}

#[test]
fn reduction_after_a_partial_payment_settles_on_its_date() {
    let reduced = [line(
        "12",
        R1,
        "JS02",
        "2021-03-05",
        yuan(100),
        &[("2021-05-01", yuan(-40))],
    )];
    let partial = [pay("V1", "2021-03-10", R1, "JS02", None, yuan(60))];
    check(
        &reduced,
        &partial,
        "2021-04-30",
        &["2021 2021-12 440103 JS02 A=100.00 P=60.00 O=40.00 due=2021-04-04 on=- overdue"],
    );
    check(
        &reduced,
        &partial,
        "2021-05-31",
        &["2021 2021-12 440103 JS02 A=60.00 P=60.00 O=0.00 due=2021-04-04 on=2021-05-01 late"],
    );
}

#[test]
fn reduction_to_zero_is_settled_with_no_settled_on() {
    for reduced_on in ["2021-03-10", "2021-05-10"] {
        check(
            &[line(
                "12",
                R1,
                "JS05",
                "2021-03-05",
                yuan(100),
                &[(reduced_on, yuan(-100))],
            )],
            &[],
            "2021-06-30",
            &["2021 2021-12 440103 JS05 A=0.00 P=0.00 O=0.00 due=2021-04-04 on=- settled"],
        );
    }
}

#[test]
fn voucher_naming_a_document_with_no_line_is_unmatched() {
    let lines = [
        line("12", R1, "JS01", "2021-03-05", yuan(100), &[]),
        line("40", R1, "JS01", "2021-07-01", yuan(100), &[]),
    ];
    let only_12 = "2021 2021-12 440103 JS01 A=100.00 P=0.00 O=100.00 due=2021-04-04 on=- overdue";
    for (voucher, why) in [
        (
            pay("V1", "2021-04-02", R1, "JS01", Some("99"), yuan(48)),
            "no such doc",
        ),
        (
            pay("V1", "2021-04-02", R2, "JS01", Some("12"), yuan(48)),
            "other region",
        ),
        (
            pay("V1", "2021-04-02", R1, "JS02", Some("12"), yuan(48)),
            "other project",
        ),
        (
            VoucherIn {
                fiscal_year: 2020,
                ..pay("V1", "2021-04-02", R1, "JS01", Some("12"), yuan(48))
            },
            "other fiscal year",
        ),
        // 40号 exists but is dated after D, so it is not in the report.
        (
            pay("V1", "2021-04-02", R1, "JS01", Some("40"), yuan(48)),
            "line after D",
        ),
    ] {
        let report = reconcile(lines.to_vec(), vec![voucher], params("2021-06-30")).unwrap();
        assert_eq!(
            show(&report),
            [
                only_12,
                "unmatched V1 2021-04-02 48.00 (no line for doc_no)"
            ],
            "{why}"
        );
    }
}

#[test]
fn voucher_with_no_candidate_line_is_unmatched() {
    check(
        &[line("12", R1, "JS02", "2021-03-05", yuan(100), &[])],
        &[pay("V1", "2021-06-18", R1, "JS10", None, yuan(50))],
        "2021-06-30",
        &[
            "2021 2021-12 440103 JS02 A=100.00 P=0.00 O=100.00 due=2021-04-04 on=- overdue",
            "unmatched V1 2021-06-18 50.00 (no candidate line)",
        ],
    );
}

#[test]
fn a_line_dated_after_the_voucher_is_not_a_candidate() {
    let lines = [
        line("12", R1, "JS02", "2021-03-05", yuan(100), &[]),
        line("40", R1, "JS02", "2021-05-10", yuan(100), &[]),
    ];
    check(
        &lines,
        &[pay("V1", "2021-04-01", R1, "JS02", None, yuan(150))],
        "2021-06-30",
        &[
            "2021 2021-12 440103 JS02 A=100.00 P=150.00 O=-50.00 due=2021-04-04 on=2021-04-01 over",
            "2021 2021-40 440103 JS02 A=100.00 P=0.00 O=100.00 due=2021-06-09 on=- overdue",
        ],
    );
    // Before every line's document: no candidate at all.
    check(
        &lines,
        &[pay("V1", "2021-03-04", R1, "JS02", None, yuan(10))],
        "2021-03-31",
        &[
            "2021 2021-12 440103 JS02 A=100.00 P=0.00 O=100.00 due=2021-04-04 on=- open",
            "unmatched V1 2021-03-04 10.00 (no candidate line)",
        ],
    );
}

#[test]
fn refund_reopens_a_settled_line() {
    let one_line = [line("12", R1, "JS02", "2021-03-05", yuan(100), &[])];
    let vouchers = [
        pay("V1", "2021-03-10", R1, "JS02", None, yuan(100)),
        refund("V2", "2021-03-20", R1, "JS02", yuan(-30), "V1"),
        pay("V3", "2021-04-20", R1, "JS02", None, yuan(30)),
    ];
    for (as_of, expected) in [
        (
            "2021-03-15",
            "A=100.00 P=100.00 O=0.00 due=2021-04-04 on=2021-03-10 settled",
        ),
        (
            "2021-03-25",
            "A=100.00 P=70.00 O=30.00 due=2021-04-04 on=- open",
        ),
        (
            "2021-04-10",
            "A=100.00 P=70.00 O=30.00 due=2021-04-04 on=- overdue",
        ),
        // Paid in full again after the due date: the run that holds at D
        // started on 04-20, so the line is late.
        (
            "2021-04-30",
            "A=100.00 P=100.00 O=0.00 due=2021-04-04 on=2021-04-20 late",
        ),
    ] {
        check(
            &one_line,
            &vouchers,
            as_of,
            &[&format!("2021 2021-12 440103 JS02 {expected}")],
        );
    }
}

#[test]
fn a_payment_and_its_refund_on_one_day_never_settle_the_line() {
    // End-of-day evaluation: P(t) >= A(t) never held at the end of 03-10.
    check(
        &[line("12", R1, "JS02", "2021-03-05", yuan(100), &[])],
        &[
            pay("V1", "2021-03-10", R1, "JS02", None, yuan(100)),
            refund("V2", "2021-03-10", R1, "JS02", yuan(-100), "V1"),
            pay("V3", "2021-03-12", R1, "JS02", None, yuan(100)),
        ],
        "2021-03-31",
        &["2021 2021-12 440103 JS02 A=100.00 P=100.00 O=0.00 due=2021-04-04 on=2021-03-12 settled"],
    );
}

#[test]
fn a_later_reduction_moves_the_excess_onto_the_next_line() {
    let lines = [
        line(
            "12",
            R1,
            "JS02",
            "2021-03-01",
            yuan(100),
            &[("2021-06-01", yuan(-30))],
        ),
        line("40", R1, "JS02", "2021-03-02", yuan(100), &[]),
    ];
    let vouchers = [pay("V1", "2021-03-10", R1, "JS02", None, yuan(100))];
    check(
        &lines,
        &vouchers,
        "2021-05-31",
        &[
            "2021 2021-12 440103 JS02 A=100.00 P=100.00 O=0.00 due=2021-03-31 on=2021-03-10 settled",
            "2021 2021-40 440103 JS02 A=100.00 P=0.00 O=100.00 due=2021-04-01 on=- overdue",
        ],
    );
    check(
        &lines,
        &vouchers,
        "2021-06-30",
        &[
            "2021 2021-12 440103 JS02 A=70.00 P=70.00 O=0.00 due=2021-03-31 on=2021-06-01 late",
            "2021 2021-40 440103 JS02 A=100.00 P=30.00 O=70.00 due=2021-04-01 on=- overdue",
        ],
    );
}

#[test]
fn only_what_is_dated_on_or_before_d_counts() {
    let lines = [
        line("12", R1, "JS02", "2021-03-05", yuan(100), &[]),
        line("40", R2, "JS02", "2021-07-01", yuan(100), &[]),
    ];
    check(
        &lines,
        &[
            pay("V1", "2021-03-10", R1, "JS02", None, yuan(40)),
            pay("V2", "2021-07-10", R1, "JS02", None, yuan(60)),
            pay("V3", "2021-07-10", R1, "JS99", None, yuan(60)),
        ],
        "2021-06-30",
        &["2021 2021-12 440103 JS02 A=100.00 P=40.00 O=60.00 due=2021-04-04 on=- overdue"],
    );
}

#[test]
fn carried_line_year_matches_vouchers_of_its_own_fiscal_year() {
    let carried = LineYear {
        key: key("2020/36", 431181, "JS02"),
        fiscal_year: 2021,
        origin_year: 2020,
        doc_date: day("2020-03-15"),
        deadline_days: 30,
        allocation_events: vec![(day("2021-01-01"), yuan(70))],
    };
    let original = LineYear {
        key: key("2020/36", 431121, "JS02"),
        fiscal_year: 2020,
        origin_year: 2020,
        doc_date: day("2020-03-15"),
        deadline_days: 30,
        allocation_events: vec![(day("2020-03-15"), yuan(100))],
    };
    let mut v2020 = pay("V1", "2020-04-01", 431121, "JS02", None, yuan(30));
    v2020.fiscal_year = 2020;
    let v2021 = pay("V2", "2021-02-01", 431181, "JS02", None, yuan(70));
    check(
        &[carried, original],
        &[v2020, v2021],
        "2021-03-31",
        &[
            "2020 2020-36 431121 JS02 A=100.00 P=30.00 O=70.00 due=2020-04-14 on=- overdue",
            "2021 2020-36 431181 JS02 A=70.00 P=70.00 O=0.00 due=2020-04-14 on=2021-02-01 late",
        ],
    );
}

#[test]
fn rows_follow_the_order_of_spec_5_1() {
    let lines = [
        line("40", R2, "JS01", "2021-03-01", yuan(1), &[]),
        line("12", R1, "JS02", "2021-03-05", yuan(1), &[]),
        line("12", R1, "JS01", "2021-03-05", yuan(1), &[]),
        line("7", R1, "JS01", "2021-03-06", yuan(1), &[]),
        line("2020/90", R1, "JS01", "2021-03-05", yuan(1), &[]),
    ];
    let vouchers = [
        pay("B2", "2021-03-10", R1, "JS09", None, yuan(1)),
        pay("A1", "2021-03-11", R1, "JS09", None, yuan(1)),
        pay("A9", "2021-03-10", R1, "JS09", None, yuan(1)),
    ];
    let report = reconcile(lines.to_vec(), vouchers.to_vec(), params("2021-03-31")).unwrap();
    let order: Vec<String> = show(&report)
        .iter()
        .map(|row| {
            row.split(" A=")
                .next()
                .unwrap()
                .split(" (")
                .next()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(
        order,
        [
            "2021 2020-90 440103 JS01",
            "2021 2021-12 440103 JS01",
            "2021 2021-7 440103 JS01",
            "2021 2021-12 440103 JS02",
            "2021 2021-40 440222 JS01",
            "unmatched A9 2021-03-10 1.00",
            "unmatched B2 2021-03-10 1.00",
            "unmatched A1 2021-03-11 1.00",
        ]
    );
}

#[test]
fn status_and_reason_words_are_the_spec_words() {
    let words: Vec<&str> = [
        Status::Settled,
        Status::Late,
        Status::Over,
        Status::Open,
        Status::Overdue,
        Status::Unmatched,
    ]
    .iter()
    .map(|s| s.as_str())
    .collect();
    assert_eq!(
        words,
        ["settled", "late", "over", "open", "overdue", "unmatched"]
    );
    assert_eq!(
        UnmatchedReason::NoLineForDocNo.as_str(),
        "no line for doc_no"
    );
    assert_eq!(
        UnmatchedReason::NoCandidateLine.as_str(),
        "no candidate line"
    );
}

// ---------------------------------------------------------------- rejections

fn check_stream(vouchers: &[VoucherIn], refunded: &[&str], expected: Result<(), ReconcileError>) {
    let lines = vec![line("12", R1, "JS02", "2021-03-05", yuan(100), &[])];
    let refunded: HashSet<String> = refunded.iter().map(|s| s.to_string()).collect();
    let mut engine = Reconciler::new(lines, refunded, params("2021-06-30"));
    let got = vouchers
        .iter()
        .try_for_each(|v| engine.push(v.clone()))
        .and_then(|()| engine.finish().map(|_| ()));
    assert_eq!(got, expected);
}

#[test]
fn rejects_broken_voucher_streams() {
    let v1 = pay("V1", "2021-03-10", R1, "JS02", None, yuan(10));
    let v2 = pay("V2", "2021-03-09", R1, "JS02", None, yuan(10));
    let v0 = pay("V0", "2021-03-10", R1, "JS02", None, yuan(10));
    let out_of_order = |no: &str| {
        Err(ReconcileError::VouchersOutOfOrder {
            voucher_no: no.to_string(),
        })
    };
    check_stream(&[v1.clone(), v2.clone()], &[], out_of_order("V2"));
    check_stream(&[v1.clone(), v0], &[], out_of_order("V0"));
    check_stream(&[v1.clone(), v1.clone()], &[], out_of_order("V1"));
    // Even a voucher after D must keep the order.
    let late = pay("V9", "2021-12-01", R1, "JS02", None, yuan(10));
    check_stream(&[late, v1.clone()], &[], out_of_order("V1"));
    check_stream(&[v2, v1.clone()], &[], Ok(()));

    let refund_of = |original: &str| refund("W1", "2021-03-20", R1, "JS02", yuan(-5), original);
    let unknown = |original: &str| {
        Err(ReconcileError::UnknownOriginalVoucher {
            voucher_no: "W1".to_string(),
            original: original.to_string(),
        })
    };
    check_stream(&[v1.clone(), refund_of("V7")], &["V7"], unknown("V7"));
    // Not declared in refunded_originals: the engine did not remember it.
    check_stream(&[v1.clone(), refund_of("V1")], &[], unknown("V1"));
    check_stream(&[v1.clone(), refund_of("V1")], &["V1"], Ok(()));

    let mut no_original = refund_of("V1");
    no_original.original_voucher_no = None;
    check_stream(
        &[v1, no_original],
        &[],
        Err(ReconcileError::RefundWithoutOriginal {
            voucher_no: "W1".to_string(),
        }),
    );
}

#[test]
fn reconcile_rejects_an_unknown_original_and_amount_overflow() {
    let lines = vec![line("12", R1, "JS02", "2021-03-05", yuan(100), &[])];
    let got = reconcile(
        lines.clone(),
        vec![refund("W1", "2021-03-20", R1, "JS02", yuan(-5), "V404")],
        params("2021-06-30"),
    );
    assert_eq!(
        got,
        Err(ReconcileError::UnknownOriginalVoucher {
            voucher_no: "W1".into(),
            original: "V404".into()
        })
    );
    let huge = vec![
        pay(
            "V1",
            "2021-03-10",
            R1,
            "JS02",
            Some("12"),
            Fen::new(i64::MAX),
        ),
        pay(
            "V2",
            "2021-03-11",
            R1,
            "JS02",
            Some("12"),
            Fen::new(i64::MAX),
        ),
    ];
    assert_eq!(
        reconcile(lines, huge, params("2021-06-30")),
        Err(ReconcileError::Overflow)
    );
    let overflowing_line = line(
        "12",
        R1,
        "JS02",
        "2021-03-05",
        Fen::new(i64::MAX),
        &[("2021-03-05", Fen::new(1))],
    );
    assert_eq!(
        reconcile(vec![overflowing_line], vec![], params("2021-06-30")),
        Err(ReconcileError::Overflow)
    );
    // Found while building the line states, reported by the first push too.
    let mut engine = Reconciler::new(
        vec![line(
            "12",
            R1,
            "JS02",
            "2021-03-05",
            Fen::new(i64::MAX),
            &[("2021-03-05", Fen::new(1))],
        )],
        HashSet::new(),
        params("2021-06-30"),
    );
    assert_eq!(
        engine.push(pay("V1", "2021-03-10", R1, "JS02", None, yuan(1))),
        Err(ReconcileError::Overflow)
    );
}

#[test]
fn reconcile_rejects_a_deadline_past_the_calendar() {
    let got = reconcile(
        vec![line("12", R1, "JS02", "2021-03-05", yuan(100), &[])],
        vec![],
        ReconcileParams {
            as_of: day("2021-06-30"),
            deadline_days_override: Some(i64::MAX),
        },
    );
    assert_eq!(
        got,
        Err(ReconcileError::DueDateOutOfRange {
            doc_date: day("2021-03-05"),
            deadline_days: i64::MAX
        })
    );
}

// ---------------------------------------------------------------- Guangdong 2021

fn gd_lines() -> Vec<LineYear> {
    let doc12 = [
        (440100, "JS02", 50000),
        (440100, "JS05", 25000),
        (440103, "JS02", 80000),
        (440103, "JS01", 32000),
        (440104, "JS02", 65000),
        (440104, "JS05", 12500),
        (440222, "JS02", 120000),
        (440222, "JS01", 48000),
        (440222, "JS05", 30000),
        (440281, "JS01", 56000),
        (440200, "JS02", 30000),
        (440600, "JS02", 70000),
        (440600, "JS01", 20000),
        (440600, "JS05", 10000),
    ];
    let mut lines: Vec<LineYear> = doc12
        .iter()
        .map(|&(region, project, amount)| {
            line("12", region, project, "2021-03-05", yuan(amount), &[])
        })
        .collect();
    lines.push(line(
        "12",
        440281,
        "JS02",
        "2021-03-05",
        yuan(100000),
        &[("2021-08-02", yuan(-20000))],
    ));
    lines.push(line("40", 440203, "JS08", "2021-05-10", yuan(100000), &[]));
    lines.push(line("40", 440224, "JS08", "2021-05-10", yuan(100000), &[]));
    lines.push(line(
        "40",
        440105,
        "JS04",
        "2021-05-10",
        Fen::new(3_680_050),
        &[],
    ));
    lines
}

/// gd_2021_disbursements.csv with projects resolved (三结合=JS02,
/// 托育示范=JS08, 流动人口服务=JS10, 计生家庭系列保险=JS01), in file order.
fn gd_vouchers() -> Vec<VoucherIn> {
    vec![
        pay(
            "GZ21032001",
            "2021-03-20",
            440100,
            "JS02",
            Some("12"),
            yuan(50000),
        ),
        pay(
            "GZ21041001",
            "2021-04-10",
            440103,
            "JS02",
            None,
            yuan(80000),
        ),
        pay(
            "GZ21040401",
            "2021-04-04",
            440103,
            "JS01",
            Some("12"),
            yuan(32000),
        ),
        pay(
            "SG21033001",
            "2021-03-30",
            440222,
            "JS02",
            Some("12"),
            yuan(60000),
        ),
        pay(
            "SG21040101",
            "2021-04-01",
            440281,
            "JS02",
            None,
            yuan(80000),
        ),
        pay(
            "FS21032501",
            "2021-03-25",
            440600,
            "JS02",
            Some("12"),
            yuan(70000),
        ),
        refund(
            "FS21050601",
            "2021-05-06",
            440600,
            "JS02",
            yuan(-10000),
            "FS21032501",
        ),
        pay(
            "SG21052001",
            "2021-05-20",
            440203,
            "JS08",
            None,
            yuan(100000),
        ),
        pay(
            "SG21061501",
            "2021-06-15",
            440224,
            "JS08",
            Some("40"),
            yuan(120000),
        ),
        pay("GZ21061801", "2021-06-18", 440104, "JS10", None, yuan(5000)),
        pay(
            "SG21040201",
            "2021-04-02",
            440222,
            "JS01",
            Some("99"),
            yuan(48000),
        ),
    ]
}

/// The CSV row of SPEC §5.1 (names from the fixture's division table and
/// catalog; the product's own writer lives elsewhere).
fn gd_csv(report: &Report) -> Vec<String> {
    let region_names: HashMap<u32, &str> = [
        (440100, "广州市"),
        (440103, "荔湾区"),
        (440104, "越秀区"),
        (440105, "海珠区"),
        (440200, "韶关市"),
        (440203, "武江区"),
        (440222, "始兴县"),
        (440224, "仁化县"),
        (440281, "乐昌市"),
        (440600, "佛山市"),
    ]
    .into();
    let project_names: HashMap<&str, &str> = [
        ("JS01", "计生家庭系列保险"),
        ("JS02", "计生三结合帮扶"),
        ("JS04", "计生特殊家庭住院护理补贴"),
        ("JS05", "暖心家园建设"),
        ("JS08", "托育服务示范点"),
        ("JS10", "流动人口服务"),
    ]
    .into();
    let region = |code: RegionCode| region_names[&code.as_u32()];
    let project = |code: &ProjectCode| project_names[code.as_str()];
    let opt = |d: Option<NaiveDate>| d.map_or(String::new(), |d| d.to_string());
    let mut rows = vec![
        "fiscal_year,origin_year,doc_no,doc_date,region_code,region_name,project_code,project_name,allocated,disbursed,outstanding,due_date,settled_on,status,voucher_no".to_string(),
    ];
    rows.extend(report.lines.iter().map(|r| {
        format!(
            "{},{},{},{},{},{},{},{},{},{},{},{},{},{},",
            r.fiscal_year,
            r.origin_year,
            r.key.doc_no,
            r.doc_date,
            r.key.region,
            region(r.key.region),
            r.key.project,
            project(&r.key.project),
            r.allocated,
            r.disbursed,
            r.outstanding,
            r.due_date,
            opt(r.settled_on),
            r.status.as_str()
        )
    }));
    rows.extend(report.unmatched.iter().map(|u| {
        format!(
            "{},,{},,{},{},{},{},,{},,,,{},{}",
            u.fiscal_year,
            u.doc_no.as_ref().map_or(String::new(), |d| d.to_string()),
            u.region,
            region(u.region),
            u.project,
            project(&u.project),
            u.amount,
            Status::Unmatched.as_str(),
            u.voucher_no
        )
    }));
    rows
}

fn check_gd(as_of: &str, expected_csv: &str) {
    let report = reconcile(gd_lines(), gd_vouchers(), params(as_of)).unwrap();
    let got = gd_csv(&report);
    let expected: Vec<&str> = expected_csv.lines().collect();
    let header: Vec<&str> = expected[0].split(',').collect();
    assert_eq!(got.len(), expected.len(), "row count as of {as_of}");
    for (row, (got_row, want_row)) in got.iter().zip(&expected).enumerate() {
        let got_fields: Vec<&str> = got_row.split(',').collect();
        let want_fields: Vec<&str> = want_row.split(',').collect();
        assert_eq!(got_fields.len(), want_fields.len(), "row {row}: {got_row}");
        for (column, (g, w)) in got_fields.iter().zip(&want_fields).enumerate() {
            assert_eq!(
                g, w,
                "as of {as_of}, row {row}, column {}: got row {got_row}",
                header[column]
            );
        }
    }
    assert_eq!(got.join("\n") + "\n", expected_csv, "byte for byte");
}

#[test]
fn guangdong_2021_as_of_june_30() {
    check_gd(
        "2021-06-30",
        include_str!("../../../fixtures/gd-2021/expected_reconcile_2021-06-30.csv"),
    );
}

#[test]
fn guangdong_2021_as_of_september_30() {
    check_gd(
        "2021-09-30",
        include_str!("../../../fixtures/gd-2021/expected_reconcile_2021-09-30.csv"),
    );
}

#[test]
fn guangdong_2021_does_not_depend_on_input_order() {
    let mut lines = gd_lines();
    let mut vouchers = gd_vouchers();
    let forward = reconcile(lines.clone(), vouchers.clone(), params("2021-09-30")).unwrap();
    lines.reverse();
    vouchers.reverse();
    let backward = reconcile(lines, vouchers, params("2021-09-30")).unwrap();
    assert_eq!(forward, backward);
}
