"""Project pipelines."""

from __future__ import annotations

from kedro.pipeline import Pipeline

from pytorch_intro.pipelines import digits, reporting, simple2d


def register_pipelines() -> dict[str, Pipeline]:
    """Register the project's pipelines.

    - ``simple2d``: the three 2D variants on generated point sets.
    - ``simple2d_assignment``: the same on the assignment's own ``train.npz`` and
      ``valid.npz``, placed in ``data/01_raw/simple2d/``.
    - ``digits``: linear, MLP and CNN on MNIST.
    - ``reporting``: the report, from the latest saved results of each pipeline.
    - ``__default__``: ``simple2d``, ``digits`` and the report.

    Each training pipeline ends with the report too, so running one of them
    alone still writes a report: its own section from this run, the other's
    from the latest earlier run (or marked missing).
    """
    report = reporting.create_pipeline()
    simple2d_generated = simple2d.create_pipeline(source="generated") + report
    digits_pipeline = digits.create_pipeline() + report
    return {
        "__default__": simple2d_generated + digits_pipeline,
        "simple2d": simple2d_generated,
        "simple2d_assignment": simple2d.create_pipeline(source="assignment") + report,
        "digits": digits_pipeline,
        "reporting": report,
    }
