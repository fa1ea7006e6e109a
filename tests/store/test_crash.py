"""Crash safety: SIGKILL the publisher at every step, then read with every reader, then re-run.

A case copies a prepared output folder, lets a child process (``publish_child.py``)
publish a prepared batch and kills it at the n-th hit of a failpoint
(``newsmill.runtime.failpoints``), or after a delay. Afterwards the four readers must all
see exactly the state before the batch or exactly the state after it, the same
for both tables; the files they can reach must be exactly those of a committed
version (or, for an unmigrated folder, the old ones), with intact checksums.
Then an ordinary run of the same batch must reach the "after" state, with
nothing lost, no duplicate and no leftover.

The kill points are not a hand-kept list: a traced run enumerates every point the
protocol passes, so a step added later is tested without touching this file.
Five starting points: an output with two versions (the run also garbage-collects
one), one in the old unversioned layout (the run migrates it first; its steps up
to the regular build are tested), an empty one (first publish), one whose years hold
several part files at a small target (the run rewrites, splits and merges some:
``compacted``), and one in the ``source=/year=`` layout (the run migrates it in its
own version). ``newsmill forget`` is killed at every step too. One case at a
time (children are CPU-bound at start-up: two at once on a small CI machine is
slower); ~45 s of CPU in all, about as much wall time on an idle machine.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from newsmill import schema
from newsmill.runtime import failpoints
from newsmill.store import lock, manifest, publish, reading, versions
from tests.conftest import REPO
from tests.store.conftest import (CHILD_SCRIPT, articles, batch, by_key, current_parquet, make_legacy,
                                  make_source_folders, parquet_names, read_all_ways, row, sample_articles,
                                  sample_comments)

CHILD = [sys.executable, str(CHILD_SCRIPT)]
MIN_POINTS = 50  # measured: 15 versioned + 15 legacy + 10 fresh + 1 nested, + compacting and source folders
SMALL_TARGET = 2500  # bytes of content: with the "compacting" template, the batch splits a file and merges two


@dataclass
class Scenario:
    name: str
    template: Path  # the output folder before the batch
    before: dict
    after: dict
    files_before: dict  # table -> relative paths reachable before (old layout: its own files)
    points: list[str]
    target: int | None = None  # the part-file target of the run (None: the default)

    @property
    def env(self) -> dict:
        return {"NEWSMILL_TEST_TARGET_FILE_BYTES": str(self.target)} if self.target else {}



def state(out: Path) -> dict:
    """Per table: "absent", or its rows, which every reader must agree on."""
    got = {}
    for name in schema.TABLES:
        if not (out / name).exists():
            got[name] = "absent"
            continue
        views = read_all_ways(out / name, name)
        assert all(v == views["pyarrow"] for v in views.values()), f"readers disagree on {name}"
        got[name] = views["pyarrow"]
    return got


def reachable(out: Path) -> dict:
    return {n: sorted(p.relative_to(out / n).as_posix() for p in (out / n).rglob("*") if p.is_file())
            for n in schema.TABLES if (out / n).exists()}


def enumerate_points(out: Path, tables: dict, trace: Path, target: int | None = None) -> list[str]:
    os.environ["NEWSMILL_FAILPOINT_TRACE"] = str(trace)
    failpoints.reset()
    try:
        publish.publish_run(tables, out, run_id="crashy", **({"target_file_bytes": target} if target else {}))
    finally:
        del os.environ["NEWSMILL_FAILPOINT_TRACE"]
        failpoints.reset()
    return [line.split()[0] for line in trace.read_text().splitlines()]


def select(hits: list[str]) -> list[str]:
    """Every distinct step at its first and last hit (repeats of a step differ only in how much
    of a build exists; a step repeated across the swap, like ``swapped`` in a migrating run,
    has its hits on both sides among the first and last)."""
    by_name: dict[str, list[str]] = {}
    for h in hits:
        by_name.setdefault(h.split(":")[0], []).append(h)
    chosen = {h for hs in by_name.values() for h in (hs[0], hs[-1])}
    return [h for h in hits if h in chosen]


@pytest.fixture(scope="module")
def fast_root(tmp_path_factory):
    """tmpfs when there is one: fsync is a no-op there, and a SIGKILL (unlike a power cut)
    does not lose what was written without it; on disk the ~100 runs spend most time in fsync."""
    shm = Path("/dev/shm")
    if not (shm.is_dir() and os.access(shm, os.W_OK)):
        yield tmp_path_factory.mktemp("crash")
        return
    d = Path(tempfile.mkdtemp(prefix="newsmill-crash-", dir=shm))
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def work(fast_root, request) -> Path:
    d = fast_root / request.node.name
    d.mkdir()
    return d


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> list[Path]:
    d = tmp_path_factory.mktemp("batch")
    paths = []
    for name, table in batch().items():
        pq.write_table(table, d / f"{name}.parquet")
        paths.append(d / f"{name}.parquet")
    return paths


def _scenario(name: str, root: Path, prepare, *, until: str | None = None, skip: tuple = (),
              target: int | None = None) -> Scenario:
    """``until``, ``skip``: leave out steps that would only repeat another scenario's."""
    template = root / name / "output"
    template.mkdir(parents=True)
    prepare(template, root / name)
    work = root / name / "trace-run" / "output"
    shutil.copytree(template, work, symlinks=True)
    hits = enumerate_points(work, batch(), root / name / "trace", target)
    points = select([h for h in (hits[: hits.index(until)] if until else hits) if h.split(":")[0] not in skip])
    return Scenario(name, template, state(template), state(work), reachable(template), points, target)


@pytest.fixture(scope="module")
def scenarios(fast_root) -> dict[str, Scenario]:
    root = fast_root / "scenarios"

    def two_versions(out, _):
        publish.publish_run({"articles": sample_articles(), "comments": sample_comments()}, out, run_id="v1")
        publish.publish_table("articles", articles(("dawn", 2019, "old")), out, run_id="v2")

    def small_files(out, _):
        """Comments of 2023 in one big file (the batch's edit makes it split), those of year 0 in small
        files (the batch moves rows out of the first one, which is then merged with its neighbour)."""
        on_a0 = [row("comments", 40 + i, comment_id=f"cy{i:02d}", article_id="a0", source="dawn", year=2023,
                     position=10 + i) for i in range(12)]
        publish.publish_run({"articles": sample_articles(),
                             "comments": pa.concat_tables([sample_comments(), schema.to_arrow("comments", on_a0)])},
                            out, run_id="v1")
        undated = [row("articles", 20 + i, source="tribune.pk", year=0, article_id=f"a9{i}") for i in range(3)]
        on_undated = [row("comments", 30 + i, comment_id=f"cx{i:02d}", article_id=f"a9{i % 3}", source="tribune.pk",
                          year=0, position=i + 1) for i in range(12)]
        publish.publish_run({"articles": pa.concat_tables([articles(("dawn", 2019, "old")),
                                                           schema.to_arrow("articles", undated)]),
                             "comments": schema.to_arrow("comments", on_undated)}, out, run_id="v2",
                            target_file_bytes=SMALL_TARGET * 2 // 5)
        assert len(list((out / "comments" / "year=0").glob("*.parquet"))) > 2

    scenarios = (_scenario("versioned", root, two_versions),
                 # adopting it is a commit of its own (which also moves it out of source= folders); the
                 # regular one after it is "versioned"
                 _scenario("legacy", root, make_legacy, until="manifest_written:2"),
                 # the first publish: dangling links, then the first swap (its build is "versioned")
                 _scenario("fresh", root, lambda out, _: None, skip=("part_written", "part_linked", "table_built")),
                 # years of several files: the run rewrites some, splits or merges them, links the others
                 _scenario("compacting", root, small_files, target=SMALL_TARGET,
                           skip=("locked", "discard", "settled", "done")),
                 # the source=/year= layout: the run's own version migrates it
                 _scenario("source-folders", root, lambda out, _: make_source_folders(out),
                           skip=("locked", "discard", "settled", "done")))
    assert "compacted:1" in scenarios[3].points and "compacted:1" in scenarios[4].points, scenarios[3].points
    return {s.name: s for s in scenarios}


def run_case(s: Scenario, case: Path, inputs: list[Path], *, point: str | None = None,
             delay: float | None = None, then: str | None = None) -> list[int]:
    """Copy the template, run the child until it is killed; returns the exit codes."""
    out = case / "output"
    shutil.copytree(s.template, out, symlinks=True)
    codes = []
    for fp in filter(None, (point, then)):
        p = subprocess.Popen([*CHILD, "publish", str(out), "crashy", *map(str, inputs)], cwd=REPO,
                             env={**os.environ, **s.env, "NEWSMILL_FAILPOINT": fp}, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        p.communicate(timeout=60)
        codes.append(p.returncode)
    if delay is not None:
        p = subprocess.Popen([*CHILD, "publish", str(out), "crashy", *map(str, inputs)], cwd=REPO,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert p.stdout.readline().strip() == "ready"
        time.sleep(delay)
        p.send_signal(signal.SIGKILL)
        p.communicate(timeout=60)
        codes.append(p.returncode)
    return codes


def check_after_kill(s: Scenario, out: Path, label: str) -> str:
    got = state(out)
    assert got in (s.before, s.after), f"{label}: readers see neither the state before nor after"
    cur = reading.current_version(out)
    tables = manifest.read(cur)["tables"] if cur else {}
    committed = {n: sorted(f["path"] for f in t["files"]) for n, t in tables.items()}
    for name, files in reachable(out).items():
        assert files in (s.files_before.get(name), committed.get(name)), f"{label}: stray or missing files in {name}"
    if cur:
        assert manifest.verify(cur) == [], label
    # what a killed run left (a half-built version, staged side files) is never named *.parquet; a
    # pre-version output's table folder, moved aside once when migrated, is the exception until the next run
    if s.name != "legacy":
        assert not {f for f in parquet_names(out) if f.split("/")[0] not in (versions.VERSIONS, *schema.TABLES)}, label
    return "before" if got == s.before else "after"


def check_recovery(s: Scenario, out: Path, inputs: list[Path], label: str, seen: str) -> None:
    tables = {n: pq.read_table(p) for n, p in zip(schema.TABLES, inputs)}
    c = publish.publish_run(tables, out, run_id="recover", **({"target_file_bytes": s.target} if s.target else {}))
    got = {n: by_key(t.to_pylist(), n) for n, t in reading.read_tables(out).items()}
    assert got == s.after, f"{label}: the next run did not complete the batch"
    changed = sum(st.inserted + st.updated for st in c.stats)
    assert (changed == 0) == (seen == "after"), f"{label}: {changed} rows changed by the re-run after {seen!r}"
    assert list((out / versions.BUILDING).iterdir()) == [], f"{label}: leftovers not discarded"
    assert sorted(p.name for p in (out / versions.VERSIONS).iterdir()) == \
        sorted(versions.Store(out).chain(publish.DEFAULT_KEEP_VERSIONS)), label
    assert manifest.verify(reading.current_version(out)) == []
    assert versions.Store(out).legacy_tables() == [] and lock.holder(out) is None
    assert parquet_names(out) == current_parquet(out), f"{label}: output/**/*.parquet matches more than the current"


def test_kill_at_every_step(scenarios, inputs, work):
    cases = [(s.name, s, p, None) for s in scenarios.values() for p in s.points]
    # a run killed while cleaning up after a killed run
    cases.append(("nested", scenarios["versioned"], "part_written:2", "discard:1"))
    assert len(cases) >= MIN_POINTS and "swapped:1" in scenarios["versioned"].points, \
        {k: s.points for k, s in scenarios.items()}
    t0 = time.monotonic()
    outcomes: dict[str, list[str]] = {}
    for i, (key, s, point, then) in enumerate(cases):
        label = f"{s.name} killed at {point}" + (f", then at {then}" if then else "")
        rc = run_case(s, work / str(i), inputs, point=point, then=then)
        assert rc == [-signal.SIGKILL] * len(rc), f"{label}: not killed there ({rc}): the point was not reached"
        out = work / str(i) / "output"
        assert (lock.holder(out) or {}).get("run_id") == "crashy"  # the dead holder is on record
        seen = check_after_kill(s, out, label)
        check_recovery(s, out, inputs, label, seen)
        outcomes.setdefault(key, []).append(f"{point}={seen}")
    print(f"\n{len(cases)} kill points in {time.monotonic() - t0:.1f} s: {outcomes}")
    for name in ("versioned", "fresh", "compacting", "source-folders"):  # the swap is the dividing line
        xs = outcomes[name]
        cut = next(i for i, x in enumerate(xs) if x.startswith("swapped:"))
        assert all(x.endswith("=before") for x in xs[:cut]) and all(x.endswith("=after") for x in xs[cut:]), xs
    assert all(x.endswith("=before") for x in outcomes["legacy"] + outcomes["nested"])  # migrating changes no row


def test_kill_after_stepped_delays(scenarios, inputs, work):
    """No failpoint: kills at 6 moments from the start of publishing to twice its duration."""
    s = scenarios["versioned"]
    calibrate = work / "calibrate" / "output"
    shutil.copytree(s.template, calibrate, symlinks=True)
    child = subprocess.Popen([*CHILD, "publish", str(calibrate), "crashy", *map(str, inputs)],
                             cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == "ready"
    t0 = time.monotonic()
    assert child.stdout.readline().startswith("committed")
    seconds = time.monotonic() - t0  # measured in a fresh process: slower than a warmed-up one
    child.communicate(timeout=60)
    delays = [i * seconds * 2 / 5 for i in range(6)]

    seen = []
    for i, delay in enumerate(delays):
        rc = run_case(s, work / str(i), inputs, delay=delay)
        label = f"killed after {delay * 1000:.0f} ms (exit {rc})"
        out = work / str(i) / "output"
        seen.append(check_after_kill(s, out, label))
        check_recovery(s, out, inputs, label, seen[-1])
    print(f"\nstepped kills ({seconds * 1000:.0f} ms publish): {list(zip([round(d * 1000) for d in delays], seen))}")


FORGOTTEN = ("a1",)  # an article of the samples with comments: files of every version are rewritten


def forget_child(out: Path, env: dict) -> int:
    p = subprocess.run([*CHILD, "forget", str(out), "forget-crashy", *FORGOTTEN], cwd=REPO,
                       env={**os.environ, **env}, capture_output=True, text=True, timeout=120)
    return p.returncode


def test_forget_killed_at_every_step(scenarios, work):
    """``newsmill forget`` on an output whose years hold several files (``forget_*`` points and the
    commit's): killed anywhere, readers see the output before or after it, every kept version
    whole; running it again finishes the job."""
    s = scenarios["compacting"]
    before = state(s.template)
    traced = work / "traced" / "output"
    shutil.copytree(s.template, traced, symlinks=True)
    trace = work / "trace"
    assert forget_child(traced, {"NEWSMILL_FAILPOINT_TRACE": str(trace)}) == 0
    after = state(traced)
    assert after != before
    points = select([line.split()[0] for line in trace.read_text().splitlines()])
    assert {"forget_locked:1", "forget_built:1", "swapped:1", "forget_done:1"} <= set(points), points
    seen = []
    for i, point in enumerate(points):
        label = f"forget killed at {point}"
        out = work / str(i) / "output"
        shutil.copytree(s.template, out, symlinks=True)
        assert forget_child(out, {"NEWSMILL_FAILPOINT": point}) == -signal.SIGKILL, label
        got = state(out)
        assert got in (before, after), f"{label}: readers see neither the state before nor after"
        cur = reading.current_version(out)
        committed = {n: sorted(f["path"] for f in t["files"]) for n, t in manifest.read(cur)["tables"].items()}
        assert reachable(out) == committed, f"{label}: stray or missing files"
        for v in versions.Store(out).versions.iterdir():
            assert manifest.verify(v) == [], (label, v.name)
        seen.append(f"{point}={'after' if got == after else 'before'}")
        assert forget_child(out, {}) == 0, label
        assert state(out) == after, label
        for v in versions.Store(out).versions.iterdir():
            assert manifest.verify(v) == [], (label, v.name)
            kept = reading.read_tables(out, version=v.name)
            assert not set(FORGOTTEN) & set(kept["articles"]["article_id"].to_pylist()), (label, v.name)
            assert not set(FORGOTTEN) & set(kept["comments"]["article_id"].to_pylist()), (label, v.name)
        assert parquet_names(out) == current_parquet(out), label
        shutil.rmtree(work / str(i))
    print(f"\n{len(points)} forget kill points: {seen}")
