//! The OpenQASM 3 lexer: source text to tokens with 1-based line:col positions.
//!
//! Words (keywords and identifiers alike) are one token kind; the parser tells keywords by
//! their text, so a construct the engine does not run is still recognised and named in its
//! error. Identifiers may use Unicode letters (`θ`, `π`), as the specification allows.
//! Integers are kept exactly, however wide (a comparison with a 70-bit register needs a
//! 70-bit value), up to `literal::MAX_INT_BITS`. `//` and `/* */` are comments.

use std::borrow::Cow;

use crate::error::{EngineError, Position, Result};
use crate::literal::int_words;

/// What a token is.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum TokenKind {
    /// An identifier or a keyword.
    Word(String),
    /// A non-negative integer literal up to 2^64 - 1.
    Int(u64),
    /// A larger integer literal, little-endian 64-bit words (at least two, no trailing zero
    /// word).
    WideInt(Vec<u64>),
    /// A real literal (has a `.` or an exponent).
    Float(f64),
    /// A number with a unit (`100ns`, `2dt`, `1.5im`): durations and imaginary numbers.
    Unit(String),
    /// A string in double or single quotes (also a bit string `"0101"`).
    Str(String),
    /// `$3`: physical qubit 3 of the device (the specification's hardware qubit), its
    /// index saturated at `u32::MAX` (far past any limit).
    PhysicalQubit(u32),
    /// `#pragma …` up to the end of the line.
    Pragma,
    /// Punctuation or an operator, as written.
    Symbol(&'static str),
    Eof,
}

impl TokenKind {
    /// How the token reads in an error message ("found …").
    pub(crate) fn describe(&self) -> String {
        match self {
            Self::Word(word) => format!("'{word}'"),
            Self::Int(value) => format!("integer {value}"),
            Self::WideInt(_) => "a wide integer".to_owned(),
            Self::Float(value) => format!("number {value}"),
            Self::Unit(text) => format!("'{text}'"),
            Self::Str(text) => format!("string \"{text}\""),
            Self::PhysicalQubit(index) => format!("physical qubit ${index}"),
            Self::Pragma => "a pragma".to_owned(),
            Self::Symbol(symbol) => format!("'{symbol}'"),
            Self::Eof => "end of input".to_owned(),
        }
    }
}

/// A token and where it starts.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Token {
    pub kind: TokenKind,
    pub pos: Position,
}

/// The operators and punctuation starting with `c`, longest first so that a prefix never
/// shadows a longer one.
fn symbols(c: char) -> &'static [&'static str] {
    match c {
        '<' => &["<<=", "<=", "<<", "<"],
        '>' => &[">>=", ">=", ">>", ">"],
        '*' => &["**=", "**", "*=", "*"],
        '-' => &["->", "-=", "-"],
        '+' => &["++", "+=", "+"],
        '=' => &["==", "="],
        '!' => &["!=", "!"],
        '&' => &["&&", "&=", "&"],
        '|' => &["||", "|=", "|"],
        '/' => &["/=", "/"],
        '%' => &["%=", "%"],
        '^' => &["^=", "^"],
        ';' => &[";"],
        ',' => &[","],
        '(' => &["("],
        ')' => &[")"],
        '[' => &["["],
        ']' => &["]"],
        '{' => &["{"],
        '}' => &["}"],
        ':' => &[":"],
        '@' => &["@"],
        '~' => &["~"],
        _ => &[],
    }
}

/// Splits `source` into tokens, ending with [`TokenKind::Eof`].
pub(crate) fn tokenize(source: &str) -> Result<Vec<Token>> {
    let mut scanner = Scanner {
        source,
        index: 0,
        line: 1,
        col: 1,
    };
    let mut tokens = Vec::new();
    loop {
        scanner.skip_blanks_and_comments()?;
        let pos = scanner.pos();
        let Some(c) = scanner.peek(0) else {
            tokens.push(Token {
                kind: TokenKind::Eof,
                pos,
            });
            return Ok(tokens);
        };
        let kind = match c {
            c if c.is_alphabetic() || c == '_' => TokenKind::Word(scanner.word().to_owned()),
            '0'..='9' => scanner.number(pos)?,
            '.' if scanner.peek(1).is_some_and(|c| c.is_ascii_digit()) => scanner.number(pos)?,
            '"' | '\'' => scanner.string(c, pos)?,
            '$' => {
                scanner.bump();
                let digits = scanner.bump_while(|c| c.is_ascii_digit());
                if digits.is_empty() {
                    return Err(EngineError::at(
                        pos,
                        "'$' must be followed by a physical qubit's index ($0, $1, …)",
                    ));
                }
                let index = digits.bytes().fold(0u32, |n, d| {
                    n.saturating_mul(10).saturating_add(u32::from(d - b'0'))
                });
                TokenKind::PhysicalQubit(index)
            }
            '#' => {
                scanner.bump_while(|c| c != '\n');
                TokenKind::Pragma
            }
            _ => scanner.symbol(c, pos)?,
        };
        tokens.push(Token { kind, pos });
    }
}

/// A cursor over the source: `index` in bytes, `line` and `col` in characters.
struct Scanner<'a> {
    source: &'a str,
    index: usize,
    line: u32,
    col: u32,
}

impl<'a> Scanner<'a> {
    fn pos(&self) -> Position {
        Position {
            line: self.line,
            col: self.col,
        }
    }

    #[inline]
    fn peek(&self, ahead: usize) -> Option<char> {
        let rest = &self.source.as_bytes()[self.index..];
        // ASCII, nearly all of any program, needs no decoding.
        match rest.get(..=ahead) {
            Some(bytes) if bytes.is_ascii() => Some(char::from(bytes[ahead])),
            _ => self.source[self.index..].chars().nth(ahead),
        }
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek(0)?;
        self.step_over(c);
        Some(c)
    }

    /// Moves past `c`, the character at the cursor.
    fn step_over(&mut self, c: char) {
        self.index += c.len_utf8();
        if c == '\n' {
            self.line += 1;
            self.col = 1;
        } else {
            self.col += 1;
        }
    }

    /// Moves past the characters `keep` accepts and returns them.
    fn bump_while(&mut self, mut keep: impl FnMut(char) -> bool) -> &'a str {
        let start = self.index;
        while let Some(c) = self.peek(0).filter(|&c| keep(c)) {
            self.step_over(c);
        }
        &self.source[start..self.index]
    }

    /// Moves past the ASCII bytes `keep` accepts (never a newline).
    fn skip_ascii(&mut self, keep: impl Fn(u8) -> bool) {
        let bytes = self.source.as_bytes();
        let start = self.index;
        while bytes.get(self.index).is_some_and(|&b| keep(b)) {
            self.index += 1;
        }
        self.col += (self.index - start) as u32;
    }

    /// An identifier or keyword: letters, digits and `_`, Unicode letters included.
    fn word(&mut self) -> &'a str {
        let start = self.index;
        loop {
            self.skip_ascii(|b| b.is_ascii_alphanumeric() || b == b'_');
            match self.peek(0) {
                Some(c) if !c.is_ascii() && c.is_alphanumeric() => self.step_over(c),
                _ => return &self.source[start..self.index],
            }
        }
    }

    fn skip_blanks_and_comments(&mut self) -> Result<()> {
        loop {
            match (self.peek(0), self.peek(1)) {
                (Some(' ' | '\t' | '\r'), _) => {
                    self.skip_ascii(|b| matches!(b, b' ' | b'\t' | b'\r'))
                }
                (Some(c), _) if c.is_whitespace() => {
                    self.bump();
                }
                (Some('/'), Some('/')) => {
                    let rest = &self.source[self.index..];
                    let comment = &rest[..rest.find('\n').unwrap_or(rest.len())];
                    self.index += comment.len();
                    self.col += comment.chars().count() as u32;
                }
                (Some('/'), Some('*')) => {
                    let pos = self.pos();
                    self.bump();
                    self.bump();
                    loop {
                        match (self.peek(0), self.peek(1)) {
                            (Some('*'), Some('/')) => {
                                self.bump();
                                self.bump();
                                break;
                            }
                            (Some(_), _) => {
                                self.bump();
                            }
                            (None, _) => {
                                return Err(EngineError::at(
                                    pos,
                                    "unterminated comment: expected a closing '*/'",
                                ));
                            }
                        }
                    }
                }
                _ => return Ok(()),
            }
        }
    }

    /// Digits of `radix` and `_` separators.
    fn digits(&mut self, radix: u32) -> &'a str {
        let start = self.index;
        self.skip_ascii(|b| char::from(b).is_digit(radix) || b == b'_');
        &self.source[start..self.index]
    }

    fn number(&mut self, pos: Position) -> Result<TokenKind> {
        let radix = match (self.peek(0), self.peek(1)) {
            (Some('0'), Some('b' | 'B')) => 2,
            (Some('0'), Some('o' | 'O')) => 8,
            (Some('0'), Some('x' | 'X')) => 16,
            _ => 10,
        };
        if radix != 10 {
            self.bump();
            self.bump();
            let digits = without_separators(self.digits(radix));
            if digits.is_empty() {
                return Err(EngineError::at(
                    pos,
                    "expected digits after the radix prefix",
                ));
            }
            self.end_of_number(pos, &digits)?;
            return int_token(&digits, radix, pos);
        }
        let start = self.index;
        self.digits(10);
        let mut real = false;
        if self.peek(0) == Some('.') {
            real = true;
            self.bump();
            self.digits(10);
        }
        let exponent_follows = matches!(self.peek(0), Some('e' | 'E'))
            && match self.peek(1) {
                Some('+' | '-') => self.peek(2).is_some_and(|c| c.is_ascii_digit()),
                next => next.is_some_and(|c| c.is_ascii_digit()),
            };
        if exponent_follows {
            real = true;
            self.bump();
            if let Some('+' | '-') = self.peek(0) {
                self.bump();
            }
            self.digits(10);
        }
        // As written, without separators and with a lowercase exponent.
        let text = match &self.source[start..self.index] {
            written if written.contains(['_', 'E']) => {
                Cow::Owned(written.replace('_', "").replace('E', "e"))
            }
            written => Cow::Borrowed(written),
        };
        if self.peek(0).is_some_and(char::is_alphabetic) {
            let unit = self.bump_while(char::is_alphanumeric);
            if matches!(unit, "dt" | "ns" | "us" | "µs" | "ms" | "s" | "im") {
                return Ok(TokenKind::Unit(format!("{text}{unit}")));
            }
            return Err(EngineError::at(
                pos,
                format!("unexpected '{unit}' after the number '{text}'"),
            ));
        }
        if real {
            // Digits, an optional '.', an exponent with digits: always a valid f64.
            let value: f64 = text
                .parse()
                .map_err(|_| EngineError::at(pos, format!("invalid number '{text}'")))?;
            return Ok(TokenKind::Float(value));
        }
        int_token(&text, 10, pos)
    }

    fn end_of_number(&mut self, pos: Position, digits: &str) -> Result<()> {
        if self
            .peek(0)
            .is_some_and(|c| c.is_alphanumeric() || c == '.')
        {
            return Err(EngineError::at(
                pos,
                format!("unexpected character after the number '{digits}'"),
            ));
        }
        Ok(())
    }

    fn string(&mut self, quote: char, pos: Position) -> Result<TokenKind> {
        self.bump();
        let text = self.bump_while(|c| c != quote && c != '\n');
        if self.bump() != Some(quote) {
            return Err(EngineError::at(
                pos,
                format!("unterminated string: expected a closing {quote}"),
            ));
        }
        Ok(TokenKind::Str(text.to_owned()))
    }

    fn symbol(&mut self, c: char, pos: Position) -> Result<TokenKind> {
        let found = symbols(c)
            .iter()
            .find(|symbol| {
                symbol
                    .chars()
                    .enumerate()
                    .skip(1)
                    .all(|(i, s)| self.peek(i) == Some(s))
            })
            .ok_or_else(|| {
                EngineError::at(pos, format!("unexpected character '{}'", c.escape_debug()))
            })?;
        // Symbols are ASCII and hold no newline.
        self.index += found.len();
        self.col += found.len() as u32;
        Ok(TokenKind::Symbol(found))
    }
}

/// `digits` without its `_` separators.
fn without_separators(digits: &str) -> Cow<'_, str> {
    if digits.contains('_') {
        Cow::Owned(digits.replace('_', ""))
    } else {
        Cow::Borrowed(digits)
    }
}

/// The token of an integer literal: inline up to 2^64 - 1, as words beyond (at most
/// `literal::MAX_INT_BITS` bits).
fn int_token(digits: &str, radix: u32, pos: Position) -> Result<TokenKind> {
    // `digits` holds digits of `radix` only: the one way not to fit is to be larger.
    match u64::from_str_radix(digits, radix) {
        Ok(value) => Ok(TokenKind::Int(value)),
        Err(_) => int_words(digits, radix, pos).map(TokenKind::WideInt),
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
    fn numbers_in_every_form() {
        use TokenKind::*;
        assert_eq!(
            kinds("1.0e-7 .5 2. 2e3 7 0x1F 0b1_01 0o17 1_000 100ns 2.5im"),
            vec![
                Float(1.0e-7),
                Float(0.5),
                Float(2.0),
                Float(2e3),
                Int(7),
                Int(31),
                Int(5),
                Int(15),
                Int(1000),
                Unit("100ns".into()),
                Unit("2.5im".into()),
                Eof
            ]
        );
        assert_eq!(kinds("0"), vec![Int(0), Eof]);
        // 2^64 - 1, 2^65 + 1
        assert_eq!(
            kinds("18_446_744_073_709_551_615 36893488147419103233"),
            vec![Int(u64::MAX), WideInt(vec![1, 2]), Eof]
        );
    }

    #[test]
    fn physical_qubits_keep_their_index() {
        use TokenKind::*;
        assert_eq!(
            kinds("$0 $017 $99999999999"),
            vec![
                PhysicalQubit(0),
                PhysicalQubit(17),
                PhysicalQubit(u32::MAX),
                Eof
            ]
        );
    }

    #[test]
    fn words_symbols_and_unicode_identifiers() {
        use TokenKind::*;
        assert_eq!(
            kinds("ctrl @ rx(θ) q[0], $1; c = measure q -> c; a<=b>>=2 /* c */ π"),
            vec![
                Word("ctrl".into()),
                Symbol("@"),
                Word("rx".into()),
                Symbol("("),
                Word("θ".into()),
                Symbol(")"),
                Word("q".into()),
                Symbol("["),
                Int(0),
                Symbol("]"),
                Symbol(","),
                PhysicalQubit(1),
                Symbol(";"),
                Word("c".into()),
                Symbol("="),
                Word("measure".into()),
                Word("q".into()),
                Symbol("->"),
                Word("c".into()),
                Symbol(";"),
                Word("a".into()),
                Symbol("<="),
                Word("b".into()),
                Symbol(">>="),
                Int(2),
                Word("π".into()),
                Eof
            ]
        );
    }

    #[test]
    fn positions_count_characters_and_skip_comments() {
        let tokens = tokenize("/* a\n b */ θ q;\n// x\nh").unwrap();
        let positions: Vec<_> = tokens.iter().map(|t| (t.pos.line, t.pos.col)).collect();
        assert_eq!(positions, vec![(2, 7), (2, 9), (2, 10), (4, 1), (4, 2)]);
        // Characters beyond ASCII in comments, whitespace and names count one column each.
        let tokens = tokenize("// é ✓\n\t\u{a0}aθb\u{2003}ψ; /* π */ x").unwrap();
        let found: Vec<_> = tokens
            .iter()
            .map(|t| (t.kind.clone(), t.pos.line, t.pos.col))
            .collect();
        assert_eq!(
            found,
            vec![
                (TokenKind::Word("aθb".into()), 2, 3),
                (TokenKind::Word("ψ".into()), 2, 7),
                (TokenKind::Symbol(";"), 2, 8),
                (TokenKind::Word("x".into()), 2, 18),
                (TokenKind::Eof, 2, 19)
            ]
        );
    }

    #[test]
    fn lexical_errors_say_where_and_what() {
        assert_eq!(error("x\n  ?"), (2, 3, "unexpected character '?'".into()));
        assert_eq!(
            error("h $;"),
            (
                1,
                3,
                "'$' must be followed by a physical qubit's index ($0, $1, …)".into()
            )
        );
        assert_eq!(
            error("include \"stdgates.inc;\n"),
            (1, 9, "unterminated string: expected a closing \"".into())
        );
        assert_eq!(
            error("x /* open"),
            (1, 3, "unterminated comment: expected a closing '*/'".into())
        );
        assert_eq!(
            error("2ab"),
            (1, 1, "unexpected 'ab' after the number '2'".into())
        );
        let wide = format!("0x1{}", "0".repeat(256));
        assert_eq!(
            error(&wide),
            (
                1,
                1,
                format!(
                    "integer '1{}' is too large (at most 1024 bits)",
                    "0".repeat(256)
                )
            )
        );
    }
}
