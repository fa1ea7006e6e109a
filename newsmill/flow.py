"""The newsmill Prefect flow: thin wiring of ``newsmill.pipeline``.

One task per batch of pages (never per record: each task run costs the
Prefect server ~30 ms of CPU and ~20 KB of database), then one task that
validates everything and publishes atomically. A batch task's records go to the
run's staging area on disk; the task returns a small handle (``newsmill.store.staging``).

What a person sees of a run in Prefect's UI comes from here:

- the flow run is named after the newsmill run id and tagged with it and ``newsmill``: ``run_flow``
  makes the id before the flow run exists (name and tags given at its creation); a scheduled run,
  created by the server, gets its id from :func:`_run_name`, which Prefect calls as the run starts;
- newsmill's log records (progress, summary, warnings) go to the run's logs (:func:`_run_logs`);
- artifacts: the report's Markdown with links to its files, a table of counts, a table of the
  failed expectations with the records that failed, and a link to the self-contained report page;
- the result, the run summary, is persisted (JSON, in Prefect's result storage), also for a run
  that ended Failed on a critical expectation, whose state message names the rule;
- a failure a person can fix (a setting, an input, the output's storage) ends the run Failed with
  that one line as its message and in its log, not a traceback.
"""
from __future__ import annotations

import json
import logging
import re
import sys
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

from prefect import flow, tags, task
from prefect.cache_policies import NO_CACHE
from prefect.context import FlowRunContext, TaskRunContext
from prefect.logging.handlers import APILogHandler
from prefect.states import Failed

from newsmill import pipeline
from newsmill.config import ConfigError, load_settings, output_location
from newsmill.runtime import batch_runner, progress
from newsmill.store import staging
from newsmill.store.output import Output
from newsmill.text import shown

log = logging.getLogger(__name__)

RUN_ID = re.compile(r"\d{8}T\d{6}Z-[0-9a-f]{6}")  # pipeline.new_run_id
TAG = "newsmill"
# artifact keys (Prefect: lowercase letters, digits, dashes); a key keeps each run's version in the UI's
# Artifacts page, the run's own page shows its artifacts
SUMMARY_KEY, COUNTS_KEY, FAILURES_KEY, REPORT_KEY = ("newsmill-summary", "newsmill-counts",
                                                     "newsmill-failed-expectations", "newsmill-report")
NO_FAILURES = "none: every expectation passed"  # the one row of the failures table of a run without any


@task(name="extract-clean-batch", cache_policy=NO_CACHE)
def extract_batch(uris: list[str], ctx: pipeline.RunContext, expected: dict | None = None, index: int = 0,
                  folder: str | None = None) -> staging.StagedBatch:
    """Runs in the flow's process; the batch itself goes to the run's executor (its local worker
    processes or its Dask client, ``newsmill.runtime.executors.call``), or runs here with ``workers=1``.
    A batch that kills its worker twice is salvaged page by page (``pipeline.salvage_batch``)."""
    return batch_runner.guarded(ctx.run_id, pipeline.stage_batch, pipeline.salvage_batch, uris=uris, ctx=ctx,
                                expected=expected, index=index, folder=folder)


@task(name="fetch-sources", cache_policy=NO_CACHE)
def fetch_sources(sources, settings, ctx: pipeline.RunContext):
    """Live sources (URL lists, feeds, sitemaps) -> the run's raw WARC, read by planning like any archive."""
    return pipeline.fetch_sources(sources, settings, ctx)


@task(name="validate-publish", cache_policy=NO_CACHE)
def validate_and_publish(results: list, ctx: pipeline.RunContext, started: float) -> dict:
    return pipeline.finalize(results, ctx, started=started).to_dict()


def _run_name() -> str:
    """The flow run's name: the newsmill run id. Prefect calls this as the flow run starts, before the
    flow's body: the id given as parameter ``run_id`` (``run_flow``), else a new one (a scheduled run),
    which the body then takes from the name (:func:`_this_run_id`)."""
    from prefect.runtime import flow_run

    return flow_run.parameters.get("run_id") or pipeline.new_run_id(datetime.now(timezone.utc))


@flow(name="newsmill", validate_parameters=False, flow_run_name=_run_name, persist_result=True,
      result_serializer="json")
def newsmill_flow(paths: list[str], output_dir: str | None = None, batch_size: int | None = None,
                  project_file: str | None = None, full: bool = False, workers: int | None = None,
                  dask_address: str | None = None, authors: str | None = None, run_id: str | None = None) -> dict:
    """Extract -> clean (per batch) -> validate -> publish; returns the run summary.

    Incremental unless ``full``; batch tasks on ``workers`` local processes (default: one per CPU),
    or on Dask with ``dask_address`` (an existing cluster) or the project file's [dask] table;
    ``authors`` (keep | pseudonymize | drop) over the project file's and the environment's.
    ``run_id``: the newsmill run id, when the caller made it (the flow run's name and tag); else the
    flow run's name, which :func:`_run_name` made one.
    """
    started = time.monotonic()
    run_id = _this_run_id(run_id)
    _tag(run_id)
    scheduled = _scheduled()
    if scheduled:  # `newsmill serve` streams the output of the runs it starts to its terminal
        link = _link()
        print(f"newsmill run {run_id}: started" + (f", {link}" if link else ""), flush=True)
    with _run_logs():
        try:
            summary = _run(paths, output_dir=output_dir, batch_size=batch_size, project_file=project_file, full=full,
                           workers=workers, dask_address=dask_address, authors=authors, run_id=run_id,
                           started=started)
        except Exception as exc:
            line = _one_line(exc)
            if line is None:  # a bug: Prefect logs it with its traceback
                if scheduled:
                    print(shown(f"newsmill run {run_id}: failed: internal error: {type(exc).__name__}: {exc} "
                                "(a bug: the run's log has the traceback)"), flush=True)
                raise
            log.error("%s", line, extra={"terminal": False})  # the command line says it itself
            if scheduled:
                print(f"newsmill run {run_id}: failed: {line}", flush=True)
            return Failed(message=line, data=exc)
        report = _report(summary)
        _artifacts(report)
        line = one_line_summary(summary)
        log.info("%s", line, extra={"terminal": False})
        if scheduled:
            print(line, flush=True)
    if summary["exit_code"] == 1:  # a scheduled run must show as failed in Prefect, not only in its report
        return Failed(message=_failure(report), data=summary)
    return summary


def _run(paths, *, output_dir, batch_size, project_file, full, workers, dask_address, authors, run_id,
         started) -> dict:
    settings = load_settings(Path(project_file) if project_file else None)
    settings = settings.with_overrides(output_dir=output_location(output_dir) if output_dir else None,
                                       batch_size=batch_size, authors=authors)
    settings = settings.with_run_options(full=full, workers=workers, dask_address=dask_address)
    ctx = pipeline.start_run(settings, run_id)
    paths, live = pipeline.resolve_inputs(paths, settings)  # no PATH: the project file's inputs and sources
    fetched = fetch_sources(live, settings, ctx) if live else None
    work = pipeline.plan(paths, settings.batch_size, ctx, fetched)
    with Output.of(ctx).work_area(ctx.run_id) as area:
        results = batch_runner.run_batches(work, ctx, area, stage=pipeline.stage_batch, warm=pipeline.warm_validation,
                                           task=extract_batch, workers=settings.workers,
                                           dask_workers=settings.dask.workers, address=settings.dask.address)
        return validate_and_publish([work.listed, *results], ctx, started)


# --------------------------------------------------------------------------- the run in Prefect


def _this_run_id(given: str | None) -> str:
    """The run id: ``given``, else the flow run's name when :func:`_run_name` made it, else a new one (and
    the flow run renamed: a retry or an engine that did not call ``_run_name``)."""
    if given:
        return given
    ctx = FlowRunContext.get()
    name = ctx.flow_run.name if ctx is not None and ctx.flow_run is not None else None
    if name and RUN_ID.fullmatch(name):
        return name
    run_id = pipeline.new_run_id(datetime.now(timezone.utc))
    if ctx is not None and ctx.flow_run is not None:
        from prefect.client.orchestration import get_client

        with get_client(sync_client=True) as client:
            client.update_flow_run(ctx.flow_run.id, name=run_id)
    return run_id


def _tag(run_id: str) -> None:
    """Tags ``newsmill`` and the run id on the flow run: ``run_flow`` gives them when it creates the run;
    a scheduled run (created by the server) gets them here."""
    ctx = FlowRunContext.get()
    if ctx is None or ctx.flow_run is None:
        return
    have = list(ctx.flow_run.tags or [])
    missing = [t for t in (TAG, run_id) if t not in have]
    if missing:
        from prefect.client.orchestration import get_client

        with get_client(sync_client=True) as client:
            client.update_flow_run(ctx.flow_run.id, tags=[*have, *missing])
        ctx.flow_run.tags = [*have, *missing]


def _scheduled() -> bool:
    """A run of a deployment (``newsmill serve``), not one started by ``newsmill run`` or a test."""
    ctx = FlowRunContext.get()
    return bool(ctx is not None and ctx.flow_run is not None and ctx.flow_run.deployment_id)


def _link() -> str | None:
    """The flow run's page in Prefect's UI (``<pages>/runs/flow-run/<id>``, see :func:`ui_pages`; the UI of
    Prefect 3 has no page at ``prefect.runtime.flow_run.ui_url``'s ``/flow-runs/flow-run/<id>``); None without
    a UI URL."""
    from prefect.settings import get_current_settings

    ctx = FlowRunContext.get()
    ui = get_current_settings().ui_url
    if ctx is None or ctx.flow_run is None or not ui:
        return None
    return f"{ui_pages(str(ui))}/runs/flow-run/{ctx.flow_run.id}"


def ui_pages(ui: str, timeout: float = 3.0) -> str:
    """Where the pages of the UI at ``ui`` are that a person should open: its default UI's base.

    Prefect 3.9's server serves two UIs, the older one at ``/`` and the newer one, its default, under
    ``/v2`` (the server's ``/ui-settings`` says which). On a server with an auth string (newsmill's local
    server) only the newer one asks for it when a browser opens a run's page first; the older one shows
    "Page not found" and "Authentication failed" until one logs in at its front page. A server that does
    not answer, or an older Prefect without ``/v2``: ``ui`` itself."""
    from urllib.parse import urljoin

    import httpx

    ui = ui.rstrip("/")
    try:
        settings = httpx.get(f"{ui}/ui-settings", timeout=timeout).json()
    except (httpx.HTTPError, ValueError):
        return ui
    v2 = settings.get("v2_base_url") if isinstance(settings, dict) else None
    if settings.get("default_ui") != "v2" or not isinstance(v2, str) or not v2.startswith("/"):
        return ui
    return urljoin(ui + "/", v2).rstrip("/")


class _RunLogHandler(APILogHandler):
    """Prefect's handler that sends records to the API as the flow run's logs; a record from a thread
    without a run context (a progress or pool thread of this run) is sent as this flow run's too."""

    def __init__(self, flow_run_id, level: int = logging.INFO):
        super().__init__(level)
        self.flow_run_id = flow_run_id

    def emit(self, record: logging.LogRecord) -> None:
        if getattr(record, "flow_run_id", None) is None and FlowRunContext.get() is None and TaskRunContext.get() is None:
            record.flow_run_id = self.flow_run_id
        super().emit(record)


class _Terminal(logging.Handler):
    """While the ``newsmill`` logger sends INFO to the run's logs, the terminal (the root logger's handlers)
    gets what it got before: records at the level the logger had, less those marked ``terminal=False``
    (what the command line says itself: the summary, the one-line error)."""

    def emit(self, record: logging.LogRecord) -> None:
        if getattr(record, "terminal", True) is False:
            return
        for handler in logging.getLogger().handlers:
            if record.levelno >= handler.level:
                handler.handle(record)


@contextmanager
def _run_logs():
    """newsmill's log records into the flow run's logs (Prefect's API handler on the ``newsmill`` logger, at
    INFO, for the run's length), progress lines included.

    Not ``PREFECT_LOGGING_EXTRA_LOGGERS=newsmill``: that attaches the handler for the life of the process
    (a ``--no-prefect`` run or a test would warn of records without a flow run) at Prefect's logging
    level, which newsmill's command line sets to WARNING to keep the terminal quiet."""
    ctx = FlowRunContext.get()
    if ctx is None or ctx.flow_run is None:
        yield
        return
    _quiet_gx()
    logger = logging.getLogger("newsmill")
    level, propagate = logger.level, logger.propagate
    api, terminal = _RunLogHandler(ctx.flow_run.id), _Terminal(logger.getEffectiveLevel())
    logger.addHandler(api)
    logger.addHandler(terminal)
    logger.setLevel(min(logging.INFO, logger.getEffectiveLevel()))
    logger.propagate = False
    try:
        with progress.logged(log):
            yield
    finally:
        logger.removeHandler(api)
        logger.removeHandler(terminal)
        logger.setLevel(level)
        logger.propagate = propagate


class _WarningsOnly(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.WARNING


def _quiet_gx() -> None:
    """GX sets this logger to INFO when imported and says on every run that it made a temporary folder: in
    a scheduled run's process (``serve``'s terminal) as the command line does for its own (``newsmill.cli``)."""
    gx = logging.getLogger("great_expectations.data_context.types.base")
    if not any(isinstance(f, _WarningsOnly) for f in gx.filters):
        gx.addFilter(_WarningsOnly())


def _one_line(exc: BaseException) -> str | None:
    """What a person can fix said in one line (a setting or input, the output's storage, the output locked
    by another run, the operating system refusing): None for anything else (a bug)."""
    kinds: list[type] = [ConfigError]
    for module, name in (("newsmill.store.objstore", "RemoteError"), ("newsmill.store.lock", "LockTimeout")):
        kind = getattr(sys.modules.get(module), name, None)
        if kind is not None:
            kinds.append(kind)
    if isinstance(exc, tuple(kinds)):
        return shown(str(exc))
    e, seen = exc, 0
    while e is not None and seen < 16:  # an operating-system error, or one raised from it
        if isinstance(e, OSError) and not isinstance(e, (ConnectionError, TimeoutError)) and e.errno:
            return shown(f"{type(exc).__name__}: {exc}")
        e, seen = e.__cause__ or e.__context__, seen + 1
    return None


def _failure(summary: dict) -> str:
    """The Failed state's message: the critical rules that failed, by their reasons (the suite's words)."""
    if not summary["accounting_ok"]:
        return "accounting broken: inputs != published + quarantined + rejected + unchanged + suppressed (see the report)"
    failed = [f"{o['table']}: {o['reason']} ({o['unexpected_count']} of {o['element_count']} rows)"
              for o in summary["failed_expectations"] if o["severity"] == "critical"]
    return shown(f"critical expectation failed: {'; '.join(failed) or 'see the report'}; "
                 f"report: {Path(summary['report_dir']) / 'summary.html'}")


def one_line_summary(s: dict) -> str:
    """'newsmill run <id>: 3 inputs: 3 articles and 39 comments published, ... exit code 0; report ...'."""
    quarantined = f"{s['articles_quarantined']} articles and {s['comments_quarantined']} comments quarantined"
    return shown(f"newsmill run {s['run_id']}: {s['inputs']} inputs: {s['articles_published']} articles and "
                 f"{s['comments_published']} comments published, {quarantined}, {s['rejected']} rejected, "
                 f"{s.get('unchanged_inputs', 0)} unchanged; exit code {s['exit_code']}; {s['seconds']} s; "
                 f"report {Path(s['report_dir']) / 'summary.md'}")


def _report(summary: dict) -> dict:
    """The report's ``summary.json`` (the summary with the report's additions: quarantined samples, Data
    Docs), else the summary."""
    try:
        return json.loads((Path(summary["report_dir"]) / "summary.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return summary


def _report_files(s: dict) -> list[tuple[str, str]]:
    """(what, link) of the report's files: the remote's URLs for a URL output, else file URIs."""
    r = s.get("remote")
    if r:
        return [("report", r["report"]), ("Data Docs", r["data_docs"]), ("articles", r["articles"]),
                ("comments", r["comments"]), ("quarantine", r["quarantine"])]
    d = Path(s["report_dir"])
    files = [("report page (self-contained, opens offline)", d / "summary.html"), ("summary (Markdown)", d / "summary.md"),
             ("summary (JSON)", d / "summary.json")]
    if s.get("data_docs"):
        files.append(("Data Docs", Path(s["data_docs"])))
    out = Path(s["output_dir"])
    files += [("articles", out / "articles"), ("comments", out / "comments"), ("quarantine", out / "quarantine")]
    return [(what, p.resolve().as_uri()) for what, p in files if p.exists()]


def counts_table(s: dict) -> list[dict]:
    """The run's counts, all inputs first, then per source (site profile or host): rejected and unchanged
    inputs have no source (nothing was extracted from them), so their cells are empty there."""
    rows = [{"source": "(all inputs)", "inputs": s["inputs"], "articles_published": s["articles_published"],
             "articles_quarantined": s["articles_quarantined"], "comments_published": s["comments_published"],
             "comments_quarantined": s["comments_quarantined"], "rejected": s["rejected"],
             "unchanged": s.get("unchanged_inputs", 0)}]
    for source, c in (s.get("by_source") or {}).items():
        rows.append({"source": source, "inputs": c["articles_published"] + c["articles_quarantined"], **c,
                     "rejected": None, "unchanged": None})
    return rows


def _artifacts(s: dict) -> None:
    """The run's artifacts in Prefect. One that cannot be made is a warning: the run has committed."""
    from prefect.artifacts import create_link_artifact, create_markdown_artifact, create_table_artifact

    from newsmill.validate.report import failure_table

    files = _report_files(s)
    try:
        text = (Path(s["report_dir"]) / "summary.md").read_text(encoding="utf-8")
    except OSError:
        text = f"# newsmill run {s['run_id']}\n\n(no summary.md: see the run's logs)\n"
    links = "\n".join(f"- {what}: [{shown(link)}]({link})" for what, link in files)
    # rows, not columns: Prefect 3.9's default UI shows a table given as columns as its JSON text, escaped; and
    # one row that says so when nothing failed (a table without rows is shown the same way)
    cols = failure_table(s)
    failures = ([dict(zip(cols, row)) for row in zip(*cols.values())]
                or [{**dict.fromkeys(cols), "rule": NO_FAILURES}])
    made = (
        (create_markdown_artifact, dict(markdown=f"{text}\n\n## Report files\n\n{links}\n", key=SUMMARY_KEY,
                                        description=f"The report's summary and its files "
                                                    f"(newsmill run {s['run_id']})")),
        (create_table_artifact, dict(table=counts_table(s), key=COUNTS_KEY,
                                     description="Inputs = published + quarantined + rejected + unchanged, in all "
                                                 f"and by source (newsmill run {s['run_id']})")),
        (create_table_artifact, dict(table=failures, key=FAILURES_KEY,
                                     description="Failed expectations, each with the first records that failed "
                                                 f"(newsmill run {s['run_id']})")),
    )
    if files:
        made += ((create_link_artifact, dict(link=files[0][1], link_text=files[0][0], key=REPORT_KEY,
                                             description="The report as one page, to open offline "
                                                         f"(newsmill run {s['run_id']})")),)
    for create, kwargs in made:
        try:
            create(**kwargs)
        except Exception as exc:  # noqa: BLE001 (the data is published; the artifact is a view of it)
            log.warning("artifact %s not made: %s: %s", kwargs["key"], type(exc).__name__, exc)


def run_flow(**params) -> dict:
    """The flow's summary, also for a run that ended Failed on a critical expectation (exit code 1);
    an exception the flow raised (or ended Failed with) is raised here.

    The run id is made here, before the flow run exists, so that Prefect creates the run with it as
    its name and tag."""
    run_id = params.pop("run_id", None) or pipeline.new_run_id(datetime.now(timezone.utc))
    with tags(TAG, run_id):
        state = newsmill_flow(**params, run_id=run_id, return_state=True)
    result = state.result(raise_on_failure=False)
    if isinstance(result, BaseException):
        raise result
    return result
