//! Opening an input file: once, only when it is a regular file, its
//! container told by its content (not its name), and the SHA-256 of exactly
//! the bytes that are parsed.
//!
//! Workbooks and HTML pages are read into memory once (within
//! `MAX_WORKBOOK_BYTES`) and hashed from that buffer. Text tables stream: the
//! first pass hashes the file (and detects the encoding), the parse pass
//! hashes what it reads again, and a file that changed in between is refused
//! at its end, so the recorded hash is always that of the parsed bytes.

use crate::context::EncodingChoice;
use crate::decode::detect_encoding;
use crate::error::RowError;
use crate::limits::MAX_WORKBOOK_BYTES;
use encoding_rs::Encoding;
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::{self, Cursor, Read, Seek, SeekFrom};
use std::path::Path;

/// What kind of table file this is, by its content.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Container {
    /// Office Open XML workbook (ZIP with xl/workbook.xml).
    Xlsx,
    /// Excel binary workbook (ZIP with xl/workbook.bin).
    Xlsb,
    /// OpenDocument spreadsheet (ZIP with mimetype …spreadsheet).
    Ods,
    /// Excel 97–2003 / WPS `.et` (OLE2 compound file).
    Xls,
    /// An HTML page holding the table (what many web systems save as "xls").
    Html,
    /// Comma-separated text.
    Csv,
    /// Tab-separated text (another common web-system "xls").
    Tsv,
}

impl Container {
    pub fn describe(self) -> &'static str {
        match self {
            Container::Xlsx => "an XLSX workbook",
            Container::Xlsb => "an XLSB workbook",
            Container::Ods => "an ODS spreadsheet",
            Container::Xls => "an Excel 97–2003 workbook",
            Container::Html => "an HTML table",
            Container::Csv => "a CSV file",
            Container::Tsv => "a tab-separated text file",
        }
    }

    pub fn is_workbook(self) -> bool {
        matches!(
            self,
            Container::Xlsx | Container::Xlsb | Container::Ods | Container::Xls
        )
    }
}

/// An opened input file.
pub struct Input {
    pub label: String,
    pub container: Container,
    sha256: String,
    pub(crate) body: Body,
}

pub(crate) enum Body {
    /// The whole file (workbooks, HTML).
    Bytes(Vec<u8>),
    /// A text table, rewound, to be decoded as `encoding`.
    Text {
        file: File,
        encoding: &'static Encoding,
    },
}

impl Input {
    /// SHA-256 (hex) of the file's bytes; for a text table, the parse pass
    /// checks that it read these same bytes.
    pub fn sha256(&self) -> &str {
        &self.sha256
    }

    /// An input from bytes already in memory (tests, fuzzing).
    pub fn from_bytes(label: &str, bytes: Vec<u8>) -> Result<Input, RowError> {
        let head = &bytes[..bytes.len().min(SNIFF_BYTES)];
        let container = match sniff(head) {
            Sniff::Zip => zip_container(&bytes).map_err(|m| RowError::file(label, m))?,
            Sniff::Ole2 => Container::Xls,
            Sniff::Html => Container::Html,
            Sniff::Refused(what) => return Err(RowError::file(label, what)),
            Sniff::Text(_) => return Err(RowError::file(label, "text tables are read from files")),
        };
        Ok(Input {
            label: label.to_string(),
            container,
            sha256: hex::encode(Sha256::digest(&bytes)),
            body: Body::Bytes(bytes),
        })
    }
}

const SNIFF_BYTES: usize = 8 * 1024;

/// Open `path` once. Refuses anything but a regular file (a FIFO, a device, a
/// directory) without blocking on it.
pub fn open_input(path: &Path, label: &str, encoding: EncodingChoice) -> Result<Input, RowError> {
    let mut file = open_regular(path).map_err(|m| RowError::file(label, m))?;
    let io_err = |e: io::Error| RowError::file(label, format!("cannot read: {e}"));
    let mut head = Vec::with_capacity(SNIFF_BYTES);
    (&mut file)
        .take(SNIFF_BYTES as u64)
        .read_to_end(&mut head)
        .map_err(io_err)?;
    let container = match sniff(&head) {
        Sniff::Refused(what) => return Err(RowError::file(label, what)),
        Sniff::Text(container) => container,
        Sniff::Zip | Sniff::Ole2 | Sniff::Html => {
            let bytes = read_whole(&mut file, head).map_err(|m| RowError::file(label, m))?;
            return Input::from_bytes(label, bytes);
        }
    };
    file.seek(SeekFrom::Start(0)).map_err(io_err)?;
    let mut hashing = HashingReader::new(&mut file);
    io::copy(&mut hashing, &mut io::sink()).map_err(io_err)?;
    let sha256 = hashing.hex_digest();
    // Detection may scan more than once (UTF-8, then GB18030); each scan
    // reads the same open file from its start. What is parsed is hashed again
    // and compared with `sha256`, so a change in between is refused.
    let encoding = detect_encoding(encoding, || {
        let mut again = file.try_clone()?;
        again.seek(SeekFrom::Start(0))?;
        Ok(again)
    })
    .map_err(io_err)?;
    file.seek(SeekFrom::Start(0)).map_err(io_err)?;
    Ok(Input {
        label: label.to_string(),
        container,
        sha256,
        body: Body::Text { file, encoding },
    })
}

/// Opens without following into a FIFO's blocking open, then checks the
/// opened handle itself (not the path, which could be swapped meanwhile).
fn open_regular(path: &Path) -> Result<File, String> {
    use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| format!("cannot open: {e}"))?;
    let kind = file
        .metadata()
        .map_err(|e| format!("cannot open: {e}"))?
        .file_type();
    let what = if kind.is_file() {
        return Ok(file);
    } else if kind.is_dir() {
        "a directory"
    } else if kind.is_fifo() {
        "a FIFO (named pipe)"
    } else if kind.is_socket() {
        "a socket"
    } else if kind.is_char_device() || kind.is_block_device() {
        "a device"
    } else {
        "not a regular file"
    };
    Err(format!(
        "this is {what}, not a regular file: give a file saved on disk"
    ))
}

fn read_whole(file: &mut File, head: Vec<u8>) -> Result<Vec<u8>, String> {
    let mut bytes = head;
    file.take(MAX_WORKBOOK_BYTES + 1 - bytes.len() as u64)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read: {e}"))?;
    if bytes.len() as u64 > MAX_WORKBOOK_BYTES {
        return Err(format!(
            "the file is larger than {} MB, the limit for a workbook or HTML table; save the table as CSV",
            MAX_WORKBOOK_BYTES >> 20
        ));
    }
    Ok(bytes)
}

/// Reads through, hashing every byte that passes.
pub(crate) struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
}

impl<R: Read> HashingReader<R> {
    pub(crate) fn new(inner: R) -> Self {
        HashingReader {
            inner,
            hasher: Sha256::new(),
        }
    }

    pub(crate) fn hex_digest(&self) -> String {
        hex::encode(self.hasher.clone().finalize())
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

enum Sniff {
    Zip,
    Ole2,
    Html,
    Text(Container),
    Refused(String),
}

/// The container, told from the first bytes.
fn sniff(head: &[u8]) -> Sniff {
    const MAGIC: &[(&[u8], &str)] = &[
        (b"%PDF", "a PDF document"),
        (b"\x89PNG", "a PNG image"),
        (b"\xFF\xD8\xFF", "a JPEG image"),
        (b"GIF8", "a GIF image"),
        (b"Rar!", "a RAR archive"),
        (b"7z\xBC\xAF", "a 7-Zip archive"),
        (b"\x1F\x8B", "a gzip archive"),
        (b"{\\rtf", "an RTF document"),
        (b"\xFF\xFE", "UTF-16 text (Excel's \"Unicode text\")"),
        (b"\xFE\xFF", "UTF-16 text"),
    ];
    if head.starts_with(b"PK\x03\x04") || head.starts_with(b"PK\x05\x06") {
        return Sniff::Zip;
    }
    if head.starts_with(b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1") {
        return Sniff::Ole2;
    }
    if let Some((_, what)) = MAGIC.iter().find(|(magic, _)| head.starts_with(magic)) {
        return Sniff::Refused(format!(
            "this is {what}, not a table: save the table as XLSX, XLS, ODS or CSV"
        ));
    }
    if head.contains(&0) {
        return Sniff::Refused(
            "this is a binary file of an unknown kind, not a table: save the table as XLSX, XLS, ODS or CSV"
                .to_string(),
        );
    }
    sniff_text(head)
}

fn sniff_text(head: &[u8]) -> Sniff {
    let body = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    let start = body.iter().position(|b| !b.is_ascii_whitespace());
    let trimmed = start.map_or(&body[..0], |i| &body[i..]);
    if trimmed.first() == Some(&b'<') {
        let lower = trimmed.to_ascii_lowercase();
        let has = |needle: &[u8]| lower.windows(needle.len()).any(|w| w == needle);
        if has(b"urn:schemas-microsoft-com:office:spreadsheet") && !has(b"<html") {
            return Sniff::Refused(
                "this is an XML Spreadsheet 2003 file: open it in Excel or WPS and save it as XLSX"
                    .to_string(),
            );
        }
        if has(b"<html") || has(b"<table") || has(b"<!doctype html") || has(b"<meta") {
            return Sniff::Html;
        }
        return Sniff::Refused(
            "this is an XML or markup file, not a table: save the table as XLSX, XLS, ODS or CSV"
                .to_string(),
        );
    }
    Sniff::Text(if is_tab_separated(body) {
        Container::Tsv
    } else {
        Container::Csv
    })
}

/// Tab-separated when the first lines hold more tabs than commas (neither
/// byte occurs inside a multi-byte UTF-8 or GB18030 character).
fn is_tab_separated(head: &[u8]) -> bool {
    let first_lines = head.split(|&b| b == b'\n').take(12);
    let (mut tabs, mut commas) = (0usize, 0usize);
    for line in first_lines {
        tabs += line.iter().filter(|&&b| b == b'\t').count();
        commas += line.iter().filter(|&&b| b == b',').count();
    }
    tabs > commas
}

/// Which workbook a ZIP archive holds, or what it is instead.
fn zip_container(bytes: &[u8]) -> Result<Container, String> {
    let archive = zip::ZipArchive::new(Cursor::new(bytes))
        .map_err(|e| format!("this is a damaged ZIP archive, not a readable workbook: {e}"))?;
    let has = |name: &str| archive.index_for_name(name).is_some();
    if has("xl/workbook.xml") {
        return Ok(Container::Xlsx);
    }
    if has("xl/workbook.bin") {
        return Ok(Container::Xlsb);
    }
    let mimetype = zip_mimetype(bytes);
    if mimetype.contains("opendocument.spreadsheet") && has("content.xml") {
        return Ok(Container::Ods);
    }
    let what = if has("word/document.xml") {
        "a Word document (.docx)"
    } else if has("ppt/presentation.xml") {
        "a PowerPoint presentation (.pptx)"
    } else if mimetype.contains("opendocument.text") {
        "an OpenDocument text (.odt)"
    } else {
        "a ZIP archive without a workbook"
    };
    Err(format!(
        "this is {what}, not a table: save the table as XLSX, XLS, ODS or CSV"
    ))
}

fn zip_mimetype(bytes: &[u8]) -> String {
    let Ok(mut archive) = zip::ZipArchive::new(Cursor::new(bytes)) else {
        return String::new();
    };
    let Ok(entry) = archive.by_name("mimetype") else {
        return String::new();
    };
    let mut text = String::new();
    let _ = entry.take(200).read_to_string(&mut text);
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(bytes: &[u8], want: Result<Container, &str>) {
        let got = match sniff(bytes) {
            Sniff::Zip => zip_container(bytes),
            Sniff::Ole2 => Ok(Container::Xls),
            Sniff::Html => Ok(Container::Html),
            Sniff::Text(c) => Ok(c),
            Sniff::Refused(m) => Err(m),
        };
        match (got, want) {
            (Ok(c), Ok(w)) => assert_eq!(c, w),
            (Err(m), Err(w)) => assert!(m.contains(w), "{m} lacks {w}"),
            (got, want) => panic!("{got:?} vs {want:?}"),
        }
    }

    fn zip_of(entries: &[(&str, &str)]) -> Vec<u8> {
        use std::io::Write;
        let mut out = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored);
        for (name, text) in entries {
            out.start_file(*name, opts).unwrap();
            out.write_all(text.as_bytes()).unwrap();
        }
        out.finish().unwrap().into_inner()
    }

    #[test]
    fn containers_by_content() {
        check(b"%PDF-1.7\n...", Err("this is a PDF document"));
        check(b"\x89PNG\r\n", Err("a PNG image"));
        check(b"a,b\x00c", Err("a binary file"));
        check(b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1rest", Ok(Container::Xls));
        check(b"<html><body><p>hi</p></body></html>", Ok(Container::Html));
        check(
            b"\xEF\xBB\xBF  <table><tr><td>1</td></tr></table>",
            Ok(Container::Html),
        );
        check(
            b"<?xml version=\"1.0\"?><Workbook xmlns=\"urn:schemas-microsoft-com:office:spreadsheet\">",
            Err("XML Spreadsheet 2003"),
        );
        check(b"<?xml version=\"1.0\"?><a/>", Err("an XML or markup file"));
        check("序号,地区\n1,长沙市\n".as_bytes(), Ok(Container::Csv));
        check(
            "序号\t地区\t合计\n1\t长沙市\t1,000.00\n".as_bytes(),
            Ok(Container::Tsv),
        );
        check(b"", Ok(Container::Csv));
        check(
            &zip_of(&[("xl/workbook.xml", "<workbook/>")]),
            Ok(Container::Xlsx),
        );
        check(
            &zip_of(&[
                ("mimetype", "application/vnd.oasis.opendocument.spreadsheet"),
                ("content.xml", "<x/>"),
            ]),
            Ok(Container::Ods),
        );
        check(
            &zip_of(&[("word/document.xml", "<w/>")]),
            Err("a Word document"),
        );
        check(
            &zip_of(&[("notes.txt", "hello")]),
            Err("this is a ZIP archive without a workbook"),
        );
        check(b"PK\x03\x04garbage", Err("a damaged ZIP archive"));
    }

    #[test]
    fn a_fifo_is_refused_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("pipe.csv");
        let c_path = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: mkfifo on a NUL-terminated path we own.
        assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
        let err = open_input(&fifo, "pipe.csv", EncodingChoice::Auto)
            .err()
            .unwrap();
        assert_eq!(
            err.to_string(),
            "pipe.csv: this is a FIFO (named pipe), not a regular file: give a file saved on disk"
        );
        let err = open_input(dir.path(), "d", EncodingChoice::Auto)
            .err()
            .unwrap();
        assert!(err.to_string().contains("this is a directory"), "{err}");
    }

    #[test]
    fn text_hash_is_of_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.csv");
        std::fs::write(&path, "a,b\n1,2\n").unwrap();
        let input = open_input(&path, "t.csv", EncodingChoice::Auto).unwrap();
        assert_eq!(input.container, Container::Csv);
        assert_eq!(input.sha256(), hex::encode(Sha256::digest(b"a,b\n1,2\n")));
    }
}
