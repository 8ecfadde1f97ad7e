//! OpenQASM 2.0 front end: source text to the engine's IR.
//!
//! The pipeline is [`lexer`] → [`parser`] (syntax tree in [`ast`]) → [`lower`] (names,
//! arities, registers, broadcasting, gate expansion). `include "qelib1.inc";` is served from
//! the copy compiled into the binary ([`qelib1`]); no file is ever read from disk.
//!
//! # Why a parser of our own
//!
//! The `openqasm` crate (0.1.2, last released 2022) was the alternative. It rejects real
//! literals such as `1.0e-7` that Qiskit writes, evaluates parameters in `f32` (angles off
//! by ~1e-7, beyond the simulator's 1e-9 tolerance), reads include files from disk by
//! default, and flattens everything to `U`/`CX`, which would lose the native gates the
//! simulator's kernels are specialised for. Closing those gaps means patching an
//! unmaintained dependency. OpenQASM 2.0 is a small, frozen grammar: a hand-written lexer
//! and recursive-descent parser is a few hundred lines we fully control, gives exact
//! `line:col` positions with "expected …, found …" messages, and adds no dependency.

mod ast;
mod expr;
mod lexer;
mod lower;
mod parser;
mod qelib1;

use crate::error::Result;
use crate::ir::Program;
use crate::limits::Limits;

/// Parses, checks and expands `source` into a [`Program`] within `limits` (qubits and
/// expanded operations; the caller checks the source size).
pub(crate) fn parse(source: &str, limits: &Limits) -> Result<Program> {
    lower::lower(parse_statements(source)?, limits)
}

fn parse_statements(source: &str) -> Result<Vec<ast::Stmt>> {
    parser::parse_program(lexer::tokenize(source)?)
}
