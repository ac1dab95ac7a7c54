//! Scalar autograd, micrograd-style: every node holds one `f64`, its gradient, and the
//! operation that made it. The place to start reading: the whole engine is `value.rs` (the
//! graph and `backward()`) plus `backward.rs` (every derivative, one line each).
//!
//! `tape.rs` is the same engine recorded on one vector (a Wengert list): the fast path.
//!
//! Also here: an expression parser for the `grad` command (`parse`, `evaluate`), pictures of
//! the graph (`Value::to_dot` for Graphviz, `Value::to_svg` drawn in-process), and a tiny MLP
//! with the two-moons data set.
//! Never here: printing or files.

mod backward;
mod dot;
pub mod evaluate;
mod layered;
mod mlp;
mod ops;
pub mod parse;
mod plane_net;
mod short_names;
mod tape;
mod toy;
mod value;

pub use dot::{Names, Picture, Place, PlacedValue, FULL_LAYOUT_BUDGET, MAX_SVG_VALUES};
pub use mlp::{hinge_loss, hinge_loss_backward_on_tape, Layer, Mlp, Neuron};
pub use plane_net::{PlaneActivation, PlaneFeature, PlaneLoss, PlaneNet, Regularization};
pub use tape::{Gradients, Tape, Var};
pub use toy::{make_moons, LabelledPoint, ToyData};
pub use value::Value;
