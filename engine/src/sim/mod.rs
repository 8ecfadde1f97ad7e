//! The state-vector simulator: runs a [`Program`] for a number of shots.
//!
//! [`plan`] compiles the program into kernels ([`gates`], [`kernels`]), fused where it pays
//! ([`fusion`]), and splits off the terminal tail; [`branches`] runs the shots, sharing
//! every step it can; [`sample`] draws the final outcomes. [`state`] owns the amplitudes,
//! [`parallel`] decides how passes are chunked and threaded; `crate::interrupt` is the
//! cancel/timeout poll that every long loop makes.

mod branches;
#[cfg(target_arch = "x86_64")]
mod dense_lanes;
mod fusion;
mod gates;
mod kernels;
mod parallel;
mod plan;
mod real;
mod sample;
mod simd;
pub(crate) mod state;

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
use crate::precision::Precision;
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
    limits.admit_qubits(u64::from(program.width()), Stage::Execute)?;
    let interrupt = Interrupt::new(cancel, started, limits.time_limit);
    interrupt.check()?;
    let plan = Plan::compile(program, &interrupt)?;
    let mut rng = match seed {
        Some(seed) => ChaCha8Rng::seed_from_u64(seed),
        None => ChaCha8Rng::from_os_rng(),
    };
    macro_rules! run_in {
        ($real:ty) => {
            Runner::<_, $real> {
                plan: &plan,
                num_qubits,
                cregs: &program.cregs,
                num_clbits: program.num_clbits() as usize,
                rng: &mut rng,
                interrupt: &interrupt,
                budget: limits.extra_state_budget(),
                precision: std::marker::PhantomData,
            }
            .run(shots)?
        };
    }
    let counts = match limits.precision {
        Precision::Double => run_in!(f64),
        Precision::Single => run_in!(f32),
    };
    Ok(Outcome::from_counts(
        counts,
        started.elapsed().as_secs_f64(),
        Method::StateVector,
        Some(limits.precision),
    ))
}

/// The final state of a program without measurements, resets or conditions (see
/// [`crate::statevector`]).
pub(crate) fn statevector(
    program: &Program,
    limits: &Limits,
    cancel: &CancellationToken,
) -> Result<StateVector<f64>> {
    let started = Instant::now();
    let num_qubits = program.num_qubits();
    limits.admit_qubits(u64::from(program.width()), Stage::Execute)?;
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
    for kernel in plan.tail.iter().chain(&plan.restore_layout()) {
        state.apply(kernel, &interrupt)?;
    }
    Ok(state)
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
    let mut state = StateVector::<f64>::zero(num_qubits)?;
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

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::ir::Condition;

    /// The final state of `program` in precision `S` with every measurement and reset
    /// taking a fixed outcome (bit `k` of `outcomes` for the `k`-th, unless that outcome's
    /// probability is below `impossible`), run on its plan with or without fusion and
    /// blocking.
    fn final_state<S: real::Real>(
        program: &Program,
        optimise: bool,
        outcomes: u64,
        impossible: f64,
    ) -> Vec<Complex64> {
        let never = Interrupt::never();
        let plan = Plan::compile_with(program, optimise, &never).unwrap();
        let mut state = StateVector::<S>::zero(program.num_qubits()).unwrap();
        let mut clbits = vec![false; program.num_clbits() as usize];
        let mut k = 0;
        let holds =
            |c: &Option<Condition>, clbits: &[bool]| c.as_ref().is_none_or(|c| c.holds(clbits));
        for step in &plan.head {
            if !holds(&step.condition, &clbits) {
                continue;
            }
            let (qubit, reset) = match step.action {
                plan::Action::Apply(ref kernel) => {
                    state.apply(kernel, &never).unwrap();
                    continue;
                }
                plan::Action::Measure { qubit, .. } => (qubit, false),
                plan::Action::Reset { qubit } => (qubit, true),
            };
            let p1 = state.probability_of_one(qubit, &never).unwrap();
            let wanted = outcomes >> (k % 64) & 1 == 1;
            k += 1;
            let outcome = if p1 < impossible {
                false
            } else if p1 > 1.0 - impossible {
                true
            } else {
                wanted
            };
            let probability = if outcome { p1 } else { 1.0 - p1 };
            state
                .collapse(qubit, outcome, probability, reset, &never)
                .unwrap();
            if let plan::Action::Measure { clbit, .. } = step.action {
                clbits[clbit] = outcome;
            }
        }
        for kernel in plan.tail.iter().chain(&plan.restore_layout()) {
            state.apply(kernel, &never).unwrap();
        }
        state
            .amplitudes()
            .iter()
            .map(|a| Complex64::new(a.re.to_f64(), a.im.to_f64()))
            .collect()
    }

    fn operation(n: usize) -> impl Strategy<Value = String> {
        let q = 0..n;
        let angle = -3.2..3.2f64;
        let two = (q.clone(), q.clone()).prop_filter("distinct", |(a, b)| a != b);
        let three = (q.clone(), q.clone(), q.clone())
            .prop_filter("distinct", |(a, b, c)| a != b && b != c && a != c);
        let one_gate = prop_oneof![
            (
                prop::sample::select(vec!["h", "x", "y", "t", "s", "sx", "z"]),
                q.clone()
            )
                .prop_map(|(g, a)| format!("{g} q[{a}];")),
            (
                prop::sample::select(vec!["rx", "ry", "rz", "p"]),
                angle.clone(),
                q.clone()
            )
                .prop_map(|(g, t, a)| format!("{g}({t}) q[{a}];")),
            (angle.clone(), angle.clone(), angle.clone(), q.clone())
                .prop_map(|(t, p, l, a)| format!("u3({t},{p},{l}) q[{a}];")),
        ];
        prop_oneof![
            6 => one_gate.clone(),
            4 => (prop::sample::select(vec!["cx", "cz", "swap", "cy", "ch"]), two.clone())
                .prop_map(|(g, (a, b))| format!("{g} q[{a}], q[{b}];")),
            3 => (prop::sample::select(vec!["cp", "crz", "crx", "rzz", "rxx"]), angle, two.clone())
                .prop_map(|(g, t, (a, b))| format!("{g}({t}) q[{a}], q[{b}];")),
            1 => three.prop_map(|(a, b, c)| format!("ccx q[{a}], q[{b}], q[{c}];")),
            // Multi-controlled gates, native and decomposed: controls past the local
            // qubits fuse into blocks that move only local ones.
            1 => (prop::sample::select(vec!["c3x", "c3sqrtx", "rc3x"]), prop::sample::subsequence((0..n).collect::<Vec<_>>(), 4).prop_shuffle())
                .prop_map(|(g, q)| format!("{g} q[{}], q[{}], q[{}], q[{}];", q[0], q[1], q[2], q[3])),
            1 => (q.clone(), 0..2usize).prop_map(|(a, c)| format!("measure q[{a}] -> c[{c}];")),
            1 => q.prop_map(|a| format!("reset q[{a}];")),
            1 => (0..4u32, one_gate).prop_map(|(v, g)| format!("if (c == {v}) {g}")),
        ]
    }

    /// Qubits of the states [`fused_and_blocked_plans_equal_the_plain_one`] runs on: two past
    /// the local ones, so that runs are cache-blocked.
    const BLOCKED_QUBITS: usize = kernels::LOCAL_QUBITS + 2;

    /// The source of `ops` on [`BLOCKED_QUBITS`] qubits and two classical bits, and its
    /// program.
    fn blocked_program(ops: &[String]) -> (String, Program) {
        let source = format!(
            "OPENQASM 2.0;\ninclude \"qelib1.inc\";\nqreg q[{BLOCKED_QUBITS}];\ncreg c[2];\n{}\n",
            ops.join("\n")
        );
        let program = crate::qasm::parse(&source, &Limits::default()).unwrap();
        (source, program)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]

        /// Fusion and cache blocking change nothing but speed: on states wide enough for
        /// both (two qubits past the local ones), the fused plan's final state equals the
        /// unfused one's within 1e-12, with conditions and mid-circuit measurements.
        #[test]
        fn fused_and_blocked_plans_equal_the_plain_one(
            ops in prop::collection::vec(operation(BLOCKED_QUBITS), 1..60),
            outcomes in any::<u64>(),
        ) {
            let (source, program) = blocked_program(&ops);
            let plain = final_state::<f64>(&program, false, outcomes, 1e-6);
            let fused = final_state::<f64>(&program, true, outcomes, 1e-6);
            for (i, (a, b)) in fused.iter().zip(&plain).enumerate() {
                prop_assert!((a - b).norm() < 1e-12, "amplitude {}: {} vs {}\n{}", i, a, b, source);
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(16))]

        /// Single precision (f32 amplitudes, every kernel in f32) follows double precision to
        /// f32's rounding: the fused, blocked plan's final state within 1e-4 (Euclidean
        /// distance, the states being unit vectors) of the unfused plan's in f64 after up to
        /// 60 gates, with conditions and mid-circuit measurements.
        /// (An f32 amplitude's rounding is about 6e-8 of the norm per gate; collapsing onto
        /// an outcome of probability `p` scales errors by `1/√p`, so outcomes below 1e-3 are
        /// taken as impossible in both runs.)
        #[test]
        fn single_precision_follows_double(
            ops in prop::collection::vec(operation(BLOCKED_QUBITS), 1..60),
            outcomes in any::<u64>(),
        ) {
            let (source, program) = blocked_program(&ops);
            let double = final_state::<f64>(&program, false, outcomes, 1e-3);
            let single = final_state::<f32>(&program, true, outcomes, 1e-3);
            let distance = single
                .iter()
                .zip(&double)
                .map(|(a, b)| (a - b).norm_sqr())
                .sum::<f64>()
                .sqrt();
            prop_assert!(distance < 1e-4, "‖single − double‖ = {}\n{}", distance, source);
        }
    }

    /// A kernel's kind and qubits, for [`plan_kernel_costs`].
    fn describe(kernel: &kernels::Kernel) -> String {
        use kernels::Kernel::*;
        let bits = |mask: usize| {
            format!(
                "{:?}",
                (0..64).filter(|q| mask >> q & 1 == 1).collect::<Vec<_>>()
            )
        };
        match kernel {
            Unitary1 {
                target, controls, ..
            } => format!("unitary1 {target} controls {}", bits(*controls)),
            Flip { target, controls } => format!("flip {target} controls {}", bits(*controls)),
            Swap { a, b, controls } => format!("swap {a} {b} controls {}", bits(*controls)),
            Phase { mask, .. } => format!("phase {}", bits(*mask)),
            Diagonal { qubits, .. } => format!("diagonal {qubits:?}"),
            Dense { qubits, .. } => format!("dense {qubits:?} moves {}", bits(kernel.moved_mask())),
            Local(run) => format!(
                "blocked run of {}: {}",
                run.len(),
                run.iter().map(describe).collect::<Vec<_>>().join("; ")
            ),
        }
    }

    /// Prints the CPU time of each kernel of an OpenQASM 2 file's plan (its terminal tail),
    /// in passes over the state (one plain pass: `a *= i`).
    /// `RAYON_NUM_THREADS=1 QRUN_PLAN_FILE=F.qasm cargo test --release -p qrun-engine --lib
    /// plan_kernel_costs -- --ignored --nocapture`
    #[test]
    #[ignore = "a measurement, not a test"]
    fn plan_kernel_costs() {
        let file = std::env::var("QRUN_PLAN_FILE").expect("QRUN_PLAN_FILE");
        let source = std::fs::read_to_string(file).unwrap();
        let program = crate::qasm::parse(&source, &Limits::default()).unwrap();
        let never = Interrupt::never();
        let plan = Plan::compile(&program, &never).unwrap();
        let mut state = StateVector::<f64>::zero(program.num_qubits()).unwrap();
        let pass = kernels::Kernel::Phase {
            mask: 0,
            phase: Complex64::new(0.0, 1.0),
        };
        let cpu = kernels::costs::cpu_seconds;
        let timed = |state: &mut StateVector<f64>, kernel: &kernels::Kernel| {
            let started = cpu();
            state.apply(kernel, &never).unwrap();
            cpu() - started
        };
        timed(&mut state, &pass);
        let pass_seconds = (0..4).map(|_| timed(&mut state, &pass)).sum::<f64>() / 4.0;
        let mut total = 0.0;
        for (i, kernel) in plan.tail.iter().enumerate() {
            let seconds = timed(&mut state, kernel);
            total += seconds;
            println!(
                "{i:3} {:7.1} ms {:5.1} passes  {}",
                seconds * 1e3,
                seconds / pass_seconds,
                describe(kernel)
            );
        }
        println!(
            "total {:.3} s, {:.0} passes of {:.1} ms",
            total,
            total / pass_seconds,
            pass_seconds * 1e3
        );
    }
}
