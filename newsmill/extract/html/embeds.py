"""Comment sections that a script fills in: which system a page embeds, from profile data.

Many pages load their comments by script (Disqus, the Facebook comments plugin, OpenWeb,
Viafoura, Coral, ...) or behind a "show comments" button; a capture made without running
scripts holds the embed but not the comments.  Recording the embed tells a researcher that
the page has comments the dataset lacks.

What each system looks like is data: the ``[[embed]]`` tables of
``newsmill/profiles/systems/*.toml`` (next to a system's static comment markup, or alone)::

    [[embed]]
    id = "disqus"                              # the value of articles.comment_system
    script = ['disqus\\.com/embed\\.js']         # regexes on <script src>
    iframe = ['disqus\\.com/embed/comments']     # regexes on <iframe src> (or data-src)
    container = "#disqus_thread"               # CSS: the element the script fills
    tags = ["fb:comments"]                     # element names CSS cannot write (XFBML)
    inline = ['\\bdisqus_shortname\\b']           # regexes on the text of inline scripts
    loader_text = ['^show comments$']          # regexes on the label of a button or of a link a script acts on
    button_text = ['^\\d+ comments$']          # regexes on the label of a <button> only (not a link)
    loader_tokens = ['^load-?comments$']       # regexes on a button-like element's class/id names
    placeholder_text = ['^loading comments']   # regexes on a short text the script replaces ('Loading comments...')
    anchor_text = ['^comments$']               # regexes on the label of an in-page link ('#comments') whose
                                               # target the capture holds empty: the script fills it
    priority = 10                              # the lowest wins when a page shows several

Only signatures of the comment thread itself belong there: a Facebook SDK script or like
button, a share link, a comment *count* widget or a comment *form* is on many pages that
load no comments.  The code here only applies the data: one pass over script, iframe and
button elements per page, CSS selectors skipped when the page lacks the class or id names
they need (as in ``comments_profiles``).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache, cached_property
from pathlib import Path

from lxml import etree
from lxml.cssselect import CSSSelector

from newsmill.extract.html.attrs import PageAttrs, Present, page_attrs
from newsmill.extract.html.comments_profiles import _narrow, walk_narrowed
from newsmill.profiles import system_specs

UNKNOWN = "unknown_script"

_SCRIPT_SRC = etree.XPath("//script/@src", smart_strings=False)
_IFRAME_SRC = etree.XPath("//iframe/@src | //iframe/@data-src | //iframe/@data-lazy-src", smart_strings=False)
# inline scripts that run (no type, or a JavaScript type); JSON data blocks are not configuration
_INLINE = etree.XPath("//script[not(@src)][not(@type) or contains(translate(@type, 'JAVSCRIPTMODULE', "
                      "'javscriptmodule'), 'javascript') or contains(translate(@type, 'MODULE', 'module'), 'module')]"
                      "/text()", smart_strings=False)
# what a reader clicks to load comments: a button, an element that says it is one, or a link that goes
# nowhere by itself (no href, '#...', 'javascript:'): a script acts on it
_IN_PAGE_HREF = "not(@href) or starts-with(@href, '#') or starts-with(translate(@href, 'JAVSCRIPT', 'javscript'), 'javascript:')"
_BUTTON_LIKE = etree.XPath(f"self::button or @role = 'button' or self::a[{_IN_PAGE_HREF}]")
_LOADER_MAX_CHARS = 60  # a button's label, not a paragraph that mentions comments
_LABELLED_BUTTONS = etree.XPath(
    f"(//button | //*[@role = 'button'] | //a[{_IN_PAGE_HREF}])"
    f"[string-length(normalize-space()) <= {_LOADER_MAX_CHARS}][normalize-space()]")
_NAMED = etree.XPath("//*[contains(concat(' ', normalize-space(@class), ' '), concat(' ', $name, ' ')) or @id = $name]")
# short text nodes (script and style text is one long node: not worth the ancestor test)
_SHORT_TEXT = etree.XPath(f"//text()[string-length(normalize-space()) >= 6][string-length(normalize-space()) <= {_LOADER_MAX_CHARS}]",
                          smart_strings=False)
_FRAGMENT_LINKS = etree.XPath(f"//a[starts-with(@href, '#') and string-length(@href) > 1]"
                              f"[string-length(normalize-space()) <= {_LOADER_MAX_CHARS}][normalize-space()]")
_TARGET = etree.XPath("//*[@id = $name]")
_NAMED_ANCHOR = etree.XPath("//a[@name = $name and not(@id = $name)] | //a[@id = $name][not(normalize-space())][not(*)]")
# no text, no form, no frame: nothing but the place a script fills
_EMPTY = etree.XPath("not(normalize-space()) and not(.//form or .//textarea or .//input or .//iframe or .//img)")
_VISIBLE_TEXT = etree.XPath(".//text()[not(ancestor::script or ancestor::style or ancestor::noscript or ancestor::template)]",
                            smart_strings=False)
# text a filled thread holds (a few comments' worth); a notice ('Please keep comments civil ...', a login
# prompt) is shorter
FILLED_MIN_CHARS = 500


@dataclass(frozen=True)
class Signature:
    """One regex, with a substring that any match contains: a page without it is passed over by a
    C-level substring search instead of a regex scan of its scripts (megabytes on some pages)."""

    regex: re.Pattern
    needle: str | None  # lower-case when the regex ignores case
    folded: bool

    def search(self, text: str, folded: str) -> bool:
        if self.needle is not None and self.needle not in (folded if self.folded else text):
            return False
        return self.regex.search(text) is not None


def _skip_quantifier(pattern: str, i: int) -> tuple[int, bool]:
    """Past a quantifier at ``i`` (and its lazy '?'); whether it lets the item before it be absent."""
    if i >= len(pattern):
        return i, False
    ch = pattern[i]
    if ch in "?*+":
        optional = ch != "+"
        i += 1
    elif ch == "{" and (m := re.match(r"\{(\d*)(?:,\d*)?\}", pattern[i:])):
        optional = m.group(1) in ("", "0")
        i += m.end()
    else:
        return i, False
    if i < len(pattern) and pattern[i] == "?":
        i += 1
    return i, optional


def _needle(pattern: str) -> str | None:
    """The longest run of literal characters a match of ``pattern`` must contain (None when the
    pattern branches at its top level or has no run of 4 characters): only characters outside groups
    and classes, not made optional by a quantifier."""
    runs, cur, depth, i = [], "", 0, 0
    while i < len(pattern):
        ch, lit = pattern[i], None
        if ch == "\\" and i + 1 < len(pattern):
            nxt = pattern[i + 1]
            lit = None if nxt.isalnum() else nxt  # '\.' is a dot; '\b', '\s', '\d' are not literals
            i += 2
        elif ch == "[":  # a class: skip to its closing bracket (a ']' first in the class is literal)
            j = i + 1
            if j < len(pattern) and pattern[j] == "^":
                j += 1
            if j < len(pattern) and pattern[j] == "]":
                j += 1
            while j < len(pattern) and pattern[j] != "]":
                j += 2 if pattern[j] == "\\" else 1
            i = j + 1
        elif ch == "(":
            depth += 1
            i += 1
        elif ch == ")":
            depth -= 1
            i += 1
        elif ch == "|" and depth == 0:
            return None
        else:
            lit = None if ch in ".^$|" else ch
            i += 1
        i, optional = _skip_quantifier(pattern, i)
        if depth == 0 and lit is not None and not optional:
            cur += lit
            if i < len(pattern) and pattern[i - 1] == "+":  # 'a+': the 'a' is required, the run ends there
                runs.append(cur)
                cur = ""
        else:
            runs.append(cur)
            cur = ""
    runs.append(cur)
    best = max(runs, key=len)
    return best if len(best) >= 4 else None


@dataclass(frozen=True)
class Embed:
    id: str
    priority: int
    script: tuple[Signature, ...]
    iframe: tuple[Signature, ...]
    container: CSSSelector | None
    tags: frozenset[str]
    inline: tuple[Signature, ...]
    loader_text: re.Pattern | None
    button_text: re.Pattern | None
    loader_tokens: re.Pattern | None
    placeholder_text: re.Pattern | None
    anchor_text: re.Pattern | None


def _any(patterns: list[str], flags=re.IGNORECASE) -> re.Pattern | None:
    return re.compile("|".join(f"(?:{p})" for p in patterns), flags) if patterns else None


def _signatures(patterns: list[str], *, fold: bool = True) -> tuple[Signature, ...]:
    out = []
    for p in patterns:
        needle = _needle(p)
        out.append(Signature(re.compile(p, re.IGNORECASE if fold else 0),
                             needle.lower() if needle and fold else needle, fold))
    return tuple(out)


def _compile(spec: dict, path: Path) -> Embed:
    try:
        return Embed(
            id=spec["id"], priority=int(spec.get("priority", 50)),
            script=_signatures(spec.get("script", [])), iframe=_signatures(spec.get("iframe", [])),
            container=CSSSelector(spec["container"], translator="html") if spec.get("container") else None,
            tags=frozenset(t.lower() for t in spec.get("tags", [])),
            inline=_signatures(spec.get("inline", []), fold=False),  # script code is case-sensitive
            loader_text=_any(spec.get("loader_text", [])), button_text=_any(spec.get("button_text", [])),
            loader_tokens=_any(spec.get("loader_tokens", [])),
            placeholder_text=_any(spec.get("placeholder_text", []), re.IGNORECASE | re.MULTILINE),
            anchor_text=_any(spec.get("anchor_text", [])),
        )
    except (KeyError, ValueError, TypeError, SyntaxError, re.error) as exc:
        raise ValueError(f"comment embed in {path}: {exc}") from exc


@cache
def load_embeds(extra_dir: str | None = None) -> tuple[Embed, ...]:
    """Every ``[[embed]]`` of the system profiles (and of ``<extra_dir>/systems``), by priority."""
    out = []
    for path, spec in system_specs(extra_dir):
        out += [_compile(e, path) for e in spec.get("embed", [])]
    return tuple(sorted(out, key=lambda e: (e.priority, e.id)))


class _Page:
    """The parts of a page the signatures look at, each read once and only when a signature asks."""

    def __init__(self, tree, present: Present, tokens: set, extra_dir: str | None):
        self.tree, self.present, self.tokens, self.extra_dir = tree, present, tokens, extra_dir

    @cached_property
    def scripts(self) -> str:
        return "\n".join(_SCRIPT_SRC(self.tree))

    @cached_property
    def scripts_folded(self) -> str:
        return self.scripts.lower()

    @cached_property
    def iframes(self) -> str:
        return "\n".join(_IFRAME_SRC(self.tree))

    @cached_property
    def iframes_folded(self) -> str:
        return self.iframes.lower()

    @cached_property
    def inline(self) -> str:
        return "\n".join(_INLINE(self.tree))

    @cached_property
    def tags(self) -> frozenset[str]:
        return frozenset(name[1:].lower() for name in self.present.names if name.startswith("<") and ":" in name)

    @cached_property
    def labels(self) -> tuple[tuple[bool, str], ...]:
        """(a <button>?, label) of each button-like element with a short label."""
        labels = []
        for el in _LABELLED_BUTTONS(self.tree):
            label = " ".join(el.text_content().split())
            if label:
                labels.append((_is_button(el), label))
        return tuple(labels)

    @cached_property
    def short_texts(self) -> str:
        return _short_texts(self.tree)

    @cached_property
    def any_container(self) -> bool:
        """Whether some embed's container is on the page: one walk testing every system's container
        parts (those the page's class and id names allow), instead of a walk per part; most pages
        have none, and then no embed's own selector runs."""
        css = _all_containers(self.extra_dir)
        sel = walk_narrowed(css, self.present) if css else None
        return sel is not None and bool(sel(self.tree))


def _short_texts(tree) -> str:
    """The page's short visible text nodes, one per line (a placeholder is a few words on its own)."""
    return "\n".join(" ".join(t.split()) for t in _SHORT_TEXT(tree))


def _empty_target(label_rx: re.Pattern, tree) -> bool:
    """An in-page link labelled like a comment link ('Comments', 'Read comments', '12 Kommentare') whose
    target the page holds empty: the section a script fills.  A missing target says nothing (pages link
    to '#respond' or '#comments' that their template never wrote, with the comments elsewhere)."""
    for el in _FRAGMENT_LINKS(tree):
        target = el.get("href", "")[1:]
        if not target or not label_rx.search(" ".join(el.text_content().split())):
            continue
        if _NAMED_ANCHOR(tree, name=target):
            continue  # '<a name="comments">' marks a place; the section follows it, not inside it
        found = _TARGET(tree, name=target)
        if found and all(_EMPTY(t) for t in found):
            return True
    return False


def _is_button_like(el) -> bool:
    return bool(_BUTTON_LIKE(el))


def _is_button(el) -> bool:
    return el.tag == "button" or el.get("role") == "button"


def _loader(embed: Embed, tree, page: _Page) -> bool:
    for is_button, label in page.labels:
        if embed.loader_text is not None and embed.loader_text.search(label):
            return True
        if is_button and embed.button_text is not None and embed.button_text.search(label):
            return True
    if embed.loader_tokens is None:
        return False
    # a class or id name of a loader button: first among the page's names (one set), then on the elements
    for name in (n for n in page.tokens if embed.loader_tokens.search(n)):
        if any(_is_button_like(el) for el in _NAMED(tree, name=name)):
            return True
    return False


def _matches(embed: Embed, tree, page: _Page, present: set) -> bool:
    if any(sig.search(page.scripts, page.scripts_folded) for sig in embed.script):
        return True
    if any(sig.search(page.iframes, page.iframes_folded) for sig in embed.iframe):
        return True
    if embed.tags & page.tags:
        return True
    if embed.container is not None and page.any_container and (sel := _narrow(embed.container, present)) is not None \
            and sel(tree):
        return True
    if any(sig.search(page.inline, page.inline) for sig in embed.inline):
        return True
    if embed.placeholder_text is not None and embed.placeholder_text.search(page.short_texts):
        return True
    if embed.anchor_text is not None and _empty_target(embed.anchor_text, tree):
        return True
    return (embed.loader_text is not None or embed.button_text is not None or embed.loader_tokens is not None) \
        and _loader(embed, tree, page)


@cache
def _all_containers(extra_dir: str | None = None) -> str:
    """The container selectors of every embed, as one selector list."""
    return ", ".join(e.container.css for e in load_embeds(extra_dir) if e.container is not None)


@dataclass(frozen=True)
class Detection:
    system: str
    filled: bool  # the element the script fills already holds text: the capture has the thread, unread


def _filled(embed: Embed, tree, present: set) -> bool:
    sel = _narrow(embed.container, present) if embed.container is not None else None
    if sel is None:
        return False
    return any(sum(len(t.strip()) for t in _VISIBLE_TEXT(el)) >= FILLED_MIN_CHARS for el in sel(tree))


def detect_embed(tree, *, attrs: PageAttrs | None = None, extra_dir: str | None = None) -> Detection | None:
    """The comment system the page embeds (the highest priority when it shows several; ``'unknown_script'``
    for a generic script-loaded section), and whether its container already holds a thread's worth of
    text (a static rendering: the comments are in the capture)."""
    attrs = attrs or page_attrs(tree)
    present = attrs.present
    page = _Page(tree, present, attrs.tokens, extra_dir)
    for embed in load_embeds(extra_dir):
        if _matches(embed, tree, page, present):
            return Detection(embed.id, _filled(embed, tree, present))
    return None


def detect(tree, *, attrs: PageAttrs | None = None, extra_dir: str | None = None) -> str | None:
    """The id of the comment system the page embeds, or None (see ``detect_embed``)."""
    found = detect_embed(tree, attrs=attrs, extra_dir=extra_dir)
    return found.system if found else None
