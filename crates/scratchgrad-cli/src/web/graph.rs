//! `/api/grad`, the graph page's one call: an expression's value, gradients and laid-out
//! graph, as `scratchgrad grad` computes them.

use std::collections::BTreeMap;

use axum::extract::rejection::JsonRejection;
use axum::Json;
use scratchgrad::scalar::evaluate::evaluate;
use scratchgrad::scalar::Names;
use serde_json::{json, Value};

use super::http::{blocking, text, ApiError};

/// The longest expression `/api/grad` evaluates.
pub const MAX_EXPRESSION_CHARS: usize = 10_000;
/// The most names an expression's values may give.
pub const MAX_NAMES: usize = 200;

/// `POST /api/grad {"expr": "(x + y) * z", "values": {"x": -2, "y": 5, "z": -4}}`: the value,
/// the gradients, and the graph laid out (every value's data, grad, operation, inputs, local
/// derivatives and box; the backward order; the SVG).
pub async fn grad(payload: Result<Json<Value>, JsonRejection>) -> Result<Json<Value>, ApiError> {
    let Json(body) = payload?;
    let expr = text(&body, "expr")?.to_string();
    if expr.chars().count() > MAX_EXPRESSION_CHARS {
        return Err(ApiError::bad(format!(
            "the expression is longer than {MAX_EXPRESSION_CHARS} characters"
        )));
    }
    let values: BTreeMap<String, Value> = match &body["values"] {
        Value::Null => BTreeMap::new(),
        Value::Object(map) => map.clone().into_iter().collect(),
        _ => {
            return Err(ApiError::bad(
                "`values` must be an object of numbers, e.g. {\"x\": -2}",
            ))
        }
    };
    if values.len() > MAX_NAMES {
        return Err(ApiError::bad(format!("more than {MAX_NAMES} values")));
    }
    let mut bindings = Vec::with_capacity(values.len());
    for (name, value) in values {
        let number = value.as_f64().filter(|v| v.is_finite()).ok_or_else(|| {
            ApiError::bad(format!(
                "the value of `{}` is not a finite number",
                scratchgrad::text::elide(&name, 40)
            ))
        })?;
        bindings.push((name, number));
    }
    blocking(move || graph_of(&expr, &bindings)).await.map(Json)
}

fn graph_of(expr: &str, bindings: &[(String, f64)]) -> Result<Value, ApiError> {
    let result = evaluate(expr, bindings).map_err(|e| {
        let column = e
            .offset
            .map(|o| expr[..o.min(expr.len())].chars().count() + 1);
        ApiError::bad_with(e.message, "column", json!(column))
    })?;
    let picture = result.output.picture(Names::Short).map_err(ApiError::bad)?;
    let place = |p: &scratchgrad::scalar::Place| json!({"x": p.x, "y": p.y, "width": p.width, "height": p.height});
    let nodes: Vec<Value> = picture
        .values
        .iter()
        .enumerate()
        .map(|(id, v)| {
            json!({
                "id": id, "label": v.label, "name": v.name, "data": v.data, "grad": v.grad, "op": v.op,
                "rule": {"formula": v.rule.0, "derivatives": v.rule.1},
                "inputs": v.inputs, "local_grads": v.local_grads,
                "box": place(&v.at), "op_box": v.op_at.as_ref().map(place),
            })
        })
        .collect();
    // Backward visits operations from the output towards the inputs: reverse topological
    // order, the output first.
    let order: Vec<usize> = (0..picture.values.len())
        .rev()
        .filter(|&i| picture.values[i].op.is_some())
        .collect();
    let gradients: serde_json::Map<String, Value> = result
        .gradients
        .iter()
        .map(|(n, g)| (n.clone(), json!(g)))
        .collect();
    Ok(json!({
        "value": result.output.data(),
        "gradients": gradients,
        "nodes": nodes,
        "backward_order": order,
        "width": picture.width,
        "height": picture.height,
        "svg": picture.svg,
    }))
}
