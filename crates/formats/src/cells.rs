//! Pure cell parsers: amounts (SPEC §4.1), units, dates (§4.2), header text.
//!
//! Each parser returns `Err(message)`; the caller wraps it in a `RowError`
//! with the file, line and column.
//!
//! Amount grammar (decided here, tested in `amount_grammar`):
//! `[+|-] INT [. DIGITS]` or `( INT [. DIGITS] )` for an accounting negative, where
//! INT is plain digits (`1234`) or groups of three after a 1–3 digit lead
//! (`1,234,567`; the lead may not be `0`). Rejected: currency signs, inner
//! spaces, `1.234,50`, `25,00`, `1,23,456`, `.5` and `5.` (a bare point is a
//! typing slip, not a number), a sign inside parentheses, full-width digits.
//! Trailing zeros beyond the unit's precision are fine (`1.000` yuan = 100 fen);
//! anything that is not whole fen is refused, never rounded.

use crate::limits::shown;
use crate::table::CellValue;
use chrono::{Datelike, NaiveDate};
use fundledger_core::{Fen, Unit};
use rust_decimal::Decimal;
use std::str::FromStr;

/// The one header normaliser (core `text`): `金额 （万元）` and `金额(万元)`
/// compare equal.
pub(crate) use fundledger_core::text::normalise_header;

/// Split a normalised header into its base name and the unit its suffix states:
/// `金额(万元)` → (`金额`, Wan), `amount_yuan` → (`amount`, Yuan).
pub(crate) fn split_unit_suffix(normalised: &str) -> (&str, Option<Unit>) {
    let suffixes = [
        ("(万元)", Unit::Wan),
        ("(元)", Unit::Yuan),
        ("_wan", Unit::Wan),
        ("_yuan", Unit::Yuan),
    ];
    for (suffix, unit) in suffixes {
        if let Some(base) = normalised.strip_suffix(suffix) {
            if !base.is_empty() {
                return (base, Some(unit));
            }
        }
    }
    (normalised, None)
}

/// The unit a header's suffix states (`金额（万元）`, `金额(元)`, `amount_yuan`, `amount_wan`).
#[cfg(test)] // only the tests ask this on its own
pub(crate) fn unit_from_header(text: &str) -> Option<Unit> {
    split_unit_suffix(&normalise_header(text)).1
}

/// The unit a preamble line states: `单位：万元`, `单位:元`, `金额单位：万元` (the
/// line may be several cells joined by `,`).
pub(crate) fn unit_from_preamble(line: &str) -> Option<Unit> {
    let norm = normalise_header(line);
    let (_, after) = norm.split_once("单位:")?;
    let word = after.split(',').next().unwrap_or("");
    match word {
        "万元" => Some(Unit::Wan),
        "元" => Some(Unit::Yuan),
        _ => None,
    }
}

/// A cell's text, trimmed. XLSX integral numbers print without a decimal
/// point (a region code typed as a number is `440203`, not `440203.0`).
pub(crate) fn cell_text(cell: &CellValue) -> String {
    match cell {
        CellValue::Empty => String::new(),
        CellValue::Text(t) => t.trim().to_string(),
        // xlsx/calamine float cell: shown as the user typed it, for codes and messages only.
        CellValue::Number(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
        CellValue::Number(f) => format!("{f}"),
        CellValue::Date(d) => d.format("%Y-%m-%d").to_string(),
    }
}

/// True for an empty cell or one holding only spaces.
pub(crate) fn is_blank(cell: &CellValue) -> bool {
    match cell {
        CellValue::Empty => true,
        CellValue::Text(t) => t.trim().is_empty(),
        _ => false,
    }
}

/// Parse an amount written as text in `unit` (SPEC §4.1 grammar, see the module doc).
pub fn parse_amount_text(text: &str, unit: Unit) -> Result<Fen, String> {
    let t = text.trim();
    let bad = || {
        format!(
            "`{}` is not an amount (expected digits with optional `,` thousands separators and `.` decimals, e.g. 1,234.50 or (1,234.50))",
            shown(t)
        )
    };
    if t.is_empty() {
        return Err("amount is empty".to_string());
    }
    let (negative, body) =
        if let Some(inner) = t.strip_prefix('(').and_then(|s| s.strip_suffix(')')) {
            (true, inner)
        } else if let Some(rest) = t.strip_prefix('-') {
            (true, rest)
        } else if let Some(rest) = t.strip_prefix('+') {
            (false, rest)
        } else {
            (false, t)
        };
    let (int_part, frac_part) = match body.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (body, None),
    };
    let digits = plain_integer(int_part).ok_or_else(bad)?;
    if let Some(frac) = frac_part {
        if frac.is_empty() || !frac.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
    }
    let total_digits = digits.len() + frac_part.map_or(0, str::len);
    if total_digits > 26 {
        return Err(format!("amount `{}` is too large", shown(t)));
    }
    let plain = match frac_part {
        Some(frac) => format!("{digits}.{frac}"),
        None => digits,
    };
    let value = Decimal::from_str(&plain).map_err(|_| bad())?;
    let value = if negative { -value } else { value };
    Fen::from_decimal(value, unit).map_err(|e| e.to_string())
}

/// The digits of an integer part, or None if it is not `\d+` or `[1-9]\d{0,2}(,\d{3})+`.
fn plain_integer(int_part: &str) -> Option<String> {
    let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !int_part.contains(',') {
        return all_digits(int_part).then(|| int_part.to_string());
    }
    let mut groups = int_part.split(',');
    let lead = groups.next()?;
    if !all_digits(lead) || lead.len() > 3 || lead.starts_with('0') {
        return None;
    }
    let mut out = lead.to_string();
    for group in groups {
        if group.len() != 3 || !all_digits(group) {
            return None;
        }
        out.push_str(group);
    }
    Some(out)
}

/// Largest magnitude (in the unit) an xlsx float may hold and still convert
/// exactly: 2^53 / 10^decimals keeps every fen representable.
fn xlsx_float_limit(unit: Unit) -> Decimal {
    Decimal::from(9_007_199_254_740_992_i64) / Decimal::from(10_i64.pow(unit.max_decimals()))
}

/// Convert an xlsx (calamine) float cell to fen without float arithmetic:
/// the cell's shortest round-trip decimal text (what Excel shows, e.g.
/// `0.30000000000000004` for 0.1 + 0.2) is read exactly as a Decimal, rounded
/// to the unit's precision, and refused if more than 1e-9 away from that
/// (e.g. 0.123 yuan).
fn amount_from_xlsx_float(value: f64, unit: Unit) -> Result<Fen, String> {
    let unusable = || format!("xlsx number {value} is not a usable amount");
    if !value.is_finite() {
        return Err(unusable());
    }
    // Rust prints an f64 as its shortest round-trip decimal, never in
    // exponent form; a value with more than 28 decimals is far from fen.
    let exact = Decimal::from_str(&value.to_string()).map_err(|_| unusable())?;
    if exact.abs() > xlsx_float_limit(unit) {
        return Err(unusable());
    }
    let nearest = exact.round_dp(unit.max_decimals());
    if (exact - nearest).abs() > Decimal::new(1, 9) {
        return Err(format!(
            "xlsx number {value} is not a whole number of fen ({} decimals at most in {})",
            unit.max_decimals(),
            unit.name()
        ));
    }
    Fen::from_decimal(nearest, unit).map_err(|e| e.to_string())
}

/// Parse an amount cell. Empty → `Ok(None)`.
pub(crate) fn parse_amount_cell(cell: &CellValue, unit: Unit) -> Result<Option<Fen>, String> {
    match cell {
        CellValue::Empty => Ok(None),
        CellValue::Text(t) if t.trim().is_empty() => Ok(None),
        CellValue::Text(t) => parse_amount_text(t, unit).map(Some),
        CellValue::Number(f) => amount_from_xlsx_float(*f, unit).map(Some),
        CellValue::Date(d) => Err(format!("a date cell ({d}) where an amount was expected")),
    }
}

/// Parse a date: `2020-03-15`, `2020/3/15`, `2020.3.15`, `20200315`,
/// `2020年3月15日`. An impossible date (2021-02-29) is refused.
pub fn parse_date_text(text: &str) -> Result<NaiveDate, String> {
    let t = text.trim();
    let bad = || {
        format!("`{}` is not a date (expected 2020-03-15, 2020/3/15, 2020.3.15, 20200315 or 2020年3月15日)", shown(t))
    };
    let parts: Vec<&str> = if t.len() == 8 && t.bytes().all(|b| b.is_ascii_digit()) {
        vec![&t[..4], &t[4..6], &t[6..]]
    } else if let Some(body) = t.strip_suffix('日') {
        let (y, rest) = body.split_once('年').ok_or_else(bad)?;
        let (m, d) = rest.split_once('月').ok_or_else(bad)?;
        vec![y, m, d]
    } else {
        let sep = ['-', '/', '.']
            .into_iter()
            .find(|s| t.contains(*s))
            .ok_or_else(bad)?;
        t.split(sep).collect()
    };
    let well_formed = parts.len() == 3
        && parts[0].len() == 4
        && (1..=2).contains(&parts[1].len())
        && (1..=2).contains(&parts[2].len())
        && parts.iter().all(|p| p.bytes().all(|b| b.is_ascii_digit()));
    if !well_formed {
        return Err(bad());
    }
    let number = |p: &str| p.parse::<u32>().map_err(|_| bad());
    let (y, m, d) = (number(parts[0])?, number(parts[1])?, number(parts[2])?);
    NaiveDate::from_ymd_opt(y as i32, m, d).ok_or_else(|| format!("`{t}` is not a real date"))
}

/// The day an xlsx (calamine) date serial number denotes, 1900 date system.
/// Serial 60 is Excel's fictitious 1900-02-29 and is refused; a fraction
/// (a time of day) is refused too, since a date column holds days.
pub(crate) fn date_from_excel_serial(serial: f64) -> Result<NaiveDate, String> {
    if !serial.is_finite() || serial.fract() != 0.0 || !(1.0..=2_958_465.0).contains(&serial) {
        return Err(format!("xlsx number {serial} is not a date serial number"));
    }
    let days = serial as i64;
    if days == 60 {
        return Err("xlsx serial 60 is the nonexistent date 1900-02-29".to_string());
    }
    // Serials after the fictitious leap day count from 1899-12-30, earlier ones from 1899-12-31.
    let epoch = if days > 60 {
        NaiveDate::from_ymd_opt(1899, 12, 30)
    } else {
        NaiveDate::from_ymd_opt(1899, 12, 31)
    }
    .expect("valid epoch");
    epoch
        .checked_add_days(chrono::Days::new(days as u64))
        .ok_or_else(|| format!("xlsx serial {serial} is out of range"))
}

/// Parse a date cell: text forms, xlsx date cells, xlsx serial numbers. Empty → `Ok(None)`.
pub(crate) fn parse_date_cell(cell: &CellValue) -> Result<Option<NaiveDate>, String> {
    match cell {
        CellValue::Empty => Ok(None),
        CellValue::Text(t) if t.trim().is_empty() => Ok(None),
        CellValue::Text(t) => parse_date_text(t).map(Some),
        CellValue::Date(d) => Ok(Some(*d)),
        CellValue::Number(f) => date_from_excel_serial(*f).map(Some),
    }
}

/// A fiscal year: four digits (`2021`), optionally followed by `年`, or an xlsx
/// number 2021. Empty → `Ok(None)`.
pub(crate) fn parse_year_cell(cell: &CellValue) -> Result<Option<i32>, String> {
    let text = cell_text(cell);
    if text.is_empty() {
        return Ok(None);
    }
    let digits = text.strip_suffix('年').unwrap_or(&text);
    let ok =
        digits.len() == 4 && digits.bytes().all(|b| b.is_ascii_digit()) && !digits.starts_with('0');
    if !ok {
        return Err(format!(
            "`{}` is not a fiscal year (expected four digits, e.g. 2021)",
            shown(&text)
        ));
    }
    let year: i32 = digits
        .parse()
        .map_err(|_| format!("`{text}` is not a fiscal year"))?;
    // Keep the year within what chrono dates can carry (any plausible budget year is).
    NaiveDate::from_ymd_opt(year, 1, 1)
        .map(|d| d.year())
        .map(Some)
        .ok_or_else(|| format!("`{text}` is not a fiscal year"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_amount(input: &str, unit: Unit, expected: Result<i64, &str>) {
        let got = parse_amount_text(input, unit);
        match (&got, &expected) {
            (Ok(fen), Ok(want)) => assert_eq!(fen.as_i64(), *want, "`{input}` in {unit:?}"),
            (Err(msg), Err(want)) => assert!(msg.contains(want), "`{input}`: {msg}"),
            _ => panic!("`{input}` in {unit:?}: got {got:?}, want {expected:?}"),
        }
    }

    #[test]
    fn amount_grammar() {
        use Unit::*;
        let not_amount = "is not an amount";
        let table: &[(&str, Unit, Result<i64, &str>)] = &[
            ("1,234.50", Yuan, Ok(123_450)),
            ("(1,234.50)", Yuan, Ok(-123_450)),
            ("-5", Yuan, Ok(-500)),
            ("+5", Yuan, Ok(500)),
            ("0", Yuan, Ok(0)),
            ("100000", Yuan, Ok(10_000_000)),
            ("100,000.00", Yuan, Ok(10_000_000)),
            ("1,234,567.8", Yuan, Ok(123_456_780)),
            ("  36,800.50 ", Yuan, Ok(3_680_050)),
            ("1.000", Yuan, Ok(100)),
            ("0.01", Yuan, Ok(1)),
            ("74.85", Wan, Ok(74_850_000)),
            ("3.680050", Wan, Ok(3_680_050)),
            ("0.000001", Wan, Ok(1)),
            ("(5)", Wan, Ok(-5_000_000)),
            ("007", Yuan, Ok(700)),
            ("0.001", Yuan, Err("not a whole number of fen")),
            ("0.0000001", Wan, Err("not a whole number of fen")),
            ("¥5", Yuan, Err(not_amount)),
            ("5元", Yuan, Err(not_amount)),
            ("1 234", Yuan, Err(not_amount)),
            ("1.234,50", Yuan, Err(not_amount)),
            ("25,00", Yuan, Err(not_amount)),
            ("1,23,456", Yuan, Err(not_amount)),
            ("1234,567", Yuan, Err(not_amount)),
            ("0,123", Yuan, Err(not_amount)),
            (",123", Yuan, Err(not_amount)),
            ("1,234,", Yuan, Err(not_amount)),
            (".5", Yuan, Err(not_amount)),
            ("5.", Yuan, Err(not_amount)),
            ("1.2.3", Yuan, Err(not_amount)),
            ("--5", Yuan, Err(not_amount)),
            ("+-5", Yuan, Err(not_amount)),
            ("(-5)", Yuan, Err(not_amount)),
            ("-(5)", Yuan, Err(not_amount)),
            ("(5", Yuan, Err(not_amount)),
            ("5)", Yuan, Err(not_amount)),
            ("- 5", Yuan, Err(not_amount)),
            ("1e5", Yuan, Err(not_amount)),
            ("１２３", Yuan, Err(not_amount)),
            ("NaN", Yuan, Err(not_amount)),
            ("", Yuan, Err("amount is empty")),
            ("99999999999999999999", Yuan, Err("overflow")),
            ("123456789012345678901234567", Yuan, Err("too large")),
        ];
        for (input, unit, expected) in table {
            check_amount(input, *unit, *expected);
        }
    }

    fn check_float(value: f64, unit: Unit, expected: Result<i64, &str>) {
        let got = parse_amount_cell(&CellValue::Number(value), unit);
        match (&got, &expected) {
            (Ok(Some(fen)), Ok(want)) => assert_eq!(fen.as_i64(), *want, "{value} {unit:?}"),
            (Err(msg), Err(want)) => assert!(msg.contains(want), "{value}: {msg}"),
            _ => panic!("{value} {unit:?}: got {got:?}, want {expected:?}"),
        }
    }

    #[test]
    fn xlsx_float_amounts_round_to_the_unit_or_are_refused() {
        use Unit::*;
        let table: &[(f64, Unit, Result<i64, &str>)] = &[
            (36800.5, Yuan, Ok(3_680_050)),
            (0.1 + 0.2, Yuan, Ok(30)),
            (1234567.89, Yuan, Ok(123_456_789)),
            (123456789012.34, Yuan, Ok(12_345_678_901_234)),
            (1e-30, Yuan, Ok(0)),
            (5e-324, Yuan, Ok(0)),
            (-20000.0, Yuan, Ok(-2_000_000)),
            (74.85, Wan, Ok(74_850_000)),
            (3.68005, Wan, Ok(3_680_050)),
            (0.123, Yuan, Err("not a whole number of fen")),
            (0.0000001, Wan, Err("not a whole number of fen")),
            (f64::NAN, Yuan, Err("not a usable amount")),
            (f64::INFINITY, Yuan, Err("not a usable amount")),
            (1e17, Yuan, Err("not a usable amount")),
        ];
        for (value, unit, expected) in table {
            check_float(*value, *unit, *expected);
        }
        assert_eq!(parse_amount_cell(&CellValue::Empty, Yuan), Ok(None));
        assert_eq!(
            parse_amount_cell(&CellValue::Text("  ".into()), Yuan),
            Ok(None)
        );
        let date = CellValue::Date(NaiveDate::from_ymd_opt(2021, 1, 1).unwrap());
        assert!(parse_amount_cell(&date, Yuan)
            .unwrap_err()
            .contains("date cell"));
    }

    fn check_date(input: &str, expected: Result<(i32, u32, u32), &str>) {
        let got = parse_date_text(input);
        match (&got, &expected) {
            (Ok(d), Ok((y, m, dd))) => {
                assert_eq!(*d, NaiveDate::from_ymd_opt(*y, *m, *dd).unwrap(), "{input}")
            }
            (Err(msg), Err(want)) => assert!(msg.contains(want), "{input}: {msg}"),
            _ => panic!("{input}: got {got:?}, want {expected:?}"),
        }
    }

    #[test]
    fn date_forms() {
        let not_date = "is not a date";
        type Case<'a> = (&'a str, Result<(i32, u32, u32), &'a str>);
        let table: &[Case] = &[
            ("2020-03-15", Ok((2020, 3, 15))),
            ("2020-3-5", Ok((2020, 3, 5))),
            ("2020/3/15", Ok((2020, 3, 15))),
            ("2020.3.15", Ok((2020, 3, 15))),
            ("20200315", Ok((2020, 3, 15))),
            ("2020年3月15日", Ok((2020, 3, 15))),
            ("2020年03月05日", Ok((2020, 3, 5))),
            (" 2021-05-10 ", Ok((2021, 5, 10))),
            ("2020-02-29", Ok((2020, 2, 29))),
            ("2021-02-29", Err("not a real date")),
            ("2021-13-01", Err("not a real date")),
            ("20210230", Err("not a real date")),
            ("2021年4月31日", Err("not a real date")),
            ("2021-00-10", Err("not a real date")),
            ("2021/3-15", Err(not_date)),
            ("21-3-15", Err(not_date)),
            ("2021-003-15", Err(not_date)),
            ("2021-3-15 10:00", Err(not_date)),
            ("2021年3月15", Err(not_date)),
            ("2021315", Err(not_date)),
            ("15/03/2021", Err(not_date)),
            ("2021-+3-15", Err(not_date)),
            ("", Err(not_date)),
        ];
        for (input, expected) in table {
            check_date(input, *expected);
        }
    }

    #[test]
    fn date_cells_and_excel_serials() {
        let d = |y, m, dd| NaiveDate::from_ymd_opt(y, m, dd).unwrap();
        let table: &[(CellValue, Result<Option<NaiveDate>, &str>)] = &[
            (CellValue::Empty, Ok(None)),
            (CellValue::Date(d(2021, 5, 10)), Ok(Some(d(2021, 5, 10)))),
            (CellValue::Number(44326.0), Ok(Some(d(2021, 5, 10)))),
            (CellValue::Number(43905.0), Ok(Some(d(2020, 3, 15)))),
            (CellValue::Number(61.0), Ok(Some(d(1900, 3, 1)))),
            (CellValue::Number(59.0), Ok(Some(d(1900, 2, 28)))),
            (CellValue::Number(1.0), Ok(Some(d(1900, 1, 1)))),
            (CellValue::Number(60.0), Err("1900-02-29")),
            (CellValue::Number(0.0), Err("not a date serial")),
            (CellValue::Number(44326.5), Err("not a date serial")),
            (CellValue::Number(-3.0), Err("not a date serial")),
            (
                CellValue::Text("2021-05-10".into()),
                Ok(Some(d(2021, 5, 10))),
            ),
        ];
        for (cell, expected) in table {
            let got = parse_date_cell(cell);
            match (&got, expected) {
                (Ok(a), Ok(b)) => assert_eq!(a, b, "{cell:?}"),
                (Err(msg), Err(want)) => assert!(msg.contains(want), "{cell:?}: {msg}"),
                _ => panic!("{cell:?}: got {got:?}, want {expected:?}"),
            }
        }
    }

    #[test]
    fn units_from_header_and_preamble() {
        let headers: &[(&str, Option<Unit>)] = &[
            ("金额（万元）", Some(Unit::Wan)),
            ("金额(元)", Some(Unit::Yuan)),
            ("金额 （元） ", Some(Unit::Yuan)),
            ("amount_yuan", Some(Unit::Yuan)),
            ("amount_wan", Some(Unit::Wan)),
            ("Amount_Wan", Some(Unit::Wan)),
            ("金额", None),
            ("amount", None),
            ("(元)", None),
        ];
        for (text, want) in headers {
            assert_eq!(unit_from_header(text), *want, "{text}");
        }
        let preambles: &[(&str, Option<Unit>)] = &[
            ("单位：万元", Some(Unit::Wan)),
            ("单位:元", Some(Unit::Yuan)),
            ("单位： 万元,,,", Some(Unit::Wan)),
            (",,,,单位：元", Some(Unit::Yuan)),
            ("金额单位：万元", Some(Unit::Wan)),
            ("单位：千元", None),
            ("粤财社〔2021〕12号", None),
        ];
        for (text, want) in preambles {
            assert_eq!(unit_from_preamble(text), *want, "{text}");
        }
    }

    #[test]
    fn header_normalisation() {
        let table = [
            ("  金额（万元） ", "金额(万元)"),
            ("指标\u{3000}文号", "指标文号"),
            ("\u{FEFF}doc_no", "doc_no"),
            ("Doc_No", "doc_no"),
            ("【备注】", "[备注]"),
        ];
        for (input, want) in table {
            assert_eq!(normalise_header(input), want, "{input}");
        }
    }

    #[test]
    fn years_and_cell_text() {
        let table: &[(CellValue, Result<Option<i32>, &str>)] = &[
            (CellValue::Text("2021".into()), Ok(Some(2021))),
            (CellValue::Text("2021年".into()), Ok(Some(2021))),
            (CellValue::Number(2021.0), Ok(Some(2021))),
            (CellValue::Empty, Ok(None)),
            (CellValue::Text("21".into()), Err("not a fiscal year")),
            (CellValue::Text("2021.5".into()), Err("not a fiscal year")),
        ];
        for (cell, expected) in table {
            let got = parse_year_cell(cell);
            match (&got, expected) {
                (Ok(a), Ok(b)) => assert_eq!(a, b),
                (Err(msg), Err(want)) => assert!(msg.contains(want), "{msg}"),
                _ => panic!("{cell:?}: got {got:?}"),
            }
        }
        assert_eq!(cell_text(&CellValue::Number(440203.0)), "440203");
        assert_eq!(cell_text(&CellValue::Number(1.5)), "1.5");
        assert_eq!(cell_text(&CellValue::Text(" a ".into())), "a");
    }
}
