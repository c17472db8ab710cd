//! Reference data kept in the database: the project catalog and extensions
//! of the division table. Loaded by the CLI to build the import context.

use crate::sql::Sql;
use crate::write::{Val, WriteTx};
use crate::{Result, Store, StoreError};
use fundledger_core::catalog::{Project, ProjectCatalog};
use fundledger_core::divisions::{Division, DivisionTable, Level};
use fundledger_core::{ProjectCode, RegionCode};
use sqlx::Row;

fn level_text(level: Level) -> &'static str {
    match level {
        Level::Province => "province",
        Level::Prefecture => "prefecture",
        Level::County => "county",
        Level::Zone => "zone",
    }
}

fn codes_text(codes: &[fundledger_core::RegionCode]) -> String {
    codes
        .iter()
        .map(|c| c.to_string())
        .collect::<Vec<_>>()
        .join(";")
}

impl Store {
    /// The catalog stored by `projects import` and by indicator imports that
    /// registered new projects.
    pub async fn project_catalog(&self) -> Result<ProjectCatalog> {
        let rows = sqlx::query("SELECT code, name, aliases, func_code FROM projects ORDER BY code")
            .fetch_all(self.pool())
            .await?;
        let mut catalog = ProjectCatalog::new();
        for r in &rows {
            let code: String = r.try_get(0)?;
            let aliases: String = r.try_get(2)?;
            let project = Project {
                code: ProjectCode::parse(&code).map_err(|e| StoreError::Corrupt(e.to_string()))?,
                name: r.try_get(1)?,
                aliases: aliases
                    .split(';')
                    .filter(|a| !a.is_empty())
                    .map(str::to_string)
                    .collect(),
                func_code: r.try_get(3)?,
            };
            catalog
                .insert(project)
                .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        }
        Ok(catalog)
    }

    /// The built-in division table plus every imported extension, each
    /// rebuilt from its columns (no text format in between, so a name may
    /// hold any character the import accepted, a comma included).
    pub async fn division_table(&self) -> Result<DivisionTable> {
        let mut table = DivisionTable::builtin();
        let divisions = self.region_extensions().await?;
        if divisions.is_empty() {
            return Ok(table);
        }
        table
            .extend(divisions)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        Ok(table)
    }

    /// Every stored region extension, in import order.
    pub(crate) async fn region_extensions(&self) -> Result<Vec<Division>> {
        let rows = sqlx::query(
            "SELECT code, name, level, parent_code, valid_from, valid_to, successor_codes \
             FROM region_extensions ORDER BY batch_id, code",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(division_from_row).collect()
    }
}

/// One region_extensions row as a division; text that is not what
/// `add_regions` writes (canonical codes, a known level, `;`-joined
/// successors) is corrupt.
fn division_from_row(r: &sqlx::any::AnyRow) -> Result<Division> {
    let code_text: String = r.try_get(0)?;
    let corrupt =
        |what: String| StoreError::Corrupt(format!("region_extensions {code_text}: {what}"));
    let code = |text: &str| -> Result<RegionCode> {
        RegionCode::parse(text)
            .ok()
            .filter(|c| c.to_string() == text)
            .ok_or_else(|| corrupt(format!("`{text}` is not a region code")))
    };
    let level_text: String = r.try_get(2)?;
    let level = Level::parse(&level_text)
        .filter(|l| level_text == self::level_text(*l))
        .ok_or_else(|| corrupt(format!("level `{level_text}`")))?;
    let year = |v: i64| i32::try_from(v).map_err(|_| corrupt(format!("year {v}")));
    let successors: String = r.try_get(6)?;
    let division = Division {
        code: code(&code_text)?,
        name: r.try_get(1)?,
        level,
        parent: r
            .try_get::<Option<String>, _>(3)?
            .as_deref()
            .map(code)
            .transpose()?,
        valid_from: year(r.try_get(4)?)?,
        valid_to: r.try_get::<Option<i64>, _>(5)?.map(year).transpose()?,
        successors: successors
            .split(';')
            .filter(|s| !s.is_empty())
            .map(code)
            .collect::<Result<Vec<_>>>()?,
    };
    if codes_text(&division.successors) != successors {
        return Err(corrupt(format!("successor_codes `{successors}`")));
    }
    Ok(division)
}

/// Adds or replaces catalog entries inside the caller's write transaction.
pub async fn upsert_projects(w: &mut WriteTx, projects: &[Project]) -> Result<()> {
    for p in projects {
        w.execute(
            "INSERT INTO projects (code, name, aliases, func_code) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (code) DO UPDATE SET name = excluded.name, aliases = excluded.aliases, func_code = excluded.func_code",
            vec![
                Val::Text(p.code.to_string()),
                Val::Text(p.name.clone()),
                Val::Text(p.aliases.join(";")),
                Val::OptText(p.func_code.clone()),
            ],
        )
        .await?;
    }
    Ok(())
}

/// Registers projects an indicator file introduces (not in the catalog when
/// the file was read). Insert-only, never an update: an officer's role may
/// add projects but not rename them (`roles::TABLE_GRANTS`), and PostgreSQL
/// demands the UPDATE privilege for any `ON CONFLICT DO UPDATE`.
pub async fn register_new_projects(w: &mut WriteTx, projects: &[Project]) -> Result<()> {
    for p in projects {
        w.execute(
            "INSERT INTO projects (code, name, aliases, func_code) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (code) DO NOTHING",
            vec![
                Val::Text(p.code.to_string()),
                Val::Text(p.name.clone()),
                Val::Text(p.aliases.join(";")),
                Val::OptText(p.func_code.clone()),
            ],
        )
        .await?;
    }
    Ok(())
}

/// Records division-table extensions (append-only) in the caller's transaction.
pub async fn add_regions(w: &mut WriteTx, rows: &[Division]) -> Result<u64> {
    let batch = w.batch_id();
    let mut added = 0;
    for d in rows {
        let sql = "INSERT INTO region_extensions (code, name, level, parent_code, valid_from, valid_to, successor_codes, batch_id) \
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING";
        let args = vec![
            Val::Text(d.code.to_string()),
            Val::Text(d.name.clone()),
            Val::Text(level_text(d.level).to_string()),
            Val::OptText(d.parent.map(|p| p.to_string())),
            Val::Int(i64::from(d.valid_from)),
            Val::OptInt(d.valid_to.map(i64::from)),
            Val::Text(codes_text(&d.successors)),
            Val::Int(batch),
        ];
        added += w.execute(sql, args).await?;
    }
    Ok(added)
}
