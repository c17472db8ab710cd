//! `reconcile --format html`: one self-contained page to send or print. No
//! script, no font, no image fetched from anywhere: the CSS is inline and
//! allowed by its hash in a Content-Security-Policy that forbids everything
//! else, the chart is inline SVG, and no URL of any kind is written.
//!
//! Printed on A4 landscape: page 1 the heading and chart, page 2 the summary
//! table, then the exceptions, [`EXCEPTION_ROWS_PER_PAGE`] rows a page
//! (rows never wrap, so the page count is known in advance).

use crate::labels::{Labels, ReportMeta};
use crate::report::{fen_grouped, is_exception, rate_basis_points, rollup, ReportRow, RollupRow};
use base64::Engine;
use fundledger_core::divisions::DivisionTable;
use fundledger_core::reconcile::Status;
use fundledger_core::Fen;
use sha2::{Digest, Sha256};
use std::fmt::Write;

/// Exceptions printed on one A4 landscape page (with the repeated header).
/// Rows are 6 mm with a fixed line height, so 20 leave room for the
/// heading whatever font the printing machine falls back to.
pub const EXCEPTION_ROWS_PER_PAGE: usize = 20;

const CSS: &str = "
*{box-sizing:border-box}
body{font-family:\"Noto Sans CJK SC\",\"Source Han Sans SC\",\"Microsoft YaHei\",\"PingFang SC\",sans-serif;margin:16px;color:#1a1a1a;font-size:14px}
h1{font-size:20px;margin:0 0 4px}
h2{font-size:16px;margin:18px 0 6px}
p.meta{margin:0;color:#444;font-size:12px;font-family:monospace,sans-serif}
p.meta span{font-family:\"Noto Sans CJK SC\",sans-serif}
svg.chart{width:100%;max-width:1100px;height:auto;display:block}
svg.chart text{font-size:13px;fill:#1a1a1a}
svg.chart .axis{stroke:#888;stroke-width:1}
svg.chart .grid{stroke:#ddd;stroke-width:1}
svg.chart line.full{stroke:#b00020;stroke-width:2;stroke-dasharray:6 4}
svg.chart text.full{fill:#b00020;font-weight:bold}
svg.chart rect.bar{fill:#3a6ea5}
svg.chart rect.bar.over{fill:#d08c00}
svg.chart .rate{font-weight:bold}
svg.chart rect.ratebg{fill:#fff}
svg.chart .overdue{fill:#b00020}
svg.chart .none{fill:#2e7d32}
table{border-collapse:collapse;font-size:12px}
th,td{border:1px solid #c8c8c8;padding:2px 6px;white-space:nowrap}
th{background:#dde5f0}
td.num{text-align:right;font-variant-numeric:tabular-nums}
tr.total td{font-weight:bold;border-top:2px solid #555}
p.none{color:#2e7d32}
@page{size:A4 landscape;margin:10mm}
@media print{
body{margin:0;font-size:11px}
svg.chart{height:150mm;width:auto;max-width:100%}
section.summary,section.exceptions{break-before:page}
thead{display:table-header-group}
tr{break-inside:avoid}
section.exceptions table{font-size:9px}
section.exceptions td,section.exceptions th{height:6mm;line-height:4mm;padding:0 4px;overflow:hidden}
tr.pb{break-before:page}
}
";

/// Text for HTML element content and attribute values.
fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The CSP that lets exactly this style sheet apply and nothing load.
fn content_security_policy(css: &str) -> String {
    let hash = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(css.as_bytes()));
    format!(
        "default-src 'none'; style-src 'sha256-{hash}'; img-src 'none'; font-src 'none'; \
         script-src 'none'; connect-src 'none'; base-uri 'none'; form-action 'none'"
    )
}

/// Chart geometry (SVG user units).
const LABEL_W: i64 = 200;
const BAR_W: i64 = 620;
const ROW_H: i64 = 30;
const TOP: i64 = 34;

/// The scale's end: 100 %, or the highest rate rounded up to 10 %.
fn scale_basis_points(prefs: &[RollupRow]) -> i128 {
    let top = prefs
        .iter()
        .filter_map(|p| rate_basis_points(p.disbursed, p.allocated))
        .max()
        .unwrap_or(0);
    let top = top.max(10_000);
    (top + 999) / 1_000 * 1_000
}

fn bar_x(bp: i128, scale: i128) -> i64 {
    let clamped = bp.clamp(0, scale);
    LABEL_W + i64::try_from(clamped * i128::from(BAR_W) / scale).expect("within the chart")
}

/// One bar: name, bar, rate at its end, overdue count at the right.
fn chart_bar(out: &mut String, i: usize, p: &RollupRow, scale: i128, l: &Labels) {
    let y = TOP + i as i64 * ROW_H;
    let bp = rate_basis_points(p.disbursed, p.allocated);
    let rate = p.rate_percent();
    let overdue = p.count(Status::Overdue);
    let end = bar_x(bp.unwrap_or(0), scale);
    let over = if bp.is_some_and(|b| b > 10_000) {
        " over"
    } else {
        ""
    };
    let _ = writeln!(
        out,
        "<g class=\"bar\" data-code=\"{code}\" data-prefecture=\"{name}\" data-rate=\"{rate}\" data-overdue=\"{overdue}\">\
         <text x=\"{lx}\" y=\"{ty}\" text-anchor=\"end\">{name}</text>\
         <rect class=\"bar{over}\" x=\"{LABEL_W}\" y=\"{by}\" width=\"{bw}\" height=\"{bh}\"></rect>\
         <rect class=\"ratebg\" x=\"{rx}\" y=\"{by}\" width=\"{rw}\" height=\"{bh}\"></rect>\
         <text class=\"rate\" x=\"{rx}\" y=\"{ty}\">{rate}</text>\
         <text class=\"{oclass}\" x=\"{ox}\" y=\"{ty}\">{olabel} {overdue}</text></g>",
        code = p.prefecture.map(|c| c.to_string()).unwrap_or_default(),
        name = esc(&p.name),
        lx = LABEL_W - 8,
        ty = y + 19,
        by = y + 5,
        bw = end - LABEL_W,
        bh = ROW_H - 10,
        rx = end + 6,
        // Behind the rate, so the 100 % line does not cross its digits.
        rw = rate.len() * 8 + 2,
        oclass = if overdue > 0 { "overdue" } else { "none" },
        ox = LABEL_W + BAR_W + 80,
        olabel = esc(l.status(Status::Overdue)),
    );
}

fn chart(prefs: &[RollupRow], l: &Labels) -> String {
    let scale = scale_basis_points(prefs);
    let height = TOP + prefs.len() as i64 * ROW_H + 10;
    let width = LABEL_W + BAR_W + 180;
    let mut out = format!(
        "<svg class=\"chart\" viewBox=\"0 0 {width} {height}\" role=\"img\" aria-label=\"{}\">\n",
        esc(l.chart_title)
    );
    for tenth in 0..=(scale / 1_000) {
        let x = bar_x(tenth * 1_000, scale);
        let class = if tenth == 10 { " class=\"full\"" } else { "" };
        let _ = writeln!(
            out,
            "<line class=\"grid\" x1=\"{x}\" y1=\"{TOP}\" x2=\"{x}\" y2=\"{}\"></line>\
             <text{class} x=\"{x}\" y=\"{}\" text-anchor=\"middle\" font-size=\"11\">{}%</text>",
            height - 10,
            TOP - 8,
            tenth * 10
        );
    }
    // The 100 % line under the bars, so a rate printed across it stays legible.
    let full = bar_x(10_000, scale);
    let _ = writeln!(
        out,
        "<line class=\"full\" x1=\"{full}\" y1=\"{}\" x2=\"{full}\" y2=\"{}\"></line>\
         <line class=\"axis\" x1=\"{LABEL_W}\" y1=\"{TOP}\" x2=\"{LABEL_W}\" y2=\"{}\"></line>",
        TOP - 4,
        height - 10,
        height - 10,
    );
    for (i, p) in prefs.iter().enumerate() {
        chart_bar(&mut out, i, p, scale, l);
    }
    out.push_str("</svg>\n");
    out
}

fn num(text: String) -> String {
    format!("<td class=\"num\">{text}</td>")
}

fn amount(a: Option<Fen>) -> String {
    num(a.map(fen_grouped).unwrap_or_default())
}

fn summary_row(p: &RollupRow, l: &Labels, class: &str) -> String {
    let (code, name) = match p.prefecture {
        Some(c) => (c.to_string(), p.name.clone()),
        None => (l.total.to_string(), String::new()),
    };
    let mut row = format!(
        "<tr{class}><td>{}</td><td>{}</td>{}{}{}{}{}",
        esc(&code),
        esc(&name),
        num(p.lines.to_string()),
        amount(Some(p.allocated)),
        amount(Some(p.disbursed)),
        amount(Some(p.outstanding)),
        num(p.rate_percent()),
    );
    for st in crate::report::LINE_STATUSES {
        row.push_str(&num(p.count(st).to_string()));
    }
    row.push_str("</tr>\n");
    row
}

fn summary_table(prefs: &[RollupRow], total: &RollupRow, l: &Labels) -> String {
    let mut out = String::from("<table class=\"summary\"><thead><tr>");
    let mut heads = vec![
        l.prefecture_code,
        l.prefecture,
        l.lines,
        l.allocated,
        l.disbursed,
        l.outstanding,
        l.rate,
    ];
    heads.extend(crate::report::LINE_STATUSES.iter().map(|s| l.status(*s)));
    for h in heads {
        let _ = write!(out, "<th>{}</th>", esc(h));
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for p in prefs {
        out.push_str(&summary_row(p, l, ""));
    }
    out.push_str(&summary_row(total, l, " class=\"total\""));
    out.push_str("</tbody></table>\n");
    out
}

fn exception_row(r: &ReportRow, l: &Labels, page_break: bool) -> String {
    let doc = match (&r.voucher_no, &r.doc_no) {
        (Some(v), _) => v.clone(),
        (None, Some(d)) => d.clone(),
        _ => String::new(),
    };
    let note = match (r.reason, r.settled_on) {
        (Some(reason), _) => l.reason(reason),
        (None, Some(d)) => l.settled_note(d),
        _ => String::new(),
    };
    let date = |d: Option<chrono::NaiveDate>| d.map(|d| d.to_string()).unwrap_or_default();
    format!(
        "<tr{}><td>{}</td><td>{}</td><td>{}</td><td>{} {}</td><td>{}</td>{}{}{}<td>{}</td><td>{}</td></tr>\n",
        if page_break { " class=\"pb\"" } else { "" },
        esc(l.status(r.status)),
        r.region,
        esc(&r.region_name),
        esc(r.project.as_str()),
        esc(&r.project_name),
        esc(&doc),
        amount(r.allocated),
        amount(Some(r.disbursed)),
        amount(r.outstanding),
        date(r.due_date),
        esc(&note),
    )
}

fn exceptions_table(rows: &[&ReportRow], l: &Labels) -> String {
    if rows.is_empty() {
        return format!("<p class=\"none\">{}</p>\n", esc(l.no_exceptions));
    }
    let mut out = String::from("<table class=\"exceptions\"><thead><tr>");
    let doc_head = format!("{} / {}", l.doc_no, l.voucher_no);
    for h in [
        l.status,
        l.region_code,
        l.region,
        l.project,
        &doc_head,
        l.allocated,
        l.disbursed,
        l.outstanding,
        l.due_date,
        l.note,
    ] {
        let _ = write!(out, "<th>{}</th>", esc(h));
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for (i, r) in rows.iter().enumerate() {
        let starts_page = i > 0 && i % EXCEPTION_ROWS_PER_PAGE == 0;
        out.push_str(&exception_row(r, l, starts_page));
    }
    out.push_str("</tbody></table>\n");
    out
}

/// The printed page count: heading and chart, summary, then the exceptions
/// (one page saying there are none when there are none).
#[cfg(test)] // only the tests ask this on its own
pub(crate) fn printed_pages(exceptions: usize) -> usize {
    2 + exceptions.div_ceil(EXCEPTION_ROWS_PER_PAGE).max(1)
}

/// The whole page. The same rows and meta give the same bytes.
pub fn reconcile_html(rows: &[ReportRow], divisions: &DivisionTable, meta: &ReportMeta) -> String {
    let l = meta.labels();
    let roll = rollup(rows, divisions, meta.as_of);
    let exceptions: Vec<&ReportRow> = rows.iter().filter(|r| is_exception(r.status)).collect();
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"{lang}\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"{csp}\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{title}</title>\n<style>{CSS}</style>\n</head>\n<body>\n\
         <header><h1>{title}</h1>\n<p class=\"meta\"><span>{filters}</span><br>{chain}</p></header>\n\
         <section class=\"chart\"><h2>{chart_title}</h2>\n{chart}</section>\n\
         <section class=\"summary\"><h2>{summary}</h2>\n{summary_table}",
        lang = meta.lang.html_code(),
        csp = content_security_policy(CSS),
        title = esc(&meta.heading()),
        filters = esc(&meta.filters_line()),
        chain = esc(&meta.chain_line()),
        chart_title = esc(l.chart_title),
        chart = chart(&roll.prefectures, l),
        summary = esc(l.summary_sheet),
        summary_table = summary_table(&roll.prefectures, &roll.total, l),
    );
    if roll.unmatched_count > 0 {
        let _ = writeln!(
            out,
            "<p>{}: {} · {}</p>",
            esc(l.unmatched_vouchers),
            roll.unmatched_count,
            fen_grouped(roll.unmatched_disbursed)
        );
    }
    let _ = write!(
        out,
        "</section>\n<section class=\"exceptions\"><h2>{}（{}）</h2>\n{}</section>\n</body>\n</html>\n",
        esc(l.exceptions_sheet),
        esc(l.exceptions_note),
        exceptions_table(&exceptions, l)
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(esc("a<b>&\"c'"), "a&lt;b&gt;&amp;&quot;c&#39;");
        assert_eq!(esc("长沙市"), "长沙市");
    }

    #[test]
    fn the_policy_names_the_hash_of_the_style_sheet() {
        let csp = content_security_policy("p{}");
        // echo -n 'p{}' | openssl dgst -sha256 -binary | base64
        assert!(
            csp.contains("style-src 'sha256-gG2yISYereRMiG2lMXrbiUgi0Ubw9p7QCeWcroOvy9Y='"),
            "{csp}"
        );
        assert!(csp.starts_with("default-src 'none';"));
    }

    #[test]
    fn page_counts() {
        let check = |n: usize, want: usize| assert_eq!(printed_pages(n), want, "{n}");
        check(0, 3);
        check(1, 3);
        check(EXCEPTION_ROWS_PER_PAGE, 3);
        check(EXCEPTION_ROWS_PER_PAGE + 1, 4);
        check(130, 2 + 130usize.div_ceil(EXCEPTION_ROWS_PER_PAGE));
    }

    #[test]
    fn scale_ends_at_100_or_above_the_highest_rate() {
        let p = |d: i64, a: i64| RollupRow {
            disbursed: Fen::new(d),
            allocated: Fen::new(a),
            ..RollupRow::default()
        };
        assert_eq!(scale_basis_points(&[p(50, 100)]), 10_000);
        assert_eq!(scale_basis_points(&[p(120, 100)]), 12_000);
        assert_eq!(scale_basis_points(&[p(1201, 1000)]), 13_000);
        assert_eq!(scale_basis_points(&[]), 10_000);
    }
}
