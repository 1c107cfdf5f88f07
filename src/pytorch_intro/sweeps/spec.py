"""A sweep: pipelines x a grid and/or random samples of parameters x seeds.

Pure Python (no Kedro, MLflow or Dask): a validated spec from
``conf/<env>/sweeps/*.yml`` and its expansion into points, each one
``kedro run --pipelines=<pipeline> --params=<key>=<value>,...``.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import random
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from pytorch_intro.validation import Config, ConfigError

Scalar = int | float | str | bool
# ``[low, high]`` as YAML writes it (a list: strict models take no list as a tuple).
_PAIR = Field(min_length=2, max_length=2)


class Distribution(Config):
    """How a random sample draws one parameter: one of ``choice``,
    ``uniform: [low, high]``, ``log_uniform: [low, high]``, ``int_uniform``."""

    section = "random parameter"

    choice: Annotated[list[Scalar], Field(min_length=1)] | None = None
    uniform: Annotated[list[float], _PAIR] | None = None
    log_uniform: Annotated[list[Annotated[float, Field(gt=0)]], _PAIR] | None = None
    int_uniform: Annotated[list[int], _PAIR] | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Distribution:
        given = [k for k in type(self).model_fields if getattr(self, k) is not None]
        if len(given) != 1:
            raise ConfigError(
                "a random parameter needs exactly one of choice, uniform, "
                f"log_uniform, int_uniform; got {', '.join(given) or 'none'}"
            )
        return self

    def draw(self, rng: random.Random) -> Scalar:
        if self.choice is not None:
            return rng.choice(self.choice)
        if self.uniform is not None:
            return rng.uniform(*self.uniform)
        if self.log_uniform is not None:
            low, high = self.log_uniform
            return math.exp(rng.uniform(math.log(low), math.log(high)))
        low, high = self.int_uniform  # type: ignore[misc]
        return rng.randint(low, high)


class RandomSamples(Config):
    """``samples`` random draws of ``parameters`` (seeded by ``seed``)."""

    section = "random"

    samples: Annotated[int, Field(ge=1)]
    seed: int = 0
    parameters: dict[str, Distribution]


class ExtraPoint(Config):
    """One point given as it is: a pipeline and its overrides."""

    section = "include"

    pipeline: str
    params: dict[str, Scalar] = {}


class SweepSpec(Config):
    """A sweep file's content.

    Attributes:
        pipelines: the variants to run, e.g. ``simple2d.mlp`` (``kedro registry list``).
        grid: parameter key -> the values to try; every combination is a point.
        random: random samples of other keys (each combined with every grid point).
        seeds: training seeds: each point runs once per seed
            (``<problem>.training.seed``); empty: the configured seed.
        params: fixed overrides for every point, e.g. fewer epochs.
        include: extra points, each a pipeline and its own overrides (on top
            of ``params``), e.g. one promising setting to try again.
        env: the Kedro environment of every point (``--env``).
    """

    section = "sweep"

    pipelines: Annotated[list[str], Field(min_length=1)]
    grid: dict[str, Annotated[list[Scalar], Field(min_length=1)]] = {}
    random: RandomSamples | None = None
    seeds: list[Annotated[int, Field(ge=0)]] = []
    params: dict[str, Scalar] = {}
    include: list[ExtraPoint] = []
    env: str | None = None

    @model_validator(mode="after")
    def _keys_do_not_clash(self) -> SweepSpec:
        swept = set(self.grid) | set(self.random.parameters if self.random else ())
        if clash := sorted(swept & set(self.params)):
            raise ConfigError(f"{', '.join(clash)}: both swept and fixed in params")
        if overlap := sorted(
            set(self.grid) & set(self.random.parameters if self.random else ())
        ):
            raise ConfigError(f"{', '.join(overlap)}: both in grid and in random")
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

    def params_option(self) -> str:
        """The ``--params`` value: ``key=value,...`` (values as YAML reads them)."""
        return ",".join(
            f"{key}={_yaml(value)}" for key, value in sorted(self.params.items())
        )


def _yaml(value: Scalar) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)  # 0.001, 1e-05: YAML reads both as floats
    return str(value)


def expand(spec: SweepSpec) -> list[Point]:
    """Every point of the sweep: pipelines x grid x random samples x seeds, then
    the ``include`` points."""
    keys = sorted(spec.grid)
    grid = [
        dict(zip(keys, values, strict=True))
        for values in itertools.product(*(spec.grid[k] for k in keys))
    ]
    samples: list[dict[str, Scalar]] = [{}]
    if spec.random is not None:
        rng = random.Random(spec.random.seed)
        names = sorted(spec.random.parameters)
        samples = [
            {name: spec.random.parameters[name].draw(rng) for name in names}
            for _ in range(spec.random.samples)
        ]
    points = []
    for pipeline in spec.pipelines:
        problem = pipeline.partition(".")[0]
        seed_key = f"{problem}.training.seed"
        for values, sample in itertools.product(grid, samples):
            for seed in spec.seeds or [None]:
                swept = values | sample | ({seed_key: seed} if seed is not None else {})
                points.append(
                    Point(
                        number=len(points) + 1,
                        pipeline=pipeline,
                        swept=swept,
                        params=dict(spec.params) | swept,
                        env=spec.env,
                    )
                )
    for extra in spec.include:
        points.append(
            Point(
                number=len(points) + 1,
                pipeline=extra.pipeline,
                swept=dict(extra.params),
                params=dict(spec.params) | dict(extra.params),
                env=spec.env,
            )
        )
    return points


def parse_sweep(raw: dict[str, Any], name: str) -> SweepSpec:
    """The sweep ``name`` of the config loader's ``sweeps`` files.

    Raises:
        KeyError: no such sweep (the message lists the known ones).
        ConfigError: the sweep's file is not a valid sweep (naming the key).
    """
    if name not in raw:
        known = ", ".join(sorted(raw)) or "none"
        raise KeyError(f"no sweep {name!r} (known: {known})")
    try:
        return SweepSpec.model_validate(raw[name])
    except ConfigError as error:
        raise ConfigError(f"sweep {name!r}: {error}") from None


Status = Literal["FINISHED", "FAILED", "KILLED", "SKIPPED"]
