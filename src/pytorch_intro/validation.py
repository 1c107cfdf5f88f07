"""Parameter models: every block of parameters is a :class:`Config`.

A frozen pydantic model: strict types, no unknown keys. Kedro validates the
typed node parameters with these models before a run (``kedro.validation``);
notebooks and tests build them with ``Model.model_validate(mapping)``.
Constraints are declared on the fields (``Field(ge=1)``, ``Literal[...]``,
``pattern=``) or raised as ``ValueError`` by validators, so pydantic's
``ValidationError`` names the bad key and the rule it breaks.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class ConfigError(ValueError):
    """A parameter is wrong in a way no field of a model checks (e.g. unread)."""


class Config(BaseModel):
    """A validated, immutable block of parameters."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)

    def __str__(self) -> str:
        # As MLflow params show it: ``TrainingConfig(epochs=5, batch_size=16, ...)``
        return repr(self)

    def with_overrides(self, overrides: dict[str, Any]) -> Config:
        """A copy with some keys replaced, validated like the original."""
        return type(self).model_validate(self.model_dump() | dict(overrides))
