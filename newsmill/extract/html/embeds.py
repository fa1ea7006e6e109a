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
    priority = 10                              # the lowest wins when a page shows several

Only signatures of the comment thread itself belong there: a Facebook SDK script or like
button, a share link, a comment *count* widget or a comment *form* is on many pages that
load no comments.  The code here only applies the data: one pass over script, iframe and
button elements per page, CSS selectors skipped when the page lacks the class or id names
they need (as in ``comments_profiles``).
"""
from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from lxml import etree
from lxml.cssselect import CSSSelector

from newsmill.extract.html.attrs import PageAttrs
from newsmill.extract.html.comments_profiles import SYSTEMS_DIR, _narrow

UNKNOWN = "unknown_script"

_SCRIPT_SRC = etree.XPath("//script/@src", smart_strings=False)
_IFRAME_SRC = etree.XPath("//iframe/@src | //iframe/@data-src | //iframe/@data-lazy-src", smart_strings=False)
# inline scripts that run (no type, or a JavaScript type); JSON data blocks are not configuration
_INLINE = etree.XPath("//script[not(@src)][not(@type) or contains(translate(@type, 'JAVSCRIPTMODULE', "
                      "'javscriptmodule'), 'javascript') or contains(translate(@type, 'MODULE', 'module'), 'module')]"
                      "/text()", smart_strings=False)
# what a reader clicks: buttons, links that go nowhere (a script acts on them), elements that say they are buttons
_BUTTONS = etree.XPath("//button | //*[@role='button'] | //a[not(@href) or starts-with(@href, '#')"
                       " or starts-with(translate(@href, 'JAVSCRIPT', 'javscript'), 'javascript:')]")
_PREFIXED = etree.XPath("//*[contains(name(), ':')]")  # XFBML and other prefixed elements ('fb:comments')
_VISIBLE_TEXT = etree.XPath(".//text()[not(ancestor::script or ancestor::style or ancestor::noscript or ancestor::template)]",
                            smart_strings=False)
# text a filled thread holds (a few comments' worth); a notice ('Please keep comments civil ...', a login
# prompt) is shorter
FILLED_MIN_CHARS = 500
_LOADER_MAX_CHARS = 60  # a button's label, not a paragraph that mentions comments


@dataclass(frozen=True)
class Embed:
    id: str
    priority: int
    script: re.Pattern | None
    iframe: re.Pattern | None
    container: CSSSelector | None
    tags: frozenset[str]
    inline: re.Pattern | None
    loader_text: re.Pattern | None
    button_text: re.Pattern | None
    loader_tokens: re.Pattern | None


def _any(patterns: list[str], flags=re.IGNORECASE) -> re.Pattern | None:
    return re.compile("|".join(f"(?:{p})" for p in patterns), flags) if patterns else None


def _compile(spec: dict, path: Path) -> Embed:
    try:
        return Embed(
            id=spec["id"], priority=int(spec.get("priority", 50)),
            script=_any(spec.get("script", [])), iframe=_any(spec.get("iframe", [])),
            container=CSSSelector(spec["container"], translator="html") if spec.get("container") else None,
            tags=frozenset(t.lower() for t in spec.get("tags", [])),
            inline=_any(spec.get("inline", []), 0),  # script code is case-sensitive
            loader_text=_any(spec.get("loader_text", [])), button_text=_any(spec.get("button_text", [])),
            loader_tokens=_any(spec.get("loader_tokens", [])),
        )
    except (KeyError, ValueError, TypeError, SyntaxError, re.error) as exc:
        raise ValueError(f"comment embed in {path}: {exc}") from exc


@cache
def load_embeds(extra_dir: str | None = None) -> tuple[Embed, ...]:
    """Every ``[[embed]]`` of the system profiles (and of ``<extra_dir>/systems``), by priority."""
    files = sorted(SYSTEMS_DIR.glob("*.toml"))
    if extra_dir and (Path(extra_dir) / "systems").is_dir():
        files += sorted((Path(extra_dir) / "systems").glob("*.toml"))
    out = []
    for path in files:
        if path.name.startswith("_"):
            continue
        try:
            spec = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ValueError(f"comment system profile {path}: {exc}") from exc
        out += [_compile(e, path) for e in spec.get("embed", [])]
    return tuple(sorted(out, key=lambda e: (e.priority, e.id)))


@dataclass(frozen=True)
class _Page:
    """The parts of a page the signatures look at, read once."""

    scripts: str
    iframes: str
    inline: str
    tags: frozenset[str]
    buttons: tuple[tuple[bool, str, str], ...]  # (a <button>?, label, class and id names) of each button-like element


def _page(tree) -> _Page:
    buttons = []
    for el in _BUTTONS(tree):
        label = " ".join(el.text_content().split())
        if label and len(label) <= _LOADER_MAX_CHARS or el.get("class") or el.get("id"):
            buttons.append((el.tag == "button" or el.get("role") == "button", label if len(label) <= _LOADER_MAX_CHARS else "",
                            " ".join(filter(None, (el.get("class"), el.get("id"))))))
    return _Page(
        scripts="\n".join(_SCRIPT_SRC(tree)), iframes="\n".join(_IFRAME_SRC(tree)), inline="\n".join(_INLINE(tree)),
        tags=frozenset(el.tag.lower() for el in _PREFIXED(tree)),
        buttons=tuple(buttons),
    )


def _loader(embed: Embed, page: _Page) -> bool:
    for is_button, label, names in page.buttons:
        if embed.loader_text is not None and label and embed.loader_text.search(label):
            return True
        if is_button and embed.button_text is not None and label and embed.button_text.search(label):
            return True
        if embed.loader_tokens is not None and any(embed.loader_tokens.search(n) for n in names.split()):
            return True
    return False


def _matches(embed: Embed, tree, page: _Page, present: set) -> bool:
    if embed.script is not None and embed.script.search(page.scripts):
        return True
    if embed.iframe is not None and embed.iframe.search(page.iframes):
        return True
    if embed.tags & page.tags:
        return True
    if embed.container is not None and (sel := _narrow(embed.container, present)) is not None and sel(tree):
        return True
    if embed.inline is not None and embed.inline.search(page.inline):
        return True
    return (embed.loader_text is not None or embed.button_text is not None or embed.loader_tokens is not None) \
        and _loader(embed, page)


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
    present = (attrs or PageAttrs(tree)).tokens
    page = None
    for embed in load_embeds(extra_dir):
        page = page or _page(tree)
        if _matches(embed, tree, page, present):
            return Detection(embed.id, _filled(embed, tree, present))
    return None


def detect(tree, *, attrs: PageAttrs | None = None, extra_dir: str | None = None) -> str | None:
    """The id of the comment system the page embeds, or None (see ``detect_embed``)."""
    found = detect_embed(tree, attrs=attrs, extra_dir=extra_dir)
    return found.system if found else None
