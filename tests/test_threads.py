"""depth, thread_root_id and reply_count derived from reply links, in one place (newsmill.threads)."""
from __future__ import annotations

from newsmill.threads import thread_fields


def rows(*parents, depths=None, removed=()):
    depths = depths or [None] * len(parents)
    return [{"comment_id": f"c{i}", "parent_comment_id": p, "depth": d, "removed_at_source": i in removed}
            for i, (p, d) in enumerate(zip(parents, depths))]


def shape(rs):
    return [(r["depth"], r["thread_root_id"], r["reply_count"]) for r in rs]


def test_a_nested_thread():
    rs = rows(None, "c0", "c1", "c0", None, depths=[0, 1, 2, 1, 0])
    thread_fields(rs)
    assert shape(rs) == [(0, "c0", 2), (1, "c0", 1), (2, "c0", 0), (1, "c0", 0), (0, "c4", 0)]


def test_reply_links_decide_the_depth_and_a_flat_page_stays_null():
    rs = rows(None, None, "c0")  # '@Name' resolved on a page without nesting markup
    thread_fields(rs)
    assert shape(rs) == [(0, "c0", 1), (0, "c1", 0), (1, "c0", 0)]
    flat = rows(None, None, None)  # no reply links, no depth from markup: nothing is known
    thread_fields(flat)
    assert shape(flat) == [(None, None, None)] * 3


def test_markup_depth_of_a_top_level_comment_is_kept():
    rs = rows(None, "c0", depths=[2, 3])  # a page cut inside a thread (its parents were on another page)
    thread_fields(rs)
    assert shape(rs) == [(2, "c0", 1), (3, "c0", 0)]


def test_replies_removed_at_the_source_are_not_counted_and_a_parent_later_in_the_list_is_followed():
    rs = rows("c2", "c2", None, removed={1})
    thread_fields(rs)
    assert shape(rs) == [(1, "c2", 0), (1, "c2", 0), (0, "c2", 1)]


def test_a_loop_of_parents_is_cut():
    rs = rows("c1", "c0")
    thread_fields(rs)
    assert {r["thread_root_id"] for r in rs} == {"c1"} and sorted(r["depth"] for r in rs) == [0, 1]


def test_a_parent_not_among_the_rows_makes_a_top_level_comment():
    rs = rows("gone", None)
    thread_fields(rs)
    assert shape(rs) == [(None, None, None)] * 2  # a dangling link is no threading either
    rs = rows("gone", "c0")
    thread_fields(rs)
    assert shape(rs) == [(0, "c0", 1), (1, "c0", 0)]
