"""Each capture of a page is a snapshot of its thread: captures of one article merged into its current state.

A page captured twice (two WARC records, a crawler's daily file, a dump made again) tells how its thread
changed: comments added, edited, removed. The published rows of an article are the merge of every
capture of it seen so far, and the merge is built so that the same set of captures gives the same rows
whatever the order they arrive in and however they are split into runs:

- **Which capture decides.** Captures are ordered by ``captured_at`` (WARC-Date, else the input file's
  modification time), equal times by ``input_sha256``; the latest one gives the article row and the
  *current* comments (those it shows, in its page order), unless its comments are known not to be in
  it (``comments_in_capture`` false: a script loads them): then the latest capture that holds the
  thread decides the comments. An older capture that arrives later only adds history: it never rolls
  the thread back.
- **Which comments are the same.** Two rows of one article are the same comment when (1) their
  ``comment_id`` is equal (same author, raw timestamp, text; the id never depends on the position, so
  inserted comments shift nothing); else (2) same ``author_id`` and the same words (a relative stamp,
  '3 hours ago', moved between captures); else (3) same non-null ``author_id`` and the same non-null
  ``posted_at``: the text was edited (``edited`` true, the latest text). Rules 2 and 3 pair only keys
  that are unique on both sides (two '+1' of one author are not guessed at).
  A matched comment keeps the id it was first seen with; replies and quotes follow it.
- **Times.** ``first_seen_at`` / ``last_seen_at``: earliest and latest capture that showed it.
  A comment the deciding capture does not show is kept, ``removed_at_source`` true, with
  ``removed_seen_at`` the first known capture after its last sighting (when it was first missed).
- **Thread shape.** ``depth``, ``thread_root_id`` and ``reply_count`` are derived again from the merged
  rows' reply links (``newsmill.threads``): a reply removed at the source no longer counts.
- **Positions and counts.** Current comments: their position on the deciding capture (1..n, n =
  ``comment_count_extracted``, the deciding capture's count); removed ones follow (n+1, ...) in the order of their last sighting, so
  ``(article_id, position)`` is unique over every row of the article.
- **Provenance.** A comment whose content did not change keeps the provenance (``input_uri``,
  ``extracted_at``, ...) of the extraction that first produced it.

A capture with the same bytes as the one that decides an article (a copy, a touched file, ``--full``)
is that capture extracted again: it keeps that capture's time.

The capture times an article has seen are known from its rows (``first_captured_at``, ``captured_at``
and its comments' seen times), so no list of captures is stored. Rows published before these fields
existed have null times and count as seen at an unknown time before any capture.

:func:`merge` works on one article's rows as Python dicts (an article's thread is small);
:func:`reconcile` applies it, under the output lock, to the articles of a publish that the current
version already holds, so that two runs never merge against a stale version.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from newsmill import schema as schemas
from newsmill.store import upsert
from newsmill.threads import thread_fields
from newsmill.text import tokens

SEEN_FIELDS = ("edited", "first_seen_at", "last_seen_at", "removed_at_source", "removed_seen_at")
# fields that say nothing about a comment's content: a row equal to an earlier one but for these keeps the
# earlier row's provenance (``upsert.VOLATILE``)
_NOT_CONTENT = frozenset((*upsert.VOLATILE, *SEEN_FIELDS, "position", "comment_id", "parent_comment_id",
                          "quoted_comment_id", "source", "year", "depth", "thread_root_id", "reply_count"))
_NEVER = datetime.min.replace(tzinfo=timezone.utc)  # an unknown time: before any capture
GROUP = 5000  # articles merged at a time by :func:`reconcile` (bounds the rows it holds)


@dataclass
class Thread:
    """One article row and its comment rows (dicts of the schemas' fields)."""

    article: dict
    comments: list[dict] = field(default_factory=list)
    renamed: dict[str, str] = field(default_factory=dict)  # comment ids merged into another's (old -> kept)


def capture_time(captured_at: datetime | None, mtime_ns: int | None) -> datetime | None:
    """A page's capture time: the container's (WARC-Date), else its file's modification time (UTC, to
    the microsecond, as the schema stores it)."""
    if captured_at is not None:
        t = captured_at if captured_at.tzinfo else captured_at.replace(tzinfo=timezone.utc)
        return t.astimezone(timezone.utc)
    if mtime_ns is None:
        return None
    return datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(microseconds=mtime_ns // 1000)


def stamp(article: dict, comments: list[dict], when: datetime | None) -> None:
    """A fresh capture's rows: captured (first and last) at ``when``, every comment current and unedited."""
    article["captured_at"] = article["first_captured_at"] = when
    for c in comments:
        c.update(edited=False, first_seen_at=when, last_seen_at=when, removed_at_source=False, removed_seen_at=None)


def rank(article: dict) -> tuple:
    """Order of captures: capture time, then content hash (equal times: a deterministic choice)."""
    return _t(article.get("captured_at")), article.get("input_sha256") or ""


def _t(v: datetime | None) -> datetime:
    return _NEVER if v is None else v


def _out(v: datetime) -> datetime | None:
    return None if v == _NEVER else v


def _times(th: Thread) -> set[datetime]:
    """The capture times ``th`` is known to hold."""
    out = {_t(th.article.get("captured_at")), _t(th.article.get("first_captured_at"))}
    for c in th.comments:
        out.add(_t(c.get("first_seen_at")))
        out.add(_t(c.get("last_seen_at")))
        if c.get("removed_seen_at") is not None:
            out.add(c["removed_seen_at"])
    return out


def _thread_time(th: Thread) -> datetime:
    """When the capture that decides ``th``'s current comments was made: the last sighting of its current
    comments; without any, its capture time, unless its comments are known not to be in it (a capture
    that lacks a script-loaded thread: no evidence at all)."""
    current = [_t(c.get("last_seen_at")) for c in th.comments if not c.get("removed_at_source")]
    if current:
        return max(current)
    if th.article.get("comments_in_capture") is False:
        return max((_t(c.get("last_seen_at")) for c in th.comments), default=_NEVER)
    return _t(th.article.get("captured_at"))


def _words(text: str | None) -> str:
    return " ".join(tokens(text or ""))


def match(a: list[dict], b: list[dict]) -> list[tuple[dict | None, dict | None, bool]]:
    """Pairs (row of ``a`` or None, row of ``b`` or None, matched as an edit) covering every row once;
    the rules are the module docstring's, tried in order, rows in position order."""
    a = sorted(a, key=lambda r: (r.get("position") or 0, r["comment_id"]))
    b = sorted(b, key=lambda r: (r.get("position") or 0, r["comment_id"]))
    left, right = list(range(len(a))), list(range(len(b)))
    pairs: list[tuple[dict | None, dict | None, bool]] = []

    def pair_by(key, *, unique: bool, edit: bool) -> None:
        nonlocal left, right
        index: dict = {}
        for j in right:
            k = key(b[j])
            if k is not None:
                index.setdefault(k, []).append(j)
        if unique:
            counts: dict = {}
            for i in left:
                k = key(a[i])
                counts[k] = counts.get(k, 0) + 1
            index = {k: js for k, js in index.items() if len(js) == 1 and counts.get(k) == 1}
        taken, rest = set(), []
        for i in left:
            k = key(a[i])
            js = index.get(k) if k is not None else None
            if js:
                j = js.pop(0)
                taken.add(j)
                pairs.append((a[i], b[j], edit))
            else:
                rest.append(i)
        left, right = rest, [j for j in right if j not in taken]

    pair_by(lambda r: r["comment_id"], unique=False, edit=False)
    pair_by(lambda r: (r.get("author_id"), _words(r.get("text"))), unique=True, edit=False)
    pair_by(lambda r: (r["author_id"], r["posted_at"]) if r.get("author_id") and r.get("posted_at") else None,
            unique=True, edit=True)
    pairs += [(a[i], None, False) for i in left] + [(None, b[j], False) for j in right]
    return pairs


def _same_content(x: dict, y: dict) -> bool:
    return all(x.get(k) == y.get(k) for k in x.keys() | y.keys() if k not in _NOT_CONTENT)


def merge(old: Thread, new: Thread) -> Thread:
    """The state of an article after both threads' captures (see the module docstring). ``old`` is what
    is known (the published rows, or the captures merged so far), ``new`` what arrived; on a tie
    (the same capture extracted again) ``new`` decides."""
    new = _same_capture(old, new)
    decider = new if rank(new.article) >= rank(old.article) else old
    # the thread is decided by the latest capture that holds it: one whose comments a script loads and
    # the capture lacks (comments_in_capture false) says nothing about them
    new_decides = (_thread_time(new), rank(new.article)) >= (_thread_time(old), rank(old.article))
    thread = new if new_decides else old
    latest = _thread_time(thread)
    times = sorted(_times(old) | _times(new))
    art = dict(decider.article)
    art["captured_at"] = decider.article.get("captured_at")
    art["first_captured_at"] = _out(min(_t(old.article.get("first_captured_at")),
                                        _t(new.article.get("first_captured_at"))))
    current, removed, renamed = [], [], {}
    for x, y, edit in match(old.comments, new.comments):
        rows = [r for r in (x, y) if r is not None]
        mine = y if new_decides else x  # the deciding side's row
        first = min(_t(r.get("first_seen_at")) for r in rows)
        last = max(_t(r.get("last_seen_at")) for r in rows)
        # content from the latest sighting (a tie: the deciding side's)
        content = max(rows, key=lambda r: (_t(r.get("last_seen_at")), r is mine))
        earliest = min(rows, key=lambda r: (_t(r.get("first_seen_at")), r is not x))
        row = dict(content)
        row["comment_id"] = earliest["comment_id"]
        for r in rows:
            if r["comment_id"] != row["comment_id"]:
                renamed[r["comment_id"]] = row["comment_id"]
        if len(rows) == 2 and _same_content(x, y):
            row.update({k: earliest.get(k) for k in upsert.VOLATILE})
        row["edited"] = edit or any(bool(r.get("edited")) for r in rows) or \
            (len(rows) == 2 and x.get("text") != y.get("text"))
        row["first_seen_at"], row["last_seen_at"] = _out(first), _out(last)
        row["source"], row["year"] = art["source"], art["year"]
        if mine is not None and not mine.get("removed_at_source"):
            row["removed_at_source"], row["removed_seen_at"] = False, None
            row["position"] = mine["position"]
            current.append(row)
        else:
            row["removed_at_source"] = True
            later = [t for t in times if t > last]
            row["removed_seen_at"] = _out(later[0] if later else latest)
            removed.append((last, content.get("position") or 0, row["comment_id"], row))
    current.sort(key=lambda r: r["position"])
    for i, r in enumerate(current, start=1):
        r["position"] = i
    out = current + [r for *_, r in sorted(removed, key=lambda e: e[:3])]
    for i, r in enumerate(out[len(current):], start=len(current) + 1):
        r["position"] = i
    for r in out:
        for k in ("parent_comment_id", "quoted_comment_id"):
            if r.get(k) in renamed:
                r[k] = renamed[r[k]]
    thread_fields(out)  # depth, thread root and reply counts of the merged thread (ids renamed, replies added or gone)
    # comment_count_extracted is that of the capture that decides the thread: its comments are the current
    # rows (but for a comment validation quarantined: counted as extracted, and kept in quarantine/)
    art["comment_count_extracted"] = thread.article.get("comment_count_extracted")
    for a, b in list({**old.renamed, **new.renamed}.items()):
        renamed.setdefault(a, renamed.get(b, b))
    return Thread(art, out, renamed)


def _same_capture(old: Thread, new: Thread) -> Thread:
    """``new`` dated as the capture that decides ``old`` when it is a single capture with the same bytes
    (a copy of the file, a touched file, ``--full``): the same capture extracted again, not a new
    observation of the thread (its file's time is not the page's)."""
    sha, when = new.article.get("input_sha256"), old.article.get("captured_at")
    if not sha or sha != old.article.get("input_sha256") or new.article.get("captured_at") == when \
            or new.article.get("first_captured_at") != new.article.get("captured_at"):
        return new
    art = {**new.article, "captured_at": when, "first_captured_at": when}
    return Thread(art, [{**c, "first_seen_at": when, "last_seen_at": when} for c in new.comments], dict(new.renamed))


def fold(captures: list[Thread]) -> Thread:
    """Captures of one article merged, oldest first (the order does not change the result)."""
    ordered = sorted(captures, key=lambda th: rank(th.article))
    state = ordered[0]
    for th in ordered[1:]:
        state = merge(state, th)
    return state


def threads(articles: pa.Table, comments: pa.Table) -> dict[str, Thread]:
    """Rows grouped by article (comments of an article not in ``articles`` are left out)."""
    out = {a["article_id"]: Thread(a) for a in articles.to_pylist()}
    for c in comments.to_pylist():
        th = out.get(c["article_id"])
        if th is not None:
            th.comments.append(c)
    return out


def to_tables(merged: list[Thread]) -> dict[str, pa.Table]:
    return {"articles": schemas.to_arrow("articles", [th.article for th in merged]),
            "comments": schemas.to_arrow("comments", [c for th in merged for c in th.comments])}


# --- at publish time -----------------------------------------------------------------------------


def reconcile(base: Path | None, batches: dict, folder: Path | None = None) -> dict:
    """The publish's rows (``sorted_runs.NewRows`` of both tables) with each article that ``base`` (the
    current version's folder) already holds replaced by its merge with the published rows.

    Only those articles' rows are read and rewritten; runs of the publish without them are reused.
    """
    if base is None or "articles" not in batches or "comments" not in batches:
        return batches
    arts = batches["articles"]
    run_ids = pc.unique(arts.keys)
    old_ids = _column(base / "articles", "articles", "article_id")
    existing = pc.filter(run_ids, pc.is_in(run_ids, value_set=old_ids)) if len(old_ids) else run_ids.slice(0, 0)
    if not len(existing):
        return batches
    merged: dict[str, list[pa.Table]] = {n: [] for n in schemas.TABLES}
    # published comment ids that a merge replaced by the id of an earlier version of the same comment
    # (an older capture that arrived late showed it before its edit): removed from the dataset
    gone: list[str] = []
    for start in range(0, len(existing), GROUP):
        group = existing.slice(start, GROUP)
        stored = threads(*(_read(base / n, n, group) for n in schemas.TABLES))
        fresh = threads(*(batches[n].rows_of_articles(group) for n in schemas.TABLES))
        done = []
        for a, th in fresh.items():
            if a in stored:
                known = {c["comment_id"] for c in stored[a].comments}
                th = merge(stored[a], th)
                gone += [cid for cid in th.renamed if cid in known]
            done.append(th)
        tables = to_tables(done)
        for n in schemas.TABLES:
            merged[n].append(tables[n])
    sub = None if folder is None else Path(folder) / "snapshots"
    out = {n: b.replacing_articles(existing, merged[n], None if sub is None else sub / n) if n in merged else b
           for n, b in batches.items()}
    out["comments"].deleted = pa.array(gone, pa.string())
    return out


def _dataset(root: Path, name: str):
    import pyarrow.dataset as ds

    from newsmill.store import reading

    files = [str(f) for f in reading._data_files(root)]
    return ds.dataset(files, schema=schemas.load(name).arrow(), format="parquet",
                      partitioning=reading.hive_partitioning(name), partition_base_dir=str(root)) if files else None


def _column(root: Path, name: str, column: str) -> pa.Array:
    d = _dataset(root, name)
    if d is None:
        return pa.array([], pa.string())
    return d.to_table(columns=[column]).column(column).combine_chunks()


def _read(root: Path, name: str, article_ids: pa.Array) -> pa.Table:
    import pyarrow.dataset as ds

    d = _dataset(root, name)
    if d is None:
        return schemas.load(name).arrow().empty_table()
    return d.to_table(filter=ds.field("article_id").isin(article_ids))
