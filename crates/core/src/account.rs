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

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("account name `{0}` is not a valid hledger account name")]
pub struct AccountNameError(pub String);

impl Account {
    /// Validates a stored name: non-empty components, no tabs, no two spaces,
    /// no `;` (an hledger comment), no leading or trailing space.
    pub fn parse(name: &str) -> Result<Account, AccountNameError> {
        let bad = name.is_empty()
            || name.contains('\t')
            || name.contains('\n')
            || name.contains("  ")
            || name.contains(';')
            || name.trim() != name
            || name.split(':').any(|c| c.is_empty());
        if bad {
            return Err(AccountNameError(name.to_string()));
        }
        Ok(Account(name.to_string()))
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

    /// The name cut to `depth` components (hledger `--depth`).
    pub fn at_depth(&self, depth: usize) -> &str {
        assert!(depth > 0, "depth must be positive");
        match self.0.match_indices(':').nth(depth - 1) {
            Some((i, _)) => &self.0[..i],
            None => &self.0,
        }
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

    #[test]
    fn rejects_names_hledger_would_misread() {
        for bad in ["", "a::b", "a  b", "a;b", " a", "a\tb", "a:"] {
            assert!(Account::parse(bad).is_err(), "{bad:?}");
        }
        assert!(Account::parse("pool:2020:recovered").is_ok());
    }
}
