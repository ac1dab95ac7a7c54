"""micrograd's demo (its notebook's loop: a 2-16-16-1 MLP on two moons, max-margin loss with L2,
SGD with a falling rate) on scratchgrad.micrograd and on micrograd itself, from the same seed:
the same loss at every step. tools/bench_micrograd_py.py times the whole 100 steps."""

import math
import random

import micrograd.engine
import micrograd.nn
import pytest

import scratchgrad.micrograd as ours


def moons(n, noise, rng):
    """Two interleaved half circles (as sklearn's make_moons), labels -1 and 1."""
    points = []
    for i in range(n):
        t = math.pi * (i // 2) / (n // 2 - 1)
        if i % 2 == 0:
            x, y, label = math.cos(t), math.sin(t), -1
        else:
            x, y, label = 1 - math.cos(t), 0.5 - math.sin(t), 1
        points.append(([x + rng.gauss(0, noise), y + rng.gauss(0, noise)], label))
    return points


def train(lib_value, lib_mlp, points, steps):
    """The notebook's loop; returns the loss and accuracy after each step."""
    random.seed(1337)
    model = lib_mlp(2, [16, 16, 1])
    curve = []
    for k in range(steps):
        scores = [model([lib_value(x) for x in xs]) for xs, _ in points]
        losses = [(1 + -label * score).relu() for (_, label), score in zip(points, scores)]
        data_loss = sum(losses) * (1.0 / len(losses))
        reg_loss = 1e-4 * sum(p * p for p in model.parameters())
        total = data_loss + reg_loss
        accuracy = sum((label > 0) == (s.data > 0) for (_, label), s in zip(points, scores))
        model.zero_grad()
        total.backward()
        rate = 1.0 - 0.9 * k / 100
        for p in model.parameters():
            p.data -= rate * p.grad
        curve.append((total.data, accuracy / len(points)))
    return curve


def test_the_demo_gives_micrograds_loss_curve():
    points = moons(100, 0.1, random.Random(7))
    theirs = train(micrograd.engine.Value, micrograd.nn.MLP, points, steps=8)
    mine = train(ours.Value, ours.MLP, points, steps=8)
    for step, ((loss, acc), (their_loss, their_acc)) in enumerate(zip(mine, theirs)):
        assert abs(loss - their_loss) < 1e-9, f"step {step}: {loss} vs {their_loss}"
        assert acc == their_acc
    # It learns: the loss falls.
    assert mine[-1][0] < mine[0][0]


def test_same_initial_network_as_micrograd():
    random.seed(1337)
    theirs = micrograd.nn.MLP(2, [16, 16, 1])
    random.seed(1337)
    mine = ours.MLP(2, [16, 16, 1])
    assert [p.data for p in mine.parameters()] == [p.data for p in theirs.parameters()]
    assert repr(mine) == repr(theirs)
