//! The table → privilege classification of `init --roles` covers every
//! table the migrations create, on each backend: a table added by a later
//! migration fails here until it is classified in `roles::TABLE_GRANTS`.

use fundledger_store::roles::{roles_sql, TABLE_GRANTS};
use fundledger_store::testing::TestDb;
use std::collections::BTreeSet;

#[tokio::test]
async fn every_table_in_the_catalog_is_classified() {
    let classified: BTreeSet<String> = TABLE_GRANTS.iter().map(|g| g.table.to_string()).collect();
    assert_eq!(
        classified.len(),
        TABLE_GRANTS.len(),
        "a table is listed twice"
    );
    for db in TestDb::all() {
        let store = db.store().await;
        let tables: BTreeSet<String> = store.table_names().await.unwrap().into_iter().collect();
        assert_eq!(
            tables, classified,
            "{:?}: the database's tables and roles::TABLE_GRANTS differ",
            db.backend
        );
        store.close().await;
    }
}

#[test]
fn append_only_tables_are_never_granted_update_or_delete() {
    for g in TABLE_GRANTS {
        if fundledger_store::testing::APPEND_ONLY_TABLES.contains(&g.table) {
            for p in g.officer.iter().chain(g.admin) {
                assert_eq!(*p, "INSERT", "{}: {p}", g.table);
            }
        }
    }
    assert!(roles_sql()
        .iter()
        .all(|s| !s.contains("DELETE") && !s.contains("TRUNCATE")));
}
