//! The reduction and refund rules (SPEC §4): pure functions over the rows
//! the store fetched for them, so each rule is tested without a database.
//! The store fetches and writes; what is allowed is decided here.
//!
//! Each check answers on two levels: the outer `Result` is the stored data
//! (amounts are read back from a database, so their sums are checked and
//! past `i64` are `MoneyError::Overflow`); the inner one is the rule's
//! verdict, a typed refusal with a stable name.

use crate::domain::{FiscalYear, LineKey, Reduction, Voucher};
use crate::money::{Fen, MoneyError};

/// The stored line a reduction targets, with what has been reduced from it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReductionTarget {
    pub origin_year: FiscalYear,
    /// The line's allocated amount as imported.
    pub allocated: Fen,
    /// The sum of the stored reductions of the line (zero or negative).
    pub reduced: Fen,
}

/// Why a reduction is refused; `column()` is the input column at fault.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReductionRefusal {
    #[error("reduces {target} which is not in the ledger")]
    UnknownTarget { target: LineKey },
    #[error(
        "would take {target} below zero: allocated {allocated}, reduced so far {reduced_so_far}, this reduction {this_reduction}"
    )]
    BelowZero {
        target: LineKey,
        allocated: Fen,
        reduced_so_far: Fen,
        this_reduction: Fen,
    },
}

impl ReductionRefusal {
    pub fn column(&self) -> &'static str {
        match self {
            ReductionRefusal::UnknownTarget { .. } => "adjusts_doc_no",
            ReductionRefusal::BelowZero { .. } => "amount",
        }
    }
}

/// A reduction applies to a line in the ledger and may not take it below
/// zero. On success, the fiscal year the reduction is booked in (the
/// target's origin year).
pub fn check_reduction(
    reduction: &Reduction,
    target: Option<&ReductionTarget>,
) -> Result<Result<FiscalYear, ReductionRefusal>, MoneyError> {
    let Some(t) = target else {
        return Ok(Err(ReductionRefusal::UnknownTarget {
            target: reduction.target.clone(),
        }));
    };
    let remaining = Fen::checked_sum([t.allocated, t.reduced, reduction.amount])?;
    if remaining.is_negative() {
        return Ok(Err(ReductionRefusal::BelowZero {
            target: reduction.target.clone(),
            allocated: t.allocated,
            reduced_so_far: t.reduced.checked_neg()?,
            this_reduction: reduction.amount.checked_neg()?,
        }));
    }
    Ok(Ok(t.origin_year))
}

/// The stored payment a refund names, as its row reads (text as stored),
/// with the sum of the refunds already booked against it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OriginalVoucher {
    pub fiscal_year: i64,
    pub region: String,
    pub project: String,
    pub amount: Fen,
    /// The sum of the stored refunds of this voucher (zero or negative).
    pub refunded: Fen,
}

/// Why a refund is refused (always in column `original_voucher_no`).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RefundRefusal {
    #[error("original voucher {original} is not in the ledger")]
    UnknownOriginal { original: String },
    #[error("original voucher {original} is itself a refund")]
    OriginalIsARefund { original: String },
    #[error(
        "refund is for {refund_year} {refund_region} {refund_project} but original voucher {original} paid {paid_year} {paid_region} {paid_project}"
    )]
    OtherLine {
        original: String,
        refund_year: FiscalYear,
        refund_region: String,
        refund_project: String,
        paid_year: i64,
        paid_region: String,
        paid_project: String,
    },
    #[error(
        "refund of {refund} exceeds what remains of voucher {original}: paid {paid}, refunded so far {refunded_so_far}"
    )]
    ExceedsRemaining {
        original: String,
        refund: Fen,
        paid: Fen,
        refunded_so_far: Fen,
    },
}

/// A refund must name a payment of the same year, region and project, and
/// may not return more than that payment has left.
pub fn check_refund(
    refund: &Voucher,
    original: Option<&OriginalVoucher>,
) -> Result<Result<(), RefundRefusal>, MoneyError> {
    let original_no = refund.original_voucher_no.clone().unwrap_or_default();
    let Some(o) = original else {
        return Ok(Err(RefundRefusal::UnknownOriginal {
            original: original_no,
        }));
    };
    if !o.amount.is_positive() {
        return Ok(Err(RefundRefusal::OriginalIsARefund {
            original: original_no,
        }));
    }
    if o.fiscal_year != i64::from(refund.fiscal_year)
        || o.region != refund.region.to_string()
        || o.project != refund.project.as_str()
    {
        return Ok(Err(RefundRefusal::OtherLine {
            original: original_no,
            refund_year: refund.fiscal_year,
            refund_region: refund.region.to_string(),
            refund_project: refund.project.to_string(),
            paid_year: o.fiscal_year,
            paid_region: o.region.clone(),
            paid_project: o.project.clone(),
        }));
    }
    let remaining = Fen::checked_sum([o.amount, o.refunded, refund.amount])?;
    if remaining.is_negative() {
        return Ok(Err(RefundRefusal::ExceedsRemaining {
            original: original_no,
            refund: refund.amount.checked_neg()?,
            paid: o.amount,
            refunded_so_far: o.refunded.checked_neg()?,
        }));
    }
    Ok(Ok(()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{DocNo, ProjectCode, RegionCode, SourceRef};
    use chrono::NaiveDate;

    fn key(doc: &str) -> LineKey {
        LineKey {
            doc_no: DocNo::parse(doc).unwrap(),
            region: RegionCode::parse("440103").unwrap(),
            project: ProjectCode::parse("P01").unwrap(),
        }
    }

    fn reduction(amount_fen: i64) -> Reduction {
        Reduction {
            key: key("粤财农〔2021〕9号"),
            doc_date: NaiveDate::from_ymd_opt(2021, 5, 1).unwrap(),
            fiscal_year: 2021,
            target: key("粤财农〔2021〕1号"),
            amount: Fen::new(amount_fen),
            remark: None,
            source: SourceRef::default(),
        }
    }

    fn target(allocated_fen: i64, reduced_fen: i64) -> ReductionTarget {
        ReductionTarget {
            origin_year: 2020,
            allocated: Fen::new(allocated_fen),
            reduced: Fen::new(reduced_fen),
        }
    }

    /// (reduction fen, target (allocated, reduced so far), expected)
    fn check_r(
        amount_fen: i64,
        stored: Option<(i64, i64)>,
        expected: Result<Result<FiscalYear, &str>, MoneyError>,
    ) {
        let t = stored.map(|(a, r)| target(a, r));
        let got = check_reduction(&reduction(amount_fen), t.as_ref());
        let got = got.map(|v| v.map_err(|e| format!("{}: {e}", e.column())));
        let want = expected.map(|v| v.map_err(str::to_string));
        assert_eq!(got, want, "{amount_fen} {stored:?}");
    }

    #[test]
    fn reduction_rules() {
        check_r(-100, Some((500, 0)), Ok(Ok(2020)));
        check_r(-500, Some((500, 0)), Ok(Ok(2020)));
        check_r(-100, Some((500, -400)), Ok(Ok(2020)));
        check_r(
            -101,
            Some((500, -400)),
            Ok(Err(
                "amount: would take 粤财农〔2021〕1号/440103/P01 below zero: \
                 allocated 5.00, reduced so far 4.00, this reduction 1.01",
            )),
        );
        check_r(
            -100,
            None,
            Ok(Err(
                "adjusts_doc_no: reduces 粤财农〔2021〕1号/440103/P01 which is not in the ledger",
            )),
        );
        // Forged stored amounts: a sum past i64 is an error, not a wrap.
        check_r(-1, Some((i64::MAX, 0)), Ok(Ok(2020)));
        check_r(-1, Some((i64::MAX, 1)), Err(MoneyError::Overflow));
        check_r(-1, Some((i64::MIN + 1, -1)), Err(MoneyError::Overflow));
        check_r(-1, Some((5, i64::MIN)), Err(MoneyError::Overflow));
    }

    fn voucher(amount_fen: i64) -> Voucher {
        Voucher {
            voucher_no: "R1".into(),
            paid_on: NaiveDate::from_ymd_opt(2021, 6, 1).unwrap(),
            region: RegionCode::parse("440103").unwrap(),
            project: ProjectCode::parse("P01").unwrap(),
            doc_no: None,
            fiscal_year: 2021,
            amount: Fen::new(amount_fen),
            original_voucher_no: Some("V1".into()),
            payee: None,
            memo: None,
            source: SourceRef::default(),
        }
    }

    fn paid(year: i64, region: &str, amount_fen: i64, refunded_fen: i64) -> OriginalVoucher {
        OriginalVoucher {
            fiscal_year: year,
            region: region.into(),
            project: "P01".into(),
            amount: Fen::new(amount_fen),
            refunded: Fen::new(refunded_fen),
        }
    }

    fn check_f(
        amount_fen: i64,
        original: Option<OriginalVoucher>,
        expected: Result<Result<(), &str>, MoneyError>,
    ) {
        let got = check_refund(&voucher(amount_fen), original.as_ref());
        let got = got.map(|v| v.map_err(|e| e.to_string()));
        let want = expected.map(|v| v.map_err(str::to_string));
        assert_eq!(got, want, "{amount_fen} {original:?}");
    }

    #[test]
    fn refund_rules() {
        let here = "440103";
        check_f(-100, Some(paid(2021, here, 500, 0)), Ok(Ok(())));
        check_f(-500, Some(paid(2021, here, 500, 0)), Ok(Ok(())));
        check_f(-100, Some(paid(2021, here, 500, -400)), Ok(Ok(())));
        check_f(
            -101,
            Some(paid(2021, here, 500, -400)),
            Ok(Err(
                "refund of 1.01 exceeds what remains of voucher V1: paid 5.00, refunded so far 4.00",
            )),
        );
        check_f(
            -100,
            None,
            Ok(Err("original voucher V1 is not in the ledger")),
        );
        check_f(
            -100,
            Some(paid(2021, here, -500, 0)),
            Ok(Err("original voucher V1 is itself a refund")),
        );
        check_f(
            -100,
            Some(paid(2020, here, 500, 0)),
            Ok(Err(
                "refund is for 2021 440103 P01 but original voucher V1 paid 2020 440103 P01",
            )),
        );
        check_f(
            -100,
            Some(paid(2021, "440104", 500, 0)),
            Ok(Err(
                "refund is for 2021 440103 P01 but original voucher V1 paid 2021 440104 P01",
            )),
        );
        // Forged stored amounts: a sum past i64 is an error, not a wrap.
        check_f(
            -1,
            Some(paid(2021, here, i64::MAX, 1)),
            Err(MoneyError::Overflow),
        );
        check_f(
            -1,
            Some(paid(2021, here, 5, i64::MIN)),
            Err(MoneyError::Overflow),
        );
    }
}
