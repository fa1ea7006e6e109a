"""Progress of a run: pages processed, advanced as each batch completes.

The command line installs a display for the length of a run (:func:`display`); the
pipeline and the flow only call :func:`tracking` and :func:`batch_done`, which do
nothing when no display is installed (tests, notebooks, scheduled runs). The flow also logs
progress lines (:func:`logged`) into its Prefect run's logs.

On a terminal the display is a rich progress bar. Forced (``newsmill run
--progress``) on anything else, e.g. a CI log, it prints one plain line at most
every ``every`` seconds, and one at the end: a log gets a few lines, not a frame
per update.
"""
from __future__ import annotations

import sys
import threading
import time
from contextlib import contextmanager
from typing import TextIO

_current: "_Display | None" = None
_logged: "list[_Display]" = []  # displays that write to a log (the flow run's logs), besides the terminal's
_lock = threading.Lock()


class _Display:
    def start(self, total: int, unchanged: int) -> None: ...
    def advance(self, pages: int) -> None: ...
    def stop(self) -> None: ...


class _Bar(_Display):
    def __init__(self, stream: TextIO):
        from rich.console import Console
        from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                                   TimeRemainingColumn)

        self._progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                  TextColumn("pages"), TimeElapsedColumn(), TimeRemainingColumn(),
                                  console=Console(file=stream), transient=False)
        self._task = None

    def start(self, total: int, unchanged: int) -> None:
        label = "extract + clean" + (f" ({unchanged} unchanged, skipped)" if unchanged else "")
        self._progress.start()
        self._task = self._progress.add_task(label, total=total)

    def advance(self, pages: int) -> None:
        if self._task is not None:
            self._progress.advance(self._task, pages)

    def stop(self) -> None:
        self._progress.stop()


class _Lines(_Display):
    def __init__(self, stream: TextIO, every: float):
        self.stream, self.every = stream, every
        self.total = self.done = 0
        self.t0 = self.last = 0.0

    def start(self, total: int, unchanged: int) -> None:
        self.total, self.done = total, 0
        self.t0 = self.last = time.monotonic()
        skipped = f", {unchanged} unchanged inputs skipped" if unchanged else ""
        self._print(f"progress: {total} pages to extract in batches{skipped}")

    def advance(self, pages: int) -> None:
        self.done += pages
        now = time.monotonic()
        if now - self.last >= self.every and self.done < self.total:
            self.last = now
            self._print(self._line(now))

    def stop(self) -> None:
        self._print(self._line(time.monotonic()))

    def _line(self, now: float) -> str:
        rate = self.done / max(now - self.t0, 1e-9)
        pct = 100.0 * self.done / self.total if self.total else 100.0
        left = f", ~{(self.total - self.done) / rate:.0f} s left" if 0 < self.done < self.total and rate else ""
        return f"progress: {self.done}/{self.total} pages ({pct:.0f}%), {rate:.1f} pages/s{left}"

    def _print(self, line: str) -> None:
        print(line, file=self.stream, flush=True)


@contextmanager
def display(enabled: bool | None = None, *, stream: TextIO | None = None, every: float = 10.0):
    """Show progress for runs inside the block. ``enabled``: None = only when ``stream`` (stdout)
    is a terminal; True = always (a bar on a terminal, plain lines otherwise); False = never."""
    global _current
    stream = stream or sys.stdout
    tty = bool(getattr(stream, "isatty", lambda: False)())
    if enabled is False or (enabled is None and not tty):
        yield
        return
    previous, _current = _current, (_Bar(stream) if tty else _Lines(stream, every))
    try:
        yield
    finally:
        _current = previous


class _LogLines(_Lines):
    """The plain lines of ``_Lines``, as INFO records of a logger (in a Prefect run: its logs in the UI)."""

    def __init__(self, logger, every: float):
        super().__init__(sys.stdout, every)
        self.logger = logger

    def _print(self, line: str) -> None:
        self.logger.info(line)


@contextmanager
def logged(logger, every: float = 10.0):
    """Also log progress to ``logger`` for runs inside the block: a line at the start, at most one every
    ``every`` seconds, one at the end, whatever the terminal shows (a bar, lines or nothing)."""
    d = _LogLines(logger, every)
    _logged.append(d)
    try:
        yield
    finally:
        _logged.remove(d)


def _displays() -> list[_Display]:
    return [d for d in (_current, *_logged) if d is not None]


@contextmanager
def tracking(plan):
    """Around a run's batches (``plan``: a ``pipeline.Plan``): starts and stops the installed displays."""
    shown = _displays()
    for d in shown:
        d.start(sum(len(b) for b in plan.batches), plan.listed.unchanged)
    try:
        yield
    finally:
        for d in shown:
            d.stop()


def batch_done(pages: int) -> None:
    shown = _displays()
    if shown:
        with _lock:
            for d in shown:
                d.advance(pages)
