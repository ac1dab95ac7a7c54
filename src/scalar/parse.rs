//! A parser for arithmetic expressions in Python's syntax and precedence:
//! `+ - * / **`, unary minus and plus, parentheses, numbers (`3`, `0.5`, `1e-3`), names, and
//! calls of `exp log sqrt tanh sigmoid relu sin cos abs`.
//!
//! Grammar, loosest first (as Python's):
//! ```text
//! sum     := product (("+" | "-") product)*
//! product := unary (("*" | "/") unary)*
//! unary   := ("-" | "+") unary | power
//! power   := atom ("**" unary)?          // right-associative; `-x**2` is -(x**2)
//! atom    := number | name | name "(" sum ")" | "(" sum ")"
//! ```

/// The functions an expression may call.
pub const FUNCTIONS: [&str; 9] = [
    "exp", "log", "sqrt", "tanh", "sigmoid", "relu", "sin", "cos", "abs",
];

/// A binary operator.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum BinaryOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
    /// `**`
    Pow,
}

/// One node of a parsed expression.
#[derive(Debug, Clone, PartialEq)]
pub enum ExprKind {
    /// A numeric literal.
    Number(f64),
    /// A variable.
    Name(String),
    /// `-x` (`+x` parses to `x` itself).
    Neg(Box<Expr>),
    /// `a op b`.
    Binary(BinaryOp, Box<Expr>, Box<Expr>),
    /// `f(x)` for one of [`FUNCTIONS`].
    Call(String, Box<Expr>),
}

/// A parsed expression and the part of the source text it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    /// What it is.
    pub kind: ExprKind,
    /// Byte range of its source text.
    pub span: (usize, usize),
}

/// A syntax error: what is wrong, and where (a byte offset into the source).
#[derive(Debug, Clone, PartialEq)]
pub struct ParseError {
    /// What is wrong, e.g. "unknown function `foo`".
    pub message: String,
    /// Byte offset where the problem starts.
    pub offset: usize,
}

impl ParseError {
    /// The 1-based column (in characters) of the problem within `source`.
    pub fn column(&self, source: &str) -> usize {
        source[..self.offset.min(source.len())].chars().count() + 1
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Number(f64),
    Name(String),
    Symbol(&'static str),
    End,
}

/// How deeply sub-expressions may nest: deep enough for any formula a person writes, shallow
/// enough that the recursive parser and evaluator can never exhaust the stack.
pub const MAX_DEPTH: usize = 200;

struct Parser<'a> {
    source: &'a str,
    tokens: Vec<(Token, usize, usize)>,
    at: usize,
    depth: usize,
}

fn error<T>(message: impl Into<String>, offset: usize) -> Result<T, ParseError> {
    Err(ParseError {
        message: message.into(),
        offset,
    })
}

fn tokenize(source: &str) -> Result<Vec<(Token, usize, usize)>, ParseError> {
    let bytes = source.as_bytes();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        let start = i;
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        if c.is_ascii_digit() || (c == b'.' && bytes.get(i + 1).is_some_and(u8::is_ascii_digit)) {
            while i < bytes.len() && (bytes[i].is_ascii_digit() || bytes[i] == b'.') {
                i += 1;
            }
            if i < bytes.len() && (bytes[i] == b'e' || bytes[i] == b'E') {
                let mut j = i + 1;
                if j < bytes.len() && (bytes[j] == b'+' || bytes[j] == b'-') {
                    j += 1;
                }
                if j < bytes.len() && bytes[j].is_ascii_digit() {
                    i = j;
                    while i < bytes.len() && bytes[i].is_ascii_digit() {
                        i += 1;
                    }
                }
            }
            let text = &source[start..i];
            match text.parse::<f64>() {
                Ok(v) => tokens.push((Token::Number(v), start, i)),
                Err(_) => return error(format!("malformed number `{text}`"), start),
            }
        } else if c.is_ascii_alphabetic() || c == b'_' {
            while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                i += 1;
            }
            tokens.push((Token::Name(source[start..i].to_string()), start, i));
        } else {
            let symbol = match (c, bytes.get(i + 1)) {
                (b'*', Some(b'*')) => "**",
                (b'+', _) => "+",
                (b'-', _) => "-",
                (b'*', _) => "*",
                (b'/', _) => "/",
                (b'(', _) => "(",
                (b')', _) => ")",
                _ => {
                    let ch = source[start..].chars().next().unwrap_or('?');
                    return error(format!("unexpected character `{ch}`"), start);
                }
            };
            i += symbol.len();
            tokens.push((Token::Symbol(symbol), start, i));
        }
    }
    tokens.push((Token::End, source.len(), source.len()));
    Ok(tokens)
}

/// Parses `source` into an expression tree.
///
/// ```
/// use scratchgrad::scalar::parse::{parse, BinaryOp, ExprKind};
/// let e = parse("-x**2").unwrap();
/// assert!(matches!(e.kind, ExprKind::Neg(_))); // -(x**2), as in Python
/// let e = parse("2**3**2").unwrap(); // right-associative: 2**(3**2)
/// assert!(matches!(e.kind, ExprKind::Binary(BinaryOp::Pow, _, _)));
/// assert_eq!(parse("foo(x)").unwrap_err().message, "unknown function `foo` (known: exp, log, sqrt, tanh, sigmoid, relu, sin, cos, abs)");
/// ```
pub fn parse(source: &str) -> Result<Expr, ParseError> {
    let mut parser = Parser {
        source,
        tokens: tokenize(source)?,
        at: 0,
        depth: 0,
    };
    if parser.peek() == &Token::End {
        return error("the expression is empty", 0);
    }
    let expr = parser.sum()?;
    match parser.peek() {
        Token::End => Ok(expr),
        Token::Symbol(")") => error("unmatched `)`", parser.start()),
        _ => error(
            format!("expected an operator, found {}", parser.describe()),
            parser.start(),
        ),
    }
}

impl Parser<'_> {
    fn peek(&self) -> &Token {
        &self.tokens[self.at].0
    }
    fn start(&self) -> usize {
        self.tokens[self.at].1
    }
    fn end_of_previous(&self) -> usize {
        self.tokens[self.at - 1].2
    }
    fn describe(&self) -> String {
        let (_, s, e) = &self.tokens[self.at];
        if s == e {
            "the end of the expression".into()
        } else {
            format!("`{}`", &self.source[*s..*e])
        }
    }
    fn eat(&mut self, symbol: &str) -> bool {
        let found = matches!(self.peek(), Token::Symbol(s) if *s == symbol);
        self.at += found as usize;
        found
    }

    fn binary(op: BinaryOp, a: Expr, b: Expr) -> Expr {
        let span = (a.span.0, b.span.1);
        Expr {
            kind: ExprKind::Binary(op, Box::new(a), Box::new(b)),
            span,
        }
    }

    fn sum(&mut self) -> Result<Expr, ParseError> {
        let mut left = self.product()?;
        loop {
            let op = if self.eat("+") {
                BinaryOp::Add
            } else if self.eat("-") {
                BinaryOp::Sub
            } else {
                return Ok(left);
            };
            left = Self::binary(op, left, self.product()?);
        }
    }

    fn product(&mut self) -> Result<Expr, ParseError> {
        let mut left = self.unary()?;
        loop {
            let op = if self.eat("*") {
                BinaryOp::Mul
            } else if self.eat("/") {
                BinaryOp::Div
            } else {
                return Ok(left);
            };
            left = Self::binary(op, left, self.unary()?);
        }
    }

    /// Every cycle of the grammar passes through here, so this is where nesting is counted.
    fn unary(&mut self) -> Result<Expr, ParseError> {
        if self.depth == MAX_DEPTH {
            return error(
                format!("the expression nests more than {MAX_DEPTH} levels deep"),
                self.start(),
            );
        }
        self.depth += 1;
        let result = self.unary_inner();
        self.depth -= 1;
        result
    }

    fn unary_inner(&mut self) -> Result<Expr, ParseError> {
        let start = self.start();
        if self.eat("-") {
            let inner = self.unary()?;
            let span = (start, inner.span.1);
            return Ok(Expr {
                kind: ExprKind::Neg(Box::new(inner)),
                span,
            });
        }
        if self.eat("+") {
            return self.unary();
        }
        self.power()
    }

    fn power(&mut self) -> Result<Expr, ParseError> {
        let base = self.atom()?;
        if self.eat("**") {
            let exponent = self.unary()?;
            return Ok(Self::binary(BinaryOp::Pow, base, exponent));
        }
        Ok(base)
    }

    fn atom(&mut self) -> Result<Expr, ParseError> {
        let start = self.start();
        match self.peek().clone() {
            Token::Number(v) => {
                self.at += 1;
                Ok(Expr {
                    kind: ExprKind::Number(v),
                    span: (start, self.end_of_previous()),
                })
            }
            Token::Name(name) => {
                self.at += 1;
                if !self.eat("(") {
                    let span = (start, self.end_of_previous());
                    return Ok(Expr {
                        kind: ExprKind::Name(name),
                        span,
                    });
                }
                if !FUNCTIONS.contains(&name.as_str()) {
                    return error(
                        format!(
                            "unknown function `{name}` (known: {})",
                            FUNCTIONS.join(", ")
                        ),
                        start,
                    );
                }
                let argument = self.sum()?;
                if !self.eat(")") {
                    return error(
                        format!("expected `)` to close `{name}(`, found {}", self.describe()),
                        self.start(),
                    );
                }
                let span = (start, self.end_of_previous());
                Ok(Expr {
                    kind: ExprKind::Call(name, Box::new(argument)),
                    span,
                })
            }
            Token::Symbol("(") => {
                self.at += 1;
                let inner = self.sum()?;
                if !self.eat(")") {
                    return error(
                        format!(
                            "expected `)` to close the `(` at column {}, found {}",
                            start + 1,
                            self.describe()
                        ),
                        self.start(),
                    );
                }
                // The parentheses belong to the sub-expression's text.
                Ok(Expr {
                    kind: inner.kind,
                    span: (start, self.end_of_previous()),
                })
            }
            _ => error(
                format!("expected a number, name or `(`, found {}", self.describe()),
                start,
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(e: &Expr) -> String {
        match &e.kind {
            ExprKind::Number(v) => format!("{v}"),
            ExprKind::Name(n) => n.clone(),
            ExprKind::Neg(x) => format!("(-{})", shape(x)),
            ExprKind::Binary(op, a, b) => {
                let s = match op {
                    BinaryOp::Add => "+",
                    BinaryOp::Sub => "-",
                    BinaryOp::Mul => "*",
                    BinaryOp::Div => "/",
                    BinaryOp::Pow => "**",
                };
                format!("({} {s} {})", shape(a), shape(b))
            }
            ExprKind::Call(f, x) => format!("{f}({})", shape(x)),
        }
    }

    #[test]
    fn precedence_is_pythons() {
        let cases = [
            ("-x**2", "(-(x ** 2))"),
            ("2**3**2", "(2 ** (3 ** 2))"),
            ("x ** -1", "(x ** (-1))"),
            ("a - b - c", "((a - b) - c)"),
            ("a / b * c", "((a / b) * c)"),
            ("a + b * c ** 2", "(a + (b * (c ** 2)))"),
            ("-2 ** -x", "(-(2 ** (-x)))"),
            ("exp(-x) * +y", "(exp((-x)) * y)"),
            ("1e-3 + .5 + 2.", "((0.001 + 0.5) + 2)"),
        ];
        for (source, want) in cases {
            assert_eq!(shape(&parse(source).unwrap()), want, "{source}");
        }
    }

    #[test]
    fn errors_point_at_the_column() {
        let cases = [
            ("x + * y", 5, "expected a number, name or `(`, found `*`"),
            ("(x + y", 7, "expected `)` to close the `(` at column 1, found the end of the expression"),
            ("x y", 3, "expected an operator, found `y`"),
            ("x + 2 $", 7, "unexpected character `$`"),
            ("", 1, "the expression is empty"),
            ("x)", 2, "unmatched `)`"),
            ("1.2.3", 1, "malformed number `1.2.3`"),
            ("foo(x)", 1, "unknown function `foo` (known: exp, log, sqrt, tanh, sigmoid, relu, sin, cos, abs)"),
        ];
        for (source, column, message) in cases {
            let err = parse(source).unwrap_err();
            assert_eq!(
                (err.column(source), err.message.as_str()),
                (column, message),
                "{source}"
            );
        }
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let deep = format!("{}x{}", "(".repeat(100_000), ")".repeat(100_000));
        assert!(parse(&deep)
            .unwrap_err()
            .message
            .contains("nests more than"));
        assert!(parse(&"-".repeat(100_000)).is_err());
        assert!(parse(&format!("{}x", "-".repeat(150))).is_ok());
    }

    #[test]
    fn spans_cover_the_source_text() {
        let source = "(x + y) * z";
        let e = parse(source).unwrap();
        let ExprKind::Binary(_, left, _) = &e.kind else {
            panic!()
        };
        assert_eq!(&source[left.span.0..left.span.1], "(x + y)");
    }
}
