//! init, budget, balance, close, verify.

use super::{now, today, UsageError};
use crate::output::{csv_to_string, resolve_format, Align, TextTable};
use crate::{
    BalanceArgs, BudgetCommand, CloseArgs, Format, InitArgs, Outcome, TextFormat, VerifyArgs,
};
use anyhow::{bail, Context, Result};
use fundledger_core::{Fen, Unit};
use fundledger_store::{BalanceRow, BudgetOutcome, OpenMode, Store, VerifyFailure, VerifyReport};
use std::collections::BTreeMap;

pub async fn init(db: &str, args: InitArgs) -> Result<Outcome> {
    if args.roles && fundledger_store::sqlite_path(db).is_some() {
        bail!(UsageError(
            "--roles: roles are a PostgreSQL feature; on SQLite the database file's \
             permissions are the access control (docs/guide-admin.md)"
                .into()
        ));
    }
    let store = Store::open(db, OpenMode::Create).await?;
    let applied = store.migrate().await?;
    let shown = fundledger_store::display_url(db);
    if applied == 0 {
        eprintln!("{shown}: already up to date");
    } else {
        eprintln!("{shown}: initialised ({applied} migration(s) applied)");
    }
    if let Some(path) = fundledger_store::sqlite_path(db) {
        warn_if_shared(std::path::Path::new(path));
    }
    if args.roles {
        store.install_roles().await?;
        eprintln!(
            "{shown}: roles fundledger_officer, fundledger_admin, fundledger_auditor \
             are ready; grant them to login roles (docs/guide-admin.md)"
        );
    }
    if let Some(up) = store.upgrade_seals(&now()).await? {
        eprintln!(
            "{db}: sealed the project catalog in seal format 2 (batch {}); \
             the chain head is unchanged, the seal head was {} and is now {}: \
             give the new heads (`fundledger verify`) to whoever keeps them",
            up.batch_id, up.previous_head, up.seal_head
        );
    }
    store.close().await;
    Ok(Outcome::Ok)
}

/// On SQLite the file's mode is the access control: a ledger created by an
/// older version (0644 under umask 022) is readable by every local user.
#[cfg(unix)]
fn warn_if_shared(path: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = std::fs::metadata(path) {
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            eprintln!(
                "warning: {} is accessible to other users (mode {mode:o}); \
                 `chmod 600` it unless that is intended (docs/guide-admin.md)",
                crate::escape::path(path)
            );
        }
    }
}

#[cfg(not(unix))]
fn warn_if_shared(_: &std::path::Path) {}

pub async fn budget(store: &Store, command: BudgetCommand) -> Result<Outcome> {
    let BudgetCommand::Set {
        fiscal_year,
        amount_yuan,
    } = command;
    let amount = match fundledger_formats::cells::parse_amount_text(&amount_yuan, Unit::Yuan) {
        Ok(a) => a,
        Err(e) => bail!(UsageError(format!("--amount-yuan {amount_yuan}: {e}"))),
    };
    // A pool is a permanent entry: a year typed as `21` would stay forever.
    fundledger_core::periods::check_fiscal_year(fiscal_year, today())?;
    match store.budget_set(fiscal_year, amount, &now()).await? {
        BudgetOutcome::Unchanged { budget } => {
            eprintln!("fiscal year {fiscal_year}: pool already {budget}; nothing changed")
        }
        BudgetOutcome::Changed {
            previous,
            budget,
            entry_no,
        } => eprintln!(
            "fiscal year {fiscal_year}: pool set to {budget} (was {previous}); entry {entry_no}"
        ),
    }
    Ok(Outcome::Ok)
}

/// Balances rolled up to `depth` components, for the accounts of
/// `fiscal_year` when given. The stored balances are untrusted: a sum past
/// `i64` is `MoneyError::Overflow` naming the account, never a wrap.
fn roll_up(
    rows: Vec<BalanceRow>,
    fiscal_year: Option<i32>,
    depth: Option<usize>,
) -> Result<BTreeMap<String, Fen>> {
    let mut rolled: BTreeMap<String, Fen> = BTreeMap::new();
    for row in rows {
        if fiscal_year.is_some_and(|y| row.account.fiscal_year() != Some(y)) {
            continue;
        }
        let name = depth.map_or(row.account.as_str(), |d| row.account.at_depth(d));
        let balance = rolled.entry(name.to_string()).or_default();
        *balance = balance
            .checked_add(row.balance)
            .with_context(|| format!("balance of {name}"))?;
    }
    rolled.retain(|_, v| !v.is_zero());
    Ok(rolled)
}

pub async fn balance(store: &Store, args: BalanceArgs) -> Result<Outcome> {
    if args.depth == Some(0) {
        bail!(UsageError("--depth must be at least 1".into()));
    }
    let rolled = roll_up(store.balances().await?, args.fiscal_year, args.depth)?;
    let total = Fen::checked_sum(rolled.values().copied()).context("total of the balances")?;
    match resolve_format(args.format) {
        Format::Csv => {
            let rows: Vec<Vec<String>> = rolled
                .iter()
                .map(|(a, b)| vec![a.clone(), b.to_string()])
                .collect();
            crate::output::emit(&csv_to_string(&["account", "balance"], &rows, &[1]))?;
        }
        Format::Json => {
            let accounts: Vec<_> = rolled
                .iter()
                .map(|(a, b)| serde_json::json!({"account": a, "balance": b.to_string()}))
                .collect();
            let doc = serde_json::json!({"accounts": accounts, "total": total.to_string()});
            crate::output::emit(&(serde_json::to_string_pretty(&doc)? + "\n"))?;
        }
        Format::Table => {
            let mut t = TextTable::new(&[("account", Align::Left), ("balance", Align::Right)]);
            for (a, b) in &rolled {
                t.row(vec![a.clone(), b.to_string()]);
            }
            t.rule();
            t.row(vec!["total".into(), total.to_string()]);
            crate::output::emit(&t.render())?;
        }
    }
    Ok(Outcome::Ok)
}

pub async fn close(store: &Store, args: CloseArgs) -> Result<Outcome> {
    let through = month_end(&args.through)?;
    // A close is never undone: refuse a month in the future or past the data.
    let periods = store.ledger_periods().await?;
    fundledger_core::periods::check_close(through, &periods, today())?;
    let before = store.closed_through().await?;
    let after = store.close_through(through, &now()).await?;
    if before == after {
        eprintln!(
            "already closed through {}; nothing changed",
            after.map(|d| d.to_string()).unwrap_or_default()
        );
    } else {
        eprintln!("closed through {through}: rows dated on or before it are refused from now on");
    }
    Ok(Outcome::Ok)
}

/// `2020-06` → 2020-06-30.
pub fn month_end(text: &str) -> Result<chrono::NaiveDate> {
    let parsed = text
        .split_once('-')
        .and_then(|(y, m)| Some((y.parse::<i32>().ok()?, m.parse::<u32>().ok()?)))
        .filter(|(y, m)| (1..=12).contains(m) && (1900..=9999).contains(y) && text.len() == 7);
    let Some((y, m)) = parsed else {
        bail!(UsageError(format!(
            "--through {text}: expected a month as YYYY-MM, e.g. 2020-06"
        )));
    };
    let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    let first_next = chrono::NaiveDate::from_ymd_opt(ny, nm, 1).expect("valid month");
    Ok(first_next
        .pred_opt()
        .expect("a day before the first of a month"))
}

/// Said loudly when `verify` finds no entry at all: an empty ledger proves
/// nothing, and a copy of a WAL database made without its `-wal` file looks
/// exactly like this.
const EMPTY_LEDGER: &str =
    "the ledger is EMPTY: the journal holds no entry, so there is nothing to verify. \
If this database was copied from another, the copy probably lacks its -wal file \
(copy with `sqlite3 DB \"VACUUM INTO 'copy.db'\"`, see docs/guide-auditor.md)";

pub async fn verify(store: &Store, args: VerifyArgs) -> Result<Outcome> {
    let expected = args.expect_head.as_deref().map(parse_heads).transpose()?;
    let mut report = store.verify().await?;
    let empty = report.entries == 0;
    if let Some(expected) = &expected {
        report
            .failures
            .extend(head_failures(store, &report, expected).await?);
    }
    match args.format {
        TextFormat::Json => {
            let doc = serde_json::json!({
                "ok": report.ok() && !empty,
                "empty": empty,
                "entries": report.entries,
                "postings": report.postings,
                "chain_head": report.head_hash,
                "batches": report.batches,
                "seal_head": report.seal_head,
                "failures": report.failures.iter().map(|f| serde_json::json!({
                    "entry_no": f.entry_no, "tx_id": f.tx_id, "message": f.message,
                })).collect::<Vec<_>>(),
            });
            let mut doc = doc;
            if report.failures_omitted > 0 {
                doc["failures_omitted"] = report.failures_omitted.into();
            }
            crate::output::emit(&(serde_json::to_string_pretty(&doc)? + "\n"))?;
        }
        TextFormat::Text => {
            let mut text = String::new();
            for f in &report.failures {
                text.push_str(&format!("BROKEN {f}\n"));
            }
            if report.failures_omitted > 0 {
                text.push_str(&format!(
                    "BROKEN … and {} more problem(s) not listed (the first {} are)\n",
                    report.failures_omitted,
                    report.failures.len()
                ));
            }
            text.push_str(&format!("entries {}\n", report.entries));
            text.push_str(&format!("postings {}\n", report.postings));
            text.push_str(&format!("chain head {}\n", report.head_hash));
            text.push_str(&format!("batches {}\n", report.batches));
            text.push_str(&format!("seal head {}\n", report.seal_head));
            crate::output::emit(&text)?;
        }
    }
    if let Some(first) = report.failures.first() {
        bail!(
            "verify failed: {} problem(s); first: {first}",
            report.failures.len() as u64 + report.failures_omitted
        );
    }
    if empty {
        // Exit 1: a script that verifies before archiving must not take an
        // empty copy for a good ledger.
        bail!("verify: {EMPTY_LEDGER}");
    }
    eprintln!("verify: ok");
    Ok(Outcome::Ok)
}

/// Heads an auditor recorded: the chain head, and the seal head if given.
#[derive(Debug, PartialEq, Eq)]
struct ExpectedHeads {
    chain: String,
    seal: Option<String>,
}

/// `CHAIN` or `CHAIN:SEAL`, each 64 hex digits (case ignored).
fn parse_heads(text: &str) -> Result<ExpectedHeads> {
    let is_head = |h: &str| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit());
    let (chain, seal) = match text.split_once(':') {
        Some((c, s)) => (c, Some(s)),
        None => (text, None),
    };
    if !is_head(chain) || seal.is_some_and(|s| !is_head(s)) {
        bail!(UsageError(format!(
            "--expect-head {text}: expected CHAIN or CHAIN:SEAL, each 64 hex digits \
             (the `chain head` and `seal head` lines of `fundledger verify`)"
        )));
    }
    Ok(ExpectedHeads {
        chain: chain.to_ascii_lowercase(),
        seal: seal.map(str::to_ascii_lowercase),
    })
}

/// A failure for each head that is not the one expected, saying whether
/// the expected head is still an earlier link of this ledger (it grew since)
/// or is nowhere in it (history was rewritten or cut).
async fn head_failures(
    store: &Store,
    report: &VerifyReport,
    expected: &ExpectedHeads,
) -> Result<Vec<VerifyFailure>> {
    let mut failures = Vec::new();
    let failure = |message: String| VerifyFailure {
        entry_no: None,
        tx_id: None,
        message,
    };
    if expected.chain != report.head_hash {
        let whereabouts = match store.entry_with_hash(&expected.chain).await? {
            Some(n) => format!(
                "it is entry {n}'s hash: {} entries were added since",
                report.entries - n
            ),
            None => "no entry of this ledger has it: history was rewritten or cut".to_string(),
        };
        failures.push(failure(format!(
            "chain head is {}, not the expected {} ({whereabouts})",
            report.head_hash, expected.chain
        )));
    }
    if let Some(seal) = expected.seal.as_ref().filter(|s| **s != report.seal_head) {
        let whereabouts = match store.batch_with_seal(seal).await? {
            Some(b) => format!("it is batch {b}'s seal: batches were added since"),
            None => "no seal of this ledger has it: the seals were rewritten or cut".to_string(),
        };
        failures.push(failure(format!(
            "seal head is {}, not the expected {seal} ({whereabouts})",
            report.seal_head
        )));
    }
    Ok(failures)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn month_end_of_each_shape() {
        let check = |input: &str, expected: Option<&str>| {
            let got = month_end(input).ok().map(|d| d.to_string());
            assert_eq!(got.as_deref(), expected, "{input}");
        };
        check("2020-06", Some("2020-06-30"));
        check("2020-02", Some("2020-02-29"));
        check("2020-12", Some("2020-12-31"));
        check("2020-13", None);
        check("2020-6", None);
        check("202006", None);
    }
}
