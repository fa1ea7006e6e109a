"""The run report (``newsmill.validate.report``), tested directly: what a person reads after a run."""
from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from dataclasses import asdict
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest

from newsmill.pipeline import RunSummary
from newsmill.validate import chunked, gx_run, report
from newsmill.validate.gx_run import ExpectationOutcome, ValidationOutcome
from tests.conftest import bad_comment_page
from tests.validate.conftest import PUBLISHED, art, com, good_articles, good_comments, run


def summary(tmp_path, **kw) -> RunSummary:
    failed = ExpectationOutcome("comments", "expect_column_values_to_not_be_null", "text", "error",
                                "a comment without text says nothing", False, 2, 40)
    base = dict(run_id="r1", output_dir=str(tmp_path), report_dir=str(tmp_path / "reports" / "r1"), inputs=4,
                articles_published=2, comments_published=38, articles_quarantined=1, comments_quarantined=2,
                rejected=1, critical_failed=False, accounting_ok=True, seconds=1.5,
                reject_reasons={"empty": 1}, failed_expectations=[asdict(failed)],
                publish=[{"table": "articles", "rows_in": 2, "inserted": 2, "updated": 0, "unchanged": 0,
                          "partitions_written": 1}])
    return RunSummary(**{**base, **kw})


def outcome() -> ValidationOutcome:
    rows = {"unexpected_list": ["x"] * 3, "unexpected_index_list": [1, 2, 3], "unexpected_count": 3}
    return ValidationOutcome(articles=None, comments=None, quarantine={}, outcomes=[], critical_failed=False,
                             gx_results={"comments": {"success": False, "results": [{"result": rows}]}})


def test_the_report_has_the_summary_the_failed_checks_and_no_row_lists(tmp_path, monkeypatch):
    monkeypatch.setattr(gx_run, "build_data_docs", lambda outcome, d: d / "data_docs" / "index.html")
    s = summary(tmp_path)
    md = report.write_report(s, outcome(), tmp_path / "reports" / "r1")
    written = json.loads((md.parent / "summary.json").read_text())
    assert written == {**json.loads(json.dumps(s.to_dict())), "data_docs": str(md.parent / "data_docs" / "index.html"),
                       "quarantine_samples": {}}
    text = md.read_text()
    assert "| comments | error | expect_column_values_to_not_be_null | text | 2 of 40 | a comment without text" in text
    assert "- articles: 2 rows in; 2 inserted" in text and "rejected inputs: 1 (empty: 1)" in text
    assert "Remote output" not in text
    (res,) = json.loads((md.parent / "validation.json").read_text())["comments"]["results"]
    assert res["result"] == {"unexpected_count": 3}  # per-row lists stay in quarantine/, not in the report


def test_a_remote_run_says_where_it_was_committed(tmp_path, monkeypatch):
    monkeypatch.setattr(gx_run, "build_data_docs", lambda outcome, d: d / "data_docs" / "index.html")
    remote = {"version_dir": "v000003-r1", "url": "memory://ds", "pointer": "memory://ds/_current.json",
              "uploaded": 4, "copied": 2}
    md = report.write_report(summary(tmp_path, remote=remote), outcome(), tmp_path / "reports" / "r1")
    assert md.read_text().endswith("## Remote output\n\n- committed version v000003-r1 to memory://ds "
                                   "(pointer `memory://ds/_current.json`)\n"
                                   "- files uploaded: 4, copied inside the store: 2\n")
    assert json.loads((md.parent / "summary.json").read_text())["remote"] == remote


def test_data_docs_that_cannot_be_built_leave_the_rest_of_the_report(tmp_path, monkeypatch):
    def broken(outcome, d):
        raise RuntimeError("GX could not render")

    monkeypatch.setattr(gx_run, "build_data_docs", broken)
    md = report.write_report(summary(tmp_path), outcome(), tmp_path / "reports" / "r1")
    assert json.loads((md.parent / "summary.json").read_text())["data_docs"] is None
    assert md.read_text().startswith("# newsmill run r1")


# --------------------------------------------------------------------------- failures named by their records


class _Page(HTMLParser):
    """What a browser would show of a page (text outside script/style) and what it would load."""

    def __init__(self):
        super().__init__()
        self.text, self.loads, self.elements, self._hidden = [], [], [], 0

    def handle_starttag(self, tag, attrs):
        self.elements.append(tag)
        self._hidden += tag in ("script", "style")
        a = dict(attrs)
        if tag in ("script", "img", "iframe", "link", "object", "embed", "source") and (a.get("src") or a.get("href")):
            self.loads.append(a.get("src") or a.get("href"))

    def handle_endtag(self, tag):
        self._hidden -= tag in ("script", "style")

    def handle_data(self, data):
        if not self._hidden:
            self.text.append(data)


def shown_page(path) -> _Page:
    page = _Page()
    page.feed(path.read_text(encoding="utf-8"))
    page.shown = " ".join(" ".join(page.text).split())
    return page


def reason(table: str, column: str) -> str:
    """The rule's reason as the suite file states it (the one source the report must quote)."""
    [e] = [e for e in gx_run.read_spec(table)["expectations"] if e["kwargs"].get("column") == column]
    return e["meta"]["reason"]


HOSTILE = "look <script>alert(1)</script><img src=http://x.invalid/p.png>\x1b[2J"


@pytest.fixture(scope="module")
def failing_run():
    """A run with a comment posted long before its article (a warning on a derived column), a comment with
    markup (quarantined), and an article whose title has markup (quarantined with its comment)."""
    arts = [*good_articles(), art(3, title="<b>x</b>")]
    coms = good_comments()
    coms[1]["posted_at"] = PUBLISHED - timedelta(hours=108.37)  # a1-c2
    coms[2]["text"] = HOSTILE  # a2-c1
    coms.append(com("a3", 1))
    return run(arts, coms)


def write(tmp_path, monkeypatch, out) -> tuple:
    monkeypatch.setattr(gx_run, "build_data_docs", lambda outcome, d: d / "data_docs" / "index.html")
    s = summary(tmp_path, articles_quarantined=out.quarantine["articles"].num_rows,
                comments_quarantined=out.quarantine["comments"].num_rows, articles_published=out.articles.num_rows,
                comments_published=out.comments.num_rows, inputs=out.articles.num_rows + out.quarantine["articles"].num_rows + 1,
                failed_expectations=[asdict(o) for o in out.outcomes if not o.success])
    md = report.write_report(s, out, tmp_path / "reports" / "r1")
    return md, md.with_name("summary.html")


def test_a_failure_names_its_record_value_and_rule_never_a_derived_column_or_row_index(tmp_path, monkeypatch,
                                                                                       failing_run):
    md, page = write(tmp_path, monkeypatch, failing_run)
    label = gx_run.shown_columns("comments")["_chk_hours_after_article"]
    line = f"comment_id a1-c2, article_id a1, position 2, input_uri file:///in/x.html: {label} = -108.37"
    for text in (md.read_text(encoding="utf-8"), shown_page(page).shown):
        assert "_chk_" not in text and "Index" not in text
        assert line in text
        assert " ".join(reason("comments", "_chk_hours_after_article").split()) in " ".join(text.split())
    # the same in the table of failures (the Prefect run's artifact): the rule's reason, its records
    table = report.failure_table(json.loads(md.with_name("summary.json").read_text()))
    row = table["rule"].index(reason("comments", "_chk_hours_after_article"))
    assert table["column"][row] == label and line in table["examples"][row]
    assert not any("_chk_" in str(v) for col in table.values() for v in col)
    # the quarantined records, per reason: the article, the comment that follows it, the comment with markup
    text = md.read_text(encoding="utf-8")
    quarantined = text[text.index("## Quarantined records"):]
    assert "article_id a3, url https://example.com/3, input_uri file:///in/3.html" in quarantined
    assert "comment_id a3-c1, article_id a3, position 1" in quarantined
    assert "comment_id a2-c1, article_id a2, position 1" in quarantined
    samples = json.loads(md.with_name("summary.json").read_text())["quarantine_samples"]
    assert samples["comments"][reason("comments", "_chk_text_html")]["records"][0]["comment_id"] == "a2-c1"


def test_summary_html_is_self_contained_and_shows_quarantined_records_with_their_text_inert(tmp_path, monkeypatch,
                                                                                           failing_run):
    md, path = write(tmp_path, monkeypatch, failing_run)
    page = shown_page(path)
    assert page.loads == []  # nothing fetched: no script, image, stylesheet or frame from anywhere
    assert page.elements.count("script") == 0 and page.elements.count("img") == 0  # the page text stayed text
    assert "style" in page.elements  # styled inline
    for rid in ("a3", "a2-c1", "a3-c1"):
        assert f"_id {rid}," in page.shown
    assert "look <script>alert(1)</script><img src=http://x.invalid/p.png>\\x1b[2J" in page.shown  # ESC shown
    assert "\x1b" not in path.read_text(encoding="utf-8")
    assert f"articles quarantined {failing_run.quarantine['articles'].num_rows}" in page.shown
    assert "GX Data Docs" in page.shown and "without network" in page.shown
    # a regex check reads as what failed, not as the GX call that tests its derived column
    assert "text matches the rule's pattern" in page.shown and "to_be_null on text" not in page.shown


def test_records_and_quarantine_samples_add_up_over_chunks(tmp_path, monkeypatch):
    """Chunk row positions mean nothing in the merged run: GX results keep records, samples cover both chunks."""
    first = good_comments()
    first[0]["text"] = "<p>one"
    second = [com("a3", 1, text="<p>two"), com("a3", 2)]
    merger = chunked.Merger()
    for arts, coms in ((good_articles(), first), ([art(3)], second)):
        out = run(arts, coms)
        merger.add(out, {"articles": len(arts), "comments": len(coms)})
    merged = merger.result(None, None, {})
    [o] = [o for o in merged.outcomes if not o.success]
    assert [(r["comment_id"], r["value"]) for r in o.records] == [("a1-c1", "<p>one"), ("a3-c1", "<p>two")]
    why = reason("comments", "_chk_text_html")
    assert merged.quarantine_samples["comments"][why]["rows"] == 2
    assert [r["comment_id"] for r in merged.quarantine_samples["comments"][why]["records"]] == ["a1-c1", "a3-c1"]
    [res] = [r for r in merged.gx_results["comments"]["results"] if not r["success"]]
    assert [r["comment_id"] for r in res["result"]["unexpected_index_list"]] == ["a1-c1", "a3-c1"]


PAGE = bad_comment_page("Nice <b>bold</b> budget.")


def test_a_run_report_names_the_quarantined_comment_in_every_page(tmp_path):
    """Through the pipeline: the id in the quarantine file is what summary.md, summary.html and the Data Docs
    validation page show, with its input."""
    import pyarrow.parquet as pq

    from newsmill import pipeline
    from newsmill.config import Settings

    src = tmp_path / "in"
    src.mkdir()
    (src / "budget.txt").write_text(PAGE, encoding="utf-8")
    s = pipeline.run([str(src)], Settings(output_dir=tmp_path / "out", batch_size=2, author_key=b"k" * 32))
    [q] = pq.read_table(tmp_path / "out" / "quarantine" / "comments" / f"{s.run_id}.pq").to_pylist()
    rep = Path(s.report_dir)
    named = f"comment_id {q['comment_id']}, article_id {q['article_id']}, position {q['position']}, input_uri {q['input_uri']}"
    assert named in (rep / "summary.md").read_text(encoding="utf-8")
    assert named in shown_page(rep / "summary.html").shown
    [page] = (rep / "data_docs" / "validations" / "comments").rglob("*.html")
    docs = page.read_text(encoding="utf-8")
    assert q["comment_id"] in docs and "_chk_" not in docs


def test_data_docs_index_lists_its_pages_without_scripts(tmp_path, failing_run):
    """GX fills its index by script from CDNs (blank offline): the pages are also listed as plain links."""
    md = report.write_report(summary(tmp_path), failing_run, tmp_path / "reports" / "r1")
    index = md.parent / "data_docs" / "index.html"
    page = shown_page(index)
    for suite in ("articles", "comments"):
        assert f"validation results: {suite}" in page.shown and f"expectation suite: {suite}" in page.shown
    links = re.findall(r'<nav id="newsmill-static-index".*?</nav>', index.read_text(encoding="utf-8"), re.S)[0]
    targets = re.findall(r'href="([^"]+)"', links)
    assert len(targets) == 5 and all((index.parent / t).resolve().is_file() for t in targets)
    # no page names a derived column: results and suite pages show what it holds
    assert not [p for p in index.parent.rglob("*.html") if "_chk_" in p.read_text(encoding="utf-8")]
    suite_page = (index.parent / "expectations" / "comments.html").read_text(encoding="utf-8")
    assert html.escape(gx_run.shown_columns("comments")["_chk_hours_after_article"], quote=False) in suite_page
    # the page text's ESC reaches no page as a raw control character
    assert not [p for p in index.parent.rglob("*.html") if "\x1b" in p.read_text(encoding="utf-8")]
    report.write_report(summary(tmp_path), failing_run, tmp_path / "reports" / "r1")  # again: listed once
    assert index.read_text(encoding="utf-8").count('id="newsmill-static-index"') == 1


def test_every_outcome_icon_of_a_validation_page_has_a_word_offline(tmp_path, failing_run):
    """GX shows an expectation's outcome by a Font Awesome icon alone (its font from a CDN, blank offline): each
    icon class a validation page uses gets a word, and the failing run's page has both words."""
    md = report.write_report(summary(tmp_path), failing_run, tmp_path / "reports" / "r1")
    pages = list((md.parent / "data_docs" / "validations").rglob("*.html"))
    assert len(pages) == 2
    for page in pages:
        text = page.read_text(encoding="utf-8")
        style = re.findall(r'<style id="newsmill-offline-marks">(.*?)</style>', text, re.S)
        assert len(style) == 1 and text.index(style[0]) < text.index("</head>")
        icons = set(re.findall(r'<i class="fas (fa-[a-z-]+) text-(?:success|danger|warning)"', text))
        assert icons and all(f"i.{icon}::after" in style[0] for icon in icons), icons
    shown = " ".join(p.read_text(encoding="utf-8") for p in pages)
    assert 'class="fas fa-times text-danger"' in shown and 'class="fas fa-check-circle text-success"' in shown
    report.write_report(summary(tmp_path), failing_run, tmp_path / "reports" / "r1")  # again: one block per page
    assert all(p.read_text(encoding="utf-8").count("newsmill-offline-marks") == 1
               for p in (md.parent / "data_docs" / "validations").rglob("*.html"))


@pytest.mark.skipif(not shutil.which("chromium"), reason="needs headless Chromium (Debian package chromium)")
def test_the_reports_render_in_headless_chromium_with_the_network_off(tmp_path, failing_run):
    """What a browser without network shows: summary.html names the quarantined records; the Data Docs index
    lists its pages and the validation page names the failing comment."""
    md = report.write_report(summary(tmp_path), failing_run, tmp_path / "reports" / "r1")

    def rendered(path) -> str:
        profile = tmp_path / "chromium-profile"
        done = subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={profile}",
                               "--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=http://127.0.0.1:9",
                               "--dump-dom", path.as_uri()], capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr[-2000:]
        dumped = tmp_path / "dom.html"
        dumped.write_text(done.stdout, encoding="utf-8")
        return shown_page(dumped).shown

    text = rendered(md.with_name("summary.html"))
    for rid in ("article_id a3,", "comment_id a3-c1,", "comment_id a2-c1,"):
        assert rid in text
    index = md.parent / "data_docs" / "index.html"
    assert "validation results: comments" in rendered(index)
    [page] = (index.parent / "validations" / "comments").rglob("*.html")
    text = rendered(page)
    assert "a1-c2" in text and "-108.37" in text and "_chk_" not in text
