"""The report as one self-contained HTML page, from the same
:class:`~pytorch_intro.reporting.document.Document` as the Markdown."""

from __future__ import annotations

import base64
import html
import re
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from markdown_it import MarkdownIt

from pytorch_intro.reporting.document import (
    Block,
    BulletList,
    Document,
    Heading,
    Image,
    ImageRow,
    Note,
    Paragraph,
    Preformatted,
    Table,
)

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
pre code { background: none; padding: 0; font-size: 1em; }
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
blockquote { margin: 16px 0; border-left: 4px solid #bf8700; background: #fff8c5;
  padding: 8px 14px; border-radius: 0 6px 6px 0; }
blockquote p { margin: 0; }
nav.toc { background: #f6f8fa; border: 1px solid #d0d7de; border-radius: 6px;
  padding: 8px 20px; margin: 16px 0; }
nav.toc ul { margin: 4px 0; padding-left: 20px; }
"""

# inline Markdown (`code`, **bold**, autolinks); raw HTML is escaped
_inline = MarkdownIt("commonmark", {"html": False}).renderInline


def data_uri(path: str) -> str:
    """A PNG file as a data URI, to embed it."""
    png = Path(path).read_bytes()
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _figure(image: Image) -> str:
    style = f' style="max-width: min(100%, {image.width}px)"' if image.width else ""
    return (
        f'<figure><img src="{data_uri(image.path)}" '
        f'alt="{html.escape(image.caption)}"{style}>'
        f"<figcaption>{_inline(image.caption)}</figcaption></figure>"
    )


def _row(cells: Sequence[str], tag: str, align: str) -> str:
    tagged = (
        f'<{tag} class="{a}">{_inline(c)}</{tag}>'
        for a, c in zip(align, cells, strict=True)
    )
    return "<tr>" + "".join(tagged) + "</tr>"


def _block(block: Block, anchor: str) -> str:
    match block:
        case Heading(text, level):
            out = f'<h{level} id="{anchor}">{_inline(text)}</h{level}>'
        case Paragraph(text):
            out = f"<p>{_inline(text)}</p>"
        case BulletList(items):
            out = (
                "<ul>\n" + "".join(f"<li>{_inline(i)}</li>\n" for i in items) + "</ul>"
            )
        case Note(text):
            out = f"<blockquote><p><strong>Note:</strong> {_inline(text)}</p></blockquote>"
        case Table(columns, rows):
            body = "\n".join(_row(cells, "td", block.alignment) for cells in rows)
            head = _row(columns, "th", block.alignment)
            out = f"<table>\n<thead>{head}</thead>\n<tbody>\n{body}\n</tbody>\n</table>"
        case Preformatted(text):
            out = f"<pre><code>{html.escape(text)}</code></pre>"
        case Image():
            out = _figure(block)
        case ImageRow(images):
            out = '<div class="row">' + "".join(map(_figure, images)) + "</div>"
        case _:
            raise TypeError(f"not a block: {block!r}")
    return out


def to_html(document: Document) -> str:
    """The document as one HTML file with its figures and styles embedded; the
    contents (every level-2 heading) go before the first level-2 heading."""
    seen: Counter[str] = Counter()
    parts, contents, first = [f"<h1>{_inline(document.title)}</h1>"], [], None
    for block in document.blocks:
        anchor = ""
        if isinstance(block, Heading):
            # lower case, words joined by dashes; -1, -2... on repeats
            words = re.sub(r"[^a-z0-9]+", "-", block.text.lower()).strip("-")
            anchor = words or "section"
            seen[anchor] += 1
            anchor += f"-{seen[anchor] - 1}" if seen[anchor] > 1 else ""
            if block.level == 2:
                first = len(parts) if first is None else first
                contents.append(
                    f'<li><a href="#{anchor}">{_inline(block.text)}</a></li>'
                )
        parts.append(_block(block, anchor))
    if contents:
        parts.insert(
            first, '<nav class="toc"><ul>\n' + "\n".join(contents) + "\n</ul></nav>"
        )
    body = "\n".join(parts)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{html.escape(document.title)}</title>\n<style>{_STYLE}</style>\n"
        f"</head>\n<body>\n<main>\n{body}\n</main>\n</body>\n</html>\n"
    )
