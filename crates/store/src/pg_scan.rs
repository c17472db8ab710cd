//! Bulk read-only scans of a PostgreSQL ledger: the journal a page at a
//! time (verify, the whole-ledger exports) and the reconciliation's rows,
//! through a typed `sqlx::PgConnection` of their own.
//!
//! Through the pool every cell became an `AnyValue` (a copy and a
//! conversion per cell, a row object per row) and each page was read only
//! when the caller asked for it: PostgreSQL `verify` of 1M vouchers took
//! 20 s against 4 s on SQLite. Here the rows are decoded straight from the
//! wire on the thread reading ahead (pages.rs, reconcile.rs), and the whole
//! scan runs in one `REPEATABLE READ, READ ONLY` transaction, so every page
//! comes from one snapshot, as a SQLite scan's do (scan.rs;
//! docs/adr/0005-write-path.md, decision 12).
//!
//! A statement whose columns are all `bigint` or `text` (every scan's on
//! the ledger's own schema) is read as a binary `COPY` (pg_copy.rs,
//! decision 28): no row object per row, a column's compatibility asked
//! once per statement.
//!
//! A scan opens its own connection with the ledger's URL: the same server,
//! user and rights as the pool's. A store made on one pooled connection
//! (the tamper tests hold a transaction open on it) has no URL and keeps
//! the pool path, which sees that transaction.

use crate::ledger::DOMAIN_TABLES;
use crate::pages::DomainRow;
use crate::pg_copy::{copy_statement, int_literal, text_literal, CopiedRow, CopyReader};
use crate::read::{orphan_marker, Cells, TextCells, JOURNAL_PAGE_ENTRIES};
use crate::scan::{spare_entries, OpenScan};
use crate::{Result, StoreError};
use fundledger_core::journal::{JournalEntry, StoredPosting};
use fundledger_core::Fen;
use futures_util::TryStreamExt;
use sqlx::postgres::{PgConnectOptions, PgRow, PgTypeInfo};
use sqlx::{Connection, Executor, PgConnection, Postgres, Row, Statement, TypeInfo};
use std::cell::Cell;
use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Arc;

/// A typed connection holding one read-only snapshot, driven by a runtime
/// of its own: a scan runs on a blocking thread (it reads ahead of its
/// caller), where the caller's runtime may not be entered.
pub(crate) struct PgScan {
    conn: PgConnection,
    /// A second connection on `conn`'s snapshot, opened at the first
    /// journal page: a page's postings are read on it while its journal
    /// rows are read on `conn`, so that two server processes work on the
    /// page at once (ADR 0005 decision 31).
    postings_conn: Option<PgConnection>,
    /// A page's postings as they came on `postings_conn`, taken apart once
    /// its journal rows are in (the space kept from page to page).
    postings_copy: Vec<u8>,
    options: PgConnectOptions,
    runtime: tokio::runtime::Runtime,
    /// Per statement run, its columns when every one is `bigint` or
    /// `text` (its rows are then read as a binary `COPY`), else `None`.
    copyable: HashMap<String, Option<Arc<[CopiedColumn]>>>,
    _open: OpenScan,
}

const JOURNAL_SELECT: &str = "SELECT entry_no, tx_id, tx_date, kind, description, fiscal_year, \
    doc_no, voucher_no, region_code, project_code, source_file, source_line, details, batch_id, \
    recorded_at, prev_hash, hash FROM journal WHERE entry_no > $1 AND entry_no <= $2 \
    ORDER BY entry_no";
const POSTINGS_SELECT: &str = "SELECT entry_no, seq, account, amount_fen FROM postings \
    WHERE entry_no > $1 AND entry_no <= $2 ORDER BY entry_no, seq";

impl PgScan {
    /// Connects to the ledger at `url` and opens the snapshot.
    pub(crate) fn open(url: &str) -> Result<PgScan> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| StoreError::Sql(sqlx::Error::Io(e)))?;
        let options = PgConnectOptions::from_str(url)?;
        let conn = runtime.block_on(async {
            let mut conn = PgConnection::connect_with(&options).await?;
            // READ COMMITTED (the default) takes a new snapshot per statement.
            sqlx::query("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                .execute(&mut conn)
                .await?;
            Ok::<_, sqlx::Error>(conn)
        })?;
        Ok(PgScan {
            conn,
            postings_conn: None,
            postings_copy: Vec::new(),
            options,
            runtime,
            copyable: HashMap::new(),
            _open: OpenScan::new(),
        })
    }

    /// The highest entry number in this snapshot (0 for an empty journal).
    pub(crate) fn max_entry_no(&mut self) -> Result<i64> {
        let PgScan { conn, runtime, .. } = self;
        let max: Option<i64> = runtime.block_on(
            sqlx::query_scalar("SELECT MAX(entry_no) FROM journal").fetch_one(&mut *conn),
        )?;
        Ok(max.unwrap_or(0))
    }

    /// Entries `after + 1 ..= after + JOURNAL_PAGE_ENTRIES` with their
    /// postings; postings whose entry is gone come as orphan markers (as
    /// `Store::journal_page` reads them through the pool). The entries of a
    /// page handed back ([`crate::JournalPage::recycle`]) are read into,
    /// every field overwritten, as SQLite's scan does: a tenth of verify's
    /// time went to allocating and freeing their strings.
    pub(crate) fn journal_page(&mut self, after: i64) -> Result<Vec<JournalEntry>> {
        let upto = after + JOURNAL_PAGE_ENTRIES;
        // Read in place, as SQLite's scan does.
        let mut entries = spare_entries();
        let mut read = 0;
        let postings = self.journal_rows_beside_postings(after, upto, |r| {
            match entries.get_mut(read) {
                Some(e) => read_entry_into(r, e)?,
                None => {
                    let mut e = JournalEntry::default();
                    read_entry_into(r, &mut e)?;
                    entries.push(e);
                }
            }
            read += 1;
            Ok(())
        })?;
        entries.truncate(read);
        // Postings read so far into each entry (a reused entry still holds
        // the ones of the page it came from, overwritten in order).
        let mut filled = vec![0usize; entries.len()];
        let mut i = 0;
        let read_posting = |p: &PgCells<'_>| {
            let entry_no = p.int(0)?;
            while i < entries.len() && entries[i].entry_no < entry_no {
                i += 1;
            }
            match (entries.get_mut(i), filled.get_mut(i)) {
                (Some(e), Some(n)) if e.entry_no == entry_no => {
                    match e.postings.get_mut(*n) {
                        Some(into) => read_posting_into(p, into)?,
                        None => e.postings.push(posting(p)?),
                    }
                    *n += 1;
                }
                // An orphan marker pushed below (past the journal rows):
                // its entry's next posting.
                (Some(e), None) if e.entry_no == entry_no => e.postings.push(posting(p)?),
                // A posting whose entry is missing: verify reports it.
                _ => entries.push(orphan_marker(entry_no, posting(p)?)),
            }
            Ok(())
        };
        match postings {
            Some(types) => each_copied(&self.postings_copy, &types, read_posting)?,
            None => self.each_row(POSTINGS_SELECT, (after, upto), read_posting)?,
        }
        for (e, n) in entries.iter_mut().zip(&filled) {
            e.postings.truncate(*n);
        }
        entries.sort_by_key(|e| e.entry_no);
        Ok(entries)
    }

    /// The journal rows of entries `after + 1 ..= upto`, each handed to
    /// `each`. Where both the journal's and the postings' statements run as
    /// a binary `COPY` (always, on a ledger's own schema) their postings are
    /// read meanwhile on the second connection into `postings_copy`, and
    /// their columns returned: reading a page's rows and then its postings
    /// on one connection kept one server process busy with each in turn
    /// while the other waited. Else `None`: the postings are the caller's
    /// to read, as before.
    fn journal_rows_beside_postings(
        &mut self,
        after: i64,
        upto: i64,
        each: impl FnMut(&PgCells<'_>) -> Result<()>,
    ) -> Result<Option<Arc<[CopiedColumn]>>> {
        let journal_types = self.copyable_columns(JOURNAL_SELECT)?;
        let postings_types = self.copyable_columns(POSTINGS_SELECT)?;
        let literals = (after, upto).literals().expect("integers are literals");
        let statements = (
            copy_statement(JOURNAL_SELECT, &literals),
            copy_statement(POSTINGS_SELECT, &literals),
        );
        let (Some(journal_types), Some(postings_types), (Some(journal), Some(postings))) =
            (journal_types, postings_types, statements)
        else {
            self.each_row(JOURNAL_SELECT, (after, upto), each)?;
            return Ok(None);
        };
        self.open_postings_conn()?;
        let PgScan {
            conn,
            postings_conn,
            postings_copy,
            runtime,
            ..
        } = self;
        let postings_conn = postings_conn.as_mut().expect("opened above");
        postings_copy.clear();
        let (rows, copied) = runtime.block_on(async {
            tokio::join!(
                copy_each(conn, &journal, &journal_types, each),
                copy_into(postings_conn, &postings, postings_copy),
            )
        });
        rows?;
        copied?;
        Ok(Some(postings_types))
    }

    /// The second connection, opened once: a read-only transaction on the
    /// snapshot `conn`'s transaction exports, so it sees exactly what
    /// `conn` sees whatever commits meanwhile.
    fn open_postings_conn(&mut self) -> Result<()> {
        if self.postings_conn.is_some() {
            return Ok(());
        }
        let PgScan {
            conn,
            options,
            runtime,
            ..
        } = self;
        let second = runtime.block_on(async {
            let snapshot: String = sqlx::query_scalar("SELECT pg_export_snapshot()")
                .fetch_one(&mut *conn)
                .await?;
            let mut second = PgConnection::connect_with(options).await?;
            sqlx::query("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                .execute(&mut second)
                .await?;
            let set = format!(
                "SET TRANSACTION SNAPSHOT '{}'",
                snapshot.replace('\'', "''")
            );
            second.execute(set.as_str()).await?;
            Ok::<_, sqlx::Error>(second)
        })?;
        self.postings_conn = Some(second);
        Ok(())
    }

    /// Every domain row filed under entries `after + 1 ..= upto`.
    pub(crate) fn domain_rows(&mut self, after: i64, upto: i64) -> Result<Vec<DomainRow>> {
        let mut out = Vec::new();
        for table in DOMAIN_TABLES {
            let sql = table.select_by_entries(("$1", "$2"));
            self.each_row(&sql, (after, upto), |r| {
                out.push(DomainRow {
                    table: table.name,
                    entry_no: r.int(table.columns.len())?,
                    details: table.details_of(r)?,
                });
                Ok(())
            })?;
        }
        Ok(out)
    }

    /// Runs `sql` with `params` and hands each row to `each` as it
    /// arrives, stopping at the first error. A statement whose columns are
    /// all `bigint` or `text` (every scan's, on a ledger's own schema) runs
    /// as a binary `COPY` ([`crate::pg_copy`], ADR 0005 decision 28); any
    /// other (a tampered schema's) through the query protocol. Either way a
    /// cell reads as sqlx's `try_get` reads it: the same value or error.
    pub(crate) fn each_row<P>(
        &mut self,
        sql: &str,
        params: P,
        each: impl FnMut(&PgCells<'_>) -> Result<()>,
    ) -> Result<()>
    where
        P: PgParams,
    {
        let statement = params
            .literals()
            .and_then(|literals| copy_statement(sql, &literals));
        if let Some(statement) = statement {
            if let Some(types) = self.copyable_columns(sql)? {
                return self.each_copied_row(&statement, &types, each);
            }
        }
        self.each_fetched_row(sql, params, each)
    }

    /// The query protocol's way: a row object per row.
    fn each_fetched_row<P>(
        &mut self,
        sql: &str,
        params: P,
        mut each: impl FnMut(&PgCells<'_>) -> Result<()>,
    ) -> Result<()>
    where
        P: PgParams,
    {
        let PgScan { conn, runtime, .. } = self;
        runtime.block_on(async {
            let mut rows = params.bind_to(sqlx::query(sql)).fetch(&mut *conn);
            let checked = CheckedColumns::default();
            while let Some(row) = rows.try_next().await? {
                each(&PgCells {
                    source: Source::Fetched(Fetched {
                        row: &row,
                        checked: &checked,
                    }),
                })?;
            }
            Ok(())
        })
    }

    /// `sql`'s columns when each is `bigint` or `text`, from the server's
    /// description of the statement (asked once per statement).
    fn copyable_columns(&mut self, sql: &str) -> Result<Option<Arc<[CopiedColumn]>>> {
        if let Some(known) = self.copyable.get(sql) {
            return Ok(known.clone());
        }
        let PgScan { conn, runtime, .. } = self;
        let statement = runtime.block_on(conn.prepare(sql))?;
        let types: Vec<PgTypeInfo> = statement
            .columns()
            .iter()
            .map(|c| sqlx::Column::type_info(c).clone())
            .collect();
        let int8 = <i64 as sqlx::Type<Postgres>>::type_info();
        let text = <String as sqlx::Type<Postgres>>::type_info();
        let columns: Option<Vec<CopiedColumn>> = types
            .into_iter()
            .map(|ty| {
                (ty == int8 || ty == text)
                    .then(|| CopiedColumn::new(ty))
                    .flatten()
            })
            .collect();
        let copyable = columns.filter(|c| !c.is_empty()).map(Arc::from);
        self.copyable.insert(sql.to_string(), copyable.clone());
        Ok(copyable)
    }

    /// The binary `COPY` way (see [`copy_each`]).
    fn each_copied_row(
        &mut self,
        statement: &str,
        types: &[CopiedColumn],
        each: impl FnMut(&PgCells<'_>) -> Result<()>,
    ) -> Result<()> {
        let PgScan { conn, runtime, .. } = self;
        runtime.block_on(copy_each(conn, statement, types, each))
    }
}

/// Runs `statement`, a binary `COPY`, and hands each row to `each` as it
/// arrives. A failure of `each` stops the rows handed on, not the reading:
/// the rest of the copy is read (and dropped), so the connection is ready
/// for the scan's next statement.
async fn copy_each(
    conn: &mut PgConnection,
    statement: &str,
    types: &[CopiedColumn],
    mut each: impl FnMut(&PgCells<'_>) -> Result<()>,
) -> Result<()> {
    let mut data = conn.copy_out_raw(statement).await?;
    let mut reader = CopyReader::new(types.len());
    let mut failed = None;
    let mut each_copied = |row: &CopiedRow<'_>| {
        each(&PgCells {
            source: Source::Copied(Copied { row, types }),
        })
    };
    while let Some(message) = data.try_next().await? {
        if failed.is_none() {
            failed = reader.feed(&message, &mut each_copied).err();
        }
    }
    match failed {
        Some(e) => Err(e),
        None => reader.finish(),
    }
}

/// Runs `statement`, a binary `COPY`, appending what it sends to `into`.
async fn copy_into(conn: &mut PgConnection, statement: &str, into: &mut Vec<u8>) -> Result<()> {
    let mut data = conn.copy_out_raw(statement).await?;
    while let Some(message) = data.try_next().await? {
        into.extend_from_slice(&message);
    }
    Ok(())
}

/// The rows of a binary copy held whole in `copied`, each handed to
/// `each`, stopping at the first error.
fn each_copied(
    copied: &[u8],
    types: &[CopiedColumn],
    mut each: impl FnMut(&PgCells<'_>) -> Result<()>,
) -> Result<()> {
    let mut reader = CopyReader::new(types.len());
    reader.feed(copied, &mut |row: &CopiedRow<'_>| {
        each(&PgCells {
            source: Source::Copied(Copied { row, types }),
        })
    })?;
    reader.finish()
}

/// The parameters a scan's statements take.
pub(crate) trait PgParams {
    /// The parameters as SQL literals, in order (`None`: not expressible).
    fn literals(&self) -> Option<Vec<String>>;
    fn bind_to<'q>(
        self,
        query: sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>,
    ) -> sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>;
}

impl PgParams for () {
    fn literals(&self) -> Option<Vec<String>> {
        Some(Vec::new())
    }
    fn bind_to<'q>(
        self,
        query: sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>,
    ) -> sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments> {
        query
    }
}

impl PgParams for (i64, i64) {
    fn literals(&self) -> Option<Vec<String>> {
        Some(vec![int_literal(self.0), int_literal(self.1)])
    }
    fn bind_to<'q>(
        self,
        query: sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>,
    ) -> sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments> {
        query.bind(self.0).bind(self.1)
    }
}

impl PgParams for &str {
    fn literals(&self) -> Option<Vec<String>> {
        Some(vec![text_literal(self)?])
    }
    fn bind_to<'q>(
        self,
        query: sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>,
    ) -> sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments> {
        query.bind(self.to_string())
    }
}

/// `journal_entry` (read.rs) into an entry read before: the same values,
/// or the same first error, column by column.
fn read_entry_into(r: &PgCells<'_>, e: &mut JournalEntry) -> Result<()> {
    e.entry_no = r.int(0)?;
    text_into(r, 1, &mut e.tx_id)?;
    text_into(r, 2, &mut e.tx_date)?;
    text_into(r, 3, &mut e.kind)?;
    text_into(r, 4, &mut e.description)?;
    e.fiscal_year = r.opt_int(5)?;
    opt_text_into(r, 6, &mut e.doc_no)?;
    opt_text_into(r, 7, &mut e.voucher_no)?;
    opt_text_into(r, 8, &mut e.region_code)?;
    opt_text_into(r, 9, &mut e.project_code)?;
    opt_text_into(r, 10, &mut e.source_file)?;
    e.source_line = r.opt_int(11)?;
    opt_text_into(r, 12, &mut e.details)?;
    e.batch_id = r.int(13)?;
    text_into(r, 14, &mut e.recorded_at)?;
    text_into(r, 15, &mut e.prev_hash)?;
    text_into(r, 16, &mut e.hash)?;
    Ok(())
}

fn posting(p: &PgCells<'_>) -> Result<StoredPosting> {
    Ok(StoredPosting {
        seq: p.int(1)?,
        account: p.text(2)?,
        amount: Fen::new(p.int(3)?),
    })
}

/// `posting` into a posting read before.
fn read_posting_into(p: &PgCells<'_>, into: &mut StoredPosting) -> Result<()> {
    into.seq = p.int(1)?;
    text_into(p, 2, &mut into.account)?;
    into.amount = Fen::new(p.int(3)?);
    Ok(())
}

/// Text cell `i` copied into `into`'s buffer.
fn text_into(r: &PgCells<'_>, i: usize, into: &mut String) -> Result<()> {
    let text = r.str(i)?;
    into.clear();
    into.push_str(text);
    Ok(())
}

/// [`text_into`] for a cell that may be NULL.
fn opt_text_into(r: &PgCells<'_>, i: usize, into: &mut Option<String>) -> Result<()> {
    match (r.opt_str(i)?, into.as_mut()) {
        (Some(text), Some(held)) => {
            held.clear();
            held.push_str(text);
        }
        (text, _) => *into = text.map(str::to_string),
    }
    Ok(())
}

/// One row of a scan's statement, its cells read as sqlx's `try_get`
/// reads them: the same values and the same errors, whether the row came
/// through the query protocol or in a binary `COPY`.
pub(crate) struct PgCells<'r> {
    source: Source<'r>,
}

enum Source<'r> {
    Fetched(Fetched<'r>),
    Copied(Copied<'r>),
}

/// A row of the query protocol. `try_get` compares the column's type with
/// the Rust type on every cell (a fifth of the reading thread of a 1M
/// trail, with `from_utf8`), though a column's type is the same on every
/// row of a query: here a column found compatible is remembered for the
/// query's later rows and read unchecked; one that is not always goes
/// through `try_get`, so its error (or a NULL that `try_get` lets through)
/// is `try_get`'s own.
struct Fetched<'r> {
    row: &'r PgRow,
    checked: &'r CheckedColumns,
}

/// A row of a binary `COPY` whose columns are each `bigint` or `text`
/// (`types`, as the server described the statement): read as `try_get`
/// reads such a column, step by step (the index, a NULL, the type's
/// compatibility, the decoding).
struct Copied<'r> {
    row: &'r CopiedRow<'r>,
    types: &'r [CopiedColumn],
}

/// A column of a statement read as a binary `COPY`: its type, and whether
/// sqlx finds it compatible with each Rust type a scan reads, asked once
/// per statement instead of per cell (a tenth of the reading thread).
pub(crate) struct CopiedColumn {
    ty: PgTypeInfo,
    /// `i64` and `Option<i64>`.
    int: bool,
    /// `&str`, `String` and their `Option`s.
    text: bool,
}

impl CopiedColumn {
    /// `None` if the Rust types of one kind disagreed (sqlx's `Option<T>`
    /// asks `T`, and `String` asks `&str`: they never do).
    fn new(ty: PgTypeInfo) -> Option<CopiedColumn> {
        use sqlx::Type;
        let ints = [
            <i64 as Type<Postgres>>::compatible(&ty),
            <Option<i64> as Type<Postgres>>::compatible(&ty),
        ];
        let texts = [
            <&str as Type<Postgres>>::compatible(&ty),
            <String as Type<Postgres>>::compatible(&ty),
            <Option<&str> as Type<Postgres>>::compatible(&ty),
            <Option<String> as Type<Postgres>>::compatible(&ty),
        ];
        let int = ints[0];
        let text = texts[0];
        let agree = ints.iter().all(|c| *c == int) && texts.iter().all(|c| *c == text);
        agree.then_some(CopiedColumn { ty, int, text })
    }
}

/// Columns of the current query found compatible, one bit per column, for
/// each kind of Rust type read: text (`&str` and `String`, which sqlx
/// finds compatible with the same SQL types) and `i64`.
#[derive(Default)]
pub(crate) struct CheckedColumns {
    text: Cell<u64>,
    int: Cell<u64>,
}

impl<'r> Fetched<'r> {
    /// Whether column `i` may be read as `T` without a check: it was found
    /// compatible before (bit `i` of `known`), or is found so now.
    fn compatible<T: sqlx::Type<sqlx::Postgres>>(&self, i: usize, known: &Cell<u64>) -> bool {
        let Some(bit) = u32::try_from(i).ok().and_then(|i| 1u64.checked_shl(i)) else {
            return false;
        };
        if known.get() & bit != 0 {
            return true;
        }
        let Some(column) = self.row.columns().get(i) else {
            return false;
        };
        let ty = sqlx::Column::type_info(column);
        // `try_get` skips its check for a column of no type; so does the
        // fallback path, never this one.
        if ty.is_null() || !T::compatible(ty) {
            return false;
        }
        known.set(known.get() | bit);
        true
    }

    fn int(&self, i: usize) -> Result<i64> {
        if self.compatible::<i64>(i, &self.checked.int) {
            return Ok(self.row.try_get_unchecked(i)?);
        }
        Ok(self.row.try_get(i)?)
    }

    fn opt_int(&self, i: usize) -> Result<Option<i64>> {
        if self.compatible::<i64>(i, &self.checked.int) {
            return Ok(self.row.try_get_unchecked(i)?);
        }
        Ok(self.row.try_get(i)?)
    }

    fn opt_str(&self, i: usize) -> Result<Option<&'r str>> {
        if self.compatible::<&str>(i, &self.checked.text) {
            return self.text_unchecked(i);
        }
        Ok(self.row.try_get(i)?)
    }

    fn str(&self, i: usize) -> Result<&'r str> {
        if self.compatible::<&str>(i, &self.checked.text) {
            if let Some(text) = self.text_unchecked(i)? {
                return Ok(text);
            }
        }
        // Not text, or NULL: `try_get`'s own error for it.
        Ok(self.row.try_get(i)?)
    }

    /// The bytes of a text column's cell checked as UTF-8 with vector
    /// instructions (`scan::utf8`), the error `try_get` gives for bytes
    /// that are not.
    fn text_unchecked(&self, i: usize) -> Result<Option<&'r str>> {
        let value = self.row.try_get_raw(i)?;
        if sqlx::ValueRef::is_null(&value) {
            return Ok(None);
        }
        let decoded = value
            .as_bytes()
            .and_then(|bytes| crate::scan::utf8(bytes).map_err(Into::into));
        decoded.map(Some).map_err(|source| {
            StoreError::Sql(sqlx::Error::ColumnDecode {
                index: format!("{i:?}"),
                source,
            })
        })
    }

    fn text(&self, i: usize) -> Result<String> {
        if self.compatible::<String>(i, &self.checked.text) {
            if let Some(text) = self.text_unchecked(i)? {
                return Ok(text.to_string());
            }
        }
        Ok(self.row.try_get(i)?)
    }

    fn opt_text(&self, i: usize) -> Result<Option<String>> {
        if self.compatible::<String>(i, &self.checked.text) {
            return Ok(self.text_unchecked(i)?.map(str::to_string));
        }
        Ok(self.row.try_get(i)?)
    }
}

impl<'r> Copied<'r> {
    /// Cell `i`'s bytes (`None` for NULL) once `T` may read its column
    /// (`compatible` says whether it may), or the error `try_get::<T>`
    /// gives before decoding.
    fn cell<T: sqlx::Type<Postgres>>(
        &self,
        i: usize,
        compatible: impl Fn(&CopiedColumn) -> bool,
    ) -> Result<Option<&'r [u8]>> {
        let cells = self.row.cells;
        let Some(cell) = cells.get(i) else {
            return Err(sqlx::Error::ColumnIndexOutOfBounds {
                index: i,
                len: cells.len(),
            }
            .into());
        };
        let Some((start, end)) = *cell else {
            return Ok(None);
        };
        let column = &self.types[i];
        if !compatible(column) {
            return Err(decode_error(
                i,
                sqlx::error::mismatched_types::<Postgres, T>(&column.ty),
            ));
        }
        Ok(Some(&self.row.data[start..end]))
    }

    /// An integer cell read as `T` (`i64`, or `Option<i64>`, whose
    /// mismatch `try_get` names differently).
    fn int_as<T: sqlx::Type<Postgres>>(&self, i: usize) -> Result<Option<i64>> {
        self.cell::<T>(i, |c| c.int)?
            .map(|bytes| match <[u8; 8]>::try_from(bytes) {
                Ok(be) => Ok(i64::from_be_bytes(be)),
                Err(_) => Err(decode_error(
                    i,
                    format!("a bigint of {} byte(s)", bytes.len()).into(),
                )),
            })
            .transpose()
    }

    /// A text cell read as `T` (`&str`, `String` or their `Option`s).
    fn str_as<T: sqlx::Type<Postgres>>(&self, i: usize) -> Result<Option<&'r str>> {
        self.cell::<T>(i, |c| c.text)?
            .map(|bytes| crate::scan::utf8(bytes).map_err(|e| decode_error(i, e.into())))
            .transpose()
    }
}

/// `try_get`'s error for a cell that would not decode.
fn decode_error(i: usize, source: sqlx::error::BoxDynError) -> StoreError {
    StoreError::Sql(sqlx::Error::ColumnDecode {
        index: format!("{i:?}"),
        source,
    })
}

/// `try_get`'s error for a NULL read as a value that cannot be NULL.
fn unexpected_null(i: usize) -> StoreError {
    decode_error(i, Box::new(sqlx::error::UnexpectedNullError))
}

impl<'r> PgCells<'r> {
    fn int(&self, i: usize) -> Result<i64> {
        match &self.source {
            Source::Fetched(f) => f.int(i),
            Source::Copied(c) => c.int_as::<i64>(i)?.ok_or_else(|| unexpected_null(i)),
        }
    }

    fn opt_int(&self, i: usize) -> Result<Option<i64>> {
        match &self.source {
            Source::Fetched(f) => f.opt_int(i),
            Source::Copied(c) => c.int_as::<Option<i64>>(i),
        }
    }

    fn str(&self, i: usize) -> Result<&'r str> {
        match &self.source {
            Source::Fetched(f) => f.str(i),
            Source::Copied(c) => c.str_as::<&str>(i)?.ok_or_else(|| unexpected_null(i)),
        }
    }

    fn opt_str(&self, i: usize) -> Result<Option<&'r str>> {
        match &self.source {
            Source::Fetched(f) => f.opt_str(i),
            Source::Copied(c) => c.str_as::<Option<&str>>(i),
        }
    }
}

impl Cells for PgCells<'_> {
    fn text(&self, i: usize) -> Result<String> {
        match &self.source {
            Source::Fetched(f) => f.text(i),
            Source::Copied(c) => match c.str_as::<String>(i)? {
                Some(text) => Ok(text.to_string()),
                None => Err(unexpected_null(i)),
            },
        }
    }
    fn opt_text(&self, i: usize) -> Result<Option<String>> {
        match &self.source {
            Source::Fetched(f) => f.opt_text(i),
            Source::Copied(c) => Ok(c.str_as::<Option<String>>(i)?.map(str::to_string)),
        }
    }
    fn int(&self, i: usize) -> Result<i64> {
        PgCells::int(self, i)
    }
    fn opt_int(&self, i: usize) -> Result<Option<i64>> {
        PgCells::opt_int(self, i)
    }
    /// The received text lent without a copy.
    fn with_text(&self, i: usize, with: &mut dyn FnMut(&str)) -> Result<()> {
        with(self.str(i)?);
        Ok(())
    }
    fn with_opt_text(&self, i: usize, with: &mut dyn FnMut(Option<&str>)) -> Result<()> {
        with(self.opt_str(i)?);
        Ok(())
    }
}

impl TextCells for PgCells<'_> {
    fn str(&self, i: usize) -> Result<&str> {
        PgCells::str(self, i)
    }
    fn opt_str(&self, i: usize) -> Result<Option<&str>> {
        PgCells::opt_str(self, i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::TestDb;

    /// Columns of every type a tampered schema could hold, NULL on some rows
    /// and not others (first, later, never), read past the last column too.
    const CELLS: &str = "SELECT * FROM (VALUES \
        (1::bigint, 'a'::text, NULL::text, 2::int4, 'x'::varchar, NULL::bigint, 3.5::numeric, 'n'::name, '乐昌市'::text), \
        (NULL::bigint, NULL::text, 'c'::text, NULL::int4, 'y'::varchar, 4::bigint, NULL::numeric, 'm'::name, ''::text), \
        (5::bigint, 'b'::text, NULL::text, 6::int4, NULL::varchar, NULL::bigint, 7::numeric, 'o'::name, 'z'::text) \
        ) AS t(a, b, c, d, e, f, g, h, i)";

    /// Decision 31's regression: a page's postings come on a second
    /// connection, from the journal's snapshot. An entry committed after
    /// the scan's first read is in neither its journal rows nor its
    /// postings: on a snapshot of its own the second connection would see
    /// the newer entry's postings, and the page would hold an orphan
    /// marker for a ledger that is sound.
    #[tokio::test(flavor = "multi_thread")]
    async fn a_pages_postings_come_from_the_journals_snapshot() {
        let Some(db) = TestDb::postgres() else {
            return;
        };
        let store = db.store().await;
        let recorded_at = "2026-01-01T00:00:00Z";
        let budget = |yuan: i64| store.budget_set(2020, Fen::new(yuan * 100), recorded_at);
        budget(1_000).await.expect("the first entry");
        let url = db.url.clone();
        let (mut scan, max) = tokio::task::spawn_blocking(move || {
            let mut scan = PgScan::open(&url)?;
            let max = scan.max_entry_no()?;
            Ok::<_, StoreError>((scan, max))
        })
        .await
        .expect("the scan's thread")
        .expect("open scan");
        budget(2_000)
            .await
            .expect("an entry committed after the scan's first read");
        let page = tokio::task::spawn_blocking(move || scan.journal_page(0))
            .await
            .expect("the scan's thread")
            .expect("the first page");
        let read: Vec<(i64, &str, usize)> = page
            .iter()
            .map(|e| (e.entry_no, e.kind.as_str(), e.postings.len()))
            .collect();
        assert_eq!(max, 1);
        assert_eq!(read, [(1, "budget", 2)]);
        store.close().await;
    }

    /// A page whose postings statement is not a binary `COPY` (a tampered
    /// schema's: `account` made `varchar`) reads its postings after its
    /// rows on the one connection, as before decision 31, and gives the
    /// same entries the two connections gave.
    #[tokio::test(flavor = "multi_thread")]
    async fn a_page_whose_postings_are_not_copied_reads_as_before() {
        let Some(db) = TestDb::postgres() else {
            return;
        };
        let store = db.store().await;
        for yuan in [1_000, 2_000] {
            let amount = Fen::new(yuan * 100);
            store
                .budget_set(2020, amount, "2026-01-01T00:00:00Z")
                .await
                .expect("an entry");
        }
        let first_page = |url: String| {
            tokio::task::spawn_blocking(move || {
                let mut scan = PgScan::open(&url)?;
                let copied = scan.copyable_columns(POSTINGS_SELECT)?.is_some();
                Ok::<_, StoreError>((copied, scan.journal_page(0)?))
            })
        };
        let (copied, two_connections) = first_page(db.url.clone())
            .await
            .expect("the scan's thread")
            .expect("the page");
        assert!(copied, "a ledger's own postings are read as a COPY");
        sqlx::query("ALTER TABLE postings ALTER COLUMN account TYPE varchar")
            .execute(store.pool())
            .await
            .expect("the postings tampered with");
        let (copied, one_connection) = first_page(db.url.clone())
            .await
            .expect("the scan's thread")
            .expect("the page");
        assert!(!copied, "a varchar column is not read as a COPY");
        assert_eq!(two_connections.len(), 2);
        assert_eq!(one_connection, two_connections);
        store.close().await;
    }

    #[test]
    fn cells_read_as_try_get_reads_them_values_and_errors() {
        let Some(db) = TestDb::postgres() else {
            return;
        };
        let mut scan = PgScan::open(&db.url).expect("open scan");
        let mut rows = 0;
        scan.each_row(CELLS, (), |r| {
            let Source::Fetched(fetched) = &r.source else {
                panic!("a query protocol row")
            };
            for i in 0..=9 {
                let ours = every_read(r, i);
                let sqlx = every_try_get(fetched.row, i);
                assert_eq!(ours, sqlx, "row {rows}, column {i}");
            }
            rows += 1;
            Ok(())
        })
        .expect("scan");
        assert_eq!(rows, 3);
    }

    #[test]
    fn a_column_found_compatible_is_remembered_and_one_that_is_not_never_is() {
        let Some(db) = TestDb::postgres() else {
            return;
        };
        let mut scan = PgScan::open(&db.url).expect("open scan");
        let mut seen = Vec::new();
        scan.each_row(CELLS, (), |r| {
            for i in 0..=9 {
                let _ = r.int(i);
                let _ = r.str(i);
            }
            let Source::Fetched(fetched) = &r.source else {
                panic!("a query protocol row")
            };
            seen.push((fetched.checked.int.get(), fetched.checked.text.get()));
            Ok(())
        })
        .expect("scan");
        // a and f are bigint; b, c, e, h and i text-like (name too); d
        // (int4), g (numeric) and the column past the end never are.
        let int = 0b10_0001;
        let text = 0b1_1001_0110;
        assert_eq!(seen, vec![(int, text); 3]);
    }

    /// Columns of the two types a binary `COPY` carries, NULL on some rows.
    const COPIED: &str = "SELECT * FROM (VALUES \
        (1::bigint, 'a'::text, NULL::text, NULL::bigint, '乐昌市'::text), \
        (NULL::bigint, NULL::text, 'c\\t\\n'::text, '-9223372036854775808'::bigint, ''::text), \
        (9223372036854775807::bigint, 'b'::text, NULL::text, 0::bigint, E'x\\ty'::text) \
        ) AS t(a, b, c, d, e)";

    /// Every way a scan reads cell `i` of a row, each as its value or its
    /// error's text.
    fn every_read(r: &PgCells<'_>, i: usize) -> Vec<String> {
        vec![
            format!("{:?}", r.int(i)),
            format!("{:?}", r.opt_int(i)),
            format!("{:?}", r.str(i)),
            format!("{:?}", r.opt_str(i)),
            format!("{:?}", Cells::text(r, i)),
            format!("{:?}", Cells::opt_text(r, i)),
        ]
    }

    /// The same reads through sqlx's `try_get`.
    fn every_try_get(row: &PgRow, i: usize) -> Vec<String> {
        let e = |e: sqlx::Error| StoreError::from(e);
        vec![
            format!("{:?}", row.try_get::<i64, _>(i).map_err(e)),
            format!("{:?}", row.try_get::<Option<i64>, _>(i).map_err(e)),
            format!("{:?}", row.try_get::<&str, _>(i).map_err(e)),
            format!("{:?}", row.try_get::<Option<&str>, _>(i).map_err(e)),
            format!("{:?}", row.try_get::<String, _>(i).map_err(e)),
            format!("{:?}", row.try_get::<Option<String>, _>(i).map_err(e)),
        ]
    }

    #[test]
    fn copied_cells_read_as_try_get_reads_them_values_and_errors() {
        let Some(db) = TestDb::postgres() else {
            return;
        };
        let mut scan = PgScan::open(&db.url).expect("open scan");
        let mut copied = Vec::new();
        scan.each_row(COPIED, (), |r| {
            assert!(matches!(r.source, Source::Copied(_)), "read as a COPY");
            copied.push((0..=5).flat_map(|i| every_read(r, i)).collect::<Vec<_>>());
            Ok(())
        })
        .expect("copied scan");
        let mut fetched = Vec::new();
        let PgScan { conn, runtime, .. } = &mut scan;
        runtime.block_on(async {
            let rows = sqlx::query(COPIED)
                .fetch_all(&mut *conn)
                .await
                .expect("fetch");
            for row in &rows {
                fetched.push(
                    (0..=5)
                        .flat_map(|i| every_try_get(row, i))
                        .collect::<Vec<_>>(),
                );
            }
        });
        assert_eq!(copied.len(), 3);
        assert_eq!(copied, fetched);
    }

    #[test]
    fn a_statement_with_other_column_types_is_fetched() {
        let Some(db) = TestDb::postgres() else {
            return;
        };
        let mut scan = PgScan::open(&db.url).expect("open scan");
        let mut sources = Vec::new();
        for sql in [COPIED, CELLS, "SELECT 1::int4", "SELECT 'n'::varchar"] {
            scan.each_row(sql, (), |r| {
                sources.push(matches!(r.source, Source::Copied(_)));
                Ok(())
            })
            .expect("scan");
        }
        assert_eq!(
            sources,
            [true, true, true, false, false, false, false, false]
        );
    }

    #[test]
    fn a_failed_row_leaves_the_scan_ready_for_its_next_statement() {
        let Some(db) = TestDb::postgres() else {
            return;
        };
        let mut scan = PgScan::open(&db.url).expect("open scan");
        let mut seen = 0;
        let failed = scan.each_row(COPIED, (), |_| {
            seen += 1;
            Err(StoreError::Refused("stop".into()))
        });
        assert_eq!(failed.expect_err("each failed").to_string(), "stop");
        assert_eq!(seen, 1);
        let mut rows = 0;
        scan.each_row(COPIED, (), |_| {
            rows += 1;
            Ok(())
        })
        .expect("the next statement");
        assert_eq!(rows, 3);
    }

    #[test]
    fn parameters_mean_the_same_written_in() {
        let Some(db) = TestDb::postgres() else {
            return;
        };
        let mut scan = PgScan::open(&db.url).expect("open scan");
        let mut read = |sql: &str, by_copy: bool, text: &str| {
            let mut out = Vec::new();
            let each = |r: &PgCells<'_>| {
                assert_eq!(matches!(r.source, Source::Copied(_)), by_copy);
                out.push((r.int(0)?, Cells::text(r, 1)?));
                Ok(())
            };
            if by_copy {
                scan.each_row(sql, text, each).expect("copied");
            } else {
                scan.each_fetched_row(sql, text, each).expect("fetched");
            }
            out
        };
        let sql = "SELECT n, $1 || v FROM (VALUES (1::bigint, 'a'::text), (2, 'b')) AS t(n, v) \
            WHERE v >= right($1, 1) ORDER BY n";
        for text in ["a", "b", "x'b", r"\b", "乐b"] {
            assert_eq!(read(sql, true, text), read(sql, false, text), "{text}");
        }
        let range = "SELECT g AS n, g::text AS t FROM generate_series(1::bigint, 9) AS g \
            WHERE g > $1 AND g <= $2 ORDER BY 1";
        let mut got = Vec::new();
        scan.each_row(range, (3, 6), |r| {
            got.push(r.int(0)?);
            Ok(())
        })
        .expect("range");
        assert_eq!(got, [4, 5, 6]);
    }
}
