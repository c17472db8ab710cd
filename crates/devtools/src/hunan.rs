//! The Hunan 2020 demo as an in-memory model: the two indicator documents
//! (湘财社指〔2020〕36号 and 37号, 51,660,000.00 yuan together), the vouchers
//! that pay them during 2020, and the outcome each line should have at year
//! end. The files, README and expected summary are all written from this one
//! model, so they cannot disagree with each other.

use crate::prng::SplitMix64;
use crate::reference::{catalog, hunan_prefectures_2020, Prefecture, Project};
use chrono::{Datelike, Duration, NaiveDate};
use fundledger_core::{DocNo, Fen, RegionCode};

/// 5166 万元: what Hunan passed down to cities and counties in 2020.
pub const TOTAL_FEN: Fen = Fen::new(5_166_000_000);
/// SPEC §1: 30 days from the document date (Budget Law Art. 52).
pub const DEADLINE_DAYS: i64 = 30;

pub fn ymd(year: i32, month: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(year, month, day).expect("valid fixture date")
}

pub fn as_of() -> NaiveDate {
    ymd(2020, 12, 31)
}

/// The two indicator documents of 2020.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Doc {
    /// Wide attachment table in 万元, the large recurring items.
    No36,
    /// Long form in yuan, the smaller projects.
    No37,
}

impl Doc {
    pub const ALL: [Doc; 2] = [Doc::No36, Doc::No37];

    pub fn doc_no(self) -> DocNo {
        let text = match self {
            Doc::No36 => "湘财社指〔2020〕36号",
            Doc::No37 => "湘财社指〔2020〕37号",
        };
        DocNo::parse(text).expect("fixture document number is canonical")
    }
    pub fn date(self) -> NaiveDate {
        match self {
            Doc::No36 => ymd(2020, 3, 20),
            Doc::No37 => ymd(2020, 6, 15),
        }
    }
    pub fn due(self) -> NaiveDate {
        self.date() + Duration::days(DEADLINE_DAYS)
    }
}

/// A receiving region: a county, or a prefecture's own level (市本级).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recipient {
    pub code: RegionCode,
    /// The official 2020 name (a 市本级 carries the prefecture's name).
    pub name: String,
    pub prefecture: usize,
    pub own_level: bool,
}

impl Recipient {
    pub fn payee(&self) -> String {
        format!("{}计划生育协会", self.name)
    }
}

/// What happens to a line's money during 2020.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fate {
    OnTime,
    Split,
    DueDay,
    DayAfterDue,
    Late,
    LateSplit,
    Partial,
    Missing,
    Over,
    RefundDuplicate,
    RefundPartial,
}

impl Fate {
    pub fn describe(self) -> &'static str {
        match self {
            Fate::OnTime => "paid in full within 30 days (one voucher)",
            Fate::Split => "paid in full within 30 days (two vouchers)",
            Fate::DueDay => "paid in full exactly on the due date",
            Fate::DayAfterDue => "paid in full one day after the due date",
            Fate::Late => "paid in full after the due date",
            Fate::LateSplit => "part paid on time, the rest after the due date",
            Fate::Partial => "part paid on time, the rest never",
            Fate::Missing => "never paid",
            Fate::Over => "paid 5,000.00 more than allocated",
            Fate::RefundDuplicate => "paid twice by mistake, the duplicate refunded",
            Fate::RefundPartial => "paid in full, then 20% refunded as unspent",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Line {
    pub doc: Doc,
    pub recipient: usize,
    pub project: usize,
    pub amount: Fen,
    pub fate: Fate,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Voucher {
    pub no: String,
    pub paid_on: NaiveDate,
    pub recipient: usize,
    pub project: usize,
    /// The document the voucher names (None: matched by region and project).
    pub doc_no: Option<DocNo>,
    /// The line it pays (None: deliberately unmatched).
    pub line: Option<usize>,
    pub amount: Fen,
    pub original_voucher_no: Option<String>,
    pub memo: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Settled,
    Late,
    Over,
    Open,
    Overdue,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Settled => "settled",
            Status::Late => "late",
            Status::Over => "over",
            Status::Open => "open",
            Status::Overdue => "overdue",
        }
    }
}

/// A line's position at a reconciliation date, by SPEC §5.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LineOutcome {
    pub disbursed: Fen,
    pub status: Status,
    pub settled_on: Option<NaiveDate>,
}

/// A project column of the 36号 wide table: catalog code and header text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WideColumn {
    pub project: usize,
    pub header: &'static str,
}

#[derive(Clone, Debug)]
pub struct Model {
    pub prefectures: Vec<Prefecture>,
    pub catalog: Vec<Project>,
    pub recipients: Vec<Recipient>,
    pub lines: Vec<Line>,
    pub vouchers: Vec<Voucher>,
    pub wide_columns: Vec<WideColumn>,
    /// (recipient, project) written as an explicit `0.00` in the wide table.
    pub zero_cell: (usize, usize),
    pub unmatched_doc_no: DocNo,
}

/// How a project's money is spread: total, step, and who receives it.
struct Plan {
    code: &'static str,
    total_yuan: i64,
    granularity_fen: i64,
    recipients: Vec<usize>,
    equal_shares: bool,
}

impl Model {
    pub fn build() -> Model {
        let prefectures = hunan_prefectures_2020();
        let catalog = catalog();
        let recipients = recipients_of(&prefectures);
        let wide_columns = wide_columns(&catalog);
        let (mut lines, zero_cell) = allocate(&recipients, &catalog);
        assign_fates(&mut lines);
        let unmatched_doc_no =
            DocNo::parse("湘财社指〔2020〕38号").expect("fixture document number");
        let vouchers = disburse(&lines, &recipients, &catalog, &unmatched_doc_no);
        let model = Model {
            prefectures,
            catalog,
            recipients,
            lines,
            vouchers,
            wide_columns,
            zero_cell,
            unmatched_doc_no,
        };
        model.assert_invariants();
        model
    }

    pub fn project_index(&self, code: &str) -> usize {
        project_index(&self.catalog, code)
    }

    pub fn total_allocated(&self) -> Fen {
        Fen::checked_sum(self.lines.iter().map(|l| l.amount)).expect("total fits")
    }

    pub fn doc_total(&self, doc: Doc) -> Fen {
        Fen::checked_sum(self.lines.iter().filter(|l| l.doc == doc).map(|l| l.amount))
            .expect("total fits")
    }

    pub fn total_disbursed(&self) -> Fen {
        Fen::checked_sum(self.vouchers.iter().map(|v| v.amount)).expect("total fits")
    }

    /// Each line's outcome at `as_of`, computed here from the model alone
    /// (each voucher knows the line it was drafted for), independently of the
    /// product's matching.
    pub fn outcomes(&self, as_of: NaiveDate) -> Vec<LineOutcome> {
        (0..self.lines.len())
            .map(|index| self.outcome(index, as_of))
            .collect()
    }

    fn outcome(&self, index: usize, as_of: NaiveDate) -> LineOutcome {
        let line = &self.lines[index];
        let mut paid: Vec<&Voucher> = self
            .vouchers
            .iter()
            .filter(|v| v.line == Some(index) && v.paid_on <= as_of)
            .collect();
        paid.sort_by(|a, b| (a.paid_on, &a.no).cmp(&(b.paid_on, &b.no)));
        let mut disbursed = Fen::ZERO;
        let mut first_reached: Option<NaiveDate> = None;
        let mut run_start: Option<NaiveDate> = None;
        for (i, voucher) in paid.iter().enumerate() {
            disbursed = disbursed.checked_add(voucher.amount).expect("sum fits");
            let last_of_day = paid.get(i + 1).is_none_or(|n| n.paid_on != voucher.paid_on);
            if !last_of_day {
                continue;
            }
            if disbursed >= line.amount {
                first_reached.get_or_insert(voucher.paid_on);
                run_start.get_or_insert(voucher.paid_on);
            } else {
                run_start = None;
            }
        }
        let due = line.doc.due();
        let status = match disbursed.cmp(&line.amount) {
            std::cmp::Ordering::Greater => Status::Over,
            std::cmp::Ordering::Equal if first_reached.is_some_and(|d| d <= due) => Status::Settled,
            std::cmp::Ordering::Equal => Status::Late,
            std::cmp::Ordering::Less if as_of <= due => Status::Open,
            std::cmp::Ordering::Less => Status::Overdue,
        };
        LineOutcome {
            disbursed,
            status,
            settled_on: run_start,
        }
    }

    fn assert_invariants(&self) {
        assert_eq!(self.total_allocated(), TOTAL_FEN, "36号 + 37号 = 5166 万元");
        assert!(self.lines.iter().all(|l| l.amount.is_positive()));
        for doc in Doc::ALL {
            let mut keys: Vec<(RegionCode, usize)> = self
                .lines
                .iter()
                .filter(|l| l.doc == doc)
                .map(|l| (self.recipients[l.recipient].code, l.project))
                .collect();
            let count = keys.len();
            keys.sort();
            keys.dedup();
            assert_eq!(keys.len(), count, "duplicate line in {doc:?}");
        }
        // (region, project) is unique across both documents, so a voucher
        // without doc_no has exactly one candidate line.
        let mut pairs: Vec<(usize, usize)> = self
            .lines
            .iter()
            .map(|l| (l.recipient, l.project))
            .collect();
        pairs.sort();
        pairs.dedup();
        assert_eq!(pairs.len(), self.lines.len());
        for line in self.lines.iter().filter(|l| l.doc == Doc::No36) {
            assert_eq!(
                line.amount.as_i64() % 10_000,
                0,
                "36号 is in whole hundreds of yuan"
            );
        }
        let mut numbers: Vec<&str> = self.vouchers.iter().map(|v| v.no.as_str()).collect();
        numbers.sort();
        numbers.dedup();
        assert_eq!(numbers.len(), self.vouchers.len(), "voucher numbers unique");
        assert!(self.vouchers.iter().all(|v| v.paid_on.year() == 2020));
        assert!(self.total_disbursed() <= self.total_allocated());
        for voucher in &self.vouchers {
            if let Some(line) = voucher.line {
                assert!(voucher.paid_on > self.lines[line].doc.date());
            }
        }
    }
}

pub fn project_index(catalog: &[Project], code: &str) -> usize {
    catalog
        .iter()
        .position(|p| p.code.as_str() == code)
        .unwrap_or_else(|| panic!("{code} is in the catalog"))
}

fn recipients_of(prefectures: &[Prefecture]) -> Vec<Recipient> {
    let mut recipients = Vec::new();
    for (index, prefecture) in prefectures.iter().enumerate() {
        recipients.push(Recipient {
            code: prefecture.code,
            name: prefecture.name.clone(),
            prefecture: index,
            own_level: true,
        });
        for county in &prefecture.counties {
            recipients.push(Recipient {
                code: county.code,
                name: county.name.clone(),
                prefecture: index,
                own_level: false,
            });
        }
    }
    recipients
}

fn wide_columns(catalog: &[Project]) -> Vec<WideColumn> {
    // Catalog names for two columns, aliases for the other two, as the
    // attachment tables of the real documents mix them.
    [
        ("JS01", "计生家庭系列保险"),
        ("JS02", "三结合"),
        ("JS03", "贷款贴息"),
        ("JS12", "基层计生协能力建设"),
    ]
    .into_iter()
    .map(|(code, header)| WideColumn {
        project: project_index(catalog, code),
        header,
    })
    .collect()
}

/// Splits `total` into shares proportional to `weights`, each a multiple of
/// `granularity_fen`; the remainder goes one step at a time to the first.
pub fn distribute(total: Fen, weights: &[u64], granularity_fen: i64) -> Vec<Fen> {
    assert!(granularity_fen > 0 && total.as_i64() % granularity_fen == 0);
    let steps = u128::try_from(total.as_i64() / granularity_fen).expect("positive total");
    let weight_sum: u128 = weights.iter().map(|&w| u128::from(w)).sum();
    assert!(weight_sum > 0, "weights sum to zero");
    let mut shares: Vec<u128> = weights
        .iter()
        .map(|&w| steps * u128::from(w) / weight_sum)
        .collect();
    let remainder = steps - shares.iter().sum::<u128>();
    let count = u128::try_from(shares.len()).expect("len fits");
    for (i, share) in shares.iter_mut().enumerate() {
        let i = u128::try_from(i).expect("index fits");
        *share += remainder / count + u128::from(i < remainder % count);
    }
    let result: Vec<Fen> = shares
        .into_iter()
        .map(|s| Fen::new(i64::try_from(s).expect("share fits") * granularity_fen))
        .collect();
    assert_eq!(Fen::checked_sum(result.iter().copied()), Ok(total));
    assert!(
        result.iter().all(|f| f.is_positive()),
        "every share positive"
    );
    result
}

fn allocate(recipients: &[Recipient], catalog: &[Project]) -> (Vec<Line>, (usize, usize)) {
    let counties: Vec<usize> = (0..recipients.len())
        .filter(|&i| !recipients[i].own_level)
        .collect();
    let own_levels: Vec<usize> = (0..recipients.len())
        .filter(|&i| recipients[i].own_level)
        .collect();
    let mut rng = SplitMix64::new(2_020_036);
    let loans: Vec<usize> = counties
        .iter()
        .copied()
        .filter(|_| rng.below(5) != 0)
        .collect();
    let zero_county = *counties
        .iter()
        .find(|c| !loans.contains(c))
        .expect("some county has no loan subsidy");
    let capacity: Vec<usize> = own_levels
        .iter()
        .copied()
        .chain(counties.iter().copied().filter(|_| rng.below(3) == 0))
        .collect();
    let plans_36 = vec![
        plan("JS01", 16_800_000, 10_000, counties.clone()),
        plan("JS02", 9_360_000, 10_000, (0..recipients.len()).collect()),
        plan("JS03", 9_500_000, 10_000, loans),
        plan("JS12", 6_000_000, 10_000, capacity),
    ];
    let mut lines = lines_from_plans(Doc::No36, plans_36, catalog, &mut rng);

    let mut rng = SplitMix64::new(2_020_037);
    let sites: Vec<usize> = (0..40).map(|i| counties[i * counties.len() / 40]).collect();
    let pick = |count: usize, pool: &[usize], rng: &mut SplitMix64| -> Vec<usize> {
        rng.choose_indices(pool.len(), count)
            .into_iter()
            .map(|i| pool[i])
            .collect()
    };
    let districts: Vec<usize> = counties
        .iter()
        .copied()
        .filter(|&c| recipients[c].name.ends_with('区'))
        .collect();
    let rural: Vec<usize> = counties
        .iter()
        .copied()
        .filter(|&c| recipients[c].name.ends_with('县'))
        .collect();
    let plans_37 = vec![
        Plan {
            equal_shares: true,
            ..plan("JS08", 4_000_000, 100, sites)
        },
        plan("JS04", 1_500_000, 50, pick(30, &counties, &mut rng)),
        plan("JS05", 1_800_000, 100_000, pick(60, &counties, &mut rng)),
        plan("JS06", 600_000, 10_000, own_levels.clone()),
        plan("JS07", 500_000, 10_000, pick(20, &counties, &mut rng)),
        plan("JS09", 400_000, 10_000, pick(16, &counties, &mut rng)),
        plan("JS10", 450_000, 1_000, districts),
        plan("JS11", 750_000, 10_000, pick(30, &rural, &mut rng)),
    ];
    lines.extend(lines_from_plans(Doc::No37, plans_37, catalog, &mut rng));
    lines.sort_by_key(|l| (l.doc, recipients[l.recipient].code, l.project));
    (lines, (zero_county, project_index(catalog, "JS03")))
}

fn plan(code: &'static str, total_yuan: i64, granularity_fen: i64, recipients: Vec<usize>) -> Plan {
    Plan {
        code,
        total_yuan,
        granularity_fen,
        recipients,
        equal_shares: false,
    }
}

fn lines_from_plans(
    doc: Doc,
    plans: Vec<Plan>,
    catalog: &[Project],
    rng: &mut SplitMix64,
) -> Vec<Line> {
    let mut lines = Vec::new();
    for plan in plans {
        let weights: Vec<u64> = plan
            .recipients
            .iter()
            .map(|_| {
                if plan.equal_shares {
                    1
                } else {
                    60 + rng.below(81)
                }
            })
            .collect();
        let total = Fen::new(plan.total_yuan * 100);
        let shares = distribute(total, &weights, plan.granularity_fen);
        let project = project_index(catalog, plan.code);
        for (&recipient, amount) in plan.recipients.iter().zip(shares) {
            lines.push(Line {
                doc,
                recipient,
                project,
                amount,
                fate: Fate::OnTime,
            });
        }
    }
    lines
}

fn assign_fates(lines: &mut [Line]) {
    let mut rng = SplitMix64::new(20_201_231);
    for line in lines.iter_mut() {
        line.fate = match rng.below(100) {
            0..=3 => Fate::Missing,
            4..=8 => Fate::Partial,
            9..=12 => Fate::Late,
            13..=15 => Fate::LateSplit,
            16..=33 => Fate::Split,
            _ => Fate::OnTime,
        };
    }
    let specials = [
        (Doc::No36, Fate::DueDay),
        (Doc::No36, Fate::DayAfterDue),
        (Doc::No36, Fate::Over),
        (Doc::No36, Fate::RefundDuplicate),
        (Doc::No37, Fate::RefundPartial),
    ];
    for (doc, fate) in specials {
        let candidates: Vec<usize> = (0..lines.len())
            .filter(|&i| lines[i].doc == doc && lines[i].fate == Fate::OnTime)
            .collect();
        let chosen =
            candidates[usize::try_from(rng.below(candidates.len() as u64)).expect("index fits")];
        lines[chosen].fate = fate;
    }
}

/// A voucher before it has a number: refunds point at a draft index.
struct Draft {
    paid_on: NaiveDate,
    line: Option<usize>,
    recipient: usize,
    project: usize,
    amount: Fen,
    memo: String,
    refund_of: Option<usize>,
}

/// `percent` of `amount`, rounded down to whole yuan.
fn share_whole_yuan(amount: Fen, percent: i64) -> Fen {
    let share = Fen::new(amount.as_i64() * percent / 100 / 100 * 100);
    assert!(share.is_positive() && share < amount);
    share
}

fn disburse(
    lines: &[Line],
    recipients: &[Recipient],
    catalog: &[Project],
    unmatched_doc_no: &DocNo,
) -> Vec<Voucher> {
    let mut rng = SplitMix64::new(20_200_403);
    let mut drafts: Vec<Draft> = Vec::new();
    let mut late_counter = 0usize;
    for (index, line) in lines.iter().enumerate() {
        let mut late_date = |rng: &mut SplitMix64| {
            let months: &[u32] = match line.doc {
                Doc::No36 => &[5, 6, 7, 8, 9, 10, 11, 12],
                Doc::No37 => &[8, 9, 10, 11, 12],
            };
            let month = months[late_counter % months.len()];
            late_counter += 1;
            let day = u32::try_from(rng.between(1, 28)).expect("day fits");
            ymd(2020, month, day)
        };
        let planned = plan_payments(line, &mut rng, &mut late_date);
        let first = drafts.len();
        for (paid_on, amount, memo, refund_of) in planned {
            drafts.push(Draft {
                paid_on,
                line: Some(index),
                recipient: line.recipient,
                project: line.project,
                amount,
                memo: memo.unwrap_or_else(|| format!("{}补助资金", catalog[line.project].name)),
                refund_of: refund_of.map(|local| first + local),
            });
        }
    }
    let js01 = project_index(catalog, "JS01");
    let counties: Vec<usize> = (0..recipients.len())
        .filter(|&i| !recipients[i].own_level)
        .collect();
    let county = counties[usize::try_from(rng.below(counties.len() as u64)).expect("fits")];
    drafts.push(Draft {
        paid_on: ymd(2020, 8, u32::try_from(rng.between(3, 27)).expect("fits")),
        line: None,
        recipient: county,
        project: js01,
        amount: Fen::new(3_000_000),
        memo: format!("{}补助资金", catalog[js01].name),
        refund_of: None,
    });
    number_vouchers(drafts, lines, recipients, unmatched_doc_no, &mut rng)
}

type Payment = (NaiveDate, Fen, Option<String>, Option<usize>);

fn plan_payments(
    line: &Line,
    rng: &mut SplitMix64,
    late_date: &mut dyn FnMut(&mut SplitMix64) -> NaiveDate,
) -> Vec<Payment> {
    let day = |offset: i64| line.doc.date() + Duration::days(offset);
    let full = line.amount;
    match line.fate {
        Fate::OnTime => vec![(day(rng.between(2, 29)), full, None, None)],
        Fate::Split => {
            let first_day = rng.between(2, 15);
            let second_day = rng.between(first_day + 1, 29);
            let first = share_whole_yuan(full, rng.between(30, 70));
            let rest = full.checked_sub(first).expect("fits");
            vec![
                (day(first_day), first, None, None),
                (day(second_day), rest, None, None),
            ]
        }
        Fate::DueDay => vec![(line.doc.due(), full, None, None)],
        Fate::DayAfterDue => vec![(line.doc.due() + Duration::days(1), full, None, None)],
        Fate::Late => vec![(late_date(rng), full, None, None)],
        Fate::LateSplit => {
            let first = share_whole_yuan(full, 50);
            let rest = full.checked_sub(first).expect("fits");
            vec![
                (day(rng.between(2, 20)), first, None, None),
                (late_date(rng), rest, None, None),
            ]
        }
        Fate::Partial => {
            let part = share_whole_yuan(full, rng.between(40, 80));
            vec![(day(rng.between(2, 29)), part, None, None)]
        }
        Fate::Missing => Vec::new(),
        Fate::Over => {
            let over = full.checked_add(Fen::new(500_000)).expect("fits");
            vec![(day(rng.between(2, 29)), over, None, None)]
        }
        Fate::RefundDuplicate => {
            let refund_day = u32::try_from(rng.between(1, 28)).expect("fits");
            vec![
                (day(5), full, None, None),
                (day(9), full, Some("重复拨付".to_string()), None),
                (
                    ymd(2020, 9, refund_day),
                    full.checked_neg().expect("fits"),
                    Some("退回重复拨付".to_string()),
                    Some(1),
                ),
            ]
        }
        Fate::RefundPartial => {
            let refund = share_whole_yuan(full, 20);
            let refund_day = u32::try_from(rng.between(1, 28)).expect("fits");
            vec![
                (day(rng.between(2, 20)), full, None, None),
                (
                    ymd(2020, 10, refund_day),
                    refund.checked_neg().expect("fits"),
                    Some("结余资金退回".to_string()),
                    Some(0),
                ),
            ]
        }
    }
}

fn number_vouchers(
    drafts: Vec<Draft>,
    lines: &[Line],
    recipients: &[Recipient],
    unmatched_doc_no: &DocNo,
    rng: &mut SplitMix64,
) -> Vec<Voucher> {
    let mut order: Vec<usize> = (0..drafts.len()).collect();
    // Stable: remaining ties keep draft order, itself deterministic.
    order.sort_by_key(|&i| {
        let d = &drafts[i];
        (d.paid_on, recipients[d.recipient].code, d.project)
    });
    let mut numbers = vec![String::new(); drafts.len()];
    let mut previous: Option<NaiveDate> = None;
    let mut sequence = 0u32;
    for &i in &order {
        let date = drafts[i].paid_on;
        sequence = if previous == Some(date) {
            sequence + 1
        } else {
            1
        };
        previous = Some(date);
        numbers[i] = format!("HN{}{sequence:03}", date.format("%Y%m%d"));
    }
    order
        .into_iter()
        .map(|i| {
            let draft = &drafts[i];
            let doc_no = match draft.line {
                None => Some(unmatched_doc_no.clone()),
                // June's file has no doc_no column at all.
                Some(_) if draft.paid_on.month() == 6 => None,
                Some(_) if rng.below(4) == 0 => None,
                Some(line) => Some(lines[line].doc.doc_no()),
            };
            Voucher {
                no: numbers[i].clone(),
                paid_on: draft.paid_on,
                recipient: draft.recipient,
                project: draft.project,
                doc_no,
                line: draft.line,
                amount: draft.amount,
                original_voucher_no: draft.refund_of.map(|o| numbers[o].clone()),
                memo: draft.memo.clone(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distribute_is_exact_and_positive() {
        let shares = distribute(Fen::new(1_000_000), &[1, 2, 3, 4], 100);
        assert_eq!(
            Fen::checked_sum(shares.iter().copied()),
            Ok(Fen::new(1_000_000))
        );
        assert!(shares.iter().all(|s| s.as_i64() % 100 == 0));
        let equal = distribute(Fen::new(400_000_000), &[1; 40], 100);
        assert!(equal.iter().all(|&s| s == Fen::new(10_000_000)));
    }

    #[test]
    fn model_totals_are_exact() {
        let model = Model::build();
        assert_eq!(model.total_allocated(), Fen::new(5_166_000_000));
        assert_eq!(model.doc_total(Doc::No36), Fen::new(4_166_000_000));
        assert_eq!(model.doc_total(Doc::No37), Fen::new(1_000_000_000));
    }

    #[test]
    fn every_prefecture_and_county_receives_money() {
        let model = Model::build();
        assert_eq!(model.recipients.len(), 14 + 122);
        for (index, recipient) in model.recipients.iter().enumerate() {
            assert!(
                model.lines.iter().any(|l| l.recipient == index),
                "{} {} has no line",
                recipient.code,
                recipient.name
            );
        }
    }

    #[test]
    fn refunds_name_an_earlier_voucher_of_the_same_region_and_project() {
        let model = Model::build();
        let refunds: Vec<&Voucher> = model
            .vouchers
            .iter()
            .filter(|v| v.amount.is_negative())
            .collect();
        assert_eq!(refunds.len(), 2);
        for refund in refunds {
            let original_no = refund.original_voucher_no.as_ref().unwrap();
            let original = model
                .vouchers
                .iter()
                .find(|v| &v.no == original_no)
                .unwrap();
            assert!(original.paid_on < refund.paid_on);
            assert_eq!(
                (original.recipient, original.project),
                (refund.recipient, refund.project)
            );
        }
    }

    #[test]
    fn every_exception_is_present() {
        let model = Model::build();
        let outcomes = model.outcomes(as_of());
        for status in [Status::Settled, Status::Late, Status::Over, Status::Overdue] {
            assert!(outcomes.iter().any(|o| o.status == status), "{status:?}");
        }
        assert_eq!(
            outcomes.iter().filter(|o| o.status == Status::Over).count(),
            1
        );
        assert_eq!(
            model.vouchers.iter().filter(|v| v.line.is_none()).count(),
            1
        );
        for month in 3..=12 {
            assert!(
                model.vouchers.iter().any(|v| v.paid_on.month() == month),
                "month {month}"
            );
        }
    }

    #[test]
    fn outcome_follows_spec_rules() {
        let model = Model::build();
        let outcomes = model.outcomes(as_of());
        for (line, outcome) in model.lines.iter().zip(&outcomes) {
            let expected = match line.fate {
                Fate::OnTime | Fate::Split | Fate::DueDay | Fate::RefundDuplicate => {
                    Status::Settled
                }
                Fate::DayAfterDue | Fate::Late | Fate::LateSplit => Status::Late,
                Fate::Partial | Fate::Missing | Fate::RefundPartial => Status::Overdue,
                Fate::Over => Status::Over,
            };
            assert_eq!(outcome.status, expected, "{line:?}");
        }
        // Before any payment of 37号 falls due, its unpaid lines are open.
        let early = model.outcomes(ymd(2020, 6, 16));
        assert!(early
            .iter()
            .zip(&model.lines)
            .any(|(o, l)| l.doc == Doc::No37 && o.status == Status::Open));
    }
}
