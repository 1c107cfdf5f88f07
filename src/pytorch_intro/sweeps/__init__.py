"""Sweeps: many points of a variant's pipeline on a Dask cluster (``kedro sweep``).

Only :mod:`pytorch_intro.sweeps.command` imports Dask. The names below are what a
sweep and the project's MLflow hooks (``pytorch_intro.hooks``) agree on.
"""

import os
import socket

#: Set while a point runs: its MLflow run is the point's.
POINT_ENV = "PYTORCH_INTRO_SWEEP_POINT"
#: Set with it (``kedro sweep --log-models``): the point logs its MLflow model.
LOG_MODELS_ENV = "PYTORCH_INTRO_SWEEP_LOG_MODELS"
#: The host and process recording a run: how runs left RUNNING by a dead process
#: are found (``pytorch_intro.hooks.orphans``).
HOST_TAG, PID_TAG = "pytorch_intro.host", "pytorch_intro.pid"


def process_tags() -> dict[str, str]:
    """The tags naming this process (see ``HOST_TAG``, ``PID_TAG``)."""
    return {HOST_TAG: socket.gethostname(), PID_TAG: str(os.getpid())}
