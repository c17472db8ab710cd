//! The ledger in beancount syntax, so officers can browse it in fava.
//!
//! Beancount account names are `Root:Component…` with a root among
//! Assets/Liabilities/Equity/Income/Expenses and components of ASCII
//! letters, digits and `-` starting with a capital or a digit; so fundledger's
//! accounts are mapped (docs/accounts.md → the table in `root_of`), years,
//! region codes and project codes get a letter prefix, and the Chinese names
//! and the fundledger account go in the `open` directive's metadata. Each
//! transaction carries its entry number, id, kind and chain hash as metadata.

use fundledger_core::journal::JournalEntry;
use std::io::{self, Write};

/// The beancount root and first component of a fundledger top-level account.
fn root_of(top: &str) -> String {
    match top {
        "appropriation" => "Equity:Appropriation".to_string(),
        "pool" => "Assets:Pool".to_string(),
        "allocated" => "Assets:Allocated".to_string(),
        "disbursed" => "Expenses:Disbursed".to_string(),
        "carryover" => "Equity:Carryover".to_string(),
        other => format!("Equity:{}", component(other)),
    }
}

/// One component: a year `Y2020`, a region `R430111`, a word capitalised
/// (`recovered` → `Recovered`), a project code with `_`/`.` spelled out.
fn component(text: &str) -> String {
    let all_digits = !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
    if all_digits {
        let prefix = match text.len() {
            4 => "Y",
            6 => "R",
            _ => "N",
        };
        return format!("{prefix}{text}");
    }
    let mut out = String::new();
    for c in text.chars() {
        match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' | '-' => out.push(c),
            '_' => out.push_str("-U-"),
            '.' => out.push_str("-D-"),
            other => out.push_str(&format!("-X{:X}-", other as u32)),
        }
    }
    match out.chars().next() {
        Some(first) if first.is_ascii_lowercase() => {
            out[..1].make_ascii_uppercase();
            out
        }
        Some(first) if first.is_ascii_uppercase() || first.is_ascii_digit() => out,
        _ => format!("P{out}"),
    }
}

/// The beancount name of a fundledger account (`allocated:2020:430100:430111:JS02`
/// → `Assets:Allocated:Y2020:R430100:R430111:JS02`).
pub fn account_name(account: &str) -> String {
    let mut parts = account.split(':');
    let mut name = root_of(parts.next().unwrap_or(""));
    for part in parts {
        name.push(':');
        name.push_str(&component(part));
    }
    name
}

/// A beancount string literal (one line, `"` and `\` escaped).
fn quoted(text: &str) -> String {
    let one_line = text.replace(['\n', '\r', '\t'], " ");
    format!(
        "\"{}\"",
        one_line.replace('\\', "\\\\").replace('"', "\\\"")
    )
}

pub fn write_header(out: &mut impl Write, chain_head: &str) -> io::Result<()> {
    writeln!(
        out,
        "; fundledger ledger in beancount syntax (browse it with fava)"
    )?;
    writeln!(out, "; chain head: {chain_head}")?;
    writeln!(out, "option \"title\" \"fundledger\"")?;
    writeln!(out, "option \"operating_currency\" \"CNY\"")?;
    writeln!(out)
}

/// `open` for a fundledger account, dated `date` (before its first use);
/// `label` is its Chinese description (region and project names).
pub fn write_open(
    out: &mut impl Write,
    date: &str,
    account: &str,
    label: Option<&str>,
) -> io::Result<()> {
    writeln!(out, "{date} open {} CNY", account_name(account))?;
    writeln!(out, "  fundledger-account: {}", quoted(account))?;
    if let Some(label) = label {
        writeln!(out, "  name: {}", quoted(label))?;
    }
    Ok(())
}

/// One transaction, amounts in CNY yuan.
pub fn write_entry(out: &mut impl Write, e: &JournalEntry) -> io::Result<()> {
    writeln!(out, "{} * {}", e.tx_date, quoted(&e.description))?;
    writeln!(out, "  entry: {}", e.entry_no)?;
    writeln!(out, "  tx-id: {}", quoted(&e.tx_id))?;
    writeln!(out, "  kind: {}", quoted(&e.kind))?;
    writeln!(out, "  hash: {}", quoted(&e.hash))?;
    for (key, value) in [
        ("doc-no", &e.doc_no),
        ("voucher-no", &e.voucher_no),
        ("region", &e.region_code),
        ("project", &e.project_code),
    ] {
        if let Some(value) = value {
            writeln!(out, "  {key}: {}", quoted(value))?;
        }
    }
    for p in &e.postings {
        writeln!(out, "  {}  {} CNY", account_name(&p.account), p.amount)?;
    }
    writeln!(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_names_are_valid_beancount_names() {
        let cases = [
            ("appropriation:2020", "Equity:Appropriation:Y2020"),
            ("pool:2020:recovered", "Assets:Pool:Y2020:Recovered"),
            (
                "allocated:2020:430100:430111:JS02",
                "Assets:Allocated:Y2020:R430100:R430111:JS02",
            ),
            (
                "carryover:out:2020:430100:430111:js_1.a",
                "Equity:Carryover:Out:Y2020:R430100:R430111:Js-U-1-D-a",
            ),
            (
                "disbursed:2021:440100:440103:-X",
                "Expenses:Disbursed:Y2021:R440100:R440103:P-X",
            ),
        ];
        for (fundledger, want) in cases {
            assert_eq!(account_name(fundledger), want);
        }
    }

    #[test]
    fn strings_are_escaped() {
        assert_eq!(quoted("a \"b\"\\c\nd"), "\"a \\\"b\\\"\\\\c d\"");
    }
}
