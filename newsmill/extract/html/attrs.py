"""What class, id, itemprop and rel values a page has, read once per page.

Most selectors the layers run (comment-system profiles, byline and category
fallbacks, microdata fields) cannot match unless the page carries a given class,
id or property name.  Each selector is a walk over the whole tree; reading the
attribute values once (a few C-level XPath walks, no element proxies) lets a
layer skip the selectors that cannot match, with the same result.
"""
from __future__ import annotations

import threading
from functools import cached_property

from lxml import etree

from newsmill.extract.html.tree import CLAIM_ATTR

_ITEMPROP = etree.XPath("//@itemprop", smart_strings=False)
_REL = etree.XPath("//@rel", smart_strings=False)
_HREF = etree.XPath("//@href", smart_strings=False)
_ITEMS_OR_MARKED = etree.XPath(f"//*[@itemscope or @typeof or @{CLAIM_ATTR}]")


class Present:
    """The names a page has, for skipping selectors that cannot match: class and id names, ``<tag``
    element names and ``@name`` attribute names; and the class and id values, for a selector's
    substring tests (``[class*='x']``, ``[id^='x']``)."""

    __slots__ = ("names", "classes", "ids")

    def __init__(self, names: frozenset[str], classes: str, ids: str):
        self.names, self.classes, self.ids = names, classes, ids

    def allows(self, need: frozenset) -> bool:
        """Whether the page has everything in ``need``: names, and ``('class'|'id', text)`` pairs
        for a text some class or id value must contain."""
        for item in need:
            if type(item) is tuple:
                if item[1] not in (self.classes if item[0] == "class" else self.ids):
                    return False
            elif item not in self.names:
                return False
        return True


class PageAttrs:
    """Attribute values of one tree (the tree must not gain classes or ids afterwards)."""

    def __init__(self, tree):
        self.tree = tree

    @cached_property
    def _scan(self) -> tuple[str, str, frozenset[str]]:
        """One pass over the elements: class values and id values (one per line), and the element
        and attribute names present (as ``<tag`` and ``@name``), which no XPath returns cheaply."""
        classes, ids, names = [], [], set()
        for el in self.tree.iter(etree.Element):
            names.add("<" + el.tag)
            keys = el.keys()
            if keys:
                names.update("@" + k for k in keys)
                if (value := el.get("class")):
                    classes.append(value)
                if (value := el.get("id")):
                    ids.append(value)
        return "\n".join(classes), "\n".join(ids), frozenset(names)

    @property
    def classes(self) -> str:
        """Every class attribute, one per line (search with ``(?m)^...`` for a value's start)."""
        return self._scan[0]

    @property
    def ids(self) -> str:
        return self._scan[1]

    @cached_property
    def tokens(self) -> set[str]:
        """Class names and id values, whitespace-split."""
        return set(self.classes.split()) | set(self.ids.split())

    @cached_property
    def present(self) -> Present:
        """What the page offers a selector (see ``comments_profiles._needs``)."""
        return Present(frozenset(self.tokens) | self._scan[2], self.classes, self.ids)

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


_LAST = threading.local()  # the last tree's PageAttrs: the layers of one page share one


def page_attrs(tree) -> PageAttrs:
    """The ``PageAttrs`` of ``tree``, one per tree (layers that are not handed one ask here)."""
    last = getattr(_LAST, "attrs", None)
    if last is None or last.tree is not tree:
        last = _LAST.attrs = PageAttrs(tree)
    return last
