//! One write transaction per command: the writer lock, the batch record, the
//! hash chain and buffered multi-row inserts, written in the background while
//! the command builds the next rows (ADR 0005, decision 13).

use crate::lite::{LiteWriter, Tables};
use crate::packed::{CellValue, Packed};
use crate::pg_write::PgWriter;
use crate::read::Cells;
use crate::seal::JournalHead;
use crate::sql::{Sql, SqlRow};
use crate::{Backend, Result, Store, StoreError};
use fundledger_core::tx::{
    chain_hash_hex, push_iso_date, write_canonical, ChainPosition, GENESIS_HASH,
};
use fundledger_core::{Account, Fen, Transaction};
use sqlx::any::AnyArguments;
use sqlx::pool::PoolConnection;
use sqlx::query::Query;
use sqlx::{Any, AnyConnection, Executor};
use std::collections::BTreeMap;
use tokio::task::JoinHandle;

/// PostgreSQL advisory lock key for "one ledger writer at a time".
const PG_WRITER_LOCK: i64 = 0x66_756e_646c; // "fundl"

/// SQLite page cache of a writing command, in KiB (`PRAGMA cache_size`
/// takes a negative number for KiB): 32 MB, see [`WriteTx::begin`].
const SQLITE_WRITE_CACHE_KIB: u32 = 32_768;

/// Most rows a buffer holds before it is written in one multi-row INSERT.
pub(crate) const FLUSH_ROWS: usize = 500;

/// Rows a buffer holds before a PostgreSQL write transaction sends it
/// with `COPY` (ADR 0005, decision 25): each `COPY` costs the server two
/// waits for the client and a run of the statement's reference checks,
/// whatever its size; a larger one kept the server idle longer while the
/// command built a chunk's first rows (now sent early, at
/// [`PG_IDLE_FLUSH_ROWS`]).
const PG_COPY_ROWS: usize = 2000;

/// Rows a buffer holds before a PostgreSQL write transaction sends it
/// when nothing is being written (ADR 0005, decision 27): the server
/// starts on a chunk's rows after about 125 vouchers instead of 1,000.
const PG_IDLE_FLUSH_ROWS: usize = 250;

/// Whether buffers whose largest holds `most_rows` rows are written now:
/// when full, or (where `idle_flush_rows` is set) when they hold that many
/// and the writer has nothing to do. On PostgreSQL the server writes and
/// the command builds rows in turn at each chunk's start: the chunk's
/// presence lookup waits for every earlier write, and the server then
/// waited for the first full buffer of the chunk, about 1,000 vouchers
/// (ADR 0005, decision 27).
fn flush_due(
    most_rows: usize,
    flush_rows: usize,
    idle_flush_rows: Option<usize>,
    writer_idle: impl FnOnce() -> bool,
) -> bool {
    most_rows >= flush_rows
        || idle_flush_rows.is_some_and(|rows| most_rows >= rows && writer_idle())
}

/// Rows a command adds to a table before it analyses it, besides a tenth
/// of the rows the table held: autovacuum's own defaults
/// (`autovacuum_analyze_threshold`, `autovacuum_analyze_scale_factor`).
const ANALYZE_BASE_ROWS: u64 = 50;

/// Whether `rows_added` to a table of about `rows_before` rows (the
/// server's estimate; 0 when it has none) is what autovacuum would analyse
/// the table for.
fn needs_analyze(rows_added: u64, rows_before: i64) -> bool {
    let tenth = u64::try_from(rows_before).unwrap_or(0) / 10;
    rows_added > ANALYZE_BASE_ROWS.saturating_add(tenth)
}

/// A value bound into a buffered insert.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Val {
    Int(i64),
    Text(String),
    OptInt(Option<i64>),
    OptText(Option<String>),
}

impl Val {
    /// The value as bound: one binding per writer serves both a `Val` and
    /// a packed cell.
    pub(crate) fn cell(&self) -> CellValue<'_> {
        match self {
            Val::Int(i) | Val::OptInt(Some(i)) => CellValue::Int(*i),
            Val::OptInt(None) => CellValue::NullInt,
            Val::Text(t) | Val::OptText(Some(t)) => CellValue::Text(t),
            Val::OptText(None) => CellValue::NullText,
        }
    }
}

/// Tables are flushed in this order so foreign keys always point backwards.
const FLUSH_ORDER: &[&str] = &[
    "journal",
    "postings",
    "indicator_lines",
    "reductions",
    "vouchers",
    "carries",
    "recoveries",
];

pub struct WriteTx {
    link: Link,
    backend: Backend,
    batch_id: i64,
    recorded_at: String,
    next_entry_no: i64,
    head_hash: String,
    buffers: BTreeMap<&'static str, Packed>,
    /// The canonical bytes of the entry being appended, and its date:
    /// one buffer reused for every entry.
    scratch: Vec<u8>,
    balance_deltas: BTreeMap<String, Fen>,
    /// Batches this command finished, each with the journal head after it;
    /// sealed in this order at commit (the current batch is added then).
    batches: Vec<(i64, JournalHead)>,
    appended: u64,
    /// Rows handed to the writer per buffered table, for
    /// [`WriteTx::analyze_grown_tables`].
    rows_added: BTreeMap<&'static str, u64>,
    /// Rows a buffer holds before it is written.
    flush_rows: usize,
    /// Rows a buffer holds before it is written when the writer has
    /// nothing to do (PostgreSQL only; ADR 0005, decision 27).
    idle_flush_rows: Option<usize>,
    finished: bool,
}

/// The connection a write transaction runs on.
enum Link {
    /// A SQLite ledger file: rusqlite on a writer thread of its own
    /// (lite.rs, ADR 0005 decision 14). `None` once finished.
    Lite(Option<LiteWriter>),
    /// PostgreSQL, or a SQLite store on one pooled connection (the tamper
    /// tests): a connection written to by a task of its own.
    Pool {
        /// `None` while a background write has it (`in_flight`).
        conn: Option<Conn>,
        /// The buffered rows being written on a task of its own while the
        /// command builds the next rows (decision 13). Every read and the
        /// commit wait for it first ([`WriteTx::settled`]), so they see
        /// every row appended.
        in_flight: Option<JoinHandle<(Lent, Result<()>)>>,
    },
}

impl WriteTx {
    /// Takes the writer lock, reads the chain head and records a batch.
    /// `recorded_at` comes from the caller (the CLI owns the clock).
    pub async fn begin(
        store: &Store,
        command: &str,
        file: Option<(&str, &str)>,
        recorded_at: &str,
    ) -> Result<WriteTx> {
        store.ensure_initialised().await?;
        // The typed PostgreSQL writer sends each buffer with `COPY`, which
        // takes larger ones; the others write multi-row INSERTs.
        let (link, flush_rows, idle_flush_rows) =
            match (store.backend(), store.sqlite_path(), store.postgres_url()) {
                (Backend::Sqlite, Some(path), _) => (
                    Link::Lite(Some(
                        LiteWriter::begin(path, &sqlite_write_pragmas()).await?,
                    )),
                    FLUSH_ROWS,
                    None,
                ),
                (Backend::Postgres, _, Some(url)) => {
                    let writer = PgWriter::begin(url, PG_WRITER_LOCK, FLUSH_ORDER).await?;
                    let link = Link::Pool {
                        conn: Some(Conn::Pg(Box::new(writer))),
                        in_flight: None,
                    };
                    (link, PG_COPY_ROWS, Some(PG_IDLE_FLUSH_ROWS))
                }
                (backend, _, _) => {
                    let link = Link::Pool {
                        conn: Some(Conn::Pooled(begin_pooled(store, backend).await?)),
                        in_flight: None,
                    };
                    (link, FLUSH_ROWS, None)
                }
            };
        let mut tx = WriteTx {
            link,
            backend: store.backend(),
            batch_id: 0,
            recorded_at: recorded_at.to_string(),
            next_entry_no: 1,
            head_hash: GENESIS_HASH.to_string(),
            buffers: BTreeMap::new(),
            scratch: Vec::new(),
            balance_deltas: BTreeMap::new(),
            batches: Vec::new(),
            appended: 0,
            rows_added: BTreeMap::new(),
            flush_rows,
            idle_flush_rows,
            finished: false,
        };
        let head = tx
            .row(
                "SELECT entry_no, hash FROM journal ORDER BY entry_no DESC LIMIT 1",
                Vec::new(),
            )
            .await?;
        if let Some(row) = head {
            tx.next_entry_no = row.int(0)? + 1;
            tx.head_hash = row.text(1)?;
        }
        tx.new_batch(command, file).await?;
        Ok(tx)
    }

    /// Starts a new batch (one per imported file) inside this transaction;
    /// entries appended from now on belong to it.
    pub async fn new_batch(&mut self, command: &str, file: Option<(&str, &str)>) -> Result<i64> {
        let batch = self
            .int(
                "SELECT COALESCE(MAX(batch_id), 0) + 1 FROM batches",
                Vec::new(),
            )
            .await?;
        self.execute(
            "INSERT INTO batches (batch_id, command, file_name, file_sha256, recorded_at) \
             VALUES ($1, $2, $3, $4, $5)",
            vec![
                Val::Int(batch),
                Val::Text(command.to_string()),
                Val::OptText(file.map(|f| f.0.to_string())),
                Val::OptText(file.map(|f| f.1.to_string())),
                Val::Text(self.recorded_at.clone()),
            ],
        )
        .await?;
        if self.batch_id != 0 {
            let head = self.journal_head();
            self.batches.push((self.batch_id, head));
        }
        self.batch_id = batch;
        Ok(batch)
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }
    pub fn batch_id(&self) -> i64 {
        self.batch_id
    }
    /// The last entry appended, in this command or before it.
    fn journal_head(&self) -> JournalHead {
        (self.next_entry_no - 1, self.head_hash.clone())
    }

    /// Transactions appended so far in this command.
    pub fn appended(&self) -> u64 {
        self.appended
    }

    /// The pooled connection once its background write (if any) has
    /// finished; that write's error, if it failed. Rows still buffered stay
    /// buffered.
    async fn settled(&mut self) -> Result<&mut Conn> {
        let Link::Pool { conn, in_flight } = &mut self.link else {
            unreachable!("only a pooled link is settled")
        };
        if let Some(write) = in_flight.take() {
            let (mut lent, written) = match write.await {
                Ok(done) => done,
                Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
                Err(e) => {
                    return Err(StoreError::Refused(format!(
                        "a background write was cancelled: {e}"
                    )))
                }
            };
            *conn = lent.0.take();
            written?;
        }
        Ok(conn
            .as_mut()
            .expect("the connection is home once no write is in flight"))
    }

    /// The balance of `account` including this command's own postings: the
    /// stored balance (maintained at every commit, recomputed from the
    /// postings by `verify`) plus what this transaction has posted so far.
    pub async fn balance(&mut self, account: &Account) -> Result<Fen> {
        let stored = match self
            .row(
                "SELECT balance_fen FROM balances WHERE account = $1",
                vec![Val::Text(account.as_str().to_string())],
            )
            .await?
        {
            Some(row) => row.int(0)?,
            None => 0,
        };
        let pending = self
            .balance_deltas
            .get(account.as_str())
            .copied()
            .unwrap_or_default();
        Ok(Fen::new(stored).checked_add(pending)?)
    }

    /// Appends a balanced transaction to the journal; returns its entry number.
    pub async fn append(&mut self, tx: &Transaction) -> Result<i64> {
        let entry_no = self.next_entry_no;
        // Lent to the position and given back below, before anything can
        // fail: the clock text is not copied once per entry.
        let pos = ChainPosition {
            entry_no,
            batch_id: self.batch_id,
            recorded_at: std::mem::take(&mut self.recorded_at),
        };
        write_canonical(tx, &pos, &mut self.scratch);
        let hash = chain_hash_hex(&self.head_hash, &self.scratch);
        self.scratch.clear();
        push_iso_date(&mut self.scratch, tx.date());
        let date = std::str::from_utf8(&self.scratch).expect("an ISO date is ASCII");
        let m = tx.meta();
        let journal = buffer(&mut self.buffers, "journal", JOURNAL_COLUMNS);
        journal.int(pos.entry_no);
        journal.text(tx.tx_id());
        journal.text(date);
        journal.text(tx.kind().as_str());
        journal.text(tx.description());
        journal.opt_int(m.fiscal_year.map(i64::from));
        for text in [
            &m.doc_no,
            &m.voucher_no,
            &m.region_code,
            &m.project_code,
            &m.source_file,
        ] {
            journal.opt_text(canonical_text(text));
        }
        journal.opt_int(m.source_line.map(|l| l as i64));
        journal.opt_text(canonical_text(&m.details));
        journal.int(self.batch_id);
        journal.text(&pos.recorded_at);
        journal.text(&self.head_hash);
        journal.text(hash.as_str());
        journal.end_row();
        self.recorded_at = pos.recorded_at;
        self.head_hash.clear();
        self.head_hash.push_str(hash.as_str());
        for (seq, p) in tx.postings().iter().enumerate() {
            self.add_delta(p.account.as_str(), p.amount)?;
            let postings = buffer(&mut self.buffers, "postings", POSTING_COLUMNS);
            postings.int(entry_no);
            postings.int(seq as i64 + 1);
            postings.text(p.account.as_str());
            postings.int(p.amount.as_i64());
            postings.end_row();
        }
        self.next_entry_no += 1;
        self.appended += 1;
        self.flush_if_full().await?;
        Ok(entry_no)
    }

    /// Adds `amount` to what this command has posted to `account`.
    fn add_delta(&mut self, account: &str, amount: Fen) -> Result<()> {
        let overflow = || StoreError::Refused("account balance overflows i64 fen".into());
        match self.balance_deltas.get_mut(account) {
            Some(delta) => *delta = delta.checked_add(amount).map_err(|_| overflow())?,
            None => {
                self.balance_deltas.insert(account.to_string(), amount);
            }
        }
        Ok(())
    }

    /// Buffers a row for `table`; the buffers are written in FLUSH_ORDER.
    pub async fn push_row(
        &mut self,
        table: &'static str,
        columns: &'static [&'static str],
        row: Vec<Val>,
    ) -> Result<()> {
        buffer(&mut self.buffers, table, columns).push(&row);
        self.flush_if_full().await
    }

    /// Writes the buffers once one of them holds `flush_rows` rows, or
    /// `idle_flush_rows` while the writer has nothing to do.
    async fn flush_if_full(&mut self) -> Result<()> {
        let most_rows = self.buffers.values().map(Packed::rows).max().unwrap_or(0);
        // Asked only once a buffer is large enough: one atomic load.
        let writer_idle = || self.writer_idle();
        if flush_due(
            most_rows,
            self.flush_rows,
            self.idle_flush_rows,
            writer_idle,
        ) {
            self.flush().await?;
        }
        Ok(())
    }

    /// Whether the pooled link has no write in flight, or only a finished
    /// one (the SQLite writer thread is never asked).
    fn writer_idle(&self) -> bool {
        match &self.link {
            Link::Pool { in_flight, .. } => in_flight.as_ref().is_none_or(JoinHandle::is_finished),
            Link::Lite(_) => false,
        }
    }

    /// Hands every buffered row to the writer, parents before children:
    /// the SQLite writer thread, or a task of its own on the pooled
    /// connection. Returns once the previous such write is under way (a
    /// few buffers at most wait); a read or the commit waits for them all.
    pub async fn flush(&mut self) -> Result<()> {
        let mut tables: Tables = Vec::new();
        for table in FLUSH_ORDER {
            let Some(buffer) = self.buffers.get_mut(table) else {
                continue;
            };
            if buffer.is_empty() {
                continue;
            }
            *self.rows_added.entry(table).or_default() += buffer.rows() as u64;
            let fresh = buffer.fresh();
            tables.push(std::mem::replace(buffer, fresh));
        }
        if tables.is_empty() {
            return Ok(());
        }
        if let Link::Lite(writer) = &self.link {
            return lite_writer(writer).insert(tables).await;
        }
        self.settled().await?;
        let Link::Pool { conn, in_flight } = &mut self.link else {
            unreachable!("a pooled link")
        };
        let mut lent = Lent(conn.take());
        let backend = self.backend;
        *in_flight = Some(tokio::spawn(async move {
            let conn = lent.0.as_mut().expect("a lent connection");
            for rows in &tables {
                if let Err(e) = conn.insert(backend, rows).await {
                    return (lent, Err(e));
                }
            }
            (lent, Ok(()))
        }));
        Ok(())
    }

    /// Writes balances, seals this command's batches and commits. Nothing
    /// is visible to others before this.
    pub async fn commit(mut self) -> Result<()> {
        let deltas = std::mem::take(&mut self.balance_deltas);
        for (account, delta) in deltas {
            self.execute(
                "INSERT INTO balances (account, balance_fen) VALUES ($1, $2) \
                 ON CONFLICT (account) DO UPDATE SET balance_fen = balances.balance_fen + excluded.balance_fen",
                vec![Val::Text(account), Val::Int(delta.as_i64())],
            )
            .await?;
        }
        let last = (self.batch_id, self.journal_head());
        self.batches.push(last);
        let batches = std::mem::take(&mut self.batches);
        crate::seal::seal_batches(&mut self, &batches).await?;
        self.flush().await?;
        if self.backend == Backend::Postgres {
            self.analyze_grown_tables().await?;
        }
        self.finish(true).await
    }

    /// `ANALYZE` of each table this command grew by more than autovacuum
    /// would wait for, inside the transaction: PostgreSQL plans the next
    /// command's reads from the tables' statistics, and a ledger read right
    /// after a large import had none (autovacuum analyses a minute later at
    /// best, never where it is off): reconcile sorted every voucher, verify
    /// and the exports took 20-40 % longer (ADR 0005, decision 17). The
    /// statistics commit or roll back with the rows. A table the session's
    /// role does not own is left to its owner (PostgreSQL would only warn).
    async fn analyze_grown_tables(&mut self) -> Result<()> {
        let grown: Vec<(&'static str, u64)> = self
            .rows_added
            .iter()
            .map(|(table, added)| (*table, *added))
            // One that would not be analysed even if it had been empty is
            // not looked up.
            .filter(|(_, added)| needs_analyze(*added, 0))
            .collect();
        for (table, added) in grown {
            let Some(row) = self
                .row(
                    "SELECT GREATEST(c.reltuples, 0)::bigint, \
                     CASE WHEN pg_has_role(c.relowner, 'USAGE') THEN 1 ELSE 0 END::bigint \
                     FROM pg_class c WHERE c.oid = to_regclass($1)",
                    vec![Val::Text(table.to_string())],
                )
                .await?
            else {
                continue;
            };
            let owned = row.int(1)? == 1;
            if owned && needs_analyze(added, row.int(0)?) {
                self.execute(&format!("ANALYZE {table}"), Vec::new())
                    .await?;
            }
        }
        Ok(())
    }

    /// Abandons everything this command wrote.
    pub async fn rollback(mut self) -> Result<()> {
        if let Link::Pool { .. } = self.link {
            // A background write that failed is rolled back with the rest.
            if let Err(e) = self.settled().await {
                if matches!(self.link, Link::Pool { conn: None, .. }) {
                    return Err(e);
                }
            }
        }
        self.finish(false).await
    }

    /// COMMIT or ROLLBACK, every write handed over first.
    async fn finish(&mut self, commit: bool) -> Result<()> {
        let statement = if commit { "COMMIT" } else { "ROLLBACK" };
        match &mut self.link {
            Link::Lite(writer) => {
                let writer = writer.take().expect("a write transaction finishes once");
                writer.finish(commit).await?;
            }
            Link::Pool { .. } => {
                self.settled().await?;
                let Link::Pool { conn, .. } = &mut self.link else {
                    unreachable!("a pooled link")
                };
                match conn.take().expect("settled") {
                    Conn::Pooled(mut pooled) => {
                        let done = Executor::execute(&mut *pooled, statement).await;
                        *conn = Some(Conn::Pooled(pooled));
                        done?;
                    }
                    Conn::Pg(writer) => writer.finish(statement).await?,
                }
            }
        }
        self.finished = true;
        Ok(())
    }
}

impl Sql for WriteTx {
    /// Reads see every row appended before them: the buffers are handed
    /// over first, and the writer runs in order.
    async fn rows(&mut self, sql: &str, args: Vec<Val>) -> Result<Vec<SqlRow>> {
        self.flush().await?;
        match &self.link {
            Link::Lite(writer) => lite_writer(writer).rows(sql, args).await,
            Link::Pool { .. } => self.settled().await?.rows(sql, args).await,
        }
    }

    async fn execute(&mut self, sql: &str, args: Vec<Val>) -> Result<u64> {
        self.flush().await?;
        match &self.link {
            Link::Lite(writer) => lite_writer(writer).execute(sql, args).await,
            Link::Pool { .. } => self.settled().await?.execute(sql, args).await,
        }
    }
}

fn lite_writer(writer: &Option<LiteWriter>) -> &LiteWriter {
    writer
        .as_ref()
        .expect("the writer is there until the transaction finishes")
}

/// What a SQLite writing command runs with, besides the session's own
/// settings (busy timeout): foreign keys and FULL sync as every connection
/// of a ledger (`set_up_session`). The default 2 MB page cache spills dirty
/// pages to the WAL mid-transaction on a large import (a third of its time
/// at 1M vouchers); 32 MB keeps the whole command's peak RSS well under
/// 64 MB. Statement journals go to memory, not to a temporary file per
/// multi-row INSERT.
fn sqlite_write_pragmas() -> Vec<String> {
    vec![
        "PRAGMA foreign_keys = ON".to_string(),
        "PRAGMA synchronous = FULL".to_string(),
        format!("PRAGMA cache_size = -{SQLITE_WRITE_CACHE_KIB}"),
        "PRAGMA temp_store = MEMORY".to_string(),
    ]
}

/// A pooled connection inside a transaction holding the writer lock:
/// SQLite's IMMEDIATE takes the write lock now, not at the first write,
/// so a read-then-write command cannot lose a race; PostgreSQL takes an
/// advisory transaction lock.
async fn begin_pooled(store: &Store, backend: Backend) -> Result<PoolConnection<Any>> {
    let mut conn = store.pool().acquire().await?;
    match backend {
        Backend::Sqlite => {
            for pragma in sqlite_write_pragmas() {
                Executor::execute(&mut *conn, pragma.as_str()).await?;
            }
            Executor::execute(&mut *conn, "BEGIN IMMEDIATE").await?;
        }
        Backend::Postgres => {
            Executor::execute(&mut *conn, "BEGIN").await?;
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(PG_WRITER_LOCK)
                .execute(&mut *conn)
                .await?;
        }
    }
    Ok(conn)
}

impl Drop for WriteTx {
    fn drop(&mut self) {
        if !self.finished {
            // Dropped mid-transaction (an error or a panic). SQLite's writer
            // thread closes its connection when its end is dropped; a pooled
            // connection is closed rather than returned to the pool, which
            // makes the server roll the transaction back (a typed one closes
            // as it is dropped), and one out on a background write is closed
            // by its `Lent` when that ends.
            if let Link::Pool {
                conn: Some(conn), ..
            } = &mut self.link
            {
                conn.close_on_drop();
            }
        }
    }
}

/// The connection of a pooled link.
enum Conn {
    /// sqlx's `Any` connection from the pool: a store on one pooled
    /// connection (the tamper tests), either backend.
    Pooled(PoolConnection<Any>),
    /// A PostgreSQL ledger: a typed connection of its own whose buffers go
    /// in with `COPY` (pg_write.rs, ADR 0005 decision 21).
    Pg(Box<PgWriter>),
}

impl Conn {
    async fn insert(&mut self, backend: Backend, rows: &Packed) -> Result<()> {
        match self {
            Conn::Pooled(conn) => insert_rows(conn, backend, rows).await,
            Conn::Pg(writer) => writer.insert(rows).await,
        }
    }

    async fn rows(&mut self, sql: &str, args: Vec<Val>) -> Result<Vec<SqlRow>> {
        match self {
            Conn::Pooled(conn) => Sql::rows(&mut **conn, sql, args).await,
            Conn::Pg(writer) => writer.rows(sql, &args).await,
        }
    }

    async fn execute(&mut self, sql: &str, args: Vec<Val>) -> Result<u64> {
        match self {
            Conn::Pooled(conn) => Sql::execute(&mut **conn, sql, args).await,
            Conn::Pg(writer) => writer.execute(sql, &args).await,
        }
    }

    /// Closes a pooled connection when it is dropped instead of returning
    /// it to the pool mid-transaction; a typed one is closed by its drop.
    fn close_on_drop(&mut self) {
        if let Conn::Pooled(conn) = self {
            conn.close_on_drop();
        }
    }
}

/// The connection lent to a background write. Taken back by
/// [`WriteTx::settled`]; if nobody takes it back (the WriteTx was dropped:
/// an error or a panic), it is closed, never returned to the pool in the
/// middle of its transaction.
struct Lent(Option<Conn>);

impl Drop for Lent {
    fn drop(&mut self) {
        if let Some(conn) = self.0.as_mut() {
            conn.close_on_drop();
        }
    }
}

/// NULL is the one stored form of "no value": the chain hash renders NULL
/// and '' alike, so storing '' would be a second text for the same hash.
fn canonical_text(v: &Option<String>) -> Option<&str> {
    v.as_deref().filter(|t| !t.is_empty())
}

/// The buffer of `table`, made on its first row.
fn buffer<'b>(
    buffers: &'b mut BTreeMap<&'static str, Packed>,
    table: &'static str,
    columns: &'static [&'static str],
) -> &'b mut Packed {
    assert!(FLUSH_ORDER.contains(&table), "unbuffered table {table}");
    let buffer = buffers
        .entry(table)
        .or_insert_with(|| Packed::new(table, columns));
    // The same constant nearly always: its address settles it, no string
    // comparison per row.
    assert!(
        std::ptr::eq(buffer.columns, columns) || buffer.columns == columns,
        "one column list per table: {table}"
    );
    buffer
}

pub(crate) const JOURNAL_COLUMNS: &[&str] = &[
    "entry_no",
    "tx_id",
    "tx_date",
    "kind",
    "description",
    "fiscal_year",
    "doc_no",
    "voucher_no",
    "region_code",
    "project_code",
    "source_file",
    "source_line",
    "details",
    "batch_id",
    "recorded_at",
    "prev_hash",
    "hash",
];
pub(crate) const POSTING_COLUMNS: &[&str] = &["entry_no", "seq", "account", "amount_fen"];

/// One multi-row INSERT per chunk. PostgreSQL needs `$N` placeholders; on
/// SQLite they are plain `?`, because sqlx looks every named parameter up
/// with `sqlite3_bind_parameter_name`, a linear scan, which made a
/// 500-row × 17-column insert quadratic (two thirds of an import's time).
async fn insert_rows(conn: &mut AnyConnection, backend: Backend, rows: &Packed) -> Result<()> {
    for chunk in rows.chunks(FLUSH_ROWS) {
        let row_count = chunk.len() / rows.columns.len();
        let sql = insert_sql(backend, rows.table, rows.columns, row_count);
        let mut query = sqlx::query(&sql);
        for cell in chunk {
            query = bind_cell(query, rows.value(*cell));
        }
        query.execute(&mut *conn).await?;
    }
    Ok(())
}

/// `$1, $2, …, $n` (PostgreSQL) or `?, ?, …` (SQLite, see [`insert_rows`]).
pub(crate) fn placeholders(backend: Backend, n: usize) -> String {
    let marks: Vec<String> = (1..=n)
        .map(|i| match backend {
            Backend::Sqlite => "?".to_string(),
            Backend::Postgres => format!("${i}"),
        })
        .collect();
    marks.join(", ")
}

/// `INSERT INTO table (cols) VALUES (…), (…)` for `rows` rows.
pub(crate) fn insert_sql(backend: Backend, table: &str, columns: &[&str], rows: usize) -> String {
    let width = columns.len();
    let mut sql = format!("INSERT INTO {table} ({}) VALUES ", columns.join(", "));
    let mut n = 0;
    for i in 0..rows {
        sql.push_str(if i == 0 { "(" } else { ", (" });
        for c in 0..width {
            n += 1;
            if c > 0 {
                sql.push_str(", ");
            }
            match backend {
                Backend::Sqlite => sql.push('?'),
                Backend::Postgres => {
                    sql.push('$');
                    sql.push_str(&n.to_string());
                }
            }
        }
        sql.push(')');
    }
    sql
}

/// Binds `v` borrowed: text is copied once, by the driver, not first into
/// the query's arguments as well.
pub(crate) fn bind<'q>(
    query: Query<'q, Any, AnyArguments<'q>>,
    v: &'q Val,
) -> Query<'q, Any, AnyArguments<'q>> {
    bind_cell(query, v.cell())
}

/// Binds a value or a packed cell: a NULL with its column's type.
fn bind_cell<'q>(
    query: Query<'q, Any, AnyArguments<'q>>,
    v: CellValue<'q>,
) -> Query<'q, Any, AnyArguments<'q>> {
    match v {
        CellValue::Int(i) => query.bind(i),
        CellValue::NullInt => query.bind(None::<i64>),
        CellValue::Text(t) => query.bind(t),
        CellValue::NullText => query.bind(None::<&str>),
    }
}

#[cfg(test)]
mod tests {
    use super::{flush_due, needs_analyze};

    /// `flush_due` for `most_rows` with a full buffer at 2,000 rows, an
    /// idle writer's at `idle`, and the writer `writer_idle`.
    fn check_flush(most_rows: usize, idle: Option<usize>, writer_idle: bool, expected: bool) {
        let mut asked = false;
        let due = flush_due(most_rows, 2000, idle, || {
            asked = true;
            writer_idle
        });
        assert_eq!(
            due, expected,
            "{most_rows} rows, idle at {idle:?}, writer idle {writer_idle}"
        );
        // The writer is asked only when its answer decides.
        let decides = idle.is_some_and(|rows| most_rows >= rows) && most_rows < 2000;
        assert_eq!(asked, decides, "{most_rows} rows, idle at {idle:?}");
    }

    #[test]
    fn buffers_are_written_when_full_or_early_to_an_idle_writer() {
        // Full: written whatever the writer is doing.
        check_flush(2000, None, false, true);
        check_flush(2000, Some(250), false, true);
        check_flush(2001, Some(250), true, true);
        // No idle threshold (SQLite, the one-connection store): only full.
        check_flush(1999, None, true, false);
        check_flush(0, None, true, false);
        // An idle writer takes 250 rows and more; a busy one waits for 2,000.
        check_flush(249, Some(250), true, false);
        check_flush(250, Some(250), true, true);
        check_flush(250, Some(250), false, false);
        check_flush(1999, Some(250), false, false);
        check_flush(1999, Some(250), true, true);
    }

    fn check(rows_added: u64, rows_before: i64, expected: bool) {
        assert_eq!(
            needs_analyze(rows_added, rows_before),
            expected,
            "{rows_added} rows added to {rows_before}"
        );
    }

    #[test]
    fn a_table_is_analysed_when_autovacuum_would_analyse_it() {
        // A new table (no estimate: -1 from the server, 0 here).
        check(50, 0, false);
        check(51, 0, true);
        check(1_000_000, 0, true);
        // A tenth of the rows held, plus 50.
        check(150, 1_000, false);
        check(151, 1_000, true);
        check(100_050, 1_000_000, false);
        check(100_051, 1_000_000, true);
        // A negative estimate counts as none.
        check(51, -1, true);
        check(u64::MAX, i64::MAX, true);
    }
}
