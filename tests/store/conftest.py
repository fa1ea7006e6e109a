"""Shared by the store's tests: valid rows and tables of both schemas, and ways to read a dataset back.

Test modules import these from here (``from tests.store.conftest import ...``), never from each other.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import json
import math
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from newsmill import schema
from newsmill.store import publish, reading

CHILD_SCRIPT = Path(__file__).resolve().with_name("publish_child.py")  # a second publisher process


UTC = dt.timezone.utc


T0 = dt.datetime(2021, 3, 28, 1, 30, 15, 123456, tzinfo=UTC)


def _value(f: schema.Field, i: int):
    if f.type == "string":
        return f"{f.name} {i} ünï"
    if f.type in ("int32", "int64"):
        return i * 7 + 1
    if f.type == "bool":
        return i % 2 == 0
    if f.type == "date":
        return dt.date(2020, 1, 1) + dt.timedelta(days=40 * i)
    if f.type == "timestamp":
        return T0 + dt.timedelta(days=i, hours=i, microseconds=i)
    if f.type == "list<string>":
        return [f"{f.name}-{i}-{k}" for k in range(i % 3)]  # i=0: empty list
    raise AssertionError(f.type)


def row(name: str, i: int, **overrides) -> dict:
    """A valid row: every field filled; nullable fields null on every third row."""
    s = schema.load(name)
    r = {}
    for f in s.fields:
        nullable_here = f.nullable and f.name not in s.partition_by
        r[f.name] = None if nullable_here and i % 3 == 2 else _value(f, i)
    r.update(overrides)
    return r


def articles(*specs: tuple[str, int | None, str], **common) -> pa.Table:
    """specs: (source, year, article_id)."""
    rows = [row("articles", i, source=s, year=y, article_id=a, **common) for i, (s, y, a) in enumerate(specs)]
    return schema.to_arrow("articles", rows)


def sample_articles() -> pa.Table:
    rows = [
        row("articles", 0, source="dawn", year=2023, article_id="a0"),
        row("articles", 1, source="dawn", year=2024, article_id="a1", caption_credits=["AFP", None]),
        row("articles", 2, source="tribune.pk", year=0, article_id="a2"),  # undated (year 0) + nulls
        row("articles", 3, source="tribune.pk", year=2024, article_id="a3",
            published_at=dt.datetime(1969, 7, 20, 20, 17, 40, tzinfo=UTC)),
    ]
    return schema.to_arrow("articles", rows)


def sample_comments() -> pa.Table:
    parents = {"a0": ("dawn", 2023), "a1": ("dawn", 2024), "a2": ("tribune.pk", 0)}
    rows = []
    for i, (aid, (src, yr)) in enumerate([*parents.items(), *parents.items()]):
        rows.append(row("comments", i, comment_id=f"c{i}", article_id=aid, source=src, year=yr, position=i + 1))
    return schema.to_arrow("comments", rows)


SAMPLES = {"articles": sample_articles, "comments": sample_comments}


def by_key(rows: list[dict], name: str) -> list[dict]:
    pk = schema.load(name).primary_key
    return sorted(rows, key=lambda r: tuple(r[k] for k in pk))


def part_file(root: Path, rel: str) -> Path:
    """The one part file of a partition folder (its name is its content hash)."""
    (f,) = (root / rel).glob("part-*.parquet")
    return f


def plant(out: Path, name: str, rel: str, mutate) -> Path:
    """Replace a partition file of the current version with ``mutate(old table)``, as if an
    older newsmill had written it (a new file: the old one is hard-linked into older versions)."""
    f = part_file(out / name, rel)
    t = pq.read_table(f)
    f.unlink()
    pq.write_table(mutate(t), f, compression="zstd")
    # an older newsmill wrote a manifest that matches its files: the version stays sound
    # (``newsmill.store.integrity`` would take a file that differs from its manifest for damage)
    from newsmill.store import manifest as manifests

    version = f.resolve().parents[len(Path(rel).parts) + 1]
    m = manifests.read(version)
    entry = next(e for e in m["tables"][name]["files"] if e["path"] == f"{rel}/{f.name}")
    entry.update(manifests.file_entry(entry["path"], path=f))
    mf = version / manifests.NAME
    os.chmod(mf, 0o644)
    mf.write_bytes(manifests.dumps(m))
    return f


def parquet_names(out: Path) -> set[str]:
    """Every real file under ``out`` named ``*.parquet``, symlinks not followed: what DuckDB's
    ``output/**/*.parquet`` matches (``newsmill.store.layout``: only the current version's part files)."""
    found = set()
    for d, _, files in os.walk(out):
        found |= {(Path(d) / f).relative_to(out).as_posix() for f in files if f.endswith(".parquet")}
    return found


def current_parquet(out: Path) -> set[str]:
    """The current version's part files, relative to ``out`` (real paths)."""
    cur = reading.current_version(out)
    return set() if cur is None else {p.relative_to(out).as_posix() for p in cur.rglob("*.parquet")}


def _py(v):
    """Reader values to plain Python (pandas gives numpy arrays, NaN, Timestamps)."""
    if isinstance(v, np.ndarray):
        return [_py(x) for x in v]
    if isinstance(v, list):
        return [_py(x) for x in v]
    if v is None or v is pd.NA or v is pd.NaT:
        return None
    if isinstance(v, pd.Timestamp):
        return v.to_pydatetime()
    if isinstance(v, float) and math.isnan(v):
        return None
    if isinstance(v, np.generic):
        return v.item()
    return v


def read_all_ways(root: Path, name: str, suffix: str = ".parquet") -> dict[str, list[dict]]:
    """The dataset as each of the four readers sees it, rows sorted by key (``suffix=".pq"``: a kept
    version's folder, whose part files no ``*.parquet`` glob matches)."""
    import duckdb
    import polars as pl

    con = duckdb.connect()
    rel = con.sql(f"SELECT * FROM read_parquet('{root}/**/*{suffix}', hive_partitioning = 1)")
    duck = [dict(zip(rel.columns, r)) for r in rel.fetchall()]
    con.close()
    pandas_rows = [{k: _py(v) for k, v in r.items()} for r in pd.read_parquet(root).to_dict("records")]
    return {
        "pandas": by_key(pandas_rows, name),
        "pyarrow": by_key(ds.dataset(root, format="parquet", partitioning="hive").to_table().to_pylist(), name),
        "duckdb": by_key(duck, name),
        "polars": by_key(pl.scan_parquet(root / "**" / f"*{suffix}", hive_partitioning=True).collect().to_dicts(), name),
    }


@contextlib.contextmanager
def source_folder_schemas():
    """``schemas/`` as before issue 15's compaction: tables partitioned by ``source`` and ``year``
    (one part file per folder, ``source`` in the path, not in the files), sorted without ``source``."""
    original = schema.SCHEMA_DIR
    d = Path(tempfile.mkdtemp(prefix="schemas-source-year-"))
    try:
        for f in original.glob("*.json"):
            spec = json.loads(f.read_text(encoding="utf-8"))
            if spec["partition_by"] == ["year"]:
                spec["partition_by"] = ["source", "year"]
                spec["sort_by"] = [c for c in spec["sort_by"] if c != "source"]
            (d / f.name).write_text(json.dumps(spec), encoding="utf-8")
        schema.SCHEMA_DIR = d
        schema.load.cache_clear()
        yield
    finally:
        schema.SCHEMA_DIR = original
        schema.load.cache_clear()
        shutil.rmtree(d, ignore_errors=True)


def make_source_folders(out: Path, *batches: dict) -> dict[str, list[dict]]:
    """A versioned output as newsmill wrote it before issue 15's compaction: ``source=<s>/year=<y>/``
    folders of one part file each, one version per batch (default: the samples)."""
    with source_folder_schemas():
        for i, b in enumerate(batches or ({n: SAMPLES[n]() for n in schema.TABLES},)):
            publish.publish_run(b, out, run_id=f"old{i + 1}")
    assert any(p.parent.parent.name.startswith("source=") for p in (out / "articles").rglob("*.parquet"))
    return {n: by_key(reading.read_table(n, out).to_pylist(), n) for n in schema.TABLES}


def make_legacy(out: Path, tmp_path: Path) -> dict[str, list[dict]]:
    """An output folder as the previous publish.py left it: real table folders, part-0.parquet
    (and, as then, ``source=<s>/year=<y>/`` folders)."""
    src = tmp_path / "src"
    with source_folder_schemas():
        publish.publish_run({n: SAMPLES[n]() for n in schema.TABLES}, src, run_id="old")
    for name in schema.TABLES:
        for f in (src / name).rglob("*.parquet"):
            dest = out / name / f.parent.relative_to(src / name) / "part-0.parquet"
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(f.read_bytes())
    (out / "_state").mkdir(exist_ok=True)
    (out / "_state" / "author_key").write_text("k")
    return {n: by_key(reading.read_table(n, out).to_pylist(), n) for n in schema.TABLES}



def batch() -> dict:
    """A batch that exercises every kind of change: update, insert, a new partition, a key that
    moves partition (emptying its old one), new and edited comments."""
    a = sample_articles().to_pylist()
    a[0]["title"] = "Corrected headline"
    a[2]["year"] = 2022  # a2 leaves tribune.pk/year=0, which then disappears
    arts = schema.to_arrow("articles", [*a[:3], row("articles", 5, source="dawn", year=2026, article_id="new")])
    c = sample_comments().to_pylist()
    c[0]["text"] = "edited comment"
    for r in c:
        if r["article_id"] == "a2":
            r["year"] = 2022
    new_c = row("comments", 9, comment_id="c-new", article_id="new", source="dawn", year=2026, position=1)
    return {"articles": arts, "comments": schema.to_arrow("comments", [*c, new_c])}

