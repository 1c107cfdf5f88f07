"""Typed results: what each pipeline hands to the report (pydantic models).

A problem's results (:class:`ProblemResults`) hold the run identity, the
problem's own data description (a model each report section defines) and one
:class:`VariantResults` per model variant. They validate when built and when
loaded: a file written by another version of the project fails with the field
that does not fit. Figures are PNG bytes in Python and base64 text in JSON, so
``Model.model_validate_json(results.model_dump_json()) == results``.

Each variant records the run it was trained in: running one variant keeps the
others' latest results (:func:`combine_runs`), so one problem's results can
come from several runs.

Two kinds of model: the containers defined here reject unknown keys (such a key
means another format); the records other nodes make (run identity, summary,
metrics, per-epoch rows, ...) are typed where the report reads them and keep
their other keys, which must be JSON scalars.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Annotated, Any, Generic, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeFloat,
    NonNegativeInt,
    PlainSerializer,
    PlainValidator,
    PositiveFloat,
    PositiveInt,
    field_validator,
    model_validator,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
Scalar = str | int | float | bool | None
Fraction = Annotated[float, Field(ge=0, le=1)]


def _png(value: Any) -> bytes:
    if isinstance(value, str):  # as stored in the JSON file
        try:
            value = base64.b64decode(value, validate=True)
        except binascii.Error as error:
            raise ValueError(f"not base64 text ({error})") from None
    if not isinstance(value, bytes):
        raise ValueError(f"expected PNG bytes, got {type(value).__name__}")
    if not value.startswith(PNG_SIGNATURE):
        raise ValueError("not a PNG image")
    return value


def _base64(png: bytes) -> str:
    return base64.b64encode(png).decode("ascii")


#: A figure: PNG bytes, base64 text in JSON.
Png = Annotated[
    bytes,
    PlainValidator(_png, json_schema_input_type=str),
    PlainSerializer(_base64, return_type=str, when_used="json"),
]


class Container(BaseModel):
    """A structure of the results format: unknown keys are an error."""

    model_config = ConfigDict(extra="forbid", ser_json_inf_nan="constants")


class Record(BaseModel):
    """A record made by another node: typed where the report reads it; its
    other keys are kept as they are (JSON scalars)."""

    model_config = ConfigDict(extra="allow", ser_json_inf_nan="constants")
    __pydantic_extra__: dict[str, Scalar] = Field(init=False)


class RunIdentity(Record):
    """What identifies a run (``RunIdentityDataset``)."""

    token: str
    date: str = "unknown"
    git_commit: str | None = None
    mlflow_run_id: str | None = None
    mlflow_experiment_id: str | None = None
    mlflow_variants_url: str | None = None  # the MLflow UI page of its variants


class Summary(Record):
    """The variant's run parameters: a flat dict, also logged as MLflow params."""

    title: str
    architecture: str  # the model config as a JSON object, for MLflow
    n_params: NonNegativeInt
    epochs: PositiveInt
    batch_size: PositiveInt
    lr: PositiveFloat
    seed: int
    seeds: PositiveInt = 1
    n_train: PositiveInt

    @field_validator("architecture")
    @classmethod
    def _json_object(cls, text: str) -> str:
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError as error:
            raise ValueError(f"not JSON ({error})") from None
        if not isinstance(parsed, dict):
            raise ValueError("not a JSON object")
        return text

    def architecture_config(self) -> dict[str, Any]:
        """The model config the architecture string holds."""
        return json.loads(self.architecture)


class Metrics(Record):
    """Final validation metrics."""

    val_loss: float
    val_accuracy: Fraction
    n_samples: PositiveInt


class HistoryRow(Record):
    """One epoch: mean training loss, validation loss and accuracy, time; the
    mean and spread of the accuracy when several seeds trained."""

    epoch: PositiveInt
    train_loss: float
    val_loss: float
    val_accuracy: Fraction
    train_seconds: NonNegativeFloat
    val_accuracy_mean: Fraction | None = None
    val_accuracy_std: NonNegativeFloat | None = None


class ParameterCount(Record):
    """One layer's parameters, by formula."""

    layer: str
    kind: str
    formula: str
    weights: NonNegativeInt
    biases: NonNegativeInt
    params: NonNegativeInt

    @model_validator(mode="after")
    def _adds_up(self) -> ParameterCount:
        if self.params != self.weights + self.biases:
            raise ValueError(
                f"{self.layer}: params {self.params} != weights {self.weights} "
                f"+ biases {self.biases}"
            )
        return self


class Confusion(Record):
    """An off-diagonal cell of the confusion matrix."""

    true: NonNegativeInt
    predicted: NonNegativeInt
    count: PositiveInt
    text: str


class VariantResults(Container):
    """One model variant's numbers and figures."""

    summary: Summary
    metrics: Metrics
    history: list[HistoryRow] = Field(min_length=1)
    parameter_counts: list[ParameterCount]
    n_params_model: NonNegativeInt  # PyTorch's own count
    confusion_matrix: list[list[NonNegativeInt]]  # rows true, columns predicted
    top_confusions: list[Confusion]
    figures: dict[str, Png] = Field(default_factory=dict)
    # The run the variant was trained in, and its data in a few words (the
    # section's data line), set when the problem's results are collected; a
    # variant kept from an earlier run keeps both. Unset in older files: the
    # problem's own run (see ProblemResults).
    run: RunIdentity | None = None
    data: str | None = None

    @field_validator("confusion_matrix")
    @classmethod
    def _square(cls, matrix: list[list[int]]) -> list[list[int]]:
        if any(len(row) != len(matrix) for row in matrix):
            raise ValueError(f"not square: rows of {[len(r) for r in matrix]}")
        return matrix

    @property
    def title(self) -> str:
        return self.summary.title

    @property
    def accuracy(self) -> float:
        """The final validation accuracy."""
        return self.metrics.val_accuracy

    @property
    def n_eval(self) -> int:
        """How many samples the accuracy was measured on."""
        return self.metrics.n_samples

    @property
    def seconds_per_epoch(self) -> float:
        return sum(row.train_seconds for row in self.history) / len(self.history)


DataT = TypeVar("DataT", bound=BaseModel)


class ProblemResults(Container, Generic[DataT]):
    """A pipeline's results. Each report section subclasses it with its own
    data model and a ``problem`` literal (its pipeline's name)."""

    problem: str
    identity: RunIdentity
    data: DataT
    variants: dict[str, VariantResults]
    figures: dict[str, Png] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _variants_know_their_run(self) -> ProblemResults:
        # a variant without a run (built by this run's nodes, or an older file)
        # comes from the problem's own run
        self.variants = {
            name: variant
            if variant.run is not None
            else variant.model_copy(update={"run": self.identity})
            for name, variant in self.variants.items()
        }
        return self


ResultsT = TypeVar("ResultsT", bound=ProblemResults)


def combine_runs(
    results: ResultsT,
    earlier: ProblemResults | None,
    data: str,
    known: Collection[str],
) -> ResultsT:
    """This run's ``results`` with the variants it did not train kept from ``earlier``.

    This run's variants replace their earlier results and record ``data`` (this
    run's data in a few words); every other variant of ``earlier`` that is still
    one of the problem's ``known`` variants is kept as it was, with the run and
    data it came from. The variants stay in their earlier order, new ones last.
    """
    if earlier is not None and earlier.problem != results.problem:
        raise ValueError(
            f"earlier results of {earlier.problem!r}, not {results.problem!r}"
        )
    now = {
        name: variant.model_copy(update={"data": data})
        for name, variant in results.variants.items()
    }
    before = earlier.variants if earlier is not None else {}
    order = [name for name in before if name in now or name in known] + [
        name for name in now if name not in before
    ]
    variants = {name: now[name] if name in now else before[name] for name in order}
    return results.model_copy(update={"variants": variants})


def check_class_counts(counts: Sequence[int], total: int, names: str) -> None:
    """A ``ValueError`` unless the per-class counts add up to the total."""
    if sum(counts) != total:
        raise ValueError(
            f"{names}: {list(counts)} add up to {sum(counts)}, not {total}"
        )


def project_relative(path: str, root: Path) -> str:
    """``path`` relative to ``root`` (POSIX separators) when it lies inside it;
    otherwise (outside, already relative, not a path) as it is."""
    candidate = Path(path)
    if not candidate.is_absolute():
        return path
    try:
        return candidate.relative_to(root).as_posix()
    except ValueError:
        return path
