"""A worker process that dies (out of memory, a crash in a C library) costs its batch, not the run;
the page that kills it is a reject naming how, in every run; a killed run leaves no process behind.

The crash is real: the failpoint ``extract@<name>`` SIGKILLs whichever worker process is about to
extract that page (``newsmill.runtime.failpoints``).
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from newsmill import pipeline
from newsmill.config import Settings
from newsmill.store import layout, reading
from tests.conftest import REPO, SAMPLES, budget_page, our_processes

CRASHER = "kills-its-worker.txt"


@pytest.fixture(scope="module")
def pages(tmp_path_factory) -> Path:
    """Five pages (three batches of two at most): the samples, a budget page, and the page that kills its worker."""
    d = tmp_path_factory.mktemp("pages")
    for p in sorted(SAMPLES.iterdir()):
        shutil.copy(p, d / p.name)
    (d / "budget.txt").write_text(budget_page(3), encoding="utf-8")
    (d / CRASHER).write_text(budget_page(2).replace("Council approves", "Mayor vetoes"), encoding="utf-8")
    return d


def _rejects(summary: dict) -> list[dict]:
    t = pq.read_table(layout.quarantine_file(summary["output_dir"], "rejects", summary["run_id"]))
    return t.to_pylist()


def _assert_crasher_rejected(summary: dict, published: int) -> None:
    assert summary["exit_code"] == 0 and summary["accounting_ok"], summary
    assert summary["reject_reasons"] == {"worker_crashed": 1}
    assert summary["articles_published"] == published
    (rej,) = _rejects(summary)
    assert rej["input_uri"].endswith(CRASHER) and rej["stage"] == "extract" and rej["input_sha256"]
    assert "killed by signal SIGKILL" in rej["detail"], rej["detail"]


def test_a_page_that_kills_its_worker_is_a_reject_and_never_blocks_a_run(pages, tmp_path, monkeypatch):
    monkeypatch.setenv("NEWSMILL_FAILPOINT", f"extract@{CRASHER}")
    settings = Settings(output_dir=tmp_path / "out", batch_size=2, author_key=b"k" * 32, workers=2)
    first = pipeline.run([str(pages)], settings).to_dict()
    _assert_crasher_rejected(first, published=4)
    # rejected for its bytes, like any reject that depends on them: unchanged next time, no worker lost
    again = pipeline.run([str(pages)], settings).to_dict()
    assert again["exit_code"] == 0 and again["unchanged_inputs"] == 5 and again["rejected"] == 0
    monkeypatch.delenv("NEWSMILL_FAILPOINT")  # workers get the run's environment, not the fork server's
    cured = pipeline.run([str(pages)], settings.with_run_options(full=True)).to_dict()  # --full: tried again
    assert cured["exit_code"] == 0 and cured["reject_reasons"] == {} and cured["articles_published"] == 5


def _cli_run(args: list[str], env: dict, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "newsmill.cli", "run", *args], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=300)


def test_a_page_that_kills_the_run_in_process_is_isolated_by_the_next_run(pages, tmp_path):
    """A run of one batch extracts in its own process: the page kills the run. The next run knows
    which batch it was extracting (its staging area) and extracts that in a worker process."""
    one = tmp_path / "one"
    one.mkdir()
    shutil.copy(pages / CRASHER, one)
    shutil.copy(pages / "budget.txt", one)
    env = {**os.environ, "PYTHONPATH": str(REPO), "NEWSMILL_DAEMON": "0", "NEWSMILL_AUTHOR_KEY": "k" * 32,
           "NEWSMILL_FAILPOINT": f"extract@{CRASHER}"}
    args = [str(one), "--no-prefect", "--no-progress", "--output", str(tmp_path / "out")]
    died = _cli_run(args, env, tmp_path)
    assert died.returncode == -signal.SIGKILL, died.stderr
    second = _cli_run(args, env, tmp_path)
    assert second.returncode == 0, second.stderr
    assert [Path(r["input_uri"]).name for r in reading.read_table("articles", tmp_path / "out").to_pylist()] == \
        ["budget.txt"]
    rejects = pq.read_table(tmp_path / "out" / "quarantine" / "rejects").to_pylist()
    assert [(Path(r["input_uri"]).name, r["reason"]) for r in rejects] == [(CRASHER, "worker_crashed")]
    third = _cli_run(args, env, tmp_path)
    assert third.returncode == 0 and "unchanged inputs           2" in third.stdout, third.stdout + third.stderr


@pytest.mark.slow
def test_the_flow_rejects_the_page_that_kills_its_worker(pages, tmp_path, monkeypatch, prefect_server):
    """The same through Prefect: each batch a task run, in a thread that hands it to the workers."""
    from newsmill.flow import newsmill_flow

    monkeypatch.setenv("NEWSMILL_FAILPOINT", f"extract@{CRASHER}")
    monkeypatch.setenv("NEWSMILL_AUTHOR_KEY", "k" * 32)
    monkeypatch.chdir(tmp_path)
    summary = newsmill_flow(paths=[str(pages)], output_dir=str(tmp_path / "out"), batch_size=2, workers=2)
    _assert_crasher_rejected(summary, published=4)


def _pids_left(marker: str, deadline_s: float = 30.0) -> list[int]:
    """Processes carrying ``marker`` in their environment, polled until none is left or the deadline."""
    deadline = time.monotonic() + deadline_s
    while (left := our_processes(marker)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGKILL], ids=lambda s: s.name)
def test_a_killed_run_leaves_no_process_behind(pages, tmp_path, sig):
    """Run held at the extraction failpoint in its workers (the fork server and workers are up), then
    signalled: the run, its fork server, its workers and the resource tracker all end."""
    fifo = tmp_path / "hold"
    os.mkfifo(fifo)
    mark = f"killed-run-{os.getpid()}-{sig.name}"
    marker = f"NEWSMILL_TEST_RUN_MARK={mark}"  # inherited by every process the run starts
    env = {**os.environ, "PYTHONPATH": str(REPO), "NEWSMILL_DAEMON": "0", "NEWSMILL_AUTHOR_KEY": "k" * 32,
           "NEWSMILL_FAILPOINT_WAIT": f"extract:{fifo}", "NEWSMILL_TEST_RUN_MARK": mark}
    with open(tmp_path / "stderr", "wb") as err:
        run = subprocess.Popen([sys.executable, "-m", "newsmill.cli", "run", str(pages), "--no-prefect",
                                "--no-progress", "--workers", "2", "--batch-size", "1", "--output", str(tmp_path / "out")],
                               stdout=subprocess.PIPE, stderr=err, env=env, cwd=tmp_path)
    try:
        line = run.stdout.readline()  # printed by a worker at the failpoint
        assert line.strip() == b"failpoint extract", (tmp_path / "stderr").read_text()
        assert len(our_processes(marker)) >= 3  # the run, the fork server, a worker (and the resource tracker)
        run.send_signal(sig)
        code = run.wait(timeout=60)
        assert code == (130 if sig == signal.SIGINT else -sig), (code, (tmp_path / "stderr").read_text())
        assert _pids_left(marker) == []
    finally:
        run.kill()
        for pid in our_processes(marker):
            os.kill(pid, signal.SIGKILL)
