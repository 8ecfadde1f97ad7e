//! The syntax tree the parser builds: the statements the engine runs, as written, with
//! positions, before any name is resolved, loop unrolled or gate expanded. Constructs the
//! engine does not run never get here: the parser refuses them where they are written.

use crate::error::Position;

/// A name and where it was written.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Ident {
    pub name: String,
    pub pos: Position,
}

/// A statement and where it starts.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Stmt {
    pub kind: StmtKind,
    pub pos: Position,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum StmtKind {
    /// `include "file";`
    Include(String),
    /// `qubit q;`, `qubit[n] q;`, `qreg q[n];` (no size: one qubit).
    QubitDecl { name: Ident, size: Option<Expr> },
    /// `bit c;`, `bit[n] c;`, `creg c[n];`, optionally initialised `= measure q`.
    BitDecl {
        name: Ident,
        size: Option<Expr>,
        init: Option<Box<Operand>>,
    },
    /// `const TYPE name = value;`
    Const {
        ty: ScalarType,
        name: Ident,
        value: Expr,
    },
    /// `input TYPE name;`
    Input { ty: ScalarType, name: Ident },
    /// `gate name(params) qubits { body }`
    GateDef(GateDef),
    /// A gate call, `gphase` included, with its modifiers.
    Call(GateCall),
    /// `target = measure source;`, `measure source -> target;` or `measure source;`.
    Measure {
        source: Operand,
        target: Option<Box<Operand>>,
    },
    /// `reset q;`
    Reset(Operand),
    /// `barrier a, b;` (no operands: every qubit).
    Barrier(Vec<Operand>),
    /// `if (condition) { … } else { … }` (an absent `else` is an empty one).
    If {
        condition: Expr,
        then_body: Vec<Stmt>,
        else_body: Vec<Stmt>,
    },
    /// `for TYPE var in iterable { … }`
    For {
        var: Ident,
        iterable: Iterable,
        body: Vec<Stmt>,
    },
    /// `{ … }`: a scope of its own.
    Block(Vec<Stmt>),
}

/// A classical scalar type as written: `float[64]`, `angle`, `int[32]`, `bool`, …
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct ScalarType {
    pub kind: ScalarKind,
    /// The designator (`[64]`), if written.
    pub width: Option<u64>,
    pub pos: Position,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ScalarKind {
    Float,
    Angle,
    Int,
    Uint,
    Bool,
    Bit,
}

impl ScalarKind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Float => "float",
            Self::Angle => "angle",
            Self::Int => "int",
            Self::Uint => "uint",
            Self::Bool => "bool",
            Self::Bit => "bit",
        }
    }
}

impl std::fmt::Display for ScalarType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.width {
            Some(width) => write!(f, "{}[{width}]", self.kind.as_str()),
            None => f.write_str(self.kind.as_str()),
        }
    }
}

/// `gate name(params) qubits { body }`.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct GateDef {
    pub name: Ident,
    pub params: Vec<Ident>,
    pub qubits: Vec<Ident>,
    pub body: Vec<Stmt>,
}

/// `modifiers name(params) args;` — `name` is `gphase` for a global phase.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct GateCall {
    pub modifiers: Vec<Modifier>,
    pub name: Ident,
    pub params: Vec<Expr>,
    pub args: Vec<Operand>,
}

/// One `… @` of a gate call.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Modifier {
    pub kind: ModifierKind,
    pub pos: Position,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum ModifierKind {
    /// `ctrl @` / `ctrl(n) @`
    Ctrl(Option<Expr>),
    /// `negctrl @` / `negctrl(n) @`
    NegCtrl(Option<Expr>),
    /// `inv @`
    Inv,
    /// `pow(k) @`
    Pow(Expr),
}

/// A quantum or classical operand: `q`, `q[i]`, `q[a:b]`, `q[{i, j}]`.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Operand {
    pub name: Ident,
    pub index: Option<Index>,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Index {
    Single(Expr),
    Range(Box<Range>),
    Set(Vec<Expr>),
}

/// `[start : step : end]` (inclusive end, as in the specification); omitted bounds are
/// the register's first and last index (last and first for a negative step), the
/// omitted step 1; a negative bound counts from the register's end, as an index does.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Range {
    pub start: Option<Expr>,
    pub step: Option<Expr>,
    pub end: Option<Expr>,
    pub pos: Position,
}

/// What a `for` loop runs over.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Iterable {
    Range(Box<Range>),
    Set(Vec<Expr>),
}

/// An expression node; `depth` bounds recursion over it. Only real nesting deepens the tree
/// (parentheses, unary operators, function calls, indices): a flat chain such as
/// `a + b - c + …` is one [`ExprKind::Chain`] node however long it is.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Expr {
    pub kind: ExprKind,
    pub pos: Position,
    pub depth: u32,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum ExprKind {
    /// An integer literal up to 2^64 - 1.
    Int(u64),
    /// A larger integer literal, little-endian 64-bit words.
    WideInt(Vec<u64>),
    Float(f64),
    Bool(bool),
    /// `"0101"`: most significant bit first.
    BitString(String),
    Name(String),
    /// `name[index]`: one bit of a register.
    Indexed(Ident, Box<Expr>),
    Unary(UnaryOp, Box<Expr>),
    /// `first op₁ e₁ op₂ e₂ …`: operators of one precedence level (at least one link),
    /// applied from the left (`a - b + c` is `(a - b) + c`), except `**`, applied from the
    /// right (`a ** b ** c` is `a ** (b ** c)`). The node's position is that of the
    /// operator applied last.
    Chain(Box<Expr>, Vec<Link>),
    /// A built-in function: `sin(x)`, `pow(a, b)`, …
    Call(Ident, Vec<Expr>),
}

/// One `op operand` of a [`ExprKind::Chain`], with the operator's position (where an
/// error applying it is reported).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Link {
    pub op: BinaryOp,
    pub pos: Position,
    pub operand: Expr,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum UnaryOp {
    Neg,
    Not,
    BitNot,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BinaryOp {
    Add,
    Sub,
    Mul,
    Div,
    Rem,
    Pow,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    And,
    Or,
    BitAnd,
    BitOr,
    BitXor,
    Shl,
    Shr,
}

impl BinaryOp {
    pub(crate) fn symbol(self) -> &'static str {
        match self {
            Self::Add => "+",
            Self::Sub => "-",
            Self::Mul => "*",
            Self::Div => "/",
            Self::Rem => "%",
            Self::Pow => "**",
            Self::Eq => "==",
            Self::Ne => "!=",
            Self::Lt => "<",
            Self::Le => "<=",
            Self::Gt => ">",
            Self::Ge => ">=",
            Self::And => "&&",
            Self::Or => "||",
            Self::BitAnd => "&",
            Self::BitOr => "|",
            Self::BitXor => "^",
            Self::Shl => "<<",
            Self::Shr => ">>",
        }
    }
}
