"""Small checks that turn bad configuration values into messages naming the key."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

T = TypeVar("T")


class ConfigError(ValueError):
    """A configuration value is missing, of the wrong type or out of range."""


def check_int(key: str, value: Any, minimum: int | None = None) -> int:
    """Return ``value`` if it is an integer (not a bool) at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(
            f"{key} must be an integer, got {value!r} ({type(value).__name__})"
        )
    if minimum is not None and value < minimum:
        raise ConfigError(f"{key} must be an integer >= {minimum}, got {value}")
    return value


def check_positive_float(key: str, value: Any) -> float:
    """Return ``value`` as a float if it is a finite number greater than zero."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(
            f"{key} must be a number > 0, got {value!r} ({type(value).__name__})"
        )
    if not value > 0 or value == float("inf"):
        raise ConfigError(f"{key} must be a finite number > 0, got {value}")
    return float(value)


def check_choice(key: str, value: Any, allowed: Iterable[str]) -> str:
    """Return ``value`` if it is one of ``allowed``."""
    allowed = sorted(allowed)
    if value not in allowed:
        raise ConfigError(
            f"{key}={value!r} is not allowed; choose one of: {', '.join(allowed)}"
        )
    return value


def check_float(key: str, value: Any, minimum: float = 0.0) -> float:
    """Return ``value`` as a float if it is a finite number >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(
            f"{key} must be a number, got {value!r} ({type(value).__name__})"
        )
    if not minimum <= value < float("inf"):
        raise ConfigError(f"{key} must be a finite number >= {minimum}, got {value}")
    return float(value)


def as_config(config_class: type[T], value: T | Mapping[str, Any]) -> T:
    """Accept either a validated config object or the raw mapping from YAML.

    Kedro instantiates typed parameters before a run; plain mappings still come
    in from notebooks and tests that build a catalog by hand.
    """
    if isinstance(value, config_class):
        return value
    if not isinstance(value, Mapping):
        raise ConfigError(
            f"expected a mapping for {config_class.__name__}, got {type(value).__name__}"
        )
    return config_class(**value)
