"""croissant.json and the card's Hugging Face front matter: the metadata names exactly the current
version's files, with their checksums, and a Croissant reader (mlcroissant) gets the same rows as
pyarrow from it."""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from newsmill import schema
from newsmill.store import croissant, layout, manifest, reading
from tests.conftest import SAMPLES, budget_page

mlc = pytest.importorskip("mlcroissant", reason="mlcroissant is in the test extra: pip install -e '.[test]'")


def _run(inputs: Path, out: Path):
    from newsmill import pipeline
    from newsmill.config import Settings

    return pipeline.run([str(inputs)], Settings(output_dir=out, batch_size=2, author_key=b"k" * 32))


@pytest.fixture(scope="module")
def published(tmp_path_factory) -> tuple[Path, Path]:
    """The samples and a page whose thread grows later, run once: (inputs, output)."""
    base = tmp_path_factory.mktemp("croissant")
    inputs = base / "in"
    shutil.copytree(SAMPLES, inputs)
    (inputs / "budget.txt").write_text(budget_page(2), encoding="utf-8")
    out = base / "output"
    _run(inputs, out)
    return inputs, out


def _doc(version: Path) -> dict:
    return json.loads((version / layout.CROISSANT).read_text(encoding="utf-8"))


def _part_files(version: Path) -> dict[str, set[str]]:
    """table -> the version's part files on disk, relative to the version folder."""
    return {n: {p.relative_to(version).as_posix() for p in (version / n).rglob("*.parquet")} for n in schema.TABLES}


def _plain(v, field: schema.Field):
    """A value as mlcroissant gives it (bytes, numpy scalars, Timestamps) as pyarrow gives it."""
    if isinstance(v, (list, np.ndarray)):
        return [_plain(x, field) for x in v]
    if v is None or v is pd.NaT or (isinstance(v, float) and np.isnan(v)):
        return None
    if isinstance(v, bytes):
        return v.decode("utf-8")
    if isinstance(v, pd.Timestamp):
        return v.date() if field.type == "date" else v.to_pydatetime()
    if isinstance(v, np.generic):
        v = v.item()
    if field.type in ("int32", "int64") and isinstance(v, float):
        return int(v)
    return v


def _records(version: Path, table: str) -> list[dict]:
    ds = mlc.Dataset(jsonld=version / layout.CROISSANT)
    s = schema.load(table)
    return [{f.name: _plain(r[f"{table}/{f.name}"], f) for f in s.fields} for r in ds.records(table)]


def test_croissant_validates_and_mlcroissant_reads_the_rows_pyarrow_reads(published):
    _, out = published
    version = reading.current_version(out)
    ds = mlc.Dataset(jsonld=version / layout.CROISSANT)  # raises on any validation error
    assert ds.metadata.issues.errors == set()
    assert ds.metadata.issues.warnings == set()
    doc = _doc(version)
    assert doc["conformsTo"] == croissant.CONFORMS_TO == "http://mlcommons.org/croissant/1.1"
    assert doc["isLiveDataset"] is True
    assert "personal data" in doc["rai:personalSensitiveInformation"]
    assert "copyright of their publishers" in doc["license"]["description"]
    for table in schema.TABLES:
        s = schema.load(table)
        want = sorted(reading.read_table(table, out).to_pylist(), key=lambda r: r[s.primary_key[0]])
        got = sorted(_records(version, table), key=lambda r: r[s.primary_key[0]])
        assert len(got) == len(want) > 0
        assert [r[s.primary_key[0]] for r in got] == [r[s.primary_key[0]] for r in want]
        assert got == want, table  # every field, partition columns (from the path) and lists included


def test_record_sets_are_the_schema(published):
    _, out = published
    doc = _doc(reading.current_version(out))
    for rs in doc["recordSet"]:
        s = schema.load(rs["@id"])
        assert [f["name"] for f in rs["field"]] == s.names
        assert rs["key"] == [{"@id": f"{s.name}/{k}"} for k in s.primary_key]
        for f, sf in zip(rs["field"], s.fields):
            assert f["description"].startswith(sf.description) and f["dataType"] == croissant.DATA_TYPES[sf.type][0]
            assert f.get("isArray", False) == (sf.type == "list<string>")
            assert ("fileProperty" in f["source"]["extract"]) == (sf.name in s.partition_by)


def test_file_objects_are_the_current_versions_files_with_their_sha256(published):
    _, out = published
    version = reading.current_version(out)
    doc = _doc(version)
    objects = [d for d in doc["distribution"] if d["@type"] == "cr:FileObject"]
    assert {o["contentUrl"] for o in objects} == set().union(*_part_files(version).values())
    for o in objects:
        data = (version / o["contentUrl"]).read_bytes()
        assert o["sha256"] == hashlib.sha256(data).hexdigest()
        assert o["contentSize"] == f"{len(data)} B" and o["encodingFormat"] == "application/x-parquet"
    sets = {d["@id"]: d for d in doc["distribution"] if d["@type"] == "cr:FileSet"}
    for table, files in _part_files(version).items():
        (fs,) = [d for d in sets.values() if d["includes"].startswith(f"{table}/")]
        assert {p.relative_to(version).as_posix() for p in version.glob(fs["includes"])} == files


def _front_matter(card: str) -> dict:
    import yaml

    assert card.startswith("---\n")
    head, _, _ = card[4:].partition("\n---\n")
    return yaml.safe_load(head)


def test_card_front_matter_configs_match_exactly_the_current_files(published):
    import fsspec

    _, out = published
    version = reading.current_version(out)
    meta = _front_matter((out / layout.CARD).read_text(encoding="utf-8"))
    assert meta["license"] == "other" and meta["license_name"] and meta["pretty_name"].startswith("newsmill")
    assert "en" in meta["language"] and meta["task_categories"] and "news" in meta["tags"]
    configs = {c["config_name"]: c for c in meta["configs"]}
    assert set(configs) == set(schema.TABLES)
    fs = fsspec.filesystem("file")  # what `datasets` resolves data_files patterns with
    files = _part_files(version)
    for table, c in configs.items():
        (split,) = c["data_files"]
        for root in (version, out):  # the version folder as uploaded, and the output through its links
            found = {Path(p).relative_to(root.resolve() if root == version else Path(root).absolute()).as_posix()
                     for p in fs.glob(f"{root}/{split['path']}")}
            assert found == files[table], (table, root)


def test_a_second_run_names_the_new_versions_files(published):
    inputs, out = published
    first = reading.current_version(out)
    before = {o["contentUrl"]: o["sha256"] for o in _doc(first)["distribution"] if o["@type"] == "cr:FileObject"}
    (inputs / "budget.txt").write_text(budget_page(3), encoding="utf-8")  # the thread grew
    _run(inputs, out)
    version = reading.current_version(out)
    assert version != first
    doc = _doc(version)
    after = {o["contentUrl"]: o["sha256"] for o in doc["distribution"] if o["@type"] == "cr:FileObject"}
    assert set(after) == set().union(*_part_files(version).values())
    assert set(after) != set(before)  # the budget page's comment partition was rewritten
    m = manifest.read(version)
    assert doc["version"] == f"{m['version']}.0.0" and doc["datePublished"] == m["created_at"]
    for rel, sha in after.items():
        assert hashlib.sha256((version / rel).read_bytes()).hexdigest() == sha
    comments = _records(version, "comments")
    assert len(comments) == reading.read_table("comments", out).num_rows
    assert "Let us see whether the repairs really start this spring." in {c["text"] for c in comments}
    meta = _front_matter((out / layout.CARD).read_text(encoding="utf-8"))
    assert meta["size_categories"] == ["n<1K"]


def test_croissant_dates_are_the_manifests():
    m = {"version": 3, "version_dir": "v000003-r", "created_at": dt.datetime(2026, 1, 2, tzinfo=dt.timezone.utc)
         .isoformat(), "run_id": "r", "pipeline_version": "0", "tables": {n: {"files": []} for n in schema.TABLES}}
    doc = croissant.document(m)
    assert (doc["version"], doc["datePublished"]) == ("3.0.0", "2026-01-02T00:00:00+00:00")
    assert [d["@type"] for d in doc["distribution"]] == ["cr:FileSet", "cr:FileSet"]
