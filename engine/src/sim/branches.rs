//! Running shots through a plan's head with the least re-simulation: shots travel together
//! as a *branch*, and only split where a measurement or reset has more than one outcome.
//!
//! At such a step the branch's shots are divided by a binomial draw; the larger part goes
//! on with the state collapsed in place, the smaller part is set aside as a pending branch.
//! A pending branch keeps a copy of the pre-collapse state if the copies fit in the memory
//! budget (one state of the backend's `max_qubits`); otherwise it keeps only its *path* —
//! the outcome of every measurement and reset so far — and is rebuilt later by replaying
//! the head from |0…0⟩ with those outcomes forced. Unitaries before the first measurement
//! are thus simulated once for all shots, a circuit whose measurements all give one outcome
//! costs one simulation, and memory stays bounded whatever the number of branches. At the
//! end of the head each branch samples its shots from its final state (the plan's terminal
//! tail). Branches run depth-first, so the result for a seed is deterministic.

use std::collections::BTreeMap;

use rand::Rng;

use super::plan::{Action, Plan};
use super::real::Real;
use super::sample::sample;
use super::state::StateVector;
use crate::branching::{Cursor, Pending, Splitter};
use crate::error::Result;
use crate::interrupt::Interrupt;
use crate::ir::Register;
use crate::outcome::count_key;

/// Runs `shots` shots of `plan` and returns counts keyed as in [`count_key`].
pub(crate) struct Runner<'a, R, S> {
    pub plan: &'a Plan,
    pub num_qubits: u32,
    pub cregs: &'a [Register],
    pub num_clbits: usize,
    pub rng: &'a mut R,
    pub interrupt: &'a Interrupt<'a>,
    /// Bytes of saved states pending branches may hold.
    pub budget: u64,
    /// The states' precision.
    pub precision: std::marker::PhantomData<S>,
}

struct Branch<S> {
    state: StateVector<S>,
    clbits: Vec<bool>,
    at: Cursor,
}

/// What a pending branch resumes from: the state and the classical bits.
type Saved<S> = (StateVector<S>, Vec<bool>);

impl<R: Rng, S: Real> Runner<'_, R, S> {
    pub(crate) fn run(mut self, shots: u64) -> Result<BTreeMap<String, u64>> {
        let mut counts = BTreeMap::new();
        let mut pending: Vec<Pending<Saved<S>>> = vec![Pending {
            at: Cursor::start(shots),
            saved: None,
        }];
        let mut saved_bytes = 0;
        let mut spare: Option<StateVector<S>> = None;
        while let Some(Pending { at, saved }) = pending.pop() {
            let (state, clbits) = match saved {
                Some((state, clbits)) => {
                    saved_bytes -= state.bytes();
                    drop(spare.take());
                    (state, clbits)
                }
                None => {
                    let state = match spare.take() {
                        Some(mut state) => {
                            state.reset_to_zero();
                            state
                        }
                        None => StateVector::zero(self.num_qubits)?,
                    };
                    (state, vec![false; self.num_clbits])
                }
            };
            let branch = Branch { state, clbits, at };
            spare = Some(self.run_branch(branch, &mut pending, &mut saved_bytes, &mut counts)?);
        }
        Ok(counts)
    }

    /// Runs a branch to the end of the plan, adding its shots to `counts`; returns its
    /// state for reuse.
    fn run_branch(
        &mut self,
        mut branch: Branch<S>,
        pending: &mut Vec<Pending<Saved<S>>>,
        saved_bytes: &mut u64,
        counts: &mut BTreeMap<String, u64>,
    ) -> Result<StateVector<S>> {
        while let Some(step) = self.plan.head.get(branch.at.next) {
            self.interrupt.check()?;
            if step
                .condition
                .as_ref()
                .is_none_or(|c| c.holds(&branch.clbits))
            {
                match step.action {
                    Action::Apply(ref kernel) => branch.state.apply(kernel, self.interrupt)?,
                    Action::Measure { qubit, clbit } => {
                        let outcome =
                            self.outcome(&mut branch, qubit, false, pending, saved_bytes)?;
                        branch.clbits[clbit] = outcome;
                    }
                    Action::Reset { qubit } => {
                        self.outcome(&mut branch, qubit, true, pending, saved_bytes)?;
                    }
                }
            }
            branch.at.next += 1;
        }
        for kernel in &self.plan.tail {
            branch.state.apply(kernel, self.interrupt)?;
        }
        if self.plan.terminal.is_empty() {
            *counts
                .entry(count_key(self.cregs, &branch.clbits))
                .or_default() += branch.at.shots;
        } else {
            let samples = sample(
                branch.state.amplitudes(),
                branch.at.shots,
                self.rng,
                self.interrupt,
            )?;
            for (index, count) in samples {
                for &(qubit, clbit) in &self.plan.terminal {
                    branch.clbits[clbit] = index >> qubit & 1 == 1;
                }
                *counts
                    .entry(count_key(self.cregs, &branch.clbits))
                    .or_default() += count;
            }
        }
        Ok(branch.state)
    }

    /// Measures (or resets) `qubit`: picks the outcome — forced by the path, or drawn for
    /// the branch's shots, setting the other outcome's shots aside — and collapses.
    fn outcome(
        &mut self,
        branch: &mut Branch<S>,
        qubit: usize,
        reset: bool,
        pending: &mut Vec<Pending<Saved<S>>>,
        saved_bytes: &mut u64,
    ) -> Result<bool> {
        let p1 = branch.state.probability_of_one(qubit, self.interrupt)?;
        let Branch { state, clbits, at } = branch;
        let outcome = Splitter {
            pending,
            saved_bytes,
            budget: self.budget,
        }
        .choose(
            at,
            p1,
            self.rng,
            || state.bytes(),
            || (state.clone(), clbits.clone()),
        );
        let probability = if outcome { p1 } else { 1.0 - p1 };
        state.collapse(qubit, outcome, probability, reset, self.interrupt)?;
        Ok(outcome)
    }
}
