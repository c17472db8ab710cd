//! SPEC §6 tamper evidence: someone with raw database access drops the
//! append-only triggers and edits history; `verify` must notice and name the
//! entry (number and transaction id) where the ledger stops being what was
//! recorded. Each case runs on a fresh copy of the Guangdong 2021 ledger
//! (see `common::gd_ledger` for which entry is which) on every backend.

mod common;

use fundledger_core::tx::{canonical_bytes, chain_hash, ChainPosition};
use fundledger_store::testing::{drop_append_only_triggers_sql, TestDb};
use fundledger_store::{Backend, Store, VerifyFailure};
use sqlx::Executor;

/// Runs the tamper statements on one connection (the swap uses a temporary
/// table, which lives in one session).
async fn tamper(store: &Store, statements: &[String]) {
    let mut conn = store.pool().acquire().await.expect("connection");
    for sql in statements {
        conn.execute(sql.as_str())
            .await
            .unwrap_or_else(|e| panic!("{:?}: tamper `{sql}`: {e}", store.backend()));
    }
}

/// Builds the ledger, checks it verifies, applies `tamper_sql` with the
/// triggers dropped, and expects a failure naming entry `entry_no`
/// (`tx_id`) whose message contains `fragment`. Returns every backend's
/// failures for further checks.
async fn check(
    tamper_sql: &[&str],
    entry_no: i64,
    tx_id: &str,
    fragment: &str,
) -> Vec<Vec<VerifyFailure>> {
    let mut all = Vec::new();
    for db in TestDb::all() {
        all.push(check_on(db, tamper_sql, entry_no, tx_id, fragment).await);
    }
    all
}

/// `check` on one backend.
async fn check_on(
    db: TestDb,
    tamper_sql: &[&str],
    entry_no: i64,
    tx_id: &str,
    fragment: &str,
) -> Vec<VerifyFailure> {
    let store = db.store().await;
    common::gd_ledger(&store).await;
    let clean = store.verify().await.expect("verify before tampering");
    assert!(clean.ok(), "{:?}: {:?}", db.backend, clean.failures);
    assert_eq!(clean.entries, 18, "{:?}: fixture layout", db.backend);
    let mut statements = drop_append_only_triggers_sql(db.backend);
    statements.extend(tamper_sql.iter().map(|s| s.to_string()));
    tamper(&store, &statements).await;
    let report = store.verify().await.expect("verify after tampering");
    let named = |f: &VerifyFailure| {
        f.entry_no == Some(entry_no)
            && f.tx_id.as_deref() == Some(tx_id)
            && f.message.contains(fragment)
    };
    assert!(
        report.failures.iter().any(named),
        "{:?}: {tamper_sql:?}: expected entry {entry_no} ({tx_id}): …{fragment}…, got:\n{}",
        db.backend,
        report
            .failures
            .iter()
            .map(|f| format!("  {f}"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    store.close().await;
    report.failures
}

const GZ21032001: &str = "voucher:GZ21032001";
const GZ21041001: &str = "voucher:GZ21041001";
const GZ21040401: &str = "voucher:GZ21040401";
const FS21032501: &str = "voucher:FS21032501";
const SG21061501: &str = "voucher:SG21061501";
const FS21050601: &str = "voucher:FS21050601";

#[tokio::test]
async fn changed_posting_amount() {
    // One leg only: the transaction no longer balances.
    check(
        &["UPDATE postings SET amount_fen = amount_fen + 1 WHERE entry_no = 13 AND seq = 1"],
        13,
        GZ21041001,
        "does not balance",
    )
    .await;
    // Both legs, still balanced: only the hash gives it away.
    check(
        &["UPDATE postings SET amount_fen = amount_fen + 100 * (CASE WHEN amount_fen > 0 THEN 1 ELSE -1 END) WHERE entry_no = 12"],
        12,
        GZ21032001,
        "hash mismatch",
    )
    .await;
}

#[tokio::test]
async fn posting_moved_to_another_account() {
    check(
        &["UPDATE postings SET account = 'disbursed:2021:440100:440100:JS05' WHERE entry_no = 12 AND seq = 1"],
        12,
        GZ21032001,
        "hash mismatch",
    )
    .await;
}

#[tokio::test]
async fn deleted_posting() {
    check(
        &["DELETE FROM postings WHERE entry_no = 14 AND seq = 2"],
        14,
        GZ21040401,
        "1 posting(s)",
    )
    .await;
}

#[tokio::test]
async fn two_transactions_swapped() {
    // Entries 13 and 14 exchange their whole content (journal row and
    // postings); each transaction is intact but sits in the other's place.
    let columns = "tx_id, tx_date, kind, description, fiscal_year, doc_no, voucher_no, \
                   region_code, project_code, source_file, source_line, details, batch_id, \
                   recorded_at, prev_hash, hash";
    let copy = format!(
        "CREATE TEMPORARY TABLE swapped AS SELECT entry_no, {columns} FROM journal WHERE entry_no IN (13, 14)"
    );
    let swap = format!(
        "UPDATE journal SET ({columns}) = (SELECT {columns} FROM swapped s WHERE s.entry_no = 27 - journal.entry_no) \
         WHERE entry_no IN (13, 14)"
    );
    check(
        &[
            &copy,
            // tx_id is UNIQUE: move both out of the way first.
            "UPDATE journal SET tx_id = 'swap:' || tx_id WHERE entry_no IN (13, 14)",
            &swap,
            "UPDATE postings SET seq = seq + 100 WHERE entry_no IN (13, 14)",
            "UPDATE postings SET entry_no = 27 - entry_no, seq = seq - 100 WHERE entry_no IN (13, 14)",
        ],
        13,
        GZ21040401,
        "previous-hash link broken",
    )
    .await;
}

#[tokio::test]
async fn changed_journal_fields() {
    check(
        &["UPDATE journal SET description = 'disbursement GZ21041001 (approved)' WHERE entry_no = 13"],
        13,
        GZ21041001,
        "hash mismatch",
    )
    .await;
    check(
        &["UPDATE journal SET tx_date = '2021-04-09' WHERE entry_no = 13"],
        13,
        GZ21041001,
        "hash mismatch",
    )
    .await;
}

#[tokio::test]
async fn deleted_journal_row() {
    // Voucher SG21040101 (entry 15) removed with everything pointing at it:
    // the gap is reported at the next entry.
    check(
        &[
            "DELETE FROM vouchers WHERE entry_no = 15",
            "DELETE FROM postings WHERE entry_no = 15",
            "DELETE FROM journal WHERE entry_no = 15",
        ],
        16,
        FS21032501,
        "entries 15..15 are missing",
    )
    .await;
}

#[tokio::test]
async fn deleted_journal_row_alone() {
    // Foreign keys switched off so the journal row goes and its postings
    // and voucher row stay: the entry is named by number (its id is gone).
    for db in TestDb::all() {
        let off = match db.backend {
            Backend::Sqlite => "PRAGMA foreign_keys = OFF",
            Backend::Postgres => "SET session_replication_role = replica",
        };
        let delete = "DELETE FROM journal WHERE entry_no = 15";
        check_on(
            db,
            &[off, delete],
            15,
            "",
            "journal row is missing but its postings remain",
        )
        .await;
    }
}

/// Regression (verify's rows found by binary search, ADR 0005 decision
/// 29): the journal row gone from the middle of a page leaves an orphan
/// marker per posting, all with its entry number; its voucher row finds
/// one of them and is reported once, as when a hashed map found the last.
#[tokio::test]
async fn deleted_journal_row_alone_names_its_voucher_row_once() {
    for db in TestDb::all() {
        let backend = db.backend;
        let off = match backend {
            Backend::Sqlite => "PRAGMA foreign_keys = OFF",
            Backend::Postgres => "SET session_replication_role = replica",
        };
        let delete = "DELETE FROM journal WHERE entry_no = 15";
        let failures = check_on(db, &[off, delete], 15, "", "journal row is missing").await;
        let of_entry_15: Vec<&str> = failures
            .iter()
            .filter(|f| f.entry_no == Some(15))
            .map(|f| f.message.as_str())
            .collect();
        assert_eq!(
            of_entry_15,
            [
                "previous-hash link broken: an entry before it was changed, removed or reordered",
                "journal row is missing but its postings remain",
                "entry number out of sequence",
                "journal row is missing but its postings remain",
                "vouchers row differs from what its entry recorded",
                "journal entry of batch 0, which has no seal",
            ],
            "{backend:?}: {failures:?}"
        );
    }
}

#[tokio::test]
async fn changed_voucher_amount() {
    check(
        &["UPDATE vouchers SET amount_fen = 800000 WHERE voucher_no = 'GZ21041001'"],
        13,
        GZ21041001,
        "vouchers row differs from what its entry recorded",
    )
    .await;
}

#[tokio::test]
async fn deleted_voucher_row() {
    check(
        &["DELETE FROM vouchers WHERE voucher_no = 'SG21061501'"],
        17,
        SG21061501,
        "its vouchers row is missing",
    )
    .await;
}

#[tokio::test]
async fn changed_indicator_line_amount() {
    check(
        &["UPDATE indicator_lines SET amount_fen = 36800500 WHERE entry_no = 10"],
        10,
        "indicator:粤财社〔2021〕40号:440105:JS04",
        "indicator_lines row differs from what its entry recorded",
    )
    .await;
    check(
        &["UPDATE reductions SET amount_fen = -200000 WHERE entry_no = 11"],
        11,
        "indicator:粤财社〔2021〕77号:440281:JS02",
        "reductions row differs from what its entry recorded",
    )
    .await;
}

#[tokio::test]
async fn tampered_balances_row() {
    // balances has no trigger (it is maintained, not history), but it must
    // equal the postings; the refund (entry 18) posted to it last.
    check(
        &["UPDATE balances SET balance_fen = balance_fen + 100 WHERE account = 'disbursed:2021:440600:440600:JS02'"],
        18,
        FS21050601,
        "balance of disbursed:2021:440600:440600:JS02 is 6000100 fen in the balances table but its postings sum to 6000000 fen",
    )
    .await;
}

#[tokio::test]
async fn changed_entry_with_its_hash_recomputed() {
    // A careful forger rewrites entry 13 and recomputes its own hash; the
    // chain still breaks at entry 14, whose prev_hash no longer matches.
    // The ledger is deterministic (fixed recorded_at), so the forged hash
    // computed on a scratch copy holds on every backend.
    let scratch = TestDb::sqlite();
    let store = scratch.store().await;
    common::gd_ledger(&store).await;
    let page = store.journal_page(12).await.expect("journal");
    let e = page.iter().find(|e| e.entry_no == 13).expect("entry 13");
    let mut forged = e.clone();
    forged.description = "disbursement GZ21041001 (approved)".into();
    let tx = forged.to_transaction().expect("forged transaction");
    let pos = ChainPosition {
        entry_no: 13,
        batch_id: e.batch_id,
        recorded_at: e.recorded_at.clone(),
    };
    let hash = chain_hash(&e.prev_hash, &canonical_bytes(&tx, &pos));
    store.close().await;
    let sql = format!(
        "UPDATE journal SET description = '{}', hash = '{hash}' WHERE entry_no = 13",
        forged.description
    );
    for failures in check(&[&sql], 14, GZ21040401, "previous-hash link broken").await {
        // The forgery itself is self-consistent: only its successor shows it.
        assert!(
            failures.iter().all(|f| f.entry_no != Some(13)),
            "{failures:?}"
        );
    }
}

/// The rows no journal entry covers (`full_ledger` holds a row in each):
/// closings, rollovers, region extensions, the batch records and the seals
/// themselves, and the journal's tail. Changing or deleting any one of them
/// is named by verify, with its batch. FKs are switched off so a row can go
/// alone, as a forger would do it.
#[tokio::test]
async fn rollover_close_and_region_rows_changed_or_deleted() {
    let cases: &[(&str, &str)] = &[
        ("carries", "UPDATE carries SET amount_fen = amount_fen + 1"),
        ("carries", "DELETE FROM carries"),
        (
            "recoveries",
            "UPDATE recoveries SET amount_fen = amount_fen + 1",
        ),
        ("recoveries", "DELETE FROM recoveries"),
        (
            "rollovers",
            "UPDATE rollovers SET recover_after = recover_after + 5",
        ),
        (
            "rollovers",
            "DELETE FROM rollovers WHERE fiscal_year = 2022",
        ),
        (
            "closings",
            "UPDATE closings SET through_date = '2021-06-30'",
        ),
        ("closings", "DELETE FROM closings"),
        (
            "region_extensions",
            "UPDATE region_extensions SET name = '韶关新区'",
        ),
        ("region_extensions", "DELETE FROM region_extensions"),
        (
            "batches",
            "UPDATE batches SET file_sha256 = 'ab' || file_sha256 WHERE file_sha256 IS NOT NULL",
        ),
        (
            "batches",
            "UPDATE batches SET command = 'budget set' WHERE command = 'rollover'",
        ),
        (
            "batches",
            "DELETE FROM batches WHERE batch_id = (SELECT MAX(batch_id) FROM batches)",
        ),
        (
            "seal",
            "UPDATE seals SET content = content || ' ' WHERE batch_id = 2",
        ),
        ("seal", "DELETE FROM seals WHERE batch_id = 2"),
        (
            "seal",
            "DELETE FROM seals WHERE batch_id = (SELECT MAX(batch_id) FROM seals)",
        ),
        // The journal's last entry with everything that points at it: the
        // journal chain alone cannot see a shorter tail, the seals can.
        (
            "journal",
            "DELETE FROM recoveries WHERE entry_no = (SELECT MAX(entry_no) FROM journal)",
        ),
    ];
    for db in TestDb::all() {
        for (table, sql) in cases {
            let fresh = match db.backend {
                Backend::Sqlite => TestDb::sqlite(),
                Backend::Postgres => TestDb::postgres().expect("configured"),
            };
            let store = fresh.store().await;
            common::full_ledger(&store).await;
            let clean = store.verify().await.expect("verify before tampering");
            assert!(clean.ok(), "{:?}: {:?}", db.backend, clean.failures);
            let off = match db.backend {
                Backend::Sqlite => "PRAGMA foreign_keys = OFF",
                Backend::Postgres => "SET session_replication_role = replica",
            };
            let mut statements = drop_append_only_triggers_sql(db.backend);
            statements.push(off.to_string());
            statements.push(sql.to_string());
            if *table == "journal" {
                for t in ["postings", "journal"] {
                    statements.push(format!(
                        "DELETE FROM {t} WHERE entry_no = (SELECT MAX(entry_no) FROM journal)"
                    ));
                }
                statements.push(
                    "UPDATE balances SET balance_fen = 0 WHERE account LIKE '%recovered%'".into(),
                );
            }
            tamper(&store, &statements).await;
            let report = store.verify().await.expect("verify after tampering");
            assert!(
                report.failures.iter().any(|f| f.message.contains(table)
                    && (f.entry_no.is_some() || f.message.starts_with("batch "))),
                "{:?}: `{sql}` not named by verify:\n{}",
                db.backend,
                report
                    .failures
                    .iter()
                    .map(|f| format!("  {f}"))
                    .collect::<Vec<_>>()
                    .join("\n")
            );
            store.close().await;
        }
    }
}

/// Issue 12: `full_ledger`, triggers dropped and foreign keys off, then
/// `sql(backend)`; verify must fail with a message containing `fragment`.
async fn check_full_ledger(sql: impl Fn(Backend) -> Vec<String>, fragment: &str) {
    for db in TestDb::all() {
        let store = db.store().await;
        common::full_ledger(&store).await;
        let clean = store.verify().await.expect("verify before tampering");
        assert!(clean.ok(), "{:?}: {:?}", db.backend, clean.failures);
        let mut statements = drop_append_only_triggers_sql(db.backend);
        statements.push(foreign_keys_off(db.backend).to_string());
        statements.extend(sql(db.backend));
        tamper(&store, &statements).await;
        let report = store.verify().await.expect("verify after tampering");
        assert!(
            report
                .failures
                .iter()
                .any(|f| f.to_string().contains(fragment)),
            "{:?}: {:?}: expected …{fragment}…, got:\n{}",
            db.backend,
            sql(db.backend),
            report
                .failures
                .iter()
                .map(|f| format!("  {f}"))
                .collect::<Vec<_>>()
                .join("\n")
        );
        store.close().await;
    }
}

fn foreign_keys_off(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => "PRAGMA foreign_keys = OFF",
        Backend::Postgres => "SET session_replication_role = replica",
    }
}

fn same_sql<'a>(sql: &'a [&'a str]) -> impl Fn(Backend) -> Vec<String> + 'a {
    move |_| sql.iter().map(|s| s.to_string()).collect()
}

/// Issue 12 §2: posting numbers that keep the order still change what is
/// stored; only 1, 2, … is the canonical numbering.
#[tokio::test]
async fn issue12_postings_seq_renumbered() {
    check_full_ledger(
        same_sql(&["UPDATE postings SET seq = seq * 10 WHERE entry_no = 13"]),
        "entry 13 (voucher:GZ21041001): journal text is not in canonical form: postings row seq 10 where 1 is expected",
    )
    .await;
}

/// Issue 12 §3: control rows filed under a batch that has no seal.
#[tokio::test]
async fn issue12_control_rows_of_an_unsealed_batch() {
    let cases: &[(&str, &str)] = &[
        (
            "INSERT INTO rollovers VALUES (2023, 1, 999)",
            "batch 999: rollovers row belongs to this batch, which has no seal",
        ),
        (
            "INSERT INTO closings VALUES ('2021-12-31', 999)",
            "batch 999: closings row belongs to this batch, which has no seal",
        ),
        (
            "INSERT INTO region_extensions VALUES ('440199', '伪造区', 'county', '440100', 2021, NULL, '', 999)",
            "batch 999: region_extensions row belongs to this batch, which has no seal",
        ),
    ];
    for (sql, fragment) in cases {
        check_full_ledger(same_sql(&[sql]), fragment).await;
    }
}

/// Issue 12 §4: stored text the hash re-renders (a date without leading
/// zeros, line breaks in a description, '' for NULL) must be canonical.
#[tokio::test]
async fn issue12_non_canonical_journal_text() {
    check_full_ledger(
        same_sql(&["UPDATE journal SET tx_date = '2021-3-20' WHERE entry_no = 12"]),
        "entry 12 (voucher:GZ21032001): journal text is not in canonical form: tx_date `2021-3-20` is not `2021-03-20`",
    )
    .await;
    check_full_ledger(
        |backend| {
            let newline = match backend {
                Backend::Sqlite => "char(10)",
                Backend::Postgres => "chr(10)",
            };
            vec![format!(
                "UPDATE journal SET description = replace(description, ' ', {newline}) WHERE entry_no = 13"
            )]
        },
        "entry 13 (voucher:GZ21041001): journal text is not in canonical form: description holds a tab or line break",
    )
    .await;
    for column in [
        "doc_no",
        "voucher_no",
        "region_code",
        "project_code",
        "source_file",
        "details",
    ] {
        let sql = format!("UPDATE journal SET {column} = '' WHERE entry_no = 1");
        let fragment = format!(
            "entry 1 (budget:2021:1): journal text is not in canonical form: {column} is '' where fundledger writes NULL"
        );
        check_full_ledger(same_sql(&[&sql]), &fragment).await;
    }
}

/// Issue 12 §1: every column of the project catalog, and its rows, are
/// sealed (the catalog is printed in every report and trail row).
#[tokio::test]
async fn issue12_catalog_changed_or_deleted() {
    let cases: &[&str] = &[
        "UPDATE projects SET name = '伪造项目' WHERE code = 'JS02'",
        "UPDATE projects SET aliases = 'x' WHERE code = 'JS02'",
        "UPDATE projects SET func_code = NULL WHERE func_code IS NOT NULL AND code = (SELECT MAX(code) FROM projects WHERE func_code IS NOT NULL)",
        "UPDATE projects SET func_code = '' WHERE func_code IS NULL OR func_code IS NOT NULL",
        "UPDATE projects SET code = 'JS99' WHERE code = 'JS02'",
        "DELETE FROM projects WHERE code = 'JS02'",
        "INSERT INTO projects VALUES ('JS98', '伪造项目', '', NULL)",
    ];
    for db in TestDb::all() {
        for sql in cases {
            let fresh = match db.backend {
                Backend::Sqlite => TestDb::sqlite(),
                Backend::Postgres => TestDb::postgres().expect("configured"),
            };
            let store = fresh.store().await;
            common::ledger_with_catalog(&store).await;
            let clean = store.verify().await.expect("verify before tampering");
            assert!(clean.ok(), "{:?}: {:?}", db.backend, clean.failures);
            tamper(&store, &[sql.to_string()]).await;
            let report = store.verify().await.expect("verify after tampering");
            assert!(
                report
                    .failures
                    .iter()
                    .any(|f| f.message.contains("projects row")),
                "{:?}: `{sql}` not named:\n{:?}",
                db.backend,
                report.failures
            );
            store.close().await;
        }
    }
}

/// Issue 12 §4 for control rows: sealed as stored, and also required to be
/// the text fundledger writes (a closing is compared as text).
#[tokio::test]
async fn issue12_non_canonical_control_text() {
    check_full_ledger(
        same_sql(&["UPDATE closings SET through_date = '2021-3-31'"]),
        "closings row through_date `2021-3-31` is not YYYY-MM-DD",
    )
    .await;
    check_full_ledger(
        same_sql(&["UPDATE region_extensions SET level = 'County'"]),
        "region_extensions 440271: level `County`",
    )
    .await;
}
