"""Layer 2: comment markup of common publishing systems, described as data.

Each ``newsmill/profiles/systems/*.toml`` names a system (WordPress, Disqus,
Drupal, Blogger, TypePad, ...) with a detection selector and field selectors
(CSS).  They are compiled once per process; the code here only applies them:
items found, fields taken from the nodes each item owns (not from its nested
replies), threading from DOM nesting.
"""
from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from lxml import etree
from lxml.cssselect import CSSSelector

from newsmill.extract.html.attrs import PageAttrs, page_attrs
from newsmill.extract.html.common import Found, build
from newsmill.extract.html.tree import claim
from newsmill.profiles import Profile, system_specs, systems_common
from newsmill.records import RawComment

_FIELDS = ("author", "date", "text", "likes", "stamp", "ui", "dislikes", "permalink")


def _css(sel: str) -> CSSSelector:
    return CSSSelector(sel, translator="html")


@dataclass(frozen=True)
class System:
    name: str
    priority: int
    detect: CSSSelector
    items: CSSSelector
    exclude: CSSSelector | None
    author: tuple[CSSSelector, ...]
    date: tuple[CSSSelector, ...]
    text: tuple[CSSSelector, ...]
    likes: tuple[CSSSelector, ...]
    stamp: tuple[CSSSelector, ...]
    ui: tuple[CSSSelector, ...]
    dislikes: tuple[CSSSelector, ...]  # down-votes (the common selectors of ``signals`` come after these)
    permalink: tuple[CSSSelector, ...]  # the comment's own link
    group_following: str | None  # item = this element plus following siblings with this tag (Blogger dt/dd)
    depth_class: re.Pattern | None  # depth written in a class ('depth-2') for flat-threaded lists
    reply_box: CSSSelector | None  # replies sit in this box right after their parent (Drupal's div.indented)


def _compile(spec: dict, common: dict, path: Path) -> System:
    try:
        sels = {k: tuple(_css(s) for s in [*spec.get(k, []), *(common.get(k, []) if k == "ui" else [])]) for k in _FIELDS}
        return System(
            name=spec["name"], priority=int(spec.get("priority", 50)), detect=_css(spec["detect"]), items=_css(spec["items"]),
            exclude=_css(spec["exclude"]) if spec.get("exclude") else None, **sels,
            group_following=spec.get("group_following") or None,
            depth_class=re.compile(spec["depth_class"]) if spec.get("depth_class") else None,
            reply_box=_css(spec["reply_box"]) if spec.get("reply_box") else None,
        )
    except (KeyError, ValueError, SyntaxError) as exc:  # cssselect raises SelectorSyntaxError (a SyntaxError)
        raise ValueError(f"comment system profile {path}: {exc}") from exc


def _not_inside_css(extra_dir: str | None = None) -> str | None:
    return systems_common(extra_dir).get("not_inside") or None


def _test(part: str) -> str | None:
    """An XPath test of one element for a simple CSS selector (no combinator), or None."""
    from cssselect import HTMLTranslator, parse

    try:
        parsed = parse(part)
    except Exception:  # cssselect's SelectorSyntaxError: the caller keeps the CSS selector
        return None
    if len(parsed) != 1 or parsed[0].pseudo_element is not None:
        return None
    expr = HTMLTranslator().xpath(parsed[0].parsed_tree)
    if expr.path or "/" in expr.condition:  # 'a b', 'a > b': not a test of the element alone
        return None
    tests = [f"local-name() = '{expr.element}'"] if expr.element != "*" else []
    if expr.condition:
        tests.append(f"({expr.condition})")
    return " and ".join(tests) or "true()"


@cache
def one_walk(parts: tuple[str, ...]) -> etree.XPath | None:
    """One XPath finding what the simple CSS ``parts`` find, in one walk of the tree testing each
    element once (a CSS selector list is one walk per part); None when a part is not simple."""
    tests = [_test(part) for part in parts]
    if not tests or None in tests:
        return None
    return etree.XPath("descendant-or-self::*[" + " or ".join(f"({t})" for t in tests) + "]")


def walk_narrowed(css: str, present: set) -> etree.XPath | CSSSelector | None:
    """``css`` without the parts naming a class or id the page lacks (see ``_narrow``), as one walk
    when its parts are simple; None when no part can match."""
    needs = _needs(css)
    active = tuple(i for i, need in enumerate(needs) if present.allows(need))
    if not active:
        return None
    parts = _parts(css)
    return one_walk(tuple(parts[i] for i in active)) or _narrowed(css, active)


def not_inside(present: set, extra_dir: str | None = None) -> etree.XPath | CSSSelector | None:
    """The places no comment stands in (``not_inside`` of ``_common.toml``) that a page with the class
    and id names ``present`` can have."""
    css = _not_inside_css(extra_dir)
    return walk_narrowed(css, present) if css is not None else None


_WIDGETS = threading.local()  # the last tree's widget nodes: the profile and generic layers both ask


def _widget_nodes(tree, extra_dir: str | None) -> set:
    """Every node inside a dialog, pop-up or template of ``tree``, computed once per tree."""
    last = getattr(_WIDGETS, "last", None)
    if last is not None and last[0] is tree and last[1] == extra_dir:
        return last[2]
    sel = not_inside(page_attrs(tree).present, extra_dir)
    # one walk of the (few, small) widgets, not a climb per element
    inside = {n for b in sel(tree) for n in b.iter()} if sel is not None else set()
    _WIDGETS.last = (tree, extra_dir, inside)
    return inside


def outside_widgets(elements: list, tree, extra_dir: str | None = None) -> list:
    """``elements`` without those inside a dialog, pop-up or template (``not_inside``)."""
    if not elements:
        return elements
    inside = _widget_nodes(tree, extra_dir)
    return [el for el in elements if el not in inside] if inside else elements


@cache
def load_systems(extra_dir: str | None = None) -> tuple[System, ...]:
    common = systems_common(extra_dir)
    systems = []
    for path, spec in system_specs(extra_dir):
        if "detect" not in spec and spec.get("embed"):
            continue  # a system known only by its script embed (``embeds``): no markup to read comments from
        systems.append(_compile(spec, common, path))
    return tuple(sorted(systems, key=lambda s: (s.priority, s.name)))


def _owned(node, scopes, owner: dict) -> bool:
    """``node`` belongs to this comment: its nearest enclosing comment part is one of ``scopes``."""
    for anc in node.iterancestors():
        if anc in owner:
            return anc in scopes
    return False


def _first_owned(selectors, scopes, owner, avoid=()):
    """The first node a selector finds in this comment; a node that is, or holds, the comment's text
    (``avoid``) is passed over: a date or author selector must not swallow the text."""
    for sel in selectors:
        for scope in scopes:
            for node in sel(scope):
                if node not in owner and _owned(node, scopes, owner) \
                        and not any(t is node or node in t.iterancestors() for t in avoid):
                    return node
    return None


def _all_owned(selectors, scopes, owner):
    for sel in selectors:
        found = [n for scope in scopes for n in sel(scope) if n not in owner and _owned(n, scopes, owner)]
        # keep outermost matches only ('.comment-body p' inside '.comment-body')
        found_set = set(found)
        found = [n for n in found if not any(a in found_set for a in n.iterancestors())]
        if found:
            return found
    return []


def _items(system: System, tree, present: set) -> list:
    containers = _narrow(system.detect, present)(tree)
    if len(containers) > 1:
        # a container inside another adds nothing: the outer ones are disjoint and in document order,
        # so their items come out in document order
        inner = set(containers)
        containers = [c for c in containers if next((a for a in c.iterancestors() if a in inner), None) is None]
    exclude = _narrow(system.exclude, present) if system.exclude is not None else None
    excluded = {e for c in containers for e in exclude(c)} if exclude is not None else set()
    items = _narrow(system.items, present)
    seen, out = set(), []
    for container in containers if items is not None else ():
        for el in items(container):
            if el not in seen and el not in excluded:
                seen.add(el)
                out.append(el)
    return out


def _group(system: System, el) -> list:
    scopes = [el]
    if system.group_following:
        sib = el.getnext()
        while sib is not None and sib.tag == system.group_following:
            scopes.append(sib)
            sib = sib.getnext()
    return scopes


_TOKEN = re.compile(r"([.#])([\w-]+)")
_NOT_REQUIRED = re.compile(r"\[[^\]]*\]|\([^)]*\)")  # attribute tests and :not(...) arguments require no name


def _parts(css: str) -> list[str]:
    """The comma-separated parts of a selector (commas inside brackets, parentheses or quotes kept)."""
    parts, depth, quote, start = [], 0, None, 0
    for i, ch in enumerate(css):
        if quote:
            quote = None if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(css[start:i])
            start = i + 1
    parts.append(css[start:])
    return [p.strip() for p in parts]


_PARENS = re.compile(r"\([^)]*\)")  # :not(...), :has(...) arguments require nothing
_ATTR_NAME = re.compile(r"\[\s*([A-Za-z_][\w-]*)")
# a class or id value test: [class~='x'] needs the class name x; [class*='x'], [id^='x'] ... a value containing x
_VALUE_TEST = re.compile(r"""\[\s*(class|id)\s*([~|^$*]?)=\s*(?:'([^']*)'|"([^"]*)"|([^\s\]]+))\s*\]""", re.I)
_BRACKETS = re.compile(r"\[[^\]]*\]")
_TYPE = re.compile(r"(?:^|[\s>+~])([A-Za-z][\w-]*)")  # an element name opening a compound selector


def _part_needs(part: str) -> frozenset:
    if "\\" in part or "|" in part:  # CSS escapes, namespaces: names not read here
        return frozenset()
    part = _PARENS.sub(" ", part)
    attrs: set = {"@" + m.group(1).lower() for m in _ATTR_NAME.finditer(part)}
    for m in _VALUE_TEST.finditer(part):
        kind, op, value = m.group(1).lower(), m.group(2), m.group(3) or m.group(4) or m.group(5) or ""
        if not value or any(ch.isspace() for ch in value):
            continue
        attrs.add(value if (op == "~" and kind == "class") or (op == "" and kind == "id") else (kind, value))
    part = _BRACKETS.sub(" ", part)
    tags = {"<" + m.group(1).lower() for m in _TYPE.finditer(part)}
    return frozenset({m.group(2) for m in _TOKEN.finditer(part)} | attrs | tags)


@cache
def _needs(css: str) -> tuple[frozenset, ...]:
    """For each comma-separated part of a selector, what it cannot match without (see
    ``PageAttrs.present``): its class and id names, ``<tag`` element and ``@name`` attribute names."""
    return tuple(_part_needs(part) for part in _parts(css))


def _may_match(system: System, present) -> bool:
    return any(present.allows(need) for need in _needs(system.detect.css))


@cache
def _narrowed(css: str, active: tuple[int, ...]) -> CSSSelector:
    parts = _parts(css)
    return _css(", ".join(parts[i] for i in active))


def _narrow(sel: CSSSelector, present: set) -> CSSSelector | None:
    """The selector without the parts that name a class or id the page does not have (they cannot
    match): the same nodes for fewer tree walks; None when no part can match."""
    needs = _needs(sel.css)
    active = tuple(i for i, need in enumerate(needs) if present.allows(need))
    if len(active) == len(needs):
        return sel
    return _narrowed(sel.css, active) if active else None


def _narrow_all(sels, present: set) -> tuple[CSSSelector, ...]:
    return tuple(n for n in (_narrow(s, present) for s in sels) if n is not None)


def _union(sels) -> CSSSelector | None:
    """One selector for a list (one call per node instead of one per selector; the union is a set)."""
    if not sels:
        return None
    return sels[0] if len(sels) == 1 else _narrowed(", ".join(s.css for s in sels), tuple(range(len(sels))))


def extract(tree, profile: Profile, *, captured_at=None, extra_dir: str | None = None,
            attrs: PageAttrs | None = None) -> tuple[str, list[RawComment]] | None:
    """(system name, comments) for the first system whose markup the page carries, else None."""
    present = (attrs or page_attrs(tree)).present  # skip systems and selectors that cannot match
    for system in load_systems(extra_dir):
        if not _may_match(system, present):
            continue
        if not _narrow(system.detect, present)(tree):
            continue
        elements = outside_widgets(_items(system, tree, present), tree, extra_dir)
        if not elements:
            continue
        comments = _read(system, elements, profile, captured_at, present)
        if comments:
            return system.name, comments
    return None


def _read(system: System, elements: list, profile: Profile, captured_at, present: set) -> list[RawComment]:
    sel_author, sel_date, sel_text, sel_likes, sel_stamp, sel_dislikes, sel_permalink = (
        _narrow_all(sels, present) for sels in (system.author, system.date, system.text, system.likes, system.stamp,
                                                 system.dislikes, system.permalink))
    sel_ui = _union(_narrow_all(system.ui, present))
    groups = [_group(system, el) for el in elements]
    owner = {scope: i for i, scopes in enumerate(groups) for scope in scopes}  # element -> comment it is part of
    out: list[RawComment] = []
    kept: dict[int, int] = {}  # element index -> comment index
    depths: dict[int, int] = {}
    last_at_depth: dict[int, int] = {}  # depth -> index of the latest comment at that depth
    # the outermost parts of other comments inside each comment (its direct replies), in one pass:
    # a part belongs under the comment its nearest enclosing part is from
    replies: dict[int, list] = {}
    for n, j in owner.items():
        up = next((owner[a] for a in n.iterancestors() if a in owner), None)
        if up is not None and up != j:
            replies.setdefault(up, []).append(n)
    for i, el in enumerate(elements):
        scopes = groups[i]
        nested = replies.get(i, [])
        ui = [n for scope in scopes for n in sel_ui(scope)] if sel_ui is not None else []
        text = _all_owned(sel_text, scopes, owner)
        found = Found(
            element=el,
            author=_first_owned(sel_author, scopes, owner, text),
            date=_first_owned(sel_date, scopes, owner, text),
            text=text,
            likes=_first_owned(sel_likes, scopes, owner, text),
            stamp=_first_owned(sel_stamp, scopes, owner, text),
            skip=[*nested, *ui],
            nested=nested,
            scopes=scopes[1:],
            selectors={"dislikes": sel_dislikes, "permalink": sel_permalink},
        )
        if not found.text and len(scopes) > 1:
            found.text = scopes[1:]
        parent = next((owner[a] for a in el.iterancestors() if a in owner), None)
        if parent is None and system.reply_box is not None:
            parent = _boxed_parent(el, system.reply_box, owner)
        depth = depths[parent] + 1 if parent is not None and parent in depths else 0
        found.depth, found.parent = depth, kept.get(parent) if parent is not None else None
        if depth == 0 and system.depth_class is not None and (m := system.depth_class.search(el.get("class", ""))):
            # a flat list that writes the depth in a class: the parent is the latest comment one level up
            found.depth = max(int(m.group(1)) - 1, 0)
            found.parent = last_at_depth.get(found.depth - 1) if found.depth else None
        depths[i] = found.depth
        rc = build(found, profile, captured_at=captured_at)
        if rc is None:
            continue
        kept[i] = len(out)
        last_at_depth[found.depth] = len(out)
        out.append(rc)
        for scope in scopes:
            claim(scope)
    return out


def _boxed_parent(el, box_sel, owner: dict) -> int | None:
    """The comment right before the reply box that holds ``el`` (the nearest such box)."""
    for anc in el.iterancestors():
        if anc in owner:
            return None
        if anc.getparent() is not None and anc in box_sel(anc.getparent()):
            sib = anc.getprevious()
            while sib is not None:
                if sib in owner:
                    return owner[sib]
                inner = [n for n in sib.iter() if n in owner]
                if inner:
                    return owner[inner[0]]
                sib = sib.getprevious()
            return None
    return None

