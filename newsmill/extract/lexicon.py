"""Worded knowledge the date reader and the comment parsers need beyond what :class:`Profile` compiles.

Month and weekday names, time-zone abbreviations, relative-time words and the
words comment widgets put around names and dates are language data, so they
live in ``_default.toml`` next to the other generic patterns (the user's
``profiles_dir`` and a site profile extend the lists and tables).  The data comes
from the one loader, :func:`newsmill.profiles.profile_spec`; a lexicon is
compiled once per (profile, ``profiles_dir``).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from newsmill.profiles import Profile, profile_spec


@dataclass(frozen=True, eq=False)  # (hashed by identity: one per profile and profiles_dir, compiled rules cached on it)
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
    months: dict[str, int]  # lower-case month name or abbreviation (no trailing dot) -> month number
    dates: dict[str, tuple[str, ...]]  # the date reader's word lists (regex fragments), compiled in ``dates``
    name_trail: re.Pattern  # a verb and punctuation after a name ('says:'), for the HTML reader
    name_lead: re.Pattern  # 'Posted by:' before a name, for the HTML reader
    connector_only: re.Pattern  # a piece of a stamp line with no name in it ('Posted on')
    after_name: re.Pattern  # a name (or a separator) follows the date ('DATE by Jo', 'DATE | Jo')
    connect_tail: re.Pattern  # connectors between a name and the date after it ('Jo said on')
    connect_head: re.Pattern  # connectors between a date and the name after it ('— by Jo')
    dump_after_name: re.Pattern  # ``after_name`` of the text-dump stamp reader
    lead_connect: re.Pattern  # a line part that is only 'on' before the date ('on DATE Jo')
    not_a_name: re.Pattern  # what follows such a date and is no name ('in Category')
    continued: re.Pattern  # a stamp line that goes on in the next line ('May 1, 2012 at')
    count_one: re.Pattern  # 'One comment': a declared count of one
    # (state, whole-text pattern) of the placeholders systems print in place of a gone comment, in order
    moderation: tuple[tuple[str, re.Pattern], ...] = ()


def _alt(words) -> str:
    return "|".join(re.escape(w) for w in sorted(set(words), key=len, reverse=True))


def _join(fragments) -> str:
    """Regex fragments as one alternation, in their order (a user's in front)."""
    return "|".join(fragments)


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


# the date reader's lists (``dates`` compiles them); each holds regex fragments, case ignored
DATE_KEYS = ("weekday_patterns", "weekday_date_articles", "day_suffixes", "day_month_joiners", "month_year_joiners",
             "time_connectors", "time_date_connectors")


@cache
def lexicon(profile_name: str = "unknown", extra_dir: str | None = None) -> Lexicon:
    """The lexicon of a profile, with the words of ``extra_dir`` (the user's ``profiles_dir``)."""
    spec = profile_spec(profile_name, extra_dir)
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
        months={w.lower().rstrip("."): int(num) for num, words in spec["month_names"].items() for w in words},
        dates={key: tuple(spec[key]) for key in DATE_KEYS},
        name_trail=re.compile(rf"\s*(?:{_join(spec['name_trail_verbs'])})?\s*(?::|\.{{2,}}|…)*\s*$", re.I),
        name_lead=re.compile(rf"^\s*(?:{_join(spec['name_lead_words'])})\s*:?\s+", re.I),
        connector_only=re.compile(rf"^(?:\W|\b(?:{_join(spec['stamp_connector_words'])})\b)*$", re.I),
        after_name=re.compile(rf"^\W*(?:{_join(spec['name_after_date_words'])})\b|^\s*[|—–-]\s*\w", re.I),
        connect_tail=re.compile(
            rf"(?:\s*(?:\b(?:{_join(spec['name_date_connectors'])})\b|[|:,\-–—@·•/(]|\.\.\.|…))+\s*$", re.I),
        connect_head=re.compile(
            r"^\s*(?:[|:,\-–—@·•/)]|" + "|".join(rf"\b{w}\b" for w in spec["name_after_date_words"]) + r"|\s)+", re.I),
        dump_after_name=re.compile(
            r"^\s*(?:[|—–\-·•\[]|" + "|".join(rf"{w}\b" for w in spec["dump_name_after_date_words"]) + ")", re.I),
        lead_connect=re.compile(rf"^\s*(?:{_join(spec['date_lead_words'])})\s*$", re.I),
        not_a_name=re.compile(rf"^\s*(?:{_join(spec['not_name_words'])})\b", re.I),
        continued=re.compile("(?:" + "|".join(rf"\b{w}" for w in spec["time_continuation_words"]) + r"|@|-|–|,)$", re.I),
        count_one=re.compile(rf"(?:{_join(spec['count_one_words'])})\b", re.I),
        moderation=tuple((state, re.compile(rf"^(?:{_join(pats)})\W*$", re.I | re.S))
                         for state, pats in spec.get("moderation_placeholders", {}).items() if pats),
    )


def placeholder(text: str, lex: Lexicon) -> str | None:
    """The moderation state ('removed', 'deleted', 'pending') when ``text`` is, as a whole, a placeholder a
    comment system prints in place of a comment (``moderation_placeholders``); else None."""
    if not text or len(text) > 400:
        return None
    flat = " ".join(text.split())
    return next((state for state, pattern in lex.moderation if pattern.match(flat)), None)


def lexicon_of(profile: Profile) -> Lexicon:
    """The lexicon that goes with a compiled profile (same site, same ``profiles_dir``)."""
    return lexicon(profile.name, profile.extra_dir)


_UNIT_SECONDS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400, "week": 7 * 86400,
                 "month": 30 * 86400, "year": 365 * 86400}


@cache
def not_titles(extra_dir: str | None = None) -> frozenset[str]:
    """Case-folded lines that are page furniture, never an article's title ('Home', 'Main menu')."""
    return frozenset(" ".join(w.casefold().split()) for w in profile_spec("unknown", extra_dir).get("not_titles", []))
