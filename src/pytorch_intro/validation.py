"""Parameter models: pydantic validates, this module names the bad key.

Every block of parameters is a :class:`Config` (a frozen pydantic model:
strict types, no unknown keys). Kedro validates the typed node parameters with
these models before a run (``kedro.validation``); notebooks and tests build them
with ``Model.model_validate(mapping)``. Constraints are declared on the fields
(``Field(ge=1)``, ``Literal[...]``, ``pattern=``); what pydantic reports is
turned into one sentence that names the key, the rule and the value, e.g.
``epochs must be an integer >= 1, got 0`` or ``device='tpu' is not allowed;
choose one of: auto, cpu, cuda, cuda:N, mps``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, get_args

import annotated_types
from pydantic import (
    BaseModel,
    ConfigDict,
    TypeAdapter,
    ValidationError,
    model_validator,
)
from pydantic.fields import FieldInfo


class ConfigError(Exception):
    """A parameter is missing, of the wrong type or out of range.

    Not a ``ValueError``, so that pydantic passes it through unchanged when a
    validator raises it (its message already names the key).
    """


class Config(BaseModel):
    """A validated, immutable block of parameters."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)
    #: How messages name the block ("unknown key(s) ... in training").
    section: ClassVar[str] = "parameters"

    @model_validator(mode="wrap")
    @classmethod
    def _name_the_bad_key(cls, data: Any, handler: Any) -> Any:
        try:
            return handler(data)
        except ValidationError as error:
            raise ConfigError(explain(error, cls)) from None

    def __str__(self) -> str:
        # As MLflow params show it: ``TrainingConfig(epochs=5, batch_size=16, ...)``
        return repr(self)

    def with_overrides(self, overrides: dict[str, Any]) -> Config:
        """A copy with some keys replaced, validated like the original."""
        return type(self).model_validate(self.model_dump() | dict(overrides))


def check(key: str, value: Any, annotation: Any) -> Any:
    """Validate a single parameter against a type, e.g. ``NonNegativeInt``."""
    try:
        return TypeAdapter(annotation).validate_python(value, strict=True)
    except ValidationError as error:
        raise ConfigError(explain(error, None, prefix=key)) from None


# --- turning pydantic's report into one sentence --------------------------------


def explain(
    error: ValidationError, model: type[Config] | None, prefix: str = ""
) -> str:
    """The first problem ``error`` reports, as a sentence naming the key."""
    problems = error.errors(include_url=False)
    extra = [p for p in problems if p["type"] == "extra_forbidden"]
    if extra and model is not None:
        keys = ", ".join(str(p["loc"][-1]) for p in extra)
        return (
            f"unknown key(s) {keys} in {model.section}; allowed: "
            f"{', '.join(sorted(model.model_fields))}"
        )
    problem = problems[0]
    loc = problem["loc"]
    key = prefix + "".join(
        f"[{part}]" if isinstance(part, int) else f"{'.' if i else ''}{part}"
        for i, part in enumerate(loc)
    )
    field = model.model_fields.get(str(loc[0])) if model and loc else None
    return _sentence(key, problem, field, len(loc) > 1)


def _sentence(
    key: str, problem: dict[str, Any], field: FieldInfo | None, item: bool
) -> str:
    kind, value, ctx = problem["type"], problem["input"], problem.get("ctx", {})
    got = f"got {value!r} ({type(value).__name__})"
    if kind in _RANGE:
        bounds = _bounds(None if item else field, ctx)
        integer = isinstance(value, int) if field is None else _is_int(field)
        number = (
            ""
            if " and " in bounds or item
            else " an integer"
            if integer
            else " a finite number"
        )
        return f"{key} must be{number}{bounds}, got {value}"
    if kind in ("literal_error", "string_pattern_mismatch"):
        choices = ", ".join(_choices(field, ctx))
        return f"{key}={value!r} is not allowed; choose one of: {choices}"
    if kind.startswith("float_") or kind == "finite_number":
        finite = "finite " if kind == "finite_number" else ""
        bounds = "" if item else _bounds(field, ctx)
        return f"{key} must be a {finite}number{bounds}, {got}"
    expected = {
        "missing": "is required",
        "int": "must be an integer",
        "list_type": f"must be a list{_of(field)}",
        "string_type": "must be a string",
        "bool_type": "must be true or false",
    }
    rule = expected.get(kind) or expected.get(kind.partition("_")[0])
    if kind == "missing":
        return f"{key} {rule}"
    return f"{key} {rule or problem['msg']}, {got}"


_RANGE = ("greater_than", "greater_than_equal", "less_than", "less_than_equal")
_PHRASES = (
    (annotated_types.Ge, "ge", ">="),
    (annotated_types.Gt, "gt", ">"),
    (annotated_types.Le, "le", "<="),
    (annotated_types.Lt, "lt", "<"),
)


def _bounds(field: FieldInfo | None, ctx: dict[str, Any]) -> str:
    """' >= 1', ' > 0' or ' between 0 and 1', from the field or the error."""
    found: dict[str, Any] = {}
    for constraint in field.metadata if field else ():
        for kind, name, _ in _PHRASES:
            if isinstance(constraint, kind):
                found[name] = getattr(constraint, name)
    found = found or {name: ctx[name] for _, name, _ in _PHRASES if name in ctx}
    low = next((n for n in ("ge", "gt") if n in found), None)
    high = next((n for n in ("le", "lt") if n in found), None)
    if low and high:
        return f" between {found[low]:g} and {found[high]:g}"
    return "".join(
        f" {op} {found[name]:g}" for _, name, op in _PHRASES if name in found
    )


def _choices(field: FieldInfo | None, ctx: dict[str, Any]) -> Sequence[str]:
    extra = field.json_schema_extra if field else None
    if isinstance(extra, dict) and "choices" in extra:
        return list(extra["choices"])  # type: ignore[arg-type]
    if field is not None and get_args(field.annotation):
        return sorted(str(a) for a in get_args(field.annotation) if a is not None)
    return [str(ctx.get("expected", ctx.get("pattern", "?")))]


def _is_int(field: FieldInfo) -> bool:
    """Whether the field holds integers (``int``, ``Annotated[int, ...] | None``)."""
    types = get_args(field.annotation) or (field.annotation,)
    return any((get_args(t) or (t,))[0] is int for t in types)


def _of(field: FieldInfo | None) -> str:
    """' of integers' for a ``list[int]`` field (also ``list[Annotated[int, ...]]``)."""
    (item,) = get_args(field.annotation)[:1] or (None,) if field else (None,)
    item = (get_args(item) or (item,))[0]  # Annotated[int, ...] -> int
    return {int: " of integers", float: " of numbers", str: " of strings"}.get(item, "")
