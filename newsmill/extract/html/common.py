"""Turning one comment's markup into a RawComment, shared by every comment layer.

A layer says where a comment is (its element) and, when it knows, which nodes
hold the author, the date, the text and the likes.  Whatever it leaves open is
read generically here: the date from ``time[datetime]``/ISO attributes or the
first date-like string, the author from the short text next to it, the text from
what remains once nested replies, stamps and widget buttons are left out.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timezone

from lxml import etree

from newsmill.extract.dates import DateMatch, find_date
from newsmill.extract.html import signals
from newsmill.extract.html.tree import flat_name, flat_text, node_text
from newsmill.extract.lexicon import Lexicon, lexicon, lexicon_of
from newsmill.extract.stamps import clean_name
from newsmill.profiles import Profile
from newsmill.records import RawComment

_ISO = re.compile(r"^\s*(?:19|20)\d\d-[01]\d-[0-3]\d(?:[T ][0-2]\d:[0-5]\d(?::[0-5]\d(?:\.\d+)?)?(?:Z|[+-]\d\d:?\d\d)?)?\s*$")
_EPOCH = re.compile(r"^\s*(1[0-9]{9})(?:\d{3})?\s*$")
_COUNT = re.compile(r"[+-]?\d[\d,.]*\s*[kK]?")
_DATED = etree.XPath(".//time[@datetime] | .//abbr[@title] | .//*[@datetime] | .//*[@itemprop][@content]")
_DATE_ATTRS = ("datetime", "content", "title", "data-datetime", "data-time", "data-timestamp", "data-utime", "data-date")
_EMPTY_BRACKETS = re.compile(r"\(\s*\)|\[\s*\]")


@dataclass
class Found:
    """What a layer located for one comment (any of the node fields may be missing)."""

    element: object
    author: object = None  # element, or a string from structured data
    date: object = None
    text: list = field(default_factory=list)
    likes: object = None
    stamp: object = None  # a node whose text holds the author and date together ('Jo | May 1, 2012')
    skip: list = field(default_factory=list)  # nodes to leave out of the text (nested replies, buttons)
    depth: int | None = None
    parent: int | None = None
    # nodes of other comments inside this one (its replies): never read for its signals; None: ``skip``
    nested: list | None = None
    scopes: list = field(default_factory=list)  # other elements the comment is made of (Blogger's dt + dd)
    dislikes: object = None  # element, or a number from structured data
    permalink: object = None  # element (a link), or a URL or anchor from structured data
    # the system's own selectors for what ``signals`` reads (tried before the common ones)
    selectors: dict = field(default_factory=dict)


def date_from_attrs(el) -> str | None:
    """An ISO date from a node's datetime/content/title attributes, or from a <time>/<abbr> inside it."""
    nodes = [el] if el.tag in ("time", "abbr", "meta", "span", "a", "div", "p", "small", "em") else []
    nodes += _DATED(el)
    for node in nodes:
        for attr in _DATE_ATTRS:
            val = node.get(attr)
            if not val:
                continue
            if _ISO.match(val):
                return val.strip()
            if attr in ("data-timestamp", "data-utime", "data-time") and (m := _EPOCH.match(val)):
                return datetime.fromtimestamp(int(m.group(1)), tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S+00:00")
    return None


def date_from_text(text: str, *, day_first: bool, default_year: int | None = None,
                   lex: Lexicon | None = None) -> tuple[str | None, DateMatch | None]:
    m = find_date(text, day_first=day_first, default_year=default_year, relative=True, lex=lex)
    if m is None:
        return None, None
    return text[m.start : m.end].strip(" ,|-–—·•()"), m


def parse_count(text: str | None) -> int | None:
    if not text:
        return None
    m = _COUNT.search(text)
    if not m:
        return None
    s = m.group(0).strip().replace(",", "")
    mult = 1000 if s[-1:] in "kK" else 1
    s = s.rstrip("kK").strip()
    try:
        return int(float(s) * mult)
    except ValueError:
        return None


def author_name(text: str | None, lex: Lexicon | None = None) -> str | None:
    if not text:
        return None
    lex = lex or lexicon()
    s = " ".join(_EMPTY_BRACKETS.sub(" ", text).split())
    s = lex.name_lead.sub("", s)
    s = lex.name_trail.sub("", s).strip(" |:-–—")
    if not re.search(r"[^\W\d_]", s):
        return None  # a counter or a time ('1', '10:16') is no name
    name = clean_name(s, lex) if s else None
    return name or (s if s and len(s) <= 48 and len(s.split()) <= 6 else None)


def _name_in(piece: str, lex: Lexicon) -> str | None:
    piece = lex.stamp_noise.sub(" ", piece)
    if lex.connector_only.match(piece):
        return None
    name = author_name(piece, lex)
    return None if not name or lex.connector_only.match(name) else name


def stamp_parts(text: str, *, day_first: bool, lex: Lexicon | None = None) -> tuple[str | None, str | None]:
    """(author, date) from a stamp line such as 'Jo on May 1, 2012 at 3:04 pm', 'Posted by: Jo | May 1, 2012'
    or 'posted on DATE by Jo'; the author may also stand on a line of its own before the date."""
    lex = lex or lexicon()
    lines = [ln.strip() for ln in text.split("\n") if ln.strip()]
    author = date = None
    for ln in lines[:6]:
        raw, m = date_from_text(ln, day_first=day_first, lex=lex)
        if m is not None and date is None:
            date = raw
            before, after = ln[: m.start], ln[m.end :]
            for piece in ((after, before) if lex.after_name.search(after) else (before, after)):
                if author is None and re.search(r"\w", piece):
                    author = _name_in(piece, lex)
        elif author is None and m is None and len(ln) <= 60:
            author = _name_in(ln, lex)
        if author and date:
            break
    return author, date


def _artifact_free(text: str, profile: Profile) -> str:
    paras = []
    for para in text.split("\n\n"):
        lines = [ln for ln in para.split("\n") if not profile.artifact_line.match(ln.strip())]
        if lines:
            paras.append("\n".join(lines))
    return "\n\n".join(paras)


def build(found: Found, profile: Profile, *, captured_at: datetime | None = None) -> RawComment | None:
    """The comment a layer located, with missing fields read generically; None when it has no text."""
    day_first = profile.day_first
    lex = lexicon_of(profile)
    skip = set(found.skip)
    author = found.author
    if author is not None and not isinstance(author, str):
        skip.add(author)
        author = author_name(flat_name(author), lex)
    posted = found.date
    if posted is not None and not isinstance(posted, str):
        skip.add(posted)
        posted = date_from_attrs(posted) or date_from_text(flat_text(posted), day_first=day_first, lex=lex)[0] or None
    if found.stamp is not None:
        skip.add(found.stamp)
        if author is None or posted is None:
            a, d = stamp_parts(node_text(found.stamp), day_first=day_first, lex=lex)
            author = author or a
            posted = posted or date_from_attrs(found.stamp) or d
    shown = signals.Shown()
    if found.element is not None:
        shown = signals.read(found.element, scopes=found.scopes, nested=found.skip if found.nested is None else found.nested,
                             text_nodes=found.text, taken=(found.author, found.date, found.stamp),
                             likes_sel=found.selectors.get("likes", ()), dislikes_sel=found.selectors.get("dislikes", ()),
                             permalink_sel=found.selectors.get("permalink", ()), extra_dir=profile.extra_dir)
        skip.update(shown.skip)
    likes, dislikes = (_count(v, skip) for v in (found.likes if found.likes is not None else shown.likes,
                                                    found.dislikes if found.dislikes is not None else shown.dislikes))
    permalink = found.permalink
    if permalink is not None and not isinstance(permalink, str):
        permalink = permalink.get("href") or None
    permalink = permalink or shown.permalink
    if found.text:
        text = "\n\n".join(t for t in (node_text(t, skip) for t in found.text) if t)
        if (author is None or posted is None) and found.element is not None:
            # what the comment shows around its text (a header or footer line) holds the stamp
            a, d = stamp_parts(node_text(found.element, skip | set(found.text)), day_first=day_first, lex=lex)
            author, posted = author or a, posted or d
        if posted is None:  # 'On May 1, 2012 at 2:35am, Rosa said:' opening the text block
            head, rest = _split_head(text, day_first=day_first, lex=lex)
            if head and len(head) <= 160 and rest:
                a, d = stamp_parts(head, day_first=day_first, lex=lex)
                if d:
                    author, posted, text = author or a, d, rest
    else:
        text = node_text(found.element, skip)
        if author is None or posted is None:
            # the stamp is in the item's own text: take it from the first lines and drop those lines
            head, rest = _split_head(text, day_first=day_first, lex=lex)
            if head:
                a, d = stamp_parts(head, day_first=day_first, lex=lex)
                if d or a:
                    author, posted, text = author or a, posted or d, rest
    text = _artifact_free(text, profile).strip()
    if not text and shown.moderation not in ("removed", "deleted"):
        return None  # (an empty item marked deleted is kept: its place in the thread and its replies are real)
    return RawComment(author=author or None, posted_raw=posted or None, text=text, depth=found.depth,
                      likes=likes, parent_index=found.parent, dislikes=dislikes, marked_edited=shown.marked_edited,
                      moderation=shown.moderation, badges=shown.badges, permalink=permalink)


def _count(value, skip: set) -> int | None:
    """A vote count from structured data (a number or text) or from the node showing it (then left out of
    the text)."""
    if value is None or isinstance(value, int):
        return value
    if isinstance(value, str):
        return parse_count(value)
    skip.add(value)
    return parse_count(value.get("content") or flat_text(value))


def _split_head(text: str, *, day_first: bool, lex: Lexicon) -> tuple[str, str]:
    """The item's leading short lines up to and including its date line, and the rest."""
    lines = text.split("\n")
    for i, ln in enumerate(lines[:5]):
        s = ln.strip()
        if not s:
            continue
        if len(s) > 160:
            break
        if find_date(s, day_first=day_first, relative=True, lex=lex):
            return "\n".join(lines[: i + 1]), "\n".join(lines[i + 1 :]).strip()
    return "", text


def owned_by(node, item, items: set) -> bool:
    """True when ``node``'s nearest enclosing comment item is ``item`` (not a nested reply)."""
    for anc in node.iterancestors():
        if anc is item:
            return True
        if anc in items:
            return False
    return False


def thread(elements: list) -> list[tuple[int, int | None]]:
    """(depth, parent index) of each comment element from DOM nesting: the nearest enclosing
    comment element is the parent."""
    index = {el: i for i, el in enumerate(elements)}
    out = []
    for el in elements:
        parent = next((index[a] for a in el.iterancestors() if a in index), None)
        out.append((0 if parent is None else out[parent][0] + 1, parent))
    return out
