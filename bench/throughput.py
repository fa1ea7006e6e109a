"""End-to-end throughput of `newsmill run` on WARC corpora, next to a bare trafilatura loop.

    python bench/throughput.py                          # N = 1000, 3 rounds of bare / lib / flow
    python bench/throughput.py --pages 10000 --repeats 1
    python bench/throughput.py --pages 1000 --systems lib --profile   # pyinstrument hot spots

Corpora: ``${NEWSMILL_CACHE:-~/.cache/newsmill}/corpus-<N>.warc.gz``, written by
``bench/build_corpus.py --pages N``; a missing corpus is reported and skipped (exit 0).

Systems, each in its own fresh process (cold, like a user's command), rotated from round to round
so that machine load hits all of them alike:

- ``bare``: ``trafilatura.bare_extraction(html, url=url, include_comments=True)`` in a plain loop
  over the HTML of the corpus' response records, decompressed from the WARC before timing.
  Timed: the loop only (the floor any pipeline built on trafilatura pays).
- ``lib``:  ``newsmill run CORPUS --no-prefect`` (``pipeline.run``: plain loop, no Prefect).
- ``flow``: ``newsmill run CORPUS`` (the Prefect flow on Prefect's temporary local server).
- ``lib1``, ``lib2``: ``newsmill run CORPUS --no-prefect --workers 1|2`` (batches in 1 process, or 2 worker
  processes; ``lib`` leaves the default, one per CPU), for a CLI whose ``--no-prefect`` takes ``--workers``.
- ``flow1``, ``flow2``: ``newsmill run CORPUS --workers 1|2`` (what ``--workers`` means depends on the revision:
  worker processes, or, before the streaming rework, a local Dask cluster).
- ``dask1``, ``dask2``: ``newsmill run CORPUS`` with ``NEWSMILL_DASK_WORKERS=1|2`` (``[dask] workers``: batch
  tasks on a local Dask cluster; the same in every revision that has ``[dask]``).
- ``flowsrv``: as ``flow``, but on newsmill's persistent local Prefect server (started before the
  rounds, untimed: what every run after a user's first one gets) instead of the temporary one.
- ``cli``: ``newsmill run CORPUS`` typed at a shell, as a user runs it: the thin client hands the run to
  the warm worker, on the persistent local server (both started before the rounds by an untimed
  warm-up run on ``samples/``). Timed: the client process, start to exit (wall = work); no stage
  times (the run happens in the warm worker). Peak RSS: the warm worker's process tree (the forked
  run and its batch workers; shared pages counted in each process), sampled.
  None of these is in the default set. Batches that run in other processes are out of reach of the
  timing shims: compare wall and work times.

``lib`` and ``flow`` call ``newsmill.cli.main`` inside a worker process that wraps the pipeline's
functions (``pipeline.plan``, ``process_batch``, ``finalize``, ``validate.validate_tables``,
``publish.publish_run``, ``report.write_report``...) in timing shims: stage times come from
outside, the pipeline is not changed. Peak RSS: the worker's own ``ru_maxrss`` and the sampled
peak of its process tree (worker + Prefect server). Output goes to a throwaway folder in the cache.
Results: printed as Markdown and saved as JSON under ``<cache>/bench-results/``.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _benchlib as bl

SYSTEMS = ("bare", "lib", "flow", "lib1", "lib2", "flow1", "flow2", "dask1", "dask2", "flowsrv", "cli")
PERSISTENT = ("flowsrv", "cli")  # systems on newsmill's persistent local server (and warm worker)
PAIRS = (("lib2", "lib1"), ("flow2", "flow1"), ("dask2", "dask1"))  # speed-up of 2 workers over 1


# --------------------------------------------------------------------------- workers (one process each)


def _process_t0() -> float:
    """perf_counter value at this process' creation (so imports are inside the measured time)."""
    import psutil

    age = time.time() - psutil.Process().create_time()
    return time.perf_counter() - age


def worker_bare(corpus: Path) -> dict:
    t0 = _process_t0()
    s = time.perf_counter()
    import trafilatura
    from warcio.archiveiterator import ArchiveIterator
    imp = time.perf_counter() - s

    s = time.perf_counter()
    pages, other = [], 0
    with open(corpus, "rb") as f:
        for rec in ArchiveIterator(f):
            ctype = (rec.http_headers.get_header("Content-Type") or "") if rec.http_headers else ""
            if rec.rec_type == "response" and "html" in ctype:
                pages.append((rec.rec_headers.get_header("WARC-Target-URI"), rec.content_stream().read()))
            elif rec.rec_type in ("response", "conversion"):
                other += 1
    prep = time.perf_counter() - s
    rss_pages = bl.self_peak_rss_mb()

    s = time.perf_counter()
    results = comments = failed = 0
    for url, html in pages:
        try:
            doc = trafilatura.bare_extraction(html, url=url, include_comments=True)
        except Exception:  # noqa: BLE001 - an error is an empty result, as in html_eval
            doc = None
            failed += 1
        if doc is not None:
            results += 1
            comments += bool(getattr(doc, "comments", None))
    loop = time.perf_counter() - s
    return {"system": "bare", "pages": len(pages), "non_html_skipped": other, "results": results,
            "pages_with_comment_blob": comments, "errors": failed, "import_s": imp, "prepare_s": prep, "work_s": loop,
            "worker_total_s": time.perf_counter() - t0, "peak_rss_mb": bl.self_peak_rss_mb(),
            "rss_after_prepare_mb": rss_pages}


def worker_newsmill(system: str, corpus: Path, out: Path, batch_size: int | None, profile: Path | None) -> dict:
    t0 = _process_t0()
    entry = time.perf_counter() - t0
    timer = bl.StageTimer(t0)
    s = time.perf_counter()
    from newsmill import cli
    timer.instrument_newsmill()  # imports pipeline, validate (pandas, pyarrow), publish, report
    batches = _batch_times()
    imp = {"newsmill": time.perf_counter() - s}
    if not system.startswith("lib"):
        s = time.perf_counter()
        import newsmill.flow  # noqa: F401 - prefect
        imp["prefect+flow"] = time.perf_counter() - s
        timer.instrument_prefect_server()
    s_gx = timer.wrap(__import__("newsmill.validate.gx_run", fromlist=["_gx"]), "_gx", "finalize/validate/gx_import+context")
    del s_gx
    argv = ["run", str(corpus), "--output", str(out)]
    if batch_size:
        argv += ["--batch-size", str(batch_size)]
    if system.startswith("lib"):
        argv.append("--no-prefect")
    if system[-1].isdigit() and not system.startswith("dask"):
        argv += ["--workers", system[-1]]
    elif system.startswith("dask"):
        os.environ["NEWSMILL_DASK_WORKERS"] = system[4:]
    prof = None
    if profile is not None:
        from pyinstrument import Profiler

        prof = Profiler(interval=0.001)
        prof.start()
    import contextlib
    import io

    s = time.perf_counter()
    cli_start = s - t0

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        rc = cli.main(argv)
    run_s = time.perf_counter() - s
    if prof is not None:
        prof.stop()
        _write_profile(prof, profile)
    summ = bl.summary_of(out) or {}
    st = timer.as_dict()
    cpu = _tree_cpu_s()
    first = st["first_start_s"].get("start_run")
    last = st["last_end_s"].get("finalize")
    return {"system": system, "rc": rc, "pages": summ.get("inputs"),
            "articles": (summ.get("articles_published") or 0) + (summ.get("articles_quarantined") or 0),
            "comments": (summ.get("comments_published") or 0) + (summ.get("comments_quarantined") or 0),
            "articles_published": summ.get("articles_published"), "comments_published": summ.get("comments_published"),
            "rejected": summ.get("rejected"), "reject_reasons": summ.get("reject_reasons"),
            "newsmill_from": str(Path(cli.__file__).parent), "entry_s": entry, "cli_start_s": cli_start, "import_s": imp, "cli_main_s": run_s, "work_s": (last - first) if first is not None and last else None,
            "run_started_at_s": first, "worker_total_s": time.perf_counter() - t0, "stages": st,
            "peak_rss_mb": bl.self_peak_rss_mb(), "cpu_s": cpu, "batches": batches}


def worker_cli(corpus: Path, out: Path) -> dict:
    """``newsmill run CORPUS`` as typed at a shell: a fresh client process, the run in the warm worker."""
    import subprocess
    import threading

    import psutil

    from newsmill.service import warm_client

    info = warm_client.status() or {}
    if not info.get("current"):  # the client would start a warm worker first: not what this system measures
        return {"system": "cli", "rc": 2, "error": f"no current warm worker for this code and environment: {info}"}
    peak = [0]
    stop = threading.Event()

    def sample():
        try:
            root = psutil.Process(int(info["pid"]))
        except (KeyError, TypeError, ValueError, psutil.Error):
            return
        while not stop.wait(0.1):
            total = 0
            try:
                for p in [root, *root.children(recursive=True)]:
                    try:
                        total += p.memory_info().rss
                    except psutil.Error:
                        pass
            except psutil.Error:
                return
            peak[0] = max(peak[0], total)

    t = threading.Thread(target=sample, daemon=True)
    t.start()
    s = time.perf_counter()
    p = subprocess.run([sys.executable, "-m", "newsmill.cli", "run", str(corpus), "--output", str(out)],
                       check=False, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wall = time.perf_counter() - s
    stop.set()
    t.join()
    summ = bl.summary_of(out) or {}
    return {"system": "cli", "rc": p.returncode, "pages": summ.get("inputs"),
            "articles": (summ.get("articles_published") or 0) + (summ.get("articles_quarantined") or 0),
            "comments": (summ.get("comments_published") or 0) + (summ.get("comments_quarantined") or 0),
            "warm_worker_pid": info.get("pid"), "work_s": wall, "stages": {"sum_s": {}},
            "peak_rss_mb": peak[0] / 2**20, "stderr_tail": p.stderr[-2000:] if p.returncode else ""}


def _persistent(env: dict, action: str) -> None:
    """Start (an untimed warm-up run on samples/: server and warm worker come up) or stop them."""
    import subprocess
    import tempfile

    if action == "start":
        with tempfile.TemporaryDirectory() as out:  # cwd: not the checkout (python -m would import its code)
            p = subprocess.run([bl.PY, "-m", "newsmill.cli", "run", str(bl.REPO / "samples"), "--output", out],
                               check=False, env=env, capture_output=True, text=True, timeout=600, cwd=out)
            if p.returncode:
                raise SystemExit(f"warm-up run failed ({p.returncode}):\n{p.stderr[-2000:]}")
    else:
        for what in ("daemon", "server"):
            subprocess.run([bl.PY, "-m", "newsmill.cli", what, "stop"], check=False, env=env,
                           capture_output=True, timeout=120, cwd=tempfile.gettempdir())


def _batch_times() -> dict:
    """Sums of the batches' own wall and CPU seconds, as their handles report them (batches run in
    worker processes, out of reach of the timing shims; revisions without the fields give 0)."""
    from newsmill import pipeline

    acc = {"n": 0, "wall_s": 0.0, "cpu_s": 0.0}
    real = pipeline.finalize

    def finalize(results, *a, **kw):
        for r in results:
            if hasattr(r, "cpu_seconds"):
                acc["n"] += 1
                acc["wall_s"] += r.seconds
                acc["cpu_s"] += r.cpu_seconds
        return real(results, *a, **kw)

    pipeline.finalize = finalize
    return acc


def _tree_cpu_s() -> float:
    """CPU seconds of this process and its descendants so far: worker processes (reaped by their fork
    server: its children's times), the Prefect server, Dask. Unlike wall time, not inflated by other
    users of the machine (on Linux with autogroup scheduling, a busy neighbour takes a whole
    session's share: parallel speed-ups only show on an idle machine)."""
    import psutil

    def total(p) -> float:
        t = p.cpu_times()
        return t.user + t.system + t.children_user + t.children_system

    me = psutil.Process()
    cpu = total(me)
    for c in me.children(recursive=True):
        try:
            cpu += total(c)
        except psutil.Error:
            pass
    return round(cpu, 2)


def _write_profile(prof, base: Path) -> None:
    base.parent.mkdir(parents=True, exist_ok=True)
    base.with_suffix(".html").write_text(prof.output_html(), encoding="utf-8")
    base.with_suffix(".txt").write_text(prof.output_text(unicode=True, color=False, show_all=False), encoding="utf-8")
    tree = json.loads(prof.last_session.root_frame().to_json_str())
    base.with_suffix(".json").write_text(json.dumps(analyse_tree(tree, prof.last_session.duration), indent=1),
                                         encoding="utf-8")


def tree_from_html(path: Path) -> tuple[dict, float]:
    """The frame tree embedded in a pyinstrument HTML report (``sessionData = {...}``)."""
    h = path.read_text(encoding="utf-8")
    i = h.index("sessionData = ") + len("sessionData = ")
    data, _ = json.JSONDecoder().raw_decode(h[i:])
    return data["frame_tree"], data["session"]["duration"]


def analyse_tree(tree: dict, total: float) -> dict:
    """Self time by function and by package, inclusive time by function (recursion counted once).

    pyinstrument keeps a frame's own time in synthetic ``[self]`` children; time in C code (lxml,
    regex, pyarrow) is the own time of the Python function that called it."""
    self_fn: dict[str, float] = {}
    self_pkg: dict[str, float] = {}
    incl: dict[str, float] = {}

    def walk(node: dict, stack: frozenset):
        fn, path, line = (node["identifier"].split("\x00") + ["", ""])[:3]
        k = f"{fn} ({_short(path)}:{line})"
        if k not in stack:
            incl[k] = incl.get(k, 0.0) + node["time"]
        real = [c for c in node.get("children", []) if not c["identifier"].startswith("[")]
        own = node["time"] - sum(c["time"] for c in real)
        if own > 0:
            self_fn[k] = self_fn.get(k, 0.0) + own
            pk = _package(path)
            self_pkg[pk] = self_pkg.get(pk, 0.0) + own
        for c in real:
            walk(c, stack | {k})

    walk(tree, frozenset())
    top = lambda d, n: [(k, round(v, 3), round(100 * v / total, 1)) for k, v in sorted(d.items(), key=lambda kv: -kv[1])[:n]]
    return {"duration_s": total, "self_by_function": top(self_fn, 60), "self_by_package": top(self_pkg, 30),
            "inclusive_by_function": top(incl, 120)}


def _short(path: str | None) -> str:
    if not path:
        return "?"
    if "/bench-src/" in path:  # an exported revision: <cache>/bench-src/<sha>/newsmill/...
        return path.split("/bench-src/", 1)[1].split("/", 1)[-1]
    for marker in ("site-packages/", str(bl.REPO) + "/", "lib/python3.11/"):
        if marker in path:
            return path.split(marker, 1)[1]
    return path


def _package(path: str | None) -> str:
    p = _short(path)
    if p.startswith("newsmill/"):
        parts = p.split("/")
        return "/".join(parts[:3]) if parts[1] in ("extract", "sources") and len(parts) > 2 else "/".join(parts[:2])
    if p.startswith("<"):
        return p
    head = p.split("/", 1)[0]
    return head if "/" in p else f"stdlib:{head}"


# --------------------------------------------------------------------------- orchestration


def measure(n: int, systems: list[str], repeats: int, batch_size: int | None, timeout: float,
            srcs: dict[str, Path] | None = None) -> list[dict]:
    """``systems``: names, each optionally ``name@rev`` (that revision's code, exported; ``srcs`` maps
    the label to it), so that two revisions are measured side by side, rotated in the same rounds."""
    srcs = srcs or {}
    corpus = bl.corpus_path(n)
    rows = []
    work_root = bl.CACHE / "bench-out"
    persistent = [x for x in systems if x.split("@")[0] in PERSISTENT]
    try:
        for s in persistent:  # the same code and environment share one server and warm worker
            _persistent(_env(s, srcs), "start")
        rows = _rounds(n, corpus, systems, repeats, batch_size, timeout, srcs, work_root)
    finally:
        for s in persistent:
            _persistent(_env(s, srcs), "stop")
    return rows


def _env(system: str, srcs: dict) -> dict:
    env = bl.bench_env(src=srcs.get(system))
    if system.split("@")[0] in PERSISTENT:
        env.pop("NEWSMILL_PREFECT_SERVER", None)  # newsmill's persistent local server
        env["NEWSMILL_DAEMON"] = "1"
    else:
        env["NEWSMILL_DAEMON"] = "0"
    return env


def _rounds(n, corpus, systems, repeats, batch_size, timeout, srcs, work_root) -> list[dict]:
    rows = []
    for r in range(repeats):
        order = systems[r % len(systems):] + systems[: r % len(systems)]
        for system in order:
            out = work_root / f"{system.replace('@', '-')}-{n}-{r}"
            shutil.rmtree(out, ignore_errors=True)
            out.mkdir(parents=True)
            cmd = [bl.PY, str(Path(__file__).resolve()), "--worker", system.split("@")[0], "--corpus", str(corpus),
                   "--out", str(out)] + (["--batch-size", str(batch_size)] if batch_size else [])
            load = os.getloadavg()[0]
            env = _env(system, srcs)
            # a temporary Prefect server on a busy machine can take longer than Prefect's 20 s to answer
            env.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
            res = bl.run_measured(cmd, env=env, cwd=out, timeout=timeout)
            shutil.rmtree(out, ignore_errors=True)
            row = {"n": n, "round": r, "system": system, "loadavg_1m": round(load, 2), **res}
            rows.append(row)
            w = res["result"] or {}
            print(f"  N={n} round {r} {system:12}: wall {res['wall_s']:7.1f} s  work {w.get('work_s') or 0:7.1f} s  "
                  f"pages {w.get('pages')}  comments {w.get('comments', '-')}  rss {w.get('peak_rss_mb', 0):6.0f} MB "
                  f"(tree {res['peak_tree_mb']:.0f})  rc {res['rc']}  load {load:.1f}"
                  + (f"  LEFTOVER {res['leftover_processes']}" if res["leftover_processes"] else ""), flush=True)
            if res["rc"] != 0 or not res["result"]:
                print("    stderr: " + res["stderr_tail"].replace("\n", "\n    "), flush=True)
    return rows


def aggregate(rows: list[dict]) -> dict:
    agg: dict = {}
    for n in sorted({r["n"] for r in rows}):
        agg[n] = {}
        labels = list(dict.fromkeys(r["system"] for r in rows if r["n"] == n))
        for system in labels:
            rs = [r for r in rows if r["n"] == n and r["system"] == system and r["result"]]
            if not rs:
                continue
            w = [r["result"] for r in rs]
            pages = w[0].get("pages") or 0
            cpus = [x.get("cpu_s") for x in w if x.get("cpu_s")]
            a = {"runs": len(rs), "pages": pages, "comments": w[0].get("comments"),
                 "wall_s": bl.median([r["wall_s"] for r in rs]), "wall_each": [round(r["wall_s"], 1) for r in rs],
                 "work_s": bl.median([x.get("work_s") for x in w]), "peak_rss_mb": bl.median([x["peak_rss_mb"] for x in w]),
                 "peak_tree_mb": bl.median([r["peak_tree_mb"] for r in rs]),
                 "cpu_s": bl.median(cpus) if cpus else None,
                 "load_1m": [r.get("loadavg_1m") for r in rs]}
            a["pages_per_s_wall"] = pages / a["wall_s"] if a["wall_s"] else None
            a["pages_per_s_work"] = pages / a["work_s"] if a["work_s"] else None
            if a["comments"] is not None:
                a["comments_per_s_wall"] = a["comments"] / a["wall_s"]
            if not system.startswith("bare"):
                stages: dict[str, list[float]] = {}
                for x in w:
                    for k, v in x["stages"]["sum_s"].items():
                        stages.setdefault(k, []).append(v)
                a["stages_median_s"] = {k: round(bl.median(v), 2) for k, v in stages.items()}
                a["run_started_at_s"] = bl.median([x["run_started_at_s"] for x in w if x.get("run_started_at_s") is not None] or [None])
            bcpu = [x["batches"]["cpu_s"] for x in w if (x.get("batches") or {}).get("cpu_s")]
            a["batch_cpu_s"] = bl.median(bcpu) if bcpu else None  # the batches' own CPU, in their worker processes
            agg[n][system] = a
        g = agg[n]
        bare = next((g[x] for x in g if x.split("@")[0] == "bare"), None)  # no newsmill code: any revision's
        for tag in dict.fromkeys("@" + x.split("@")[1] if "@" in x else "" for x in labels):
            sys_ = {x[: len(x) - len(tag)] if tag else x: g[x] for x in g if (x.endswith(tag) if tag else "@" not in x)}
            if bare:
                for s, a in sys_.items():
                    if s != "bare":
                        g[f"{s}_vs_bare_wall{tag}"] = a["pages_per_s_wall"] / bare["pages_per_s_work"]
                        g[f"{s}_vs_bare_work{tag}"] = a["pages_per_s_work"] / bare["pages_per_s_work"]
            for two, one in PAIRS:
                if one in sys_ and two in sys_:
                    g[f"{two}_vs_{one}_wall{tag}"] = sys_[one]["wall_s"] / sys_[two]["wall_s"]
                    if sys_[one]["work_s"] and sys_[two]["work_s"]:
                        g[f"{two}_vs_{one}_work{tag}"] = sys_[one]["work_s"] / sys_[two]["work_s"]
            for suffix in ("", "1", "2"):  # same number of workers with and without Prefect
                fl, lb = sys_.get("flow" + suffix), sys_.get("lib" + suffix)
                if fl and lb:
                    g[f"prefect_overhead{suffix}_wall{tag}"] = (fl["wall_s"] - lb["wall_s"]) / fl["wall_s"]
                    if fl["work_s"] and lb["work_s"]:
                        g[f"prefect_overhead{suffix}_work{tag}"] = (fl["work_s"] - lb["work_s"]) / fl["work_s"]
                    if fl.get("cpu_s") and lb.get("cpu_s"):
                        g[f"prefect_overhead{suffix}_cpu{tag}"] = (fl["cpu_s"] - lb["cpu_s"]) / fl["cpu_s"]
    return agg


def markdown(agg: dict) -> str:
    lines = [("| N | system | runs | pages | comments | wall s (median) | pages/s wall | pages/s work | comments/s | "
              "CPU s (tree) | peak RSS MB (worker) | peak RSS MB (tree) | load 1 min |"),
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for n, g in agg.items():
        for s in [x for x in g if isinstance(g[x], dict)]:
            if s in g:
                a = g[s]
                f = lambda v, p=1: "-" if v is None else f"{v:.{p}f}"
                lines.append(f"| {n} | {s} | {a['runs']} | {a['pages']} | {a['comments'] if a['comments'] is not None else '-'} | "
                             f"{f(a['wall_s'])} ({' '.join(map(str, a['wall_each']))}) | {f(a['pages_per_s_wall'])} | "
                             f"{f(a['pages_per_s_work'])} | {f(a.get('comments_per_s_wall'))} | {f(a.get('cpu_s'))} | "
                             f"{f(a['peak_rss_mb'], 0)} | {f(a['peak_tree_mb'], 0)} | "
                             f"{' '.join(str(x) for x in a.get('load_1m') or [])} |")
    lines.append("")
    for n, g in agg.items():
        for k in sorted(k for k in g if not isinstance(g[k], dict)):
            lines.append(f"- N={n} {k}: {g[k]:.3f}")
        for s in [x for x in g if isinstance(g[x], dict)]:
            if g[s].get("batch_cpu_s"):
                lines.append(f"- N={n} {s} batches' own CPU (median, summed over batches): {g[s]['batch_cpu_s']:.1f} s")
            if g[s].get("stages_median_s") and g[s].get("run_started_at_s") is not None:
                st = ", ".join(f"{k} {v}" for k, v in g[s]["stages_median_s"].items())
                lines.append(f"- N={n} {s} stages (median s, summed over calls): {st}; run started at "
                             f"{g[s]['run_started_at_s']:.1f} s after process start")
    return "\n".join(lines)


def print_profile(base: Path, n: int = 25) -> None:
    data = json.loads(base.with_suffix(".json").read_text())
    print(f"\nprofile: {base.with_suffix('.html')} ({data['duration_s']:.1f} s)")
    for title, k in (("self time by package", "self_by_package"), ("self time by function", "self_by_function"),
                     ("inclusive time by function", "inclusive_by_function")):
        print(f"\n{title}:")
        for name, s, pct in data[k][:n]:
            print(f"  {pct:5.1f}%  {s:8.2f} s  {name}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split("\n", 2)[2])
    ap.add_argument("--pages", type=int, nargs="+", default=[1000], help="corpus sizes N (default 1000)")
    ap.add_argument("--systems", default="bare,lib,flow",
                    help=f"comma list of {', '.join(SYSTEMS)} (default bare,lib,flow); NAME@REV runs that system "
                         "on another git revision in the same rounds (e.g. lib@6253bfc,lib)")
    ap.add_argument("--repeats", type=int, default=3, help="rounds per N (default 3)")
    ap.add_argument("--batch-size", type=int, default=None, help="pages per task (default: newsmill's)")
    ap.add_argument("--timeout", type=float, default=7200, help="seconds per measured process (default 7200)")
    ap.add_argument("--profile", action="store_true",
                    help="instead: one `lib` run under pyinstrument (1 ms sampling) on the first N; hot spots printed")
    ap.add_argument("--json", type=Path, default=None, help="results file (default <cache>/bench-results/throughput-<time>.json)")
    ap.add_argument("--rev", default="HEAD", help="code under test: a git revision, exported to the cache (default "
                                                  "HEAD: stable while the tree is being edited), or 'worktree'")
    ap.add_argument("--profile-report", type=Path, default=None,
                    help="re-analyse a pyinstrument HTML report written by --profile (no run)")
    ap.add_argument("--worker", choices=SYSTEMS, help=argparse.SUPPRESS)
    ap.add_argument("--corpus", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--profile-to", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.profile_report:
        if not args.profile_report.exists():
            print(f"skip: no profile report at {args.profile_report}")
            return 0
        tree, total = tree_from_html(args.profile_report)
        base = args.profile_report.with_suffix("")
        base.with_suffix(".json").write_text(json.dumps(analyse_tree(tree, total), indent=1), encoding="utf-8")
        print_profile(base, 40)
        return 0
    if args.worker:
        bl.use_src(Path(os.environ.get("NEWSMILL_BENCH_SRC") or bl.REPO))
        if args.worker == "bare":
            res = worker_bare(args.corpus)
        elif args.worker == "cli":
            res = worker_cli(args.corpus, args.out)
        else:
            res = worker_newsmill(args.worker, args.corpus, args.out, args.batch_size, args.profile_to)
        print(json.dumps(res, default=str))
        return 0

    bl.use_src(bl.prepare_src(args.rev))
    systems = [s.strip() for s in args.systems.split(",") if s.strip()]
    bad = [s for s in systems if s.split("@")[0] not in SYSTEMS]
    if bad:
        ap.error(f"unknown systems {bad}")
    srcs = {s: bl.prepare_src(s.split("@", 1)[1]) for s in systems if "@" in s}
    missing = [n for n in args.pages if not bl.corpus_path(n).exists()]
    for n in missing:
        print(f"skip N={n}: no corpus at {bl.corpus_path(n)}; build it with "
              f"`python bench/build_corpus.py --pages {n}`")
    pages = [n for n in args.pages if n not in missing]
    if not pages:
        return 0
    info = bl.machine()
    stamp = time.strftime("%Y%m%dT%H%M%S")
    results_dir = bl.CACHE / "bench-results"
    results_dir.mkdir(parents=True, exist_ok=True)
    print(f"machine: {info}")

    if args.profile:
        n = pages[0]
        base = results_dir / f"profile-lib-{n}-{stamp}"
        out = bl.CACHE / "bench-out" / f"profile-{n}"
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir(parents=True)
        cmd = [bl.PY, str(Path(__file__).resolve()), "--worker", "lib", "--corpus", str(bl.corpus_path(n)),
               "--out", str(out), "--profile-to", str(base)] + (["--batch-size", str(args.batch_size)] if args.batch_size else [])
        res = bl.run_measured(cmd, env=bl.bench_env(), cwd=out, timeout=args.timeout)
        shutil.rmtree(out, ignore_errors=True)
        if res["rc"] != 0 or not base.with_suffix(".json").exists():
            print("profile run failed:\n" + res["stderr_tail"])
            return 1
        print(f"profiled run: wall {res['wall_s']:.1f} s; stages {json.dumps(res['result']['stages']['sum_s'])}")
        print_profile(base)
        return 0

    rows = []
    for n in pages:
        print(f"N={n}: corpus {bl.corpus_path(n)} ({bl.corpus_path(n).stat().st_size / 1e6:.0f} MB)", flush=True)
        rows += measure(n, systems, args.repeats, args.batch_size, args.timeout, srcs)
    agg = aggregate(rows)
    path = args.json or results_dir / f"throughput-{stamp}.json"
    path.write_text(json.dumps({"machine": info, "args": vars(args), "rows": rows, "aggregate": agg}, indent=1, default=str))
    print()
    print(markdown(agg))
    print(f"\nresults: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
