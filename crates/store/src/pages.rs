//! The journal a page at a time. On SQLite the pages are read ahead on a
//! thread of their own while the caller works on the page before (verify
//! checks it, the exports write it); at most [`PAGES_AHEAD`] pages wait, so
//! memory stays flat. For verify, a second thread between the two works out
//! what each entry shows on its own (its hash, its canonical form:
//! `verify::entry_verdicts`), so that the checker is left with the ordered
//! part.

use crate::ledger::DOMAIN_TABLES;
use crate::read::JOURNAL_PAGE_ENTRIES;
use crate::scan::SqliteScan;
use crate::verify::{entry_verdicts, EntryVerdict};
use crate::write::Val;
use crate::{Backend, Result, Store};
use fundledger_core::journal::JournalEntry;
use tokio::sync::mpsc;

/// Pages read ahead of the one the caller holds.
const PAGES_AHEAD: usize = 2;

/// One page of the journal: entries `after + 1 ..= after + JOURNAL_PAGE_ENTRIES`.
pub struct JournalPage {
    pub entries: Vec<JournalEntry>,
    /// The domain rows filed under these entries (only when asked for).
    pub(crate) domain: Vec<DomainRow>,
    /// One per entry, in order (with the domain rows only).
    pub(crate) verdicts: Vec<EntryVerdict>,
}

/// A domain row of a page, rendered to the details its entry must hold.
pub(crate) struct DomainRow {
    pub(crate) table: &'static str,
    pub(crate) entry_no: i64,
    /// `table|col=value;…`, see `DomainTable::details`.
    pub(crate) details: String,
}

/// The journal's pages in entry order; see [`Store::journal_pages`].
pub struct JournalPages {
    source: Source,
}

enum Source {
    /// SQLite: pages read ahead by a blocking thread.
    Ahead(mpsc::Receiver<Result<JournalPage>>),
    /// PostgreSQL: each page read through the pool when asked for, so a
    /// caller's one-connection pool (the tamper tests hold a transaction
    /// open on it) is never used by two tasks at once.
    OnDemand {
        store: Store,
        with_domain: bool,
        after: i64,
        /// The highest entry number, read with the first page.
        max: Option<i64>,
    },
}

impl JournalPages {
    /// The next page, `None` after the last.
    pub async fn next(&mut self) -> Option<Result<JournalPage>> {
        match &mut self.source {
            Source::Ahead(pages) => pages.recv().await,
            Source::OnDemand {
                store,
                with_domain,
                after,
                max,
            } => {
                let max = match max {
                    Some(max) => *max,
                    None => match store.max_entry_no().await {
                        Ok(m) => *max.insert(m),
                        Err(e) => return Some(Err(e)),
                    },
                };
                if *after >= max {
                    return None;
                }
                let page = pool_page(store, *with_domain, *after).await;
                *after += JOURNAL_PAGE_ENTRIES;
                Some(page)
            }
        }
    }
}

impl Store {
    /// Every page of the journal in order, each with its domain rows when
    /// `with_domain` (verify). SQLite pages come from one read transaction
    /// (one snapshot) through rusqlite ([`SqliteScan`]), read ahead on a
    /// thread of their own; PostgreSQL pages through the pool, one at a time.
    pub fn journal_pages(&self, with_domain: bool) -> JournalPages {
        let source = match (self.backend(), self.sqlite_path()) {
            (Backend::Sqlite, Some(path)) => {
                let (send, pages) = mpsc::channel(PAGES_AHEAD);
                let path = path.to_string();
                tokio::task::spawn_blocking(move || scan_sqlite(&path, with_domain, &send));
                Source::Ahead(match with_domain {
                    true => with_verdicts(pages),
                    false => pages,
                })
            }
            _ => Source::OnDemand {
                store: self.clone(),
                with_domain,
                after: 0,
                max: None,
            },
        };
        JournalPages { source }
    }
}

/// The SQLite producer: stops at the end, at the first error (sent on), or
/// when the caller has dropped its [`JournalPages`].
fn scan_sqlite(path: &str, with_domain: bool, send: &mpsc::Sender<Result<JournalPage>>) {
    let page_of = |scan: &SqliteScan, after: i64| -> Result<JournalPage> {
        let entries = scan.journal_page(after)?;
        let domain = match with_domain {
            true => scan.domain_rows(after, after + JOURNAL_PAGE_ENTRIES)?,
            false => Vec::new(),
        };
        Ok(JournalPage {
            entries,
            domain,
            verdicts: Vec::new(),
        })
    };
    let scan = match SqliteScan::open(path) {
        Ok(scan) => scan,
        Err(e) => {
            let _ = send.blocking_send(Err(e));
            return;
        }
    };
    let max = match scan.max_entry_no() {
        Ok(max) => max,
        Err(e) => {
            let _ = send.blocking_send(Err(e));
            return;
        }
    };
    let mut after = 0;
    while after < max {
        let page = page_of(&scan, after);
        let failed = page.is_err();
        if send.blocking_send(page).is_err() || failed {
            return;
        }
        after += JOURNAL_PAGE_ENTRIES;
    }
}

/// The pages of `read` with their verdicts, worked out on a thread of its
/// own; it stops as the producer does.
fn with_verdicts(
    mut read: mpsc::Receiver<Result<JournalPage>>,
) -> mpsc::Receiver<Result<JournalPage>> {
    let (send, pages) = mpsc::channel(PAGES_AHEAD);
    tokio::task::spawn_blocking(move || {
        while let Some(page) = read.blocking_recv() {
            let page = page.map(|mut page| {
                page.verdicts = entry_verdicts(&page.entries);
                page
            });
            let failed = page.is_err();
            if send.blocking_send(page).is_err() || failed {
                return;
            }
        }
    });
    pages
}

/// One page through the pool (with its verdicts, worked out here, for verify).
async fn pool_page(store: &Store, with_domain: bool, after: i64) -> Result<JournalPage> {
    let entries = store.journal_page(after).await?;
    let domain = match with_domain {
        true => domain_rows(store, after, after + JOURNAL_PAGE_ENTRIES).await?,
        false => Vec::new(),
    };
    let verdicts = match with_domain {
        true => entry_verdicts(&entries),
        false => Vec::new(),
    };
    Ok(JournalPage {
        entries,
        domain,
        verdicts,
    })
}

/// Every domain row filed under entries `after + 1 ..= upto`, through the pool.
async fn domain_rows(store: &Store, after: i64, upto: i64) -> Result<Vec<DomainRow>> {
    let mut out = Vec::new();
    for table in DOMAIN_TABLES {
        let sql = table.select_by_entries(("$1", "$2"));
        let rows = sqlx::query(&sql)
            .bind(after)
            .bind(upto)
            .fetch_all(store.pool())
            .await?;
        for r in &rows {
            let vals: Vec<Val> = table.read_row(r)?;
            out.push(DomainRow {
                table: table.name,
                entry_no: sqlx::Row::try_get(r, table.columns.len())?,
                details: table.details(&vals),
            });
        }
    }
    Ok(out)
}
