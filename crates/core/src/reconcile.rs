//! Reconciliation engine (SPEC §5, §5.1).
//!
//! Pure and streaming: the caller gives every line-year up front and then
//! feeds vouchers in `(paid_on, voucher_no)` order. Memory is bounded by the
//! number of line-years (plus the unmatched vouchers, which are reported, and
//! the placements of the few vouchers that some refund names), never by the
//! number of vouchers.
//!
//! # Definitions used
//!
//! * **A at D** of a line-year is the sum of its allocation events dated
//!   `<= D`. A line-year with no event `<= D` is not in the report and cannot
//!   be matched.
//! * **Matching** (vouchers dated `<= D` only, in stream order):
//!   with a doc_no, the line-year `(doc_no, region, project)` of the voucher's
//!   fiscal year, whatever its doc date; without one, the line-years of the
//!   voucher's `(fiscal_year, region, project)` whose doc date is `<=
//!   paid_on`, oldest doc date first, ties by [`DocNo`]'s order. The amount
//!   fills each candidate's outstanding *as of D* (A at D less what earlier
//!   vouchers put on it) and any excess goes to the last candidate.
//! * **Refunds** (amount < 0) follow their original voucher; see
//!   [`Reconciler::push`].
//! * **Timeline.** A(t) and P(t) are evaluated at the end of each day t on
//!   which something happens to the line (an allocation event or a matched
//!   voucher). `settled_on` is the first day of the unbroken run of such days,
//!   ending at D, on which P(t) >= A(t); it is empty while P < A at D, and
//!   empty when A = P = 0 at D (a line reduced to zero that keeps no money).
//!   "P first reached A" for `settled` / `late` is that same day: the run that
//!   still holds at D is the one that counts, so a refund that reopens a line
//!   and a later payment that settles it again are judged by the later
//!   payment. This gives the Guangdong example: 乐昌市 JS02 (paid 80,000 on
//!   04-01, reduced to 80,000 on 08-02) is `late` with settled_on 2021-08-02.

use crate::domain::{DocNo, FiscalYear, LineKey, ProjectCode, RegionCode};
use crate::money::{Fen, MoneyError};
use chrono::{NaiveDate, TimeDelta};
use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};

/// One indicator line as live in one fiscal year ("line-year"). A line normally has one
/// line-year (fiscal_year == origin_year); a carried-forward line has another in Y+1 whose
/// key may differ in region (successor code) and whose allocation is the amount carried in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LineYear {
    pub key: LineKey,
    pub fiscal_year: FiscalYear,
    pub origin_year: FiscalYear,
    /// The original document's date (also for carried lines).
    pub doc_date: NaiveDate,
    /// From import (default 30).
    pub deadline_days: i64,
    /// Allocation events: for an original line, (doc_date, original amount) then each reduction
    /// (its doc date, negative amount); for a carried line-year, (carry date, amount carried in).
    /// Only events dated <= as_of count. Any order; the engine sorts.
    pub allocation_events: Vec<(NaiveDate, Fen)>,
}

/// A payment voucher as the engine sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VoucherIn {
    pub voucher_no: String,
    pub paid_on: NaiveDate,
    pub fiscal_year: FiscalYear,
    pub region: RegionCode,
    pub project: ProjectCode,
    pub doc_no: Option<DocNo>,
    /// < 0 = refund.
    pub amount: Fen,
    /// Some for refunds.
    pub original_voucher_no: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Status {
    Settled,
    Late,
    Over,
    Open,
    Overdue,
    Unmatched,
}

impl Status {
    /// The exact word of SPEC §5 (CSV `status` column).
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Settled => "settled",
            Status::Late => "late",
            Status::Over => "over",
            Status::Open => "open",
            Status::Overdue => "overdue",
            Status::Unmatched => "unmatched",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnmatchedReason {
    NoLineForDocNo,
    NoCandidateLine,
}

impl UnmatchedReason {
    /// The exact words of SPEC §5.1.
    pub fn as_str(self) -> &'static str {
        match self {
            UnmatchedReason::NoLineForDocNo => "no line for doc_no",
            UnmatchedReason::NoCandidateLine => "no candidate line",
        }
    }
}

/// One line-year of the report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LineRow {
    pub key: LineKey,
    pub fiscal_year: FiscalYear,
    pub origin_year: FiscalYear,
    pub doc_date: NaiveDate,
    pub due_date: NaiveDate,
    pub allocated: Fen,
    pub disbursed: Fen,
    pub outstanding: Fen,
    pub settled_on: Option<NaiveDate>,
    pub status: Status,
}

/// One voucher that matched no line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnmatchedRow {
    pub voucher_no: String,
    pub paid_on: NaiveDate,
    pub fiscal_year: FiscalYear,
    pub region: RegionCode,
    pub project: ProjectCode,
    pub doc_no: Option<DocNo>,
    pub amount: Fen,
    pub reason: UnmatchedReason,
}

/// The reconciliation as of D, rows in SPEC §5.1 order.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Report {
    pub lines: Vec<LineRow>,
    pub unmatched: Vec<UnmatchedRow>,
}

#[derive(Clone, Debug)]
pub struct ReconcileParams {
    pub as_of: NaiveDate,
    /// Replaces every line's own `deadline_days` when given.
    pub deadline_days_override: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReconcileError {
    #[error("voucher {voucher_no} is out of (paid_on, voucher_no) order (or repeated)")]
    VouchersOutOfOrder { voucher_no: String },
    #[error("refund {voucher_no} names original voucher {original}, which is unknown")]
    UnknownOriginalVoucher {
        voucher_no: String,
        original: String,
    },
    #[error("refund {voucher_no} (negative amount) names no original voucher")]
    RefundWithoutOriginal { voucher_no: String },
    #[error("amount overflow during reconciliation")]
    Overflow,
    #[error("due date out of range: {doc_date} + {deadline_days} days")]
    DueDateOutOfRange {
        doc_date: NaiveDate,
        deadline_days: i64,
    },
}

impl From<MoneyError> for ReconcileError {
    fn from(_: MoneyError) -> Self {
        ReconcileError::Overflow
    }
}

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
    /// Index of the line's (fiscal year, region, project) in `Reconciler::accounts`.
    account: usize,
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
            account: usize::MAX,
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
        Ok(self.allocated_at_as_of.checked_sub(self.disbursed_now)?)
    }

    /// What a voucher without doc_no may still put here before moving on.
    fn room(&self) -> Result<Fen, ReconcileError> {
        Ok(self.outstanding_as_of()?.max(Fen::ZERO))
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

/// The line-years of one (fiscal year, region, project): every voucher of
/// that account is matched among them and nowhere else.
struct Account {
    /// (doc date, line index) in §5.1 candidate order (doc date, then
    /// doc_no); the date kept here so finding the live candidates reads
    /// one short array, not every line's state.
    candidates: Vec<(NaiveDate, usize)>,
    /// `candidates[..no_room]` have no room left (outstanding as of D <= 0),
    /// so a fill starts past them: payments only ever shrink room, so this
    /// only grows, until a refund gives a line of the account room again
    /// (then it starts over at 0). Keeps a fill from re-reading every
    /// settled line of a long-lived account for each voucher.
    no_room: usize,
}

/// Project codes as small numbers: an account is found by a `Copy` key,
/// without cloning the voucher's project code.
type ProjectIndex = u32;

/// (account, doc year, doc number, doc prefix) → the line of that doc_no
/// in that account: one probe per voucher with a doc_no, on `Copy` keys.
/// A sorted list per account searched by (year, number), then by prefix
/// text, cost a second cache miss and a string compare per voucher (about a
/// third of the engine's time at 1M vouchers).
type DocNumbers = HashMap<(u32, i32, u32, PrefixIndex), usize, BuildIntHasher>;

/// Doc_no prefixes (`湘财社指`) as small numbers; a ledger has a handful.
type PrefixIndex = u32;

type Prefixes = HashMap<String, PrefixIndex, BuildIntHasher>;

/// (fiscal year, region code, project) → index in `Reconciler::accounts`.
type AccountIndex = HashMap<(FiscalYear, u32, ProjectIndex), usize, BuildIntHasher>;

type Projects = HashMap<ProjectCode, ProjectIndex>;

/// A multiply-and-rotate hasher (as rustc's FxHash) for the small integer
/// keys looked up once per voucher; SipHash's resistance to chosen keys
/// buys nothing for a ledger's own codes and costs most of a lookup.
#[derive(Clone, Copy, Default)]
struct IntHasher(u64);

impl std::hash::Hasher for IntHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }
    fn write_u32(&mut self, n: u32) {
        self.write_u64(u64::from(n));
    }
    fn write_i32(&mut self, n: i32) {
        self.write_u64(u64::from(u32::from_ne_bytes(n.to_ne_bytes())));
    }
    fn write_usize(&mut self, n: usize) {
        self.write_u64(u64::try_from(n).expect("usize fits in u64"));
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

type BuildIntHasher = std::hash::BuildHasherDefault<IntHasher>;

/// Streaming engine: memory bounded by lines, not vouchers.
pub struct Reconciler {
    params: ReconcileParams,
    lines: Vec<LineState>,
    projects: Projects,
    account_index: AccountIndex,
    accounts: Vec<Account>,
    doc_numbers: DocNumbers,
    doc_prefixes: Prefixes,
    refunded_originals: HashSet<String>,
    remembered: HashMap<String, Remembered>,
    unmatched: Vec<UnmatchedRow>,
    /// The last voucher pushed (its number's buffer reused: no allocation
    /// per voucher).
    last_voucher: Option<(NaiveDate, String)>,
    /// Where the voucher being matched goes; reused from voucher to voucher.
    placement: Placement,
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
    pub fn new(
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
        let (projects, account_index, mut accounts) = group_accounts(&mut states);
        let (doc_numbers, doc_prefixes) = index_doc_numbers(&mut accounts, &states);
        Reconciler {
            params,
            lines: states,
            projects,
            account_index,
            accounts,
            doc_numbers,
            doc_prefixes,
            refunded_originals,
            remembered: HashMap::new(),
            unmatched: Vec::new(),
            last_voucher: None,
            placement: Vec::new(),
            failed,
        }
    }

    /// The account of (fiscal year, region, project), if any line-year is in it.
    fn account_of(
        &self,
        fiscal_year: FiscalYear,
        region: RegionCode,
        project: &ProjectCode,
    ) -> Option<usize> {
        let project = *self.projects.get(project)?;
        self.account_index
            .get(&(fiscal_year, region.as_u32(), project))
            .copied()
    }

    /// The line of `doc_no` in account `a`, if any.
    fn line_of_doc_no(&self, a: usize, doc_no: &DocNo) -> Option<usize> {
        let prefix = *self.doc_prefixes.get(doc_no.prefix())?;
        let key = (
            u32::try_from(a).ok()?,
            doc_no.year(),
            doc_no.number(),
            prefix,
        );
        self.doc_numbers.get(&key).copied()
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
    pub fn push(&mut self, voucher: VoucherIn) -> Result<(), ReconcileError> {
        self.push_ref(&voucher)
    }

    /// [`Reconciler::push`] of a borrowed voucher: the caller may reuse one
    /// `VoucherIn` (and its strings' buffers) for every row it reads.
    pub fn push_ref(&mut self, voucher: &VoucherIn) -> Result<(), ReconcileError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        self.check_order(voucher)?;
        if voucher.paid_on > self.params.as_of {
            return Ok(());
        }
        let outcome = if voucher.amount.is_negative() {
            self.apply_refund(voucher)?
        } else {
            self.apply_payment(voucher)?
        };
        let remember = !self.refunded_originals.is_empty()
            && self.refunded_originals.contains(&voucher.voucher_no);
        let outcome = match outcome {
            Ok(()) if remember => Remembered::Matched(self.placement.clone()),
            Ok(()) => return Ok(()),
            Err(reason) => {
                self.unmatched.push(unmatched_row(voucher, reason));
                Remembered::Unmatched(reason)
            }
        };
        if remember {
            self.remembered.insert(voucher.voucher_no.clone(), outcome);
        }
        Ok(())
    }

    /// Rows in SPEC §5.1 order.
    pub fn finish(self) -> Result<Report, ReconcileError> {
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
        match &mut self.last_voucher {
            Some((day, number))
                if (*day, number.as_str()) < (voucher.paid_on, voucher.voucher_no.as_str()) =>
            {
                *day = voucher.paid_on;
                number.clear();
                number.push_str(&voucher.voucher_no);
            }
            Some(_) => {
                return Err(ReconcileError::VouchersOutOfOrder {
                    voucher_no: voucher.voucher_no.clone(),
                })
            }
            None => self.last_voucher = Some((voucher.paid_on, voucher.voucher_no.clone())),
        }
        Ok(())
    }

    /// Match a payment (amount >= 0) and post it; where it went is left in
    /// `self.placement`.
    fn apply_payment(
        &mut self,
        voucher: &VoucherIn,
    ) -> Result<Result<(), UnmatchedReason>, ReconcileError> {
        self.placement.clear();
        let account = self.account_of(voucher.fiscal_year, voucher.region, &voucher.project);
        match &voucher.doc_no {
            Some(doc_no) => {
                let line = account.and_then(|a| self.line_of_doc_no(a, doc_no));
                match line {
                    Some(index) => self.placement.push((index, voucher.amount)),
                    None => return Ok(Err(UnmatchedReason::NoLineForDocNo)),
                }
            }
            None => {
                let filled = match account {
                    Some(a) => self.fill_candidates(a, voucher)?,
                    None => false,
                };
                if !filled {
                    return Ok(Err(UnmatchedReason::NoCandidateLine));
                }
            }
        }
        let placement = std::mem::take(&mut self.placement);
        let posted = self.post_all(voucher.paid_on, &placement);
        self.placement = placement;
        posted?;
        Ok(Ok(()))
    }

    /// The §5.1 split of a voucher without doc_no into `self.placement`;
    /// false when the account has no candidate.
    fn fill_candidates(
        &mut self,
        account: usize,
        voucher: &VoucherIn,
    ) -> Result<bool, ReconcileError> {
        let lines = &self.lines;
        let account = &mut self.accounts[account];
        let live = account
            .candidates
            .partition_point(|&(doc_date, _)| doc_date <= voucher.paid_on);
        let Some((&(_, last), earlier)) = account.candidates[..live].split_last() else {
            return Ok(false);
        };
        // The lines before `no_room` would take nothing.
        let mut remaining = voucher.amount;
        for &(_, index) in earlier.iter().skip(account.no_room) {
            if !remaining.is_positive() {
                break;
            }
            let take = remaining.min(lines[index].room()?);
            if take.is_positive() {
                self.placement.push((index, take));
                remaining = remaining.checked_sub(take)?;
            }
        }
        // A zero voucher still names the line it matched, so a refund that
        // names it has somewhere to go.
        if remaining.is_positive() || self.placement.is_empty() {
            self.placement.push((last, remaining));
        }
        Ok(true)
    }

    /// Moves the account's `no_room` past the lines a fill has filled.
    fn skip_lines_without_room(&mut self, account: usize) -> Result<(), ReconcileError> {
        let account = &mut self.accounts[account];
        while let Some(&(_, index)) = account.candidates.get(account.no_room) {
            if self.lines[index].room()?.is_positive() {
                break;
            }
            account.no_room += 1;
        }
        Ok(())
    }

    /// Take a refund back from where its original went.
    fn apply_refund(
        &mut self,
        voucher: &VoucherIn,
    ) -> Result<Result<(), UnmatchedReason>, ReconcileError> {
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
        self.placement = refund_placement;
        Ok(Ok(()))
    }

    fn post_all(&mut self, day: NaiveDate, placement: &Placement) -> Result<(), ReconcileError> {
        // A zero amount changes nothing, so it leaves no day on the timeline.
        for &(index, amount) in placement.iter().filter(|(_, a)| !a.is_zero()) {
            self.lines[index].post(day, amount)?;
            let account = self.lines[index].account;
            if amount.is_negative() {
                // A refund gives the line room again.
                self.accounts[account].no_room = 0;
            }
            self.skip_lines_without_room(account)?;
        }
        Ok(())
    }
}

/// Which account each line-year is in: the interned projects, the accounts
/// by (fiscal year, region, project), and each account's lines (unsorted).
fn group_accounts(states: &mut [LineState]) -> (Projects, AccountIndex, Vec<Account>) {
    let mut projects = Projects::new();
    let mut account_index = AccountIndex::default();
    let mut accounts: Vec<Account> = Vec::new();
    for (index, state) in states.iter_mut().enumerate() {
        let key = &state.line.key;
        let project = match projects.get(&key.project) {
            Some(&project) => project,
            None => {
                let next = ProjectIndex::try_from(projects.len()).expect("projects fit in u32");
                projects.insert(key.project.clone(), next);
                next
            }
        };
        let account = *account_index
            .entry((state.line.fiscal_year, key.region.as_u32(), project))
            .or_insert_with(|| {
                accounts.push(Account {
                    candidates: Vec::new(),
                    no_room: 0,
                });
                accounts.len() - 1
            });
        accounts[account]
            .candidates
            .push((state.line.doc_date, index));
        state.account = account;
    }
    (projects, account_index, accounts)
}

/// Sorts each account's candidates (§5.1 order) and indexes every line-year
/// by (account, doc year, doc number, doc prefix).
///
/// Panics if two line-years share (fiscal year, doc_no, region, project).
fn index_doc_numbers(accounts: &mut [Account], states: &[LineState]) -> (DocNumbers, Prefixes) {
    let mut doc_numbers = DocNumbers::default();
    let mut prefixes = Prefixes::default();
    for account in accounts.iter_mut() {
        account
            .candidates
            .sort_by(|x, y| states[x.1].doc_order().cmp(&states[y.1].doc_order()));
    }
    for (index, state) in states.iter().enumerate() {
        let line = &state.line;
        let doc_no = &line.key.doc_no;
        let prefix = match prefixes.get(doc_no.prefix()) {
            Some(&prefix) => prefix,
            None => {
                let next = PrefixIndex::try_from(prefixes.len()).expect("prefixes fit in u32");
                prefixes.insert(doc_no.prefix().to_string(), next);
                next
            }
        };
        let a = u32::try_from(state.account).expect("accounts fit in u32");
        let key = (a, doc_no.year(), doc_no.number(), prefix);
        assert!(
            doc_numbers.insert(key, index).is_none(),
            "line-year {} of {} given twice",
            line.key,
            line.fiscal_year
        );
    }
    (doc_numbers, prefixes)
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

/// Convenience: sorts and runs.
pub fn reconcile(
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
