//! A PostgreSQL command that grows a table by more than autovacuum would
//! wait for leaves the table analysed (ADR 0005, decision 17): the next
//! command's reads are planned from statistics, not from none. A small
//! command pays nothing, a command refused at COMMIT leaves no statistics
//! behind, and a role that does not own the tables imports as before, its
//! tables left to their owner.

mod common;

use common::{day, gd_ledger, import_vouchers, voucher, RECORDED_AT};
use fundledger_core::domain::Voucher;
use fundledger_store::testing::TestDb;
use fundledger_store::{Store, VoucherImport, WriteTx};
use sqlx::Connection;

fn vouchers(n: usize) -> Vec<Voucher> {
    (0..n)
        .map(|i| {
            voucher(
                i as u64 + 2,
                &format!("ST{i:06}"),
                day(2021, 7, 1),
                ("440100", "JS02"),
                None,
                1,
                None,
            )
        })
        .collect()
}

/// The tables of `tables` that have statistics (rows in `pg_stats`, which
/// `ANALYZE` writes and a plain INSERT never does), read as the owner.
async fn analysed(url: &str, tables: &[&str]) -> Vec<String> {
    let mut conn = sqlx::PgConnection::connect(url).await.expect("connect");
    let names: Vec<String> = tables.iter().map(|t| t.to_string()).collect();
    sqlx::query_scalar(
        "SELECT DISTINCT tablename::text FROM pg_stats \
         WHERE schemaname = current_schema() AND tablename = ANY($1) ORDER BY 1",
    )
    .bind(names)
    .fetch_all(&mut conn)
    .await
    .expect("pg_stats")
}

const GROWN: &[&str] = &["journal", "postings", "vouchers"];

#[tokio::test]
async fn a_large_import_leaves_its_tables_analysed_and_a_small_one_does_not() {
    let Some(db) = TestDb::postgres() else {
        return;
    };
    let store = db.store().await;
    // Fewer than 50 rows per table: no ANALYZE.
    gd_ledger(&store).await;
    assert_eq!(analysed(&db.url, GROWN).await, Vec::<String>::new());

    import_vouchers(&store, "st.csv", vouchers(1_200)).await;
    assert_eq!(analysed(&db.url, GROWN).await, GROWN);
    let report = store.verify().await.expect("verify");
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    store.close().await;
}

/// How many times `ANALYZE` ran on `table`: a counter PostgreSQL keeps
/// outside transactions, so it shows an `ANALYZE` that was rolled back.
async fn analyze_count(url: &str, table: &str) -> i64 {
    let mut conn = sqlx::PgConnection::connect(url).await.expect("connect");
    sqlx::query_scalar(
        "SELECT analyze_count FROM pg_stat_user_tables \
         WHERE schemaname = current_schema() AND relname = $1",
    )
    .bind(table)
    .fetch_one(&mut conn)
    .await
    .expect("pg_stat_user_tables")
}

#[tokio::test]
async fn an_import_refused_at_commit_takes_its_statistics_with_it() {
    let Some(db) = TestDb::postgres() else {
        return;
    };
    let store = db.store().await;
    gd_ledger(&store).await;
    // A check the database runs at COMMIT, after the ANALYZE.
    let mut owner = sqlx::PgConnection::connect(&db.url).await.expect("owner");
    for sql in [
        "CREATE FUNCTION refuse_at_commit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
         IF NEW.voucher_no = 'ST000600' THEN RAISE EXCEPTION 'refused at commit'; END IF; \
         RETURN NEW; END $$",
        "CREATE CONSTRAINT TRIGGER refuse_at_commit AFTER INSERT ON vouchers \
         DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION refuse_at_commit()",
    ] {
        sqlx::query(sql).execute(&mut owner).await.expect(sql);
    }

    let mut w = WriteTx::begin(
        &store,
        "import disbursements",
        Some(("st.csv", "0")),
        RECORDED_AT,
    )
    .await
    .expect("begin");
    let mut imp = VoucherImport::start(&mut w).await.expect("start");
    imp.note_batch(w.batch_id());
    imp.push_chunk(&mut w, vouchers(1_200)).await.expect("push");
    imp.finish(&mut w).await.expect("finish");
    let refused = w.commit().await.expect_err("the commit is refused");
    assert!(
        refused.to_string().contains("refused at commit"),
        "{refused}"
    );

    // The ANALYZE ran, and its statistics went with the rows.
    assert_eq!(analyze_count(&db.url, "vouchers").await, 1);
    assert_eq!(analysed(&db.url, GROWN).await, Vec::<String>::new());
    let report = store.verify().await.expect("verify");
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    assert_eq!(report.entries, 18);
    store.close().await;
}

#[tokio::test]
async fn a_role_that_does_not_own_the_tables_imports_and_leaves_them_to_their_owner() {
    let Some(db) = TestDb::postgres() else {
        return;
    };
    let store = db.store().await;
    gd_ledger(&store).await;
    store.close().await;

    let role = format!("fl_stats_{}", std::process::id());
    let mut owner = sqlx::PgConnection::connect(&db.url).await.expect("owner");
    for sql in [
        format!("DROP ROLE IF EXISTS {role}"),
        format!("CREATE ROLE {role} LOGIN"),
        format!("GRANT ALL ON ALL TABLES IN SCHEMA public TO {role}"),
        format!("GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO {role}"),
    ] {
        sqlx::query(&sql).execute(&mut owner).await.expect(&sql);
    }
    let as_role = db.url.replacen("postgres@", &format!("{role}@"), 1);
    assert_ne!(as_role, db.url, "the test server's URL names user postgres");
    let store = Store::open(&as_role, fundledger_store::OpenMode::MustExist)
        .await
        .expect("open as the role");
    import_vouchers(&store, "st.csv", vouchers(1_200)).await;
    let report = store.verify().await.expect("verify");
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    assert_eq!(report.entries, 18 + 1_200);
    store.close().await;
    assert_eq!(analysed(&db.url, GROWN).await, Vec::<String>::new());

    for sql in [format!("DROP OWNED BY {role}"), format!("DROP ROLE {role}")] {
        sqlx::query(&sql).execute(&mut owner).await.expect(&sql);
    }
}
