"""Validation chunk by chunk (``newsmill.validate.chunked``), tested directly: the uniqueness that spans
chunks, and the comments that follow an article it quarantines."""
from __future__ import annotations

import pyarrow as pa

from newsmill import schema
from newsmill.validate import chunked
from newsmill.validate.gx_run import ValidationOutcome
from newsmill.validate.quarantine import quarantine_schema
from tests.store.conftest import articles, row


def comments_of(*pairs: tuple[str, str]) -> pa.Table:
    """(comment_id, article_id) pairs, as valid comment rows."""
    return schema.to_arrow("comments", [row("comments", i, comment_id=c, article_id=a, source="dawn", year=2023,
                                            position=i + 1) for i, (c, a) in enumerate(pairs)])


def passed(arts: pa.Table, coms: pa.Table) -> ValidationOutcome:
    """A chunk whose rows all passed the suites."""
    return ValidationOutcome(articles=arts, comments=coms, quarantine={}, outcomes=[], critical_failed=False,
                             gx_results={})


def test_an_article_id_in_two_chunks_is_quarantined_in_both_with_its_comments():
    first = articles(("dawn", 2023, "a0"), ("dawn", 2023, "twice"))
    second = articles(("dawn", 2023, "twice"), ("dawn", 2023, "a2"))
    coms = comments_of(("c0", "a0"), ("c1", "twice"), ("c2", "twice"))
    uniq = chunked.Uniqueness(chunked.unique_checks())
    for t in (first, second):
        uniq.add("articles", t.select(uniq.columns("articles")))
    uniq.add("comments", coms.select(uniq.columns("comments")))
    uniq.finish()
    assert uniq.any()

    out = chunked.apply_uniqueness(passed(first, coms), uniq)
    assert out.articles.column("article_id").to_pylist() == ["a0"]
    assert out.comments.column("comment_id").to_pylist() == ["c0"]
    q = out.quarantine["articles"]
    assert q.schema.equals(quarantine_schema("articles"))
    assert q.column("article_id").to_pylist() == ["twice"]
    assert q.column("quarantine_severity").to_pylist() == ["critical"]
    (why,) = q.column("quarantine_reasons").to_pylist()
    assert len(why) == 1 and "article_id is not unique" in why[0]
    qc = out.quarantine["comments"]
    assert qc.column("comment_id").to_pylist() == ["c1", "c2"]  # they follow their article, in order
    assert all(r == [f"article quarantined: {why[0]}"] for r in qc.column("quarantine_reasons").to_pylist())
    assert qc.column("quarantine_severity").to_pylist() == ["critical", "critical"]

    other = chunked.apply_uniqueness(passed(second, comments_of()), uniq)
    assert other.articles.column("article_id").to_pylist() == ["a2"]
    assert other.quarantine["articles"].column("article_id").to_pylist() == ["twice"]


def test_keys_unique_across_chunks_leave_the_outcome_as_it_was():
    uniq = chunked.Uniqueness(chunked.unique_checks())
    for t in (articles(("dawn", 2023, "a")), articles(("dawn", 2023, "b"))):
        uniq.add("articles", t.select(uniq.columns("articles")))
    uniq.finish()
    chunk = passed(articles(("dawn", 2023, "a")), comments_of(("c", "a")))
    assert not uniq.any() and chunked.apply_uniqueness(chunk, uniq) is chunk


def test_a_row_already_quarantined_gets_the_uniqueness_reason_added_and_its_worst_severity():
    from newsmill.validate.quarantine import quarantine_rows

    dup = articles(("dawn", 2023, "twice"))
    earlier = quarantine_rows("articles", dup, [["title is empty"]], ["error"])
    uniq = chunked.Uniqueness(chunked.unique_checks())
    uniq.add("articles", pa.concat_tables([dup, dup]).select(uniq.columns("articles")))
    uniq.finish()
    chunk = ValidationOutcome(articles=articles(), comments=comments_of(), quarantine={"articles": earlier},
                              outcomes=[], critical_failed=False, gx_results={})
    q = chunked.apply_uniqueness(chunk, uniq).quarantine["articles"]
    assert q.num_rows == 1
    reasons = q.column("quarantine_reasons").to_pylist()[0]
    assert reasons[0] == "title is empty" and "article_id is not unique" in reasons[1]
    assert q.column("quarantine_severity").to_pylist() == ["critical"]  # error < critical
