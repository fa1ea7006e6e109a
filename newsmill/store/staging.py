"""A run's working area: each batch's records written to disk as soon as the batch is done.

Why: a run of 100k pages must not keep 100k articles and their comments in Python
memory until it validates and publishes them, nor pickle them between processes.
A batch task writes its articles, comments and input-ledger rows as Arrow IPC
files under ``<output>/_state/staging/<run id>/`` and returns a
:class:`StagedBatch`: counts, rejects and file names, a few hundred bytes.
``pipeline.finalize`` reads the files back chunk by chunk.

The area is owned by its run through an ``flock`` on ``<run id>.lock`` next to it,
taken before the folder exists and held until it is deleted: the kernel releases
it when the run dies, even by SIGKILL, so the next run that opens an area removes
every area whose lock it can take (a dead run's), and never a live run's. Areas
live outside ``_building`` on purpose: a concurrent run's publish discards
``_building`` while this run may still be extracting. What a dead run was
extracting in its own process (``newsmill.runtime.suspects``) is read back from its
area first: ``Area.suspects``.
"""
from __future__ import annotations

import errno
import fcntl
import os
import shutil
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import pyarrow as pa

from newsmill import schema
from newsmill.runtime import suspects as _suspects
from newsmill.store import layout

ROOT = layout.WORK_AREAS
KINDS = ("articles", "comments", "seen")  # one file each per batch
IPC_OPTIONS = pa.ipc.IpcWriteOptions(compression="lz4")  # cheap to write and read; the files are short-lived

# The input ledger's rows (see ``newsmill.store.ledger``) of the inputs a batch read.
SEEN_SCHEMA = pa.schema([("ref", pa.string()), ("uri", pa.string()), ("sha256", pa.string()),
                         ("size", pa.int64()), ("mtime_ns", pa.int64()), ("unchanged", pa.bool_())])

_open: dict[str, "Area"] = {}  # areas open in this process, by folder: nested opens share one
_open_lock = threading.Lock()


@dataclass
class StagedBatch:
    """What a batch task returns: small, picklable; the records are in ``files`` (or ``inline``)."""

    index: int  # position of the batch in the plan: results are merged in plan order
    inputs: int = 0
    unchanged: int = 0
    rejects: list[dict] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)  # kind -> rows
    nbytes: int = 0  # in-memory size of the articles and comments (what a chunk of validation holds)
    files: dict[str, str] = field(default_factory=dict)  # kind -> IPC file (absolute path)
    inline: dict[str, bytes] | None = None  # kind -> IPC bytes, when the task had no area to write to
    seconds: float = 0.0  # the batch's wall time in its worker, and its CPU time (for benchmarks and logs)
    cpu_seconds: float = 0.0


def area_path(output_dir, run_id: str) -> Path:
    return layout.work_areas(output_dir) / run_id


class Area:
    """The run's staging folder, locked for the run's lifetime (see the module docstring)."""

    def __init__(self, output_dir, run_id: str):
        self.path = area_path(output_dir, run_id)
        self._lock_path = self.path.with_name(f"{run_id}.lock")
        self._fd: int | None = None
        self._users = 0
        self.suspects: set[str] = set()  # inputs a dead run was extracting in its own process

    def open(self) -> "Area":
        root = self.path.parent
        root.mkdir(parents=True, exist_ok=True)
        fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise
        self._fd = fd
        sweep(root, keep=self.path.name, suspects=self.suspects)
        self.path.mkdir(exist_ok=True)
        if self.suspects:  # still known if this run dies too
            _suspects.keep(self.path, "inherited", sorted(self.suspects))
        return self

    def close(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)
        if self._fd is not None:
            self._lock_path.unlink(missing_ok=True)
            os.close(self._fd)
            self._fd = None

    def materialize(self, batch: StagedBatch) -> StagedBatch:
        """``batch`` with any records it carries inline written into this area (see :func:`materialize`)."""
        return materialize(batch, self)

    def file(self, name: str) -> Path:
        return self.path / name


@contextmanager
def area(output_dir, run_id: str) -> Iterator[Area]:
    """The run's area for the length of the block; a nested call in the same process shares it."""
    key = str(area_path(output_dir, run_id))
    with _open_lock:
        a = _open.get(key)
        if a is None:
            a = _open[key] = Area(output_dir, run_id).open()
        a._users += 1
    try:
        yield a
    finally:
        with _open_lock:
            a._users -= 1
            if a._users == 0:
                del _open[key]
                a.close()


def hold(output_dir, run_id: str) -> Area:
    """The run's area, opened before its :func:`area` block, for what the run writes ahead of its batches
    and must not outlive it: the transient raw capture of a live fetch (``newsmill.sources.live``).  The
    run's :func:`area` block (in this process) takes it over and removes it, with everything in it, when
    it ends; :func:`release` removes it if the run stops before that block.  A run that dies leaves it
    locked until its process ends, then the next run's sweep removes it, as it removes staged batches."""
    key = str(area_path(output_dir, run_id))
    with _open_lock:
        a = _open.get(key)
        if a is None:
            a = _open[key] = Area(output_dir, run_id).open()
    return a


def release(output_dir, run_id: str) -> None:
    """Remove an area that :func:`hold` opened and no :func:`area` block uses (the run stopped early)."""
    key = str(area_path(output_dir, run_id))
    with _open_lock:
        a = _open.get(key)
        if a is None or a._users:
            return
        del _open[key]
    a.close()


@dataclass(frozen=True)
class Transient:
    """Where a step before the batches writes what must not outlive the run (a live fetch's raw capture
    that is not kept, ``newsmill.sources.live``): a file of the run's area, opened by :func:`hold`."""

    output_dir: str
    run_id: str

    def path(self, name: str) -> Path:
        return hold(self.output_dir, self.run_id).file(name)

    def discard(self) -> None:
        """The step failed: the area goes now (see :func:`release`)."""
        release(self.output_dir, self.run_id)


def sweep(root: Path, keep: str | None = None, suspects: set[str] | None = None) -> list[str]:
    """Remove the areas of runs that died (their lock is free); returns their names. ``suspects``:
    filled with the inputs they were extracting in their own process."""
    removed = []
    if not root.is_dir():
        return removed
    names = {p.name for p in root.iterdir()}
    for name in sorted(names):
        if name == keep or name == f"{keep}.lock":
            continue
        p = root / name
        if name.endswith(".lock"):
            try:
                fd = os.open(p, os.O_RDWR)
            except FileNotFoundError:
                continue
            try:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except OSError as exc:
                    if exc.errno in (errno.EAGAIN, errno.EACCES):
                        continue  # a live run's
                    raise
                if suspects is not None:
                    suspects |= _suspects.read(root / name[: -len(".lock")])
                shutil.rmtree(root / name[: -len(".lock")], ignore_errors=True)
                p.unlink(missing_ok=True)
                removed.append(name[: -len(".lock")])
            finally:
                os.close(fd)
        elif f"{name}.lock" not in names and p.is_dir():
            shutil.rmtree(p, ignore_errors=True)  # a lock is always made before its area and removed after it
            removed.append(name)
    return removed


# --- batches ---------------------------------------------------------------------------------


def tables_of(result) -> dict[str, pa.Table]:
    """A ``pipeline.BatchResult``'s records as typed Arrow tables."""
    return {"articles": schema.to_arrow("articles", result.articles),
            "comments": schema.to_arrow("comments", result.comments),
            "seen": pa.Table.from_pylist(result.seen, schema=SEEN_SCHEMA)}


def stage(result, index: int, folder: str | Path | None, *, prefix: str = "b") -> StagedBatch:
    """Write a batch's records to ``folder`` (None: keep them, serialised, in the handle) and
    return its handle; the dict records can be dropped right after. File names: ``<prefix><index>``."""
    tables = tables_of(result)
    out = StagedBatch(index=index, inputs=result.inputs, unchanged=result.unchanged, rejects=list(result.rejects),
                      skipped=dict(result.skipped), rows={k: t.num_rows for k, t in tables.items()},
                      nbytes=tables["articles"].nbytes + tables["comments"].nbytes)
    if folder is None:
        out.inline = {k: _ipc_bytes(t) for k, t in tables.items()}
        return out
    for kind, table in tables.items():
        path = Path(folder) / f"{prefix}{index:07d}.{kind}.arrow"
        with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, table.schema, options=IPC_OPTIONS) as w:
            w.write_table(table)
        out.files[kind] = str(path)
    return out


def materialize(batch: StagedBatch, area_: Area) -> StagedBatch:
    """A handle whose records came back inline (a remote worker) written to this run's area."""
    if batch.inline is None:
        return batch
    for kind, data in batch.inline.items():
        path = area_.file(f"b{batch.index:07d}.{kind}.arrow")
        path.write_bytes(data)
        batch.files[kind] = str(path)
    batch.inline = None
    return batch


def read(batch: StagedBatch, kind: str, columns: list[str] | None = None) -> pa.Table:
    """One kind of a batch's records (only ``columns``, when given)."""
    if batch.inline is not None:
        reader = pa.ipc.open_file(pa.py_buffer(batch.inline[kind]))
    else:
        reader = pa.ipc.open_file(pa.memory_map(batch.files[kind]))
    parts = [reader.get_batch(i) for i in range(reader.num_record_batches)]
    table = pa.Table.from_batches(parts, schema=reader.schema)
    if columns is not None:
        table = table.select(columns)
    # materialised so that the memory map can be closed (its pages would count as this process' memory)
    return table.combine_chunks() if table.num_rows else table


def _ipc_bytes(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_file(sink, table.schema, options=IPC_OPTIONS) as w:
        w.write_table(table)
    return sink.getvalue().to_pybytes()
