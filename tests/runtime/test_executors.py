"""Worker processes: how many, the window of batches in flight, errors, the setting."""
from __future__ import annotations

import os
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
