"""A separate publisher process for the crash, lock and concurrency tests.

A crash has to be a real one (SIGKILL of another process: no ``finally``, no
flush) and two publishers have to be two processes (flock is per open file, the
kernel is what arbitrates), so these tests drive this script.

    python tests/store/publish_child.py publish <output> <run_id> <articles.parquet> <comments.parquet>
    python tests/store/publish_child.py hold <output> <run_id> <seconds>
    python tests/store/publish_child.py forget <output> <run_id> <article id>...

``NEWSMILL_TEST_TARGET_FILE_BYTES``: the part-file target the publish uses (a small one makes a
run split and merge files). ``forget`` erases the articles (and their comments) from every version.

Prints ``ready`` just before publishing and ``locked`` once it holds the lock
(``hold``), so a parent can time a kill or start a competitor.
"""
from __future__ import annotations

import logging
import os
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq

from newsmill import schema
from newsmill.store import publish
from newsmill.store.lock import OutputLock


def main(argv: list[str]) -> int:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    mode, out, run_id, *rest = argv
    if mode == "hold":
        with OutputLock(Path(out), run_id):
            print("locked", flush=True)
            time.sleep(float(rest[0]))
        return 0
    if mode == "forget":
        from newsmill.store import erasure

        print("ready", flush=True)
        r = erasure.forget(Path(out), erasure.Request(article_ids=set(rest)), key=b"crash-test-key",
                           run_id=run_id, keep_versions=30)
        print(f"forgot {r.new_version}", flush=True)
        return 0
    # ParquetFile, not read_table: keeps pyarrow.dataset (and pandas) out of this process's startup
    tables = {name: pq.ParquetFile(path).read().cast(schema.load(name).arrow())
              for name, path in zip(schema.TABLES, rest)}
    print("ready", flush=True)
    target = os.environ.get("NEWSMILL_TEST_TARGET_FILE_BYTES")
    kw = {"target_file_bytes": int(target)} if target else {}
    c = publish.publish_run(tables, Path(out), run_id=run_id, **kw)
    print(f"committed {c.version_dir.name}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
