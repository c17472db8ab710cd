//! Ledger-level commands: budget, closing periods, and the domain-table
//! catalogue that ties each domain row to its journal entry.

use crate::read::Cells;
use crate::sql::Sql;
use crate::write::{Val, WriteTx};
use crate::{Result, Store, StoreError};
use chrono::NaiveDate;
use fundledger_core::text::first_byte_in;
use fundledger_core::{Account, Fen, Transaction, TxKind, TxMeta};

/// Column type of a domain table, for reading rows back generically.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ColType {
    Int,
    Text,
    OptInt,
    OptText,
}

/// A domain table whose rows are each covered by one journal entry: the
/// entry's `details` is `TABLE|col=value;…` over these columns, so `verify`
/// detects a changed, missing or extra domain row.
pub(crate) struct DomainTable {
    pub name: &'static str,
    pub columns: &'static [(&'static str, ColType)],
}

pub(crate) const INDICATOR_LINES: DomainTable = DomainTable {
    name: "indicator_lines",
    columns: &[
        ("doc_no", ColType::Text),
        ("region_code", ColType::Text),
        ("project_code", ColType::Text),
        ("origin_year", ColType::Int),
        ("doc_date", ColType::Text),
        ("amount_fen", ColType::Int),
        ("func_code", ColType::OptText),
        ("remark", ColType::OptText),
        ("deadline_days", ColType::Int),
    ],
};
pub(crate) const REDUCTIONS: DomainTable = DomainTable {
    name: "reductions",
    columns: &[
        ("doc_no", ColType::Text),
        ("region_code", ColType::Text),
        ("project_code", ColType::Text),
        ("target_doc_no", ColType::Text),
        ("fiscal_year", ColType::Int),
        ("doc_date", ColType::Text),
        ("amount_fen", ColType::Int),
        ("remark", ColType::OptText),
    ],
};
pub(crate) const VOUCHERS: DomainTable = DomainTable {
    name: "vouchers",
    columns: &[
        ("voucher_no", ColType::Text),
        ("paid_on", ColType::Text),
        ("fiscal_year", ColType::Int),
        ("region_code", ColType::Text),
        ("project_code", ColType::Text),
        ("doc_no", ColType::OptText),
        ("amount_fen", ColType::Int),
        ("original_voucher_no", ColType::OptText),
        ("payee", ColType::OptText),
        ("memo", ColType::OptText),
    ],
};
pub(crate) const CARRIES: DomainTable = DomainTable {
    name: "carries",
    columns: &[
        ("doc_no", ColType::Text),
        ("from_region", ColType::Text),
        ("project_code", ColType::Text),
        ("from_year", ColType::Int),
        ("to_region", ColType::Text),
        ("origin_year", ColType::Int),
        ("doc_date", ColType::Text),
        ("deadline_days", ColType::Int),
        ("carried_on", ColType::Text),
        ("amount_fen", ColType::Int),
    ],
};
pub(crate) const RECOVERIES: DomainTable = DomainTable {
    name: "recoveries",
    columns: &[
        ("doc_no", ColType::Text),
        ("region_code", ColType::Text),
        ("project_code", ColType::Text),
        ("fiscal_year", ColType::Int),
        ("origin_year", ColType::Int),
        ("amount_fen", ColType::Int),
    ],
};
pub(crate) const DOMAIN_TABLES: [&DomainTable; 5] = [
    &INDICATOR_LINES,
    &REDUCTIONS,
    &VOUCHERS,
    &CARRIES,
    &RECOVERIES,
];

impl DomainTable {
    /// `TABLE|col=value;…` with `\`, `;`, `=`, `|` and `~` escaped; NULL is `~`.
    pub(crate) fn details(&self, row: &[Val]) -> String {
        assert_eq!(
            row.len(),
            self.columns.len(),
            "details width for {}",
            self.name
        );
        let mut out = self.details_start();
        for (i, ((name, _), v)) in self.columns.iter().zip(row).enumerate() {
            push_details_name(&mut out, i, name);
            match v {
                Val::Int(x) | Val::OptInt(Some(x)) => push_details_int(&mut out, *x),
                Val::Text(t) | Val::OptText(Some(t)) => push_details_text(&mut out, t),
                Val::OptInt(None) | Val::OptText(None) => out.push('~'),
            }
        }
        out
    }

    /// [`DomainTable::details`] of the row `read_row` would read, rendered
    /// straight from its cells, in the same column order (so the same first
    /// error): no `Val` and no string per cell. `verify` renders every
    /// domain row of the ledger.
    pub(crate) fn details_of(&self, row: &impl Cells) -> Result<String> {
        let mut out = self.details_start();
        for (i, (name, t)) in self.columns.iter().enumerate() {
            push_details_name(&mut out, i, name);
            match t {
                ColType::Int => push_details_int(&mut out, row.int(i)?),
                ColType::OptInt => match row.opt_int(i)? {
                    Some(x) => push_details_int(&mut out, x),
                    None => out.push('~'),
                },
                ColType::Text => row.with_text(i, &mut |t| push_details_text(&mut out, t))?,
                ColType::OptText => row.with_opt_text(i, &mut |t| match t {
                    Some(t) => push_details_text(&mut out, t),
                    None => out.push('~'),
                })?,
            }
        }
        Ok(out)
    }

    /// `TABLE|`, with room for a typical row's columns.
    fn details_start(&self) -> String {
        let mut out = String::with_capacity(self.name.len() + 1 + 32 * self.columns.len());
        out.push_str(self.name);
        out.push('|');
        out
    }

    pub(crate) fn column_names(&self) -> Vec<&'static str> {
        self.columns.iter().map(|(n, _)| *n).collect()
    }

    /// Its rows and their entry numbers (last column) for entries
    /// `after < entry_no <= upto`, bound as `bounds` (`$1, $2` or `?1, ?2`).
    pub(crate) fn select_by_entries(&self, bounds: (&str, &str)) -> String {
        format!(
            "SELECT {}, entry_no FROM {} WHERE entry_no > {} AND entry_no <= {} ORDER BY entry_no",
            self.column_names().join(", "),
            self.name,
            bounds.0,
            bounds.1
        )
    }

    /// The row's values in column order, whichever driver read it.
    pub(crate) fn read_row(&self, row: &impl Cells) -> Result<Vec<Val>> {
        self.columns
            .iter()
            .enumerate()
            .map(|(i, (_, t))| {
                Ok(match t {
                    ColType::Int => Val::Int(row.int(i)?),
                    ColType::Text => Val::Text(row.text(i)?),
                    ColType::OptInt => Val::OptInt(row.opt_int(i)?),
                    ColType::OptText => Val::OptText(row.opt_text(i)?),
                })
            })
            .collect()
    }
}

/// `;` before every column but the first, then `name=`.
fn push_details_name(out: &mut String, i: usize, name: &str) {
    if i > 0 {
        out.push(';');
    }
    out.push_str(name);
    out.push('=');
}

fn push_details_int(out: &mut String, x: i64) {
    use std::fmt::Write;
    write!(out, "{x}").expect("writing to a String cannot fail");
}

/// `t` with a `\` before each `\`, `;`, `=`, `|` and `~`; the runs between
/// them are found a word at a time and copied whole.
fn push_details_text(out: &mut String, t: &str) {
    let mut rest = t;
    loop {
        // An index of an ASCII byte, or the end: a char boundary.
        let at = first_byte_in(rest.as_bytes(), b"\\;=|~");
        out.push_str(&rest[..at]);
        let Some(&b) = rest.as_bytes().get(at) else {
            return;
        };
        out.push('\\');
        out.push(char::from(b));
        rest = &rest[at + 1..];
    }
}

/// Appends `tx` whose details describe `row` of `table`, then buffers the
/// domain row itself with the new entry number.
pub(crate) async fn append_with_row(
    w: &mut WriteTx,
    table: &'static DomainTable,
    row: Vec<Val>,
    build: impl FnOnce(String) -> Result<Transaction>,
) -> Result<i64> {
    let details = table.details(&row);
    append_with_details(w, table, row, details, build).await
}

/// `append_with_row` for a caller that already holds `table.details(&row)`
/// (the importers compute it once per row to decide "already present").
pub(crate) async fn append_with_details(
    w: &mut WriteTx,
    table: &'static DomainTable,
    row: Vec<Val>,
    details: String,
    build: impl FnOnce(String) -> Result<Transaction>,
) -> Result<i64> {
    let tx = build(details)?;
    let entry_no = w.append(&tx).await?;
    let mut full = row;
    full.push(Val::Int(entry_no));
    let columns = domain_insert_columns(table);
    w.push_row(table.name, columns, full).await?;
    Ok(entry_no)
}

/// Column list for inserts: the detail columns then `entry_no`. Leaked once
/// per table (five tables), so the buffers can hold `&'static` names.
fn domain_insert_columns(table: &'static DomainTable) -> &'static [&'static str] {
    use std::sync::OnceLock;
    static CACHE: OnceLock<Vec<(&'static str, &'static [&'static str])>> = OnceLock::new();
    let cache = CACHE.get_or_init(|| {
        DOMAIN_TABLES
            .iter()
            .map(|t| {
                let mut cols = t.column_names();
                cols.push("entry_no");
                (t.name, &*Box::leak(cols.into_boxed_slice()))
            })
            .collect()
    });
    cache
        .iter()
        .find(|(n, _)| *n == table.name)
        .map(|(_, c)| *c)
        .expect("every domain table is in DOMAIN_TABLES")
}

/// The pool of a fiscal year: budgeted total and what is not yet allocated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolState {
    pub budget: Fen,
    pub unallocated: Fen,
}

impl PoolState {
    pub fn allocated(&self) -> Result<Fen> {
        Ok(self.budget.checked_sub(self.unallocated)?)
    }
}

/// The pool of fiscal year `year` as this write transaction sees it.
pub(crate) async fn pool_state(w: &mut WriteTx, year: i32) -> Result<Option<PoolState>> {
    let n = w
        .int(
            "SELECT COUNT(*) FROM journal WHERE kind = 'budget' AND fiscal_year = $1",
            vec![Val::Int(i64::from(year))],
        )
        .await?;
    if n == 0 {
        return Ok(None);
    }
    let appropriation = w.balance(&Account::appropriation(year)).await?;
    let unallocated = w.balance(&Account::pool(year)).await?;
    Ok(Some(PoolState {
        budget: appropriation.checked_neg()?,
        unallocated,
    }))
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BudgetOutcome {
    Unchanged {
        budget: Fen,
    },
    Changed {
        previous: Fen,
        budget: Fen,
        entry_no: i64,
    },
}

/// The latest date closed by `close`, if any.
pub(crate) async fn closed_through(conn: &mut impl Sql) -> Result<Option<NaiveDate>> {
    let d = match conn
        .row("SELECT MAX(through_date) FROM closings", Vec::new())
        .await?
    {
        Some(row) => row.opt_text(0)?,
        None => None,
    };
    d.map(|s| parse_date(&s)).transpose()
}

/// Locks every date on or before `through`, under this command's batch
/// (`close`, and the year-end closing of a rollover).
pub(crate) async fn record_closing(w: &mut WriteTx, through: NaiveDate) -> Result<()> {
    let batch = w.batch_id();
    w.execute(
        "INSERT INTO closings (through_date, batch_id) VALUES ($1, $2)",
        vec![
            Val::Text(through.format("%Y-%m-%d").to_string()),
            Val::Int(batch),
        ],
    )
    .await?;
    Ok(())
}

pub(crate) fn parse_date(s: &str) -> Result<NaiveDate> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map_err(|_| StoreError::Corrupt(format!("stored date `{s}` is not YYYY-MM-DD")))
}

impl Store {
    /// Sets fiscal year `year`'s pool to `amount`. A change is a new
    /// `budget` transaction for the difference, never an edit.
    pub async fn budget_set(
        &self,
        year: i32,
        amount: Fen,
        recorded_at: &str,
    ) -> Result<BudgetOutcome> {
        if amount.is_negative() {
            return Err(StoreError::Refused(format!(
                "a pool cannot be negative: {amount}"
            )));
        }
        let mut w = WriteTx::begin(self, "budget set", None, recorded_at).await?;
        let state = pool_state(&mut w, year).await?;
        let previous = state.map(|s| s.budget).unwrap_or(Fen::ZERO);
        if let Some(s) = state {
            let allocated = s.allocated()?;
            if amount < allocated {
                return Err(StoreError::Refused(format!(
                    "fiscal year {year}: a pool of {amount} is less than the {allocated} already allocated"
                )));
            }
        }
        let delta = amount
            .checked_sub(previous)
            .map_err(|_| StoreError::Refused("overflow".into()))?;
        if delta.is_zero() && state.is_some() {
            w.rollback().await?;
            return Ok(BudgetOutcome::Unchanged { budget: amount });
        }
        let n = w
            .int(
                "SELECT COUNT(*) FROM journal WHERE kind = 'budget' AND fiscal_year = $1",
                vec![Val::Int(i64::from(year))],
            )
            .await?;
        let date = NaiveDate::from_ymd_opt(year, 1, 1)
            .ok_or_else(|| StoreError::Refused(format!("fiscal year {year} is out of range")))?;
        let meta = TxMeta {
            fiscal_year: Some(year),
            ..TxMeta::default()
        };
        let description = format!("pool of fiscal year {year} set to {amount} (was {previous})");
        if delta.is_zero() {
            // A first pool of 0.00 would post nothing: refuse rather than
            // record a year that looks budgeted.
            w.rollback().await?;
            return Err(StoreError::Refused(format!(
                "fiscal year {year}: a pool of 0.00 has nothing to post; set the real amount"
            )));
        }
        let tx = Transaction::transfer(
            format!("budget:{year}:{}", n + 1),
            date,
            TxKind::Budget,
            description,
            meta,
            Account::pool(year),
            Account::appropriation(year),
            delta,
        )?;
        let entry_no = w.append(&tx).await?;
        w.commit().await?;
        Ok(BudgetOutcome::Changed {
            previous,
            budget: amount,
            entry_no,
        })
    }

    /// Locks every date on or before `through`.
    pub async fn close_through(
        &self,
        through: NaiveDate,
        recorded_at: &str,
    ) -> Result<Option<NaiveDate>> {
        let mut w = WriteTx::begin(self, "close", None, recorded_at).await?;
        let before = closed_through(&mut w).await?;
        if before.is_some_and(|b| b >= through) {
            w.rollback().await?;
            return Ok(before);
        }
        record_closing(&mut w, through).await?;
        w.commit().await?;
        Ok(Some(through))
    }

    pub async fn closed_through(&self) -> Result<Option<NaiveDate>> {
        let mut conn = self.pool().acquire().await?;
        closed_through(&mut *conn).await
    }
}

impl Store {
    /// The facts the guard rails of `close`, `rollover` and `budget set`
    /// judge (core::periods): years with data, years rolled, the latest
    /// dated row. Read in one snapshot.
    pub async fn ledger_periods(&self) -> Result<fundledger_core::periods::LedgerPeriods> {
        let mut conn = self.pool().acquire().await?;
        let mut years: Vec<i64> = sqlx::query_scalar(
            "SELECT DISTINCT fiscal_year FROM journal WHERE fiscal_year IS NOT NULL",
        )
        .fetch_all(&mut *conn)
        .await?;
        // Money carried into Y+1 makes Y+1 a year with data even when it has
        // no pool and no document of its own.
        let carried_into: Vec<i64> =
            sqlx::query_scalar("SELECT DISTINCT from_year + 1 FROM carries")
                .fetch_all(&mut *conn)
                .await?;
        years.extend(carried_into);
        let rolled: Vec<i64> = sqlx::query_scalar("SELECT fiscal_year FROM rollovers")
            .fetch_all(&mut *conn)
            .await?;
        let last: Option<String> = sqlx::query_scalar(
            "SELECT MAX(d) FROM (SELECT MAX(doc_date) AS d FROM indicator_lines \
             UNION ALL SELECT MAX(doc_date) FROM reductions \
             UNION ALL SELECT MAX(paid_on) FROM vouchers) AS dated",
        )
        .fetch_one(&mut *conn)
        .await?;
        let year = |y: i64| i32::try_from(y).map_err(|_| StoreError::Corrupt(format!("year {y}")));
        Ok(fundledger_core::periods::LedgerPeriods {
            years_with_data: years.into_iter().map(year).collect::<Result<_>>()?,
            rolled_years: rolled.into_iter().map(year).collect::<Result<_>>()?,
            last_data_date: last.map(|s| parse_date(&s)).transpose()?,
        })
    }
}
