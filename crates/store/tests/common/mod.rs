//! Shared fixtures for the store's integration tests: the Guangdong 2021
//! worked example (fixtures/gd-2021) entered through the same store API the
//! CLI's imports use (WriteTx + IndicatorImport / VoucherImport), so the rows
//! under test are exactly what a real import writes.

// Each test binary uses a different part of this module.
// Its `pub` items are shared by the test binaries that include it, which
// `unreachable_pub` cannot see.
#![allow(dead_code, unreachable_pub)]

use chrono::NaiveDate;
use fundledger_core::divisions::{Division, Level};
use fundledger_core::domain::{IndicatorLine, IndicatorRow, Reduction, SourceRef, Voucher};
use fundledger_core::{DocNo, Fen, LineKey, ProjectCode, RegionCode};
use fundledger_store::catalog::add_regions;
use fundledger_store::{ImportOutcome, IndicatorImport, Store, VoucherImport, WriteTx};

pub const RECORDED_AT: &str = "2026-11-23T12:00:00Z";

pub const DOC_12: &str = "粤财社〔2021〕12号";
pub const DOC_40: &str = "粤财社〔2021〕40号";
pub const DOC_77: &str = "粤财社〔2021〕77号";

pub fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("valid test date")
}

pub fn region(code: &str) -> RegionCode {
    RegionCode::parse(code).expect("valid test region")
}

pub fn project(code: &str) -> ProjectCode {
    ProjectCode::parse(code).expect("valid test project")
}

fn key(doc: &str, region_code: &str, project_code: &str) -> LineKey {
    LineKey {
        doc_no: DocNo::parse(doc).expect("valid test doc_no"),
        region: region(region_code),
        project: project(project_code),
    }
}

fn source(file: &str, line: u64) -> SourceRef {
    SourceRef {
        file: file.to_string(),
        line,
    }
}

/// One indicator line of fiscal year 2021.
pub fn line(
    file: &str,
    line_no: u64,
    doc: &str,
    doc_date: NaiveDate,
    (region_code, project_code): (&str, &str),
    amount_fen: i64,
) -> IndicatorRow {
    IndicatorRow::Line(IndicatorLine {
        key: key(doc, region_code, project_code),
        fiscal_year: 2021,
        doc_date,
        amount: Fen::new(amount_fen),
        func_code: Some("2100799".into()),
        remark: None,
        source: source(file, line_no),
    })
}

/// A voucher of fiscal year 2021; a negative amount is a refund of `original`.
pub fn voucher(
    line_no: u64,
    voucher_no: &str,
    paid_on: NaiveDate,
    (region_code, project_code): (&str, &str),
    doc: Option<&str>,
    amount_fen: i64,
    original: Option<&str>,
) -> Voucher {
    Voucher {
        voucher_no: voucher_no.to_string(),
        paid_on,
        region: region(region_code),
        project: project(project_code),
        doc_no: doc.map(|d| DocNo::parse(d).expect("valid test doc_no")),
        fiscal_year: 2021,
        amount: Fen::new(amount_fen),
        original_voucher_no: original.map(str::to_string),
        payee: Some("计划生育协会".into()),
        memo: Some(
            if amount_fen < 0 {
                "退回"
            } else {
                "项目资金"
            }
            .into(),
        ),
        source: source("gd_2021_disbursements.csv", line_no),
    }
}

/// Imports one indicator file as its own command; the file must be accepted.
pub async fn import_indicators(store: &Store, file: &str, rows: Vec<IndicatorRow>) {
    let mut w = WriteTx::begin(store, "import indicators", Some((file, "0")), RECORDED_AT)
        .await
        .expect("begin indicator import");
    let mut imp = IndicatorImport::start(&mut w, 30)
        .await
        .expect("start indicator import");
    imp.note_batch(w.batch_id());
    imp.push_chunk(&mut w, rows).await.expect("indicator rows");
    let outcome = imp.finish(&mut w, file).await.expect("finish indicators");
    commit_accepted(w, file, outcome).await;
}

/// Imports one disbursement file as its own command; it must be accepted.
pub async fn import_vouchers(store: &Store, file: &str, vouchers: Vec<Voucher>) {
    let mut w = WriteTx::begin(
        store,
        "import disbursements",
        Some((file, "0")),
        RECORDED_AT,
    )
    .await
    .expect("begin voucher import");
    let mut imp = VoucherImport::start(&mut w)
        .await
        .expect("start voucher import");
    imp.note_batch(w.batch_id());
    imp.push_chunk(&mut w, vouchers).await.expect("vouchers");
    let outcome = imp.finish(&mut w).await.expect("finish vouchers");
    commit_accepted(w, file, outcome).await;
}

async fn commit_accepted(w: WriteTx, file: &str, outcome: ImportOutcome) {
    assert!(
        outcome.rejections.is_empty(),
        "{file}: fixture rejected: {:?}",
        outcome.rejections
    );
    w.commit().await.expect("commit import");
}

/// The Guangdong 2021 ledger, entry by entry (tamper tests name entries):
///
/// | entry | tx |
/// |---|---|
/// | 1 | budget 2021: 1,000,000.00 |
/// | 2–7 | 12号 lines: 广州市本级 JS02, JS05; 荔湾区 JS01, JS02; 乐昌市 JS02; 佛山市 JS02 |
/// | 8–10 | 40号 lines: 武江区 JS08, 仁化县 JS08, 海珠区 JS04 |
/// | 11 | 77号 reduction of 乐昌市 JS02 by 20,000.00 |
/// | 12–17 | vouchers GZ21032001, GZ21041001, GZ21040401, SG21040101, FS21032501, SG21061501 |
/// | 18 | refund FS21050601 of FS21032501 (10,000.00) |
pub async fn gd_ledger(store: &Store) {
    store
        .budget_set(2021, Fen::new(100_000_000), RECORDED_AT)
        .await
        .expect("budget");
    let wide = "gd_2021_12_wide_wan.csv";
    let d12 = day(2021, 3, 5);
    import_indicators(
        store,
        wide,
        vec![
            line(wide, 9, DOC_12, d12, ("440100", "JS02"), 5_000_000),
            line(wide, 9, DOC_12, d12, ("440100", "JS05"), 2_500_000),
            line(wide, 10, DOC_12, d12, ("440103", "JS01"), 3_200_000),
            line(wide, 10, DOC_12, d12, ("440103", "JS02"), 8_000_000),
            line(wide, 15, DOC_12, d12, ("440281", "JS02"), 10_000_000),
            line(wide, 17, DOC_12, d12, ("440600", "JS02"), 7_000_000),
        ],
    )
    .await;
    let long = "gd_2021_40_long.csv";
    let d40 = day(2021, 5, 10);
    import_indicators(
        store,
        long,
        vec![
            line(long, 3, DOC_40, d40, ("440203", "JS08"), 10_000_000),
            line(long, 4, DOC_40, d40, ("440224", "JS08"), 10_000_000),
            line(long, 5, DOC_40, d40, ("440105", "JS04"), 3_680_050),
        ],
    )
    .await;
    let adjust = "gd_2021_77_adjust.csv";
    import_indicators(
        store,
        adjust,
        vec![IndicatorRow::Reduction(Reduction {
            key: key(DOC_77, "440281", "JS02"),
            doc_date: day(2021, 8, 2),
            fiscal_year: 2021,
            target: key(DOC_12, "440281", "JS02"),
            amount: Fen::new(-2_000_000),
            remark: Some("调减".into()),
            source: source(adjust, 2),
        })],
    )
    .await;
    import_vouchers(
        store,
        "gd_2021_disbursements.csv",
        vec![
            voucher(
                2,
                "GZ21032001",
                day(2021, 3, 20),
                ("440100", "JS02"),
                Some(DOC_12),
                5_000_000,
                None,
            ),
            voucher(
                3,
                "GZ21041001",
                day(2021, 4, 10),
                ("440103", "JS02"),
                None,
                8_000_000,
                None,
            ),
            voucher(
                4,
                "GZ21040401",
                day(2021, 4, 4),
                ("440103", "JS01"),
                Some(DOC_12),
                3_200_000,
                None,
            ),
            voucher(
                6,
                "SG21040101",
                day(2021, 4, 1),
                ("440281", "JS02"),
                None,
                8_000_000,
                None,
            ),
            voucher(
                7,
                "FS21032501",
                day(2021, 3, 25),
                ("440600", "JS02"),
                Some(DOC_12),
                7_000_000,
                None,
            ),
            voucher(
                8,
                "FS21050601",
                day(2021, 5, 6),
                ("440600", "JS02"),
                None,
                -1_000_000,
                Some("FS21032501"),
            ),
            voucher(
                10,
                "SG21061501",
                day(2021, 6, 15),
                ("440224", "JS08"),
                Some(DOC_40),
                12_000_000,
                None,
            ),
        ],
    )
    .await;
}

/// `gd_ledger` plus every other kind of record, so that every append-only
/// table holds at least one row: a closing, a division-table extension, the
/// 2021 rollover (carries into 2022) and the 2022 rollover with
/// recover-after 1 (recovers the carried money).
pub async fn full_ledger(store: &Store) {
    gd_ledger(store).await;
    store
        .close_through(day(2021, 3, 31), RECORDED_AT)
        .await
        .expect("close");
    let mut w = WriteTx::begin(
        store,
        "regions import",
        Some(("extensions.csv", "0")),
        RECORDED_AT,
    )
    .await
    .expect("begin regions import");
    let zone = Division {
        code: region("440271"),
        name: "韶关示范区".into(),
        level: Level::Zone,
        parent: Some(region("440200")),
        valid_from: 2021,
        valid_to: None,
        successors: Vec::new(),
    };
    assert_eq!(add_regions(&mut w, &[zone]).await.expect("add region"), 1);
    w.commit().await.expect("commit regions import");
    let same = |code: RegionCode, _year: i32| code;
    for (year, recover_after) in [(2021, 2), (2022, 1)] {
        let out = store
            .rollover(year, recover_after, &same, false, RECORDED_AT)
            .await
            .expect("rollover");
        assert!(!out.already_done, "{year}: {out:?}");
    }
}

/// `full_ledger` with the shipped project catalog loaded: a row in every
/// table the schema has.
pub async fn ledger_with_catalog(store: &Store) {
    full_ledger(store).await;
    let text = include_str!("../../../../fixtures/reference/projects.csv");
    let projects = fundledger_core::catalog::ProjectCatalog::parse_csv(text).expect("catalog");
    let mut w = WriteTx::begin(
        store,
        "projects import",
        Some(("projects.csv", "0")),
        RECORDED_AT,
    )
    .await
    .expect("begin");
    fundledger_store::catalog::upsert_projects(&mut w, &projects)
        .await
        .expect("upsert");
    w.commit().await.expect("commit");
}
