#!/usr/bin/env python3
"""Generate the PyTorch reference values that scratchgrad's tests compare against.

Usage (needs PyTorch, which the tests themselves never need):

    python3 -m venv ~/torchvenv && ~/torchvenv/bin/pip install torch
    ~/torchvenv/bin/python tools/torch_reference.py

Writes crates/scratchgrad/tests/fixtures/tensor_ops.json: for every tensor operation, inputs, a random upstream
gradient, and PyTorch's float64 output and input gradients (from `out.backward(upstream)`).
Writes crates/scratchgrad/tests/fixtures/conv_layers.json the same way for the layers of convolutional networks
(conv2d, max and average pooling with strides, padding, odd sizes, batch 1 and several
channels; batch normalization in training and evaluation, with its running statistics).
Writes crates/scratchgrad/tests/fixtures/language_ops.json for the operations of the language models,
gpt_block.json: a whole small GPT's loss and every gradient, and wavenet.json: a whole small
WaveNet-style model's (makemore part 5).
Floats are written with Python's repr, which round-trips float64 exactly.
"""
import torch.nn.functional as F
import json
import pathlib

import torch

torch.manual_seed(20261123)
torch.set_default_dtype(torch.float64)
OUT = pathlib.Path(__file__).resolve().parent.parent / "crates" / "scratchgrad" / "tests" / "fixtures"


def rand(*shape, low=-2.0, high=2.0):
    return torch.rand(tuple(shape)) * (high - low) + low


def away_from_zero(*shape):
    """Values in [-2, -0.2] U [0.2, 2]: no kinks of relu/abs within finite-difference reach."""
    magnitude = rand(*shape, low=0.2, high=2.0)
    sign = torch.where(torch.rand(tuple(shape)) < 0.5, -1.0, 1.0)
    return magnitude * sign


def encode(t):
    return {"shape": list(t.shape), "data": [float(v) for v in t.detach().flatten().tolist()]}


def case(name, op, inputs, fn, args=None, index=None):
    leaves = [x.clone().requires_grad_(True) for x in inputs]
    out = fn(*leaves)
    upstream = rand(*out.shape)
    out.backward(upstream)
    entry = {
        "name": name,
        "op": op,
        "args": args or {},
        "inputs": [encode(x) for x in inputs],
        "upstream": encode(upstream),
        "output": encode(out),
        "grads": [encode(x.grad) for x in leaves],
    }
    if index is not None:
        entry["index"] = {"shape": list(index.shape), "data": index.flatten().tolist()}
    return entry


def build_cases():
    cases = []
    binary = {
        "add": torch.add,
        "sub": torch.sub,
        "mul": torch.mul,
        "div": torch.div,
        "maximum": torch.maximum,
        "minimum": torch.minimum,
    }
    # Broadcasting patterns: same shape, scalar, row vector, column vector, missing leading
    # dims, size-1 dims on both sides.
    shapes = {
        "same": ((3, 4), (3, 4)),
        "scalar": ((3, 4), ()),
        "scalar_left": ((), (3, 4)),
        "row": ((3, 4), (4,)),
        "column": ((3, 4), (3, 1)),
        "leading": ((4,), (2, 3, 4)),
        "size1_both": ((1, 4), (3, 1)),
        "middle": ((2, 1, 4), (3, 1)),
    }
    for op, fn in binary.items():
        for pattern, (sa, sb) in shapes.items():
            a, b = rand(*sa), rand(*sb)
            if op == "div":
                b = away_from_zero(*sb)
            cases.append(case(f"{op}_{pattern}", op, [a, b], fn))
    for pattern in ("same", "row", "column", "scalar"):
        sa, sb = shapes[pattern]
        cases.append(case(f"pow_{pattern}", "pow", [rand(*sa, low=0.5, high=2.0), rand(*sb)], torch.pow))

    unary = {
        "neg": (torch.neg, rand),
        "exp": (torch.exp, rand),
        "log": (torch.log, lambda *s: rand(*s, low=0.2, high=3.0)),
        "sqrt": (torch.sqrt, lambda *s: rand(*s, low=0.2, high=3.0)),
        "tanh": (torch.tanh, rand),
        "sigmoid": (torch.sigmoid, rand),
        "relu": (torch.relu, away_from_zero),
        "abs": (torch.abs, away_from_zero),
    }
    for op, (fn, gen) in unary.items():
        cases.append(case(op, op, [gen(2, 3, 4)], fn))

    for axes, keepdims in (([0], False), ([1], True), ([0, 2], False), ([0, 1, 2], False), ([2], True)):
        tag = "_".join(map(str, axes)) + ("_keep" if keepdims else "")
        args = {"axes": axes, "keepdims": keepdims}
        x = rand(2, 3, 4)
        cases.append(case(f"sum_{tag}", "sum", [x], lambda t: t.sum(dim=axes, keepdim=keepdims), args))
        cases.append(case(f"mean_{tag}", "mean", [x], lambda t: t.mean(dim=axes, keepdim=keepdims), args))
        cases.append(case(f"max_{tag}", "max", [x], lambda t: t.amax(dim=axes, keepdim=keepdims), args))
    for axis in (0, 1):
        x = rand(4, 5) * 3
        args = {"axis": axis}
        cases.append(case(f"softmax_{axis}", "softmax", [x], lambda t: torch.softmax(t, dim=axis), args))
        cases.append(case(f"log_softmax_{axis}", "log_softmax", [x], lambda t: torch.log_softmax(t, dim=axis), args))
    big = torch.tensor([[1000.0, 0.0, -1000.0], [50.0, 51.0, 49.0]])
    cases.append(case("log_softmax_huge", "log_softmax", [big], lambda t: torch.log_softmax(t, dim=1), {"axis": 1}))
    cases.append(case("softmax_huge", "softmax", [big], lambda t: torch.softmax(t, dim=1), {"axis": 1}))

    for name, sa, sb in (
        ("matmul_2d", (5, 7), (7, 3)),
        ("matmul_batched", (2, 5, 7), (2, 7, 3)),
        ("matmul_broadcast_left", (5, 7), (4, 7, 3)),
        ("matmul_broadcast_both", (2, 1, 5, 7), (3, 7, 2)),
    ):
        cases.append(case(name, "matmul", [rand(*sa), rand(*sb)], torch.matmul))

    x = rand(2, 3, 4)
    cases.append(case("reshape", "reshape", [x], lambda t: t.reshape(4, 6), {"shape": [4, 6]}))
    cases.append(case("permute", "permute", [x], lambda t: t.permute(2, 0, 1), {"perm": [2, 0, 1]}))
    cases.append(case("transpose", "transpose", [rand(3, 5)], lambda t: t.transpose(0, 1)))
    cases.append(case("broadcast_to", "broadcast_to", [rand(3, 1)], lambda t: t.broadcast_to(2, 3, 4), {"shape": [2, 3, 4]}))
    index = torch.tensor([[2, 0], [1, 1], [0, 2], [2, 2]])
    cases.append(case("gather", "gather", [rand(4, 3)], lambda t: t.gather(1, index), {"axis": 1}, index=index))
    index0 = torch.tensor([[0, 2, 1], [0, 0, 3]])
    cases.append(case("gather_axis0", "gather", [rand(4, 3)], lambda t: t.gather(0, index0), {"axis": 0}, index=index0))
    cases.append(case("narrow", "narrow", [x], lambda t: t.narrow(1, 1, 2), {"axis": 1, "start": 1, "len": 2}))
    cases.append(case("slice_rows", "slice_rows", [rand(6, 3)], lambda t: t[2:5], {"start": 2, "end": 5}))
    cases.append(case("concat_1", "concat", [rand(2, 3), rand(2, 1), rand(2, 2)], lambda *t: torch.cat(t, dim=1), {"axis": 1}))
    cases.append(case("concat_0", "concat", [rand(1, 3), rand(2, 3)], lambda *t: torch.cat(t, dim=0), {"axis": 0}))

    # The texts' example: y = (a*x + b) * a, x and a 3x3, b of shape (3,), and a random 3x3
    # upstream gradient passed to y.backward.
    x, a, b = torch.rand(3, 3), torch.rand(3, 3), torch.rand(3)
    cases.append(case("texts_broadcast_example", "texts_example", [x, a, b], lambda x, a, b: (a * x + b) * a))

    # Powers at a base of 0 and with an exponent of 0, where the textbook formulas give
    # 0 * inf and PyTorch gives the limit, 0.
    base = torch.tensor([0.0, 0.0, 0.0, 1.5, 0.0, 2.0])
    exponent = torch.tensor([2.0, 0.0, 1.0, 0.0, 3.0, 0.0])
    cases.append(case("pow_base_zero", "pow", [base, exponent], torch.pow))
    with_zeros = rand(3, 4, low=0.5, high=2.0)
    with_zeros[0, 1] = 0.0
    with_zeros[2, 3] = 0.0
    cases.append(case("pow_exponent_zero", "pow", [with_zeros, torch.tensor(0.0)], torch.pow))
    return cases


def conv_cases():
    torch.manual_seed(20261130)
    cases = []
    for name, x_shape, w_shape, stride, padding in (
        ("conv_basic", (2, 3, 7, 6), (4, 3, 3, 2), 1, 0),
        ("conv_batch1_stride2_pad2", (1, 1, 9, 9), (5, 1, 5, 5), 2, 2),
        ("conv_rect_odd_stride3_pad1", (3, 2, 5, 8), (2, 2, 1, 3), 3, 1),
        ("conv_cnn_second_layer", (2, 16, 14, 14), (32, 16, 5, 5), 1, 2),
    ):
        x, w, b = rand(*x_shape), rand(*w_shape), rand(w_shape[0])
        args = {"stride": stride, "padding": padding, "kh": w_shape[2], "kw": w_shape[3]}
        cases.append(case(name, "conv2d", [x, w, b], lambda x, w, b: F.conv2d(x, w, b, stride=stride, padding=padding), args))
    # Integers in a small range make equal values in the same window: ties, which PyTorch
    # breaks by taking the first.
    ties = torch.randint(0, 4, (1, 2, 5, 7)).double()
    for name, x, k, stride in (
        ("max_pool_2_2", rand(2, 3, 6, 6), 2, 2),
        ("max_pool_ties_3_2", ties, 3, 2),
        ("max_pool_overlap_2_1", rand(1, 1, 5, 5), 2, 1),
    ):
        args = {"kh": k, "kw": k, "stride": stride, "padding": 0}
        cases.append(case(name, "max_pool2d", [x], lambda t: F.max_pool2d(t, k, stride), args))
    for name, x, k, stride in (
        ("avg_pool_3_2", rand(2, 3, 7, 6), 3, 2),
        ("avg_pool_2_2_batch1", rand(1, 4, 4, 4), 2, 2),
    ):
        args = {"kh": k, "kw": k, "stride": stride, "padding": 0}
        cases.append(case(name, "avg_pool2d", [x], lambda t: F.avg_pool2d(t, k, stride), args))
    for name, x_shape, training in (
        ("batch_norm_2d_train", (4, 3, 5, 5), True),
        ("batch_norm_1d_train", (6, 5), True),
        ("batch_norm_2d_eval", (3, 4, 2, 2), False),
    ):
        x = rand(*x_shape)
        c = x_shape[1]
        weight, bias = rand(c, low=0.5, high=1.5), rand(c)
        mean0, var0 = rand(c), rand(c, low=0.5, high=2.0)
        running = [mean0.clone(), var0.clone()]
        fn = lambda x, w, b: F.batch_norm(x, running[0], running[1], w, b, training=training, momentum=0.1, eps=1e-5)
        entry = case(name, "batch_norm", [x, weight, bias], fn, {"training": training})
        entry["running_before"] = [encode(mean0), encode(var0)]
        entry["running_after"] = [encode(running[0]), encode(running[1])]
        cases.append(entry)
    return cases


def language_cases():
    """The operations the language models add (issue 24), with a seed of their own so the
    other fixtures keep their values."""
    torch.manual_seed(20261202)
    cases = []
    # Ids that repeat (the boundary 0 and 1 twice): their rows' gradients must add up.
    ids = torch.tensor([[0, 1, 1], [26, 0, 1]])
    cases.append(case("embedding_repeated_ids", "embedding", [rand(27, 5)], lambda t: F.embedding(ids, t), index=ids))
    ids1 = torch.tensor([3, 3, 3, 0])
    cases.append(case("embedding_one_row_four_times", "embedding", [rand(4, 2)], lambda t: F.embedding(ids1, t), index=ids1))
    # makemore's MLP language model, whole: 8 contexts of 3 characters (27 of them), embedding
    # 4, 6 hidden units with batch norm (batch statistics, eps 1e-5) and tanh, cross-entropy.
    contexts = torch.tensor([[0, 0, 5], [0, 5, 13], [5, 13, 13], [13, 13, 1], [1, 2, 3], [0, 0, 0], [26, 25, 24], [3, 3, 3]])
    targets = [5, 13, 13, 1, 0, 9, 2, 7]

    def mlp_lm(table, w1, gamma, beta, w2, b2):
        x = F.embedding(contexts, table).reshape(8, -1)
        h = torch.tanh(F.batch_norm(x @ w1.T, None, None, gamma, beta, training=True, eps=1e-5))
        return F.cross_entropy(h @ w2.T + b2, torch.tensor(targets))

    inputs = [rand(27, 4), rand(6, 12, low=-0.5, high=0.5), rand(6, low=0.5, high=1.5), rand(6), rand(27, 6), rand(27)]
    cases.append(case("mlp_language_model", "mlp_language_model", inputs, mlp_lm, {"targets": targets}, index=contexts))
    # The GPT's pieces: layer norm over the last axis, GELU (tanh form), and causal
    # self-attention with 2 heads, written as makemore's CausalSelfAttention.
    cases.append(case("layer_norm", "layer_norm", [rand(2, 3, 5), rand(5), rand(5)],
                      lambda x, w, b: F.layer_norm(x, (5,), w, b, eps=1e-5)))
    cases.append(case("gelu_tanh", "gelu", [rand(3, 4, low=-4.0, high=4.0)], lambda x: F.gelu(x, approximate="tanh")))

    def attention(x, wa, ba, wp, bp):
        b, t, c = x.shape
        q, k, v = (x @ wa.T + ba).split(c, dim=2)
        q, k, v = (z.view(b, t, 2, c // 2).transpose(1, 2) for z in (q, k, v))
        att = (q @ k.transpose(-2, -1)) * (1.0 / (c // 2) ** 0.5)
        att = att.masked_fill(torch.tril(torch.ones(t, t)) == 0, float("-inf")).softmax(-1)
        return (att @ v).transpose(1, 2).contiguous().view(b, t, c) @ wp.T + bp

    cases.append(case("causal_self_attention", "causal_self_attention",
                      [rand(2, 4, 6), rand(18, 6, low=-0.7, high=0.7), rand(18), rand(6, 6), rand(6)], attention, {"heads": 2}))
    # A GPT on names: windows padded past each name's end, whose targets (-1) do not count.
    padded = [1, -1, 4, 0, -1, 2]
    cases.append(case("cross_entropy_ignore_index", "cross_entropy_ignoring", [rand(6, 5)],
                      lambda z: F.cross_entropy(z, torch.tensor(padded), ignore_index=-1), {"targets": padded}))
    return cases


def gpt_case():
    """A whole small GPT (vocabulary 5, context 4, embedding 8, 2 heads, 1 block) as makemore
    and nanoGPT write it, with named weights: its loss over every position of 2 windows and the
    gradient of every tensor, float64."""
    torch.manual_seed(20261203)
    e, v, t = 8, 5, 4
    shapes = {"wte.weight": (v, e), "wpe.weight": (t, e), "ln_f.weight": (e,), "ln_f.bias": (e,),
              "lm_head.weight": (v, e), "h.0.ln_1.weight": (e,), "h.0.ln_1.bias": (e,),
              "h.0.attn.c_attn.weight": (3 * e, e), "h.0.attn.c_attn.bias": (3 * e,),
              "h.0.attn.c_proj.weight": (e, e), "h.0.attn.c_proj.bias": (e,),
              "h.0.ln_2.weight": (e,), "h.0.ln_2.bias": (e,), "h.0.mlp.c_fc.weight": (4 * e, e),
              "h.0.mlp.c_fc.bias": (4 * e,), "h.0.mlp.c_proj.weight": (e, 4 * e), "h.0.mlp.c_proj.bias": (e,)}
    w = {n: (rand(*s, low=-0.5, high=0.5) + (1.0 if "ln" in n and n.endswith("weight") else 0.0)).requires_grad_(True)
         for n, s in shapes.items()}
    ids = torch.tensor([[0, 1, 2, 3], [4, 4, 0, 2]])
    targets = torch.tensor([[1, 2, 3, 4], [4, 0, 2, 1]])
    x = w["wte.weight"][ids] + w["wpe.weight"][:t]
    h = F.layer_norm(x, (e,), w["h.0.ln_1.weight"], w["h.0.ln_1.bias"], eps=1e-5)
    q, k, vv = (h @ w["h.0.attn.c_attn.weight"].T + w["h.0.attn.c_attn.bias"]).split(e, dim=2)
    q, k, vv = (z.view(2, t, 2, e // 2).transpose(1, 2) for z in (q, k, vv))
    att = ((q @ k.transpose(-2, -1)) / (e // 2) ** 0.5).masked_fill(torch.tril(torch.ones(t, t)) == 0, float("-inf")).softmax(-1)
    y = (att @ vv).transpose(1, 2).contiguous().view(2, t, e)
    x = x + y @ w["h.0.attn.c_proj.weight"].T + w["h.0.attn.c_proj.bias"]
    h = F.layer_norm(x, (e,), w["h.0.ln_2.weight"], w["h.0.ln_2.bias"], eps=1e-5)
    h = F.gelu(h @ w["h.0.mlp.c_fc.weight"].T + w["h.0.mlp.c_fc.bias"], approximate="tanh")
    x = x + h @ w["h.0.mlp.c_proj.weight"].T + w["h.0.mlp.c_proj.bias"]
    logits = F.layer_norm(x, (e,), w["ln_f.weight"], w["ln_f.bias"], eps=1e-5) @ w["lm_head.weight"].T
    loss = F.cross_entropy(logits.view(-1, v), targets.view(-1))
    loss.backward()
    return {
        "generated_by": "tools/torch_reference.py", "torch_version": torch.__version__, "dtype": "float64",
        "ids": ids.flatten().tolist(), "targets": targets.flatten().tolist(), "loss": loss.item(),
        "weights": {n: encode(p) for n, p in w.items()}, "grads": {n: encode(p.grad) for n, p in w.items()},
    }


def wavenet_case():
    """makemore part 5's WaveNet-style tree, small (vocabulary 6, context 4, embedding 3, 5 hidden
    units, 2 levels, batch 3), written as the lecture writes it: FlattenConsecutive(2) as a view,
    Linear without bias, BatchNorm1d over (batch, time) in training mode (biased variance to
    normalize, PyTorch's momentum 0.1 for the running statistics), tanh, and a linear head. Its
    loss, every gradient, and each batch norm's running statistics afterwards, float64."""
    torch.manual_seed(20261204)
    v, e, h = 6, 3, 5
    shapes = {"wte.weight": (v, e), "h.0.weight": (h, 2 * e), "h.0.bn.weight": (h,), "h.0.bn.bias": (h,),
              "h.1.weight": (h, 2 * h), "h.1.bn.weight": (h,), "h.1.bn.bias": (h,),
              "out.weight": (v, h), "out.bias": (v,)}
    w = {n: (rand(*s, low=-1.0, high=1.0) + (1.0 if n.endswith("bn.weight") else 0.0)).requires_grad_(True)
         for n, s in shapes.items()}
    running = {f"h.{i}.bn.{k}": (torch.zeros(h) if k == "running_mean" else torch.ones(h))
               for i in range(2) for k in ("running_mean", "running_var")}
    ids = torch.tensor([[0, 1, 2, 3], [5, 5, 0, 1], [2, 4, 4, 0]])
    targets = torch.tensor([4, 2, 1])
    x = w["wte.weight"][ids]  # [B, T, E]
    for i in range(2):
        b, t, c = x.shape
        x = x.view(b, t // 2, 2 * c)  # FlattenConsecutive(2)
        if x.shape[1] == 1:
            x = x.squeeze(1)
        x = x @ w[f"h.{i}.weight"].T
        # BatchNorm1d over (batch, time): PyTorch's layer wants channels on axis 1.
        flat = x.reshape(-1, h)
        flat = F.batch_norm(flat, running[f"h.{i}.bn.running_mean"], running[f"h.{i}.bn.running_var"],
                            w[f"h.{i}.bn.weight"], w[f"h.{i}.bn.bias"], training=True, momentum=0.1, eps=1e-5)
        x = torch.tanh(flat.reshape(x.shape))
    loss = F.cross_entropy(x @ w["out.weight"].T + w["out.bias"], targets)
    loss.backward()
    return {
        "generated_by": "tools/torch_reference.py", "torch_version": torch.__version__, "dtype": "float64",
        "ids": ids.flatten().tolist(), "targets": targets.tolist(), "loss": loss.item(),
        "weights": {n: encode(p) for n, p in w.items()}, "grads": {n: encode(p.grad) for n, p in w.items()},
        "running_after": {n: encode(r) for n, r in running.items()},
    }


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    ops = build_cases()  # first: it draws from the seed set at the top
    layers = {
        "generated_by": "tools/torch_reference.py",
        "torch_version": torch.__version__,
        "dtype": "float64",
        "cases": conv_cases(),
    }
    (OUT / "conv_layers.json").write_text(json.dumps(layers, indent=1) + "\n")
    print(f"wrote {len(layers['cases'])} cases to {OUT / 'conv_layers.json'}")
    doc = {
        "generated_by": "tools/torch_reference.py",
        "torch_version": torch.__version__,
        "dtype": "float64",
        "cases": ops,
    }
    path = OUT / "tensor_ops.json"
    path.write_text(json.dumps(doc, indent=1) + "\n")
    print(f"wrote {len(doc['cases'])} cases to {path}")
    language = dict(doc, cases=language_cases())
    path = OUT / "language_ops.json"
    path.write_text(json.dumps(language, indent=1) + "\n")
    print(f"wrote {len(language['cases'])} cases to {path}")
    path = OUT / "gpt_block.json"
    path.write_text(json.dumps(gpt_case(), indent=1) + "\n")
    print(f"wrote a whole GPT to {path}")
    path = OUT / "wavenet.json"
    path.write_text(json.dumps(wavenet_case(), indent=1) + "\n")
    print(f"wrote a whole WaveNet to {path}")


if __name__ == "__main__":
    main()
