//! A parser for arithmetic expressions in Python's syntax and precedence:
//! `+ - * / **`, unary minus and plus, parentheses, numbers (`3`, `0.5`, `1e-3`), names, and
//! calls of the scalar engine's functions (`exp log sqrt tanh sigmoid relu sin cos abs`).
//!
//! Grammar, loosest first (as Python's):
//! ```text
//! sum     := product (("+" | "-") product)*
//! product := unary (("*" | "/") unary)*
//! unary   := ("-" | "+") unary | power
//! power   := atom ("**" unary)?          // right-associative; `-x**2` is -(x**2)
//! atom    := number | name | name "(" sum ")" | "(" sum ")"
//! ```
//!
//! The result is a flat list of nodes, each operation after its operands, so everything that
//! walks an expression (evaluating it, finding its names, dropping it) is a loop: a sum of a
//! hundred thousand terms is as safe as a short one. Only nesting (parentheses, unary signs,
//! powers) recurses while parsing, and it is capped at [`MAX_DEPTH`].

use super::backward::FUNCTION_NAMES;

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

/// What one node of a parsed expression is. Operands are indices of earlier nodes.
#[derive(Debug, Clone, PartialEq)]
pub enum NodeKind {
    /// A numeric literal.
    Number(f64),
    /// A variable.
    Name(String),
    /// `-x` (`+x` parses to `x` itself).
    Neg(usize),
    /// `a op b`.
    Binary(BinaryOp, usize, usize),
    /// `f(x)` for one of the engine's functions ([`function_names`]).
    Call(String, usize),
}

/// One node of a parsed expression and the part of the source text it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// What it is.
    pub kind: NodeKind,
    /// Byte range of its source text.
    pub span: (usize, usize),
}

impl Node {
    /// The nodes this one reads, in order.
    pub fn operands(&self) -> Vec<usize> {
        match self.kind {
            NodeKind::Number(_) | NodeKind::Name(_) => vec![],
            NodeKind::Neg(x) | NodeKind::Call(_, x) => vec![x],
            NodeKind::Binary(_, a, b) => vec![a, b],
        }
    }
}

/// A parsed expression: its nodes, every operation after its operands; the last is the whole
/// expression.
#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    /// The nodes in evaluation order.
    pub nodes: Vec<Node>,
}

impl Expr {
    /// For each node, whether its value depends on a name (a constant otherwise).
    pub fn has_names(&self) -> Vec<bool> {
        let mut has = Vec::with_capacity(self.nodes.len());
        for node in &self.nodes {
            let own = matches!(node.kind, NodeKind::Name(_));
            has.push(own || node.operands().iter().any(|&i| has[i]));
        }
        has
    }

    /// Each name and the byte offset of its first use, in order of first use.
    pub fn names(&self) -> Vec<(String, usize)> {
        let mut names: Vec<(String, usize)> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for node in &self.nodes {
            if let NodeKind::Name(n) = &node.kind {
                if seen.insert(n.as_str()) {
                    names.push((n.clone(), node.span.0));
                }
            }
        }
        names
    }
}

/// The functions an expression may call.
pub fn function_names() -> &'static [&'static str] {
    FUNCTION_NAMES
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
/// enough that the recursive parser can never exhaust the stack.
pub const MAX_DEPTH: usize = 200;

struct Parser<'a> {
    source: &'a str,
    tokens: Vec<(Token, usize, usize)>,
    at: usize,
    depth: usize,
    nodes: Vec<Node>,
}

fn error<T>(message: impl Into<String>, offset: usize) -> Result<T, ParseError> {
    Err(ParseError {
        message: message.into(),
        offset,
    })
}

/// A number at `bytes[start..]`: digits and dots, then an optional exponent.
fn number_end(bytes: &[u8], start: usize) -> usize {
    let mut i = start;
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
    i
}

/// What to say about a character no token starts with.
fn unexpected(ch: char) -> String {
    let hint = match ch {
        '^' => " (powers are written `**`, as in Python)",
        '=' => " (an expression has no `=`; give values after it as NAME=VALUE)",
        '[' | '{' => " (group with `(` and `)`)",
        _ => "",
    };
    format!("unexpected character `{}`{hint}", ch.escape_debug())
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
            i = number_end(bytes, start);
            let text = &source[start..i];
            match text.parse::<f64>() {
                Ok(v) if v.is_finite() => tokens.push((Token::Number(v), start, i)),
                Ok(_) => {
                    return error(
                        format!("the number `{text}` is too large for a 64-bit float (the largest is about 1.8e308)"),
                        start,
                    )
                }
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
                    return error(unexpected(ch), start);
                }
            };
            i += symbol.len();
            tokens.push((Token::Symbol(symbol), start, i));
        }
    }
    tokens.push((Token::End, source.len(), source.len()));
    Ok(tokens)
}

/// Parses `source` into its nodes.
///
/// ```
/// use scratchgrad::scalar::parse::{parse, BinaryOp, NodeKind};
/// let e = parse("-x**2").unwrap();
/// assert!(matches!(e.nodes.last().unwrap().kind, NodeKind::Neg(_))); // -(x**2), as in Python
/// let e = parse("2**3**2").unwrap(); // right-associative: 2**(3**2)
/// assert!(matches!(e.nodes.last().unwrap().kind, NodeKind::Binary(BinaryOp::Pow, 0, _)));
/// assert_eq!(parse("foo(x)").unwrap_err().message, "unknown function `foo` (known: exp, log, sqrt, tanh, sigmoid, relu, sin, cos, abs)");
/// ```
pub fn parse(source: &str) -> Result<Expr, ParseError> {
    let mut parser = Parser {
        source,
        tokens: tokenize(source)?,
        at: 0,
        depth: 0,
        nodes: Vec::new(),
    };
    if parser.peek() == &Token::End {
        return error("the expression is empty", 0);
    }
    parser.sum()?;
    match parser.peek() {
        Token::End => Ok(Expr {
            nodes: parser.nodes,
        }),
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

    fn push(&mut self, kind: NodeKind, span: (usize, usize)) -> usize {
        self.nodes.push(Node { kind, span });
        self.nodes.len() - 1
    }

    fn binary(&mut self, op: BinaryOp, a: usize, b: usize) -> usize {
        let span = (self.nodes[a].span.0, self.nodes[b].span.1);
        self.push(NodeKind::Binary(op, a, b), span)
    }

    fn sum(&mut self) -> Result<usize, ParseError> {
        let mut left = self.product()?;
        loop {
            let op = if self.eat("+") {
                BinaryOp::Add
            } else if self.eat("-") {
                BinaryOp::Sub
            } else {
                return Ok(left);
            };
            let right = self.product()?;
            left = self.binary(op, left, right);
        }
    }

    fn product(&mut self) -> Result<usize, ParseError> {
        let mut left = self.unary()?;
        loop {
            let op = if self.eat("*") {
                BinaryOp::Mul
            } else if self.eat("/") {
                BinaryOp::Div
            } else {
                return Ok(left);
            };
            let right = self.unary()?;
            left = self.binary(op, left, right);
        }
    }

    /// Every cycle of the grammar passes through here, so this is where nesting is counted.
    fn unary(&mut self) -> Result<usize, ParseError> {
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

    fn unary_inner(&mut self) -> Result<usize, ParseError> {
        let start = self.start();
        if self.eat("-") {
            let inner = self.unary()?;
            let span = (start, self.nodes[inner].span.1);
            return Ok(self.push(NodeKind::Neg(inner), span));
        }
        if self.eat("+") {
            return self.unary();
        }
        self.power()
    }

    fn power(&mut self) -> Result<usize, ParseError> {
        let base = self.atom()?;
        if self.eat("**") {
            let exponent = self.unary()?;
            return Ok(self.binary(BinaryOp::Pow, base, exponent));
        }
        Ok(base)
    }

    fn atom(&mut self) -> Result<usize, ParseError> {
        let start = self.start();
        match self.peek().clone() {
            Token::Number(v) => {
                self.at += 1;
                let span = (start, self.end_of_previous());
                Ok(self.push(NodeKind::Number(v), span))
            }
            Token::Name(name) => {
                self.at += 1;
                if !self.eat("(") {
                    let span = (start, self.end_of_previous());
                    return Ok(self.push(NodeKind::Name(name), span));
                }
                if !FUNCTION_NAMES.contains(&name.as_str()) {
                    return error(
                        format!(
                            "unknown function `{name}` (known: {})",
                            FUNCTION_NAMES.join(", ")
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
                Ok(self.push(NodeKind::Call(name, argument), span))
            }
            Token::Symbol("(") => {
                self.at += 1;
                let inner = self.sum()?;
                if !self.eat(")") {
                    let column = self.source[..start].chars().count() + 1;
                    return error(
                        format!(
                            "expected `)` to close the `(` at column {column}, found {}",
                            self.describe()
                        ),
                        self.start(),
                    );
                }
                // The parentheses belong to the sub-expression's text.
                self.nodes[inner].span = (start, self.end_of_previous());
                Ok(inner)
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
        let mut shown: Vec<String> = Vec::new();
        for node in &e.nodes {
            let s = match &node.kind {
                NodeKind::Number(v) => format!("{v}"),
                NodeKind::Name(n) => n.clone(),
                NodeKind::Neg(x) => format!("(-{})", shown[*x]),
                NodeKind::Binary(op, a, b) => {
                    let s = match op {
                        BinaryOp::Add => "+",
                        BinaryOp::Sub => "-",
                        BinaryOp::Mul => "*",
                        BinaryOp::Div => "/",
                        BinaryOp::Pow => "**",
                    };
                    format!("({} {s} {})", shown[*a], shown[*b])
                }
                NodeKind::Call(f, x) => format!("{f}({})", shown[*x]),
            };
            shown.push(s);
        }
        shown.pop().unwrap()
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
            ("x ^ 2", 3, "unexpected character `^` (powers are written `**`, as in Python)"),
            ("", 1, "the expression is empty"),
            ("x)", 2, "unmatched `)`"),
            ("1.2.3", 1, "malformed number `1.2.3`"),
            ("2 * 1e309", 5, "the number `1e309` is too large for a 64-bit float (the largest is about 1.8e308)"),
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
    fn long_flat_chains_parse_into_a_flat_list() {
        // 200,000 terms: the tree is 200,000 deep, the list is not.
        let long = vec!["x"; 200_000].join("+");
        let e = parse(&long).unwrap();
        assert_eq!(e.nodes.len(), 399_999);
        assert_eq!(e.names(), vec![("x".to_string(), 0)]);
        assert!(e.has_names().iter().all(|&h| h));
    }

    #[test]
    fn spans_cover_the_source_text() {
        let source = "(x + y) * z";
        let e = parse(source).unwrap();
        let NodeKind::Binary(_, left, _) = e.nodes.last().unwrap().kind else {
            panic!()
        };
        let (a, b) = e.nodes[left].span;
        assert_eq!(&source[a..b], "(x + y)");
    }

    #[test]
    fn the_function_list_is_the_engines() {
        for name in function_names() {
            assert!(super::super::Value::new(0.5).call(name).is_some(), "{name}");
        }
    }
}
