//! The few statements a write transaction runs besides its buffered inserts
//! (presence lookups, pool state, seals), written once for all of its
//! connections: sqlx's `Any` connection (a store on one pooled
//! connection), the typed SQLite writer thread (lite.rs) and the typed
//! PostgreSQL connection (pg_write.rs).
//! `$N` placeholders, as everywhere; values as [`Val`].

use crate::read::Cells;
use crate::write::Val;
use crate::{Result, StoreError};
use sqlx::any::AnyRow;
use sqlx::postgres::PgRow;
use sqlx::{AnyConnection, Row};

/// Something that runs one statement with bound values.
pub(crate) trait Sql {
    /// Every row `sql` returns.
    async fn rows(&mut self, sql: &str, args: Vec<Val>) -> Result<Vec<SqlRow>>;
    /// Runs `sql`; the number of rows it changed.
    async fn execute(&mut self, sql: &str, args: Vec<Val>) -> Result<u64>;

    /// The first row, if any.
    async fn row(&mut self, sql: &str, args: Vec<Val>) -> Result<Option<SqlRow>> {
        Ok(self.rows(sql, args).await?.into_iter().next())
    }
    /// The integer in the first column of the one row `sql` returns
    /// (`COUNT(*)`, `SUM`): a missing row or NULL is corrupt data.
    async fn int(&mut self, sql: &str, args: Vec<Val>) -> Result<i64> {
        match self.row(sql, args).await? {
            Some(r) => r.int(0),
            None => Err(StoreError::Corrupt(format!("no row from `{sql}`"))),
        }
    }
}

/// A row read through any of the write transaction's connections.
pub(crate) enum SqlRow {
    Any(AnyRow),
    Lite(Vec<rusqlite::types::Value>),
    /// The typed PostgreSQL writer's (pg_write.rs); every integer column
    /// of the schema is BIGINT, and a computed one is cast to it, as for
    /// the `Any` driver.
    Pg(PgRow),
}

impl SqlRow {
    fn lite(&self, i: usize) -> Result<&rusqlite::types::Value> {
        match self {
            SqlRow::Lite(cells) => cells
                .get(i)
                .ok_or_else(|| StoreError::Corrupt(format!("no column {i} in the row read"))),
            SqlRow::Any(_) | SqlRow::Pg(_) => {
                unreachable!("a driver's row is read through its own getters")
            }
        }
    }
}

fn wrong_type(i: usize, expected: &str, found: &rusqlite::types::Value) -> StoreError {
    StoreError::Corrupt(format!(
        "column {i}: expected {expected}, found {:?}",
        found.data_type()
    ))
}

impl Cells for SqlRow {
    fn text(&self, i: usize) -> Result<String> {
        match self {
            SqlRow::Any(r) => r.text(i),
            SqlRow::Pg(r) => Ok(r.try_get(i)?),
            SqlRow::Lite(_) => match self.opt_text(i)? {
                Some(t) => Ok(t),
                None => Err(StoreError::Corrupt(format!(
                    "column {i}: expected text, found NULL"
                ))),
            },
        }
    }
    fn opt_text(&self, i: usize) -> Result<Option<String>> {
        use rusqlite::types::Value;
        match self {
            SqlRow::Any(r) => r.opt_text(i),
            SqlRow::Pg(r) => Ok(r.try_get(i)?),
            SqlRow::Lite(_) => match self.lite(i)? {
                Value::Null => Ok(None),
                Value::Text(t) => Ok(Some(t.clone())),
                other => Err(wrong_type(i, "text", other)),
            },
        }
    }
    fn int(&self, i: usize) -> Result<i64> {
        match self {
            SqlRow::Any(r) => r.int(i),
            SqlRow::Pg(r) => Ok(r.try_get(i)?),
            SqlRow::Lite(_) => self.opt_int(i)?.ok_or_else(|| {
                StoreError::Corrupt(format!("column {i}: expected an integer, found NULL"))
            }),
        }
    }
    fn opt_int(&self, i: usize) -> Result<Option<i64>> {
        use rusqlite::types::Value;
        match self {
            SqlRow::Any(r) => r.opt_int(i),
            SqlRow::Pg(r) => Ok(r.try_get(i)?),
            SqlRow::Lite(_) => match self.lite(i)? {
                Value::Null => Ok(None),
                Value::Integer(x) => Ok(Some(*x)),
                other => Err(wrong_type(i, "an integer", other)),
            },
        }
    }
}

impl Sql for AnyConnection {
    async fn rows(&mut self, sql: &str, args: Vec<Val>) -> Result<Vec<SqlRow>> {
        let mut query = sqlx::query(sql);
        for v in &args {
            query = crate::write::bind(query, v);
        }
        let rows = query.fetch_all(&mut *self).await?;
        Ok(rows.into_iter().map(SqlRow::Any).collect())
    }

    async fn execute(&mut self, sql: &str, args: Vec<Val>) -> Result<u64> {
        let mut query = sqlx::query(sql);
        for v in &args {
            query = crate::write::bind(query, v);
        }
        Ok(query.execute(&mut *self).await?.rows_affected())
    }
}
