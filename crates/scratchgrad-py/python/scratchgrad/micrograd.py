"""micrograd's names on scratchgrad's engine: change `from micrograd.engine import Value` and
`from micrograd.nn import Neuron, Layer, MLP` to `from scratchgrad.micrograd import ...` and
the rest of a micrograd program runs as it did.

Weights start as micrograd's do, from `random.uniform(-1, 1)` in the same order (each
neuron's weights, then its bias at 0), so after the same `random.seed(...)` both libraries
start from the same network; each neuron sums its inputs in micrograd's order, so both
compute the same numbers.

>>> import random
>>> random.seed(1337)
>>> model = MLP(2, [16, 16, 1])
>>> len(model.parameters())
337
>>> str(model.layers[-1])
'Layer of [LinearNeuron(16)]'
"""

import random

from ._scratchgrad import Value, draw_dot

__all__ = ["Value", "draw_dot", "Module", "Neuron", "Layer", "MLP"]


class Module:
    """Something with parameters: `zero_grad()` resets their gradients to 0."""

    def zero_grad(self):
        for p in self.parameters():
            p.grad = 0

    def parameters(self):
        """The values that learn."""
        return []


class Neuron(Module):
    """One unit: `relu(w . x + b)`, or `w . x + b` when `nonlin` is false."""

    def __init__(self, nin, nonlin=True):
        self.w = [Value(random.uniform(-1, 1)) for _ in range(nin)]
        self.b = Value(0)
        self.nonlin = nonlin

    def __call__(self, x):
        # b + w0*x0 + w1*x1 + ..., added left to right as micrograd adds them
        total = self.b
        for wi, xi in zip(self.w, x):
            total = total + wi * xi
        return total.relu() if self.nonlin else total

    def parameters(self):
        return self.w + [self.b]

    def __repr__(self):
        return f"{'ReLU' if self.nonlin else 'Linear'}Neuron({len(self.w)})"


class Layer(Module):
    """`nout` neurons reading the same `nin` inputs."""

    def __init__(self, nin, nout, **kwargs):
        self.neurons = [Neuron(nin, **kwargs) for _ in range(nout)]

    def __call__(self, x):
        out = [n(x) for n in self.neurons]
        return out[0] if len(out) == 1 else out

    def parameters(self):
        return [p for n in self.neurons for p in n.parameters()]

    def __repr__(self):
        return f"Layer of [{', '.join(str(n) for n in self.neurons)}]"


class MLP(Module):
    """Layers of `nouts[i]` neurons, ReLU after every layer but the last."""

    def __init__(self, nin, nouts):
        sizes = [nin] + list(nouts)
        self.layers = [
            Layer(sizes[i], sizes[i + 1], nonlin=i != len(nouts) - 1) for i in range(len(nouts))
        ]

    def __call__(self, x):
        for layer in self.layers:
            x = layer(x)
        return x

    def parameters(self):
        return [p for layer in self.layers for p in layer.parameters()]

    def __repr__(self):
        return f"MLP of [{', '.join(str(layer) for layer in self.layers)}]"
