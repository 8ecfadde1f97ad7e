//! The syntax tree the parser builds: statements as written, with positions, before any
//! name is resolved or any gate expanded.

use crate::error::Position;

/// A name and where it was written.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Ident {
    pub name: String,
    pub pos: Position,
}

/// A top-level statement.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Stmt {
    Include {
        file: String,
        pos: Position,
    },
    Register {
        quantum: bool,
        name: Ident,
        size: u64,
    },
    GateDecl(GateDecl),
    Opaque {
        name: Ident,
        params: Vec<Ident>,
        qubits: Vec<Ident>,
    },
    Op(QuantumOp),
    /// `if (creg == value) op`; `value` is little-endian 64-bit words, of any width.
    If {
        creg: Ident,
        value: Vec<u64>,
        op: QuantumOp,
    },
    Barrier {
        args: Vec<Arg>,
        pos: Position,
    },
}

/// `gate name(params) qubits { body }`.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct GateDecl {
    pub name: Ident,
    pub params: Vec<Ident>,
    pub qubits: Vec<Ident>,
    pub body: Vec<GateBodyOp>,
}

/// A statement inside a gate body: arguments are the gate's own qubit names.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum GateBodyOp {
    Call(Call<Ident>),
    Barrier { args: Vec<Ident>, pos: Position },
}

/// A gate application `name(params) args;` (`U` and `CX` included).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Call<A> {
    pub name: Ident,
    pub params: Vec<Expr>,
    pub args: Vec<A>,
}

/// A quantum operation at top level (the `qop` of the grammar).
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum QuantumOp {
    Call(Call<Arg>),
    Measure {
        qubit: Arg,
        clbit: Arg,
        pos: Position,
    },
    Reset {
        qubit: Arg,
        pos: Position,
    },
}

/// A register or one bit of it: `q` or `q[3]`.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Arg {
    pub reg: Ident,
    pub index: Option<u64>,
}

/// A parameter expression. `depth` is the height of the tree (a leaf is 1); the parser
/// bounds it so evaluating and dropping never recurse deeply. Only real nesting deepens the
/// tree (parentheses, signs, function calls): a flat chain such as `a + b - c + …` is one
/// [`ExprKind::Chain`] node however long it is.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Expr {
    pub kind: ExprKind,
    pub pos: Position,
    pub depth: u32,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum ExprKind {
    Number(f64),
    Pi,
    /// The enclosing gate's parameter with this index (resolved by the parser).
    Param(usize),
    Neg(Box<Expr>),
    /// `first op₁ e₁ op₂ e₂ …`: operators of one precedence level (at least one). `+ -` and
    /// `* /` apply from the left (`a - b + c` is `(a - b) + c`), `^` from the right (`a ^ b ^
    /// c` is `a ^ (b ^ c)`). The node's position is that of the operator applied last.
    Chain(Box<Expr>, Vec<(BinaryOp, Expr)>),
    Call(Function, Box<Expr>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BinaryOp {
    Add,
    Sub,
    Mul,
    Div,
    Pow,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Function {
    Sin,
    Cos,
    Tan,
    Exp,
    Ln,
    Sqrt,
}
