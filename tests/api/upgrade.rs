//! Migrations on purpose (docs/DESIGN.md §2 "Expand and contract", §11): only `qrun migrate`
//! (and `serve` with `database.migrate = "auto"`) changes the schema; every other command reads
//! it, works with it when it can and says plainly when it cannot; and the README's rolling
//! upgrade keeps a cluster serving while its schema moves on.
//!
//! A newer release's migrations are played here as that release's `qrun migrate` would apply
//! them: their DDL and their `seaql_migrations` row in one transaction. This binary is then
//! the older one beside them (see docs/DESIGN.md §2 for why no binary of an earlier commit is
//! built for it).

use std::process::Output;
use std::time::Duration;

use migration::MigratorTrait;
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, TransactionTrait};
use uuid::Uuid;

use crate::cli::{assert_verified, qrun, stderr, stdout};
use crate::helpers::{TestDb, wait_until};
use crate::nodes::{create_bell, setup, start_node_with, statuses, submit, write_config};
use crate::on_both_databases;

/// A newer release's expansion: adds a column this binary does not use.
const EXPAND: &str = "m20991231_000007_runs_note";
/// A later release's contraction: takes that column away again.
const CONTRACT: &str = "m20991231_000008_drop_runs_note_contract";

/// This binary's migrations, in order.
fn known() -> Vec<String> {
    migration::Migrator::migrations()
        .iter()
        .map(|m| m.name().to_owned())
        .collect()
}

async fn connect(db: &TestDb) -> DatabaseConnection {
    Database::connect(db.url.as_str()).await.unwrap()
}

/// Applies `name` with `ddl` as the release that knows it would: both in one transaction.
async fn apply_foreign(db: &TestDb, name: &str, ddl: &str) {
    let conn = connect(db).await;
    let txn = conn.begin().await.unwrap();
    txn.execute_unprepared(ddl).await.unwrap();
    txn.execute_unprepared(&format!(
        "INSERT INTO seaql_migrations (version, applied_at) VALUES ('{name}', 4102444800)"
    ))
    .await
    .unwrap();
    txn.commit().await.unwrap();
}

/// Asserts `out` refused: exit 1, nothing on stdout, `qrun: ` and `line` as the only stderr
/// line.
fn refused(out: &Output, line: &str) {
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_eq!(stdout(out), "", "{out:?}");
    assert_eq!(stderr(out), format!("qrun: {line}\n"), "{out:?}");
}

/// `qrun serve` with `env`, expected to refuse to start: its output.
fn serve_refusing(db: &TestDb, env: &[(&str, &str)]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_qrun"))
        .arg("serve")
        .env_clear()
        .env("QRUN__DATABASE__URL", &db.url)
        .env("QRUN__SERVER__BIND", "127.0.0.1:0")
        .env("QRUN__LOGGING__LEVEL", "warn")
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

async fn only_migrate_changes_the_schema_and_every_command_says_where_it_stands(db: TestDb) {
    let known = known();
    let last = known.last().unwrap().clone();
    // A fresh database: nothing but `qrun migrate` creates the schema.
    let behind_all = format!(
        "the database schema is behind this qrun: {} migrations not applied ({}): run `qrun \
         migrate`",
        known.len(),
        known.join(", ")
    );
    refused(&qrun(&db, &["run", "list"]), &behind_all);
    refused(&qrun(&db, &["verify"]), &behind_all);
    let status = qrun(&db, &["migrate", "--status"]);
    assert!(status.status.success(), "{status:?}");
    let pending: Vec<String> = known.iter().map(|n| format!("pending  {n}")).collect();
    assert_eq!(stdout(&status).lines().collect::<Vec<_>>(), pending);
    let dry = qrun(&db, &["migrate", "--dry-run"]);
    assert!(dry.status.success(), "{dry:?}");
    let would: Vec<String> = known.iter().map(|n| format!("would apply {n}")).collect();
    assert_eq!(stdout(&dry).lines().collect::<Vec<_>>(), would);
    assert_eq!(
        stdout(&qrun(&db, &["migrate", "--status"])),
        stdout(&status)
    );
    // One migration short: what serve does depends on database.migrate.
    migration::Migrator::up(&connect(&db).await, Some(known.len() as u32 - 1))
        .await
        .unwrap();
    let behind_one = format!(
        "the database schema is behind this qrun: 1 migration not applied ({last}): run `qrun \
         migrate`"
    );
    refused(&qrun(&db, &["run", "list"]), &behind_one);
    let out = serve_refusing(&db, &[("QRUN__DATABASE__MIGRATE", "never")]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        stderr(&out).ends_with(&format!("qrun: {behind_one}\n")),
        "{}",
        stderr(&out)
    );
    let applied = qrun(&db, &["migrate"]);
    assert!(applied.status.success(), "{applied:?}");
    assert_eq!(stdout(&applied), format!("applied {last}\n"));
    assert_eq!(stdout(&qrun(&db, &["migrate"])), "nothing to apply\n");
    let listed = qrun(&db, &["run", "list"]);
    assert!(listed.status.success(), "{listed:?}");

    // A newer release's expansion: this binary works with it and says what it does not know.
    apply_foreign(&db, EXPAND, "ALTER TABLE runs ADD COLUMN note TEXT").await;
    for args in [&["run", "list"][..], &["verify"]] {
        let out = qrun(&db, args);
        assert!(out.status.success(), "{args:?}: {out:?}");
    }
    let status = stdout(&qrun(&db, &["migrate", "--status"]));
    let lines: Vec<&str> = status.lines().collect();
    assert_eq!(lines.len(), known.len() + 1, "{status}");
    assert!(
        lines[..known.len()]
            .iter()
            .all(|l| l.starts_with("applied  m")),
        "{status}"
    );
    assert_eq!(
        lines[known.len()],
        format!("unknown  {EXPAND}  2100-01-01 00:00:00 UTC  (applied by a newer qrun)")
    );
    assert_eq!(stdout(&qrun(&db, &["migrate"])), "nothing to apply\n");

    // A contraction it does not know: it stops, naming it.
    apply_foreign(&db, CONTRACT, "ALTER TABLE runs DROP COLUMN note").await;
    let newer = format!(
        "the database schema is newer than this qrun, which does not know the contract \
         migration ({CONTRACT}), made for a newer qrun: use a qrun that knows them"
    );
    refused(&qrun(&db, &["run", "list"]), &newer);
    refused(&qrun(&db, &["migrate"]), &newer);
    let out = serve_refusing(&db, &[("QRUN__DATABASE__MIGRATE", "auto")]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(stderr(&out).contains(CONTRACT), "{}", stderr(&out));
}

on_both_databases!(only_migrate_changes_the_schema_and_every_command_says_where_it_stands);

/// The README's rolling upgrade on PostgreSQL, two nodes serving throughout: the next
/// release's expansion is applied under them, then each node in turn is stopped (SIGTERM: it
/// hands back its runs) and started again. Nothing is refused or lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolling_upgrade_keeps_the_cluster_serving() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let configs = [
        write_config(dirs[0].path(), "node-1", 0.3),
        write_config(dirs[1].path(), "node-2", 0.3),
    ];
    // `qrun migrate` first (setup does), then the nodes, which do not migrate on PostgreSQL.
    let token = setup(dirs[0].path(), &db, &configs[0]);
    let start = |i: usize| start_node_with(dirs[i].path(), &db, &configs[i], &[]);
    let mut nodes = [start(0), start(1)];
    create_bell(&nodes[0].base, &token).await;
    let mut accepted: Vec<Uuid> = Vec::new();
    let mut submit_to = async |base: &str| {
        for backend in ["slow", "statevector", "slow"] {
            accepted.push(submit(base, &token, backend).await.expect("accepted"));
        }
    };
    submit_to(&nodes[0].base.clone()).await;

    // 1. The new release's `qrun migrate`: an expansion, under both running nodes.
    apply_foreign(&db, EXPAND, "ALTER TABLE runs ADD COLUMN note TEXT").await;
    submit_to(&nodes[1].base.clone()).await;
    assert!(qrun(&db, &["run", "list"]).status.success());
    // 2. Each node in turn: stopped (its runs handed back), started again.
    for i in 0..2 {
        submit_to(&nodes[i].base.clone()).await;
        let status = nodes[i].terminate().expect("it exits");
        assert!(status.success(), "node {i}: {status:?}");
        nodes[i] = start(i);
        submit_to(&nodes[1 - i].base.clone()).await;
    }
    let base = nodes[0].base.clone();
    wait_until(Duration::from_secs(60), "every run completed", || async {
        statuses(&base, &accepted)
            .await
            .iter()
            .all(|r| r["status"] == "completed")
    })
    .await;
    drop(nodes);
    assert_verified(&db, accepted.len());
}
