"""Custom Kedro datasets.

Those that hold data have Kedro-Viz's ``preview()`` (``kedro viz build
--include-previews``); the run identity, the prediction inputs' reader and the
MLflow models hold nothing on disk, and have none. Kedro-Viz 12.5 picks the
renderer by the name of the return annotation: kedro-datasets' ``TablePreview``
(``{"columns": [...], "data": [[...], ...]}``) or ``JSONPreview`` (a JSON string),
written exactly so (not ``| None``). It shows nothing for ``None``, which a
preview returns while nothing is saved yet.
"""

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
