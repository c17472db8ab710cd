//! Raw rows from CSV or XLSX, before any column has a meaning.

use crate::cells::{cell_text, is_blank, normalise_header};
use crate::context::ReadOptions;
use crate::decode::{decode_error_of, detect_encoding, DecodingReader};
use crate::error::RowError;
use calamine::{Data, Reader as _, Xlsx};
use chrono::NaiveDate;
use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

/// One cell as read.
#[derive(Clone, Debug, PartialEq)]
pub enum CellValue {
    Empty,
    Text(String),
    /// xlsx numeric cell (calamine float or integer).
    Number(f64),
    /// xlsx date cell.
    Date(NaiveDate),
}

/// One row with its 1-based line (CSV: where the record starts) or sheet row (XLSX).
#[derive(Clone, Debug, PartialEq)]
pub struct RawRow {
    pub line: u64,
    pub cells: Vec<CellValue>,
}

impl RawRow {
    /// The cell at `index`, or `Empty` past the end (CSV records may be short).
    pub fn cell(&self, index: usize) -> &CellValue {
        const EMPTY: CellValue = CellValue::Empty;
        self.cells.get(index).unwrap_or(&EMPTY)
    }
}

/// How many non-blank lines may precede the header row (title, doc number, 单位).
pub const MAX_PREAMBLE_LINES: usize = 10;

type CsvSource = csv::Reader<LineCounter<DecodingReader<BufReader<File>>>>;

/// Counts physical lines of the decoded stream, because the csv crate's own
/// line numbers skip blank lines. Keeps the offsets of the newlines read ahead
/// of the current record only, so it is bounded by the csv buffer plus one record.
pub struct LineCounter<R> {
    inner: R,
    offset: u64,
    /// (offset of a `\n`, whether a `\r` precedes it)
    pending_newlines: VecDeque<(u64, bool)>,
    lines_before: u64,
    last_byte_cr: bool,
}

impl<R: Read> LineCounter<R> {
    fn new(inner: R) -> Self {
        LineCounter {
            inner,
            offset: 0,
            pending_newlines: VecDeque::new(),
            lines_before: 0,
            last_byte_cr: false,
        }
    }

    /// The 1-based physical line of a record the csv crate says starts at
    /// `byte_offset` (offsets must not decrease). The csv crate's start is the
    /// end of the previous record, so blank lines after it are skipped here.
    fn line_of(&mut self, byte_offset: u64) -> u64 {
        while self
            .pending_newlines
            .front()
            .is_some_and(|&(nl, _)| nl < byte_offset)
        {
            self.pending_newlines.pop_front();
            self.lines_before += 1;
        }
        let mut line_start = byte_offset;
        while let Some(&(nl, after_cr)) = self.pending_newlines.front() {
            let blank = nl == line_start || (after_cr && nl == line_start + 1);
            if !blank {
                break;
            }
            self.pending_newlines.pop_front();
            self.lines_before += 1;
            line_start = nl + 1;
        }
        self.lines_before + 1
    }
}

impl<R: Read> Read for LineCounter<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        for (i, &b) in buf[..n].iter().enumerate() {
            if b == b'\n' {
                let after_cr = self.last_byte_cr;
                self.pending_newlines
                    .push_back((self.offset + i as u64, after_cr));
            }
            self.last_byte_cr = b == b'\r';
        }
        self.offset += n as u64;
        Ok(n)
    }
}

enum RowSource {
    /// Streaming: one record at a time.
    Csv {
        reader: Box<CsvSource>,
        stopped: bool,
    },
    /// XLSX sheets are read whole by calamine; they are bounded by the sheet size.
    Buffered(std::vec::IntoIter<RawRow>),
}

/// An opened table: its preamble, its header row, and the data rows still to read.
pub struct Table {
    pub file: String,
    /// (line, text of the line's cells joined by `,`)
    pub preamble: Vec<(u64, String)>,
    pub header: RawRow,
    rows: RowSource,
}

/// Normalised texts of a row's cells (see `normalise_header`).
pub fn normalised_texts(row: &RawRow) -> Vec<String> {
    row.cells
        .iter()
        .map(|c| normalise_header(&cell_text(c)))
        .collect()
}

fn row_is_blank(row: &RawRow) -> bool {
    row.cells.iter().all(is_blank)
}

fn joined_text(row: &RawRow) -> String {
    let texts: Vec<String> = row.cells.iter().map(cell_text).collect();
    texts.join(",")
}

/// Is this file an XLSX workbook (by extension, or by ZIP magic bytes)?
fn is_xlsx(path: &Path) -> bool {
    let by_ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(|e| matches!(e.to_ascii_lowercase().as_str(), "xlsx" | "xlsm"))
        .unwrap_or(false);
    let mut magic = [0u8; 4];
    let by_magic = File::open(path)
        .and_then(|mut f| f.read_exact(&mut magic))
        .map(|_| &magic == b"PK\x03\x04")
        .unwrap_or(false);
    by_ext || by_magic
}

/// Open `path` (CSV or XLSX) and find its header: the first non-blank row, among
/// the first `MAX_PREAMBLE_LINES + 1`, whose normalised texts satisfy
/// `is_header`. `expected` describes such a header for the error message.
pub fn open_table(
    path: &Path,
    options: &ReadOptions,
    is_header: &dyn Fn(&[String]) -> bool,
    expected: &str,
) -> Result<Table, RowError> {
    let file = options.file_label.clone();
    let mut rows = if is_xlsx(path) {
        RowSource::Buffered(read_xlsx(path, options)?.into_iter())
    } else if let Some(sheet) = &options.sheet {
        return Err(RowError::file(
            &file,
            format!("--sheet {sheet} was given but this is a CSV file, not an XLSX workbook"),
        ));
    } else {
        RowSource::Csv {
            reader: Box::new(open_csv(path, options)?),
            stopped: false,
        }
    };
    let mut preamble = Vec::new();
    while preamble.len() <= MAX_PREAMBLE_LINES {
        let Some(row) = next_row(&mut rows, &file) else {
            break;
        };
        let row = row?;
        if is_header(&normalised_texts(&row)) {
            return Ok(Table {
                file,
                preamble,
                header: row,
                rows,
            });
        }
        preamble.push((row.line, joined_text(&row)));
    }
    Err(RowError::file(
        &file,
        format!(
            "no header row found in the first {} non-blank lines (expected {expected})",
            MAX_PREAMBLE_LINES + 1
        ),
    ))
}

impl Iterator for Table {
    type Item = Result<RawRow, RowError>;
    fn next(&mut self) -> Option<Self::Item> {
        next_row(&mut self.rows, &self.file)
    }
}

/// The next non-blank row.
fn next_row(rows: &mut RowSource, file: &str) -> Option<Result<RawRow, RowError>> {
    loop {
        let row = match rows {
            RowSource::Buffered(iter) => iter.next()?,
            RowSource::Csv { reader, stopped } => {
                if *stopped {
                    return None;
                }
                match read_csv_record(reader, file) {
                    Ok(Some(row)) => row,
                    Ok(None) => return None,
                    Err(e) => {
                        // After a decoding or I/O error the stream position is unknown.
                        *stopped = true;
                        return Some(Err(e));
                    }
                }
            }
        };
        if !row_is_blank(&row) {
            return Some(Ok(row));
        }
    }
}

fn open_csv(path: &Path, options: &ReadOptions) -> Result<CsvSource, RowError> {
    let file = &options.file_label;
    let open = || {
        File::open(path)
            .map(BufReader::new)
            .map_err(|e| RowError::file(file, format!("cannot open: {e}")))
    };
    drop(open()?); // a missing file is "cannot open", said before any scan
    let encoding = detect_encoding(options.encoding, || File::open(path).map(BufReader::new))
        .map_err(|e| RowError::file(file, format!("cannot read: {e}")))?;
    let decoded = DecodingReader::new(open()?, encoding);
    Ok(csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(LineCounter::new(decoded)))
}

fn read_csv_record(reader: &mut CsvSource, file: &str) -> Result<Option<RawRow>, RowError> {
    let mut record = csv::StringRecord::new();
    match reader.read_record(&mut record) {
        Ok(false) => Ok(None),
        Ok(true) => {
            let start = record.position().map_or(0, |p| p.byte());
            let line = reader.get_mut().line_of(start);
            let cells = record
                .iter()
                .map(|t| {
                    if t.trim().is_empty() {
                        CellValue::Empty
                    } else {
                        CellValue::Text(t.to_string())
                    }
                })
                .collect();
            Ok(Some(RawRow { line, cells }))
        }
        Err(e) => {
            let line = e
                .position()
                .map_or(0, |p| reader.get_mut().line_of(p.byte()));
            Err(csv_error(e, line, file))
        }
    }
}

fn csv_error(err: csv::Error, line: u64, file: &str) -> RowError {
    match err.into_kind() {
        csv::ErrorKind::Io(io) => match decode_error_of(&io) {
            Some(d) => RowError::at(file, d.line, None, d.to_string()),
            None => RowError::at(file, line, None, format!("cannot read: {io}")),
        },
        other => RowError::at(file, line, None, format!("malformed CSV: {other:?}")),
    }
}

fn read_xlsx(path: &Path, options: &ReadOptions) -> Result<Vec<RawRow>, RowError> {
    let file = &options.file_label;
    let handle = File::open(path).map_err(|e| RowError::file(file, format!("cannot open: {e}")))?;
    let mut workbook = Xlsx::new(BufReader::new(handle))
        .map_err(|e| RowError::file(file, format!("not a readable XLSX workbook: {e}")))?;
    let names = workbook.sheet_names();
    let sheet = match &options.sheet {
        Some(wanted) if names.iter().any(|n| n == wanted) => wanted.clone(),
        Some(wanted) => {
            return Err(RowError::file(
                file,
                format!(
                    "no sheet named `{wanted}`; the workbook has: {}",
                    names.join(", ")
                ),
            ))
        }
        None => names
            .first()
            .cloned()
            .ok_or_else(|| RowError::file(file, "the workbook has no sheets"))?,
    };
    let range = workbook
        .worksheet_range(&sheet)
        .map_err(|e| RowError::file(file, format!("cannot read sheet `{sheet}`: {e}")))?;
    let first_row = range.start().map_or(0, |(row, _)| row as u64);
    Ok(range
        .rows()
        .enumerate()
        .map(|(i, cells)| RawRow {
            line: first_row + i as u64 + 1,
            cells: cells.iter().map(xlsx_cell).collect(),
        })
        .collect())
}

/// One calamine (xlsx) cell as a `CellValue`. A date cell with a time of day
/// becomes text so that neither a date nor an amount parser accepts it.
fn xlsx_cell(cell: &Data) -> CellValue {
    match cell {
        Data::Empty => CellValue::Empty,
        Data::String(s) if s.trim().is_empty() => CellValue::Empty,
        Data::String(s) | Data::DateTimeIso(s) | Data::DurationIso(s) => CellValue::Text(s.clone()),
        // xlsx integer cell: exact in f64 for any plausible code or amount.
        Data::Int(i) => CellValue::Number(*i as f64),
        Data::Float(f) => CellValue::Number(*f),
        Data::Bool(b) => CellValue::Text(if *b { "TRUE" } else { "FALSE" }.to_string()),
        Data::Error(e) => CellValue::Text(format!("{e}")),
        Data::DateTime(dt) => {
            let (y, m, d, hh, mm, ss, ms) = dt.to_ymd_hms_milli();
            let midnight = (hh, mm, ss, ms) == (0, 0, 0, 0);
            match NaiveDate::from_ymd_opt(y.into(), m.into(), d.into()) {
                Some(date) if dt.is_datetime() && midnight => CellValue::Date(date),
                _ => CellValue::Text(format!(
                    "{y:04}-{m:02}-{d:02} {hh:02}:{mm:02}:{ss:02} (xlsx date-time)"
                )),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_csv(bytes: &[u8]) -> tempfile::NamedTempFile {
        let mut file = tempfile::Builder::new().suffix(".csv").tempfile().unwrap();
        std::io::Write::write_all(&mut file, bytes).unwrap();
        file
    }

    fn options() -> ReadOptions {
        ReadOptions {
            file_label: "t.csv".to_string(),
            ..ReadOptions::default()
        }
    }

    fn header_is_a(texts: &[String]) -> bool {
        texts.first().map(String::as_str) == Some("a")
    }

    fn lines_of(bytes: &[u8]) -> (Vec<(u64, String)>, u64, Vec<u64>) {
        let file = temp_csv(bytes);
        let table = open_table(file.path(), &options(), &header_is_a, "a header").unwrap();
        let preamble = table.preamble.clone();
        let header_line = table.header.line;
        let rows = table.map(|r| r.unwrap().line).collect();
        (preamble, header_line, rows)
    }

    #[test]
    fn physical_lines_with_crlf_blank_lines_and_quoted_newlines() {
        let text = "title\r\n\r\n单位：元\r\na,b\r\n1,2\r\n\r\n\r\n3,\"x\r\ny\"\r\n4,5\r\n,\r\n6,7";
        let (preamble, header, rows) = lines_of(text.as_bytes());
        assert_eq!(
            preamble,
            vec![(1, "title".to_string()), (3, "单位：元".to_string())]
        );
        assert_eq!(header, 4);
        // `,` on line 11 is a blank row and is skipped.
        assert_eq!(rows, vec![5, 8, 10, 12]);
    }

    #[test]
    fn header_must_come_within_ten_preamble_lines() {
        let mut text = "x\n".repeat(MAX_PREAMBLE_LINES);
        text.push_str("a,b\n1,2\n");
        assert_eq!(lines_of(text.as_bytes()).1, 11);
        let late = format!("x\n{text}");
        let file = temp_csv(late.as_bytes());
        let err = open_table(file.path(), &options(), &header_is_a, "a header")
            .err()
            .unwrap();
        assert!(
            err.to_string().starts_with("t.csv: no header row found"),
            "{err}"
        );
    }

    #[test]
    fn line_counter_stays_bounded_on_large_files() {
        let mut text = String::from("a,b\n");
        for i in 0..60_000 {
            text.push_str(&format!("{i},x\n"));
        }
        let file = temp_csv(text.as_bytes());
        let mut table = open_table(file.path(), &options(), &header_is_a, "a header").unwrap();
        let mut count = 0u64;
        let mut most_pending = 0;
        while let Some(row) = table.next() {
            count += 1;
            assert_eq!(row.unwrap().line, count + 1);
            if let RowSource::Csv { reader, .. } = &table.rows {
                most_pending = most_pending.max(reader.get_ref().pending_newlines.len());
            }
        }
        assert_eq!(count, 60_000);
        // Bounded by the read-ahead buffers, not by the 60,000 lines.
        assert!(most_pending < 6_000, "{most_pending}");
    }
}
