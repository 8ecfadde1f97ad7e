//! What the end-to-end benches share (`mod support;` in each): a fresh database, a real
//! `qrun serve` child process, a submitting client, and `/metrics` parsing.
//!
//! Each bench compiles its own copy of this module and uses part of it.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::ValueEnum;

pub const BELL: &str = "OPENQASM 2.0;\ninclude \"qelib1.inc\";\nqreg q[2];\ncreg c[2];\nh q[0];\ncx q[0],q[1];\nmeasure q -> c;\n";

/// The built-in simulator backend every benchmark's node configures, as a TOML table.
pub const SIMULATOR_BACKEND: &str = r#"[[backends]]
type = "simulator"
name = "statevector"
max_qubits = 24
max_shots = 100000
max_gates = 1000000
max_source_bytes = 1048576
timeout_s = 300
"#;

pub type Error = Box<dyn std::error::Error + Send + Sync>;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Db {
    Sqlite,
    Postgres,
}

// ---------------------------------------------------------------------------------------------
// The database

/// A fresh database: a SQLite file in a temporary directory, or a PostgreSQL database dropped
/// on drop.
pub struct Database {
    pub url: String,
    pub dir: tempfile::TempDir,
    /// (the admin URL, the database's name)
    pub postgres: Option<(String, String)>,
}

impl Database {
    pub fn create(kind: Db) -> Result<Database, Error> {
        Database::create_named(kind, "qrun_bench")
    }

    /// A fresh database; a PostgreSQL one is named `PREFIX_PID`, beside
    /// `QRUN_BENCH_POSTGRES_URL` (default `postgres://postgres@127.0.0.1:5432/test`).
    pub fn create_named(kind: Db, prefix: &str) -> Result<Database, Error> {
        let dir = tempfile::tempdir()?;
        // The command backends' scripts live here, and a root service runs them as `nobody`.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))?;
        match kind {
            Db::Sqlite => Ok(Database {
                url: format!("sqlite://{}/bench.db?mode=rwc", dir.path().display()),
                dir,
                postgres: None,
            }),
            Db::Postgres => {
                let admin = std::env::var("QRUN_BENCH_POSTGRES_URL")
                    .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
                let name = format!("{prefix}_{}", std::process::id());
                psql(
                    &admin,
                    &format!("drop database if exists {name} with (force)"),
                )?;
                psql(&admin, &format!("create database {name}"))?;
                let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
                Ok(Database {
                    url: format!("{base}/{name}"),
                    dir,
                    postgres: Some((admin, name)),
                })
            }
        }
    }

    /// The SQLite database file, for a SQLite database.
    pub fn sqlite_path(&self) -> Option<PathBuf> {
        self.postgres
            .is_none()
            .then(|| self.dir.path().join("bench.db"))
    }

    /// Writes a node's configuration file beside the database; returns its path.
    pub fn write_config(&self, config: &str) -> Result<PathBuf, Error> {
        let file = self.dir.path().join(format!("qrun-{}.toml", rand_suffix()));
        std::fs::write(&file, config)?;
        Ok(file)
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        if let Some((admin, name)) = &self.postgres {
            let _ = psql(
                admin,
                &format!("drop database if exists {name} with (force)"),
            );
        }
    }
}

pub fn psql(url: &str, sql: &str) -> Result<(), Error> {
    let status = Command::new("psql")
        .args([url, "-qAtc", sql])
        .stdout(Stdio::null())
        .status()?;
    if !status.success() {
        return Err(format!("psql failed: {sql}").into());
    }
    Ok(())
}

/// `sql` through `psql` at `url`: its rows, one a line, columns separated by `|`.
pub fn psql_query(url: &str, sql: &str) -> Result<String, Error> {
    let output = Command::new("psql").args([url, "-qAtc", sql]).output()?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        return Err(format!("psql failed: {sql}: {stderr}").into());
    }
    Ok(String::from_utf8(output.stdout)?)
}

// ---------------------------------------------------------------------------------------------
// The server

/// Where a node's log lines go besides being drained: a file shared by every node of a bench
/// (each line prefixed with its node's tag).
pub type Log = Arc<Mutex<std::fs::File>>;

/// A `qrun serve` child process, stopped with SIGTERM on drop (unless it was killed).
pub struct Server {
    child: Child,
    killed: bool,
    pub base: String,
    pub token: String,
    pub circuit_id: String,
    backend: serde_json::Value,
    pub http: reqwest::Client,
}

impl Server {
    /// Starts a node on `db` with `config`, then creates a user and a public Bell circuit;
    /// its clients submit to `backend`.
    pub async fn start(
        bin: &Path,
        db: &Database,
        config: &str,
        backend: serde_json::Value,
    ) -> Result<Server, Error> {
        let file = db.write_config(config)?;
        let token = create_user(bin, &file)?;
        let mut server = Server::serve(bin, &file, token, String::new(), backend, None).await?;
        server.circuit_id = server.create_circuit().await?;
        Ok(server)
    }

    /// Starts a node with the configuration file `file`, over a database that already holds
    /// the user of `token` (and the circuit `circuit_id`, if not empty). The node's log goes
    /// to `log` too, if given, each line prefixed with `tag`.
    pub async fn serve(
        bin: &Path,
        file: &Path,
        token: String,
        circuit_id: String,
        backend: serde_json::Value,
        log: Option<(Log, String)>,
    ) -> Result<Server, Error> {
        let mut child = Command::new(bin)
            .arg("--config")
            .arg(file)
            .arg("serve")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()?;
        let stderr = child.stderr.take().ok_or("no stderr")?;
        let (tx, rx) = std::sync::mpsc::channel();
        // Reads the address, then keeps draining the log so the server never blocks on it.
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some((log, tag)) = &log
                    && let Ok(mut file) = log.lock()
                {
                    let _ = writeln!(file, "{tag}{}", strip_ansi(&line));
                }
                if let Some(addr) = line.split("listening on http://").nth(1) {
                    let _ = tx.send(strip_ansi(addr.split_whitespace().next().unwrap_or("")));
                }
            }
        });
        let addr = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(addr) => addr,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err("the server never logged `listening on http://ADDR`".into());
            }
        };
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(256)
            .build()?;
        Ok(Server {
            child,
            killed: false,
            base: format!("http://{addr}"),
            token,
            circuit_id,
            backend,
            http,
        })
    }

    /// Creates a public Bell circuit as the node's user; returns its id.
    pub async fn create_circuit(&self) -> Result<String, Error> {
        self.create_circuit_from(BELL).await
    }

    /// Creates a public circuit of `source` as the node's user; returns its id.
    pub async fn create_circuit_from(&self, source: &str) -> Result<String, Error> {
        let circuit = self
            .http
            .post(format!("{}/api/circuits", self.base))
            .bearer_auth(&self.token)
            .json(&serde_json::json!({
                "name": format!("c{}", rand_suffix()),
                "visibility": "public",
                "source": source,
                "manifest": {"framework": "qiskit", "format": "openqasm2"},
            }))
            .send()
            .await?;
        if circuit.status() != 201 {
            return Err(format!("creating the circuit: {}", circuit.text().await?).into());
        }
        let circuit: serde_json::Value = circuit.json().await?;
        Ok(circuit["id"].as_str().ok_or("circuit id")?.to_owned())
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL: the node dies at once, with no drain (the graceful drop is skipped).
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.killed = true;
    }

    /// The node's exit status, if it has exited (without being killed by us).
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// `clients` closed-loop clients submitting Bell × 100 shots with consent until `runs` are
    /// accepted: each submission's latency in milliseconds, and the time they all took.
    pub async fn submit_closed_loop(
        &self,
        clients: usize,
        runs: u64,
    ) -> Result<(Vec<f64>, std::time::Duration), Error> {
        use std::sync::atomic::{AtomicU64, Ordering};
        let issued = Arc::new(AtomicU64::new(0));
        let start = std::time::Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..clients {
            let (client, issued) = (self.client(), issued.clone());
            tasks.push(tokio::spawn(async move {
                let mut latencies = Vec::new();
                while issued.fetch_add(1, Ordering::Relaxed) < runs {
                    let sent = std::time::Instant::now();
                    client.submit().await?;
                    latencies.push(sent.elapsed().as_secs_f64() * 1000.0);
                }
                Ok::<_, Error>(latencies)
            }));
        }
        let mut latencies = Vec::new();
        for task in tasks {
            latencies.extend(task.await??);
        }
        Ok((latencies, start.elapsed()))
    }

    pub fn client(&self) -> Client {
        Client {
            http: self.http.clone(),
            url: format!("{}/api/runs", self.base),
            token: self.token.clone(),
            body: serde_json::json!({
                "circuit_id": self.circuit_id,
                "backend": self.backend,
                "shots": 100,
            })
            .to_string(),
        }
    }

    pub fn rss_kib(&self, field: &str) -> Result<u64, Error> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))?;
        status
            .lines()
            .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .ok_or_else(|| format!("no {field} in /proc/PID/status").into())
    }

    pub async fn metrics(&self) -> Result<String, Error> {
        let url = format!("{}/metrics", self.base);
        Ok(self.http.get(url).send().await?.text().await?)
    }

    /// Terminal runs so far, from `/metrics`.
    pub async fn finished(&self) -> Result<Finished, Error> {
        let mut finished = Finished::default();
        for (labels, value) in samples(&self.metrics().await?, "qrun_runs_finished_total") {
            if labels.contains("status=\"completed\"") {
                finished.completed += value as u64;
            } else {
                finished.failed += value as u64;
            }
        }
        Ok(finished)
    }

    pub async fn wait_finished(&self, total: u64) -> Result<Finished, Error> {
        let deadline = Instant::now() + Duration::from_secs(600);
        loop {
            let finished = self.finished().await?;
            if finished.total() >= total {
                return Ok(finished);
            }
            if Instant::now() > deadline {
                return Err(format!("only {} of {total} runs finished", finished.total()).into());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits until `/metrics` reports `n` runs running.
    pub async fn wait_running(&self, n: u64) -> Result<u64, Error> {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let running = samples(&self.metrics().await?, "qrun_runs")
                .filter(|(labels, _)| labels.contains("status=\"running\""))
                .map(|(_, v)| v)
                .sum::<f64>() as u64;
            if running >= n {
                return Ok(running);
            }
            if Instant::now() > deadline {
                return Err(format!("only {running} of {n} runs started").into());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.killed {
            return;
        }
        // SIGTERM: the node drains (its sleeping children are stopped), then exits.
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

/// `qrun user create` with the configuration file `file`: a new user's API token.
pub fn create_user(bin: &Path, file: &Path) -> Result<String, Error> {
    let user = Command::new(bin)
        .arg("--config")
        .arg(file)
        .args(["user", "create"])
        .arg(format!("bench{}", rand_suffix()))
        .output()?;
    if !user.status.success() {
        let stderr = String::from_utf8_lossy(&user.stderr);
        return Err(format!("qrun user create: {stderr}").into());
    }
    Ok(String::from_utf8(user.stdout)?.trim().to_owned())
}

/// The samples of metric `name`: (labels, value).
pub fn samples<'a>(text: &'a str, name: &'a str) -> impl Iterator<Item = (&'a str, f64)> + 'a {
    text.lines().filter_map(move |line| {
        let rest = line.strip_prefix(name)?.strip_prefix('{')?;
        let (labels, value) = rest.rsplit_once("} ")?;
        Some((labels, value.trim().parse().ok()?))
    })
}

#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    url: String,
    token: String,
    body: String,
}

impl Client {
    /// Submits a run with analytics consent; an error unless it is accepted (201).
    pub async fn submit(&self) -> Result<(), Error> {
        let response = self
            .http
            .post(&self.url)
            .bearer_auth(&self.token)
            .header("content-type", "application/json")
            .header("x-analytics-consent", "granted")
            .body(self.body.clone())
            .send()
            .await?;
        if response.status() != 201 {
            let status = response.status();
            return Err(format!("submit: {status} {}", response.text().await?).into());
        }
        Ok(())
    }
}

#[derive(Default)]
pub struct Finished {
    pub completed: u64,
    pub failed: u64,
}

impl Finished {
    pub fn total(&self) -> u64 {
        self.completed + self.failed
    }

    pub fn minus(&self, before: &Finished) -> Finished {
        Finished {
            completed: self.completed - before.completed,
            failed: self.failed - before.failed,
        }
    }
}

pub fn rand_suffix() -> String {
    format!("{:08x}", rand::random::<u32>())
}

pub fn strip_ansi(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// `min, p50, p90, p99, max` of latencies in milliseconds (nearest rank), and their count.
pub fn percentiles(ms: &mut [f64]) -> String {
    if ms.is_empty() {
        return "no samples".to_owned();
    }
    ms.sort_by(f64::total_cmp);
    let at = |q: f64| {
        let i = ((ms.len() as f64 * q).ceil() as usize).clamp(1, ms.len()) - 1;
        ms[i]
    };
    format!(
        "min {:.1} ms, p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms (n = {})",
        ms[0],
        at(0.50),
        at(0.90),
        at(0.99),
        at(1.0),
        ms.len()
    )
}

/// The machine in one line: cores, CPU model, load averages.
pub fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_owned())
        })
        .unwrap_or_default();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    format!(
        "{cores} cores, {cpu}; load {}",
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    )
}
