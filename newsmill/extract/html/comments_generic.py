"""Layer 3: comments on pages with neither schema.org data nor a known system's markup.

A comment list is a run of blocks of the same kind (tag and class, digits and
odd/even markers aside) that each carry one date-like string (``find_date``,
relative times included, or a ``time[datetime]``) and a text.  Among all kinds of
block that enclose the dates, the one with the most such blocks wins; a block
nested in a block of the same kind is a reply (depth and parent from nesting).
The author is the short name next to the date (the block's stamp line).
"""
from __future__ import annotations

import re
from functools import lru_cache
from contextvars import ContextVar
from typing import NamedTuple

from lxml import etree

from newsmill.extract.dates import find_date
from newsmill.extract.lexicon import Lexicon, lexicon_of
from newsmill.extract.html.common import Found, build, stamp_parts
from newsmill.extract.html.attrs import page_attrs
from newsmill.extract.html.comments_profiles import outside_widgets
from newsmill.extract.html.tree import SKIP_TAGS, claim, flat_text, node_text
from newsmill.profiles import Profile
from newsmill.records import RawComment

_TEXTS = etree.XPath("//body//text()[string-length(normalize-space()) > 3][string-length(normalize-space()) < 120]")
_TIMES = etree.XPath("//body//time[@datetime] | //body//abbr[@title][contains(@class,'published') or contains(@class,'date')]")
_DIGITS = re.compile(r"\d+")
MAX_LEVELS = 7
MIN_TEXT = 15
STAMP_MAX = 160  # characters: an ancestor with more text than this is past the stamp line


_ALTERNATING = re.compile(r"^(?:alt|odd|even)[-_]+|[-_]+(?:alt|odd|even)$")


def _sig(el) -> tuple:
    # 'alt-comment'/'comment' and 'comment_odd'/'comment_even' are one kind of block
    volatile = _page().profile.volatile_class.match
    cls = tuple(sorted({_DIGITS.sub("N", _ALTERNATING.sub("", c)) for c in (el.get("class") or "").split() if not volatile(c)}))
    ident = _DIGITS.sub("N", el.get("id") or "") if not cls and _DIGITS.search(el.get("id") or "") else ""
    return el.tag, cls, ident


def _anchors(tree, day_first: bool, lex: Lexicon) -> list:
    """(element holding a date, raw date) in document order."""
    out, seen = [], set()
    maybe_date = lex.maybe_date.search
    for el in _TIMES(tree):
        out.append(el)
        seen.add(el)
    for t in _TEXTS(tree):
        if not maybe_date(t):
            continue
        el = t.getparent()
        if t.is_tail:
            el = el.getparent()
        if el is None or el in seen or not isinstance(el.tag, str) or el.tag in SKIP_TAGS or el.tag == "a" and el.getparent() is None:
            continue
        if next(el.iterancestors(*SKIP_TAGS), None) is not None:  # (tag filter in C: no proxy per ancestor)
            continue
        if find_date(str(t), day_first=day_first, relative=True, default_year=None, lex=lex) is None:
            continue
        seen.add(el)
        out.append(el)
    return out


def _candidates(anchors: list) -> dict:
    """signature -> {block element: [anchors inside]} over every ancestor level of every anchor."""
    groups: dict[tuple, dict] = {}
    for a in anchors:
        level = 0
        for anc in a.iterancestors():
            if anc.tag in ("body", "html"):
                break
            level += 1
            if level > MAX_LEVELS:
                break
            sig = _sig(anc)
            groups.setdefault(sig, {}).setdefault(anc, []).append(a)
            ident = anc.get("id") or ""
            if _DIGITS.search(ident):  # records numbered in their id ('comment-930616') whatever their classes
                groups.setdefault((sig[0], (), _DIGITS.sub("N", ident), "~"), {}).setdefault(anc, []).append(a)
            if len(sig[1]) > 1:  # the same kind of block with per-comment classes ('by-jo', 'comment-author-jo')
                first = _DIGITS.sub("N", (anc.get("class") or "").split()[0])
                hinted = tuple(c for c in sig[1] if _hint(c))
                for relaxed in {(first,), hinted} - {()}:
                    groups.setdefault((sig[0], relaxed, "~"), {}).setdefault(anc, []).append(a)
    return groups


class _Page(NamedTuple):
    profile: Profile  # its comment and listing hints, volatile classes, commenter links
    lex: Lexicon  # its words (dates, stamps)


# the profile and lexicon of the page being read, set by extract and undated (a context variable: pages may
# be read in threads)
_PAGE: ContextVar[_Page] = ContextVar("comment_page")
_page = _PAGE.get


def _set_page(profile: Profile) -> None:
    _PAGE.set(_Page(profile, lexicon_of(profile)))


@lru_cache(maxsize=16384)
def _found(pattern: re.Pattern, attrs: str) -> bool:
    """``pattern.search(attrs)``, remembered: pages repeat the same class strings on many blocks."""
    return pattern.search(attrs) is not None


def _hint(attrs: str) -> bool:
    return _found(_page().profile.comment_hint, attrs)


def _listing_hint(attrs: str) -> bool:
    return _found(_page().profile.listing_hint, attrs)


def _hinted(el) -> bool:
    for node in (el, *list(el.iterancestors())[:8]):
        if node.tag in ("body", "html"):  # 'has-comments' on <body> does not make every list a comment list
            break
        attrs = f"{node.get('class') or ''} {node.get('id') or ''}"
        if _hint(attrs):
            return True
    return False


def _negative(el) -> bool:
    """The block stands in a navigation, sidebar, teaser or other listing region (nearer than any comment hint)."""
    for node in (el, *el.iterancestors()):
        if node.tag in ("body", "html"):  # a page-type class on <body> ('archive', 'nav-open') says nothing of the list
            break
        attrs = f"{node.get('class') or ''} {node.get('id') or ''}"
        if node.tag in ("nav", "aside", "header") and not _hint(attrs):  # '<aside class="comments">' is fine
            return True
        if _hint(attrs):
            return False  # the nearest hint says comments: a listing word further up (the page's main column) does not count
        if _listing_hint(attrs):
            return True
    return False


_LINKS = etree.XPath(".//a[@href]")
_HEADINGS = etree.XPath(".//h2 | .//h3 | .//h4 | .//h5 | .//h6")
# story pictures and linked thumbnails; avatars are a plain small img
_MEDIA = etree.XPath(".//picture | .//video | .//figure | .//img[@srcset] | .//a//img[not(@width) or number(@width) >= 64]")
_WORDS = re.compile(r"\w+")


def _words(el) -> list[str]:
    return _WORDS.findall(el.text_content())


def _headline(el) -> bool:
    """A link or heading of five words or more that is no date: another story's title."""
    words = _words(el)
    if len(words) < 5:
        return False
    text = " ".join(el.text_content().split())
    return find_date(text, day_first=None, relative=True, default_year=None, lex=_page().lex) is None




def _listing_block(el, *, headings: bool = False) -> bool:
    """A teaser, related link or listing entry rather than a reader's comment: the block sits in a link,
    or shows a headline (a link of several words to another page; with ``headings``, a heading too), or
    is mostly link text.  Links a commenter adds (rel=nofollow/ugc: their site) or that stay on the page
    or go to a user's profile are no headline."""
    if next(el.iterancestors("a"), None) is not None:
        return True
    total = len(" ".join(el.text_content().split()))
    linked = 0
    commenter_link = _page().profile.commenter_link
    for a in _LINKS(el):
        href = (a.get("href") or "").strip()
        text_len = len(" ".join(a.text_content().split()))
        linked += text_len
        if not href or commenter_link.search(href) or re.search(r"nofollow|ugc|external", a.get("rel") or ""):
            continue
        if _headline(a):
            return True
    if headings and any(_headline(h) for h in _HEADINGS(el)):
        return True
    return total > 0 and linked / total > 0.7


def _items(good: list, levels: int = 4) -> list:
    """Each block widened to its item: the highest ancestor (a few levels up) that holds no other block, so
    that a block which is only the stamp line of a teaser is judged with the teaser's headline."""
    count: dict = {}
    for b in good:  # (every block, not the sample: a block outside it may share the ancestor)
        for anc in list(b.iterancestors())[:levels]:
            count[anc] = count.get(anc, 0) + 1
    out = []
    for b in good:
        item = b
        for anc in list(b.iterancestors())[:levels]:
            if count.get(anc, 0) > 1 or anc.tag in ("body", "html"):
                break
            item = anc
        out.append(item)
    return out


def _listing(good: list, *, strict: bool = False) -> bool:
    """Half or more of the blocks (of the first ten) are listing entries.  ``strict`` (a list with no comment
    hint): a heading in the item is enough."""
    sample = _items(good)[:10] if len(good) > 1 else good
    hits = sum(1 for b in sample if _listing_block(b, headings=strict) or strict and (_HEADINGS(b) or _MEDIA(b)))
    return hits * 2 >= len(sample)


def _siblings(good: list) -> bool:
    """The top-level blocks (not nested in another) stand side by side: some parent holds two of them."""
    members = set(good)
    parents: dict = {}
    for b in good:
        if _nearest(b, members) is None:
            parents[b.getparent()] = parents.get(b.getparent(), 0) + 1
    return len(parents) <= 1 or max(parents.values()) >= 2


def _evaluate(blocks: dict) -> tuple[list, int]:
    """The blocks that look like one comment each, and a score."""
    members = set(blocks)
    good = []
    for el, anchors in blocks.items():
        # an anchor is the block's own when no other block of the kind stands between them (a nested reply)
        own = [a for a in anchors if _nearest(a, members, el, inclusive=True) is el]
        if not 1 <= len(own) <= 2:
            continue
        if el.find(".//h1") is not None or el.find(".//h2") is not None:
            continue
        good.append(el)
    return good, len(good)


def _nearest(node, members, stop=None, *, inclusive: bool = False):
    """The first of ``members`` on the way up from ``node`` (itself included when ``inclusive``), or
    ``stop`` when that comes first, or None: one walk up the ancestors instead of a scan of every
    member's ancestors (which made pages with long threads quadratic)."""
    if inclusive and node is not stop and node in members:
        return node
    for anc in node.iterancestors():
        if anc is stop or anc in members:
            return anc
    return None


def extract(tree, profile: Profile, *, captured_at=None) -> list[RawComment]:
    _set_page(profile)
    anchors = outside_widgets(_anchors(tree, profile.day_first, _page().lex), tree, profile.extra_dir)
    if len(anchors) < 1:
        return []
    scored = []
    for sig, blocks in _candidates(anchors).items():
        if sig[0] in ("tr", "td", "table", "tbody", "form", "p", "span", "a", "small", "em", "strong", "b", "i", "time", "abbr"):
            continue
        if len(blocks) < 2 and not all(_hinted(b) and len(b.text_content()) < 6000 for b in blocks):
            continue
        good, score = _evaluate(blocks)
        if not good:
            continue
        hinted = sum(1 for b in good[:5] if _hinted(b)) >= min(len(good), 5) / 2
        if not hinted and (sig[-1] == "~" or not _siblings(good)):
            # blocks grouped by their first class only (a theme's generic wrapper) or scattered over the page
            # (one per column) need a comment hint
            continue
        if not hinted and (score < 3 or any(_negative(b) for b in good[:3])):
            continue
        if any(_negative(b) for b in good[:3]) and score < 3:
            continue
        size = sum(len(" ".join(b.text_content().split())) for b in good[:10]) / min(len(good), 10)
        if size < 30 or _listing(good, strict=not hinted):
            continue
        scored.append(((score, hinted, size), good))
    best, best_key = None, None
    if scored:
        scored.sort(key=lambda kv: kv[0], reverse=True)
        best_key, best = scored[0]
        # a block kind that wraps the winner's blocks (the comment around its header line) and holds
        # nearly as many of them is the better unit
        for key, good in scored[1:]:
            if key[0] >= 0.85 * best_key[0] and key[2] > best_key[2] and best[0] in good[0].iterdescendants():
                best, best_key = good, key
                break
    long = _Long(STAMP_MAX)
    runs = _sibling_runs(anchors, long)
    if runs and not _hinted(runs[0][0]) and (len(runs) < 3 or _listing([b for _, body in runs for b in body[:1]], strict=True)
                                             or not _named(runs)):
        runs = []  # two dated lines between blocks, stamps over teasers, or bare dates, with no hint of comments: not a thread
    if runs and (best_key is None or len(runs) > best_key[0]):
        return _read_runs(runs, profile, captured_at)
    if not best:
        return []
    return _read(best, anchors, profile, captured_at, long)


class _Long:
    """``_longer_than(el, n)``, remembered per element: the stamp searches of every anchor climb
    through the same ancestors."""

    def __init__(self, n: int):
        self.n, self.seen = n, {}

    def __call__(self, el) -> bool:
        known = self.seen.get(el)
        if known is None:
            known = self.seen[el] = _longer_than(el, self.n)
        return known


def _outer_stamp(anchor, long: _Long):
    node = anchor
    for anc in anchor.iterancestors():
        if anc.tag in ("body", "html") or long(anc):
            break
        node = anc
    return node


def _longer_than(el, n: int) -> bool:
    """Cheap test (C-level text_content) before the exact visible-text length."""
    raw = el.text_content()
    if len(" ".join(raw.split())) <= n:
        return False
    return len(flat_text(el)) > n if len(raw) < 4 * n else True


def _sibling_runs(anchors: list, long: _Long) -> list[tuple]:
    """Stamps that stand between their comments' text blocks as siblings (Movable Type's
    '<div>text</div><p class="posted">Posted by: Jo at DATE</p>', dt/dd-like pairs): (stamp, [text blocks])."""
    groups: dict[tuple, list] = {}
    for a in anchors:
        s = _outer_stamp(a, long)
        parent = s.getparent()
        if parent is None or s.tag in ("a", "span", "time", "abbr", "em", "strong", "b", "i", "small"):
            continue
        members = groups.setdefault((parent, _sig(s)), [])
        if s not in members:
            members.append(s)
    best: list[tuple] = []
    for (parent, _), stamps in groups.items():
        if len(stamps) < 2 or _negative(parent):
            continue
        kids = [k for k in parent if isinstance(k.tag, str)]
        pos = {k: i for i, k in enumerate(kids)}
        stamp_set = set(stamps)
        for step in (-1, 1):  # -1: the text comes before its stamp (footer); +1: after it (header)
            sigs = [_sig(kids[pos[s] + step]) for s in stamps if 0 <= pos[s] + step < len(kids)]
            if not sigs:
                continue
            body_sig = max(set(sigs), key=sigs.count)
            if sigs.count(body_sig) < max(2, len(stamps) * 0.6) or body_sig == _sig(stamps[0]):
                continue
            runs = []
            for s in stamps:
                body, j = [], pos[s] + step
                while 0 <= j < len(kids) and kids[j] not in stamp_set and _sig(kids[j]) == body_sig:
                    body.append(kids[j])
                    j += step
                if body and len(flat_text(body[0])) >= MIN_TEXT // 3:
                    runs.append((s, body[::step]))
            if len(runs) > len(best) and sum(len(flat_text(b[0])) for _, b in runs) / len(runs) >= 30:
                best = runs
    return best


_NAME = re.compile(r"[^\W\d_]{2}")


def _named(runs: list[tuple]) -> bool:
    """Most stamps name someone besides the date ('Posted by: Jo at DATE'): bare dates between blocks are
    an article's own timeline, not its comments."""
    named = 0
    for stamp, _ in runs[:10]:
        a, _d = stamp_parts(node_text(stamp), day_first=None, lex=_page().lex)
        named += bool(a and _NAME.search(a))
    return named * 2 > min(len(runs), 10)


def _read_runs(runs: list[tuple], profile: Profile, captured_at) -> list[RawComment]:
    out = []
    for stamp, body in runs:
        rc = build(Found(element=stamp, stamp=stamp, text=body, depth=0), profile, captured_at=captured_at)
        if rc is not None:
            out.append(rc)
            claim(stamp)
            for b in body:
                claim(b)
    return out


def _stamp_of(anchor, block, long: _Long):
    """The anchor's nearest ancestor inside the block whose text is still short: the stamp line."""
    node = anchor
    for anc in anchor.iterancestors():
        if anc is block:
            break
        if long(anc) or _holds_text_beside(anc, node):
            break
        node = anc
    return node


_TEXT_BLOCKS = ("p", "div", "blockquote", "ul", "ol", "pre")


def _holds_text_beside(anc, node) -> bool:
    """``anc`` has, beside the branch of ``node``, a paragraph of text: a short comment's own words, which
    the stamp line must not swallow."""
    for kid in anc:
        if kid is node or not isinstance(kid.tag, str) or kid.tag not in _TEXT_BLOCKS:
            continue
        if len(flat_text(kid)) >= MIN_TEXT and node not in kid.iterdescendants():
            return True
    return False


def _nesting(blocks: list) -> tuple[dict, dict, dict]:
    """Blocks in page order: each one's position, its nearest enclosing block (None at the top) and
    the blocks directly nested in it."""
    index = {b: i for i, b in enumerate(blocks)}
    parent_of = {b: _nearest(b, index) for b in blocks}
    children: dict = {}
    for b in blocks:
        if parent_of[b] is not None:
            children.setdefault(parent_of[b], []).append(b)
    return index, parent_of, children


def _read(blocks: list, anchors: list, profile: Profile, captured_at, long: _Long) -> list[RawComment]:
    # the block tree in one pass: each block's nearest enclosing block, each anchor's
    index, parent_of, children = _nesting(blocks)
    owned: dict = {}  # block -> the anchors no nested block stands between (the block itself counts as its own)
    for a in anchors:
        holder = a if a in index else _nearest(a, index)
        if holder is not None:
            owned.setdefault(holder, []).append(a)
        if a in index and (up := parent_of[a]) is not None:
            owned.setdefault(up, []).append(a)  # an anchor that is itself a nested block still dates its parent
    out: list[RawComment] = []
    kept: dict[int, int] = {}
    depths: dict[int, int] = {}
    for i, block in enumerate(blocks):
        nested = children.get(block, [])
        own = _first_in_order(block, owned.get(block, []))
        stamp = _stamp_of(own, block, long) if own is not None else None
        parent = index[parent_of[block]] if parent_of[block] is not None else None
        depth = depths[parent] + 1 if parent is not None and parent in depths else 0
        depths[i] = depth
        f = Found(element=block, date=own, stamp=stamp, skip=nested, depth=depth,
                  parent=kept.get(parent) if parent is not None else None)
        if stamp is not None and own is not None and stamp is not own:
            f.date = None  # read author and date together from the stamp line
        rc = build(f, profile, captured_at=captured_at)
        if rc is None or len(rc.text) < MIN_TEXT // 3:
            continue
        if len(blocks) == 1 and rc.author is None and rc.posted_raw is None:
            continue  # a lone block with neither author nor date: the empty section's widgets, not a comment
        kept[i] = len(out)
        out.append(rc)
        claim(block)
    return out


def _first_in_order(root, nodes: list):
    """The first of ``nodes`` (all inside ``root``) in document order."""
    if len(nodes) < 2:
        return nodes[0] if nodes else None
    wanted = set(nodes)
    return next((n for n in root.iter() if n in wanted), None)


# ----------------------------------------------------------------------------- lists without dates

_ALL = etree.XPath("//body//*[@class or @id]")
_FORMISH = etree.XPath(".//form | .//textarea | .//input[@type='text' or @type='email' or not(@type)]")
MAX_NAME = 60


def _marked_name(el, author_hint) -> bool:
    if el is None:
        return False
    return any(n.tag == "cite" or author_hint.search(f"{n.get('class') or ''} {n.get('id') or ''}")
               for n in (el, *list(el.iterancestors())[:2]))


def _record(el) -> bool:
    """A block that names itself a comment and carries a record number (id="comment-2809")."""
    return _own_hint(el) and bool(_DIGITS.search(el.get("id") or ""))


def _own_hint(el) -> bool:
    attrs = f"{el.get('class') or ''} {el.get('id') or ''}"
    return _hint(attrs) and not _listing_hint(attrs)


def _name_node(item, author_hint, skip=frozenset()):
    """The element holding the commenter's name: a short line with letters; a <cite> first, else the
    shortest one whose class says so, else the first short line."""
    first, hinted = None, []
    for el in item.iter():
        if el is item or not isinstance(el.tag, str) or el.tag in SKIP_TAGS:
            continue
        if skip and (el in skip or any(a in skip for a in el.iterancestors())):
            continue  # a nested reply's name
        text = flat_text(el)
        if not (2 <= len(text) <= MAX_NAME) or len(text.split()) > 6 or not _NAME.search(text):
            continue
        if el.tag == "cite":
            return el
        if author_hint.search(f"{el.get('class') or ''} {el.get('id') or ''}"):
            hinted.append((len(text), el))
        elif first is None and el.tag != "p":
            first = el
    if not hinted:
        return first
    best = min(hinted, key=lambda t: t[0])[1]
    # a name block that also shows a score or a badge: the link in it is the name
    link = next((a for a in best.iter("a") if 2 <= len(flat_text(a)) <= MAX_NAME and _NAME.search(flat_text(a))), None)
    return link if link is not None and len(flat_text(link)) < len(flat_text(best)) else best


def undated(tree, profile: Profile, *, captured_at=None) -> list[RawComment]:
    """Comment lists that show no date: the children of a comment-named container (``ol.commentlist``,
    ``div#comments``) that repeat one kind of block, each with a short name line and a text."""
    _set_page(profile)
    attrs = page_attrs(tree)
    if profile.comment_hint.search(attrs.classes) is None and profile.comment_hint.search(attrs.ids) is None:
        return []  # no class or id names a comment list (hints are words within one name: no match spans two)
    best: list = []
    seen: set = set()
    for box in _ALL(tree):
        if box in seen or not _own_hint(box) or _negative(box) or _FORMISH(box) and len(flat_text(box)) < 200:
            continue
        kids = [k for k in box if isinstance(k.tag, str) and k.tag not in SKIP_TAGS]
        while len(kids) == 1 and not _record(kids[0]):  # a wrapper around the list (not the list's only comment)
            seen.add(kids[0])
            kids = [k for k in kids[0] if isinstance(k.tag, str) and k.tag not in SKIP_TAGS]
        if not kids:
            continue
        sigs: dict = {}
        for k in kids:  # one kind: same tag and classes, or records numbered in their id ('answer-1', 'answer-2')
            ident = k.get("id") or ""
            sigs.setdefault((k.tag, "#", _DIGITS.sub("N", ident)) if _DIGITS.search(ident) else _sig(k), []).append(k)
        items = max(sigs.values(), key=len)
        if items[0].tag in ("form", "p", "span", "a", "h1", "h2", "h3", "h4", "h5", "h6", "br", "img", "input", "button"):
            continue
        items = [i for i in items if not _FORMISH(i) and len(flat_text(i)) >= MIN_TEXT]
        if len(items) == 1 and not _record(items[0]):
            continue  # one block: only a block that names itself a comment and carries a record number (id="comment-2809")
        if not items or len(items) <= len(best) or _listing(items) or next(box.iterancestors("form"), None) is not None:
            continue
        words = sorted(len(_WORDS.findall(flat_text(i))) for i in items)
        if words[len(words) // 2] < 6:
            continue  # names with a count or a button ('1570 Recommendations'), not names with what they wrote
        named = [(i, _name_node(i, profile.author_hint)) for i in items]
        if sum(1 for _, n in named if n is not None) * 2 < len(named) * 1 + 1 and len(named) > 1:
            continue  # most blocks show no name line
        if len(named) == 1 and not _marked_name(named[0][1], profile.author_hint):
            continue  # a lone block needs a name its markup calls one (<cite>, class="author"), not any short line
        best = named
    return _read_undated([i for i, _ in best], profile, captured_at)


def _read_undated(top: list, profile: Profile, captured_at) -> list[RawComment]:
    """The listed blocks and the replies nested in them (blocks of the same kind or record id inside),
    threaded by nesting; a reply's words are its own, not its parent's."""
    if not top:
        return []
    kinds = {_sig(i) for i in top}
    ids = {_DIGITS.sub("N", i.get("id")) for i in top if _DIGITS.search(i.get("id") or "")}

    def same_kind(el) -> bool:
        ident = el.get("id") or ""
        return _sig(el) in kinds or bool(ident) and _DIGITS.sub("N", ident) in ids

    elements = []
    for item in top:
        elements.append(item)
        elements += [d for d in item.iterdescendants() if isinstance(d.tag, str) and same_kind(d) and len(flat_text(d)) >= MIN_TEXT]
    index, parent_of, children = _nesting(elements)
    out: list[RawComment] = []
    depths: dict[int, int] = {}
    kept: dict[int, int] = {}
    for n, el in enumerate(elements):
        up = index[parent_of[el]] if parent_of[el] is not None else None
        depths[n] = depths[up] + 1 if up is not None else 0
        nested = children.get(el, [])
        name = _name_node(el, profile.author_hint, skip=set(nested))
        rc = build(Found(element=el, author=name, skip=nested, depth=depths[n], parent=kept.get(up) if up is not None else None),
                   profile, captured_at=captured_at)
        if rc is None or len(rc.text) < MIN_TEXT:
            continue
        kept[n] = len(out)
        out.append(rc)
        claim(el)
    return out
