//! fundledger-store: the ledger's persistence on SQLite (embedded default)
//! and PostgreSQL (multi-user), behind one interface.
//!
//! - Schema only through the migrations in `migrations/{sqlite,postgres}`.
//! - Every write is one database transaction ([`WriteTx`]) that holds the
//!   writer lock from its first statement (`BEGIN IMMEDIATE` on SQLite, an
//!   advisory transaction lock on PostgreSQL), so the hash chain is extended
//!   by one writer at a time and a failed command leaves nothing behind.
//! - SQL is written once with `$N` placeholders, which both backends accept.

// Every declared dependency is used (test targets are exempt: each test file
// names only some of them).
#![cfg_attr(not(test), warn(unused_crate_dependencies))]
// Short functions (clippy.toml: at most 70 lines) outside tests.
#![cfg_attr(not(test), warn(clippy::too_many_lines))]

pub mod catalog;
mod imports;
mod ledger;
mod lite;
mod location;
mod packed;
mod pages;
mod pg_copy;
mod pg_scan;
mod pg_write;
mod read;
mod reconcile;
pub mod roles;
mod rollover;
mod scan;
pub mod seal;
mod sql;
#[cfg(feature = "testing")]
pub mod testing;
mod verify;
mod write;

pub use imports::{ImportOutcome, IndicatorImport, LedgerRejection, VoucherImport};
pub use ledger::{BudgetOutcome, PoolState};
pub use location::{display_url, url_password};
pub use pages::{JournalPage, JournalPages};
pub use read::{BalanceRow, JournalEntry, LedgerSnapshot, StoredPosting};
pub use rollover::RolloverOutcome;
pub use verify::{VerifyFailure, VerifyReport};
pub use write::WriteTx;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Connection, Executor};
use std::str::FromStr;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The URL (password masked) and what is wrong with it: a usage error.
    #[error("--db {0}")]
    BadUrl(String),
    /// The database could not be opened: where, why and how to create it,
    /// in one message (password masked; no nested source).
    #[error("{0}")]
    Open(String),
    #[error("no database at {0}: run `fundledger init` first")]
    Missing(String),
    #[error("database schema is not initialised: run `fundledger init` first")]
    NotInitialised,
    #[error("database error: {0}")]
    Sql(#[from] sqlx::Error),
    #[error("migration error: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error(transparent)]
    Ledger(#[from] fundledger_core::LedgerError),
    /// A sum of stored amounts past `i64` fen: only a forged row gets here.
    #[error("stored amounts: {0}")]
    Money(#[from] fundledger_core::MoneyError),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("{0}")]
    Refused(String),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Connections a SQLite pool holds: one writer at a time, a few readers
/// beside it in WAL mode.
const SQLITE_POOL_CONNECTIONS: u32 = 4;
/// Connections a PostgreSQL pool holds.
const POSTGRES_POOL_CONNECTIONS: u32 = 8;
/// How long a SQLite connection waits for another writer's lock before
/// failing (`PRAGMA busy_timeout`).
pub(crate) const SQLITE_BUSY_TIMEOUT_MS: u32 = 30_000;

/// Page size of a SQLite ledger created by this release, in bytes (an
/// existing ledger keeps the one it was made with); see `set_up_session`.
pub(crate) const SQLITE_NEW_PAGE_SIZE_BYTES: u32 = 16_384;

static SQLITE_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/sqlite");
static POSTGRES_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/postgres");

/// An open ledger database.
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    /// The file of a SQLite ledger, for the bulk scans that read it
    /// directly (scan.rs).
    sqlite_path: Option<String>,
    /// The URL of a PostgreSQL ledger, for the bulk scans that read it on
    /// a typed connection of their own (pg_scan.rs).
    postgres_url: Option<String>,
}

/// How to treat a SQLite file that does not exist yet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpenMode {
    /// `init`: create the file.
    Create,
    /// Every other command: a missing file is an error, not a new empty ledger.
    MustExist,
}

impl Store {
    /// Opens `sqlite:PATH` or `postgres://…`. A new SQLite file is created
    /// mode 0600 (its `-wal`/`-shm` inherit that): on one machine the file
    /// permissions are the access control.
    pub async fn open(url: &str, mode: OpenMode) -> Result<Store> {
        sqlx::any::install_default_drivers();
        let (backend, connect_url) = connection_url(url, mode)?;
        let options = AnyConnectOptions::from_str(&connect_url)
            .map_err(|e| StoreError::BadUrl(format!("{}: {e}", display_url(url))))?;
        if backend == Backend::Sqlite && mode == OpenMode::Create {
            location::create_private_file(sqlite_path(url).expect("a sqlite URL has a path"))?;
        }
        // The pool retries a failing `after_connect` until its 30 s acquire
        // timeout and then says only "timed out connecting"; so the session
        // setup runs first on a plain connection, whose error (a file that is
        // not a database, a lock) comes back at once and names itself.
        let mut first = sqlx::AnyConnection::connect_with(&options)
            .await
            .map_err(|e| location::open_error(url, backend, mode, &e))?;
        set_up_session(&mut first, backend)
            .await
            .map_err(|e| location::open_error(url, backend, mode, &e))?;
        first
            .close()
            .await
            .map_err(|e| location::open_error(url, backend, mode, &e))?;
        let pool = AnyPoolOptions::new()
            .max_connections(match backend {
                Backend::Sqlite => SQLITE_POOL_CONNECTIONS,
                Backend::Postgres => POSTGRES_POOL_CONNECTIONS,
            })
            .after_connect(move |conn, _meta| Box::pin(set_up_session(conn, backend)))
            .connect_with(options)
            .await
            .map_err(|e| location::open_error(url, backend, mode, &e))?;
        let sqlite_path = sqlite_path(url).map(str::to_string);
        let postgres_url = (backend == Backend::Postgres).then(|| url.to_string());
        Ok(Store {
            pool,
            backend,
            sqlite_path,
            postgres_url,
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub(crate) fn sqlite_path(&self) -> Option<&str> {
        self.sqlite_path.as_deref()
    }

    pub(crate) fn postgres_url(&self) -> Option<&str> {
        self.postgres_url.as_deref()
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Applies pending migrations; idempotent.
    pub async fn migrate(&self) -> Result<usize> {
        let migrator = match self.backend {
            Backend::Sqlite => &SQLITE_MIGRATOR,
            Backend::Postgres => &POSTGRES_MIGRATOR,
        };
        let before = self.applied_migrations().await.unwrap_or(0);
        migrator.run(&self.pool).await?;
        let after = self.applied_migrations().await?;
        Ok(after.saturating_sub(before))
    }

    async fn applied_migrations(&self) -> Result<usize> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations WHERE success")
            .fetch_one(&self.pool)
            .await?;
        Ok(n as usize)
    }

    /// Fails with [`StoreError::NotInitialised`] unless `init` has run.
    pub async fn ensure_initialised(&self) -> Result<()> {
        let expected = match self.backend {
            Backend::Sqlite => SQLITE_MIGRATOR.iter().count(),
            Backend::Postgres => POSTGRES_MIGRATOR.iter().count(),
        };
        match self.applied_migrations().await {
            Ok(n) if n == expected => Ok(()),
            Ok(_) => Err(StoreError::Refused(
                "database schema is out of date: run `fundledger init` to migrate it".into(),
            )),
            // A login role without any fundledger role may not even read.
            Err(e) if e.is_permission_denied() => Err(e),
            Err(_) => Err(StoreError::NotInitialised),
        }
    }

    /// Closes the pool's connections and, on SQLite, empties the WAL
    /// (`wal_checkpoint(TRUNCATE)`): every command ends here. A command that
    /// left its WAL behind made the next one to open the ledger read all of
    /// it back to rebuild the WAL index (0.87 GB after a 1M-voucher import,
    /// +1.5 s for that command); closing the pool alone removed it only
    /// sometimes (docs/adr/0005-write-path.md, decision 11).
    pub async fn close(self) {
        self.pool.close().await;
        if let Some(path) = self.sqlite_path {
            // Blocking file work off the runtime's threads; its outcome is
            // only ever a smaller file.
            let _ = tokio::task::spawn_blocking(move || truncate_wal(&path)).await;
        }
    }
}

/// How long [`truncate_wal`] waits for the lock: the pool's connections
/// finish closing on sqlx's worker threads after `close` returns, and the
/// last of them may still be checkpointing; another process reading the
/// ledger holds the exit of this command up to this long, no more.
const WAL_TRUNCATE_WAIT_MS: u64 = 2_000;

/// Empties the WAL of the SQLite ledger at `path`, best effort: the file
/// is checkpointed already (or will be by the next writer), so a failure
/// (a read-only user, another process still reading or writing)
/// leaves the ledger as it was, never wrong. The last connection to close
/// also removes the `-wal` and `-shm` files.
fn truncate_wal(path: &str) -> rusqlite::Result<()> {
    let conn = rusqlite::Connection::open_with_flags(
        path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(std::time::Duration::from_millis(WAL_TRUNCATE_WAIT_MS))?;
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
    conn.close().map_err(|(_, e)| e)
}

/// The file of a `sqlite:PATH` URL (None for PostgreSQL or a malformed URL):
/// the CLI keeps outputs away from it and its `-wal`/`-shm`.
pub fn sqlite_path(url: &str) -> Option<&str> {
    let path = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = path.split('?').next().unwrap_or(path);
    (!path.is_empty()).then_some(path)
}

/// The settings every connection of a ledger runs with.
async fn set_up_session(
    conn: &mut sqlx::AnyConnection,
    backend: Backend,
) -> Result<(), sqlx::Error> {
    if backend == Backend::Postgres {
        return ensure_synchronous_commit(conn).await;
    }
    // busy_timeout first, so that every later statement waits for another
    // writer's lock instead of failing at once; WAL lets readers run beside
    // the one writer; foreign keys are off by default in SQLite.
    conn.execute(format!("PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}").as_str())
        .await?;
    // A new ledger gets 16 KiB pages (a no-op on an existing one, whose page
    // size is fixed): a one-command import writes its whole size to the WAL,
    // and the WAL's index in shared memory holds an entry per page written,
    // which at 4 KiB pages was ~20 MB of a 10M-voucher import's peak RSS
    // (docs/adr/0005-write-path.md). It must come before journal_mode, which
    // writes the file's first page.
    conn.execute(format!("PRAGMA page_size = {SQLITE_NEW_PAGE_SIZE_BYTES}").as_str())
        .await?;
    conn.execute("PRAGMA journal_mode = WAL").await?;
    conn.execute("PRAGMA foreign_keys = ON").await?;
    // FULL: a command that printed "added" survives a power cut
    // (docs/adr/0004-durability.md).
    conn.execute("PRAGMA synchronous = FULL").await?;
    Ok(())
}

/// `synchronous_commit = off` (set for the server, database or role) lets
/// PostgreSQL acknowledge a COMMIT it can still lose: our sessions turn it
/// back on. Other values (local, remote_write, on, remote_apply) are durable
/// on this server and are left as the administrator chose.
async fn ensure_synchronous_commit(conn: &mut sqlx::AnyConnection) -> Result<(), sqlx::Error> {
    let setting: String = sqlx::query_scalar("SELECT current_setting('synchronous_commit')")
        .fetch_one(&mut *conn)
        .await?;
    if let Some(fix) = synchronous_commit_fix(&setting) {
        conn.execute(fix).await?;
    }
    Ok(())
}

/// What a session whose `synchronous_commit` is `setting` runs to make its
/// commits durable (see [`ensure_synchronous_commit`]); every PostgreSQL
/// connection of ours, pooled or typed (pg_write.rs), runs it.
pub(crate) fn synchronous_commit_fix(setting: &str) -> Option<&'static str> {
    (setting == "off").then_some("SET synchronous_commit = on")
}

fn connection_url(url: &str, mode: OpenMode) -> Result<(Backend, String)> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Ok((Backend::Postgres, url.to_string()));
    }
    let path = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .ok_or_else(|| {
            StoreError::BadUrl(format!(
                "{}: expected sqlite:PATH or postgres://USER@HOST/DATABASE",
                display_url(url)
            ))
        })?;
    let path = path.split('?').next().unwrap_or(path);
    if path.is_empty() {
        return Err(StoreError::BadUrl(format!(
            "{}: no file name after sqlite:",
            display_url(url)
        )));
    }
    let exists = std::path::Path::new(path).exists();
    if mode == OpenMode::MustExist && !exists {
        return Err(StoreError::Missing(path.to_string()));
    }
    Ok((Backend::Sqlite, format!("sqlite:{path}?mode=rwc")))
}
