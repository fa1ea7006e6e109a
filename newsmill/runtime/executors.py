"""Batches on every core: a pool of worker processes per run, a bounded window of batches in flight.

Extraction is pure-Python CPU work: threads share one core (the GIL), so the
batches run in processes. The pool is started once per run from a fork server
that has imported the extraction code once (``PRELOAD``): a worker starts in
milliseconds, ready to work, instead of paying the imports itself. Only
``window`` batches are in flight at a time (submitted, running or done but not yet
collected): with everything submitted at once, results and queued arguments
would pile up in memory for nothing, and a flow would show hundreds of task runs
"running" that are really waiting.

``workers``: None means one per CPU; 1 runs the batches in the calling process,
one after the other (a debugger and monkeypatches see them). A run with a single
batch also stays in process: starting workers would cost more than they save.
"""
from __future__ import annotations

import atexit
import logging
import multiprocessing
import os
import queue
import sys
import threading
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from typing import Any, Callable, Iterator

log = logging.getLogger(__name__)

# Imported once by the fork server, inherited by every worker it forks.
PRELOAD = ["newsmill.pipeline", "newsmill.extract.html", "newsmill.extract.textdump", "py3langid", "newsmill.runtime._forked"]
WINDOW_PER_WORKER = 2  # batches in flight per worker: one running, one ready to start

_pools: dict[str, ProcessPoolExecutor] = {}  # run id -> this process' pool (tasks running in its threads find it)


def count(workers: int | None, batches: int) -> int:
    """How many processes a run of ``batches`` batches uses."""
    n = workers if workers else (os.cpu_count() or 1)
    return max(1, min(int(n), batches))


# A worker per CPU must not start a thread per CPU of its own: OpenBLAS (numpy, used by language
# detection) otherwise runs a thread pool whose threads spin while waiting, on every core.
SINGLE_THREADED = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def _context():
    if sys.platform.startswith("linux") and "forkserver" in multiprocessing.get_all_start_methods():
        from multiprocessing import forkserver

        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(PRELOAD)  # no effect once the server runs (it lives as long as this process)
        with _environment(SINGLE_THREADED):  # read by the server's imports, inherited by every worker
            forkserver.ensure_running()
        _stop_server_at_exit()
        return ctx
    return multiprocessing.get_context("spawn")


@contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    """These variables (unless already set) for processes started in the block, not for this one's later ones."""
    added = {k: v for k, v in values.items() if k not in os.environ}
    os.environ.update(added)
    try:
        yield
    finally:
        for k in added:
            os.environ.pop(k, None)


_stopping = []


def _stop_server_at_exit() -> None:
    """The fork server outlives a run (the next run in this process reuses it) and would notice this
    process' exit only after it: stop it at exit, so that nothing is left running."""
    if _stopping:
        return
    _stopping.append(True)

    def stop():
        try:
            from multiprocessing import forkserver

            forkserver._forkserver._stop()  # CPython's own (test) API; absent elsewhere: it exits on its own
        except Exception:  # noqa: BLE001
            pass

    atexit.register(stop)


@contextmanager
def warming(fn: Callable[[], Any] | None) -> Iterator[None]:
    """Run ``fn`` in a thread for the length of the block (waited for at its end): slow imports
    done while the workers extract, off the critical path. Its failure is only logged."""
    if fn is None:
        yield
        return

    def run():
        try:
            fn()
        except Exception as exc:  # noqa: BLE001 (the real call later fails loudly if it must)
            log.debug("warming up failed: %s", exc)

    t = threading.Thread(target=run, name="newsmill-warm", daemon=True)
    t.start()
    try:
        yield
    finally:
        t.join()


@contextmanager
def pool(n: int, run_id: str | None = None) -> Iterator[ProcessPoolExecutor | None]:
    """``n`` worker processes for the length of the block (None when ``n`` is 1: work in process).
    With ``run_id``, tasks running in this process' threads find the pool by :func:`for_run`."""
    if n <= 1:
        yield None
        return
    ex = ProcessPoolExecutor(max_workers=n, mp_context=_context())
    try:
        if run_id:
            with registered(run_id, ex):
                yield ex
        else:
            yield ex
    finally:
        ex.shutdown(wait=True, cancel_futures=True)


@contextmanager
def registered(run_id: str, executor) -> Iterator[None]:
    """Any ``concurrent.futures``-like executor (a Dask client's) as the run's pool, for :func:`call`."""
    _pools[run_id] = executor
    try:
        yield
    finally:
        _pools.pop(run_id, None)


def for_run(run_id: str):
    return _pools.get(run_id)


def call(run_id: str, fn: Callable, *args, **kwargs):
    """``fn(*args, **kwargs)`` in the run's pool when this process has one, else right here."""
    ex = for_run(run_id)
    if ex is None:
        return fn(*args, **kwargs)
    return ex.submit(fn, *args, **kwargs).result()


def windowed(submit: Callable[[int], Any], n: int, width: int, collect: Callable[[int, Any], None]) -> None:
    """Submit items ``0..n-1`` (``submit(i)`` returns a future: concurrent or Prefect), at most ``width``
    at a time; ``collect(i, result)`` as each finishes, in the calling thread, in completion order.
    An item's error is raised once the others in flight have finished, and nothing new is submitted."""
    done: queue.Queue[int] = queue.Queue()
    futures: dict[int, Any] = {}
    nxt = 0

    def launch() -> None:
        nonlocal nxt
        while nxt < n and len(futures) < width:
            i = nxt
            nxt += 1
            f = submit(i)
            futures[i] = f
            f.add_done_callback(lambda _f, i=i: done.put(i))

    launch()
    error = None
    while futures:
        i = done.get()
        f = futures.pop(i)
        try:
            result = f.result()
        except BaseException as exc:  # noqa: BLE001 (re-raised below, after the in-flight ones)
            if error is None:
                error = exc
                nxt = n  # submit nothing more
            continue
        if error is None:
            collect(i, result)
            launch()
    if error is not None:
        raise error
