"""regex_search: RE2 over Arrow must answer exactly what Python's ``re.search`` answers.

The oracle is always Python's ``re`` itself (the engine the checks were written for and that GX
ran them with), applied row by row; the places where RE2 and ``re`` disagree are the cases.
"""
from __future__ import annotations

import json
import re

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from newsmill import profiles
from newsmill.validate import arrow_regex, gx_run


def _suite_regexes() -> list[str]:
    """Every regex the suites run through ``meta.derive``, plus the profiles' artefact regex."""
    found = [profiles.ui_artifact_regex(None)]
    for name in ("articles", "comments"):
        for e in json.loads((gx_run.SUITE_DIR / f"{name}.json").read_text(encoding="utf-8"))["expectations"]:
            d = e["meta"].get("derive") or {}
            found += [v for k, v in d.items() if k != "column" and isinstance(v, str)]
    return sorted(set(found))


SUITE_REGEXES = _suite_regexes()
HTML = next(r for r in SUITE_REGEXES if r.startswith("(?i)</?"))
UI = profiles.ui_artifact_regex(None)

# Constructs where RE2 and Python's re differ, or that RE2 lacks.
TRICKY = [
    r"\S", r"^\s*$", r"\w+", r"\W", r"\d", r"(?a)\w", r"(?a)\bfoo\b", r"\bfoo\b", r"\Bo", r"(?i)straße", r"(?i)[a-z]+",
    r"(?i)[^a-z]", r"(?i)k", r"(?i)i", r"foo$", r"(?m)^foo$", r"(?m)o$\n", r"foo\Z", r"\Afoo", r"(?s)a.b", r"a.b",
    r"(?<=a)b", r"(?<!a)b", r"a(?=b)", r"a(?!b)", r"(a)\1", r"(a)?(?(1)b|c)", r"a*+b", r"(?>a+)b", r"x{1001}",
    r"x{2,1500}", r"(?:ab){1000,}", r"(?x) a b  # comment", r"[\s\S]", r"[^\W\d]", r"a|", r"", r"\\.\.",
]
# Characters at the edges: Unicode spaces RE2's \s misses (NBSP, U+2003, U+3000, \x0b, \x1c-\x1f, \x85),
# a zero-width space that is not a space, case-folding oddities (dotless i, dotted I, long s, Kelvin sign,
# sharp s), non-ASCII word characters, newlines.
ALPHABET = list("ab fo<>/!-.?\n\t") + ["\u00a0", "\u2003", "\u3000", "\x0b", "\x1c", "\x85", "\u2028", "\u200b",
                                       "\u0131", "\u0130", "\u017f", "\u212a", "ß", "ẞ", "é", "٣", "_", "K", "I", "S"]
PIECES = ["<p>", "</DIV>", "<b class='x'>", "<!--", "<bé>", "<ı>", "<İMG src=x>", "<blocKquote>", "<3", "a < b > c",
          "Reply", "Report", "Reply\n", " Reply", ". Report ", "Reply to this", "Like\u00a0", "\u00a0", " ", "\n"]
TEXTS = st.lists(st.sampled_from(ALPHABET + PIECES), max_size=12).map("".join)


def check(pattern: str, texts: list[str | None]) -> None:
    got = arrow_regex.search(pa.array(texts, pa.string()), pattern).to_pylist()
    want = [None if t is None else re.search(pattern, t) is not None for t in texts]
    wrong = [(t, g, w) for t, g, w in zip(texts, got, want) if g != w]
    assert not wrong, (pattern, wrong[:5])


@given(texts=st.lists(TEXTS, max_size=30))
def test_search_answers_what_python_re_answers(texts):
    for pattern in SUITE_REGEXES + TRICKY:
        check(pattern, texts + [None])


@pytest.fixture(scope="module")
def every_code_point():
    chars = [chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]  # UTF-8 text holds no surrogates
    return chars, pa.array(chars, pa.string())


@pytest.mark.parametrize("pattern", [r"\s", r"\S", r"\w", r"\d", r"(?a:\w)", r"(?i:k)", r"(?i:[^a-z])", r"(?i:ß)",
                                     r"(?i:[0-9<>/!-])", r"."])
def test_one_character_classes_agree_on_every_code_point(every_code_point, pattern):
    """Exhaustive: the class RE2 gets is exactly the code points Python's re matches."""
    chars, arr = every_code_point
    got = arrow_regex.search(arr, rf"\A(?:{pattern})\Z").to_numpy(zero_copy_only=False)
    rx = re.compile(pattern)
    want = np.fromiter((rx.fullmatch(c) is not None for c in chars), bool, count=len(chars))
    assert (got == want).all(), [hex(ord(chars[i])) for i in np.flatnonzero(got != want)[:10]]


def test_the_suite_regexes_run_on_re2():
    """Whitespace and artefact checks are exact in RE2; the HTML check needs re only for RE2's candidates."""
    assert arrow_regex.plan(r"\S") == "re2"
    assert arrow_regex.plan(UI) == "re2"
    assert arrow_regex.plan(HTML) == "re2+re"  # Unicode \b: RE2 finds the candidates, re decides


@pytest.mark.parametrize(("pattern", "text", "python_says"), [
    (r"\S", "\u00a0\u2003\u3000\x0b\x1c\x85", False),  # RE2's \S would say True: these are spaces to re
    (r"\S", "\u200b", True),  # a zero-width space is not whitespace
    (HTML, "<ı>", True),  # (?i): dotless i folds to i in re, not in RE2
    (HTML, "<blocKquote>", True),  # KELVIN SIGN folds to k
    (HTML, "<bé>", False),  # \b: é is a word character in re, not in RE2
    (HTML, "<B>bold</B>", True),
    (UI, "Good point. Reply\n", True),  # $ before a final newline
    (UI, "Reply\nand more", False),
])
def test_where_re2_and_re_differ_re_wins(pattern, text, python_says):
    assert (re.search(pattern, text) is not None) is python_says  # the case is what it claims to be
    assert arrow_regex.search(pa.array([text]), pattern).to_pylist() == [python_says]


def test_pattern_re2_cannot_compile_falls_back_to_re_for_that_pattern():
    pattern = r"(?:(?:a{999}){999}){99}|b"  # expands far beyond RE2's program size limit
    assert arrow_regex.plan(pattern) == "re"
    check(pattern, ["abc", "xyz", None, "a" * 50])


def test_chunked_and_large_string_input():
    texts = ["<p>x", None, " ", "ok"]
    chunked = pa.chunked_array([pa.array(texts[:2], pa.large_string()), pa.array(texts[2:], pa.large_string())])
    for pattern in (HTML, r"\S"):
        got = arrow_regex.search(chunked, pattern).to_pylist()
        assert got == [None if t is None else re.search(pattern, t) is not None for t in texts]


def test_bad_pattern_raises_re_error():
    with pytest.raises(re.error):
        arrow_regex.search(pa.array(["x"]), "(unclosed")
