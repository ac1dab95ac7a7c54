//! Evaluating a parsed expression with the scalar engine: bind names to values, build the
//! graph, run backward, and refuse non-finite results, naming the sub-expression responsible.
//!
//! Everything here is a loop over the parsed nodes (operands before the operations that read
//! them), so time and memory grow with the expression's length, never faster, and no
//! expression is too long to evaluate.

use std::collections::{HashMap, HashSet};

use super::parse::{parse, BinaryOp, Expr, NodeKind, ParseError};
use super::Value;
use crate::text::{elide, MAX_LABEL_CHARS};

/// The value of an expression and its gradient with respect to each name.
pub struct Evaluation {
    /// The root of the graph (for pictures: [`Value::to_dot`]).
    pub output: Value,
    /// d(output)/d(name) for each name, in the order the bindings were given.
    pub gradients: Vec<(String, f64)>,
}

/// Why an expression could not be evaluated. `offset` (a byte offset into the expression)
/// says where, when there is a place to point at.
#[derive(Debug, Clone, PartialEq)]
pub struct EvalError {
    /// One line: what is wrong and how to fix it.
    pub message: String,
    /// Where in the expression, if anywhere.
    pub offset: Option<usize>,
}

impl From<ParseError> for EvalError {
    fn from(e: ParseError) -> Self {
        EvalError {
            message: e.message,
            offset: Some(e.offset),
        }
    }
}

impl std::fmt::Display for EvalError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for EvalError {}

fn fail<T>(message: String, offset: Option<usize>) -> Result<T, EvalError> {
    Err(EvalError { message, offset })
}

/// The parsed expression beside the graph built for it.
struct Built<'a> {
    source: &'a str,
    expr: Expr,
    /// The graph node of each parsed node.
    values: Vec<Value>,
    /// Whether each node's value depends on a name.
    has_names: Vec<bool>,
    /// Whether each node is part of the output's graph (a constant exponent is read as a
    /// number, so its own nodes are not).
    in_graph: Vec<bool>,
}

impl Built<'_> {
    /// The operands whose graph nodes node `i` was built from, in the order its local
    /// derivatives come.
    fn graph_operands(&self, i: usize) -> Vec<usize> {
        match self.expr.nodes[i].kind {
            NodeKind::Binary(BinaryOp::Pow, a, b) if !self.has_names[b] => vec![a],
            _ => self.expr.nodes[i].operands(),
        }
    }

    /// The source text of node `i`, shortened to a label.
    fn label(&self, i: usize) -> String {
        let (start, end) = self.expr.nodes[i].span;
        elide(self.source[start..end].trim(), MAX_LABEL_CHARS)
    }

    fn offset(&self, i: usize) -> usize {
        self.expr.nodes[i].span.0
    }
}

/// Parses `source`, binds each `(name, value)`, computes the value and every gradient.
///
/// ```
/// use scratchgrad::scalar::evaluate::evaluate;
/// let e = evaluate("(x + y) * z", &[("x".into(), -2.0), ("y".into(), 5.0), ("z".into(), -4.0)]).unwrap();
/// assert_eq!(e.output.data(), -12.0);
/// assert_eq!(e.gradients[2], ("z".to_string(), 3.0));
/// let err = evaluate("log(x)", &[("x".into(), -1.0)]).err().unwrap();
/// assert_eq!(err.message, "`log(x)` is NaN: check the values given to its names");
/// ```
pub fn evaluate(source: &str, bindings: &[(String, f64)]) -> Result<Evaluation, EvalError> {
    let expr = parse(source)?;
    let names = expr.names();
    let used: HashSet<&str> = names.iter().map(|(n, _)| n.as_str()).collect();
    let mut variables: HashMap<&str, Value> = HashMap::new();
    for (name, value) in bindings {
        let shown = elide(name, MAX_LABEL_CHARS);
        if variables
            .insert(name, Value::new(*value).with_label(shown.clone()))
            .is_some()
        {
            return fail(
                format!("`{shown}` is given a value twice: give each name once"),
                None,
            );
        }
        if !used.contains(name.as_str()) {
            return fail(format!("`{shown}` is given a value but the expression does not use it: remove {shown}=..."), None);
        }
    }
    for (name, offset) in &names {
        if !variables.contains_key(name.as_str()) {
            let shown = elide(name, MAX_LABEL_CHARS);
            return fail(
                format!("`{shown}` has no value: add {shown}=NUMBER"),
                Some(*offset),
            );
        }
    }

    let built = build(source, expr, &variables);
    let in_graph = |i: &usize| built.in_graph[*i];
    let non_finite = (0..built.values.len())
        .filter(in_graph)
        .find(|&i| !built.values[i].data().is_finite());
    if let Some(i) = non_finite {
        let (text, what) = (built.label(i), describe(built.values[i].data()));
        let advice = if built.has_names[i] {
            "check the values given to its names"
        } else {
            "it is so whatever the values: change that part of the expression"
        };
        return fail(
            format!("`{text}` is {what}: {advice}"),
            Some(built.offset(i)),
        );
    }

    let output = built
        .values
        .last()
        .expect("a parsed expression has a node")
        .clone();
    output.backward();
    let gradients: Vec<(String, f64)> = bindings
        .iter()
        .map(|(name, _)| (name.clone(), variables[name.as_str()].grad()))
        .collect();
    if gradients.iter().any(|(_, g)| !g.is_finite()) {
        let i = blame_gradient(&built);
        return fail(format!("the gradient through `{}` is not finite (its derivative is infinite or undefined here): try other values", built.label(i)), Some(built.offset(i)));
    }
    Ok(Evaluation { output, gradients })
}

fn describe(x: f64) -> &'static str {
    if x.is_nan() {
        "NaN"
    } else if x > 0.0 {
        "+inf"
    } else {
        "-inf"
    }
}

/// Builds the graph, one node at a time, each labelled with (a short form of) its text.
fn build<'a>(source: &'a str, expr: Expr, variables: &HashMap<&str, Value>) -> Built<'a> {
    let has_names = expr.has_names();
    let mut built = Built {
        source,
        values: Vec::with_capacity(expr.nodes.len()),
        in_graph: Vec::new(),
        has_names,
        expr,
    };
    for i in 0..built.expr.nodes.len() {
        let values = &built.values;
        let value = match &built.expr.nodes[i].kind {
            NodeKind::Number(v) => Value::new(*v),
            // A name is its variable's node, labelled with the name already.
            NodeKind::Name(n) => {
                let variable = variables[n.as_str()].clone();
                built.values.push(variable);
                continue;
            }
            NodeKind::Neg(x) => -&values[*x],
            NodeKind::Call(f, x) => values[*x]
                .call(f)
                .expect("the parser accepts only the engine's own function names"),
            // A constant exponent (no names in it) is a number, not a node that wants a
            // gradient: d(x^c)/dc = x^c ln(x) would be NaN for negative x, and c needs none.
            NodeKind::Binary(BinaryOp::Pow, a, b) if !built.has_names[*b] => {
                values[*a].powf(values[*b].data())
            }
            NodeKind::Binary(op, a, b) => {
                let (a, b) = (&values[*a], &values[*b]);
                match op {
                    BinaryOp::Add => a + b,
                    BinaryOp::Sub => a - b,
                    BinaryOp::Mul => a * b,
                    BinaryOp::Div => a / b,
                    BinaryOp::Pow => a.pow(b),
                }
            }
        };
        let label = built.label(i);
        built.values.push(value.with_label(label));
    }
    // Which nodes the output reads, walking from the output back towards the inputs.
    let mut in_graph = vec![false; built.values.len()];
    if let Some(last) = in_graph.last_mut() {
        *last = true;
    }
    for i in (0..in_graph.len()).rev() {
        if in_graph[i] {
            for j in built.graph_operands(i) {
                in_graph[j] = true;
            }
        }
    }
    built.in_graph = in_graph;
    built
}

/// The sub-expression whose own derivative turned a finite gradient into a non-finite one on
/// its way to a name: the first such node walking from the output towards the inputs.
fn blame_gradient(built: &Built) -> usize {
    for i in (0..built.values.len()).rev() {
        let node = &built.values[i];
        if !built.in_graph[i] || node.is_leaf() || !node.grad().is_finite() {
            continue;
        }
        let operands = built.graph_operands(i);
        let locals = node.local_gradients();
        let bad = operands
            .iter()
            .zip(&locals)
            .any(|(&j, (_, local))| built.has_names[j] && !(node.grad() * local).is_finite());
        if bad {
            return i;
        }
    }
    built.values.len() - 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(source: &str, bindings: &[(&str, f64)]) -> Result<Evaluation, EvalError> {
        let b: Vec<(String, f64)> = bindings.iter().map(|(n, v)| (n.to_string(), *v)).collect();
        evaluate(source, &b)
    }

    #[test]
    fn names_and_values_must_match() {
        assert_eq!(
            run("x + y", &[("x", 1.0)]).err().unwrap().message,
            "`y` has no value: add y=NUMBER"
        );
        assert_eq!(run("x + y", &[("x", 1.0)]).err().unwrap().offset, Some(4));
        assert!(run("x", &[("x", 1.0), ("w", 2.0)])
            .err()
            .unwrap()
            .message
            .contains("does not use it"));
        assert!(run("x", &[("x", 1.0), ("x", 2.0)])
            .err()
            .unwrap()
            .message
            .contains("twice"));
    }

    #[test]
    fn non_finite_results_name_the_culprit() {
        let e = run("x + 1/(y - 2)", &[("x", 1.0), ("y", 2.0)])
            .err()
            .unwrap();
        assert_eq!(
            e.message,
            "`1/(y - 2)` is +inf: check the values given to its names"
        );
        assert_eq!(e.offset, Some(4));
        let e = run("x * sqrt(y)", &[("x", 1.0), ("y", 0.0)]).err().unwrap();
        assert!(
            e.message
                .starts_with("the gradient through `sqrt(y)` is not finite"),
            "{}",
            e.message
        );
        // A constant part has no names to blame.
        let e = run("x + exp(1000)", &[("x", 1.0)]).err().unwrap();
        assert_eq!(
            e.message,
            "`exp(1000)` is +inf: it is so whatever the values: change that part of the expression"
        );
    }

    #[test]
    fn constant_exponents_and_repeated_names() {
        let e = run("x ** -1 + x", &[("x", -2.0)]).unwrap();
        assert_eq!(e.output.data(), -2.5);
        assert_eq!(e.gradients, vec![("x".to_string(), 1.0 - 0.25)]); // -x^-2 + 1
    }

    #[test]
    fn long_flat_chains_evaluate_with_short_labels() {
        // x + x + ... (100,000 terms) and x * 1 * 1 ...: once a stack overflow (the graph was
        // built recursively) and quadratic memory (each label was its whole sub-expression).
        for (op, want_grad) in [("+", 100_000.0), ("*", 1.0), ("-", -99_998.0)] {
            let terms = if op == "*" {
                vec!["x"; 1]
                    .into_iter()
                    .chain(vec!["1"; 99_999])
                    .collect::<Vec<_>>()
            } else {
                vec!["x"; 100_000]
            };
            let e = run(&terms.join(op), &[("x", 1.0)]).unwrap();
            assert_eq!(e.gradients[0].1, want_grad, "{op}");
            assert!(e.output.label().chars().count() <= MAX_LABEL_CHARS);
        }
    }

    #[test]
    fn a_non_finite_gradient_in_a_long_chain_is_found_in_linear_time() {
        let long = format!("{} + sqrt(y)", vec!["x"; 50_000].join(" + "));
        let e = run(&long, &[("x", 1.0), ("y", 0.0)]).err().unwrap();
        assert!(
            e.message.starts_with("the gradient through `sqrt(y)`"),
            "{}",
            e.message
        );
    }
}
