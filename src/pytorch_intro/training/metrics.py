"""Classification metrics on label arrays: confusion matrix and its worst errors."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def _class_indices(values: np.ndarray, name: str, num_classes: int) -> np.ndarray:
    """``values`` as a 1-D int64 array, checked to lie in ``0..num_classes-1``."""
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {array.shape}")
    if array.size and not np.issubdtype(array.dtype, np.integer):
        raise ValueError(f"{name} must be integers, got dtype {array.dtype}")
    array = array.astype(np.int64, copy=False)
    outside = array[(array < 0) | (array >= num_classes)]
    if outside.size:
        raise ValueError(f"{name} contain {outside[0]}, outside 0..{num_classes - 1}")
    return array


def confusion_matrix(
    labels: np.ndarray, predictions: np.ndarray, num_classes: int
) -> np.ndarray:
    """Counts of (true, predicted) class pairs.

    Args:
        labels: (N,) true classes, integers in ``0..num_classes-1``.
        predictions: (N,) predicted classes, same range.
        num_classes: the number of classes.

    Returns:
        A (num_classes, num_classes) int64 array; rows are true classes,
        columns predicted classes.

    Raises:
        ValueError: if the arrays are not 1-D integers of one length in range.
    """
    if int(num_classes) != num_classes or num_classes < 1:
        raise ValueError(f"num_classes must be an integer >= 1, got {num_classes!r}")
    num_classes = int(num_classes)
    labels = _class_indices(labels, "labels", num_classes)
    predictions = _class_indices(predictions, "predictions", num_classes)
    if labels.shape != predictions.shape:
        raise ValueError(
            f"labels and predictions differ in length: "
            f"{labels.size} vs {predictions.size}"
        )
    counts = np.bincount(
        labels * num_classes + predictions, minlength=num_classes * num_classes
    )
    return counts.astype(np.int64, copy=False).reshape(num_classes, num_classes)


@dataclass(frozen=True)
class Confusion:
    """One off-diagonal cell of a confusion matrix."""

    true: int
    predicted: int
    count: int

    def __str__(self) -> str:
        return f"{self.true} predicted as {self.predicted}: {self.count}"


def top_confusions(matrix: np.ndarray, k: int = 5) -> list[Confusion]:
    """The ``k`` largest off-diagonal cells of a confusion matrix.

    Args:
        matrix: a square confusion matrix (rows true, columns predicted).
        k: how many cells to return at most.

    Returns:
        Largest count first, ties broken by (true, predicted); cells with a
        zero count are never listed, so fewer than ``k`` may come back.
    """
    matrix = np.asarray(matrix)
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
        raise ValueError(f"matrix must be square, got shape {matrix.shape}")
    if k < 0:
        raise ValueError(f"k must be >= 0, got {k}")
    off_diagonal = matrix.copy()
    np.fill_diagonal(off_diagonal, 0)
    rows, cols = np.nonzero(off_diagonal > 0)
    counts = off_diagonal[rows, cols]
    order = np.lexsort((cols, rows, -counts))[:k]
    return [
        Confusion(true=int(rows[i]), predicted=int(cols[i]), count=int(counts[i]))
        for i in order
    ]


def most_confident_errors(
    labels: np.ndarray, predictions: np.ndarray, confidences: np.ndarray, n: int
) -> np.ndarray:
    """Indices of the misclassified samples the model was surest about.

    Args:
        labels: (N,) true classes.
        predictions: (N,) predicted classes.
        confidences: (N,) probability the model gave its predicted class.
        n: how many indices to return at most.

    Returns:
        Up to ``n`` indices into the inputs, highest confidence first (ties in
        sample order).
    """
    labels, predictions, confidences = (
        np.asarray(labels),
        np.asarray(predictions),
        np.asarray(confidences),
    )
    if not labels.shape == predictions.shape == confidences.shape or labels.ndim != 1:
        raise ValueError(
            "labels, predictions and confidences must be 1-D of one length, got "
            f"shapes {labels.shape}, {predictions.shape}, {confidences.shape}"
        )
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    wrong = np.flatnonzero(labels != predictions)
    order = np.argsort(-confidences[wrong], kind="stable")
    return wrong[order][:n]
