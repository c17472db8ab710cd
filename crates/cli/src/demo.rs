//! `fundledger demo`: the shipped Hunan 2020 example (51.66M yuan), from any
//! directory. The fixtures are built into the binary; they are written to a
//! temporary directory and imported exactly as an officer would import them.

use crate::cmd::UsageError;
use crate::cmd::{imports, ledger, report};
use crate::{
    BudgetCommand, CommonImportOptions, DemoArgs, DisbursementOptions, EncodingArg, Format,
    ImportCommand, IndicatorOptions, Outcome, ProjectsCommand, ReconcileArgs, ReportFormat,
};
use anyhow::{bail, Context, Result};
use fundledger_store::{OpenMode, Store};
use std::path::PathBuf;

macro_rules! fixture {
    ($name:literal) => {
        (
            $name,
            include_bytes!(concat!("../../../fixtures/hunan-2020/", $name)).as_slice(),
        )
    };
}

/// Every file the demo imports, by the name it is imported under.
const FILES: &[(&str, &[u8])] = &[
    fixture!("36_wide_wan.xlsx"),
    fixture!("36_wide_wan_gb18030.csv"),
    fixture!("37_long.csv"),
    fixture!("disb_2020_01.csv"),
    fixture!("disb_2020_02.csv"),
    fixture!("disb_2020_03.csv"),
    fixture!("disb_2020_04.csv"),
    fixture!("disb_2020_05.csv"),
    fixture!("disb_2020_06.csv"),
    fixture!("disb_2020_07.csv"),
    fixture!("disb_2020_08.csv"),
    fixture!("disb_2020_09.csv"),
    fixture!("disb_2020_10.csv"),
    fixture!("disb_2020_11.csv"),
    fixture!("disb_2020_12.csv"),
    (
        "projects.csv",
        include_bytes!("../../../fixtures/reference/projects.csv").as_slice(),
    ),
];

fn common() -> CommonImportOptions {
    CommonImportOptions {
        unit: None,
        encoding: EncodingArg::Auto,
        sheet: None,
        dry_run: false,
    }
}

fn options() -> IndicatorOptions {
    IndicatorOptions {
        common: common(),
        doc_no: None,
        doc_date: None,
        province: None,
        deadline_days: 30,
    }
}

/// A relative SQLite path would move with the working directory.
fn absolute_db(db: &str) -> Result<String> {
    let Some(path) = db
        .strip_prefix("sqlite:")
        .map(|p| p.trim_start_matches("//"))
    else {
        return Ok(db.to_string());
    };
    let abs = std::env::current_dir()?.join(path);
    Ok(format!("sqlite:{}", abs.display()))
}

/// `--output-dir` as an absolute path (the demo works in a temporary
/// directory), checked before anything is done.
fn output_dir(args: &DemoArgs) -> Result<Option<PathBuf>> {
    let Some(dir) = &args.output_dir else {
        return Ok(None);
    };
    if !dir.is_dir() {
        bail!(UsageError(format!(
            "--output-dir {}: not an existing directory",
            dir.display()
        )));
    }
    Ok(Some(std::env::current_dir()?.join(dir)))
}

/// The year-end reconciliation in one format, as `reconcile` makes it.
async fn demo_report(
    store: &Store,
    db: &str,
    format: ReportFormat,
    output: Option<PathBuf>,
    args: &DemoArgs,
) -> Result<Outcome> {
    report::reconcile(
        store,
        db,
        ReconcileArgs {
            as_of: AS_OF.into(),
            fiscal_year: None,
            region: None,
            project: None,
            deadline_days: None,
            fail_on: Vec::new(),
            format: Some(format),
            force: args.force,
            output,
            lang: args.lang,
        },
    )
    .await
}

const AS_OF: &str = "2020-12-31";

pub async fn run(db: &str, db_named: bool, args: DemoArgs) -> Result<Outcome> {
    let out_dir = output_dir(&args)?;
    let work = tempfile::tempdir().context("creating a temporary directory")?;
    let db = if db_named {
        absolute_db(db)?
    } else {
        format!("sqlite:{}", work.path().join("demo.db").display())
    };
    for (name, bytes) in FILES {
        std::fs::write(work.path().join(name), bytes).with_context(|| format!("writing {name}"))?;
    }
    // Import by bare file names, as an officer in that folder would.
    std::env::set_current_dir(work.path())?;
    let store = open_empty(&db).await?;
    eprintln!(
        "== fundledger demo: Hunan 2020, 51,660,000.00 yuan of project funds ({})",
        fundledger_store::display_url(&db)
    );
    load_hunan(&store).await?;
    eprintln!("== reconcile as of 2020-12-31\n");
    let format = match args.format {
        Format::Table => ReportFormat::Table,
        Format::Csv => ReportFormat::Csv,
        Format::Json => ReportFormat::Json,
    };
    demo_report(&store, &db, format, None, &args).await?;
    if let Some(dir) = &out_dir {
        for (format, ext) in [(ReportFormat::Xlsx, "xlsx"), (ReportFormat::Html, "html")] {
            let file = dir.join(format!("reconcile_{AS_OF}.{ext}"));
            demo_report(&store, &db, format, Some(file), &args).await?;
        }
    }
    let check = store.verify().await?;
    if !check.ok() {
        bail!("verify failed after the demo: {}", check.failures[0]);
    }
    eprintln!(
        "\n== verify: ok, {} entries, chain head {}",
        check.entries, check.head_hash
    );
    if !db_named {
        eprintln!("== (temporary database; run with --db sqlite:demo.db to keep it)");
    }
    store.close().await;
    Ok(Outcome::Ok)
}

/// Opens (creating) the demo database, which must hold no entries yet.
async fn open_empty(db: &str) -> Result<Store> {
    let store = Store::open(db, OpenMode::Create).await?;
    store.migrate().await?;
    if store.max_entry_no().await? > 0 {
        bail!(
            "demo needs an empty database; {} already has entries",
            fundledger_store::display_url(db)
        );
    }
    Ok(store)
}

/// The Hunan 2020 year through the officer's commands, from the embedded
/// files in the current directory: budget, catalog, both indicator
/// documents (and the duplicate GB18030 copy), twelve months of vouchers.
async fn load_hunan(store: &Store) -> Result<()> {
    let files = |names: &[&str]| names.iter().map(PathBuf::from).collect::<Vec<_>>();
    ledger::budget(
        store,
        BudgetCommand::Set {
            fiscal_year: 2020,
            amount_yuan: "51,660,000.00".into(),
        },
    )
    .await?;
    imports::projects(
        store,
        ProjectsCommand::Import {
            file: "projects.csv".into(),
        },
    )
    .await?;
    eprintln!("== 湘财社指〔2020〕36号 (wide table, XLSX, 万元) and 37号 (long form, 元)");
    imports::import(
        store,
        ImportCommand::Indicators {
            files: files(&["36_wide_wan.xlsx", "37_long.csv"]),
            options: options(),
        },
    )
    .await?;
    eprintln!("== the same 36号 table as a GB18030 CSV: identical lines are skipped");
    imports::import(
        store,
        ImportCommand::Indicators {
            files: files(&["36_wide_wan_gb18030.csv"]),
            options: options(),
        },
    )
    .await?;
    eprintln!("== twelve monthly disbursement files");
    let months: Vec<String> = (1..=12).map(|m| format!("disb_2020_{m:02}.csv")).collect();
    imports::import(
        store,
        ImportCommand::Disbursements {
            files: months.iter().map(PathBuf::from).collect(),
            options: DisbursementOptions { common: common() },
        },
    )
    .await?;
    Ok(())
}
