"""Sweeps: many ``kedro run`` points on a Dask cluster (``kedro sweep <name>``).

Only ``kedro sweep`` imports Dask (:mod:`pytorch_intro.sweeps.command`); a plain
``kedro run`` never does.
"""

from pytorch_intro.sweeps.spec import Point, SweepSpec, expand, parse_sweep

#: Set in a point's ``kedro run``: its MLflow run is the point's (see
#: ``pytorch_intro.hooks.tracking``), named after the point.
POINT_ENV = "PYTORCH_INTRO_SWEEP_POINT"

__all__ = ["POINT_ENV", "Point", "SweepSpec", "expand", "parse_sweep"]
