"""A small document model, rendered to Markdown and to self-contained HTML.

The report is built once as a list of blocks and rendered twice, so the two
files always say the same thing. Figures are PNG bytes embedded as data URIs:
at the end of the Markdown file (reference-style, so the text stays readable)
and inline in the HTML.
"""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

_INLINE = re.compile(r"`([^`]+)`|\*\*([^*]+)\*\*")


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

    def add(self, *blocks: Block) -> None:
        self.blocks.extend(blocks)


def slug(text: str) -> str:
    """An anchor for a heading: lower case, words joined by dashes."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "section"


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
    references = [
        f"[figure-{number}]: {_data_uri(png)}"
        for number, png in enumerate(images, start=1)
    ]
    return "\n\n".join(parts + (["\n".join(references)] if references else [])) + "\n"


# --- HTML ----------------------------------------------------------------------

_STYLE = """
body { font: 16px/1.55 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  color: #1f2328; margin: 0; background: #f6f8fa; }
main { max-width: 1080px; margin: 0 auto; padding: 24px 40px 64px; background: #fff; }
h1 { font-size: 2em; border-bottom: 2px solid #d0d7de; padding-bottom: .3em; }
h2 { font-size: 1.5em; border-bottom: 1px solid #d0d7de; padding-bottom: .25em;
  margin-top: 2em; }
h3 { font-size: 1.2em; margin-top: 1.6em; }
code, pre { font-family: ui-monospace, "SF Mono", Menlo, Consolas, monospace;
  font-size: .88em; }
code { background: #eff1f3; padding: .1em .35em; border-radius: 4px; }
pre { background: #f6f8fa; border: 1px solid #d0d7de; border-radius: 6px;
  padding: 10px 14px; overflow-x: auto; line-height: 1.4; }
table { border-collapse: collapse; margin: 12px 0 20px; font-size: .92em; }
th, td { border: 1px solid #d0d7de; padding: 5px 11px; }
th { background: #f6f8fa; text-align: left; }
td.r, th.r { text-align: right; font-variant-numeric: tabular-nums; }
tr:nth-child(even) td { background: #fafbfc; }
figure { margin: 14px 0 24px; }
figure img { max-width: 100%; height: auto; border: 1px solid #eaeef2; }
figcaption { color: #59636e; font-size: .9em; margin-top: 4px; }
.row { display: flex; flex-wrap: wrap; gap: 12px; align-items: flex-start; }
.row figure { flex: 1 1 300px; margin: 6px 0 18px; }
.note { border-left: 4px solid #bf8700; background: #fff8c5; padding: 8px 14px;
  border-radius: 0 6px 6px 0; }
nav.toc { background: #f6f8fa; border: 1px solid #d0d7de; border-radius: 6px;
  padding: 8px 20px; margin: 16px 0; }
nav.toc ul { margin: 4px 0; padding-left: 20px; }
"""


def _inline_html(text: str) -> str:
    out, position = [], 0
    for match in _INLINE.finditer(text):
        out.append(html.escape(text[position : match.start()]))
        code, bold = match.groups()
        out.append(
            f"<code>{html.escape(code)}</code>"
            if code is not None
            else f"<strong>{html.escape(bold)}</strong>"
        )
        position = match.end()
    out.append(html.escape(text[position:]))
    return "".join(out)


def _html_table(table: Table) -> str:
    align = table.align or "l" * len(table.columns)

    def cells(tag: str, values: Sequence[str]) -> str:
        return "".join(
            f'<{tag} class="{a}">{_inline_html(v)}</{tag}>'
            for a, v in zip(align, values, strict=True)
        )

    body = "\n".join(f"<tr>{cells('td', row)}</tr>" for row in table.rows)
    return f"<table>\n<tr>{cells('th', table.columns)}</tr>\n{body}\n</table>"


def _html_figure(image: Image) -> str:
    caption = _inline_html(image.caption)
    width = f' style="max-width: min(100%, {image.width}px)"' if image.width else ""
    return (
        f'<figure><img src="{_data_uri(image.png)}"{width} '
        f'alt="{html.escape(image.caption)}"><figcaption>{caption}</figcaption></figure>'
    )


def to_html(document: Document) -> str:
    """The document as one HTML file with its figures and styles embedded."""
    toc = [
        f'<li><a href="#{slug(block.text)}">{html.escape(block.text)}</a></li>'
        for block in document.blocks
        if isinstance(block, Heading) and block.level == 2
    ]
    body = []
    for block in document.blocks:
        match block:
            case Heading(text, level):
                if level == 2 and toc:  # the contents go before the first section
                    body.append(f'<nav class="toc"><ul>{"".join(toc)}</ul></nav>')
                    toc = []
                body.append(
                    f'<h{level} id="{slug(text)}">{_inline_html(text)}</h{level}>'
                )
            case Paragraph(text):
                body.append(f"<p>{_inline_html(text)}</p>")
            case BulletList(items):
                entries = "".join(f"<li>{_inline_html(item)}</li>" for item in items)
                body.append(f"<ul>{entries}</ul>")
            case Note(text):
                body.append(f'<p class="note">{_inline_html(text)}</p>')
            case Table():
                body.append(_html_table(block))
            case Preformatted(text):
                body.append(f"<pre>{html.escape(text)}</pre>")
            case Image():
                body.append(_html_figure(block))
            case ImageRow(items):
                figures = "".join(_html_figure(item) for item in items)
                body.append(f'<div class="row">{figures}</div>')
    title = html.escape(document.title)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{title}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n<main>\n"
        f"<h1>{title}</h1>\n" + "\n".join(body) + "\n</main>\n</body>\n</html>\n"
    )
