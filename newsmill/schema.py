"""Record schemas, read from the JSON files in ``schemas/``.

The JSON files are the single source of truth: the Parquet schema (with field
descriptions in its metadata), the pandas dtypes used for validation and the
data dictionary in the docs are all derived here, so a field is declared once.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pyarrow as pa

SCHEMA_DIR = Path(__file__).resolve().parent / "schemas"

_ARROW_TYPES = {
    "string": pa.string(),
    "int32": pa.int32(),
    "int64": pa.int64(),
    "bool": pa.bool_(),
    "date": pa.date32(),
    "timestamp": pa.timestamp("us", tz="UTC"),
    "list<string>": pa.list_(pa.string()),
}

# pandas dtypes used when a table is handed to Great Expectations: nullable
# extension types keep missing values distinct from zeros and empty strings.
_PANDAS_DTYPES = {
    "string": "str",
    "int32": "Int32",
    "int64": "Int64",
    "bool": "boolean",
    "date": "object",
    "timestamp": "datetime64[us, UTC]",
    "list<string>": "object",
}


@dataclass(frozen=True)
class Field:
    name: str
    type: str
    nullable: bool
    description: str


@dataclass(frozen=True)
class TableSchema:
    name: str
    version: int
    description: str
    primary_key: tuple[str, ...]
    partition_by: tuple[str, ...]
    sort_by: tuple[str, ...]
    fields: tuple[Field, ...]

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.fields]

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(f"{self.name} has no field {name!r}")

    def arrow(self, *, exclude: tuple[str, ...] = ()) -> pa.Schema:
        """Arrow schema with each field's description in its metadata."""
        return pa.schema(
            [
                pa.field(
                    f.name,
                    _ARROW_TYPES[f.type],
                    nullable=f.nullable,
                    metadata={"description": f.description},
                )
                for f in self.fields
                if f.name not in exclude
            ],
            metadata={
                "newsmill.table": self.name,
                "newsmill.schema_version": str(self.version),
                "newsmill.schema_hash": self.fingerprint,
            },
        )

    def stored_arrow(self) -> pa.Schema:
        """Schema of the Parquet files: hive partition columns live in the path."""
        return self.arrow(exclude=self.partition_by)

    def partitioning_arrow(self) -> pa.Schema:
        return pa.schema([pa.field(n, _ARROW_TYPES[self.field(n).type]) for n in self.partition_by])

    def pandas_dtypes(self) -> dict[str, str]:
        return {f.name: _PANDAS_DTYPES[f.type] for f in self.fields}

    @property
    def fingerprint(self) -> str:
        spec = [(f.name, f.type, f.nullable) for f in self.fields]
        return hashlib.sha256(json.dumps(spec).encode()).hexdigest()[:16]


def _parse(spec: dict) -> TableSchema:
    fields = tuple(
        Field(f["name"], f["type"], bool(f.get("nullable", True)), f.get("description", ""))
        for f in spec["fields"]
    )
    unknown = [f.name for f in fields if f.type not in _ARROW_TYPES]
    if unknown:
        raise ValueError(f"schema {spec['name']}: unknown field types for {unknown}")
    return TableSchema(
        name=spec["name"],
        version=int(spec["version"]),
        description=spec.get("description", ""),
        primary_key=tuple(spec["primary_key"]),
        partition_by=tuple(spec.get("partition_by", [])),
        sort_by=tuple(spec.get("sort_by", spec["primary_key"])),
        fields=fields,
    )


@cache
def load(name: str) -> TableSchema:
    """Load ``schemas/<name>.json`` (articles, comments, rejects)."""
    path = SCHEMA_DIR / f"{name}.json"
    if not path.exists():
        raise FileNotFoundError(f"no schema {name!r}: expected {path}")
    return _parse(json.loads(path.read_text(encoding="utf-8")))


TABLES = ("articles", "comments")


def row_key(table: pa.Table, columns: tuple[str, ...]) -> pa.Array:
    """One string per row identifying it by ``columns`` (a primary key, a uniqueness check's columns);
    composite keys joined with a unit separator; null when a part is null."""
    import pyarrow.compute as pc

    parts = [pc.cast(table.column(c), pa.string()) for c in columns]
    k = parts[0] if len(parts) == 1 else pc.binary_join_element_wise(*parts, "\x1f")
    return k.combine_chunks() if isinstance(k, pa.ChunkedArray) else k


def to_arrow(name: str, rows: list[dict]) -> pa.Table:
    """Build a typed Arrow table from record dicts; missing keys become nulls."""
    schema = load(name).arrow()
    cols = {f.name: [r.get(f.name) for r in rows] for f in schema}
    return pa.Table.from_pydict(cols, schema=schema)


def data_dictionary_markdown() -> str:
    """The data dictionary, generated from the schema files (used by README and docs)."""
    out = []
    for name in (*TABLES, "rejects"):
        s = load(name)
        out.append(f"### `{s.name}` (schema version {s.version})\n\n{s.description}\n")
        keys = ", ".join(f"`{k}`" for k in s.primary_key)
        parts = ", ".join(f"`{k}`" for k in s.partition_by) or "none"
        out.append(f"Key: {keys}. Partitioned by: {parts}.\n")
        out.append("| field | type | nullable | description |\n|---|---|---|---|")
        for f in s.fields:
            out.append(f"| `{f.name}` | {f.type} | {'yes' if f.nullable else 'no'} | {f.description} |")
        out.append("")
    return "\n".join(out)
