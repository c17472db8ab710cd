//! A scan's query run as `COPY (…) TO STDOUT (FORMAT binary)`: the
//! statement with its parameters written in as literals, and the rows
//! taken apart from PostgreSQL's binary copy format (ADR 0005, decision
//! 28). Pure: no connection here (pg_scan.rs runs the statement).
//!
//! Through the query protocol sqlx builds a row object per row (the row's
//! bytes, a vector of cell ranges, the statement's columns) and checks a
//! cell's type each time it is read: about 1.4 s of client CPU for the
//! 3.3M rows of a 1M-voucher journal, against about 0.6 s to take the same
//! rows apart here, on two cores the server sending them shares.

use crate::{Result, StoreError};

/// The file header every binary copy starts with: the signature, then the
/// flags field and the header extension's length (32-bit each).
const SIGNATURE: &[u8] = b"PGCOPY\n\xff\r\n\0";

/// `sql` as a binary `COPY` of its rows, each `$N` replaced by `literals[N-1]`
/// (SQL text, see [`int_literal`] and [`text_literal`]). `None` when `sql`
/// names a placeholder past the literals given.
pub(crate) fn copy_statement(sql: &str, literals: &[String]) -> Option<String> {
    let mut out = String::with_capacity(sql.len() + 48);
    out.push_str("COPY (");
    let mut rest = sql;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let digits = after.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            out.push('$');
            rest = after;
            continue;
        }
        let n: usize = after[..digits].parse().ok()?;
        out.push_str(literals.get(n.checked_sub(1)?)?);
        rest = &after[digits..];
    }
    out.push_str(rest);
    out.push_str(") TO STDOUT (FORMAT binary)");
    Some(out)
}

/// An integer parameter as SQL text.
pub(crate) fn int_literal(value: i64) -> String {
    format!("{value}::bigint")
}

/// A text parameter as SQL text: an escape string (`E'…'`, its meaning the
/// same whatever `standard_conforming_strings` says), or `None` for text
/// PostgreSQL cannot hold (a NUL).
pub(crate) fn text_literal(value: &str) -> Option<String> {
    if value.contains('\0') {
        return None;
    }
    let mut out = String::with_capacity(value.len() + 9);
    out.push_str("E'");
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("''"),
            c => out.push(c),
        }
    }
    out.push_str("'::text");
    Some(out)
}

/// One row of a binary copy: its cells as byte ranges of `data`, `None`
/// for NULL.
pub(crate) struct CopiedRow<'a> {
    pub(crate) data: &'a [u8],
    pub(crate) cells: &'a [Option<(usize, usize)>],
}

/// Takes the rows of one binary copy apart as its messages arrive.
/// PostgreSQL sends a row per message, but nothing here relies on that: a
/// row cut between two messages waits in `pending` for the rest.
pub(crate) struct CopyReader {
    columns: usize,
    header_read: bool,
    ended: bool,
    pending: Vec<u8>,
    cells: Vec<Option<(usize, usize)>>,
}

impl CopyReader {
    /// A reader for rows of `columns` cells.
    pub(crate) fn new(columns: usize) -> CopyReader {
        CopyReader {
            columns,
            header_read: false,
            ended: false,
            pending: Vec::new(),
            cells: Vec::with_capacity(columns),
        }
    }

    /// Hands each whole row of `data` (after any part row held back) to
    /// `each`, stopping at its first error; keeps a part row for the next
    /// message.
    pub(crate) fn feed(
        &mut self,
        data: &[u8],
        each: &mut dyn FnMut(&CopiedRow<'_>) -> Result<()>,
    ) -> Result<()> {
        if self.pending.is_empty() {
            let used = self.take_rows(data, each)?;
            self.pending.extend_from_slice(&data[used..]);
            return Ok(());
        }
        let mut joined = std::mem::take(&mut self.pending);
        joined.extend_from_slice(data);
        let used = self.take_rows(&joined, each)?;
        joined.drain(..used);
        self.pending = joined;
        Ok(())
    }

    /// The copy ended: its trailer was read and nothing follows it.
    pub(crate) fn finish(&self) -> Result<()> {
        if !self.ended || !self.pending.is_empty() {
            return Err(protocol(format!(
                "a binary COPY ended without its trailer ({} byte(s) of a part row)",
                self.pending.len()
            )));
        }
        Ok(())
    }

    fn take_rows(
        &mut self,
        data: &[u8],
        each: &mut dyn FnMut(&CopiedRow<'_>) -> Result<()>,
    ) -> Result<usize> {
        let mut at = 0;
        if !self.header_read {
            match header_len(data)? {
                Some(len) => {
                    at = len;
                    self.header_read = true;
                }
                None => return Ok(0),
            }
        }
        self.rows_from(data, at, each)
    }

    /// Hands on the whole rows of `data` from `at`; the bytes used.
    fn rows_from(
        &mut self,
        data: &[u8],
        mut at: usize,
        each: &mut dyn FnMut(&CopiedRow<'_>) -> Result<()>,
    ) -> Result<usize> {
        while at < data.len() {
            if self.ended {
                return Err(protocol("bytes after a binary COPY's trailer".into()));
            }
            let Some(count) = read_i16(data, at) else {
                return Ok(at);
            };
            if count == -1 {
                self.ended = true;
                at += 2;
                continue;
            }
            if usize::try_from(count).ok() != Some(self.columns) {
                return Err(protocol(format!(
                    "a binary COPY row of {count} cell(s), {} expected",
                    self.columns
                )));
            }
            let Some(end) = self.cells_of(data, at + 2)? else {
                return Ok(at);
            };
            each(&CopiedRow {
                data,
                cells: &self.cells,
            })?;
            at = end;
        }
        Ok(at)
    }

    /// The cells of the row whose first cell starts at `at`, and where the
    /// row ends; `None` while part of it has not arrived.
    fn cells_of(&mut self, data: &[u8], mut at: usize) -> Result<Option<usize>> {
        self.cells.clear();
        for _ in 0..self.columns {
            let Some(len) = read_i32(data, at) else {
                return Ok(None);
            };
            at += 4;
            if len == -1 {
                self.cells.push(None);
                continue;
            }
            let len = usize::try_from(len)
                .map_err(|_| protocol(format!("a binary COPY cell of length {len}")))?;
            let end = at.checked_add(len).filter(|end| *end <= data.len());
            let Some(end) = end else {
                return Ok(None);
            };
            self.cells.push(Some((at, end)));
            at = end;
        }
        Ok(Some(at))
    }
}

/// The header's length once all of it is in `data`.
fn header_len(data: &[u8]) -> Result<Option<usize>> {
    let fixed = SIGNATURE.len() + 8;
    if data.len() < fixed {
        return Ok(None);
    }
    if !data.starts_with(SIGNATURE) {
        return Err(protocol("a binary COPY without its signature".into()));
    }
    let extension = read_i32(data, SIGNATURE.len() + 4).unwrap_or(0);
    let extension = usize::try_from(extension)
        .map_err(|_| protocol(format!("a binary COPY header extension of {extension}")))?;
    let len = fixed + extension;
    Ok((data.len() >= len).then_some(len))
}

fn read_i16(data: &[u8], at: usize) -> Option<i16> {
    let bytes = data.get(at..at.checked_add(2)?)?;
    Some(i16::from_be_bytes(bytes.try_into().ok()?))
}

fn read_i32(data: &[u8], at: usize) -> Option<i32> {
    let bytes = data.get(at..at.checked_add(4)?)?;
    Some(i32::from_be_bytes(bytes.try_into().ok()?))
}

fn protocol(message: String) -> StoreError {
    StoreError::Sql(sqlx::Error::Protocol(message))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_statement(sql: &str, literals: &[&str], expected: Option<&str>) {
        let literals: Vec<String> = literals.iter().map(|l| l.to_string()).collect();
        let expected = expected.map(|e| format!("COPY ({e}) TO STDOUT (FORMAT binary)"));
        assert_eq!(copy_statement(sql, &literals), expected, "{sql}");
    }

    #[test]
    fn placeholders_are_replaced_by_their_literals() {
        check_statement("SELECT 1", &[], Some("SELECT 1"));
        check_statement(
            "SELECT a FROM t WHERE e > $1 AND e <= $2 ORDER BY e",
            &["5::bigint", "10::bigint"],
            Some("SELECT a FROM t WHERE e > 5::bigint AND e <= 10::bigint ORDER BY e"),
        );
        // $1 inside $12 is not $1; a bare $ stays.
        check_statement("$12 $", &["a"], None);
        check_statement("$2$1 $", &["a", "b"], Some("ba $"));
        check_statement("$0", &["a"], None);
        check_statement("x = $2", &["a"], None);
    }

    #[test]
    fn text_literals_mean_their_text() {
        assert_eq!(
            text_literal("2020-12-31").as_deref(),
            Some("E'2020-12-31'::text")
        );
        assert_eq!(text_literal(r"a'b\c").as_deref(), Some(r"E'a''b\\c'::text"));
        assert_eq!(text_literal("乐昌").as_deref(), Some("E'乐昌'::text"));
        assert_eq!(text_literal("a\0b"), None);
        assert_eq!(int_literal(-7), "-7::bigint");
    }

    /// A binary copy of `rows` (cells as bytes, `None` for NULL).
    fn copy_bytes(rows: &[Vec<Option<&[u8]>>], extension: &[u8]) -> Vec<u8> {
        let mut out = SIGNATURE.to_vec();
        out.extend_from_slice(&0i32.to_be_bytes());
        out.extend_from_slice(&(extension.len() as i32).to_be_bytes());
        out.extend_from_slice(extension);
        for row in rows {
            out.extend_from_slice(&(row.len() as i16).to_be_bytes());
            for cell in row {
                match cell {
                    Some(bytes) => {
                        out.extend_from_slice(&(bytes.len() as i32).to_be_bytes());
                        out.extend_from_slice(bytes);
                    }
                    None => out.extend_from_slice(&(-1i32).to_be_bytes()),
                }
            }
        }
        out.extend_from_slice(&(-1i16).to_be_bytes());
        out
    }

    /// Rows as their cells' bytes, `None` for NULL.
    type Rows = Vec<Vec<Option<Vec<u8>>>>;

    /// The rows `feed` hands on for `messages`, and `finish`'s verdict.
    fn read(columns: usize, messages: &[&[u8]]) -> (Rows, Result<()>) {
        let mut reader = CopyReader::new(columns);
        let mut rows = Vec::new();
        for m in messages {
            let fed = reader.feed(m, &mut |r| {
                rows.push(
                    r.cells
                        .iter()
                        .map(|c| c.map(|(s, e)| r.data[s..e].to_vec()))
                        .collect(),
                );
                Ok(())
            });
            if let Err(e) = fed {
                return (rows, Err(e));
            }
        }
        let finished = reader.finish();
        (rows, finished)
    }

    #[test]
    fn rows_come_whole_however_the_messages_cut_them() {
        let seven = 7i64.to_be_bytes();
        let rows: Vec<Vec<Option<&[u8]>>> = vec![
            vec![Some(&seven), Some(b"abc"), None],
            vec![None, Some(b""), Some("乐昌市".as_bytes())],
        ];
        let expected: Rows = rows
            .iter()
            .map(|r| r.iter().map(|c| c.map(<[u8]>::to_vec)).collect())
            .collect();
        for extension in [&b""[..], b"ext"] {
            let bytes = copy_bytes(&rows, extension);
            for cut in 0..=bytes.len() {
                let (got, finished) = read(3, &[&bytes[..cut], &bytes[cut..]]);
                assert_eq!(got, expected, "cut at {cut}");
                assert!(finished.is_ok(), "cut at {cut}: {finished:?}");
            }
            // Byte by byte.
            let messages: Vec<&[u8]> = bytes.chunks(1).collect();
            assert_eq!(read(3, &messages).0, expected);
        }
    }

    #[test]
    fn a_broken_copy_is_refused() {
        let rows: Vec<Vec<Option<&[u8]>>> = vec![vec![Some(b"a"), None]];
        let bytes = copy_bytes(&rows, b"");
        let refused = |columns: usize, messages: &[&[u8]], why: &str| {
            let (_, finished) = read(columns, messages);
            let message = finished.expect_err(why).to_string();
            assert!(message.contains(why), "{message}");
        };
        // No trailer, or cut inside a row.
        refused(2, &[&bytes[..bytes.len() - 2]], "without its trailer");
        refused(2, &[&bytes[..bytes.len() - 4]], "without its trailer");
        refused(2, &[], "without its trailer");
        // Rows of another width, bytes past the trailer, no signature.
        refused(3, &[&bytes], "row of 2 cell(s), 3 expected");
        let mut after = bytes.clone();
        after.push(0);
        refused(2, &[&after], "after a binary COPY's trailer");
        refused(
            2,
            &[b"PGCOPX\n\xff\r\n\0\0\0\0\0\0\0\0\0"],
            "without its signature",
        );
        // A negative length other than NULL's.
        let mut negative = SIGNATURE.to_vec();
        negative.extend_from_slice(&[0; 8]);
        negative.extend_from_slice(&1i16.to_be_bytes());
        negative.extend_from_slice(&(-2i32).to_be_bytes());
        refused(1, &[&negative], "cell of length -2");
    }

    #[test]
    fn an_error_from_each_row_stops_the_reading() {
        let rows: Vec<Vec<Option<&[u8]>>> = vec![vec![Some(b"a")], vec![Some(b"b")]];
        let bytes = copy_bytes(&rows, b"");
        let mut reader = CopyReader::new(1);
        let mut seen = 0;
        let fed = reader.feed(&bytes, &mut |_| {
            seen += 1;
            Err(StoreError::Refused("stop".into()))
        });
        assert_eq!(seen, 1);
        assert_eq!(fed.expect_err("each failed").to_string(), "stop");
    }
}
