"""The newsmill Prefect flow: thin wiring of ``newsmill.pipeline``.

One task per batch of pages (never per record: each task run costs the
Prefect server ~30 ms of CPU and ~20 KB of database), then one task that
validates everything and publishes atomically.
"""
from __future__ import annotations

import time
from pathlib import Path

from prefect import flow, task, unmapped
from prefect.cache_policies import NO_CACHE

from newsmill import pipeline
from newsmill.config import load_settings


@task(name="extract-clean-batch", cache_policy=NO_CACHE)
def extract_batch(uris: list[str], ctx: pipeline.RunContext) -> pipeline.BatchResult:
    return pipeline.process_batch(uris, ctx)


@task(name="validate-publish", cache_policy=NO_CACHE)
def validate_and_publish(results: list[pipeline.BatchResult], ctx: pipeline.RunContext, started: float) -> dict:
    return pipeline.finalize(results, ctx, started=started).to_dict()


@flow(name="newsmill", validate_parameters=False)
def newsmill_flow(paths: list[str], output_dir: str | None = None, batch_size: int | None = None,
                  project_file: str | None = None) -> dict:
    """Extract -> clean (per batch) -> validate -> publish; returns the run summary."""
    started = time.monotonic()
    settings = load_settings(Path(project_file) if project_file else None)
    settings = settings.with_overrides(output_dir=Path(output_dir) if output_dir else None, batch_size=batch_size)
    ctx = pipeline.start_run(settings)
    work = pipeline.plan(paths, settings.batch_size, ctx)
    futures = extract_batch.map(work.batches, ctx=unmapped(ctx))
    return validate_and_publish([work.listed, *futures], ctx, started)
