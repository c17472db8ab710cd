//! `fundledger`: the command line. The only crate that knows about the
//! environment, terminals, the clock and anyhow.

// Every declared dependency is used (test targets are exempt: each test file
// names only some of them).
#![cfg_attr(not(test), warn(unused_crate_dependencies))]
// Short functions (clippy.toml: at most 70 lines) outside tests.
#![cfg_attr(not(test), warn(clippy::too_many_lines))]
// A binary has no public surface: every `pub` here means `pub(crate)`.
#![allow(unreachable_pub)]

mod cmd;
mod demo;
mod escape;
mod outfile;
mod output;

/// Threads of the tokio runtime every command runs on.
const RUNTIME_WORKER_THREADS: usize = 2;

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
    Init(InitArgs),
    /// Load the shipped Hunan 2020 fixtures (51.66M yuan) into a fresh
    /// database, reconcile as of 2020-12-31 and print the report.
    ///
    /// Uses a new temporary SQLite database, deleted at the end, unless a
    /// database is named with --db or FUNDLEDGER_DB; a named database must be
    /// empty (it is created and initialised if missing) and is kept.
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
    /// Recompute both hash chains and every invariant; print the chain and seal heads.
    Verify(VerifyArgs),
}

#[derive(Args, Debug)]
pub struct InitArgs {
    /// PostgreSQL: also create the group roles fundledger_officer,
    /// fundledger_admin and fundledger_auditor and their privileges
    /// (docs/guide-admin.md). Idempotent; re-run after an upgrade.
    #[arg(long)]
    pub roles: bool,
}

#[derive(Args, Debug)]
pub struct DemoArgs {
    /// Format of the reconciliation report.
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
    /// Also write the report as reconcile_2020-12-31.xlsx and .html into this (existing) directory.
    #[arg(long)]
    pub output_dir: Option<PathBuf>,
    /// Replace reports already in --output-dir.
    #[arg(long, requires = "output_dir")]
    pub force: bool,
    /// Language of the xlsx and html reports.
    #[arg(long, value_enum)]
    pub lang: Option<LangArg>,
}

#[derive(Subcommand, Debug)]
pub enum BudgetCommand {
    /// Set (or change) the pool; a change is a new transaction.
    Set {
        /// Fiscal year, four digits (2000–2100, at most next year), e.g. 2021.
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
    Import {
        /// CSV file (UTF-8 or GB18030) with a header row.
        file: PathBuf,
    },
}

#[derive(Subcommand, Debug)]
pub enum ProjectsCommand {
    /// Add or update projects from a catalog file.
    Import {
        /// CSV file (UTF-8 or GB18030): code, name, aliases, func_code.
        file: PathBuf,
    },
}

/// Options of every import command.
#[derive(Args, Debug, Clone)]
pub struct CommonImportOptions {
    /// Amount unit when the file does not state it (header suffix or 单位 line); a conflict is an error.
    #[arg(long, value_enum)]
    pub unit: Option<UnitArg>,
    /// Text encoding of CSV files: detected (UTF-8, UTF-8 with BOM, GB18030) or forced.
    #[arg(long, value_enum, default_value = "auto")]
    pub encoding: EncodingArg,
    /// Workbook sheet to read (default: the one with a recognised header).
    #[arg(long)]
    pub sheet: Option<String>,
    /// Check everything, including against the ledger, and report; write nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// `import indicators` options: the common ones plus what only indicator
/// files use (a disbursement file has no document preamble and no deadline).
#[derive(Args, Debug, Clone)]
pub struct IndicatorOptions {
    #[command(flatten)]
    pub common: CommonImportOptions,
    /// Document number of a wide table whose preamble lacks it, e.g. 湘财社指〔2020〕36号.
    #[arg(long)]
    pub doc_no: Option<String>,
    /// Document date of a wide table whose preamble lacks it: YYYY-MM-DD (or 2020/3/15, 20200315, 2020年3月15日).
    #[arg(long)]
    pub doc_date: Option<String>,
    /// Province code narrowing region-name resolution in wide tables, e.g. 43 or 430000.
    #[arg(long)]
    pub province: Option<String>,
    /// Days from the document date by which money must be passed on.
    #[arg(long, default_value_t = 30)]
    pub deadline_days: i64,
}

/// `import disbursements` options: only the common ones.
#[derive(Args, Debug, Clone)]
pub struct DisbursementOptions {
    #[command(flatten)]
    pub common: CommonImportOptions,
}

/// Every import option as the importers use them.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    pub unit: Option<UnitArg>,
    pub encoding: EncodingArg,
    pub sheet: Option<String>,
    pub doc_no: Option<String>,
    pub doc_date: Option<String>,
    pub province: Option<String>,
    pub deadline_days: i64,
    pub dry_run: bool,
}

impl CommonImportOptions {
    pub fn into_options(self) -> ImportOptions {
        ImportOptions {
            unit: self.unit,
            encoding: self.encoding,
            sheet: self.sheet,
            doc_no: None,
            doc_date: None,
            province: None,
            deadline_days: 30,
            dry_run: self.dry_run,
        }
    }
}

impl IndicatorOptions {
    pub fn into_options(self) -> ImportOptions {
        ImportOptions {
            doc_no: self.doc_no,
            doc_date: self.doc_date,
            province: self.province,
            deadline_days: self.deadline_days,
            ..self.common.into_options()
        }
    }
}

impl DisbursementOptions {
    pub fn into_options(self) -> ImportOptions {
        self.common.into_options()
    }
}

#[derive(Subcommand, Debug)]
pub enum ImportCommand {
    /// Indicator documents, long or wide form (auto-detected).
    Indicators {
        /// Table files (CSV, XLSX, XLS, ODS, HTML "xls"), imported together in one transaction.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        #[command(flatten)]
        options: IndicatorOptions,
    },
    /// Disbursement (拨付) files.
    Disbursements {
        /// Table files (CSV, XLSX, XLS, ODS, HTML "xls"), imported together in one transaction.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        #[command(flatten)]
        options: DisbursementOptions,
    },
}

#[derive(Args, Debug)]
pub struct ReconcileArgs {
    /// Report date: YYYY-MM-DD (or 2021/6/30, 20210630, 2021年6月30日).
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
    /// Days from the document date to the due date, overriding the deadline stored with each line.
    #[arg(long)]
    pub deadline_days: Option<i64>,
    /// Exit 3 when any reported row has one of these statuses; a comma-separated list, e.g. overdue,over,unmatched.
    #[arg(long, value_delimiter = ',', value_name = "STATUS,...")]
    pub fail_on: Vec<FailOn>,
    /// Output format (default: table on a terminal, csv otherwise); xlsx and html need --output.
    #[arg(long, value_enum)]
    pub format: Option<ReportFormat>,
    /// Write the report to this file instead of stdout (required for xlsx and html); refused if it exists, unless --force.
    #[arg(long)]
    pub output: Option<PathBuf>,
    /// Replace an existing --output file.
    #[arg(long, requires = "output")]
    pub force: bool,
    /// Language of the xlsx and html reports (default zh); csv and json keep their English columns.
    #[arg(long, value_enum)]
    pub lang: Option<LangArg>,
}

#[derive(Args, Debug)]
pub struct BalanceArgs {
    /// Only accounts of this fiscal year, e.g. 2021.
    #[arg(long)]
    pub fiscal_year: Option<i32>,
    /// Roll accounts up to this many name components.
    #[arg(long)]
    pub depth: Option<usize>,
    /// Output format (default: table on a terminal, csv otherwise).
    #[arg(long, value_enum)]
    pub format: Option<Format>,
}

#[derive(Args, Debug)]
pub struct CloseArgs {
    /// Last month to lock, YYYY-MM (e.g. 2021-06): at most the current month and the last month with data.
    #[arg(long)]
    pub through: String,
}

#[derive(Args, Debug)]
pub struct RolloverArgs {
    /// The fiscal year to close and roll into the next, e.g. 2020; earlier years with data must be rolled first.
    #[arg(long)]
    pub fiscal_year: i32,
    /// Money whose origin year is <= Y - (N - 1) is recovered.
    #[arg(long, default_value_t = 2)]
    pub recover_after: i32,
    /// Show the plan (and any refusal); write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Output format: a text summary or JSON for scripts.
    #[arg(long, value_enum, default_value = "text")]
    pub format: TextFormat,
}

#[derive(Subcommand, Debug)]
pub enum ExportCommand {
    /// One CSV row per posting, with a manifest.
    Trail(TrailArgs),
    /// The whole ledger as an hledger journal.
    Journal {
        /// Write to this file instead of stdout (refused if it exists, unless --force).
        #[arg(long)]
        output: Option<PathBuf>,
        /// Replace an existing --output file.
        #[arg(long, requires = "output")]
        force: bool,
    },
    /// The whole ledger in beancount syntax (browse it with fava).
    Beancount {
        /// Write to this file instead of stdout (refused if it exists, unless --force).
        #[arg(long)]
        output: Option<PathBuf>,
        /// Replace an existing --output file.
        #[arg(long, requires = "output")]
        force: bool,
    },
}

#[derive(Args, Debug)]
pub struct TrailArgs {
    /// Write the CSV to this file (and its manifest to FILE.manifest.json)
    /// instead of stdout; refused if either exists, unless --force.
    #[arg(long)]
    pub output: Option<PathBuf>,
    /// Replace an existing --output file and its manifest.
    #[arg(long, requires = "output")]
    pub force: bool,
    /// Start with a UTF-8 byte-order mark (for Excel).
    #[arg(long)]
    pub bom: bool,
    /// Only transactions of this fiscal year (or naming it in a posting), e.g. 2021.
    #[arg(long)]
    pub fiscal_year: Option<i32>,
    /// First transaction date: YYYY-MM-DD.
    #[arg(long)]
    pub from: Option<String>,
    /// Last transaction date: YYYY-MM-DD.
    #[arg(long)]
    pub to: Option<String>,
    /// Region code: itself and its descendants.
    #[arg(long)]
    pub region: Option<String>,
    /// Project code, name or alias.
    #[arg(long)]
    pub project: Option<String>,
}

#[derive(Args, Debug)]
pub struct VerifyArgs {
    /// Output format: text lines or JSON for scripts.
    #[arg(long, value_enum, default_value = "text")]
    pub format: TextFormat,
    /// Heads recorded earlier (from `verify`, a trail manifest or a journal
    /// export): CHAIN or CHAIN:SEAL. Exit 1 unless the ledger's heads are these.
    #[arg(long, value_name = "CHAIN[:SEAL]")]
    pub expect_head: Option<String>,
}

/// For commands whose output is a summary, not a table: text or JSON.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum TextFormat {
    Text,
    Json,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Table,
    Csv,
    Json,
}

/// `reconcile`'s formats: those of every report plus the two for people.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReportFormat {
    Table,
    Csv,
    Json,
    Xlsx,
    Html,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum LangArg {
    Zh,
    En,
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
    let secrets = fundledger_store::url_password(&cli.db);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(RUNTIME_WORKER_THREADS)
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
            eprintln!("error: {}", error_text(&err, &secrets));
            if is_usage_error(&err) {
                ExitCode::from(2)
            } else {
                ExitCode::from(1)
            }
        }
    }
}

/// A bad option value or a malformed `--db` URL: exit status 2.
fn is_usage_error(err: &anyhow::Error) -> bool {
    err.chain().any(|c| {
        c.is::<cmd::UsageError>()
            || matches!(
                c.downcast_ref::<fundledger_store::StoreError>(),
                Some(fundledger_store::StoreError::BadUrl(_))
            )
    })
}

/// The error and its causes on one line, each said once (a wrapper that
/// already quotes its source is not followed by the source again), with
/// the `--db` password scrubbed and control characters escaped.
fn error_text(err: &anyhow::Error, secrets: &[String]) -> String {
    let mut text = String::new();
    for cause in err.chain() {
        let part = cause.to_string();
        if text.contains(&part) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&part);
    }
    // A safety net behind the store's own masking; a one- or two-letter
    // "password" would garble the message instead.
    for secret in secrets.iter().filter(|s| s.len() >= 3) {
        text = text.replace(secret.as_str(), "***");
    }
    escape::escaped_lines(&text).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    /// Every (sub)command with its path, e.g. "import indicators".
    fn all_commands(cmd: &clap::Command, path: String, out: &mut Vec<(String, clap::Command)>) {
        out.push((path.clone(), cmd.clone()));
        for sub in cmd.get_subcommands() {
            all_commands(sub, format!("{path} {}", sub.get_name()), out);
        }
    }

    fn commands() -> Vec<(String, clap::Command)> {
        let mut out = Vec::new();
        let mut root = Cli::command();
        root.build();
        all_commands(&root, "fundledger".into(), &mut out);
        out
    }

    /// Issue 11 §4: options without a help line (`balance --fiscal-year`,
    /// `trail --from`, …) used to be listed bare.
    #[test]
    fn every_option_and_argument_has_a_help_line() {
        for (path, cmd) in commands() {
            for arg in cmd.get_arguments() {
                let id = arg.get_id().as_str();
                if matches!(id, "help" | "version") {
                    continue;
                }
                assert!(
                    arg.get_help().is_some(),
                    "`{path}`: `{id}` has no help line"
                );
            }
        }
    }

    /// Options taking a date name its format; list options say they take a list.
    #[test]
    fn date_options_name_their_format_and_list_options_say_so() {
        for (path, cmd) in commands() {
            for arg in cmd.get_arguments() {
                let id = arg.get_id().as_str();
                let help = arg.get_help().map(|h| h.to_string()).unwrap_or_default();
                if matches!(id, "as_of" | "doc_date" | "from" | "to") {
                    assert!(help.contains("YYYY-MM-DD"), "`{path} --{id}`: {help}");
                }
                if id == "through" {
                    assert!(help.contains("YYYY-MM"), "`{path} --{id}`: {help}");
                }
                if arg.get_value_delimiter().is_some() {
                    assert!(help.contains("comma-separated"), "`{path} --{id}`: {help}");
                }
            }
        }
    }

    /// `import disbursements` used to list --doc-no, --doc-date, --province
    /// and --deadline-days, which it silently ignored.
    #[test]
    fn import_disbursements_does_not_offer_indicator_options() {
        let cmd = commands()
            .into_iter()
            .find(|(p, _)| p == "fundledger import disbursements")
            .expect("import disbursements")
            .1;
        let ids: Vec<&str> = cmd.get_arguments().map(|a| a.get_id().as_str()).collect();
        for id in ["doc_no", "doc_date", "province", "deadline_days"] {
            assert!(!ids.contains(&id), "import disbursements offers --{id}");
        }
    }

    /// `verify` and `rollover` accepted `--format csv|table` that changed nothing.
    #[test]
    fn verify_and_rollover_offer_only_formats_that_work() {
        for path in ["fundledger verify", "fundledger rollover"] {
            let (_, cmd) = commands().into_iter().find(|(p, _)| p == path).unwrap();
            let format = cmd
                .get_arguments()
                .find(|a| a.get_id() == "format")
                .unwrap();
            let values: Vec<String> = format
                .get_possible_values()
                .iter()
                .map(|v| v.get_name().to_string())
                .collect();
            assert_eq!(values, ["text", "json"], "{path}");
        }
    }

    #[test]
    fn demo_help_says_which_database_it_uses() {
        let (_, cmd) = commands()
            .into_iter()
            .find(|(p, _)| p == "fundledger demo")
            .unwrap();
        let long = cmd
            .get_long_about()
            .map(|h| h.to_string())
            .unwrap_or_default();
        assert!(long.contains("temporary SQLite database"), "{long}");
        assert!(long.contains("FUNDLEDGER_DB"), "{long}");
    }
}
