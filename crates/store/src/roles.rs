//! Roles the database enforces (PostgreSQL): `fundledger init --roles`.
//!
//! Three NOLOGIN group roles; an administrator grants them to login roles
//! (docs/guide-admin.md):
//! - `fundledger_auditor`: reads everything (reconcile, balance, export, verify);
//! - `fundledger_officer`: reads, and imports indicators and disbursements;
//! - `fundledger_admin`: the officer's rights, plus budget, close, rollover,
//!   regions and projects.
//!
//! [`TABLE_GRANTS`] is the one classification of every table; a test checks
//! it against the database catalog, so a table added by a later migration
//! fails that test until it is classified here. Budget entries are written to
//! the same tables as imports, so the journal also carries a row policy:
//! officers may insert only the kinds an import writes.

use crate::{Backend, Result, Store, StoreError};
use fundledger_core::TxKind;
use sqlx::Executor;

pub const OFFICER: &str = "fundledger_officer";
pub const ADMIN: &str = "fundledger_admin";
pub const AUDITOR: &str = "fundledger_auditor";
pub(crate) const ROLES: [&str; 3] = [AUDITOR, OFFICER, ADMIN];

/// Privileges on one table beyond SELECT (which all three roles have).
/// `fundledger_admin` is a member of `fundledger_officer`, so `admin` lists
/// only what it has on top of the officer's.
pub struct TableGrant {
    pub table: &'static str,
    pub officer: &'static [&'static str],
    pub admin: &'static [&'static str],
}

const fn grant(
    table: &'static str,
    officer: &'static [&'static str],
    admin: &'static [&'static str],
) -> TableGrant {
    TableGrant {
        table,
        officer,
        admin,
    }
}

const INSERT: &[&str] = &["INSERT"];
const NONE: &[&str] = &[];

/// Every table of the schema, classified. Append-only tables never get
/// UPDATE or DELETE (their triggers refuse them anyway).
pub const TABLE_GRANTS: &[TableGrant] = &[
    // Written by `init` only, as the owner; every command reads it.
    grant("_sqlx_migrations", NONE, NONE),
    // Every writing command: one batch, journal entries, postings, balances, a seal.
    grant("batches", INSERT, NONE),
    grant("journal", INSERT, NONE),
    grant("postings", INSERT, NONE),
    grant("balances", &["INSERT", "UPDATE"], NONE),
    grant("seals", INSERT, NONE),
    // Imports.
    grant("indicator_lines", INSERT, NONE),
    grant("reductions", INSERT, NONE),
    grant("vouchers", INSERT, NONE),
    // An indicator import registers new projects; renaming one is `projects import`.
    grant("projects", INSERT, &["UPDATE"]),
    // Administration: regions, close, rollover.
    grant("region_extensions", NONE, INSERT),
    grant("closings", NONE, INSERT),
    grant("rollovers", NONE, INSERT),
    grant("carries", NONE, INSERT),
    grant("recoveries", NONE, INSERT),
];

/// Journal kinds an officer's import writes; the rest (budget, carryover,
/// recovery) are the administrator's.
pub(crate) const OFFICER_JOURNAL_KINDS: &[TxKind] = &[
    TxKind::Allocation,
    TxKind::Adjustment,
    TxKind::Disbursement,
    TxKind::Refund,
    TxKind::Reversal,
];

/// The statements of `init --roles`, in order (idempotent).
pub fn roles_sql() -> Vec<String> {
    let all = ROLES.join(", ");
    let mut sql: Vec<String> = ROLES
        .iter()
        .map(|r| {
            // Roles are cluster-wide: another ledger may have created them.
            format!(
                "DO $$ BEGIN CREATE ROLE {r} NOLOGIN; \
                 EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$"
            )
        })
        .collect();
    sql.push(format!("GRANT {OFFICER} TO {ADMIN}"));
    sql.push(format!("GRANT USAGE ON SCHEMA public TO {all}"));
    for g in TABLE_GRANTS {
        let t = g.table;
        // Start from nothing, so a re-run after a reclassification narrows too.
        sql.push(format!("REVOKE ALL ON {t} FROM {all}"));
        sql.push(format!("GRANT SELECT ON {t} TO {all}"));
        if !g.officer.is_empty() {
            sql.push(format!(
                "GRANT {} ON {t} TO {OFFICER}",
                g.officer.join(", ")
            ));
        }
        if !g.admin.is_empty() {
            sql.push(format!("GRANT {} ON {t} TO {ADMIN}", g.admin.join(", ")));
        }
    }
    let kinds: Vec<String> = OFFICER_JOURNAL_KINDS
        .iter()
        .map(|k| format!("'{}'", k.as_str()))
        .collect();
    sql.extend([
        "ALTER TABLE journal ENABLE ROW LEVEL SECURITY".to_string(),
        "DROP POLICY IF EXISTS fundledger_read ON journal".to_string(),
        "DROP POLICY IF EXISTS fundledger_officer_insert ON journal".to_string(),
        "DROP POLICY IF EXISTS fundledger_admin_insert ON journal".to_string(),
        format!("CREATE POLICY fundledger_read ON journal FOR SELECT TO {all} USING (true)"),
        format!(
            "CREATE POLICY fundledger_officer_insert ON journal FOR INSERT TO {OFFICER} \
             WITH CHECK (kind IN ({}))",
            kinds.join(", ")
        ),
        format!("CREATE POLICY fundledger_admin_insert ON journal FOR INSERT TO {ADMIN} WITH CHECK (true)"),
    ]);
    sql
}

impl Store {
    /// `init --roles`: creates the group roles and their privileges in one
    /// transaction. Needs a user that owns the tables and may create roles.
    pub async fn install_roles(&self) -> Result<()> {
        if self.backend() != Backend::Postgres {
            return Err(StoreError::Refused(
                "roles are a PostgreSQL feature; on SQLite the database file's permissions \
                 are the access control (docs/guide-admin.md)"
                    .into(),
            ));
        }
        let mut conn = self.pool().acquire().await?;
        conn.execute("BEGIN").await?;
        for statement in roles_sql() {
            if let Err(e) = conn.execute(statement.as_str()).await {
                let _ = conn.execute("ROLLBACK").await;
                return Err(e.into());
            }
        }
        conn.execute("COMMIT").await?;
        Ok(())
    }

    /// The user the database knows this session as (for "connected as …").
    pub async fn current_user(&self) -> Result<String> {
        let sql = match self.backend() {
            Backend::Postgres => "SELECT CAST(session_user AS TEXT)",
            Backend::Sqlite => "SELECT 'local file user'",
        };
        Ok(sqlx::query_scalar(sql).fetch_one(self.pool()).await?)
    }

    /// Every base table of the schema, for the classification test.
    pub async fn table_names(&self) -> Result<Vec<String>> {
        let sql = match self.backend() {
            Backend::Postgres => {
                "SELECT CAST(table_name AS TEXT) FROM information_schema.tables \
                 WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' \
                 ORDER BY 1"
            }
            Backend::Sqlite => {
                "SELECT name FROM sqlite_master WHERE type = 'table' \
                 AND name NOT LIKE 'sqlite_%' ORDER BY 1"
            }
        };
        Ok(sqlx::query_scalar(sql).fetch_all(self.pool()).await?)
    }
}

impl StoreError {
    /// The database refused for lack of a privilege (SQLSTATE 42501,
    /// including a row policy's refusal).
    pub fn is_permission_denied(&self) -> bool {
        match self {
            StoreError::Sql(sqlx::Error::Database(db)) => db.code().as_deref() == Some("42501"),
            _ => false,
        }
    }
}
