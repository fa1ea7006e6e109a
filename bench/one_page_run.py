"""A one-page ``newsmill run`` through the warm worker and the running local server: wall time and where it goes.

    python bench/one_page_run.py                        # default page, 5 runs of each kind, 1 profiled run
    python bench/one_page_run.py --runs 9 --profile-runs 2 --page samples/garden-blog-wordpress.txt
    python bench/one_page_run.py --src HEAD~3           # the code of another revision (exported, see _benchlib)
    python bench/one_page_run.py --keep                 # leave server and worker running (prints how to stop them)

Starts a local Prefect server (``newsmill server start``) and a warm worker (``newsmill daemon start``) once, in
a private ``PREFECT_HOME`` and worker folder under the work folder, makes one warm-up run, then times fresh
client processes (``python -m newsmill.cli run PAGE --output OUT``), alternating two kinds:

- ``fresh``: a new, empty output folder (the page is extracted, validated, published, reported);
- ``rerun``: the same output again (the page is unchanged: skipped, but the run still validates, commits
  a version, writes the report and its Prefect run).

Wall time is taken from outside (start to exit of the client process); min/median/max are printed.
The breakdown comes from two sources:

1. ``NEWSMILL_DAEMON_TRACE`` events (client start, hand-over to the worker, the forked runner's start,
   the exit code back): CLI start, client -> worker, runner set-up, the run, the answer, the client's exit;
2. ``NEWSMILL_DAEMON_PROFILE`` (cProfile inside the forked runner, wall clock) in ``--profile-runs`` extra runs
   of each kind (not in the timed ones): the run's phases by the functions that do them (Prefect's
   engine, extraction, GX validation, publish, report/Data Docs, artifacts, log shipping, HTTP round-trips
   to the server, fsyncs). cProfile slows Python-heavy code (GX) more than waits: read the shares, not
   the seconds. With ``--py-spy`` (py-spy on PATH), one more run is sampled from outside (the worker and
   its forked runs, every thread, waits included): raw stacks in ``<work>/py-spy.txt`` for flame-graph tools.

At the end the worker and the server are stopped and the work folder's processes checked (none may be left).
The machine's load average is printed before and after: on a shared machine, compare medians of one call.
"""
from __future__ import annotations

import argparse
import json
import os
import pstats
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _benchlib as bl

SHARED = Path(os.environ.get("NEWSMILL_SHARED", bl.REPO.parent / "shared"))

# phase -> (pstats function matchers: (file suffix, function name)); the first match's cumulative time
PHASES = [
    ("cmd_run: settings, checks before the flow", [("newsmill/cli.py", "check_run")]),
    ("server lookup + Prefect settings refresh", [("newsmill/service/prefect_server.py", "use_local_server")]),
    ("Prefect flow engine (create run, states, result), total", [("prefect/flow_engine.py", "run_flow_sync")]),
    ("  the flow's body", [("prefect/flow_engine.py", "call_flow_fn")]),
    ("    extraction (batch tasks)", [("newsmill/runtime/batch_runner.py", "run_batches")]),
    ("    validate-publish task (Prefect task run), total", [("prefect/task_engine.py", "run_task_sync")]),
    ("      finalize (the task's function)", [("newsmill/pipeline.py", "finalize")]),
    ("        validation, total", [("newsmill/validate/gx_run.py", "validate_tables")]),
    ("          GX validator (2 suites)", [("great_expectations/validator/v1_validator.py", "validate_expectation_suite")]),
    ("          regex-derived columns", [("newsmill/validate/gx_run.py", "_derived_from_regex")]),
    ("        publish (Parquet, version commit)", [("newsmill/store/publish.py", "publish_run")]),
    ("        report, total", [("newsmill/validate/report.py", "write_report")]),
    ("          Data Docs", [("newsmill/validate/gx_run.py", "build_data_docs")]),
    ("    artifacts (4)", [("newsmill/flow.py", "_artifacts")]),
    ("    run logs to the API (handler emit)", [("newsmill/flow.py", "emit")]),
]
TOTALS = [  # summed over every call, wherever it is made
    ("HTTP requests to the server (client side, wall)", ("httpx/_client.py", "send")),
    ("fsync", ("~", "<built-in method posix.fsync>")),
]


def default_page() -> Path:
    page = SHARED / "data" / "dragnet" / "HTML" / "102.html.gz"  # an HTML news page with 13 reader comments
    return page if page.exists() else bl.REPO / "samples" / "garden-blog-wordpress.txt"


def env_for(work: Path, src: Path) -> dict:
    env = bl.bench_env(prefect_home=work / "prefect", src=src)
    env.pop("NEWSMILL_PREFECT_SERVER", None)  # newsmill's local server, not the temporary one
    env.pop("NEWSMILL_DAEMON", None)
    env.pop("NEWSMILL_DAEMON_PROFILE", None)
    env["NEWSMILL_DAEMON_DIR"] = str(work / "daemon")
    env["NEWSMILL_DAEMON_IDLE"] = "30m"
    env["NEWSMILL_SERVER_IDLE"] = "30m"
    env["NEWSMILL_DAEMON_TRACE"] = str(work / "trace")
    return env


def cli(env: dict, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([bl.PY, "-m", "newsmill.cli", *args], env=env, capture_output=True, text=True,
                          timeout=timeout, check=False)


def read_trace(path: Path) -> dict[str, float]:
    ev: dict[str, float] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            parts = line.split()
            if len(parts) >= 3:
                ev.setdefault(parts[0], float(parts[2]))
    return ev


def one_run(env: dict, page: Path, out: Path, kind: str, extra_env: dict | None = None) -> dict:
    if kind == "fresh":
        shutil.rmtree(out, ignore_errors=True)
    trace = Path(env["NEWSMILL_DAEMON_TRACE"])
    trace.unlink(missing_ok=True)
    e = {**env, **(extra_env or {})}
    t0 = time.monotonic()
    p = subprocess.run([bl.PY, "-m", "newsmill.cli", "run", str(page), "--output", str(out)], env=e,
                       capture_output=True, text=True, timeout=600, check=False)
    t1 = time.monotonic()
    time.sleep(0.3)  # the runner's exit work (after the answer) writes its last trace event
    ev = read_trace(trace)
    seg = {}
    chain = [("start", t0), ("client", ev.get("client")), ("supervisor", ev.get("supervisor")),
             ("runner", ev.get("runner")), ("runner_done", ev.get("runner_done")), ("client_exit", ev.get("client_exit")),
             ("end", t1)]
    names = {"client": "CLI start (interpreter, imports, settings, checks)",
             "supervisor": "client -> worker (connect, fingerprint, fork, hand-over)",
             "runner": "runner set-up (fork, Prefect settings and logging)",
             "runner_done": "the run (newsmill.cli.main in the runner)",
             "client_exit": "exit code back to the client",
             "end": "client exit"}
    prev = chain[0]
    for name, t in chain[1:]:
        if t is not None and prev[1] is not None:
            seg[names[name]] = round(t - prev[1], 4)
            prev = (name, t)
    if ev.get("exit_work_done") and ev.get("runner_done"):
        seg["(off the critical path) runner exit work: log/event flush"] = round(ev["exit_work_done"] - ev["runner_done"], 4)
    unchanged = "unchanged inputs           1" in p.stdout
    return {"kind": kind, "wall_s": round(t1 - t0, 4), "rc": p.returncode, "segments": seg,
            "unchanged": unchanged, "stderr": p.stderr[-500:] if p.returncode else ""}


def phases_of(prof: Path) -> dict[str, float]:
    st = pstats.Stats(str(prof)).stats  # {(file, line, func): (cc, nc, tt, ct, callers)}
    out: dict[str, float] = {}
    for label, matchers in PHASES:
        for suffix, func in matchers:
            ct = sum(v[3] for (f, _, fn), v in st.items() if f.endswith(suffix) and fn == func)
            if ct:
                out[label] = round(ct, 4)
                break
    for label, (suffix, func) in TOTALS:
        calls = [(v[1], v[2] if suffix == "~" else v[3]) for (f, _, fn), v in st.items()
                 if (f == suffix or f.endswith(suffix)) and fn == func]
        if calls:
            # httpx: Client.send is re-entered for redirects/auth; count the outermost calls' time only once
            out[f"{label} (calls, s)"] = [sum(c for c, _ in calls), round(sum(t for _, t in calls), 4)]
    total = sum(v[3] for (f, _, fn), v in st.items() if f.endswith("newsmill/cli.py") and fn == "main")
    out["runner total (cli.main, profiled)"] = round(total, 4)
    return out


def py_spy_run(env: dict, page: Path, out: Path, work: Path) -> Path | None:
    exe = shutil.which("py-spy")
    info = json.loads((work / "daemon" / "newsmill-daemon.lock").read_text() or "{}")
    if not exe or not info.get("pid"):
        return None
    raw = work / "py-spy.txt"
    rec = subprocess.Popen([exe, "record", "--pid", str(info["pid"]), "--subprocesses", "--idle", "--threads",
                            "--nonblocking", "-r", "250", "--format", "raw", "-o", str(raw)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.0)
    one_run(env, page, out, "fresh")
    time.sleep(1.0)
    rec.send_signal(2)
    rec.wait(30)
    return raw if raw.exists() else None


def stats(xs: list[float]) -> str:
    return f"{min(xs):.2f} / {statistics.median(xs):.2f} / {max(xs):.2f}" if xs else "-"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--page", type=Path, default=default_page())
    ap.add_argument("--runs", type=int, default=5, help="timed runs of each kind (fresh, rerun)")
    ap.add_argument("--profile-runs", type=int, default=1, help="extra cProfile'd runs of each kind")
    ap.add_argument("--py-spy", action="store_true", help="also sample one run with py-spy (if on PATH)")
    ap.add_argument("--src", default="worktree", help="code under test: 'worktree' (default) or a git revision")
    ap.add_argument("--work", type=Path, help="work folder (default: a new temporary one)")
    ap.add_argument("--keep", action="store_true", help="leave the server and the worker running")
    ap.add_argument("--json", type=Path, help="also write the results here")
    args = ap.parse_args()
    if not args.page.exists():
        print(f"no page {args.page}: nothing measured")
        return 0
    src = bl.prepare_src(args.src)
    work = args.work or Path(tempfile.mkdtemp(prefix="newsmill-one-page-"))
    work.mkdir(parents=True, exist_ok=True)
    (work / "prof").mkdir(exist_ok=True)
    env = env_for(work, src)
    res: dict = {"machine": bl.machine(), "src": bl.src_label(src), "page": str(args.page), "work": str(work)}
    print(f"code: {res['src']}\npage: {args.page}\nwork: {work}\nload: {os.getloadavg()}", flush=True)
    try:
        for service in ("server", "daemon"):  # the local server, then the warm worker
            t = time.monotonic()
            p = cli(env, service, "start")
            res[f"{service}_start_s"] = round(time.monotonic() - t, 2)
            if p.returncode:
                print(f"{service} start failed:", p.stdout, p.stderr)
                return 1
        print(f"server {res['server_start_s']} s, worker {res['daemon_start_s']} s; warm-up run ...", flush=True)
        out = work / "out"
        warm = one_run(env, args.page, out, "fresh")
        if warm["rc"]:
            print("warm-up run failed:", warm["stderr"])
            return 1
        runs = []
        for _ in range(args.runs):
            for kind in ("fresh", "rerun"):
                runs.append(one_run(env, args.page, out, kind))
        res["runs"] = runs
        profiles = []
        for _ in range(args.profile_runs):
            for kind in ("fresh", "rerun"):
                before = set((work / "prof").glob("*.prof"))
                r = one_run(env, args.page, out, kind, {"NEWSMILL_DAEMON_PROFILE": str(work / "prof")})
                new = sorted(set((work / "prof").glob("*.prof")) - before)
                if new:
                    profiles.append({"kind": kind, "wall_s": r["wall_s"], "phases": phases_of(new[0]), "file": str(new[0])})
        res["profiles"] = profiles
        if args.py_spy:
            raw = py_spy_run(env, args.page, out, work)
            res["py_spy"] = str(raw) if raw else "py-spy not on PATH (or no worker pid): skipped"
    finally:
        res["load_end"] = os.getloadavg()
        if not args.keep:
            cli(env, "daemon", "stop", timeout=60)
            cli(env, "server", "stop", timeout=60)
            deadline = time.monotonic() + 30  # a stopped worker finishes its exit in a second or two
            while (left := bl.processes_with(f"PREFECT_HOME={work / 'prefect'}\0".encode())) and \
                    time.monotonic() < deadline:
                time.sleep(0.5)
            res["left_running"] = left
        else:
            print(f"kept running: PREFECT_HOME={work / 'prefect'} NEWSMILL_DAEMON_DIR={work / 'daemon'} "
                  f"{bl.PY} -m newsmill.cli daemon stop (and server stop)")
    report(res)
    if args.json:
        args.json.write_text(json.dumps(res, indent=1, default=str))
    (work / "result.json").write_text(json.dumps(res, indent=1, default=str))
    return 0


def report(res: dict) -> None:
    runs = res.get("runs", [])
    print(f"\nload average at the start {res['machine']['loadavg_start']}, at the end "
          f"{[round(x, 2) for x in res['load_end']]}")
    for kind in ("fresh", "rerun"):
        rs = [r for r in runs if r["kind"] == kind]
        if not rs:
            continue
        bad = [r for r in rs if r["rc"]]
        print(f"\n{kind}: {len(rs)} runs, wall s min / median / max: {stats([r['wall_s'] for r in rs])}"
              + (f"  ({len(bad)} failed: {bad[0]['stderr']})" if bad else "")
              + ("" if kind == "fresh" or all(r["unchanged"] for r in rs) else "  (input not seen as unchanged!)"))
        for seg in rs[0]["segments"]:
            xs = [r["segments"][seg] for r in rs if seg in r["segments"]]
            print(f"  {seg:<62} {statistics.median(xs):7.3f}")
    for p in res.get("profiles", []):
        print(f"\nprofiled {p['kind']} run ({p['wall_s']:.2f} s wall under cProfile), cumulative s:")
        total = p["phases"].get("runner total (cli.main, profiled)") or 1
        for k, v in p["phases"].items():
            if isinstance(v, list):
                print(f"  {k:<62} {v[1]:7.3f}  ({v[0]} calls)")
            else:
                print(f"  {k:<62} {v:7.3f}  {100 * v / total:5.1f} %")
    if res.get("py_spy"):
        print(f"\npy-spy samples: {res['py_spy']}")
    if "left_running" in res:
        print(f"\nprocesses left running: {res['left_running'] or 'none'}")


if __name__ == "__main__":
    sys.exit(main())
