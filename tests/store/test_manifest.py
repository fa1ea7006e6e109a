"""Manifest and dataset card: they describe exactly the files readers see, and the card's
instructions work as written."""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace

import pyarrow.parquet as pq
import pytest

from newsmill import schema
from newsmill.store import card, manifest, publish, reading
from tests.conftest import SEED
from tests.store.conftest import articles, sample_articles, sample_comments


@pytest.fixture
def out(tmp_path) -> Path:
    return tmp_path / "output"


def both() -> dict:
    return {"articles": sample_articles(), "comments": sample_comments()}


def fake_run_info() -> dict:
    failed = SimpleNamespace(table="comments", severity="error", expectation="expect_column_values_to_match_regex",
                             column="text", unexpected_count=3, element_count=40, reason="no HTML in comment text",
                             success=False)
    passed = SimpleNamespace(**{**vars(failed), "success": True, "expectation": "expect_column_values_to_be_unique"})
    outcome = SimpleNamespace(articles=sample_articles(), comments=sample_comments(), outcomes=[failed, passed],
                              quarantine={"comments": sample_comments().slice(0, 3)}, critical_failed=False)
    return manifest.run_info(11, outcome, [{"reason": "empty"}, {"reason": "binary"}, {"reason": "empty"}])


def test_manifest_lists_exactly_the_files_readers_see(out):
    c = publish.publish_run(both(), out, run_id="r1", pipeline_version="9.8.7")
    m = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert m == json.loads(manifest.dumps(c.manifest))
    assert (m["format"], m["version"], m["run_id"], m["version_dir"], m["previous"], m["pipeline_version"]) == \
        (manifest.FORMAT, 1, "r1", "v000001-r1", None, "9.8.7")
    created = datetime.fromisoformat(m["created_at"])
    assert created.tzinfo is not None and abs(datetime.now(timezone.utc) - created) < timedelta(minutes=5)
    for name in schema.TABLES:
        t = m["tables"][name]
        assert (t["schema_hash"], t["schema_version"]) == (schema.load(name).fingerprint, schema.load(name).version)
        assert t["rows"] == m["row_counts"][name] == reading.read_table(name, out).num_rows > 0
        on_disk = sorted(p.relative_to(out / name).as_posix() for p in (out / name).rglob("*") if p.is_file())
        assert [f["path"] for f in t["files"]] == on_disk
        for f in t["files"]:
            data = (out / name / f["path"]).read_bytes()
            assert f["sha256"] == hashlib.sha256(data).hexdigest() and f["bytes"] == len(data)
            assert f["rows"] == pq.ParquetFile(out / name / f["path"]).metadata.num_rows
    assert manifest.verify(reading.current_version(out)) == []


def test_verify_finds_altered_missing_and_extra_files(out):
    publish.publish_run(both(), out, run_id="r1", keep_versions=1)
    v = reading.current_version(out)
    files = sorted((v / "comments").rglob("*.parquet"))
    os.chmod(files[0], 0o644)
    with open(files[0], "ab") as fh:
        fh.write(b"x")
    files[1].unlink()
    (v / "comments" / "stray.parquet").write_bytes(b"PAR1")
    problems = manifest.verify(v)
    assert len(problems) == 3
    assert any("does not match its checksum" in p for p in problems)
    assert any(p.startswith("comments: missing ") for p in problems)
    assert "comments: not in the manifest: stray.parquet" in problems


def test_only_written_files_are_hashed_carried_ones_keep_their_entries(out, monkeypatch):
    publish.publish_run(both(), out, run_id="r1")
    first = manifest.read(reading.current_version(out))
    hashed_from_disk = []
    real = manifest.file_entry
    monkeypatch.setattr(manifest, "file_entry",
                        lambda rel, data=None, **kw: (hashed_from_disk.append(rel) if data is None else None)
                        or real(rel, data, **kw))
    c = publish.publish_table("articles", articles(("dawn", 2023, "a0"), title="changed"), out, run_id="r2")
    assert c.partitions_written == 1 and hashed_from_disk == []
    second = manifest.read(reading.current_version(out))
    assert second["tables"]["comments"]["files"] == first["tables"]["comments"]["files"]
    changed = {f["path"] for f in second["tables"]["articles"]["files"]} - \
        {f["path"] for f in first["tables"]["articles"]["files"]}
    assert len(changed) == 1 and next(iter(changed)).startswith("year=2023/")
    assert (second["previous"], [r["run_id"] for r in second["runs"]]) == ("v000001-r1", ["r1", "r2"])
    changes = second["runs"][-1]["changes"]
    assert changes["articles"]["updated"] == 1 and changes["comments"] is None
    assert manifest.verify(reading.current_version(out)) == []


def test_card_has_dictionary_licence_provenance_and_validation(out):
    publish.publish_run(both(), out, run_id="r1", run_info=fake_run_info(),
                        pseudonymisation="pseudonymize ids, names removed")
    text = (out / "README.md").read_text(encoding="utf-8")
    assert schema.data_dictionary_markdown() in text
    assert "copyright of their publishers and of the commenters" in text and "research" in text
    assert "Authors: pseudonymize ids, names removed." in text
    assert "2 expectations checked; critical failure: no; 1 failed." in text
    assert ("| comments | error | expect_column_values_to_match_regex | text | 3 of 40 | "
            "no HTML in comment text |") in text
    # provenance row: inputs, articles published / quarantined, comments published / quarantined, rejected
    assert re.search(r"\| `r1` \| [^|]+ \| [^|]+ \| 11 \| 4 / 0 \| 6 / 3 \| 3 \| 10 / 0 / 0 \|", text), text
    assert "| `articles` | 4 | 3 |" in text and "| `comments` | 6 | 3 |" in text  # rows, files (one per year)
    m = manifest.read(reading.current_version(out))
    assert m["runs"][-1]["reject_reasons"] == {"binary": 1, "empty": 2}


def test_card_default_pseudonymisation_and_library_runs(out):
    publish.publish_run(both(), out, run_id="r1")
    text = (out / "README.md").read_text(encoding="utf-8")
    assert f"Authors: {card.DEFAULT_PSEUDONYMISATION}." in text
    assert "No validation summary was recorded" in text


def test_card_and_manifest_switch_with_the_data(out):
    publish.publish_run(both(), out, run_id="r1")
    v1 = reading.current_version(out)
    publish.publish_table("articles", articles(("dawn", 2030, "n")), out, run_id="r2")
    assert "\n---\n\n# newsmill dataset" in (out / "README.md").read_text(encoding="utf-8")  # after the front matter
    assert "Version 2 (`v000002-r2`)" in (out / "README.md").read_text(encoding="utf-8")
    assert "Version 1 (`v000001-r1`)" in (v1 / "README.md").read_text(encoding="utf-8")
    assert manifest.read(out)["row_counts"]["articles"] == 5


def test_card_loading_instructions_work_as_written(out, monkeypatch):
    duckdb = pytest.importorskip("duckdb")
    pytest.importorskip("polars")
    pytest.importorskip("mlcroissant")
    publish.publish_run(both(), out, run_id="r1")
    text = (out / "README.md").read_text(encoding="utf-8")
    monkeypatch.chdir(out.parent)  # the card's paths are relative to the folder holding output/
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert len(blocks) == 5
    for block in blocks:
        ns: dict = {}
        exec(block, ns)
        if "comments" in ns:
            assert len(ns["comments"]) == 6
        if "thread" in ns:
            assert len(ns["thread"]) == 6
        if "tables" in ns:
            assert ns["tables"]["articles"].num_rows == 4
    (sql,) = re.findall(r"```sql\n(.*?)```", text, re.S)
    con = duckdb.connect()
    rows = con.sql(sql.replace("-- DuckDB\n", "")).fetchall()
    con.close()
    assert len(rows) == 6


def test_pipeline_run_records_inputs_and_validation(tmp_path):
    from newsmill import pipeline
    from newsmill.config import Settings

    d = tmp_path / "in"
    d.mkdir()
    shutil.copy(SEED, d / "seed.txt")
    (d / "empty.txt").write_bytes(b"")
    out = tmp_path / "out"
    s = pipeline.run([str(d)], Settings(output_dir=out, batch_size=2, author_key=b"k" * 32))
    m = manifest.read(reading.current_version(out))
    run = m["runs"][-1]
    assert (run["run_id"], run["inputs"], run["rejected"], run["reject_reasons"]) == (s.run_id, 2, 1, {"empty": 1})
    assert run["published"] == {"articles": 1, "comments": 33}
    assert run["validation"]["expectations"] > 10 and run["validation"]["critical_failed"] is False
    assert m["row_counts"] == {"articles": 1, "comments": 33}
    text = (out / "README.md").read_text(encoding="utf-8")
    assert f"| `{s.run_id}` |" in text and "expectations checked; critical failure: no" in text
