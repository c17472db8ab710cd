//! The basic ledger round trip on every configured backend.

use fundledger_core::Fen;
use fundledger_store::testing::TestDb;
use fundledger_store::BudgetOutcome;

#[tokio::test]
async fn budget_balance_verify_round_trip() {
    for db in TestDb::all() {
        let store = db.store().await;
        assert_eq!(
            store.migrate().await.unwrap(),
            0,
            "{:?}: init is idempotent",
            db.backend
        );
        let out = store
            .budget_set(2020, Fen::new(5_166_000_000), "2026-01-01T00:00:00Z")
            .await
            .unwrap();
        assert!(
            matches!(out, BudgetOutcome::Changed { entry_no: 1, .. }),
            "{out:?}"
        );
        let again = store
            .budget_set(2020, Fen::new(5_166_000_000), "2026-01-01T00:00:00Z")
            .await
            .unwrap();
        assert!(matches!(again, BudgetOutcome::Unchanged { .. }));
        store
            .budget_set(2020, Fen::new(5_000_000_000), "2026-01-02T00:00:00Z")
            .await
            .unwrap();
        let balances = store.balances().await.unwrap();
        let pool = balances
            .iter()
            .find(|b| b.account.as_str() == "pool:2020")
            .unwrap();
        assert_eq!(pool.balance, Fen::new(5_000_000_000), "{:?}", db.backend);
        let report = store.verify().await.unwrap();
        assert!(report.ok(), "{:?}: {:?}", db.backend, report.failures);
        assert_eq!(report.entries, 2);
        store.close().await;
    }
}

/// Every refund is checked with `WHERE original_voucher_no = …`; without an
/// index that scanned all vouchers per refund, so an import's cost grew with
/// refunds × vouchers (5,000 refunds among 100,000 vouchers: 36 s, not 4 s).
#[tokio::test]
async fn refund_lookup_by_original_voucher_uses_an_index() {
    for db in TestDb::all() {
        let store = db.store().await;
        match db.backend {
            fundledger_store::Backend::Sqlite => {
                let rows = sqlx::query(
                    "EXPLAIN QUERY PLAN SELECT SUM(amount_fen) FROM vouchers \
                     WHERE original_voucher_no = 'V1'",
                )
                .fetch_all(store.pool())
                .await
                .unwrap();
                use sqlx::Row;
                let detail: Vec<String> = rows.iter().map(|r| r.get::<String, _>(3)).collect();
                assert!(
                    detail.iter().any(|d| d.contains("INDEX vouchers_original")),
                    "refund lookup scans the table: {detail:?}"
                );
            }
            fundledger_store::Backend::Postgres => {
                let def: Option<String> = sqlx::query_scalar(
                    "SELECT indexdef FROM pg_indexes \
                     WHERE tablename = 'vouchers' AND indexname = 'vouchers_original'",
                )
                .fetch_optional(store.pool())
                .await
                .unwrap();
                // Without the NULLs of the vouchers that refund nothing
                // (migration 0012, ADR 0005 decision 26).
                assert!(
                    def.as_deref()
                        .is_some_and(|d| d.contains("(original_voucher_no)")
                            && d.contains("WHERE (original_voucher_no IS NOT NULL)")),
                    "no partial index on vouchers(original_voucher_no): {def:?}"
                );
            }
        }
        store.close().await;
    }
}
