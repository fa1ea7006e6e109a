"""What verifying the published version costs a run (``newsmill.store.integrity``).

    python bench/verify_cost.py                                  # corpus-1000 from the cache
    python bench/verify_cost.py --pages DIR_OR_WARC --output /tmp/out --repeats 7

Publishes the pages once (``pipeline.run`` without Prefect, skipped when ``--output`` already
holds a version), then times, with the page cache warm (a run's second read of its own output)
and after dropping this dataset's pages from the cache where the OS allows it (``posix_fadvise``
DONTNEED: the first run of the day):
- ``check(hashes=False)``: one stat per file (the check under the output lock),
- ``check(hashes=True)``: stat + SHA-256 of every file (the check before planning),
- ``ensure_sound`` on a sound output (lock + check with hashes: what ``Output.open`` adds),
- the manifest rebuilt from the part files (a corrupt ``manifest.json``).
Median of ``--repeats``; the dataset's files and bytes are printed with them.
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
CACHE = Path(os.environ.get("NEWSMILL_CACHE", Path.home() / ".cache" / "newsmill"))


def _drop_cache(root: Path) -> None:
    for p in root.rglob("*.parquet"):
        fd = os.open(p, os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def _time(fn, repeats: int, before=None) -> float:
    got = []
    for _ in range(repeats):
        if before:
            before()
        t = time.perf_counter()
        fn()
        got.append(time.perf_counter() - t)
    return statistics.median(got)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pages", default=str(CACHE / "corpus-1000.warc.gz"))
    ap.add_argument("--output", default=None, help="reuse (or create) this output folder")
    ap.add_argument("--repeats", type=int, default=7)
    args = ap.parse_args()

    from newsmill import pipeline
    from newsmill.config import Settings
    from newsmill.store import integrity, manifest, versions

    out = Path(args.output) if args.output else Path(tempfile.mkdtemp(prefix="nm-verify-"))
    store = versions.Store(out)
    if store.current() is None:
        t = time.perf_counter()
        s = pipeline.run([args.pages], Settings(output_dir=out, author_key=b"k" * 32, workers=1))
        print(f"published {s.articles_published} articles, {s.comments_published} comments "
              f"in {time.perf_counter() - t:.1f} s")
    cur = store.current()
    m = manifest.read(cur)
    files = [f for t in m["tables"].values() for f in t["files"]]
    size = sum(f["bytes"] for f in files)
    print(f"dataset: {len(files)} part files, {size / 1e6:.2f} MB, rows {m['row_counts']}")

    drop = lambda: _drop_cache(cur)  # noqa: E731
    rows = [
        ("check, sizes only (warm)", _time(lambda: integrity.check(cur, hashes=False), args.repeats)),
        ("check, sizes + SHA-256 (warm)", _time(lambda: integrity.check(cur, hashes=True), args.repeats)),
        ("check, sizes + SHA-256 (cold)", _time(lambda: integrity.check(cur, hashes=True), args.repeats, drop)),
        ("ensure_sound, sound output (warm)",
         _time(lambda: integrity.ensure_sound(out, "bench", rebuild=False), args.repeats)),
    ]
    mf = cur / manifest.NAME
    saved = mf.read_bytes()

    def corrupt():
        os.chmod(mf, 0o644) if mf.exists() else None
        mf.write_bytes(b"{not json")

    rows.append(("manifest rebuilt from the part files (warm)",
                 _time(lambda: integrity.ensure_sound(out, "bench", rebuild=False), args.repeats, corrupt)))
    os.chmod(mf, 0o644)
    mf.write_bytes(saved)
    os.chmod(mf, 0o444)
    for name, sec in rows:
        print(f"{name:45s} {sec * 1000:9.1f} ms")
    if not args.output:
        shutil.rmtree(out, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
