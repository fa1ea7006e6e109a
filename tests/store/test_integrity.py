"""A damaged output (issue 13, items 2 and 3): the published version is verified against its manifest
before a run builds on it; damage is repaired from the kept versions or reported in one line and never
committed over (``--full`` rebuilds it from the inputs); a corrupt ledger or manifest is moved aside
with one warning and rebuilt."""
from __future__ import annotations

import json
import logging
import os
import shutil
import sqlite3
from pathlib import Path

import pytest

from newsmill import pipeline
from newsmill.config import Settings
from newsmill.store import integrity, layout, ledger, manifest, reading, versions
from tests.conftest import SEED, budget_page

KEY = b"k" * 32


def settings(out: Path, **kw) -> Settings:
    return Settings(output_dir=out, batch_size=2, author_key=KEY, **{"workers": 1, **kw})


@pytest.fixture()
def inputs(tmp_path) -> Path:
    d = tmp_path / "in"
    d.mkdir()
    shutil.copy(SEED, d / "seed.txt")
    (d / "budget.txt").write_text(budget_page(2), encoding="utf-8")
    (d / "other.txt").write_text(budget_page(3).replace("budget", "harbour"), encoding="utf-8")
    return d


def current(out: Path) -> Path:
    return versions.Store(out).current()


def parts(out: Path, table: str = "articles") -> list[Path]:
    return sorted((current(out) / table).rglob("*.parquet"))


def counts(out: Path) -> dict:
    t = reading.read_tables(out)
    return {n: t[n].num_rows for n in ("articles", "comments")}


def flip(path: Path) -> None:
    """Flip bytes in the middle of a file, same size: what bit rot or a stray write does (all its hard links)."""
    os.chmod(path, 0o644)
    data = bytearray(path.read_bytes())
    mid = len(data) // 2
    data[mid:mid + 8] = bytes(b ^ 0xFF for b in data[mid:mid + 8])
    with open(path, "r+b") as fh:
        fh.write(data)
    os.chmod(path, 0o444)


def run(inputs: Path, out: Path, **kw):
    return pipeline.run([str(inputs)], settings(out, **kw))


def test_deleted_part_file_is_repaired_from_the_previous_version(tmp_path, inputs, caplog):
    out = tmp_path / "out"
    run(inputs, out)
    run(inputs, out)  # a second version: its unchanged parts are links to the same files
    want = counts(out)
    victim = parts(out)[0]
    victim.unlink()
    with caplog.at_level(logging.WARNING):
        third = run(inputs, out)
    assert third.exit_code == 0
    assert counts(out) == want
    assert manifest.verify(current(out)) == []
    assert any("repaired" in r.getMessage() for r in caplog.records)


def test_deleted_part_file_without_a_kept_copy_is_reported_and_never_committed_over(tmp_path, inputs):
    out = tmp_path / "out"
    first = run(inputs, out)
    want = first.articles_published
    before = current(out)
    parts(out)[0].unlink()
    with pytest.raises(integrity.DamagedOutputError) as err:
        run(inputs, out)
    msg = str(err.value)
    assert "\n" not in msg and "--full" in msg and "missing" in msg
    assert current(out) == before  # nothing committed over the damage
    assert sorted(os.listdir(out / versions.VERSIONS)) == [before.name]
    # --full rebuilds the damaged partition from the inputs
    full = run(inputs, out, incremental=False)
    assert full.exit_code == 0 and counts(out)["articles"] == want
    assert manifest.verify(current(out)) == []
    # and the ledger says unchanged only for rows that are there
    again = run(inputs, out)
    assert again.unchanged_inputs == 3 and counts(out)["articles"] == want


def test_flipped_bytes_are_reported_then_rebuilt_by_full(tmp_path, inputs):
    out = tmp_path / "out"
    run(inputs, out)
    run(inputs, out)
    want = counts(out)
    flip(parts(out)[0])  # a hard link shared by both versions: no intact copy is kept
    with pytest.raises(integrity.DamagedOutputError) as err:
        run(inputs, out)
    assert "checksum" in str(err.value) and "\n" not in str(err.value)
    full = run(inputs, out, incremental=False)
    assert full.exit_code == 0 and counts(out) == want
    assert manifest.verify(current(out)) == []


def test_flipped_copy_in_the_current_version_is_repaired_from_an_intact_older_copy(tmp_path, inputs):
    out = tmp_path / "out"
    run(inputs, out)
    run(inputs, out)
    want = counts(out)
    victim = parts(out)[0]
    data = victim.read_bytes()
    victim.unlink()  # its own inode now, then damaged: the older version keeps the intact bytes
    victim.write_bytes(data)
    flip(victim)
    assert manifest.verify(current(out)) != []
    report = integrity.ensure_sound(out, "test-run", rebuild=False)
    assert report.repaired and not report.dropped
    assert manifest.verify(current(out)) == [] and counts(out) == want


def test_size_check_is_cheap_and_catches_truncation_without_hashing(tmp_path, inputs, monkeypatch):
    out = tmp_path / "out"
    run(inputs, out)
    victim = parts(out)[0]
    os.chmod(victim, 0o644)
    with open(victim, "r+b") as fh:
        fh.truncate(10)
    problems = integrity.check(current(out), hashes=False)
    assert [p.kind for p in problems] == ["size"]


def test_corrupt_manifest_is_moved_aside_and_rebuilt_from_the_part_files(tmp_path, inputs, caplog):
    out = tmp_path / "out"
    run(inputs, out)
    want = counts(out)
    m = current(out) / manifest.NAME
    good = json.loads(m.read_text())
    os.chmod(m, 0o644)
    m.write_text('{"format": "newsmill.dataset-manifest/1", "tabl')
    with caplog.at_level(logging.WARNING):
        second = run(inputs, out)
    assert second.exit_code == 0 and counts(out) == want
    aside = list((out / "_state").glob("*.corrupt-*"))
    assert [p.name.split(".corrupt-")[0] for p in aside] == [f"{good['version_dir']}.manifest.json"]
    warnings = [r.getMessage() for r in caplog.records if "manifest" in r.getMessage()]
    assert warnings and all("\n" not in w for w in warnings)
    assert manifest.verify(current(out)) == []


def test_missing_manifest_is_rebuilt_and_a_part_that_fails_its_name_is_damage(tmp_path, inputs):
    out = tmp_path / "out"
    run(inputs, out)
    cur = current(out)
    (cur / manifest.NAME).unlink()
    flip(parts(out)[0])
    with pytest.raises(integrity.DamagedOutputError):
        integrity.ensure_sound(out, "test-run", rebuild=False)
    assert manifest.read(cur) is None  # nothing written over the damage: the next run sees it again
    report = integrity.ensure_sound(out, "test-run2", rebuild=True)
    assert report.dropped and report.manifest_rebuilt and manifest.verify(cur) == []
    assert manifest.read(cur)["version_dir"] == cur.name
    # croissant.json lists the same files as the manifest, with the same checksums: rewritten with it
    m = manifest.read(cur)
    listed = {f"{t}/{f['path']}": f["sha256"] for t, tm in m["tables"].items() for f in tm["files"]}
    doc = json.loads((cur / layout.CROISSANT).read_text(encoding="utf-8"))
    assert {d["contentUrl"]: d["sha256"] for d in doc["distribution"] if d["@type"] == "cr:FileObject"} == listed


def test_corrupt_ledger_is_moved_aside_and_inputs_are_reprocessed(tmp_path, inputs, caplog):
    out = tmp_path / "out"
    run(inputs, out)
    lp = ledger.ledger_path(out)
    lp.write_bytes(b"this is not a database" * 100)
    with caplog.at_level(logging.WARNING):
        second = run(inputs, out)
    assert second.exit_code == 0 and second.unchanged_inputs == 0
    assert list(lp.parent.glob("ledger.sqlite.corrupt-*"))
    assert any("ledger" in r.getMessage() and "corrupt" in r.getMessage() for r in caplog.records)
    assert run(inputs, out).unchanged_inputs == 3


def test_corrupt_ledger_with_full_records_and_the_next_run_skips(tmp_path, inputs):
    out = tmp_path / "out"
    run(inputs, out)
    ledger.ledger_path(out).write_bytes(b"\0garbage" * 1000)
    assert run(inputs, out, incremental=False).exit_code == 0
    assert run(inputs, out).unchanged_inputs == 3


def test_malformed_ledger_pages_are_detected_on_read(tmp_path):
    out = tmp_path / "out"
    led = ledger.Ledger(out)
    led.record([{"ref": f"/x/{i}", "sha256": "a" * 64, "outcome": "published"} for i in range(2000)],
               run_id="r1", pipeline_version="v")
    data = bytearray(led.path.read_bytes())
    data[4096 * 2: 4096 * 4] = b"\xa5" * 8192  # table pages overwritten, header intact
    led.path.write_bytes(bytes(data))
    assert led.lookup([f"/x/{i}" for i in range(2000)]) == {}
    assert list(led.path.parent.glob("ledger.sqlite.corrupt-*"))
    assert led.record([{"ref": "/x/1", "sha256": "b" * 64, "outcome": "published"}], run_id="r2",
                      pipeline_version="v") == 1
    assert set(led.lookup(["/x/1"])) == {"/x/1"}


def test_cli_says_damage_in_one_line_and_full_repairs_it(tmp_path, inputs, capsys, monkeypatch):
    from newsmill.cli import main

    monkeypatch.setenv("NEWSMILL_AUTHOR_KEY", KEY.decode())
    out = tmp_path / "out"
    assert main(["run", "--no-prefect", str(inputs), "-o", str(out)]) == 0
    capsys.readouterr()
    parts(out)[0].unlink()
    code = main(["run", "--no-prefect", str(inputs), "-o", str(out)])
    err = capsys.readouterr().err
    assert code == 2
    lines = [ln for ln in err.splitlines() if ln.startswith("newsmill:")]
    assert len(lines) == 1 and "--full" in lines[0] and "Traceback" not in err
    assert main(["run", "--no-prefect", "--full", str(inputs), "-o", str(out)]) == 0
    assert manifest.verify(current(out)) == []


def test_stray_parquet_file_in_a_partition_is_moved_aside_not_read_twice(tmp_path, inputs):
    out = tmp_path / "out"
    run(inputs, out)
    want = counts(out)
    victim = parts(out)[0]
    stray = victim.with_name("part-copy.parquet")
    shutil.copy(victim, stray)  # a reader would now count that partition's rows twice
    report = integrity.ensure_sound(out, "test-run", rebuild=False)
    assert report.moved_aside == [f"articles/{victim.relative_to(current(out) / 'articles').parent}/part-copy.parquet"]
    assert not stray.exists() and list((out / "_state" / "aside").rglob("part-copy.parquet"))
    assert counts(out) == want and manifest.verify(current(out)) == []
