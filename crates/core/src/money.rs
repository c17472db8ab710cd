//! Money is integer fen (0.01 yuan) in an `i64`, with checked arithmetic.
//! `rust_decimal` appears only at the parse/print boundary.

use rust_decimal::Decimal;
use std::fmt;

/// An amount of CNY in fen. Positive or negative; never fractional.
/// The field is private so that money moves only through the checked
/// operations below: a sum past `i64` is `MoneyError::Overflow`, never a wrap.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Fen(i64);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    /// A sum or difference does not fit in 64-bit fen (stable name: `Overflow`).
    #[error("amount overflow: the figure does not fit in 64-bit fen")]
    Overflow,
    #[error(
        "amount {value} is not a whole number of fen ({max_decimals} decimals at most in {unit})"
    )]
    FractionalFen {
        value: String,
        unit: &'static str,
        max_decimals: u32,
    },
}

/// The unit a file states its amounts in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Unit {
    /// 元
    Yuan,
    /// 万元 = 10,000 yuan
    Wan,
}

impl Unit {
    pub fn fen_per_unit(self) -> i64 {
        match self {
            Unit::Yuan => 100,
            Unit::Wan => 1_000_000,
        }
    }
    /// Decimal places that still give whole fen.
    pub fn max_decimals(self) -> u32 {
        match self {
            Unit::Yuan => 2,
            Unit::Wan => 6,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Unit::Yuan => "元",
            Unit::Wan => "万元",
        }
    }
}

impl Fen {
    pub const ZERO: Fen = Fen(0);

    /// An amount of `fen` fen (0.01 yuan each).
    pub const fn new(fen: i64) -> Fen {
        Fen(fen)
    }

    /// The amount as a count of fen, for storing and printing.
    pub const fn as_i64(self) -> i64 {
        self.0
    }

    /// Exact conversion of a decimal in `unit` to fen; refuses anything that is
    /// not a whole number of fen rather than rounding it.
    pub fn from_decimal(value: Decimal, unit: Unit) -> Result<Fen, MoneyError> {
        let scaled = value
            .checked_mul(Decimal::from(unit.fen_per_unit()))
            .ok_or(MoneyError::Overflow)?;
        if scaled.fract() != Decimal::ZERO {
            return Err(MoneyError::FractionalFen {
                value: value.to_string(),
                unit: unit.name(),
                max_decimals: unit.max_decimals(),
            });
        }
        let whole = scaled.trunc();
        i64::try_from(whole)
            .map(Fen)
            .map_err(|_| MoneyError::Overflow)
    }

    pub fn to_decimal_yuan(self) -> Decimal {
        Decimal::new(self.0, 2)
    }

    pub fn checked_add(self, other: Fen) -> Result<Fen, MoneyError> {
        self.0
            .checked_add(other.0)
            .map(Fen)
            .ok_or(MoneyError::Overflow)
    }
    pub fn checked_sub(self, other: Fen) -> Result<Fen, MoneyError> {
        self.0
            .checked_sub(other.0)
            .map(Fen)
            .ok_or(MoneyError::Overflow)
    }
    pub fn checked_neg(self) -> Result<Fen, MoneyError> {
        self.0.checked_neg().map(Fen).ok_or(MoneyError::Overflow)
    }
    pub fn checked_abs(self) -> Result<Fen, MoneyError> {
        self.0.checked_abs().map(Fen).ok_or(MoneyError::Overflow)
    }
    pub fn is_zero(self) -> bool {
        self.0 == 0
    }
    pub fn is_negative(self) -> bool {
        self.0 < 0
    }
    pub fn is_positive(self) -> bool {
        self.0 > 0
    }

    /// Sum with overflow checking.
    pub fn checked_sum<I: IntoIterator<Item = Fen>>(items: I) -> Result<Fen, MoneyError> {
        items
            .into_iter()
            .try_fold(Fen::ZERO, |acc, x| acc.checked_add(x))
    }
}

/// Plain decimal yuan with exactly two places, no separators: `-1234.50`.
impl fmt::Display for Fen {
    /// Yuan with two places (`-0.05`, `1234.50`), from the integer itself:
    /// a report prints hundreds of thousands of amounts, and going through
    /// a `Decimal` and its string cost more than the rest of the row.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.yuan().as_str())
    }
}

/// An amount's yuan text (`-1234.50`), on the stack.
#[derive(Clone, Copy)]
pub struct YuanText {
    /// `-92233720368547758.08` is the longest: 21 bytes.
    buf: [u8; 24],
    start: usize,
}

impl YuanText {
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.buf[self.start..]).expect("digits, '-' and '.' are ASCII")
    }
}

impl Fen {
    /// The text `Display` writes (what `rust_decimal` writes for the yuan
    /// at scale 2: two decimals, no grouping), without a `Decimal` and a
    /// `String`: the exports write two amounts per posting.
    pub fn yuan(self) -> YuanText {
        let mut buf = [0u8; 24];
        let mut at = buf.len();
        let mut rest = self.0.unsigned_abs();
        let mut put = |b: u8| {
            at -= 1;
            buf[at] = b;
        };
        put(b'0' + (rest % 10) as u8);
        rest /= 10;
        put(b'0' + (rest % 10) as u8);
        rest /= 10;
        put(b'.');
        loop {
            put(b'0' + (rest % 10) as u8);
            rest /= 10;
            if rest == 0 {
                break;
            }
        }
        if self.0 < 0 {
            put(b'-');
        }
        YuanText { buf, start: at }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn check_convert(text: &str, unit: Unit, expected: Result<i64, &str>) {
        let value = Decimal::from_str(text).unwrap();
        let got = Fen::from_decimal(value, unit);
        match (got, expected) {
            (Ok(fen), Ok(want)) => assert_eq!(fen.0, want, "{text} {unit:?}"),
            (Err(e), Err(want)) => assert!(e.to_string().contains(want), "{text}: {e}"),
            (got, want) => panic!("{text} {unit:?}: got {got:?}, want {want:?}"),
        }
    }

    #[test]
    fn converts_exactly_or_refuses() {
        check_convert("1234.50", Unit::Yuan, Ok(123450));
        check_convert("0.01", Unit::Yuan, Ok(1));
        check_convert("0.001", Unit::Yuan, Err("not a whole number of fen"));
        check_convert("5166", Unit::Wan, Ok(5_166_000_000));
        check_convert("3.680050", Unit::Wan, Ok(3_680_050));
        check_convert("0.0000001", Unit::Wan, Err("not a whole number of fen"));
        check_convert("-20000.00", Unit::Yuan, Ok(-2_000_000));
        check_convert("99999999999999999999", Unit::Yuan, Err("overflow"));
    }

    #[test]
    fn prints_two_places() {
        assert_eq!(Fen(123450).to_string(), "1234.50");
        assert_eq!(Fen(-5).to_string(), "-0.05");
        assert_eq!(Fen(0).to_string(), "0.00");
        assert_eq!(Fen(5_166_000_000).to_string(), "51660000.00");
        // Printed from the integer: the same text as the exact decimal,
        // to the ends of i64, and padding still applies.
        for fen in [
            i64::MIN,
            i64::MIN + 1,
            -100,
            -99,
            -10,
            -1,
            1,
            9,
            10,
            99,
            100,
            101,
            i64::MAX,
        ] {
            assert_eq!(
                Fen(fen).to_string(),
                Fen(fen).to_decimal_yuan().to_string(),
                "{fen}"
            );
        }
        assert_eq!(format!("{:>8}", Fen(-5)), "   -0.05");
    }

    #[test]
    fn checked_arithmetic_refuses_overflow() {
        assert_eq!(Fen(i64::MAX).checked_add(Fen(1)), Err(MoneyError::Overflow));
        assert_eq!(Fen(i64::MIN).checked_neg(), Err(MoneyError::Overflow));
        assert_eq!(Fen::checked_sum([Fen(1), Fen(2)]), Ok(Fen(3)));
    }

    const OVER: Result<i64, MoneyError> = Err(MoneyError::Overflow);

    fn check_op(name: &str, got: Result<Fen, MoneyError>, expected: Result<i64, MoneyError>) {
        assert_eq!(got.map(Fen::as_i64), expected, "{name}");
    }

    #[test]
    fn checked_ops_table() {
        let (max, min) = (Fen::new(i64::MAX), Fen::new(i64::MIN));
        let huge = Fen::new(9_000_000_000_000_000_000);
        check_op("1 + 2", Fen::new(1).checked_add(Fen::new(2)), Ok(3));
        check_op("max + 0", max.checked_add(Fen::ZERO), Ok(i64::MAX));
        check_op("max + 1", max.checked_add(Fen::new(1)), OVER);
        check_op("min + -1", min.checked_add(Fen::new(-1)), OVER);
        check_op("huge + huge", huge.checked_add(huge), OVER);
        check_op("5 - 7", Fen::new(5).checked_sub(Fen::new(7)), Ok(-2));
        check_op("min - 1", min.checked_sub(Fen::new(1)), OVER);
        check_op("0 - min", Fen::ZERO.checked_sub(min), OVER);
        check_op("-max", max.checked_neg(), Ok(-i64::MAX));
        check_op("|-5|", Fen::new(-5).checked_abs(), Ok(5));
        check_op("|min|", min.checked_abs(), OVER);
        check_op("sum []", Fen::checked_sum([]), Ok(0));
        check_op("sum [huge, huge]", Fen::checked_sum([huge, huge]), OVER);
        let minus_huge = Fen::new(-9_000_000_000_000_000_000);
        check_op(
            "sum [huge, -huge, huge]",
            Fen::checked_sum([huge, minus_huge, huge]),
            Ok(huge.as_i64()),
        );
    }

    #[test]
    fn the_overflow_error_has_a_stable_name_and_text() {
        assert_eq!(format!("{:?}", MoneyError::Overflow), "Overflow");
        assert_eq!(
            MoneyError::Overflow.to_string(),
            "amount overflow: the figure does not fit in 64-bit fen"
        );
    }

    proptest::proptest! {
        /// The stack rendering is the `rust_decimal` one Display first used,
        /// at every magnitude and at both ends of `i64`.
        #[test]
        fn yuan_text_is_the_decimal_text(
            fen in proptest::prop_oneof![
                proptest::prelude::any::<i64>(),
                -100_000i64..100_000,
                proptest::prelude::Just(i64::MIN),
                proptest::prelude::Just(i64::MAX),
            ]
        ) {
            let want = Fen(fen).to_decimal_yuan().to_string();
            let text = Fen(fen).yuan();
            proptest::prop_assert_eq!(text.as_str(), want.as_str());
            proptest::prop_assert_eq!(Fen(fen).to_string(), want.clone());
            proptest::prop_assert_eq!(format!("{:>14}", Fen(fen)), format!("{want:>14}"));
        }
    }
}
