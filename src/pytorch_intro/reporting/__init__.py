"""Figures and reports."""

from pytorch_intro.reporting.figures import plot_decision_boundary, plot_learning_curves

__all__ = ["plot_decision_boundary", "plot_learning_curves"]
