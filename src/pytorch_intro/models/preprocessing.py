"""What becomes of a user's raw inputs before a network sees them, as modules.

The training data steps, evaluation and the exported servable all call these
(a servable holds one inside its network), so serving cannot drift from training.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn


class Normalize(nn.Module):
    """(N, H, W) grey values 0..255 -> (N, 1, H, W) float32 in [-1, 1]: x / 127.5 - 1."""

    def forward(self, images: Tensor) -> Tensor:
        return images.to(torch.float32).unsqueeze(1) / 127.5 - 1.0


class Polar(nn.Module):
    """(N, 2) points (x, y) -> (r, phi) in float64: r >= 0, phi in (-pi, pi]."""

    def forward(self, points: Tensor) -> Tensor:
        x, y = points.to(torch.float64).unbind(dim=1)
        return torch.stack([torch.hypot(x, y), torch.atan2(y, x)], dim=1)


#: A variant's input features -> the module that makes them from raw inputs.
FEATURES: dict[str, type[nn.Module]] = {
    "pixels": Normalize,
    "xy": nn.Identity,
    "polar": Polar,
}


@torch.inference_mode()
def preprocess(features: str, inputs: np.ndarray) -> np.ndarray:
    """Apply the ``features`` preprocessing to a NumPy array (training data steps)."""
    # torch wants a writable array (an IDX file's images are read-only views)
    array = np.require(inputs, requirements=["C_CONTIGUOUS", "WRITEABLE"])
    return FEATURES[features]()(torch.from_numpy(array)).numpy()
