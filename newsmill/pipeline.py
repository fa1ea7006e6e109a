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

from newsmill import ids, ledger, profiles, progress, remote, schema
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
    incremental: bool = True  # skip inputs the ledger (newsmill.ledger) says are unchanged; False: --full
    remote: remote.Target | None = field(default=None, repr=False)  # a URL output; output_dir is then its mirror


@dataclass
class BatchResult:
    inputs: int = 0
    articles: list[dict] = field(default_factory=list)
    comments: list[dict] = field(default_factory=list)
    rejects: list[dict] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)  # archive records that are not pages, by kind
    unchanged: int = 0  # inputs (counted in ``inputs``) skipped because the ledger has their content already
    seen: list[dict] = field(default_factory=list)  # inputs read: ledger rows to write once the publish commits


@dataclass
class Plan:
    """Batches of input addresses (one task each), and what listing the inputs already found."""

    batches: list[list[str]]
    listed: BatchResult  # damaged archives as rejects, skipped record counts, inputs unchanged by their stat
    # per batch: {address: sha256 the ledger has} for inputs to hash and skip if equal (incremental runs)
    expected: list[dict[str, str]] = field(default_factory=list)


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
    # inputs skipped because an earlier run already processed these very bytes (the ledger, newsmill.ledger)
    unchanged_inputs: int = 0
    remote: dict | None = None  # a URL output: where the run was committed (newsmill.remote.push_run)

    def __post_init__(self):
        # the accounting invariant is re-checked here, whoever built the summary: every input is an
        # article (published or quarantined), a reject with a reason, or unchanged since an earlier
        # run, never dropped silently
        if self.accounting_ok and self.inputs != (self.articles_published + self.articles_quarantined + self.rejected
                                                  + self.unchanged_inputs):
            log.error("accounting broken: %d inputs != %d published + %d quarantined + %d rejected + %d unchanged",
                      self.inputs, self.articles_published, self.articles_quarantined, self.rejected,
                      self.unchanged_inputs)
            self.accounting_ok = False

    @property
    def exit_code(self) -> int:
        if self.critical_failed or not self.accounting_ok:
            return 1
        unchanged = self.skipped_records.get("fetch:not_modified", 0)  # pages processed before: nothing to do
        unchanged += self.unchanged_inputs
        if self.articles_published + self.articles_quarantined == 0 and not unchanged:
            return 2  # nothing could be read
        return 0

    def to_dict(self) -> dict:
        return {**asdict(self), "exit_code": self.exit_code}


def new_run_id(now: datetime) -> str:
    return now.strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(3)


def start_run(settings: Settings) -> RunContext:
    now = datetime.now(timezone.utc)
    run_id = new_run_id(now)
    target = remote.attach(settings, run_id)  # a URL output: its local mirror, synced with what the remote committed
    out = Path(target.mirror if target else settings.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    ids.check_authors_mode(settings.authors, out)
    return RunContext(
        run_id=run_id,
        output_dir=str(out.resolve()),
        author_key=ids.resolve_author_key(settings.author_key, out),
        extracted_at=now,
        profiles_dir=settings.profiles_dir,
        min_date=settings.min_date,
        max_days_before_article=settings.max_days_before_article,
        authors_mode=settings.authors,
        author_key_source="environment" if settings.author_key else "output",
        incremental=settings.incremental,
        remote=target,
    )


def resolve_inputs(paths: list[str], settings: Settings) -> tuple[list[str], tuple]:
    """(paths, live sources): the PATHs given, else the project file's inputs and [[sources]]."""
    if paths:
        return list(paths), ()
    return settings.project_paths(), settings.live_sources()


def fetch_sources(sources, settings: Settings, ctx: RunContext):
    """Live sources -> ``<output>/raw/<run id>.warc.gz`` (a step before planning); returns a FetchResult."""
    from newsmill.sources.live import fetch_sources as fetch_live

    return fetch_live(sources, settings.fetch, output_dir=ctx.output_dir, run_id=ctx.run_id)


def plan(paths: list[str], batch_size: int, ctx: RunContext, fetched=None) -> Plan:
    """Inputs in fixed-size batches (the unit of work of one task); archives are listed record by record.

    ``fetched`` (a FetchResult): its raw WARC joins the inputs, its failed URLs are listed as rejects.
    """
    if fetched is not None and fetched.warc_path:
        paths = [*paths, fetched.warc_path]
    inv = inventory(paths)
    if fetched is not None:
        inv.rejects += fetched.rejects
        inv.skipped.update(fetched.skipped)
    listed = BatchResult(inputs=len(inv.rejects), rejects=[_reject_row(r, ctx) for r in inv.rejects],
                         skipped=dict(inv.skipped))
    refs, expected = inv.refs, {}
    if ctx.incremental:
        refs, expected, same = _unseen(refs, ctx)
        listed.inputs += same
        listed.unchanged += same
    batches = [refs[i : i + batch_size] for i in range(0, len(refs), batch_size)]
    return Plan(batches, listed, [{r: expected[r] for r in b if r in expected} for b in batches])


def _unseen(refs: list[str], ctx: RunContext) -> tuple[list[str], dict[str, str], int]:
    """(inputs to process, {input: sha256 recorded}, number unchanged) from the ledger: an input whose
    file has the recorded size and mtime_ns is unchanged (nothing read); one whose file changed gets the
    recorded hash, which its batch compares with the bytes' before extracting anything."""
    keys = {r: ledger.ref_key(r) for r in refs}
    known = ledger.Ledger(ctx.output_dir).lookup(keys.values())
    todo, expected, same, stats = [], {}, 0, {}
    for r in refs:
        e = known.get(keys[r])
        if e is None or e.pipeline_version != ctx.pipeline_version:
            todo.append(r)
            continue
        if (e.size, e.mtime_ns) == ledger.ref_stat(r, stats):
            same += 1
            continue
        todo.append(r)
        expected[r] = e.sha256
    return todo, expected, same


def _reject_row(r: Reject, ctx: RunContext) -> dict:
    return {"run_id": ctx.run_id, "input_uri": r.input_uri, "input_sha256": r.input_sha256, "stage": r.stage,
            "reason": r.reason, "detail": r.detail, "rejected_at": datetime.now(timezone.utc)}


def process_batch(uris: list[str], ctx: RunContext, expected: dict[str, str] | None = None) -> BatchResult:
    """Read, extract and clean a batch of pages; a failing page becomes a reject, never an exception.

    ``expected`` ({input: sha256}, from ``plan``): an input whose bytes still have that hash is
    counted unchanged and not extracted.
    """
    out = BatchResult(inputs=len(uris))
    cctx = CleanContext(ctx.author_key, ctx.extracted_at, ctx.pipeline_version, authors_mode=ctx.authors_mode)
    expected = expected or {}
    for uri in uris:
        stat = ledger.ref_stat(uri)  # before reading: a change after this point shows up next run
        page = read_input(uri)
        sha = page.input_sha256 if isinstance(page, Reject) else page.sha256
        if sha is not None:
            out.seen.append({"ref": ledger.ref_key(uri), "uri": page.input_uri if isinstance(page, Reject) else page.uri,
                             "sha256": sha, "size": stat[0] if stat else None, "mtime_ns": stat[1] if stat else None,
                             "unchanged": expected.get(uri) == sha})
            if out.seen[-1]["unchanged"]:
                out.unchanged += 1
                continue
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
        merged.unchanged += res.unchanged
        merged.seen.extend(res.seen)
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


def _record_ledger(merged: BatchResult, outcome, ctx: RunContext) -> None:
    """After the commit, under the output lock: what happened to each input read, for the next
    incremental run. Never fails the run (its data is committed): a ledger left behind only
    means those inputs are processed again."""
    if outcome.critical_failed:  # something is wrong with the whole run: let the next one retry everything
        log.warning("a critical expectation failed: inputs are not recorded as seen; the next run reprocesses them")
        return
    published = set(outcome.articles.column("input_uri").to_pylist())
    quar = outcome.quarantine.get("articles")
    quarantined = set(quar.column("input_uri").to_pylist()) if quar is not None and quar.num_rows else set()
    rejected = {r["input_uri"]: r["reason"] for r in merged.rejects}
    rows = []
    for s in merged.seen:
        if s["unchanged"]:
            result = None  # same bytes as recorded: only the file's size and mtime are refreshed
        elif s["uri"] in published:
            result = "published"
        elif s["uri"] in quarantined:
            result = "quarantined"
        elif s["uri"] in rejected and rejected[s["uri"]] not in ledger.RETRIED_REASONS:
            result = f"rejected:{rejected[s['uri']]}"
        else:
            continue  # an error of this run, not of the bytes: tried again next run
        rows.append({**s, "outcome": result})
    try:
        ledger.Ledger(ctx.output_dir).record(rows, run_id=ctx.run_id, pipeline_version=ctx.pipeline_version)
    except Exception as exc:  # noqa: BLE001 (the data is committed; the ledger is an optimisation)
        log.warning("could not update the input ledger (%s: %s): these inputs will be processed again next run",
                    type(exc).__name__, exc)


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
                                 run_info=manifest.run_info(merged.inputs, outcome, merged.rejects,
                                                            unchanged=merged.unchanged),
                                 pseudonymisation=card.pseudonymisation(ctx.authors_mode, ctx.author_key_source),
                                 after_commit=lambda _commit: _record_ledger(merged, outcome, ctx))
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
        accounting_ok=merged.inputs == outcome.articles.num_rows + n_quar_a + len(merged.rejects) + merged.unchanged,
        seconds=0.0,
        reject_reasons=reasons,
        skipped_records=merged.skipped,
        failed_expectations=[asdict(o) for o in outcome.outcomes if not o.success],
        publish=stats,
        authors_mode=ctx.authors_mode,
        author_key_source=ctx.author_key_source,
        unchanged_inputs=merged.unchanged,
    )
    summary.seconds = round(time.monotonic() - started, 3)
    report.write_report(summary, outcome, Path(summary.report_dir))
    return summary


def run(paths: list[str], settings: Settings) -> RunSummary:
    """The whole pipeline in this process, without Prefect (tests, notebooks, benchmarks)."""
    started = time.monotonic()
    ctx = start_run(settings)
    paths, live = resolve_inputs(paths, settings)  # no PATH: the project file's inputs and sources
    fetched = fetch_sources(live, settings, ctx) if live else None
    work = plan(paths, settings.batch_size, ctx, fetched)
    results = []
    with progress.tracking(work):
        for batch, expected in zip(work.batches, work.expected or [{}] * len(work.batches)):
            results.append(process_batch(batch, ctx, expected))
            progress.batch_done(len(batch))
    return remote.push_run(ctx, finalize([work.listed, *results], ctx, started=started))
