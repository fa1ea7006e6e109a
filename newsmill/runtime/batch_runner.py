"""Where the flow's batch tasks do their work: local worker processes, or a Dask cluster.

Each batch is one Prefect task run, in a thread of the flow's process, that hands
its batch to the run's executor and waits (``newsmill.runtime.executors.call``): by default
the run's pool of local worker processes (``newsmill run --workers N``, one per
CPU), or with the ``[dask]`` table a Dask cluster: ``workers = N`` starts a local
one for the run (N processes, one thread each), ``--dask tcp://host:port`` uses an
existing one. Prefect's engine stays in the flow's process either way (a few ms a
task run); the workers run plain functions, and only a window of batches is in
flight.

Why not prefect-dask's ``DaskTaskRunner`` (used before): it runs Prefect's task
engine on the Dask workers, so every worker imports Prefect, needs the Prefect API
and reports each task run itself. Measured side by side (1k pages, 2 rounds,
bench/throughput.py, docs/BENCHMARKS.md): with one Dask worker a run took 49.1 s
of work that way and 37.6 s this way; with two, 29.3 s and 29.4 s. Handing
batches to a Dask client from the flow's task runs keeps a task run per batch in
Prefect (same names, states and logs) and leaves the workers nothing but the
extraction.

A worker process that dies costs its batch one retry in a process of its own
(``executors.call``); a batch that kills that one too goes to ``salvage`` (``pipeline.salvage_batch``),
which runs its pages one at a time so that only the page that kills its worker
becomes a reject: one page never costs the run (:func:`guarded`).

Planning, validation and the publish stay in the flow's process, so the output
folder is written by one process, under its lock. Workers of a local cluster
write their records to the run's staging area like local processes do; workers of
an existing cluster may not see that folder, so their records come back in the
result and the flow's process writes them.
"""
from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Callable

from newsmill.config import check_reachable
from newsmill.runtime import progress

log = logging.getLogger(__name__)

REMOTE_SLOTS = 16  # worker slots assumed for an existing cluster that reports none yet: the window's size
QUIET_DASK = {"DASK_LOGGING__DISTRIBUTED": "warning"}  # Dask logs every worker start and stop at INFO


@contextmanager
def dask_executor(workers: int | None = None, address: str | None = None) -> Iterator[tuple[object, int]]:
    """A Dask client's executor and its number of worker threads: a local cluster of ``workers``
    processes for the block, or the scheduler at ``address``."""
    from newsmill.runtime import executors as local

    logging.getLogger("distributed").setLevel(max(logging.getLogger("distributed").getEffectiveLevel(),
                                                  logging.WARNING))
    from distributed import Client, LocalCluster

    if address:
        check_reachable(address)  # also checked by the CLI before the flow starts
        with Client(address, timeout="30s") as client:
            info = client.scheduler_info().get("workers", {})
            yield client.get_executor(pure=False), sum(w.get("nthreads", 1) for w in info.values()) or REMOTE_SLOTS
        return
    import dask

    env = {**QUIET_DASK, **local.SINGLE_THREADED}
    env.update({k: os.environ[k] for k in env if k in os.environ})
    # a task whose worker dies is tried once more, as local batches are (Dask's default is 3 more)
    with dask.config.set({"distributed.scheduler.allowed-failures": 1}), \
            LocalCluster(n_workers=int(workers), processes=True, threads_per_worker=1, host="127.0.0.1",
                         dashboard_address=None, worker_dashboard_address=None, env=env) as cluster, \
            Client(cluster) as client:
        yield client.get_executor(pure=False), int(workers)


def guarded(run_id: str, stage: Callable, salvage: Callable | None, **params):
    """``stage(**params)`` in the run's executor, from a thread of the run's process; a batch whose
    worker died on its retry too (``executors.WorkerCrashed``) goes to ``salvage(**params)``."""
    from newsmill.runtime import executors as local
    from newsmill.runtime import suspects

    if local.for_run(run_id) is None:  # in this process: if a page kills it, the next run knows its batch
        with suspects.noted(params.get("folder"), params.get("index"), params.get("uris") or ()):
            return stage(**params)
    try:
        return local.call(run_id, stage, **params)
    except local.WorkerCrashed as crash:
        if salvage is None:
            raise
        log.warning("batch %s: its worker process died twice (%s); its pages go one at a time", params.get("index"),
                    crash)
        return salvage(**params)


def run_batches(plan, ctx, area, *, stage: Callable, salvage: Callable | None = None,
                warm: Callable[[], None] | None = None, task=None, workers: int | None = None,
                dask_workers: int | None = None, address: str | None = None) -> list:
    """Run ``stage(uris, ctx, expected, index, folder)`` on every batch of ``plan`` and return the staged
    results in plan order; at most a window of batches in flight; the progress display advances as
    each batch completes. ``warm`` runs in a thread meanwhile when the batches run elsewhere.

    The executor: ``workers`` local processes (one: in this process), or Dask (``dask_workers`` for a
    local cluster, ``address`` for an existing one). The same runner serves the library path and the
    flow: with ``task`` (a Prefect task taking the same parameters, the flow's), each batch is one task
    run in a thread of this process that hands the batch to the run's executor
    (``newsmill.runtime.executors.call``); without, a thread of this process does the same for each
    batch in flight (:func:`guarded`: ``salvage`` takes a batch that killed its worker twice).
    """
    from newsmill.runtime import executors as local

    expected = plan.expected or [{} for _ in plan.batches]
    results: list = [None] * len(plan.batches)

    def params(i: int, folder: str | None) -> dict:
        return {"uris": plan.batches[i], "ctx": ctx, "expected": expected[i], "index": i, "folder": folder}

    def collect(i: int, res) -> None:
        results[i] = area.materialize(res)  # records sent back by a remote worker: written now
        progress.batch_done(len(plan.batches[i]))

    def batches(executor, width: int, folder: str | None, warming: bool) -> list:
        with local.warming(warm if warming else None):
            if task is not None:
                from prefect.task_runners import ThreadPoolTaskRunner

                with ThreadPoolTaskRunner(max_workers=width) as threads, local.stopping_on_error(ctx.run_id):
                    local.windowed(lambda i: threads.submit(task, params(i, folder)), len(plan.batches), width,
                                   collect)
            elif executor is None:  # in this process, one batch at a time
                for i in range(len(plan.batches)):
                    collect(i, guarded(ctx.run_id, stage, salvage, **params(i, folder)))
            else:
                with ThreadPoolExecutor(width, thread_name_prefix="newsmill-batch") as threads, \
                        local.stopping_on_error(ctx.run_id):
                    local.windowed(lambda i: threads.submit(guarded, ctx.run_id, stage, salvage, **params(i, folder)),
                                   len(plan.batches), width, collect)
        return results

    with progress.tracking(plan):
        if not plan.batches:
            return []
        if dask_workers or address:
            with dask_executor(dask_workers, address) as (executor, slots), local.registered(ctx.run_id, executor):
                return batches(executor, local.WINDOW_PER_WORKER * slots, None if address else str(area.path), True)
        n = local.count(workers, len(plan.batches))
        # a page a run died extracting in its own process is extracted in a worker process this time
        isolate = bool(getattr(area, "suspects", None)) and any(u in area.suspects for b in plan.batches for u in b)
        if isolate and n == 1:
            log.warning("a run died while extracting some of these pages in its own process: extracting in a "
                        "worker process this time")
        with local.pool(n, ctx.run_id, isolate=isolate) as executor:
            # in process (n = 1): one batch at a time
            width = local.WINDOW_PER_WORKER * n if executor else 1
            return batches(executor, width, str(area.path), executor is not None)
