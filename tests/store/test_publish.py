"""Publishing: layout, the four readers, idempotent upsert, atomicity, path safety.

Rows are generated from the schema files (a value per declared type), so no
field list is repeated here; tests override only the fields they are about.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import shutil
import uuid
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from newsmill import schema
from newsmill.store import layout, manifest, publish, reading, versions
from tests.store.conftest import (SAMPLES, T0, UTC, _py, articles, by_key, make_legacy, part_file, plant,
                                  read_all_ways, row, sample_articles, sample_comments)

RUN = "run-1"


# --- data ----------------------------------------------------------------------


def snapshot(root: Path) -> dict[str, tuple]:
    """Every file with its bytes, mtime and inode: a rewrite changes at least the inode."""
    out = {}
    for p in sorted(root.rglob("*")):
        if p.is_file():
            st = p.stat()
            # a kept version's part files are named .pq (newsmill.store.layout): compared by the manifest's name
            out[layout.as_current(p.relative_to(root).as_posix())] = (p.read_bytes(), st.st_mtime_ns, st.st_ino)
    return out


def visible(out: Path) -> dict[str, dict]:
    """What readers of the datasets see, through the stable paths ``output/<table>``."""
    return {name: snapshot(out / name) for name in schema.TABLES}



def same_schema(a: pa.Schema, b: pa.Schema) -> bool:
    """Equal names, types, nullability and metadata. Type equality ignores the name
    of a list's child, which Parquet files give back as 'element' where Arrow says 'item'."""
    return a.metadata == b.metadata and [(f.name, f.type, f.nullable, f.metadata) for f in a] == \
        [(f.name, f.type, f.nullable, f.metadata) for f in b]



@pytest.fixture
def out(tmp_path) -> Path:
    d = tmp_path / "output"
    d.mkdir()
    return d


@pytest.fixture(params=["articles", "comments"])
def published(request, out):
    name = request.param
    table = SAMPLES[name]()
    publish.publish_table(name, table, out, run_id=RUN)
    return name, table, reading.dataset_path(name, out)


# --- layout --------------------------------------------------------------------

def test_layout_sorted_zstd_files_per_year(published):
    name, table, path = published
    s = schema.load(name)
    files = sorted(p.relative_to(path).as_posix() for p in path.rglob("*") if p.is_file())
    expected_dirs = {f"year={publish.NULL_PARTITION if r['year'] is None else r['year']}" for r in table.to_pylist()}
    # small years: one file each (under the target size); source is a column, first in the order
    assert sorted(f.rsplit("/", 1)[0] for f in files) == sorted(expected_dirs)
    assert s.partition_by == ("year",) and s.sort_by[0] == "source"
    for f in path.rglob("*.parquet"):
        # named by content: a changed partition never reuses an old name
        assert publish.PART_RE.match(f.name) and f.name[5:21] == hashlib.sha256(f.read_bytes()).hexdigest()[:16]
        assert f.stat().st_mode & 0o222 == 0  # read-only: the inode is shared with older versions
        pf = pq.ParquetFile(f)
        # stored schema exactly, with field descriptions and schema metadata
        assert same_schema(pf.schema_arrow, s.stored_arrow())
        assert not set(s.partition_by) & set(pf.schema_arrow.names)
        assert pf.schema_arrow.field(s.sort_by[0]).metadata[b"description"]
        md = pf.metadata
        assert {md.row_group(0).column(c).compression for c in range(md.num_columns)} == {"ZSTD"}
        t = pf.read()
        assert t.equals(t.sort_by([(c, "ascending") for c in s.sort_by]))
    assert not (path.parent / publish.STAGING).exists()
    assert list((path.parent / versions.BUILDING).iterdir()) == []


def test_versioned_layout_and_stable_links(out):
    publish.publish_run({n: SAMPLES[n]() for n in schema.TABLES}, out, run_id="r1")
    v1 = reading.current_version(out)
    assert v1.name == "v000001-r1" and v1.parent == out / versions.VERSIONS
    assert os.readlink(out / "current") == f"{versions.VERSIONS}/v000001-r1"
    for name in (*schema.TABLES, "manifest.json", "README.md"):
        assert os.readlink(out / name) == f"current/{name}"  # relative: the folder can be moved
    publish.publish_table("articles", articles(("dawn", 2030, "new")), out, run_id="r2")
    v2 = reading.current_version(out)
    assert v2.name == "v000002-r2" and v1.is_dir()  # the previous version is kept
    # the untouched table and partitions are the same inodes in both versions
    assert snapshot(v2 / "comments") == snapshot(v1 / "comments")
    assert snapshot(v2 / "articles" / "year=2023").items() >= snapshot(v1 / "articles" / "year=2023").items()
    publish.publish_table("articles", articles(("dawn", 2031, "newer")), out, run_id="r3", keep_versions=2)
    assert sorted(p.name for p in (out / versions.VERSIONS).iterdir()) == ["v000002-r2", "v000003-r3"]
    publish.publish_table("articles", articles(("dawn", 2032, "x")), out, run_id="r4", keep_versions=1)
    assert sorted(p.name for p in (out / versions.VERSIONS).iterdir()) == ["v000004-r4"]
    assert reading.read_table("articles", out).num_rows == 4 + 3
    with pytest.raises(ValueError, match="keep_versions"):
        publish.publish_table("articles", articles(("dawn", 2032, "x")), out, run_id="r5", keep_versions=0)


# --- the four readers ------------------------------------------------------------

def test_pyarrow_dataset_reads_everything(published):
    name, table, path = published
    got = ds.dataset(path, partitioning="hive").to_table()
    assert got.schema.field("year").type == pa.int32()
    assert got.schema.field("source").type == pa.string()
    assert by_key(got.to_pylist(), name) == by_key(table.to_pylist(), name)


def test_read_table_full_schema_and_types(published):
    name, table, path = published
    got = reading.read_table(name, path.parent)
    assert got.schema.equals(schema.load(name).arrow(), check_metadata=True)
    assert by_key(got.to_pylist(), name) == by_key(table.to_pylist(), name)


def test_duckdb_reads_timestamptz_as_utc_instants(published):
    duckdb = pytest.importorskip("duckdb")
    name, table, path = published
    con = duckdb.connect()
    con.execute("SET TimeZone = 'Asia/Kolkata'")  # values are instants, shown in the session zone
    rel = con.sql(f"SELECT * FROM read_parquet('{path}/**/*.parquet', hive_partitioning = 1)")
    types = dict(zip(rel.columns, map(str, rel.types)))
    s = schema.load(name)
    for f in s.fields:
        if f.type == "timestamp":
            assert types[f.name] == "TIMESTAMP WITH TIME ZONE"
    assert types["year"] == "BIGINT"  # inferred from the path; hive_types fixes it, see below
    rows = [dict(zip(rel.columns, r)) for r in rel.fetchall()]
    con.close()
    expected = by_key(table.to_pylist(), name)
    got = by_key(rows, name)
    assert got == expected  # aware datetimes compare as instants
    ts = next(f.name for f in s.fields if f.type == "timestamp" and not f.nullable)
    for g, e in zip(got, expected):
        assert g[ts].utcoffset() == dt.timedelta(hours=5, minutes=30)
        assert g[ts].astimezone(UTC).replace(tzinfo=None) == e[ts].replace(tzinfo=None)


def test_duckdb_hive_types_gives_schema_types(published):
    duckdb = pytest.importorskip("duckdb")
    _, _, path = published
    con = duckdb.connect()
    rel = con.sql(f"SELECT year FROM read_parquet('{path}/**/*.parquet', hive_partitioning = 1, "
                  "hive_types = {'year': INTEGER})")
    assert [str(t) for t in rel.types] == ["INTEGER"]
    assert 0 in {r[0] for r in rel.fetchall()}
    con.close()


def test_polars_reads_everything_with_utc(published):
    pl = pytest.importorskip("polars")
    name, table, path = published
    df = pl.scan_parquet(path / "**" / "*.parquet", hive_partitioning=True).collect()
    for f in schema.load(name).fields:
        if f.type == "timestamp":
            assert df.schema[f.name] == pl.Datetime("us", "UTC")
    assert df.schema["year"] == pl.Int64 and df.schema["source"] == pl.String
    assert by_key(df.to_dicts(), name) == by_key(table.to_pylist(), name)


def test_pandas_partition_columns_are_categoricals(out):
    """Documented behaviour: plain pandas gives a categorical for the hive column (year: int32
    categories); source is a column of the files, a plain string column."""
    table = articles(("dawn", 2023, "a"), ("tribune.pk", 2024, "b"), ("dawn", 2024, "c"))
    publish.publish_table("articles", table, out, run_id=RUN)
    df = pd.read_parquet(reading.dataset_path("articles", out))
    assert not isinstance(df["source"].dtype, pd.CategoricalDtype) and pd.api.types.is_string_dtype(df["source"])
    assert isinstance(df["year"].dtype, pd.CategoricalDtype)
    assert sorted(set(df["source"])) == ["dawn", "tribune.pk"]
    assert df["year"].cat.categories.dtype == np.int32
    assert str(df["published_at"].dtype) == "datetime64[us, UTC]"
    got = [{k: _py(v) for k, v in r.items()} for r in df.to_dict("records")]
    assert by_key(got, "articles") == by_key(table.to_pylist(), "articles")


def test_plain_pandas_reads_whole_dataset_with_undated_rows(published):
    """Undated pages sit in year=0 (not a null partition, which plain pandas cannot read
    next to real years: pyarrow "Cannot yet unify dictionaries with nulls")."""
    name, table, path = published
    df = pd.read_parquet(path)
    assert len(df) == table.num_rows
    assert 0 in set(df["year"].astype(int))
    got = [{k: _py(v) for k, v in r.items()} for r in df.to_dict("records")]
    assert by_key(got, name) == by_key(table.to_pylist(), name)


def test_numeric_sources_stay_strings_in_read_table(out):
    """A source that looks like a number ('0161') stays a string for every reader: it is a column
    of the files (untyped hive discovery turned it into 161 when it was a folder name)."""
    publish.publish_table("articles", articles(("1843", 2023, "a"), ("0161", 2024, "b")), out, run_id=RUN)
    root = reading.dataset_path("articles", out)
    assert sorted(ds.dataset(root, partitioning="hive").to_table()["source"].to_pylist()) == ["0161", "1843"]
    assert sorted(reading.read_table("articles", out)["source"].to_pylist()) == ["0161", "1843"]


# --- null year -----------------------------------------------------------------

def test_null_year_is_refused(out):
    with pytest.raises(ValueError, match="year"):
        publish.publish_table("articles", articles(("dawn", None, "a"), ("dawn", 2020, "b")), out, run_id=RUN)
    assert not reading.dataset_path("articles", out).exists() or not any(reading.dataset_path("articles", out).rglob("*.parquet"))


# --- idempotent upsert ---------------------------------------------------------

def test_republishing_same_input_changes_nothing(out):
    table = sample_articles()
    first = publish.publish_table("articles", table, out, run_id="r1")
    assert (first.inserted, first.updated, first.unchanged) == (4, 0, 0)
    assert first.partitions_written == 3  # years 0, 2023, 2024: one file each
    before = visible(out)
    again = publish.publish_table("articles", table, out, run_id="r2")
    assert visible(out) == before  # same bytes, mtimes and inodes: nothing rewritten
    assert (again.rows_in, again.inserted, again.updated, again.unchanged) == (4, 0, 0, 4)
    assert (again.partitions_written, again.partitions_unchanged) == (0, 3)
    # a later run stamps new provenance: still unchanged, old provenance kept
    later = table.set_column(
        table.schema.get_field_index("extracted_at"), table.schema.field("extracted_at"),
        pa.array([T0 + dt.timedelta(days=999)] * 4, pa.timestamp("us", tz="UTC")))
    later = later.set_column(later.schema.get_field_index("pipeline_version"),
                             later.schema.field("pipeline_version"), pa.array(["9.9.9"] * 4))
    third = publish.publish_table("articles", later, out, run_id="r3")
    assert third.unchanged == 4 and third.partitions_written == 0
    assert visible(out) == before
    got = reading.read_table("articles", out)
    assert len(set(got["article_id"].to_pylist())) == got.num_rows == 4
    assert by_key(got.to_pylist(), "articles") == by_key(table.to_pylist(), "articles")


def test_upsert_changed_and_new_rows(out):
    old_ts, new_ts = T0, T0 + dt.timedelta(days=30)
    publish.publish_table("articles", articles(("dawn", 2023, "a"), ("dawn", 2023, "b"), ("dawn", 2023, "c"),
                                               ("dawn", 2024, "d"), extracted_at=old_ts), out, run_id="r1")
    root = reading.dataset_path("articles", out)
    untouched = snapshot(root / "year=2024")
    old_rows = {r["article_id"]: r for r in reading.read_table("articles", out).to_pylist()}

    unchanged = dict(old_rows["a"], extracted_at=new_ts, pipeline_version="2.0")
    changed = dict(old_rows["b"], title="Corrected headline", extracted_at=new_ts)
    new = row("articles", 7, source="dawn", year=2023, article_id="e", extracted_at=new_ts)
    stats = publish.publish_table("articles", schema.to_arrow("articles", [unchanged, changed, new]), out, run_id="r2")

    assert (stats.rows_in, stats.inserted, stats.updated, stats.unchanged) == (3, 1, 1, 1)
    assert (stats.partitions_written, stats.partitions_unchanged) == (1, 0)
    got = {r["article_id"]: r for r in reading.read_table("articles", out).to_pylist()}
    assert sorted(got) == ["a", "b", "c", "d", "e"]
    assert got["a"] == old_rows["a"]  # old extracted_at and pipeline_version kept
    assert got["b"]["title"] == "Corrected headline" and got["b"]["extracted_at"] == new_ts
    assert got["c"] == old_rows["c"]  # other keys in the partition kept
    assert got["e"]["extracted_at"] == new_ts
    assert snapshot(root / "year=2024") == untouched
    part = pq.read_table(part_file(root, "year=2023"))
    assert part["article_id"].to_pylist() == ["a", "b", "c", "e"]  # still sorted


def test_list_and_null_changes_are_detected(out):
    publish.publish_table("articles", articles(("dawn", 2023, "a"), ("dawn", 2023, "b")), out, run_id="r1")
    rows = {r["article_id"]: r for r in reading.read_table("articles", out).to_pylist()}
    edits = [dict(rows["a"], authors=[*rows["a"]["authors"], "New Author"]),
             dict(rows["b"], section=None if rows["b"]["section"] else "World")]
    stats = publish.publish_table("articles", schema.to_arrow("articles", edits), out, run_id="r2")
    assert (stats.updated, stats.unchanged) == (2, 0)
    got = {r["article_id"]: r for r in reading.read_table("articles", out).to_pylist()}
    assert got["a"]["authors"][-1] == "New Author"
    assert got["b"]["section"] == edits[1]["section"]


def test_key_moving_partition_is_not_duplicated(out):
    publish.publish_table("articles", articles(("dawn", 0, "a"), ("dawn", 0, "b")), out, run_id="r1")
    moved = reading.read_table("articles", out).filter(pc.equal(pc.field("article_id"), "a"))
    moved = moved.set_column(moved.schema.get_field_index("year"), moved.schema.field("year"),
                             pa.array([2022], pa.int32()))
    stats = publish.publish_table("articles", moved, out, run_id="r2")
    assert (stats.inserted, stats.updated, stats.partitions_written) == (0, 1, 2)
    got = reading.read_table("articles", out)
    assert sorted(zip(got["article_id"].to_pylist(), got["year"].to_pylist()), key=str) == \
        [("a", 2022), ("b", 0)]
    # last row moved out: the partition disappears
    b = reading.read_table("articles", out).filter(pc.equal(pc.field("article_id"), "b"))
    b = b.set_column(b.schema.get_field_index("year"), b.schema.field("year"), pa.array([2022], pa.int32()))
    publish.publish_table("articles", b, out, run_id="r3")
    root = reading.dataset_path("articles", out)
    assert not (root / "year=0").exists()
    assert reading.read_table("articles", out).num_rows == 2


# --- input validation ----------------------------------------------------------

def test_duplicate_keys_refused(out):
    with pytest.raises(ValueError, match="duplicate primary key"):
        publish.publish_table("articles", articles(("dawn", 2023, "a"), ("dawn", 2024, "a")), out, run_id=RUN)


def test_naive_timestamps_and_required_nulls_refused(out):
    t = articles(("dawn", 2023, "a"))
    i = t.schema.get_field_index("extracted_at")
    naive = t.set_column(i, pa.field("extracted_at", pa.timestamp("us")), pa.array([dt.datetime(2020, 1, 1)]))
    with pytest.raises(ValueError, match="time-zone aware"):
        publish.publish_table("articles", naive, out, run_id=RUN)
    j = t.schema.get_field_index("body")
    nulled = t.set_column(j, t.schema.field("body"), pa.array([None], pa.string()))
    with pytest.raises(ValueError, match="articles.body: 1 null"):
        publish.publish_table("articles", nulled, out, run_id=RUN)
    with pytest.raises(ValueError, match="does not match the schema"):
        publish.publish_table("articles", t.drop_columns(["body"]), out, run_id=RUN)
    assert not reading.dataset_path("articles", out).exists()


# --- path safety ---------------------------------------------------------------

@pytest.mark.parametrize("source", ["../evil", "a/b", "a\\b", "a..b", "..", "a\x00b", "Dawn", "_hidden",
                                    ".hidden", "", "-x", "a b", "x" * 300])
def test_unsafe_partition_values_refused(out, source):
    with pytest.raises(ValueError, match="unsafe source value"):  # a column now, still a safe folder name
        publish.publish_table("articles", articles(("dawn", 2023, "ok"), (source, 2023, "bad")), out, run_id=RUN)
    assert sorted(p.name for p in out.parent.iterdir()) == ["output"]
    assert list(out.iterdir()) == []  # nothing written, not even the good row


@pytest.mark.parametrize("run_id", ["../x", "a/b", "", "..", ".hidden", "a\x00"])
def test_unsafe_run_id_refused(out, run_id):
    with pytest.raises(ValueError, match="run_id"):
        publish.publish_table("articles", articles(("dawn", 2023, "a")), out, run_id=run_id)
    with pytest.raises(ValueError, match="run_id"):
        publish.write_rejects(schema.to_arrow("rejects", [row("rejects", 0)]), out, run_id=run_id)


def test_unsafe_table_name_refused(out):
    with pytest.raises(ValueError, match="table name"):
        reading.dataset_path("../articles", out)


def test_symlink_in_dataset_refused(out, tmp_path):
    """Published files are never symlinks: one planted in the current version (it could lead
    readers or writes outside the output folder) stops the publish before anything changes."""
    outside = tmp_path / "outside"
    outside.mkdir()
    publish.publish_table("articles", articles(("aa", 2023, "a")), out, run_id="r1")
    (out / "articles" / "source=zz").symlink_to(outside, target_is_directory=True)
    cur = reading.current_version(out)
    with pytest.raises(versions.LayoutError, match="symlink inside the dataset"):
        publish.publish_table("articles", articles(("aa", 2023, "a"), ("zz", 2023, "b")), out, run_id="r2")
    assert list(outside.iterdir()) == []
    assert reading.current_version(out) == cur
    assert list((out / versions.BUILDING).iterdir()) == []


def test_legacy_layout_with_symlink_is_not_migrated(out, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (out / "articles").mkdir()
    (out / "articles" / "source=zz").symlink_to(outside, target_is_directory=True)
    with pytest.raises(versions.LayoutError, match="symlink"):
        publish.publish_table("articles", articles(("aa", 2023, "a"), ("zz", 2023, "b")), out, run_id=RUN)
    assert list(outside.iterdir()) == []
    assert (out / "articles").is_dir() and not (out / "articles").is_symlink()
    assert not (out / "current").exists()


# --- atomicity -----------------------------------------------------------------

def test_nothing_visible_changes_until_the_one_swap(out, monkeypatch):
    """Both tables switch at one rename, after every file of the new version is in place."""
    publish.publish_run({n: SAMPLES[n]() for n in schema.TABLES}, out, run_id="r1")
    before = visible(out)
    seen = []

    def spying(fn):
        def call(*args, **kw):
            dst = Path(args[0] if fn.__name__ == "write_new" else args[1])
            seen.append((fn.__name__, dst.name, visible(out) == before))
            return fn(*args, **kw)
        return call

    for fn in ("replace", "rename", "link"):
        monkeypatch.setattr(versions.os, fn, spying(getattr(os, fn)))
    monkeypatch.setattr(versions, "write_new", spying(versions.write_new))
    a = articles(("dawn", 2023, "a0"), ("dawn", 2030, "new"), title="changed")
    c = schema.to_arrow("comments", [row("comments", 9, comment_id="cnew", article_id="new", source="dawn",
                                           year=2030, position=1)])
    publish.publish_run({"articles": a, "comments": c}, out, run_id="r2")
    after = visible(out)
    assert after["articles"] != before["articles"] and after["comments"] != before["comments"]
    swap = [i for i, (fn, dst, _) in enumerate(seen) if fn == "replace" and dst == "current"]
    assert len(swap) == 1
    assert all(unchanged for _, _, unchanged in seen[: swap[0] + 1])  # nothing visible before the swap
    assert len(seen[: swap[0]]) >= 8  # part files, links, manifest, card, version rename all came first
    assert not any(unchanged for _, _, unchanged in seen[swap[0] + 1:])


def test_listing_from_before_a_commit_fails_loudly_instead_of_mixing(out):
    """A pyarrow dataset lists its files when created and opens them later by path, through the
    ``current`` link. Changed partitions get new file names, so a listing that outlived a commit
    reads the old version exactly (nothing it listed changed) or fails; never the new bytes
    under an old listing."""
    publish.publish_run({n: SAMPLES[n]() for n in schema.TABLES}, out, run_id="r1")
    before = by_key(reading.read_table("articles", out).drop_columns(["source", "year"]).to_pylist(), "articles")
    listed = ds.dataset(out / "articles", format="parquet", partitioning="hive")
    publish.publish_table("articles", articles(("dawn", 2030, "new")), out, run_id="r2")  # adds a partition only
    assert by_key(listed.to_table().drop_columns(["source", "year"]).to_pylist(), "articles") == before
    publish.publish_table("articles", articles(("dawn", 2023, "a0"), title="changed"), out, run_id="r3")
    with pytest.raises(FileNotFoundError):
        listed.to_table()


def test_failed_write_leaves_everything_as_it_was(out, monkeypatch):
    publish.publish_table("articles", articles(("dawn", 2023, "a")), out, run_id="r1")
    before, cur = visible(out), reading.current_version(out)

    def broken(self, table, row_group_size=None):  # the file exists, its header written: then the disk is full
        raise OSError("disk full")

    monkeypatch.setattr(publish.pq.ParquetWriter, "write_table", broken)
    with pytest.raises(OSError, match="disk full"):
        publish.publish_table("articles", articles(("dawn", 2023, "a"), ("dawn", 2023, "b"),
                                                   title="changed"), out, run_id="r2")
    assert visible(out) == before and reading.current_version(out) == cur
    assert [p.name for p in (out / versions.VERSIONS).iterdir()] == [cur.name]
    assert list((out / versions.BUILDING).iterdir()) == []
    assert not (out / publish.STAGING).exists()


# --- schema evolution ----------------------------------------------------------

def test_new_nullable_column_reads_as_null(out):
    """An old file without a (nullable) column that the schema has since gained."""
    publish.publish_table("articles", articles(("dawn", 2023, "a"), ("dawn", 2024, "b")), out, run_id="r1")
    old_meta = {b"newsmill.table": b"articles", b"newsmill.schema_hash": b"0ld0ld0ld0ld0ld0"}
    plant(out, "articles", "year=2023",
          lambda t: t.drop_columns(["dateline"]).replace_schema_metadata(old_meta))
    got = {r["article_id"]: r for r in reading.read_table("articles", out).to_pylist()}
    assert got["a"]["dateline"] is None and got["b"]["dateline"] is not None
    # upserting into that partition rewrites it with the current schema
    stats = publish.publish_table("articles", articles(("dawn", 2023, "c")), out, run_id="r2")
    assert stats.inserted == 1
    f = part_file(reading.dataset_path("articles", out), "year=2023")
    assert same_schema(pq.read_schema(f), schema.load("articles").stored_arrow())
    assert pq.read_table(f)["article_id"].to_pylist() == ["a", "c"]


@pytest.mark.parametrize("mutate, message", [
    (lambda t: t.set_column(t.schema.get_field_index("paragraph_count"), "paragraph_count",
                            t["paragraph_count"].cast(pa.int64())), "paragraph_count"),
    (lambda t: t.append_column("legacy", pa.array(["x"] * t.num_rows)), "legacy"),
    (lambda t: t.drop_columns(["body"]), "new column 'body' is not nullable"),
])
def test_incompatible_old_file_is_a_clear_error(out, mutate, message):
    publish.publish_table("articles", articles(("dawn", 2023, "a")), out, run_id="r1")
    old_meta = {b"newsmill.table": b"articles", b"newsmill.schema_hash": b"0ld0ld0ld0ld0ld0"}
    plant(out, "articles", "year=2023", lambda t: mutate(t).replace_schema_metadata(old_meta))
    with pytest.raises(publish.SchemaMismatchError, match=message):
        reading.read_table("articles", out)
    before, cur = visible(out), reading.current_version(out)
    for target in [("dawn", 2023, "b"), ("dawn", 2024, "c")]:  # same partition, or any other
        with pytest.raises(publish.SchemaMismatchError, match="incompatible"):
            publish.publish_table("articles", articles(target), out, run_id="r2")
    assert visible(out) == before and reading.current_version(out) == cur
    assert list((out / versions.BUILDING).iterdir()) == []


def test_file_of_another_table_is_refused(out):
    publish.publish_table("articles", articles(("dawn", 2023, "a")), out, run_id="r1")
    comments = sample_comments().drop_columns(["year"]).cast(schema.load("comments").stored_arrow())
    plant(out, "articles", "year=2023", lambda _: comments)
    with pytest.raises(publish.SchemaMismatchError, match="belongs to table 'comments'"):
        publish.publish_table("articles", articles(("dawn", 2023, "b")), out, run_id="r2")


@pytest.fixture
def schema_variant(tmp_path, monkeypatch):
    """Run code under an edited copy of ``schemas/`` (an older or a future schema)."""
    original = schema.SCHEMA_DIR

    @contextlib.contextmanager
    def use(edit):
        d = tmp_path / f"schemas-{uuid.uuid4().hex[:6]}"
        shutil.copytree(original, d)
        spec = json.loads((d / "articles.json").read_text(encoding="utf-8"))
        edit(spec)
        (d / "articles.json").write_text(json.dumps(spec), encoding="utf-8")
        monkeypatch.setattr(schema, "SCHEMA_DIR", d)
        schema.load.cache_clear()
        try:
            yield
        finally:
            monkeypatch.setattr(schema, "SCHEMA_DIR", original)
            schema.load.cache_clear()

    yield use
    schema.load.cache_clear()


def without_dateline(spec):
    spec["fields"] = [f for f in spec["fields"] if f["name"] != "dateline"]



def test_added_nullable_column_reaches_every_reader(out, schema_variant):
    """Files written before a nullable column was added are rewritten with it when the next
    version is built (mixed files lose the column in pandas, pyarrow and DuckDB: they take the
    first file's schema; Polars refuses them)."""
    with schema_variant(without_dateline):
        publish.publish_table("articles", articles(("dawn", 2023, "a"), ("tribune", 2024, "b")), out, run_id="r1")
    root = out / "articles"
    assert all("dateline" not in pq.read_schema(f).names for f in root.rglob("*.parquet"))
    stats = publish.publish_table("articles", articles(("tribune", 2024, "c")), out, run_id="r2")
    assert (stats.inserted, stats.partitions_written, stats.partitions_migrated) == (1, 1, 1)
    for f in root.rglob("*.parquet"):
        assert same_schema(pq.read_schema(f), schema.load("articles").stored_arrow())
    expected = {"a": None, "b": None, "c": articles(("tribune", 2024, "c"))["dateline"][0].as_py()}
    assert expected["c"] is not None
    for reader, rows in read_all_ways(root, "articles").items():
        assert {r["article_id"]: r["dateline"] for r in rows} == expected, reader
    assert manifest.read(reading.current_version(out))["tables"]["articles"]["schema_hash"] == \
        schema.load("articles").fingerprint


def test_incompatible_schema_change_refused_readers_keep_the_old_version(out, schema_variant):
    publish.publish_run({n: SAMPLES[n]() for n in schema.TABLES}, out, run_id="r1")
    before, cur = read_all_ways(out / "articles", "articles"), reading.current_version(out)

    def widen(spec):
        next(f for f in spec["fields"] if f["name"] == "paragraph_count")["type"] = "int64"

    with schema_variant(widen):
        with pytest.raises(publish.SchemaMismatchError,
                           match=r"'paragraph_count' is int32, schema says int64.*Migrate or republish"):
            publish.publish_table("articles", articles(("dawn", 2030, "z")), out, run_id="r2")
    assert reading.current_version(out) == cur
    assert read_all_ways(out / "articles", "articles") == before
    assert list((out / versions.BUILDING).iterdir()) == []


# --- migration from the unversioned layout -------------------------------------


def test_legacy_layout_is_migrated_once(out, tmp_path):
    legacy_rows = make_legacy(out, tmp_path)
    inodes = {f.stat().st_ino for n in schema.TABLES for f in (out / n).rglob("*.parquet")}
    publish.publish_table("articles", articles(("dawn", 2030, "new")), out, run_id="r1")
    assert all((out / n).is_symlink() for n in schema.TABLES)
    names = sorted(p.name for p in (out / versions.VERSIONS).iterdir())
    assert names == ["v000001-r1.migrated", "v000002-r1"]
    adopted = out / versions.VERSIONS / names[0]
    assert manifest.verify(adopted) == []
    # adopted by hard link, renamed to content names: the same inodes, no copy
    assert {f.stat().st_ino for f in adopted.rglob("part-*")} == inodes  # kept, so named .pq
    assert all(publish.PART_RE.match(f.name) for f in adopted.rglob("part-*"))
    got = {n: by_key(reading.read_table(n, out).to_pylist(), n) for n in schema.TABLES}
    assert got["comments"] == legacy_rows["comments"]
    assert [r for r in got["articles"] if r["article_id"] != "new"] == legacy_rows["articles"]
    assert (out / "_state" / "author_key").read_text() == "k"
    publish.publish_table("articles", articles(("dawn", 2031, "newer")), out, run_id="r2", keep_versions=2)
    assert sorted(p.name for p in (out / versions.VERSIONS).iterdir()) == ["v000002-r1", "v000003-r2"]


# --- quarantine and rejects ----------------------------------------------------

def test_write_quarantine_keeps_invalid_rows_and_extra_columns(out):
    t = articles(("dawn", 2023, "a"), ("dawn", None, "b"))
    t = t.set_column(t.schema.get_field_index("title"), "title", pa.array([None, "ok"], pa.string()))
    t = t.append_column("_errors", pa.array([["title is null"], []], pa.list_(pa.string())))
    path = publish.write_quarantine("articles", t, out, run_id=RUN)
    assert path == out / "quarantine" / "articles" / f"{RUN}.pq"  # no *.parquet glob reads quarantine
    back = pq.read_table(path)
    assert back.column_names == [*schema.load("articles").names, "_errors"]
    assert back["title"].to_pylist() == [None, "ok"]
    assert back["_errors"].to_pylist() == [["title is null"], []]
    assert back.schema.field("title").metadata[b"description"]
    assert publish.write_quarantine("articles", t.slice(0, 0), out, run_id="empty") is None
    assert not (out / "quarantine" / "articles" / "empty.pq").exists()
    assert not (out / publish.STAGING).exists()
    with pytest.raises(ValueError, match="write_rejects"):
        publish.write_quarantine("rejects", t, out, run_id=RUN)


def test_write_rejects(out):
    rows = [row("rejects", i, input_uri=uri, run_id=RUN) for i, uri in enumerate(["z.html", "a.html"])]
    path = publish.write_rejects(schema.to_arrow("rejects", rows), out, run_id=RUN)
    assert path == out / "quarantine" / "rejects" / f"{RUN}.pq"
    back = pq.read_table(path)
    assert back.schema.equals(schema.load("rejects").arrow(), check_metadata=True)
    assert back["input_uri"].to_pylist() == ["a.html", "z.html"]
    assert publish.write_rejects(schema.to_arrow("rejects", []), out, run_id="r2") is None
    with pytest.raises(ValueError, match="does not match the schema"):
        publish.write_rejects(schema.to_arrow("rejects", rows).drop_columns(["stage"]), out, run_id="r3")
