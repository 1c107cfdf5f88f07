import numpy as np
import pytest
import torch

from pytorch_intro.data.points import PointSetGeneratorConfig, generate_point_sets
from pytorch_intro.models import ModelConfig, build_model
from pytorch_intro.training import (
    Adam,
    TrainingConfig,
    evaluate,
    fit,
    intra_op_threads,
    objective_for,
    one_cycle,
    resolve_device,
    seeded,
    to_tensors,
)
from pytorch_intro.validation import ConfigError


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"epochs": 0}, "epochs must be an integer >= 1, got 0"),
        ({"epochs": "10"}, "epochs must be an integer, got '10'"),
        ({"epochs": 2.5}, "epochs must be an integer"),
        ({"batch_size": 0}, "batch_size must be an integer >= 1"),
        ({"batch_size": -8}, "batch_size must be an integer >= 1"),
        ({"lr": 0}, "lr must be a finite number > 0"),
        ({"lr": -1e-3}, "lr must be a finite number > 0"),
        ({"lr": "fast"}, "lr must be a number > 0, got 'fast'"),
        ({"device": "tpu"}, "device='tpu' is not allowed; choose one of: auto, cpu"),
        ({"num_threads": -1}, "num_threads"),
    ],
)
def test_training_config_names_the_bad_key(overrides, message):
    raw = {"epochs": 10, "batch_size": 8, "lr": 1e-3} | overrides
    with pytest.raises(ConfigError, match=message):
        TrainingConfig(**raw)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_requested_without_cuda_is_rejected_early():
    with pytest.raises(ConfigError, match="no CUDA device is available"):
        TrainingConfig(epochs=1, batch_size=8, lr=1e-3, device="cuda")


def test_auto_device_picks_cuda_only_when_present():
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected
    assert resolve_device("cpu").type == "cpu"


def test_thread_and_seed_contexts_restore_global_state():
    threads = torch.get_num_threads()
    with intra_op_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == threads
    state = torch.get_rng_state()
    with seeded(123):
        torch.rand(3)
    assert torch.equal(torch.get_rng_state(), state)


def test_binary_objective_thresholds_probability_at_one_half():
    objective = objective_for(1)
    logits = torch.tensor([[-2.0], [0.0], [3.0]])
    assert objective.predict(logits).tolist() == [0, 1, 1]
    assert objective.probability(logits)[1].item() == pytest.approx(0.5)
    # BCE-with-logits is the assignment's sigmoid + BCE
    targets = torch.tensor([0, 1, 1])
    reference = torch.nn.functional.binary_cross_entropy(
        torch.sigmoid(logits.squeeze(1)), targets.float()
    )
    assert objective.loss(logits, targets).item() == pytest.approx(reference.item())


def test_evaluate_counts_correct_predictions():
    model = torch.nn.Linear(1, 1)
    with torch.no_grad():
        model.weight.fill_(1.0)
        model.bias.fill_(0.0)
    inputs = torch.tensor([[-1.0], [2.0], [3.0], [-4.0]])
    labels = torch.tensor([0, 1, 0, 0])
    result = evaluate(model, inputs, labels)
    assert result.accuracy == pytest.approx(0.75)
    assert result.predictions.tolist() == [0, 1, 1, 0]


def _train(seed: int, model_name: str = "mlp"):
    train, valid = generate_point_sets(
        PointSetGeneratorConfig(seed=0, n_train=400, n_valid=100)
    )
    config = ModelConfig(model_name, 2, 1, [16, 16] if model_name == "mlp" else [])
    training = TrainingConfig(epochs=3, batch_size=8, lr=1e-2, seed=seed, device="cpu")
    with seeded(seed):
        model = build_model(config)
    history = fit(
        model,
        to_tensors(train["samples"], train["annotations"]),
        to_tensors(valid["samples"], valid["annotations"]),
        training,
    )
    return [(r.epoch, r.train_loss, r.val_loss, r.val_accuracy) for r in history]


def test_same_seed_gives_identical_metrics_and_different_seeds_differ():
    first, second, other = _train(seed=1), _train(seed=1), _train(seed=2)
    assert first == second
    assert first != other


def test_mlp_learns_the_disc_and_ring():
    history = _train(seed=0)
    assert [epoch for epoch, *_ in history] == [1, 2, 3]
    assert history[-1][1] < history[0][1]  # training loss goes down
    assert history[-1][3] >= 0.95


def test_to_tensors_casts_for_the_model():
    x, y = to_tensors(
        np.zeros((2, 2), dtype=np.float64), np.array([0, 1], dtype=np.int32)
    )
    assert x.dtype == torch.float32 and y.dtype == torch.int64


@pytest.mark.parametrize(
    "config",
    [
        ModelConfig("mlp", 784, 10, [32]),
        ModelConfig(
            "cnn", out_features=10, in_channels=1, channels=[4, 8], kernel_size=3
        ),
    ],
)
def test_lean_adam_matches_torch_adam_bit_for_bit(config):
    torch.manual_seed(0)
    inputs = torch.randn(64, 1, 28, 28)
    labels = torch.randint(0, 10, (64,))
    reference, lean = build_model(config), build_model(config)
    lean.load_state_dict(reference.state_dict())
    optimizer = torch.optim.Adam(reference.parameters(), lr=1e-3, fused=True)
    adam = Adam(list(lean.parameters()), lr=1e-3)
    for start in range(0, 64, 16):
        batch = slice(start, start + 16)
        loss = torch.nn.functional.cross_entropy(
            reference(inputs[batch]), labels[batch]
        )
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        loss = torch.nn.functional.cross_entropy(lean(inputs[batch]), labels[batch])
        adam.step(list(torch.autograd.grad(loss, adam.params)))
    for (name, expected), actual in zip(
        reference.named_parameters(), lean.parameters(), strict=True
    ):
        assert torch.equal(expected, actual), name


def test_one_cycle_warms_up_to_the_peak_then_anneals():
    rates = [one_cycle(step, 100, 0.01) for step in range(100)]
    assert rates[0] == pytest.approx(0.01 / 25)
    assert max(rates) == pytest.approx(0.01) and rates.index(max(rates)) == 25
    assert rates[-1] < 0.01 / 100
    assert all(a <= b for a, b in zip(rates[:25], rates[1:26], strict=True))
    assert all(a >= b for a, b in zip(rates[25:], rates[26:], strict=False))


def test_a_one_cycle_run_is_seeded_and_learns():
    train, valid = generate_point_sets(PointSetGeneratorConfig(seed=0, n_train=600))
    config = TrainingConfig(epochs=3, batch_size=32, lr=0.05, schedule="onecycle")
    runs = []
    for _ in range(2):
        with seeded(0):
            model = build_model(ModelConfig("mlp", 2, 1, [16, 16]))
        runs.append(
            fit(
                model,
                to_tensors(train["samples"], train["annotations"]),
                to_tensors(valid["samples"], valid["annotations"]),
                config,
            )
        )
    assert [r.val_accuracy for r in runs[0]] == [r.val_accuracy for r in runs[1]]
    assert runs[0][-1].val_accuracy > 0.9


def test_unknown_schedule_is_rejected():
    with pytest.raises(ConfigError, match="schedule"):
        TrainingConfig(epochs=1, batch_size=8, lr=0.1, schedule="cosine")
