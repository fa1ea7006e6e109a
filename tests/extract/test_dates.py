"""Every date form the date finder supports, on made-up strings."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from newsmill.extract.dates import date_coverage, find_date


@pytest.mark.parametrize(
    "text,span,ymd,hm",
    [
        ("Feb 8, 2012 - 5:11PM", "Feb 8, 2012 - 5:11PM", (2012, 2, 8), (17, 11)),
        ("Thursday, February 9th, 2012", "Thursday, February 9th, 2012", (2012, 2, 9), None),
        ("Posted on March 3, 2012 at 4:15 pm by Jo", "March 3, 2012 at 4:15 pm", (2012, 3, 3), (16, 15)),
        ("9 February 2012", "9 February 2012", (2012, 2, 9), None),
        ("12. März 2012 um 14:05", "12. März 2012 um 14:05", (2012, 3, 12), (14, 5)),
        ("le 4 novembre 2012 à 18h30", "4 novembre 2012 à 18h30", (2012, 11, 4), (18, 30)),
        ("9 de febrero de 2012", "9 de febrero de 2012", (2012, 2, 9), None),
        ("2012-10-16 at 8:03 am", "2012-10-16 at 8:03 am", (2012, 10, 16), (8, 3)),
        ("Fri, 2012-11-09 18:05 — Jo", "Fri, 2012-11-09 18:05", (2012, 11, 9), (18, 5)),
        ("2012-11-09T18:05:10Z", "2012-11-09T18:05:10Z", (2012, 11, 9), (18, 5)),
        ("09.02.2012", "09.02.2012", (2012, 2, 9), None),  # dots: day first
        ("10/28/12 5:33 PM", "10/28/12 5:33 PM", (2012, 10, 28), (17, 33)),
        ("Chris 07.15.12 at 11:59", "07.15.12 at 11:59", (2012, 7, 15), (11, 59)),
        ("Dr. Kay Lee10/28/12 5:33 PM", "10/28/12 5:33 PM", (2012, 10, 28), (17, 33)),  # name glued on
        ("ElizabethOctober 29, 2012 1:24 PM", "October 29, 2012 1:24 PM", (2012, 10, 29), (13, 24)),
        ("5:11PM Feb 8, 2012", "5:11PM Feb 8, 2012", (2012, 2, 8), (17, 11)),  # time first
        ("October 16, 2012 11:57 AM [icon_delet]", "October 16, 2012 11:57 AM", (2012, 10, 16), (11, 57)),
    ],
)
def test_calendar_dates(text, span, ymd, hm):
    m = find_date(text)
    assert text[m.start : m.end] == span
    assert (m.year, m.month, m.day) == ymd
    assert ((m.hour, m.minute) if m.has_time else None) == hm


def test_day_first_reading_of_ambiguous_slashes():
    assert (find_date("03/05/2012").month, find_date("03/05/2012", day_first=True).month) == (3, 5)


def test_no_date_in_prose_or_numbers():
    assert find_date("I paid 12.50 for 3 of them in 2012") is None
    assert find_date("Call 555-1234 today") is None
    assert find_date("") is None


@pytest.mark.parametrize(
    "text,offset",
    [
        ("March 3, 2012 at 4:15 pm PDT", -420),
        ("March 3, 2012 at 4:15 pm EST", -300),
        ("3 March 2012 16:15 CET", 60),
        ("3 March 2012 16:15 CEST", 120),
        ("March 3, 2012 4:15 pm (UTC -4) Link to this comment", -240),
        ("March 3, 2012 16:15 GMT+2", 120),
        ("2012-03-03 16:15 +05:30", 330),
        ("March 3, 2012 at 4:15 pm", None),
    ],
)
def test_time_zone_abbreviations_and_offsets(text, offset):
    m = find_date(text)
    assert m.utc_offset_minutes == offset


def test_offset_is_used_for_utc():
    m = find_date("Aug 8, 2012 5:21 PM PDT")
    assert m.to_utc("Asia/Karachi") == datetime(2012, 8, 9, 0, 21, tzinfo=timezone.utc)


def test_yearless_dates_need_a_default_year_and_a_time():
    text = "by jo (579941) writes: on Monday July 23, @09:58PM (#40744697)"
    assert find_date(text) is None  # callers that need a real date never get a guessed year
    m = find_date(text, default_year=2012)
    assert text[m.start : m.end] == "Monday July 23, @09:58PM"
    assert (m.year, m.month, m.day, m.hour, m.minute, m.year_assumed) == (2012, 7, 23, 21, 58, True)
    m = find_date("November 12th at 3:05 pm", default_year=2011)
    assert (m.year, m.month, m.day, m.hour) == (2011, 11, 12, 15)
    assert find_date("see you on November 12th", default_year=2011) is None  # no time: not a stamp
    full = find_date("May 5, 2010 at 1:00 pm", default_year=2012)
    assert full.year == 2010 and not full.year_assumed


@pytest.mark.parametrize(
    "text,span,seconds",
    [
        ("15 minutes ago", "15 minutes ago", 900),
        ("an hour ago", "an hour ago", 3600),
        ("posted 2 days ago | Reply", "2 days ago", 2 * 86400),
        ("vor 3 Stunden", "vor 3 Stunden", 3 * 3600),
        ("il y a 2 jours", "il y a 2 jours", 2 * 86400),
        ("hace 5 minutos", "hace 5 minutos", 300),
        ("1 second ago ( 2:26 PM)", "1 second ago ( 2:26 PM)", 1),
    ],
)
def test_relative_times(text, span, seconds):
    assert find_date(text) is None  # only on request
    m = find_date(text, relative=True)
    assert text[m.start : m.end] == span
    assert m.relative and m.ago_seconds == seconds
    assert m.year is None and m.date is None and m.to_utc("UTC") is None


def test_relative_time_with_clock_time_keeps_it():
    m = find_date("1 second ago ( 2:26 PM)", relative=True)
    assert (m.hour, m.minute) == (14, 26)


def test_relative_days_need_a_time():
    m = find_date("Yesterday at 3:45 pm", relative=True)
    assert m.ago_seconds == 86400 and (m.hour, m.minute) == (15, 45)
    assert find_date("yesterday was fun", relative=True) is None


def test_relative_resolves_against_capture_time():
    captured = datetime(2012, 11, 12, 18, 0, tzinfo=timezone.utc)
    m = find_date("15 minutes ago", relative=True).resolve(captured)
    assert (m.year, m.month, m.day, m.hour, m.minute, m.utc_offset_minutes) == (2012, 11, 12, 17, 45, 0)
    assert m.to_utc("UTC") == datetime(2012, 11, 12, 17, 45, tzinfo=timezone.utc)
    y = find_date("yesterday at 9:30 am", relative=True).resolve(captured)
    assert (y.month, y.day, y.hour, y.minute) == (11, 11, 9, 30)


def test_coverage_tells_stamp_lines_from_prose():
    line = "  • Feb 8, 2012 - 5:11PM"
    assert date_coverage(line, find_date(line)) == 1.0
    prose = "On Feb 8, 2012 the minister flew to Moscow for talks on energy."
    assert date_coverage(prose, find_date(prose)) < 0.3


def test_iso_fraction_keeps_its_offset():
    from datetime import datetime, timezone

    for raw, utc in (("2024-04-27T07:39:18.751+0200", datetime(2024, 4, 27, 5, 39, 18, tzinfo=timezone.utc)),
                     ("2024-10-15T21:35:43.000Z", datetime(2024, 10, 15, 21, 35, 43, tzinfo=timezone.utc)),
                     ("2024-04-28T10:00:00.000000-04:00", datetime(2024, 4, 28, 14, 0, tzinfo=timezone.utc))):
        m = find_date(raw)
        assert m.to_utc("Europe/Berlin") == utc and m.end == len(raw), raw
