#!/usr/bin/env python3
"""Generate torch.optim reference trajectories for scratchgrad's optimizer tests.

Usage: ~/torchvenv/bin/python tools/torch_optim_reference.py

Writes crates/scratchgrad/tests/fixtures/optim.json: two float64 parameters, five steps of fixed random
gradients, and the parameters after each step for SGD (plain, momentum, Nesterov with weight
decay), Adam (with and without weight decay) and AdamW; plus the learning rates that
CosineAnnealingLR and StepLR give epoch by epoch.
"""
import json
import pathlib

import torch

torch.manual_seed(7)
torch.set_default_dtype(torch.float64)
OUT = pathlib.Path(__file__).resolve().parent.parent / "crates" / "scratchgrad" / "tests" / "fixtures" / "optim.json"
STEPS = 5

CONFIGS = {
    "sgd": lambda p: torch.optim.SGD(p, lr=0.1),
    "sgd_momentum": lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9),
    "sgd_nesterov_wd": lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.01),
    "adam": lambda p: torch.optim.Adam(p, lr=0.01),
    "adam_wd": lambda p: torch.optim.Adam(p, lr=0.02, betas=(0.8, 0.99), weight_decay=0.1),
    "adamw": lambda p: torch.optim.AdamW(p, lr=0.02, weight_decay=0.1),
}


def flat(t):
    return [float(v) for v in t.detach().flatten().tolist()]


def main():
    initial = [torch.randn(3, 2), torch.randn(4)]
    grads = [[torch.randn(3, 2), torch.randn(4)] for _ in range(STEPS)]
    doc = {
        "generated_by": "tools/torch_optim_reference.py",
        "torch_version": torch.__version__,
        "initial": [{"shape": list(p.shape), "data": flat(p)} for p in initial],
        "grads": [[flat(g) for g in step] for step in grads],
        "trajectories": {},
    }
    for name, make in CONFIGS.items():
        params = [p.clone().requires_grad_(True) for p in initial]
        opt = make(params)
        path = []
        for step in grads:
            for p, g in zip(params, step):
                p.grad = g.clone()
            opt.step()
            path.append([flat(p) for p in params])
        doc["trajectories"][name] = path
    p = torch.zeros(1, requires_grad=True)
    for name, make in {
        "cosine": lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=10, eta_min=0.001),
        "step": lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=3, gamma=0.5),
    }.items():
        opt = torch.optim.SGD([p], lr=0.1)
        sched = make(opt)
        lrs = []
        for _ in range(12):
            lrs.append(opt.param_groups[0]["lr"])
            opt.step()
            sched.step()
        doc[name + "_lr"] = lrs
    OUT.write_text(json.dumps(doc, indent=1) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
