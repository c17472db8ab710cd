//! Batch seals: a second hash chain, one link per committed batch.
//!
//! The journal chain covers every transaction, but a command also writes rows
//! that carry no money and so no journal entry: its batch record (command,
//! file name, file SHA-256, time), a closing, a rollover's record, a region
//! extension. A seal covers those: its `content` lists them in a canonical
//! text, with the journal head as it stood after the batch, and its hash
//! chains to the previous seal. `verify` rebuilds every batch's content
//! from the rows and walks the chain, so changing, deleting or reordering
//! any of these rows is named with its batch.

use crate::ledger::{ColType, DomainTable};
use crate::write::Val;
use crate::Result;
use fundledger_core::tx::{chain_hash, GENESIS_HASH};
use sqlx::AnyConnection;

/// The batch record itself.
pub const BATCHES: DomainTable = DomainTable {
    name: "batches",
    columns: &[
        ("batch_id", ColType::Int),
        ("command", ColType::Text),
        ("file_name", ColType::OptText),
        ("file_sha256", ColType::OptText),
        ("recorded_at", ColType::Text),
    ],
};

/// Rows written under a batch with no journal entry of their own.
pub const CONTROL_TABLES: [&DomainTable; 3] = [
    &DomainTable {
        name: "closings",
        columns: &[("through_date", ColType::Text)],
    },
    &DomainTable {
        name: "rollovers",
        columns: &[
            ("fiscal_year", ColType::Int),
            ("recover_after", ColType::Int),
        ],
    },
    &DomainTable {
        name: "region_extensions",
        columns: &[
            ("code", ColType::Text),
            ("name", ColType::Text),
            ("level", ColType::Text),
            ("parent_code", ColType::OptText),
            ("valid_from", ColType::Int),
            ("valid_to", ColType::OptInt),
            ("successor_codes", ColType::Text),
        ],
    },
];

/// One line per row; `details` already escapes `\`, so a newline can be
/// written as `\n` without ambiguity.
fn line(table: &DomainTable, row: &[Val]) -> String {
    table.details(row).replace('\n', "\\n")
}

/// The journal head after a batch: (entry number, hash) of the last entry
/// appended by it or before it; (0, genesis) for none.
pub type JournalHead = (i64, String);

/// The sealed text of `batch_id` as the rows stand now: the batch record,
/// the journal head after the batch, then the control rows (sorted, so the
/// database's row order does not matter). `None` if the batch row is gone.
pub async fn batch_content(
    conn: &mut AnyConnection,
    batch_id: i64,
    head: &JournalHead,
) -> Result<Option<String>> {
    let sql = format!(
        "SELECT {} FROM batches WHERE batch_id = $1",
        BATCHES.column_names().join(", ")
    );
    let Some(row) = sqlx::query(&sql)
        .bind(batch_id)
        .fetch_optional(&mut *conn)
        .await?
    else {
        return Ok(None);
    };
    let mut lines = vec![line(&BATCHES, &BATCHES.read_row(&row)?)];
    let (entry_no, hash) = head;
    lines.push(format!("journal|head_entry_no={entry_no};head_hash={hash}"));
    for table in CONTROL_TABLES {
        let sql = format!(
            "SELECT {} FROM {} WHERE batch_id = $1",
            table.column_names().join(", "),
            table.name
        );
        let rows = sqlx::query(&sql)
            .bind(batch_id)
            .fetch_all(&mut *conn)
            .await?;
        let mut table_lines = rows
            .iter()
            .map(|r| Ok(line(table, &table.read_row(r)?)))
            .collect::<Result<Vec<_>>>()?;
        table_lines.sort();
        lines.extend(table_lines);
    }
    Ok(Some(lines.join("\n")))
}

pub fn seal_hash(prev_hash: &str, content: &str) -> String {
    chain_hash(prev_hash, content.as_bytes())
}

/// Seals `batches` (this command's, in order, each with the journal head
/// after it) on `conn`, inside the command's transaction, after every row of
/// theirs is written.
pub async fn seal_batches(conn: &mut AnyConnection, batches: &[(i64, JournalHead)]) -> Result<()> {
    let mut prev: String =
        sqlx::query_scalar("SELECT hash FROM seals ORDER BY batch_id DESC LIMIT 1")
            .fetch_optional(&mut *conn)
            .await?
            .unwrap_or_else(|| GENESIS_HASH.to_string());
    for (batch_id, head) in batches {
        let batch_id = *batch_id;
        let content = batch_content(conn, batch_id, head)
            .await?
            .expect("a batch this command created is in its own transaction");
        let hash = seal_hash(&prev, &content);
        sqlx::query(
            "INSERT INTO seals (batch_id, content, prev_hash, hash) VALUES ($1, $2, $3, $4)",
        )
        .bind(batch_id)
        .bind(content)
        .bind(prev)
        .bind(hash.clone())
        .execute(&mut *conn)
        .await?;
        prev = hash;
    }
    Ok(())
}
