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

A worker that dies (the kernel's out-of-memory killer, a crash in a C library)
costs a batch, not the run: the pool is replaced for the other batches and the
call is tried once more in a process of its own, where a second death is that
call's own (:class:`WorkerCrashed`, for the caller to split the batch: :func:`one_by_one`).
No process outlives the run that started it, even one killed by SIGKILL: the fork
server watches the run (``newsmill.runtime._forked``) and each worker dies with the
fork server (``PR_SET_PDEATHSIG``); without that, workers and server keep each other
alive (each worker holds the server's "alive" pipe) and hold ~500 MB forever.
"""
from __future__ import annotations

import atexit
import logging
import multiprocessing
import os
import queue
import signal
import sys
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from typing import Any, Callable, Iterable, Iterator

log = logging.getLogger(__name__)

# Imported once by the fork server, inherited by every worker it forks.
PRELOAD = ["newsmill.pipeline", "newsmill.extract.html", "newsmill.extract.textdump", "py3langid", "newsmill.runtime._forked"]
WINDOW_PER_WORKER = 2  # batches in flight per worker: one running, one ready to start

_pools: dict[str, Any] = {}  # run id -> this process' pool (tasks running in its threads find it)
RUN_PID = "NEWSMILL_RUN_PID"  # given to the fork server (newsmill.runtime._forked): the process whose end ends it
PR_SET_PDEATHSIG = 1  # linux/prctl.h


class WorkerCrashed(RuntimeError):
    """The worker process running a call died (a signal, ``os._exit``), also when the call was tried
    once more in a process of its own: the call's own doing (or its memory's), not a neighbour's."""


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
        # read by the server's imports, inherited by every worker; the server watches this process (_forked)
        with _environment(SINGLE_THREADED), _environment({RUN_PID: str(os.getpid())}, replace=True):
            forkserver.ensure_running()
        _stop_server_at_exit()
        return ctx
    return multiprocessing.get_context("spawn")


@contextmanager
def _environment(values: dict[str, str], *, replace: bool = False) -> Iterator[None]:
    """These variables (unless already set, or ``replace``) for processes started in the block, not
    for this one's later ones."""
    saved = {k: os.environ.get(k) for k in values}
    added = {k: v for k, v in values.items() if replace or k not in os.environ}
    os.environ.update(added)
    try:
        yield
    finally:
        for k in added:
            if saved[k] is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = saved[k]


def _server_pid() -> int:
    """The process the workers are forked from: the fork server, or this one (spawn)."""
    from multiprocessing import forkserver

    return getattr(getattr(forkserver, "_forkserver", None), "_forkserver_pid", None) or os.getpid()


def _worker_start(parent: int, environ: dict[str, str]) -> None:
    """Worker initializer: the run's environment, and death with the parent (the fork server).

    The fork server, and so every worker, has the environment of the run that started it, the
    first of this process: a later run's (a notebook's, a test's) must reach its own workers too.
    On Linux the worker asks to be SIGKILLed when its parent ends: a worker blocked on its task
    queue never notices its run is gone (it holds the queue's write end itself), so without this
    it would live on after a killed run."""
    keep = {k: os.environ[k] for k in (*SINGLE_THREADED, RUN_PID) if k in os.environ}
    os.environ.clear()
    os.environ.update(environ)
    os.environ.update({k: v for k, v in keep.items() if k not in environ})
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # no prctl: the fork server's watch still ends the idle ones' run
        return
    if os.getppid() != parent:  # the parent ended before the call above
        os._exit(1)


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


def _how_it_died(ex: ProcessPoolExecutor) -> str:
    """How the process of a broken one-process executor ended: the signal or the exit code.

    The executor's manager thread joins the dead process itself. A second join racing with it can find the
    fork server's report already read and take the process for lost (CPython's ``popen_forkserver.poll``
    has no lock; it then says exit code 255 for a process that was killed): so the manager ends first."""
    processes = list((getattr(ex, "_processes", None) or {}).values())
    manager = getattr(ex, "_executor_manager_thread", None)
    if manager is not None and manager is not threading.current_thread():
        manager.join(30)  # a bound against a hang, not a timing: it ends as soon as it has joined the process
    for p in processes:
        p.join(5)
        code = p.exitcode
        if code and code < 0:
            try:
                return f"killed by signal {signal.Signals(-code).name}"
            except ValueError:
                return f"killed by signal {-code}"
        if code:
            return f"exit code {code}"
    return "ended abruptly"


class Pool:
    """The run's worker processes (a ``ProcessPoolExecutor``), replaced when one of them dies.

    A dead worker breaks the whole executor: every call in flight fails with ``BrokenProcessPool``,
    not only the one that killed it. So :meth:`call` does not blame its call: it replaces the
    executor for everyone and tries the call once more in a process of its own (:meth:`alone`),
    where a death is the call's own (:class:`WorkerCrashed`). At most ``n`` such processes run at
    once: a crash from lack of memory must not be answered with twice the processes.
    """

    def __init__(self, n: int):
        self.n = n
        self._mp = _context()
        self._lock = threading.Lock()
        self._alone = threading.BoundedSemaphore(n)
        self._closed = False
        self._singles: set[ProcessPoolExecutor] = set()  # one-process executors in use
        self._ex = self._executor(n)

    def _executor(self, n: int) -> ProcessPoolExecutor:
        ex = ProcessPoolExecutor(max_workers=n, mp_context=self._mp, initializer=_worker_start,
                                 initargs=(_server_pid(), dict(os.environ)))
        # All workers at the first call, before the executor's manager thread starts waiting on their
        # exits: one started later (on demand, the default for a fork server) may be missing from
        # that wait, and its death then goes unnoticed, its call waiting forever (CPython 3.11).
        if hasattr(ex, "_safe_to_dynamically_spawn_children"):
            ex._safe_to_dynamically_spawn_children = False
        return ex

    def submit(self, fn: Callable, /, *args, **kwargs):
        return self._submit(fn, args, kwargs)[1]

    def _submit(self, fn, args, kwargs):
        while True:
            ex = self._ex
            try:
                return ex, ex.submit(fn, *args, **kwargs)
            except BrokenProcessPool:  # broken by another call's crash: this one never ran
                self._renew(ex)

    def _renew(self, broken: ProcessPoolExecutor) -> None:
        with self._lock:
            if self._closed:
                raise RuntimeError("the run's worker processes were stopped")
            if self._ex is broken:
                self._ex = self._executor(self.n)
                broken.shutdown(wait=False, cancel_futures=True)

    def call(self, fn: Callable, args: tuple, kwargs: dict):
        ex, f = self._submit(fn, args, kwargs)
        try:
            return f.result()
        except BrokenProcessPool:
            self._renew(ex)
        log.warning("a worker process died during %s: trying it once more in a process of its own",
                    getattr(fn, "__name__", fn))
        return self.alone(fn, *args, **kwargs)

    @contextmanager
    def _single(self) -> Iterator[ProcessPoolExecutor]:
        ex = self._executor(1)
        with self._lock:
            if self._closed:
                ex.shutdown()
                raise RuntimeError("the run's worker processes were stopped")
            self._singles.add(ex)
        try:
            yield ex
        finally:
            with self._lock:
                self._singles.discard(ex)
            ex.shutdown(wait=True)

    def alone(self, fn: Callable, /, *args, **kwargs):
        """``fn(*args, **kwargs)`` in a new process of its own (forked from the same server: milliseconds)."""
        with self._alone, self._single() as ex:
            try:
                return ex.submit(fn, *args, **kwargs).result()
            except BrokenProcessPool as exc:
                raise WorkerCrashed(_how_it_died(ex)) from exc

    def one_by_one(self, fn: Callable, calls: Iterable[tuple]) -> Iterator[Any]:
        """See :func:`one_by_one`: one process, a new one after each death."""
        with self._alone:
            calls = iter(calls)
            pending = next(calls, None)
            while pending is not None:
                with self._single() as ex:
                    while pending is not None:
                        try:
                            result = ex.submit(fn, *pending).result()
                        except BrokenProcessPool:
                            yield WorkerCrashed(_how_it_died(ex))
                            pending = next(calls, None)
                            break
                        yield result
                        pending = next(calls, None)

    def abort(self) -> None:
        """Kill every worker now: a run stopped by an error or Ctrl-C has no use for its batches in
        flight, and waiting for them would keep it (and its threads waiting on them) alive."""
        with self._lock:
            self._closed = True
            executors = [self._ex, *self._singles]
        for ex in executors:
            for p in list((getattr(ex, "_processes", None) or {}).values()):
                try:
                    p.kill()
                except (OSError, ValueError, AttributeError):
                    pass
            ex.shutdown(wait=False, cancel_futures=True)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        with self._lock:
            self._closed = True
            ex = self._ex
        ex.shutdown(wait=wait, cancel_futures=cancel_futures)


@contextmanager
def pool(n: int, run_id: str | None = None, *, isolate: bool = False) -> Iterator[Pool | None]:
    """``n`` worker processes for the length of the block (None when ``n`` is 1: work in process,
    unless ``isolate``). With ``run_id``, tasks running in this process' threads find the pool by
    :func:`for_run`."""
    if n <= 1 and not isolate:
        yield None
        return
    ex = Pool(max(1, n))
    try:
        if run_id:
            with registered(run_id, ex):
                yield ex
        else:
            yield ex
    except BaseException:
        ex.abort()
        raise
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
    """``fn(*args, **kwargs)`` in the run's pool when this process has one, else right here.

    A worker that dies costs a retry in a process of its own (:meth:`Pool.call`); a second death
    raises :class:`WorkerCrashed`. On Dask the scheduler retries on other workers first (its
    ``allowed-failures``) and raises ``KilledWorker``, raised here as :class:`WorkerCrashed` too.
    """
    ex = for_run(run_id)
    if ex is None:
        return fn(*args, **kwargs)
    if isinstance(ex, Pool):
        return ex.call(fn, args, kwargs)
    try:
        return ex.submit(fn, *args, **kwargs).result()
    except Exception as exc:
        if type(exc).__name__ == "KilledWorker":  # distributed's, not imported for its name
            raise WorkerCrashed("its Dask worker died, on every try (KilledWorker)") from exc
        raise


def one_by_one(run_id: str, fn: Callable, calls: Iterable[tuple]) -> Iterator[Any]:
    """``fn(*args)`` for each ``args`` of ``calls``, one at a time, each result in turn, or the
    :class:`WorkerCrashed` of a call that killed its worker: how a batch that killed its worker twice
    finds the page that does it. In a process of its own (a new one after each death), or one Dask
    task each; in this process when the run has no pool (then nothing can die without the run)."""
    ex = for_run(run_id)
    if isinstance(ex, Pool):
        yield from ex.one_by_one(fn, calls)
        return
    for args in calls:
        try:
            yield call(run_id, fn, *args)
        except WorkerCrashed as crash:
            yield crash


@contextmanager
def stopping_on_error(run_id: str) -> Iterator[None]:
    """Around the wait for the run's batches: an error or Ctrl-C kills the run's worker processes at
    once (:meth:`Pool.abort`), so that the threads waiting on them return and the run can end."""
    try:
        yield
    except BaseException:
        ex = for_run(run_id)
        if isinstance(ex, Pool):
            ex.abort()
        raise


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
