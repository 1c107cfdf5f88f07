"""Project commands: Kedro's own, with ``kedro run`` on the project's runner.

Kedro reads this module (``<package>/cli.py``); its commands override Kedro's
of the same name. ``kedro run`` is Kedro's command unchanged, except that
without ``--runner`` it uses :class:`pytorch_intro.runner.VariantRunner`.
"""

from __future__ import annotations

from typing import Any

import click
from kedro.framework.cli.project import run as kedro_run

DEFAULT_RUNNER = "pytorch_intro.runner.VariantRunner"


@click.group(name="pytorch-intro")
def cli() -> None:
    """The project's commands."""


@cli.command(name="run", params=list(kedro_run.params), help=kedro_run.help)
def run(**options: Any) -> Any:
    options["runner"] = options.get("runner") or DEFAULT_RUNNER
    return kedro_run.callback(**options)
