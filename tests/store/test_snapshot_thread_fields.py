"""A merged thread's depth, thread_root_id and reply_count describe the merged rows (issue 15.5): replies
that a later capture adds count, replies removed at the source do not, the shape is derived again."""
from __future__ import annotations

import datetime as dt

from newsmill.store import snapshots

UTC = dt.timezone.utc
T1, T2 = dt.datetime(2012, 3, 5, tzinfo=UTC), dt.datetime(2012, 3, 9, tzinfo=UTC)


def capture(when, sha, comments):
    art = {"article_id": "a", "source": "s", "year": 2012, "input_sha256": sha, "comment_count_extracted": len(comments)}
    rows = [{"comment_id": cid, "article_id": "a", "author_id": cid, "text": f"text of {cid}", "posted_at": None,
             "position": i, "parent_comment_id": parent, "depth": None, "thread_root_id": None, "reply_count": None}
            for i, (cid, parent) in enumerate(comments, start=1)]
    snapshots.stamp(art, rows, when)
    from newsmill.threads import thread_fields
    thread_fields(rows)
    return snapshots.Thread(art, rows)


def test_reply_counts_follow_the_merged_thread():
    old = capture(T1, "a", [("c1", None), ("c2", "c1")])
    new = capture(T2, "b", [("c1", None), ("c3", "c1"), ("c4", "c3")])
    assert {c["comment_id"]: c["reply_count"] for c in new.comments} == {"c1": 1, "c3": 1, "c4": 0}
    merged = snapshots.merge(old, new)
    got = {c["comment_id"]: (c["removed_at_source"], c["depth"], c["thread_root_id"], c["reply_count"]) for c in merged.comments}
    assert got == {"c1": (False, 0, "c1", 1), "c3": (False, 1, "c1", 1), "c4": (False, 2, "c1", 0),
                   "c2": (True, 1, "c1", 0)}


def test_an_edited_comment_keeps_its_first_id_and_its_replies_thread_root_follows():
    old = capture(T1, "a", [("c1", None)])
    new = capture(T2, "b", [("c1-edited", None), ("c3", "c1-edited")])
    for th in (old, new):  # the same commenter and time: matched as an edit, the first id kept
        th.comments[0].update(author_id="x", posted_at=T1)
    merged = snapshots.merge(old, new)
    got = {c["comment_id"]: (c["parent_comment_id"], c["depth"], c["thread_root_id"], c["reply_count"]) for c in merged.comments}
    assert got == {"c1": (None, 0, "c1", 1), "c3": ("c1", 1, "c1", 0)}
