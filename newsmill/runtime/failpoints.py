"""Named points in the publishing protocol where a test can kill or pause the process.

Crash safety is only credible if a crash is tried at every step, and a timer
cannot aim at a step that lasts microseconds. Each step calls :func:`hit`; the
environment decides what happens there (nothing, in production):

- ``NEWSMILL_FAILPOINT=name:n``: SIGKILL this process at the n-th hit of ``name``
  (n defaults to 1) — no cleanup handler, ``finally`` or flush runs, as in a
  power cut of the process.
- ``NEWSMILL_FAILPOINT=name@text``: SIGKILL this process at every hit of ``name`` whose subject
  (an input's address, for ``extract``) contains ``text``: a page that kills whichever worker
  extracts it, every time, as one that exhausts the memory or crashes a C library would.
- ``NEWSMILL_FAILPOINT_PAUSE=name:seconds``: sleep there.
- ``NEWSMILL_FAILPOINT_WAIT=name:path``: print ``failpoint <name>`` on stdout, then wait there until
  something is written to the named pipe ``path``: a test holds a run at a step for exactly as long
  as it needs (to make two runs overlap), whatever the machine's load.
- ``NEWSMILL_FAILPOINT_TRACE=path``: append every hit as ``name:n <monotonic time>`` to
  ``path``, so a test can enumerate the points a run really passes instead of keeping a
  list by hand, and order the steps of two processes (the clock is system-wide).
"""
from __future__ import annotations

import os
import signal
import sys
import time
from collections import Counter

_counts: Counter[str] = Counter()


def hit(name: str, subject: str | None = None) -> None:
    kill, pause, wait, trace = (os.environ.get(f"NEWSMILL_FAILPOINT{s}") for s in ("", "_PAUSE", "_WAIT", "_TRACE"))
    if not (kill or pause or wait or trace):
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
    if wait:
        where, _, path = wait.partition(":")
        if where == name:
            try:
                sys.stdout.flush()
            except (AttributeError, ValueError, OSError):
                pass
            # one write of one short line (atomic on a pipe): the workers of a run share its stdout, and
            # two at the point at once must give two lines, not "failpoint xfailpoint x\n\n"
            os.write(1, f"failpoint {name}\n".encode())
            with open(path, "rb") as fifo:  # blocks until the test opens the pipe for writing
                fifo.read()
    if kill:
        where, at, text = kill.partition("@")
        if at:
            if where == name and subject is not None and text in subject:
                os.kill(os.getpid(), signal.SIGKILL)
            return
        where, _, nth = kill.partition(":")
        if where == name and n == int(nth or 1):
            os.kill(os.getpid(), signal.SIGKILL)


def reset() -> None:
    """Forget hit counts (a test process that publishes more than once)."""
    _counts.clear()
