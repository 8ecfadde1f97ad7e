//! Real processes: `kill -9` in the middle of work, restarts, and two nodes on one database.

use qrun::app::Hooks;
use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

use qrun::domain::RunStatus;
use serde_json::Value;
use uuid::Uuid;

use crate::cli::assert_verified;
use crate::helpers::{
    Api, BELL, TestApp, TestDb, circuit_body, executing, run_body, sleepy_backend, wait_until,
};
use crate::on_both_databases;
use crate::serve::{Served, serve};

/// A config file for fast recovery: short leases, a 1 s watchdog, the simulator and a
/// command backend that sleeps `sleep` seconds.
pub(crate) fn write_config(dir: &Path, node: &str, sleep: f64) -> std::path::PathBuf {
    let slow = sleepy_backend(dir, "slow", sleep);
    let qrun::config::BackendConfig::Command { program, .. } = slow else {
        unreachable!()
    };
    let path = dir.join(format!("{node}.toml"));
    std::fs::write(
        &path,
        format!(
            "[executor]\nnode_id = \"{node}\"\nlease_ttl_s = 2\nmax_concurrent_runs = 3\nclaim_interval_ms = 100\n\
             max_active_runs_per_user = 100000\nuser_submissions_per_s = 100000\nuser_submission_burst = 100000\n\n[watchdog]\ninterval_s = 1\n\n\
             [[backends]]\ntype = \"simulator\"\nname = \"statevector\"\nmax_qubits = 20\nmax_shots = 100000\n\
             max_gates = 1000000\nmax_source_bytes = 1048576\ntimeout_s = 60\n\n\
             [[backends]]\ntype = \"command\"\nname = \"slow\"\nprogram = \"{}\"\ntimeout_s = 120\n\
             [backends.sandbox]\nenabled = false\n",
            program.display()
        ),
    )
    .unwrap();
    path
}

pub(crate) fn start_node(dir: &Path, db: &TestDb, config: &Path) -> Served {
    start_node_with(dir, db, config, &[])
}

/// [`start_node`] with `env` added (`QRUN__…` overrides, a preloaded library).
pub(crate) fn start_node_with(
    dir: &Path,
    db: &TestDb,
    config: &Path,
    env: &[(&str, &str)],
) -> Served {
    let base = [
        ("QRUN_CONFIG", config.to_str().unwrap()),
        ("QRUN__DATABASE__URL", db.url.as_str()),
        ("QRUN__LOGGING__LEVEL", "warn,qrun=info"),
    ];
    serve(dir, &[&base[..], env].concat())
}

/// Submits a run of `alice/bell` (50 shots) to `backend` (`slow`, or the simulator's
/// `statevector`) on the node at `base`: its id, or `None` if the node did not take it.
pub(crate) async fn submit(base: &str, token: &str, backend: &str) -> Option<Uuid> {
    let kind = if backend == "slow" {
        "command"
    } else {
        "simulator"
    };
    let body = run_body("alice/bell", (kind, backend), 50);
    let run = Api::new(base).submit(token, &body, &[]).await.ok()?;
    run["id"].as_str()?.parse().ok()
}

/// Runs `ids` as the node at `base` shows them.
pub(crate) async fn statuses(base: &str, ids: &[Uuid]) -> Vec<Value> {
    let api = Api::new(base);
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        out.push(api.run(id).await.unwrap_or_else(|e| panic!("{e}")));
    }
    out
}

pub(crate) fn count(runs: &[Value], status: &str) -> usize {
    runs.iter().filter(|r| r["status"] == status).count()
}

/// The pids the slow backend's children recorded in `dir`, in order.
pub(crate) fn recorded_pids(dir: &Path) -> Vec<u32> {
    std::fs::read_to_string(dir.join("slow.pids"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}

pub(crate) fn kill_children(dir: &Path) {
    for pid in recorded_pids(dir) {
        let _ = std::process::Command::new("kill")
            .arg("-9")
            .arg(pid.to_string())
            .status();
    }
}

/// Migrates `db` and creates the user `alice` with `config`, as an operator does; her token.
pub(crate) fn setup(dir: &Path, db: &TestDb, config: &Path) -> String {
    let qrun = || {
        let mut qrun = std::process::Command::new(env!("CARGO_BIN_EXE_qrun"));
        qrun.env_clear()
            .env("QRUN_CONFIG", config)
            .env("QRUN__DATABASE__URL", &db.url)
            .env("QRUN__LOGGING__LEVEL", "warn")
            .current_dir(dir);
        qrun
    };
    testkit::create_user(qrun, "alice").unwrap_or_else(|e| panic!("{e}"))
}

/// Uploads the public Bell circuit `alice/bell` through the node at `base`.
pub(crate) async fn create_bell(base: &str, token: &str) {
    let body = circuit_body("bell", "public", "openqasm2", BELL);
    let uploaded = Api::new(base).upload(token, &body).await;
    uploaded.unwrap_or_else(|e| panic!("{e}"));
}

async fn kill_9_mid_flight_then_restart_loses_nothing(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    // A few slow runs (3 s) among quick ones: at the kill some are surely mid-execution.
    let config = write_config(dir.path(), "crashy", 3.0);
    let token = setup(dir.path(), &db, &config);
    let mut node = start_node(dir.path(), &db, &config);
    create_bell(&node.base, &token).await;
    let mut accepted = Vec::new();
    for i in 0..30 {
        let backend = if i % 5 == 0 { "slow" } else { "statevector" };
        accepted.extend(submit(&node.base, &token, backend).await);
    }
    assert_eq!(accepted.len(), 30);
    // Kill while work is in flight: at least one run running and one already finished.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let runs = statuses(&node.base, &accepted).await;
        let finished = count(&runs, "completed") + count(&runs, "failed");
        if count(&runs, "running") >= 1 && finished >= 1 {
            break;
        }
        let seen: Vec<&str> = runs
            .iter()
            .map(|r| r["status"].as_str().unwrap_or("?"))
            .collect();
        assert!(Instant::now() < deadline, "never mid-flight: {seen:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    node.child.kill().unwrap(); // SIGKILL: no shutdown of any kind
    node.child.wait().unwrap();
    let killed_at = Instant::now();
    kill_children(dir.path());

    let node = start_node(dir.path(), &db, &config);
    wait_until(
        Duration::from_secs(90),
        "every accepted run terminal after the restart",
        || async {
            statuses(&node.base, &accepted).await.iter().all(|r| {
                r["status"]
                    .as_str()
                    .and_then(|s| s.parse::<RunStatus>().ok())
                    .is_some_and(RunStatus::is_terminal)
            })
        },
    )
    .await;
    eprintln!(
        "kill -9 → all {} runs terminal in {:?}",
        accepted.len(),
        killed_at.elapsed()
    );
    let runs = statuses(&node.base, &accepted).await;
    let recovered: Vec<&Value> = runs
        .iter()
        .filter(|r| r["error_stage"] == "recovery")
        .collect();
    assert!(
        !recovered.is_empty(),
        "the runs running at the kill are recovered"
    );
    assert!(
        recovered
            .iter()
            .all(|r| r["error_class"] == "internal_error")
    );
    let others: Vec<&Value> = runs
        .iter()
        .filter(|r| r["status"] != "completed" && r["error_stage"] != "recovery")
        .collect();
    assert!(others.is_empty(), "the rest completed: {others:#?}");
    drop(node);
    assert_verified(&db, 30);
}

async fn two_nodes_share_the_work_and_each_run_starts_once(db: TestDb) {
    let start = |node: &'static str| {
        let adjust = move |config: &mut qrun::config::Config| {
            executing(config);
            config.executor.node_id = node.into();
            config.executor.max_active_runs_per_user = 100_000;
        };
        TestApp::spawn_with(TestDb::borrowed(&db.url), adjust, Hooks::default())
    };
    let a = start("node-a").await;
    let b = start("node-b").await;
    let store = a.store().clone();
    let (_, token) = store.create_user("alice").await.unwrap();
    let base_a = a.origin();
    let base_b = b.origin();
    create_bell(&base_a, &token).await;
    let bases = [base_a.clone(), base_b.clone()];
    let started = Instant::now();
    let accepted: Vec<Uuid> =
        futures_util::StreamExt::collect::<Vec<_>>(futures_util::StreamExt::buffer_unordered(
            futures_util::stream::iter((0..500).map(|i| {
                let (base, token) = (bases[i % 2].clone(), token.clone());
                async move {
                    submit(&base, &token, "statevector")
                        .await
                        .expect("accepted")
                }
            })),
            32,
        ))
        .await;
    wait_until(Duration::from_secs(120), "500 runs completed", || async {
        store.run_counts().await.unwrap()[&RunStatus::Completed] == 500
    })
    .await;
    let elapsed = started.elapsed();
    eprintln!(
        "two nodes: 500 runs submitted and completed in {elapsed:?}: {:.0} runs/s",
        500.0 / elapsed.as_secs_f64()
    );
    let mut nodes = BTreeSet::new();
    for id in &accepted {
        let run = store.run(*id).await.unwrap().unwrap();
        nodes.insert(run.claimed_by.unwrap());
        let starts = store
            .audit_timeline(*id)
            .await
            .unwrap()
            .iter()
            .filter(|e| e.action == "run.started")
            .count();
        assert_eq!(starts, 1, "run {id} started {starts} times");
    }
    assert_eq!(
        nodes,
        BTreeSet::from(["node-a".to_string(), "node-b".to_string()]),
        "both nodes work"
    );
    let report = store.verify().await.unwrap();
    assert_eq!(
        (report.runs, report.violations.len()),
        (500, 0),
        "{:?}",
        report.violations
    );
    a.stop().await;
    b.stop().await;
}

async fn a_dead_nodes_runs_are_recovered_by_the_other_after_its_lease(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let config_a = write_config(dir.path(), "node-a", 20.0);
    let config_b = write_config(dir.path(), "node-b", 20.0);
    let token = setup(dir.path(), &db, &config_a);
    let mut a = start_node(dir.path(), &db, &config_a);
    let b = start_node(dir.path(), &db, &config_b);
    create_bell(&a.base, &token).await;
    let mut ids = Vec::new();
    for i in 0..6 {
        ids.extend(submit(if i % 2 == 0 { &a.base } else { &b.base }, &token, "slow").await);
    }
    let app = TestApp::spawn(TestDb::borrowed(&db.url)).await;
    let store = app.store().clone();
    wait_until(
        Duration::from_secs(30),
        "all six running, on both nodes",
        || async {
            let mut nodes = BTreeSet::new();
            for id in &ids {
                let run = store.run(*id).await.unwrap().unwrap();
                if run.status != RunStatus::Running {
                    return false;
                }
                nodes.insert(run.claimed_by.unwrap());
            }
            nodes.len() == 2
        },
    )
    .await;
    let mut on_a = Vec::new();
    for id in &ids {
        if store.run(*id).await.unwrap().unwrap().claimed_by.as_deref() == Some("node-a") {
            on_a.push(*id);
        }
    }
    a.child.kill().unwrap();
    a.child.wait().unwrap();
    let killed_at = Instant::now();
    wait_until(
        Duration::from_secs(30),
        "node-b's watchdog recovers node-a's runs",
        || async {
            let mut all = true;
            for id in &on_a {
                all &= store.run(*id).await.unwrap().unwrap().status == RunStatus::Failed;
            }
            all
        },
    )
    .await;
    let recovery = killed_at.elapsed();
    eprintln!(
        "kill -9 of node-a → its {} runs recovered by node-b in {recovery:?} (lease 2 s, TTL 3600 s)",
        on_a.len()
    );
    for id in &on_a {
        let audit = store.audit_timeline(*id).await.unwrap();
        let last = audit.last().unwrap();
        assert_eq!(last.metadata["reason"], "lease_expired");
        assert_eq!(last.metadata["node"], "node-a");
    }
    // node-b's own runs were untouched; cancel them to finish.
    for id in ids.iter().filter(|id| !on_a.contains(id)) {
        assert_eq!(
            store.run(*id).await.unwrap().unwrap().status,
            RunStatus::Running
        );
        let response = b.api().post_cancel(&token, id).await.unwrap();
        assert_eq!(response.status(), 200);
    }
    drop(b);
    kill_children(dir.path());
    assert!(store.verify().await.unwrap().violations.is_empty());
    app.stop().await;
}

on_both_databases!(
    kill_9_mid_flight_then_restart_loses_nothing,
    two_nodes_share_the_work_and_each_run_starts_once,
    a_dead_nodes_runs_are_recovered_by_the_other_after_its_lease,
);
