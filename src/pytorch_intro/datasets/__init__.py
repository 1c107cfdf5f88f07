"""Custom Kedro datasets."""

from pytorch_intro.datasets.figure import FigureDataset
from pytorch_intro.datasets.mlflow_model import MLflowModelDataset
from pytorch_intro.datasets.mnist import MNISTDataset, MNISTSubsetDataset
from pytorch_intro.datasets.point_set import PointSetDataset
from pytorch_intro.datasets.results import ResultsDataset
from pytorch_intro.datasets.run_identity import RunIdentityDataset
from pytorch_intro.datasets.servable import ServableDataset
from pytorch_intro.datasets.torch_model import TorchModelDataset

__all__ = [
    "FigureDataset",
    "MLflowModelDataset",
    "MNISTDataset",
    "MNISTSubsetDataset",
    "PointSetDataset",
    "ResultsDataset",
    "RunIdentityDataset",
    "ServableDataset",
    "TorchModelDataset",
]
