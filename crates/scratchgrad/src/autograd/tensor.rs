//! `Tensor<T>`: an [`Array`] plus its place in the computation graph, and `backward()`.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock, Weak};

use smallvec::SmallVec;

use super::backward::{input_grads, Grad};
use super::grad_enabled;
use super::op::Op;
use crate::array::{Array, Dims, Float};

/// A node of the graph. Its value never changes after creation, except a parameter's value
/// during an optimizer step (under the write lock), which bumps its version.
pub(crate) struct Node<T: Float> {
    id: usize,
    data: RwLock<Arc<Array<T>>>,
    op: Op<T>,
    requires_grad: bool,
    grad: Mutex<Option<Array<T>>>,
    /// How many times the value was changed in place (as PyTorch's version counter).
    version: AtomicU64,
    /// Each input's version when this node was computed from it: backward rules read inputs'
    /// current values, so a changed input would silently give wrong gradients.
    input_versions: SmallVec<[u64; 4]>,
    /// A parameter's transpose, shared with its aliases (`None` for other nodes).
    transposed: Option<Arc<TransposeCache<T>>>,
}

/// The last transpose made of a parameter's value, with the value it was made from: the two
/// parts of a GPT's batch both multiply by `W^T`, and copying it out once serves both. An
/// entry is used only while the value it came from is still the parameter's value, by
/// identity: an optimizer's update in place (`Arc::make_mut`, with this `Weak` outstanding)
/// always moves the value to a new allocation, so a stale copy is never read. A value over
/// lent memory (`Array::from_lent`, a numpy array) can change where it lies, so its transpose
/// is never kept.
pub(crate) struct TransposeCache<T: Float>(Mutex<Option<MadeFrom<T>>>);

/// The value a transpose was made from, and the transpose.
type MadeFrom<T> = (Weak<Array<T>>, Arc<Array<T>>);

impl<T: Float> TransposeCache<T> {
    /// The transpose of `value` (the last two axes), made now or kept from before (never
    /// kept for lent memory).
    pub(crate) fn transpose_of(&self, value: &Arc<Array<T>>) -> Arc<Array<T>> {
        if value.is_lent() {
            return Arc::new(value.transpose());
        }
        let mut entry = self.0.lock().unwrap_or_else(|_| lock_poisoned());
        if let Some((source, transposed)) = entry.as_ref() {
            if source
                .upgrade()
                .is_some_and(|source| Arc::ptr_eq(&source, value))
            {
                return Arc::clone(transposed);
            }
        }
        let transposed = Arc::new(value.transpose());
        *entry = Some((Arc::downgrade(value), Arc::clone(&transposed)));
        transposed
    }
}

/// A cheap handle (an `Arc`) to a node of the computation graph. Cloning shares the node.
///
/// ```
/// use scratchgrad::autograd::Tensor;
/// let x = Tensor::parameter_from(vec![1.0, 2.0, 3.0], &[3]);
/// let y = (&x * &x).sum_all(); // y = x1^2 + x2^2 + x3^2
/// y.backward();
/// assert_eq!(x.grad().unwrap().data(), &[2.0, 4.0, 6.0]); // dy/dx = 2x
/// ```
pub struct Tensor<T: Float>(Arc<Node<T>>);

impl<T: Float> Clone for Tensor<T> {
    fn clone(&self) -> Self {
        Tensor(Arc::clone(&self.0))
    }
}

/// A handle that does not keep its node alive: for seeing whether a graph has been freed.
pub struct WeakTensor<T: Float>(Weak<Node<T>>);

impl<T: Float> WeakTensor<T> {
    /// True while some [`Tensor`] (or a graph node built from it) still holds the node.
    pub fn is_alive(&self) -> bool {
        self.0.strong_count() > 0
    }
}

static NEXT_ID: AtomicUsize = AtomicUsize::new(0);

fn lock_poisoned() -> ! {
    panic!("a tensor's lock was poisoned by an earlier panic")
}

impl<T: Float> Tensor<T> {
    fn with(data: Array<T>, op: Op<T>, requires_grad: bool) -> Self {
        let transposed = (requires_grad && matches!(op, Op::Leaf))
            .then(|| Arc::new(TransposeCache(Mutex::new(None))));
        Self::with_shared(Arc::new(data), op, requires_grad, transposed)
    }

    fn with_shared(
        data: Arc<Array<T>>,
        op: Op<T>,
        requires_grad: bool,
        transposed: Option<Arc<TransposeCache<T>>>,
    ) -> Self {
        let input_versions = op.inputs().map(|t| t.version()).collect();
        Tensor(Arc::new(Node {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            data: RwLock::new(data),
            op,
            requires_grad,
            grad: Mutex::new(None),
            version: AtomicU64::new(0),
            input_versions,
            transposed,
        }))
    }

    /// A constant: a leaf that never receives a gradient (inputs, labels).
    pub fn new(data: Array<T>) -> Self {
        Self::with(data, Op::Leaf, false)
    }

    /// A constant holding a value others hold too (not copied).
    pub(crate) fn shared_constant(data: Arc<Array<T>>) -> Self {
        Self::with_shared(data, Op::Leaf, false, None)
    }

    /// A constant from row-major values and a shape.
    pub fn from_vec(data: Vec<T>, shape: &[usize]) -> Self {
        Self::new(Array::from_vec(data, shape))
    }

    /// A parameter: a leaf whose gradient `backward()` computes and accumulates.
    pub fn parameter(data: Array<T>) -> Self {
        Self::with(data, Op::Leaf, true)
    }

    /// A new parameter that holds this tensor's current value (shared, not copied) and
    /// gathers a gradient of its own: for computing parts of a batch side by side, each on
    /// its own copy of a model, and adding their gradients afterwards. A transpose of the
    /// value copied out for a product is shared too (see `TransposeCache`).
    ///
    /// ```
    /// use scratchgrad::autograd::Tensor;
    /// let w = Tensor::parameter_from(vec![3.0], &[1]);
    /// let copy = w.alias();
    /// (&copy * &copy).sum_all().backward();
    /// assert_eq!(copy.grad().unwrap().data(), &[6.0]);
    /// assert!(w.grad().is_none());
    /// ```
    pub fn alias(&self) -> Self {
        let transposed = self.0.transposed.clone();
        Self::with_shared(self.data(), Op::Leaf, self.requires_grad(), transposed)
    }

    /// A parameter from row-major values and a shape.
    pub fn parameter_from(data: Vec<T>, shape: &[usize]) -> Self {
        Self::parameter(Array::from_vec(data, shape))
    }

    /// The output of an operation. It joins the graph only when gradients are enabled and some
    /// input needs a gradient; otherwise it is a plain constant and the inputs are let go.
    pub(crate) fn from_op(data: Array<T>, op: Op<T>) -> Self {
        let requires_grad = grad_enabled() && op.inputs().any(|t| t.requires_grad());
        if requires_grad {
            Self::with(data, op, true)
        } else {
            Self::new(data)
        }
    }

    /// A handle to this node that does not keep it alive.
    pub fn downgrade(&self) -> WeakTensor<T> {
        WeakTensor(Arc::downgrade(&self.0))
    }

    /// A unique number for this node (stable while the tensor lives).
    pub fn id(&self) -> usize {
        self.0.id
    }

    /// Whether gradients flow into this tensor.
    pub fn requires_grad(&self) -> bool {
        self.0.requires_grad
    }

    /// True for tensors made directly rather than by an operation.
    pub fn is_leaf(&self) -> bool {
        matches!(self.0.op, Op::Leaf)
    }

    /// The value. A shared handle: cheap to take, and it stays valid even if an optimizer
    /// updates the tensor afterwards (the update then works on a fresh copy).
    pub fn data(&self) -> Arc<Array<T>> {
        Arc::clone(&self.0.data.read().unwrap_or_else(|_| lock_poisoned()))
    }

    /// A parameter's shared store of its transpose (see [`TransposeCache`]).
    pub(crate) fn transpose_cache(&self) -> Option<&TransposeCache<T>> {
        self.0.transposed.as_deref()
    }

    /// How many times the value has been changed in place by [`Tensor::update_data`].
    pub fn version(&self) -> u64 {
        self.0.version.load(Ordering::Relaxed)
    }

    /// Changes the value in place: for optimizers updating parameters. Panics if `f` changes
    /// the shape, since the graph's recorded shapes would then be wrong. Bumps the version,
    /// so a graph computed from the old value refuses to backpropagate (its rules would read
    /// the new value and give wrong gradients).
    ///
    /// ```should_panic
    /// use scratchgrad::autograd::Tensor;
    /// let w = Tensor::parameter_from(vec![3.0], &[1]);
    /// let y = (&w * &w).sum_all(); // dy/dw = 2w, read from w at backward time
    /// w.update_data(|v| v.data_mut()[0] = 5.0);
    /// y.backward(); // panics: w was changed in place after y was computed from it
    /// ```
    pub fn update_data(&self, f: impl FnOnce(&mut Array<T>)) {
        self.0.version.fetch_add(1, Ordering::Relaxed);
        let mut guard = self.0.data.write().unwrap_or_else(|_| lock_poisoned());
        let value = Arc::make_mut(&mut guard);
        let shape = Dims::from_slice(value.shape());
        f(value);
        assert!(
            *value.shape() == shape[..],
            "update_data: the value changed shape from {shape:?} to {:?}",
            value.shape()
        );
    }

    /// A copy of the value.
    pub fn to_array(&self) -> Array<T> {
        (*self.data()).clone()
    }

    /// The shape of the value.
    ///
    /// ```
    /// use scratchgrad::array::Array;
    /// use scratchgrad::autograd::Tensor;
    /// let t = Tensor::new(Array::<f64>::zeros(&[2, 3]));
    /// assert_eq!(t.shape(), [2, 3]);
    /// assert_eq!(t.dims()[..], [2, 3]);
    /// ```
    pub fn shape(&self) -> Vec<usize> {
        self.data().shape().to_vec()
    }

    /// The shape of the value, kept inline ([`Dims`]: no allocation for up to four axes),
    /// as the engine's own rules read it; compare it as a slice, `t.dims()[..] == [2, 3]`.
    pub fn dims(&self) -> Dims {
        Dims::from_slice(self.data().shape())
    }

    /// The only element of a one-element tensor.
    pub fn item(&self) -> T {
        self.data().item()
    }

    /// The accumulated gradient of a leaf after `backward()`, or `None` before.
    /// (Intermediate results do not keep theirs, as in PyTorch.)
    pub fn grad(&self) -> Option<Array<T>> {
        self.0
            .grad
            .lock()
            .unwrap_or_else(|_| lock_poisoned())
            .clone()
    }

    /// Takes the accumulated gradient out, leaving none (`grad()` then `zero_grad()`, without
    /// the copy).
    ///
    /// ```
    /// use scratchgrad::autograd::Tensor;
    /// let w = Tensor::parameter_from(vec![3.0], &[1]);
    /// (&w * &w).sum_all().backward();
    /// assert_eq!(w.take_grad().unwrap().data(), &[6.0]);
    /// assert!(w.grad().is_none());
    /// ```
    pub fn take_grad(&self) -> Option<Array<T>> {
        self.0
            .grad
            .lock()
            .unwrap_or_else(|_| lock_poisoned())
            .take()
    }

    /// Runs `f` on the accumulated gradient without copying it (for optimizers).
    pub(crate) fn with_grad<R>(&self, f: impl FnOnce(Option<&Array<T>>) -> R) -> R {
        f(self
            .0
            .grad
            .lock()
            .unwrap_or_else(|_| lock_poisoned())
            .as_ref())
    }

    /// Forgets the accumulated gradient.
    pub fn zero_grad(&self) {
        *self.0.grad.lock().unwrap_or_else(|_| lock_poisoned()) = None;
    }

    /// A constant with the same value, cut off from the graph.
    pub fn detach(&self) -> Tensor<T> {
        Tensor::new(self.to_array())
    }

    /// Backpropagates from a one-element tensor (a loss): as `backward_with` a gradient of 1.
    ///
    /// Gradients accumulate: a second `backward()` adds to what the first left in each leaf's
    /// `grad()` (as PyTorch does) until `zero_grad()`. The graph is kept, so calling it twice is
    /// allowed and gives twice the gradient.
    pub fn backward(&self) {
        let shape = self.dims();
        assert!(
            shape.iter().product::<usize>() == 1,
            "backward: the tensor has shape {shape:?}; pass an upstream gradient of that shape \
             to backward_with, or reduce it to one element first"
        );
        self.backward_with(Array::ones(&shape));
    }

    /// Backpropagates an upstream gradient `grad` (of this tensor's shape) through the graph,
    /// adding the result into the `grad()` of every leaf that requires one.
    pub fn backward_with(&self, grad: Array<T>) {
        assert!(
            *grad.shape() == self.dims()[..],
            "backward_with: gradient of shape {:?} for a tensor of shape {:?}",
            grad.shape(),
            self.dims()
        );
        assert!(
            self.requires_grad(),
            "backward: this tensor does not depend on any parameter (was it made under \
             no_grad, or from constants only?)"
        );
        let mut pending: HashMap<usize, Array<T>> = HashMap::from([(self.id(), grad)]);
        for node in self.topological_order().iter().rev() {
            let Some(g) = pending.remove(&node.id()) else {
                continue;
            };
            if node.is_leaf() {
                let mut slot = node.0.grad.lock().unwrap_or_else(|_| lock_poisoned());
                match slot.as_mut() {
                    Some(total) => total.add_assign(&g),
                    None => *slot = Some(g),
                }
                continue;
            }
            node.check_inputs_unchanged();
            let grads = input_grads(&node.0.op, &node.data(), g);
            for (input, grad) in node.0.op.inputs().zip(grads) {
                // A tensor used more than once receives the sum of its gradients.
                match (grad, pending.get_mut(&input.id())) {
                    (None, _) => {}
                    // Broadcasting undone: sum down to the input's shape (Add and Sub may have).
                    (Some(Grad::Whole(grad)), Some(total)) => {
                        total.add_assign(&grad.sum_to(input.data().shape()))
                    }
                    (Some(Grad::Whole(grad)), None) => {
                        pending.insert(input.id(), grad.sum_to(input.data().shape()));
                    }
                    // A block's gradient (narrow's) is added where the block was read: into
                    // the gradient the input already has (attention's q, k and v, read from
                    // one product), else into zeros.
                    (Some(Grad::Block { axis, start, block }), Some(total)) => {
                        total.add_into_block(axis, start, &block)
                    }
                    (Some(Grad::Block { axis, start, block }), None) => {
                        let mut total = Array::zeros(input.data().shape());
                        total.add_into_block(axis, start, &block);
                        pending.insert(input.id(), total);
                    }
                }
            }
        }
    }

    /// Panics, naming the input, if an input was changed in place after this node was
    /// computed from it.
    fn check_inputs_unchanged(&self) {
        for (input, &then) in self.0.op.inputs().zip(&self.0.input_versions) {
            let now = input.version();
            assert!(
                now == then,
                "backward: tensor #{} (shape {:?}) was changed in place (now version {now}) after a result was computed from it (at version {then}); compute the result again after changing it",
                input.id(),
                input.dims()
            );
        }
    }

    /// Every node that needs a gradient and leads to `self`, inputs before the nodes that use
    /// them. Depth-first with an explicit stack, so a million-deep chain cannot overflow it.
    fn topological_order(&self) -> Vec<Tensor<T>> {
        let mut order = Vec::new();
        let mut visited = HashSet::new();
        let mut stack = vec![(self.clone(), false)];
        while let Some((node, inputs_done)) = stack.pop() {
            if inputs_done {
                order.push(node);
                continue;
            }
            if !node.requires_grad() || !visited.insert(node.id()) {
                continue;
            }
            stack.push((node.clone(), true));
            for input in node.0.op.inputs() {
                stack.push((input.clone(), false));
            }
        }
        order
    }
}

impl<T: Float> Drop for Node<T> {
    /// Takes a graph apart without recursion: dropping the last handle to a million-deep chain
    /// would otherwise recurse a million times and overflow the stack.
    fn drop(&mut self) {
        // (kept inline while a handful wait: the nodes of a step's graph mostly go one by one)
        let mut orphans = SmallVec::<[Tensor<T>; 16]>::new();
        self.op.take_inputs_into(&mut orphans);
        while let Some(tensor) = orphans.pop() {
            if let Some(mut node) = Arc::into_inner(tensor.0) {
                node.op.take_inputs_into(&mut orphans);
            }
        }
    }
}

impl<T: Float> std::fmt::Debug for Tensor<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Tensor({:?}", *self.data())?;
        if self.requires_grad() {
            write!(f, ", requires_grad")?;
        }
        write!(f, ")")
    }
}

impl<T: Float> std::fmt::Display for Tensor<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(&*self.data(), f)
    }
}
