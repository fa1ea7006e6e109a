"""What earlier runs already did with each input: the content-hash ledger of incremental runs.

``<output>/_state/ledger.sqlite`` holds one row per input address (a file's real
path, or ``<archive real path>#<offset>``): the SHA-256 of the page bytes, the
size and ``mtime_ns`` of the file holding it, the pipeline version, the outcome
(``published``, ``quarantined``, ``rejected:<reason>``) and the run that
recorded it. A run skips an input whose file has the recorded size and
mtime_ns (nothing read: the fast path), or whose bytes hash to the recorded
SHA-256 (read and hashed, not extracted). A page seen again with new bytes is
processed and upserted: unchanged rows keep their provenance, new ones are inserted.

Rows are written only after the run's publish has committed, by the publishing
process, while it still holds the output lock (``publish.publish_run``'s
``inputs``), so the ledger never says "seen" for an input whose results
are not in the current version, and two runs' ledger writes happen in the
order of their commits. A run killed between the commit and the ledger write
only makes the next run process those inputs again, which the upsert makes
harmless. Entries from another pipeline version count as unseen (a new
extractor may give other rows); ``newsmill run --full`` ignores the ledger
(and refreshes it).

A ledger SQLite cannot read (``file is not a database``, ``database disk image is malformed``) is
moved aside (``ledger.sqlite.corrupt-<UTC time>``, with its journal) with one warning and started
afresh: every input is then processed again, which the upsert makes harmless.

Inputs whose outcome does not depend on their bytes are never recorded, so they
are tried again: unreadable or missing files (no hash) and pages whose extraction
raised an error.
"""
from __future__ import annotations

import itertools
import logging
import os
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable

from newsmill.runtime import failpoints
from newsmill.store import layout

log = logging.getLogger(__name__)

LEDGER_FILE = layout.LEDGER
FORMAT = 1  # PRAGMA user_version of the file
RETRIED_REASONS = frozenset({"error"})  # rejects caused by the run, not the bytes: tried again next run
_CHUNK = 500  # keys per SELECT ... IN (...), under SQLite's variable limit

_SCHEMA = """
CREATE TABLE IF NOT EXISTS inputs (
    ref              TEXT PRIMARY KEY,  -- real path, or real archive path + '#' + record offset
    sha256           TEXT NOT NULL,     -- of the page bytes (gunzipped; an archive record's payload)
    size             INTEGER,           -- size of the file holding the input, when recorded
    mtime_ns         INTEGER,           -- its modification time (ns), when recorded
    pipeline_version TEXT NOT NULL,
    outcome          TEXT NOT NULL,     -- published | quarantined | rejected:<reason>
    run_id           TEXT NOT NULL,     -- the run that recorded this content
    recorded_at      TEXT NOT NULL      -- UTC, ISO 8601
)
"""


@dataclass(frozen=True)
class StagedInputs:
    """A run's ledger rows, staged in an Arrow IPC file until its publish commits."""

    path: Path | None  # None: the run read no input worth recording
    run_id: str
    pipeline_version: str
    critical_failed: bool = False  # then nothing is recorded: the next run retries every input


@dataclass(frozen=True)
class Entry:
    sha256: str
    size: int | None
    mtime_ns: int | None
    pipeline_version: str
    outcome: str
    run_id: str


def ledger_path(output_dir) -> Path:
    return layout.ledger_file(output_dir)


def _split(ref: str) -> tuple[str, str]:
    """(file path, '#offset' or ''), the same way ``sources.read_input`` tells archive records from files."""
    from newsmill.sources import warc

    path, sep, offset = ref.rpartition("#")
    if sep and warc.is_record_address(offset) and warc.is_archive(path):
        return path, f"#{offset}"
    return ref, ""


def ref_key(ref: str) -> str:
    """The ledger key of an input address: independent of the working folder and of symlinks,
    valid UTF-8 (undecodable bytes of a file name as \\xNN, as in ``input_uri``)."""
    path, record = _split(ref)
    try:
        real = os.path.realpath(path)
    except (OSError, ValueError):
        real = os.path.abspath(path)
    return (real + record).encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def ref_stat(ref: str, cache: dict | None = None) -> tuple[int, int] | None:
    """(size, mtime_ns) of the file that holds the input (the archive, for a record), or None.
    ``cache`` (a dict kept by the caller): one stat per archive, however many records it holds."""
    path, _ = _split(ref)
    if cache is not None and path in cache:
        return cache[path]
    try:
        st = os.stat(path)
        result = (st.st_size, st.st_mtime_ns)
    except (OSError, ValueError):
        result = None
    if cache is not None:
        cache[path] = result
    return result


class Ledger:
    """The ledger of one output folder. Opened per call: cheap, and safe across processes."""

    def __init__(self, output_dir):
        self.path = ledger_path(output_dir)

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        con = sqlite3.connect(self.path, timeout=60)
        try:
            version = con.execute("PRAGMA user_version").fetchone()[0]
            con.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.DatabaseError as exc:
            con.close()
            if not _corrupt(exc):
                raise
            self._move_aside(exc)
            con = sqlite3.connect(self.path, timeout=60)
            version = 0
        if version not in (0, FORMAT):
            con.close()
            raise RuntimeError(f"{self.path}: ledger format {version} is newer than this newsmill "
                               f"understands ({FORMAT}); upgrade newsmill, or delete the file to reprocess everything")
        if version == 0:
            with con:
                con.execute(_SCHEMA)
                con.execute(f"PRAGMA user_version = {FORMAT}")
        return con

    def _move_aside(self, exc: Exception) -> None:
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S.%fZ")
        aside = self.path.with_name(f"{self.path.name}.corrupt-{stamp}")
        os.rename(self.path, aside)
        for suffix in ("-journal", "-wal", "-shm"):
            side = self.path.with_name(self.path.name + suffix)
            if side.exists():
                os.rename(side, aside.with_name(aside.name + suffix))
        log.warning("the input ledger %s is corrupt (%s): moved to %s; a new one is started and every input "
                    "is processed again", self.path, exc, aside.name)

    def lookup(self, keys: Iterable[str]) -> dict[str, Entry]:
        """The recorded entries of these keys (absent keys: never recorded; all of them when the
        ledger turns out corrupt, which is then moved aside)."""
        keys = list(dict.fromkeys(keys))
        if not keys or not self.path.exists():
            return {}
        try:
            return self._lookup(keys)
        except sqlite3.DatabaseError as exc:
            if not _corrupt(exc):
                raise
            self._move_aside(exc)
            return {}

    def _lookup(self, keys: list[str]) -> dict[str, Entry]:
        found: dict[str, Entry] = {}
        with closing(self._connect()) as con:
            for i in range(0, len(keys), _CHUNK):
                part = keys[i : i + _CHUNK]
                rows = con.execute(
                    "SELECT ref, sha256, size, mtime_ns, pipeline_version, outcome, run_id FROM inputs "
                    f"WHERE ref IN ({','.join('?' * len(part))})", part)
                for ref, *rest in rows:
                    found[ref] = Entry(*rest)
        return found

    def record(self, rows: Iterable[dict], *, run_id: str, pipeline_version: str) -> int:
        """Write what this run did, in one transaction; returns the number of rows written.

        ``rows``: {"ref", "sha256", "size", "mtime_ns", "outcome"}, any iterable (read as it is written,
        so a run's rows need not all be in memory); outcome None means "unchanged": only the file's
        size and mtime_ns are refreshed (the content and outcome are those recorded).
        """
        again = rows if isinstance(rows, (list, tuple)) else None  # can be read a second time
        rows = iter(rows)
        head = next(rows, None)
        if head is None:
            return 0
        try:
            return self._record(itertools.chain([head], rows), run_id=run_id, pipeline_version=pipeline_version)
        except sqlite3.DatabaseError as exc:  # the transaction is rolled back
            if not _corrupt(exc):
                raise
            self._move_aside(exc)
            if again is None:
                raise
        return self._record(iter(again), run_id=run_id, pipeline_version=pipeline_version)

    def _record(self, rows, *, run_id: str, pipeline_version: str) -> int:
        now = datetime.now(timezone.utc).isoformat(timespec="seconds")
        n = 0
        with closing(self._connect()) as con:
            with con:  # one transaction: all of the run's rows or none
                for r in rows:
                    if r.get("outcome"):
                        con.execute("INSERT OR REPLACE INTO inputs VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                                    (r["ref"], r["sha256"], r.get("size"), r.get("mtime_ns"), pipeline_version,
                                     r["outcome"], run_id, now))
                    else:
                        con.execute("UPDATE inputs SET size = ?, mtime_ns = ? WHERE ref = ? AND sha256 = ?",
                                    (r.get("size"), r.get("mtime_ns"), r["ref"], r["sha256"]))
                    n += 1
                failpoints.hit("ledger_written")  # killed here: the transaction is rolled back
        return n

    def record_staged(self, inputs: "StagedInputs") -> None:
        """After the commit, under the output lock: the run's staged rows into the ledger. Never fails the
        run (its data is committed): a ledger left behind only means those inputs are processed again."""
        if inputs.critical_failed:  # something is wrong with the whole run: let the next one retry everything
            log.warning("a critical expectation failed: inputs are not recorded as seen; the next run reprocesses them")
            return
        if inputs.path is None:
            return

        def rows():
            import pyarrow as pa

            with pa.memory_map(str(inputs.path)) as source:
                reader = pa.ipc.open_file(source)
                for i in range(reader.num_record_batches):
                    yield from reader.get_batch(i).to_pylist()

        try:
            try:
                self.record(rows(), run_id=inputs.run_id, pipeline_version=inputs.pipeline_version)
            except sqlite3.DatabaseError as exc:
                if not _corrupt(exc):
                    raise  # a corrupt ledger was moved aside by record(): this run's rows go into a new one
                self.record(rows(), run_id=inputs.run_id, pipeline_version=inputs.pipeline_version)
        except Exception as exc:  # noqa: BLE001 (the data is committed; the ledger is an optimisation)
            log.warning("could not update the input ledger (%s: %s): these inputs will be processed again next run",
                        type(exc).__name__, exc)

    def keep_runs(self, run_ids: Iterable[str]) -> int:
        """Forget what runs outside ``run_ids`` recorded; returns the number of rows forgotten.

        For a copy of a dataset replaced by another writer's version (a remote output's mirror,
        ``newsmill.store.remote``): inputs that only runs absent from that version recorded must be
        processed again, or their rows would never reach it.
        """
        if not self.path.exists():
            return 0
        keep = set(run_ids)
        try:
            with closing(self._connect()) as con:
                gone = [(r,) for (r,) in con.execute("SELECT DISTINCT run_id FROM inputs") if r not in keep]
                with con:
                    before = con.total_changes
                    con.executemany("DELETE FROM inputs WHERE run_id = ?", gone)
                    return con.total_changes - before
        except sqlite3.DatabaseError as exc:
            if not _corrupt(exc):
                raise
            self._move_aside(exc)  # nothing recorded any more: every input is processed again
            return 0

    def count(self) -> int:
        if not self.path.exists():
            return 0
        try:
            with closing(self._connect()) as con:
                return con.execute("SELECT count(*) FROM inputs").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            if not _corrupt(exc):
                raise
            self._move_aside(exc)
            return 0


_CORRUPT_CODES = {getattr(sqlite3, n) for n in ("SQLITE_CORRUPT", "SQLITE_NOTADB") if hasattr(sqlite3, n)}


def _corrupt(exc: sqlite3.DatabaseError) -> bool:
    """The file is damaged (not: locked, read-only, disk full, which moving it aside would not fix)."""
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return (code & 0xFF) in _CORRUPT_CODES
    text = str(exc)
    return "file is not a database" in text or "malformed" in text
