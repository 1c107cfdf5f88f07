"""Render a report page to PNG with headless Chromium, to look at it.

    python -m pytorch_intro.reporting.screenshot [report.html] [out.png]

Without arguments: the latest ``data/08_reporting/report.html`` version, to
``build/report.png``. Needs Chromium (Debian: ``apt-get install chromium``),
driven by Playwright (the dev extra).
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from playwright.sync_api import Page

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
# What Playwright does not pass itself (it already turns off first-run work,
# background networking, updates and sync): the page is a local file.
FLAGS = ("--disable-gpu", "--disable-quic")


def find_chromium() -> str | None:
    """The Chromium executable: ``$CHROMIUM`` or the first browser on PATH."""
    if override := os.environ.get("CHROMIUM"):
        return override if os.access(override, os.X_OK) else None
    return next((path for name in BROWSERS if (path := shutil.which(name))), None)


@contextmanager
def open_page(page: Path, width: int = 1280, height: int = 4000) -> Iterator[Page]:
    """The local HTML file ``page`` loaded, its images too, in headless Chromium
    (a width x height viewport)."""
    from playwright.sync_api import sync_playwright  # noqa: PLC0415 - dev extra

    if (browser := find_chromium()) is None:
        raise FileNotFoundError(
            "Chromium not found: install it (Debian: apt-get install chromium) "
            "or set CHROMIUM to its executable"
        )
    if not Path(page).is_file():
        raise FileNotFoundError(f"{page}: no report page")
    with sync_playwright() as driver:
        chromium = driver.chromium.launch(executable_path=browser, args=FLAGS)
        try:
            tab = chromium.new_page(viewport={"width": width, "height": height})
            tab.goto(Path(page).resolve().as_uri())
            yield tab
        finally:
            chromium.close()


def screenshot(page: Path, output: Path, width: int = 1280, height: int = 4000) -> Path:
    """Render the local HTML file ``page`` into ``output`` (PNG, width x height)."""
    with open_page(page, width, height) as tab:
        tab.screenshot(path=output)  # makes the output's folder
    return Path(output)


def latest_report(folder: Path = Path("data/08_reporting/report.html")) -> Path:
    """The latest version of the versioned report page (or of ``report.md``)."""
    versions = sorted(folder.iterdir()) if folder.is_dir() else []
    if not versions:
        raise FileNotFoundError(f"{folder}: no report yet; run `kedro run` first")
    return versions[-1] / folder.name


if __name__ == "__main__":
    args = sys.argv[1:]
    try:
        page = Path(args[0]) if args else latest_report()
        output = Path(args[1]) if len(args) > 1 else Path("build/report.png")
        sys.stdout.write(f"{screenshot(page, output)}\n")
    except Exception as error:  # no browser, no page, or Playwright's error
        sys.exit(f"error: {error}")
