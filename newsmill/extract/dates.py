"""Finding and reading dates in page text, without knowing the site.

Comment blocks are recognised by their timestamp line, so finding a date
inside a line (and telling how much of the line it covers) matters as much as
parsing it.  The month names below are language data, not site knowledge.
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

from newsmill.extract.lexicon import lexicon

# month name (lower case, without trailing dot) -> month number
_MONTH_NAMES: dict[int, tuple[str, ...]] = {
    1: ("january", "jan", "januar", "jänner", "janvier", "janv", "enero", "ene", "gennaio", "gen", "janeiro", "januari"),
    2: ("february", "feb", "februar", "février", "fevrier", "févr", "fevr", "febrero", "febbraio", "fevereiro", "fev", "februari"),
    3: ("march", "mar", "märz", "maerz", "mars", "marzo", "março", "marco", "maart", "mrz"),
    4: ("april", "apr", "avril", "avr", "abril", "abr", "aprile"),
    5: ("may", "mai", "mayo", "maggio", "mag", "maio", "mei"),
    6: ("june", "jun", "juni", "juin", "junio", "giugno", "giu", "junho"),
    7: ("july", "jul", "juli", "juillet", "juil", "julio", "luglio", "lug", "julho"),
    8: ("august", "aug", "août", "aout", "agosto", "ago", "augustus"),
    9: ("september", "sep", "sept", "septembre", "septiembre", "settembre", "set", "setembro"),
    10: ("october", "oct", "oktober", "okt", "octobre", "octubre", "ottobre", "ott", "outubro", "out"),
    11: ("november", "nov", "novembre", "noviembre", "novembro"),
    12: ("december", "dec", "dezember", "dez", "décembre", "decembre", "déc", "diciembre", "dic", "dicembre", "dezembro"),
}
MONTHS = {name: num for num, names in _MONTH_NAMES.items() for name in names}
_MON = "(?P<mon>" + "|".join(sorted((re.escape(m) for m in MONTHS), key=len, reverse=True)) + r")\.?"
_WEEKDAY = (
    r"(?:(?:mon|tue|tues|wed|thu|thur|thurs|fri|sat|sun)(?:day|nesday|rsday|urday|sday)?"
    r"|montag|dienstag|mittwoch|donnerstag|freitag|samstag|sonntag|mo|di|mi|do|fr|sa|so"
    r"|lundi|mardi|mercredi|jeudi|vendredi|samedi|dimanche"
    r"|lunes|martes|miércoles|jueves|viernes|sábado|domingo)\.?,?\s+"
)
_WEEKDAY_BEFORE = re.compile(r"\b" + _WEEKDAY + r"(?:the\s+|le\s+|den\s+|el\s+)?$", re.IGNORECASE)
_DAY = r"(?P<day>[0-3]?\d)(?:st|nd|rd|th|\.|er|º)?(?!\d)"
_YEAR = r"(?P<year>(?:19|20)\d\d)(?!\d)"
_TZ_WORDS = sorted(lexicon().tz_offsets, key=len, reverse=True)
_TIME = (
    r"(?P<hour>[0-2]?\d)[:.h](?P<minute>[0-5]\d)(?::(?P<second>[0-5]\d)(?:\.\d{1,9})?)?"  # ISO fractions (.751) before an offset
    r"(?:\s*(?P<ampm>[ap]\.?\s?m\.?))?"
    r"(?:\s*\(?(?P<tz>[+-]\d\d:?\d\d|(?:UTC|GMT)\s*[+-]\s*\d{1,2}(?::?\d\d)?|(?:" + "|".join(_TZ_WORDS) + r")(?![\w]))\)?)?"
    r"(?![\d:])"
)
_TIME_AMPM_ONLY = r"(?P<hour>[01]?\d)\s*(?P<ampm>[ap]\.?m\.?)(?!\w)"
_SEP = r"(?:(?:\s*(?:[-–—,|@/·•(]|\bat\b|\bum\b|\bà\b|\ba las\b|\balle\b|\bom\b|\bàs\b|\bklo\.?)\s*)+|\s+)"

# a month name starts a word, or is glued to a name before it ('ElizabethOctober 29, 2012')
_MON_START = r"(?:\b|(?-i:(?<=[a-z])(?=[A-Z])))"

_DATE_FORMS = [
    # Feb 8, 2012 / February 9th, 2012 / Thursday, February 9, 2012
    rf"{_MON_START}{_MON}\s+{_DAY},?\s+{_YEAR}",
    # 9 February 2012 / 9. Februar 2012 / 9 de febrero de 2012
    rf"\b{_DAY}\s+(?:de\s+|of\s+)?{_MON},?\s+(?:de\s+)?{_YEAR}",
    # 2012-02-09 (optionally ISO time) / 2012/02/09
    r"(?<!\d)(?P<iso_year>(?:19|20)\d\d)[-/.](?P<iso_mon>[01]?\d)[-/.](?P<iso_day>[0-3]?\d)(?=\b|T)",
    # 09.02.2012 / 02/09/2012 / 9/2/12
    r"(?<![\d.])(?P<n1>[0-3]?\d)(?P<nsep>[./-])(?P<n2>[0-3]?\d)(?P=nsep)(?P<nyear>(?:19|20)?\d\d)(?!\d)",
]
# Dates without a year ('July 23', '12th November'): only taken with a time and a known year.
_YEARLESS_FORMS = [
    rf"{_MON_START}{_MON}\s+{_DAY}(?!,?\s*\d{{4}})",
    rf"\b{_DAY}\s+(?:de\s+|of\s+)?{_MON}(?!,?\s*\d{{4}})",
]
_DATE_RES = [re.compile(f, re.IGNORECASE) for f in _DATE_FORMS]
_YEARLESS_RES = [re.compile(f, re.IGNORECASE) for f in _YEARLESS_FORMS]
_TIME_RE = re.compile(_TIME, re.IGNORECASE)
_TIME_AMPM_RE = re.compile(_TIME_AMPM_ONLY, re.IGNORECASE)
_SEP_TIME_RE = re.compile(_SEP + "(?:" + _TIME + ")", re.IGNORECASE)
_TIME_SEP_RE = re.compile("(?:" + _TIME + r")(?:\s*(?:,|\bon\b|\bam\b|\ble\b|\bel\b|-|–|—|\|)?\s*)$", re.IGNORECASE)
_DIGIT = re.compile(r"\d")
# what the forms of _DATE_FORMS contain: a 19xx/20xx year (all but the last), digits around two separators
# (the last): cheap tests that spare the month-name scans on the many strings with digits and no date
_YEAR_HINT = re.compile(r"(?:19|20)\d\d")
_NUMERIC_HINT = re.compile(r"\d[./-]\d\d?[./-]\d")
_PAREN_TIME_RE = re.compile(r"\s*\(?\s*(?:" + _TIME + r")\s*\)?", re.IGNORECASE)


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


def _offset(tz: str | None) -> int | None:
    if not tz:
        return None
    t = tz.upper().replace(" ", "")
    if t in _TZ:
        return _TZ[t]
    m = re.search(r"([+-])(\d{1,2}):?(\d\d)?$", t)
    if not m:
        return None
    minutes = int(m.group(2)) * 60 + int(m.group(3) or 0)
    minutes = -minutes if m.group(1) == "-" else minutes
    return minutes if -12 * 60 <= minutes <= 14 * 60 else None  # real zones span UTC-12..UTC+14


_TZ = lexicon().tz_offsets


def _time_parts(m: re.Match) -> tuple[int, int, int | None, int | None] | None:
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
    return hour, minute, int(second) if second else None, _offset(m.groupdict().get("tz"))


def _ymd(m: re.Match, day_first: bool | None, default_year: int | None = None) -> tuple[int, int, int] | None:
    g = m.groupdict()
    if g.get("mon"):
        year = int(g["year"]) if g.get("year") else default_year
        return year, MONTHS[g["mon"].lower().rstrip(".")], int(g["day"])
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


def _date_candidates(text: str, forms=None):
    """Matches of every date form, leftmost first (one regex per form: names repeat)."""
    found = [m for rx in (forms or _DATE_RES) for m in rx.finditer(text)]
    return sorted(found, key=lambda m: (m.start(), -m.end()))


def _attach_time(text: str, m: re.Match, ymd, *, need_time: bool = False) -> DateMatch | None:
    """The date joined with a time right after or right before it, and a weekday before it."""
    start, end = m.span()
    time = None
    after = _SEP_TIME_RE.match(text, end)
    if after and (tp := _time_parts(after)):
        time, end = tp, after.end()
    elif m.groupdict().get("iso_year") and (iso_t := re.match(r"T" + _TIME, text[end:], re.I)):
        if tp := _time_parts(iso_t):
            time, end = tp, end + iso_t.end()
    else:
        before = _TIME_SEP_RE.search(text[:start])
        if before and (tp := _time_parts(before)):
            time, start = tp, before.start()
        else:
            ampm = _TIME_AMPM_RE.match(text, end + len(text[end:]) - len(text[end:].lstrip(" ,-@")))
            if ampm and (tp := _time_parts(ampm)):
                time, end = tp, ampm.end()
    if time is None and need_time:
        return None
    if wd := _WEEKDAY_BEFORE.search(text, 0, start):
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
              relative: bool = False) -> DateMatch | None:
    """The first valid date in ``text``, joined with a time right before or after it.

    ``default_year`` lets a date without a year count when a time goes with it
    (comment stamps often omit the year); ``relative`` lets '15 minutes ago' count.
    Without them only calendar dates with a year are found, which is what callers
    that need an absolute date (``clean``) rely on.
    """
    if not _DIGIT.search(text):
        return _find_relative(text) if relative else None
    forms = _DATE_RES if _YEAR_HINT.search(text) else _DATE_RES[-1:] if _NUMERIC_HINT.search(text) else ()
    for m in _date_candidates(text, forms) if forms else ():
        ymd = _ymd(m, day_first)
        if ymd is not None and _valid(ymd):
            return _attach_time(text, m, ymd)
    if default_year is not None:
        for m in _date_candidates(text, _YEARLESS_RES):
            ymd = _ymd(m, day_first, default_year)
            if _valid(ymd) and (dm := _attach_time(text, m, ymd, need_time=True)):
                return replace(dm, year_assumed=True)
    return _find_relative(text) if relative else None


def _find_relative(text: str) -> DateMatch | None:
    """'15 minutes ago (2:26 PM)', 'vor 3 Stunden', 'Yesterday at 3:45 pm'."""
    lex = lexicon()
    low = text.lower()
    for rx in lex.relative if lex.relative_unit.search(text) else ():
        if m := rx.search(text):
            n = m.group("n").lower()
            count = int(n) if n.isdigit() else lex.relative_numbers.get(n, 1)
            secs = count * lex.relative_units[m.group("unit").lower()]
            end, tp = m.end(), None
            if (t := _PAREN_TIME_RE.match(text, end)) and (tp := _time_parts(t)):
                end = t.end()
            return DateMatch(m.start(), end, None, None, None, *(tp or (None,) * 4), ago_seconds=secs)
    for word, days in lex.relative_days.items():
        i = low.find(word)
        if i < 0 or (i and low[i - 1].isalnum()):
            continue
        if t := re.match(_SEP + "(?:" + _TIME + ")", text[i + len(word):], re.I):
            if tp := _time_parts(t):
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
