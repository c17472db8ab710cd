//! Size limits on input files (docs/formats.md §1, "Limits"). They are far
//! above any real attachment table or bureau export and keep memory for a
//! hostile file within 64 MB plus the largest legitimate sheet.

use std::borrow::Cow;

/// A workbook (xlsx/xls/ods) or HTML file is held in memory while it is read.
pub(crate) const MAX_WORKBOOK_BYTES: u64 = 32 * 1024 * 1024;
/// Unpacked bytes of an xlsx part that is read whole (shared strings, styles).
pub(crate) const MAX_UNPACKED_PART_BYTES: u64 = 48 * 1024 * 1024;
/// Columns in one row (a sheet's last used column, or fields of a CSV record).
pub(crate) const MAX_COLUMNS: usize = 1_000;
/// Rows of a sheet (its last used row number).
pub(crate) const MAX_SHEET_ROWS: u64 = 1_048_576;
/// Non-empty cells of one sheet.
pub(crate) const MAX_SHEET_CELLS: u64 = 2_000_000;
/// Bytes (UTF-8) of one cell.
pub(crate) const MAX_CELL_BYTES: usize = 4 * 1024;
/// Bytes of one CSV record (one row, with its quoted line breaks).
pub(crate) const MAX_RECORD_BYTES: usize = 256 * 1024;
/// Characters of a voucher number (a key of the ledger).
pub(crate) const MAX_VOUCHER_NO_CHARS: usize = 64;
/// Characters of cell text quoted in an error message.
pub(crate) const SHOWN_CHARS: usize = 40;

/// `text` as quoted in a message: whole when short, else its first
/// `SHOWN_CHARS` characters and how long it was, so a huge cell never floods
/// the terminal.
pub(crate) fn shown(text: &str) -> Cow<'_, str> {
    match text.char_indices().nth(SHOWN_CHARS) {
        None => Cow::Borrowed(text),
        Some((cut, _)) => Cow::Owned(format!("{}…({} bytes)", &text[..cut], text.len())),
    }
}

/// A message with every `quoted` cell text longer than `SHOWN_CHARS` cut as
/// `shown` cuts it: a reader quoting a cell anywhere stays readable.
pub(crate) fn shorten_quoted(message: String) -> String {
    let parts: Vec<&str> = message.split('`').collect();
    let cut_already = |p: &str| p.ends_with(" bytes)") && p.contains("…(");
    let long = |(i, p): (usize, &&str)| {
        i % 2 == 1 && p.chars().nth(SHOWN_CHARS).is_some() && !cut_already(p)
    };
    if parts.len() < 3 || !parts.iter().enumerate().any(long) {
        return message;
    }
    let last_quoted = if parts.len() % 2 == 1 {
        parts.len()
    } else {
        parts.len() - 1
    };
    parts
        .iter()
        .enumerate()
        .map(|(i, p)| {
            if i % 2 == 1 && i < last_quoted {
                shown(p)
            } else {
                Cow::Borrowed(*p)
            }
        })
        .collect::<Vec<_>>()
        .join("`")
}

/// Spreadsheet column letters of a 0-based column (0 → A, 16383 → XFD).
pub(crate) fn column_letters(col: u64) -> String {
    let mut n = col + 1;
    let mut letters = Vec::new();
    while n > 0 {
        let rem = ((n - 1) % 26) as u8;
        letters.push((b'A' + rem) as char);
        n = (n - 1) / 26;
    }
    letters.iter().rev().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_text_is_cut() {
        assert_eq!(shown("abc"), "abc");
        let long = "9".repeat(1000);
        assert_eq!(shown(&long), format!("{}…(1000 bytes)", "9".repeat(40)));
        let cjk = "金".repeat(50);
        assert_eq!(shown(&cjk), format!("{}…(150 bytes)", "金".repeat(40)));
    }

    #[test]
    fn quoted_text_in_messages_is_cut() {
        let long = "9".repeat(100);
        let message = format!("`{long}` is not an amount; `short` stays");
        assert_eq!(
            shorten_quoted(message),
            format!(
                "`{}…(100 bytes)` is not an amount; `short` stays",
                "9".repeat(40)
            )
        );
        assert_eq!(shorten_quoted("no quotes".into()), "no quotes");
        let once = format!("`{}` bad", shown(&long));
        assert_eq!(shorten_quoted(once.clone()), once);
        assert_eq!(
            shorten_quoted(format!("odd ` {long}")),
            format!("odd ` {long}")
        );
    }

    #[test]
    fn letters() {
        for (col, want) in [(0, "A"), (25, "Z"), (26, "AA"), (16383, "XFD")] {
            assert_eq!(column_letters(col), want);
        }
    }
}
