//! A ledger written by the release before issue 14's write path
//! (fixtures/ledger-0.3, see its README: the Hunan 2020 year, a close and a
//! rollover), as a SQLite file and as a PostgreSQL dump, upgrades with
//! `init`: `verify` is ok with the recorded chain head and entry count, the
//! recorded seal head is still the head or an earlier link, the reports are
//! the same bytes, a second `init` is idle, and the upgraded ledger skips
//! what it already holds and extends the same chain with new entries.

mod support;

use std::process::Command;
use support::{fixture, fl, read_fixture, write_file, TestDb};

/// The reports recorded before the upgrade.
const AS_OF: [&str; 2] = ["2020-12-31", "2021-12-31"];

/// What the old release's `verify` printed.
struct Recorded {
    entries: i64,
    chain_head: String,
    batches: i64,
    seal_head: String,
}

impl Recorded {
    fn read(file: &str) -> Recorded {
        let text = read_fixture(&format!("ledger-0.3/{file}"));
        let value = |key: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(&format!("{key} ")).map(str::to_string))
                .unwrap_or_else(|| panic!("{file} has no {key}"))
        };
        Recorded {
            entries: value("entries").parse().expect("entries"),
            chain_head: value("chain head"),
            batches: value("batches").parse().expect("batches"),
            seal_head: value("seal head"),
        }
    }
}

/// A copy of the SQLite ledger as a TestDb (the copy is what changes).
fn sqlite_copy() -> TestDb {
    let db = TestDb::sqlite();
    let path = db.url.trim_start_matches("sqlite:").to_string();
    std::fs::copy(fixture("ledger-0.3/hunan2020.db"), &path).expect("copy the ledger");
    db
}

/// The dump restored into a fresh scratch database with psql, or None
/// (announced) without PostgreSQL, or without psql off CI.
fn postgres_restore() -> Option<TestDb> {
    let db = TestDb::postgres()?;
    if Command::new("psql").arg("--version").output().is_err() {
        assert!(
            std::env::var_os("CI").is_none(),
            "psql is needed by this test and missing on CI"
        );
        eprintln!("\n*** psql NOT FOUND: the PostgreSQL upgrade test did not run ***\n");
        return None;
    }
    // psql before 15.14 does not know pg_dump's \restrict guard lines.
    let dump: String = read_fixture("ledger-0.3/hunan2020.pg.sql")
        .lines()
        .filter(|l| !l.starts_with("\\restrict ") && !l.starts_with("\\unrestrict "))
        .flat_map(|l| [l, "\n"])
        .collect();
    let dir = tempfile::tempdir().expect("temporary directory");
    let file = write_file(dir.path(), "dump.sql", dump.as_bytes());
    let out = Command::new("psql")
        .args([
            "-X",
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            "-d",
            &db.url,
            "-f",
            &file,
        ])
        .output()
        .expect("run psql");
    assert!(
        out.status.success(),
        "psql restore: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(db)
}

/// The schema migrations a ledger has had applied.
fn migrations(db: &TestDb) -> Vec<i64> {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let store = fundledger_store::Store::open(&db.url, fundledger_store::OpenMode::MustExist)
            .await
            .expect("open the ledger");
        let versions = sqlx::query_scalar(
            "SELECT version FROM _sqlx_migrations WHERE success ORDER BY version",
        )
        .fetch_all(store.pool())
        .await
        .expect("read _sqlx_migrations");
        store.close().await;
        versions
    })
}

/// Those of a ledger today's `init` makes.
fn todays_migrations(db: &TestDb) -> Vec<i64> {
    let fresh = match db.backend {
        fundledger_store::Backend::Sqlite => TestDb::sqlite(),
        fundledger_store::Backend::Postgres => TestDb::postgres().expect("PostgreSQL is set"),
    };
    fl(&fresh, &["init"]).ok();
    migrations(&fresh)
}

fn verify_json(db: &TestDb) -> serde_json::Value {
    let run = fl(db, &["verify", "--format", "json"]).ok();
    let v: serde_json::Value = serde_json::from_str(&run.stdout).expect("verify json");
    assert_eq!(v["ok"], true, "{}", run.stdout);
    v
}

/// `init`, then the heads and the reports the old release recorded.
fn upgrade_keeps_heads_and_reports(db: &TestDb, old: &Recorded) {
    assert_eq!(
        migrations(db),
        (1..=6).collect::<Vec<i64>>(),
        "the fixture's schema"
    );
    fl(db, &["init"]).ok();
    assert_eq!(
        migrations(db),
        todays_migrations(db),
        "init brought the schema up to date"
    );
    let v = verify_json(db);
    assert_eq!(v["chain_head"].as_str(), Some(old.chain_head.as_str()));
    assert_eq!(v["entries"].as_i64(), Some(old.entries));
    let batches = v["batches"].as_i64().expect("verify json: batches");
    if batches == old.batches {
        assert_eq!(v["seal_head"].as_str(), Some(old.seal_head.as_str()));
    } else {
        // The upgrade sealed something in batches of its own: the old seal
        // head is an earlier link of the same seal chain.
        assert!(batches > old.batches, "batches {batches} < {}", old.batches);
        let both = format!("{}:{}", old.chain_head, old.seal_head);
        let run = fl(db, &["verify", "--expect-head", &both]).expect_code(1);
        assert!(
            run.stdout.contains(&format!(
                "it is batch {}'s seal: batches were added since",
                old.batches
            )),
            "{}",
            run.stdout
        );
    }
    fl(db, &["verify", "--expect-head", &old.chain_head]).ok();
    for as_of in AS_OF {
        let report = fl(db, &["reconcile", "--as-of", as_of, "--format", "csv"]).ok();
        assert_eq!(
            report.stdout,
            read_fixture(&format!("ledger-0.3/reconcile_{as_of}.csv")),
            "{:?}: reconcile --as-of {as_of}",
            db.backend
        );
    }
    // A second init has nothing to do and changes nothing.
    let again = fl(db, &["init"]).ok();
    assert!(
        again.stderr.contains("already up to date"),
        "{}",
        again.stderr
    );
    assert_eq!(verify_json(db), v);
}

/// After the upgrade: what the ledger holds is still recognised as present,
/// and a new voucher (2021, on a line the rollover carried) extends the
/// recorded chain.
fn upgraded_ledger_takes_writes(db: &TestDb, old: &Recorded) {
    let again = fl(
        db,
        &[
            "import",
            "disbursements",
            &fixture("hunan-2020/disb_2020_12.csv"),
        ],
    )
    .ok();
    assert!(
        again
            .stderr
            .contains("0 voucher(s) added, 7 skipped as already present"),
        "{}",
        again.stderr
    );
    let dir = tempfile::tempdir().expect("temporary directory");
    let voucher = write_file(
        dir.path(),
        "disb_2021_02.csv",
        "voucher_no,paid_on,region_code,project_code,doc_no,fiscal_year,amount_yuan,original_voucher_no,payee,memo\n\
         HN20210201001,2021-02-01,430102,JS02,湘财社指〔2020〕36号,2021,1000.00,,芙蓉区计生协,\n"
            .as_bytes(),
    );
    fl(db, &["import", "disbursements", &voucher]).ok();
    let v = verify_json(db);
    assert_eq!(v["entries"].as_i64(), Some(old.entries + 1));
    let run = fl(db, &["verify", "--expect-head", &old.chain_head]).expect_code(1);
    assert!(
        run.stdout.contains(&format!(
            "it is entry {}'s hash: 1 entries were added since",
            old.entries
        )),
        "{}",
        run.stdout
    );
}

#[test]
fn a_sqlite_ledger_of_the_previous_release_upgrades_with_its_heads_and_reports() {
    let db = sqlite_copy();
    let old = Recorded::read("verify.txt");
    upgrade_keeps_heads_and_reports(&db, &old);
    upgraded_ledger_takes_writes(&db, &old);
}

#[test]
fn a_postgres_dump_of_the_previous_release_upgrades_with_its_heads_and_reports() {
    let Some(db) = postgres_restore() else { return };
    let old = Recorded::read("verify.pg.txt");
    upgrade_keeps_heads_and_reports(&db, &old);
    upgraded_ledger_takes_writes(&db, &old);
}
