//! Shared by the CSV fuzz targets: the reference tables, built once, and a
//! per-process scratch file (the readers take a path).

use fundledger_core::catalog::ProjectCatalog;
use fundledger_core::divisions::DivisionTable;
use fundledger_formats::{ImportContext, ReadOptions};
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

pub fn context() -> ImportContext {
    static TABLES: OnceLock<(Arc<DivisionTable>, Arc<ProjectCatalog>)> = OnceLock::new();
    let (divisions, projects) = TABLES
        .get_or_init(|| {
            (
                Arc::new(DivisionTable::builtin()),
                Arc::new(ProjectCatalog::default_catalog()),
            )
        })
        .clone();
    ImportContext {
        divisions,
        projects,
        options: ReadOptions {
            file_label: "fuzz.csv".to_string(),
            ..ReadOptions::default()
        },
    }
}

pub fn scratch_file(data: &[u8]) -> PathBuf {
    let path = std::env::temp_dir().join(format!("fundledger-fuzz-{}.csv", std::process::id()));
    std::fs::write(&path, data).expect("scratch file is writable");
    path
}
