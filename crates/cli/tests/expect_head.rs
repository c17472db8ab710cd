//! Heads kept outside the database (issue 12 §5, SPEC §9): a forger with
//! the database file can recompute both chains after rewriting history, so
//! `verify` alone passes; `verify --expect-head CHAIN:SEAL` with the heads an
//! auditor recorded earlier does not.

mod support;

use fundledger_core::tx::{canonical_bytes, chain_hash, ChainPosition, GENESIS_HASH};
use fundledger_store::seal::{batch_content, seal_hash, split_content, JournalHead, SealFormat};
use fundledger_store::testing::drop_append_only_triggers_sql;
use fundledger_store::{Backend, Store};
use sqlx::Executor;
use std::collections::BTreeMap;
use support::{fl, gd_ledger, TestDb};

/// `(chain head, seal head)` as `verify --format json` prints them.
fn heads(db: &TestDb) -> (String, String) {
    let run = fl(db, &["verify", "--format", "json"]).ok();
    let v: serde_json::Value = serde_json::from_str(&run.stdout).expect("verify json");
    let get = |k: &str| v[k].as_str().expect("head").to_string();
    (get("chain_head"), get("seal_head"))
}

fn expect(db: &TestDb, (chain, seal): &(String, String)) -> support::Run {
    fl(db, &["verify", "--expect-head", &format!("{chain}:{seal}")])
}

/// Runs `sql` with the triggers dropped and foreign keys off, then
/// recomputes every journal hash and every seal from the rows, as a forger
/// who knows the formats would.
fn forge(db: &TestDb, sql: &[&str]) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let store = db.store().await;
        let mut conn = store.pool().acquire().await.unwrap();
        let mut statements = drop_append_only_triggers_sql(db.backend);
        statements.push(
            match db.backend {
                Backend::Sqlite => "PRAGMA foreign_keys = OFF",
                Backend::Postgres => "SET session_replication_role = replica",
            }
            .to_string(),
        );
        statements.extend(sql.iter().map(|s| s.to_string()));
        for s in &statements {
            conn.execute(s.as_str())
                .await
                .unwrap_or_else(|e| panic!("{s}: {e}"));
        }
        drop(conn);
        let heads = rechain_journal(&store).await;
        reseal(&store, &heads).await;
        store.close().await;
    });
}

/// Recomputes every journal hash; returns each batch's last entry.
async fn rechain_journal(store: &Store) -> BTreeMap<i64, JournalHead> {
    let mut prev = GENESIS_HASH.to_string();
    let mut last_of_batch = BTreeMap::new();
    for e in store.journal_page(0).await.unwrap() {
        let tx = e.to_transaction().expect("forged entry is a transaction");
        let pos = ChainPosition {
            entry_no: e.entry_no,
            batch_id: e.batch_id,
            recorded_at: e.recorded_at.clone(),
        };
        let hash = chain_hash(&prev, &canonical_bytes(&tx, &pos));
        sqlx::query("UPDATE journal SET prev_hash = $1, hash = $2 WHERE entry_no = $3")
            .bind(prev.clone())
            .bind(hash.clone())
            .bind(e.entry_no)
            .execute(store.pool())
            .await
            .unwrap();
        last_of_batch.insert(e.batch_id, (e.entry_no, hash.clone()));
        prev = hash;
    }
    last_of_batch
}

/// Rebuilds every seal's content from the rows (keeping its catalog part)
/// and recomputes the seal chain.
async fn reseal(store: &Store, last_of_batch: &BTreeMap<i64, JournalHead>) {
    let seals: Vec<(i64, String)> =
        sqlx::query_as("SELECT batch_id, content FROM seals ORDER BY batch_id")
            .fetch_all(store.pool())
            .await
            .unwrap();
    let mut conn = store.pool().acquire().await.unwrap();
    let mut prev = GENESIS_HASH.to_string();
    for (batch_id, content) in seals {
        let head = last_of_batch
            .range(..=batch_id)
            .next_back()
            .map(|(_, h)| h.clone())
            .unwrap_or((0, GENESIS_HASH.to_string()));
        let format = SealFormat::of(&content);
        let mut rebuilt = batch_content(&mut conn, batch_id, &head, format)
            .await
            .unwrap()
            .expect("batch row");
        for l in split_content(&content).1 {
            rebuilt.push('\n');
            rebuilt.push_str(l);
        }
        let hash = seal_hash(&prev, &rebuilt);
        sqlx::query("UPDATE seals SET content = $1, prev_hash = $2, hash = $3 WHERE batch_id = $4")
            .bind(rebuilt)
            .bind(prev.clone())
            .bind(hash.clone())
            .bind(batch_id)
            .execute(&mut *conn)
            .await
            .unwrap();
        prev = hash;
    }
}

/// The GD ledger closed through June, with the heads recorded then.
fn recorded(db: &TestDb) -> (String, String) {
    gd_ledger(db);
    fl(db, &["close", "--through", "2021-06"]).ok();
    let h = heads(db);
    expect(db, &h).ok();
    h
}

/// After the forgery `verify` alone passes (the forger was thorough) and
/// `--expect-head` with the recorded heads exits 1 naming `which` head.
fn check_forgery(what: &str, sql: &[&str], which: &str) {
    for db in TestDb::all() {
        let before = recorded(&db);
        forge(&db, sql);
        fl(&db, &["verify"]).ok();
        let run = expect(&db, &before).expect_code(1);
        assert!(
            run.stdout.lines().any(|l| l.starts_with("BROKEN ")
                && l.contains(which)
                && l.contains("rewritten or cut")),
            "{what} ({:?}):\n{}",
            db.backend,
            run.stdout
        );
        assert!(run.stderr.contains("verify failed"), "{}", run.stderr);
    }
}

#[test]
fn amount_edited_and_both_chains_recomputed() {
    check_forgery(
        "voucher GZ21041001 cut from 80,000.00 to 8,000.00",
        &[
            "UPDATE vouchers SET amount_fen = 800000 WHERE voucher_no = 'GZ21041001'",
            "UPDATE journal SET details = REPLACE(details, 'amount_fen=8000000;', 'amount_fen=800000;') \
             WHERE voucher_no = 'GZ21041001'",
            "UPDATE postings SET amount_fen = CASE WHEN amount_fen > 0 THEN 800000 ELSE -800000 END \
             WHERE entry_no = (SELECT entry_no FROM journal WHERE voucher_no = 'GZ21041001')",
            "UPDATE balances SET balance_fen = \
             (SELECT COALESCE(SUM(p.amount_fen), 0) FROM postings p WHERE p.account = balances.account)",
        ],
        "chain head is",
    );
}

#[test]
fn closing_date_changed_and_seal_chain_recomputed() {
    check_forgery(
        "June closing moved back to March",
        &["UPDATE closings SET through_date = '2021-03-31'"],
        "seal head is",
    );
}

#[test]
fn last_batches_cut_from_journal_and_seals_together() {
    // The disbursement file's batches and the closing go; the ledger is
    // what it was after the indicator imports.
    let cut = "(SELECT MIN(batch_id) FROM batches WHERE command = 'import disbursements')";
    let entries = format!("(SELECT entry_no FROM journal WHERE batch_id >= {cut})");
    let statements = [
        format!("DELETE FROM vouchers WHERE entry_no IN {entries}"),
        format!("DELETE FROM postings WHERE entry_no IN {entries}"),
        format!("DELETE FROM closings WHERE batch_id >= {cut}"),
        format!("DELETE FROM seals WHERE batch_id >= {cut}"),
        format!("DELETE FROM journal WHERE batch_id >= {cut}"),
        format!("DELETE FROM batches WHERE batch_id >= {cut}"),
        "DELETE FROM balances WHERE account NOT IN (SELECT account FROM postings)".to_string(),
        "UPDATE balances SET balance_fen = \
         (SELECT COALESCE(SUM(p.amount_fen), 0) FROM postings p WHERE p.account = balances.account)"
            .to_string(),
    ];
    let sql: Vec<&str> = statements.iter().map(String::as_str).collect();
    check_forgery("disbursements and closing cut", &sql, "chain head is");
    check_forgery("disbursements and closing cut", &sql, "seal head is");
}

/// A ledger that only grew since the heads were recorded also fails (the
/// heads differ), and says so rather than calling it a rewrite.
#[test]
fn a_grown_ledger_differs_and_says_it_grew() {
    for db in TestDb::all() {
        gd_ledger(&db);
        let before = heads(&db);
        fl(&db, &["close", "--through", "2021-06"]).ok();
        let run = expect(&db, &before).expect_code(1);
        assert!(
            run.stdout.contains("seal head is") && run.stdout.contains("batches were added since"),
            "{}",
            run.stdout
        );
        assert!(!run.stdout.contains("chain head is"), "{}", run.stdout);
        // The chain head alone still matches: no entry was added.
        fl(&db, &["verify", "--expect-head", &before.0]).ok();
        let now = heads(&db);
        expect(&db, &now).ok();
        // Upper-case hex is the same head.
        fl(&db, &["verify", "--expect-head", &now.0.to_uppercase()]).ok();
    }
}

#[test]
fn a_malformed_expected_head_is_a_usage_error() {
    let db = TestDb::sqlite();
    gd_ledger(&db);
    let (chain, _) = heads(&db);
    for bad in [
        "abc".to_string(),
        format!("{chain}:"),
        format!("{chain}:xyz"),
        format!("{}g", &chain[..63]),
    ] {
        let run = fl(&db, &["verify", "--expect-head", &bad]).expect_code(2);
        assert!(
            run.stderr.contains("--expect-head"),
            "{bad}: {}",
            run.stderr
        );
    }
}

/// The trail manifest and the journal export carry both heads, equal to
/// what `verify` prints.
#[test]
fn trail_manifest_and_journal_export_carry_both_heads() {
    for db in TestDb::all() {
        gd_ledger(&db);
        let (chain, seal) = heads(&db);
        let journal = fl(&db, &["export", "journal"]).ok().stdout;
        assert!(
            journal.contains(&format!("; chain head: {chain}\n; seal head: {seal}\n")),
            "{}",
            &journal[..300.min(journal.len())]
        );
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("trail.csv");
        fl(&db, &["export", "trail", "--output", out.to_str().unwrap()]).ok();
        let manifest: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(dir.path().join("trail.csv.manifest.json")).unwrap(),
        )
        .unwrap();
        assert_eq!(manifest["chain_head"].as_str(), Some(chain.as_str()));
        assert_eq!(manifest["seal_head"].as_str(), Some(seal.as_str()));
    }
}
