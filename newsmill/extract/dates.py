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
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from functools import cache
from zoneinfo import ZoneInfo

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
    r"|montag|dienstag|mittwoch|donnerstag|freitag|samstag|sonntag"
    r"|lundi|mardi|mercredi|jeudi|vendredi|samedi|dimanche)\.?,?\s+"
)
_DAY = r"(?P<day>[0-3]?\d)(?:st|nd|rd|th|\.|er)?"
_YEAR = r"(?P<year>(?:19|20)\d\d)"
_TIME = (
    r"(?P<hour>[0-2]?\d)[:.h](?P<minute>[0-5]\d)(?::(?P<second>[0-5]\d))?"
    r"(?:\s*(?P<ampm>[ap]\.?\s?m\.?))?"
    r"(?:\s*(?P<tz>Z|UTC|GMT|[+-]\d\d:?\d\d|(?:UTC|GMT)\s*[+-]\d{1,2}(?::?\d\d)?))?"
    r"(?![\d:])"
)
_TIME_AMPM_ONLY = r"(?P<hour>[01]?\d)\s*(?P<ampm>[ap]\.?m\.?)"
_SEP = r"(?:\s*(?:[-–—,|@/·•]|\bat\b|\bum\b|\bà\b|\ba las\b|\balle\b|\bom\b|\bàs\b)\s*|\s+)"

_DATE_FORMS = [
    # Feb 8, 2012 / February 9th, 2012 / Thursday, February 9, 2012
    rf"(?:{_WEEKDAY})?{_MON}\s+{_DAY},?\s+{_YEAR}",
    # 9 February 2012 / 9. Februar 2012 / 9 de febrero de 2012
    rf"(?:{_WEEKDAY})?{_DAY}\s+(?:de\s+|of\s+)?{_MON},?\s+(?:de\s+)?{_YEAR}",
    # 2012-02-09 (optionally ISO time) / 2012/02/09
    r"(?P<iso_year>(?:19|20)\d\d)[-/](?P<iso_mon>[01]?\d)[-/](?P<iso_day>[0-3]?\d)(?=\b|T)",
    # 09.02.2012 / 02/09/2012 / 9/2/12
    r"(?:" + _WEEKDAY + r")?(?P<n1>[0-3]?\d)(?P<nsep>[./-])(?P<n2>[0-3]?\d)(?P=nsep)(?P<nyear>(?:19|20)?\d\d)(?!\d)",
]
_DATE_RES = [re.compile(f, re.IGNORECASE) for f in _DATE_FORMS]
_TIME_RE = re.compile(_TIME, re.IGNORECASE)
_TIME_AMPM_RE = re.compile(_TIME_AMPM_ONLY, re.IGNORECASE)
_SEP_TIME_RE = re.compile(_SEP + "(?:" + _TIME + ")", re.IGNORECASE)
_TIME_SEP_RE = re.compile("(?:" + _TIME + r")(?:\s*(?:,|\bon\b|\bam\b|\ble\b|-|–)?\s*)$", re.IGNORECASE)


@dataclass(frozen=True)
class DateMatch:
    """A date (and maybe a time) found in a string, with its character span."""

    start: int
    end: int
    year: int
    month: int
    day: int
    hour: int | None = None
    minute: int | None = None
    second: int | None = None
    utc_offset_minutes: int | None = None  # from the string itself, when it says

    @property
    def has_time(self) -> bool:
        return self.hour is not None

    @property
    def date(self) -> date:
        return date(self.year, self.month, self.day)

    def to_utc(self, tz_name: str) -> datetime | None:
        """The instant in UTC: the string's own offset wins, else ``tz_name``."""
        if not self.has_time:
            return None
        naive = datetime(self.year, self.month, self.day, self.hour, self.minute or 0, self.second or 0)
        if self.utc_offset_minutes is not None:
            aware = naive.replace(tzinfo=timezone(timedelta(minutes=self.utc_offset_minutes)))
        else:
            aware = naive.replace(tzinfo=_zone(tz_name))
        return aware.astimezone(timezone.utc)


@cache
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def _offset(tz: str | None) -> int | None:
    if not tz:
        return None
    t = tz.upper().replace(" ", "")
    if t in ("Z", "UTC", "GMT"):
        return 0
    m = re.search(r"([+-])(\d{1,2}):?(\d\d)?$", t)
    if not m:
        return None
    minutes = int(m.group(2)) * 60 + int(m.group(3) or 0)
    return -minutes if m.group(1) == "-" else minutes


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


def _ymd(m: re.Match, day_first: bool) -> tuple[int, int, int] | None:
    g = m.groupdict()
    if g.get("mon"):
        return int(g["year"]), MONTHS[g["mon"].lower().rstrip(".")], int(g["day"])
    if g.get("iso_year"):
        return int(g["iso_year"]), int(g["iso_mon"]), int(g["iso_day"])
    a, b, y = int(g["n1"]), int(g["n2"]), int(g["nyear"])
    if y < 100:
        y += 2000 if y < 70 else 1900
    if a > 12:
        day_first = True
    elif b > 12:
        day_first = False
    elif g["nsep"] == ".":
        day_first = True
    return (y, b, a) if day_first else (y, a, b)


def _date_candidates(text: str):
    """Matches of every date form, leftmost first (one regex per form: names repeat)."""
    found = [m for rx in _DATE_RES for m in rx.finditer(text)]
    return sorted(found, key=lambda m: (m.start(), -m.end()))


def find_date(text: str, *, day_first: bool = False) -> DateMatch | None:
    """The first valid date in ``text``, joined with a time right before or after it."""
    for m in _date_candidates(text):
        ymd = _ymd(m, day_first)
        if ymd is None:
            continue
        try:
            date(*ymd)
        except ValueError:
            continue
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
        if time:
            return DateMatch(start, end, *ymd, time[0], time[1], time[2], time[3])
        return DateMatch(start, end, *ymd)
    return None


_FILLER = re.compile(
    r"^[\s•·*▪◦○●\-–—|>#:,.]+|[\s•·*▪◦○●\-–—|:,.]+$"
)


def date_coverage(text: str, match: DateMatch) -> float:
    """Share of the line's visible characters taken by the date (1.0 = a pure timestamp line)."""
    rest = _FILLER.sub("", text[: match.start]) + _FILLER.sub("", text[match.end :])
    total = len(rest) + (match.end - match.start)
    return (match.end - match.start) / total if total else 0.0
