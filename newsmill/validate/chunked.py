"""Validating a run chunk by chunk, with the one check that spans chunks done on keys.

``validate.validate_tables`` validates two tables held in memory; a run of 100k
pages does not fit. Every expectation of the suites is about one row, or about
an article and its own comments, which always come from the same page and so
the same batch and chunk, except uniqueness: two chunks can hold the same key.
So ``pipeline.finalize`` validates bounded chunks (whole batches, in plan order)
and, beforehand, finds the keys that occur more than once in the whole run from
the key columns alone (:class:`Uniqueness`); after each chunk's validation the
rows with such a key are quarantined with the expectation's own reason and
severity, as a whole-run validation would have done (:func:`apply_uniqueness`).
:class:`Merger` adds the chunks' outcomes up into one (counts, samples, GX
results for Data Docs and the report).

GX costs ~0.5 s per ``validate_tables`` call whatever its size, and its memory
grows with the rows, hence chunks of tens of MB rather than per batch.
"""
from __future__ import annotations

import copy
import json
from collections import Counter
from dataclasses import dataclass, replace

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from newsmill import schema
from newsmill.validate import gx_run
from newsmill.validate import quarantine as quarantine_mod
from newsmill.validate.quarantine import following_comments, quarantine_rows, worse

UNIQUE_TYPES = ("expect_column_values_to_be_unique", "expect_compound_columns_to_be_unique",
                "expect_multicolumn_values_to_be_unique")
MAX_ROW_LIST = 10_000  # per expectation: full per-row lists (COMPLETE format) kept in the merged GX results


@dataclass(frozen=True)
class UniqueCheck:
    table: str
    index: int  # position in the suite (and in the table's outcomes)
    type: str
    columns: tuple[str, ...]
    severity: str
    reason: str


def unique_checks() -> list[UniqueCheck]:
    """The suites' uniqueness expectations, read from the suite files (the one place they are declared)."""
    out = []
    for name in schema.TABLES:
        spec = gx_run.read_spec(name)
        for i, e in enumerate(spec["expectations"]):
            if e["type"] in UNIQUE_TYPES:
                kw = e.get("kwargs", {})
                cols = tuple(kw["column_list"]) if "column_list" in kw else (kw["column"],)
                out.append(UniqueCheck(name, i, e["type"], cols, e["meta"]["severity"], e["meta"]["reason"]))
    return out


class Uniqueness:
    """Keys of every row of the run (only the key columns are held), then the duplicated ones."""

    def __init__(self, checks: list[UniqueCheck]):
        self.checks = checks
        self._keys: dict[UniqueCheck, list[pa.Array]] = {c: [] for c in checks}
        self.duplicates: dict[UniqueCheck, pa.Array] = {}
        self.counts: dict[UniqueCheck, int] = {}  # rows whose key is duplicated, in the whole run

    def columns(self, table: str) -> list[str]:
        return sorted({col for c in self.checks if c.table == table for col in c.columns})

    def add(self, table: str, rows: pa.Table) -> None:
        for c in self.checks:
            if c.table == table and rows.num_rows:
                self._keys[c].append(schema.row_key(rows, c.columns).drop_null())

    def finish(self) -> None:
        for c, parts in self._keys.items():
            keys = pa.chunked_array(parts, pa.string()) if parts else pa.chunked_array([], pa.string())
            counts = pc.value_counts(keys) if len(keys) else None
            if counts is None:
                dup, n = pa.array([], pa.string()), 0
            else:
                many = pc.greater(counts.field("counts"), 1)
                dup = counts.field("values").filter(many)
                n = int(pc.sum(counts.field("counts").filter(many)).as_py() or 0)
            self.duplicates[c], self.counts[c] = dup, n
        self._keys = {}

    def any(self) -> bool:
        return any(len(d) for d in self.duplicates.values())


def apply_uniqueness(outcome: gx_run.ValidationOutcome, uniq: Uniqueness) -> gx_run.ValidationOutcome:
    """Quarantine the chunk's rows whose key is duplicated elsewhere in the run (see the module docstring)."""
    if not uniq.any():
        return outcome
    passed = {"articles": outcome.articles, "comments": outcome.comments}
    quarantine = dict(outcome.quarantine)
    moved_articles: dict[str, tuple[list[str], str]] = {}
    for c in uniq.checks:
        dup = uniq.duplicates.get(c)
        if dup is None or not len(dup):
            continue
        passed[c.table], quarantine[c.table], moved = _flag(c.table, passed[c.table], quarantine.get(c.table),
                                                            c, dup)
        if c.table == "articles":
            moved_articles.update(moved)
    if moved_articles:  # comments of a quarantined article go with it (as in validate_tables)
        coms = passed["comments"]
        rows, whys, sevs = following_comments(coms.column("article_id"), moved_articles)
        if len(rows):
            keep = np.ones(coms.num_rows, dtype=bool)
            keep[rows] = False
            gone = coms.take(pa.array(rows, pa.int64()))
            passed["comments"] = coms.filter(pa.array(keep))
            quarantine["comments"] = _append_quarantine("comments", quarantine.get("comments"), gone,
                                                        [[w] for w in whys], sevs)
    return replace(outcome, articles=passed["articles"], comments=passed["comments"], quarantine=quarantine)


def _flag(name: str, passed: pa.Table, quarantined: pa.Table | None, c: UniqueCheck, dup: pa.Array):
    moved = {}
    mask = pc.fill_null(pc.is_in(schema.row_key(passed, c.columns), value_set=dup), False)
    if quarantined is not None and quarantined.num_rows:
        qmask = pc.fill_null(pc.is_in(schema.row_key(quarantined, c.columns), value_set=dup), False)
        if pc.any(qmask).as_py():  # already quarantined for another reason: add this one
            reasons = quarantined.column("quarantine_reasons").to_pylist()
            sev = quarantined.column("quarantine_severity").to_pylist()
            for i, hit in enumerate(qmask.to_pylist()):
                if hit and c.reason not in reasons[i]:
                    reasons[i] = [*reasons[i], c.reason]
                    sev[i] = worse(sev[i], c.severity)
            quarantined = quarantined.set_column(quarantined.schema.get_field_index("quarantine_reasons"),
                                                 quarantined.schema.field("quarantine_reasons"),
                                                 pa.array(reasons, pa.list_(pa.string())))
            quarantined = quarantined.set_column(quarantined.schema.get_field_index("quarantine_severity"),
                                                 quarantined.schema.field("quarantine_severity"),
                                                 pa.array(sev, pa.string()))
    if pc.any(mask).as_py():
        gone = passed.filter(mask)
        passed = passed.filter(pc.invert(mask))
        quarantined = _append_quarantine(name, quarantined, gone, [[c.reason]] * gone.num_rows,
                                         [c.severity] * gone.num_rows)
        if name == "articles":
            moved = {a: ([c.reason], c.severity) for a in gone.column("article_id").to_pylist() if a is not None}
    return passed, quarantined, moved


def _append_quarantine(name: str, quarantined: pa.Table | None, rows: pa.Table, reasons, severity) -> pa.Table:
    q = quarantine_rows(name, rows, reasons, severity)
    return q if quarantined is None or not quarantined.num_rows else pa.concat_tables([quarantined.cast(q.schema), q])


# --- adding outcomes up -------------------------------------------------------------------------


class Merger:
    """One run's outcome from its chunks' outcomes: counts summed, samples and row lists concatenated
    (row positions shifted to the whole run's), success recomputed."""

    def __init__(self):
        self.outcomes: list[gx_run.ExpectationOutcome] | None = None
        self.gx: dict[str, dict] = {}
        self.rows = {n: 0 for n in schema.TABLES}  # rows validated so far, per table
        self.samples: dict = {}  # quarantine reasons with a few records each (``quarantine.samples``)
        self._record = {n: gx_run.record_columns(n) for n in schema.TABLES}

    def add(self, outcome: gx_run.ValidationOutcome, rows: dict[str, int]) -> None:
        if self.outcomes is None:
            self.outcomes = [copy.copy(o) for o in outcome.outcomes]
            for o in self.outcomes:
                o.sample, o.records = list(o.sample), list(o.records)
        else:
            for m, o in zip(self.outcomes, outcome.outcomes, strict=True):
                if (m.table, m.expectation, m.column) != (o.table, o.expectation, o.column):
                    raise RuntimeError("chunks were validated with different suites")
                m.unexpected_count += o.unexpected_count
                m.element_count += o.element_count
                m.success = m.success and o.success
                m.sample = (m.sample + list(o.sample))[:gx_run.SAMPLE_SIZE]
                m.records = (m.records + list(o.records))[:gx_run.SAMPLE_SIZE]
        for name, res in outcome.gx_results.items():
            self.gx[name] = _merge_suite(self.gx.get(name), res, self.rows[name])
        quarantine_mod.samples(outcome.quarantine, self._record, self.samples)
        for n in schema.TABLES:
            self.rows[n] += rows.get(n, 0)

    def uniqueness(self, uniq: Uniqueness) -> None:
        """Counts of the uniqueness expectations over the whole run (a chunk only sees its own duplicates)."""
        if self.outcomes is None:
            return
        per_table = {n: [o for o in self.outcomes if o.table == n] for n in schema.TABLES}
        for c, n in uniq.counts.items():
            o = per_table[c.table][c.index]
            if n > o.unexpected_count:
                o.unexpected_count, o.success = n, False
                if not o.sample:
                    o.sample = uniq.duplicates[c].slice(0, gx_run.SAMPLE_SIZE).to_pylist()
                _override_gx(self.gx.get(c.table), c, n, o.sample)

    def result(self, articles: pa.Table, comments: pa.Table, quarantine: dict) -> gx_run.ValidationOutcome:
        outcomes = self.outcomes or []
        for res in self.gx.values():
            _restat(res)
        return gx_run.ValidationOutcome(
            articles=articles, comments=comments, quarantine=quarantine, outcomes=outcomes,
            critical_failed=any(o.severity == "critical" and not o.success for o in outcomes), gx_results=self.gx,
            quarantine_samples=self.samples)


_SUMMED = ("element_count", "unexpected_count", "missing_count")
_INDEXED = ("partial_unexpected_index_list", "unexpected_index_list")


def _merge_suite(acc: dict | None, res: dict, offset: int) -> dict:
    if acc is None:
        acc = copy.deepcopy(res)
        for r in acc.get("results", []):
            r["_counts"] = _value_counts(r.get("result") or {})
        return acc
    by_id = {(r.get("expectation_config") or {}).get("id"): r for r in res.get("results", [])}
    for r in acc.get("results", []):
        other = by_id.get((r.get("expectation_config") or {}).get("id"))
        if other is None:
            continue
        a, b = r.setdefault("result", {}), other.get("result") or {}
        for k in _SUMMED:
            if k in a or k in b:
                a[k] = (a.get(k) or 0) + (b.get(k) or 0)
        for k in ("partial_unexpected_list", "unexpected_list", *_INDEXED):
            if k in b:
                # rows named by their record (gx_run._named_rows) need no shift; bare positions do
                more = [i + offset if isinstance(i, int) else i for i in b[k]] if k in _INDEXED else b[k]
                cap = gx_run.SAMPLE_SIZE if k.startswith("partial") else MAX_ROW_LIST
                a[k] = (list(a.get(k) or []) + list(more))[:cap]
        r["_counts"].update(_value_counts(b))
        r["success"] = bool(r.get("success")) and bool(other.get("success"))
        if other.get("exception_info", {}).get("raised_exception"):
            r["exception_info"] = other["exception_info"]
    return acc


def _value_counts(result: dict) -> Counter:
    """Unexpected values counted (by their JSON text: values can be lists), from the full list if there is one."""
    values = result.get("unexpected_list")
    if values is not None:
        return Counter(json.dumps(v, default=str, sort_keys=True) for v in values)
    return Counter({json.dumps(e["value"], default=str, sort_keys=True): e["count"]
                    for e in result.get("partial_unexpected_counts") or []})


def _override_gx(res: dict | None, c: UniqueCheck, count: int, sample: list) -> None:
    for r in (res or {}).get("results", []):
        cfg = r.get("expectation_config") or {}
        kw = cfg.get("kwargs") or {}
        cols = tuple(kw["column_list"]) if "column_list" in kw else (kw.get("column"),)
        if cfg.get("type") == c.type and cols == c.columns:
            result = r.setdefault("result", {})
            result["unexpected_count"] = max(count, result.get("unexpected_count") or 0)
            result["partial_unexpected_list"] = list(result.get("partial_unexpected_list") or sample)
            r["success"] = False


def _restat(res: dict) -> None:
    """Percentages, top value counts, success and statistics as GX computes them, for the whole run."""
    results = res.get("results", [])
    for r in results:
        a = r.get("result") or {}
        counts = r.pop("_counts", Counter())
        if "unexpected_count" in a and "element_count" in a:
            n, bad, miss = a["element_count"], a["unexpected_count"], a.get("missing_count") or 0
            nonmissing = n - miss
            pct_nonmissing = 100.0 * bad / nonmissing if nonmissing else None
            if "missing_count" in a:
                a["missing_percent"] = 100.0 * miss / n if n else None
                a["unexpected_percent_total"] = 100.0 * bad / n if n else None
                a["unexpected_percent_nonmissing"] = pct_nonmissing
            a["unexpected_percent"] = pct_nonmissing if pct_nonmissing is not None else 0.0
            mostly = ((r.get("expectation_config") or {}).get("kwargs") or {}).get("mostly")
            if not (r.get("exception_info") or {}).get("raised_exception"):
                ok = bad == 0 if mostly is None else (nonmissing == 0 or (nonmissing - bad) / nonmissing >= mostly)
                r["success"] = bool(ok and r.get("success", True)) if mostly is None else bool(ok)
        if counts:
            top = sorted(counts.items(), key=lambda kv: -kv[1])[:gx_run.SAMPLE_SIZE]
            a["partial_unexpected_counts"] = [{"value": json.loads(k), "count": v} for k, v in top]
    ok = sum(1 for r in results if r.get("success"))
    res["success"] = ok == len(results)
    res["statistics"] = {"evaluated_expectations": len(results), "successful_expectations": ok,
                         "unsuccessful_expectations": len(results) - ok,
                         "success_percent": 100.0 * ok / len(results) if results else None}
