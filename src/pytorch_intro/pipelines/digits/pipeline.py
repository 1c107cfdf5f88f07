"""The digit classifier: linear, MLP and CNN on MNIST.

Shared steps (choosing the data source) live in the ``digits`` namespace; each
model variant is the train/evaluate/track template in ``digits.<variant>``
(normalising the images first), evaluated on the 10,000 test images every epoch.
"""

from __future__ import annotations

from collections.abc import Iterable

from kedro.pipeline import Node, Pipeline

from pytorch_intro.pipelines.digits.nodes import (
    describe_digits,
    label_digits,
    load_digits,
    plot_misclassified_digits,
)
from pytorch_intro.train_eval import instantiate, results_node

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
                label_digits,
                ["train_digits", "test_digits"],
                ["train_set", "test_set"],
                name="label_digits",
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
    inputs = [
        "predictions",
        "test_digits",
        "params:title",
        "params:misclassified_count",
    ]
    node = Node(
        plot_misclassified_digits,
        inputs,
        "misclassified",
        name="plot_misclassified_digits",
    )
    return Pipeline([node])


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
            features="pixels",
            kind="digits",
            extra=_misclassified_pipeline(),
            shared=("training", "misclassified_count"),
        )
    return pipeline + results_node(
        "digits",
        variants,
        known=VARIANTS,
        data="digits.data_description",
        variant_figures=("misclassified",),
    )
