"""Nodes of the digit classifier pipeline."""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from pydantic import NonNegativeInt

from pytorch_intro.data.mnist import DigitsDataConfig, DigitSet, select_digits
from pytorch_intro.data.mnist import normalize_images as _normalize
from pytorch_intro.models import Checkpoint, model_from_checkpoint
from pytorch_intro.reporting import plot_misclassified
from pytorch_intro.reporting.results import VariantResults, combine_runs
from pytorch_intro.reporting.sections.digits import Data, Results, data_line
from pytorch_intro.serving import Servable, export_servable, fingerprint
from pytorch_intro.training import most_confident_errors
from pytorch_intro.validation import check


def load_digits(
    mnist: Callable[[], dict[str, DigitSet]],
    mnist_subset: Callable[[], DigitSet],
    data: DigitsDataConfig,
) -> tuple[DigitSet, DigitSet]:
    """Training and test digits from the configured source (full MNIST or subset)."""
    return select_digits(mnist, mnist_subset, DigitsDataConfig.model_validate(data))


def normalize_images(
    train_digits: DigitSet, test_digits: DigitSet
) -> tuple[dict, dict]:
    """uint8 images in 0..255 to float32 in [-1, 1], as the models' input sets."""
    return tuple(
        {
            "samples": _normalize(digits["images"]),
            "annotations": digits["labels"],
            "source": digits["source"],
        }
        for digits in (train_digits, test_digits)
    )


def plot_misclassified_digits(
    predictions: pd.DataFrame, test_digits: DigitSet, title: str, count: int
) -> Figure:
    """The test digits misclassified with the highest confidence."""
    count = check("misclassified_count", count, NonNegativeInt)
    labels = predictions["annotation"].to_numpy()
    predicted = predictions["prediction"].to_numpy()
    confidence = predictions["probability"].to_numpy()
    index = most_confident_errors(labels, predicted, confidence, count)
    return plot_misclassified(
        test_digits["images"][index],
        labels[index],
        predicted[index],
        confidence[index],
        f"{title}: most confident errors",
    )


def package_model(model: Checkpoint, test_digits: DigitSet) -> Servable:
    """The trained model as users call it: 28x28 grey values 0..255 in, class
    probabilities out (the normalisation inside), exported."""
    return export_servable(
        model_from_checkpoint(model),
        test_digits["images"][:2],
        kind="digits",
        eval_data=fingerprint(test_digits["images"], test_digits["labels"]),
    )


def describe_digits(train_digits: DigitSet, test_digits: DigitSet) -> dict[str, Any]:
    """Where the digits come from and how many of each class there are."""
    return {
        "train_source": train_digits["source"],
        "test_source": test_digits["source"],
        "n_train": len(train_digits["labels"]),
        "n_test": len(test_digits["labels"]),
        "train_class_counts": np.bincount(
            train_digits["labels"], minlength=10
        ).tolist(),
        "test_class_counts": np.bincount(test_digits["labels"], minlength=10).tolist(),
    }


def collect_digits_results(
    identity: dict[str, Any],
    data: dict[str, Any],
    earlier: Results | None,
    *,
    known: Collection[str],
    **variants: VariantResults,
) -> Results:
    """The digits pipeline's results for the report: data and variants.

    ``variants`` are this run's; the ``known`` variants it did not train are
    kept from the ``earlier`` results (the latest saved), each with its own run.
    """
    results = Results(
        identity=identity, data=Data.model_validate(data), variants=variants
    )
    return combine_runs(results, earlier, data_line(results), known)
