"""The report's problem sections, one module per problem, found automatically.

Every module of this package (its name is the problem's: the pipeline, and the
``<problem>_results`` dataset) is one section of the report, in ``ORDER``. Adding
a problem to the report is one new module here, defining:

- ``ORDER`` (int): where its section goes (simple2d 10, digits 20);
- ``TITLE``: its name in the report, e.g. ``"2D classifier"``;
- ``RUN_COMMAND``: how to produce its results, e.g. ``"kedro run --pipelines=x"``;
- ``Data``: a pydantic model of its data description, and ``Results``, a
  :class:`~pytorch_intro.reporting.results.ProblemResults` of that ``Data``
  whose ``problem`` is ``Literal["<module name>"] = "<module name>"``;
- ``data_line(results) -> str``: the data in a few words, for the report's header;
- ``write(document, results)``: its section (level-2 heading first).

Nothing else in reporting changes: the report, the reporting pipeline's inputs
(``<problem>_results``), the accuracy overview and the results dataset all
read this registry. The problem's own pipeline saves its ``Results`` as
``<problem>_results`` (the catalog's pattern).
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from pytorch_intro.reporting.document import Document
from pytorch_intro.reporting.results import ProblemResults

_REQUIRED = ("ORDER", "TITLE", "RUN_COMMAND", "Results", "data_line", "write")


@dataclass(frozen=True)
class Section:
    """One problem's part of the report, as its module defines it."""

    problem: str
    order: int
    title: str
    run_command: str
    results_type: type[ProblemResults]
    data_line: Callable[[Any], str]
    write: Callable[[Document, Any], None]


def _section(problem: str, module: ModuleType) -> Section:
    missing = [name for name in _REQUIRED if not hasattr(module, name)]
    if missing:
        raise TypeError(
            f"{module.__name__}: a report section defines {', '.join(_REQUIRED)}; "
            f"missing: {', '.join(missing)}"
        )
    results_type = module.Results
    declared = results_type.model_fields["problem"].default
    if declared != problem:
        raise TypeError(
            f"{module.__name__}: Results.problem must default to {problem!r} "
            f"(the module's name), not {declared!r}"
        )
    return Section(
        problem=problem,
        order=int(module.ORDER),
        title=module.TITLE,
        run_command=module.RUN_COMMAND,
        results_type=results_type,
        data_line=module.data_line,
        write=module.write,
    )


def registry() -> dict[str, Section]:
    """Every section module of this package, by problem, in ``ORDER``."""
    found = [
        _section(info.name, importlib.import_module(f"{__name__}.{info.name}"))
        for info in pkgutil.iter_modules(__path__)
        if not info.name.startswith("_")
    ]
    return {s.problem: s for s in sorted(found, key=lambda s: (s.order, s.problem))}


def section(problem: str, sections: Mapping[str, Section] | None = None) -> Section:
    """The section of ``problem``; a ``ValueError`` naming the known ones if none."""
    sections = registry() if sections is None else sections
    if problem not in sections:
        raise ValueError(f"problem={problem!r}; choose one of: {', '.join(sections)}")
    return sections[problem]


def parse_results(data: Any) -> ProblemResults:
    """Results as loaded from JSON, validated by their problem's ``Results`` model.

    Raises:
        ValueError: not a JSON object, an unknown ``problem``, or a field that
            does not fit (pydantic's ``ValidationError`` lists them).
    """
    if not isinstance(data, dict):
        raise ValueError(f"expected a JSON object, got {type(data).__name__}")
    return section(data.get("problem")).results_type.model_validate(data)
