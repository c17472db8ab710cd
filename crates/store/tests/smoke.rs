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
            .budget_set(2020, Fen(5_166_000_000), "2026-01-01T00:00:00Z")
            .await
            .unwrap();
        assert!(
            matches!(out, BudgetOutcome::Changed { entry_no: 1, .. }),
            "{out:?}"
        );
        let again = store
            .budget_set(2020, Fen(5_166_000_000), "2026-01-01T00:00:00Z")
            .await
            .unwrap();
        assert!(matches!(again, BudgetOutcome::Unchanged { .. }));
        store
            .budget_set(2020, Fen(5_000_000_000), "2026-01-02T00:00:00Z")
            .await
            .unwrap();
        let balances = store.balances().await.unwrap();
        let pool = balances.iter().find(|b| b.account == "pool:2020").unwrap();
        assert_eq!(pool.balance, Fen(5_000_000_000), "{:?}", db.backend);
        let report = store.verify().await.unwrap();
        assert!(report.ok(), "{:?}: {:?}", db.backend, report.failures);
        assert_eq!(report.entries, 2);
        store.close().await;
    }
}
