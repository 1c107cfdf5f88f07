"""A small document model, written out as Markdown (here) and as one HTML page
(:mod:`.html`), so both files say the same thing. Figures are PNG files: the
Markdown refers to them by relative path, in definitions at its end
(reference-style, so the text stays readable); the HTML page embeds them.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

if TYPE_CHECKING:
    from pytorch_intro.reporting.results import RunIdentity


@dataclass(frozen=True)
class Heading:
    text: str
    level: int = 2


@dataclass(frozen=True)
class Paragraph:
    text: str  # with inline Markdown: `code`, **bold**


@dataclass(frozen=True)
class BulletList:
    items: Sequence[str]


@dataclass(frozen=True)
class Note:
    text: str  # highlighted (e.g. a section that is missing)


@dataclass(frozen=True)
class Table:
    columns: Sequence[str]
    rows: Sequence[Sequence[str]]
    align: str = ""  # one "l" or "r" per column; left when not given

    @property
    def alignment(self) -> str:
        return self.align or "l" * len(self.columns)


@dataclass(frozen=True)
class Preformatted:
    text: str  # verbatim (e.g. a per-epoch listing)


@dataclass(frozen=True)
class Image:
    path: str  # a PNG file
    caption: str
    width: int | None = None  # largest width in the HTML page, in CSS pixels


@dataclass(frozen=True)
class ImageRow:
    images: Sequence[Image]  # side by side


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

    def add(self, *blocks: Block | None) -> None:
        """Append the blocks; ``None`` (e.g. a figure a run did not make) is skipped."""
        self.blocks.extend(block for block in blocks if block is not None)


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _md_table(table: Table) -> str:
    rule = ["---:" if a == "r" else "---" for a in table.alignment]
    rows = [table.columns, rule, *table.rows]
    return "\n".join("| " + " | ".join(map(_md_cell, row)) + " |" for row in rows)


def to_markdown(document: Document, folder: str | Path | None = None) -> str:
    """The document as Markdown; its figures' paths, defined at the end, are
    relative to ``folder`` (where the Markdown file lies), or as recorded."""
    parts = [f"# {document.title}"]
    images: list[str] = []

    def image(item: Image) -> str:
        images.append(item.path)
        return f"![{_md_cell(item.caption)}][figure-{len(images)}]"

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
    if folder is not None:
        images = [Path(os.path.relpath(path, folder)).as_posix() for path in images]
    references = [f"[figure-{n}]: {quote(path)}" for n, path in enumerate(images, 1)]
    return "\n\n".join(parts + ["\n".join(references)]).rstrip() + "\n"
