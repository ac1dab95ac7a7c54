#!/usr/bin/env python3
"""Reference permutations from PyTorch's CPU generator, for `data::torch_randperm` and the
names split (makemore.py's `create_datasets`).

Usage (needs PyTorch; the tests never do):

    ~/torchvenv/bin/python tools/torch_randperm_reference.py

Writes crates/scratchgrad/tests/fixtures/torch_randperm.json: for a few (n, seed), the
whole of `torch.randperm(n)` after `torch.manual_seed(seed)`; for n = 32,033 (the names in
names.txt) and makemore's seed 3407, the last 1,000 entries, which are the names makemore.py
holds out as its test set.
"""
import json
import pathlib

import torch

OUT = pathlib.Path(__file__).resolve().parent.parent / "crates" / "scratchgrad" / "tests" / "fixtures" / "torch_randperm.json"


def randperm(n, seed):
    torch.manual_seed(seed)
    return torch.randperm(n).tolist()


whole = [{"n": n, "seed": seed, "permutation": randperm(n, seed)}
         for n, seed in [(1, 3407), (2, 0), (10, 3407), (2003, 3407), (1000, 1), (1000, 4294967295)]]
names = {"n": 32033, "seed": 3407, "last_1000": randperm(32033, 3407)[-1000:]}
OUT.write_text(json.dumps({"torch": torch.__version__, "whole": whole, "makemore_names": names}) + "\n")
print(f"wrote {OUT}")
