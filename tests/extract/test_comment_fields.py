"""Comment fields researchers expect (issue 15.5): votes kept apart, edit marks, moderation placeholders,
badges, permalinks, the comment platform and the thread shape, read from pages modelled on common
systems (``comment_system_pages``); a field the page does not show is null, never guessed.  The last test
publishes the pages and reads every field back with pandas, pyarrow, DuckDB and Polars."""
from __future__ import annotations

import hashlib
from datetime import datetime, timezone

import pytest

from newsmill import pipeline, schema
from newsmill.clean import CleanContext, clean_page
from newsmill.config import Settings
from newsmill.extract import extract_page
from newsmill.records import PageInput
from tests.extract import comment_system_pages as pages
from tests.store.conftest import read_all_ways

URL = pages.PAGE_URL
FIELDS = ("author", "text", "depth", "root", "reply_count", "parent", "likes", "dislikes", "marked_edited",
          "moderation", "badges", "permalink", "comment_system")

# per page: one tuple per comment in page order, in the order of FIELDS (root and parent as positions)
EXPECTED = {
    "DISQUS": [
        ("Alice Doe", "Finally a park", 0, 1, 1, None, 12, 3, False, None, ["staff"], URL + "#comment-1001", "disqus"),
        ("Bob Roe", "The road repairs", 1, 1, 0, 1, 0, 5, True, None, [], URL + "#comment-1002", "disqus"),
        (None, "", 0, 3, 1, None, None, None, False, "deleted", [], URL + "#comment-1003", "disqus"),
        ("Carol Poe", "Whatever was written", 1, 3, 0, 3, 4, 1, False, None, [], URL + "#comment-1004", "disqus"),
    ],
    "CORAL": [  # one reaction: no down-votes shown, so dislikes stay null; no edit marks: null
        ("Dana Vo", "I walked past", 0, 1, 1, None, 7, None, None, None, ["editors_pick"], URL + "?commentID=c3f1a2b4", "coral"),
        ("Eli Stone", "Thanks Dana", 1, 1, 0, 1, 2, None, None, None, ["staff"], URL + "?commentID=d8e9f0a1", "coral"),
        ("Finn Gray", "", 0, 3, 0, None, None, None, None, "removed", [], URL + "#comment-e1f2a3b4", "coral"),
    ],
    "WORDPRESS": [  # no votes at all: likes and dislikes null; awaiting moderation keeps its text
        ("Gina Hart", "Will there be", 0, 1, 1, None, None, None, None, None, [], URL + "#comment-11", "wordpress"),
        ("Henry Quill", "Yes, the plan", 1, 1, 0, 1, None, None, None, None, ["article_author"], URL + "#comment-12", "wordpress"),
        ("Ivy Lane", "I hope they keep", 0, 3, 0, None, None, None, None, "pending", [], URL + "#comment-13", "wordpress"),
    ],
    "FORUM": [
        ("jmorris", "Has anyone seen", 0, 1, 0, None, None, None, True, None, [], URL + "showthread.php?t=55&p=101#post101", "forum"),
        ("kpatel", "Yes, there is a map", 0, 2, 0, None, None, None, False, None, ["staff"], URL + "showthread.php?t=55&p=102#post102", "forum"),
        ("jmorris", "", 0, 3, 0, None, None, None, False, "deleted", [], URL + "showthread.php?t=55&p=103#post103", "forum"),
    ],
}


def records(name: str, html: str | None = None):
    data = (html if html is not None else pages.page(getattr(pages, name))).encode()
    page = PageInput(uri=f"{name}.html", data=data, sha256=hashlib.sha256(data).hexdigest(), format="html")
    raw, profile = extract_page(page)
    return clean_page(raw, page, profile, CleanContext(b"k" * 32, datetime(2024, 1, 1, tzinfo=timezone.utc), "test"))


def shown(rows: list[dict], expected: list[tuple]) -> list[tuple]:
    """The rows as the EXPECTED tuples (a text that starts with the expected words shows those words)."""
    pos = {r["comment_id"]: r["position"] for r in rows}
    out = []
    for r, e in zip(sorted(rows, key=lambda r: r["position"]), [*expected, *[(None, None)] * len(rows)]):
        text = e[1] if e[1] and r["text"].startswith(e[1]) else r["text"]
        out.append((r["author"], text, r["depth"], pos.get(r["thread_root_id"]), r["reply_count"],
                    pos.get(r["parent_comment_id"]), r["likes"], r["dislikes"], r["marked_edited"], r["moderation"],
                    None if r["badges"] is None else list(r["badges"]), r["permalink"], r["comment_system"]))
    return out


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fields_of_each_system(name):
    article, rows = records(name)
    assert shown(rows, EXPECTED[name]) == EXPECTED[name]
    assert article["comment_system"] == EXPECTED[name][0][-1]
    assert article["comment_count_extracted"] == len(rows)  # placeholders are rows: they keep their place


def test_a_placeholder_is_not_published_as_the_commenters_words():
    for name in EXPECTED:
        _, rows = records(name)
        for r in rows:
            assert "deleted" not in r["text"].lower() and "removed by a moderator" not in r["text"].lower(), name


def test_edit_marks_and_badges_on_no_comment_stay_null():
    """A page that marks no comment edited and shows no badge says nothing about either: null, not false."""
    html = pages.page(pages.WORDPRESS.replace(" bypostauthor", ""))
    _, rows = records("plain", html)
    assert [r["badges"] for r in rows] == [None, None, None]
    assert [r["marked_edited"] for r in rows] == [None, None, None]


def test_a_comment_that_only_mentions_a_removal_keeps_its_text():
    html = pages.page(pages.WORDPRESS.replace(
        "Will there be a playground for the smaller children as well, or only the lawns?",
        "My last comment was removed by a moderator, I only asked whether there will be a playground."))
    _, rows = records("mention", html)
    assert rows[0]["text"].startswith("My last comment was removed") and rows[0]["moderation"] is None


def test_the_seed_page_text_dump_shows_none_of_the_page_fields():
    from newsmill.clean import clean_page as clean
    from tests.conftest import SEED

    data = SEED.read_bytes()
    page = PageInput(uri=str(SEED), data=data, sha256="0" * 64, format="text")
    raw, profile = extract_page(page)
    _, rows = clean(raw, page, profile, CleanContext(b"k" * 32, datetime(2024, 1, 1, tzinfo=timezone.utc), "test"))
    assert len(rows) == 33
    for field in ("dislikes", "marked_edited", "moderation", "badges", "permalink", "comment_system"):
        assert {r[field] for r in rows} == {None}, field
    # the thread shape follows the reply links the dump shows
    by_id = {r["comment_id"]: r for r in rows}
    for r in rows:
        if r["parent_comment_id"] is not None:
            assert r["depth"] == by_id[r["parent_comment_id"]]["depth"] + 1
            assert r["thread_root_id"] == by_id[r["parent_comment_id"]]["thread_root_id"]
    assert sum(r["reply_count"] or 0 for r in rows) == sum(r["parent_comment_id"] is not None for r in rows)


def test_published_fields_read_back_by_every_reader(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    for name in EXPECTED:
        # one URL per page: each is its own article
        html = pages.page(getattr(pages, name)).replace(URL, URL.replace("riverside-park", name.lower()))
        (folder / f"{name.lower()}.html").write_text(html, encoding="utf-8")
    out = tmp_path / "out"
    summary = pipeline.run([str(folder)], Settings(output_dir=out, author_key=b"k" * 32, workers=1))
    assert summary.comments_quarantined == 0
    want = {}
    for name in EXPECTED:
        _, rows = records(name)
        for r in rows:
            want[(name.lower(), r["position"])] = {k: r[k] for k in ("text", "depth", "reply_count", "likes", "dislikes",
                                                                     "marked_edited", "moderation", "badges")}
    fields = tuple(next(iter(want.values())))
    ways = read_all_ways(out / "comments", "comments")
    for reader, rows in ways.items():
        assert len(rows) == len(want), reader
        got = {}
        for r in rows:
            name = r["permalink"].split("/2012/03/")[1].split("/")[0]
            got[(name, r["position"])] = {k: _plain(r[k]) for k in fields}
        assert got == want, reader
        placeholders = [r for r in rows if r["moderation"] in ("removed", "deleted")]
        assert len(placeholders) == 3 and all(r["text"] == "" for r in placeholders), reader
        assert {r["comment_system"] for r in rows} == {"disqus", "coral", "wordpress", "forum"}, reader
        roots = {r["comment_id"] for r in rows if r["depth"] == 0}
        assert all(r["thread_root_id"] in roots for r in rows), reader
    # the schema declares every field once, with a description
    s = schema.load("comments")
    for f in ("thread_root_id", "reply_count", "dislikes", "marked_edited", "moderation", "badges", "permalink",
              "comment_system"):
        assert s.field(f).description and s.field(f).nullable


def _plain(v):
    """A value as Python compares it, whatever the reader gave (numpy arrays and scalars, pandas NA)."""
    import numpy as np
    import pandas as pd

    if isinstance(v, np.ndarray):
        return [_plain(x) for x in v.tolist()]
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)):
        return None
    if isinstance(v, np.generic):
        return v.item()
    return v


def test_up_and_down_counts_of_a_rating_plugin_in_the_text_are_read_and_left_out_of_it():
    """WordPress' 'Comment Rating' plugin appends thumbs up and down counts to the comment's text node."""
    rating = ('<p>Rate This: <img id="up-11" alt="Thumb up"> <span id="karma-11-up">4</span>&nbsp;'
              '<img id="down-11" alt="Thumb down"> <span id="karma-11-down">2</span></p>')
    html = pages.page(pages.WORDPRESS.replace("or only the lawns?</p>", "or only the lawns?</p>" + rating, 1))
    _, rows = records("rating", html)
    assert (rows[0]["likes"], rows[0]["dislikes"]) == (4, 2)
    assert "4" not in rows[0]["text"] and "2" not in rows[0]["text"]
    assert (rows[1]["likes"], rows[1]["dislikes"]) == (None, None)  # no counts shown on that one
