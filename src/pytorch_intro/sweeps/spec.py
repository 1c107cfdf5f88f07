"""A sweep file (``conf/<env>/sweeps/*.yml``) and its points, each one
``kedro run --pipelines=<pipeline> --params=<key>=<value>,...``; no Kedro,
MLflow or Dask."""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import random
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from pytorch_intro.validation import Config

Scalar = int | float | str | bool
# ``[low, high]`` as YAML writes it (a list: strict models take no list as a tuple).
_PAIR = Field(min_length=2, max_length=2)


class Distribution(Config):
    """How a random sample draws one parameter (exactly one of the fields)."""

    choice: Annotated[list[Scalar], Field(min_length=1)] | None = None
    uniform: Annotated[list[float], _PAIR] | None = None
    log_uniform: Annotated[list[Annotated[float, Field(gt=0)]], _PAIR] | None = None
    int_uniform: Annotated[list[int], _PAIR] | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Distribution:
        given = [k for k in type(self).model_fields if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(
                "a random parameter needs exactly one of choice, uniform, "
                f"log_uniform, int_uniform; got {', '.join(given) or 'none'}"
            )
        return self

    def draw(self, rng: random.Random) -> Scalar:
        """One value."""
        if self.choice is not None:
            return rng.choice(self.choice)
        if self.uniform is not None:
            return rng.uniform(*self.uniform)
        if self.log_uniform is not None:
            return math.exp(rng.uniform(*map(math.log, self.log_uniform)))
        return rng.randint(*self.int_uniform)  # type: ignore[misc]


class RandomSamples(Config):
    """``samples`` random draws of ``parameters`` (seeded by ``seed``); with a
    ``search``, the distributions it samples from (no ``samples``)."""

    samples: Annotated[int, Field(ge=1)] | None = None
    seed: int = 0
    parameters: dict[str, Distribution]


class ExtraPoint(Config):
    """One point given as it is: a pipeline and its overrides."""

    pipeline: str
    params: dict[str, Scalar] = {}


class Pruner(Config):
    """When a search stops a point early, on its validation accuracy per epoch:
    ``median`` (below the median of earlier points at that epoch, once
    ``startup_trials`` points have finished and after ``warmup_epochs``),
    ``hyperband`` (successive halving), or ``none``."""

    kind: Literal["none", "median", "hyperband"] = "none"
    startup_trials: Annotated[int, Field(ge=0)] = 5
    warmup_epochs: Annotated[int, Field(ge=0)] = 0

    @model_validator(mode="before")
    @classmethod
    def _named(cls, value: Any) -> Any:  # `pruner: median`
        return {"kind": value} if isinstance(value, str) else value


class Search(Config):
    """Points chosen by Optuna: ``sampler`` over the sweep's ``grid`` (choices)
    and ``random.parameters`` (distributions), at most ``budget`` points
    (default for ``grid``: all of it), stopped early by the ``pruner``."""

    sampler: Literal["grid", "random", "tpe"]
    budget: Annotated[int, Field(ge=1)] | None = None
    pruner: Pruner = Pruner()
    seed: int = 0


class SweepSpec(Config):
    """A sweep: ``pipelines`` x ``grid`` x ``random`` samples x ``seeds``, each with
    the fixed ``params``, then the ``include`` points; every point in ``env``.
    With ``search``, Optuna chooses the points instead (see :class:`Search`)."""

    pipelines: Annotated[list[str], Field(min_length=1)]
    grid: dict[str, Annotated[list[Scalar], Field(min_length=1)]] = {}
    random: RandomSamples | None = None
    seeds: list[Annotated[int, Field(ge=0)]] = []
    params: dict[str, Scalar] = {}
    include: list[ExtraPoint] = []
    env: str | None = None
    search: Search | None = None

    @model_validator(mode="after")
    def _keys_do_not_clash(self) -> SweepSpec:
        drawn = set(self.random.parameters if self.random else ())
        if clash := sorted((set(self.grid) | drawn) & set(self.params)):
            raise ValueError(f"{', '.join(clash)}: both swept and fixed in params")
        if overlap := sorted(set(self.grid) & drawn):
            raise ValueError(f"{', '.join(overlap)}: both in grid and in random")
        if self.search is None and self.random and self.random.samples is None:
            raise ValueError("random: samples is missing (how many points to draw)")
        if self.search is not None:
            if self.include or len(self.seeds) > 1:
                raise ValueError("search: takes no include points and one seed at most")
            if self.search.sampler == "grid" and drawn:
                raise ValueError("search: the grid sampler takes no random parameters")
            if self.search.sampler != "grid" and self.search.budget is None:
                raise ValueError(f"search: {self.search.sampler} needs a budget")
        return self


@dataclass(frozen=True)
class Point:
    """One ``kedro run`` of a sweep."""

    number: int
    pipeline: str
    swept: dict[str, Scalar]  # the values this point tries (grid, random, seed)
    params: dict[str, Scalar]  # every override it runs with (swept and fixed)
    env: str | None

    @property
    def id(self) -> str:
        return f"point-{self.number:03d}"

    @property
    def digest(self) -> str:
        """A content hash: the same pipeline, parameters and env, the same point."""
        content = {"pipeline": self.pipeline, "params": self.params, "env": self.env}
        text = json.dumps(content, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def dotlist(self) -> list[str]:
        """``key=value`` per parameter, values as YAML (and OmegaConf) read them."""
        # JSON writes booleans and floats (0.001, 1e-05) as YAML reads them
        return [
            f"{k}={v if isinstance(v, str) else json.dumps(v)}"
            for k, v in sorted(self.params.items())
        ]

    def params_option(self) -> str:
        """The ``--params`` value of ``kedro run``: ``key=value,...``."""
        return ",".join(self.dotlist())

    def row(self, result: dict[str, Any]) -> dict[str, Any]:
        """The point's row of the sweep's summary, with its run's ``result``."""
        return {"point": self.id, "pipeline": self.pipeline} | self.swept | result


def expand(spec: SweepSpec) -> list[Point]:
    """Every point of the sweep, numbered from 1."""
    keys = sorted(spec.grid)
    grid = [
        dict(zip(keys, values, strict=True))
        for values in itertools.product(*(spec.grid[k] for k in keys))
    ]
    samples: list[dict[str, Scalar]] = [{}]
    if spec.random is not None:
        rng, drawn = random.Random(spec.random.seed), spec.random.parameters
        samples = [
            {name: drawn[name].draw(rng) for name in sorted(drawn)}
            for _ in range(spec.random.samples)
        ]
    runs = []
    for pipeline in spec.pipelines:
        seed_key = f"{pipeline.partition('.')[0]}.training.seed"
        seeds = [{seed_key: seed} for seed in spec.seeds] or [{}]
        runs += [
            (pipeline, values | sample | seed)
            for values, sample, seed in itertools.product(grid, samples, seeds)
        ]
    runs += [(extra.pipeline, dict(extra.params)) for extra in spec.include]
    return [
        Point(number, pipeline, swept, dict(spec.params) | swept, spec.env)
        for number, (pipeline, swept) in enumerate(runs, start=1)
    ]


def parse_sweep(raw: dict[str, Any], name: str) -> SweepSpec:
    """The sweep ``name`` of the ``sweeps`` config.

    Raises:
        KeyError: no such sweep (the message lists the known ones).
    """
    if name not in raw:
        raise KeyError(f"no sweep {name!r} (known: {', '.join(sorted(raw)) or 'none'})")
    return SweepSpec.model_validate(raw[name])
