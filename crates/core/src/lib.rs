//! fundledger-core: the pure heart of the ledger.
//!
//! Everything here is a function of its arguments: no files, no database, no
//! clock, no async. Invariants that must never break are `assert!`s; expected
//! failures are typed errors with stable names.

pub mod account;
pub mod adjustments;
pub mod catalog;
pub mod divisions;
pub mod domain;
pub mod journal;
pub mod money;
pub mod periods;
pub mod reconcile;
pub mod rollover;
pub mod tx;

pub use account::{Account, AccountKind};
pub use domain::{DocNo, FiscalYear, LineKey, ProjectCode, RegionCode};
pub use money::{Fen, MoneyError, Unit};
pub use tx::{LedgerError, Posting, Transaction, TxKind, TxMeta};
