"""Nodes of the digit classifier pipeline."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from pytorch_intro.data.mnist import DigitsDataConfig, DigitSet, select_digits
from pytorch_intro.reporting import plot_misclassified
from pytorch_intro.training import most_confident_errors


def load_digits(
    mnist: Callable[[], dict[str, DigitSet]],
    mnist_subset: Callable[[], DigitSet],
    data: DigitsDataConfig,
) -> tuple[DigitSet, DigitSet]:
    """Training and test digits from the configured source (full MNIST or subset)."""
    return select_digits(mnist, mnist_subset, DigitsDataConfig.model_validate(data))


def label_digits(train_digits: DigitSet, test_digits: DigitSet) -> tuple[dict, dict]:
    """The digits as the template's labelled sets: raw images (0..255), labels."""
    return tuple(
        {
            "samples": digits["images"],
            "annotations": digits["labels"],
            "source": digits["source"],
            "origin": digits.get("origin", {}),
        }
        for digits in (train_digits, test_digits)
    )


def plot_misclassified_digits(
    predictions: pd.DataFrame, test_digits: DigitSet, title: str, count: int
) -> Figure:
    """The test digits misclassified with the highest confidence."""
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise ValueError(
            f"digits.misclassified_count must be an integer >= 0, got {count!r}"
        )
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
