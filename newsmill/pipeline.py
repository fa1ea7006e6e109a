"""The pipeline as plain functions: extract -> clean per batch, then validate -> publish.

The Prefect flow (``newsmill.flow``) and the Dask runner only wire these together, so
the same code runs in a test, a notebook, a flow or a cluster.
"""
from __future__ import annotations

import logging
import secrets
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from newsmill import neardup, profiles, schema
from newsmill.clean import CleanContext, clean_page
from newsmill.config import HistorySettings, OutputSettings, Settings
from newsmill.extract import extract_page
from newsmill.records import Reject
from newsmill.runtime import batch_runner, executors, failpoints
from newsmill.sources import inventory, read_input
from newsmill.store import author_key, erasure, layout, ledger, snapshots, staging
from newsmill.store.ledger import StagedInputs
from newsmill.store.output import Output
from newsmill.store.remote import Target
from newsmill.store.sorted_runs import NewRows
from newsmill.version import __version__

log = logging.getLogger(__name__)

CHUNK_BYTES = 32 * 2**20  # records validated at once: GX costs ~0.5 s a call, and its memory grows per row


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
    body_mode: str = "precise"  # precise | fast (config.BODY_MODES), applied in extract
    author_key_source: str = "environment"  # 'environment' (NEWSMILL_AUTHOR_KEY) | 'output' (random, per output)
    incremental: bool = True  # skip inputs the ledger (newsmill.store.ledger) says are unchanged; False: --full
    keep_versions: int = HistorySettings.keep_versions  # the [history] policy: versions an output keeps
    keep_days: float = HistorySettings.keep_days
    target_file_bytes: int = OutputSettings.target_file_bytes  # [output]: the size part files are cut at
    remote: Target | None = field(default=None, repr=False)  # a URL output; output_dir is then its mirror


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
    # inputs skipped because an earlier run already processed these very bytes (the ledger, newsmill.store.ledger)
    unchanged_inputs: int = 0
    remote: dict | None = None  # a URL output: where the run was committed (newsmill.store.remote.push)
    # published articles whose comment section a script loads and the capture lacks (comments_in_capture
    # false), by comment_system: the comments this dataset does not hold
    comments_not_captured: dict[str, int] = field(default_factory=dict)
    # per source (the articles' and comments' ``source`` column: site profile or host name), the rows
    # {articles_published, articles_quarantined, comments_published, comments_quarantined}; rejected and
    # unchanged inputs have no source (nothing was extracted from them), they are counted above
    by_source: dict[str, dict[str, int]] = field(default_factory=dict)
    # rows left out because an erasure named them (``newsmill forget``, the output's suppression list):
    # articles (each one an input of this run) and comments
    articles_suppressed: int = 0
    comments_suppressed: int = 0

    def __post_init__(self):
        # the accounting invariant is re-checked here, whoever built the summary: every input is an
        # article (published or quarantined), a reject with a reason, or unchanged since an earlier
        # run, never dropped silently
        if self.accounting_ok and self.inputs != (self.articles_published + self.articles_quarantined + self.rejected
                                                  + self.unchanged_inputs + self.articles_suppressed):
            log.error("accounting broken: %d inputs != %d published + %d quarantined + %d rejected + %d unchanged "
                      "+ %d suppressed", self.inputs, self.articles_published, self.articles_quarantined,
                      self.rejected, self.unchanged_inputs, self.articles_suppressed)
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


def start_run(settings: Settings, run_id: str | None = None) -> RunContext:
    """``run_id``: made by the caller when something must carry it before the run starts (the Prefect
    flow run's name and tag, ``newsmill.flow``); else made here."""
    now = datetime.now(timezone.utc)
    run_id = run_id or new_run_id(now)
    output = Output.open(settings, run_id)  # a URL output: its local mirror, synced with what the remote committed
    out = output.path
    author_key.check_authors_mode(settings.authors, out)
    return RunContext(
        run_id=run_id,
        output_dir=str(out),
        author_key=author_key.resolve_author_key(settings.author_key, out),
        extracted_at=now,
        profiles_dir=settings.profiles_dir,
        min_date=settings.min_date,
        max_days_before_article=settings.max_days_before_article,
        authors_mode=settings.authors,
        body_mode=settings.body,
        author_key_source="environment" if settings.author_key else "output",
        incremental=settings.incremental,
        keep_versions=settings.history.keep_versions,
        keep_days=settings.history.keep_days,
        target_file_bytes=settings.output.target_file_bytes,
        remote=output.remote,
    )


def resolve_inputs(paths: list[str], settings: Settings) -> tuple[list[str], tuple]:
    """(paths, live sources): the PATHs given, else the project file's inputs and [[sources]]."""
    if paths:
        return list(paths), ()
    return settings.project_paths(), settings.live_sources()


def fetch_sources(sources, settings: Settings, ctx: RunContext):
    """Live sources -> ``<output>/raw/<run id>.warc.gz`` (a step before planning); returns a FetchResult."""
    from newsmill.sources.live import fetch_sources as fetch_live, raw_kept

    return fetch_live(sources, settings.fetch, places=layout.live_places(ctx.output_dir, ctx.run_id), run_id=ctx.run_id,
                      transient=None if raw_kept(settings) else staging.Transient(ctx.output_dir, ctx.run_id))


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
        failpoints.hit("extract", uri)
        try:
            res = extract_page(page, profiles_dir=ctx.profiles_dir, body_mode=ctx.body_mode)
            if isinstance(res, Reject):
                out.rejects.append(_reject_row(res, ctx))
                continue
            raw, profile = res
            article, comments = clean_page(raw, page, profile, cctx)
            snapshots.stamp(article, comments, snapshots.capture_time(page.captured_at, stat[1] if stat else None))
        except Exception as exc:  # one bad page must not stop the run: record it and go on
            # one line in the run's log (the reject has the same reason); the traceback only at DEBUG
            log.warning("page %s failed: %s: %s (rejected as 'error')", uri, type(exc).__name__, exc)
            log.debug("page %s failed", uri, exc_info=True)
            out.rejects.append(_reject_row(Reject(page.uri, "extract", "error", f"{type(exc).__name__}: {exc}", page.sha256), ctx))
            continue
        out.articles.append(article)
        out.comments.extend(comments)
    return out


def stage_batch(uris: list[str], ctx: RunContext, expected: dict[str, str] | None = None, *, index: int = 0,
                folder: str | None = None) -> staging.StagedBatch:
    """The batch task: :func:`process_batch`, its records written to the run's staging ``folder`` (None:
    returned inline, for a worker that cannot reach it); returns the small handle."""
    t0, c0 = time.perf_counter(), time.process_time()
    out = staging.stage(process_batch(uris, ctx, expected), index, folder)
    out.seconds, out.cpu_seconds = time.perf_counter() - t0, time.process_time() - c0
    return out


def salvage_batch(uris: list[str], ctx: RunContext, expected: dict[str, str] | None = None, *, index: int = 0,
                  folder: str | None = None) -> staging.StagedBatch:
    """A batch whose worker process died twice (``executors.WorkerCrashed``): its pages one at a time
    in a worker process, so that only a page that kills its worker is lost, as a reject
    ``worker_crashed`` naming how it died; the other pages are published as usual. Runs in the
    run's process (the batch's records are staged from here), its pages in the run's executor."""
    expected = expected or {}
    out = BatchResult(inputs=len(uris))
    calls = [([u], ctx, {u: expected[u]} if u in expected else None) for u in uris]
    for uri, res in zip(uris, executors.one_by_one(ctx.run_id, process_batch, calls)):
        if isinstance(res, executors.WorkerCrashed):
            log.warning("page %s killed the worker process extracting it (%s): rejected", uri, res)
            _crashed(uri, str(res), ctx, out)
            continue
        out.unchanged += res.unchanged
        out.articles += res.articles
        out.comments += res.comments
        out.rejects += res.rejects
        out.seen += res.seen
        for kind, n in res.skipped.items():
            out.skipped[kind] = out.skipped.get(kind, 0) + n
    return staging.stage(out, index, folder)


def _crashed(uri: str, how: str, ctx: RunContext, out: BatchResult) -> None:
    """The reject of a page that killed its worker, and its ledger row: like any reject that depends on
    the bytes, later runs count the page unchanged until its bytes change (or ``--full``), instead of
    losing a worker to it in every run. Only read here (hashed, never extracted)."""
    stat = ledger.ref_stat(uri)
    page = read_input(uri)
    if isinstance(page, Reject):  # it could be read in the worker: gone or changed since
        out.rejects.append(_reject_row(page, ctx))
        return
    detail = (f"the worker process extracting it died ({how}), also when tried alone: "
              "out of memory, or a crash in a C library")
    out.rejects.append(_reject_row(Reject(page.uri, "extract", "worker_crashed", detail, page.sha256), ctx))
    out.seen.append({"ref": ledger.ref_key(uri), "uri": page.uri, "sha256": page.sha256,
                     "size": stat[0] if stat else None, "mtime_ns": stat[1] if stat else None, "unchanged": False})


def run(paths: list[str], settings: Settings) -> RunSummary:
    """The whole pipeline without Prefect (tests, notebooks, benchmarks): the batches in worker
    processes (``settings.workers``, see ``newsmill.runtime.executors``), the rest in this process."""
    started = time.monotonic()
    ctx = start_run(settings)
    paths, live = resolve_inputs(paths, settings)  # no PATH: the project file's inputs and sources
    fetched = fetch_sources(live, settings, ctx) if live else None
    work = plan(paths, settings.batch_size, ctx, fetched)
    with Output.of(ctx).work_area(ctx.run_id) as area:
        results = batch_runner.run_batches(work, ctx, area, stage=stage_batch, salvage=salvage_batch,
                                           warm=warm_validation, workers=settings.workers)
        return finalize([work.listed, *results], ctx, started=started)


def warm_validation() -> None:
    """Great Expectations' import and context (~4-5 s), and the suites: done while workers extract."""
    from newsmill.validate import gx_run

    empty = {n: schema.load(n).arrow().empty_table() for n in schema.TABLES}
    gx_run.validate_tables(empty["articles"], empty["comments"])


# --- finalize: the batches' records, validated chunk by chunk, published ----------------------


@dataclass
class _Merged:
    """What the batches add up to before validation (their records stay on disk)."""

    batches: list[staging.StagedBatch]
    inputs: int = 0
    unchanged: int = 0
    rejects: list[dict] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)
    dropped: dict[int, list[int]] = field(default_factory=dict)  # batch position -> its duplicate article rows
    # batch position -> rows (articles, comments) of the threads merged from several captures (see _merge)
    folded: dict[int, dict[str, pa.Table]] = field(default_factory=dict)
    near: dict[int, dict[int, str]] = field(default_factory=dict)  # batch position -> {row: near_duplicate_of}


def _staged(results: list, area: staging.Area) -> list[staging.StagedBatch]:
    """Handles in plan order; in-memory results (the plan's listing, callers without workers) staged here."""
    out = []
    for i, r in enumerate(results):
        if isinstance(r, staging.StagedBatch):
            out.append(staging.materialize(r, area))
        else:
            out.append(staging.stage(r, i, area.path, prefix="m"))
    return out


def _merge(batches: list[staging.StagedBatch], ctx: RunContext) -> _Merged:
    """Totals, and the pages met twice, decided on the key columns of every batch (plan order):

    - the same bytes again (same ``input_sha256`` and article id) are rejected as ``duplicate``,
      naming the input kept, and their comments dropped;
    - other captures of the same article (a page with a URL: its URL; without: its content, see
      ``newsmill.ids``) are snapshots of its thread: merged in capture order as publishing merges
      captures of separate runs (``newsmill.store.snapshots``), so run boundaries change nothing.
      The latest capture decides and is the one published; each older one is accounted as a
      reject ``older_capture`` naming it (its comments live on in the thread's history);
    - an article whose body is nearly the same as an earlier one's (``newsmill.neardup``) is
      kept and linked to it (``near_duplicate_of``).
    """
    m = _Merged(batches)
    keys = []
    for b in batches:
        m.inputs += b.inputs
        m.unchanged += b.unchanged
        for kind, n in b.skipped.items():
            m.skipped[kind] = m.skipped.get(kind, 0) + n
        keys.append(staging.read(b, "articles", ["article_id", "input_uri", "body_simhash", "input_sha256",
                                                 "captured_at"])
                    if b.rows.get("articles") else None)
    present = [k for k in keys if k is not None]

    def column(name: str, typ) -> list:
        return pa.chunked_array([k.column(name) for k in present], typ).to_pylist()

    ids = column("article_id", pa.string())
    uris, sims, shas = column("input_uri", pa.string()), column("body_simhash", pa.string()), column("input_sha256", pa.string())
    times = column("captured_at", pa.timestamp("us", tz="UTC"))
    rows_of: dict[str, list[int]] = {}
    for i, a in enumerate(ids):
        rows_of.setdefault(a, []).append(i)
    first = [rows_of[a][0] for a in ids]
    near = neardup.link([s if first[i] == i else None for i, s in enumerate(sims)])
    where = [(pos, r) for pos, k in enumerate(keys) if k is not None for r in range(k.num_rows)]
    base, at = {}, 0  # batch position -> index of its first row
    for pos, k in enumerate(keys):
        if k is not None:
            base[pos], at = at, at + k.num_rows
    dropped: dict[int, str | None] = {}  # row -> its reject reason (None: replaced by its merged thread)
    merges: list[tuple[int, list[int]]] = []  # (capture that decides, all captures), per article met twice
    for a, rows in rows_of.items():
        if len(rows) == 1:
            continue
        captures, by_sha = [], {}
        for i in rows:
            if shas[i] in by_sha:
                dropped[i] = f"duplicate\x1fsame content as {uris[by_sha[shas[i]]]}"
            else:
                by_sha[shas[i]] = i
                captures.append(i)
        if len(captures) > 1:
            order = sorted(captures, key=lambda i: snapshots.rank({"captured_at": times[i], "input_sha256": shas[i]}))
            keep = order[-1]
            for i in order[:-1]:
                dropped[i] = (f"older_capture\x1folder capture ({_when(times[i])}) of the article of {uris[keep]} "
                              f"({_when(times[keep])}), which is published; its comments are in that thread's "
                              "history (first_seen_at, last_seen_at, removed_at_source)")
            dropped[keep] = None
            merges.append((keep, captures))
    for pos, b in enumerate(batches):
        m.rejects.extend(b.rejects)
    for i, why in sorted(dropped.items()):
        pos, r = where[i]
        m.dropped.setdefault(pos, []).append(r)
        if why is not None:
            reason, detail = why.split("\x1f", 1)
            m.rejects.append(_reject_row(Reject(uris[i], "extract", reason, detail, shas[i]), ctx))
    if merges:
        _fold(m, where, base, merges, {i: ids[near[i]] for i in range(len(ids)) if i in near}, first)
    for pos, k in enumerate(keys):
        if k is None:
            continue
        links = {r: ids[near[base[pos] + r]] for r in range(k.num_rows) if base[pos] + r in near}
        if links:
            m.near[pos] = links
    return m


def _when(t) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ") if t is not None else "capture time unknown"


def _fold(m: _Merged, where: list[tuple[int, int]], base: dict[int, int], merges: list[tuple[int, list[int]]],
          links: dict[int, str], first: list[int]) -> None:
    """Each article met more than once: its captures' rows merged into one thread, put in the batch of
    the capture that decides (``_Merged.folded``), where the ledger finds that input published."""
    wanted: dict[int, set[int]] = {}
    for _, captures in merges:
        for i in captures:
            pos, r = where[i]
            wanted.setdefault(pos, set()).add(r)
    rows: dict[int, snapshots.Thread] = {}
    for pos, rs in wanted.items():
        b = m.batches[pos]
        arts = staging.read(b, "articles").take(pa.array(sorted(rs), pa.int64()))
        comments = staging.read(b, "comments") if b.rows.get("comments") else schema.load("comments").arrow().empty_table()
        comments = comments.filter(pc.fill_null(pc.is_in(comments.column("input_uri"), value_set=arts.column("input_uri")), False))
        by_uri = {a["input_uri"]: snapshots.Thread(a) for a in arts.to_pylist()}
        for c in comments.to_pylist():
            by_uri[c["input_uri"]].comments.append(c)
        for r, a in zip(sorted(rs), arts.column("input_uri").to_pylist()):
            rows[base[pos] + r] = by_uri[a]
    out: dict[int, list[snapshots.Thread]] = {}
    for keep, captures in merges:
        th = snapshots.fold([rows[i] for i in captures])
        th.article["near_duplicate_of"] = links.get(first[keep])
        out.setdefault(where[keep][0], []).append(th)
    for pos, ths in out.items():
        m.folded[pos] = snapshots.to_tables(ths)


def _batch_rows(m: _Merged, pos: int, kind: str, columns: list[str] | None = None) -> pa.Table:
    """A batch's articles or comments without those of its duplicate pages (the rows to validate), with
    the threads merged from several captures whose latest capture is in this batch."""
    b = m.batches[pos]
    extra = m.folded.get(pos, {}).get(kind)
    if not b.rows.get(kind):
        empty = schema.load(kind).arrow().empty_table()
        t = empty if extra is None else extra
        return t if columns is None else t.select(columns)
    dup = m.dropped.get(pos)
    if kind == "articles":
        t = staging.read(b, kind, columns)
        if (links := m.near.get(pos)) and "near_duplicate_of" in t.column_names:
            col = t.column("near_duplicate_of").to_pylist()
            for i, target in links.items():
                col[i] = target
            t = t.set_column(t.column_names.index("near_duplicate_of"), "near_duplicate_of", pa.array(col, pa.string()))
        if dup:
            keep = np.ones(t.num_rows, dtype=bool)
            keep[dup] = False
            t = t.filter(pa.array(keep))
    else:
        t = staging.read(b, kind, None if columns is None else list(dict.fromkeys([*columns, "input_uri"])))
        if dup:  # comments are kept with the copy of their page that was kept
            arts = staging.read(b, "articles", ["input_uri"]).column("input_uri").to_pylist()
            kept = [u for i, u in enumerate(arts) if i not in set(dup)]
            t = t.filter(pc.fill_null(pc.is_in(t.column("input_uri"), value_set=pa.array(kept, pa.string())), False))
        t = t if columns is None else t.select(columns)
    if extra is not None and extra.num_rows:
        t = pa.concat_tables([t, extra.select(t.column_names).cast(t.schema)])
    return t


def _chunks(m: _Merged, limit: int) -> list[list[int]]:
    """Consecutive batches (plan order) of at most ``limit`` bytes of records each (at least one batch)."""
    out, cur, size = [], [], 0
    for pos, b in enumerate(m.batches):
        if cur and size + b.nbytes > limit:
            out.append(cur)
            cur, size = [], 0
        cur.append(pos)
        size += b.nbytes
    if cur:
        out.append(cur)
    return out


def _ledger_rows(m: _Merged, chunk: list[int], outcome, suppressed: set[str] = frozenset()) -> pa.Table | None:
    """What happened to each input the chunk's batches read, for the next incremental run (``newsmill.store.ledger``):
    published, quarantined, rejected with a reason that depends on the bytes, or (outcome null) unchanged."""
    seen = [staging.read(m.batches[p], "seen") for p in chunk if m.batches[p].rows.get("seen")]
    if not seen:
        return None
    seen = pa.concat_tables(seen)
    published = set(outcome.articles.column("input_uri").to_pylist()) if outcome is not None else set()
    quar = outcome.quarantine.get("articles") if outcome is not None else None
    quarantined = set(quar.column("input_uri").to_pylist()) if quar is not None and quar.num_rows else set()
    mine = set(seen.column("uri").to_pylist())
    rejected = {r["input_uri"]: r["reason"] for r in m.rejects if r["input_uri"] in mine}
    results = []
    for s in seen.select(["uri", "unchanged"]).to_pylist():
        if s["unchanged"]:
            results.append(None)  # same bytes as recorded: only the file's size and mtime are refreshed
        elif s["uri"] in published:
            results.append("published")
        elif s["uri"] in quarantined:
            results.append("quarantined")
        elif s["uri"] in suppressed:
            results.append("suppressed")  # erased (newsmill forget): the same bytes are left out again
        elif s["uri"] in rejected and rejected[s["uri"]] not in ledger.RETRIED_REASONS:
            results.append(f"rejected:{rejected[s['uri']]}")
        else:
            results.append("")  # an error of this run, not of the bytes: tried again next run
    seen = seen.append_column("outcome", pa.array(results, pa.string()))
    return seen.filter(pc.not_equal(pc.fill_null(seen.column("outcome"), "-"), ""))


def _concat(parts: list[pa.Table], name: str) -> pa.Table:
    parts = [p for p in parts if p.num_rows]
    return pa.concat_tables(parts) if parts else schema.load(name).arrow().empty_table()


@dataclass
class _Validated:
    outcome: object  # gx_run.ValidationOutcome of the whole run (its tables empty: the rows are in ``rows``)
    rows: dict[str, NewRows]  # rows that passed, as sorted runs on disk, ready to publish
    published: dict[str, int]
    quarantined: dict[str, int]
    ledger: Path | None  # the ledger rows to record once the publish commits
    comments_not_captured: dict[str, int] = field(default_factory=dict)
    by_source: dict[str, dict[str, int]] = field(default_factory=dict)  # RunSummary.by_source
    suppressed: dict[str, int] = field(default_factory=lambda: dict.fromkeys(schema.TABLES, 0))
    suppressed_urls: set[str] = field(default_factory=set)  # pages that held a suppressed row
    suppressed_inputs: set[str] = field(default_factory=set)  # input_uri of the suppressed articles


def _validate(m: _Merged, ctx: RunContext, area: staging.Area) -> _Validated:
    """Validate the run chunk by chunk (see ``newsmill.validate.chunked``): quarantine files written,
    passed rows staged for the publish, ledger rows staged for after it."""
    from newsmill.store import publish
    from newsmill.validate import chunked, gx_run

    params = {"min_date": ctx.min_date, "max_days_before_article": ctx.max_days_before_article,
              "ui_artifact_regex": profiles.ui_artifact_regex(ctx.profiles_dir)}
    now = datetime.now(timezone.utc)  # one reference time for every chunk
    uniq = chunked.Uniqueness(chunked.unique_checks())
    for pos in range(len(m.batches)):
        for name in schema.TABLES:
            if m.batches[pos].rows.get(name) or name in m.folded.get(pos, {}):
                uniq.add(name, _batch_rows(m, pos, name, uniq.columns(name)))
    uniq.finish()

    merger = chunked.Merger()
    # rows an erasure named (``newsmill forget``): left out before validation, counted, never published
    sup = erasure.Suppression.load(ctx.output_dir, ctx.author_key) if erasure.pending(ctx.output_dir) else None
    v = _Validated(None, {n: NewRows(n, area.file("publish")) for n in schema.TABLES},
                   dict.fromkeys(schema.TABLES, 0), dict.fromkeys(schema.TABLES, 0), None)
    quarantine = {n: publish.SideFile(n, Path(ctx.output_dir), run_id=ctx.run_id) for n in schema.TABLES}
    ledger_file = None
    try:
        for chunk in _chunks(m, CHUNK_BYTES):
            tables = {n: _concat([_batch_rows(m, p, n) for p in chunk], n) for n in schema.TABLES}
            if sup:
                tables, gone = erasure.erase_tables(tables, sup)
                for n in schema.TABLES:
                    v.suppressed[n] += gone.rows.get(n, 0)
                v.suppressed_urls |= gone.urls
                v.suppressed_inputs |= gone.inputs
            outcome = None
            if any(t.num_rows for t in tables.values()):
                outcome = gx_run.validate_tables(tables["articles"], tables["comments"], params=params, now=now)
                outcome = chunked.apply_uniqueness(outcome, uniq)
                merger.add(outcome, {n: t.num_rows for n, t in tables.items()})
                _count_not_captured(outcome.articles, v.comments_not_captured)
                for n in schema.TABLES:
                    v.published[n] += getattr(outcome, n).num_rows
                    _count_by_source(getattr(outcome, n), f"{n}_published", v.by_source)
                    v.rows[n].add(getattr(outcome, n))
                    q = outcome.quarantine.get(n)
                    if q is not None and q.num_rows:
                        v.quarantined[n] += q.num_rows
                        _count_by_source(q, f"{n}_quarantined", v.by_source)
                        quarantine[n].add(q)
            del tables
            rows = _ledger_rows(m, chunk, outcome, v.suppressed_inputs)
            if rows is not None and rows.num_rows:
                if ledger_file is None:
                    v.ledger = area.file("ledger.arrow")
                    ledger_file = pa.ipc.new_file(str(v.ledger), rows.schema)
                ledger_file.write_table(rows)
            del outcome
        if merger.outcomes is None:  # nothing to validate: the suites' (empty) results still go in the report
            empty = {n: schema.load(n).arrow().empty_table() for n in schema.TABLES}
            merger.add(gx_run.validate_tables(empty["articles"], empty["comments"], params=params, now=now), {})
        merger.uniqueness(uniq)
        for w in quarantine.values():
            w.close()
    except BaseException:
        for w in quarantine.values():
            w.abort()
        raise
    finally:
        if ledger_file is not None:
            ledger_file.close()
    v.outcome = merger.result(schema.load("articles").arrow().empty_table(),
                              schema.load("comments").arrow().empty_table(), {})
    return v


_BY_SOURCE = ("articles_published", "articles_quarantined", "comments_published", "comments_quarantined")


def _count_by_source(rows: pa.Table, key: str, counts: dict[str, dict[str, int]]) -> None:
    """Add the rows of ``rows`` per value of its ``source`` column to ``counts[source][key]``."""
    if not rows.num_rows or "source" not in rows.column_names:
        return
    for item in pc.value_counts(rows.column("source")).to_pylist():
        entry = counts.setdefault(item["values"] or "unknown", dict.fromkeys(_BY_SOURCE, 0))
        entry[key] += item["counts"]


def _count_not_captured(articles: pa.Table, counts: dict[str, int]) -> None:
    """Add the articles whose comments a script loads and the capture lacks to ``counts`` (by system)."""
    if not articles.num_rows or "comments_in_capture" not in articles.column_names:
        return
    missing = articles.filter(pc.equal(pc.fill_null(articles.column("comments_in_capture"), True), False))
    for system in missing.column("comment_system").to_pylist():
        key = system or "unknown"
        counts[key] = counts.get(key, 0) + 1


def finalize(results: list, ctx: RunContext, *, started: float | None = None) -> RunSummary:
    """Validate everything the batches produced, hand what passed to the output (``Output.commit``:
    publish, input ledger, remote commit, report), quarantine the rest.

    ``results``: per batch in plan order, a ``staging.StagedBatch`` or an in-memory ``BatchResult``.
    The records are read back chunk by chunk (``CHUNK_BYTES``); memory does not grow with the run.
    """
    from newsmill.store import card, manifest, publish

    started = started or time.monotonic()
    output = Output.of(ctx)
    with output.work_area(ctx.run_id) as area:
        m = _merge(_staged(results, area), ctx)
        v = _validate(m, ctx, area)  # quarantine files written: per-run side files come first
        publish.write_rejects(schema.to_arrow("rejects", m.rejects), output.path, run_id=ctx.run_id)
        info = manifest.run_info(m.inputs, v.outcome, m.rejects, unchanged=m.unchanged, published=v.published,
                                 quarantined=v.quarantined)
        reasons: dict[str, int] = {}
        for r in m.rejects:
            reasons[r["reason"]] = reasons.get(r["reason"], 0) + 1
        summary = RunSummary(
            run_id=ctx.run_id,
            output_dir=ctx.output_dir,
            report_dir=str(output.report_dir(ctx.run_id)),
            inputs=m.inputs,
            articles_published=v.published["articles"],
            comments_published=v.published["comments"],
            articles_quarantined=v.quarantined["articles"],
            comments_quarantined=v.quarantined["comments"],
            rejected=len(m.rejects),
            critical_failed=v.outcome.critical_failed,
            accounting_ok=m.inputs == (v.published["articles"] + v.quarantined["articles"] + len(m.rejects)
                                       + m.unchanged + v.suppressed["articles"]),
            seconds=0.0,
            reject_reasons=reasons,
            skipped_records=m.skipped,
            failed_expectations=[asdict(o) for o in v.outcome.outcomes if not o.success],
            authors_mode=ctx.authors_mode,
            author_key_source=ctx.author_key_source,
            unchanged_inputs=m.unchanged,
            comments_not_captured=dict(sorted(v.comments_not_captured.items(), key=lambda kv: (-kv[1], kv[0]))),
            by_source=dict(sorted(v.by_source.items())),
            articles_suppressed=v.suppressed["articles"],
            comments_suppressed=v.suppressed["comments"],
        )
        if v.suppressed_urls:  # the run's raw capture must not keep what it left out
            erasure.scrub_raw(output.path, v.suppressed_urls, ctx.run_id)
        # both tables commit together as one version, then the ledger, the remote commit, the report
        inputs = StagedInputs(v.ledger, ctx.run_id, ctx.pipeline_version, v.outcome.critical_failed)
        return output.commit(v.rows, ctx=ctx, summary=summary, outcome=v.outcome, run_info=info,
                             pseudonymisation=card.pseudonymisation(ctx.authors_mode, ctx.author_key_source),
                             inputs=inputs, started=started)
