//! What a reader needs besides the file: reference tables and command-line options.

use chrono::NaiveDate;
use fundledger_core::catalog::ProjectCatalog;
use fundledger_core::divisions::DivisionTable;
use fundledger_core::{DocNo, RegionCode, Unit};
use std::sync::Arc;

/// `--encoding`: detect, or force one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum EncodingChoice {
    /// UTF-8 BOM → UTF-8; else valid UTF-8 → UTF-8; else GB18030.
    #[default]
    Auto,
    Utf8,
    Gb18030,
}

/// Options given on the command line for one input file.
#[derive(Clone, Debug, Default)]
pub struct ReadOptions {
    /// Name used in messages and provenance (usually the path as given).
    pub file_label: String,
    /// `--unit`
    pub unit: Option<Unit>,
    /// `--encoding`
    pub encoding: EncodingChoice,
    /// `--sheet`
    pub sheet: Option<String>,
    /// `--doc-no` (wide tables)
    pub doc_no: Option<DocNo>,
    /// `--doc-date` (wide tables)
    pub doc_date: Option<NaiveDate>,
    /// `--province` (wide tables, name resolution)
    pub province: Option<RegionCode>,
}

/// Everything a reader consults: divisions valid by date, the project catalog, options.
#[derive(Clone)]
pub struct ImportContext {
    pub divisions: Arc<DivisionTable>,
    pub projects: Arc<ProjectCatalog>,
    pub options: ReadOptions,
}
