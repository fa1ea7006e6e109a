"""Where things live in an output folder: the one module that knows its layout.

::

    <output>/
      articles, comments, manifest.json, README.md, current, _versions/, _building/
                   the published versions (``newsmill.store.versions``); README.md is the dataset
                   card (``newsmill.store.card``); each version also holds croissant.json, its
                   Croissant metadata (``newsmill.store.croissant``), read as current/croissant.json
      _state/      what the output remembers between runs: the publish lock, the input ledger,
                   the author key and mode, the HTTP cache of live sources, runs' work areas
                   (``staging/<run id>/``)
      _staging/<run id>/   side files being written, renamed into place when complete
      quarantine/<table>/<run id>.pq, quarantine/rejects/<run id>.pq
      reports/<run id>/    summary.json, summary.md, summary.html, validation.json, data_docs/; reports/LATEST
      raw/<run id>.warc.gz the pages a run fetched from live sources

A remote output (``newsmill.store.remote``) has the same layout under its URL, with a pointer
instead of ``current``. Every path is derived here from the output folder and the run id.

Only the current version's part files end in ``.parquet``: DuckDB and Polars ``**`` globs descend
every folder whatever its name (``_`` or ``.`` hides nothing from them) and Polars follows
symlinks, so the one thing a ``output/**/*.parquet`` cannot match is a name. Kept older versions,
a version being built and quarantine files hold the same Parquet bytes under ``.pq``
(``KEPT_SUFFIX``); a version's part files are renamed when it becomes current or stops being
current (``newsmill.store.versions``). Manifests always name a part file ``.parquet``:
:func:`stored_part` finds it under either name.
"""
from __future__ import annotations

import os
from pathlib import Path

STATE = "_state"
SIDE_STAGING = "_staging"
QUARANTINE = "quarantine"
REPORTS = "reports"
RAW = "raw"
LATEST = "LATEST"

CARD = "README.md"
CROISSANT = "croissant.json"

LOCK = (STATE, "lock")
SUPPRESSED = (STATE, "suppressed.json")  # keyed hashes of erased ids (``newsmill.store.erasure``)
LEDGER = (STATE, "ledger.sqlite")
WORK_AREAS = (STATE, "staging")


PART_SUFFIX = ".parquet"  # the current version's part files: what readers' globs match
KEPT_SUFFIX = ".pq"  # the same Parquet files anywhere else in the output folder: no *.parquet glob matches them
TMP_SUFFIX = ".tmp"  # a file being written


def part_name(digest: str, *, current: bool = True) -> str:
    """A part file's name: its content hash, and its suffix by role (see the module docstring)."""
    return f"part-{digest[:16]}{PART_SUFFIX if current else KEPT_SUFFIX}"


def is_part(name: str) -> bool:
    return name.startswith("part-") and name.endswith((PART_SUFFIX, KEPT_SUFFIX))


def as_current(name: str) -> str:
    """A part file's name (or path) as the manifest and the current version spell it."""
    return name[: -len(KEPT_SUFFIX)] + PART_SUFFIX if name.endswith(KEPT_SUFFIX) else name


def as_kept(name: str) -> str:
    return name[: -len(PART_SUFFIX)] + KEPT_SUFFIX if name.endswith(PART_SUFFIX) else name


def stored_part(table_root, rel: str) -> Path:
    """The file of a manifest entry (``rel``, relative to a version's table folder) under the name it
    has now: ``.parquet`` in the current version, ``.pq`` in a kept or building one."""
    p = Path(table_root) / rel
    if os.path.lexists(p):
        return p
    alt = Path(table_root) / as_kept(rel)
    return alt if os.path.lexists(alt) else p


def table_glob(table: str, partition_by: tuple[str, ...], *, any_role: bool = False) -> str:
    """The glob of a table's part files, relative to a version folder (or the output folder, through
    its stable links): what the card's front matter (Hugging Face infers the format from the suffix)
    gives readers. ``any_role``: the part files under either name, so that a kept version's
    croissant.json still reads (Croissant takes the format from ``encodingFormat``)."""
    name = "part-*" if any_role else f"*{PART_SUFFIX}"
    return f"{table}/" + "".join(f"{col}=*/" for col in partition_by) + name


def folder_columns(table_manifest: dict | None, default: tuple[str, ...]) -> tuple[str, ...]:
    """The columns a version's part files of one table keep in folder names, from its manifest entry's
    file paths (``year=2020/part-....parquet``: ``('year',)``); a version written before issue 15's
    compaction has ``source=<site>/year=<y>/``. ``default`` (the schema's ``partition_by``) when it
    lists no file."""
    files = (table_manifest or {}).get("files") or []
    if not files:
        return tuple(default)
    return tuple(seg.split("=", 1)[0] for seg in files[0]["path"].split("/")[:-1] if "=" in seg)


def state_dir(output_dir) -> Path:
    return Path(output_dir) / STATE


def lock_file(output_dir) -> Path:
    return Path(output_dir).joinpath(*LOCK)


def ledger_file(output_dir) -> Path:
    return Path(output_dir).joinpath(*LEDGER)


def work_areas(output_dir) -> Path:
    """The folder of the runs' work areas (``newsmill.store.staging``)."""
    return Path(output_dir).joinpath(*WORK_AREAS)


def side_staging(output_dir, run_id: str) -> Path:
    return Path(output_dir) / SIDE_STAGING / run_id


def quarantine_rel(table: str, run_id: str) -> str:
    """``table`` is a record table, or ``rejects`` (the inputs that gave no record)."""
    return f"{QUARANTINE}/{table}/{run_id}{KEPT_SUFFIX}"


def quarantine_file(output_dir, table: str, run_id: str) -> Path:
    return Path(output_dir) / quarantine_rel(table, run_id)


def quarantine_dir(output_dir) -> Path:
    return Path(output_dir) / QUARANTINE


def legacy_quarantine(output_dir) -> list[Path]:
    """Quarantine files an older newsmill named ``.parquet`` (renamed on the next publish)."""
    q = quarantine_dir(output_dir)
    return sorted(q.glob(f"*/*{PART_SUFFIX}")) if q.is_dir() else []


def raw_rel(run_id: str) -> str:
    return f"{RAW}/{run_id}.warc.gz"


def suppressed_file(output_dir) -> Path:
    return Path(output_dir).joinpath(*SUPPRESSED)


def quarantine_files(output_dir) -> list[tuple[str, str, Path]]:
    """(table or ``rejects``, run id, path) of every quarantine file, sorted."""
    root = quarantine_dir(output_dir)
    if not root.is_dir():
        return []
    return [(p.parent.name, p.name[: -len(p.suffix)], p) for p in sorted(root.glob("*/*"))
            if p.suffix in (KEPT_SUFFIX, PART_SUFFIX) and not p.name.startswith((".", "_"))]  # .parquet: not yet settled


def raw_files(output_dir) -> list[Path]:
    """The raw WARCs live runs kept (``raw/<run id>.warc.gz``)."""
    root = Path(output_dir) / RAW
    return sorted(root.glob("*.warc.gz")) if root.is_dir() else []


HTTP_CACHE = (STATE, "http_cache.json")


def run_finished(output_dir, run_id: str) -> bool:
    """Whether the run got as far as its report (its pages were processed)."""
    return bool(run_id) and (report_dir(output_dir, run_id) / "summary.json").exists()


def live_places(output_dir, run_id: str):
    """Where a live fetch of ``run_id`` keeps its raw capture and HTTP validators (``sources.live``)."""
    from newsmill.sources.live import LivePlaces

    return LivePlaces(raw=Path(output_dir) / raw_rel(run_id), http_cache=Path(output_dir).joinpath(*HTTP_CACHE),
                      finished=lambda rid: run_finished(output_dir, rid))


def side_files(run_id: str) -> list[str]:
    """A run's files outside the versions, relative to the output: what a remote commit uploads with it."""
    return [quarantine_rel("articles", run_id), quarantine_rel("comments", run_id),
            quarantine_rel("rejects", run_id), raw_rel(run_id)]


def report_rel(run_id: str) -> str:
    return f"{REPORTS}/{run_id}"


def report_dir(output_dir, run_id: str) -> Path:
    return Path(output_dir) / report_rel(run_id)


def latest_report_rel() -> str:
    return f"{REPORTS}/{LATEST}"


def latest_report(output_dir) -> Path:
    """Names the newest run's report folder (one line: its run id)."""
    return Path(output_dir) / latest_report_rel()
