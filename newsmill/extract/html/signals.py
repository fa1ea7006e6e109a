"""What a comment's markup shows about it beyond name, date and text: votes, edit marks, moderation
state, badges and its own permalink or anchor.

The knowledge (CSS selectors, class names, labels in several languages) is data: ``[signals]`` of
``newsmill/profiles/systems/_common.toml`` (a user's ``profiles_dir/systems/_common.toml`` extends it)
and a system's own ``likes``/``dislikes``/``permalink`` selectors; it is compiled once per
``profiles_dir``.  The code only looks at the nodes a comment owns (never its replies'), and reports
only what it finds: a field the page does not show stays None.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from lxml.cssselect import CSSSelector

from newsmill.profiles import systems_common

_MAX_LABEL = 80  # a badge or edit label is a short node of its own
BADGES_ORDER = ("editors_pick", "staff", "article_author", "verified")


def _css(sels) -> CSSSelector | None:
    sels = [s for s in sels if s]
    return CSSSelector(", ".join(sels), translator="html") if sels else None


def _whole(patterns) -> re.Pattern | None:
    patterns = [p for p in patterns if p]
    return re.compile("^(?:" + "|".join(f"(?:{p})" for p in patterns) + r")\W*$", re.I | re.S) if patterns else None


def _any(patterns) -> re.Pattern | None:
    patterns = [p for p in patterns if p]
    return re.compile("|".join(f"(?:{p})" for p in patterns), re.I) if patterns else None


@dataclass(frozen=True)
class Signals:
    likes: CSSSelector | None
    dislikes: CSSSelector | None
    permalink: CSSSelector | None
    permalink_href: re.Pattern | None
    not_permalink: re.Pattern | None
    anchor_id: re.Pattern | None
    edited_class: re.Pattern | None
    edited_label: re.Pattern | None
    moderation_class: tuple[tuple[str, re.Pattern], ...]
    badge_class: tuple[tuple[str, re.Pattern], ...]
    badge_label: tuple[tuple[str, re.Pattern], ...]


@cache
def signals(extra_dir: str | None = None) -> Signals:
    spec = systems_common(extra_dir).get("signals", {})
    try:
        return Signals(
            likes=_css(spec.get("likes", [])), dislikes=_css(spec.get("dislikes", [])),
            permalink=_css(spec.get("permalink", [])), permalink_href=_any(spec.get("permalink_href", [])),
            not_permalink=_any(spec.get("not_permalink", [])),
            anchor_id=re.compile(spec["anchor_id"], re.I) if spec.get("anchor_id") else None,
            edited_class=_whole(spec.get("edited", {}).get("classes", [])),
            edited_label=_whole(spec.get("edited", {}).get("labels", [])),
            moderation_class=tuple((state, p) for state, pats in spec.get("moderation", {}).items()
                                   if (p := _whole(pats)) is not None),
            badge_class=tuple((b, p) for b, d in spec.get("badges", {}).items() if (p := _whole(d.get("classes", []))) is not None),
            badge_label=tuple((b, p) for b, d in spec.get("badges", {}).items() if (p := _whole(d.get("labels", []))) is not None),
        )
    except (re.error, SyntaxError, ValueError) as exc:  # cssselect's SelectorSyntaxError is a SyntaxError
        raise ValueError(f"comment system profile systems/_common.toml [signals]: {exc}") from exc


@dataclass
class Shown:
    likes: object = None  # a node holding the up-vote count
    dislikes: object = None  # a node holding the down-vote count
    marked_edited: bool | None = None
    moderation: str | None = None
    badges: list[str] | None = None
    permalink: str | None = None
    skip: tuple = ()  # label nodes (an edit note, a badge) that are not the commenter's words


def _label(el) -> str | None:
    if len(el) > 4:
        return None
    text = " ".join("".join(el.itertext()).split())
    return text.strip(" ()[]|·•:") if text and len(text) <= _MAX_LABEL else None


def read(element, *, scopes=(), nested=(), text_nodes=(), taken=(), likes_sel=(), dislikes_sel=(), permalink_sel=(),
         extra_dir: str | None = None) -> Shown:
    """What ``element`` (with its other ``scopes``) shows about the comment.  ``nested``: nodes of other
    comments inside it (its replies) and their subtrees, never looked at; ``text_nodes``: the nodes of
    its text (not searched for labels or links); ``taken``: nodes already read as its name or date."""
    sig = signals(extra_dir)
    shown = Shown()
    roots = [element, *[s for s in scopes if s is not element]]
    out_set = set(nested)
    own = []  # the element nodes this comment owns, in document order, its replies' subtrees left out
    for root in roots:
        it = root.iter()
        for node in it:
            if node in out_set:
                # skip the subtree: lxml's iter cannot prune, so step past its descendants
                for _ in node.iterdescendants():
                    next(it, None)
                continue
            if isinstance(node.tag, str):
                own.append(node)
    own_set = set(own)
    in_text = set()
    for t in text_nodes:
        if t in own_set:
            in_text.update(t.iter())
    taken_set = {n for t in taken if t is not None and not isinstance(t, str) for n in t.iter()}

    badges: set[str] = set()
    labels = []
    for node in own:
        classes = (node.get("class") or "").split()
        if node.get("id") and node is not element:
            classes.append(node.get("id"))
        for cls in classes:
            if sig.edited_class is not None and sig.edited_class.match(cls):
                shown.marked_edited = True
            if shown.moderation is None:
                shown.moderation = next((st for st, p in sig.moderation_class if p.match(cls)), None)
            badges.update(b for b, p in sig.badge_class if p.match(cls))
        if node in in_text or node in taken_set or node is element:
            continue
        label = _label(node)
        if not label:
            continue
        if sig.edited_label is not None and sig.edited_label.match(label):
            shown.marked_edited = True
            labels.append(node)
            continue
        hit = [b for b, p in sig.badge_label if p.match(label)]
        if hit:
            badges.update(hit)
            labels.append(node)
    if badges:
        shown.badges = [b for b in BADGES_ORDER if b in badges] + sorted(badges - set(BADGES_ORDER))
    # a label node inside another label node is skipped with it
    shown.skip = tuple(labels)

    def first(sels, *, text_too: bool = False):
        for sel in sels:
            if sel is None:
                continue
            for root in roots:
                for n in sel(root):
                    if n in own_set and (text_too or n not in in_text):
                        return n
        return None

    # a vote counter may sit in the text node (a plugin appends its widget there): it is read, and then
    # left out of the text; a link in the text is the commenter's, never the comment's own
    shown.likes = first([*likes_sel, sig.likes], text_too=True)
    shown.dislikes = first([*dislikes_sel, sig.dislikes], text_too=True)
    shown.permalink = _permalink(sig, element, own, in_text, first([*permalink_sel, sig.permalink]))
    return shown


def _permalink(sig: Signals, element, own: list, in_text: set, chosen) -> str | None:
    if chosen is not None:
        href = chosen.get("href") if chosen.tag == "a" else next((a.get("href") for a in chosen.iter("a") if a.get("href")), None)
        if href and not href.strip().lower().startswith(("javascript:", "mailto:")):
            return href.strip()
    if sig.permalink_href is not None:
        for node in own:
            if node.tag != "a" or node in in_text:
                continue
            href = (node.get("href") or "").strip()
            if not href or not sig.permalink_href.search(href):
                continue
            if sig.not_permalink is not None and (sig.not_permalink.search(href) or sig.not_permalink.search(node.get("class") or "")):
                continue
            return href
    if sig.anchor_id is not None:
        anchor = _anchor(element, sig.anchor_id)
        if anchor:
            return "#" + anchor
    return None


def _anchor(element, pattern: re.Pattern) -> str | None:
    """The id (or name) that addresses the comment: its element's, a wrapper's of which it is the only
    child, its first child's, or that of an empty ``<a name>`` right before it."""
    candidates = [element]
    parent = element.getparent()
    if parent is not None and len(parent) == 1:
        candidates.append(parent)
    if len(element):
        candidates.append(element[0])
    prev = element.getprevious()
    if prev is not None and prev.tag == "a" and not "".join(prev.itertext()).strip():
        candidates.append(prev)
    for node in candidates:
        for attr in ("id", "name"):
            value = (node.get(attr) or "").strip()
            if value and pattern.match(value):
                return value
    return None
