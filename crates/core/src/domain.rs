//! Domain identifiers and the records that imports produce.

use crate::money::Fen;
use chrono::NaiveDate;
use std::fmt;

pub type FiscalYear = i32;

/// A GB/T 2260 six-digit division code (or an extension such as a functional
/// zone). Stored as a number so it is `Copy` and sorts like its text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RegionCode(u32);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodeError {
    #[error("region code `{0}` is not 6 digits (or 9 digits ending in 000)")]
    RegionCodeShape(String),
    #[error("project code `{0}` must be 1-32 letters, digits, `-`, `_` or `.`")]
    ProjectCodeShape(String),
    #[error("document number `{0}` is not of the form 湘财社指〔2020〕36号")]
    DocNoShape(String),
}

impl RegionCode {
    /// Accepts six digits, or nine digits ending in `000` (finance systems).
    pub fn parse(text: &str) -> Result<RegionCode, CodeError> {
        let t = text.trim();
        let six = match t.len() {
            6 => t,
            9 if t.ends_with("000") => &t[..6],
            _ => return Err(CodeError::RegionCodeShape(t.to_string())),
        };
        if !six.bytes().all(|b| b.is_ascii_digit()) || six.starts_with('0') {
            return Err(CodeError::RegionCodeShape(t.to_string()));
        }
        Ok(RegionCode(
            six.parse().expect("six ASCII digits fit in u32"),
        ))
    }
    pub fn from_u32(code: u32) -> RegionCode {
        assert!((100_000..1_000_000).contains(&code), "region code {code}");
        RegionCode(code)
    }
    pub fn as_u32(self) -> u32 {
        self.0
    }
    /// The province this code belongs to (`xx0000`).
    pub fn province(self) -> RegionCode {
        RegionCode(self.0 / 10_000 * 10_000)
    }
    /// The prefecture-level grouping (`xxxx00`); for a province code, itself.
    pub fn prefecture_group(self) -> RegionCode {
        RegionCode(self.0 / 100 * 100)
    }
    pub fn is_province_level(self) -> bool {
        self.0.is_multiple_of(10_000)
    }
    pub fn is_prefecture_level(self) -> bool {
        self.0.is_multiple_of(100) && !self.is_province_level()
    }
}

impl fmt::Display for RegionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:06}", self.0)
    }
}

/// A project code such as `JS01`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ProjectCode(String);

impl ProjectCode {
    pub fn parse(text: &str) -> Result<ProjectCode, CodeError> {
        let t = text.trim();
        let ok = !t.is_empty()
            && t.len() <= 32
            && t.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
        if ok {
            Ok(ProjectCode(t.to_string()))
        } else {
            Err(CodeError::ProjectCodeShape(t.to_string()))
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ProjectCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A budget indicator document number in canonical form `湘财社指〔2020〕36号`.
///
/// Ordering is the tie-break of SPEC §5.1: document year, then number as a
/// number (36号 < 137号), then the prefix.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct DocNo {
    prefix: String,
    year: i32,
    number: u32,
}

/// By hand for `clone_from`, which reuses the prefix's buffer: readers that
/// overwrite one number per row (reconcile's voucher stream) allocate nothing.
impl Clone for DocNo {
    fn clone(&self) -> DocNo {
        DocNo {
            prefix: self.prefix.clone(),
            year: self.year,
            number: self.number,
        }
    }

    fn clone_from(&mut self, source: &DocNo) {
        self.prefix.clone_from(&source.prefix);
        self.year = source.year;
        self.number = source.number;
    }
}

impl DocNo {
    /// Normalises `[]`, `【】`, `（）`, `()`, `［］` and `〔〕` to `〔〕`; the
    /// trailing 号 is optional on input and always present in canonical form.
    pub fn parse(text: &str) -> Result<DocNo, CodeError> {
        let shape_err = || CodeError::DocNoShape(text.trim().to_string());
        let normalised: String = text
            .trim()
            .chars()
            .filter(|c| !c.is_whitespace())
            .map(|c| match c {
                '[' | '【' | '（' | '(' | '［' | '〔' | '〖' => '〔',
                ']' | '】' | '）' | ')' | '］' | '〕' | '〗' => '〕',
                other => other,
            })
            .collect();
        let (prefix, rest) = normalised.split_once('〔').ok_or_else(shape_err)?;
        let (year_text, tail) = rest.split_once('〕').ok_or_else(shape_err)?;
        let number_text = tail.strip_suffix('号').unwrap_or(tail);
        let valid_prefix = !prefix.is_empty() && !prefix.contains('〕');
        let valid_year = year_text.len() == 4 && year_text.bytes().all(|b| b.is_ascii_digit());
        let valid_number = !number_text.is_empty()
            && number_text.len() <= 9
            && number_text.bytes().all(|b| b.is_ascii_digit());
        if !(valid_prefix && valid_year && valid_number) {
            return Err(shape_err());
        }
        Ok(DocNo {
            prefix: prefix.to_string(),
            year: year_text.parse().map_err(|_| shape_err())?,
            number: number_text.parse().map_err(|_| shape_err())?,
        })
    }
    pub fn year(&self) -> i32 {
        self.year
    }
    pub fn number(&self) -> u32 {
        self.number
    }
    pub fn prefix(&self) -> &str {
        &self.prefix
    }
}

impl fmt::Display for DocNo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}〔{}〕{}号", self.prefix, self.year, self.number)
    }
}

impl Ord for DocNo {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.year, self.number, &self.prefix).cmp(&(other.year, other.number, &other.prefix))
    }
}
impl PartialOrd for DocNo {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// The identity of an indicator line: (doc_no, region, project).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LineKey {
    pub doc_no: DocNo,
    pub region: RegionCode,
    pub project: ProjectCode,
}

impl fmt::Display for LineKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/{}", self.doc_no, self.region, self.project)
    }
}

/// Where a record came from: file name and 1-based line (row) number.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct SourceRef {
    pub file: String,
    pub line: u64,
}

impl fmt::Display for SourceRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
    }
}

/// A positive indicator row: creates a line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndicatorLine {
    pub key: LineKey,
    pub fiscal_year: FiscalYear,
    pub doc_date: NaiveDate,
    pub amount: Fen,
    pub func_code: Option<String>,
    pub remark: Option<String>,
    pub source: SourceRef,
}

/// A negative indicator row: reduces the line `target` by `amount` (< 0).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reduction {
    /// The adjusting document (its own doc_no, region, project).
    pub key: LineKey,
    pub doc_date: NaiveDate,
    pub fiscal_year: FiscalYear,
    /// The line reduced: (adjusts_doc_no, same region, same project).
    pub target: LineKey,
    /// Negative.
    pub amount: Fen,
    pub remark: Option<String>,
    pub source: SourceRef,
}

/// One row of an indicator file after parsing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IndicatorRow {
    Line(IndicatorLine),
    Reduction(Reduction),
}

/// One payment voucher (or a refund when `amount` < 0).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Voucher {
    pub voucher_no: String,
    pub paid_on: NaiveDate,
    pub region: RegionCode,
    pub project: ProjectCode,
    pub doc_no: Option<DocNo>,
    pub fiscal_year: FiscalYear,
    pub amount: Fen,
    /// Required when `amount` < 0.
    pub original_voucher_no: Option<String>,
    pub payee: Option<String>,
    pub memo: Option<String>,
    pub source: SourceRef,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_doc(input: &str, expected: Result<&str, ()>) {
        match (DocNo::parse(input), expected) {
            (Ok(d), Ok(want)) => assert_eq!(d.to_string(), want, "{input}"),
            (Err(_), Err(())) => {}
            (got, want) => panic!("{input}: got {got:?}, want {want:?}"),
        }
    }

    #[test]
    fn doc_numbers_normalise_brackets() {
        for form in [
            "湘财社指[2020]36号",
            "湘财社指【2020】36号",
            "湘财社指（2020）36号",
            "湘财社指(2020)36号",
            "湘财社指〔2020〕36号",
            " 湘财社指〔2020〕36 ",
        ] {
            check_doc(form, Ok("湘财社指〔2020〕36号"));
        }
        check_doc("湘财社指2020-36", Err(()));
        check_doc("〔2020〕36号", Err(()));
        check_doc("湘财社指〔20〕36号", Err(()));
        check_doc("湘财社指〔2020〕号", Err(()));
        check_doc("湘财社指〔2020〕3a号", Err(()));
    }

    #[test]
    fn doc_numbers_order_by_year_number_prefix() {
        let a = DocNo::parse("湘财社指〔2020〕36号").unwrap();
        let b = DocNo::parse("湘财社指〔2020〕137号").unwrap();
        let c = DocNo::parse("湘财社指〔2019〕200号").unwrap();
        let d = DocNo::parse("甲〔2020〕36号").unwrap();
        assert!(c < a && a < b);
        assert!(a.cmp(&d) == "湘财社指".cmp("甲"));
    }

    #[test]
    fn region_codes() {
        assert_eq!(
            RegionCode::parse("440105000").unwrap().to_string(),
            "440105"
        );
        assert_eq!(
            RegionCode::parse("430100")
                .unwrap()
                .prefecture_group()
                .to_string(),
            "430100"
        );
        assert_eq!(
            RegionCode::parse("430121")
                .unwrap()
                .prefecture_group()
                .to_string(),
            "430100"
        );
        for bad in ["43010", "4301000", "440105001", "abcdef", "043010"] {
            assert!(RegionCode::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn project_codes() {
        assert!(ProjectCode::parse("JS01").is_ok());
        assert!(ProjectCode::parse("JS 01").is_err());
        assert!(ProjectCode::parse("").is_err());
    }
}
