"""What class, id, itemprop and rel values a page has, read once per page.

Most selectors the layers run (comment-system profiles, byline and category
fallbacks, microdata fields) cannot match unless the page carries a given class,
id or property name.  Each selector is a walk over the whole tree; reading the
attribute values once (a few C-level XPath walks, no element proxies) lets a
layer skip the selectors that cannot match, with the same result.
"""
from __future__ import annotations

from functools import cached_property

from lxml import etree

from newsmill.extract.html.tree import CLAIM_ATTR

_CLASS = etree.XPath("//@class", smart_strings=False)
_ID = etree.XPath("//@id", smart_strings=False)
_ITEMPROP = etree.XPath("//@itemprop", smart_strings=False)
_REL = etree.XPath("//@rel", smart_strings=False)
_HREF = etree.XPath("//@href", smart_strings=False)
_ITEMS_OR_MARKED = etree.XPath(f"//*[@itemscope or @typeof or @{CLAIM_ATTR}]")


class PageAttrs:
    """Attribute values of one tree (the tree must not gain classes or ids afterwards)."""

    def __init__(self, tree):
        self.tree = tree

    @cached_property
    def classes(self) -> str:
        """Every class attribute, one per line (search with ``(?m)^...`` for a value's start)."""
        return "\n".join(_CLASS(self.tree))

    @cached_property
    def ids(self) -> str:
        return "\n".join(_ID(self.tree))

    @cached_property
    def tokens(self) -> set[str]:
        """Class names and id values, whitespace-split."""
        return set(self.classes.split()) | set(self.ids.split())

    @cached_property
    def itemprops(self) -> set[str]:
        """Whole itemprop values and their whitespace-separated names."""
        values = _ITEMPROP(self.tree)
        return set(values) | {name for v in values for name in v.split()}

    @cached_property
    def rels(self) -> set[str]:
        values = _REL(self.tree)
        return set(values) | {name for v in values for name in v.split()}

    @cached_property
    def hrefs(self) -> str:
        """Every href, one per line."""
        return "\n".join(_HREF(self.tree))

    @cached_property
    def _items_and_marked(self) -> tuple[list, bool]:
        found = _ITEMS_OR_MARKED(self.tree)
        items = [el for el in found if el.get("itemscope") is not None or el.get("typeof") is not None]
        return items, len(items) < len(found)

    @property
    def items(self) -> list:
        """Microdata and RDFa item elements (``itemscope``, ``typeof``), in document order."""
        return self._items_and_marked[0]

    @property
    def marked(self) -> bool:
        """Whether the page came with newsmill's claim attribute on some element (read before any
        layer claims: ``extract_html`` asks first)."""
        return self._items_and_marked[1]
