"""The predict pipeline's parameters (``conf/base/parameters_predict.yml``)."""

from __future__ import annotations

from typing import Annotated, Any, get_args

from pydantic import Field, field_validator, model_validator

from pytorch_intro.data.prediction_inputs import ACCEPTED, Kind
from pytorch_intro.validation import Config, ConfigError


class PredictConfig(Config):
    """What to predict (``input``, set on the command line), with which model (an
    MLflow ``model`` URI, a training ``run_id`` and its ``variant``, or else the
    ``default_models`` URI of the input's kind), and how many digits to draw."""

    input: str | None = None
    model: Annotated[str, Field(min_length=1)] | None = None
    run_id: Annotated[str, Field(min_length=1)] | None = None
    variant: Annotated[str, Field(pattern=r"^\w+\.\w+$")] | None = None
    default_models: dict[str, str]
    figure_max_images: Annotated[int, Field(ge=1)] = 100

    @field_validator("input", "run_id", mode="before")
    @classmethod
    def _as_text(cls, value: Any) -> Any:
        # `--params=predict.input=2024` arrives as a number
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
        return value

    @model_validator(mode="after")
    def _one_model(self) -> PredictConfig:
        if self.model is not None and self.run_id is not None:
            raise ValueError(
                "predict.model and predict.run_id are both set: choose one (a model "
                "URI, or a training run with predict.variant)"
            )
        if (self.run_id is None) != (self.variant is None):
            given, needed = (
                ("run_id", "variant") if self.variant is None else ("variant", "run_id")
            )
            raise ValueError(
                f"predict.{given} needs predict.{needed}: the model of a training "
                "run's variant is named by both (e.g. predict.run_id=<the run's id> "
                "and predict.variant=digits.cnn)"
            )
        if missing := set(get_args(Kind)) - set(self.default_models):
            raise ValueError(
                f"predict.default_models needs a model URI for {', '.join(sorted(missing))}"
            )
        return self

    def require_input(self) -> str:
        """``input``, or an error saying how to set it."""
        if self.input is None or not self.input.strip():
            raise ConfigError(
                "predict.input is not set: run `kedro run --pipelines=predict "
                f"--params=predict.input=PATH`, where PATH is {ACCEPTED}"
            )
        return self.input

    def model_request(self, kind: Kind) -> dict[str, str]:
        """Which model to load for inputs of ``kind``: a URI, or a run and variant."""
        if self.run_id is not None:
            return {"run_id": self.run_id, "variant": str(self.variant)}
        return {"uri": self.model or self.default_models[kind]}
