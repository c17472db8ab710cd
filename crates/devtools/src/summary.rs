//! `expected_summary.json`: the generator's own account of what the files
//! contain and how each line should reconcile at 2020-12-31, computed from the
//! in-memory model, never by reading the files back.

use crate::hunan::{as_of, Doc, LineOutcome, Model, DEADLINE_DAYS};
use crate::hunan_files::disbursement_file_name;
use anyhow::Result;
use chrono::Datelike;
use fundledger_core::Fen;
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Serialize)]
struct Summary {
    description: &'static str,
    regenerate: &'static str,
    fiscal_year: i32,
    as_of: String,
    deadline_days: i64,
    totals: Totals,
    documents: Vec<DocumentTotal>,
    projects: Vec<GroupTotal>,
    prefectures: Vec<GroupTotal>,
}

#[derive(Serialize)]
struct Totals {
    allocated_fen: i64,
    allocated_yuan: String,
    disbursed_net_fen: i64,
    disbursed_net_yuan: String,
    matched_net_fen: i64,
    unmatched_fen: i64,
    outstanding_fen: i64,
    line_count: usize,
    voucher_count: usize,
    status_counts: BTreeMap<&'static str, usize>,
}

#[derive(Serialize)]
struct DocumentTotal {
    doc_no: String,
    doc_date: String,
    due_date: String,
    files: Vec<&'static str>,
    line_count: usize,
    allocated_fen: i64,
    allocated_yuan: String,
}

#[derive(Serialize)]
struct GroupTotal {
    code: String,
    name: String,
    allocated_fen: i64,
    allocated_yuan: String,
    disbursed_fen: i64,
}

#[derive(Serialize)]
struct LineEntry {
    doc_no: String,
    doc_date: String,
    region_code: String,
    region_name: String,
    project_code: String,
    project_name: String,
    allocated_fen: i64,
    disbursed_fen: i64,
    outstanding_fen: i64,
    due_date: String,
    settled_on: Option<String>,
    status: &'static str,
    scenario: &'static str,
}

#[derive(Serialize)]
struct LineRef {
    doc_no: String,
    region_code: String,
    project_code: String,
}

#[derive(Serialize)]
struct VoucherEntry {
    voucher_no: String,
    file: String,
    paid_on: String,
    fiscal_year: i32,
    region_code: String,
    project_code: String,
    doc_no: Option<String>,
    amount_fen: i64,
    original_voucher_no: Option<String>,
    matched_line: Option<LineRef>,
    unmatched_reason: Option<&'static str>,
}

fn sum(amounts: impl Iterator<Item = Fen>) -> Fen {
    Fen::checked_sum(amounts).expect("fixture totals fit")
}

/// Pretty JSON for the totals; one line per line and per voucher, so the
/// file stays small and a change shows as a one-line diff.
pub fn expected_summary_json(model: &Model) -> Result<Vec<u8>> {
    let (head, lines, vouchers) = build(model);
    let head_text = serde_json::to_string_pretty(&head)?;
    let open = head_text
        .strip_suffix("\n}")
        .expect("a pretty JSON object ends with a closing brace");
    let mut text = String::from(open);
    text.push_str(",\n  \"lines\": [\n");
    push_compact_list(&mut text, &lines)?;
    text.push_str("  ],\n  \"vouchers\": [\n");
    push_compact_list(&mut text, &vouchers)?;
    text.push_str("  ]\n}\n");
    Ok(text.into_bytes())
}

fn push_compact_list<T: Serialize>(text: &mut String, items: &[T]) -> Result<()> {
    for (i, item) in items.iter().enumerate() {
        text.push_str("    ");
        text.push_str(&serde_json::to_string(item)?);
        text.push_str(if i + 1 < items.len() { ",\n" } else { "\n" });
    }
    Ok(())
}

fn build(model: &Model) -> (Summary, Vec<LineEntry>, Vec<VoucherEntry>) {
    let outcomes = model.outcomes(as_of());
    let totals = totals(model, &outcomes);
    let documents = documents(model);
    let (projects, prefectures) = groups(model, &outcomes);
    let lines = line_entries(model, &outcomes);
    let vouchers = voucher_entries(model);
    let summary = Summary {
        description: "Hunan 2020 demo: what fixtures/hunan-2020 contains and how each line reconciles at 2020-12-31 (SPEC §5), computed by the generator from its own model",
        regenerate: "cargo run -p fundledger-devtools -- gen-hunan --out fixtures/hunan-2020",
        fiscal_year: 2020,
        as_of: as_of().to_string(),
        deadline_days: DEADLINE_DAYS,
        totals,
        documents,
        projects,
        prefectures,
    };
    (summary, lines, vouchers)
}

/// How many lines have each status (and vouchers match no line).
fn status_counts(model: &Model, outcomes: &[LineOutcome]) -> BTreeMap<&'static str, usize> {
    let mut status_counts: BTreeMap<&'static str, usize> = BTreeMap::new();
    for outcome in outcomes {
        *status_counts.entry(outcome.status.as_str()).or_default() += 1;
    }
    let unmatched_count = model.vouchers.iter().filter(|v| v.line.is_none()).count();
    if unmatched_count > 0 {
        status_counts.insert("unmatched", unmatched_count);
    }
    status_counts
}

/// The amounts of the whole year.
fn totals(model: &Model, outcomes: &[LineOutcome]) -> Totals {
    let status_counts = status_counts(model, outcomes);
    let matched = sum(model
        .vouchers
        .iter()
        .filter(|v| v.line.is_some())
        .map(|v| v.amount));
    let unmatched = sum(model
        .vouchers
        .iter()
        .filter(|v| v.line.is_none())
        .map(|v| v.amount));
    let allocated = model.total_allocated();
    Totals {
        allocated_fen: allocated.as_i64(),
        allocated_yuan: allocated.to_string(),
        disbursed_net_fen: model.total_disbursed().as_i64(),
        disbursed_net_yuan: model.total_disbursed().to_string(),
        matched_net_fen: matched.as_i64(),
        unmatched_fen: unmatched.as_i64(),
        outstanding_fen: allocated.checked_sub(matched).expect("fits").as_i64(),
        line_count: model.lines.len(),
        voucher_count: model.vouchers.len(),
        status_counts,
    }
}

/// Lines and amount per indicator document.
fn documents(model: &Model) -> Vec<DocumentTotal> {
    Doc::ALL
        .iter()
        .map(|&doc| DocumentTotal {
            doc_no: doc.doc_no().to_string(),
            doc_date: doc.date().to_string(),
            due_date: doc.due().to_string(),
            files: match doc {
                Doc::No36 => vec![crate::hunan_files::WIDE_XLSX, crate::hunan_files::WIDE_CSV],
                Doc::No37 => vec![crate::hunan_files::LONG_CSV],
            },
            line_count: model.lines.iter().filter(|l| l.doc == doc).count(),
            allocated_fen: model.doc_total(doc).as_i64(),
            allocated_yuan: model.doc_total(doc).to_string(),
        })
        .collect()
}

/// Allocated and disbursed per project and per prefecture.
fn groups(model: &Model, outcomes: &[LineOutcome]) -> (Vec<GroupTotal>, Vec<GroupTotal>) {
    let disbursed_by_line = |i: usize| outcomes[i].disbursed;
    let group = |code: String, name: String, member: &dyn Fn(usize) -> bool| {
        let members: Vec<usize> = (0..model.lines.len()).filter(|&i| member(i)).collect();
        let allocated = sum(members.iter().map(|&i| model.lines[i].amount));
        GroupTotal {
            code,
            name,
            allocated_fen: allocated.as_i64(),
            allocated_yuan: allocated.to_string(),
            disbursed_fen: sum(members.iter().map(|&i| disbursed_by_line(i))).as_i64(),
        }
    };
    let projects = (0..model.catalog.len())
        .map(|p| {
            let project = &model.catalog[p];
            group(project.code.to_string(), project.name.clone(), &|i| {
                model.lines[i].project == p
            })
        })
        .collect();
    let prefectures = (0..model.prefectures.len())
        .map(|p| {
            let prefecture = &model.prefectures[p];
            group(prefecture.code.to_string(), prefecture.name.clone(), &|i| {
                model.recipients[model.lines[i].recipient].prefecture == p
            })
        })
        .collect();
    (projects, prefectures)
}

/// Every line and how it reconciles.
fn line_entries(model: &Model, outcomes: &[LineOutcome]) -> Vec<LineEntry> {
    model
        .lines
        .iter()
        .zip(outcomes)
        .map(|(line, outcome)| {
            let recipient = &model.recipients[line.recipient];
            let project = &model.catalog[line.project];
            LineEntry {
                doc_no: line.doc.doc_no().to_string(),
                doc_date: line.doc.date().to_string(),
                region_code: recipient.code.to_string(),
                region_name: recipient.name.clone(),
                project_code: project.code.to_string(),
                project_name: project.name.clone(),
                allocated_fen: line.amount.as_i64(),
                disbursed_fen: outcome.disbursed.as_i64(),
                outstanding_fen: line
                    .amount
                    .checked_sub(outcome.disbursed)
                    .expect("fits")
                    .as_i64(),
                due_date: line.doc.due().to_string(),
                settled_on: outcome.settled_on.map(|d| d.to_string()),
                status: outcome.status.as_str(),
                scenario: line.fate.describe(),
            }
        })
        .collect()
}

/// Every voucher and the line it matches.
fn voucher_entries(model: &Model) -> Vec<VoucherEntry> {
    model
        .vouchers
        .iter()
        .map(|voucher| VoucherEntry {
            voucher_no: voucher.no.clone(),
            file: disbursement_file_name(voucher.paid_on.month()),
            paid_on: voucher.paid_on.to_string(),
            fiscal_year: voucher.paid_on.year(),
            region_code: model.recipients[voucher.recipient].code.to_string(),
            project_code: model.catalog[voucher.project].code.to_string(),
            doc_no: voucher.doc_no.as_ref().map(|d| d.to_string()),
            amount_fen: voucher.amount.as_i64(),
            original_voucher_no: voucher.original_voucher_no.clone(),
            matched_line: voucher.line.map(|i| {
                let line = &model.lines[i];
                LineRef {
                    doc_no: line.doc.doc_no().to_string(),
                    region_code: model.recipients[line.recipient].code.to_string(),
                    project_code: model.catalog[line.project].code.to_string(),
                }
            }),
            unmatched_reason: voucher.line.is_none().then_some("no line for doc_no"),
        })
        .collect()
}
