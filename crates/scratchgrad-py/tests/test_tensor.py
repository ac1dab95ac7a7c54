"""scratchgrad.Tensor against numpy: every operation's values against numpy's own, and every
gradient against central finite differences of the numpy expression in float64 (both are
references from outside the engine); then every operation against PyTorch float64 values and
gradients stored by tools/torch_python_reference.py. Plus round trips, dtypes, no_grad and the
errors."""

import copy
import json
import pathlib
import pickle
import threading

import numpy as np
import pytest

import scratchgrad as sg
from scratchgrad import Tensor
from scratchgrad.nn import functional as F

from finite_differences import numeric_gradient

RNG = np.random.default_rng(7)


def check(tensor_op, numpy_op, *inputs, tol=1e-6):
    """The op's value equals numpy's, and the gradient of a weighted sum of it reaches every
    input as finite differences of numpy's expression say."""
    tensors = [Tensor(x.copy(), requires_grad=True) for x in inputs]
    out = tensor_op(*tensors)
    want = numpy_op(*inputs)
    np.testing.assert_allclose(out.numpy(), want, rtol=1e-12, atol=1e-12)
    weights = RNG.standard_normal(np.shape(want))
    (out * Tensor(weights)).sum().backward()
    for i, (t, x) in enumerate(zip(tensors, inputs)):

        def loss(xi, i=i):
            args = list(inputs)
            args[i] = xi
            return float(np.sum(numpy_op(*args) * weights))

        point = x.copy()
        np.testing.assert_allclose(t.grad, numeric_gradient(lambda: loss(point), point), atol=tol, rtol=tol)


def normal(*shape):
    return RNG.standard_normal(shape)


def positive(*shape):
    return RNG.uniform(0.5, 2.0, shape)


@pytest.mark.parametrize(
    "name, tensor_op, numpy_op, make",
    [
        ("relu", Tensor.relu, lambda x: np.maximum(x, 0), normal),
        ("tanh", Tensor.tanh, np.tanh, normal),
        ("sigmoid", Tensor.sigmoid, lambda x: 1 / (1 + np.exp(-x)), normal),
        ("exp", Tensor.exp, np.exp, normal),
        ("log", Tensor.log, np.log, positive),
        ("sqrt", Tensor.sqrt, np.sqrt, positive),
        ("abs", Tensor.abs, np.abs, normal),
        ("neg", lambda t: -t, np.negative, normal),
        (
            "gelu",
            Tensor.gelu,
            lambda x: 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x**3))),
            normal,
        ),
        ("pow 3", lambda t: t**3, lambda x: x**3, normal),
        ("pow -0.5", lambda t: t**-0.5, lambda x: x**-0.5, positive),
        ("rpow", lambda t: 2.0**t, lambda x: 2.0**x, normal),
        ("scalar arithmetic", lambda t: (3 - t) / 2 + 1 * t, lambda x: (3 - x) / 2 + 1 * x, normal),
        ("rtruediv", lambda t: 1 / t, lambda x: 1 / x, positive),
    ],
)
def test_unary_operations(name, tensor_op, numpy_op, make):
    check(tensor_op, numpy_op, make(3, 4))


@pytest.mark.parametrize("shape_a, shape_b", [((3, 4), (3, 4)), ((2, 3), (3,)), ((4, 1), (1, 5)), ((2, 1, 3), (4, 1))])
@pytest.mark.parametrize(
    "name, tensor_op, numpy_op",
    [
        ("add", lambda a, b: a + b, np.add),
        ("sub", lambda a, b: a - b, np.subtract),
        ("mul", lambda a, b: a * b, np.multiply),
        ("div", lambda a, b: a / b, np.divide),
        ("pow", lambda a, b: a**b, np.power),
        ("maximum", Tensor.maximum, np.maximum),
        ("minimum", Tensor.minimum, np.minimum),
    ],
)
def test_binary_operations_broadcast_as_numpy(name, tensor_op, numpy_op, shape_a, shape_b):
    make = positive if name in ("div", "pow") else normal
    check(tensor_op, numpy_op, make(*shape_a), make(*shape_b))


@pytest.mark.parametrize("shape_a, shape_b", [((3, 4), (4, 5)), ((2, 3, 4), (4, 2)), ((2, 1, 3, 4), (3, 4, 2))])
def test_matmul_with_batch_axes(shape_a, shape_b):
    check(lambda a, b: a @ b, np.matmul, normal(*shape_a), normal(*shape_b))


@pytest.mark.parametrize("axis", [None, 0, 1, -1, (0, 2)])
@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("name", ["sum", "mean", "max"])
def test_reductions(name, axis, keepdims):
    check(
        lambda t: getattr(t, name)(axis=axis, keepdims=keepdims),
        lambda x: getattr(np, name)(x, axis=axis, keepdims=keepdims),
        normal(2, 3, 4),
    )


def np_softmax(x, axis):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_softmax_and_log_softmax(axis):
    check(lambda t: t.softmax(axis), lambda x: np_softmax(x, axis), normal(3, 5))
    check(lambda t: t.log_softmax(axis), lambda x: np.log(np_softmax(x, axis)), normal(3, 5))


def test_shape_operations():
    check(lambda t: t.reshape(4, -1), lambda x: x.reshape(4, -1), normal(2, 3, 2))
    check(lambda t: t.reshape((12,)), lambda x: x.reshape(12), normal(2, 3, 2))
    check(lambda t: t.permute(2, 0, 1), lambda x: x.transpose(2, 0, 1), normal(2, 3, 4))
    check(lambda t: t.permute((1, 0)), lambda x: x.T, normal(2, 3))
    check(lambda t: t.T, lambda x: np.swapaxes(x, -1, -2), normal(2, 3, 4))


def test_a_tensor_used_twice_gets_both_gradients():
    # the texts' example: y = (a*x + b) * a, a used twice, b broadcast over rows
    x = Tensor(np.array([[1.0, 2.0], [3.0, 4.0]]))
    a = Tensor(np.array([[0.5, 1.0], [1.5, 2.0]]), requires_grad=True)
    b = Tensor(np.array([10.0, 20.0]), requires_grad=True)
    ((a * x + b) * a).sum().backward()
    np.testing.assert_array_equal(b.grad, [2.0, 3.0])
    np.testing.assert_array_equal(a.grad, [[11.0, 24.0], [19.0, 36.0]])


def test_gradients_add_up_until_forgotten():
    w = Tensor(np.array([1.0, -2.0]), requires_grad=True)
    for _ in range(2):
        (w * w).sum().backward()
    np.testing.assert_array_equal(w.grad, [4.0, -8.0])
    w.grad = None
    assert w.grad is None
    y = w * 3
    y.backward(gradient=np.array([1.0, 2.0]))
    np.testing.assert_array_equal(w.grad, [3.0, 6.0])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_numpy_round_trips_are_exact(dtype):
    x = RNG.standard_normal((3, 5)).astype(dtype)
    for view in (x, x.T, x[::2, 1::2], x[1], np.array(2.5, dtype), np.zeros((0, 3), dtype)):
        t = Tensor(view)
        assert t.dtype == np.dtype(dtype).name
        assert t.shape == view.shape
        back = t.numpy()
        assert back.dtype == dtype and back.flags.c_contiguous
        np.testing.assert_array_equal(back, view)
        np.testing.assert_array_equal(np.asarray(t), view)


def test_a_contiguous_array_is_read_in_place_and_never_written():
    # zero-copy in, as torch.from_numpy: the tensor reads the array's own memory, so a later
    # write into the array shows in the tensor; views that are not C-contiguous are copied
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    shared, copied = Tensor(x), Tensor(x.T)
    x[0, 0] = 100
    assert shared.numpy()[0, 0] == 100 and copied.numpy()[0, 0] == 0
    # the tensor outlives the name; the array stays alive with it
    y = np.ones(4)
    t = Tensor(y, requires_grad=True)
    del y
    np.testing.assert_array_equal((t * 2).numpy(), [2, 2, 2, 2])
    # the tensor's own updates copy first: the array is never written
    w_values = np.array([1.0, 2.0])
    w = Tensor(w_values, requires_grad=True)
    (w * w).sum().backward()
    sg.optim.SGD([w], lr=0.5).step()
    with sg.no_grad():
        w += 1
    np.testing.assert_array_equal(w.numpy(), [1.0, 1.0])
    np.testing.assert_array_equal(w_values, [1.0, 2.0])


def test_other_inputs_become_float64_and_the_dtype_is_kept():
    assert Tensor([1, 2, 3]).dtype == "float64"
    assert Tensor(np.arange(4)).dtype == "float64"
    assert Tensor([1.5], dtype="float32").dtype == "float32"
    f32 = Tensor(np.ones(3, np.float32), requires_grad=True)
    out = (f32 * 2 + np.ones(3)).exp().sum()
    assert out.dtype == "float32"
    out.backward()
    assert f32.grad.dtype == np.float32
    assert Tensor(3.0).item() == 3.0 and Tensor([[2.0]]).item() == 2.0
    assert len(Tensor(np.ones((4, 2)))) == 4 and Tensor(np.ones((4, 2))).ndim == 2


def test_numpy_arrays_on_the_left_give_tensors():
    w = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = np.array([3.0, 4.0]) * w + np.array([1.0, 1.0])
    assert isinstance(y, Tensor)
    y.sum().backward()
    np.testing.assert_array_equal(w.grad, [3.0, 4.0])


def test_no_grad_makes_constants_and_restores_the_mode():
    w = Tensor(np.ones(2), requires_grad=True)
    with sg.no_grad():
        assert not sg.is_grad_enabled()
        assert not (w * 2).requires_grad
        with sg.no_grad():
            pass
        assert not sg.is_grad_enabled()
    assert sg.is_grad_enabled() and (w * 2).requires_grad
    with pytest.raises(KeyError):
        with sg.no_grad():
            raise KeyError("inside")
    assert sg.is_grad_enabled()
    # the mode is per thread, as PyTorch's
    seen = []
    with sg.no_grad():
        thread = threading.Thread(target=lambda: seen.append(sg.is_grad_enabled()))
        thread.start()
        thread.join()
    assert seen == [True]


def test_pickle_and_copy_keep_values_dtype_and_requires_grad():
    w = Tensor(np.arange(6, dtype=np.float32).reshape(2, 3), requires_grad=True)
    for again in (pickle.loads(pickle.dumps(w)), copy.deepcopy(w)):
        assert again.dtype == "float32" and again.requires_grad
        np.testing.assert_array_equal(again.numpy(), w.numpy())


def test_bad_calls_raise_python_exceptions_that_say_what_was_wrong():
    a, b = Tensor(np.ones((2, 3))), Tensor(np.ones(4))
    with pytest.raises(ValueError, match=r"\[2, 3\].*\[4\]"):
        a + b
    with pytest.raises(ValueError, match=r"matmul.*\[2, 3\].*\[2, 3\]"):
        a @ a
    with pytest.raises(RuntimeError, match="one number"):
        Tensor(np.ones(3), requires_grad=True).backward()
    with pytest.raises(RuntimeError, match="no_grad|parameter"):
        Tensor(np.ones(1)).backward()
    with pytest.raises(ValueError, match="gradient has shape"):
        (Tensor(np.ones(3), requires_grad=True) * 2).backward(gradient=np.ones(2))
    with pytest.raises(TypeError, match="float32"):
        Tensor(np.ones(2, np.float32)) + Tensor(np.ones(2))
    with pytest.raises(TypeError, match="cannot make a tensor"):
        Tensor("text")
    with pytest.raises(ValueError, match="out of bounds"):
        a.sum(axis=2)
    with pytest.raises(ValueError, match="cannot reshape"):
        a.reshape(4, -1)
    with pytest.raises(ValueError, match="one element"):
        a.item()
    with pytest.raises(ValueError, match="dtype"):
        Tensor([1.0], dtype="int8")
    with pytest.raises(ValueError, match="None"):
        a.grad = np.ones(3)


def test_in_place_updates_are_for_leaves_under_no_grad():
    # one step of gradient descent on sum(w^2), written as in PyTorch
    w = Tensor(np.array([1.0, -2.0]), requires_grad=True)
    (w * w).sum().backward()
    with pytest.raises(RuntimeError, match="no_grad"):
        w -= 0.1 * w.grad
    with sg.no_grad():
        w -= 0.1 * w.grad
        w *= 2
        w += np.array([1.0, 1.0])
    np.testing.assert_allclose(w.numpy(), [(1 - 0.2) * 2 + 1, (-2 + 0.4) * 2 + 1])
    assert w.requires_grad
    with sg.no_grad(), pytest.raises(ValueError, match="keep the shape"):
        w += np.ones((3, 2))
    with pytest.raises(RuntimeError, match="leaf"):
        y = w * 2
        y -= 1


FIXTURE = json.loads((pathlib.Path(__file__).parent / "fixtures" / "tensor_ops_torch.json").read_text())

# The same operations written with scratchgrad, by the names tools/torch_python_reference.py
# gives them.
OURS = {
    "relu": Tensor.relu,
    "tanh": Tensor.tanh,
    "sigmoid": Tensor.sigmoid,
    "gelu": Tensor.gelu,
    "exp": Tensor.exp,
    "log": Tensor.log,
    "sqrt": Tensor.sqrt,
    "abs": Tensor.abs,
    "pow_scalar": lambda x: x**2.5,
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
    "pow": lambda a, b: a**b,
    "maximum": Tensor.maximum,
    "minimum": Tensor.minimum,
    "matmul": lambda a, b: a @ b,
    "sum_axis1": lambda x: x.sum(axis=1),
    "mean_axes02_keepdims": lambda x: x.mean(axis=(0, 2), keepdims=True),
    "max_axis_last": lambda x: x.max(axis=-1),
    "softmax": lambda x: x.softmax(),
    "log_softmax_axis0": lambda x: x.log_softmax(0),
    "reshape": lambda x: x.reshape(4, -1),
    "permute": lambda x: x.permute(2, 0, 1),
    "transpose": lambda x: x.T,
    "narrow": lambda x: x.narrow(1, 1, 2),
    "causal_softmax": lambda x: x.causal_softmax(0.5),
    "conv2d_s2_p1": lambda x, w, b: F.conv2d(x, w, b, stride=2, padding=1),
    "max_pool2d": lambda x: F.max_pool2d(x, 2),
    "avg_pool2d_s1": lambda x: F.avg_pool2d(x, 3, stride=1),
    "layer_norm": lambda x, w, b: F.layer_norm(x, w, b, 1e-5),
    "embedding": lambda w, ids: F.embedding(ids, w),
    "cross_entropy": lambda z, t: F.cross_entropy(z, t),
}


def test_every_fixture_case_has_an_operation_here():
    assert sorted(OURS) == sorted(FIXTURE["cases"])


@pytest.mark.parametrize("name", sorted(FIXTURE["cases"]))
def test_operations_agree_with_pytorch_float64(name):
    case = FIXTURE["cases"][name]
    inputs = [Tensor(np.array(x).reshape(s), requires_grad=True) for x, s in zip(case["inputs"], case["shapes"])]
    extra = [np.array(case["integers"])] if "integers" in case else []
    out = OURS[name](*inputs, *extra)
    assert list(out.shape) == case["output_shape"]
    np.testing.assert_allclose(out.numpy(), np.array(case["output"]).reshape(case["output_shape"]), rtol=1e-10, atol=1e-12)
    (out * np.array(case["upstream"]).reshape(case["output_shape"])).sum().backward()
    for t, want, shape in zip(inputs, case["gradients"], case["shapes"]):
        np.testing.assert_allclose(t.grad, np.array(want).reshape(shape), rtol=1e-10, atol=1e-12)


def test_results_too_large_raise_memory_error_instead_of_aborting():
    column, row = Tensor(np.zeros((10**6, 1), np.float32)), Tensor(np.zeros(10**6, np.float32))
    with pytest.raises(MemoryError, match="2\\^31"):
        column - row
    with pytest.raises(MemoryError):
        Tensor(np.ones((10**5, 1))) @ Tensor(np.ones((1, 10**6)))
    with pytest.raises(MemoryError):
        Tensor(np.empty((0, 10**12))).sum(0)
    with pytest.raises(MemoryError):
        F.conv2d(Tensor(np.ones((1, 1, 4, 4))), Tensor(np.ones((1, 1, 3, 3))), padding=2**40)
    with pytest.raises((MemoryError, OverflowError)):
        F.conv2d(Tensor(np.ones((1, 1, 4, 4))), Tensor(np.ones((1, 1, 3, 3))), padding=2**63)
    # 7 * 7905747460161236407 wraps to 1 in 64-bit arithmetic: it must not pass for 1 element
    with pytest.raises(ValueError, match="cannot reshape"):
        Tensor(np.array([1.5])).reshape(7, 7905747460161236407)


def test_long_float32_sums_are_accurate():
    # ten million 0.1s added one after another in float32 come to 1,087,937
    tenths = np.full(10**7, 0.1, np.float32)
    assert abs(Tensor(tenths).sum().item() - 1e6) < 1
    assert abs(Tensor(tenths.reshape(-1, 10)).mean(axis=0).numpy() - 0.1).max() < 1e-6


def test_only_numbers_become_tensors_and_single_precision_stays_single():
    for bad in (None, "3.5", [1.0, None], np.array([1 + 2j]), ["a"]):
        with pytest.raises(TypeError):
            Tensor(bad)
    with pytest.raises(TypeError):
        Tensor([1.0]) + None
    with pytest.raises(TypeError):
        Tensor([1.0]) + "3"
    assert Tensor(np.array([1.0, 2.0], dtype=">f4")).dtype == "float32"
    assert Tensor(np.float32(2.5)).dtype == "float32"
    assert Tensor([1, 2], dtype=np.float32).dtype == "float32"
    assert Tensor([1, 2], dtype=np.dtype("float64")).dtype == "float64"
    assert Tensor(np.array([True, False])).numpy().tolist() == [1.0, 0.0]
    with pytest.raises(ValueError, match="zero-size"):
        Tensor(np.zeros((0, 3))).max()


def test_second_review_cases():
    # copy_ from another dtype is a TypeError, not a crash
    with sg.no_grad(), pytest.raises(TypeError, match="float64"):
        Tensor(np.ones(2, np.float32)).copy_(Tensor(np.zeros(2)))
    # in-place results, broadcast views and softmax buffers are sized before allocating
    a = Tensor(np.zeros((10**6, 1), np.float32))
    with pytest.raises(MemoryError):
        a -= Tensor(np.zeros(10**6, np.float32))
    with pytest.raises(MemoryError):
        Tensor(np.broadcast_to(np.zeros(1, np.float32), (10**12,)))
    with pytest.raises(MemoryError):
        Tensor(np.broadcast_to(np.zeros(1, np.int64), (10**12,)))
    with pytest.raises(MemoryError):
        Tensor(np.zeros((0, 10**12))).softmax(0)
    # numbers and 0-d arrays stay 0-d
    for scalar in (3.0, np.float32(3), np.array(3), 7):
        assert Tensor(scalar).shape == ()
    assert Tensor([1, 2], dtype="f4").dtype == "float32"
