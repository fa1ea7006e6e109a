"""The page that started the project must come out exactly right (issue #2 acceptance)."""
from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from newsmill import profiles
from newsmill.clean import CleanContext, clean_page
from newsmill.extract import extract_page
from newsmill.records import PageInput
from tests.conftest import SEED


@pytest.fixture(scope="module")
def seed_records():
    data = SEED.read_bytes()
    page = PageInput(uri=str(SEED), data=data, sha256="0" * 64, format="text")
    raw, profile = extract_page(page)
    ctx = CleanContext(b"test-key", datetime(2026, 1, 1, tzinfo=timezone.utc), "test")
    return clean_page(raw, page, profile, ctx)


def test_article_metadata(seed_records):
    a, _ = seed_records
    assert a["title"] == "Working together: Pakistan, Russia vow to support Afghan peace initiative"
    assert a["publication"] == "The Express Tribune"
    assert a["source"] == "tribune"
    assert a["published_date"] == date(2012, 2, 9)
    assert a["published_at"] is None  # the page gives only a date
    assert a["section"] == "Pakistan"
    assert a["dateline"] == "MOSCOW"
    assert a["language"] == "en"
    assert a["comment_count_declared"] == 33
    assert a["comment_count_extracted"] == 33


def test_article_body_and_captions(seed_records):
    a, _ = seed_records
    assert a["paragraph_count"] == 9
    paras = a["body"].split("\n\n")
    assert len(paras) == 9
    assert paras[0].startswith("Pakistan and Russia on Wednesday")  # dateline prefix removed
    assert paras[-1].endswith("will be finalised soon.")
    assert "Published in" not in a["body"] and "PHOTO" not in a["body"] and "Reader Comments" not in a["body"]
    assert a["captions"] == ["Russia’s Foreign Minister Sergei Lavrov speaks with Hina Rabbani Khar during their meeting in Moscow."]
    assert a["caption_credits"] == ["AFP"]


def test_comments_order_authors_times(seed_records):
    _, cs = seed_records
    assert [c["position"] for c in cs] == list(range(1, 34))
    assert sum(c["author"] is None for c in cs) == 5
    assert all("anonymous" in c["flags"] for c in cs if c["author"] is None)
    first = cs[0]
    assert first["author"] == "hammad"
    assert first["posted_at"] == datetime(2012, 2, 8, 12, 11, tzinfo=timezone.utc)  # 5:11 PM Karachi
    assert first["posted_raw"] == "Feb 8, 2012 - 5:11PM"
    # times are in page order and all converted
    assert all(c["posted_at"] is not None for c in cs)
    assert [c["posted_at"] for c in cs] == sorted(c["posted_at"] for c in cs)
    assert cs[-2]["author"] == "abdulazeez"


def test_ui_artifacts_removed_and_flagged(seed_records):
    _, cs = seed_records
    assert not any(c["text"].rstrip().endswith("Recommend") for c in cs)
    assert sum("ui_artifact_removed" in c["flags"] for c in cs) == 5
    assert all(c["text"].strip() for c in cs)


def test_reply_resolution(seed_records):
    _, cs = seed_records
    by_id = {c["comment_id"]: c for c in cs}
    replies = [c for c in cs if c["reply_to_name"]]
    assert len(replies) == 5
    resolved = {(c["author"], by_id[c["parent_comment_id"]]["author"]) for c in replies if c["parent_comment_id"]}
    assert resolved == {("Nirmit", "Zahid Aslam"), ("wasim", "Uza Syed"), ("Uza Syed", "wasim"), ("abdulazeez", "Zeta")}
    # '@ zeta:' goes to Zeta's latest earlier comment, not the first one
    abdul = next(c for c in cs if c["author"] == "abdulazeez")
    assert by_id[abdul["parent_comment_id"]]["posted_raw"] == "Feb 9, 2012 - 12:08AM"
    unresolved = [c for c in replies if not c["parent_comment_id"]]
    assert [c["reply_to_name"] for c in unresolved] == ["Naveeda Shaikh"]
    assert "reply_unresolved" in unresolved[0]["flags"]
    # a parent always comes earlier on the page
    pos = {c["comment_id"]: c["position"] for c in cs}
    assert all(pos[c["parent_comment_id"]] < c["position"] for c in replies if c["parent_comment_id"])


def test_quotes_link_to_quoted_comment(seed_records):
    _, cs = seed_records
    by_id = {c["comment_id"]: c for c in cs}
    quotes = {(c["author"], c["posted_raw"]): by_id[c["quoted_comment_id"]] for c in cs if c["quoted_comment_id"]}
    assert len(quotes) == 2
    # a quote re-wrapped over several lines
    assert quotes[("Cautious", "Feb 8, 2012 - 11:42PM")]["author"] == "Zeta"
    assert quotes[("Cautious", "Feb 8, 2012 - 11:42PM")]["posted_raw"] == "Feb 8, 2012 - 6:55PM"
    # a quote of only the start of the original
    assert quotes[(None, "Feb 9, 2012 - 3:26AM")]["author"] == "A2Z"


def test_ids_stable_and_unique(seed_records):
    a, cs = seed_records
    ids = [c["comment_id"] for c in cs]
    assert len(set(ids)) == 33
    assert all(c["article_id"] == a["article_id"] for c in cs)
    # same author, same pseudonym; different authors, different pseudonyms
    uza = {c["author_id"] for c in cs if c["author"] == "Uza Syed"}
    assert len(uza) == 1 and None not in uza
    assert len({c["author_id"] for c in cs if c["author"]}) == len({c["author"] for c in cs if c["author"]})


def test_profile_is_data_not_code():
    p = profiles.load_profiles()["tribune"]
    assert p.timezone == "Asia/Karachi" and "Recommend" in p.ui_artifacts


def test_ids_do_not_depend_on_run_or_location(seed_records):
    a, cs = seed_records
    page = PageInput(uri="/elsewhere/copy.txt", data=SEED.read_bytes(), sha256="1" * 64, format="text")
    raw, profile = extract_page(page)
    a2, cs2 = clean_page(raw, page, profile, CleanContext(b"test-key", datetime.now(timezone.utc), "other"))
    assert a2["article_id"] == a["article_id"]
    assert [c["comment_id"] for c in cs2] == [c["comment_id"] for c in cs]
    assert [c["author_id"] for c in cs2] == [c["author_id"] for c in cs]
    _, cs3 = clean_page(raw, page, profile, CleanContext(b"another-key", datetime.now(timezone.utc), "other"))
    assert [c["author_id"] for c in cs3 if c["author"]] != [c["author_id"] for c in cs if c["author"]]


SLASH_STYLE = """Storage prices fall again

Published: July 20, 2012

Drive makers cut prices for the third quarter in a row, analysts said.

Comments

  • by Quill (5123) writes: on Monday July 23, @09:58PM
    Cheap drives are good news for backups.

  • by Vex (8812) writes: on Tuesday July 24, @11:35AM
    Until they fail.
"""


def test_yearless_stamps_take_the_article_year():
    page = PageInput(uri="x", data=SLASH_STYLE.encode(), sha256="2" * 64, format="text")
    raw, profile = extract_page(page)
    _, cs = clean_page(raw, page, profile, CleanContext(b"k", datetime.now(timezone.utc), "t"))
    assert [c["author"] for c in cs] == ["Quill", "Vex"]
    assert cs[0]["posted_at"] == datetime(2012, 7, 23, 21, 58, tzinfo=timezone.utc)  # unknown site: UTC assumed
    assert {"year_assumed", "timezone_assumed_utc"} <= set(cs[0]["flags"])
