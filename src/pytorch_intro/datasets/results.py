"""A versioned JSON dataset of one pipeline's results, read by the report."""

from __future__ import annotations

from typing import Any

from kedro.io.core import VersionNotFoundError
from kedro_datasets.json import JSONDataset


class ResultsDataset(JSONDataset):
    """A versioned JSON document; loads ``None`` while no version has been saved.

    The report reads the latest results of every pipeline, including pipelines
    that have never run (it then says so), which a plain dataset would refuse.
    A file that exists but cannot be read is still an error.
    """

    def load(self) -> Any:
        try:
            return super().load()
        except VersionNotFoundError:
            return None
