"""Finding and reading dates in page text, without knowing the site.

Comment blocks are recognised by their timestamp line, so finding a date
inside a line (and telling how much of the line it covers) matters as much as
parsing it.  Month and weekday names and the words around dates are language
data: they come from the profiles (``_default.toml``, extended by the user's
``profiles_dir``) through the lexicon; this module holds the generic forms.
A hand-written scanner is used instead of ``dateparser.search_dates`` because
it runs on every line of every page: it must be fast and must not invent
dates from ordinary words.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta, timezone
from functools import cache
from zoneinfo import ZoneInfo

from newsmill.extract.lexicon import Lexicon, lexicon

_YEAR = r"(?P<year>(?:19|20)\d\d)(?!\d)"
_TIME_AMPM_ONLY = r"(?P<hour>[01]?\d)\s*(?P<ampm>[ap]\.?m\.?)(?!\w)"
_DIGIT = re.compile(r"\d")
# what the forms of the date grammar contain: a 19xx/20xx year (all but the last), digits around two separators
# (the last): cheap tests that spare the month-name scans on the many strings with digits and no date
_YEAR_HINT = re.compile(r"(?:19|20)\d\d")
_NUMERIC_HINT = re.compile(r"\d[./-]\d\d?[./-]\d")
_TIME_AMPM_RE = re.compile(_TIME_AMPM_ONLY, re.IGNORECASE)


def _alt(fragments) -> str:
    return "|".join(fragments)


def _then_space(fragments) -> str:
    return "|".join(rf"{f}\s+" for f in fragments)


@dataclass(frozen=True)
class Grammar:
    """The date forms compiled from one lexicon's words (month and weekday names, connectors)."""

    months: dict[str, int]
    tz: dict[str, int]
    date_res: tuple[re.Pattern, ...]  # forms with a year; the last one is the numeric form
    yearless_res: tuple[re.Pattern, ...]  # 'July 23', '12th November': only taken with a time and a known year
    sep_time: re.Pattern  # a separator, then a time (after a date)
    iso_time: re.Pattern  # 'T09:15:00+02:00' after an ISO date
    time_sep: re.Pattern  # a time, then a separator, at the end (before a date)
    paren_time: re.Pattern  # '(2:26 PM)' after a relative time
    weekday_before: re.Pattern


@cache
def grammar(lex: Lexicon) -> Grammar:
    """The date grammar of a lexicon, compiled once (a lexicon is one per profile and profiles_dir)."""
    words = lex.dates
    mon = "(?P<mon>" + "|".join(sorted((re.escape(m) for m in lex.months), key=len, reverse=True)) + r")\.?"
    weekday = rf"(?:{_alt(words['weekday_patterns'])})\.?,?\s+"
    weekday_before = re.compile(r"\b" + weekday + rf"(?:{_then_space(words['weekday_date_articles'])})?$", re.IGNORECASE)
    day = rf"(?P<day>[0-3]?\d)(?:{_alt(words['day_suffixes'])})?(?!\d)"
    tz_words = sorted(lex.tz_offsets, key=len, reverse=True)
    time = (
        r"(?P<hour>[0-2]?\d)[:.h](?P<minute>[0-5]\d)(?::(?P<second>[0-5]\d)(?:\.\d{1,9})?)?"  # ISO fractions (.751) before an offset
        r"(?:\s*(?P<ampm>[ap]\.?\s?m\.?))?"
        r"(?:\s*\(?(?P<tz>[+-]\d\d:?\d\d|(?:UTC|GMT)\s*[+-]\s*\d{1,2}(?::?\d\d)?|(?:" + "|".join(tz_words) + r")(?![\w]))\)?)?"
        r"(?![\d:])"
    )
    sep = rf"(?:(?:\s*(?:[-–—,|@/·•(]|{_alt(words['time_connectors'])})\s*)+|\s+)"
    # a month name starts a word, or is glued to a name before it ('ElizabethOctober 29, 2012')
    mon_start = r"(?:\b|(?-i:(?<=[a-z])(?=[A-Z])))"
    day_month = rf"(?:{_then_space(words['day_month_joiners'])})?"
    month_year = rf"(?:{_then_space(words['month_year_joiners'])})?"
    date_forms = [
        # Feb 8, 2012 / February 9th, 2012 / Thursday, February 9, 2012
        rf"{mon_start}{mon}\s+{day},?\s+{_YEAR}",
        # 9 February 2012 / 9. Februar 2012 / 9 de febrero de 2012
        rf"\b{day}\s+{day_month}{mon},?\s+{month_year}{_YEAR}",
        # 2012-02-09 (optionally ISO time) / 2012/02/09
        r"(?<!\d)(?P<iso_year>(?:19|20)\d\d)[-/.](?P<iso_mon>[01]?\d)[-/.](?P<iso_day>[0-3]?\d)(?=\b|T)",
        # 09.02.2012 / 02/09/2012 / 9/2/12
        r"(?<![\d.])(?P<n1>[0-3]?\d)(?P<nsep>[./-])(?P<n2>[0-3]?\d)(?P=nsep)(?P<nyear>(?:19|20)?\d\d)(?!\d)",
    ]
    yearless_forms = [
        rf"{mon_start}{mon}\s+{day}(?!,?\s*\d{{4}})",
        rf"\b{day}\s+{day_month}{mon}(?!,?\s*\d{{4}})",
    ]
    return Grammar(
        months=lex.months,
        tz=lex.tz_offsets,
        date_res=tuple(re.compile(f, re.IGNORECASE) for f in date_forms),
        yearless_res=tuple(re.compile(f, re.IGNORECASE) for f in yearless_forms),
        sep_time=re.compile(sep + "(?:" + time + ")", re.IGNORECASE),
        iso_time=re.compile(r"T" + time, re.IGNORECASE),
        time_sep=re.compile("(?:" + time + rf")(?:\s*(?:,|{_alt(words['time_date_connectors'])}|-|–|—|\|)?\s*)$", re.IGNORECASE),
        paren_time=re.compile(r"\s*\(?\s*(?:" + time + r")\s*\)?", re.IGNORECASE),
        weekday_before=weekday_before,
    )


@dataclass(frozen=True)
class DateMatch:
    """A date (and maybe a time) found in a string, with its character span.

    A relative time ('15 minutes ago') has no calendar date: ``ago_seconds`` is
    set and year/month/day are None until :meth:`resolve` is given the capture time.
    """

    start: int
    end: int
    year: int | None
    month: int | None
    day: int | None
    hour: int | None = None
    minute: int | None = None
    second: int | None = None
    utc_offset_minutes: int | None = None  # from the string itself, when it says
    ago_seconds: int | None = None  # relative times only
    year_assumed: bool = False  # the string had no year; it came from the caller

    @property
    def has_time(self) -> bool:
        return self.hour is not None

    @property
    def relative(self) -> bool:
        return self.ago_seconds is not None

    @property
    def date(self) -> date | None:
        return date(self.year, self.month, self.day) if self.year is not None else None

    def to_utc(self, tz_name: str) -> datetime | None:
        """The instant in UTC: the string's own offset wins, else ``tz_name``."""
        if not self.has_time or self.year is None:
            return None
        naive = datetime(self.year, self.month, self.day, self.hour, self.minute or 0, self.second or 0)
        if self.utc_offset_minutes is not None:
            aware = naive.replace(tzinfo=timezone(timedelta(minutes=self.utc_offset_minutes)))
        else:
            aware = naive.replace(tzinfo=_zone(tz_name))
        return aware.astimezone(timezone.utc)

    def resolve(self, captured_at: datetime) -> "DateMatch":
        """A relative time made absolute against the moment the page was captured (aware datetime)."""
        if not self.relative:
            return self
        t = captured_at.astimezone(timezone.utc) - timedelta(seconds=self.ago_seconds)
        if self.has_time:  # 'yesterday at 3:45 pm' keeps its own clock time
            return replace(self, year=t.year, month=t.month, day=t.day, ago_seconds=None)
        return replace(self, year=t.year, month=t.month, day=t.day, hour=t.hour, minute=t.minute, second=t.second,
                       utc_offset_minutes=0, ago_seconds=None)


@cache
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def _offset(tz: str | None, g: Grammar) -> int | None:
    if not tz:
        return None
    t = tz.upper().replace(" ", "")
    if t in g.tz:
        return g.tz[t]
    m = re.search(r"([+-])(\d{1,2}):?(\d\d)?$", t)
    if not m:
        return None
    minutes = int(m.group(2)) * 60 + int(m.group(3) or 0)
    minutes = -minutes if m.group(1) == "-" else minutes
    return minutes if -12 * 60 <= minutes <= 14 * 60 else None  # real zones span UTC-12..UTC+14


def _time_parts(m: re.Match, g: Grammar) -> tuple[int, int, int | None, int | None] | None:
    hour = int(m.group("hour"))
    minute = int(m.groupdict().get("minute") or 0)
    second = m.groupdict().get("second")
    ampm = (m.group("ampm") or "").lower().replace(".", "").replace(" ", "")
    if ampm:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if ampm == "pm" else 0)
    if hour > 23:
        return None
    return hour, minute, int(second) if second else None, _offset(m.groupdict().get("tz"), g)


def _ymd(m: re.Match, day_first: bool | None, default_year: int | None = None,
         months: dict[str, int] | None = None) -> tuple[int, int, int] | None:
    g = m.groupdict()
    if g.get("mon"):
        year = int(g["year"]) if g.get("year") else default_year
        return year, months[g["mon"].lower().rstrip(".")], int(g["day"])
    if g.get("iso_year"):
        return int(g["iso_year"]), int(g["iso_mon"]), int(g["iso_day"])
    a, b, y = int(g["n1"]), int(g["n2"]), int(g["nyear"])
    if y < 100:
        y += 2000 if y < 70 else 1900
    if a > 12:
        day_first = True
    elif b > 12:
        day_first = False
    elif day_first is None:  # the site's order is unknown: dots are mostly European, slashes American
        day_first = g["nsep"] == "."
    return (y, b, a) if day_first else (y, a, b)


def _date_candidates(text: str, forms=None, lex: Lexicon | None = None):
    """Matches of every date form, leftmost first (one regex per form: names repeat)."""
    found = [m for rx in (forms or grammar(lex or lexicon()).date_res) for m in rx.finditer(text)]
    return sorted(found, key=lambda m: (m.start(), -m.end()))


def _attach_time(text: str, m: re.Match, ymd, g: Grammar, *, need_time: bool = False) -> DateMatch | None:
    """The date joined with a time right after or right before it, and a weekday before it."""
    start, end = m.span()
    time = None
    after = g.sep_time.match(text, end)
    if after and (tp := _time_parts(after, g)):
        time, end = tp, after.end()
    elif m.groupdict().get("iso_year") and (iso_t := g.iso_time.match(text[end:])):
        if tp := _time_parts(iso_t, g):
            time, end = tp, end + iso_t.end()
    else:
        before = g.time_sep.search(text[:start])
        if before and (tp := _time_parts(before, g)):
            time, start = tp, before.start()
        else:
            ampm = _TIME_AMPM_RE.match(text, end + len(text[end:]) - len(text[end:].lstrip(" ,-@")))
            if ampm and (tp := _time_parts(ampm, g)):
                time, end = tp, ampm.end()
    if time is None and need_time:
        return None
    if wd := g.weekday_before.search(text, 0, start):
        start = wd.start()
    if time:
        return DateMatch(start, end, *ymd, time[0], time[1], time[2], time[3])
    return DateMatch(start, end, *ymd)


def _valid(ymd) -> bool:
    try:
        date(*ymd)
    except (ValueError, TypeError):
        return False
    return True


def find_date(text: str, *, day_first: bool | None = None, default_year: int | None = None,
              relative: bool = False, lex: Lexicon | None = None) -> DateMatch | None:
    """The first valid date in ``text``, joined with a time right before or after it.

    ``default_year`` lets a date without a year count when a time goes with it
    (comment stamps often omit the year); ``relative`` lets '15 minutes ago' count.
    Without them only calendar dates with a year are found, which is what callers
    that need an absolute date (``clean``) rely on.  ``lex`` is the lexicon of the page's profile (month
    names, relative-time words, ... of the user's ``profiles_dir`` too); the generic one by default.
    """
    lex = lex or lexicon()
    if not _DIGIT.search(text):
        return _find_relative(text, lex) if relative else None
    g = grammar(lex)
    forms = g.date_res if _YEAR_HINT.search(text) else g.date_res[-1:] if _NUMERIC_HINT.search(text) else ()
    for m in _date_candidates(text, forms) if forms else ():
        ymd = _ymd(m, day_first, months=g.months)
        if ymd is not None and _valid(ymd):
            return _attach_time(text, m, ymd, g)
    if default_year is not None:
        for m in _date_candidates(text, g.yearless_res):
            ymd = _ymd(m, day_first, default_year, months=g.months)
            if _valid(ymd) and (dm := _attach_time(text, m, ymd, g, need_time=True)):
                return replace(dm, year_assumed=True)
    return _find_relative(text, lex) if relative else None


def _find_relative(text: str, lex: Lexicon) -> DateMatch | None:
    """'15 minutes ago (2:26 PM)', 'vor 3 Stunden', 'Yesterday at 3:45 pm'."""
    low = text.lower()
    for rx in lex.relative if lex.relative_unit.search(text) else ():
        if m := rx.search(text):
            n = m.group("n").lower()
            count = int(n) if n.isdigit() else lex.relative_numbers.get(n, 1)
            secs = count * lex.relative_units[m.group("unit").lower()]
            end, tp = m.end(), None
            if (t := (g := grammar(lex)).paren_time.match(text, end)) and (tp := _time_parts(t, g)):
                end = t.end()
            return DateMatch(m.start(), end, None, None, None, *(tp or (None,) * 4), ago_seconds=secs)
    for word, days in lex.relative_days.items():
        i = low.find(word)
        if i < 0 or (i and low[i - 1].isalnum()):
            continue
        if t := (g := grammar(lex)).sep_time.match(text[i + len(word):]):
            if tp := _time_parts(t, g):
                return DateMatch(i, i + len(word) + t.end(), None, None, None, tp[0], tp[1], tp[2], tp[3],
                                 ago_seconds=days * 86400)
    return None


_FILLER = re.compile(
    r"^[\s•·*▪◦○●\-–—|>#:,.]+|[\s•·*▪◦○●\-–—|:,.]+$"
)


def date_coverage(text: str, match: DateMatch) -> float:
    """Share of the line's visible characters taken by the date (1.0 = a pure timestamp line)."""
    rest = _FILLER.sub("", text[: match.start]) + _FILLER.sub("", text[match.end :])
    total = len(rest) + (match.end - match.start)
    return (match.end - match.start) / total if total else 0.0
