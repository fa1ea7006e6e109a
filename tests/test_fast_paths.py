"""The shortcuts taken for speed give what the plain definitions give.

Extraction skips work it can prove useless (a regex pass over a line with nothing to
normalise, a selector naming a class the page lacks, a month-name scan on a string
without a year...).  Each test here states the plain definition once and checks the
shortcut against it on generated input, so a shortcut that starts to change results
fails here and not only as a drift in the benchmarks.
"""
from __future__ import annotations

import re
import unicodedata

from hypothesis import example, given
from hypothesis import strategies as st
from lxml import etree
from lxml.cssselect import CSSSelector
from lxml.html import HtmlElement

from newsmill.clean import _MENTION, link_quotes, strip_artifacts
from newsmill.extract import dates
from newsmill.extract.html import comments_profiles, embeds
from newsmill.extract.html.attrs import PageAttrs
from newsmill.extract.html.tree import CLAIM_ATTR, flat_text, node_text, parse
from newsmill.extract.lexicon import lexicon
from newsmill.profiles import default_profile
from newsmill.text import normalize_line, normalize_text, normalize_trimmed, paragraphs, tokens

_ODD = st.sampled_from(["a", "b", " ", "  ", "\t", "\r", "\n", "\x0b", "\x0c", "\x1f", "\x7f", "\x85", "\xa0", "\u2002",
                        "\u200b", "\u00ad", "\u3000", "\u2028", "e\u0301", "é", "\ufeff", "x1.", "Reply"])
LINEISH = st.one_of(st.text(max_size=40), st.lists(_ODD, max_size=14).map("".join))


# --------------------------------------------------------------------------- text


@given(LINEISH)
def test_normalize_trimmed_is_normalize_line_stripped(line):
    assert normalize_trimmed(line) == normalize_line(line).strip()


def _normalize_text_by_definition(text: str) -> str:
    lines = [normalize_line(ln).strip() for ln in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


@given(LINEISH)
def test_normalize_text_one_line_shortcut(text):
    assert normalize_text(text) == _normalize_text_by_definition(text)


def _normalize_line_by_definition(line: str) -> str:
    line = unicodedata.normalize("NFC", re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]", "",
                                               re.sub(r"[\u200b\u200c\u200d\u2060\ufeff\u00ad]", "", line)))
    line = line.replace("\t", "    ").replace("\u00a0", " ").rstrip()
    indent = len(line) - len(line.lstrip(" "))
    return " " * indent + re.sub(r"[ \t\u00a0\u2000-\u200a\u202f\u205f\u3000]+", " ", line[indent:])


@given(LINEISH)
def test_normalize_line_ascii_shortcut(line):
    assert normalize_line(line) == _normalize_line_by_definition(line)


# --------------------------------------------------------------------------- HTML text


_PIECE = st.sampled_from(["<p>", "</p>", "<div>", "</div>", "<br>", "<span>", "</span>", "<b>", "</b>", " ", "\n",
                          "word", "e\u0301", "\u200b", "\xa0", "&#8203;", "\t", "<li>", "<script>x</script>",
                          "<span hidden>gone</span>", "x\u3000y", "&nbsp;", "\u2028"])


@given(st.lists(_PIECE, max_size=30).map("".join))
def test_flat_text_is_node_text_on_one_line(body):
    root = parse(f"<html><body><div id='r'>{body}</div></body></html>")
    if root is None:
        return
    for el in root.iter():
        assert flat_text(el) == " ".join(node_text(el).split())


_PAGES = [
    "<html><body><p>plain</p></body></html>",
    "<?xml version='1.0' encoding='utf-8'?><html><body><p>declared</p></body></html>",
    ("<!DOCTYPE html>\n<html><head><title>t</title></head><body><form><input name=q><select><option>a</select>"
     "<textarea>x</textarea><label>l</label></form></body></html>"),
    "<html/>\n<body><p>self-closing html</p></body>",
    "just text, no markup at all",
    "<p>a fragment</p>",
    "<div>one</div><div>two</div>",
    "<html><body>\x00\x08 control \ufffe characters</body></html>",
    "",
]


def test_parse_gives_trafilaturas_tree():
    from trafilatura.utils import load_html

    for page in _PAGES:
        ours, theirs = parse(page), load_html(page)
        if not isinstance(theirs, HtmlElement) or theirs is None:
            assert ours is None, page
            continue
        assert etree.tostring(ours) == etree.tostring(theirs), page
        assert all(isinstance(el, HtmlElement) for el in ours.iter())


# --------------------------------------------------------------------------- selectors


_CLASSES = ["comment", "comments", "commentlist", "comment-author", "fn", "reply", "avatar", "children", "says",
            "comment-body", "comment-content", "vcard", "depth-2", "dsq-comment", "post", "x", "modal", "vf-widget",
            "viafoura", "fb-comments", "my-comments-viafoura"]


@st.composite
def _page(draw):
    def node(depth: int) -> str:
        tag = draw(st.sampled_from(["div", "ol", "ul", "li", "span", "p", "cite", "time", "a", "dl", "dt", "dd",
                                    "dialog", "template", "section", "vf-conversations", "giscus-widget"]))
        cls = " ".join(draw(st.lists(st.sampled_from(_CLASSES), max_size=3)))
        ident = draw(st.sampled_from(["", "comments", "comment-1", "li-comment-2", "commentlist", "vuukle-comments-9",
                                      "disqus_thread"]))
        extra = draw(st.sampled_from(["", " role='dialog'", " ROLE='button'", " data-widget='comments'",
                                      " data-spotim-module='conversation'", " data-fb-comments"]))
        kids = "".join(node(depth + 1) for _ in range(draw(st.integers(0, 3 if depth < 4 else 0))))
        return f"<{tag} class='{cls}' id='{ident}'{extra}>t{kids}</{tag}>"
    return f"<html><body>{node(0)}</body></html>"


@given(_page())
def test_narrowed_selectors_find_the_same_nodes(page):
    tree = parse(page)
    present = PageAttrs(tree).present
    for system in comments_profiles.load_systems():
        for sel in (system.detect, system.items, *system.author, *system.date, *system.text, *system.ui):
            narrowed = comments_profiles._narrow(sel, present)
            assert (narrowed(tree) if narrowed is not None else []) == sel(tree), sel.css
    # the one-walk forms (embed containers, the places no comment stands in) find what the CSS finds
    for css in (embeds._all_containers(), comments_profiles._not_inside_css()):
        walk = comments_profiles.walk_narrowed(css, present)
        assert (walk(tree) if walk is not None else []) == CSSSelector(css, translator="html")(tree), css


def test_selector_needs_ignore_negations_attribute_values_and_escapes():
    assert comments_profiles._needs(".a:not(.b), li[title='x.y,z'] .c, .md\\:flex") == (
        frozenset({"a"}), frozenset({"c", "<li", "@title"}), frozenset())


def test_selector_needs_name_elements_attributes_and_value_parts():
    assert comments_profiles._needs("d-list[data-url], [class*='vf'][id^='c-'], [id=x] > .y, [class~=z]") == (
        frozenset({"<d-list", "@data-url"}), frozenset({"@class", "@id", ("class", "vf"), ("id", "c-")}),
        frozenset({"@id", "x", "y"}), frozenset({"@class", "z"}))
    present = PageAttrs(parse("<html><body><d-list data-url='u'><p class='avf b' id='c-1'>t</p></d-list></body></html>")).present
    assert [present.allows(n) for n in comments_profiles._needs("d-list[data-url], [class*='vf'][id^='c-'], [class*='vx']")] \
        == [True, True, False]


def test_page_attrs_tell_claims_made_in_the_source():
    clean = PageAttrs(parse("<html><body><div itemscope>x</div></body></html>"))
    marked = PageAttrs(parse(f"<html><body><div {CLAIM_ATTR.upper()}='1'>x</div></body></html>"))
    assert not clean.marked and len(clean.items) == 1
    assert marked.marked and marked.items == []


# --------------------------------------------------------------------------- dates


_DATEISH = st.lists(st.sampled_from(["2012", "1999", "12", "3", "/", ".", "-", " ", "Feb", "February", "9th", ",",
                                     "de", "mars", "at", "4:15", "pm", "x", "07.08.12", "2012-03-04"]),
                    max_size=10).map("".join)


def _spans(matches) -> list:
    return [(m.span(), m.re.pattern) for m in matches]


@given(st.one_of(_DATEISH, st.text(max_size=30)))
@example("07.08.12")
@example("on 9/2/12 at 4:15")
@example("Feb 8, 2012")
@example("2012-03-04")
def test_date_form_hints_never_hide_a_date(text):
    every_form = _spans(dates._date_candidates(text))
    if not dates._YEAR_HINT.search(text):
        assert every_form == _spans(dates._date_candidates(text, dates.grammar(lexicon()).date_res[-1:]))
        if not dates._NUMERIC_HINT.search(text):
            assert every_form == []


_UNITISH = st.lists(st.sampled_from(["3", " ", "minutes", "Minuten", "ago", "vor", "STUNDEN", "hours", "x", "é",
                                     "il y a", "heures", "ſeconds", "semaines", "-"]), max_size=8).map("".join)


@given(st.one_of(_UNITISH, st.text(max_size=30)))
@example("3minutes")
@example("2h ago")
def test_relative_unit_lookahead_finds_the_same(text):
    lex = lexicon()
    # the plain definition: a unit word after a word boundary or right after a number ('2h ago', '3minutes')
    plain = re.compile(r"(?:\b|(?<=\d))(?:" + "|".join(re.escape(u) for u in sorted(lex.relative_units, key=len, reverse=True))
                       + r")\b", re.I)
    mine, ref = lex.relative_unit.search(text), plain.search(text)
    assert (mine and mine.span()) == (ref and ref.span())


# --------------------------------------------------------------------------- cleaning


_TAILISH = st.lists(st.sampled_from(["Reply", "Report abuse", "Like", "Share", "|", "•", "·", " ", "\n", "ok.", "yes",
                                     "-Reply", "Reply!", "(", "\xa0", "Antworten"]), max_size=6).map("".join)


@given(st.one_of(_TAILISH, st.text(max_size=30)))
def test_strip_artifacts_shortcut(text):
    profile = default_profile()
    stripped = profile.artifact_tail.sub("", text).rstrip()
    assert strip_artifacts(text, profile) == (stripped, stripped != text.rstrip())


def _link_quotes_by_definition(rows):
    token_text = [" " + " ".join(tokens(r["text"])) + " " for r in rows]
    for i, row in enumerate(rows):
        for para in paragraphs(row["text"]):
            toks = tokens(_MENTION.sub("", para))
            if len(toks) < 6:
                continue
            needle = " " + " ".join(toks) + " "
            j = next((j for j in range(i) if needle in token_text[j]), None)
            if j is not None:
                row["quoted_comment_id"] = rows[j]["comment_id"]
                break


_WORDS = st.lists(st.sampled_from(["a", "b", "c", "d", "\n\n", "@x:", "é", "1"]), max_size=25).map(" ".join)


@given(st.lists(_WORDS, max_size=7))
def test_link_quotes_single_search(texts):
    rows = [{"text": t, "comment_id": str(i), "quoted_comment_id": None} for i, t in enumerate(texts)]
    expected = [dict(r) for r in rows]
    _link_quotes_by_definition(expected)
    link_quotes(rows)
    assert rows == expected


# --------------------------------------------------------------------------- the precise body's check


_VISIBLE_PIECES = ["<div>", "</div>", "<p>", "</p>", "<script>var a = 1;</script>", "<style>p {}</style>",
                   "<noscript>", "</noscript>", "<template>", "</template>", f"<div {CLAIM_ATTR}='1'>",
                   f"<section {CLAIM_ATTR}='1'>", "</section>", "<span>", "</span>", "word", " two words ", "<br>",
                   "tail", "\xa0", "\u3000x", "<body>", "</body>", f"<body {CLAIM_ATTR}='1'>"]


@given(st.lists(st.sampled_from(_VISIBLE_PIECES), max_size=30).map("".join),
       st.sampled_from(["<html>", f"<html {CLAIM_ATTR}='1'>", "<html><head><script>x y</script></head>"]))
@example("<div>a<script>b c</script>d<div data-newsmill-comment='1'>e<p>f</p>g</div>h</div>", "<html>")
@example(f"<noscript>a b</noscript>", f"<html {CLAIM_ATTR}='1'>")
def test_visible_words_by_subtraction(body, html):
    from newsmill.extract.html import _VISIBLE_TEXT, _BODY_TEXT, _visible_words, _word_count

    tree = parse(f"{html}<body>{body}</body></html>")
    if tree is None:
        return
    assert _visible_words(tree, _word_count(_BODY_TEXT(tree))) == _word_count(_VISIBLE_TEXT(tree))
