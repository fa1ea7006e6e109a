"""Publish the record tables as hive-partitioned Parquet datasets, both tables as one version.

Table layout, inside a version (see :mod:`newsmill.store.versions` for the folder):
``<table>/year=<year>/part-<sha256 prefix>.parquet``, zstd files of about
``target_file_bytes`` of content each (``[output]``, default 128 MB), rows in part-file order
(the schema's ``sort_by``, ``source`` first, then the primary key), the files of a year covering
disjoint, ordered key ranges (``newsmill.store.compaction``); partition columns live only in the
path, every other field (``source`` among them) is a column with its description. Readers open
``<output>/<table>``, a symlink into the current version.

Untyped readers infer partition types from the folder names: pandas gives
categoricals (``year``: int32 categories), DuckDB ``year`` BIGINT
(``hive_types={'year': INTEGER}``), Polars Int64 (``hive_schema=``); ``source`` is a string
column for all of them. :func:`read_table` types them from the schema. A
null year would go to ``year=__HIVE_DEFAULT_PARTITION__``, which plain pandas
cannot read next to real years (pandas issue #55400): undated pages use year 0.

:func:`publish_run` is an upsert by primary key, safe to repeat: a row whose
content is unchanged (ignoring ``upsert.VOLATILE`` provenance) keeps its old
version, and a part file with no changed row is carried over as a hard link to
the very same file; only the files whose key range the run's rows fall into are rewritten (split
past 2x the target, merged under 1/4 of it), each a new content-named file, so a run killed
mid-way leaves the previous version current (failpoint ``compacted``, one hit per file written).
An output in the older ``source=/year=`` layout is moved to this one by its next publish.
Under the output's lock, the run builds the new version
(both tables, manifest, dataset card and its croissant.json) beside the current one and commits it
with one atomic symlink swap; versions the ``[history]`` policy no longer keeps
(``keep_versions``, ``keep_days``) are then deleted. A version is homogeneous in schema: when the schema gained a nullable
column, files written before are rewritten with it (readers given mixed files
drop the new column or fail), and an incompatible change is refused.
"""
from __future__ import annotations

import os
import re
import shutil
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from newsmill import schema as schemas
from newsmill.config import HistorySettings
from newsmill.runtime import failpoints
from newsmill.store import card, compaction, croissant, integrity, layout, manifest, partfile, snapshots, upsert, versions
from newsmill.store.checks import check_compatible, check_unique_keys, checked_name, checked_run_id, conform_input
from newsmill.store.checks import NULL_PARTITION, SchemaMismatchError  # noqa: F401 (this module's API)
from newsmill.store.ledger import Ledger, StagedInputs
from newsmill.store.lock import OutputLock
from newsmill.store.sorted_runs import NewRows, sort_columns
from newsmill.version import __version__

VOLATILE = upsert.VOLATILE
STAGING = layout.SIDE_STAGING  # quarantine and rejects files are staged here, then renamed into place
COMPRESSION = "zstd"
DEFAULT_KEEP_VERSIONS = HistorySettings.keep_versions  # the [history] policy's default (newsmill.config)
DEFAULT_KEEP_DAYS = HistorySettings.keep_days
PART_RE = re.compile(r"^part-[0-9a-f]{16}\.(parquet|pq)$")


@dataclass
class PublishStats:
    table: str
    rows_in: int
    inserted: int
    updated: int
    unchanged: int
    partitions_written: int  # part files written with changed rows (a range emptied by the run counts one)
    partitions_unchanged: int  # part files the run had rows for, all unchanged (carried over)
    partitions_migrated: int = 0  # part files rewritten only to bring old files to the current schema or layout


@dataclass
class Commit:
    version: int
    version_dir: Path
    stats: list[PublishStats]
    manifest: dict
    removed_versions: list[str] = field(default_factory=list)



def publish_table(name: str, table: pa.Table, output_dir: Path, *, run_id: str, **kw) -> PublishStats:
    """Upsert one table (the other is carried over unchanged); see :func:`publish_run`."""
    return publish_run({name: table}, output_dir, run_id=run_id, **kw).stats[0]


def publish_run(tables: dict[str, pa.Table | NewRows], output_dir: Path, *, run_id: str, run_info: dict | None = None,
                pipeline_version: str = __version__, keep_versions: int = DEFAULT_KEEP_VERSIONS,
                keep_days: float = DEFAULT_KEEP_DAYS, lock_timeout: float | None = None,
                pseudonymisation: str = card.DEFAULT_PSEUDONYMISATION,
                inputs: StagedInputs | None = None, threads: bool = False,
                target_file_bytes: int = partfile.TARGET_FILE_BYTES) -> Commit:
    """Upsert the tables and commit them together as one new version.

    A table is given whole (``pa.Table``) or as ``newrows.NewRows`` (sorted runs written piece
    by piece: what a run of any size publishes without holding it in memory); either way each
    partition is built in one streaming pass (``newsmill.store.partfile``). Inputs are checked
    (schema, keys, partition values) before anything is written or locked, so a refused batch
    leaves no trace. Concurrent runs on
    one output wait for each other (``lock_timeout``: None waits as long as it
    takes); a run killed before the swap leaves the previous version current, and
    the next run discards its leftovers. ``run_info`` (see ``manifest.run_info``)
    goes into the manifest's provenance and the dataset card. ``inputs`` (the run's staged ledger
    rows) go into the input ledger once the new version is current, still under the lock, so that
    two runs record their inputs in the order of their commits; not when nothing committed.
    ``threads``: the rows are captures of pages (a pipeline run): each article the current version
    already holds is merged with it as a new snapshot of its thread (``newsmill.store.snapshots``),
    under the lock, so that two runs never merge against a version the other replaced; else a
    plain upsert by key.
    """
    out = Path(output_dir)
    checked_run_id(run_id)
    if keep_versions < 1:
        raise ValueError(f"keep_versions must be at least 1, got {keep_versions}")
    batches = {name: _prepare(name, table) for name, table in tables.items()}
    if isinstance(target_file_bytes, bool) or not isinstance(target_file_bytes, int) or target_file_bytes < 1:
        raise ValueError(f"target_file_bytes must be a whole number of bytes above 0, got {target_file_bytes!r}")
    opts = dict(pipeline_version=pipeline_version, pseudonymisation=pseudonymisation, target=target_file_bytes)
    with OutputLock(out, run_id, timeout=lock_timeout):
        failpoints.hit("locked")
        store = versions.Store(out)
        store.discard_incomplete()
        store.settle()  # part files named by role (after a kill mid-rename, or an older newsmill's output)
        _settle_quarantine(out)
        legacy = store.legacy_tables()
        if legacy:  # the pre-version layout: adopt its files as a first version, once
            _commit(store, {}, run_id=run_id, label=f"{run_id}.migrated", base_roots={n: out / n for n in legacy},
                    run_info={"note": "adopted from the unversioned layout"}, **opts)
            for n in legacy:
                store.retire_legacy(n)
        store.ensure_links()
        # sizes only (the run's start hashed them): never build on a version that lost files since
        integrity.ensure_sound_locked(store, run_id, rebuild=False, hashes=False)
        store.collect_garbage(keep_versions, keep_days)  # complete versions a killed run never made current
        if threads:
            batches = snapshots.reconcile(store.current(), batches, next(iter(batches.values())).folder
                                          if batches else None)
        commit = _commit(store, batches, run_id=run_id, run_info=run_info, **opts)
        commit.removed_versions = store.collect_garbage(keep_versions, keep_days)
        if inputs is not None:
            Ledger(out).record_staged(inputs)
        failpoints.hit("done")
    return commit


def _settle_quarantine(out: Path) -> None:
    """Quarantine files an older newsmill named ``.parquet`` get the name no ``*.parquet`` glob matches."""
    for f in layout.legacy_quarantine(out):
        os.replace(f, f.with_name(layout.as_kept(f.name)))
        failpoints.hit("quarantine_renamed")


def write_quarantine(name: str, table: pa.Table, output_dir: Path, *, run_id: str) -> Path | None:
    """Keep rows that failed validation, for inspection: schema columns first (all
    nullable, since breaking a constraint is why a row is here), extra columns such
    as error messages after them."""
    w = SideFile(name, output_dir, run_id=run_id)
    w.add(table)
    return w.close()


class SideFile:
    """A run's quarantine file of one table (see :func:`write_quarantine`), written piece by piece
    (a run validates chunk by chunk) and moved into place whole when closed: readers see no
    file, then the complete one. No rows, no file."""

    def __init__(self, name: str, output_dir: Path, *, run_id: str):
        checked_run_id(run_id)
        if checked_name(name) == "rejects":
            raise ValueError("rejects have their own writer: use write_rejects")
        self.name, self.out, self.run_id = name, Path(output_dir), run_id
        self.path = layout.quarantine_file(self.out, name, run_id)
        self._writer: pq.ParquetWriter | None = None
        self._tmp: Path | None = None
        self.rows = 0

    def add(self, table: pa.Table) -> None:
        if table.num_rows == 0:
            return
        t = _quarantine_table(self.name, table)
        if self._writer is None:
            _inside(self.path, self.out)
            staging = self.out / STAGING / f"{self.run_id}.{self.name}"
            staging.mkdir(parents=True, exist_ok=True)
            self._tmp = staging / f"{uuid.uuid4().hex}{layout.TMP_SUFFIX}"
            self._writer = pq.ParquetWriter(str(self._tmp), t.schema, compression=COMPRESSION)
        else:
            t = t.cast(self._writer.schema)
        self._writer.write_table(t)
        self.rows += t.num_rows

    def abort(self) -> None:
        """Nothing of this file reaches the output (an error before it was complete)."""
        if self._writer is not None:
            try:
                self._writer.close()
            finally:
                _clean_staging(self._tmp.parent)
                self._writer = None

    def close(self) -> Path | None:
        if self._writer is None:
            return None
        try:
            self._writer.close()
            with open(self._tmp, "rb+") as fh:
                os.fsync(fh.fileno())
            self.path.parent.mkdir(parents=True, exist_ok=True)
            os.replace(self._tmp, self.path)
            versions.fsync_dir(self.path.parent)
        finally:
            _clean_staging(self._tmp.parent)
            self._writer = None
        return self.path


def _quarantine_table(name: str, table: pa.Table) -> pa.Table:
    s = schemas.load(name)
    full = s.arrow()
    arrays, fields = [], []
    for f in full:
        arrays.append(table[f.name].cast(f.type) if f.name in table.column_names else pa.nulls(table.num_rows, f.type))
        fields.append(f.with_nullable(True))
    for i, f in enumerate(table.schema):
        if f.name not in full.names:
            arrays.append(table.column(i))
            fields.append(f)
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields, metadata=full.metadata))


def write_rejects(table: pa.Table, output_dir: Path, *, run_id: str) -> Path | None:
    """Inputs that produced no record at all, one file per run (schema "rejects")."""
    checked_run_id(run_id)
    if table.num_rows == 0:
        return None
    s = schemas.load("rejects")
    out = _sorted(conform_input(table, s), s)
    path = layout.quarantine_file(output_dir, "rejects", checked_run_id(run_id))
    return _write_single(out, path, Path(output_dir), run_id)


# --- building a version ----------------------------------------------------------

def _commit(store: versions.Store, batches: dict[str, NewRows], *, run_id: str, run_info: dict | None,
            pipeline_version: str, pseudonymisation: str, label: str | None = None,
            target: int = partfile.TARGET_FILE_BYTES,
            base_roots: dict[str, Path] | None = None) -> Commit:
    """Build every table of the new version from the current one (or ``base_roots``), then swap."""
    base = store.current()
    prev = manifest.read(base) if base else None
    build = store.begin(label or run_id, versions.next_seq(prev, base))
    try:
        stats, tables = {}, {}
        for name in schemas.TABLES:
            if base_roots and name in base_roots:
                old_root, known = base_roots[name], {}
            else:
                old_root = base / name if base else None
                known = {f["path"]: f for f in ((prev or {}).get("tables", {}).get(name) or {}).get("files", [])}
            stats[name], tables[name] = _build_table(name, batches.get(name), old_root, build.path / name, known,
                                                       target, adopt=bool(base_roots and name in base_roots))
            if name not in batches:
                tables[name]["stats"] = None
        m = manifest.make(version=build.seq, version_dir=build.name, previous=prev, run_id=run_id,
                          pipeline_version=pipeline_version, tables=tables, run_info=run_info,
                          pseudonymisation=pseudonymisation)
        versions.write_new(build.path / manifest.NAME, manifest.dumps(m))
        versions.write_new(build.path / layout.CARD, card.render(m, _languages(build.path, m)).encode())
        versions.write_new(build.path / layout.CROISSANT, croissant.render(m))
        failpoints.hit("manifest_written")
        final = store.commit(build)
    except BaseException:
        store.abort(build)
        raise
    return Commit(build.seq, final, [stats[n] for n in batches], m)


def _languages(version_dir: Path, m: dict) -> list[str]:
    """The articles' languages, for the card's front matter: one column of the version's article files."""
    s = schemas.load("articles")
    files = [layout.stored_part(version_dir / "articles", f["path"])
             for f in m["tables"].get("articles", {}).get("files", [])]
    if "language" not in s.names or not files:
        return []
    import pyarrow.compute as pc

    found: set[str] = set()
    for f in files:
        col = pq.read_table(f, columns=["language"]).column("language")
        found.update(v for v in pc.unique(col).to_pylist() if v)
    return sorted(found)


def _build_table(name: str, rows: NewRows | None, old_root: Path | None, new_root: Path,
                 known: dict[str, dict], target: int = partfile.TARGET_FILE_BYTES, *,
                 adopt: bool = False) -> tuple[PublishStats, dict]:
    """One table of the new version: the files whose key range the run touches rewritten (split or
    merged at ``target``, see ``newsmill.store.compaction``), the others linked. ``adopt``: the
    files of an unversioned output become a first version; in the older ``source=/year=`` layout
    they are linked as they are, in their folders (the run's own version then migrates them).

    Every old file's schema is checked before the first write, so an incompatible
    dataset is refused whole rather than half-built.
    """
    s = schemas.load(name)
    stats = PublishStats(name, rows.num_rows if rows else 0, 0, 0, 0, 0, 0)
    new_root.mkdir()
    parts = compaction.scan(old_root, s)
    if adopt and rows is None and any(p.values for ps in parts.values() for p in ps):
        files = []
        for ps in parts.values():
            for p in ps:
                rel = p.path.parent.relative_to(old_root).as_posix()
                files.append((rel, _carry(p.path, new_root / rel, rel, known)))
        failpoints.hit("table_built")
        return stats, {"schema_hash": s.fingerprint, "schema_version": s.version,
                       "files": [e for _, e in sorted(files, key=lambda x: x[0])], "stats": asdict(stats)}
    cols = sort_columns(s)
    outdated: dict[str, list[bool]] = {}
    for d, ps in parts.items():
        outdated[d] = []
        for p in ps:
            file_schema = pq.read_schema(p.path)
            check_compatible(file_schema, s, p.path, in_path=tuple(p.values))
            outdated[d].append(bool(p.values) or (file_schema.metadata or {}).get(
                b"newsmill.schema_hash", b"").decode() != s.fingerprint)
    incoming: dict[str, list] = {}
    moved_out, known_rows, seg = {}, None, {}
    if rows is not None and rows.num_rows:
        old_keys = {f"{d}#{i}": upsert.key(partfile.OldFile([(p.path, p.values)], s).columns(list(s.primary_key)),
                                           s.primary_key)
                    for d, ps in parts.items() for i, p in enumerate(ps)}
        if old_keys:
            check_unique_keys(name, pa.concat_arrays(list(old_keys.values())))  # across every file
        names, codes = [], np.zeros(rows.num_rows, dtype=np.int32)
        code = {}
        for d, runs in rows.runs.items():
            for r in runs:
                g = compaction.route(r.order, parts.get(d, []), cols)
                seg[id(r)] = g
                for v in np.unique(g):
                    code.setdefault(f"{d}#{v}", len(code))
                lookup = np.array([code.get(f"{d}#{v}", -1) for v in range(int(g.max(initial=0)) + 1)], np.int32)
                codes[r.offset:r.offset + r.rows] = lookup[g]
        names = sorted(code, key=code.get)
        target_of = pa.DictionaryArray.from_arrays(pa.array(codes, pa.int32()), pa.array(names, pa.string()))
        moved_out, known_rows = upsert.locate_existing(old_keys, rows.keys, target_of)
        if len(rows.deleted):
            for u, k in old_keys.items():
                gone = pc.is_in(k, value_set=rows.deleted)
                if pc.any(gone).as_py():
                    moved_out[u] = gone if u not in moved_out else pc.or_(moved_out[u], gone)
        del old_keys
        known_rows = known_rows.to_numpy(zero_copy_only=False)
        incoming = rows.runs
    files = []
    for d in sorted(set(parts) | set(incoming)):
        ps = parts.get(d, [])
        n = max(1, len(ps))
        seg_runs: list[list] = [[] for _ in range(n)]
        for r in incoming.get(d, []):
            for g, piece in compaction.run_slices(r, seg[id(r)]).items():
                seg_runs[g].append(piece)
        masks = [moved_out.get(f"{d}#{i}") for i in range(n)]
        old_out = outdated.get(d, [False] * n)
        touched = {i for i in range(n) if seg_runs[i] or masks[i] is not None or (ps and old_out[i])}
        size = []
        for i in range(n):
            est = 0.0
            if ps:
                p = ps[i]
                kept = p.rows - (int(pc.sum(masks[i]).as_py() or 0) if masks[i] is not None else 0)
                est = p.content * kept / max(1, p.rows)
            for r in seg_runs[i]:
                k = known_rows[r.offset:r.offset + r.rows]
                if (~k).any():
                    est += float(compaction.run_row_bytes(r)[~k].sum())
            size.append(est)
        if ps and any(p.values for p in ps):
            ranges = [(0, n)]  # an older layout: the year's files, in source order, become one range
        else:
            ranges = compaction.plan(n, touched, size, target)
        in_range = set()
        for a, b in ranges:
            in_range.update(range(a, b))
            runs = [r for i in range(a, b) for r in seg_runs[i]]
            old = partfile.OldFile([(p.path, p.values) for p in ps[a:b]], s) if ps else None
            mo = None
            if any(masks[i] is not None for i in range(a, b)):
                mo = np.concatenate([masks[i].to_numpy(zero_copy_only=False) if masks[i] is not None
                                     else np.zeros(ps[i].rows, dtype=bool) for i in range(a, b)])
            built = partfile.build(s, old, any(old_out[a:b]) if ps else False, runs,
                                   [known_rows[r.offset:r.offset + r.rows] for r in runs], mo, new_root / d, d,
                                   target=target, expected=int(sum(size[a:b])))
            stats.inserted += built.inserted
            stats.updated += built.updated
            stats.unchanged += built.unchanged
            written = len(built.entries or [])
            if built.kind in ("written", "gone"):
                stats.partitions_written += max(1, written)
            elif built.kind == "unchanged":
                stats.partitions_unchanged += max(1, b - a)
            if built.migrated:
                stats.partitions_migrated += written
            if built.entries is not None:
                for j, e in enumerate(built.entries):
                    files.append(((d, a, j), e))
                    failpoints.hit("compacted")
            else:
                for i, p in enumerate(ps[a:b]):
                    files.append(((d, a + i, 0), _carry(p.path, new_root / d, d, known)))
        for i, p in enumerate(ps):
            if i not in in_range:
                files.append(((d, i, 0), _carry(p.path, new_root / d, d, known)))
    failpoints.hit("table_built")
    files = [e for _, e in sorted(files, key=lambda x: x[0])]  # in part-file order: partitions, then key ranges
    return stats, {"schema_hash": s.fingerprint, "schema_version": s.version, "files": files,
                   "stats": asdict(stats)}


def _carry(src: Path, folder: Path, rel_dir: str, known: dict[str, dict]) -> dict:
    """An unchanged file: the same file, hard-linked (legacy files get their content name)."""
    entry = known.get(f"{rel_dir}/{layout.as_current(src.name)}") if PART_RE.match(src.name) else None
    if entry is None:
        entry = manifest.file_entry("", path=src)
    folder.mkdir(parents=True, exist_ok=True)
    versions.link_or_copy(src, folder / layout.part_name(entry["sha256"], current=False))
    failpoints.hit("part_linked")
    return {**entry, "path": f"{rel_dir}/{layout.part_name(entry['sha256'])}"}


def _prepare(name: str, table: pa.Table | NewRows) -> NewRows:
    if isinstance(table, NewRows):
        if table.name != name:
            raise ValueError(f"rows of table {table.name!r} given for {name!r}")
        return table.finish()
    checked_name(name)
    if name not in schemas.TABLES:
        raise ValueError(f"{name!r} is not a published table (one of {schemas.TABLES})")
    rows = NewRows(name)
    rows.add(table)
    return rows.finish()


def _sorted(table: pa.Table, s: schemas.TableSchema) -> pa.Table:
    keys = [c for c in dict.fromkeys((*s.sort_by, *s.primary_key)) if c in table.column_names]
    return table.sort_by([(c, "ascending") for c in keys])


def _inside(path: Path, output_dir: Path) -> Path:
    """Defence in depth after value checks: also catches symlinks pointing out."""
    if not path.resolve().is_relative_to(Path(output_dir).resolve()):
        raise ValueError(f"refusing to write {path}: outside the output folder {output_dir}")
    return path


# --- files ---------------------------------------------------------------------


def _write_single(table: pa.Table, path: Path, output_dir: Path, run_id: str) -> Path:
    staging = layout.side_staging(output_dir, checked_run_id(run_id))
    try:
        _write_atomic(table, path, staging, output_dir)
    finally:
        _clean_staging(staging)
    return path


def _write_atomic(table: pa.Table, final: Path, staging: Path, output_dir: Path) -> None:
    """Readers see the old file or the new one, never a partial one: the temp file
    lives outside the dataset (same filesystem, so the rename is atomic)."""
    _inside(final, output_dir)
    staging.mkdir(parents=True, exist_ok=True)
    tmp = staging / f"{uuid.uuid4().hex}{layout.TMP_SUFFIX}"
    with open(tmp, "wb") as fh:
        pq.write_table(table, fh, compression=COMPRESSION)
        fh.flush()
        os.fsync(fh.fileno())
    final.parent.mkdir(parents=True, exist_ok=True)
    os.replace(tmp, final)
    versions.fsync_dir(final.parent)


def _clean_staging(staging: Path) -> None:
    shutil.rmtree(staging, ignore_errors=True)
    try:
        staging.parent.rmdir()  # only if no other run is staging
    except OSError:
        pass
