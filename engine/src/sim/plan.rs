//! Compiling a program for simulation: kernels instead of gates, fused runs, and the split
//! into a *head* that needs per-shot treatment and a *terminal* tail that does not.
//!
//! The tail is the longest suffix with no reset, no condition, and no measurement followed
//! by anything acting on its qubit. Its measurements can all be deferred to the end, so the
//! tail's shots are sampled from one final state. When the whole program is such a tail
//! (the common case), the circuit is simulated once for all shots.

use super::fusion::{FUSION_MIN_QUBITS, fuse, group_local};
use super::gates::kernel;
use super::kernels::Kernel;
use super::kernels::LOCAL_QUBITS;
use crate::error::Result;
use crate::interrupt::Interrupt;
use crate::ir::{Condition, Gate, GateKind, Op, OpKind, Program};

/// Operations compiled between two polls of the interrupt.
const CHECK_EVERY: usize = 4096;

/// A program ready to simulate.
pub(crate) struct Plan {
    /// Steps run per branch of shots, in order.
    pub head: Vec<Step>,
    /// The tail's unitaries, fused.
    pub tail: Vec<Kernel>,
    /// The tail's measurements `(qubit, clbit)` in program order, read from the final state.
    pub terminal: Vec<(usize, usize)>,
    /// Where each qubit of the program is in the state: `layout[q]` is the state bit of
    /// program qubit `q`. Unconditional swaps are not applied but relabel the qubits of
    /// everything after them (a *virtual swap*, no pass over the state); every kernel,
    /// measurement and reset above is already in state bits.
    pub layout: Vec<usize>,
}

/// One step of the head.
pub(crate) struct Step {
    /// Run only when this holds.
    pub condition: Option<Condition>,
    pub action: Action,
}

pub(crate) enum Action {
    Apply(Kernel),
    Measure { qubit: usize, clbit: usize },
    Reset { qubit: usize },
}

impl Plan {
    /// Compiles `program`; fuses when the state is large enough for fusion to pay.
    pub(crate) fn compile(program: &Program, interrupt: &Interrupt<'_>) -> Result<Self> {
        Self::compile_with(program, true, interrupt)
    }

    /// [`Plan::compile`], with fusion and cache blocking only when `optimise` (the tests
    /// compare both).
    pub(crate) fn compile_with(
        program: &Program,
        optimise: bool,
        interrupt: &Interrupt<'_>,
    ) -> Result<Self> {
        let fusing = optimise && program.num_qubits() >= FUSION_MIN_QUBITS;
        let blocking = optimise && program.num_qubits() as usize > LOCAL_QUBITS;
        let relabel = optimise;
        let optimise = |kernels: Vec<Kernel>| {
            let kernels = if fusing {
                fuse(kernels, blocking, interrupt)?
            } else {
                kernels
            };
            Ok::<_, crate::error::EngineError>(if blocking {
                group_local(kernels)
            } else {
                kernels
            })
        };
        let ops: Vec<&Op> = program
            .ops
            .iter()
            .filter(|op| !matches!(op.kind, OpKind::Barrier(_)))
            .collect();
        let split = terminal_start(&ops);
        let mut layout: Vec<usize> = (0..program.num_qubits() as usize).collect();

        let mut head = Vec::new();
        let mut run = Vec::new();
        for (i, op) in ops[..split].iter().enumerate() {
            if i % CHECK_EVERY == 0 {
                interrupt.check()?;
            }
            let action = match &op.kind {
                OpKind::Gate(gate) if op.condition.is_none() => {
                    run.extend(placed_kernel(gate, relabel, &mut layout));
                    continue;
                }
                OpKind::Gate(gate) => match placed_kernel(gate, false, &mut layout) {
                    Some(kernel) => Action::Apply(kernel),
                    None => continue,
                },
                OpKind::Measure { qubit, clbit } => Action::Measure {
                    qubit: layout[*qubit as usize],
                    clbit: *clbit as usize,
                },
                OpKind::Reset { qubit } => Action::Reset {
                    qubit: layout[*qubit as usize],
                },
                OpKind::Barrier(_) => continue,
            };
            head.extend(unconditional(optimise(std::mem::take(&mut run))?));
            head.push(Step {
                condition: op.condition.clone(),
                action,
            });
        }
        head.extend(unconditional(optimise(run)?));

        let mut tail = Vec::new();
        let mut terminal = Vec::new();
        for (i, op) in ops[split..].iter().enumerate() {
            if i % CHECK_EVERY == 0 {
                interrupt.check()?;
            }
            match &op.kind {
                OpKind::Gate(gate) => tail.extend(placed_kernel(gate, relabel, &mut layout)),
                OpKind::Measure { qubit, clbit } => {
                    terminal.push((layout[*qubit as usize], *clbit as usize))
                }
                OpKind::Reset { .. } | OpKind::Barrier(_) => {}
            }
        }
        Ok(Self {
            head,
            tail: optimise(tail)?,
            terminal,
            layout,
        })
    }

    /// Swaps that move every program qubit back to its own state bit (see
    /// [`Plan::layout`]), for a caller that reads the state itself.
    pub(crate) fn restore_layout(&self) -> Vec<Kernel> {
        let mut layout = self.layout.clone();
        let mut swaps = Vec::new();
        for q in 0..layout.len() {
            let at = layout[q];
            if at == q {
                continue;
            }
            // The program qubit on state bit q moves to `at`; q comes home.
            let other = layout
                .iter()
                .position(|&bit| bit == q)
                .expect("a permutation");
            swaps.push(Kernel::Swap {
                a: q,
                b: at,
                controls: 0,
            });
            layout[other] = at;
            layout[q] = q;
        }
        swaps
    }
}

/// The kernel of `gate` on the state bits of `layout`; with `relabel`, an unconditional
/// swap only exchanges two entries of the layout (and has no kernel).
fn placed_kernel(gate: &Gate, relabel: bool, layout: &mut [usize]) -> Option<Kernel> {
    if relabel && gate.kind == GateKind::Swap {
        layout.swap(gate.qubits[0] as usize, gate.qubits[1] as usize);
        return None;
    }
    kernel(&Gate {
        kind: gate.kind,
        qubits: gate
            .qubits
            .iter()
            .map(|&q| layout[q as usize] as u32)
            .collect(),
    })
}

fn unconditional(kernels: Vec<Kernel>) -> impl Iterator<Item = Step> {
    kernels.into_iter().map(|kernel| Step {
        condition: None,
        action: Action::Apply(kernel),
    })
}

/// Index where the terminal tail starts (see the module doc).
fn terminal_start(ops: &[&Op]) -> usize {
    let mut acted_on_later = 0u64;
    for (i, op) in ops.iter().enumerate().rev() {
        if op.condition.is_some() {
            return i + 1;
        }
        match &op.kind {
            OpKind::Gate(gate) => {
                acted_on_later |= gate.qubits.iter().fold(0, |mask, q| mask | 1 << q);
            }
            OpKind::Measure { qubit, .. } if acted_on_later >> qubit & 1 == 1 => return i + 1,
            OpKind::Reset { .. } => return i + 1,
            OpKind::Measure { .. } | OpKind::Barrier(_) => {}
        }
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::Limits;

    fn plan(source: &str) -> Plan {
        let program = crate::qasm::parse(source, &Limits::default()).unwrap();
        Plan::compile(&program, &Interrupt::never()).unwrap()
    }

    const HEADER: &str = "OPENQASM 2.0; include \"qelib1.inc\"; qreg q[2]; creg c[2];";

    fn head_kinds(plan: &Plan) -> Vec<&'static str> {
        plan.head
            .iter()
            .map(|step| match (&step.action, &step.condition) {
                (_, Some(_)) => "if",
                (Action::Apply(_), None) => "apply",
                (Action::Measure { .. }, None) => "measure",
                (Action::Reset { .. }, None) => "reset",
            })
            .collect()
    }

    #[test]
    fn terminal_measurements_leave_no_head() {
        let plan = plan(&format!("{HEADER} h q[0]; cx q[0], q[1]; measure q -> c;"));
        assert!(plan.head.is_empty());
        assert_eq!(plan.tail.len(), 2);
        assert_eq!(plan.terminal, vec![(0, 0), (1, 1)]);
    }

    #[test]
    fn a_measurement_followed_by_gates_on_other_qubits_is_terminal() {
        let plan = plan(&format!(
            "{HEADER} h q[0]; measure q[0] -> c[0]; h q[1]; measure q[1] -> c[1];"
        ));
        assert!(plan.head.is_empty());
        assert_eq!(plan.terminal, vec![(0, 0), (1, 1)]);
    }

    #[test]
    fn a_gate_after_a_measurement_on_its_qubit_starts_the_tail_after_it() {
        let plan = plan(&format!(
            "{HEADER} h q[0]; measure q[0] -> c[0]; x q[0]; measure q[0] -> c[1];"
        ));
        assert_eq!(head_kinds(&plan), vec!["apply", "measure"]);
        assert_eq!(plan.tail.len(), 1);
        assert_eq!(plan.terminal, vec![(0, 1)]);
    }

    #[test]
    fn conditions_and_resets_stay_in_the_head() {
        let plan = plan(&format!(
            "{HEADER} h q[0]; measure q[0] -> c[0]; if (c == 1) x q[1]; reset q[0]; \
             measure q[1] -> c[1];"
        ));
        assert_eq!(head_kinds(&plan), vec!["apply", "measure", "if", "reset"]);
        assert!(plan.tail.is_empty());
        assert_eq!(plan.terminal, vec![(1, 1)]);
    }
}
