"""Inputs a run was extracting in its own process, so that the next run knows them if it died there.

A batch run in the run's process (a run of one batch, or ``--workers 1``) has no worker to
lose: a page that kills the process (out of memory, a crash in a C library) kills the run,
and would kill every later run in turn, since nothing records it. So before such a batch
its inputs are written to ``suspects-<batch>.txt`` in the run's staging area, and removed
after it. The next run sweeps the area of a run that died (``newsmill.store.staging``),
reads these files back, keeps them in its own area (in case it dies too) and runs its
batches in a worker process when it has one of them to do (``batch_runner``): there a page
that kills its worker is a reject (``worker_crashed``), not the run's end.
"""
from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterable, Iterator

PREFIX = "suspects-"


@contextmanager
def noted(folder: str | os.PathLike | None, name: object, refs: Iterable[str]) -> Iterator[None]:
    """``refs`` recorded in ``folder`` (a run's staging area; None: nowhere) for the block."""
    if folder is None:
        yield
        return
    path = keep(folder, name, refs)
    yield
    path.unlink(missing_ok=True)  # not on an exception: the run may be dying of that page


def keep(folder: str | os.PathLike, name: object, refs: Iterable[str]) -> Path:
    path = Path(folder) / f"{PREFIX}{name}.txt"
    path.write_text("".join(f"{r}\n" for r in refs), encoding="utf-8", errors="surrogateescape")
    return path


def read(folder: str | os.PathLike) -> set[str]:
    """The inputs noted in a (dead run's) area."""
    found: set[str] = set()
    try:
        paths = sorted(Path(folder).glob(f"{PREFIX}*.txt"))
    except OSError:
        return found
    for p in paths:
        try:
            found.update(line for line in p.read_text(encoding="utf-8", errors="surrogateescape").splitlines() if line)
        except OSError:
            continue
    return found
