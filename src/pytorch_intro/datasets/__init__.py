"""Custom Kedro datasets."""

from pytorch_intro.datasets.mnist import MNISTDataset, MNISTSubsetDataset
from pytorch_intro.datasets.point_set import PointSetDataset
from pytorch_intro.datasets.torch_model import TorchModelDataset

__all__ = [
    "MNISTDataset",
    "MNISTSubsetDataset",
    "PointSetDataset",
    "TorchModelDataset",
]
