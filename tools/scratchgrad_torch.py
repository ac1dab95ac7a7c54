"""The torch.nn.Sequential a scratchgrad architecture describes, for the tools that compare
with PyTorch (check_torch_interop.py, bench_pytorch.py). The layer grammar is scratchgrad's
(crates/scratchgrad/src/arch/layer.rs): linearN, convNkK[xW][sS][pP], maxpoolK[sS], avgpoolK[sS], bn, dropoutP,
relu, sigmoid, tanh, flatten.
"""
import re

import torch

ACTIVATIONS = {"sigmoid": torch.nn.Sigmoid, "relu": torch.nn.ReLU, "tanh": torch.nn.Tanh}
WINDOW = re.compile(r"^(\d+)(?:x(\d+))?(?:s(\d+))?(?:p(\d+))?$")


def window(text, default_stride):
    m = WINDOW.match(text)
    if not m:
        raise SystemExit(f"cannot read the window {text!r}")
    kh = int(m.group(1))
    kw = int(m.group(2) or kh)
    stride = int(m.group(3) or (default_stride or kh))
    padding = int(m.group(4) or 0)
    return (kh, kw), stride, padding


def build(arch):
    """(model, input shape) for an architecture as model files store it: {"input": [...],
    "layers": "..."}, or the older MLP-only {"inputs", "hidden", "classes", "activation"}."""
    if "layers" not in arch:
        hidden = ",".join(f"linear{h},{arch['activation']}" for h in arch["hidden"])
        arch = {"input": [arch["inputs"]], "layers": f"{hidden},linear{arch['classes']}".lstrip(",")}
    shape = list(arch["input"])
    layers = []
    for token in arch["layers"].split(","):
        if token in ACTIVATIONS:
            layers.append(ACTIVATIONS[token]())
        elif token == "flatten":
            layers.append(torch.nn.Flatten())
            shape = [int(torch.tensor(shape).prod())]
        elif token == "bn":
            layers.append(torch.nn.BatchNorm2d(shape[0]) if len(shape) == 3 else torch.nn.BatchNorm1d(shape[0]))
        elif token.startswith("dropout"):
            layers.append(torch.nn.Dropout(float(token[len("dropout"):])))
        elif token.startswith("linear"):
            out = int(token[len("linear"):])
            layers.append(torch.nn.Linear(shape[0], out))
            shape = [out]
        elif token.startswith("conv"):
            out, rest = re.match(r"^conv(\d+)k(.*)$", token).groups()
            kernel, stride, padding = window(rest, 1)
            layers.append(torch.nn.Conv2d(shape[0], int(out), kernel, stride=stride, padding=padding))
            h = (shape[1] + 2 * padding - kernel[0]) // stride + 1
            w = (shape[2] + 2 * padding - kernel[1]) // stride + 1
            shape = [int(out), h, w]
        elif token.startswith(("maxpool", "avgpool")):
            kernel, stride, _ = window(token[len("maxpool"):], None)
            pool = torch.nn.MaxPool2d if token.startswith("max") else torch.nn.AvgPool2d
            layers.append(pool(kernel, stride))
            shape = [shape[0], (shape[1] - kernel[0]) // stride + 1, (shape[2] - kernel[1]) // stride + 1]
        else:
            raise SystemExit(f"unknown layer {token!r}")
    return torch.nn.Sequential(*layers), list(arch["input"])
