"""Incremental runs: the input ledger, unchanged inputs skipped and accounted, pages seen again with
new comments publishing only the change, --full, and the ledger never ahead of the committed data."""
from __future__ import annotations

import gzip
import io
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from newsmill import pipeline
from newsmill.config import Settings
from newsmill.store import ledger, reading
from tests.conftest import REPO, SEED, budget_page

KEY = b"k" * 32



def settings(out: Path, **kw) -> Settings:
    """workers=1: the batches run in this process, where the ``reads`` fixture counts them."""
    return Settings(output_dir=out, batch_size=2, author_key=KEY, **{"workers": 1, **kw})


@pytest.fixture()
def inputs(tmp_path) -> Path:
    d = tmp_path / "in"
    d.mkdir()
    shutil.copy(SEED, d / "seed.txt")
    (d / "budget.txt").write_text(budget_page(2), encoding="utf-8")
    (d / "empty.txt").write_bytes(b"")
    (d / "binary.txt").write_bytes(bytes(range(256)) * 4)
    return d


@pytest.fixture()
def reads(monkeypatch):
    """Counts the pages read and the pages extracted, by file name."""
    counts = {"read": [], "extract": []}
    real_read, real_extract = pipeline.read_input, pipeline.extract_page

    def read(ref, **kw):
        counts["read"].append(Path(ref.partition("#")[0]).name)
        return real_read(ref, **kw)

    def extract(page, **kw):
        counts["extract"].append(page.uri)
        return real_extract(page, **kw)

    monkeypatch.setattr(pipeline, "read_input", read)
    monkeypatch.setattr(pipeline, "extract_page", extract)
    return counts


def parquet_digest(out: Path) -> dict:
    import hashlib

    return {str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest()
            for t in ("articles", "comments") for p in sorted((out / t).rglob("*.parquet"))}


def ledger_rows(out: Path) -> dict[str, tuple]:
    with sqlite3.connect(ledger.ledger_path(out)) as con:
        return {Path(r[0]).name: r[1:] for r in con.execute("SELECT ref, outcome, run_id, sha256 FROM inputs")}


def test_second_run_skips_unchanged_inputs_reads_nothing_and_accounts_them(tmp_path, inputs, reads):
    out = tmp_path / "out"
    first = pipeline.run([str(inputs)], settings(out))
    assert (first.inputs, first.articles_published, first.rejected, first.unchanged_inputs) == (4, 2, 2, 0)
    assert first.accounting_ok
    rows = ledger_rows(out)
    assert {k: v[0] for k, v in rows.items()} == {"seed.txt": "published", "budget.txt": "published",
                                                  "empty.txt": "rejected:empty", "binary.txt": "rejected:binary"}
    assert {v[1] for v in rows.values()} == {first.run_id}
    before = parquet_digest(out)
    reads["read"].clear()

    second = pipeline.run([str(inputs)], settings(out))
    assert (second.inputs, second.unchanged_inputs) == (4, 4)
    assert (second.articles_published, second.articles_quarantined, second.rejected) == (0, 0, 0)
    assert second.accounting_ok and second.exit_code == 0  # nothing new is not "nothing could be read"
    assert reads["read"] == []  # the (path, size, mtime_ns) fast path: not one byte read
    assert parquet_digest(out) == before
    assert ledger_rows(out) == rows  # nothing new to record


def test_invariant_counts_unchanged_inputs():
    base = dict(run_id="r", output_dir="o", report_dir="r", inputs=5, articles_published=1, comments_published=0,
                articles_quarantined=1, comments_quarantined=0, rejected=1, critical_failed=False,
                accounting_ok=True, seconds=0.0)
    assert not pipeline.RunSummary(**base).accounting_ok  # one input unaccounted for
    assert pipeline.RunSummary(**base, unchanged_inputs=2).accounting_ok
    assert not pipeline.RunSummary(**base, unchanged_inputs=3).accounting_ok
    only_unchanged = {**base, "articles_published": 0, "articles_quarantined": 0, "rejected": 0}
    assert pipeline.RunSummary(**only_unchanged, unchanged_inputs=5).exit_code == 0
    assert pipeline.RunSummary(**{**only_unchanged, "inputs": 1, "rejected": 1}).exit_code == 2


def test_touched_file_is_hashed_not_extracted_and_its_stat_refreshed(tmp_path, inputs, reads):
    out = tmp_path / "out"
    pipeline.run([str(inputs)], settings(out))
    st = (inputs / "seed.txt").stat()
    os.utime(inputs / "seed.txt", ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))
    reads["read"].clear()
    reads["extract"].clear()
    s = pipeline.run([str(inputs)], settings(out))
    assert s.unchanged_inputs == 4 and s.articles_published == 0 and s.accounting_ok
    assert reads["read"] == ["seed.txt"] and reads["extract"] == []  # hashed, found equal, not extracted
    reads["read"].clear()
    s = pipeline.run([str(inputs)], settings(out))
    assert s.unchanged_inputs == 4 and reads["read"] == []  # the new mtime was recorded


def test_page_with_new_comments_publishes_only_the_change(tmp_path):
    d = tmp_path / "in"
    d.mkdir()
    page = d / "budget.txt"
    page.write_text(budget_page(2), encoding="utf-8")
    out = tmp_path / "out"
    first = pipeline.run([str(d)], settings(out))
    assert (first.articles_published, first.comments_published) == (1, 2)
    old = {c["comment_id"]: c for c in reading.read_table("comments", out).to_pylist()}

    page.write_text(budget_page(3), encoding="utf-8")  # the thread grew: same page, new bytes
    second = pipeline.run([str(d)], settings(out))
    assert second.unchanged_inputs == 0 and second.articles_published == 1 and second.accounting_ok
    stats = {p["table"]: p for p in second.publish}
    # the old comments are updated only in last_seen_at (seen again on the new capture: a snapshot of the
    # thread, newsmill.store.snapshots); their content and provenance stay those of their first extraction
    assert (stats["comments"]["inserted"], stats["comments"]["updated"], stats["comments"]["unchanged"]) == (1, 2, 0)
    assert stats["articles"]["updated"] == 1  # comment_count_extracted changed
    now = {c["comment_id"]: c for c in reading.read_table("comments", out).to_pylist()}
    assert len(now) == 3 and set(old) < set(now)
    for cid, c in old.items():  # old comments: the same records, with the provenance of their first extraction
        assert now[cid]["extracted_at"] == c["extracted_at"]
        assert now[cid]["input_sha256"] == c["input_sha256"]
        assert now[cid]["first_seen_at"] == c["first_seen_at"] < now[cid]["last_seen_at"]
        assert {k: v for k, v in now[cid].items() if k != "last_seen_at"} == \
            {k: v for k, v in c.items() if k != "last_seen_at"}
    (new_id,) = set(now) - set(old)
    assert now[new_id]["author"] == "Carol Poe"
    assert now[new_id]["extracted_at"] > max(c["extracted_at"] for c in old.values())
    assert now[new_id]["input_sha256"] != next(iter(old.values()))["input_sha256"]
    article = reading.read_table("articles", out).to_pylist()
    assert len(article) == 1 and article[0]["comment_count_extracted"] == 3

    third = pipeline.run([str(d)], settings(out))  # and then it is unchanged again
    assert third.unchanged_inputs == 1 and third.articles_published == 0


def test_new_snapshot_in_another_file_keeps_old_comments_provenance(tmp_path):
    """A crawler that writes each fetch to a new file (or archive): the old comments keep the address of
    the snapshot they were first extracted from; only the new one is inserted."""
    d = tmp_path / "in"
    d.mkdir()
    (d / "day1.txt").write_text(budget_page(2), encoding="utf-8")
    out = tmp_path / "out"
    pipeline.run([str(d)], settings(out))
    (d / "day2.txt").write_text(budget_page(3), encoding="utf-8")
    s = pipeline.run([str(d)], settings(out))
    assert (s.inputs, s.unchanged_inputs, s.articles_published, s.rejected) == (2, 1, 1, 0)
    comments = reading.read_table("comments", out).to_pylist()
    assert len(comments) == 3
    assert {c["author"]: Path(c["input_uri"]).name for c in comments} == {
        "Alice Doe": "day1.txt", "Bob Roe": "day1.txt", "Carol Poe": "day2.txt"}


def test_same_input_twice_never_duplicates_a_row(tmp_path, inputs):
    out = tmp_path / "out"
    seed = str(inputs / "seed.txt")
    s = pipeline.run([seed, seed, str(inputs)], settings(out))  # named twice, and inside its folder
    assert s.inputs == 4 and s.accounting_ok
    for full in (True, False, True):
        pipeline.run([seed, str(inputs)], settings(out).with_run_options(full=full))
    for name, key in (("articles", "article_id"), ("comments", "comment_id")):
        t = reading.read_table(name, out)
        assert len(set(t[key].to_pylist())) == t.num_rows
    assert reading.read_table("comments", out).num_rows == 33 + 2


def test_full_reprocesses_everything_and_refreshes_the_ledger(tmp_path, inputs, reads):
    out = tmp_path / "out"
    first = pipeline.run([str(inputs)], settings(out))
    before = parquet_digest(out)
    reads["extract"].clear()
    full = pipeline.run([str(inputs)], settings(out).with_run_options(full=True))
    assert full.unchanged_inputs == 0 and (full.articles_published, full.rejected) == (2, 2)
    assert len(reads["extract"]) == 2 and full.accounting_ok
    assert parquet_digest(out) == before  # reprocessed, and the upsert found every row unchanged
    assert {v[1] for v in ledger_rows(out).values()} == {full.run_id} != {first.run_id}


def test_incremental_can_be_turned_off_in_the_project_file(tmp_path, inputs):
    from newsmill.config import load_settings

    (tmp_path / "newsmill.toml").write_text("[newsmill]\nincremental = false\n")
    s = load_settings(tmp_path / "newsmill.toml", env={})
    assert s.incremental is False
    assert load_settings(tmp_path / "newsmill.toml", env={"NEWSMILL_INCREMENTAL": "yes"}).incremental is True
    out = tmp_path / "out"
    pipeline.run([str(inputs)], s.with_overrides(output_dir=out, author_key=KEY))
    again = pipeline.run([str(inputs)], s.with_overrides(output_dir=out, author_key=KEY))
    assert again.unchanged_inputs == 0 and again.articles_published == 2


def test_errors_and_missing_files_are_not_recorded_and_retried(tmp_path, inputs, monkeypatch):
    out = tmp_path / "out"
    real = pipeline.extract_page

    def flaky(page, **kw):
        if page.uri.endswith("budget.txt"):
            raise MemoryError("out of memory")
        return real(page, **kw)

    monkeypatch.setattr(pipeline, "extract_page", flaky)
    missing = str(inputs / "missing.txt")
    s = pipeline.run([str(inputs), missing], settings(out))
    assert s.reject_reasons == {"error": 1, "empty": 1, "binary": 1, "not_found": 1}
    assert set(ledger_rows(out)) == {"seed.txt", "empty.txt", "binary.txt"}
    monkeypatch.setattr(pipeline, "extract_page", real)
    s = pipeline.run([str(inputs), missing], settings(out))
    assert s.unchanged_inputs == 3 and s.articles_published == 1 and s.reject_reasons == {"not_found": 1}
    assert s.accounting_ok and "budget.txt" in ledger_rows(out)


def test_another_pipeline_version_reprocesses(tmp_path, inputs):
    out = tmp_path / "out"
    pipeline.run([str(inputs)], settings(out))
    with sqlite3.connect(ledger.ledger_path(out)) as con:
        con.execute("UPDATE inputs SET pipeline_version = '0.0.1' WHERE ref LIKE '%seed.txt'")
    s = pipeline.run([str(inputs)], settings(out))
    assert s.unchanged_inputs == 3 and s.articles_published == 1


def test_critical_failure_records_nothing(tmp_path, inputs, monkeypatch):
    from newsmill import ids

    monkeypatch.setattr(ids, "comment_id", lambda *a, **k: "same-id")
    s = pipeline.run([str(inputs)], settings(out := tmp_path / "out"))
    assert s.critical_failed
    assert ledger.Ledger(out).count() == 0
    monkeypatch.undo()
    again = pipeline.run([str(inputs)], settings(out))
    assert again.unchanged_inputs == 0 and not again.critical_failed


def test_failed_publish_leaves_the_ledger_untouched(tmp_path, inputs, monkeypatch):
    from newsmill.store import versions

    out = tmp_path / "out"

    def broken(self, build):
        raise OSError("disk full")

    monkeypatch.setattr(versions.Store, "commit", broken)
    with pytest.raises(OSError, match="disk full"):
        pipeline.run([str(inputs)], settings(out))
    assert ledger.Ledger(out).count() == 0
    monkeypatch.undo()
    s = pipeline.run([str(inputs)], settings(out))
    assert s.unchanged_inputs == 0 and s.articles_published == 2


CHILD = """
import sys
from pathlib import Path
from newsmill import pipeline
from newsmill.config import Settings
pipeline.run([sys.argv[1]], Settings(output_dir=Path(sys.argv[2]), batch_size=2, author_key=b"k" * 32))
"""


def test_killed_between_commit_and_ledger_reprocesses_without_duplicates(tmp_path, inputs):
    """SIGKILL inside the ledger's transaction, after the data committed: the ledger stays behind the
    data (never ahead), so the next run processes the inputs again, and the upsert keeps every row once."""
    out = tmp_path / "out"
    env = {**os.environ, "NEWSMILL_FAILPOINT": "ledger_written:1", "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-c", CHILD, str(inputs), str(out)], env=env, capture_output=True,
                          timeout=120)
    assert proc.returncode == -9, proc.stderr.decode()[-2000:]
    committed = reading.read_tables(out)
    assert committed["articles"].num_rows == 2  # the data made it
    assert ledger.Ledger(out).count() == 0  # the ledger did not
    s = pipeline.run([str(inputs)], settings(out))
    assert s.unchanged_inputs == 0 and s.articles_published == 2
    stats = {p["table"]: p for p in s.publish}
    assert stats["comments"]["inserted"] == 0 and stats["comments"]["unchanged"] == 35
    after = reading.read_tables(out)
    assert after["comments"].num_rows == 35
    assert sorted(after["comments"]["extracted_at"].to_pylist()) == sorted(committed["comments"]["extracted_at"].to_pylist())
    assert ledger.Ledger(out).count() == 4


def write_wet(path: Path, pages: list[bytes], mode: str = "wb") -> None:
    from warcio.warcwriter import WARCWriter

    with open(path, mode) as f:
        w = WARCWriter(f, gzip=True)
        for i, data in enumerate(pages):
            w.write_record(w.create_warc_record(f"https://example.org/{i}", "conversion", payload=io.BytesIO(data),
                                                warc_headers_dict={"Content-Type": "text/plain"}))


def test_archive_records_skipped_by_archive_stat_then_by_record_hash(tmp_path, reads):
    d = tmp_path / "in"
    d.mkdir()
    wet = d / "crawl.wet.gz"
    pages = [SEED.read_bytes(), budget_page(2).encode()]
    write_wet(wet, pages)
    out = tmp_path / "out"
    first = pipeline.run([str(d)], settings(out))
    assert (first.inputs, first.articles_published) == (2, 2)
    with sqlite3.connect(ledger.ledger_path(out)) as con:
        refs = [r[0] for r in con.execute("SELECT ref FROM inputs ORDER BY ref")]
    assert len(refs) == 2 and all(r.startswith(str(wet.resolve()) + "#") for r in refs)

    reads["read"].clear()
    second = pipeline.run([str(d)], settings(out))
    assert second.unchanged_inputs == 2 and reads["read"] == []  # the archive's stat is unchanged

    write_wet(wet, [budget_page(3).replace("Council", "Town council").encode()], "ab")  # the crawl grew
    reads["read"].clear()
    reads["extract"].clear()
    third = pipeline.run([str(d)], settings(out))
    assert (third.inputs, third.unchanged_inputs, third.articles_published) == (3, 2, 1)
    assert len(reads["read"]) == 3 and len(reads["extract"]) == 1  # two hashed and skipped, one extracted
    assert third.accounting_ok


def test_gzipped_and_plain_copies_of_a_page_hash_the_same(tmp_path):
    """The ledger hashes the page bytes (gunzipped), so recompressing a file is not a change."""
    d = tmp_path / "in"
    d.mkdir()
    (d / "seed.txt.gz").write_bytes(gzip.compress(SEED.read_bytes(), mtime=0))
    out = tmp_path / "out"
    pipeline.run([str(d)], settings(out))
    (d / "seed.txt.gz").write_bytes(gzip.compress(SEED.read_bytes(), compresslevel=1, mtime=1))
    s = pipeline.run([str(d)], settings(out))
    assert s.unchanged_inputs == 1 and s.articles_published == 0


def test_cli_prints_unchanged_and_the_extended_invariant(tmp_path, inputs, capsys, monkeypatch):
    from newsmill.cli import main

    monkeypatch.setenv("NEWSMILL_AUTHOR_KEY", KEY.decode())
    out = tmp_path / "out"
    assert main(["run", "--no-prefect", str(inputs), "-o", str(out)]) == 0
    capsys.readouterr()
    assert main(["run", "--no-prefect", str(inputs), "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "unchanged inputs           4" in printed
    assert "accounting: inputs = published + quarantined + rejected + unchanged: 4 = 0 + 0 + 0 + 4: ok" in printed
    assert main(["run", "--no-prefect", "--full", str(inputs), "-o", str(out)]) == 0
    assert "4 = 2 + 0 + 2 + 0: ok" in capsys.readouterr().out
