"""The reports as a browser shows them: rendered by headless Chromium.

Chromium is a system package: `.ci/run` installs it and sets REQUIRE_CHROMIUM=1,
so in CI this test runs or fails; elsewhere it is skipped when Chromium is absent.
"""

import os
import re
from pathlib import Path
from urllib.parse import unquote

import numpy as np
import pytest
from markdown_it import MarkdownIt
from PIL import Image

from pytorch_intro.reporting.screenshot import (
    find_chromium,
    latest_report,
    open_page,
    screenshot,
)

pytestmark = pytest.mark.e2e

ORANGE = np.array([255, 127, 14])  # matplotlib's second line colour (tab:orange)


@pytest.fixture(scope="module")
def chromium():
    if find_chromium() is None:
        if os.environ.get("REQUIRE_CHROMIUM"):
            pytest.fail("REQUIRE_CHROMIUM is set but Chromium is not installed")
        pytest.skip("Chromium is not installed (Debian: apt-get install chromium)")


@pytest.mark.slow
def test_the_report_renders_with_its_figures(chromium, finished_project, tmp_path):
    page = latest_report(finished_project / "data/08_reporting/report.html")
    png = screenshot(page, tmp_path / "report.png", width=1280, height=2400)

    pixels = np.asarray(Image.open(png).convert("RGB")).astype(int)
    assert pixels.shape == (2400, 1280, 3)
    # text: dark pixels in the page's top band (title and run identity)
    top = pixels[:300]
    assert (top.sum(axis=2) < 200).mean() > 0.002
    # the overview figure, near the top, has drawn its coloured accuracy lines
    orange = (np.abs(pixels - ORANGE).sum(axis=2) < 60).sum()
    assert orange > 200, f"only {orange} orange pixels: figures not rendered"
    # the page is laid out in the centre column, not one long unwrapped line
    assert (pixels[:, :20] == pixels[0, 0]).all()


def _images_shown(page: Path) -> list[list]:
    """Each image of the page as Chromium shows it: alt text and natural size
    (0 x 0: not shown)."""
    with open_page(page) as tab:
        return tab.evaluate(
            "[...document.images].map(i => [i.alt, i.naturalWidth, i.naturalHeight])"
        )


@pytest.mark.slow
def test_the_markdown_and_the_page_show_the_same_figures(
    chromium, finished_project, tmp_path
):
    reports = finished_project / "data/08_reporting"
    markdown = latest_report(reports / "report.md")
    text = markdown.read_text(encoding="utf-8")
    assert "data:" not in text  # figures referred to, not embedded
    paths = [unquote(p) for p in re.findall(r"^\[figure-\d+\]: (\S+)$", text, re.M)]
    for path in paths:
        assert not Path(path).is_absolute()
        assert (markdown.parent / path).read_bytes().startswith(b"\x89PNG")
    # the Markdown as a viewer shows it: its paths relative to its own folder
    rendered = tmp_path / "report.md.html"
    base = f'<base href="{markdown.parent.resolve().as_uri()}/">'
    rendered.write_text(base + MarkdownIt("commonmark").render(text), "utf-8")

    from_markdown = _images_shown(rendered)
    from_html = _images_shown(latest_report(reports / "report.html"))
    assert len(from_markdown) == len(paths) > 5
    assert all(width > 0 and height > 0 for _, width, height in from_html)
    assert from_markdown == from_html  # the same figures, in the same order


def test_missing_page_or_browser_gives_a_clear_error(tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError, match="no report yet"):
        latest_report(tmp_path / "report.html")
    page = tmp_path / "report.html"
    page.write_text("<p>report</p>")
    monkeypatch.setenv("CHROMIUM", str(tmp_path / "no-such-browser"))
    with pytest.raises(FileNotFoundError, match="Chromium not found"):
        screenshot(page, tmp_path / "out.png")
