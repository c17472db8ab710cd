//! regions import, projects import, import indicators, import disbursements.
//!
//! One database transaction per command: every file is read and checked, the
//! rows are written as they stream in, and if anything at all was wrong the
//! transaction is rolled back, so the ledger is exactly as before.

use super::{now, UsageError};
use crate::{ImportCommand, ImportOptions, Outcome, ProjectsCommand, RegionsCommand};
use anyhow::{bail, Context, Result};
use fundledger_core::catalog::ProjectCatalog;
use fundledger_core::divisions::DivisionTable;
use fundledger_core::domain::{IndicatorRow, Voucher};
use fundledger_core::{DocNo, RegionCode, Unit};
use fundledger_formats::{
    open_input, read_disbursements, read_indicators, EncodingChoice, ImportContext, Input,
    ReadOptions,
};
use fundledger_store::catalog::{add_regions, register_new_projects, upsert_projects};
use fundledger_store::{ImportOutcome, IndicatorImport, Store, VoucherImport, WriteTx};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use sha2::{Digest, Sha256};
use std::io::{IsTerminal, Read};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::Arc;

/// Rows handed to the store at a time: bounded memory, few round trips.
const CHUNK_ROWS: usize = 2000;

/// Error messages an import keeps to print; past these it only counts, so a
/// hostile file with millions of bad rows cannot grow memory without bound.
const KEPT_ERRORS: usize = fundledger_core::capped::KEPT_PROBLEMS;

/// Every error of the command, printed to stderr as it is found (the first
/// [`KEPT_ERRORS`]; past those only counted), so a hostile file with millions
/// of bad rows needs no memory for them and the officer sees them at once.
struct Errors {
    printed: usize,
    total: u64,
    /// The file's progress bar while one is drawn: lines go above it.
    bar: Option<indicatif::ProgressBar>,
}

impl Errors {
    fn new() -> Errors {
        Errors {
            printed: 0,
            total: 0,
            bar: None,
        }
    }

    fn push(&mut self, error: String) {
        self.total += 1;
        if self.printed >= KEPT_ERRORS {
            return;
        }
        self.printed += 1;
        let line = crate::escape::escaped(&error).into_owned();
        match &self.bar {
            Some(bar) => bar.suspend(|| eprintln!("{line}")),
            None => eprintln!("{line}"),
        }
    }

    fn extend(&mut self, errors: impl IntoIterator<Item = String>) {
        for e in errors {
            self.push(e);
        }
    }

    /// Errors an earlier collector counted but did not keep.
    fn count_omitted(&mut self, n: u64) {
        self.total += n;
    }

    fn is_empty(&self) -> bool {
        self.total == 0
    }

    fn total(&self) -> u64 {
        self.total
    }

    fn omitted(&self) -> u64 {
        self.total - self.printed as u64
    }
}

pub async fn regions(store: &Store, command: RegionsCommand) -> Result<Outcome> {
    let RegionsCommand::Import { file } = command;
    let (text, sha256) = read_reference_file(&file)?;
    let rows =
        DivisionTable::parse_csv(&text).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
    let mut table = store.division_table().await?;
    // A row the table already holds (the built-in functional zones, or an
    // earlier import) is not written again and not counted as added.
    let new_rows: Vec<_> = rows.iter().filter(|r| !table.holds(r)).cloned().collect();
    table
        .extend(new_rows.clone())
        .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
    let mut w = begin_reference_import(store, "regions import", &file, &sha256).await?;
    let added = add_regions(&mut w, &new_rows).await?;
    if added == 0 {
        w.rollback().await?;
    } else {
        w.commit().await?;
    }
    eprintln!(
        "{}: {} division(s) read, {added} added, {} already present (built in or imported before)",
        crate::escape::path(&file),
        rows.len(),
        rows.len() as u64 - added
    );
    Ok(Outcome::Ok)
}

pub async fn projects(store: &Store, command: ProjectsCommand) -> Result<Outcome> {
    let ProjectsCommand::Import { file } = command;
    let (text, sha256) = read_reference_file(&file)?;
    let projects =
        ProjectCatalog::parse_csv(&text).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
    let mut catalog = store.project_catalog().await?;
    for p in &projects {
        catalog
            .insert(p.clone())
            .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
    }
    let mut w = begin_reference_import(store, "projects import", &file, &sha256).await?;
    upsert_projects(&mut w, &projects).await?;
    w.commit().await?;
    eprintln!(
        "{}: {} project(s) loaded; catalog has {}",
        crate::escape::path(&file),
        projects.len(),
        catalog.len()
    );
    Ok(Outcome::Ok)
}

/// The write transaction of a reference-table import, its batch naming the
/// file and the SHA-256 of the bytes read.
async fn begin_reference_import(
    store: &Store,
    command: &str,
    file: &Path,
    sha256: &str,
) -> Result<WriteTx> {
    let label = file.display().to_string();
    Ok(WriteTx::begin(store, command, Some((&label, sha256)), &now()).await?)
}

/// A reference table in UTF-8 (BOM or not) or GB18030, decoded strictly: a
/// catalog saved from Excel on a Chinese Windows machine is GBK. Read once,
/// from a regular file only; returns the text and the SHA-256 of its bytes.
fn read_reference_file(file: &Path) -> Result<(String, String)> {
    let mut handle = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(file)
        .with_context(|| format!("reading {}", file.display()))?;
    let meta = handle.metadata()?;
    if !meta.is_file() {
        bail!(
            "{}: not a regular file: give a file saved on disk",
            file.display()
        );
    }
    let mut bytes = Vec::new();
    handle
        .read_to_end(&mut bytes)
        .with_context(|| format!("reading {}", file.display()))?;
    let sha256 = hex::encode(Sha256::digest(&bytes));
    let text = fundledger_formats::decode::decode_reference_text(&bytes)
        .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
    Ok((text, sha256))
}

fn read_options(label: &str, o: &ImportOptions) -> Result<ReadOptions> {
    Ok(ReadOptions {
        file_label: label.to_string(),
        unit: o.unit.map(|u| match u {
            crate::UnitArg::Yuan => Unit::Yuan,
            crate::UnitArg::Wan => Unit::Wan,
        }),
        encoding: match o.encoding {
            crate::EncodingArg::Auto => EncodingChoice::Auto,
            crate::EncodingArg::Utf8 => EncodingChoice::Utf8,
            crate::EncodingArg::Gb18030 => EncodingChoice::Gb18030,
        },
        sheet: o.sheet.clone(),
        doc_no: o
            .doc_no
            .as_deref()
            .map(DocNo::parse)
            .transpose()
            .context("--doc-no")?,
        doc_date: o
            .doc_date
            .as_deref()
            .map(|d| super::parse_date_arg("doc-date", d))
            .transpose()?,
        province: o.province.as_deref().map(province_code).transpose()?,
    })
}

/// `43` or `430000` → 430000.
fn province_code(text: &str) -> Result<RegionCode> {
    let t = text.trim();
    let six = if t.len() == 2 {
        format!("{t}0000")
    } else {
        t.to_string()
    };
    match RegionCode::parse(&six) {
        Ok(code) if code.is_province_level() => Ok(code),
        _ => bail!(UsageError(format!(
            "--province {text}: expected a province code such as 43 or 430000"
        ))),
    }
}

fn progress(label: &str) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden());
    }
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg} {human_pos} rows ({per_sec})")
            .expect("template"),
    );
    bar.set_message(label.to_string());
    bar
}

pub async fn import(store: &Store, command: ImportCommand) -> Result<Outcome> {
    let (files, options, indicators) = match command {
        ImportCommand::Indicators { files, options } => (files, options.into_options(), true),
        ImportCommand::Disbursements { files, options } => (files, options.into_options(), false),
    };
    let divisions = Arc::new(store.division_table().await?);
    let catalog = store.project_catalog().await?;
    let what = if indicators {
        "import indicators"
    } else {
        "import disbursements"
    };
    let mut w = WriteTx::begin(store, what, None, &now()).await?;
    let mut errors = Errors::new();
    let (outcome, reports) = if indicators {
        import_indicator_files(&mut w, &files, &options, divisions, catalog, &mut errors).await?
    } else {
        import_voucher_files(&mut w, &files, &options, divisions, catalog, &mut errors).await?
    };
    errors.extend(outcome.rejections.iter().map(|r| r.to_string()));
    errors.count_omitted(outcome.rejections_omitted);
    // The verdict is known only now; the per-file lines wait for it so that
    // none says "added" for a row the ledger will not hold.
    let verdict = if !errors.is_empty() {
        Verdict::Refused
    } else if options.dry_run {
        Verdict::WouldAdd
    } else if outcome.added == 0 {
        Verdict::NothingNew
    } else {
        Verdict::Added
    };
    let kind = if indicators {
        Kind::Indicators
    } else {
        Kind::Vouchers
    };
    for r in &reports {
        for line in file_lines(r, verdict, kind) {
            eprintln!("{}", crate::escape::escaped(&line));
        }
    }
    if verdict == Verdict::Refused {
        w.rollback().await?;
        print_errors(&errors);
        bail!(
            "{} error(s): import refused: nothing was imported, the ledger is unchanged",
            errors.total()
        );
    }
    let summary = total_line(&outcome, verdict, kind);
    if verdict == Verdict::Added {
        w.commit().await?;
    } else {
        // A dry run, or every row already there: keep not even the batch
        // records, so the database is exactly as it was.
        w.rollback().await?;
    }
    eprintln!("{summary}");
    Ok(Outcome::Ok)
}

/// The errors were printed as found; say how many more there were.
fn print_errors(errors: &Errors) {
    if errors.omitted() > 0 {
        eprintln!(
            "... and {} more error(s) not listed (the first {} are shown)",
            errors.omitted(),
            errors.printed
        );
    }
}

/// How an import command ended, which decides every verb it prints.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Verdict {
    /// Committed: rows are in the ledger.
    Added,
    /// Committed nothing because every row was already present.
    NothingNew,
    /// `--dry-run` without errors: nothing written.
    WouldAdd,
    /// Errors: rolled back.
    Refused,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Indicators,
    Vouchers,
}

/// What one file of the command read and contributed.
#[derive(Clone, Debug)]
struct FileReport {
    label: String,
    /// `long` / `wide` for indicator files.
    layout: Option<&'static str>,
    rows_read: u64,
    counts: FileCounts,
    amount: String,
    /// `JS04 住院护理补贴`: projects the file registers (catalog had no such code).
    new_projects: Vec<String>,
}

/// The per-file line, and the new-projects line when there are any.
fn file_lines(r: &FileReport, verdict: Verdict, kind: Kind) -> Vec<String> {
    let layout = r.layout.map(|l| format!("{l} form, ")).unwrap_or_default();
    let (unit, deferred) = match kind {
        Kind::Indicators => ("line(s)", "reduction"),
        Kind::Vouchers => ("voucher(s)", "refund"),
    };
    let head = format!("{}: {layout}{} row(s) read", r.label, r.rows_read);
    if verdict == Verdict::Refused {
        return vec![format!("{head} and checked, amount {}", r.amount)];
    }
    let added = if verdict == Verdict::WouldAdd {
        format!("would add {} {unit}", r.counts.added)
    } else {
        format!("{} {unit} added", r.counts.added)
    };
    let mut lines = vec![format!(
        "{head}, {added}{}, {} skipped as already present, amount {}",
        held(r.counts.deferred, deferred),
        r.counts.skipped,
        r.amount
    )];
    if !r.new_projects.is_empty() {
        let verb = if verdict == Verdict::WouldAdd {
            "would be registered"
        } else {
            "registered"
        };
        lines.push(format!(
            "{}: {} new project(s) {verb}: {}",
            r.label,
            r.new_projects.len(),
            r.new_projects.join(", ")
        ));
    }
    lines
}

/// The command's total. A reduction adds no line, so it is counted apart;
/// a refund is a voucher of its own.
fn total_line(o: &ImportOutcome, verdict: Verdict, kind: Kind) -> String {
    let later = o.applied_after_reading;
    let (main, extra) = match kind {
        Kind::Indicators => {
            let lines = o.added - later;
            let reductions = match (later, verdict) {
                (0, _) => String::new(),
                (n, Verdict::WouldAdd) => format!(", would apply {n} reduction(s)"),
                (n, _) => format!(", {n} reduction(s) applied"),
            };
            (format!("{lines} line(s)"), reductions)
        }
        Kind::Vouchers => {
            let refunds = match later {
                0 => String::new(),
                n => format!(" (of which {n} refund(s), applied after every file was read)"),
            };
            (format!("{} voucher(s)", o.added), refunds)
        }
    };
    let rest = format!(
        "{extra}, {} skipped as already present, amount {}",
        o.skipped, o.amount_added
    );
    match verdict {
        Verdict::WouldAdd => format!("dry run, nothing written: would add {main}{rest}"),
        Verdict::NothingNew => format!("nothing new: total: {main} added{rest}"),
        Verdict::Added | Verdict::Refused => format!("total: {main} added{rest}"),
    }
}

/// What one file contributed to an import.
#[derive(Clone, Copy, Debug, Default)]
struct FileCounts {
    added: u64,
    skipped: u64,
    /// Refunds or reductions read, applied once every file is in.
    deferred: u64,
}

impl std::ops::Sub for FileCounts {
    type Output = FileCounts;
    fn sub(self, before: FileCounts) -> FileCounts {
        FileCounts {
            added: self.added - before.added,
            skipped: self.skipped - before.skipped,
            deferred: self.deferred - before.deferred,
        }
    }
}

/// ", 1 refund(s) held until every file is read" when there are any.
fn held(n: u64, what: &str) -> String {
    if n == 0 {
        String::new()
    } else {
        format!(", {n} {what}(s) held until every file is read")
    }
}

/// A store-side importer that a file's records stream into.
trait Sink<T> {
    async fn push(&mut self, w: &mut WriteTx, chunk: Vec<T>) -> fundledger_store::Result<()>;
    fn note_batch(&mut self, batch_id: i64);
    /// The fiscal year a record writes, and where it was read.
    fn year_and_source(record: &T) -> (i32, &fundledger_core::domain::SourceRef);
    /// (added, skipped, held until every file is read) so far.
    fn counts(&self) -> FileCounts;
}

impl Sink<IndicatorRow> for IndicatorImport {
    async fn push(
        &mut self,
        w: &mut WriteTx,
        chunk: Vec<IndicatorRow>,
    ) -> fundledger_store::Result<()> {
        self.push_chunk(w, chunk).await
    }
    fn note_batch(&mut self, batch_id: i64) {
        IndicatorImport::note_batch(self, batch_id)
    }
    fn year_and_source(record: &IndicatorRow) -> (i32, &fundledger_core::domain::SourceRef) {
        match record {
            IndicatorRow::Line(l) => (l.fiscal_year, &l.source),
            IndicatorRow::Reduction(r) => (r.fiscal_year, &r.source),
        }
    }
    fn counts(&self) -> FileCounts {
        FileCounts {
            added: self.outcome.added,
            skipped: self.outcome.skipped,
            deferred: self.deferred(),
        }
    }
}

impl Sink<Voucher> for VoucherImport {
    async fn push(&mut self, w: &mut WriteTx, chunk: Vec<Voucher>) -> fundledger_store::Result<()> {
        self.push_chunk(w, chunk).await
    }
    fn note_batch(&mut self, batch_id: i64) {
        VoucherImport::note_batch(self, batch_id)
    }
    fn year_and_source(record: &Voucher) -> (i32, &fundledger_core::domain::SourceRef) {
        (record.fiscal_year, &record.source)
    }
    fn counts(&self) -> FileCounts {
        FileCounts {
            added: self.outcome.added,
            skipped: self.outcome.skipped,
            deferred: self.deferred(),
        }
    }
}

/// Starts the file's batch (its name and the SHA-256 of the bytes parsed
/// are the rows' provenance) and builds its reading context.
async fn begin_file<T>(
    w: &mut WriteTx,
    sink: &mut impl Sink<T>,
    command: &str,
    input: &Input,
    options: &ImportOptions,
    divisions: &Arc<DivisionTable>,
    projects: Arc<ProjectCatalog>,
) -> Result<ImportContext> {
    let label = input.label.clone();
    let batch = w.new_batch(command, Some((&label, input.sha256()))).await?;
    sink.note_batch(batch);
    Ok(ImportContext {
        divisions: divisions.clone(),
        projects,
        options: read_options(&label, options)?,
    })
}

/// Opens an input file once; a file that cannot be read as a table is one
/// more error of the command (`None`).
fn open_file(path: &Path, options: &ImportOptions, errors: &mut Errors) -> Result<Option<Input>> {
    let label = path.display().to_string();
    let encoding = read_options(&label, options)?.encoding;
    match open_input(path, &label, encoding) {
        Ok(input) => Ok(Some(input)),
        Err(e) => {
            errors.push(e.to_string());
            Ok(None)
        }
    }
}

/// Streams one file's records into the sink in bounded chunks, collecting
/// every error; returns what this file added, skipped and held back.
async fn stream<T, S: Sink<T>>(
    w: &mut WriteTx,
    sink: &mut S,
    reader: &mut dyn Iterator<Item = Result<T, fundledger_formats::RowError>>,
    label: &str,
    errors: &mut Errors,
) -> Result<FileCounts> {
    let before = sink.counts();
    let bar = progress(label);
    errors.bar = Some(bar.clone());
    let today = super::today();
    let mut chunk: Vec<T> = Vec::with_capacity(CHUNK_ROWS);
    let mut errors_before = errors.total();
    for item in reader {
        bar.inc(1);
        match item {
            Ok(record) => {
                // A fiscal year is written into account names for good: a
                // typo such as 预算年度 2099 is refused like a bad cell.
                let (year, source) = S::year_and_source(&record);
                match fundledger_core::periods::check_fiscal_year(year, today) {
                    Ok(()) => chunk.push(record),
                    Err(e) => errors.push(format!("{source}: fiscal_year: {e}")),
                }
            }
            Err(e) => errors.push(e.to_string()),
        }
        if errors.total() > errors_before {
            // The running count, on a terminal only (the bar is hidden otherwise).
            errors_before = errors.total();
            bar.set_message(format!("{label}: {errors_before} error(s) so far"));
        }
        if chunk.len() >= CHUNK_ROWS {
            sink.push(w, std::mem::take(&mut chunk)).await?;
        }
    }
    errors.bar = None;
    sink.push(w, chunk).await?;
    bar.finish_and_clear();
    Ok(sink.counts() - before)
}

async fn import_indicator_files(
    w: &mut WriteTx,
    files: &[std::path::PathBuf],
    options: &ImportOptions,
    divisions: Arc<DivisionTable>,
    mut catalog: ProjectCatalog,
    errors: &mut Errors,
) -> Result<(ImportOutcome, Vec<FileReport>)> {
    let mut reports = Vec::new();
    let mut imp = IndicatorImport::start(w, options.deadline_days).await?;
    for path in files {
        let label = path.display().to_string();
        let Some(input) = open_file(path, options, errors)? else {
            continue;
        };
        let projects = Arc::new(catalog.clone());
        let ctx = begin_file(
            w,
            &mut imp,
            "import indicators",
            &input,
            options,
            &divisions,
            projects,
        )
        .await?;
        let mut reader = match read_indicators(input, &ctx) {
            Ok(r) => r,
            Err(e) => {
                errors.push(e.to_string());
                continue;
            }
        };
        let counts = stream(w, &mut imp, &mut reader, &label, errors).await?;
        let summary = reader.summary();
        // Projects a file introduces are known to the files after it.
        if !summary.new_projects.is_empty() {
            register_new_projects(w, &summary.new_projects).await?;
            for p in &summary.new_projects {
                if let Err(e) = catalog.insert(p.clone()) {
                    errors.push(format!("{label}: {e}"));
                }
            }
        }
        let layout = match summary.layout {
            fundledger_formats::IndicatorLayout::Long => "long",
            fundledger_formats::IndicatorLayout::Wide => "wide",
        };
        reports.push(FileReport {
            label,
            layout: Some(layout),
            rows_read: summary.rows_read,
            counts,
            amount: summary.amount_total.to_string(),
            new_projects: summary
                .new_projects
                .iter()
                .map(|p| format!("{} {}", p.code, p.name))
                .collect(),
        });
    }
    let label = files
        .first()
        .map(|f| f.display().to_string())
        .unwrap_or_default();
    Ok((imp.finish(w, &label).await?, reports))
}

async fn import_voucher_files(
    w: &mut WriteTx,
    files: &[std::path::PathBuf],
    options: &ImportOptions,
    divisions: Arc<DivisionTable>,
    catalog: ProjectCatalog,
    errors: &mut Errors,
) -> Result<(ImportOutcome, Vec<FileReport>)> {
    let mut reports = Vec::new();
    let mut imp = VoucherImport::start(w).await?;
    let catalog = Arc::new(catalog);
    for path in files {
        let label = path.display().to_string();
        let Some(input) = open_file(path, options, errors)? else {
            continue;
        };
        let ctx = begin_file(
            w,
            &mut imp,
            "import disbursements",
            &input,
            options,
            &divisions,
            catalog.clone(),
        )
        .await?;
        let mut reader = match read_disbursements(input, &ctx) {
            Ok(r) => r,
            Err(e) => {
                errors.push(e.to_string());
                continue;
            }
        };
        let counts = stream(w, &mut imp, &mut reader, &label, errors).await?;
        let summary = reader.summary();
        reports.push(FileReport {
            label,
            layout: None,
            rows_read: summary.rows_read,
            counts,
            amount: summary.amount_total.to_string(),
            new_projects: Vec::new(),
        });
    }
    Ok((imp.finish(w).await?, reports))
}
