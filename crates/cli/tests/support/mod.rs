//! Shared helpers for the CLI tests: run the real `fundledger` binary against
//! a fresh database per backend (`TestDb::all()`: SQLite, plus PostgreSQL when
//! FUNDLEDGER_TEST_PG is set), build the Guangdong 2021 ledger, and take the
//! "fingerprint" (balance CSV + hledger journal) used to prove a refused
//! command left the ledger untouched.

// Each test binary uses a different subset of these helpers.
// Its `pub` items are shared by the test binaries that include it, which
// `unreachable_pub` cannot see.
#![allow(dead_code, unreachable_pub)]

pub use fundledger_store::testing::TestDb;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Alternates `--db` before and after the subcommand (SPEC §8: both work).
static PLACEMENT: AtomicUsize = AtomicUsize::new(0);

/// What one run of the binary gave.
#[derive(Debug, Clone)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub what: String,
}

impl Run {
    /// Panics with the whole output unless the exit status is `code`.
    pub fn expect_code(self, code: i32) -> Run {
        assert_eq!(
            self.code, code,
            "`{}` exited {} (expected {code})\n--- stdout\n{}\n--- stderr\n{}",
            self.what, self.code, self.stdout, self.stderr
        );
        self
    }
    pub fn ok(self) -> Run {
        self.expect_code(0)
    }
}

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}

pub fn fixture(rel: &str) -> String {
    let p = fixtures().join(rel);
    assert!(p.exists(), "fixture {} is missing", p.display());
    p.display().to_string()
}

/// Runs `fundledger` with `args` on `db`, `--db` placed before or after the
/// subcommand in turn.
pub fn fl(db: &TestDb, args: &[&str]) -> Run {
    let before = PLACEMENT.fetch_add(1, Ordering::Relaxed).is_multiple_of(2);
    fl_placed(db, args, before)
}

pub fn fl_placed(db: &TestDb, args: &[&str], db_first: bool) -> Run {
    let mut full: Vec<String> = Vec::new();
    if db_first {
        full.extend(["--db".to_string(), db.url.clone()]);
    }
    full.extend(args.iter().map(|a| a.to_string()));
    if !db_first {
        full.extend(["--db".to_string(), db.url.clone()]);
    }
    let out = Command::new(env!("CARGO_BIN_EXE_fundledger"))
        .args(&full)
        .env_remove("FUNDLEDGER_DB")
        .output()
        .expect("run fundledger");
    Run {
        code: out.status.code().expect("fundledger exited by a signal"),
        stdout: String::from_utf8(out.stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8(out.stderr).expect("stderr is UTF-8"),
        what: format!("fundledger {} ({:?})", full.join(" "), db.backend),
    }
}

/// `fundledger` without a database argument (help, usage errors).
pub fn fl_bare(args: &[&str]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_fundledger"))
        .args(args)
        .env_remove("FUNDLEDGER_DB")
        .output()
        .expect("run fundledger");
    Run {
        code: out.status.code().expect("fundledger exited by a signal"),
        stdout: String::from_utf8(out.stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8(out.stderr).expect("stderr is UTF-8"),
        what: format!("fundledger {}", args.join(" ")),
    }
}

/// The four Guangdong files, by their short names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Gd {
    Doc12,
    Doc40,
    Doc77,
    Disbursements,
}

pub const GD_ALL: [Gd; 4] = [Gd::Doc12, Gd::Doc40, Gd::Doc77, Gd::Disbursements];

impl Gd {
    pub fn path(self) -> String {
        fixture(match self {
            Gd::Doc12 => "gd-2021/gd_2021_12_wide_wan.csv",
            Gd::Doc40 => "gd-2021/gd_2021_40_long.csv",
            Gd::Doc77 => "gd-2021/gd_2021_77_adjust.csv",
            Gd::Disbursements => "gd-2021/gd_2021_disbursements.csv",
        })
    }
    pub fn kind(self) -> &'static str {
        match self {
            Gd::Disbursements => "disbursements",
            _ => "indicators",
        }
    }
}

/// init, the 2021 pool of 1,000,000.00 and the project catalog.
pub fn gd_base(db: &TestDb) {
    fl(db, &["init"]).ok();
    fl(
        db,
        &[
            "budget",
            "set",
            "--fiscal-year",
            "2021",
            "--amount-yuan",
            "1000000.00",
        ],
    )
    .ok();
    fl(
        db,
        &["projects", "import", &fixture("reference/projects.csv")],
    )
    .ok();
}

pub fn import(db: &TestDb, file: Gd) -> Run {
    fl(db, &["import", file.kind(), &file.path()])
}

/// The Guangdong ledger as the README sets it up.
pub fn gd_ledger(db: &TestDb) {
    gd_base(db);
    for f in GD_ALL {
        import(db, f).ok();
    }
}

pub fn reconcile(db: &TestDb, as_of: &str, extra: &[&str]) -> Run {
    let mut args = vec!["reconcile", "--as-of", as_of];
    args.extend_from_slice(extra);
    fl(db, &args)
}

pub fn reconcile_csv(db: &TestDb, as_of: &str, extra: &[&str]) -> String {
    let mut args = vec!["--format", "csv"];
    args.extend_from_slice(extra);
    reconcile(db, as_of, &args).ok().stdout
}

pub fn read_fixture(rel: &str) -> String {
    std::fs::read_to_string(fixture(rel)).expect("read fixture")
}

/// Everything observable about the ledger's content: balances and the full
/// journal. Equal fingerprints before and after = the command wrote nothing.
#[derive(Debug, PartialEq, Eq)]
pub struct Fingerprint {
    pub balance_csv: String,
    pub journal: String,
    /// `verify`'s batch count and seal head: a command that wrote no
    /// transaction but left a batch (or a closing) behind still shows here.
    pub batches_and_seal_head: String,
}

pub fn fingerprint(db: &TestDb) -> Fingerprint {
    let verify: serde_json::Value =
        serde_json::from_str(&fl(db, &["verify", "--format", "json"]).ok().stdout)
            .expect("verify json");
    Fingerprint {
        balance_csv: fl(db, &["balance", "--format", "csv"]).ok().stdout,
        journal: fl(db, &["export", "journal"]).ok().stdout,
        batches_and_seal_head: {
            let batches = verify["batches"].as_i64().expect("verify json: batches");
            let seal_head = verify["seal_head"]
                .as_str()
                .expect("verify json: seal_head");
            assert!(
                seal_head.len() == 64 && seal_head.bytes().all(|b| b.is_ascii_hexdigit()),
                "verify json: seal_head {seal_head:?}"
            );
            format!("{batches} {seal_head}")
        },
    }
}

/// Writes `content` to `name` in `dir` and returns the path.
pub fn write_file(dir: &Path, name: &str, content: &[u8]) -> String {
    let p = dir.join(name);
    std::fs::write(&p, content).expect("write test file");
    p.display().to_string()
}

/// Parsed CSV rows (header excluded) as maps column → value.
pub fn csv_rows(text: &str) -> Vec<std::collections::BTreeMap<String, String>> {
    let mut r = csv::Reader::from_reader(text.as_bytes());
    let headers = r.headers().expect("csv header").clone();
    r.records()
        .map(|rec| {
            let rec = rec.expect("csv record");
            headers
                .iter()
                .zip(rec.iter())
                .map(|(h, v)| (h.to_string(), v.to_string()))
                .collect()
        })
        .collect()
}

/// "123.45" / "-0.50" → fen, exactly (no floats).
pub fn fen(text: &str) -> i64 {
    let (sign, digits) = match text.strip_prefix('-') {
        Some(rest) => (-1, rest),
        None => (1, text),
    };
    let (whole, frac) = digits.split_once('.').unwrap_or((digits, "0"));
    let frac2 = format!("{frac:0<2}");
    assert!(frac2.len() == 2, "amount {text} has more than two decimals");
    let whole: i64 = whole.replace(',', "").parse().expect("whole part");
    let frac: i64 = frac2.parse().expect("fraction");
    sign * (whole * 100 + frac)
}

/// init, the 2020 pool of the Hunan demo and the project catalog.
pub fn hunan_base(db: &TestDb) {
    fl(db, &["init"]).ok();
    fl(
        db,
        &[
            "budget",
            "set",
            "--fiscal-year",
            "2020",
            "--amount-yuan",
            "51660000.00",
        ],
    )
    .ok();
    fl(
        db,
        &["projects", "import", &fixture("reference/projects.csv")],
    )
    .ok();
}
