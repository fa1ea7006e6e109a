"""Validation stage: Great Expectations suites decide which rows get published.

The suites live in ``validations/<table>.json`` so that checks can be read and
changed without touching code; each expectation carries its own severity and a
human reason in ``meta`` (GX's built-in ``severity`` field only knows
critical/warning/info, so our three levels live in meta and GX's field is
derived from them).  Validation is lazy: every expectation runs, every failing
row collects every reason, and only then rows are split into passed and
quarantined.  Checks GX cannot express on one table (links between tables,
differences between columns) are ``_chk_*`` columns computed here that the
suites test like any other column; they never leave this module.  Regex checks
on free text are ``_chk_*`` columns too, declared in the suite (``meta.derive``):
GX hands such patterns to Python's ``re`` row by row, a minute on a million
texts, while ``regex_search`` gives the same answers from RE2 passes over the
Arrow buffers.
"""
from __future__ import annotations

import copy
import hashlib
import html
import json
import os
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from newsmill import schema
from newsmill.text import shown
from newsmill.validate import arrow_regex, deferred_imports
from newsmill.validate.quarantine import (QUARANTINING, SEVERITIES, following_comments, quarantine_rows,  # noqa: F401
                                         quarantine_schema, worse)

if TYPE_CHECKING:
    import great_expectations as gx

SUITE_DIR = Path(__file__).resolve().parents[1] / "validations"
# Our levels -> GX's FailureSeverity, so GX-native tooling (actions, notify_on) agrees with us.
_GX_SEVERITY = {"critical": "critical", "error": "warning", "warning": "info"}
NEVER_MATCH = r"[^\s\S]"  # no character is both non-space and not non-space; valid in RE2 and re
SAMPLE_SIZE = 5
DEFAULT_PARAMS = {"min_date": date(1990, 1, 1), "max_days_before_article": 2, "max_days_out_of_line": 365,
                  "ui_artifact_regex": None}
# COMPLETE: the failing rows' positions are what quarantines them; the pandas query string
# GX would build from all of them is not needed.
_RESULT_FORMAT = {"result_format": "COMPLETE", "partial_unexpected_count": SAMPLE_SIZE,
                  "return_unexpected_index_query": False}
_LOCK = threading.Lock()  # the GX context and its stores are shared and not thread-safe


def _threaded(fn, items: list) -> list:
    """``[fn(x) for x in items]`` on up to one thread per core: Arrow kernels release the GIL."""
    workers = min(len(items), pa.cpu_count())
    if workers < 2:
        return [fn(x) for x in items]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(fn, items))


@dataclass
class ExpectationOutcome:
    """One expectation on one table, flattened for reports that should not need GX to read."""

    table: str
    expectation: str
    column: str | None
    severity: str
    reason: str
    success: bool
    unexpected_count: int
    element_count: int
    sample: list = field(default_factory=list)
    # the first failing rows, each named by its record (the suite's ``meta.record`` columns: ids, URL or
    # input, position) with the value that failed under "value": what a person looks up
    records: list[dict] = field(default_factory=list)


@dataclass
class ValidationOutcome:
    """Passed rows (schema arrow types), quarantined rows with reasons, and the evidence."""

    articles: pa.Table
    comments: pa.Table
    quarantine: dict[str, pa.Table]
    outcomes: list[ExpectationOutcome]
    critical_failed: bool
    gx_results: dict[str, dict]
    # per table, per quarantine reason: rows, worst severity, a few records (``quarantine.samples``);
    # None: not collected (the report then takes them from ``quarantine``)
    quarantine_samples: dict | None = None


# --------------------------------------------------------------------------- GX setup


@cache
def _gx():
    """One ephemeral context per process: importing GX and building a context cost seconds."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    deferred_imports.defer()
    import great_expectations as gx
    import great_expectations.execution_engine.pandas_execution_engine as pandas_engine
    from great_expectations.data_context.types.base import ProgressBarsConfig

    # GX fingerprints each pandas batch below this many bytes by hashing every value (~40 % of
    # its time on a million rows) for a batch marker nothing here reads; above it GX skips that.
    pandas_engine.HASH_THRESHOLD = 0

    _share_compiled_templates()
    _memoize_configurations()
    ctx = gx.get_context(mode="ephemeral")
    ctx.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    source = ctx.data_sources.add_pandas("newsmill")
    batches = {
        name: source.add_dataframe_asset(name).add_batch_definition_whole_dataframe("whole")
        for name in schema.TABLES
    }
    return gx, ctx, batches


def _share_compiled_templates() -> None:
    """GX makes a new Jinja environment for every page and block it renders, so Data Docs compiled
    their ~50 templates again on every run (~1 s, most of the report's time): one in-memory bytecode
    cache for all of them (keyed by template file, checked against its source) keeps them compiled
    for the life of the process, a warm worker's runs included."""
    import jinja2
    from great_expectations.render.view import view

    init = view.DefaultJinjaView.__init__
    if getattr(init, "_shared_bytecode", False):
        return

    class Memory(jinja2.BytecodeCache):
        def __init__(self):
            self.code: dict[str, bytes] = {}

        def load_bytecode(self, bucket) -> None:
            if (code := self.code.get(bucket.key)) is not None:
                bucket.bytecode_from_string(code)  # a changed source (checksum) compiles again

        def dump_bytecode(self, bucket) -> None:
            self.code[bucket.key] = bucket.bytecode_to_string()

    cache = Memory()

    def shared(self, *args, **kwargs):
        init(self, *args, **kwargs)
        self.env.bytecode_cache = cache

    shared._shared_bytecode = True
    view.DefaultJinjaView.__init__ = shared


_CONFIGURATIONS: dict[int, tuple] | None = None  # while _validate runs: id(expectation) -> (it, fields, configuration)


def _memoize_configurations() -> None:
    """GX rebuilds an expectation's configuration (a pydantic ``dict()`` and a regex over its class name)
    every time it reads one of its arguments: ~130 times per expectation and run, ~40 % of validating a
    small table. While :func:`_validate` runs (under ``_LOCK``), each expectation object's configuration
    is built once and reused as long as its fields are the same objects; elsewhere GX is untouched."""
    import great_expectations.expectations.expectation as gx_expectation

    prop = gx_expectation.Expectation.configuration
    if getattr(prop.fget, "_memoized", False):
        return
    build = prop.fget

    def configuration(self):
        memo = _CONFIGURATIONS
        if memo is None:
            return build(self)
        fields = tuple((k, id(v)) for k, v in self.__dict__.items())
        hit = memo.get(id(self))
        if hit is not None and hit[0] is self and hit[1] == fields:
            return hit[2]
        conf = build(self)
        memo[id(self)] = (self, fields, conf)
        return conf

    configuration._memoized = True
    gx_expectation.Expectation.configuration = property(configuration, doc=prop.__doc__)


@contextmanager
def _configurations_memoized():
    global _CONFIGURATIONS
    _CONFIGURATIONS = {}
    try:
        yield
    finally:
        _CONFIGURATIONS = None


def read_spec(name: str) -> dict:
    """``validations/<name>.json`` as written (the one reader of the suite files)."""
    return json.loads((SUITE_DIR / f"{name}.json").read_text(encoding="utf-8"))


def load_suite(name: str) -> gx.ExpectationSuite:
    """Load ``validations/<name>.json``, refusing anything GX would silently weaken.

    GX logs and drops expectations of unknown type, so the count is compared;
    a missing severity or reason would make a failure impossible to act on.
    """
    gx, _, _ = _gx()
    spec = read_spec(name)
    fields = {f.name for f in schema.load(name).fields}
    if not (rec := (spec.get("meta") or {}).get("record")) or not set(rec) <= fields:
        raise ValueError(f"suite {name}: meta.record must list the fields that name a record in the report")
    derived: dict[str, dict] = {}
    for i, exp in enumerate(spec["expectations"]):
        meta = exp.get("meta") or {}
        if meta.get("severity") not in SEVERITIES or not str(meta.get("reason", "")).strip():
            raise ValueError(f"suite {name}: expectation #{i} ({exp.get('type')}) needs meta.severity "
                             f"in {SEVERITIES} and a meta.reason")
        if "severity" in exp:
            raise ValueError(f"suite {name}: expectation #{i} sets GX 'severity'; use meta.severity only")
        exp["severity"] = _GX_SEVERITY[meta["severity"]]
        note = f"{meta['severity']}: {meta['reason']}"
        if "derive" in meta:
            note += " " + _check_derive(name, i, exp, derived)
        elif str(exp.get("kwargs", {}).get("column", "")).startswith("_chk_"):
            if not str(meta.get("label", "")).strip():  # the report shows it instead of the internal column
                raise ValueError(f"suite {name}: expectation #{i} tests a derived column and needs a meta.label "
                                 "that says what it holds")
            note += f" (checks: {meta['label']})"
        exp.setdefault("notes", note)  # shown in Data Docs
    suite = gx.ExpectationSuite(**spec)
    if len(suite.expectations) != len(spec["expectations"]):
        raise ValueError(f"suite {name}: GX kept {len(suite.expectations)} of "
                         f"{len(spec['expectations'])} expectations (unknown type? see the GX log)")
    return suite


_DERIVE_KINDS = {"rows_matching": "matches", "rows_not_matching": "does not match"}


def _check_derive(name: str, i: int, exp: dict, seen: dict[str, dict]) -> str:
    """Refuse a ``meta.derive`` that would not mean what it says; return its line for Data Docs.

    ``{"column": c, "rows_matching": regex}`` makes the expectation's ``_chk_*`` column hold ``c``
    where ``re.search(regex, c)`` finds a match (``rows_not_matching``: finds none), null
    elsewhere; the suite expects it null, so the failing rows show their own text.  An optional
    ``"unless_set": other`` leaves out the rows where the field ``other`` is not null (a comment's
    blank text is expected where ``moderation`` says the page shows a placeholder).
    """
    d = exp["meta"]["derive"]
    target = exp.get("kwargs", {}).get("column", "")
    kinds = [k for k in _DERIVE_KINDS if isinstance(d, dict) and k in d]

    def refuse(problem: str):
        raise ValueError(f"suite {name}: expectation #{i} meta.derive: {problem}")

    if len(kinds) != 1 or set(d) - {"unless_set"} != {"column", kinds[0]} or not isinstance(d["column"], str):
        refuse("must be an object with 'column', one of " + "/".join(_DERIVE_KINDS) + " and optionally 'unless_set'")
    fields = {f.name for f in schema.load(name).fields}
    if d["column"] not in fields:
        refuse(f"column {d['column']!r} is not a field of {name}")
    if "unless_set" in d and d["unless_set"] not in fields:
        refuse(f"unless_set {d['unless_set']!r} is not a field of {name}")
    if exp.get("type") != "expect_column_values_to_be_null" or not str(target).startswith("_chk_"):
        refuse("needs expect_column_values_to_be_null on a _chk_* column")
    rx = d[kinds[0]]
    if not isinstance(rx, str) and not (isinstance(rx, dict) and set(rx) == {"$PARAMETER"}):
        refuse('the regex must be a string or {"$PARAMETER": name}')
    if seen.setdefault(target, d) != d:
        refuse(f"{target} is derived differently by another expectation")
    rx = f"the regex parameter {rx['$PARAMETER']}" if isinstance(rx, dict) else f"regex {rx}"
    unless = f", unless {d['unless_set']} is set" if "unless_set" in d else ""
    return f"({d['column']} where {rx} {_DERIVE_KINDS[kinds[0]]}{unless})"


def record_columns(name: str) -> list[str]:
    """The columns that name a record of table ``name`` in reports (the suite's ``meta.record``)."""
    return list(read_spec(name)["meta"]["record"])


def shown_checks(name: str) -> dict[str, str]:
    """Regex-derived ``_chk_*`` column -> what its failure means, in words ("text matches the rule's
    pattern"): shown instead of ``expect_column_values_to_be_null on text``, which reads backwards."""
    out = {}
    for e in read_spec(name)["expectations"]:
        col, d = (e.get("kwargs") or {}).get("column"), (e.get("meta") or {}).get("derive") or {}
        kind = next((k for k in _DERIVE_KINDS if k in d), None)
        if isinstance(col, str) and kind:
            out[col] = f"{d['column']} {_DERIVE_KINDS[kind]} the rule's pattern"
    return out


def shown_columns(name: str) -> dict[str, str]:
    """Derived ``_chk_*`` column -> what a person reads instead: its ``meta.label``, or for a regex check the
    column it tests.  From the suite file, the one place the checks are described."""
    out = {}
    for e in read_spec(name)["expectations"]:
        col, meta = (e.get("kwargs") or {}).get("column"), e.get("meta") or {}
        if isinstance(col, str) and col.startswith("_chk_"):
            out[col] = meta.get("label") or (meta.get("derive") or {}).get("column") or col
    return out


def _run_suite(name: str) -> gx.ExpectationSuite:
    """The suite as stored in the context, cached per file version (storing costs ~0.15 s).

    Stored, each expectation gets an id that its result carries: results map back by it.
    """
    version = (SUITE_DIR / f"{name}.json").stat().st_mtime_ns
    if name not in _SUITES or _SUITES[name][0] != version:
        _SUITES[name] = (version, _gx()[1].suites.add_or_update(load_suite(name)))
    return _SUITES[name][1]


_SUITES: dict[str, tuple] = {}


def _suite_params(params: dict | None, now: datetime) -> dict:
    p = {**DEFAULT_PARAMS, **{k: v for k, v in (params or {}).items() if v is not None}}
    min_date = p["min_date"]  # a date column compares only with dates: accept ISO text and datetimes
    min_date = min_date.date() if isinstance(min_date, datetime) else min_date
    p["min_date"] = min_date = min_date if isinstance(min_date, date) else date.fromisoformat(min_date)
    latest = now + timedelta(days=1)
    p.setdefault("max_date", latest.date())
    p.setdefault("min_timestamp", datetime.combine(min_date, time(), UTC))
    p.setdefault("max_timestamp", latest)
    p["ui_artifact_regex"] = p["ui_artifact_regex"] or NEVER_MATCH
    return p


# --------------------------------------------------------------------------- frames


_NULLNESS_ONLY = {"expect_column_values_to_not_be_null", "expect_column_values_to_be_null"}


def _columns_used(suite) -> tuple[set[str], set[str]]:
    """Columns the suite names: (all of them, those some expectation reads more than nullness of)."""
    cols, values = set(), set()
    for e in suite.expectations:
        kw = e.configuration.kwargs
        named = [kw["column"]] if "column" in kw else list(kw.get("column_list", []))
        cols.update(named)
        if e.expectation_type not in _NULLNESS_ONLY:
            values.update(named)
    return cols, values


def _frame(name: str, table: pa.Table, suite) -> pd.DataFrame:
    """The columns the checks read, with the schema's pandas dtypes (``str`` is ~3x faster in GX).

    GX copies the whole frame for every metric of every expectation (it drops the rows where
    the tested column is null), so the frame is kept narrow: a column the suite only tests
    for nulls (the free text: title, body, text) comes as empty strings with the same nulls,
    and integer columns without nulls as numpy ints (GX compares those vectorised, nullable
    ones row by row in Python).
    """
    dtypes = schema.load(name).pandas_dtypes()
    named, read = _columns_used(suite)
    read.add(schema.load(name).primary_key[0])  # samples name rows by their key
    cols = [c for c in dtypes if c in named | read]
    data = {}
    for c in cols:
        col = table.column(c)
        if c not in read and dtypes[c] == "str":
            col = pc.if_else(col.is_valid(), pa.scalar("", pa.string()), pa.scalar(None, pa.string()))
            data[c] = col.to_pandas().astype("str")
        elif dtypes[c] in ("Int32", "Int64") and col.null_count == 0:
            data[c] = col.to_pandas().astype("int64")
        else:
            data[c] = col.to_pandas(date_as_object=True).astype(dtypes[c])
    return pd.DataFrame(data, index=pd.RangeIndex(table.num_rows))  # GX reports row positions


def _missing_required(name: str, table: pa.Table, suite) -> pd.Series:
    """Names of the schema's non-nullable fields that are null in each row (NA when none).

    One check for all of them (GX costs ~20 ms per expectation and run); fields
    with their own not-null expectation are left to it.  Nulls here would
    otherwise only surface when Parquet refuses the file.
    """
    own = {e.configuration.kwargs.get("column") for e in suite.expectations
           if e.expectation_type == "expect_column_values_to_not_be_null"}
    nulls = {f.name: table.column(f.name).is_null().to_numpy(zero_copy_only=False)
             for f in schema.load(name).fields if not f.nullable and f.name not in own}
    out = pd.Series(pd.NA, index=range(table.num_rows), dtype="str")
    for i in set().union(*(m.nonzero()[0] for m in nulls.values())) if nulls else ():
        out.iat[i] = ",".join(f for f, m in nulls.items() if m[i])
    return out


def _derived_from_regex(name: str, table: pa.Table, suite, params: dict) -> dict[str, pa.Array]:
    """The suite's ``meta.derive`` columns: the value where the regex flags the row, else null.

    A regex that cannot be run (bad syntax, unknown parameter) is a broken check: raise, as
    ``_outcomes`` does for GX's own, rather than let rows pass unchecked.
    """
    specs = {}
    for e in suite.expectations:
        d = (e.meta or {}).get("derive")
        target = e.configuration.kwargs.get("column")
        if d and target not in specs:
            kind = "rows_matching" if "rows_matching" in d else "rows_not_matching"
            specs[target] = (e.expectation_type, d["column"], kind, d[kind], d.get("unless_set"))

    def derive(target: str):
        etype, column, kind, rx, unless = specs[target]
        try:
            rx = params[rx["$PARAMETER"]] if isinstance(rx, dict) else rx
            values = arrow_regex.one_array(table.column(column))
            hit = arrow_regex.search(values, rx)
        except (KeyError, TypeError, re.error) as exc:
            return f"{name}: {etype} {target} ({column} {kind} {rx!r}): {type(exc).__name__}: {exc}"
        flagged = pc.fill_null(hit if kind == "rows_matching" else pc.invert(hit), False)
        if unless is not None and unless in table.column_names:
            flagged = pc.and_(flagged, pc.is_null(arrow_regex.one_array(table.column(unless))))
        return pc.replace_with_mask(pa.nulls(len(values), values.type), flagged, values.filter(flagged))

    out = dict(zip(specs, _threaded(derive, list(specs))))
    if broken := [v for v in out.values() if isinstance(v, str)]:
        raise RuntimeError("expectations could not be evaluated:\n" + "\n".join(broken))
    return out


def _derive(articles: pa.Table, comments: pa.Table, params: dict | None = None) -> dict[str, dict[str, pd.Series]]:
    """The cross-column and cross-table ``_chk_*`` columns the suites test, per table.

    Computed on the Arrow columns (hash lookups in C++, no Python objects); only the last step
    (hours between two instants) goes through pandas, so it rounds exactly as it always did.
    """
    def series(arr, dtype: str) -> pd.Series:
        if dtype == "int64" and arr.null_count:
            dtype = "Int64"  # nulls: nullable ints (GX then compares row by row)
        return arr.to_pandas(types_mapper={pa.bool_(): pd.BooleanDtype()}.get).astype(dtype)

    diff = pc.subtract(pc.cast(articles.column("comment_count_extracted"), pa.int64()),
                       pc.cast(articles.column("comment_count_declared"), pa.int64()))

    ids, cids = articles.column("article_id"), comments.column("article_id")
    in_run = pc.is_in(cids, value_set=pc.drop_null(ids))
    in_run = pc.if_else(pc.is_null(cids), pa.scalar(None, pa.bool_()), in_run)  # reported by not-null already

    # Reference instant of each article: published_at, else 00:00 UTC of published_date;
    # an id that occurs twice refers to its first row.
    day = pc.cast(articles.column("published_date"), pa.timestamp("us", tz="UTC"))
    ref = pc.coalesce(pc.cast(articles.column("published_at"), pa.timestamp("us", tz="UTC")), day)
    row = pc.index_in(cids, value_set=ids, skip_nulls=True)
    posted = comments.column("posted_at").to_pandas().astype("datetime64[us, UTC]")
    article_time = ref.take(row).to_pandas().astype("datetime64[us, UTC]")
    hours = (posted - article_time).dt.total_seconds() / 3600
    return {
        "articles": {"_chk_comment_count_diff": series(diff, "int64"), "_chk_empty_article": _empty_article(articles)},
        "comments": {"_chk_article_in_run": series(in_run, "boolean"), "_chk_hours_after_article": hours,
                     "_chk_days_out_of_line": _days_out_of_line(cids, comments.column("position"), posted, params or {})},
    }


def _empty_article(articles: pa.Table) -> pd.Series:
    """True for an article with neither text nor comments, else null.  An empty body alone is only a
    warning: the page's comments are real records, and quarantining the article would take them along."""
    body = articles.column("body")
    blank = pc.or_kleene(pc.is_null(body), pc.invert(pc.match_substring_regex(pc.fill_null(body, ""), r"\S")))
    none = pc.less_equal(pc.fill_null(articles.column("comment_count_extracted"), 0), 0)
    empty = pc.and_(blank, none)
    return pd.Series(pc.if_else(empty, pa.scalar(True), pa.scalar(None, pa.bool_())).to_pandas(),
                     dtype=pd.BooleanDtype())


def _days_out_of_line(article_ids, positions, posted: pd.Series, params: dict) -> pd.Series:
    """Per comment: days between its posted_at and the median of its thread's, when it also breaks the
    thread's page order; 0 when it keeps the order; null without a date or in a thread of < 3 dated comments.

    A comment is judged against its neighbours, not against the article's date (which may itself be
    wrong: a later update read as the publication): one '1999' stamp in a 2012 thread is out of line,
    a thread that all precedes its article's date is not.  Breaking the order: its date is outside the
    range of the dated comments before and after it in page order, or, at either end of the page, on the
    wrong side of its one neighbour for the thread's direction (oldest or newest first).  A stamp outside
    the plausible range has its own check and is left out here (it would only move the median).
    """
    lo_ts, hi_ts = params.get("min_timestamp"), params.get("max_timestamp")
    if lo_ts is not None and hi_ts is not None:
        posted = posted.where((posted >= pd.Timestamp(lo_ts)) & (posted <= pd.Timestamp(hi_ts)))
    days = (posted - pd.Timestamp(0, tz="UTC")).dt.total_seconds() / 86400
    d = pd.DataFrame({"a": article_ids.to_pandas(), "pos": positions.to_pandas(), "t": days})
    d = d[d["t"].notna() & d["a"].notna()].sort_values(["a", "pos"], kind="stable")
    out = pd.Series(np.nan, index=posted.index, dtype="float64")
    if d.empty:
        return out
    g = d.groupby("a", sort=False)["t"]
    size, median = g.transform("size"), g.transform("median")
    prev, nxt = g.shift(1), g.shift(-1)
    direction = np.sign((d["t"] - prev).groupby(d["a"], sort=False).transform("sum"))
    up = direction >= 0
    lo, hi = np.fmin(prev, nxt), np.fmax(prev, nxt)
    both = prev.notna() & nxt.notna()
    broken = (both & ((d["t"] < lo) | (d["t"] > hi))) \
        | (prev.isna() & nxt.notna() & ((up & (d["t"] > nxt)) | (~up & (d["t"] < nxt)))) \
        | (nxt.isna() & prev.notna() & ((up & (d["t"] < prev)) | (~up & (d["t"] > prev))))
    value = ((d["t"] - median).abs()).where(broken, 0.0).where(size >= 3)
    out.loc[d.index] = value
    return out


# --------------------------------------------------------------------------- validation


def _validate(name: str, suite, df: pd.DataFrame, params: dict, run_time: datetime):
    """GX's validator on the frame, as ``Batch.validate`` builds it, minus the batch it builds first
    (``get_batch`` then ``Batch.validate`` loads the frame into GX twice)."""
    batches = _gx()[2]
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.validator.v1_validator import Validator

    validator = Validator(batch_definition=batches[name], result_format=_RESULT_FORMAT,
                          batch_parameters={"dataframe": df})
    with _configurations_memoized():
        res = validator.validate_expectation_suite(suite, expectation_parameters=params)
    res.meta["run_id"] = RunIdentifier(run_name="newsmill", run_time=run_time)
    res.meta["validation_time"] = run_time
    res.meta["expectation_parameters"] = params
    return res


def _exception(info: dict | None) -> str | None:
    """GX reports a crash flat, or (metric errors) nested under a metric id: accept both."""
    infos = [info] if info and "raised_exception" in info else list((info or {}).values())
    msgs = [i.get("exception_message") or "error" for i in infos if isinstance(i, dict) and i.get("raised_exception")]
    return "; ".join(msgs) or None


SHOWN_CHARS = 200  # a failing value longer than this (a whole body) is cut in the report
_INDEX_ROWS = 10_000  # per expectation and chunk: failing rows named by their record in the GX results


def _plain(value):
    """A failing value as JSON shows it: text cut to ``SHOWN_CHARS``, instants as ISO text, NA as null."""
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_plain(v) for v in value]
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    if isinstance(value, (pd.Timestamp, datetime, date)):
        return value.isoformat()
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return round(value, 2)
    if isinstance(value, str) and len(value) > SHOWN_CHARS:
        return value[:SHOWN_CHARS] + "…"
    return value


def _records(name: str, table: pa.Table, df: pd.DataFrame, columns: list[str], rows: list[int]) -> list[dict]:
    """Rows ``rows`` named by their record (``record_columns``) with the failing value(s) under "value"."""
    if not rows:
        return []
    take = pa.array(rows, pa.int64())
    ids = table.select(record_columns(name)).take(take).to_pylist()
    values = df[columns].iloc[rows]
    out = []
    for rec, vals in zip(ids, values.itertuples(index=False)):
        vals = [_plain(v) for v in vals]
        out.append({**{k: _plain(v) for k, v in rec.items()},
                    "value": vals[0] if len(columns) == 1 else dict(zip(columns, vals))})
    return out


def _named_rows(name: str, res: dict, table: pa.Table, df: pd.DataFrame) -> dict:
    """GX's JSON results with each failing row position replaced by its record, as GX itself reports rows
    when given ``unexpected_index_column_names`` (Data Docs then show ids, not a chunk's row numbers)."""
    shown = shown_columns(name)
    ids = record_columns(name)
    for r in res.get("results", []):
        result, kw = r.get("result") or {}, (r.get("expectation_config") or {}).get("kwargs") or {}
        columns = [kw["column"]] if "column" in kw else list(kw.get("column_list") or [])
        if not columns or not result.get("unexpected_index_list"):
            continue
        for k in ("unexpected_index_list", "partial_unexpected_index_list"):
            rows = [int(i) for i in (result.get(k) or [])[:_INDEX_ROWS]]
            named = []
            for rec in _records(name, table, df, columns, rows):
                value = rec.pop("value")
                named.append({**rec, **(value if isinstance(value, dict) else {shown.get(columns[0], columns[0]): value})})
            result[k] = named
        result["unexpected_index_column_names"] = ids
    return res


def _outcomes(name: str, suite, res, df: pd.DataFrame, table: pa.Table):
    """Per expectation: the outcome record and the failing row positions, in suite order."""
    order = {e.id: i for i, e in enumerate(suite.expectations)}
    broken, out = [], []
    key = schema.load(name).primary_key[0]
    for r in sorted(res.results, key=lambda r: order.get(r.expectation_config.id, len(order))):
        cfg = r.expectation_config
        if error := _exception(r.exception_info):
            broken.append(f"{name}: {cfg.type} {dict(cfg.kwargs)}: {error}")
            continue
        result = r.result or {}
        column = cfg.kwargs.get("column") or ",".join(cfg.kwargs.get("column_list", [])) or None
        rows = [int(i) for i in result.get("unexpected_index_list") or []]
        columns = [cfg.kwargs["column"]] if "column" in cfg.kwargs else list(cfg.kwargs.get("column_list", []))
        if column and column.startswith("_chk_"):  # a bare False or -3 says little: say whose row
            sample = [f"{k}: {v}" for k, v in df[[key, column]].iloc[rows[:SAMPLE_SIZE]].itertuples(index=False)]
        else:
            sample = (r.to_json_dict()["result"].get("partial_unexpected_list") or [])[:SAMPLE_SIZE]
        out.append((ExpectationOutcome(
            table=name, expectation=cfg.type, column=column,
            severity=cfg.meta["severity"], reason=cfg.meta["reason"], success=bool(r.success),
            unexpected_count=int(result.get("unexpected_count") or 0),
            element_count=int(result.get("element_count") or 0), sample=sample,
            records=_records(name, table, df, columns, rows[:SAMPLE_SIZE]) if columns else []), rows))
    if broken:  # a check that could not run is a broken check, not bad data: never publish past it
        raise RuntimeError("expectations could not be evaluated:\n" + "\n".join(broken))
    return out


def _collect(n_rows: int, checked) -> tuple[dict[int, list[str]], dict[int, str]]:
    reasons: dict[int, list[str]] = {}
    worst: dict[int, str] = {}
    for outcome, rows in checked:
        if outcome.severity not in QUARANTINING:
            continue
        for i in rows:
            reasons.setdefault(i, []).append(outcome.reason)
            worst[i] = worse(worst.get(i), outcome.severity)
    if any(not 0 <= i < n_rows for i in reasons):
        raise RuntimeError("GX returned a row index outside the table")
    return reasons, worst


def _split(name: str, table: pa.Table, reasons: dict[int, list[str]], worst: dict[int, str]):
    """Passed rows (no copy when none failed) and quarantined rows with their reasons."""
    bad = np.array(sorted(reasons), dtype=np.int64)
    target = schema.load(name).arrow()
    passed = table.select(target.names)
    if len(bad):
        keep = np.ones(table.num_rows, dtype=bool)
        keep[bad] = False
        mask = pa.array(keep)
        passed = pa.Table.from_arrays(_threaded(lambda c: c.filter(mask), passed.columns), schema=passed.schema)
    passed = passed.cast(target)
    q = quarantine_rows(name, table.take(pa.array(bad, pa.int64())), [reasons[i] for i in bad.tolist()],
                        [worst[i] for i in bad.tolist()])
    return passed, q


def validate_tables(articles: pa.Table, comments: pa.Table, *, params: dict | None = None,
                    now: datetime | None = None) -> ValidationOutcome:
    """Validate one run's two tables together (comments are checked against the articles).

    ``params`` overrides suite parameters: ``min_date`` (date, default 1990-01-01),
    ``max_date`` / ``max_timestamp`` (default now + 1 day), ``min_timestamp``,
    ``ui_artifact_regex`` (default: never matches), ``max_days_before_article`` (default 2; a warning),
    ``max_days_out_of_line`` (default 365).
    """
    now = now or datetime.now(UTC)
    now = now.replace(tzinfo=UTC) if now.tzinfo is None else now.astimezone(UTC)
    p = _suite_params(params, now)
    with _LOCK:
        suites = {n: _run_suite(n) for n in schema.TABLES}
    # Frames and derived columns need no GX: other threads' validations can run meanwhile.
    tables = {"articles": articles, "comments": comments}
    frames = {n: _frame(n, tables[n], suites[n]) for n in schema.TABLES}
    for n, columns in _derive(articles, comments, p).items():
        for col, values in columns.items():
            frames[n][col] = values
    for n in schema.TABLES:
        frames[n]["_chk_missing_required"] = _missing_required(n, tables[n], suites[n])
        for col, values in _derived_from_regex(n, tables[n], suites[n], p).items():
            frames[n][col] = values.to_pandas().astype("str")
    with _LOCK:
        results = {n: _validate(n, suites[n], frames[n], p, now) for n in schema.TABLES}
        checked = {n: _outcomes(n, suites[n], results[n], frames[n], tables[n]) for n in schema.TABLES}
        gx_results = {n: results[n].to_json_dict() for n in schema.TABLES}
    gx_results = {n: _named_rows(n, gx_results[n], tables[n], frames[n]) for n in schema.TABLES}

    a_reasons, a_worst = _collect(articles.num_rows, checked["articles"])
    c_reasons, c_worst = _collect(comments.num_rows, checked["comments"])
    dropped = {}
    ids = articles.column("article_id").take(pa.array(list(a_reasons), pa.int64())).to_pylist()
    for (i, why), aid in zip(a_reasons.items(), ids):
        if aid is not None:
            dropped[aid] = (why, a_worst[i])
    rows, whys, sevs = following_comments(comments.column("article_id"), dropped)
    for i, why, sev in zip(rows.tolist(), whys, sevs):
        c_reasons.setdefault(i, []).append(why)
        c_worst[i] = worse(c_worst.get(i), sev)

    a_pass, a_q = _split("articles", tables["articles"], a_reasons, a_worst)
    c_pass, c_q = _split("comments", tables["comments"], c_reasons, c_worst)
    outcomes = [o for n in schema.TABLES for o, _ in checked[n]]
    return ValidationOutcome(
        articles=a_pass, comments=c_pass, quarantine={"articles": a_q, "comments": c_q},
        outcomes=outcomes,
        critical_failed=any(o.severity == "critical" and not o.success for o in outcomes),
        gx_results=gx_results,
    )


# --------------------------------------------------------------------------- data docs


def _inert(value):
    """Failing values HTML-escaped: GX Data Docs render them unescaped, and page text is hostile."""
    if isinstance(value, str):  # and controls shown as \\xNN (an ESC from a page would reach the browser raw)
        return html.escape(shown(value), quote=False)
    if isinstance(value, dict):
        return {k: _inert(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_inert(v) for v in value]
    return value


def _relabelled(name: str, res: dict) -> dict:
    """Results whose derived ``_chk_*`` columns read as what they hold (``shown_columns``): Data Docs
    print the tested column in each expectation's sentence."""
    shown = shown_columns(name)
    res = copy.deepcopy(res)
    for r in res.get("results", []):
        kw = (r.get("expectation_config") or {}).get("kwargs") or {}
        if kw.get("column") in shown:
            kw["column"] = shown[kw["column"]]
    return res


def build_data_docs(outcome: ValidationOutcome, report_dir: Path) -> Path:
    """Render this outcome's results (and the suites) as GX Data Docs under ``report_dir/data_docs``.

    The results are put into the context's in-memory results store from
    ``gx_results`` (so an outcome from another process works too), after
    emptying it so the site shows this run only.
    """
    ctx = _gx()[1]  # first: it sets up the environment GX reads on import
    from great_expectations.core.expectation_validation_result import ExpectationSuiteValidationResultSchema
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )

    site_dir = (Path(report_dir) / "data_docs").resolve()
    site = "newsmill-" + hashlib.sha256(str(site_dir).encode()).hexdigest()[:12]
    with _LOCK:
        store = ctx.validation_results_store
        for key in store.list_keys():
            store.remove_key(key)
        for name, res in outcome.gx_results.items():
            _run_suite(name)  # suite pages, and the store may not know the suite in this process
            run = res.get("meta", {}).get("run_id") or {}
            run_id = RunIdentifier(run_name=run.get("run_name") or "newsmill",
                                   run_time=run.get("run_time") or datetime.now(UTC))
            key = ValidationResultIdentifier(ExpectationSuiteIdentifier(name), run_id, f"newsmill-{name}")
            doc = _inert(_relabelled(name, res))
            backend = getattr(store, "_store_backend", None)
            if backend is not None and not store.cloud_mode:
                # the results' JSON as the store keeps it: GX's own set() would load it into objects and dump
                # them back to the same JSON (~40 % of the Data Docs' time); the site reads it with load()
                store._validate_key(key)
                backend.set(store.key_to_tuple(key), json.dumps(doc, indent=2, sort_keys=True))
            else:
                store.set(key, ExpectationSuiteValidationResultSchema().load(doc))
        if site not in ctx.list_data_docs_sites():
            ctx.add_data_docs_site(site_name=site, site_config={
                "class_name": "SiteBuilder",
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
                "store_backend": {"class_name": "TupleFilesystemStoreBackend",
                                  "base_directory": str(site_dir)},
            })
        else:
            ctx.clean_data_docs(site_name=site)  # a re-used report_dir shows this run only
        ctx.build_data_docs(site_names=[site])
    index = site_dir / "index.html"
    if not index.exists():
        raise RuntimeError(f"GX did not write {index}")
    _relabel_suite_pages(site_dir, list(outcome.gx_results))
    return index


def _relabel_suite_pages(site_dir: Path, names: list[str]) -> None:
    """The suite pages name derived columns by what they hold, as the results pages do (``_relabelled``).
    Rewritten after GX renders them: the context's stored suites are the ones the runs use."""
    for name in names:
        page = site_dir / "expectations" / f"{name}.html"
        if not page.is_file():
            continue
        text = page.read_text(encoding="utf-8")
        # longest first: no name is cut by a shorter one it starts with
        for col, label in sorted(shown_columns(name).items(), key=lambda kv: -len(kv[0])):
            text = text.replace(col, html.escape(label, quote=False))
        page.write_text(text, encoding="utf-8")
