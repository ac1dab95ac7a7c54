"""scratchgrad.nn and scratchgrad.optim against references from outside the engine: numpy
written from PyTorch's documented formulas (convolution, pooling, batch norm with its running
statistics, layer norm, cross-entropy, SGD/Adam/AdamW's update rules), finite differences,
and the command line's own model files (a model trained by `scratchgrad train` loaded into
the same `Sequential` gives the same logits as the Rust engine that trained it)."""

import numpy as np
import pytest

import scratchgrad as sg
from scratchgrad import Tensor, nn, optim
from scratchgrad.nn import functional as F

from finite_differences import numeric_gradient

RNG = np.random.default_rng(11)


def numpy_conv2d(x, w, b, stride, padding):
    n, c, h, wd = x.shape
    out, _, k, _ = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    oh, ow = (h + 2 * padding - k) // stride + 1, (wd + 2 * padding - k) // stride + 1
    y = np.zeros((n, out, oh, ow))
    for i in range(oh):
        for j in range(ow):
            patch = xp[:, :, i * stride:i * stride + k, j * stride:j * stride + k]
            y[:, :, i, j] = np.einsum("nckl,ockl->no", patch, w)
    return y + b[None, :, None, None]


@pytest.mark.parametrize("stride, padding", [(1, 0), (2, 1), (1, 2)])
def test_conv2d_against_numpy_and_finite_differences(stride, padding):
    x, w, b = RNG.standard_normal((2, 3, 7, 6)), RNG.standard_normal((4, 3, 3, 3)), RNG.standard_normal(4)
    xt, wt, bt = (Tensor(a.copy(), requires_grad=True) for a in (x, w, b))
    y = F.conv2d(xt, wt, bt, stride, padding)
    want = numpy_conv2d(x, w, b, stride, padding)
    np.testing.assert_allclose(y.numpy(), want, atol=1e-12)
    r = RNG.standard_normal(want.shape)
    (y * r).sum().backward()
    for tensor, array in ((xt, x), (wt, w), (bt, b)):
        numeric = numeric_gradient(lambda: float(np.sum(numpy_conv2d(x, w, b, stride, padding) * r)), array)
        np.testing.assert_allclose(tensor.grad, numeric, atol=1e-6)


def test_pooling_against_numpy():
    x = RNG.standard_normal((2, 3, 6, 6))
    windows = x.reshape(2, 3, 3, 2, 3, 2)
    np.testing.assert_array_equal(F.max_pool2d(Tensor(x), 2).numpy(), windows.max(axis=(3, 5)))
    np.testing.assert_allclose(F.avg_pool2d(Tensor(x), 2).numpy(), windows.mean(axis=(3, 5)), atol=1e-15)
    strided = nn.MaxPool2d(3, stride=1)(Tensor(x)).numpy()
    assert strided.shape == (2, 3, 4, 4)
    assert strided[1, 2, 1, 3] == x[1, 2, 1:4, 3:6].max()


def test_linear_is_x_w_transposed_plus_b():
    layer = nn.Linear(5, 3, dtype="float64")
    x = RNG.standard_normal((4, 5))
    np.testing.assert_allclose(layer(x).numpy(), x @ layer.weight.numpy().T + layer.bias.numpy(), atol=1e-14)
    bound = 1 / np.sqrt(5)
    assert np.all(np.abs(layer.weight.numpy()) <= bound) and layer.weight.dtype == "float64"
    assert nn.Linear(5, 3).weight.dtype == "float32"
    assert nn.Linear(5, 3, bias=False).parameters()[0].shape == (3, 5)


@pytest.mark.parametrize("layer, shape, axes", [(nn.BatchNorm1d, (8, 3), (0,)), (nn.BatchNorm1d, (4, 3, 5), (0, 2)), (nn.BatchNorm2d, (4, 3, 2, 5), (0, 2, 3))])
def test_batch_norm_uses_the_batch_and_keeps_running_statistics_as_pytorch(layer, shape, axes):
    bn = layer(3, dtype="float64")
    with sg.no_grad():
        bn.weight.copy_(np.array([1.0, 2.0, 0.5]))
        bn.bias.copy_(np.array([0.0, -1.0, 3.0]))
    view = [1] * len(shape)
    view[1] = 3
    running_mean, running_var = np.zeros(3), np.ones(3)
    for _ in range(2):
        x = RNG.standard_normal(shape) * 3 + 1
        mean, var = x.mean(axis=axes, keepdims=True), x.var(axis=axes, keepdims=True)
        want = (x - mean) / np.sqrt(var + 1e-5) * bn.weight.numpy().reshape(view) + bn.bias.numpy().reshape(view)
        np.testing.assert_allclose(bn(x).numpy(), want, atol=1e-12)
        count = x.size // 3
        running_mean = 0.9 * running_mean + 0.1 * mean.reshape(-1)
        running_var = 0.9 * running_var + 0.1 * var.reshape(-1) * count / (count - 1)
    np.testing.assert_allclose(bn.running_mean, running_mean, atol=1e-12)
    np.testing.assert_allclose(bn.running_var, running_var, atol=1e-12)
    assert bn.num_batches_tracked == 2
    bn.eval()
    x = RNG.standard_normal(shape)
    want = (x - running_mean.reshape(view)) / np.sqrt(running_var.reshape(view) + 1e-5)
    want = want * bn.weight.numpy().reshape(view) + bn.bias.numpy().reshape(view)
    np.testing.assert_allclose(bn(x).numpy(), want, atol=1e-12)


def test_layer_norm_embedding_and_cross_entropy_against_numpy():
    x = RNG.standard_normal((2, 3, 4))
    ln = nn.LayerNorm(4, dtype="float64")
    want = (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 1e-5)
    np.testing.assert_allclose(ln(x).numpy(), want, atol=1e-12)

    table = nn.Embedding(5, 3, dtype="float64")
    ids = np.array([[1, 4], [1, 0]])
    out = table(ids)
    np.testing.assert_array_equal(out.numpy(), table.weight.numpy()[ids])
    out.sum().backward()  # each row's gradient is how often it was looked up
    np.testing.assert_array_equal(table.weight.grad, np.array([1, 2, 0, 0, 1])[:, None] * np.ones((5, 3)))

    logits, target = RNG.standard_normal((6, 4)), np.array([0, 3, 1, 1, 2, 0])
    shifted = logits - logits.max(1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(1, keepdims=True))
    want = -log_probs[np.arange(6), target].mean()
    z = Tensor(logits, requires_grad=True)
    loss = F.cross_entropy(z, target)
    assert abs(loss.item() - want) < 1e-12
    loss.backward()
    probs = np.exp(log_probs)
    np.testing.assert_allclose(z.grad, (probs - np.eye(4)[target]) / 6, atol=1e-12)
    assert abs(nn.CrossEntropyLoss()(z, list(target)).item() - want) < 1e-12


def test_bad_arguments_raise_value_or_type_errors():
    with pytest.raises(ValueError, match="between 0 and 3"):
        F.cross_entropy(Tensor(np.zeros((2, 4))), [0, 4])
    with pytest.raises(ValueError, match="targets of shape"):
        F.cross_entropy(Tensor(np.zeros((2, 4))), [0, 1, 2])
    with pytest.raises(TypeError, match="integers"):
        F.cross_entropy(Tensor(np.zeros((2, 4))), [0.5, 1.0])
    with pytest.raises(ValueError, match="between 0 and 4"):
        nn.Embedding(5, 2)(np.array([5]))
    with pytest.raises(ValueError):
        nn.Conv2d(3, 4, 3)(np.zeros((1, 2, 8, 8), np.float32))  # 2 channels for a 3-channel layer
    with pytest.raises(TypeError, match="float32"):
        F.conv2d(Tensor(np.zeros((1, 1, 4, 4))), Tensor(np.zeros((1, 1, 3, 3), np.float32)))
    with pytest.raises(ValueError, match="channels"):
        nn.BatchNorm1d(3)(np.zeros((4, 2), np.float32))
    with pytest.raises(ValueError, match="approximate"):
        nn.GELU(approximate="none")
    with pytest.raises(ValueError, match="learning rate"):
        optim.SGD([Tensor(np.ones(1), requires_grad=True)], lr=-1)
    with pytest.raises(ValueError, match="requires_grad"):
        optim.SGD([Tensor(np.ones(1))], lr=0.1)
    with pytest.raises(TypeError, match="float32"):
        optim.Adam([Tensor(np.ones(1), requires_grad=True), Tensor(np.ones(1, np.float32), requires_grad=True)])


def numpy_sgd(p, grads, lr, momentum=0.0, weight_decay=0.0, nesterov=False):
    """torch.optim.SGD's documented algorithm (dampening 0)."""
    b = None
    for g in grads:
        g = g + weight_decay * p
        if momentum:
            b = g if b is None else momentum * b + g
            g = g + momentum * b if nesterov else b
        p = p - lr * g
    return p


def numpy_adam(p, grads, lr, betas, weight_decay, decoupled, eps=1e-8):
    """torch.optim.Adam's and AdamW's documented algorithms."""
    m, v = np.zeros_like(p), np.zeros_like(p)
    for t, g in enumerate(grads, start=1):
        if decoupled:
            p = p - lr * weight_decay * p
        else:
            g = g + weight_decay * p
        m = betas[0] * m + (1 - betas[0]) * g
        v = betas[1] * v + (1 - betas[1]) * g * g
        p = p - lr * (m / (1 - betas[0] ** t)) / (np.sqrt(v / (1 - betas[1] ** t)) + eps)
    return p


@pytest.mark.parametrize(
    "make, reference",
    [
        (lambda ps: optim.SGD(ps, lr=0.1), lambda p, g: numpy_sgd(p, g, 0.1)),
        (lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, weight_decay=0.01),
         lambda p, g: numpy_sgd(p, g, 0.1, 0.9, 0.01)),
        (lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True),
         lambda p, g: numpy_sgd(p, g, 0.1, 0.9, nesterov=True)),
        (lambda ps: optim.Adam(ps, lr=0.01, betas=(0.8, 0.99), weight_decay=0.1),
         lambda p, g: numpy_adam(p, g, 0.01, (0.8, 0.99), 0.1, False)),
        (lambda ps: optim.AdamW(ps, lr=0.01, weight_decay=0.1),
         lambda p, g: numpy_adam(p, g, 0.01, (0.9, 0.999), 0.1, True)),
        (lambda ps: optim.Adam(ps, lr=0.01, eps=0.1),
         lambda p, g: numpy_adam(p, g, 0.01, (0.9, 0.999), 0.0, False, eps=0.1)),
    ],
)
def test_optimizers_follow_pytorchs_documented_update_rules(make, reference):
    start = RNG.standard_normal(5)
    w = Tensor(start.copy(), requires_grad=True)
    opt = make([w])
    grads = []
    for _ in range(4):
        opt.zero_grad()
        loss = (w * w * w).sum()  # gradient 3 w^2, a different one each step
        loss.backward()
        grads.append(w.grad.copy())
        opt.step()
    # the reference replays the same gradients (they depend on the parameter, so replaying
    # checks the update rule and not only the first step)
    np.testing.assert_allclose(w.numpy(), reference(start, grads), rtol=1e-12, atol=1e-14)


def test_a_model_trained_by_the_command_line_loads_into_the_same_sequential(tmp_path):
    cases = [
        ("conv4k3p1,relu,maxpool2,flatten,linear10",
         lambda: nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                               nn.Linear(4 * 14 * 14, 10)), (1, 28, 28)),
        ("linear32,bn,relu,linear10",
         lambda: nn.Sequential(nn.Linear(784, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Linear(32, 10)), (784,)),
    ]
    images, _ = sg.load_dataset("mnist-mini", "test")
    images = images[:50]
    for i, (layers, build, shape) in enumerate(cases):
        run = sg.train("mnist-mini", layers=layers, epochs=1, out=tmp_path / str(i), progress=False)
        trained = sg.load_model(run["folder"] + "/model.safetensors")
        model = build()
        model.load_state_dict(trained.state_dict())
        model.eval()
        x = (images / 255.0).astype(np.float32).reshape(-1, *shape)
        with sg.no_grad():
            ours = model(x).numpy()
        np.testing.assert_allclose(ours, trained.logits(images), rtol=1e-4, atol=1e-4)
        assert set(model.state_dict()) == set(trained.state_dict())


def test_load_state_dict_refuses_what_does_not_fit():
    model = nn.Sequential(nn.Linear(3, 2))
    with pytest.raises(KeyError, match="missing.*0.bias"):
        model.load_state_dict({"0.weight": np.zeros((2, 3))})
    with pytest.raises(ValueError, match="shape"):
        model.load_state_dict({"0.weight": np.zeros((3, 2)), "0.bias": np.zeros(2)})
    model.load_state_dict({"0.weight": np.ones((2, 3)), "0.bias": np.zeros(2)})
    np.testing.assert_array_equal(model(np.ones((1, 3))).numpy(), [[3.0, 3.0]])


def test_a_seeded_training_loop_learns_and_repeats_exactly():
    images, labels = sg.load_dataset("mnist-mini", "train")
    x = (images.reshape(-1, 784) / 255.0).astype(np.float32)

    def run():
        sg.manual_seed(5)
        model = nn.Sequential(nn.Linear(784, 64), nn.ReLU(), nn.Dropout(0.1), nn.Linear(64, 10))
        opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        order = np.random.default_rng(0).permutation(5000)
        for start in range(0, 5000, 50):
            batch = order[start:start + 50]
            loss = F.cross_entropy(model(x[batch]), labels[batch])
            opt.zero_grad()
            loss.backward()
            opt.step()
        model.eval()
        test_images, test_labels = sg.load_dataset("mnist-mini", "test")
        with sg.no_grad():
            predicted = model((test_images.reshape(-1, 784) / 255.0).astype(np.float32)).numpy().argmax(1)
        return np.mean(predicted == test_labels), model.state_dict()

    accuracy, state = run()
    again, state_again = run()
    assert accuracy > 0.8, accuracy
    assert accuracy == again and all(np.array_equal(state[k], state_again[k]) for k in state)


def test_dropout_drops_while_training_only():
    sg.manual_seed(0)
    drop = nn.Dropout(0.25)
    x = np.ones((200, 50), np.float32)
    y = drop(x).numpy()
    assert set(np.unique(y)) <= {0.0, np.float32(1 / 0.75)}
    assert 0.2 < np.mean(y == 0) < 0.3
    drop.eval()
    np.testing.assert_array_equal(drop(Tensor(x)).numpy(), x)


def numpy_attention(x, w_attn, b_attn, w_proj, b_proj, heads):
    """Causal self-attention written from nanoGPT's formula: softmax(q k^T / sqrt(d), masked
    to the past) v, heads side by side, then the projection."""
    b, t, c = x.shape
    d = c // heads
    q, k, v = np.split(x @ w_attn.T + b_attn, 3, axis=2)
    split = lambda a: a.reshape(b, t, heads, d).transpose(0, 2, 1, 3)
    q, k, v = split(q), split(k), split(v)
    scores = q @ k.transpose(0, 1, 3, 2) / np.sqrt(d)
    scores = np.where(np.tril(np.ones((t, t), bool)), scores, -np.inf)
    weights = np.exp(scores - scores.max(-1, keepdims=True))
    weights /= weights.sum(-1, keepdims=True)
    mixed = (weights @ v).transpose(0, 2, 1, 3).reshape(b, t, c)
    return mixed @ w_proj.T + b_proj


def test_causal_self_attention_against_numpy_and_finite_differences():
    sg.manual_seed(1)
    attention = nn.CausalSelfAttention(8, 2, dtype="float64")
    assert sorted(attention.state_dict()) == ["c_attn.bias", "c_attn.weight", "c_proj.bias", "c_proj.weight"]
    x = RNG.standard_normal((2, 5, 8))
    params = [p.numpy() for p in (attention.c_attn.weight, attention.c_attn.bias,
                                  attention.c_proj.weight, attention.c_proj.bias)]
    xt = Tensor(x.copy(), requires_grad=True)
    y = attention(xt)
    want = numpy_attention(x, *params, heads=2)
    np.testing.assert_allclose(y.numpy(), want, atol=1e-12)
    # a position's output does not depend on later positions
    later = x.copy()
    later[:, 3:] += 1.0
    np.testing.assert_allclose(attention(later).numpy()[:, :3], want[:, :3], atol=1e-12)
    r = RNG.standard_normal(want.shape)
    (y * r).sum().backward()
    numeric = numeric_gradient(lambda: float(np.sum(numpy_attention(x, *params, heads=2) * r)), x)
    np.testing.assert_allclose(xt.grad, numeric, atol=1e-6)
    weight_numeric = numeric_gradient(lambda: float(np.sum(numpy_attention(x, *params, heads=2) * r)), params[0])
    np.testing.assert_allclose(attention.c_attn.weight.grad, weight_numeric, atol=1e-6)
    with pytest.raises(ValueError, match="heads"):
        nn.CausalSelfAttention(8, 3)
    with pytest.raises(ValueError, match="do not fit"):
        Tensor(np.ones((2, 3))).narrow(1, 2, 2)


def test_a_layer_used_twice_is_one_set_of_parameters():
    shared = nn.Linear(3, 3)
    net = nn.Sequential(shared, nn.Tanh(), shared)
    assert len(net.parameters()) == 2
    w = shared.weight
    before = w.numpy().copy()
    net(np.ones((2, 3), np.float32)).sum().backward()
    optim.SGD(net.parameters(), lr=0.1).step()
    np.testing.assert_allclose(w.numpy(), before - 0.1 * w.grad, rtol=1e-6)


def test_rectangular_kernels_and_layer_norm_sizes():
    conv = nn.Conv2d(1, 4, (3, 5), padding=1)
    assert conv.weight.shape == (4, 1, 3, 5)
    assert conv(np.zeros((2, 1, 8, 8), np.float32)).shape == (2, 4, 8, 6)
    assert nn.LayerNorm([6]).normalized_shape == 6
    with pytest.raises(ValueError, match="last axis"):
        nn.LayerNorm((3, 4))
    for make in (lambda: nn.Linear(0, 3), lambda: nn.Conv2d(0, 2, 3), lambda: nn.BatchNorm1d(0),
                 lambda: nn.CausalSelfAttention(0, 1), lambda: nn.Embedding(4, 0)):
        with pytest.raises(ValueError, match="at least 1"):
            make()
