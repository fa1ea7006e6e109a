"""Where the batch tasks run: the flow's own task runner, or Dask (prefect-dask).

``newsmill run --workers N`` starts a local Dask cluster for the run (N worker
processes, one thread each: the work is pure-Python CPU, so processes, not
threads); ``--dask tcp://host:port`` sends the batches to an existing cluster.
Only the batch tasks go to Dask; planning, validation and the publish stay in the
flow's process, so the output folder is written by one process, under its lock.

Dask workers report their task runs to the Prefect API themselves. A worker that
has no ``PREFECT_API_URL`` would start a temporary Prefect server of its own (slow,
and invisible to the flow's), so a local cluster's workers are given the API URL
the flow itself uses, the temporary server's included. Workers of an existing
cluster must be started with ``PREFECT_API_URL`` set to a server they can reach.
"""
from __future__ import annotations

import logging
import os

from prefect import unmapped
from prefect.futures import as_completed

from newsmill import progress

log = logging.getLogger(__name__)

QUIET_DASK = {"DASK_LOGGING__DISTRIBUTED": "warning"}  # Dask logs every worker start and stop at INFO


def _flow_api_url() -> str | None:
    """The API the running flow reports to (a temporary server has no PREFECT_API_URL setting)."""
    url = os.environ.get("PREFECT_API_URL")
    if url:
        return url
    try:
        from prefect.context import get_run_context

        return str(get_run_context().client.api_url)
    except Exception:  # noqa: BLE001 (not in a flow run: workers fall back to their own setting)
        return None


def task_runner(workers: int | None = None, address: str | None = None):
    """A DaskTaskRunner for ``workers`` local processes or the scheduler at ``address``; None: no Dask."""
    if not workers and not address:
        return None
    from prefect_dask import DaskTaskRunner

    logging.getLogger("distributed").setLevel(max(logging.getLogger("distributed").getEffectiveLevel(),
                                                  logging.WARNING))
    if address:
        if not os.environ.get("PREFECT_API_URL"):
            log.warning("--dask %s without PREFECT_API_URL: the cluster's workers need a Prefect server they can "
                        "reach (start them with PREFECT_API_URL set), else each starts a temporary one", address)
        return DaskTaskRunner(address=address)
    env = {**QUIET_DASK, **{k: os.environ[k] for k in QUIET_DASK if k in os.environ}}
    url = _flow_api_url()
    if url:
        env["PREFECT_API_URL"] = url
    return DaskTaskRunner(cluster_kwargs={
        "n_workers": int(workers), "processes": True, "threads_per_worker": 1,
        "host": "127.0.0.1", "dashboard_address": None, "worker_dashboard_address": None, "env": env,
    })


def run_batches(task, plan, ctx, *, workers: int | None = None, address: str | None = None) -> list:
    """Run ``task(uris, ctx, expected)`` on every batch of ``plan`` (on Dask when asked) and return the
    results in plan order; the progress display advances as each batch completes."""
    expected = plan.expected or [{} for _ in plan.batches]
    with progress.tracking(plan):
        if not plan.batches:
            return []
        runner = task_runner(workers, address)
        if runner is None:
            return _collect(task.map(plan.batches, ctx=unmapped(ctx), expected=expected), plan)
        with runner:
            return _collect(runner.map(task, {"uris": plan.batches, "ctx": unmapped(ctx), "expected": expected}), plan)


def _collect(futures, plan) -> list:
    """Results in the order of the batches (the first copy of a page met twice is the one kept)."""
    futures = list(futures)
    index = {id(f): i for i, f in enumerate(futures)}
    results = [None] * len(futures)
    for f in as_completed(futures):
        i = index[id(f)]
        results[i] = f.result()
        progress.batch_done(len(plan.batches[i]))
    return results
