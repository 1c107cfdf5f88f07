"""Project pipelines."""

from __future__ import annotations

from kedro.pipeline import Pipeline

from pytorch_intro.pipelines import digits, predict, reporting, simple2d

#: The problems with a pipeline per variant, and what each is made with.
PROBLEMS = {"simple2d": (simple2d, {"source": "generated"}), "digits": (digits, {})}


def variant_pipelines(report: Pipeline) -> dict[str, Pipeline]:
    """``<problem>.<variant>`` for every variant in each problem's ``VARIANTS``:
    the problem's data steps, that variant alone, the problem's results (the
    other variants kept from the latest earlier results) and the report."""
    return {
        f"{problem}.{variant}": module.create_pipeline([variant], **options) + report
        for problem, (module, options) in PROBLEMS.items()
        for variant in module.VARIANTS
    }


def register_pipelines() -> dict[str, Pipeline]:
    """Register the project's pipelines.

    - ``simple2d``: the three 2D variants on generated point sets.
    - ``simple2d_assignment``: the same on the assignment's own ``train.npz`` and
      ``valid.npz``, placed in ``data/01_raw/simple2d/``.
    - ``digits``: linear, MLP and CNN on MNIST.
    - ``reporting``: the report, from the latest saved results of each pipeline.
    - ``predict``: a trained model's classes for ``predict.input`` (digit
      images, an IDX file or a CSV of points); not part of ``__default__``.
    - ``__default__``: ``simple2d``, ``digits`` and the report.
    - ``<problem>.<variant>`` (``simple2d.mlp``, ``digits.cnn``, ...): one
      variant with its problem's data steps and the report
      (:func:`variant_pipelines`).

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
        "predict": predict.create_pipeline(),
        **variant_pipelines(report),
    }
