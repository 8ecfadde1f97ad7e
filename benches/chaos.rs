//! Chaos: fault loops against a real `qrun serve` process (issue 9).
//!
//! ```sh
//! scripts/chaos --db sqlite --rounds 10                 # faults kill,lock
//! scripts/chaos --db postgres --rounds 10 --seed 7      # faults kill,terminate,restart
//! scripts/chaos --db postgres --faults terminate
//! ```
//!
//! One node (the release binary, `--bin`) serves a fresh database with two backends: the
//! simulator and a command backend that sleeps 0.3 s, so runs are in flight when a fault hits.
//! Each round, 8 clients submit continuously (alternating the backends, half of them with
//! analytics consent, each submission with its own `Idempotency-Key`) and record every answer;
//! after a random delay (0.2–2.5 s, from `--seed`) one fault is injected, in turn:
//!
//! - `kill`: SIGKILL the node, then start a new one on the same database;
//! - `terminate` (PostgreSQL): `pg_terminate_backend` of every connection of the node's
//!   database, repeatedly for 1 s;
//! - `restart` (PostgreSQL): `pg_ctlcluster VERSION main restart` — the machine's server;
//! - `lock` (SQLite): another process holds `BEGIN IMMEDIATE` on the file for 1.5 s
//!   (`--lock-s`);
//!
//! and the clients go on for 1 s more. Then, with one node up, every accepted run (201) must
//! end terminal, no run may have two start or two terminal events in its audit timeline, and
//! `qrun verify` must be clean. Every answer is a 201, or a 503 carrying `Retry-After`, or no
//! answer from a node that is down; a 500 (or another 5xx, or a request hanging 10 s) is a
//! failure. The table is per fault kind (a submission counts in the round it was made in);
//! the exit code is 1 if a must-be-zero row is not.
//! The nodes' logs (with round markers) and the verify output stay in `target/chaos/…`.

mod support;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use clap::{Parser, ValueEnum};
use futures_util::StreamExt as _;
use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng as _};

use support::{Db, Error, Log, SIMULATOR_BACKEND, Server, TestDb};

#[derive(Parser)]
struct Args {
    /// The qrun binary under test.
    #[arg(long, default_value = "target/release/qrun")]
    bin: PathBuf,
    #[arg(long, value_enum, default_value_t = Db::Sqlite)]
    db: Db,
    /// Rounds, one fault each (the faults in turn).
    #[arg(long, default_value_t = 10)]
    rounds: usize,
    /// Seeds the random fault delays (default: a random seed, printed).
    #[arg(long)]
    seed: Option<u64>,
    /// Faults to inject, comma-separated (default: those that apply to the database).
    #[arg(long, value_enum, value_delimiter = ',')]
    faults: Vec<Fault>,
    /// Submitting clients.
    #[arg(long, default_value_t = 8)]
    clients: usize,
    /// Seconds to wait, after the last round, for every accepted run to end.
    #[arg(long, default_value_t = 120)]
    drain_s: u64,
    /// Seconds the `lock` fault holds SQLite's write lock.
    #[arg(long, default_value_t = 1.5)]
    lock_s: f64,
    /// Passed by `cargo bench`; ignored.
    #[arg(long, hide = true)]
    bench: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, ValueEnum)]
enum Fault {
    /// SIGKILL the node, start a new one.
    Kill,
    /// `pg_terminate_backend` the node's connections for 1 s (PostgreSQL).
    Terminate,
    /// Restart the PostgreSQL server (PostgreSQL).
    Restart,
    /// Hold SQLite's write lock for 1.5 s (SQLite).
    Lock,
}

impl Fault {
    fn name(self) -> &'static str {
        match self {
            Fault::Kill => "kill",
            Fault::Terminate => "terminate",
            Fault::Restart => "restart",
            Fault::Lock => "lock",
        }
    }

    fn applies(self, db: Db) -> bool {
        match self {
            Fault::Kill => true,
            Fault::Terminate | Fault::Restart => db == Db::Postgres,
            Fault::Lock => db == Db::Sqlite,
        }
    }
}

/// A request with no answer after this long is hung.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// An answer slower than this (twice `database.wait_timeout_ms`) is counted as slow.
const SLOW: Duration = Duration::from_secs(1);
/// The command backend's sleep: a run stays executing this long.
const SLEEPY_S: f64 = 0.3;

fn main() -> Result<(), Error> {
    let args = Args::parse();
    rustls::crypto::ring::default_provider()
        .install_default()
        .map_err(|_| "installing the TLS provider failed")?;
    let clean = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(run(args))?;
    if !clean {
        std::process::exit(1);
    }
    Ok(())
}

async fn run(mut args: Args) -> Result<bool, Error> {
    if !args.bin.exists() {
        return Err(format!(
            "{} not found: `cargo build --release --bin qrun` first",
            args.bin.display()
        )
        .into());
    }
    if args.faults.is_empty() {
        args.faults = [Fault::Kill, Fault::Terminate, Fault::Restart, Fault::Lock]
            .into_iter()
            .filter(|f| f.applies(args.db))
            .collect();
    }
    if let Some(f) = args.faults.iter().find(|f| !f.applies(args.db)) {
        return Err(format!("fault `{}` does not apply to this database", f.name()).into());
    }
    let seed = args
        .seed
        .unwrap_or_else(|| u64::from(rand::random::<u16>()));
    let faults = args
        .faults
        .iter()
        .map(|f| f.name())
        .collect::<Vec<_>>()
        .join(",");
    let db_name = match args.db {
        Db::Sqlite => "sqlite",
        Db::Postgres => "postgres",
    };
    let mut rerun = format!(
        "scripts/chaos --db {db_name} --rounds {} --seed {seed} --faults {faults}",
        args.rounds
    );
    if args.clients != 8 {
        let _ = write!(rerun, " --clients {}", args.clients);
    }
    if args.lock_s != 1.5 && args.faults.contains(&Fault::Lock) {
        let _ = write!(rerun, " --lock-s {}", args.lock_s);
    }
    let pg_version = if args.faults.contains(&Fault::Restart) {
        let version = postgres_version()?;
        eprintln!(
            "\n!!! WARNING: the `restart` fault restarts this machine's PostgreSQL server \
             (pg_ctlcluster {version} main restart): every connection to it, anyone's, is cut. !!!\n"
        );
        Some(version)
    } else {
        None
    };

    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    let logs = PathBuf::from(format!("target/chaos/{db_name}-seed{seed}-{stamp}"));
    std::fs::create_dir_all(&logs)?;
    let log: Log = Arc::new(Mutex::new(std::fs::File::create(logs.join("server.log"))?));
    println!(
        "chaos: {db_name}, {} rounds, faults {faults}, seed {seed}, {} clients",
        args.rounds, args.clients
    );
    println!("logs: {}", logs.display());

    let db = support::database(args.db, "qrun_chaos").await?;
    let script = db.dir().join("sleepy.sh");
    write_sleepy(&script)?;
    let file = support::write_config(&db, &config(&db, &script))?;
    let token = support::create_user(&args.bin, &file)?;
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .timeout(REQUEST_TIMEOUT)
        .build()?;
    let target = Arc::new(Target {
        http,
        base: RwLock::new(String::new()),
        token,
        circuit_id: RwLock::new(String::new()),
        tag: format!("chaos-{}", support::rand_suffix()),
        seq: AtomicU64::new(0),
    });
    let mut node = Node {
        bin: args.bin.clone(),
        file: file.clone(),
        log: log.clone(),
        started: 0,
        server: None,
        target: target.clone(),
        exits: Vec::new(),
    };
    node.start().await?;
    let circuit = node.server().create_circuit().await?;
    *target.circuit_id.write().unwrap() = circuit;

    let mut rng = StdRng::seed_from_u64(seed);
    let mut records = Vec::new();
    let mut injected: BTreeMap<Fault, u64> = BTreeMap::new();
    for round in 0..args.rounds {
        let fault = args.faults[round % args.faults.len()];
        let delay = Duration::from_secs_f64(rng.random_range(0.2..2.5));
        mark(
            &log,
            &format!(
                "round {}/{}: {} after {:.2} s",
                round + 1,
                args.rounds,
                fault.name(),
                delay.as_secs_f64()
            ),
        );
        let stop = Arc::new(AtomicBool::new(false));
        let clients = (0..args.clients)
            .map(|_| tokio::spawn(client(target.clone(), stop.clone())))
            .collect::<Vec<_>>();
        tokio::time::sleep(delay).await;
        mark(
            &log,
            &format!("round {}: injecting {}", round + 1, fault.name()),
        );
        let what = inject(fault, &mut node, &db, pg_version.as_deref(), args.lock_s).await?;
        *injected.entry(fault).or_default() += 1;
        mark(&log, &format!("round {}: {what}", round + 1));
        tokio::time::sleep(Duration::from_secs(1)).await;
        stop.store(true, Ordering::Relaxed);
        let mut answers = Vec::new();
        for task in clients {
            answers.extend(task.await?);
        }
        node.check_alive(round).await?;
        let accepted = answers.iter().filter(|r| r.status == Some(201)).count();
        let refused = answers.iter().filter(|r| r.status == Some(503)).count();
        let none = answers.iter().filter(|r| r.status.is_none()).count();
        let other = answers.len() - accepted - refused - none;
        let slowest = answers.iter().map(|r| r.elapsed).max().unwrap_or_default();
        println!(
            "round {:>2}/{} {:<9} at {:.2} s: {what}; {} submitted, {accepted} accepted, \
             {refused} × 503, {none} unanswered, {other} other; slowest answer {:.0} ms",
            round + 1,
            args.rounds,
            fault.name(),
            delay.as_secs_f64(),
            answers.len(),
            slowest.as_secs_f64() * 1000.0,
        );
        records.extend(answers.into_iter().map(|r| (fault, r)));
    }

    // Every accepted run must end; then the audit timelines and `qrun verify`.
    mark(&log, "rounds over: draining");
    let accepted: HashMap<String, Fault> = records
        .iter()
        .filter_map(|(f, r)| Some((r.run_id.clone()?, *f)))
        .collect();
    let mut twice: HashMap<Fault, u64> = HashMap::new();
    {
        let mut seen = HashSet::new();
        for (fault, r) in &records {
            if let Some(id) = &r.run_id
                && !seen.insert(id)
            {
                *twice.entry(*fault).or_default() += 1;
            }
        }
    }
    let deadline = Instant::now() + Duration::from_secs(args.drain_s);
    let started = Instant::now();
    let left = target.wait_idle(deadline).await;
    let checks = target
        .check_runs(accepted.keys().cloned().collect(), deadline)
        .await;
    println!(
        "drained in {:.1} s: {}",
        started.elapsed().as_secs_f64(),
        match left {
            Some((0, 0)) => "nothing pending or running".to_owned(),
            Some((p, r)) => format!("STILL {p} pending, {r} running"),
            None => "/api/health/runs never answered".to_owned(),
        }
    );
    mark(&log, "drained: stopping the node, then qrun verify");
    node.stop();
    let verify = verify(&args.bin, &file, &logs).await?;

    // The table.
    let mut tallies: BTreeMap<Option<Fault>, Tally> = BTreeMap::new();
    for (fault, count) in &injected {
        tallies.entry(Some(*fault)).or_default().faults += count;
    }
    for (fault, r) in &records {
        tallies.entry(Some(*fault)).or_default().answer(r);
    }
    for (id, fault) in &accepted {
        let tally = tallies.entry(Some(*fault)).or_default();
        match checks.get(id) {
            Some(check) if check.terminal => {
                tally.terminal += 1;
                tally.failed += u64::from(check.failed);
            }
            _ => tally.lost += 1,
        }
        if checks.get(id).is_some_and(|c| c.duplicate()) {
            tally.duplicates += 1;
        }
    }
    for (fault, n) in &twice {
        tallies.entry(Some(*fault)).or_default().duplicates += n;
    }
    for line in &verify.violations {
        let fault = uuids(line).find_map(|id| accepted.get(&id).copied());
        tallies.entry(fault).or_default().violations += 1;
    }
    let total = tallies.values().fold(Tally::default(), |mut t, x| {
        t.add(x);
        t
    });
    let unattributed = tallies.remove(&None);
    let columns: Vec<(String, &Tally)> = tallies
        .iter()
        .map(|(f, t)| (f.map_or("", |f| f.name()).to_owned(), t))
        .chain(std::iter::once(("total".to_owned(), &total)))
        .collect();
    println!();
    print!("{}", table(&columns));
    println!(
        "(a submission counts in the round it was made in: a run still queued or executing \
         when a later round's fault hits counts in its own round)"
    );
    if let Some(t) = unattributed {
        println!(
            "({} verify violations on runs no client was answered 201 for)",
            t.violations
        );
    }
    println!(
        "runs in the database: {} (verify), {} answered 201: {} created whose 201 never \
         reached its client (a node killed mid-answer)",
        verify.runs,
        accepted.len(),
        verify.runs.saturating_sub(accepted.len() as u64)
    );
    let recovered: u64 = std::fs::read_to_string(logs.join("server.log"))?
        .lines()
        .filter(|l| l.contains("watchdog recovered stranded runs"))
        .filter_map(|l| l.rsplit("recovered=").next()?.trim().parse::<u64>().ok())
        .sum();
    println!(
        "runs failed by the watchdog (their node died or lost its lease), from the log: {recovered}"
    );
    for (status, n) in &total.other {
        println!("other status {status}: {n}");
    }
    for line in verify.violations.iter().take(20) {
        println!("violation: {line}");
    }
    for (fault, r) in records
        .iter()
        .filter(|(_, r)| r.status.is_some_and(|s| s >= 500 && s != 503))
        .take(10)
    {
        println!(
            "{} during {}: {}",
            r.status.unwrap_or(0),
            fault.name(),
            r.body
        );
    }
    for exit in &node.exits {
        println!("NODE EXIT: {exit}");
    }
    let clean = total.must_be_zero() == 0 && node.exits.is_empty() && left == Some((0, 0));
    println!(
        "{}; server log: {}",
        if clean { "CLEAN" } else { "FAILED" },
        logs.join("server.log").display()
    );
    println!("rerun: {rerun}");
    Ok(clean)
}

// ---------------------------------------------------------------------------------------------
// The node

fn config(db: &TestDb, script: &Path) -> String {
    format!(
        r#"
[server]
shutdown_grace_s = 1
bind = "127.0.0.1:0"
[database]
url = "{url}"
max_connections = 16
wait_timeout_ms = 500
[executor]
enabled = true
max_concurrent_runs = 32
max_pending_runs = 10000000
max_active_runs_per_user = 10000000
user_submissions_per_s = 10000000
user_submission_burst = 10000000
lease_ttl_s = 2
[watchdog]
interval_s = 1
[logging]
level = "warn,qrun::app=info"
{simulator}[[backends]]
type = "command"
name = "sleepy"
program = "{script}"
timeout_s = 60
# A shell script in a temporary directory, killed and watched from the host: unsandboxed.
[backends.sandbox]
enabled = false
"#,
        simulator = SIMULATOR_BACKEND,
        url = db.url,
        script = script.display()
    )
}

/// A command backend: reads the job on stdin, sleeps, answers every shot `00` (a key of the
/// Bell circuit's two classical bits: counts must fit the circuit).
fn write_sleepy(script: &Path) -> Result<(), Error> {
    std::fs::write(
        script,
        format!(
            "#!/bin/sh\ninput=$(cat)\nshots=$(echo \"$input\" | sed -n 's/.*\"shots\": *\\([0-9]*\\).*/\\1/p')\nsleep {SLEEPY_S}\nprintf '{{\"counts\": {{\"00\": %s}}}}' \"$shots\"\n"
        ),
    )?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(script, std::fs::Permissions::from_mode(0o755))?;
    Ok(())
}

/// The node under test: one `qrun serve` at a time over the same database and config.
struct Node {
    bin: PathBuf,
    file: PathBuf,
    log: Log,
    started: usize,
    server: Option<Server>,
    target: Arc<Target>,
    /// Exits nobody caused.
    exits: Vec<String>,
}

impl Node {
    async fn start(&mut self) -> Result<(), Error> {
        self.started += 1;
        let circuit_id = self.target.circuit_id.read().unwrap().clone();
        let server = Server::serve(
            &self.bin,
            &self.file,
            self.target.token.clone(),
            circuit_id,
            simulator(),
            Some((self.log.clone(), format!("[node {}] ", self.started))),
        )
        .await?;
        mark(
            &self.log,
            &format!(
                "node {} started: pid {}, {}",
                self.started,
                server.pid(),
                server.base()
            ),
        );
        *self.target.base.write().unwrap() = server.base().to_owned();
        self.server = Some(server);
        Ok(())
    }

    fn server(&self) -> &Server {
        self.server.as_ref().expect("the node is up")
    }

    /// SIGKILL; the node's pid.
    fn kill(&mut self) -> Option<u32> {
        let server = self.server.take()?;
        let pid = server.pid();
        server.kill();
        Some(pid)
    }

    /// A node that exited by itself is a failure; a new one takes over.
    async fn check_alive(&mut self, round: usize) -> Result<(), Error> {
        if let Some(status) = self.server.as_mut().and_then(Server::exited) {
            let what = format!(
                "node {} exited by itself in round {}: {status}",
                self.started,
                round + 1
            );
            mark(&self.log, &what);
            self.exits.push(what);
            self.server = None;
            self.start().await?;
        }
        Ok(())
    }

    /// SIGTERM, and wait for the exit.
    fn stop(&mut self) {
        if let Some(mut server) = self.server.take() {
            if let Some(status) = server.exited() {
                self.exits.push(format!(
                    "node {} had exited by itself: {status}",
                    self.started
                ));
            }
            drop(server);
        }
    }
}

fn mark(log: &Log, text: &str) {
    if let Ok(mut file) = log.lock() {
        let _ = writeln!(
            file,
            "=== {} {text} ===",
            chrono::Utc::now().format("%H:%M:%S%.3f")
        );
    }
}

fn simulator() -> serde_json::Value {
    serde_json::json!({"type": "simulator", "name": "statevector"})
}

fn sleepy() -> serde_json::Value {
    serde_json::json!({"type": "command", "name": "sleepy"})
}

// ---------------------------------------------------------------------------------------------
// The faults

async fn inject(
    fault: Fault,
    node: &mut Node,
    db: &TestDb,
    pg_version: Option<&str>,
    lock_s: f64,
) -> Result<String, Error> {
    let start = Instant::now();
    match fault {
        Fault::Kill => {
            let pid = node.kill().ok_or("no node to kill")?;
            node.start().await?;
            Ok(format!(
                "SIGKILL pid {pid}, a new node up in {:.2} s",
                start.elapsed().as_secs_f64()
            ))
        }
        Fault::Terminate => {
            let (admin, name) = db.postgres_database().ok_or("not PostgreSQL")?;
            let sql = format!(
                "select count(*) from (select pg_terminate_backend(pid) as t from pg_stat_activity \
                 where datname = '{name}' and pid <> pg_backend_pid()) s where t"
            );
            let (mut terminated, mut calls) = (0u64, 0u64);
            while start.elapsed() < Duration::from_secs(1) {
                let out = tokio::process::Command::new("psql")
                    .args([admin, "-qAtc", &sql])
                    .output()
                    .await?;
                if !out.status.success() {
                    return Err(format!(
                        "psql pg_terminate_backend: {}",
                        String::from_utf8_lossy(&out.stderr)
                    )
                    .into());
                }
                terminated += String::from_utf8_lossy(&out.stdout).trim().parse::<u64>()?;
                calls += 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Ok(format!(
                "{terminated} backends terminated by {calls} sweeps over 1 s"
            ))
        }
        Fault::Restart => {
            let (admin, _) = db.postgres_database().ok_or("not PostgreSQL")?;
            let version = pg_version.ok_or("no PostgreSQL version")?;
            eprintln!(
                "!!! restarting this machine's PostgreSQL server (pg_ctlcluster {version} main restart) !!!"
            );
            let status = tokio::process::Command::new("pg_ctlcluster")
                .args([version, "main", "restart"])
                .status()
                .await?;
            if !status.success() {
                return Err(format!("pg_ctlcluster {version} main restart: {status}").into());
            }
            let restarted = start.elapsed();
            loop {
                let ready = tokio::process::Command::new("pg_isready")
                    .args(["-q", "-d", admin])
                    .status()
                    .await?;
                if ready.success() {
                    break;
                }
                if start.elapsed() > Duration::from_secs(60) {
                    return Err("PostgreSQL not ready 60 s after its restart".into());
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Ok(format!(
                "PostgreSQL restarted in {:.2} s, ready after {:.2} s",
                restarted.as_secs_f64(),
                start.elapsed().as_secs_f64()
            ))
        }
        Fault::Lock => {
            let path = db.sqlite_path().ok_or("not SQLite")?;
            let out = tokio::process::Command::new("python3")
                .args([
                    "-c",
                    "import sqlite3, sys, time\n\
                     c = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)\n\
                     t = time.monotonic()\n\
                     c.execute('BEGIN IMMEDIATE')\n\
                     print(f'{time.monotonic() - t:.3f}', flush=True)\n\
                     time.sleep(float(sys.argv[2]))\n\
                     c.execute('ROLLBACK')\n",
                ])
                .arg(&path)
                .arg(lock_s.to_string())
                .stdin(Stdio::null())
                .output()
                .await?;
            if !out.status.success() {
                return Err(format!(
                    "python3 BEGIN IMMEDIATE: {}",
                    String::from_utf8_lossy(&out.stderr)
                )
                .into());
            }
            Ok(format!(
                "write lock held {lock_s} s (got it after {} s)",
                String::from_utf8_lossy(&out.stdout).trim()
            ))
        }
    }
}

/// The installed PostgreSQL's major version, from `/etc/postgresql`.
fn postgres_version() -> Result<String, Error> {
    std::fs::read_dir("/etc/postgresql")?
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter_map(|name| Some((name.parse::<u32>().ok()?, name)))
        .max()
        .map(|(_, name)| name)
        .ok_or_else(|| "no PostgreSQL version in /etc/postgresql".into())
}

// ---------------------------------------------------------------------------------------------
// The clients

/// Where the clients submit: the current node (its address changes when it is restarted).
struct Target {
    http: reqwest::Client,
    base: RwLock<String>,
    token: String,
    circuit_id: RwLock<String>,
    /// Prefix of the idempotency keys.
    tag: String,
    seq: AtomicU64,
}

/// One submission's answer.
struct Record {
    /// None: no answer (refused by a dead node, or cut off).
    status: Option<u16>,
    hung: bool,
    retry_after: bool,
    run_id: Option<String>,
    /// The body of a 5xx other than 503.
    body: String,
    elapsed: Duration,
}

async fn client(target: Arc<Target>, stop: Arc<AtomicBool>) -> Vec<Record> {
    let circuit_id = target.circuit_id.read().unwrap().clone();
    let mut records = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        let seq = target.seq.fetch_add(1, Ordering::Relaxed);
        let backend = if seq.is_multiple_of(2) {
            simulator()
        } else {
            sleepy()
        };
        let body = serde_json::json!({"circuit_id": circuit_id, "backend": backend, "shots": 100});
        let base = target.base.read().unwrap().clone();
        let mut request = target
            .http
            .post(format!("{base}/api/runs"))
            .bearer_auth(&target.token)
            .header("content-type", "application/json")
            .header("idempotency-key", format!("{}-{seq}", target.tag))
            .body(body.to_string());
        if (seq / 2).is_multiple_of(2) {
            request = request.header("x-analytics-consent", "granted");
        }
        let sent = Instant::now();
        let mut record = Record {
            status: None,
            hung: false,
            retry_after: false,
            run_id: None,
            body: String::new(),
            elapsed: Duration::ZERO,
        };
        match request.send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                record.retry_after = response
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok()?.trim().parse::<u64>().ok())
                    .is_some();
                match response.text().await {
                    Ok(text) => {
                        record.status = Some(status);
                        if status == 201 {
                            let json: serde_json::Value =
                                serde_json::from_str(&text).unwrap_or_default();
                            record.run_id = json["id"].as_str().map(str::to_owned);
                        } else if status >= 500 && status != 503 {
                            record.body = text;
                        }
                    }
                    Err(err) => record.hung = err.is_timeout(),
                }
            }
            Err(err) => record.hung = err.is_timeout(),
        }
        record.elapsed = sent.elapsed();
        let pause = record.status != Some(201);
        records.push(record);
        if pause {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    records
}

/// What the node says of one accepted run at the end.
#[derive(Default)]
struct Check {
    terminal: bool,
    failed: bool,
    started: usize,
    terminals: usize,
}

impl Check {
    fn duplicate(&self) -> bool {
        self.started > 1 || self.terminals > 1
    }
}

impl Target {
    async fn get(&self, path: &str) -> Option<(u16, serde_json::Value)> {
        let base = self.base.read().unwrap().clone();
        let response = self
            .http
            .get(format!("{base}{path}"))
            .bearer_auth(&self.token)
            .send()
            .await
            .ok()?;
        let status = response.status().as_u16();
        Some((status, response.json().await.unwrap_or_default()))
    }

    /// Waits until `/api/health/runs` shows nothing pending or running; the last (pending,
    /// running) seen.
    async fn wait_idle(&self, deadline: Instant) -> Option<(u64, u64)> {
        let mut last = None;
        loop {
            if let Some((200, health)) = self.get("/api/health/runs").await {
                let pending = health["pending"].as_u64().unwrap_or(u64::MAX);
                let running = health["running"].as_u64().unwrap_or(u64::MAX);
                last = Some((pending, running));
                if pending == 0 && running == 0 {
                    return last;
                }
            }
            if Instant::now() > deadline {
                return last;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// Each run's status (until it is terminal or `deadline`), then its audit timeline.
    async fn check_runs(&self, ids: Vec<String>, deadline: Instant) -> HashMap<String, Check> {
        let mut checks: HashMap<String, Check> = HashMap::new();
        let mut open = ids;
        loop {
            let seen: Vec<(String, Option<String>)> = futures_util::stream::iter(open)
                .map(|id| async move {
                    let status = match self.get(&format!("/api/runs/{id}")).await {
                        Some((200, run)) => run["status"].as_str().map(str::to_owned),
                        _ => None,
                    };
                    (id, status)
                })
                .buffer_unordered(16)
                .collect()
                .await;
            open = Vec::new();
            for (id, status) in seen {
                if matches!(
                    status.as_deref(),
                    Some("completed" | "failed" | "cancelled")
                ) {
                    let check = checks.entry(id).or_default();
                    check.terminal = true;
                    check.failed = status.as_deref() == Some("failed");
                } else {
                    open.push(id);
                }
            }
            if open.is_empty() || Instant::now() > deadline {
                break;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        for id in open {
            checks.entry(id).or_default();
        }
        let audits: Vec<(String, Option<(usize, usize)>)> =
            futures_util::stream::iter(checks.keys().cloned().collect::<Vec<_>>())
                .map(|id| async move {
                    for _ in 0..5 {
                        if let Some((200, audit)) = self.get(&format!("/api/runs/{id}/audit")).await
                        {
                            let actions = audit["entries"]
                                .as_array()
                                .map(|e| {
                                    e.iter()
                                        .filter_map(|e| e["action"].as_str().map(str::to_owned))
                                        .collect::<Vec<_>>()
                                })
                                .unwrap_or_default();
                            let started = actions.iter().filter(|a| *a == "run.started").count();
                            let terminals = actions
                                .iter()
                                .filter(|a| {
                                    matches!(
                                        a.as_str(),
                                        "run.completed" | "run.failed" | "run.cancelled"
                                    )
                                })
                                .count();
                            return (id, Some((started, terminals)));
                        }
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                    (id, None)
                })
                .buffer_unordered(16)
                .collect()
                .await;
        for (id, audit) in audits {
            let check = checks.entry(id).or_default();
            match audit {
                Some((started, terminals)) => {
                    check.started = started;
                    check.terminals = terminals;
                }
                // No timeline: not a terminal run as far as anyone can tell.
                None => check.terminal = false,
            }
        }
        checks
    }
}

// ---------------------------------------------------------------------------------------------
// Verify and the table

struct Verify {
    runs: u64,
    violations: Vec<String>,
}

/// `qrun verify` with the node's config; its output is kept in `logs/verify.txt`.
async fn verify(bin: &Path, file: &Path, logs: &Path) -> Result<Verify, Error> {
    let out = tokio::process::Command::new(bin)
        .arg("--config")
        .arg(file)
        .arg("verify")
        .output()
        .await?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    std::fs::write(
        logs.join("verify.txt"),
        format!("{stdout}{}", String::from_utf8_lossy(&out.stderr)),
    )?;
    let mut lines: Vec<String> = stdout.lines().map(str::to_owned).collect();
    let summary = lines.pop().unwrap_or_default();
    // "verified N runs: K violations"
    let numbers: Vec<u64> = summary
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|n| n.parse().ok())
        .collect();
    let [runs, violations] = numbers[..] else {
        return Err(format!(
            "qrun verify: no summary line ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    };
    if violations != lines.len() as u64 {
        return Err(format!(
            "qrun verify reports {violations} violations but prints {}",
            lines.len()
        )
        .into());
    }
    println!("{summary}");
    Ok(Verify {
        runs,
        violations: lines,
    })
}

/// The UUIDs in `line`.
fn uuids(line: &str) -> impl Iterator<Item = String> + '_ {
    line.split(|c: char| !(c.is_ascii_hexdigit() || c == '-'))
        .filter(|t| {
            t.len() == 36
                && t.char_indices()
                    .all(|(i, c)| (c == '-') == matches!(i, 8 | 13 | 18 | 23))
        })
        .map(str::to_owned)
}

#[derive(Default, Clone)]
struct Tally {
    faults: u64,
    submissions: u64,
    accepted: u64,
    refused: u64,
    no_retry_after: u64,
    internal: u64,
    other_5xx: u64,
    other: BTreeMap<u16, u64>,
    unanswered: u64,
    hung: u64,
    slow: u64,
    slowest: Duration,
    slowest_503: Duration,
    terminal: u64,
    failed: u64,
    lost: u64,
    duplicates: u64,
    violations: u64,
}

impl Tally {
    fn answer(&mut self, r: &Record) {
        self.submissions += 1;
        self.slowest = self.slowest.max(r.elapsed);
        if r.status.is_some() && r.elapsed > SLOW {
            self.slow += 1;
        }
        match r.status {
            Some(201) => self.accepted += 1,
            Some(503) => {
                self.refused += 1;
                self.slowest_503 = self.slowest_503.max(r.elapsed);
                if !r.retry_after {
                    self.no_retry_after += 1;
                }
            }
            Some(500) => self.internal += 1,
            Some(s) if s >= 500 => self.other_5xx += 1,
            Some(s) => *self.other.entry(s).or_default() += 1,
            None if r.hung => self.hung += 1,
            None => self.unanswered += 1,
        }
    }

    fn add(&mut self, t: &Tally) {
        self.faults += t.faults;
        self.submissions += t.submissions;
        self.accepted += t.accepted;
        self.refused += t.refused;
        self.no_retry_after += t.no_retry_after;
        self.internal += t.internal;
        self.other_5xx += t.other_5xx;
        for (s, n) in &t.other {
            *self.other.entry(*s).or_default() += n;
        }
        self.unanswered += t.unanswered;
        self.hung += t.hung;
        self.slow += t.slow;
        self.slowest = self.slowest.max(t.slowest);
        self.slowest_503 = self.slowest_503.max(t.slowest_503);
        self.terminal += t.terminal;
        self.failed += t.failed;
        self.lost += t.lost;
        self.duplicates += t.duplicates;
        self.violations += t.violations;
    }

    fn must_be_zero(&self) -> u64 {
        self.no_retry_after
            + self.internal
            + self.other_5xx
            + self.hung
            + self.lost
            + self.duplicates
            + self.violations
    }
}

fn table(columns: &[(String, &Tally)]) -> String {
    type Row = (&'static str, bool, fn(&Tally) -> String);
    let rows: [Row; 18] = [
        ("faults injected", false, |t| t.faults.to_string()),
        ("submissions", false, |t| t.submissions.to_string()),
        ("accepted (201)", false, |t| t.accepted.to_string()),
        ("refused 503 + Retry-After", false, |t| {
            (t.refused - t.no_retry_after).to_string()
        }),
        ("503 without Retry-After", true, |t| {
            t.no_retry_after.to_string()
        }),
        ("500", true, |t| t.internal.to_string()),
        ("other 5xx", true, |t| t.other_5xx.to_string()),
        ("other statuses", false, |t| {
            t.other.values().sum::<u64>().to_string()
        }),
        ("no answer (node down)", false, |t| t.unanswered.to_string()),
        ("hung (no answer in 10 s)", true, |t| t.hung.to_string()),
        ("answers slower than 1 s", false, |t| t.slow.to_string()),
        ("slowest answer (ms)", false, |t| {
            format!("{:.0}", t.slowest.as_secs_f64() * 1000.0)
        }),
        ("slowest 503 (ms)", false, |t| {
            format!("{:.0}", t.slowest_503.as_secs_f64() * 1000.0)
        }),
        ("accepted runs terminal", false, |t| t.terminal.to_string()),
        ("  of which failed", false, |t| t.failed.to_string()),
        ("lost", true, |t| t.lost.to_string()),
        ("duplicates", true, |t| t.duplicates.to_string()),
        ("verify violations", true, |t| t.violations.to_string()),
    ];
    let label = rows.iter().map(|r| r.0.len()).max().unwrap_or(0) + 6;
    let width = columns
        .iter()
        .map(|(name, _)| name.len())
        .max()
        .unwrap_or(0)
        .max(9);
    let mut out = format!("{:label$}", "");
    for (name, _) in columns {
        let _ = write!(out, " {name:>width$}");
    }
    out.push('\n');
    for (name, zero, value) in rows {
        let mut line = format!(
            "{:label$}",
            if zero {
                format!("{name} (=0)")
            } else {
                name.to_owned()
            }
        );
        let mut bad = false;
        for (_, tally) in columns {
            let v = value(tally);
            bad |= zero && v != "0";
            let _ = write!(line, " {v:>width$}");
        }
        if bad {
            line.push_str("  <-- NOT ZERO");
        }
        out.push_str(&line);
        out.push('\n');
    }
    out
}
