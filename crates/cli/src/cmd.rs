//! Command dispatch. Each command opens the store, does its work in one
//! database transaction where it writes, and prints to stdout (reports) or
//! stderr (progress, summaries of what was written).

pub mod beancount;
pub mod imports;
pub mod ledger;
pub mod report;
pub mod trail;

use crate::{Cli, Command, Outcome};
use anyhow::{bail, Result};
use chrono::NaiveDate;
use fundledger_store::{OpenMode, Store};

pub async fn run(cli: Cli, db_named: bool) -> Result<Outcome> {
    let db = cli.db.clone();
    match cli.command {
        Command::Init(args) => ledger::init(&db, args).await,
        Command::Demo(args) => crate::demo::run(&db, db_named, args).await,
        command => {
            if let Command::Reconcile(args) = &command {
                // Usage errors (xlsx without --output, …) before the database is opened.
                report::check_reconcile_usage(args)?;
            }
            let store = Store::open(&db, OpenMode::MustExist).await?;
            let (doing, role) = needs(&command);
            let outcome = match dispatch(&store, &db, command).await {
                Err(e) if is_permission_denied(&e) => {
                    let user = store.current_user().await.unwrap_or_else(|_| "?".into());
                    Err(anyhow::anyhow!(
                        "permission denied: {doing} needs {role} (connected as {user})"
                    ))
                }
                other => other,
            };
            // Connections closed, not dropped with the process, and the
            // SQLite WAL emptied (`Store::close`).
            store.close().await;
            outcome
        }
    }
}

async fn dispatch(store: &Store, db: &str, command: Command) -> Result<Outcome> {
    // The store's errors name the file or database itself (password masked).
    store.ensure_initialised().await?;
    match command {
        Command::Init(_) | Command::Demo(_) => unreachable!("handled by run"),
        Command::Budget(c) => ledger::budget(store, c).await,
        Command::Regions(c) => imports::regions(store, c).await,
        Command::Projects(c) => imports::projects(store, c).await,
        Command::Import(c) => imports::import(store, c).await,
        Command::Reconcile(args) => report::reconcile(store, db, args).await,
        Command::Balance(args) => ledger::balance(store, args).await,
        Command::Close(args) => ledger::close(store, args).await,
        Command::Rollover(args) => report::rollover(store, args).await,
        Command::Export(c) => trail::export(store, db, c).await,
        Command::Verify(args) => ledger::verify(store, args).await,
    }
}

/// What a command does, in words, and the PostgreSQL role that may do it
/// (fundledger_store::roles): named when the database refuses.
fn needs(command: &Command) -> (&'static str, &'static str) {
    use fundledger_store::roles::{ADMIN, AUDITOR, OFFICER};
    match command {
        Command::Import(_) => ("importing", OFFICER),
        Command::Budget(_) => ("setting a budget", ADMIN),
        Command::Regions(_) => ("importing regions", ADMIN),
        Command::Projects(_) => ("importing projects", ADMIN),
        Command::Close(_) => ("closing a period", ADMIN),
        Command::Rollover(_) => ("a rollover", ADMIN),
        _ => ("reading the ledger", AUDITOR),
    }
}

/// SQLSTATE 42501 anywhere in the chain: a missing privilege or a row
/// policy's refusal. The transaction was rolled back, nothing written.
fn is_permission_denied(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<fundledger_store::StoreError>()
            .is_some_and(|s| s.is_permission_denied())
    })
}

/// The time written into batches and entries: the CLI owns the clock.
pub fn now() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Today's date for the guard rails of irreversible commands (UTC, like
/// every recorded-at time).
pub fn today() -> NaiveDate {
    chrono::Utc::now().date_naive()
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

/// Every journal entry in order, a page at a time (memory: a few pages),
/// for the exports that stream the whole ledger (journal, trail,
/// beancount). The next pages are read while this one is written.
async fn for_each_entry(
    store: &Store,
    mut each: impl FnMut(&fundledger_store::JournalEntry) -> Result<()>,
) -> Result<()> {
    let mut pages = store.journal_pages(false);
    while let Some(page) = pages.next().await {
        let page = page?;
        for e in &page.entries {
            each(e)?;
        }
        // Its strings are read into again for a later page.
        page.recycle();
    }
    Ok(())
}
