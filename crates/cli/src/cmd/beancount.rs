//! export beancount: the ledger for fava. Two passes over the journal: the
//! first finds each account's first use (its `open` must come before it),
//! the second writes the entries.

use crate::output::open_output;
use crate::Outcome;
use anyhow::Result;
use chrono::NaiveDate;
use fundledger_core::account::name_parts;
use fundledger_core::catalog::ProjectCatalog;
use fundledger_core::divisions::DivisionTable;
use fundledger_core::ProjectCode;
use fundledger_formats::beancount::{write_entry, write_header, write_open};
use fundledger_store::Store;
use std::collections::BTreeMap;
use std::path::PathBuf;

pub async fn export(
    store: &Store,
    db: &str,
    output: Option<PathBuf>,
    force: bool,
) -> Result<Outcome> {
    let first_use = first_use_of_accounts(store).await?;
    let divisions = store.division_table().await?;
    let catalog = store.project_catalog().await?;
    let mut out = open_output(output.as_deref(), force, db)?;
    let head = store.snapshot().await?.head_hash.unwrap_or_default();
    write_header(&mut out, &head)?;
    let mut opens: Vec<(NaiveDate, &String)> = first_use
        .iter()
        .map(|(account, &date)| (date, account))
        .collect();
    opens.sort();
    for (date, account) in opens {
        let label = label_of(account, date, &divisions, &catalog);
        let day_before = date
            .pred_opt()
            .unwrap_or(date)
            .format("%Y-%m-%d")
            .to_string();
        write_open(&mut out, &day_before, account, label.as_deref())?;
    }
    writeln!(out)?;
    super::for_each_entry(store, |e| Ok(write_entry(&mut out, e)?)).await?;
    out.finish()?;
    Ok(Outcome::Ok)
}

use std::io::Write;

/// Each account's first transaction date (memory: one entry per account).
async fn first_use_of_accounts(store: &Store) -> Result<BTreeMap<String, NaiveDate>> {
    let mut first = BTreeMap::new();
    super::for_each_entry(store, |e| {
        let date = NaiveDate::parse_from_str(&e.tx_date, "%Y-%m-%d")?;
        for p in &e.postings {
            first
                .entry(p.account.clone())
                .and_modify(|d: &mut NaiveDate| *d = (*d).min(date))
                .or_insert(date);
        }
        Ok(())
    })
    .await?;
    Ok(first)
}

/// `长沙市雨花区 计生三结合帮扶` for a region/project account.
fn label_of(
    account: &str,
    on: NaiveDate,
    divisions: &DivisionTable,
    catalog: &ProjectCatalog,
) -> Option<String> {
    let parts = name_parts(account);
    let (region, project) = (parts.region, parts.project);
    let region_name = region.and_then(|r| divisions.name_at(r, on));
    let project_name = project
        .and_then(|p| ProjectCode::parse(p).ok())
        .and_then(|p| catalog.get(&p).map(|p| p.name.clone()));
    match (region_name, project_name) {
        (None, None) => None,
        (r, p) => Some(
            [r.map(str::to_string), p]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" "),
        ),
    }
}
