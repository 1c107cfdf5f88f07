"""The whole training step compiled: forward, backward and Adam in one graph.

At batch 16 these models are bound by per-call overhead, not arithmetic; the
CNN's time goes to oneDNN's and the pooling kernels' fixed costs on 8-channel
tensors. Compiled as ONE function (``torch.compile(fullgraph=True)``) with

- the copies' parameters, ``exp_avg`` and ``exp_avg_sq`` each in one flat
  buffer (one Adam loop, few inputs for the guards to check),
- gradients by ``torch.func.grad`` of a functional forward,
- the update by ``torch.optim.adam.adam`` (torch.optim's own functional Adam),
- for a CNN, convolutions as im2col + matrix products on NHWC tensors
  (:func:`gemm_forward`; a one-channel 3x3 one as a weighted sum), which
  inductor fuses with their neighbours,

a CNN step takes about 40% of the eager one (0.68 against 1.64 ms on a 2-vCPU
AMD EPYC; benchmarks/README.md). The
modules' parameters and ``torch.optim.Adam``'s state become views of the flat
buffers, so evaluation, checkpoints and the eager step (which takes the batches
the compiled one does not) always see the same numbers.

The eager step (:class:`~pytorch_intro.training.step.TrainStep`) is the
reference: the compiled one agrees with it to float rounding (not bit for bit;
tests/test_compiled.py states the tolerance), and reruns of it are
bit-identical.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.func import functional_call
from torch.optim.adam import adam

from pytorch_intro.training.objectives import classification_loss
from pytorch_intro.training.step import TrainStep

logger = logging.getLogger(__name__)

#: Inductor settings for the CPU: the C++ wrapper calls the kernels without
#: Python in between, and 256-bit vectors let 8-channel tensors vectorise.
CPU_OPTIONS = {"cpp_wrapper": True, "cpp.simdlen": 256}

Params = dict[str, Tensor]
Forward = Callable[[Params, Tensor], Tensor]


# --- the CNN as matrix products ------------------------------------------------


#: Below this many products per output (kh * kw * C), a convolution is a
#: weighted sum of shifted slices, which inductor fuses into one loop: a
#: matrix product that short (the first layer's 3x3x1) runs at a few GFLOP/s
#: in the BLAS, and took 40% of the CNN's step (benchmarks/README.md).
SHORT_REDUCTION = 16


def _conv_nhwc(x: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
    """A stride-1, unpadded convolution of (B, H, W, C) by an ``nn.Conv2d``
    weight (O, C, kh, kw): shifted slices side by side, then one matmul (or,
    for a short reduction, the slices' weighted sum)."""
    _, height, width, channels = x.shape
    kh, kw = weight.shape[2:]
    rows, cols = height - kh + 1, width - kw + 1
    if kh * kw * channels < SHORT_REDUCTION:
        out = sum(
            x[:, i : i + rows, j : j + cols, c : c + 1] * weight[:, c, i, j]
            for i in range(kh)
            for j in range(kw)
            for c in range(channels)
        )
    else:
        patches = torch.cat(
            [x[:, i : i + rows, j : j + cols, :] for i in range(kh) for j in range(kw)],
            dim=-1,
        )
        out = patches @ weight.permute(2, 3, 1, 0).reshape(kh * kw * channels, -1)
    return out if bias is None else out + bias


def _max_pool2_nhwc(x: Tensor) -> Tensor:
    """2x2 max pooling, stride 2, of (B, H, W, C): the max of four strided views
    (its backward is pointwise, unlike a reduction's)."""
    rows, cols = 2 * (x.shape[1] // 2), 2 * (x.shape[2] // 2)
    return torch.maximum(
        torch.maximum(x[:, 0:rows:2, 0:cols:2], x[:, 0:rows:2, 1:cols:2]),
        torch.maximum(x[:, 1:rows:2, 0:cols:2], x[:, 1:rows:2, 1:cols:2]),
    )


def _pair(value: int | tuple[int, ...]) -> tuple[int, ...]:
    return value if isinstance(value, tuple) else (value, value)


def _op(layer: nn.Module) -> str | None:
    """The NHWC operation that computes what ``layer`` does, if there is one."""
    if isinstance(layer, nn.Conv2d):
        plain = (layer.stride, layer.padding, layer.dilation, layer.groups)
        return "conv" if plain == ((1, 1), (0, 0), (1, 1), 1) else None
    if isinstance(layer, nn.MaxPool2d) and not layer.ceil_mode:
        pool = (layer.kernel_size, layer.stride, layer.padding, layer.dilation)
        return (
            "pool"
            if tuple(map(_pair, pool)) == ((2, 2), (2, 2), (0, 0), (1, 1))
            else None
        )
    if isinstance(layer, nn.AdaptiveMaxPool2d):
        return "global_max" if _pair(layer.output_size) == (1, 1) else None
    return {nn.ReLU: "relu", nn.Linear: "linear"}.get(type(layer))


def gemm_forward(model: nn.Module, example: Tensor) -> Forward | None:
    """The model's forward with convolutions as matrix products, or None.

    The model's structure is its leaf modules in the order it defines them;
    when they are stride-1 unpadded ``Conv2d``, ``ReLU``, 2x2 ``MaxPool2d``,
    ``AdaptiveMaxPool2d(1)`` and ``Linear`` layers, starting with a convolution
    (the project's CNN), the returned function computes the logits from a
    parameter dict (the model's own names and ``nn.Conv2d`` shapes) on NHWC
    tensors. It is used only if it gives the model's logits for ``example``:
    a forward that is not the chain of its layers keeps its own.
    """
    plan = []
    for name, layer in model.named_modules():
        if next(layer.children(), None) is None:  # a leaf: not a container
            plan.append((_op(layer), f"{name}.weight", f"{name}.bias"))
    if not plan or plan[0][0] != "conv" or any(op is None for op, *_ in plan):
        return None

    def forward(params: Params, x: Tensor) -> Tensor:
        if x.dim() == 3:  # (B, H, W): a single channel
            x = x.unsqueeze(1)
        h = x.permute(0, 2, 3, 1)  # NCHW -> NHWC (a view of channels-last memory)
        for op, weight, bias in plan:
            if op == "conv":
                h = _conv_nhwc(h, params[weight], params.get(bias))
            elif op == "linear":
                h = F.linear(h, params[weight], params.get(bias))
            elif op == "relu":
                h = torch.relu(h)
            elif op == "pool":
                h = _max_pool2_nhwc(h)
            else:
                h = h.amax(dim=(1, 2))
        return h

    with torch.no_grad():
        logits = forward(dict(model.named_parameters()), example)
        return forward if torch.allclose(logits, model(example), atol=1e-5) else None


# --- when to compile ------------------------------------------------------------


def should_compile(mode: str, model: nn.Module, device: torch.device) -> bool:
    """``on``: always; ``off``: never; ``auto``: where the compiled step pays
    for its compile time in a default run (measured in benchmarks/): models
    with convolutions, on the CPU or CUDA."""
    if mode == "off" or device.type not in ("cpu", "cuda"):
        return False
    return mode == "on" or any(isinstance(m, nn.Conv2d) for m in model.modules())


def use_compile_cache(folder: str | None) -> None:
    """Keep inductor's compile cache in ``folder`` (unless the environment
    already names one), so that the next run finds what this one compiled."""
    if folder and "TORCHINDUCTOR_CACHE_DIR" not in os.environ:
        path = Path(folder).expanduser().resolve()
        path.mkdir(parents=True, exist_ok=True)
        os.environ["TORCHINDUCTOR_CACHE_DIR"] = str(path)


# --- the compiled step ------------------------------------------------------------


class CompiledStep(TrainStep):
    """The training step of every copy as one compiled function.

    Made and called like :class:`~pytorch_intro.training.step.TrainStep`,
    whose eager step it takes for a batch of another shape than the first (the
    ragged last one of an epoch: not worth a second compile), and for good,
    with a warning, when compiling fails here (``path`` says why). The first
    call compiles; it takes ``compile_seconds``.
    """

    def __init__(
        self, models: Sequence[nn.Module], optimizer: torch.optim.Adam
    ) -> None:
        super().__init__(models, optimizer)
        (self.group,) = optimizer.param_groups
        params = self.group["params"]
        with torch.no_grad():  # in the modules' logical order, whatever their layout
            flat = torch.cat([p.reshape(-1) for p in params])
        self.buffers = (flat, torch.zeros_like(flat), torch.zeros_like(flat))
        on_device = self.group["fused"] or self.group["capturable"]
        pieces = (buffer.split([p.numel() for p in params]) for buffer in self.buffers)
        for p, value, exp_avg, exp_avg_sq in zip(params, *pieces, strict=True):
            p.data = value.view(p.shape)
            optimizer.state[p] = {  # as torch.optim.Adam initialises it
                "step": torch.zeros((), device=p.device if on_device else "cpu"),
                "exp_avg": exp_avg.view(p.shape),
                "exp_avg_sq": exp_avg_sq.view(p.shape),
            }
        self.steps = [optimizer.state[p]["step"] for p in params]
        self.lr = torch.tensor(0.0, device=flat.device)
        self.path, self.shape, self._step = "compiled", None, None

    def __call__(self, inputs: Sequence[Tensor], labels: Sequence[Tensor]) -> Tensor:
        """One step; returns the (N,) batch losses.

        Once compiled, batches of the first batch's shape skip Dynamo's guard
        checks (``torch.compiler.set_stance``): nothing else about the inputs
        changes from step to step, and a step at batch 16 is short enough for
        the checks to cost a tenth of it.
        """
        if self.path == "compiled" and self.shape is None:
            return self._compile(inputs, labels)
        if self.path == "compiled" and inputs[0].shape == self.shape:
            with torch.compiler.set_stance(skip_guard_eval_unsafe=True):
                return self._run(inputs, labels)
        return super().__call__(inputs, labels)

    def _compile(self, inputs: Sequence[Tensor], labels: Sequence[Tensor]) -> Tensor:
        started = time.perf_counter()
        try:
            self._step = self._make(inputs[0])
            losses = self._run(inputs, labels)
        except Exception as error:  # inductor, a compiler, an unsupported op
            self.path = f"eager (compile failed: {_reason(error)})"
            logger.warning(
                "training.compile: the compiled step failed, training eagerly: %s",
                _reason(error),
            )
            return super().__call__(inputs, labels)
        self.shape = inputs[0].shape
        self.compile_seconds = time.perf_counter() - started
        return losses

    def _run(self, inputs: Sequence[Tensor], labels: Sequence[Tensor]) -> Tensor:
        self.lr.fill_(self.group["lr"])  # a tensor: the schedule recompiles nothing
        return self._step(
            *self.buffers, self.steps, self.lr, list(inputs), list(labels)
        )

    def _make(self, example: Tensor) -> Callable[..., Tensor]:
        """The step as one compiled function of the flat buffers and a batch."""
        model = self.models[0]
        # else the model's own forward, from a parameter dict
        forward = gemm_forward(model, example) or partial(functional_call, model)
        names = [name for name, _ in model.named_parameters()]
        shapes = [p.shape for p in model.parameters()] * len(self.models)
        count = len(names)
        sizes, group = [shape.numel() for shape in shapes], self.group

        def losses(flat: Tensor, inputs: list[Tensor], labels: list[Tensor]):
            views = [p.view(s) for p, s in zip(flat.split(sizes), shapes, strict=True)]
            per_copy = torch.stack(
                [
                    classification_loss(
                        forward(dict(zip(names, views[k * count :], strict=False)), x),
                        y,
                    )
                    for k, (x, y) in enumerate(zip(inputs, labels, strict=True))
                ]
            )
            return per_copy.sum(), per_copy.detach()

        def step(flat, exp_avg, exp_avg_sq, steps, lr, inputs, labels):
            grad, per_copy = torch.func.grad(losses, has_aux=True)(flat, inputs, labels)
            with torch.no_grad():
                adam(
                    [flat],
                    [grad],
                    [exp_avg],
                    [exp_avg_sq],
                    [],
                    steps[:1],
                    foreach=False,
                    capturable=False,
                    amsgrad=False,
                    beta1=group["betas"][0],
                    beta2=group["betas"][1],
                    lr=lr,
                    weight_decay=group["weight_decay"],
                    eps=group["eps"],
                    maximize=False,
                )
                for other in steps[1:]:  # every parameter's count, as Adam keeps it
                    other.copy_(steps[0])
            return per_copy

        # Each step is a new closure of one code object: start from a clean
        # Dynamo state so that many trainings in one process never reach its
        # recompile limit (the compile cache on disk is kept).
        torch.compiler.reset()
        if self.lr.device.type == "cuda":  # CUDA graphs: one launch per step
            return torch.compile(step, fullgraph=True, mode="reduce-overhead")
        return torch.compile(step, fullgraph=True, options=CPU_OPTIONS)


def _reason(error: BaseException) -> str:
    """The first line of the innermost error: what a user can act on."""
    while error.__cause__ is not None:
        error = error.__cause__
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}".rstrip(": ")
