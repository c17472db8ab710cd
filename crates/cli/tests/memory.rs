//! Hostile input files fail cleanly and cheaply (issue 13 §4): each is run
//! through the real binary and the peak resident memory of the child
//! processes is read from `getrusage(RUSAGE_CHILDREN)` — a memory ceiling
//! checked by the harness, not a clock. One test in this binary, so no other
//! test's children count.

mod support;

use std::io::Write;
use support::{fixture, fl, TestDb};

/// Peak RSS of any input is at most 64 MB (plus the largest legitimate
/// sheet; these hostile files hold none).
const CEILING_KB: i64 = 64 * 1024;

fn peak_child_rss_kb() -> i64 {
    // SAFETY: getrusage fills the struct we pass; RUSAGE_CHILDREN is valid.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    assert_eq!(
        unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) },
        0
    );
    usage.ru_maxrss
}

/// A one-sheet workbook with the given worksheet XML.
fn xlsx_with_sheet(sheet_xml: &str) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    let parts = [
        (
            "[Content_Types].xml",
            r#"<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>"#,
        ),
        (
            "_rels/.rels",
            r#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>"#,
        ),
        (
            "xl/workbook.xml",
            r#"<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="S" sheetId="1" r:id="rId1"/></sheets></workbook>"#,
        ),
        (
            "xl/_rels/workbook.xml.rels",
            r#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>"#,
        ),
        ("xl/worksheets/sheet1.xml", sheet_xml),
    ];
    for (name, body) in parts {
        zip.start_file(name, opts).unwrap();
        zip.write_all(body.as_bytes()).unwrap();
    }
    zip.finish().unwrap().into_inner()
}

fn sheet(dimension: &str, cells: &[(&str, &str)]) -> String {
    let mut xml = String::from(
        r#"<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">"#,
    );
    xml.push_str(dimension);
    xml.push_str("<sheetData>");
    for (at, text) in cells {
        let row: String = at.chars().filter(char::is_ascii_digit).collect();
        xml.push_str(&format!(
            r#"<row r="{row}"><c r="{at}" t="inlineStr"><is><t>{text}</t></is></c></row>"#
        ));
    }
    xml.push_str("</sheetData></worksheet>");
    xml
}

/// An Excel 97–2003 workbook stream with number cells at A1 and IV65536:
/// calamine would build the 65536 × 256 grid between them when opening it.
fn xls_two_far_cells() -> Vec<u8> {
    let record = |kind: u16, data: &[u8]| {
        let mut out = kind.to_le_bytes().to_vec();
        out.extend((data.len() as u16).to_le_bytes());
        out.extend(data);
        out
    };
    let number = |row: u16, col: u16| {
        let mut data = row.to_le_bytes().to_vec();
        data.extend(col.to_le_bytes());
        data.extend([0u8; 10]);
        record(0x0203, &data)
    };
    let bof = |kind: u16| {
        let mut data = 0x0600u16.to_le_bytes().to_vec();
        data.extend(kind.to_le_bytes());
        data.extend([0u8; 12]);
        record(0x0809, &data)
    };
    // Globals: BOF, one BOUNDSHEET pointing at the sheet's BOF, EOF.
    let boundsheet = |at: u32| {
        let mut data = at.to_le_bytes().to_vec();
        data.extend([0, 0, 1, 0, b'S']);
        record(0x0085, &data)
    };
    let globals_len = bof(5).len() + boundsheet(0).len() + 4;
    let stream = [
        bof(5),
        boundsheet(globals_len as u32),
        record(0x000A, &[]),
        bof(0x10),
        number(0, 0),
        number(65535, 255),
        record(0x000A, &[]),
    ]
    .concat();
    let mut file = cfb::CompoundFile::create(std::io::Cursor::new(Vec::new())).unwrap();
    file.create_stream("/Workbook")
        .unwrap()
        .write_all(&stream)
        .unwrap();
    file.flush().unwrap();
    file.into_inner().into_inner()
}

const DISB_HEADER: &str = "voucher_no,paid_on,region_code,project_code,amount_yuan\n";

/// Streams `parts` (text, repeat count) into a file without holding it.
fn big_file(dir: &std::path::Path, name: &str, parts: &[(&str, usize)]) -> String {
    let path = dir.join(name);
    let mut out = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    for (text, times) in parts {
        for _ in 0..*times {
            out.write_all(text.as_bytes()).unwrap();
        }
    }
    out.flush().unwrap();
    path.display().to_string()
}

#[test]
fn hostile_inputs_fail_cleanly_within_the_memory_ceiling() {
    let dir = tempfile::tempdir().unwrap();
    let db = TestDb::sqlite();
    fl(&db, &["init"]).ok();
    fl(
        &db,
        &["projects", "import", &fixture("reference/projects.csv")],
    )
    .ok();
    let far = dir.path().join("far.xlsx");
    std::fs::write(
        &far,
        xlsx_with_sheet(&sheet(
            r#"<dimension ref="A1:XFD1048576"/>"#,
            &[("A1", "序号"), ("XFD1048576", "x")],
        )),
    )
    .unwrap();
    let wide = dir.path().join("wide.xlsx");
    std::fs::write(
        &wide,
        xlsx_with_sheet(&sheet("", &[("A1", "序号"), ("XFD2000", "x")])),
    )
    .unwrap();
    assert!(std::fs::metadata(&far).unwrap().len() < 5 * 1024);
    let xls = dir.path().join("far.xls");
    std::fs::write(&xls, xls_two_far_cells()).unwrap();
    let mb = 1024 * 1024;
    let cases: Vec<(&str, String, i32, &str)> = vec![
        (
            "indicators",
            far.display().to_string(),
            1,
            "sheet `S`: the sheet's stated size is too large: cell XFD1048576 is beyond the limit of 1000 columns",
        ),
        (
            "indicators",
            wide.display().to_string(),
            1,
            "sheet `S`: cell XFD2000 is beyond the limit of 1000 columns",
        ),
        (
            "indicators",
            xls.display().to_string(),
            1,
            "a sheet spans A1:IV65536 (65536 rows × 256 columns), more than the limit",
        ),
        (
            "disbursements",
            big_file(dir.path(), "blank.csv", &[(DISB_HEADER, 1), ("\n", 64 * mb)]),
            0,
            "0 row(s) read",
        ),
        (
            "disbursements",
            big_file(
                dir.path(),
                "columns.csv",
                &[(DISB_HEADER, 1), ("X1,2020-01-01,430111,JS02,1", 1), (",", 50 * mb), ("\n", 1)],
            ),
            1,
            "columns.csv:2: a record longer than 256 KB",
        ),
        (
            "disbursements",
            big_file(
                dir.path(),
                "amount.csv",
                &[(DISB_HEADER, 1), ("X1,2020-01-01,430111,JS02,", 1), ("9", 100 * mb), ("\n", 1)],
            ),
            1,
            "amount.csv:2: a record longer than 256 KB",
        ),
        (
            "disbursements",
            big_file(
                dir.path(),
                "voucher.csv",
                &[(DISB_HEADER, 1), ("V", 100 * mb), (",2020-01-01,430111,JS02,1\n", 1)],
            ),
            1,
            "voucher.csv:2: a record longer than 256 KB",
        ),
        (
            "disbursements",
            big_file(
                dir.path(),
                "cell.csv",
                &[(DISB_HEADER, 1), ("X1,2020-01-01,430111,JS02,", 1), ("9", 5000), ("\n", 1)],
            ),
            1,
            "cell.csv:2: column 5: a cell of 5000 bytes, more than the limit of 4096: `9999999999999999999999999999999999999999…(5000 bytes)`",
        ),
        (
            "disbursements",
            big_file(
                dir.path(),
                "vno.csv",
                &[(DISB_HEADER, 1), ("V", 3000), (",2020-01-01,430111,JS02,1\n", 1)],
            ),
            1,
            "vno.csv:2: voucher_no: `VVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVV…(3000 bytes)` is not a voucher number: more than 64 characters",
        ),
    ];
    for (kind, path, code, message) in &cases {
        let run = fl(&db, &["import", kind, path]).expect_code(*code);
        assert!(run.stderr.contains(message), "{path}: {}", run.stderr);
        assert!(
            run.stderr.len() < 2048,
            "{path}: stderr of {} bytes",
            run.stderr.len()
        );
        let peak = peak_child_rss_kb();
        assert!(
            peak <= CEILING_KB,
            "{path}: peak RSS {peak} KB exceeds {CEILING_KB} KB"
        );
    }
}
