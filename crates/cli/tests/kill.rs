//! Issue 14: `import disbursements` of a large file killed with SIGKILL at
//! any moment (while it reads, while it writes, while it commits, after)
//! leaves the ledger with all of the file's vouchers or none of them, in a
//! state `verify` accepts (on SQLite once the WAL the killed process left
//! behind is recovered), and a re-run of the same import completes.
//!
//! The kill points are only where to stop the process: some after a fixed
//! delay, some once the import has written a given share of what a whole
//! run writes (measured on a first, uninterrupted run). Whatever moment a
//! kill lands on, the assertion is all-or-nothing; the test prints where each
//! kill landed and requires only that one of them caught the import writing.
//! Nothing here measures or asserts speed.

mod support;

use fundledger_store::{Backend, OpenMode, Store};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use support::{fixture, fl, TestDb};

/// Vouchers in the file (crates/devtools `gen-bench`), paying this many
/// indicator lines.
const VOUCHERS: i64 = 60_000;
const LINES: u64 = 5_000;

/// Where to kill.
#[derive(Clone, Copy, Debug)]
enum KillAt {
    /// This long after the process was started.
    After(Duration),
    /// Once the import has written this percentage of what a whole run
    /// writes (see [`Probe`]).
    Written(u64),
}

/// In order, on one ledger as long as the kills leave it without the file's
/// vouchers (the next import then starts where a killed one left off); a
/// kill that lands after the commit moves the rest to a fresh ledger. 90 %
/// comes early: on SQLite it lands after the commit (the checkpoint is most
/// of the end of the run), so the later points run on a ledger that is then
/// re-imported to completion after its kills.
const KILL_POINTS: [KillAt; 7] = [
    KillAt::After(Duration::from_millis(50)),
    KillAt::Written(90),
    KillAt::After(Duration::from_millis(300)),
    KillAt::After(Duration::from_secs(1)),
    KillAt::Written(10),
    KillAt::Written(30),
    KillAt::Written(50),
];

/// The benchmark files, generated once.
struct Files {
    dir: tempfile::TempDir,
    lines: String,
    vouchers: String,
    pool_yuan: String,
}

fn files() -> Files {
    let dir = tempfile::tempdir().expect("temporary directory");
    let vouchers = u64::try_from(VOUCHERS).expect("positive");
    fundledger_devtools::bench::gen_bench(dir.path(), vouchers, LINES).expect("gen-bench");
    let path = |name: &str| dir.path().join(name).display().to_string();
    let pool = std::fs::read_to_string(dir.path().join(fundledger_devtools::bench::POOL_FILE))
        .expect("pool.txt");
    Files {
        lines: path(fundledger_devtools::bench::LINES_FILE),
        vouchers: path(fundledger_devtools::bench::VOUCHERS_FILE),
        pool_yuan: pool.trim().to_string(),
        dir,
    }
}

/// A ledger with the pool, the catalog and every indicator line the
/// vouchers pay: everything but the import under test.
fn set_up(db: &TestDb, files: &Files) {
    fl(db, &["init"]).ok();
    fl(
        db,
        &[
            "budget",
            "set",
            "--fiscal-year",
            "2020",
            "--amount-yuan",
            &files.pool_yuan,
        ],
    )
    .ok();
    fl(
        db,
        &["projects", "import", &fixture("reference/projects.csv")],
    )
    .ok();
    fl(db, &["import", "indicators", &files.lines]).ok();
}

fn fresh(backend: Backend) -> TestDb {
    match backend {
        Backend::Sqlite => TestDb::sqlite(),
        Backend::Postgres => TestDb::postgres().expect("FUNDLEDGER_TEST_PG was set a moment ago"),
    }
}

fn spawn_import(db: &TestDb, file: &str, log: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_fundledger"))
        .args(["--db", &db.url, "import", "disbursements", file])
        .env_remove("FUNDLEDGER_DB")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).expect("create import log"))
        .spawn()
        .expect("spawn fundledger import")
}

fn log_text(log: &Path) -> String {
    std::fs::read_to_string(log).unwrap_or_default()
}

/// How much a running import has written, in bytes. SQLite: what the
/// process itself wrote (`wchar` of /proc/PID/io: WAL frames, then the
/// checkpoint). PostgreSQL: the WAL the server generated since the import
/// started (the process only talks to a socket, which `wchar` does not
/// count).
enum Probe {
    Sqlite,
    Postgres {
        rt: tokio::runtime::Runtime,
        conn: sqlx::PgConnection,
    },
}

impl Probe {
    fn new(db: &TestDb) -> Probe {
        match db.backend {
            Backend::Sqlite => Probe::Sqlite,
            Backend::Postgres => {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("runtime");
                let conn = rt
                    .block_on(<sqlx::PgConnection as sqlx::Connection>::connect(&db.url))
                    .expect("connect the probe");
                Probe::Postgres { rt, conn }
            }
        }
    }

    /// The server's counter before an import starts (0 on SQLite).
    fn mark(&mut self) -> u64 {
        match self {
            Probe::Sqlite => 0,
            Probe::Postgres { rt, conn } => {
                let lsn: i64 = rt
                    .block_on(
                        sqlx::query_scalar(
                            "SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), '0/0')::bigint",
                        )
                        .fetch_one(&mut *conn),
                    )
                    .expect("read the WAL position");
                u64::try_from(lsn).expect("WAL position is positive")
            }
        }
    }

    /// Bytes written since `mark`, or None when the process is gone.
    fn written(&mut self, child: &Child, mark: u64) -> Option<u64> {
        match self {
            Probe::Sqlite => {
                let io = std::fs::read_to_string(format!("/proc/{}/io", child.id())).ok()?;
                io.lines()
                    .find_map(|l| l.strip_prefix("wchar:"))
                    .map(|v| v.trim().parse().expect("wchar is a number"))
            }
            Probe::Postgres { .. } => Some(self.mark().saturating_sub(mark)),
        }
    }

    /// Waits until the server has noticed that a killed client is gone
    /// (its session rolled back, its writer lock released).
    fn wait_for_no_other_session(&mut self) {
        let Probe::Postgres { rt, conn } = self else {
            return;
        };
        loop {
            let others: i64 = rt
                .block_on(
                    sqlx::query_scalar(
                        "SELECT count(*) FROM pg_stat_activity \
                         WHERE datname = current_database() AND pid <> pg_backend_pid() \
                         AND backend_type = 'client backend'",
                    )
                    .fetch_one(&mut *conn),
                )
                .expect("read pg_stat_activity");
            if others == 0 {
                return;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

/// What `verify --format json` says of a ledger it finds ok.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Heads {
    entries: i64,
    batches: i64,
    chain_head: String,
    seal_head: String,
}

fn verify_ok(db: &TestDb) -> Heads {
    let run = fl(db, &["verify", "--format", "json"]).ok();
    let v: serde_json::Value = serde_json::from_str(&run.stdout).expect("verify json");
    assert_eq!(v["ok"], serde_json::Value::Bool(true), "{}", run.stdout);
    let text = |key: &str| v[key].as_str().expect("verify json head").to_string();
    Heads {
        entries: v["entries"].as_i64().expect("verify json: entries"),
        batches: v["batches"].as_i64().expect("verify json: batches"),
        chain_head: text("chain_head"),
        seal_head: text("seal_head"),
    }
}

/// (journal entries from `file`, vouchers): the ledger had no voucher
/// before the import under test.
fn counts(db: &TestDb, file: &str) -> (i64, i64) {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let store = Store::open(&db.url, OpenMode::MustExist)
            .await
            .expect("open the ledger");
        let journal: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM journal WHERE source_file = $1")
                .bind(file.to_string())
                .fetch_one(store.pool())
                .await
                .expect("count journal entries");
        let vouchers: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM vouchers")
            .fetch_one(store.pool())
            .await
            .expect("count vouchers");
        store.close().await;
        (journal, vouchers)
    })
}

/// An uninterrupted import on its own ledger: how much it writes and how
/// long it takes, only to place the kills.
struct Whole {
    written: u64,
    took: Duration,
}

fn whole_run(db: &TestDb, files: &Files) -> Whole {
    set_up(db, files);
    let mut probe = Probe::new(db);
    let log = files.dir.path().join("whole.log");
    let mark = probe.mark();
    let start = Instant::now();
    let mut child = spawn_import(db, &files.vouchers, &log);
    let mut written = 0;
    let status = loop {
        if let Some(w) = probe.written(&child, mark) {
            written = w;
        }
        if let Some(status) = child.try_wait().expect("wait for the import") {
            break status;
        }
        std::thread::sleep(Duration::from_millis(1));
    };
    let took = start.elapsed();
    assert!(status.success(), "uninterrupted import: {}", log_text(&log));
    if matches!(probe, Probe::Postgres { .. }) {
        written = probe.mark().saturating_sub(mark);
    }
    assert!(written > 0, "the probe saw nothing written");
    assert_eq!(counts(db, &files.vouchers), (VOUCHERS, VOUCHERS));
    Whole { written, took }
}

/// Where one kill landed and what it left.
#[derive(Debug)]
struct Kill {
    at: KillAt,
    /// When SIGKILL was sent (or the process was found to have exited).
    elapsed: Duration,
    written: u64,
    /// false: the process had finished before the kill point.
    killed: bool,
    /// SQLite: size of the -wal file the process left behind.
    wal_bytes: Option<u64>,
    vouchers_left: i64,
}

impl Kill {
    /// Killed while it was writing, before its commit.
    fn mid_write(&self, whole: &Whole) -> bool {
        self.killed && self.vouchers_left == 0 && self.written * 10 >= whole.written
    }

    fn describe(&self, whole: &Whole) -> String {
        let share = |part: f64, all: f64| (100.0 * part / all.max(1.0)).round();
        format!(
            "{:?}: {} at {} ms ({}% of a whole run's {} ms), {} KB written ({}%), \
             WAL left {}, ledger holds {} of {VOUCHERS} vouchers{}",
            self.at,
            if self.killed {
                "SIGKILL"
            } else {
                "process had already exited"
            },
            self.elapsed.as_millis(),
            share(self.elapsed.as_secs_f64(), whole.took.as_secs_f64()),
            whole.took.as_millis(),
            self.written / 1024,
            share(self.written as f64, whole.written as f64),
            self.wal_bytes
                .map_or("n/a".to_string(), |b| format!("{} KB", b / 1024)),
            self.vouchers_left,
            match (self.killed, self.vouchers_left) {
                (false, _) => "",
                (true, 0) if self.mid_write(whole) => ": killed mid-import, while writing",
                (true, 0) => ": killed before it wrote much",
                (true, _) => ": killed after its commit",
            }
        )
    }
}

/// A ledger the kills run on, with what `verify` said before the import.
struct Ledger {
    // Dropped before the database.
    probe: Probe,
    db: TestDb,
    before: Heads,
}

impl Ledger {
    fn new(backend: Backend, files: &Files) -> Ledger {
        let db = fresh(backend);
        set_up(&db, files);
        Ledger {
            probe: Probe::new(&db),
            before: verify_ok(&db),
            db,
        }
    }

    /// Runs the import and kills it at `at`; then the checks.
    fn kill_import(&mut self, at: KillAt, whole: &Whole, files: &Files) -> Kill {
        let log = files.dir.path().join("killed.log");
        let mark = self.probe.mark();
        let start = Instant::now();
        let mut child = spawn_import(&self.db, &files.vouchers, &log);
        let mut written = 0;
        let exited = loop {
            if let Some(w) = self.probe.written(&child, mark) {
                written = w;
            }
            let exited = child.try_wait().expect("wait for the import").is_some();
            let due = match at {
                KillAt::After(delay) => start.elapsed() >= delay,
                KillAt::Written(percent) => written * 100 >= whole.written * percent,
            };
            if due || exited {
                break exited;
            }
            std::thread::sleep(Duration::from_millis(1));
        };
        if !exited {
            child.kill().expect("SIGKILL the import");
        }
        let elapsed = start.elapsed();
        let status = child.wait().expect("reap the import");
        let killed = status.signal() == Some(libc::SIGKILL);
        assert!(killed || status.success(), "import: {}", log_text(&log));
        let wal_bytes = self.wal_bytes();
        self.probe.wait_for_no_other_session();
        Kill {
            at,
            elapsed,
            written,
            killed,
            wal_bytes,
            vouchers_left: self.all_or_nothing(files),
        }
    }

    fn wal_bytes(&self) -> Option<u64> {
        let db = PathBuf::from(self.db.url.strip_prefix("sqlite:")?);
        let wal = PathBuf::from(format!("{}-wal", db.display()));
        Some(std::fs::metadata(wal).map_or(0, |m| m.len()))
    }

    /// `verify` (the first to open the ledger after the kill: on SQLite it
    /// recovers the WAL) is ok, and the ledger holds all of the file's
    /// vouchers or none, and in the latter case nothing else either.
    fn all_or_nothing(&self, files: &Files) -> i64 {
        let heads = verify_ok(&self.db);
        let (journal, vouchers) = counts(&self.db, &files.vouchers);
        assert!(
            (journal, vouchers) == (0, 0) || (journal, vouchers) == (VOUCHERS, VOUCHERS),
            "{:?}: after a kill the ledger holds {vouchers} vouchers and {journal} entries \
             from the file, of {VOUCHERS}",
            self.db.backend
        );
        if vouchers == 0 {
            assert_eq!(heads, self.before, "a killed import left something behind");
        } else {
            assert_eq!(heads.entries, self.before.entries + VOUCHERS);
            assert_eq!(
                heads.batches,
                self.before.batches + 2,
                "command and file batches"
            );
        }
        vouchers
    }

    /// The same import once more, to its end: the ledger then holds every
    /// voucher once and verifies.
    fn rerun(&self, files: &Files) {
        fl(&self.db, &["import", "disbursements", &files.vouchers]).ok();
        let heads = verify_ok(&self.db);
        assert_eq!(heads.entries, self.before.entries + VOUCHERS);
        assert_eq!(
            counts(&self.db, &files.vouchers),
            (VOUCHERS, VOUCHERS),
            "{:?}: re-run",
            self.db.backend
        );
    }
}

/// Every kill point on `backend`, the first ledger used for the whole run.
fn kill_series(first: TestDb, files: &Files) -> (Whole, Vec<Kill>) {
    let backend = first.backend;
    let whole = whole_run(&first, files);
    drop(first);
    let mut ledger = Ledger::new(backend, files);
    let mut kills = Vec::new();
    for at in KILL_POINTS {
        let kill = ledger.kill_import(at, &whole, files);
        eprintln!("{backend:?}: {}", kill.describe(&whole));
        if kill.vouchers_left == VOUCHERS {
            ledger.rerun(files);
            ledger = Ledger::new(backend, files);
        }
        kills.push(kill);
    }
    ledger.rerun(files);
    (whole, kills)
}

#[test]
fn an_import_killed_at_any_point_leaves_all_of_its_vouchers_or_none() {
    let files = files();
    for first in TestDb::all() {
        let backend = first.backend;
        let (whole, kills) = kill_series(first, &files);
        assert!(
            kills.iter().any(|k| k.mid_write(&whole)),
            "{backend:?}: no kill landed while the import was writing: {kills:#?}"
        );
        if matches!(backend, Backend::Sqlite) {
            assert!(
                kills.iter().any(|k| k.wal_bytes.is_some_and(|b| b > 0)),
                "no kill left a WAL behind for the next opener to recover: {kills:#?}"
            );
        }
    }
}
