"""The pipeline as plain functions: extract -> clean per batch, then validate -> publish.

Prefect flows (``flows/``) and the Dask runner only wire these together, so
the same code runs in a test, a notebook, a flow or a cluster.
"""
from __future__ import annotations

import logging
import secrets
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from newsmill import ids, profiles, schema
from newsmill.clean import CleanContext, clean_page
from newsmill.config import Settings
from newsmill.extract import extract_page
from newsmill.records import Reject
from newsmill.sources import inventory, read_input
from newsmill.version import __version__

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunContext:
    """Everything a batch task needs; small and picklable (it travels to Dask workers)."""

    run_id: str
    output_dir: str
    author_key: bytes = field(repr=False)
    extracted_at: datetime
    pipeline_version: str = __version__
    profiles_dir: str | None = None
    min_date: str = "1990-01-01"
    max_days_before_article: float = 2.0
    authors_mode: str = "keep"  # keep | pseudonymize | drop (config.AUTHOR_MODES), applied in clean
    author_key_source: str = "environment"  # 'environment' (NEWSMILL_AUTHOR_KEY) | 'output' (random, per output)


@dataclass
class BatchResult:
    inputs: int = 0
    articles: list[dict] = field(default_factory=list)
    comments: list[dict] = field(default_factory=list)
    rejects: list[dict] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)  # archive records that are not pages, by kind


@dataclass
class Plan:
    """Batches of input addresses (one task each), and what listing the inputs already found."""

    batches: list[list[str]]
    listed: BatchResult  # damaged archives as rejects, skipped record counts


@dataclass
class RunSummary:
    run_id: str
    output_dir: str
    report_dir: str
    inputs: int
    articles_published: int
    comments_published: int
    articles_quarantined: int
    comments_quarantined: int
    rejected: int
    critical_failed: bool
    accounting_ok: bool
    seconds: float
    reject_reasons: dict[str, int] = field(default_factory=dict)
    skipped_records: dict[str, int] = field(default_factory=dict)
    failed_expectations: list[dict] = field(default_factory=list)
    publish: list[dict] = field(default_factory=list)
    # how comment authors appear in this run's rows (keep | pseudonymize | drop), for the dataset card
    authors_mode: str = "keep"
    # where the author_id/comment_id key came from: 'environment' (comparable across outputs made with
    # the same NEWSMILL_AUTHOR_KEY) or 'output' (random key in <output>/_state: ids only comparable within it)
    author_key_source: str = "environment"

    def __post_init__(self):
        # the accounting invariant is re-checked here, whoever built the summary: every input is an
        # article (published or quarantined) or a reject with a reason, never dropped silently
        if self.accounting_ok and self.inputs != self.articles_published + self.articles_quarantined + self.rejected:
            log.error("accounting broken: %d inputs != %d published + %d quarantined + %d rejected", self.inputs,
                      self.articles_published, self.articles_quarantined, self.rejected)
            self.accounting_ok = False

    @property
    def exit_code(self) -> int:
        if self.critical_failed or not self.accounting_ok:
            return 1
        if self.articles_published + self.articles_quarantined == 0:
            return 2  # nothing could be read
        return 0

    def to_dict(self) -> dict:
        return {**asdict(self), "exit_code": self.exit_code}


def new_run_id(now: datetime) -> str:
    return now.strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(3)


def start_run(settings: Settings) -> RunContext:
    now = datetime.now(timezone.utc)
    out = Path(settings.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    ids.check_authors_mode(settings.authors, out)
    return RunContext(
        run_id=new_run_id(now),
        output_dir=str(out.resolve()),
        author_key=ids.resolve_author_key(settings.author_key, out),
        extracted_at=now,
        profiles_dir=settings.profiles_dir,
        min_date=settings.min_date,
        max_days_before_article=settings.max_days_before_article,
        authors_mode=settings.authors,
        author_key_source="environment" if settings.author_key else "output",
    )


def plan(paths: list[str], batch_size: int, ctx: RunContext) -> Plan:
    """Inputs in fixed-size batches (the unit of work of one task); archives are listed record by record."""
    inv = inventory(paths)
    listed = BatchResult(inputs=len(inv.rejects), rejects=[_reject_row(r, ctx) for r in inv.rejects],
                         skipped=dict(inv.skipped))
    refs = inv.refs
    return Plan([refs[i : i + batch_size] for i in range(0, len(refs), batch_size)], listed)


def _reject_row(r: Reject, ctx: RunContext) -> dict:
    return {"run_id": ctx.run_id, "input_uri": r.input_uri, "input_sha256": r.input_sha256, "stage": r.stage,
            "reason": r.reason, "detail": r.detail, "rejected_at": datetime.now(timezone.utc)}


def process_batch(uris: list[str], ctx: RunContext) -> BatchResult:
    """Read, extract and clean a batch of pages; a failing page becomes a reject, never an exception."""
    out = BatchResult(inputs=len(uris))
    cctx = CleanContext(ctx.author_key, ctx.extracted_at, ctx.pipeline_version, authors_mode=ctx.authors_mode)
    for uri in uris:
        page = read_input(uri)
        if isinstance(page, Reject):
            out.rejects.append(_reject_row(page, ctx))
            continue
        try:
            res = extract_page(page, profiles_dir=ctx.profiles_dir)
            if isinstance(res, Reject):
                out.rejects.append(_reject_row(res, ctx))
                continue
            raw, profile = res
            article, comments = clean_page(raw, page, profile, cctx)
        except Exception as exc:  # one bad page must not stop the run: record it and go on
            log.exception("page %s failed", uri)
            out.rejects.append(_reject_row(Reject(page.uri, "extract", "error", f"{type(exc).__name__}: {exc}", page.sha256), ctx))
            continue
        out.articles.append(article)
        out.comments.extend(comments)
    return out


def merge(results: list[BatchResult], ctx: RunContext) -> BatchResult:
    """One result; a page met twice (same article id) is kept once, the copy rejected with the reason."""
    merged = BatchResult()
    first: dict[str, str] = {}
    for res in results:
        merged.inputs += res.inputs
        merged.rejects.extend(res.rejects)
        for kind, n in res.skipped.items():
            merged.skipped[kind] = merged.skipped.get(kind, 0) + n
        dup_ids = set()
        for a in res.articles:
            if a["article_id"] in first:
                dup_ids.add(id(a))
                merged.rejects.append(_reject_row(Reject(a["input_uri"], "extract", "duplicate",
                                                         f"same article as {first[a['article_id']]}", a["input_sha256"]), ctx))
            else:
                first[a["article_id"]] = a["input_uri"]
                merged.articles.append(a)
        kept = {a["input_uri"] for a in res.articles if id(a) not in dup_ids}
        merged.comments.extend(c for c in res.comments if c["input_uri"] in kept)
    return merged


def finalize(results: list[BatchResult], ctx: RunContext, *, started: float | None = None) -> RunSummary:
    """Validate everything the batches produced, publish what passed, quarantine the rest, report."""
    from newsmill import card, manifest, publish, report, validate

    started = started or time.monotonic()
    merged = merge(results, ctx)
    out = Path(ctx.output_dir)
    params = {"min_date": ctx.min_date, "max_days_before_article": ctx.max_days_before_article,
              "ui_artifact_regex": profiles.ui_artifact_regex(ctx.profiles_dir)}
    outcome = validate.validate_tables(schema.to_arrow("articles", merged.articles),
                                       schema.to_arrow("comments", merged.comments), params=params)
    # per-run side files first; then both tables commit together as one version (the last step)
    for name, table in outcome.quarantine.items():
        publish.write_quarantine(name, table, out, run_id=ctx.run_id)
    publish.write_rejects(schema.to_arrow("rejects", merged.rejects), out, run_id=ctx.run_id)
    commit = publish.publish_run({"articles": outcome.articles, "comments": outcome.comments}, out,
                                 run_id=ctx.run_id, pipeline_version=ctx.pipeline_version,
                                 run_info=manifest.run_info(merged.inputs, outcome, merged.rejects),
                                 pseudonymisation=card.pseudonymisation(ctx.authors_mode, ctx.author_key_source))
    stats = [asdict(s) for s in commit.stats]

    n_quar_a = outcome.quarantine["articles"].num_rows if "articles" in outcome.quarantine else 0
    n_quar_c = outcome.quarantine["comments"].num_rows if "comments" in outcome.quarantine else 0
    reasons: dict[str, int] = {}
    for r in merged.rejects:
        reasons[r["reason"]] = reasons.get(r["reason"], 0) + 1
    summary = RunSummary(
        run_id=ctx.run_id,
        output_dir=ctx.output_dir,
        report_dir=str(out / "reports" / ctx.run_id),
        inputs=merged.inputs,
        articles_published=outcome.articles.num_rows,
        comments_published=outcome.comments.num_rows,
        articles_quarantined=n_quar_a,
        comments_quarantined=n_quar_c,
        rejected=len(merged.rejects),
        critical_failed=outcome.critical_failed,
        accounting_ok=merged.inputs == outcome.articles.num_rows + n_quar_a + len(merged.rejects),
        seconds=0.0,
        reject_reasons=reasons,
        skipped_records=merged.skipped,
        failed_expectations=[asdict(o) for o in outcome.outcomes if not o.success],
        publish=stats,
        authors_mode=ctx.authors_mode,
        author_key_source=ctx.author_key_source,
    )
    summary.seconds = round(time.monotonic() - started, 3)
    report.write_report(summary, outcome, Path(summary.report_dir))
    return summary


def run(paths: list[str], settings: Settings) -> RunSummary:
    """The whole pipeline in this process, without Prefect (tests, notebooks, benchmarks)."""
    started = time.monotonic()
    ctx = start_run(settings)
    work = plan(paths, settings.batch_size, ctx)
    results = [process_batch(b, ctx) for b in work.batches]
    return finalize([work.listed, *results], ctx, started=started)
