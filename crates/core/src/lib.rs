//! fundledger-core: the pure heart of the ledger.
//!
//! Everything here is a function of its arguments: no files, no database, no
//! clock, no async. Invariants that must never break are `assert!`s; expected
//! failures are typed errors with stable names.

// Every declared dependency is used (test targets are exempt: each test file
// names only some of them).
#![cfg_attr(not(test), warn(unused_crate_dependencies))]
// Short functions (clippy.toml: at most 70 lines) outside tests.
#![cfg_attr(not(test), warn(clippy::too_many_lines))]

pub mod account;
pub mod adjustments;
pub mod capped;
pub mod catalog;
pub mod divisions;
pub mod domain;
pub mod journal;
pub mod money;
pub mod periods;
pub mod reconcile;
pub mod rollover;
pub mod text;
pub mod tx;

pub use account::{Account, AccountKind};
pub use domain::{DocNo, FiscalYear, LineKey, ProjectCode, RegionCode};
pub use money::{Fen, MoneyError, Unit};
pub use tx::{LedgerError, Posting, Transaction, TxKind, TxMeta};
