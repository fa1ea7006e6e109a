"""Input sources: where page bytes come from.

An input is addressed by one string: a file path, or ``<archive>#<offset>`` for
a record inside a WARC/WET archive (``<archive>#<member>:<offset>`` for a record
inside a gzip member that holds several, see ``warc.MAX_SHARED_MEMBER``).  Strings keep batches small and picklable
for any task runner, and the address is the provenance written on each record.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from newsmill.records import PageInput, Reject
from newsmill.sources import files, warc
from newsmill.sources.files import MAX_PAGE_BYTES, discover


@dataclass
class Inventory:
    """What a run will read: page addresses, plus what was skipped or found damaged while listing."""

    refs: list[str] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)
    skipped: Counter = field(default_factory=Counter)


def inventory(paths: list[str]) -> Inventory:
    """Files from paths/folders/globs; archives opened and listed record by record."""
    out = Inventory()
    found, out.rejects = files.walk(paths)
    for path in found:
        if warc.is_archive(path):
            scan = warc.scan(path)
            out.refs += scan.refs
            out.skipped.update({f"warc:{k}": v for k, v in scan.skipped.items()})
            out.rejects += scan.rejects
        else:
            out.refs.append(path)
    return out


def read_input(ref: str, **limits) -> PageInput | Reject:
    """The page behind an address, or the reason it cannot be used (``limits``: see files.read_input)."""
    path, sep, offset = ref.rpartition("#")
    if sep and warc.is_record_address(offset) and warc.is_archive(path):
        return warc.read_record(ref, max_bytes=limits.get("max_bytes", MAX_PAGE_BYTES))
    return files.read_input(ref, **limits)


__all__ = ["Inventory", "discover", "inventory", "read_input"]
