//! OpenQASM 3 front end: source text to the engine's IR.
//!
//! The pipeline is [`lexer`] → [`parser`] (syntax tree in [`ast`]) → [`lower`] (names,
//! scopes, registers, gate definitions, modifiers, loops, conditions), with classical
//! expressions in [`expr`], `if` conditions in [`cond`] and `stdgates.inc` and the modifier
//! algebra in [`gates`]. `include "stdgates.inc";` is served from memory; no file is ever
//! read from disk, and any other include is a validation error.
//!
//! # The language
//!
//! What `qiskit.qasm3.dumps` writes and more: `qubit`/`bit` declarations (sized or
//! scalar; a scalar `bit x;` is a one-bit register named `x`) and `qreg`/`creg`;
//! `c = measure q;`, `c[0] = measure q[0];`, `measure q -> c;`, `bit c = measure q;`;
//! `reset`; `barrier`; `U`, `gphase` and the gates of `stdgates.inc`; gate definitions
//! with parameters; the modifiers `ctrl @`, `ctrl(n) @`, `negctrl @`, `inv @` and
//! `pow(k) @` for integer `k`; `if`/`else` on bits and registers of any width (`==`, `!=`,
//! `<`, `<=`, `>`, `>=`, `!`, `&&`, `||`); `for` over ranges and sets (unrolled);
//! `const` declarations and expressions (`pi`, arithmetic, `sin`, `cos`, …); indexing by
//! integer, range and set; `input float[64] theta;` / `input angle[32] a;` (also `int`,
//! `uint`) bound to the run's parameters.
//!
//! Refused, as a validation error naming the construct at its line:col: `while`, `def`,
//! `extern`, `box`, `delay` and durations, `switch`, `break`/`continue`/`end`/`return`,
//! `let`, calibrations, `output`, classical variables besides bits (and assignments other
//! than measurements), arrays, complex numbers, casts, pragmas and
//! annotations, non-integer `pow`, a measurement without a target, and a measurement
//! inside an `if` into a bit its condition reads (the IR re-evaluates conditions per
//! operation, the language once per block).
//!
//! # Why a parser of our own
//!
//! Qiskit's Rust front end (`oq3_parser`, `oq3_syntax`, `oq3_semantics` 0.7.0) was the
//! candidate. Checked on this engine's language, it cannot parse `qreg`/`creg`,
//! `measure q -> c;`, `OPENQASM 3;`, `**` or `x = a + 1;`; its semantic analysis panics
//! (rather than reporting an error) on `!c`, `<`/`>`, `&&`/`||`, function calls such as
//! `sin(x)`, `qubit[n]` with a `const n`, strings and arrays; it reads every
//! `include "…"` other than `stdgates.inc` from disk (any path) and panics when the file is
//! missing; and its semantic graph carries no source positions, so errors found while
//! lowering could not say where. Working around that would mean a syntax pre-pass to
//! refuse what panics, a source rewrite for the missing syntax and a second walk for
//! positions, around a dependency the engine would still have to distrust. As with
//! OpenQASM 2 (`qasm`), a hand-written lexer and recursive-descent parser for the subset
//! the engine runs is smaller, exact in its positions and messages, and panic-free by
//! construction (its recursion is bounded).

mod ast;
mod cond;
mod expr;
mod gates;
mod lexer;
mod lower;
mod parser;
mod physical;

use crate::error::Result;
use crate::ir::Program;
use crate::limits::Limits;
use crate::{Input, Parameters};

/// Parses, checks and expands `source` into a [`Program`] within `limits`, binding its
/// `input` declarations to `parameters` (the caller checks the source size).
pub(crate) fn parse(source: &str, parameters: &Parameters, limits: &Limits) -> Result<Program> {
    let tokens = lexer::tokenize(source)?;
    let physical = physical::Physical::of(&tokens);
    let statements = parser::parse_program(tokens)?;
    lower::lower(statements, physical, parameters, limits)
}

/// Checks a run parameter `raw` against an input's type as [`Input::ty`] writes it
/// (`int`, `uint[8]`, `angle[32]`, …); `Err` says what the input takes instead, as the
/// lowering would (see `lower::parameter_value`).
pub(crate) fn check_input(ty: &str, raw: f64) -> std::result::Result<(), String> {
    let (word, width) = match ty.split_once('[') {
        Some((word, rest)) => (word, rest.strip_suffix(']').and_then(|w| w.parse().ok())),
        None => (ty, None),
    };
    let kind = parser::scalar_kind(word).ok_or_else(|| format!("a value of type {ty}"))?;
    lower::parameter_value(kind, width, raw).map(|_| ())
}

/// The message for a parameter refused by its input's type.
pub(crate) fn invalid_parameter(name: &str, ty: &str, raw: f64, expected: &str) -> String {
    lower::invalid_parameter(name, ty, raw, expected)
}

/// The `input` declarations of `source`, in order.
pub(crate) fn inputs(source: &str) -> Result<Vec<Input>> {
    let statements = parser::parse_program(lexer::tokenize(source)?)?;
    Ok(statements
        .into_iter()
        .filter_map(|stmt| match stmt.kind {
            ast::StmtKind::Input { ty, name } => Some(Input {
                name: name.name,
                ty: ty.to_string(),
            }),
            _ => None,
        })
        .collect())
}
