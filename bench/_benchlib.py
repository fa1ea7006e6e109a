"""Shared helpers of the performance benchmarks (bench/throughput.py, validation.py, first_result.py).

Nothing here changes newsmill: stage times are taken from outside, by wrapping the module
attributes the pipeline looks up at call time (``pipeline.plan``, ``validate.validate_tables``, ...)
in timing shims. A name that a refactor removed is skipped, never an error.
"""
from __future__ import annotations

import functools
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CACHE = Path(os.environ.get("NEWSMILL_CACHE", "~/.cache/newsmill")).expanduser()
PY = sys.executable


def prepare_src(rev: str = "HEAD") -> Path:
    """The code under test: ``worktree`` (this checkout as it is), or a git revision exported once
    to ``<cache>/bench-src/<sha>`` (default HEAD: a committed state, stable while the tree is edited)."""
    if rev == "worktree":
        return REPO
    sha = subprocess.run(["git", "-C", str(REPO), "rev-parse", rev], capture_output=True, text=True,
                         check=True).stdout.strip()
    dest = CACHE / "bench-src" / sha[:10]
    if not (dest / "newsmill" / "__init__.py").exists():
        tmp = dest.with_name(dest.name + ".part")
        subprocess.run(["rm", "-rf", str(tmp)], check=True)
        tmp.mkdir(parents=True)
        archive = subprocess.run(["git", "-C", str(REPO), "archive", sha], capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(tmp)], input=archive, check=True)
        os.replace(tmp, dest)
    return dest


def use_src(src: Path) -> None:
    """Import newsmill from ``src`` in this process."""
    os.environ["NEWSMILL_BENCH_SRC"] = str(src)
    if str(src) not in sys.path:
        sys.path.insert(0, str(src))


def src_label(src: Path) -> str:
    return "worktree " + machine_git() if src == REPO else f"git {src.name} (exported to {src})"


def machine_git() -> str:
    try:
        return subprocess.run(["git", "-C", str(REPO), "describe", "--always", "--dirty"],
                              capture_output=True, text=True, timeout=10, check=False).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "?"


def corpus_path(n: int) -> Path:
    return CACHE / f"corpus-{n}.warc.gz"


def bench_env(prefect_home: Path | None = None, src: Path | None = None) -> dict:
    """Environment of a measured subprocess: code under test importable, telemetry off, fixed author key."""
    env = dict(os.environ)
    src = src or Path(os.environ.get("NEWSMILL_BENCH_SRC") or REPO)
    env["NEWSMILL_BENCH_SRC"] = str(src)
    env["PYTHONPATH"] = str(src) + os.pathsep + env.get("PYTHONPATH", "")
    env.setdefault("DO_NOT_TRACK", "1")
    env.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    env.setdefault("GX_ANALYTICS_ENABLED", "false")
    env.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    env.setdefault("NEWSMILL_AUTHOR_KEY", "bench-key-not-secret")
    env["PREFECT_HOME"] = str(prefect_home or CACHE / "bench-prefect-home")
    env["NEWSMILL_DAEMON_DIR"] = env["PREFECT_HOME"]  # the warm worker beside it, not the user's own
    env.pop("PREFECT_API_URL", None)  # the temporary server unless a caller sets one on purpose
    env.setdefault("NEWSMILL_PREFECT_SERVER", "temporary")  # not newsmill's persistent local server either
    return env


def machine() -> dict:
    info = {"date_utc": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), "cpus": os.cpu_count(),
            "platform": platform.platform(), "python": platform.python_version(),
            "loadavg_start": [round(x, 2) for x in os.getloadavg()]}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
        info["mem_total_gb"] = round(int(Path("/proc/meminfo").read_text().split()[1]) / 1e6, 1)
    except OSError:
        pass
    info["git"] = machine_git()
    src = Path(os.environ.get("NEWSMILL_BENCH_SRC") or REPO)
    info["code_under_test"] = src_label(src)
    return info


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def self_peak_rss_mb() -> float:
    """Peak resident set size of this process so far (Linux ru_maxrss is in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class TreeSampler:
    """Samples the RSS of a process and all its descendants (e.g. the Prefect server) every ``interval`` s;
    remembers every descendant seen (so that one left running after the process exits can be found)."""

    def __init__(self, pid: int, interval: float = 0.1):
        import psutil

        self._psutil = psutil
        self.proc = psutil.Process(pid)
        self.interval = interval
        self.peak_tree = 0
        self.peak_main = 0
        self.seen: dict[int, float] = {}  # pid -> create_time (to never touch a recycled pid)
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        ps = self._psutil
        while not self._stop.is_set():
            try:
                main = self.proc.memory_info().rss
                total = main
                for c in self.proc.children(recursive=True):
                    try:
                        self.seen.setdefault(c.pid, c.create_time())
                        total += c.memory_info().rss
                    except ps.Error:
                        pass
                self.peak_main = max(self.peak_main, main)
                self.peak_tree = max(self.peak_tree, total)
            except ps.Error:
                break
            self._stop.wait(self.interval)

    def __enter__(self):
        self._t.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._t.join(2)

    def leftovers(self) -> list:
        """Descendants seen during the run that are still alive after it (orphans, e.g. a leaked server)."""
        out = []
        for pid, created in self.seen.items():
            try:
                p = self._psutil.Process(pid)
                if p.create_time() == created and p.status() != self._psutil.STATUS_ZOMBIE:
                    out.append(p)
            except self._psutil.Error:
                pass
        return out


def run_measured(cmd: list[str], *, env: dict, cwd: Path | None = None, timeout: float | None = None) -> dict:
    """Run a subprocess; wall time (until the process itself exits), exit code, sampled peak RSS of its tree,
    last JSON line of stdout. Output goes to files, not pipes: a descendant left running (the Prefect
    temporary server once outlived its flow process here) cannot hold the measurement open. Such
    leftovers are reported and then stopped (SIGTERM, then SIGKILL) by pid: they are this run's own."""
    import tempfile

    with tempfile.TemporaryFile("w+") as fo, tempfile.TemporaryFile("w+") as fe:
        t0 = time.perf_counter()
        p = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=fo, stderr=fe, text=True)
        with TreeSampler(p.pid) as s:
            try:
                p.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        wall = time.perf_counter() - t0
        left = s.leftovers()
        leftover = [" ".join(x.cmdline()[:4])[:120] for x in left if x.is_running()]
        for x in left:
            try:
                x.terminate()
            except s._psutil.Error:
                pass
        _, alive = s._psutil.wait_procs(left, timeout=10)
        for x in alive:
            try:
                x.kill()
            except s._psutil.Error:
                pass
        fo.seek(0)
        fe.seek(0)
        out, err = fo.read(), fe.read()
    payload = None
    for line in reversed(out.splitlines()):
        if line.startswith("{"):
            try:
                payload = json.loads(line)
                break
            except ValueError:
                pass
    return {"wall_s": wall, "rc": p.returncode, "peak_tree_mb": s.peak_tree / 2**20, "peak_main_sampled_mb": s.peak_main / 2**20,
            "leftover_processes": leftover, "result": payload, "stderr_tail": err[-2000:] if p.returncode else ""}


class StageTimer:
    """Timing shims around module attributes: ``calls``, summed seconds and first start per stage."""

    def __init__(self, t0: float):
        self.t0 = t0  # perf_counter at the start of the measured process (or run)
        self.sum: dict[str, float] = {}
        self.calls: dict[str, int] = {}
        self.first_start: dict[str, float] = {}
        self.last_end: dict[str, float] = {}
        self.first_end: dict[str, float] = {}
        self._lock = threading.Lock()
        self.patched: list[str] = []

    def wrap(self, module, attr: str, stage: str | None = None) -> bool:
        fn = getattr(module, attr, None)
        if fn is None or getattr(fn, "_bench_wrapped", False):
            return False
        stage = stage or attr

        @functools.wraps(fn)
        def shim(*a, **kw):
            s = time.perf_counter()
            try:
                return fn(*a, **kw)
            finally:
                e = time.perf_counter()
                with self._lock:
                    self.sum[stage] = self.sum.get(stage, 0.0) + (e - s)
                    self.calls[stage] = self.calls.get(stage, 0) + 1
                    self.first_start.setdefault(stage, s - self.t0)
                    self.last_end[stage] = e - self.t0
                    self.first_end.setdefault(stage, e - self.t0)

        shim._bench_wrapped = True
        setattr(module, attr, shim)
        self.patched.append(f"{module.__name__}.{attr}")
        return True

    def instrument_newsmill(self) -> None:
        """The pipeline's stages, as far as the current code has them."""
        from newsmill import pipeline, schema
        from newsmill.store import publish
        from newsmill.validate import gx_run, report

        for attr in ("start_run", "plan", "process_batch", "merge", "finalize"):
            self.wrap(pipeline, attr)
        # inside process_batch: names imported into pipeline's namespace
        self.wrap(pipeline, "read_input", "process_batch/read")
        self.wrap(pipeline, "extract_page", "process_batch/extract")
        self.wrap(pipeline, "clean_page", "process_batch/clean")
        # inside finalize: looked up on their modules at call time
        self.wrap(schema, "to_arrow", "finalize/to_arrow")
        self.wrap(gx_run, "validate_tables", "finalize/validate")
        self.wrap(gx_run, "build_data_docs", "finalize/report/data_docs")
        self.wrap(publish, "write_quarantine", "finalize/write_quarantine")
        self.wrap(publish, "write_rejects", "finalize/write_rejects")
        self.wrap(publish, "publish_run", "finalize/publish")
        self.wrap(report, "write_report", "finalize/report")

    def instrument_prefect_server(self) -> None:
        """Times Prefect's temporary server. Not with PREFECT_API_URL set: importing the server module
        costs ~2.8 s here, which a client of an already running server never pays."""
        if os.environ.get("PREFECT_API_URL"):
            return
        try:
            from prefect.server.api import server
        except ImportError:
            return
        self.wrap(server.SubprocessASGIServer, "start", "prefect/temporary_server_start")
        self.wrap(server.SubprocessASGIServer, "stop", "prefect/temporary_server_stop")

    def as_dict(self) -> dict:
        return {"sum_s": {k: round(v, 4) for k, v in self.sum.items()}, "calls": self.calls,
                "first_start_s": {k: round(v, 4) for k, v in self.first_start.items()},
                "last_end_s": {k: round(v, 4) for k, v in self.last_end.items()},
                "first_end_s": {k: round(v, 4) for k, v in self.first_end.items()}, "patched": self.patched}


def summary_of(output_dir: Path) -> dict | None:
    """The run summary the pipeline wrote (reports/LATEST -> summary.json)."""
    latest = output_dir / "reports" / "LATEST"
    if not latest.exists():
        return None
    path = output_dir / "reports" / latest.read_text().strip() / "summary.json"
    return json.loads(path.read_text()) if path.exists() else None


def processes_with(marker: bytes) -> list[int]:
    """Pids (not this one) whose environment contains ``marker``, e.g. ``b"PREFECT_HOME=/tmp/x\0"``:
    how the benches find what a run left running, without psutil."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                if marker in (entry / "environ").read_bytes():
                    pids.append(int(entry.name))
            except OSError:
                continue
    return sorted(pids)
