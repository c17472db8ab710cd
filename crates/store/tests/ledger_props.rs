//! Property: whatever sequence of commands runs — budgets, allocations,
//! disbursements, refunds and reversals, some committed, some rolled back,
//! some dropped mid-way, some failing at commit — the stored ledger stays
//! whole: every transaction balances and reads back exactly as appended,
//! the balances table equals the sums of the postings, the commands that did
//! not commit left no entry, posting, balance or batch behind, entry numbers
//! are gapless and `verify` passes.
//!
//! SQLite gets a fresh database per case; PostgreSQL one database per run,
//! each case checking against the state it started from.

use chrono::NaiveDate;
use fundledger_core::{
    Account, Fen, Posting, ProjectCode, RegionCode, Transaction, TxKind, TxMeta,
};
use fundledger_store::testing::TestDb;
use fundledger_store::{Backend, Store, StoreError, WriteTx};
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{Config, TestRunner};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, Ordering};

const RECORDED_AT: &str = "2026-11-23T12:00:00Z";

/// (region, project) of the lines the generated transactions touch.
const LINES: &[(&str, &str)] = &[
    ("430121", "JS01"),
    ("430102", "JS02"),
    ("440203", "JS08"),
    ("440224", "JS08"),
];

#[derive(Clone, Debug)]
enum Op {
    Budget {
        year: i32,
        amount_fen: i64,
    },
    /// One document allocating to one or more lines (a multi-leg entry).
    Allocation {
        year: i32,
        legs: Vec<(usize, i64)>,
    },
    Disbursement {
        year: i32,
        line: usize,
        amount_fen: i64,
    },
    Refund {
        year: i32,
        line: usize,
        amount_fen: i64,
    },
    /// Reverses one of the transactions appended so far in this case.
    Reversal {
        target: Index,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ending {
    Commit,
    Rollback,
    /// Dropped without commit or rollback (an error path or a panic).
    Drop,
    /// Appends a transaction id twice: the commit fails.
    FailAtCommit,
}

#[derive(Clone, Debug)]
struct Command {
    ops: Vec<Op>,
    ending: Ending,
    day_of_year: u32,
}

fn amount() -> impl Strategy<Value = i64> {
    1i64..1_000_000_000
}

fn op() -> impl Strategy<Value = Op> {
    let year = 2020i32..=2021;
    let line = 0..LINES.len();
    prop_oneof![
        (year.clone(), amount()).prop_map(|(year, amount_fen)| Op::Budget { year, amount_fen }),
        (
            year.clone(),
            proptest::collection::vec((line.clone(), amount()), 1..4)
        )
            .prop_map(|(year, legs)| Op::Allocation { year, legs }),
        (year.clone(), line.clone(), amount()).prop_map(|(year, line, amount_fen)| {
            Op::Disbursement {
                year,
                line,
                amount_fen,
            }
        }),
        (year, line, amount()).prop_map(|(year, line, amount_fen)| Op::Refund {
            year,
            line,
            amount_fen
        }),
        any::<Index>().prop_map(|target| Op::Reversal { target }),
    ]
}

fn command() -> impl Strategy<Value = Command> {
    let ending = prop_oneof![
        3 => Just(Ending::Commit),
        1 => Just(Ending::Rollback),
        1 => Just(Ending::Drop),
        1 => Just(Ending::FailAtCommit),
    ];
    (proptest::collection::vec(op(), 1..6), ending, 1u32..=360).prop_map(
        |(ops, ending, day_of_year)| Command {
            ops,
            ending,
            day_of_year,
        },
    )
}

/// Transaction ids unique across cases (PostgreSQL keeps one database).
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

fn next_id(kind: &str) -> String {
    format!("{kind}:{}", NEXT_ID.fetch_add(1, Ordering::SeqCst))
}

fn line_accounts(year: i32, line: usize) -> (Account, Account, RegionCode, ProjectCode) {
    let (r, p) = LINES[line];
    let region = RegionCode::parse(r).expect("test region");
    let project = ProjectCode::parse(p).expect("test project");
    (
        Account::allocated(year, region, &project),
        Account::disbursed(year, region, &project),
        region,
        project,
    )
}

/// The core transaction for `op`, or None for a reversal with nothing to
/// reverse yet. `earlier` are the transactions appended before it.
fn build(op: &Op, date: NaiveDate, earlier: &[Transaction]) -> Option<Transaction> {
    let meta = |year: i32, line: Option<usize>| {
        let mut m = TxMeta {
            fiscal_year: Some(year),
            source_file: Some("generated.csv".into()),
            source_line: Some(2),
            ..TxMeta::default()
        };
        if let Some(l) = line {
            m.region_code = Some(LINES[l].0.to_string());
            m.project_code = Some(LINES[l].1.to_string());
        }
        m
    };
    let tx = match op {
        Op::Budget { year, amount_fen } => Transaction::transfer(
            next_id("budget"),
            date,
            TxKind::Budget,
            format!("pool of {year}"),
            meta(*year, None),
            Account::pool(*year),
            Account::appropriation(*year),
            Fen::new(*amount_fen),
        ),
        Op::Allocation { year, legs } => {
            let mut postings: Vec<Posting> = legs
                .iter()
                .map(|(l, a)| Posting {
                    account: line_accounts(*year, *l).0,
                    amount: Fen::new(*a),
                })
                .collect();
            let total =
                Fen::checked_sum(legs.iter().map(|(_, a)| Fen::new(*a))).expect("small sums");
            postings.push(Posting {
                account: Account::pool(*year),
                amount: Fen::new(-total.as_i64()),
            });
            let mut m = meta(*year, Some(legs[0].0));
            m.doc_no = Some(format!("湘财社指〔{year}〕{}号", legs.len()));
            Transaction::new(
                next_id("indicator"),
                date,
                TxKind::Allocation,
                "allocation; 分配 | test".into(),
                m,
                postings,
            )
        }
        Op::Disbursement {
            year,
            line,
            amount_fen,
        }
        | Op::Refund {
            year,
            line,
            amount_fen,
        } => {
            let refund = matches!(op, Op::Refund { .. });
            let (allocated, disbursed, _, _) = line_accounts(*year, *line);
            let id = next_id("voucher");
            let mut m = meta(*year, Some(*line));
            m.voucher_no = Some(id.clone());
            let (kind, signed) = if refund {
                (TxKind::Refund, -amount_fen)
            } else {
                (TxKind::Disbursement, *amount_fen)
            };
            Transaction::transfer(
                id,
                date,
                kind,
                format!("{kind} 退回\\测试"),
                m,
                disbursed,
                allocated,
                Fen::new(signed),
            )
        }
        Op::Reversal { target } => {
            if earlier.is_empty() {
                return None;
            }
            target.get(earlier).reversal(next_id("reversal"), date)
        }
    };
    Some(tx.expect("generated transactions balance"))
}

/// What the ledger must hold: the state a case started from plus what its
/// committed commands appended.
#[derive(Clone, Debug, Default)]
struct Expected {
    entries: i64,
    postings: i64,
    batches: i64,
    /// Every account any committed posting touched (zero balances included:
    /// the balances table keeps a row once an account has been posted to).
    balances: BTreeMap<String, i64>,
    /// Committed in this case, in entry order from `first_entry`.
    committed: Vec<Transaction>,
    first_entry: i64,
    /// Ids of transactions that were never committed.
    abandoned: BTreeSet<String>,
}

async fn query_balances(store: &Store, sql: &str) -> BTreeMap<String, i64> {
    sqlx::query_as::<_, (String, i64)>(sql)
        .fetch_all(store.pool())
        .await
        .expect("balances")
        .into_iter()
        .collect()
}

async fn count(store: &Store, table: &str) -> i64 {
    sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
        .fetch_one(store.pool())
        .await
        .expect("count")
}

async fn starting_state(store: &Store) -> Expected {
    let entries = count(store, "journal").await;
    Expected {
        entries,
        postings: count(store, "postings").await,
        batches: count(store, "batches").await,
        balances: query_balances(store, "SELECT account, balance_fen FROM balances").await,
        committed: Vec::new(),
        first_entry: entries + 1,
        abandoned: BTreeSet::new(),
    }
}

/// Runs one command; returns the transactions it appended and whether
/// they were committed.
async fn run_command(
    store: &Store,
    cmd: &Command,
    earlier: &[Transaction],
) -> (Vec<Transaction>, bool) {
    let date = NaiveDate::from_yo_opt(2021, cmd.day_of_year).expect("day of year");
    let mut w = WriteTx::begin(store, "generated", None, RECORDED_AT)
        .await
        .expect("begin");
    let mut appended: Vec<Transaction> = Vec::new();
    for op in &cmd.ops {
        let visible: Vec<Transaction> = earlier.iter().chain(&appended).cloned().collect();
        if let Some(tx) = build(op, date, &visible) {
            w.append(&tx).await.expect("append");
            appended.push(tx);
        }
    }
    match cmd.ending {
        Ending::Commit => {
            w.commit().await.expect("commit");
            return (appended, true);
        }
        Ending::Rollback => w.rollback().await.expect("rollback"),
        Ending::Drop => drop(w),
        Ending::FailAtCommit => match appended.first() {
            Some(first) => {
                w.append(first).await.expect("buffered append");
                let err = w.commit().await.expect_err("duplicate tx_id must fail");
                assert!(matches!(err, StoreError::Sql(_)), "{err:?}");
            }
            None => w.rollback().await.expect("rollback"),
        },
    }
    (appended, false)
}

fn record(expected: &mut Expected, appended: Vec<Transaction>, committed: bool) {
    if !committed {
        expected
            .abandoned
            .extend(appended.iter().map(|t| t.tx_id().to_string()));
        return;
    }
    expected.batches += 1;
    for tx in appended {
        expected.entries += 1;
        expected.postings += tx.postings().len() as i64;
        for p in tx.postings() {
            let balance = expected.balances.entry(p.account.to_string()).or_insert(0);
            *balance = balance
                .checked_add(p.amount.as_i64())
                .expect("test sums fit i64");
        }
        expected.committed.push(tx);
    }
}

async fn check_ledger(store: &Store, expected: &Expected, after: &str) {
    let backend = store.backend();
    let ctx = format!("{backend:?} after {after}");
    // Gapless entry and batch numbers, and nothing extra.
    let entry_nos: Vec<i64> = sqlx::query_scalar("SELECT entry_no FROM journal ORDER BY entry_no")
        .fetch_all(store.pool())
        .await
        .expect("entry numbers");
    assert_eq!(
        entry_nos,
        (1..=expected.entries).collect::<Vec<_>>(),
        "{ctx}: entry numbers"
    );
    let batch_ids: Vec<i64> = sqlx::query_scalar("SELECT batch_id FROM batches ORDER BY batch_id")
        .fetch_all(store.pool())
        .await
        .expect("batch ids");
    assert_eq!(
        batch_ids,
        (1..=expected.batches).collect::<Vec<_>>(),
        "{ctx}: batches (an uncommitted command left its batch?)"
    );
    assert_eq!(
        count(store, "postings").await,
        expected.postings,
        "{ctx}: postings"
    );
    // Each committed transaction reads back exactly, and balances.
    let mut stored = Vec::new();
    let mut after_entry = 0;
    loop {
        let page = store.journal_page(after_entry).await.expect("journal page");
        let Some(last) = page.last() else { break };
        after_entry = last.entry_no;
        stored.extend(page);
    }
    for e in &stored {
        let sum: i64 = e.postings.iter().map(|p| p.amount.as_i64()).sum();
        assert!(
            e.postings.len() >= 2 && sum == 0,
            "{ctx}: entry {} does not balance",
            e.entry_no
        );
        assert!(
            !expected.abandoned.contains(&e.tx_id),
            "{ctx}: uncommitted {} is stored",
            e.tx_id
        );
    }
    for (i, tx) in expected.committed.iter().enumerate() {
        let entry_no = expected.first_entry + i as i64;
        let e = &stored[(entry_no - 1) as usize];
        assert_eq!(e.entry_no, entry_no, "{ctx}");
        assert_eq!(
            &e.to_transaction().expect("stored transaction"),
            tx,
            "{ctx}: entry {entry_no} reads back differently"
        );
    }
    // The balances table: exactly the committed accounts, each equal to the
    // sum of its postings.
    let table = query_balances(
        store,
        "SELECT account, balance_fen FROM balances ORDER BY account",
    )
    .await;
    let summed = query_balances(
        store,
        "SELECT account, CAST(SUM(amount_fen) AS BIGINT) FROM postings GROUP BY account",
    )
    .await;
    assert_eq!(table, expected.balances, "{ctx}: balances table");
    assert_eq!(table, summed, "{ctx}: balances vs postings");
    let report = store.verify().await.expect("verify");
    assert!(report.ok(), "{ctx}: {:?}", report.failures);
    assert_eq!(report.entries, expected.entries, "{ctx}: verified entries");
}

async fn run_case(store: &Store, commands: &[Command]) {
    let mut expected = starting_state(store).await;
    check_ledger(store, &expected, "start").await;
    for (i, cmd) in commands.iter().enumerate() {
        let (appended, committed) = run_command(store, cmd, &expected.committed).await;
        record(&mut expected, appended, committed);
        check_ledger(store, &expected, &format!("command {i} ({:?})", cmd.ending)).await;
    }
}

fn runner() -> TestRunner {
    TestRunner::new(Config {
        cases: 24,
        failure_persistence: None,
        ..Config::default()
    })
}

#[test]
fn random_commands_keep_the_ledger_whole() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let strategy = proptest::collection::vec(command(), 1..6);
    for db in TestDb::all() {
        // PostgreSQL: one database for the run (creating one per case is
        // slow); SQLite: a fresh file per case.
        let shared = match db.backend {
            Backend::Postgres => Some(rt.block_on(db.store())),
            Backend::Sqlite => None,
        };
        let result = runner().run(&strategy, |commands| {
            rt.block_on(async {
                match &shared {
                    Some(store) => run_case(store, &commands).await,
                    None => {
                        let fresh = TestDb::sqlite();
                        let store = fresh.store().await;
                        run_case(&store, &commands).await;
                        store.close().await;
                    }
                }
            });
            Ok(())
        });
        if let Some(store) = shared {
            rt.block_on(store.close());
        }
        if let Err(e) = result {
            panic!("{:?}: {e}", db.backend);
        }
    }
}
