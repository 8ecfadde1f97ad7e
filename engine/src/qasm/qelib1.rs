//! The standard gate library `qelib1.inc`, served from memory (the text is Qiskit's copy,
//! Apache-2.0), and the gates of it the IR represents natively.
//!
//! Native gates skip their definition bodies: `cx` becomes one [`GateKind::Cx`] rather
//! than a call chain, so the simulator can use a specialised kernel. Gates without a
//! compact exact form (`rccx`, `rc3x`) are expanded from their definitions like user
//! gates. The engine's tests check every native form against its definition.

use std::sync::OnceLock;

use super::ast::{GateDecl, Stmt};
use super::parse_statements;
use crate::error::Position;
use crate::ir::GateKind;

/// The file name programs include.
pub(crate) const FILE_NAME: &str = "qelib1.inc";

/// The library's text.
pub(crate) const SOURCE: &str = include_str!("qelib1.inc");

/// A gate the library declares: its name, parameter and qubit counts, and where its name
/// stands in [`SOURCE`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Declaration {
    pub name: &'static str,
    pub params: usize,
    pub qubits: usize,
    pub at: Position,
}

impl Declaration {
    const fn new(name: &'static str, params: usize, qubits: usize, line: u32, col: u32) -> Self {
        Self {
            name,
            params,
            qubits,
            at: Position { line, col },
        }
    }
}

/// Every gate of [`SOURCE`], in its order: what an include declares, without reading the
/// text (tokenizing and parsing it was 0.3 ms of a fresh process's preparation of any
/// program that included it, a 50-line GHZ-24's included: `run_qasm --passes`). Only the
/// gates without a native form ([`native`]) are ever read from the text, when a program
/// uses one ([`definition`]). `declarations_are_the_sources` checks the table against the
/// parsed text.
pub(crate) const DECLARATIONS: [Declaration; 42] = [
    Declaration::new("u3", 3, 1, 7, 6),
    Declaration::new("u2", 2, 1, 9, 6),
    Declaration::new("u1", 1, 1, 11, 6),
    Declaration::new("cx", 0, 2, 13, 6),
    Declaration::new("id", 0, 1, 15, 6),
    Declaration::new("u0", 1, 1, 17, 6),
    Declaration::new("u", 3, 1, 22, 6),
    Declaration::new("p", 1, 1, 24, 6),
    Declaration::new("x", 0, 1, 26, 6),
    Declaration::new("y", 0, 1, 28, 6),
    Declaration::new("z", 0, 1, 30, 6),
    Declaration::new("h", 0, 1, 32, 6),
    Declaration::new("s", 0, 1, 34, 6),
    Declaration::new("sdg", 0, 1, 36, 6),
    Declaration::new("t", 0, 1, 38, 6),
    Declaration::new("tdg", 0, 1, 40, 6),
    Declaration::new("rx", 1, 1, 44, 6),
    Declaration::new("ry", 1, 1, 46, 6),
    Declaration::new("rz", 1, 1, 48, 6),
    Declaration::new("sx", 0, 1, 53, 6),
    Declaration::new("sxdg", 0, 1, 55, 6),
    Declaration::new("cz", 0, 2, 57, 6),
    Declaration::new("cy", 0, 2, 59, 6),
    Declaration::new("swap", 0, 2, 61, 6),
    Declaration::new("ch", 0, 2, 63, 6),
    Declaration::new("ccx", 0, 3, 71, 6),
    Declaration::new("cswap", 0, 3, 82, 6),
    Declaration::new("crx", 1, 2, 89, 6),
    Declaration::new("cry", 1, 2, 98, 6),
    Declaration::new("crz", 1, 2, 106, 6),
    Declaration::new("cu1", 1, 2, 114, 6),
    Declaration::new("cp", 1, 2, 122, 6),
    Declaration::new("cu3", 3, 2, 131, 6),
    Declaration::new("csx", 0, 2, 142, 6),
    Declaration::new("cu", 4, 2, 144, 6),
    Declaration::new("rxx", 1, 2, 154, 6),
    Declaration::new("rzz", 1, 2, 165, 6),
    Declaration::new("rccx", 0, 3, 172, 6),
    Declaration::new("rc3x", 0, 4, 185, 6),
    Declaration::new("c3x", 0, 4, 207, 6),
    Declaration::new("c3sqrtx", 0, 4, 242, 6),
    Declaration::new("c4x", 0, 5, 259, 6),
];

/// The declaration of library gate `name` as parsed from [`SOURCE`] (parsed once per
/// process, on first need).
pub(crate) fn definition(name: &str) -> Option<GateDecl> {
    static PARSED: OnceLock<Vec<Stmt>> = OnceLock::new();
    PARSED
        .get_or_init(|| parse_statements(SOURCE).expect("the library parses"))
        .iter()
        .find_map(|statement| match statement {
            Stmt::GateDecl(decl) if decl.name.name == name => Some(decl.clone()),
            _ => None,
        })
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

    /// The gates of the library run from their definitions take no parameters, and it
    /// declares no opaque gate: expanding a library gate evaluates constants only, so
    /// nothing can fail at a position of `qelib1.inc` once the include has succeeded (the
    /// lowering relies on it: every error it reports later is in the program's source).
    #[test]
    fn declarations_are_the_sources() {
        let parsed: Vec<Declaration> = parse_statements(SOURCE)
            .unwrap()
            .into_iter()
            .map(|statement| match statement {
                Stmt::GateDecl(decl) => Declaration {
                    name: DECLARATIONS
                        .iter()
                        .find(|d| d.name == decl.name.name)
                        .map_or("(not in the table)", |d| d.name),
                    params: decl.params.len(),
                    qubits: decl.qubits.len(),
                    at: decl.name.pos,
                },
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(parsed, DECLARATIONS);
        for declaration in DECLARATIONS {
            let definition = definition(declaration.name).unwrap();
            assert_eq!(definition.name.pos, declaration.at);
        }
        assert_eq!(definition("U"), None);
    }

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
