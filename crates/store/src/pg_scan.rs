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
use crate::read::{orphan_marker, Cells, TextCells, JOURNAL_PAGE_ENTRIES};
use crate::scan::{spare_entries, OpenScan};
use crate::{Result, StoreError};
use fundledger_core::journal::{JournalEntry, StoredPosting};
use fundledger_core::Fen;
use futures_util::TryStreamExt;
use sqlx::postgres::{PgConnectOptions, PgRow};
use sqlx::{Connection, PgConnection, Row, TypeInfo};
use std::cell::Cell;
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
            let mut e = spare.pop().unwrap_or_default();
            read_entry_into(r, &mut e)?;
            entries.push(e);
            Ok(())
        })?;
        drop(spare);
        // Postings read so far into each entry (a reused entry still holds
        // the ones of the page it came from, overwritten in order).
        let mut filled = vec![0usize; entries.len()];
        let mut i = 0;
        self.each_row(POSTINGS_SELECT, (after, upto), |p| {
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
                    entry_no: r.int(table.columns.len())?,
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
                    row: &row,
                    checked: &checked,
                })?;
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

/// One row of a scan's query, its cells read as sqlx's `try_get` reads
/// them: the same values and the same errors. `try_get` compares the
/// column's type with the Rust type on every cell (a fifth of the reading
/// thread of a 1M trail, with `from_utf8`), though a column's type is the
/// same on every row of a query: here a column found compatible is
/// remembered for the query's later rows and read unchecked; one that is
/// not always goes through `try_get`, so its error (or a NULL that
/// `try_get` lets through) is `try_get`'s own.
pub(crate) struct PgCells<'r> {
    row: &'r PgRow,
    checked: &'r CheckedColumns,
}

/// Columns of the current query found compatible, one bit per column, for
/// each kind of Rust type read: text (`&str` and `String`, which sqlx
/// finds compatible with the same SQL types) and `i64`.
#[derive(Default)]
pub(crate) struct CheckedColumns {
    text: Cell<u64>,
    int: Cell<u64>,
}

impl<'r> PgCells<'r> {
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
}

impl Cells for PgCells<'_> {
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

    /// Every way a scan reads a cell, as `PgCells` reads it and as sqlx's
    /// `try_get` does, each as its value or its error's text.
    fn both_ways(r: &PgCells<'_>, i: usize) -> Vec<(String, String)> {
        let row = r.row;
        vec![
            (
                format!("{:?}", r.int(i)),
                format!("{:?}", row.try_get::<i64, _>(i).map_err(StoreError::from)),
            ),
            (
                format!("{:?}", r.opt_int(i)),
                format!(
                    "{:?}",
                    row.try_get::<Option<i64>, _>(i).map_err(StoreError::from)
                ),
            ),
            (
                format!("{:?}", r.str(i)),
                format!("{:?}", row.try_get::<&str, _>(i).map_err(StoreError::from)),
            ),
            (
                format!("{:?}", r.opt_str(i)),
                format!(
                    "{:?}",
                    row.try_get::<Option<&str>, _>(i).map_err(StoreError::from)
                ),
            ),
            (
                format!("{:?}", r.text(i)),
                format!(
                    "{:?}",
                    row.try_get::<String, _>(i).map_err(StoreError::from)
                ),
            ),
        ]
    }

    /// Columns of every type a tampered schema could hold, NULL on some rows
    /// and not others (first, later, never), read past the last column too.
    const CELLS: &str = "SELECT * FROM (VALUES \
        (1::bigint, 'a'::text, NULL::text, 2::int4, 'x'::varchar, NULL::bigint, 3.5::numeric, 'n'::name, '乐昌市'::text), \
        (NULL::bigint, NULL::text, 'c'::text, NULL::int4, 'y'::varchar, 4::bigint, NULL::numeric, 'm'::name, ''::text), \
        (5::bigint, 'b'::text, NULL::text, 6::int4, NULL::varchar, NULL::bigint, 7::numeric, 'o'::name, 'z'::text) \
        ) AS t(a, b, c, d, e, f, g, h, i)";

    #[test]
    fn cells_read_as_try_get_reads_them_values_and_errors() {
        let Some(db) = TestDb::postgres() else {
            return;
        };
        let mut scan = PgScan::open(&db.url).expect("open scan");
        let mut rows = 0;
        scan.each_row(CELLS, (), |r| {
            for i in 0..=9 {
                for (ours, sqlx) in both_ways(r, i) {
                    assert_eq!(ours, sqlx, "row {rows}, column {i}");
                }
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
            seen.push((r.checked.int.get(), r.checked.text.get()));
            Ok(())
        })
        .expect("scan");
        // a and f are bigint; b, c, e, h and i text-like (name too); d
        // (int4), g (numeric) and the column past the end never are.
        let int = 0b10_0001;
        let text = 0b1_1001_0110;
        assert_eq!(seen, vec![(int, text); 3]);
    }
}
