#!/usr/bin/env python3
"""Epoch time against hidden width and against batch size (issue 6's scaling tables and plot).

Runs `scratchgrad bench --json` (autograd, manual, the GEMM-only bound and PyTorch, alternating
in separate processes) once per hidden width at batch 64 and once per batch size at width 256,
then prints the two tables as Markdown and, when matplotlib is importable, draws both as one
SVG (log-log: seconds per epoch against width, and against batch size).

    python3 tools/bench_sweep.py --scratchgrad target/release/scratchgrad \
        --python ~/torchvenv/bin/python --threads 2 --rounds 3 --svg docs/img/scaling.svg
"""
import argparse
import json
import subprocess

WIDTHS = [64, 256, 1024, 4096]
BATCHES = [16, 64, 256, 1024]
NAMES = {"autograd": "autograd", "manual": "manual", "gemm": "GEMM only", "pytorch": "PyTorch"}


def bench(args, hidden, batch):
    out = subprocess.run(
        [args.scratchgrad, "bench", "--json", "--python", args.python, "--threads",
         str(args.threads), "--rounds", str(args.rounds), "--hidden", str(hidden),
         "--batch-size", str(batch), "--eval-repeats", "0"],
        check=True, capture_output=True, text=True).stdout
    results = json.loads(out)["results"]
    return {r["contender"]: r["median_seconds"] for r in results}


def table(title, rows):
    contenders = [c for c in NAMES if c in rows[0][1]]
    header = f"| {title} | " + " | ".join(f"{NAMES[c]} s" for c in contenders)
    lines = [header + (" | autograd / PyTorch |" if "pytorch" in contenders else " |")]
    lines.append("|---:" * (len(contenders) + 1 + ("pytorch" in contenders)) + "|")
    for value, times in rows:
        cells = " | ".join(f"{times[c]:.3f}" for c in contenders)
        ratio = f" | {times['autograd'] / times['pytorch']:.2f}x" if "pytorch" in times else ""
        lines.append(f"| {value} | {cells}{ratio} |")
    return "\n".join(lines)


def plot(path, by_width, by_batch, threads):
    import matplotlib

    matplotlib.use("svg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, rows, label in ((axes[0], by_width, "hidden width (batch 64)"),
                            (axes[1], by_batch, "batch size (hidden 256)")):
        xs = [v for v, _ in rows]
        for c, name in NAMES.items():
            if c in rows[0][1]:
                ax.plot(xs, [t[c] for _, t in rows], marker="o", label=name)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel(label)
        ax.set_ylabel("seconds per MNIST epoch")
        ax.grid(True, which="both", alpha=0.3)
    axes[0].legend()
    fig.suptitle(f"784-H-10 sigmoid MLP, one epoch, {threads} thread(s): lower is better")
    fig.tight_layout()
    fig.savefig(path)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--scratchgrad", default="target/release/scratchgrad")
    parser.add_argument("--python", default="python3")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--svg", help="where to draw the plot (needs matplotlib)")
    args = parser.parse_args()
    by_width = [(h, bench(args, h, 64)) for h in WIDTHS]
    by_batch = [(b, bench(args, 256, b)) for b in BATCHES]
    print(table("hidden width (batch 64)", by_width))
    print()
    print(table("batch size (hidden 256)", by_batch))
    if args.svg:
        plot(args.svg, by_width, by_batch, args.threads)
        print(f"\nplot written to {args.svg}")


if __name__ == "__main__":
    main()
