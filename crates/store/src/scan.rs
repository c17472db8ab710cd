//! Bulk read-only scans of a SQLite ledger: the journal with its postings
//! and the domain rows under it, a page at a time, for `verify` and the
//! whole-ledger exports.
//!
//! Through sqlx every row crosses from its SQLite worker thread over a
//! channel and is converted to an `AnyRow` with its own copy of the column
//! list: four fifths of `verify`'s time at 1M vouchers. Here rusqlite reads
//! the same file (the same linked SQLite, libsqlite3-sys 0.30) on the
//! calling thread, each statement prepared once per scan, inside one read
//! transaction so that every page comes from the same snapshot
//! (docs/adr/0005-write-path.md). PostgreSQL keeps the sqlx path.

use crate::ledger::DOMAIN_TABLES;
use crate::pages::DomainRow;
use crate::read::Cells;
use crate::read::{orphan_marker, JOURNAL_PAGE_ENTRIES};
use crate::{Result, StoreError, SQLITE_BUSY_TIMEOUT_MS};
use fundledger_core::journal::{JournalEntry, StoredPosting};
use fundledger_core::Fen;
use rusqlite::{Connection, OpenFlags};

/// The journal columns in the order a page reads them.
const JOURNAL_SELECT: &str = "SELECT entry_no, tx_id, tx_date, kind, description, fiscal_year, \
    doc_no, voucher_no, region_code, project_code, source_file, source_line, details, batch_id, \
    recorded_at, prev_hash, hash FROM journal WHERE entry_no > ?1 AND entry_no <= ?2 \
    ORDER BY entry_no";
const POSTINGS_SELECT: &str = "SELECT entry_no, seq, account, amount_fen FROM postings \
    WHERE entry_no > ?1 AND entry_no <= ?2 ORDER BY entry_no, seq";

/// A read-only connection holding one read transaction (one snapshot).
pub(crate) struct SqliteScan {
    conn: Connection,
}

impl SqliteScan {
    pub(crate) fn open(path: &str) -> Result<SqliteScan> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(scan_error)?;
        conn.busy_timeout(std::time::Duration::from_millis(u64::from(
            SQLITE_BUSY_TIMEOUT_MS,
        )))
        .map_err(scan_error)?;
        // A deferred read transaction: its snapshot is taken at the first
        // read and held until the scan is dropped.
        conn.execute_batch("BEGIN").map_err(scan_error)?;
        Ok(SqliteScan { conn })
    }

    /// The highest entry number in this snapshot (0 for an empty journal).
    pub(crate) fn max_entry_no(&self) -> Result<i64> {
        let max: Option<i64> = self
            .conn
            .query_row("SELECT MAX(entry_no) FROM journal", [], |r| r.get(0))
            .map_err(scan_error)?;
        Ok(max.unwrap_or(0))
    }

    /// Entries `after + 1 ..= after + JOURNAL_PAGE_ENTRIES` with their
    /// postings; postings whose entry is gone come as orphan markers.
    pub(crate) fn journal_page(&self, after: i64) -> Result<Vec<JournalEntry>> {
        let upto = after + JOURNAL_PAGE_ENTRIES;
        let mut entries = Vec::with_capacity(JOURNAL_PAGE_ENTRIES as usize);
        let mut stmt = self
            .conn
            .prepare_cached(JOURNAL_SELECT)
            .map_err(scan_error)?;
        let mut rows = stmt.query((after, upto)).map_err(scan_error)?;
        while let Some(r) = rows.next().map_err(scan_error)? {
            entries.push(journal_entry(r).map_err(scan_error)?);
        }
        let mut stmt = self
            .conn
            .prepare_cached(POSTINGS_SELECT)
            .map_err(scan_error)?;
        let mut rows = stmt.query((after, upto)).map_err(scan_error)?;
        let mut i = 0;
        while let Some(p) = rows.next().map_err(scan_error)? {
            let entry_no: i64 = p.get(0).map_err(scan_error)?;
            while i < entries.len() && entries[i].entry_no < entry_no {
                i += 1;
            }
            let posting = StoredPosting {
                seq: p.get(1).map_err(scan_error)?,
                account: p.get(2).map_err(scan_error)?,
                amount: Fen::new(p.get(3).map_err(scan_error)?),
            };
            match entries.get_mut(i) {
                Some(e) if e.entry_no == entry_no => e.postings.push(posting),
                // A posting whose entry is missing: verify reports it.
                _ => entries.push(orphan_marker(entry_no, posting)),
            }
        }
        entries.sort_by_key(|e| e.entry_no);
        Ok(entries)
    }

    /// Every domain row filed under entries `after + 1 ..= upto`.
    pub(crate) fn domain_rows(&self, after: i64, upto: i64) -> Result<Vec<DomainRow>> {
        let mut out = Vec::new();
        for table in DOMAIN_TABLES {
            let sql = table.select_by_entries(("?1", "?2"));
            let mut stmt = self.conn.prepare_cached(&sql).map_err(scan_error)?;
            let mut rows = stmt.query((after, upto)).map_err(scan_error)?;
            while let Some(r) = rows.next().map_err(scan_error)? {
                let vals = table.read_row(r)?;
                out.push(DomainRow {
                    table: table.name,
                    entry_no: r.get(table.columns.len()).map_err(scan_error)?,
                    details: table.details(&vals),
                });
            }
        }
        Ok(out)
    }
}

impl SqliteScan {
    /// Runs `sql` with `params` and hands each row to `each`, stopping at
    /// the first error.
    pub(crate) fn each_row(
        &self,
        sql: &str,
        params: impl rusqlite::Params,
        mut each: impl FnMut(&rusqlite::Row<'_>) -> Result<()>,
    ) -> Result<()> {
        let mut stmt = self.conn.prepare_cached(sql).map_err(scan_error)?;
        let mut rows = stmt.query(params).map_err(scan_error)?;
        while let Some(r) = rows.next().map_err(scan_error)? {
            each(r)?;
        }
        Ok(())
    }
}

impl Cells for rusqlite::Row<'_> {
    fn text(&self, i: usize) -> Result<String> {
        self.get(i).map_err(scan_error)
    }
    fn opt_text(&self, i: usize) -> Result<Option<String>> {
        self.get(i).map_err(scan_error)
    }
    fn int(&self, i: usize) -> Result<i64> {
        self.get(i).map_err(scan_error)
    }
    fn opt_int(&self, i: usize) -> Result<Option<i64>> {
        self.get(i).map_err(scan_error)
    }
}

fn journal_entry(r: &rusqlite::Row<'_>) -> rusqlite::Result<JournalEntry> {
    Ok(JournalEntry {
        entry_no: r.get(0)?,
        tx_id: r.get(1)?,
        tx_date: r.get(2)?,
        kind: r.get(3)?,
        description: r.get(4)?,
        fiscal_year: r.get(5)?,
        doc_no: r.get(6)?,
        voucher_no: r.get(7)?,
        region_code: r.get(8)?,
        project_code: r.get(9)?,
        source_file: r.get(10)?,
        source_line: r.get(11)?,
        details: r.get(12)?,
        batch_id: r.get(13)?,
        recorded_at: r.get(14)?,
        prev_hash: r.get(15)?,
        hash: r.get(16)?,
        postings: Vec::new(),
    })
}

/// A stored value of the wrong type (only a forged row has one) or a read
/// failure, as the sqlx path reports it: a database error.
fn scan_error(e: rusqlite::Error) -> StoreError {
    StoreError::Sql(sqlx::Error::Decode(Box::new(e)))
}
