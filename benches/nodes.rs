//! Nodes sharing one PostgreSQL database (issue 16): cross-node cancel and claim latency, and
//! end-to-end throughput with 1, 2 or 3 worker nodes behind one API-only node.
//!
//! ```sh
//! cargo build --release --bin qrun
//! cargo bench --bench nodes -- cancel --runs 50          # cancel answered → child gone
//! cargo bench --bench nodes -- claim --runs 200          # 201 on the API node → claimed
//! cargo bench --bench nodes -- throughput --workers 2    # runs/s and the CPU split
//! cargo bench --bench nodes -- throughput --backlog --concurrency 512   # draining a backlog
//! cargo bench --bench nodes -- throughput --backlog --users 100 # 100 users' queues
//! cargo bench --bench nodes -- cancel --bin /work/baseline-qrun   # another binary
//! ```
//!
//! Every mode serves a fresh PostgreSQL database (created beside `QRUN_BENCH_POSTGRES_URL`,
//! default `postgres://postgres@127.0.0.1:5432/test`, dropped afterwards) with real
//! `qrun serve` processes of `--bin`: one API-only node (`executor.enabled = false`) that takes
//! every request, and worker nodes that execute. A worker is an ordinary full node whose API
//! listens on a port nobody uses (`127.0.0.1:0`), so that binaries without node roles
//! (`server.enabled`) run the same bench. Every node has the same configuration but
//! `executor.enabled`, with `executor.claim_interval_ms` and `executor.lease_ttl_s` as given
//! (defaults: those of `config/default.toml`), printed: without wake-ups between nodes those
//! two timers are what the latencies are made of.
//!
//! - `cancel`: one worker; a command backend (unsandboxed) whose program records its PID
//!   (`echo $$ >> pids`) and `exec`s `sleep 600`. One run at a time: submitted through the API
//!   node, its child's PID read once it appears, held a random 0..`--hold-ms` (default: the
//!   lease renewal period, `lease_ttl_s / 3`, so the cancel lands at a random phase of a
//!   renewal timer rather than in step with it), cancelled through the API node; the latency
//!   runs from the cancel's answer (its response head) to the child being dead
//!   (`/proc/PID/stat` gone or a zombie, polled every millisecond from a blocking thread).
//! - `claim`: one worker; Bell × 100 shots on the built-in simulator, one run at a time, each
//!   after a random pause of 0..`--pause-ms` (default 500, one claim interval: submissions
//!   land at random phases of the claim timer). Two figures: `runs.started_at -
//!   runs.created_at` from the database (both nodes are on this machine: one clock), and, from
//!   the client, the 201's answer to the first `GET /api/runs/ID` on the API node (polled
//!   every millisecond) that shows the run no longer pending.
//! - `throughput`: `--workers` workers (`max_concurrent_runs = --concurrency`); `--clients`
//!   closed-loop clients submit Bell × 100 shots with analytics consent through the API node
//!   until `--runs` are accepted (client `i` as user `i % --users`: a fair-share claim
//!   chooses among that many users' queues), as `benches/e2e.rs` does; runs/s from the first submission
//!   to the last completion (the workers' `qrun_runs_finished_total`, polled every 20 ms).
//!   With it, the CPU seconds each process spent meanwhile (utime + stime + those of reaped
//!   children, from `/proc/PID/stat`, before and after): each qrun node, PostgreSQL's
//!   backends of this database (`pg_stat_activity`; one that exited in between is lost),
//!   every `postgres` process (its background writers, and whatever else the server served
//!   meanwhile), this bench, and the whole machine (`/proc/stat`). With `--backlog` every run
//!   is submitted first, with no worker up; the workers then start, and runs/s and the CPU
//!   split run from their start to the last completion (graphile-worker's figure has this
//!   shape: jobs enqueued in bulk, then processed).
//!
//! The nodes' logs go to `$CARGO_TARGET_DIR/nodes/MODE-TIMESTAMP.log` (default `target/`).

mod support;

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};

use support::{Db, Error, Finished, Log, SIMULATOR_BACKEND, Server, TestDb, machine, percentiles};

#[derive(Parser)]
struct Args {
    #[command(subcommand)]
    mode: Mode,
    /// The qrun binary to benchmark.
    #[arg(long, global = true, default_value = "target/release/qrun")]
    bin: PathBuf,
    /// Nodes share a database only on PostgreSQL.
    #[arg(long, global = true, value_enum, default_value_t = Db::Postgres)]
    db: Db,
    /// `executor.claim_interval_ms` of every node.
    #[arg(long, global = true, default_value_t = 500)]
    claim_interval_ms: u64,
    /// `executor.lease_ttl_s` of every node (leases are renewed every third of it).
    #[arg(long, global = true, default_value_t = 30)]
    lease_ttl_s: u64,
    /// Passed by `cargo bench`; ignored.
    #[arg(long, global = true, hide = true)]
    bench: bool,
}

#[derive(Subcommand)]
enum Mode {
    /// A run executing on a worker, cancelled through the API node: cancel answered → its
    /// child process gone. One run at a time.
    Cancel {
        #[arg(long, default_value_t = 50)]
        runs: usize,
        /// Each run is cancelled a random 0..HOLD_MS after its child started (default: the
        /// lease renewal period, `lease_ttl_s * 1000 / 3`).
        #[arg(long)]
        hold_ms: Option<u64>,
    },
    /// Submitted through the API node (201) → claimed by the worker. One run at a time.
    Claim {
        #[arg(long, default_value_t = 200)]
        runs: usize,
        /// A random 0..PAUSE_MS before each submission.
        #[arg(long, default_value_t = 500)]
        pause_ms: u64,
    },
    /// Closed loop through the API node, executed by `workers` worker nodes: runs/s and the
    /// CPU split.
    Throughput {
        #[arg(long, default_value_t = 1)]
        workers: usize,
        #[arg(long, default_value_t = 32)]
        clients: usize,
        /// Users the clients submit as (client `i` as user `i % users`): fair-share claims
        /// choose among this many users' queues.
        #[arg(long, default_value_t = 1)]
        users: usize,
        #[arg(long, default_value_t = 10_000)]
        runs: u64,
        /// `executor.max_concurrent_runs` of each worker.
        #[arg(long, default_value_t = 32)]
        concurrency: u64,
        /// Submit every run first, with no worker up; then start the workers and time them
        /// draining the backlog (graphile-worker's figure: jobs enqueued, then processed).
        #[arg(long)]
        backlog: bool,
    },
}

impl Mode {
    fn name(&self) -> &'static str {
        match self {
            Mode::Cancel { .. } => "cancel",
            Mode::Claim { .. } => "claim",
            Mode::Throughput { .. } => "throughput",
        }
    }
}

fn main() -> Result<(), Error> {
    let args = Args::parse();
    rustls::crypto::ring::default_provider()
        .install_default()
        .map_err(|_| "installing the TLS provider failed")?;
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(run(args))
}

async fn run(args: Args) -> Result<(), Error> {
    if !args.bin.exists() {
        return Err(format!(
            "{} not found: `cargo build --release --bin qrun` first",
            args.bin.display()
        )
        .into());
    }
    if args.db != Db::Postgres {
        return Err("nodes share a database only on PostgreSQL: --db postgres".into());
    }
    let rerun = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect::<Vec<_>>();
    println!("machine: {}", machine());
    println!("binary: {}", args.bin.display());
    println!(
        "every node: executor.claim_interval_ms = {}, executor.lease_ttl_s = {} (leases renewed \
         every {} ms); other timers at their defaults (watchdog.interval_s = 10)",
        args.claim_interval_ms,
        args.lease_ttl_s,
        renew_ms(args.lease_ttl_s)
    );
    let nodes = Nodes::create(&args).await?;
    println!("node logs: {}", nodes.log_path.display());
    match args.mode {
        Mode::Cancel { runs, hold_ms } => {
            let hold_ms = hold_ms.unwrap_or_else(|| renew_ms(args.lease_ttl_s));
            cancel(&args, &nodes, runs, hold_ms).await?;
        }
        Mode::Claim { runs, pause_ms } => claim(&args, &nodes, runs, pause_ms).await?,
        Mode::Throughput {
            workers,
            clients,
            users,
            runs,
            concurrency,
            backlog,
        } => {
            let load = Load {
                clients,
                users,
                runs,
                backlog,
            };
            throughput(&nodes, workers, concurrency, load).await?
        }
    }
    println!("rerun: cargo bench --bench nodes -- {}", rerun.join(" "));
    Ok(())
}

fn renew_ms(lease_ttl_s: u64) -> u64 {
    (lease_ttl_s * 1000 / 3).max(100)
}

// ---------------------------------------------------------------------------------------------
// The modes

async fn cancel(args: &Args, nodes: &Nodes, runs: usize, hold_ms: u64) -> Result<(), Error> {
    println!(
        "mode: cancel, {runs} runs one at a time, each cancelled a random 0..{hold_ms} ms after \
         its child started; 1 API-only node, 1 worker; command backend `sleeper` \
         (unsandboxed: a shell script that records its PID and execs sleep 600)"
    );
    let api = nodes.api(sleeper()).await?;
    let worker = nodes.worker(1, sleeper()).await?;
    println!("API node pid {}, worker pid {}", api.pid(), worker.pid());
    let patience = Duration::from_secs(args.lease_ttl_s + 60);
    let mut latencies = Vec::with_capacity(runs);
    let mut early = 0;
    for i in 0..runs {
        let (id, _) = submit(&api, &sleeper()).await?;
        let pid = nodes
            .wait_pid(i, Duration::from_millis(args.claim_interval_ms) + patience)
            .await?;
        tokio::time::sleep(Duration::from_millis(rand::random_range(0..=hold_ms))).await;
        if !alive(pid) {
            return Err(format!("run {id}: its child {pid} died before the cancel").into());
        }
        let watcher = watch(pid, patience);
        let answered = cancel_run(&api, &id).await?;
        let Some(gone) = watcher.await? else {
            return Err(format!(
                "run {id}: its child {pid} is still alive {} s after the cancel",
                patience.as_secs()
            )
            .into());
        };
        let latency = match gone.checked_duration_since(answered) {
            Some(latency) => latency,
            None => {
                early += 1;
                Duration::ZERO
            }
        };
        eprintln!(
            "run {}/{runs}: child {pid} gone {:.1} ms after the cancel's answer",
            i + 1,
            latency.as_secs_f64() * 1000.0
        );
        latencies.push(latency.as_secs_f64() * 1000.0);
    }
    println!(
        "cross-node cancel, answered → child gone: {}",
        percentiles(&mut latencies)
    );
    if early > 0 {
        println!("({early} children were gone before the cancel's answer arrived: counted as 0)");
    }
    let statuses = run_statuses(nodes)?;
    println!("runs in the database: {statuses}");
    Ok(())
}

async fn claim(args: &Args, nodes: &Nodes, runs: usize, pause_ms: u64) -> Result<(), Error> {
    println!(
        "mode: claim, {runs} runs of Bell × 100 shots one at a time, each after a random \
         0..{pause_ms} ms pause; 1 API-only node, 1 worker"
    );
    let api = nodes.api(simulator()).await?;
    let worker = nodes.worker(1, simulator()).await?;
    println!("API node pid {}, worker pid {}", api.pid(), worker.pid());
    let mut observed = Vec::with_capacity(runs);
    for _ in 0..runs {
        tokio::time::sleep(Duration::from_millis(rand::random_range(0..=pause_ms))).await;
        let (id, answered) = submit(&api, &simulator()).await?;
        let deadline =
            answered + Duration::from_millis(args.claim_interval_ms) + Duration::from_secs(60);
        let mut claimed = None;
        loop {
            match run_status(&api, &id).await?.as_str() {
                "pending" => {}
                "running" => {
                    claimed.get_or_insert_with(|| answered.elapsed());
                }
                "completed" => {
                    claimed.get_or_insert_with(|| answered.elapsed());
                    break;
                }
                other => return Err(format!("run {id} ended {other}").into()),
            }
            if Instant::now() > deadline {
                return Err(format!("run {id} did not complete within a minute").into());
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        if let Some(claimed) = claimed {
            observed.push(claimed.as_secs_f64() * 1000.0);
        }
    }
    let mut database: Vec<f64> = support::psql_query(
        &nodes.db.url,
        "select extract(epoch from started_at - created_at) * 1000 from runs \
         where started_at is not null",
    )?
    .lines()
    .filter_map(|l| l.trim().parse().ok())
    .collect();
    if database.len() != runs {
        return Err(format!("{} of {runs} runs have started_at", database.len()).into());
    }
    println!(
        "cross-node claim, database (started_at - created_at): {}",
        percentiles(&mut database)
    );
    println!(
        "cross-node claim, client (201 answered → GET shows it no longer pending, polled \
         every 1 ms): {}",
        percentiles(&mut observed)
    );
    println!("runs in the database: {}", run_statuses(nodes)?);
    Ok(())
}

/// What the clients of `throughput` do.
struct Load {
    clients: usize,
    users: usize,
    runs: u64,
    backlog: bool,
}

async fn throughput(
    nodes: &Nodes,
    workers: usize,
    concurrency: u64,
    load: Load,
) -> Result<(), Error> {
    let Load {
        clients,
        users,
        runs,
        backlog,
    } = load;
    println!(
        "mode: throughput, {clients} clients as {users} user(s), {runs} runs of Bell × 100 \
         shots; 1 API-only node, {workers} worker(s) with max_concurrent_runs = {concurrency}{}",
        if backlog {
            "; every run submitted before the workers start, timed from their start"
        } else {
            ""
        }
    );
    let api = nodes.api(simulator()).await?;
    let mut tokens = vec![nodes.token.clone()];
    for _ in 1..users.max(1) {
        tokens.push(support::create_user(&nodes.bin, &nodes.api_config)?);
    }
    let (admin, name) = nodes.db.postgres_database().ok_or("not PostgreSQL")?;
    let mut pool = Vec::with_capacity(workers);
    let mut submissions = None;
    if backlog {
        submissions = Some(api.submit_closed_loop(&tokens, clients, runs).await?);
    }
    let mut cpu_before = CpuSample::take(&[api.pid()], admin, name)?;
    let start = Instant::now();
    for k in 0..workers {
        pool.push(nodes.worker(k + 1, simulator()).await?);
    }
    // A worker started now has spent nothing yet; one started before the clients, its start.
    let mut pids = vec![api.pid()];
    pids.extend(pool.iter().map(Server::pid));
    let mut befores = Vec::with_capacity(workers);
    for worker in &pool {
        befores.push(if backlog {
            Finished::default()
        } else {
            worker.finished().await?
        });
    }
    let (start, submissions) = match submissions {
        Some(submissions) => {
            cpu_before.nodes.resize(pids.len(), 0);
            (start, submissions)
        }
        None => {
            cpu_before = CpuSample::take(&pids, admin, name)?;
            let start = Instant::now();
            (start, api.submit_closed_loop(&tokens, clients, runs).await?)
        }
    };
    let (mut latencies, submitted) = submissions;
    let done = wait_finished(&pool, &befores, runs).await?;
    let all = start.elapsed();
    let cpu_after = CpuSample::take(&pids, admin, name)?;

    let completed: u64 = done.iter().map(|f| f.completed).sum();
    let failed: u64 = done.iter().map(|f| f.failed).sum();
    println!(
        "accepted {runs} in {:.2} s: {:.0} submissions/s; submit latency {}",
        submitted.as_secs_f64(),
        runs as f64 / submitted.as_secs_f64(),
        percentiles(&mut latencies)
    );
    println!(
        "finished {} ({completed} completed, {failed} failed) in {:.2} s from the {}: {:.0} \
         runs/s {} with {workers} worker(s)",
        completed + failed,
        all.as_secs_f64(),
        if backlog {
            "workers' start"
        } else {
            "first submission"
        },
        runs as f64 / all.as_secs_f64(),
        if backlog {
            "draining the backlog"
        } else {
            "end to end"
        }
    );
    let executed = done
        .iter()
        .enumerate()
        .map(|(k, f)| format!("worker {} {}", k + 1, f.total()))
        .collect::<Vec<_>>()
        .join(", ");
    println!("runs executed per worker: {executed}");

    let tck = clock_ticks();
    let secs = |ticks: u64| ticks as f64 / tck;
    let per_run = |ticks: u64| secs(ticks) * 1000.0 / runs as f64;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "CPU seconds from the {} to the last completion ({:.2} s wall × {cores} \
         cores = {:.2} CPU-s; /proc/PID/stat utime+stime+cutime+cstime at {tck} ticks/s):",
        if backlog {
            "workers' start"
        } else {
            "first submission"
        },
        all.as_secs_f64(),
        all.as_secs_f64() * cores as f64
    );
    let mut lines = Vec::new();
    let node = |i: usize| cpu_after.nodes[i].saturating_sub(cpu_before.nodes[i]);
    lines.push((format!("qrun API-only node (pid {})", pids[0]), node(0)));
    for k in 0..workers {
        lines.push((
            format!("qrun worker {} (pid {})", k + 1, pids[k + 1]),
            node(k + 1),
        ));
    }
    let qrun: u64 = (0..pids.len()).map(node).sum();
    lines.push(("qrun, all nodes".to_owned(), qrun));
    let (backends, pg_db) = cpu_after.postgres_db_since(&cpu_before);
    lines.push((
        format!("postgres, this database's backends ({backends})"),
        pg_db,
    ));
    lines.push((
        "postgres, every process (its writers, other databases)".to_owned(),
        cpu_after
            .postgres_all
            .saturating_sub(cpu_before.postgres_all),
    ));
    lines.push((
        "this bench (the clients)".to_owned(),
        cpu_after.me.saturating_sub(cpu_before.me),
    ));
    lines.push((
        "the machine, all busy CPU (/proc/stat)".to_owned(),
        cpu_after.machine.saturating_sub(cpu_before.machine),
    ));
    let width = lines.iter().map(|(l, _)| l.len()).max().unwrap_or(0);
    for (label, ticks) in lines {
        println!(
            "  {label:<width$}  {:>8.2} s  {:>6.3} ms/run",
            secs(ticks),
            per_run(ticks)
        );
    }
    if failed > 0 {
        return Err(format!("{failed} runs failed").into());
    }
    Ok(())
}

/// Waits until the workers have finished `runs` runs since `befores`; each worker's count.
async fn wait_finished(
    workers: &[Server],
    befores: &[Finished],
    runs: u64,
) -> Result<Vec<Finished>, Error> {
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let mut done = Vec::with_capacity(workers.len());
        for (worker, before) in workers.iter().zip(befores) {
            done.push(worker.finished().await?.minus(before));
        }
        let total: u64 = done.iter().map(Finished::total).sum();
        if total >= runs {
            return Ok(done);
        }
        if Instant::now() > deadline {
            return Err(format!("only {total} of {runs} runs finished").into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

// ---------------------------------------------------------------------------------------------
// The nodes

/// The database, the nodes' configuration files, their user and circuit.
struct Nodes {
    db: TestDb,
    bin: PathBuf,
    api_config: PathBuf,
    worker_config: PathBuf,
    token: String,
    /// Where the sleeper records its PIDs, one a line.
    pids: PathBuf,
    log: Log,
    log_path: PathBuf,
    /// Set by the API node's start (it creates the circuit).
    circuit_id: Mutex<String>,
}

impl Nodes {
    async fn create(args: &Args) -> Result<Nodes, Error> {
        let db = support::database(args.db, "qrun_nodes").await?;
        let script = db.dir().join("sleeper.sh");
        let pids = db.dir().join("pids");
        std::fs::write(&pids, "")?;
        std::fs::write(
            &script,
            format!(
                "#!/bin/sh\n# A run that executes until it is stopped: records its PID, then sleeps.\n\
                 /usr/bin/cat > /dev/null\necho $$ >> {}\nexec /usr/bin/sleep 600\n",
                pids.display()
            ),
        )?;
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755))?;
        // Written by the runs, which a root service runs as `nobody`.
        std::fs::set_permissions(&pids, std::fs::Permissions::from_mode(0o666))?;
        let api_config = support::write_config(&db, &config(&db, args, false, 8, &script))?;
        let concurrency = match args.mode {
            Mode::Throughput { concurrency, .. } => concurrency,
            _ => 8,
        };
        let worker_config =
            support::write_config(&db, &config(&db, args, true, concurrency, &script))?;
        let token = support::create_user(&args.bin, &api_config)?;
        let target = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into());
        let dir = Path::new(&target).join("nodes");
        std::fs::create_dir_all(&dir)?;
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_secs();
        let log_path = dir.join(format!("{}-{stamp}.log", args.mode.name()));
        let log: Log = Arc::new(Mutex::new(std::fs::File::create(&log_path)?));
        Ok(Nodes {
            db,
            bin: args.bin.clone(),
            api_config,
            worker_config,
            token,
            pids,
            log,
            log_path,
            circuit_id: Mutex::new(String::new()),
        })
    }

    /// Starts the API-only node and creates the public Bell circuit every run uses.
    async fn api(&self, backend: serde_json::Value) -> Result<Server, Error> {
        let mut server = Server::serve(
            &self.bin,
            &self.api_config,
            self.token.clone(),
            String::new(),
            backend,
            Some((self.log.clone(), "[api] ".to_owned())),
        )
        .await?;
        server.circuit_id = server.create_circuit().await?;
        *self.circuit_id.lock().unwrap() = server.circuit_id.clone();
        Ok(server)
    }

    /// Starts worker `k` (an executing node whose API nobody uses).
    async fn worker(&self, k: usize, backend: serde_json::Value) -> Result<Server, Error> {
        let circuit_id = self.circuit_id.lock().unwrap().clone();
        Server::serve(
            &self.bin,
            &self.worker_config,
            self.token.clone(),
            circuit_id,
            backend,
            Some((self.log.clone(), format!("[worker {k}] "))),
        )
        .await
    }

    /// The PID the `i`th sleeper recorded (counting from 0), once it has.
    async fn wait_pid(&self, i: usize, patience: Duration) -> Result<u32, Error> {
        let deadline = Instant::now() + patience;
        loop {
            let pids = std::fs::read_to_string(&self.pids)?;
            if let Some(line) = pids.lines().nth(i) {
                return Ok(line.trim().parse()?);
            }
            if Instant::now() > deadline {
                return Err(format!("run {} never started its child", i + 1).into());
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
}

/// A node's configuration file: the same for every node but `executor.enabled`.
fn config(db: &TestDb, args: &Args, executes: bool, concurrency: u64, script: &Path) -> String {
    let mut toml = format!(
        r#"
[server]
shutdown_grace_s = 1
bind = "127.0.0.1:0"
[database]
url = "{url}"
max_connections = 16
[executor]
enabled = {executes}
max_concurrent_runs = {concurrency}
max_pending_runs = 10000000
max_active_runs_per_user = 10000000
user_submissions_per_s = 10000000
user_submission_burst = 10000000
claim_interval_ms = {claim}
lease_ttl_s = {lease}
[logging]
level = "warn,qrun::app=info"
{simulator}"#,
        simulator = SIMULATOR_BACKEND,
        url = db.url,
        claim = args.claim_interval_ms,
        lease = args.lease_ttl_s,
    );
    let _ = write!(
        toml,
        r#"
[[backends]]
type = "command"
name = "sleeper"
program = "{script}"
timeout_s = 900
[backends.sandbox]
enabled = false
"#,
        script = script.display()
    );
    toml
}

fn simulator() -> serde_json::Value {
    serde_json::json!({"type": "simulator", "name": "statevector"})
}

fn sleeper() -> serde_json::Value {
    serde_json::json!({"type": "command", "name": "sleeper"})
}

// ---------------------------------------------------------------------------------------------
// Requests

/// Submits a run of the node's circuit to `backend`: its id, and when the 201's head arrived.
async fn submit(node: &Server, backend: &serde_json::Value) -> Result<(String, Instant), Error> {
    let body = serde_json::json!({
        "circuit_id": node.circuit_id,
        "backend": backend,
        "shots": 100,
    });
    let response = node.api.post_run(&node.token, &body, &[]).await?;
    let answered = Instant::now();
    if response.status() != 201 {
        let status = response.status();
        return Err(format!("submit: {status} {}", response.text().await?).into());
    }
    let run: serde_json::Value = response.json().await?;
    Ok((run["id"].as_str().ok_or("run id")?.to_owned(), answered))
}

/// Cancels run `id`: when the 200's head arrived.
async fn cancel_run(node: &Server, id: &str) -> Result<Instant, Error> {
    let response = node.api.post_cancel(&node.token, id).await?;
    let answered = Instant::now();
    let status = response.status();
    let body: serde_json::Value = response.json().await?;
    if status != 200 || body["status"] != "cancelled" {
        return Err(format!("cancel {id}: {status} {body}").into());
    }
    Ok(answered)
}

async fn run_status(node: &Server, id: &str) -> Result<String, Error> {
    let url = node.api.url(&format!("/api/runs/{id}"));
    let request = node.api.http().get(url).bearer_auth(&node.token);
    let run: serde_json::Value = request.send().await?.json().await?;
    Ok(run["status"].as_str().ok_or("run status")?.to_owned())
}

/// `status × count, …` of every run in the database.
fn run_statuses(nodes: &Nodes) -> Result<String, Error> {
    let rows = support::psql_query(
        &nodes.db.url,
        "select status, count(*) from runs group by status order by status",
    )?;
    Ok(rows
        .lines()
        .filter_map(|l| l.split_once('|'))
        .map(|(status, n)| format!("{n} {status}"))
        .collect::<Vec<_>>()
        .join(", "))
}

// ---------------------------------------------------------------------------------------------
// Processes

/// Whether process `pid` is alive: it has a `/proc` entry and is not a zombie (a zombie has
/// stopped executing; only its parent's reaping is left).
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rsplit_once(") ")
            .and_then(|(_, rest)| rest.chars().next())
            .is_some_and(|state| state != 'Z' && state != 'X')
    })
}

/// When process `pid` was first seen dead, polled every millisecond from a blocking thread;
/// `None` if it is still alive after `patience`.
fn watch(pid: u32, patience: Duration) -> tokio::task::JoinHandle<Option<Instant>> {
    tokio::task::spawn_blocking(move || {
        let deadline = Instant::now() + patience;
        while Instant::now() < deadline {
            if !alive(pid) {
                return Some(Instant::now());
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        None
    })
}

/// Clock ticks process `pid` has used: utime + stime + cutime + cstime of `/proc/PID/stat`.
fn ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = stat.rsplit_once(") ")?;
    // `rest` starts at field 3 (state); utime is field 14.
    let fields: Vec<&str> = rest.split_whitespace().collect();
    (11..15)
        .map(|i| fields.get(i)?.parse::<u64>().ok())
        .sum::<Option<u64>>()
}

/// The CPU ticks of the processes that matter, at one moment.
struct CpuSample {
    /// Each qrun node, in the order given.
    nodes: Vec<u64>,
    /// Every `postgres` process (a backend that exited is in the postmaster's cutime).
    postgres_all: u64,
    /// The backends of the benchmark's database, by PID.
    postgres_db: HashMap<u32, u64>,
    /// This process.
    me: u64,
    /// The machine's busy ticks (all but idle and iowait), over every core.
    machine: u64,
}

impl CpuSample {
    fn take(nodes: &[u32], admin: &str, database: &str) -> Result<CpuSample, Error> {
        let backends = support::psql_query(
            admin,
            &format!("select pid from pg_stat_activity where datname = '{database}'"),
        )?;
        let postgres_db = backends
            .lines()
            .filter_map(|l| l.trim().parse::<u32>().ok())
            .filter_map(|pid| Some((pid, ticks(pid)?)))
            .collect();
        let mut postgres_all = 0;
        for entry in std::fs::read_dir("/proc")? {
            let Some(pid) = entry?
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<u32>().ok())
            else {
                continue;
            };
            let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
            if comm.trim() == "postgres" {
                postgres_all += ticks(pid).unwrap_or(0);
            }
        }
        let stat = std::fs::read_to_string("/proc/stat")?;
        let cpu: Vec<u64> = stat
            .lines()
            .next()
            .ok_or("empty /proc/stat")?
            .split_whitespace()
            .skip(1)
            .filter_map(|v| v.parse().ok())
            .collect();
        // user nice system idle iowait irq softirq steal (guest time is within user).
        let machine = cpu.iter().take(8).sum::<u64>()
            - cpu.get(3).copied().unwrap_or(0)
            - cpu.get(4).copied().unwrap_or(0);
        Ok(CpuSample {
            nodes: nodes.iter().map(|&pid| ticks(pid).unwrap_or(0)).collect(),
            postgres_all,
            postgres_db,
            me: ticks(std::process::id()).unwrap_or(0),
            machine,
        })
    }

    /// The backends of the database seen now (`self`) and their ticks since `before` (a
    /// backend that is new counts from zero; one gone since is lost).
    fn postgres_db_since(&self, before: &CpuSample) -> (usize, u64) {
        let pids: HashSet<u32> = self.postgres_db.keys().copied().collect();
        let ticks = pids
            .iter()
            .map(|pid| {
                let then = before.postgres_db.get(pid).copied().unwrap_or(0);
                self.postgres_db[pid].saturating_sub(then)
            })
            .sum();
        (pids.len(), ticks)
    }
}

/// Clock ticks per second (`getconf CLK_TCK`; 100 if it cannot tell).
fn clock_ticks() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok()?.trim().parse().ok())
        .unwrap_or(100.0)
}
