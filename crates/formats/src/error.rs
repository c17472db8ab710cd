//! The one error type every reader reports: a problem at a place in a file.

use std::fmt;

/// One problem in an input file.
///
/// Display: `FILE:LINE: COLUMN: MESSAGE`, or `FILE:LINE: MESSAGE` when no
/// column applies, or `FILE: MESSAGE` for a problem with the file as a whole
/// (line 0: it cannot be opened, no header was found). LINE is the 1-based
/// physical line (CSV: the line where the record starts) or sheet row (XLSX).
/// COLUMN is the header text as written in the file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RowError {
    pub file: String,
    pub line: u64,
    pub column: Option<String>,
    pub message: String,
}

impl RowError {
    /// A problem in a row, optionally in one column of it.
    pub fn at(file: &str, line: u64, column: Option<&str>, message: impl Into<String>) -> Self {
        RowError {
            file: file.to_string(),
            line,
            column: column.map(str::to_string),
            message: crate::limits::shorten_quoted(message.into()),
        }
    }

    /// A problem with the file as a whole (line 0).
    pub fn file(file: &str, message: impl Into<String>) -> Self {
        RowError::at(file, 0, None, message)
    }
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, &self.column) {
            (0, None) => write!(f, "{}: {}", self.file, self.message),
            (0, Some(col)) => write!(f, "{}: {}: {}", self.file, col, self.message),
            (line, None) => write!(f, "{}:{}: {}", self.file, line, self.message),
            (line, Some(col)) => write!(f, "{}:{}: {}: {}", self.file, line, col, self.message),
        }
    }
}

impl std::error::Error for RowError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_forms() {
        let cases = [
            (
                RowError::at("a.csv", 3, Some("金额（元）"), "bad"),
                "a.csv:3: 金额（元）: bad",
            ),
            (RowError::at("a.csv", 3, None, "bad"), "a.csv:3: bad"),
            (RowError::file("a.csv", "no header"), "a.csv: no header"),
        ];
        for (err, want) in cases {
            assert_eq!(err.to_string(), want);
        }
    }
}
