"""Project pipelines."""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType

from kedro.pipeline import Pipeline

from pytorch_intro import pipelines
from pytorch_intro.pipelines import predict, reporting, simple2d
from pytorch_intro.reporting.sections import registry as sections


def problems() -> dict[str, ModuleType]:
    """The problems: each package in ``pipelines/`` with a ``VARIANTS`` list, in
    the order of their report sections."""
    order = list(sections())
    names = sorted(
        (info.name for info in pkgutil.iter_modules(pipelines.__path__)),
        key=lambda name: (order.index(name) if name in order else len(order), name),
    )
    found = {
        name: importlib.import_module(f"{pipelines.__name__}.{name}") for name in names
    }
    return {
        name: module for name, module in found.items() if hasattr(module, "VARIANTS")
    }


def register_pipelines() -> dict[str, Pipeline]:
    """Register the project's pipelines.

    - ``<problem>`` (``simple2d``, ``digits``): its variants (the 2D ones on
      generated point sets), then the report;
    - ``simple2d_assignment``: the 2D variants on the assignment's own
      ``train.npz`` and ``valid.npz``, placed in ``data/01_raw/simple2d/``;
    - ``<problem>.<variant>`` (``simple2d.mlp``, ``digits.cnn``, ...): one
      variant with its problem's data steps, the problem's results (the other
      variants kept from the latest earlier results) and the report;
    - ``reporting``: the report, from the latest saved results of each problem;
    - ``predict``: a trained model's classes for ``predict.input`` (digit
      images, an IDX file or a CSV of points); not part of ``__default__``;
    - ``__default__``: every problem and the report.

    Each training pipeline ends with the report, so running one of them alone
    still writes a report: its own section from this run, the others from the
    latest earlier run (or marked missing).
    """
    report = reporting.create_pipeline()
    registered = {"reporting": report, "predict": predict.create_pipeline()}
    default = Pipeline([])
    for problem, module in problems().items():
        registered[problem] = module.create_pipeline() + report
        default += registered[problem]
        for variant in module.VARIANTS:
            registered[f"{problem}.{variant}"] = (
                module.create_pipeline([variant]) + report
            )
    registered["simple2d_assignment"] = (
        simple2d.create_pipeline(source="assignment") + report
    )
    return registered | {"__default__": default}
