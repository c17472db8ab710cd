//! Test support shared by every crate's tests: a fresh database per test on
//! each backend. SQLite always; PostgreSQL when `FUNDLEDGER_TEST_PG` names a
//! server (`.ci/run` always sets it). Without it the PostgreSQL half says
//! loudly that it did not run; with it set but unreachable, tests fail.

use std::sync::atomic::{AtomicU64, Ordering};

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// Every table the migrations make append-only by trigger.
pub const APPEND_ONLY_TABLES: &[&str] = &[
    "batches",
    "journal",
    "postings",
    "indicator_lines",
    "reductions",
    "vouchers",
    "carries",
    "recoveries",
    "rollovers",
    "closings",
    "region_extensions",
    "seals",
];

/// SQL that drops every append-only trigger, as anyone with raw database
/// access can: the tamper tests start here.
pub fn drop_append_only_triggers_sql(backend: crate::Backend) -> Vec<String> {
    APPEND_ONLY_TABLES
        .iter()
        .flat_map(|t| match backend {
            crate::Backend::Sqlite => vec![
                format!("DROP TRIGGER {t}_no_update"),
                format!("DROP TRIGGER {t}_no_delete"),
            ],
            crate::Backend::Postgres => vec![
                format!("DROP TRIGGER {t}_append_only ON {t}"),
                format!("DROP TRIGGER {t}_no_truncate ON {t}"),
            ],
        })
        .collect()
}

/// A database that exists for one test and is removed afterwards.
pub struct TestDb {
    pub url: String,
    pub backend: crate::Backend,
    _dir: Option<tempfile::TempDir>,
    pg_admin: Option<(String, String)>,
}

impl TestDb {
    pub fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("temporary directory");
        let url = format!("sqlite:{}", dir.path().join("fundledger.db").display());
        TestDb {
            url,
            backend: crate::Backend::Sqlite,
            _dir: Some(dir),
            pg_admin: None,
        }
    }

    /// A fresh PostgreSQL database, or None (announced on stderr) when
    /// `FUNDLEDGER_TEST_PG` is not set.
    pub fn postgres() -> Option<TestDb> {
        TestDb::postgres_created_with("")
    }

    /// A fresh PostgreSQL database whose collation is ICU's for `locale`
    /// (`en-US`): a language's order, as on most production servers,
    /// where the test server's own is `C.UTF-8`.
    pub fn postgres_icu(locale: &str) -> Option<TestDb> {
        TestDb::postgres_created_with(&format!(
            " TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE '{locale}' LOCALE 'C.UTF-8'"
        ))
    }

    /// `CREATE DATABASE <fresh name>` followed by `options`.
    fn postgres_created_with(options: &str) -> Option<TestDb> {
        let Ok(admin_url) = std::env::var("FUNDLEDGER_TEST_PG") else {
            eprintln!(
                "\n*** PostgreSQL tests NOT RUN: FUNDLEDGER_TEST_PG is not set \
                 (e.g. postgres://postgres@127.0.0.1:5432/test) ***\n"
            );
            return None;
        };
        let name = format!(
            "fl_test_{}_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.subsec_nanos())
                .unwrap_or(0)
        );
        admin_sql(&admin_url, &format!("CREATE DATABASE \"{name}\"{options}"));
        let url = replace_db_name(&admin_url, &name);
        Some(TestDb {
            url,
            backend: crate::Backend::Postgres,
            _dir: None,
            pg_admin: Some((admin_url, name)),
        })
    }

    /// SQLite, plus PostgreSQL when configured.
    pub fn all() -> Vec<TestDb> {
        let mut dbs = vec![TestDb::sqlite()];
        dbs.extend(TestDb::postgres());
        dbs
    }

    /// Opens and migrates.
    pub async fn store(&self) -> crate::Store {
        let store = crate::Store::open(&self.url, crate::OpenMode::Create)
            .await
            .expect("open test database");
        store.migrate().await.expect("migrate test database");
        store
    }
}

impl TestDb {
    /// This database through a pool of exactly one connection, so a
    /// transaction opened on it is the one every later query (verify's
    /// included) runs in: the tamper tests roll each mutation back.
    pub async fn single_connection_store(&self) -> crate::Store {
        let options = <sqlx::any::AnyConnectOptions as std::str::FromStr>::from_str(&self.url)
            .expect("test database URL");
        let pool = sqlx::any::AnyPoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await
            .expect("connect test database");
        crate::Store {
            pool,
            backend: self.backend,
            // The open transaction is only visible on this one connection,
            // so verify reads the journal through it, not through a
            // separate SQLite scan (scan.rs) or PostgreSQL connection
            // (pg_scan.rs) that would not see it.
            sqlite_path: None,
            postgres_url: None,
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some((admin, name)) = self.pg_admin.take() {
            admin_sql(
                &admin,
                &format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"),
            );
        }
    }
}

fn replace_db_name(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let cut = base.rfind('/').expect("postgres URL has a path");
    let mut out = format!("{}/{name}", &base[..cut]);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

/// Runs one statement on the admin database from a thread of its own, so it
/// works inside and outside an async runtime (and from Drop).
fn admin_sql(admin_url: &str, sql: &str) {
    let (admin_url, sql) = (admin_url.to_string(), sql.to_string());
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async {
            use sqlx::Connection;
            let mut conn = sqlx::PgConnection::connect(&admin_url)
                .await
                .unwrap_or_else(|e| {
                    panic!("FUNDLEDGER_TEST_PG={admin_url} is set but unreachable: {e}")
                });
            sqlx::query(&sql)
                .execute(&mut conn)
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"));
        })
    })
    .join()
    .expect("admin statement thread");
}
