//! Writers for what auditors and other tools read: the hledger journal and
//! the posting-level audit trail CSV (with formula-injection guarding and a
//! running SHA-256 for the manifest).

use crate::csv_guard::{GuardedCsv, LineEnd};
use fundledger_core::journal::JournalEntry;
use fundledger_core::{Fen, MoneyError};
use sha2::{Digest, Sha256};
use std::io::{self, Write};

/// hledger reads `;` as a comment and needs two spaces before an amount;
/// descriptions and codes are kept on one line.
fn one_line(text: &str) -> String {
    text.replace(['\n', '\r', '\t'], " ")
}

/// One transaction in hledger journal syntax. Amounts are plain decimals in
/// yuan (no commodity), so `hledger balance` totals compare to the fen.
pub fn write_journal_entry(out: &mut impl Write, e: &JournalEntry) -> io::Result<()> {
    writeln!(
        out,
        "{} ({}) {}",
        e.tx_date,
        one_line(&e.tx_id).replace(')', "]"),
        one_line(&e.description)
    )?;
    writeln!(
        out,
        "    ; entry:{}, kind:{}, hash:{}",
        e.entry_no, e.kind, e.hash
    )?;
    let width = e
        .postings
        .iter()
        .map(|p| p.account.chars().count())
        .max()
        .unwrap_or(0);
    for p in &e.postings {
        let pad = width - p.account.chars().count();
        writeln!(
            out,
            "    {}{}  {:>14}",
            p.account,
            " ".repeat(pad),
            p.amount.to_string()
        )?;
    }
    writeln!(out)
}

/// The export's first lines: both heads, so the file itself says which
/// ledger state it is (`fundledger verify --expect-head CHAIN:SEAL`).
pub fn write_journal_header(
    out: &mut impl Write,
    head_hash: &str,
    seal_head: &str,
) -> io::Result<()> {
    writeln!(out, "; fundledger journal export (amounts in CNY yuan)")?;
    writeln!(out, "; chain head: {head_hash}")?;
    writeln!(out, "; seal head: {seal_head}")?;
    writeln!(out)
}

/// The trail's columns, in order.
pub(crate) const TRAIL_HEADER: [&str; 21] = [
    "entry_no",
    "posting_no",
    "tx_id",
    "date",
    "kind",
    "fiscal_year",
    "account",
    "debit",
    "credit",
    "doc_no",
    "voucher_no",
    "region_code",
    "project_code",
    "description",
    "source_file",
    "source_line",
    "batch_id",
    "recorded_at",
    "details",
    "prev_hash",
    "hash",
];

/// Trail columns written as they are (numbers, dates, kinds, timestamps and
/// hashes fundledger renders itself); every other cell passes the formula
/// guard.
const TRAIL_VERBATIM_COLUMNS: [usize; 12] = [0, 1, 3, 4, 5, 7, 8, 15, 16, 17, 19, 20];

/// An optional text cell: NULL is empty.
fn text(v: &Option<String>) -> &str {
    v.as_deref().unwrap_or("")
}

/// An optional number cell: NULL is empty.
fn opt(n: &Option<IntText>) -> &str {
    n.as_ref().map_or("", IntText::as_str)
}

/// An integer's decimal text (as `Display` writes it), on the stack.
struct IntText {
    /// `-9223372036854775808` is the longest: 20 bytes.
    buf: [u8; 20],
    start: usize,
}

impl IntText {
    fn new(value: i64) -> IntText {
        let mut buf = [0u8; 20];
        let mut at = buf.len();
        let mut rest = value.unsigned_abs();
        loop {
            at -= 1;
            buf[at] = b'0' + (rest % 10) as u8;
            rest /= 10;
            if rest == 0 {
                break;
            }
        }
        if value < 0 {
            at -= 1;
            buf[at] = b'-';
        }
        IntText { buf, start: at }
    }

    fn as_str(&self) -> &str {
        std::str::from_utf8(&self.buf[self.start..]).expect("digits and '-' are ASCII")
    }
}

/// A writer that hashes everything written through it.
pub struct HashingWriter<W: Write> {
    inner: W,
    hasher: Sha256,
    bytes: u64,
}

impl<W: Write> HashingWriter<W> {
    pub fn new(inner: W) -> Self {
        HashingWriter {
            inner,
            hasher: Sha256::new(),
            bytes: 0,
        }
    }
    pub fn finish(mut self) -> io::Result<(W, String, u64)> {
        self.inner.flush()?;
        Ok((self.inner, hex::encode(self.hasher.finalize()), self.bytes))
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrailTotals {
    pub rows: u64,
    pub entries: u64,
    pub debit: Fen,
    pub credit: Fen,
}

/// Streams trail rows; memory does not grow with the number of postings.
pub struct TrailWriter<W: Write> {
    csv: GuardedCsv<W>,
    totals: TrailTotals,
    /// The entry's cells, encoded once for all its rows: column 0, columns
    /// 2..=5, columns 9..=20 (the details and hashes are most of a row).
    entry_head: Vec<u8>,
    entry_middle: Vec<u8>,
    entry_tail: Vec<u8>,
    /// The posting's cells: column 1, columns 6..=8.
    posting_no: Vec<u8>,
    posting: Vec<u8>,
}

impl<W: Write> TrailWriter<W> {
    pub fn new(mut out: W, bom: bool) -> io::Result<Self> {
        if bom {
            out.write_all("\u{feff}".as_bytes())?;
        }
        let csv = GuardedCsv::new(out, LineEnd::CrLf, &TRAIL_HEADER, &TRAIL_VERBATIM_COLUMNS)?;
        Ok(TrailWriter {
            csv,
            totals: TrailTotals::default(),
            entry_head: Vec::new(),
            entry_middle: Vec::new(),
            entry_tail: Vec::new(),
            posting_no: Vec::new(),
            posting: Vec::new(),
        })
    }

    /// One row per posting. The numbers are rendered on the stack, the text
    /// cells guarded and quoted as they are encoded, and the entry's cells
    /// encoded once and copied onto each of its rows.
    pub fn write_entry(&mut self, e: &JournalEntry) -> io::Result<()> {
        self.encode_entry(e);
        for (i, p) in e.postings.iter().enumerate() {
            // Stored amounts are untrusted: a sum past i64 is an error, not a wrap.
            let overflow = |e: MoneyError| io::Error::new(io::ErrorKind::InvalidData, e);
            let (debit, credit) = if p.amount.is_negative() {
                (Fen::ZERO, p.amount.checked_neg().map_err(overflow)?)
            } else {
                (p.amount, Fen::ZERO)
            };
            self.totals.debit = self.totals.debit.checked_add(debit).map_err(overflow)?;
            self.totals.credit = self.totals.credit.checked_add(credit).map_err(overflow)?;
            let posting_no = IntText::new(i as i64 + 1);
            let (debit, credit) = (debit.yuan(), credit.yuan());
            self.posting_no.clear();
            self.csv
                .encode_cell(&mut self.posting_no, 1, posting_no.as_str());
            self.posting.clear();
            for (column, cell) in [
                (6, p.account.as_str()),
                (7, debit.as_str()),
                (8, credit.as_str()),
            ] {
                self.csv.encode_cell(&mut self.posting, column, cell);
            }
            self.csv.write_encoded(&[
                &self.entry_head,
                &self.posting_no,
                &self.entry_middle,
                &self.posting,
                &self.entry_tail,
            ])?;
            self.totals.rows += 1;
        }
        self.totals.entries += 1;
        Ok(())
    }

    /// Encodes the cells every row of `e` repeats.
    fn encode_entry(&mut self, e: &JournalEntry) {
        let entry_no = IntText::new(e.entry_no);
        let fiscal_year = e.fiscal_year.map(IntText::new);
        let source_line = e.source_line.map(IntText::new);
        let batch_id = IntText::new(e.batch_id);
        let encode = |csv: &GuardedCsv<W>, to: &mut Vec<u8>, first: usize, cells: &[&str]| {
            to.clear();
            for (column, cell) in (first..).zip(cells) {
                csv.encode_cell(to, column, cell);
            }
        };
        encode(&self.csv, &mut self.entry_head, 0, &[entry_no.as_str()]);
        encode(
            &self.csv,
            &mut self.entry_middle,
            2,
            &[&e.tx_id, &e.tx_date, &e.kind, opt(&fiscal_year)],
        );
        encode(
            &self.csv,
            &mut self.entry_tail,
            9,
            &[
                text(&e.doc_no),
                text(&e.voucher_no),
                text(&e.region_code),
                text(&e.project_code),
                &e.description,
                text(&e.source_file),
                opt(&source_line),
                batch_id.as_str(),
                &e.recorded_at,
                text(&e.details),
                &e.prev_hash,
                &e.hash,
            ],
        );
    }

    pub fn finish(self) -> io::Result<(W, TrailTotals)> {
        let totals = self.totals;
        let out = self.csv.into_inner()?;
        Ok((out, totals))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::csv_guard::{guard_cell, guard_record};
    use fundledger_core::journal::StoredPosting;
    use proptest::prelude::*;

    #[test]
    fn guards_every_formula_prefix() {
        let check = |input: &str, want: &str| assert_eq!(guard_cell(input), want, "{input:?}");
        check("=SUM(A1)", "'=SUM(A1)");
        check("+1", "'+1");
        check("-1", "'-1");
        check("@cmd", "'@cmd");
        check("\tx", "'\tx");
        check("\rx", "'\rx");
        check("湘财社指〔2020〕36号", "湘财社指〔2020〕36号");
        check("", "");
    }

    fn entry(postings: Vec<(&str, i64)>) -> JournalEntry {
        JournalEntry {
            entry_no: 1,
            tx_id: "=evil".into(),
            tx_date: "2020-03-20".into(),
            kind: "allocation".into(),
            description: "-desc".into(),
            fiscal_year: Some(2020),
            doc_no: Some("@doc".into()),
            voucher_no: None,
            region_code: Some("430100".into()),
            project_code: Some("JS01".into()),
            source_file: Some("+f.csv".into()),
            source_line: Some(3),
            details: None,
            batch_id: 1,
            recorded_at: "2026-01-01T00:00:00Z".into(),
            prev_hash: "0".repeat(64),
            hash: "a".repeat(64),
            postings: postings
                .into_iter()
                .zip(1..)
                .map(|((a, f), seq)| StoredPosting {
                    seq,
                    account: a.into(),
                    amount: Fen::new(f),
                })
                .collect(),
        }
    }

    #[test]
    fn trail_splits_debits_and_credits_and_guards_text_only() {
        let mut w = TrailWriter::new(Vec::new(), true).unwrap();
        w.write_entry(&entry(vec![
            ("allocated:2020:430100:430100:JS01", 150),
            ("pool:2020", -150),
        ]))
        .unwrap();
        let (bytes, totals) = w.finish().unwrap();
        assert_eq!(totals.debit, Fen::new(150));
        assert_eq!(totals.credit, Fen::new(150));
        assert_eq!(totals.rows, 2);
        let text = String::from_utf8(bytes).unwrap();
        assert!(text.starts_with('\u{feff}'));
        let second = text.lines().nth(2).unwrap();
        assert!(second.contains(",0.00,1.50,"), "{second}");
        assert!(
            second.contains(",'=evil,")
                && second.contains(",'@doc,")
                && second.contains(",'-desc,")
        );
        assert!(second.contains(",'+f.csv,"));
    }

    /// Every OWASP payload in every text column of the trail is guarded;
    /// the debit and credit cells are not.
    #[test]
    fn trail_guards_every_owasp_payload() {
        for p in crate::csv_guard::OWASP_PAYLOADS {
            let mut e = entry(vec![
                ("allocated:2020:430100:430100:JS01", -250),
                ("pool:2020", 250),
            ]);
            e.tx_id = p.into();
            e.description = p.into();
            e.doc_no = Some(p.into());
            e.voucher_no = Some(p.into());
            e.source_file = Some(p.into());
            e.details = Some(p.into());
            let mut w = TrailWriter::new(Vec::new(), false).unwrap();
            w.write_entry(&e).unwrap();
            let (bytes, _) = w.finish().unwrap();
            let mut r = csv::Reader::from_reader(bytes.as_slice());
            let header = r.headers().unwrap().clone();
            for rec in r.records() {
                let rec = rec.unwrap();
                for (h, cell) in header.iter().zip(rec.iter()) {
                    match h {
                        "debit" | "credit" => {
                            assert!(cell == "0.00" || cell == "2.50", "{h}: {cell}")
                        }
                        "tx_id" | "description" | "doc_no" | "voucher_no" | "source_file"
                        | "details" => {
                            assert_eq!(cell, format!("'{p}"), "{h}")
                        }
                        _ => assert!(
                            !crate::csv_guard::OWASP_PAYLOADS.contains(&cell),
                            "{h}: {cell:?}"
                        ),
                    }
                }
            }
        }
    }

    /// The trail row as first written (a `String` per cell, amounts
    /// through `rust_decimal`, every record through `write_record`): the
    /// oracle the borrowed-cell writer must match byte for byte, or every
    /// trail's sha256 would change.
    fn write_entry_as_first_written(
        csv: &mut csv::Writer<Vec<u8>>,
        e: &JournalEntry,
    ) -> io::Result<()> {
        let text = |v: &Option<String>| v.clone().unwrap_or_default();
        for (i, p) in e.postings.iter().enumerate() {
            let (debit, credit) = if p.amount.is_negative() {
                (Fen::ZERO, p.amount.checked_neg().unwrap())
            } else {
                (p.amount, Fen::ZERO)
            };
            let cells = [
                e.entry_no.to_string(),
                (i + 1).to_string(),
                e.tx_id.clone(),
                e.tx_date.clone(),
                e.kind.clone(),
                e.fiscal_year.map(|y| y.to_string()).unwrap_or_default(),
                p.account.clone(),
                debit.to_decimal_yuan().to_string(),
                credit.to_decimal_yuan().to_string(),
                text(&e.doc_no),
                text(&e.voucher_no),
                text(&e.region_code),
                text(&e.project_code),
                e.description.clone(),
                text(&e.source_file),
                e.source_line.map(|l| l.to_string()).unwrap_or_default(),
                e.batch_id.to_string(),
                e.recorded_at.clone(),
                text(&e.details),
                e.prev_hash.clone(),
                e.hash.clone(),
            ];
            csv.write_record(guard_record(&cells, &TRAIL_VERBATIM_COLUMNS))?;
        }
        Ok(())
    }

    fn cell() -> impl Strategy<Value = String> {
        "[a-z0-9 =+@,\"'\t\r\n;|\u{4e2d}\u{3014}-]{0,12}"
    }
    fn opt_cell() -> impl Strategy<Value = Option<String>> {
        proptest::option::of(cell())
    }

    prop_compose! {
        fn any_entry()(
            entry_no in any::<i64>(), tx_id in cell(), tx_date in cell(), kind in cell(),
            description in cell(), fiscal_year in proptest::option::of(any::<i64>()),
            doc_no in opt_cell(), voucher_no in opt_cell(), region_code in opt_cell(),
            project_code in opt_cell(), source_file in opt_cell(),
            source_line in proptest::option::of(any::<i64>()), details in opt_cell(),
            batch_id in any::<i64>(), recorded_at in cell(), prev_hash in cell(), hash in cell(),
            // Up to 3 entries of 3 postings: at a sixteenth of i64 each, no
            // running total the trail keeps can overflow.
            postings in proptest::collection::vec((cell(), -(i64::MAX / 16)..i64::MAX / 16), 0..4),
        ) -> JournalEntry {
            JournalEntry {
                entry_no, tx_id, tx_date, kind, description, fiscal_year, doc_no,
                voucher_no, region_code, project_code, source_file, source_line, details,
                batch_id, recorded_at, prev_hash, hash,
                postings: postings
                    .into_iter()
                    .zip(1..)
                    .map(|((account, f), seq)| StoredPosting { seq, account, amount: Fen::new(f) })
                    .collect(),
            }
        }
    }

    proptest! {
        #[test]
        fn trail_rows_are_written_as_first_written(entries in proptest::collection::vec(any_entry(), 1..4)) {
            let mut w = TrailWriter::new(Vec::new(), false).unwrap();
            // The `csv` crate's writer, as the trail was first written.
            let mut first = csv::WriterBuilder::new().terminator(csv::Terminator::CRLF).from_writer(Vec::new());
            first.write_record(TRAIL_HEADER).unwrap();
            for e in &entries {
                w.write_entry(e).unwrap();
                write_entry_as_first_written(&mut first, e).unwrap();
            }
            let (bytes, _) = w.finish().unwrap();
            prop_assert_eq!(bytes, first.into_inner().unwrap());
        }

        #[test]
        fn numbers_are_written_as_display_writes_them(n in any::<i64>()) {
            let text = IntText::new(n);
            prop_assert_eq!(text.as_str(), n.to_string());
        }
    }

    #[test]
    fn journal_entry_is_hledger_syntax() {
        let mut out = Vec::new();
        write_journal_entry(&mut out, &entry(vec![("a:b", 150), ("c", -150)])).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("2020-03-20 (=evil) -desc\n    ; entry:1, kind:allocation"));
        assert!(
            text.contains("\n    a:b            1.50\n    c             -1.50\n"),
            "{text}"
        );
    }

    #[test]
    fn hashing_writer_hashes_what_it_writes() {
        let mut w = HashingWriter::new(Vec::new());
        w.write_all(b"abc").unwrap();
        let (_, hash, n) = w.finish().unwrap();
        assert_eq!(n, 3);
        assert_eq!(
            hash,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
