//! Guard rails for the commands that can never be undone (`budget set`,
//! `close`, `rollover`): a typo in a year or a month must be refused before
//! anything is written. Pure: the store supplies the facts, the command line
//! supplies today's date (the only clock is in the CLI).

use chrono::{Datelike, NaiveDate};
use std::collections::BTreeSet;
use std::fmt;

/// Fiscal years outside this range are typos (`21`, `0`, `20201`).
pub const FIRST_FISCAL_YEAR: i32 = 2000;
pub const LAST_FISCAL_YEAR: i32 = 2100;

/// What the ledger holds, as far as the guard rails care.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LedgerPeriods {
    /// Fiscal years with a pool, an indicator line, a reduction, a voucher
    /// or money carried in.
    pub years_with_data: BTreeSet<i32>,
    /// Fiscal years whose rollover has run.
    pub rolled_years: BTreeSet<i32>,
    /// The latest doc date or paid_on of any indicator line, reduction or
    /// voucher: the last month an officer has data for.
    pub last_data_date: Option<NaiveDate>,
}

/// Why an irreversible command was refused. Stable names; the text says
/// what to do instead.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PeriodRefusal {
    YearOutOfRange {
        year: i32,
    },
    YearTooFarAhead {
        year: i32,
        today: NaiveDate,
    },
    /// A rollover of a year that has not ended or is not under way.
    RolloverInFuture {
        year: i32,
        today: NaiveDate,
    },
    NothingToRoll {
        year: i32,
        years_with_data: Vec<i32>,
    },
    EarlierYearOpen {
        year: i32,
        earlier: i32,
    },
    CloseInFuture {
        through: NaiveDate,
        today: NaiveDate,
    },
    CloseEmptyLedger {
        through: NaiveDate,
    },
    ClosePastData {
        through: NaiveDate,
        last_data_date: NaiveDate,
    },
}

fn month(d: NaiveDate) -> String {
    d.format("%Y-%m").to_string()
}

impl fmt::Display for PeriodRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PeriodRefusal::YearOutOfRange { year } => write!(
                f,
                "fiscal year {year} is outside {FIRST_FISCAL_YEAR}–{LAST_FISCAL_YEAR}; write the year in full, e.g. 2021"
            ),
            PeriodRefusal::YearTooFarAhead { year, today } => write!(
                f,
                "fiscal year {year} is more than one year ahead of today ({today}); \
                 the latest year that can be written now is {}",
                today.year() + 1
            ),
            PeriodRefusal::RolloverInFuture { year, today } => write!(
                f,
                "the rollover of fiscal year {year} would close every date through {year}-12-31, \
                 past the current month ({}); roll a year over at or after its end",
                month(*today)
            ),
            PeriodRefusal::NothingToRoll {
                year,
                years_with_data,
            } => {
                let held = if years_with_data.is_empty() {
                    "the ledger holds no data at all".to_string()
                } else {
                    let ys: Vec<String> = years_with_data.iter().map(|y| y.to_string()).collect();
                    format!("the years with data are {}", ys.join(", "))
                };
                write!(
                    f,
                    "fiscal year {year}: the ledger holds nothing for it (no pool, no indicator line, \
                     no voucher, nothing carried in), so there is nothing to roll over; {held}"
                )
            }
            PeriodRefusal::EarlierYearOpen { year, earlier } => write!(
                f,
                "fiscal year {earlier} holds data and has not been rolled over; years roll over in \
                 order: run `fundledger rollover --fiscal-year {earlier}` before {year}"
            ),
            PeriodRefusal::CloseInFuture { through, today } => write!(
                f,
                "--through {}: that month has not ended or begun; the current month is {} \
                 (a close can never be undone)",
                month(*through),
                month(*today)
            ),
            PeriodRefusal::CloseEmptyLedger { through } => write!(
                f,
                "--through {}: the ledger holds no indicator line, reduction or voucher yet; \
                 there is nothing to close",
                month(*through)
            ),
            PeriodRefusal::ClosePastData {
                through,
                last_data_date,
            } => write!(
                f,
                "--through {}: the last month the ledger holds data for is {} (latest row dated {}); \
                 close at most through {} (a close can never be undone)",
                month(*through),
                month(*last_data_date),
                last_data_date,
                month(*last_data_date)
            ),
        }
    }
}

impl std::error::Error for PeriodRefusal {}

/// A fiscal year that may be written today: 2000–2100 and at most one year
/// ahead (next year's pool is set in December).
pub fn check_fiscal_year(year: i32, today: NaiveDate) -> Result<(), PeriodRefusal> {
    if !(FIRST_FISCAL_YEAR..=LAST_FISCAL_YEAR).contains(&year) {
        return Err(PeriodRefusal::YearOutOfRange { year });
    }
    if year > today.year() + 1 {
        return Err(PeriodRefusal::YearTooFarAhead { year, today });
    }
    Ok(())
}

/// A rollover of `year`: a sane year, not in the future, holding data, and
/// every earlier year with data already rolled. A year already rolled
/// passes (the second run reports and changes nothing).
pub fn check_rollover(
    year: i32,
    ledger: &LedgerPeriods,
    today: NaiveDate,
) -> Result<(), PeriodRefusal> {
    check_fiscal_year(year, today)?;
    if ledger.rolled_years.contains(&year) {
        return Ok(());
    }
    if year > today.year() {
        return Err(PeriodRefusal::RolloverInFuture { year, today });
    }
    if !ledger.years_with_data.contains(&year) {
        return Err(PeriodRefusal::NothingToRoll {
            year,
            years_with_data: ledger.years_with_data.iter().copied().collect(),
        });
    }
    let open_earlier = ledger
        .years_with_data
        .range(..year)
        .find(|y| !ledger.rolled_years.contains(y));
    match open_earlier {
        Some(&earlier) => Err(PeriodRefusal::EarlierYearOpen { year, earlier }),
        None => Ok(()),
    }
}

/// A close through `through` (a month's last day): not past the current
/// month, and not past the last month the ledger holds data for.
pub fn check_close(
    through: NaiveDate,
    ledger: &LedgerPeriods,
    today: NaiveDate,
) -> Result<(), PeriodRefusal> {
    let month_key = |d: NaiveDate| (d.year(), d.month());
    if month_key(through) > month_key(today) {
        return Err(PeriodRefusal::CloseInFuture { through, today });
    }
    match ledger.last_data_date {
        None => Err(PeriodRefusal::CloseEmptyLedger { through }),
        Some(last) if month_key(through) > month_key(last) => Err(PeriodRefusal::ClosePastData {
            through,
            last_data_date: last,
        }),
        Some(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn ledger(with_data: &[i32], rolled: &[i32], last: Option<NaiveDate>) -> LedgerPeriods {
        LedgerPeriods {
            years_with_data: with_data.iter().copied().collect(),
            rolled_years: rolled.iter().copied().collect(),
            last_data_date: last,
        }
    }

    /// The refusal's stable name, or "ok".
    fn name(r: Result<(), PeriodRefusal>) -> &'static str {
        match r {
            Ok(()) => "ok",
            Err(PeriodRefusal::YearOutOfRange { .. }) => "YearOutOfRange",
            Err(PeriodRefusal::YearTooFarAhead { .. }) => "YearTooFarAhead",
            Err(PeriodRefusal::RolloverInFuture { .. }) => "RolloverInFuture",
            Err(PeriodRefusal::NothingToRoll { .. }) => "NothingToRoll",
            Err(PeriodRefusal::EarlierYearOpen { .. }) => "EarlierYearOpen",
            Err(PeriodRefusal::CloseInFuture { .. }) => "CloseInFuture",
            Err(PeriodRefusal::CloseEmptyLedger { .. }) => "CloseEmptyLedger",
            Err(PeriodRefusal::ClosePastData { .. }) => "ClosePastData",
        }
    }

    #[test]
    fn fiscal_years() {
        let today = day(2026, 12, 1);
        let check = |year: i32, expected: &str| {
            assert_eq!(name(check_fiscal_year(year, today)), expected, "{year}");
        };
        check(0, "YearOutOfRange");
        check(21, "YearOutOfRange");
        check(1999, "YearOutOfRange");
        check(2000, "ok");
        check(2021, "ok");
        check(2026, "ok");
        check(2027, "ok");
        check(2028, "YearTooFarAhead");
        check(2100, "YearTooFarAhead");
        check(2101, "YearOutOfRange");
        check(20201, "YearOutOfRange");
    }

    #[test]
    fn rollovers() {
        let today = day(2026, 12, 1);
        let check = |year: i32, l: &LedgerPeriods, expected: &str| {
            assert_eq!(
                name(check_rollover(year, l, today)),
                expected,
                "{year} {l:?}"
            );
        };
        let gd = ledger(&[2021], &[], Some(day(2021, 9, 1)));
        check(2021, &gd, "ok");
        check(2025, &gd, "NothingToRoll");
        check(2022, &gd, "NothingToRoll");
        check(2020, &gd, "NothingToRoll");
        check(21, &gd, "YearOutOfRange");
        check(2027, &ledger(&[2027], &[], None), "RolloverInFuture");
        check(2026, &ledger(&[2026], &[], None), "ok");
        let three = ledger(&[2020, 2021, 2022], &[], None);
        check(2020, &three, "ok");
        check(2021, &three, "EarlierYearOpen");
        check(2022, &three, "EarlierYearOpen");
        let first_rolled = ledger(&[2020, 2021, 2022], &[2020], None);
        check(2021, &first_rolled, "ok");
        check(2022, &first_rolled, "EarlierYearOpen");
        // A second run of a rolled year is allowed: it changes nothing.
        check(2020, &first_rolled, "ok");
        // A gap year holding nothing does not block the next.
        check(2022, &ledger(&[2020, 2022], &[2020], None), "ok");
    }

    #[test]
    fn earlier_open_year_is_named() {
        let l = ledger(&[2020, 2021], &[], None);
        let err = check_rollover(2021, &l, day(2026, 1, 1)).unwrap_err();
        assert!(
            err.to_string().contains("fiscal year 2020 holds data"),
            "{err}"
        );
    }

    #[test]
    fn closes() {
        let today = day(2026, 12, 1);
        let check = |through: NaiveDate, l: &LedgerPeriods, expected: &str| {
            assert_eq!(name(check_close(through, l, today)), expected, "{through}");
        };
        let gd = ledger(&[2021], &[], Some(day(2021, 9, 15)));
        check(day(2021, 6, 30), &gd, "ok");
        check(day(2021, 9, 30), &gd, "ok");
        check(day(2021, 10, 31), &gd, "ClosePastData");
        check(day(2099, 12, 31), &gd, "CloseInFuture");
        check(day(2027, 1, 31), &gd, "CloseInFuture");
        check(
            day(2021, 6, 30),
            &ledger(&[], &[], None),
            "CloseEmptyLedger",
        );
        let now = ledger(&[2026], &[], Some(day(2026, 12, 1)));
        check(day(2026, 12, 31), &now, "ok");
        check(day(2026, 11, 30), &now, "ok");
    }

    #[test]
    fn close_past_data_says_which_month() {
        let l = ledger(&[2021], &[], Some(day(2021, 9, 15)));
        let err = check_close(day(2022, 3, 31), &l, day(2026, 12, 1)).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("is 2021-09 (latest row dated 2021-09-15)"),
            "{text}"
        );
    }
}
