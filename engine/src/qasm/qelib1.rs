//! The standard gate library `qelib1.inc`, served from memory (the text is Qiskit's copy,
//! Apache-2.0), and the gates of it the IR represents natively.
//!
//! Native gates skip their definition bodies: `cx` becomes one [`GateKind::Cx`] rather
//! than a call chain, so the simulator can use a specialised kernel. Gates without a
//! compact exact form (`rccx`, `rc3x`) are expanded from their definitions like user
//! gates. The engine's tests check every native form against its definition.

use std::sync::OnceLock;

use super::ast::Stmt;
use super::parse_statements;
use crate::error::Result;
use crate::ir::GateKind;

/// The file name programs include.
pub(crate) const FILE_NAME: &str = "qelib1.inc";

/// The library's text.
pub(crate) const SOURCE: &str = include_str!("qelib1.inc");

/// The library's statements, parsed once per process and cloned for each program that
/// includes it (its tokens and syntax tree were 0.3 ms of every such program's preparation,
/// a 50-line GHZ-24 included: `run_qasm --passes`).
pub(crate) fn statements() -> Result<Vec<Stmt>> {
    static PARSED: OnceLock<Result<Vec<Stmt>>> = OnceLock::new();
    PARSED.get_or_init(|| parse_statements(SOURCE)).clone()
}

/// Builds a native gate from its evaluated parameters.
pub(crate) type NativeGate = fn(&[f64]) -> GateKind;

/// The native form of library gate `name`, if it has one. The declaration in
/// [`SOURCE`] fixes the parameter count, which callers check before building.
pub(crate) fn native(name: &str) -> Option<NativeGate> {
    use GateKind::*;
    Some(match name {
        "u3" | "u" => |p| U {
            theta: p[0],
            phi: p[1],
            lambda: p[2],
        },
        "u2" => |p| U {
            theta: std::f64::consts::FRAC_PI_2,
            phi: p[0],
            lambda: p[1],
        },
        "u1" | "p" => |p| Phase(p[0]),
        "cx" => |_| Cx,
        "id" | "u0" => |_| Id,
        "x" => |_| X,
        "y" => |_| Y,
        "z" => |_| Z,
        "h" => |_| H,
        "s" => |_| S,
        "sdg" => |_| Sdg,
        "t" => |_| T,
        "tdg" => |_| Tdg,
        "rx" => |p| Rx(p[0]),
        "ry" => |p| Ry(p[0]),
        "rz" => |p| Rz(p[0]),
        "sx" => |_| Sx,
        "sxdg" => |_| Sxdg,
        "cz" => |_| Cz,
        "cy" => |_| Cy,
        "swap" => |_| Swap,
        "ch" => |_| Ch,
        "ccx" => |_| Ccx,
        "cswap" => |_| Cswap,
        "crx" => |p| Crx(p[0]),
        "cry" => |p| Cry(p[0]),
        "crz" => |p| Crz(p[0]),
        "cu1" | "cp" => |p| CPhase(p[0]),
        "cu3" => |p| Cu {
            theta: p[0],
            phi: p[1],
            lambda: p[2],
            gamma: 0.0,
        },
        "csx" => |_| Csx,
        "cu" => |p| Cu {
            theta: p[0],
            phi: p[1],
            lambda: p[2],
            gamma: p[3],
        },
        "rxx" => |p| Rxx(p[0]),
        "rzz" => |p| Rzz(p[0]),
        "c3x" => |_| C3x,
        "c3sqrtx" => |_| C3sqrtx,
        "c4x" => |_| C4x,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::qasm::ast::Stmt;
    use crate::qasm::parse_statements;

    /// The gates of the library run from their definitions take no parameters, and it
    /// declares no opaque gate: expanding a library gate evaluates constants only, so
    /// nothing can fail at a position of `qelib1.inc` once the include has succeeded (the
    /// lowering relies on it: every error it reports later is in the program's source).
    #[test]
    fn library_bodies_take_no_parameters_and_call_no_opaque_gate() {
        let mut defined = Vec::new();
        for statement in parse_statements(SOURCE).unwrap() {
            match statement {
                Stmt::GateDecl(decl) if native(&decl.name.name).is_none() => {
                    assert!(decl.params.is_empty(), "{}", decl.name.name);
                    defined.push(decl.name.name);
                }
                Stmt::GateDecl(_) => {}
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(defined, ["rccx", "rc3x"]);
    }
}
