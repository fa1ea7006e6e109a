"""Great Expectations validation time and peak memory for 1M comment rows (``validate.validate_tables``).

    python bench/validation.py                    # 1,000,000 comments, 3 repeats
    python bench/validation.py --comments 200000 --repeats 1
    python bench/validation.py --per-expectation  # each expectation alone, then the whole suites

Rows are real: the first ``--seed-pages`` pages (default 300) of
``${NEWSMILL_CACHE:-~/.cache/newsmill}/corpus-1000.warc.gz`` (``bench/build_corpus.py --pages 1000``)
go through ``pipeline.plan`` + ``process_batch`` once (cached as Parquet under
``<cache>/bench-rows/``), then both tables are tiled until the comments reach the target count:
copy j gets ``-j`` appended to every id and link (article_id, comment_id, parent/quoted ids, url,
input_uri), so ids stay unique and links stay valid; the article/comment ratio of the real pages
is kept. A missing corpus is reported and the script exits 0.

Measured in this process: GX import + context (the first ``validate._gx()``), then each
``validate_tables(articles, comments, params=...)`` call (same params as ``pipeline.finalize``),
its internal steps (timing shims on ``validate``'s helpers) and the RSS peak above the baseline
(sampled every 20 ms), plus the process' ``ru_maxrss``.

``--per-expectation`` first times each expectation alone inside GX (``validate._validate`` with a
one-expectation suite, on the frames a ``validate_tables`` call built; median of 3) and above an
empty suite on the same frame (what loading the frame into GX costs), then does the full runs. It swaps ``validate.SUITE_DIR`` for a temporary folder, so it works on any revision.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _benchlib as bl

for k, v in bl.bench_env().items():  # telemetry off, before GX/Prefect imports
    if k.startswith(("GX_", "DO_NOT", "PREFECT_", "NEWSMILL_AUTHOR")):
        os.environ.setdefault(k, v)


def seed_rows(corpus: Path, pages: int) -> tuple[Path, Path]:
    """Articles/comments Parquet of the first ``pages`` pages of the corpus (cached)."""
    import pyarrow.parquet as pq

    d = bl.CACHE / "bench-rows" / Path(os.environ.get("NEWSMILL_BENCH_SRC", "worktree")).name
    pa_path, pc_path = d / f"articles-{pages}.parquet", d / f"comments-{pages}.parquet"
    if pa_path.exists() and pc_path.exists() and pa_path.stat().st_mtime > corpus.stat().st_mtime:
        return pa_path, pc_path
    from newsmill import pipeline, schema
    from newsmill.config import load_settings

    tmp = bl.CACHE / "bench-out" / "validation-seed"
    settings = load_settings(None).with_overrides(output_dir=tmp)
    ctx = pipeline.start_run(settings)
    plan = pipeline.plan([str(corpus)], 50, ctx)
    refs = [r for b in plan.batches for r in b][:pages]
    t = time.perf_counter()
    res = pipeline.process_batch(refs, ctx)
    print(f"seed: {len(refs)} pages -> {len(res.articles)} articles, {len(res.comments)} comments "
          f"({time.perf_counter() - t:.1f} s, cached in {d})", flush=True)
    d.mkdir(parents=True, exist_ok=True)
    pq.write_table(schema.to_arrow("articles", res.articles), pa_path)
    pq.write_table(schema.to_arrow("comments", res.comments), pc_path)
    return pa_path, pc_path


def tile(table, copies: int, id_cols: list[str], limit: int | None = None):
    """``copies`` copies of ``table``; in copy j (j >= 1) every id column gets the suffix ``-j``."""
    import pyarrow as pa
    import pyarrow.compute as pc

    parts = [table]
    for j in range(1, copies):
        t = table
        for col in id_cols:
            if col in t.column_names:
                i = t.schema.get_field_index(col)
                f = t.schema.field(col)
                t = t.set_column(i, f, pc.binary_join_element_wise(t[col], pa.scalar(str(j)), "-").cast(f.type))
        parts.append(t)
    out = pa.concat_tables(parts).combine_chunks()
    return out.slice(0, limit) if limit is not None else out


class PeakSampler:
    def __init__(self, interval=0.02):
        import psutil

        self.p = psutil.Process()
        self.interval, self.peak = interval, 0
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, self.p.memory_info().rss)
            self._stop.wait(self.interval)

    def __enter__(self):
        self.base = self.p.memory_info().rss
        self._t.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._t.join(1)


def per_expectation(validate, schema, arts, coms, params, repeats: int = 3) -> list[dict]:
    """GX seconds of each expectation alone on the frames ``validate_tables`` builds (median of ``repeats``).

    One ``validate_tables`` call captures what it hands to ``validate._validate`` (frames with
    their ``_chk_*`` columns, parameters); then each expectation goes through that same
    ``_validate`` as a one-expectation suite (``validate.SUITE_DIR`` swapped for a temporary
    folder, so any revision works). The steps before GX (frames, derived columns, splits) are
    timed by the full runs' shims."""
    import tempfile

    captured = {}
    real_validate = validate._validate

    def capture(name, suite, df, p, run_time):
        captured[name] = (df, p, run_time)
        return real_validate(name, suite, df, p, run_time)

    validate._validate = capture
    try:
        validate.validate_tables(arts, coms, params=params)
    finally:
        validate._validate = real_validate
    suites = {n: json.loads((validate.SUITE_DIR / f"{n}.json").read_text(encoding="utf-8")) for n in schema.TABLES}
    real_dir = validate.SUITE_DIR
    def gx_seconds(n: str, spec: dict, exps: list) -> list[float]:
        df, p, run_time = captured[n]
        with tempfile.TemporaryDirectory() as d:
            (Path(d) / f"{n}.json").write_text(json.dumps({**spec, "expectations": exps}), encoding="utf-8")
            validate.SUITE_DIR = Path(d)
            suite = validate._run_suite(n)
            secs = []
            for _ in range(repeats):
                t = time.perf_counter()
                real_validate(n, suite, df, p, run_time)
                secs.append(time.perf_counter() - t)
        return secs

    rows = []
    print("\n| table | # | expectation | column | GX s alone | above an empty suite |\n|---|---:|---|---|---:|---:|", flush=True)
    try:
        for n, spec in suites.items():
            empty = bl.median(gx_seconds(n, spec, []))
            rows.append({"table": n, "index": None, "expectation": "(empty suite)", "column": None, "gx_s": empty})
            print(f"| {n} | | (empty suite: loading the frame into GX) | | {empty:.2f} | |", flush=True)
            for i, e in enumerate(spec["expectations"]):
                secs = gx_seconds(n, spec, [e])
                kw = e.get("kwargs", {})
                col = kw.get("column") or ",".join(kw.get("column_list", []))
                rows.append({"table": n, "index": i, "expectation": e["type"], "column": col, "gx_s": bl.median(secs),
                             "above_empty_s": bl.median(secs) - empty, "runs_s": [round(x, 3) for x in secs]})
                print(f"| {n} | {i} | `{e['type']}` | `{col}` | {bl.median(secs):.2f} | {bl.median(secs) - empty:.2f} |",
                      flush=True)
    finally:
        validate.SUITE_DIR = real_dir
    above = sum(r.get("above_empty_s", 0.0) for r in rows)
    print(f"| both | | sum above empty suites | | | {above:.2f} |", flush=True)
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split("\n", 2)[2])
    ap.add_argument("--comments", type=int, default=1_000_000, help="comment rows to validate (default 1,000,000)")
    ap.add_argument("--repeats", type=int, default=3, help="validate_tables calls (default 3)")
    ap.add_argument("--seed-pages", type=int, default=300, help="real pages the rows are tiled from (default 300)")
    ap.add_argument("--corpus", type=Path, default=bl.corpus_path(1000), help="seed corpus (default corpus-1000)")
    ap.add_argument("--rev", default="HEAD", help="code under test: a git revision (default HEAD) or 'worktree'")
    ap.add_argument("--per-expectation", action="store_true",
                    help="first time each expectation alone (one validate_tables call each), then the full runs")
    ap.add_argument("--json", type=Path, default=None, help="results file (default <cache>/bench-results/validation-<time>.json)")
    args = ap.parse_args(argv)
    if not args.corpus.exists():
        print(f"skip: no seed corpus at {args.corpus}; build it with `python bench/build_corpus.py --pages 1000`")
        return 0
    bl.use_src(bl.prepare_src(args.rev))
    info = bl.machine()
    print(f"machine: {info}", flush=True)

    a_path, c_path = seed_rows(args.corpus, args.seed_pages)
    import pyarrow.parquet as pq

    from newsmill import profiles, schema
    from newsmill.validate import gx_run as validate

    seed_a = pq.read_table(a_path).cast(schema.to_arrow("articles", []).schema)
    seed_c = pq.read_table(c_path).cast(schema.to_arrow("comments", []).schema)
    if seed_c.num_rows == 0:
        print("skip: the seed pages gave no comments")
        return 0
    copies = -(-args.comments // seed_c.num_rows)
    t = time.perf_counter()
    arts = tile(seed_a, copies, ["article_id", "url", "input_uri"])
    coms = tile(seed_c, copies, ["comment_id", "article_id", "parent_comment_id", "quoted_comment_id", "input_uri"],
                limit=args.comments)
    print(f"tables: {arts.num_rows} articles, {coms.num_rows} comments ({seed_c.num_rows} real comments x {copies}); "
          f"{arts.nbytes / 1e6:.0f} + {coms.nbytes / 1e6:.0f} MB in Arrow; built in {time.perf_counter() - t:.1f} s", flush=True)

    params = {"min_date": "1990-01-01", "max_days_before_article": 2.0, "ui_artifact_regex": profiles.ui_artifact_regex(None)}
    timer = bl.StageTimer(time.perf_counter())
    for attr in ("_frame", "_derive", "_missing_required", "_derived_from_regex", "_validate", "_outcomes", "_collect", "_split"):
        timer.wrap(validate, attr)
    t = time.perf_counter()
    validate._gx()
    gx_s = time.perf_counter() - t
    print(f"GX import + context: {gx_s:.1f} s", flush=True)

    per_exp = per_expectation(validate, schema, arts, coms, params) if args.per_expectation else None

    runs = []
    for r in range(args.repeats):
        timer.sum.clear()
        timer.calls.clear()
        with PeakSampler() as ps:
            t = time.perf_counter()
            out = validate.validate_tables(arts, coms, params=params)
            secs = time.perf_counter() - t
        run = {"seconds": secs, "rss_base_mb": ps.base / 2**20, "rss_peak_mb": ps.peak / 2**20,
               "rss_delta_mb": (ps.peak - ps.base) / 2**20, "steps_s": {k: round(v, 2) for k, v in timer.sum.items()},
               "published": [out.articles.num_rows, out.comments.num_rows],
               "quarantined": [q.num_rows for q in out.quarantine.values()],
               "failed": [f"{o.table}:{o.expectation}:{o.column}:{o.unexpected_count}" for o in out.outcomes if not o.success]}
        runs.append(run)
        print(f"run {r}: {secs:.1f} s, RSS {run['rss_base_mb']:.0f} -> peak {run['rss_peak_mb']:.0f} MB "
              f"(+{run['rss_delta_mb']:.0f}); steps {run['steps_s']}; published {run['published']} "
              f"quarantined {run['quarantined']}", flush=True)
        del out
    med = bl.median([r["seconds"] for r in runs])
    res = {"machine": info, "comments": coms.num_rows, "articles": arts.num_rows, "gx_import_context_s": gx_s,
           "runs": runs, "median_s": med, "median_rss_delta_mb": bl.median([r["rss_delta_mb"] for r in runs]),
           "ru_maxrss_mb": bl.self_peak_rss_mb(), "expectations": {n: len(validate.load_suite(n).expectations) for n in schema.TABLES},
           "per_expectation": per_exp}
    d = bl.CACHE / "bench-results"
    d.mkdir(parents=True, exist_ok=True)
    path = args.json or d / f"validation-{time.strftime('%Y%m%dT%H%M%S')}.json"
    path.write_text(json.dumps(res, indent=1, default=str))
    each = " ".join(f"{r['seconds']:.1f}" for r in runs)
    print(f"\nvalidate_tables, {coms.num_rows} comments + {arts.num_rows} articles: median {med:.1f} s over "
          f"{len(runs)} runs ({each}); GX import+context {gx_s:.1f} s once; "
          f"peak RSS +{res['median_rss_delta_mb']:.0f} MB over the loaded tables, process ru_maxrss {res['ru_maxrss_mb']:.0f} MB; "
          f"target <= 20 s: {'met' if med <= 20 else 'NOT met'}")
    print(f"results: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
