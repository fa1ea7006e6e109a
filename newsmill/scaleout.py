"""Where the flow's batch tasks run: local worker processes, or Dask (prefect-dask).

By default (``newsmill run --workers N``, default one per CPU) each batch task is a
Prefect task run in a thread of the flow's process that hands the batch to the
run's pool of worker processes (``newsmill.workers``) and waits: Prefect's engine
stays in the flow's process (a few ms a task run), the CPU work runs on every
core, and only a window of batches is in flight. (Prefect's own
``ProcessPoolTaskRunner`` runs the task engine in each worker: measured here at
~0.3 s of overhead a task run, plus a Prefect import per worker.)

The ``[dask]`` table's ``workers = N`` starts a local Dask cluster for the run (N
worker processes, one thread each); ``--dask tcp://host:port`` sends the batches to
an existing cluster. Only the batch tasks go to Dask; planning, validation and the
publish stay in the flow's process, so the output folder is written by one
process, under its lock. Workers of a local cluster write their records to the
run's staging area like local processes do; workers of an existing cluster may
not see that folder, so their records come back in the result and the flow's
process writes them.

Dask workers report their task runs to the Prefect API themselves. A worker that
has no ``PREFECT_API_URL`` would start a temporary Prefect server of its own (slow,
and invisible to the flow's), so a local cluster's workers are given the API URL
the flow itself uses, the temporary server's included. Workers of an existing
cluster must be started with ``PREFECT_API_URL`` set to a server they can reach.
"""
from __future__ import annotations

import logging
import os

from newsmill import progress
from newsmill.config import check_reachable

log = logging.getLogger(__name__)

REMOTE_SLOTS = 16  # worker slots assumed for an existing cluster (its size is not known here): the window's size
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
        check_reachable(address)  # also checked by the CLI before the flow starts
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


def run_batches(task, plan, ctx, area, *, workers: int | None = None, dask_workers: int | None = None,
                address: str | None = None) -> list:
    """Run ``task(uris, ctx, expected, index, folder)`` on every batch of ``plan`` and return the staged
    results in plan order; at most a window of batches in flight; the progress display advances as
    each batch completes."""
    from prefect.task_runners import ThreadPoolTaskRunner

    from newsmill import staging
    from newsmill import workers as local

    expected = plan.expected or [{} for _ in plan.batches]
    results: list = [None] * len(plan.batches)

    def params(i: int, folder: str | None) -> dict:
        return {"uris": plan.batches[i], "ctx": ctx, "expected": expected[i], "index": i, "folder": folder}

    def collect(i: int, res) -> None:
        results[i] = staging.materialize(res, area)  # records sent back by a remote worker: written now
        progress.batch_done(len(plan.batches[i]))

    with progress.tracking(plan):
        if not plan.batches:
            return []
        from newsmill.pipeline import warm_validation

        runner = task_runner(dask_workers, address)
        if runner is not None:
            folder = None if address else str(area.path)
            width = local.WINDOW_PER_WORKER * (dask_workers or REMOTE_SLOTS)
            with runner, local.warming(warm_validation):
                local.windowed(lambda i: runner.submit(task, params(i, folder)), len(plan.batches), width, collect)
            return results
        n = local.count(workers, len(plan.batches))
        width = local.WINDOW_PER_WORKER * n if n > 1 else 1  # in process: one batch at a time
        with local.pool(n, ctx.run_id), ThreadPoolTaskRunner(max_workers=width) as threads, \
                local.warming(warm_validation if n > 1 else None):
            local.windowed(lambda i: threads.submit(task, params(i, str(area.path))), len(plan.batches), width,
                           collect)
        return results
