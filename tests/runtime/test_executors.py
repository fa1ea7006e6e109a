"""Worker processes: how many, the window of batches in flight, errors, a worker that dies, the setting."""
from __future__ import annotations

import os
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from newsmill.config import ConfigError, Settings, load_settings
from newsmill.runtime import executors


def test_count_defaults_to_cpus_and_never_exceeds_the_batches():
    assert executors.count(None, 1000) == (os.cpu_count() or 1)
    assert executors.count(4, 2) == 2
    assert executors.count(4, 0) == 1
    assert executors.count(1, 50) == 1


def test_window_bounds_what_is_in_flight_and_collects_everything():
    lock, running, seen = threading.Lock(), [0], []
    peak = [0]

    def job(i):
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        time.sleep(0.01 * (i % 3))
        with lock:
            running[0] -= 1
        return i * i

    with ThreadPoolExecutor(8) as ex:
        executors.windowed(lambda i: ex.submit(job, i), 30, 3, lambda i, r: seen.append((i, r)))
    assert sorted(seen) == [(i, i * i) for i in range(30)]
    assert peak[0] <= 3


def test_window_stops_submitting_after_an_error_and_raises_it():
    submitted = []

    def job(i):
        if i == 2:
            raise RuntimeError("batch 2 broke")
        time.sleep(0.01)
        return i

    def submit(i):
        submitted.append(i)
        return ex.submit(job, i)

    with ThreadPoolExecutor(2) as ex, pytest.raises(RuntimeError, match="batch 2 broke"):
        executors.windowed(submit, 100, 2, lambda i, r: None)
    assert len(submitted) < 10


def test_pool_runs_functions_in_other_processes():
    with executors.pool(2) as ex:
        pids = {ex.submit(os.getpid).result() for _ in range(4)}
    assert os.getpid() not in pids
    with executors.pool(1) as ex:
        assert ex is None  # one worker: in process


def test_workers_setting(tmp_path):
    p = tmp_path / "newsmill.toml"
    p.write_text("[newsmill]\nworkers = 3\n", encoding="utf-8")
    assert load_settings(p, env={}).workers == 3
    assert load_settings(p, env={"NEWSMILL_WORKERS": "1"}).workers == 1
    assert Settings().with_run_options(workers=2).workers == 2
    for bad in ("0", "two"):
        with pytest.raises(ConfigError, match="workers"):
            load_settings(None, env={"NEWSMILL_WORKERS": bad})


# --- a worker that dies: module-level functions (a worker imports them by name) ---------------------

def _die():
    os.kill(os.getpid(), signal.SIGKILL)


def _exit_3():
    os._exit(3)


def _die_once(marker: str) -> int:
    """Dies the first time (a transient crash: out of memory), works when tried again."""
    try:
        fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return os.getpid()
    os.close(fd)
    _die()


def _held(started: str, fifo: str) -> int:
    """Says it runs, then waits until the test writes to ``fifo``."""
    with open(started, "a") as fh:
        fh.write(f"{os.getpid()}\n")
    with open(fifo, "rb") as fh:
        fh.read()
    return os.getpid()


def _twice_unless(x: int, bad: int) -> int:
    if x == bad:
        _die()
    return 2 * x


def test_a_worker_killed_once_costs_one_retry_and_the_pool_goes_on(tmp_path):
    with executors.pool(2, "crash-once"):
        pid = executors.call("crash-once", _die_once, str(tmp_path / "died"))
        assert (tmp_path / "died").exists() and pid != os.getpid()
        assert executors.call("crash-once", os.getpid) != os.getpid()  # a new pool for the next calls


def test_a_call_that_kills_every_worker_raises_worker_crashed_naming_how():
    with executors.pool(2, "crash-always"):
        with pytest.raises(executors.WorkerCrashed, match="killed by signal SIGKILL"):
            executors.call("crash-always", _die)
        with pytest.raises(executors.WorkerCrashed, match="exit code 3"):
            executors.call("crash-always", _exit_3)
        assert executors.call("crash-always", os.getpid) != os.getpid()


def test_a_call_in_flight_when_another_kills_the_pool_is_retried_not_blamed(tmp_path):
    """A dead worker breaks every call in flight: the innocent one is retried alone and succeeds."""
    started, fifo = tmp_path / "started", tmp_path / "hold"
    os.mkfifo(fifo)
    with executors.pool(2, "neighbour"), ThreadPoolExecutor(1) as threads:
        innocent = threads.submit(executors.call, "neighbour", _held, str(started), str(fifo))
        deadline = time.monotonic() + 60
        while not (started.exists() and started.read_text()) and time.monotonic() < deadline:
            time.sleep(0.02)  # bounded poll for the event "the innocent call runs"
        assert started.read_text(), "the held call never started"
        with pytest.raises(executors.WorkerCrashed):
            executors.call("neighbour", _die)
        while len(started.read_text().split()) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)  # its retry runs, in another process
        with open(fifo, "wb") as fh:
            fh.write(b"go")
        first, second = started.read_text().split()
        assert innocent.result(timeout=60) == int(second) != int(first)


def test_one_by_one_names_each_call_that_kills_its_worker():
    with executors.pool(2, "one-by-one"):
        got = list(executors.one_by_one("one-by-one", _twice_unless, [(1, 2), (2, 2), (3, 2), (4, 4)]))
    assert got[0] == 2 and got[2] == 6
    assert isinstance(got[1], executors.WorkerCrashed) and isinstance(got[3], executors.WorkerCrashed)
    assert "SIGKILL" in str(got[1])


def test_workers_die_with_their_fork_server():
    """A worker's parent is the fork server; each asks to be killed when it ends (PR_SET_PDEATHSIG)."""
    if not os.path.exists("/proc/self/status"):
        pytest.skip("Linux only")
    with executors.pool(2) as ex:
        pid = ex.submit(os.getpid).result()
        status = open(f"/proc/{pid}/status").read()
        parent = int(next(line.split()[1] for line in status.splitlines() if line.startswith("PPid:")))
        assert parent != os.getpid()  # forked by the server
        assert ex.submit(_parent_death_signal).result() == signal.SIGKILL


def _parent_death_signal() -> int:
    import ctypes

    sig = ctypes.c_int()
    ctypes.CDLL(None).prctl(2, ctypes.byref(sig), 0, 0, 0)  # PR_GET_PDEATHSIG
    return sig.value


@pytest.mark.slow
def test_a_call_that_kills_its_dask_worker_raises_worker_crashed():
    """On Dask the scheduler retries the task on another worker (once, for the run's own cluster), then
    gives up with KilledWorker: the same WorkerCrashed, and the batch goes page by page as locally."""
    from newsmill.runtime import batch_runner

    with batch_runner.dask_executor(workers=2) as (ex, _slots), executors.registered("dask-crash", ex):
        with pytest.raises(executors.WorkerCrashed, match="Dask worker died"):
            executors.call("dask-crash", _die)
        got = list(executors.one_by_one("dask-crash", _twice_unless, [(1, 2), (2, 2)]))
    assert got[0] == 2 and isinstance(got[1], executors.WorkerCrashed)
