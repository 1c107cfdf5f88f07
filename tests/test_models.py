import pickle

import pytest
import torch
from pydantic import ValidationError
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
    parameter_table,
    save_checkpoint,
)


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
    assert build_model(ModelConfig(name="linear", in_features=2, out_features=1))(
        x
    ).shape == (5, 1)
    assert build_model(
        ModelConfig(name="mlp", in_features=2, out_features=3, hidden_sizes=[4])
    )(x).shape == (5, 3)
    # logits are unbounded: no sigmoid inside the model
    big = build_model(ModelConfig(name="linear", in_features=2, out_features=1))(
        torch.full((1, 2), 1e4)
    )
    assert big.abs().item() > 1


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (
            {"name": "resnet", "in_features": 2, "out_features": 1},
            r"name\n  Input should be 'linear', 'mlp' or 'cnn' .*input_value='resnet'",
        ),
        (
            {"name": "linear", "in_features": 0, "out_features": 1},
            r"in_features\n  Input should be greater than or equal to 1 .*input_value=0",
        ),
        (
            {"name": "linear", "in_features": "2", "out_features": 1},
            r"in_features\n  Input should be a valid integer .*input_value='2'",
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
            r"hidden_sizes\.1\n  Input should be greater than or equal to 1 .*input_value=-1",
        ),
    ],
)
def test_model_config_names_the_bad_key(raw, message):
    with pytest.raises(ValidationError, match=message):
        ModelConfig(**raw)


def test_checkpoint_round_trip(tmp_path):
    config = ModelConfig(
        name="mlp", in_features=2, out_features=1, hidden_sizes=[16, 16]
    )
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


# --- the digits models and their parameter counts ----------------------------------

CNN = {
    "name": "cnn",
    "in_channels": 1,
    "channels": [8, 16, 32],
    "kernel_size": 3,
    "out_features": 10,
}


def test_cnn_matches_the_assignment_layer_for_layer():
    model = build_model(ModelConfig(**CNN))
    assert [type(m) for m in model.layers] == [
        nn.Conv2d,
        nn.ReLU,
        nn.MaxPool2d,
        nn.Conv2d,
        nn.ReLU,
        nn.MaxPool2d,
        nn.Conv2d,
        nn.ReLU,
        nn.AdaptiveMaxPool2d,
    ]
    convs = [(m.in_channels, m.out_channels, m.kernel_size) for m in model.layers[::3]]
    assert convs == [(1, 8, (3, 3)), (8, 16, (3, 3)), (16, 32, (3, 3))]
    assert model.layers[8].output_size == 1
    # the assignment's state-dict keys, so its printed shapes read the same
    assert list(model.state_dict()) == [
        "layers.0.weight",
        "layers.0.bias",
        "layers.3.weight",
        "layers.3.bias",
        "layers.6.weight",
        "layers.6.bias",
        "classifier.0.weight",
        "classifier.0.bias",
    ]
    images = torch.randn(4, 1, 28, 28)
    assert model(images).shape == (4, 10)
    assert torch.equal(model(images), model(images[:, 0]))  # channel axis optional


def test_linear_models_flatten_images():
    x = torch.randn(3, 1, 28, 28)
    assert build_model(ModelConfig(name="linear", in_features=784, out_features=10))(
        x
    ).shape == (3, 10)
    assert build_model(
        ModelConfig(name="mlp", in_features=784, out_features=10, hidden_sizes=[32])
    )(x).shape == (3, 10)


@pytest.mark.parametrize(
    ("config", "per_layer", "total"),
    [
        (ModelConfig(name="linear", in_features=784, out_features=10), [7850], 7850),
        (
            ModelConfig(
                name="mlp", in_features=784, out_features=10, hidden_sizes=[32]
            ),
            [25120, 0, 330],
            25450,
        ),
        (
            ModelConfig(**CNN),
            [80, 0, 0, 1168, 0, 0, 4640, 0, 0, 330],
            6218,
        ),
    ],
    ids=["linear", "mlp", "cnn"],
)
def test_parameter_counts_by_formula_match_the_model(config, per_layer, total):
    model = build_model(config)
    rows = parameter_table(model)
    assert [row.params for row in rows] == per_layer
    assert sum(row.params for row in rows) == total == count_parameters(model)


def test_parameter_formulas_read_like_the_assignment():
    rows = {row.layer: row for row in parameter_table(build_model(ModelConfig(**CNN)))}
    assert rows["layers.3"].formula == "K^2 x C x N + N = 3^2 x 8 x 16 + 16"
    assert (rows["layers.3"].weights, rows["layers.3"].biases) == (1152, 16)
    assert rows["classifier.0"].formula == "F_in x F_out + F_out = 32 x 10 + 10"
    assert rows["layers.8"].formula == "no parameters"


def test_a_layer_without_a_formula_is_refused_not_miscounted():
    with pytest.raises(ValueError, match=r"layer 1 \(BatchNorm1d\) has parameters"):
        parameter_table(nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3)))

    class Scaled(nn.Module):  # a parameter outside any leaf layer
        def __init__(self):
            super().__init__()
            self.scale = nn.Parameter(torch.ones(1))
            self.layer = nn.Linear(2, 2)

    with pytest.raises(
        ValueError, match="formulas give 6 parameters but the model has 7"
    ):
        parameter_table(Scaled())


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({**CNN, "channels": []}, "model 'cnn' needs channels"),
        (
            {**CNN, "kernel_size": 0},
            r"kernel_size\n  Input should be greater than or equal to 1 .*input_value=0",
        ),
        ({**CNN, "in_features": 784}, "in_features is not used by model 'cnn'"),
        ({**CNN, "channels": 8}, r"channels\n  Input should be a valid list .*=8,"),
        ({"name": "linear", "in_features": 784}, "model 'linear' needs out_features"),
    ],
)
def test_cnn_config_names_the_bad_key(raw, message):
    with pytest.raises(ValidationError, match=message):
        ModelConfig(**raw)
