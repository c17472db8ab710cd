//! The journal a page at a time, from one snapshot. The pages are read
//! ahead on a thread of their own while the caller works on the page before (verify
//! checks it, the exports write it); at most [`PAGES_AHEAD`] pages wait, so
//! memory stays flat. For verify, a second thread between the two works out
//! what each entry shows on its own (its hash, its canonical form:
//! `verify::entry_verdicts`), so that the checker is left with the ordered
//! part.

use crate::ledger::DOMAIN_TABLES;
use crate::pg_scan::PgScan;
use crate::read::JOURNAL_PAGE_ENTRIES;
use crate::scan::SqliteScan;
use crate::verify::{entry_verdicts, EntryVerdict};
use crate::{Backend, Result, Store};
use fundledger_core::journal::JournalEntry;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

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
    /// Pages read ahead by blocking threads (the reader, and for
    /// verify the verdict worker), joined once the last page is out.
    Ahead {
        pages: mpsc::Receiver<Result<JournalPage>>,
        workers: Vec<JoinHandle<()>>,
    },
    /// A store on one pooled connection (the tamper tests hold a
    /// transaction open on it): each page read through the pool when asked
    /// for, so that connection is never used by two tasks at once.
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
            Source::Ahead { pages, workers } => match pages.recv().await {
                Some(page) => Some(page),
                None => {
                    join_workers(std::mem::take(workers)).await;
                    None
                }
            },
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
    /// `with_domain` (verify), read ahead on a thread of their own from one
    /// read transaction (one snapshot): SQLite through rusqlite
    /// ([`SqliteScan`]), PostgreSQL through a typed connection ([`PgScan`]).
    /// A store on one pooled connection (tests) reads its pages through
    /// that connection, one at a time.
    pub fn journal_pages(&self, with_domain: bool) -> JournalPages {
        let source = match (self.backend(), self.sqlite_path(), self.postgres_url()) {
            (Backend::Sqlite, Some(path), _) => {
                let path = path.to_string();
                ahead(with_domain, move |send| {
                    scan_pages(|| SqliteScan::open(&path), with_domain, send)
                })
            }
            (Backend::Postgres, _, Some(url)) => {
                let url = url.to_string();
                ahead(with_domain, move |send| {
                    scan_pages(|| PgScan::open(&url), with_domain, send)
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

/// Pages from `produce` on a blocking thread, with their verdicts worked
/// out on a second one when `with_verdicts`.
fn ahead(
    with_verdicts: bool,
    produce: impl FnOnce(&mpsc::Sender<Result<JournalPage>>) + Send + 'static,
) -> Source {
    let (send, pages) = mpsc::channel(PAGES_AHEAD);
    let reader = tokio::task::spawn_blocking(move || produce(&send));
    let mut workers = vec![reader];
    let pages = match with_verdicts {
        true => {
            let (pages, worker) = verdicts_of(pages);
            workers.push(worker);
            pages
        }
        false => pages,
    };
    Source::Ahead { pages, workers }
}

/// Waits for the threads behind a channel that has closed. A closed channel
/// is also what a thread that panicked leaves behind; re-raising its panic
/// here is what keeps a reader that died halfway from looking like the end
/// of the journal.
async fn join_workers(workers: Vec<JoinHandle<()>>) {
    for worker in workers {
        if let Err(e) = worker.await {
            match e.try_into_panic() {
                Ok(panic) => std::panic::resume_unwind(panic),
                Err(e) => panic!("a journal page thread did not finish: {e}"),
            }
        }
    }
}

/// A snapshot of the journal that pages can be read from: SQLite through
/// rusqlite (scan.rs), PostgreSQL through a typed connection (pg_scan.rs).
trait PageSource {
    fn max_entry_no(&mut self) -> Result<i64>;
    fn journal_page(&mut self, after: i64) -> Result<Vec<JournalEntry>>;
    fn domain_rows(&mut self, after: i64, upto: i64) -> Result<Vec<DomainRow>>;
}

impl PageSource for SqliteScan {
    fn max_entry_no(&mut self) -> Result<i64> {
        SqliteScan::max_entry_no(self)
    }
    fn journal_page(&mut self, after: i64) -> Result<Vec<JournalEntry>> {
        SqliteScan::journal_page(self, after)
    }
    fn domain_rows(&mut self, after: i64, upto: i64) -> Result<Vec<DomainRow>> {
        SqliteScan::domain_rows(self, after, upto)
    }
}

impl PageSource for PgScan {
    fn max_entry_no(&mut self) -> Result<i64> {
        PgScan::max_entry_no(self)
    }
    fn journal_page(&mut self, after: i64) -> Result<Vec<JournalEntry>> {
        PgScan::journal_page(self, after)
    }
    fn domain_rows(&mut self, after: i64, upto: i64) -> Result<Vec<DomainRow>> {
        PgScan::domain_rows(self, after, upto)
    }
}

/// The producer: opens its snapshot, then sends every page in order;
/// stops at the end, at the first error (sent on), or when the caller has
/// dropped its [`JournalPages`].
fn scan_pages<S: PageSource>(
    open: impl FnOnce() -> Result<S>,
    with_domain: bool,
    send: &mpsc::Sender<Result<JournalPage>>,
) {
    let page_of = |scan: &mut S, after: i64| -> Result<JournalPage> {
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
    let opened = open().and_then(|mut scan| Ok((scan.max_entry_no()?, scan)));
    let (max, mut scan) = match opened {
        Ok(opened) => opened,
        Err(e) => {
            let _ = send.blocking_send(Err(e));
            return;
        }
    };
    let mut after = 0;
    while after < max {
        let page = page_of(&mut scan, after);
        let failed = page.is_err();
        if send.blocking_send(page).is_err() || failed {
            return;
        }
        after += JOURNAL_PAGE_ENTRIES;
    }
}

/// The pages of `read` with their verdicts, worked out on a thread of its
/// own; it stops as the producer does.
fn verdicts_of(
    mut read: mpsc::Receiver<Result<JournalPage>>,
) -> (mpsc::Receiver<Result<JournalPage>>, JoinHandle<()>) {
    let (send, pages) = mpsc::channel(PAGES_AHEAD);
    let worker = tokio::task::spawn_blocking(move || {
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
    (pages, worker)
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
            out.push(DomainRow {
                table: table.name,
                entry_no: sqlx::Row::try_get(r, table.columns.len())?,
                details: table.details_of(r)?,
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn empty_page() -> JournalPage {
        JournalPage {
            entries: Vec::new(),
            domain: Vec::new(),
            verdicts: Vec::new(),
        }
    }

    /// Every page the producer sends, then `None`.
    async fn drain(with_verdicts: bool, pages_before_panic: usize) -> usize {
        let mut pages = JournalPages {
            source: ahead(with_verdicts, move |send| {
                for _ in 0..pages_before_panic {
                    send.blocking_send(Ok(empty_page())).unwrap();
                }
                panic!("the page reader died halfway");
            }),
        };
        let mut seen = 0;
        while let Some(page) = pages.next().await {
            page.unwrap();
            seen += 1;
        }
        seen
    }

    #[tokio::test(flavor = "multi_thread")]
    #[should_panic(expected = "the page reader died halfway")]
    async fn a_reader_that_panics_is_not_the_end_of_the_journal() {
        drain(false, 2).await;
    }

    #[tokio::test(flavor = "multi_thread")]
    #[should_panic(expected = "the page reader died halfway")]
    async fn a_reader_that_panics_behind_the_verdict_thread_is_not_the_end_either() {
        drain(true, 1).await;
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_reader_that_finishes_ends_the_pages() {
        let mut pages = JournalPages {
            source: ahead(true, |send| {
                for _ in 0..3 {
                    send.blocking_send(Ok(empty_page())).unwrap();
                }
            }),
        };
        let mut seen = 0;
        while let Some(page) = pages.next().await {
            page.unwrap();
            seen += 1;
        }
        assert_eq!(seen, 3);
        // Asked again after the end: still the end, no thread to join twice.
        assert!(pages.next().await.is_none());
    }
}
