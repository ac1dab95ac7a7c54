//! Pictures of the graph: one record per value (label | data | grad) and a small circle per
//! operation, edges in the direction data flows. As Graphviz DOT text ([`Value::to_dot`]),
//! or laid out and drawn here as SVG ([`Value::to_svg`], through the `layout-rs` crate), so a
//! picture needs no program besides this one.

use std::collections::HashMap;
use std::fmt::Write;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;

use layout::backends::svg::SVGWriter;
use layout::core::base::Orientation;
use layout::core::color::Color;
use layout::core::style::StyleAttr;
use layout::std_shapes::render::get_shape_size;
use layout::std_shapes::shapes::{Arrow, Element, RecordDef, ShapeKind};
use layout::topo::layout::VisualGraph;

use super::layered;
use super::short_names::{short_names, Unnamed};
use super::Value;
use crate::text::{elide, MAX_LABEL_CHARS};

/// The most values [`Value::to_svg`] lays out: the layout's time grows quickly with the
/// graph (about 0.1 s for 150 values here; tens of seconds for 600).
pub const MAX_SVG_VALUES: usize = 150;
/// The most work (shapes, plus a stand-in per layer an edge skips) the full layout is given;
/// about 0.25 s here. A larger graph is placed by the plain layered layout instead.
pub const FULL_LAYOUT_BUDGET: usize = 6000;
/// Up to this many values, the layout also reorders nodes to uncross edges (slower, tidier).
const UNCROSS_UP_TO: usize = 40;

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

/// A number as a picture shows it: at most four decimals, as micrograd's pictures
/// (`0.5`, `-12`, `0.7071`), and powers of ten for very large or small magnitudes.
fn short_number(x: f64) -> String {
    let magnitude = x.abs();
    if magnitude != 0.0 && !(1e-4..1e9).contains(&magnitude) {
        return format!("{x:.3e}");
    }
    let fixed = format!("{x:.4}");
    let trimmed = fixed.trim_end_matches('0').trim_end_matches('.');
    match trimmed {
        "-0" => "0".to_string(),
        t => t.to_string(),
    }
}

/// One value as the pictures show it.
struct Shown {
    label: String,
    /// A short name (`x1w1`, `n`), for pages that show the label on hover.
    name: String,
    data: String,
    grad: String,
    /// The operation's symbol and the positions (in the same list) of its inputs.
    op: Option<(String, Vec<usize>)>,
}

impl Value {
    /// Every value leading to this one, inputs first, as the pictures show them.
    fn shown(&self) -> Vec<Shown> {
        let order = self.topological_order();
        let ids: HashMap<*const _, usize> = order
            .iter()
            .enumerate()
            .map(|(i, v)| (Rc::as_ptr(&v.0), i))
            .collect();
        let mut shown: Vec<Shown> = order
            .iter()
            .map(|value| Shown {
                label: elide(&value.label(), MAX_LABEL_CHARS),
                name: String::new(),
                data: format!("data {}", short_number(value.data())),
                grad: format!("grad {}", short_number(value.grad())),
                op: (!value.is_leaf()).then(|| {
                    let inputs = value.inputs();
                    let positions = inputs.iter().map(|i| ids[&Rc::as_ptr(&i.0)]);
                    (value.op_symbol(), positions.collect())
                }),
            })
            .collect();
        let unnamed: Vec<Unnamed> = shown
            .iter()
            .map(|v| Unnamed {
                label: &v.label,
                op: v.op.as_ref().map(|(symbol, _)| symbol.as_str()),
                inputs: v.op.as_ref().map_or(&[][..], |(_, inputs)| inputs),
            })
            .collect();
        let names = short_names(&unnamed);
        for (v, name) in shown.iter_mut().zip(names) {
            v.name = name;
        }
        shown
    }

    /// The graph leading to this value as Graphviz DOT (render with `dot -Tsvg`). Labels
    /// longer than 40 characters are shortened around a `…`; numbers keep four decimals.
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
        let mut dot = String::from(
            "digraph graph_of_values {\n  rankdir=LR;\n  node [fontname=\"Helvetica\"];\n",
        );
        for (i, v) in self.shown().iter().enumerate() {
            let _ = writeln!(
                dot,
                "  v{i} [shape=record, label=\"{{ {} | {} | {} }}\"];",
                escape(&v.label),
                escape(&v.data),
                escape(&v.grad)
            );
            if let Some((symbol, inputs)) = &v.op {
                let _ = writeln!(
                    dot,
                    "  op{i} [shape=circle, width=0.3, fontsize=10, label=\"{}\"];\n  op{i} -> v{i};",
                    escape(symbol)
                );
                for input in inputs {
                    let _ = writeln!(dot, "  v{input} -> op{i};");
                }
            }
        }
        dot.push_str("}\n");
        dot
    }

    /// The same picture as [`Value::to_dot`], laid out and drawn as SVG in this process (no
    /// Graphviz needed). Graphs of more than [`MAX_SVG_VALUES`] values are refused with a
    /// reason, since laying them out would take too long.
    ///
    /// ```
    /// use scratchgrad::scalar::Value;
    /// let (x, y) = (Value::new(-2.0).with_label("x"), Value::new(5.0).with_label("y"));
    /// let f = (&x + &y).with_label("x + y");
    /// f.backward();
    /// let svg = f.to_svg().unwrap();
    /// assert!(svg.contains("<svg") && svg.contains("data -2") && svg.contains("grad 1"));
    /// ```
    pub fn to_svg(&self) -> Result<String, String> {
        let picture = self.picture(Names::Expressions)?;
        picture.svg.ok_or_else(|| {
            format!(
                "the graph has {} values and a picture is drawn for at most {MAX_SVG_VALUES} (and a layout of at most {FULL_LAYOUT_BUDGET} shapes and edge bends)",
                picture.values.len()
            )
        })
    }

    /// The graph laid out: every value with the box it is drawn in and the circle of the
    /// operation that made it (for pages that animate it), and the SVG of [`Value::to_svg`]
    /// when the graph is small enough for the full layout ([`MAX_SVG_VALUES`] values and a
    /// cost of [`FULL_LAYOUT_BUDGET`]); a larger graph is placed by a plain layered layout,
    /// in time that grows with its size only, and has no SVG. `names` says what heads each
    /// box: the sub-expression, or a short name.
    pub fn picture(&self, names: Names) -> Result<Picture, String> {
        let shown = self.shown();
        let heading = |v: &Shown| -> String {
            match names {
                Names::Expressions => v.label.clone(),
                Names::Short => v.name.clone(),
            }
        };
        let nodes: Vec<layered::Node> = shown
            .iter()
            .map(|v| layered::Node {
                chars: [&heading(v), &v.data, &v.grad]
                    .iter()
                    .map(|t| t.chars().count())
                    .max()
                    .unwrap_or(0),
                inputs: v.op.as_ref().map(|(_, inputs)| inputs.as_slice()),
            })
            .collect();
        if shown.len() > MAX_SVG_VALUES || layered::layout_cost(&nodes) > FULL_LAYOUT_BUDGET {
            let places = layered::place(&nodes);
            let handles: Vec<usize> = (0..shown.len()).collect();
            let ops: Vec<Option<usize>> = places
                .iter()
                .enumerate()
                .map(|(i, (_, op))| op.map(|_| i + shown.len()))
                .collect();
            let place = |h: usize| match h.checked_sub(shown.len()) {
                Some(op) => places[op].1.expect("an operation was placed"),
                None => places[h].0,
            };
            let values = self.placed_values(&shown, &handles, &ops, place);
            let (width, height) = extent(&values);
            return Ok(Picture {
                svg: None,
                width: width + 20.0,
                height: height + 20.0,
                values,
            });
        }
        let flow = Orientation::LeftToRight;
        // Records are drawn across the flow: fields side by side when the graph runs left
        // to right.
        let across = flow.flip();
        let mut graph = VisualGraph::new(flow);
        let mut handles = Vec::with_capacity(shown.len());
        let mut op_handles = Vec::with_capacity(shown.len());
        for v in &shown {
            let fields = [&heading(v), &v.data, &v.grad].map(|t| RecordDef::new_text(t));
            let record = ShapeKind::Record(RecordDef::Array(fields.to_vec()));
            let size = get_shape_size(across, &record, 14, false);
            let look = StyleAttr::new(Color::fast("black"), 1, Some(Color::fast("white")), 0, 14);
            let value = graph.add_node(Element::create(record, look, across, size));
            handles.push(value);
            let op = v.op.as_ref().map(|(symbol, inputs)| {
                let circle = ShapeKind::new_circle(symbol);
                let size = get_shape_size(across, &circle, 11, true);
                let look =
                    StyleAttr::new(Color::fast("black"), 1, Some(Color::fast("white")), 0, 11);
                let op = graph.add_node(Element::create(circle, look, across, size));
                graph.add_edge(Arrow::simple(""), op, value);
                for &input in inputs {
                    graph.add_edge(Arrow::simple(""), handles[input], op);
                }
                op
            });
            op_handles.push(op);
        }
        let mut svg = SVGWriter::new();
        let uncross = shown.len() <= UNCROSS_UP_TO;
        // The layout crate asserts its own invariants; should one ever fail, the picture is
        // refused rather than the program stopped.
        catch_unwind(AssertUnwindSafe(|| {
            graph.do_it(false, !uncross, false, &mut svg);
        }))
        .map_err(|_| "the graph could not be laid out".to_string())?;
        let place = |h| {
            let pos = graph.pos(h);
            let (c, size) = (pos.center(), pos.size(false));
            Place {
                x: c.x,
                y: c.y,
                width: size.x,
                height: size.y,
            }
        };
        let values = self.placed_values(&shown, &handles, &op_handles, place);
        let (width, height) = extent(&values);
        Ok(Picture {
            svg: Some(sorted_styles(svg.finalize())),
            width: width + 20.0,
            height: height + 20.0,
            values,
        })
    }

    /// Every value of the graph with its place, its operation's place and local derivatives.
    fn placed_values<H: Copy>(
        &self,
        shown: &[Shown],
        handles: &[H],
        ops: &[Option<H>],
        place: impl Fn(H) -> Place,
    ) -> Vec<PlacedValue> {
        let order = self.topological_order();
        shown
            .iter()
            .zip(&order)
            .enumerate()
            .map(|(i, (v, value))| PlacedValue {
                label: v.label.clone(),
                name: v.name.clone(),
                rule: value.rule(),
                data: value.data(),
                grad: value.grad(),
                op: v.op.as_ref().map(|(symbol, _)| symbol.clone()),
                inputs: v
                    .op
                    .as_ref()
                    .map_or(Vec::new(), |(_, inputs)| inputs.clone()),
                local_grads: value
                    .local_gradients()
                    .into_iter()
                    .map(|(_, g)| g)
                    .collect(),
                at: place(handles[i]),
                op_at: ops[i].map(&place),
            })
            .collect()
    }
}

/// The right and bottom edges of the boxes of `values`.
fn extent(values: &[PlacedValue]) -> (f64, f64) {
    values.iter().fold((0.0f64, 0.0f64), |(w, h), v| {
        (
            w.max(v.at.x + v.at.width / 2.0),
            h.max(v.at.y + v.at.height / 2.0),
        )
    })
}

/// The SVG with the lines of its `<style>` block in sorted order: the layout crate keeps its
/// font styles in a `HashMap`, whose order changes from run to run, and the same graph must
/// give the same bytes.
fn sorted_styles(svg: String) -> String {
    let (Some(start), Some(end)) = (svg.find("<style>\n"), svg.find("</style>")) else {
        return svg;
    };
    let start = start + "<style>\n".len();
    if end < start {
        return svg;
    }
    let mut lines: Vec<&str> = svg[start..end].lines().collect();
    lines.sort_unstable();
    let mut sorted = String::with_capacity(svg.len());
    sorted.push_str(&svg[..start]);
    for line in lines {
        sorted.push_str(line);
        sorted.push('\n');
    }
    sorted.push_str(&svg[end..]);
    sorted
}

/// Where a shape is drawn: its centre and size, in the SVG's coordinates.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Place {
    /// Centre, x.
    pub x: f64,
    /// Centre, y.
    pub y: f64,
    /// Width.
    pub width: f64,
    /// Height.
    pub height: f64,
}

/// What heads each value's box in a picture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Names {
    /// The sub-expression (shortened to 40 characters): for pictures that stand alone.
    Expressions,
    /// A short name (`x1w1`, `n`, `o`), for pages that show the sub-expression on hover.
    Short,
}

/// One value of a laid-out graph, inputs first (a value's inputs come before it).
#[derive(Debug, Clone)]
pub struct PlacedValue {
    /// Its label (the sub-expression).
    pub label: String,
    /// Its short name (`x1w1`, `n`, `o`, `f`).
    pub name: String,
    /// The rule behind its local derivatives, for people: its operation as a formula of
    /// `{a}` and `{b}` (its inputs) and the derivative for each input in terms of `{a}`,
    /// `{b}` and `{out}` (itself); empty for an input.
    pub rule: (String, [String; 2]),
    /// Its value.
    pub data: f64,
    /// d(output)/d(it).
    pub grad: f64,
    /// The operation that made it (`None` for an input or constant).
    pub op: Option<String>,
    /// The positions of its operation's inputs in the same list.
    pub inputs: Vec<usize>,
    /// d(it)/d(input) for each input, the factors the chain rule multiplies.
    pub local_grads: Vec<f64>,
    /// Its box.
    pub at: Place,
    /// Its operation's circle.
    pub op_at: Option<Place>,
}

/// A laid-out graph: the SVG and where each value is.
#[derive(Debug, Clone)]
pub struct Picture {
    /// The drawing, as `to_svg` gives it, when the graph was small enough for the full
    /// layout.
    pub svg: Option<String>,
    /// The drawing's width.
    pub width: f64,
    /// The drawing's height.
    pub height: f64,
    /// Every value, inputs first.
    pub values: Vec<PlacedValue>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_keep_four_decimals() {
        let cases = [
            (-12.0, "-12"),
            (0.4999999999999998, "0.5"),
            (0.7071067811865477, "0.7071"),
            (-0.00001, "-1.000e-5"),
            (3e12, "3.000e12"),
            (-0.0, "0"),
        ];
        for (x, want) in cases {
            assert_eq!(short_number(x), want);
        }
    }

    #[test]
    fn long_labels_are_shortened_in_every_picture() {
        let x = Value::new(1.0).with_label("x".repeat(10_000));
        let y = (&x * 2.0).with_label("y".repeat(10_000));
        y.backward();
        let dot = y.to_dot();
        assert!(dot.len() < 1_000, "{} bytes", dot.len());
        assert!(dot.contains(&format!("{}…{}", "y".repeat(19), "y".repeat(20))));
        assert!(y.to_svg().unwrap().len() < 20_000);
    }

    #[test]
    fn the_same_graph_gives_the_same_svg_bytes() {
        // The layout crate wrote its font styles in a HashMap's order, different every run.
        let picture = |_| {
            let (x, y) = (
                Value::new(-2.0).with_label("x"),
                Value::new(5.0).with_label("y"),
            );
            let f = (&(&x + &y) * &x).tanh();
            f.backward();
            f.to_svg().unwrap()
        };
        let first = picture(0);
        let styles = &first[first.find("<style>").unwrap()..first.find("</style>").unwrap()];
        let lines: Vec<&str> = styles.lines().skip(1).collect();
        assert!(
            lines.len() >= 2 && lines.windows(2).all(|w| w[0] <= w[1]),
            "{styles}"
        );
        assert!((1..20).all(|i| picture(i) == first));
    }

    #[test]
    fn graphs_beyond_the_layout_budget_are_placed_quickly_without_svg() {
        // x used 150 times along a chain: its edges skip ever more layers, the costliest
        // shape for the full layout. Placed by the plain layout, every box still has a place.
        let x = Value::new(0.5);
        let mut f = x.clone();
        for i in 0..150 {
            f = if i % 2 == 0 { &f + &x } else { &f * &x };
        }
        f.backward();
        let picture = f.picture(Names::Short).unwrap();
        assert!(picture.svg.is_none());
        assert_eq!(picture.values.len(), 151);
        assert!(picture
            .values
            .iter()
            .all(|v| v.at.width > 0.0 && v.at.x > 0.0));
        assert!(f.to_svg().unwrap_err().contains("at most 150"));
    }

    #[test]
    fn graphs_too_large_to_lay_out_are_refused_with_a_reason() {
        let x = Value::new(1.0);
        let mut f = x.clone();
        for _ in 0..MAX_SVG_VALUES {
            f = &f + &x;
        }
        let err = f.to_svg().unwrap_err();
        assert!(err.contains("at most 150"), "{err}");
    }
}
