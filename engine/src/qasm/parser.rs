//! Recursive-descent parser for OpenQASM 2.0 (the grammar of Cross et al., arXiv:1707.03429,
//! appendix A), from tokens to [`Stmt`]s.
//!
//! Every error names what was expected and what was found, at the found token's position.
//! Gate-parameter names are resolved here (the parser knows the enclosing declaration), so
//! an unknown name in an expression is reported where it is written. The `OPENQASM 2.0;`
//! header is optional, as in Qiskit; when present it must come first and say version 2.

use std::collections::HashMap;

use super::ast::{
    Arg, BinaryOp, Call, Expr, ExprKind, Function, GateBodyOp, GateDecl, Ident, QuantumOp, Stmt,
};
use super::expr::MAX_EXPR_DEPTH;
use super::lexer::{Keyword, Token, TokenKind};
use crate::error::{EngineError, Position, Result};
use crate::literal::int_words;

/// Parses a whole program.
pub(crate) fn parse_program(tokens: Vec<Token>) -> Result<Vec<Stmt>> {
    let mut parser = Parser {
        tokens,
        index: 0,
        nesting: 0,
    };
    parser.header()?;
    let mut statements = Vec::new();
    while parser.peek() != &TokenKind::Eof {
        statements.push(parser.statement()?);
    }
    Ok(statements)
}

struct Parser {
    tokens: Vec<Token>,
    index: usize,
    /// Current depth of recursive expression parsing.
    nesting: u32,
}

/// What a parsed expression may refer to: a gate declaration's parameters (name → index of
/// its first declaration; a map, so a gate with very many parameters parses in linear time),
/// or nothing at top level.
type Scope<'a> = &'a HashMap<&'a str, usize>;

impl Parser {
    fn token(&self) -> &Token {
        // The token list always ends with Eof and the parser never moves past it.
        &self.tokens[self.index.min(self.tokens.len() - 1)]
    }

    fn peek(&self) -> &TokenKind {
        &self.token().kind
    }

    fn pos(&self) -> Position {
        self.token().pos
    }

    /// The current token, moved out (the parser never looks back: only `tokens[index]` is
    /// read, and `index` only grows), so names and strings are not copied; Eof stays.
    fn advance(&mut self) -> Token {
        if self.index + 1 >= self.tokens.len() {
            return self.token().clone();
        }
        let pos = self.tokens[self.index].pos;
        let placeholder = Token {
            kind: TokenKind::Semicolon,
            pos,
        };
        self.index += 1;
        std::mem::replace(&mut self.tokens[self.index - 1], placeholder)
    }

    fn error_expected(&self, expected: &str) -> EngineError {
        EngineError::at(
            self.pos(),
            format!("expected {expected}, found {}", self.peek().describe()),
        )
    }

    fn eat(&mut self, kind: &TokenKind) -> bool {
        if self.peek() == kind {
            self.advance();
            true
        } else {
            false
        }
    }

    fn expect(&mut self, kind: &TokenKind, expected: &str) -> Result<()> {
        if self.eat(kind) {
            Ok(())
        } else {
            Err(self.error_expected(expected))
        }
    }

    fn ident(&mut self, expected: &str) -> Result<Ident> {
        let pos = self.pos();
        match self.peek().clone() {
            TokenKind::Ident(name) => {
                self.advance();
                Ok(Ident { name, pos })
            }
            _ => Err(self.error_expected(expected)),
        }
    }

    /// An integer up to 2^64 - 1 (a register size or an index).
    fn integer(&mut self, expected: &str) -> Result<u64> {
        match self.peek() {
            &TokenKind::Int(value) => {
                self.advance();
                Ok(value)
            }
            TokenKind::WideInt(digits) => Err(EngineError::at(
                self.pos(),
                format!("integer '{digits}' is too large (at most 2^64 - 1)"),
            )),
            _ => Err(self.error_expected(expected)),
        }
    }

    fn header(&mut self) -> Result<()> {
        if !self.eat(&TokenKind::Keyword(Keyword::OpenQasm)) {
            return Ok(());
        }
        let pos = self.pos();
        let version = match self.peek() {
            &TokenKind::Real(v) => v,
            &TokenKind::Int(v) => v as f64,
            TokenKind::WideInt(digits) => real(digits),
            _ => return Err(self.error_expected("a version number such as 2.0")),
        };
        self.advance();
        if !(2.0..3.0).contains(&version) {
            return Err(EngineError::at(
                pos,
                format!("only OpenQASM 2.0 is supported, this program is version {version}"),
            ));
        }
        self.expect(&TokenKind::Semicolon, "';' after the version")?;
        Ok(())
    }

    fn statement(&mut self) -> Result<Stmt> {
        let pos = self.pos();
        match self.peek() {
            TokenKind::Keyword(Keyword::Include) => {
                self.advance();
                let file = match self.peek().clone() {
                    TokenKind::Str(file) => file,
                    _ => return Err(self.error_expected("a quoted file name")),
                };
                self.advance();
                self.expect(&TokenKind::Semicolon, "';' after the include")?;
                Ok(Stmt::Include { file, pos })
            }
            TokenKind::Keyword(kw @ (Keyword::Qreg | Keyword::Creg)) => {
                let quantum = *kw == Keyword::Qreg;
                self.advance();
                let name = self.ident("a register name")?;
                self.expect(&TokenKind::LBracket, "'[' and the register size")?;
                let size = self.integer("the register size (a non-negative integer)")?;
                self.expect(&TokenKind::RBracket, "']'")?;
                self.expect(&TokenKind::Semicolon, "';' after the register declaration")?;
                Ok(Stmt::Register {
                    quantum,
                    name,
                    size,
                })
            }
            TokenKind::Keyword(Keyword::Gate) => {
                self.advance();
                self.gate_decl().map(Stmt::GateDecl)
            }
            TokenKind::Keyword(Keyword::Opaque) => {
                self.advance();
                let (name, params, qubits) = self.gate_signature()?;
                self.expect(&TokenKind::Semicolon, "';' after the opaque declaration")?;
                Ok(Stmt::Opaque {
                    name,
                    params,
                    qubits,
                })
            }
            TokenKind::Keyword(Keyword::If) => {
                self.advance();
                self.expect(&TokenKind::LParen, "'(' after 'if'")?;
                let creg = self.ident("a classical register name")?;
                self.expect(&TokenKind::EqEq, "'=='")?;
                // Any width: a register compares exactly with a value as wide as itself.
                let value = match self.peek() {
                    &TokenKind::Int(value) => vec![value],
                    TokenKind::WideInt(digits) => int_words(digits, 10, self.pos())?,
                    _ => return Err(self.error_expected("a non-negative integer to compare with")),
                };
                self.advance();
                self.expect(&TokenKind::RParen, "')'")?;
                let op = self.quantum_op()?;
                Ok(Stmt::If { creg, value, op })
            }
            TokenKind::Keyword(Keyword::Barrier) => {
                self.advance();
                let args = self.list(Self::arg)?;
                self.expect(
                    &TokenKind::Semicolon,
                    "',' or ';' after the barrier arguments",
                )?;
                Ok(Stmt::Barrier { args, pos })
            }
            TokenKind::Keyword(Keyword::OpenQasm) => Err(EngineError::at(
                pos,
                "the OPENQASM version statement must be the first statement",
            )),
            _ => self.quantum_op().map(Stmt::Op),
        }
    }

    /// `name [ ( [params] ) ] qubits` of a gate or opaque declaration.
    fn gate_signature(&mut self) -> Result<(Ident, Vec<Ident>, Vec<Ident>)> {
        let name = self.ident("a gate name")?;
        let mut params = Vec::new();
        if self.eat(&TokenKind::LParen) && !self.eat(&TokenKind::RParen) {
            params = self.list(|p| p.ident("a parameter name"))?;
            self.expect(&TokenKind::RParen, "',' or ')' after the parameter names")?;
        }
        let qubits = self.list(|p| p.ident("a qubit argument name"))?;
        Ok((name, params, qubits))
    }

    fn gate_decl(&mut self) -> Result<GateDecl> {
        let (name, params, qubits) = self.gate_signature()?;
        self.expect(&TokenKind::LBrace, "',' or '{' to open the gate body")?;
        let mut scope = HashMap::with_capacity(params.len());
        for (index, param) in params.iter().enumerate() {
            scope.entry(param.name.as_str()).or_insert(index);
        }
        let mut body = Vec::new();
        while !self.eat(&TokenKind::RBrace) {
            let pos = self.pos();
            match self.peek() {
                TokenKind::Keyword(Keyword::Barrier) => {
                    self.advance();
                    let args = self.list(|p| p.ident("a qubit argument name"))?;
                    self.expect(
                        &TokenKind::Semicolon,
                        "',' or ';' after the barrier arguments",
                    )?;
                    body.push(GateBodyOp::Barrier { args, pos });
                }
                TokenKind::Keyword(Keyword::Measure | Keyword::Reset | Keyword::If) => {
                    return Err(EngineError::at(
                        pos,
                        format!(
                            "{} is not allowed inside a gate body: expected a gate call, \
                             'barrier' or '}}'",
                            self.peek().describe()
                        ),
                    ));
                }
                TokenKind::Eof => return Err(self.error_expected("'}' to close the gate body")),
                _ => {
                    let call = self.call(&scope, Self::body_arg)?;
                    body.push(GateBodyOp::Call(call));
                }
            }
        }
        Ok(GateDecl {
            name,
            params,
            qubits,
            body,
        })
    }

    fn body_arg(&mut self) -> Result<Ident> {
        let ident = self.ident("a qubit argument name")?;
        if self.peek() == &TokenKind::LBracket {
            return Err(EngineError::at(
                self.pos(),
                "qubit arguments inside a gate body cannot be indexed: expected ',' or ';'",
            ));
        }
        Ok(ident)
    }

    fn quantum_op(&mut self) -> Result<QuantumOp> {
        let pos = self.pos();
        match self.peek() {
            TokenKind::Keyword(Keyword::Measure) => {
                self.advance();
                let qubit = self.arg()?;
                self.expect(&TokenKind::Arrow, "'->' after the measured qubit")?;
                let clbit = self.arg()?;
                self.expect(&TokenKind::Semicolon, "';' after the measurement")?;
                Ok(QuantumOp::Measure { qubit, clbit, pos })
            }
            TokenKind::Keyword(Keyword::Reset) => {
                self.advance();
                let qubit = self.arg()?;
                self.expect(&TokenKind::Semicolon, "';' after the reset")?;
                Ok(QuantumOp::Reset { qubit, pos })
            }
            TokenKind::Ident(_) | TokenKind::Keyword(Keyword::U | Keyword::Cx) => {
                self.call(&HashMap::new(), Self::arg).map(QuantumOp::Call)
            }
            _ => Err(self.error_expected(
                "a statement (qreg, creg, gate, opaque, include, if, barrier, measure, reset \
                 or a gate call)",
            )),
        }
    }

    /// `name [ ( [exprs] ) ] args ;` where `name` may be `U` or `CX`.
    fn call<A>(
        &mut self,
        scope: Scope<'_>,
        arg: impl FnMut(&mut Self) -> Result<A>,
    ) -> Result<Call<A>> {
        let pos = self.pos();
        let name = match self.peek().clone() {
            TokenKind::Ident(name) => name,
            TokenKind::Keyword(Keyword::U) => "U".to_owned(),
            TokenKind::Keyword(Keyword::Cx) => "CX".to_owned(),
            _ => return Err(self.error_expected("a gate name")),
        };
        self.advance();
        let mut params = Vec::new();
        if self.eat(&TokenKind::LParen) && !self.eat(&TokenKind::RParen) {
            params = self.list(|p| p.expr(scope))?;
            self.expect(&TokenKind::RParen, "',' or ')' after the gate parameters")?;
        }
        let args = self.list(arg)?;
        self.expect(&TokenKind::Semicolon, "',' or ';' after the gate arguments")?;
        Ok(Call {
            name: Ident { name, pos },
            params,
            args,
        })
    }

    fn list<T>(&mut self, mut item: impl FnMut(&mut Self) -> Result<T>) -> Result<Vec<T>> {
        let mut items = vec![item(self)?];
        while self.eat(&TokenKind::Comma) {
            items.push(item(self)?);
        }
        Ok(items)
    }

    fn arg(&mut self) -> Result<Arg> {
        let reg = self.ident("a register name")?;
        let index = if self.eat(&TokenKind::LBracket) {
            let index = self.integer("a bit index (a non-negative integer)")?;
            self.expect(&TokenKind::RBracket, "']'")?;
            Some(index)
        } else {
            None
        };
        Ok(Arg { reg, index })
    }

    /// `expr := term (('+' | '-') term)*`, one nesting level deeper.
    fn expr(&mut self, scope: Scope<'_>) -> Result<Expr> {
        self.nested(scope, |p, scope| {
            p.binary_chain(
                scope,
                &[
                    (TokenKind::Plus, BinaryOp::Add),
                    (TokenKind::Minus, BinaryOp::Sub),
                ],
                Self::term,
            )
        })
    }

    /// `term := unary (('*' | '/') unary)*`
    fn term(&mut self, scope: Scope<'_>) -> Result<Expr> {
        self.binary_chain(
            scope,
            &[
                (TokenKind::Star, BinaryOp::Mul),
                (TokenKind::Slash, BinaryOp::Div),
            ],
            Self::unary,
        )
    }

    /// `operand (op operand)*` for the `operators` of one level, as one [`ExprKind::Chain`]
    /// node however long: a flat chain does not nest.
    fn binary_chain(
        &mut self,
        scope: Scope<'_>,
        operators: &[(TokenKind, BinaryOp)],
        operand: fn(&mut Self, Scope<'_>) -> Result<Expr>,
    ) -> Result<Expr> {
        let first = operand(self, scope)?;
        let mut rest = Vec::new();
        let mut last = first.pos;
        while let Some((_, op)) = operators.iter().find(|(kind, _)| kind == self.peek()) {
            last = self.advance().pos;
            rest.push((*op, operand(self, scope)?));
        }
        chain(first, rest, last)
    }

    /// `unary := '-' unary | power`; unary minus binds looser than `^` (`-2^2` is -4).
    fn unary(&mut self, scope: Scope<'_>) -> Result<Expr> {
        let pos = self.pos();
        if self.eat(&TokenKind::Minus) {
            let inner = self.nested(scope, Self::unary)?;
            return bounded(Expr::new(ExprKind::Neg(Box::new(inner)), pos));
        }
        self.power(scope)
    }

    /// `power := atom ('^' unary)?`, right-associative: `a ^ b ^ c` is one chain applied
    /// from the right. A signed exponent is a nested `unary` that takes the rest of the
    /// chain (`2 ^ -3 ^ 2` is `2 ^ -(3 ^ 2)`).
    fn power(&mut self, scope: Scope<'_>) -> Result<Expr> {
        let base = self.atom(scope)?;
        let mut rest = Vec::new();
        let mut first = base.pos;
        while self.peek() == &TokenKind::Caret {
            let pos = self.advance().pos;
            if rest.is_empty() {
                first = pos;
            }
            if self.peek() == &TokenKind::Minus {
                rest.push((BinaryOp::Pow, self.nested(scope, Self::unary)?));
                break;
            }
            rest.push((BinaryOp::Pow, self.atom(scope)?));
        }
        chain(base, rest, first)
    }

    /// Parses with `parse` one nesting level deeper (shares the parenthesis budget).
    fn nested(
        &mut self,
        scope: Scope<'_>,
        parse: impl FnOnce(&mut Self, Scope<'_>) -> Result<Expr>,
    ) -> Result<Expr> {
        self.nesting += 1;
        if self.nesting > MAX_EXPR_DEPTH {
            return Err(too_deep(self.pos()));
        }
        let result = parse(self, scope);
        self.nesting -= 1;
        result
    }

    fn atom(&mut self, scope: Scope<'_>) -> Result<Expr> {
        let pos = self.pos();
        let kind = match self.peek().clone() {
            TokenKind::Int(value) => ExprKind::Number(value as f64),
            // As Qiskit reads integers in expressions: as reals.
            TokenKind::WideInt(digits) => ExprKind::Number(real(&digits)),
            TokenKind::Real(value) => ExprKind::Number(value),
            TokenKind::Keyword(Keyword::Pi) => ExprKind::Pi,
            TokenKind::Ident(name) => match scope.get(name.as_str()) {
                Some(&index) => ExprKind::Param(index),
                None if scope.is_empty() => {
                    return Err(EngineError::at(
                        pos,
                        format!(
                            "unknown name '{name}': expressions outside a gate body can use \
                             only numbers, pi and sin/cos/tan/exp/ln/sqrt"
                        ),
                    ));
                }
                None => {
                    return Err(EngineError::at(
                        pos,
                        format!(
                            "unknown parameter '{name}': expected one of the gate's parameters"
                        ),
                    ));
                }
            },
            TokenKind::LParen => {
                self.advance();
                let inner = self.expr(scope)?;
                self.expect(&TokenKind::RParen, "')' to close the parenthesis")?;
                return Ok(inner);
            }
            TokenKind::Keyword(keyword) => {
                let Some(function) = function(keyword) else {
                    return Err(self.error_expected("an expression"));
                };
                self.advance();
                self.expect(&TokenKind::LParen, "'(' after the function name")?;
                let inner = self.expr(scope)?;
                self.expect(&TokenKind::RParen, "')' to close the function argument")?;
                return bounded(Expr::new(ExprKind::Call(function, Box::new(inner)), pos));
            }
            _ => return Err(self.error_expected("an expression")),
        };
        self.advance();
        Ok(Expr::new(kind, pos))
    }
}

/// The value of a wide integer's decimal digits as a real (infinite past `f64::MAX`).
fn real(digits: &str) -> f64 {
    // Decimal digits always parse: a value past the range of f64 is infinite.
    digits.parse().unwrap_or(f64::INFINITY)
}

fn function(keyword: Keyword) -> Option<Function> {
    Some(match keyword {
        Keyword::Sin => Function::Sin,
        Keyword::Cos => Function::Cos,
        Keyword::Tan => Function::Tan,
        Keyword::Exp => Function::Exp,
        Keyword::Ln => Function::Ln,
        Keyword::Sqrt => Function::Sqrt,
        _ => return None,
    })
}

/// `first` followed by `rest` as one node at `pos` (the operator applied last), or `first`
/// alone.
fn chain(first: Expr, rest: Vec<(BinaryOp, Expr)>, pos: Position) -> Result<Expr> {
    if rest.is_empty() {
        return Ok(first);
    }
    bounded(Expr::new(ExprKind::Chain(Box::new(first), rest), pos))
}

fn bounded(expr: Expr) -> Result<Expr> {
    if expr.depth > MAX_EXPR_DEPTH {
        return Err(too_deep(expr.pos));
    }
    Ok(expr)
}

fn too_deep(pos: Position) -> EngineError {
    EngineError::at(
        pos,
        format!("expression is nested too deeply (more than {MAX_EXPR_DEPTH} levels)"),
    )
}
