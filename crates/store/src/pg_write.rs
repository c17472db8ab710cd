//! A PostgreSQL ledger's write transaction on a typed connection of its
//! own, its buffered rows sent with `COPY … FROM STDIN` (ADR 0005,
//! decision 21). Through sqlx's `Any` connection every buffer was one
//! multi-row INSERT of up to 8,500 bound values, which the server parses,
//! plans and evaluates value by value; `COPY` hands it the rows as text it
//! reads straight into the table, the same triggers and constraints firing
//! (the reference checks of migration 0008 are statement-level triggers,
//! which `COPY` fires once like an INSERT).
//!
//! A table under row security for the session's role (the journal's row
//! policy, `init --roles`) refuses `COPY FROM`; its rows go in as typed
//! multi-row INSERTs, the policy checking each.

use crate::packed::{CellValue, Packed};
use crate::sql::SqlRow;
use crate::write::{insert_sql, Val, FLUSH_ROWS};
use crate::{Backend, Result, StoreError};
use fundledger_core::tx::{push_escaped, push_i64};
use sqlx::postgres::{PgArguments, PgConnectOptions};
use sqlx::query::Query;
use sqlx::{Connection, Executor, PgConnection, Postgres};
use std::str::FromStr;

pub(crate) struct PgWriter {
    conn: PgConnection,
    /// Buffered tables that row security keeps from `COPY` for this role.
    insert_only: Vec<String>,
    /// One `COPY`'s text, reused.
    copy_text: Vec<u8>,
}

/// The buffered tables, as the row-security check names them.
const ROW_SECURITY_CHECK: &str =
    "SELECT t FROM unnest($1::text[]) AS t WHERE row_security_active(t)";

impl PgWriter {
    /// Connects to the ledger at `url` (the pool's server, user and
    /// rights), opens the transaction and takes the writer lock.
    pub(crate) async fn begin(url: &str, writer_lock: i64, tables: &[&str]) -> Result<PgWriter> {
        let options = PgConnectOptions::from_str(url)?;
        let mut conn = PgConnection::connect_with(&options).await?;
        let setting: String = sqlx::query_scalar("SELECT current_setting('synchronous_commit')")
            .fetch_one(&mut conn)
            .await?;
        if let Some(fix) = crate::synchronous_commit_fix(&setting) {
            conn.execute(fix).await?;
        }
        conn.execute("BEGIN").await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(writer_lock)
            .execute(&mut conn)
            .await?;
        let names: Vec<String> = tables.iter().map(|t| t.to_string()).collect();
        let insert_only: Vec<String> = sqlx::query_scalar(ROW_SECURITY_CHECK)
            .bind(names)
            .fetch_all(&mut conn)
            .await?;
        Ok(PgWriter {
            conn,
            insert_only,
            copy_text: Vec::new(),
        })
    }

    /// Writes one table's buffered rows.
    pub(crate) async fn insert(&mut self, rows: &Packed) -> Result<()> {
        if self.insert_only.iter().any(|t| t == rows.table) {
            return self.insert_rows(rows).await;
        }
        self.copy_text.clear();
        copy_text(rows, &mut self.copy_text);
        let statement = format!(
            "COPY {} ({}) FROM STDIN",
            rows.table,
            rows.columns.join(", ")
        );
        let mut copy = self.conn.copy_in_raw(&statement).await?;
        // An error here is the connection's; the server's own refusal of a
        // row (a constraint, a trigger) comes with `finish`.
        copy.send(self.copy_text.as_slice()).await?;
        let copied = copy.finish().await?;
        assert_eq!(
            copied,
            rows.rows() as u64,
            "COPY {} took every buffered row",
            rows.table
        );
        Ok(())
    }

    /// The multi-row INSERTs a table under row security takes instead.
    async fn insert_rows(&mut self, rows: &Packed) -> Result<()> {
        for chunk in rows.chunks(FLUSH_ROWS) {
            let row_count = chunk.len() / rows.columns.len();
            let sql = insert_sql(Backend::Postgres, rows.table, rows.columns, row_count);
            let mut query = sqlx::query(&sql);
            for cell in chunk {
                query = bind_cell(query, rows.value(*cell));
            }
            query.execute(&mut self.conn).await?;
        }
        Ok(())
    }

    pub(crate) async fn rows(&mut self, sql: &str, args: &[Val]) -> Result<Vec<SqlRow>> {
        let rows = bound(sql, args).fetch_all(&mut self.conn).await?;
        Ok(rows.into_iter().map(SqlRow::Pg).collect())
    }

    pub(crate) async fn execute(&mut self, sql: &str, args: &[Val]) -> Result<u64> {
        Ok(bound(sql, args)
            .execute(&mut self.conn)
            .await?
            .rows_affected())
    }

    /// `COMMIT` or `ROLLBACK`, then the connection closed.
    pub(crate) async fn finish(mut self, statement: &str) -> Result<()> {
        self.conn.execute(statement).await?;
        self.conn.close().await.map_err(StoreError::from)
    }
}

fn bound<'q>(sql: &'q str, args: &'q [Val]) -> Query<'q, Postgres, PgArguments> {
    let mut query = sqlx::query(sql);
    for v in args {
        query = bind_cell(query, v.cell());
    }
    query
}

/// Binds a value with the type sqlx's `Any` driver gives it on PostgreSQL
/// (BIGINT, TEXT), NULL included, so a statement means the same through
/// either connection.
fn bind_cell<'q>(
    query: Query<'q, Postgres, PgArguments>,
    v: CellValue<'q>,
) -> Query<'q, Postgres, PgArguments> {
    match v {
        CellValue::Int(i) => query.bind(i),
        CellValue::NullInt => query.bind(None::<i64>),
        CellValue::Text(t) => query.bind(t),
        CellValue::NullText => query.bind(None::<&str>),
    }
}

/// The rows in `COPY`'s text format: a line per row, cells separated by
/// tabs, NULL as `\N`, and in text the backslash, tab, newline and
/// carriage return escaped (PostgreSQL's "COPY", File Formats, Text Format).
fn copy_text(rows: &Packed, out: &mut Vec<u8>) {
    let width = rows.columns.len();
    for chunk in rows.chunks(FLUSH_ROWS) {
        for (i, cell) in chunk.iter().enumerate() {
            if i % width != 0 {
                out.push(b'\t');
            }
            push_copy_cell(out, rows.value(*cell));
            if i % width == width - 1 {
                out.push(b'\n');
            }
        }
    }
}

fn push_copy_cell(out: &mut Vec<u8>, cell: CellValue<'_>) {
    match cell {
        CellValue::Int(i) => push_i64(out, i),
        CellValue::NullInt | CellValue::NullText => out.extend_from_slice(b"\\N"),
        // The chain's canonical form escapes the same four bytes the same
        // way (fundledger_core::tx).
        CellValue::Text(t) => push_escaped(out, t),
    }
}

#[cfg(test)]
mod tests {
    use super::copy_text;
    use crate::packed::Packed;
    use crate::write::Val;
    use fundledger_core::tx::{push_escaped, push_i64};

    fn check_int(i: i64, expected: &str) {
        let mut out = Vec::new();
        push_i64(&mut out, i);
        assert_eq!(out, expected.as_bytes(), "{i}");
    }

    #[test]
    fn integers_are_written_in_decimal() {
        check_int(0, "0");
        check_int(7, "7");
        check_int(-117000, "-117000");
        check_int(2020, "2020");
        check_int(i64::MAX, "9223372036854775807");
        check_int(i64::MIN, "-9223372036854775808");
    }

    fn check_str(text: &str, expected: &str) {
        let mut out = Vec::new();
        push_escaped(&mut out, text);
        assert_eq!(String::from_utf8(out).unwrap(), expected, "{text:?}");
    }

    #[test]
    fn text_escapes_exactly_what_copy_reads_specially() {
        check_str("", "");
        check_str("湘财社指〔2020〕36号", "湘财社指〔2020〕36号");
        check_str("a\\b", "a\\\\b");
        check_str("a\tb", "a\\tb");
        check_str("line\nnext\r", "line\\nnext\\r");
        // `\.` alone on a line ends COPY's data; escaped it is text.
        check_str("\\.", "\\\\.");
        check_str("\\N", "\\\\N");
        check_str("50% ;=~|,\"'", "50% ;=~|,\"'");
    }

    #[test]
    fn rows_become_lines_of_tab_separated_cells_with_nulls_marked() {
        const COLUMNS: &[&str] = &["n", "name", "year", "note"];
        let mut rows = Packed::new("t", COLUMNS);
        rows.push(&[
            Val::Int(1),
            Val::Text("计生协".into()),
            Val::OptInt(None),
            Val::OptText(Some(String::new())),
        ]);
        rows.push(&[
            Val::Int(-2),
            Val::Text("a\tb".into()),
            Val::OptInt(Some(2020)),
            Val::OptText(None),
        ]);
        let mut out = Vec::new();
        copy_text(&rows, &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "1\t计生协\t\\N\t\n-2\ta\\tb\t2020\t\\N\n"
        );
    }
}
