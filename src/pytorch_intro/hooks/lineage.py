"""The data a variant trained and was evaluated on, as MLflow datasets.

A catalog entry with ``metadata: {mlflow: {dataset: SPLIT}}`` is a labelled
set (``samples``, ``annotations``) that variants read: each variant's run logs
it as an input in the split's context (``train``: training; ``valid``, ``test``:
evaluation; ``mlflow.log_input``'s tag ``mlflow.data.context``), named after
the catalog entry, with a digest of
its values (:func:`pytorch_intro.data.lineage.digest`) and its source: the
files and their sha256, the generator and its seed.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
from mlflow.entities import Dataset, DatasetInput, InputTag
from mlflow.utils.mlflow_tags import MLFLOW_DATASET_CONTEXT

from pytorch_intro.data.lineage import digest, origin

#: A split's context in MLflow.
CONTEXTS = {"train": "training", "valid": "evaluation", "test": "evaluation"}


def mlflow_dataset(name: str, labelled_set: dict[str, Any]) -> Dataset:
    """The MLflow dataset of the catalog's ``name`` holding ``labelled_set``."""
    samples, labels = labelled_set["samples"], labelled_set["annotations"]
    about = origin(labelled_set)
    uri = about.pop("uri", None)
    profile = {
        "num_rows": len(labels),
        "samples_shape": list(np.shape(samples)),
        "class_counts": np.bincount(np.asarray(labels, dtype=np.int64)).tolist(),
    }
    return Dataset(
        name=name,
        digest=digest(samples, labels),
        source_type="local" if uri else "code",
        source=json.dumps(({"uri": uri} if uri else {}) | about),
        profile=json.dumps(profile),
    )


def context_of(name: str, split: str) -> str:
    """The MLflow context of the catalog's ``name``, a ``split`` of the data."""
    if split not in CONTEXTS:
        raise ValueError(
            f"metadata.mlflow.dataset of {name} is {split!r}; choose one of: "
            f"{', '.join(CONTEXTS)}"
        )
    return CONTEXTS[split]


def dataset_input(dataset: Dataset, context: str) -> DatasetInput:
    """``dataset`` as a run's input in ``context`` (training or evaluation)."""
    return DatasetInput(dataset, [InputTag(MLFLOW_DATASET_CONTEXT, context)])


#: A metric measured on a dataset says so: its prefix -> the dataset's context.
MEASURED_ON = {"train_": "training", "val_": "evaluation"}


def measured_on(key: str, datasets: dict[str, Dataset]) -> Dataset | None:
    """The dataset (of ``datasets``, by context) the metric ``key`` measures."""
    return next(
        (
            datasets.get(c)
            for prefix, c in MEASURED_ON.items()
            if key.startswith(prefix)
        ),
        None,
    )
