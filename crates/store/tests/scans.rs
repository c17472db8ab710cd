//! Issue 14: the bulk scans (verify and the whole-ledger exports read the
//! journal through them, reconcile its rows) read a ledger of a few pages
//! exactly as the pool does, on both backends: SQLite through rusqlite,
//! PostgreSQL through a typed connection of its own. A store on one pooled
//! connection (`single_connection_store`) keeps the pool path, so it is
//! the reference here. And `verify` run while commands commit.

mod common;

use common::{day, gd_ledger, import_vouchers, voucher, DOC_40};
use fundledger_core::reconcile::ReconcileParams;
use fundledger_store::testing::{drop_append_only_triggers_sql, TestDb};
use fundledger_store::{Backend, JournalEntry, Store};
use sqlx::Executor;

/// Vouchers past the Guangdong example's: 12,500 entries more, so the
/// journal spans six full pages (2,000 entries each) and a partial seventh,
/// more than the pages read ahead: later pages are read into recycled ones.
const MORE_VOUCHERS: usize = 12_500;

/// The Guangdong 2021 ledger plus [`MORE_VOUCHERS`] payments of 1.00 yuan
/// under 40号 (仁化县 JS08 has 100,000.00 allotted), dated so that neither
/// entry order nor voucher number order is (paid_on, voucher_no) order.
async fn ledger_of_pages(store: &Store) {
    gd_ledger(store).await;
    let more = (0..MORE_VOUCHERS)
        .map(|i| {
            let paid_on = day(2021, 6, 1) + chrono::Days::new((i * 7 % 180) as u64);
            voucher(
                i as u64 + 2,
                &format!("RH{:05}", (i * 7919) % 100_000),
                paid_on,
                ("440224", "JS08"),
                Some(DOC_40),
                100,
                None,
            )
        })
        .collect();
    import_vouchers(store, "more.csv", more).await;
}

/// Every page's entries, and how many pages there were.
async fn pages_of(store: &Store, with_domain: bool) -> (Vec<JournalEntry>, usize) {
    let mut pages = store.journal_pages(with_domain);
    let (mut entries, mut count) = (Vec::new(), 0);
    while let Some(page) = pages.next().await {
        let page = page.expect("a journal page");
        entries.extend(page.entries.iter().cloned());
        page.recycle();
        count += 1;
    }
    (entries, count)
}

#[tokio::test(flavor = "multi_thread")]
async fn scans_read_what_the_pool_reads() {
    for db in TestDb::all() {
        let store = db.store().await;
        ledger_of_pages(&store).await;
        let pooled = db.single_connection_store().await;
        let (want, want_pages) = pages_of(&pooled, false).await;
        assert_eq!(want.len(), 18 + MORE_VOUCHERS, "{:?}", db.backend);
        assert_eq!(want_pages, 7, "{:?}", db.backend);
        for with_domain in [false, true] {
            let (got, got_pages) = pages_of(&store, with_domain).await;
            assert_eq!(got_pages, want_pages, "{:?}", db.backend);
            assert!(got == want, "{:?}: scanned entries differ", db.backend);
        }
        let verified = store.verify().await.expect("verify through the scan");
        assert_eq!(
            verified,
            pooled.verify().await.expect("verify through the pool")
        );
        assert_eq!(verified.entries, (18 + MORE_VOUCHERS) as i64);
        for as_of in [day(2021, 5, 31), day(2021, 9, 30), day(2021, 12, 31)] {
            let params = || ReconcileParams {
                as_of,
                deadline_days_override: None,
            };
            let scanned = store.reconcile(params()).await.expect("reconcile scanned");
            let through_pool = pooled.reconcile(params()).await.expect("reconcile pooled");
            assert!(
                scanned == through_pool,
                "{:?} as of {as_of}: reports differ",
                db.backend
            );
            // The line the extra vouchers pay: SG21061501 (120,000.00 on
            // 2021-06-15) and 1.00 for each extra one paid by then.
            let more_paid = (0..MORE_VOUCHERS)
                .filter(|i| day(2021, 6, 1) + chrono::Days::new((i * 7 % 180) as u64) <= as_of)
                .count() as i64;
            let first = if as_of >= day(2021, 6, 15) {
                12_000_000
            } else {
                0
            };
            let row = scanned
                .lines
                .iter()
                .find(|l| l.key.region.as_u32() == 440_224)
                .expect("仁化县 JS08 is in the report");
            assert_eq!(row.disbursed.as_i64(), first + 100 * more_paid, "{as_of}");
        }
        pooled.close().await;
        store.close().await;
    }
}

/// A journal row deleted behind fundledger's back in the middle of a page
/// (triggers and foreign keys off, as anyone with database access can):
/// its postings come as an orphan marker, and verify fails alike, through
/// the scan as through the pool.
#[tokio::test(flavor = "multi_thread")]
async fn a_deleted_entry_reads_alike_through_the_scan() {
    for db in TestDb::all() {
        let store = db.store().await;
        ledger_of_pages(&store).await;
        let mut conn = store.pool().acquire().await.expect("a connection");
        let switch_off = match db.backend {
            Backend::Sqlite => {
                let mut sql = vec!["PRAGMA foreign_keys = OFF".to_string()];
                sql.extend(drop_append_only_triggers_sql(db.backend));
                sql
            }
            // Superuser only, as the test server's user is: no triggers,
            // foreign-key checks included, for this session.
            Backend::Postgres => vec!["SET session_replication_role = replica".to_string()],
        };
        for sql in switch_off {
            conn.execute(sql.as_str()).await.expect(&sql);
        }
        conn.execute("DELETE FROM journal WHERE entry_no = 4001")
            .await
            .expect("delete an entry");
        drop(conn);
        store.close().await;
        let store = db.store().await;
        let pooled = db.single_connection_store().await;
        let (want, _) = pages_of(&pooled, true).await;
        let (got, _) = pages_of(&store, true).await;
        let markers: Vec<_> = got.iter().filter(|e| e.entry_no == 4001).collect();
        assert!(
            markers.iter().all(|e| e.kind == "(missing)"),
            "{:?}",
            db.backend
        );
        let postings: usize = markers.iter().map(|e| e.postings.len()).sum();
        assert_eq!(postings, 2, "{:?}", db.backend);
        assert!(got == want, "{:?}: scanned entries differ", db.backend);
        let verified = store.verify().await.expect("verify through the scan");
        assert!(!verified.ok(), "{:?}", db.backend);
        assert_eq!(
            verified,
            pooled.verify().await.expect("verify through the pool")
        );
        pooled.close().await;
        store.close().await;
    }
}

/// Commands committing while `verify` reads the ledger: the journal comes
/// from one snapshot, the checks after it (balances, row counts, seals)
/// read the ledger as it is by then. Regression: a sound ledger read while
/// an officer imported was reported broken ("vouchers has N rows but the
/// journal records M"). Now every report of a sound ledger is ok; a
/// verify that saw it change every time says so instead.
#[tokio::test(flavor = "multi_thread")]
async fn verify_while_commands_commit_never_reports_a_sound_ledger_broken() {
    const WRITES: usize = 40;
    for db in TestDb::all() {
        let store = db.store().await;
        ledger_of_pages(&store).await;
        let before = store.verify().await.expect("verify").entries;
        let writer = {
            let store = store.clone();
            tokio::spawn(async move {
                for n in 0..WRITES {
                    let live = voucher(
                        2,
                        &format!("LIVE{n:04}"),
                        day(2021, 7, 1),
                        ("440224", "JS08"),
                        Some(DOC_40),
                        100,
                        None,
                    );
                    import_vouchers(&store, &format!("live-{n}.csv"), vec![live]).await;
                    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                }
            })
        };
        let (mut reports, mut refusals) = (0, 0);
        while !writer.is_finished() {
            match store.verify().await {
                Ok(report) => {
                    assert!(
                        report.ok(),
                        "{:?}: a sound ledger reported broken while written to: {:?}",
                        db.backend,
                        report.failures
                    );
                    reports += 1;
                }
                Err(e) => {
                    assert!(
                        e.to_string().contains("changed while verify read it"),
                        "{e}"
                    );
                    refusals += 1;
                }
            }
        }
        writer.await.expect("the writer");
        let after = store.verify().await.expect("verify after the writes");
        assert!(after.ok(), "{:?}", after.failures);
        assert_eq!(after.entries, before + WRITES as i64);
        assert!(
            reports + refusals > 0,
            "{:?}: no verify ran beside the writes",
            db.backend
        );
        store.close().await;
    }
}
