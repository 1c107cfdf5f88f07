"""Dead ReLU units: counted on models whose dead units are known by construction."""

import numpy as np
import pandas as pd
import torch
from torch import nn

from pytorch_intro.models import (
    ConvClassifier,
    LinearClassifier,
    MLPClassifier,
    ModelConfig,
    make_checkpoint,
)
from pytorch_intro.train_eval.nodes import evaluate_model
from pytorch_intro.training import DeadUnits, dead_units_of, predict_logits
from pytorch_intro.training.evaluation import EVAL_BATCH_SIZE


def count_dead_units(
    model: nn.Module, inputs: torch.Tensor, batch_size: int = EVAL_BATCH_SIZE
) -> DeadUnits | None:
    """The model's dead ReLU units on ``inputs``, counted in one prediction."""
    with dead_units_of(model) as count:
        predict_logits(model, inputs, batch_size)
    return count()


def _fire_unless(layer: nn.Linear | nn.Conv2d, dead: list[int]) -> None:
    """Zero weights: every unit outputs its bias, 1, or -1000 for the ``dead`` ones."""
    with torch.no_grad():
        layer.weight.zero_()
        layer.bias.fill_(1.0)
        layer.bias[dead] = -1000.0


def test_an_mlp_counts_the_units_set_dead_in_every_hidden_layer():
    model = MLPClassifier(4, [8, 6], 3)
    first, second = model.layers[0], model.layers[2]
    _fire_unless(first, [0, 3, 5])
    _fire_unless(second, [2])
    inputs = torch.randn(50, 4)

    assert count_dead_units(model, inputs) == DeadUnits(dead=4, total=14)
    relus = [m for m in model.modules() if isinstance(m, nn.ReLU)]
    assert not any(relu._forward_hooks for relu in relus)  # hooks removed


def test_a_unit_that_fires_for_one_sample_only_is_alive_across_batches():
    model = MLPClassifier(2, [3], 2)
    layer = model.layers[0]
    _fire_unless(layer, [0, 1, 2])
    with torch.no_grad():
        layer.weight[1, 0] = 2000.0  # unit 1 fires where x0 > 0.5 only
    inputs = torch.zeros(5, 2)
    inputs[-1, 0] = 1.0  # the last sample, in the last batch of 2

    assert count_dead_units(model, inputs, batch_size=2) == DeadUnits(2, 3)


def test_a_cnn_channel_is_dead_only_if_it_never_fires_at_any_position():
    model = ConvClassifier(1, [4, 5], 3, 10)
    first, second = model.layers[0], model.layers[3]
    _fire_unless(first, [1, 2])
    _fire_unless(second, [0])
    with torch.no_grad():
        first.weight[2, 0, 1, 1] = 2000.0  # channel 2 fires at one pixel only
    images = torch.zeros(3, 1, 12, 12)
    images[0, 0, 5, 7] = 1.0

    assert count_dead_units(model, images) == DeadUnits(dead=2, total=9)


def test_a_model_without_relu_has_no_dead_units_to_count():
    assert count_dead_units(LinearClassifier(4, 3), torch.randn(5, 4)) is None


def test_the_evaluation_records_dead_units_in_the_metrics_and_for_mlflow():
    config = ModelConfig(name="mlp", in_features=4, hidden_sizes=[8], out_features=3)
    model = MLPClassifier(4, [8], 3)
    _fire_unless(model.layers[0], [1, 6])
    valid = {
        "samples": np.random.default_rng(0).normal(size=(20, 4)),
        "annotations": np.arange(20) % 3,
    }
    history = pd.DataFrame({"epoch": [1, 2, 3], "val_accuracy": [0.3, 0.4, 0.5]})

    _, metrics, dead_units = evaluate_model(
        make_checkpoint(model, config), valid, history
    )

    assert metrics["dead_relu_units"] == 2 and metrics["relu_units"] == 8
    # one row at the last epoch: the tracking logs each column but epoch
    assert dead_units.to_dict("records") == [
        {"epoch": 3, "dead_relu_units": 2, "relu_units": 8}
    ]
    linear = ModelConfig(name="linear", in_features=4, out_features=3)
    checkpoint = make_checkpoint(LinearClassifier(4, 3), linear)
    _, metrics, dead_units = evaluate_model(checkpoint, valid, history)
    assert "dead_relu_units" not in metrics
    assert list(dead_units.columns) == ["epoch"]  # nothing to log
