"""Quarantine: the rows validation keeps back, with why, and the rules that decide which go together.

One place for what the whole-table run (``gx_run``) and the checks that span chunks (``chunked``)
both do: the severity order, the quarantine table's shape, and the rule that the comments of a
quarantined article go with it (published alone they would be orphans).
"""
from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from newsmill import schema

SEVERITIES = ("warning", "error", "critical")  # ascending
QUARANTINING = ("error", "critical")  # a failed check of these severities keeps the row back


def worse(a: str | None, b: str) -> str:
    """The worse of two severities (``a`` None: none yet)."""
    return b if a is None or SEVERITIES.index(b) > SEVERITIES.index(a) else a


def quarantine_schema(name: str) -> pa.Schema:
    """The table's schema, all fields nullable (failing rows may miss required values), plus why."""
    base = schema.load(name).arrow()
    return pa.schema(
        [f.with_nullable(True) for f in base]
        + [pa.field("quarantine_reasons", pa.list_(pa.string()),
                    metadata={"description": "Reason of every failed check that quarantined the row."}),
           pa.field("quarantine_severity", pa.string(),
                    metadata={"description": "Worst severity among those checks: 'error' or 'critical'."})],
        metadata={**base.metadata, b"newsmill.quarantine": b"true"},
    )


def quarantine_rows(name: str, rows: pa.Table, reasons: list[list[str]], severities: list[str]) -> pa.Table:
    """``rows`` of table ``name`` as quarantine rows: the schema's columns, then their reasons and severity."""
    qs = quarantine_schema(name)
    fields = list(qs)[:-2]
    q = rows.select([f.name for f in fields]).cast(pa.schema(fields))
    q = q.append_column(qs.field("quarantine_reasons"), pa.array(reasons, pa.list_(pa.string())))
    q = q.append_column(qs.field("quarantine_severity"), pa.array(severities, pa.string()))
    return q.cast(qs)


def article_reason(reasons: list[str]) -> str:
    """A comment's reason when it follows its quarantined article."""
    return f"article quarantined: {'; '.join(reasons)}"


def following_comments(article_ids: pa.Array | pa.ChunkedArray, quarantined: dict[str, tuple[list[str], str]]
                       ) -> tuple[np.ndarray, list[str], list[str]]:
    """Comments (given by their ``article_id`` column) whose article is quarantined: their row positions,
    each one's reason and severity (those of its article). ``quarantined``: article id -> (reasons, severity)."""
    if not quarantined:
        return np.empty(0, dtype=np.int64), [], []
    follow = pc.fill_null(pc.is_in(article_ids, value_set=pa.array(list(quarantined), article_ids.type)), False)
    rows = np.flatnonzero(follow.to_numpy(zero_copy_only=False))
    aids = article_ids.take(pa.array(rows, pa.int64())).to_pylist()
    return rows, [article_reason(quarantined[a][0]) for a in aids], [quarantined[a][1] for a in aids]


SAMPLES_PER_REASON = 3


def samples(tables: dict[str, pa.Table], record: dict[str, list[str]], into: dict | None = None) -> dict:
    """Add quarantined ``tables`` (quarantine rows by table) to ``into``: per table, per reason, the rows it
    quarantined, their worst severity and the first ``SAMPLES_PER_REASON`` of them named by their record
    (``record``: table -> the columns that name one), for a report a person reads."""
    into = {} if into is None else into
    for name, q in tables.items():
        if q is None or not q.num_rows:
            continue
        per = into.setdefault(name, {})
        counts = pc.value_counts(pc.list_flatten(q.column("quarantine_reasons")))
        for v, n in zip(counts.field("values").to_pylist(), counts.field("counts").to_pylist()):
            per.setdefault(v, {"rows": 0, "severity": None, "records": []})["rows"] += n
        cols = [c for c in record[name] if c in q.column_names]
        ids = q.select(cols).to_pylist()
        for rec, reasons, sev in zip(ids, q.column("quarantine_reasons").to_pylist(),
                                     q.column("quarantine_severity").to_pylist()):
            for r in reasons or []:
                e = per[r]
                e["severity"] = worse(e["severity"], sev)
                if len(e["records"]) < SAMPLES_PER_REASON:
                    e["records"].append({k: _shown(v) for k, v in rec.items()})
    return into


def _shown(value):
    return value.isoformat() if hasattr(value, "isoformat") else value
