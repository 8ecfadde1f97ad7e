//! Gates: definitions resolved once (arities, argument indices, modifiers, the global
//! values their bodies read), calls checked and broadcast, and the expansion of a call
//! with its modifiers (see the parent module's doc).

use std::collections::HashMap;
use std::rc::Rc;

use super::{
    BodyOp, CALL_WORK, GateBody, GateEntry, GateId, Lowering, MAX_GATE_DEPTH, Mods, Resolved,
    Symbol, bit_name, check_unique, finite, plural,
};
use crate::error::{EngineError, Position, Result};
use crate::ir::{Gate, GateKind, OpKind};
use crate::qasm3::ast::{
    Expr, ExprKind, GateCall, GateDef, Ident, Modifier, ModifierKind, Operand, Stmt, StmtKind,
};
use crate::qasm3::expr::{self, Names, Value};
use crate::qasm3::gates::{self, STDGATES, STDGATES_FILE};

impl Lowering<'_> {
    fn gate_id(&self, name: &Ident) -> Result<GateId> {
        match self.symbols.get(&name.name) {
            Some((Symbol::Gate(id), _)) => Ok(*id),
            Some(_) => Err(EngineError::at(
                name.pos,
                format!("'{}' is not a gate", name.name),
            )),
            None => {
                let in_stdgates = STDGATES.iter().any(|(n, ..)| *n == name.name);
                let hint = if !self.stdgates_included && in_stdgates {
                    format!(" (it is in {STDGATES_FILE}: add include \"{STDGATES_FILE}\";)")
                } else {
                    " (a gate must be defined before it is used)".to_owned()
                };
                Err(EngineError::at(
                    name.pos,
                    format!("unknown gate '{}'{hint}", name.name),
                ))
            }
        }
    }

    /// Resolves modifiers; their expressions may use only global values.
    fn modifiers(&mut self, modifiers: &[Modifier]) -> Result<Mods> {
        let mut mods = Mods {
            polarity: Vec::new(),
            exponent: 1,
        };
        for modifier in modifiers {
            match &modifier.kind {
                ModifierKind::Ctrl(count) | ModifierKind::NegCtrl(count) => {
                    let positive = matches!(modifier.kind, ModifierKind::Ctrl(_));
                    let count = match count {
                        Some(count) => self.eval_int(count, "a control count")?,
                        None => 1,
                    };
                    let limit = i128::from(self.limits.max_qubits_any());
                    if !(1..=limit).contains(&count) {
                        return Err(EngineError::at(
                            modifier.pos,
                            format!("a control count must be between 1 and {limit}, got {count}"),
                        ));
                    }
                    mods.polarity
                        .extend(std::iter::repeat_n(positive, count as usize));
                }
                ModifierKind::Inv => mods.exponent = -mods.exponent,
                ModifierKind::Pow(exponent) => {
                    let value = self.eval(exponent)?;
                    let k = match value {
                        Value::Int(k) => Some(k),
                        Value::Float(k) if k.fract() == 0.0 && k.abs() < 1e18 => Some(k as i128),
                        _ => None,
                    };
                    let Some(k) = k else {
                        return Err(EngineError::at(
                            modifier.pos,
                            format!(
                                "pow({}) @: only integer exponents are supported",
                                match value {
                                    Value::Float(k) => k.to_string(),
                                    other => format!("{other:?}"),
                                }
                            ),
                        ));
                    };
                    mods.exponent = i64::try_from(k)
                        .ok()
                        .and_then(|k| mods.exponent.checked_mul(k))
                        .ok_or_else(|| {
                            EngineError::at(modifier.pos, "pow exponent is too large")
                        })?;
                }
            }
        }
        Ok(mods)
    }

    fn check_arity(&self, id: GateId, call: &GateCall, mods: &Mods) -> Result<()> {
        let gate = &self.gates[id];
        let name = &call.name;
        if call.params.len() != gate.num_params {
            return Err(EngineError::at(
                name.pos,
                format!(
                    "gate '{}' takes {} parameter{}, got {}",
                    gate.name,
                    gate.num_params,
                    plural(gate.num_params),
                    call.params.len()
                ),
            ));
        }
        let expected = gate.num_qubits + mods.polarity.len();
        if call.args.len() != expected {
            let controls = match mods.polarity.len() {
                0 => String::new(),
                n => format!(" ({n} control{} and {})", plural(n), gate.num_qubits),
            };
            return Err(EngineError::at(
                name.pos,
                format!(
                    "gate '{}' takes {expected} qubit argument{}{controls}, got {}",
                    gate.name,
                    plural(expected),
                    call.args.len()
                ),
            ));
        }
        Ok(())
    }

    pub(super) fn call(&mut self, call: &GateCall) -> Result<()> {
        let pos = call.name.pos;
        let id = self.gate_id(&call.name)?;
        let mods = self.modifiers(&call.modifiers)?;
        self.check_arity(id, call, &mods)?;
        let mut params = Vec::with_capacity(call.params.len());
        for expr in &call.params {
            let value = self.eval(expr)?.to_f64(expr.pos)?;
            params.push(finite(value, expr.pos)?);
        }
        let mut args = Vec::with_capacity(call.args.len());
        for operand in &call.args {
            args.push(self.resolve(operand, true)?);
        }
        let mut width = None;
        for (operand, arg) in call.args.iter().zip(&args) {
            let Resolved::Many(bits) = arg else {
                continue;
            };
            match width {
                Some(w) if w != bits.len() => {
                    return Err(EngineError::at(
                        operand.name.pos,
                        format!(
                            "cannot broadcast over registers of different sizes: '{}' has {} \
                             qubits, an earlier argument has {w}",
                            operand.name.name,
                            bits.len()
                        ),
                    ));
                }
                _ => width = Some(bits.len()),
            }
        }
        for i in 0..width.unwrap_or(1) {
            self.charge(CALL_WORK, pos)?;
            let qubits: Vec<u32> = args
                .iter()
                .map(|arg| match arg {
                    Resolved::One(bit) => *bit,
                    Resolved::Many(bits) => bits[i],
                })
                .collect();
            if let Some((j, dup)) = qubits
                .iter()
                .enumerate()
                .find(|(j, q)| qubits[..*j].contains(q))
            {
                return Err(EngineError::at(
                    call.args[j].name.pos,
                    format!(
                        "gate '{}' is given qubit {} twice",
                        call.name.name,
                        bit_name(&self.qregs, *dup)
                    ),
                ));
            }
            self.invoke(id, &params, &qubits, &mods, &[], false, 0, pos)?;
        }
        Ok(())
    }

    /// Applies gate `id` with modifiers `mods` to `args` (its control arguments first),
    /// under the positive controls `outer`, inverted if `inverse`.
    #[allow(clippy::too_many_arguments)]
    fn invoke(
        &mut self,
        id: GateId,
        params: &[f64],
        args: &[u32],
        mods: &Mods,
        outer: &[u32],
        inverse: bool,
        depth: u32,
        pos: Position,
    ) -> Result<()> {
        if depth > MAX_GATE_DEPTH {
            return Err(EngineError::at(
                pos,
                format!("gate calls nest more than {MAX_GATE_DEPTH} deep"),
            ));
        }
        let (control_args, qubits) = args.split_at(mods.polarity.len());
        if control_args.is_empty() && outer.is_empty() && mods.exponent == 1 && !inverse {
            // A plain call, most of them: the gate once, as it is.
            self.charge(1, pos)?;
            return self.apply(id, params, qubits, &[], false, depth, pos);
        }
        let negative: Vec<u32> = control_args
            .iter()
            .zip(&mods.polarity)
            .filter(|(_, positive)| !**positive)
            .map(|(q, _)| *q)
            .collect();
        let flip = |lowering: &mut Self| -> Result<()> {
            for &qubit in &negative {
                lowering.emit(
                    OpKind::Gate(Gate {
                        kind: GateKind::X,
                        qubits: vec![qubit],
                    }),
                    pos,
                )?;
            }
            Ok(())
        };
        flip(self)?;
        let controls: Vec<u32> = outer.iter().chain(control_args).copied().collect();
        let exponent = if inverse {
            -mods.exponent
        } else {
            mods.exponent
        };
        for _ in 0..exponent.unsigned_abs() {
            self.charge(1, pos)?;
            self.apply(id, params, qubits, &controls, exponent < 0, depth, pos)?;
        }
        flip(self)
    }

    /// Applies gate `id` (no modifiers of its own) under `controls`.
    #[allow(clippy::too_many_arguments)]
    fn apply(
        &mut self,
        id: GateId,
        params: &[f64],
        qubits: &[u32],
        controls: &[u32],
        inverse: bool,
        depth: u32,
        pos: Position,
    ) -> Result<()> {
        let gate = Rc::clone(&self.gates[id]);
        match &gate.body {
            GateBody::Native(native) => {
                let kind = native(params);
                let kind = if inverse { gates::inverse(kind) } else { kind };
                if controls.is_empty() {
                    // Most calls: the gate itself, which the identity is not.
                    if kind != GateKind::Id {
                        let qubits = qubits.to_vec();
                        self.emit(OpKind::Gate(Gate { kind, qubits }), pos)?;
                    }
                    return Ok(());
                }
                for gate in gates::controlled(kind, qubits, controls) {
                    self.emit(OpKind::Gate(gate), pos)?;
                }
                Ok(())
            }
            GateBody::GPhase => {
                let theta = if inverse { -params[0] } else { params[0] };
                // Without controls a global phase has no observable effect.
                if let Some((&target, rest)) = controls.split_last() {
                    for gate in gates::controlled(GateKind::Phase(theta), &[target], rest) {
                        self.emit(OpKind::Gate(gate), pos)?;
                    }
                }
                Ok(())
            }
            GateBody::Defined {
                params: names,
                captured,
                body,
            } => {
                let order: Box<dyn Iterator<Item = &BodyOp>> = if inverse {
                    Box::new(body.iter().rev())
                } else {
                    Box::new(body.iter())
                };
                for op in order {
                    match op {
                        BodyOp::Barrier(args) => {
                            self.charge(1, pos)?;
                            let on = args.iter().map(|&a| qubits[a]).collect();
                            self.emit(OpKind::Barrier(on), pos)?;
                        }
                        BodyOp::Call {
                            gate,
                            mods,
                            params: exprs,
                            cost,
                            args,
                        } => {
                            self.charge(CALL_WORK.saturating_add(*cost), pos)?;
                            let scope = BodyScope {
                                names,
                                values: params,
                                captured,
                            };
                            let mut values = Vec::with_capacity(exprs.len());
                            for expr in exprs {
                                let value = expr::eval(expr, &scope)?.to_f64(expr.pos)?;
                                values.push(finite(value, expr.pos)?);
                            }
                            let on: Vec<u32> = args.iter().map(|&a| qubits[a]).collect();
                            self.invoke(
                                *gate,
                                &values,
                                &on,
                                mods,
                                controls,
                                inverse,
                                depth + 1,
                                pos,
                            )?;
                        }
                    }
                }
                Ok(())
            }
        }
    }

    pub(super) fn gate_def(&mut self, def: &GateDef) -> Result<()> {
        check_unique(&def.params, "parameter")?;
        check_unique(&def.qubits, "qubit argument")?;
        let qubits: HashMap<&str, usize> = def
            .qubits
            .iter()
            .enumerate()
            .map(|(i, q)| (q.name.as_str(), i))
            .collect();
        let params: Vec<String> = def.params.iter().map(|p| p.name.clone()).collect();
        let mut captured = HashMap::new();
        let mut body = Vec::with_capacity(def.body.len());
        for stmt in &def.body {
            body.push(self.body_op(def, &qubits, &params, &mut captured, stmt)?);
        }
        let entry = GateEntry {
            name: def.name.name.clone(),
            num_params: def.params.len(),
            num_qubits: def.qubits.len(),
            body: GateBody::Defined {
                params,
                captured,
                body,
            },
        };
        self.declare(&def.name, Symbol::Gate(self.gates.len()))?;
        self.gates.push(Rc::new(entry));
        Ok(())
    }

    /// Resolves one statement of gate `def`'s body.
    fn body_op(
        &mut self,
        def: &GateDef,
        qubits: &HashMap<&str, usize>,
        params: &[String],
        captured: &mut HashMap<String, Value>,
        stmt: &Stmt,
    ) -> Result<BodyOp> {
        let index_of = |operand: &Operand| -> Result<usize> {
            match (qubits.get(operand.name.name.as_str()), &operand.index) {
                (Some(&index), None) => Ok(index),
                (Some(_), Some(_)) => Err(EngineError::at(
                    operand.name.pos,
                    format!("'{}' is one qubit: it cannot be indexed", operand.name.name),
                )),
                (None, _) if operand.name.name.starts_with('$') => Err(EngineError::at(
                    operand.name.pos,
                    format!(
                        "physical qubit {} cannot be used in the body of gate '{}': a gate \
                         acts only on its qubit arguments",
                        operand.name.name, def.name.name
                    ),
                )),
                (None, _) => Err(EngineError::at(
                    operand.name.pos,
                    format!(
                        "'{}' is not a qubit argument of gate '{}'",
                        operand.name.name, def.name.name
                    ),
                )),
            }
        };
        let not_allowed = |what: &str| {
            Err(EngineError::at(
                stmt.pos,
                format!("{what} is not allowed in a gate body"),
            ))
        };
        match &stmt.kind {
            StmtKind::Call(call) => {
                let gate = self.gate_id(&call.name)?;
                let mods = self.modifiers(&call.modifiers)?;
                self.check_arity(gate, call, &mods)?;
                let args = call.args.iter().map(index_of).collect::<Result<Vec<_>>>()?;
                if let Some(j) = (0..args.len()).find(|&j| args[..j].contains(&args[j])) {
                    return Err(EngineError::at(
                        call.args[j].name.pos,
                        format!(
                            "gate '{}' is given qubit '{}' twice",
                            call.name.name, call.args[j].name.name
                        ),
                    ));
                }
                for expr in &call.params {
                    self.capture(expr, params, captured)?;
                }
                Ok(BodyOp::Call {
                    gate,
                    mods,
                    cost: call
                        .params
                        .iter()
                        .map(expr::size)
                        .fold(0, u64::saturating_add),
                    params: call.params.clone(),
                    args,
                })
            }
            StmtKind::Barrier(operands) => {
                let mut args: Vec<usize> = Vec::new();
                if operands.is_empty() {
                    args.extend(0..def.qubits.len());
                }
                for operand in operands {
                    let index = index_of(operand)?;
                    if !args.contains(&index) {
                        args.push(index);
                    }
                }
                Ok(BodyOp::Barrier(args))
            }
            StmtKind::Include(_) => not_allowed("an include"),
            StmtKind::QubitDecl { .. } | StmtKind::BitDecl { .. } => not_allowed("a declaration"),
            StmtKind::Const { .. } => not_allowed("a const declaration"),
            StmtKind::Input { .. } => not_allowed("an input declaration"),
            StmtKind::GateDef(_) => not_allowed("a gate definition"),
            StmtKind::Measure { .. } => not_allowed("a measurement"),
            StmtKind::Reset(_) => not_allowed("a reset"),
            StmtKind::If { .. } => not_allowed("an 'if'"),
            StmtKind::For { .. } => not_allowed("a 'for' loop"),
            StmtKind::Block(_) => not_allowed("a block"),
        }
    }

    /// Checks that `expr` uses only the gate's parameters, constants and global values,
    /// capturing the global values.
    fn capture(
        &self,
        expr: &Expr,
        params: &[String],
        captured: &mut HashMap<String, Value>,
    ) -> Result<()> {
        match &expr.kind {
            ExprKind::Name(name) => {
                if params.contains(name) || expr::constant(name).is_some() {
                    return Ok(());
                }
                match self.symbols.get(name) {
                    Some((Symbol::Value(value), _)) => {
                        captured.insert(name.clone(), *value);
                        Ok(())
                    }
                    _ => Err(EngineError::at(
                        expr.pos,
                        format!(
                            "unknown name '{name}' (a gate body can use its parameters and \
                             constants)"
                        ),
                    )),
                }
            }
            ExprKind::Int(_) | ExprKind::WideInt(_) | ExprKind::Float(_) | ExprKind::Bool(_) => {
                Ok(())
            }
            ExprKind::BitString(_) | ExprKind::Indexed(..) => Err(EngineError::at(
                expr.pos,
                "a gate parameter cannot read bits",
            )),
            ExprKind::Unary(_, inner) => self.capture(inner, params, captured),
            ExprKind::Chain(first, links) => {
                self.capture(first, params, captured)?;
                links
                    .iter()
                    .try_for_each(|link| self.capture(&link.operand, params, captured))
            }
            ExprKind::Call(_, args) => args
                .iter()
                .try_for_each(|arg| self.capture(arg, params, captured)),
        }
    }
}

/// The names of a gate body: its parameters' values and the captured globals.
struct BodyScope<'a> {
    names: &'a [String],
    values: &'a [f64],
    captured: &'a HashMap<String, Value>,
}

impl Names for BodyScope<'_> {
    fn value(&self, name: &str, pos: Position) -> Result<Option<Value>> {
        if let Some(i) = self.names.iter().position(|n| n == name) {
            return Ok(Some(Value::Float(self.values[i])));
        }
        match self
            .captured
            .get(name)
            .copied()
            .or_else(|| expr::constant(name))
        {
            Some(value) => Ok(Some(value)),
            None => Err(EngineError::at(pos, format!("unknown name '{name}'"))),
        }
    }
}
