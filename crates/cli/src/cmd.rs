//! Command dispatch. Each command opens the store, does its work in one
//! database transaction where it writes, and prints to stdout (reports) or
//! stderr (progress, summaries of what was written).

pub mod beancount;
pub mod imports;
pub mod ledger;
pub mod report;
pub mod trail;

use crate::{Cli, Command, Outcome};
use anyhow::{bail, Context, Result};
use chrono::NaiveDate;
use fundledger_store::{OpenMode, Store};

pub async fn run(cli: Cli, db_named: bool) -> Result<Outcome> {
    let db = cli.db.clone();
    match cli.command {
        Command::Init => ledger::init(&db).await,
        Command::Demo(args) => crate::demo::run(&db, db_named, args).await,
        Command::Budget(c) => ledger::budget(&open(&db).await?, c).await,
        Command::Regions(c) => imports::regions(&open(&db).await?, c).await,
        Command::Projects(c) => imports::projects(&open(&db).await?, c).await,
        Command::Import(c) => imports::import(&open(&db).await?, c).await,
        Command::Reconcile(args) => report::reconcile(&open(&db).await?, args).await,
        Command::Balance(args) => ledger::balance(&open(&db).await?, args).await,
        Command::Close(args) => ledger::close(&open(&db).await?, args).await,
        Command::Rollover(args) => report::rollover(&open(&db).await?, args).await,
        Command::Export(c) => trail::export(&open(&db).await?, c).await,
        Command::Verify(args) => ledger::verify(&open(&db).await?, args).await,
    }
}

/// Opens an existing, initialised database.
pub async fn open(db: &str) -> Result<Store> {
    let store = Store::open(db, OpenMode::MustExist)
        .await
        .with_context(|| format!("opening {db}"))?;
    store.ensure_initialised().await?;
    Ok(store)
}

/// The time written into batches and entries: the CLI owns the clock.
pub fn now() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

pub fn parse_date_arg(name: &str, text: &str) -> Result<NaiveDate> {
    match fundledger_formats::cells::parse_date_text(text) {
        Ok(d) => Ok(d),
        Err(e) => bail!(UsageError(format!("--{name} {text}: {e}"))),
    }
}

/// `--project` by code (any case), name or alias, through the catalog, so
/// `js08` or `托育示范` select JS08 rather than silently nothing.
pub fn project_arg(
    catalog: &fundledger_core::catalog::ProjectCatalog,
    text: &str,
) -> Result<fundledger_core::ProjectCode> {
    match catalog.lookup_text(text) {
        Some(p) => Ok(p.code.clone()),
        None => bail!(UsageError(format!(
            "--project {text}: not a code, name or alias in the project catalog"
        ))),
    }
}

/// `--region` as a division code (it selects itself and its descendants).
pub fn region_arg(text: &str) -> Result<fundledger_core::RegionCode> {
    fundledger_core::RegionCode::parse(text)
        .map_err(|e| UsageError(format!("--region: {e}")).into())
}

/// A bad option value: exits with status 2, like clap's own usage errors.
#[derive(Debug)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}
