//! `fundledger`: the command line. The only crate that knows about the
//! environment, terminals, the clock and anyhow.

mod cmd;
mod demo;
mod output;

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;

/// A double-entry ledger for public project funds: allocations by budget
/// indicator document, disbursements by finance bureau, reconciled.
#[derive(Parser, Debug)]
#[command(name = "fundledger", version, about, propagate_version = true)]
pub struct Cli {
    /// Database URL: sqlite:PATH (embedded default) or postgres://…
    #[arg(
        long,
        global = true,
        env = "FUNDLEDGER_DB",
        default_value = "sqlite:fundledger.db"
    )]
    pub db: String,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Create or migrate the database (idempotent).
    Init,
    /// Load the shipped Hunan 2020 fixtures (51.66M yuan) into a fresh
    /// database, reconcile as of 2020-12-31 and print the report.
    Demo(DemoArgs),
    /// Set a fiscal year's provincial pool.
    #[command(subcommand)]
    Budget(BudgetCommand),
    /// Extend the built-in division table.
    #[command(subcommand)]
    Regions(RegionsCommand),
    /// Load a project catalog (code, name, aliases, func_code).
    #[command(subcommand)]
    Projects(ProjectsCommand),
    /// Import indicator or disbursement files.
    #[command(subcommand)]
    Import(ImportCommand),
    /// Reconcile allocations against disbursements: on time, in full, to the right project.
    Reconcile(ReconcileArgs),
    /// Account balances.
    Balance(BalanceArgs),
    /// Lock every date up to the end of a month.
    Close(CloseArgs),
    /// Year-end rollover: carry forward or recover unspent money.
    Rollover(RolloverArgs),
    /// Export the audit trail or the whole journal.
    #[command(subcommand)]
    Export(ExportCommand),
    /// Recompute the hash chain and every invariant; print the chain head.
    Verify(VerifyArgs),
}

#[derive(Args, Debug)]
pub struct DemoArgs {
    #[arg(long, value_enum)]
    pub format: Option<Format>,
}

#[derive(Subcommand, Debug)]
pub enum BudgetCommand {
    /// Set (or change) the pool; a change is a new transaction.
    Set {
        #[arg(long)]
        fiscal_year: i32,
        /// Amount in yuan, e.g. 51660000.00
        #[arg(long)]
        amount_yuan: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum RegionsCommand {
    /// Add divisions (code,name,level,parent_code,valid_from,valid_to,successor_codes).
    Import { file: PathBuf },
}

#[derive(Subcommand, Debug)]
pub enum ProjectsCommand {
    /// Add or update projects from a catalog file.
    Import { file: PathBuf },
}

#[derive(Args, Debug, Clone)]
pub struct ImportOptions {
    /// Amount unit when the file does not state it (header suffix or 单位 line); a conflict is an error.
    #[arg(long, value_enum)]
    pub unit: Option<UnitArg>,
    /// Text encoding of CSV files: detected (UTF-8, UTF-8 with BOM, GB18030) or forced.
    #[arg(long, value_enum, default_value = "auto")]
    pub encoding: EncodingArg,
    /// Workbook sheet to read (default: the one with a recognised header).
    #[arg(long)]
    pub sheet: Option<String>,
    /// Document number of a wide table whose preamble lacks it, e.g. 湘财社指〔2020〕36号.
    #[arg(long)]
    pub doc_no: Option<String>,
    /// Document date of a wide table whose preamble lacks it.
    #[arg(long)]
    pub doc_date: Option<String>,
    /// Province code narrowing region-name resolution, e.g. 43 or 430000.
    #[arg(long)]
    pub province: Option<String>,
    /// Days from the document date by which money must be passed on.
    #[arg(long, default_value_t = 30)]
    pub deadline_days: i64,
    /// Validate and report; write nothing.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Subcommand, Debug)]
pub enum ImportCommand {
    /// Indicator documents, long or wide form (auto-detected).
    Indicators {
        /// Table files (CSV, XLSX, XLS, ODS, HTML "xls"), imported together in one transaction.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        #[command(flatten)]
        options: ImportOptions,
    },
    /// Disbursement (拨付) files.
    Disbursements {
        /// Table files (CSV, XLSX, XLS, ODS, HTML "xls"), imported together in one transaction.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        #[command(flatten)]
        options: ImportOptions,
    },
}

#[derive(Args, Debug)]
pub struct ReconcileArgs {
    /// Report date (YYYY-MM-DD).
    #[arg(long)]
    pub as_of: String,
    /// Only rows of this fiscal year (matching still uses the whole ledger).
    #[arg(long)]
    pub fiscal_year: Option<i32>,
    /// Region code: itself and its descendants.
    #[arg(long)]
    pub region: Option<String>,
    /// Project code, name or alias.
    #[arg(long)]
    pub project: Option<String>,
    /// Override the deadline stored with each line.
    #[arg(long)]
    pub deadline_days: Option<i64>,
    /// Exit 3 when any row has one of these statuses.
    #[arg(long, value_delimiter = ',')]
    pub fail_on: Vec<FailOn>,
    /// Output format (default: table on a terminal, csv otherwise).
    #[arg(long, value_enum)]
    pub format: Option<Format>,
}

#[derive(Args, Debug)]
pub struct BalanceArgs {
    #[arg(long)]
    pub fiscal_year: Option<i32>,
    /// Roll accounts up to this many name components.
    #[arg(long)]
    pub depth: Option<usize>,
    #[arg(long, value_enum)]
    pub format: Option<Format>,
}

#[derive(Args, Debug)]
pub struct CloseArgs {
    /// Last month to lock, YYYY-MM.
    #[arg(long)]
    pub through: String,
}

#[derive(Args, Debug)]
pub struct RolloverArgs {
    #[arg(long)]
    pub fiscal_year: i32,
    /// Money whose origin year is <= Y - (N - 1) is recovered.
    #[arg(long, default_value_t = 2)]
    pub recover_after: i32,
    #[arg(long)]
    pub dry_run: bool,
    #[arg(long, value_enum)]
    pub format: Option<Format>,
}

#[derive(Subcommand, Debug)]
pub enum ExportCommand {
    /// One CSV row per posting, with a manifest.
    Trail(TrailArgs),
    /// The whole ledger as an hledger journal.
    Journal {
        #[arg(long)]
        output: Option<PathBuf>,
    },
    /// The whole ledger in beancount syntax (browse it with fava).
    Beancount {
        #[arg(long)]
        output: Option<PathBuf>,
    },
}

#[derive(Args, Debug)]
pub struct TrailArgs {
    #[arg(long)]
    pub output: Option<PathBuf>,
    /// Start with a UTF-8 byte-order mark (for Excel).
    #[arg(long)]
    pub bom: bool,
    #[arg(long)]
    pub fiscal_year: Option<i32>,
    #[arg(long)]
    pub from: Option<String>,
    #[arg(long)]
    pub to: Option<String>,
    #[arg(long)]
    pub region: Option<String>,
    #[arg(long)]
    pub project: Option<String>,
}

#[derive(Args, Debug)]
pub struct VerifyArgs {
    #[arg(long, value_enum)]
    pub format: Option<Format>,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Table,
    Csv,
    Json,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnitArg {
    Yuan,
    Wan,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum EncodingArg {
    Auto,
    #[value(name = "utf-8", alias = "utf8")]
    Utf8,
    #[value(alias = "gbk")]
    Gb18030,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailOn {
    Overdue,
    Over,
    Unmatched,
    Open,
    Late,
}

/// How a command ended, mapped to the exit statuses of SPEC §8.
pub enum Outcome {
    Ok,
    /// `--fail-on` condition met.
    ConditionMet,
}

fn main() -> ExitCode {
    use clap::{CommandFactory, FromArgMatches};
    let matches = Cli::command().get_matches();
    // `demo` uses a fresh temporary database unless a database was named.
    let db_named = matches!(
        matches.value_source("db"),
        Some(clap::parser::ValueSource::CommandLine | clap::parser::ValueSource::EnvVariable)
    );
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    match runtime.block_on(cmd::run(cli, db_named)) {
        Ok(Outcome::Ok) => ExitCode::SUCCESS,
        Ok(Outcome::ConditionMet) => ExitCode::from(3),
        // A closed pipe (`fundledger export journal | head`): the reader has
        // what it wanted; not an error.
        Err(err)
            if err.chain().any(|c| {
                c.downcast_ref::<std::io::Error>()
                    .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
            }) =>
        {
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("error: {err:#}");
            if err.chain().any(|c| c.is::<cmd::UsageError>()) {
                ExitCode::from(2)
            } else {
                ExitCode::from(1)
            }
        }
    }
}
