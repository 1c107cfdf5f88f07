import pickle

import pytest
import torch
from torch import nn

from pytorch_intro.models import (
    LinearClassifier,
    MLPClassifier,
    ModelConfig,
    build_model,
    count_parameters,
    load_checkpoint,
    make_checkpoint,
    model_from_checkpoint,
    save_checkpoint,
)
from pytorch_intro.validation import ConfigError


def test_linear_classifier_is_one_linear_layer():
    model = LinearClassifier(2, 1)
    layers = list(model.layers)
    assert len(layers) == 1 and isinstance(layers[0], nn.Linear)
    assert (layers[0].in_features, layers[0].out_features) == (2, 1)
    assert count_parameters(model) == 3


def test_mlp_classifier_matches_the_assignment():
    model = MLPClassifier(2, [16, 16], 1)
    kinds = [type(layer) for layer in model.layers]
    assert kinds == [nn.Linear, nn.ReLU, nn.Linear, nn.ReLU, nn.Linear]
    shapes = [
        (m.in_features, m.out_features)
        for m in model.layers
        if isinstance(m, nn.Linear)
    ]
    assert shapes == [(2, 16), (16, 16), (16, 1)]
    assert count_parameters(model) == (2 * 16 + 16) + (16 * 16 + 16) + (16 + 1)


def test_models_return_logits_of_the_configured_width():
    x = torch.randn(5, 2)
    assert build_model(ModelConfig("linear", 2, 1))(x).shape == (5, 1)
    assert build_model(ModelConfig("mlp", 2, 3, [4]))(x).shape == (5, 3)
    # logits are unbounded: no sigmoid inside the model
    big = build_model(ModelConfig("linear", 2, 1))(torch.full((1, 2), 1e4))
    assert big.abs().item() > 1


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"name": "resnet", "in_features": 2, "out_features": 1}, "name='resnet'"),
        ({"name": "linear", "in_features": 0, "out_features": 1}, "in_features"),
        (
            {"name": "linear", "in_features": "2", "out_features": 1},
            "in_features must be an integer",
        ),
        (
            {
                "name": "linear",
                "in_features": 2,
                "out_features": 1,
                "hidden_sizes": [4],
            },
            "hidden_sizes is not used",
        ),
        (
            {
                "name": "mlp",
                "in_features": 2,
                "out_features": 1,
                "hidden_sizes": [16, -1],
            },
            "hidden_sizes[1]",
        ),
    ],
)
def test_model_config_names_the_bad_key(raw, message):
    with pytest.raises(
        ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")
    ):
        ModelConfig(**raw)


def test_checkpoint_round_trip(tmp_path):
    config = ModelConfig("mlp", 2, 1, [16, 16])
    model = build_model(config)
    path = tmp_path / "model.pt"
    save_checkpoint(make_checkpoint(model, config), path)
    restored = model_from_checkpoint(load_checkpoint(path))
    x = torch.randn(7, 2)
    assert torch.equal(model(x), restored(x))
    assert load_checkpoint(path)["architecture"] == {
        "name": "mlp",
        "in_features": 2,
        "hidden_sizes": [16, 16],
        "out_features": 1,
    }


class _Exploit:
    def __reduce__(self):
        return (exec, ("import pathlib; pathlib.Path('PWNED').write_text('x')",))


def test_loading_a_crafted_pickle_is_refused_not_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "model.pt"
    with path.open("wb") as handle:
        pickle.dump({"architecture": _Exploit(), "state_dict": {}}, handle)
    with pytest.raises(ValueError, match="not a loadable model checkpoint"):
        load_checkpoint(path)
    assert not (tmp_path / "PWNED").exists()
