"""A versioned JSON dataset of one pipeline's typed results, read by the report."""

from __future__ import annotations

import logging
from typing import Any

from kedro.io import DatasetError
from kedro.io.core import VersionNotFoundError
from kedro_datasets.json import JSONDataset

from pytorch_intro.internals import load_path, save_unwrapped
from pytorch_intro.reporting.results import ProblemResults
from pytorch_intro.reporting.sections import parse_results

logger = logging.getLogger(__name__)


class ResultsDataset(JSONDataset):
    """A problem's :class:`~pytorch_intro.reporting.results.ProblemResults` as a
    versioned JSON document; loads ``None`` while no version has been saved.

    The report reads the latest results of every problem, including problems
    whose pipeline has never run (it then says so), which a plain dataset would
    refuse. A file that exists but does not validate against its problem's
    results model (corrupt, or written by another version of the project) is an
    error naming the file.
    """

    def __init__(self, *, skip_invalid: bool = False, **kwargs: Any) -> None:
        """Create the dataset (``kwargs``: ``JSONDataset``'s).

        Args:
            skip_invalid: load a file that is not valid results (not JSON, or
                written by another version of the project) as ``None``, with a
                warning, rather than fail: for the earlier results a pipeline
                combines with its own, which must not stop the run that
                replaces them.
        """
        super().__init__(**kwargs)
        self._skip_invalid = skip_invalid

    def load(self) -> ProblemResults | None:
        try:
            data = super().load()
        except VersionNotFoundError:
            return None
        except DatasetError as error:
            if self._skip_invalid and isinstance(error.__cause__, ValueError):
                return self._skipped(error.__cause__)  # not JSON
            raise
        try:
            return parse_results(data)
        except ValueError as error:  # pydantic's ValidationError included
            if self._skip_invalid:
                return self._skipped(error)
            raise DatasetError(
                f"{load_path(self)}: not valid results ({error}). Was it "
                "written by another version of the project? Run its pipeline "
                "again to write a new version."
            ) from error

    def _skipped(self, error: Exception) -> None:
        logger.warning(
            "Earlier results %s are not valid results (%s): left out; only "
            "this run's variants are kept.",
            load_path(self),
            str(error).splitlines()[0],
        )

    def save(self, data: ProblemResults) -> None:
        if not isinstance(data, ProblemResults):
            raise DatasetError(
                f"{type(self).__name__} saves ProblemResults, not {type(data).__name__}"
            )
        # JSONDataset's own save, unwrapped as Kedro itself does: the wrapped one,
        # inside this (also wrapped) save, would pick a second save version
        save_unwrapped(JSONDataset, self, data.model_dump(mode="json"))
