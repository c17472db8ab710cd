//! Loading the reconciliation's inputs: every line-year (original lines with
//! their reductions, carried line-years) and the vouchers as one sorted
//! stream, so memory is bounded by lines, not vouchers.

use crate::ledger::parse_date;
use crate::pg_scan::PgScan;
use crate::read::{Cells, TextCells};
use crate::scan::SqliteScan;
use crate::{Backend, Result, Store, StoreError};
use chrono::NaiveDate;
use fundledger_core::reconcile::{LineYear, ReconcileParams, Reconciler, Report, VoucherIn};
use fundledger_core::{DocNo, Fen, LineKey, ProjectCode, RegionCode};
use futures_util::TryStreamExt;
use sqlx::AnyConnection;
use std::collections::{BTreeMap, HashMap, HashSet};

fn corrupt(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("{what}: {e}"))
}

fn refused(e: impl std::fmt::Display) -> StoreError {
    StoreError::Refused(e.to_string())
}

/// Parses the codes and dates of line rows, each distinct text once: a
/// document's lines share its number and date, a project's its code.
#[derive(Default)]
struct LineReader {
    doc_nos: HashMap<String, DocNo>,
    projects: HashMap<String, ProjectCode>,
    dates: HashMap<String, NaiveDate>,
}

impl LineReader {
    fn key(
        &mut self,
        r: &impl TextCells,
        doc: usize,
        region: usize,
        project: usize,
    ) -> Result<LineKey> {
        Ok(LineKey {
            doc_no: cached(&mut self.doc_nos, r.str(doc)?, |t| {
                DocNo::parse(t).map_err(|e| corrupt("stored doc_no", e))
            })?,
            region: RegionCode::parse(r.str(region)?).map_err(|e| corrupt("stored region", e))?,
            project: cached(&mut self.projects, r.str(project)?, |t| {
                ProjectCode::parse(t).map_err(|e| corrupt("stored project", e))
            })?,
        })
    }

    fn date(&mut self, r: &impl TextCells, i: usize) -> Result<NaiveDate> {
        cached(&mut self.dates, r.str(i)?, parse_date)
    }
}

/// `parse(text)` through `cache`; the cache holds at most one entry per
/// line row read, so it is bounded by lines like the rest of the load.
fn cached<T: Clone>(
    cache: &mut HashMap<String, T>,
    text: &str,
    parse: impl FnOnce(&str) -> Result<T>,
) -> Result<T> {
    if let Some(value) = cache.get(text) {
        return Ok(value.clone());
    }
    let value = parse(text)?;
    cache.insert(text.to_string(), value.clone());
    Ok(value)
}

impl Store {
    /// Every line-year in the ledger, keyed by (fiscal year, line).
    pub async fn line_years(&self) -> Result<Vec<LineYear>> {
        let mut conn = self.pool().acquire().await?;
        load_line_years(&mut conn).await
    }

    /// Runs the reconciliation of SPEC §5 over the whole ledger, reading
    /// lines, refunds and vouchers in one snapshot: an import committing
    /// meanwhile is either wholly in the report or wholly out of it.
    pub async fn reconcile(&self, params: ReconcileParams) -> Result<Report> {
        if let (Backend::Sqlite, Some(path)) = (self.backend(), self.sqlite_path()) {
            let path = path.to_string();
            return tokio::task::spawn_blocking(move || reconcile_sqlite(&path, params))
                .await
                .expect("the reconciliation task never panics");
        }
        if let (Backend::Postgres, Some(url)) = (self.backend(), self.postgres_url()) {
            let url = url.to_string();
            return tokio::task::spawn_blocking(move || reconcile_postgres(&url, params))
                .await
                .expect("the reconciliation task never panics");
        }
        let as_of = params.as_of.format("%Y-%m-%d").to_string();
        let mut tx = self.pool().begin().await?;
        if self.backend() == Backend::Postgres {
            // READ COMMITTED (the default) takes a new snapshot per statement.
            sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                .execute(&mut *tx)
                .await?;
        }
        let lines = load_line_years(&mut tx).await?;
        let refunded: Vec<String> = sqlx::query_scalar(REFUNDED).fetch_all(&mut *tx).await?;
        let mut engine =
            Reconciler::new(lines, refunded.into_iter().collect::<HashSet<_>>(), params);
        stream_vouchers(&mut tx, self.backend(), &as_of, &mut engine).await?;
        tx.rollback().await?;
        engine.finish().map_err(refused)
    }
}

/// Vouchers dated <= `as_of` in (paid_on, voucher_no) byte order, as one
/// query streamed row by row. Keyset pages re-scanned and re-sorted the
/// remaining vouchers for every page on PostgreSQL (no index serves the byte
/// order `COLLATE "C"`), quadratic in vouchers; on SQLite, whose default
/// collation is byte order, pages were no faster (sqlx hands rows over one by
/// one either way).
async fn stream_vouchers(
    conn: &mut AnyConnection,
    backend: Backend,
    as_of: &str,
    engine: &mut Reconciler,
) -> Result<()> {
    let sql = voucher_sql(backend);
    let mut rows = sqlx::query(&sql).bind(as_of).fetch(&mut *conn);
    let mut reader = VoucherReader::default();
    let mut voucher = empty_voucher();
    while let Some(row) = rows.try_next().await? {
        reader.read_into(&row, &mut voucher)?;
        engine.push_ref(&voucher).map_err(refused)?;
    }
    Ok(())
}

/// The vouchers dated <= the one parameter, in (paid_on, voucher_no) byte
/// order: SQLite's default collation is byte order, PostgreSQL's need not be.
fn voucher_sql(backend: Backend) -> String {
    match backend {
        Backend::Sqlite => format!(
            "SELECT {VOUCHER_COLUMNS} FROM vouchers WHERE paid_on <= $1 ORDER BY paid_on, voucher_no"
        ),
        Backend::Postgres => format!(
            "SELECT {VOUCHER_COLUMNS} FROM vouchers WHERE paid_on <= $1 \
             ORDER BY paid_on COLLATE \"C\", voucher_no COLLATE \"C\""
        ),
    }
}

const VOUCHER_COLUMNS: &str = "voucher_no, paid_on, fiscal_year, region_code, project_code, doc_no, amount_fen, original_voucher_no";

/// Line-years by (fiscal year, line).
type LineYears = BTreeMap<(i32, LineKey), LineYear>;

const ORIGINAL_LINES: &str = "SELECT doc_no, region_code, project_code, origin_year, doc_date, \
    deadline_days, amount_fen FROM indicator_lines";
const REDUCTIONS: &str = "SELECT r.target_doc_no, r.region_code, r.project_code, r.doc_date, \
    r.amount_fen, l.origin_year FROM reductions r JOIN indicator_lines l \
    ON l.doc_no = r.target_doc_no AND l.region_code = r.region_code \
    AND l.project_code = r.project_code";
const CARRIES: &str = "SELECT doc_no, to_region, project_code, from_year, origin_year, doc_date, \
    deadline_days, carried_on, amount_fen FROM carries";
const REFUNDED: &str =
    "SELECT DISTINCT original_voucher_no FROM vouchers WHERE original_voucher_no IS NOT NULL";

/// Every line-year, read on `conn` (inside the caller's snapshot).
async fn load_line_years(conn: &mut AnyConnection) -> Result<Vec<LineYear>> {
    let mut years: LineYears = BTreeMap::new();
    let mut reader = LineReader::default();
    for r in &sqlx::query(ORIGINAL_LINES).fetch_all(&mut *conn).await? {
        add_original_line(&mut years, &mut reader, r)?;
    }
    for r in &sqlx::query(REDUCTIONS).fetch_all(&mut *conn).await? {
        add_reduction(&mut years, &mut reader, r)?;
    }
    for r in &sqlx::query(CARRIES).fetch_all(&mut *conn).await? {
        add_carry(&mut years, &mut reader, r)?;
    }
    Ok(years.into_values().collect())
}

/// Each indicator line is a line-year of its origin year.
fn add_original_line(years: &mut LineYears, p: &mut LineReader, r: &impl TextCells) -> Result<()> {
    let k = p.key(r, 0, 1, 2)?;
    let origin = r.int(3)? as i32;
    let doc_date = p.date(r, 4)?;
    years.insert(
        (origin, k.clone()),
        LineYear {
            key: k,
            fiscal_year: origin,
            origin_year: origin,
            doc_date,
            deadline_days: r.int(5)?,
            allocation_events: vec![(doc_date, Fen::new(r.int(6)?))],
        },
    );
    Ok(())
}

/// A reduction is an allocation event of the line-year it reduces.
fn add_reduction(years: &mut LineYears, p: &mut LineReader, r: &impl TextCells) -> Result<()> {
    let k = p.key(r, 0, 1, 2)?;
    let origin = r.int(5)? as i32;
    let date = p.date(r, 3)?;
    let line = years
        .get_mut(&(origin, k))
        .ok_or_else(|| StoreError::Corrupt("reduction without its line".into()))?;
    line.allocation_events.push((date, Fen::new(r.int(4)?)));
    Ok(())
}

/// A carry is a line-year of the year after the one it left.
fn add_carry(years: &mut LineYears, p: &mut LineReader, r: &impl TextCells) -> Result<()> {
    let k = p.key(r, 0, 1, 2)?;
    let year = r.int(3)? as i32 + 1;
    years.insert(
        (year, k.clone()),
        LineYear {
            key: k,
            fiscal_year: year,
            origin_year: r.int(4)? as i32,
            doc_date: p.date(r, 5)?,
            deadline_days: r.int(6)?,
            allocation_events: vec![(p.date(r, 7)?, Fen::new(r.int(8)?))],
        },
    );
    Ok(())
}

/// Reads voucher rows ([`VOUCHER_COLUMNS`]) into reused [`VoucherIn`]s: a
/// million rows must not cost a million sets of allocations. Vouchers come
/// in date order, so the date is parsed once per day; a document number is
/// parsed once per distinct text (the cache is bounded).
struct VoucherReader {
    paid_on_text: String,
    paid_on: NaiveDate,
    doc_nos: HashMap<String, DocNo>,
}

/// Distinct document numbers the reader keeps parsed; past this the cache
/// starts over, so memory stays bounded whatever the vouchers name.
const DOC_NO_CACHE_ENTRIES: usize = 1 << 16;

impl Default for VoucherReader {
    fn default() -> VoucherReader {
        VoucherReader {
            paid_on_text: String::new(),
            paid_on: NaiveDate::MIN,
            doc_nos: HashMap::new(),
        }
    }
}

/// A voucher for [`VoucherReader::read_into`] to overwrite.
fn empty_voucher() -> VoucherIn {
    VoucherIn {
        voucher_no: String::new(),
        paid_on: NaiveDate::MIN,
        fiscal_year: 0,
        region: RegionCode::from_u32(100_000),
        project: ProjectCode::parse("_").expect("a valid project code"),
        doc_no: None,
        amount: Fen::ZERO,
        original_voucher_no: None,
    }
}

impl VoucherReader {
    /// Overwrites every field of `v` with row `r`, reusing `v`'s buffers.
    fn read_into(&mut self, r: &(impl TextCells + ?Sized), v: &mut VoucherIn) -> Result<()> {
        v.voucher_no.clear();
        v.voucher_no.push_str(r.str(0)?);
        let paid_on = r.str(1)?;
        if paid_on != self.paid_on_text {
            self.paid_on = parse_date(paid_on)?;
            self.paid_on_text.clear();
            self.paid_on_text.push_str(paid_on);
        }
        v.paid_on = self.paid_on;
        v.fiscal_year = r.int(2)? as i32;
        v.region = RegionCode::parse(r.str(3)?).map_err(|e| corrupt("stored region", e))?;
        let project = r.str(4)?;
        if project != v.project.as_str() {
            v.project = ProjectCode::parse(project).map_err(|e| corrupt("stored project", e))?;
        }
        match r.opt_str(5)? {
            None => v.doc_no = None,
            Some(text) => {
                if let Some(doc_no) = self.doc_nos.get(text) {
                    set_doc_no(&mut v.doc_no, doc_no);
                } else {
                    let doc_no = DocNo::parse(text).map_err(|e| corrupt("stored doc_no", e))?;
                    set_doc_no(&mut v.doc_no, &doc_no);
                    if self.doc_nos.len() >= DOC_NO_CACHE_ENTRIES {
                        self.doc_nos.clear();
                    }
                    self.doc_nos.insert(text.to_string(), doc_no);
                }
            }
        }
        v.amount = Fen::new(r.int(6)?);
        match (r.opt_str(7)?, &mut v.original_voucher_no) {
            (None, original) => *original = None,
            (Some(text), Some(original)) => {
                original.clear();
                original.push_str(text);
            }
            (Some(text), original) => *original = Some(text.to_string()),
        }
        Ok(())
    }
}

/// `slot = Some(doc_no)`, reusing the buffer of the number already there.
fn set_doc_no(slot: &mut Option<DocNo>, doc_no: &DocNo) {
    match slot {
        Some(old) => old.clone_from(doc_no),
        None => *slot = Some(doc_no.clone()),
    }
}

/// The whole reconciliation of a SQLite ledger through rusqlite, in one
/// read transaction (one snapshot, as on the sqlx path): sqlx handed every
/// voucher row across a channel from its worker thread, most of the time
/// reconcile spent beyond the query itself (docs/adr/0005-write-path.md).
pub(crate) fn reconcile_sqlite(path: &str, params: ReconcileParams) -> Result<Report> {
    let as_of = params.as_of.format("%Y-%m-%d").to_string();
    let scan = SqliteScan::open(path)?;
    let mut years: LineYears = BTreeMap::new();
    let mut p = LineReader::default();
    scan.each_row(ORIGINAL_LINES, (), |r| {
        add_original_line(&mut years, &mut p, r)
    })?;
    scan.each_row(REDUCTIONS, (), |r| add_reduction(&mut years, &mut p, r))?;
    scan.each_row(CARRIES, (), |r| add_carry(&mut years, &mut p, r))?;
    let mut refunded = HashSet::new();
    scan.each_row(REFUNDED, (), |r| {
        refunded.insert(r.text(0)?);
        Ok(())
    })?;
    let engine = Reconciler::new(years.into_values().collect(), refunded, params);
    let sql = voucher_sql(Backend::Sqlite);
    let engine = push_vouchers_beside(
        |each| scan.each_row(&sql, [as_of.as_str()], |r| each(r)),
        StreamOrder::Bytes,
        engine,
    )?;
    engine.finish().map_err(refused)
}

/// The whole reconciliation of a PostgreSQL ledger through a typed
/// connection of its own, in one `REPEATABLE READ` snapshot ([`PgScan`]),
/// the vouchers read and matched on two threads as on SQLite: through the
/// pool every cell became an `AnyValue` and the engine waited for each row
/// (docs/adr/0005-write-path.md, decision 12).
pub(crate) fn reconcile_postgres(url: &str, params: ReconcileParams) -> Result<Report> {
    let as_of = params.as_of.format("%Y-%m-%d").to_string();
    let mut scan = PgScan::open(url)?;
    let mut years: LineYears = BTreeMap::new();
    let mut p = LineReader::default();
    scan.each_row(ORIGINAL_LINES, (), |r| {
        add_original_line(&mut years, &mut p, r)
    })?;
    scan.each_row(REDUCTIONS, (), |r| add_reduction(&mut years, &mut p, r))?;
    scan.each_row(CARRIES, (), |r| add_carry(&mut years, &mut p, r))?;
    let mut refunded = HashSet::new();
    scan.each_row(REFUNDED, (), |r| {
        refunded.insert(r.text(0)?);
        Ok(())
    })?;
    let engine = Reconciler::new(years.into_values().collect(), refunded, params);
    let sql = format!(
        "SELECT {VOUCHER_COLUMNS} FROM vouchers WHERE paid_on <= $1 ORDER BY paid_on, voucher_no"
    );
    let engine = push_vouchers_beside(
        |each| scan.each_row(&sql, as_of.as_str(), |r| each(r)),
        StreamOrder::VoucherNoWithinDay,
        engine,
    )?;
    engine.finish().map_err(refused)
}

/// Vouchers per batch handed from the reading thread to the engine's.
const VOUCHER_BATCH: usize = 4096;
/// Batches read ahead of the one the engine works on: memory stays flat
/// (at most `BATCHES_AHEAD + 2` batches exist).
const BATCHES_AHEAD: usize = 2;

/// Consecutive vouchers of the stream; the slots past `len` are spent
/// buffers kept for reuse.
#[derive(Default)]
struct VoucherBatch {
    slots: Vec<VoucherIn>,
    len: usize,
}

impl VoucherBatch {
    fn vouchers(&self) -> &[VoucherIn] {
        &self.slots[..self.len]
    }
}

/// What a voucher stream hands each row to, in order.
type EachRow<'a> = &'a mut dyn FnMut(&dyn TextCells) -> Result<()>;

/// Pushes the vouchers `read_rows` reads (in stream order) through `engine`
/// on two threads: this one reads rows (steps SQLite, or takes them off
/// PostgreSQL's wire) and parses them into batches, a second
/// one runs the engine on the batch before. The two halves cost about the
/// same, and sequentially they were 1.5x the hand-written query
/// (docs/adr/0005-write-path.md). The order of the stream, and so the report,
/// is unchanged: one reader, one engine, batches in a FIFO.
///
/// Errors are the ones the sequential loop gave: the engine refuses a
/// voucher only once every row before it was read, so its refusal comes
/// first; otherwise the reader's error; otherwise the engine, ready to finish.
fn push_vouchers_beside(
    read_rows: impl FnOnce(EachRow<'_>) -> Result<()>,
    order: StreamOrder,
    engine: Reconciler,
) -> Result<Reconciler> {
    let (full, batches) = std::sync::mpsc::sync_channel(BATCHES_AHEAD);
    let (spent_tx, spent) = std::sync::mpsc::channel();
    std::thread::scope(|s| {
        let pushing = s.spawn(move || push_batches(engine, batches, spent_tx));
        let read = read_batches(read_rows, order, full, spent);
        // `full` is dropped: the engine thread ends with the last batch.
        let engine = pushing
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))?;
        read?;
        Ok(engine)
    })
}

/// The engine's half: every voucher of every batch, in order; each batch
/// goes back to the reader for reuse.
fn push_batches(
    mut engine: Reconciler,
    batches: std::sync::mpsc::Receiver<VoucherBatch>,
    spent: std::sync::mpsc::Sender<VoucherBatch>,
) -> Result<Reconciler> {
    for batch in batches {
        for voucher in batch.vouchers() {
            engine.push_ref(voucher).map_err(refused)?;
        }
        // The reader may be done already: the batch is dropped then.
        let _ = spent.send(batch);
    }
    Ok(engine)
}

/// The order a voucher stream comes in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum StreamOrder {
    /// (paid_on, voucher_no) in byte order already (SQLite's collation).
    Bytes,
    /// By paid_on, then voucher_no in the database's collation, which need
    /// not be byte order: each day's vouchers are put in byte order here.
    /// PostgreSQL's index on (paid_on, voucher_no) serves this order, where
    /// `COLLATE "C"` made the server sort every voucher (1.3-3 s of a 1M
    /// reconcile, spilling to disk). A canonical `YYYY-MM-DD` date (all an
    /// import stores) sorts the same in every collation; a forged one out
    /// of order is the engine's "out of order" refusal, as before. Since
    /// migration 0011 both columns are `COLLATE "C"`, so the index gives
    /// byte order itself; the per-day ordering stays as the guard of a
    /// column whose collation was changed by hand.
    VoucherNoWithinDay,
}

/// The reader's half: rows into batches, each sent when full (the last when
/// the rows end). Stops early, with `Ok`, if the engine has hung up: its
/// refusal (or panic) is what the caller reports.
fn read_batches(
    read_rows: impl FnOnce(EachRow<'_>) -> Result<()>,
    order: StreamOrder,
    full: std::sync::mpsc::SyncSender<VoucherBatch>,
    spent: std::sync::mpsc::Receiver<VoucherBatch>,
) -> Result<()> {
    let mut reader = VoucherReader::default();
    let mut out = BatchSender {
        batch: VoucherBatch::default(),
        full,
        spent,
        engine_gone: false,
    };
    // The day being read, held back until it ends (VoucherNoWithinDay).
    let mut day = VoucherBatch::default();
    let read = read_rows(&mut |r| match order {
        StreamOrder::Bytes => {
            reader.read_into(r, out.batch.next_slot())?;
            out.added()
        }
        StreamOrder::VoucherNoWithinDay => {
            let at = day.len;
            reader.read_into(r, day.next_slot())?;
            if at > 0 && day.slots[at].paid_on != day.slots[0].paid_on {
                out.send_day(&mut day)?;
                // The row just read starts the next day.
                day.slots.swap(0, at);
            }
            day.len += 1;
            Ok(())
        }
    });
    // The day read so far goes to the engine on an error too: its refusal
    // of a voucher read before the bad row is the error to report.
    let sent = out.send_day(&mut day);
    let read = read.and(sent);
    if out.engine_gone {
        return Ok(());
    }
    if out.batch.len > 0 {
        // Sent after a bad row too: the engine's refusal of a voucher read
        // before it is the error to report, as in the sequential loop. A
        // hang-up here is the engine's error, reported by the caller.
        let _ = out.full.send(out.batch);
    }
    read
}

impl VoucherBatch {
    /// The slot past the last voucher (a spent buffer, or a new one).
    fn next_slot(&mut self) -> &mut VoucherIn {
        if self.len == self.slots.len() {
            self.slots.push(empty_voucher());
        }
        &mut self.slots[self.len]
    }
}

/// The batch being filled and the channels to the engine.
struct BatchSender {
    batch: VoucherBatch,
    full: std::sync::mpsc::SyncSender<VoucherBatch>,
    spent: std::sync::mpsc::Receiver<VoucherBatch>,
    engine_gone: bool,
}

impl BatchSender {
    /// Counts the voucher just read into [`VoucherBatch::next_slot`]; sends
    /// the batch when it is full. An `Err` once the engine has hung up.
    fn added(&mut self) -> Result<()> {
        self.batch.len += 1;
        if self.batch.len < VOUCHER_BATCH {
            return Ok(());
        }
        let mut next = self.spent.try_recv().unwrap_or_default();
        next.len = 0;
        if self
            .full
            .send(std::mem::replace(&mut self.batch, next))
            .is_err()
        {
            self.engine_gone = true;
            return Err(StoreError::Refused("the engine stopped".into()));
        }
        Ok(())
    }

    /// The first `day.len` vouchers of `day` (one day's) in voucher_no byte
    /// order, moved into batches (buffers swapped, not copied); `day` is
    /// left empty.
    fn send_day(&mut self, day: &mut VoucherBatch) -> Result<()> {
        let vouchers = &mut day.slots[..day.len];
        if !vouchers.is_sorted_by(|a, b| a.voucher_no <= b.voucher_no) {
            vouchers.sort_unstable_by(|a, b| a.voucher_no.cmp(&b.voucher_no));
        }
        for v in vouchers {
            std::mem::swap(self.batch.next_slot(), v);
            self.added()?;
        }
        day.len = 0;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fundledger_core::reconcile::LineYear;

    const AS_OF: &str = "2020-12-31";

    /// One voucher row as stored: (voucher_no, paid_on, region, doc_no, amount_fen, original).
    type Row = (
        String,
        String,
        &'static str,
        Option<&'static str>,
        i64,
        Option<String>,
    );

    /// `n` payments on the one line of [`engine`], most of them naming its
    /// document, some naming none, a few to another region (unmatched).
    fn payments(n: usize) -> Vec<Row> {
        (0..n)
            .map(|i| {
                let region = if i % 97 == 5 { "440105" } else { "440103" };
                let doc_no = if i % 3 == 0 {
                    None
                } else {
                    Some("粤财社〔2020〕7号")
                };
                let paid_on = format!("2020-{:02}-{:02}", 1 + i % 12, 1 + i % 28);
                (
                    format!("V{i:07}"),
                    paid_on,
                    region,
                    doc_no,
                    100 + i as i64,
                    None,
                )
            })
            .collect()
    }

    /// A ledger file holding just the `vouchers` table the stream reads.
    fn scan_of(rows: &[Row]) -> (tempfile::TempDir, SqliteScan) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vouchers.db");
        let mut conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(
            "CREATE TABLE vouchers (voucher_no TEXT PRIMARY KEY, paid_on TEXT, \
             fiscal_year INTEGER, region_code TEXT, project_code TEXT, doc_no TEXT, \
             amount_fen INTEGER, original_voucher_no TEXT)",
        )
        .unwrap();
        let tx = conn.transaction().unwrap();
        for (no, paid_on, region, doc_no, amount, original) in rows {
            tx.execute(
                "INSERT INTO vouchers VALUES (?1, ?2, 2020, ?3, 'JS01', ?4, ?5, ?6)",
                rusqlite::params![no, paid_on, region, doc_no, amount, original],
            )
            .unwrap();
        }
        tx.commit().unwrap();
        let scan = SqliteScan::open(path.to_str().unwrap()).unwrap();
        (dir, scan)
    }

    /// An engine with one line, more than every payment together, and the
    /// voucher numbers refunds name.
    fn engine(refunded: &[&str]) -> Reconciler {
        let date = |t| NaiveDate::parse_from_str(t, "%Y-%m-%d").unwrap();
        let line = LineYear {
            key: LineKey {
                doc_no: DocNo::parse("粤财社〔2020〕7号").unwrap(),
                region: RegionCode::parse("440103").unwrap(),
                project: ProjectCode::parse("JS01").unwrap(),
            },
            fiscal_year: 2020,
            origin_year: 2020,
            doc_date: date("2020-01-01"),
            deadline_days: 90,
            allocation_events: vec![(date("2020-01-01"), Fen::new(1_000_000_000_000))],
        };
        let params = ReconcileParams {
            as_of: date(AS_OF),
            deadline_days_override: None,
        };
        let refunded = refunded.iter().map(|s| s.to_string()).collect();
        Reconciler::new(vec![line], refunded, params)
    }

    fn voucher_sql() -> String {
        super::voucher_sql(Backend::Sqlite)
    }

    /// The loop the two threads replace: one row read, one row pushed.
    fn push_in_turn(scan: &SqliteScan, mut engine: Reconciler) -> Result<Reconciler> {
        let mut reader = VoucherReader::default();
        let mut voucher = empty_voucher();
        scan.each_row(&voucher_sql(), [AS_OF], |r| {
            reader.read_into(r, &mut voucher)?;
            engine.push_ref(&voucher).map_err(refused)
        })?;
        Ok(engine)
    }

    /// The outcome of a whole run: the report, or the error's text.
    fn outcome(pushed: Result<Reconciler>) -> std::result::Result<Report, String> {
        pushed
            .map_err(|e| e.to_string())
            .and_then(|engine| engine.finish().map_err(|e| e.to_string()))
    }

    /// Both ways over `rows` give `expected` (a report is compared between
    /// them; an error by its text).
    fn check(rows: &[Row], refunded: &[&str], expected: std::result::Result<(), &str>) {
        let (_dir, scan) = scan_of(rows);
        let beside = outcome(push_vouchers_beside(
            |each| scan.each_row(&voucher_sql(), [AS_OF], |r| each(r)),
            StreamOrder::Bytes,
            engine(refunded),
        ));
        let in_turn = outcome(push_in_turn(&scan, engine(refunded)));
        assert_eq!(beside, in_turn, "{} rows", rows.len());
        match (expected, &beside) {
            (Ok(()), Ok(report)) => {
                let unmatched = rows.iter().filter(|r| r.2 == "440105").count();
                assert_eq!(report.unmatched.len(), unmatched, "{} rows", rows.len());
            }
            (Err(wanted), Err(got)) => assert!(got.contains(wanted), "{got}"),
            (expected, got) => panic!("expected {expected:?}, got {got:?}"),
        }
    }

    #[test]
    fn vouchers_pushed_beside_the_reader_give_the_report_read_in_turn() {
        for n in [
            0,
            1,
            VOUCHER_BATCH - 1,
            VOUCHER_BATCH,
            VOUCHER_BATCH + 1,
            (BATCHES_AHEAD + 3) * VOUCHER_BATCH + 7,
        ] {
            check(&payments(n), &[], Ok(()));
        }
    }

    #[test]
    fn refunds_pushed_beside_the_reader_find_their_originals_batches_before() {
        let mut rows = payments(3 * VOUCHER_BATCH);
        rows.push((
            "W0000001".into(),
            "2020-12-30".into(),
            "440103",
            Some("粤财社〔2020〕7号"),
            -101,
            Some("V0000001".into()),
        ));
        check(&rows, &["V0000001"], Ok(()));
    }

    /// A corrupt row mid-stream, read while the engine works on the batches
    /// before it.
    #[test]
    fn a_corrupt_row_mid_stream_is_the_error() {
        let mut rows = payments(3 * VOUCHER_BATCH);
        rows[2 * VOUCHER_BATCH + 10].2 = "44X103";
        check(&rows, &[], Err("stored region"));
    }

    /// The engine refuses a row mid-stream; a corrupt row at the end, which
    /// the reader may already have reached, is not the error.
    #[test]
    fn the_engines_refusal_comes_before_a_corrupt_row_after_it() {
        check(
            &refusal_then_corrupt_row(payments(4 * VOUCHER_BATCH)),
            &[],
            Err("names no original voucher"),
        );
    }

    /// `rows` then a refund naming no original (which the engine refuses)
    /// on 2020-06-30, then a row with a corrupt region on 2020-12-30.
    fn refusal_then_corrupt_row(mut rows: Vec<Row>) -> Vec<Row> {
        rows.push((
            "W0000001".into(),
            "2020-06-30".into(),
            "440103",
            None,
            -5,
            None,
        ));
        rows.push((
            "W0000002".into(),
            "2020-12-30".into(),
            "4401X3",
            None,
            5,
            None,
        ));
        rows
    }

    /// Regression: with the refused voucher and the corrupt row after it in
    /// the same batch, the batch was dropped at the corrupt row and the
    /// corrupt row was the error, not the engine's refusal read before it.
    #[test]
    fn the_engines_refusal_comes_before_a_corrupt_row_in_the_same_batch() {
        check(
            &refusal_then_corrupt_row(payments(10)),
            &[],
            Err("names no original voucher"),
        );
    }

    /// The same two rows the other way round: the corrupt row comes first.
    #[test]
    fn a_corrupt_row_comes_before_the_engines_refusal_after_it() {
        let mut rows = payments(4 * VOUCHER_BATCH);
        rows.push((
            "W0000001".into(),
            "2020-06-30".into(),
            "4401X3",
            None,
            5,
            None,
        ));
        rows.push((
            "W0000002".into(),
            "2020-12-30".into(),
            "440103",
            None,
            -5,
            None,
        ));
        check(&rows, &[], Err("stored region"));
    }

    /// Each day's vouchers in reverse voucher_no order: what a PostgreSQL
    /// collation other than byte order can give for (paid_on, voucher_no).
    fn days_reversed(scan: &SqliteScan, order: StreamOrder) -> std::result::Result<Report, String> {
        let sql = format!(
            "SELECT {VOUCHER_COLUMNS} FROM vouchers WHERE paid_on <= $1 \
             ORDER BY paid_on, voucher_no DESC"
        );
        outcome(push_vouchers_beside(
            |each| scan.each_row(&sql, [AS_OF], |r| each(r)),
            order,
            engine(&[]),
        ))
    }

    /// `n` payments all made on one day.
    fn one_day(n: usize) -> Vec<Row> {
        let mut rows = payments(n);
        for row in &mut rows {
            row.1 = "2020-03-02".into();
        }
        rows
    }

    #[test]
    fn each_days_vouchers_are_put_in_byte_order() {
        for rows in [
            payments(0),
            payments(1),
            payments(3 * VOUCHER_BATCH + 5),
            one_day(2),
            // A day longer than a batch.
            one_day(VOUCHER_BATCH + 3),
        ] {
            let (_dir, scan) = scan_of(&rows);
            let in_turn = outcome(push_in_turn(&scan, engine(&[])));
            assert!(in_turn.is_ok(), "{} rows", rows.len());
            let within = days_reversed(&scan, StreamOrder::VoucherNoWithinDay);
            assert_eq!(within, in_turn, "{} rows", rows.len());
        }
        // Taken as they come, the same rows are out of order.
        let (_dir, scan) = scan_of(&one_day(2));
        let as_read = days_reversed(&scan, StreamOrder::Bytes);
        assert!(as_read
            .unwrap_err()
            .contains("out of (paid_on, voucher_no) order"));
    }

    /// A corrupt row in the middle of a day held back for reordering: the
    /// error, and the vouchers before it still reach the engine (its
    /// refusal of one of them would come first).
    #[test]
    fn a_corrupt_row_within_a_held_day_is_the_error() {
        let mut rows = payments(3 * VOUCHER_BATCH);
        rows[2 * VOUCHER_BATCH + 10].2 = "44X103";
        let (_dir, scan) = scan_of(&rows);
        let got = days_reversed(&scan, StreamOrder::VoucherNoWithinDay);
        assert!(got.unwrap_err().contains("stored region"));
        let mut rows = one_day(20);
        rows[5].2 = "44X103";
        // Read in reverse, V0000019..V0000006 come first: V0000010 is a
        // refund naming no original, which the engine refuses.
        rows[10].4 = -5;
        let (_dir, scan) = scan_of(&rows);
        let got = days_reversed(&scan, StreamOrder::VoucherNoWithinDay);
        let got = got.unwrap_err();
        assert!(got.contains("names no original voucher"), "{got}");
    }

    #[test]
    fn a_doc_no_cloned_into_a_used_one_equals_its_source() {
        let mut slot = Some(DocNo::parse("湘财社〔2019〕136号").unwrap());
        let source = DocNo::parse("粤财社〔2020〕7号").unwrap();
        set_doc_no(&mut slot, &source);
        assert_eq!(slot.as_ref(), Some(&source));
        let mut empty = None;
        set_doc_no(&mut empty, &source);
        assert_eq!(empty, Some(source));
    }
}
