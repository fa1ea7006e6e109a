"""Layer 1: schema.org comments (JSON-LD, microdata, RDFa) and microdata article fields.

JSON-LD comes from extruct (the cheap JSON-LD extractor on the shared tree);
microdata and RDFa are read by a small walker that keeps the element of each
item, so the comment subtrees it finds can be claimed (kept out of the body).
"""
from __future__ import annotations

import re

from lxml import etree

from newsmill.extract.html.attrs import PageAttrs, page_attrs
from newsmill.extract.html.common import Found, build, parse_count, thread
from newsmill.extract.html.tree import claim, flat_text
from newsmill.profiles import Profile
from newsmill.records import RawComment

_COMMENT_TYPE = re.compile(r"(?:^|[/:#\s])(?:Comment|UserComments|Answer)$")
_ARTICLE_TYPE = re.compile(r"(?:^|[/:#])(?:\w*Article|BlogPosting|LiveBlogPosting|Report)$")
_PROP_NODES = etree.XPath(".//*[@itemprop or @property or @rel]")
_HAS_JSONLD = etree.XPath("boolean(//script[@type='application/ld+json'])")
_AUTHOR_PROPS = ("author", "creator", "has_creator")
_DATE_PROPS = ("datecreated", "datepublished", "commenttime", "created", "date", "issued", "datemodified")
_TEXT_PROPS = ("text", "commenttext", "encoded", "articlebody", "description", "content", "body", "comment_body")
_LIKE_PROPS = ("upvotecount",)


def types(d: dict) -> list[str]:
    t = d.get("@type") or []
    return [str(x) for x in (t if isinstance(t, list) else [t])]


def jsonld_items(tree) -> list[dict]:
    from extruct.jsonld import JsonLdExtractor

    if not _HAS_JSONLD(tree):
        return []
    try:
        items = JsonLdExtractor().extract_items(tree)
    except Exception:  # malformed JSON-LD must not cost the page  # noqa: BLE001
        return []
    out: list[dict] = []
    for item in items:
        if isinstance(item, dict) and isinstance(item.get("@graph"), list):
            out += [g for g in item["@graph"] if isinstance(g, dict)]
        elif isinstance(item, dict):
            out.append(item)
    return out


# ----------------------------------------------------------------------------- JSON-LD


_ARTICLE_TYPES = re.compile(r"(?:^|/|#)(?:\w*Article|\w*Posting|Report|BlogPosting|LiveBlogPosting)$")


def article_body(items: list[dict], min_words: int = 100) -> str | None:
    """The ``articleBody`` of the page's article item (schema.org ``Article`` and its kinds), when it is
    long enough to say something about the body; the text as the publisher states it, tags removed."""
    for item in items:
        kinds = item.get("@type")
        kinds = kinds if isinstance(kinds, list) else [kinds]
        if not any(isinstance(k, str) and _ARTICLE_TYPES.search(k) for k in kinds):
            continue
        text = _html_text(_str(item.get("articleBody")) or "")
        if text and len(text.split()) >= min_words:
            return text
    return None


def _str(v) -> str | None:
    if v is None:
        return None
    if isinstance(v, list):
        return next((s for s in map(_str, v) if s), None)
    if isinstance(v, dict):
        return _str(v.get("name") or v.get("@value") or v.get("alternateName"))
    s = str(v).strip()
    return s or None


def _own_url(d: dict) -> str | None:
    """A Comment's own address: its ``url``, else an ``@id`` that is a link or an anchor (not a blank node)."""
    for key in ("url", "@id"):
        v = d.get(key)
        if isinstance(v, str) and v.strip().lower().startswith(("http://", "https://", "#", "/")):
            return v.strip()
    return None


def _likes(d: dict) -> int | None:
    if d.get("upvoteCount") is not None:
        return parse_count(str(d["upvoteCount"]))
    stats = d.get("interactionStatistic")
    for s in stats if isinstance(stats, list) else [stats] if isinstance(stats, dict) else []:
        if "Like" in str(s.get("interactionType", "")) and s.get("userInteractionCount") is not None:
            return parse_count(str(s["userInteractionCount"]))
    return None


def _html_text(s: str) -> str:
    if "<" in s and ">" in s:
        from lxml import html

        from newsmill.extract.html.tree import node_text

        try:
            return node_text(html.fragment_fromstring(s, create_parent="div"))
        except (etree.ParserError, ValueError):
            return s
    return s


def jsonld_comments(items: list[dict], profile: Profile, *, captured_at=None) -> list[RawComment]:
    found: list[tuple[dict, int, int | None]] = []  # (node, depth, parent position)
    seen: set[int] = set()

    def walk(node, parent: int | None, depth: int) -> None:
        if isinstance(node, list):
            for n in node:
                walk(n, parent, depth)
            return
        if not isinstance(node, dict) or id(node) in seen:
            return
        seen.add(id(node))
        me = parent
        if any(_COMMENT_TYPE.search(t) for t in types(node)):
            found.append((node, depth, parent))
            me, depth = len(found) - 1, depth + 1
        for key, value in node.items():
            if key in ("comment", "comments", "hasPart", "mainEntity", "suggestedAnswer", "acceptedAnswer", "itemListElement", "item") \
                    or isinstance(value, (dict, list)) and key not in ("author", "publisher", "parentItem", "image", "about"):
                walk(value, me, depth)

    walk(items, None, 0)
    by_id = {}
    for pos, (node, _, _) in enumerate(found):
        for key in ("@id", "url"):
            if isinstance(node.get(key), str):
                by_id.setdefault(node[key], pos)
    out: list[RawComment] = []
    kept: dict[int, int] = {}
    for pos, (node, depth, parent) in enumerate(found):
        ref = node.get("parentItem")
        ref_id = ref.get("@id") or ref.get("url") if isinstance(ref, dict) else ref if isinstance(ref, str) else None
        if ref_id and ref_id in by_id and by_id[ref_id] != pos:
            parent = by_id[ref_id]
            depth = (out[kept[parent]].depth or 0) + 1 if parent in kept else depth
        text = _html_text(_str(node.get("text") or node.get("commentText") or node.get("articleBody") or node.get("description")) or "")
        f = Found(element=None, author=_str(node.get("author") or node.get("creator")),
                  date=_str(node.get("dateCreated") or node.get("datePublished") or node.get("commentTime")),
                  likes=_likes(node), depth=depth, parent=kept.get(parent) if parent is not None else None,
                  dislikes=parse_count(str(node["downvoteCount"])) if node.get("downvoteCount") is not None else None,
                  permalink=_own_url(node))
        rc = build_from_text(f, text, profile, captured_at)
        if rc is not None:
            kept[pos] = len(out)
            out.append(rc)
    return out


def build_from_text(f: Found, text: str, profile: Profile, captured_at) -> RawComment | None:
    from lxml import html

    holder = html.Element("div")
    for i, para in enumerate(re.split(r"\n\s*\n", text.strip())):
        p = etree.SubElement(holder, "p")
        p.text = para
    f.element = holder
    f.text = [holder]
    return build(f, profile, captured_at=captured_at)


# ----------------------------------------------------------------------------- microdata / RDFa


def _item_type(el) -> str:
    return el.get("itemtype") or el.get("typeof") or ""


def _props(item, items: set):
    """(local property name, element) pairs owned by ``item`` (not by a nested item)."""
    for el in _PROP_NODES(item):
        names = el.get("itemprop") or el.get("property") or el.get("rel") or ""
        if not names:
            continue
        owner = next((a for a in el.iterancestors() if a in items), None)
        if owner is not item:
            continue
        for name in names.split():
            yield name.rsplit(":", 1)[-1].rsplit("/", 1)[-1].lower(), el


def _value(el, items: set) -> str | None:
    for attr in ("content", "datetime"):
        if el.get(attr):
            return el.get(attr).strip()
    if el in items:  # a nested Person/Organization: its name
        for name, p in _props(el, items):
            if name in ("name", "alternatename"):
                return flat_text(p)
    return flat_text(el) or None


def microdata_comments(tree, profile: Profile, *, captured_at=None, attrs: PageAttrs | None = None) -> list[RawComment]:
    all_items = (attrs or page_attrs(tree)).items
    if not all_items:
        return []
    comments = [el for el in all_items if any(_COMMENT_TYPE.search(t) for t in _item_type(el).split())]
    if not comments:
        return []
    items = set(all_items)
    threading = thread(comments)
    children: dict[int, list[int]] = {}
    for i, (_, parent) in enumerate(threading):
        if parent is not None:
            children.setdefault(parent, []).append(i)
    out: list[RawComment] = []
    kept: dict[int, int] = {}
    for i, el in enumerate(comments):
        props: dict[str, list] = {}
        for name, p in _props(el, items):
            props.setdefault(name, []).append(p)
        author = next((_value(props[k][0], items) for k in _AUTHOR_PROPS if k in props), None)
        if author is None and "name" in props and el.get("typeof"):  # RDFa foaf:name is the commenter
            author = flat_text(props["name"][0])
        date_el = next((props[k][0] for k in _DATE_PROPS if k in props), None)
        text_els = next((props[k] for k in _TEXT_PROPS if k in props), [])
        likes = next((parse_count(_value(props[k][0], items)) for k in _LIKE_PROPS if k in props), None)
        nested = [comments[j] for j in _descendants(i, children)]
        skip = [*nested, *(p for k in _AUTHOR_PROPS for p in props.get(k, [])), *([date_el] if date_el is not None else [])]
        date = (date_el.get("content") or date_el.get("datetime")) if date_el is not None else None
        dislikes = parse_count(_value(props["downvotecount"][0], items)) if "downvotecount" in props else None
        url = props["url"][0] if "url" in props else None
        url = (url.get("href") or url.get("content") or url.get("resource")) if url is not None else None
        f = Found(element=el, author=author, date=date or date_el, text=text_els, likes=likes, skip=skip,
                  nested=nested, dislikes=dislikes, permalink=url or None)
        depth, parent = threading[i]
        f.depth, f.parent = depth, kept.get(parent) if parent is not None else None
        rc = build(f, profile, captured_at=captured_at)
        if rc is not None:
            kept[i] = len(out)
            out.append(rc)
            claim(el)
    return out


def _descendants(i: int, children: dict[int, list[int]]) -> list[int]:
    out, todo = [], list(children.get(i, ()))
    while todo:
        j = todo.pop()
        out.append(j)
        todo.extend(children.get(j, ()))
    return out


def microdata_article(tree, attrs: PageAttrs | None = None) -> dict:
    """headline, datePublished, dateModified, articleSection, authors of a microdata Article."""
    all_items = (attrs or page_attrs(tree)).items
    art = next((el for el in all_items if el.get("itemscope") is not None
                and any(_ARTICLE_TYPE.search(t) for t in _item_type(el).split())), None)
    if art is None:
        return {}
    items = set(all_items)
    out: dict = {}
    for name, p in _props(art, items):
        key = {"headline": "headline", "datepublished": "datePublished", "datemodified": "dateModified",
               "articlesection": "articleSection"}.get(name)
        if key and key not in out:
            out[key] = _value(p, items)
        elif name in ("author", "creator"):
            v = _value(p, items)
            if v:
                out.setdefault("authors", []).append(v)
    return out
