"""One parse per page, and reading text out of element subtrees.

The page is parsed once (with trafilatura's loader, so the tree is exactly what
trafilatura expects) and the same tree is shared by metadata, comment and body
extraction.  Comment layers never modify it except for marking the comment
subtrees they claim (see :data:`CLAIM_ATTR`), which the body extractor prunes.
"""
from __future__ import annotations

import re

from lxml import etree
from lxml.html import HtmlElement

from newsmill.text import normalize_trimmed

# attribute put on every subtree a comment layer claimed: pruned before body extraction
CLAIM_ATTR = "data-newsmill-comment"
CLAIMED_XPATH = f"//*[@{CLAIM_ATTR}]"

BLOCK_TAGS = frozenset({
    "p", "div", "section", "article", "blockquote", "li", "ul", "ol", "dl", "dt", "dd", "h1", "h2", "h3", "h4",
    "h5", "h6", "pre", "table", "tr", "header", "footer", "aside", "figure", "figcaption", "address", "center",
    "hr", "form", "fieldset", "nav", "main",
})
SKIP_TAGS = frozenset({
    "script", "style", "noscript", "template", "button", "textarea", "input", "select", "option",
    "iframe", "object", "embed", "svg", "canvas", "head", "title", "meta", "link",
})
_HIDDEN = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.I)
_PARA_BREAK = "\x00"


def parse(text: str) -> HtmlElement | None:
    """The page's lxml tree (None when it is not HTML at all)."""
    from trafilatura.utils import load_html

    try:
        tree = load_html(text)
    except (TypeError, ValueError, etree.ParserError):
        return None
    return tree if isinstance(tree, HtmlElement) else None


def _is_hidden(el) -> bool:
    style = el.get("style")
    return bool(style and _HIDDEN.search(style)) or el.get("hidden") is not None or el.get("aria-hidden") == "true"


def node_text(el, skip=frozenset()) -> str:
    """Visible text of a subtree: paragraphs (block elements) joined by a blank line, ``<br>`` as a
    line break.  Elements in ``skip`` (and scripts, forms, hidden nodes) are left out, their tails kept."""
    parts: list[str] = []
    add = parts.append

    def walk(node) -> None:
        tag = node.tag
        if type(tag) is str and tag not in SKIP_TAGS and node not in skip and not _is_hidden(node):
            block = tag in BLOCK_TAGS
            if block:
                add(_PARA_BREAK)
            elif tag == "br":
                add("\n")
            if node.text:
                add(node.text)
            for child in node:
                walk(child)
            if block:
                add(_PARA_BREAK)
        if node.tail and node is not el:
            add(node.tail)

    walk(el)
    return join_paragraphs("".join(parts).split(_PARA_BREAK))


def join_paragraphs(chunks) -> str:
    paras = []
    for chunk in chunks:
        if not chunk or chunk.isspace():
            continue
        lines = [ln for ln in map(normalize_trimmed, chunk.split("\n")) if ln]
        if lines:
            paras.append("\n".join(lines))
    return "\n\n".join(paras)


def flat_text(el) -> str:
    """All visible text of a subtree on one line."""
    return " ".join(node_text(el).split())


def claim(el) -> None:
    el.set(CLAIM_ATTR, "1")


def is_claimed(el) -> bool:
    return any(a.get(CLAIM_ATTR) is not None for a in el.iterancestors()) or el.get(CLAIM_ATTR) is not None
