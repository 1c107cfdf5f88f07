"""Project pipelines."""

from __future__ import annotations

from kedro.pipeline import Pipeline

from pytorch_intro.pipelines import digits, simple2d


def register_pipelines() -> dict[str, Pipeline]:
    """Register the project's pipelines.

    - ``simple2d``: the three 2D variants on generated point sets.
    - ``simple2d_assignment``: the same on the assignment's own ``train.npz`` and
      ``valid.npz``, placed in ``data/01_raw/simple2d/``.
    - ``digits``: linear, MLP and CNN on MNIST.
    - ``__default__``: ``simple2d`` and ``digits``, all six variants.
    """
    simple2d_generated = simple2d.create_pipeline(source="generated")
    digits_pipeline = digits.create_pipeline()
    return {
        "__default__": simple2d_generated + digits_pipeline,
        "simple2d": simple2d_generated,
        "simple2d_assignment": simple2d.create_pipeline(source="assignment"),
        "digits": digits_pipeline,
    }
