"""The output lock: one publisher at a time, across processes, and a dead holder never blocks."""
from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from newsmill import schema
from newsmill.store import lock, manifest, publish, reading
from tests.conftest import REPO
from tests.store.conftest import CHILD_SCRIPT, articles, by_key, row, sample_articles, sample_comments

CHILD = [sys.executable, str(CHILD_SCRIPT)]


def spawn(*args: str, env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen([*CHILD, *map(str, args)], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env={**os.environ, **(env or {})})


def wait_line(proc: subprocess.Popen, want: str) -> None:
    line = proc.stdout.readline().strip()
    assert line == want, f"child said {line!r}; stderr: {proc.stderr.read() if proc.poll() is not None else ''}"


@pytest.fixture
def out(tmp_path) -> Path:
    return tmp_path / "output"


def test_holder_details_written_while_held_and_cleared_on_release(out):
    with lock.OutputLock(out, "run-a") as held:
        h = lock.holder(out)
        assert (h["run_id"], h["pid"], h["host"]) == ("run-a", os.getpid(), socket.gethostname())
        assert held.stale is None
    assert lock.holder(out) is None  # a clean release leaves nothing that looks like a crash


def test_two_locks_exclude_each_other_even_in_one_process(out):
    """flock belongs to the open file, not the process: two publishers in threads also wait."""
    with lock.OutputLock(out, "first"):
        t0 = time.monotonic()
        with pytest.raises(lock.LockTimeout, match=r"run 'first' \(pid \d+ on .*, alive"):
            with lock.OutputLock(out, "second", timeout=0.2):
                pass
        assert time.monotonic() - t0 >= 0.2
    with lock.OutputLock(out, "second", timeout=0):
        pass


def test_other_process_holds_then_dies_lock_is_free_and_crash_reported(out, caplog):
    holder = spawn("hold", out, "holder-run", 60)
    try:
        wait_line(holder, "locked")
        with pytest.raises(lock.LockTimeout, match=rf"run 'holder-run' \(pid {holder.pid} on .*, alive"):
            with lock.OutputLock(out, "me", timeout=0.3):
                pass
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert holder.returncode == -signal.SIGKILL
    t0 = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="newsmill.store.lock"):
        with lock.OutputLock(out, "me", timeout=5) as held:
            waited = time.monotonic() - t0
    assert waited < 1.0  # the kernel released the dead holder's lock: nothing to break by hand
    assert held.stale["run_id"] == "holder-run" and held.stale["pid"] == holder.pid
    assert "died while holding" in caplog.text and "process gone" in caplog.text


def _write_inputs(folder: Path, tag: str, title: str) -> list[Path]:
    """Batch of one process: its own new article and comment, plus an edit of a shared article."""
    folder.mkdir(parents=True, exist_ok=True)
    a = articles(("dawn", 2023, "a0"), ("dawn", 2025, f"from-{tag}"), title=title)
    c = schema.to_arrow("comments", [row("comments", 1, comment_id=f"c-{tag}", article_id=f"from-{tag}",
                                         source="dawn", year=2025, position=1)])
    paths = [folder / "articles.parquet", folder / "comments.parquet"]
    pq.write_table(a, paths[0])
    pq.write_table(c, paths[1])
    return paths


def test_concurrent_publishes_are_serialised_not_interleaved(out, tmp_path):
    """A holds the lock until the test lets it go, and the test lets it go only once B has said that it
    waits: every step is an event, so a slow or loaded machine changes the timings and not the outcome."""
    publish.publish_run({"articles": sample_articles(), "comments": sample_comments()}, out, run_id="base")
    trace = {t: tmp_path / f"trace-{t}" for t in "AB"}
    release = tmp_path / "release-A"
    os.mkfifo(release)
    first = spawn("publish", out, "A", *_write_inputs(tmp_path / "A", "A", "Title by A"),
                  env={"NEWSMILL_FAILPOINT_WAIT": f"locked:{release}", "NEWSMILL_FAILPOINT_TRACE": str(trace["A"])})
    wait_line(first, "ready")
    wait_line(first, "failpoint locked")  # A holds the lock and waits for the test
    assert lock.holder(out)["run_id"] == "A"
    second = spawn("publish", out, "B", *_write_inputs(tmp_path / "B", "B", "Title by B"),
                   env={"NEWSMILL_FAILPOINT_TRACE": str(trace["B"])})
    wait_line(second, "ready")
    told = ""
    while "waiting for" not in told:  # B asks for the lock and says whom it waits for
        told = second.stderr.readline()
        assert told, f"B ended without waiting: {second.communicate()}"
    assert "run 'A'" in told, told
    b_waiting = time.monotonic()
    release.write_text("go")  # opens the pipe: A goes on
    outs = {t: p.communicate(timeout=120) for t, p in (("A", first), ("B", second))}
    assert first.returncode == 0 and second.returncode == 0, outs

    steps = {t: [(line.split()[0], float(line.split()[1])) for line in trace[t].read_text().splitlines()]
             for t in "AB"}
    a_done = dict(steps["A"])["done:1"]
    assert b_waiting < a_done, "B did not overlap with A: the test proved nothing"
    assert all(at > a_done for _, at in steps["B"])  # every step of B after A finished: no interleaving
    got = {n: by_key(t.to_pylist(), n) for n, t in reading.read_tables(out).items()}
    ids = [r["article_id"] for r in got["articles"]]
    assert {"from-A", "from-B"} <= set(ids) and len(ids) == len(set(ids)) == 6  # nothing lost, no duplicate
    assert {r["comment_id"] for r in got["comments"]} >= {"c-A", "c-B"}
    assert next(r["title"] for r in got["articles"] if r["article_id"] == "a0") == "Title by B"  # B came second
    m = manifest.read(reading.current_version(out))
    assert (m["version"], m["run_id"], m["previous"]) == (3, "B", "v000002-A")
    assert [r["run_id"] for r in m["runs"]] == ["base", "A", "B"]
