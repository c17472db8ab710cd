//! Property tests: random bytes and mutated rows never panic, and an amount
//! that is not in the SPEC §4.1 grammar is never accepted.

use fundledger_core::catalog::ProjectCatalog;
use fundledger_core::divisions::DivisionTable;
use fundledger_core::domain::IndicatorRow;
use fundledger_core::{Fen, Unit};
use fundledger_formats::cells::parse_amount_text;
use fundledger_formats::{
    open_disbursements, open_indicators, EncodingChoice, ImportContext, ReadOptions,
};
use proptest::prelude::*;
use rust_decimal::Decimal;
use std::str::FromStr;
use std::sync::{Arc, OnceLock};

fn ctx(encoding: EncodingChoice) -> ImportContext {
    static TABLES: OnceLock<(Arc<DivisionTable>, Arc<ProjectCatalog>)> = OnceLock::new();
    let (divisions, projects) = TABLES
        .get_or_init(|| {
            (
                Arc::new(DivisionTable::builtin()),
                Arc::new(ProjectCatalog::default_catalog()),
            )
        })
        .clone();
    ImportContext {
        divisions,
        projects,
        options: ReadOptions {
            file_label: "fuzz.csv".to_string(),
            encoding,
            ..ReadOptions::default()
        },
    }
}

/// An independent statement of the grammar: the value a well-formed amount
/// text denotes, or None. Written as character-class checks, not as the parser is.
fn oracle(text: &str) -> Option<Decimal> {
    let t = text.trim();
    let (negative, body) = match (t.starts_with('('), t.ends_with(')')) {
        (true, true) if t.len() >= 2 => (true, &t[1..t.len() - 1]),
        (false, false) => match t.as_bytes().first() {
            Some(b'-') => (true, &t[1..]),
            Some(b'+') => (false, &t[1..]),
            _ => (false, t),
        },
        _ => return None,
    };
    if body.is_empty()
        || !body
            .bytes()
            .all(|b| b.is_ascii_digit() || b == b',' || b == b'.')
    {
        return None;
    }
    let mut halves = body.split('.');
    let int = halves.next()?;
    let frac = halves.next();
    if halves.next().is_some() || frac == Some("") || frac.is_some_and(|f| f.contains(',')) {
        return None;
    }
    let groups: Vec<&str> = int.split(',').collect();
    let lead_ok = !groups[0].is_empty()
        && (groups.len() == 1 || (groups[0].len() <= 3 && !groups[0].starts_with('0')));
    if !lead_ok || groups[1..].iter().any(|g| g.len() != 3) {
        return None;
    }
    let plain = format!(
        "{}{}{}",
        groups.concat(),
        if frac.is_some() { "." } else { "" },
        frac.unwrap_or("")
    );
    let value = Decimal::from_str(&plain).ok()?;
    Some(if negative { -value } else { value })
}

fn amount_like() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop::sample::select(vec![
            '0', '1', '5', '9', ',', ',', '.', '(', ')', '+', '-', ' ', '¥', '元', 'e',
        ]),
        0..14,
    )
    .prop_map(|chars| chars.into_iter().collect())
}

/// `1234567` → `1,234,567`
fn with_separators(digits: &str) -> String {
    let mut out = String::new();
    let lead = digits.len() % 3;
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && i % 3 == lead {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn write_temp(bytes: &[u8]) -> tempfile::NamedTempFile {
    let mut file = tempfile::Builder::new().suffix(".csv").tempfile().unwrap();
    std::io::Write::write_all(&mut file, bytes).unwrap();
    file
}

const LONG_HEADER: &str = "指标文号,下达日期,区划代码,地区名称,项目编码,金额（元）,原指标文号\n";

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn amounts_accepted_only_when_well_formed(text in amount_like(), wan in any::<bool>()) {
        let unit = if wan { Unit::Wan } else { Unit::Yuan };
        if let Ok(fen) = parse_amount_text(&text, unit) {
            let value = oracle(&text);
            prop_assert!(value.is_some(), "accepted malformed `{}`", text);
            let expected = Fen::from_decimal(value.unwrap(), unit).unwrap();
            prop_assert_eq!(fen, expected);
        }
    }

    #[test]
    fn formatted_amounts_round_trip(fen in -10_i64.pow(15)..10_i64.pow(15), parens in any::<bool>()) {
        let abs = fen.unsigned_abs();
        let body = format!("{}.{:02}", with_separators(&(abs / 100).to_string()), abs % 100);
        let text = match (fen < 0, parens) {
            (true, true) => format!("({body})"),
            (true, false) => format!("-{body}"),
            (false, _) => body,
        };
        prop_assert_eq!(parse_amount_text(&text, Unit::Yuan), Ok(Fen::new(fen)));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let file = write_temp(&bytes);
        for encoding in [EncodingChoice::Auto, EncodingChoice::Utf8, EncodingChoice::Gb18030] {
            if let Ok(reader) = open_indicators(file.path(), &ctx(encoding)) {
                reader.for_each(drop);
            }
            if let Ok(reader) = open_disbursements(file.path(), &ctx(encoding)) {
                reader.for_each(drop);
            }
        }
    }

    #[test]
    fn mutated_amount_cells_are_never_loosely_accepted(text in amount_like()) {
        let quoted = format!("\"{}\"", text.replace('"', ""));
        let csv = format!("{LONG_HEADER}湘财社指〔2021〕5号,2021-03-01,431181,祁阳市,JS01,{quoted},湘财社指〔2021〕1号\n");
        let file = write_temp(csv.as_bytes());
        let reader = open_indicators(file.path(), &ctx(EncodingChoice::Auto)).unwrap();
        for row in reader.flatten() {
            let amount = match row {
                IndicatorRow::Line(l) => l.amount,
                IndicatorRow::Reduction(r) => r.amount,
            };
            let value = oracle(&text);
            prop_assert!(value.is_some(), "accepted malformed `{}`", text);
            prop_assert_eq!(amount, Fen::from_decimal(value.unwrap(), Unit::Yuan).unwrap());
            prop_assert!(amount.is_negative());
        }
    }

    #[test]
    fn mutated_rows_never_panic(edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 1..8)) {
        let mut bytes = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/gd-2021/gd_2021_40_long.csv")).unwrap();
        for (at, byte, op) in edits {
            let i = at.index(bytes.len().max(1)).min(bytes.len());
            match op {
                0 if i < bytes.len() => bytes[i] = byte,
                1 => bytes.insert(i, byte),
                _ if i < bytes.len() => { bytes.remove(i); }
                _ => {}
            }
        }
        let file = write_temp(&bytes);
        if let Ok(reader) = open_indicators(file.path(), &ctx(EncodingChoice::Auto)) {
            for item in reader {
                if let Ok(IndicatorRow::Line(line)) = item {
                    prop_assert!(!line.amount.is_zero() && line.amount.is_positive());
                }
            }
        }
    }
}
