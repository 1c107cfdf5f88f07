"""The compiled training step against the eager one (the reference)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest
import torch

from pytorch_intro.models import ModelConfig, build_model
from pytorch_intro.training import TrainingConfig, TrainStep, seeded, train
from pytorch_intro.training.compiled import CompiledStep, gemm_forward, should_compile

CNN = ModelConfig(
    name="cnn", out_features=10, in_channels=1, channels=[8, 16, 32], kernel_size=3
)
SMALL_CNN = ModelConfig(
    name="cnn", out_features=10, in_channels=1, channels=[4, 8], kernel_size=3
)
MLP = ModelConfig(name="mlp", in_features=784, out_features=10, hidden_sizes=[32])
#: The compiled step does the eager step's arithmetic in another order (fused
#: kernels, convolutions as matrix products), so their floats round apart:
#: after a few steps the parameters differ by float rounding; over many steps
#: Adam's normalised updates let that grow, so training runs are compared by
#: their losses and accuracy.
STEP_TOLERANCE = 1e-6
LOSS_TOLERANCE = 2e-3


def _models(config: ModelConfig, seeds: list[int]) -> list[torch.nn.Module]:
    models = []
    for seed in seeds:
        with seeded(seed):
            models.append(build_model(config))
    return models


def _digits(n: int, seed: int):
    generator = torch.Generator().manual_seed(seed)
    images = torch.rand(n, 1, 28, 28, generator=generator) * 2 - 1
    # learnable labels: the brightest of seven bands of four rows
    bands = images[:, 0, :, :].reshape(n, 7, -1).mean(-1)
    return images, bands.argmax(1)


def test_the_gemm_forward_is_the_cnns_forward():
    with seeded(0):
        model = build_model(CNN)
    x = torch.rand(5, 1, 28, 28)
    forward = gemm_forward(model, x[:2])
    assert forward is not None
    params = dict(model.named_parameters())
    assert torch.allclose(forward(params, x), model(x), atol=1e-5)
    assert torch.allclose(forward(params, x[:, 0]), model(x[:, 0]), atol=1e-5)


class _Doubled(torch.nn.Module):
    """The CNN's layers, but a forward that is not just their chain."""

    def __init__(self) -> None:
        super().__init__()
        self.cnn = build_model(CNN)

    def forward(self, x):
        return 2 * self.cnn(x)


def test_models_the_gemm_forward_does_not_cover_are_left_to_their_own():
    images = torch.rand(2, 1, 28, 28)
    assert gemm_forward(build_model(MLP), images.flatten(1)) is None
    padded = build_model(CNN)
    padded.layers[0].padding = (1, 1)
    assert gemm_forward(padded, images) is None
    assert gemm_forward(_Doubled(), images) is None


def test_auto_compiles_the_convolutional_models_only():
    cpu = torch.device("cpu")
    assert should_compile("auto", build_model(CNN), cpu)
    assert not should_compile("auto", build_model(MLP), cpu)
    assert should_compile("on", build_model(MLP), cpu)
    assert not should_compile("off", build_model(CNN), cpu)
    assert not should_compile("on", build_model(CNN), torch.device("mps"))


def _steps(step_class, batches):
    """Two seeds of the small CNN, each on its own batches: after each step,
    the losses, the step, the parameters and the Adam state."""
    models = _models(SMALL_CNN, [0, 1])
    params = [p for model in models for p in model.parameters()]
    optimizer = torch.optim.Adam(params, lr=1e-3, fused=True)
    step = step_class(models, optimizer)
    for x, y in batches:
        yield step([x, x.flip(0)], [y, y.flip(0)]), step, params, optimizer.state


@pytest.mark.slow
def test_compiled_steps_are_the_eager_steps_to_rounding():
    # The ragged batch in between takes the eager step, on the same Adam state.
    x, y = _digits(40, 0)
    batches = [(x[:16], y[:16]), (x[16:24], y[16:24]), (x[24:], y[24:])]
    runs = zip(_steps(TrainStep, batches), _steps(CompiledStep, batches), strict=True)
    for count, (eager, compiled) in enumerate(runs, 1):
        (eager_losses, _, eager_params, eager_state) = eager
        (losses, step, params, state) = compiled
        assert torch.allclose(losses, eager_losses, rtol=0, atol=STEP_TOLERANCE)
        for p, q in zip(eager_params, params, strict=True):
            assert (p - q).abs().max().item() < STEP_TOLERANCE
            for key in ("exp_avg", "exp_avg_sq"):
                difference = eager_state[p][key] - state[q][key]
                assert difference.abs().max().item() < STEP_TOLERANCE
            assert state[q]["step"].item() == count
    assert step.path == "compiled" and step.compile_seconds > 0


@pytest.fixture(scope="module")
def cnn_runs():
    """Two seeds of a small CNN trained eagerly and compiled (twice)."""
    data = _digits(640, 0), _digits(200, 1)
    config = TrainingConfig(
        epochs=2, batch_size=16, lr=3e-3, device="cpu", seeds=2, schedule="onecycle"
    )
    return {
        mode: train(SMALL_CNN, *data, config.with_overrides({"compile": mode}))
        for mode in ("off", "on")
    } | {"again": train(SMALL_CNN, *data, config.with_overrides({"compile": "on"}))}


@pytest.mark.slow
def test_compiled_training_agrees_with_eager_training(cnn_runs):
    eager, compiled = cnn_runs["off"], cnn_runs["on"]
    assert (eager.step, compiled.step) == ("eager", "compiled")
    assert compiled.compile_seconds > 0 and eager.compile_seconds == 0
    for a_history, b_history in zip(eager.histories, compiled.histories, strict=True):
        for a, b in zip(a_history, b_history, strict=True):
            assert b.train_loss == pytest.approx(a.train_loss, abs=LOSS_TOLERANCE)
            assert b.val_loss == pytest.approx(a.val_loss, abs=LOSS_TOLERANCE)
            assert b.val_accuracy == pytest.approx(a.val_accuracy, abs=0.02)
    # the trained CNN keeps its nn.Conv2d parameters (checkpoints unchanged)
    for eager_model, model in zip(eager.models, compiled.models, strict=True):
        assert type(model) is type(eager_model)
        assert [(k, v.shape) for k, v in model.state_dict().items()] == [
            (k, v.shape) for k, v in eager_model.state_dict().items()
        ]


@pytest.mark.slow
def test_reruns_of_the_compiled_step_are_bit_identical(cnn_runs):
    first, again = cnn_runs["on"], cnn_runs["again"]
    for a, b in zip(first.models, again.models, strict=True):
        for p, q in zip(a.parameters(), b.parameters(), strict=True):
            assert torch.equal(p, q)
    numbers = [
        [(r.epoch, r.train_loss, r.val_loss, r.val_accuracy) for r in history]
        for run in (first, again)
        for history in run.histories
    ]
    assert numbers[:2] == numbers[2:]


@pytest.mark.slow
def test_a_model_without_convolutions_compiles_with_its_own_forward():
    points = torch.randn(320, 2) * 6
    data = (points, (points.norm(dim=1) > 6).long())
    config = TrainingConfig(epochs=3, batch_size=16, lr=1e-2, device="cpu")
    mlp = ModelConfig(name="mlp", in_features=2, out_features=1, hidden_sizes=[16])
    eager = train(mlp, data, data, config.with_overrides({"compile": "off"}))
    compiled = train(mlp, data, data, config.with_overrides({"compile": "on"}))
    assert compiled.step == "compiled"
    for a, b in zip(eager.histories[0], compiled.histories[0], strict=True):
        assert b.train_loss == pytest.approx(a.train_loss, abs=LOSS_TOLERANCE)
        assert b.val_accuracy == pytest.approx(a.val_accuracy, abs=2 / 320)


@pytest.mark.slow
def test_without_a_cpp_compiler_training_falls_back_to_eager_with_a_warning(
    tmp_path,
):
    # A fresh process with an empty compile cache and no C++ compiler.
    code = textwrap.dedent(
        """
        import logging, torch
        from pytorch_intro.models import ModelConfig
        from pytorch_intro.training import TrainingConfig, train
        logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
        x = torch.rand(64, 1, 28, 28) * 2 - 1
        y = torch.randint(0, 10, (64,))
        model = ModelConfig(name="cnn", out_features=10, in_channels=1,
                            channels=[4, 8], kernel_size=3)
        config = TrainingConfig(epochs=1, batch_size=16, lr=1e-3, device="cpu",
                                compile="on")
        run = train(model, (x, y), (x, y), config)
        print("STEP", run.step)
        print("ACCURACY", run.histories[0][-1].val_accuracy)
        """
    )
    env = os.environ | {
        "TORCHINDUCTOR_CACHE_DIR": str(tmp_path / "cache"),
        "CXX": str(tmp_path / "no-such-compiler"),
        "PATH": str(tmp_path),  # no c++, g++ or clang++ to find either
    }
    done = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "STEP eager (compile failed: " in done.stdout
    warnings = [line for line in done.stderr.splitlines() if line.startswith("WARNING")]
    assert len(warnings) == 1, done.stderr[-3000:]
    assert "training.compile: the compiled step failed, training eagerly" in warnings[0]
