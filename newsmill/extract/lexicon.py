"""Worded knowledge the text-dump parser needs beyond what :class:`Profile` compiles.

Time-zone abbreviations, relative-time words and the words comment widgets put
around names and dates are language data, so they live in ``_default.toml``
next to the other generic patterns (a site profile may add to the lists or
replace the tables).  They are read here rather than in ``profiles.py`` so the
profile format stays backward compatible: unknown keys are simply ignored there.
"""
from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from newsmill.profiles import PROFILE_DIR

_LIST_KEYS = ("stamp_noise", "section_closers", "sidebar_headers", "not_title_patterns", "reply_references", "author_verbs", "author_prefixes",
              "author_suffixes", "relative_patterns")


@dataclass(frozen=True)
class Lexicon:
    tz_offsets: dict[str, int]  # upper-case abbreviation -> minutes east of UTC
    relative_units: dict[str, int]  # lower-case unit word -> seconds
    relative_numbers: dict[str, int]  # lower-case number word ('an', 'einer') -> value
    relative_days: dict[str, int]  # 'yesterday' -> 1, with a time only
    relative: tuple[re.Pattern, ...]  # groups n, unit
    relative_unit: re.Pattern  # any unit word: a cheap test before trying every pattern
    maybe_date: re.Pattern  # a digit, or a word a relative time cannot do without ('ago', 'vor', 'hace', 'yesterday')
    stamp_noise: re.Pattern  # widget words glued to a stamp line ('Reply #', '| Permalink')
    section_closer: re.Pattern  # a line after which no comment follows (forms, pagination, sidebars)
    sidebar_header: re.Pattern  # a block that repeats comment snippets ('Recent Comments')
    not_title: re.Pattern  # page furniture that sits where a headline would ('Tags: ...', 'Skip navigation')
    reply_reference: re.Pattern  # 'Response to Jo, DATE': a pointer to the parent, not a stamp
    author_verb: re.Pattern  # 'says:', 'said...', 'wrote:' after a name
    author_verb_inline: re.Pattern  # the same verb inside a stamp line ('by Jo (123) writes: on DATE')
    author_prefix: re.Pattern  # 'Posted by:', 'Comment by' before a name
    author_suffix: re.Pattern  # "'s picture", '(not verified)' after a name


def _alt(words) -> str:
    return "|".join(re.escape(w) for w in sorted(set(words), key=len, reverse=True))


def _first_letters(words) -> str:
    """A character class body of the words' first letters: a lookahead on it lets the regex engine
    skip most positions before trying a long alternation (the same matches)."""
    return "".join(sorted({re.escape(w[0]) for w in words if w}))


def _marker_words(patterns) -> set[str]:
    """The fixed words of the relative-time patterns ('ago', 'vor', 'il y a', 'hace'): what is left once
    the number and unit groups and the regex syntax are taken out."""
    out = set()
    for p in patterns:
        rest = re.sub(r"\(\?P<\w+>[^)]*\)|\{unit\}", " ", p)
        rest = re.sub(r"\\[bsdw]|[+*?()\[\]|\\]", " ", rest)
        phrase = " ".join(rest.split())
        if phrase:
            out.add(phrase)
    return out


def _read(path: Path) -> dict:
    return tomllib.loads(path.read_text(encoding="utf-8"))


@cache
def _site_specs() -> dict[str, dict]:
    out = {}
    for path in sorted(PROFILE_DIR.glob("*.toml")):
        if not path.name.startswith("_"):
            spec = _read(path)
            out[spec.get("name", path.stem)] = spec
    return out


@cache
def lexicon(profile_name: str = "unknown") -> Lexicon:
    spec = dict(_read(PROFILE_DIR / "_default.toml"))
    for key, value in _site_specs().get(profile_name, {}).items():
        spec[key] = [*value, *spec.get(key, [])] if key in _LIST_KEYS else value
    units = {w.lower(): secs for secs, words in ((_UNIT_SECONDS[u], ws) for u, ws in spec["relative_units"].items())
             for w in words}
    unit_alt = _alt(units)
    return Lexicon(
        tz_offsets={k.upper(): int(v) for k, v in spec["tz_abbreviations"].items()},
        relative_units=units,
        relative_numbers={k.lower(): int(v) for k, v in spec["relative_numbers"].items()},
        relative_days={k.lower(): int(v) for k, v in spec["relative_days"].items()},
        relative=tuple(re.compile(p.replace("{unit}", f"(?P<unit>{unit_alt})"), re.I) for p in spec["relative_patterns"]),
        relative_unit=re.compile(rf"(?=[{_first_letters(units)}])(?:\b|(?<=\d))(?:{unit_alt})\b", re.I),  # '2h ago' too
        maybe_date=re.compile(rf"\d|\b(?:{_alt(_marker_words(spec['relative_patterns']) | set(spec['relative_days']))})\b", re.I),
        stamp_noise=re.compile("|".join(f"(?:{p})" for p in spec["stamp_noise"]), re.I),
        section_closer=re.compile("|".join(f"(?:{p})" for p in spec["section_closers"]), re.I),
        sidebar_header=re.compile("|".join(f"(?:{p})" for p in spec["sidebar_headers"]), re.I),
        not_title=re.compile("|".join(f"(?:{p})" for p in spec.get("not_title_patterns", ["(?!)"])), re.I),
        reply_reference=re.compile("|".join(f"(?:{p})" for p in spec.get("reply_references", ["(?!)"])), re.I),
        author_verb=re.compile(rf"\s*\b(?:{_alt(spec['author_verbs'])})\s*[:.…,]*\s*$", re.I),
        author_verb_inline=re.compile(rf"\S\s+(?:{_alt(spec['author_verbs'])})\s*[:.…,]", re.I),
        author_prefix=re.compile(rf"^\s*(?:{_alt(spec['author_prefixes'])})\s*:?\s+", re.I),
        author_suffix=re.compile(rf"\s*(?:{_alt(spec['author_suffixes'])})\s*$", re.I),
    )


_UNIT_SECONDS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400, "week": 7 * 86400,
                 "month": 30 * 86400, "year": 365 * 86400}


@cache
def not_titles() -> frozenset[str]:
    """Case-folded lines that are page furniture, never an article's title ('Home', 'Main menu')."""
    return frozenset(" ".join(w.casefold().split()) for w in _read(PROFILE_DIR / "_default.toml").get("not_titles", []))
