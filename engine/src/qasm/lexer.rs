//! The OpenQASM 2.0 lexer: source text to tokens with 1-based line:col positions.
//!
//! Hand-written: the token set is tiny and a direct scanner gives exact positions and
//! messages without a dependency. Follows the paper's lexical rules (identifiers start with
//! a lowercase letter; `U`, `CX` and `OPENQASM` are the only uppercase words), with reals
//! as Qiskit reads them: `1.0e-7`, `.5`, `2.` and `2e3`, and integers of any size (the
//! parser decides what each context accepts). `//` starts a comment.

use crate::error::{EngineError, Position, Result};

/// A reserved word.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Keyword {
    OpenQasm,
    Include,
    Qreg,
    Creg,
    Gate,
    Opaque,
    Measure,
    Reset,
    Barrier,
    If,
    Pi,
    U,
    Cx,
    Sin,
    Cos,
    Tan,
    Exp,
    Ln,
    Sqrt,
}

impl Keyword {
    fn from_word(word: &str) -> Option<Self> {
        Some(match word {
            "OPENQASM" => Self::OpenQasm,
            "include" => Self::Include,
            "qreg" => Self::Qreg,
            "creg" => Self::Creg,
            "gate" => Self::Gate,
            "opaque" => Self::Opaque,
            "measure" => Self::Measure,
            "reset" => Self::Reset,
            "barrier" => Self::Barrier,
            "if" => Self::If,
            "pi" => Self::Pi,
            "U" => Self::U,
            "CX" => Self::Cx,
            "sin" => Self::Sin,
            "cos" => Self::Cos,
            "tan" => Self::Tan,
            "exp" => Self::Exp,
            "ln" => Self::Ln,
            "sqrt" => Self::Sqrt,
            _ => return None,
        })
    }

    fn as_str(self) -> &'static str {
        match self {
            Self::OpenQasm => "OPENQASM",
            Self::Include => "include",
            Self::Qreg => "qreg",
            Self::Creg => "creg",
            Self::Gate => "gate",
            Self::Opaque => "opaque",
            Self::Measure => "measure",
            Self::Reset => "reset",
            Self::Barrier => "barrier",
            Self::If => "if",
            Self::Pi => "pi",
            Self::U => "U",
            Self::Cx => "CX",
            Self::Sin => "sin",
            Self::Cos => "cos",
            Self::Tan => "tan",
            Self::Exp => "exp",
            Self::Ln => "ln",
            Self::Sqrt => "sqrt",
        }
    }
}

/// What a token is.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum TokenKind {
    Keyword(Keyword),
    Ident(String),
    /// A non-negative integer literal up to 2^64 - 1.
    Int(u64),
    /// A larger integer literal, as its decimal digits: exact where a register is compared
    /// with it, a real in an expression, too large anywhere else.
    WideInt(String),
    /// A real literal (has a `.` or an exponent).
    Real(f64),
    Str(String),
    Semicolon,
    Comma,
    LParen,
    RParen,
    LBracket,
    RBracket,
    LBrace,
    RBrace,
    Arrow,
    EqEq,
    Plus,
    Minus,
    Star,
    Slash,
    Caret,
    Eof,
}

impl TokenKind {
    /// How the token reads in an error message ("found …").
    pub(crate) fn describe(&self) -> String {
        match self {
            Self::Keyword(k) => format!("keyword '{}'", k.as_str()),
            Self::Ident(name) => format!("identifier '{name}'"),
            Self::Int(v) => format!("integer {v}"),
            Self::WideInt(digits) => format!("integer {digits}"),
            Self::Real(v) => format!("number {v}"),
            Self::Str(s) => format!("string \"{s}\""),
            Self::Eof => "end of input".to_owned(),
            other => format!("'{}'", other.symbol()),
        }
    }

    fn symbol(&self) -> &'static str {
        match self {
            Self::Semicolon => ";",
            Self::Comma => ",",
            Self::LParen => "(",
            Self::RParen => ")",
            Self::LBracket => "[",
            Self::RBracket => "]",
            Self::LBrace => "{",
            Self::RBrace => "}",
            Self::Arrow => "->",
            Self::EqEq => "==",
            Self::Plus => "+",
            Self::Minus => "-",
            Self::Star => "*",
            Self::Slash => "/",
            Self::Caret => "^",
            _ => "",
        }
    }
}

/// A token and where it starts.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Token {
    pub kind: TokenKind,
    pub pos: Position,
}

/// Splits `source` into tokens, ending with [`TokenKind::Eof`].
pub(crate) fn tokenize(source: &str) -> Result<Vec<Token>> {
    let mut scanner = Scanner {
        chars: source.chars().collect(),
        index: 0,
        line: 1,
        col: 1,
    };
    let mut tokens = Vec::new();
    loop {
        scanner.skip_blanks_and_comments();
        let pos = scanner.pos();
        let Some(c) = scanner.peek(0) else {
            tokens.push(Token {
                kind: TokenKind::Eof,
                pos,
            });
            return Ok(tokens);
        };
        let kind = match c {
            'a'..='z' | 'A'..='Z' => scanner.word(pos)?,
            '0'..='9' | '.' => scanner.number(pos)?,
            '"' => scanner.string(pos)?,
            _ => scanner.punctuation(c, pos)?,
        };
        tokens.push(Token { kind, pos });
    }
}

struct Scanner {
    chars: Vec<char>,
    index: usize,
    line: u32,
    col: u32,
}

impl Scanner {
    fn pos(&self) -> Position {
        Position {
            line: self.line,
            col: self.col,
        }
    }

    fn peek(&self, ahead: usize) -> Option<char> {
        self.chars.get(self.index + ahead).copied()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek(0)?;
        self.index += 1;
        if c == '\n' {
            self.line += 1;
            self.col = 1;
        } else {
            self.col += 1;
        }
        Some(c)
    }

    fn bump_while(&mut self, mut keep: impl FnMut(char) -> bool) -> String {
        let mut text = String::new();
        while let Some(c) = self.peek(0).filter(|&c| keep(c)) {
            text.push(c);
            self.bump();
        }
        text
    }

    fn skip_blanks_and_comments(&mut self) {
        loop {
            match (self.peek(0), self.peek(1)) {
                (Some(c), _) if c.is_whitespace() => {
                    self.bump();
                }
                (Some('/'), Some('/')) => {
                    self.bump_while(|c| c != '\n');
                }
                _ => return,
            }
        }
    }

    fn word(&mut self, pos: Position) -> Result<TokenKind> {
        let word = self.bump_while(|c| c.is_ascii_alphanumeric() || c == '_');
        if let Some(keyword) = Keyword::from_word(&word) {
            return Ok(TokenKind::Keyword(keyword));
        }
        if word.starts_with(|c: char| c.is_ascii_uppercase()) {
            return Err(EngineError::at(
                pos,
                format!(
                    "identifier '{word}' must start with a lowercase letter \
                     (only U, CX and OPENQASM are uppercase in OpenQASM 2.0)"
                ),
            ));
        }
        Ok(TokenKind::Ident(word))
    }

    fn number(&mut self, pos: Position) -> Result<TokenKind> {
        let mut text = self.bump_while(|c| c.is_ascii_digit());
        let mut real = false;
        if self.peek(0) == Some('.') {
            real = true;
            self.bump();
            text.push('.');
            text.push_str(&self.bump_while(|c| c.is_ascii_digit()));
            if text == "." {
                return Err(EngineError::at(pos, "expected a digit before or after '.'"));
            }
        }
        let exponent_follows = matches!(self.peek(0), Some('e' | 'E'))
            && match self.peek(1) {
                Some('+' | '-') => self.peek(2).is_some_and(|c| c.is_ascii_digit()),
                next => next.is_some_and(|c| c.is_ascii_digit()),
            };
        if exponent_follows {
            real = true;
            text.push('e');
            self.bump();
            if let Some(sign @ ('+' | '-')) = self.peek(0) {
                text.push(sign);
                self.bump();
            }
            text.push_str(&self.bump_while(|c| c.is_ascii_digit()));
        }
        if self
            .peek(0)
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            return Err(EngineError::at(
                self.pos(),
                format!("expected an operator or delimiter after the number '{text}'"),
            ));
        }
        if real {
            // The text is digits, an optional '.', and an exponent with digits: always valid.
            let value: f64 = text
                .parse()
                .map_err(|_| EngineError::at(pos, format!("invalid number '{text}'")))?;
            return Ok(TokenKind::Real(value));
        }
        // Digits only: the one way not to fit is to be larger.
        Ok(text
            .parse()
            .map_or(TokenKind::WideInt(text), TokenKind::Int))
    }

    fn string(&mut self, pos: Position) -> Result<TokenKind> {
        self.bump();
        let text = self.bump_while(|c| c != '"' && c != '\n');
        if self.bump() != Some('"') {
            return Err(EngineError::at(
                pos,
                "unterminated string: expected a closing '\"'",
            ));
        }
        Ok(TokenKind::Str(text))
    }

    fn punctuation(&mut self, c: char, pos: Position) -> Result<TokenKind> {
        let two = |second: char, kind: TokenKind| (Some(second), kind);
        let (second, kind) = match c {
            ';' => (None, TokenKind::Semicolon),
            ',' => (None, TokenKind::Comma),
            '(' => (None, TokenKind::LParen),
            ')' => (None, TokenKind::RParen),
            '[' => (None, TokenKind::LBracket),
            ']' => (None, TokenKind::RBracket),
            '{' => (None, TokenKind::LBrace),
            '}' => (None, TokenKind::RBrace),
            '+' => (None, TokenKind::Plus),
            '*' => (None, TokenKind::Star),
            '/' => (None, TokenKind::Slash),
            '^' => (None, TokenKind::Caret),
            '-' if self.peek(1) == Some('>') => two('>', TokenKind::Arrow),
            '-' => (None, TokenKind::Minus),
            '=' if self.peek(1) == Some('=') => two('=', TokenKind::EqEq),
            '=' => {
                return Err(EngineError::at(
                    pos,
                    "expected '==' (comparison), found '='",
                ));
            }
            other => {
                return Err(EngineError::at(
                    pos,
                    format!("unexpected character '{}'", other.escape_debug()),
                ));
            }
        };
        self.bump();
        if second.is_some() {
            self.bump();
        }
        Ok(kind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(source: &str) -> Vec<TokenKind> {
        tokenize(source)
            .unwrap()
            .into_iter()
            .map(|t| t.kind)
            .collect()
    }

    fn error(source: &str) -> (u32, u32, String) {
        let err = tokenize(source).unwrap_err();
        let pos = err.position.unwrap();
        (pos.line, pos.col, err.message)
    }

    #[test]
    fn reals_in_every_form_qiskit_accepts() {
        use TokenKind::*;
        assert_eq!(
            kinds("1.0e-7 .5 2. 2e3 3E+2 0.25 7"),
            vec![
                Real(1.0e-7),
                Real(0.5),
                Real(2.0),
                Real(2e3),
                Real(300.0),
                Real(0.25),
                Int(7),
                Eof
            ]
        );
        assert_eq!(
            kinds("18446744073709551615 18446744073709551616"),
            vec![Int(u64::MAX), WideInt("18446744073709551616".into()), Eof]
        );
    }

    #[test]
    fn keywords_identifiers_and_symbols() {
        use TokenKind::*;
        assert_eq!(
            kinds("OPENQASM 2.0; U(pi) q_1; CX a,b; measure q->c; if(c==1)"),
            vec![
                Keyword(self::Keyword::OpenQasm),
                Real(2.0),
                Semicolon,
                Keyword(self::Keyword::U),
                LParen,
                Keyword(self::Keyword::Pi),
                RParen,
                Ident("q_1".into()),
                Semicolon,
                Keyword(self::Keyword::Cx),
                Ident("a".into()),
                Comma,
                Ident("b".into()),
                Semicolon,
                Keyword(self::Keyword::Measure),
                Ident("q".into()),
                Arrow,
                Ident("c".into()),
                Semicolon,
                Keyword(self::Keyword::If),
                LParen,
                Ident("c".into()),
                EqEq,
                Int(1),
                RParen,
                Eof
            ]
        );
    }

    #[test]
    fn positions_are_one_based_and_skip_comments() {
        let tokens = tokenize("// header\n  qreg q[2]; // two\nh q;").unwrap();
        let positions: Vec<_> = tokens.iter().map(|t| (t.pos.line, t.pos.col)).collect();
        assert_eq!(
            positions,
            vec![
                (2, 3),
                (2, 8),
                (2, 9),
                (2, 10),
                (2, 11),
                (2, 12),
                (3, 1),
                (3, 3),
                (3, 4),
                (3, 5)
            ]
        );
    }

    #[test]
    fn lexical_errors_say_where_and_what() {
        assert_eq!(
            error("qreg Q[1];"),
            (
                1,
                6,
                "identifier 'Q' must start with a lowercase letter (only U, CX and OPENQASM \
                 are uppercase in OpenQASM 2.0)"
                    .into()
            )
        );
        assert_eq!(error("x\n  @"), (2, 3, "unexpected character '@'".into()));
        assert_eq!(
            error("include \"qelib1.inc;\n"),
            (1, 9, "unterminated string: expected a closing '\"'".into())
        );
        assert_eq!(
            error("2ab"),
            (
                1,
                2,
                "expected an operator or delimiter after the number '2'".into()
            )
        );
        assert_eq!(
            error("if (c = 1)"),
            (1, 7, "expected '==' (comparison), found '='".into())
        );
    }
}
