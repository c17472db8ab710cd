//! GB/T 2260 division table, versioned by edition year and extensible.
//!
//! Each row is one (code, name) lifetime across editions (the state at 31 Dec
//! of each year). A document early in a year still uses last year's codes, so a
//! code is valid at a date in year Y if its row covers edition Y or Y−1.

use crate::domain::RegionCode;
use chrono::{Datelike, NaiveDate};
use std::collections::{HashMap, HashSet};
use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    Province,
    Prefecture,
    County,
    /// A functional zone (管理区, 示范区, 开发区): not a GB/T 2260 division, but a
    /// recipient in allocation tables.
    Zone,
}

impl Level {
    pub fn parse(text: &str) -> Option<Level> {
        match text.trim() {
            "province" => Some(Level::Province),
            "prefecture" => Some(Level::Prefecture),
            "county" => Some(Level::County),
            "zone" => Some(Level::Zone),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Division {
    pub code: RegionCode,
    pub name: String,
    pub level: Level,
    pub parent: Option<RegionCode>,
    /// First edition year containing (code, name).
    pub valid_from: i32,
    /// Last edition year; None = still current.
    pub valid_to: Option<i32>,
    pub successors: Vec<RegionCode>,
}

impl Division {
    /// Whether this row is present in the edition of `year` (state at 31 Dec).
    pub fn covers_edition(&self, year: i32) -> bool {
        self.valid_from <= year && self.valid_to.is_none_or(|end| year <= end)
    }
}

fn format_candidates(candidates: &[(RegionCode, String)]) -> String {
    candidates
        .iter()
        .map(|(code, name)| format!("{code} {name}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegionError {
    #[error("region code {code} is not valid in {year}")]
    UnknownCode { code: RegionCode, year: i32 },
    #[error("region code {code} is {expected}, not {given}")]
    NameMismatch {
        code: RegionCode,
        given: String,
        expected: String,
    },
    #[error("no division named {name} at that date")]
    UnknownName { name: String },
    #[error("region name {name} is ambiguous: {}", format_candidates(.candidates))]
    AmbiguousName {
        name: String,
        candidates: Vec<(RegionCode, String)>,
    },
    #[error("line {line}: {message}")]
    BadTable { line: usize, message: String },
}

const GBT2260_CSV: &str = include_str!("../../../fixtures/reference/gbt2260_2016_2024.csv");
const HUNAN_ZONES_CSV: &str =
    include_str!("../../../fixtures/reference/hunan_nbs_functional_zones_2020.csv");
/// Edition year the built-in functional zones are taken to be valid from.
const ZONES_VALID_FROM: i32 = 2016;

/// Names as written in tables may carry alignment spaces (`荔 湾 区`).
fn normalise_name(name: &str) -> String {
    name.chars().filter(|c| !c.is_whitespace()).collect()
}

#[derive(Clone, Default)]
pub struct DivisionTable {
    rows: Vec<Division>,
    by_code: HashMap<RegionCode, Vec<usize>>,
    by_name: HashMap<String, Vec<usize>>,
}

impl fmt::Debug for DivisionTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DivisionTable")
            .field("rows", &self.rows.len())
            .finish()
    }
}

impl DivisionTable {
    /// The national GB/T 2260 table 2016–2024 plus the Hunan functional zones,
    /// parsed from files embedded from fixtures/reference/. Panics only if the
    /// embedded data is corrupt (tested).
    pub fn builtin() -> DivisionTable {
        let mut table = DivisionTable::default();
        let national = DivisionTable::parse_csv(GBT2260_CSV).expect("embedded GB/T 2260 table");
        let zones = DivisionTable::parse_csv(HUNAN_ZONES_CSV).expect("embedded zone table");
        table.extend(national).expect("embedded GB/T 2260 rows");
        table.extend(zones).expect("embedded zone rows");
        table
    }

    /// Parse `code,name,level,parent_code,valid_from,valid_to,successor_codes`
    /// (level: province|prefecture|county|zone). Columns are found by header
    /// name. A file with a `kind` column instead of `level` (the NBS
    /// functional-zone list) gives zones; a missing `valid_from` means 2016.
    pub fn parse_csv(text: &str) -> Result<Vec<Division>, RegionError> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(false)
            .from_reader(text.as_bytes());
        let bad = |line: usize, message: String| RegionError::BadTable { line, message };
        let headers = reader.headers().map_err(|e| bad(1, e.to_string()))?.clone();
        let columns = Columns::find(&headers).map_err(|m| bad(1, m))?;
        let mut rows = Vec::new();
        for record in reader.records() {
            let record = record.map_err(|e| {
                let line = e.position().map_or(0, |p| p.line() as usize);
                bad(line, e.to_string())
            })?;
            let line = record.position().map_or(0, |p| p.line() as usize);
            rows.push(columns.division(&record).map_err(|m| bad(line, m))?);
        }
        Ok(rows)
    }

    /// Add rows. A row identical to one already present is skipped (so an
    /// extension file can be imported twice); a row whose code overlaps an
    /// existing row of that code in some edition is an error (`line` counts
    /// from 2, as if the rows came from `parse_csv` of a file with a header).
    pub fn extend(&mut self, rows: Vec<Division>) -> Result<(), RegionError> {
        let mut fresh: Vec<Division> = Vec::new();
        for (i, row) in rows.into_iter().enumerate() {
            if self.rows_of(row.code).any(|r| *r == row) || fresh.contains(&row) {
                continue;
            }
            let clash = self
                .rows_of(row.code)
                .chain(fresh.iter().filter(|r| r.code == row.code))
                .find(|r| editions_overlap(r, &row));
            if let Some(other) = clash {
                return Err(RegionError::BadTable {
                    line: i + 2,
                    message: format!(
                        "{} {} ({}–{}) overlaps {} {} ({}–{})",
                        row.code,
                        row.name,
                        row.valid_from,
                        end_text(row.valid_to),
                        other.code,
                        other.name,
                        other.valid_from,
                        end_text(other.valid_to)
                    ),
                });
            }
            fresh.push(row);
        }
        for row in fresh {
            let index = self.rows.len();
            self.by_code.entry(row.code).or_default().push(index);
            self.by_name
                .entry(normalise_name(&row.name))
                .or_default()
                .push(index);
            self.rows.push(row);
        }
        Ok(())
    }

    /// Whether the table already holds exactly this row (built in or
    /// imported before): importing it again adds nothing.
    pub fn holds(&self, row: &Division) -> bool {
        self.rows_of(row.code).any(|r| r == row)
    }

    fn rows_of(&self, code: RegionCode) -> impl Iterator<Item = &Division> {
        self.by_code
            .get(&code)
            .into_iter()
            .flatten()
            .map(|&i| &self.rows[i])
    }

    /// The row of `code` covering edition `year`, if any.
    fn row_in_edition(&self, code: RegionCode, year: i32) -> Option<&Division> {
        self.rows_of(code).find(|r| r.covers_edition(year))
    }

    /// The division valid at `on`: its row covers edition Y or Y−1 (Y = the
    /// year of `on`); the row covering Y is preferred.
    pub fn lookup(&self, code: RegionCode, on: NaiveDate) -> Option<&Division> {
        let year = on.year();
        self.row_in_edition(code, year)
            .or_else(|| self.row_in_edition(code, year - 1))
    }

    /// lookup + optional name check: the name (whitespace ignored) must be the
    /// name in edition Y or Y−1.
    pub fn check(
        &self,
        code: RegionCode,
        name: Option<&str>,
        on: NaiveDate,
    ) -> Result<&Division, RegionError> {
        let year = on.year();
        let division = self
            .lookup(code, on)
            .ok_or(RegionError::UnknownCode { code, year })?;
        let Some(given) = name else {
            return Ok(division);
        };
        let given = normalise_name(given);
        // A prefecture's own level is written `长沙市本级` beside its code.
        let own_level = |name: &str| {
            !code.is_province_level()
                && code.is_prefecture_level()
                && given.strip_suffix("本级") == Some(name)
        };
        let matches = [year, year - 1]
            .iter()
            .filter_map(|&y| self.row_in_edition(code, y))
            .any(|r| {
                let name = normalise_name(&r.name);
                name == given || own_level(&name)
            });
        if matches {
            Ok(division)
        } else {
            Err(RegionError::NameMismatch {
                code,
                given,
                expected: division.name.clone(),
            })
        }
    }

    /// Display name as of a date (SPEC §5.1 region_name). None if unknown.
    pub fn name_at(&self, code: RegionCode, on: NaiveDate) -> Option<&str> {
        self.lookup(code, on).map(|d| d.name.as_str())
    }

    /// Resolve a bare name valid at `on`: within `parent`'s children if given
    /// (the parent itself also answers to its own name, for `X本级`), else
    /// nationally, narrowed to `province` if given. `X本级` and `X小计` resolve
    /// to X; a bare `本级`/`市本级` under a parent is the parent.
    pub fn resolve_name(
        &self,
        name: &str,
        parent: Option<RegionCode>,
        province: Option<RegionCode>,
        on: NaiveDate,
    ) -> Result<RegionCode, RegionError> {
        let written = normalise_name(name);
        let base = strip_level_suffix(&written);
        if let Some(parent) = parent {
            if base.is_empty() || base == "市" || base == "县" {
                return Ok(parent);
            }
        }
        let year = on.year();
        let mut candidates: Vec<(RegionCode, String)> = Vec::new();
        for &i in self.by_name.get(base).into_iter().flatten() {
            let row = &self.rows[i];
            let valid = row.covers_edition(year) || row.covers_edition(year - 1);
            let in_parent = parent.is_none_or(|p| row.parent == Some(p) || row.code == p);
            let in_province = province.is_none_or(|p| row.code.province() == p.province());
            let seen = candidates.iter().any(|(c, _)| *c == row.code);
            if valid && in_parent && in_province && !seen {
                candidates.push((row.code, row.name.clone()));
            }
        }
        match candidates.len() {
            0 => Err(RegionError::UnknownName { name: written }),
            1 => Ok(candidates[0].0),
            _ => {
                candidates.sort();
                Err(RegionError::AmbiguousName {
                    name: written,
                    candidates,
                })
            }
        }
    }

    /// code == ancestor, or ancestor is an ancestor of code in any edition.
    pub fn is_within(&self, code: RegionCode, ancestor: RegionCode) -> bool {
        let mut seen: HashSet<RegionCode> = HashSet::new();
        let mut pending = vec![code];
        while let Some(current) = pending.pop() {
            if current == ancestor {
                return true;
            }
            if seen.insert(current) {
                pending.extend(self.rows_of(current).filter_map(|r| r.parent));
            }
        }
        false
    }

    /// The code to use in `year` for a code that may have ended: the code
    /// itself if a row of it covers edition `year`, else follow the first
    /// successor of its last row that ended before `year`, repeatedly.
    pub fn successor_in(&self, code: RegionCode, year: i32) -> Option<RegionCode> {
        let mut current = code;
        // Each step moves to a row that ended earlier than the one before or
        // to a different code, so the chain is at most the table's length.
        for _ in 0..=self.rows.len() {
            if self.row_in_edition(current, year).is_some() {
                return Some(current);
            }
            let ended = self
                .rows_of(current)
                .filter(|r| r.valid_to.is_some_and(|end| end < year))
                .max_by_key(|r| r.valid_to)?;
            let next = *ended.successors.first()?;
            if next == current {
                // A rename keeps the code; the renamed row does not cover `year`.
                return None;
            }
            current = next;
        }
        None
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Every row, in the order added.
    pub fn iter(&self) -> impl Iterator<Item = &Division> {
        self.rows.iter()
    }
}

fn strip_level_suffix(name: &str) -> &str {
    name.strip_suffix("本级")
        .or_else(|| name.strip_suffix("小计"))
        .unwrap_or(name)
}

fn editions_overlap(a: &Division, b: &Division) -> bool {
    let a_end = a.valid_to.unwrap_or(i32::MAX);
    let b_end = b.valid_to.unwrap_or(i32::MAX);
    a.valid_from <= b_end && b.valid_from <= a_end
}

fn end_text(valid_to: Option<i32>) -> String {
    valid_to.map_or_else(String::new, |y| y.to_string())
}

/// Column positions of a division CSV, found by header name.
struct Columns {
    code: usize,
    name: usize,
    level: Option<usize>,
    kind: Option<usize>,
    parent: Option<usize>,
    valid_from: Option<usize>,
    valid_to: Option<usize>,
    successors: Option<usize>,
}

impl Columns {
    fn find(headers: &csv::StringRecord) -> Result<Columns, String> {
        let position = |wanted: &str| headers.iter().position(|h| h.trim() == wanted);
        let required = |wanted: &str| position(wanted).ok_or(format!("missing column {wanted}"));
        let columns = Columns {
            code: required("code")?,
            name: required("name")?,
            level: position("level"),
            kind: position("kind"),
            parent: position("parent_code"),
            valid_from: position("valid_from"),
            valid_to: position("valid_to"),
            successors: position("successor_codes"),
        };
        if columns.level.is_none() && columns.kind.is_none() {
            return Err("missing column level".to_string());
        }
        Ok(columns)
    }

    fn division(&self, record: &csv::StringRecord) -> Result<Division, String> {
        let field = |i: Option<usize>| i.and_then(|i| record.get(i)).unwrap_or("").trim();
        let code_text = field(Some(self.code));
        let code = RegionCode::parse(code_text).map_err(|e| e.to_string())?;
        let name = field(Some(self.name));
        if name.is_empty() {
            return Err(format!("{code}: empty name"));
        }
        // A line break in a name would print as a row of its own in every
        // report and trail (issue 12); no division name holds one.
        if name.chars().any(char::is_control) {
            return Err(format!(
                "{code}: name {name:?} holds a control character (line break, tab, …)"
            ));
        }
        let level = match self.level {
            Some(i) => {
                let text = field(Some(i));
                Level::parse(text).ok_or(format!(
                    "{code}: level `{text}` is not province, prefecture, county or zone"
                ))?
            }
            None => Level::Zone,
        };
        let parent = optional_code(field(self.parent))?;
        let valid_from = match field(self.valid_from) {
            "" => ZONES_VALID_FROM,
            text => parse_year(text)?,
        };
        let valid_to = match field(self.valid_to) {
            "" => None,
            text => Some(parse_year(text)?),
        };
        if valid_to.is_some_and(|end| end < valid_from) {
            return Err(format!("{code}: valid_to before valid_from"));
        }
        let successors = field(self.successors)
            .split(';')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(|t| RegionCode::parse(t).map_err(|e| e.to_string()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Division {
            code,
            name: name.to_string(),
            level,
            parent,
            valid_from,
            valid_to,
            successors,
        })
    }
}

fn optional_code(text: &str) -> Result<Option<RegionCode>, String> {
    if text.is_empty() {
        return Ok(None);
    }
    RegionCode::parse(text).map(Some).map_err(|e| e.to_string())
}

fn parse_year(text: &str) -> Result<i32, String> {
    let ok = text.len() == 4 && text.bytes().all(|b| b.is_ascii_digit());
    if !ok {
        return Err(format!("`{text}` is not a four-digit year"));
    }
    text.parse().map_err(|_| format!("`{text}` is not a year"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::OnceLock;

    fn table() -> &'static DivisionTable {
        static TABLE: OnceLock<DivisionTable> = OnceLock::new();
        TABLE.get_or_init(DivisionTable::builtin)
    }

    fn code(n: u32) -> RegionCode {
        RegionCode::from_u32(n)
    }

    fn date(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
    }

    fn check_lookup(c: u32, on: &str, expected: Option<&str>) {
        let got = table().lookup(code(c), date(on)).map(|d| d.name.as_str());
        assert_eq!(got, expected, "{c} at {on}");
    }

    #[test]
    fn builtin_parses_everything() {
        let data_rows = GBT2260_CSV.lines().count() - 1;
        let zone_rows = HUNAN_ZONES_CSV.lines().count() - 1;
        assert_eq!(table().len(), data_rows + zone_rows);
        assert_eq!(zone_rows, 15);
    }

    #[test]
    fn validity_by_edition_year_or_the_year_before() {
        check_lookup(431121, "2020-06-01", Some("祁阳县"));
        check_lookup(431121, "2021-03-01", Some("祁阳县"));
        check_lookup(431121, "2022-06-01", None);
        check_lookup(431181, "2021-06-01", Some("祁阳市"));
        check_lookup(431181, "2020-06-01", None);
        check_lookup(430221, "2018-01-10", Some("株洲县"));
        check_lookup(430221, "2019-01-10", None);
        check_lookup(430671, "2020-05-01", Some("岳阳市屈原管理区"));
        check_lookup(430100, "2026-01-01", Some("长沙市"));
        // A rename keeps the code: the row covering Y wins over Y−1.
        check_lookup(130503, "2020-02-01", Some("信都区"));
        check_lookup(130503, "2019-12-31", Some("桥西区"));
    }

    #[test]
    fn zones_are_zones() {
        let zone = table().lookup(code(430671), date("2020-05-01")).unwrap();
        assert_eq!(zone.level, Level::Zone);
        assert_eq!(zone.parent, Some(code(430600)));
        assert_eq!(zone.valid_from, 2016);
        assert_eq!(zone.valid_to, None);
    }

    #[test]
    fn check_codes_and_names() {
        let t = table();
        let on = date("2021-03-01");
        assert!(t.check(code(431121), Some(" 祁阳县 "), on).is_ok());
        assert!(t.check(code(431121), None, date("2020-12-31")).is_ok());
        // Both edition names count early in the year after a rename.
        assert!(t
            .check(code(130503), Some("桥西区"), date("2020-02-01"))
            .is_ok());
        assert!(t
            .check(code(130503), Some("信都区"), date("2020-02-01"))
            .is_ok());
        let err = t.check(code(431121), None, date("2022-06-01")).unwrap_err();
        assert_eq!(
            err,
            RegionError::UnknownCode {
                code: code(431121),
                year: 2022
            }
        );
        assert_eq!(err.to_string(), "region code 431121 is not valid in 2022");
        let err = t.check(code(430121), Some("望城区"), on).unwrap_err();
        assert!(matches!(err, RegionError::NameMismatch { .. }));
        let message = err.to_string();
        assert!(
            message.contains("长沙县") && message.contains("望城区"),
            "{message}"
        );
    }

    /// Regression (found writing the officer guide): `长沙市本级` beside
    /// 430100 is how bureaus name a prefecture's own level.
    #[test]
    fn prefecture_own_level_name_matches_its_code() {
        let t = DivisionTable::builtin();
        let on = date("2020-06-15");
        assert!(t.check(code(430100), Some("长沙市本级"), on).is_ok());
        assert!(t.check(code(430100), Some("长沙市"), on).is_ok());
        assert!(t.check(code(430121), Some("长沙县本级"), on).is_err());
        assert!(t.check(code(430100), Some("株洲市本级"), on).is_err());
    }

    #[test]
    fn successors() {
        let t = table();
        let cases = [
            (430221, 2019, Some(430212)),
            (430221, 2017, Some(430221)),
            (431121, 2022, Some(431181)),
            (431121, 2020, Some(431121)),
            (430521, 2024, Some(430582)),
            (130521, 2021, Some(130502)), // 邢台县 split: first successor
            (130503, 2021, Some(130503)), // renamed, same code
            (371200, 2020, None),         // 莱芜市: no recorded successor
            (431181, 2019, None),         // not yet created
        ];
        for (from, year, expected) in cases {
            assert_eq!(
                t.successor_in(code(from), year),
                expected.map(code),
                "{from} in {year}"
            );
        }
        let lukou = t.lookup(code(430221), date("2017-06-01")).unwrap();
        assert_eq!(lukou.successors, vec![code(430212)]);
    }

    fn check_resolve(
        name: &str,
        parent: Option<u32>,
        province: Option<u32>,
        on: &str,
        expected: Result<u32, &[u32]>,
    ) {
        let got = table().resolve_name(name, parent.map(code), province.map(code), date(on));
        match (got, expected) {
            (Ok(c), Ok(want)) => assert_eq!(c, code(want), "{name}"),
            (Err(RegionError::AmbiguousName { candidates, .. }), Err(want)) if !want.is_empty() => {
                let got: Vec<u32> = candidates.iter().map(|(c, _)| c.as_u32()).collect();
                assert_eq!(got, want, "{name}");
            }
            (Err(RegionError::UnknownName { .. }), Err([])) => {}
            (got, want) => panic!("{name}: got {got:?}, want {want:?}"),
        }
    }

    #[test]
    fn resolve_names() {
        let on = "2020-06-01";
        check_resolve("长沙市", None, None, on, Ok(430100));
        check_resolve("长沙县", Some(430100), None, on, Ok(430121));
        check_resolve("长沙市本级", None, None, on, Ok(430100));
        check_resolve("长沙市本级", Some(430100), None, on, Ok(430100));
        check_resolve("市本级", Some(430100), None, on, Ok(430100));
        check_resolve("韶关市小计", None, None, on, Ok(440200));
        check_resolve("荔 湾 区", Some(440100), None, on, Ok(440103));
        check_resolve("朝阳区", None, None, on, Err(&[110105, 220104]));
        check_resolve("朝阳区", None, Some(220000), on, Ok(220104));
        check_resolve("朝阳区", Some(110000), None, on, Ok(110105));
        check_resolve("长沙县", Some(440100), None, on, Err(&[]));
        check_resolve("不存在县", None, None, on, Err(&[]));
        check_resolve("祁阳县", Some(431100), None, "2021-03-01", Ok(431121));
        check_resolve("祁阳县", Some(431100), None, "2022-03-01", Err(&[]));
        check_resolve("岳阳市屈原管理区", Some(430600), None, on, Ok(430671));
    }

    #[test]
    fn ambiguous_message_lists_candidates() {
        let err = table()
            .resolve_name("朝阳区", None, None, date("2020-06-01"))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "region name 朝阳区 is ambiguous: 110105 朝阳区, 220104 朝阳区"
        );
    }

    #[test]
    fn within() {
        let t = table();
        let cases = [
            (430121, 430100, true),
            (430121, 430000, true),
            (430121, 430121, true),
            (430121, 440000, false),
            (430100, 430121, false),
            (430671, 430000, true),
            (110105, 110000, true),
            (430221, 430200, true),
        ];
        for (c, ancestor, expected) in cases {
            assert_eq!(
                t.is_within(code(c), code(ancestor)),
                expected,
                "{c} in {ancestor}"
            );
        }
    }

    #[test]
    fn hunan_2020_matches_the_reference_list() {
        let reference = include_str!("../../../fixtures/reference/hunan_divisions_2020.csv");
        let mut expected: Vec<(u32, String, String)> = reference
            .lines()
            .skip(1)
            .map(|l| {
                let f: Vec<&str> = l.split(',').collect();
                (f[0].parse().unwrap(), f[1].to_string(), f[3].to_string())
            })
            .collect();
        expected.sort();
        let mut got: Vec<(u32, String, String)> = table()
            .iter()
            .filter(|d| d.code.province() == code(430000))
            .filter(|d| d.covers_edition(2020) && d.level != Level::Zone)
            .map(|d| {
                let level = format!("{:?}", d.level).to_lowercase();
                (d.code.as_u32(), d.name.clone(), level)
            })
            .collect();
        got.sort();
        assert_eq!(got, expected);
        let count = |level: Level| {
            got.iter()
                .filter(|g| g.2 == format!("{level:?}").to_lowercase())
                .count()
        };
        assert_eq!(count(Level::Prefecture), 14);
        assert_eq!(count(Level::County), 122);
    }

    const EXTENSION: &str =
        "\u{feff}code,name,level,parent_code,valid_from,valid_to,successor_codes\n\
        440171,广州示范区,zone,440100,2019,,\n\
        440172,广州旧区,zone,440100,2016,2018,440171\n";

    #[test]
    fn parse_and_extend() {
        let rows = DivisionTable::parse_csv(EXTENSION).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[1].successors, vec![code(440171)]);
        assert_eq!(rows[1].valid_to, Some(2018));
        let mut t = table().clone();
        let before = t.len();
        t.extend(rows.clone()).unwrap();
        t.extend(rows).unwrap(); // identical rows again: skipped
        assert_eq!(t.len(), before + 2);
        assert_eq!(
            t.name_at(code(440171), date("2020-01-01")),
            Some("广州示范区")
        );
        assert_eq!(t.successor_in(code(440172), 2020), Some(code(440171)));
        assert!(t.is_within(code(440171), code(440000)));
    }

    #[test]
    fn extend_rejects_overlapping_code() {
        let mut t = table().clone();
        let clash = DivisionTable::parse_csv(
            "code,name,level,parent_code,valid_from,valid_to,successor_codes\n430121,别名县,county,430100,2020,,\n",
        )
        .unwrap();
        let err = t.extend(clash).unwrap_err();
        assert!(
            matches!(err, RegionError::BadTable { line: 2, .. }),
            "{err:?}"
        );
        assert!(err.to_string().contains("长沙县"), "{err}");
    }

    fn check_bad_csv(text: &str, line: usize, fragment: &str) {
        match DivisionTable::parse_csv(text) {
            Err(RegionError::BadTable { line: l, message }) => {
                assert_eq!(l, line, "{text}: {message}");
                assert!(message.contains(fragment), "{message}");
            }
            other => panic!("{text}: {other:?}"),
        }
    }

    #[test]
    fn parse_rejections() {
        let head = "code,name,level,parent_code,valid_from,valid_to,successor_codes\n";
        check_bad_csv("code,level\n", 1, "missing column name");
        check_bad_csv("code,name\n", 1, "missing column level");
        check_bad_csv(&format!("{head}43012,x,county,,2016,,\n"), 2, "43012");
        check_bad_csv(&format!("{head}430121,,county,,2016,,\n"), 2, "empty name");
        check_bad_csv(&format!("{head}430121,x,town,,2016,,\n"), 2, "town");
        check_bad_csv(&format!("{head}430121,x,county,,16,,\n"), 2, "year");
        check_bad_csv(&format!("{head}430121,x,county,,2018,2017,\n"), 2, "before");
        check_bad_csv(
            &format!("{head}430121,x,county,,2016,2017,4301\n"),
            2,
            "4301",
        );
        check_bad_csv(&format!("{head}430121,x,county\n"), 2, "");
    }
}
