//! The text keys every voucher indexes compare in byte order on
//! PostgreSQL whatever the database's collation (migration 0011, ADR 0005
//! decision 24): an index insertion under a language's collation pays the
//! locale's rules at every comparison, and SQLite compares these keys
//! byte by byte.

mod common;

use common::{day, gd_ledger, import_vouchers, voucher};
use fundledger_store::testing::TestDb;

/// In a database whose collation is ICU's `en-US`, where `a2` sorts before
/// `B1`, the vouchers come in byte order (`B1` first) by (paid_on,
/// voucher_no), the order the reconciliation reads them in.
#[tokio::test]
async fn voucher_keys_sort_in_byte_order_under_a_language_collation() {
    let Some(db) = TestDb::postgres_icu("en-US") else {
        return;
    };
    let store = db.store().await;
    let default_order: Vec<String> =
        sqlx::query_scalar("SELECT t FROM (VALUES ('a2'), ('B1')) AS v(t) ORDER BY t")
            .fetch_all(store.pool())
            .await
            .expect("the database's own order");
    assert_eq!(default_order, ["a2", "B1"], "the database sorts as en-US");

    gd_ledger(&store).await;
    let paid_on = day(2021, 7, 1);
    let vouchers = ["a2", "B1"]
        .iter()
        .enumerate()
        .map(|(i, no)| voucher(i as u64 + 2, no, paid_on, ("440100", "JS02"), None, 1, None))
        .collect();
    import_vouchers(&store, "order.csv", vouchers).await;
    let stored: Vec<String> = sqlx::query_scalar(
        "SELECT voucher_no FROM vouchers WHERE paid_on = '2021-07-01' ORDER BY paid_on, voucher_no",
    )
    .fetch_all(store.pool())
    .await
    .expect("vouchers by day");
    assert_eq!(stored, ["B1", "a2"]);
    let report = store.verify().await.expect("verify");
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    store.close().await;
}
