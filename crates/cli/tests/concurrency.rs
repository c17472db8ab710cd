//! SPEC §7: concurrent importers never lose or double a posting. Two
//! `fundledger import disbursements` processes run at the same time against
//! one database (SQLite: the second waits on BEGIN IMMEDIATE; PostgreSQL: on
//! the writer's advisory lock); afterwards every voucher is there once, the
//! balances add up and the chain verifies.

use fundledger_store::testing::TestDb;
use std::path::Path;
use std::process::{Command, Output};

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_fundledger"));
    c.env_remove("FUNDLEDGER_DB");
    c
}

fn run(db: &str, args: &[&str]) -> Output {
    let out = bin()
        .arg("--db")
        .arg(db)
        .args(args)
        .output()
        .expect("run fundledger");
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn fixture(name: &str) -> String {
    format!("{}/../../fixtures/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// `count` vouchers of 1.00 yuan for 荔湾区 JS01 (a line of 粤财社〔2021〕12号).
fn voucher_file(dir: &Path, name: &str, prefix: &str, count: u32) -> String {
    let mut text = String::from("voucher_no,paid_on,region_code,project_code,amount_yuan\n");
    for i in 0..count {
        text.push_str(&format!("{prefix}{i:05},2021-05-01,440103,JS01,1.00\n"));
    }
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

#[test]
fn concurrent_importers_neither_lose_nor_double_a_posting() {
    for db in TestDb::all() {
        let url = db.url.clone();
        run(&url, &["init"]);
        run(
            &url,
            &[
                "budget",
                "set",
                "--fiscal-year",
                "2021",
                "--amount-yuan",
                "1000000.00",
            ],
        );
        run(
            &url,
            &["projects", "import", &fixture("reference/projects.csv")],
        );
        run(
            &url,
            &[
                "import",
                "indicators",
                &fixture("gd-2021/gd_2021_12_wide_wan.csv"),
            ],
        );
        let dir = tempfile::tempdir().unwrap();
        let a = voucher_file(dir.path(), "a.csv", "A", 300);
        let b = voucher_file(dir.path(), "b.csv", "B", 300);
        let spawn = |file: &str| {
            bin()
                .arg("--db")
                .arg(&url)
                .args(["import", "disbursements", file])
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        };
        let (pa, pb) = (spawn(&a), spawn(&b));
        let (oa, ob) = (
            pa.wait_with_output().unwrap(),
            pb.wait_with_output().unwrap(),
        );
        assert!(
            oa.status.success(),
            "{:?} A: {}",
            db.backend,
            String::from_utf8_lossy(&oa.stderr)
        );
        assert!(
            ob.status.success(),
            "{:?} B: {}",
            db.backend,
            String::from_utf8_lossy(&ob.stderr)
        );
        let balance = String::from_utf8(run(&url, &["balance", "--format", "csv"]).stdout).unwrap();
        assert!(
            balance.contains("disbursed:2021:440100:440103:JS01,600.00\n"),
            "{:?}: every voucher once: {balance}",
            db.backend
        );
        let verify = String::from_utf8(run(&url, &["verify"]).stdout).unwrap();
        // 1 budget + 15 lines (12号) + 600 vouchers, gapless chain.
        assert!(
            verify.contains("entries 616\n"),
            "{:?}: {verify}",
            db.backend
        );
    }
}
