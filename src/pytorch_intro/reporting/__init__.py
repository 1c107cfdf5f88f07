"""Figures and reports."""

from pytorch_intro.reporting.figures import (
    plot_accuracy_overview,
    plot_confusion_matrix,
    plot_decision_boundary,
    plot_learning_curves,
    plot_misclassified,
    plot_point_sets,
)

__all__ = [
    "plot_accuracy_overview",
    "plot_confusion_matrix",
    "plot_decision_boundary",
    "plot_learning_curves",
    "plot_misclassified",
    "plot_point_sets",
]
