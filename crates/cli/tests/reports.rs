//! `reconcile --format xlsx` read back with calamine, for the Hunan 2020 demo
//! and the Guangdong 2021 example, against the CSV report of the same ledger
//! and filters: every amount cell numeric and exact to the fen, each
//! prefecture sheet's totals equal to its summary row, the summary total
//! equal to the CSV's, 异常 exactly the CSV's overdue/over/late/unmatched
//! rows, the title line tied to `verify`'s chain head. And the usage errors.

mod support;

use calamine::{open_workbook, Data, Range, Reader, Xlsx};
use chrono::NaiveDate;
use std::collections::BTreeMap;
use std::path::Path;
use support::*;

type Row = BTreeMap<String, String>;

/// The workbook's sheets in order.
fn read_book(path: &Path) -> Book {
    let mut book: Xlsx<_> = open_workbook(path).expect("open the written workbook");
    let names = book.sheet_names().to_vec();
    names
        .into_iter()
        .map(|n| {
            let range = book.worksheet_range(&n).expect("read a sheet");
            (n, range)
        })
        .collect()
}

/// An amount cell: a number whose double is exactly its two-place decimal.
fn amount(cell: &Data, at: &str) -> i64 {
    let Data::Float(f) = cell else {
        panic!("{at}: amount cell is not a number: {cell:?}");
    };
    let fen = (f * 100.0).round() as i64;
    let text = format!(
        "{}{}.{:02}",
        if fen < 0 { "-" } else { "" },
        fen.abs() / 100,
        fen.abs() % 100
    );
    assert_eq!(
        text.parse::<f64>().unwrap(),
        *f,
        "{at}: {f} is not the double of {text}"
    );
    fen
}

fn text(cell: &Data) -> String {
    match cell {
        Data::Empty => String::new(),
        Data::String(s) => s.clone(),
        Data::Float(f) if f.fract() == 0.0 => format!("{f:.0}"),
        other => panic!("expected text or an integer, got {other:?}"),
    }
}

fn date(cell: &Data, at: &str) -> String {
    match cell {
        Data::Empty => String::new(),
        Data::DateTime(d) => {
            let serial = d.as_f64();
            assert_eq!(serial.fract(), 0.0, "{at}: a date has no time");
            let epoch = NaiveDate::from_ymd_opt(1899, 12, 30).unwrap();
            (epoch + chrono::Days::new(serial as u64)).to_string()
        }
        other => panic!("{at}: not a date cell: {other:?}"),
    }
}

/// The Chinese status labels, restated here so the test does not trust the
/// writer's own table.
fn status_code(label: &str) -> &'static str {
    match label {
        "已结清" => "settled",
        "逾期结清" => "late",
        "超拨" => "over",
        "未到期" => "open",
        "逾期" => "overdue",
        "未匹配" => "unmatched",
        other => panic!("unknown status label {other:?}"),
    }
}

const HEADER_ROW: usize = 2;

/// Data rows of a sheet (below the header), up to the first empty row.
fn body(range: &Range<Data>) -> Vec<&[Data]> {
    range
        .rows()
        .skip(HEADER_ROW + 1)
        .take_while(|r| r.iter().any(|c| *c != Data::Empty))
        .collect()
}

/// A prefecture sheet's row in the CSV's shape (unmatched are not lines).
fn line_row(r: &[Data], at: &str) -> Row {
    let cols = [
        ("fiscal_year", text(&r[0])),
        ("origin_year", text(&r[1])),
        ("doc_no", text(&r[2])),
        ("doc_date", date(&r[3], at)),
        ("region_code", text(&r[4])),
        ("region_name", text(&r[5])),
        ("project_code", text(&r[6])),
        ("project_name", text(&r[7])),
        ("allocated", fen_text(amount(&r[8], at))),
        ("disbursed", fen_text(amount(&r[9], at))),
        ("outstanding", fen_text(amount(&r[10], at))),
        ("due_date", date(&r[12], at)),
        ("settled_on", date(&r[13], at)),
        ("status", status_code(&text(&r[14])).to_string()),
        ("voucher_no", String::new()),
    ];
    cols.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

fn fen_text(fen: i64) -> String {
    let sign = if fen < 0 { "-" } else { "" };
    format!("{sign}{}.{:02}", fen.abs() / 100, fen.abs() % 100)
}

/// An 异常 row in the CSV's shape, minus the columns 异常 does not carry.
fn exception_row(r: &[Data], at: &str) -> Vec<String> {
    let opt_amount = |c: &Data| match c {
        Data::Empty => String::new(),
        c => fen_text(amount(c, at)),
    };
    vec![
        status_code(&text(&r[0])).to_string(),
        text(&r[1]),
        text(&r[2]),
        text(&r[3]),
        text(&r[4]),
        text(&r[5]),
        text(&r[6]),
        text(&r[7]),
        opt_amount(&r[8]),
        fen_text(amount(&r[9], at)),
        opt_amount(&r[10]),
        date(&r[11], at),
        date(&r[12], at),
    ]
}

fn csv_exception(r: &Row) -> Vec<String> {
    [
        "status",
        "fiscal_year",
        "region_code",
        "region_name",
        "project_code",
        "project_name",
        "doc_no",
        "voucher_no",
        "allocated",
        "disbursed",
        "outstanding",
        "due_date",
        "settled_on",
    ]
    .iter()
    .map(|k| r[*k].clone())
    .collect()
}

/// Lines, allocated, disbursed, outstanding and the five status counts.
#[derive(Debug, Default, PartialEq, Eq, Clone)]
struct Sums {
    lines: i64,
    allocated: i64,
    disbursed: i64,
    outstanding: i64,
    counts: [i64; 5],
}

const STATUS_ORDER: [&str; 5] = ["settled", "late", "over", "open", "overdue"];

impl Sums {
    fn add_csv(&mut self, r: &Row) {
        self.lines += 1;
        self.allocated += fen(&r["allocated"]);
        self.disbursed += fen(&r["disbursed"]);
        self.outstanding += fen(&r["outstanding"]);
        let at = STATUS_ORDER.iter().position(|s| *s == r["status"]).unwrap();
        self.counts[at] += 1;
    }
    /// A 汇总 row: code, name, lines, three amounts, rate, five counts.
    fn of_summary(r: &[Data], at: &str) -> Sums {
        let count = |c: &Data| text(c).parse::<i64>().expect("a count");
        Sums {
            lines: count(&r[2]),
            allocated: amount(&r[3], at),
            disbursed: amount(&r[4], at),
            outstanding: amount(&r[5], at),
            counts: std::array::from_fn(|i| count(&r[7 + i])),
        }
    }
}

fn is_exception(status: &str) -> bool {
    matches!(status, "overdue" | "over" | "late" | "unmatched")
}

fn prefecture_of(region_code: &str) -> String {
    format!("{}00", &region_code[..4])
}

type Book = Vec<(String, Range<Data>)>;

/// Every check of the issue on one workbook against the CSV of the same
/// ledger, date and filters.
fn check_book(book_path: &Path, csv_text: &str, head: &str, entries: i64, as_of: &str) {
    let book = read_book(book_path);
    let csv = csv_rows(csv_text);
    let ctx = book_path.display().to_string();
    check_titles(&book, head, entries, as_of, &ctx);
    let lines: Vec<&Row> = csv.iter().filter(|r| r["status"] != "unmatched").collect();
    let csv_by_pref = check_summary(&book, &lines, &ctx);
    check_prefecture_sheets(&book, &lines, &csv_by_pref, &ctx);
    check_exceptions(&book, &csv, &ctx);
}

/// A title line on every sheet: as-of date, then the chain head and count.
fn check_titles(book: &Book, head: &str, entries: i64, as_of: &str, ctx: &str) {
    for (name, range) in book {
        let title = text(range.get((0, 0)).expect("title cell"));
        let meta = text(range.get((1, 0)).expect("meta cell"));
        assert!(title.contains(as_of), "{ctx} {name}: title {title:?}");
        assert!(
            meta.contains(head) && meta.contains(&format!("分录数 {entries}")),
            "{ctx} {name}: {meta:?} lacks chain head {head} / {entries} entries"
        );
        assert!(meta.contains("财政年度"), "{ctx} {name}: {meta:?}");
    }
    assert_eq!(book.first().unwrap().0, "汇总", "{ctx}");
    assert_eq!(book.last().unwrap().0, "异常", "{ctx}");
}

/// 汇总: one row per prefecture of the CSV, then the total equal to the
/// CSV's. Returns the CSV's sums per prefecture.
fn check_summary(book: &Book, lines: &[&Row], ctx: &str) -> BTreeMap<String, Sums> {
    let summary = body(&book[0].1);
    let (total_row, pref_rows) = summary.split_last().expect("a total row");
    assert_eq!(text(&total_row[0]), "合计", "{ctx}");
    let mut csv_total = Sums::default();
    let mut csv_by_pref: BTreeMap<String, Sums> = BTreeMap::new();
    for r in lines {
        csv_total.add_csv(r);
        csv_by_pref
            .entry(prefecture_of(&r["region_code"]))
            .or_default()
            .add_csv(r);
    }
    assert_eq!(Sums::of_summary(total_row, ctx), csv_total, "{ctx}: total");
    let pref_codes: Vec<String> = pref_rows.iter().map(|r| text(&r[0])).collect();
    assert_eq!(
        pref_codes,
        csv_by_pref.keys().cloned().collect::<Vec<_>>(),
        "{ctx}: one summary row per prefecture of the CSV"
    );
    csv_by_pref
}

/// One sheet per prefecture: its rows are the CSV's lines of that
/// prefecture, and its totals equal its summary row.
fn check_prefecture_sheets(
    book: &Book,
    lines: &[&Row],
    csv_by_pref: &BTreeMap<String, Sums>,
    ctx: &str,
) {
    let summary = body(&book[0].1);
    let pref_rows = &summary[..summary.len() - 1];
    let pref_sheets = &book[1..book.len() - 1];
    assert_eq!(pref_sheets.len(), pref_rows.len(), "{ctx}");
    let mut book_lines: Vec<Row> = Vec::new();
    for ((name, range), srow) in pref_sheets.iter().zip(pref_rows) {
        let at = format!("{ctx} sheet {name}");
        assert_eq!(*name, text(&srow[1]), "{at}: sheet named by prefecture");
        let rows = body(range);
        let (total, data) = rows.split_last().expect("a total row");
        assert_eq!(text(&total[0]), "合计", "{at}");
        let mut sums = Sums::default();
        for r in data {
            let row = line_row(r, &at);
            sums.add_csv(&row);
            book_lines.push(row);
        }
        let summary = Sums::of_summary(srow, &at);
        assert_eq!(sums, summary, "{at}: rows against 汇总");
        let sheet_total = [8, 9, 10].map(|c| amount(&total[c], &at));
        assert_eq!(
            sheet_total,
            [summary.allocated, summary.disbursed, summary.outstanding],
            "{at}: total row against 汇总"
        );
        assert_eq!(sums, csv_by_pref[&text(&srow[0])], "{at}: against the CSV");
    }
    let mut want: Vec<Row> = lines.iter().map(|r| (*r).clone()).collect();
    want.sort();
    book_lines.sort();
    assert_eq!(
        book_lines, want,
        "{ctx}: prefecture sheets hold the CSV lines"
    );
}

/// 异常: exactly the CSV rows with those statuses, in the CSV's order.
fn check_exceptions(book: &Book, csv: &[Row], ctx: &str) {
    let exceptions: Vec<Vec<String>> = body(&book.last().unwrap().1)
        .iter()
        .map(|r| exception_row(r, ctx))
        .collect();
    let want: Vec<Vec<String>> = csv
        .iter()
        .filter(|r| is_exception(&r["status"]))
        .map(csv_exception)
        .collect();
    assert_eq!(exceptions, want, "{ctx}: 异常 against the CSV");
    let unmatched = csv.iter().filter(|r| r["status"] == "unmatched").count();
    assert_eq!(
        exceptions.iter().filter(|r| r[0] == "unmatched").count(),
        unmatched,
        "{ctx}"
    );
}

/// One XML part of the workbook.
fn part(zip: &mut zip::ZipArchive<std::fs::File>, name: &str) -> String {
    let mut text = String::new();
    std::io::Read::read_to_string(&mut zip.by_name(name).expect(name), &mut text).unwrap();
    text
}

/// What calamine does not show: number formats, frozen header, autofilter,
/// and the print setup (A4 landscape, one page wide, title and header rows
/// repeated), on every sheet.
fn check_layout(book_path: &Path, sheets: usize) {
    let mut zip = zip::ZipArchive::new(std::fs::File::open(book_path).unwrap()).unwrap();
    let styles = part(&mut zip, "xl/styles.xml");
    for code in ["#,##0.00", "0.00%", "yyyy-mm-dd"] {
        assert!(styles.contains(&format!("formatCode=\"{code}\"")), "{code}");
    }
    let workbook = part(&mut zip, "xl/workbook.xml");
    assert_eq!(workbook.matches("_xlnm.Print_Titles").count(), sheets);
    assert_eq!(workbook.matches("!$1:$3</definedName>").count(), sheets);
    for i in 1..=sheets {
        let sheet = part(&mut zip, &format!("xl/worksheets/sheet{i}.xml"));
        for want in [
            "<pane ySplit=\"3\" topLeftCell=\"A4\" activePane=\"bottomLeft\" state=\"frozen\"/>",
            "<autoFilter ref=\"A3:",
            "<pageSetUpPr fitToPage=\"1\"/>",
            "<pageSetup paperSize=\"9\" fitToHeight=\"0\" orientation=\"landscape\"",
            "customWidth=\"1\"",
        ] {
            assert!(sheet.contains(want), "sheet{i}: no {want}");
        }
    }
}

fn verify_head(db: &TestDb) -> (String, i64) {
    let v: serde_json::Value =
        serde_json::from_str(&fl(db, &["verify", "--format", "json"]).ok().stdout).unwrap();
    let head = v["chain_head"]
        .as_str()
        .expect("verify json: chain_head")
        .to_string();
    (head, v["entries"].as_i64().expect("verify json: entries"))
}

fn xlsx_and_csv(db: &TestDb, dir: &Path, as_of: &str, filters: &[&str]) -> (String, String) {
    let file = dir.join(format!("r_{as_of}_{}.xlsx", filters.join("_")));
    let mut args = vec!["--format", "xlsx", "--output", file.to_str().unwrap()];
    args.extend_from_slice(filters);
    reconcile(db, as_of, &args).ok();
    (
        file.display().to_string(),
        reconcile_csv(db, as_of, filters),
    )
}

#[test]
fn guangdong_workbook_agrees_with_the_csv_report() {
    for db in TestDb::all() {
        gd_ledger(&db);
        let dir = tempfile::tempdir().unwrap();
        let (head, entries) = verify_head(&db);
        for as_of in ["2021-06-30", "2021-09-30"] {
            for filters in [
                &[][..],
                &["--region", "440200"][..],
                &["--project", "JS08", "--fiscal-year", "2021"][..],
                &["--region", "440100", "--project", "JS02"][..],
            ] {
                let (file, csv) = xlsx_and_csv(&db, dir.path(), as_of, filters);
                check_book(Path::new(&file), &csv, &head, entries, as_of);
            }
        }
    }
}

#[test]
fn hunan_demo_workbook_agrees_with_the_csv_report() {
    let dir = tempfile::tempdir().unwrap();
    let db = TestDb::sqlite();
    let out_dir = dir.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();
    let demo = fl(
        &db,
        &[
            "demo",
            "--format",
            "csv",
            "--output-dir",
            out_dir.to_str().unwrap(),
        ],
    )
    .ok();
    let (head, entries) = verify_head(&db);
    let book = out_dir.join("reconcile_2020-12-31.xlsx");
    check_book(&book, &demo.stdout, &head, entries, "2020-12-31");
    // 汇总, 14 prefectures, 异常.
    check_layout(&book, 16);
    assert!(out_dir.join("reconcile_2020-12-31.html").is_file());
    for filters in [
        &["--region", "431100"][..],
        &["--project", "JS08", "--fiscal-year", "2020"][..],
    ] {
        let (file, csv) = xlsx_and_csv(&db, dir.path(), "2020-12-31", filters);
        check_book(Path::new(&file), &csv, &head, entries, "2020-12-31");
    }
}

#[test]
fn english_labels_with_lang_en_and_csv_columns_unchanged() {
    let db = TestDb::sqlite();
    gd_ledger(&db);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("en.xlsx");
    let f = file.to_str().unwrap();
    reconcile(
        &db,
        "2021-06-30",
        &["--format", "xlsx", "--output", f, "--lang", "en"],
    )
    .ok();
    let book = read_book(&file);
    let names: Vec<&str> = book.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        ["Summary", "广州市", "韶关市", "佛山市", "Exceptions"]
    );
    assert_eq!(text(&book[0].1[(HEADER_ROW, 3)]), "allocated");
    let statuses: Vec<String> = body(&book[4].1).iter().map(|r| text(&r[0])).collect();
    assert!(statuses.iter().all(|s| is_exception(s)), "{statuses:?}");
    // --lang never changes the CSV contract.
    assert_eq!(
        reconcile_csv(&db, "2021-06-30", &["--lang", "zh"]),
        read_fixture("gd-2021/expected_reconcile_2021-06-30.csv")
    );
}

#[test]
fn csv_to_a_file_through_output_is_the_same_bytes() {
    let db = TestDb::sqlite();
    gd_ledger(&db);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("r.csv");
    reconcile(
        &db,
        "2021-06-30",
        &["--format", "csv", "--output", file.to_str().unwrap()],
    )
    .ok();
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        read_fixture("gd-2021/expected_reconcile_2021-06-30.csv")
    );
}

/// Usage errors exit 2 before the database is touched (here: it does not
/// even exist), and write nothing.
#[test]
fn usage_errors_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let missing_db = format!("sqlite:{}", dir.path().join("none.db").display());
    let in_missing_dir = dir.path().join("no/such/dir/r.xlsx");
    let ok_path = dir.path().join("r.xlsx");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["--format", "xlsx"], "needs --output"),
        (vec!["--format", "html"], "needs --output"),
        (
            vec![
                "--format",
                "xlsx",
                "--output",
                in_missing_dir.to_str().unwrap(),
            ],
            "does not exist",
        ),
        (
            vec!["--format", "html", "--output", dir.path().to_str().unwrap()],
            "is a directory",
        ),
        (
            vec![
                "--format",
                "xlsx",
                "--output",
                ok_path.to_str().unwrap(),
                "--lang",
                "fr",
            ],
            "invalid value 'fr'",
        ),
        (vec!["--format", "pdf"], "invalid value 'pdf'"),
    ];
    for (extra, message) in cases {
        let mut args = vec!["reconcile", "--as-of", "2021-06-30", "--db", &missing_db];
        args.extend(extra);
        let run = fl_bare(&args).expect_code(2);
        assert!(run.stderr.contains(message), "{}: {}", run.what, run.stderr);
        assert!(!ok_path.exists() && !dir.path().join("none.db").exists());
    }
    let run = fl_bare(&[
        "demo",
        "--output-dir",
        dir.path().join("missing").to_str().unwrap(),
    ])
    .expect_code(2);
    assert!(
        run.stderr.contains("not an existing directory"),
        "{}",
        run.stderr
    );
}

/// The same ledger gives the same workbook and page, byte for byte: nothing
/// in them comes from the clock.
#[test]
fn workbook_and_page_are_reproducible() {
    let db = TestDb::sqlite();
    gd_ledger(&db);
    let dir = tempfile::tempdir().unwrap();
    for format in ["xlsx", "html"] {
        let bytes = |name: &str| {
            let file = dir.path().join(format!("{name}.{format}"));
            let f = file.to_str().unwrap();
            reconcile(&db, "2021-06-30", &["--format", format, "--output", f]).ok();
            std::fs::read(&file).unwrap()
        };
        assert!(
            bytes("first") == bytes("second"),
            "{format} differs between runs"
        );
    }
}

/// The terminal table follows `--lang zh` only when asked: its default is
/// English (the snapshots), `--lang en` is that same text, and the Chinese
/// table has the same figures.
#[test]
fn table_speaks_chinese_only_with_lang_zh() {
    let db = TestDb::sqlite();
    gd_ledger(&db);
    let table = |extra: &[&str]| {
        let mut args = vec!["--format", "table"];
        args.extend_from_slice(extra);
        reconcile(&db, "2021-06-30", &args).ok().stdout
    };
    let default = table(&[]);
    assert_eq!(table(&["--lang", "en"]), default);
    let zh = table(&["--lang", "zh"]);
    assert!(zh.starts_with("项目资金对账报告 截至 2021-06-30\n"), "{zh}");
    assert!(zh.contains("异常（逾期、超拨、逾期结清、未匹配）"), "{zh}");
    let figures = |text: &str, label: &str| -> Vec<String> {
        let line = text.lines().find(|l| l.starts_with(label)).expect(label);
        line[label.len()..]
            .split_whitespace()
            .map(str::to_string)
            .collect()
    };
    assert_eq!(figures(&zh, "合计"), figures(&default, "total"));
    let unmatched = |text: &str, label: &str| text.lines().filter(|l| l.starts_with(label)).count();
    assert_eq!(unmatched(&zh, "未匹配"), unmatched(&default, "unmatched"));
}
