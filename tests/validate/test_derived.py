"""Regex checks declared as ``meta.derive`` columns: same rows, reasons and severities as GX's own
regex expectations gave, also where RE2 and Python's ``re`` disagree; samples and Data Docs
still show the failing text, escaped."""
from __future__ import annotations

import json
import re

import pytest

from newsmill import profiles, schema
from newsmill.validate import gx_run
from tests.validate.conftest import NOW, art, com, good_articles, good_comments, quarantined, run


def _suite(name: str) -> dict:
    return json.loads((gx_run.SUITE_DIR / f"{name}.json").read_text(encoding="utf-8"))


def _derived(name: str) -> dict[str, dict]:
    """``_chk_*`` column -> its expectation, for the suite's regex-derived checks."""
    return {e["kwargs"]["column"]: e for e in _suite(name)["expectations"] if "derive" in e["meta"]}


def _regex(e: dict, ui: str) -> str:
    d = e["meta"]["derive"]
    rx = d.get("rows_matching", d.get("rows_not_matching"))
    return ui if isinstance(rx, dict) else rx


def _as_gx_regex_expectations(name: str) -> dict:
    """The suite with each derived check written back as GX's own (row-by-row) regex expectation."""
    spec = _suite(name)
    for e in spec["expectations"]:
        if d := e["meta"].pop("derive", None):
            kind = "rows_matching" if "rows_matching" in d else "rows_not_matching"
            e["type"] = ("expect_column_values_to_not_match_regex" if kind == "rows_matching"
                         else "expect_column_values_to_match_regex")
            e["kwargs"] = {"column": d["column"], "regex": d[kind]}
    return spec


UI = profiles.ui_artifact_regex(None)
# Texts on both sides of each check, and where RE2 and Python's re disagree: Unicode spaces, a
# zero-width space, case folding (dotless i, dotted I, KELVIN SIGN), Unicode word boundaries,
# '$' before a final newline.
TEXTS = [
    "Fine comment.", "", " ", "\n\t", "\u00a0", "\u00a0\u2003\u3000", "\x0b\x1c\x85", "\u200b", "x\u00a0",
    "<p>para</p>", "I agree <div class='x'>", "<DIV>", "<ı>", "<İMG src=x>", "<blocKquote>", "<bé>", "<b>", "a < b > c",
    "<3 you", "<!-- hidden", "x <br/> y", "<scripts>", "<script>alert(1)</script>",
    "Great point. Reply", "Great point. Reply\n", "Reply\nmore to say", "Recommend", "Thanks!Report", "Thanks Reply ",
    "Reply to this comment", "xReply", "Like\u00a0", "Great.\u00a0Reply", "Antworten", "Répondre", "RÉPONDRE",
]


@pytest.fixture(scope="module")
def both_ways(tmp_path_factory):
    """The same bad rows through the suites as they are and with GX's own regex expectations."""
    arts = good_articles() + [art(10 + k, title=t or " ", body=t or " ") for k, t in enumerate(TEXTS)]
    coms = good_comments() + [com("a1", 10 + k, text=t) for k, t in enumerate(TEXTS)]
    new = run(arts, coms, ui_artifact_regex=UI)
    old_dir = tmp_path_factory.mktemp("gx-regex-suites")
    for name in schema.TABLES:
        (old_dir / f"{name}.json").write_text(json.dumps(_as_gx_regex_expectations(name)), encoding="utf-8")
    real = gx_run.SUITE_DIR
    gx_run.SUITE_DIR = old_dir
    try:
        old = run(arts, coms, ui_artifact_regex=UI)
    finally:
        gx_run.SUITE_DIR = real
    return old, new


@pytest.mark.parametrize("table", schema.TABLES)
def test_same_rows_reasons_and_severities_as_gx_regex_expectations(both_ways, table):
    old, new = both_ways
    assert quarantined(new, table) == quarantined(old, table)
    assert new.critical_failed == old.critical_failed
    o = {(x.severity, x.reason): (x.success, x.unexpected_count, x.element_count) for x in old.outcomes if x.table == table}
    n = {(x.severity, x.reason): (x.success, x.unexpected_count, x.element_count) for x in new.outcomes if x.table == table}
    assert n == o


def test_every_derived_check_quarantined_something_here(both_ways):
    """The comparison above means something only if each converted check fails on some rows."""
    _, new = both_ways
    for name in schema.TABLES:
        for column, e in _derived(name).items():
            [o] = [o for o in new.outcomes if o.table == name and o.column == column]
            assert not o.success and o.reason == e["meta"]["reason"] and o.severity == e["meta"]["severity"]


@pytest.mark.parametrize("text", TEXTS)
def test_each_comment_text_gets_exactly_the_reasons_python_re_gives(both_ways, text):
    _, new = both_ways
    why = {e["meta"]["reason"] for e in _derived("comments").values()
           if (re.search(_regex(e, UI), text) is not None) == ("rows_matching" in e["meta"]["derive"])}
    k = TEXTS.index(text)
    got = quarantined(new, "comments").get(f"a1-c{10 + k}", ([], None))[0]
    assert set(got) == why
    assert len(got) == len(why)


@pytest.mark.parametrize(("change", "column", "why", "severity"), [
    ({"text": "\u00a0\u2003"}, "_chk_text_blank", "text is empty", "error"),  # RE2's \S calls NBSP text
    ({"text": "<İMG src=x>"}, "_chk_text_html", "text still contains HTML", "error"),  # re folds İ to i
    ({"text": "Good point. Reply\n"}, "_chk_text_ui_artifact", "UI artefact", "error"),  # $ before final \n
])
def test_converted_comment_checks_quarantine_the_row(change, column, why, severity):
    rows = good_comments()
    rows[3].update(change)
    out = run(good_articles(), rows, ui_artifact_regex=UI)
    assert quarantined(out, "comments") == {"a2-c2": ([next(o.reason for o in out.outcomes if o.column == column)], severity)}
    o = next(o for o in out.outcomes if o.column == column)
    assert why in o.reason and o.severity == severity and o.unexpected_count == 1
    assert o.sample == [f"a2-c2: {change['text']}"]  # whose row, and its own text


@pytest.mark.parametrize("text", ["\u200b", "<bé>", "Reply\nmore to say", "a < b > c"])
def test_texts_python_re_passes_are_published(text):
    rows = good_comments()
    rows[0]["text"] = text
    out = run(good_articles(), rows, ui_artifact_regex=UI)
    assert out.quarantine["comments"].num_rows == 0 and out.comments.num_rows == 4


def test_too_early_date_is_reported_alongside_derived_checks():
    rows = good_comments()
    rows[3].update(text="<p>early", posted_at=NOW.replace(year=2024, month=4, day=1))
    out = run(good_articles(), rows)
    reasons, sev = quarantined(out, "comments")["a2-c2"]
    assert sev == "error" and len(reasons) == 1 and "HTML" in reasons[0]
    early = [o for o in out.outcomes if o.column == "_chk_hours_after_article"]
    assert early[0].severity == "warning" and early[0].unexpected_count == 1


def test_artefact_regex_re2_cannot_compile_still_checks_every_row():
    huge = r"(?:^|\s)(?:(?:x{999}){999}|Reply)\s*$"  # beyond RE2's program size: Python's re runs it
    rows = good_comments()
    rows[1]["text"] = "ok. Reply"
    out = run(good_articles(), rows, ui_artifact_regex=huge)
    assert list(quarantined(out, "comments")) == ["a1-c2"]


def test_data_docs_show_the_failing_derived_check_with_escaped_text(tmp_path):
    rows = good_comments()
    rows[2]["text"] = "look <script>alert(document.cookie)</script>"
    out = run(good_articles(), rows)
    index = gx_run.build_data_docs(out, tmp_path)
    [page] = (index.parent / "validations" / "comments").rglob("*.html")
    html = page.read_text(encoding="utf-8")
    assert "look &lt;script&gt;alert(document.cookie)&lt;/script&gt;" in html
    # the failing row is named by its record (comment id, article, position, input), not a row index
    assert "_chk_" not in html and "a2-c1" in html and "file:///in/x.html" in html and ">Index<" not in html
    assert "<script>alert(document.cookie)" not in html
    suite_page = (index.parent / "expectations" / "comments.html").read_text(encoding="utf-8")
    assert "text still contains HTML tags." in suite_page  # the reason, in the notes GX shows there
    assert "[^&lt;&gt;]*&gt;|&lt;!-- matches)" in suite_page  # the rule too, escaped (a raw '<!--' would hide the page)


# --------------------------------------------------------------------------- suite checks


def _write(tmp_path, monkeypatch, exp):
    spec = _suite("comments")
    spec["expectations"].append(exp)
    (tmp_path / "comments.json").write_text(json.dumps(spec), encoding="utf-8")
    (tmp_path / "articles.json").write_text(json.dumps(_suite("articles")), encoding="utf-8")
    monkeypatch.setattr(gx_run, "SUITE_DIR", tmp_path)


@pytest.mark.parametrize(("exp", "message"), [
    ({"type": "expect_column_values_to_be_null", "kwargs": {"column": "_chk_x"},
      "meta": {"derive": {"column": "text", "regex": "x"}}}, "must be an object"),
    ({"type": "expect_column_values_to_be_null", "kwargs": {"column": "_chk_x"},
      "meta": {"derive": {"column": "text", "rows_matching": "x", "rows_not_matching": "y"}}}, "must be an object"),
    ({"type": "expect_column_values_to_be_null", "kwargs": {"column": "_chk_x"},
      "meta": {"derive": {"column": "nope", "rows_matching": "x"}}}, "not a field"),
    ({"type": "expect_column_values_to_be_in_set", "kwargs": {"column": "_chk_x", "value_set": [None]},
      "meta": {"derive": {"column": "text", "rows_matching": "x"}}}, "expect_column_values_to_be_null"),
    ({"type": "expect_column_values_to_be_null", "kwargs": {"column": "text"},
      "meta": {"derive": {"column": "text", "rows_matching": "x"}}}, "_chk_"),
    ({"type": "expect_column_values_to_be_null", "kwargs": {"column": "_chk_x"},
      "meta": {"derive": {"column": "text", "rows_matching": 3}}}, "string or"),
    ({"type": "expect_column_values_to_be_null", "kwargs": {"column": "_chk_text_html"},
      "meta": {"derive": {"column": "text", "rows_matching": "x"}}}, "derived differently"),
])
def test_meta_derive_that_would_not_mean_what_it_says_is_refused(tmp_path, monkeypatch, exp, message):
    exp["meta"].update(severity="error", reason="r")
    _write(tmp_path, monkeypatch, exp)
    with pytest.raises(ValueError, match=message):
        gx_run.load_suite("comments")


def test_unknown_regex_parameter_is_a_broken_check(tmp_path, monkeypatch):
    _write(tmp_path, monkeypatch, {"type": "expect_column_values_to_be_null", "kwargs": {"column": "_chk_x"},
                                   "meta": {"severity": "error", "reason": "r",
                                            "derive": {"column": "text", "rows_matching": {"$PARAMETER": "nope"}}}})
    with pytest.raises(RuntimeError, match="could not be evaluated"):
        run(good_articles(), good_comments())


def test_derived_columns_never_leave_the_module():
    rows = good_comments()
    rows[0]["text"] = "<p>x"
    out = run(good_articles(), rows)
    for name in schema.TABLES:
        for t in (getattr(out, name), out.quarantine[name]):
            assert not [c for c in t.column_names if c.startswith("_chk_")]
