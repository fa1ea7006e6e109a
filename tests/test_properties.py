"""Property-based tests (hypothesis): what must hold for *any* input, not just the fixtures.

Example counts come from the hypothesis profile in ``conftest.py`` (modest by default;
``HYPOTHESIS_PROFILE=thorough`` for a deep run).  ``bench/fuzz_extractors.py`` runs the
same targets for minutes at a time.
"""
from __future__ import annotations

import re
import unicodedata
from datetime import datetime, timezone

import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st

from newsmill.extract.dates import find_date
from newsmill.extract.textdump import parse_text_dump
from newsmill.sources.decode import UndecodableError, decode
from newsmill.text import normalize_line, normalize_text

# text that looks a bit like a page: dates, stamps, bullets, names, blank lines
_PIECES = st.sampled_from([
    "\n", "\n\n", "  • ", "    ", "* ", "1. ", "□ ", "Reply", "Report", "says:", "wrote:", "12 Comments", "Comments",
    "Leave a Reply", "Published: ", "Posted by ", "March 3, 2012", "at 4:15 pm", "3 hours ago", "Feb 8, 2012 - 5:11PM",
    "2012-03-03T16:15:00Z", "03/04/2012 09:02", "July 23, @09:58PM", "+0100", "GMT+2", "Alice Doe", "@Bob:", "Bob Roe",
    "The council approved the budget.", "<script>alert(1)</script>", "[avatar]", "—", "|", ":", "...", "\t", "\r\n",
    "\u00a0", "\u200b", "é", "’", "\x00", "\x0b", "\ufeff",
])
PAGEISH = st.lists(st.one_of(_PIECES, st.text(max_size=12)), max_size=60).map("".join)
ANY_TEXT = st.one_of(st.text(max_size=300), PAGEISH)

DAY_FIRST = st.booleans()
DEFAULT_YEAR = st.one_of(st.none(), st.integers(1900, 2100))


# --------------------------------------------------------------------------- find_date


@given(text=ANY_TEXT, day_first=DAY_FIRST, default_year=DEFAULT_YEAR, relative=st.booleans())
def test_find_date_never_raises_and_span_is_inside(text, day_first, default_year, relative):
    m = find_date(text, day_first=day_first, default_year=default_year, relative=relative)
    if m is None:
        return
    assert 0 <= m.start <= m.end <= len(text)
    assert m.end > m.start
    if m.year is not None:
        assert m.date is not None  # a valid calendar date


_TIME_FORMATS = ["%B %d, %Y at %I:%M %p", "%b %d, %Y - %I:%M%p", "%d.%m.%Y %H:%M", "%Y-%m-%dT%H:%M:%S",
                 "%B %d at %I:%M %p", "%H:%M, %d %B %Y"]


@given(before=ANY_TEXT, when=st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2035, 12, 31)),
       fmt=st.sampled_from(_TIME_FORMATS), after=ANY_TEXT, day_first=DAY_FIRST, default_year=DEFAULT_YEAR)
@example(before="", when=datetime(2012, 3, 3, 16, 15), fmt=_TIME_FORMATS[0], after=" +0100", day_first=False,
         default_year=None)
def test_to_utc_is_aware_for_any_found_time(before, when, fmt, after, day_first, default_year):
    text = before + " " + when.strftime(fmt) + after
    m = find_date(text, day_first=day_first, default_year=default_year)
    if m is None or not m.has_time or m.year is None:
        return
    for tz in ("UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata"):
        utc = m.to_utc(tz)
        assert utc.tzinfo is not None and utc.utcoffset().total_seconds() == 0


@pytest.mark.parametrize("text", ["March 3, 2012 at 4:15 pm +9999", "March 3, 2012 16:15 GMT+25",
                                  "March 3, 2012 16:15 UTC-24:00"])
def test_to_utc_with_impossible_offset_does_not_raise(text):
    m = find_date(text)
    assert m is not None and m.has_time
    utc = m.to_utc("UTC")
    assert utc is None or utc.tzinfo is not None


# every format the scanner documents, with how it must be read back
_FORMATS = [
    ("%B %d, %Y", False, False),  # February 09, 2012
    ("%b %d, %Y", False, False),  # Feb 09, 2012
    ("%A, %B %d, %Y", False, False),  # Thursday, February 09, 2012
    ("%d %B %Y", False, False),  # 09 February 2012
    ("%d %b %Y", False, False),
    ("%Y-%m-%d", False, False),  # ISO
    ("%Y/%m/%d", False, False),
    ("%d.%m.%Y", None, False),  # dots, order unknown: day first
    ("%m.%d.%Y", False, False),  # dots on a month-first profile: the profile decides
    ("%m/%d/%Y", False, False),  # US order on a month-first profile
    ("%d/%m/%Y", True, False),  # day-first profile
    ("%B %d, %Y at %I:%M %p", False, True),
    ("%b %d, %Y - %I:%M%p", False, True),  # 'Feb 08, 2012 - 05:11PM' (Express Tribune)
    ("%d %B %Y %H:%M", False, True),
    ("%Y-%m-%dT%H:%M:%S", False, True),
    ("%Y-%m-%d %H:%M", False, True),
    ("%d.%m.%Y, %H:%M", None, True),
    ("%H:%M, %d %B %Y", False, True),  # time before the date
]


@given(when=st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2035, 12, 31)),
       fmt=st.sampled_from(_FORMATS), prefix=st.sampled_from(["", "Published: ", "Posted on ", "  • "]))
def test_formatted_dates_round_trip(when, fmt, prefix):
    pattern, day_first, has_time = fmt
    s = when.strftime(pattern)
    text = prefix + s
    m = find_date(text, day_first=day_first)
    assert m is not None, text
    assert (m.year, m.month, m.day) == (when.year, when.month, when.day), text
    assert m.start >= len(prefix) - 1 and m.end <= len(text)
    if has_time:
        assert (m.hour, m.minute) == (when.hour, when.minute), text
        utc = m.to_utc("UTC")
        assert utc == when.replace(second=m.second or 0, microsecond=0, tzinfo=timezone.utc)


# --------------------------------------------------------------------------- text normalisation

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@given(text=ANY_TEXT)
def test_normalize_text_idempotent_nfc_no_controls(text):
    once = normalize_text(text)
    assert normalize_text(once) == once
    assert unicodedata.is_normalized("NFC", once)
    assert not _CONTROL.search(once)
    assert "\r" not in once and "\t" not in once
    assert once == once.strip()
    assert "\n\n\n" not in once


@given(line=st.text(max_size=200))
def test_normalize_line_idempotent_and_single_line(line):
    assume("\n" not in line and "\r" not in line)
    once = normalize_line(line)
    assert normalize_line(once) == once
    assert unicodedata.is_normalized("NFC", once)
    assert not _CONTROL.search(once)


def test_normalize_text_drops_c1_controls():
    assert normalize_text("a\x85b\x9dc") in ("abc", "a b c", "a\nb c", "a\nbc")


# --------------------------------------------------------------------------- the text-dump parser


def _squash(s: str) -> str:
    return "".join(s.split())


@given(text=ANY_TEXT)
@example(text="0\n*0")
def test_parse_text_dump_never_raises_and_comments_come_from_the_input(text):
    page = parse_text_dump(text)
    source = _squash(normalize_text(text))
    for c in page.comments:
        # every line of a comment is the input's words (bullets, artefact lines and blank lines
        # between them may be dropped): a substring once whitespace is ignored
        for line in c.text.splitlines():
            assert _squash(line) in source, (line, text)
        assert c.parent_index is None or 0 <= c.parent_index < len(page.comments)
    for p in page.paragraphs:
        # likewise each line of a paragraph (a list glyph opening a line, '*' in lynx and html2text
        # dumps, is not the text's)
        for line in p.splitlines():
            assert _squash(line) in source, (line, text)


# --------------------------------------------------------------------------- decoding


@given(data=st.binary(max_size=600), declared=st.one_of(st.none(), st.sampled_from(
    ["utf-8", "iso-8859-1", "windows-1252", "shift_jis", "utf-16", "../../etc", "x-nonsense", "", " latin1 "])))
@example(data=b"abc \x81\x8d", declared=None)
@example(data=b"\xef\xbb\xbf\xff\xfe", declared=None)
@example(data=b"\xff\xfe\x00\xd8", declared="utf-16")
def test_decode_never_raises_except_undecodable(data, declared):
    try:
        text, enc = decode(data, declared)
    except UndecodableError:
        return
    assert isinstance(text, str) and enc


@given(text=st.text(max_size=200))
def test_decode_utf8_round_trips(text):
    assert decode(text.encode("utf-8")) == (text, "utf-8")


@given(utf8=st.text(alphabet=st.characters(min_codepoint=0xA0, max_codepoint=0x17F), min_size=3, max_size=40),
       stray=st.lists(st.sampled_from("’“”–…€é"), min_size=1, max_size=3))
def test_decode_utf8_with_stray_cp1252_bytes_reads_both(utf8, stray):
    # stray bytes separated by spaces: two of them side by side can happen to be valid UTF-8 ('é’’' in
    # cp1252 is E9 92 92, the UTF-8 for '钒'), which no decoder can tell apart
    assume(len(utf8) >= len(stray))
    data = utf8.encode("utf-8") + b" " + " ".join(stray).encode("cp1252")
    text, enc = decode(data)
    assert enc == "utf-8+cp1252"
    assert text == utf8 + " " + " ".join(stray)
