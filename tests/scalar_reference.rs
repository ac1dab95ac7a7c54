//! The scalar engine and the `grad` command against PyTorch float64.
//!
//! `tests/fixtures/scalar_expressions.json` was written by `tools/torch_scalar_reference.py`:
//! 60 random expressions in Python syntax covering every operator and function, their
//! values, and PyTorch's value and gradients. Required agreement: 1e-12 relative, for both
//! scalar engines (the graph of `Value`s and the `Tape`) and for the CLI.

use std::process::Command;

use std::collections::HashMap;

use scratchgrad::scalar::evaluate::evaluate;
use scratchgrad::scalar::parse::{parse, BinaryOp, Expr, ExprKind};
use scratchgrad::scalar::{Tape, Var};
use serde_json::Value as Json;

fn cases() -> Vec<Json> {
    let text =
        std::fs::read_to_string("tests/fixtures/scalar_expressions.json").expect("fixture present");
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
/// graph of `Value`s: a constant exponent is a number, not an input.
fn on_tape<'t>(expr: &Expr, tape: &'t Tape, vars: &HashMap<String, Var<'t>>) -> Var<'t> {
    match &expr.kind {
        ExprKind::Number(v) => tape.var(*v),
        ExprKind::Name(n) => vars[n],
        ExprKind::Neg(x) => -on_tape(x, tape, vars),
        ExprKind::Call(f, x) => on_tape(x, tape, vars)
            .call(f)
            .unwrap_or_else(|| panic!("unknown function {f}")),
        ExprKind::Binary(op, a, b) => {
            let a = on_tape(a, tape, vars);
            let constant = !format!("{b:?}").contains("Name(");
            let b = on_tape(b, tape, vars);
            match op {
                BinaryOp::Pow if constant => a.powf(b.data()),
                BinaryOp::Pow => a.pow(b),
                BinaryOp::Add => a + b,
                BinaryOp::Sub => a - b,
                BinaryOp::Mul => a * b,
                BinaryOp::Div => a / b,
            }
        }
    }
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
