//! Parameter expressions: construction with a bounded depth, and evaluation in `f64`
//! (a chain of any length folds in a loop, so only real nesting recurses).

use super::ast::{BinaryOp, Expr, ExprKind, Function};
use crate::error::Position;

/// Deepest expression tree (and deepest nesting of parentheses, signs, function calls and
/// signed exponents) the parser accepts. Real circuits stay far below; the bound keeps
/// parsing, evaluation and dropping shallow on any stack. Flat chains do not count.
pub(crate) const MAX_EXPR_DEPTH: u32 = 128;

impl Expr {
    /// A node over `kind`, with its depth derived from its children.
    pub(crate) fn new(kind: ExprKind, pos: Position) -> Self {
        let depth = 1 + match &kind {
            ExprKind::Number(_) | ExprKind::Pi | ExprKind::Param(_) => 0,
            ExprKind::Neg(inner) | ExprKind::Call(_, inner) => inner.depth,
            ExprKind::Chain(first, rest) => rest
                .iter()
                .map(|(_, operand)| operand.depth)
                .fold(first.depth, u32::max),
        };
        Self { kind, pos, depth }
    }

    /// The value with the enclosing gate's parameters bound to `params` (in declaration
    /// order; the parser resolved every parameter name against that declaration).
    pub(crate) fn eval(&self, params: &[f64]) -> f64 {
        match &self.kind {
            ExprKind::Number(value) => *value,
            ExprKind::Pi => std::f64::consts::PI,
            ExprKind::Param(index) => params[*index],
            ExprKind::Neg(inner) => -inner.eval(params),
            ExprKind::Chain(first, rest) => {
                let base = first.eval(params);
                if let Some((BinaryOp::Pow, _)) = rest.first() {
                    // From the right: a ^ b ^ c is a ^ (b ^ c).
                    let exponent = rest
                        .iter()
                        .rev()
                        .map(|(_, operand)| operand.eval(params))
                        .reduce(|exponent, base| base.powf(exponent));
                    return exponent.map_or(base, |exponent| base.powf(exponent));
                }
                rest.iter().fold(base, |a, (op, operand)| {
                    let b = operand.eval(params);
                    match op {
                        BinaryOp::Add => a + b,
                        BinaryOp::Sub => a - b,
                        BinaryOp::Mul => a * b,
                        BinaryOp::Div => a / b,
                        BinaryOp::Pow => a.powf(b),
                    }
                })
            }
            ExprKind::Call(function, inner) => {
                let x = inner.eval(params);
                match function {
                    Function::Sin => x.sin(),
                    Function::Cos => x.cos(),
                    Function::Tan => x.tan(),
                    Function::Exp => x.exp(),
                    Function::Ln => x.ln(),
                    Function::Sqrt => x.sqrt(),
                }
            }
        }
    }
}
