//! The write transaction of a SQLite ledger on a thread of its own, through
//! rusqlite (ADR 0005, decision 14). sqlx's `Any` driver turned every bound
//! value into an `AnyValue`, then a `SqliteArguments` value, then a copy for
//! its worker thread, and a 1M-voucher import binds 35 million values. Here
//! the command's thread sends whole buffers of rows and goes on building the
//! next ones while this thread binds them straight into prepared statements.
//!
//! Jobs run in the order they were sent, so a read sees every row sent
//! before it. An insert is not answered: if it fails, the error is kept and
//! given to the next job that answers (a read, the commit), and nothing
//! after it runs, so a failed write can never be committed. Dropping the
//! writer without finishing closes the connection, and SQLite rolls the
//! transaction back.

use crate::packed::{CellValue, Packed};
use crate::sql::SqlRow;
use crate::write::{insert_sql, Val, FLUSH_ROWS};
use crate::{Backend, Result, StoreError, SQLITE_BUSY_TIMEOUT_MS};
use rusqlite::{Connection, OpenFlags, Statement};
use std::borrow::Cow;
use std::fmt;
use tokio::sync::{mpsc, oneshot};

/// Buffers of rows for [`LiteWriter::insert`], a table each, in the order
/// they must be written.
pub(crate) type Tables = Vec<Packed>;

/// Buffers sent and not yet written, at most: the command waits for the
/// writer beyond that, so memory stays bounded by a few buffers.
const QUEUED_INSERTS: usize = 2;

/// Prepared statements kept per connection: the multi-row inserts of every
/// table at the usual sizes and the handful of lookups.
const STATEMENT_CACHE: usize = 64;

enum Job {
    Insert(Tables),
    Rows {
        sql: String,
        args: Vec<Val>,
        reply: oneshot::Sender<Result<Vec<SqlRow>>>,
    },
    Execute {
        sql: String,
        args: Vec<Val>,
        reply: oneshot::Sender<Result<u64>>,
    },
    Finish {
        commit: bool,
        reply: oneshot::Sender<Result<()>>,
    },
}

/// The command's end of the writer thread.
pub(crate) struct LiteWriter {
    jobs: mpsc::Sender<Job>,
}

impl LiteWriter {
    /// Opens the ledger file on a new thread and begins an IMMEDIATE
    /// transaction there (waiting up to the busy timeout for another
    /// writer, off the runtime's threads). `pragmas` run first.
    pub(crate) async fn begin(path: &str, pragmas: &[String]) -> Result<LiteWriter> {
        let (jobs, queue) = mpsc::channel(QUEUED_INSERTS);
        let (ready, opened) = oneshot::channel();
        let path = path.to_string();
        let pragmas = pragmas.to_vec();
        std::thread::Builder::new()
            .name("fundledger-writer".into())
            .spawn(move || match open(&path, &pragmas) {
                Ok(conn) => {
                    if ready.send(Ok(())).is_ok() {
                        serve(conn, queue);
                    }
                }
                Err(e) => {
                    let _ = ready.send(Err(e));
                }
            })
            .map_err(|e| StoreError::Refused(format!("cannot start the writer thread: {e}")))?;
        opened.await.map_err(|_| gone())??;
        Ok(LiteWriter { jobs })
    }

    /// Queues rows to be written; returns once they are queued.
    pub(crate) async fn insert(&self, tables: Tables) -> Result<()> {
        self.jobs
            .send(Job::Insert(tables))
            .await
            .map_err(|_| gone())
    }

    pub(crate) async fn rows(&self, sql: &str, args: Vec<Val>) -> Result<Vec<SqlRow>> {
        let sql = sql.to_string();
        self.ask(|reply| Job::Rows { sql, args, reply }).await
    }

    pub(crate) async fn execute(&self, sql: &str, args: Vec<Val>) -> Result<u64> {
        let sql = sql.to_string();
        self.ask(|reply| Job::Execute { sql, args, reply }).await
    }

    /// Commits (or rolls back) and closes the connection; the thread ends.
    pub(crate) async fn finish(self, commit: bool) -> Result<()> {
        self.ask(|reply| Job::Finish { commit, reply }).await
    }

    async fn ask<T>(&self, job: impl FnOnce(oneshot::Sender<Result<T>>) -> Job) -> Result<T> {
        let (reply, answer) = oneshot::channel();
        self.jobs.send(job(reply)).await.map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?
    }
}

/// The writer thread ended without answering: it panicked (the panic was
/// printed) or could not start.
fn gone() -> StoreError {
    StoreError::Refused("the SQLite writer thread stopped before answering".into())
}

fn open(path: &str, pragmas: &[String]) -> Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(lite_error)?;
    conn.busy_timeout(std::time::Duration::from_millis(u64::from(
        SQLITE_BUSY_TIMEOUT_MS,
    )))
    .map_err(lite_error)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    for pragma in pragmas {
        // Some pragmas answer with a row (journal_mode), some do not.
        let mut stmt = conn.prepare(pragma).map_err(lite_error)?;
        let mut rows = stmt.raw_query();
        while rows.next().map_err(lite_error)?.is_some() {}
    }
    conn.execute_batch("BEGIN IMMEDIATE").map_err(lite_error)?;
    Ok(conn)
}

/// Runs jobs until the command finishes or drops its end.
fn serve(conn: Connection, mut queue: mpsc::Receiver<Job>) {
    let mut failure = Failure::default();
    while let Some(job) = queue.blocking_recv() {
        match job {
            Job::Insert(tables) => {
                if failure.is_clear() {
                    if let Err(e) = insert_tables(&conn, tables) {
                        failure.set(e);
                    }
                }
            }
            Job::Rows { sql, args, reply } => {
                let _ = reply.send(failure.or_else(|| rows(&conn, &sql, &args)));
            }
            Job::Execute { sql, args, reply } => {
                let _ = reply.send(failure.or_else(|| execute(&conn, &sql, &args)));
            }
            Job::Finish { commit, reply } => {
                let done = if commit {
                    failure.or_else(|| conn.execute_batch("COMMIT").map_err(lite_error))
                } else {
                    conn.execute_batch("ROLLBACK").map_err(lite_error)
                };
                // Closed before the answer: the command's next step (the
                // WAL truncation at its end) finds no connection of ours.
                let closed = conn.close().map_err(|(_, e)| lite_error(e));
                let _ = reply.send(done.and(closed));
                return;
            }
        }
    }
}

/// The first failed insert: its error goes to the first job that answers,
/// a note of it to every later one; nothing runs after it.
#[derive(Default)]
struct Failure {
    first: Option<StoreError>,
    message: Option<String>,
}

impl Failure {
    fn is_clear(&self) -> bool {
        self.message.is_none()
    }
    fn set(&mut self, e: StoreError) {
        self.message = Some(e.to_string());
        self.first = Some(e);
    }
    fn or_else<T>(&mut self, run: impl FnOnce() -> Result<T>) -> Result<T> {
        if let Some(e) = self.first.take() {
            return Err(e);
        }
        match &self.message {
            Some(m) => Err(StoreError::Refused(format!(
                "an earlier write of this command failed: {m}"
            ))),
            None => run(),
        }
    }
}

fn insert_tables(conn: &Connection, tables: Tables) -> Result<()> {
    for rows in &tables {
        for chunk in rows.chunks(FLUSH_ROWS) {
            let row_count = chunk.len() / rows.columns.len();
            let sql = insert_sql(Backend::Sqlite, rows.table, rows.columns, row_count);
            let mut stmt = conn.prepare_cached(&sql).map_err(lite_error)?;
            for (i, cell) in chunk.iter().enumerate() {
                bind_cell(&mut stmt, i + 1, rows.value(*cell))?;
            }
            stmt.raw_execute().map_err(lite_error)?;
        }
    }
    Ok(())
}

fn bind_cell(stmt: &mut Statement<'_>, index: usize, v: CellValue<'_>) -> Result<()> {
    match v {
        CellValue::Int(x) => stmt.raw_bind_parameter(index, x),
        CellValue::Text(t) => stmt.raw_bind_parameter(index, t),
        CellValue::NullInt | CellValue::NullText => {
            stmt.raw_bind_parameter(index, rusqlite::types::Null)
        }
    }
    .map_err(lite_error)
}

/// Binds `$1 … $n` where SQLite put them: it numbers parameters in order of
/// first appearance, which need not be `$N`'s order. The usual case (in
/// order) is checked by index, in constant time; only a statement that
/// names them out of order is searched by name, a linear scan per value
/// (sqlx did that for every value, which made a 500-value lookup
/// quadratic: ADR 0005).
fn bind_args(stmt: &mut Statement<'_>, args: &[Val]) -> Result<()> {
    assert_eq!(stmt.parameter_count(), args.len(), "bound values");
    for (k, v) in args.iter().enumerate() {
        let name = format!("${}", k + 1);
        let index = match stmt.parameter_name(k + 1) {
            Some(found) if found == name => k + 1,
            None => k + 1,
            Some(_) => stmt
                .parameter_index(&name)
                .map_err(lite_error)?
                .unwrap_or(k + 1),
        };
        bind_cell(stmt, index, v.cell())?;
    }
    Ok(())
}

fn rows(conn: &Connection, sql: &str, args: &[Val]) -> Result<Vec<SqlRow>> {
    let mut stmt = conn.prepare_cached(sql).map_err(lite_error)?;
    bind_args(&mut stmt, args)?;
    let width = stmt.column_count();
    let mut out = Vec::new();
    let mut rows = stmt.raw_query();
    while let Some(row) = rows.next().map_err(lite_error)? {
        let cells = (0..width)
            .map(|i| row.get::<_, rusqlite::types::Value>(i))
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(lite_error)?;
        out.push(SqlRow::Lite(cells));
    }
    Ok(out)
}

fn execute(conn: &Connection, sql: &str, args: &[Val]) -> Result<u64> {
    let mut stmt = conn.prepare_cached(sql).map_err(lite_error)?;
    bind_args(&mut stmt, args)?;
    Ok(stmt.raw_execute().map_err(lite_error)? as u64)
}

/// A rusqlite error as the error sqlx's SQLite driver gives for the same
/// failure: a database error with SQLite's extended code and message
/// (`(code: 2067) UNIQUE constraint failed: …`), so callers and users see
/// one kind of database error whichever connection wrote.
pub(crate) fn lite_error(e: rusqlite::Error) -> StoreError {
    match e {
        rusqlite::Error::SqliteFailure(code, message) => {
            let message = message.unwrap_or_else(|| code.to_string());
            StoreError::Sql(sqlx::Error::Database(Box::new(LiteError {
                code: code.extended_code,
                message,
            })))
        }
        other => StoreError::Sql(sqlx::Error::Decode(Box::new(other))),
    }
}

#[derive(Debug)]
struct LiteError {
    code: i32,
    message: String,
}

impl fmt::Display for LiteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "(code: {}) {}", self.code, self.message)
    }
}

impl std::error::Error for LiteError {}

impl sqlx::error::DatabaseError for LiteError {
    fn message(&self) -> &str {
        &self.message
    }
    fn code(&self) -> Option<Cow<'_, str>> {
        Some(self.code.to_string().into())
    }
    fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        self
    }
    fn as_error_mut(&mut self) -> &mut (dyn std::error::Error + Send + Sync + 'static) {
        self
    }
    fn into_error(self: Box<Self>) -> Box<dyn std::error::Error + Send + Sync + 'static> {
        self
    }
    fn kind(&self) -> sqlx::error::ErrorKind {
        use rusqlite::ffi;
        use sqlx::error::ErrorKind;
        match self.code {
            ffi::SQLITE_CONSTRAINT_UNIQUE | ffi::SQLITE_CONSTRAINT_PRIMARYKEY => {
                ErrorKind::UniqueViolation
            }
            ffi::SQLITE_CONSTRAINT_FOREIGNKEY => ErrorKind::ForeignKeyViolation,
            ffi::SQLITE_CONSTRAINT_NOTNULL => ErrorKind::NotNullViolation,
            ffi::SQLITE_CONSTRAINT_CHECK => ErrorKind::CheckViolation,
            _ => ErrorKind::Other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{execute, rows, LiteWriter};
    use crate::packed::Packed;
    use crate::read::Cells;
    use crate::write::Val;
    use crate::StoreError;
    use rusqlite::Connection;

    fn text_of(conn: &Connection, sql: &str, args: Vec<Val>) -> String {
        rows(conn, sql, &args).expect("query")[0]
            .text(0)
            .expect("text")
    }

    /// `$N` goes to the N-th value wherever SQLite numbered it.
    #[test]
    fn parameters_are_bound_by_their_number_in_any_order() {
        let conn = Connection::open_in_memory().unwrap();
        let ab = || vec![Val::Text("a".into()), Val::Text("b".into())];
        for (sql, expected) in [
            ("SELECT $1 || $2", "ab"),
            ("SELECT $2 || $1", "ba"),
            ("SELECT $2 || $1 || $2", "bab"),
            ("SELECT ? || ?", "ab"),
        ] {
            assert_eq!(text_of(&conn, sql, ab()), expected, "{sql}");
        }
    }

    #[test]
    fn a_null_and_an_integer_read_back_as_such() {
        let conn = Connection::open_in_memory().unwrap();
        let row = &rows(
            &conn,
            "SELECT $1, $2, $3",
            &[Val::OptInt(None), Val::Int(7), Val::OptText(None)],
        )
        .unwrap()[0];
        assert_eq!(row.opt_int(0).unwrap(), None);
        assert_eq!(row.int(1).unwrap(), 7);
        assert_eq!(row.opt_text(2).unwrap(), None);
        assert!(matches!(row.text(1), Err(StoreError::Corrupt(_))));
        assert!(matches!(row.int(0), Err(StoreError::Corrupt(_))));
    }

    /// The same message and kind as sqlx's SQLite driver gives.
    #[test]
    fn a_constraint_failure_is_a_database_error_with_sqlites_code() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE t (x TEXT PRIMARY KEY)")
            .unwrap();
        let insert = || execute(&conn, "INSERT INTO t VALUES ($1)", &[Val::Text("x".into())]);
        insert().unwrap();
        let err = insert().unwrap_err();
        let StoreError::Sql(sqlx::Error::Database(db)) = &err else {
            panic!("{err:?}")
        };
        assert!(db.is_unique_violation());
        assert_eq!(
            err.to_string(),
            "database error: error returned from database: (code: 1555) UNIQUE constraint failed: t.x"
        );
    }

    /// An insert is not answered: its failure goes to the next job that
    /// answers, a note of it to every later one, and nothing runs after it,
    /// not even a commit.
    #[tokio::test]
    async fn a_failed_insert_fails_every_later_job_and_is_never_committed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let path = path.to_str().unwrap();
        Connection::open(path)
            .unwrap()
            .execute_batch("CREATE TABLE journal (n INTEGER PRIMARY KEY)")
            .unwrap();
        let rows = |ns: &[i64]| {
            let mut p = Packed::new("journal", &["n"]);
            ns.iter().for_each(|n| p.int(*n));
            vec![p]
        };
        let w = LiteWriter::begin(path, &[]).await.unwrap();
        w.insert(rows(&[1, 1])).await.unwrap();
        w.insert(rows(&[2])).await.unwrap();
        let first = w.rows("SELECT COUNT(*) FROM journal", Vec::new()).await;
        assert!(
            first
                .as_ref()
                .is_err_and(|e| e.to_string().contains("UNIQUE")),
            "{:?}",
            first.err()
        );
        let later = w.execute("DELETE FROM journal", Vec::new()).await;
        assert!(
            later.as_ref().is_err_and(|e| e
                .to_string()
                .starts_with("an earlier write of this command failed")),
            "{:?}",
            later.err()
        );
        assert!(w.finish(true).await.is_err());
        let count: i64 = Connection::open(path)
            .unwrap()
            .query_row("SELECT COUNT(*) FROM journal", [], |r| r.get(0))
            .unwrap();
        assert_eq!(count, 0, "nothing of the failed command was committed");
    }
}
