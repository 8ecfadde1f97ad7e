//! The stabilizer method: Clifford circuits (docs/DESIGN.md §5) on an Aaronson–Gottesman
//! tableau ([`tableau`]), exact, in `O(n/64)` per gate and `O(n²/64)` per measurement, so
//! thousands of qubits run in milliseconds.
//!
//! # Shots without re-simulation
//!
//! A random measurement does not draw its outcome: it names a fresh variable, and every
//! sign and classical bit becomes an affine function of those variables ([`affine`]).
//! Resets are a measurement followed by an X conditioned on its outcome, which is affine
//! too. So a circuit without conditions is simulated **once**, whatever its mid-circuit
//! measurements and resets, and each shot is drawn at the end by giving the variables
//! uniform random values (64 shots per word operation).
//!
//! # Conditions
//!
//! A condition (`if (c == 1)`) needs the value of the bits it reads. Where one is not yet
//! constant, the run *branches*: the branch's shots are split by a fair binomial draw
//! between the two values of that bit, the bit's function is fixed to each value (one
//! variable eliminated, [`affine::Affine::substitute`]) and the branches go on separately —
//! as the state-vector simulator branches at measurements (`sim::branches`). A pending
//! branch keeps a copy of the state while the copies fit in the memory budget (one state
//! vector of the backend's `max_qubits`), otherwise only its path of chosen values, and is
//! replayed from the start with them forced (the simulation is deterministic between
//! branch points). Branches run depth-first, so a seed gives the same counts every time.

mod affine;
mod tableau;

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tokio_util::sync::CancellationToken;

use crate::branching::{Cursor, Pending, Splitter};
use crate::error::{EngineError, FailureKind, Result, Stage};
use crate::interrupt::Interrupt;
use crate::ir::{Condition, GateKind, Op, OpKind, Program, Register};
use crate::limits::Limits;
use crate::method::Method;
use crate::outcome::{Outcome, count_key};
use affine::Affine;
use tableau::Tableau;

/// Tableau row visits between two polls of the interrupt (a gate visits `2n` rows, a
/// measurement up to `2n · n/64` words).
const CHECK_EVERY_ROWS: usize = 1 << 16;

/// Runs `program`, which must be Clifford, for `shots` shots (see [`crate::simulate`]).
pub(crate) fn simulate(
    program: &Program,
    shots: u64,
    seed: Option<u64>,
    limits: &Limits,
    cancel: &CancellationToken,
) -> Result<Outcome> {
    let started = Instant::now();
    limits.check_shots(shots)?;
    let num_qubits = program.num_qubits() as usize;
    limits.admit(
        Method::Stabilizer,
        u64::from(program.width()),
        Stage::Execute,
    )?;
    if let Some((op, _)) = program.first_non_clifford() {
        return Err(EngineError::new(
            FailureKind::Validation,
            Stage::Execute,
            format!("the stabilizer method cannot run {:?}", op.kind),
        ));
    }
    let interrupt = Interrupt::new(cancel, started, limits.time_limit);
    interrupt.check()?;
    let ops: Vec<&Op> = program
        .ops
        .iter()
        .filter(|op| match &op.kind {
            OpKind::Gate(gate) => gate.kind != GateKind::Id,
            OpKind::Barrier(_) => false,
            OpKind::Measure { .. } | OpKind::Reset { .. } => true,
        })
        .collect();
    let mut rng = match seed {
        Some(seed) => ChaCha8Rng::seed_from_u64(seed),
        None => ChaCha8Rng::from_os_rng(),
    };
    // Gates from each operation to the next measurement or reset, for the tableau's layout.
    let mut gates_ahead = vec![0; ops.len()];
    for i in (0..ops.len()).rev() {
        if matches!(ops[i].kind, OpKind::Gate(_)) {
            gates_ahead[i] = 1 + gates_ahead.get(i + 1).copied().unwrap_or(0);
        }
    }
    let counts = Runner {
        ops: &ops,
        gates_ahead: &gates_ahead,
        num_qubits,
        cregs: &program.cregs,
        num_clbits: program.num_clbits() as usize,
        rng: &mut rng,
        interrupt: &interrupt,
        budget: limits.extra_state_budget(),
        check_every: (CHECK_EVERY_ROWS / (2 * num_qubits).max(1)).max(1),
    }
    .run(shots)?;
    Ok(Outcome::from_counts(
        counts,
        started.elapsed().as_secs_f64(),
        Method::Stabilizer,
        None,
    ))
}

/// What a branch of shots holds: the tableau, the classical bits and the number of
/// outcome variables named so far.
#[derive(Clone)]
struct State {
    tableau: Tableau,
    clbits: Vec<Affine>,
    next_var: usize,
}

impl State {
    fn bytes(&self) -> u64 {
        self.tableau.bytes() + self.clbits.iter().map(Affine::bytes).sum::<u64>()
    }

    /// Fixes `constraint` (an affine function with a variable) to `value` everywhere.
    fn fix(&mut self, constraint: &Affine, value: bool) {
        let v = constraint
            .first_variable()
            .expect("only a function with a variable is fixed");
        for f in self
            .tableau
            .signs_mut()
            .iter_mut()
            .chain(self.clbits.iter_mut())
        {
            f.substitute(v, constraint, value);
        }
    }
}

struct Runner<'a, R> {
    ops: &'a [&'a Op],
    /// Entry `i`: the gates from `ops[i]` on before the next measurement or reset.
    gates_ahead: &'a [usize],
    num_qubits: usize,
    cregs: &'a [Register],
    num_clbits: usize,
    rng: &'a mut R,
    interrupt: &'a Interrupt<'a>,
    /// Bytes the saved states of pending branches and the outcome bookkeeping may hold.
    budget: u64,
    /// Operations between two polls of the interrupt.
    check_every: usize,
}

impl<R: Rng> Runner<'_, R> {
    fn run(mut self, shots: u64) -> Result<BTreeMap<String, u64>> {
        let mut counts = BTreeMap::new();
        let mut pending: Vec<Pending<State>> = vec![Pending {
            at: Cursor::start(shots),
            saved: None,
        }];
        let mut saved_bytes = 0;
        while let Some(Pending { at, saved }) = pending.pop() {
            let state = match saved {
                Some(state) => {
                    saved_bytes -= state.bytes();
                    state
                }
                None => State {
                    tableau: Tableau::zero(self.num_qubits)?,
                    clbits: vec![Affine::constant(false); self.num_clbits],
                    next_var: 0,
                },
            };
            self.run_branch(state, at, &mut pending, &mut saved_bytes, &mut counts)?;
        }
        Ok(counts)
    }

    /// Runs a branch to the end of the program and adds its shots to `counts`.
    fn run_branch(
        &mut self,
        mut state: State,
        mut at: Cursor,
        pending: &mut Vec<Pending<State>>,
        saved_bytes: &mut u64,
        counts: &mut BTreeMap<String, u64>,
    ) -> Result<()> {
        while let Some(op) = self.ops.get(at.next) {
            if at.next.is_multiple_of(self.check_every) {
                self.interrupt.check()?;
            }
            let run = match &op.condition {
                None => true,
                Some(condition) => {
                    self.decide(&mut state, &mut at, condition, pending, saved_bytes)?
                }
            };
            if run {
                state.tableau.expect_gates(self.gates_ahead[at.next]);
                self.apply(&mut state, op)?;
            }
            at.next += 1;
        }
        self.sample(&state, at.shots, counts)
    }

    fn apply(&self, state: &mut State, op: &Op) -> Result<()> {
        let t = &mut state.tableau;
        match &op.kind {
            OpKind::Gate(gate) => {
                let q: Vec<usize> = gate.qubits.iter().map(|&q| q as usize).collect();
                match gate.kind {
                    GateKind::Id => {}
                    GateKind::X => t.x(q[0]),
                    GateKind::Y => t.y(q[0]),
                    GateKind::Z => t.z(q[0]),
                    GateKind::H => t.h(q[0]),
                    GateKind::S => t.s(q[0]),
                    GateKind::Sdg => t.sdg(q[0]),
                    GateKind::Sx => t.sx(q[0]),
                    GateKind::Sxdg => t.sxdg(q[0]),
                    GateKind::Cx => t.cx(q[0], q[1]),
                    GateKind::Cy => t.cy(q[0], q[1]),
                    GateKind::Cz => t.cz(q[0], q[1]),
                    GateKind::Swap => t.swap(q[0], q[1]),
                    other => unreachable!("{other:?} is not Clifford (checked before the run)"),
                }
            }
            OpKind::Measure { qubit, clbit } => {
                let outcome = t.measure(*qubit as usize, &mut state.next_var);
                state.clbits[*clbit as usize] = outcome;
                self.check_bookkeeping(state)?;
            }
            OpKind::Reset { qubit } => {
                let outcome = t.measure(*qubit as usize, &mut state.next_var);
                t.x_if(*qubit as usize, &outcome);
                self.check_bookkeeping(state)?;
            }
            OpKind::Barrier(_) => {}
        }
        Ok(())
    }

    /// Refuses a run whose outcome variables would take more than the budget: each
    /// stabilizer sign and classical bit holds a bit per variable.
    fn check_bookkeeping(&self, state: &State) -> Result<()> {
        let rows = (self.num_qubits + self.num_clbits) as u64;
        let bytes = rows.saturating_mul(state.next_var.div_ceil(64) as u64 * 8);
        if bytes <= self.budget {
            return Ok(());
        }
        Err(EngineError::new(
            FailureKind::ResourceLimit,
            Stage::Execute,
            format!(
                "the circuit's {} random measurement outcomes on {} qubits take more than {} \
                 MiB to track",
                state.next_var,
                self.num_qubits,
                self.budget >> 20
            ),
        ))
    }

    /// Whether `condition` holds, branching first on every bit it reads that is not yet
    /// constant.
    fn decide(
        &mut self,
        state: &mut State,
        at: &mut Cursor,
        condition: &Condition,
        pending: &mut Vec<Pending<State>>,
        saved_bytes: &mut u64,
    ) -> Result<bool> {
        for test in &condition.tests {
            for bit in test.offset..test.offset + test.size {
                let bit = bit as usize;
                if state.clbits[bit].value().is_none() {
                    self.branch(state, at, bit, pending, saved_bytes);
                }
            }
        }
        let values: Vec<bool> = state.clbits.iter().map(|f| f.constant).collect();
        Ok(condition.holds(&values))
    }

    /// Fixes classical bit `bit` (not constant) to a value: forced by the path, or drawn
    /// for the branch's shots with the other value's shots set aside.
    fn branch(
        &mut self,
        state: &mut State,
        at: &mut Cursor,
        bit: usize,
        pending: &mut Vec<Pending<State>>,
        saved_bytes: &mut u64,
    ) {
        let constraint = state.clbits[bit].clone();
        let value = Splitter {
            pending,
            saved_bytes,
            budget: self.budget,
        }
        .choose(at, 0.5, self.rng, || state.bytes(), || state.clone());
        state.fix(&constraint, value);
    }

    /// Draws `shots` shots of the classical bits' joint distribution and adds their keys to
    /// `counts`: 64 shots at a time, each variable a random word.
    fn sample(
        &mut self,
        state: &State,
        shots: u64,
        counts: &mut BTreeMap<String, u64>,
    ) -> Result<()> {
        let mut used: Vec<usize> = state.clbits.iter().flat_map(Affine::variables).collect();
        used.sort_unstable();
        used.dedup();
        if used.is_empty() {
            let bits: Vec<bool> = state.clbits.iter().map(|f| f.constant).collect();
            *counts.entry(count_key(self.cregs, &bits)).or_default() += shots;
            return Ok(());
        }
        let mut index = vec![0; state.next_var];
        for (i, &v) in used.iter().enumerate() {
            index[v] = i;
        }
        let mut values = vec![0u64; used.len()];
        let mut words = vec![0u64; state.clbits.len()];
        // Shots are tallied by their packed bits (bit `i` of word `i / 64`), each distinct
        // outcome turned into its count key once: 64 shots' bits are one transposition of
        // the 64-shot words of the classical bits.
        let mut tally: HashMap<Vec<u64>, u64> = HashMap::new();
        let per_shot = state.clbits.len().div_ceil(64);
        let mut left = shots;
        while left > 0 {
            self.interrupt.check()?;
            values.iter_mut().for_each(|v| *v = self.rng.random());
            for (word, f) in words.iter_mut().zip(&state.clbits) {
                *word = f.sample64(&index, &values);
            }
            let by_shot = tableau::transpose(&words, words.len(), 1, 64, per_shot);
            let batch = left.min(64) as usize;
            for shot in by_shot.chunks_exact(per_shot).take(batch) {
                *tally.entry(shot.to_vec()).or_default() += 1;
            }
            left -= batch as u64;
        }
        let mut bits = vec![false; state.clbits.len()];
        for (shot, n) in tally {
            for (i, bit) in bits.iter_mut().enumerate() {
                *bit = shot[i / 64] >> (i % 64) & 1 == 1;
            }
            *counts.entry(count_key(self.cregs, &bits)).or_default() += n;
        }
        Ok(())
    }
}
