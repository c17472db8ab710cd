//! reconcile and rollover: reports for officers (table, xlsx, html) and
//! scripts (csv, json), all from the same report rows.

use super::{now, parse_date_arg, today, UsageError};
use crate::output::{check_output_path, resolve_format, write_report, Align, TextTable};
use crate::{
    FailOn, Format, LangArg, Outcome, ReconcileArgs, ReportFormat, RolloverArgs, TextFormat,
};
use anyhow::{bail, Context, Result};
use chrono::NaiveDate;
use fundledger_core::catalog::ProjectCatalog;
use fundledger_core::divisions::DivisionTable;
use fundledger_core::reconcile::{ReconcileParams, Report, Status};
use fundledger_core::{Fen, MoneyError, RegionCode};
use fundledger_formats::labels::{Labels, Lang, ReportMeta};
use fundledger_formats::report::{
    is_exception, rate_percent, reconcile_csv, report_rows, rollup, ReportRow, RollupRow,
    RowFilter, LINE_STATUSES,
};
use fundledger_formats::report_html::reconcile_html;
use fundledger_formats::report_xlsx::reconcile_xlsx;
use fundledger_store::Store;
use serde_json::json;
use std::collections::BTreeMap;

/// Checks that need no database, made before it is opened: a report for
/// people is a file, never bytes on a terminal, in a directory that exists.
pub fn check_reconcile_usage(args: &ReconcileArgs) -> Result<()> {
    if let (Some(f @ (ReportFormat::Xlsx | ReportFormat::Html)), None) = (args.format, &args.output)
    {
        let name = if f == ReportFormat::Xlsx {
            "xlsx"
        } else {
            "html"
        };
        bail!(UsageError(format!(
            "--format {name} needs --output FILE.{name}: the report is a file to send, never written to the terminal"
        )));
    }
    if let Some(p) = &args.output {
        check_output_path(p)?;
    }
    Ok(())
}

pub fn lang(arg: Option<LangArg>) -> Lang {
    match arg {
        None | Some(LangArg::Zh) => Lang::Zh,
        Some(LangArg::En) => Lang::En,
    }
}

/// The report and the journal it was computed from. The head is read
/// before and after the report; an import in between would make the printed
/// head lie, so the report is made again.
async fn report_at_head(store: &Store, params: ReconcileParams) -> Result<(Report, String, i64)> {
    for _ in 0..3 {
        let before = store.snapshot().await?;
        let report = store.reconcile(params.clone()).await?;
        let after = store.snapshot().await?;
        if before.head_hash == after.head_hash && before.entries == after.entries {
            return Ok((report, after.head_hash.unwrap_or_default(), after.entries));
        }
    }
    bail!("the ledger kept changing while the report was made; run reconcile again")
}

pub async fn reconcile(store: &Store, db: &str, args: ReconcileArgs) -> Result<Outcome> {
    check_reconcile_usage(&args)?;
    let as_of = parse_date_arg("as-of", &args.as_of)?;
    if args.deadline_days.is_some_and(|d| d < 0) {
        bail!(UsageError("--deadline-days must be >= 0".into()));
    }
    let divisions = store.division_table().await?;
    let catalog = store.project_catalog().await?;
    let filter = RowFilter {
        fiscal_year: args.fiscal_year,
        region: args.region.as_deref().map(super::region_arg).transpose()?,
        project: args
            .project
            .as_deref()
            .map(|p| super::project_arg(&catalog, p))
            .transpose()?,
    };
    let format = args.format.unwrap_or(match resolve_format(None) {
        Format::Table => ReportFormat::Table,
        Format::Csv => ReportFormat::Csv,
        Format::Json => ReportFormat::Json,
    });
    let params = ReconcileParams {
        as_of,
        deadline_days_override: args.deadline_days,
    };
    let for_people = matches!(format, ReportFormat::Xlsx | ReportFormat::Html);
    let (report, head, entries) = if for_people {
        report_at_head(store, params).await?
    } else {
        (store.reconcile(params).await?, String::new(), 0)
    };
    let mut rows = report_rows(&report, &divisions, &catalog, &filter);
    name_carried_rows(&mut rows, &divisions);
    let meta = report_meta(
        &args,
        as_of,
        &filter,
        &rows,
        (head, entries),
        &divisions,
        &catalog,
    );
    let table_zh = (args.lang == Some(LangArg::Zh)).then(|| Lang::Zh.labels());
    let bytes = render(format, &rows, &divisions, &meta, table_zh)?;
    write_report(args.output.as_deref(), args.force, db, &bytes)?;
    if let Some(p) = &args.output {
        let head = match for_people {
            true => format!(", chain head {}, {} entries", meta.chain_head, meta.entries),
            false => String::new(),
        };
        eprintln!(
            "{}: reconciliation as of {as_of}, {} row(s){head}",
            p.display(),
            rows.len()
        );
    }
    let failing = rows
        .iter()
        .any(|r| args.fail_on.iter().any(|f| fail_status(*f) == r.status));
    Ok(if failing {
        Outcome::ConditionMet
    } else {
        Outcome::Ok
    })
}

/// What the xlsx and html title lines say: date, filters, years, head.
fn report_meta(
    args: &ReconcileArgs,
    as_of: NaiveDate,
    filter: &RowFilter,
    rows: &[ReportRow],
    (chain_head, entries): (String, i64),
    divisions: &DivisionTable,
    catalog: &ProjectCatalog,
) -> ReportMeta {
    ReportMeta {
        as_of,
        lang: lang(args.lang),
        fiscal_year: args.fiscal_year,
        fiscal_years_shown: fiscal_years(rows),
        region: filter
            .region
            .map(|r| format!("{r} {}", divisions.name_at(r, as_of).unwrap_or(""))),
        project: filter.project.as_ref().map(|p| {
            let name = catalog.get(p).map(|c| c.name.as_str()).unwrap_or("");
            format!("{p} {name}")
        }),
        chain_head,
        entries,
    }
}

/// One set of rows, five formats.
fn render(
    format: ReportFormat,
    rows: &[ReportRow],
    divisions: &DivisionTable,
    meta: &ReportMeta,
    table_zh: Option<&Labels>,
) -> Result<Vec<u8>> {
    amounts_fit(rows).context("report totals")?;
    Ok(match format {
        ReportFormat::Csv => reconcile_csv(rows).into_bytes(),
        ReportFormat::Json => {
            (serde_json::to_string_pretty(&report_json(meta.as_of, rows)?)? + "\n").into_bytes()
        }
        ReportFormat::Table => report_table(meta.as_of, rows, divisions, table_zh).into_bytes(),
        ReportFormat::Xlsx => reconcile_xlsx(rows, divisions, meta)?,
        ReportFormat::Html => reconcile_html(rows, divisions, meta).into_bytes(),
    })
}

fn fiscal_years(rows: &[ReportRow]) -> Vec<i32> {
    let mut years: Vec<i32> = rows.iter().map(|r| r.fiscal_year).collect();
    years.sort_unstable();
    years.dedup();
    years
}

/// A line carried into a later year under a successor code (431121 祁阳县 →
/// 431181 祁阳市 in 2021) keeps its original doc date, when the new code did
/// not exist yet: name it as of the first day of the year it is carried in.
fn name_carried_rows(rows: &mut [ReportRow], divisions: &DivisionTable) {
    for r in rows.iter_mut() {
        let carried = r.origin_year.is_some_and(|o| o < r.fiscal_year);
        if !carried || !r.region_name.is_empty() {
            continue;
        }
        if let Some(name) = NaiveDate::from_ymd_opt(r.fiscal_year, 1, 1)
            .and_then(|jan1| divisions.name_at(r.region, jan1))
        {
            r.region_name = name.to_string();
        }
    }
}

fn fail_status(f: FailOn) -> Status {
    match f {
        FailOn::Overdue => Status::Overdue,
        FailOn::Over => Status::Over,
        FailOn::Unmatched => Status::Unmatched,
        FailOn::Open => Status::Open,
        FailOn::Late => Status::Late,
    }
}

const STATUSES: [Status; 6] = [
    Status::Settled,
    Status::Late,
    Status::Over,
    Status::Open,
    Status::Overdue,
    Status::Unmatched,
];

/// The rows' amounts come from stored data: when the sum of their
/// magnitudes fits in `i64` fen, so does every total and roll-up built from
/// any subset of them (which then may treat overflow as an invariant).
fn amounts_fit(rows: &[ReportRow]) -> Result<(), MoneyError> {
    let mut magnitude = Fen::ZERO;
    for r in rows {
        for amount in [r.allocated, Some(r.disbursed), r.outstanding]
            .into_iter()
            .flatten()
        {
            magnitude = magnitude.checked_add(amount.checked_abs()?)?;
        }
    }
    Ok(())
}

#[derive(Default)]
struct Totals {
    allocated: Fen,
    disbursed_on_lines: Fen,
    outstanding: Fen,
    unmatched: Fen,
    counts: BTreeMap<Status, u64>,
}

/// The report's totals. The rows come from stored amounts, so every sum is
/// checked: past `i64` it is `MoneyError::Overflow`, never a wrap.
fn totals(rows: &[ReportRow]) -> Result<Totals, MoneyError> {
    let mut t = Totals::default();
    for r in rows {
        *t.counts.entry(r.status).or_insert(0) += 1;
        if r.status == Status::Unmatched {
            t.unmatched = t.unmatched.checked_add(r.disbursed)?;
        } else {
            t.allocated = t.allocated.checked_add(r.allocated.unwrap_or_default())?;
            t.disbursed_on_lines = t.disbursed_on_lines.checked_add(r.disbursed)?;
            t.outstanding = t
                .outstanding
                .checked_add(r.outstanding.unwrap_or_default())?;
        }
    }
    Ok(t)
}

fn opt<T: ToString>(v: &Option<T>) -> serde_json::Value {
    v.as_ref()
        .map(|x| json!(x.to_string()))
        .unwrap_or(serde_json::Value::Null)
}

fn report_json(as_of: NaiveDate, rows: &[ReportRow]) -> Result<serde_json::Value> {
    let t = totals(rows).context("report totals")?;
    let rows: Vec<_> = rows
        .iter()
        .map(|r| {
            json!({
                "fiscal_year": r.fiscal_year,
                "origin_year": r.origin_year,
                "doc_no": r.doc_no,
                "doc_date": opt(&r.doc_date),
                "region_code": r.region.to_string(),
                "region_name": r.region_name,
                "project_code": r.project.to_string(),
                "project_name": r.project_name,
                "allocated": opt(&r.allocated),
                "disbursed": r.disbursed.to_string(),
                "outstanding": opt(&r.outstanding),
                "due_date": opt(&r.due_date),
                "settled_on": opt(&r.settled_on),
                "status": r.status.as_str(),
                "voucher_no": r.voucher_no,
                "paid_on": opt(&r.paid_on),
                "reason": r.reason,
            })
        })
        .collect();
    let counts: serde_json::Map<String, serde_json::Value> = STATUSES
        .iter()
        .map(|s| {
            (
                s.as_str().to_string(),
                json!(t.counts.get(s).copied().unwrap_or(0)),
            )
        })
        .collect();
    Ok(json!({
        "as_of": as_of.to_string(),
        "rows": rows,
        "totals": {
            "allocated": t.allocated.to_string(),
            "disbursed": t.disbursed_on_lines.to_string(),
            "outstanding": t.outstanding.to_string(),
            "unmatched_disbursed": t.unmatched.to_string(),
            "disbursement_rate": rate_percent(t.disbursed_on_lines, t.allocated),
        },
        "status_counts": counts,
    }))
}

fn rollup_cells(code: String, name: String, r: &RollupRow) -> Vec<String> {
    let mut cells = vec![
        code,
        name,
        r.lines.to_string(),
        r.allocated.to_string(),
        r.disbursed.to_string(),
        r.outstanding.to_string(),
        r.rate_percent(),
    ];
    cells.extend(LINE_STATUSES.iter().map(|s| r.count(*s).to_string()));
    cells
}

/// The table speaks English unless `--lang zh` is given: its default output
/// is what scripts and the snapshots have always seen.
fn report_table(
    as_of: NaiveDate,
    rows: &[ReportRow],
    divisions: &DivisionTable,
    zh: Option<&Labels>,
) -> String {
    let word = |en: &'static str, pick: fn(&Labels) -> &'static str| zh.map_or(en, pick);
    let status = |s: Status| zh.map_or(s.as_str(), |l| l.status(s));
    let mut headers = vec![
        (word("prefecture", |l| l.prefecture_code), Align::Left),
        (word("name", |l| l.prefecture), Align::Left),
        (word("lines", |l| l.lines), Align::Right),
        (word("allocated", |l| l.allocated), Align::Right),
        (word("disbursed", |l| l.disbursed), Align::Right),
        (word("outstanding", |l| l.outstanding), Align::Right),
        (word("rate", |l| l.rate), Align::Right),
    ];
    for s in LINE_STATUSES {
        headers.push((status(s), Align::Right));
    }
    let mut t = TextTable::new(&headers);
    let roll = rollup(rows, divisions, as_of);
    for p in &roll.prefectures {
        let code = p.prefecture.map(|c| c.to_string()).unwrap_or_default();
        t.row(rollup_cells(code, p.name.clone(), p));
    }
    t.rule();
    let total = word("total", |l| l.total);
    t.row(rollup_cells(total.into(), String::new(), &roll.total));
    let title = match zh {
        Some(l) => format!("{} {} {as_of}", l.title, l.as_of),
        None => format!("Reconciliation as of {as_of}"),
    };
    let mut out = format!("{title}\n\n{}", t.render());
    let exceptions: Vec<&ReportRow> = rows.iter().filter(|r| is_exception(r.status)).collect();
    if !exceptions.is_empty() {
        let doc_head = zh.map_or("doc_no / voucher".to_string(), |l| {
            format!("{} / {}", l.doc_no, l.voucher_no)
        });
        let mut e = TextTable::new(&[
            (word("status", |l| l.status), Align::Left),
            (word("region", |l| l.region_code), Align::Left),
            (word("name", |l| l.region), Align::Left),
            (word("project", |l| l.project), Align::Left),
            (&doc_head, Align::Left),
            (word("allocated", |l| l.allocated), Align::Right),
            (word("disbursed", |l| l.disbursed), Align::Right),
            (word("outstanding", |l| l.outstanding), Align::Right),
            (word("due", |l| l.due_date), Align::Left),
            (word("note", |l| l.note), Align::Left),
        ]);
        for r in exceptions {
            e.row(exception_cells(r, zh));
        }
        out.push_str(&match zh {
            Some(l) => format!("\n{}（{}）\n\n", l.exceptions_sheet, l.exceptions_note),
            None => "\nExceptions (overdue, over, late, unmatched)\n\n".to_string(),
        });
        out.push_str(&e.render());
    }
    out
}

/// The cells of an exception row. An unmatched voucher keeps the document
/// it named (the officer needs it to chase the bureau); an `over` row is
/// never called "settled".
fn exception_cells(r: &ReportRow, zh: Option<&Labels>) -> Vec<String> {
    let doc = match (&r.voucher_no, &r.doc_no) {
        (Some(v), _) => v.clone(),
        (None, Some(d)) => d.clone(),
        _ => String::new(),
    };
    let note = match (r.reason, r.settled_on) {
        (Some(reason), _) => {
            let reason = zh.map_or_else(|| reason.to_string(), |l| l.reason(reason));
            match (&r.voucher_no, &r.doc_no) {
                (Some(_), Some(d)) => format!("{reason} {d}"),
                _ => reason,
            }
        }
        (None, Some(d)) if r.status == Status::Over => match zh {
            Some(l) => l.over_note(d),
            None => format!("paid ≥ allocated since {d}"),
        },
        (None, Some(d)) => zh.map_or_else(|| format!("settled {d}"), |l| l.settled_note(d)),
        (None, None) => String::new(),
    };
    vec![
        zh.map_or(r.status.as_str(), |l| l.status(r.status)).into(),
        r.region.to_string(),
        r.region_name.clone(),
        format!("{} {}", r.project, r.project_name),
        doc,
        r.allocated.map(|a| a.to_string()).unwrap_or_default(),
        r.disbursed.to_string(),
        r.outstanding.map(|a| a.to_string()).unwrap_or_default(),
        r.due_date.map(|d| d.to_string()).unwrap_or_default(),
        note,
    ]
}

pub async fn rollover(store: &Store, args: RolloverArgs) -> Result<Outcome> {
    if args.recover_after < 1 {
        bail!(UsageError(format!(
            "--recover-after {}: must be at least 1 (money is live for at least its own year)",
            args.recover_after
        )));
    }
    // Checked before the dry run too, so a preview shows the same refusal.
    let periods = store.ledger_periods().await?;
    fundledger_core::periods::check_rollover(args.fiscal_year, &periods, today())?;
    let divisions = store.division_table().await?;
    let successor =
        |code: RegionCode, year: i32| divisions.successor_in(code, year).unwrap_or(code);
    let o = store
        .rollover(
            args.fiscal_year,
            args.recover_after,
            &successor,
            args.dry_run,
            &now(),
        )
        .await?;
    let y = o.fiscal_year;
    let status = rollover_status(&o);
    match args.format {
        TextFormat::Json => {
            let doc = rollover_json(&o, status, args.recover_after)?;
            crate::output::emit(&(serde_json::to_string_pretty(&doc)? + "\n"))?;
        }
        TextFormat::Text => {
            let mut text = format!("Rollover of fiscal year {y} into {}: {status}\n", y + 1);
            if o.already_done {
                text.push_str(&format!(
                    "the rollover of {y} has already run; nothing changed\n"
                ));
            } else {
                text.push_str(&format!(
                    "carried {} line(s), {}; recovered {} line(s), {}; exceptions {}\n",
                    o.plan.carries.len(),
                    o.carried_total()?,
                    o.plan.recoveries.len(),
                    o.recovered_total()?,
                    o.plan.exceptions.len()
                ));
            }
            if let Some(p) = o.pool {
                text.push_str(&format!(
                    "pool {}: {} unallocated\n",
                    p.budget, p.unallocated
                ));
            }
            for c in &o.plan.exceptions {
                text.push_str(&format!(
                    "exception: {} over-disbursed by {}\n",
                    c.from,
                    c.amount.checked_neg()?
                ));
            }
            crate::output::emit(&text)?;
        }
    }
    if o.dry_run && !o.already_done {
        eprintln!("dry run: nothing written");
    }
    Ok(Outcome::Ok)
}

/// `already_done`, `dry_run` or `applied`.
fn rollover_status(o: &fundledger_store::RolloverOutcome) -> &'static str {
    if o.already_done {
        "already_done"
    } else if o.dry_run {
        "dry_run"
    } else {
        "applied"
    }
}

/// `rollover --format json`: the plan line by line, and its totals.
fn rollover_json(
    o: &fundledger_store::RolloverOutcome,
    status: &str,
    recover_after: i32,
) -> Result<serde_json::Value> {
    let carries: Vec<_> = o
        .plan
        .carries
        .iter()
        .map(|c| {
            json!({
                "doc_no": c.from.doc_no.to_string(), "region_code": c.from.region.to_string(),
                "to_region_code": c.to.region.to_string(), "project_code": c.from.project.to_string(),
                "origin_year": c.origin_year, "amount": c.amount.to_string(),
            })
        })
        .collect();
    let recoveries: Vec<_> = o
        .plan
        .recoveries
        .iter()
        .map(|r| {
            json!({
                "doc_no": r.key.doc_no.to_string(), "region_code": r.key.region.to_string(),
                "project_code": r.key.project.to_string(), "origin_year": r.origin_year,
                "amount": r.amount.to_string(),
            })
        })
        .collect();
    let exceptions: Vec<_> = o
        .plan
        .exceptions
        .iter()
        .map(|c| {
            json!({
                "doc_no": c.from.doc_no.to_string(), "region_code": c.from.region.to_string(),
                "project_code": c.from.project.to_string(), "amount": c.amount.to_string(),
                "reason": "over-disbursed: carried with negative outstanding",
            })
        })
        .collect();
    Ok(json!({
        "fiscal_year": o.fiscal_year,
        "status": status,
        "recover_after": recover_after,
        "carried_total": o.carried_total()?.to_string(),
        "recovered_total": o.recovered_total()?.to_string(),
        "pool": o.pool.map(|p| p.budget.to_string()),
        "unallocated": o.pool.map(|p| p.unallocated.to_string()),
        "carries": carries,
        "recoveries": recoveries,
        "exceptions": exceptions,
    }))
}
