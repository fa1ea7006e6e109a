"""Bounded-memory runs: rows published piece by piece, partitions in several row groups, validation
in chunks, the run's staging area. Each is compared with the whole-table way it replaces."""
from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from newsmill import pipeline, schema
from newsmill.config import Settings
from newsmill.store import manifest, partfile, publish, reading, staging
from newsmill.store.sorted_runs import NewRows
from tests.conftest import REPO, SAMPLES, SEED, budget_page
from tests.store.conftest import batch, by_key, row, sample_articles, sample_comments

KEY = b"k" * 32


def files_of(out: Path) -> dict:
    m = manifest.read(reading.current_version(out))
    return {n: [(f["path"], f["sha256"], f["rows"]) for f in t["files"]] for n, t in m["tables"].items()}


def in_pieces(name: str, table: pa.Table, folder: Path, n: int) -> NewRows:
    """The table's rows, shuffled, added in ``n`` pieces to runs on disk."""
    rows = NewRows(name, folder)
    order = pa.array(sorted(range(table.num_rows), key=lambda i: (i * 7919) % table.num_rows))
    shuffled = table.take(order)
    step = -(-table.num_rows // n)
    for a in range(0, table.num_rows, step):
        rows.add(shuffled.slice(a, step))
    return rows


@pytest.mark.parametrize("pieces", [1, 3])
def test_pieces_give_the_same_version_as_whole_tables(tmp_path, pieces):
    """Insert, update, a key moving partition (its old partition emptied), new comments: the same
    files, byte for byte, whether the rows come whole or in shuffled pieces written to disk."""
    a, b = tmp_path / "whole", tmp_path / "pieces"
    for out in (a, b):
        publish.publish_run({"articles": sample_articles(), "comments": sample_comments()}, out, run_id="r1")
    new = batch()
    ca = publish.publish_run(new, a, run_id="r2")
    cb = publish.publish_run({n: in_pieces(n, t, tmp_path / "runs", pieces) for n, t in new.items()}, b, run_id="r2")
    assert files_of(a) == files_of(b)
    assert [(s.inserted, s.updated, s.unchanged, s.partitions_written, s.partitions_unchanged) for s in ca.stats] == \
        [(s.inserted, s.updated, s.unchanged, s.partitions_written, s.partitions_unchanged) for s in cb.stats]
    got = {n: by_key(t.to_pylist(), n) for n, t in reading.read_tables(b).items()}
    assert got == {n: by_key(t.to_pylist(), n) for n, t in reading.read_tables(a).items()}
    assert ca.stats[0].updated >= 2 and ca.stats[0].inserted == 1  # the batch does change things


def test_key_given_twice_in_two_pieces_is_refused(tmp_path):
    rows = NewRows("articles", tmp_path / "runs")
    rows.add(sample_articles().slice(0, 2))
    rows.add(sample_articles().slice(1, 2))
    with pytest.raises(ValueError, match="duplicate primary key"):
        publish.publish_run({"articles": rows}, tmp_path / "out", run_id="r1")
    assert not (tmp_path / "out" / "articles").exists()


def test_partition_in_many_row_groups_is_upserted_row_by_row(tmp_path, monkeypatch):
    """Tiny row groups and slices: the streaming merge and the comparison by row group must give
    what one big row group gives, for an unchanged re-run and for one changed row."""
    def table(title_of_7="same"):
        rows = [row("articles", i, source="dawn", year=2024, article_id=f"a{i:03d}",
                    title=title_of_7 if i == 7 else f"title {i}") for i in range(40)]
        return schema.to_arrow("articles", rows)

    big = tmp_path / "big"
    publish.publish_table("articles", table(), big, run_id="r1")
    monkeypatch.setattr(partfile, "ROW_GROUP_BYTES", 1)
    monkeypatch.setattr(partfile, "SLICE_ROWS", 3)
    monkeypatch.setattr(partfile, "OLD_BATCH_ROWS", 5)
    small = tmp_path / "small"
    publish.publish_table("articles", table(), small, run_id="r1")
    f = next((small / "articles").rglob("*.parquet"))
    assert pq.ParquetFile(f).metadata.num_row_groups > 5
    assert pq.read_table(f).column("article_id").to_pylist() == sorted(f"a{i:03d}" for i in range(40))

    again = publish.publish_table("articles", table(), small, run_id="r2")
    assert (again.inserted, again.updated, again.unchanged, again.partitions_written) == (0, 0, 40, 0)
    changed = publish.publish_table("articles", table("changed"), small, run_id="r3")
    assert (changed.inserted, changed.updated, changed.unchanged, changed.partitions_written) == (0, 1, 39, 1)
    monkeypatch.undo()
    publish.publish_table("articles", table("changed"), big, run_id="r3")
    assert by_key(reading.read_table("articles", small).to_pylist(), "articles") == \
        by_key(reading.read_table("articles", big).to_pylist(), "articles")


def test_old_file_out_of_order_is_merged_right(tmp_path):
    """A part file another writer left unsorted: read whole (the one case that is), result sorted."""
    from tests.store.conftest import part_file, plant

    out = tmp_path / "out"
    rows = [row("articles", i, source="dawn", year=2024, article_id=f"a{i}") for i in range(6)]
    publish.publish_table("articles", schema.to_arrow("articles", rows), out, run_id="r1")
    rel = "year=2024"
    plant(out, "articles", rel, lambda t: t.take(pa.array(list(reversed(range(t.num_rows))))))
    rows[2]["title"] = "changed"
    st = publish.publish_table("articles", schema.to_arrow("articles", [rows[2], row("articles", 9, source="dawn",
                                                                        year=2024, article_id="a9")]), out, run_id="r2")
    assert (st.inserted, st.updated) == (1, 1)
    ids = pq.read_table(part_file(out / "articles", rel)).column("article_id").to_pylist()
    assert ids == sorted(ids) and len(ids) == 7


# --- validation in chunks ----------------------------------------------------------------------


@pytest.fixture()
def pages(tmp_path) -> Path:
    d = tmp_path / "in"
    d.mkdir()
    for p in sorted(SAMPLES.iterdir()):
        shutil.copy(p, d / p.name)
    (d / "budget.txt").write_text(budget_page(3), encoding="utf-8")
    bad = budget_page(3).replace("Council approves", "Council rejects").replace("Finally", "Finally <b>bold</b>")
    (d / "bad.txt").write_text(bad, encoding="utf-8")
    (d / "empty.txt").write_bytes(b"")
    (d / "zz-seed-copy.txt.gz").write_bytes(gzip.compress(SEED.read_bytes()))
    return d


def outcome_of(out: Path, s) -> dict:
    rep = Path(s.report_dir)
    res = json.loads((rep / "validation.json").read_text())
    quarantine = {n: sorted(json.dumps({k: v for k, v in r.items() if k != "extracted_at"}, default=str,
                                       sort_keys=True) for r in pq.read_table(p).to_pylist())
                  for n in schema.TABLES if (p := out / "quarantine" / n / f"{s.run_id}.parquet").exists()}
    return {
        "counts": (s.inputs, s.articles_published, s.comments_published, s.articles_quarantined,
                   s.comments_quarantined, s.rejected, s.critical_failed, s.accounting_ok),
        "failed": sorted((o["table"], o["expectation"], o["column"], o["unexpected_count"], o["element_count"])
                         for o in s.failed_expectations),
        "gx": {n: [(r["expectation_config"]["type"], r["success"], r["result"].get("unexpected_count"),
                    r["result"].get("element_count"), r["result"].get("missing_count"))
                   for r in res[n]["results"]] for n in schema.TABLES},
        "statistics": {n: res[n]["statistics"] for n in schema.TABLES},
        "quarantine": quarantine,
        "rows": {n: sorted(r["article_id"] for r in reading.read_table(n, out).to_pylist()) for n in schema.TABLES},
    }


def run(pages: Path, out: Path, **kw):
    return pipeline.run([str(pages)], Settings(output_dir=out, batch_size=1, author_key=KEY, workers=1, **kw))


def test_chunks_of_one_batch_validate_like_one_chunk(pages, tmp_path, monkeypatch):
    whole = run(pages, tmp_path / "whole")
    monkeypatch.setattr(pipeline, "CHUNK_BYTES", 1)  # every batch its own chunk (and GX call)
    chunked = run(pages, tmp_path / "chunked")
    a, b = outcome_of(tmp_path / "whole", whole), outcome_of(tmp_path / "chunked", chunked)
    assert a == b
    assert whole.comments_quarantined >= 1 and whole.reject_reasons == {"duplicate": 1, "empty": 1}


def test_a_key_duplicated_across_chunks_is_quarantined_as_in_one_chunk(pages, tmp_path, monkeypatch):
    """Two pages whose comments get the same ids: a critical failure however the run is chunked."""
    from newsmill import ids

    monkeypatch.setattr(ids, "comment_id", lambda article, author, posted, text, occurrence, **k: f"t{hash(text)}")
    whole = run(pages, tmp_path / "whole")
    monkeypatch.setattr(pipeline, "CHUNK_BYTES", 1)
    chunked = run(pages, tmp_path / "chunked")
    assert whole.critical_failed and chunked.critical_failed
    assert outcome_of(tmp_path / "whole", whole) == outcome_of(tmp_path / "chunked", chunked)


# --- the staging area ---------------------------------------------------------------------------


def test_area_of_a_dead_run_is_removed_a_live_one_kept(tmp_path):
    root = staging.area_path(tmp_path, "x").parent
    code = ("import sys, time; from newsmill.store import staging\n"
            "with staging.area(sys.argv[1], 'alive') as a:\n"
            "    (a.path / 'f').write_bytes(b'x'); print('ready', flush=True); time.sleep(60)")
    holder = subprocess.Popen([sys.executable, "-c", code, str(tmp_path)],
        stdout=subprocess.PIPE, text=True, cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        assert holder.stdout.readline().strip() == "ready"
        (root / "dead").mkdir()
        (root / "dead" / "b0000000.articles.arrow").write_bytes(b"x")
        (root / "dead.lock").write_bytes(b"")  # its holder is gone: nobody has it locked
        (root / "lockless").mkdir()  # can only be a leftover: a lock is made before its area
        with staging.area(tmp_path, "mine") as a:
            assert a.path.is_dir()
            assert sorted(p.name for p in root.iterdir()) == ["alive", "alive.lock", "mine", "mine.lock"]
        assert sorted(p.name for p in root.iterdir()) == ["alive", "alive.lock"]
    finally:
        holder.kill()
        holder.wait()


def test_run_leaves_no_staging_behind(pages, tmp_path):
    out = tmp_path / "out"
    pipeline.run([str(pages)], Settings(output_dir=out, batch_size=2, author_key=KEY, workers=2))
    assert list(staging.area_path(out, "x").parent.iterdir()) == []
    assert not (out / publish.STAGING).exists()
