"""A range of one partition of a new version: upsert its runs into its old files, streaming, into
content-named files.

A year partition holds several part files, contiguous ranges of the part-file order
(``newsmill.store.compaction`` decides which files a run rewrites). The old files of a range, read one
after the other, and every run (``newsmill.store.sorted_runs``) are sorted the same way, so the
new file is a k-way merge: its order is computed on the sort columns alone, then
each source is read front to back a record batch at a time and the rows are
written in row groups of about ``ROW_GROUP_BYTES``. Deciding whether a new row
changes anything compares it with the old row of the same key, fetched by
position: the old file one row group at a time, the runs a record batch at a time.
Memory: the keys of the partition, a row group, a record batch per source.

Upsert semantics (``newsmill.store.upsert``): a row whose content is equal but for
``upsert.VOLATILE`` keeps its old version; an old row whose key comes again
changed is replaced; an unchanged partition is reported as such (and carried
over by the caller, as a hard link).
"""
from __future__ import annotations

import hashlib
import os
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from newsmill import schema as schemas
from newsmill.runtime import failpoints
from newsmill.store import layout, upsert
from newsmill.store.checks import check_compatible
from newsmill.store.sorted_runs import Run, sort_columns

COMPRESSION = "zstd"
ROW_GROUP_BYTES = 16 << 20  # of content (text bytes, 8 per value otherwise): bounds a writer's buffer
TARGET_FILE_BYTES = 128 << 20  # of content: the size part files are cut at (``[output] target_file_bytes``)
CONTENT_KEY = b"newsmill.content_bytes"  # a part file's content bytes, in its key-value metadata
SLICE_ROWS = 2048  # rows gathered from the sources at a time
OLD_BATCH_ROWS = 2048  # rows read from the old file at a time, when streaming it


@dataclass
class Built:
    """What became of one partition: ``kind`` is 'carried' (no new row), 'unchanged' (new rows all equal
    to the old ones), 'written' or 'gone' (its last rows moved to other partitions). ``migrated``: a
    carried or unchanged range rewritten only to bring its files to the current schema or layout.
    ``entries``: the new files, if any was written (else the caller carries the old files over)."""

    kind: str
    entries: list[dict] | None = None
    migrated: bool = False
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0


def build(s: schemas.TableSchema, old: "OldFile | None", outdated: bool, runs: list[Run], known: list[np.ndarray],
          moved_out: np.ndarray | None, folder: Path, rel_dir: str, *, target: int = TARGET_FILE_BYTES,
          expected: int = 0) -> Built:
    """Upsert ``runs`` (``known``: per run row, whether its key exists anywhere in the dataset) into the
    range whose current files are ``old``; ``moved_out``: old rows whose key now lives in another
    file. Writes new files when anything changed (or ``outdated``: an old schema or layout); otherwise
    the caller carries the old files over. ``expected``: the range's content bytes, estimated; past
    2 x ``target`` the rows are cut into files of about the same size, each about ``target``."""
    out = Built("carried")
    if runs or moved_out is not None:
        same, old_keys = compare(s, old, runs)
        n = sum(r.rows for r in runs)
        out.inserted = int(sum((~k).sum() for k in known))
        out.unchanged = int(sum(sm.sum() for sm in same))
        out.updated = n - out.inserted - out.unchanged
        if moved_out is None and out.unchanged == n:
            out.kind = "unchanged"
        else:
            keep = [~sm for sm in same]
            old_keep = None
            if old is not None:
                old_keep = np.ones(old.rows, dtype=bool) if moved_out is None else ~moved_out
                changed = [upsert.key(r.order.filter(pa.array(k)), s.primary_key) for r, k in zip(runs, keep)]
                if changed and old_keys is not None:
                    replaced = pc.is_in(old_keys, value_set=pa.concat_arrays(changed)).to_numpy(zero_copy_only=False)
                    old_keep &= ~replaced
            out.entries = write(s, old, old_keep, runs, keep, folder, rel_dir, target=target, expected=expected)
            out.kind = "written" if out.entries else "gone"
            return out
    if outdated and old is not None:
        out.entries = write(s, old, None, [], [], folder, rel_dir, target=target, expected=expected)
        out.migrated = True
    return out


class OldFile:
    """The current part files of a range, read one after the other as the current stored schema (new
    nullable columns null). ``parts``: (path, values) in part-file order; ``values`` are columns a file
    of an older layout keeps in its folder name (``source=...``), given to each of its rows."""

    def __init__(self, parts: list[tuple[Path, dict]], s: schemas.TableSchema):
        self.parts, self.s = parts, s
        self.schemas, sizes, self._groups = [], [], []
        for k, (p, values) in enumerate(parts):  # footers only: a migrating year may have thousands of files
            md = pq.read_metadata(p)
            schema = md.schema.to_arrow_schema()
            check_compatible(schema, s, p, in_path=tuple(values))
            self.schemas.append(schema)
            sizes += [md.row_group(i).num_rows for i in range(md.num_row_groups)]
            self._groups += [(k, i) for i in range(md.num_row_groups)]
        self.rows = int(sum(sizes))
        self.group_starts = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)

    @property
    def path(self) -> Path:
        return self.parts[0][0]

    def _open(self, k: int) -> pq.ParquetFile:
        return pq.ParquetFile(self.parts[k][0])  # opened on use, one file at a time

    def _read(self, k: int, t: pa.Table, names: list[str] | None = None) -> pa.Table:
        return _stored(t, self.s, names, self.parts[k][1])

    def columns(self, names: list[str]) -> pa.Table:
        parts = []
        for k in range(len(self.parts)):
            with self._open(k) as pf:
                parts.append(self._read(k, pf.read(columns=[n for n in names if n in self.schemas[k].names]), names))
        return pa.concat_tables(parts) if parts else _stored(pa.table({}), self.s, names)

    def batches(self):
        for k in range(len(self.parts)):
            with self._open(k) as pf:
                for b in pf.iter_batches(batch_size=OLD_BATCH_ROWS):
                    yield self._read(k, pa.Table.from_batches([b]))

    def row_group(self, i: int) -> pa.Table:
        k, g = self._groups[i]
        with self._open(k) as pf:
            return self._read(k, pf.read_row_group(g))

    def read_all(self) -> pa.Table:
        out = []
        for k in range(len(self.parts)):
            with self._open(k) as pf:
                out.append(self._read(k, pf.read()))
        return pa.concat_tables(out)


def _stored(t: pa.Table, s: schemas.TableSchema, names: list[str] | None = None,
            values: dict | None = None) -> pa.Table:
    """Columns cast to the stored schema (also renames Parquet's list 'element' children to 'item');
    ``values``: a constant for a column the file keeps in its folder name."""
    stored = s.stored_arrow()
    fields = [stored.field(n) for n in (names or stored.names)]
    arrays = []
    for f in fields:
        if f.name in t.column_names:
            arrays.append(t.column(f.name).cast(f.type))
        elif values and f.name in values:
            arrays.append(pa.array([values[f.name]] * t.num_rows, pa.string()).cast(f.type))
        else:
            arrays.append(pa.nulls(t.num_rows, f.type))
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))


def compare(s: schemas.TableSchema, old: OldFile | None, runs: list[Run]) -> tuple[list[np.ndarray], pa.Array | None]:
    """Per run, which rows are unchanged (same key and content as an old row); and the old file's keys."""
    same = [np.zeros(r.rows, dtype=bool) for r in runs]
    if old is None:
        return same, None
    old_keys = upsert.key(old.columns(list(s.primary_key)), s.primary_key)
    if not old.rows:
        return same, old_keys
    pairs = []  # (old position, run, run position)
    for j, r in enumerate(runs):
        idx = pc.index_in(upsert.key(r.order, s.primary_key), value_set=old_keys)
        hit = np.flatnonzero(idx.is_valid().to_numpy(zero_copy_only=False))
        if len(hit):
            pos = idx.filter(idx.is_valid()).to_numpy()
            pairs.append(np.stack([pos, np.full(len(hit), j), hit], axis=1))
    if not pairs:
        return same, old_keys
    p = np.concatenate(pairs)
    p = p[np.argsort(p[:, 0], kind="stable")]
    compared = [c for c in s.stored_arrow().names if c not in upsert.VOLATILE]
    readers = [r.reader() for r in runs]
    group = np.searchsorted(old.group_starts, p[:, 0], side="right") - 1
    for g in np.unique(group):
        sel = p[group == g]
        old_rows = old.row_group(int(g)).take(pa.array(sel[:, 0] - old.group_starts[g], pa.int64())).select(compared)
        new_parts, where = [], []
        for j in np.unique(sel[:, 1]):
            mask = sel[:, 1] == j
            new_parts.append(readers[j].take(sel[mask, 2]).select(compared))
            where.append(np.flatnonzero(mask))
        order = np.argsort(np.concatenate(where), kind="stable")
        new_rows = pa.concat_tables(new_parts).take(pa.array(order, pa.int64()))
        eq = upsert.rows_equal(old_rows, new_rows).to_numpy(zero_copy_only=False)
        for (_, j, pos), e in zip(sel, eq):
            same[j][pos] = e
    for rd in readers:
        rd.close()
    return same, old_keys


def write(s: schemas.TableSchema, old: OldFile | None, old_keep: np.ndarray | None, runs: list[Run],
          run_keep: list[np.ndarray], folder: Path, rel_dir: str, *, target: int = TARGET_FILE_BYTES,
          expected: int = 0) -> list[dict]:
    """The range's new files from the old rows kept and the runs' rows kept, in part-file order
    (several when ``expected`` is past 2 x ``target``); none when no row is left."""
    cols = sort_columns(s)
    keys, src, pos = [], [], []
    if old is not None:
        o = old.columns(cols)
        k = np.flatnonzero(old_keep) if old_keep is not None else np.arange(old.rows)
        keys.append(o.take(pa.array(k, pa.int64())))
        src.append(np.zeros(len(k), dtype=np.int32))
        pos.append(k)
    for j, (r, keep) in enumerate(zip(runs, run_keep)):
        k = np.flatnonzero(keep)
        keys.append(r.order.take(pa.array(k, pa.int64())))
        src.append(np.full(len(k), j + 1, dtype=np.int32))
        pos.append(k)
    total = sum(len(k) for k in pos)
    if total == 0:
        return []
    order_table = pa.concat_tables([t.cast(keys[0].schema) for t in keys]).append_column(
        "_i", pa.array(np.arange(total), pa.int64()))
    order = order_table.sort_by([*[(c, "ascending") for c in cols]]).column("_i").to_numpy()
    del order_table, keys
    src_all, pos_all = np.concatenate(src)[order], np.concatenate(pos)[order]
    sources = []
    if old is not None:
        in_order = np.all(np.diff(pos_all[src_all == 0]) > 0)
        sources.append(_Cursor(old.batches(), old_keep) if in_order else _Fallback(old, pos_all[src_all == 0]))
    else:
        sources.append(None)
    sources += [_Cursor(r.batches(), keep) for r, keep in zip(runs, run_keep)]
    out = _CutWriter(folder, rel_dir, s.stored_arrow(), target, expected)
    try:
        for a in range(0, total, SLICE_ROWS):
            sl = src_all[a:a + SLICE_ROWS]
            counts = np.bincount(sl, minlength=len(sources))
            parts, offsets, off = [], np.zeros(len(sources), dtype=np.int64), 0
            for j, c in enumerate(counts):
                offsets[j] = off
                if c:
                    parts.append(sources[j].take(int(c)))
                    off += c
            rank = np.empty(len(sl), dtype=np.int64)  # position of each output row within its source's part
            for j in np.flatnonzero(counts):
                m = sl == j
                rank[m] = np.arange(counts[j])
            out.write(pa.concat_tables(parts).take(pa.array(offsets[sl] + rank, pa.int64())))
        return out.close()
    except BaseException:
        out.abort()
        raise


class _Cursor:
    """The next rows of a sorted source that are kept, read front to back."""

    def __init__(self, batches, keep: np.ndarray | None):
        self._it, self._keep, self._at = batches, keep, 0
        self._buf: list[pa.Table] = []
        self._n = 0

    def take(self, n: int) -> pa.Table:
        while self._n < n:
            b = next(self._it)
            t = b if isinstance(b, pa.Table) else pa.Table.from_batches([b])
            if self._keep is not None:
                t = t.filter(pa.array(self._keep[self._at:self._at + t.num_rows]))
                self._at += b.num_rows
            self._buf.append(t)
            self._n += t.num_rows
        t = pa.concat_tables(self._buf) if len(self._buf) > 1 else self._buf[0]
        head, rest = t.slice(0, n), t.slice(n)
        self._buf, self._n = ([rest] if rest.num_rows else []), rest.num_rows
        return head


class _Fallback:
    """Old files that are not in part-file order (written by something else): their kept rows, read whole."""

    def __init__(self, old: OldFile, positions: np.ndarray):
        self._rows = old.read_all().take(pa.array(positions, pa.int64()))
        self._at = 0

    def take(self, n: int) -> pa.Table:
        t = self._rows.slice(self._at, n)
        self._at += n
        return t


class _CutWriter:
    """Rows in part-file order into one part file, or, when ``expected`` content bytes are past 2 x
    ``target``, into files of about ``expected / ceil(expected / target)`` each, cut between rows."""

    def __init__(self, folder: Path, rel_dir: str, schema: pa.Schema, target: int, expected: int):
        self.folder, self.rel_dir, self.schema = folder, rel_dir, schema
        self.pieces = -(-expected // target) if expected > 2 * target else 1
        self.cut = expected / self.pieces if self.pieces > 1 else None
        self.entries: list[dict] = []
        self._w: _PartWriter | None = None

    def write(self, t: pa.Table) -> None:
        while t.num_rows:
            if self._w is None:
                self._w = _PartWriter(self.folder, self.rel_dir, self.schema)
            if self.cut is None or len(self.entries) == self.pieces - 1:  # the last piece takes the rest
                self._w.write(t)
                return
            room = self.cut - self._w.content
            sizes = np.cumsum(row_bytes(t))
            n = int(np.searchsorted(sizes, room, side="left")) + 1  # the row that reaches the cut goes in
            if n >= t.num_rows and sizes[-1] < room:
                self._w.write(t)
                return
            n = min(n, t.num_rows)
            self._w.write(t.slice(0, n))
            self.entries.append(self._w.close())
            self._w = None
            t = t.slice(n)

    def close(self) -> list[dict]:
        if self._w is not None:
            self.entries.append(self._w.close())
            self._w = None
        return self.entries

    def abort(self) -> None:
        if self._w is not None:
            self._w.abort()
        for e in self.entries:  # files of this range already named: not in any manifest yet
            (self.folder / layout.part_name(e["sha256"], current=False)).unlink(missing_ok=True)


class _PartWriter:
    """A part file written in row groups into a hidden temporary name, then named by its content hash."""

    def __init__(self, folder: Path, rel_dir: str, schema: pa.Schema):
        folder.mkdir(parents=True, exist_ok=True)
        self.folder, self.rel_dir, self.schema = folder, rel_dir, schema
        self.tmp = folder / f".part-{uuid.uuid4().hex}{layout.TMP_SUFFIX}"
        self._writer = pq.ParquetWriter(str(self.tmp), schema, compression=COMPRESSION)
        self._buf: list[pa.Table] = []
        self._bytes = 0
        self.rows = 0
        self.content = 0  # bytes of content written so far

    def write(self, t: pa.Table) -> None:
        self._buf.append(t)
        b = content_bytes(t)
        self._bytes += b
        self.content += b
        if self._bytes >= ROW_GROUP_BYTES:
            self._flush()

    def _flush(self) -> None:
        if self._buf:
            t = pa.concat_tables(self._buf)
            self._writer.write_table(t, row_group_size=max(1, t.num_rows))
            self.rows += t.num_rows
        self._buf, self._bytes = [], 0

    def close(self) -> dict:
        self._flush()
        self._writer.add_key_value_metadata({CONTENT_KEY: str(self.content).encode()})
        self._writer.close()
        h, size = hashlib.sha256(), 0
        with open(self.tmp, "rb") as fh:
            os.fsync(fh.fileno())
            while chunk := fh.read(1 << 20):
                h.update(chunk)
                size += len(chunk)
        digest = h.hexdigest()
        os.chmod(self.tmp, 0o444)
        # never over an existing name: it may be hard-linked elsewhere. A version being built is not
        # current: its files are named .pq until the commit (newsmill.store.layout)
        os.link(self.tmp, self.folder / layout.part_name(digest, current=False))
        self.tmp.unlink()
        failpoints.hit("part_written")
        return {"path": f"{self.rel_dir}/{layout.part_name(digest)}", "rows": self.rows, "bytes": size,
                "sha256": digest}

    def abort(self) -> None:
        try:
            self._writer.close()
        except Exception:  # noqa: BLE001 (already failing)
            pass
        self.tmp.unlink(missing_ok=True)


def content_bytes(t: pa.Table) -> int:
    """Bytes of the values (text and binary lengths, 8 per other value): the same for the same rows,
    however they are laid out in memory, so row groups (and file bytes) depend on the rows only."""
    total = 0
    for col in t.columns:
        total += _col_bytes(col)
    return total


def _col_bytes(col) -> int:
    typ = col.type
    if pa.types.is_list(typ) or pa.types.is_large_list(typ):
        flat = pc.list_flatten(col)
        return 8 * len(col) + _col_bytes(flat)
    if pa.types.is_string(typ) or pa.types.is_large_string(typ) or pa.types.is_binary(typ):
        return 4 * len(col) + int(pc.sum(pc.binary_length(col)).as_py() or 0)
    return 8 * len(col)



def row_bytes(t: pa.Table) -> np.ndarray:
    """:func:`content_bytes` of each row."""
    out = np.zeros(t.num_rows, dtype=np.int64)
    for col in t.columns:
        out += _row_col_bytes(col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col)
    return out


def _row_col_bytes(col: pa.Array) -> np.ndarray:
    typ = col.type
    if pa.types.is_list(typ) or pa.types.is_large_list(typ):
        flat = pc.list_flatten(col)
        per = _row_col_bytes(flat.combine_chunks() if isinstance(flat, pa.ChunkedArray) else flat)
        parents = pc.list_parent_indices(col).to_numpy(zero_copy_only=False)
        return 8 + np.bincount(parents, weights=per, minlength=len(col)).astype(np.int64)
    if pa.types.is_string(typ) or pa.types.is_large_string(typ) or pa.types.is_binary(typ):
        return 4 + pc.fill_null(pc.binary_length(col), 0).to_numpy(zero_copy_only=False).astype(np.int64)
    return np.full(len(col), 8, dtype=np.int64)


def file_content(pf: pq.ParquetFile) -> int:
    """A part file's content bytes: as its writer counted them, or (a file written before they were
    recorded) its row groups' uncompressed bytes."""
    md = pf.metadata
    kv = md.metadata or {}
    if CONTENT_KEY in kv:
        return int(kv[CONTENT_KEY])
    return int(sum(md.row_group(i).total_byte_size for i in range(md.num_row_groups)))
