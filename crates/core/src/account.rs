//! The account scheme (see docs/accounts.md). Names are hledger-valid,
//! colon-separated, most general first, so `--depth` rolls up cleanly:
//!
//! | account | meaning |
//! |---|---|
//! | `appropriation:Y` | source of fiscal year Y's provincial pool (credit) |
//! | `pool:Y` | Y's pool not yet allocated |
//! | `pool:Y:recovered` | unspent money recovered back into Y's pool |
//! | `allocated:Y:PREF:REGION:PROJECT` | allocated, not yet disbursed |
//! | `disbursed:Y:PREF:REGION:PROJECT` | disbursed |
//! | `carryover:out:Y:PREF:REGION:PROJECT` | carried out of Y at its rollover |
//! | `carryover:in:Y:PREF:REGION:PROJECT` | carried into Y from Y-1 |
//!
//! PREF is the prefecture grouping of the region code (`xxxx00`), so depth 3
//! of `allocated:Y` gives per-prefecture totals.

use crate::domain::{FiscalYear, ProjectCode, RegionCode};
use std::fmt;

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Account(String);

/// Which branch of the scheme an account is on, read from its leading (and,
/// for a recovery, trailing) components: the one place a name is taken apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccountKind {
    /// `allocated:…`
    Allocated,
    /// `pool:…:recovered`
    PoolRecovered,
    /// `carryover:out:…`
    CarriedOut,
    /// `carryover:in:…`
    CarriedIn,
    /// anything else (`appropriation:Y`, `pool:Y`, `disbursed:…`, foreign names)
    Other,
}

impl AccountKind {
    /// The branch of the scheme an account name is on, valid or not: what
    /// [`Account::kind`] says of the account parsed from it.
    pub fn of(name: &str) -> AccountKind {
        let parts: Vec<&str> = name.split(':').collect();
        match parts.as_slice() {
            ["allocated", _, ..] => AccountKind::Allocated,
            ["pool", .., "recovered"] => AccountKind::PoolRecovered,
            ["carryover", "out", _, ..] => AccountKind::CarriedOut,
            ["carryover", "in", _, ..] => AccountKind::CarriedIn,
            _ => AccountKind::Other,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("account name `{0}` is not a valid hledger account name")]
pub struct AccountNameError(pub String);

impl Account {
    /// Validates a stored name: non-empty components, no tabs, no two spaces,
    /// no `;` (an hledger comment), no leading or trailing space.
    pub fn parse(name: &str) -> Result<Account, AccountNameError> {
        if !Account::is_valid_name(name) {
            return Err(AccountNameError(name.to_string()));
        }
        Ok(Account(name.to_string()))
    }

    /// Whether [`Account::parse`] accepts `name`, without copying it
    /// (`verify` asks this of every stored posting).
    pub fn is_valid_name(name: &str) -> bool {
        let bad = name.is_empty()
            || name.contains('\t')
            || name.contains('\n')
            || name.contains("  ")
            || name.contains(';')
            || name.trim() != name
            || name.split(':').any(|c| c.is_empty());
        !bad
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn appropriation(year: FiscalYear) -> Account {
        Account(format!("appropriation:{year}"))
    }
    pub fn pool(year: FiscalYear) -> Account {
        Account(format!("pool:{year}"))
    }
    pub fn pool_recovered(year: FiscalYear) -> Account {
        Account(format!("pool:{year}:recovered"))
    }
    pub fn allocated(year: FiscalYear, region: RegionCode, project: &ProjectCode) -> Account {
        Self::per_line("allocated", year, region, project)
    }
    pub fn disbursed(year: FiscalYear, region: RegionCode, project: &ProjectCode) -> Account {
        Self::per_line("disbursed", year, region, project)
    }
    pub fn carried_out(year: FiscalYear, region: RegionCode, project: &ProjectCode) -> Account {
        Self::per_line("carryover:out", year, region, project)
    }
    pub fn carried_in(year: FiscalYear, region: RegionCode, project: &ProjectCode) -> Account {
        Self::per_line("carryover:in", year, region, project)
    }

    fn per_line(
        root: &str,
        year: FiscalYear,
        region: RegionCode,
        project: &ProjectCode,
    ) -> Account {
        let pref = region.prefecture_group();
        Account(format!("{root}:{year}:{pref}:{region}:{project}"))
    }

    /// The branch of the scheme this account is on.
    pub fn kind(&self) -> AccountKind {
        AccountKind::of(&self.0)
    }

    /// The fiscal year the account belongs to: its first four-digit component.
    pub fn fiscal_year(&self) -> Option<FiscalYear> {
        name_parts(&self.0).fiscal_year
    }

    /// The name cut to `depth` components (hledger `--depth`).
    pub fn at_depth(&self, depth: usize) -> &str {
        assert!(depth > 0, "depth must be positive");
        match self.0.match_indices(':').nth(depth - 1) {
            Some((i, _)) => &self.0[..i],
            None => &self.0,
        }
    }
}

/// The year, region and project an account name carries.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AccountParts<'a> {
    pub fiscal_year: Option<FiscalYear>,
    pub region: Option<RegionCode>,
    pub project: Option<&'a str>,
}

/// The parts of an account name, `root[:sub]:YEAR[:PREFECTURE:REGION:PROJECT]`
/// (e.g. `carryover:in:2021:431100:431181:JS01` or `pool:2021:recovered`):
/// the year is the first four-digit component. Works on any text, so a
/// stored name is read the same way whether or not it is a valid account.
pub fn name_parts(name: &str) -> AccountParts<'_> {
    let parts: Vec<&str> = name.split(':').collect();
    let is_code = |s: &str, len: usize| s.len() == len && s.bytes().all(|b| b.is_ascii_digit());
    let Some(at) = parts.iter().position(|s| is_code(s, 4)) else {
        return AccountParts::default();
    };
    let fiscal_year = parts[at].parse().ok();
    match parts.get(at + 1..at + 4) {
        Some([pref, region, project]) if is_code(pref, 6) && is_code(region, 6) => AccountParts {
            fiscal_year,
            region: RegionCode::parse(region).ok(),
            project: Some(*project),
        },
        _ => AccountParts {
            fiscal_year,
            ..AccountParts::default()
        },
    }
}

impl fmt::Display for Account {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_line_accounts_group_by_prefecture() {
        let r = RegionCode::parse("430121").unwrap();
        let p = ProjectCode::parse("JS01").unwrap();
        let a = Account::allocated(2020, r, &p);
        assert_eq!(a.as_str(), "allocated:2020:430100:430121:JS01");
        assert_eq!(a.at_depth(1), "allocated");
        assert_eq!(a.at_depth(3), "allocated:2020:430100");
        assert_eq!(a.at_depth(9), a.as_str());
        assert_eq!(
            Account::carried_in(2021, r, &p).as_str(),
            "carryover:in:2021:430100:430121:JS01"
        );
    }

    fn check_kind(name: &str, kind: AccountKind, year: Option<i32>) {
        let account = Account::parse(name).unwrap();
        assert_eq!(account.kind(), kind, "{name}");
        assert_eq!(account.fiscal_year(), year, "{name}");
    }

    #[test]
    fn kinds_and_years_come_from_the_name() {
        use AccountKind::*;
        check_kind("allocated:2020:430100:430121:JS01", Allocated, Some(2020));
        check_kind("allocated", Other, None);
        check_kind("pool:2021:recovered", PoolRecovered, Some(2021));
        check_kind("pool:recovered", PoolRecovered, None);
        check_kind("pool:2021", Other, Some(2021));
        check_kind(
            "carryover:out:2020:430100:430121:JS01",
            CarriedOut,
            Some(2020),
        );
        check_kind(
            "carryover:in:2021:430100:430121:JS01",
            CarriedIn,
            Some(2021),
        );
        check_kind("carryover:in", Other, None);
        check_kind("disbursed:2020:430100:430121:JS01", Other, Some(2020));
        check_kind("appropriation:2020", Other, Some(2020));
        check_kind("expenses:20201", Other, None);
    }

    fn check_parts(name: &str, year: Option<i32>, region: Option<&str>, project: Option<&str>) {
        let got = name_parts(name);
        assert_eq!(got.fiscal_year, year, "{name}");
        assert_eq!(
            got.region.map(|r| r.to_string()).as_deref(),
            region,
            "{name}"
        );
        assert_eq!(got.project, project, "{name}");
    }

    #[test]
    fn parts_of_a_name() {
        let (r, p) = (Some("431181"), Some("JS01"));
        check_parts("carryover:in:2021:431100:431181:JS01", Some(2021), r, p);
        check_parts("allocated:2020:431100:431181:JS01", Some(2020), r, p);
        check_parts(
            "disbursed:2021:430100:430100:JS02",
            Some(2021),
            Some("430100"),
            Some("JS02"),
        );
        check_parts("carryover:out:2020:431100:431181:JS01", Some(2020), r, p);
        check_parts("pool:2021:recovered", Some(2021), None, None);
        check_parts("appropriation:2021", Some(2021), None, None);
        check_parts("allocated:2020:4311:431181:JS01", Some(2020), None, None);
        check_parts("allocated:2020:431100", Some(2020), None, None);
        check_parts("expenses:misc", None, None, None);
        check_parts("", None, None, None);
    }

    #[test]
    fn rejects_names_hledger_would_misread() {
        for bad in ["", "a::b", "a  b", "a;b", " a", "a\tb", "a:"] {
            assert!(Account::parse(bad).is_err(), "{bad:?}");
        }
        assert!(Account::parse("pool:2020:recovered").is_ok());
    }
}
