//! What the end-to-end benches share (`mod support;` in each), on top of `testkit` (the
//! harness the tests use too: the fresh database, the `qrun serve` process, the API client):
//! a node with its user, circuit and submitting clients, and what they measure.
//!
//! Each bench compiles its own copy of this module and uses part of it.
#![allow(dead_code)]

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::ValueEnum;
use testkit::{Api, BELL, Served, circuit_body, samples};
pub use testkit::{Error, TestDb};

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

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Db {
    Sqlite,
    Postgres,
}

// ---------------------------------------------------------------------------------------------
// The database

/// A fresh database: a SQLite file in a temporary directory, or a PostgreSQL database named
/// `PREFIX_PID` beside `QRUN_BENCH_POSTGRES_URL` (default
/// `postgres://postgres@127.0.0.1:5432/test`); dropped with the value.
pub async fn database(kind: Db, prefix: &str) -> Result<TestDb, Error> {
    match kind {
        Db::Sqlite => Ok(TestDb::sqlite()),
        Db::Postgres => {
            let server = std::env::var("QRUN_BENCH_POSTGRES_URL")
                .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
            TestDb::postgres_named(&server, &format!("{prefix}_{}", std::process::id())).await
        }
    }
}

/// Writes a node's configuration file beside the database; returns its path.
pub fn write_config(db: &TestDb, config: &str) -> Result<PathBuf, Error> {
    let file = db.dir().join(format!("qrun-{}.toml", rand_suffix()));
    std::fs::write(&file, config)?;
    Ok(file)
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

/// A `qrun serve` child process with its user, its circuit and the backend its clients
/// submit to; stopped with SIGTERM on drop (unless it was killed).
pub struct Server {
    served: Served,
    /// Its API, through a pool of this bench's own.
    pub api: Api,
    pub token: String,
    pub circuit_id: String,
    backend: serde_json::Value,
}

impl Server {
    /// Starts a node on `db` with `config`, then creates a user and a public Bell circuit;
    /// its clients submit to `backend`.
    pub async fn start(
        bin: &Path,
        db: &TestDb,
        config: &str,
        backend: serde_json::Value,
    ) -> Result<Server, Error> {
        let file = write_config(db, config)?;
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
        let mut command = Command::new(bin);
        command.arg("--config").arg(file).arg("serve");
        let sink = log.map(|(log, tag)| -> testkit::LineSink {
            Box::new(move |line| {
                if let Ok(mut file) = log.lock() {
                    let _ = writeln!(file, "{tag}{line}");
                }
            })
        });
        let served = Served::start(command, sink)?;
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(256)
            .build()?;
        Ok(Server {
            api: Api::with_client(&served.base, http),
            served,
            token,
            circuit_id,
            backend,
        })
    }

    /// Creates a public Bell circuit as the node's user; returns its id.
    pub async fn create_circuit(&self) -> Result<String, Error> {
        self.create_circuit_from(BELL).await
    }

    /// Creates a public circuit of `source` as the node's user; returns its id.
    pub async fn create_circuit_from(&self, source: &str) -> Result<String, Error> {
        let body = circuit_body(
            &format!("c{}", rand_suffix()),
            "public",
            "openqasm2",
            source,
        );
        let circuit = self.api.upload(&self.token, &body).await?;
        Ok(circuit["id"].as_str().ok_or("circuit id")?.to_owned())
    }

    /// `http://ADDR`.
    pub fn base(&self) -> &str {
        self.api.base()
    }

    pub fn pid(&self) -> u32 {
        self.served.pid()
    }

    /// SIGKILL: the node dies at once, with no drain (the graceful drop finds it reaped).
    pub fn kill(mut self) {
        self.served.kill();
    }

    /// The node's exit status, if it has exited (without being killed by us).
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.served.child.try_wait().ok().flatten()
    }

    /// `clients` closed-loop clients submitting Bell × 100 shots with consent until `runs` are
    /// accepted, client `i` as the user of `tokens[i % tokens.len()]`: each submission's
    /// latency in milliseconds, and the time they all took.
    pub async fn submit_closed_loop(
        &self,
        tokens: &[String],
        clients: usize,
        runs: u64,
    ) -> Result<(Vec<f64>, std::time::Duration), Error> {
        use std::sync::atomic::{AtomicU64, Ordering};
        let issued = Arc::new(AtomicU64::new(0));
        let start = std::time::Instant::now();
        let mut tasks = Vec::new();
        for i in 0..clients {
            let (client, issued) = (self.client_as(&tokens[i % tokens.len()]), issued.clone());
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

    /// A client submitting as the node's user.
    pub fn client(&self) -> Client {
        self.client_as(&self.token)
    }

    /// A client submitting as the user of `token` (the circuit is public).
    pub fn client_as(&self, token: &str) -> Client {
        Client {
            http: self.api.http().clone(),
            url: self.api.url("/api/runs"),
            token: token.to_owned(),
            body: serde_json::json!({
                "circuit_id": self.circuit_id,
                "backend": self.backend,
                "shots": 100,
            })
            .to_string(),
        }
    }

    pub fn rss_kib(&self, field: &str) -> Result<u64, Error> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()))?;
        status
            .lines()
            .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .ok_or_else(|| format!("no {field} in /proc/PID/status").into())
    }

    pub async fn metrics(&self) -> Result<String, Error> {
        self.api.metrics().await
    }

    /// Terminal runs so far, from `/metrics`.
    pub async fn finished(&self) -> Result<Finished, Error> {
        let mut finished = Finished::default();
        for sample in samples(&self.metrics().await?) {
            if sample.name != "qrun_runs_finished_total" {
                continue;
            }
            if sample.label("status") == Some("completed") {
                finished.completed += sample.value as u64;
            } else {
                finished.failed += sample.value as u64;
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
            let running = samples(&self.metrics().await?)
                .iter()
                .filter(|s| s.name == "qrun_runs" && s.label("status") == Some("running"))
                .map(|s| s.value)
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
        // SIGTERM: the node drains (its sleeping children are stopped), then exits.
        self.served.terminate();
    }
}

/// `qrun user create` with the configuration file `file`: a new user's API token.
pub fn create_user(bin: &Path, file: &Path) -> Result<String, Error> {
    let qrun = || {
        let mut qrun = Command::new(bin);
        qrun.arg("--config").arg(file);
        qrun
    };
    testkit::create_user(qrun, &format!("bench{}", rand_suffix()))
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
