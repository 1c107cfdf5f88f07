"""The report's Markdown as one self-contained HTML page, rendered by markdown-it-py.

Raw HTML in the text is escaped (``html=False``). CommonMark plus tables, with
mdit-py-plugins' ``attrs`` (an image's ``{width=N}``) and ``anchors`` (heading
ids), and three core rules of our own on the token stream:

- table cells get ``class="l"`` / ``class="r"`` instead of inline alignment styles;
- a paragraph of images becomes figures: one image with the italic paragraph
  under it becomes ``<figure>`` with that ``<figcaption>``; several images become
  a row of figures captioned by their alt text;
- the contents (every level-2 heading) go before the first level-2 heading.
"""

from __future__ import annotations

import html
import re

from markdown_it import MarkdownIt
from markdown_it.rules_core import StateCore
from markdown_it.token import Token
from mdit_py_plugins.anchors import anchors_plugin
from mdit_py_plugins.attrs import attrs_plugin

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


def slug(text: str) -> str:
    """An anchor for a heading: lower case, words joined by dashes."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "section"


def _block(kind: str, tag: str, nesting: int, **attrs: str) -> Token:
    return Token(kind, tag, nesting, attrs=attrs, block=True)


def _inline(children: list[Token]) -> Token:
    return Token("inline", "", 0, children=children, block=True)


def _table_alignment(state: StateCore) -> None:
    for token in state.tokens:
        if token.type in ("th_open", "td_open"):
            style = str(token.attrs.pop("style", ""))
            token.attrs["class"] = "r" if "right" in style else "l"
        elif token.type in ("th_close", "td_close"):
            token.block = False  # the cells of a row on one line


def _paragraph(tokens: list[Token], index: int) -> list[Token] | None:
    """The inline children of the paragraph at ``index``, if one starts there."""
    token = tokens[index] if index + 2 < len(tokens) else None
    if token and token.type == "paragraph_open" and not token.hidden:
        return tokens[index + 1].children or []
    return None


def _images(children: list[Token]) -> list[Token]:
    """The images of a paragraph that holds nothing else (else none)."""
    images = [child for child in children if child.type == "image"]
    rest = [child for child in children if child.type != "image"]
    if all(t.type in ("text", "softbreak") and not t.content.strip() for t in rest):
        return images
    return []


def _text(children: list[Token]) -> str:
    return "".join(child.content for child in children if child.type != "image")


def _caption(children: list[Token] | None, image: Token) -> list[Token] | None:
    """A paragraph in italics that repeats the image's alt text: its caption."""
    if (
        children
        and children[0].type == "em_open"
        and children[-1].type == "em_close"
        and _text(children[1:-1]) == _text(image.children or [])
    ):
        return children[1:-1]
    return None


def _figure(image: Token, caption: list[Token]) -> list[Token]:
    width = image.attrs.pop("width", None)
    if width:
        image.attrs["style"] = f"max-width: min(100%, {width}px)"
    return [
        _block("figure_open", "figure", 1),
        _inline([image]),
        _block("figcaption_open", "figcaption", 1),
        _inline(caption),
        _block("figcaption_close", "figcaption", -1),
        _block("figure_close", "figure", -1),
    ]


def _figures(state: StateCore) -> None:
    tokens, out, index = state.tokens, [], 0
    while index < len(tokens):
        children = _paragraph(tokens, index)
        images = _images(children) if children is not None else []
        if not images:
            out.append(tokens[index])
            index += 1
            continue
        index += 3
        if len(images) == 1:
            caption = _caption(_paragraph(tokens, index), images[0])
            if caption is not None:
                index += 3
            out += _figure(images[0], caption or images[0].children or [])
            continue
        out.append(_block("row_open", "div", 1, **{"class": "row"}))
        for image in images:
            out += _figure(image, image.children or [])
        out.append(_block("row_close", "div", -1))
    state.tokens = out


def _contents(state: StateCore) -> None:
    tokens = state.tokens
    sections = [
        (index, token.attrs["id"], tokens[index + 1].children or [])
        for index, token in enumerate(tokens)
        if token.type == "heading_open" and token.tag == "h2"
    ]
    if not sections:
        return
    nav = [
        _block("toc_open", "nav", 1, **{"class": "toc"}),
        _block("bullet_list_open", "ul", 1),
    ]
    for _, anchor, title in sections:
        nav += [
            _block("list_item_open", "li", 1),
            _inline(
                [
                    Token("link_open", "a", 1, attrs={"href": f"#{anchor}"}),
                    *title,
                    Token("link_close", "a", -1),
                ]
            ),
            _block("list_item_close", "li", -1),
        ]
    nav += [_block("bullet_list_close", "ul", -1), _block("toc_close", "nav", -1)]
    first = sections[0][0]
    state.tokens = tokens[:first] + nav + tokens[first:]


def _renderer() -> MarkdownIt:
    md = (
        MarkdownIt("commonmark", {"html": False})
        .enable("table")
        .use(attrs_plugin, after=("image",))
        .use(anchors_plugin, min_level=2, max_level=6, slug_func=slug)
    )
    md.core.ruler.push("table_alignment", _table_alignment)
    md.core.ruler.push("figures", _figures)
    md.core.ruler.push("contents", _contents)  # after anchors: it reads the ids
    return md


_MD = _renderer()


def to_html(markdown: str) -> str:
    """The Markdown as one HTML file with its figures and styles embedded; the
    page title is the first level-1 heading."""
    tokens = _MD.parse(markdown)
    title = next(
        (
            _MD.renderer.renderInlineAsText(
                tokens[index + 1].children or [], _MD.options, {}
            )
            for index, token in enumerate(tokens)
            if token.type == "heading_open" and token.tag == "h1"
        ),
        "Report",
    )
    body = _MD.renderer.render(tokens, _MD.options, {})
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{html.escape(title)}</title>\n<style>{_STYLE}</style>\n</head>\n"
        f"<body>\n<main>\n{body}</main>\n</body>\n</html>\n"
    )
