"""What a batch and an existing file must satisfy before anything is written.

Refusing early is what keeps a bad batch from leaving a trace: every check here
runs before the output is locked or touched, or (file schemas) before the first
byte of a new version is written.
"""
from __future__ import annotations

import re

import pyarrow as pa
import pyarrow.compute as pc

from newsmill import schema as schemas
from newsmill.store import upsert

NULL_PARTITION = "__HIVE_DEFAULT_PARTITION__"
_SOURCE_RE = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
_NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")
_RUN_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_MAX_SEGMENT = 200  # well under the usual 255-byte file name limit


class SchemaMismatchError(ValueError):
    """An existing file cannot be read with the current schema."""


def conform_input(table: pa.Table, s: schemas.TableSchema) -> pa.Table:
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
    check_unique_keys(s.name, upsert.key(out, s.primary_key))
    return out


def check_unique_keys(table: str, keys: pa.Array) -> None:
    """Refuse primary keys given twice: an upsert would keep one of the rows at random."""
    if len(keys) and len(pc.unique(keys)) != len(keys):
        counts = pc.value_counts(keys)
        dups = counts.filter(pc.greater(counts.field("counts"), 1)).field("values").to_pylist()
        raise ValueError(f"{table}: {len(dups)} duplicate primary key(s) in the input, e.g. {dups[:3]}")


def check_partition_value(column: str, text: str, is_string: bool, *, what: str = "partition") -> None:
    """Refuse a folder name that could escape the dataset or be hidden from readers."""
    bad = not text or len(text) > _MAX_SEGMENT or any(t in text for t in ("/", "\\", "..", "\x00"))
    if bad or (is_string and not _SOURCE_RE.match(text)):
        raise ValueError(
            f"unsafe {what} value {column}={text!r}: must match {_SOURCE_RE.pattern}, "
            f"at most {_MAX_SEGMENT} characters, without '..', '/', '\\' or NUL")


SOURCE = "source"  # the site key: a folder name in older layouts (and in raw, quarantine and report paths)


def check_source_values(table: pa.Table) -> None:
    """``source`` values stay safe folder names, as when they were a partition folder (an older
    output's layout, readers who partition by it): refused like a partition value."""
    if SOURCE in table.column_names and pa.types.is_string(table.column(SOURCE).type):
        for v in pc.unique(table.column(SOURCE)).drop_null().to_pylist():
            check_partition_value(SOURCE, v, True, what="source")


def partition_dirs(table: pa.Table, s: schemas.TableSchema) -> pa.Array:
    """Relative partition folder of every row; each distinct value is checked first."""
    segments = []
    for c in s.partition_by:
        col = table.column(c)
        text = pc.cast(col, pa.string())  # checked exactly as it will be written
        for v in pc.unique(text).drop_null().to_pylist():
            check_partition_value(c, v, pa.types.is_string(col.type))
        text = pc.fill_null(text, NULL_PARTITION)
        segments.append(pc.binary_join_element_wise(f"{c}=", text, ""))
    rel = segments[0] if len(segments) == 1 else pc.binary_join_element_wise(*segments, "/")
    return rel.combine_chunks() if isinstance(rel, pa.ChunkedArray) else rel


def checked_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise ValueError(f"invalid table name {name!r}: must match {_NAME_RE.pattern}")
    return name


def checked_run_id(run_id: str) -> str:
    if not isinstance(run_id, str) or not _RUN_ID_RE.match(run_id) or ".." in run_id or len(run_id) > _MAX_SEGMENT:
        raise ValueError(f"invalid run_id {run_id!r}: must match {_RUN_ID_RE.pattern}, without '..'")
    return run_id


def check_compatible(file_schema: pa.Schema, s: schemas.TableSchema, where, *, in_path: tuple[str, ...] = ()) -> None:
    """Old files stay readable when the only change is a new nullable column;
    anything else (type change, dropped column, newly required column) needs a
    migration, so it is an error rather than a silent cast or data loss. ``in_path``: columns the
    file keeps in its folder names (an older layout's ``source=...``)."""
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
        if want.name not in file_schema.names and not want.nullable and want.name not in in_path:
            problems.append(f"new column {want.name!r} is not nullable")
    if problems:
        raise SchemaMismatchError(
            f"{where}: written with {s.name} schema {old_hash or '(unknown)'}, incompatible with "
            f"current schema {s.fingerprint}: " + "; ".join(problems) + ". Migrate or republish the dataset.")
