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
//! A scan opens its own connection with the ledger's URL: the same server,
//! user and rights as the pool's. A store made on one pooled connection
//! (the tamper tests hold a transaction open on it) has no URL and keeps
//! the pool path, which sees that transaction.

use crate::ledger::DOMAIN_TABLES;
use crate::pages::DomainRow;
use crate::read::{journal_entry, orphan_marker, Cells, TextCells, JOURNAL_PAGE_ENTRIES};
use crate::scan::{spare_entries, OpenScan};
use crate::{Result, StoreError};
use fundledger_core::journal::{JournalEntry, StoredPosting};
use fundledger_core::Fen;
use futures_util::TryStreamExt;
use sqlx::postgres::{PgConnectOptions, PgRow};
use sqlx::{Connection, PgConnection, Row};
use std::str::FromStr;

/// A typed connection holding one read-only snapshot, driven by a runtime
/// of its own: a scan runs on a blocking thread (it reads ahead of its
/// caller), where the caller's runtime may not be entered.
pub(crate) struct PgScan {
    conn: PgConnection,
    runtime: tokio::runtime::Runtime,
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
            runtime,
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
        let mut spare = spare_entries();
        let mut entries = Vec::with_capacity(JOURNAL_PAGE_ENTRIES as usize);
        self.each_row(JOURNAL_SELECT, (after, upto), |r| {
            let e = match spare.pop() {
                Some(mut e) => {
                    read_entry_into(r, &mut e)?;
                    e
                }
                None => journal_entry(r)?,
            };
            entries.push(e);
            Ok(())
        })?;
        drop(spare);
        // Postings read so far into each entry (a reused entry still holds
        // the ones of the page it came from, overwritten in order).
        let mut filled = vec![0usize; entries.len()];
        let mut i = 0;
        self.each_row(POSTINGS_SELECT, (after, upto), |p| {
            let entry_no: i64 = p.try_get(0)?;
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
        })?;
        for (e, n) in entries.iter_mut().zip(&filled) {
            e.postings.truncate(*n);
        }
        entries.sort_by_key(|e| e.entry_no);
        Ok(entries)
    }

    /// Every domain row filed under entries `after + 1 ..= upto`.
    pub(crate) fn domain_rows(&mut self, after: i64, upto: i64) -> Result<Vec<DomainRow>> {
        let mut out = Vec::new();
        for table in DOMAIN_TABLES {
            let sql = table.select_by_entries(("$1", "$2"));
            self.each_row(&sql, (after, upto), |r| {
                out.push(DomainRow {
                    table: table.name,
                    entry_no: r.try_get(table.columns.len())?,
                    details: table.details_of(r)?,
                });
                Ok(())
            })?;
        }
        Ok(out)
    }

    /// Runs `sql` with the two `params` and hands each row to `each` as it
    /// arrives, stopping at the first error.
    pub(crate) fn each_row<P>(
        &mut self,
        sql: &str,
        params: P,
        mut each: impl FnMut(&PgRow) -> Result<()>,
    ) -> Result<()>
    where
        P: PgParams,
    {
        let PgScan { conn, runtime, .. } = self;
        runtime.block_on(async {
            let mut rows = params.bind_to(sqlx::query(sql)).fetch(&mut *conn);
            while let Some(row) = rows.try_next().await? {
                each(&row)?;
            }
            Ok(())
        })
    }
}

/// The parameters a scan's statements take.
pub(crate) trait PgParams {
    fn bind_to<'q>(
        self,
        query: sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>,
    ) -> sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>;
}

impl PgParams for () {
    fn bind_to<'q>(
        self,
        query: sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>,
    ) -> sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments> {
        query
    }
}

impl PgParams for (i64, i64) {
    fn bind_to<'q>(
        self,
        query: sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>,
    ) -> sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments> {
        query.bind(self.0).bind(self.1)
    }
}

impl PgParams for &str {
    fn bind_to<'q>(
        self,
        query: sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>,
    ) -> sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments> {
        query.bind(self.to_string())
    }
}

/// `journal_entry` into an entry read before: the same values, or the
/// same first error, column by column.
fn read_entry_into(r: &PgRow, e: &mut JournalEntry) -> Result<()> {
    e.entry_no = r.try_get(0)?;
    text_into(r, 1, &mut e.tx_id)?;
    text_into(r, 2, &mut e.tx_date)?;
    text_into(r, 3, &mut e.kind)?;
    text_into(r, 4, &mut e.description)?;
    e.fiscal_year = r.try_get(5)?;
    opt_text_into(r, 6, &mut e.doc_no)?;
    opt_text_into(r, 7, &mut e.voucher_no)?;
    opt_text_into(r, 8, &mut e.region_code)?;
    opt_text_into(r, 9, &mut e.project_code)?;
    opt_text_into(r, 10, &mut e.source_file)?;
    e.source_line = r.try_get(11)?;
    opt_text_into(r, 12, &mut e.details)?;
    e.batch_id = r.try_get(13)?;
    text_into(r, 14, &mut e.recorded_at)?;
    text_into(r, 15, &mut e.prev_hash)?;
    text_into(r, 16, &mut e.hash)?;
    Ok(())
}

fn posting(p: &PgRow) -> Result<StoredPosting> {
    Ok(StoredPosting {
        seq: p.try_get(1)?,
        account: p.try_get(2)?,
        amount: Fen::new(p.try_get(3)?),
    })
}

/// `posting` into a posting read before.
fn read_posting_into(p: &PgRow, into: &mut StoredPosting) -> Result<()> {
    into.seq = p.try_get(1)?;
    text_into(p, 2, &mut into.account)?;
    into.amount = Fen::new(p.try_get(3)?);
    Ok(())
}

/// Text cell `i` copied into `into`'s buffer.
fn text_into(r: &PgRow, i: usize, into: &mut String) -> Result<()> {
    let text: &str = r.try_get(i)?;
    into.clear();
    into.push_str(text);
    Ok(())
}

/// [`text_into`] for a cell that may be NULL.
fn opt_text_into(r: &PgRow, i: usize, into: &mut Option<String>) -> Result<()> {
    match (r.try_get::<Option<&str>, _>(i)?, into.as_mut()) {
        (Some(text), Some(held)) => {
            held.clear();
            held.push_str(text);
        }
        (text, _) => *into = text.map(str::to_string),
    }
    Ok(())
}

impl Cells for PgRow {
    fn text(&self, i: usize) -> Result<String> {
        Ok(self.try_get(i)?)
    }
    fn opt_text(&self, i: usize) -> Result<Option<String>> {
        Ok(self.try_get(i)?)
    }
    fn int(&self, i: usize) -> Result<i64> {
        Ok(self.try_get(i)?)
    }
    fn opt_int(&self, i: usize) -> Result<Option<i64>> {
        Ok(self.try_get(i)?)
    }
    /// The received text lent without a copy.
    fn with_text(&self, i: usize, with: &mut dyn FnMut(&str)) -> Result<()> {
        with(self.try_get::<&str, _>(i)?);
        Ok(())
    }
    fn with_opt_text(&self, i: usize, with: &mut dyn FnMut(Option<&str>)) -> Result<()> {
        with(self.try_get::<Option<&str>, _>(i)?);
        Ok(())
    }
}

impl TextCells for PgRow {
    fn str(&self, i: usize) -> Result<&str> {
        Ok(self.try_get(i)?)
    }
    fn opt_str(&self, i: usize) -> Result<Option<&str>> {
        Ok(self.try_get(i)?)
    }
}
