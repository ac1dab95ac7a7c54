//! Evaluating a parsed expression with the scalar engine: bind names to values, build the
//! graph, run backward, and refuse non-finite results, naming the sub-expression responsible.

use std::collections::HashMap;
use std::rc::Rc;

use super::parse::{parse, BinaryOp, Expr, ExprKind, ParseError};
use super::Value;

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

fn fail<T>(message: String, offset: Option<usize>) -> Result<T, EvalError> {
    Err(EvalError { message, offset })
}

/// Graph nodes built for sub-expressions, with the source text they came from.
struct Built {
    nodes: Vec<(Value, usize, String)>,
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
    let mut uses = Vec::new();
    collect_names(&expr, &mut uses);
    let mut variables: HashMap<&str, Value> = HashMap::new();
    for (name, value) in bindings {
        if variables
            .insert(name, Value::new(*value).with_label(name.clone()))
            .is_some()
        {
            return fail(
                format!("`{name}` is given a value twice: give each name once"),
                None,
            );
        }
        if !uses.iter().any(|(n, _)| n == name) {
            return fail(format!("`{name}` is given a value but the expression does not use it: remove {name}=..."), None);
        }
    }
    for (name, offset) in &uses {
        if !variables.contains_key(name.as_str()) {
            return fail(
                format!("`{name}` has no value: add {name}=NUMBER"),
                Some(*offset),
            );
        }
    }

    let mut built = Built { nodes: Vec::new() };
    let output = build(&expr, source, &variables, &mut built);
    if let Some((value, offset, text)) = built.nodes.iter().find(|(v, _, _)| !v.data().is_finite())
    {
        let what = describe(value.data());
        return fail(
            format!("`{text}` is {what}: check the values given to its names"),
            Some(*offset),
        );
    }

    output.backward();
    let gradients: Vec<(String, f64)> = bindings
        .iter()
        .map(|(name, _)| (name.clone(), variables[name.as_str()].grad()))
        .collect();
    if gradients.iter().any(|(_, g)| !g.is_finite()) {
        let (offset, text) = blame_gradient(&built, &variables);
        return fail(format!("the gradient through `{text}` is not finite (its derivative is infinite or undefined here): try other values"), Some(offset));
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

fn collect_names(expr: &Expr, out: &mut Vec<(String, usize)>) {
    match &expr.kind {
        ExprKind::Number(_) => {}
        ExprKind::Name(n) => {
            if !out.iter().any(|(m, _)| m == n) {
                out.push((n.clone(), expr.span.0));
            }
        }
        ExprKind::Neg(x) | ExprKind::Call(_, x) => collect_names(x, out),
        ExprKind::Binary(_, a, b) => {
            collect_names(a, out);
            collect_names(b, out);
        }
    }
}

/// Builds the graph for `expr` (inputs before outputs in `built.nodes`), each node labelled
/// with its source text.
fn build(expr: &Expr, source: &str, variables: &HashMap<&str, Value>, built: &mut Built) -> Value {
    let text = source[expr.span.0..expr.span.1].trim().to_string();
    let value = match &expr.kind {
        ExprKind::Number(v) => Value::new(*v),
        ExprKind::Name(n) => return variables[n.as_str()].clone(),
        ExprKind::Neg(x) => -build(x, source, variables, built),
        ExprKind::Call(f, x) => build(x, source, variables, built)
            .call(f)
            .unwrap_or_else(|| unreachable!("the parser accepts only known functions, not {f}")),
        // A constant exponent (no names in it) is a number, not a node that wants a gradient:
        // d(x^c)/dc = x^c ln(x) would be NaN for negative x, and c needs none.
        ExprKind::Binary(BinaryOp::Pow, a, b) if !has_names(b) => {
            let a = build(a, source, variables, built);
            let exponent = build(b, source, variables, &mut Built { nodes: Vec::new() }).data();
            a.powf(exponent)
        }
        ExprKind::Binary(op, a, b) => {
            let (a, b) = (
                build(a, source, variables, built),
                build(b, source, variables, built),
            );
            match op {
                BinaryOp::Add => a + b,
                BinaryOp::Sub => a - b,
                BinaryOp::Mul => a * b,
                BinaryOp::Div => a / b,
                BinaryOp::Pow => a.pow(&b),
            }
        }
    };
    let value = value.with_label(text.clone());
    built.nodes.push((value.clone(), expr.span.0, text));
    value
}

fn has_names(expr: &Expr) -> bool {
    let mut names = Vec::new();
    collect_names(expr, &mut names);
    !names.is_empty()
}

/// The sub-expression whose own derivative turned a finite gradient into a non-finite one on
/// its way to a name: the first such node walking from the output towards the inputs.
fn blame_gradient(built: &Built, variables: &HashMap<&str, Value>) -> (usize, String) {
    let depends = |v: &Value| {
        let mut on_variable = false;
        for node in v.topological_order() {
            on_variable |= variables.values().any(|var| Rc::ptr_eq(&var.0, &node.0));
        }
        on_variable
    };
    for (node, offset, text) in built.nodes.iter().rev() {
        if !node.grad().is_finite() {
            continue;
        }
        let bad = node
            .local_gradients()
            .iter()
            .any(|(input, local)| !(node.grad() * local).is_finite() && depends(input));
        if bad {
            return (*offset, text.clone());
        }
    }
    let (_, offset, text) = built
        .nodes
        .last()
        .expect("an expression builds at least one node");
    (*offset, text.clone())
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
    }

    #[test]
    fn constant_exponents_and_repeated_names() {
        let e = run("x ** -1 + x", &[("x", -2.0)]).unwrap();
        assert_eq!(e.output.data(), -2.5);
        assert_eq!(e.gradients, vec![("x".to_string(), 1.0 - 0.25)]); // -x^-2 + 1
    }
}
