"""Render a report page to PNG with headless Chromium, to look at it.

    python -m pytorch_intro.reporting.screenshot [report.html] [out.png]

Without arguments: the latest ``data/08_reporting/report.html`` version, to
``build/report.png``. Needs Chromium (Debian: ``apt-get install chromium``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
# No first-run work and no background connections (the page is a local file).
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
)


def find_chromium() -> str | None:
    """The Chromium executable: ``$CHROMIUM`` or the first browser on PATH."""
    override = os.environ.get("CHROMIUM")
    if override:
        return override if os.access(override, os.X_OK) else None
    return next((path for name in BROWSERS if (path := shutil.which(name))), None)


def screenshot(page: Path, output: Path, width: int = 1280, height: int = 4000) -> Path:
    """Render the local HTML file ``page`` into ``output`` (PNG, width x height).

    Raises:
        FileNotFoundError: no Chromium, or no such page.
        RuntimeError: Chromium failed or wrote no image.
    """
    browser = find_chromium()
    if browser is None:
        raise FileNotFoundError(
            "Chromium not found: install it (Debian: apt-get install chromium) "
            "or set CHROMIUM to its executable"
        )
    page = Path(page).resolve()
    if not page.is_file():
        raise FileNotFoundError(f"{page}: no such report page")
    output = Path(output).resolve()
    output.parent.mkdir(parents=True, exist_ok=True)
    output.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory() as profile:
        done = subprocess.run(
            [
                browser,
                *FLAGS,
                f"--user-data-dir={profile}",
                f"--window-size={width},{height}",
                f"--screenshot={output}",
                page.as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    if done.returncode != 0 or not output.is_file():
        raise RuntimeError(
            f"Chromium could not render {page} (exit {done.returncode}): "
            f"{done.stderr.strip()[-500:]}"
        )
    return output


def latest_report(folder: Path = Path("data/08_reporting/report.html")) -> Path:
    """The latest version of the versioned report page."""
    versions = sorted(folder.iterdir()) if folder.is_dir() else []
    if not versions:
        raise FileNotFoundError(f"{folder}: no report yet; run `kedro run` first")
    return versions[-1] / "report.html"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    try:
        page = Path(args[0]) if args else latest_report()
        output = Path(args[1]) if len(args) > 1 else Path("build/report.png")
        sys.stdout.write(f"{screenshot(page, output)}\n")
    except (FileNotFoundError, RuntimeError) as error:
        sys.stderr.write(f"error: {error}\n")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
