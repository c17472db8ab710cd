//! Sheet sizes of XLS and ODS workbooks, read before calamine opens them:
//! calamine builds every sheet of these as a dense grid when it opens the
//! file, so a two-cell sheet spanning A1:IV65536 (xls) or one repeated cell
//! (ods `number-columns-repeated`) would allocate hundreds of megabytes.
//! These scans stream the records (xls) or the XML (ods) and keep only the
//! extent of the non-empty cells.

use crate::limits::{column_letters, MAX_COLUMNS, MAX_SHEET_CELLS};
use std::io::{BufReader, Cursor, Read};

/// The extent of a sheet's non-empty cells: rows and columns it spans.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Extent {
    pub first_row: u64,
    pub last_row: u64,
    pub first_col: u64,
    pub last_col: u64,
    pub any: bool,
}

impl Extent {
    fn add(&mut self, row: u64, first_col: u64, last_col: u64) {
        if !self.any {
            *self = Extent {
                first_row: row,
                last_row: row,
                first_col,
                last_col,
                any: true,
            };
            return;
        }
        self.first_row = self.first_row.min(row);
        self.last_row = self.last_row.max(row);
        self.first_col = self.first_col.min(first_col);
        self.last_col = self.last_col.max(last_col);
    }

    /// Refuses a grid wider than `MAX_COLUMNS` or larger than `MAX_SHEET_CELLS`.
    pub(crate) fn check(&self) -> Result<(), String> {
        if !self.any {
            return Ok(());
        }
        let rows = self.last_row - self.first_row + 1;
        let cols = self.last_col - self.first_col + 1;
        if self.last_col >= MAX_COLUMNS as u64 || rows.saturating_mul(cols) > MAX_SHEET_CELLS {
            return Err(format!(
                "a sheet spans {}{}:{}{} ({rows} rows × {cols} columns), more than the limit of {MAX_COLUMNS} columns and {MAX_SHEET_CELLS} cells; save the table as CSV",
                column_letters(self.first_col),
                self.first_row + 1,
                column_letters(self.last_col),
                self.last_row + 1
            ));
        }
        Ok(())
    }
}

fn u16_at(data: &[u8], at: usize) -> Option<u64> {
    data.get(at..at + 2)
        .map(|b| u64::from(u16::from_le_bytes([b[0], b[1]])))
}

fn u32_at(data: &[u8], at: usize) -> Option<u64> {
    data.get(at..at + 4)
        .map(|b| u64::from(u32::from_le_bytes([b[0], b[1], b[2], b[3]])))
}

/// Every sheet of an XLS workbook stream (BIFF8 records) within the limits,
/// including the size its DIMENSIONS record states (calamine reserves it).
pub(crate) fn check_xls(bytes: &[u8]) -> Result<(), String> {
    let stream = xls_workbook_stream(bytes)?;
    let mut extent = Extent::default();
    let mut at = 0usize;
    while let (Some(kind), Some(len)) = (u16_at(&stream, at), u16_at(&stream, at + 2)) {
        let data = stream.get(at + 4..at + 4 + len as usize).unwrap_or(&[]);
        at += 4 + len as usize;
        match kind {
            // BOF: a new substream (sheet).
            0x0809 => extent = Extent::default(),
            0x000A => extent.check()?,
            // DIMENSIONS: first row, last row + 1 (u32), first col, last col + 1 (u16).
            0x0200 => {
                if let (Some(r1), Some(r2), Some(c1), Some(c2)) = (
                    u32_at(data, 0),
                    u32_at(data, 4),
                    u16_at(data, 8),
                    u16_at(data, 10),
                ) {
                    if r2 > r1 && c2 > c1 {
                        let mut stated = Extent::default();
                        stated.add(r1, c1, c2 - 1);
                        stated.add(r2 - 1, c1, c2 - 1);
                        stated.check()?;
                    }
                }
            }
            // NUMBER, LABEL, BOOLERR, RK, LABELSST, FORMULA, RSTRING: row, col.
            0x0203 | 0x0204 | 0x0205 | 0x027E | 0x00FD | 0x0006 | 0x00D6 => {
                if let (Some(row), Some(col)) = (u16_at(data, 0), u16_at(data, 2)) {
                    extent.add(row, col, col);
                }
            }
            // MULRK: row, first col, …, last col.
            0x00BD if data.len() >= 6 => {
                if let (Some(row), Some(first), Some(last)) = (
                    u16_at(data, 0),
                    u16_at(data, 2),
                    u16_at(data, data.len() - 2),
                ) {
                    extent.add(row, first, last.max(first));
                }
            }
            _ => {}
        }
    }
    extent.check()
}

fn xls_workbook_stream(bytes: &[u8]) -> Result<Vec<u8>, String> {
    let mut file = cfb::CompoundFile::open(Cursor::new(bytes)).map_err(|e| {
        format!("this is a damaged OLE2 compound file, not a readable workbook: {e}")
    })?;
    let name = ["/Workbook", "/Book"]
        .into_iter()
        .find(|n| file.is_stream(n))
        .ok_or_else(|| {
            "this is an OLE2 compound file without a workbook (a Word .doc?), not a table: save the table as XLSX, XLS, ODS or CSV".to_string()
        })?;
    let mut stream = Vec::new();
    file.open_stream(name)
        .and_then(|mut s| s.read_to_end(&mut stream))
        .map_err(|e| format!("cannot read the workbook stream: {e}"))?;
    Ok(stream)
}

/// Every table of an ODS `content.xml` within the limits. Streams the XML:
/// a repeated non-empty cell or row counts as many times as it repeats.
pub(crate) fn check_ods(bytes: &[u8]) -> Result<(), String> {
    use quick_xml::events::Event;
    let mut archive =
        zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| format!("damaged ODS: {e}"))?;
    let content = archive
        .by_name("content.xml")
        .map_err(|e| format!("damaged ODS: {e}"))?;
    let mut reader = quick_xml::Reader::from_reader(BufReader::new(content));
    let mut buf = Vec::new();
    let mut extent = Extent::default();
    let (mut row, mut col, mut row_repeat) = (0u64, 0u64, 1u64);
    loop {
        let event = reader
            .read_event_into(&mut buf)
            .map_err(|e| format!("damaged ODS content: {e}"))?;
        match &event {
            Event::Start(e) | Event::Empty(e) => match e.name().as_ref() {
                b"table:table" => {
                    extent.check()?;
                    extent = Extent::default();
                    (row, col) = (0, 0);
                }
                b"table:table-row" => {
                    row_repeat = repeat_of(e, b"table:number-rows-repeated");
                    col = 0;
                    if matches!(event, Event::Empty(_)) {
                        row = row.saturating_add(row_repeat);
                    }
                }
                b"table:table-cell" | b"table:covered-table-cell" => {
                    let repeat = repeat_of(e, b"table:number-columns-repeated");
                    let has_value = e
                        .attributes()
                        .flatten()
                        .any(|a| matches!(a.key.as_ref(), b"office:value-type" | b"table:formula"));
                    if has_value || matches!(event, Event::Start(_)) {
                        extent.add(row, col, col + repeat - 1);
                        extent.add(row + row_repeat - 1, col, col + repeat - 1);
                    }
                    col = col.saturating_add(repeat);
                }
                _ => {}
            },
            Event::End(e) if e.name().as_ref() == b"table:table-row" => {
                row = row.saturating_add(row_repeat);
            }
            Event::Eof => break,
            _ => {}
        }
        extent.check()?;
        buf.clear();
    }
    Ok(())
}

fn repeat_of(e: &quick_xml::events::BytesStart<'_>, name: &[u8]) -> u64 {
    e.attributes()
        .flatten()
        .find(|a| a.key.as_ref() == name)
        .and_then(|a| std::str::from_utf8(&a.value).ok()?.parse::<u64>().ok())
        .unwrap_or(1)
        .max(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn record(kind: u16, data: &[u8]) -> Vec<u8> {
        let mut out = kind.to_le_bytes().to_vec();
        out.extend((data.len() as u16).to_le_bytes());
        out.extend(data);
        out
    }

    fn cell(row: u16, col: u16) -> Vec<u8> {
        let mut data = row.to_le_bytes().to_vec();
        data.extend(col.to_le_bytes());
        data.extend([0u8; 10]);
        record(0x0203, &data)
    }

    fn xls_with(records: &[Vec<u8>]) -> Vec<u8> {
        let mut file = cfb::CompoundFile::create(Cursor::new(Vec::new())).unwrap();
        let mut stream = file.create_stream("/Workbook").unwrap();
        stream.write_all(&records.concat()).unwrap();
        drop(stream);
        file.flush().unwrap();
        file.into_inner().into_inner()
    }

    #[test]
    fn xls_sheet_extent_is_checked_before_calamine() {
        let bof = record(0x0809, &[0; 16]);
        let eof = record(0x000A, &[]);
        let small = xls_with(&[bof.clone(), cell(0, 0), cell(40, 9), eof.clone()]);
        assert_eq!(check_xls(&small), Ok(()));
        let far = xls_with(&[bof.clone(), cell(0, 0), cell(65535, 255), eof.clone()]);
        assert_eq!(
            check_xls(&far).unwrap_err(),
            "a sheet spans A1:IV65536 (65536 rows × 256 columns), more than the limit of 1000 columns and 2000000 cells; save the table as CSV"
        );
        let mut dims = 0u32.to_le_bytes().to_vec();
        dims.extend(u32::MAX.to_le_bytes());
        dims.extend(0u16.to_le_bytes());
        dims.extend(200u16.to_le_bytes());
        dims.extend([0, 0]);
        let stated = xls_with(&[bof, record(0x0200, &dims), cell(0, 0), eof]);
        assert!(check_xls(&stated).unwrap_err().contains("A1:GR4294967295"));
        let no_workbook = {
            let mut file = cfb::CompoundFile::create(Cursor::new(Vec::new())).unwrap();
            file.create_stream("/WordDocument").unwrap();
            file.flush().unwrap();
            file.into_inner().into_inner()
        };
        assert!(check_xls(&no_workbook)
            .unwrap_err()
            .starts_with("this is an OLE2 compound file without a workbook"));
    }

    fn ods_with(content: &str) -> Vec<u8> {
        let mut out = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        out.start_file("content.xml", opts).unwrap();
        out.write_all(content.as_bytes()).unwrap();
        out.finish().unwrap().into_inner()
    }

    #[test]
    fn ods_repeated_cells_count_as_they_repeat() {
        let wrap = |rows: &str| {
            format!("<office:document-content><office:body><office:spreadsheet><table:table table:name=\"S\">{rows}</table:table></office:spreadsheet></office:body></office:document-content>")
        };
        let text_cell =
            "<table:table-cell office:value-type=\"string\"><text:p>x</text:p></table:table-cell>";
        // LibreOffice's trailing empty cells and rows cost nothing.
        let legit = wrap(&format!(
            "<table:table-row>{text_cell}<table:table-cell table:number-columns-repeated=\"16383\"/></table:table-row><table:table-row table:number-rows-repeated=\"1048575\"><table:table-cell table:number-columns-repeated=\"16384\"/></table:table-row>"
        ));
        assert_eq!(check_ods(&ods_with(&legit)), Ok(()));
        let wide = wrap(&format!(
            "<table:table-row><table:table-cell office:value-type=\"string\" table:number-columns-repeated=\"16384\"><text:p>x</text:p></table:table-cell></table:table-row>{}",
            ""
        ));
        assert!(check_ods(&ods_with(&wide)).unwrap_err().contains("A1:XFD1"));
        let tall = wrap(&format!(
            "<table:table-row table:number-rows-repeated=\"1048576\">{text_cell}{text_cell}{text_cell}</table:table-row>"
        ));
        assert!(check_ods(&ods_with(&tall))
            .unwrap_err()
            .contains("(1048576 rows × 2 columns)"));
    }
}
