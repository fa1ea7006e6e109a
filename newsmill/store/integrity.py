"""The published version checked against its manifest before a run builds on it, and repaired.

Why: a run builds its version on the current one (unchanged partitions are carried over) and the
input ledger skips inputs whose rows it believes are published. A part file deleted by hand would
so be dropped from the next version while the ledger calls its inputs "unchanged"; a part file with
flipped bytes would stop every run. So before planning (``Output.open``) and again under the
output lock before a build (``publish.publish_run``), the current version is checked:

- **sizes always** (one ``stat`` per file: a missing, truncated or extended file; a Parquet file
  that is not in the manifest, whose rows readers would count twice);
- **hashes before planning** (SHA-256 of every file whose size matches, the only way to see
  flipped bytes), not again under the lock (the files were just hashed; the build rereads them).
  The cost is reading the dataset once per run; see ``docs/BENCHMARKS.md`` ("Verifying the
  output") for what it costs.

Damage is repaired from the kept versions when one of them holds an intact copy of the file:
part files are named by their content hash, and a copy is taken only when its size and full
SHA-256 match the manifest. The copy is hard-linked in by an atomic rename, so the version reads
again exactly as its manifest says. A file not in the manifest is moved aside. Damage that cannot
be repaired is reported in one line (:class:`DamagedOutputError`) and nothing is committed; with
``rebuild`` (``newsmill run --full``) the damaged files are moved aside, dropped from the manifest
(with a warning counting their rows), and the run rebuilds them from its inputs.

A manifest that cannot be parsed, or is missing, is moved aside (``_state/<version>.manifest.json
.corrupt-<UTC time>``) and rebuilt from the part files whose content matches their name; one that
does not is damage as above (repaired from a kept version holding a file of that name and hash).
A file deleted from a version whose manifest was lost cannot be noticed: nothing lists it.

Moved-aside files go to ``_state/aside/<UTC time>/``, never deleted.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import pyarrow.parquet as pq

from newsmill import schema as schemas
from newsmill.config import ConfigError
from newsmill.store import card, croissant, layout, manifest, versions
from newsmill.store.lock import OutputLock

log = logging.getLogger(__name__)

_PART = re.compile(r"^part-([0-9a-f]{16})\.(?:parquet|pq)$")
_CHUNK = 1 << 20


class DamagedOutputError(ConfigError):
    """The current version differs from its manifest and no kept version holds intact copies.
    A ConfigError so that the command line says it in one line, without a traceback."""


@dataclass(frozen=True)
class Problem:
    table: str
    path: str  # relative to the table folder
    kind: str  # missing | size | checksum | extra
    entry: dict | None = None  # the manifest's entry (None: extra)

    def __str__(self) -> str:
        what = {"missing": "missing", "size": "wrong size", "checksum": "does not match its checksum",
                "extra": "not in the manifest"}[self.kind]
        return f"{self.table}/{self.path} {what}"


@dataclass
class Report:
    version: str | None = None
    repaired: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    moved_aside: list[str] = field(default_factory=list)
    manifest_rebuilt: bool = False


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def _data_files(root: Path) -> set[str]:
    """Parquet files a reader of ``root`` would open (regular files; symlinks are publish's business)."""
    found = set()
    if not root.is_dir():
        return found
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [n for n in dirnames if not n.startswith((".", "_"))]
        here = Path(dirpath)
        for fn in filenames:
            p = here / fn
            if fn.endswith((layout.PART_SUFFIX, layout.KEPT_SUFFIX)) and not fn.startswith((".", "_")) \
                    and not p.is_symlink():
                found.add(layout.as_current(p.relative_to(root).as_posix()))
    return found


def check(version_dir: Path, *, hashes: bool = True, m: dict | None = None) -> list[Problem]:
    """Differences between a version and its manifest: sizes always, SHA-256 when ``hashes`` and
    the size matches."""
    version_dir = Path(version_dir)
    m = m if m is not None else manifest.read(version_dir)
    problems = []
    for name, t in m["tables"].items():
        root = version_dir / name
        listed = {f["path"]: f for f in t["files"]}
        for rel, e in sorted(listed.items()):
            p = layout.stored_part(root, rel)
            try:
                size = os.stat(p).st_size
            except FileNotFoundError:
                problems.append(Problem(name, rel, "missing", e))
                continue
            if size != e["bytes"]:
                problems.append(Problem(name, rel, "size", e))
            elif hashes and sha256_file(p) != e["sha256"]:
                problems.append(Problem(name, rel, "checksum", e))
        problems += [Problem(name, rel, "extra") for rel in sorted(_data_files(root) - set(listed))]
    return problems


def ensure_sound(output_dir, run_id: str, *, rebuild: bool, hashes: bool = True) -> Report:
    """Check the current version (and its manifest), repair or move aside what can be, under the
    output lock; raises :class:`DamagedOutputError` for damage left (never with ``rebuild``)."""
    out = Path(output_dir)
    if not (out / versions.CURRENT).is_symlink():
        return Report()
    try:  # first without the lock: a sound output (the usual case) never waits for another run's publish
        cur = versions.Store(out).current()
        m = manifest.read(cur) if cur else None
        if cur is None or (m is not None and not check(cur, hashes=hashes, m=m)):
            return Report(cur.name if cur else None)
    except (OSError, ValueError, versions.LayoutError):
        pass  # damaged, or swapped and collected under our feet: decided again under the lock
    with OutputLock(out, run_id):
        return ensure_sound_locked(versions.Store(out), run_id, rebuild=rebuild, hashes=hashes)


def ensure_sound_locked(store: versions.Store, run_id: str, *, rebuild: bool, hashes: bool = True) -> Report:
    """:func:`ensure_sound` for a caller that holds the output lock."""
    cur = store.current()
    report = Report(cur.name if cur else None)
    if cur is None:
        return report
    try:
        m = manifest.read(cur)
    except manifest.CorruptManifest as exc:
        aside = _move_aside(cur / manifest.NAME, layout.state_dir(store.out) / f"{cur.name}.{manifest.NAME}")
        log.warning("the manifest of %s could not be read (%s): moved to %s; rebuilt from the part files",
                    cur.name, exc, aside)
        m = None
    if m is None:
        m, problems = _rebuild_manifest(store, cur, run_id, report)
    else:
        problems = check(cur, hashes=hashes, m=m)
    if not problems and not report.manifest_rebuilt:
        return report
    stamp = _stamp()
    left = []
    for p in problems:
        if p.kind == "extra":
            dest = layout.state_dir(store.out) / "aside" / stamp / cur.name / p.table / p.path
            _move_aside(cur / p.table / p.path, dest, stamp=False)
            report.moved_aside.append(f"{p.table}/{p.path}")
            log.warning("%s/%s/%s is not in the version's manifest (readers would count its rows twice): "
                        "moved to %s", cur.name, p.table, p.path, dest)
        elif _repair(store, cur, p):
            report.repaired.append(f"{p.table}/{p.path}")
            log.warning("%s/%s/%s was %s: repaired from an intact copy in a kept version", cur.name, p.table,
                        p.path, "missing" if p.kind == "missing" else "damaged")
        else:
            left.append(p)
    if left and not rebuild:  # a rebuilt manifest is not written: the next run finds the same damage
        more = f" and {len(left) - 1} more" if len(left) > 1 else ""
        raise DamagedOutputError(
            f"{store.out}: the published version {cur.name} is damaged ({left[0]}{more}) and no kept version holds "
            f"an intact copy; nothing was published. Restore the file(s) from a backup, or run again with --full "
            f"to rebuild the damaged partitions from the inputs")
    lost_rows = 0 if all((p.entry or {}).get("rows") is not None for p in left) else None
    for p in left:
        src = cur / p.table / p.path
        if src.exists():
            _move_aside(src, layout.state_dir(store.out) / "aside" / stamp / cur.name / p.table / p.path, stamp=False)
        report.dropped.append(f"{p.table}/{p.path}")
        if lost_rows is not None:
            lost_rows += p.entry["rows"]
    if left:
        rows = "rows unknown: no manifest" if lost_rows is None else f"{lost_rows} rows"
        log.warning("%d damaged part file(s) of %s (%s) dropped from it; --full rebuilds them from the inputs "
                    "(rows of inputs no longer given are lost); the damaged files are in %s", len(left), cur.name,
                    rows, layout.state_dir(store.out) / "aside" / stamp)
    if left or report.manifest_rebuilt:  # repaired files and moved-aside extras leave the manifest as it was
        _write_manifest(store, cur, _with_files(m, cur))
    return report


# --- repair ------------------------------------------------------------------------


def _repair(store: versions.Store, cur: Path, p: Problem) -> bool:
    """Link an intact copy of ``p`` from another kept version in place of the damaged one."""
    want = p.entry or {}
    target = cur / p.table / p.path
    for v in sorted(store.versions.iterdir(), reverse=True) if store.versions.is_dir() else ():
        cand = layout.stored_part(v / p.table, p.path)
        if v == cur or not cand.is_file() or cand.is_symlink():
            continue
        try:
            st = os.stat(cand)
            if target.exists() and os.path.samefile(cand, target):
                continue
            if "bytes" in want and st.st_size != want["bytes"]:
                continue
            digest = sha256_file(cand)
        except OSError:
            continue
        if digest != want.get("sha256") and not ("sha256" not in want and _name_matches(cand.name, digest)):
            continue
        store.building.mkdir(parents=True, exist_ok=True)
        tmp = store.building / f".repair-{uuid.uuid4().hex}"
        versions.link_or_copy(cand, tmp)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, target)
        versions.fsync_dir(target.parent)
        return True
    return False


def _name_matches(name: str, digest: str) -> bool:
    m = _PART.match(name)
    return bool(m) and digest.startswith(m.group(1))


# --- manifest ----------------------------------------------------------------------


def _rebuild_manifest(store: versions.Store, cur: Path, run_id: str, report: Report) -> tuple[dict, list[Problem]]:
    """(a marker for :func:`_with_files` to make ``cur``'s manifest from its part files, the part
    files whose content does not match their name: repaired or reported by the caller)."""
    report.manifest_rebuilt = True
    damaged = []
    for name in schemas.TABLES:
        for rel in sorted(_data_files(cur / name)):
            p = cur / name / rel
            if _PART.match(p.name) and not _name_matches(p.name, sha256_file(p)):
                damaged.append(Problem(name, rel, "checksum", {}))
    log.warning("%s had no readable manifest: rebuilt from its part files (%d do not match their name)",
                cur.name, len(damaged))
    seq = versions.next_seq(None, cur) - 1
    return {"rebuilt": {"version": seq, "previous": _previous(store, cur), "run_id": run_id}}, damaged


def _previous(store: versions.Store, cur: Path) -> dict | None:
    """The newest other kept version with a readable manifest, older than ``cur``."""
    older = [v for v in store.versions.iterdir() if v.name < cur.name and v.is_dir()] if store.versions.is_dir() else []
    for v in sorted(older, reverse=True):
        try:
            m = manifest.read(v)
        except manifest.CorruptManifest:
            continue
        if m:
            return m
    return None


def _with_files(m: dict, cur: Path) -> dict:
    """``m`` with its file lists set to the files now in ``cur`` (taking the recorded checksums of
    files listed before), or a new manifest when ``m`` is the rebuild marker."""
    rebuilt = m.get("rebuilt")
    tables = {}
    for name in (schemas.TABLES if rebuilt else m["tables"]):
        s = schemas.load(name) if name in schemas.TABLES else None
        old = {} if rebuilt else {f["path"]: f for f in m["tables"][name]["files"]}
        files = []
        for rel in sorted(_data_files(cur / name)):
            p = layout.stored_part(cur / name, rel)
            e = old.get(rel)
            if e is None:
                e = {**manifest.file_entry(rel, path=p), "path": rel}
            files.append(e)
        t = {} if rebuilt else dict(m["tables"][name])
        t.update({"files": files, "rows": sum(f["rows"] for f in files)})
        if rebuilt:
            t.update({"schema_hash": s.fingerprint, "schema_version": s.version, "stats": None})
        tables[name] = t
    if rebuilt:
        prev = rebuilt["previous"]
        made = manifest.make(version=rebuilt["version"], version_dir=cur.name, previous=prev, run_id=rebuilt["run_id"],
                             pipeline_version=(prev or {}).get("pipeline_version", ""), tables=tables,
                             run_info={"note": "manifest rebuilt from the part files"},
                             pseudonymisation=(prev or {}).get("pseudonymisation", card.DEFAULT_PSEUDONYMISATION))
        made["runs"] = made["runs"][:-1]  # no run made this version's data: keep the provenance it had
        return made
    out = dict(m)
    out["tables"] = tables
    out["row_counts"] = {n: t["rows"] for n, t in tables.items()}
    return out


def _write_manifest(store: versions.Store, cur: Path, m: dict) -> None:
    """Replace ``cur``'s manifest atomically (readers see the old one or the new one), and its
    croissant.json, which lists the same files with their checksums."""
    store.building.mkdir(parents=True, exist_ok=True)
    for name, data in ((layout.CROISSANT, croissant.render(m)), (manifest.NAME, manifest.dumps(m))):
        tmp = store.building / f".{name}-{uuid.uuid4().hex}"
        versions.write_new(tmp, data)
        os.replace(tmp, cur / name)
    versions.fsync_dir(cur)


def _stamp() -> str:
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S.%fZ")


def _move_aside(src: Path, dest: Path, *, stamp: bool = True) -> Path:
    """Rename ``src`` to ``dest`` (``dest.corrupt-<UTC time>`` with ``stamp``); never deletes."""
    if stamp:
        dest = dest.with_name(f"{dest.name}.corrupt-{_stamp()}")
    dest.parent.mkdir(parents=True, exist_ok=True)
    os.rename(src, dest)
    return dest
