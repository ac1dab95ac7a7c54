#!/usr/bin/env python3
"""Build the committed `names-mini` and `shakespeare-mini` text slices from the full files.

Usage: python3 tools/make_text_mini.py DIR_WITH_names.txt_AND_tinyshakespeare.txt

names-mini: every 16th name of makemore's names.txt, in file order (2,003 names).
shakespeare-mini: the first 65,536 characters of tiny Shakespeare, cut back to the end of the
last whole line. Both are written to crates/scratchgrad/assets/text-mini/ as plain UTF-8.
Checks the full files' SHA-256 first (the sums in ../shared/data/README.md). Needs only
Python's standard library.
"""
import hashlib
import pathlib
import sys

OUT = pathlib.Path(__file__).resolve().parent.parent / "crates" / "scratchgrad" / "assets" / "text-mini"
SUMS = {
    "names.txt": "0a30b5557f192f32ab962680889aac5f6fda0f4cecf40a6d0b5694f58ea8cc4d",
    "tinyshakespeare.txt": "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed",
}


def read(folder, name):
    data = (folder / name).read_bytes()
    got = hashlib.sha256(data).hexdigest()
    if got != SUMS[name]:
        sys.exit(f"{name}: SHA-256 {got} is not the expected {SUMS[name]}")
    return data.decode("utf-8")


def main():
    folder = pathlib.Path(sys.argv[1])
    OUT.mkdir(parents=True, exist_ok=True)
    names = read(folder, "names.txt").split("\n")
    names = [n for n in names if n][::16]
    (OUT / "names-mini.txt").write_text("\n".join(names) + "\n", encoding="utf-8")
    text = read(folder, "tinyshakespeare.txt")[:65536]
    text = text[: text.rindex("\n") + 1]
    (OUT / "shakespeare-mini.txt").write_text(text, encoding="utf-8")
    print(f"{len(names)} names, {len(text)} characters of Shakespeare")


main()
