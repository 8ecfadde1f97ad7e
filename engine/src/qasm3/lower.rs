//! From statements to the IR: names and scopes, registers, gate definitions resolved once
//! (arities, argument indices, modifiers), `for` loops unrolled, `if` blocks turned into
//! guarded operations, and gate calls expanded with their modifiers.
//!
//! # Modifiers
//!
//! A call's modifiers reduce to control qubits with their polarity (`ctrl` / `negctrl`, in
//! order, taken from the front of the arguments) and an integer exponent (`inv` is −1,
//! `pow(k)` multiplies by `k`; both commute with controls). A negative control is a
//! positive one between two `x` gates; exponent `k` applies the gate `|k|` times, inverted
//! when `k < 0`. Expanding a definition under controls controls each gate of its body
//! (`gphase(θ)` under controls is a phase gate on them, so a definition's global phase is
//! kept where it matters); under inversion the body runs backwards with each gate
//! inverted. A non-integer `pow` is refused: its result depends on a branch of the matrix
//! logarithm, which Qiskit and the specification choose differently.
//!
//! # Bounds
//!
//! As for OpenQASM 2 (`qasm::lower`): every emitted operation counts against `max_gates`,
//! and the work (statements, loop iterations, gate calls at `CALL_WORK` steps each, gate
//! applications, expression nodes) against `WORK_PER_OP × max_gates` steps, so loops,
//! exponents and nested definitions stop at a bound instead of running for hours: a
//! hostile program that emits nothing stops after about a second with the default
//! `max_gates`. Gate calls nest at most `MAX_GATE_DEPTH` deep.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use std::rc::Rc;

mod calls;
mod values;

pub(super) use values::{invalid_parameter, parameter_value};

use super::ast::{Expr, Ident, Index, Iterable, Operand, Range, Stmt, StmtKind};
use super::cond::{self, BitRange, Bits, Cases};
use super::expr::{self, Names, Value};
use super::gates::{BUILTIN_U, NativeGate, STDGATES, STDGATES_FILE};
use super::physical::Physical;
use crate::Parameters;
use crate::error::{Declared, EngineError, Position, Result, Stage};
use crate::ir::{Condition, Op, OpKind, Program, Register};
use crate::limits::{Limits, MAX_CLBITS};
use values::{RangeIter, convert, input_value, value_pos};

/// Steps of work allowed per operation of `max_gates` (as in `qasm::lower`).
const WORK_PER_OP: u64 = 64;

/// Steps a gate call costs besides its expressions (each instance of a broadcast, each
/// call in an expanded definition): resolving and expanding one takes about as long as
/// this many loop iterations or expression nodes, so the bound on steps is a bound on time
/// (about a second for the default `max_gates`).
const CALL_WORK: u64 = 16;

/// Deepest nesting of gate calls inside gate definitions.
const MAX_GATE_DEPTH: u32 = 256;

/// Lowers parsed statements to a [`Program`], binding `input` declarations to
/// `parameters` (every parameter must be an input and every input given), with the
/// `physical` qubits its tokens name as its one quantum register. Each top-level statement
/// is dropped as soon as it is lowered, while its memory is still in cache.
pub(crate) fn lower(
    stmts: Vec<Stmt>,
    physical: Physical,
    parameters: &Parameters,
    limits: &Limits,
) -> Result<Program> {
    let declared: HashSet<&str> = stmts
        .iter()
        .filter_map(|stmt| match &stmt.kind {
            StmtKind::Input { name, .. } => Some(name.name.as_str()),
            _ => None,
        })
        .collect();
    if let Some(unknown) = parameters
        .keys()
        .find(|name| !declared.contains(name.as_str()))
    {
        let mut inputs: Vec<&str> = declared.into_iter().collect();
        inputs.sort_unstable();
        let known = if inputs.is_empty() {
            "the program declares no input".to_owned()
        } else {
            format!("its inputs: {}", inputs.join(", "))
        };
        return Err(EngineError::new(
            crate::FailureKind::Validation,
            Stage::Prepare,
            format!("parameter '{unknown}' is not an input of this program ({known})"),
        ));
    }
    let width = physical.width();
    if let Some((width, pos)) = width {
        limits
            .admit_any(width, Stage::Prepare)
            .map_err(|err| EngineError::limit_at(pos, err.message))?;
    }
    let mut lowering = Lowering::new(physical, parameters, limits);
    for stmt in stmts {
        lowering.statement(&stmt)?;
    }
    let program = Program::lowered(
        lowering.qregs,
        lowering.cregs,
        lowering.ops,
        lowering.non_clifford_at,
    );
    // Admitted above, so the width is far below u32::MAX.
    Ok(match width {
        Some((width, _)) => program.on_device_of(width as u32),
        None => program,
    })
}

type GateId = usize;

#[derive(Clone, Copy, Debug)]
enum Symbol {
    /// A quantum register (index into `qregs`); `scalar` for `qubit q;`.
    Qubits {
        register: usize,
        scalar: bool,
    },
    /// A classical register (index into `cregs`); `scalar` for `bit c;`.
    Bits {
        register: usize,
        scalar: bool,
    },
    Gate(GateId),
    /// A `const` or an `input`.
    Value(Value),
}

struct GateEntry {
    name: String,
    num_params: usize,
    num_qubits: usize,
    body: GateBody,
}

enum GateBody {
    Native(NativeGate),
    /// `gphase(θ)`: a global phase, a phase gate on its controls.
    GPhase,
    Defined {
        params: Vec<String>,
        /// The global values the body reads, captured at the definition.
        captured: HashMap<String, Value>,
        body: Vec<BodyOp>,
    },
}

/// A call's modifiers, resolved: one polarity per control argument (`true` for `ctrl`),
/// and the exponent.
#[derive(Clone, Debug)]
struct Mods {
    polarity: Vec<bool>,
    exponent: i64,
}

/// A resolved statement of a gate body: qubits are indices into the gate's arguments.
enum BodyOp {
    Call {
        gate: GateId,
        mods: Mods,
        params: Vec<Expr>,
        /// Expression nodes evaluated per visit.
        cost: u64,
        args: Vec<usize>,
    },
    /// Distinct argument indices.
    Barrier(Vec<usize>),
}

/// An operand resolved to bits: one bit (a scalar or an index: broadcast over), or a list
/// (a register, a range, a set).
enum Resolved {
    One(u32),
    Many(Vec<u32>),
}

impl Resolved {
    fn bits(&self) -> &[u32] {
        match self {
            Self::One(bit) => std::slice::from_ref(bit),
            Self::Many(bits) => bits,
        }
    }
}

struct Lowering<'l> {
    limits: &'l Limits,
    /// The physical qubits the program names (the register `$` when there are any).
    physical: Physical,
    parameters: &'l Parameters,
    /// Every global name, with where it was declared.
    symbols: HashMap<String, (Symbol, Declared)>,
    /// Loop variables, innermost last.
    loop_vars: Vec<(String, Value)>,
    gates: Vec<Rc<GateEntry>>,
    stdgates_included: bool,
    qregs: Vec<Register>,
    cregs: Vec<Register>,
    ops: Vec<Op>,
    /// The position of the first operation that is not Clifford.
    non_clifford_at: Option<Position>,
    work: u64,
    /// The cases the current statement runs under (`[[]]`: unconditionally).
    guards: Cases,
    /// Bits read by the enclosing `if` conditions, with the `if`'s position.
    guarded: Vec<(BitRange, Position)>,
    /// Blocks open around the current statement (0: the global scope).
    blocks: u32,
}

impl<'l> Lowering<'l> {
    fn new(physical: Physical, parameters: &'l Parameters, limits: &'l Limits) -> Self {
        let qregs = match physical.count() {
            0 => Vec::new(),
            size => vec![Register {
                name: "$".to_owned(),
                offset: 0,
                size,
            }],
        };
        let mut lowering = Self {
            limits,
            physical,
            parameters,
            symbols: HashMap::new(),
            loop_vars: Vec::new(),
            gates: Vec::new(),
            stdgates_included: false,
            qregs,
            cregs: Vec::new(),
            ops: Vec::new(),
            non_clifford_at: None,
            work: 0,
            guards: vec![Vec::new()],
            guarded: Vec::new(),
            blocks: 0,
        };
        let (name, num_params, num_qubits, native) = STDGATES[BUILTIN_U];
        lowering.builtin(name, num_params, num_qubits, GateBody::Native(native));
        lowering.builtin("gphase", 1, 0, GateBody::GPhase);
        lowering
    }

    fn builtin(&mut self, name: &str, num_params: usize, num_qubits: usize, body: GateBody) {
        self.gates.push(Rc::new(GateEntry {
            name: name.to_owned(),
            num_params,
            num_qubits,
            body,
        }));
        let id = self.gates.len() - 1;
        self.symbols
            .insert(name.to_owned(), (Symbol::Gate(id), Declared::Builtin));
    }

    /// Counts `units` of work against the bound.
    fn charge(&mut self, units: u64, pos: Position) -> Result<()> {
        self.work = self.work.saturating_add(units);
        let max_work = self.limits.max_gates.saturating_mul(WORK_PER_OP);
        if self.work > max_work {
            return Err(EngineError::limit_at(
                pos,
                format!(
                    "circuit takes more than {max_work} steps to expand its loops and gate \
                     definitions ({WORK_PER_OP} per operation of the backend's max_gates of {})",
                    self.limits.max_gates
                ),
            ));
        }
        Ok(())
    }

    /// Emits `kind` once per current case.
    fn emit(&mut self, kind: OpKind, pos: Position) -> Result<()> {
        if let OpKind::Measure { clbit, .. } = kind
            && let Some((_, at)) = self
                .guarded
                .iter()
                .find(|(r, _)| (r.offset..r.offset + r.size).contains(&clbit))
        {
            return Err(EngineError::at(
                pos,
                format!(
                    "this measurement writes {}, which the condition of the 'if' at {at} \
                     reads; the engine evaluates that condition again for every operation \
                     of the block, so it does not run such blocks",
                    bit_name(&self.cregs, clbit)
                ),
            ));
        }
        let mut kind = Some(kind);
        for (i, case) in self.guards.iter().enumerate() {
            if self.ops.len() as u64 >= self.limits.max_gates {
                return Err(EngineError::limit_at(
                    pos,
                    format!(
                        "circuit expands to more than {} operations (the backend's max_gates)",
                        self.limits.max_gates
                    ),
                ));
            }
            let condition = (!case.is_empty()).then(|| Condition {
                tests: case.clone(),
            });
            // The last case takes the operation, the others a copy.
            let kind = if i + 1 == self.guards.len() {
                kind.take()
            } else {
                kind.clone()
            };
            if let Some(kind) = kind {
                let op = Op { kind, condition };
                if self.non_clifford_at.is_none() && !op.is_clifford() {
                    self.non_clifford_at = Some(pos);
                }
                self.ops.push(op);
            }
        }
        Ok(())
    }

    fn statement(&mut self, stmt: &Stmt) -> Result<()> {
        self.charge(1, stmt.pos)?;
        let pos = stmt.pos;
        match &stmt.kind {
            StmtKind::Include(file) => {
                self.global_only("an include", pos)?;
                self.include(file, pos)
            }
            StmtKind::QubitDecl { name, size } => {
                self.global_only("a qubit declaration", pos)?;
                self.physical.refuse_declaration(&name.name, name.pos)?;
                self.register(true, name, size.as_ref())
            }
            StmtKind::BitDecl { name, size, init } => {
                self.global_only("a bit declaration", pos)?;
                self.register(false, name, size.as_ref())?;
                match init {
                    Some(source) => {
                        let target = Operand {
                            name: name.clone(),
                            index: None,
                        };
                        self.measure(source, &target, pos)
                    }
                    None => Ok(()),
                }
            }
            StmtKind::Const { ty, name, value } => {
                self.global_only("a const declaration", pos)?;
                let value = self.eval(value)?;
                let value = convert(ty, value, value_pos(stmt))?;
                self.declare(name, Symbol::Value(value))
            }
            StmtKind::Input { ty, name } => {
                self.global_only("an input declaration", pos)?;
                let Some(&raw) = self.parameters.get(&name.name) else {
                    return Err(EngineError::at(
                        name.pos,
                        format!(
                            "input '{}' ({ty}) has no value: the run must give the parameter '{}'",
                            name.name, name.name
                        ),
                    ));
                };
                let value = input_value(ty, &name.name, raw, name.pos)?;
                self.declare(name, Symbol::Value(value))
            }
            StmtKind::GateDef(def) => {
                self.global_only("a gate definition", pos)?;
                self.gate_def(def)
            }
            StmtKind::Call(call) => self.call(call),
            StmtKind::Measure { source, target } => match target {
                Some(target) => self.measure(source, target, pos),
                None => Err(EngineError::at(
                    pos,
                    "a measurement must store its result ('c = measure q;' or 'measure q -> c;')",
                )),
            },
            StmtKind::Reset(operand) => {
                let qubits = self.resolve(operand, true)?;
                for &qubit in qubits.bits() {
                    self.emit(OpKind::Reset { qubit }, pos)?;
                }
                Ok(())
            }
            StmtKind::Barrier(operands) => {
                let mut qubits = Vec::new();
                let mut seen = HashSet::new();
                if operands.is_empty() {
                    qubits.extend(0..self.qregs.iter().map(|r| r.size).sum::<u32>());
                }
                for operand in operands {
                    let bits = self.resolve(operand, true)?;
                    qubits.extend(bits.bits().iter().filter(|&&q| seen.insert(q)));
                }
                self.emit(OpKind::Barrier(qubits), pos)
            }
            StmtKind::If {
                condition,
                then_body,
                else_body,
            } => self.if_stmt(condition, then_body, else_body, pos),
            StmtKind::For {
                var,
                iterable,
                body,
            } => self.for_stmt(var, iterable, body),
            StmtKind::Block(stmts) => self.block(stmts),
        }
    }

    fn block(&mut self, stmts: &[Stmt]) -> Result<()> {
        self.blocks += 1;
        for stmt in stmts {
            self.statement(stmt)?;
        }
        self.blocks -= 1;
        Ok(())
    }

    fn global_only(&self, what: &str, pos: Position) -> Result<()> {
        if self.blocks > 0 {
            return Err(EngineError::at(
                pos,
                format!("{what} is only allowed in the global scope, not inside a block"),
            ));
        }
        Ok(())
    }

    fn include(&mut self, file: &str, pos: Position) -> Result<()> {
        if file != STDGATES_FILE {
            return Err(EngineError::at(
                pos,
                format!(
                    "cannot include \"{file}\": the only includable file is \"{STDGATES_FILE}\" \
                     (built in)"
                ),
            ));
        }
        if self.stdgates_included {
            return Ok(());
        }
        self.stdgates_included = true;
        for (name, num_params, num_qubits, native) in &STDGATES[..BUILTIN_U] {
            if let Some((_, declared)) = self.symbols.get(*name) {
                let place = match declared.place() {
                    Some(place) => format!("is already declared {place}"),
                    None => "is a built-in gate".to_owned(),
                };
                return Err(EngineError::at(
                    pos,
                    format!("in {STDGATES_FILE}: '{name}' {place}"),
                ));
            }
            self.gates.push(Rc::new(GateEntry {
                name: (*name).to_owned(),
                num_params: *num_params,
                num_qubits: *num_qubits,
                body: GateBody::Native(*native),
            }));
            let symbol = Symbol::Gate(self.gates.len() - 1);
            let declared = Declared::Included {
                file: STDGATES_FILE,
                at: None,
                include: pos,
            };
            self.symbols.insert((*name).to_owned(), (symbol, declared));
        }
        Ok(())
    }

    fn declare(&mut self, name: &Ident, symbol: Symbol) -> Result<()> {
        match self.symbols.entry(name.name.clone()) {
            Entry::Occupied(existing) => {
                let place = match existing.get().1.place() {
                    Some(place) => format!("is already declared {place}"),
                    None => "is built in".to_owned(),
                };
                Err(EngineError::at(
                    name.pos,
                    format!("'{}' {place}", name.name),
                ))
            }
            Entry::Vacant(slot) => {
                if expr::constant(&name.name).is_some() {
                    return Err(EngineError::at(
                        name.pos,
                        format!("'{}' is a built-in constant", name.name),
                    ));
                }
                slot.insert((symbol, Declared::Source(name.pos)));
                Ok(())
            }
        }
    }

    fn eval(&mut self, expr: &Expr) -> Result<Value> {
        self.charge(expr::size(expr), expr.pos)?;
        expr::eval(expr, self)
    }

    fn eval_int(&mut self, expr: &Expr, what: &str) -> Result<i128> {
        self.eval(expr)?.to_int(expr.pos, what)
    }

    fn register(&mut self, quantum: bool, name: &Ident, size: Option<&Expr>) -> Result<()> {
        let count = match size {
            Some(size) => self.eval_int(size, "a register size")?,
            None => 1,
        };
        if count < 1 {
            return Err(EngineError::at(
                name.pos,
                format!("register '{}' must have at least one bit", name.name),
            ));
        }
        let registers = if quantum { &self.qregs } else { &self.cregs };
        let used: u64 = registers.iter().map(|r| u64::from(r.size)).sum();
        let total = u64::try_from(count)
            .unwrap_or(u64::MAX)
            .saturating_add(used);
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
            size: count as u32,
        };
        let scalar = size.is_none();
        let symbol = if quantum {
            self.qregs.push(register);
            Symbol::Qubits {
                register: self.qregs.len() - 1,
                scalar,
            }
        } else {
            self.cregs.push(register);
            Symbol::Bits {
                register: self.cregs.len() - 1,
                scalar,
            }
        };
        self.declare(name, symbol)
    }

    fn lookup(&self, name: &Ident) -> Result<Symbol> {
        self.symbols
            .get(&name.name)
            .map(|(symbol, _)| *symbol)
            .ok_or_else(|| EngineError::at(name.pos, format!("unknown name '{}'", name.name)))
    }

    /// The register `operand` names and its index as a list of bits.
    fn resolve(&mut self, operand: &Operand, quantum: bool) -> Result<Resolved> {
        let name = &operand.name;
        if let Some(qubit) = self.physical.qubit(&name.name) {
            return match (quantum, &operand.index) {
                (true, None) => Ok(Resolved::One(qubit)),
                (true, Some(_)) => Err(EngineError::at(
                    name.pos,
                    format!(
                        "physical qubit {} is one qubit: it cannot be indexed",
                        name.name
                    ),
                )),
                (false, _) => Err(EngineError::at(
                    name.pos,
                    format!("expected bits, {} is a physical qubit", name.name),
                )),
            };
        }
        let (register, scalar) = match (self.lookup(name)?, quantum) {
            (Symbol::Qubits { register, scalar }, true) => (&self.qregs[register], scalar),
            (Symbol::Bits { register, scalar }, false) => (&self.cregs[register], scalar),
            (_, true) => {
                return Err(EngineError::at(
                    name.pos,
                    format!(
                        "expected qubits, '{}' is not a qubit or qubit register",
                        name.name
                    ),
                ));
            }
            (_, false) => {
                return Err(EngineError::at(
                    name.pos,
                    format!(
                        "expected bits, '{}' is not a bit or bit register",
                        name.name
                    ),
                ));
            }
        };
        let (offset, size) = (register.offset, register.size);
        let Some(index) = &operand.index else {
            return Ok(if scalar {
                Resolved::One(offset)
            } else {
                Resolved::Many((offset..offset + size).collect())
            });
        };
        if scalar {
            return Err(EngineError::at(
                name.pos,
                format!(
                    "'{}' is a single {}: it cannot be indexed",
                    name.name,
                    if quantum { "qubit" } else { "bit" }
                ),
            ));
        }
        let at = |lowering: &mut Self, expr: &Expr| -> Result<u32> {
            let i = lowering.eval_int(expr, "an index")?;
            let resolved = if i < 0 { i + i128::from(size) } else { i };
            if !(0..i128::from(size)).contains(&resolved) {
                return Err(out_of_range(i, &name.name, size, expr.pos));
            }
            Ok(offset + resolved as u32)
        };
        Ok(match index {
            Index::Single(expr) => Resolved::One(at(self, expr)?),
            Index::Set(exprs) => {
                Resolved::Many(exprs.iter().map(|e| at(self, e)).collect::<Result<_>>()?)
            }
            Index::Range(range) => {
                let (start, step, end) = self.range_bounds(range, Some(size))?;
                let mut bits = Vec::new();
                for i in RangeIter::new(start, step, end) {
                    self.charge(1, range.pos)?;
                    if !(0..i128::from(size)).contains(&i) {
                        return Err(out_of_range(i, &name.name, size, range.pos));
                    }
                    bits.push(offset + i as u32);
                }
                Resolved::Many(bits)
            }
        })
    }

    /// A range's start, step and (inclusive) end; omitted bounds need `size`.
    fn range_bounds(&mut self, range: &Range, size: Option<u32>) -> Result<(i128, i128, i128)> {
        let bound =
            |lowering: &mut Self, expr: &Option<Expr>, default: Option<i128>| match (expr, default)
            {
                (Some(expr), _) => lowering.eval_int(expr, "a range bound"),
                (None, Some(default)) => Ok(default),
                (None, None) => Err(EngineError::at(
                    range.pos,
                    "a loop range needs a start and an end ([a:b] or [a:step:b])",
                )),
            };
        let step = bound(self, &range.step, Some(1))?;
        if step == 0 {
            return Err(EngineError::at(range.pos, "a range's step must not be 0"));
        }
        // Omitted bounds are the register's ends, in the step's direction.
        let (first, last) = (size.map(|_| 0), size.map(|s| i128::from(s) - 1));
        let (from, to) = if step > 0 {
            (first, last)
        } else {
            (last, first)
        };
        // In a register, a negative bound counts from the end, as a negative index does.
        let wrap = |i: i128| match size {
            Some(size) if i < 0 => i + i128::from(size),
            _ => i,
        };
        let start = wrap(bound(self, &range.start, from)?);
        let end = wrap(bound(self, &range.end, to)?);
        Ok((start, step, end))
    }

    fn measure(&mut self, source: &Operand, target: &Operand, pos: Position) -> Result<()> {
        let qubits = self.resolve(source, true)?;
        let clbits = self.resolve(target, false)?;
        let (qubits, clbits) = (qubits.bits(), clbits.bits());
        if qubits.len() != clbits.len() {
            return Err(EngineError::at(
                pos,
                format!(
                    "measure needs as many bits as qubits: {} qubit{} into {} bit{}",
                    qubits.len(),
                    plural(qubits.len()),
                    clbits.len(),
                    plural(clbits.len())
                ),
            ));
        }
        for (&qubit, &clbit) in qubits.iter().zip(clbits) {
            self.emit(OpKind::Measure { qubit, clbit }, pos)?;
        }
        Ok(())
    }

    fn if_stmt(
        &mut self,
        condition: &Expr,
        then_body: &[Stmt],
        else_body: &[Stmt],
        pos: Position,
    ) -> Result<()> {
        self.charge(expr::size(condition), condition.pos)?;
        let cond::Both { holds, fails } = cond::cases(condition, self)?;
        let holds = holds?;
        // The bits the condition reads, which its blocks must not write.
        let reads = self.guarded.len();
        let read = holds.iter().chain(fails.iter().flatten()).flatten();
        self.guarded.extend(read.map(|test| {
            let range = BitRange {
                offset: test.offset,
                size: test.size,
            };
            (range, pos)
        }));
        let outer = std::mem::take(&mut self.guards);
        let result = cond::both(&outer, &holds, pos).and_then(|guards| {
            self.guards = guards;
            self.block(then_body)?;
            if else_body.is_empty() {
                return Ok(());
            }
            self.guards = cond::both(&outer, &fails?, pos)?;
            self.block(else_body)
        });
        self.guards = outer;
        self.guarded.truncate(reads);
        result
    }

    fn for_stmt(&mut self, var: &Ident, iterable: &Iterable, body: &[Stmt]) -> Result<()> {
        // The iterable is evaluated in the enclosing scope, before the variable exists.
        let (range, set) = match iterable {
            Iterable::Range(range) => {
                let (start, step, end) = self.range_bounds(range, None)?;
                (Some(RangeIter::new(start, step, end)), Vec::new())
            }
            Iterable::Set(exprs) => {
                let values = exprs.iter().map(|e| self.eval(e)).collect::<Result<_>>()?;
                (None, values)
            }
        };
        let values = range.into_iter().flatten().map(Value::Int).chain(set);
        // One slot for the variable, updated per iteration (inner loops pop their own).
        let slot = self.loop_vars.len();
        self.loop_vars.push((var.name.clone(), Value::Int(0)));
        let mut result = Ok(());
        for value in values {
            result = self.charge(1, var.pos).and_then(|()| {
                self.loop_vars[slot].1 = value;
                self.block(body)
            });
            if result.is_err() {
                break;
            }
        }
        self.loop_vars.truncate(slot);
        result
    }
}

impl Names for Lowering<'_> {
    fn value(&self, name: &str, pos: Position) -> Result<Option<Value>> {
        if let Some((_, value)) = self.loop_vars.iter().rev().find(|(n, _)| n == name) {
            return Ok(Some(*value));
        }
        match self.symbols.get(name) {
            Some((Symbol::Value(value), _)) => Ok(Some(*value)),
            Some((Symbol::Qubits { .. } | Symbol::Gate(_), _)) => Err(EngineError::at(
                pos,
                format!("'{name}' is not a classical value"),
            )),
            Some((Symbol::Bits { .. }, _)) => Err(EngineError::at(
                pos,
                format!("'{name}' holds measured bits: only an 'if' condition can read them"),
            )),
            None => match expr::constant(name) {
                Some(value) => Ok(Some(value)),
                None => Err(EngineError::at(pos, format!("unknown name '{name}'"))),
            },
        }
    }
}

impl Bits for Lowering<'_> {
    fn bits(&self, name: &str) -> Option<BitRange> {
        if self.loop_vars.iter().any(|(n, _)| n == name) {
            return None;
        }
        match self.symbols.get(name) {
            Some((Symbol::Bits { register, .. }, _)) => {
                let register = &self.cregs[*register];
                Some(BitRange {
                    offset: register.offset,
                    size: register.size,
                })
            }
            _ => None,
        }
    }

    fn bit(&self, name: &str, index: &Expr, pos: Position) -> Result<u32> {
        let register = match self.symbols.get(name) {
            Some((
                Symbol::Bits {
                    register,
                    scalar: false,
                },
                _,
            )) => &self.cregs[*register],
            _ => {
                return Err(EngineError::at(
                    pos,
                    format!("'{name}' is not a bit register"),
                ));
            }
        };
        let i = expr::eval(index, self)?.to_int(index.pos, "an index")?;
        let resolved = if i < 0 {
            i + i128::from(register.size)
        } else {
            i
        };
        if !(0..i128::from(register.size)).contains(&resolved) {
            return Err(out_of_range(i, &register.name, register.size, index.pos));
        }
        Ok(register.offset + resolved as u32)
    }
}

fn out_of_range(index: i128, register: &str, size: u32, pos: Position) -> EngineError {
    EngineError::at(
        pos,
        format!("index {index} is out of range for register '{register}' of size {size}"),
    )
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

/// `name[i]` of global bit `bit` among `registers`.
fn bit_name(registers: &[Register], bit: u32) -> String {
    registers
        .iter()
        .find(|r| (r.offset..r.offset + r.size).contains(&bit))
        .map(|r| format!("{}[{}]", r.name, bit - r.offset))
        .unwrap_or_else(|| bit.to_string())
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
