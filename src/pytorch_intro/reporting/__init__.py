"""Figures and reports."""

from pytorch_intro.reporting.figures import (
    plot_confusion_matrix,
    plot_decision_boundary,
    plot_learning_curves,
    plot_misclassified,
)

__all__ = [
    "plot_confusion_matrix",
    "plot_decision_boundary",
    "plot_learning_curves",
    "plot_misclassified",
]
