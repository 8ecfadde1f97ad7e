//! From statements to the IR: name resolution, arity and register checks, broadcasting, and
//! the expansion of gate definitions.
//!
//! A gate body may only call gates defined before it, so definitions form a DAG and
//! expansion terminates; a gate naming itself or a later gate is an unknown-gate error at
//! its definition. Expansion runs on an explicit stack (one frame per nested definition, so
//! deep nesting cannot overflow the thread's stack) and counts every emitted operation
//! against `max_gates` as it goes, so an exponentially growing definition chain stops at
//! the limit instead of exhausting memory. It also counts its *work* (gate applications
//! entered, barriers, parameter-expression nodes evaluated) against
//! `WORK_PER_OP × max_gates` steps, so definitions that emit little for what they cost
//! (empty gates called exponentially often, long call chains, huge parameter expressions)
//! stop at a bound instead of running for hours. Name checks use maps, so no declaration
//! is quadratic in its number of arguments.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};

use super::ast::{Arg, Call, Expr, ExprKind, GateBodyOp, GateDecl, Ident, QuantumOp, Stmt};
use super::qelib1::{self, NativeGate};
use crate::error::{Declared, EngineError, Position, Result, Stage};
use crate::ir::{BitsTest, Condition, Gate, GateKind, Op, OpKind, Program, Register};
use crate::limits::{Limits, MAX_CLBITS};

/// Lowers parsed statements to a [`Program`].
pub(crate) fn lower(statements: Vec<Stmt>, limits: &Limits) -> Result<Program> {
    let mut lowering = Lowering::new(limits);
    for statement in statements {
        lowering.statement(statement)?;
    }
    Ok(Program::lowered(
        lowering.qregs,
        lowering.cregs,
        lowering.emitter.ops,
        lowering.emitter.non_clifford_at,
    ))
}

type GateId = usize;

#[derive(Clone, Copy, Debug)]
enum Symbol {
    Quantum(usize),
    Classical(usize),
    Gate(GateId),
}

struct GateEntry {
    name: String,
    num_params: usize,
    num_qubits: usize,
    body: GateBody,
}

enum GateBody {
    Native(NativeGate),
    Defined(Vec<BodyOp>),
    Opaque,
    /// A gate of `qelib1.inc` without a native form, declared by the include and read
    /// from the library's text when the program first uses it ([`Lowering::read_library_gate`]).
    Library,
}

/// A resolved statement of a gate body: qubits are indices into the gate's arguments.
enum BodyOp {
    Call {
        gate: GateId,
        params: Vec<Expr>,
        /// Expression nodes evaluated per visit (the work it costs besides the call itself).
        cost: u64,
        qubits: Vec<usize>,
        pos: Position,
    },
    /// Distinct argument indices, in order of first appearance.
    Barrier(Vec<usize>),
}

/// Steps of expansion work allowed per operation of `max_gates`. A step is a gate
/// application entered (defined or native), a barrier, or a parameter-expression node
/// evaluated. A flat circuit takes one per operation; nested definitions take about their
/// nesting depth plus their parameter expressions' sizes, a few for real circuits.
const WORK_PER_OP: u64 = 64;

/// Collects operations and enforces `max_gates` as they are produced, and the work bound
/// as the expansion proceeds.
struct Emitter {
    ops: Vec<Op>,
    /// The position of the first operation that is not Clifford.
    non_clifford_at: Option<Position>,
    max_ops: u64,
    work: u64,
    max_work: u64,
}

impl Emitter {
    /// Counts `units` of expansion work against the bound.
    fn charge(&mut self, units: u64, pos: Position) -> Result<()> {
        self.work = self.work.saturating_add(units);
        if self.work > self.max_work {
            return Err(EngineError::limit_at(
                pos,
                format!(
                    "circuit takes more than {} steps to expand its gate definitions \
                     ({WORK_PER_OP} per operation of the backend's max_gates of {})",
                    self.max_work, self.max_ops
                ),
            ));
        }
        Ok(())
    }

    fn emit(&mut self, kind: OpKind, condition: Option<&Condition>, pos: Position) -> Result<()> {
        if self.ops.len() as u64 >= self.max_ops {
            return Err(EngineError::limit_at(
                pos,
                format!(
                    "circuit expands to more than {} operations (the backend's max_gates)",
                    self.max_ops
                ),
            ));
        }
        let op = Op {
            kind,
            condition: condition.cloned(),
        };
        if self.non_clifford_at.is_none() && !op.is_clifford() {
            self.non_clifford_at = Some(pos);
        }
        self.ops.push(op);
        Ok(())
    }
}

struct Lowering<'l> {
    limits: &'l Limits,
    /// Every declared name, with where.
    symbols: HashMap<String, (Symbol, Declared)>,
    gates: Vec<GateEntry>,
    qregs: Vec<Register>,
    cregs: Vec<Register>,
    qelib1_included: bool,
    /// While `qelib1.inc`'s statements are lowered: the position of the `include`.
    in_library: Option<Position>,
    emitter: Emitter,
}

/// One argument resolved: a single bit or a whole register (global offset and size).
#[derive(Clone, Copy)]
enum Bits {
    One(u32),
    All { offset: u32, size: u32 },
}

impl Bits {
    fn len(self) -> Option<u32> {
        match self {
            Self::One(_) => None,
            Self::All { size, .. } => Some(size),
        }
    }

    fn at(self, i: u32) -> u32 {
        match self {
            Self::One(bit) => bit,
            Self::All { offset, .. } => offset + i,
        }
    }

    /// Every bit, in order.
    fn iter(self) -> impl Iterator<Item = u32> {
        (0..self.len().unwrap_or(1)).map(move |i| self.at(i))
    }
}

impl<'l> Lowering<'l> {
    fn new(limits: &'l Limits) -> Self {
        let mut lowering = Self {
            limits,
            symbols: HashMap::new(),
            gates: Vec::new(),
            qregs: Vec::new(),
            cregs: Vec::new(),
            qelib1_included: false,
            in_library: None,
            emitter: Emitter {
                ops: Vec::new(),
                non_clifford_at: None,
                max_ops: limits.max_gates,
                work: 0,
                max_work: limits.max_gates.saturating_mul(WORK_PER_OP),
            },
        };
        let u: NativeGate = |p| GateKind::U {
            theta: p[0],
            phi: p[1],
            lambda: p[2],
        };
        for (name, num_params, num_qubits, native) in
            [("U", 3, 1, u), ("CX", 0, 2, |_: &[f64]| GateKind::Cx)]
        {
            lowering.gates.push(GateEntry {
                name: name.to_owned(),
                num_params,
                num_qubits,
                body: GateBody::Native(native),
            });
            let id = lowering.gates.len() - 1;
            lowering
                .symbols
                .insert(name.to_owned(), (Symbol::Gate(id), Declared::Builtin));
        }
        lowering
    }

    fn statement(&mut self, statement: Stmt) -> Result<()> {
        match statement {
            Stmt::Include { file, pos } => self.include(&file, pos),
            Stmt::Register {
                quantum,
                name,
                size,
            } => self.register(quantum, name, size),
            Stmt::GateDecl(decl) => {
                let native = if self.in_library.is_some() {
                    qelib1::native(&decl.name.name)
                } else {
                    None
                };
                self.gate_decl(decl, native)
            }
            Stmt::Opaque {
                name,
                params,
                qubits,
            } => {
                check_unique(&params, "parameter")?;
                check_unique(&qubits, "qubit argument")?;
                self.define_gate(name, params.len(), qubits.len(), GateBody::Opaque)
            }
            Stmt::Op(op) => self.quantum_op(op, None),
            Stmt::If { creg, value, op } => {
                let index = match self.lookup(&creg)? {
                    Symbol::Classical(index) => index,
                    _ => {
                        return Err(EngineError::at(
                            creg.pos,
                            format!("'{}' is not a classical register", creg.name),
                        ));
                    }
                };
                let register = &self.cregs[index];
                let condition = Condition::single(BitsTest {
                    offset: register.offset,
                    size: register.size,
                    value,
                    equal: true,
                });
                self.quantum_op(op, Some(&condition))
            }
            Stmt::Barrier { args, pos } => {
                // Repeated arguments are dropped: `barrier q, q, …` stays one bit per qubit.
                let mut qubits = Vec::new();
                let mut seen = HashSet::new();
                for arg in &args {
                    let bits = self.resolve(arg, true)?;
                    qubits.extend(bits.iter().filter(|&q| seen.insert(q)));
                }
                self.emitter.emit(OpKind::Barrier(qubits), None, pos)
            }
        }
    }

    fn include(&mut self, file: &str, pos: Position) -> Result<()> {
        if file != qelib1::FILE_NAME {
            return Err(EngineError::at(
                pos,
                format!(
                    "cannot include \"{file}\": the only includable file is \"{}\"",
                    qelib1::FILE_NAME
                ),
            ));
        }
        if self.qelib1_included {
            return Ok(());
        }
        self.qelib1_included = true;
        // The library is fixed and valid: an error in it can only be a clash with a name
        // the program declared earlier. It is reported at the include, and the message
        // names the place in the library: `qelib1.inc:32:6: 'h' is already defined at
        // 2:6`. (Nothing in the library can fail later, when its gates are read or expanded:
        // see `qelib1`'s tests.)
        self.in_library = Some(pos);
        let result = qelib1::DECLARATIONS.iter().try_for_each(|gate| {
            let name = Ident {
                name: gate.name.to_owned(),
                pos: gate.at,
            };
            let body = qelib1::native(gate.name).map_or(GateBody::Library, GateBody::Native);
            self.define_gate(name, gate.params, gate.qubits, body)
        });
        self.in_library = None;
        result.map_err(|e| library_error(e, pos))
    }

    /// Reads library gate `id`'s definition from `qelib1.inc` if it is not read yet (see
    /// [`GateBody::Library`]); `pos` is where the program uses it.
    fn read_library_gate(&mut self, id: GateId, pos: Position) -> Result<()> {
        if !matches!(self.gates[id].body, GateBody::Library) {
            return Ok(());
        }
        let decl = qelib1::definition(&self.gates[id].name).expect("declared by the library");
        let qubits = first_indices(&decl.qubits);
        let body = decl
            .body
            .into_iter()
            .map(|op| self.body_op(&decl.name, &qubits, op))
            .collect::<Result<Vec<_>>>()
            .map_err(|e| library_error(e, pos))?;
        self.gates[id].body = GateBody::Defined(body);
        Ok(())
    }

    fn declare(&mut self, name: &Ident, symbol: Symbol) -> Result<()> {
        match self.symbols.entry(name.name.clone()) {
            Entry::Occupied(existing) => {
                let place = match existing.get().1.place() {
                    Some(place) => format!("is already defined {place}"),
                    None => "is a built-in gate".to_owned(),
                };
                Err(EngineError::at(
                    name.pos,
                    format!("'{}' {place}", name.name),
                ))
            }
            Entry::Vacant(slot) => {
                let declared = match self.in_library {
                    Some(include) => Declared::Included {
                        file: qelib1::FILE_NAME,
                        at: Some(name.pos),
                        include,
                    },
                    None => Declared::Source(name.pos),
                };
                slot.insert((symbol, declared));
                Ok(())
            }
        }
    }

    fn lookup(&self, name: &Ident) -> Result<Symbol> {
        self.symbols
            .get(&name.name)
            .map(|(symbol, _)| *symbol)
            .ok_or_else(|| EngineError::at(name.pos, format!("unknown name '{}'", name.name)))
    }

    fn register(&mut self, quantum: bool, name: Ident, size: u64) -> Result<()> {
        if size == 0 {
            return Err(EngineError::at(
                name.pos,
                format!("register '{}' must have at least one bit", name.name),
            ));
        }
        let registers = if quantum { &self.qregs } else { &self.cregs };
        let used: u64 = registers.iter().map(|r| u64::from(r.size)).sum();
        let total = used.saturating_add(size);
        if quantum {
            self.limits
                .admit_any(total, Stage::Prepare)
                .map_err(|err| EngineError::limit_at(name.pos, err.message))?;
        } else if total > MAX_CLBITS {
            return Err(EngineError::limit_at(
                name.pos,
                format!(
                    "circuit declares {total} classical bits; at most {MAX_CLBITS} are supported"
                ),
            ));
        }
        // Both limits are far below u32::MAX, so the conversions cannot truncate.
        let register = Register {
            name: name.name.clone(),
            offset: used as u32,
            size: size as u32,
        };
        let symbol = if quantum {
            self.qregs.push(register);
            Symbol::Quantum(self.qregs.len() - 1)
        } else {
            self.cregs.push(register);
            Symbol::Classical(self.cregs.len() - 1)
        };
        self.declare(&name, symbol)
    }

    fn define_gate(
        &mut self,
        name: Ident,
        num_params: usize,
        num_qubits: usize,
        body: GateBody,
    ) -> Result<()> {
        self.declare(&name, Symbol::Gate(self.gates.len()))?;
        self.gates.push(GateEntry {
            name: name.name,
            num_params,
            num_qubits,
            body,
        });
        Ok(())
    }

    fn gate_decl(&mut self, decl: GateDecl, native: Option<NativeGate>) -> Result<()> {
        check_unique(&decl.params, "parameter")?;
        check_unique(&decl.qubits, "qubit argument")?;
        let body = match native {
            Some(native) => GateBody::Native(native),
            None => {
                // Library gates the body calls are read first: a body holds resolved ids.
                for op in &decl.body {
                    if let GateBodyOp::Call(call) = op
                        && let Ok(id) = self.gate_id(&call.name)
                    {
                        self.read_library_gate(id, call.name.pos)?;
                    }
                }
                let qubits = first_indices(&decl.qubits);
                let mut body = Vec::with_capacity(decl.body.len());
                for op in decl.body {
                    body.push(self.body_op(&decl.name, &qubits, op)?);
                }
                GateBody::Defined(body)
            }
        };
        self.define_gate(decl.name, decl.params.len(), decl.qubits.len(), body)
    }

    /// Resolves one statement of gate `gate`'s body; `qubits` maps the gate's qubit
    /// argument names to their indices.
    fn body_op(
        &self,
        gate: &Ident,
        qubits: &HashMap<&str, usize>,
        op: GateBodyOp,
    ) -> Result<BodyOp> {
        let index_of = |arg: &Ident| {
            qubits.get(arg.name.as_str()).copied().ok_or_else(|| {
                EngineError::at(
                    arg.pos,
                    format!(
                        "unknown qubit '{}': expected one of the arguments of gate '{}'",
                        arg.name, gate.name
                    ),
                )
            })
        };
        match op {
            GateBodyOp::Barrier { args, .. } => {
                let mut indices = Vec::new();
                let mut seen = HashSet::new();
                for arg in &args {
                    let index = index_of(arg)?;
                    if seen.insert(index) {
                        indices.push(index);
                    }
                }
                Ok(BodyOp::Barrier(indices))
            }
            GateBodyOp::Call(call) => {
                if call.name.name == gate.name {
                    return Err(EngineError::at(
                        call.name.pos,
                        format!(
                            "gate '{}' cannot call itself: a gate body may only use gates \
                             defined before it",
                            gate.name
                        ),
                    ));
                }
                let id = self.gate_id(&call.name)?;
                self.check_arity(id, &call)?;
                check_unique(&call.args, "qubit argument")?;
                Ok(BodyOp::Call {
                    gate: id,
                    cost: call.params.iter().map(expr_size).sum(),
                    params: call.params,
                    qubits: call.args.iter().map(index_of).collect::<Result<_>>()?,
                    pos: call.name.pos,
                })
            }
        }
    }

    fn gate_id(&self, name: &Ident) -> Result<GateId> {
        match self.symbols.get(&name.name) {
            Some((Symbol::Gate(id), _)) => Ok(*id),
            Some(_) => Err(EngineError::at(
                name.pos,
                format!("'{}' is a register, not a gate", name.name),
            )),
            None => {
                let hint = if !self.qelib1_included && qelib1::native(&name.name).is_some() {
                    " (it is in qelib1.inc: add include \"qelib1.inc\";)"
                } else {
                    " (a gate must be defined before it is used)"
                };
                Err(EngineError::at(
                    name.pos,
                    format!("unknown gate '{}'{hint}", name.name),
                ))
            }
        }
    }

    fn check_arity<A>(&self, id: GateId, call: &Call<A>) -> Result<()> {
        let gate = &self.gates[id];
        if call.params.len() != gate.num_params {
            return Err(EngineError::at(
                call.name.pos,
                format!(
                    "gate '{}' takes {} parameter{}, got {}",
                    gate.name,
                    gate.num_params,
                    plural(gate.num_params),
                    call.params.len()
                ),
            ));
        }
        if call.args.len() != gate.num_qubits {
            return Err(EngineError::at(
                call.name.pos,
                format!(
                    "gate '{}' takes {} qubit argument{}, got {}",
                    gate.name,
                    gate.num_qubits,
                    plural(gate.num_qubits),
                    call.args.len()
                ),
            ));
        }
        Ok(())
    }

    /// Resolves `reg` or `reg[i]` to bits of a quantum (or classical) register.
    fn resolve(&self, arg: &Arg, quantum: bool) -> Result<Bits> {
        let register = match (self.lookup(&arg.reg)?, quantum) {
            (Symbol::Quantum(i), true) => &self.qregs[i],
            (Symbol::Classical(i), false) => &self.cregs[i],
            (_, expected_quantum) => {
                let expected = if expected_quantum {
                    "a quantum register"
                } else {
                    "a classical register"
                };
                return Err(EngineError::at(
                    arg.reg.pos,
                    format!("expected {expected}, '{}' is not one", arg.reg.name),
                ));
            }
        };
        match arg.index {
            None => Ok(Bits::All {
                offset: register.offset,
                size: register.size,
            }),
            Some(index) if index < u64::from(register.size) => {
                Ok(Bits::One(register.offset + index as u32))
            }
            Some(index) => Err(EngineError::at(
                arg.reg.pos,
                format!(
                    "index {index} is out of range for register '{}' of size {}",
                    register.name, register.size
                ),
            )),
        }
    }

    fn quantum_op(&mut self, op: QuantumOp, condition: Option<&Condition>) -> Result<()> {
        match op {
            QuantumOp::Call(call) => self.call(call, condition),
            QuantumOp::Measure { qubit, clbit, pos } => {
                let (q, c) = (self.resolve(&qubit, true)?, self.resolve(&clbit, false)?);
                if q.len() != c.len() {
                    return Err(EngineError::at(
                        pos,
                        "measure needs a qubit and a bit, or a quantum and a classical \
                         register of the same size",
                    ));
                }
                for (qubit, clbit) in q.iter().zip(c.iter()) {
                    let kind = OpKind::Measure { qubit, clbit };
                    self.emitter.emit(kind, condition, pos)?;
                }
                Ok(())
            }
            QuantumOp::Reset { qubit, pos } => {
                let q = self.resolve(&qubit, true)?;
                for qubit in q.iter() {
                    self.emitter.emit(OpKind::Reset { qubit }, condition, pos)?;
                }
                Ok(())
            }
        }
    }

    fn call(&mut self, call: Call<Arg>, condition: Option<&Condition>) -> Result<()> {
        let id = self.gate_id(&call.name)?;
        self.check_arity(id, &call)?;
        self.read_library_gate(id, call.name.pos)?;
        let params = call
            .params
            .iter()
            .map(|expr| finite(expr.eval(&[]), expr.pos))
            .collect::<Result<Vec<_>>>()?;
        let args = call
            .args
            .iter()
            .map(|arg| self.resolve(arg, true))
            .collect::<Result<Vec<_>>>()?;
        let mut width = None;
        for (arg, bits) in call.args.iter().zip(&args) {
            match (width, bits.len()) {
                (Some(w), Some(len)) if w != len => {
                    return Err(EngineError::at(
                        arg.reg.pos,
                        format!(
                            "cannot broadcast over registers of different sizes: '{}' has \
                             {len} qubits, an earlier argument has {w}",
                            arg.reg.name
                        ),
                    ));
                }
                (None, Some(len)) => width = Some(len),
                _ => {}
            }
        }
        for i in 0..width.unwrap_or(1) {
            let qubits: Vec<u32> = args.iter().map(|bits| bits.at(i)).collect();
            if let Some(dup) = qubits
                .iter()
                .enumerate()
                .find(|(j, q)| qubits[..*j].contains(q))
            {
                return Err(EngineError::at(
                    call.name.pos,
                    format!(
                        "gate '{}' is given qubit {} twice",
                        call.name.name,
                        self.qubit_name(*dup.1)
                    ),
                ));
            }
            self.expand(id, params.clone(), qubits, condition, call.name.pos)?;
        }
        Ok(())
    }

    fn qubit_name(&self, qubit: u32) -> String {
        self.qregs
            .iter()
            .find(|r| (r.offset..r.offset + r.size).contains(&qubit))
            .map(|r| format!("{}[{}]", r.name, qubit - r.offset))
            .unwrap_or_else(|| qubit.to_string())
    }

    /// Emits gate `id` applied to `qubits`, expanding definitions depth-first.
    fn expand(
        &mut self,
        id: GateId,
        params: Vec<f64>,
        qubits: Vec<u32>,
        condition: Option<&Condition>,
        call_pos: Position,
    ) -> Result<()> {
        /// A gate body being expanded. Its bound parameters and qubits are the tops of the
        /// shared value stacks from these starts (whatever its callees push is popped again
        /// when they return), so entering a gate allocates nothing.
        struct Frame<'g> {
            body: &'g [BodyOp],
            next: usize,
            params: usize,
            qubits: usize,
        }
        let gates = &self.gates;
        let emitter = &mut self.emitter;
        let mut stack: Vec<Frame<'_>> = Vec::new();
        let mut param_values = params;
        let mut qubit_values = qubits;
        // The gate to enter next, with where its values start and where it is called.
        let mut pending = Some((id, 0, 0, call_pos));
        loop {
            if let Some((id, params, qubits, pos)) = pending.take() {
                emitter.charge(1, call_pos)?;
                let gate = &gates[id];
                match &gate.body {
                    GateBody::Native(native) => {
                        let kind = OpKind::Gate(Gate {
                            kind: native(&param_values[params..]),
                            qubits: qubit_values[qubits..].to_vec(),
                        });
                        param_values.truncate(params);
                        qubit_values.truncate(qubits);
                        emitter.emit(kind, condition, call_pos)?;
                    }
                    GateBody::Defined(body) => stack.push(Frame {
                        body,
                        next: 0,
                        params,
                        qubits,
                    }),
                    GateBody::Library => {
                        unreachable!("library gates are read when a program first uses them")
                    }
                    GateBody::Opaque => {
                        return Err(EngineError::at(
                            pos,
                            format!(
                                "gate '{}' is opaque: it has no definition, so this backend \
                                 cannot run it",
                                gate.name
                            ),
                        ));
                    }
                }
            }
            let Some(frame) = stack.last_mut() else {
                return Ok(());
            };
            let Some(op) = frame.body.get(frame.next) else {
                param_values.truncate(frame.params);
                qubit_values.truncate(frame.qubits);
                stack.pop();
                continue;
            };
            frame.next += 1;
            match op {
                BodyOp::Barrier(args) => {
                    emitter.charge(1, call_pos)?;
                    let qubits = args.iter().map(|&a| qubit_values[frame.qubits + a]);
                    emitter.emit(OpKind::Barrier(qubits.collect()), condition, call_pos)?;
                }
                BodyOp::Call {
                    gate,
                    params,
                    cost,
                    qubits,
                    pos,
                } => {
                    emitter.charge(*cost, call_pos)?;
                    let (params_start, qubits_start) = (param_values.len(), qubit_values.len());
                    for expr in params {
                        let value = expr.eval(&param_values[frame.params..params_start]);
                        param_values.push(finite(value, expr.pos)?);
                    }
                    for &a in qubits {
                        qubit_values.push(qubit_values[frame.qubits + a]);
                    }
                    pending = Some((*gate, params_start, qubits_start, *pos));
                }
            }
        }
    }
}

fn finite(value: f64, pos: Position) -> Result<f64> {
    if value.is_finite() {
        Ok(value)
    } else {
        Err(EngineError::at(
            pos,
            format!("gate parameter evaluates to {value}; expected a finite number"),
        ))
    }
}

fn check_unique(names: &[Ident], what: &str) -> Result<()> {
    let mut seen = HashSet::with_capacity(names.len());
    for name in names {
        if !seen.insert(name.name.as_str()) {
            return Err(EngineError::at(
                name.pos,
                format!("duplicate {what} '{}'", name.name),
            ));
        }
    }
    Ok(())
}

/// Each name's index (its first, if repeated).
/// An error at a position of `qelib1.inc` reported at `pos` in the program (the include, or
/// a use of a library gate): `qelib1.inc:32:6: 'h' is already defined at 2:6`.
fn library_error(e: EngineError, pos: Position) -> EngineError {
    let at = e.position.map(|at| format!(":{at}")).unwrap_or_default();
    EngineError {
        position: Some(pos),
        message: format!("{}{at}: {}", qelib1::FILE_NAME, e.message),
        ..e
    }
}

fn first_indices(names: &[Ident]) -> HashMap<&str, usize> {
    let mut indices = HashMap::with_capacity(names.len());
    for (index, name) in names.iter().enumerate() {
        indices.entry(name.name.as_str()).or_insert(index);
    }
    indices
}

/// Nodes of an expression tree (its depth is bounded, so the recursion is shallow).
fn expr_size(expr: &Expr) -> u64 {
    1 + match &expr.kind {
        ExprKind::Number(_) | ExprKind::Pi | ExprKind::Param(_) => 0,
        ExprKind::Neg(inner) | ExprKind::Call(_, inner) => expr_size(inner),
        // One node per operator (the chain's own node is the first), as if the chain were
        // a tree of binary operations.
        ExprKind::Chain(first, rest) => rest
            .iter()
            .fold(expr_size(first), |size, (_, operand)| {
                size.saturating_add(expr_size(operand))
            })
            .saturating_add(rest.len() as u64 - 1),
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
