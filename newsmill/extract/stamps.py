"""Comment stamp lines in a text dump: the date (or time ago) a comment carries, and its author.

A stamp is the anchor of a comment in a dump without markup.  Sites print it in
many shapes ('Jo says: May 1, 2012 at 3:04 pm', 'by Jo on 07.15.12 at 11:59',
'Fri, 2012-11-09 18:05 — Jo (not verified)', 'Posted by: Jo | May 1, 2012',
'May 1, 2012 3:04 PM ReplyDelete'), so a line counts when, once widget words
are removed, it holds a date plus at most a short name before or after it.
Anything longer is prose that mentions a date, not a stamp.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from newsmill.extract.dates import DateMatch, date_coverage, find_date
from newsmill.extract.lexicon import Lexicon

NAME_MAX_WORDS = 6
NAME_MAX_CHARS = 48

# '[7a570]', '[avatar]', '[photo]': w3m's placeholder for an image, often an avatar before a name
IMAGE = re.compile(r"\[[^\]\s]{0,40}(?:\s[^\]\s]{1,20}){0,3}\]\s*")
_IMAGES_LEAD = re.compile(r"^(?:\s*(?:\[[^\]]{0,40}\]|_)\s*)+")
_NUMBER_LEAD = re.compile(r"^(?:#?\d{1,4}[.):]?\s+|#\d{1,4}\s*)")
# (the connectors left between a name and a date, 'Jo on', 'Jo said on', '— by Jo', are words of the
# lexicon: ``connect_tail`` and ``connect_head``)
_SENTENCE_END = re.compile(r"[.!?…]['\"”’)]*$")
_WORD = re.compile(r"\w")
_COUNT = re.compile(r"(?<![\w,.])\d{1,5}(?![\w,.])")
_URL = re.compile(r"\[?(?:https?://|www\.)\S+")
_URL_LEAD = re.compile(r"^(?:https?://|www\.)\S+\s+(?=\S)")
# 'A Thrifty Mrs26 October 2012 17:40': a name set right against the date (adjacent elements)
GLUED_DATE = re.compile(r"(?<=[^\W\d_])(?=\d{1,2}(?:st|nd|rd|th)?\s+[^\W\d_]{3,}\.?,?\s+\d{4}\b|\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}\b)")
_EMPTY_BRACKETS = re.compile(r"\(\s*\)|\[\s*\]")
# 'on DATE Jo': a line that opens with the date's own preposition (the lexicon's ``lead_connect``) is a
# stamp whose name follows the date, unless what follows is no name ('on DATE in Category': ``not_a_name``);
# w3m often shows an avatar placeholder between them ('[6aea6] Jo'), lynx shows none



@dataclass(frozen=True)
class Stamp:
    line: int
    match: DateMatch | None  # None for an anchor that only names the commenter
    posted_raw: str | None
    author: str | None
    author_after: bool  # the name follows the date ('DATE — Jo')
    shape: tuple  # what the line looks like, for telling a regular run of comments from stray dates


def clean_name(s: str, lex: Lexicon) -> str | None:
    """A commenter's name from what surrounds it, or None when it reads like prose."""
    s = _IMAGES_LEAD.sub("", s.strip())
    s = _URL_LEAD.sub("", s)  # 'http://example.com Jo': the commenter's site linked before the name
    s = _NUMBER_LEAD.sub("", s)
    s = lex.author_prefix.sub("", s)
    for _ in range(2):
        s = lex.author_suffix.sub("", s)
        s = lex.author_verb.sub("", s)
        s = lex.connect_tail.sub("", s)
    s = s.strip(" \t\"'“”:|-–—")
    if not s or len(s) > NAME_MAX_CHARS or len(s.split()) > NAME_MAX_WORDS:
        return None
    if not _WORD.search(s) or "://" in s or s.lower().startswith("www.") or _SENTENCE_END.search(s) and not re.search(r"(?:\b\w|\.\w+)\.$", s):
        return None
    return s


def _date_form(m: DateMatch, raw: str) -> str:
    if m.relative:
        return "rel"
    if re.search(r"[A-Za-zÀ-ÿ]{3}", raw):
        return "named"
    return "num"


def parse_stamp(text: str, i: int, lex: Lexicon, *, day_first: bool, default_year: int | None) -> Stamp | None:
    """The stamp on one line (already stripped of its list bullet), or None."""
    if not text or len(text) > 200:
        return None
    m = find_date(text, day_first=day_first, default_year=default_year, relative=True, lex=lex)
    if m is None:
        return None
    before, after = text[: m.start], text[m.end :]
    after_clean = _EMPTY_BRACKETS.sub(" ", lex.stamp_noise.sub(" ", IMAGE.sub(" ", _URL.sub(" ", after))))
    after_clean = _COUNT.sub(" ", after_clean)  # widget counters: 'Reply 0 Flag
    verb = lex.author_verb.search(after_clean)
    if verb:  # 'On DATE Jo said:'
        after_clean = after_clean[: verb.start()]
    author, author_after = None, False
    if _WORD.search(after_clean):
        # 'DATE — Jo (not verified)', 'DATE | Jo', 'On DATE Jo said:': a name after the date needs a
        # separator or a verb, and no name before the date
        if not (verb or lex.dump_after_name.match(after)
                or lex.lead_connect.match(before) and not lex.not_a_name.match(after)) \
                or _WORD.search(lex.connect_tail.sub("", _IMAGES_LEAD.sub("", lex.stamp_noise.sub(" ", before)))):
            return None
        author = clean_name(lex.connect_head.sub("", after_clean), lex)
        if author is None:
            return None
        author_after = True
    before_clean = _IMAGES_LEAD.sub("", _EMPTY_BRACKETS.sub(" ", lex.stamp_noise.sub(" ", _URL.sub(" ", before))))
    prefix = ""
    if _WORD.search(before_clean):
        p = lex.author_prefix.match(before_clean)
        prefix = p.group(0).strip().lower() if p else ""
        name = clean_name(before_clean, lex)
        if name is not None and author is None:
            author = name
        elif _WORD.search(lex.connect_tail.sub("", lex.author_prefix.sub("", before_clean))):
            return None  # prose before the date, or names on both sides
    elif author is None and not m.has_time and not m.relative and date_coverage(text, m) < 0.6:
        return None
    if m.year_assumed and not m.has_time:
        return None
    raw = text[m.start : m.end].strip()
    shape = (_date_form(m, raw), m.has_time, author is not None, author_after, prefix)
    return Stamp(i, m, raw, author, author_after, shape)


def parse_anchor(text: str, i: int, lex: Lexicon) -> Stamp | None:
    """A line naming a commenter without a date ('Jo said,', 'by Jo (1234) writes:'): an anchor for
    sites that print no date on comments."""
    if not text or len(text) > 90 or not lex.author_verb.search(text):
        return None
    cleaned = _EMPTY_BRACKETS.sub(" ", lex.stamp_noise.sub(" ", _URL.sub(" ", text)))
    name = clean_name(cleaned.replace("*", " "), lex)
    if name is None:
        return None
    p = lex.author_prefix.match(_IMAGES_LEAD.sub("", cleaned))
    return Stamp(i, None, None, name, False, ("anchor", False, True, False, p.group(0).strip().lower() if p else ""))
