//! Sandbox overhead: a no-op backend (a shell that reads the job and prints fixed counts)
//! run with and without the sandbox — wall time per run (p50/p99), one at a time and 8 at
//! once, and runs per second at 8 concurrent.
//!
//! Run: `cargo bench -p qrun-sandbox --bench overhead` (QRUN_BENCH_RUNS=N changes the
//! number of runs per figure, default 400).

use std::ffi::OsString;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use qrun_sandbox::{CancellationToken, Ending, Exit, Invocation, Policy, Sandbox};

const NO_OP: &str = r#"cat >/dev/null; printf '{"counts": {"0": 1}}'"#;
const JOB: &[u8] = br#"{"source": "OPENQASM 2.0;", "format": "openqasm2", "shots": 1, "seed": null, "parameters": {}}"#;
const CONCURRENCY: usize = 8;

async fn one(sandbox: &Sandbox) -> Duration {
    let args = [OsString::from("-c"), OsString::from(NO_OP)];
    let started = Instant::now();
    let ending = sandbox
        .run(
            &Invocation {
                program: Path::new("/bin/sh"),
                args: &args,
                stdin: JOB,
                timeout: Duration::from_secs(60),
                max_output_bytes: 1 << 20,
            },
            &CancellationToken::new(),
        )
        .await;
    let elapsed = started.elapsed();
    assert!(
        matches!(
            ending,
            Ending::Exited {
                exit: Exit::Code(0),
                ..
            }
        ),
        "{ending:?}"
    );
    elapsed
}

/// Per-run wall times of `runs` runs, `concurrency` at a time, and the whole wall time.
async fn measure(
    sandbox: Arc<Sandbox>,
    runs: usize,
    concurrency: usize,
) -> (Vec<Duration>, Duration) {
    let started = Instant::now();
    let workers: Vec<_> = (0..concurrency)
        .map(|worker| {
            let sandbox = sandbox.clone();
            tokio::spawn(async move {
                let mut times = Vec::new();
                for _ in (worker..runs).step_by(concurrency) {
                    times.push(one(&sandbox).await);
                }
                times
            })
        })
        .collect();
    let mut times = Vec::with_capacity(runs);
    for worker in workers {
        times.extend(worker.await.unwrap());
    }
    (times, started.elapsed())
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let index = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[index].as_secs_f64() * 1000.0
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let runs: usize = std::env::var("QRUN_BENCH_RUNS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(400);
    println!(
        "sandbox overhead: no-op backend (/bin/sh: cat the job, print fixed counts), {runs} runs per row"
    );
    println!(
        "{:<12} {:>11} {:>11} {:>11} {:>11} {:>10}",
        "mode", "p50 1×", "p99 1×", "p50 8×", "p99 8×", "runs/s 8×"
    );
    for enabled in [false, true] {
        let sandbox = Arc::new(Sandbox::new(Policy {
            enabled,
            ..Policy::default()
        }));
        // Warm up (page cache, first cgroup).
        measure(sandbox.clone(), 20, 1).await;
        let (mut alone, _) = measure(sandbox.clone(), runs, 1).await;
        let (mut busy, wall) = measure(sandbox.clone(), runs, CONCURRENCY).await;
        alone.sort_unstable();
        busy.sort_unstable();
        println!(
            "{:<12} {:>8.2} ms {:>8.2} ms {:>8.2} ms {:>8.2} ms {:>10.0}",
            if enabled { "sandbox" } else { "no sandbox" },
            percentile(&alone, 0.5),
            percentile(&alone, 0.99),
            percentile(&busy, 0.5),
            percentile(&busy, 0.99),
            runs as f64 / wall.as_secs_f64(),
        );
    }
    println!(
        "cgroups: {}",
        if Sandbox::new(Policy::default()).has_cgroups() {
            "per-run memory/pids/cpuacct cgroups (v1)"
        } else {
            "none (rlimits)"
        }
    );
    println!("rerun: CARGO_TARGET_DIR=… cargo bench -p qrun-sandbox --bench overhead");
}
