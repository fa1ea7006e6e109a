"""The rows a publish upserts into one table, held as sorted runs per partition.

``publish.publish_run`` used to take each table whole, in memory; a run of 100k
pages cannot hold its tables (and the old version's partitions) at once. Here the
rows arrive piece by piece (``add``: a chunk of validation at a time), are
checked like a whole table would be (schema, required values, time zones,
partition values, no key twice: across pieces on the keys alone), split by
partition folder and sorted the way part files are, then kept as *runs*: in
memory for a table given whole, else as Arrow IPC files in a folder of the
caller's (the run's staging area). Publishing then merges, per partition, the
old file and that partition's runs in one streaming pass (``newsmill.store.partfile``).

For every row only a partition code (4 bytes) stays in memory; the sort columns
(with the primary key) of each run are kept in a small file of their own, read
back when that partition is published, or all at once for the primary keys.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from newsmill import schema as schemas
from newsmill.store import upsert
from newsmill.store.checks import check_source_values, check_unique_keys, conform_input, partition_dirs

IPC_OPTIONS = pa.ipc.IpcWriteOptions(compression="lz4")
RUN_BATCH_BYTES = 1 << 20  # a run file's record batches: what a streaming reader holds of it at a time


def sort_columns(s: schemas.TableSchema) -> list[str]:
    """A part file's order: the schema's sort_by, then the primary key (a total order)."""
    return list(dict.fromkeys((*s.sort_by, *s.primary_key)))


@dataclass
class Run:
    """Rows of one partition, sorted by :func:`sort_columns`, in the stored schema (no partition columns)."""

    rows: int
    offset: int  # of its first row in the table's key arrays (``NewRows.keys``)
    table: pa.Table | None = None  # in memory...
    path: Path | None = None  # ...or in an IPC file
    batch_rows: list[int] = field(default_factory=list)  # rows per record batch of the file
    _order: pa.Table | None = None  # in-memory runs: the sort columns

    @property
    def order(self) -> pa.Table:
        """The sort columns of every row (the primary key among them), in run order."""
        if self._order is not None:
            return self._order
        with pa.OSFile(str(self.order_path), "rb") as f:
            return pa.ipc.open_file(f).read_all().combine_chunks()

    @property
    def order_path(self) -> Path:
        return self.path.with_suffix(".order.arrow")

    def batches(self):
        """The rows, in order, a record batch at a time."""
        if self.table is not None:
            yield from self.table.to_batches(max_chunksize=max(1, _rows_per(self.table)))
            return
        with pa.OSFile(str(self.path), "rb") as f:
            reader = pa.ipc.open_file(f)
            for i in range(reader.num_record_batches):
                yield reader.get_batch(i)

    def reader(self) -> "_RunReader":
        return _RunReader(self)


class _RunReader:
    """Random access by row position, a record batch at a time (positions mostly ascending)."""

    def __init__(self, run: Run):
        self.run = run
        self._file = None
        self._cache: dict[int, pa.RecordBatch] = {}
        if run.table is None:
            self._starts = np.concatenate([[0], np.cumsum(run.batch_rows)])

    def take(self, positions: np.ndarray) -> pa.Table:
        if self.run.table is not None:
            return self.run.table.take(pa.array(positions, pa.int64()))
        if self._file is None:
            self._file = pa.ipc.open_file(pa.OSFile(str(self.run.path), "rb"))
        which = np.searchsorted(self._starts, positions, side="right") - 1
        parts = []
        for b in np.unique(which):  # ascending batches; rows put back in the asked order below
            if b not in self._cache:
                if len(self._cache) >= 2:
                    self._cache.pop(next(iter(self._cache)))
                self._cache[b] = self._file.get_batch(int(b))
            sel = positions[which == b] - self._starts[b]
            parts.append(pa.Table.from_batches([self._cache[b]]).take(pa.array(sel, pa.int64())))
        got = pa.concat_tables(parts)
        order = np.argsort(np.argsort(which, kind="stable"), kind="stable")  # back to the asked order
        return got.take(pa.array(order, pa.int64()))

    def close(self) -> None:
        self._cache.clear()
        self._file = None


class NewRows:
    """See the module docstring. ``folder`` None: runs stay in memory."""

    def __init__(self, name: str, folder: Path | None = None):
        self.name = name
        self.schema = schemas.load(name)
        self.folder = Path(folder) if folder is not None else None
        self.runs: dict[str, list[Run]] = {}
        self.num_rows = 0
        self._rel: list[tuple[str, int]] = []  # per run: partition folder, rows
        # primary keys of published rows to remove (a comment merged into an earlier version of itself,
        # ``newsmill.store.snapshots``); the upsert never removes anything else
        self.deleted: pa.Array = pa.array([], pa.string())
        self._finished = False

    def add(self, table: pa.Table) -> None:
        if self._finished:
            raise RuntimeError("rows added after finish()")
        if table.num_rows == 0:
            return
        s = self.schema
        table = conform_input(table, s)
        check_source_values(table)
        rel = partition_dirs(table, s)
        stored = s.stored_arrow()
        cols = sort_columns(s)
        for d, idx in sorted(upsert.row_groups(rel).items()):
            part = table.take(idx)
            part = pa.Table.from_arrays([part.column(n) for n in stored.names], schema=stored)
            part = part.sort_by([(c, "ascending") for c in cols])
            run = Run(rows=part.num_rows, offset=self.num_rows)
            if self.folder is None:
                run.table, run._order = part, part.select(cols).combine_chunks()
            else:
                run.path = self.folder / f"{self.name}-{len(self._rel):06d}.arrow"
                self._write(run, part, cols)
            self.runs.setdefault(d, []).append(run)
            self._rel.append((d, part.num_rows))
            self.num_rows += part.num_rows

    def _write(self, run: Run, part: pa.Table, cols: list[str]) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        with pa.OSFile(str(run.path), "wb") as sink, \
                pa.ipc.new_file(sink, part.schema, options=IPC_OPTIONS) as w:
            for b in part.to_batches(max_chunksize=max(1, _rows_per(part))):
                w.write_batch(b)
                run.batch_rows.append(b.num_rows)
        order = part.select(cols)
        with pa.OSFile(str(run.order_path), "wb") as sink, \
                pa.ipc.new_file(sink, order.schema, options=IPC_OPTIONS) as w:
            w.write_table(order)

    def finish(self) -> "NewRows":
        """Refuse a key given twice (in two pieces); after this, the rows are ready to publish."""
        if not self._finished:
            check_unique_keys(self.name, self.keys)
            self._finished = True
        return self

    def _in_order(self) -> list[tuple[str, Run]]:
        return sorted(((d, r) for d, rs in self.runs.items() for r in rs), key=lambda dr: dr[1].offset)

    def _rows(self, d: str, run: Run) -> pa.Table:
        """A run's rows in the full schema (its partition columns from its folder ``d``)."""
        batches = list(run.batches())
        t = pa.Table.from_batches(batches) if batches else self.schema.stored_arrow().empty_table()
        values = dict(seg.split("=", 1) for seg in d.split("/"))
        full = self.schema.arrow()
        cols = [t.column(f.name) if f.name in t.column_names else
                pa.array([values[f.name]] * t.num_rows, pa.string()).cast(f.type) for f in full]
        return pa.Table.from_arrays(cols, schema=full)

    def rows_of_articles(self, article_ids: pa.Array) -> pa.Table:
        """The rows (full schema) whose article_id is one of ``article_ids``; only runs holding one are read."""
        parts = []
        for d, r in self._in_order():
            if pc.any(pc.is_in(r.order.column("article_id"), value_set=article_ids)).as_py():
                t = self._rows(d, r)
                parts.append(t.filter(pc.is_in(t.column("article_id"), value_set=article_ids)))
        return pa.concat_tables(parts) if parts else self.schema.arrow().empty_table()

    def replacing_articles(self, article_ids: pa.Array, tables: list[pa.Table], folder: Path | None) -> "NewRows":
        """These rows without those of ``article_ids``, plus ``tables``; runs without such rows are reused
        as they are (not rewritten). ``folder``: where the new runs go (None: in memory)."""
        out = NewRows(self.name, folder)
        for d, r in self._in_order():
            hit = pc.is_in(r.order.column("article_id"), value_set=article_ids)
            if not pc.any(hit).as_py():
                out.runs.setdefault(d, []).append(replace(r, offset=out.num_rows))
                out._rel.append((d, r.rows))
                out.num_rows += r.rows
                continue
            t = self._rows(d, r)
            out.add(t.filter(pc.invert(pc.is_in(t.column("article_id"), value_set=article_ids))))
        for t in tables:
            out.add(t)
        return out.finish()

    @property
    def keys(self) -> pa.Array:
        """Primary key of every row, runs one after the other (``Run.offset`` points into it); read
        from the runs each time (hold on to it only as long as needed)."""
        runs = sorted((r for rs in self.runs.values() for r in rs), key=lambda r: r.offset)
        if not runs:
            return pa.array([], pa.string())
        return pa.concat_arrays([upsert.key(r.order, self.schema.primary_key) for r in runs])

    @property
    def rel(self) -> pa.DictionaryArray:
        """Partition folder of every row, aligned with :attr:`keys` (dictionary-encoded: a code a row)."""
        names = sorted({d for d, _ in self._rel})
        code = {d: i for i, d in enumerate(names)}
        idx = np.concatenate([np.full(n, code[d], dtype=np.int32) for d, n in self._rel]) if self._rel \
            else np.zeros(0, dtype=np.int32)
        return pa.DictionaryArray.from_arrays(pa.array(idx, pa.int32()), pa.array(names, pa.string()))


def _rows_per(table: pa.Table) -> int:
    """Rows of about RUN_BATCH_BYTES."""
    if table.num_rows == 0:
        return 1
    per_row = max(1, table.nbytes // table.num_rows)
    return max(64, RUN_BATCH_BYTES // per_row)
