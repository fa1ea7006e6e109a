"""Year partitions cut into part files of a target size (issue 15 item 3, ``newsmill.store.compaction``).

A small target (a few KB) makes a year hold several files: a run rewrites only the files whose key
range its rows fall into (the others are the very same inodes), a file past 2x the target is split,
one under 1/4 of it merged with its neighbour; the files of a year cover disjoint, ordered key
ranges; an output in the older ``source=/year=`` layout is migrated by its next publish, its kept
versions still readable. Every check reads the tables back through pandas, pyarrow, DuckDB and Polars.
"""
from __future__ import annotations

import os
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from newsmill import schema
from newsmill.store import compaction, history, manifest, partfile, publish, reading, versions
from newsmill.store.sorted_runs import sort_columns
from tests.store.conftest import (articles, batch, by_key, make_source_folders, read_all_ways, sample_articles,
                                  sample_comments)

TARGET = 4096  # bytes of content: ~6 sample articles a file


def many(n: int, start: int = 0, **common) -> pa.Table:
    return articles(*[(f"s{i % 7:02d}", 2020 + i % 2, f"a{i:04d}") for i in range(start, start + n)], **common)


def files_of(out: Path, name: str = "articles") -> dict[str, list[Path]]:
    """The current version's part files by year folder, in part-file order (by their first rows)."""
    cur = reading.current_version(out)
    return {d: [p.path for p in ps] for d, ps in compaction.scan(cur / name, schema.load(name)).items()}


def inodes(out: Path, name: str = "articles") -> dict[int, str]:
    return {os.stat(p).st_ino: p.name for ps in files_of(out, name).values() for p in ps}


def content(p: Path) -> int:
    return partfile.file_content(pq.ParquetFile(p))


def assert_ranges(out: Path, name: str = "articles") -> None:
    """Files of a year: disjoint, ordered key ranges; each file in part-file order; keys unique."""
    s = schema.load(name)
    cols = sort_columns(s)
    keys = []
    for year, ps in files_of(out, name).items():
        last = None
        for p in ps:
            t = pq.read_table(p)
            assert t.equals(t.sort_by([(c, "ascending") for c in cols])), p
            rows = list(zip(*(t.column(c).to_pylist() for c in cols)))
            if last is not None:
                assert compaction.sort_key(last) < compaction.sort_key(rows[0]), (year, p.name)
            last = rows[-1]
            keys += t.column(s.primary_key[0]).to_pylist()
    assert len(keys) == len(set(keys))


def assert_reads(out: Path, expected: dict[str, list[dict]]) -> None:
    """Every reader sees exactly the expected rows, ``source`` a string column among them."""
    for name, rows in expected.items():
        views = read_all_ways(out / name, name)
        for reader, got in views.items():
            assert got == rows, (name, reader)
            assert all(isinstance(r["source"], str) for r in got), (name, reader)
        lib = reading.read_table(name, out)
        assert lib.schema.field("source").type == pa.string()
        assert by_key(lib.to_pylist(), name) == rows


def test_a_year_is_cut_into_files_near_the_target(tmp_path):
    out = tmp_path / "output"
    t = many(120)
    publish.publish_run({"articles": t}, out, run_id="r1", target_file_bytes=TARGET)
    per_year = files_of(out)
    assert sorted(per_year) == ["year=2020", "year=2021"]
    for ps in per_year.values():
        assert len(ps) >= 4
        sizes = [content(p) for p in ps]
        assert all(TARGET * 0.5 <= c <= TARGET * 1.5 for c in sizes[:-1]), sizes
        assert "source" in pq.read_schema(ps[0]).names
    assert_ranges(out)
    assert_reads(out, {"articles": by_key(t.to_pylist(), "articles")})
    # the default target keeps a small year in one file
    publish.publish_run({"articles": t}, tmp_path / "big", run_id="r1")
    assert [len(ps) for ps in files_of(tmp_path / "big").values()] == [1, 1]


def test_only_the_files_a_run_touches_are_rewritten(tmp_path):
    out = tmp_path / "output"
    publish.publish_run({"articles": many(120)}, out, run_id="r1", target_file_bytes=TARGET)
    before = inodes(out)
    year = files_of(out)["year=2020"]
    middle = pq.read_table(year[len(year) // 2])["article_id"][1].as_py()  # a row inside one file's key range
    victim = reading.read_table("articles", out).filter(pc.equal(pc.field("article_id"), middle)).to_pylist()[0]
    changed = dict(victim, title="Corrected headline")
    middle_ino = os.stat(year[len(year) // 2]).st_ino
    c = publish.publish_run({"articles": schema.to_arrow("articles", [changed])}, out, run_id="r2",
                            target_file_bytes=TARGET)
    st = c.stats[0]
    assert (st.updated, st.partitions_written) == (1, 1)
    after = inodes(out)
    assert len(set(after) - set(before)) == 1  # one new file...
    assert set(before) - set(after) == {middle_ino}  # ...instead of the one that held it
    # the others are the very files of the previous version (hard links)
    v1 = next(v for v in (out / versions.VERSIONS).iterdir() if v != reading.current_version(out))
    assert {os.stat(p).st_ino for p in (v1 / "articles").rglob("part-*")} - set(after) == set(before) - set(after)
    # the comments table, untouched, is the same files too
    assert_ranges(out)
    got = {r["article_id"]: r for r in reading.read_table("articles", out).to_pylist()}
    assert got[victim["article_id"]]["title"] == "Corrected headline" and len(got) == 120


def test_new_rows_go_to_the_file_whose_range_holds_them(tmp_path):
    out = tmp_path / "output"
    publish.publish_run({"articles": many(120)}, out, run_id="r1", target_file_bytes=TARGET)
    year = files_of(out)["year=2021"]
    first = pq.read_table(year[0], columns=["source", "article_id"]).to_pylist()
    # a key that sorts between the first file's first and last rows, and one after every file
    inside = (first[0]["source"], first[0]["article_id"] + "x")
    late = ("zz", "a9999")
    new = articles((inside[0], 2021, inside[1]), (late[0], 2021, late[1]))
    before = inodes(out)
    ends = {os.stat(year[0]).st_ino, os.stat(year[-1]).st_ino}
    publish.publish_run({"articles": new}, out, run_id="r2", target_file_bytes=TARGET)
    gone = set(before) - set(inodes(out))
    assert gone == ends
    assert_ranges(out)
    assert reading.read_table("articles", out).num_rows == 122


def test_a_file_past_twice_the_target_is_split(tmp_path):
    out = tmp_path / "output"
    publish.publish_run({"articles": many(120)}, out, run_id="r1", target_file_bytes=TARGET)
    year = files_of(out)["year=2020"]
    f = year[1]
    first = pq.read_table(f, columns=["source", "article_id"]).to_pylist()[0]
    # many rows inside that one file's range: past 2x the target
    new = articles(*[(first["source"], 2020, f"{first['article_id']}-{k:03d}") for k in range(30)])
    before = inodes(out)
    f_ino = os.stat(f).st_ino
    publish.publish_run({"articles": new}, out, run_id="r2", target_file_bytes=TARGET)
    after = files_of(out)["year=2020"]
    written = [p for p in after if os.stat(p).st_ino not in before]
    assert len(written) >= 3 and set(before) - set(inodes(out)) == {f_ino}
    sizes = [content(p) for p in written]
    assert all(c <= TARGET * 1.5 for c in sizes) and sum(sizes) > 2 * TARGET, sizes
    assert_ranges(out)
    assert reading.read_table("articles", out).num_rows == 150


def test_small_files_are_merged_with_their_neighbours(tmp_path):
    out = tmp_path / "output"
    t = many(120)
    publish.publish_run({"articles": t}, out, run_id="r1", target_file_bytes=TARGET)
    n_before = len(files_of(out)["year=2020"])
    # at a 16x larger target every file is under 1/4 of it: the one a run touches takes in its neighbours
    row = t.filter(pc.equal(t["article_id"], "a0000")).to_pylist()[0]
    publish.publish_run({"articles": schema.to_arrow("articles", [dict(row, title="x")])}, out, run_id="r2",
                        target_file_bytes=TARGET * 16)
    assert n_before > 1 and len(files_of(out)["year=2020"]) == 1
    assert len(files_of(out)["year=2021"]) > 1  # a year the run did not touch is left as it is
    assert_ranges(out)
    expected = by_key([dict(r, title="x") if r["article_id"] == "a0000" else r for r in t.to_pylist()], "articles")
    assert_reads(out, {"articles": expected})


def test_deleting_rows_shrinks_a_file_that_is_then_merged(tmp_path):
    """A key moving to another year empties most of a file: under 1/4 of the target, it is merged."""
    out = tmp_path / "output"
    t = many(120)
    publish.publish_run({"articles": t}, out, run_id="r1", target_file_bytes=TARGET)
    year = files_of(out)["year=2020"]
    ids = pq.read_table(year[2], columns=["article_id"])["article_id"].to_pylist()[:-1]  # all but its last row
    full = reading.read_table("articles", out)
    moved = [dict(r, year=2030) for r in full.filter(pc.is_in(full["article_id"], value_set=pa.array(ids))).to_pylist()]
    publish.publish_run({"articles": schema.to_arrow("articles", moved)}, out, run_id="r2", target_file_bytes=TARGET)
    after = files_of(out)
    assert len(after["year=2020"]) == len(year) - 1  # the file's last row went into a neighbour
    assert "year=2030" in after
    assert_ranges(out)
    assert reading.read_table("articles", out).num_rows == 120


def test_both_tables_round_trip_through_every_reader_at_a_small_target(tmp_path):
    out = tmp_path / "output"
    publish.publish_run({"articles": sample_articles(), "comments": sample_comments()}, out, run_id="r1",
                        target_file_bytes=1024)
    publish.publish_run(batch(), out, run_id="r2", target_file_bytes=1024)
    fresh = tmp_path / "fresh"
    publish.publish_run({"articles": sample_articles(), "comments": sample_comments()}, fresh, run_id="r1")
    publish.publish_run(batch(), fresh, run_id="r2")
    expected = {n: by_key(t.to_pylist(), n) for n, t in reading.read_tables(fresh).items()}
    assert_reads(out, expected)
    for n in schema.TABLES:
        assert_ranges(out, n)


def test_an_output_in_source_folders_is_migrated_on_the_next_publish(tmp_path):
    out = tmp_path / "output"
    old_rows = make_source_folders(out)
    v_old = reading.current_version(out)
    assert (out / "articles" / "source=dawn").is_dir()
    c = publish.publish_run(batch(), out, run_id="r2", target_file_bytes=TARGET)
    # one new version, in the new layout: year folders, source a column of the files
    assert reading.current_version(out).name == "v000002-r2" and c.version == 2
    for name in schema.TABLES:
        dirs = {p.parent.relative_to(out / name).as_posix() for p in (out / name).rglob("*.parquet")}
        assert dirs and all(d.startswith("year=") and "/" not in d for d in dirs), dirs
        assert all("source" in pq.read_schema(p).names for p in (out / name).rglob("*.parquet"))
        assert_ranges(out, name)
    # the same rows as an output that always had the new layout
    fresh = tmp_path / "fresh"
    publish.publish_run({"articles": sample_articles(), "comments": sample_comments()}, fresh, run_id="r1")
    publish.publish_run(batch(), fresh, run_id="r2")
    expected = {n: by_key(t.to_pylist(), n) for n, t in reading.read_tables(fresh).items()}
    assert_reads(out, expected)
    # the kept version in the old layout reads as it was, by every reader of its folder
    kept = reading.read_tables(out, version=v_old.name)
    assert {n: by_key(t.to_pylist(), n) for n, t in kept.items()} == old_rows
    assert v_old.name in [v.name for v in history.list_versions(out)]
    for name in schema.TABLES:
        for reader, rows in read_all_ways(v_old / name, name, suffix=".pq").items():
            assert rows == old_rows[name], (name, reader)
    # nothing left to migrate: the next run with the same batch changes nothing
    again = publish.publish_run(batch(), out, run_id="r3", target_file_bytes=TARGET)
    assert all(s.inserted + s.updated == 0 and s.partitions_written == 0 and s.partitions_migrated == 0
               for s in again.stats)


def test_a_migration_counts_as_migrated_not_written(tmp_path):
    out = tmp_path / "output"
    make_source_folders(out)
    c = publish.publish_run({"articles": articles(("dawn", 2023, "a0"))}, out, run_id="r2")  # an unchanged row
    st = c.stats[0]
    assert (st.unchanged, st.partitions_written) == (1, 0) and st.partitions_migrated == 3  # one file a year
    assert all("/" not in f["path"].rsplit("/", 1)[0] for n in schema.TABLES
               for f in manifest.read(reading.current_version(out))["tables"][n]["files"])


def test_files_with_overlapping_key_ranges_are_refused(tmp_path):
    out = tmp_path / "output"
    publish.publish_run({"articles": many(40)}, out, run_id="r1", target_file_bytes=TARGET)
    root = tmp_path / "copy"
    year = files_of(out)["year=2020"]
    (root / "year=2020").mkdir(parents=True)
    for p in year:
        (root / "year=2020" / p.name).write_bytes(p.read_bytes())
    compaction.scan(root, schema.load("articles"))  # as published: disjoint ranges
    # the same rows again, in a second file (a reader would count them twice)
    (root / "year=2020" / "part-0000000000000000.parquet").write_bytes(year[1].read_bytes())
    with pytest.raises(versions.LayoutError, match="overlap"):
        compaction.scan(root, schema.load("articles"))


def test_the_target_is_checked_before_anything_is_written(tmp_path):
    out = tmp_path / "output"
    for bad in (0, -1, 1.5, True, "4k"):
        with pytest.raises(ValueError, match="target_file_bytes"):
            publish.publish_run({"articles": many(3)}, out, run_id="r1", target_file_bytes=bad)
    assert not out.exists() or not any(out.iterdir())


def test_a_kept_version_in_source_folders_is_described_by_its_own_layout_after_forget(tmp_path):
    """``newsmill forget`` rewrites the kept versions and their metadata: a version in the older layout
    keeps a croissant.json and card globs of its own folders (source from the path)."""
    mlc = pytest.importorskip("mlcroissant")
    from newsmill.store import erasure, layout

    out = tmp_path / "output"
    make_source_folders(out)
    publish.publish_run(batch(), out, run_id="r2", target_file_bytes=TARGET)
    erasure.forget(out, erasure.Request(article_ids={"a1"}), key=b"k" * 32, run_id="f1", keep_versions=30)
    old = [v for v in (out / versions.VERSIONS).iterdir()
           if any("source=" in f["path"] for f in manifest.read(v)["tables"]["comments"]["files"])]
    assert len(old) == 1
    want = reading.read_tables(out, version=old[0].name)
    assert "a1" not in want["articles"]["article_id"].to_pylist() and want["comments"].num_rows
    got = sorted((r["comments/comment_id"].decode(), r["comments/source"].decode())
                 for r in mlc.Dataset(jsonld=old[0] / layout.CROISSANT).records("comments"))
    assert got == sorted(zip(want["comments"]["comment_id"].to_pylist(), want["comments"]["source"].to_pylist()))
    assert '"comments/source=*/year=*/*.parquet"' in (old[0] / layout.CARD).read_text()
    cur = reading.current_version(out)
    assert '"comments/year=*/*.parquet"' in (cur / layout.CARD).read_text()


def test_the_target_is_a_project_setting_checked_up_front_and_used_by_runs(tmp_path):
    import shutil

    from newsmill import pipeline
    from newsmill.config import ConfigError, OutputSettings, Settings, load_settings
    from tests.conftest import SEED

    project = tmp_path / "newsmill.toml"
    project.write_text("[output]\ntarget_file_bytes = 2048\n", encoding="utf-8")
    assert load_settings(project).output.target_file_bytes == 2048
    assert OutputSettings().target_file_bytes == partfile.TARGET_FILE_BYTES == 128 << 20
    for bad in ("0", "512", '"128MB"', "1.5", "true"):
        project.write_text(f"[output]\ntarget_file_bytes = {bad}\n", encoding="utf-8")
        with pytest.raises(ConfigError, match=r"\[output\] target_file_bytes"):
            load_settings(project)
    # a run cuts its files at it: the seed page's 33 comments in several files of one year
    inputs = tmp_path / "in"
    inputs.mkdir()
    shutil.copy(SEED, inputs / "seed.txt")
    out = tmp_path / "out"
    s = pipeline.run([str(inputs)], Settings(output_dir=out, batch_size=2, author_key=b"k" * 32,
                                             output=OutputSettings(target_file_bytes=2048)))
    assert s.comments_published == 33
    (year, files), = files_of(out, "comments").items()
    assert len(files) > 2
    assert_ranges(out, "comments")
    rows = by_key(reading.read_table("comments", out).to_pylist(), "comments")
    assert all(v == rows for v in read_all_ways(out / "comments", "comments").values())
