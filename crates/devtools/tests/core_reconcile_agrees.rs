//! Cross-check: the generator's own year-end outcome of every Hunan line (in
//! expected_summary.json) agrees with the core reconciliation engine fed the
//! same lines and vouchers. Either side being wrong fails this test.

use fundledger_core::reconcile::{reconcile, LineYear, ReconcileParams, VoucherIn};
use fundledger_core::LineKey;
use fundledger_devtools::hunan::{as_of, Model, DEADLINE_DAYS};

#[test]
fn core_engine_agrees_with_the_generator_at_year_end() {
    let model = Model::build();
    let key = |line: usize| {
        let line = &model.lines[line];
        LineKey {
            doc_no: line.doc.doc_no(),
            region: model.recipients[line.recipient].code,
            project: model.catalog[line.project].code.clone(),
        }
    };
    let lines: Vec<LineYear> = (0..model.lines.len())
        .map(|i| LineYear {
            key: key(i),
            fiscal_year: 2020,
            origin_year: 2020,
            doc_date: model.lines[i].doc.date(),
            deadline_days: DEADLINE_DAYS,
            allocation_events: vec![(model.lines[i].doc.date(), model.lines[i].amount)],
        })
        .collect();
    let vouchers: Vec<VoucherIn> = model
        .vouchers
        .iter()
        .map(|v| VoucherIn {
            voucher_no: v.no.clone(),
            paid_on: v.paid_on,
            fiscal_year: 2020,
            region: model.recipients[v.recipient].code,
            project: model.catalog[v.project].code.clone(),
            doc_no: v.doc_no.clone(),
            amount: v.amount,
            original_voucher_no: v.original_voucher_no.clone(),
        })
        .collect();
    let params = ReconcileParams {
        as_of: as_of(),
        deadline_days_override: None,
    };
    let report = reconcile(lines, vouchers, params).unwrap();
    let outcomes = model.outcomes(as_of());
    assert_eq!(report.lines.len(), model.lines.len());
    for (i, outcome) in outcomes.iter().enumerate() {
        let row = report
            .lines
            .iter()
            .find(|r| r.key == key(i))
            .unwrap_or_else(|| panic!("{} missing from the report", key(i)));
        let want = (
            outcome.status.as_str(),
            outcome.disbursed,
            outcome.settled_on,
        );
        let got = (row.status.as_str(), row.disbursed, row.settled_on);
        assert_eq!(got, want, "{}", key(i));
    }
    let unmatched: Vec<&str> = report
        .unmatched
        .iter()
        .map(|u| u.voucher_no.as_str())
        .collect();
    let expected: Vec<&str> = model
        .vouchers
        .iter()
        .filter(|v| v.line.is_none())
        .map(|v| v.no.as_str())
        .collect();
    assert_eq!(unmatched, expected);
    assert_eq!(report.unmatched[0].reason.as_str(), "no line for doc_no");
}
