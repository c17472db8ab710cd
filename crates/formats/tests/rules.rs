//! One rejection test per rule of SPEC §4, each reading a small fixture from
//! fixtures/formats/ and asserting the message names the file and the line;
//! plus the accepted layouts (wan preamble, English headers, GB18030, BOM).

use chrono::NaiveDate;
use fundledger_core::catalog::ProjectCatalog;
use fundledger_core::divisions::DivisionTable;
use fundledger_core::domain::IndicatorRow;
use fundledger_core::{Fen, Unit};
use fundledger_formats::{
    open_disbursements, open_indicators, EncodingChoice, ImportContext, ReadOptions, RowError,
};
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/formats")
        .join(name)
}

fn shared_tables() -> (Arc<DivisionTable>, Arc<ProjectCatalog>) {
    static TABLES: OnceLock<(Arc<DivisionTable>, Arc<ProjectCatalog>)> = OnceLock::new();
    TABLES
        .get_or_init(|| {
            (
                Arc::new(DivisionTable::builtin()),
                Arc::new(ProjectCatalog::default_catalog()),
            )
        })
        .clone()
}

fn ctx_with(label: &str, tweak: impl FnOnce(&mut ReadOptions)) -> ImportContext {
    let (divisions, projects) = shared_tables();
    let mut options = ReadOptions {
        file_label: label.to_string(),
        ..ReadOptions::default()
    };
    tweak(&mut options);
    ImportContext {
        divisions,
        projects,
        options,
    }
}

fn ctx(label: &str) -> ImportContext {
    ctx_with(label, |_| {})
}

#[derive(Clone, Copy)]
enum Kind {
    Indicators,
    Disbursements,
}

/// Every error a file yields (the open error included).
fn errors_of(name: &str, kind: Kind, context: &ImportContext) -> Vec<RowError> {
    let path = fixture(name);
    match kind {
        Kind::Indicators => match open_indicators(&path, context) {
            Ok(reader) => reader.filter_map(Result::err).collect(),
            Err(e) => vec![e],
        },
        Kind::Disbursements => match open_disbursements(&path, context) {
            Ok(reader) => reader.filter_map(Result::err).collect(),
            Err(e) => vec![e],
        },
    }
}

/// The file yields an error at `line` whose display contains the file name, the
/// line and `expected`.
fn check_rejected(name: &str, kind: Kind, context: &ImportContext, line: u64, expected: &str) {
    let errors = errors_of(name, kind, context);
    let prefix = if line == 0 {
        format!("{name}: ")
    } else {
        format!("{name}:{line}: ")
    };
    let found = errors
        .iter()
        .map(|e| e.to_string())
        .any(|shown| shown.starts_with(&prefix) && shown.contains(expected));
    assert!(
        found,
        "{name}: no error `{prefix}…{expected}…` in {errors:#?}"
    );
}

fn rejected(name: &str, kind: Kind, line: u64, expected: &str) {
    check_rejected(name, kind, &ctx(name), line, expected);
}

#[test]
fn rule_4_1_amount_grammar() {
    rejected(
        "reject_amount_grammar.csv",
        Kind::Indicators,
        2,
        "金额（元）: `1.234,50` is not an amount",
    );
}

#[test]
fn rule_4_1_amount_whole_fen() {
    rejected(
        "reject_amount_fraction.csv",
        Kind::Indicators,
        2,
        "not a whole number of fen",
    );
}

#[test]
fn rule_4_1_unit_missing() {
    rejected(
        "reject_unit_missing.csv",
        Kind::Indicators,
        1,
        "金额: no unit for the amounts",
    );
}

#[test]
fn rule_4_1_unit_conflict() {
    rejected(
        "reject_unit_conflict.csv",
        Kind::Indicators,
        2,
        "conflicting units",
    );
    let name = "long_gb18030.csv";
    check_rejected(
        name,
        Kind::Indicators,
        &ctx_with(name, |o| o.unit = Some(Unit::Wan)),
        1,
        "conflicting units: the header `金额（元）` says 元, --unit says 万元",
    );
}

#[test]
fn rule_4_4_amount_zero() {
    rejected(
        "reject_amount_zero.csv",
        Kind::Indicators,
        2,
        "amount is zero",
    );
}

#[test]
fn rule_4_2_date_impossible() {
    rejected(
        "reject_date_impossible.csv",
        Kind::Indicators,
        2,
        "下达日期: `2021-02-29` is not a real date",
    );
}

#[test]
fn rule_4_2_doc_no_shape() {
    rejected(
        "reject_doc_no_shape.csv",
        Kind::Indicators,
        2,
        "指标文号: document number `湘财社指2021-5`",
    );
}

#[test]
fn rule_4_2_fiscal_year_conflict() {
    rejected(
        "reject_fiscal_year_conflict.csv",
        Kind::Indicators,
        2,
        "预算年度: fiscal year 2020 conflicts with the year 2021 of document 湘财社指〔2021〕5号",
    );
}

#[test]
fn rule_4_3_region_code_shape() {
    rejected(
        "reject_region_code_shape.csv",
        Kind::Indicators,
        2,
        "区划代码: region code `43118`",
    );
}

#[test]
fn rule_4_3_region_code_valid_at_date() {
    rejected(
        "reject_region_code_not_valid_at_date.csv",
        Kind::Indicators,
        2,
        "区划代码: region code 431121 is not valid in 2023",
    );
}

#[test]
fn rule_4_3_region_name_checked() {
    rejected(
        "reject_region_name_mismatch.csv",
        Kind::Indicators,
        2,
        "地区名称: region code 431181 is 祁阳市",
    );
}

#[test]
fn rule_4_3_project_must_resolve() {
    rejected(
        "reject_project_unknown.csv",
        Kind::Indicators,
        2,
        "项目名称: unknown project `不存在的项目`",
    );
    rejected(
        "reject_disbursement_unknown_project.csv",
        Kind::Disbursements,
        2,
        "项目名称: unknown project `新项目甲`",
    );
}

#[test]
fn rule_4_3_project_name_checked() {
    rejected(
        "reject_project_name_mismatch.csv",
        Kind::Indicators,
        2,
        "项目名称: project JS01 is 计生家庭系列保险",
    );
}

#[test]
fn rule_4_3_new_project_named_once() {
    rejected(
        "reject_new_project_renamed.csv",
        Kind::Indicators,
        3,
        "new project JS99 was named 新项目甲 on line 2, not 新项目乙",
    );
}

#[test]
fn rule_4_4_func_code_seven_digits() {
    rejected(
        "reject_func_code_shape.csv",
        Kind::Indicators,
        2,
        "功能科目: `21007` is not a functional classification code",
    );
}

#[test]
fn rule_4_4_negative_needs_adjusts_doc_no() {
    rejected(
        "reject_negative_without_adjusts.csv",
        Kind::Indicators,
        2,
        "adjusts_doc_no (原指标文号) is required",
    );
}

#[test]
fn rule_4_4_adjusts_doc_no_only_on_negative() {
    rejected(
        "reject_adjusts_on_positive.csv",
        Kind::Indicators,
        2,
        "原指标文号: adjusts_doc_no is only for negative amounts",
    );
    rejected(
        "reject_adjusts_itself.csv",
        Kind::Indicators,
        2,
        "cannot adjust itself",
    );
}

#[test]
fn rule_4_4_total_row_equals_sum() {
    rejected(
        "reject_total_mismatch.csv",
        Kind::Indicators,
        4,
        "合计 row states 300.00 元 but all rows of the file sum to 300.50 元",
    );
    rejected(
        "reject_total_per_document.csv",
        Kind::Indicators,
        4,
        "合计 row states 150.00 元 but the rows of 湘财社指〔2021〕5号 sum to 100.00 元",
    );
    rejected(
        "reject_subtotal_row.csv",
        Kind::Indicators,
        3,
        "小计 subtotal row",
    );
}

#[test]
fn rule_4_header_required_column() {
    rejected(
        "reject_missing_column.csv",
        Kind::Indicators,
        1,
        "required column doc_date is missing (expected one of: doc_date, 下达日期, 发文日期, 文件日期)",
    );
}

#[test]
fn rule_4_header_duplicate_column() {
    rejected(
        "reject_duplicate_column.csv",
        Kind::Indicators,
        1,
        "文号: columns `指标文号` and `文号` both mean doc_no",
    );
}

#[test]
fn rule_4_header_found_within_preamble() {
    rejected(
        "reject_no_header.csv",
        Kind::Indicators,
        0,
        "no header row found in the first 11 non-blank lines",
    );
}

#[test]
fn rule_4_strict_decoding() {
    let name = "reject_invalid_utf8.csv";
    check_rejected(
        name,
        Kind::Indicators,
        &ctx_with(name, |o| o.encoding = EncodingChoice::Utf8),
        3,
        "invalid UTF-8 byte sequence [0xC6",
    );
    rejected(
        "reject_invalid_gb18030.csv",
        Kind::Indicators,
        2,
        "invalid gb18030 byte sequence",
    );
    // The row before the bad byte is still read.
    let errors = errors_of(
        name,
        Kind::Indicators,
        &ctx_with(name, |o| o.encoding = EncodingChoice::Utf8),
    );
    assert_eq!(errors.len(), 1, "{errors:?}");
}

#[test]
fn rule_4_6_refund_needs_original_voucher() {
    rejected(
        "reject_refund_without_original.csv",
        Kind::Disbursements,
        2,
        "支付金额（元）: a negative amount is a refund: original_voucher_no (原支付凭证号) is required",
    );
    rejected(
        "reject_original_on_payment.csv",
        Kind::Disbursements,
        2,
        "原支付凭证号: original_voucher_no is only for negative amounts",
    );
}

#[test]
fn rule_4_6_voucher_no_required() {
    rejected(
        "reject_voucher_no_empty.csv",
        Kind::Disbursements,
        2,
        "支付凭证号: voucher_no is empty",
    );
}

#[test]
fn missing_file_and_sheet_are_file_errors() {
    rejected("no_such_file.csv", Kind::Indicators, 0, "cannot open");
}

fn indicator_rows(name: &str, context: &ImportContext) -> Vec<IndicatorRow> {
    open_indicators(&fixture(name), context)
        .unwrap()
        .map(|r| r.unwrap_or_else(|e| panic!("{e}")))
        .collect()
}

#[test]
fn accepted_gb18030_and_bom_and_utf8_forced() {
    for (name, encoding) in [
        ("long_gb18030.csv", EncodingChoice::Auto),
        ("long_gb18030.csv", EncodingChoice::Gb18030),
        ("long_utf8_bom.csv", EncodingChoice::Auto),
        ("long_utf8_bom.csv", EncodingChoice::Utf8),
    ] {
        let rows = indicator_rows(name, &ctx_with(name, |o| o.encoding = encoding));
        assert_eq!(rows.len(), 1, "{name}");
        let IndicatorRow::Line(line) = &rows[0] else {
            panic!("{name}: not a line")
        };
        assert_eq!(line.key.to_string(), "湘财社指〔2021〕5号/431181/JS01");
        assert_eq!(line.amount, Fen::new(100_000));
    }
    // GB18030 bytes forced as UTF-8 are an error, never mojibake.
    let name = "long_gb18030.csv";
    check_rejected(
        name,
        Kind::Indicators,
        &ctx_with(name, |o| o.encoding = EncodingChoice::Utf8),
        1,
        "invalid UTF-8 byte sequence",
    );
}

#[test]
fn accepted_wan_preamble_with_new_project() {
    let name = "long_wan_preamble.csv";
    let mut reader = open_indicators(&fixture(name), &ctx(name)).unwrap();
    let rows: Vec<IndicatorRow> = reader
        .by_ref()
        .map(|r| r.unwrap_or_else(|e| panic!("{e}")))
        .collect();
    let got: Vec<(String, i64, u64, Option<String>)> = rows
        .iter()
        .map(|r| match r {
            IndicatorRow::Line(l) => (
                l.key.to_string(),
                l.amount.as_i64(),
                l.source.line,
                l.func_code.clone(),
            ),
            IndicatorRow::Reduction(_) => panic!("no reductions here"),
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (
                "粤财社〔2021〕50号/440203/JS08".to_string(),
                1_234_567_891,
                4,
                Some("2100799".to_string())
            ),
            (
                "粤财社〔2021〕50号/440224/JS99".to_string(),
                500_000,
                5,
                None
            ),
            (
                "粤财社〔2021〕50号/440222/JS99".to_string(),
                250_000,
                7,
                None
            ),
        ]
    );
    let summary = reader.summary();
    assert_eq!(summary.rows_read, 3);
    assert_eq!(summary.amount_total, Fen::new(1_235_317_891));
    let new: Vec<(String, String)> = summary
        .new_projects
        .iter()
        .map(|p| (p.code.to_string(), p.name.clone()))
        .collect();
    assert_eq!(new, vec![("JS99".to_string(), "新项目甲".to_string())]);
}

#[test]
fn accepted_english_disbursements_in_wan() {
    let name = "disbursements_english.csv";
    let vouchers: Vec<_> = open_disbursements(&fixture(name), &ctx(name))
        .unwrap()
        .map(|r| r.unwrap_or_else(|e| panic!("{e}")))
        .collect();
    assert_eq!(vouchers.len(), 2);
    assert_eq!(vouchers[0].amount, Fen::new(5_000_000));
    assert_eq!(vouchers[1].amount, Fen::new(-500_000));
    assert_eq!(vouchers[1].fiscal_year, 2021);
    assert_eq!(
        vouchers[1].paid_on,
        NaiveDate::from_ymd_opt(2022, 1, 5).unwrap()
    );
    assert_eq!(vouchers[1].original_voucher_no.as_deref(), Some("V1"));
    assert_eq!(vouchers[1].payee, None);
}
