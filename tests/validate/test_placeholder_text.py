"""A placeholder the page shows in place of a gone comment is published with text '' and its moderation
state (issue 15.5): the suite's blank-text check accepts it, with a reason, and still quarantines a blank
text without a state."""
from __future__ import annotations

import json

from newsmill.validate import gx_run
from tests.validate.conftest import com, good_articles, good_comments, quarantined, run


def test_blank_text_with_a_moderation_state_passes_and_without_one_is_quarantined():
    rows = good_comments()
    rows[1].update(text="", moderation="removed")
    rows[3].update(text="")
    out = run(good_articles(), rows)
    assert quarantined(out, "comments") == {"a2-c2": (["text is empty or only whitespace."], "error")}


def test_the_suite_says_why_and_refuses_an_unknown_field():
    spec = gx_run.read_spec("comments")
    exp = next(e for e in spec["expectations"] if e["kwargs"].get("column") == "_chk_text_blank")
    assert exp["meta"]["derive"]["unless_set"] == "moderation" and "placeholder" in exp["meta"]["why_unless_set"]
    bad = json.loads(json.dumps(exp))
    bad["meta"]["derive"]["unless_set"] = "no_such_field"
    try:
        gx_run._check_derive("comments", 0, bad, {})
    except ValueError as exc:
        assert "no_such_field" in str(exc)
    else:
        raise AssertionError("an unless_set naming no field was accepted")


def test_a_pending_comment_keeps_its_text_and_passes():
    out = run(good_articles(), [com("a1", 1, moderation="pending"), *good_comments()[1:]])
    assert quarantined(out, "comments") == {}
