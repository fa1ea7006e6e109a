"""Which part files of a year partition a publish rewrites, and which rows go to which file.

A table's partition (``year=<y>``) holds several part files, each a contiguous range of the
part-file order (``source`` first, then the schema's ``sort_by`` and primary key): the files of a
partition cover disjoint, ordered key ranges. A run's rows go to the file whose range holds them
(the last file whose first key is not above the row's; rows before every file go to the first);
only the files that receive rows, lose rows, or must change schema or layout are rewritten, each
as new content-named files, the others carried over as hard links. Sizes are content bytes
(``partfile.content_bytes``) against a target (``[output] target_file_bytes``): a rewritten range
past 2 x the target is cut into files of about the target, and a rewritten range under 1/4 of it
takes in its smaller neighbour, as does any rewritten range whose neighbour is under 1/4 of it.

An output written in an older layout (``source=<site>/year=<y>/``, one file per folder) is read
here too: its files' folder values (``source``) become columns, and each year's files, in source
order, are one range that the next publish rewrites (the migration, once).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from newsmill import schema as schemas
from newsmill.store import layout, partfile, versions
from newsmill.store.sorted_runs import Run, sort_columns


@dataclass
class Part:
    """One part file of a partition: its key range (sort columns of its first and last row)."""

    path: Path
    rel_dir: str  # its partition folder in the current layout (``year=2020``)
    values: dict  # columns an older layout keeps in the folder name ({'source': 'site'}); {} in the current one
    first: tuple
    last: tuple
    rows: int
    content: int


def sort_key(row: tuple) -> tuple:
    """A row's sort columns as a Python key ordered as Arrow sorts them (nulls last)."""
    return tuple((v is None, 0 if v is None else v) for v in row)


def scan(root: Path | None, s: schemas.TableSchema) -> dict[str, list[Part]]:
    """The part files under ``root`` by partition folder, in part-file order. Anything a reader would
    pick up that does not fit the layout (a stray folder or file, a symlink, files whose key ranges
    overlap) is an error: publishing on it could hide or duplicate rows."""
    if root is None or not root.is_dir():
        return {}
    found: dict[str, list[Part]] = {}
    cols = sort_columns(s)
    folder_cols: tuple[str, ...] | None = None
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        for n in (*dirnames, *filenames):
            if (here / n).is_symlink():
                raise versions.LayoutError(f"refusing to publish: {here / n} is a symlink inside the dataset")
        dirnames[:] = [n for n in dirnames if not n.startswith((".", "_"))]
        for fn in filenames:
            if not fn.endswith(layout.PART_SUFFIX) or fn.startswith((".", "_")):  # the current version's names
                continue
            rel = here.relative_to(root)
            segs = [seg.split("=", 1) if "=" in seg else [seg, None] for seg in rel.parts]
            these = tuple(c for c, _ in segs)
            ok = all(v is not None and c in s.names for c, v in segs) and set(s.partition_by) <= set(these) \
                and (folder_cols is None or these == folder_cols)
            if not ok:
                raise versions.LayoutError(
                    f"unexpected file {here / fn}: the table's files live in "
                    f"{'/'.join(c + '=...' for c in s.partition_by)} folders. Move it out of the dataset, "
                    f"then publish again.")
            folder_cols = these
            values = dict(segs)
            d = "/".join(f"{c}={values[c]}" for c in s.partition_by)
            extra = {c: v for c, v in values.items() if c not in s.partition_by}
            part = _part(here / fn, d, extra, cols)
            if part is not None:
                found.setdefault(d, []).append(part)
    for d, parts in found.items():
        parts.sort(key=lambda p: sort_key(p.first))
        check_ranges(parts)
    return found


def check_ranges(parts: list[Part]) -> None:
    """The files of a partition, in order, cover disjoint key ranges."""
    for a, b in zip(parts, parts[1:]):
        if not sort_key(a.last) < sort_key(b.first):
            raise versions.LayoutError(
                f"part files {a.path} and {b.path} overlap in their key ranges ({a.first}..{a.last} and "
                f"{b.first}..{b.last}): each file of a partition holds one range of the part-file order")


def _part(path: Path, d: str, values: dict, cols: list[str]) -> Part | None:
    pf = pq.ParquetFile(path)
    md = pf.metadata
    if md.num_rows == 0 or md.num_row_groups == 0:
        return None
    present = [c for c in cols if c in pf.schema_arrow.names]

    def row(t: pa.Table, i: int) -> tuple:
        got = {c: t.column(c)[i].as_py() for c in present}
        return tuple(got[c] if c in got else values.get(c) for c in cols)

    head = pf.read_row_group(0, columns=present)
    tail = head if md.num_row_groups == 1 else pf.read_row_group(md.num_row_groups - 1, columns=present)
    return Part(path, d, values, row(head, 0), row(tail, tail.num_rows - 1), md.num_rows, partfile.file_content(pf))


def route(order: pa.Table, parts: list[Part], cols: list[str]) -> np.ndarray:
    """For each row of a sorted run, the index of the part whose range holds it."""
    n = order.num_rows
    if len(parts) <= 1 or n == 0:
        return np.zeros(n, dtype=np.int64)
    bounds = pa.Table.from_pylist([dict(zip(cols, p.first)) for p in parts[1:]],
                                  schema=order.select(cols).schema)
    both = pa.concat_tables([
        order.select(cols).append_column("_b", pa.array(np.zeros(n, dtype=np.int8)))
        .append_column("_i", pa.array(np.arange(n, dtype=np.int64))),
        bounds.append_column("_b", pa.array(np.ones(len(parts) - 1, dtype=np.int8)))
        .append_column("_i", pa.array(np.full(len(parts) - 1, -1, dtype=np.int64)))])
    # a row equal to a file's first key belongs to that file: bounds sort before equal rows
    s = both.sort_by([*[(c, "ascending") for c in cols], ("_b", "descending")])
    b = s.column("_b").to_numpy().astype(np.int64)
    i = s.column("_i").to_numpy()
    seg = np.cumsum(b)
    out = np.empty(n, dtype=np.int64)
    rows = b == 0
    out[i[rows]] = seg[rows]
    return out


class RunSlice:
    """Rows ``[start, stop)`` of a sorted run, read like a run (``partfile`` takes either)."""

    def __init__(self, run: Run, start: int, stop: int):
        self.run, self.start, self.rows = run, start, stop - start
        self.offset = run.offset + start

    @property
    def order(self) -> pa.Table:
        return self.run.order.slice(self.start, self.rows)

    def batches(self):
        at, end = 0, self.start + self.rows
        for b in self.run.batches():
            lo, hi = max(self.start, at), min(end, at + b.num_rows)
            if hi > lo:
                yield b.slice(lo - at, hi - lo)
            at += b.num_rows
            if at >= end:
                return

    def reader(self) -> "_SliceReader":
        return _SliceReader(self.run.reader(), self.start)


class _SliceReader:
    def __init__(self, inner, start: int):
        self.inner, self.start = inner, start

    def take(self, positions: np.ndarray) -> pa.Table:
        return self.inner.take(np.asarray(positions) + self.start)

    def close(self) -> None:
        self.inner.close()


def run_slices(run: Run, seg: np.ndarray) -> dict[int, RunSlice]:
    """A sorted run cut at its segment changes (segments are non-decreasing along a sorted run)."""
    if run.rows == 0:
        return {}
    if np.any(np.diff(seg) < 0):
        raise AssertionError("a sorted run routed out of order")
    out = {}
    for g in np.unique(seg):
        a, b = np.searchsorted(seg, g, side="left"), np.searchsorted(seg, g, side="right")
        out[int(g)] = run if (a == 0 and b == run.rows) else RunSlice(run, int(a), int(b))
    return out


def run_row_bytes(run) -> np.ndarray:
    """Content bytes of each row of a run (read once, a record batch at a time)."""
    parts = [partfile.row_bytes(pa.Table.from_batches([b]) if isinstance(b, pa.RecordBatch) else b)
             for b in run.batches()]
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)


def plan(n: int, touched: set[int], size: list[float], target: int) -> list[tuple[int, int]]:
    """Group the touched parts (``size``: each part's expected content after the run) into ranges to
    rewrite: a range under 1/4 of ``target`` takes in its smaller neighbour, and any neighbour under
    1/4 of ``target`` is taken in, until neither holds (or the range is the whole partition)."""
    small = target / 4
    ranges = [[i, i + 1] for i in sorted(touched)]
    changed = True
    while changed:
        changed = False
        ranges.sort()
        for r in ranges:
            total = sum(size[r[0]:r[1]])
            left = r[0] - 1 if r[0] > 0 else None
            right = r[1] if r[1] < n else None
            cands = [(size[i], i) for i in (left, right) if i is not None]
            if not cands:
                continue
            take = [i for s_, i in cands if s_ < small]
            if total < small and not take:
                take = [min(cands)[1]]
            if not take:
                continue
            for i in take:
                r[0], r[1] = min(r[0], i), max(r[1], i + 1)
            changed = True
            break
        # ranges that now meet or overlap become one
        merged: list[list[int]] = []
        for r in sorted(ranges):
            if merged and r[0] < merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], r[1])
            else:
                merged.append(r)
        ranges = merged
    return [(a, b) for a, b in ranges]
