"""Named points in the publishing protocol where a test can kill or pause the process.

Crash safety is only credible if a crash is tried at every step, and a timer
cannot aim at a step that lasts microseconds. Each step calls :func:`hit`; the
environment decides what happens there (nothing, in production):

- ``NEWSMILL_FAILPOINT=name:n``: SIGKILL this process at the n-th hit of ``name``
  (n defaults to 1) — no cleanup handler, ``finally`` or flush runs, as in a
  power cut of the process.
- ``NEWSMILL_FAILPOINT_PAUSE=name:seconds``: sleep there (to force two runs to overlap).
- ``NEWSMILL_FAILPOINT_TRACE=path``: append every hit as ``name:n <monotonic time>`` to
  ``path``, so a test can enumerate the points a run really passes instead of keeping a
  list by hand, and order the steps of two processes (the clock is system-wide).
"""
from __future__ import annotations

import os
import signal
import time
from collections import Counter

_counts: Counter[str] = Counter()


def hit(name: str) -> None:
    kill, pause, trace = (os.environ.get(f"NEWSMILL_FAILPOINT{s}") for s in ("", "_PAUSE", "_TRACE"))
    if not (kill or pause or trace):
        return
    _counts[name] += 1
    n = _counts[name]
    if trace:
        with open(trace, "a", encoding="utf-8") as fh:
            fh.write(f"{name}:{n} {time.monotonic():.6f}\n")
    if pause:
        where, _, seconds = pause.rpartition(":")
        if where == name:
            time.sleep(float(seconds))
    if kill:
        where, _, nth = kill.partition(":")
        if where == name and n == int(nth or 1):
            os.kill(os.getpid(), signal.SIGKILL)


def reset() -> None:
    """Forget hit counts (a test process that publishes more than once)."""
    _counts.clear()
