import contextlib
import copy
import re

import numpy as np
import pytest
import torch
from pydantic import ValidationError

from pytorch_intro.data.points import PointSetGeneratorConfig, generate_point_sets
from pytorch_intro.models import ModelConfig, build_model
from pytorch_intro.training import (
    TrainingConfig,
    TrainStep,
    class_probabilities,
    classification_loss,
    evaluate,
    intra_op_threads,
    learning_rate_schedule,
    num_classes_for,
    predict_classes,
    resolve_device,
    seeded,
    to_tensors,
    train,
)
from pytorch_intro.training.config import RECORDED
from pytorch_intro.training.runtime import flush_denormals


@pytest.mark.parametrize(
    ("key", "value", "rule"),
    [
        ("epochs", 0, "Input should be greater than or equal to 1"),
        ("epochs", "10", "Input should be a valid integer"),
        ("epochs", 2.5, "Input should be a valid integer"),
        ("batch_size", 0, "Input should be greater than or equal to 1"),
        ("batch_size", -8, "Input should be greater than or equal to 1"),
        ("lr", 0, "Input should be greater than 0"),
        ("lr", -1e-3, "Input should be greater than 0"),
        ("lr", float("inf"), "Input should be a finite number"),
        ("lr", "fast", "Input should be a valid number"),
        ("device", "tpu", "String should match pattern '^(auto|cpu|mps|cuda"),
        ("num_threads", -1, "Input should be greater than or equal to 0"),
    ],
)
def test_training_config_names_the_bad_key(key, value, rule):
    raw = {"epochs": 10, "batch_size": 8, "lr": 1e-3, key: value}
    bad = rf"\n{key}\n  {re.escape(rule)}.*input_value={re.escape(repr(value))},"
    with pytest.raises(ValidationError, match=bad):
        TrainingConfig(**raw)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_requested_without_cuda_is_rejected_early():
    with pytest.raises(
        ValidationError,
        match=r"device\n  Value error, device='cuda' but no CUDA device is available",
    ):
        TrainingConfig(epochs=1, batch_size=8, lr=1e-3, device="cuda")
    # a saved record of a CUDA training still loads here (e.g. into the report)
    recorded = TrainingConfig.model_validate(
        {"epochs": 1, "batch_size": 8, "lr": 1e-3, "device": "cuda"},
        context={RECORDED: True},
    )
    assert recorded.device == "cuda"


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
    logits = torch.tensor([[-2.0], [0.0], [3.0]])
    assert num_classes_for(1) == 2
    assert predict_classes(logits).tolist() == [0, 1, 1]
    probabilities = class_probabilities(logits)
    assert probabilities.shape == (3, 2)
    assert probabilities[1].tolist() == pytest.approx([0.5, 0.5])
    assert probabilities[2, 1].item() == pytest.approx(torch.sigmoid(logits[2]).item())
    # BCE-with-logits is the assignment's sigmoid + BCE
    targets = torch.tensor([0, 1, 1])
    reference = torch.nn.functional.binary_cross_entropy(
        torch.sigmoid(logits.squeeze(1)), targets.float()
    )
    assert classification_loss(logits, targets).item() == pytest.approx(
        reference.item()
    )


def test_multiclass_objective_is_softmax_cross_entropy():
    logits = torch.tensor([[1.0, 3.0, -1.0], [0.5, 0.0, 2.0]])
    labels = torch.tensor([1, 0])
    assert num_classes_for(3) == 3
    assert predict_classes(logits).tolist() == [1, 2]
    assert torch.equal(class_probabilities(logits), torch.softmax(logits, dim=1))
    assert torch.equal(
        classification_loss(logits, labels),
        torch.nn.functional.cross_entropy(logits, labels),
    )


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
    train_points, valid_points = generate_point_sets(
        PointSetGeneratorConfig(seed=0, n_train=400, n_valid=100)
    )
    config = ModelConfig(
        name=model_name,
        in_features=2,
        out_features=1,
        hidden_sizes=[16, 16] if model_name == "mlp" else [],
    )
    training = TrainingConfig(epochs=3, batch_size=8, lr=1e-2, seed=seed, device="cpu")
    run = train(
        config,
        to_tensors(train_points["samples"], train_points["annotations"]),
        to_tensors(valid_points["samples"], valid_points["annotations"]),
        training,
    )
    return [
        (r.epoch, r.train_loss, r.val_loss, r.val_accuracy) for r in run.histories[0]
    ]


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


CONFIGS = [
    ModelConfig(name="mlp", in_features=784, out_features=10, hidden_sizes=[32]),
    ModelConfig(
        name="cnn", out_features=10, in_channels=1, channels=[4, 8], kernel_size=3
    ),
]


@pytest.mark.parametrize("config", CONFIGS)
def test_the_eager_step_is_the_plain_adam_loop_bit_for_bit(config):
    # The step (one copy) leaves the parameters bit-identical to the textbook
    # loop with torch.optim.Adam(fused=True), ragged last batch included.
    torch.manual_seed(0)
    inputs = torch.randn(56, 1, 28, 28)
    labels = torch.randint(0, 10, (56,))
    reference = build_model(config)
    ours = copy.deepcopy(reference)
    optimizer = torch.optim.Adam(reference.parameters(), lr=1e-3, fused=True)
    step = TrainStep([ours], torch.optim.Adam(ours.parameters(), lr=1e-3, fused=True))
    for start in range(0, 56, 16):
        batch = slice(start, start + 16)
        loss = torch.nn.functional.cross_entropy(
            reference(inputs[batch]), labels[batch]
        )
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses = step([inputs[batch]], [labels[batch]])
        assert torch.equal(losses[0], loss.detach())
    for (name, expected), actual in zip(
        reference.named_parameters(), ours.parameters(), strict=True
    ):
        assert torch.equal(expected, actual), name


def _rates(total: int, peak: float) -> list[float]:
    """The learning rate of each step of a one-cycle run of ``total`` steps."""
    optimizer = torch.optim.Adam([torch.zeros(1)], lr=peak)
    config = TrainingConfig(epochs=1, batch_size=1, lr=peak, schedule="onecycle")
    schedule = learning_rate_schedule(optimizer, config, total)
    rates = []
    for _ in range(total):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        schedule.step()
    return rates


def test_one_cycle_warms_up_to_the_peak_then_anneals():
    rates = _rates(100, 0.01)
    assert rates[0] == pytest.approx(0.01 / 25)
    assert max(rates) == pytest.approx(0.01) and rates.index(max(rates)) == 25
    assert rates[-1] < 0.01 / 100
    assert all(a <= b for a, b in zip(rates[:25], rates[1:26], strict=True))
    assert all(a >= b for a, b in zip(rates[25:], rates[26:], strict=False))


def test_a_one_cycle_run_is_seeded_and_learns():
    train_points, valid_points = generate_point_sets(
        PointSetGeneratorConfig(seed=0, n_train=600)
    )
    config = TrainingConfig(epochs=3, batch_size=32, lr=0.05, schedule="onecycle")
    model = ModelConfig(
        name="mlp", in_features=2, out_features=1, hidden_sizes=[16, 16]
    )
    runs = [
        train(
            model,
            to_tensors(train_points["samples"], train_points["annotations"]),
            to_tensors(valid_points["samples"], valid_points["annotations"]),
            config,
        ).histories[0]
        for _ in range(2)
    ]
    assert [r.val_accuracy for r in runs[0]] == [r.val_accuracy for r in runs[1]]
    assert runs[0][-1].val_accuracy > 0.9


def test_unknown_schedule_is_rejected():
    with pytest.raises(
        ValidationError, match=r"schedule\n  Input should be 'constant' or 'onecycle'"
    ):
        TrainingConfig(epochs=1, batch_size=8, lr=0.1, schedule="cosine")


def _subnormal_count(tensors) -> int:
    tiny = torch.finfo(torch.float32).tiny
    return sum(int(((t != 0) & (t.abs() < tiny)).sum()) for t in tensors)


def test_flushing_subnormals_changes_no_result():
    # A 2D MLP at a high learning rate: units die, their Adam moments decay
    # into subnormal floats. Flushed or not, the parameters are bit-identical.
    train_points, _ = generate_point_sets(PointSetGeneratorConfig(seed=0))
    x, y = to_tensors(train_points["samples"], train_points["annotations"])
    config = ModelConfig(
        name="mlp", in_features=2, out_features=1, hidden_sizes=[16, 16]
    )

    def run(flush: bool):
        model = _seeded_model(config)
        params = list(model.parameters())
        optimizer = torch.optim.Adam(params, lr=3e-2, fused=True)
        step = TrainStep([model], optimizer)
        generator = torch.Generator().manual_seed(0)
        with (
            intra_op_threads(1),
            flush_denormals() if flush else contextlib.nullcontext(),
        ):
            for _ in range(3000):
                index = torch.randint(0, len(x), (8,), generator=generator)
                step([x[index]], [y[index]])
        moments = [
            optimizer.state[p][key] for p in params for key in ("exp_avg", "exp_avg_sq")
        ]
        return [p.detach().clone() for p in params], _subnormal_count(moments)

    (kept, subnormals), (flushed, none) = run(False), run(True)
    assert subnormals > 0 and none == 0  # the case arises, and is flushed
    assert all(torch.equal(a, b) for a, b in zip(kept, flushed, strict=True))


def test_flush_denormals_restores_the_previous_setting():
    subnormal = 1e-40  # below float32's smallest normal number
    with flush_denormals() as supported:
        inside = torch.tensor([subnormal]).item()
    assert torch.tensor([subnormal]).item() > 0
    if supported:
        assert inside == 0.0


def test_the_epoch_gather_into_preallocated_buffers_is_indexing():
    # What the epoch loop does (index_select into buffers allocated once)
    # against plain indexing, for a channels-last image batch and labels.
    images = torch.rand(64, 1, 28, 28).contiguous(memory_format=torch.channels_last)
    labels = torch.randint(0, 10, (64,))
    order = torch.randperm(64, generator=torch.Generator().manual_seed(0))
    buffer, label_buffer = torch.empty_like(images), torch.empty_like(labels)
    for _ in range(2):  # reused from epoch to epoch
        torch.index_select(images, 0, order, out=buffer)
        torch.index_select(labels, 0, order, out=label_buffer)
    assert torch.equal(buffer, images[order])
    assert torch.equal(label_buffer, labels[order])
    assert buffer.is_contiguous(memory_format=torch.channels_last)


def _seeded_model(config: ModelConfig, seed: int = 0) -> torch.nn.Module:
    with seeded(seed):
        return build_model(config)
