//! `Value`: one `f64` per node, micrograd-style, and `backward()`.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use super::backward::local_grads;

/// The operation that produced a value. Leaves (inputs, parameters, constants) are `Leaf`.
pub(crate) enum ScalarOp {
    Leaf,
    Add(Value, Value),
    Sub(Value, Value),
    Mul(Value, Value),
    Div(Value, Value),
    Pow(Value, Value),
    Powf(Value, f64),
    Neg(Value),
    Exp(Value),
    Log(Value),
    Sqrt(Value),
    Tanh(Value),
    Sigmoid(Value),
    Relu(Value),
    Sin(Value),
    Cos(Value),
    Abs(Value),
}

impl ScalarOp {
    /// The values this operation read (at most two), in the order `local_grads` answers
    /// for them. An array rather than a `Vec`: no allocation per node in `backward()`.
    pub(crate) fn inputs(&self) -> [Option<&Value>; 2] {
        use ScalarOp::*;
        match self {
            Leaf => [None, None],
            Add(a, b) | Sub(a, b) | Mul(a, b) | Div(a, b) | Pow(a, b) => [Some(a), Some(b)],
            Powf(x, _)
            | Neg(x)
            | Exp(x)
            | Log(x)
            | Sqrt(x)
            | Tanh(x)
            | Sigmoid(x)
            | Relu(x)
            | Sin(x)
            | Cos(x)
            | Abs(x) => [Some(x), None],
        }
    }

    /// Moves the inputs onto `out`, leaving a `Leaf`: used to take a graph apart without
    /// recursion.
    fn take_inputs_into(&mut self, out: &mut Vec<Value>) {
        use ScalarOp::*;
        match std::mem::replace(self, Leaf) {
            Leaf => {}
            Add(a, b) | Sub(a, b) | Mul(a, b) | Div(a, b) | Pow(a, b) => out.extend([a, b]),
            Powf(x, _)
            | Neg(x)
            | Exp(x)
            | Log(x)
            | Sqrt(x)
            | Tanh(x)
            | Sigmoid(x)
            | Relu(x)
            | Sin(x)
            | Cos(x)
            | Abs(x) => out.push(x),
        }
    }

    /// A short symbol for pictures of the graph.
    pub(crate) fn symbol(&self) -> String {
        use ScalarOp::*;
        match self {
            Leaf => String::new(),
            Add(..) => "+".into(),
            Sub(..) => "-".into(),
            Mul(..) => "*".into(),
            Div(..) => "/".into(),
            Pow(..) => "**".into(),
            Powf(_, e) => format!("**{e}"),
            Neg(_) => "neg".into(),
            Exp(_) => "exp".into(),
            Log(_) => "log".into(),
            Sqrt(_) => "sqrt".into(),
            Tanh(_) => "tanh".into(),
            Sigmoid(_) => "sigmoid".into(),
            Relu(_) => "relu".into(),
            Sin(_) => "sin".into(),
            Cos(_) => "cos".into(),
            Abs(_) => "abs".into(),
        }
    }
}

pub(crate) struct ValueNode {
    data: Cell<f64>,
    grad: Cell<f64>,
    op: ScalarOp,
    label: RefCell<String>,
    /// The number of the last topological sort that reached this node: marking nodes here
    /// is cheaper than a hash set of visited nodes.
    visited_in: Cell<u64>,
}

thread_local! {
    static SORTS: Cell<u64> = const { Cell::new(0) };
}

/// A scalar in a computation graph: its value, its gradient, and the operation that made it.
/// Cloning shares the node.
///
/// The texts' example: f = (x + y) * z at x = -2, y = 5, z = -4.
/// ```
/// use scratchgrad::scalar::Value;
/// let (x, y, z) = (Value::new(-2.0), Value::new(5.0), Value::new(-4.0));
/// let f = (&x + &y) * &z;
/// f.backward();
/// assert_eq!(f.data(), -12.0);
/// assert_eq!((x.grad(), y.grad(), z.grad()), (-4.0, -4.0, 3.0));
/// ```
#[derive(Clone)]
pub struct Value(pub(crate) Rc<ValueNode>);

impl Value {
    fn with_op(data: f64, op: ScalarOp) -> Value {
        Value(Rc::new(ValueNode {
            data: Cell::new(data),
            grad: Cell::new(0.0),
            op,
            label: RefCell::new(String::new()),
            visited_in: Cell::new(0),
        }))
    }

    /// A leaf: an input, parameter or constant.
    pub fn new(data: f64) -> Value {
        Value::with_op(data, ScalarOp::Leaf)
    }

    /// Names the value for pictures of the graph (returns it, for chaining).
    pub fn with_label(self, label: impl Into<String>) -> Value {
        *self.0.label.borrow_mut() = label.into();
        self
    }

    /// The name given with `with_label` (empty if none).
    pub fn label(&self) -> String {
        self.0.label.borrow().clone()
    }

    /// The value.
    pub fn data(&self) -> f64 {
        self.0.data.get()
    }

    /// Changes a leaf's value (an optimizer step).
    pub fn set_data(&self, data: f64) {
        self.0.data.set(data);
    }

    /// d(output)/d(self) after the output's `backward()`.
    pub fn grad(&self) -> f64 {
        self.0.grad.get()
    }

    /// Sets the gradient back to 0.
    pub fn zero_grad(&self) {
        self.0.grad.set(0.0);
    }

    /// True when both handles point at the same node.
    pub fn same_node(&self, other: &Value) -> bool {
        Rc::ptr_eq(&self.0, &other.0)
    }

    /// The values this one was computed from (empty for a leaf).
    pub fn inputs(&self) -> Vec<Value> {
        self.0.op.inputs().into_iter().flatten().cloned().collect()
    }

    /// Each input paired with d(self)/d(input): the local factors the chain rule multiplies.
    pub fn local_gradients(&self) -> Vec<(Value, f64)> {
        let locals = local_grads(&self.0.op, self.data());
        let inputs = self.0.op.inputs().into_iter().zip(locals);
        inputs
            .filter_map(|(input, local)| input.map(|i| (i.clone(), local)))
            .collect()
    }

    /// The operation's symbol (`"+"`, `"tanh"`, ...), empty for a leaf.
    pub fn op_symbol(&self) -> String {
        self.0.op.symbol()
    }

    pub(crate) fn from_op(op: ScalarOp) -> Value {
        let data = super::backward::forward(&op);
        Value::with_op(data, op)
    }

    /// Every node leading to `self`, inputs before the nodes that use them (so `self` is
    /// last). Depth-first with an explicit stack: no recursion, whatever the depth.
    pub fn topological_order(&self) -> Vec<Value> {
        self.order().into_iter().cloned().collect()
    }

    /// The topological order as borrowed handles: no reference counting on the hot path.
    fn order(&self) -> Vec<&Value> {
        let sort = SORTS.with(|n| n.replace(n.get() + 1) + 1);
        let mut order = Vec::new();
        let mut stack = vec![(self, false)];
        while let Some((node, inputs_done)) = stack.pop() {
            if inputs_done {
                order.push(node);
                continue;
            }
            if node.0.visited_in.replace(sort) == sort {
                continue;
            }
            stack.push((node, true));
            for input in node.0.op.inputs().into_iter().flatten() {
                stack.push((input, false));
            }
        }
        order
    }

    /// Backpropagates from this value: afterwards every node's `grad()` is
    /// d(self)/d(node). Leaves accumulate across calls (call `zero_grad` on them between
    /// steps, as in PyTorch); intermediate nodes are recomputed from zero each call.
    pub fn backward(&self) {
        let order = self.order();
        for node in &order {
            if !node.is_leaf() {
                node.zero_grad();
            }
        }
        self.0.grad.set(self.grad() + 1.0);
        for node in order.iter().rev() {
            let op = &node.0.op;
            let locals = local_grads(op, node.data());
            for (input, local) in op.inputs().into_iter().zip(locals) {
                if let Some(input) = input {
                    // Chain rule: d(out)/d(input) += d(out)/d(node) * d(node)/d(input).
                    input.0.grad.set(input.grad() + node.grad() * local);
                }
            }
        }
    }

    /// True for values made directly rather than by an operation.
    pub fn is_leaf(&self) -> bool {
        matches!(self.0.op, ScalarOp::Leaf)
    }
}

impl Drop for ValueNode {
    /// Takes the graph apart without recursion, so a million-deep chain drops safely.
    fn drop(&mut self) {
        if matches!(self.op, ScalarOp::Leaf) {
            return;
        }
        let mut orphans = Vec::new();
        self.op.take_inputs_into(&mut orphans);
        while let Some(value) = orphans.pop() {
            if let Some(mut node) = Rc::into_inner(value.0) {
                node.op.take_inputs_into(&mut orphans);
            }
        }
    }
}

impl std::fmt::Debug for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Value(data={}, grad={})", self.data(), self.grad())
    }
}
