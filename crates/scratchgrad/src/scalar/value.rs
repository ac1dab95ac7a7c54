//! `Value`: one `f64` per node, micrograd-style, and `backward()`.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use super::backward::{forward, local_grads, rule_text, Op};

pub(crate) struct ValueNode {
    data: Cell<f64>,
    grad: Cell<f64>,
    op: Op,
    /// The values the operation read, in the order `local_grads` answers for them.
    inputs: [Option<Value>; 2],
    label: RefCell<String>,
    /// The number of the last topological sort that reached this node: marking nodes here
    /// is cheaper than a hash set of visited nodes.
    visited_in: Cell<u64>,
}

impl ValueNode {
    /// d(self)/d(input) for each input, from the rules in `backward.rs`.
    fn local_grads(&self) -> [f64; 2] {
        let [a, b] = self
            .inputs
            .each_ref()
            .map(|x| x.as_ref().map_or(0.0, Value::data));
        local_grads(self.op, a, b, self.data.get())
    }
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
    fn with_op(data: f64, op: Op, inputs: [Option<Value>; 2]) -> Value {
        Value(Rc::new(ValueNode {
            data: Cell::new(data),
            grad: Cell::new(0.0),
            op,
            inputs,
            label: RefCell::new(String::new()),
            visited_in: Cell::new(0),
        }))
    }

    /// A leaf: an input, parameter or constant.
    pub fn new(data: f64) -> Value {
        Value::with_op(data, Op::Leaf, [None, None])
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

    /// Sets the gradient (used to add in gradients computed elsewhere, such as on a `Tape`).
    pub fn set_grad(&self, grad: f64) {
        self.0.grad.set(grad);
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
        self.0.inputs.iter().flatten().cloned().collect()
    }

    /// Each input paired with d(self)/d(input): the local factors the chain rule multiplies.
    pub fn local_gradients(&self) -> Vec<(Value, f64)> {
        let locals = self.0.local_grads();
        let inputs = self.0.inputs.iter().zip(locals);
        inputs
            .filter_map(|(input, local)| input.as_ref().map(|i| (i.clone(), local)))
            .collect()
    }

    /// The rule of the operation that made this value, for people (see
    /// [`super::PlacedValue::rule`]): its formula and each input's derivative.
    pub fn rule(&self) -> (String, [String; 2]) {
        rule_text(self.0.op)
    }

    /// The operation's symbol (`"+"`, `"tanh"`, ...), empty for a leaf.
    pub fn op_symbol(&self) -> String {
        self.0.op.symbol()
    }

    /// The result of `op` on one input.
    pub(crate) fn unary(op: Op, a: Value) -> Value {
        Value::with_op(forward(op, a.data(), 0.0), op, [Some(a), None])
    }

    /// The result of `op` on two inputs.
    pub(crate) fn binary(op: Op, a: Value, b: Value) -> Value {
        Value::with_op(forward(op, a.data(), b.data()), op, [Some(a), Some(b)])
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
            for input in node.0.inputs.iter().flatten() {
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
            let locals = node.0.local_grads();
            for (input, local) in node.0.inputs.iter().zip(locals) {
                if let Some(input) = input {
                    // Chain rule: d(out)/d(input) += d(out)/d(node) * d(node)/d(input).
                    input.0.grad.set(input.grad() + node.grad() * local);
                }
            }
        }
    }

    /// True for values made directly rather than by an operation.
    pub fn is_leaf(&self) -> bool {
        self.0.op == Op::Leaf
    }
}

impl Drop for ValueNode {
    /// Takes the graph apart without recursion, so a million-deep chain drops safely.
    fn drop(&mut self) {
        if self.op == Op::Leaf {
            return;
        }
        let mut orphans: Vec<Value> = self.inputs.iter_mut().flat_map(Option::take).collect();
        while let Some(value) = orphans.pop() {
            if let Some(mut node) = Rc::into_inner(value.0) {
                orphans.extend(node.inputs.iter_mut().flat_map(Option::take));
            }
        }
    }
}

impl std::fmt::Debug for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Value(data={}, grad={})", self.data(), self.grad())
    }
}
