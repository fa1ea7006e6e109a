"""One parse per page, and reading text out of element subtrees.

The page is parsed once (as trafilatura's loader does, so the tree is exactly what
trafilatura expects) and the same tree is shared by metadata, comment and body
extraction.  Comment layers never modify it except for marking the comment
subtrees they claim (see :data:`CLAIM_ATTR`), which the body extractor prunes.
"""
from __future__ import annotations

import re

from lxml import etree
from lxml.html import HtmlComment, HtmlElement, HtmlEntity, HTMLParser, HtmlProcessingInstruction, fromstring

from newsmill.text import flatten, flatten_name, normalize_trimmed

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


def _parser(huge: bool = False) -> HTMLParser:
    """trafilatura's parser settings (``trafilatura.utils.HTML_PARSER``), with every element an
    ``HtmlElement`` chosen in C: lxml.html's default lookup calls a Python method for each element
    proxy created (millions per run, in newsmill's layers and in trafilatura alike) only to give
    form controls their own classes, which no code here uses.  ``huge``: without libxml2's size
    limits (see :func:`_fromstring`)."""
    parser = HTMLParser(collect_ids=False, default_doctype=False, encoding="utf-8", remove_comments=True, remove_pis=True,
                        huge_tree=huge)
    parser.set_element_class_lookup(etree.ElementDefaultClassLookup(
        element=HtmlElement, comment=HtmlComment, pi=HtmlProcessingInstruction, entity=HtmlEntity))
    return parser


_PARSER = _parser()
_HUGE_PARSER = _parser(huge=True)


def _fromstring(data: str | bytes) -> HtmlElement:
    """The tree of ``data``.  libxml2 stops reading at a text node or attribute value over 10 MB (an
    inline ``data:`` image, a big script or JSON-LD block) and returns what came before it, so the
    body or the comments after it would be lost without a word; such a page is parsed again without
    the limits.  Its other limit, nesting deeper than 256, is kept: lifting it costs seconds per
    page and recursion in every tree walk."""
    tree = fromstring(data, parser=_PARSER)
    if any(e.type_name == "ERR_RESOURCE_LIMIT" and "depth" not in e.message for e in _PARSER.error_log):
        tree = fromstring(data, parser=_HUGE_PARSER)
    return tree


def parse(text: str) -> HtmlElement | None:
    """The page's lxml tree (None when it is not HTML at all): ``trafilatura.utils.load_html`` on a
    string, step for step, with the parser above."""
    from trafilatura.utils import is_dubious_html, repair_faulty_html

    beginning = text[:50].lower()
    dubious = is_dubious_html(beginning)
    text = repair_faulty_html(text, beginning)
    tree, retried = None, False
    try:
        tree = _fromstring(text)
    except ValueError:  # a string with an encoding declaration: lxml wants bytes
        tree, retried = _from_bytes(text), True
    except Exception:  # noqa: BLE001 - as trafilatura: then try bytes
        tree = None
    if (tree is None or len(tree) < 1) and not retried:
        tree = _from_bytes(text)
    if tree is not None and dubious and len(tree) < 2:
        return None
    return tree if isinstance(tree, HtmlElement) else None


def _from_bytes(text: str) -> HtmlElement | None:
    try:
        return _fromstring(text.encode("utf8", "surrogatepass"))
    except Exception:  # noqa: BLE001 - as trafilatura: any parser failure means no tree
        return None


def _is_hidden(el) -> bool:
    style = el.get("style")
    return bool(style and _HIDDEN.search(style)) or el.get("hidden") is not None or el.get("aria-hidden") == "true"


def node_text(el, skip=frozenset()) -> str:
    """Visible text of a subtree: paragraphs (block elements) joined by a blank line, ``<br>`` as a
    line break.  Elements in ``skip`` (and scripts, forms, hidden nodes) are left out, their tails kept."""
    return join_paragraphs(_visible(el, skip).split(_PARA_BREAK))


def _visible(el, skip) -> str:
    """The subtree's visible text as is, ``_PARA_BREAK`` around blocks."""
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
    return "".join(parts)


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
    """All visible text of a subtree on one line (``" ".join(node_text(el).split())``, without
    building the paragraphs first)."""
    return flatten(_visible(el, frozenset()).replace(_PARA_BREAK, " "))


def flat_name(el) -> str:
    """A name element's visible text on one line, *with* its invisible characters (zero-width space and
    joiners, soft hyphen, bidi controls): unlike :func:`flat_text`, which drops them as noise.  A name that
    differs from another only by such a character is another account on the site; cleaning keys
    ``author_id`` on it and shows it without them (``newsmill.clean.identity_name``)."""
    return flatten_name(_visible(el, frozenset()).replace(_PARA_BREAK, " "))


def claim(el) -> None:
    el.set(CLAIM_ATTR, "1")


def is_claimed(el) -> bool:
    return any(a.get(CLAIM_ATTR) is not None for a in el.iterancestors()) or el.get(CLAIM_ATTR) is not None
