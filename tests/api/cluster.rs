//! Nodes sharing one database (docs/DESIGN.md §14, issue 16), as real `qrun serve` processes: a
//! node's clock skew changes no run's fate (every judged time is the database's), submissions
//! and cancels cross nodes at once (PostgreSQL `LISTEN`/`NOTIFY`), a killed listener
//! connection comes back and loses nothing, and three nodes — one API-only, two worker-only —
//! take 3,000 runs with random cancels.
//!
//! Skew and wake-ups are PostgreSQL's: on SQLite every node runs on one machine, so they share
//! one clock, and wake-ups stay in each process (other nodes find work at their claim tick and
//! cancels at their lease renewal). The three-node test runs on both databases.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use qrun::domain::RunStatus;
use rand::Rng;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};
use serde_json::Value;
use uuid::Uuid;

use crate::cli::assert_verified;
use crate::helpers::{TestApp, TestDb, http, process_alive, wait_until};
use crate::nodes::{
    create_bell, kill_children, recorded_pids, setup, start_node, start_node_with, statuses,
    submit, write_config,
};
use crate::serve::Served;

/// Debian's libfaketime (package `faketime`, which `.ci/run` installs), preloaded into the
/// node itself (not through the `faketime` command, which would stand between the test and
/// the node's process): the node sees its clock `offset` from this machine's.
const LIBFAKETIME: &str = "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1";

fn skewed(offset: &'static str) -> [(&'static str, &'static str); 2] {
    assert!(
        Path::new(LIBFAKETIME).exists(),
        "{LIBFAKETIME} is missing: apt-get install faketime (.ci/run does)"
    );
    [("LD_PRELOAD", LIBFAKETIME), ("FAKETIME", offset)]
}

/// A node that only serves the API (`executor.enabled = false`).
const API_ONLY: (&str, &str) = ("QRUN__EXECUTOR__ENABLED", "false");

/// A node that only executes: no API, `/metrics` and health on a free port.
const WORKER_ONLY: [(&str, &str); 2] = [
    ("QRUN__SERVER__ENABLED", "false"),
    ("QRUN__SERVER__OPS_BIND", "127.0.0.1:0"),
];

/// Claims only when woken: a claim tick of 10 minutes never fires within a test.
const NO_CLAIM_TICK: (&str, &str) = ("QRUN__EXECUTOR__CLAIM_INTERVAL_MS", "600000");

fn terminal(run: &Value) -> bool {
    run["status"]
        .as_str()
        .and_then(|s| s.parse::<RunStatus>().ok())
        .is_some_and(RunStatus::is_terminal)
}

async fn wait_all_terminal(base: &str, ids: &[Uuid], within: Duration) {
    wait_until(within, "every run terminal", || async {
        statuses(base, ids).await.iter().all(terminal)
    })
    .await;
}

/// The offset of a node's clock from this machine's, from its `Date` header (whole seconds).
async fn clock_offset(base: &str) -> chrono::TimeDelta {
    let response = http().get(format!("{base}/healthz")).send().await.unwrap();
    let date = response.headers()["date"].to_str().unwrap();
    let theirs = chrono::DateTime::parse_from_rfc2822(date).unwrap();
    theirs.with_timezone(&chrono::Utc) - chrono::Utc::now()
}

async fn connect(db: &TestDb) -> DatabaseConnection {
    sea_orm::Database::connect(db.url.as_str()).await.unwrap()
}

/// The server pids of this database's `LISTEN` connections.
async fn listeners(conn: &DatabaseConnection) -> Vec<i32> {
    let rows = conn
        .query_all_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT pid FROM pg_stat_activity \
             WHERE datname = current_database() AND query LIKE 'LISTEN%' ORDER BY pid",
        ))
        .await
        .unwrap();
    rows.iter()
        .map(|row| row.try_get::<i32>("", "pid").unwrap())
        .collect()
}

/// A store on the same database, for reading what the nodes wrote.
async fn observer(db: &TestDb) -> TestApp {
    TestApp::spawn(TestDb::borrowed(&db.url)).await
}

/// Every audit stamp, and each run's own, is the database's: a timeline strictly increasing
/// and none after the database's now.
async fn assert_timelines_in_database_time(app: &TestApp, ids: &[Uuid]) {
    let now = app.store().now().await.unwrap();
    for id in ids {
        let run = app.store().run(*id).await.unwrap().unwrap();
        let stamps: Vec<_> = [Some(run.created_at), run.started_at, run.completed_at]
            .into_iter()
            .flatten()
            .collect();
        assert!(
            stamps.windows(2).all(|w| w[0] < w[1]),
            "run {id}: {stamps:?}"
        );
        assert!(
            stamps.iter().all(|t| *t <= now),
            "run {id} stamped after now {now}: {stamps:?}"
        );
        let audit: Vec<_> = app
            .store()
            .audit_timeline(*id)
            .await
            .unwrap()
            .iter()
            .map(|e| e.created_at)
            .collect();
        assert_eq!(
            audit, stamps,
            "run {id}: the audit rows carry the run's stamps"
        );
    }
}

/// A node 10 minutes ahead — taking the submissions, sweeping every second with 5 s leases —
/// fails none of the runs a healthy node executes, and every run it created is claimed at
/// once. Before the one clock of docs/DESIGN.md §14, its watchdog judged the healthy node's
/// leases by its own clock and failed them as stranded, and its `created_at` stamps kept its
/// runs from being claimed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_ten_minutes_ahead_fails_no_live_run() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let config_a = write_config(dir, "node-a", 8.0);
    let config_b = write_config(dir, "node-b", 8.0);
    let token = setup(dir, &db, &config_a);
    // The setting: 5 s leases (renewed every 5/3 s), node-b sweeping every second.
    let lease = ("QRUN__EXECUTOR__LEASE_TTL_S", "5");
    let a = start_node_with(dir, &db, &config_a, &[lease]);
    let b = start_node_with(
        dir,
        &db,
        &config_b,
        &[&skewed("+10m")[..], &[API_ONLY, lease]].concat(),
    );
    let offset = clock_offset(&b.base).await;
    assert!(
        (offset - chrono::TimeDelta::minutes(10))
            .num_seconds()
            .abs()
            <= 5,
        "node-b runs 10 minutes ahead: {offset}"
    );
    create_bell(&b.base, &token).await;
    let mut ids = Vec::new();
    for i in 0..8 {
        let backend = if i < 3 { "slow" } else { "statevector" };
        ids.push(submit(&b.base, &token, backend).await.expect("accepted"));
    }
    // The slow runs execute for 8 s: past their first lease, eight sweeps of node-b.
    wait_all_terminal(&a.base, &ids, Duration::from_secs(60)).await;
    let runs = statuses(&a.base, &ids).await;
    assert!(runs.iter().all(|r| r["status"] == "completed"), "{runs:#?}");
    let app = observer(&db).await;
    for id in &ids {
        let run = app.store().run(*id).await.unwrap().unwrap();
        assert_eq!(run.claimed_by.as_deref(), Some("node-a"));
    }
    assert_timelines_in_database_time(&app, &ids).await;
    app.stop().await;
}

/// A node 10 minutes behind recovers a dead node's runs within about one lease (2 s, swept
/// every second). Before the one clock of docs/DESIGN.md §14, it saw the dead node's leases as
/// valid for 10 more minutes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_ten_minutes_behind_recovers_a_dead_nodes_runs_within_about_a_lease() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let config_a = write_config(dir, "node-a", 60.0);
    let config_b = write_config(dir, "node-b", 60.0);
    let token = setup(dir, &db, &config_a);
    let mut a = start_node(dir, &db, &config_a);
    let b = start_node_with(
        dir,
        &db,
        &config_b,
        &[&skewed("-10m")[..], &[API_ONLY]].concat(),
    );
    let offset = clock_offset(&b.base).await;
    assert!(
        (offset + chrono::TimeDelta::minutes(10))
            .num_seconds()
            .abs()
            <= 5,
        "node-b runs 10 minutes behind: {offset}"
    );
    create_bell(&a.base, &token).await;
    let mut ids = Vec::new();
    for _ in 0..2 {
        ids.push(submit(&a.base, &token, "slow").await.expect("accepted"));
    }
    wait_until(Duration::from_secs(30), "both running", || async {
        statuses(&a.base, &ids)
            .await
            .iter()
            .all(|r| r["status"] == "running")
    })
    .await;
    a.child.kill().unwrap();
    a.child.wait().unwrap();
    kill_children(dir);
    let killed = Instant::now();
    // A lease (2 s) and a sweep (1 s) after the last renewal; 15 s allows a loaded machine.
    wait_all_terminal(&b.base, &ids, Duration::from_secs(15)).await;
    eprintln!(
        "node-b (10 min behind) recovered node-a's runs {:?} after the kill",
        killed.elapsed()
    );
    for run in statuses(&b.base, &ids).await {
        assert_eq!(run["status"], "failed", "{run:#}");
        assert_eq!(run["error_stage"], "recovery", "{run:#}");
    }
    let app = observer(&db).await;
    for id in &ids {
        let audit = app.store().audit_timeline(*id).await.unwrap();
        assert_eq!(audit.last().unwrap().metadata["reason"], "lease_expired");
    }
    assert_timelines_in_database_time(&app, &ids).await;
    app.stop().await;
}

/// An API-only node and a worker-only node that claims only when woken (its claim tick is 10
/// minutes), with a user's token and `alice/bell` uploaded; the slow backend sleeps `sleep` s.
struct Pair {
    dir: tempfile::TempDir,
    token: String,
    api: Served,
    worker: Served,
}

impl Pair {
    async fn start(db: &TestDb, sleep: f64, worker_env: &[(&str, &str)]) -> Pair {
        let dir = tempfile::tempdir().unwrap();
        let config_api = write_config(dir.path(), "api", sleep);
        let config_worker = write_config(dir.path(), "worker", sleep);
        let token = setup(dir.path(), db, &config_api);
        let api = start_node_with(dir.path(), db, &config_api, &[API_ONLY]);
        let env = [
            &[WORKER_ONLY[0], WORKER_ONLY[1], NO_CLAIM_TICK][..],
            worker_env,
        ]
        .concat();
        let worker = start_node_with(dir.path(), db, &config_worker, &env);
        create_bell(&api.base, &token).await;
        Pair {
            dir,
            token,
            api,
            worker,
        }
    }
}

/// An API-only node and a worker-only node: a submission is claimed without waiting for a
/// claim tick (the worker's is 10 minutes), and a cancel through the API node kills the
/// run's child process on the worker at once — not at the next lease renewal (every 20 s
/// here). The worker serves only `/metrics`, `/healthz` and `/readyz`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submissions_and_cancels_cross_nodes_at_once() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let pair = Pair::start(&db, 600.0, &[("QRUN__EXECUTOR__LEASE_TTL_S", "60")]).await;
    let (dir, api, worker, token) = (pair.dir.path(), &pair.api, &pair.worker, &pair.token);
    assert_worker_only(worker).await;
    let conn = connect(&db).await;
    wait_until(Duration::from_secs(10), "the worker listens", || async {
        listeners(&conn).await.len() == 1
    })
    .await;

    for round in 0..3 {
        let id = submit(&api.base, token, "slow").await.expect("accepted");
        wait_until(Duration::from_secs(5), "claimed by the worker", || async {
            statuses(&api.base, &[id]).await[0]["status"] == "running"
        })
        .await;
        let pid = wait_for_child(dir, round).await;
        let response = http()
            .post(format!("{}/api/runs/{id}/cancel", api.base))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let answered = Instant::now();
        // The renewal that would otherwise notice comes 20 s later.
        wait_until(Duration::from_secs(2), "the child gone", || async {
            !process_alive(pid)
        })
        .await;
        eprintln!(
            "cross-node cancel: child {pid} gone {:?} after the answer",
            answered.elapsed()
        );
        assert_eq!(statuses(&api.base, &[id]).await[0]["status"], "cancelled");
    }
}

/// Waits until the slow backend's `n`-th child (0-based) recorded its pid.
async fn wait_for_child(dir: &Path, n: usize) -> u32 {
    wait_until(Duration::from_secs(10), "the child's pid", || async {
        recorded_pids(dir).len() > n
    })
    .await;
    recorded_pids(dir)[n]
}

async fn assert_worker_only(worker: &Served) {
    for path in ["/healthz", "/readyz", "/metrics"] {
        let response = http()
            .get(format!("{}{path}", worker.base))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{path}");
    }
    let response = http()
        .get(format!("{}/api/runs", worker.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "route_not_found");
}

/// The worker's `LISTEN` connection is terminated by the server (`pg_terminate_backend`),
/// three times: each time it is made again, counted in `qrun_listener_reconnects_total`, and a
/// run submitted right after the kill — while the worker may not be listening — is still
/// claimed without waiting for a claim tick (the listener re-reads when it resumes).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_listener_comes_back_and_loses_nothing() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let pair = Pair::start(&db, 0.0, &[]).await;
    let (api, worker, token) = (&pair.api, &pair.worker, &pair.token);
    let conn = connect(&db).await;
    for kill in 1..=3 {
        wait_until(Duration::from_secs(10), "the worker listens", || async {
            listeners(&conn).await.len() == 1
        })
        .await;
        let before = listeners(&conn).await[0];
        conn.execute_raw(Statement::from_string(
            DbBackend::Postgres,
            format!("SELECT pg_terminate_backend({before})"),
        ))
        .await
        .unwrap();
        let id = submit(&api.base, token, "statevector")
            .await
            .expect("accepted");
        wait_until(Duration::from_secs(10), "the run completes", || async {
            statuses(&api.base, &[id]).await[0]["status"] == "completed"
        })
        .await;
        wait_until(Duration::from_secs(10), "a new listener", || async {
            let now = listeners(&conn).await;
            now.len() == 1 && now[0] != before
        })
        .await;
        let metrics = worker.api().metrics().await.unwrap();
        assert!(
            metrics
                .lines()
                .any(|l| l == format!("qrun_listener_reconnects_total {kill}")),
            "{metrics}"
        );
    }
}

/// Three nodes on one database — one API-only, two worker-only — and 3,000 runs, a tenth of
/// them cancelled at random moments through the API node: every run started at most once
/// (on a worker), ended once, both workers worked, and `qrun verify` finds nothing.
async fn three_nodes_take_3000_runs_with_random_cancels(db: TestDb) {
    const RUNS: usize = 3000;
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let config = |node| write_config(dir, node, 0.0);
    let (config_api, config_w1, config_w2) = (config("api"), config("w1"), config("w2"));
    let token = setup(dir, &db, &config_api);
    let api = start_node_with(dir, &db, &config_api, &[API_ONLY]);
    let workers: Vec<Served> = [&config_w1, &config_w2]
        .into_iter()
        .map(|config| {
            start_node_with(
                dir,
                &db,
                config,
                &[
                    WORKER_ONLY[0],
                    WORKER_ONLY[1],
                    ("QRUN__EXECUTOR__MAX_CONCURRENT_RUNS", "8"),
                    // The default lease: write_config's 2 s is for recovery tests, and three
                    // processes on one SQLite file under a loaded test machine can hold a
                    // renewal behind the write lock that long.
                    ("QRUN__EXECUTOR__LEASE_TTL_S", "30"),
                ],
            )
        })
        .collect();
    create_bell(&api.base, &token).await;
    let started = Instant::now();
    let outcomes: Vec<(Uuid, bool)> = futures_util::stream::iter(0..RUNS)
        .map(|_| {
            let (base, token) = (api.base.clone(), token.clone());
            async move {
                let id = submit(&base, &token, "statevector")
                    .await
                    .expect("accepted");
                let cancel = rand::rng().random_ratio(1, 10);
                if cancel {
                    let response = http()
                        .post(format!("{base}/api/runs/{id}/cancel"))
                        .bearer_auth(&token)
                        .send()
                        .await
                        .unwrap();
                    // 409: it ended first.
                    assert!(
                        [200, 409].contains(&response.status().as_u16()),
                        "{response:?}"
                    );
                }
                (id, cancel)
            }
        })
        .buffer_unordered(32)
        .collect()
        .await;
    let ids: Vec<Uuid> = outcomes.iter().map(|(id, _)| *id).collect();
    let app = observer(&db).await;
    wait_until(Duration::from_secs(600), "3000 runs terminal", || async {
        let counts = app.store().run_counts().await.unwrap();
        counts[&RunStatus::Pending] + counts[&RunStatus::Running] == 0
    })
    .await;
    let counts = app.store().run_counts().await.unwrap();
    eprintln!(
        "three nodes: {RUNS} runs ({} cancel requests) terminal in {:?}: {counts:?}",
        outcomes.iter().filter(|(_, c)| *c).count(),
        started.elapsed()
    );
    if counts[&RunStatus::Failed] > 0 {
        let mut failed = Vec::new();
        for id in &ids {
            let run = app.store().run(*id).await.unwrap().unwrap();
            if run.status == RunStatus::Failed {
                failed.push((run.claimed_by, run.error_class, run.error_message));
            }
        }
        panic!("runs failed: {failed:#?}");
    }
    assert!(counts[&RunStatus::Cancelled] > 0, "{counts:?}");

    let mut by_node: BTreeMap<String, usize> = BTreeMap::new();
    for id in &ids {
        let audit = app.store().audit_timeline(*id).await.unwrap();
        let actions: Vec<&str> = audit.iter().map(|e| e.action.as_str()).collect();
        let starts = actions.iter().filter(|a| **a == "run.started").count();
        let ends = actions
            .iter()
            .filter(|a| ["run.completed", "run.failed", "run.cancelled"].contains(a))
            .count();
        assert!(starts <= 1 && ends == 1, "run {id}: {actions:?}");
        if let Some(node) = app.store().run(*id).await.unwrap().unwrap().claimed_by {
            *by_node.entry(node).or_default() += 1;
        }
    }
    assert_eq!(
        by_node.keys().map(String::as_str).collect::<Vec<_>>(),
        ["w1", "w2"],
        "both workers, and only they, executed: {by_node:?}"
    );
    app.stop().await;
    drop((api, workers));
    assert_verified(&db, RUNS);
}

/// Three nodes started at the same moment on a fresh database with `database.migrate = "auto"`
/// all come up: migrations run one node after another (PostgreSQL: an advisory lock), not racing to create the same tables
/// (which failed two of three with a duplicate `pg_type` key).
async fn nodes_started_together_on_a_fresh_database_all_come_up(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path().to_owned();
    let starts: Vec<_> = ["n1", "n2", "n3"]
        .into_iter()
        .map(|node| {
            let (dir, url) = (dir.clone(), db.url.clone());
            std::thread::spawn(move || {
                let config = write_config(&dir, node, 0.0);
                crate::serve::serve(
                    &dir,
                    &[
                        ("QRUN_CONFIG", config.to_str().unwrap()),
                        ("QRUN__DATABASE__URL", url.as_str()),
                        ("QRUN__DATABASE__MIGRATE", "auto"),
                        ("QRUN__LOGGING__LEVEL", "warn,qrun=info"),
                    ],
                )
            })
        })
        .collect();
    let nodes: Vec<Served> = starts.into_iter().map(|s| s.join().unwrap()).collect();
    for node in &nodes {
        let ready = http()
            .get(format!("{}/readyz", node.base))
            .send()
            .await
            .unwrap();
        assert_eq!(ready.status(), 200);
    }
}

crate::on_both_databases!(
    three_nodes_take_3000_runs_with_random_cancels,
    nodes_started_together_on_a_fresh_database_all_come_up,
);
