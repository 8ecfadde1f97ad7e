//! Classical values of declarations: `const` values as their declared types, run
//! parameters as `input` values (angles reduced and rounded to their width), and the
//! inclusive ranges of `for` loops and indices.

use std::f64::consts::TAU;

use crate::error::{EngineError, Position, Result};
use crate::qasm3::ast::{ScalarKind, ScalarType, Stmt, StmtKind};
use crate::qasm3::expr::Value;

/// `start, start + step, …` up to and including `end`.
pub(super) struct RangeIter {
    next: i128,
    step: i128,
    end: i128,
}

impl RangeIter {
    pub(super) fn new(start: i128, step: i128, end: i128) -> Self {
        Self {
            next: start,
            step,
            end,
        }
    }
}

impl Iterator for RangeIter {
    type Item = i128;

    fn next(&mut self) -> Option<i128> {
        let value = self.next;
        let inside = if self.step > 0 {
            value <= self.end
        } else {
            value >= self.end
        };
        if !inside {
            return None;
        }
        // Past the end, the iteration is over anyway.
        self.next = value.checked_add(self.step).unwrap_or(if self.step > 0 {
            i128::MAX
        } else {
            i128::MIN
        });
        if self.next == value {
            self.end = if self.step > 0 { value - 1 } else { value + 1 };
        }
        Some(value)
    }
}

/// Where a `const` declaration's value is (for conversion errors).
pub(super) fn value_pos(stmt: &Stmt) -> Position {
    match &stmt.kind {
        StmtKind::Const { value, .. } => value.pos,
        _ => stmt.pos,
    }
}

/// A `const` value as its declared type.
pub(super) fn convert(ty: &ScalarType, value: Value, pos: Position) -> Result<Value> {
    let mismatch = || EngineError::at(pos, format!("cannot use {value:?} as a value of type {ty}"));
    Ok(match (ty.kind, value) {
        (ScalarKind::Float, Value::Int(_) | Value::Float(_)) => Value::Float(value.to_f64(pos)?),
        (ScalarKind::Angle, Value::Int(_) | Value::Float(_)) => {
            Value::Float(angle(value.to_f64(pos)?, ty.width))
        }
        (ScalarKind::Int, Value::Int(v)) => Value::Int(v),
        (ScalarKind::Uint, Value::Int(v)) if v >= 0 => Value::Int(v),
        (ScalarKind::Bool, Value::Bool(v)) => Value::Bool(v),
        (ScalarKind::Bit, Value::Int(v @ (0 | 1))) => Value::Int(v),
        (ScalarKind::Bit, Value::Bool(v)) => Value::Int(i128::from(v)),
        _ => return Err(mismatch()),
    })
}

/// An angle's value: reduced into `[0, 2π)` and, for `angle[n]`, rounded to a multiple of
/// `2π / 2^n` (the specification's fixed-point angles).
fn angle(radians: f64, width: Option<u64>) -> f64 {
    let reduced = radians.rem_euclid(TAU);
    let value = match width {
        Some(bits @ 1..=64) => {
            let steps = 2f64.powi(bits as i32);
            (reduced / TAU * steps).round() / steps * TAU
        }
        _ => reduced,
    };
    if value >= TAU { 0.0 } else { value }
}

/// A run parameter as the value of `input ty name;`.
pub(super) fn input_value(ty: &ScalarType, name: &str, raw: f64, pos: Position) -> Result<Value> {
    let wrong = |expected: &str| {
        EngineError::at(
            pos,
            format!("parameter '{name}' is {raw}; input '{name}' ({ty}) needs {expected}"),
        )
    };
    if !raw.is_finite() {
        return Err(wrong("a finite number"));
    }
    Ok(match ty.kind {
        ScalarKind::Float => Value::Float(raw),
        ScalarKind::Angle => Value::Float(angle(raw, ty.width)),
        ScalarKind::Int | ScalarKind::Uint => {
            let unsigned = ty.kind == ScalarKind::Uint;
            if raw.fract() != 0.0 || raw.abs() >= 2f64.powi(63) || (unsigned && raw < 0.0) {
                return Err(wrong(if unsigned {
                    "a non-negative integer"
                } else {
                    "an integer"
                }));
            }
            Value::Int(raw as i128)
        }
        ScalarKind::Bool | ScalarKind::Bit => {
            return Err(EngineError::at(
                pos,
                format!("input '{name}' is of type {ty}; only numeric inputs are supported"),
            ));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_include_their_end_and_stop_at_the_extremes() {
        let collect = |a, s, b| RangeIter::new(a, s, b).collect::<Vec<_>>();
        assert_eq!(collect(0, 1, 3), vec![0, 1, 2, 3]);
        assert_eq!(collect(0, 2, 3), vec![0, 2]);
        assert_eq!(collect(3, -1, 1), vec![3, 2, 1]);
        assert_eq!(collect(2, 1, 1), Vec::<i128>::new());
        assert_eq!(
            collect(i128::MAX - 1, 1, i128::MAX),
            vec![i128::MAX - 1, i128::MAX]
        );
    }

    #[test]
    fn angles_reduce_and_round_to_their_width() {
        assert!((angle(7.0, None) - (7.0 - TAU)).abs() < 1e-15);
        assert!((angle(-0.5, None) - (TAU - 0.5)).abs() < 1e-15);
        // angle[2]: multiples of π/2.
        assert!((angle(1.0, Some(2)) - std::f64::consts::FRAC_PI_2).abs() < 1e-15);
        assert_eq!(angle(TAU - 1e-9, Some(8)), 0.0);
    }
}
