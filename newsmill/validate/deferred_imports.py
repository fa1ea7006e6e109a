"""Modules that Great Expectations imports and newsmill never uses, loaded only when something uses them.

Importing ``great_expectations`` loads every expectation class it ships, and one of them (the
KL-divergence expectation) imports ``scipy.stats`` and ``altair`` at module level: about a quarter
of GX's import time, paid by every fresh ``newsmill run`` process, although no newsmill suite uses
an expectation that needs them (docs/BENCHMARKS.md has the figures). Until then they stand in
``sys.modules`` as placeholders that import the real module the first time one of their attributes
is read, so code that does use them still works and pays at that moment.
"""
from __future__ import annotations

import importlib
import importlib.util
import sys
import threading
import types

DEFERRED = ("scipy.stats", "altair")

_lock = threading.RLock()  # the real import may read an attribute of a stand-in on the same thread


class Deferred(types.ModuleType):
    """Stands in for a module until one of its attributes is read; then the real module is imported
    (replacing this in ``sys.modules``) and its namespace copied here, for the names bound to this."""

    def __getattr__(self, attr: str):
        name = self.__name__
        with _lock:
            if sys.modules.get(name) is self:
                del sys.modules[name]
                parent, _, child = name.rpartition(".")
                if parent and getattr(sys.modules.get(parent), child, None) is self:
                    delattr(sys.modules[parent], child)  # the package's own `from scipy import stats` while importing
            real = importlib.import_module(name)
            self.__dict__.update(real.__dict__)
        return getattr(real, attr)


def defer(names=DEFERRED) -> list[str]:
    """Place a stand-in for each of ``names`` that is installed and not yet imported; the ones placed."""
    placed = []
    for name in names:
        if name in sys.modules:
            continue
        parent, _, child = name.rpartition(".")
        try:
            if importlib.util.find_spec(name) is None:
                continue  # not installed: an import of it fails as it would without us
        except (ImportError, ValueError):
            continue
        sys.modules[name] = Deferred(name)
        if parent:  # `from scipy import stats` reads the attribute of the package
            setattr(sys.modules[parent], child, sys.modules[name])
        placed.append(name)
    return placed
