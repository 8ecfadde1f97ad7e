//! Runs an OpenQASM 2.0 or 3 file on the engine and prints the outcome JSON, like `qrun
//! exec` (the format from the `OPENQASM` header; OpenQASM 2 without one):
//! `cargo run --release -p qrun-engine --example run_qasm -- FILE [--shots N] [--seed S]
//! [--param NAME=VALUE]… [--method statevector|stabilizer] [--precision double|single]
//! [--max-qubits N]` (`--max-qubits` raises the state vector's limit from the default 24
//! qubits, as a backend's `max_qubits` does; `--precision` is a run's `precision` option). Used by `scripts/bench_engine.py`
//! and `scripts/bench_peers.py` to measure the engine alone. The outcome says which method
//! ran; with `--passes` it also prints to stderr the seconds spent preparing and simulating
//! and, for a state-vector run, its plan's passes over the state and the time of one plain
//! pass (`qrun_engine::state_vector_profile`).

use std::process::ExitCode;

use qrun_engine::{
    CancellationToken, Format, Limits, Method, Parameters, Precision, prepare, simulate,
    state_vector_profile,
};

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let mut file = None;
    let (mut shots, mut seed) = (1024, None);
    let mut parameters = Parameters::new();
    let mut method = None;
    let mut precision = Precision::Double;
    let mut passes = false;
    let mut max_qubits = Limits::default().max_qubits;
    while let Some(arg) = args.next() {
        let value =
            |args: &mut dyn Iterator<Item = String>| args.next().and_then(|v| v.parse().ok());
        match arg.as_str() {
            "--shots" => match value(&mut args) {
                Some(n) => shots = n,
                None => return usage(),
            },
            "--seed" => match value(&mut args) {
                Some(s) => seed = Some(s),
                None => return usage(),
            },
            "--param" => {
                let parsed = args.next().and_then(|p| {
                    let (name, value) = p.split_once('=')?;
                    Some((name.to_owned(), value.parse().ok()?))
                });
                match parsed {
                    Some((name, value)) => parameters.insert(name, value),
                    None => return usage(),
                };
            }
            "--passes" => passes = true,
            "--max-qubits" => match args.next().and_then(|v| v.parse().ok()) {
                Some(n) => max_qubits = n,
                None => return usage(),
            },
            "--method" => match args.next().as_deref().and_then(Method::from_name) {
                Some(m) => method = Some(m),
                None => return usage(),
            },
            "--precision" => match args.next().as_deref().and_then(Precision::from_name) {
                Some(p) => precision = p,
                None => return usage(),
            },
            _ if file.is_none() => file = Some(arg),
            _ => return usage(),
        }
    }
    let Some(file) = file else { return usage() };
    let source = match std::fs::read_to_string(&file) {
        Ok(source) => source,
        Err(e) => {
            eprintln!("{file}: {e}");
            return ExitCode::from(2);
        }
    };
    let limits = Limits {
        method,
        precision,
        max_qubits,
        ..Limits::default()
    };
    let format = Format::detect(&source).unwrap_or(Format::OpenQasm2);
    let started = std::time::Instant::now();
    let outcome = prepare(&source, format, &parameters, shots, &limits).and_then(|program| {
        let prepare_seconds = started.elapsed().as_secs_f64();
        let outcome = simulate(&program, shots, seed, &limits, &CancellationToken::new())?;
        if passes {
            let mut report = serde_json::json!({
                "prepare_seconds": prepare_seconds,
                "simulate_seconds": outcome.execution_time,
            });
            if program.method() == Method::StateVector {
                let (profile, pass_seconds) = state_vector_profile(&program)?;
                report["kernels"] = profile.passes.into();
                report["gates"] = profile.gates.into();
                report["blocked_runs"] = profile.blocked_runs.into();
                report["blocked_kernels"] = profile.blocked_kernels.into();
                report["pass_seconds"] = pass_seconds.into();
            }
            eprintln!("{report}");
        }
        Ok(outcome)
    });
    match outcome {
        Ok(outcome) => match serde_json::to_string(&outcome) {
            Ok(json) => {
                println!("{json}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("{e}");
                ExitCode::FAILURE
            }
        },
        Err(e) => {
            match e.position {
                Some(pos) => eprintln!("{file}:{pos}: {e}"),
                None => eprintln!("{file}: {e}"),
            }
            ExitCode::from(2)
        }
    }
}

fn usage() -> ExitCode {
    eprintln!(
        "usage: run_qasm FILE [--shots N] [--seed S] [--param NAME=VALUE]... \
         [--method statevector|stabilizer] [--precision double|single] [--max-qubits N] [--passes]"
    );
    ExitCode::from(2)
}
