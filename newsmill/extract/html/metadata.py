"""Article metadata: JSON-LD, OpenGraph/meta tags and microdata first, trafilatura's guesses last.

Structured data is read once per page from the shared tree (only the cheap
extruct syntaxes: JSON-LD and OpenGraph; microdata by a small walker that keeps
the nodes, see ``schemaorg``).  Published times keep their raw string, offset
included, so ``clean`` converts them to UTC.
"""
from __future__ import annotations

import re

from lxml import etree

from newsmill.extract.html import schemaorg

_ARTICLE_TYPES = re.compile(r"(?:^|[/:])(?:News|Blog|Scholarly|Tech|Opinion|Report|Analysis|Review|Satirical|Advertiser)?(?:Article|Posting|BlogPosting|LiveBlogPosting)$")


def _text(v) -> str | None:
    if v is None:
        return None
    if isinstance(v, list):
        return next((t for t in map(_text, v) if t), None)
    if isinstance(v, dict):
        return _text(v.get("name") or v.get("@value") or v.get("headline"))
    s = " ".join(str(v).split())
    return s or None


def _names(v) -> list[str]:
    if v is None:
        return []
    if isinstance(v, list):
        return [n for x in v for n in _names(x)]
    if isinstance(v, dict):
        n = _text(v.get("name"))
        return [n] if n else []
    s = _text(v)
    return [p.strip() for p in re.split(r"\s*(?:;|\band\b|&)\s*", s) if p.strip()] if s else []


def _meta(tree) -> dict[str, str]:
    out: dict[str, str] = {}
    for el in tree.iterfind(".//meta"):
        key = (el.get("property") or el.get("name") or el.get("itemprop") or el.get("http-equiv") or "").strip().lower()
        val = el.get("content")
        if key and val and key not in out:
            out[key] = val.strip()
    return out


_BYLINE = etree.XPath(
    "//a[@rel='author'] | //*[@itemprop='author'][not(@itemscope)] | //*[@itemprop='author']//*[@itemprop='name']"
    " | //*[contains(concat(' ', normalize-space(@class), ' '), ' byline ')]//a"
    " | //*[contains(concat(' ', normalize-space(@class), ' '), ' author ')][not(ancestor::*[contains(@class,'comment')])]")


class _Fallback:
    """trafilatura's and htmldate's own guesses, computed only when structured data says nothing
    (trafilatura's full metadata pass costs more than the body extraction on some pages)."""

    def __init__(self, tree):
        self.tree = tree

    @property
    def title(self):
        from trafilatura.metadata import extract_title

        return extract_title(self.tree)

    @property
    def author(self):
        # cheap byline markup (trafilatura's extract_author copies the whole tree)
        for el in _BYLINE(self.tree)[:3]:
            text = " ".join(el.text_content().split())
            text = re.sub(r"^(?:by|von|par|por|di)\s+", "", text, flags=re.I)
            if 2 < len(text) <= 60 and not re.search(r"\d{3}|https?://", text):
                return text
        return None

    @property
    def url(self):
        return None

    @property
    def sitename(self):
        from trafilatura.metadata import extract_sitename

        return extract_sitename(self.tree)

    @property
    def categories(self):
        from trafilatura.metadata import extract_catstags

        return extract_catstags("category", self.tree)

    @property
    def date(self):
        from htmldate import find_date

        try:  # date only (no time): a last resort after JSON-LD, meta tags and <time>
            return find_date(self.tree, extensive_search=False, original_date=True)
        except (ValueError, TypeError):
            return None


def article_metadata(tree, jsonld: list[dict], traf_doc=None) -> dict:
    """title, url, publication, published_raw, updated_raw, section, authors, language."""
    if traf_doc is None:
        traf_doc = _Fallback(tree)
    meta = _meta(tree)
    art = next((d for d in jsonld if _ARTICLE_TYPES.search(" ".join(schemaorg.types(d)))), None) or {}
    micro = schemaorg.microdata_article(tree)
    get = lambda *keys: next((meta[k] for k in keys if meta.get(k)), None)  # noqa: E731
    t = getattr
    out = {
        "title": _text(art.get("headline")) or micro.get("headline") or get("og:title", "twitter:title")
        or (t(traf_doc, "title", None) if traf_doc else None),
        "url": get("og:url") or _canonical(tree) or _text(art.get("url")) or (t(traf_doc, "url", None) if traf_doc else None),
        "publication": _text(art.get("publisher")) or get("og:site_name", "application-name")
        or (t(traf_doc, "sitename", None) if traf_doc else None),
        "published_raw": _text(art.get("datePublished")) or micro.get("datePublished")
        or get("article:published_time", "og:published_time", "datepublished", "date", "dc.date.issued", "dc.date",
               "sailthru.date", "pubdate", "publishdate", "publish-date", "article.published", "parsely-pub-date")
        or _time_pubdate(tree) or (t(traf_doc, "date", None) if traf_doc else None),
        "updated_raw": _text(art.get("dateModified")) or micro.get("dateModified")
        or get("article:modified_time", "og:updated_time", "datemodified", "last-modified"),
        "section": _text(art.get("articleSection")) or micro.get("articleSection") or get("article:section", "section")
        or _first_category(traf_doc),
        "authors": _names(art.get("author")) or micro.get("authors") or _names(get("article:author", "author", "dc.creator", "byl", "sailthru.author"))
        or (_names(t(traf_doc, "author", None)) if traf_doc else []),
        "language": _text(art.get("inLanguage")) or tree.get("lang") or tree.get("{http://www.w3.org/XML/1998/namespace}lang")
        or get("og:locale", "content-language", "language", "dc.language"),
    }
    authors = [a for a in out["authors"] if not a.startswith("http") and len(a) < 80]
    out["authors"] = list(dict.fromkeys(authors))
    if out["language"]:
        out["language"] = out["language"].replace("_", "-").split(",")[0].strip() or None
    return out


def _canonical(tree) -> str | None:
    for el in tree.iterfind(".//link[@rel]"):
        if "canonical" in el.get("rel", "").lower().split() and el.get("href"):
            return el.get("href").strip()
    return None


def _time_pubdate(tree) -> str | None:
    for el in tree.xpath("//time[@pubdate][@datetime] | //*[@itemprop='datePublished'][@datetime or @content]")[:1]:
        return (el.get("datetime") or el.get("content")).strip()
    return None


def _first_category(doc) -> str | None:
    cats = getattr(doc, "categories", None) if doc else None
    return cats[0] if cats else None


def declared_comment_count(jsonld: list[dict], tree) -> int | None:
    for d in jsonld:
        for key in ("commentCount",):
            if key in d:
                try:
                    return int(str(d[key]).strip())
                except ValueError:
                    pass
    for el in tree.xpath("//*[@itemprop='commentCount'][@content] | //meta[@itemprop='commentCount']")[:1]:
        try:
            return int(el.get("content"))
        except (TypeError, ValueError):
            return None
    return None
