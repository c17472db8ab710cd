//! Raw rows from CSV or XLSX, before any column has a meaning.

use crate::cells::{cell_text, is_blank, normalise_header, parse_amount_text, parse_date_text};
use crate::context::ReadOptions;
use crate::decode::{decode_error_of, DecodingReader};
use crate::error::RowError;
use crate::input::{open_input, Body, Container, HashingReader, Input};
use crate::limits::{shown, MAX_CELL_BYTES, MAX_COLUMNS, MAX_RECORD_BYTES};
use calamine::Data;
use chrono::NaiveDate;
use fundledger_core::Unit;
use std::collections::VecDeque;
use std::fs::File;
use std::io::Read;
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
pub(crate) const MAX_PREAMBLE_LINES: usize = 10;

type CsvSource = csv::Reader<LineCounter<DecodingReader<HashingReader<File>>>>;

/// A CSV record longer than `MAX_RECORD_BYTES`, found while reading it.
#[derive(Debug)]
struct RecordTooLong {
    line: u64,
}

impl std::fmt::Display for RecordTooLong {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "a record longer than {} KB (the limit; is a quote left open?)",
            MAX_RECORD_BYTES / 1024
        )
    }
}

impl std::error::Error for RecordTooLong {}

/// CSV quoting as the csv crate reads it, so the record-length guard
/// resets at the same line ends: `"` opens a quoted field only at a field's
/// start (`5"` inside a field is a literal), and `""` inside quotes is an
/// escaped quote.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum QuoteState {
    FieldStart,
    Unquoted,
    Quoted,
    /// A `"` inside a quoted field: it closed the field, or a second `"` follows.
    QuoteInQuoted,
}

impl QuoteState {
    /// The state after byte `b` (a line end outside quotes is handled by the caller).
    fn after(self, b: u8) -> QuoteState {
        match (self, b) {
            (QuoteState::FieldStart, b'"') => QuoteState::Quoted,
            (QuoteState::Quoted, b'"') => QuoteState::QuoteInQuoted,
            (QuoteState::Quoted, _) => QuoteState::Quoted,
            (QuoteState::QuoteInQuoted, b'"') => QuoteState::Quoted,
            (_, b',') => QuoteState::FieldStart,
            _ => QuoteState::Unquoted,
        }
    }
}

/// A run of consecutive newlines: `count` of them, the first at `first`,
/// each `stride` bytes after the previous (1 for `\n\n`, 2 for `\r\n\r\n`).
#[derive(Clone, Copy, Debug)]
struct NewlineRun {
    first: u64,
    count: u64,
    after_cr: bool,
}

impl NewlineRun {
    fn stride(&self) -> u64 {
        if self.after_cr {
            2
        } else {
            1
        }
    }
    fn last(&self) -> u64 {
        self.first + (self.count - 1) * self.stride()
    }
}

/// Counts physical lines of the decoded stream, because the csv crate's own
/// line numbers skip blank lines. Keeps the newlines read ahead of the
/// current record only, with consecutive ones as a single run, so a flood of
/// blank lines costs one entry. It also refuses a record longer than
/// `MAX_RECORD_BYTES` before the csv crate buffers it.
pub(crate) struct LineCounter<R> {
    inner: R,
    offset: u64,
    pending_newlines: VecDeque<NewlineRun>,
    lines_before: u64,
    last_byte_cr: bool,
    /// Whether `"` quotes (CSV) or is plain text (tab-separated).
    quoting: bool,
    /// Where in a record the last byte left us, as the csv crate reads it.
    quote_state: QuoteState,
    record_bytes: usize,
    newlines_seen: u64,
    record_first_line: u64,
}

impl<R: Read> LineCounter<R> {
    fn new(inner: R, quoting: bool) -> Self {
        LineCounter {
            inner,
            offset: 0,
            pending_newlines: VecDeque::new(),
            lines_before: 0,
            last_byte_cr: false,
            quoting,
            quote_state: QuoteState::FieldStart,
            record_bytes: 0,
            newlines_seen: 0,
            record_first_line: 1,
        }
    }

    /// The 1-based physical line of a record the csv crate says starts at
    /// `byte_offset` (offsets must not decrease). The csv crate's start is the
    /// end of the previous record, so blank lines after it are skipped here.
    fn line_of(&mut self, byte_offset: u64) -> u64 {
        while let Some(run) = self.pending_newlines.front_mut() {
            if run.first >= byte_offset {
                break;
            }
            let before = ((byte_offset - run.first - 1) / run.stride() + 1).min(run.count);
            self.lines_before += before;
            run.first += before * run.stride();
            run.count -= before;
            if run.count > 0 {
                break;
            }
            self.pending_newlines.pop_front();
        }
        let mut line_start = byte_offset;
        while let Some(&run) = self.pending_newlines.front() {
            let nl = run.first;
            let blank = nl == line_start || (run.after_cr && nl == line_start + 1);
            if !blank {
                break;
            }
            // Every newline of a run after a blank line ends a blank line too.
            self.pending_newlines.pop_front();
            self.lines_before += run.count;
            line_start = run.last() + 1;
        }
        self.lines_before + 1
    }

    fn note_newline(&mut self, at: u64) {
        let after_cr = self.last_byte_cr;
        if let Some(run) = self.pending_newlines.back_mut() {
            if run.after_cr == after_cr && run.last() + run.stride() == at {
                run.count += 1;
                return;
            }
        }
        self.pending_newlines.push_back(NewlineRun {
            first: at,
            count: 1,
            after_cr,
        });
    }
}

impl<R: Read> Read for LineCounter<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        for (i, &b) in buf[..n].iter().enumerate() {
            let in_quotes = self.quoting && self.quote_state == QuoteState::Quoted;
            if b == b'\n' {
                self.note_newline(self.offset + i as u64);
                self.newlines_seen += 1;
                if !in_quotes {
                    self.quote_state = QuoteState::FieldStart;
                    self.record_bytes = 0;
                    self.record_first_line = self.newlines_seen + 1;
                    self.last_byte_cr = false;
                    continue;
                }
            }
            self.quote_state = self.quote_state.after(b);
            self.record_bytes += 1;
            if self.record_bytes > MAX_RECORD_BYTES {
                let err = RecordTooLong {
                    line: self.record_first_line,
                };
                return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, err));
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
        /// The hash of the first pass: the parse pass must read the same bytes.
        expected_sha256: String,
    },
    /// Sheets and HTML tables are read whole, within the limits.
    Buffered(std::vec::IntoIter<RawRow>),
}

/// An opened table: its preamble, its header row, and the data rows still to read.
pub struct Table {
    pub file: String,
    /// (line, text of the line's cells joined by `,`)
    pub preamble: Vec<(u64, String)>,
    /// The header; when it spans two or three rows, the column names built
    /// from them (line: the first header row's).
    pub header: RawRow,
    /// Rows read ahead while looking for a second header row.
    ahead: VecDeque<RawRow>,
    rows: RowSource,
}

/// Normalised texts of a row's cells (see `normalise_header`).
pub(crate) fn normalised_texts(row: &RawRow) -> Vec<String> {
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

/// What a layout's header looks like.
pub(crate) struct HeaderRule<'a> {
    /// Is this row (normalised texts) the layout's header?
    pub is_header: &'a dyn Fn(&[String]) -> bool,
    /// Columns of a header that a second header row must leave blank (the
    /// region or document column, merged down over both rows).
    pub key_columns: &'a dyn Fn(&[String]) -> Vec<usize>,
    /// Such a header, described for the error message.
    pub expected: &'a str,
}

/// Open `path` (any container) and find its header, see `open_input_table`.
pub fn open_table(
    path: &Path,
    options: &ReadOptions,
    is_header: &dyn Fn(&[String]) -> bool,
    expected: &str,
) -> Result<Table, RowError> {
    let input = open_input(path, &options.file_label, options.encoding)?;
    let no_keys = |_: &[String]| Vec::new();
    let rule = HeaderRule {
        is_header,
        key_columns: &no_keys,
        expected,
    };
    open_input_table(input, options, &rule)
}

/// Find the header of an opened input: the first non-blank row, among the
/// first `MAX_PREAMBLE_LINES + 1`, that the rule recognises, in the sheet
/// given by `--sheet` or else the one sheet that has such a row.
pub(crate) fn open_input_table(
    input: Input,
    options: &ReadOptions,
    rule: &HeaderRule,
) -> Result<Table, RowError> {
    let file = options.file_label.clone();
    let container = input.container;
    let expected_sha256 = input.sha256().to_string();
    match input.body {
        Body::Text {
            file: handle,
            encoding,
        } => {
            if let Some(sheet) = &options.sheet {
                return Err(RowError::file(
                    &file,
                    format!(
                        "--sheet {sheet} was given but this is {}, not a workbook",
                        container.describe()
                    ),
                ));
            }
            let reader = open_csv(handle, encoding, container == Container::Tsv);
            let rows = RowSource::Csv {
                reader: Box::new(reader),
                stopped: false,
                expected_sha256,
            };
            find_header(rows, &file, rule)?.map_err(|_| no_header(&file, rule))
        }
        Body::Bytes(bytes) => {
            let book = crate::sheets::Book::open(container, bytes, options.encoding)
                .map_err(|m| RowError::file(&file, m))?;
            choose_sheet(book, options, rule)
        }
    }
}

fn no_header(file: &str, rule: &HeaderRule) -> RowError {
    RowError::file(
        file,
        format!(
            "no header row found in the first {} non-blank lines (expected {})",
            MAX_PREAMBLE_LINES + 1,
            rule.expected
        ),
    )
}

/// The sheet named by `--sheet`, or the only sheet, or the one sheet whose
/// first rows hold a recognised header.
fn choose_sheet(
    mut book: crate::sheets::Book,
    options: &ReadOptions,
    rule: &HeaderRule,
) -> Result<Table, RowError> {
    let file = &options.file_label;
    let names = book.sheet_names();
    let mut load = |name: &str| -> Result<RowSource, RowError> {
        let rows = book
            .load(name)
            .map_err(|m| RowError::file(file, format!("sheet `{name}`: {m}")))?;
        Ok(RowSource::Buffered(rows.into_iter()))
    };
    let wanted = match (&options.sheet, names.as_slice()) {
        (Some(wanted), _) if names.iter().any(|n| n == wanted) => Some(wanted.clone()),
        (Some(wanted), _) => {
            return Err(RowError::file(
                file,
                format!(
                    "no sheet named `{wanted}`; the workbook has: {}",
                    names.join(", ")
                ),
            ))
        }
        (None, []) => return Err(RowError::file(file, "the workbook has no sheets")),
        (None, [only]) => Some(only.clone()),
        (None, _) => None,
    };
    if let Some(name) = wanted {
        return find_header(load(&name)?, file, rule)?.map_err(|_| no_header(file, rule));
    }
    let mut found: Option<Table> = None;
    let mut with_header = Vec::new();
    for name in &names {
        if let Ok(table) = find_header(load(name)?, file, rule)? {
            with_header.push(format!("`{name}`"));
            found.get_or_insert(table);
        }
    }
    match (found, with_header.len()) {
        (Some(table), 1) => Ok(table),
        (Some(_), _) => Err(RowError::file(
            file,
            format!(
                "sheets {} each hold a recognised header: choose one with --sheet NAME",
                with_header.join(", ")
            ),
        )),
        (None, _) => Err(RowError::file(
            file,
            format!(
                "no sheet has a header row in its first {} non-blank lines (looked at: {}; expected {})",
                MAX_PREAMBLE_LINES + 1,
                names.join(", "),
                rule.expected
            ),
        )),
    }
}

/// Reads the preamble and the header (one to three rows) from `rows`.
/// `Ok(Err(()))`: no header within the preamble limit.
fn find_header(
    mut rows: RowSource,
    file: &str,
    rule: &HeaderRule,
) -> Result<Result<Table, ()>, RowError> {
    let mut preamble = Vec::new();
    while preamble.len() <= MAX_PREAMBLE_LINES {
        let Some(row) = next_row(&mut rows, file) else {
            break;
        };
        let row = row?;
        let normalised = normalised_texts(&row);
        if (rule.is_header)(&normalised) {
            let keys = (rule.key_columns)(&normalised);
            let mut table = Table {
                file: file.to_string(),
                preamble,
                header: row,
                ahead: VecDeque::new(),
                rows,
            };
            table.stack_header_rows(&keys)?;
            return Ok(Ok(table));
        }
        preamble.push((row.line, joined_text(&row)));
    }
    Ok(Err(()))
}

/// Rows of a header beyond its first (a merged group heading over the
/// project columns makes a second row, sometimes a third).
const MAX_EXTRA_HEADER_ROWS: usize = 2;

impl Table {
    /// Absorbs the second and third header rows, if any, into `header`.
    fn stack_header_rows(&mut self, keys: &[usize]) -> Result<(), RowError> {
        let mut extra = Vec::new();
        while extra.len() < MAX_EXTRA_HEADER_ROWS {
            let Some(row) = next_row(&mut self.rows, &self.file) else {
                break;
            };
            let row = row?;
            if !is_header_continuation(&self.header, &row, keys) {
                self.ahead.push_back(row);
                break;
            }
            extra.push(row);
        }
        if !extra.is_empty() {
            self.header = stacked_header(&self.header, &extra);
        }
        Ok(())
    }
}

/// A row under the header is more header when it has text only (no amount,
/// no date, no number), leaves the key columns blank (they are merged down)
/// and names something under a blank or grouping cell of the row above.
fn is_header_continuation(header: &RawRow, row: &RawRow, keys: &[usize]) -> bool {
    if keys.is_empty() || keys.iter().any(|&k| !is_blank(row.cell(k))) {
        return false;
    }
    let mut any = false;
    for cell in &row.cells {
        match cell {
            CellValue::Empty => {}
            CellValue::Text(t) if t.trim().is_empty() => {}
            CellValue::Text(t) => {
                let t = t.trim();
                let numeric = parse_amount_text(t, Unit::Yuan).is_ok()
                    || parse_amount_text(t, Unit::Wan).is_ok()
                    || parse_date_text(t).is_ok();
                if numeric {
                    return false;
                }
                any = true;
            }
            CellValue::Number(_) | CellValue::Date(_) => return false,
        }
    }
    any && !header.cells.is_empty()
}

/// Column names from stacked header rows: each column takes its lowest
/// non-blank cell (a group heading such as `其中：项目资金` above the project
/// names is a grouping, not a column), except that a bare unit such as
/// `（万元）` under a name is appended to it.
fn stacked_header(first: &RawRow, extra: &[RawRow]) -> RawRow {
    let width = extra
        .iter()
        .map(|r| r.cells.len())
        .chain([first.cells.len()])
        .max()
        .unwrap_or(0);
    let cells = (0..width)
        .map(|col| {
            let mut name = String::new();
            for row in std::iter::once(first).chain(extra) {
                let text = cell_text(row.cell(col));
                if text.is_empty() {
                    continue;
                }
                let unit_only = matches!(
                    normalise_header(&text).as_str(),
                    "(元)" | "(万元)" | "单位:元" | "单位:万元"
                );
                if unit_only && !name.is_empty() {
                    let unit = normalise_header(&text).replace("单位:", "");
                    let unit = if unit.starts_with('(') {
                        unit
                    } else {
                        format!("({unit})")
                    };
                    name.push_str(&unit);
                } else {
                    name = text;
                }
            }
            if name.is_empty() {
                CellValue::Empty
            } else {
                CellValue::Text(name)
            }
        })
        .collect();
    RawRow {
        line: first.line,
        cells,
    }
}

impl Iterator for Table {
    type Item = Result<RawRow, RowError>;
    fn next(&mut self) -> Option<Self::Item> {
        if let Some(row) = self.ahead.pop_front() {
            return Some(Ok(row));
        }
        next_row(&mut self.rows, &self.file)
    }
}

/// The next non-blank row.
fn next_row(rows: &mut RowSource, file: &str) -> Option<Result<RawRow, RowError>> {
    loop {
        let row = match rows {
            RowSource::Buffered(iter) => iter.next()?,
            RowSource::Csv {
                reader,
                stopped,
                expected_sha256,
            } => {
                if *stopped {
                    return None;
                }
                match read_csv_record(reader, file) {
                    Ok(Some(row)) => row,
                    Ok(None) => {
                        *stopped = true;
                        return changed_while_read(reader, expected_sha256, file).map(Err);
                    }
                    Err((e, fatal)) => {
                        // After a decoding or I/O error the stream position is unknown.
                        *stopped = fatal;
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

/// At the end of a text table: the bytes parsed must be the bytes hashed.
fn changed_while_read(reader: &mut CsvSource, expected: &str, file: &str) -> Option<RowError> {
    let parsed = reader.get_ref().inner.get_ref().hex_digest();
    (parsed != expected).then(|| {
        RowError::file(
            file,
            "the file changed while it was being read; import it again once it is complete",
        )
    })
}

fn open_csv(file: File, encoding: &'static encoding_rs::Encoding, tabs: bool) -> CsvSource {
    let decoded = DecodingReader::new(HashingReader::new(file), encoding);
    csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(if tabs { b'\t' } else { b',' })
        .quoting(!tabs)
        .from_reader(LineCounter::new(decoded, !tabs))
}

/// A record as a row. `Err((error, fatal))`: fatal when reading cannot go on.
fn read_csv_record(reader: &mut CsvSource, file: &str) -> Result<Option<RawRow>, (RowError, bool)> {
    let mut record = csv::StringRecord::new();
    match reader.read_record(&mut record) {
        Ok(false) => Ok(None),
        Ok(true) => {
            let start = record.position().map_or(0, |p| p.byte());
            let line = reader.get_mut().line_of(start);
            check_record(&record, line, file).map_err(|e| (e, false))?;
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
            Err((csv_error(e, line, file), true))
        }
    }
}

/// The per-record limits: columns, and bytes per cell.
fn check_record(record: &csv::StringRecord, line: u64, file: &str) -> Result<(), RowError> {
    if record.len() > MAX_COLUMNS {
        return Err(RowError::at(
            file,
            line,
            None,
            format!(
                "{} columns, more than the limit of {MAX_COLUMNS}",
                record.len()
            ),
        ));
    }
    match record.iter().position(|t| t.len() > MAX_CELL_BYTES) {
        Some(col) => Err(RowError::at(
            file,
            line,
            None,
            format!(
                "column {}: a cell of {} bytes, more than the limit of {MAX_CELL_BYTES}: `{}`",
                col + 1,
                record[col].len(),
                shown(&record[col])
            ),
        )),
        None => Ok(()),
    }
}

fn csv_error(err: csv::Error, line: u64, file: &str) -> RowError {
    match err.into_kind() {
        csv::ErrorKind::Io(io) => {
            if let Some(d) = decode_error_of(&io) {
                return RowError::at(file, d.line, None, d.to_string());
            }
            match io.get_ref().and_then(|e| e.downcast_ref::<RecordTooLong>()) {
                Some(long) => RowError::at(file, long.line, None, long.to_string()),
                None => RowError::at(file, line, None, format!("cannot read: {io}")),
            }
        }
        other => RowError::at(file, line, None, format!("malformed CSV: {other:?}")),
    }
}

/// One calamine (xlsx) cell as a `CellValue`. A date cell with a time of day
/// becomes text so that neither a date nor an amount parser accepts it.
pub(crate) fn xlsx_cell(cell: &Data) -> CellValue {
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
    use crate::context::EncodingChoice;

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

    fn header_rule_table(bytes: &[u8]) -> Result<Table, RowError> {
        let file = temp_csv(bytes);
        let input = open_input(file.path(), "t.csv", EncodingChoice::Auto)?;
        let is_wide = |t: &[String]| t.iter().any(|c| c == "地区");
        let keys = |t: &[String]| {
            t.iter()
                .enumerate()
                .filter(|(_, c)| *c == "地区" || *c == "合计")
                .map(|(i, _)| i)
                .collect()
        };
        let rule = HeaderRule {
            is_header: &is_wide,
            key_columns: &keys,
            expected: "a wide header",
        };
        open_input_table(input, &options(), &rule)
    }

    fn texts(row: &RawRow) -> Vec<String> {
        row.cells.iter().map(cell_text).collect()
    }

    #[test]
    fn quote_state_follows_the_csv_crate() {
        let end_state = |text: &str| {
            text.bytes()
                .fold(QuoteState::FieldStart, |state, b| state.after(b))
        };
        // A stray inch mark inside a field is a literal, not an open quote.
        assert_eq!(end_state("a,5\" screen"), QuoteState::Unquoted);
        assert_eq!(end_state("a,\"x,\"\"y"), QuoteState::Quoted);
        assert_eq!(end_state("a,\"x\"\"y\""), QuoteState::QuoteInQuoted);
        assert_eq!(end_state("\"x\","), QuoteState::FieldStart);
        // So a file full of such fields is never taken for one long record.
        let mut text = String::from("a,b\n");
        for i in 0..20_000 {
            text.push_str(&format!("{i},5\" screen with a long description\n"));
        }
        let (_, _, rows) = lines_of(text.as_bytes());
        assert_eq!(rows.len(), 20_000);
    }

    #[test]
    fn stacked_header_rows_become_column_names() {
        let check = |text: &str, want_header: &[&str], want_first_row: (u64, &str)| {
            let mut table = header_rule_table(text.as_bytes()).unwrap();
            assert_eq!(texts(&table.header), want_header, "{text}");
            let first = table.next().unwrap().unwrap();
            assert_eq!(
                (first.line, cell_text(first.cell(1)).as_str()),
                want_first_row
            );
        };
        // Two rows: a group heading over the projects is not a column.
        check(
            "单位：万元\n序号,地区,合计,其中：项目资金,\n,,,计生保险,三结合\n1,长沙市,3.00,1.00,2.00\n",
            &["序号", "地区", "合计", "计生保险", "三结合"],
            (4, "长沙市"),
        );
        // Three rows.
        check(
            "序号,地区,合计,项目资金,\n,,,其中,\n,,,计生保险,三结合\n,合计,3.00,1.00,2.00\n",
            &["序号", "地区", "合计", "计生保险", "三结合"],
            (4, "合计"),
        );
        // A bare unit under a name is appended to it.
        check(
            "序号,地区,合计,计生保险,三结合\n,,,（万元）,（万元）\n,合计,3.00,1.00,2.00\n",
            &["序号", "地区", "合计", "计生保险(万元)", "三结合(万元)"],
            (3, "合计"),
        );
        // A data row with amounts, or with a region, is never header.
        check(
            "序号,地区,合计,计生保险\n,长沙市,,\n",
            &["序号", "地区", "合计", "计生保险"],
            (2, "长沙市"),
        );
        check(
            "序号,地区,合计,计生保险\n,,1.00,1.00\n",
            &["序号", "地区", "合计", "计生保险"],
            (2, ""),
        );
    }

    #[test]
    fn a_file_rewritten_while_read_is_refused() {
        let file = temp_csv(b"a,b\n1,2\n");
        let input = open_input(file.path(), "t.csv", EncodingChoice::Auto).unwrap();
        // Same file (same inode), other content, after it was hashed.
        std::fs::write(file.path(), b"a,b\n1,3\n").unwrap();
        let no_keys = |_: &[String]| Vec::new();
        let rule = HeaderRule {
            is_header: &header_is_a,
            key_columns: &no_keys,
            expected: "a header",
        };
        let table = open_input_table(input, &options(), &rule).unwrap();
        let items: Vec<_> = table.collect();
        assert_eq!(items.len(), 2, "{items:?}");
        assert_eq!(
            items[1].as_ref().unwrap_err().to_string(),
            "t.csv: the file changed while it was being read; import it again once it is complete"
        );
    }
}
