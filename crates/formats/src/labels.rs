//! The words of the reports for people (xlsx, html): Chinese by default,
//! English with `--lang en`. The CSV and JSON keep the SPEC §5 English
//! column names whatever the language: programs depend on them.

use chrono::NaiveDate;
use fundledger_core::reconcile::Status;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Lang {
    #[default]
    Zh,
    En,
}

/// Every label a report for people prints, in one language.
pub struct Labels {
    pub lang: Lang,
    pub title: &'static str,
    pub summary_sheet: &'static str,
    pub exceptions_sheet: &'static str,
    pub chart_title: &'static str,
    pub as_of: &'static str,
    pub fiscal_year: &'static str,
    pub origin_year: &'static str,
    pub region_filter: &'static str,
    pub project_filter: &'static str,
    pub all: &'static str,
    pub chain_head: &'static str,
    pub entries: &'static str,
    pub prefecture_code: &'static str,
    pub prefecture: &'static str,
    pub lines: &'static str,
    pub doc_no: &'static str,
    pub doc_date: &'static str,
    pub region_code: &'static str,
    pub region: &'static str,
    pub project_code: &'static str,
    pub project: &'static str,
    pub allocated: &'static str,
    pub disbursed: &'static str,
    pub outstanding: &'static str,
    pub rate: &'static str,
    pub due_date: &'static str,
    pub settled_on: &'static str,
    /// Note of an `over` row: paid reached the allocation on this date (never "settled").
    pub over_since: &'static str,
    pub status: &'static str,
    pub voucher_no: &'static str,
    pub paid_on: &'static str,
    pub note: &'static str,
    pub total: &'static str,
    pub unmatched_vouchers: &'static str,
    pub no_exceptions: &'static str,
    pub exceptions_note: &'static str,
    pub page_footer: &'static str,
}

const ZH: Labels = Labels {
    lang: Lang::Zh,
    title: "项目资金对账报告",
    summary_sheet: "汇总",
    exceptions_sheet: "异常",
    chart_title: "各市州拨付率",
    as_of: "截至",
    fiscal_year: "财政年度",
    origin_year: "来源年度",
    region_filter: "地区",
    project_filter: "项目",
    all: "全部",
    chain_head: "账链头",
    entries: "分录数",
    prefecture_code: "市州代码",
    prefecture: "市州",
    lines: "指标行数",
    doc_no: "指标文号",
    doc_date: "发文日期",
    region_code: "区划代码",
    region: "地区",
    project_code: "项目代码",
    project: "项目",
    allocated: "下达金额",
    disbursed: "已拨付",
    outstanding: "未拨付",
    rate: "拨付率",
    due_date: "到期日",
    settled_on: "结清日",
    over_since: "拨付已达下达额，自",
    status: "状态",
    voucher_no: "支付凭证号",
    paid_on: "支付日期",
    note: "说明",
    total: "合计",
    unmatched_vouchers: "未匹配支付凭证",
    no_exceptions: "无异常",
    exceptions_note: "逾期、超拨、逾期结清、未匹配",
    page_footer: "第 &P 页，共 &N 页",
};

const EN: Labels = Labels {
    lang: Lang::En,
    title: "Project funds reconciliation",
    summary_sheet: "Summary",
    exceptions_sheet: "Exceptions",
    chart_title: "Disbursement rate by prefecture",
    as_of: "as of",
    fiscal_year: "fiscal year",
    origin_year: "origin year",
    region_filter: "region",
    project_filter: "project",
    all: "all",
    chain_head: "chain head",
    entries: "entries",
    prefecture_code: "prefecture",
    prefecture: "name",
    lines: "lines",
    doc_no: "doc_no",
    doc_date: "doc date",
    region_code: "region code",
    region: "region",
    project_code: "project code",
    project: "project",
    allocated: "allocated",
    disbursed: "disbursed",
    outstanding: "outstanding",
    rate: "rate",
    due_date: "due date",
    settled_on: "settled on",
    over_since: "paid ≥ allocated since",
    status: "status",
    voucher_no: "voucher_no",
    paid_on: "paid on",
    note: "note",
    total: "total",
    unmatched_vouchers: "unmatched vouchers",
    no_exceptions: "no exceptions",
    exceptions_note: "overdue, over, late, unmatched",
    page_footer: "page &P of &N",
};

impl Lang {
    pub fn labels(self) -> &'static Labels {
        match self {
            Lang::Zh => &ZH,
            Lang::En => &EN,
        }
    }
    /// The `lang` attribute of the html page.
    pub fn html_code(self) -> &'static str {
        match self {
            Lang::Zh => "zh-CN",
            Lang::En => "en",
        }
    }
}

impl Labels {
    /// A status as an officer reads it; in English, the SPEC §5 word.
    pub fn status(&self, s: Status) -> &'static str {
        if self.lang == Lang::En {
            return s.as_str();
        }
        match s {
            Status::Settled => "已结清",
            Status::Late => "逾期结清",
            Status::Over => "超拨",
            Status::Open => "未到期",
            Status::Overdue => "逾期",
            Status::Unmatched => "未匹配",
        }
    }
    /// An unmatched voucher's reason (SPEC §5.1 words in English).
    pub fn reason(&self, reason: &str) -> String {
        match (self.lang, reason) {
            (Lang::Zh, "no line for doc_no") => "指标文号无对应指标行".into(),
            (Lang::Zh, "no candidate line") => "无可匹配的指标行".into(),
            _ => reason.to_string(),
        }
    }
    /// "settled 2021-04-10" in the exceptions' note column.
    pub fn settled_note(&self, on: NaiveDate) -> String {
        format!("{} {on}", self.settled_on)
    }

    pub fn over_note(&self, since: NaiveDate) -> String {
        format!("{} {since}", self.over_since)
    }
}

/// What a printed page must say to be tied to the ledger: the report date,
/// the filters, the fiscal year(s), and the journal's chain head with the
/// entry count (the figures `verify` prints).
#[derive(Clone, Debug)]
pub struct ReportMeta {
    pub as_of: NaiveDate,
    pub lang: Lang,
    /// `--fiscal-year`, or the years the rows hold when not filtered.
    pub fiscal_year: Option<i32>,
    pub fiscal_years_shown: Vec<i32>,
    /// `--region` as "431100 永州市", `--project` as "JS08 托育服务示范点".
    pub region: Option<String>,
    pub project: Option<String>,
    pub chain_head: String,
    pub entries: i64,
}

impl ReportMeta {
    pub fn labels(&self) -> &'static Labels {
        self.lang.labels()
    }

    /// "项目资金对账报告 截至 2020-12-31"
    pub fn heading(&self) -> String {
        let l = self.labels();
        format!("{} {} {}", l.title, l.as_of, self.as_of)
    }

    /// "财政年度 2020 · 地区 全部 · 项目 全部"
    pub fn filters_line(&self) -> String {
        let l = self.labels();
        let years = match self.fiscal_year {
            Some(y) => y.to_string(),
            None if self.fiscal_years_shown.is_empty() => l.all.to_string(),
            None => self
                .fiscal_years_shown
                .iter()
                .map(|y| y.to_string())
                .collect::<Vec<_>>()
                .join(", "),
        };
        let or_all = |v: &Option<String>| v.clone().unwrap_or_else(|| l.all.to_string());
        format!(
            "{} {years} · {} {} · {} {}",
            l.fiscal_year,
            l.region_filter,
            or_all(&self.region),
            l.project_filter,
            or_all(&self.project)
        )
    }

    /// "账链头 3328…338e · 分录数 31"
    pub fn chain_line(&self) -> String {
        let l = self.labels();
        format!(
            "{} {} · {} {}",
            l.chain_head, self.chain_head, l.entries, self.entries
        )
    }

    /// The one title line every sheet and the page carry.
    pub fn title_line(&self) -> String {
        format!(
            "{} · {} · {}",
            self.heading(),
            self.filters_line(),
            self.chain_line()
        )
    }
}
