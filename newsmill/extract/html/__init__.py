"""HTML pages to a RawPage: one parse, shared by metadata, comments and body.

Comments come from the best evidence the page offers, in layers:

1. schema.org ``Comment``/``UserComments`` (JSON-LD, microdata, RDFa) — ``schemaorg``;
2. the markup of common comment systems, described as data in
   ``newsmill/profiles/systems/*.toml`` — ``comments_profiles``;
3. a generic detector of repeated dated blocks — ``comments_generic``;
4. comment data held in scripts as JSON (``__NEXT_DATA__``, ``window.__…STATE__``) when the markup
   shows none — ``comments_scripts``.

Every comment subtree a layer uses is claimed (marked) in the tree and pruned
before trafilatura extracts the body, and body paragraphs repeating a comment are
dropped, so no comment text reaches the article body.
"""
from __future__ import annotations

from collections import Counter
from datetime import datetime

from lxml import etree

from newsmill import profiles as _profiles
from newsmill.extract.html import comments_generic, comments_profiles, comments_scripts, embeds, metadata, schemaorg
from newsmill.extract.html.attrs import PageAttrs, page_attrs
from newsmill.extract.html.tree import CLAIM_ATTR, CLAIMED_XPATH, parse
from newsmill.records import RawPage
from newsmill.text import normalize_text, tokens

EXTRACTOR = "html"
# article flag: the page's comment section is in the capture, but no layer could read it into records
COMMENTS_NOT_EXTRACTED = "comments_not_extracted"
_SITE_NAME = etree.XPath("//meta[@property='og:site_name'][@content]")


def extract_html(text: str, *, url: str | None = None, captured_at: datetime | None = None,
                 profiles_dir: str | None = None, body_mode: str = "precise") -> RawPage:
    """The article and its comments from one HTML page (already decoded to text)."""
    tree = parse(text)
    if tree is None:
        return RawPage(url=url, extractor=EXTRACTOR, flags=["not_html"])
    attrs = page_attrs(tree)
    marked = attrs.marked  # before any layer claims
    jsonld = schemaorg.jsonld_items(tree)
    # a first guess of the site profile (time zone, day-first dates) from the URL and og:site_name,
    # so comment dates are read with the site's conventions
    site_name = next((el.get("content") for el in _SITE_NAME(tree)[:1]), None)
    profile = _profiles.match(url, site_name, extra_dir=profiles_dir)

    comments, layer = [], None
    found = schemaorg.jsonld_comments(jsonld, profile, captured_at=captured_at)
    if found:
        comments, layer = found, "jsonld"
    if not comments and (found := schemaorg.microdata_comments(tree, profile, captured_at=captured_at, attrs=attrs)):
        comments, layer = found, "microdata"
    if not comments and (res := comments_profiles.extract(tree, profile, captured_at=captured_at,
                                                          extra_dir=profiles_dir, attrs=attrs)):
        layer, comments = f"system:{res[0]}", res[1]
    if not comments and (found := comments_generic.extract(tree, profile, captured_at=captured_at)):
        comments, layer = found, "generic"
    if not comments and (found := comments_generic.undated(tree, profile, captured_at=captured_at)):
        comments, layer = found, "generic"
    if not comments and (found := comments_scripts.extract(tree, profile, captured_at=captured_at)):
        comments, layer = found, "script"

    # a comment system the page embeds: read before the body extractor copies and prunes the tree
    comment_system, unread = _comment_system(tree, layer, comments, attrs, profiles_dir)
    # claims come from the DOM layers (each comment they keep is claimed) or, on an odd page, from the source
    claimed = layer not in (None, "jsonld", "script") or marked
    doc = _body(tree, url, claimed, precise=body_mode == "precise", stated=schemaorg.article_body(jsonld))
    meta = metadata.article_metadata(tree, jsonld, attrs=attrs, url=url, profile=profile)
    paragraphs = _paragraphs(doc, comments)
    page_url = url or meta["url"]
    profile = _profiles.match(page_url, meta["publication"], extra_dir=profiles_dir)
    flags = [] if layer is None else [f"comments_from_{layer.split(':')[0]}"]
    if unread:
        flags.append(COMMENTS_NOT_EXTRACTED)
    return RawPage(
        title=meta["title"], url=page_url, publication=profile.publication or meta["publication"],
        published_raw=meta["published_raw"], date_candidates=meta["date_candidates"], updated_raw=meta["updated_raw"], section=meta["section"],
        authors=meta["authors"], paragraphs=paragraphs, comment_count_declared=metadata.declared_comment_count(jsonld, tree, attrs),
        language=meta["language"], comments=comments, comment_system=comment_system, extractor=f"{EXTRACTOR}+{layer}" if layer else EXTRACTOR,
        profile=profile.name, flags=flags,
    )


def _comment_system(tree, layer: str | None, comments, attrs: PageAttrs,
                    profiles_dir: str | None) -> tuple[str | None, bool]:
    """The comment system to record on the article: a known system the page embeds, else the system whose
    markup gave the comments; 'unknown_script' (a generic 'show comments' loader) only on a page without
    comment records, where it is the reason they are missing.  Second: the page has no comment records
    but the embed's container holds a thread's worth of text (a static rendering no layer could read),
    so the comments are in the capture after all."""
    found = embeds.detect_embed(tree, attrs=attrs, extra_dir=profiles_dir)
    embedded = found.system if found else None
    if comments and embedded == embeds.UNKNOWN:
        embedded = None
    if embedded is None and layer and layer.startswith("system:"):
        return layer.split(":", 1)[1], False
    return embedded, bool(found and found.filled and not comments)


# words in paragraphs outside the comments the layers claimed: what a page offers as running text
_PARAGRAPH_TEXT = etree.XPath(f"//p[not(ancestor-or-self::*[@{CLAIM_ATTR}])]//text()", smart_strings=False)
# and every visible word outside them (pages that set their text in <div>s and <br>s, not in <p>s): the words
# of the body's text nodes less those under a script, style, noscript, template or claimed subtree
_VISIBLE_TEXT = etree.XPath(f"//body//text()[not(ancestor::script or ancestor::style or ancestor::noscript or "
                            f"ancestor::template or ancestor::*[@{CLAIM_ATTR}])]", smart_strings=False)
_BODY_TEXT = etree.XPath("//body//text()", smart_strings=False)
_SUBTREE_TEXT = etree.XPath("descendant::text()", smart_strings=False)
_INVISIBLE = ("script", "style", "noscript", "template")
_CLAIMED = etree.XPath(CLAIMED_XPATH)
# precise mode keeping under this share of the page's paragraph words, or under the smaller share of all its
# visible words, may have cut the article itself ...
PRECISE_SUSPECT_SHARE = 0.3
PRECISE_CHECK_WORDS = 200  # (pages with fewer paragraph words are not checked that way: teasers, galleries)
PRECISE_SUSPECT_VISIBLE_SHARE = 0.1
# ... and did when trafilatura's plain extraction keeps more than twice as much.  Not the balanced one:
# on pages whose paragraphs are mostly reader comments it could not claim, the balanced extraction
# takes them in (measured in docs/EVALUATION.md, "Article body: trafilatura's modes").
PRECISE_CUT_RATIO = 0.5


def _word_count(texts) -> int:
    return len(" ".join(texts).split())


def _suspect(tree, kept: int) -> bool:
    """Whether a precise body of ``kept`` words is short enough for the page to check it."""
    offered = _word_count(_PARAGRAPH_TEXT(tree))
    if offered >= PRECISE_CHECK_WORDS and kept < PRECISE_SUSPECT_SHARE * offered:
        return True
    body = _word_count(_BODY_TEXT(tree))  # the visible words are a part of these: mostly this settles it
    return kept < PRECISE_SUSPECT_VISIBLE_SHARE * body and kept < PRECISE_SUSPECT_VISIBLE_SHARE * _visible_words(tree, body)


def _visible_words(tree, body: int) -> int:
    """``len(" ".join(_VISIBLE_TEXT(tree)).split())`` by subtraction: ``_VISIBLE_TEXT`` climbs the
    ancestors of every text node five times, while the subtrees to leave out are few.  Words add up
    over text nodes (joined by a space, no word spans two), so the words under the outermost
    left-out subtrees inside a body are taken from the ``body`` words of all the body's text."""
    cut = set(tree.iter(*_INVISIBLE))
    cut.update(_CLAIMED(tree))
    if any(b in cut or any(a in cut for a in b.iterancestors()) for b in tree.iter("body")):
        return _word_count(_VISIBLE_TEXT(tree))  # a left-out subtree holding a body: no subtraction
    for el in cut:
        if next(el.iterancestors("body"), None) is not None and not any(a in cut for a in el.iterancestors()):
            body -= _word_count(_SUBTREE_TEXT(el))
    return body


# the publisher's own statement of the body (JSON-LD articleBody) referees a precise body that covers
# under this share of its words: the balanced extraction is taken when it covers clearly more
STATED_MIN_COVER = 0.6
STATED_GAIN = 0.2


def _words(doc) -> int:
    return len((getattr(doc, "text", None) or "").split())


def _cover(stated: Counter, doc) -> float:
    """Share of the stated body's words (with their counts) that ``doc``'s text holds."""
    got = Counter(tokens(getattr(doc, "text", None) or ""))
    return sum((stated & got).values()) / max(1, sum(stated.values()))


def _body(tree, url: str | None, claimed: bool, *, precise: bool = True, stated: str | None = None):
    """The article body: trafilatura on the shared tree (it copies a tree it is given), the claimed
    comment subtrees pruned.  precise: its readability and jusText fallbacks with favor_precision (less
    boilerplate, fewer comment lines in the body), checked against the page's stated body and against
    trafilatura alone where it looks cut; fast: trafilatura alone (fast=True)."""
    import trafilatura

    def extract(**options):
        return trafilatura.bare_extraction(tree, url=url, with_metadata=False, include_comments=False,
                                           prune_xpath=[CLAIMED_XPATH] if claimed else None, **options)

    try:
        if not precise:
            return extract(fast=True)
        doc = extract(favor_precision=True)
        if stated and (cover := _cover(ref := Counter(tokens(stated)), doc)) < STATED_MIN_COVER:
            alt = extract()
            if _cover(ref, alt) >= cover + STATED_GAIN:
                return alt
        if not _suspect(tree, _words(doc)):
            return doc
        fast = extract(fast=True)
        return fast if _words(doc) < PRECISE_CUT_RATIO * _words(fast) else doc
    except (TypeError, ValueError, AttributeError):
        return None


def _paragraphs(doc, comments) -> list[str]:
    text = getattr(doc, "text", None) if doc is not None else None
    if not text:
        return []
    paras = [p for p in (normalize_text(p) for p in text.split("\n")) if p]
    if not comments:
        return paras
    # a paragraph that repeats a comment (a comment widget trafilatura took for content) is not the article
    bag = {" ".join(tokens(p)) for c in comments for p in c.text.split("\n\n") if len(p) >= 20}
    joined = "\n".join(" ".join(tokens(c.text)) for c in comments)
    out = []
    for p in paras:
        key = " ".join(tokens(p))
        if len(p) >= 20 and (key in bag or (len(key) >= 40 and key in joined)):
            continue
        out.append(p)
    return out
