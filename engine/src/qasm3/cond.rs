//! `if` conditions as the IR's tests on measured bits.
//!
//! A condition becomes a list of *cases*, each a conjunction of [`BitsTest`]s, no two of
//! which can hold at once; the condition holds when one case does. The operations of an
//! `if` body are emitted once per case, guarded by it (so at most one copy runs), and the
//! `else` body under the negation. `==`, `!=`, `<`, `<=`, `>`, `>=` between a register
//! (or one bit) and a value of any width, a bare bit or register (`!= 0`), `!`, `&&`, `||`
//! and constant booleans all have this form; the number of cases is bounded by
//! [`MAX_CASES`], and the tests of a case by [`MAX_TESTS`].

use super::ast::{BinaryOp, Expr, ExprKind, UnaryOp};
use super::expr::{self, Names, Value};
use crate::error::{EngineError, Position, Result};
use crate::ir::BitsTest;

/// Most cases one condition may expand to.
pub(crate) const MAX_CASES: usize = 256;

/// Most tests one case may hold. Each guarded operation checks them all, and without a
/// bound a long flat chain (`!c && !c && …`) would build its conjunction in quadratic
/// time.
pub(crate) const MAX_TESTS: usize = 256;

/// Disjoint cases, each a conjunction of tests: `[]` never holds, `[[]]` always does.
pub(crate) type Cases = Vec<Vec<BitsTest>>;

/// Measured bits that a condition can read: `offset .. offset + size`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct BitRange {
    pub offset: u32,
    pub size: u32,
}

/// Resolves names to classical bits (besides the classical values of [`Names`]).
pub(crate) trait Bits: Names {
    /// The bits `name` names (a register or a scalar bit), or `None` if it is not one.
    fn bits(&self, name: &str) -> Option<BitRange>;

    /// Bit `index` of register `name`, written at `pos`.
    fn bit(&self, name: &str, index: &Expr, pos: Position) -> Result<u32>;
}

/// The cases of a condition and of its negation; either may be over [`MAX_CASES`] and
/// only fails the program if it is used.
pub(crate) struct Both {
    pub holds: Result<Cases>,
    pub fails: Result<Cases>,
}

/// The cases of `condition` and of its negation. Negations are pushed down to the
/// comparisons, so `!(c < 5)` is `c >= 5` rather than a product of negated cases, and
/// each node is visited once (a chain of `||` costs linear time, not exponential).
pub(crate) fn cases(condition: &Expr, names: &dyn Bits) -> Result<Both> {
    let pos = condition.pos;
    Ok(match &condition.kind {
        ExprKind::Unary(UnaryOp::Not, inner) => {
            let inner = cases(inner, names)?;
            Both {
                holds: inner.fails,
                fails: inner.holds,
            }
        }
        // A chain of `&&` or of `||`, folded from the left.
        ExprKind::Chain(first, links)
            if links
                .iter()
                .all(|link| matches!(link.op, BinaryOp::And | BinaryOp::Or)) =>
        {
            let mut both = cases(first, names)?;
            for link in links {
                let next = cases(&link.operand, names)?;
                both = if link.op == BinaryOp::And {
                    and(both, next, link.pos)
                } else {
                    or(both, next, link.pos)
                };
            }
            both
        }
        ExprKind::Chain(lhs, links) if links.len() == 1 && comparison(links[0].op).is_some() => {
            let rhs = &links[0].operand;
            let (lhs_bits, rhs_bits) = (operand_bits(lhs, names)?, operand_bits(rhs, names)?);
            let (op, bits, value) = match (comparison(links[0].op), lhs_bits, rhs_bits) {
                (Some(_), Some(_), Some(_)) => {
                    return Err(EngineError::at(
                        pos,
                        "comparing two registers is not supported (compare one with a value)",
                    ));
                }
                (Some(op), Some(bits), None) => (op, bits, value_words(rhs, names)?),
                (Some(op), None, Some(bits)) => (op.mirrored(), bits, value_words(lhs, names)?),
                _ => return constant(expr::eval(condition, names)?, pos),
            };
            Both {
                holds: Ok(compare(bits, op, &value)),
                fails: Ok(compare(bits, op.complement(), &value)),
            }
        }
        _ => match operand_bits(condition, names)? {
            // A bare bit or register: true when not zero.
            Some(bits) => Both {
                holds: Ok(vec![vec![test(bits, &[], false)]]),
                fails: Ok(vec![vec![test(bits, &[], true)]]),
            },
            None => return constant(expr::eval(condition, names)?, pos),
        },
    })
}

/// `a ∨ b` as the disjoint `a ∨ (¬a ∧ b)`.
fn either(
    a: &Result<Cases>,
    not_a: &Result<Cases>,
    b: &Result<Cases>,
    pos: Position,
) -> Result<Cases> {
    let (a, not_a, b) = (a.clone()?, not_a.clone()?, b.clone()?);
    let mut either = a;
    either.extend(both(&not_a, &b, pos)?);
    bounded(either, pos)
}

fn conjunction(a: &Result<Cases>, b: &Result<Cases>, pos: Position) -> Result<Cases> {
    both(
        a.as_ref().map_err(Clone::clone)?,
        b.as_ref().map_err(Clone::clone)?,
        pos,
    )
}

/// `a && b`, the operator at `pos`.
fn and(a: Both, b: Both, pos: Position) -> Both {
    Both {
        holds: conjunction(&a.holds, &b.holds, pos),
        // ¬(a ∧ b) = ¬a ∨ (a ∧ ¬b)
        fails: either(&a.fails, &a.holds, &b.fails, pos),
    }
}

/// `a || b`, the operator at `pos`.
fn or(a: Both, b: Both, pos: Position) -> Both {
    Both {
        holds: either(&a.holds, &a.fails, &b.holds, pos),
        fails: conjunction(&a.fails, &b.fails, pos),
    }
}

fn constant(value: Value, pos: Position) -> Result<Both> {
    let (always, never) = (vec![Vec::new()], Vec::new());
    match value {
        Value::Bool(true) => Ok(Both {
            holds: Ok(always),
            fails: Ok(never),
        }),
        Value::Bool(false) => Ok(Both {
            holds: Ok(never),
            fails: Ok(always),
        }),
        other => Err(EngineError::at(
            pos,
            format!("a condition must be a boolean, found {other:?}"),
        )),
    }
}

/// The bits `expr` reads, if it is a register, a scalar bit or `name[i]`.
fn operand_bits(expr: &Expr, names: &dyn Bits) -> Result<Option<BitRange>> {
    Ok(match &expr.kind {
        ExprKind::Name(name) => names.bits(name),
        ExprKind::Indexed(name, index) => Some(BitRange {
            offset: names.bit(&name.name, index, name.pos)?,
            size: 1,
        }),
        _ => None,
    })
}

/// The value a register is compared with, little-endian words: an integer literal of any
/// width, a bit string, a boolean, or an expression of constants.
fn value_words(expr: &Expr, names: &dyn Bits) -> Result<Vec<u64>> {
    match &expr.kind {
        ExprKind::Int(value) => Ok(vec![*value]),
        ExprKind::WideInt(words) => Ok(words.clone()),
        ExprKind::BitString(bits) => {
            let mut words = vec![0u64; bits.len().div_ceil(64)];
            for (i, bit) in bits.chars().rev().enumerate() {
                if bit == '1' {
                    words[i / 64] |= 1 << (i % 64);
                }
            }
            Ok(words)
        }
        _ => match expr::eval(expr, names)? {
            Value::Bool(value) => Ok(vec![u64::from(value)]),
            Value::Int(value) if value >= 0 => Ok(vec![value as u64, (value >> 64) as u64]),
            other => Err(EngineError::at(
                expr.pos,
                format!(
                    "a register can only be compared with a non-negative integer, found {other:?}"
                ),
            )),
        },
    }
}

/// A comparison between a register and a value.
#[derive(Clone, Copy)]
enum Comparison {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Comparison {
    /// The comparison with its operands exchanged (`v < c` is `c > v`).
    fn mirrored(self) -> Self {
        match self {
            Self::Lt => Self::Gt,
            Self::Le => Self::Ge,
            Self::Gt => Self::Lt,
            Self::Ge => Self::Le,
            Self::Eq | Self::Ne => self,
        }
    }

    /// The comparison that holds exactly when this one does not.
    fn complement(self) -> Self {
        match self {
            Self::Eq => Self::Ne,
            Self::Ne => Self::Eq,
            Self::Lt => Self::Ge,
            Self::Ge => Self::Lt,
            Self::Le => Self::Gt,
            Self::Gt => Self::Le,
        }
    }
}

fn comparison(op: BinaryOp) -> Option<Comparison> {
    Some(match op {
        BinaryOp::Eq => Comparison::Eq,
        BinaryOp::Ne => Comparison::Ne,
        BinaryOp::Lt => Comparison::Lt,
        BinaryOp::Le => Comparison::Le,
        BinaryOp::Gt => Comparison::Gt,
        BinaryOp::Ge => Comparison::Ge,
        _ => return None,
    })
}

fn test(bits: BitRange, value: &[u64], equal: bool) -> BitsTest {
    BitsTest {
        offset: bits.offset,
        size: bits.size,
        value: value.to_vec(),
        equal,
    }
}

/// `bits OP value` for a comparison operator.
fn compare(bits: BitRange, op: Comparison, value: &[u64]) -> Cases {
    match op {
        Comparison::Eq => vec![vec![test(bits, value, true)]],
        Comparison::Ne => vec![vec![test(bits, value, false)]],
        Comparison::Lt => ordered(bits, value, false),
        Comparison::Le => ordered(bits, &plus_one(value), false),
        Comparison::Gt => ordered(bits, value, true),
        Comparison::Ge => match minus_one(value) {
            Some(below) => ordered(bits, &below, true),
            None => vec![Vec::new()],
        },
    }
}

fn bit_of(words: &[u64], i: u32) -> bool {
    let word = (i / 64) as usize;
    word < words.len() && (words[word] >> (i % 64)) & 1 == 1
}

/// `value - 1`, or `None` for 0.
fn minus_one(words: &[u64]) -> Option<Vec<u64>> {
    let mut difference = words.to_vec();
    for word in &mut difference {
        let (value, borrow) = word.overflowing_sub(1);
        *word = value;
        if !borrow {
            return Some(difference);
        }
    }
    None
}

fn plus_one(words: &[u64]) -> Vec<u64> {
    let mut sum = words.to_vec();
    for word in &mut sum {
        let (value, carry) = word.overflowing_add(1);
        *word = value;
        if !carry {
            return sum;
        }
    }
    sum.push(1);
    sum
}

/// `bits < value` (or `bits > value` when `greater`), unsigned: one case per bit `i` of
/// the register where `value` has a 1 (a 0), in which the register agrees with `value`
/// above `i` and has a 0 (a 1) at `i`.
fn ordered(bits: BitRange, value: &[u64], greater: bool) -> Cases {
    let beyond = (bits.size..value.len() as u32 * 64).any(|i| bit_of(value, i));
    if beyond {
        // The value is above every register value.
        return if greater {
            Vec::new()
        } else {
            vec![Vec::new()]
        };
    }
    let mut cases = Vec::new();
    for i in (0..bits.size)
        .rev()
        .filter(|&i| bit_of(value, i) != greater)
    {
        let mut case = Vec::new();
        if i + 1 < bits.size {
            let above = BitRange {
                offset: bits.offset + i + 1,
                size: bits.size - i - 1,
            };
            let high: Vec<u64> = (0..above.size.div_ceil(64))
                .map(|w| {
                    (0..64)
                        .filter(|b| bit_of(value, i + 1 + w * 64 + b))
                        .fold(0u64, |acc, b| acc | 1 << b)
                })
                .collect();
            case.push(test(above, &high, true));
        }
        let at = BitRange {
            offset: bits.offset + i,
            size: 1,
        };
        case.push(test(at, &[u64::from(greater)], true));
        cases.push(case);
    }
    cases
}

fn bounded(cases: Cases, pos: Position) -> Result<Cases> {
    if cases.len() > MAX_CASES {
        return Err(EngineError::at(
            pos,
            format!("condition expands to more than {MAX_CASES} cases"),
        ));
    }
    Ok(cases)
}

/// Both conditions: every pair of cases.
pub(crate) fn both(a: &Cases, b: &Cases, pos: Position) -> Result<Cases> {
    if a.len().saturating_mul(b.len()) > MAX_CASES {
        return bounded(vec![Vec::new(); MAX_CASES + 1], pos);
    }
    let longest = |cases: &Cases| cases.iter().map(Vec::len).max().unwrap_or(0);
    if longest(a) + longest(b) > MAX_TESTS {
        return Err(EngineError::at(
            pos,
            format!("condition expands to a case of more than {MAX_TESTS} tests"),
        ));
    }
    Ok(a.iter()
        .flat_map(|x| b.iter().map(move |y| x.iter().chain(y).cloned().collect()))
        .collect())
}
