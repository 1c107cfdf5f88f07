"""The report's problem sections: every module here is one, found automatically.

A new problem is one module named after it (its pipeline, and the
``<problem>_results`` dataset) that defines ``Results``: a
:class:`~pytorch_intro.reporting.results.ProblemResults` of its own ``Data``,
with ``problem: Literal["<module name>"] = "<module name>"``, the class variables
``title`` and ``order`` (simple2d 10, digits 20), ``data_line()`` and
``write(document)``. The report, the reporting pipeline's inputs, the accuracy
overview and the results dataset all read this registry.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any

from pytorch_intro.reporting.results import ProblemResults
from pytorch_intro.training.config import RECORDED


def registry() -> dict[str, type[ProblemResults]]:
    """Every section's ``Results`` type, by problem, in the report's order."""
    found = {}
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("_"):
            continue
        results = importlib.import_module(f"{__name__}.{info.name}").Results
        if (declared := results.model_fields["problem"].default) != info.name:
            raise TypeError(
                f"{results.__module__}: Results.problem must default to "
                f"{info.name!r} (the module's name), not {declared!r}"
            )
        found[info.name] = results
    return dict(sorted(found.items(), key=lambda item: (item[1].order, item[0])))


def parse_results(data: Any) -> ProblemResults:
    """Results loaded from JSON, validated by their problem's ``Results`` model
    (a ``ValueError`` names what does not fit)."""
    if not isinstance(data, dict):
        raise ValueError(f"expected a JSON object, got {type(data).__name__}")
    sections, problem = registry(), data.get("problem")
    if problem not in sections:
        raise ValueError(f"problem={problem!r}; choose one of: {', '.join(sections)}")
    # a record of where training ran: the device need not be present here
    return sections[problem].model_validate(data, context={RECORDED: True})
