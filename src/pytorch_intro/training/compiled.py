"""The whole training step compiled: forward, backward and Adam in one graph.

At batch 16 these models are bound by per-call overhead, not arithmetic; the
CNN's time goes to oneDNN's and the pooling kernels' fixed costs on 8-channel
tensors. Compiled as ONE function (``torch.compile(fullgraph=True)``) with

- the copies' parameters, ``exp_avg`` and ``exp_avg_sq`` each in one flat
  buffer (one Adam loop, few inputs for the guards to check),
- gradients by ``torch.func.grad_and_value`` of a functional forward,
- the update by ``torch.optim.adam.adam`` (torch.optim's own functional Adam),
- for the CNN, convolutions as im2col + matrix products on NHWC tensors
  (:func:`gemm_forward`), which inductor fuses with their neighbours,

a CNN step takes about a third of the eager one (benchmarks/README.md). The
modules keep their ``nn.Conv2d``/``nn.Linear`` parameters: :meth:`sync` copies
the flat buffers back into them (and into ``torch.optim.Adam``'s state), so
evaluation, checkpoints and the eager step see the same numbers.

The eager step (:class:`~pytorch_intro.training.step.TrainStep`) is the
reference: the compiled one agrees with it to float rounding (not bit for bit;
tests/test_compiled.py states the tolerance), and reruns of it are
bit-identical.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.func import functional_call, grad_and_value
from torch.optim.adam import adam

from pytorch_intro.training.copies import ModelCopies, Params
from pytorch_intro.training.objectives import Objective
from pytorch_intro.training.step import AdamState, TrainStep

logger = logging.getLogger(__name__)

#: Inductor settings for the CPU: the C++ wrapper calls the kernels without
#: Python in between, and 256-bit vectors let 8-channel tensors vectorise.
CPU_OPTIONS = {"cpp_wrapper": True, "cpp.simdlen": 256}

Forward = Callable[[Params, Tensor], Tensor]


class CompileError(RuntimeError):
    """The step could not be compiled here (the message says why)."""


# --- the CNN as matrix products ------------------------------------------------


def _conv_nhwc(x: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
    """A stride-1, unpadded convolution of (B, H, W, C) by an ``nn.Conv2d``
    weight (O, C, kh, kw): shifted slices side by side, then one matmul."""
    _, height, width, channels = x.shape
    kh, kw = weight.shape[2:]
    rows, cols = height - kh + 1, width - kw + 1
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


def _plain_conv(layer: nn.Module) -> bool:
    return (
        isinstance(layer, nn.Conv2d)
        and layer.stride == (1, 1)
        and layer.padding == (0, 0)
        and layer.dilation == (1, 1)
        and layer.groups == 1
        and layer.padding_mode == "zeros"
    )


def _pool2(layer: nn.Module) -> bool:
    return (
        isinstance(layer, nn.MaxPool2d)
        and layer.kernel_size in (2, (2, 2))
        and layer.stride in (2, (2, 2))
        and layer.padding in (0, (0, 0))
        and layer.dilation in (1, (1, 1))
        and not layer.ceil_mode
    )


def _global_max(layer: nn.Module) -> bool:
    return isinstance(layer, nn.AdaptiveMaxPool2d) and layer.output_size in (1, (1, 1))


def _plan(model: nn.Module) -> tuple[tuple[str, ...], ...] | None:
    """The CNN as a list of plain steps (no modules: cheap for Dynamo's guards),
    e.g. ``("conv", "layers.0.weight", "layers.0.bias")``, ``("relu",)``."""
    layers = getattr(model, "layers", None)
    classifier = getattr(model, "classifier", None)
    if not isinstance(layers, nn.Sequential) or not isinstance(
        classifier, nn.Sequential
    ):
        return None
    body, head = list(layers.named_children()), list(classifier.named_children())
    if not body or not _global_max(body[-1][1]):
        return None
    plan: list[tuple[str, ...]] = []
    for prefix, part in (("layers", body[:-1]), ("classifier", head)):
        for name, layer in part:
            if prefix == "layers" and _plain_conv(layer):
                plan.append(
                    ("conv", f"{prefix}.{name}.weight", f"{prefix}.{name}.bias")
                )
            elif prefix == "layers" and _pool2(layer):
                plan.append(("pool",))
            elif isinstance(layer, nn.ReLU):
                plan.append(("relu",))
            elif prefix == "classifier" and isinstance(layer, nn.Linear):
                plan.append(
                    ("linear", f"{prefix}.{name}.weight", f"{prefix}.{name}.bias")
                )
            else:
                return None
        if prefix == "layers":
            plan.append(("global_max",))
    return tuple(plan)


def gemm_forward(model: nn.Module) -> Forward | None:
    """The model's forward with convolutions as matrix products, or None.

    For a model whose ``layers`` are stride-1 unpadded ``Conv2d``, ``ReLU``,
    2x2 ``MaxPool2d`` and a final ``AdaptiveMaxPool2d(1)``, and whose
    ``classifier`` is ``Linear``/``ReLU`` layers (the project's CNN), the
    returned function computes the same logits from a parameter dict (the
    model's own names and ``nn.Conv2d`` shapes) on NHWC tensors.
    """
    plan = _plan(model)
    if plan is None:
        return None

    def forward(params: Params, x: Tensor) -> Tensor:
        if x.dim() == 3:  # (B, H, W): a single channel
            x = x.unsqueeze(1)
        h = x.permute(0, 2, 3, 1)  # NCHW -> NHWC (a view of channels-last memory)
        for op, *names in plan:
            if op == "conv":
                h = _conv_nhwc(h, params[names[0]], params.get(names[1]))
            elif op == "relu":
                h = torch.relu(h)
            elif op == "pool":
                h = _max_pool2_nhwc(h)
            elif op == "global_max":
                h = h.amax(dim=(1, 2))
            else:
                h = F.linear(h, params[names[0]], params.get(names[1]))
        return h

    return forward


def module_forward(model: nn.Module) -> Forward:
    """The model's own forward, from a parameter dict (``functional_call``)."""
    architecture = model

    def forward(params: Params, x: Tensor) -> Tensor:
        return functional_call(architecture, params, (x,))

    return forward


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


class CompiledStep:
    """The training step of every copy as one compiled function.

    Called like :class:`~pytorch_intro.training.step.TrainStep` (the
    ``params``/``state`` arguments are the copies' parameters and Adam state,
    which this step keeps in flat buffers and writes back on :meth:`sync`).
    The first call compiles; :class:`CompileError` says why when it cannot.
    """

    def __init__(
        self,
        copies: ModelCopies,
        objective: Objective,
        optimizer: torch.optim.Adam,
        state: AdamState,
        device: torch.device,
        eager: TrainStep,
    ) -> None:
        (self.group,) = optimizer.param_groups
        self.eager = eager
        self.params = copies.parameters()
        self.state = state
        self.shapes = [p.shape for p in copies.models[0].parameters()]
        self.names = copies.names
        model = copies.models[0]
        forward = gemm_forward(model) or module_forward(model)
        self.uses_gemm = gemm_forward(model) is not None
        count, sizes = len(copies), [p.numel() for p in model.parameters()]

        def unflatten(flat: Tensor) -> list[Params]:
            pieces = flat.split(sizes * count)
            return [
                {
                    name: piece.view(shape)
                    for name, piece, shape in zip(
                        self.names,
                        pieces[k * len(sizes) : (k + 1) * len(sizes)],
                        self.shapes,
                        strict=True,
                    )
                }
                for k in range(count)
            ]

        def losses(flat: Tensor, inputs: Sequence[Tensor], labels: Sequence[Tensor]):
            per_copy = torch.stack(
                [
                    objective.loss(forward(params, x), y)
                    for params, x, y in zip(
                        unflatten(flat), inputs, labels, strict=True
                    )
                ]
            )
            return per_copy.sum(), per_copy.detach()

        betas, eps = self.group["betas"], self.group["eps"]

        def step(flat, exp_avg, exp_avg_sq, steps, lr, inputs, labels):
            grad, (_, per_copy) = grad_and_value(losses, has_aux=True)(
                flat, inputs, labels
            )
            with torch.no_grad():
                adam(
                    [flat],
                    [grad],
                    [exp_avg],
                    [exp_avg_sq],
                    [],
                    [steps],
                    foreach=False,
                    capturable=False,
                    amsgrad=False,
                    beta1=betas[0],
                    beta2=betas[1],
                    lr=lr,
                    weight_decay=0.0,
                    eps=eps,
                    maximize=False,
                )
            return per_copy

        # Each step is a new closure of one code object: start from a clean
        # Dynamo state so that many trainings in one process never reach its
        # recompile limit (the compile cache on disk is kept).
        torch.compiler.reset()
        if device.type == "cuda":  # CUDA graphs: one launch per step
            self._step = torch.compile(step, fullgraph=True, mode="reduce-overhead")
        else:
            self._step = torch.compile(step, fullgraph=True, options=CPU_OPTIONS)
        self.flat = _flatten(self.params)
        self.exp_avg = _flatten(state.exp_avgs)
        self.exp_avg_sq = _flatten(state.exp_avg_sqs)
        self.steps = state.steps[0].detach().clone().to(self.flat.device)
        self.lr = torch.tensor(float(self.group["lr"]), device=self.flat.device)
        self.compiled, self.shape = False, torch.Size()

    def __call__(
        self,
        params: list[Tensor],
        state: AdamState,
        lr: float | Tensor,
        inputs: Sequence[Tensor],
        labels: Sequence[Tensor],
    ) -> Tensor:
        """One compiled step; returns the (N,) batch losses.

        Once compiled, batches of the first batch's shape skip Dynamo's guard
        checks (``torch.compiler.set_stance``): nothing else about the inputs
        changes from step to step, and a step at batch 16 is short enough for
        the checks to cost a tenth of it. A batch of another shape (the ragged
        last one of an epoch) takes the eager step instead of a second compile.
        """
        if self.compiled and inputs[0].shape != self.shape:
            self.sync()
            losses = self.eager(params, state, lr, inputs, labels)
            self._load()
            return losses
        self.lr.fill_(lr)
        if self.compiled:
            with torch.compiler.set_stance(skip_guard_eval_unsafe=True):
                return self._call(inputs, labels)
        losses = self._checked_call(inputs, labels)
        self.compiled, self.shape = True, inputs[0].shape
        return losses

    def _checked_call(self, inputs: Sequence[Tensor], labels: Sequence[Tensor]):
        try:
            return self._call(inputs, labels)
        except Exception as error:  # inductor, a compiler, an unsupported op
            raise CompileError(_reason(error)) from error

    def _call(self, inputs: Sequence[Tensor], labels: Sequence[Tensor]) -> Tensor:
        return self._step(
            self.flat,
            self.exp_avg,
            self.exp_avg_sq,
            self.steps,
            self.lr,
            list(inputs),
            list(labels),
        )

    @torch.no_grad()
    def _load(self) -> None:
        """Fill the flat buffers from the modules and the Adam state."""
        self.flat.copy_(_flatten(self.params))
        self.exp_avg.copy_(_flatten(self.state.exp_avgs))
        self.exp_avg_sq.copy_(_flatten(self.state.exp_avg_sqs))
        self.steps.copy_(self.state.steps[0])

    @torch.no_grad()
    def sync(self) -> None:
        """Write the flat buffers back into the modules and the Adam state."""
        for flat, tensors in (
            (self.flat, self.params),
            (self.exp_avg, self.state.exp_avgs),
            (self.exp_avg_sq, self.state.exp_avg_sqs),
        ):
            pieces = flat.split([t.numel() for t in tensors])
            for tensor, piece in zip(tensors, pieces, strict=True):
                tensor.copy_(piece.view(tensor.shape))  # keeps the tensor's layout
        for step in self.state.steps:
            step.copy_(self.steps)


@torch.no_grad()
def _flatten(tensors: Sequence[Tensor]) -> Tensor:
    """One new contiguous buffer holding ``tensors`` (in any memory layout)."""
    return torch.cat([t.reshape(-1) for t in tensors])


def _reason(error: BaseException) -> str:
    """The first line of the innermost error: what a user can act on."""
    while error.__cause__ is not None:
        error = error.__cause__
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}".rstrip(": ")
