//! The Guangdong 2021 worked example (fixtures/gd-2021) read end to end.

use chrono::NaiveDate;
use fundledger_core::catalog::ProjectCatalog;
use fundledger_core::divisions::DivisionTable;
use fundledger_core::domain::{IndicatorLine, IndicatorRow, Reduction, SourceRef, Voucher};
use fundledger_core::{DocNo, Fen, LineKey, ProjectCode, RegionCode};
use fundledger_formats::{
    open_disbursements, open_indicators, ImportContext, IndicatorLayout, ReadOptions,
};
use std::path::PathBuf;
use std::sync::Arc;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/gd-2021")
        .join(name)
}

fn ctx(label: &str) -> ImportContext {
    ImportContext {
        divisions: Arc::new(DivisionTable::builtin()),
        projects: Arc::new(ProjectCatalog::default_catalog()),
        options: ReadOptions {
            file_label: label.to_string(),
            ..ReadOptions::default()
        },
    }
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn key(doc: &str, region: u32, project: &str) -> LineKey {
    LineKey {
        doc_no: DocNo::parse(doc).unwrap(),
        region: RegionCode::from_u32(region),
        project: ProjectCode::parse(project).unwrap(),
    }
}

fn src(file: &str, line: u64) -> SourceRef {
    SourceRef {
        file: file.to_string(),
        line,
    }
}

#[test]
fn long_form_40() {
    let file = "gd_2021_40_long.csv";
    let mut reader = open_indicators(&fixture(file), &ctx(file)).unwrap();
    let rows: Vec<IndicatorRow> = reader.by_ref().map(|r| r.unwrap()).collect();
    let line = |region, project, amount, line| {
        IndicatorRow::Line(IndicatorLine {
            key: key("粤财社〔2021〕40号", region, project),
            fiscal_year: 2021,
            doc_date: date(2021, 5, 10),
            amount: Fen::new(amount),
            func_code: None,
            remark: None,
            source: src(file, line),
        })
    };
    assert_eq!(
        rows,
        vec![
            line(440203, "JS08", 10_000_000, 3),
            line(440224, "JS08", 10_000_000, 4),
            line(440105, "JS04", 3_680_050, 5),
        ]
    );
    let summary = reader.summary();
    assert_eq!(summary.layout, IndicatorLayout::Long);
    assert_eq!(summary.rows_read, 3);
    assert_eq!(summary.amount_total, Fen::new(23_680_050));
    assert!(summary.new_projects.is_empty());
}

#[test]
fn adjustment_77() {
    let file = "gd_2021_77_adjust.csv";
    let rows: Vec<IndicatorRow> = open_indicators(&fixture(file), &ctx(file))
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    assert_eq!(
        rows,
        vec![IndicatorRow::Reduction(Reduction {
            key: key("粤财社〔2021〕77号", 440281, "JS02"),
            doc_date: date(2021, 8, 2),
            fiscal_year: 2021,
            target: key("粤财社〔2021〕12号", 440281, "JS02"),
            amount: Fen::new(-2_000_000),
            remark: Some("调减".to_string()),
            source: src(file, 2),
        })]
    );
}

#[test]
fn disbursements() {
    let file = "gd_2021_disbursements.csv";
    let mut reader = open_disbursements(&fixture(file), &ctx(file)).unwrap();
    let got: Vec<Voucher> = reader.by_ref().map(|r| r.unwrap()).collect();
    #[allow(clippy::too_many_arguments)]
    fn v(
        no: &str,
        paid: (i32, u32, u32),
        region: u32,
        project: &str,
        doc: Option<&str>,
        fen: i64,
        original: Option<&str>,
        payee: &str,
        memo: &str,
        line: u64,
    ) -> Voucher {
        Voucher {
            voucher_no: no.to_string(),
            paid_on: date(paid.0, paid.1, paid.2),
            region: RegionCode::from_u32(region),
            project: ProjectCode::parse(project).unwrap(),
            doc_no: doc.map(|d| DocNo::parse(d).unwrap()),
            fiscal_year: 2021,
            amount: Fen::new(fen),
            original_voucher_no: original.map(str::to_string),
            payee: Some(payee.to_string()),
            memo: Some(memo.to_string()),
            source: src("gd_2021_disbursements.csv", line),
        }
    }
    let d12 = Some("粤财社〔2021〕12号");
    let want = vec![
        v(
            "GZ21032001",
            (2021, 3, 20),
            440100,
            "JS02",
            d12,
            5_000_000,
            None,
            "广州市计划生育协会",
            "项目资金",
            2,
        ),
        v(
            "GZ21041001",
            (2021, 4, 10),
            440103,
            "JS02",
            None,
            8_000_000,
            None,
            "荔湾区计划生育协会",
            "项目资金",
            3,
        ),
        v(
            "GZ21040401",
            (2021, 4, 4),
            440103,
            "JS01",
            d12,
            3_200_000,
            None,
            "荔湾区计划生育协会",
            "项目资金",
            4,
        ),
        v(
            "SG21033001",
            (2021, 3, 30),
            440222,
            "JS02",
            d12,
            6_000_000,
            None,
            "始兴县计划生育协会",
            "项目资金",
            5,
        ),
        v(
            "SG21040101",
            (2021, 4, 1),
            440281,
            "JS02",
            None,
            8_000_000,
            None,
            "乐昌市计划生育协会",
            "项目资金",
            6,
        ),
        v(
            "FS21032501",
            (2021, 3, 25),
            440600,
            "JS02",
            d12,
            7_000_000,
            None,
            "佛山市计划生育协会",
            "项目资金",
            7,
        ),
        v(
            "FS21050601",
            (2021, 5, 6),
            440600,
            "JS02",
            None,
            -1_000_000,
            Some("FS21032501"),
            "佛山市计划生育协会",
            "退回",
            8,
        ),
        v(
            "SG21052001",
            (2021, 5, 20),
            440203,
            "JS08",
            None,
            10_000_000,
            None,
            "武江区计划生育协会",
            "项目资金",
            9,
        ),
        v(
            "SG21061501",
            (2021, 6, 15),
            440224,
            "JS08",
            Some("粤财社〔2021〕40号"),
            12_000_000,
            None,
            "仁化县计划生育协会",
            "项目资金",
            10,
        ),
        v(
            "GZ21061801",
            (2021, 6, 18),
            440104,
            "JS10",
            None,
            500_000,
            None,
            "越秀区计划生育协会",
            "项目资金",
            11,
        ),
        v(
            "SG21040201",
            (2021, 4, 2),
            440222,
            "JS01",
            Some("粤财社〔2021〕99号"),
            4_800_000,
            None,
            "始兴县计划生育协会",
            "项目资金",
            12,
        ),
    ];
    assert_eq!(got, want);
    assert_eq!(reader.summary().rows_read, 11);
    assert_eq!(reader.summary().amount_total, Fen::new(63_500_000));
}

#[test]
fn wide_12_dispatches_to_the_wide_parser() {
    let file = "gd_2021_12_wide_wan.csv";
    let mut reader = open_indicators(&fixture(file), &ctx(file)).unwrap();
    let rows: Vec<IndicatorRow> = reader.by_ref().map(|r| r.unwrap()).collect();
    assert_eq!(rows.len(), 15);
    let summary = reader.summary();
    assert_eq!(summary.layout, IndicatorLayout::Wide);
    assert_eq!(summary.rows_read, 15);
    assert_eq!(summary.amount_total, Fen::new(74_850_000));
}
