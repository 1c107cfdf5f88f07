"""Several seeds trained together (N copies, one step) against separate runs."""

import copy

import pytest
import torch
from torch import nn

from pytorch_intro.datasets import MNISTSubsetDataset
from pytorch_intro.models import ModelConfig, build_model, model_from_checkpoint
from pytorch_intro.models.preprocessing import preprocess
from pytorch_intro.train_eval.nodes import train_model
from pytorch_intro.training import (
    TrainingConfig,
    TrainStep,
    classification_loss,
    fit,
    seeded,
    train,
)

CONFIGS = {
    "linear": ModelConfig(name="linear", in_features=784, out_features=10),
    "mlp": ModelConfig(name="mlp", in_features=784, out_features=10, hidden_sizes=[32]),
    "cnn": ModelConfig(
        name="cnn", out_features=10, in_channels=1, channels=[4, 8], kernel_size=3
    ),
    "mlp-2d": ModelConfig(
        name="mlp", in_features=2, out_features=1, hidden_sizes=[16, 16]
    ),
}


def _models(config: ModelConfig, seeds) -> list[nn.Module]:
    models = []
    for seed in seeds:
        with seeded(seed):
            models.append(build_model(config))
    return models


def _data(config: ModelConfig, n: int, seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    if config.in_features == 2:
        x = torch.randn(n, 2, generator=generator) * 6
        return x, (x.norm(dim=1) > 6).long()
    x = torch.rand(n, 1, 28, 28, generator=generator) * 2 - 1
    return x, torch.randint(0, 10, (n,), generator=generator)


@pytest.mark.parametrize("name", CONFIGS)
def test_each_copy_gets_the_loss_and_gradient_it_would_get_alone(name):
    config = CONFIGS[name]
    models = _models(config, [0, 1])
    copies = [copy.deepcopy(model) for model in models]
    x, y = _data(config, 32)
    batches, labels = [x[:16], x[16:]], [y[:16], y[16:]]
    params = [p for model in copies for p in model.parameters()]
    step = TrainStep(copies, torch.optim.Adam(params, lr=1e-3))
    losses = step(batches, labels)
    for k, (model, trained) in enumerate(zip(models, copies, strict=True)):
        loss = classification_loss(model(batches[k]), labels[k])
        alone = torch.autograd.grad(loss, list(model.parameters()))
        assert torch.allclose(losses[k], loss, atol=1e-6), (name, k)
        for (key, p), expected in zip(trained.named_parameters(), alone, strict=True):
            assert torch.allclose(expected, p.grad, atol=1e-6), (name, k, key)


@pytest.mark.parametrize("name", CONFIGS)
def test_fit_returns_trained_copies_and_leaves_the_models_alone(name):
    config = CONFIGS[name]
    models = _models(config, [3, 4])
    originals = [copy.deepcopy(model.state_dict()) for model in models]
    training = TrainingConfig(
        epochs=1, batch_size=16, lr=1e-3, device="cpu", compile="off"
    )
    data = _data(config, 32)
    run = fit(models, data, data, training, seeds=[3, 4])
    for model, original, trained in zip(models, originals, run.models, strict=True):
        assert type(trained) is type(model) and not trained.training
        assert list(trained.state_dict()) == list(original)
        for key, value in model.state_dict().items():
            assert torch.equal(value, original[key]), key  # not trained in place
            assert not torch.equal(trained.state_dict()[key], value), key


@pytest.mark.parametrize("name", ["mlp", "cnn", "mlp-2d"])
def test_training_together_matches_training_apart(name):
    # Same batches, same gradients (above); Adam's normalised steps may turn
    # rounding in near-zero gradients into small weight differences, so the
    # runs are compared by their results.
    config = CONFIGS[name]
    train_data, valid = _data(config, 96, seed=1), _data(config, 64, seed=2)
    training = TrainingConfig(
        epochs=2, batch_size=16, lr=1e-3, device="cpu", compile="off"
    )
    seeds = [0, 5]
    together = fit(_models(config, seeds), train_data, valid, training, seeds=seeds)
    for seed, history in zip(seeds, together.histories, strict=True):
        alone = train(
            config, train_data, valid, training.with_overrides({"seed": seed})
        )
        for a, b in zip(history, alone.histories[0], strict=True):
            assert a.val_accuracy == pytest.approx(b.val_accuracy, abs=2 / 64)
            assert a.train_loss == pytest.approx(b.train_loss, rel=1e-2)
            assert a.val_loss == pytest.approx(b.val_loss, rel=1e-2)


def test_seeds_and_models_must_match_and_be_of_one_architecture():
    models = _models(CONFIGS["linear"], [0, 1])
    training = TrainingConfig(
        epochs=1, batch_size=16, lr=1e-3, device="cpu", compile="off"
    )
    data = _data(CONFIGS["linear"], 32)
    with pytest.raises(ValueError, match="2 models for 3 seeds"):
        fit(models, data, data, training, seeds=[0, 1, 2])
    with pytest.raises(TypeError, match="one architecture"):
        fit([models[0], _normalised(0)], data, data, training, seeds=[0, 1])


class _Normalised(nn.Module):
    """Layers the project's classifiers do not use, to train any nn.Module."""

    def __init__(self) -> None:
        super().__init__()
        self.layers = nn.Sequential(
            nn.Linear(2, 8), nn.LayerNorm(8), nn.GELU(), nn.Linear(8, 1)
        )

    def forward(self, x):
        return self.layers(x)


def _normalised(seed: int) -> nn.Module:
    with seeded(seed):
        return _Normalised()


def test_any_module_trains_as_several_seeds_like_alone():
    # The old stacking supported Linear/Conv/ReLU/MaxPool only.
    data = _data(CONFIGS["mlp-2d"], 256, seed=4)
    training = TrainingConfig(
        epochs=8, batch_size=16, lr=1e-2, device="cpu", compile="off"
    )
    seeds = [0, 1]
    run = fit([_normalised(s) for s in seeds], data, data, training, seeds=seeds)
    assert [type(m) for m in run.models] == [_Normalised, _Normalised]
    for seed, history in zip(seeds, run.histories, strict=True):
        alone = fit([_normalised(seed)], data, data, training, seeds=[seed])
        assert history[-1].val_accuracy > 0.8  # learnt, not just fitted the prior
        assert history[-1].val_accuracy == pytest.approx(
            alone.histories[0][-1].val_accuracy, abs=2 / 256
        )


def test_train_model_with_several_seeds_records_their_spread():
    x, y = _data(CONFIGS["mlp-2d"], 160, seed=3)
    points = {"samples": x.numpy(), "annotations": y.numpy()}
    training = {"epochs": 2, "batch_size": 16, "lr": 0.01, "device": "cpu"}
    checkpoint, history, _ = train_model(
        points, points, CONFIGS["mlp-2d"], TrainingConfig(**training, seeds=3)
    )
    assert list(history.columns[-2:]) == ["val_accuracy_mean", "val_accuracy_std"]
    assert (history["val_accuracy_std"] >= 0).all()
    # the variant's model is seed 0's: as accurate as its own history says
    model = model_from_checkpoint(checkpoint)
    with torch.no_grad():
        predicted = (model(x).squeeze(-1) >= 0).long()
    assert (predicted == y).double().mean().item() == pytest.approx(
        history["val_accuracy"].iloc[-1]
    )
    single = train_model(
        points, points, CONFIGS["mlp-2d"], TrainingConfig(**training, seeds=1)
    )[1]
    assert "val_accuracy_std" not in single.columns


@pytest.mark.slow
def test_stacked_cnn_learns_real_digits_like_separate_runs():
    # Random labels hide a model that does not learn; real digits do not.
    digits = MNISTSubsetDataset().load()  # sorted by class: take a seeded sample
    sample = torch.randperm(
        len(digits["labels"]), generator=torch.Generator().manual_seed(0)
    )
    images = torch.from_numpy(preprocess("pixels", digits["images"]))[sample]
    labels = torch.from_numpy(digits["labels"])[sample]
    train_data = (images[:4000], labels[:4000])
    valid = (images[4000:], labels[4000:])
    config = ModelConfig(
        name="cnn", out_features=10, in_channels=1, channels=[8, 16], kernel_size=3
    )
    training = TrainingConfig(
        epochs=2, batch_size=16, lr=3e-3, device="cpu", compile="off"
    )
    seeds = [0, 1]
    together = fit(_models(config, seeds), train_data, valid, training, seeds=seeds)
    for seed, history in zip(seeds, together.histories, strict=True):
        alone = train(
            config, train_data, valid, training.with_overrides({"seed": seed})
        )
        expected = alone.histories[0][-1]
        assert expected.val_accuracy > 0.6  # the task is learnable in 2 epochs
        assert history[-1].val_accuracy == pytest.approx(
            expected.val_accuracy, abs=0.04
        )
