//! export trail (auditors) and export journal (hledger).

use super::parse_date_arg;
use crate::escape;
use crate::outfile;
use crate::output::open_output;
use crate::{ExportCommand, Outcome, TrailArgs};
use anyhow::Result;
use fundledger_core::account::name_parts;
use fundledger_core::catalog::ProjectCatalog;
use fundledger_core::divisions::DivisionTable;
use fundledger_core::{ProjectCode, RegionCode};
use fundledger_formats::export::{
    write_journal_entry, write_journal_header, HashingWriter, TrailWriter,
};
use fundledger_store::{JournalEntry, Store};
use std::io::Write;
use std::path::{Path, PathBuf};

pub async fn export(store: &Store, db: &str, command: ExportCommand) -> Result<Outcome> {
    match command {
        ExportCommand::Journal { output, force } => journal(store, db, output, force).await,
        ExportCommand::Trail(args) => trail(store, db, args).await,
        ExportCommand::Beancount { output, force } => {
            super::beancount::export(store, db, output, force).await
        }
    }
}

/// Streams every entry page by page; the same ledger gives the same bytes.
async fn journal(
    store: &Store,
    db: &str,
    output: Option<std::path::PathBuf>,
    force: bool,
) -> Result<Outcome> {
    let mut out = open_output(output.as_deref(), force, db)?;
    let head = store.snapshot().await?.head_hash.unwrap_or_default();
    write_journal_header(&mut out, &head, &store.seal_head().await?)?;
    super::for_each_entry(store, |e| Ok(write_journal_entry(&mut out, e)?)).await?;
    out.finish()?;
    Ok(Outcome::Ok)
}

/// Whole transactions are selected, so every export balances. A
/// transaction belongs to a year, region or project when its own fields
/// name it or when any of its postings does: a carryover recorded under the
/// year it leaves (and the region code it had) also moves money into the
/// next year's accounts (under a successor code), and an auditor of that
/// year or region must see it for the trail to tie to `balance`.
struct TrailFilter {
    fiscal_year: Option<i32>,
    from: Option<String>,
    to: Option<String>,
    region: Option<RegionCode>,
    project: Option<ProjectCode>,
}

impl TrailFilter {
    fn keeps(&self, e: &JournalEntry, divisions: &DivisionTable) -> bool {
        // No filter: every entry, without taking its accounts apart.
        if self.fiscal_year.is_none()
            && self.from.is_none()
            && self.to.is_none()
            && self.region.is_none()
            && self.project.is_none()
        {
            return true;
        }
        let accounts: Vec<_> = e.postings.iter().map(|p| name_parts(&p.account)).collect();
        let year_ok = |y: i32| {
            e.fiscal_year == Some(i64::from(y)) || accounts.iter().any(|a| a.fiscal_year == Some(y))
        };
        let within = |code: RegionCode, r: RegionCode| divisions.is_within(code, r);
        let region_ok = |r: RegionCode| {
            e.region_code
                .as_deref()
                .and_then(|c| RegionCode::parse(c).ok())
                .is_some_and(|c| within(c, r))
                || accounts
                    .iter()
                    .any(|a| a.region.is_some_and(|c| within(c, r)))
        };
        let project_ok = |p: &ProjectCode| {
            e.project_code.as_deref() == Some(p.as_str())
                || accounts.iter().any(|a| a.project == Some(p.as_str()))
        };
        self.fiscal_year.is_none_or(year_ok)
            && self
                .from
                .as_ref()
                .is_none_or(|f| e.tx_date.as_str() >= f.as_str())
            && self
                .to
                .as_ref()
                .is_none_or(|t| e.tx_date.as_str() <= t.as_str())
            && self.project.as_ref().is_none_or(project_ok)
            && self.region.is_none_or(region_ok)
    }
}

async fn trail(store: &Store, db: &str, args: TrailArgs) -> Result<Outcome> {
    let divisions = store.division_table().await?;
    let catalog = store.project_catalog().await?;
    let filter = TrailFilter::from_args(&args, &catalog)?;
    // Both files are checked before either is written: a refused manifest
    // path leaves no CSV behind.
    let manifest_path = args.output.as_ref().map(|p| manifest_path(p));
    let manifest_out = manifest_path
        .as_deref()
        .map(|m| outfile::create(m, args.force, db))
        .transpose()?;
    let out = HashingWriter::new(open_output(args.output.as_deref(), args.force, db)?);
    let mut writer = TrailWriter::new(out, args.bom)?;
    let head = store.snapshot().await?.head_hash.unwrap_or_default();
    let seal_head = store.seal_head().await?;
    write_entries(store, &mut writer, &filter, &divisions).await?;
    let (hashing, totals) = writer.finish()?;
    let (inner, sha256, bytes) = hashing.finish()?;
    inner.finish()?;
    assert_eq!(
        totals.debit, totals.credit,
        "whole transactions are exported, so debits equal credits"
    );
    let manifest = serde_json::json!({
        "file": args.output.as_ref().map(|p| p.display().to_string()),
        "rows": totals.rows,
        "entries": totals.entries,
        "bytes": bytes,
        "debit_total": totals.debit.to_string(),
        "credit_total": totals.credit.to_string(),
        "sha256": sha256,
        "chain_head": head,
        "seal_head": seal_head,
        "bom": args.bom,
        "filters": filter.manifest_filters(),
    });
    match (&args.output, manifest_out) {
        (Some(p), Some(mut mout)) => {
            mout.write_all((serde_json::to_string_pretty(&manifest)? + "\n").as_bytes())?;
            mout.commit()?;
            let mpath = escape::path(manifest_path.as_deref().unwrap_or(p));
            eprintln!(
                "{}: {} row(s), debits {} = credits {}, sha256 {sha256}; manifest {mpath}",
                escape::path(p),
                totals.rows,
                totals.debit,
                totals.credit
            );
        }
        _ => eprintln!("{}", serde_json::to_string_pretty(&manifest)?),
    }
    Ok(Outcome::Ok)
}

impl TrailFilter {
    /// The `export trail` filter options, parsed and checked.
    fn from_args(args: &TrailArgs, catalog: &ProjectCatalog) -> Result<TrailFilter> {
        let date = |name: &str, d: &Option<String>| {
            d.as_deref()
                .map(|d| parse_date_arg(name, d).map(|d| d.to_string()))
                .transpose()
        };
        Ok(TrailFilter {
            fiscal_year: args.fiscal_year,
            from: date("from", &args.from)?,
            to: date("to", &args.to)?,
            region: args.region.as_deref().map(super::region_arg).transpose()?,
            project: args
                .project
                .as_deref()
                .map(|p| super::project_arg(catalog, p))
                .transpose()?,
        })
    }

    /// The filters as the manifest records them.
    fn manifest_filters(&self) -> serde_json::Value {
        serde_json::json!({
            "fiscal_year": self.fiscal_year,
            "from": self.from,
            "to": self.to,
            "region": self.region.map(|r| r.to_string()),
            "project": self.project.as_ref().map(|p| p.to_string()),
        })
    }
}

/// Streams the journal page by page through the filter into the writer.
async fn write_entries<W: Write>(
    store: &Store,
    writer: &mut TrailWriter<W>,
    filter: &TrailFilter,
    divisions: &DivisionTable,
) -> Result<()> {
    super::for_each_entry(store, |e| {
        if filter.keeps(e, divisions) {
            writer.write_entry(e)?;
        }
        Ok(())
    })
    .await
}

/// `FILE.manifest.json` beside `FILE`.
fn manifest_path(output: &Path) -> PathBuf {
    let mut name = output.as_os_str().to_os_string();
    name.push(".manifest.json");
    PathBuf::from(name)
}
