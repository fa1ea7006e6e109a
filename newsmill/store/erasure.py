"""Erasure: records taken out of an output for good (``newsmill forget``).

A person may ask to be forgotten: their comments, a comment, an article. Publishing never modifies a
file (versions share them), so erasure is the one operation that rewrites history, and it does so
the way publishing writes: never a file in place.

- **What is erased.** Comments whose ``comment_id``, ``author_id`` or ``article_id`` is named, and
  articles whose ``article_id`` is named (with all their comments). An author named by name is
  the keyed ``author_id`` of that name in every source of the output (``newsmill.ids``, the
  output's key), so rows whose name was pseudonymised are found too. The comments left on an
  article are numbered again (``position`` unique per article, current ones first) and the
  article's ``comment_count_extracted`` loses the current comments erased; a reply to an erased
  comment keeps its ``parent_comment_id`` (an id, no name) but its ``reply_to_name`` and the
  leading ``@name`` of its text become ``[author]``.
- **Where.** The current version, through a new version committed like a run's (manifest, card,
  croissant.json; the manifest gets an ``erasures`` entry with ids and counts, never a name); every
  other kept version, each rebuilt beside itself and swapped in with one atomic exchange of the two
  folders (readers see the version before or after, its checksums always match); the quarantine
  files (one atomic rename each); the raw WARCs live runs keep, without every record of a page that
  held an erased row (response, request, metadata: the page's WARC-Target-URI), one atomic rename each.
- **Names only** (``--mode drop``): the rows stay and lose their author's name as ``--authors drop``
  writes it (``author``/``author_id`` null, replies and '@' mentions of them ``[author]``), in the same
  places and in later runs.
- **Never back.** The ids are added, as keyed hashes (HMAC with the output's author key), to the
  suppression list ``_state/suppressed.json`` *before* anything is rewritten. Every later run
  leaves out rows the list names, before validation (so they are not quarantined either), and
  counts them (``suppressed``) in its summary. The list is also this operation's journal: every
  ``forget`` erases everything on the list from every place, so a forget that was killed is
  finished by running ``forget`` again (with or without ids), and running it twice changes nothing
  the second time.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import re
import shutil
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from newsmill import ids, schema as schemas
from newsmill.config import ConfigError
from newsmill.ids import key_fingerprint
from newsmill.runtime import failpoints
from newsmill.store import card, croissant, integrity, layout, manifest, partfile, versions
from newsmill.threads import thread_fields
from newsmill.store.lock import OutputLock
from newsmill.text import flatten_name
from newsmill.version import __version__

log = logging.getLogger(__name__)

FORMAT = "newsmill.suppressed/1"
KINDS = ("article_id", "comment_id", "author_id")  # what rows are erased by
NAMES = tuple(f"names:{k}" for k in KINDS)  # ``--mode drop``: the rows stay, their author's name goes
PAGE = "url"  # pages whose raw capture held an erased row: their records leave the raw WARCs
MODES = ("remove", "drop")
DROPPED = "[author]"  # what stands where an erased comment's author was named (as ``--authors drop`` writes)


class ErasureError(ConfigError):
    """A request that cannot be carried out (bad id file, remote output, another key): one line."""


# --- the request -----------------------------------------------------------------------------------


@dataclass
class Request:
    article_ids: set[str] = field(default_factory=set)
    comment_ids: set[str] = field(default_factory=set)
    author_ids: set[str] = field(default_factory=set)
    author_names: list[str] = field(default_factory=list)
    mode: str = "remove"  # or "drop": keep the rows, erase their author's name

    def __bool__(self) -> bool:
        return bool(self.article_ids or self.comment_ids or self.author_ids or self.author_names)

    def update(self, other: "Request") -> None:
        self.article_ids |= other.article_ids
        self.comment_ids |= other.comment_ids
        self.author_ids |= other.author_ids
        self.author_names += other.author_names


_FILE_KINDS = {"author": "author_names", "author_id": "author_ids", "comment_id": "comment_ids",
               "article_id": "article_ids"}


def read_request_file(path: Path) -> Request:
    """A file of ``kind: value`` lines (kinds: author, author_id, comment_id, article_id; ``#`` starts a
    comment line, blank lines are skipped). Any other line: :class:`ErasureError` naming it."""
    req = Request()
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ErasureError(f"cannot read {path}: {exc}") from None
    for n, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        kind, sep, value = line.partition(":")
        kind, value = kind.strip().lower().replace("-", "_"), value.strip()
        if not sep or kind not in _FILE_KINDS or not value:
            raise ErasureError(f"{path}:{n}: expected 'author: NAME', 'author_id: ID', 'comment_id: ID' or "
                               f"'article_id: ID', got {line[:60]!r}")
        attr = getattr(req, _FILE_KINDS[kind])
        attr.append(value) if isinstance(attr, list) else attr.add(value)
    return req


def author_ids_of(name: str, key: bytes, sources: set[str]) -> set[str]:
    """The ``author_id`` a commenter named ``name`` has in each of ``sources`` (ids are per source)."""
    ident = flatten_name(name)
    return {ids.author_pseudonym(key, s, ident) for s in sources} if ident else set()


# --- the suppression list ----------------------------------------------------------------------------


class Suppression:
    """Keyed hashes of erased ids, per kind (``_state/suppressed.json``): which rows no run publishes again.

    Keyed (HMAC with the output's author key) so the list names nobody to whoever reads ``_state``
    without the key; ids are looked up by hashing them the same way."""

    def __init__(self, key: bytes, entries: dict[str, set[str]] | None = None):
        self.key = key
        self.entries = {k: set((entries or {}).get(k, ())) for k in (*KINDS, *NAMES, PAGE)}

    @classmethod
    def load(cls, output_dir, key: bytes) -> "Suppression":
        p = layout.suppressed_file(output_dir)
        if not p.is_file():
            return cls(key)
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
            fp, entries = data["key_fingerprint"], data["entries"]
        except (ValueError, KeyError, TypeError) as exc:
            # never lose the list silently: the records it names would come back
            raise ErasureError(f"{p} is damaged ({type(exc).__name__}); restore it from a backup: it names the "
                               f"records erased from this output") from None
        if fp != key_fingerprint(key):
            raise ErasureError(f"{p} was made with another author key (fingerprint {fp}): use the output's key")
        return cls(key, {k: set(v) for k, v in entries.items()})

    def __bool__(self) -> bool:
        return any(self.entries[k] for k in (*KINDS, *NAMES))

    def digest(self, kind: str, value: str) -> str:
        return hmac.new(self.key, f"{kind}\x1f{value}".encode(), hashlib.sha256).hexdigest()[:32]

    def add(self, kind: str, values) -> int:
        new = {self.digest(kind, v) for v in values if v} - self.entries[kind]
        self.entries[kind] |= new
        return len(new)

    def has(self, kind: str, value: str | None) -> bool:
        return value is not None and self.digest(kind, value) in self.entries[kind]

    def mask(self, kind: str, column) -> np.ndarray:
        """Per value of ``column``: whether it is suppressed (nulls never are). One HMAC per distinct value."""
        n = len(column)
        if not self.entries[kind] or n == 0:
            return np.zeros(n, dtype=bool)
        col = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
        uniq = pc.drop_null(pc.unique(col))
        hit = [v for v in uniq.to_pylist() if self.digest(kind, v) in self.entries[kind]]
        if not hit:
            return np.zeros(n, dtype=bool)
        return pc.fill_null(pc.is_in(col, value_set=pa.array(hit, col.type)), False).to_numpy(zero_copy_only=False)

    def save(self, output_dir) -> None:
        """Atomically (temporary file, fsync, rename): a crash leaves the old list or the new one."""
        p = layout.suppressed_file(output_dir)
        p.parent.mkdir(parents=True, exist_ok=True)
        data = {"format": FORMAT, "key_fingerprint": key_fingerprint(self.key),
                "entries": {k: sorted(v) for k, v in self.entries.items()}}
        tmp = p.with_name(f".{p.name}.{uuid.uuid4().hex}")
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=1)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, p)
        versions.fsync_dir(p.parent)


# --- erasing rows ------------------------------------------------------------------------------------


@dataclass
class Erased:
    """What erasing did to some rows: ids removed, per table."""

    articles: set[str] = field(default_factory=set)
    comments: set[str] = field(default_factory=set)
    authors: set[str] = field(default_factory=set)
    urls: set[str] = field(default_factory=set)  # pages that held an erased row (for raw captures)
    touched: set[str] = field(default_factory=set)  # articles that lost a comment or a commenter's name
    unnamed: set[str] = field(default_factory=set)  # comments whose author's name was dropped (--mode drop)
    inputs: set[str] = field(default_factory=set)  # input_uri of the erased articles
    rows: dict[str, int] = field(default_factory=lambda: dict.fromkeys(schemas.TABLES, 0))

    def add(self, other: "Erased") -> None:
        self.articles |= other.articles
        self.comments |= other.comments
        self.authors |= other.authors
        self.urls |= other.urls
        self.touched |= other.touched
        self.unnamed |= other.unnamed
        self.inputs |= other.inputs
        for k, v in other.rows.items():
            self.rows[k] = self.rows.get(k, 0) + v


def comment_mask(t: pa.Table, sup: Suppression, kinds: tuple[str, ...] = KINDS) -> np.ndarray:
    m = np.zeros(t.num_rows, dtype=bool)
    for kind in kinds:
        col = kind.removeprefix("names:")
        if col in t.column_names:
            m |= sup.mask(kind, t.column(col))
    return m


def unname_mask(t: pa.Table, sup: Suppression) -> np.ndarray:
    """Rows whose author's name ``--mode drop`` erased and that still carry it."""
    m = comment_mask(t, sup, NAMES)
    if m.any():
        named = np.zeros(t.num_rows, dtype=bool)
        for col in ("author", "author_id"):
            if col in t.column_names:
                named |= pc.is_valid(t.column(col)).to_numpy(zero_copy_only=False)
        m &= named
    return m


def erase_comments(t: pa.Table, sup: Suppression) -> tuple[pa.Table, dict[str, int], Erased]:
    """``t`` (comment rows, stored or full schema) without the suppressed rows, the others of their
    articles numbered again; returns (rows kept, per article the current comments erased, what went)."""
    gone = Erased()
    mask = comment_mask(t, sup)
    if not mask.any():
        t, gone = _drop_names(t, sup)
        return t, {}, gone
    removed = t.filter(pa.array(mask))
    kept = t.filter(pa.array(~mask))
    gone.comments = set(removed.column("comment_id").to_pylist())
    gone.authors = {a for a in removed.column("author_id").to_pylist() if a}
    gone.rows["comments"] = removed.num_rows
    current = removed
    if "removed_at_source" in removed.column_names:
        current = removed.filter(pc.invert(pc.fill_null(removed.column("removed_at_source"), False)))
    delta: dict[str, int] = {}
    for a in current.column("article_id").to_pylist():
        delta[a] = delta.get(a, 0) + 1
    touched = set(removed.column("article_id").to_pylist())
    gone.touched = touched
    kept, unnamed = _drop_names(_rethread(_renumber(_unname_replies(kept, gone.comments), touched), touched), sup)
    gone.add(unnamed)
    return kept, delta, gone


def _drop_names(t: pa.Table, sup: Suppression) -> tuple[pa.Table, Erased]:
    """``--mode drop``: the rows stay, their author's name goes, as ``--authors drop`` writes it: ``author`` and
    ``author_id`` null; in the comments of the same articles, ``reply_to_name`` and '@name' mentions of them
    (as shown: a name, or 'user-<author_id>' when pseudonymised) become ``[author]``."""
    gone = Erased()
    m = unname_mask(t, sup)
    if not m.any():
        return t, gone
    idx = np.flatnonzero(m)
    authors, aids = t.column("author").to_pylist(), t.column("author_id").to_pylist()
    cids, arts = t.column("comment_id").to_pylist(), t.column("article_id").to_pylist()
    shown = {authors[i] for i in idx if authors[i] and authors[i] != DROPPED}
    shown |= {ids.author_label(aids[i]) for i in idx if aids[i]}
    gone.unnamed = {cids[i] for i in idx}
    gone.authors = {aids[i] for i in idx if aids[i]}
    gone.touched = {arts[i] for i in idx}
    gone.rows["comment names"] = len(idx)
    for i in idx:
        authors[i] = aids[i] = None
    mention = re.compile("@(" + "|".join(re.escape(n) for n in sorted(shown, key=len, reverse=True)) + r")(?!\w)") \
        if shown else None
    cols = {"author": authors, "author_id": aids}
    for col in ("reply_to_name", "text", "posted_raw"):
        if col not in t.column_names:
            continue
        vals = t.column(col).to_pylist()
        for i, v in enumerate(vals):
            if v is None or arts[i] not in gone.touched:
                continue
            if col == "reply_to_name":
                vals[i] = DROPPED if v in shown else v
            elif mention is not None:
                vals[i] = mention.sub("@" + DROPPED, v)
        cols[col] = vals
    for col, vals in cols.items():
        k = t.schema.get_field_index(col)
        t = t.set_column(k, t.schema.field(k), pa.array(vals, t.schema.field(k).type))
    return t, gone


def _renumber(t: pa.Table, articles: set[str]) -> pa.Table:
    """Positions of the comments of ``articles`` made 1..n again, in their order (current ones come first)."""
    if not articles or not t.num_rows:
        return t
    aid = t.column("article_id").to_pylist()
    pos = t.column("position").to_pylist()
    order = sorted((i for i, a in enumerate(aid) if a in articles), key=lambda i: (aid[i], pos[i] or 0, i))
    new, last, n = list(pos), None, 0
    for i in order:
        n = n + 1 if aid[i] == last else 1
        last = aid[i]
        new[i] = n
    idx = t.schema.get_field_index("position")
    return t.set_column(idx, t.schema.field(idx), pa.array(new, t.schema.field(idx).type))


THREAD_FIELDS = ("depth", "thread_root_id", "reply_count")


def _rethread(t: pa.Table, articles: set[str]) -> pa.Table:
    """Thread shape of the comments of ``articles`` derived again (``newsmill.threads``): an erased comment
    no longer counts as a reply or roots a thread. Tables written before those fields existed are left."""
    if not articles or not t.num_rows or not all(c in t.column_names for c in THREAD_FIELDS):
        return t
    rows = t.select(["article_id", "comment_id", "parent_comment_id", "removed_at_source", *THREAD_FIELDS]
                    if "removed_at_source" in t.column_names else
                    ["article_id", "comment_id", "parent_comment_id", *THREAD_FIELDS]).to_pylist()
    by_article: dict[str, list[dict]] = {}
    for r in rows:
        if r["article_id"] in articles:
            by_article.setdefault(r["article_id"], []).append(r)
    for group in by_article.values():
        thread_fields(group)
    for col in THREAD_FIELDS:
        idx = t.schema.get_field_index(col)
        t = t.set_column(idx, t.schema.field(idx), pa.array([r[col] for r in rows], t.schema.field(idx).type))
    return t


def _unname_replies(t: pa.Table, erased: set[str]) -> pa.Table:
    """A reply to an erased comment names its author (``reply_to_name``, '@Name' at the start of the
    text): both become ``[author]``."""
    if not erased or "reply_to_name" not in t.column_names or not t.num_rows:
        return t
    parent = t.column("parent_comment_id")
    hit = pc.fill_null(pc.is_in(parent, value_set=pa.array(sorted(erased), pa.string())), False)
    hit = pc.and_(hit, pc.is_valid(t.column("reply_to_name")))
    if not pc.any(hit).as_py():
        return t
    names, texts, mask = t.column("reply_to_name").to_pylist(), t.column("text").to_pylist(), hit.to_pylist()
    for i, m in enumerate(mask):
        if m:
            name = names[i]
            if texts[i] and texts[i].startswith("@" + name):
                texts[i] = "@" + DROPPED + texts[i][len(name) + 1:]
            names[i] = DROPPED
    for col, vals in (("reply_to_name", names), ("text", texts)):
        idx = t.schema.get_field_index(col)
        t = t.set_column(idx, t.schema.field(idx), pa.array(vals, t.schema.field(idx).type))
    return t


def erase_articles(t: pa.Table, sup: Suppression, delta: dict[str, int],
                   touched: set[str] = frozenset()) -> tuple[pa.Table, Erased]:
    """``t`` (article rows) without the suppressed articles, the others' ``comment_count_extracted`` less
    ``delta`` (their current comments erased)."""
    gone = Erased()
    mask = sup.mask("article_id", t.column("article_id"))
    if mask.any():
        removed = t.filter(pa.array(mask))
        gone.articles = set(removed.column("article_id").to_pylist())
        gone.urls = {u for u in removed.column("url").to_pylist() if u}
        gone.inputs = {u for u in removed.column("input_uri").to_pylist() if u}
        gone.rows["articles"] = removed.num_rows
        t = t.filter(pa.array(~mask))
    if touched and t.num_rows:
        gone.urls |= {u for a, u in zip(t.column("article_id").to_pylist(), t.column("url").to_pylist())
                      if a in touched and u}
    if delta and t.num_rows:
        aid = t.column("article_id").to_pylist()
        if any(a in delta for a in aid):
            gone.urls |= {u for a, u in zip(aid, t.column("url").to_pylist()) if a in delta and u}
            idx = t.schema.get_field_index("comment_count_extracted")
            counts = t.column(idx).to_pylist()
            counts = [None if c is None else max(0, c - delta.get(a, 0)) for a, c in zip(aid, counts)]
            t = t.set_column(idx, t.schema.field(idx), pa.array(counts, t.schema.field(idx).type))
    return t, gone


def erase_tables(tables: dict[str, pa.Table], sup: Suppression) -> tuple[dict[str, pa.Table], Erased]:
    """Both tables of one batch (a run's chunk, a quarantine file pair) without what ``sup`` names."""
    out, gone = dict(tables), Erased()
    delta: dict[str, int] = {}
    if "comments" in tables:
        out["comments"], delta, g = erase_comments(tables["comments"], sup)
        gone.add(g)
    if "articles" in tables:
        out["articles"], g = erase_articles(tables["articles"], sup, delta, gone.touched)
        gone.add(g)
    return out, gone


# --- versions ------------------------------------------------------------------------------------------


class _Rewriter:
    """Part files of versions rewritten without the suppressed rows. Versions share files: a file
    met again (same SHA-256, same counts to apply) is rewritten once and linked after that."""

    def __init__(self, sup: Suppression):
        self.sup = sup
        self.done: dict[tuple, tuple[Path, dict, dict, Erased]] = {}

    def moved(self, old: Path, new: Path) -> None:
        """Files written under ``old`` now live under ``new`` (a build committed or swapped in)."""
        for k, (made, entry, d, g) in list(self.done.items()):
            if made is not None and made.is_relative_to(old):
                self.done[k] = (new / made.relative_to(old), entry, d, g)

    def version(self, src: Path, dst: Path, m: dict) -> tuple[dict[str, dict], Erased]:
        """Every table of version ``src`` (manifest ``m``) into folder ``dst``: files without suppressed
        rows hard-linked, the others written anew. Returns (table -> its files), what went."""
        gone, files = Erased(), {}
        delta: dict[str, int] = {}
        order = [n for n in ("comments", "articles") if n in m["tables"]] + \
            [n for n in m["tables"] if n not in ("comments", "articles")]
        for name in order:
            files[name] = []
            for e in m["tables"][name]["files"]:
                entry, d, g = self._file(name, src / name, dst / name, e, delta)
                files[name].append(entry)
                for a, k in d.items():
                    delta[a] = delta.get(a, 0) + k
                gone.add(g)
        return files, gone

    def _file(self, name: str, src_root: Path, dst_root: Path, e: dict, delta: dict[str, int]):
        src = layout.stored_part(src_root, e["path"])  # `.pq` in a kept version, `.parquet` in the current
        rel_dir = Path(e["path"]).parent.as_posix()
        pf = pq.ParquetFile(src)
        cols = [c for c in ("article_id", "comment_id", "author_id", "author") if c in pf.schema_arrow.names]
        probe = pf.read(columns=cols)
        if name == "articles":
            relevant = {a: delta[a] for a in probe.column("article_id").to_pylist() if a in delta}
            hit = bool(relevant) or self.sup.mask("article_id", probe.column("article_id")).any()
        else:
            relevant = {}
            hit = (comment_mask(probe, self.sup).any() or unname_mask(probe, self.sup).any()) \
                if name == "comments" else False
        if not hit:
            _link(src, dst_root / layout.as_kept(e["path"]))  # a folder being built: named when it becomes current
            return dict(e), {}, Erased()
        key = (name, e["sha256"], tuple(sorted(relevant.items())))
        if key in self.done:
            made, entry, d, g = self.done[key]
            if entry is not None:  # made in a build that may have become current since: either name
                made = made if os.path.lexists(made) else made.with_name(layout.as_current(made.name))
                _link(made, dst_root / layout.as_kept(entry["path"]))
            return entry, d, g
        t = pf.read()
        if name == "comments":
            t, d, g = erase_comments(t, self.sup)
        else:
            t, g = erase_articles(t, self.sup, relevant)
            d = {}
        entry = None
        if t.num_rows:
            w = partfile._PartWriter(dst_root / rel_dir, rel_dir, pf.schema_arrow)
            try:
                w.write(t)
                entry = w.close()
            except BaseException:
                w.abort()
                raise
        self.done[key] = (dst_root / layout.as_kept(entry["path"]) if entry else None, entry, d, g)
        return entry, d, g


def _link(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    versions.link_or_copy(src, dst)


def _tables_with(m: dict, files: dict[str, list[dict]]) -> dict:
    tables = {}
    for name, t in m["tables"].items():
        fs = sorted((f for f in files[name] if f is not None), key=lambda f: f["path"])
        tables[name] = {**t, "files": fs, "rows": sum(f["rows"] for f in fs)}
    return tables


def _audit(gone: Erased, request_id: str, when: str, where: str) -> dict:
    """The manifest's record of an erasure: ids and counts, never a name."""
    entry = {"erasure_id": request_id, "at": when, "where": where,
             "article_ids": sorted(gone.articles), "comment_ids": sorted(gone.comments),
             "author_ids": sorted(gone.authors), "rows": {k: n for k, n in gone.rows.items() if n}}
    if gone.unnamed:
        entry["unnamed_comment_ids"] = sorted(gone.unnamed)  # --mode drop: the rows stay, the names went
    return entry


def _erase_current(store: versions.Store, rw: _Rewriter, run_id: str, when: str) -> tuple[Path | None, Erased]:
    """A new version: the current one without the suppressed rows (None when it holds none)."""
    cur = store.current()
    if cur is None:
        return None, Erased()
    prev = manifest.read(cur)
    build = store.begin(run_id, versions.next_seq(prev, cur))
    try:
        files, gone = rw.version(cur, build.path, prev)
        if not any(gone.rows.values()):
            store.abort(build)
            return None, gone
        tables = {}
        for name, t in _tables_with(prev, files).items():
            removed = gone.rows.get(name, 0)
            tables[name] = {"schema_hash": t["schema_hash"], "schema_version": t["schema_version"],
                            "files": t["files"],
                            "stats": {"table": name, "rows_in": 0, "inserted": 0, "updated": 0, "unchanged": 0,
                                      "deleted": removed, "partitions_written": 0, "partitions_unchanged": 0}}
            if name == "comments":
                tables[name]["stats"]["updated"] = gone.rows.get("comment names", 0)
        audit = _audit(gone, run_id, when, "current")
        m = manifest.make(version=build.seq, version_dir=build.name, previous=prev, run_id=run_id,
                          pipeline_version=__version__, tables=tables, run_info={"erasure": audit},
                          pseudonymisation=prev.get("pseudonymisation") or card.DEFAULT_PSEUDONYMISATION)
        m["erasures"] = [*prev.get("erasures", []), audit]
        _write_meta(build.path, m)
        failpoints.hit("forget_built")
        final = store.commit(build)
        rw.moved(build.path, final)
    except BaseException:
        store.abort(build)
        raise
    return final, gone


def _erase_kept(store: versions.Store, vdir: Path, rw: _Rewriter, run_id: str, when: str) -> Erased:
    """Kept version ``vdir`` without the suppressed rows: rebuilt beside it, then the two folders exchanged."""
    m = manifest.read(vdir)
    if m is None:
        return Erased()
    store.building.mkdir(parents=True, exist_ok=True)
    tmp = store.building / f"forget-{uuid.uuid4().hex[:8]}-{vdir.name}"[:240]
    tmp.mkdir()
    try:
        files, gone = rw.version(vdir, tmp, m)
        if not any(gone.rows.values()):
            versions._remove(tmp)
            return gone
        new = dict(m)
        new["tables"] = _tables_with(m, files)
        new["row_counts"] = {n: t["rows"] for n, t in new["tables"].items()}
        new["erasures"] = [*m.get("erasures", []), _audit(gone, run_id, when, "kept")]
        _copy_other(vdir, tmp, m)
        _write_meta(tmp, new)
        versions._fsync_tree(tmp)
        failpoints.hit("forget_kept_built")
        _swap(tmp, vdir, store)
        rw.moved(tmp, vdir)
        failpoints.hit("forget_kept_swapped")
    finally:
        versions._remove(tmp)
    return gone


def _copy_other(src: Path, dst: Path, m: dict) -> None:
    """Anything else a version folder holds besides its tables and generated files (kept as it is)."""
    skip = {*m["tables"], manifest.NAME, layout.CARD, layout.CROISSANT}
    for p in src.iterdir():
        if p.name not in skip:
            if p.is_dir() and not p.is_symlink():
                shutil.copytree(p, dst / p.name, copy_function=os.link, symlinks=True)
            else:
                versions.link_or_copy(p, dst / p.name)


def _write_meta(folder: Path, m: dict) -> None:
    """A version's manifest, card and croissant.json (new, read-only files), checksums from ``m``."""
    from newsmill.store.publish import _languages

    versions.write_new(folder / manifest.NAME, manifest.dumps(m))
    versions.write_new(folder / layout.CARD, card.render(m, _languages(folder, m)).encode())
    versions.write_new(folder / layout.CROISSANT, croissant.render(m))


def _swap(new: Path, old: Path, store: versions.Store) -> None:
    """``old``'s name now holds ``new``'s folder, in one step where the system can exchange two names."""
    if versions._exchange(new, old):
        versions.fsync_dir(old.parent)
        versions.fsync_dir(new.parent)
        return
    trash = store.building / f"trash-{uuid.uuid4().hex[:8]}"
    os.rename(old, trash)
    os.rename(new, old)
    versions.fsync_dir(old.parent)
    new.mkdir()  # removed by the caller (as after an exchange)
    versions._remove(trash)


# --- quarantine and raw captures ---------------------------------------------------------------------------


def _erase_quarantine(out: Path, sup: Suppression, run_id: str) -> Erased:
    gone = Erased()
    files = layout.quarantine_files(out)
    by_run: dict[str, dict[str, Path]] = {}
    for table, rid, p in files:
        by_run.setdefault(rid, {})[table] = p
    for rid, paths in sorted(by_run.items()):
        tables = {n: pq.ParquetFile(p).read() for n, p in paths.items() if n in schemas.TABLES}
        new, g = erase_tables(tables, sup)
        gone.add(g)
        for n, t in new.items():
            if t.num_rows != tables[n].num_rows or not t.equals(tables[n]):
                _replace_parquet(paths[n], t, out, run_id)
    for table, rid, p in files:
        if table != "rejects" or not sup.entries[PAGE]:
            continue
        t = pq.ParquetFile(p).read()
        hit = pa.array(sup.mask(PAGE, t.column("input_uri")))
        if pc.any(hit).as_py():
            gone.rows["rejects"] = gone.rows.get("rejects", 0) + pc.sum(hit.cast(pa.int64())).as_py()
            _replace_parquet(p, t.filter(pc.invert(hit)), out, run_id)
    return gone


def _replace_parquet(path: Path, t: pa.Table, out: Path, run_id: str) -> None:
    """A quarantine file replaced atomically (temporary file outside the readers' globs, fsync, rename);
    no rows left: the file goes."""
    if t.num_rows == 0:
        path.unlink()
        versions.fsync_dir(path.parent)
        failpoints.hit("forget_quarantine")
        return
    staging = layout.side_staging(out, run_id)
    staging.mkdir(parents=True, exist_ok=True)
    tmp = staging / f"{uuid.uuid4().hex}.parquet"
    with open(tmp, "wb") as fh:
        pq.write_table(t, fh, compression="zstd")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    versions.fsync_dir(path.parent)
    failpoints.hit("forget_quarantine")


def _erase_raw(out: Path, urls, run_id: str, files: list[Path] | None = None) -> dict[str, int]:
    """Raw WARCs without every record of the pages in ``urls`` (by WARC-Target-URI): the capture of a page
    cannot be cleaned of one comment reliably (markup, scripts, JSON), so the page's capture goes whole.
    Returns records removed per file."""
    from warcio.archiveiterator import ArchiveIterator
    from warcio.warcwriter import WARCWriter

    removed = {}
    if not (urls.entries[PAGE] if isinstance(urls, Suppression) else urls):
        return removed
    for p in layout.raw_files(out) if files is None else [f for f in files if f.is_file()]:
        drop = 0
        staging = layout.side_staging(out, run_id)
        staging.mkdir(parents=True, exist_ok=True)
        tmp = staging / f"{uuid.uuid4().hex}.warc.gz"
        with open(p, "rb") as src, open(tmp, "wb") as dst:
            writer = WARCWriter(dst, gzip=True)
            for rec in ArchiveIterator(src, no_record_parse=False, arc2warc=False, ensure_http_headers=False):
                if _page_hit(rec.rec_headers.get_header("WARC-Target-URI"), urls):
                    drop += 1
                    continue
                writer.write_record(rec)
            dst.flush()
            os.fsync(dst.fileno())
        if drop:
            os.replace(tmp, p)
            versions.fsync_dir(p.parent)
            failpoints.hit("forget_raw")
            removed[p.name] = drop
        else:
            tmp.unlink()
    return removed


def _page_hit(uri: str | None, urls) -> bool:
    """``urls``: a set of addresses, or the suppression list (its keyed page hashes)."""
    if uri is None:
        return False
    return urls.has(PAGE, uri) if isinstance(urls, Suppression) else uri in urls


def scrub_raw(out: Path, urls: set[str], run_id: str) -> dict[str, int]:
    """For a run that left out suppressed rows: its raw capture without their pages."""
    try:
        return _erase_raw(Path(out), urls, run_id, [Path(out) / layout.raw_rel(run_id)])
    finally:
        _clean_staging(out, run_id)


def _clean_staging(out: Path, run_id: str) -> None:
    staging = layout.side_staging(out, run_id)
    shutil.rmtree(staging, ignore_errors=True)
    try:
        staging.parent.rmdir()  # only if no other run is staging
    except OSError:
        pass


# --- the operation -------------------------------------------------------------------------------------------


@dataclass
class Result:
    run_id: str
    new_version: str | None
    current: dict[str, int]
    kept: dict[str, dict[str, int]]  # version -> rows per table
    quarantine: dict[str, int]
    raw: dict[str, int]  # file -> records
    added: int  # ids newly put on the suppression list
    dry_run: bool = False

    def as_dict(self) -> dict:
        return self.__dict__.copy()


def resolve(out: Path, req: Request, key: bytes) -> dict[str, set[str]]:
    """The ids of ``req``, names turned into the author_id they have in each source of the output."""
    found = {"article_id": set(req.article_ids), "comment_id": set(req.comment_ids),
             "author_id": set(req.author_ids)}
    if req.author_names:
        srcs = sources(out)
        for name in req.author_names:
            found["author_id"] |= author_ids_of(name, key, srcs)
    if req.mode not in MODES:
        raise ErasureError(f"unknown mode {req.mode!r} (one of {', '.join(MODES)})")
    return found if req.mode == "remove" else {f"names:{k}": v for k, v in found.items()}


def sources(out: Path) -> set[str]:
    """Every ``source`` value the output's kept versions and quarantine files hold."""
    import pyarrow.dataset as ds

    from newsmill.store import reading

    found: set[str] = set()
    store = versions.Store(out)
    for v in (sorted(store.versions.iterdir()) if store.versions.is_dir() else []):
        for name in schemas.TABLES:
            files = [str(f) for f in reading._data_files(v / name)]
            if files:
                d = ds.dataset(files, format="parquet", partition_base_dir=str(v / name),
                               partitioning=reading.folder_partitioning(
                                   name, reading.folder_columns(str(v / name), files[0])))
                found |= set(pc.unique(d.to_table(columns=["source"]).column("source")).to_pylist())
    for table, _, p in layout.quarantine_files(out):
        if table in schemas.TABLES:
            t = pq.ParquetFile(p).read(columns=["source"])
            found |= set(pc.unique(t.column("source")).to_pylist())
    found.discard(None)
    return found


def forget(output_dir, req: Request, *, key: bytes, run_id: str, keep_versions: int, keep_days: float = 0.0,
           dry_run: bool = False, lock_timeout: float | None = None) -> Result:
    """Erase what ``req`` names (and whatever the suppression list already names) from every place of the
    output (see the module docstring). ``dry_run``: count only, change nothing."""
    out = Path(output_dir)
    when = datetime.now(timezone.utc).isoformat(timespec="seconds")
    with OutputLock(out, run_id, timeout=lock_timeout):
        failpoints.hit("forget_locked")
        store = versions.Store(out)
        store.discard_incomplete()
        store.settle()  # part files named by role (`.pq` outside the current version), as a publish starts
        if store.current() is not None:
            integrity.ensure_sound_locked(store, run_id, rebuild=False, hashes=False)
            store.collect_garbage(keep_versions, keep_days)  # complete versions a killed run never made current
        sup = Suppression.load(out, key)
        added = 0
        for kind, values in resolve(out, req, key).items():
            added += sup.add(kind, values)
        # the pages that hold a row to erase, found before anything changes: once their rows are gone
        # nothing else says which raw records to drop (a forget killed in between is finished from the list)
        plan, urls = _count(out, store, sup, run_id, added)
        added += sup.add(PAGE, urls)
        if dry_run:
            plan.added = added
            return plan
        if added:
            sup.save(out)  # first: from now on no run publishes these rows again, and a re-run finishes
            failpoints.hit("forget_suppressed")
        rw = _Rewriter(sup)
        final, gone = _erase_current(store, rw, run_id, when)
        kept = {}
        if final is not None:
            store.collect_garbage(keep_versions, keep_days)
        cur = store.current()
        for v in (sorted(store.versions.iterdir()) if store.versions.is_dir() else []):
            if cur is not None and v.name == cur.name:
                continue
            g = _erase_kept(store, v, rw, run_id, when)
            if any(g.rows.values()):
                kept[v.name] = {k: n for k, n in g.rows.items() if n}
        q = _erase_quarantine(out, sup, run_id)
        try:
            raw = _erase_raw(out, sup, run_id)
        finally:
            _clean_staging(out, run_id)
        failpoints.hit("forget_done")
    return Result(run_id, final.name if final else None, {k: n for k, n in gone.rows.items() if n}, kept,
                  {k: n for k, n in q.rows.items() if n}, raw, added)


_SLIM = {"comments": ("comment_id", "article_id", "author_id", "author", "position", "removed_at_source"),
         "articles": ("article_id", "url", "input_uri", "comment_count_extracted")}


def _slim(path: Path, name: str) -> pa.Table:
    """The columns that say what erasing would touch (what :func:`_count` reads: not the texts)."""
    pf = pq.ParquetFile(path)
    return pf.read(columns=[c for c in _SLIM.get(name, ()) if c in pf.schema_arrow.names])


def _count(out: Path, store: versions.Store, sup: Suppression, run_id: str, added: int) -> tuple[Result, set[str]]:
    """What :func:`forget` would remove (rows per table and place), and the pages that hold those rows,
    without writing anything."""
    cur = store.current()
    current, kept, touched, where, inputs = {}, {}, set(), {}, set()
    seen: dict[tuple[str, str], pa.Table] = {}  # versions share files: each read once
    for v in (sorted(store.versions.iterdir()) if store.versions.is_dir() else []):
        m = manifest.read(v)
        if m is None:
            continue
        tables = {}
        for name in schemas.TABLES:
            parts = []
            for f in m["tables"].get(name, {}).get("files", []):
                if (name, f["sha256"]) not in seen:
                    seen[(name, f["sha256"])] = _slim(layout.stored_part(v / name, f["path"]), name)
                parts.append(seen[(name, f["sha256"])])
            if parts:
                tables[name] = pa.concat_tables(parts)
        _, g = erase_tables(tables, sup)
        touched |= g.touched | g.articles
        inputs |= g.inputs
        if "articles" in tables:
            where.update(zip(tables["articles"].column("article_id").to_pylist(),
                             tables["articles"].column("url").to_pylist()))
        rows = {k: n for k, n in g.rows.items() if n}
        if cur is not None and v.name == cur.name:
            current = rows  # erased into a new version, then rewritten in place like every kept one
        if rows:
            kept[v.name] = rows
    q = Erased()
    by_run: dict[str, dict[str, Path]] = {}
    for table, rid, p in layout.quarantine_files(out):
        if table in schemas.TABLES:
            by_run.setdefault(rid, {})[table] = p
    for paths in by_run.values():
        tables = {n: _slim(p, n) for n, p in paths.items()}
        _, g = erase_tables(tables, sup)
        q.add(g)
        touched |= g.touched | g.articles
        if "articles" in tables:
            where.update(zip(tables["articles"].column("article_id").to_pylist(),
                             tables["articles"].column("url").to_pylist()))
    urls = {where[a] for a in touched if where.get(a)} | inputs | q.inputs
    raw = {}
    from warcio.archiveiterator import ArchiveIterator

    for p in layout.raw_files(out):
        with open(p, "rb") as fh:
            n = sum(1 for r in ArchiveIterator(fh)
                    if _page_hit(r.rec_headers.get_header("WARC-Target-URI"), urls)
                    or _page_hit(r.rec_headers.get_header("WARC-Target-URI"), sup))
        if n:
            raw[p.name] = n
    if sup.entries[PAGE]:
        for table, _, p in layout.quarantine_files(out):
            if table == "rejects":
                n = int(sup.mask(PAGE, pq.ParquetFile(p).read(columns=["input_uri"]).column("input_uri")).sum())
                q.rows["rejects"] = q.rows.get("rejects", 0) + n
    return (Result(run_id, None, current, kept, {k: n for k, n in q.rows.items() if n}, raw, added, dry_run=True),
            urls)


def pending(output_dir) -> bool:
    """Whether a suppression list exists (a later run filters by it)."""
    return layout.suppressed_file(output_dir).is_file()


__all__ = ["Request", "Result", "Suppression", "ErasureError", "forget", "read_request_file", "erase_tables",
           "scrub_raw"]
