"""A versioned Kedro dataset for figures: saved as PNG, loaded as PNG bytes."""

from __future__ import annotations

from kedro.io.core import get_filepath_str
from kedro_datasets.matplotlib import MatplotlibDataset

from pytorch_intro.internals import filesystem, load_path, protocol


class FigureDataset(MatplotlibDataset):
    """A matplotlib ``Figure`` saved as a PNG file; loading returns the PNG bytes.

    kedro-datasets' ``MatplotlibDataset`` cannot be loaded; the report embeds the
    figures its pipelines saved, so this one reads them back as bytes. Saving
    and the catalog options (``save_args``, ``versioned``, ...) are unchanged.
    """

    def load(self) -> bytes:  # type: ignore[override]
        path = get_filepath_str(load_path(self), protocol(self))
        with filesystem(self).open(path, mode="rb") as file:
            return file.read()
