"""Shared by the validation tests: valid rows of both tables, a validation run at a fixed time, and the
quarantined rows of an outcome. Test modules import these from here, never from each other."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from newsmill import schema
from newsmill.validate import gx_run

NOW = datetime(2026, 1, 1, 12, tzinfo=UTC)


UI = r"(?:^|[\s.!?])(?:Recommend|Reply|Report)\s*$"


PUBLISHED = datetime(2024, 5, 1, 8, tzinfo=UTC)


def art(n: int, **kw) -> dict:
    row = dict(
        article_id=f"a{n}", source="example.com", year=2024, publication="Example", title=f"Title {n}",
        url=f"https://example.com/{n}", published_date=PUBLISHED.date(), published_at=PUBLISHED,
        body="First paragraph.\n\nSecond paragraph: a < b > c is maths, not markup.", paragraph_count=2,
        authors=["Ann"], comment_count_declared=2, comment_count_extracted=2, language="en",
        input_uri=f"file:///in/{n}.html", input_sha256="0" * 64, input_format="html",
        extractor="test/1", extracted_at=NOW, pipeline_version="0.1.0",
    )
    row.update(kw)
    return row


def com(article: str, pos: int, **kw) -> dict:
    row = dict(
        comment_id=f"{article}-c{pos}", article_id=article, source="example.com", year=2024, position=pos,
        author="Bob", posted_at=PUBLISHED + timedelta(hours=pos), posted_raw=f"{article}#{pos}",
        text=f"Comment number {pos}.",
        input_uri="file:///in/x.html", input_sha256="0" * 64, input_format="html",
        extractor="test/1", extracted_at=NOW, pipeline_version="0.1.0",
    )
    row.update(kw)
    return row


def good_articles() -> list[dict]:
    return [art(1), art(2)]


def good_comments() -> list[dict]:
    return [com("a1", 1), com("a1", 2), com("a2", 1), com("a2", 2)]


def run(articles: list[dict], comments: list[dict], **params) -> gx_run.ValidationOutcome:
    params.setdefault("ui_artifact_regex", UI)
    return gx_run.validate_tables(schema.to_arrow("articles", articles), schema.to_arrow("comments", comments),
                                    params=params, now=NOW)


def quarantined(outcome, table: str) -> dict:
    """Key -> (reasons, severity) of the quarantined rows."""
    key = schema.load(table).primary_key[0]
    return {r[key]: (r["quarantine_reasons"], r["quarantine_severity"])
            for r in outcome.quarantine[table].to_pylist()}

