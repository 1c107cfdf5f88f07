"""A versioned JSON dataset of one pipeline's typed results, read by the report."""

from __future__ import annotations

import json
import logging
from typing import Any

from kedro.io import DatasetError
from kedro.io.core import VersionNotFoundError
from kedro_datasets._typing import JSONPreview
from kedro_datasets.json import JSONDataset

from pytorch_intro.internals import load_path, save_unwrapped
from pytorch_intro.reporting.results import ProblemResults
from pytorch_intro.reporting.sections import parse_results

logger = logging.getLogger(__name__)


class ResultsDataset(JSONDataset):
    """A problem's :class:`~pytorch_intro.reporting.results.ProblemResults` as a
    versioned JSON document; loads ``None`` while no version has been saved (the
    report then says the problem's pipeline never ran).

    A file that does not validate against its problem's results model (corrupt,
    or written by another version of the project) is an error naming the file;
    with ``skip_invalid`` (the earlier results a pipeline combines with its own,
    which must not stop the run that replaces them) it loads as ``None``, with a
    warning.
    """

    def __init__(self, *, skip_invalid: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._skip_invalid = skip_invalid

    def load(self) -> ProblemResults | None:
        try:
            return parse_results(super().load())
        except VersionNotFoundError:
            return None
        except (DatasetError, ValueError) as error:  # ValidationError included
            cause = error.__cause__ if isinstance(error, DatasetError) else error
            if not isinstance(cause, ValueError):  # not a question of content
                raise
            if not self._skip_invalid:
                raise DatasetError(
                    f"{load_path(self)}: not valid results ({error}). Was it "
                    "written by another version of the project? Run its pipeline "
                    "again to write a new version."
                ) from error
        logger.warning(
            "Earlier results %s are not valid results (%s): left out; only "
            "this run's variants are kept.",
            load_path(self),
            str(cause).splitlines()[0],
        )
        return None

    def save(self, data: ProblemResults) -> None:
        # JSONDataset's own save, unwrapped as Kedro itself does: the wrapped one,
        # inside this (also wrapped) save, would pick a second save version
        save_unwrapped(JSONDataset, self, data.model_dump(mode="json"))

    def preview(self) -> JSONPreview:
        """Kedro-Viz's preview: the saved document as it is (JSONDataset's own
        would load the typed results, which json cannot dump); ``None`` while
        none is saved."""
        if not self.exists():
            return None
        return JSONPreview(json.dumps(super().load()))
