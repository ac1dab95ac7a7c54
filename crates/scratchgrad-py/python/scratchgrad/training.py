"""`scratchgrad.train`: the command line's `scratchgrad train` as a function, for notebooks.

The run is the Rust library's own (the same loop, files and numbers as the command line);
it runs with the GIL released, so other Python threads keep going while it trains.
"""

import json
import math
import sys
import warnings

from . import _scratchgrad


def train(
    dataset="mnist",
    arch=None,
    epochs=None,
    out=None,
    *,
    layers=None,
    hidden=None,
    activation=None,
    engine=None,
    batch_size=None,
    lr=None,
    optimizer=None,
    schedule=None,
    seed=None,
    val_split=None,
    data_dir=None,
    threads=None,
    progress=True,
):
    """Trains a classifier as `scratchgrad train` does and returns what the run did.

    `dataset` is "mnist", "fashion-mnist" or "mnist-mini" (built in, no download); `arch` a
    network by name ("mlp", "cnn", "lenet5") or `layers` a layer list
    ("linear128,relu,linear10"); the other settings are the command line's flags, and what
    is left out takes the same defaults. The run's folder is `out` (new or empty), or a new
    folder in `runs/`; it holds `model.safetensors`, `metrics.jsonl`, the pictures and
    `summary.json`, and `load_model(folder + "/model.safetensors")` reads the model back.

    Returns a dict: `folder`, `history` (one dict per epoch: `epoch`, `train_loss`,
    `train_accuracy`, `test_loss` and `test_accuracy`, or `val_loss` and `val_accuracy`
    with `val_split`, `seconds`), `test_accuracy` (on the test set at the end),
    `wall_seconds`, `pictures` (the files drawn) and `warnings` (pictures that could not be). A progress bar shows each epoch (tqdm's, a widget in a
    notebook, when tqdm is installed; one line on stderr otherwise); `progress=False`
    hides it. Ctrl-C (or the notebook's stop button) stops the run and raises
    `KeyboardInterrupt`; completed epochs stay in the folder. Settings out of range raise
    `ValueError`, a run that cannot start or finish `RuntimeError`.
    """
    settings = {
        "dataset": dataset,
        "arch": arch,
        "epochs": epochs,
        "layers": layers,
        "hidden": list(hidden) if isinstance(hidden, (list, tuple)) else hidden,
        "activation": activation,
        "engine": engine,
        "batch_size": batch_size,
        "lr": lr,
        "optimizer": optimizer,
        "schedule": schedule,
        "seed": seed,
        "val_split": val_split,
    }
    settings = {k: v for k, v in settings.items() if v is not None}
    for name, value in settings.items():
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"{name} must be a finite number, not {value}")
    if out is not None and str(out).strip() == "":
        raise ValueError("out is empty: give a folder for the run, or leave it out for a new folder in runs/")
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or threads < 1):
        raise ValueError(f"threads must be a whole number of at least 1, not {threads!r}")
    bar = _Progress(progress)
    try:
        result = _scratchgrad.train_run(
            json.dumps(settings),
            None if out is None else str(out),
            None if data_dir is None else str(data_dir),
            threads,
            bar,
        )
    finally:
        bar.close()
    return json.loads(result)


class _Progress:
    """Shows a run's progress: a tqdm bar per epoch when tqdm is installed (`tqdm.auto`
    draws a widget in a notebook), else one line on stderr rewritten in place."""

    def __init__(self, show):
        self.show = show
        self.bar = None
        try:
            # tqdm.auto warns and falls back to its terminal bar where ipywidgets is missing.
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                from tqdm.auto import tqdm
        except ImportError:
            tqdm = None
        self.tqdm = tqdm

    def batch(self, epoch, batch, batches, loss, accuracy):
        if not self.show:
            return
        postfix = f"loss {loss:.4f}, accuracy {accuracy * 100:.1f}%"
        if self.tqdm is None:
            print(f"\repoch {epoch}: {batch}/{batches} steps, {postfix}", end="", file=sys.stderr)
            return
        if self.bar is None:
            self.bar = self.tqdm(total=batches, desc=f"epoch {epoch}", unit="step")
        self.bar.update(batch - self.bar.n)
        self.bar.set_postfix_str(postfix, refresh=False)

    def epoch(self, metrics):
        if not self.show:
            return
        metrics = json.loads(metrics)
        held, name = ("test", "test") if "test_loss" in metrics else ("val", "validation")
        end = f"{name} loss {metrics[held + '_loss']:.4f}, accuracy {metrics[held + '_accuracy'] * 100:.2f}%"
        if self.bar is not None:
            self.bar.set_postfix_str(end)
            self.bar.close()
            self.bar = None
        elif self.tqdm is None:
            print(f" | {end}", file=sys.stderr)

    def close(self):
        if self.bar is not None:
            self.bar.close()
            self.bar = None
