"""Per-page cost of newsmill's extraction + cleaning next to a bare trafilatura loop, one process.

    python bench/extract_speed.py                         # corpus-1000, 3 interleaved passes, rev HEAD
    python bench/extract_speed.py --limit 200 --repeats 5
    python bench/extract_speed.py --rev worktree --profile prof.html   # pyinstrument, newsmill side only
    python bench/extract_speed.py --digest out.json       # also record a hash of every page's rows
    python bench/extract_speed.py --compare out.json      # ... and list pages whose rows changed since

Why a separate harness: ``throughput.py`` times whole commands (imports, validation, publishing)
in separate processes, so the extraction step's ratio to trafilatura is lost in noise; and
``html_eval.py`` times only AEB pages.  Here both systems run over the same HTML records of
``corpus-<N>.warc.gz`` (decompressed into memory first, text dumps left out) in one process:

- warm-up: the first 5 pages once per system;
- ``--repeats`` passes; in each pass every page goes through both systems back to back, which
  system goes first alternating from page to page and pass to pass, so load changes hit both;
- newsmill = ``extract_page`` + ``clean_page`` (what ``pipeline.process_batch`` does per page,
  reading aside); trafilatura = ``bare_extraction(html, url=url, include_comments=True)``
  (``throughput.py``'s bare loop);
- reported: seconds per pass, medians, the ratio newsmill / trafilatura (issue #6 target for
  this step: <= 0.8), and newsmill's split into extract and clean; also the same ratio in CPU
  time of this process (``time.process_time``), which a loaded machine disturbs less.

``--digest`` writes, per page, a hash of the article and comment rows (run-dependent fields
aside): a pure speed-up must leave every hash unchanged (``--compare``).  The corpus holds
Dragnet pages (AGPLv3): nothing of their text is written, only hashes and counts.
"""
from __future__ import annotations

import argparse
import gc
import hashlib
import json
import os
import statistics
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _benchlib as bl  # noqa: E402

WARMUP = 5
TARGET = 0.8
_VOLATILE = ("extracted_at", "pipeline_version", "input_uri")


def load_pages(corpus: Path, limit: int | None) -> list:
    from newsmill.sources.warc import read_record, scan

    refs = scan(str(corpus)).refs
    pages = [p for p in (read_record(r, max_bytes=32 << 20) for r in refs) if getattr(p, "format", None) == "html"]
    if limit and limit < len(pages):
        pages = [pages[i * len(pages) // limit] for i in range(limit)]
    return pages


def _jsonable(v):
    if isinstance(v, (datetime, date)):
        return v.isoformat()
    return str(v)


def digest(article: dict, comments: list[dict]) -> str:
    rows = [{k: v for k, v in article.items() if k not in _VOLATILE},
            *({k: v for k, v in c.items() if k not in _VOLATILE} for c in comments)]
    return hashlib.sha256(json.dumps(rows, sort_keys=True, default=_jsonable).encode()).hexdigest()[:16]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pages", type=int, default=1000, help="corpus size N: corpus-<N>.warc.gz (default 1000)")
    ap.add_argument("--limit", type=int, help="K pages evenly spaced over the corpus' HTML records")
    ap.add_argument("--repeats", type=int, default=3, help="interleaved passes (median reported; default 3)")
    ap.add_argument("--rev", default="HEAD", help="code under test: git revision (exported) or 'worktree'")
    ap.add_argument("--profile", type=Path, help="instead of timing: one newsmill pass under pyinstrument, HTML report here")
    ap.add_argument("--digest", type=Path, help="write {uri: hash of the page's rows} here")
    ap.add_argument("--compare", type=Path, help="a --digest file of an earlier run: list pages whose rows changed")
    ap.add_argument("--json", type=Path, help="timings file (default <cache>/bench-results/extract-speed-<time>.json)")
    args = ap.parse_args(argv)

    corpus = bl.corpus_path(args.pages)
    if not corpus.exists():
        print(f"skip: {corpus} missing (python bench/build_corpus.py --pages {args.pages})")
        return 0
    src = bl.prepare_src(args.rev)
    bl.use_src(src)
    os.environ.setdefault("NEWSMILL_AUTHOR_KEY", "bench-key-not-secret")

    import trafilatura

    from newsmill.clean import CleanContext, clean_page
    from newsmill.extract import extract_page

    info = bl.machine()
    pages = load_pages(corpus, args.limit)
    ctx = CleanContext(b"bench-key-not-secret", datetime(2026, 1, 1, tzinfo=UTC), "bench")
    print(f"# extract speed: {len(pages)} HTML pages of {corpus.name}, code {bl.src_label(src)}")
    print(f"load average at start {info['loadavg_start']}, {info.get('cpu', '?')}")

    def newsmill_one(page):
        res = extract_page(page)
        if not isinstance(res, tuple):
            return None, 0.0
        t = time.perf_counter()
        out = clean_page(res[0], page, res[1], ctx)
        return out, time.perf_counter() - t

    def traf_one(page):
        try:
            return trafilatura.bare_extraction(page.data, url=page.url, include_comments=True)
        except Exception:  # noqa: BLE001 - an error is an empty result, as in throughput.py
            return None

    for p in pages[:WARMUP]:
        newsmill_one(p)
        traf_one(p)

    if args.profile:
        from pyinstrument import Profiler

        prof = Profiler(interval=0.001)
        prof.start()
        for p in pages:
            newsmill_one(p)
        prof.stop()
        args.profile.write_text(prof.output_html())
        args.profile.with_suffix(".txt").write_text(prof.output_text(unicode=True, color=False, show_all=True))
        print(prof.output_text(unicode=True, color=False, show_all=False)[:20000])
        print(f"profile: {args.profile} (all frames: {args.profile.with_suffix('.txt')})")
        return 0

    digests: dict[str, str] = {}
    passes = []
    for rep in range(args.repeats):
        tn = tt = tc = cn = ct = 0.0
        gc.collect()
        for i, p in enumerate(pages):
            order = (0, 1) if (i + rep) % 2 == 0 else (1, 0)
            for who in order:
                if who == 0:
                    c, s = time.process_time(), time.perf_counter()
                    out, clean_s = newsmill_one(p)
                    tn += time.perf_counter() - s
                    cn += time.process_time() - c
                    tc += clean_s
                    if rep == 0 and (args.digest or args.compare):
                        digests[p.uri.rpartition("#")[2]] = digest(*out) if out else "reject"
                else:
                    c, s = time.process_time(), time.perf_counter()
                    traf_one(p)
                    tt += time.perf_counter() - s
                    ct += time.process_time() - c
        passes.append({"newsmill_s": tn, "newsmill_clean_s": tc, "trafilatura_s": tt, "ratio": tn / tt,
                       "newsmill_cpu_s": cn, "trafilatura_cpu_s": ct, "cpu_ratio": cn / ct})
        print(f"pass {rep}: newsmill {tn:.2f} s (clean {tc:.2f}), trafilatura {tt:.2f} s, ratio {tn / tt:.3f}; "
              f"CPU time {cn:.2f} s / {ct:.2f} s, ratio {cn / ct:.3f}")

    med = {k: statistics.median(p[k] for p in passes) for k in passes[0]}
    n = len(pages)
    print()
    print("| per page (median of passes) | newsmill extract+clean | trafilatura bare |")
    print("|---|---:|---:|")
    print(f"| ms per page | {1000 * med['newsmill_s'] / n:.1f} (clean {1000 * med['newsmill_clean_s'] / n:.1f}) "
          f"| {1000 * med['trafilatura_s'] / n:.1f} |")
    print(f"| CPU ms per page | {1000 * med['newsmill_cpu_s'] / n:.1f} | {1000 * med['trafilatura_cpu_s'] / n:.1f} |")
    each = {k: " ".join(f"{p[k]:.1f}" for p in passes) for k in ("newsmill_s", "trafilatura_s")}
    print(f"| seconds per pass, each | {each['newsmill_s']} | {each['trafilatura_s']} |")
    verdict = "met" if med["ratio"] <= TARGET else "not met"
    print(f"\nnewsmill / trafilatura time: median of per-pass ratios {med['ratio']:.3f} "
          f"(ratio of medians {med['newsmill_s'] / med['trafilatura_s']:.3f}); target <= {TARGET}: {verdict}")
    print(f"CPU time (this process; less sensitive to other load): median ratio {med['cpu_ratio']:.3f}")
    print(f"load average at end {[round(x, 2) for x in os.getloadavg()]}")

    if args.digest:
        args.digest.write_text(json.dumps(digests, indent=0, sort_keys=True))
        print(f"digests: {args.digest}")
    if args.compare:
        before = json.loads(args.compare.read_text())
        changed = sorted((k for k in digests if before.get(k) != digests[k]), key=int)
        print(f"rows changed on {len(changed)} of {len(digests)} pages vs {args.compare}"
              + (f": offsets {' '.join(changed[:40])}{' ...' if len(changed) > 40 else ''}" if changed else ""))
    out = args.json or bl.CACHE / "bench-results" / f"extract-speed-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"machine": info, "code": bl.src_label(src), "corpus": str(corpus), "pages": n,
                               "passes": passes, "median": med, "loadavg_end": os.getloadavg()}, indent=1))
    print(f"results: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
