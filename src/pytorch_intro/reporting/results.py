"""Typed results: one record per model variant, and each problem's results.

A :class:`VariantResults` holds a variant's settings, numbers and figures (PNG
files saved once by the catalog); MLflow's params, the report and the problem's
:class:`ProblemResults` read it. Both validate when built and when loaded: a file
written by another version fails with the field that does not fit. A variant
records the run it was trained in (one variant run alone keeps the others'
latest results: :func:`combine_runs`).
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, ClassVar, Generic, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeFloat,
    NonNegativeInt,
    PositiveInt,
    field_validator,
    model_validator,
)

from pytorch_intro.models import ModelConfig
from pytorch_intro.training import TrainingConfig

if TYPE_CHECKING:
    from pytorch_intro.reporting.document import Document

Scalar = str | int | float | bool | None
Fraction = Annotated[float, Field(ge=0, le=1)]
#: A figure: its PNG file, relative to the project (where ``kedro run`` works).
FigureFile = Annotated[str, Field(pattern=r"\.png$")]


class Container(BaseModel):
    """A structure of the results format: unknown keys are an error."""

    model_config = ConfigDict(extra="forbid", ser_json_inf_nan="constants")


class RunIdentity(Container):
    """What identifies a run (``RunIdentityDataset``)."""

    token: str
    date: str = "unknown"
    git_commit: str | None = None
    mlflow_run_id: str | None = None
    mlflow_experiment_id: str | None = None
    mlflow_variants_url: str | None = None  # the MLflow UI page of its variants


class Metrics(Container):
    """Final validation metrics; the ReLU units that never fired on the
    validation set, of how many (None: a model without ReLU)."""

    val_loss: float
    val_accuracy: Fraction
    n_samples: PositiveInt
    dead_relu_units: NonNegativeInt | None = None
    relu_units: PositiveInt | None = None

    @model_validator(mode="after")
    def _units_add_up(self) -> Metrics:
        dead, total = self.dead_relu_units, self.relu_units
        if (dead is None) != (total is None) or (dead is not None and dead > total):
            raise ValueError(f"dead_relu_units={dead} of relu_units={total}")
        return self


class HistoryRow(Container):
    """One epoch; the accuracy's mean and spread when several seeds trained."""

    epoch: PositiveInt
    train_loss: float
    val_loss: float
    val_accuracy: Fraction
    train_seconds: NonNegativeFloat
    val_accuracy_mean: Fraction | None = None
    val_accuracy_std: NonNegativeFloat | None = None


class ParameterCount(Container):
    """One layer's parameters, by formula."""

    layer: str
    kind: str
    formula: str
    weights: NonNegativeInt
    biases: NonNegativeInt
    params: NonNegativeInt  # weights + biases


class Confusion(Container):
    """An off-diagonal cell of the confusion matrix."""

    true: NonNegativeInt
    predicted: NonNegativeInt
    count: PositiveInt
    text: str


class VariantResults(Container):
    """One model variant's record: settings, numbers and figures."""

    title: str
    features: str | None = None  # what the model sees: "xy", "polar", "pixels"
    model: ModelConfig
    training: TrainingConfig  # the problem's settings with the variant's overrides
    n_train: PositiveInt
    data_source: str
    step: str = "eager"  # how the training step ran: compiled, eager (and why)
    compile_seconds: NonNegativeFloat = 0.0
    metrics: Metrics
    history: list[HistoryRow] = Field(min_length=1)
    parameter_counts: list[ParameterCount]
    n_params_model: NonNegativeInt  # PyTorch's own count
    confusion_matrix: list[list[NonNegativeInt]]  # rows true, columns predicted
    top_confusions: list[Confusion]
    figures: dict[str, FigureFile] = Field(default_factory=dict)
    # set when collected (a variant kept from an earlier run keeps both)
    run: RunIdentity | None = None  # the run it was trained in
    data: str | None = None  # its data in a few words: the section's data line

    @field_validator("confusion_matrix")
    @classmethod
    def _square(cls, matrix: list[list[int]]) -> list[list[int]]:
        if any(len(row) != len(matrix) for row in matrix):
            raise ValueError(f"not square: rows of {[len(r) for r in matrix]}")
        return matrix

    @property
    def n_params(self) -> int:
        """The parameters by formula (PyTorch's count is ``n_params_model``)."""
        return sum(row.params for row in self.parameter_counts)

    @property
    def accuracy(self) -> float:
        return self.metrics.val_accuracy

    @property
    def n_eval(self) -> int:
        return self.metrics.n_samples

    @property
    def seconds_per_epoch(self) -> float:
        return sum(row.train_seconds for row in self.history) / len(self.history)

    def params(self) -> dict[str, Scalar]:
        """The settings as flat MLflow params (read by the tracking hook)."""
        architecture = json.dumps(self.model.to_dict(), separators=(",", ":"))
        confusions = "; ".join(c.text for c in self.top_confusions) or "none"
        return self.training.model_dump() | {
            "title": self.title,
            "features": self.features,
            "architecture": architecture,
            "n_params": self.n_params,
            "n_train": self.n_train,
            "data_source": self.data_source,
            "step": self.step,
            "compile_seconds": self.compile_seconds,
            "top_confusions": confusions,
        }


DataT = TypeVar("DataT", bound=BaseModel)


class ProblemResults(Container, Generic[DataT]):
    """A pipeline's results, subclassed by each report section (:mod:`.sections`)."""

    title: ClassVar[str]
    order: ClassVar[int]

    problem: str
    identity: RunIdentity
    data: DataT
    variants: dict[str, VariantResults]
    figures: dict[str, FigureFile] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _variants_know_their_run(self) -> ProblemResults:
        # a variant without a run was built by this run's nodes
        for variant in self.variants.values():
            variant.run = variant.run or self.identity
        return self

    @classmethod
    def run_command(cls) -> str:
        """How to produce these results."""
        return f"kedro run --pipelines={cls.model_fields['problem'].default}"

    def data_line(self) -> str:
        """The data in a few words, for the report's header."""
        raise NotImplementedError

    def write(self, document: Document) -> None:
        """The problem's section of the report (level-2 heading first)."""
        raise NotImplementedError


ResultsT = TypeVar("ResultsT", bound=ProblemResults)


def combine_runs(
    results: ResultsT, earlier: ProblemResults | None, known: Collection[str]
) -> ResultsT:
    """This run's ``results`` plus the variants of ``earlier`` still ``known`` that
    it did not train, as they were (run and data); earlier order, new ones last."""
    if earlier is not None and earlier.problem != results.problem:
        raise ValueError(
            f"earlier results of {earlier.problem!r}, not {results.problem!r}"
        )
    for variant in results.variants.values():
        variant.data = results.data_line()
    before = earlier.variants if earlier is not None else {}
    kept = {n: v for n, v in before.items() if n in results.variants or n in known}
    # replaced where they were, new ones last
    return results.model_copy(update={"variants": kept | results.variants})


def check_class_counts(counts: Sequence[int], total: int, names: str) -> None:
    """A ``ValueError`` unless the per-class counts add up to the total."""
    if sum(counts) != total:
        raise ValueError(
            f"{names}: {list(counts)} add up to {sum(counts)}, not {total}"
        )


def project_relative(path: str, root: Path) -> str:
    """``path`` relative to ``root`` when it lies inside it, else as it is."""
    inside = Path(path).is_absolute() and Path(path).is_relative_to(root)
    return Path(path).relative_to(root).as_posix() if inside else path
