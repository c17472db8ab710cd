//! The database location as people see it (issue 13 §2, issue 11 §4): no
//! password on screen, one message per failure that names the file or
//! database and says how to create it, a malformed URL is a usage error,
//! and a new SQLite file is private (0600, with its -wal and -shm).

mod support;

use std::process::Command;
use support::*;

const SECRET: &str = "S3cretPw";

/// `postgres://user@…` → `postgres://user:S3cretPw@…` (the test server
/// trusts the connection, so the password is never checked, only shown).
fn with_password(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap();
    let (user, host) = rest
        .split_once('@')
        .expect("FUNDLEDGER_TEST_PG names a user");
    let user = user.split(':').next().unwrap();
    format!("{scheme}://{user}:{SECRET}@{host}")
}

/// Runs with `--db` on the command line or in FUNDLEDGER_DB.
fn run(db: &str, via_env: bool, args: &[&str]) -> Run {
    let mut c = Command::new(env!("CARGO_BIN_EXE_fundledger"));
    if via_env {
        c.env("FUNDLEDGER_DB", db);
    } else {
        c.env_remove("FUNDLEDGER_DB").args(["--db", db]);
    }
    let out = c.args(args).output().unwrap();
    Run {
        code: out.status.code().unwrap(),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
        what: format!("fundledger {args:?} (env: {via_env})"),
    }
}

fn no_secret(r: &Run) {
    assert!(
        !r.stdout.contains(SECRET) && !r.stderr.contains(SECRET),
        "{}: the password is shown\n{}\n{}",
        r.what,
        r.stdout,
        r.stderr
    );
}

#[test]
fn a_postgres_password_is_never_shown() {
    let Some(db) = TestDb::postgres() else { return };
    let url = with_password(&db.url);
    for via_env in [false, true] {
        let init = run(&url, via_env, &["init"]).ok();
        assert!(init.stderr.contains(":***@"), "{}", init.stderr);
        no_secret(&init);
        // The first round verifies an empty ledger (exit 1, said loudly),
        // the second the demo's ledger.
        no_secret(&run(&url, via_env, &["verify"]).expect_code(if via_env { 0 } else { 1 }));
        // demo loads the empty ledger the first time, refuses it the second.
        let demo = run(&url, via_env, &["demo", "--format", "csv"]);
        no_secret(&demo.expect_code(if via_env { 1 } else { 0 }));
        // Failures to open: a missing database, a malformed URL.
        let missing = format!("{}_missing", url.split('?').next().unwrap());
        no_secret(&run(&missing, via_env, &["verify"]).expect_code(1));
        no_secret(&run(&missing, via_env, &["init"]).expect_code(1));
        let malformed = url.replace("127.0.0.1", "[bad");
        no_secret(&run(&malformed, via_env, &["verify"]).expect_code(2));
    }
}

/// `init` on a missing PostgreSQL database printed `database "x" does not
/// exist` three times, nested.
#[test]
fn a_missing_postgres_database_is_named_once_with_how_to_create_it() {
    let Some(db) = TestDb::postgres() else { return };
    let base = db.url.split('?').next().unwrap();
    let missing = format!("{base}_missing");
    let name = missing.rsplit('/').next().unwrap();
    for command in ["init", "verify"] {
        let r = run(&missing, false, &[command]).expect_code(1);
        let line = r.stderr.trim_end();
        assert_eq!(line.lines().count(), 1, "{line}");
        assert_eq!(line.matches("does not exist").count(), 1, "{line}");
        assert!(line.contains(&format!("\"{name}\"")), "{line}");
        assert!(
            line.contains("createdb") && line.contains("fundledger init"),
            "{line}"
        );
    }
}

#[test]
fn a_sqlite_file_that_cannot_be_created_or_opened_is_named_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("no/dir/x.db");
    let url = format!("sqlite:{}", path.display());
    let init = run(&url, false, &["init"]).expect_code(1);
    assert_eq!(
        init.stderr.trim_end(),
        format!(
            "error: cannot create the SQLite database {}: directory {} does not exist \
             (create it first, or choose another --db sqlite:PATH)",
            path.display(),
            path.parent().unwrap().display()
        )
    );
    let verify = run(&url, false, &["verify"]).expect_code(1);
    assert_eq!(
        verify.stderr.trim_end(),
        format!(
            "error: no database at {}: run `fundledger init` first",
            path.display()
        )
    );
}

#[test]
fn a_malformed_db_url_is_a_usage_error() {
    for url in [
        "mysql://x/y",
        "sqlite:",
        "fundledger.db",
        "postgres://u:p@[bad/x",
    ] {
        let r = run(url, false, &["verify"]).expect_code(2);
        assert!(r.stderr.starts_with("error: --db "), "{url}: {}", r.stderr);
        assert_eq!(
            r.stderr.trim_end().lines().count(),
            1,
            "{url}: {}",
            r.stderr
        );
    }
}

/// The ledger file and its -wal/-shm were 0644 under umask 022.
#[cfg(unix)]
#[test]
fn a_new_sqlite_database_and_its_wal_and_shm_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let db = dir.path().join("ledger.db");
    let url = format!("sqlite:{}", db.display());
    let script = format!(
        "umask 022; touch '{probe}'; exec \"{bin}\" --db '{url}' init",
        probe = dir.path().join("probe").display(),
        bin = env!("CARGO_BIN_EXE_fundledger"),
    );
    let out = Command::new("sh")
        .arg("-c")
        .arg(&script)
        .env_remove("FUNDLEDGER_DB")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(mode(&dir.path().join("probe")), 0o644, "umask 022 applies");
    assert_eq!(mode(&db), 0o600);
    // -wal and -shm exist while the ledger is open: hold it open with a write.
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let store = fundledger_store::Store::open(&url, fundledger_store::OpenMode::MustExist)
            .await
            .unwrap();
        store
            .budget_set(2021, fundledger_core::Fen::new(100), "2026-01-01T00:00:00Z")
            .await
            .unwrap();
        for suffix in ["-wal", "-shm"] {
            let p = dir.path().join(format!("ledger.db{suffix}"));
            assert_eq!(mode(&p), 0o600, "{}", p.display());
        }
        store.close().await;
    });
}

/// A ledger created before files were made private is pointed out by `init`.
#[cfg(unix)]
#[test]
fn init_warns_about_a_ledger_other_users_can_read() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("old.db");
    let url = format!("sqlite:{}", db.display());
    let first = run(&url, false, &["init"]).ok();
    assert!(!first.stderr.contains("warning"), "{}", first.stderr);
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
    let again = run(&url, false, &["init"]).ok();
    assert!(
        again.stderr.contains(&format!(
            "warning: {} is accessible to other users (mode 644)",
            db.display()
        )),
        "{}",
        again.stderr
    );
}

/// A file that is not a SQLite database made every command wait 30 s and
/// then say only "timed out connecting": the pool retried the failing
/// session setup until its timeout and dropped the reason.
#[test]
fn a_file_that_is_not_a_database_says_so_instead_of_timed_out_connecting() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.db");
    std::fs::write(
        &path,
        "minutes of the 2021 budget meeting, not a ledger\n".repeat(20),
    )
    .unwrap();
    let url = format!("sqlite:{}", path.display());
    for args in [
        &["verify"][..],
        &["init"],
        &["reconcile", "--as-of", "2021-06-30"],
    ] {
        let r = run(&url, false, args).expect_code(1);
        assert!(
            r.stderr
                .contains(&format!("SQLite database {}", path.display()))
                && r.stderr.contains("file is not a database")
                && !r.stderr.contains("timed out"),
            "{}: {}",
            r.what,
            r.stderr
        );
    }
}

/// Commands used to end with their connections dropped, not closed: the
/// WAL stayed behind (0.87 GB after a 1M-voucher import), and the next
/// command to open the ledger read all of it back first (+1.5 s).
#[test]
fn no_command_leaves_a_wal_behind() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("ledger.db").display());
    let wal = dir.path().join("ledger.db-wal");
    let commands: &[&[&str]] = &[
        &["init"],
        &[
            "budget",
            "set",
            "--fiscal-year",
            "2021",
            "--amount-yuan",
            "100",
        ],
        &[
            "budget",
            "set",
            "--fiscal-year",
            "2022",
            "--amount-yuan",
            "200",
        ],
        &["verify"],
        &[
            "budget",
            "set",
            "--fiscal-year",
            "2023",
            "--amount-yuan",
            "300",
        ],
        &["balance"],
    ];
    for args in commands {
        run(&url, false, args).ok();
        let left = std::fs::metadata(&wal).map_or(0, |m| m.len());
        assert_eq!(left, 0, "fundledger {args:?} left {left} bytes of WAL");
    }
}
