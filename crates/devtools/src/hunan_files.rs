//! Writes the Hunan 2020 model as the files bureaus send: the 36号 wide
//! attachment table (XLSX and GB18030 CSV), the 37号 long list, and twelve
//! monthly disbursement files, each in its own house style.

use crate::hunan::{Doc, Model, Voucher};
use crate::text::{
    region_text, wan_text, yuan_accounting, yuan_grouped, yuan_plain, yuan_short, Brackets,
    DateStyle,
};
use anyhow::{Context, Result};
use chrono::Datelike;
use fundledger_core::Fen;
use std::path::Path;

pub const WIDE_XLSX: &str = "36_wide_wan.xlsx";
pub const WIDE_CSV: &str = "36_wide_wan_gb18030.csv";
pub const LONG_CSV: &str = "37_long.csv";

pub fn disbursement_file_name(month: u32) -> String {
    format!("disb_2020_{month:02}.csv")
}

/// One cell of the wide table, typed so XLSX gets numbers as numbers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cell {
    Empty,
    Text(String),
    Integer(i64),
    Wan(Fen),
}

impl Cell {
    fn csv_text(&self) -> String {
        match self {
            Cell::Empty => String::new(),
            Cell::Text(text) => text.clone(),
            Cell::Integer(n) => n.to_string(),
            Cell::Wan(amount) => wan_text(*amount),
        }
    }
}

const CHINESE_ORDINALS: [&str; 14] = [
    "一", "二", "三", "四", "五", "六", "七", "八", "九", "十", "十一", "十二", "十三", "十四",
];

/// The 36号 attachment table, preamble included, row by row.
pub fn wide_rows(model: &Model) -> Vec<Vec<Cell>> {
    let text = |s: &str| vec![Cell::Text(s.to_string())];
    let mut rows = vec![
        text("湖南省财政厅关于下达2020年计划生育协会项目补助资金的通知"),
        text("湘财社指〔2020〕36号"),
        text("2020年3月20日"),
        text("附件：2020年计划生育协会项目补助资金分配表"),
        text("单位：万元"),
    ];
    let mut header = vec![
        Cell::Text("序号".into()),
        Cell::Text("地区".into()),
        Cell::Text("合计".into()),
    ];
    header.extend(
        model
            .wide_columns
            .iter()
            .map(|c| Cell::Text(c.header.into())),
    );
    rows.push(header);
    let all: Vec<usize> = (0..model.recipients.len()).collect();
    rows.push(amount_row(model, Cell::Empty, "合计".into(), &all));
    for (p, prefecture) in model.prefectures.iter().enumerate() {
        let own = model
            .recipients
            .iter()
            .position(|r| r.prefecture == p && r.own_level)
            .expect("every prefecture has an own level");
        let counties: Vec<usize> = (0..model.recipients.len())
            .filter(|&i| model.recipients[i].prefecture == p && !model.recipients[i].own_level)
            .collect();
        // Alternate the two ways documents head a prefecture block, and where
        // they put 市本级 (first or last).
        let subtotal_label = p % 2 == 1;
        let label = if subtotal_label {
            format!("{}小计", prefecture.name)
        } else {
            prefecture.name.clone()
        };
        let mut children: Vec<usize> = Vec::new();
        if !subtotal_label {
            children.push(own);
        }
        children.extend(&counties);
        if subtotal_label {
            children.push(own);
        }
        rows.push(amount_row(
            model,
            Cell::Text(CHINESE_ORDINALS[p].into()),
            label,
            &children,
        ));
        for (k, &child) in children.iter().enumerate() {
            let recipient = &model.recipients[child];
            let name = if recipient.own_level {
                format!("{}本级", recipient.name)
            } else {
                recipient.name.clone()
            };
            let ordinal = i64::try_from(k + 1).expect("fits");
            rows.push(amount_row(model, Cell::Integer(ordinal), name, &[child]));
        }
    }
    rows
}

fn amount_row(model: &Model, ordinal: Cell, label: String, members: &[usize]) -> Vec<Cell> {
    let mut cells = Vec::new();
    let mut row_total = Fen::ZERO;
    for column in &model.wide_columns {
        let sum = Fen::checked_sum(
            model
                .lines
                .iter()
                .filter(|l| {
                    l.doc == Doc::No36
                        && l.project == column.project
                        && members.contains(&l.recipient)
                })
                .map(|l| l.amount),
        )
        .expect("fits");
        row_total = row_total.checked_add(sum).expect("fits");
        let explicit_zero = members == [model.zero_cell.0] && column.project == model.zero_cell.1;
        cells.push(if sum.is_positive() || explicit_zero {
            Cell::Wan(sum)
        } else {
            Cell::Empty
        });
    }
    let mut row = vec![ordinal, Cell::Text(label), Cell::Wan(row_total)];
    row.extend(cells);
    row
}

fn csv_bytes(rows: &[Vec<String>], crlf: bool) -> Result<Vec<u8>> {
    let terminator = if crlf {
        csv::Terminator::CRLF
    } else {
        csv::Terminator::Any(b'\n')
    };
    let mut writer = csv::WriterBuilder::new()
        .flexible(true)
        .terminator(terminator)
        .from_writer(Vec::new());
    for row in rows {
        writer.write_record(row)?;
    }
    writer.into_inner().context("flushing CSV buffer")
}

/// The wide table as a GB18030 CSV with CRLF, as Excel on Chinese Windows saves it.
pub fn wide_csv_gb18030(model: &Model) -> Result<Vec<u8>> {
    let rows: Vec<Vec<String>> = wide_rows(model)
        .iter()
        .map(|row| row.iter().map(Cell::csv_text).collect())
        .collect();
    let utf8 = String::from_utf8(csv_bytes(&rows, true)?)?;
    let (encoded, _, had_errors) = encoding_rs::GB18030.encode(&utf8);
    assert!(!had_errors, "every character of the table is in GB18030");
    Ok(encoded.into_owned())
}

/// The XLSX cell value of an amount in 万元: the float is produced here, at the
/// last moment, because an Excel numeric cell can hold nothing else. fen and
/// 1e6 are exact doubles and IEEE division rounds correctly, so this is the
/// double nearest the decimal, the same one Excel would store.
fn xlsx_wan_value(amount: Fen) -> f64 {
    let fen_for_excel = amount.as_i64() as f64;
    fen_for_excel / 1_000_000.0
}

/// The wide table as an XLSX workbook with a fixed creation time, so the
/// bytes depend on the model alone.
pub fn wide_xlsx(model: &Model) -> Result<Vec<u8>> {
    use rust_xlsxwriter::{DocProperties, ExcelDateTime, Format, Workbook};
    let mut workbook = Workbook::new();
    let created = ExcelDateTime::from_ymd(2020, 3, 20)?.and_hms(9, 0, 0)?;
    let properties = DocProperties::new()
        .set_title("2020年计划生育协会项目补助资金分配表")
        .set_author("湖南省财政厅")
        .set_creation_datetime(&created);
    workbook.set_properties(&properties);
    let wan_format = Format::new().set_num_format("0.00");
    let sheet = workbook.add_worksheet();
    sheet.set_name("分配表")?;
    for (r, row) in wide_rows(model).iter().enumerate() {
        let r = u32::try_from(r).expect("row fits");
        for (c, cell) in row.iter().enumerate() {
            let c = u16::try_from(c).expect("column fits");
            match cell {
                Cell::Empty => {}
                Cell::Text(text) => {
                    sheet.write_string(r, c, text)?;
                }
                Cell::Integer(n) => {
                    let ordinal_for_excel = *n as f64;
                    sheet.write_number(r, c, ordinal_for_excel)?;
                }
                Cell::Wan(amount) => {
                    sheet.write_number_with_format(r, c, xlsx_wan_value(*amount), &wan_format)?;
                }
            }
        }
    }
    Ok(workbook.save_to_buffer()?)
}

/// The 37号 long list: one row per allocation in yuan, then a 合计 row.
pub fn long_csv(model: &Model) -> Result<Vec<u8>> {
    let doc = Doc::No37;
    let mut rows: Vec<Vec<String>> = vec![
        vec!["湖南省财政厅关于下达2020年计划生育协会第二批项目补助资金的通知（湘财社指〔2020〕37号）".into()],
        [
            "指标文号",
            "下达日期",
            "区划代码",
            "地区名称",
            "项目编码",
            "项目名称",
            "金额（元）",
            "备注",
        ]
        .map(String::from)
        .to_vec(),
    ];
    let lines = model.lines.iter().filter(|l| l.doc == doc);
    for (i, line) in lines.enumerate() {
        let recipient = &model.recipients[line.recipient];
        let project = &model.catalog[line.project];
        let brackets = if i % 11 == 5 {
            Brackets::Square
        } else {
            Brackets::Canonical
        };
        let date_style = if i % 13 == 7 {
            DateStyle::Slash
        } else {
            DateStyle::Iso
        };
        let project_name = if i % 5 == 2 {
            project.aliases[0].clone()
        } else {
            project.name.clone()
        };
        let amount = match i % 3 {
            0 => yuan_grouped(line.amount),
            1 => yuan_plain(line.amount),
            _ => yuan_short(line.amount),
        };
        let remark = if project.code.as_str() == "JS08" {
            "示范点1个"
        } else if recipient.own_level {
            "市本级"
        } else {
            ""
        };
        rows.push(vec![
            brackets.format(&doc.doc_no()),
            date_style.format(doc.date()),
            region_text(recipient.code, i % 9 == 4),
            recipient.name.clone(),
            project.code.to_string(),
            project_name,
            amount,
            remark.to_string(),
        ]);
    }
    let total = yuan_grouped(model.doc_total(doc));
    rows.push(
        ["", "", "", "合计", "", "", total.as_str(), ""]
            .map(String::from)
            .to_vec(),
    );
    csv_bytes(&rows, false)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProjectColumns {
    Code,
    CodeAndName,
    /// Name or alias only: the file must be resolved through the catalog.
    Name,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AmountStyle {
    Plain,
    Grouped,
    Short,
    Accounting,
    Wan,
}

/// How one month's bureau export looks.
#[derive(Clone, Copy, Debug)]
pub struct MonthStyle {
    pub month: u32,
    /// None: the date style changes from row to row.
    pub date: Option<DateStyle>,
    pub amounts: AmountStyle,
    pub doc_column: bool,
    pub projects: ProjectColumns,
    /// Every n-th row writes a nine-digit region code (0: never, 1: always).
    pub nine_digit_every: usize,
    pub bom: bool,
    pub crlf: bool,
    pub fiscal_year_column: bool,
    pub title: bool,
}

const fn style(
    month: u32,
    date: Option<DateStyle>,
    amounts: AmountStyle,
    projects: ProjectColumns,
    nine_digit_every: usize,
) -> MonthStyle {
    MonthStyle {
        month,
        date,
        amounts,
        doc_column: true,
        projects,
        nine_digit_every,
        bom: false,
        crlf: false,
        fiscal_year_column: month % 2 == 0,
        title: false,
    }
}

pub fn month_styles() -> [MonthStyle; 12] {
    use AmountStyle as A;
    use DateStyle as D;
    use ProjectColumns as P;
    [
        style(1, Some(D::Iso), A::Plain, P::CodeAndName, 0),
        style(2, Some(D::Slash), A::Plain, P::Code, 0),
        style(3, Some(D::Iso), A::Plain, P::CodeAndName, 4),
        MonthStyle {
            bom: true,
            crlf: true,
            title: true,
            ..style(4, Some(D::Slash), A::Grouped, P::Name, 3)
        },
        MonthStyle {
            title: true,
            ..style(5, Some(D::Chinese), A::Wan, P::Code, 1)
        },
        MonthStyle {
            doc_column: false,
            ..style(6, Some(D::Compact), A::Short, P::Code, 5)
        },
        style(7, None, A::Grouped, P::Name, 2),
        style(8, Some(D::Iso), A::Plain, P::CodeAndName, 0),
        style(9, Some(D::Slash), A::Accounting, P::Name, 3),
        style(10, Some(D::Chinese), A::Plain, P::Code, 4),
        style(11, Some(D::Compact), A::Grouped, P::Name, 2),
        MonthStyle {
            crlf: true,
            ..style(12, Some(D::Iso), A::Short, P::Code, 3)
        },
    ]
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Column {
    VoucherNo,
    PaidOn,
    RegionCode,
    RegionName,
    ProjectCode,
    ProjectName,
    DocNo,
    FiscalYear,
    Amount,
    Original,
    Payee,
    Memo,
}

impl MonthStyle {
    fn columns(&self) -> Vec<Column> {
        use Column::*;
        let mut columns = vec![VoucherNo, PaidOn, RegionCode, RegionName];
        if self.projects != ProjectColumns::Name {
            columns.push(ProjectCode);
        }
        if self.projects != ProjectColumns::Code {
            columns.push(ProjectName);
        }
        if self.doc_column {
            columns.push(DocNo);
        }
        if self.fiscal_year_column {
            columns.push(FiscalYear);
        }
        columns.extend([Amount, Original, Payee, Memo]);
        columns
    }

    /// Header text: the aliases of SPEC §4.6, varied from month to month.
    fn header(&self, column: Column) -> &'static str {
        let by3 = usize::try_from(self.month % 3).expect("fits");
        let by2 = usize::try_from(self.month % 2).expect("fits");
        match column {
            Column::VoucherNo => ["支付凭证号", "凭证号", "拨款凭证号"][by3],
            Column::PaidOn => ["支付日期", "拨付日期", "实际支付日期"][by3],
            Column::RegionCode => ["财政区划代码", "区划代码", "地区编码"][by3],
            Column::RegionName => ["地区名称", "地区"][by2],
            Column::ProjectCode => ["项目编码", "项目代码"][by2],
            Column::ProjectName => "项目名称",
            Column::DocNo => "指标文号",
            Column::FiscalYear => "预算年度",
            Column::Amount if self.amounts == AmountStyle::Wan => "支付金额（万元）",
            Column::Amount => ["支付金额（元）", "实际支付金额(元)", "金额（元）"][by3],
            Column::Original => ["原支付凭证号", "原凭证号"][by2],
            Column::Payee => ["收款单位", "收款人"][by2],
            Column::Memo => ["摘要", "用途"][by2],
        }
    }

    fn amount_text(&self, amount: Fen) -> String {
        match self.amounts {
            AmountStyle::Plain => yuan_plain(amount),
            AmountStyle::Grouped => yuan_grouped(amount),
            AmountStyle::Short => yuan_short(amount),
            AmountStyle::Accounting => yuan_accounting(amount),
            AmountStyle::Wan => wan_text(amount),
        }
    }

    fn cell(&self, model: &Model, voucher: &Voucher, row: usize, column: Column) -> String {
        let recipient = &model.recipients[voucher.recipient];
        let project = &model.catalog[voucher.project];
        match column {
            Column::VoucherNo => voucher.no.clone(),
            Column::PaidOn => {
                let date_style = self.date.unwrap_or(DateStyle::ALL[row % 4]);
                date_style.format(voucher.paid_on)
            }
            Column::RegionCode => {
                let nine = self.nine_digit_every > 0 && row % self.nine_digit_every == 0;
                region_text(recipient.code, nine)
            }
            Column::RegionName => recipient.name.clone(),
            Column::ProjectCode => project.code.to_string(),
            Column::ProjectName if self.projects == ProjectColumns::Name => {
                let spellings = project.spellings();
                spellings[row % spellings.len()].to_string()
            }
            Column::ProjectName => project.name.clone(),
            Column::DocNo => voucher
                .doc_no
                .as_ref()
                .map(|d| Brackets::ALL[row % 3].format(d))
                .unwrap_or_default(),
            Column::FiscalYear => voucher.paid_on.year().to_string(),
            Column::Amount => self.amount_text(voucher.amount),
            Column::Original => voucher.original_voucher_no.clone().unwrap_or_default(),
            Column::Payee => recipient.payee(),
            Column::Memo => voucher.memo.clone(),
        }
    }
}

pub fn disbursement_csv(model: &Model, style: &MonthStyle) -> Result<Vec<u8>> {
    let columns = style.columns();
    let mut rows: Vec<Vec<String>> = Vec::new();
    if style.title {
        rows.push(vec![format!(
            "2020年{}月计划生育协会项目资金拨付明细",
            style.month
        )]);
    }
    rows.push(
        columns
            .iter()
            .map(|&c| style.header(c).to_string())
            .collect(),
    );
    let vouchers = model
        .vouchers
        .iter()
        .filter(|v| v.paid_on.month() == style.month);
    for (row, voucher) in vouchers.enumerate() {
        assert!(
            style.doc_column || voucher.doc_no.is_none(),
            "{} names a document but its file has no doc_no column",
            voucher.no
        );
        rows.push(
            columns
                .iter()
                .map(|&c| style.cell(model, voucher, row, c))
                .collect(),
        );
    }
    let body = csv_bytes(&rows, style.crlf)?;
    let bom: &[u8] = if style.bom { b"\xEF\xBB\xBF" } else { b"" };
    Ok([bom, body.as_slice()].concat())
}

/// Every file of the demo, by name, in a fixed order.
pub fn all_files(model: &Model) -> Result<Vec<(String, Vec<u8>)>> {
    let mut files = vec![
        (WIDE_XLSX.to_string(), wide_xlsx(model)?),
        (WIDE_CSV.to_string(), wide_csv_gb18030(model)?),
        (LONG_CSV.to_string(), long_csv(model)?),
    ];
    for style in month_styles() {
        files.push((
            disbursement_file_name(style.month),
            disbursement_csv(model, &style)?,
        ));
    }
    files.push((
        "expected_summary.json".to_string(),
        crate::summary::expected_summary_json(model)?,
    ));
    files.push((
        "README.md".to_string(),
        crate::readme::readme(model).into_bytes(),
    ));
    Ok(files)
}

/// Writes every file into `out`, creating it if needed.
pub fn write_all(model: &Model, out: &Path) -> Result<()> {
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    for (name, bytes) in all_files(model)? {
        let path = out.join(&name);
        std::fs::write(&path, bytes).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}
