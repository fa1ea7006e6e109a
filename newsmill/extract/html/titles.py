"""Choosing the article's title and cleaning author names, without knowing the site.

A page states its headline several times (JSON-LD ``headline``, ``og:title``,
``twitter:title``, ``<h1>``, ``<title>``), often with the site's name, a section or
a date glued on ('Headline | Section | Site'), or with HTML entities escaped twice.
The title is the statement the page shows as its heading (an ``<h1>``/``<h2>``
outside breadcrumbs and menus, whole or its headline element without the kicker),
else the best-ranked statement, once decorations are gone; a
decoration is recognised by what the page itself says its name is (URL host,
``og:site_name``, publisher) or by another statement of the page that lacks it,
never by a list of sites.  Author values get the same treatment: the names in one
value are split (joining words are language data in ``profiles/_default.toml``),
and prefixes, e-mail addresses, URLs and dates are no names.  The words come from the
page's profile (with the user's ``profiles_dir``), set around a page's reading by :func:`reading`.
"""
from __future__ import annotations

import html
import re
import unicodedata
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from functools import cache, lru_cache
from urllib.parse import urlsplit

from newsmill.extract.dates import find_date
from newsmill.extract.lexicon import Lexicon, lexicon, not_titles
from newsmill.profiles import Profile, profile_spec

# separators between a headline and its decorations: ' | ', ' - ', ' – ', ' — ', ' · ', ' :: ', ' * ', ' ~ '
_SEP = re.compile(r"\s+(?:\||-|–|—|·|•|::|\*|~|/|»|«)\s+|\s*\|\s*")
_INVISIBLE = re.compile("[\u00ad\u200b\u200c\u200d\u2060\ufeff]")
_PLACEHOLDER = re.compile(r"^\[[^\]]{0,40}\]$")  # w3m image placeholders: '[p]', '[sd_hub_ico]'
_WORD = re.compile(r"\w", re.UNICODE)
_PARTNER = {"»": "«", "«": "»", "›": "‹", "‹": "›"}
_GLUE = " |-–—·•:*~/»«｜："


# (profile name, profiles_dir) of the page being read: whose words the functions below use (a context
# variable: pages may be read in threads); the generic words outside :func:`reading`
_PROFILE: ContextVar[tuple[str, str | None]] = ContextVar("title_profile", default=("unknown", None))


@contextmanager
def reading(profile: Profile | None):
    """Titles and names read with ``profile``'s words (its site's, the user's ``profiles_dir``) inside."""
    token = _PROFILE.set((profile.name, profile.extra_dir) if profile is not None else ("unknown", None))
    try:
        yield
    finally:
        _PROFILE.reset(token)


def _lex() -> Lexicon:
    return lexicon(*_PROFILE.get())


def _lexicon() -> tuple[re.Pattern, re.Pattern]:
    return _compiled(*_PROFILE.get())


@cache
def _compiled(name: str, extra_dir: str | None) -> tuple[re.Pattern, re.Pattern]:
    spec = profile_spec(name, extra_dir)
    words = sorted(spec.get("author_joiners", []), key=len, reverse=True)
    alt = "|".join((rf"(?<!\w){re.escape(w)}(?!\w)" if _WORD.match(w) else re.escape(w)) for w in words)
    # case-sensitive: 'a'/'e'/'y' join names, 'A.' or 'E.' are initials
    joiner = re.compile(rf"\s*(?:;|{alt})\s*" if alt else r"\s*;\s*")
    prefixes = sorted({*spec.get("byline_prefixes", []), *spec.get("author_prefixes", [])}, key=len, reverse=True)
    prefix = re.compile(r"^(?:" + "|".join(re.escape(p) for p in prefixes) + r")\s*:?\s+", re.IGNORECASE)
    return joiner, prefix


def _author_box() -> re.Pattern:
    return _author_box_of(*_PROFILE.get())


@cache
def _author_box_of(name: str, extra_dir: str | None) -> re.Pattern:
    spec = profile_spec(name, extra_dir)
    words = sorted(spec.get("author_box_headings", []), key=len, reverse=True)
    return re.compile(r"^(?:" + "|".join(re.escape(w) for w in words) + r")\b", re.IGNORECASE) if words else re.compile(r"[^\s\S]")


def navigation_markers() -> tuple[str, ...]:
    return _navigation_markers(*_PROFILE.get())


@cache
def _navigation_markers(name: str, extra_dir: str | None) -> tuple[str, ...]:
    spec = profile_spec(name, extra_dir)
    return tuple(w.lower() for w in spec.get("heading_navigation", []))


def is_author_box(s: str) -> bool:
    """'About the author ...', 'About Jane Doe': an author box heading, not a byline."""
    return bool(_author_box().match(text(s)))


def has_joiner(s: str) -> bool:
    return bool(_lexicon()[0].search(text(s)))


def author_labels() -> frozenset[str]:
    return _author_labels(*_PROFILE.get())


@cache
def _author_labels(name: str, extra_dir: str | None) -> frozenset[str]:
    spec = profile_spec(name, extra_dir)
    return frozenset(w.casefold() for w in spec.get("author_labels", []))


def text(s: str | None) -> str:
    """Entities decoded (also when escaped twice), invisible characters gone, spaces collapsed."""
    if not s:
        return ""
    for _ in range(2):
        if "&" not in s:
            break
        s = html.unescape(s)
    s = " ".join(_INVISIBLE.sub("", s).split())
    # a breadcrumb arrow, not a quotation mark: one whose partner ('« … »', '» … «') is not in the string
    if (m := re.match(r"^([»«›‹])\s+", s)) and _PARTNER[m[1]] not in s[m.end():]:
        s = s[m.end():]
    if (m := re.search(r"\s+([»«›‹])$", s)) and _PARTNER[m[1]] not in s[: m.start()]:
        s = s[: m.start()]
    return s



@lru_cache(maxsize=4096)
def _key(s: str) -> tuple[str, ...]:
    """Comparison keys of a name: case-folded letters and digits, with and without umlauts spelled out."""
    s = s.casefold()
    spelled = s.replace("ä", "ae").replace("ö", "oe").replace("ü", "ue").replace("ß", "ss")
    out = []
    for v in (s, spelled):
        v = "".join(c for c in unicodedata.normalize("NFKD", v) if not unicodedata.combining(c))
        out.append("".join(c for c in v if c.isalnum()))
    return tuple(dict.fromkeys(out))


class SiteNames:
    """What the page says the site is called: its host and the names it gives itself."""

    def __init__(self, url: str | None, names) -> None:
        host = (urlsplit(url).hostname or "") if url else ""
        host = re.sub(r"^(?:www\d?|m|amp|mobile)\.", "", host.lower())
        labels = [lab for lab in host.split(".")[:-1] if lab not in ("co", "com", "org", "net", "gov", "ac")]
        self.hosts = {k for lab in labels for k in _key(lab) if len(k) >= 3} | ({k for k in _key(host) if k} if host else set())
        self.names = {k for n in names if n for k in _key(text(n).lstrip("@")) if len(k) >= 3}

    def is_site(self, name: str) -> bool:
        """Whether an author value is the site itself ('STERN.de', 'n-tv NACHRICHTEN', 'Lesotho Times'),
        stricter than :meth:`matches`: 'Guardian staff reporter' names the site's staff, not the site."""
        keys = [k for k in _key(name) if k]
        return any(k in self.names or k in self.hosts for k in keys) or (
            len(name.split()) <= 2 and any(k.startswith(h) for k in keys for h in self.hosts))

    def matches(self, s: str) -> bool:
        """Whether a title segment names the site ('Golem.de', 'Mirror Online', 'News - SRF'); partial
        matches only for short segments ('Time' must not take 'Time to act' for the site time.com)."""
        short = len(s.split()) <= 6
        for k in _key(s):
            if not k:
                continue
            if k in self.names or k in self.hosts:
                return True
            if short and any(k.startswith(h) for h in self.hosts) and len(s.split()) <= 2:
                return True
            if short and any(len(k) >= 4 and (k in n or n in k) for n in self.names):
                return True
            if short and any(len(h) >= 5 and h in k for h in self.hosts):
                return True
        return False


def _is_date(s: str) -> bool:
    """Only a date: nothing of two letters or more outside it ('12.03.2024', 'Monday 11.12.12', 'OCT 19, 2012')."""
    m = find_date(s, lex=_lex())
    return m is not None and not re.search(r"[^\W\d_]{2,}", s[: m.start] + " " + s[m.end:])


def plausible(title: str | None, site: SiteNames | None = None) -> bool:
    """A title is words, not a placeholder, page furniture ('Home'), a bare date or the site's own name."""
    if not title or not _WORD.search(title) or _PLACEHOLDER.match(title) or title.casefold() in not_titles(_PROFILE.get()[1]):
        return False
    if _is_date(title):
        return False
    return not (site is not None and site.is_site(title))


def clean(s: str, site: SiteNames | None, others: set[str] = frozenset()) -> str:
    """``s`` without the decorations around the headline: leading or trailing segments that are the
    site's name, a date, or (trailing only) what another statement of the page leaves out."""
    s = text(s)
    if site is not None:
        # 'Headline-Section|Site' glued without spaces: another statement ends where the glue starts
        for o in others:
            rest = s[len(o):] if len(o) >= 8 and s.startswith(o) else ""
            if rest and not rest[0].isalnum() and not rest[0].isspace() and site.matches(rest.strip(_GLUE)):
                return o
    while True:
        lead = re.split(r":\s+", s, maxsplit=1)
        if len(lead) == 2 and site is not None and site.is_site(lead[0]) and _WORD.search(lead[1]):
            s = lead[1].strip()  # 'Blog Name: Post title'
            continue
        parts = _SEP.split(s)
        if len(parts) < 2:
            return s
        head, tail = s[: s.rfind(parts[-1])].rstrip(" |-–—·•:*~/»«"), parts[-1]
        # a short tail that another statement lacks is a section or site ('| Sport'); a long one is the
        # headline after a site name that the page also shows as a heading ('Blog Name - Post title')
        if head and (site is not None and site.matches(tail) or _is_date(tail)
                     or head in others and len(tail.split()) <= 3 and not (site is not None and site.is_site(head))):
            s = head.strip()
            continue
        lead, body = parts[0], s[len(parts[0]):].lstrip(" |-–—·•:*~/»«")
        if body and len(lead.split()) <= 4 and site is not None and site.is_site(lead):
            s = body.strip()
            continue
        return s


@dataclass(frozen=True)
class Heading:
    """A heading the page shows (an ``<h1>``/``<h2>`` outside navigation): its whole text and the texts
    of its parts, since a kicker and the headline are often two elements of one heading."""

    whole: str
    parts: tuple[str, ...] = ()


_QUOTES = str.maketrans({"‘": "'", "’": "'", "‚": "'", "‛": "'", "“": '"', "”": '"', "„": '"', "‟": '"'})


def _same(s: str) -> str:
    """Equal as read: case, spacing and the quotation marks' style aside."""
    return unicodedata.normalize("NFC", text(s)).translate(_QUOTES).casefold()


def _letters(s: str) -> str:
    """Only the letters and digits: 'Kicker: Headline' reads as a heading made of a kicker and a headline element."""
    return "".join(c for c in unicodedata.normalize("NFKC", text(s)).casefold() if c.isalnum())


def shown(candidates: list[str], visible: list[Heading]) -> str | None:
    """The statement of the headline that the page shows as its heading.

    A page states its headline in metadata several times, and the statements often differ: an SEO
    headline in JSON-LD, a teaser in ``og:title``, a kicker glued in front.  The one a reader sees is
    the one to keep.  ``visible`` lists the page's headings, main ones first; the first heading that
    repeats a statement decides.  A statement equal to the heading or to one of its elements (the
    headline without its kicker) wins over one that only has the same letters as the whole heading
    ('Kicker: Headline' for a kicker element and a headline element); between equals, the order of
    ``candidates`` decides.
    """
    cands = [(c, _same(c), _letters(c)) for c in candidates if c]
    for h in visible:
        # an element of the heading counts when it can be a headline ('Live' or 'Video' is a label)
        exact = {_same(t) for t in (h.whole, *(p for p in h.parts if len(_letters(p)) >= 8)) if t}
        hit = next((c for c, same, _ in cands if same in exact), None)
        if hit is None and len(letters := _letters(h.whole)) >= 8:
            hit = next((c for c, _, let in cands if let == letters), None)
        if hit is not None:
            return hit
    return None


def choose(structured: list[str | None], headings: list[str | None], title_tag: str | None,
           site: SiteNames, fallback=None, visible: list[Heading] = ()) -> str | None:
    """The article's title: the statement the page shows as its heading, else the best-ranked plausible
    statement, decorations removed.

    ``structured`` (JSON-LD headline, og:title, ...) ranks first, then ``headings`` (``<h1>``s).
    ``visible`` (headings outside navigation, see :func:`shown`) picks among the structured statements
    when one of them is what the page shows.
    The ``<title>`` element confirms (a suffix it has and another statement lacks is a decoration).
    Without structured data, ``fallback()`` (trafilatura's guess from the page's headings) counts
    when the ``<title>`` contains it: a guess the ``<title>`` does not hold is as often a widget's
    heading ('About', 'Translate', 'Comment Cancel reply'); then an ``<h1>`` the ``<title>`` holds,
    then the ``<title>`` itself without decorations.
    """
    tt = text(title_tag)
    heads = [text(h) for h in headings if h and text(h)]
    structured = [text(c) for c in structured if c and text(c)]
    others = set(structured) | set(heads) | ({tt} if tt else set())
    if structured:
        cleaned = [c for c in (clean(c, site, others - {c}) for c in structured) if plausible(c, site)]
        if cleaned and (hit := shown(list(dict.fromkeys(cleaned)), list(visible))):
            return hit
        ranked = [clean(c, site, others - {c}) for c in [*structured, *heads]]
        ranked = [c for c in ranked if plausible(c, site)]
        if ranked:
            return ranked[0]
    held = lambda c: plausible(c, site) and (not tt or c.casefold() in tt.casefold())  # noqa: E731
    guess = clean(fallback() or "", site, others) if fallback else ""
    if held(guess):
        return guess
    for h in heads:
        if held(h := clean(h, site, others - {h})):
            return h
    if tt and plausible(c := clean(tt, site, others - {tt}), site):
        return c
    if plausible(guess, site):
        return guess
    return next((c for c in (clean(h, site) for h in heads) if plausible(c, site)), None)


# ----------------------------------------------------------------------------- authors

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+")
_INITIALS = re.compile(r"\s*\((?:[a-zäöüéè]{2,5}\.?)\)$")


def split_names(value: str) -> list[str]:
    """The names in one author value: 'A und B, dpa' -> A, B, dpa; 'Jane Doe | Section' -> Jane Doe."""
    value = text(value)
    if not value:
        return []
    joiner, _ = _lexicon()
    value = re.split(r"\s*\|\s*", value)[0]  # 'Name | Section' / 'Name | Site': the name comes first
    out = []
    for part in joiner.split(value):
        pieces = [p.strip() for p in part.split(",")]
        # 'Last, First' stays one name; a comma between multi-word names separates them
        if len(pieces) > 1 and any(len(p.split()) >= 2 for p in pieces):
            out += pieces
        else:
            out.append(part.strip())
    return [p for p in out if p]


def has_byline_prefix(s: str) -> bool:
    return bool(_lexicon()[1].match(text(s)))


def clean_name(name: str | None) -> str | None:
    """One author name, or None when the value is no name (URL, e-mail, date, number, a bare prefix)."""
    s = text(name)
    if not s:
        return None
    _, prefix = _lexicon()
    s = prefix.sub("", s)
    s = _INITIALS.sub("", s).strip(" ,;:|-–—·•")
    if not s or len(s) > 80 or not any(c.isalpha() for c in s):
        return None
    if "://" in s or "www." in s or _EMAIL.search(s) or "@" in s.strip("@")[1:] or ":" in s or s[0] in "([{":
        return None  # an address, or a credit line ('(Image: Getty Images)')
    if find_date(s, lex=_lex()) is not None or prefix.match(s + " x"):
        return None  # a date, or only the word 'By'
    return s
