"""scratchgrad.Value against outside references: the texts' worked example, micrograd itself
(the PyPI package, its own engine) and finite differences."""

import math
import random

import micrograd.engine
import pytest

from scratchgrad import Value, draw_dot


def test_the_texts_worked_example():
    # x = -2, y = 5, z = -4, f = (x + y) * z = -12; df/dx = -4, df/dy = -4, df/dz = 3
    x, y, z = Value(-2.0), Value(5.0), Value(-4.0)
    f = (x + y) * z
    f.backward()
    assert f.data == -12.0
    assert (x.grad, y.grad, z.grad) == (-4.0, -4.0, 3.0)


def expression(V, a, b):
    """One expression using every operator with numbers on both sides, in any `Value` class."""
    c = a * b + 2 - a / 4 + 3 / (b + 10)
    d = (c ** 2).relu() + (1 - a) * (-b) + (a * 0.1) ** 3
    return d * 0.5 + c


@pytest.mark.parametrize("a0,b0", [(-4.0, 2.0), (1.5, -0.25), (3.0, 7.0)])
def test_same_numbers_as_micrograd(a0, b0):
    ours_a, ours_b = Value(a0), Value(b0)
    theirs_a, theirs_b = micrograd.engine.Value(a0), micrograd.engine.Value(b0)
    ours = expression(Value, ours_a, ours_b)
    theirs = expression(micrograd.engine.Value, theirs_a, theirs_b)
    ours.backward()
    theirs.backward()
    assert ours.data == pytest.approx(theirs.data, rel=1e-12)
    assert ours_a.grad == pytest.approx(theirs_a.grad, rel=1e-12)
    assert ours_b.grad == pytest.approx(theirs_b.grad, rel=1e-12)


@pytest.mark.parametrize("name", ["tanh", "exp", "log", "sigmoid", "relu"])
def test_functions_against_finite_differences(name):
    x0, h = 0.7, 1e-6
    f = lambda v: getattr(Value(v), name)().data
    x = Value(x0)
    getattr(x, name)().backward()
    numeric = (f(x0 + h) - f(x0 - h)) / (2 * h)
    assert x.grad == pytest.approx(numeric, rel=1e-6)


def test_a_number_raised_to_a_value():
    # d(2^x)/dx = 2^x ln 2
    x = Value(3.0)
    y = 2 ** x
    y.backward()
    assert y.data == 8.0
    assert x.grad == pytest.approx(8.0 * math.log(2.0), rel=1e-12)


def test_leaves_accumulate_and_can_be_reset_as_in_micrograd():
    w = Value(3.0)
    (w * w).backward()
    (w * w).backward()
    assert w.grad == 12.0
    w.grad = 0
    w.data += 1
    assert (w.data, w.grad) == (4.0, 0.0)


def test_the_graph_is_drawn_without_graphviz():
    x = Value(-2.0, label="x")
    f = (x + 5) * -4
    f.backward()
    svg = f._repr_svg_()
    assert "<svg" in svg and "data -12" in svg and "grad -4" in svg
    assert draw_dot(f) == svg
    assert repr(f) == "Value(data=-12.0, grad=1.0)"


def test_a_graph_too_large_to_draw_is_printed_instead():
    total = Value(0.0)
    for i in range(2000):
        total = total + Value(float(i))
    assert total._repr_svg_() is None
    with pytest.raises(ValueError, match="values"):
        draw_dot(total)


def test_bad_operands_raise_python_errors():
    with pytest.raises(TypeError):
        Value(1.0) + "two"
    with pytest.raises(TypeError):
        Value("one")
    with pytest.raises(ValueError, match="modulus"):
        pow(Value(2.0), 3, 5)


def test_a_million_deep_chain_is_built_backpropagated_and_freed():
    x = Value(1.0)
    y = x
    for _ in range(1_000_000):
        y = y + 1e-6
    y.backward()
    assert x.grad == 1.0
    assert y.data == pytest.approx(2.0)
    del y  # dropped without recursion: no stack overflow


def test_memory_stays_flat_over_many_graphs():
    resource = pytest.importorskip("resource")
    def one_graph():
        x = Value(random.random())
        y = x
        for _ in range(10_000):
            y = y * 1.0001 + 0.5
        y.backward()
    for _ in range(20):
        one_graph()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for _ in range(100):  # a million values made and dropped
        one_graph()
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    assert after - before < 20_000, f"peak RSS grew by {after - before} KiB"


def test_the_docstrings_examples_run():
    import doctest

    import scratchgrad
    import scratchgrad.micrograd
    import scratchgrad.nn
    import scratchgrad.optim

    for module in (scratchgrad, scratchgrad.micrograd, scratchgrad.nn, scratchgrad.optim):
        failed, tried = doctest.testmod(module)
        assert tried > 0 and failed == 0, module.__name__


def test_importing_the_package_does_not_import_numpy():
    # numpy takes most of an import's time; it is loaded when a tensor or `nn` first needs it
    import subprocess
    import sys

    code = "import sys, scratchgrad; print('numpy' in sys.modules)"
    shown = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert shown.stdout.strip() == "False"


def test_a_value_used_from_another_thread_raises_runtime_error():
    import threading

    from scratchgrad import Value

    x = Value(2.0)
    caught = []

    def use():
        try:
            x * 3
        except RuntimeError as e:  # not pyo3's PanicException, which `except Exception` misses
            caught.append(str(e))

    thread = threading.Thread(target=use)
    thread.start()
    thread.join()
    assert len(caught) == 1 and "thread" in caught[0]
    assert (x * 3).data == 6.0
