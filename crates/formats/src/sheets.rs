//! Workbooks (xlsx, xlsb, xls, ods) and HTML tables as named sheets of rows,
//! loaded one sheet at a time within the limits of `crate::limits`.

use crate::context::EncodingChoice;
use crate::input::Container;
use crate::limits::{
    column_letters, MAX_CELL_BYTES, MAX_COLUMNS, MAX_SHEET_CELLS, MAX_SHEET_ROWS,
    MAX_UNPACKED_PART_BYTES,
};
use crate::table::{xlsx_cell, CellValue, RawRow};
use calamine::{Data, Range, Reader, Sheets, Xlsx};
use std::io::Cursor;

type Bytes = Cursor<Vec<u8>>;

/// An opened workbook or HTML page.
pub(crate) enum Book {
    /// Read cell by cell, so the sheet's size is checked before a grid exists.
    Xlsx(Box<Xlsx<Bytes>>),
    /// xls, xlsb, ods: calamine builds these sheets when it opens the file.
    Other(Box<Sheets<Bytes>>),
    /// Each `<table>` of the page, as "table 1", "table 2", …
    Html(Vec<(String, Vec<RawRow>)>),
}

impl Book {
    pub(crate) fn open(
        container: Container,
        bytes: Vec<u8>,
        encoding: EncodingChoice,
    ) -> Result<Book, String> {
        let cursor = Cursor::new(bytes);
        let not_readable = |e: &dyn std::fmt::Display| {
            format!("{} that cannot be read: {e}", container.describe())
        };
        Ok(match container {
            Container::Xlsx => {
                check_zip_sizes(cursor.get_ref())?;
                Book::Xlsx(Box::new(
                    Xlsx::new(cursor).map_err(|e| format!("not a readable XLSX workbook: {e}"))?,
                ))
            }
            Container::Xlsb => Book::Other(Box::new(Sheets::Xlsb(
                calamine::Xlsb::new(cursor).map_err(|e| not_readable(&e))?,
            ))),
            Container::Ods => {
                crate::prescan::check_ods(cursor.get_ref())?;
                Book::Other(Box::new(Sheets::Ods(
                    calamine::Ods::new(cursor).map_err(|e| not_readable(&e))?,
                )))
            }
            Container::Xls => {
                crate::prescan::check_xls(cursor.get_ref())?;
                Book::Other(Box::new(Sheets::Xls(
                calamine::Xls::new(cursor).map_err(|e| {
                    format!("this is an OLE2 compound file (the Excel 97–2003 / WPS container) without a readable workbook: {e}")
                })?,
                )))
            }
            Container::Html => {
                let text = crate::html::decode(cursor.into_inner(), encoding)?;
                Book::Html(crate::html::tables(&text)?)
            }
            Container::Csv | Container::Tsv => unreachable!("text tables are streamed"),
        })
    }

    pub(crate) fn sheet_names(&self) -> Vec<String> {
        match self {
            Book::Xlsx(book) => book.sheet_names(),
            Book::Other(book) => book.sheet_names(),
            Book::Html(tables) => tables.iter().map(|(name, _)| name.clone()).collect(),
        }
    }

    /// The sheet's non-blank rows, with sheet row numbers.
    pub(crate) fn load(&mut self, name: &str) -> Result<Vec<RawRow>, String> {
        match self {
            Book::Xlsx(book) => load_xlsx(book, name),
            Book::Other(book) => {
                let range = book
                    .worksheet_range(name)
                    .map_err(|e| format!("cannot read: {e}"))?;
                rows_of_range(&range)
            }
            Book::Html(tables) => {
                let at = tables.iter().position(|(n, _)| n == name);
                Ok(at.map_or_else(Vec::new, |i| std::mem::take(&mut tables[i].1)))
            }
        }
    }
}

/// calamine reads an xlsx's shared strings and styles whole when it opens
/// the workbook: refuse a part that states it unpacks beyond
/// `MAX_UNPACKED_PART_BYTES` (a "zip bomb") before it is unpacked. Sheets
/// are streamed and checked cell by cell instead.
fn check_zip_sizes(bytes: &[u8]) -> Result<(), String> {
    let mut archive =
        zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| format!("damaged ZIP: {e}"))?;
    for i in 0..archive.len() {
        let entry = archive
            .by_index_raw(i)
            .map_err(|e| format!("damaged ZIP: {e}"))?;
        let is_sheet = entry.name().starts_with("xl/worksheets/");
        if !is_sheet && entry.size() > MAX_UNPACKED_PART_BYTES {
            return Err(format!(
                "part `{}` unpacks to {} MB, more than the limit of {} MB",
                entry.name(),
                entry.size() >> 20,
                MAX_UNPACKED_PART_BYTES >> 20
            ));
        }
    }
    Ok(())
}

/// Refuses a cell beyond the limits, by its spreadsheet address.
fn check_extent(row: u64, col: u64) -> Result<(), String> {
    if col >= MAX_COLUMNS as u64 || row >= MAX_SHEET_ROWS {
        return Err(format!(
            "cell {}{} is beyond the limit of {MAX_COLUMNS} columns and {MAX_SHEET_ROWS} rows",
            column_letters(col),
            row + 1
        ));
    }
    Ok(())
}

fn check_cell(value: &CellValue, row: u64, col: u64) -> Result<(), String> {
    match value {
        CellValue::Text(t) if t.len() > MAX_CELL_BYTES => Err(format!(
            "cell {}{} holds {} bytes, more than the limit of {MAX_CELL_BYTES}: `{}`",
            column_letters(col),
            row + 1,
            t.len(),
            crate::limits::shown(t)
        )),
        _ => Ok(()),
    }
}

/// Streams an xlsx sheet's cells: its stated dimensions and then every
/// cell's address are checked before anything grows, and only non-empty
/// cells are kept (a sheet with A1 and XFD1048576 costs two cells, then is
/// refused).
fn load_xlsx(book: &mut Xlsx<Bytes>, name: &str) -> Result<Vec<RawRow>, String> {
    let mut reader = book
        .worksheet_cells_reader(name)
        .map_err(|e| format!("cannot read: {e}"))?;
    let dims = reader.dimensions();
    check_extent(u64::from(dims.end.0), u64::from(dims.end.1))
        .map_err(|m| format!("the sheet's stated size is too large: {m}"))?;
    let mut cells: Vec<(u32, u32, CellValue)> = Vec::new();
    while let Some(cell) = reader
        .next_cell()
        .map_err(|e| format!("cannot read: {e}"))?
    {
        let (row, col) = cell.get_position();
        check_extent(u64::from(row), u64::from(col))?;
        let value = xlsx_cell(&Data::from(cell.get_value().clone()));
        if value == CellValue::Empty {
            continue;
        }
        check_cell(&value, u64::from(row), u64::from(col))?;
        if cells.len() as u64 >= MAX_SHEET_CELLS {
            return Err(format!(
                "more than {MAX_SHEET_CELLS} non-empty cells; split the sheet or save it as CSV"
            ));
        }
        cells.push((row, col, value));
    }
    Ok(rows_of_cells(cells))
}

/// Sparse cells → rows (sheet row numbers kept), each row as wide as its
/// last non-empty cell.
fn rows_of_cells(mut cells: Vec<(u32, u32, CellValue)>) -> Vec<RawRow> {
    cells.sort_by_key(|&(row, col, _)| (row, col));
    let mut rows: Vec<RawRow> = Vec::new();
    for (row, col, value) in cells {
        let line = u64::from(row) + 1;
        if rows.last().is_none_or(|r| r.line != line) {
            rows.push(RawRow {
                line,
                cells: Vec::new(),
            });
        }
        let current = rows.last_mut().expect("pushed above");
        let col = col as usize;
        if current.cells.len() <= col {
            current.cells.resize(col + 1, CellValue::Empty);
        }
        current.cells[col] = value;
    }
    rows
}

/// A calamine range (xls, xlsb, ods) as rows, within the same limits.
fn rows_of_range(range: &Range<Data>) -> Result<Vec<RawRow>, String> {
    let Some((first_row, first_col)) = range.start() else {
        return Ok(Vec::new());
    };
    let (last_row, last_col) = range.end().expect("a range with a start has an end");
    check_extent(u64::from(last_row), u64::from(last_col))?;
    let mut cells = Vec::new();
    for (i, row) in range.rows().enumerate() {
        for (j, cell) in row.iter().enumerate() {
            let value = xlsx_cell(cell);
            if value == CellValue::Empty {
                continue;
            }
            let (r, c) = (first_row + i as u32, first_col + j as u32);
            check_cell(&value, u64::from(r), u64::from(c))?;
            cells.push((r, c, value));
        }
    }
    Ok(rows_of_cells(cells))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparse_cells_become_rows_with_sheet_numbers() {
        let t = |s: &str| CellValue::Text(s.to_string());
        let rows = rows_of_cells(vec![(4, 1, t("b")), (0, 0, t("a")), (4, 0, t("c"))]);
        assert_eq!(
            rows,
            vec![
                RawRow {
                    line: 1,
                    cells: vec![t("a")]
                },
                RawRow {
                    line: 5,
                    cells: vec![t("c"), t("b")]
                },
            ]
        );
    }

    #[test]
    fn an_xlsx_part_that_unpacks_too_far_is_refused_before_calamine() {
        use std::io::Write;
        let mut out = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        out.start_file("xl/workbook.xml", opts).unwrap();
        out.write_all(b"<workbook/>").unwrap();
        out.start_file("xl/sharedStrings.xml", opts).unwrap();
        let zeros = vec![b' '; 1024 * 1024];
        for _ in 0..49 {
            out.write_all(&zeros).unwrap();
        }
        let bytes = out.finish().unwrap().into_inner();
        assert!(bytes.len() < 1024 * 1024, "{}", bytes.len());
        let err = Book::open(Container::Xlsx, bytes, EncodingChoice::Auto)
            .err()
            .unwrap();
        assert_eq!(
            err,
            "part `xl/sharedStrings.xml` unpacks to 49 MB, more than the limit of 48 MB"
        );
    }

    #[test]
    fn extent_limits() {
        assert!(check_extent(0, 999).is_ok());
        assert_eq!(
            check_extent(1_048_575, 16_383).unwrap_err(),
            "cell XFD1048576 is beyond the limit of 1000 columns and 1048576 rows"
        );
    }
}
