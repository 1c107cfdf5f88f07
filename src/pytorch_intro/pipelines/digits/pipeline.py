"""The digit classifier: linear, MLP and CNN on MNIST.

Shared steps (choosing the data source, normalising) live in the ``digits``
namespace; each model variant is the train/evaluate/track template in
``digits.<variant>``, evaluated on the 10,000 test images every epoch.
"""

from __future__ import annotations

from collections.abc import Iterable

from kedro.pipeline import Node, Pipeline

from pytorch_intro.pipelines.digits.nodes import (
    collect_digits_results,
    describe_digits,
    load_digits,
    normalize_images,
    package_model,
    plot_misclassified_digits,
)
from pytorch_intro.train_eval import bind, instantiate

# Adding a variant: a block `digits.<name>` (model, title) in
# parameters_digits.yml and its name here.
VARIANTS: tuple[str, ...] = ("linear", "mlp", "cnn")


def _data_pipeline() -> Pipeline:
    return Pipeline(
        [
            Node(
                load_digits,
                ["mnist", "mnist_subset", "params:data"],
                ["train_digits", "test_digits"],
                name="load_digits",
            ),
            Node(
                normalize_images,
                ["train_digits", "test_digits"],
                ["train_set", "test_set"],
                name="normalize_images",
            ),
            Node(
                describe_digits,
                ["train_digits", "test_digits"],
                "data_description",
                name="describe_digits",
            ),
        ],
        namespace="digits",
    )


def _misclassified_pipeline() -> Pipeline:
    return Pipeline(
        [
            Node(
                plot_misclassified_digits,
                [
                    "predictions",
                    "test_digits",
                    "params:title",
                    "params:misclassified_count",
                ],
                "misclassified",
                name="plot_misclassified_digits",
            ),
            Node(
                package_model,
                ["model", "test_digits"],
                "servable",
                name="package_model",
            ),
        ]
    )


def create_pipeline(variants: Iterable[str] = VARIANTS, **kwargs) -> Pipeline:
    """The digits pipeline for ``variants`` (names of blocks in the parameters)."""
    variants = tuple(variants)
    pipeline = _data_pipeline()
    for variant in variants:
        pipeline += instantiate(
            "digits",
            variant,
            inputs={
                "train_set": "digits.train_set",
                "valid_set": "digits.test_set",
                "test_digits": "digits.test_digits",
            },
            extra=_misclassified_pipeline(),
            shared=("training", "misclassified_count"),
            figures=("misclassified",),
        )
    results = Node(
        bind(collect_digits_results, known=VARIANTS),
        {
            "identity": "run_identity",
            "data": "digits.data_description",
            "earlier": "digits_results_latest",
        }
        | {variant: f"digits.{variant}.report_entry" for variant in variants},
        "digits_results",
        name="collect_results",
        namespace="digits",
    )
    return pipeline + Pipeline([results])
