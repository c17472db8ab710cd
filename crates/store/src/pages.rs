//! The journal a page at a time. The pages are read ahead on a thread of
//! their own, from one snapshot, while the caller works on the page before
//! (verify checks it, the exports write it); at most [`PAGES_AHEAD`] pages
//! wait, so memory stays flat. For verify, the domain rows under each page
//! are read on a second thread, from a snapshot of their own, and a third
//! thread between them and the caller pairs each page with its rows and
//! works out what each entry shows on its own (its hash, its canonical form:
//! `verify::entry_verdicts`), so that the checker is left with the ordered
//! part. Two snapshots are one state unless a command committed between
//! them, which verify sees (its last batch changed) and reads again.

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
    /// read transaction (one snapshot), the domain rows on a second one:
    /// SQLite through rusqlite ([`SqliteScan`]), PostgreSQL through a typed
    /// connection ([`PgScan`]). A store on one pooled connection (tests)
    /// reads its pages through that connection, one at a time.
    pub fn journal_pages(&self, with_domain: bool) -> JournalPages {
        let source = match (self.backend(), self.sqlite_path(), self.postgres_url()) {
            (Backend::Sqlite, Some(path), _) => {
                let path = path.to_string();
                scans(with_domain, move || SqliteScan::open(&path))
            }
            (Backend::Postgres, _, Some(url)) => {
                let url = url.to_string();
                scans(with_domain, move || PgScan::open(&url))
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

/// The pages of scans opened by `open`: the journal's from one, and for
/// verify the domain rows from a second, each on a thread of its own.
fn scans<S: PageSource + 'static>(
    with_domain: bool,
    open: impl Fn() -> Result<S> + Clone + Send + 'static,
) -> Source {
    let open_journal = open.clone();
    let journal = move |send: &PageSender<JournalPage>| {
        scan_ranges(open_journal, send, |scan: &mut S, after| {
            Ok(JournalPage {
                entries: scan.journal_page(after)?,
                domain: Vec::new(),
                verdicts: Vec::new(),
            })
        })
    };
    let domain = move |send: &PageSender<Vec<DomainRow>>| {
        scan_ranges(open, send, |scan: &mut S, after| {
            scan.domain_rows(after, after + JOURNAL_PAGE_ENTRIES)
        })
    };
    match with_domain {
        true => ahead(journal, Some(domain)),
        false => ahead(journal, None::<fn(&PageSender<Vec<DomainRow>>)>),
    }
}

type PageSender<T> = mpsc::Sender<Result<T>>;

/// Pages from `produce` on a blocking thread; with `domain`, its rows
/// produced on a second one and paired with the pages, whose verdicts are
/// worked out on a third.
fn ahead(
    produce: impl FnOnce(&PageSender<JournalPage>) + Send + 'static,
    domain: Option<impl FnOnce(&PageSender<Vec<DomainRow>>) + Send + 'static>,
) -> Source {
    let (send, pages) = mpsc::channel(PAGES_AHEAD);
    let reader = tokio::task::spawn_blocking(move || produce(&send));
    let mut workers = vec![reader];
    let pages = match domain {
        Some(domain) => {
            let (send_rows, rows) = mpsc::channel(PAGES_AHEAD);
            workers.push(tokio::task::spawn_blocking(move || domain(&send_rows)));
            let (pages, worker) = verdicts_of(pages, rows);
            workers.push(worker);
            pages
        }
        None => pages,
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
trait PageSource: Send {
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

/// A producer: opens its snapshot, then sends what `read` makes of every
/// page's range (`after`, in steps of [`JOURNAL_PAGE_ENTRIES`] up to the
/// snapshot's highest entry) in order; stops at the end, at the first
/// error (sent on), or when the receiving end has been dropped.
fn scan_ranges<S: PageSource, T>(
    open: impl FnOnce() -> Result<S>,
    send: &PageSender<T>,
    mut read: impl FnMut(&mut S, i64) -> Result<T>,
) {
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
        let page = read(&mut scan, after);
        let failed = page.is_err();
        if send.blocking_send(page).is_err() || failed {
            return;
        }
        after += JOURNAL_PAGE_ENTRIES;
    }
}

/// The pages of `read`, each with its domain rows from `rows` and its
/// verdicts, worked out on a thread of its own; it stops as the producer
/// does. The rows of a page come from the domain reader's snapshot, which
/// ends sooner or later than the journal's only if a command committed
/// between the two: a page past its end gets none (verify, seeing the
/// newer batch, reads the ledger again).
fn verdicts_of(
    mut read: mpsc::Receiver<Result<JournalPage>>,
    mut rows: mpsc::Receiver<Result<Vec<DomainRow>>>,
) -> (mpsc::Receiver<Result<JournalPage>>, JoinHandle<()>) {
    let (send, pages) = mpsc::channel(PAGES_AHEAD);
    let worker = tokio::task::spawn_blocking(move || {
        while let Some(page) = read.blocking_recv() {
            let page = page.and_then(|mut page| {
                page.domain = rows.blocking_recv().transpose()?.unwrap_or_default();
                page.verdicts = entry_verdicts(&page.entries);
                Ok(page)
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
    use crate::StoreError;

    fn empty_page() -> JournalPage {
        JournalPage {
            entries: Vec::new(),
            domain: Vec::new(),
            verdicts: Vec::new(),
        }
    }

    type RowsProducer = fn(&PageSender<Vec<DomainRow>>);

    /// Domain rows for every page: none.
    fn no_rows(send: &PageSender<Vec<DomainRow>>) {
        while send.blocking_send(Ok(Vec::new())).is_ok() {}
    }

    fn rows_for_entry(entry_no: i64) -> Vec<DomainRow> {
        vec![DomainRow {
            table: "vouchers",
            entry_no,
            details: format!("vouchers|entry={entry_no}"),
        }]
    }

    /// Every page the producers send, then `None`.
    async fn drain_pages(source: Source) -> usize {
        let mut pages = JournalPages { source };
        let mut seen = 0;
        while let Some(page) = pages.next().await {
            page.unwrap();
            seen += 1;
        }
        seen
    }

    /// A journal reader of `pages` empty pages (fewer if the pages are
    /// no longer wanted).
    fn journal_of(pages: usize) -> impl FnOnce(&PageSender<JournalPage>) {
        move |send| {
            for _ in 0..pages {
                if send.blocking_send(Ok(empty_page())).is_err() {
                    return;
                }
            }
        }
    }

    fn dying_reader(pages_before_panic: usize) -> impl FnOnce(&PageSender<JournalPage>) {
        move |send| {
            for _ in 0..pages_before_panic {
                send.blocking_send(Ok(empty_page())).unwrap();
            }
            panic!("the page reader died halfway");
        }
    }

    #[tokio::test(flavor = "multi_thread")]
    #[should_panic(expected = "the page reader died halfway")]
    async fn a_reader_that_panics_is_not_the_end_of_the_journal() {
        drain_pages(ahead(dying_reader(2), None::<RowsProducer>)).await;
    }

    #[tokio::test(flavor = "multi_thread")]
    #[should_panic(expected = "the page reader died halfway")]
    async fn a_reader_that_panics_behind_the_verdict_thread_is_not_the_end_either() {
        drain_pages(ahead(dying_reader(1), Some(no_rows as RowsProducer))).await;
    }

    #[tokio::test(flavor = "multi_thread")]
    #[should_panic(expected = "the domain reader died halfway")]
    async fn a_domain_reader_that_panics_is_not_the_end_of_the_journal_either() {
        let journal = journal_of(3);
        let rows = |send: &PageSender<Vec<DomainRow>>| {
            send.blocking_send(Ok(Vec::new())).unwrap();
            panic!("the domain reader died halfway");
        };
        drain_pages(ahead(journal, Some(rows))).await;
    }

    /// Each page comes with the rows the domain reader sent for it, in
    /// order; a domain reader's error ends the pages with that error.
    #[tokio::test(flavor = "multi_thread")]
    async fn each_page_comes_with_its_own_domain_rows() {
        let journal = journal_of(4);
        let rows = |send: &PageSender<Vec<DomainRow>>| {
            for entry_no in [1, 2001] {
                send.blocking_send(Ok(rows_for_entry(entry_no))).unwrap();
            }
            let _ = send.blocking_send(Err(StoreError::Refused("unreadable".into())));
        };
        let mut pages = JournalPages {
            source: ahead(journal, Some(rows)),
        };
        for entry_no in [1, 2001] {
            let page = pages.next().await.unwrap().unwrap();
            let got: Vec<_> = page.domain.iter().map(|r| r.details.clone()).collect();
            assert_eq!(got, [format!("vouchers|entry={entry_no}")]);
        }
        let third = pages.next().await.unwrap();
        assert!(
            matches!(&third, Err(StoreError::Refused(m)) if m == "unreadable"),
            "{:?}",
            third.map(|p| p.entries.len())
        );
        assert!(pages.next().await.is_none());
    }

    /// A domain snapshot with fewer pages than the journal's (a command
    /// committed between the two): the pages past its end come without
    /// rows, and every page still comes.
    #[tokio::test(flavor = "multi_thread")]
    async fn pages_past_the_domain_readers_end_come_without_rows() {
        let journal = journal_of(3);
        let rows = |send: &PageSender<Vec<DomainRow>>| {
            send.blocking_send(Ok(rows_for_entry(1))).unwrap();
        };
        let mut pages = JournalPages {
            source: ahead(journal, Some(rows)),
        };
        let mut rows_per_page = Vec::new();
        while let Some(page) = pages.next().await {
            rows_per_page.push(page.unwrap().domain.len());
        }
        assert_eq!(rows_per_page, [1, 0, 0]);
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_reader_that_finishes_ends_the_pages() {
        let mut pages = JournalPages {
            source: ahead(journal_of(3), Some(no_rows as RowsProducer)),
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
