//! Reads: balances, the journal in entry order (paged, so memory stays flat).

use crate::{Result, Store, StoreError};
pub use fundledger_core::journal::{JournalEntry, StoredPosting};
use fundledger_core::{Account, Fen};
use sqlx::Row;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BalanceRow {
    pub account: Account,
    pub balance: Fen,
}

/// Everything that identifies the ledger's state, for "nothing changed" tests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LedgerSnapshot {
    pub entries: i64,
    pub postings: i64,
    pub head_hash: Option<String>,
    pub balances: Vec<BalanceRow>,
}

pub(crate) const JOURNAL_PAGE_ENTRIES: i64 = 2000;

/// A row's cells by position, whichever driver read it (sqlx on both
/// backends, rusqlite for SQLite's scans: scan.rs).
pub(crate) trait Cells {
    fn text(&self, i: usize) -> Result<String>;
    fn opt_text(&self, i: usize) -> Result<Option<String>>;
    fn int(&self, i: usize) -> Result<i64>;
    fn opt_int(&self, i: usize) -> Result<Option<i64>>;
    /// Text cell `i` lent to `with`, for a caller that only looks at it.
    /// A driver that can lend the stored bytes overrides this (rusqlite);
    /// the value, or the error, is always the one [`Cells::text`] gives.
    fn with_text(&self, i: usize, with: &mut dyn FnMut(&str)) -> Result<()> {
        with(&self.text(i)?);
        Ok(())
    }
    /// [`Cells::with_text`] for a cell that may be NULL ([`Cells::opt_text`]).
    fn with_opt_text(&self, i: usize, with: &mut dyn FnMut(Option<&str>)) -> Result<()> {
        with(self.opt_text(i)?.as_deref());
        Ok(())
    }
}

impl Cells for sqlx::any::AnyRow {
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
}

/// Text cells borrowed from the row instead of copied into a `String`: for
/// readers that reuse their buffers row after row (reconcile's voucher
/// stream, a million rows at a time). A NULL or non-text cell is a database
/// error, as through [`Cells::text`].
pub(crate) trait TextCells: Cells {
    fn str(&self, i: usize) -> Result<&str>;
    fn opt_str(&self, i: usize) -> Result<Option<&str>>;
}

impl TextCells for sqlx::any::AnyRow {
    fn str(&self, i: usize) -> Result<&str> {
        Ok(self.try_get(i)?)
    }
    fn opt_str(&self, i: usize) -> Result<Option<&str>> {
        Ok(self.try_get(i)?)
    }
}

impl TextCells for rusqlite::Row<'_> {
    fn str(&self, i: usize) -> Result<&str> {
        self.opt_str(i)?.ok_or_else(|| {
            rusqlite_error(rusqlite::Error::InvalidColumnType(
                i,
                column_name(self, i),
                rusqlite::types::Type::Null,
            ))
        })
    }
    fn opt_str(&self, i: usize) -> Result<Option<&str>> {
        use rusqlite::types::ValueRef;
        match self.get_ref(i).map_err(rusqlite_error)? {
            ValueRef::Null => Ok(None),
            ValueRef::Text(bytes) => crate::scan::utf8(bytes)
                .map(Some)
                .map_err(|e| rusqlite_error(rusqlite::Error::Utf8Error(e))),
            other => Err(rusqlite_error(rusqlite::Error::InvalidColumnType(
                i,
                column_name(self, i),
                other.data_type(),
            ))),
        }
    }
}

fn column_name(row: &rusqlite::Row<'_>, i: usize) -> String {
    row.as_ref()
        .column_name(i)
        .map(str::to_string)
        .unwrap_or_default()
}

/// A rusqlite error as the database error sqlx would have given (as scan.rs).
fn rusqlite_error(e: rusqlite::Error) -> StoreError {
    StoreError::Sql(sqlx::Error::Decode(Box::new(e)))
}

impl Store {
    /// Balances from the materialised table, by account name. A stored name
    /// that is not a valid account is corrupt data.
    pub async fn balances(&self) -> Result<Vec<BalanceRow>> {
        let rows = sqlx::query(
            "SELECT account, balance_fen FROM balances WHERE balance_fen <> 0 ORDER BY account",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                let name: String = r.try_get(0)?;
                let account = Account::parse(&name)
                    .map_err(|e| StoreError::Corrupt(format!("balances row: {e}")))?;
                Ok(BalanceRow {
                    account,
                    balance: Fen::new(r.try_get(1)?),
                })
            })
            .collect()
    }

    /// One page of journal entries with their postings, from `after` (exclusive).
    pub async fn journal_page(&self, after: i64) -> Result<Vec<JournalEntry>> {
        let upto = after + JOURNAL_PAGE_ENTRIES;
        let rows = sqlx::query(
            "SELECT entry_no, tx_id, tx_date, kind, description, fiscal_year, doc_no, voucher_no, \
             region_code, project_code, source_file, source_line, details, batch_id, recorded_at, \
             prev_hash, hash FROM journal WHERE entry_no > $1 AND entry_no <= $2 ORDER BY entry_no",
        )
        .bind(after)
        .bind(upto)
        .fetch_all(self.pool())
        .await?;
        let mut entries = Vec::with_capacity(rows.len());
        for r in &rows {
            entries.push(journal_entry(r)?);
        }
        let postings = sqlx::query(
            "SELECT entry_no, seq, account, amount_fen FROM postings \
             WHERE entry_no > $1 AND entry_no <= $2 ORDER BY entry_no, seq",
        )
        .bind(after)
        .bind(upto)
        .fetch_all(self.pool())
        .await?;
        let mut i = 0;
        for p in &postings {
            let entry_no: i64 = p.try_get(0)?;
            while i < entries.len() && entries[i].entry_no < entry_no {
                i += 1;
            }
            let posting = StoredPosting {
                seq: p.try_get(1)?,
                account: p.try_get(2)?,
                amount: Fen::new(p.try_get(3)?),
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

    /// The highest entry number (0 for an empty journal).
    pub async fn max_entry_no(&self) -> Result<i64> {
        let n: Option<i64> = sqlx::query_scalar("SELECT MAX(entry_no) FROM journal")
            .fetch_one(self.pool())
            .await?;
        Ok(n.unwrap_or(0))
    }

    pub async fn snapshot(&self) -> Result<LedgerSnapshot> {
        let entries: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM journal")
            .fetch_one(self.pool())
            .await?;
        let postings: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM postings")
            .fetch_one(self.pool())
            .await?;
        let head_hash: Option<String> =
            sqlx::query_scalar("SELECT hash FROM journal ORDER BY entry_no DESC LIMIT 1")
                .fetch_optional(self.pool())
                .await?;
        Ok(LedgerSnapshot {
            entries,
            postings,
            head_hash,
            balances: self.balances().await?,
        })
    }
}

/// An entry (without its postings) from a journal row of `JOURNAL_SELECT`'s
/// columns, through either sqlx driver (the pool's `AnyRow`, a scan's
/// `PgRow`).
pub(crate) fn journal_entry<'r, R>(r: &'r R) -> Result<JournalEntry>
where
    R: Row,
    usize: sqlx::ColumnIndex<R>,
    String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    Ok(JournalEntry {
        entry_no: r.try_get(0)?,
        tx_id: r.try_get(1)?,
        tx_date: r.try_get(2)?,
        kind: r.try_get(3)?,
        description: r.try_get(4)?,
        fiscal_year: r.try_get(5)?,
        doc_no: r.try_get(6)?,
        voucher_no: r.try_get(7)?,
        region_code: r.try_get(8)?,
        project_code: r.try_get(9)?,
        source_file: r.try_get(10)?,
        source_line: r.try_get(11)?,
        details: r.try_get(12)?,
        batch_id: r.try_get(13)?,
        recorded_at: r.try_get(14)?,
        prev_hash: r.try_get(15)?,
        hash: r.try_get(16)?,
        postings: Vec::new(),
    })
}

/// A stand-in entry for postings whose journal row is gone; its empty hash
/// never verifies.
pub(crate) fn orphan_marker(entry_no: i64, posting: StoredPosting) -> JournalEntry {
    JournalEntry {
        entry_no,
        tx_id: String::new(),
        tx_date: String::new(),
        kind: "(missing)".into(),
        description: String::new(),
        fiscal_year: None,
        doc_no: None,
        voucher_no: None,
        region_code: None,
        project_code: None,
        source_file: None,
        source_line: None,
        details: None,
        batch_id: 0,
        recorded_at: String::new(),
        prev_hash: String::new(),
        hash: String::new(),
        postings: vec![posting],
    }
}
