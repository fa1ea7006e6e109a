"""Time to first result: `newsmill run` on one page from a cold process, and where the time goes.

    python bench/first_result.py                    # default page, 3 rounds
    python bench/first_result.py --page samples/garden-blog-wordpress.txt --repeats 5
    python bench/first_result.py --skip-server      # without the persistent-server scenario

Measured, each in fresh processes (rounds alternate the scenarios):

1. interpreter start (``python -c pass``) and the import of each heavy package alone
   (``python -c "import X"``): newsmill.cli, newsmill.pipeline, newsmill.validate.gx_run (pandas, pyarrow),
   newsmill.extract.html (lxml), trafilatura, pandas, pyarrow, great_expectations, prefect, the flow;
2. ``python -X importtime`` of a real flow run: import time attributed to the top-level package
   that pulled it in first;
3. cold ``newsmill run PAGE --no-prefect`` and cold ``newsmill run PAGE`` (Prefect temporary server,
   ``PREFECT_HOME`` kept between runs, as a user's would be), with the breakdown from timing shims
   (bench/throughput.py's worker): imports, temporary server start, plan+extract, validation (GX
   import+context separately), publish, report/Data Docs, exit (server stop);
4. the same flow run against an already running ``prefect server start`` (``PREFECT_API_URL``):
   what a persistent local server started once would give (``--skip-server`` to leave out);
5. a warm process: the second run of the same command in one process (imports, GX context and
   temporary server already there) - what a warm worker would answer in;
6. ``--only worker``: the real command line, each run a fresh client process, side by side per round:
   the old path (``NEWSMILL_DAEMON=0 NEWSMILL_PREFECT_SERVER=temporary``: in-process, temporary
   server), the bypass (``--no-daemon``: in-process, persistent local server running), a later cold run
   through the warm worker (server and worker already running), and the first run ever (fresh
   ``PREFECT_HOME``: the run starts the server and the worker). Breakdown from
   ``NEWSMILL_DAEMON_TRACE`` events (client, worker, runner, exit work) and the run's own summary.

Default page: Dragnet page 102 of ``../shared/data`` (HTML with reader comments, so trafilatura
and both tables are on the path), else ``samples/garden-blog-wordpress.txt``. A missing page is reported and the script exits 0.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _benchlib as bl

THROUGHPUT = Path(__file__).resolve().parent / "throughput.py"
SHARED = Path(os.environ.get("NEWSMILL_SHARED", bl.REPO.parent / "shared"))
IMPORTS = ["newsmill.cli", "newsmill.pipeline", "newsmill.validate.gx_run", "newsmill.extract.html", "lxml.html", "warcio",
           "trafilatura", "pandas", "pyarrow", "great_expectations", "prefect", "newsmill.flow"]


def default_page() -> Path:
    page = SHARED / "data" / "dragnet" / "HTML" / "102.html.gz"  # an HTML news page with 10 reader comments
    return page if page.exists() else bl.REPO / "samples" / "garden-blog-wordpress.txt"


def py_time(code: str, env: dict, cwd: Path) -> float:
    t = time.perf_counter()
    subprocess.run([bl.PY, "-c", code], env=env, cwd=cwd, check=True, capture_output=True)
    return time.perf_counter() - t


def import_times(env: dict, cwd: Path, repeats: int) -> dict:
    out = {"python -c pass": bl.median([py_time("pass", env, cwd) for _ in range(repeats)])}
    for mod in IMPORTS:
        code = f"import {mod}"
        try:
            out[mod] = bl.median([py_time(code, env, cwd) for _ in range(repeats)])
        except subprocess.CalledProcessError:
            out[mod] = None
    return out


def importtime_run(page: Path, env: dict, work: Path) -> dict:
    """-X importtime of one flow run: cumulative seconds of top-level imports, grouped by root package."""
    out = work / "importtime-out"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    p = subprocess.run([bl.PY, "-X", "importtime", str(THROUGHPUT), "--worker", "flow", "--corpus", str(page),
                        "--out", str(out)], env=env, cwd=out, capture_output=True, text=True, check=False)
    shutil.rmtree(out, ignore_errors=True)
    groups: dict[str, float] = {}
    for line in p.stderr.splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \| ( *)(\S+)", line)
        if not m or m.group(3):  # top level only (nested imports are indented by 2 spaces per level)
            continue
        root = m.group(4).split(".")[0]
        groups[root] = groups.get(root, 0.0) + int(m.group(2)) / 1e6
    return dict(sorted(groups.items(), key=lambda kv: -kv[1])[:15])


def worker_cmd(system: str, page: Path, out: Path) -> list[str]:
    return [bl.PY, str(THROUGHPUT), "--worker", system, "--corpus", str(page), "--out", str(out)]


def cold_run(system: str, page: Path, env: dict, work: Path, tag: str) -> dict:
    out = work / f"{tag}-{system}"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    res = bl.run_measured(worker_cmd(system, page, out), env=env, cwd=out, timeout=600)
    shutil.rmtree(out, ignore_errors=True)
    if res["rc"] != 0 or not res["result"]:
        print(f"  {tag} {system}: failed rc {res['rc']}\n{res['stderr_tail']}", flush=True)
        return res
    w = res["result"]
    print(f"  {tag:>10} {system:4}: {res['wall_s']:5.1f} s  (rc {w['rc']}, pages {w['pages']}, comments {w['comments']})",
          flush=True)
    return res


def breakdown(res: dict) -> dict:
    """Consecutive segments of one cold run, seconds."""
    w = res["result"]
    st = w["stages"]
    first, last, total = st["first_start_s"], st["last_end_s"], st["sum_s"]
    seg = {"interpreter start": w["entry_s"], "import newsmill (+pandas, pyarrow)": w["import_s"].get("newsmill", 0.0)}
    if "prefect+flow" in w["import_s"]:
        seg["import prefect + flow"] = w["import_s"]["prefect+flow"]
    gap = w["cli_start_s"] - w["entry_s"] - sum(w["import_s"].values())
    if gap > 0.05:  # the timing shim imports prefect.server.api.server; the client imports it anyway to start it
        seg["import prefect.server (temporary-server code, in the client)"] = gap
    srv = total.get("prefect/temporary_server_start")
    run_at = first.get("start_run", w["cli_start_s"])
    if srv is not None:
        seg["CLI + flow set-up before the server"] = first["prefect/temporary_server_start"] - w["cli_start_s"]
        seg["Prefect temporary server start"] = srv
        seg["flow run creation (server ready -> flow body)"] = run_at - st["first_end_s"]["prefect/temporary_server_start"]
    else:
        seg["CLI set-up / flow run creation"] = run_at - w["cli_start_s"]
    fin = first.get("finalize", run_at)
    seg["start_run + plan + read/extract/clean"] = fin - run_at
    gx = total.get("finalize/validate/gx_import+context", 0.0)
    seg["validation: GX import + context"] = gx
    seg["validation: validate_tables (rest)"] = total.get("finalize/validate", 0.0) - gx
    seg["publish (quarantine, rejects, version commit)"] = sum(total.get(k, 0.0) for k in (
        "finalize/write_quarantine", "finalize/write_rejects", "finalize/publish"))
    seg["report: Data Docs"] = total.get("finalize/report/data_docs", 0.0)
    seg["report: summary files"] = total.get("finalize/report", 0.0) - total.get("finalize/report/data_docs", 0.0)
    seg["finalize: other (merge, to_arrow, ...)"] = total.get("finalize", 0.0) - sum(
        seg[k] for k in list(seg)[-5:])
    seg["after the flow (state, summary) until main returns"] = w["worker_total_s"] - last.get("finalize", w["worker_total_s"])
    seg["process exit (atexit: server stop)"] = res["wall_s"] - w["worker_total_s"]
    return seg


def warm_worker(system: str, page: Path, work: Path) -> dict:
    """Two runs of the command in one process; the second is what a warm worker answers in."""
    bl.use_src(Path(os.environ.get("NEWSMILL_BENCH_SRC") or bl.REPO))
    from newsmill import cli

    timer = bl.StageTimer(time.perf_counter())
    timer.instrument_newsmill()
    if system == "flow":
        import newsmill.flow  # noqa: F401

        timer.instrument_prefect_server()
    timer.wrap(__import__("newsmill.validate.gx_run", fromlist=["_gx"]), "_gx", "finalize/validate/gx_import+context")
    runs = []
    for i in range(2):
        out = work / f"warm-{system}-{i}"
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir(parents=True)
        timer.sum.clear()
        argv = ["run", str(page), "--output", str(out)] + (["--no-prefect"] if system == "lib" else [])
        t = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            rc = cli.main(argv)
        runs.append({"seconds": time.perf_counter() - t, "rc": rc, "stages": dict(timer.sum)})
        shutil.rmtree(out, ignore_errors=True)
    return {"system": system, "runs": runs}


class PrefectServer:
    """`prefect server start` in its own session (own PREFECT_HOME); stopped by its process group id."""

    def __init__(self, env: dict, home: Path):
        self.env = dict(env)
        self.env["PREFECT_HOME"] = str(home)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}/api"
        self.proc = None

    def __enter__(self):
        import httpx

        log = open(Path(self.env["PREFECT_HOME"]) / "server.log", "w")
        t = time.perf_counter()
        self.proc = subprocess.Popen([str(Path(bl.PY).parent / "prefect"), "server", "start", "--host", "127.0.0.1",
                                      "--port", str(self.port)],
                                     env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        while time.perf_counter() - t < 120:
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if self.proc.poll() is not None:
                raise RuntimeError(f"prefect server exited {self.proc.returncode}; see {log.name}")
            time.sleep(0.2)
        self.start_s = time.perf_counter() - t
        return self

    def __exit__(self, *exc):
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)  # the group this script created for the server
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)


# --------------------------------------------------------------------------- the real command line (scenario "worker")

INPROC = ("import sys, time; from newsmill.cli import main; rc = main(sys.argv[1:]); "
          "print('MAIN_RETURNED', time.monotonic(), file=sys.stderr, flush=True); sys.exit(rc)")


def worker_env(home: Path, trace: Path, **extra) -> dict:
    env = bl.bench_env(prefect_home=home)
    env.pop("NEWSMILL_PREFECT_SERVER", None)
    env.pop("NEWSMILL_DAEMON", None)
    env.update(NEWSMILL_DAEMON_TRACE=str(trace), **extra)
    return env


def cli_run(kind: str, page: Path, env: dict, work: Path, tag: str) -> dict:
    """One fresh client process: `python -m newsmill.cli run PAGE -o OUT` (worker kinds), or an in-process
    run through the same `main` that reports when it returns (in-process kinds: exit work measured)."""
    out = work / f"{tag}-{kind}"
    shutil.rmtree(out, ignore_errors=True)
    trace = Path(env["NEWSMILL_DAEMON_TRACE"])
    trace.unlink(missing_ok=True)
    args = ["run", str(page), "--output", str(out), "--no-progress"]
    cmd = [bl.PY, "-c", INPROC, *args] if kind == "old" else [bl.PY, "-m", "newsmill.cli", *args]
    if kind == "bypass":
        cmd.append("--no-daemon")
    with open(work / "stdout.txt", "w+") as fo, open(work / "stderr.txt", "w+") as fe:
        t0 = time.monotonic()
        p = subprocess.run(cmd, env=env, cwd=work, stdout=fo, stderr=fe, timeout=600, check=False)
        t1 = time.monotonic()
        fe.seek(0)
        stderr = fe.read()
    ev = {}
    for line in (trace.read_text().splitlines() if trace.exists() else []):
        name, _pid, t = line.split()[:3]
        ev.setdefault(name, float(t) - t0)
    main_ret = next((float(ln.split()[1]) - t0 for ln in stderr.splitlines() if ln.startswith("MAIN_RETURNED")), None)
    summary = bl.summary_of(out) or {}
    shutil.rmtree(out, ignore_errors=True)
    res = {"kind": kind, "wall_s": t1 - t0, "rc": p.returncode, "events_s": ev, "main_returned_s": main_ret,
           "flow_body_s": summary.get("seconds"), "pages": summary.get("inputs"),
           "comments": summary.get("comments_published"), "stderr_tail": stderr[-1500:] if p.returncode else "",
           "warned": [ln for ln in stderr.splitlines() if "warning" in ln.lower()][:5]}
    print(f"  {tag:>8} {kind:7}: {res['wall_s']:5.2f} s  (rc {p.returncode}, pages {res['pages']}, "
          f"comments {res['comments']})" + (f"\n{stderr[-1500:]}" if p.returncode else ""), flush=True)
    return res


def worker_breakdown(r: dict) -> dict:
    """Consecutive segments (s) of a run through the warm worker, and its exit work off the critical path."""
    e, wall = r["events_s"], r["wall_s"]
    if not all(k in e for k in ("client", "supervisor", "runner", "runner_done", "client_exit")):
        return {}
    body = r.get("flow_body_s") or 0.0
    seg = {"client process start (interpreter, import newsmill.cli, argparse)": e["client"],
           "client -> worker: fingerprint, connect, request, fork, env/cwd, handshake": e["supervisor"] - e["client"],
           "runner fork + Prefect settings/logging from the client's environment": e["runner"] - e["supervisor"],
           "flow run bookkeeping (server check, flow run creation, state, summary printed)":
               e["runner_done"] - e["runner"] - body,
           "flow body (plan, extract, validate, publish, report)": body,
           "exit code back to the client": e["client_exit"] - e["runner_done"],
           "client exit": wall - e["client_exit"]}
    if "exit_work_done" in e:
        seg["(off the critical path) runner's exit work (Prefect drains logs/events) after the client returned"] = (
            e["exit_work_done"] - e["runner_done"])
    return seg


def inproc_breakdown(r: dict) -> dict:
    """old: `main` returns, then a normal interpreter exit; bypass: the command's own exit (without teardown)."""
    if r.get("main_returned_s") is None:
        r = {**r, "main_returned_s": r["events_s"].get("run_returned")}
        if r["main_returned_s"] is None:
            return {}
    body = r.get("flow_body_s") or 0.0
    return {"process start -> flow body (interpreter, imports, server, flow run creation) + after the flow":
            r["main_returned_s"] - body, "flow body": body,
            "process exit after main returns (Prefect exit work, interpreter teardown)": r["wall_s"] - r["main_returned_s"]}


def resident_mb(home: Path) -> dict:
    """RSS of the idle worker (itself: the server may be its child) and of the local server's tree, MB."""
    def rss(pid: int, tree: bool) -> float:
        import psutil

        try:
            p = psutil.Process(pid)
            procs = [p, *p.children(recursive=True)] if tree else [p]
            return round(sum(x.memory_info().rss for x in procs) / 2**20, 1)
        except psutil.Error:
            return 0.0

    out = {}
    for name, f in (("worker", "newsmill-daemon.lock"), ("server", "newsmill-server.json")):
        try:
            out[name] = rss(int(json.loads((home / f).read_text())["pid"]), name == "server")
        except (OSError, ValueError, KeyError):
            pass
    return out


def stop_worker(home: Path, env: dict) -> None:
    for what in ("daemon", "server"):
        subprocess.run([bl.PY, "-m", "newsmill.cli", what, "stop"], env=env, cwd=home.parent, capture_output=True,
                       timeout=120, check=False)


def worker_scenarios(page: Path, work: Path, repeats: int) -> dict:
    """Old path, bypass, later cold runs through the worker, first run ever; rotated per round."""
    home = work / "worker-prefect-home"
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    old_env = bl.bench_env()  # in-process, temporary server: every run before the worker
    old_env.update(NEWSMILL_DAEMON="0", NEWSMILL_DAEMON_TRACE=str(work / "trace-old"))
    env = worker_env(home, work / "trace")
    res: dict = {"old": [], "bypass": [], "worker": [], "first": [], "zygote": []}
    try:
        print("worker scenarios: warming up (server + worker for the later-cold runs)", flush=True)
        res["first_setup"] = cli_run("worker", page, env, work, "setup")  # also a first-ever run
        res["rss_mb"] = resident_mb(home)
        print(f"  resident memory (MB): {res['rss_mb']}", flush=True)
        for r in range(repeats):
            kinds = ["old", "bypass", "worker", "first"]
            kinds = kinds[r % 4:] + kinds[: r % 4]
            for kind in kinds:
                if kind == "first":
                    fresh = work / f"fresh-prefect-home-{r}"
                    shutil.rmtree(fresh, ignore_errors=True)
                    fenv = worker_env(fresh, work / "trace-first")
                    try:
                        res["first"].append(cli_run("first", page, fenv, work, f"round {r}"))
                        info = json.loads((fresh / "newsmill-daemon.lock").read_text() or "{}")
                        res["zygote"].append({k: info.get(k) for k in ("imports_s", "warm_up_s")})
                    finally:
                        stop_worker(fresh, fenv)
                        shutil.rmtree(fresh, ignore_errors=True)
                else:
                    res[kind].append(cli_run(kind, page, old_env if kind == "old" else env, work, f"round {r}"))
    finally:
        stop_worker(home, env)
    return res


def fmt_worker(res: dict) -> list[str]:
    names = {"old": "old path: in-process, temporary Prefect server (`NEWSMILL_DAEMON=0 NEWSMILL_PREFECT_SERVER=temporary`)",
             "bypass": "bypass: `--no-daemon`, in-process, persistent local server running",
             "worker": "**later cold run through the warm worker** (server and worker running)",
             "first": "first run ever: fresh `PREFECT_HOME` (starts the server and the worker)"}
    lines = ["\n| scenario | runs (s) | **median** |", "|---|---|---:|"]
    for k, title in names.items():
        walls = [r["wall_s"] for r in res[k] if r.get("rc") == 0]
        lines.append(f"| {title} | {' '.join(f'{w:.1f}' for w in walls)} | **{bl.median(walls):.2f}** |"
                     if walls else f"| {title} | failed | – |")
    for k, fn in (("worker", worker_breakdown), ("first", worker_breakdown), ("old", inproc_breakdown),
                  ("bypass", inproc_breakdown)):
        segs = [fn(r) for r in res[k] if r.get("rc") == 0]
        segs = [x for x in segs if x]
        if not segs:
            continue
        lines += [f"\nBreakdown, {k}: median of {len(segs)} runs", "| segment | median s |", "|---|---:|"]
        for seg in segs[0]:
            lines.append(f"| {seg} | {bl.median([x.get(seg) for x in segs]):.2f} |")
    if res.get("rss_mb"):
        lines.append(f"\nResident memory while idle (MB): {res['rss_mb']}")
    if res.get("zygote"):
        lines.append(f"\nWorker start (first runs): imports {[z['imports_s'] for z in res['zygote']]} s, "
                     f"warm-up {[z['warm_up_s'] for z in res['zygote']]} s")
    return lines


def fmt_breakdowns(title: str, runs: list[dict]) -> list[str]:
    segs = [breakdown(r) for r in runs if r.get("result")]
    if not segs:
        return [f"{title}: no successful run"]
    lines = [f"\n{title}: median of {len(segs)} runs (wall {bl.median([r['wall_s'] for r in runs if r.get('result')]):.1f} s)",
             "| segment | median s |", "|---|---:|"]
    for k in segs[0]:
        lines.append(f"| {k} | {bl.median([s.get(k, 0.0) for s in segs]):.2f} |")
    return lines


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split("\n", 2)[2])
    ap.add_argument("--page", type=Path, default=None, help="the one page (default: see below)")
    ap.add_argument("--repeats", type=int, default=3, help="rounds (default 3)")
    ap.add_argument("--skip-server", action="store_true", help="leave out the persistent-server scenario")
    ap.add_argument("--skip-imports", action="store_true", help="leave out the per-package import times")
    ap.add_argument("--importtime-only", action="store_true", help="only the -X importtime attribution of a flow run")
    ap.add_argument("--only", default="imports,cold,server,warm,worker",
                    help="scenarios to run, comma list of imports, cold, server, warm, worker (default all)")
    ap.add_argument("--rev", default="HEAD", help="code under test: a git revision (default HEAD) or 'worktree'")
    ap.add_argument("--json", type=Path, default=None, help="results file (default <cache>/bench-results/first-result-<time>.json)")
    ap.add_argument("--warm-worker", choices=("lib", "flow"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    work = bl.CACHE / "bench-out" / "first-result"
    if args.warm_worker:
        print(json.dumps(warm_worker(args.warm_worker, args.page, work), default=str))
        return 0

    page = (args.page or default_page()).resolve()
    if not page.exists():
        print(f"skip: no page at {page}")
        return 0
    bl.use_src(bl.prepare_src(args.rev))
    info = bl.machine()
    print(f"machine: {info}\npage: {page}", flush=True)
    work.mkdir(parents=True, exist_ok=True)
    env = bl.bench_env()
    res: dict = {"machine": info, "page": str(page)}

    if args.importtime_only:
        res = importtime_run(page, env, work)
        print("-X importtime of a flow run, by top-level package (cumulative s): " +
              ", ".join(f"{k} {v:.2f}" for k, v in res.items()))
        return 0
    only = set(args.only.split(","))
    if not args.skip_imports and "imports" in only:
        print("imports, each alone in a fresh interpreter (median):", flush=True)
        res["imports_alone_s"] = import_times(env, work, args.repeats)
        for k, v in res["imports_alone_s"].items():
            print(f"  {k:28} {v:6.2f} s" if v is not None else f"  {k:28} failed", flush=True)
        res["importtime_flow_run_s"] = importtime_run(page, env, work)
        print("-X importtime of a flow run, by top-level package (cumulative s): " +
              ", ".join(f"{k} {v:.2f}" for k, v in res["importtime_flow_run_s"].items()), flush=True)

    # warm the Prefect database once (a user's PREFECT_HOME exists after the first run); first run reported apart
    res["cold"] = {"lib": [], "flow": []}
    res["fresh_prefect_home"] = {}
    if "cold" in only:
        fresh_home = work / "fresh-prefect-home"
        shutil.rmtree(fresh_home, ignore_errors=True)
        print("cold runs:", flush=True)
        res["fresh_prefect_home"] = cold_run("flow", page, bl.bench_env(prefect_home=fresh_home), work, "fresh-db")
        shutil.rmtree(fresh_home, ignore_errors=True)
        for r in range(args.repeats):
            for system in (("lib", "flow") if r % 2 == 0 else ("flow", "lib")):
                res["cold"][system].append(cold_run(system, page, env, work, f"round {r}"))

    if not args.skip_server and "server" in only:
        home = work / "server-prefect-home"
        shutil.rmtree(home, ignore_errors=True)
        home.mkdir(parents=True)
        try:
            with PrefectServer(bl.bench_env(), home) as srv:
                print(f"persistent server: started in {srv.start_s:.1f} s at {srv.url}", flush=True)
                senv = bl.bench_env(prefect_home=home)
                senv["PREFECT_API_URL"] = srv.url
                res["server_start_s"] = srv.start_s
                res["persistent"] = [cold_run("flow", page, senv, work, f"server {r}") for r in range(args.repeats)]
        except (RuntimeError, OSError) as exc:
            print(f"persistent server scenario failed: {exc}")
        shutil.rmtree(home, ignore_errors=True)

    res["warm"] = {}
    for system in (("lib", "flow") if "warm" in only else ()):
        p = subprocess.run([bl.PY, str(Path(__file__).resolve()), "--warm-worker", system, "--page", str(page)],
                           env=env, cwd=work, capture_output=True, text=True, timeout=600, check=False)
        line = next((ln for ln in reversed(p.stdout.splitlines()) if ln.startswith("{")), None)
        res["warm"][system] = json.loads(line) if line else {"error": p.stderr[-2000:]}
        if line:
            r1, r2 = res["warm"][system]["runs"]
            print(f"warm process {system}: first run {r1['seconds']:.1f} s (after imports), second run "
                  f"{r2['seconds']:.2f} s; second-run stages {json.dumps({k: round(v, 2) for k, v in r2['stages'].items()})}",
                  flush=True)

    if "worker" in only:
        res["worker_scenarios"] = worker_scenarios(page, work, args.repeats)

    lines = []
    if res.get("worker_scenarios"):
        lines += fmt_worker(res["worker_scenarios"])
    for system in ("lib", "flow") if res["cold"]["lib"] or res["cold"]["flow"] else ():
        lines += fmt_breakdowns(f"cold `newsmill run PAGE{' --no-prefect' if system == 'lib' else ''}`", res["cold"][system])
    if res.get("persistent"):
        lines += fmt_breakdowns("cold `newsmill run PAGE` against a running `prefect server start`", res["persistent"])
    if res["fresh_prefect_home"].get("result"):
        lines += fmt_breakdowns("cold `newsmill run PAGE`, fresh PREFECT_HOME (first ever run)", [res["fresh_prefect_home"]])
    print("\n".join(lines))
    res["breakdowns_md"] = lines
    d = bl.CACHE / "bench-results"
    d.mkdir(parents=True, exist_ok=True)
    path = args.json or d / f"first-result-{time.strftime('%Y%m%dT%H%M%S')}.json"
    path.write_text(json.dumps(res, indent=1, default=str))
    print(f"\nresults: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
