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
/// `2π / 2^n` (the specification's fixed-point angles), a tie to the even multiple (types,
/// "Casting from float": `angle[1]` of π/2 is 0, `angle[2]` of 5π/4 is π).
fn angle(radians: f64, width: Option<u64>) -> f64 {
    let reduced = radians.rem_euclid(TAU);
    let value = match width {
        Some(bits @ 1..=64) => {
            let steps = 2f64.powi(bits as i32);
            (reduced / TAU * steps).round_ties_even() / steps * TAU
        }
        _ => reduced,
    };
    if value >= TAU { 0.0 } else { value }
}

/// A run parameter as the value of `input ty name;` (errors at `pos`, the input's name).
pub(super) fn input_value(ty: &ScalarType, name: &str, raw: f64, pos: Position) -> Result<Value> {
    parameter_value(ty.kind, ty.width, raw).map_err(|expected| {
        EngineError::at(
            pos,
            invalid_parameter(name, &ty.to_string(), raw, &expected),
        )
    })
}

/// The message for a parameter `name` of value `raw` that an input of type `ty` refuses,
/// `expected` saying what it takes (see [`parameter_value`]).
pub(crate) fn invalid_parameter(name: &str, ty: &str, raw: f64, expected: &str) -> String {
    format!("parameter '{name}' is {raw}; input '{name}' ({ty}) needs {expected}")
}

/// A run parameter `raw` as the value of an input of type `kind[width]`, or what such an
/// input takes: any finite number for `float`; for `angle[n]`, any finite number (radians,
/// reduced and rounded as [`angle`] does); for `int[n]` / `uint[n]`, an integer in the
/// width's range (−2^(n−1) … 2^(n−1)−1, 0 … 2^n−1; without a width, below 2^63 in
/// magnitude); `bool` and `bit` inputs are not supported.
pub(crate) fn parameter_value(
    kind: ScalarKind,
    width: Option<u64>,
    raw: f64,
) -> std::result::Result<Value, String> {
    if !raw.is_finite() {
        return Err("a finite number".into());
    }
    Ok(match kind {
        ScalarKind::Float => Value::Float(raw),
        ScalarKind::Angle => Value::Float(angle(raw, width)),
        ScalarKind::Int | ScalarKind::Uint => {
            let unsigned = kind == ScalarKind::Uint;
            // The widest range an i128 value of the IR holds and an f64 names exactly.
            let bits = width.map_or(64, |w| w.clamp(1, 64)) as i32;
            let (low, high) = if unsigned {
                (0.0, 2f64.powi(bits))
            } else {
                (-(2f64.powi(bits - 1)), 2f64.powi(bits - 1))
            };
            let unbounded = width.is_none();
            if raw.fract() != 0.0 || raw < low || raw >= high {
                return Err(match (unsigned, unbounded) {
                    (false, true) => "an integer".into(),
                    (true, true) => "a non-negative integer".into(),
                    (false, false) => format!("an integer from {low} to {}", high - 1.0),
                    (true, false) => format!("an integer from 0 to {}", high - 1.0),
                });
            }
            Value::Int(raw as i128)
        }
        ScalarKind::Bool | ScalarKind::Bit => {
            return Err(format!(
                "a numeric type ({} inputs are not supported)",
                kind.as_str()
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

    #[test]
    fn a_tie_rounds_to_the_even_multiple() {
        use std::f64::consts::PI;
        assert_eq!(angle(PI / 2.0, Some(1)), 0.0);
        assert_eq!(angle(3.0 * PI / 2.0, Some(1)), 0.0);
        assert_eq!(angle(5.0 * PI / 4.0, Some(2)), PI);
        assert_eq!(angle(PI / 4.0, Some(2)), 0.0);
        assert_eq!(angle(3.0 * PI / 4.0, Some(2)), PI);
    }

    #[test]
    fn integer_parameters_fit_their_type() {
        let int = |width, raw| parameter_value(ScalarKind::Int, width, raw);
        let uint = |width, raw| parameter_value(ScalarKind::Uint, width, raw);
        assert_eq!(int(None, -3.0), Ok(Value::Int(-3)));
        assert_eq!(int(None, 2.5), Err("an integer".into()));
        assert_eq!(uint(None, -1.0), Err("a non-negative integer".into()));
        assert_eq!(int(Some(8), 127.0), Ok(Value::Int(127)));
        assert_eq!(int(Some(8), -128.0), Ok(Value::Int(-128)));
        assert_eq!(
            int(Some(8), 128.0),
            Err("an integer from -128 to 127".into())
        );
        assert_eq!(uint(Some(8), 255.0), Ok(Value::Int(255)));
        assert_eq!(uint(Some(8), 256.0), Err("an integer from 0 to 255".into()));
        assert_eq!(int(None, 2f64.powi(63)), Err("an integer".into()));
        assert!(parameter_value(ScalarKind::Float, None, f64::NAN).is_err());
        assert!(parameter_value(ScalarKind::Bool, None, 1.0).is_err());
    }
}
