//! The Guangdong 2021 worked example (fixtures/gd-2021/README.md) through the
//! real binary, on SQLite and (FUNDLEDGER_TEST_PG) PostgreSQL: the expected
//! CSVs byte for byte, independence from import order, agreement of the three
//! output formats, `--fail-on` exit statuses and the report filters.

mod support;

use std::collections::BTreeMap;
use support::*;

const EXPECTED_0630: &str = "gd-2021/expected_reconcile_2021-06-30.csv";
const EXPECTED_0930: &str = "gd-2021/expected_reconcile_2021-09-30.csv";

#[test]
fn reconcile_csv_equals_the_expected_files_byte_for_byte() {
    for db in TestDb::all() {
        gd_ledger(&db);
        for (as_of, expected) in [("2021-06-30", EXPECTED_0630), ("2021-09-30", EXPECTED_0930)] {
            let got = reconcile_csv(&db, as_of, &[]);
            assert_eq!(
                got,
                read_fixture(expected),
                "{:?} as of {as_of}",
                db.backend
            );
        }
    }
}

/// Every permutation of 0..n (Heap's algorithm would do; n is 4).
fn permutations(n: usize) -> Vec<Vec<usize>> {
    if n == 0 {
        return vec![vec![]];
    }
    let mut out = Vec::new();
    for p in permutations(n - 1) {
        for pos in 0..=p.len() {
            let mut q = p.clone();
            q.insert(pos, n - 1);
            out.push(q);
        }
    }
    out
}

/// Imports the four files one command each in `order`. The 77号 reduction
/// needs its 12号 line in the ledger (or the same command): when it comes
/// first it must be refused, and it is imported again right after 12号.
fn import_in_order(db: &TestDb, order: &[Gd]) {
    let mut pending_77 = false;
    for &f in order {
        let run = import(db, f);
        if f == Gd::Doc77 && !order_has_before(order, Gd::Doc12, Gd::Doc77) {
            let run = run.expect_code(1);
            assert!(
                run.stderr.contains("not in the ledger"),
                "77号 before 12号 should be refused as a reduction of a missing line: {}",
                run.stderr
            );
            pending_77 = true;
            continue;
        }
        run.ok();
        if f == Gd::Doc12 && pending_77 {
            import(db, Gd::Doc77).ok();
            pending_77 = false;
        }
    }
    assert!(!pending_77);
}

fn order_has_before(order: &[Gd], first: Gd, then: Gd) -> bool {
    let at = |g| order.iter().position(|x| *x == g).expect("in order");
    at(first) < at(then)
}

fn check_order(db: &TestDb, order: &[Gd]) {
    gd_base(db);
    import_in_order(db, order);
    for (as_of, expected) in [("2021-06-30", EXPECTED_0630), ("2021-09-30", EXPECTED_0930)] {
        assert_eq!(
            reconcile_csv(db, as_of, &[]),
            read_fixture(expected),
            "{:?}, order {order:?}, as of {as_of}",
            db.backend
        );
    }
}

#[test]
fn import_order_never_changes_the_report_sqlite_all_24_orders() {
    let perms = permutations(4);
    assert_eq!(perms.len(), 24);
    for p in perms {
        let order: Vec<Gd> = p.iter().map(|i| GD_ALL[*i]).collect();
        check_order(&TestDb::sqlite(), &order);
    }
}

#[test]
fn import_order_never_changes_the_report_postgres_some_orders() {
    let orders = [
        [Gd::Disbursements, Gd::Doc77, Gd::Doc40, Gd::Doc12],
        [Gd::Doc40, Gd::Disbursements, Gd::Doc12, Gd::Doc77],
        [Gd::Doc77, Gd::Doc12, Gd::Disbursements, Gd::Doc40],
    ];
    for order in orders {
        if let Some(db) = TestDb::postgres() {
            check_order(&db, &order);
        }
    }
}

/// All three indicator files in one command, reduction first: its target is
/// found "anywhere in the same command".
#[test]
fn reduction_listed_before_its_target_in_one_command_is_accepted() {
    for db in TestDb::all() {
        gd_base(&db);
        fl(
            &db,
            &[
                "import",
                "indicators",
                &Gd::Doc77.path(),
                &Gd::Doc40.path(),
                &Gd::Doc12.path(),
            ],
        )
        .ok();
        import(&db, Gd::Disbursements).ok();
        assert_eq!(
            reconcile_csv(&db, "2021-09-30", &[]),
            read_fixture(EXPECTED_0930)
        );
    }
}

type Row = BTreeMap<String, String>;

/// The identifying and numeric content of a row, as both csv and json carry it.
fn key_of(r: &Row) -> (String, String, String, String, String) {
    (
        r["doc_no"].clone(),
        r["region_code"].clone(),
        r["project_code"].clone(),
        r["voucher_no"].clone(),
        r["status"].clone(),
    )
}

fn json_rows(doc: &serde_json::Value) -> Vec<Row> {
    doc["rows"]
        .as_array()
        .expect("rows array")
        .iter()
        .map(|r| {
            let obj = r.as_object().expect("row object");
            obj.iter()
                .map(|(k, v)| {
                    let s = match v {
                        serde_json::Value::Null => String::new(),
                        serde_json::Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    (k.clone(), s)
                })
                .collect()
        })
        .collect()
}

#[test]
fn csv_json_and_table_agree() {
    for db in TestDb::all() {
        gd_ledger(&db);
        for as_of in ["2021-06-30", "2021-09-30"] {
            let csv_rows = csv_rows(&reconcile_csv(&db, as_of, &[]));
            let json: serde_json::Value =
                serde_json::from_str(&reconcile(&db, as_of, &["--format", "json"]).ok().stdout)
                    .expect("json output parses");
            let j_rows = json_rows(&json);
            assert_eq!(csv_rows.len(), j_rows.len());
            for (c, j) in csv_rows.iter().zip(&j_rows) {
                for (col, value) in c {
                    assert_eq!(&j[col], value, "column {col} of {:?}", key_of(c));
                }
            }
            // json totals = the sum of the csv rows
            let sum = |col: &str, unmatched: bool| -> i64 {
                csv_rows
                    .iter()
                    .filter(|r| (r["status"] == "unmatched") == unmatched)
                    .map(|r| r[col].as_str())
                    .filter(|v| !v.is_empty())
                    .map(fen)
                    .sum()
            };
            let totals = &json["totals"];
            let t = |k: &str| fen(totals[k].as_str().expect("total is a string"));
            assert_eq!(t("allocated"), sum("allocated", false));
            assert_eq!(t("disbursed"), sum("disbursed", false));
            assert_eq!(t("outstanding"), sum("outstanding", false));
            assert_eq!(t("unmatched_disbursed"), sum("disbursed", true));
            let mut counts: BTreeMap<String, u64> = BTreeMap::new();
            for r in &csv_rows {
                *counts.entry(r["status"].clone()).or_insert(0) += 1;
            }
            for (status, n) in json["status_counts"].as_object().expect("counts") {
                assert_eq!(
                    counts.get(status).copied().unwrap_or(0),
                    n.as_u64().expect("count")
                );
            }
            // table: every exception row (status, region, voucher or doc and
            // amounts) appears, and the total line carries the csv sums
            let table = reconcile(&db, as_of, &["--format", "table"]).ok().stdout;
            let fmt = |f: i64| {
                let sign = if f < 0 { "-" } else { "" };
                format!("{sign}{}.{:02}", f.abs() / 100, f.abs() % 100)
            };
            let total_line = table
                .lines()
                .find(|l| l.starts_with("total"))
                .expect("table has a total line");
            for amount in [
                sum("allocated", false),
                sum("disbursed", false),
                sum("outstanding", false),
            ] {
                assert!(
                    total_line.contains(&fmt(amount)),
                    "{total_line} lacks {}",
                    fmt(amount)
                );
            }
            for r in csv_rows.iter().filter(|r| {
                matches!(
                    r["status"].as_str(),
                    "overdue" | "over" | "late" | "unmatched"
                )
            }) {
                let id = if r["voucher_no"].is_empty() {
                    r["doc_no"].clone()
                } else {
                    r["voucher_no"].clone()
                };
                let hit = table.lines().any(|l| {
                    l.starts_with(r["status"].as_str())
                        && l.contains(&r["region_code"])
                        && l.contains(&id)
                        && l.contains(&r["disbursed"])
                        && l.contains(&r["allocated"])
                });
                assert!(
                    hit,
                    "table lacks the exception row {:?}\n{table}",
                    key_of(r)
                );
            }
        }
    }
}

#[test]
fn fail_on_sets_exit_status_3_only_when_such_rows_exist() {
    for db in TestDb::all() {
        gd_ledger(&db);
        let check = |extra: &[&str], expected: i32| {
            let mut args = vec!["--format", "csv"];
            args.extend_from_slice(extra);
            let run = reconcile(&db, "2021-09-30", &args).expect_code(expected);
            // the report is printed in full either way
            assert!(
                run.stdout.starts_with("fiscal_year,origin_year"),
                "{extra:?}"
            );
        };
        check(&["--fail-on", "overdue"], 3);
        check(&["--fail-on", "unmatched"], 3);
        check(&["--fail-on", "over"], 3);
        check(&["--fail-on", "overdue,over,unmatched"], 3);
        // 武江区 JS08 alone is settled: none of the failing statuses
        check(
            &["--region", "440203", "--fail-on", "overdue,over,unmatched"],
            0,
        );
        // 荔湾区: settled and late, nothing overdue/over/unmatched
        check(
            &["--region", "440103", "--fail-on", "overdue,over,unmatched"],
            0,
        );
        check(&["--region", "440103", "--fail-on", "late"], 3);
        // JS08 has an over line (仁化县) but nothing overdue or unmatched
        check(&["--project", "JS08", "--fail-on", "overdue,unmatched"], 0);
        check(&["--project", "JS08", "--fail-on", "over"], 3);
        check(&[], 0);
    }
}

#[test]
fn fail_on_a_clean_small_ledger_exits_0() {
    for db in TestDb::all() {
        gd_base(&db);
        import(&db, Gd::Doc40).ok();
        let dir = tempfile::tempdir().expect("tempdir");
        let vouchers = write_file(
            dir.path(),
            "paid.csv",
            "voucher_no,paid_on,region_code,project_code,amount_yuan\n\
             P1,2021-05-20,440203,JS08,100000.00\n\
             P2,2021-05-21,440224,JS08,100000.00\n\
             P3,2021-05-22,440105,JS04,36800.50\n"
                .as_bytes(),
        );
        fl(&db, &["import", "disbursements", &vouchers]).ok();
        let run = reconcile(
            &db,
            "2021-12-31",
            &[
                "--format",
                "csv",
                "--fail-on",
                "overdue,over,unmatched,late,open",
            ],
        )
        .ok();
        let rows = csv_rows(&run.stdout);
        assert_eq!(rows.len(), 3);
        assert!(
            rows.iter().all(|r| r["status"] == "settled"),
            "{}",
            run.stdout
        );
    }
}

fn expected_rows(file: &str) -> Vec<Row> {
    csv_rows(&read_fixture(file))
}

#[test]
fn region_filter_selects_the_prefecture_and_its_counties_only() {
    for db in TestDb::all() {
        gd_ledger(&db);
        let got = csv_rows(&reconcile_csv(&db, "2021-09-30", &["--region", "440200"]));
        let want: Vec<Row> = expected_rows(EXPECTED_0930)
            .into_iter()
            .filter(|r| r["region_code"].starts_with("4402"))
            .collect();
        assert_eq!(got, want);
        // 韶关市 itself, its counties, and nothing of 广州/佛山
        assert!(got.iter().any(|r| r["region_code"] == "440200"));
        assert!(got.iter().any(|r| r["region_code"] == "440222"));
        assert!(got.iter().any(|r| r["status"] == "unmatched"));
        assert!(got.iter().all(|r| r["region_code"].starts_with("4402")));
        // a county selects itself only
        let one = csv_rows(&reconcile_csv(&db, "2021-09-30", &["--region", "440281"]));
        assert_eq!(one.len(), 2);
        assert!(one.iter().all(|r| r["region_code"] == "440281"));
        // nine-digit finance code works like the six-digit one
        assert_eq!(
            csv_rows(&reconcile_csv(
                &db,
                "2021-09-30",
                &["--region", "440200000"]
            )),
            want
        );
    }
}

#[test]
fn project_and_fiscal_year_filters() {
    for db in TestDb::all() {
        gd_ledger(&db);
        let got = csv_rows(&reconcile_csv(&db, "2021-09-30", &["--project", "JS08"]));
        let want: Vec<Row> = expected_rows(EXPECTED_0930)
            .into_iter()
            .filter(|r| r["project_code"] == "JS08")
            .collect();
        assert_eq!(got.len(), 2);
        assert_eq!(got, want);
        let both = csv_rows(&reconcile_csv(
            &db,
            "2021-09-30",
            &["--project", "JS02", "--region", "440100"],
        ));
        // 广州市本级, 荔湾区 and 越秀区 have JS02 lines
        let regions: Vec<&str> = both.iter().map(|r| r["region_code"].as_str()).collect();
        assert_eq!(regions, ["440100", "440103", "440104"]);
        assert!(both.iter().all(|r| r["project_code"] == "JS02"));
        assert_eq!(
            reconcile_csv(&db, "2021-09-30", &["--fiscal-year", "2021"]),
            read_fixture(EXPECTED_0930)
        );
        let none = reconcile_csv(&db, "2021-09-30", &["--fiscal-year", "2020"]);
        assert_eq!(
            none,
            format!(
                "{}\n",
                read_fixture(EXPECTED_0930).lines().next().expect("header")
            )
        );
    }
}

#[test]
fn deadline_override_at_reconcile_time() {
    for db in TestDb::all() {
        gd_ledger(&db);
        // With 36 days instead of 30, 荔湾区 JS02 (paid 6 days late) is on time.
        let rows = csv_rows(&reconcile_csv(
            &db,
            "2021-06-30",
            &["--deadline-days", "36", "--region", "440103"],
        ));
        let js02 = rows
            .iter()
            .find(|r| r["project_code"] == "JS02")
            .expect("荔湾区 JS02");
        assert_eq!(js02["status"], "settled");
        assert_eq!(js02["due_date"], "2021-04-10");
    }
}
