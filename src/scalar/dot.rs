//! Pictures of the graph: Graphviz DOT with one record per value (label | data | grad) and a
//! small node per operation, edges in the direction data flows.

use std::collections::HashMap;
use std::fmt::Write;
use std::rc::Rc;

use super::Value;

/// Escapes text for a Graphviz record label.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '{' | '}' | '|' | '<' | '>' | '"' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A number as short as it can be while still exact (Rust's shortest round-trip form).
fn number(x: f64) -> String {
    format!("{x}")
}

impl Value {
    /// The graph leading to this value as Graphviz DOT (render with `dot -Tsvg`).
    ///
    /// ```
    /// use scratchgrad::scalar::Value;
    /// let x = Value::new(-2.0).with_label("x");
    /// let f = (&x * 3.0).with_label("f");
    /// f.backward();
    /// let dot = f.to_dot();
    /// assert!(dot.starts_with("digraph"));
    /// assert!(dot.contains("x | data -2 | grad 3"));
    /// ```
    pub fn to_dot(&self) -> String {
        let order = self.topological_order();
        let ids: HashMap<*const _, usize> = order
            .iter()
            .enumerate()
            .map(|(i, v)| (Rc::as_ptr(&v.0), i))
            .collect();
        let mut dot = String::from(
            "digraph graph_of_values {\n  rankdir=LR;\n  node [fontname=\"Helvetica\"];\n",
        );
        for (i, value) in order.iter().enumerate() {
            let label = escape(&value.label());
            let _ = writeln!(
                dot,
                "  v{i} [shape=record, label=\"{{ {label} | data {} | grad {} }}\"];",
                escape(&number(value.data())),
                escape(&number(value.grad()))
            );
            if value.is_leaf() {
                continue;
            }
            let _ = writeln!(
                dot,
                "  op{i} [shape=circle, width=0.3, fontsize=10, label=\"{}\"];\n  op{i} -> v{i};",
                escape(&value.op_symbol())
            );
            for input in value.inputs() {
                let _ = writeln!(dot, "  v{} -> op{i};", ids[&Rc::as_ptr(&input.0)]);
            }
        }
        dot.push_str("}\n");
        dot
    }
}
