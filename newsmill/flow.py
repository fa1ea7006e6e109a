"""The newsmill Prefect flow: thin wiring of ``newsmill.pipeline``.

One task per batch of pages (never per record: each task run costs the
Prefect server ~30 ms of CPU and ~20 KB of database), then one task that
validates everything and publishes atomically. A batch task's records go to the
run's staging area on disk; the task returns a small handle (``newsmill.store.staging``).
"""
from __future__ import annotations

import time
from pathlib import Path

from prefect import flow, task
from prefect.cache_policies import NO_CACHE
from prefect.states import Failed

from newsmill import pipeline
from newsmill.config import load_settings, output_location
from newsmill.runtime import batch_runner, executors
from newsmill.store import staging
from newsmill.store.output import Output


@task(name="extract-clean-batch", cache_policy=NO_CACHE)
def extract_batch(uris: list[str], ctx: pipeline.RunContext, expected: dict | None = None, index: int = 0,
                  folder: str | None = None) -> staging.StagedBatch:
    """Runs in the flow's process; the batch itself goes to the run's executor (its local worker
    processes or its Dask client, ``newsmill.runtime.executors.call``), or runs here with ``workers=1``."""
    return executors.call(ctx.run_id, pipeline.stage_batch, uris, ctx, expected, index=index, folder=folder)


@task(name="fetch-sources", cache_policy=NO_CACHE)
def fetch_sources(sources, settings, ctx: pipeline.RunContext):
    """Live sources (URL lists, feeds, sitemaps) -> the run's raw WARC, read by planning like any archive."""
    return pipeline.fetch_sources(sources, settings, ctx)


@task(name="validate-publish", cache_policy=NO_CACHE)
def validate_and_publish(results: list, ctx: pipeline.RunContext, started: float) -> dict:
    return pipeline.finalize(results, ctx, started=started).to_dict()


@flow(name="newsmill", validate_parameters=False)
def newsmill_flow(paths: list[str], output_dir: str | None = None, batch_size: int | None = None,
                  project_file: str | None = None, full: bool = False, workers: int | None = None,
                  dask_address: str | None = None, authors: str | None = None) -> dict:
    """Extract -> clean (per batch) -> validate -> publish; returns the run summary.

    Incremental unless ``full``; batch tasks on ``workers`` local processes (default: one per CPU),
    or on Dask with ``dask_address`` (an existing cluster) or the project file's [dask] table;
    ``authors`` (keep | pseudonymize | drop) over the project file's and the environment's.
    """
    started = time.monotonic()
    settings = load_settings(Path(project_file) if project_file else None)
    settings = settings.with_overrides(output_dir=output_location(output_dir) if output_dir else None,
                                       batch_size=batch_size, authors=authors)
    settings = settings.with_run_options(full=full, workers=workers, dask_address=dask_address)
    ctx = pipeline.start_run(settings)
    paths, live = pipeline.resolve_inputs(paths, settings)  # no PATH: the project file's inputs and sources
    fetched = fetch_sources(live, settings, ctx) if live else None
    work = pipeline.plan(paths, settings.batch_size, ctx, fetched)
    with Output.of(ctx).work_area(ctx.run_id) as area:
        results = batch_runner.run_batches(work, ctx, area, stage=pipeline.stage_batch, warm=pipeline.warm_validation,
                                           task=extract_batch, workers=settings.workers,
                                           dask_workers=settings.dask.workers, address=settings.dask.address)
        summary = validate_and_publish([work.listed, *results], ctx, started)
    if summary["exit_code"] == 1:  # a scheduled run must show as failed in Prefect, not only in its report
        return Failed(message=_failure(summary), data=summary)
    return summary


def _failure(summary: dict) -> str:
    if not summary["accounting_ok"]:
        return "accounting broken: inputs != published + quarantined + rejected + unchanged (see the report)"
    failed = [f"{o['table']}: {o['expectation']}" + (f" on {o['column']}" if o.get("column") else "")
              for o in summary["failed_expectations"] if o["severity"] == "critical"]
    return f"critical expectation failed ({'; '.join(failed) or 'see the report'}); report: {summary['report_dir']}"


def run_flow(**params) -> dict:
    """The flow's summary, also for a run that ended Failed on a critical expectation (exit code 1);
    an exception the flow raised is raised here."""
    state = newsmill_flow(**params, return_state=True)
    result = state.result(raise_on_failure=False)
    if isinstance(result, BaseException):
        raise result
    return result
