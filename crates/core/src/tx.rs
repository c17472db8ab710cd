//! Double-entry transactions and the SHA-256 hash chain over them.

use crate::account::{Account, AccountNameError};
use crate::money::Fen;
use crate::text::first_byte_in;
use chrono::{Datelike, NaiveDate};
use sha2::{Digest, Sha256};
use std::fmt;

/// Transaction kinds of SPEC §3. The names are stable: stored and exported.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TxKind {
    Budget,
    Allocation,
    Adjustment,
    Disbursement,
    Refund,
    Carryover,
    Recovery,
    Reversal,
}

impl TxKind {
    pub const ALL: [TxKind; 8] = [
        TxKind::Budget,
        TxKind::Allocation,
        TxKind::Adjustment,
        TxKind::Disbursement,
        TxKind::Refund,
        TxKind::Carryover,
        TxKind::Recovery,
        TxKind::Reversal,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            TxKind::Budget => "budget",
            TxKind::Allocation => "allocation",
            TxKind::Adjustment => "adjustment",
            TxKind::Disbursement => "disbursement",
            TxKind::Refund => "refund",
            TxKind::Carryover => "carryover",
            TxKind::Recovery => "recovery",
            TxKind::Reversal => "reversal",
        }
    }
    pub fn parse(text: &str) -> Option<TxKind> {
        TxKind::ALL.into_iter().find(|k| k.as_str() == text)
    }
}

impl fmt::Display for TxKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One leg: positive `amount` is a debit, negative a credit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Posting {
    pub account: Account,
    pub amount: Fen,
}

/// What a transaction is about, for the trail and for auditors.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct TxMeta {
    pub fiscal_year: Option<i32>,
    pub doc_no: Option<String>,
    pub voucher_no: Option<String>,
    pub region_code: Option<String>,
    pub project_code: Option<String>,
    pub source_file: Option<String>,
    pub source_line: Option<u64>,
    /// Canonical `name=value;…` text of the domain record this transaction
    /// posts (voucher, indicator line, carry…). Hashed with the rest, so a
    /// changed domain row is caught by comparing it with its entry.
    pub details: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LedgerError {
    #[error("transaction {tx_id} has {count} posting(s); at least 2 are required")]
    TooFewPostings { tx_id: String, count: usize },
    #[error("transaction {tx_id} does not balance: postings sum to {sum} yuan")]
    Unbalanced { tx_id: String, sum: Fen },
    #[error("transaction {tx_id} has a zero posting to {account}")]
    ZeroPosting { tx_id: String, account: String },
    #[error("transaction {tx_id}: amounts overflow")]
    Overflow { tx_id: String },
    #[error("transaction id is empty or contains a tab or newline: {0:?}")]
    BadTxId(String),
    #[error(transparent)]
    AccountName(#[from] AccountNameError),
}

/// A balanced transaction. The only constructor checks the double-entry
/// invariant, so a value of this type always balances.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transaction {
    tx_id: String,
    date: NaiveDate,
    kind: TxKind,
    description: String,
    meta: TxMeta,
    postings: Vec<Posting>,
}

impl Transaction {
    /// `tx_id` is the transaction's natural key (e.g. `disbursement:GZ21041001`),
    /// unique in the ledger; it is what makes imports idempotent.
    pub fn new(
        tx_id: String,
        date: NaiveDate,
        kind: TxKind,
        description: String,
        meta: TxMeta,
        postings: Vec<Posting>,
    ) -> Result<Transaction, LedgerError> {
        let amounts = postings.iter().map(|p| p.amount);
        if let Some(problem) = shape_problem(&tx_id, amounts) {
            return Err(match problem {
                ShapeProblem::BadTxId => LedgerError::BadTxId(tx_id),
                ShapeProblem::TooFewPostings(count) => LedgerError::TooFewPostings { tx_id, count },
                ShapeProblem::ZeroPosting(i) => LedgerError::ZeroPosting {
                    account: postings[i].account.to_string(),
                    tx_id,
                },
                ShapeProblem::Overflow => LedgerError::Overflow { tx_id },
                ShapeProblem::Unbalanced(sum) => LedgerError::Unbalanced { tx_id, sum },
            });
        }
        Ok(Transaction {
            tx_id,
            date,
            kind,
            description: one_line(description),
            meta,
            postings,
        })
    }

    /// Two-legged transfer: debit `to`, credit `from`. Amount may be negative
    /// (an over-disbursed line carried forward), never zero.
    #[allow(clippy::too_many_arguments)]
    pub fn transfer(
        tx_id: String,
        date: NaiveDate,
        kind: TxKind,
        description: String,
        meta: TxMeta,
        debit: Account,
        credit: Account,
        amount: Fen,
    ) -> Result<Transaction, LedgerError> {
        let negated = amount.checked_neg().map_err(|_| LedgerError::Overflow {
            tx_id: tx_id.clone(),
        })?;
        let postings = vec![
            Posting {
                account: debit,
                amount,
            },
            Posting {
                account: credit,
                amount: negated,
            },
        ];
        Transaction::new(tx_id, date, kind, description, meta, postings)
    }

    /// The reversing transaction: every posting negated, same accounts.
    pub fn reversal(&self, tx_id: String, date: NaiveDate) -> Result<Transaction, LedgerError> {
        let postings = self
            .postings
            .iter()
            .map(|p| {
                Ok(Posting {
                    account: p.account.clone(),
                    amount: p.amount.checked_neg().map_err(|_| LedgerError::Overflow {
                        tx_id: tx_id.clone(),
                    })?,
                })
            })
            .collect::<Result<Vec<_>, LedgerError>>()?;
        let description = format!("reversal of {}", self.tx_id);
        Transaction::new(
            tx_id,
            date,
            TxKind::Reversal,
            description,
            self.meta.clone(),
            postings,
        )
    }

    pub fn tx_id(&self) -> &str {
        &self.tx_id
    }
    pub fn date(&self) -> NaiveDate {
        self.date
    }
    pub fn kind(&self) -> TxKind {
        self.kind
    }
    pub fn description(&self) -> &str {
        &self.description
    }
    pub fn meta(&self) -> &TxMeta {
        &self.meta
    }
    pub fn postings(&self) -> &[Posting] {
        &self.postings
    }
}

/// The first thing [`Transaction::new`] refuses in a transaction's id and
/// amounts, in the order it checks them.
enum ShapeProblem {
    BadTxId,
    TooFewPostings(usize),
    /// The index of the first zero posting.
    ZeroPosting(usize),
    Overflow,
    Unbalanced(Fen),
}

fn shape_problem(
    tx_id: &str,
    amounts: impl ExactSizeIterator<Item = Fen> + Clone,
) -> Option<ShapeProblem> {
    if tx_id.is_empty() || tx_id.contains(['\t', '\n', '\r']) {
        return Some(ShapeProblem::BadTxId);
    }
    if amounts.len() < 2 {
        return Some(ShapeProblem::TooFewPostings(amounts.len()));
    }
    if let Some(i) = amounts.clone().position(|a| a.is_zero()) {
        return Some(ShapeProblem::ZeroPosting(i));
    }
    match Fen::checked_sum(amounts) {
        Err(_) => Some(ShapeProblem::Overflow),
        Ok(sum) if !sum.is_zero() => Some(ShapeProblem::Unbalanced(sum)),
        Ok(_) => None,
    }
}

/// Whether [`Transaction::new`] accepts `tx_id` with postings of `amounts`
/// (their accounts aside), without building one.
pub(crate) fn is_valid_shape(
    tx_id: &str,
    amounts: impl ExactSizeIterator<Item = Fen> + Clone,
) -> bool {
    shape_problem(tx_id, amounts).is_none()
}

/// A transaction's content, borrowed: what its canonical text is written
/// from. [`Transaction::content`] lends a built transaction's;
/// `JournalEntry::content` lends a stored entry's without copying it
/// (`verify` reads every entry of the ledger).
#[derive(Clone, Copy, Debug)]
pub struct TxContent<'a> {
    pub tx_id: &'a str,
    pub date: NaiveDate,
    pub kind: TxKind,
    /// On one line: no tab or line break.
    pub description: &'a str,
    pub fiscal_year: Option<i32>,
    pub doc_no: Option<&'a str>,
    pub voucher_no: Option<&'a str>,
    pub region_code: Option<&'a str>,
    pub project_code: Option<&'a str>,
    pub source_file: Option<&'a str>,
    pub source_line: Option<u64>,
    pub details: Option<&'a str>,
    pub postings: ContentPostings<'a>,
}

/// The postings of a [`TxContent`]: a built transaction's, or a stored
/// entry's whose account names are valid.
#[derive(Clone, Copy, Debug)]
pub enum ContentPostings<'a> {
    Built(&'a [Posting]),
    Stored(&'a [crate::journal::StoredPosting]),
}

impl<'a> ContentPostings<'a> {
    /// Each posting's account name and amount, in order.
    pub fn iter(self) -> impl Iterator<Item = (&'a str, Fen)> + 'a {
        let (built, stored) = match self {
            ContentPostings::Built(built) => (built, &[][..]),
            ContentPostings::Stored(stored) => (&[][..], stored),
        };
        let built = built.iter().map(|p| (p.account.as_str(), p.amount));
        let stored = stored.iter().map(|p| (p.account.as_str(), p.amount));
        built.chain(stored)
    }
}

impl Transaction {
    /// This transaction's content, borrowed.
    pub fn content(&self) -> TxContent<'_> {
        let m = &self.meta;
        TxContent {
            tx_id: &self.tx_id,
            date: self.date,
            kind: self.kind,
            description: &self.description,
            fiscal_year: m.fiscal_year,
            doc_no: m.doc_no.as_deref(),
            voucher_no: m.voucher_no.as_deref(),
            region_code: m.region_code.as_deref(),
            project_code: m.project_code.as_deref(),
            source_file: m.source_file.as_deref(),
            source_line: m.source_line,
            details: m.details.as_deref(),
            postings: ContentPostings::Built(&self.postings),
        }
    }
}

/// Tabs and line breaks made spaces; no copy when there are none.
fn one_line(text: String) -> String {
    match text.contains(['\t', '\n', '\r']) {
        true => text.replace(['\t', '\n', '\r'], " "),
        false => text,
    }
}

/// What the store adds when it appends a transaction to the journal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainPosition {
    /// 1-based position in the journal; gapless.
    pub entry_no: i64,
    pub batch_id: i64,
    /// RFC 3339 time the store recorded it (supplied by the caller: no clock here).
    pub recorded_at: String,
}

/// The hash that precedes the first entry.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The canonical byte encoding of a transaction at a chain position:
/// one `name\tvalue` line per field in a fixed order, then one line per
/// posting. Values cannot contain tabs or newlines (escaped below), so the
/// encoding is unambiguous.
pub fn canonical_bytes(tx: &Transaction, pos: &ChainPosition) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    write_canonical(tx, pos, &mut out);
    out
}

/// [`canonical_bytes`] into `out` (cleared first), so that a caller hashing
/// many entries reuses one buffer. Written without a temporary per field:
/// this runs once per entry on every `verify`.
pub fn write_canonical(tx: &Transaction, pos: &ChainPosition, out: &mut Vec<u8>) {
    let at = ChainAt {
        entry_no: pos.entry_no,
        batch_id: pos.batch_id,
        recorded_at: &pos.recorded_at,
    };
    write_canonical_content(&tx.content(), &at, out);
}

/// A [`ChainPosition`], borrowed.
#[derive(Clone, Copy, Debug)]
pub struct ChainAt<'a> {
    pub entry_no: i64,
    pub batch_id: i64,
    pub recorded_at: &'a str,
}

/// [`write_canonical`] of a transaction's borrowed content: the one writer
/// of the canonical text, whichever form the content comes in.
pub fn write_canonical_content(c: &TxContent<'_>, at: &ChainAt<'_>, out: &mut Vec<u8>) {
    out.clear();
    field(out, "v", "fundledger-tx-1");
    number_field(out, "entry_no", at.entry_no);
    field(out, "tx_id", c.tx_id);
    out.extend_from_slice(b"date\t");
    push_iso_date(out, c.date);
    out.push(b'\n');
    field(out, "kind", c.kind.as_str());
    field(out, "description", c.description);
    opt_number_field(out, "fiscal_year", c.fiscal_year.map(i64::from));
    field(out, "doc_no", c.doc_no.unwrap_or(""));
    field(out, "voucher_no", c.voucher_no.unwrap_or(""));
    field(out, "region_code", c.region_code.unwrap_or(""));
    field(out, "project_code", c.project_code.unwrap_or(""));
    field(out, "source_file", c.source_file.unwrap_or(""));
    out.extend_from_slice(b"source_line\t");
    if let Some(line) = c.source_line {
        push_u64(out, line);
    }
    out.push(b'\n');
    field(out, "details", c.details.unwrap_or(""));
    number_field(out, "batch_id", at.batch_id);
    field(out, "recorded_at", at.recorded_at);
    for (account, amount) in c.postings.iter() {
        // `account amount`: the space and the digits need no escaping.
        out.extend_from_slice(b"posting\t");
        push_escaped(out, account);
        out.push(b' ');
        push_i64(out, amount.as_i64());
        out.push(b'\n');
    }
}

/// `name\tvalue\n`, the value escaped.
fn field(out: &mut Vec<u8>, name: &str, value: &str) {
    out.extend_from_slice(name.as_bytes());
    out.push(b'\t');
    push_escaped(out, value);
    out.push(b'\n');
}

fn number_field(out: &mut Vec<u8>, name: &str, value: i64) {
    out.extend_from_slice(name.as_bytes());
    out.push(b'\t');
    push_i64(out, value);
    out.push(b'\n');
}

/// An absent number is the empty value.
fn opt_number_field(out: &mut Vec<u8>, name: &str, value: Option<i64>) {
    match value {
        Some(v) => number_field(out, name, v),
        None => field(out, name, ""),
    }
}

/// `value` with `\`, tab, LF and CR written as `\\`, `\t`, `\n`, `\r`
/// (one pass; the same text as replacing them one after the other). The
/// runs between escapes are found a word at a time and copied whole: this
/// writes every text field of every entry on each `verify`. It is also
/// exactly the escaping of PostgreSQL's `COPY` text format, which the
/// store's PostgreSQL writer sends rows in.
pub fn push_escaped(out: &mut Vec<u8>, value: &str) {
    let mut rest = value.as_bytes();
    loop {
        let at = first_byte_in(rest, b"\\\t\n\r");
        out.extend_from_slice(&rest[..at]);
        let Some(&b) = rest.get(at) else {
            return;
        };
        out.extend_from_slice(match b {
            b'\\' => b"\\\\",
            b'\t' => b"\\t",
            b'\n' => b"\\n",
            _ => b"\\r",
        });
        rest = &rest[at + 1..];
    }
}

/// Decimal digits of `value`, as `Display` writes them.
pub fn push_i64(out: &mut Vec<u8>, value: i64) {
    if value < 0 {
        out.push(b'-');
    }
    push_u64(out, value.unsigned_abs());
}

fn push_u64(out: &mut Vec<u8>, value: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    let mut rest = value;
    loop {
        at -= 1;
        digits[at] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
}

/// `date` as chrono's `%Y-%m-%d` writes it, without parsing that format
/// string each time: `YYYY-MM-DD` for years 0 to 9999, chrono otherwise.
pub fn push_iso_date(out: &mut Vec<u8>, date: NaiveDate) {
    let year = date.year();
    if !(0..=9999).contains(&year) {
        out.extend_from_slice(date.format("%Y-%m-%d").to_string().as_bytes());
        return;
    }
    let two = |n: u32| [b'0' + (n / 10) as u8, b'0' + (n % 10) as u8];
    let year = year as u32;
    out.extend_from_slice(&two(year / 100));
    out.extend_from_slice(&two(year % 100));
    out.push(b'-');
    out.extend_from_slice(&two(date.month()));
    out.push(b'-');
    out.extend_from_slice(&two(date.day()));
}

/// A chain hash as lower-case hex, on the stack.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct HashHex([u8; 64]);

impl HashHex {
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).expect("hex digits are ASCII")
    }
}

impl fmt::Debug for HashHex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `hash = SHA-256(prev_hash_hex "\n" canonical_bytes)`, lower-case hex.
pub fn chain_hash(prev_hash: &str, canonical: &[u8]) -> String {
    chain_hash_hex(prev_hash, canonical).as_str().to_string()
}

/// [`chain_hash`] without allocating.
pub fn chain_hash_hex(prev_hash: &str, canonical: &[u8]) -> HashHex {
    let mut h = Sha256::new();
    h.update(prev_hash.as_bytes());
    h.update(b"\n");
    h.update(canonical);
    let mut out = [0u8; 64];
    hex::encode_to_slice(h.finalize(), &mut out).expect("32 bytes are 64 hex digits");
    HashHex(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn acct(name: &str) -> Account {
        Account::parse(name).unwrap()
    }
    fn day() -> NaiveDate {
        NaiveDate::from_ymd_opt(2020, 3, 20).unwrap()
    }
    fn tx(postings: Vec<(&str, i64)>) -> Result<Transaction, LedgerError> {
        let postings = postings
            .into_iter()
            .map(|(a, f)| Posting {
                account: acct(a),
                amount: Fen::new(f),
            })
            .collect();
        Transaction::new(
            "t:1".into(),
            day(),
            TxKind::Budget,
            "d".into(),
            TxMeta::default(),
            postings,
        )
    }

    #[test]
    fn rejects_what_double_entry_forbids() {
        assert!(matches!(
            tx(vec![("a", 1)]),
            Err(LedgerError::TooFewPostings { .. })
        ));
        assert!(matches!(
            tx(vec![("a", 1), ("b", -2)]),
            Err(LedgerError::Unbalanced { .. })
        ));
        assert!(matches!(
            tx(vec![("a", 0), ("b", 0)]),
            Err(LedgerError::ZeroPosting { .. })
        ));
        assert!(matches!(
            tx(vec![("a", i64::MAX), ("b", i64::MAX), ("c", 2)]),
            Err(LedgerError::Overflow { .. })
        ));
        assert!(tx(vec![("a", 5), ("b", -3), ("c", -2)]).is_ok());
    }

    #[test]
    fn reversal_negates_every_posting() {
        let t = tx(vec![("a", 5), ("b", -5)]).unwrap();
        let r = t.reversal("r:1".into(), day()).unwrap();
        assert_eq!(r.kind(), TxKind::Reversal);
        assert_eq!(r.postings()[0].amount, Fen::new(-5));
        assert_eq!(r.postings()[1].amount, Fen::new(5));
    }

    #[test]
    fn hash_covers_content_and_previous_hash() {
        let t = tx(vec![("a", 5), ("b", -5)]).unwrap();
        let pos = ChainPosition {
            entry_no: 1,
            batch_id: 1,
            recorded_at: "2026-01-01T00:00:00Z".into(),
        };
        let base = chain_hash(GENESIS_HASH, &canonical_bytes(&t, &pos));
        let other_prev = chain_hash(&"1".repeat(64), &canonical_bytes(&t, &pos));
        let t2 = tx(vec![("a", 6), ("b", -6)]).unwrap();
        let changed = chain_hash(GENESIS_HASH, &canonical_bytes(&t2, &pos));
        let moved = chain_hash(
            GENESIS_HASH,
            &canonical_bytes(
                &t,
                &ChainPosition {
                    entry_no: 2,
                    ..pos.clone()
                },
            ),
        );
        assert_eq!(base.len(), 64);
        assert_ne!(base, other_prev);
        assert_ne!(base, changed);
        assert_ne!(base, moved);
    }

    #[test]
    fn kinds_round_trip() {
        for k in TxKind::ALL {
            assert_eq!(TxKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(TxKind::parse("transfer"), None);
    }

    /// The encoding as first written (one `String` per field, `str::replace`
    /// per escape, chrono's `%Y-%m-%d`, `hex::encode`): the oracle the
    /// allocation-free one must match byte for byte, or every stored chain
    /// head would change.
    fn canonical_bytes_as_first_written(tx: &Transaction, pos: &ChainPosition) -> Vec<u8> {
        fn escape(value: &str) -> String {
            value
                .replace('\\', "\\\\")
                .replace('\t', "\\t")
                .replace('\n', "\\n")
                .replace('\r', "\\r")
        }
        fn opt<T: ToString>(v: Option<T>) -> String {
            v.map(|x| x.to_string()).unwrap_or_default()
        }
        let mut out = String::new();
        let mut field = |name: &str, value: &str| {
            out.push_str(name);
            out.push('\t');
            out.push_str(&escape(value));
            out.push('\n');
        };
        let m = &tx.meta;
        field("v", "fundledger-tx-1");
        field("entry_no", &pos.entry_no.to_string());
        field("tx_id", &tx.tx_id);
        field("date", &tx.date.format("%Y-%m-%d").to_string());
        field("kind", tx.kind.as_str());
        field("description", &tx.description);
        field("fiscal_year", &opt(m.fiscal_year));
        field("doc_no", m.doc_no.as_deref().unwrap_or(""));
        field("voucher_no", m.voucher_no.as_deref().unwrap_or(""));
        field("region_code", m.region_code.as_deref().unwrap_or(""));
        field("project_code", m.project_code.as_deref().unwrap_or(""));
        field("source_file", m.source_file.as_deref().unwrap_or(""));
        field("source_line", &opt(m.source_line));
        field("details", m.details.as_deref().unwrap_or(""));
        field("batch_id", &pos.batch_id.to_string());
        field("recorded_at", &pos.recorded_at);
        for p in &tx.postings {
            field("posting", &format!("{} {}", p.account, p.amount.as_i64()));
        }
        out.into_bytes()
    }

    #[test]
    fn a_pinned_entry_hashes_as_it_always_has() {
        let t = tx(vec![("a", 5), ("b", -5)]).unwrap();
        let pos = ChainPosition {
            entry_no: 1,
            batch_id: 1,
            recorded_at: "2026-01-01T00:00:00Z".into(),
        };
        let bytes = canonical_bytes(&t, &pos);
        assert_eq!(bytes, canonical_bytes_as_first_written(&t, &pos));
        let hex = hex::encode(Sha256::digest(
            [GENESIS_HASH.as_bytes(), b"\n", &bytes].concat(),
        ));
        assert_eq!(chain_hash(GENESIS_HASH, &bytes), hex);
        assert_eq!(chain_hash_hex(GENESIS_HASH, &bytes).as_str(), hex);
    }

    #[test]
    fn dates_are_written_as_chrono_writes_them() {
        let days = (-400i32..400)
            .chain(700_000..740_000)
            .chain(3_650_000..3_653_500)
            .step_by(7);
        for n in days {
            let date = NaiveDate::from_num_days_from_ce_opt(n).unwrap();
            let mut out = Vec::new();
            push_iso_date(&mut out, date);
            assert_eq!(out, date.format("%Y-%m-%d").to_string().into_bytes());
        }
    }

    /// Text with every character the encoding escapes.
    fn text() -> impl Strategy<Value = String> {
        "[a-z0-9 :;\\\\\t\n\r\u{4e2d}]{0,12}"
    }
    fn opt_text() -> impl Strategy<Value = Option<String>> {
        proptest::option::of(text())
    }
    /// Account names `Account::parse` accepts, with a backslash or CR in
    /// some (a CR only inside: a name is trimmed).
    fn account() -> impl Strategy<Value = Account> {
        "[a-z\u{4e2d}]([a-z\\\\\r]{0,4}[a-z\\\\])?(:[a-z0-9\\\\]{1,4}){0,2}"
            .prop_map(|a| Account::parse(&a).unwrap())
    }

    prop_compose! {
        fn any_tx()(
            tx_id in "[a-z0-9:; \\\\\u{4e2d}]{0,9}x", days in -100_000i32..4_000_000,
            kind in 0usize..8, description in text(),
            fiscal_year in proptest::option::of(any::<i32>()),
            doc_no in opt_text(), voucher_no in opt_text(), region_code in opt_text(),
            project_code in opt_text(), source_file in opt_text(),
            source_line in proptest::option::of(any::<u64>()), details in opt_text(),
            debits in proptest::collection::vec((account(), 1..i64::MAX / 8), 1..4),
            credit in account(),
        ) -> Transaction {
            let meta = TxMeta {
                fiscal_year, doc_no, voucher_no, region_code, project_code,
                source_file, source_line, details,
            };
            let total: i64 = debits.iter().map(|(_, a)| a).sum();
            let mut postings: Vec<Posting> = debits
                .into_iter()
                .map(|(account, f)| Posting { account, amount: Fen::new(f) })
                .collect();
            postings.push(Posting { account: credit, amount: Fen::new(-total) });
            let date = NaiveDate::from_num_days_from_ce_opt(days).unwrap();
            Transaction::new(tx_id, date, TxKind::ALL[kind], description, meta, postings).unwrap()
        }
    }

    proptest! {
        #[test]
        fn the_encoding_is_the_one_first_written(
            t in any_tx(), entry_no in any::<i64>(), batch_id in any::<i64>(), recorded_at in text(),
        ) {
            let pos = ChainPosition { entry_no, batch_id, recorded_at };
            let bytes = canonical_bytes(&t, &pos);
            prop_assert_eq!(&bytes, &canonical_bytes_as_first_written(&t, &pos));
            let mut reused = b"left over".to_vec();
            write_canonical(&t, &pos, &mut reused);
            prop_assert_eq!(&reused, &bytes);
        }

        /// The word-at-a-time escaper writes what the byte loop wrote, for
        /// texts long enough to span words, with escapes at any offset.
        #[test]
        fn escaping_is_the_byte_loop(value in "[a-z\\\\\t\n\r\u{1}\u{8}\u{b}\u{c}\u{e}\\[\\]\u{4e2d}\u{dc}~;=|]{0,40}") {
            let mut simple = Vec::new();
            for &b in value.as_bytes() {
                match b {
                    b'\\' => simple.extend_from_slice(b"\\\\"),
                    b'\t' => simple.extend_from_slice(b"\\t"),
                    b'\n' => simple.extend_from_slice(b"\\n"),
                    b'\r' => simple.extend_from_slice(b"\\r"),
                    _ => simple.push(b),
                }
            }
            let mut out = b"kept".to_vec();
            push_escaped(&mut out, &value);
            prop_assert_eq!(&out[..4], b"kept");
            prop_assert_eq!(&out[4..], &simple[..]);
        }

        #[test]
        fn descriptions_are_made_one_line_as_before(d in text()) {
            prop_assert_eq!(one_line(d.clone()), d.replace(['\t', '\n', '\r'], " "));
        }

        #[test]
        fn built_transactions_always_balance(amounts in proptest::collection::vec(-1_000_000_000i64..1_000_000_000, 1..8)) {
            let mut postings: Vec<(String, i64)> = amounts.iter().enumerate()
                .filter(|(_, a)| **a != 0)
                .map(|(i, a)| (format!("x:{i}"), *a)).collect();
            let total: i64 = postings.iter().map(|(_, a)| a).sum();
            if total != 0 { postings.push(("balance".into(), -total)); }
            let refs = postings.iter().map(|(a, f)| (a.as_str(), *f)).collect();
            if let Ok(t) = tx(refs) {
                let sum: i64 = t.postings().iter().map(|p| p.amount.as_i64()).sum();
                prop_assert_eq!(sum, 0);
            }
        }
    }
}
