//! End-to-end benchmarks of a real `qrun serve` process (issue 7), driven over HTTP.
//!
//! ```sh
//! cargo build --release --bin qrun
//! cargo bench --bench e2e -- throughput --db sqlite     # runs/s, 32 clients, Bell × 100 shots
//! cargo bench --bench e2e -- throughput --db postgres
//! cargo bench --bench e2e -- latency --db sqlite --rate 300 --seconds 20
//! cargo bench --bench e2e -- memory --db sqlite --pending 100000
//! cargo bench --bench e2e -- results --db postgres --qubits 12 --shots 20000
//! cargo bench --bench e2e -- results --shots 1000 --runs 5 --file /tmp/c/ghz-1000.qasm
//! ```
//!
//! Each mode starts the release binary (`--bin`, default `target/release/qrun`) on a fresh
//! database (SQLite in a temporary directory, or a fresh PostgreSQL database created beside
//! `QRUN_BENCH_POSTGRES_URL`, default `postgres://postgres@127.0.0.1:5432/test`, dropped
//! afterwards), creates a user and a public Bell circuit, and prints its figures with the
//! command that reproduces them. Every run is submitted with analytics consent, so each
//! lifecycle writes its three audit rows and three outbox rows.

mod support;

use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};

use support::{Db, Error, SIMULATOR_BACKEND, Server, TestDb, machine, percentiles};

#[derive(Parser)]
struct Args {
    #[command(subcommand)]
    mode: Mode,
    /// The qrun binary to benchmark.
    #[arg(long, global = true, default_value = "target/release/qrun")]
    bin: PathBuf,
    #[arg(long, global = true, value_enum, default_value_t = Db::Sqlite)]
    db: Db,
    /// `executor.max_concurrent_runs` of the served node.
    #[arg(long, global = true, default_value_t = 32)]
    concurrency: u64,
    /// Passed by `cargo bench`; ignored.
    #[arg(long, global = true, hide = true)]
    bench: bool,
}

#[derive(Subcommand)]
enum Mode {
    /// Closed loop: `clients` submitters until `runs` are accepted; runs/s from the first
    /// submission to the last completion.
    Throughput {
        #[arg(long, default_value_t = 32)]
        clients: usize,
        #[arg(long, default_value_t = 10_000)]
        runs: u64,
    },
    /// Open loop: submissions at a fixed rate (each on its own task, so a slow answer never
    /// delays the next one); submit latency percentiles.
    Latency {
        /// Submissions per second.
        #[arg(long)]
        rate: u64,
        #[arg(long, default_value_t = 20)]
        seconds: u64,
    },
    /// RSS of the server: idle, then with `pending` runs queued (nothing executing), then
    /// with `concurrency` runs executing (a sleeping command backend).
    Memory {
        #[arg(long, default_value_t = 100_000)]
        pending: u64,
    },
    /// One run at a time, submission → `completed`: a Bell circuit (2 outcomes), then
    /// `qubits` qubits in uniform superposition (up to 2^qubits outcomes: large results).
    Results {
        #[arg(long, default_value_t = 12)]
        qubits: u32,
        #[arg(long, default_value_t = 20_000)]
        shots: u64,
        #[arg(long, default_value_t = 20)]
        runs: usize,
        /// Time these OpenQASM files too (e.g. the GHZ-1000 and 500-qubit Clifford circuits
        /// `scripts/bench_peers.py --save DIR` writes), each with the method that ran it.
        #[arg(long = "file")]
        files: Vec<PathBuf>,
    },
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
    let rerun = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect::<Vec<_>>();
    println!("machine: {}", machine());
    match args.mode {
        Mode::Throughput { clients, runs } => {
            let db = support::database(args.db, "qrun_bench").await?;
            let server = Server::start(
                &args.bin,
                &db,
                &config(&db, args.concurrency, true),
                Backend::Simulator.json(),
            )
            .await?;
            throughput(&server, clients, runs).await?;
        }
        Mode::Latency { rate, seconds } => {
            let db = support::database(args.db, "qrun_bench").await?;
            let server = Server::start(
                &args.bin,
                &db,
                &config(&db, args.concurrency, true),
                Backend::Simulator.json(),
            )
            .await?;
            latency(&server, rate, seconds).await?;
        }
        Mode::Memory { pending } => memory(&args, pending).await?,
        Mode::Results {
            qubits,
            shots,
            runs,
            files,
        } => {
            let db = support::database(args.db, "qrun_bench").await?;
            let server = Server::start(
                &args.bin,
                &db,
                &config(&db, args.concurrency, true),
                Backend::Simulator.json(),
            )
            .await?;
            results(&server, qubits, shots, runs, &files).await?;
        }
    }
    println!("rerun: cargo bench --bench e2e -- {}", rerun.join(" "));
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The modes

async fn throughput(server: &Server, clients: usize, runs: u64) -> Result<(), Error> {
    println!("mode: throughput, {clients} clients, {runs} runs of Bell × 100 shots");
    let before = server.finished().await?;
    let start = Instant::now();
    let (mut latencies, submitted) = server
        .submit_closed_loop(std::slice::from_ref(&server.token), clients, runs)
        .await?;
    let finished = server.wait_finished(before.total() + runs).await?;
    let all = start.elapsed();
    let after = finished.minus(&before);
    println!(
        "accepted {runs} in {:.2} s: {:.0} submissions/s; submit latency {}",
        submitted.as_secs_f64(),
        runs as f64 / submitted.as_secs_f64(),
        percentiles(&mut latencies)
    );
    println!(
        "finished {} ({} completed, {} failed) in {:.2} s from the first submission: {:.0} runs/s end to end",
        after.total(),
        after.completed,
        after.failed,
        all.as_secs_f64(),
        runs as f64 / all.as_secs_f64()
    );
    println!("server RSS peak {} MiB", server.rss_kib("VmHWM")? / 1024);
    if after.failed > 0 {
        return Err(format!("{} runs failed", after.failed).into());
    }
    Ok(())
}

async fn latency(server: &Server, rate: u64, seconds: u64) -> Result<(), Error> {
    println!("mode: latency, open loop at {rate}/s for {seconds} s");
    let before = server.finished().await?;
    let total = rate * seconds;
    let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / rate as f64));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut tasks = Vec::with_capacity(total as usize);
    let start = Instant::now();
    for _ in 0..total {
        let scheduled = ticker.tick().await;
        let client = server.client();
        tasks.push(tokio::spawn(async move {
            client.submit().await?;
            // From when the request was due, not when it went out (no coordinated omission).
            Ok::<_, Error>(scheduled.elapsed())
        }));
    }
    let mut latencies = Vec::with_capacity(tasks.len());
    for task in tasks {
        latencies.push(task.await??);
    }
    let offered = total as f64 / start.elapsed().as_secs_f64();
    server.wait_finished(before.total() + total).await?;
    println!(
        "offered {offered:.0}/s: submit latency {}",
        percentiles(&mut milliseconds(&latencies))
    );
    Ok(())
}

async fn memory(args: &Args, pending: u64) -> Result<(), Error> {
    let executing = args.concurrency;
    println!("mode: memory, {pending} pending runs, then {executing} executing");
    let db = support::database(args.db, "qrun_bench").await?;
    let api_only = config(&db, executing, false);
    // An API-only node takes the submissions; nothing executes.
    let node = Server::start(&args.bin, &db, &api_only, Backend::Sleep.json()).await?;
    println!("idle: RSS {} MiB", node.rss_kib("VmRSS")? / 1024);
    let mut queued = 0;
    while queued < pending {
        let step = pending.div_ceil(4).min(pending - queued);
        submit_many(&node, step, 32).await?;
        queued += step;
        println!(
            "{queued} pending, submitted through this node: RSS {} MiB (peak {} MiB)",
            node.rss_kib("VmRSS")? / 1024,
            node.rss_kib("VmHWM")? / 1024
        );
    }
    drop(node);
    // A fresh API-only node over the full queue: the baseline.
    let node = Server::start(&args.bin, &db, &api_only, Backend::Sleep.json()).await?;
    let baseline = node.rss_kib("VmRSS")?;
    println!("{pending} pending, fresh node: RSS {} MiB", baseline / 1024);
    drop(node);
    // An executing node over the same queue: each run it claims holds a sleeping child.
    let node = Server::start(
        &args.bin,
        &db,
        &config(&db, executing, true),
        Backend::Sleep.json(),
    )
    .await?;
    let running = node.wait_running(executing).await?;
    let rss = node.rss_kib("VmRSS")?;
    println!(
        "{pending} pending, {running} executing: RSS {} MiB, {:.0} KiB per executing run",
        rss / 1024,
        rss.saturating_sub(baseline) as f64 / running as f64
    );
    Ok(())
}

async fn results(
    server: &Server,
    qubits: u32,
    shots: u64,
    runs: usize,
    files: &[PathBuf],
) -> Result<(), Error> {
    println!("mode: results, one run at a time, {runs} runs per circuit, {shots} shots");
    let wide = format!(
        "OPENQASM 2.0;\ninclude \"qelib1.inc\";\nqreg q[{qubits}];\ncreg c[{qubits}];\nh q;\nmeasure q -> c;\n"
    );
    let mut circuits = vec![
        ("bell".to_owned(), server.circuit_id.clone()),
        (
            format!("{qubits} qubits, all H"),
            server.create_circuit_from(&wide).await?,
        ),
    ];
    for file in files {
        let source = std::fs::read_to_string(file)?;
        circuits.push((
            file.display().to_string(),
            server.create_circuit_from(&source).await?,
        ));
    }
    for (label, circuit_id) in circuits {
        let mut latencies = Vec::with_capacity(runs);
        let mut executions = Vec::with_capacity(runs);
        let mut counts_bytes = 0;
        let mut method = String::new();
        for _ in 0..runs {
            let started = Instant::now();
            let body = testkit::run_body_by_id(&circuit_id, testkit::SIMULATOR, shots);
            let run = server.api.submit(&server.token, &body, &[]).await?;
            let path = format!("/api/runs/{}", run["id"].as_str().ok_or("run id")?);
            let done = loop {
                let run = server.api.get_json(&path).await?;
                match run["status"].as_str() {
                    Some("completed") => break run,
                    Some("pending" | "running") => {
                        tokio::time::sleep(Duration::from_millis(1)).await
                    }
                    other => return Err(format!("run ended {other:?}: {run}").into()),
                }
            };
            latencies.push(started.elapsed());
            counts_bytes = done["results"]["counts"].to_string().len();
            executions.push(done["results"]["execution_time"].as_f64().unwrap_or(0.0) * 1000.0);
            method = done["results"]["method"].as_str().unwrap_or("?").to_owned();
        }
        println!(
            "{label} ({method}): counts JSON {counts_bytes} B; submission → completed {}; \
             execution_time {}",
            percentiles(&mut milliseconds(&latencies)),
            percentiles(&mut executions)
        );
    }
    Ok(())
}

async fn submit_many(server: &Server, runs: u64, clients: usize) -> Result<(), Error> {
    let issued = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (client, issued) = (server.client(), issued.clone());
        tasks.push(tokio::spawn(async move {
            while issued.fetch_add(1, Ordering::Relaxed) < runs {
                client.submit().await?;
            }
            Ok::<_, Error>(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The node

/// The served node's configuration file.
fn config(db: &TestDb, concurrency: u64, executes: bool) -> String {
    let mut toml = format!(
        r#"
[server]
shutdown_grace_s = 1
bind = "127.0.0.1:0"
[database]
url = "{url}"
max_connections = 16
[executor]
enabled = {enabled}
max_concurrent_runs = {concurrency}
max_pending_runs = 10000000
max_active_runs_per_user = 10000000
user_submissions_per_s = 10000000
user_submission_burst = 10000000
lease_ttl_s = 60
[logging]
level = "warn,qrun::app=info"
{simulator}"#,
        simulator = SIMULATOR_BACKEND,
        url = db.url,
        enabled = executes
    );
    // The memory mode's executing runs: a child that outlives the measurement.
    let _ = write!(
        toml,
        r#"
[[backends]]
type = "command"
name = "sleep"
program = "/usr/bin/sleep"
args = ["600"]
timeout_s = 900
"#
    );
    toml
}

/// Which backend the benchmark's runs use.
#[derive(Clone, Copy)]
enum Backend {
    /// The built-in simulator (Bell × 100 shots).
    Simulator,
    /// A child process sleeping for ten minutes: a run that stays executing.
    Sleep,
}

impl Backend {
    fn json(self) -> serde_json::Value {
        match self {
            Backend::Simulator => serde_json::json!({"type": "simulator", "name": "statevector"}),
            Backend::Sleep => serde_json::json!({"type": "command", "name": "sleep"}),
        }
    }
}

fn milliseconds(latencies: &[Duration]) -> Vec<f64> {
    latencies.iter().map(|d| d.as_secs_f64() * 1000.0).collect()
}
