"""Thread shape of an article's comments: ``depth``, ``thread_root_id`` and ``reply_count`` from the reply links.

One pure function, used where an article's comment rows are made (``clean``) and wherever they are
merged again (``store.snapshots``: a later capture adds replies, renames ids, removes comments), so
the three fields always describe the rows they are stored with.  They are derived only from
``parent_comment_id`` (threading from markup, or an '@Name' resolved to that author's comment) and
the depth the markup shows; nothing is guessed beyond those links.
"""
from __future__ import annotations


def thread_fields(rows: list[dict]) -> None:
    """Set ``depth``, ``thread_root_id`` and ``reply_count`` on one article's comment rows (in place).

    - ``thread_root_id``: the ``comment_id`` of the top-level comment the row's chain of parents leads
      to among these rows (the row's own id when it has no parent here).
    - ``depth``: the parent's depth + 1 for a reply; for a comment without parent, the depth its markup
      shows, else 0; null for every row when the page shows no threading at all (no row has a parent
      or a depth from markup): a flat list says nothing about nesting.
    - ``reply_count``: the direct replies among the *current* rows (a reply removed at the source is
      no longer shown under its parent).
    - ``thread_root_id`` and ``reply_count`` are null where ``depth`` is, for the same reason.

    A chain that loops (which markup cannot give, but ids merged by a snapshot could) is cut where it
    comes back: the row where the loop closes counts as top level.
    """
    by_id = {r["comment_id"]: r for r in rows}
    threaded = any(r.get("depth") is not None or r.get("parent_comment_id") in by_id for r in rows)
    root: dict[str, str] = {}
    depth: dict[str, int | None] = {}

    def resolve(r: dict) -> None:
        chain, seen = [], set()
        cur = r
        while cur is not None and cur["comment_id"] not in root and cur["comment_id"] not in seen:
            seen.add(cur["comment_id"])
            chain.append(cur)
            up = cur.get("parent_comment_id")
            cur = by_id.get(up) if up is not None and up != cur["comment_id"] else None
        if cur is not None and cur["comment_id"] in root:  # joins a chain already resolved
            top, d = root[cur["comment_id"]], depth[cur["comment_id"]]
        else:  # the last of the chain is top level (no parent here, or the loop closes on it)
            last = chain.pop()
            top = last["comment_id"]
            d = (last.get("depth") if last.get("depth") is not None else 0) if threaded else None
            root[top], depth[top] = top, d
        for c in reversed(chain):
            d = d + 1 if d is not None else None
            root[c["comment_id"]], depth[c["comment_id"]] = top, d

    for r in rows:
        if r["comment_id"] not in root:
            resolve(r)
    replies: dict[str, int] = {}
    for r in rows:
        up = r.get("parent_comment_id")
        if up in by_id and up != r["comment_id"] and not r.get("removed_at_source"):
            replies[up] = replies.get(up, 0) + 1
    for r in rows:
        cid = r["comment_id"]
        r["thread_root_id"] = root[cid] if threaded else None
        r["depth"] = depth[cid]
        r["reply_count"] = replies.get(cid, 0) if threaded else None
