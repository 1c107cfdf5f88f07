"""A versioned Kedro dataset for figures: saved as PNG, loaded as the file's path."""

from __future__ import annotations

from pathlib import Path

from kedro_datasets.matplotlib import MatplotlibDataset

from pytorch_intro.internals import load_path
from pytorch_intro.reporting.results import project_relative


class FigureDataset(MatplotlibDataset):
    """A matplotlib ``Figure`` saved as a PNG file; loading returns the file's
    path, relative to the project (the working directory) when inside it.

    A figure is saved once and referred to: the results and the report name its
    file (kedro-datasets' ``MatplotlibDataset`` cannot be loaded). Saving and
    the catalog options (``save_args``, ``versioned``, ...) are unchanged.
    """

    def load(self) -> str:  # type: ignore[override]
        path = Path(str(load_path(self))).resolve()
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such figure")
        return project_relative(str(path), Path.cwd())
