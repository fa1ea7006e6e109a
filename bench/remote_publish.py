"""Publishing to a remote output (s3:// on moto's server, memory://) beside a local folder.

    python bench/remote_publish.py                         # samples/, 3 rounds
    python bench/remote_publish.py --pages ~/.cache/newsmill/corpus-1000.warc.gz --repeats 1

One process, the pipeline without Prefect (``pipeline.run``); rounds alternate the three
outputs. Per output: the first run into an empty output (and empty mirror), a second run of
the same inputs (every input unchanged: a new version of carried partitions, copied inside
the store), and a run after the mirror was deleted (a new machine: pull, then every input
processed again). Reported: median wall time of each run and of its push (upload, commit,
clean-up) or pull; the moto server runs in a thread of this process on 127.0.0.1.
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pages", default=str(REPO / "samples"))
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()

    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    work = Path(tempfile.mkdtemp(prefix="nm-remote-bench-"))
    os.environ.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION="us-east-1",
                      AWS_ENDPOINT_URL=f"http://{host}:{port}", AWS_EC2_METADATA_DISABLED="true",
                      NEWSMILL_CACHE=str(work / "cache"))
    import logging

    logging.disable(logging.WARNING)
    from newsmill import pipeline
    from newsmill.config import Settings
    from newsmill.store import remote

    timed: dict[str, float] = {}
    for name in ("push", "pull"):
        real = getattr(remote, name)

        def wrapper(*a, _real=real, _name=name, **kw):
            t0 = time.perf_counter()
            try:
                return _real(*a, **kw)
            finally:
                timed[_name] = timed.get(_name, 0.0) + time.perf_counter() - t0

        setattr(remote, name, wrapper)

    results: dict[tuple[str, str], list[tuple[float, float]]] = {}
    try:
        for r in range(args.repeats):
            for kind in ("local", "s3", "memory"):
                if kind == "local":
                    out = work / f"local-{r}"
                elif kind == "s3":
                    bucket = f"bench-{uuid.uuid4().hex[:8]}"
                    remote.filesystem(f"s3://{bucket}/x")[0].mkdir(bucket)
                    out = f"s3://{bucket}/news"
                else:
                    out = f"memory://bench-{uuid.uuid4().hex[:8]}/news"
                s = Settings(output_dir=out, author_key=b"bench-key-0123456789abcdef")
                for step in ("first", "unchanged", "new machine"):
                    if step == "new machine":
                        if kind == "local":
                            continue
                        shutil.rmtree(remote.default_mirror(remote.normalize(out)))
                    timed.clear()
                    t0 = time.perf_counter()
                    summary = pipeline.run([args.pages], s)
                    wall = time.perf_counter() - t0
                    results.setdefault((kind, step), []).append((wall, timed.get("push", 0) + timed.get("pull", 0)))
                    print(f"round {r + 1} {kind:6} {step:11} {wall:6.2f} s  push/pull {timed}  "
                          f"articles {summary.articles_published} comments {summary.comments_published}",
                          file=sys.stderr)
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)
    print(f"\n{args.pages}, {args.repeats} rounds, medians\n")
    print("| output | run | wall (s) | of which push + pull (s) |")
    print("|---|---|---:|---:|")
    for (kind, step), vals in results.items():
        print(f"| {kind} | {step} | {statistics.median(v[0] for v in vals):.2f} | "
              f"{statistics.median(v[1] for v in vals):.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
