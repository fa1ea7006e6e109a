"""The manifest of a dataset version: what is in it, where it came from, how to check it.

It lives inside the version (``current/manifest.json``), so it switches with the
data and always describes exactly the files a reader sees. Checksums let anyone
verify a copy (:func:`verify`); checksums of files carried over unchanged are
taken from the previous manifest rather than recomputed (a carried-over file is
a hard link to the same bytes), so a run hashes only what it wrote.
"""
from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone
from pathlib import Path

import pyarrow.parquet as pq

from newsmill.store import layout

FORMAT = "newsmill.dataset-manifest/1"
NAME = "manifest.json"
MAX_RUNS = 50  # provenance kept in the manifest; older runs stay in reports/


class CorruptManifest(ValueError):
    """A manifest that is not JSON, or not a manifest (``newsmill.store.integrity`` moves it aside
    and rebuilds it)."""


def read(version_dir: Path) -> dict | None:
    """The manifest of a version; None when it has none; :class:`CorruptManifest` when unreadable."""
    p = Path(version_dir) / NAME
    if not p.is_file():
        return None
    try:
        m = json.loads(p.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CorruptManifest(f"{p}: {type(exc).__name__}: {exc}") from None
    tables = m.get("tables") if isinstance(m, dict) else None
    if not isinstance(tables, dict) or not all(
            isinstance(t, dict) and isinstance(t.get("files"), list)
            and all(isinstance(f, dict) and {"path", "bytes", "sha256", "rows"} <= f.keys() for f in t["files"])
            for t in tables.values()):
        raise CorruptManifest(f"{p}: not a dataset manifest (no tables and their files)")
    return m


def dumps(m: dict) -> bytes:
    return (json.dumps(m, indent=1, sort_keys=True, default=str) + "\n").encode()


def file_entry(rel: str, data: bytes | None = None, *, path: Path | None = None, rows: int | None = None) -> dict:
    """Checksum and size of a data file, from its bytes (just written) or from disk."""
    if data is None:
        data = path.read_bytes()
    if rows is None:
        rows = pq.ParquetFile(path).metadata.num_rows
    return {"path": rel, "rows": rows, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def make(*, version: int, version_dir: str, previous: dict | None, run_id: str, pipeline_version: str,
         tables: dict[str, dict], run_info: dict | None, pseudonymisation: str) -> dict:
    """``tables``: name -> {"schema_hash", "schema_version", "files": [file_entry...], "stats": {...}}."""
    # milliseconds: two runs can commit within one second, and `as_of` must tell them apart
    now = datetime.now(timezone.utc).isoformat(timespec="milliseconds")
    for t in tables.values():
        t["files"] = sorted(t["files"], key=lambda f: f["path"])
        t["rows"] = sum(f["rows"] for f in t["files"])
    run = {"run_id": run_id, "created_at": now, "pipeline_version": pipeline_version,
           "changes": {n: t.get("stats") for n, t in tables.items()}, **(run_info or {})}
    runs = [*(previous or {}).get("runs", []), run][-MAX_RUNS:]
    return {
        "format": FORMAT,
        "version": version,
        "version_dir": version_dir,
        "previous": (previous or {}).get("version_dir"),
        "run_id": run_id,
        "created_at": now,
        "pipeline_version": pipeline_version,
        "pseudonymisation": pseudonymisation,
        "row_counts": {n: t["rows"] for n, t in tables.items()},
        "tables": tables,
        "runs": runs,
    }


def verify(version_dir: Path) -> list[str]:
    """Problems found (empty: the version matches its manifest): missing, extra or altered files."""
    version_dir = Path(version_dir)
    m = read(version_dir)
    if m is None:
        return [f"{version_dir}: no {NAME}"]
    problems = []
    for name, t in m["tables"].items():
        root = version_dir / name
        listed = {f["path"]: f for f in t["files"]}
        # a part file is named .parquet while its version is current, .pq otherwise (newsmill.store.layout)
        stored = {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file() or p.is_symlink()}
        on_disk = {layout.as_current(rel): rel for rel in stored}
        problems += [f"{name}: missing {p}" for p in sorted(set(listed) - on_disk.keys())]
        problems += [f"{name}: not in the manifest: {p}" for p in sorted(on_disk.keys() - set(listed))]
        for rel in sorted(set(listed) & on_disk.keys()):
            data = (root / on_disk[rel]).read_bytes()
            if (hashlib.sha256(data).hexdigest(), len(data)) != (listed[rel]["sha256"], listed[rel]["bytes"]):
                problems.append(f"{name}: {rel} does not match its checksum")
    return problems


def run_info(inputs: int, outcome, rejects: list[dict], *, unchanged: int = 0, published: dict | None = None,
             quarantined: dict | None = None) -> dict:
    """The run facts the dataset card reports, from what ``pipeline.finalize`` has at hand.
    ``published``/``quarantined`` (rows per table) default to the sizes of the outcome's tables."""
    reasons: dict[str, int] = {}
    for r in rejects:
        reasons[r["reason"]] = reasons.get(r["reason"], 0) + 1
    failed = [{"table": o.table, "severity": o.severity, "expectation": o.expectation, "column": o.column,
               "unexpected_count": o.unexpected_count, "element_count": o.element_count, "reason": o.reason}
              for o in outcome.outcomes if not o.success]
    return {
        "inputs": inputs,
        "published": published if published is not None else {"articles": outcome.articles.num_rows,
                                                              "comments": outcome.comments.num_rows},
        "quarantined": quarantined if quarantined is not None else {n: t.num_rows for n, t in outcome.quarantine.items()},
        "rejected": len(rejects),
        "unchanged_inputs": unchanged,  # skipped: an earlier run processed the same bytes (incremental runs)
        "reject_reasons": dict(sorted(reasons.items())),
        "validation": {"expectations": len(outcome.outcomes), "failed": failed,
                       "critical_failed": bool(outcome.critical_failed)},
    }
