"""A Kedro dataset for what a user asks the predict pipeline to classify."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from kedro.io import AbstractDataset, DatasetError

from pytorch_intro.data.prediction_inputs import (
    PredictionInputs,
    read_prediction_inputs,
)

Reader = Callable[[str | Path], PredictionInputs]


class PredictionInputsDataset(AbstractDataset[None, Reader]):
    """The reader of the predict pipeline's inputs, whose path comes from the run
    (``--params=predict.input=PATH``), not from the catalog:
    :func:`pytorch_intro.data.prediction_inputs.read_prediction_inputs`."""

    def __init__(self, metadata: dict[str, Any] | None = None) -> None:
        self.metadata = metadata

    def load(self) -> Reader:
        return read_prediction_inputs

    def save(self, data: None) -> None:
        raise DatasetError("the predict pipeline's inputs are read-only")

    def _describe(self) -> dict[str, Any]:
        return {}
