//! `export trail` through the binary (SPEC §6): whole transactions for every
//! filter (debits = credits), ties to `balance`, formula-injection guarding,
//! `--bom`, and the manifest beside `--output`. Both backends.

use fundledger_store::testing::TestDb;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn scenario_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/scenario-3y")
}

fn run_in(dir: &Path, db: &TestDb, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fundledger"))
        .arg("--db")
        .arg(&db.url)
        .args(args)
        .current_dir(dir)
        .env_remove("FUNDLEDGER_DB")
        .output()
        .expect("run fundledger")
}

fn ok_in(dir: &Path, db: &TestDb, args: &[&str]) -> String {
    let out = run_in(dir, db, args);
    assert!(
        out.status.success(),
        "{:?}: fundledger {args:?} exited {:?}\n{}",
        db.backend,
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("stdout is UTF-8")
}

fn ok(db: &TestDb, args: &[&str]) -> String {
    ok_in(&scenario_dir(), db, args)
}

/// The three-year scenario with both rollovers (fixtures/scenario-3y).
fn scenario(db: &TestDb) {
    ok(db, &["init"]);
    ok(db, &["projects", "import", "../reference/projects.csv"]);
    for (year, yuan) in [
        ("2020", "1000000.00"),
        ("2021", "500000.00"),
        ("2022", "300000.00"),
    ] {
        ok(
            db,
            &[
                "budget",
                "set",
                "--fiscal-year",
                year,
                "--amount-yuan",
                yuan,
            ],
        );
    }
    ok(db, &["import", "indicators", "ind_2020_36.csv"]);
    ok(db, &["import", "disbursements", "disb_2020.csv"]);
    ok(db, &["rollover", "--fiscal-year", "2020"]);
    ok(db, &["import", "indicators", "ind_2021_12.csv"]);
    ok(db, &["import", "disbursements", "disb_2021.csv"]);
    ok(db, &["rollover", "--fiscal-year", "2021"]);
    ok(db, &["import", "disbursements", "disb_2022.csv"]);
}

fn fen(text: &str) -> i64 {
    let (whole, cents) = text.split_once('.').expect("two decimals");
    assert!(
        cents.len() == 2
            && !whole.is_empty()
            && whole
                .bytes()
                .chain(cents.bytes())
                .all(|b| b.is_ascii_digit()),
        "amount cell `{text}` is not a plain non-negative decimal"
    );
    whole.parse::<i64>().unwrap() * 100 + cents.parse::<i64>().unwrap()
}

fn yuan(fen: i64) -> String {
    let sign = if fen < 0 { "-" } else { "" };
    format!("{sign}{}.{:02}", fen.abs() / 100, fen.abs() % 100)
}

struct Trail {
    bytes: Vec<u8>,
    manifest: Value,
    rows: Vec<BTreeMap<String, String>>,
}

impl Trail {
    fn net_by_account(&self) -> BTreeMap<String, i64> {
        let mut net = BTreeMap::new();
        for r in &self.rows {
            *net.entry(r["account"].clone()).or_insert(0) += fen(&r["debit"]) - fen(&r["credit"]);
        }
        net
    }
}

/// Exports with `--output` into `dir` and reads the CSV and its manifest.
fn export(dir: &Path, db: &TestDb, name: &str, filters: &[&str]) -> Trail {
    let file = dir.join(name);
    let mut args = vec!["export", "trail", "--output", file.to_str().unwrap()];
    args.extend_from_slice(filters);
    ok(db, &args);
    let bytes = std::fs::read(&file).expect("trail file");
    let manifest_text =
        std::fs::read_to_string(format!("{}.manifest.json", file.display())).expect("manifest");
    let manifest: Value = serde_json::from_str(&manifest_text).expect("manifest JSON");
    let body = bytes.strip_prefix("\u{feff}".as_bytes()).unwrap_or(&bytes);
    let mut reader = csv::Reader::from_reader(body);
    let headers = reader.headers().expect("header").clone();
    let rows = reader
        .records()
        .map(|r| {
            let r = r.expect("trail row");
            headers
                .iter()
                .zip(r.iter())
                .map(|(h, v)| (h.to_string(), v.to_string()))
                .collect()
        })
        .collect();
    Trail {
        bytes,
        manifest,
        rows,
    }
}

fn balances(db: &TestDb) -> BTreeMap<String, i64> {
    let text = ok(db, &["balance", "--format", "csv"]);
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    reader
        .records()
        .map(|r| {
            let r = r.expect("balance row");
            let b = &r[1];
            let value = match b.strip_prefix('-') {
                Some(abs) => -fen(abs),
                None => fen(b),
            };
            (r[0].to_string(), value)
        })
        .collect()
}

fn chain_head(db: &TestDb) -> String {
    let v: Value = serde_json::from_str(&ok(db, &["verify", "--format", "json"])).unwrap();
    v["chain_head"].as_str().unwrap().to_string()
}

/// The account's (year, region, project) as the ledger writes it:
/// `root[:sub]:YEAR[:PREFECTURE:REGION:PROJECT]`.
fn account_parts(account: &str) -> (Option<&str>, Option<&str>, Option<&str>) {
    let parts: Vec<&str> = account.split(':').collect();
    let at = parts
        .iter()
        .position(|s| s.len() == 4 && s.bytes().all(|b| b.is_ascii_digit()));
    match at {
        Some(i) if parts.len() == i + 4 => (Some(parts[i]), Some(parts[i + 2]), Some(parts[i + 3])),
        Some(i) => (Some(parts[i]), None, None),
        None => (None, None, None),
    }
}

/// Every check a trail must pass whatever its filters: debits = credits, the
/// manifest's counts, totals, hash and chain head are the file's, every
/// transaction is whole (its rows add to zero) and amounts are plain.
fn check_trail(t: &Trail, head: &str, what: &str) {
    let debit: i64 = t.rows.iter().map(|r| fen(&r["debit"])).sum();
    let credit: i64 = t.rows.iter().map(|r| fen(&r["credit"])).sum();
    assert_eq!(debit, credit, "{what}: debits = credits");
    let m = &t.manifest;
    assert_eq!(m["rows"].as_u64(), Some(t.rows.len() as u64), "{what}");
    assert_eq!(
        m["debit_total"].as_str(),
        Some(yuan(debit).as_str()),
        "{what}"
    );
    assert_eq!(
        m["credit_total"].as_str(),
        Some(yuan(credit).as_str()),
        "{what}"
    );
    assert_eq!(m["bytes"].as_u64(), Some(t.bytes.len() as u64), "{what}");
    assert_eq!(
        m["sha256"].as_str(),
        Some(hex::encode(Sha256::digest(&t.bytes)).as_str()),
        "{what}: manifest hash is the file's"
    );
    assert_eq!(m["chain_head"].as_str(), Some(head), "{what}");
    let mut per_tx: BTreeMap<&str, i64> = BTreeMap::new();
    for r in &t.rows {
        *per_tx.entry(r["tx_id"].as_str()).or_insert(0) += fen(&r["debit"]) - fen(&r["credit"]);
    }
    for (tx, net) in per_tx {
        assert_eq!(net, 0, "{what}: transaction {tx} is cut");
    }
}

/// Filters as an auditor would combine them; each selects whole transactions.
const FILTERS: &[&[&str]] = &[
    &[],
    &["--fiscal-year", "2020"],
    &["--fiscal-year", "2021"],
    &["--fiscal-year", "2022"],
    &["--from", "2020-03-26", "--to", "2021-01-01"],
    &["--from", "2021-12-31"],
    &["--region", "430100"],
    &["--region", "431100"],
    &["--region", "431181"],
    &["--region", "431121000"],
    &["--project", "JS01"],
    &["--region", "431100", "--project", "JS01"],
    &["--region", "430100", "--project", "JS04"],
    &[
        "--fiscal-year",
        "2021",
        "--region",
        "431100",
        "--project",
        "JS02",
    ],
];

/// Without a date filter, every account the filter names (by year, by region
/// or a descendant, by project) ties to `balance` to the fen.
fn check_ties_to_balance(t: &Trail, all: &BTreeMap<String, i64>, filters: &[&str], what: &str) {
    let value = |name: &str| {
        filters
            .iter()
            .position(|f| *f == name)
            .map(|i| filters[i + 1].trim_end_matches("000").to_string())
    };
    if value("--from").is_some() || value("--to").is_some() {
        return;
    }
    let (year, region, project) = (
        value("--fiscal-year"),
        value("--region"),
        value("--project"),
    );
    let prefix_of = |r: &str| r.trim_end_matches("00").len();
    let named = |account: &str| {
        let (y, r, p) = account_parts(account);
        year.as_deref().is_none_or(|want| y == Some(want))
            && region.as_deref().is_none_or(|want| {
                // 430100 names its prefecture and counties: region codes
                // share the prefecture's leading digits.
                r.is_some_and(|r| r.starts_with(&want[..prefix_of(want).max(4)]))
            })
            && project.as_deref().is_none_or(|want| p == Some(want))
    };
    let net = t.net_by_account();
    let mut tied = 0;
    for (account, balance) in all.iter().filter(|(a, _)| named(a)) {
        assert_eq!(
            net.get(account).copied().unwrap_or(0),
            *balance,
            "{what}: {account} in the trail vs balance"
        );
        tied += 1;
    }
    for (account, n) in net.iter().filter(|(a, _)| named(a)) {
        assert_eq!(
            all.get(account).copied().unwrap_or(0),
            *n,
            "{what}: {account}"
        );
    }
    assert!(tied > 0, "{what}: ties at least one account");
}

#[test]
fn every_filter_balances_ties_and_matches_its_manifest() {
    for db in TestDb::all() {
        scenario(&db);
        let dir = tempfile::tempdir().unwrap();
        let head = chain_head(&db);
        let all = balances(&db);
        let everything = export(dir.path(), &db, "all.csv", &[]);
        for (i, filters) in FILTERS.iter().enumerate() {
            let what = format!("{:?} {filters:?}", db.backend);
            let t = export(dir.path(), &db, &format!("t{i}.csv"), filters);
            check_trail(&t, &head, &what);
            check_ties_to_balance(&t, &all, filters, &what);
            assert!(
                t.rows.len() <= everything.rows.len() && !t.rows.is_empty(),
                "{what}"
            );
        }
    }
}

#[test]
fn filters_select_what_they_name() {
    for db in TestDb::all() {
        scenario(&db);
        let dir = tempfile::tempdir().unwrap();
        let kinds = |t: &Trail, tx: &str| t.rows.iter().any(|r| r["tx_id"] == tx);
        let carry = "carryover:2020:湘财社指〔2020〕36号:431121:JS01";

        // A prefecture takes its counties, not another prefecture's.
        let t = export(dir.path(), &db, "cs.csv", &["--region", "430100"]);
        assert!(t.rows.iter().any(|r| r["region_code"] == "430121"));
        assert!(t.rows.iter().any(|r| r["region_code"] == "430181"));
        assert!(t.rows.iter().all(|r| !r["region_code"].starts_with("4311")));

        // The successor county's trail includes the carry into it, recorded
        // under the old code 431121: without it 431181 would not tie.
        let t = export(dir.path(), &db, "qy.csv", &["--region", "431181"]);
        assert!(kinds(&t, carry), "carry into 431181 is in its trail");
        assert!(kinds(&t, "voucher:QY21-002"));
        assert!(
            !kinds(&t, "voucher:QY20-001"),
            "431121's 2020 voucher is not 431181's"
        );

        // 2021's trail includes the carry that brought money into 2021.
        let t = export(dir.path(), &db, "y21.csv", &["--fiscal-year", "2021"]);
        assert!(kinds(&t, carry));
        assert!(!kinds(&t, "voucher:QY20-001"));

        // Dates select whole transactions by their date.
        let t = export(
            dir.path(),
            &db,
            "d.csv",
            &["--from", "2021-01-01", "--to", "2021-01-01"],
        );
        assert!(!t.rows.is_empty());
        assert!(t.rows.iter().all(|r| r["date"] == "2021-01-01"));
        let kinds_of =
            |r: &BTreeMap<String, String>| ["carryover", "budget"].contains(&r["kind"].as_str());
        assert!(
            t.rows.iter().all(kinds_of),
            "carries in and the pool set for 2021"
        );
        assert!(kinds(&t, carry));

        // The manifest records the filters, codes normalised.
        let t = export(
            dir.path(),
            &db,
            "f.csv",
            &[
                "--region",
                "431121000",
                "--project",
                "JS01",
                "--fiscal-year",
                "2020",
            ],
        );
        let f = &t.manifest["filters"];
        assert_eq!(f["region"], "431121");
        assert_eq!(f["project"], "JS01");
        assert_eq!(f["fiscal_year"], 2020);
    }
}

#[test]
fn bad_filter_values_are_usage_errors() {
    let db = TestDb::sqlite();
    scenario(&db);
    for filters in [
        &["--region", "43012"][..],
        &["--project", "JS99"],
        &["--from", "2021-02-30"],
        &["--to", "yesterday"],
    ] {
        let mut args = vec!["export", "trail"];
        args.extend_from_slice(filters);
        let out = run_in(&scenario_dir(), &db, &args);
        assert_eq!(out.status.code(), Some(2), "{filters:?}");
        assert!(out.stdout.is_empty(), "{filters:?}: nothing written");
    }
}

/// A disbursement file whose voucher number (and file name) start with a
/// formula character: each must be guarded in the trail, amounts never.
fn check_guard(db: &TestDb, dir: &Path, voucher_no: &str, file_name: &str, i: usize) {
    let path = dir.join(file_name);
    std::fs::write(
        &path,
        format!(
            "voucher_no,paid_on,region_code,region_name,project_code,doc_no,amount_yuan\n\
             {voucher_no},2020-05-{:02},430121,长沙县,JS02,,1.00\n",
            i + 1
        ),
    )
    .unwrap();
    ok_in(dir, db, &["import", "disbursements", "--", file_name]);
    let t = export(
        dir,
        db,
        &format!("guard{i}.csv"),
        &["--fiscal-year", "2020"],
    );
    let expected_voucher = format!("'{voucher_no}");
    let rows: Vec<_> = t
        .rows
        .iter()
        .filter(|r| r["voucher_no"] == expected_voucher)
        .collect();
    assert_eq!(rows.len(), 2, "{voucher_no:?} guarded in both postings");
    for r in rows {
        assert_eq!(r["source_file"], format!("'{file_name}"), "{file_name:?}");
        assert!(
            r["debit"] == "1.00" || r["credit"] == "1.00",
            "amounts untouched"
        );
        assert!(!r["debit"].starts_with('\'') && !r["credit"].starts_with('\''));
    }
}

#[test]
fn formula_prefixes_are_guarded_one_by_one() {
    for db in TestDb::all() {
        let dir = tempfile::tempdir().unwrap();
        ok(&db, &["init"]);
        ok(&db, &["projects", "import", "../reference/projects.csv"]);
        ok(
            &db,
            &[
                "budget",
                "set",
                "--fiscal-year",
                "2020",
                "--amount-yuan",
                "1000.00",
            ],
        );
        let ind = dir.path().join("ind.csv");
        std::fs::write(
            &ind,
            "doc_no,doc_date,region_code,project_code,amount_yuan\n\
             湘财社指〔2020〕1号,2020-05-01,430121,JS02,100.00\n",
        )
        .unwrap();
        ok_in(dir.path(), &db, &["import", "indicators", "ind.csv"]);
        // Voucher numbers are trimmed on reading, so tab and CR reach the
        // trail through the source file name; = + - @ through both.
        let cases = [
            ("=1+2", "=a.csv"),
            ("+V1", "+b.csv"),
            ("-V2", "-c.csv"),
            ("@SUM(A1)", "@d.csv"),
        ];
        for (i, (voucher, file)) in cases.iter().enumerate() {
            check_guard(&db, dir.path(), voucher, file, i);
        }
        for (i, file) in ["\tt.csv", "\rr.csv"].iter().enumerate() {
            let i = i + cases.len();
            let path = dir.path().join(file);
            std::fs::write(
                &path,
                format!(
                    "voucher_no,paid_on,region_code,project_code,amount_yuan\n\
                     W{i},2020-05-{:02},430121,JS02,1.00\n",
                    i + 1
                ),
            )
            .unwrap();
            ok_in(dir.path(), &db, &["import", "disbursements", "--", file]);
            let t = export(dir.path(), &db, &format!("guard{i}.csv"), &[]);
            let rows: Vec<_> = t
                .rows
                .iter()
                .filter(|r| r["voucher_no"] == format!("W{i}"))
                .collect();
            assert_eq!(rows.len(), 2, "{file:?}");
            assert!(
                rows.iter().all(|r| r["source_file"] == format!("'{file}")),
                "{file:?} guarded"
            );
        }
        // Nothing else is guarded: plain cells stay as they are.
        let t = export(dir.path(), &db, "plain.csv", &[]);
        assert!(t.rows.iter().any(|r| r["doc_no"] == "湘财社指〔2020〕1号"));
        assert!(t.rows.iter().all(|r| !r["account"].starts_with('\'')));
        check_trail(&t, &chain_head(&db), "guarded export");
    }
}

#[test]
fn bom_file_is_utf8_and_hashed_whole() {
    for db in TestDb::all() {
        scenario(&db);
        let dir = tempfile::tempdir().unwrap();
        let head = chain_head(&db);
        let plain = export(dir.path(), &db, "plain.csv", &[]);
        let bom = export(dir.path(), &db, "bom.csv", &["--bom"]);
        assert!(
            bom.bytes.starts_with(&[0xEF, 0xBB, 0xBF]),
            "UTF-8 BOM first"
        );
        let text = std::str::from_utf8(&bom.bytes).expect("the file is UTF-8");
        assert!(text.contains("湘财社指〔2020〕36号"));
        assert_eq!(
            &bom.bytes[3..],
            &plain.bytes[..],
            "the BOM is the only difference"
        );
        assert_eq!(bom.manifest["bom"], true);
        assert_eq!(plain.manifest["bom"], false);
        check_trail(&bom, &head, "--bom");
        assert_ne!(bom.manifest["sha256"], plain.manifest["sha256"]);
        assert!(text[3..]
            .starts_with("entry_no,posting_no,tx_id,date,kind,fiscal_year,account,debit,credit"));
        assert!(text.ends_with("\r\n"), "CRLF rows for Excel");
    }
}

#[test]
fn same_ledger_same_bytes() {
    let db = TestDb::sqlite();
    scenario(&db);
    let dir = tempfile::tempdir().unwrap();
    let a = export(dir.path(), &db, "a.csv", &["--region", "431100"]);
    let b = export(dir.path(), &db, "b.csv", &["--region", "431100"]);
    assert_eq!(a.bytes, b.bytes);
    // Without --output the CSV goes to stdout, the manifest to stderr.
    let stdout = ok(&db, &["export", "trail", "--region", "431100"]);
    assert_eq!(stdout.as_bytes(), &a.bytes[..]);
}
