"""Each capture of a page is a snapshot of its thread (issue 15.1, issue 13.7): a later capture decides the
current comments (new ones inserted, edited ones updated, missing ones kept and marked removed), positions
and counts follow the current rows, an older capture never rolls a thread back, and the published state
depends on the set of captures only, not on how they were split into runs or in which order they came."""
from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest

from newsmill import pipeline
from newsmill.config import Settings
from newsmill.store import layout, reading, snapshots
from tests.store.conftest import read_all_ways

UTC = dt.timezone.utc
KEY = b"k" * 32
T1 = dt.datetime(2012, 3, 5, 8, 0, tzinfo=UTC)
T2 = dt.datetime(2012, 3, 9, 8, 0, tzinfo=UTC)
T3 = dt.datetime(2012, 3, 12, 8, 0, tzinfo=UTC)

ALICE = ("Alice Doe", "March 3, 2012 at 4:15 pm", "Finally some money for the roads.")
BOB = ("Bob Roe", "March 3, 2012 at 5:20 pm", "The schools needed it more than the roads.")
BOB_EDITED = ("Bob Roe", "March 3, 2012 at 5:20 pm", "The schools needed it far more than the roads, honestly.")
DAN = ("Dan Foe", "March 3, 2012 at 6:00 pm", "Spam spam spam, buy cheap watches here.")
EVE = ("Eve Moe", "March 3, 2012 at 4:30 pm", "A comment that waited for moderation and shows up between the others.")
CAROL = ("Carol Poe", "March 4, 2012 at 9:05 am", "Let us see whether the repairs really start this spring.")

# capture A (earlier) and B (later) of one page: between them Eve's comment was let through above Bob's,
# Bob edited his, Dan's was removed, Carol's is new
A = [ALICE, BOB, DAN]
B = [ALICE, EVE, BOB_EDITED, CAROL]
RUN_SPECIFIC = ("extracted_at", "pipeline_version")


def thread_page(comments: list[tuple[str, str, str]]) -> str:
    head = ("Council approves new budget after long debate\n\nPublished: March 3, 2012\n\n"
            "SPRINGFIELD: The city council approved the budget on Friday after a six-hour session.\n\n"
            "Members argued over road repairs and school funding until late in the evening.\n\n"
            f"{len(comments)} Comments\n")
    return head + "".join(f"\n  • {a}\n    {t}\n\n    {x}\n" for a, t, x in comments)


def capture(folder: Path, name: str, comments, when: dt.datetime) -> Path:
    """A page file captured at ``when`` (its modification time: what a capture of a file is dated by)."""
    folder.mkdir(parents=True, exist_ok=True)
    p = folder / name
    p.write_text(thread_page(comments), encoding="utf-8")
    ns = int(when.timestamp()) * 10**9
    os.utime(p, ns=(ns, ns))
    return p


def settings(out: Path) -> Settings:
    return Settings(output_dir=out, author_key=KEY, workers=1)


def state(out: Path) -> dict[str, list[dict]]:
    """Both published tables, run-specific columns left out, rows in key order."""
    t = reading.read_tables(out)
    return {n: sorted(({k: v for k, v in r.items() if k not in RUN_SPECIFIC} for r in t[n].to_pylist()),
                      key=lambda r: r.get("comment_id") or r["article_id"]) for n in t}


def by_author(rows: list[dict]) -> dict[str, dict]:
    return {r["author"]: r for r in rows}


@pytest.fixture()
def pages(tmp_path) -> dict[str, Path]:
    return {"A": capture(tmp_path / "in-a", "day1.txt", A, T1), "B": capture(tmp_path / "in-b", "day9.txt", B, T2)}


def check_thread(out: Path, first: str = "day1.txt", latest: str = "day9.txt") -> None:
    """The state after captures A and B (read from inputs named ``first`` and ``latest``), as every reader reads it."""
    s = state(out)
    [article] = s["articles"]
    c = by_author(s["comments"])
    assert (article["captured_at"], article["first_captured_at"]) == (T2, T1)
    current = [r for r in s["comments"] if not r["removed_at_source"]]
    assert article["comment_count_extracted"] == len(current) == 4
    assert [r["author"] for r in sorted(current, key=lambda r: r["position"])] == \
        ["Alice Doe", "Eve Moe", "Bob Roe", "Carol Poe"]
    assert sorted(r["position"] for r in s["comments"]) == [1, 2, 3, 4, 5]  # unique over all rows
    # removed at the source: kept, marked, not current, after the current ones
    assert (c["Dan Foe"]["removed_at_source"], c["Dan Foe"]["removed_seen_at"], c["Dan Foe"]["position"]) == (True, T2, 5)
    assert (c["Dan Foe"]["first_seen_at"], c["Dan Foe"]["last_seen_at"]) == (T1, T1)
    # edited: the latest text, first and last seen kept
    assert c["Bob Roe"]["text"] == BOB_EDITED[2] and c["Bob Roe"]["edited"] is True
    assert (c["Bob Roe"]["first_seen_at"], c["Bob Roe"]["last_seen_at"]) == (T1, T2)
    # unchanged and new comments
    assert (c["Alice Doe"]["edited"], c["Alice Doe"]["first_seen_at"], c["Alice Doe"]["last_seen_at"]) == (False, T1, T2)
    assert (c["Eve Moe"]["first_seen_at"], c["Carol Poe"]["first_seen_at"], c["Carol Poe"]["removed_seen_at"]) == (T2, T2, None)
    assert Path(c["Alice Doe"]["input_uri"]).name == first  # unchanged: provenance of its first extraction
    assert Path(c["Bob Roe"]["input_uri"]).name == latest  # edited: of the capture its text comes from
    assert Path(article["input_uri"]).name == latest
    for name, key in (("articles", "article_id"), ("comments", "comment_id")):
        ways = read_all_ways(out / name, name)
        for reader, rows in ways.items():
            assert len(rows) == len(s[name]), reader
            assert [r[key] for r in rows] == [r[key] for r in ways["pyarrow"]], reader
        if name == "comments":
            for reader, rows in ways.items():
                got = {r["author"]: (r["position"], bool(r["removed_at_source"]), bool(r["edited"])) for r in rows}
                assert got == {"Alice Doe": (1, False, False), "Eve Moe": (2, False, False),
                               "Bob Roe": (3, False, True), "Carol Poe": (4, False, False),
                               "Dan Foe": (5, True, False)}, reader
                seen = {r["author"]: r["removed_seen_at"] for r in rows}
                assert seen["Dan Foe"] is not None and seen["Alice Doe"] is None, reader
        else:
            for reader, rows in ways.items():
                assert rows[0]["comment_count_extracted"] == 4, reader


def test_a_later_capture_decides_the_thread_inserted_edited_removed(tmp_path, pages):
    out = tmp_path / "out"
    first = pipeline.run([str(pages["A"])], settings(out))
    ids_a = by_author(reading.read_table("comments", out).to_pylist())
    second = pipeline.run([str(pages["B"])], settings(out))
    assert first.accounting_ok and second.accounting_ok and second.articles_published == 1
    check_thread(out)
    now = by_author(reading.read_table("comments", out).to_pylist())
    # identities: an inserted comment shifts no id, an edited comment keeps the id it was first published with
    for who in ("Alice Doe", "Bob Roe", "Dan Foe"):
        assert now[who]["comment_id"] == ids_a[who]["comment_id"]


def test_the_state_does_not_depend_on_run_boundaries_or_order(tmp_path, pages):
    one, ab, ba = tmp_path / "one", tmp_path / "ab", tmp_path / "ba"
    s = pipeline.run([str(pages["A"]), str(pages["B"])], settings(one))
    # in one run the older capture is not a 'duplicate' of the newer: it is merged, and accounted for
    assert (s.articles_published, s.rejected, s.reject_reasons, s.accounting_ok) == (1, 1, {"older_capture": 1}, True)
    import pyarrow.parquet as pq
    [r] = pq.read_table(layout.quarantine_file(one, "rejects", s.run_id)).to_pylist()
    assert Path(r["input_uri"]).name == "day1.txt" and r["detail"].rstrip(")").count("day9.txt") == 1
    pipeline.run([str(pages["A"])], settings(ab))
    pipeline.run([str(pages["B"])], settings(ab))
    pipeline.run([str(pages["B"])], settings(ba))
    late = pipeline.run([str(pages["A"])], settings(ba))  # an older capture arriving after a newer one
    assert late.accounting_ok
    for out in (one, ab, ba):
        check_thread(out)
    assert state(one) == state(ab) == state(ba)


def test_an_older_capture_never_rolls_the_thread_back(tmp_path, pages):
    out = tmp_path / "out"
    pipeline.run([str(pages["B"])], settings(out))
    before = by_author(reading.read_table("comments", out).to_pylist())
    pipeline.run([str(pages["A"])], settings(out))
    after = by_author(reading.read_table("comments", out).to_pylist())
    assert after["Bob Roe"]["text"] == BOB_EDITED[2]  # not the older text
    assert after["Dan Foe"]["removed_at_source"] is True  # only in the older capture: history, not current
    assert {k: v["position"] for k, v in after.items() if not v["removed_at_source"]} == \
        {k: v["position"] for k, v in before.items()}
    [article] = reading.read_table("articles", out).to_pylist()
    assert Path(article["input_uri"]).name == "day9.txt" and article["captured_at"] == T2


def test_the_same_capture_again_changes_nothing(tmp_path, pages):
    out = tmp_path / "out"
    pipeline.run([str(pages["A"]), str(pages["B"])], settings(out))
    before = state(out)
    again = pipeline.run([str(pages["A"]), str(pages["B"])], settings(out).with_run_options(full=True))
    stats = {p["table"]: p for p in again.publish}
    assert stats["comments"]["inserted"] == stats["comments"]["updated"] == 0
    assert stats["articles"]["inserted"] == stats["articles"]["updated"] == 0
    assert state(out) == before


def test_a_comment_back_on_the_page_is_current_again(tmp_path, pages):
    """Removed in one capture (a moderator hid it), back in the next: current, its seen times span both."""
    out = tmp_path / "out"
    pipeline.run([str(pages["A"]), str(pages["B"])], settings(out))
    c = capture(tmp_path / "in-c", "day12.txt", [*B, DAN], T3)
    pipeline.run([str(c)], settings(out))
    rows = by_author(reading.read_table("comments", out).to_pylist())
    assert (rows["Dan Foe"]["removed_at_source"], rows["Dan Foe"]["removed_seen_at"], rows["Dan Foe"]["position"]) == \
        (False, None, 5)
    assert (rows["Dan Foe"]["first_seen_at"], rows["Dan Foe"]["last_seen_at"]) == (T1, T3)
    [article] = reading.read_table("articles", out).to_pylist()
    assert article["comment_count_extracted"] == 5


# --- the merge itself ------------------------------------------------------------------------------


def _thread(when, comments, sha) -> snapshots.Thread:
    art = {"article_id": "a", "source": "s", "year": 2012, "input_sha256": sha, "comment_count_extracted": len(comments)}
    rows = [{"comment_id": f"{who}:{text}", "article_id": "a", "author": who, "author_id": who, "text": text,
             "posted_at": posted, "position": i, "parent_comment_id": None, "quoted_comment_id": None,
             "input_uri": sha} for i, (who, posted, text) in enumerate(comments, start=1)]
    snapshots.stamp(art, rows, when)
    return snapshots.Thread(art, rows)


def test_merge_gives_the_same_state_in_every_order_of_three_captures():
    import itertools

    p1, p2, p3 = (dt.datetime(2012, 1, 1, h, tzinfo=UTC) for h in (1, 2, 3))
    caps = [_thread(T1, [("ann", p1, "one"), ("bob", p2, "two"), ("cy", p3, "three")], "x1"),
            _thread(T2, [("ann", p1, "one"), ("bob", p2, "two, edited"), ("dee", p3, "four")], "x2"),
            _thread(T3, [("bob", p2, "two, edited"), ("cy", p3, "three"), ("dee", p3, "four")], "x3")]
    results = []
    for order in itertools.permutations(caps):
        state_ = order[0]
        for th in order[1:]:
            state_ = snapshots.merge(state_, th)
        results.append(sorted((c["comment_id"], c["text"], c["position"], c["edited"], c["first_seen_at"],
                               c["last_seen_at"], c["removed_at_source"], c["removed_seen_at"]) for c in state_.comments))
    assert all(r == results[0] for r in results)
    rows = {r[0].split(":")[0]: r for r in results[0]}
    assert rows["ann"][6:] == (True, T3) and rows["ann"][4:6] == (T1, T2)  # last seen at T2, first missed at T3
    assert rows["cy"][6:] == (False, None) and rows["cy"][4:6] == (T1, T3)  # missing at T2, back at T3
    assert rows["bob"][0] == "bob:two" and rows["bob"][1] == "two, edited" and rows["bob"][3] is True
    assert sorted(r[2] for r in results[0]) == [1, 2, 3, 4]


def test_a_relative_stamp_that_moved_is_the_same_comment_and_replies_follow_a_renamed_id():
    """'2 hours ago' then '5 hours ago': another raw stamp, hence another comment_id, but the same author and
    words: the same comment (not edited), with the id it was first seen with; a reply's parent follows."""
    def cap(when, stamp, sha):
        th = _thread(when, [("ann", None, "first words here"), ("bob", None, "a reply to ann")], sha)
        th.comments[0]["comment_id"], th.comments[0]["posted_raw"] = f"ann@{stamp}", stamp
        th.comments[1]["parent_comment_id"] = th.comments[0]["comment_id"]
        return th

    merged = snapshots.merge(cap(T2, "5 hours ago", "x2"), cap(T1, "2 hours ago", "x1"))  # the older one came last
    ann, bob = sorted(merged.comments, key=lambda c: c["position"])
    assert (ann["comment_id"], ann["posted_raw"], ann["edited"], ann["removed_at_source"]) == \
        ("ann@2 hours ago", "5 hours ago", False, False)
    assert (ann["first_seen_at"], ann["last_seen_at"]) == (T1, T2)
    assert bob["parent_comment_id"] == "ann@2 hours ago"
    assert merged.renamed == {"ann@5 hours ago": "ann@2 hours ago"}


def test_ambiguous_edits_are_not_guessed():
    """Two comments of one author at the same posted_at, both changed: which became which is unknown, so
    neither is matched as an edit (the new texts are new comments, the old ones removed)."""
    p = dt.datetime(2012, 1, 1, tzinfo=UTC)
    merged = snapshots.merge(_thread(T1, [("ann", p, "one"), ("ann", p, "two")], "x1"),
                             _thread(T2, [("ann", p, "one, edited"), ("ann", p, "two, edited")], "x2"))
    assert sorted((c["text"], c["removed_at_source"], c["edited"]) for c in merged.comments) == [
        ("one", True, False), ("one, edited", False, False), ("two", True, False), ("two, edited", False, False)]


def test_two_captures_of_one_url_in_one_archive_the_later_one_decides_whatever_the_record_order(tmp_path):
    """Issue 13.7: the later capture (more comments) is no longer rejected as a duplicate of the earlier
    record; the archive's dates order the captures, not the records' order in the file."""
    import io

    import pyarrow.parquet as pq
    from warcio.warcwriter import WARCWriter

    d = tmp_path / "in"
    d.mkdir()
    with open(d / "crawl.warc.gz", "wb") as f:
        w = WARCWriter(f, gzip=True)
        for comments, when in ((B, T2), (A, T1)):  # the later capture first in the file
            w.write_record(w.create_warc_record(
                "https://example.org/budget", "conversion", payload=io.BytesIO(thread_page(comments).encode()),
                warc_headers_dict={"Content-Type": "text/plain", "WARC-Date": when.strftime("%Y-%m-%dT%H:%M:%SZ")}))
    out = tmp_path / "out"
    s = pipeline.run([str(d)], settings(out))
    assert (s.inputs, s.articles_published, s.reject_reasons, s.accounting_ok) == (2, 1, {"older_capture": 1}, True)
    [article] = reading.read_table("articles", out).to_pylist()
    assert article["url"] == "https://example.org/budget"
    [reject] = pq.read_table(layout.quarantine_file(out, "rejects", s.run_id)).to_pylist()
    older = Path(reject["input_uri"]).name
    assert older != "crawl.warc.gz#0" and "crawl.warc.gz#0 " in reject["detail"]  # names the capture published
    check_thread(out, first=older, latest="crawl.warc.gz#0")


def test_a_capture_without_its_script_loaded_comments_removes_none():
    """The latest capture lacks the thread (comments_in_capture false): it updates the article, and the
    comments stay those of the latest capture that held them, current, counted."""
    import itertools

    p = dt.datetime(2012, 1, 1, tzinfo=UTC)
    held = _thread(T1, [("ann", p, "one"), ("bob", p, "two")], "x1")
    held.article["comments_in_capture"] = True
    more = _thread(T2, [("ann", p, "one"), ("bob", p, "two"), ("cy", p, "three")], "x2")
    more.article["comments_in_capture"] = True
    blind = _thread(T3, [], "x3")
    blind.article.update(comments_in_capture=False, title="updated headline")
    for order in itertools.permutations([held, more, blind]):
        th = snapshots.fold(list(order))
        state_ = order[0]
        for nxt in order[1:]:
            state_ = snapshots.merge(state_, nxt)
        for merged in (th, state_):
            assert merged.article["title"] == "updated headline" and merged.article["captured_at"] == T3
            assert merged.article["comment_count_extracted"] == 3
            assert sorted((c["author"], c["removed_at_source"], c["last_seen_at"]) for c in merged.comments) == \
                [("ann", False, T2), ("bob", False, T2), ("cy", False, T2)]


def test_the_same_bytes_again_later_are_the_same_capture(tmp_path, pages):
    """A copy or a touched file with the bytes of the capture that decides the thread is that capture
    extracted again (its file time is not the page's): nothing moves, as in one run (a duplicate)."""
    out = tmp_path / "out"
    pipeline.run([str(pages["A"]), str(pages["B"])], settings(out))
    before = state(out)
    copy = capture(tmp_path / "in-copy", "copy.txt", B, T3)
    again = pipeline.run([str(copy)], settings(out))
    stats = {p["table"]: (p["inserted"], p["updated"]) for p in again.publish}
    assert stats == {"articles": (0, 0), "comments": (0, 0)} and state(out) == before
