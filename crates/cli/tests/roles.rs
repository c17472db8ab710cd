//! Roles the database enforces (issue 13 §1), on the real PostgreSQL server
//! with login roles created here (unique names, dropped after): an auditor
//! cannot import, set a budget or roll over; an officer cannot set a budget;
//! the database refuses (raw SQL as the same users fails too), and each
//! refusal leaves the chain and seal heads unchanged.

mod support;

use sqlx::Connection;
use support::*;

/// Login roles for one test, dropped (with anything they own) at the end.
struct LoginRoles {
    admin_url: String,
    names: Vec<String>,
}

impl LoginRoles {
    async fn create(admin_url: &str, grants: &[(&str, &str)]) -> LoginRoles {
        let mut conn = sqlx::PgConnection::connect(admin_url).await.unwrap();
        let stamp = format!(
            "{}_{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .subsec_nanos()
        );
        let mut names = Vec::new();
        for (login, group) in grants {
            let name = format!("fl_t_{login}_{stamp}");
            sqlx::query(&format!("CREATE ROLE {name} LOGIN"))
                .execute(&mut conn)
                .await
                .unwrap();
            if !group.is_empty() {
                sqlx::query(&format!("GRANT {group} TO {name}"))
                    .execute(&mut conn)
                    .await
                    .unwrap();
            }
            names.push(name);
        }
        LoginRoles {
            admin_url: admin_url.to_string(),
            names,
        }
    }
}

impl Drop for LoginRoles {
    fn drop(&mut self) {
        let (url, names) = (self.admin_url.clone(), self.names.clone());
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
                for n in names {
                    let _ = sqlx::query(&format!("DROP ROLE IF EXISTS {n}"))
                        .execute(&mut conn)
                        .await;
                }
                // The group roles are cluster-wide and fixed by name: drop
                // them too once no database holds privileges for them (the
                // test database is gone by now); while another run still
                // uses them this fails, and that run drops them.
                let _ = sqlx::query(
                    "DROP ROLE IF EXISTS fundledger_admin, fundledger_officer, fundledger_auditor",
                )
                .execute(&mut conn)
                .await;
            })
        })
        .join()
        .unwrap();
    }
}

/// `db`'s URL with `user` instead of its user (the test server trusts it).
fn as_user(db: &TestDb, user: &str) -> TestDb {
    let (scheme, rest) = db.url.split_once("://").unwrap();
    let (_, host) = rest.rsplit_once('@').unwrap();
    let mut t = TestDb::sqlite();
    t.url = format!("{scheme}://{user}@{host}");
    t.backend = db.backend;
    t
}

fn heads(db: &TestDb) -> String {
    let v: serde_json::Value =
        serde_json::from_str(&fl(db, &["verify", "--format", "json"]).ok().stdout).unwrap();
    format!("{} {} {}", v["chain_head"], v["seal_head"], v["batches"])
}

fn refused(db: &TestDb, owner: &TestDb, args: &[&str], expected: &str) {
    let before = heads(owner);
    let run = fl(db, args).expect_code(1);
    assert_eq!(
        run.stderr.trim_end(),
        format!("error: {expected}"),
        "{}",
        run.what
    );
    assert_eq!(
        heads(owner),
        before,
        "{}: the refusal wrote something",
        run.what
    );
}

async fn raw_refused(db: &TestDb, sql: &str) {
    let mut conn = sqlx::PgConnection::connect(&db.url).await.unwrap();
    let err = sqlx::query(sql).execute(&mut conn).await.unwrap_err();
    let code = err
        .as_database_error()
        .and_then(|d| d.code())
        .map(|c| c.to_string());
    assert_eq!(code.as_deref(), Some("42501"), "{sql}: {err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn each_role_may_do_only_its_commands_and_the_database_refuses_the_rest() {
    let Some(owner) = TestDb::postgres() else {
        return;
    };
    let admin_url = std::env::var("FUNDLEDGER_TEST_PG").unwrap();
    fl(&owner, &["init", "--roles"]).ok();
    // Idempotent: a second run (as after an upgrade) changes nothing.
    fl(&owner, &["init", "--roles"]).ok();
    // The owner sets up nothing but the pool: the officer's first import
    // registers the projects it names (no catalog loaded yet).
    fl(
        &owner,
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
    let logins = LoginRoles::create(
        &admin_url,
        &[
            ("auditor", "fundledger_auditor"),
            ("officer", "fundledger_officer"),
            ("admin", "fundledger_admin"),
            ("nobody", ""),
        ],
    )
    .await;
    let [auditor, officer, admin, nobody] =
        [0, 1, 2, 3].map(|i| (as_user(&owner, &logins.names[i]), logins.names[i].clone()));

    // The auditor reads everything and writes nothing.
    for args in [
        &["reconcile", "--as-of", "2021-12-31", "--format", "csv"][..],
        &["balance", "--format", "csv"],
        &["export", "trail"],
        &["export", "journal"],
        &["verify"],
    ] {
        fl(&auditor.0, args).ok();
    }
    let (a, a_name) = &auditor;
    let needs = |doing: &str, role: &str, user: &str| {
        format!("permission denied: {doing} needs {role} (connected as {user})")
    };
    refused(
        a,
        &owner,
        &["import", "disbursements", &Gd::Disbursements.path()],
        &needs("importing", "fundledger_officer", a_name),
    );
    refused(
        a,
        &owner,
        &[
            "budget",
            "set",
            "--fiscal-year",
            "2021",
            "--amount-yuan",
            "2000000.00",
        ],
        &needs("setting a budget", "fundledger_admin", a_name),
    );
    refused(
        a,
        &owner,
        &["rollover", "--fiscal-year", "2021"],
        &needs("a rollover", "fundledger_admin", a_name),
    );

    // The officer imports but sets no budget, closes nothing, rolls nothing over.
    let (o, o_name) = &officer;
    refused(
        o,
        &owner,
        &[
            "budget",
            "set",
            "--fiscal-year",
            "2021",
            "--amount-yuan",
            "2000000.00",
        ],
        &needs("setting a budget", "fundledger_admin", o_name),
    );
    refused(
        o,
        &owner,
        &["projects", "import", &fixture("reference/projects.csv")],
        &needs("importing projects", "fundledger_admin", o_name),
    );
    let first = fl(o, &["import", "indicators", &Gd::Doc40.path()]).ok();
    assert!(
        first.stderr.contains("total: 3 line(s) added"),
        "{}",
        first.stderr
    );
    // Closing is judged once the ledger holds a line to close (an empty
    // ledger is refused by the guard rails before the database is asked).
    refused(
        a,
        &owner,
        &["close", "--through", "2021-01"],
        &needs("closing a period", "fundledger_admin", a_name),
    );
    refused(
        o,
        &owner,
        &["close", "--through", "2021-01"],
        &needs("closing a period", "fundledger_admin", o_name),
    );
    fl(
        &admin.0,
        &["projects", "import", &fixture("reference/projects.csv")],
    )
    .ok();
    fl(o, &["import", "disbursements", &Gd::Disbursements.path()]).ok();
    // More vouchers than one buffer holds: the officer's journal rows,
    // which row security keeps from `COPY`, go in as several INSERTs per
    // buffer (ADR 0005, decisions 21 and 25).
    let dir = tempfile::tempdir().expect("temporary directory");
    let many = write_file(dir.path(), "officer_vouchers.csv", &officer_vouchers(2_500));
    let imported = fl(o, &["import", "disbursements", &many]).ok();
    assert!(
        imported.stderr.contains("total: 2500 voucher(s) added"),
        "{}",
        imported.stderr
    );
    fl(o, &["import", "indicators", &Gd::Doc12.path()]).ok();

    // The administrator does the rest.
    let (ad, _) = &admin;
    fl(
        ad,
        &[
            "budget",
            "set",
            "--fiscal-year",
            "2021",
            "--amount-yuan",
            "2000000.00",
        ],
    )
    .ok();
    fl(ad, &["close", "--through", "2021-01"]).ok();
    fl(ad, &["import", "indicators", &Gd::Doc77.path()]).ok();

    // A login role with no fundledger role cannot even read.
    let (n, n_name) = &nobody;
    refused(
        n,
        &owner,
        &["verify"],
        &needs("reading the ledger", "fundledger_auditor", n_name),
    );

    // Not only the CLI: the same users' raw SQL is refused by the database.
    raw_refused(
        a,
        "INSERT INTO batches (batch_id, command, recorded_at) VALUES (999, 'x', 'x')",
    )
    .await;
    raw_refused(
        o,
        "INSERT INTO closings (through_date, batch_id) VALUES ('2099-12-31', 1)",
    )
    .await;
    raw_refused(
        o,
        "INSERT INTO journal (entry_no, tx_id, tx_date, kind, description, batch_id, recorded_at, prev_hash, hash) \
         VALUES (999, 'budget:2021:9', '2021-01-01', 'budget', 'x', 1, 'x', 'x', 'x')",
    )
    .await;
    raw_refused(o, "UPDATE projects SET name = 'x'").await;
    fl(&owner, &["verify"]).ok();
    drop(owner);
    drop(logins);
}

/// A disbursement file of `n` vouchers of 1.00 yuan each, paid in June
/// 2021 by Guangzhou under 三结合 without a document number.
fn officer_vouchers(n: usize) -> Vec<u8> {
    let mut text = String::from(
        "支付凭证号,支付日期,财政区划代码,地区名称,项目名称,指标文号,支付金额（元）,原支付凭证号,收款单位,摘要\n",
    );
    for i in 0..n {
        text.push_str(&format!(
            "OF{i:06},2021-06-01,440100,广州市,三结合,,1.00,,广州市计划生育协会,项目资金\n"
        ));
    }
    text.into_bytes()
}
