//! Recursive-descent parser: tokens to [`Stmt`]s.
//!
//! The grammar is the OpenQASM 3 specification's, restricted to what the engine runs (see
//! the module doc of `qasm3`). A construct outside it is refused where it starts, by name
//! ("'while' loops are not supported …"), never skipped. Expressions follow the
//! specification's precedence, lowest first: `||`, `&&`, `|`, `^`, `&`, `==` `!=`,
//! `<` `<=` `>` `>=`, `<<` `>>`, `+` `-`, `*` `/` `%`, unary `-` `!` `~`, `**` (right
//! associative, so `-2**2` is `-(2**2)`). Expression and block nesting are bounded so
//! that no input can exhaust the stack.

use super::ast::{
    BinaryOp, Expr, ExprKind, GateCall, GateDef, Ident, Index, Iterable, Link, Modifier,
    ModifierKind, Operand, Range, ScalarKind, ScalarType, Stmt, StmtKind, UnaryOp,
};
use super::lexer::{Token, TokenKind};
use crate::error::{EngineError, Position, Result};

/// Deepest expression tree (and parenthesis nesting) accepted.
pub(crate) const MAX_EXPR_DEPTH: u32 = 128;

/// Deepest nesting of blocks (`if`, `for`, `{ }`, gate bodies).
const MAX_BLOCK_DEPTH: u32 = 64;

/// Parses a whole program.
pub(crate) fn parse_program(tokens: Vec<Token>) -> Result<Vec<Stmt>> {
    let mut parser = Parser {
        tokens,
        index: 0,
        blocks: 0,
        nesting: 0,
    };
    parser.header()?;
    let mut statements = Vec::new();
    while parser.peek() != &TokenKind::Eof {
        statements.push(parser.statement()?);
    }
    Ok(statements)
}

/// The keywords that start a statement other than an assignment or a gate call.
const STATEMENT_WORDS: [&str; 20] = [
    "OPENQASM", "include", "qubit", "qreg", "creg", "bit", "const", "input", "gate", "measure",
    "reset", "barrier", "if", "for", "else", "gphase", "ctrl", "negctrl", "inv", "pow",
];

/// Constructs the engine refuses, by the word that starts them.
fn unsupported(word: &str) -> Option<&'static str> {
    Some(match word {
        "while" => "'while' loops are not supported (only 'for' loops over ranges and sets)",
        "def" => "subroutines ('def') are not supported",
        "extern" => "'extern' declarations are not supported",
        "box" => "'box' is not supported",
        "delay" => "'delay' is not supported",
        "switch" => "'switch' statements are not supported",
        "break" | "continue" => "'break' and 'continue' are not supported",
        "end" => "'end' is not supported",
        "return" => "'return' is not supported",
        "let" => "aliases ('let') are not supported",
        "cal" | "defcal" | "defcalgrammar" => {
            "pulse-level calibrations ('cal', 'defcal', 'defcalgrammar') are not supported"
        }
        "output" => "'output' declarations are not supported",
        "opaque" => "opaque gates are not supported",
        "duration" | "stretch" | "durationof" => {
            "durations ('duration', 'stretch', 'durationof') are not supported"
        }
        "complex" => "complex numbers are not supported",
        "array" => "arrays are not supported",
        "readonly" | "mutable" => "array references are not supported",
        "int" | "uint" | "float" | "angle" | "bool" => {
            "classical variables are not supported (use 'const', 'input' or 'bit')"
        }
        _ => return None,
    })
}

pub(super) fn scalar_kind(word: &str) -> Option<ScalarKind> {
    Some(match word {
        "float" => ScalarKind::Float,
        "angle" => ScalarKind::Angle,
        "int" => ScalarKind::Int,
        "uint" => ScalarKind::Uint,
        "bool" => ScalarKind::Bool,
        "bit" => ScalarKind::Bit,
        _ => return None,
    })
}

struct Parser {
    tokens: Vec<Token>,
    index: usize,
    /// Blocks open at the cursor.
    blocks: u32,
    /// Expression rules active at the cursor (parentheses, arguments, unary chains).
    nesting: u32,
}

impl Parser {
    fn peek(&self) -> &TokenKind {
        &self.tokens[self.index].kind
    }

    fn peek_at(&self, ahead: usize) -> &TokenKind {
        let last = self.tokens.len() - 1;
        &self.tokens[(self.index + ahead).min(last)].kind
    }

    fn pos(&self) -> Position {
        self.tokens[self.index].pos
    }

    /// Moves past the token at the cursor (never past the end) and returns its position.
    fn advance(&mut self) -> Position {
        let pos = self.tokens[self.index].pos;
        if self.index + 1 < self.tokens.len() {
            self.index += 1;
        }
        pos
    }

    /// Moves past the token at the cursor and returns it; nothing looks behind the cursor,
    /// so the token is moved out rather than copied (the end of input stays in place).
    fn take(&mut self) -> TokenKind {
        let kind = if self.index + 1 < self.tokens.len() {
            std::mem::replace(&mut self.tokens[self.index].kind, TokenKind::Eof)
        } else {
            TokenKind::Eof
        };
        self.advance();
        kind
    }

    fn is_symbol(&self, symbol: &str) -> bool {
        matches!(self.peek(), TokenKind::Symbol(s) if *s == symbol)
    }

    fn is_word(&self, word: &str) -> bool {
        matches!(self.peek(), TokenKind::Word(w) if w == word)
    }

    fn eat_symbol(&mut self, symbol: &str) -> bool {
        let found = self.is_symbol(symbol);
        if found {
            self.advance();
        }
        found
    }

    fn expected(&self, what: &str) -> EngineError {
        EngineError::at(
            self.pos(),
            format!("expected {what}, found {}", self.peek().describe()),
        )
    }

    fn expect_symbol(&mut self, symbol: &str) -> Result<()> {
        if self.eat_symbol(symbol) {
            Ok(())
        } else {
            Err(self.expected(&format!("'{symbol}'")))
        }
    }

    fn ident(&mut self, what: &str) -> Result<Ident> {
        let pos = self.pos();
        match &mut self.tokens[self.index].kind {
            TokenKind::Word(word) => {
                // Moved out, not copied: nothing looks behind the cursor.
                let name = std::mem::take(word);
                self.advance();
                Ok(Ident { name, pos })
            }
            _ => Err(self.expected(what)),
        }
    }

    /// `OPENQASM 3.x;` (optional; a version other than 3 is an error).
    fn header(&mut self) -> Result<()> {
        if !self.is_word("OPENQASM") {
            return Ok(());
        }
        self.advance();
        let pos = self.pos();
        let major = match self.take() {
            TokenKind::Int(value) => value as f64,
            TokenKind::Float(value) => value.trunc(),
            other => {
                return Err(EngineError::at(
                    pos,
                    format!("expected a version number, found {}", other.describe()),
                ));
            }
        };
        if major != 3.0 {
            return Err(EngineError::at(
                pos,
                format!(
                    "this is an OpenQASM {major} program; the format 'openqasm3' takes \
                     OpenQASM 3 (OPENQASM 3.0;)"
                ),
            ));
        }
        self.expect_symbol(";")
    }

    fn statement(&mut self) -> Result<Stmt> {
        let pos = self.pos();
        let kind = match self.peek() {
            TokenKind::Word(word) => {
                // The keyword that starts the statement, if any (not a copy of the word).
                let lead = match STATEMENT_WORDS.iter().find(|keyword| *keyword == word) {
                    Some(keyword) => keyword,
                    None => match unsupported(word) {
                        Some(message) => return Err(EngineError::at(pos, message)),
                        None => "",
                    },
                };
                self.word_statement(lead, pos)?
            }
            TokenKind::Symbol("{") => StmtKind::Block(self.block()?),
            TokenKind::Symbol("@") => {
                return Err(EngineError::at(pos, "annotations are not supported"));
            }
            TokenKind::Pragma => return Err(EngineError::at(pos, "pragmas are not supported")),
            _ => return Err(self.expected("a statement")),
        };
        Ok(Stmt { kind, pos })
    }

    /// A statement starting with a word: `lead` is the keyword it starts with, or empty for
    /// an assignment or a gate call.
    fn word_statement(&mut self, lead: &str, pos: Position) -> Result<StmtKind> {
        Ok(match lead {
            "OPENQASM" => {
                return Err(EngineError::at(
                    pos,
                    "the version header must be the first statement",
                ));
            }
            "include" => {
                self.advance();
                let file = match self.take() {
                    TokenKind::Str(file) => file,
                    other => {
                        return Err(EngineError::at(
                            pos,
                            format!("expected a file name in quotes, found {}", other.describe()),
                        ));
                    }
                };
                self.expect_symbol(";")?;
                StmtKind::Include(file)
            }
            "qubit" => {
                self.advance();
                let size = self.designator()?;
                let name = self.ident("a register name")?;
                self.expect_symbol(";")?;
                StmtKind::QubitDecl { name, size }
            }
            "qreg" | "creg" => {
                self.advance();
                let name = self.ident("a register name")?;
                let size = self.designator()?;
                self.expect_symbol(";")?;
                if lead == "qreg" {
                    StmtKind::QubitDecl { name, size }
                } else {
                    StmtKind::BitDecl {
                        name,
                        size,
                        init: None,
                    }
                }
            }
            "bit" => {
                self.advance();
                let size = self.designator()?;
                let name = self.ident("a register name")?;
                let init = if self.eat_symbol("=") {
                    if !self.is_word("measure") {
                        return Err(EngineError::at(
                            self.pos(),
                            "a bit may only be initialised with a measurement (bit c = measure q;)",
                        ));
                    }
                    self.advance();
                    Some(Box::new(self.operand()?))
                } else {
                    None
                };
                self.expect_symbol(";")?;
                StmtKind::BitDecl { name, size, init }
            }
            "const" => {
                self.advance();
                let ty = self.scalar_type()?;
                let name = self.ident("a name")?;
                self.expect_symbol("=")?;
                let value = self.expr()?;
                self.expect_symbol(";")?;
                StmtKind::Const { ty, name, value }
            }
            "input" => {
                self.advance();
                let ty = self.scalar_type()?;
                let name = self.ident("a parameter name")?;
                self.expect_symbol(";")?;
                StmtKind::Input { ty, name }
            }
            "gate" => {
                self.advance();
                StmtKind::GateDef(self.gate_def()?)
            }
            "measure" => {
                self.advance();
                let source = self.operand()?;
                let target = if self.eat_symbol("->") {
                    Some(Box::new(self.operand()?))
                } else {
                    None
                };
                self.expect_symbol(";")?;
                StmtKind::Measure { source, target }
            }
            "reset" => {
                self.advance();
                let operand = self.operand()?;
                self.expect_symbol(";")?;
                StmtKind::Reset(operand)
            }
            "barrier" => {
                self.advance();
                let operands = if self.is_symbol(";") {
                    Vec::new()
                } else {
                    self.operands()?
                };
                self.expect_symbol(";")?;
                StmtKind::Barrier(operands)
            }
            "if" => {
                self.advance();
                self.expect_symbol("(")?;
                let condition = self.expr()?;
                self.expect_symbol(")")?;
                let then_body = self.body()?;
                let else_body = if self.is_word("else") {
                    self.advance();
                    self.body()?
                } else {
                    Vec::new()
                };
                StmtKind::If {
                    condition,
                    then_body,
                    else_body,
                }
            }
            "for" => {
                self.advance();
                // The loop variable's type; the older form without one is accepted too.
                let typed = match self.peek_at(1) {
                    TokenKind::Word(next) => next != "in",
                    next => next == &TokenKind::Symbol("["),
                };
                if typed {
                    self.scalar_type()?;
                }
                let var = self.ident("a loop variable")?;
                if !self.is_word("in") {
                    return Err(self.expected("'in'"));
                }
                self.advance();
                let iterable = match self.peek() {
                    TokenKind::Symbol("[") => {
                        let start = self.pos();
                        self.advance();
                        let range = self.range(None, start)?;
                        self.expect_symbol("]")?;
                        Iterable::Range(Box::new(range))
                    }
                    TokenKind::Symbol("{") => Iterable::Set(self.set()?),
                    _ => {
                        return Err(EngineError::at(
                            self.pos(),
                            format!(
                                "a 'for' loop must run over a range [a:b] or a set {{a, b}}, \
                                 found {}",
                                self.peek().describe()
                            ),
                        ));
                    }
                };
                let body = self.body()?;
                StmtKind::For {
                    var,
                    iterable,
                    body,
                }
            }
            "else" => return Err(EngineError::at(pos, "'else' without an 'if'")),
            "gphase" | "ctrl" | "negctrl" | "inv" | "pow" => StmtKind::Call(self.gate_call()?),
            _ => {
                // `name = measure …;`, `name[i] = …;` or a gate call.
                let assignment = match self.peek_at(1) {
                    TokenKind::Symbol("[") => self.indexed_assignment_follows(),
                    TokenKind::Symbol(s) => s.ends_with('=') && *s != "==" && *s != "!=",
                    _ => false,
                };
                if assignment {
                    self.assignment()?
                } else {
                    StmtKind::Call(self.gate_call()?)
                }
            }
        })
    }

    /// Whether `name[…]` at the cursor is followed by an assignment operator.
    fn indexed_assignment_follows(&self) -> bool {
        let mut depth = 0usize;
        let mut i = self.index + 1;
        while i < self.tokens.len() {
            match &self.tokens[i].kind {
                TokenKind::Symbol("[") => depth += 1,
                TokenKind::Symbol("]") => {
                    depth -= 1;
                    if depth == 0 {
                        return matches!(
                            &self.tokens.get(i + 1).map(|t| &t.kind),
                            Some(TokenKind::Symbol(s)) if s.ends_with('=') && *s != "==" && *s != "!="
                        );
                    }
                }
                TokenKind::Symbol(";") | TokenKind::Eof => return false,
                _ => {}
            }
            i += 1;
        }
        false
    }

    /// `target = measure source;` (other assignments are refused).
    fn assignment(&mut self) -> Result<StmtKind> {
        let target = self.operand()?;
        let pos = self.pos();
        if !self.eat_symbol("=") {
            return Err(EngineError::at(
                pos,
                "compound assignments are not supported (classical variables are not)",
            ));
        }
        if !self.is_word("measure") {
            return Err(EngineError::at(
                self.pos(),
                "classical assignments are not supported (only 'c = measure q;')",
            ));
        }
        self.advance();
        let source = self.operand()?;
        self.expect_symbol(";")?;
        Ok(StmtKind::Measure {
            source,
            target: Some(Box::new(target)),
        })
    }

    /// `{ statements }` or one statement (the body of an `if`, `else` or `for`).
    fn body(&mut self) -> Result<Vec<Stmt>> {
        if self.is_symbol("{") {
            self.block()
        } else {
            self.blocks += 1;
            if self.blocks > MAX_BLOCK_DEPTH {
                return Err(EngineError::at(
                    self.pos(),
                    format!("blocks nest more than {MAX_BLOCK_DEPTH} deep"),
                ));
            }
            let statement = self.statement()?;
            self.blocks -= 1;
            Ok(vec![statement])
        }
    }

    fn block(&mut self) -> Result<Vec<Stmt>> {
        let open = self.pos();
        self.expect_symbol("{")?;
        self.blocks += 1;
        if self.blocks > MAX_BLOCK_DEPTH {
            return Err(EngineError::at(
                open,
                format!("blocks nest more than {MAX_BLOCK_DEPTH} deep"),
            ));
        }
        let mut statements = Vec::new();
        while !self.eat_symbol("}") {
            if self.peek() == &TokenKind::Eof {
                return Err(EngineError::at(
                    open,
                    "this '{' is never closed: expected '}'",
                ));
            }
            statements.push(self.statement()?);
        }
        self.blocks -= 1;
        Ok(statements)
    }

    /// `[n]` after `qubit`, `bit`, `qreg`, `creg` (absent: `None`).
    fn designator(&mut self) -> Result<Option<Expr>> {
        if !self.eat_symbol("[") {
            return Ok(None);
        }
        let size = self.expr()?;
        self.expect_symbol("]")?;
        Ok(Some(size))
    }

    fn scalar_type(&mut self) -> Result<ScalarType> {
        let pos = self.pos();
        let kind = match self.peek() {
            TokenKind::Word(word) => match scalar_kind(word) {
                Some(kind) => kind,
                None => {
                    if let Some(message) = unsupported(word).filter(|_| word != "output") {
                        return Err(EngineError::at(pos, message));
                    }
                    return Err(self.expected("a type (float, angle, int, uint, bool or bit)"));
                }
            },
            _ => return Err(self.expected("a type (float, angle, int, uint, bool or bit)")),
        };
        self.advance();
        let width = if self.eat_symbol("[") {
            let pos = self.pos();
            let width = match self.take() {
                TokenKind::Int(width) => width,
                other => {
                    return Err(EngineError::at(
                        pos,
                        format!("expected a type width, found {}", other.describe()),
                    ));
                }
            };
            self.expect_symbol("]")?;
            Some(width)
        } else {
            None
        };
        Ok(ScalarType { kind, width, pos })
    }

    fn gate_def(&mut self) -> Result<GateDef> {
        let name = self.ident("a gate name")?;
        let params = if self.eat_symbol("(") {
            self.idents(")", "a parameter name")?
        } else {
            Vec::new()
        };
        let mut qubits = vec![self.ident("a qubit argument")?];
        while self.eat_symbol(",") {
            qubits.push(self.ident("a qubit argument")?);
        }
        let body = self.block()?;
        Ok(GateDef {
            name,
            params,
            qubits,
            body,
        })
    }

    /// Names separated by commas up to `close` (consumed).
    fn idents(&mut self, close: &str, what: &str) -> Result<Vec<Ident>> {
        let mut names = Vec::new();
        if self.eat_symbol(close) {
            return Ok(names);
        }
        loop {
            names.push(self.ident(what)?);
            if self.eat_symbol(close) {
                return Ok(names);
            }
            self.expect_symbol(",")?;
        }
    }

    fn gate_call(&mut self) -> Result<GateCall> {
        let mut modifiers = Vec::new();
        loop {
            let pos = self.pos();
            let kind = if self.is_word("inv") && matches!(self.peek_at(1), TokenKind::Symbol("@")) {
                self.advance();
                ModifierKind::Inv
            } else if self.is_word("pow") && matches!(self.peek_at(1), TokenKind::Symbol("(")) {
                self.advance();
                self.advance();
                let exponent = self.expr()?;
                self.expect_symbol(")")?;
                ModifierKind::Pow(exponent)
            } else if (self.is_word("ctrl") || self.is_word("negctrl"))
                && matches!(self.peek_at(1), TokenKind::Symbol("@" | "("))
            {
                let negative = self.is_word("negctrl");
                self.advance();
                let count = if self.eat_symbol("(") {
                    let count = self.expr()?;
                    self.expect_symbol(")")?;
                    Some(count)
                } else {
                    None
                };
                if negative {
                    ModifierKind::NegCtrl(count)
                } else {
                    ModifierKind::Ctrl(count)
                }
            } else {
                break;
            };
            self.expect_symbol("@")?;
            modifiers.push(Modifier { kind, pos });
        }
        let name = self.ident("a gate name")?;
        let params = if self.eat_symbol("(") {
            self.exprs(")")?
        } else {
            Vec::new()
        };
        let args = if name.name == "gphase" && self.is_symbol(";") {
            Vec::new()
        } else {
            self.operands()?
        };
        self.expect_symbol(";")?;
        Ok(GateCall {
            modifiers,
            name,
            params,
            args,
        })
    }

    fn operands(&mut self) -> Result<Vec<Operand>> {
        let mut operands = vec![self.operand()?];
        while self.eat_symbol(",") {
            operands.push(self.operand()?);
        }
        Ok(operands)
    }

    fn operand(&mut self) -> Result<Operand> {
        let name = match *self.peek() {
            // `$3` is named as written (without leading zeros); no declared name starts
            // with `$`, so the lowering tells it apart by its name.
            TokenKind::PhysicalQubit(index) => Ident {
                name: format!("${index}"),
                pos: self.advance(),
            },
            _ => self.ident("a qubit or bit operand")?,
        };
        let index = if self.is_symbol("[") {
            let start = self.pos();
            self.advance();
            let index = if self.is_symbol("{") {
                Index::Set(self.set()?)
            } else if self.is_symbol(":") {
                Index::Range(Box::new(self.range(None, start)?))
            } else {
                let first = self.expr()?;
                if self.is_symbol(":") {
                    Index::Range(Box::new(self.range(Some(first), start)?))
                } else {
                    Index::Single(first)
                }
            };
            let inner_comma = self.is_symbol(",");
            if !inner_comma {
                self.expect_symbol("]")?;
            }
            if inner_comma || self.is_symbol("[") {
                return Err(EngineError::at(
                    self.pos(),
                    "multi-dimensional indexing is not supported",
                ));
            }
            Some(index)
        } else {
            None
        };
        Ok(Operand { name, index })
    }

    /// The rest of a range after its optional first bound: `[: step] : end`, without the
    /// brackets.
    fn range(&mut self, start: Option<Expr>, pos: Position) -> Result<Range> {
        let start = match start {
            Some(start) => Some(start),
            None if self.is_symbol(":") => None,
            None => Some(self.expr()?),
        };
        self.expect_symbol(":")?;
        let bound = |parser: &mut Self| -> Result<Option<Expr>> {
            if parser.is_symbol(":") || parser.is_symbol("]") {
                Ok(None)
            } else {
                parser.expr().map(Some)
            }
        };
        let second = bound(self)?;
        let (step, end) = if self.eat_symbol(":") {
            (second, bound(self)?)
        } else {
            (None, second)
        };
        Ok(Range {
            start,
            step,
            end,
            pos,
        })
    }

    /// `{a, b, …}`
    fn set(&mut self) -> Result<Vec<Expr>> {
        self.expect_symbol("{")?;
        self.exprs("}")
    }

    /// Expressions separated by commas up to `close` (consumed).
    fn exprs(&mut self, close: &str) -> Result<Vec<Expr>> {
        let mut exprs = Vec::new();
        if self.eat_symbol(close) {
            return Ok(exprs);
        }
        loop {
            exprs.push(self.expr()?);
            if self.eat_symbol(close) {
                return Ok(exprs);
            }
            self.expect_symbol(",")?;
        }
    }

    fn expr(&mut self) -> Result<Expr> {
        self.nested(|parser| {
            // A lone number (most indices and many arguments) is its own expression.
            let lone = matches!(parser.peek(), TokenKind::Int(_) | TokenKind::Float(_))
                && matches!(
                    parser.peek_at(1),
                    TokenKind::Symbol("]" | ")" | "," | ";" | ":" | "}")
                );
            if lone {
                parser.primary()
            } else {
                parser.binary(0)
            }
        })
    }

    /// Runs `rule` one expression level deeper, refused past [`MAX_EXPR_DEPTH`].
    fn nested(&mut self, rule: impl FnOnce(&mut Self) -> Result<Expr>) -> Result<Expr> {
        self.nesting += 1;
        if self.nesting > MAX_EXPR_DEPTH {
            return Err(EngineError::at(
                self.pos(),
                format!("expression nests more than {MAX_EXPR_DEPTH} deep"),
            ));
        }
        let expr = rule(self)?;
        self.nesting -= 1;
        Ok(expr)
    }

    /// The binary operator at the cursor, with its precedence level (higher binds tighter).
    fn binary_op(&self) -> Option<(u8, BinaryOp)> {
        let TokenKind::Symbol(symbol) = self.peek() else {
            return None;
        };
        Some(match *symbol {
            "||" => (0, BinaryOp::Or),
            "&&" => (1, BinaryOp::And),
            "|" => (2, BinaryOp::BitOr),
            "^" => (3, BinaryOp::BitXor),
            "&" => (4, BinaryOp::BitAnd),
            "==" => (5, BinaryOp::Eq),
            "!=" => (5, BinaryOp::Ne),
            "<" => (6, BinaryOp::Lt),
            "<=" => (6, BinaryOp::Le),
            ">" => (6, BinaryOp::Gt),
            ">=" => (6, BinaryOp::Ge),
            "<<" => (7, BinaryOp::Shl),
            ">>" => (7, BinaryOp::Shr),
            "+" => (8, BinaryOp::Add),
            "-" => (8, BinaryOp::Sub),
            "*" => (9, BinaryOp::Mul),
            "/" => (9, BinaryOp::Div),
            "%" => (9, BinaryOp::Rem),
            _ => return None,
        })
    }

    /// Binary operators of precedence `min_level` and above, left associative
    /// (precedence climbing: at most ten nested calls per operand). The operators of one
    /// level form one [`ExprKind::Chain`] however many there are: a flat chain does not
    /// nest.
    fn binary(&mut self, min_level: u8) -> Result<Expr> {
        let mut lhs = self.unary()?;
        while let Some((level, _)) = self.binary_op().filter(|(level, _)| *level >= min_level) {
            let mut links = Vec::new();
            while let Some((_, op)) = self.binary_op().filter(|(next, _)| *next == level) {
                let pos = self.advance();
                let operand = self.binary(level + 1)?;
                links.push(Link { op, pos, operand });
            }
            lhs = chain(lhs, links)?;
        }
        Ok(lhs)
    }

    fn unary(&mut self) -> Result<Expr> {
        let op = match self.peek() {
            TokenKind::Symbol("-") => UnaryOp::Neg,
            TokenKind::Symbol("!") => UnaryOp::Not,
            TokenKind::Symbol("~") => UnaryOp::BitNot,
            TokenKind::Symbol("+") => {
                self.advance();
                return self.nested(Self::unary);
            }
            _ => return self.power(),
        };
        let pos = self.advance();
        let operand = self.nested(Self::unary)?;
        node(ExprKind::Unary(op, Box::new(operand)), pos)
    }

    /// `primary ('**' unary)?`, right associative: `a ** b ** c` is one chain applied from
    /// the right. An exponent with a sign (`2 ** -1`) is a nested `unary` that takes the
    /// rest of the chain (`2 ** -1 ** 2` is `2 ** -(1 ** 2)`).
    fn power(&mut self) -> Result<Expr> {
        let base = self.primary()?;
        let mut links = Vec::new();
        while self.is_symbol("**") {
            let pos = self.advance();
            let signed = matches!(self.peek(), TokenKind::Symbol("-" | "!" | "~" | "+"));
            let operand = if signed {
                self.nested(Self::unary)?
            } else {
                self.primary()?
            };
            links.push(Link {
                op: BinaryOp::Pow,
                pos,
                operand,
            });
            if signed {
                break;
            }
        }
        chain(base, links)
    }

    fn primary(&mut self) -> Result<Expr> {
        let pos = self.pos();
        if let TokenKind::Word(word) = self.peek() {
            if let Some(refused) = refused_in_expression(word, pos) {
                return Err(refused);
            }
            return self.name_expr(pos);
        }
        let kind = match self.take() {
            TokenKind::Int(value) => ExprKind::Int(value),
            TokenKind::WideInt(words) => ExprKind::WideInt(words),
            TokenKind::Float(value) => ExprKind::Float(value),
            TokenKind::Str(text) => {
                if text.is_empty() || !text.chars().all(|c| matches!(c, '0' | '1' | '_')) {
                    return Err(EngineError::at(
                        pos,
                        "strings are not supported in expressions (a bit string is \"0101\")",
                    ));
                }
                ExprKind::BitString(text.replace('_', ""))
            }
            TokenKind::Unit(text) => {
                let what = if text.ends_with("im") {
                    "imaginary numbers are not supported"
                } else {
                    "durations are not supported"
                };
                return Err(EngineError::at(pos, format!("{what} ('{text}')")));
            }
            TokenKind::Symbol("(") => {
                let inner = self.expr()?;
                self.expect_symbol(")")?;
                return Ok(inner);
            }
            TokenKind::PhysicalQubit(index) => {
                return Err(EngineError::at(
                    pos,
                    format!("physical qubit ${index} is not a classical value"),
                ));
            }
            other => {
                return Err(EngineError::at(
                    pos,
                    format!("expected an expression, found {}", other.describe()),
                ));
            }
        };
        node(kind, pos)
    }

    /// An expression starting with a word: a constant, a name, a function call or one bit
    /// of a register.
    fn name_expr(&mut self, pos: Position) -> Result<Expr> {
        let name = self.ident("a name")?;
        let kind = match name.name.as_str() {
            "true" => ExprKind::Bool(true),
            "false" => ExprKind::Bool(false),
            _ if self.is_symbol("(") => {
                self.advance();
                ExprKind::Call(name, self.exprs(")")?)
            }
            _ if self.is_symbol("[") => {
                self.advance();
                let index = self.expr()?;
                if !self.is_symbol("]") {
                    return Err(self.expected(
                        "']' (only one bit of a register can be indexed in an expression)",
                    ));
                }
                self.advance();
                ExprKind::Indexed(name, Box::new(index))
            }
            _ => ExprKind::Name(name.name),
        };
        node(kind, pos)
    }
}

/// Why `word` cannot start an expression, if it cannot.
fn refused_in_expression(word: &str, pos: Position) -> Option<EngineError> {
    if word == "measure" {
        return Some(EngineError::at(
            pos,
            "'measure' can only be a statement or the value of an assignment",
        ));
    }
    if scalar_kind(word).is_some() || word == "complex" || word == "duration" {
        return Some(EngineError::at(pos, "casts are not supported"));
    }
    unsupported(word).map(|message| EngineError::at(pos, message))
}

/// `first` followed by `links` as one chain node, at the position of the operator applied
/// last (the last one, or the first for `**`), or `first` alone.
fn chain(first: Expr, links: Vec<Link>) -> Result<Expr> {
    let pos = match (links.first(), links.last()) {
        (Some(first), _) if first.op == BinaryOp::Pow => first.pos,
        (_, Some(last)) => last.pos,
        _ => return Ok(first),
    };
    node(ExprKind::Chain(Box::new(first), links), pos)
}

/// An expression node, refused past [`MAX_EXPR_DEPTH`].
fn node(kind: ExprKind, pos: Position) -> Result<Expr> {
    let depth = 1 + match &kind {
        ExprKind::Int(_)
        | ExprKind::WideInt(_)
        | ExprKind::Float(_)
        | ExprKind::Bool(_)
        | ExprKind::BitString(_)
        | ExprKind::Name(_) => 0,
        ExprKind::Indexed(_, inner) | ExprKind::Unary(_, inner) => inner.depth,
        ExprKind::Chain(first, links) => links
            .iter()
            .map(|link| link.operand.depth)
            .fold(first.depth, u32::max),
        ExprKind::Call(_, args) => args.iter().map(|a| a.depth).max().unwrap_or(0),
    };
    if depth > MAX_EXPR_DEPTH {
        return Err(EngineError::at(
            pos,
            format!("expression nests more than {MAX_EXPR_DEPTH} deep"),
        ));
    }
    Ok(Expr { kind, pos, depth })
}
