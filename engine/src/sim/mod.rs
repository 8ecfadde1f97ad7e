//! The state-vector simulator: runs a [`Program`] for a number of shots.
//!
//! [`plan`] compiles the program into kernels ([`gates`], [`kernels`]), fused where it pays
//! ([`fusion`]), and splits off the terminal tail; [`branches`] runs the shots, sharing
//! every step it can; [`sample`] draws the final outcomes. [`state`] owns the amplitudes,
//! [`parallel`] decides how passes are chunked and threaded; `crate::interrupt` is the
//! cancel/timeout poll that every long loop makes.

mod branches;
mod fusion;
mod gates;
mod kernels;
mod parallel;
mod plan;
mod sample;
mod state;

use std::time::Instant;

use num_complex::Complex64;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use tokio_util::sync::CancellationToken;

use crate::error::{EngineError, FailureKind, Result, Stage};
use crate::interrupt::Interrupt;
use crate::ir::Program;
use crate::limits::Limits;
use crate::method::Method;
use crate::outcome::Outcome;
use branches::Runner;
use plan::Plan;
use state::StateVector;

/// Runs `program` for `shots` shots (see [`crate::simulate`]).
pub(crate) fn simulate(
    program: &Program,
    shots: u64,
    seed: Option<u64>,
    limits: &Limits,
    cancel: &CancellationToken,
) -> Result<Outcome> {
    let started = Instant::now();
    limits.check_shots(shots)?;
    let num_qubits = program.num_qubits();
    limits.admit_qubits(u64::from(num_qubits), Stage::Execute)?;
    let interrupt = Interrupt::new(cancel, started, limits.time_limit);
    interrupt.check()?;
    let plan = Plan::compile(program, &interrupt)?;
    let mut rng = match seed {
        Some(seed) => ChaCha8Rng::seed_from_u64(seed),
        None => ChaCha8Rng::from_os_rng(),
    };
    let counts = Runner {
        plan: &plan,
        num_qubits,
        cregs: &program.cregs,
        num_clbits: program.num_clbits() as usize,
        rng: &mut rng,
        interrupt: &interrupt,
        budget: limits.extra_state_budget(),
    }
    .run(shots)?;
    Ok(Outcome::from_counts(
        counts,
        started.elapsed().as_secs_f64(),
        Method::StateVector,
    ))
}

/// The final state of a program without measurements, resets or conditions (see
/// [`crate::statevector`]).
pub(crate) fn statevector(
    program: &Program,
    limits: &Limits,
    cancel: &CancellationToken,
) -> Result<Vec<Complex64>> {
    let started = Instant::now();
    let num_qubits = program.num_qubits();
    limits.admit_qubits(u64::from(num_qubits), Stage::Execute)?;
    let interrupt = Interrupt::new(cancel, started, limits.time_limit);
    let plan = Plan::compile(program, &interrupt)?;
    if !plan.head.is_empty() || !plan.terminal.is_empty() {
        return Err(EngineError::new(
            FailureKind::Validation,
            Stage::Prepare,
            "a state vector needs a circuit without measurements, resets or conditions",
        ));
    }
    let mut state = StateVector::zero(num_qubits)?;
    for kernel in &plan.tail {
        state.apply(kernel, &interrupt)?;
    }
    Ok(state.into_amplitudes())
}

/// What the state-vector plan of a program does, for benchmarks (see
/// [`crate::state_vector_profile`]).
pub(crate) fn profile(program: &Program) -> Result<crate::PlanProfile> {
    let plan = Plan::compile(program, &Interrupt::never())?;
    let mut profile = crate::PlanProfile {
        gates: program.gate_count(),
        ..crate::PlanProfile::default()
    };
    let kernels = plan
        .head
        .iter()
        .filter_map(|step| match &step.action {
            plan::Action::Apply(kernel) => Some(kernel),
            _ => None,
        })
        .chain(&plan.tail);
    for kernel in kernels {
        profile.passes += 1;
        if let kernels::Kernel::Local(run) = kernel {
            profile.blocked_runs += 1;
            profile.blocked_kernels += run.len();
        }
    }
    Ok(profile)
}

/// Seconds one plain pass over a state of `num_qubits` qubits takes (every amplitude read,
/// multiplied by `i` and written, in the simulator's chunks and threads): the memory
/// bound a kernel pass is measured against.
pub(crate) fn plain_pass_seconds(num_qubits: u32) -> Result<f64> {
    let mut state = StateVector::zero(num_qubits)?;
    let kernel = kernels::Kernel::Phase {
        mask: 0,
        phase: Complex64::new(0.0, 1.0),
    };
    let never = Interrupt::never();
    state.apply(&kernel, &never)?;
    let started = Instant::now();
    for _ in 0..4 {
        state.apply(&kernel, &never)?;
    }
    Ok(started.elapsed().as_secs_f64() / 4.0)
}
