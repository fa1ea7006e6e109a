"""The whole pipeline in-process (no Prefect): accounting, rejects, quarantine, idempotency, report."""
from __future__ import annotations

import gzip
import hashlib
import json
import shutil
from pathlib import Path

import pytest

from newsmill import pipeline
from newsmill.config import Settings
from newsmill.store import reading
from tests.conftest import SEED, bad_comment_page

BAD_COMMENT_PAGE = bad_comment_page("Nice <script>alert(1)</script> budget.")


def _settings(out: Path) -> Settings:
    return Settings(output_dir=out, batch_size=2, author_key=b"k" * 32)


def _digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*.parquet"))}


@pytest.fixture()
def inputs(tmp_path) -> Path:
    d = tmp_path / "in"
    d.mkdir()
    shutil.copy(SEED, d / "seed.txt")
    (d / "empty.txt").write_bytes(b"")
    (d / "binary.txt").write_bytes(bytes(range(256)) * 4)
    (d / "broken.txt.gz").write_bytes(gzip.compress(SEED.read_bytes())[:2000])
    (d / "budget.txt").write_text(BAD_COMMENT_PAGE, encoding="cp1252")
    return d


def test_good_pages_published_bad_inputs_rejected(tmp_path, inputs):
    out = tmp_path / "out"
    s = pipeline.run([str(inputs)], _settings(out))
    assert s.inputs == 5
    assert s.articles_published == 2
    assert s.rejected == 3
    assert s.reject_reasons == {"empty": 1, "binary": 1, "corrupt_gzip": 1}
    assert s.accounting_ok and s.exit_code == 0
    import pyarrow.parquet as pq

    rej = pq.read_table(out / "quarantine" / "rejects" / f"{s.run_id}.pq").to_pylist()
    assert {Path(r["input_uri"]).name: r["reason"] for r in rej} == {
        "empty.txt": "empty", "binary.txt": "binary", "broken.txt.gz": "corrupt_gzip"}
    assert all(r["detail"] for r in rej)


def test_bad_comment_is_quarantined_with_reason_rest_published(tmp_path, inputs):
    out = tmp_path / "out"
    s = pipeline.run([str(inputs)], _settings(out))
    assert s.comments_published == 33 + 1
    assert s.comments_quarantined == 1
    import pyarrow.parquet as pq

    q = pq.read_table(out / "quarantine" / "comments" / f"{s.run_id}.pq").to_pylist()
    assert [r["author"] for r in q] == ["Bob Roe"]
    assert any("HTML" in reason or "tag" in reason for reason in q[0]["quarantine_reasons"])
    comments = reading.read_table("comments", out).to_pylist()
    assert "Bob Roe" not in {c["author"] for c in comments}
    assert {c["author"] for c in comments if c["source"] != "tribune"} == {"Alice Doe"}


def test_same_run_twice_gives_identical_datasets(tmp_path, inputs):
    out = tmp_path / "out"
    first = pipeline.run([str(inputs)], _settings(out))
    before = _digest(out / "articles") | _digest(out / "comments")
    second = pipeline.run([str(inputs)], _settings(out).with_run_options(full=True))  # processed again (--full)
    after = _digest(out / "articles") | _digest(out / "comments")
    assert before == after
    assert second.articles_published == first.articles_published
    for name in ("articles", "comments"):
        t = reading.read_table(name, out)
        key = "article_id" if name == "articles" else "comment_id"
        assert len(set(t[key].to_pylist())) == t.num_rows  # no duplicates
    stats = {p["table"]: p for p in second.publish}
    assert stats["comments"]["inserted"] == 0 and stats["comments"]["unchanged"] == 34


def test_duplicate_input_is_rejected_not_duplicated(tmp_path):
    d = tmp_path / "in"
    d.mkdir()
    shutil.copy(SEED, d / "a.txt")
    (d / "b.txt.gz").write_bytes(gzip.compress(SEED.read_bytes()))
    s = pipeline.run([str(d)], _settings(tmp_path / "out"))
    assert (s.articles_published, s.comments_published, s.rejected) == (1, 33, 1)
    assert s.reject_reasons == {"duplicate": 1} and s.accounting_ok


def test_report_written(tmp_path, inputs):
    out = tmp_path / "out"
    s = pipeline.run([str(inputs)], _settings(out))
    rep = Path(s.report_dir)
    summary = json.loads((rep / "summary.json").read_text())
    assert summary["articles_published"] == 2 and summary["exit_code"] == 0
    assert (rep / "data_docs" / "index.html").is_file()
    md = (rep / "summary.md").read_text()
    assert "comments published: 34, quarantined: 1" in md
    assert (out / "reports" / "LATEST").read_text().strip() == s.run_id


def test_nothing_readable_exits_2(tmp_path):
    (tmp_path / "empty.txt").write_bytes(b"")
    s = pipeline.run([str(tmp_path / "empty.txt"), str(tmp_path / "missing.txt")], _settings(tmp_path / "out"))
    assert s.exit_code == 2 and s.rejected == 2 and s.accounting_ok


def test_critical_failure_exits_1_and_quarantines(tmp_path, monkeypatch):
    """A broken invariant (here: duplicate comment ids) is critical: exit code 1, rows quarantined."""
    from newsmill import ids

    monkeypatch.setattr(ids, "comment_id", lambda *a, **k: "same-id")
    d = tmp_path / "in"
    d.mkdir()
    shutil.copy(SEED, d / "seed.txt")
    s = pipeline.run([str(d)], _settings(tmp_path / "out"))
    assert s.critical_failed and s.exit_code == 1
    assert s.comments_published == 0 and s.comments_quarantined == 33
    assert any(o["severity"] == "critical" and o["table"] == "comments" for o in s.failed_expectations)


def test_exit_codes():
    base = dict(run_id="r", output_dir="o", report_dir="r", inputs=1, articles_published=1, comments_published=0,
                articles_quarantined=0, comments_quarantined=0, rejected=0, critical_failed=False,
                accounting_ok=True, seconds=0.0)
    assert pipeline.RunSummary(**base).exit_code == 0
    assert pipeline.RunSummary(**{**base, "critical_failed": True}).exit_code == 1
    assert pipeline.RunSummary(**{**base, "accounting_ok": False}).exit_code == 1
    assert pipeline.RunSummary(**{**base, "articles_published": 0, "rejected": 1}).exit_code == 2


def test_pages_with_script_loaded_comments_are_counted(tmp_path):
    """The run summary, summary.md and the published rows say which pages have comments a script
    loads and the capture lacks; a page whose comments were captured and a text dump are not counted."""
    from tests.conftest import WP_COMMENTS, article_page as page

    d = tmp_path / "in"
    d.mkdir()
    (d / "disqus1.html").write_text(page('<div id="disqus_thread"></div>').replace("Riverside park", "Park one"))
    (d / "disqus2.html").write_text(page('<div id="disqus_thread"></div>').replace("riverside", "hillside"))
    (d / "spotim.html").write_text(page('<div data-spotim-module="conversation"></div>').replace("riverside", "lakeside"))
    (d / "captured.html").write_text(page(WP_COMMENTS).replace("riverside", "seaside"))
    (d / "like.html").write_text(page('<div class="fb-like" data-href="x"></div>').replace("riverside", "roadside"))
    shutil.copy(SEED, d / "seed.txt")
    out = tmp_path / "out"
    s = pipeline.run([str(d)], _settings(out))
    assert s.articles_published == 6 and s.accounting_ok
    assert s.comments_not_captured == {"disqus": 2, "spotim": 1}
    line = "pages with script-loaded comments not in the capture: 3 (disqus 2, spotim 1)"
    assert line in (Path(s.report_dir) / "summary.md").read_text()
    assert json.loads((Path(s.report_dir) / "summary.json").read_text())["comments_not_captured"] == {"disqus": 2, "spotim": 1}
    arts = reading.read_tables(out)["articles"].to_pylist()
    by_file = {Path(a["input_uri"]).name: (a["comment_system"], a["comments_in_capture"]) for a in arts}
    assert by_file == {"disqus1.html": ("disqus", False), "disqus2.html": ("disqus", False),
                       "spotim.html": ("spotim", False), "captured.html": ("wordpress", True),
                       "like.html": (None, None), "seed.txt": (None, True)}


def test_summary_line_without_such_pages():
    from newsmill.validate.report import not_captured_line

    assert not_captured_line({}) == "pages with script-loaded comments not in the capture: 0"
    assert not_captured_line({"spotim": 1, "disqus": 12, "coral": 1}) == \
        "pages with script-loaded comments not in the capture: 14 (disqus 12, coral 1, spotim 1)"
