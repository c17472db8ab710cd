//! The README of fixtures/hunan-2020, written from the model so its figures
//! and named exceptions are always those of the files beside it.

use crate::hunan::{as_of, Doc, Fate, LineOutcome, Model, Status};
use crate::hunan_files::{disbursement_file_name, month_styles, AmountStyle, ProjectColumns};
use crate::text::yuan_grouped;
use fundledger_core::Fen;
use std::fmt::Write;

fn sum(amounts: impl Iterator<Item = Fen>) -> Fen {
    Fen::checked_sum(amounts).expect("fixture totals fit")
}

pub fn readme(model: &Model) -> String {
    let mut out = String::new();
    intro(&mut out, model);
    files_table(&mut out);
    month_table(&mut out, model);
    totals(&mut out, model);
    exceptions(&mut out, model);
    out
}

fn intro(out: &mut String, model: &Model) {
    let total = model.total_allocated();
    out.push_str(&format!(
        "# Demo: Hunan 2020 (generated — do not edit by hand)\n\n\
The 51.66M yuan (5166 万元) that Hunan's provincial family-planning association \
passed to its 14 prefectures and 122 counties in 2020 (the association's own reports), as the two indicator \
documents 湘财社指〔2020〕36号 (2020-03-20) and 37号 (2020-06-15) and a year of monthly \
disbursement files. The amounts per county are invented; the structure, names and codes \
are the official 2020 ones (`../reference/hunan_divisions_2020.csv`).\n\n\
Grand total allocated: **{} yuan** ({} fen). Every county and every 市本级 receives money.\n\n\
Regenerate (deterministic, byte-identical; a test in `crates/devtools` fails when these \
files are stale):\n\n\
```\ncargo run -p fundledger-devtools -- gen-hunan --out fixtures/hunan-2020\n```\n\n\
Setup: `init`, `budget set --fiscal-year 2020 --amount-yuan 51660000.00`, \
`projects import ../reference/projects.csv`, then import 36号 (**either** the XLSX **or** \
the GB18030 CSV: they are the same document, so the second is skipped as identical, or \
is an error if both are given to one command), `37_long.csv`, and the twelve \
`disb_2020_MM.csv`. `reconcile --as-of 2020-12-31` must agree with \
`expected_summary.json`.\n\n",
        yuan_grouped(total),
        total.as_i64()
    ));
}

fn files_table(out: &mut String) {
    out.push_str(
        "## Files\n\n| file | what it is |\n|---|---|\n\
| `36_wide_wan.xlsx` | 湘财社指〔2020〕36号's attachment table, wide form in 万元 (docs/formats.md §8): title, document number, `2020年3月20日`, `附件：…分配表`, `单位：万元` in the preamble; header `序号,地区,合计,计生家庭系列保险,三结合,贷款贴息,基层计生协能力建设` (two catalog names, two aliases); a 合计 row; per prefecture a subtotal row (even-numbered ones as `株洲市小计`, the others as plain `长沙市`) followed by all its counties and `X本级` (first under a plain heading, last under a 小计 heading). Amounts are numeric cells with format `0.00`, 序号 of county rows numeric, everything else text. Empty cells where a region gets nothing from a project, and one explicit `0.00` cell (no line). Fixed creation time, so the bytes are reproducible. |\n\
| `36_wide_wan_gb18030.csv` | The same table, cell for cell, as CSV encoded in GB18030 with CRLF line ends (what Excel on Chinese Windows saves). |\n\
| `37_long.csv` | 湘财社指〔2020〕37号, long form in yuan (docs/formats.md §7), UTF-8: a title line, then `指标文号,下达日期,区划代码,地区名称,项目编码,项目名称,金额（元）,备注`; some doc numbers written with `[]`, some dates `2020/6/15`, some 9-digit region codes, some project names as aliases, amounts as `100,000.00`, `100000.00` or `100000`; a 合计 row at the end. |\n\
| `disb_2020_01.csv` … `disb_2020_12.csv` | Monthly disbursement files (docs/formats.md §9), one house style each (table below). January and February hold only a header: no 2020 indicator existed before 20 March. |\n\
| `expected_summary.json` | The generator's own model: every line (doc_no, region, project) with its allocated fen and its expected disbursed, outstanding, status and settled_on at 2020-12-31; every voucher with its amount in fen, file, and the line it pays (or why it is unmatched); totals per document, project and prefecture. Computed from memory, not by reading the files back. |\n\n",
    );
}

fn month_table(out: &mut String, model: &Model) {
    out.push_str("## Disbursement file styles\n\n| file | vouchers | dates | amounts | doc_no column | projects by | 9-digit codes | other |\n|---|---|---|---|---|---|---|---|\n");
    for style in month_styles() {
        let count = model
            .vouchers
            .iter()
            .filter(|v| chrono::Datelike::month(&v.paid_on) == style.month)
            .count();
        let dates = match style.date {
            Some(d) => d.format(crate::hunan::ymd(2020, 4, 3)),
            None => "mixed, row by row".to_string(),
        };
        let amounts = match style.amounts {
            AmountStyle::Plain => "`1234.50` (元)",
            AmountStyle::Grouped => "`1,234.50` (元)",
            AmountStyle::Short => "`1234` when whole (元)",
            AmountStyle::Accounting => "`1,234.50`, refunds `(1,234.50)` (元)",
            AmountStyle::Wan => "**万元**, header `支付金额（万元）`",
        };
        let projects = match style.projects {
            ProjectColumns::Code => "code",
            ProjectColumns::CodeAndName => "code + catalog name",
            ProjectColumns::Name => "name or alias only",
        };
        let nine = match style.nine_digit_every {
            0 => "none".to_string(),
            1 => "all".to_string(),
            n => format!("rows 1, {}, {}, … (every {n})", n + 1, 2 * n + 1),
        };
        let mut other: Vec<&str> = Vec::new();
        if style.bom {
            other.push("UTF-8 BOM");
        }
        if style.crlf {
            other.push("CRLF");
        }
        if style.title {
            other.push("title line");
        }
        if style.fiscal_year_column {
            other.push("预算年度 column");
        }
        let doc_column = if style.doc_column {
            "yes (〔〕, [], （） or blank)"
        } else {
            "**none**"
        };
        let _ = writeln!(
            out,
            "| `{}` | {count} | {dates} | {amounts} | {doc_column} | {projects} | {nine} | {} |",
            disbursement_file_name(style.month),
            other.join(", ")
        );
    }
    out.push_str("\nVoucher numbers are `HN` + payment date + a 3-digit sequence, unique across all files; every voucher is dated in 2020 (fiscal year 2020). Region names are the official 2020 names; a 市本级 voucher carries the prefecture's name and code.\n\n");
}

fn totals(out: &mut String, model: &Model) {
    let outcomes = model.outcomes(as_of());
    document_totals(out, model);
    project_totals(out, model, &outcomes);
    prefecture_totals(out, model);
    status_totals(out, model, &outcomes);
}

/// Lines and amount per indicator document.
fn document_totals(out: &mut String, model: &Model) {
    out.push_str("## Totals\n\n| document | date | due | lines | allocated (yuan) |\n|---|---|---|---|---|\n");
    for doc in Doc::ALL {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} |",
            doc.doc_no(),
            doc.date(),
            doc.due(),
            model.lines.iter().filter(|l| l.doc == doc).count(),
            yuan_grouped(model.doc_total(doc))
        );
    }
    let _ = writeln!(
        out,
        "| **total** | | | {} | **{}** |\n",
        model.lines.len(),
        yuan_grouped(model.total_allocated())
    );
}

/// Lines, allocated and disbursed per project.
fn project_totals(out: &mut String, model: &Model, outcomes: &[LineOutcome]) {
    out.push_str("| project | name | document | lines | allocated (yuan) | disbursed net (yuan) |\n|---|---|---|---|---|---|\n");
    for (p, project) in model.catalog.iter().enumerate() {
        let members: Vec<usize> = (0..model.lines.len())
            .filter(|&i| model.lines[i].project == p)
            .collect();
        let doc = model.lines[members[0]].doc.doc_no();
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} |",
            project.code,
            project.name,
            doc,
            members.len(),
            yuan_grouped(sum(members.iter().map(|&i| model.lines[i].amount))),
            yuan_grouped(sum(members.iter().map(|&i| outcomes[i].disbursed)))
        );
    }
}

/// Allocated per prefecture.
fn prefecture_totals(out: &mut String, model: &Model) {
    out.push_str("\n| prefecture | allocated (yuan) |\n|---|---|\n");
    for (p, prefecture) in model.prefectures.iter().enumerate() {
        let amount = sum(model
            .lines
            .iter()
            .filter(|l| model.recipients[l.recipient].prefecture == p)
            .map(|l| l.amount));
        let _ = writeln!(
            out,
            "| {} {} | {} |",
            prefecture.code,
            prefecture.name,
            yuan_grouped(amount)
        );
    }
}

/// The vouchers and the status count at the as-of date.
fn status_totals(out: &mut String, model: &Model, outcomes: &[LineOutcome]) {
    let unmatched = sum(model
        .vouchers
        .iter()
        .filter(|v| v.line.is_none())
        .map(|v| v.amount));
    let _ = writeln!(
        out,
        "\nVouchers: {} (net {} yuan, of which {} unmatched). Disbursed never exceeds allocated overall.\n",
        model.vouchers.len(),
        yuan_grouped(model.total_disbursed()),
        yuan_grouped(unmatched)
    );
    let _ = writeln!(out, "Status at 2020-12-31 (deadline 30 days):\n");
    for status in [
        Status::Settled,
        Status::Late,
        Status::Over,
        Status::Open,
        Status::Overdue,
    ] {
        let count = outcomes.iter().filter(|o| o.status == status).count();
        let noun = if count == 1 { "line" } else { "lines" };
        let _ = writeln!(out, "- `{}`: {count} {noun}", status.as_str());
    }
    let _ = writeln!(
        out,
        "- `unmatched`: {} voucher\n",
        model.vouchers.iter().filter(|v| v.line.is_none()).count()
    );
}

fn key_cases(out: &mut String, model: &Model) {
    let outcomes = model.outcomes(as_of());
    out.push_str(
        "## Deliberate exceptions\n\nThe cases to check first (status at 2020-12-31):\n\n",
    );
    for fate in [
        Fate::DueDay,
        Fate::DayAfterDue,
        Fate::Over,
        Fate::RefundDuplicate,
        Fate::RefundPartial,
    ] {
        for (i, line) in model
            .lines
            .iter()
            .enumerate()
            .filter(|(_, l)| l.fate == fate)
        {
            let recipient = &model.recipients[line.recipient];
            let vouchers: Vec<String> = model
                .vouchers
                .iter()
                .filter(|v| v.line == Some(i))
                .map(|v| {
                    let refund = v
                        .original_voucher_no
                        .as_ref()
                        .map(|o| format!(", refunding {o}"))
                        .unwrap_or_default();
                    format!(
                        "{} ({}, {} yuan, `{}`{refund})",
                        v.no,
                        v.paid_on,
                        yuan_grouped(v.amount),
                        disbursement_file_name(chrono::Datelike::month(&v.paid_on))
                    )
                })
                .collect();
            let _ = writeln!(
                out,
                "- **{}**: {} {} {} {}, allocated {} yuan, due {} — vouchers {} → `{}`{}.",
                fate.describe(),
                line.doc.doc_no(),
                recipient.code,
                recipient.name,
                model.catalog[line.project].code,
                yuan_grouped(line.amount),
                line.doc.due(),
                vouchers.join("; "),
                outcomes[i].status.as_str(),
                outcomes[i]
                    .settled_on
                    .map(|d| format!(", settled_on {d}"))
                    .unwrap_or_default()
            );
        }
    }
    for fate in [Fate::Late, Fate::LateSplit, Fate::Partial, Fate::Missing] {
        let count = model.lines.iter().filter(|l| l.fate == fate).count();
        let _ = writeln!(out, "- {}: {count} lines (listed below).", fate.describe());
    }
}

fn exceptions(out: &mut String, model: &Model) {
    let outcomes = model.outcomes(as_of());
    key_cases(out, model);
    out.push_str("\nEvery line not paid simply in full and on time, with its vouchers (`no date amount`):\n\n| document | region | project | allocated | scenario | status 12-31 | settled_on | vouchers |\n|---|---|---|---|---|---|---|---|\n");
    for (i, line) in model.lines.iter().enumerate() {
        if matches!(line.fate, Fate::OnTime | Fate::Split) {
            continue;
        }
        let recipient = &model.recipients[line.recipient];
        let vouchers: Vec<String> = model
            .vouchers
            .iter()
            .filter(|v| v.line == Some(i))
            .map(|v| {
                let original = v
                    .original_voucher_no
                    .as_ref()
                    .map(|o| format!(" refunds {o}"))
                    .unwrap_or_default();
                format!(
                    "{} {} {}{original}",
                    v.no,
                    v.paid_on,
                    yuan_grouped(v.amount)
                )
            })
            .collect();
        let _ = writeln!(
            out,
            "| {} | {} {} | {} | {} | {} | `{}` | {} | {} |",
            line.doc.doc_no(),
            recipient.code,
            recipient.name,
            model.catalog[line.project].code,
            yuan_grouped(line.amount),
            line.fate.describe(),
            outcomes[i].status.as_str(),
            outcomes[i]
                .settled_on
                .map(|d| d.to_string())
                .unwrap_or_default(),
            if vouchers.is_empty() {
                "—".to_string()
            } else {
                vouchers.join("; ")
            }
        );
    }
    for voucher in model.vouchers.iter().filter(|v| v.line.is_none()) {
        let recipient = &model.recipients[voucher.recipient];
        let _ = writeln!(
            out,
            "\nUnmatched: voucher {} of {} ({} {} {}, {} yuan) names {}, a document with no line at all (a typing slip for 36号): status `unmatched`, reason `no line for doc_no`.",
            voucher.no,
            voucher.paid_on,
            recipient.code,
            recipient.name,
            model.catalog[voucher.project].code,
            yuan_grouped(voucher.amount),
            model.unmatched_doc_no
        );
    }
    let zero = &model.recipients[model.zero_cell.0];
    let _ = writeln!(
        out,
        "\nThe wide table's explicit `0.00` cell is {} × {}: it creates no line.\n",
        zero.name, model.catalog[model.zero_cell.1].code
    );
}
