//! A ledger written by the release before seal format 2
//! (fixtures/legacy-0.1, see its README) opens, migrates and verifies with
//! the same chain head; its old seals stay as they were and verifiable; the
//! one upgrade step (`init` seals the catalog in a new batch) is visible in
//! the seal head only.

mod support;

use support::{fixture, fl, read_fixture, TestDb};

/// A copy of the legacy ledger as a TestDb (the copy is what changes).
fn legacy_copy() -> TestDb {
    let db = TestDb::sqlite();
    let path = db.url.trim_start_matches("sqlite:").to_string();
    std::fs::copy(fixture("legacy-0.1/gd2021.db"), &path).expect("copy legacy ledger");
    db
}

/// `chain head`, `seal head`, `entries`, `batches` lines of the old verify.
fn legacy_verify(key: &str) -> String {
    read_fixture("legacy-0.1/verify.txt")
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{key} ")).map(str::to_string))
        .unwrap_or_else(|| panic!("verify.txt has no {key}"))
}

fn seals(db: &TestDb) -> Vec<(i64, String, String, String)> {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let store = fundledger_store::Store::open(&db.url, fundledger_store::OpenMode::MustExist)
            .await
            .unwrap();
        let rows = sqlx::query_as(
            "SELECT batch_id, content, prev_hash, hash FROM seals ORDER BY batch_id",
        )
        .fetch_all(store.pool())
        .await
        .unwrap();
        store.close().await;
        rows
    })
}

#[test]
fn a_ledger_from_the_previous_release_migrates_with_its_chain_head() {
    let db = legacy_copy();
    let old_seals = seals(&db);
    let refused = fl(&db, &["verify"]).expect_code(1);
    assert!(
        refused.stderr.contains("fundledger init"),
        "{}",
        refused.stderr
    );

    let init = fl(&db, &["init"]).ok();
    assert!(
        init.stderr
            .contains("sealed the project catalog in seal format 2")
            && init.stderr.contains(&legacy_verify("seal head")),
        "{}",
        init.stderr
    );
    let v: serde_json::Value =
        serde_json::from_str(&fl(&db, &["verify", "--format", "json"]).ok().stdout).unwrap();
    assert_eq!(
        v["chain_head"].as_str().unwrap(),
        legacy_verify("chain head")
    );
    assert_eq!(v["entries"].to_string(), legacy_verify("entries"));
    let old_batches: i64 = legacy_verify("batches").parse().unwrap();
    assert_eq!(v["batches"].as_i64(), Some(old_batches + 1));
    assert_ne!(v["seal_head"].as_str().unwrap(), legacy_verify("seal head"));

    // The old seals are untouched; one format-2 seal follows them.
    let new_seals = seals(&db);
    assert_eq!(&new_seals[..old_seals.len()], &old_seals[..]);
    assert_eq!(new_seals.len(), old_seals.len() + 1);
    assert!(new_seals
        .last()
        .unwrap()
        .1
        .starts_with("seal|v=2\nbatches|"));

    check_after_upgrade(&db, old_batches, new_seals.len());
}

/// The upgraded ledger: same report, old heads named as earlier links, a
/// second init idle, the catalog sealed.
fn check_after_upgrade(db: &TestDb, old_batches: i64, seal_count: usize) {
    // The report is the old release's, byte for byte.
    let report = fl(
        db,
        &["reconcile", "--as-of", "2021-12-31", "--format", "csv"],
    )
    .ok();
    assert_eq!(
        report.stdout,
        read_fixture("legacy-0.1/reconcile_2021-12-31.csv")
    );

    // The heads an auditor kept before the upgrade: the chain head still
    // holds; the seal head is named as an earlier link (batches were added).
    fl(
        db,
        &["verify", "--expect-head", &legacy_verify("chain head")],
    )
    .ok();
    let old_both = format!(
        "{}:{}",
        legacy_verify("chain head"),
        legacy_verify("seal head")
    );
    let run = fl(db, &["verify", "--expect-head", &old_both]).expect_code(1);
    assert!(
        run.stdout.contains(&format!(
            "it is batch {old_batches}'s seal: batches were added since"
        )),
        "{}",
        run.stdout
    );

    // A second init has nothing to do.
    let again = fl(db, &["init"]).ok();
    assert!(
        again.stderr.contains("already up to date"),
        "{}",
        again.stderr
    );
    assert!(!again.stderr.contains("seal format 2"), "{}", again.stderr);
    assert_eq!(seals(db).len(), seal_count);

    // From the upgrade on, the catalog is sealed.
    sql(
        db,
        "UPDATE projects SET name = '伪造项目' WHERE code = 'JS02'",
    );
    let run = fl(db, &["verify"]).expect_code(1);
    assert!(
        run.stdout
            .lines()
            .any(|l| l.starts_with("BROKEN ") && l.contains("projects row differs")),
        "{}",
        run.stdout
    );
}

fn sql(db: &TestDb, statement: &str) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let store = fundledger_store::Store::open(&db.url, fundledger_store::OpenMode::MustExist)
            .await
            .unwrap();
        sqlx::query(statement).execute(store.pool()).await.unwrap();
        store.close().await;
    });
}
