//! Wide attachment tables (SPEC §4.5): the Guangdong 2021 12号 table and its
//! rejection variants in fixtures/wide/, read through `open_table` + `parse_wide`.

use chrono::NaiveDate;
use fundledger_core::catalog::ProjectCatalog;
use fundledger_core::divisions::DivisionTable;
use fundledger_core::{DocNo, RegionCode, Unit};
use fundledger_formats::table::open_table;
use fundledger_formats::wide::{looks_wide, parse_wide, WideTable};
use fundledger_formats::{CellValue, ImportContext, RawRow, ReadOptions, RowError};
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

fn fixture(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures")
        .join(path)
}

fn divisions() -> Arc<DivisionTable> {
    static TABLE: OnceLock<Arc<DivisionTable>> = OnceLock::new();
    TABLE
        .get_or_init(|| Arc::new(DivisionTable::builtin()))
        .clone()
}

fn options(label: &str) -> ReadOptions {
    ReadOptions {
        file_label: label.to_string(),
        ..ReadOptions::default()
    }
}

fn read(path: &str, options: ReadOptions) -> Result<WideTable, Vec<RowError>> {
    let ctx = ImportContext {
        divisions: divisions(),
        projects: Arc::new(ProjectCatalog::default_catalog()),
        options,
    };
    let mut table = open_table(&fixture(path), &ctx.options, &looks_wide, "a wide header")
        .expect("header found");
    let rows = table
        .by_ref()
        .collect::<Result<Vec<_>, _>>()
        .expect("rows read");
    parse_wide(&table.preamble, &table.header, rows, &ctx)
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

/// (region, project, yuan, source line)
fn summary(table: &WideTable) -> Vec<(u32, String, i64, u64)> {
    table
        .lines
        .iter()
        .map(|l| {
            assert_eq!(l.amount.as_i64() % 100, 0, "whole yuan in this fixture");
            (
                l.key.region.as_u32(),
                l.key.project.to_string(),
                l.amount.as_i64() / 100,
                l.source.line,
            )
        })
        .collect()
}

#[test]
fn guangdong_12_gives_every_leaf_cell() {
    let label = "gd_2021_12_wide_wan.csv";
    let table = read(&format!("gd-2021/{label}"), options(label)).unwrap();
    let doc = DocNo::parse("粤财社〔2021〕12号").unwrap();
    assert_eq!(table.doc_no, doc);
    assert_eq!(table.doc_date, date(2021, 3, 5));
    assert!(table.new_projects.is_empty());
    let expected: Vec<(u32, &str, i64, u64)> = vec![
        (440100, "JS02", 50000, 9),
        (440100, "JS05", 25000, 9),
        (440103, "JS02", 80000, 10),
        (440103, "JS01", 32000, 10),
        (440104, "JS02", 65000, 11),
        (440104, "JS05", 12500, 11),
        (440222, "JS02", 120000, 13),
        (440222, "JS01", 48000, 13),
        (440222, "JS05", 30000, 13),
        (440281, "JS02", 100000, 14),
        (440281, "JS01", 56000, 14),
        (440200, "JS02", 30000, 15),
        (440600, "JS02", 70000, 16),
        (440600, "JS01", 20000, 16),
        (440600, "JS05", 10000, 16),
    ];
    let expected: Vec<(u32, String, i64, u64)> = expected
        .into_iter()
        .map(|(r, p, y, l)| (r, p.to_string(), y, l))
        .collect();
    assert_eq!(summary(&table), expected);
    for line in &table.lines {
        assert_eq!(line.key.doc_no, doc);
        assert_eq!(line.fiscal_year, 2021);
        assert_eq!(line.doc_date, date(2021, 3, 5));
        assert_eq!(line.func_code.as_deref(), Some("2100799"));
        assert_eq!(line.source.file, label);
    }
}

/// One expected error: its line, its column, and fragments its message holds.
fn check_rejected(path: &str, options: ReadOptions, expected: &[(u64, Option<&str>, &[&str])]) {
    let errors = read(path, options).expect_err(path);
    for (line, column, fragments) in expected {
        let found = errors.iter().any(|e| {
            e.line == *line
                && e.column.as_deref() == *column
                && fragments.iter().all(|f| e.message.contains(f))
        });
        assert!(
            found,
            "{path}: no error at {line} {column:?} with {fragments:?} in {errors:#?}"
        );
    }
    assert_eq!(errors.len(), expected.len(), "{path}: {errors:#?}");
}

#[test]
fn wrong_total_row() {
    check_rejected(
        "wide/wrong_total_row.csv",
        options("t.csv"),
        &[
            (7, Some("合计"), &["合计 row", "74.95", "74.85", "万元"]),
            (7, Some("计生保险"), &["合计 row", "15.70", "15.60"]),
        ],
    );
}

#[test]
fn wrong_subtotal() {
    check_rejected(
        "wide/wrong_subtotal.csv",
        options("t.csv"),
        &[
            (12, Some("合计"), &["韶关市小计", "39.40", "38.40"]),
            (
                12,
                Some("计生三结合帮扶"),
                &["韶关市小计", "26.00", "25.00"],
            ),
        ],
    );
}

#[test]
fn wrong_row_total() {
    // The row's own 合计 cell is wrong, and with it the 合计 column of the
    // prefecture subtotal and of the total row.
    check_rejected(
        "wide/wrong_row_total.csv",
        options("t.csv"),
        &[
            (10, Some("合计"), &["11.30", "11.20", "project cells"]),
            (8, Some("合计"), &["广州市", "26.45", "26.55"]),
            (7, Some("合计"), &["74.85", "74.95"]),
        ],
    );
}

#[test]
fn unknown_county() {
    check_rejected(
        "wide/unknown_county.csv",
        options("t.csv"),
        &[(10, Some("地区"), &["荔枝区", "440100 广州市"])],
    );
}

#[test]
fn ambiguous_prefecture() {
    check_rejected(
        "wide/ambiguous_prefecture.csv",
        options("t.csv"),
        &[(
            16,
            Some("地区"),
            &["朝阳区", "110105 朝阳区", "220104 朝阳区", "--province"],
        )],
    );
    // Narrowed to Guangdong there is no 朝阳区 at all.
    let guangdong = ReadOptions {
        province: Some(RegionCode::from_u32(440000)),
        ..options("t.csv")
    };
    check_rejected(
        "wide/ambiguous_prefecture.csv",
        guangdong,
        &[(16, Some("地区"), &["unknown region 朝阳区"])],
    );
}

#[test]
fn missing_doc_no_and_the_option() {
    check_rejected(
        "wide/missing_doc_no.csv",
        options("t.csv"),
        &[(0, None, &["no document number", "--doc-no"])],
    );
    let given = ReadOptions {
        doc_no: Some(DocNo::parse("粤财社[2021]12号").unwrap()),
        ..options("t.csv")
    };
    let table = read("wide/missing_doc_no.csv", given).unwrap();
    assert_eq!(table.doc_no.to_string(), "粤财社〔2021〕12号");
    assert_eq!(table.lines.len(), 15);
}

#[test]
fn options_agree_or_conflict() {
    let path = "gd-2021/gd_2021_12_wide_wan.csv";
    let same = ReadOptions {
        doc_no: Some(DocNo::parse("粤财社（2021）12号").unwrap()),
        doc_date: Some(date(2021, 3, 5)),
        unit: Some(Unit::Wan),
        ..options("t.csv")
    };
    assert_eq!(read(path, same).unwrap().lines.len(), 15);
    let conflicting = ReadOptions {
        doc_no: Some(DocNo::parse("粤财社〔2021〕13号").unwrap()),
        doc_date: Some(date(2021, 3, 6)),
        unit: Some(Unit::Yuan),
        ..options("t.csv")
    };
    check_rejected(
        path,
        conflicting,
        &[
            (2, None, &["粤财社〔2021〕12号", "--doc-no", "13号"]),
            (3, None, &["2021-03-05", "--doc-date", "2021-03-06"]),
            (5, None, &["万元", "--unit", "元"]),
        ],
    );
}

// ------------------------------------------------ tables built in the test

fn text_row(line: u64, cells: &[&str]) -> RawRow {
    let cells = cells
        .iter()
        .map(|c| {
            if c.is_empty() {
                CellValue::Empty
            } else {
                CellValue::Text(c.to_string())
            }
        })
        .collect();
    RawRow { line, cells }
}

/// Preamble on lines 1–3, header on line 4, rows from line 5.
fn parse_built(
    preamble: &[&str],
    header: &[&str],
    rows: &[&[&str]],
    options: ReadOptions,
) -> Result<WideTable, Vec<RowError>> {
    let ctx = ImportContext {
        divisions: divisions(),
        projects: Arc::new(ProjectCatalog::default_catalog()),
        options,
    };
    let preamble: Vec<(u64, String)> = preamble
        .iter()
        .enumerate()
        .map(|(i, t)| (i as u64 + 1, t.to_string()))
        .collect();
    let rows = rows
        .iter()
        .enumerate()
        .map(|(i, r)| text_row(i as u64 + 5, r))
        .collect();
    parse_wide(&preamble, &text_row(4, header), rows, &ctx)
}

const PREAMBLE: [&str; 3] = ["京财社〔2021〕3号", "2021年4月1日", "单位：元"];

#[test]
fn province_narrows_names() {
    let header = ["序号", "地区", "合计", "JS01"];
    let rows: [&[&str]; 3] = [
        &["", "合计", "300.00", "300.00"],
        &["1", "朝阳区", "100.00", "100.00"],
        &["2", "东城区", "200.00", "200.00"],
    ];
    let errors = parse_built(&PREAMBLE, &header, &rows, options("b.csv")).unwrap_err();
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert!(errors[0].message.contains("220104 朝阳区"), "{errors:#?}");
    let beijing = ReadOptions {
        province: Some(RegionCode::from_u32(110000)),
        ..options("b.csv")
    };
    let table = parse_built(&PREAMBLE, &header, &rows, beijing).unwrap();
    let got: Vec<(u32, i64)> = table
        .lines
        .iter()
        .map(|l| (l.key.region.as_u32(), l.amount.as_i64()))
        .collect();
    assert_eq!(got, vec![(110105, 10_000), (110101, 20_000)]);
}

#[test]
fn code_column_and_new_project_column() {
    let header = ["地区编码", "地区", "合计(元)", "计生保险", "JS13 新项目"];
    let rows: [&[&str]; 4] = [
        &["", "合计", "600.00", "250.00", "350.00"],
        &["430100", "长沙市", "600.00", "250.00", "350.00"],
        &["430100000", "长沙市本级", "100.00", "", "100.00"],
        &["430121", "长沙县", "500.00", "250.00", "250.00"],
    ];
    let table = parse_built(&PREAMBLE, &header, &rows, options("c.csv")).unwrap();
    assert_eq!(table.new_projects.len(), 1);
    assert_eq!(table.new_projects[0].code.as_str(), "JS13");
    assert_eq!(table.new_projects[0].name, "新项目");
    let got: Vec<(u32, String, i64, Option<String>)> = table
        .lines
        .iter()
        .map(|l| {
            let func = l.func_code.clone();
            (
                l.key.region.as_u32(),
                l.key.project.to_string(),
                l.amount.as_i64(),
                func,
            )
        })
        .collect();
    let js01 = Some("2100799".to_string());
    assert_eq!(
        got,
        vec![
            (430100, "JS13".to_string(), 10_000, None),
            (430121, "JS01".to_string(), 25_000, js01),
            (430121, "JS13".to_string(), 25_000, None),
        ]
    );
}

/// Each case: rows under the header `地区编码?,地区,合计,计生保险,暖心家园`, and
/// the (line, column, fragment) of the one error expected.
/// (line, column, message fragment) of an expected error.
type Want<'a> = (u64, Option<&'a str>, &'a str);
/// A header, its rows, the one error expected.
type RowCase<'a> = (&'a [&'a str], Vec<&'a [&'a str]>, Want<'a>);

fn check_built_rejection(header: &[&str], rows: &[&[&str]], want: Want) {
    let errors = parse_built(&PREAMBLE, header, rows, options("r.csv")).unwrap_err();
    let (line, column, fragment) = want;
    assert_eq!(errors.len(), 1, "{rows:?}: {errors:#?}");
    let e = &errors[0];
    assert_eq!((e.line, e.column.as_deref()), (line, column), "{e:?}");
    assert!(e.message.contains(fragment), "{e:?}");
}

#[test]
fn row_rejections() {
    let plain = ["序号", "地区", "合计", "计生保险", "暖心家园"];
    let coded = ["地区编码", "地区", "合计", "计生保险", "暖心家园"];
    let cases: Vec<RowCase> = vec![
        // a code whose name is another division's
        (
            &coded,
            vec![&["430121", "望城区", "1.00", "1.00", ""]],
            (5, Some("地区编码"), "430121 is 长沙县"),
        ),
        // a code not valid at the document date
        (
            &coded,
            vec![&["430221", "株洲县", "1.00", "1.00", ""]],
            (5, Some("地区编码"), "not valid in 2021"),
        ),
        // a negative allocation
        (
            &plain,
            vec![&["", "长沙县", "1.00", "-1.00", "2.00"]],
            (5, Some("计生保险"), "negative"),
        ),
        // an amount that is not one
        (
            &plain,
            vec![&["", "长沙县", "1.00", "1,00", "0"]],
            (5, Some("计生保险"), "1,00"),
        ),
        // the same region twice
        (
            &plain,
            vec![
                &["", "长沙县", "1.00", "1.00", ""],
                &["", "长沙县", "2.00", "2.00", ""],
            ],
            (6, None, "already listed on line 5"),
        ),
        // a county under the wrong prefecture row
        (
            &plain,
            vec![
                &["", "株洲市", "3.00", "3.00", ""],
                &["", "长沙县", "3.00", "3.00", ""],
            ],
            (6, Some("地区"), "belongs to 430100"),
        ),
        // amounts without a region
        (
            &plain,
            vec![&["", "", "1.00", "1.00", ""]],
            (5, None, "no region"),
        ),
    ];
    for (header, rows, want) in cases {
        check_built_rejection(header, &rows, want);
    }
}

#[test]
fn header_rejections() {
    let rows: [&[&str]; 1] = [&["长沙县", "1.00", "1.00"]];
    let cases: [(&[&str], Want); 3] = [
        (
            &["地区", "合计", "不存在的项目"],
            (4, Some("不存在的项目"), "not a project"),
        ),
        (
            &["地区", "合计", "JS01", "计生保险"],
            (4, Some("计生保险"), "already has the column JS01"),
        ),
        (
            &["地区", "合计", "JS99 计生保险"],
            (4, Some("JS99 计生保险"), "already names project JS01"),
        ),
    ];
    for (header, want) in cases {
        check_built_rejection(header, &rows, want);
    }
}

#[test]
fn preamble_rejections() {
    let header = ["地区", "合计", "JS01"];
    let rows: [&[&str]; 1] = [&["长沙县", "1.00", "1.00"]];
    let check = |preamble: &[&str], options: ReadOptions, fragment: &str| {
        let errors = parse_built(preamble, &header, &rows, options).unwrap_err();
        assert!(
            errors.iter().any(|e| e.message.contains(fragment)),
            "{preamble:?}: {errors:#?}"
        );
    };
    check(
        &["京财社〔2021〕3号", "2021年4月1日"],
        options("p.csv"),
        "no unit",
    );
    check(
        &["京财社〔2021〕3号", "单位：元"],
        options("p.csv"),
        "no document date",
    );
    check(
        &[
            "京财社〔2021〕3号",
            "2021年4月1日",
            "单位：元",
            "京财社〔2021〕4号",
        ],
        options("p.csv"),
        "several document numbers",
    );
    check(
        &[
            "京财社〔2021〕3号",
            "2021年4月1日",
            "单位：元",
            "单位：万元",
        ],
        options("p.csv"),
        "conflicts",
    );
    let yuan_header = ["地区", "合计（万元）", "JS01"];
    let errors = parse_built(&PREAMBLE, &yuan_header, &rows, options("p.csv")).unwrap_err();
    assert_eq!(
        errors[0].column.as_deref(),
        Some("合计（万元）"),
        "{errors:#?}"
    );
    // The date from a separate option fills the preamble's gap.
    let dated = ReadOptions {
        doc_date: Some(date(2021, 4, 2)),
        ..options("p.csv")
    };
    let table = parse_built(&["京财社〔2021〕3号", "单位：元"], &header, &rows, dated).unwrap();
    assert_eq!(table.doc_date, date(2021, 4, 2));
}

#[test]
fn titles_citing_other_documents_defer_to_the_standalone_number() {
    let preamble = [
        "关于转下达财社〔2020〕88号的通知",
        "京财社〔2021〕3号",
        "2021年4月1日,,",
        "单位：元",
    ];
    let header = ["地区", "合计", "JS01"];
    let rows: [&[&str]; 1] = [&["长沙县", "1.00", "1.00"]];
    let ctx = ImportContext {
        divisions: divisions(),
        projects: Arc::new(ProjectCatalog::default_catalog()),
        options: options("t.csv"),
    };
    let preamble: Vec<(u64, String)> = preamble
        .iter()
        .enumerate()
        .map(|(i, t)| (i as u64 + 1, t.to_string()))
        .collect();
    let rows = rows.iter().map(|r| text_row(9, r)).collect();
    let table = parse_wide(&preamble, &text_row(8, &header), rows, &ctx).unwrap();
    assert_eq!(table.doc_no.to_string(), "京财社〔2021〕3号");
}

#[test]
fn looks_wide_on_the_fixture_headers() {
    let wide = [
        "序号",
        "地区",
        "合计",
        "计生三结合帮扶",
        "计生保险",
        "暖心家园建设",
    ];
    let long = [
        "指标文号",
        "下达日期",
        "地区编码",
        "地区",
        "项目编码",
        "金额（元）",
    ];
    let texts = |h: &[&str]| h.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert!(looks_wide(&texts(&wide)));
    assert!(!looks_wide(&texts(&long)));
}

// ------------------------------------------------------------- properties

mod properties {
    use super::*;
    use fundledger_core::Fen;
    use proptest::prelude::*;

    /// (name, prefecture index or None for a prefecture row, region code)
    const REGIONS: [(&str, Option<usize>, u32); 10] = [
        ("长沙市", None, 430100),
        ("长沙市本级", Some(0), 430100),
        ("芙蓉区", Some(0), 430102),
        ("长沙县", Some(0), 430121),
        ("株洲市小计", None, 430200),
        ("渌口区", Some(4), 430212),
        ("株洲市本级", Some(4), 430200),
        ("湘潭市", None, 430300),
        ("岳阳市", None, 430600),
        ("岳阳市屈原管理区", Some(8), 430671),
    ];

    fn yuan(fen: i64, zero_blank: bool) -> String {
        if fen == 0 && zero_blank {
            String::new()
        } else {
            Fen::new(fen).to_string()
        }
    }

    /// A consistent table: leaf cells drawn, subtotals and totals computed.
    /// Rows: 合计, then REGIONS in order; columns 合计, JS01, JS02.
    fn table_rows(leaf_fen: &[[i64; 2]]) -> Vec<[i64; 3]> {
        let mut rows: Vec<[i64; 3]> = vec![[0; 3]; REGIONS.len() + 1];
        let has_children = |p: usize| REGIONS.iter().any(|r| r.1 == Some(p));
        for (i, (_, parent, _)) in REGIONS.iter().enumerate() {
            let leaf = parent.is_some() || !has_children(i);
            if !leaf {
                continue;
            }
            let [a, b] = leaf_fen[i];
            rows[i + 1] = [a + b, a, b];
            let leaf_row = rows[i + 1];
            for (k, amount) in leaf_row.iter().enumerate() {
                rows[0][k] += amount;
                if let Some(p) = parent {
                    rows[p + 1][k] += amount;
                }
            }
        }
        rows
    }

    fn as_text(rows: &[[i64; 3]], blanks: &[bool]) -> Vec<Vec<String>> {
        rows.iter()
            .enumerate()
            .map(|(i, r)| {
                let name = if i == 0 { "合计" } else { REGIONS[i - 1].0 };
                let mut cells = vec![String::new(), name.to_string()];
                cells.extend(r.iter().map(|&f| yuan(f, blanks[i])));
                cells
            })
            .collect()
    }

    fn parse(cells: &[Vec<String>]) -> Result<WideTable, Vec<RowError>> {
        let rows: Vec<Vec<&str>> = cells
            .iter()
            .map(|r| r.iter().map(String::as_str).collect())
            .collect();
        let rows: Vec<&[&str]> = rows.iter().map(Vec::as_slice).collect();
        let preamble = ["湘财社指〔2021〕5号", "2021年3月1日", "单位：元"];
        let header = ["序号", "地区", "合计", "JS01", "计生“三结合”项目"];
        parse_built(&preamble, &header, &rows, options("p.csv"))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn consistent_tables_parse_and_lines_sum_to_the_total(
            leaf_fen in proptest::collection::vec([0i64..5_000_000, 0i64..5_000_000], REGIONS.len()),
            blanks in proptest::collection::vec(any::<bool>(), REGIONS.len() + 1),
        ) {
            let rows = table_rows(&leaf_fen);
            let table = parse(&as_text(&rows, &blanks)).unwrap();
            let total = Fen::checked_sum(table.lines.iter().map(|l| l.amount)).unwrap();
            prop_assert_eq!(total, Fen::new(rows[0][0]));
            prop_assert!(table.lines.iter().all(|l| l.amount.is_positive()));
            let leaf_codes: Vec<u32> = vec![430100, 430102, 430121, 430212, 430200, 430300, 430671];
            prop_assert!(table.lines.iter().all(|l| leaf_codes.contains(&l.key.region.as_u32())));
        }

        #[test]
        fn any_one_fen_slip_is_refused(
            leaf_fen in proptest::collection::vec([0i64..5_000_000, 0i64..5_000_000], REGIONS.len()),
            row in 0usize..REGIONS.len() + 1,
            column in 0usize..3,
        ) {
            let blanks = vec![false; REGIONS.len() + 1];
            let mut rows = table_rows(&leaf_fen);
            rows[row][column] += 1;
            let errors = parse(&as_text(&rows, &blanks)).unwrap_err();
            prop_assert!(errors.iter().any(|e| e.line == row as u64 + 5), "{:?}", errors);
        }
    }
}
