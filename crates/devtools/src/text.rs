//! How bureaus spell amounts, dates and codes. Every function takes fen or a
//! date and returns the text a file carries; nothing here rounds.

use chrono::{Datelike, NaiveDate};
use fundledger_core::{DocNo, Fen, RegionCode};

/// Yuan with two places, no separators: `-1234.50`.
pub fn yuan_plain(amount: Fen) -> String {
    amount.to_string()
}

/// Yuan with two places and thousands separators: `-1,234.50`.
pub fn yuan_grouped(amount: Fen) -> String {
    let plain = yuan_plain(amount);
    let (sign, unsigned) = match plain.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", plain.as_str()),
    };
    let (whole, fraction) = unsigned
        .split_once('.')
        .expect("Fen prints a decimal point");
    format!("{sign}{}.{fraction}", group_thousands(whole))
}

/// Accounting style: negatives in parentheses with separators, `(1,234.50)`.
pub fn yuan_accounting(amount: Fen) -> String {
    if amount.is_negative() {
        let positive = amount
            .checked_neg()
            .expect("fixture amounts are far from i64::MIN");
        format!("({})", yuan_grouped(positive))
    } else {
        yuan_grouped(amount)
    }
}

/// Whole yuan without decimals (`12345`), otherwise two places.
pub fn yuan_short(amount: Fen) -> String {
    if amount.as_i64() % 100 == 0 {
        (amount.as_i64() / 100).to_string()
    } else {
        yuan_plain(amount)
    }
}

/// 万元 with at least two and at most six decimals (1 fen = 0.000001 万元).
pub fn wan_text(amount: Fen) -> String {
    let fen_per_wan: i64 = 1_000_000;
    let sign = if amount.is_negative() { "-" } else { "" };
    let magnitude = amount.as_i64().unsigned_abs();
    let whole = magnitude / fen_per_wan.unsigned_abs();
    let fraction = format!("{:06}", magnitude % fen_per_wan.unsigned_abs());
    let trimmed = fraction.trim_end_matches('0');
    let decimals = if trimmed.len() < 2 {
        &fraction[..2]
    } else {
        trimmed
    };
    format!("{sign}{whole}.{decimals}")
}

fn group_thousands(digits: &str) -> String {
    let mut grouped = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(ch);
    }
    grouped
}

/// The four date spellings of SPEC §4.2 that bureaus use most.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DateStyle {
    /// `2020-04-03`
    Iso,
    /// `2020/4/3`
    Slash,
    /// `2020年4月3日`
    Chinese,
    /// `20200403`
    Compact,
}

impl DateStyle {
    pub const ALL: [DateStyle; 4] = [
        DateStyle::Iso,
        DateStyle::Slash,
        DateStyle::Chinese,
        DateStyle::Compact,
    ];

    pub fn format(self, date: NaiveDate) -> String {
        let (y, m, d) = (date.year(), date.month(), date.day());
        match self {
            DateStyle::Iso => format!("{y:04}-{m:02}-{d:02}"),
            DateStyle::Slash => format!("{y}/{m}/{d}"),
            DateStyle::Chinese => format!("{y}年{m}月{d}日"),
            DateStyle::Compact => format!("{y:04}{m:02}{d:02}"),
        }
    }
}

/// The bracket pairs bureaus type around a document year.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Brackets {
    Canonical,
    Square,
    FullWidthParen,
}

impl Brackets {
    pub const ALL: [Brackets; 3] = [
        Brackets::Canonical,
        Brackets::Square,
        Brackets::FullWidthParen,
    ];

    pub fn format(self, doc_no: &DocNo) -> String {
        let (open, close) = match self {
            Brackets::Canonical => ('〔', '〕'),
            Brackets::Square => ('[', ']'),
            Brackets::FullWidthParen => ('（', '）'),
        };
        format!(
            "{}{open}{}{close}{}号",
            doc_no.prefix(),
            doc_no.year(),
            doc_no.number()
        )
    }
}

/// Six digits, or the finance system's nine (`430121000`).
pub fn region_text(code: RegionCode, nine_digits: bool) -> String {
    if nine_digits {
        format!("{code}000")
    } else {
        code.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(got: String, expected: &str) {
        assert_eq!(got, expected);
    }

    #[test]
    fn amounts_print_as_bureaus_write_them() {
        check(yuan_plain(Fen::new(123_450)), "1234.50");
        check(yuan_grouped(Fen::new(123_450)), "1,234.50");
        check(yuan_grouped(Fen::new(-1_000_000_000)), "-10,000,000.00");
        check(yuan_grouped(Fen::new(5)), "0.05");
        check(yuan_grouped(Fen::new(10_000_000)), "100,000.00");
        check(yuan_accounting(Fen::new(-123_400)), "(1,234.00)");
        check(yuan_accounting(Fen::new(123_400)), "1,234.00");
        check(yuan_short(Fen::new(1_234_500)), "12345");
        check(yuan_short(Fen::new(1_234_550)), "12345.50");
        check(wan_text(Fen::new(1_234_000)), "1.234");
        check(wan_text(Fen::new(1_680_000_000)), "1680.00");
        check(wan_text(Fen::new(3_680_050)), "3.68005");
        check(wan_text(Fen::new(1)), "0.000001");
        check(wan_text(Fen::new(-25_000_000)), "-25.00");
    }

    #[test]
    fn dates_and_doc_numbers() {
        let date = NaiveDate::from_ymd_opt(2020, 4, 3).unwrap();
        check(DateStyle::Iso.format(date), "2020-04-03");
        check(DateStyle::Slash.format(date), "2020/4/3");
        check(DateStyle::Chinese.format(date), "2020年4月3日");
        check(DateStyle::Compact.format(date), "20200403");
        let doc = DocNo::parse("湘财社指〔2020〕36号").unwrap();
        check(Brackets::Square.format(&doc), "湘财社指[2020]36号");
        check(
            Brackets::FullWidthParen.format(&doc),
            "湘财社指（2020）36号",
        );
        check(Brackets::Canonical.format(&doc), "湘财社指〔2020〕36号");
        let code = RegionCode::parse("430121").unwrap();
        check(region_text(code, true), "430121000");
        check(region_text(code, false), "430121");
    }
}
