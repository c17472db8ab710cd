//! The reconciliation engine as it was before the speed work of issue 14
//! (commit 8c2c9f4), kept verbatim as a reference model: the engine in
//! `src/reconcile.rs` must give the same report for every input
//! (`reconcile_props.rs`, `faster_engine_matches_the_reference`).
#![allow(dead_code)]

use chrono::{NaiveDate, TimeDelta};
use fundledger_core::reconcile::{
    LineRow, LineYear, ReconcileError, ReconcileParams, Report, Status, UnmatchedReason,
    UnmatchedRow, VoucherIn,
};
use fundledger_core::{DocNo, Fen, LineKey, ProjectCode, RegionCode};
use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};

type FiscalYear = i32;

/// Where one voucher's money went: (line index, amount put there).
type Placement = Vec<(usize, Fen)>;

/// What the engine remembers about a voucher that some refund names.
enum Remembered {
    Matched(Placement),
    Unmatched(UnmatchedReason),
}

/// Per line-year state: the line's own allocation events plus a few running
/// figures. Payments arrive in date order, so the timeline of A(t), P(t) is
/// walked forward once; no per-voucher history is kept.
struct LineState {
    line: LineYear,
    /// Events dated <= D, one per date (same-date deltas summed), ascending.
    events: Vec<(NaiveDate, Fen)>,
    allocated_at_as_of: Fen,
    /// Index of the first event not yet applied to the timeline.
    next_event: usize,
    /// A(t) on the timeline so far.
    allocated_now: Fen,
    /// P(t) so far; after the last voucher, P at D.
    disbursed_now: Fen,
    /// The day being accumulated, whose end-of-day state is not yet judged.
    open_day: Option<NaiveDate>,
    /// First day of the current run of P(t) >= A(t).
    run_start: Option<NaiveDate>,
}

impl LineState {
    /// `None` when the line-year has no allocation event <= D.
    fn new(mut line: LineYear, as_of: NaiveDate) -> Result<Option<LineState>, ReconcileError> {
        let mut events: Vec<(NaiveDate, Fen)> = Vec::new();
        let mut raw = std::mem::take(&mut line.allocation_events);
        raw.retain(|(date, _)| *date <= as_of);
        raw.sort();
        for (date, amount) in raw {
            match events.last_mut() {
                Some((last, sum)) if *last == date => *sum = sum.checked_add(amount)?,
                _ => events.push((date, amount)),
            }
        }
        if events.is_empty() {
            return Ok(None);
        }
        let allocated_at_as_of = Fen::checked_sum(events.iter().map(|(_, a)| *a))?;
        Ok(Some(LineState {
            line,
            events,
            allocated_at_as_of,
            next_event: 0,
            allocated_now: Fen::ZERO,
            disbursed_now: Fen::ZERO,
            open_day: None,
            run_start: None,
        }))
    }

    /// Sort key of §5.1 within one (fiscal year, region, project).
    fn doc_order(&self) -> (NaiveDate, &DocNo) {
        (self.line.doc_date, &self.line.key.doc_no)
    }

    fn outstanding_as_of(&self) -> Result<Fen, ReconcileError> {
        self.allocated_at_as_of
            .checked_sub(self.disbursed_now)
            .map_err(|_| ReconcileError::Overflow)
    }

    /// Judge the end of the open day.
    fn close_day(&mut self) {
        if let Some(day) = self.open_day.take() {
            if self.disbursed_now >= self.allocated_now {
                self.run_start.get_or_insert(day);
            } else {
                self.run_start = None;
            }
        }
    }

    /// Bring the timeline to `day`: every earlier day judged, every
    /// allocation event dated <= `day` applied, `day` open.
    fn open(&mut self, day: NaiveDate) -> Result<(), ReconcileError> {
        assert!(
            self.open_day.is_none_or(|open| open <= day),
            "line {} timeline walked backwards to {day}",
            self.line.key
        );
        while let Some(&(date, delta)) = self.events.get(self.next_event) {
            if date > day {
                break;
            }
            if self.open_day.is_some_and(|open| open < date) {
                self.close_day();
            }
            self.allocated_now = self.allocated_now.checked_add(delta)?;
            self.next_event += 1;
            self.open_day = Some(date);
        }
        if self.open_day.is_some_and(|open| open < day) {
            self.close_day();
        }
        self.open_day = Some(day);
        Ok(())
    }

    /// Put `amount` (negative for a refund) on this line on `day`.
    fn post(&mut self, day: NaiveDate, amount: Fen) -> Result<(), ReconcileError> {
        self.open(day)?;
        self.disbursed_now = self.disbursed_now.checked_add(amount)?;
        Ok(())
    }

    fn into_row(mut self, as_of: NaiveDate, deadline_days: i64) -> Result<LineRow, ReconcileError> {
        self.open(as_of)?;
        self.close_day();
        assert_eq!(
            self.allocated_now, self.allocated_at_as_of,
            "line {}: every event <= D applied",
            self.line.key
        );
        let due_date = TimeDelta::try_days(deadline_days)
            .and_then(|delta| self.line.doc_date.checked_add_signed(delta))
            .ok_or(ReconcileError::DueDateOutOfRange {
                doc_date: self.line.doc_date,
                deadline_days,
            })?;
        let allocated = self.allocated_at_as_of;
        let disbursed = self.disbursed_now;
        let nothing_held = allocated.is_zero() && disbursed.is_zero();
        let settled_on = if disbursed >= allocated && !nothing_held {
            assert!(self.run_start.is_some(), "P >= A at D starts a run");
            self.run_start
        } else {
            None
        };
        let status = match disbursed.cmp(&allocated) {
            Ordering::Greater => Status::Over,
            // A = P = 0 (reduced to zero, nothing kept) has no settled_on
            // and is `settled` whatever the dates (SPEC §5).
            Ordering::Equal => match settled_on {
                Some(day) if day > due_date => Status::Late,
                _ => Status::Settled,
            },
            Ordering::Less if as_of <= due_date => Status::Open,
            Ordering::Less => Status::Overdue,
        };
        Ok(LineRow {
            key: self.line.key,
            fiscal_year: self.line.fiscal_year,
            origin_year: self.line.origin_year,
            doc_date: self.line.doc_date,
            due_date,
            allocated,
            disbursed,
            outstanding: allocated.checked_sub(disbursed)?,
            settled_on,
            status,
        })
    }
}

/// Streaming engine: memory bounded by lines, not vouchers.
struct Reconciler {
    params: ReconcileParams,
    lines: Vec<LineState>,
    /// (fiscal year, key) → line index, for vouchers with a doc_no.
    by_key: HashMap<(FiscalYear, LineKey), usize>,
    /// (fiscal year, region, project) → line indices in §5.1 candidate order.
    by_account: HashMap<(FiscalYear, RegionCode, ProjectCode), Vec<usize>>,
    refunded_originals: HashSet<String>,
    remembered: HashMap<String, Remembered>,
    unmatched: Vec<UnmatchedRow>,
    last_voucher: Option<(NaiveDate, String)>,
    /// An overflow found while building the line states, reported by the
    /// first `push` or `finish` (construction itself cannot fail).
    failed: Option<ReconcileError>,
}

impl Reconciler {
    /// `lines`: every line-year (the engine ignores line-years with no allocation event <= as_of).
    /// `refunded_originals`: voucher numbers that some refund names (so the engine remembers where
    ///   only those vouchers went; everything else is forgotten after matching).
    ///
    /// Panics if two line-years share (fiscal year, doc_no, region, project):
    /// imports guarantee that a key appears once.
    fn new(
        lines: Vec<LineYear>,
        refunded_originals: HashSet<String>,
        params: ReconcileParams,
    ) -> Reconciler {
        let mut states = Vec::with_capacity(lines.len());
        let mut failed = None;
        for line in lines {
            match LineState::new(line, params.as_of) {
                Ok(Some(state)) => states.push(state),
                Ok(None) => {}
                Err(e) => failed = Some(e),
            }
        }
        let mut by_key = HashMap::new();
        let mut by_account: HashMap<_, Vec<usize>> = HashMap::new();
        for (index, state) in states.iter().enumerate() {
            let line = &state.line;
            let previous = by_key.insert((line.fiscal_year, line.key.clone()), index);
            assert!(
                previous.is_none(),
                "line-year {} of {} given twice",
                line.key,
                line.fiscal_year
            );
            by_account
                .entry((line.fiscal_year, line.key.region, line.key.project.clone()))
                .or_default()
                .push(index);
        }
        for indices in by_account.values_mut() {
            indices.sort_by(|a, b| states[*a].doc_order().cmp(&states[*b].doc_order()));
        }
        Reconciler {
            params,
            lines: states,
            by_key,
            by_account,
            refunded_originals,
            remembered: HashMap::new(),
            unmatched: Vec::new(),
            last_voucher: None,
            failed,
        }
    }

    /// Feed vouchers in (paid_on, voucher_no) order; vouchers dated after as_of are ignored.
    ///
    /// A refund (amount < 0) goes back onto the lines its original voucher
    /// reached, latest doc date first (ties by doc_no, reversed), taking back
    /// from each at most what the original still has there (earlier refunds of
    /// the same original already took some). A refund larger than that goes,
    /// for its remainder, onto the earliest of those lines: the mirror of a
    /// payment's excess going to the last candidate, so P summed over lines
    /// always falls by the full refund. The refund's own doc_no, region and
    /// project are not consulted. A refund whose original was unmatched is
    /// unmatched, with the original's reason.
    fn push(&mut self, voucher: VoucherIn) -> Result<(), ReconcileError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        self.check_order(&voucher)?;
        if voucher.paid_on > self.params.as_of {
            return Ok(());
        }
        let outcome = if voucher.amount.is_negative() {
            self.apply_refund(&voucher)?
        } else {
            self.apply_payment(&voucher)?
        };
        let outcome = match outcome {
            Ok(placement) => Remembered::Matched(placement),
            Err(reason) => {
                self.unmatched.push(unmatched_row(&voucher, reason));
                Remembered::Unmatched(reason)
            }
        };
        if self.refunded_originals.contains(&voucher.voucher_no) {
            self.remembered.insert(voucher.voucher_no, outcome);
        }
        Ok(())
    }

    /// Rows in SPEC §5.1 order.
    fn finish(self) -> Result<Report, ReconcileError> {
        if let Some(e) = self.failed {
            return Err(e);
        }
        let as_of = self.params.as_of;
        let override_days = self.params.deadline_days_override;
        let mut lines = self
            .lines
            .into_iter()
            .map(|state| {
                let days = override_days.unwrap_or(state.line.deadline_days);
                state.into_row(as_of, days)
            })
            .collect::<Result<Vec<_>, _>>()?;
        lines.sort_by(|a, b| {
            (
                a.fiscal_year,
                a.key.region,
                &a.key.project,
                a.doc_date,
                &a.key.doc_no,
            )
                .cmp(&(
                    b.fiscal_year,
                    b.key.region,
                    &b.key.project,
                    b.doc_date,
                    &b.key.doc_no,
                ))
        });
        // Vouchers arrive in (paid_on, voucher_no) order, so unmatched rows
        // are already in §5.1 order.
        Ok(Report {
            lines,
            unmatched: self.unmatched,
        })
    }

    fn check_order(&mut self, voucher: &VoucherIn) -> Result<(), ReconcileError> {
        let in_order = self.last_voucher.as_ref().is_none_or(|(day, number)| {
            (*day, number.as_str()) < (voucher.paid_on, voucher.voucher_no.as_str())
        });
        if !in_order {
            return Err(ReconcileError::VouchersOutOfOrder {
                voucher_no: voucher.voucher_no.clone(),
            });
        }
        self.last_voucher = Some((voucher.paid_on, voucher.voucher_no.clone()));
        Ok(())
    }

    /// Match a payment (amount >= 0) and post it.
    fn apply_payment(
        &mut self,
        voucher: &VoucherIn,
    ) -> Result<Result<Placement, UnmatchedReason>, ReconcileError> {
        let placement = match &voucher.doc_no {
            Some(doc_no) => {
                let key = LineKey {
                    doc_no: doc_no.clone(),
                    region: voucher.region,
                    project: voucher.project.clone(),
                };
                match self.by_key.get(&(voucher.fiscal_year, key)) {
                    Some(&index) => vec![(index, voucher.amount)],
                    None => return Ok(Err(UnmatchedReason::NoLineForDocNo)),
                }
            }
            None => match self.fill_candidates(voucher)? {
                Some(placement) => placement,
                None => return Ok(Err(UnmatchedReason::NoCandidateLine)),
            },
        };
        self.post_all(voucher.paid_on, &placement)?;
        Ok(Ok(placement))
    }

    /// The §5.1 split of a voucher without doc_no; `None` when no candidate.
    fn fill_candidates(&self, voucher: &VoucherIn) -> Result<Option<Placement>, ReconcileError> {
        let account = (voucher.fiscal_year, voucher.region, voucher.project.clone());
        let candidates: Vec<usize> = self
            .by_account
            .get(&account)
            .map(|indices| {
                indices
                    .iter()
                    .copied()
                    .take_while(|&i| self.lines[i].line.doc_date <= voucher.paid_on)
                    .collect()
            })
            .unwrap_or_default();
        let Some((&last, earlier)) = candidates.split_last() else {
            return Ok(None);
        };
        let mut remaining = voucher.amount;
        let mut placement = Vec::new();
        for &index in earlier {
            let room = self.lines[index].outstanding_as_of()?.max(Fen::ZERO);
            let take = remaining.min(room);
            if take.is_positive() {
                placement.push((index, take));
                remaining = remaining.checked_sub(take)?;
            }
        }
        // A zero voucher still names the line it matched, so a refund that
        // names it has somewhere to go.
        if remaining.is_positive() || placement.is_empty() {
            placement.push((last, remaining));
        }
        Ok(Some(placement))
    }

    /// Take a refund back from where its original went.
    fn apply_refund(
        &mut self,
        voucher: &VoucherIn,
    ) -> Result<Result<Placement, UnmatchedReason>, ReconcileError> {
        let original = voucher.original_voucher_no.as_ref().ok_or_else(|| {
            ReconcileError::RefundWithoutOriginal {
                voucher_no: voucher.voucher_no.clone(),
            }
        })?;
        let unknown = || ReconcileError::UnknownOriginalVoucher {
            voucher_no: voucher.voucher_no.clone(),
            original: original.clone(),
        };
        let lines = &self.lines;
        let original_placement = match self.remembered.get_mut(original).ok_or_else(unknown)? {
            Remembered::Unmatched(reason) => return Ok(Err(*reason)),
            Remembered::Matched(placement) => placement,
        };
        // Latest doc date first, ties by doc_no reversed.
        original_placement.sort_by(|a, b| lines[b.0].doc_order().cmp(&lines[a.0].doc_order()));
        let mut to_take_back = voucher.amount.checked_neg()?;
        let mut refund_placement: Placement = Vec::new();
        for (index, still_there) in original_placement.iter_mut() {
            let take = to_take_back.min((*still_there).max(Fen::ZERO));
            if take.is_positive() {
                *still_there = still_there.checked_sub(take)?;
                to_take_back = to_take_back.checked_sub(take)?;
                refund_placement.push((*index, take.checked_neg()?));
            }
        }
        if to_take_back.is_positive() {
            let (index, still_there) = original_placement
                .last_mut()
                .expect("a matched voucher reached at least one line");
            *still_there = still_there.checked_sub(to_take_back)?;
            refund_placement.push((*index, to_take_back.checked_neg()?));
        }
        self.post_all(voucher.paid_on, &refund_placement)?;
        Ok(Ok(refund_placement))
    }

    fn post_all(&mut self, day: NaiveDate, placement: &Placement) -> Result<(), ReconcileError> {
        // A zero amount changes nothing, so it leaves no day on the timeline.
        for &(index, amount) in placement.iter().filter(|(_, a)| !a.is_zero()) {
            self.lines[index].post(day, amount)?;
        }
        Ok(())
    }
}

fn unmatched_row(voucher: &VoucherIn, reason: UnmatchedReason) -> UnmatchedRow {
    UnmatchedRow {
        voucher_no: voucher.voucher_no.clone(),
        paid_on: voucher.paid_on,
        fiscal_year: voucher.fiscal_year,
        region: voucher.region,
        project: voucher.project.clone(),
        doc_no: voucher.doc_no.clone(),
        amount: voucher.amount,
        reason,
    }
}

/// The old `reconcile`: sorts and runs.
pub(crate) fn reconcile(
    lines: Vec<LineYear>,
    mut vouchers: Vec<VoucherIn>,
    params: ReconcileParams,
) -> Result<Report, ReconcileError> {
    vouchers.sort_by(|a, b| (a.paid_on, &a.voucher_no).cmp(&(b.paid_on, &b.voucher_no)));
    let refunded_originals = vouchers
        .iter()
        .filter(|v| v.amount.is_negative())
        .filter_map(|v| v.original_voucher_no.clone())
        .collect();
    let mut engine = Reconciler::new(lines, refunded_originals, params);
    for voucher in vouchers {
        engine.push(voucher)?;
    }
    engine.finish()
}
