"""Article metadata: JSON-LD, OpenGraph/meta tags and microdata first, trafilatura's guesses last.

Structured data is read once per page from the shared tree (only the cheap
extruct syntaxes: JSON-LD and OpenGraph; microdata by a small walker that keeps
the nodes, see ``schemaorg``).  Published times keep their raw string, offset
included, so ``clean`` converts them to UTC.
"""
from __future__ import annotations

import re
from functools import cache

from lxml import etree

from newsmill.extract.dates import find_date
from newsmill.extract.lexicon import lexicon_of
from newsmill.extract.html import schemaorg, titles
from newsmill.extract.html.titles import clean_name, split_names
from newsmill.extract.html.attrs import PageAttrs, page_attrs
from newsmill.profiles import Profile

# any *Article / *Posting type (NewsArticle, ReportageNewsArticle, AnalysisNewsArticle, LiveBlogPosting, ...)
_ARTICLE_TYPES = re.compile(r"(?:^|[/:#])\w*(?:Article|Posting)$")


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
        n = _text(v.get("name")) or " ".join(x for x in (_text(v.get("givenName")), _text(v.get("familyName"))) if x)
        return split_names(n) if n else []
    return split_names(_text(v) or "")


def _meta(tree) -> tuple[dict[str, str], bool]:
    """The page's meta tags by name, and whether one could give trafilatura a category
    (``article:section`` or a ``*subject*`` name with a content attribute)."""
    out: dict[str, str] = {}
    subject = False
    for el in tree.iterfind(".//meta"):
        key = (el.get("property") or el.get("name") or el.get("itemprop") or el.get("http-equiv") or "").strip().lower()
        val = el.get("content")
        if key and val and key not in out:
            out[key] = val.strip()
        if val is not None and (el.get("property") == "article:section" or "subject" in (el.get("name") or "")):
            subject = True
    return out, subject


# byline markup, one XPath per kind; a kind runs only when the page has the names it needs
_BYLINE_PARTS = (
    ("//a[@rel='author']", lambda a: "author" in a.rels),
    ("//*[@itemprop='author'][not(@itemscope)]", lambda a: "author" in a.itemprops),
    ("//*[@itemprop='author']//*[@itemprop='name']", lambda a: "author" in a.itemprops and "name" in a.itemprops),
    # (a plain contains() first: the token test allocates, and few elements pass the first)
    ("//*[contains(@class, 'byline')][contains(concat(' ', normalize-space(@class), ' '), ' byline ')]//a",
     lambda a: "byline" in a.tokens),
    (("//*[contains(@class, 'author')][contains(concat(' ', normalize-space(@class), ' '), ' author ')]"
      "[not(ancestor::*[contains(@class,'comment')])]"), lambda a: "author" in a.tokens),
)


@cache
def _xpath(expr: str) -> etree.XPath:
    return etree.XPath(expr)


def _byline(tree, attrs: PageAttrs) -> list:
    active = [expr for expr, may in _BYLINE_PARTS if may(attrs)]
    return _xpath(" | ".join(active))(tree) if active else []


# trafilatura's CATEGORIES_XPATHS select links under elements with these class/id values (prefix, or
# whole value where '$' ends the pattern); a page with none of them gets no category from it
_CATEGORY_CLASS = re.compile(
    r"(?m)^(?:post-?info|post-?meta|meta|entry-meta|entry-info|entry-utility|postmeta|entry-categories|entry-footer"
    r"|postinfo$|post-category$|postcategory$|entry-category$|entry-header$|row$|tags$)|cat-links")
_CATEGORY_ID = re.compile(r"(?m)^(?:postpath|filedunder$)")


class _Fallback:
    """trafilatura's and htmldate's own guesses, computed only when structured data says nothing
    (trafilatura's full metadata pass costs more than the body extraction on some pages)."""

    def __init__(self, tree, attrs: PageAttrs | None = None, meta_subject: bool = True):
        self.tree = tree
        self.attrs = attrs or page_attrs(tree)
        self.meta_subject = meta_subject

    @property
    def title(self):
        from trafilatura.metadata import extract_title

        return extract_title(self.tree)

    @property
    def author(self):
        # cheap byline markup (trafilatura's extract_author copies the whole tree)
        for el in _byline(self.tree, self.attrs)[:3]:
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
        a = self.attrs
        if not self.meta_subject and not ((_CATEGORY_CLASS.search(a.classes) or _CATEGORY_ID.search(a.ids))
                                          and "/categor" in a.hrefs):
            return []  # none of trafilatura's category markup is on the page (it wants '/categor...' links)
        from trafilatura.metadata import extract_catstags

        return extract_catstags("category", self.tree)

    @property
    def date(self):
        from htmldate import find_date

        try:  # date only (no time): a last resort after JSON-LD, meta tags and <time>
            return find_date(self.tree, extensive_search=False, original_date=True)
        except (ValueError, TypeError):
            return None


def _article_item(jsonld: list[dict]) -> dict:
    """The page's article in JSON-LD: an *Article/*Posting item (also as a WebPage's ``mainEntity``),
    else an item that has a headline (a WebPage carrying the article's fields)."""
    pool = list(jsonld)
    for d in jsonld:
        main = d.get("mainEntity")
        pool += [m for m in (main if isinstance(main, list) else [main]) if isinstance(m, dict)]
    return (next((d for d in pool if _ARTICLE_TYPES.search(" ".join(schemaorg.types(d)))), None)
            or next((d for d in pool if d.get("headline") and (d.get("author") or d.get("datePublished"))), None) or {})


# meta names that hold the publication time / the author, most specific first
_PUBLISHED_KEYS = ("article:published_time", "og:published_time", "article:published", "datepublished",
                   "dc.date.issued", "dcterms.issued", "sailthru.date", "pubdate", "publishdate", "publish-date",
                   "article.published", "parsely-pub-date", "cxenseparse:publishtime", "date", "dc.date",
                   "prism.publicationdate")
_MODIFIED_KEYS = ("article:modified_time", "og:updated_time", "datemodified", "dcterms.modified", "last-modified")
_AUTHOR_KEYS = ("author", "article:author", "og:article:author", "og:author", "dc.creator", "byl", "sailthru.author",
                "parsely-author", "cxenseparse:author", "articleauthor")


def article_metadata(tree, jsonld: list[dict], traf_doc=None, attrs: PageAttrs | None = None,
                     url: str | None = None, profile: Profile | None = None) -> dict:
    """title, url, publication, published_raw, date_candidates, updated_raw, section, authors, language.

    ``date_candidates`` are the other publication-time strings the page gives (meta tags, ``<time>``,
    the URL path), best first: ``clean`` falls back on them when the first cannot be read or
    disagrees with the page's comments.  Dates, titles and names are read with ``profile``'s words
    (the generic ones when None).
    """
    with titles.reading(profile):
        return _article_metadata(tree, jsonld, traf_doc, attrs, url, profile)


def _article_metadata(tree, jsonld: list[dict], traf_doc, attrs: PageAttrs | None, url: str | None,
                      profile: Profile | None) -> dict:
    attrs = attrs or page_attrs(tree)
    lex = lexicon_of(profile) if profile is not None else None
    meta, meta_subject = _meta(tree)
    if traf_doc is None:
        traf_doc = _Fallback(tree, attrs, meta_subject)
    art = _article_item(jsonld)
    micro = schemaorg.microdata_article(tree, attrs)
    get = lambda *keys: next((meta[k] for k in keys if meta.get(k)), None)  # noqa: E731
    t = getattr
    page_url = get("og:url") or _canonical(tree) or _text(art.get("url")) or (t(traf_doc, "url", None) if traf_doc else None)
    publication = _text(art.get("publisher")) or get("og:site_name", "application-name")
    site = titles.SiteNames(url or page_url, [publication, get("og:site_name", "application-name"), get("twitter:site")])
    # microdata after og:title: its 'headline' property is now and then a sub-headline
    title = titles.choose([_text(art.get("headline")), get("og:title"), micro.get("headline"), get("headline"),
                           get("twitter:title")],
                          _h1s(tree), _title_tag(tree), site, lambda: t(traf_doc, "title", None) if traf_doc else None,
                          _visible_headings(tree))
    dates = [_text(art.get("datePublished")), micro.get("datePublished"), *(meta.get(k) for k in _PUBLISHED_KEYS),
             *_time_pubdates(tree, attrs), _url_date(url or page_url)]
    # only strings that hold a calendar date ('Fri Apr 28 19:20:36 CEST 2023' or '1 day ago' do not)
    dates = [d for d in dict.fromkeys(d.strip() for d in dates if d and d.strip()) if find_date(d, lex=lex) is not None]
    if not dates and traf_doc and (d := t(traf_doc, "date", None)):
        dates = [d]
    authors = _authors([_names(art.get("author")), [n for a in micro.get("authors") or [] for n in split_names(a)],
                        *(_names(meta.get(k)) for k in _AUTHOR_KEYS), _names(_labelled_author(meta))],
                       lambda: (_names(t(traf_doc, "author", None)) if traf_doc else []), site,
                       lambda: _loose_byline(tree, attrs))
    out = {
        "title": title,
        "url": page_url,
        "publication": publication or (t(traf_doc, "sitename", None) if traf_doc else None),
        "published_raw": dates[0] if dates else None,
        "date_candidates": dates[1:],
        "updated_raw": _text(art.get("dateModified")) or micro.get("dateModified") or get(*_MODIFIED_KEYS),
        "section": _text(art.get("articleSection")) or micro.get("articleSection") or get("article:section", "section")
        or _first_category(traf_doc),
        "authors": authors,
        "language": _text(art.get("inLanguage")) or tree.get("lang") or tree.get("{http://www.w3.org/XML/1998/namespace}lang")
        or get("og:locale", "content-language", "language", "dc.language"),
    }
    if out["language"]:
        out["language"] = out["language"].replace("_", "-").split(",")[0].strip() or None
    return out


def _labelled_author(meta: dict[str, str]) -> str | None:
    """Twitter card label/data pairs ('twitter:label1' = 'Written by', 'twitter:data1' = the name), which
    SEO plugins write; the label words are language data (``author_labels`` in ``_default.toml``)."""
    labels = titles.author_labels()
    for key, value in meta.items():
        if key.startswith("twitter:misc:") and key[13:].strip() in labels:
            return value
        if key.startswith("twitter:label") and value.strip().casefold() in labels:
            return meta.get("twitter:data" + key[13:])
    return None


_H1 = etree.XPath("//h1")


def _h1s(tree) -> list[str]:
    return [" ".join(h.text_content().split()) for h in _H1(tree)[:3]]


_HEADINGS = etree.XPath("//h1 | //h2")
_NAV_TAGS = frozenset({"nav", "aside", "footer"})
_SKIP = frozenset({"script", "style", "noscript", "template", "svg", "button"})


def _in_navigation(el) -> bool:
    """A heading in a breadcrumb trail, menu, sidebar or footer: it repeats or lists titles, it does
    not head the article (markers are data: ``heading_navigation`` in ``_default.toml``)."""
    markers = titles.navigation_markers()
    for a in (el, *el.iterancestors()):
        if a.tag in _NAV_TAGS:
            return True
        attrs = f"{a.get('class') or ''} {a.get('id') or ''} {a.get('itemtype') or ''}".lower()
        if any(m in attrs for m in markers):
            return True
    return False


def _parts(el) -> tuple[str, ...]:
    """The texts of a heading's elements ('<span>Kicker</span><span>Headline</span>'), through wrappers
    that hold a single element ('<h1><a><span>..</span></a></h1>')."""
    while len(el) == 1 and not (el.text or "").strip() and not (el[0].tail or "").strip() and el[0].tag not in _SKIP:
        el = el[0]
    out = [el.text or ""]
    for child in el:
        if isinstance(child.tag, str) and child.tag not in _SKIP:
            out.append(_shown_text(child))
        out.append(child.tail or "")
    return tuple(p for p in (" ".join(x.split()) for x in out) if titles._WORD.search(p))


_SHOWN_TEXT = etree.XPath(".//text()[not(ancestor::script or ancestor::style or ancestor::noscript or ancestor::template)]")


def _shown_text(el) -> str:
    """An element's text without the style sheets and scripts that some headings hold."""
    return "".join(_SHOWN_TEXT(el))


def _visible_headings(tree) -> list[titles.Heading]:
    """The page's ``<h1>``s, then its ``<h2>``s, outside navigation, in page order."""
    found = {"h1": [], "h2": []}
    for h in _HEADINGS(tree):
        if _in_navigation(h):
            continue
        whole = " ".join(_shown_text(h).split())
        if whole:
            found[h.tag].append(titles.Heading(whole, _parts(h)))
    return found["h1"] + found["h2"]


def _title_tag(tree) -> str | None:
    el = tree.find(".//title")
    return el.text_content() if el is not None else None


def _authors(sources: list[list[str]], byline, site: "titles.SiteNames", loose=None) -> list[str]:
    """The first source that names someone other than the site itself.

    A page often gives the site as author in its structured data and the journalist in a
    meta tag or the byline; a site name is kept only when no source names anyone else.
    ``byline`` (byline markup) and ``loose`` (any element whose class speaks of an author) are
    only looked at when the sources before them gave nothing better.
    """
    site_only = None
    for i, names in enumerate([*sources, None, None]):
        if names is None and i == len(sources):
            names = byline()
        elif names is None:
            # loose markup is weaker evidence: it must say 'By ...' to outrank the site's name, and
            # otherwise name someone with at least two words ('Folgen', 'amw' are buttons and initials)
            names, prefixed = loose() if loose else ([], False)
            if not prefixed and (site_only or not names or len(names[0].split()) < 2):
                continue
        names = list(dict.fromkeys(n for n in (clean_name(x) for x in names) if n))
        if not names:
            continue
        if all(site.is_site(n) for n in names):
            site_only = site_only or names
            continue
        if len(names) > 1:  # 'Name, <a role description of many words>': the names
            names = [n for n in names if len(n.split()) <= 6] or names
        return names
    return site_only or []


_LOOSE_BYLINE = etree.XPath(
    "//*[contains(@class, 'uthor') or contains(@class, 'yline')]"
    "[not(ancestor-or-self::*[contains(@class, 'omment') or self::footer or self::aside or self::nav])]")
_NAME_SHAPE = re.compile(r"^(?:[^\W\d_][\w'’.-]*)(?:\s+[^\W\d_][\w'’.-]*){0,4}$")


def _loose_byline(tree, attrs: PageAttrs) -> tuple[list[str], bool]:
    """Names in the first elements whose class mentions an author or byline ('article__author',
    'authors__list-item', 'authorname'): short texts of one to five words, byline prefixes dropped;
    and whether the text began with a byline prefix ('Von ...', 'By ...')."""
    if "uthor" not in attrs.classes and "yline" not in attrs.classes:
        return [], False
    for el in _LOOSE_BYLINE(tree)[:6]:
        text = " ".join(el.text_content().split())
        if not text or len(text) > 120 or titles.is_author_box(text):
            continue
        # 'Name, Role, Desk' / 'Name, City': without a joining word the first part is the name
        parts = split_names(text) if titles.has_joiner(text) else split_names(text.split(",")[0])
        names = [n for n in (clean_name(x) for x in parts) if n and _NAME_SHAPE.match(n)]
        if names:
            return names, titles.has_byline_prefix(text)
    return [], False


_URL_DATE = re.compile(r"/((?:19|20)\d\d)[/-]([01]?\d)[/-]([0-3]?\d)(?:/|-|\b)")


def _url_date(url: str | None) -> str | None:
    """'/2012/05/10/' in the URL path: a date the page's address vouches for (a day, no time)."""
    if not url or not (m := _URL_DATE.search(url.split("?")[0])):
        return None
    y, mo, d = (int(g) for g in m.groups())
    return f"{y:04d}-{mo:02d}-{d:02d}" if 1 <= mo <= 12 and 1 <= d <= 31 else None


def _canonical(tree) -> str | None:
    for el in tree.iterfind(".//link[@rel]"):
        if "canonical" in el.get("rel", "").lower().split() and el.get("href"):
            return el.get("href").strip()
    return None


_PUBDATE = etree.XPath("//time[@pubdate][@datetime]")
_PUBDATE_OR_ITEMPROP = etree.XPath("//time[@pubdate][@datetime] | //*[@itemprop='datePublished'][@datetime or @content]")
_TIME_IN_ARTICLE = etree.XPath("(//article//time[@datetime])[1]")


def _time_pubdates(tree, attrs: PageAttrs) -> list[str]:
    """``<time pubdate>`` / ``itemprop=datePublished``, then the first ``<time datetime>`` inside an
    ``<article>`` (one elsewhere on the page is as often a sidebar's or a review's date)."""
    out = [(el.get("datetime") or el.get("content")).strip()
           for el in (_PUBDATE_OR_ITEMPROP if "datePublished" in attrs.itemprops else _PUBDATE)(tree)[:1]]
    out += [el.get("datetime").strip() for el in _TIME_IN_ARTICLE(tree)]
    return out


def _first_category(doc) -> str | None:
    cats = getattr(doc, "categories", None) if doc else None
    return cats[0] if cats else None


_COMMENT_COUNT = etree.XPath("//*[@itemprop='commentCount'][@content] | //meta[@itemprop='commentCount']")


def declared_comment_count(jsonld: list[dict], tree, attrs: PageAttrs | None = None) -> int | None:
    for d in jsonld:
        for key in ("commentCount",):
            if key in d:
                try:
                    return int(str(d[key]).strip())
                except ValueError:
                    pass
    if attrs is not None and "commentCount" not in attrs.itemprops:
        return None
    for el in _COMMENT_COUNT(tree)[:1]:
        try:
            return int(el.get("content"))
        except (TypeError, ValueError):
            return None
    return None
