//! The scalar engine and the `grad` command against PyTorch float64.
//!
//! `crates/scratchgrad/tests/fixtures/scalar_expressions.json` was written by `tools/torch_scalar_reference.py`:
//! 60 random expressions in Python syntax covering every operator and function, their
//! values, and PyTorch's value and gradients. Required agreement: 1e-12 relative, for both
//! scalar engines (the graph of `Value`s and the `Tape`) and for the CLI.

use std::process::Command;

use std::collections::HashMap;

use scratchgrad::scalar::evaluate::evaluate;
use scratchgrad::scalar::parse::{parse, BinaryOp, Expr, NodeKind};
use scratchgrad::scalar::{Tape, Var};
use serde_json::Value as Json;

fn cases() -> Vec<Json> {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../scratchgrad/tests/fixtures/scalar_expressions.json"
    ))
    .expect("fixture present");
    let doc: Json = serde_json::from_str(&text).expect("fixture is JSON");
    let cases = doc["cases"].as_array().expect("cases").clone();
    assert!(
        cases.len() >= 30,
        "the fixture must hold at least 30 expressions"
    );
    cases
}

fn bindings(case: &Json) -> Vec<(String, f64)> {
    case["values"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_f64().unwrap()))
        .collect()
}

fn close(got: f64, want: f64) -> bool {
    (got - want).abs() <= 1e-12 * got.abs().max(want.abs()) || got == want
}

fn check(source: &str, expr: &str, value: f64, grads: &[(String, f64)], case: &Json) {
    let want = case["value"].as_f64().unwrap();
    assert!(
        close(value, want),
        "{source}: {expr}: value {value:e}, PyTorch {want:e}"
    );
    for (name, g) in grads {
        let want = case["gradients"][name].as_f64().unwrap();
        assert!(
            close(*g, want),
            "{source}: {expr}: d/d{name} {g:e}, PyTorch {want:e}"
        );
    }
}

#[test]
fn library_matches_pytorch() {
    for case in cases() {
        let expr = case["expr"].as_str().unwrap();
        let result =
            evaluate(expr, &bindings(&case)).unwrap_or_else(|e| panic!("{expr}: {}", e.message));
        check(
            "library",
            expr,
            result.output.data(),
            &result.gradients,
            &case,
        );
    }
}

/// The expression recorded on a `Tape` (the fast engine), built like `evaluate` builds the
/// graph of `Value`s: a constant exponent (one without names) is a number, not an input.
fn on_tape<'t>(expr: &Expr, tape: &'t Tape, vars: &HashMap<String, Var<'t>>) -> Var<'t> {
    let has_names = expr.has_names();
    let mut done: Vec<Var<'t>> = Vec::with_capacity(expr.nodes.len());
    for node in &expr.nodes {
        let var = match &node.kind {
            NodeKind::Number(v) => tape.var(*v),
            NodeKind::Name(n) => vars[n],
            NodeKind::Neg(x) => -done[*x],
            NodeKind::Call(f, x) => done[*x]
                .call(f)
                .unwrap_or_else(|| panic!("unknown function {f}")),
            NodeKind::Binary(op, a, b) => {
                let (a_var, b_var) = (done[*a], done[*b]);
                match op {
                    BinaryOp::Pow if !has_names[*b] => a_var.powf(b_var.data()),
                    BinaryOp::Pow => a_var.pow(b_var),
                    BinaryOp::Add => a_var + b_var,
                    BinaryOp::Sub => a_var - b_var,
                    BinaryOp::Mul => a_var * b_var,
                    BinaryOp::Div => a_var / b_var,
                }
            }
        };
        done.push(var);
    }
    *done.last().expect("a parsed expression has a node")
}

#[test]
fn tape_matches_pytorch() {
    for case in cases() {
        let expr = case["expr"].as_str().unwrap();
        let tape = Tape::new();
        let vars: HashMap<String, Var> = bindings(&case)
            .into_iter()
            .map(|(name, v)| (name, tape.var(v)))
            .collect();
        let out = on_tape(&parse(expr).expect("fixture parses"), &tape, &vars);
        let grads = out.backward();
        let grads: Vec<(String, f64)> = vars.iter().map(|(n, &v)| (n.clone(), grads[v])).collect();
        check("tape", expr, out.data(), &grads, &case);
    }
}

#[test]
fn cli_json_matches_pytorch() {
    for case in cases() {
        let expr = case["expr"].as_str().unwrap();
        let args: Vec<String> = bindings(&case)
            .iter()
            .map(|(n, v)| format!("{n}={v}"))
            .collect();
        let out = Command::new(env!("CARGO_BIN_EXE_scratchgrad"))
            .args(["grad", expr])
            .args(&args)
            .arg("--json")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{expr}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let json: Json =
            serde_json::from_slice(&out.stdout).expect("--json prints one JSON object");
        let grads: Vec<(String, f64)> = json["gradients"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_f64().unwrap()))
            .collect();
        assert_eq!(
            grads.len(),
            bindings(&case).len(),
            "{expr}: a gradient for every name given"
        );
        check("cli", expr, json["value"].as_f64().unwrap(), &grads, &case);
    }
}
