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


def _page(published, candidates=(), stamps=(), title="A post", flags=()):
    raw = RawPage(title=title, published_raw=published, date_candidates=list(candidates), flags=list(flags),
                  paragraphs=["Body text of the post, long enough."],
                  comments=[RawComment(author=f"a{i}", posted_raw=s, text=f"comment {i}") for i, s in enumerate(stamps)])
    page = PageInput(uri="x", data=b"", sha256="0" * 64, format="html")
    return clean_page(raw, page, default_profile(), CTX)


THREAD = ["May 2, 2012 at 10:00 am", "May 2, 2012 at 11:30 am", "May 3, 2012 at 9:00 am"]


def test_article_date_after_its_comments_takes_the_candidate_the_comments_allow():
    # the first date read is a later update; the page's <time> gives the real one
    article, comments = _page("2014-03-01T10:00:00Z", ["2012-05-01T09:00:00+02:00"], THREAD)
    assert article["published_date"] == date(2012, 5, 1) and article["year"] == 2012
    assert article["published_raw"] == "2012-05-01T09:00:00+02:00"
    assert "published_date_from_comments_check" in article["flags"]
    assert all(c["article_id"] == article["article_id"] and c["year"] == 2012 for c in comments)
    assert len(comments) == 3


def test_article_date_after_its_comments_without_a_better_candidate_is_flagged_and_comments_kept():
    article, comments = _page("2014-03-01T10:00:00Z", [], THREAD)
    assert article["published_date"] == date(2014, 3, 1)
    assert "published_date_inconsistent" in article["flags"]
    assert [c["posted_at"].date() for c in comments] == [date(2012, 5, 2), date(2012, 5, 2), date(2012, 5, 3)]


def test_one_stray_comment_date_does_not_move_the_article_date():
    article, _ = _page("May 2, 2012", [], ["May 2, 2012 at 10:00 am", "May 1, 1999 at 11:30 am", "May 3, 2012 at 9:00 am"])
    assert article["published_date"] == date(2012, 5, 2)
    assert not {"published_date_inconsistent", "published_date_from_comments_check"} & set(article["flags"])


def test_comments_on_the_same_day_as_the_article_are_consistent():
    article, _ = _page("May 3, 2012 at 8:00 pm", [], THREAD)
    assert article["published_date"] == date(2012, 5, 3) and "published_date_inconsistent" not in article["flags"]


def test_unreadable_first_date_falls_back_to_the_next_candidate():
    article, _ = _page("Fri Apr 28 19:20:36 CEST 2023", ["2023-04-28T19:20:36+0200"])
    assert article["published_at"] == datetime(2023, 4, 28, 17, 20, 36, tzinfo=timezone.utc)


def test_naive_time_borrows_the_offset_of_a_twin_candidate():
    article, _ = _page("2023-04-28 18:11:01.0", ["2023-04-28T18:11:01+02:00"])
    assert article["published_at"] == datetime(2023, 4, 28, 16, 11, 1, tzinfo=timezone.utc)
    assert "timezone_assumed_utc" not in article["flags"]


def test_placeholder_and_date_titles_are_rejected():
    for bad in ("[p]", "[sd_hub_ico]", "12.03.2024", "Home", "Main  menu"):
        article, _ = _page("May 2, 2012", title=bad)
        assert article["title"] is None and "title_rejected" in article["flags"], bad
    article, _ = _page("May 2, 2012", title="Budget 2024: what changes")
    assert article["title"] == "Budget 2024: what changes"
