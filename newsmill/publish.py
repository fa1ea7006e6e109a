"""Publish record tables as hive-partitioned Parquet datasets.

Layout: ``<output>/<table>/source=<source>/year=<year>/part-0.parquet``, one
zstd file per partition, rows sorted by the schema's ``sort_by``; partition
columns live only in the path, every other field keeps its description.

A year that is null goes to ``year=__HIVE_DEFAULT_PARTITION__`` (Hive's marker):
pyarrow, DuckDB and Polars read it back as NULL. Plain ``pandas.read_parquet``
cannot read a dataset that mixes it with real years (pyarrow's dictionary
conversion fails, pandas issue #55400); no other directory value does better
(``year=null`` is NULL only for DuckDB, ``year=`` only for Polars, a missing
segment breaks DuckDB and Polars). Pandas users pass the typed partitioning,
see :func:`hive_partitioning`, or use :func:`read_table`.

Untyped readers infer partition types from the folder names: pandas gives
categoricals (``source``: str categories, ``year``: int32 categories), DuckDB
``year`` BIGINT (``hive_types={'year': INTEGER}``), Polars Int64
(``hive_schema=``); a ``source`` that looks like a number (``0161``) can become
one when every source does. :func:`read_table` types them from the schema.

Publishing is an upsert by primary key, safe to repeat: a row whose content is
unchanged (ignoring :data:`VOLATILE` provenance) keeps its old version, and a
partition with no changed row is not rewritten, so re-running a batch leaves
every file byte-identical. Each file is replaced atomically (staged under
``<output>/_staging/<run_id>/``, fsynced, ``os.replace``d). There is no lock:
one writer per output folder at a time.
"""
from __future__ import annotations

import os
import re
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from newsmill import schema as schemas

# Provenance that changes on every run without the record changing; ignored
# when deciding whether a row is unchanged (the old value is kept).
VOLATILE = ("extracted_at", "pipeline_version")
NULL_PARTITION = "__HIVE_DEFAULT_PARTITION__"
PART_FILE = "part-0.parquet"
STAGING = "_staging"  # leading underscore: ignored by pyarrow's dataset discovery
COMPRESSION = "zstd"

_SOURCE_RE = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
_NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")
_RUN_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_MAX_SEGMENT = 200  # well under the usual 255-byte file name limit


class SchemaMismatchError(ValueError):
    """An existing file cannot be read with the current schema."""


@dataclass
class PublishStats:
    table: str
    rows_in: int
    inserted: int
    updated: int
    unchanged: int
    partitions_written: int
    partitions_unchanged: int


def dataset_path(name: str, output_dir: Path) -> Path:
    return Path(output_dir) / _checked_name(name)


def hive_partitioning(name: str) -> ds.Partitioning:
    """Typed hive partitioning: pass it to pyarrow or ``pandas.read_parquet(..., partitioning=)``
    so that partition columns get the schema's types and the null-year marker reads as null."""
    return ds.partitioning(schemas.load(_checked_name(name)).partitioning_arrow(), flavor="hive")


def read_table(name: str, output_dir: Path) -> pa.Table:
    """The whole dataset with the full schema, partition columns typed as declared.

    Every file's schema is checked first, so an incompatible old file fails with a
    clear message instead of a reader error; files that lack a newer nullable
    column read it as null.
    """
    s = schemas.load(_checked_name(name))
    root = dataset_path(name, output_dir)
    files = _data_files(root)
    if not files:
        return s.arrow().empty_table()
    for f in files:
        _check_compatible(pq.read_schema(f), s, f)
    dataset = ds.dataset(
        [str(f) for f in files],
        schema=s.arrow(),
        format="parquet",
        partitioning=hive_partitioning(name),
        partition_base_dir=str(root),
    )
    return dataset.to_table()


def publish_table(name: str, table: pa.Table, output_dir: Path, *, run_id: str) -> PublishStats:
    """Upsert ``table`` into the dataset, rewriting only partitions whose rows change.

    Everything is checked (schema, keys, partition values, target paths) before
    the first write, so a refused batch leaves the dataset as it was.
    """
    s = schemas.load(_checked_name(name))
    staging = Path(output_dir) / STAGING / _checked_run_id(run_id)
    output_dir = Path(output_dir)
    root = dataset_path(name, output_dir)
    table = _conform_input(table, s)
    stats = PublishStats(name, table.num_rows, 0, 0, 0, 0, 0)
    if table.num_rows == 0:
        return stats

    rel = _partition_dirs(table, s)
    keys = _key(table, s.primary_key)
    files = {_rel_dir(f, root): f for f in _data_files(root) if f.name == PART_FILE}
    moved_out, known = _locate_existing(files, keys, rel, s)
    incoming = _row_groups(rel)
    targets = {d: _inside(root / d / PART_FILE, output_dir) for d in sorted(set(incoming) | set(moved_out))}
    stored = s.stored_arrow()
    try:
        for d, final in targets.items():
            old = _read_stored(files[d], s) if d in files else stored.empty_table()
            if d in moved_out:
                old = old.filter(pc.invert(moved_out[d]))
            result = old
            if d in incoming:
                rows = table.take(incoming[d])
                new = pa.Table.from_arrays([rows.column(n) for n in stored.names], schema=stored)
                merged, (ins, upd, same) = _merge(old, new, s, known.take(incoming[d]))
                stats.inserted += ins
                stats.updated += upd
                stats.unchanged += same
                if merged is None and d not in moved_out:
                    stats.partitions_unchanged += 1
                    continue
                result = merged if merged is not None else old
            if result.num_rows:
                _write_atomic(_sorted(result, s), final, staging, output_dir)
            else:
                _remove_partition(final, root)
            stats.partitions_written += 1
    finally:
        _clean_staging(staging)
    return stats


def write_quarantine(name: str, table: pa.Table, output_dir: Path, *, run_id: str) -> Path | None:
    """Keep rows that failed validation, for inspection: schema columns first (all
    nullable, since breaking a constraint is why a row is here), extra columns such
    as error messages after them."""
    _checked_run_id(run_id)
    if _checked_name(name) == "rejects":
        raise ValueError("rejects have their own writer: use write_rejects")
    if table.num_rows == 0:
        return None
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
    out = pa.Table.from_arrays(arrays, schema=pa.schema(fields, metadata=full.metadata))
    path = Path(output_dir) / "quarantine" / name / f"{_checked_run_id(run_id)}.parquet"
    return _write_single(out, path, Path(output_dir), run_id)


def write_rejects(table: pa.Table, output_dir: Path, *, run_id: str) -> Path | None:
    """Inputs that produced no record at all, one file per run (schema "rejects")."""
    _checked_run_id(run_id)
    if table.num_rows == 0:
        return None
    s = schemas.load("rejects")
    out = _sorted(_conform_input(table, s), s)
    path = Path(output_dir) / "quarantine" / "rejects" / f"{_checked_run_id(run_id)}.parquet"
    return _write_single(out, path, Path(output_dir), run_id)


# --- merging -------------------------------------------------------------------

def _locate_existing(files: dict[str, Path], keys: pa.Array, rel: pa.Array, s: schemas.TableSchema):
    """Where the batch's keys already live, computed once for the whole batch.

    Returns ({partition: mask of its rows whose key now belongs to another
    partition}, per-batch-row "key exists somewhere"): a key that moved (e.g. its
    year was corrected) must leave its old partition or the dataset would hold it
    twice, and it counts as an update, not an insert.
    """
    old_keys = {}
    for d, f in files.items():
        pf = pq.ParquetFile(f)
        _check_compatible(pf.schema_arrow, s, f)  # before any write, not halfway through
        old_keys[d] = _key(pf.read(columns=list(s.primary_key)), s.primary_key)
    ex_key = pa.chunked_array(list(old_keys.values()), pa.string())
    ex_rel = pa.chunked_array([pa.array([d] * len(k), pa.string()) for d, k in old_keys.items()], pa.string())
    target = pc.take(rel, pc.index_in(ex_key, value_set=keys))  # null: key not in this batch
    moved = pc.fill_null(pc.not_equal(target, ex_rel), False)
    moved_out, offset = {}, 0
    for d, k in old_keys.items():
        m = moved.slice(offset, len(k)).combine_chunks()
        offset += len(k)
        if pc.any(m).as_py():
            moved_out[d] = m
    return moved_out, pc.is_in(keys, value_set=ex_key)


def _row_groups(rel: pa.Array) -> dict[str, pa.Array]:
    """Row indices per partition: one sort instead of one filter per partition."""
    order = pc.sort_indices(rel)
    groups, start = {}, 0
    for g in pc.value_counts(rel.take(order)).to_pylist():
        groups[g["values"]] = order.slice(start, g["counts"])
        start += g["counts"]
    return groups


def _merge(old: pa.Table, new: pa.Table, s: schemas.TableSchema, known: pa.Array):
    """Merge new rows into a partition's old rows.

    ``known``: per new row, whether its key exists anywhere in the dataset.
    Returns (merged table or None when nothing changed, (inserted, updated, unchanged)).
    """
    old_keys, new_keys = _key(old, s.primary_key), _key(new, s.primary_key)
    idx = pc.index_in(new_keys, value_set=old_keys)
    matched = pc.is_valid(idx)
    same = pa.array([False] * new.num_rows, pa.bool_())
    if pc.any(matched).as_py():
        m_idx = idx.filter(matched)
        compare = [c for c in new.column_names if c not in VOLATILE]
        equal_matched = _rows_equal(old.take(m_idx).select(compare), new.filter(matched).select(compare))
        # scatter the per-match result back onto all new rows
        same = pc.replace_with_mask(same, matched, equal_matched)
    n_unchanged = pc.sum(same).as_py() or 0
    n_inserted = pc.sum(pc.invert(known)).as_py() or 0
    counts = (n_inserted, new.num_rows - n_unchanged - n_inserted, n_unchanged)
    if n_unchanged == new.num_rows:
        return None, counts
    changed = new.filter(pc.invert(same))
    kept = old.filter(pc.invert(pc.is_in(old_keys, value_set=_key(changed, s.primary_key))))
    return pa.concat_tables([kept, changed]), counts


def _rows_equal(a: pa.Table, b: pa.Table) -> pa.Array:
    """Per-row equality, nulls equal to nulls (list columns compared in Python:
    pyarrow's comparison kernels do not take lists)."""
    if a.equals(b):
        return pa.array([True] * a.num_rows, pa.bool_())
    result = pa.array([True] * a.num_rows, pa.bool_())
    for name in a.column_names:
        x, y = a.column(name), b.column(name)
        if pa.types.is_list(x.type) or pa.types.is_large_list(x.type):
            eq = pa.array([p == q for p, q in zip(x.to_pylist(), y.to_pylist())], pa.bool_())
        else:
            both_null = pc.and_(pc.is_null(x), pc.is_null(y))
            eq = pc.fill_null(pc.or_kleene(pc.equal(x, y), both_null), False)
        result = pc.and_(result, eq)
    return result.combine_chunks() if isinstance(result, pa.ChunkedArray) else result


def _key(table: pa.Table, pk: tuple[str, ...]) -> pa.Array:
    """One string per row identifying it; composite keys joined with a unit separator."""
    cols = [pc.cast(table.column(c), pa.string()) for c in pk]
    key = cols[0] if len(cols) == 1 else pc.binary_join_element_wise(*cols, "\x1f")
    return key.combine_chunks() if isinstance(key, pa.ChunkedArray) else key


def _sorted(table: pa.Table, s: schemas.TableSchema) -> pa.Table:
    keys = [c for c in dict.fromkeys((*s.sort_by, *s.primary_key)) if c in table.column_names]
    return table.sort_by([(c, "ascending") for c in keys])


# --- validation ----------------------------------------------------------------

def _conform_input(table: pa.Table, s: schemas.TableSchema) -> pa.Table:
    """Input in schema order and types; refuses what would silently corrupt the dataset:
    missing or unknown columns, nulls in required fields, naive timestamps (their
    zone is unknown), duplicate keys."""
    target = s.arrow()
    missing = [n for n in target.names if n not in table.column_names]
    extra = [n for n in table.column_names if n not in target.names]
    if missing or extra:
        raise ValueError(f"{s.name}: table does not match the schema (missing {missing}, unknown {extra})")
    arrays = []
    for f in target:
        col = table.column(f.name)
        if pa.types.is_timestamp(f.type) and pa.types.is_timestamp(col.type) and col.type.tz is None:
            raise ValueError(f"{s.name}.{f.name}: timestamps must be time-zone aware (UTC), got {col.type}")
        if not f.nullable and col.null_count:
            raise ValueError(f"{s.name}.{f.name}: {col.null_count} null(s) in a non-nullable field")
        arrays.append(col.cast(f.type))
    out = pa.Table.from_arrays(arrays, schema=target)
    keys = _key(out, s.primary_key)
    if len(pc.unique(keys)) != len(keys):
        counts = pc.value_counts(keys)
        dups = counts.filter(pc.greater(counts.field("counts"), 1)).field("values").to_pylist()
        raise ValueError(f"{s.name}: {len(dups)} duplicate primary key(s) in the input, e.g. {dups[:3]}")
    return out


def _check_partition_value(column: str, text: str, is_string: bool) -> None:
    """Refuse a folder name that could escape the dataset or be hidden from readers."""
    bad = not text or len(text) > _MAX_SEGMENT or any(t in text for t in ("/", "\\", "..", "\x00"))
    if bad or (is_string and not _SOURCE_RE.match(text)):
        raise ValueError(
            f"unsafe partition value {column}={text!r}: must match {_SOURCE_RE.pattern}, "
            f"at most {_MAX_SEGMENT} characters, without '..', '/', '\\' or NUL")


def _partition_dirs(table: pa.Table, s: schemas.TableSchema) -> pa.Array:
    """Relative partition folder of every row; each distinct value is checked first."""
    segments = []
    for c in s.partition_by:
        col = table.column(c)
        text = pc.cast(col, pa.string())  # checked exactly as it will be written
        for v in pc.unique(text).drop_null().to_pylist():
            _check_partition_value(c, v, pa.types.is_string(col.type))
        text = pc.fill_null(text, NULL_PARTITION)
        segments.append(pc.binary_join_element_wise(f"{c}=", text, ""))
    rel = segments[0] if len(segments) == 1 else pc.binary_join_element_wise(*segments, "/")
    return rel.combine_chunks() if isinstance(rel, pa.ChunkedArray) else rel


def _checked_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise ValueError(f"invalid table name {name!r}: must match {_NAME_RE.pattern}")
    return name


def _checked_run_id(run_id: str) -> str:
    if not isinstance(run_id, str) or not _RUN_ID_RE.match(run_id) or ".." in run_id or len(run_id) > _MAX_SEGMENT:
        raise ValueError(f"invalid run_id {run_id!r}: must match {_RUN_ID_RE.pattern}, without '..'")
    return run_id


def _inside(path: Path, output_dir: Path) -> Path:
    """Defence in depth after value checks: also catches symlinks pointing out."""
    if not path.resolve().is_relative_to(Path(output_dir).resolve()):
        raise ValueError(f"refusing to write {path}: outside the output folder {output_dir}")
    return path


def _check_compatible(file_schema: pa.Schema, s: schemas.TableSchema, where) -> None:
    """Old files stay readable when the only change is a new nullable column;
    anything else (type change, dropped column, newly required column) needs a
    migration, so it is an error rather than a silent cast or data loss."""
    meta = file_schema.metadata or {}
    table = meta.get(b"newsmill.table", b"").decode()
    if table and table != s.name:
        raise SchemaMismatchError(f"{where}: file belongs to table {table!r}, not {s.name!r}")
    old_hash = meta.get(b"newsmill.schema_hash", b"").decode()
    if old_hash == s.fingerprint:
        return
    stored = s.stored_arrow()
    problems = []
    for f in file_schema:
        if f.name not in stored.names:
            problems.append(f"column {f.name!r} is not in the current schema")
            continue
        want = stored.field(f.name)
        if f.type != want.type:
            problems.append(f"column {f.name!r} is {f.type}, schema says {want.type}")
        elif f.nullable and not want.nullable:
            problems.append(f"column {f.name!r} became non-nullable")
    for want in stored:
        if want.name not in file_schema.names and not want.nullable:
            problems.append(f"new column {want.name!r} is not nullable")
    if problems:
        raise SchemaMismatchError(
            f"{where}: written with {s.name} schema {old_hash or '(unknown)'}, incompatible with "
            f"current schema {s.fingerprint}: " + "; ".join(problems) + ". Migrate or republish the dataset.")


# --- files ---------------------------------------------------------------------

def _data_files(root: Path) -> list[Path]:
    """Parquet files readers would see (pyarrow skips names starting with '.' or '_')."""
    if not root.is_dir():
        return []
    return sorted(p for p in root.rglob("*.parquet")
                  if not any(part.startswith((".", "_")) for part in p.relative_to(root).parts))


def _rel_dir(path: Path, root: Path) -> str:
    return path.parent.relative_to(root).as_posix()


def _read_stored(path: Path, s: schemas.TableSchema) -> pa.Table:
    """An existing partition file as the current stored schema (new nullable columns as null)."""
    pf = pq.ParquetFile(path)  # a single file: no partition columns inferred from the path
    _check_compatible(pf.schema_arrow, s, path)
    t = pf.read()
    stored = s.stored_arrow()
    # the cast also renames Parquet's list 'element' children back to Arrow's 'item'
    arrays = [t.column(f.name).cast(f.type) if f.name in t.column_names else pa.nulls(t.num_rows, f.type)
              for f in stored]
    return pa.Table.from_arrays(arrays, schema=stored)


def _write_single(table: pa.Table, path: Path, output_dir: Path, run_id: str) -> Path:
    staging = output_dir / STAGING / _checked_run_id(run_id)
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
    tmp = staging / f"{uuid.uuid4().hex}.parquet"
    with open(tmp, "wb") as fh:
        pq.write_table(table, fh, compression=COMPRESSION)
        fh.flush()
        os.fsync(fh.fileno())
    final.parent.mkdir(parents=True, exist_ok=True)
    os.replace(tmp, final)
    _fsync_dir(final.parent)


def _remove_partition(final: Path, root: Path) -> None:
    """A partition whose last rows moved elsewhere disappears, with its empty folders."""
    final.unlink(missing_ok=True)
    d = final.parent
    while d != root and d.is_relative_to(root):
        try:
            d.rmdir()
        except OSError:
            break
        d = d.parent
    _fsync_dir(d)


def _fsync_dir(d: Path) -> None:
    """Make the rename durable (POSIX only; Windows cannot open folders)."""
    if os.name != "posix":
        return
    fd = os.open(d, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _clean_staging(staging: Path) -> None:
    shutil.rmtree(staging, ignore_errors=True)
    try:
        staging.parent.rmdir()  # only if no other run is staging
    except OSError:
        pass
