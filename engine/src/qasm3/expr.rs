//! Classical values and the evaluation of expressions: constants, `input` parameters,
//! loop variables and gate parameters, folded at lowering time (the engine has no
//! classical runtime besides measured bits, which only conditions read: see `cond`).
//!
//! Types follow the specification loosely: integers stay integers (`i128`, overflow is an
//! error) until they meet a float; `/` of two integers truncates; comparisons give
//! booleans. The built-in constants are `pi`/`π`, `tau`/`τ` and `euler`/`ℇ`; the built-in
//! functions are the specification's real ones: `sin`, `cos`, `tan`, `arcsin`, `arccos`,
//! `arctan`, `exp`, `log` (natural), `sqrt`, `ceiling`, `floor`, `mod` and `pow`.

use std::f64::consts::{E, PI, TAU};

use super::ast::{BinaryOp, Expr, ExprKind, Ident, Link, UnaryOp};
use crate::error::{EngineError, Position, Result};

/// A classical value.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Value {
    Int(i128),
    Float(f64),
    Bool(bool),
}

impl Value {
    fn describe(self) -> &'static str {
        match self {
            Self::Int(_) => "an integer",
            Self::Float(_) => "a float",
            Self::Bool(_) => "a boolean",
        }
    }

    /// The value as a real number (integers convert; booleans do not).
    pub(crate) fn to_f64(self, pos: Position) -> Result<f64> {
        match self {
            Self::Int(v) => Ok(v as f64),
            Self::Float(v) => Ok(v),
            Self::Bool(_) => Err(EngineError::at(pos, "expected a number, found a boolean")),
        }
    }

    /// The value as an integer (floats and booleans do not convert).
    pub(crate) fn to_int(self, pos: Position, what: &str) -> Result<i128> {
        match self {
            Self::Int(v) => Ok(v),
            other => Err(EngineError::at(
                pos,
                format!("{what} must be an integer, found {}", other.describe()),
            )),
        }
    }
}

/// Resolves the names an expression uses.
pub(crate) trait Names {
    /// The value of `name`, written at `pos`; `None` if the name is not a classical value
    /// here (the caller reports it).
    fn value(&self, name: &str, pos: Position) -> Result<Option<Value>>;
}

/// The value of a built-in constant.
pub(crate) fn constant(name: &str) -> Option<Value> {
    Some(Value::Float(match name {
        "pi" | "π" => PI,
        "tau" | "τ" => TAU,
        "euler" | "ℇ" => E,
        _ => return None,
    }))
}

/// The number of nodes of `expr` (the work its evaluation costs).
pub(crate) fn size(expr: &Expr) -> u64 {
    1 + match &expr.kind {
        ExprKind::Int(_)
        | ExprKind::WideInt(_)
        | ExprKind::Float(_)
        | ExprKind::Bool(_)
        | ExprKind::BitString(_)
        | ExprKind::Name(_) => 0,
        ExprKind::Indexed(_, inner) | ExprKind::Unary(_, inner) => size(inner),
        // One node per operator (the chain's own node is the first), as if the chain were
        // a tree of binary operations.
        ExprKind::Chain(first, links) => links
            .iter()
            .fold(size(first), |n, link| n.saturating_add(size(&link.operand)))
            .saturating_add(links.len() as u64 - 1),
        ExprKind::Call(_, args) => args.iter().map(size).fold(0, u64::saturating_add),
    }
}

/// Evaluates `expr` (its depth is bounded by the parser, so the recursion is shallow; a
/// chain folds in a loop).
pub(crate) fn eval(expr: &Expr, names: &dyn Names) -> Result<Value> {
    let pos = expr.pos;
    match &expr.kind {
        ExprKind::Int(value) => Ok(Value::Int(i128::from(*value))),
        ExprKind::WideInt(words) => int_literal(words, pos).map(Value::Int),
        ExprKind::Float(value) => Ok(Value::Float(*value)),
        ExprKind::Bool(value) => Ok(Value::Bool(*value)),
        ExprKind::BitString(_) => Err(EngineError::at(
            pos,
            "a bit string can only be compared with a register",
        )),
        ExprKind::Name(name) => match names.value(name, pos)? {
            Some(value) => Ok(value),
            None => Err(EngineError::at(
                pos,
                format!("'{name}' is not a classical value that is known here"),
            )),
        },
        ExprKind::Indexed(name, _) => Err(EngineError::at(
            name.pos,
            format!(
                "'{}[…]' is a measured bit: it can only be read in an 'if' condition",
                name.name
            ),
        )),
        ExprKind::Unary(op, inner) => unary(*op, eval(inner, names)?, pos),
        ExprKind::Chain(first, links) => chain(first, links, names),
        ExprKind::Call(function, args) => {
            let values = args
                .iter()
                .map(|arg| eval(arg, names))
                .collect::<Result<Vec<_>>>()?;
            call(function, &values, pos)
        }
    }
}

/// The value of a chain: from the left, or from the right for `**` (operands are evaluated
/// from the left either way, so the first error in the source is the one reported).
fn chain(first: &Expr, links: &[Link], names: &dyn Names) -> Result<Value> {
    let first = eval(first, names)?;
    if links.first().is_some_and(|link| link.op == BinaryOp::Pow) {
        let mut operands = Vec::with_capacity(links.len());
        for link in links {
            operands.push(eval(&link.operand, names)?);
        }
        let mut exponent = operands.pop().unwrap_or(first);
        for (link, base) in links
            .iter()
            .rev()
            .zip(operands.into_iter().rev().chain([first]))
        {
            exponent = binary(BinaryOp::Pow, base, exponent, link.pos)?;
        }
        return Ok(exponent);
    }
    let mut value = first;
    for link in links {
        value = binary(link.op, value, eval(&link.operand, names)?, link.pos)?;
    }
    Ok(value)
}

/// A wide integer literal as an `i128` (wider ones are only for comparisons with
/// registers).
fn int_literal(words: &[u64], pos: Position) -> Result<i128> {
    match words {
        [low, high] if *high < 1 << 63 => Ok(i128::from(*high) << 64 | i128::from(*low)),
        _ => Err(EngineError::at(
            pos,
            "integer is too large for arithmetic (at most 2^127 - 1)",
        )),
    }
}

fn unary(op: UnaryOp, value: Value, pos: Position) -> Result<Value> {
    Ok(match (op, value) {
        (UnaryOp::Neg, Value::Int(v)) => Value::Int(v.checked_neg().ok_or_else(|| overflow(pos))?),
        (UnaryOp::Neg, Value::Float(v)) => Value::Float(-v),
        (UnaryOp::Not, Value::Bool(v)) => Value::Bool(!v),
        (UnaryOp::BitNot, Value::Int(v)) => Value::Int(!v),
        (op, value) => {
            let symbol = match op {
                UnaryOp::Neg => "-",
                UnaryOp::Not => "!",
                UnaryOp::BitNot => "~",
            };
            return Err(EngineError::at(
                pos,
                format!("'{symbol}' does not apply to {}", value.describe()),
            ));
        }
    })
}

fn overflow(pos: Position) -> EngineError {
    EngineError::at(pos, "integer overflow")
}

fn binary(op: BinaryOp, lhs: Value, rhs: Value, pos: Position) -> Result<Value> {
    use BinaryOp::*;
    use Value::{Bool, Float, Int};
    let mismatch = || {
        EngineError::at(
            pos,
            format!(
                "'{}' does not apply to {} and {}",
                op.symbol(),
                lhs.describe(),
                rhs.describe()
            ),
        )
    };
    Ok(match (op, lhs, rhs) {
        (And, Bool(a), Bool(b)) => Bool(a && b),
        (Or, Bool(a), Bool(b)) => Bool(a || b),
        (Eq, Bool(a), Bool(b)) => Bool(a == b),
        (Ne, Bool(a), Bool(b)) => Bool(a != b),
        (_, Bool(_), _) | (_, _, Bool(_)) | (And | Or, _, _) => return Err(mismatch()),
        (Add, Int(a), Int(b)) => Int(a.checked_add(b).ok_or_else(|| overflow(pos))?),
        (Sub, Int(a), Int(b)) => Int(a.checked_sub(b).ok_or_else(|| overflow(pos))?),
        (Mul, Int(a), Int(b)) => Int(a.checked_mul(b).ok_or_else(|| overflow(pos))?),
        (Div | Rem, Int(_), Int(0)) => {
            return Err(EngineError::at(pos, "integer division by zero"));
        }
        (Div, Int(a), Int(b)) => Int(a.checked_div(b).ok_or_else(|| overflow(pos))?),
        (Rem, Int(a), Int(b)) => Int(a.checked_rem(b).ok_or_else(|| overflow(pos))?),
        (Pow, Int(a), Int(b)) if b >= 0 => {
            let exponent = u32::try_from(b).map_err(|_| overflow(pos))?;
            Int(a.checked_pow(exponent).ok_or_else(|| overflow(pos))?)
        }
        (BitAnd, Int(a), Int(b)) => Int(a & b),
        (BitOr, Int(a), Int(b)) => Int(a | b),
        (BitXor, Int(a), Int(b)) => Int(a ^ b),
        (Shl | Shr, Int(_), Int(b)) if !(0..128).contains(&b) => {
            return Err(EngineError::at(pos, format!("shift by {b} bits")));
        }
        (Shl, Int(a), Int(b)) => Int(a.checked_shl(b as u32).ok_or_else(|| overflow(pos))?),
        (Shr, Int(a), Int(b)) => Int(a >> b),
        (BitAnd | BitOr | BitXor | Shl | Shr, _, _) => return Err(mismatch()),
        (Eq, Int(a), Int(b)) => Bool(a == b),
        (Ne, Int(a), Int(b)) => Bool(a != b),
        (Lt, Int(a), Int(b)) => Bool(a < b),
        (Le, Int(a), Int(b)) => Bool(a <= b),
        (Gt, Int(a), Int(b)) => Bool(a > b),
        (Ge, Int(a), Int(b)) => Bool(a >= b),
        (op, a, b) => {
            let (a, b) = (a.to_f64(pos)?, b.to_f64(pos)?);
            match op {
                Add => Float(a + b),
                Sub => Float(a - b),
                Mul => Float(a * b),
                Div => Float(a / b),
                Rem => Float(a % b),
                Pow => Float(a.powf(b)),
                Eq => Bool(a == b),
                Ne => Bool(a != b),
                Lt => Bool(a < b),
                Le => Bool(a <= b),
                Gt => Bool(a > b),
                Ge => Bool(a >= b),
                And | Or | BitAnd | BitOr | BitXor | Shl | Shr => return Err(mismatch()),
            }
        }
    })
}

fn call(function: &Ident, args: &[Value], pos: Position) -> Result<Value> {
    let unary: Option<fn(f64) -> f64> = match function.name.as_str() {
        "sin" => Some(f64::sin),
        "cos" => Some(f64::cos),
        "tan" => Some(f64::tan),
        "arcsin" => Some(f64::asin),
        "arccos" => Some(f64::acos),
        "arctan" => Some(f64::atan),
        "exp" => Some(f64::exp),
        "log" => Some(f64::ln),
        "sqrt" => Some(f64::sqrt),
        _ => None,
    };
    let arity = |expected: usize| {
        if args.len() == expected {
            Ok(())
        } else {
            Err(EngineError::at(
                function.pos,
                format!(
                    "'{}' takes {expected} argument{}, got {}",
                    function.name,
                    if expected == 1 { "" } else { "s" },
                    args.len()
                ),
            ))
        }
    };
    if let Some(f) = unary {
        arity(1)?;
        return Ok(Value::Float(f(args[0].to_f64(pos)?)));
    }
    match function.name.as_str() {
        "ceiling" | "floor" => {
            arity(1)?;
            match args[0] {
                Value::Int(v) => Ok(Value::Int(v)),
                other => {
                    let x = other.to_f64(pos)?;
                    let rounded = if function.name == "floor" {
                        x.floor()
                    } else {
                        x.ceil()
                    };
                    if rounded.abs() < 1e36 {
                        Ok(Value::Int(rounded as i128))
                    } else {
                        Err(EngineError::at(pos, format!("'{}' of {x}", function.name)))
                    }
                }
            }
        }
        "mod" => {
            arity(2)?;
            binary(BinaryOp::Rem, args[0], args[1], pos)
        }
        "pow" => {
            arity(2)?;
            binary(BinaryOp::Pow, args[0], args[1], pos)
        }
        name => Err(EngineError::at(
            function.pos,
            format!(
                "unknown function '{name}' (functions: sin, cos, tan, arcsin, arccos, arctan, \
                 exp, log, sqrt, ceiling, floor, mod, pow)"
            ),
        )),
    }
}
