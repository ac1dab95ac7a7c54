"""The example notebook (examples/python_walkthrough.ipynb) runs from top to bottom with
nbclient, so it cannot rot; its first cell gives the texts' worked example and draws the
graph inline."""

import pathlib

import pytest

NOTEBOOK = pathlib.Path(__file__).resolve().parents[3] / "examples" / "python_walkthrough.ipynb"


def test_the_example_notebook_runs(tmp_path):
    nbformat = pytest.importorskip("nbformat", reason="nbformat is not installed")
    nbclient = pytest.importorskip("nbclient", reason="nbclient is not installed")
    pytest.importorskip("ipykernel", reason="ipykernel (the notebook's kernel) is not installed")
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(
        notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()  # raises CellExecutionError, with the cell and its traceback, on any error
    first = next(c for c in notebook.cells if c.cell_type == "code")
    printed = "".join(o.get("text", "") for o in first.outputs)
    assert "f = -12.0, df/dx = -4.0, df/dy = -4.0, df/dz = 3.0" in printed
    shown = [o for o in first.outputs if o.get("output_type") == "execute_result"]
    assert shown and "<svg" in shown[0]["data"]["image/svg+xml"]
