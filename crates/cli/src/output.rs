//! Terminal and machine output: format choice, aligned tables (by display
//! width, so Chinese text lines up), CSV.

use crate::cmd::UsageError;
use crate::outfile::{self, OutputFile};
use crate::Format;
use anyhow::{bail, Result};
use std::io::{BufWriter, IsTerminal, Write};
use std::path::Path;
use unicode_width::UnicodeWidthStr;

/// Where a command's output goes: the file named by `--output` (written
/// through [`outfile`], so an existing file is refused unless `--force`, the
/// bytes go to a temporary file renamed into place, and the open database is
/// never a target), or stdout. [`Output::finish`] is the point where a
/// written file becomes final.
pub enum Output {
    File(OutputFile),
    Stdout(BufWriter<std::io::StdoutLock<'static>>),
}

impl Write for Output {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Output::File(f) => f.write(buf),
            Output::Stdout(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Output::File(f) => f.flush(),
            Output::Stdout(s) => s.flush(),
        }
    }
}

impl Output {
    /// Puts a file in place; flushes stdout.
    pub fn finish(self) -> Result<()> {
        match self {
            Output::File(f) => f.commit(),
            Output::Stdout(mut s) => Ok(s.flush()?),
        }
    }
}

/// A path whose directory does not exist is a usage error (exit 2), found
/// before any work is done; callers check it up front with this too.
pub fn check_output_path(path: &Path) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if !dir.is_dir() {
        bail!(UsageError(format!(
            "--output {}: directory {} does not exist",
            path.display(),
            dir.display()
        )));
    }
    if path.is_dir() {
        bail!(UsageError(format!(
            "--output {}: is a directory, not a file name",
            path.display()
        )));
    }
    Ok(())
}

/// Opens `--output` (or stdout when there is none) for writing.
pub fn open_output(path: Option<&Path>, force: bool, db: &str) -> Result<Output> {
    let Some(p) = path else {
        return Ok(Output::Stdout(BufWriter::new(std::io::stdout().lock())));
    };
    check_output_path(p)?;
    Ok(Output::File(outfile::create(p, force, db)?))
}

/// A whole report, to `--output` when given, else to stdout.
pub fn write_report(path: Option<&Path>, force: bool, db: &str, bytes: &[u8]) -> Result<()> {
    match path {
        None => Ok(emit_bytes(bytes)?),
        Some(_) => {
            let mut out = open_output(path, force, db)?;
            out.write_all(bytes)?;
            out.finish()
        }
    }
}

/// Writes a report to stdout. A closed pipe (`fundledger reconcile | head`)
/// is not an error: the reader has what it wanted.
pub fn emit(text: &str) -> std::io::Result<()> {
    emit_bytes(text.as_bytes())
}

fn emit_bytes(bytes: &[u8]) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|_| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}

/// `table` on a terminal, `csv` otherwise (SPEC §8).
pub fn resolve_format(chosen: Option<Format>) -> Format {
    chosen.unwrap_or(if std::io::stdout().is_terminal() {
        Format::Table
    } else {
        Format::Csv
    })
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Align {
    Left,
    Right,
}

pub struct TextTable {
    headers: Vec<String>,
    align: Vec<Align>,
    rows: Vec<Vec<String>>,
}

impl TextTable {
    pub fn new(headers: &[(&str, Align)]) -> TextTable {
        TextTable {
            headers: headers.iter().map(|(h, _)| h.to_string()).collect(),
            align: headers.iter().map(|(_, a)| *a).collect(),
            rows: Vec::new(),
        }
    }
    /// Cells come from files and the ledger: control characters are shown
    /// escaped (crate::escape), never sent to the terminal raw.
    pub fn row(&mut self, cells: Vec<String>) {
        assert_eq!(cells.len(), self.headers.len(), "table row width");
        let cells = cells
            .into_iter()
            .map(|c| match crate::escape::escaped(&c) {
                std::borrow::Cow::Borrowed(_) => c,
                std::borrow::Cow::Owned(e) => e,
            })
            .collect();
        self.rows.push(cells);
    }
    /// A horizontal rule, drawn at render time.
    pub fn rule(&mut self) {
        self.rows.push(Vec::new());
    }

    pub fn render(&self) -> String {
        let mut widths: Vec<usize> = self.headers.iter().map(|h| h.width()).collect();
        for row in self.rows.iter().filter(|r| !r.is_empty()) {
            for (w, c) in widths.iter_mut().zip(row) {
                *w = (*w).max(c.width());
            }
        }
        let mut out = String::new();
        self.line(&mut out, &self.headers, &widths);
        let rule: String = widths
            .iter()
            .map(|w| "-".repeat(*w))
            .collect::<Vec<_>>()
            .join("  ");
        out.push_str(&rule);
        out.push('\n');
        for row in &self.rows {
            if row.is_empty() {
                out.push_str(&rule);
                out.push('\n');
            } else {
                self.line(&mut out, row, &widths);
            }
        }
        out
    }

    fn line(&self, out: &mut String, cells: &[String], widths: &[usize]) {
        let mut parts = Vec::with_capacity(cells.len());
        for ((c, w), a) in cells.iter().zip(widths).zip(&self.align) {
            let pad = " ".repeat(w.saturating_sub(c.width()));
            parts.push(match a {
                Align::Left => format!("{c}{pad}"),
                Align::Right => format!("{pad}{c}"),
            });
        }
        out.push_str(parts.join("  ").trim_end());
        out.push('\n');
    }
}

/// The one CSV writer (formats' `csv_guard`), which applies the formula guard.
pub use fundledger_formats::csv_guard::csv_to_string;

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 11 §3: the balance CSV went out unguarded.
    #[test]
    fn balance_csv_guards_owasp_payloads_but_not_amounts() {
        for p in fundledger_formats::csv_guard::OWASP_PAYLOADS {
            let out = csv_to_string(
                &["account", "balance"],
                &[vec![p.to_string(), "-5.00".to_string()]],
                &[1],
            );
            let mut r = csv::Reader::from_reader(out.as_bytes());
            let rec = r.records().next().unwrap().unwrap();
            assert_eq!(&rec[0], format!("'{p}"), "{p:?}");
            assert_eq!(&rec[1], "-5.00");
        }
    }

    #[test]
    fn aligns_chinese_text_by_display_width() {
        let mut t = TextTable::new(&[("地区", Align::Left), ("amount", Align::Right)]);
        t.row(vec!["长沙市".into(), "1.00".into()]);
        t.row(vec!["x".into(), "10.00".into()]);
        let out = t.render();
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[2], "长沙市    1.00");
        assert_eq!(lines[3], "x        10.00");
    }
}
