"""A versioned Kedro dataset for servable models: the exported network and an example."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from kedro.io import DatasetError
from kedro_datasets._typing import JSONPreview

from pytorch_intro.datasets.local import LocalVersionedDataset
from pytorch_intro.internals import load_path, save_path
from pytorch_intro.serving import Servable, load_program, save_program

PROGRAM, EXAMPLE, ABOUT = "program.pt2", "input_example.npy", "servable.json"


def describe_servable(folder: Path) -> dict[str, Any]:
    """What a servable model's folder says of it, without loading its network:
    ``input_example``, ``kind`` and ``classes``."""
    about = json.loads((folder / ABOUT).read_text())
    example = np.load(folder / EXAMPLE, allow_pickle=False)
    return {
        "input_example": example,
        "kind": about["kind"],
        "classes": about["classes"],
    }


class ServableDataset(LocalVersionedDataset[Servable]):
    """A servable model in a folder: ``program.pt2`` (``torch.export``), the input
    example (``.npy``, no pickle) and what the model is; written beside its final
    place and renamed into it, so a reader never sees half a model."""

    def load(self) -> Servable:
        folder = Path(load_path(self))
        if not folder.is_dir():
            raise DatasetError(f"{folder}: no servable model there")
        # the network loads without unpickling
        return Servable(
            program=load_program(folder / PROGRAM), **describe_servable(folder)
        )

    def save(self, data: Servable) -> None:
        folder = Path(save_path(self))
        folder.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}."))
        try:
            save_program(data.program, staging / PROGRAM)
            np.save(staging / EXAMPLE, data.input_example, allow_pickle=False)
            about = dict(kind=data.kind, classes=data.classes)
            (staging / ABOUT).write_text(json.dumps(about))
            staging.rename(folder)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise

    def preview(self) -> JSONPreview:
        """Kedro-Viz's preview: what the model takes and gives, its parameter
        count and each parameter's shape; ``None`` while no version is saved."""
        if not self.exists():
            return None
        servable = self.load()
        parameters = dict(servable.program.named_parameters())
        return JSONPreview(
            json.dumps(
                {
                    "kind": servable.kind,
                    "input_shape": ["batch", *servable.input_example.shape[1:]],
                    "classes": servable.classes,
                    "parameters": sum(p.numel() for p in parameters.values()),
                    "shapes": {name: list(p.shape) for name, p in parameters.items()},
                }
            )
        )
