"""CPU time of building newsmill's GX context in a fresh process, with and without the deferred imports
(``newsmill.validate.deferred_imports``), alternated in one run. Process CPU time, not wall time, so a
shared machine moves it less; quote medians.

    python bench/gx_import.py --rounds 5
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
from pathlib import Path

PROBE = """
import sys, time
t = time.process_time()
from newsmill.validate import deferred_imports, gx_run
if sys.argv[1] == "eager":
    deferred_imports.defer = lambda names=(): []
gx_run._gx()
print(time.process_time() - t)
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    repo = Path(__file__).resolve().parent.parent
    got: dict[str, list[float]] = {"eager": [], "deferred": []}
    for _ in range(args.rounds):
        for mode in got:
            out = subprocess.run([sys.executable, "-c", PROBE, mode], cwd=repo, capture_output=True, text=True,
                                 check=True).stdout
            got[mode].append(float(out.split()[-1]))
    for mode, xs in got.items():
        print(f"{mode:9s} min {min(xs):.2f}  median {statistics.median(xs):.2f}  max {max(xs):.2f} s CPU")
    print(f"ratio deferred/eager (medians): {statistics.median(got['deferred']) / statistics.median(got['eager']):.2f}")


if __name__ == "__main__":
    main()
