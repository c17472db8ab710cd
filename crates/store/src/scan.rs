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
use crate::pages::{DomainRow, JournalPage};
use crate::read::Cells;
use crate::read::{orphan_marker, JOURNAL_PAGE_ENTRIES};
use crate::{Result, StoreError, SQLITE_BUSY_TIMEOUT_MS};
use fundledger_core::journal::{JournalEntry, StoredPosting};
use fundledger_core::Fen;
use rusqlite::{Connection, OpenFlags};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};

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
    _open: OpenScan,
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
        Ok(SqliteScan {
            conn,
            _open: OpenScan::new(),
        })
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
    /// postings; postings whose entry is gone come as orphan markers. The
    /// entries of a page handed back ([`JournalPage::recycle`]) are read
    /// into, every field overwritten: their strings are reused, not
    /// allocated (and freed by the reader's thread) anew.
    pub(crate) fn journal_page(&self, after: i64) -> Result<Vec<JournalEntry>> {
        let upto = after + JOURNAL_PAGE_ENTRIES;
        // Read in place: moving each entry out of the spare page and into
        // a new one was 3 % of the reading thread's time.
        let mut entries = spare_entries();
        let mut read = 0;
        let mut stmt = self
            .conn
            .prepare_cached(JOURNAL_SELECT)
            .map_err(scan_error)?;
        let mut rows = stmt.query((after, upto)).map_err(scan_error)?;
        while let Some(r) = rows.next().map_err(scan_error)? {
            match entries.get_mut(read) {
                Some(e) => read_entry_into(r, e).map_err(scan_error)?,
                None => entries.push(journal_entry(r).map_err(scan_error)?),
            }
            read += 1;
        }
        entries.truncate(read);
        // Postings read so far into each entry (a reused entry still holds
        // the ones of the page it came from, overwritten in order).
        let mut filled = vec![0usize; entries.len()];
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
            match entries.get_mut(i) {
                Some(e) if e.entry_no == entry_no => match filled.get_mut(i) {
                    Some(n) => {
                        match e.postings.get_mut(*n) {
                            Some(into) => read_posting_into(p, into).map_err(scan_error)?,
                            None => e.postings.push(posting(p).map_err(scan_error)?),
                        }
                        *n += 1;
                    }
                    // An orphan marker pushed below (past the journal
                    // rows): its entry's next posting.
                    None => e.postings.push(posting(p).map_err(scan_error)?),
                },
                // A posting whose entry is missing: verify reports it.
                _ => entries.push(orphan_marker(entry_no, posting(p).map_err(scan_error)?)),
            }
        }
        for (e, n) in entries.iter_mut().zip(&filled) {
            e.postings.truncate(*n);
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
                // Rendered from the lent cells: no value or string per cell.
                let details = table.details_of(r)?;
                out.push(DomainRow {
                    table: table.name,
                    entry_no: r.get(table.columns.len()).map_err(scan_error)?,
                    details,
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
    /// The stored UTF-8 text lent without a copy; anything else (a NULL, a
    /// value of another type, bytes that are not UTF-8) goes through
    /// [`Cells::text`], so the value or the error is the one it gives.
    fn with_text(&self, i: usize, with: &mut dyn FnMut(&str)) -> Result<()> {
        match self.get_ref(i).ok().and_then(lent_text) {
            Some(Some(text)) => with(text),
            _ => with(&self.text(i)?),
        }
        Ok(())
    }
    fn with_opt_text(&self, i: usize, with: &mut dyn FnMut(Option<&str>)) -> Result<()> {
        match self.get_ref(i).ok().and_then(lent_text) {
            Some(text) => with(text),
            None => with(self.opt_text(i)?.as_deref()),
        }
        Ok(())
    }
}

/// A cell rusqlite can lend as text: `Some(None)` for NULL, `Some(Some(_))`
/// for UTF-8 text; `None` for the rest, which the copying path reads (or
/// refuses) as it always has.
fn lent_text(cell: rusqlite::types::ValueRef<'_>) -> Option<Option<&str>> {
    use rusqlite::types::ValueRef;
    match cell {
        ValueRef::Null => Some(None),
        ValueRef::Text(bytes) => utf8(bytes).ok().map(Some),
        _ => None,
    }
}

/// `bytes` as text, as `std::str::from_utf8` judges it (and with its error),
/// checked with vector instructions first: the standard check was 7 % of a
/// 1M-voucher trail's or verify's samples (the details are long, mostly
/// Chinese).
pub(crate) fn utf8(bytes: &[u8]) -> Result<&str, std::str::Utf8Error> {
    simdutf8::basic::from_utf8(bytes).or_else(|_| std::str::from_utf8(bytes))
}

/// Pages' entries handed back by their readers, for the next page to be
/// read into (only while a scan runs: the last one to end empties it).
static SPARE_PAGES: Mutex<Vec<Vec<JournalEntry>>> = Mutex::new(Vec::new());
/// Scans open now.
static OPEN_SCANS: AtomicUsize = AtomicUsize::new(0);
/// Pages kept for reuse: those in flight between the threads, and one.
const SPARE_PAGES_KEPT: usize = 4;

fn spare_pages() -> std::sync::MutexGuard<'static, Vec<Vec<JournalEntry>>> {
    // The list holds plain data: a thread that panicked holding the lock
    // left it whole.
    SPARE_PAGES.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The entries of a page handed back, or none.
pub(crate) fn spare_entries() -> Vec<JournalEntry> {
    spare_pages().pop().unwrap_or_default()
}

impl JournalPage {
    /// Hands the page's entries back for a later page of a scan to be read
    /// into, so that their strings are reused instead of freed here and
    /// allocated again there. Dropping a page instead is always right; with
    /// no scan open (pages through the pool) this is dropping it.
    pub fn recycle(self) {
        let entries = self.entries;
        if OPEN_SCANS.load(Ordering::Acquire) == 0 {
            return;
        }
        let mut spare = spare_pages();
        if spare.len() < SPARE_PAGES_KEPT {
            spare.push(entries);
        }
    }
}

/// A scan (SQLite's or PostgreSQL's) open while this lives: pages handed
/// back meanwhile are kept for it to read into.
pub(crate) struct OpenScan(());

impl OpenScan {
    pub(crate) fn new() -> OpenScan {
        OPEN_SCANS.fetch_add(1, Ordering::AcqRel);
        OpenScan(())
    }
}

impl Drop for OpenScan {
    fn drop(&mut self) {
        if OPEN_SCANS.fetch_sub(1, Ordering::AcqRel) == 1 {
            // Taken out of the lock before they are freed.
            let spare = std::mem::take(&mut *spare_pages());
            drop(spare);
        }
    }
}

/// `journal_entry` into an entry read before: the same values, or the
/// same first error, column by column.
fn read_entry_into(r: &rusqlite::Row<'_>, e: &mut JournalEntry) -> rusqlite::Result<()> {
    e.entry_no = r.get(0)?;
    read_text_into(r, 1, &mut e.tx_id)?;
    read_text_into(r, 2, &mut e.tx_date)?;
    read_text_into(r, 3, &mut e.kind)?;
    read_text_into(r, 4, &mut e.description)?;
    e.fiscal_year = r.get(5)?;
    read_opt_text_into(r, 6, &mut e.doc_no)?;
    read_opt_text_into(r, 7, &mut e.voucher_no)?;
    read_opt_text_into(r, 8, &mut e.region_code)?;
    read_opt_text_into(r, 9, &mut e.project_code)?;
    read_opt_text_into(r, 10, &mut e.source_file)?;
    e.source_line = r.get(11)?;
    read_opt_text_into(r, 12, &mut e.details)?;
    e.batch_id = r.get(13)?;
    read_text_into(r, 14, &mut e.recorded_at)?;
    read_text_into(r, 15, &mut e.prev_hash)?;
    read_text_into(r, 16, &mut e.hash)?;
    Ok(())
}

fn posting(p: &rusqlite::Row<'_>) -> rusqlite::Result<StoredPosting> {
    Ok(StoredPosting {
        seq: p.get(1)?,
        account: p.get(2)?,
        amount: Fen::new(p.get(3)?),
    })
}

/// `posting` into a posting read before.
fn read_posting_into(p: &rusqlite::Row<'_>, into: &mut StoredPosting) -> rusqlite::Result<()> {
    into.seq = p.get(1)?;
    read_text_into(p, 2, &mut into.account)?;
    into.amount = Fen::new(p.get(3)?);
    Ok(())
}

/// Text cell `i` copied into `into`'s buffer; anything but UTF-8 text
/// goes through `get`, so the value or the error is the one it gives.
fn read_text_into(r: &rusqlite::Row<'_>, i: usize, into: &mut String) -> rusqlite::Result<()> {
    match r.get_ref(i).ok().and_then(lent_text) {
        Some(Some(text)) => {
            into.clear();
            into.push_str(text);
        }
        _ => *into = r.get(i)?,
    }
    Ok(())
}

/// [`read_text_into`] for a cell that may be NULL.
fn read_opt_text_into(
    r: &rusqlite::Row<'_>,
    i: usize,
    into: &mut Option<String>,
) -> rusqlite::Result<()> {
    match (r.get_ref(i).ok().and_then(lent_text), into.as_mut()) {
        (Some(Some(text)), Some(held)) => {
            held.clear();
            held.push_str(text);
        }
        (Some(text), _) => *into = text.map(str::to_string),
        (None, _) => *into = r.get(i)?,
    }
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::{ColType, DomainTable};
    use crate::write::Val;
    use proptest::prelude::*;

    /// `details` as first written (a `String` per escaped cell, `to_string`
    /// per number): the oracle both renderers must match byte for byte, or
    /// every stored entry's details would stop matching its row.
    fn details_as_first_written(table: &DomainTable, row: &[Val]) -> String {
        fn escape(t: &str) -> String {
            let mut s = String::with_capacity(t.len());
            for c in t.chars() {
                if matches!(c, '\\' | ';' | '=' | '|' | '~') {
                    s.push('\\');
                }
                s.push(c);
            }
            s
        }
        let mut out = String::from(table.name);
        out.push('|');
        for (i, ((name, _), v)) in table.columns.iter().zip(row).enumerate() {
            if i > 0 {
                out.push(';');
            }
            out.push_str(name);
            out.push('=');
            match v {
                Val::Int(x) | Val::OptInt(Some(x)) => out.push_str(&x.to_string()),
                Val::Text(t) | Val::OptText(Some(t)) => out.push_str(&escape(t)),
                Val::OptInt(None) | Val::OptText(None) => out.push('~'),
            }
        }
        out
    }

    /// One table of untyped columns (no affinity: what is bound is stored)
    /// named after `table`'s, holding `rows`.
    fn memory_table(table: &DomainTable, rows: &[Vec<Val>]) -> Connection {
        let conn = Connection::open_in_memory().unwrap();
        let names = table.column_names();
        conn.execute_batch(&format!(
            "CREATE TABLE {} ({}, entry_no)",
            table.name,
            names.join(", ")
        ))
        .unwrap();
        let marks: Vec<String> = (1..=names.len() + 1).map(|i| format!("?{i}")).collect();
        let sql = format!("INSERT INTO {} VALUES ({})", table.name, marks.join(", "));
        for (n, row) in rows.iter().enumerate() {
            let mut values: Vec<rusqlite::types::Value> = row
                .iter()
                .map(|v| match v {
                    Val::Int(x) | Val::OptInt(Some(x)) => (*x).into(),
                    Val::Text(t) | Val::OptText(Some(t)) => t.clone().into(),
                    Val::OptInt(None) | Val::OptText(None) => rusqlite::types::Value::Null,
                })
                .collect();
            values.push((n as i64 + 1).into());
            conn.execute(&sql, rusqlite::params_from_iter(values))
                .unwrap();
        }
        conn
    }

    fn cell(t: ColType) -> BoxedStrategy<Val> {
        let text = "[a-z0-9 \\\\;=|~\t\n\u{4e2d}\u{3014}\u{3015}]{0,24}";
        match t {
            ColType::Int => any::<i64>().prop_map(Val::Int).boxed(),
            ColType::OptInt => proptest::option::of(any::<i64>())
                .prop_map(Val::OptInt)
                .boxed(),
            ColType::Text => text.prop_map(Val::Text).boxed(),
            ColType::OptText => proptest::option::of(text).prop_map(Val::OptText).boxed(),
        }
    }

    fn table_and_rows() -> impl Strategy<Value = (usize, Vec<Vec<Val>>)> {
        (0..DOMAIN_TABLES.len()).prop_flat_map(|t| {
            let cells: Vec<_> = DOMAIN_TABLES[t]
                .columns
                .iter()
                .map(|(_, c)| cell(*c))
                .collect();
            (Just(t), proptest::collection::vec(cells, 1..4))
        })
    }

    proptest! {
        /// Rendered from rusqlite's lent cells (`details_of`, what `verify`
        /// reads) or from the values (`details`, what an import writes),
        /// the details are the ones first written.
        #[test]
        fn details_are_rendered_as_first_written((t, rows) in table_and_rows()) {
            let table = DOMAIN_TABLES[t];
            let conn = memory_table(table, &rows);
            let sql = format!("SELECT {} FROM {} ORDER BY entry_no", table.column_names().join(", "), table.name);
            let mut stmt = conn.prepare(&sql).unwrap();
            let mut read = stmt.query([]).unwrap();
            let mut n = 0;
            while let Some(r) = read.next().unwrap() {
                let want = details_as_first_written(table, &rows[n]);
                prop_assert_eq!(&table.details(&rows[n]), &want);
                prop_assert_eq!(&table.details_of(r).unwrap(), &want);
                prop_assert_eq!(&table.details(&table.read_row(r).unwrap()), &want);
                n += 1;
            }
            prop_assert_eq!(n, rows.len());
        }
    }

    /// Lending a cell gives what copying it gives, the errors of a forged
    /// cell (a number, a blob, bytes that are not UTF-8, a NULL where text
    /// is required) included, word for word.
    #[test]
    fn lent_cells_read_as_copied_ones() {
        let conn = Connection::open_in_memory().unwrap();
        let row_sql = "SELECT 'a;b=c', NULL, 42, 1.5, X'00ff', CAST(X'ff' AS TEXT), '', '中〔x〕'";
        let mut stmt = conn.prepare(row_sql).unwrap();
        let mut rows = stmt.query([]).unwrap();
        let r = rows.next().unwrap().unwrap();
        let shown = |e: StoreError| e.to_string();
        for i in 0..8 {
            let mut lent = None;
            let got = r.with_text(i, &mut |t| lent = Some(t.to_string()));
            match r.text(i) {
                Ok(copied) => {
                    assert!(got.is_ok(), "column {i}");
                    assert_eq!(lent, Some(copied), "column {i}");
                }
                Err(e) => assert_eq!(got.map_err(shown).unwrap_err(), shown(e), "column {i}"),
            }
            let mut lent = None;
            let got = r.with_opt_text(i, &mut |t| lent = Some(t.map(str::to_string)));
            match r.opt_text(i) {
                Ok(copied) => {
                    assert!(got.is_ok(), "column {i}");
                    assert_eq!(lent, Some(copied), "column {i}");
                }
                Err(e) => assert_eq!(got.map_err(shown).unwrap_err(), shown(e), "column {i}"),
            }
        }
    }

    proptest! {
        /// The vector check judges text as the standard one does, and
        /// reports the standard error (valid text, broken sequences, Chinese).
        #[test]
        fn utf8_is_judged_as_std_judges_it(
            text in "[a-z0-9=;|\u{4e2d}\u{3014}\u{1f600}]{0,80}",
            cut in any::<prop::sample::Index>(),
            noise in any::<u8>(),
        ) {
            let valid = text.as_bytes();
            prop_assert_eq!(utf8(valid), Ok(text.as_str()));
            let mut broken = valid.to_vec();
            if !broken.is_empty() {
                let at = cut.index(broken.len());
                broken[at] = noise;
            }
            prop_assert_eq!(utf8(&broken), std::str::from_utf8(&broken));
        }
    }
}
