//! One test per input rule of SPEC §4 at the command line, on the Guangdong
//! ledger, on SQLite and (FUNDLEDGER_TEST_PG) PostgreSQL. Each refused import
//! must exit 1, name FILE:LINE (and the column where one applies), report
//! every error rather than the first, and leave `balance --format csv` and
//! `export journal` byte-identical.

mod support;

use std::path::Path;
use support::*;

/// Where the rejected input comes from.
enum Input {
    /// A file under fixtures/.
    Fixture(&'static str),
    /// A small file written into a temporary directory.
    Temp(&'static str, &'static str),
}

struct Refusal {
    /// `indicators` or `disbursements`.
    kind: &'static str,
    input: Input,
    extra: &'static [&'static str],
    /// Substrings stderr must contain, typically `NAME:LINE: column`.
    expect: &'static [&'static str],
    /// How many errors the command must report.
    errors: usize,
}

fn input_path(dir: &Path, input: &Input) -> String {
    match input {
        Input::Fixture(rel) => fixture(rel),
        Input::Temp(name, content) => write_file(dir, name, content.as_bytes()),
    }
}

/// Runs the import on `db` and checks the refusal; returns stderr.
fn refused_on(db: &TestDb, case: &Refusal) -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = input_path(dir.path(), &case.input);
    let before = fingerprint(db);
    let mut args = vec!["import", case.kind, path.as_str()];
    args.extend_from_slice(case.extra);
    let run = fl(db, &args).expect_code(1);
    for want in case.expect {
        assert!(
            run.stderr.contains(want),
            "stderr lacks {want:?} ({:?}):\n{}",
            db.backend,
            run.stderr
        );
    }
    let summary = format!("{} error(s)", case.errors);
    assert!(
        run.stderr.contains(&summary),
        "expected {summary} ({:?}):\n{}",
        db.backend,
        run.stderr
    );
    assert!(
        run.stdout.is_empty(),
        "a refused import prints nothing on stdout: {}",
        run.stdout
    );
    assert_eq!(fingerprint(db), before, "ledger changed after a refusal");
    run.stderr
}

/// The case on the full Guangdong ledger of every backend.
fn check(case: Refusal) {
    for db in TestDb::all() {
        gd_ledger(&db);
        refused_on(&db, &case);
    }
}

// ---- amounts (SPEC §4.1)

#[test]
fn rejects_amount_with_currency_sign() {
    check(Refusal {
        kind: "indicators",
        input: Input::Temp(
            "currency.csv",
            "指标文号,下达日期,区划代码,项目编码,金额（元）\n\
             粤财社〔2021〕90号,2021-07-01,440203,JS08,¥100.00\n\
             粤财社〔2021〕90号,2021-07-01,440224,JS08,100.00元\n\
             粤财社〔2021〕90号,2021-07-01,440222,JS08,RMB 100\n",
        ),
        extra: &[],
        expect: &[
            "currency.csv:2: 金额（元）",
            "currency.csv:3: 金额（元）",
            "currency.csv:4: 金额（元）",
        ],
        errors: 3,
    });
}

#[test]
fn rejects_amount_with_european_separators() {
    check(Refusal {
        kind: "indicators",
        input: Input::Fixture("formats/reject_amount_grammar.csv"),
        extra: &[],
        expect: &["reject_amount_grammar.csv:2: 金额（元）"],
        errors: 1,
    });
}

#[test]
fn rejects_amount_finer_than_a_fen() {
    check(Refusal {
        kind: "indicators",
        input: Input::Fixture("formats/reject_amount_fraction.csv"),
        extra: &[],
        expect: &["reject_amount_fraction.csv:2: 金额（元）"],
        errors: 1,
    });
}

#[test]
fn rejects_wan_amount_finer_than_a_fen() {
    check(Refusal {
        kind: "indicators",
        input: Input::Temp(
            "wan.csv",
            "指标文号,下达日期,区划代码,项目编码,金额（万元）\n\
             粤财社〔2021〕90号,2021-07-01,440203,JS08,1.0000001\n",
        ),
        extra: &[],
        expect: &["wan.csv:2: 金额（万元）"],
        errors: 1,
    });
}

#[test]
fn rejects_zero_amount() {
    check(Refusal {
        kind: "indicators",
        input: Input::Fixture("formats/reject_amount_zero.csv"),
        extra: &[],
        expect: &["reject_amount_zero.csv:2: 金额（元）"],
        errors: 1,
    });
}

#[test]
fn rejects_conflicting_units() {
    check(Refusal {
        kind: "indicators",
        input: Input::Fixture("formats/reject_unit_conflict.csv"),
        extra: &[],
        expect: &[
            "reject_unit_conflict.csv:2: 金额（元）: conflicting units",
            "万元",
        ],
        errors: 1,
    });
}

#[test]
fn rejects_unit_option_conflicting_with_header() {
    check(Refusal {
        kind: "indicators",
        input: Input::Fixture("gd-2021/gd_2021_40_long.csv"),
        extra: &["--unit", "wan"],
        expect: &["gd_2021_40_long.csv:2: 金额（元）: conflicting units"],
        errors: 1,
    });
}

#[test]
fn rejects_missing_unit() {
    check(Refusal {
        kind: "indicators",
        input: Input::Fixture("formats/reject_unit_missing.csv"),
        extra: &[],
        expect: &["reject_unit_missing.csv:1: 金额: no unit"],
        errors: 1,
    });
}

// ---- dates, document numbers, fiscal year (SPEC §4.2)

#[test]
fn rejects_impossible_date() {
    check(Refusal {
        kind: "indicators",
        input: Input::Fixture("formats/reject_date_impossible.csv"),
        extra: &[],
        expect: &["reject_date_impossible.csv:2: 下达日期"],
        errors: 1,
    });
}

#[test]
fn rejects_doc_no_of_unknown_shape() {
    check(Refusal {
        kind: "indicators",
        input: Input::Fixture("formats/reject_doc_no_shape.csv"),
        extra: &[],
        expect: &["reject_doc_no_shape.csv:2: 指标文号"],
        errors: 1,
    });
}

#[test]
fn rejects_fiscal_year_conflict() {
    check(Refusal {
        kind: "indicators",
        input: Input::Fixture("formats/reject_fiscal_year_conflict.csv"),
        extra: &[],
        expect: &["reject_fiscal_year_conflict.csv:2: 预算年度"],
        errors: 1,
    });
}

// ---- regions and projects (SPEC §4.3)

#[test]
fn rejects_region_name_mismatch() {
    check(Refusal {
        kind: "indicators",
        input: Input::Fixture("formats/reject_region_name_mismatch.csv"),
        extra: &[],
        expect: &["reject_region_name_mismatch.csv:2: 地区名称", "祁阳市"],
        errors: 1,
    });
}

#[test]
fn rejects_unknown_region_code() {
    check(Refusal {
        kind: "indicators",
        input: Input::Temp(
            "unknown_region.csv",
            "指标文号,下达日期,区划代码,项目编码,金额（元）\n\
             粤财社〔2021〕90号,2021-07-01,449999,JS08,100.00\n",
        ),
        extra: &[],
        expect: &["unknown_region.csv:2: 区划代码", "449999"],
        errors: 1,
    });
}

#[test]
fn rejects_region_code_not_valid_at_the_doc_date() {
    check(Refusal {
        kind: "indicators",
        input: Input::Fixture("formats/reject_region_code_not_valid_at_date.csv"),
        extra: &[],
        expect: &[
            "reject_region_code_not_valid_at_date.csv:2: 区划代码",
            "431121",
        ],
        errors: 1,
    });
}

#[test]
fn rejects_region_code_of_wrong_shape() {
    check(Refusal {
        kind: "indicators",
        input: Input::Fixture("formats/reject_region_code_shape.csv"),
        extra: &[],
        expect: &["reject_region_code_shape.csv:2: 区划代码"],
        errors: 1,
    });
}

#[test]
fn rejects_project_name_mismatch() {
    check(Refusal {
        kind: "indicators",
        input: Input::Fixture("formats/reject_project_name_mismatch.csv"),
        extra: &[],
        expect: &["reject_project_name_mismatch.csv:2: 项目名称"],
        errors: 1,
    });
}

#[test]
fn rejects_unknown_project_name_without_code() {
    check(Refusal {
        kind: "indicators",
        input: Input::Fixture("formats/reject_project_unknown.csv"),
        extra: &[],
        expect: &["reject_project_unknown.csv:2: 项目名称"],
        errors: 1,
    });
}

#[test]
fn rejects_new_project_given_two_names() {
    check(Refusal {
        kind: "indicators",
        input: Input::Fixture("formats/reject_new_project_renamed.csv"),
        extra: &[],
        expect: &["reject_new_project_renamed.csv:3", "JS99"],
        errors: 1,
    });
}

#[test]
fn rejects_func_code_of_wrong_shape() {
    check(Refusal {
        kind: "indicators",
        input: Input::Fixture("formats/reject_func_code_shape.csv"),
        extra: &[],
        expect: &["reject_func_code_shape.csv:2: 功能科目"],
        errors: 1,
    });
}

#[test]
fn rejects_disbursement_naming_an_unknown_project() {
    check(Refusal {
        kind: "disbursements",
        input: Input::Fixture("formats/reject_disbursement_unknown_project.csv"),
        extra: &[],
        expect: &["reject_disbursement_unknown_project.csv:2: 项目名称"],
        errors: 1,
    });
}

// ---- file shape and encoding (SPEC §4)

#[test]
fn rejects_invalid_gbk_byte() {
    // A GB18030 file forced to be read as UTF-8: strict decoding, no U+FFFD.
    check(Refusal {
        kind: "indicators",
        input: Input::Fixture("formats/long_gb18030.csv"),
        extra: &["--encoding", "utf-8"],
        expect: &["long_gb18030.csv:1"],
        errors: 1,
    });
}

#[test]
fn rejects_invalid_gb18030_byte() {
    check(Refusal {
        kind: "indicators",
        input: Input::Fixture("formats/reject_invalid_gb18030.csv"),
        extra: &["--encoding", "gb18030"],
        expect: &["reject_invalid_gb18030.csv:2"],
        errors: 1,
    });
}

#[test]
fn rejects_invalid_utf8_byte() {
    check(Refusal {
        kind: "indicators",
        input: Input::Fixture("formats/reject_invalid_utf8.csv"),
        extra: &["--encoding", "utf-8"],
        expect: &["reject_invalid_utf8.csv:3"],
        errors: 1,
    });
}

#[test]
fn rejects_file_without_a_header_row() {
    check(Refusal {
        kind: "indicators",
        input: Input::Fixture("formats/reject_no_header.csv"),
        extra: &[],
        expect: &["reject_no_header.csv"],
        errors: 1,
    });
}

#[test]
fn rejects_missing_required_column() {
    check(Refusal {
        kind: "indicators",
        input: Input::Fixture("formats/reject_missing_column.csv"),
        extra: &[],
        expect: &["reject_missing_column.csv:1:", "doc_date is missing"],
        errors: 1,
    });
}

#[test]
fn rejects_two_columns_for_one_field() {
    check(Refusal {
        kind: "indicators",
        input: Input::Fixture("formats/reject_duplicate_column.csv"),
        extra: &[],
        expect: &["reject_duplicate_column.csv:1: 文号:"],
        errors: 1,
    });
}

// ---- totals (SPEC §4.4, §4.5)

#[test]
fn rejects_total_row_mismatch() {
    check(Refusal {
        kind: "indicators",
        input: Input::Fixture("formats/reject_total_mismatch.csv"),
        extra: &[],
        expect: &["reject_total_mismatch.csv:4", "300.00", "300.50"],
        errors: 1,
    });
}

#[test]
fn rejects_total_row_of_one_document_that_does_not_add_up() {
    check(Refusal {
        kind: "indicators",
        input: Input::Fixture("formats/reject_total_per_document.csv"),
        extra: &[],
        expect: &["reject_total_per_document.csv:4"],
        errors: 1,
    });
}

#[test]
fn rejects_subtotal_row_in_long_form() {
    check(Refusal {
        kind: "indicators",
        input: Input::Fixture("formats/reject_subtotal_row.csv"),
        extra: &[],
        expect: &["reject_subtotal_row.csv:3"],
        errors: 1,
    });
}

#[test]
fn rejects_wide_table_with_wrong_total_row() {
    check(Refusal {
        kind: "indicators",
        input: Input::Fixture("wide/wrong_total_row.csv"),
        extra: &[],
        // row, column, stated and computed figure; both wrong columns
        expect: &[
            "wrong_total_row.csv:7: 合计: 合计 row states 74.95 but the leaf rows sum to 74.85",
            "wrong_total_row.csv:7: 计生保险: 合计 row states 15.70 but the leaf rows sum to 15.60",
        ],
        errors: 2,
    });
}

#[test]
fn rejects_wide_table_with_wrong_subtotal() {
    check(Refusal {
        kind: "indicators",
        input: Input::Fixture("wide/wrong_subtotal.csv"),
        extra: &[],
        expect: &[
            "wrong_subtotal.csv:12: 合计: 韶关市小计 states 39.40 but its rows sum to 38.40",
            "wrong_subtotal.csv:12: 计生三结合帮扶: 韶关市小计 states 26.00 but its rows sum to 25.00",
        ],
        errors: 2,
    });
}

#[test]
fn rejects_wide_table_with_wrong_row_total() {
    check(Refusal {
        kind: "indicators",
        input: Input::Fixture("wide/wrong_row_total.csv"),
        extra: &[],
        // the wrong 合计 cell of 荔湾区, and the sums above it that it breaks
        expect: &[
            "wrong_row_total.csv:10: 合计: 合计 is 11.30 but the project cells sum to 11.20",
            "wrong_row_total.csv:8: 合计: 广州市 states 26.45 but its rows sum to 26.55",
            "wrong_row_total.csv:7: 合计: 合计 row states 74.85 but the leaf rows sum to 74.95",
        ],
        errors: 3,
    });
}

#[test]
fn rejects_wide_table_with_unknown_county() {
    check(Refusal {
        kind: "indicators",
        input: Input::Fixture("wide/unknown_county.csv"),
        extra: &[],
        expect: &["unknown_county.csv:"],
        errors: 1,
    });
}

#[test]
fn rejects_wide_table_with_ambiguous_prefecture() {
    check(Refusal {
        kind: "indicators",
        input: Input::Fixture("wide/ambiguous_prefecture.csv"),
        extra: &[],
        expect: &["ambiguous_prefecture.csv:"],
        errors: 1,
    });
}

#[test]
fn rejects_wide_table_without_doc_no() {
    check(Refusal {
        kind: "indicators",
        input: Input::Fixture("wide/missing_doc_no.csv"),
        extra: &[],
        expect: &["missing_doc_no.csv"],
        errors: 1,
    });
}

// ---- keys, duplicates, reductions (SPEC §4.4, §4.7)

#[test]
fn rejects_duplicate_key_in_file_naming_both_lines() {
    // identical rows too: within one file a key may appear once
    check(Refusal {
        kind: "indicators",
        input: Input::Temp(
            "dup.csv",
            "指标文号,下达日期,区划代码,项目编码,金额（元）\n\
             粤财社〔2021〕90号,2021-07-01,440203,JS08,100.00\n\
             粤财社〔2021〕90号,2021-07-01,440224,JS08,100.00\n\
             粤财社[2021]90号,2021-07-01,440203000,JS08,100.00\n",
        ),
        extra: &[],
        expect: &["dup.csv:4", "dup.csv:2"],
        errors: 1,
    });
}

#[test]
fn rejects_same_key_in_two_files_of_one_command() {
    for db in TestDb::all() {
        gd_base(&db);
        let before = fingerprint(&db);
        let xlsx = fixture("hunan-2020/36_wide_wan.xlsx");
        let csv = fixture("hunan-2020/36_wide_wan_gb18030.csv");
        fl(
            &db,
            &[
                "budget",
                "set",
                "--fiscal-year",
                "2020",
                "--amount-yuan",
                "51660000.00",
            ],
        )
        .ok();
        let with_pool = fingerprint(&db);
        assert_ne!(before, with_pool);
        let run = fl(&db, &["import", "indicators", &xlsx, &csv]).expect_code(1);
        assert!(run.stderr.contains("36_wide_wan.xlsx:"), "{}", run.stderr);
        assert!(
            run.stderr.contains("36_wide_wan_gb18030.csv:"),
            "{}",
            run.stderr
        );
        // one error per duplicated line, all of them reported
        assert!(run.stderr.contains("414 error(s)"), "{}", tail(&run.stderr));
        assert_eq!(fingerprint(&db), with_pool);
    }
}

fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(5)..].join("\n")
}

#[test]
fn rejects_same_key_different_content_against_ledger() {
    let stderr = {
        let mut last = String::new();
        for db in TestDb::all() {
            gd_ledger(&db);
            last = refused_on(
                &db,
                &Refusal {
                    kind: "indicators",
                    input: Input::Temp(
                        "changed.csv",
                        "指标文号,下达日期,区划代码,项目编码,金额（元）\n\
                         粤财社〔2021〕40号,2021-05-10,440203,JS08,100000.01\n",
                    ),
                    extra: &[],
                    expect: &["changed.csv:2"],
                    errors: 1,
                },
            );
        }
        last
    };
    // names both sources: the new row and the one already in the ledger
    assert!(stderr.contains("gd_2021_40_long.csv:3"), "{stderr}");
}

#[test]
fn rejects_duplicate_voucher_in_file() {
    check(Refusal {
        kind: "disbursements",
        input: Input::Temp(
            "dupv.csv",
            "voucher_no,paid_on,region_code,project_code,amount_yuan\n\
             X1,2021-07-01,440203,JS08,10.00\n\
             X2,2021-07-01,440203,JS08,10.00\n\
             X1,2021-07-01,440203,JS08,10.00\n",
        ),
        extra: &[],
        expect: &["dupv.csv:4", "dupv.csv:2", "X1"],
        errors: 1,
    });
}

#[test]
fn rejects_same_voucher_different_content_against_ledger() {
    check(Refusal {
        kind: "disbursements",
        input: Input::Temp(
            "changedv.csv",
            "voucher_no,paid_on,region_code,project_code,amount_yuan\n\
             GZ21032001,2021-03-20,440100,JS02,50000.01\n",
        ),
        extra: &[],
        expect: &[
            "changedv.csv:2",
            "gd_2021_disbursements.csv:2",
            "GZ21032001",
        ],
        errors: 1,
    });
}

#[test]
fn rejects_reduction_below_zero() {
    check(Refusal {
        kind: "indicators",
        input: Input::Temp(
            "toomuch.csv",
            "doc_no,doc_date,region_code,project_code,amount_yuan,adjusts_doc_no\n\
             粤财社〔2021〕91号,2021-08-10,440281,JS02,-80000.01,粤财社〔2021〕12号\n",
        ),
        extra: &[],
        // 100,000.00 less 77号's 20,000.00 leaves 80,000.00
        expect: &["toomuch.csv:2", "below zero"],
        errors: 1,
    });
}

#[test]
fn rejects_reduction_of_missing_line() {
    check(Refusal {
        kind: "indicators",
        input: Input::Temp(
            "nowhere.csv",
            "doc_no,doc_date,region_code,project_code,amount_yuan,adjusts_doc_no\n\
             粤财社〔2021〕91号,2021-08-10,440203,JS02,-10.00,粤财社〔2021〕12号\n",
        ),
        extra: &[],
        expect: &["nowhere.csv:2", "not in the ledger"],
        errors: 1,
    });
}

#[test]
fn rejects_adjusts_doc_no_on_positive_row() {
    check(Refusal {
        kind: "indicators",
        input: Input::Fixture("formats/reject_adjusts_on_positive.csv"),
        extra: &[],
        expect: &["reject_adjusts_on_positive.csv:2: 原指标文号"],
        errors: 1,
    });
}

#[test]
fn rejects_negative_row_without_adjusts_doc_no() {
    check(Refusal {
        kind: "indicators",
        input: Input::Fixture("formats/reject_negative_without_adjusts.csv"),
        extra: &[],
        expect: &["reject_negative_without_adjusts.csv:2"],
        errors: 1,
    });
}

#[test]
fn rejects_reduction_naming_its_own_document() {
    check(Refusal {
        kind: "indicators",
        input: Input::Fixture("formats/reject_adjusts_itself.csv"),
        extra: &[],
        expect: &["reject_adjusts_itself.csv:2"],
        errors: 1,
    });
}

// ---- closed periods and the pool (SPEC §4.7, §6)

#[test]
fn rejects_row_in_closed_period() {
    for db in TestDb::all() {
        gd_ledger(&db);
        fl(&db, &["close", "--through", "2021-06"]).ok();
        let line = Refusal {
            kind: "indicators",
            input: Input::Temp(
                "june.csv",
                "指标文号,下达日期,区划代码,项目编码,金额（元）\n\
                 粤财社〔2021〕90号,2021-06-30,440203,JS08,100.00\n\
                 粤财社〔2021〕90号,2021-06-30,440224,JS08,100.00\n",
            ),
            extra: &[],
            expect: &["june.csv:2", "june.csv:3", "2021-06-30"],
            errors: 2,
        };
        refused_on(&db, &line);
        let voucher = Refusal {
            kind: "disbursements",
            input: Input::Temp(
                "junev.csv",
                "voucher_no,paid_on,region_code,project_code,amount_yuan\n\
                 X1,2021-06-30,440203,JS08,10.00\n\
                 X2,2021-07-01,440203,JS08,10.00\n",
            ),
            extra: &[],
            expect: &["junev.csv:2"],
            errors: 1,
        };
        let stderr = refused_on(&db, &voucher);
        assert!(!stderr.contains("junev.csv:3"), "{stderr}");
        // an identical row already imported is still skipped, not refused
        let before = fingerprint(&db);
        let run = import(&db, Gd::Doc40).ok();
        assert!(run.stderr.contains("nothing new"), "{}", run.stderr);
        assert_eq!(fingerprint(&db), before);
        // and the day after the close is open
        let dir = tempfile::tempdir().expect("tempdir");
        let july = write_file(
            dir.path(),
            "july.csv",
            "voucher_no,paid_on,region_code,project_code,amount_yuan\n\
             X2,2021-07-01,440203,JS08,10.00\n"
                .as_bytes(),
        );
        fl(&db, &["import", "disbursements", &july]).ok();
    }
}

#[test]
fn rejects_allocations_over_pool() {
    // pool 1,000,000.00; allocated 748,500.00 + 236,800.50 - 20,000.00 =
    // 965,300.50; 50,000.00 more exceeds it by 15,300.50
    check(Refusal {
        kind: "indicators",
        input: Input::Temp(
            "big.csv",
            "指标文号,下达日期,区划代码,项目编码,金额（元）\n\
             粤财社〔2021〕90号,2021-07-01,440203,JS08,\"50,000.00\"\n",
        ),
        extra: &[],
        expect: &[
            "big.csv: ",
            "pool 1000000.00, allocated 1015300.50, excess 15300.50",
        ],
        errors: 1,
    });
}

#[test]
fn rejects_year_without_pool() {
    check(Refusal {
        kind: "indicators",
        input: Input::Temp(
            "y2022.csv",
            "指标文号,下达日期,区划代码,项目编码,金额（元）\n\
             粤财社〔2022〕1号,2022-01-10,440203,JS08,100.00\n",
        ),
        extra: &[],
        expect: &["y2022.csv: fiscal year 2022 has no pool"],
        errors: 1,
    });
}

// ---- vouchers (SPEC §4.6)

#[test]
fn rejects_refund_of_unknown_voucher() {
    check(Refusal {
        kind: "disbursements",
        input: Input::Temp(
            "refund.csv",
            "voucher_no,paid_on,region_code,project_code,amount_yuan,original_voucher_no\n\
             R1,2021-07-01,440600,JS02,-100.00,NOPE001\n",
        ),
        extra: &[],
        expect: &["refund.csv:2", "NOPE001"],
        errors: 1,
    });
}

#[test]
fn rejects_refund_without_original_voucher() {
    check(Refusal {
        kind: "disbursements",
        input: Input::Fixture("formats/reject_refund_without_original.csv"),
        extra: &[],
        expect: &["reject_refund_without_original.csv:2"],
        errors: 1,
    });
}

#[test]
fn rejects_original_voucher_on_a_payment() {
    check(Refusal {
        kind: "disbursements",
        input: Input::Fixture("formats/reject_original_on_payment.csv"),
        extra: &[],
        expect: &["reject_original_on_payment.csv:2: 原支付凭证号"],
        errors: 1,
    });
}

#[test]
fn rejects_empty_voucher_no() {
    check(Refusal {
        kind: "disbursements",
        input: Input::Fixture("formats/reject_voucher_no_empty.csv"),
        extra: &[],
        expect: &["reject_voucher_no_empty.csv:2: 支付凭证号"],
        errors: 1,
    });
}

// ---- all errors, all or nothing (SPEC §4.7)

#[test]
fn reports_every_bad_row_not_just_the_first() {
    check(Refusal {
        kind: "indicators",
        input: Input::Temp(
            "three.csv",
            "指标文号,下达日期,区划代码,地区名称,项目编码,金额（元）\n\
             粤财社〔2021〕90号,2021-07-01,440203,武江区,JS08,100.00\n\
             粤财社〔2021〕90号,2021-07-01,440224,武江区,JS08,100.00\n\
             粤财社〔2021〕90号,2021-07-01,440222,始兴县,JS08,1.234\n\
             粤财社〔2021〕90号,2021-07-01,440281,乐昌市,JS08,100.00\n\
             粤财社〔2021〕90号,2021-13-01,440105,海珠区,JS08,100.00\n",
        ),
        extra: &[],
        expect: &[
            "three.csv:3: 地区名称",
            "three.csv:4: 金额（元）",
            "three.csv:6: 下达日期",
        ],
        errors: 3,
    });
}

#[test]
fn one_bad_file_refuses_the_whole_command() {
    for db in TestDb::all() {
        gd_base(&db);
        let before = fingerprint(&db);
        let run = fl(
            &db,
            &[
                "import",
                "indicators",
                &Gd::Doc12.path(),
                &fixture("formats/reject_amount_grammar.csv"),
                &Gd::Doc40.path(),
            ],
        )
        .expect_code(1);
        assert!(
            run.stderr.contains("reject_amount_grammar.csv:2"),
            "{}",
            run.stderr
        );
        assert_eq!(fingerprint(&db), before);
    }
}

#[test]
fn dry_run_writes_nothing_and_says_what_it_would_add() {
    for db in TestDb::all() {
        gd_base(&db);
        let before = fingerprint(&db);
        let run = fl(
            &db,
            &["import", "indicators", &Gd::Doc40.path(), "--dry-run"],
        )
        .ok();
        assert!(run.stderr.contains("dry run"), "{}", run.stderr);
        assert!(run.stderr.contains("would add 3 line(s)"), "{}", run.stderr);
        assert!(run.stderr.contains("236800.50"), "{}", run.stderr);
        assert_eq!(fingerprint(&db), before);
        let run = fl(
            &db,
            &[
                "import",
                "disbursements",
                "--dry-run",
                &Gd::Disbursements.path(),
            ],
        )
        .ok();
        assert!(
            run.stderr.contains("would add 11 voucher(s)"),
            "{}",
            run.stderr
        );
        assert_eq!(fingerprint(&db), before);
        // and the real import afterwards adds what the dry run announced
        let run = import(&db, Gd::Doc40).ok();
        assert!(run.stderr.contains("3 line(s) added"), "{}", run.stderr);
        assert_ne!(fingerprint(&db), before);
    }
}

#[test]
fn dry_run_of_a_bad_file_is_refused_like_the_real_import() {
    for db in TestDb::all() {
        gd_ledger(&db);
        let before = fingerprint(&db);
        let run = fl(
            &db,
            &[
                "import",
                "indicators",
                "--dry-run",
                &fixture("formats/reject_total_mismatch.csv"),
            ],
        )
        .expect_code(1);
        assert!(
            run.stderr.contains("reject_total_mismatch.csv:4"),
            "{}",
            run.stderr
        );
        assert_eq!(fingerprint(&db), before);
    }
}

#[test]
fn a_good_file_after_a_refused_one_imports_fine() {
    for db in TestDb::all() {
        gd_base(&db);
        import(&db, Gd::Doc12).ok();
        // 77号 with a bad row fixed afterwards
        let dir = tempfile::tempdir().expect("tempdir");
        let bad = write_file(
            dir.path(),
            "77_bad.csv",
            "doc_no,doc_date,region_code,region_name,project_code,amount_yuan,adjusts_doc_no\n\
             粤财社〔2021〕77号,2021-08-02,440281,始兴县,JS02,-20000.00,粤财社（2021）12号\n"
                .as_bytes(),
        );
        let before = fingerprint(&db);
        fl(&db, &["import", "indicators", &bad]).expect_code(1);
        assert_eq!(fingerprint(&db), before);
        import(&db, Gd::Doc77).ok();
        import(&db, Gd::Doc40).ok();
        import(&db, Gd::Disbursements).ok();
        assert_eq!(
            reconcile_csv(&db, "2021-09-30", &[]),
            read_fixture("gd-2021/expected_reconcile_2021-09-30.csv")
        );
        fl(&db, &["verify"]).ok();
    }
}

#[test]
fn usage_errors_exit_2() {
    let check = |args: &[&str]| {
        let run = fl_bare(args);
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
    };
    check(&["import", "indicators"]);
    check(&["reconcile"]);
    check(&[
        "reconcile",
        "--as-of",
        "2021-06-30",
        "--fail-on",
        "sometimes",
    ]);
    check(&["import", "indicators", "x.csv", "--unit", "jin"]);
    check(&["frobnicate"]);
}

#[test]
fn rejects_refund_exceeding_what_remains_of_the_payment() {
    // FS21032501 paid 70,000.00 and 10,000.00 of it was refunded already
    check(Refusal {
        kind: "disbursements",
        input: Input::Temp(
            "refund_big.csv",
            "voucher_no,paid_on,region_code,project_code,amount_yuan,original_voucher_no\n\
             R9,2021-07-01,440600,JS02,-60000.01,FS21032501\n",
        ),
        extra: &[],
        expect: &[
            "refund_big.csv:2: original_voucher_no",
            "paid 70000.00, refunded so far 10000.00",
        ],
        errors: 1,
    });
}

#[test]
fn rejects_refund_for_another_region_than_its_payment() {
    check(Refusal {
        kind: "disbursements",
        input: Input::Temp(
            "refund_elsewhere.csv",
            "voucher_no,paid_on,region_code,project_code,amount_yuan,original_voucher_no\n\
             R9,2021-07-01,440100,JS02,-100.00,FS21032501\n",
        ),
        extra: &[],
        expect: &["refund_elsewhere.csv:2: original_voucher_no", "440600"],
        errors: 1,
    });
}

#[test]
fn refuses_a_pool_below_what_is_allocated() {
    for db in TestDb::all() {
        gd_ledger(&db);
        let before = fingerprint(&db);
        let run = fl(
            &db,
            &[
                "budget",
                "set",
                "--fiscal-year",
                "2021",
                "--amount-yuan",
                "965300.49",
            ],
        )
        .expect_code(1);
        assert!(run.stderr.contains("965300.50"), "{}", run.stderr);
        assert_eq!(fingerprint(&db), before);
        // exactly the allocated amount is allowed
        fl(
            &db,
            &[
                "budget",
                "set",
                "--fiscal-year",
                "2021",
                "--amount-yuan",
                "965300.50",
            ],
        )
        .ok();
    }
}

#[test]
fn bad_option_values_exit_2_and_change_nothing() {
    for db in TestDb::all() {
        gd_ledger(&db);
        let before = fingerprint(&db);
        for args in [
            &["reconcile", "--as-of", "2021-13-01"][..],
            &["reconcile", "--as-of", "2021-09-30", "--region", "4402"],
            &["balance", "--depth", "0"],
            &[
                "budget",
                "set",
                "--fiscal-year",
                "2021",
                "--amount-yuan",
                "1e6",
            ],
            &[
                "budget",
                "set",
                "--fiscal-year",
                "2021",
                "--amount-yuan",
                "¥1000000",
            ],
            &["close", "--through", "2021-6"],
        ] {
            let run = fl(&db, args);
            assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
            assert!(run.stdout.is_empty(), "{args:?}: {}", run.stdout);
        }
        assert_eq!(fingerprint(&db), before);
    }
}

/// A file with more rejected rows than the import keeps in memory (1,000):
/// every one is counted, the first 1,000 are listed, the rest are summed up
/// in one line, and the ledger is unchanged.
#[test]
fn more_errors_than_kept_are_counted_and_change_nothing() {
    const ROWS: usize = 1_203;
    let mut content = String::from("指标文号,下达日期,区划代码,项目编码,金额（元）\n");
    for _ in 0..ROWS {
        content.push_str("粤财社〔2021〕90号,2021-07-01,440203,JS08,¥100.00\n");
    }
    for db in TestDb::all() {
        gd_ledger(&db);
        let dir = tempfile::tempdir().expect("tempdir");
        let path = write_file(dir.path(), "many_bad.csv", content.as_bytes());
        let before = fingerprint(&db);
        let run = fl(&db, &["import", "indicators", &path]).expect_code(1);
        let listed = run
            .stderr
            .lines()
            .filter(|l| l.contains("many_bad.csv:") && l.contains(": 金额（元）"))
            .count();
        assert_eq!(listed, 1_000, "{:?}: listed errors", db.backend);
        assert!(
            run.stderr
                .contains("... and 203 more error(s) not listed (the first 1000 are shown)"),
            "{:?}: {}",
            db.backend,
            run.stderr.lines().last().unwrap_or_default()
        );
        assert!(
            run.stderr
                .contains(&format!("{ROWS} error(s): import refused")),
            "{:?}",
            db.backend
        );
        assert!(run.stdout.is_empty());
        assert_eq!(fingerprint(&db), before, "ledger changed after a refusal");
    }
}
