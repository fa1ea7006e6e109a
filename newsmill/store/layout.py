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
      quarantine/<table>/<run id>.parquet, quarantine/rejects/<run id>.parquet
      reports/<run id>/    summary.json, summary.md, summary.html, validation.json, data_docs/; reports/LATEST
      raw/<run id>.warc.gz the pages a run fetched from live sources

A remote output (``newsmill.store.remote``) has the same layout under its URL, with a pointer
instead of ``current``. Every path is derived here from the output folder and the run id.
"""
from __future__ import annotations

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


def table_glob(table: str, partition_by: tuple[str, ...]) -> str:
    """The glob of a table's part files, relative to a version folder (or the output folder, through
    its stable links): what the card's front matter and croissant.json give readers."""
    return f"{table}/" + "".join(f"{col}=*/" for col in partition_by) + "*.parquet"


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
    return f"{QUARANTINE}/{table}/{run_id}.parquet"


def quarantine_file(output_dir, table: str, run_id: str) -> Path:
    return Path(output_dir) / quarantine_rel(table, run_id)


def quarantine_dir(output_dir) -> Path:
    return Path(output_dir) / QUARANTINE


def raw_rel(run_id: str) -> str:
    return f"{RAW}/{run_id}.warc.gz"


def suppressed_file(output_dir) -> Path:
    return Path(output_dir).joinpath(*SUPPRESSED)


def quarantine_files(output_dir) -> list[tuple[str, str, Path]]:
    """(table or ``rejects``, run id, path) of every quarantine file, sorted."""
    root = quarantine_dir(output_dir)
    if not root.is_dir():
        return []
    return [(p.parent.name, p.name[: -len(".parquet")], p) for p in sorted(root.glob("*/*.parquet"))
            if not p.name.startswith((".", "_"))]


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
