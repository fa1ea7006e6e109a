"""Validation stage: each kind of bad row is quarantined with its reason, good rows pass."""
from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pyarrow as pa
import pytest

from newsmill import schema
from newsmill.validate import gx_run
from tests.validate.conftest import art, com, good_articles, good_comments, quarantined, run


def failed(outcome) -> dict[tuple[str, str | None], gx_run.ExpectationOutcome]:
    return {(o.table, o.column): o for o in outcome.outcomes if not o.success}


# --------------------------------------------------------------------------- clean data


def test_clean_tables_pass_untouched():
    out = run(good_articles(), good_comments())
    assert out.articles.num_rows == 2 and out.comments.num_rows == 4
    assert all(o.success for o in out.outcomes), [o for o in out.outcomes if not o.success]
    assert not out.critical_failed
    for name in schema.TABLES:
        assert getattr(out, name).schema.equals(schema.load(name).arrow(), check_metadata=True)
        assert out.quarantine[name].num_rows == 0
        assert out.quarantine[name].schema.equals(gx_run.quarantine_schema(name))
        assert not [c for c in out.quarantine[name].column_names if c.startswith("_chk_")]
    assert out.articles.to_pylist() == schema.to_arrow("articles", good_articles()).to_pylist()
    assert set(out.gx_results) == {"articles", "comments"}
    json.dumps(out.gx_results)  # reports write it as JSON


def test_every_outcome_carries_severity_and_reason():
    out = run(good_articles(), good_comments())
    assert {o.table for o in out.outcomes} == {"articles", "comments"}
    for o in out.outcomes:
        assert o.severity in gx_run.SEVERITIES and o.reason
        assert o.element_count in (2, 4)


# --------------------------------------------------------------------------- bad articles

ARTICLE_CASES = [
    # (changes to one article, words of the reason, severity)
    ({"article_id": None}, "article_id is missing", "critical"),
    ({"source": None}, "source is missing", "critical"),
    ({"source": "Example.com"}, "safe directory name", "critical"),
    ({"source": "-etc"}, "safe directory name", "critical"),
    ({"source": "a..b"}, "'..'", "critical"),
    ({"title": "   "}, "title is empty", "error"),
    ({"title": "<b>Breaking</b> news"}, "title still contains HTML", "error"),
    ({"body": ""}, "neither article text nor comments", "error"),
    ({"body": "Text<br/>more"}, "body still contains HTML", "error"),
    ({"body": "Text </div> more"}, "body still contains HTML", "error"),
    ({"body": 'x <script src="t.js"> y'}, "body still contains HTML", "error"),
    ({"published_date": date(1989, 12, 31)}, "published_date is outside", "error"),
    ({"published_date": date(2026, 1, 3)}, "published_date is outside", "error"),
    ({"published_at": datetime(2026, 1, 3, tzinfo=UTC)}, "published_at is outside", "error"),
    ({"extractor": None}, "non-nullable is missing", "error"),
]


def test_an_article_without_title_or_text_is_kept_for_its_comments():
    """A page whose headline was page furniture and whose article text was not found still has real
    comments: the article row is published with warnings, so its comments are too (an article
    quarantined takes its comments with it)."""
    bare = art(3, title=None, body="", paragraph_count=0, comment_count_declared=None, comment_count_extracted=2)
    out = run(good_articles() + [bare], good_comments() + [com("a3", 1), com("a3", 2)])
    assert out.articles.column("article_id").to_pylist() == ["a1", "a2", "a3"] and out.comments.num_rows == 6
    assert out.quarantine["articles"].num_rows == 0 and out.quarantine["comments"].num_rows == 0
    warned = {o.column: o for o in out.outcomes if not o.success}
    assert {"title", "_chk_body_blank", "paragraph_count"} <= set(warned)
    assert all(warned[c].severity == "warning" for c in ("title", "_chk_body_blank", "paragraph_count"))
    assert not out.critical_failed


@pytest.fixture(scope="module")
def article_cases_run():
    """All bad articles in one run (GX costs ~0.5 s a run): each must fail alone, good ones pass."""
    bad = [art(10 + k, comment_count_declared=None, comment_count_extracted=0, **change)
           for k, (change, _, _) in enumerate(ARTICLE_CASES)]
    return run(good_articles() + bad, good_comments())


@pytest.mark.parametrize("k", range(len(ARTICLE_CASES)), ids=[str(c[0]) for c in ARTICLE_CASES])
def test_bad_article_is_quarantined_with_its_reason(article_cases_run, k):
    change, why, severity = ARTICLE_CASES[k]
    out = article_cases_run
    q = [r for r in out.quarantine["articles"].to_pylist() if r["input_uri"] == f"file:///in/{10 + k}.html"]
    assert len(q) == 1, "not quarantined"
    assert any(why in r for r in q[0]["quarantine_reasons"]), q[0]["quarantine_reasons"]
    assert len(q[0]["quarantine_reasons"]) == 1 and q[0]["quarantine_severity"] == severity
    assert [o.severity for o in out.outcomes
            if o.table == "articles" and o.reason in q[0]["quarantine_reasons"]] == [severity]
    # the good rows all pass, and nothing else
    assert out.articles.column("article_id").to_pylist() == ["a1", "a2"]
    assert out.comments.num_rows == 4
    assert out.quarantine["articles"].num_rows == len(ARTICLE_CASES)


def test_duplicate_article_id_quarantines_both_and_is_critical():
    out = run([art(1), art(2), art(3, article_id="a2")], good_comments())
    q = out.quarantine["articles"].to_pylist()
    assert [(r["article_id"], r["input_uri"]) for r in q] == [("a2", "file:///in/2.html"), ("a2", "file:///in/3.html")]
    assert all("not unique" in r["quarantine_reasons"][0] and r["quarantine_severity"] == "critical" for r in q)
    assert out.critical_failed


def test_text_that_only_looks_like_markup_passes():
    rows = good_articles()
    rows[0]["body"] = "If a < b and c > d then <3; 5 <= 6 >= 4 and x<y>z."
    rows[0]["title"] = "Rates < 2% > expected"
    out = run(rows, good_comments())
    assert out.quarantine["articles"].num_rows == 0


@pytest.mark.parametrize(("change", "column"), [
    ({"comment_count_declared": 5}, "_chk_comment_count_diff"),
    ({"language": "English"}, "language"),
    ({"url": "ftp://example.com/x"}, "url"),
])
def test_warnings_are_reported_but_rows_kept(change, column):
    rows = good_articles()
    rows[1].update(change)
    out = run(rows, good_comments())
    assert out.articles.num_rows == 2 and out.comments.num_rows == 4
    assert out.quarantine["articles"].num_rows == 0
    o = failed(out)[("articles", column)]
    assert o.severity == "warning" and o.unexpected_count == 1
    assert not out.critical_failed


def test_declared_count_null_and_url_null_are_fine():
    rows = good_articles()
    rows[0].update(comment_count_declared=None, url=None, language=None)
    out = run(rows, good_comments())
    assert all(o.success for o in out.outcomes)


def test_check_column_sample_names_the_rows():
    rows = good_articles()
    rows[1]["comment_count_declared"] = 7
    out = run(rows, good_comments())
    assert failed(out)[("articles", "_chk_comment_count_diff")].sample == ["a2: -5"]


def test_missing_required_fields_are_named_in_the_sample():
    rows = good_comments()
    rows[1].update(input_uri=None, pipeline_version=None)
    out = run(good_articles(), rows)
    o = failed(out)[("comments", "_chk_missing_required")]
    assert o.severity == "error" and o.sample == ["a1-c2: input_uri,pipeline_version"]


# --------------------------------------------------------------------------- bad comments

COMMENT_CASES = [
    # (changes to one comment of article a2, words of the reason, severity)
    ({"comment_id": None}, "comment_id is missing", "critical"),
    ({"article_id": None}, "article_id is missing", "critical"),
    ({"article_id": "nope"}, "orphan", "critical"),
    ({"position": 0}, "position is below 1", "critical"),
    ({"text": None}, "text is missing", "error"),
    ({"text": " \n "}, "text is empty", "error"),
    ({"text": "I agree <div class='x'>"}, "text still contains HTML", "error"),
    ({"text": "Great point. Reply"}, "UI artefact", "error"),
    ({"text": "Recommend"}, "UI artefact", "error"),
    ({"posted_at": datetime(2026, 1, 3, tzinfo=UTC)}, "posted_at is outside", "error"),
    ({"posted_at": datetime(1999, 6, 1, tzinfo=UTC)}, "out of line with the other comments of its thread", "error"),
    ({"extractor": None}, "non-nullable is missing", "error"),
]


@pytest.fixture(scope="module")
def comment_cases_run():
    bad = [com("a2", 10 + k, **change) for k, (change, _, _) in enumerate(COMMENT_CASES)]
    return run(good_articles(), good_comments() + bad)


@pytest.mark.parametrize("k", range(len(COMMENT_CASES)), ids=[str(c[0]) for c in COMMENT_CASES])
def test_bad_comment_is_quarantined_with_its_reason(comment_cases_run, k):
    change, why, severity = COMMENT_CASES[k]
    out = comment_cases_run
    q = [r for r in out.quarantine["comments"].to_pylist() if r["posted_raw"] == f"a2#{10 + k}"]
    assert len(q) == 1, "not quarantined"
    assert any(why in r for r in q[0]["quarantine_reasons"]), q[0]["quarantine_reasons"]
    assert len(q[0]["quarantine_reasons"]) == 1 and q[0]["quarantine_severity"] == severity
    assert [o.severity for o in out.outcomes
            if o.table == "comments" and o.reason in q[0]["quarantine_reasons"]] == [severity]
    assert out.comments.column("comment_id").to_pylist() == ["a1-c1", "a1-c2", "a2-c1", "a2-c2"]
    assert out.articles.num_rows == 2  # a bad comment never takes its article down
    assert out.quarantine["comments"].num_rows == len(COMMENT_CASES)


def test_critical_failed_only_for_critical_failures():
    rows = good_comments()
    rows[0]["position"] = 0
    assert run(good_articles(), rows).critical_failed
    rows = good_comments()
    rows[0]["text"] = ""
    arts = good_articles()
    arts[0].update(language="xx-long", comment_count_declared=9)
    out = run(arts, rows)
    assert {o.severity for o in out.outcomes if not o.success} == {"error", "warning"}
    assert not out.critical_failed


def test_duplicate_comment_id_and_position():
    rows = good_comments() + [com("a2", 2, comment_id="other", text="same slot")]
    rows[0]["comment_id"] = rows[1]["comment_id"]
    out = run(good_articles(), rows)
    q = out.quarantine["comments"].to_pylist()
    assert sorted(r["comment_id"] for r in q) == ["a1-c2", "a1-c2", "a2-c2", "other"]
    assert all(r["quarantine_severity"] == "critical" for r in q)
    reasons = [why for r in q for why in r["quarantine_reasons"]]
    assert sum("comment_id is not unique" in r for r in reasons) == 2
    assert sum("same position" in r for r in reasons) == 2
    assert out.comments.column("comment_id").to_pylist() == ["a2-c1"]
    assert out.critical_failed


def test_orphan_sample_names_the_comment():
    rows = good_comments()
    rows[2]["article_id"] = "ghost"
    out = run(good_articles(), rows)
    o = failed(out)[("comments", "_chk_article_in_run")]
    assert o.unexpected_count == 1 and o.sample == ["a2-c1: False"]


def test_artefact_check_is_off_without_a_regex():
    rows = good_comments()
    rows[0]["text"] = "Thanks. Reply"
    out = run(good_articles(), rows, ui_artifact_regex=None)
    assert out.quarantine["comments"].num_rows == 0


def test_comment_before_article_is_a_warning_that_uses_date_midnight_and_parameter():
    """A thread before its article's date says the article date is wrong, not the comments: reported, kept."""
    arts = good_articles()
    arts[1].update(published_at=None, published_date=date(2024, 5, 10))  # reference 2024-05-10 00:00 UTC
    rows = good_comments()
    rows[2]["posted_at"] = datetime(2024, 5, 8, 1, tzinfo=UTC)  # 47 h before: allowed with 2 days
    rows[3]["posted_at"] = datetime(2024, 5, 7, 23, tzinfo=UTC)  # 49 h before: not

    def early(out):
        o = [o for o in out.outcomes if o.column == "_chk_hours_after_article"][0]
        assert o.severity == "warning" and out.quarantine["comments"].num_rows == 0 and out.comments.num_rows == 4
        return o.unexpected_count, o.sample

    assert early(run(arts, rows)) == (1, ["a2-c2: -49.0"])
    assert early(run(arts, rows, max_days_before_article=1))[0] == 2
    assert early(run(arts, rows, max_days_before_article=5))[0] == 0


def test_whole_thread_before_a_wrong_article_date_is_published():
    """The held-out case: a 260-comment thread whose article date was a later update stays published."""
    arts = good_articles()
    arts[1].update(published_at=datetime(2014, 3, 1, tzinfo=UTC), published_date=date(2014, 3, 1))
    thread = [com("a2", k, posted_at=datetime(2012, 5, 1, tzinfo=UTC) + timedelta(hours=k)) for k in range(1, 261)]
    out = run(arts, good_comments()[:2] + thread)
    assert out.quarantine["comments"].num_rows == 0 and out.comments.num_rows == 262
    assert [o.unexpected_count for o in out.outcomes if o.column == "_chk_hours_after_article"] == [260]


@pytest.mark.parametrize("newest_first", [False, True])
def test_one_comment_out_of_line_with_its_thread_is_quarantined_alone(newest_first):
    hours = range(1, 8) if not newest_first else range(7, 0, -1)
    thread = [com("a2", pos, posted_at=datetime(2012, 5, 1, tzinfo=UTC) + timedelta(hours=h))
              for pos, h in enumerate(hours, start=1)]
    thread[3]["posted_at"] = datetime(1999, 5, 1, tzinfo=UTC)  # a misparsed stamp mid-thread
    arts = good_articles()
    arts[1].update(published_at=datetime(2012, 5, 1, tzinfo=UTC), published_date=date(2012, 5, 1))
    out = run(arts, good_comments()[:2] + thread)
    q = quarantined(out, "comments")
    assert list(q) == ["a2-c4"], q
    assert any("out of line" in r for r in q["a2-c4"][0]) and q["a2-c4"][1] == "error"
    assert out.comments.num_rows == 8


@pytest.mark.parametrize("order", ["oldest_first", "newest_first"])
def test_long_tail_thread_in_page_order_is_in_line(order):
    """Comments years apart are fine when they keep the page's order (a thread revived later)."""
    days = [0, 1, 2, 800, 1500]
    days = days if order == "oldest_first" else days[::-1]
    thread = [com("a2", k + 1, posted_at=datetime(2012, 5, 1, tzinfo=UTC) + timedelta(days=d)) for k, d in enumerate(days)]
    arts = good_articles()
    arts[1].update(published_at=datetime(2012, 4, 30, tzinfo=UTC), published_date=date(2012, 4, 30))
    out = run(arts, good_comments()[:2] + thread)
    assert out.quarantine["comments"].num_rows == 0


def test_out_of_line_check_needs_three_dated_comments():
    thread = [com("a2", 1, posted_at=datetime(2012, 5, 1, tzinfo=UTC)), com("a2", 2, posted_at=datetime(1999, 5, 1, tzinfo=UTC)),
              com("a2", 3, posted_at=None)]
    out = run(good_articles(), good_comments()[:2] + thread)
    assert out.quarantine["comments"].num_rows == 0


def test_comment_too_old_for_an_undated_article():
    arts = good_articles()
    arts[1].update(published_date=None, published_at=None)
    rows = good_comments()
    rows[3]["posted_at"] = datetime(1985, 1, 1, tzinfo=UTC)
    out = run(arts, rows)
    assert quarantined(out, "comments") == {"a2-c2": (
        ["posted_at is outside the plausible range (too old or in the future): probably a misparsed date."],
        "error")}


def test_min_date_parameter_accepts_text():
    arts = good_articles()
    arts[0]["published_date"] = date(2000, 1, 1)
    out = run(arts, good_comments(), min_date="2001-01-01")
    assert list(quarantined(out, "articles")) == ["a1"]


# --------------------------------------------------------------------------- lazy, cascade, severity


def test_all_failures_of_a_row_are_collected():
    rows = good_comments()
    rows[0].update(text="<p>Thanks. Reply", position=0)
    out = run(good_articles(), rows)
    reasons, sev = quarantined(out, "comments")["a1-c1"]
    assert len(reasons) == 3 and sev == "critical"


def test_comments_follow_their_quarantined_article():
    arts = good_articles()
    arts[1]["title"] = "<p>Title</p>"
    out = run(arts, good_comments())
    q = quarantined(out, "comments")
    assert sorted(q) == ["a2-c1", "a2-c2"]
    for reasons, sev in q.values():
        assert reasons == ["article quarantined: title still contains HTML tags."]
        assert sev == "error"
    assert not out.critical_failed
    assert out.comments.column("article_id").to_pylist() == ["a1", "a1"]
    assert out.articles.column("article_id").to_pylist() == ["a1"]


def test_cascade_adds_to_the_comment_own_reasons():
    arts = good_articles()
    arts[1]["title"] = "   "
    rows = good_comments()
    rows[3]["text"] = ""
    out = run(arts, rows)
    reasons, _ = quarantined(out, "comments")["a2-c2"]
    assert reasons[0] == "text is empty or only whitespace."
    assert reasons[1].startswith("article quarantined: title is empty")


def test_error_failures_alone_do_not_fail_the_run():
    arts = good_articles()
    arts[0]["title"] = "<b>x</b>"
    rows = good_comments()
    rows[1]["text"] = "<i>x</i>"
    out = run(arts, rows)
    assert {o.severity for o in out.outcomes if not o.success} == {"error"}
    assert not out.critical_failed


def test_broken_expectation_raises_instead_of_passing_rows():
    with pytest.raises(RuntimeError, match="could not be evaluated"):
        run(good_articles(), good_comments(), ui_artifact_regex="(unclosed")


# --------------------------------------------------------------------------- edge cases


def test_empty_tables():
    out = run([], [])
    assert out.articles.num_rows == out.comments.num_rows == 0
    assert out.articles.schema.equals(schema.load("articles").arrow())
    assert out.quarantine["comments"].schema.equals(gx_run.quarantine_schema("comments"))
    assert not out.critical_failed and all(o.unexpected_count == 0 for o in out.outcomes)


def test_articles_without_comments():
    out = run(good_articles(), [])
    assert out.articles.num_rows == 2 and out.comments.num_rows == 0 and not out.critical_failed


def test_comments_without_articles_are_orphans():
    out = run([], good_comments())
    assert out.quarantine["comments"].num_rows == 4 and out.critical_failed


# --------------------------------------------------------------------------- suites


@pytest.mark.parametrize("name", schema.TABLES)
def test_suite_loads_every_expectation(name):
    spec = json.loads((gx_run.SUITE_DIR / f"{name}.json").read_text())
    suite = gx_run.load_suite(name)
    assert len(suite.expectations) == len(spec["expectations"]) > 5
    for e in suite.expectations:
        assert e.meta["severity"] in gx_run.SEVERITIES and e.meta["reason"]


def _write_suite(tmp_path, expectations, meta=None):
    meta = {"record": ["article_id", "url"]} if meta is None else meta
    (tmp_path / "articles.json").write_text(json.dumps({"name": "articles", "meta": meta,
                                                        "expectations": expectations}))


@pytest.mark.parametrize(("meta", "exp", "message"), [
    ({}, {"kwargs": {"column": "title"}}, "meta.record"),
    ({"record": ["article_id", "nope"]}, {"kwargs": {"column": "title"}}, "meta.record"),
    (None, {"kwargs": {"column": "_chk_empty_article"}}, "needs a meta.label"),
])
def test_suite_that_could_not_name_records_or_derived_checks_is_refused(tmp_path, monkeypatch, meta, exp, message):
    _write_suite(tmp_path, [{"type": "expect_column_values_to_not_be_null", **exp,
                             "meta": {"severity": "error", "reason": "r"}}], meta)
    monkeypatch.setattr(gx_run, "SUITE_DIR", tmp_path)
    with pytest.raises(ValueError, match=message):
        gx_run.load_suite("articles")


def test_suite_with_unknown_expectation_type_is_refused(tmp_path, monkeypatch):
    meta = {"severity": "error", "reason": "r"}
    _write_suite(tmp_path, [
        {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "title"}, "meta": meta},
        {"type": "expect_column_values_to_be_shiny", "kwargs": {"column": "title"}, "meta": meta},
    ])
    monkeypatch.setattr(gx_run, "SUITE_DIR", tmp_path)
    with pytest.raises(ValueError, match="kept 1 of 2"):
        gx_run.load_suite("articles")


@pytest.mark.parametrize("meta", [{}, {"severity": "fatal", "reason": "r"}, {"severity": "error", "reason": " "}])
def test_suite_without_severity_or_reason_is_refused(tmp_path, monkeypatch, meta):
    _write_suite(tmp_path, [{"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "title"},
                             "meta": meta}])
    monkeypatch.setattr(gx_run, "SUITE_DIR", tmp_path)
    with pytest.raises(ValueError, match="meta.severity"):
        gx_run.load_suite("articles")


# --------------------------------------------------------------------------- data docs


def test_data_docs_show_this_run(tmp_path):
    arts = good_articles()
    arts[1]["title"] = "<p>x</p>"
    out = run(arts, good_comments())
    index = gx_run.build_data_docs(out, tmp_path)
    assert index == tmp_path.resolve() / "data_docs" / "index.html" and index.exists()
    html = index.read_text()
    assert "expectations/articles.html" in html and "expectations/comments.html" in html
    pages = sorted(p.relative_to(index.parent).parts[:2] for p in (index.parent / "validations").rglob("*.html"))
    assert pages == [("validations", "articles"), ("validations", "comments")]
    # built again into the same folder: still one result per suite
    gx_run.build_data_docs(run(good_articles(), good_comments()), tmp_path)
    assert len(list((index.parent / "validations").rglob("*.html"))) == 2


def test_outcome_tables_roundtrip_to_parquet(tmp_path):
    import pyarrow.parquet as pq

    rows = good_comments()
    rows[0]["comment_id"] = None
    out = run(good_articles(), rows)
    for name in schema.TABLES:
        pq.write_table(getattr(out, name), tmp_path / f"{name}.parquet")
        pq.write_table(out.quarantine[name], tmp_path / f"q_{name}.parquet")
    q = pq.read_table(tmp_path / "q_comments.parquet")
    assert q.column("comment_id").to_pylist() == [None]
    assert q.schema.field("quarantine_reasons").type == pa.list_(pa.string())
