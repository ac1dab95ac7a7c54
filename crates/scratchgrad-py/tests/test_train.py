"""scratchgrad.train and scratchgrad.load_model: the command line's run from Python (the same
model bytes as `scratchgrad train`), the GIL released while it trains, Ctrl-C, predictions
against the model's own weights run through numpy, and errors as exceptions."""

import os
import subprocess
import sys
import threading
import time
import _thread

import numpy as np
import pytest

import scratchgrad as sg

BINARY = os.environ.get("SCRATCHGRAD_BIN")


def test_a_run_writes_its_folder_and_returns_its_metrics(tmp_path):
    out = tmp_path / "run"
    result = sg.train("mnist-mini", epochs=2, out=out, progress=False)
    assert result["folder"] == str(out)
    assert [m["epoch"] for m in result["history"]] == [1, 2]
    assert result["history"][-1]["test_accuracy"] == result["test_accuracy"]
    assert result["test_accuracy"] > 0.5
    for name in ["model.safetensors", "metrics.jsonl", "summary.json", *result["pictures"]]:
        assert (out / name).is_file(), name


@pytest.mark.skipif(BINARY is None, reason="SCRATCHGRAD_BIN (the command line, set by cargo test) is not set")
def test_the_same_settings_give_the_command_lines_model_bytes(tmp_path):
    settings = dict(epochs=2, layers="linear64,relu,linear10", batch_size=32, lr=0.05, optimizer="sgd", seed=3)
    sg.train("mnist-mini", out=tmp_path / "python", progress=False, **settings)
    subprocess.run(
        [BINARY, "train", "--dataset", "mnist-mini", "--epochs", "2", "--layers", settings["layers"],
         "--batch-size", "32", "--lr", "0.05", "--optimizer", "sgd", "--seed", "3",
         "--out", str(tmp_path / "cli"), "--quiet"],
        check=True,
    )
    python = (tmp_path / "python" / "model.safetensors").read_bytes()
    cli = (tmp_path / "cli" / "model.safetensors").read_bytes()
    assert python == cli


def test_other_python_threads_run_while_it_trains(tmp_path, monkeypatch):
    # With a switch interval of 10 s another thread gets the GIL only when its holder lets go
    # of it. The counter is read at the end of the first epoch and of the last: it moves in
    # between only if the training loop released the GIL.
    ticks, stop, seen = [0], threading.Event(), []

    def count():
        while not stop.is_set():
            ticks[0] += 1
            time.sleep(0)  # gives the GIL back at once

    monkeypatch.setattr(sg.training._Progress, "epoch", lambda self, metrics: seen.append(ticks[0]))
    before_interval = sys.getswitchinterval()
    sys.setswitchinterval(10)
    counter = threading.Thread(target=count)
    try:
        counter.start()
        sg.train("mnist-mini", epochs=3, out=tmp_path / "run", progress=False, threads=1)
    finally:
        stop.set()
        counter.join()
        sys.setswitchinterval(before_interval)
    assert len(seen) == 3 and seen[2] > seen[0]


def test_ctrl_c_stops_the_run_and_keeps_its_finished_epochs(tmp_path):
    out = tmp_path / "run"

    def interrupt_after_the_first_epoch():
        while not (out / "metrics.jsonl").exists():
            time.sleep(0.01)
        _thread.interrupt_main()

    threading.Thread(target=interrupt_after_the_first_epoch, daemon=True).start()
    with pytest.raises(KeyboardInterrupt):
        sg.train("mnist-mini", epochs=200, out=out, progress=False)
    epochs = (out / "metrics.jsonl").read_text().splitlines()
    assert 1 <= len(epochs) < 200
    assert (out / "model.safetensors").is_file()


def test_bad_settings_raise_value_error_that_names_them(tmp_path):
    with pytest.raises(ValueError, match="epochs"):
        sg.train("mnist-mini", epochs=0, out=tmp_path / "a", progress=False)
    with pytest.raises(ValueError, match="data set"):
        sg.train("cifar", out=tmp_path / "b", progress=False)
    with pytest.raises(ValueError, match="layer"):
        sg.train("mnist-mini", layers="linear10,wobble", out=tmp_path / "c", progress=False)
    with pytest.raises(ValueError, match="threads"):
        sg.train("mnist-mini", threads=0, out=tmp_path / "d", progress=False)
    with pytest.raises(ValueError, match="out is empty"):
        sg.train("mnist-mini", out="", progress=False)
    with pytest.raises(ValueError, match="threads"):
        sg.train("mnist-mini", threads=-1, out=tmp_path / "e", progress=False)
    with pytest.raises(ValueError, match="finite"):
        sg.train("mnist-mini", lr=float("nan"), out=tmp_path / "f", progress=False)
    (tmp_path / "file").write_text("not a folder")
    with pytest.raises(RuntimeError):
        sg.train("mnist-mini", out=tmp_path / "file", progress=False)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("model") / "run"
    sg.train("mnist-mini", epochs=1, hidden=[32], out=out, progress=False)
    return sg.load_model(out / "model.safetensors")


def numpy_logits(state, images):
    """The sigmoid MLP's forward pass written in numpy from the model's state_dict."""
    hidden = 1 / (1 + np.exp(-(images @ state["0.weight"].T + state["0.bias"])))
    return hidden @ state["2.weight"].T + state["2.bias"]


def test_a_loaded_model_predicts_as_its_weights_say(trained):
    assert trained.arch == "784-32-10 sigmoid"
    assert trained.class_names == [str(d) for d in range(10)]
    state = trained.state_dict()
    assert {k: v.shape for k, v in state.items()} == {
        "0.weight": (32, 784), "0.bias": (32,), "2.weight": (10, 32), "2.bias": (10,)}
    images = np.random.default_rng(0).random((6, 28, 28), dtype=np.float32)
    want = numpy_logits(state, images.reshape(6, 784))
    np.testing.assert_allclose(trained.logits(images), want, rtol=1e-5, atol=1e-5)
    probabilities = trained.predict_proba(images)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1, rtol=1e-6)
    np.testing.assert_array_equal(trained.predict(images), want.argmax(axis=1))
    # every accepted layout gives the same answer; one image gives one answer
    for layout in (images.reshape(6, 784), images.reshape(6, 1, 28, 28)):
        np.testing.assert_array_equal(trained.predict(layout), want.argmax(axis=1))
    assert trained.predict(images[0]) == want[0].argmax()
    assert trained.predict_proba(images[0].reshape(784)).shape == (10,)
    # uint8 pixels are divided by 255
    pixels = (images * 255).round().astype(np.uint8)
    np.testing.assert_allclose(
        trained.logits(pixels), numpy_logits(state, pixels.reshape(6, 784) / 255), rtol=1e-5, atol=1e-5)


def test_bad_models_and_images_raise_value_error(trained, tmp_path):
    with pytest.raises(ValueError, match="does-not-exist"):
        sg.load_model(tmp_path / "does-not-exist.safetensors")
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"\xff" * 100)
    with pytest.raises(ValueError, match="garbage"):
        sg.load_model(garbage)
    with pytest.raises(ValueError, match=r"\[3, 27, 27\]"):
        trained.predict(np.zeros((3, 27, 27)))
    assert trained.predict(np.zeros((0, 784))).shape == (0,)
    # (1, 28, 28) is a batch of one, so predicting in chunks works to the last one
    assert trained.predict(np.zeros((1, 28, 28))).shape == (1,)
    assert trained.predict_proba(np.zeros((1, 1, 28, 28))).shape == (1, 10)
    for shape in ((784, 1), (2, 392), (14, 56)):
        with pytest.raises(ValueError, match="do not fit"):
            trained.predict(np.zeros(shape))
    with pytest.raises(ValueError, match="NaN"):
        trained.predict(np.full((1, 784), np.nan))


@pytest.mark.parametrize("with_tqdm", [True, False])
def test_progress_shows_each_epoch_with_or_without_tqdm(tmp_path, capsys, monkeypatch, with_tqdm):
    if with_tqdm:
        pytest.importorskip("tqdm")
    else:
        monkeypatch.setattr(sg.training._Progress, "__init__", _without_tqdm)
    sg.train("mnist-mini", epochs=2, out=tmp_path / "run")
    shown = capsys.readouterr().err
    assert "epoch 1" in shown and "epoch 2" in shown and "test loss" in shown, shown


def _without_tqdm(self, show):
    self.show, self.bar, self.tqdm = show, None, None


def test_predictions_on_the_test_set_give_the_runs_accuracy(tmp_path):
    result = sg.train("mnist-mini", epochs=1, out=tmp_path / "run", progress=False)
    model = sg.load_model(tmp_path / "run" / "model.safetensors")
    images, labels = sg.load_dataset("mnist-mini", "test")
    assert images.shape == (1000, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (1000,) and set(labels) == set(range(10))
    assert np.mean(model.predict(images) == labels) == result["test_accuracy"]
    with pytest.raises(ValueError, match="split"):
        sg.load_dataset("mnist-mini", "validation")
    with pytest.raises(ValueError, match="data set"):
        sg.load_dataset("imagenet")


def test_progress_with_a_validation_split(tmp_path, capsys):
    result = sg.train("mnist-mini", epochs=2, val_split=0.1, out=tmp_path / "run")
    assert [sorted(m) for m in result["history"]][0] == sorted(
        ["epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy", "seconds"])
    assert "validation loss" in capsys.readouterr().err
