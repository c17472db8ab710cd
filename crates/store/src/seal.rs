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
use crate::read::Cells;
use crate::sql::Sql;
use crate::write::Val;
use crate::Result;
use fundledger_core::tx::{chain_hash, GENESIS_HASH};

/// The batch record itself.
pub(crate) const BATCHES: DomainTable = DomainTable {
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
pub(crate) const CONTROL_TABLES: [&DomainTable; 3] = [
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

/// The first line of a format-2 seal. A format-1 seal (written before
/// release 0.2) has no such line and no catalog part.
pub(crate) const FORMAT_2: &str = "seal|v=2";

/// The project catalog: mutable (a later `projects import` replaces a
/// project's name or aliases), so a seal records the whole catalog as it
/// stood when the batch was sealed rather than "its" rows.
pub(crate) const PROJECTS: DomainTable = DomainTable {
    name: "projects",
    columns: &[
        ("code", ColType::Text),
        ("name", ColType::Text),
        ("aliases", ColType::Text),
        ("func_code", ColType::OptText),
    ],
};

/// Starts the catalog part of a format-2 seal: `projects catalog|rows=N;sha256=…`.
pub(crate) const CATALOG_TAG: &str = "projects catalog|";

/// Seal formats, by what their content covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SealFormat {
    /// Batch record, journal head, control rows.
    V1,
    /// `seal|v=2`, then as V1, then the project catalog.
    V2,
}

impl SealFormat {
    pub fn of(content: &str) -> SealFormat {
        if content == FORMAT_2 || content.starts_with(&format!("{FORMAT_2}\n")) {
            SealFormat::V2
        } else {
            SealFormat::V1
        }
    }
}

/// The part of a seal's content rebuilt from its batch's rows, and the
/// catalog lines after it (empty for format 1).
pub fn split_content(content: &str) -> (&str, Vec<&str>) {
    match content.find(&format!("\n{CATALOG_TAG}")) {
        Some(at) => (&content[..at], content[at + 1..].lines().collect()),
        None => (content, Vec::new()),
    }
}

/// The sealed text of `batch_id`'s own rows as they stand now: the batch
/// record, the journal head after the batch, then the control rows (sorted,
/// so the database's row order does not matter). `None` if the batch row is
/// gone.
pub async fn batch_content(
    conn: &mut sqlx::AnyConnection,
    batch_id: i64,
    head: &JournalHead,
    format: SealFormat,
) -> Result<Option<String>> {
    batch_content_of(conn, batch_id, head, format).await
}

/// [`batch_content`] on either connection of a write (sql.rs).
pub(crate) async fn batch_content_of(
    conn: &mut impl Sql,
    batch_id: i64,
    head: &JournalHead,
    format: SealFormat,
) -> Result<Option<String>> {
    let sql = format!(
        "SELECT {} FROM batches WHERE batch_id = $1",
        BATCHES.column_names().join(", ")
    );
    let Some(row) = conn.row(&sql, vec![Val::Int(batch_id)]).await? else {
        return Ok(None);
    };
    let mut lines = Vec::new();
    if format == SealFormat::V2 {
        lines.push(FORMAT_2.to_string());
    }
    lines.push(line(&BATCHES, &BATCHES.read_row(&row)?));
    let (entry_no, hash) = head;
    lines.push(format!("journal|head_entry_no={entry_no};head_hash={hash}"));
    for table in CONTROL_TABLES {
        lines.extend(table_lines(conn, table, Some(batch_id)).await?);
    }
    Ok(Some(lines.join("\n")))
}

/// `table`'s rows (of one batch, or all), one sorted line each.
async fn table_lines(
    conn: &mut impl Sql,
    table: &DomainTable,
    batch_id: Option<i64>,
) -> Result<Vec<String>> {
    let mut sql = format!(
        "SELECT {} FROM {}",
        table.column_names().join(", "),
        table.name
    );
    if batch_id.is_some() {
        sql.push_str(" WHERE batch_id = $1");
    }
    let args = batch_id.map(Val::Int).into_iter().collect();
    let rows = conn.rows(&sql, args).await?;
    let mut lines = rows
        .iter()
        .map(|r| Ok(line(table, &table.read_row(r)?)))
        .collect::<Result<Vec<_>>>()?;
    lines.sort();
    Ok(lines)
}

/// The whole project catalog as it stands now, one line per project.
pub(crate) async fn catalog_lines(conn: &mut impl Sql) -> Result<Vec<String>> {
    table_lines(conn, &PROJECTS, None).await
}

/// `projects catalog|rows=N;sha256=…` over `lines`.
pub(crate) fn catalog_summary(lines: &[String]) -> String {
    let digest = chain_hash(GENESIS_HASH, lines.join("\n").as_bytes());
    format!("{CATALOG_TAG}rows={};sha256={digest}", lines.len())
}

pub fn seal_hash(prev_hash: &str, content: &str) -> String {
    chain_hash(prev_hash, content.as_bytes())
}

/// Seals `batches` (this command's, in order, each with the journal head
/// after it) on `conn`, inside the command's transaction, after every row of
/// theirs is written. Format 2: each seal ends with the catalog's summary,
/// and with every catalog row when the catalog differs from the one the
/// previous seal recorded, so verify can name a changed project.
pub(crate) async fn seal_batches(
    conn: &mut impl Sql,
    batches: &[(i64, JournalHead)],
) -> Result<()> {
    let last = match conn
        .row(
            "SELECT hash, content FROM seals ORDER BY batch_id DESC LIMIT 1",
            Vec::new(),
        )
        .await?
    {
        Some(row) => Some((row.text(0)?, row.text(1)?)),
        None => None,
    };
    let (mut prev, mut prev_summary) = match &last {
        Some((hash, content)) => (hash.clone(), catalog_summary_of(content)),
        None => (GENESIS_HASH.to_string(), None),
    };
    let catalog = catalog_lines(conn).await?;
    let summary = catalog_summary(&catalog);
    for (batch_id, head) in batches {
        let batch_id = *batch_id;
        let mut content = batch_content_of(conn, batch_id, head, SealFormat::V2)
            .await?
            .expect("a batch this command created is in its own transaction");
        content.push('\n');
        content.push_str(&summary);
        if prev_summary.as_deref() != Some(summary.as_str()) {
            for l in &catalog {
                content.push('\n');
                content.push_str(l);
            }
        }
        let hash = seal_hash(&prev, &content);
        conn.execute(
            "INSERT INTO seals (batch_id, content, prev_hash, hash) VALUES ($1, $2, $3, $4)",
            vec![
                Val::Int(batch_id),
                Val::Text(content),
                Val::Text(prev),
                Val::Text(hash.clone()),
            ],
        )
        .await?;
        prev = hash;
        prev_summary = Some(summary.clone());
    }
    Ok(())
}

/// The catalog summary line a seal's content holds, if any.
pub(crate) fn catalog_summary_of(content: &str) -> Option<String> {
    split_content(content)
        .1
        .first()
        .filter(|l| l.starts_with(CATALOG_TAG))
        .map(|l| l.to_string())
}

/// What `init` did to a ledger whose seals predate format 2.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SealUpgrade {
    pub previous_head: String,
    pub batch_id: i64,
    pub seal_head: String,
}

impl crate::Store {
    /// The last seal's hash (genesis for none): with the journal's chain
    /// head, what an auditor keeps outside the database.
    pub async fn seal_head(&self) -> Result<String> {
        let head: Option<String> =
            sqlx::query_scalar("SELECT hash FROM seals ORDER BY batch_id DESC LIMIT 1")
                .fetch_optional(self.pool())
                .await?;
        Ok(head.unwrap_or_else(|| GENESIS_HASH.to_string()))
    }

    /// Seals the catalog of a ledger last written before seal format 2, in
    /// one new batch (`seal format 2`) that writes nothing else; the journal
    /// and its chain head are untouched, the old seals stay verifiable.
    /// `None` when there is nothing to upgrade.
    pub async fn upgrade_seals(&self, recorded_at: &str) -> Result<Option<SealUpgrade>> {
        let last: Option<String> =
            sqlx::query_scalar("SELECT content FROM seals ORDER BY batch_id DESC LIMIT 1")
                .fetch_optional(self.pool())
                .await?;
        let projects: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM projects")
            .fetch_one(self.pool())
            .await?;
        let needed = match &last {
            Some(content) => SealFormat::of(content) == SealFormat::V1,
            None => projects > 0,
        };
        if !needed {
            return Ok(None);
        }
        let previous_head = self.seal_head().await?;
        let w = crate::WriteTx::begin(self, "seal format 2", None, recorded_at).await?;
        let batch_id = w.batch_id();
        w.commit().await?;
        Ok(Some(SealUpgrade {
            previous_head,
            batch_id,
            seal_head: self.seal_head().await?,
        }))
    }
}

impl crate::Store {
    /// The entry whose hash is `hash`, if the journal holds one.
    pub async fn entry_with_hash(&self, hash: &str) -> Result<Option<i64>> {
        Ok(
            sqlx::query_scalar("SELECT entry_no FROM journal WHERE hash = $1")
                .bind(hash.to_string())
                .fetch_optional(self.pool())
                .await?,
        )
    }

    /// The batch whose seal hash is `hash`, if any.
    pub async fn batch_with_seal(&self, hash: &str) -> Result<Option<i64>> {
        Ok(
            sqlx::query_scalar("SELECT batch_id FROM seals WHERE hash = $1")
                .bind(hash.to_string())
                .fetch_optional(self.pool())
                .await?,
        )
    }
}
