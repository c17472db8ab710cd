//! `verify`: recompute the hash chain and every invariant from the stored rows.

use crate::ledger::DOMAIN_TABLES;
use crate::pages::JournalPage;
use crate::read::JournalEntry;
use crate::seal::{
    batch_content, catalog_lines, catalog_summary, seal_hash, split_content, JournalHead,
    SealFormat, CONTROL_TABLES,
};
use crate::{Result, Store, StoreError};
use chrono::NaiveDate;
use fundledger_core::capped::{Capped, KEPT_PROBLEMS};
use fundledger_core::tx::{
    chain_hash_hex, push_iso_date, write_canonical_content, ChainAt, TxContent, GENESIS_HASH,
};
use fundledger_core::{AccountKind, Fen, MoneyError, TxKind};
use sqlx::AnyConnection;
use std::collections::{BTreeMap, BTreeSet, HashMap};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifyFailure {
    pub entry_no: Option<i64>,
    pub tx_id: Option<String>,
    pub message: String,
}

impl std::fmt::Display for VerifyFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.entry_no, &self.tx_id) {
            (Some(n), Some(id)) if !id.is_empty() => {
                write!(f, "entry {n} ({id}): {}", self.message)
            }
            (Some(n), _) => write!(f, "entry {n}: {}", self.message),
            _ => f.write_str(&self.message),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifyReport {
    pub entries: i64,
    pub postings: i64,
    pub head_hash: String,
    /// Batches (one per command or imported file), each sealed.
    pub batches: i64,
    /// The last seal's hash: with `head_hash`, pins every stored row.
    pub seal_head: String,
    /// The first [`KEPT_PROBLEMS`] failures found, in order.
    pub failures: Vec<VerifyFailure>,
    /// Failures found past those kept: counted, not held in memory.
    pub failures_omitted: u64,
}

impl VerifyReport {
    pub fn ok(&self) -> bool {
        self.failures.is_empty()
    }
}

struct Checker {
    expected_entry: i64,
    prev_hash: String,
    /// Every account some entry posts to.
    accounts: HashMap<String, Posted>,
    carried_out: BTreeMap<i64, Fen>,
    carried_in: BTreeMap<i64, Fen>,
    failures: Capped<VerifyFailure>,
    postings: i64,
    details_refs: HashMap<&'static str, i64>,
    /// The last entry of each batch, for the journal head its seal records.
    batch_last: BTreeMap<i64, JournalHead>,
}

/// What the postings to one account add up to.
#[derive(Default)]
struct Posted {
    balance: Fen,
    /// The last entry that posted to the account, so a balances row that
    /// disagrees with the postings is reported against a concrete entry.
    last_entry_no: i64,
    last_tx_id: String,
}

impl Posted {
    /// Adds one posting; `Err` (the balance unchanged) past `i64` fen.
    fn post(&mut self, e: &JournalEntry, amount: Fen) -> Result<(), MoneyError> {
        self.last_entry_no = e.entry_no;
        // Reuses the held string's buffer: no allocation per posting.
        self.last_tx_id.clone_from(&e.tx_id);
        self.balance = self.balance.checked_add(amount)?;
        Ok(())
    }
}

impl Checker {
    fn fail(&mut self, e: &JournalEntry, message: String) {
        self.failures.push(VerifyFailure {
            entry_no: Some(e.entry_no),
            tx_id: Some(e.tx_id.clone()),
            message,
        });
    }

    /// The ordered, stateful part of checking an entry; what it shows on
    /// its own comes worked out in `verdict`.
    fn check_entry(&mut self, e: &JournalEntry, verdict: &EntryVerdict) {
        if e.entry_no != self.expected_entry {
            let message = if e.entry_no > self.expected_entry {
                format!(
                    "entries {}..{} are missing",
                    self.expected_entry,
                    e.entry_no - 1
                )
            } else {
                "entry number out of sequence".to_string()
            };
            self.fail(e, message);
        }
        self.expected_entry = e.entry_no + 1;
        self.note_batch_head(e);
        if e.prev_hash != self.prev_hash {
            self.fail(
                e,
                "previous-hash link broken: an entry before it was changed, removed or reordered"
                    .into(),
            );
        }
        for message in &verdict.problems {
            self.fail(e, message.clone());
        }
        if let Some((out, into)) = verdict.carried {
            if let Err(err) = self.carry(e, out, into) {
                self.fail(e, format!("{} postings: {err}", TxKind::Carryover.as_str()));
            }
        }
        self.count_details(e);
        self.post(e);
        self.prev_hash.clone_from(&e.hash);
    }

    /// The entry as its batch's last so far (the hash copied into the held
    /// string: no allocation per entry).
    fn note_batch_head(&mut self, e: &JournalEntry) {
        match self.batch_last.get_mut(&e.batch_id) {
            Some(head) => {
                head.0 = e.entry_no;
                head.1.clone_from(&e.hash);
            }
            None => {
                self.batch_last
                    .insert(e.batch_id, (e.entry_no, e.hash.clone()));
            }
        }
    }

    /// Adds the entry's postings to their accounts' balances.
    fn post(&mut self, e: &JournalEntry) {
        for p in &e.postings {
            // Looked up before inserting: the name is copied once per
            // account, not once per posting.
            let posted = match self.accounts.get_mut(p.account.as_str()) {
                Some(account) => account.post(e, p.amount),
                None => {
                    let mut account = Posted::default();
                    let posted = account.post(e, p.amount);
                    self.accounts.insert(p.account.clone(), account);
                    posted
                }
            };
            // Only tampered amounts get here: report, never panic.
            if posted.is_err() {
                let message = format!("balance of {} overflows i64 fen", p.account);
                self.fail(e, message);
            }
            self.postings += 1;
        }
    }

    /// Adds a carryover to the years' totals: past `i64` it is a failure,
    /// never a wrap.
    fn carry(&mut self, e: &JournalEntry, out: Fen, into: Fen) -> Result<(), MoneyError> {
        let year = e.fiscal_year.unwrap_or(0);
        let carried_out = self.carried_out.entry(year).or_default();
        *carried_out = carried_out.checked_add(out)?;
        let carried_in = self.carried_in.entry(year.saturating_add(1)).or_default();
        *carried_in = carried_in.checked_add(into)?;
        Ok(())
    }

    /// Counts the record row an entry's details name, whether or not the
    /// entry itself is intact: a broken entry still owns its row.
    fn count_details(&mut self, e: &JournalEntry) {
        if let Some(table) = details_table(e) {
            match DOMAIN_TABLES.iter().find(|t| t.name == table) {
                Some(t) => *self.details_refs.entry(t.name).or_insert(0) += 1,
                None => self.fail(e, format!("details name an unknown record table `{table}`")),
            }
        }
    }
}

/// What an entry shows on its own, whatever came before it: worked out
/// for a whole page on a thread of its own (pages.rs), so that the checker
/// keeps only the ordered, stateful part.
#[derive(Default)]
pub(crate) struct EntryVerdict {
    /// Failure messages, in the order the checker reports them.
    problems: Vec<String>,
    /// A carryover's (out, into), for the per-year totals.
    carried: Option<(Fen, Fen)>,
}

/// The verdict on each entry of a page, in order.
pub(crate) fn entry_verdicts(entries: &[JournalEntry]) -> Vec<EntryVerdict> {
    let mut canonical = Vec::with_capacity(1024);
    entries.iter().map(|e| verdict(e, &mut canonical)).collect()
}

/// Checks the entry's text is canonical and recomputes its hash from its
/// stored `prev_hash` (whether that links to the entry before is the
/// checker's part), then the invariants of its kind. The entry's content is
/// borrowed where it needs nothing rebuilt (nearly always); otherwise the
/// transaction is rebuilt, which gives the same content or says why not.
fn verdict(e: &JournalEntry, canonical: &mut Vec<u8>) -> EntryVerdict {
    let mut v = EntryVerdict::default();
    let rebuilt;
    let content = match e.content() {
        Some(content) => content,
        None => match e.to_transaction() {
            Ok(tx) => {
                rebuilt = tx;
                rebuilt.content()
            }
            // read.rs stands in an entry for postings whose journal row is gone.
            Err(_) if e.kind == "(missing)" && e.tx_id.is_empty() => {
                v.problems
                    .push("journal row is missing but its postings remain".into());
                return v;
            }
            Err(err) => {
                v.problems.push(format!("invalid transaction: {err}"));
                return v;
            }
        },
    };
    if let Some(what) = non_canonical(e, &content, canonical) {
        v.problems
            .push(format!("journal text is not in canonical form: {what}"));
    }
    let at = ChainAt {
        entry_no: e.entry_no,
        batch_id: e.batch_id,
        recorded_at: &e.recorded_at,
    };
    write_canonical_content(&content, &at, canonical);
    let computed = chain_hash_hex(&e.prev_hash, canonical);
    if computed.as_str() != e.hash {
        v.problems.push(format!(
            "hash mismatch: stored {}, content hashes to {}",
            short(&e.hash),
            computed.as_str()
        ));
    }
    kind_invariants(&content, &mut v);
    v
}

/// Carryover: out of Y equals into Y+1. Recovery: what leaves the
/// allocation is what returns to a pool. Stored amounts are untrusted, so
/// every sum is checked: past `i64` it is a failure, never a wrap.
fn kind_invariants(tx: &TxContent<'_>, v: &mut EntryVerdict) {
    let sum_kind = |kind: AccountKind| {
        Fen::checked_sum(
            tx.postings
                .iter()
                .filter(|(account, _)| AccountKind::of(account) == kind)
                .map(|(_, amount)| amount),
        )
    };
    let checked = match tx.kind {
        TxKind::Carryover => sum_kind(AccountKind::CarriedOut)
            .and_then(|out| Ok((out, sum_kind(AccountKind::CarriedIn)?.checked_neg()?)))
            .map(|(out, into)| {
                check_carryover(out, into, v);
                v.carried = Some((out, into));
            }),
        TxKind::Recovery => sum_kind(AccountKind::PoolRecovered)
            .and_then(|back| Ok((back, sum_kind(AccountKind::Allocated)?.checked_neg()?)))
            .map(|(back, released)| check_recovery(back, released, v)),
        _ => Ok(()),
    };
    if let Err(err) = checked {
        v.problems
            .push(format!("{} postings: {err}", tx.kind.as_str()));
    }
}

fn check_carryover(out: Fen, into: Fen, v: &mut EntryVerdict) {
    if out != into || out.is_zero() {
        v.problems.push(format!(
            "carryover out {} fen does not equal carryover in {} fen",
            out.as_i64(),
            into.as_i64()
        ));
    }
}

fn check_recovery(recovered: Fen, released: Fen, v: &mut EntryVerdict) {
    if !recovered.is_positive() || recovered != released {
        v.problems.push(format!(
            "recovery of {} fen from allocations put {} fen back in the pool",
            released.as_i64(),
            recovered.as_i64()
        ));
    }
}

/// What of a stored entry differs from the canonical text its hash was
/// computed over. The hash sees re-rendered values (a parsed date, a
/// description with line breaks made spaces, NULL and '' both as empty,
/// postings in order without their numbers), so two stored texts could hash
/// the same; only the canonical one is accepted.
fn non_canonical(e: &JournalEntry, tx: &TxContent<'_>, scratch: &mut Vec<u8>) -> Option<String> {
    scratch.clear();
    push_iso_date(scratch, tx.date);
    if e.tx_date.as_bytes() != scratch.as_slice() {
        let date = String::from_utf8_lossy(scratch);
        return Some(format!("tx_date `{}` is not `{date}`", e.tx_date));
    }
    if e.description != tx.description {
        return Some("description holds a tab or line break".into());
    }
    if e.fiscal_year.is_some_and(|y| i32::try_from(y).is_err()) {
        return Some("fiscal_year is out of range".into());
    }
    if e.source_line.is_some_and(|l| l < 1) {
        return Some("source_line is not a line number".into());
    }
    let optional = [
        ("doc_no", &e.doc_no),
        ("voucher_no", &e.voucher_no),
        ("region_code", &e.region_code),
        ("project_code", &e.project_code),
        ("source_file", &e.source_file),
        ("details", &e.details),
    ];
    if let Some((name, _)) = optional.iter().find(|(_, v)| v.as_deref() == Some("")) {
        return Some(format!("{name} is '' where fundledger writes NULL"));
    }
    for (i, (stored, (account, _))) in e.postings.iter().zip(tx.postings.iter()).enumerate() {
        if stored.seq != i as i64 + 1 {
            return Some(format!(
                "postings row seq {} where {} is expected (postings are numbered 1, 2, … in order)",
                stored.seq,
                i + 1
            ));
        }
        if stored.account != account {
            return Some(format!("postings row account `{}`", stored.account));
        }
    }
    None
}

fn short(h: &str) -> &str {
    &h[..h.len().min(16)]
}

/// How many times `verify` reads the whole ledger when a command commits
/// while it reads (see [`Store::verify`]).
const VERIFY_ATTEMPTS: usize = 3;

impl Store {
    /// Checks every stored fact (the chain, the postings, the domain rows,
    /// the balances, the seals).
    ///
    /// The journal is read in one snapshot and its domain rows in a second
    /// (pages.rs), and the checks after them (balances, row counts, seals)
    /// read the ledger as it is then: a command committing in between made
    /// a sound ledger look broken ("has N rows but the journal records M").
    /// Every command that writes adds a batch, so if the last batch is the
    /// same before and after, the whole read saw one state; otherwise the
    /// ledger is read again, at most [`VERIFY_ATTEMPTS`] times, and then
    /// refused as changing under it.
    pub async fn verify(&self) -> Result<VerifyReport> {
        let mut before = self.last_batch_id().await?;
        for _ in 0..VERIFY_ATTEMPTS {
            let report = self.verify_once().await?;
            let after = self.last_batch_id().await?;
            if after == before {
                return Ok(report);
            }
            before = after;
        }
        Err(StoreError::Refused(format!(
            "the ledger changed while verify read it, {VERIFY_ATTEMPTS} times in a row \
             (another command is writing): run verify again when it has finished"
        )))
    }

    /// The newest batch; every command that writes adds one.
    async fn last_batch_id(&self) -> Result<Option<i64>> {
        Ok(sqlx::query_scalar("SELECT MAX(batch_id) FROM batches")
            .fetch_one(self.pool())
            .await?)
    }

    async fn verify_once(&self) -> Result<VerifyReport> {
        let mut c = Checker {
            expected_entry: 1,
            prev_hash: GENESIS_HASH.to_string(),
            accounts: HashMap::new(),
            carried_out: BTreeMap::new(),
            carried_in: BTreeMap::new(),
            failures: Capped::new(KEPT_PROBLEMS),
            postings: 0,
            details_refs: HashMap::new(),
            batch_last: BTreeMap::new(),
        };
        let mut entries = 0;
        // Pages are read, and their entries' verdicts worked out, on
        // threads of their own (pages.rs) while this one is checked.
        let mut pages = self.journal_pages(true);
        while let Some(page) = pages.next().await {
            let page = page?;
            assert_eq!(
                page.verdicts.len(),
                page.entries.len(),
                "a verify page comes with a verdict per entry"
            );
            for (e, verdict) in page.entries.iter().zip(&page.verdicts) {
                c.check_entry(e, verdict);
                entries += 1;
            }
            check_domain_rows(&page, &mut c);
            page.recycle();
        }
        self.check_balances(&mut c).await?;
        self.check_domain_counts(&mut c).await?;
        for (year, out) in &c.carried_out {
            let into = c
                .carried_in
                .get(&(year.saturating_add(1)))
                .copied()
                .unwrap_or_default();
            if *out != into {
                c.failures.push(VerifyFailure {
                    entry_no: None,
                    tx_id: None,
                    message: format!(
                        "carried out of {year}: {} fen, carried into {}: {} fen",
                        out.as_i64(),
                        year.saturating_add(1),
                        into.as_i64()
                    ),
                });
            }
        }
        let (batches, seal_head) = self.check_seals(&mut c).await?;
        self.check_control_text(&mut c).await?;
        Ok(VerifyReport {
            entries,
            postings: c.postings,
            head_hash: c.prev_hash,
            batches,
            seal_head,
            failures_omitted: c.failures.omitted(),
            failures: c.failures.into_kept(),
        })
    }

    async fn check_domain_counts(&self, c: &mut Checker) -> Result<()> {
        for table in DOMAIN_TABLES {
            let n: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {}", table.name))
                .fetch_one(self.pool())
                .await?;
            let expected = c.details_refs.get(table.name).copied().unwrap_or(0);
            if n != expected {
                c.failures.push(VerifyFailure {
                    entry_no: None,
                    tx_id: None,
                    message: format!(
                        "{} has {n} rows but the journal records {expected}",
                        table.name
                    ),
                });
            }
        }
        Ok(())
    }

    /// Walks the seal chain and rebuilds each batch's sealed content from
    /// its rows, then checks the catalog against the last seal; returns
    /// (batches, seal head).
    async fn check_seals(&self, c: &mut Checker) -> Result<(i64, String)> {
        let mut conn = self.pool().acquire().await?;
        let seals: Vec<(i64, String, String, String)> = sqlx::query_as(
            "SELECT batch_id, content, prev_hash, hash FROM seals ORDER BY batch_id",
        )
        .fetch_all(&mut *conn)
        .await?;
        let batch_ids: Vec<i64> =
            sqlx::query_scalar("SELECT batch_id FROM batches ORDER BY batch_id")
                .fetch_all(&mut *conn)
                .await?;
        let sealed: BTreeSet<i64> = seals.iter().map(|s| s.0).collect();
        self.check_unsealed(&mut conn, &sealed, c).await?;
        for id in batch_ids.iter().filter(|id| !sealed.contains(id)) {
            c.failures.push(batch_failure(
                *id,
                "batches row has no seals row: its seal was removed, or the batch was added outside fundledger"
                    .into(),
            ));
        }
        let mut prev = GENESIS_HASH.to_string();
        let mut catalog = SealedCatalog::default();
        for (batch_id, content, prev_hash, hash) in &seals {
            if *prev_hash != prev {
                c.failures.push(batch_failure(
                    *batch_id,
                    "seals row breaks the seal chain: a seal before it was changed, removed or reordered".into(),
                ));
            }
            if seal_hash(prev_hash, content) != *hash {
                c.failures.push(batch_failure(
                    *batch_id,
                    "seals row hash mismatch: the seal itself was edited".into(),
                ));
            }
            let format = SealFormat::of(content);
            if format == SealFormat::V1 && catalog.batch.is_some() {
                c.failures.push(batch_failure(
                    *batch_id,
                    "seals row is in format 1 after a format-2 seal".into(),
                ));
            }
            let (rows_part, catalog_part) = split_content(content);
            if format == SealFormat::V2 {
                catalog.take(*batch_id, &catalog_part, c);
            }
            let head = c
                .batch_last
                .range(..=*batch_id)
                .next_back()
                .map(|(_, h)| h.clone())
                .unwrap_or_else(|| (0, GENESIS_HASH.to_string()));
            match batch_content(&mut conn, *batch_id, &head, format).await? {
                None => c.failures.push(batch_failure(
                    *batch_id,
                    "seals row for a batch whose batches row is missing".into(),
                )),
                Some(found) if found != rows_part => c.failures.push(batch_failure(
                    *batch_id,
                    content_difference(rows_part, &found),
                )),
                Some(_) => {}
            }
            prev = hash.clone();
        }
        let now = catalog_lines(&mut *conn).await?;
        catalog.check_current(&now, c);
        Ok((batch_ids.len() as i64, prev))
    }

    /// Every account some entry posts to has exactly one balances row equal
    /// to the sum of its postings, and no other account has one.
    async fn check_balances(&self, c: &mut Checker) -> Result<()> {
        let stored: BTreeMap<String, Fen> =
            sqlx::query_as::<_, (String, i64)>("SELECT account, balance_fen FROM balances")
                .fetch_all(self.pool())
                .await?
                .into_iter()
                .map(|(account, balance_fen)| (account, Fen::new(balance_fen)))
                .collect();
        let accounts: BTreeSet<&String> = stored.keys().chain(c.accounts.keys()).collect();
        let mut failures = Vec::new();
        for account in accounts {
            let posted = c.accounts.get(account);
            let (in_table, summed) = (stored.get(account), posted.map(|p| &p.balance));
            if in_table == summed {
                continue;
            }
            let (entry_no, tx_id) = match posted {
                Some(p) => (Some(p.last_entry_no), Some(p.last_tx_id.clone())),
                None => (None, None),
            };
            let message = match (in_table, summed) {
                (Some(b), None) => format!(
                    "balances row for {account} ({} fen) but no entry posts to that account",
                    b.as_i64()
                ),
                (None, Some(s)) => format!(
                    "balances row for {account} is missing; its postings sum to {} fen (this entry posted to it last)",
                    s.as_i64()
                ),
                (b, s) => format!(
                    "balance of {account} is {} fen in the balances table but its postings sum to {} fen (this entry posted to it last)",
                    b.copied().unwrap_or_default().as_i64(),
                    s.copied().unwrap_or_default().as_i64()
                ),
            };
            failures.push(VerifyFailure {
                entry_no,
                tx_id,
                message,
            });
        }
        c.failures.extend(failures);
        Ok(())
    }

    /// Control rows are sealed as stored, so their text must also be what
    /// fundledger writes: a closing compared as text (`MAX(through_date)`)
    /// must be `YYYY-MM-DD`; a region extension must read back as a
    /// division (the built-in table is not needed for that).
    async fn check_control_text(&self, c: &mut Checker) -> Result<()> {
        let closings: Vec<(String, i64)> =
            sqlx::query_as("SELECT through_date, batch_id FROM closings ORDER BY batch_id")
                .fetch_all(self.pool())
                .await?;
        for (date, batch_id) in closings {
            let canonical = NaiveDate::parse_from_str(&date, "%Y-%m-%d")
                .is_ok_and(|d| d.format("%Y-%m-%d").to_string() == date);
            if !canonical {
                c.failures.push(batch_failure(
                    batch_id,
                    format!("closings row through_date `{date}` is not YYYY-MM-DD"),
                ));
            }
        }
        match self.division_table().await {
            Err(StoreError::Corrupt(m)) if m.starts_with("region_extensions") => {
                c.failures.push(plain_failure(m))
            }
            Err(StoreError::Corrupt(m)) => c
                .failures
                .push(plain_failure(format!("region_extensions: {m}"))),
            Err(e) => return Err(e),
            Ok(_) => {}
        }
        Ok(())
    }

    /// Control rows, and journal entries, whose batch has no seal: a seal
    /// lists only its own batch's rows, so a row filed under a batch that
    /// was never sealed would otherwise be read by no check.
    async fn check_unsealed(
        &self,
        conn: &mut AnyConnection,
        sealed: &BTreeSet<i64>,
        c: &mut Checker,
    ) -> Result<()> {
        for table in CONTROL_TABLES {
            let sql = format!(
                "SELECT DISTINCT batch_id FROM {} ORDER BY batch_id",
                table.name
            );
            let ids: Vec<i64> = sqlx::query_scalar(&sql).fetch_all(&mut *conn).await?;
            for id in ids.into_iter().filter(|id| !sealed.contains(id)) {
                c.failures.push(batch_failure(
                    id,
                    format!(
                        "{} row belongs to this batch, which has no seal",
                        table.name
                    ),
                ));
            }
        }
        let unsealed: Vec<(i64, JournalHead)> = c
            .batch_last
            .iter()
            .filter(|(id, _)| !sealed.contains(id))
            .map(|(id, head)| (*id, head.clone()))
            .collect();
        for (id, (entry_no, _)) in unsealed {
            c.failures.push(VerifyFailure {
                entry_no: Some(entry_no),
                tx_id: None,
                message: format!("journal entry of batch {id}, which has no seal"),
            });
        }
        Ok(())
    }
}

/// The project catalog as the seals recorded it: the last summary, and the
/// last full list of rows (written whenever the catalog changed).
#[derive(Default)]
struct SealedCatalog {
    /// The last format-2 seal's batch and catalog summary.
    batch: Option<i64>,
    summary: String,
    rows: Vec<String>,
}

impl SealedCatalog {
    fn take(&mut self, batch_id: i64, part: &[&str], c: &mut Checker) {
        let Some((summary, rows)) = part.split_first() else {
            c.failures.push(batch_failure(
                batch_id,
                "seals row of format 2 has no project catalog summary".into(),
            ));
            return;
        };
        if !rows.is_empty() {
            self.rows = rows.iter().map(|r| r.to_string()).collect();
            if catalog_summary(&self.rows) != *summary {
                c.failures.push(batch_failure(
                    batch_id,
                    "seals row's project catalog does not match its own summary".into(),
                ));
            }
        }
        self.batch = Some(batch_id);
        self.summary = summary.to_string();
    }

    /// The catalog now must be the one the last seal recorded.
    fn check_current(&self, now: &[String], c: &mut Checker) {
        match self.batch {
            None if now.is_empty() => {}
            None => c.failures.push(VerifyFailure {
                entry_no: None,
                tx_id: None,
                message: format!(
                    "projects: {} catalog row(s) but no seal covers the catalog (a ledger written before seal format 2: run `fundledger init`)",
                    now.len()
                ),
            }),
            Some(batch_id) if catalog_summary(now) != self.summary => {
                let message = if self.rows.is_empty() && !now.is_empty() {
                    format!("projects row is not in the sealed catalog: `{}`", now[0])
                } else {
                    content_difference(&self.rows.join("\n"), &now.join("\n"))
                };
                c.failures.push(batch_failure(batch_id, message));
            }
            Some(_) => {}
        }
    }
}

/// A failure that belongs to no one entry or batch.
fn plain_failure(message: String) -> VerifyFailure {
    VerifyFailure {
        entry_no: None,
        tx_id: None,
        message,
    }
}

/// A failure that belongs to a batch rather than to a journal entry.
fn batch_failure(batch_id: i64, message: String) -> VerifyFailure {
    VerifyFailure {
        entry_no: None,
        tx_id: None,
        message: format!("batch {batch_id}: {message}"),
    }
}

/// The first line where the sealed content and the rows disagree, said in
/// terms of the row's table.
fn content_difference(sealed: &str, found: &str) -> String {
    let table = |l: &str| l.split('|').next().unwrap_or("").to_string();
    let (mut a, mut b) = (sealed.lines(), found.lines());
    loop {
        match (a.next(), b.next()) {
            (Some(x), Some(y)) if x == y => continue,
            (Some(x), Some(y)) if table(x) == table(y) => {
                return format!(
                    "{} row differs from what was sealed: sealed `{x}`, found `{y}`",
                    table(x)
                )
            }
            (Some(x), _) => return format!("{} row was sealed but is missing: `{x}`", table(x)),
            (None, Some(y)) => {
                return format!("{} row is not in the batch's seal: `{y}`", table(y))
            }
            (None, None) => return "sealed content differs".to_string(),
        }
    }
}

/// Each domain row against the details its entry recorded; an entry whose
/// row is missing.
fn check_domain_rows(page: &JournalPage, c: &mut Checker) {
    // The page's entries are in entry order, so a row finds its entry by
    // a binary search, and whether an entry's record row was seen is a flag
    // beside it: no map built per page (a hashed map and set were a third
    // of the checking thread's time). Orphan markers (postings whose entry
    // is gone) may repeat an entry number; they hold no details, so which
    // of them a row finds changes nothing reported.
    let entries = &page.entries;
    assert!(
        entries.windows(2).all(|w| w[0].entry_no <= w[1].entry_no),
        "a journal page's entries come in entry order"
    );
    let mut row_seen = vec![false; entries.len()];
    for row in &page.domain {
        match entries.binary_search_by_key(&row.entry_no, |e| e.entry_no) {
            Ok(i) => {
                let e = &entries[i];
                if details_table(e) == Some(row.table) {
                    row_seen[i] = true;
                }
                if e.details.as_deref() != Some(row.details.as_str()) {
                    c.fail(
                        e,
                        format!("{} row differs from what its entry recorded", row.table),
                    );
                }
            }
            Err(_) => c.failures.push(VerifyFailure {
                entry_no: Some(row.entry_no),
                tx_id: None,
                message: format!(
                    "{} row points at a journal entry that does not exist",
                    row.table
                ),
            }),
        }
    }
    // An entry whose record row was deleted: named here, not only
    // counted in check_domain_counts.
    for (e, seen) in entries.iter().zip(row_seen) {
        let Some(table) = details_table(e) else {
            continue;
        };
        let known = DOMAIN_TABLES.iter().any(|t| t.name == table);
        if known && !seen {
            c.fail(e, format!("its {table} row is missing"));
        }
    }
}

/// The record table an entry's details name (`table|…`).
fn details_table(e: &JournalEntry) -> Option<&str> {
    e.details.as_deref().and_then(|d| d.split('|').next())
}
