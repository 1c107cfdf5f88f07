"""The exploration notebook: stored clean, and it runs against a finished run."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks/01_explore_results.ipynb"


def _read_notebook() -> nbformat.NotebookNode:
    return nbformat.read(NOTEBOOK, as_version=nbformat.NO_CONVERT)


def test_notebook_is_stored_without_outputs():
    notebook = _read_notebook()
    nbformat.validate(notebook)
    assert notebook.nbformat == 4
    assert notebook.metadata.kernelspec.name == "python3"
    code_cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code_cells
    for cell in code_cells:
        assert cell.outputs == [], f"cell {cell.id} has stored outputs"
        assert cell.execution_count is None, f"cell {cell.id} has an execution count"


def test_notebook_uses_kedro_without_hard_coding_an_environment():
    """The environment comes from KEDRO_ENV (`kedro jupyter lab --env ...`)."""
    code = "\n".join(
        line.split("#", 1)[0]
        for cell in _read_notebook().cells
        if cell.cell_type == "code"
        for line in cell.source.splitlines()
    )
    assert "%load_ext kedro.ipython" in code
    assert "%reload_kedro" in code
    assert "--env" not in code
    assert "KEDRO_ENV" not in code


@pytest.mark.e2e
@pytest.mark.slow
def test_notebook_runs_against_a_finished_run(finished_project, monkeypatch):
    notebooks_dir = finished_project / "notebooks"
    notebooks_dir.mkdir(exist_ok=True)
    shutil.copy(NOTEBOOK, notebooks_dir / NOTEBOOK.name)
    notebook = nbformat.read(notebooks_dir / NOTEBOOK.name, as_version=4)

    # the kernel inherits this process's environment
    monkeypatch.setenv("KEDRO_ENV", "test")
    monkeypatch.setenv("DO_NOT_TRACK", "true")
    monkeypatch.setenv("KEDRO_DISABLE_TELEMETRY", "true")
    monkeypatch.delenv("MPLBACKEND", raising=False)  # ipykernel's inline backend

    # a failing cell raises nbclient.exceptions.CellExecutionError
    NotebookClient(
        notebook,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(notebooks_dir)}},
    ).execute()

    outputs = [
        output
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.outputs
    ]
    images = [output for output in outputs if "image/png" in output.get("data", {})]
    # the learning curves and the grid of classified digits
    assert len(images) >= 2

    printed = "".join(
        output.text
        for output in outputs
        if output.output_type == "stream" and output.name == "stdout"
    )
    assert "environment test" in printed  # KEDRO_ENV chose the configuration
    found = re.search(r"^(\d+) of 12 correct$", printed, re.MULTILINE)
    assert found, f"no count of correct predictions in:\n{printed}"
    correct = int(found.group(1))
    assert 0 <= correct <= 12
    # the CNN of the test configuration reaches well over 50% accuracy
    assert correct >= 4
