"""The versions an output keeps, and which one a reader asks for.

Every publish commits a new version (``newsmill.store.versions``) and keeps older ones by the
``[history]`` policy, so an analysis can ask what the dataset, or one thread, looked like at an
earlier time: ``read_tables(output, version=3)``, ``read_tables(output, as_of="2026-11-01")``,
``newsmill versions OUTPUT``. A version is named by its number (``3``), its folder name
(``v000003-<run id>``) or the run id that committed it; ``as_of`` picks the newest version
committed at or before that moment (a date alone means the end of that day, UTC).

Everything here is read from the versions' own manifests, which travel with their data, so the
listing is right for a local folder, for its remote (an object-store URL) and for a copy of
either.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime, time, timezone
from pathlib import Path

from newsmill.config import is_url
from newsmill.store import manifest, remote, versions


class VersionNotFound(LookupError):
    """The version asked for is not among those the output keeps; the message lists what is there."""


@dataclass(frozen=True)
class VersionInfo:
    seq: int
    name: str  # the version's folder, v000003-<run id>
    run_id: str
    created_at: datetime | None
    rows: dict = field(default_factory=dict)  # table -> rows
    changes: dict = field(default_factory=dict)  # table -> what the committing run changed
    current: bool = False

    def as_dict(self) -> dict:
        return {"version": self.seq, "name": self.name, "run_id": self.run_id,
                "created_at": self.created_at.isoformat() if self.created_at else None,
                "rows": self.rows, "changes": self.changes, "current": self.current}


def parse_time(value) -> datetime:
    """An aware UTC datetime from a datetime, a date (its last moment) or ISO text; naive means UTC."""
    if isinstance(value, str):
        text = value.strip()
        try:
            value = datetime.fromisoformat(text.replace("Z", "+00:00")) if "T" in text or " " in text \
                else date.fromisoformat(text)
        except ValueError:
            raise ValueError(f"as_of {value!r} is not a date or time: give it as ISO 8601, e.g. 2026-11-01 or "
                             f"2026-11-01T12:00:00Z") from None
    if isinstance(value, datetime):
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)
    if isinstance(value, date):
        return datetime.combine(value, time.max, tzinfo=timezone.utc)
    raise TypeError(f"as_of must be a date, a datetime or ISO text, not {type(value).__name__}")


def _created(m: dict) -> datetime | None:
    try:
        return parse_time(m["created_at"]) if m.get("created_at") else None
    except (ValueError, TypeError):
        return None


def _info(m: dict, name: str, current: str | None) -> VersionInfo:
    last = (m.get("runs") or [{}])[-1]
    return VersionInfo(seq=int(m.get("version") or versions.seq_of(name) or 0), name=name,
                       run_id=str(m.get("run_id") or ""), created_at=_created(m),
                       rows=dict(m.get("row_counts") or {}), changes=dict(last.get("changes") or {}),
                       current=name == current)


def list_versions(output, *, storage_options: dict | None = None) -> list[VersionInfo]:
    """The versions an output keeps, newest first (the current one flagged)."""
    if is_url(output):
        out = [_info(m, name, cur) for name, m, cur in _remote_manifests(output, storage_options)]
        return sorted(out, key=lambda v: (v.seq, v.name), reverse=True)
    store = versions.Store(Path(output))
    cur = store.current()
    out = []
    if store.versions.is_dir():
        for d in store.versions.iterdir():
            if versions.seq_of(d.name) is None or not d.is_dir():
                continue
            try:
                m = manifest.read(d) or {}
            except manifest.CorruptManifest:
                m = {}
            out.append(_info(m, d.name, cur.name if cur else None))
    return sorted(out, key=lambda v: (v.seq, v.name), reverse=True)


def find(output, *, version=None, as_of=None, storage_options: dict | None = None) -> VersionInfo:
    """The version ``version`` (number, folder name or run id) or the newest one committed by ``as_of``."""
    if version is not None and as_of is not None:
        raise ValueError("give version or as_of, not both")
    kept = list_versions(output, storage_options=storage_options)
    where = remote.display_url(output) if is_url(output) else str(output)
    if not kept:
        raise VersionNotFound(f"{where} holds no published version yet")
    listing = ", ".join(f"{v.seq} ({v.created_at:%Y-%m-%d %H:%M}Z)" if v.created_at else str(v.seq)
                        for v in kept[:12]) + (" …" if len(kept) > 12 else "")
    if version is not None:
        key = str(version).strip()
        for v in kept:
            if key in (str(v.seq), v.name, v.run_id) or (key.isdigit() and int(key) == v.seq):
                return v
        raise VersionNotFound(f"{where} keeps no version {key!r} (kept, newest first: {listing}; "
                              f"older ones were removed by the [history] policy)")
    when = parse_time(as_of)
    for v in kept:  # newest first
        if v.created_at is not None and v.created_at <= when:
            return v
    raise VersionNotFound(f"{where} keeps no version committed by {when:%Y-%m-%d %H:%M:%S}Z (kept, newest first: "
                          f"{listing})")


def _remote_manifests(url: str, storage_options: dict | None):
    """(version name, manifest, current name) of every version a remote output keeps."""
    url = remote.normalize(url)
    fs, root = remote.filesystem(url, storage_options)
    obj = remote.objects(fs, root, url)
    out = []
    with remote.storage_errors(url, "list the versions of"):
        ptr, _ = remote.read_pointer(obj)
        cur = ptr["version_dir"] if ptr else None
        try:
            obj.fs.invalidate_cache(obj.key(remote.VERSIONS))
            names = [p.rstrip("/").rsplit("/", 1)[-1] for p in obj.fs.ls(obj.key(remote.VERSIONS), detail=False)]
        except FileNotFoundError:
            names = []
        for name in names:
            if versions.seq_of(name) is None or (ptr and versions.seq_of(name) > ptr["version"]):
                continue  # a push in progress elsewhere: not committed
            got = obj.read(f"{remote.VERSIONS}/{name}/{manifest.NAME}")
            if got is None:
                continue  # an upload that never completed
            try:
                out.append((name, json.loads(got[0]), cur))
            except ValueError:
                continue
    return out
