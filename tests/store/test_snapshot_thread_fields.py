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


NEW_IN_V3 = ("thread_root_id", "reply_count", "dislikes", "marked_edited", "moderation", "badges", "permalink",
             "comment_system")


def test_comments_published_under_schema_v2_get_the_v3_fields_as_nulls(tmp_path, monkeypatch):
    """An output written before the fields existed is migrated on the next publish (new nullable columns,
    schema version 3): every reader sees the new columns, null in the old rows."""
    import json
    import shutil

    from newsmill import schema
    from newsmill.store import publish, reading
    from tests.store.conftest import SAMPLES, read_all_ways

    assert schema.load("comments").version == 3
    old_dir = tmp_path / "schemas-v2"
    shutil.copytree(schema.SCHEMA_DIR, old_dir)
    spec = json.loads((old_dir / "comments.json").read_text(encoding="utf-8"))
    spec["version"], spec["fields"] = 2, [f for f in spec["fields"] if f["name"] not in NEW_IN_V3]
    (old_dir / "comments.json").write_text(json.dumps(spec), encoding="utf-8")
    original = schema.SCHEMA_DIR
    monkeypatch.setattr(schema, "SCHEMA_DIR", old_dir)
    schema.load.cache_clear()
    try:
        publish.publish_run({n: SAMPLES[n]() for n in schema.TABLES}, tmp_path / "out", run_id="r1")
    finally:
        monkeypatch.setattr(schema, "SCHEMA_DIR", original)
        schema.load.cache_clear()
    out = tmp_path / "out"
    import pyarrow.parquet as pq

    files = lambda: sorted((out / "comments").rglob("*.parquet"))  # noqa: E731
    assert files() and all("moderation" not in pq.read_schema(f).names for f in files())
    # the next run brings one comment again (now with the new fields): the others are migrated, as nulls
    publish.publish_run({"articles": SAMPLES["articles"](), "comments": SAMPLES["comments"]().slice(0, 1)}, out, run_id="r2")
    assert all("moderation" in pq.read_schema(f).names for f in files())
    for reader, rows in read_all_ways(out / "comments", "comments").items():
        old = [r for r in rows if r["comment_id"] != "c0"]
        bad = [(r["comment_id"], f) for r in old for f in NEW_IN_V3 if not (f in r and _null(r[f]))]
        assert len(old) == 5 and not bad, (reader, bad[:3])
        assert next(r for r in rows if r["comment_id"] == "c0")["moderation"] is not None, reader


def _null(v) -> bool:
    """None, or a reader's own null (pandas gives NaN in a float column of nulls, or pd.NA)."""
    import pandas as pd

    return v is None or v is pd.NA or (isinstance(v, float) and v != v)
