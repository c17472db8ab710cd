//! A journal entry exactly as stored: what the store reads back, what
//! `verify` rebuilds a transaction from, and what the writers (hledger
//! journal, audit trail) print. Plain data, so the formats crate need not
//! know the store, and one type serves both instead of two mirrored ones.

use crate::account::AccountNameError;
use crate::{Account, Fen, LedgerError, Posting, Transaction, TxKind, TxMeta};
use chrono::NaiveDate;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StoredPosting {
    pub seq: i64,
    pub account: String,
    pub amount: Fen,
}

/// A journal entry exactly as stored; `Default` is an entry of empty
/// fields for a scan to read a row into.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct JournalEntry {
    pub entry_no: i64,
    pub tx_id: String,
    pub tx_date: String,
    pub kind: String,
    pub description: String,
    pub fiscal_year: Option<i64>,
    pub doc_no: Option<String>,
    pub voucher_no: Option<String>,
    pub region_code: Option<String>,
    pub project_code: Option<String>,
    pub source_file: Option<String>,
    pub source_line: Option<i64>,
    pub details: Option<String>,
    pub batch_id: i64,
    pub recorded_at: String,
    pub prev_hash: String,
    pub hash: String,
    pub postings: Vec<StoredPosting>,
}

/// Why a stored entry is not a valid transaction.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoredEntryError {
    #[error("entry {entry_no}: unknown kind `{kind}`")]
    UnknownKind { entry_no: i64, kind: String },
    #[error("entry {entry_no}: stored date `{date}` is not YYYY-MM-DD")]
    BadDate { entry_no: i64, date: String },
    #[error("entry {entry_no}: {source}")]
    BadAccount {
        entry_no: i64,
        source: AccountNameError,
    },
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}

impl JournalEntry {
    /// Rebuilds the core transaction, which re-checks that it balances.
    pub fn to_transaction(&self) -> Result<Transaction, StoredEntryError> {
        let entry_no = self.entry_no;
        let kind = TxKind::parse(&self.kind).ok_or_else(|| StoredEntryError::UnknownKind {
            entry_no,
            kind: self.kind.clone(),
        })?;
        let date = parse_iso_date(&self.tx_date).ok_or_else(|| StoredEntryError::BadDate {
            entry_no,
            date: self.tx_date.clone(),
        })?;
        let meta = TxMeta {
            fiscal_year: self.fiscal_year.map(|y| y as i32),
            doc_no: self.doc_no.clone(),
            voucher_no: self.voucher_no.clone(),
            region_code: self.region_code.clone(),
            project_code: self.project_code.clone(),
            source_file: self.source_file.clone(),
            source_line: self.source_line.map(|l| l as u64),
            details: self.details.clone(),
        };
        let postings = self
            .postings
            .iter()
            .map(|p| {
                Ok(Posting {
                    account: Account::parse(&p.account)
                        .map_err(|source| StoredEntryError::BadAccount { entry_no, source })?,
                    amount: p.amount,
                })
            })
            .collect::<Result<Vec<_>, StoredEntryError>>()?;
        Ok(Transaction::new(
            self.tx_id.clone(),
            date,
            kind,
            self.description.clone(),
            meta,
            postings,
        )?)
    }
}

/// `text` read as chrono's `%Y-%m-%d` reads it. The stored form,
/// `YYYY-MM-DD` in ASCII digits, is read without chrono's format parser
/// (this runs once per entry on every `verify`); anything else goes to it.
fn parse_iso_date(text: &str) -> Option<NaiveDate> {
    match plain_ymd(text.as_bytes()) {
        Some((y, m, d)) => NaiveDate::from_ymd_opt(y, m, d),
        None => NaiveDate::parse_from_str(text, "%Y-%m-%d").ok(),
    }
}

/// Year, month and day of `DDDD-DD-DD`.
fn plain_ymd(b: &[u8]) -> Option<(i32, u32, u32)> {
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let number = |digits: &[u8]| {
        digits.iter().try_fold(0u32, |n, d| {
            d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0'))
        })
    };
    let year = number(&b[0..4])?;
    Some((year as i32, number(&b[5..7])?, number(&b[8..10])?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn entry() -> JournalEntry {
        JournalEntry {
            entry_no: 7,
            tx_id: "disbursement:V1".into(),
            tx_date: "2020-05-01".into(),
            kind: "disbursement".into(),
            description: "disbursement V1".into(),
            fiscal_year: Some(2020),
            doc_no: None,
            voucher_no: Some("V1".into()),
            region_code: Some("430121".into()),
            project_code: Some("JS02".into()),
            source_file: Some("v.csv".into()),
            source_line: Some(2),
            details: None,
            batch_id: 1,
            recorded_at: "2026-01-01T00:00:00Z".into(),
            prev_hash: "0".repeat(64),
            hash: "a".repeat(64),
            postings: vec![
                StoredPosting {
                    seq: 1,
                    account: "disbursed:2020:430100:430121:JS02".into(),
                    amount: Fen::new(100),
                },
                StoredPosting {
                    seq: 2,
                    account: "allocated:2020:430100:430121:JS02".into(),
                    amount: Fen::new(-100),
                },
            ],
        }
    }

    #[test]
    fn a_stored_entry_rebuilds_or_names_what_is_wrong() {
        let check = |tamper: fn(&mut JournalEntry), want: &str| {
            let mut e = entry();
            tamper(&mut e);
            let got = match e.to_transaction() {
                Ok(tx) => format!("ok {}", tx.postings().len()),
                Err(err) => err.to_string(),
            };
            assert!(
                got.starts_with(want),
                "{got:?} does not start with {want:?}"
            );
        };
        check(|_| {}, "ok 2");
        check(|e| e.kind = "gift".into(), "entry 7: unknown kind `gift`");
        check(
            |e| e.tx_date = "2020-02-30".into(),
            "entry 7: stored date `2020-02-30`",
        );
        check(
            |e| e.postings[0].account = "no spaces  here".into(),
            "entry 7: ",
        );
        check(
            |e| e.postings[0].amount = Fen::new(101),
            "transaction disbursement:V1 does not balance",
        );
        check(
            |e| {
                e.postings.pop();
            },
            "transaction disbursement:V1 has 1 posting(s)",
        );
    }

    #[test]
    fn dates_are_read_as_chrono_reads_them() {
        let texts = [
            "2020-05-01",
            "0000-01-01",
            "9999-12-31",
            "2020-02-29",
            "2021-02-29",
            "2020-13-01",
            "2020-00-10",
            "2020-01-32",
            "2020-1-01",
            "2020-01-1",
            "20200-01-01",
            "+2020-01-01",
            "-001-01-01",
            "2020/01/01",
            "2020-01-01 ",
            " 2020-01-01",
            "",
            "２020-01-01",
            "2020-0a-01",
            "1-1-1",
        ];
        for text in texts {
            let chrono = NaiveDate::parse_from_str(text, "%Y-%m-%d").ok();
            assert_eq!(parse_iso_date(text), chrono, "{text:?}");
        }
    }

    proptest! {
        #[test]
        fn any_text_is_read_as_chrono_reads_it(text in "[0-9+ -]{0,12}|[0-9]{4}-[0-9]{2}-[0-9]{2}") {
            let chrono = NaiveDate::parse_from_str(&text, "%Y-%m-%d").ok();
            prop_assert_eq!(parse_iso_date(&text), chrono);
        }
    }
}
