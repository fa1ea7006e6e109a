"""Cleaning rules that hold for every input format."""
from __future__ import annotations

from datetime import date, datetime, timezone

from newsmill.clean import CleanContext, clean_page
from newsmill.profiles import default_profile, load_profiles
from newsmill.records import PageInput, RawComment, RawPage

CTX = CleanContext(b"k" * 32, datetime(2026, 1, 1, tzinfo=timezone.utc), "t")


def _rows(stamps, published="July 7, 2012", profile=None):
    raw = RawPage(title="A post", published_raw=published, paragraphs=["Body text of the post, long enough."],
                  comments=[RawComment(author=f"a{i}", posted_raw=s, text=f"comment {i}") for i, s in enumerate(stamps)])
    page = PageInput(uri="x", data=b"", sha256="0" * 64, format="html")
    return clean_page(raw, page, profile or default_profile(), CTX)[1]


def test_numeric_date_order_read_from_the_page():
    # '07.08.12' is July 8 on this (American) page: read day-first, comments would jump a month ahead
    rows = _rows(["07.07.12 at 8:33 pm", "07.08.12 at 1:31 am", "07.08.12 at 1:51 pm"])
    assert [r["posted_at"].date() for r in rows] == [date(2012, 7, 7), date(2012, 7, 8), date(2012, 7, 8)]
    assert all("date_order_guessed" in r["flags"] for r in rows)


def test_numeric_dates_that_settle_the_order_themselves():
    rows = _rows(["13.07.12 at 8:33 pm", "14.07.12 at 9:00 pm"], published="July 13, 2012")
    assert [r["posted_at"].date() for r in rows] == [date(2012, 7, 13), date(2012, 7, 14)]
    assert not any("date_order_guessed" in r["flags"] for r in rows)


def test_profile_order_wins_over_page_evidence():
    tribune = load_profiles()["tribune"]  # day_first = true in its profile
    rows = _rows(["07.08.12 at 1:31 am"], published="August 7, 2012", profile=tribune)
    assert rows[0]["posted_at"].date() in (date(2012, 8, 6), date(2012, 8, 7))  # Karachi -> UTC may shift the day
    assert "date_order_guessed" not in rows[0]["flags"]


def test_no_evidence_keeps_the_default_reading():
    rows = _rows(["03.04.12 at 10:00 am"], published=None)
    assert rows[0]["posted_at"].date() == date(2012, 4, 3)  # dots: day first
    assert "date_order_guessed" not in rows[0]["flags"]
