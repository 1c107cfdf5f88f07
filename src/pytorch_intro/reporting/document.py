"""A small document model, written out as Markdown.

The report is built as a list of blocks and written once, as Markdown; the HTML
page is that Markdown rendered (:mod:`pytorch_intro.reporting.html`), so the two
files always say the same thing. Figures are PNG bytes, embedded as data URIs
defined at the end of the Markdown (reference-style, so the text stays
readable); a figure's largest width in the page is a ``{width=N}`` attribute.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pytorch_intro.reporting.results import RunIdentity


@dataclass(frozen=True)
class Heading:
    text: str
    level: int = 2


@dataclass(frozen=True)
class Paragraph:
    """Text with inline ``code`` (backticks) and **bold** (double asterisks)."""

    text: str


@dataclass(frozen=True)
class BulletList:
    items: Sequence[str]


@dataclass(frozen=True)
class Note:
    """A highlighted paragraph (e.g. a section that is missing)."""

    text: str


@dataclass(frozen=True)
class Table:
    columns: Sequence[str]
    rows: Sequence[Sequence[str]]
    align: str = ""  # one "l" or "r" per column; left when not given


@dataclass(frozen=True)
class Preformatted:
    """Verbatim text (e.g. a per-epoch listing)."""

    text: str


@dataclass(frozen=True)
class Image:
    png: bytes
    caption: str
    width: int | None = None  # largest width in the HTML page, in CSS pixels


@dataclass(frozen=True)
class ImageRow:
    """Figures shown side by side."""

    images: Sequence[Image]


Block = (
    Heading | Paragraph | BulletList | Note | Table | Preformatted | Image | ImageRow
)


@dataclass
class Document:
    title: str
    blocks: list[Block] = field(default_factory=list)
    # The run this document is the report of: results are "this run's" or an
    # earlier run's against it (None: not a run's report).
    run: RunIdentity | None = None

    def add(self, *blocks: Block) -> None:
        self.blocks.extend(blocks)


def _data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


# --- Markdown ------------------------------------------------------------------


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _md_table(table: Table) -> str:
    align = table.align or "l" * len(table.columns)
    rule = ["---:" if a == "r" else "---" for a in align]
    lines = [
        "| " + " | ".join(_md_cell(c) for c in table.columns) + " |",
        "| " + " | ".join(rule) + " |",
    ]
    lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in table.rows]
    return "\n".join(lines)


def to_markdown(document: Document) -> str:
    """The document as Markdown; figures are data URIs defined at the end."""
    parts = [f"# {document.title}"]
    images: list[bytes] = []

    def image(item: Image) -> str:
        images.append(item.png)
        width = f"{{width={item.width}}}" if item.width else ""
        return f"![{_md_cell(item.caption)}][figure-{len(images)}]{width}"

    for block in document.blocks:
        match block:
            case Heading(text, level):
                parts.append(f"{'#' * level} {text}")
            case Paragraph(text):
                parts.append(text)
            case BulletList(items):
                parts.append("\n".join(f"- {item}" for item in items))
            case Note(text):
                parts.append(f"> **Note:** {text}")
            case Table():
                parts.append(_md_table(block))
            case Preformatted(text):
                parts.append(f"```text\n{text}\n```")
            case Image():
                parts.append(f"{image(block)}\n\n*{block.caption}*")
            case ImageRow(items):
                parts.append(" ".join(image(item) for item in items))
    references = [
        f"[figure-{number}]: {_data_uri(png)}"
        for number, png in enumerate(images, start=1)
    ]
    return "\n\n".join(parts + (["\n".join(references)] if references else [])) + "\n"
