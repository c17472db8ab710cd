//! Issue 11 §3: every CSV the program writes is formula-safe. The reconcile
//! CSV wrote a voucher number `=2+3`, a document number `=EVIL〔2021〕1号` and
//! a project named `=HYPERLINK(…)` unguarded; now every writer applies the
//! trail's guard to its text cells and never alters an amount.

mod support;
use support::*;

const HYPERLINK: &str = "=HYPERLINK(\"http://evil.example\",\"click\")";

fn hostile_ledger(db: &TestDb, dir: &std::path::Path) {
    fl(db, &["init"]).ok();
    let catalog = write_file(
        dir,
        "p.csv",
        "code,name\nJS99,\"=HYPERLINK(\"\"http://evil.example\"\",\"\"click\"\")\"\n".as_bytes(),
    );
    fl(db, &["projects", "import", &catalog]).ok();
    fl(
        db,
        &[
            "budget",
            "set",
            "--fiscal-year",
            "2021",
            "--amount-yuan",
            "1000.00",
        ],
    )
    .ok();
    let ind = write_file(
        dir,
        "i.csv",
        "doc_no,doc_date,region_code,project_code,amount_yuan\n\
         =EVIL〔2021〕1号,2021-03-05,440103,JS99,100.00\n"
            .as_bytes(),
    );
    fl(db, &["import", "indicators", &ind]).ok();
    let v = write_file(
        dir,
        "v.csv",
        "voucher_no,paid_on,region_code,project_code,doc_no,amount_yuan\n\
         =2+3,2021-03-06,440103,JS99,=EVIL〔2021〕1号,150.00\n\
         @SUM(1),2021-03-07,440103,JS99,=EVIL〔2021〕9号,1.00\n"
            .as_bytes(),
    );
    fl(db, &["import", "disbursements", &v]).ok();
}

#[test]
fn reconcile_csv_guards_hostile_text_cells_and_keeps_amounts() {
    for db in TestDb::all() {
        let dir = tempfile::tempdir().unwrap();
        hostile_ledger(&db, dir.path());
        let csv = reconcile_csv(&db, "2021-06-30", &[]);
        let rows = csv_rows(&csv);
        assert_eq!(rows[0]["doc_no"], "'=EVIL〔2021〕1号");
        assert_eq!(rows[0]["project_name"], format!("'{HYPERLINK}"));
        assert_eq!(
            rows[0]["outstanding"], "-50.00",
            "amounts are never altered"
        );
        assert_eq!(rows[1]["doc_no"], "'=EVIL〔2021〕9号");
        assert_eq!(rows[1]["voucher_no"], "'@SUM(1)");
        // A cell that survives the guard never starts with a formula prefix.
        for row in &rows {
            for (column, cell) in row {
                if ["allocated", "disbursed", "outstanding"].contains(&column.as_str()) {
                    continue;
                }
                assert!(
                    !cell.starts_with(['=', '+', '-', '@', '\t', '\r']),
                    "{column}: {cell:?}"
                );
            }
        }
    }
}

#[test]
fn balance_and_trail_csv_keep_amounts_and_guard_text() {
    for db in TestDb::all() {
        let dir = tempfile::tempdir().unwrap();
        hostile_ledger(&db, dir.path());
        let balance = fl(&db, &["balance", "--format", "csv"]).ok().stdout;
        assert!(
            balance.contains("allocated:2021:440100:440103:JS99,-51.00\n"),
            "{balance}"
        );
        let trail = fl(&db, &["export", "trail"]).ok().stdout;
        let rows = csv_rows(&trail);
        let voucher = rows
            .iter()
            .find(|r| r["voucher_no"].contains("2+3"))
            .expect("the =2+3 voucher");
        assert_eq!(voucher["voucher_no"], "'=2+3");
        assert!(rows.iter().all(|r| !r["doc_no"].starts_with('=')));
    }
}
