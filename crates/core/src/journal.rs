//! A journal entry exactly as stored: what the store reads back, what
//! `verify` rebuilds a transaction from, and what the writers (hledger
//! journal, audit trail) print. Plain data, so the formats crate need not
//! know the store, and one type serves both instead of two mirrored ones.

use crate::account::AccountNameError;
use crate::tx::{is_valid_shape, ContentPostings, TxContent};
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

impl JournalEntry {
    /// The entry's content borrowed, when it needs nothing rebuilt: `Some`
    /// exactly when [`JournalEntry::to_transaction`] succeeds and the
    /// rebuilt transaction would hold the stored text unchanged (a
    /// description without tabs or line breaks, a year and a line number
    /// in range), and then its content is that transaction's, field for
    /// field; `None` otherwise, where `to_transaction` gives the verdict.
    /// `verify` asks this of every entry: rebuilding copied each of its
    /// strings.
    pub fn content(&self) -> Option<TxContent<'_>> {
        let kind = TxKind::parse(&self.kind)?;
        let date = parse_iso_date(&self.tx_date)?;
        let fiscal_year = match self.fiscal_year {
            Some(y) => Some(i32::try_from(y).ok()?),
            None => None,
        };
        let source_line = match self.source_line {
            Some(l) => Some(u64::try_from(l).ok()?),
            None => None,
        };
        let accounts_valid = self
            .postings
            .iter()
            .all(|p| Account::is_valid_name(&p.account));
        let one_line = !self.description.contains(['\t', '\n', '\r']);
        let amounts = self.postings.iter().map(|p| p.amount);
        if !(accounts_valid && one_line && is_valid_shape(&self.tx_id, amounts)) {
            return None;
        }
        Some(TxContent {
            tx_id: &self.tx_id,
            date,
            kind,
            description: &self.description,
            fiscal_year,
            doc_no: self.doc_no.as_deref(),
            voucher_no: self.voucher_no.as_deref(),
            region_code: self.region_code.as_deref(),
            project_code: self.project_code.as_deref(),
            source_file: self.source_file.as_deref(),
            source_line,
            details: self.details.as_deref(),
            postings: ContentPostings::Stored(&self.postings),
        })
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
    use crate::AccountKind;
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

    /// The canonical text of `e` from its borrowed content, and from the
    /// transaction rebuilt from it, at the same chain position.
    fn both_texts(e: &JournalEntry) -> (Option<Vec<u8>>, Option<Vec<u8>>) {
        let at = crate::tx::ChainAt {
            entry_no: e.entry_no,
            batch_id: e.batch_id,
            recorded_at: &e.recorded_at,
        };
        let text = |c: &TxContent<'_>| {
            let mut out = Vec::new();
            crate::tx::write_canonical_content(c, &at, &mut out);
            out
        };
        let lent = e.content().map(|c| text(&c));
        let rebuilt = e.to_transaction().ok().map(|tx| text(&tx.content()));
        (lent, rebuilt)
    }

    /// Lent where nothing needs rebuilding, with the rebuilt transaction's
    /// text; not lent where `to_transaction` refuses the entry or would
    /// change its text.
    #[test]
    fn an_entry_is_lent_exactly_where_nothing_needs_rebuilding() {
        let check = |tamper: fn(&mut JournalEntry), lent: bool, rebuilds: bool| {
            let mut e = entry();
            tamper(&mut e);
            let (by_content, by_tx) = both_texts(&e);
            assert_eq!(by_content.is_some(), lent, "lent: {e:?}");
            assert_eq!(by_tx.is_some(), rebuilds, "rebuilds: {e:?}");
            if lent {
                assert_eq!(by_content, by_tx, "{e:?}");
            }
        };
        check(|_| {}, true, true);
        check(
            |e| e.details = Some("vouchers|voucher_no=V1".into()),
            true,
            true,
        );
        check(|e| e.fiscal_year = None, true, true);
        check(|e| e.source_line = None, true, true);
        check(|e| e.kind = "gift".into(), false, false);
        check(|e| e.tx_date = "2020-02-30".into(), false, false);
        check(
            |e| e.postings[0].account = "no spaces  here".into(),
            false,
            false,
        );
        check(|e| e.postings[1].account = "a::b".into(), false, false);
        check(|e| e.postings[0].amount = Fen::new(101), false, false);
        check(|e| e.postings.truncate(1), false, false);
        check(|e| e.tx_id = String::new(), false, false);
        check(|e| e.tx_id = "a\tb".into(), false, false);
        check(
            |e| {
                e.postings[0].amount = Fen::new(0);
                e.postings[1].amount = Fen::new(0);
            },
            false,
            false,
        );
        // Rebuilt, but not as stored: the verdict is to_transaction's.
        check(|e| e.description = "two\nlines".into(), false, true);
        check(|e| e.description = "a\ttab".into(), false, true);
        check(
            |e| e.fiscal_year = Some(i64::from(i32::MAX) + 1),
            false,
            true,
        );
        check(|e| e.source_line = Some(-1), false, true);
    }

    fn text_of(choices: &'static [&'static str]) -> impl Strategy<Value = String> {
        proptest::sample::select(choices).prop_map(str::to_string)
    }

    /// `valid` three times in four, else one of `others`: most generated
    /// entries stay close to a stored one.
    fn mostly(valid: &'static str, others: &'static [&'static str]) -> BoxedStrategy<String> {
        prop_oneof![3 => Just(valid.to_string()), 1 => text_of(others)].boxed()
    }

    fn any_entry() -> impl Strategy<Value = JournalEntry> {
        let account = prop_oneof![
            6 => text_of(&[
                "disbursed:2020:430100:430121:JS02",
                "allocated:2020:430100:430121:JS02",
                "pool:2020:recovered",
                "carryover:out:2020:430100:430121:JS02",
                "carryover:in:2021:430100:430121:JS02",
                "appropriation:2020",
            ]),
            1 => text_of(&["a::b", " pool:2020", "x;y", "", "two  spaces"]),
        ];
        let amount = prop_oneof![
            1 => Just(0i64),
            4 => -3i64..3,
            1 => Just(i64::MAX),
            1 => Just(i64::MIN),
            4 => any::<i64>()
        ];
        let posting =
            (any::<i64>(), account, amount).prop_map(|(seq, account, amount)| StoredPosting {
                seq,
                account,
                amount: Fen::new(amount),
            });
        let balanced = proptest::collection::vec(posting, 0..5).prop_map(|mut ps| {
            // Mostly balanced, as stored entries are: the last posting
            // takes what the others leave, where that fits.
            let mut others = ps.iter().rev().skip(1).map(|p| p.amount.as_i64());
            let rest = others.try_fold(0i64, |sum, a| sum.checked_add(a));
            if let (Some(rest), Some(last)) = (rest.and_then(i64::checked_neg), ps.last_mut()) {
                last.amount = Fen::new(rest);
            }
            ps
        });
        let text = "[a-z \u{4e2d}\\:]{0,12}|[a-z\t\n\r]{0,4}";
        (
            (
                mostly("disbursement:V1", &["", "a\tb", "x\ny", "line\r1"]),
                mostly("2020-05-01", &["2020-02-30", "2020-5-1", ""]),
                prop_oneof![
                    3 => text_of(&["disbursement", "carryover", "recovery", "allocation"]),
                    1 => text_of(&["gift", ""]),
                ],
                text,
                proptest::option::of(prop_oneof![
                    4 => Just(2020i64),
                    1 => Just(i64::from(i32::MAX) + 1),
                    1 => any::<i64>()
                ]),
            ),
            (
                proptest::option::of(text),
                proptest::option::of(text),
                proptest::option::of(
                    prop_oneof![4 => Just(2i64), 1 => Just(-1i64), 1 => any::<i64>()],
                ),
                proptest::option::of(text),
                balanced,
            ),
        )
            .prop_map(
                |(
                    (tx_id, tx_date, kind, description, fiscal_year),
                    (doc_no, source_file, source_line, details, postings),
                )| {
                    JournalEntry {
                        entry_no: 9,
                        tx_id,
                        tx_date,
                        kind,
                        description,
                        fiscal_year,
                        doc_no,
                        voucher_no: Some("V1".into()),
                        region_code: None,
                        project_code: Some("JS02".into()),
                        source_file,
                        source_line,
                        details,
                        batch_id: 3,
                        recorded_at: "2026-01-01T00:00:00Z".into(),
                        prev_hash: String::new(),
                        hash: String::new(),
                        postings,
                    }
                },
            )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2048))]
        /// For any stored entry: lent exactly when it rebuilds with its
        /// text unchanged, and then with the rebuilt transaction's
        /// canonical text and account kinds.
        #[test]
        fn the_lent_content_is_the_rebuilt_transactions(e in any_entry()) {
            let (by_content, by_tx) = both_texts(&e);
            let unchanged = !e.description.contains(['\t', '\n', '\r'])
                && e.fiscal_year.is_none_or(|y| i32::try_from(y).is_ok())
                && e.source_line.is_none_or(|l| l >= 0);
            prop_assert_eq!(by_content.is_some(), by_tx.is_some() && unchanged);
            if let (Some(lent), Some(tx)) = (e.content(), e.to_transaction().ok()) {
                prop_assert_eq!(by_content, by_tx);
                let kinds: Vec<_> = lent.postings.iter().map(|(name, _)| AccountKind::of(name)).collect();
                let rebuilt: Vec<_> = tx.postings().iter().map(|p| p.account.kind()).collect();
                prop_assert_eq!(kinds, rebuilt);
                prop_assert_eq!(lent.kind, tx.kind());
            }
        }
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
