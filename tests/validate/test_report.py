"""The run report (``newsmill.validate.report``), tested directly: what a person reads after a run."""
from __future__ import annotations

import json
from dataclasses import asdict

from newsmill.pipeline import RunSummary
from newsmill.validate import gx_run, report
from newsmill.validate.gx_run import ExpectationOutcome, ValidationOutcome


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
    assert written == {**json.loads(json.dumps(s.to_dict())), "data_docs": str(md.parent / "data_docs" / "index.html")}
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
