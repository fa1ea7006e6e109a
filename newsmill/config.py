"""Layered settings: built-in defaults, then ``newsmill.toml``, then environment.

Secrets (the author pseudonym key) only ever come from the environment, so a
project file can be committed and shared safely.
"""
from __future__ import annotations

import math
import contextlib
import os
import re
import tomllib
from datetime import date, datetime
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

AUTHOR_KEY_ENV = "NEWSMILL_AUTHOR_KEY"
# What comment rows say about their authors (see README "Privacy"):
#   keep          names as shown, plus the keyed author_id
#   pseudonymize  author, reply_to_name and '@name' mentions -> 'user-<author_id>'
#   drop          author and author_id null, reply_to_name '[author]', mentions '@[author]'
# In both pseudonymize and drop, the names of a page's commenters written in its comments without '@'
# ('Reply to Jane Doe', 'Jane Doe wrote:') and in posted_raw are replaced the same way, and a live run keeps
# no raw capture of the pages (they hold the names as served) unless [fetch] raw = "keep" (see RAW_MODES).
# Names are normalised (NFKC, case, invisible characters) to match them, never to merge two people: author_id
# is keyed on the name with its invisible characters (newsmill.clean.identity_name).
# Reply and quote links are resolved from the real names first, so they survive every mode.
AUTHOR_MODES = ("keep", "pseudonymize", "drop")
# What a live fetch keeps of the pages as served ([fetch] raw, NEWSMILL_FETCH_RAW):
#   auto     <output>/raw/<run id>.warc.gz with authors = keep; with pseudonymize or drop the capture is
#            transient: written to the run's staging area, read by the run and removed with it
#   keep     always kept (with pseudonymize or drop: every run warns that it holds the names)
#   discard  never kept (transient, as above)
RAW_MODES = ("auto", "keep", "discard")
# How the article body is taken from HTML (trafilatura underneath; measured in docs/EVALUATION.md,
# "Article body: trafilatura's modes"):
#   precise  trafilatura with its readability and jusText fallbacks and favor_precision: less boilerplate
#            and fewer comment lines in the body, at a cost in time
#   fast     trafilatura alone (fast=True)
BODY_MODES = ("precise", "fast")
_AUTHOR_MODE_ALIASES = {"pseudonymise": "pseudonymize", "pseudonymized": "pseudonymize", "pseudonymised": "pseudonymize"}


class ConfigError(ValueError):
    """A setting is missing or wrong; the message says which and where."""


# Live sources (issue #5): ``[[sources]]`` tables and the ``[fetch]`` table of newsmill.toml.
SOURCE_KINDS = {  # kind -> (keys allowed besides 'kind', what it needs)
    "path": ({"path"}, "path = 'pages/' (a file, folder or glob)"),
    "archive": ({"path"}, "path = 'crawl.warc.gz' (a WARC/WET/ARC file, folder or glob)"),
    "urls": ({"file", "urls"}, "file = 'urls.txt' and/or urls = ['https://...']"),
    "feed": ({"url", "file"}, "url = 'https://.../rss.xml' (or file = a local copy)"),
    "sitemap": ({"url", "file"}, "url = 'https://.../sitemap.xml' (or file = a local copy; .xml.gz and indexes too)"),
}
LIVE_KINDS = ("urls", "feed", "sitemap")


@dataclass(frozen=True)
class SourceSpec:
    """One ``[[sources]]`` entry; relative ``path``/``file`` values are resolved against the project file's folder."""

    kind: str
    path: str | None = None
    url: str | None = None
    file: str | None = None
    urls: tuple[str, ...] = ()
    # this source (and the links its feed or sitemap gives) may be fetched from loopback, link-local and
    # private addresses: an intranet feed; every other source is refused them ([fetch] has it for all)
    allow_private_addresses: bool = False

    @property
    def live(self) -> bool:
        return self.kind in LIVE_KINDS


@dataclass(frozen=True)
class FetchSettings:
    """``[fetch]``: how live sources are fetched (politeness, limits); ``NEWSMILL_FETCH_<NAME>`` overrides."""

    user_agent: str = ""  # product token; '' means newsmill/<version> (newsmill is always named)
    contact: str = ""  # e.g. 'mailto:you@example.org' or a URL: added to the User-Agent
    per_host_delay: float = 1.0  # seconds at least between the starts of two requests to one host
    per_host_concurrency: int = 1  # requests in flight per host
    concurrency: int = 8  # requests in flight overall
    timeout: float = 20.0  # seconds of silence allowed while connecting or reading
    total_timeout: float = 120.0  # seconds for one whole exchange: connect, TLS, request, headers and body
    retries: int = 3  # further attempts after connection errors, timeouts, 429 and 5xx
    backoff: float = 1.0  # first retry waits this long, then twice as long each time (or Retry-After)
    max_retry_wait: float = 120.0  # longest wait (Retry-After, Crawl-delay) newsmill accepts; a longer one gives up
    max_page_bytes: int = 32 * 1024 * 1024  # bigger bodies are abandoned mid-stream: reject 'too_large'
    max_redirects: int = 5
    respect_robots: bool = True
    max_urls: int = 10_000  # page URLs per run; the rest are counted, not fetched
    # fetch from loopback, link-local, private and other non-public addresses for every source (an intranet,
    # a local test server; one source: its own key); off: such URLs, redirects to them and names resolving
    # to them are refused ('private_address')
    allow_private_addresses: bool = False
    # the raw capture of the pages (WARC): auto | keep | discard, see RAW_MODES; 'auto' keeps it only with
    # authors = keep, because it holds the pages as served, commenters' names included
    raw: str = "auto"

    def __post_init__(self):
        if self.raw not in RAW_MODES:
            raise ConfigError(f"[fetch] raw is {self.raw!r}: must be one of {', '.join(RAW_MODES)}")
        for f in fields(self):
            value = getattr(self, f.name)
            if f.type in ("int", "float") and (isinstance(value, bool) or not isinstance(value, (int, float))):
                raise ConfigError(f"[fetch] {f.name} is {value!r}: must be a number")
            if f.type == "int" and not isinstance(value, int):
                raise ConfigError(f"[fetch] {f.name} is {value!r}: must be a whole number")
            if f.type == "bool" and not isinstance(value, bool):
                raise ConfigError(f"[fetch] {f.name} is {value!r}: must be true or false")
            if f.type == "str" and not isinstance(value, str):
                raise ConfigError(f"[fetch] {f.name} is {value!r}: must be a string")
        least = {"per_host_concurrency": 1, "concurrency": 1, "max_page_bytes": 1, "max_urls": 1, "timeout": 0.001,
                 "total_timeout": 0.001}
        for f in fields(self):
            low = least.get(f.name, 0)
            if f.type in ("int", "float") and getattr(self, f.name) < low:
                raise ConfigError(f"[fetch] {f.name} is {getattr(self, f.name)!r}: must be at least {low}")


def _fetch_settings(table, origin: str, env: dict) -> FetchSettings:
    if not isinstance(table, dict):
        raise ConfigError(f"{origin}: [fetch] must be a table")
    kinds = {f.name: f.type for f in fields(FetchSettings)}
    values = {}
    for key, value in table.items():
        if key not in kinds:
            raise ConfigError(f"{origin}: unknown setting {key!r} in [fetch] (known: {', '.join(sorted(kinds))})")
        values[key] = value
    for key, kind in kinds.items():
        raw = env.get(f"NEWSMILL_FETCH_{key.upper()}")
        if not raw:
            continue
        try:
            if kind == "bool":
                if raw.strip().lower() not in ("1", "0", "true", "false", "yes", "no"):
                    raise ValueError("not a boolean")
                values[key] = raw.strip().lower() in ("1", "true", "yes")
            else:
                values[key] = {"int": int, "float": float}.get(kind, str)(raw)
        except ValueError as exc:
            raise ConfigError(f"environment NEWSMILL_FETCH_{key.upper()}: {raw!r}: {exc}") from exc
    for key in ("per_host_delay", "timeout", "total_timeout", "backoff", "max_retry_wait"):
        if isinstance(values.get(key), int) and not isinstance(values[key], bool):
            values[key] = float(values[key])
    return FetchSettings(**values)


def _sources(entries, origin: str, base: Path) -> tuple[SourceSpec, ...]:
    if not isinstance(entries, list):
        raise ConfigError(f"{origin}: 'sources' must be an array of tables ([[sources]])")
    out = []
    for i, entry in enumerate(entries, 1):
        where = f"{origin}: [[sources]] #{i}"
        if not isinstance(entry, dict):
            raise ConfigError(f"{where}: must be a table")
        kind = entry.get("kind")
        if kind not in SOURCE_KINDS:
            raise ConfigError(f"{where}: kind is {kind!r}: must be one of {', '.join(SOURCE_KINDS)}")
        allowed, needs = SOURCE_KINDS[kind]
        private = entry.get("allow_private_addresses", False)
        if not isinstance(private, bool):
            raise ConfigError(f"{where}: allow_private_addresses must be true or false")
        if "allow_private_addresses" in entry and kind not in LIVE_KINDS:
            raise ConfigError(f"{where} (kind {kind!r}): allow_private_addresses is only for live sources "
                              f"({', '.join(LIVE_KINDS)})")
        unknown = set(entry) - allowed - {"kind", "allow_private_addresses"}
        if unknown:
            raise ConfigError(f"{where} (kind {kind!r}): unknown key(s) {', '.join(sorted(unknown))}; "
                              f"allowed: {', '.join(sorted(allowed))}")
        for key in ("path", "url", "file"):
            if key in entry and (not isinstance(entry[key], str) or not entry[key].strip()):
                raise ConfigError(f"{where}: {key} must be a non-empty string")
        urls = entry.get("urls", [])
        if not isinstance(urls, list) or not all(isinstance(u, str) for u in urls):
            raise ConfigError(f"{where}: urls must be an array of strings")
        present = [k for k in sorted(allowed) if entry.get(k)]
        if not present or (kind in ("feed", "sitemap") and len(present) > 1):
            raise ConfigError(f"{where} (kind {kind!r}): give {needs}")
        local = {k: entry[k] if Path(entry[k]).is_absolute() else str(base / entry[k])
                 for k in ("path", "file") if k in entry}
        out.append(SourceSpec(kind=kind, url=entry.get("url"), urls=tuple(u.strip() for u in urls),
                              allow_private_addresses=private, **local))
    return tuple(out)


# Schedules and scale-out (issue #5): the ``[schedule]`` and ``[dask]`` tables of newsmill.toml.
_CRON_FIELD = re.compile(r"^[0-9A-Za-z*/,?#-]+$")
_CRON_ALIASES = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([dhms])", re.I)
_DURATION = re.compile(r"^\s*(?:\d+(?:\.\d+)?\s*[dhms]\s*)+$", re.I)
_SECONDS = {"d": 86400, "h": 3600, "m": 60, "s": 1}
_DASK_SCHEMES = ("tcp", "tls", "ucx", "ws", "wss", "inproc")


def parse_interval(value) -> float:
    """Seconds from 3600, 3600.0, "3600", "90s", "15m", "1h", "1d" or "1h30m"; must be positive."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a duration")
    if isinstance(value, (int, float)):
        seconds = float(value)
    elif isinstance(value, str) and re.fullmatch(r"\s*\d+(?:\.\d+)?\s*", value):
        seconds = float(value)
    elif isinstance(value, str) and _DURATION.match(value):
        seconds = sum(float(n) * _SECONDS[u.lower()] for n, u in _DURATION_PART.findall(value))
    else:
        raise ValueError(f"{value!r} is not a duration: give seconds (3600) or e.g. '90s', '15m', '1h', '1d', '1h30m'")
    if not seconds > 0:
        raise ValueError(f"{value!r}: the interval must be longer than 0 seconds")
    return seconds


@dataclass(frozen=True)
class ScheduleSettings:
    """``[schedule]``: when ``newsmill serve`` runs the flow (one of cron and interval)."""

    cron: str | None = None  # e.g. "0 6 * * *" (minute hour day month weekday), in ``timezone``
    interval: float | None = None  # seconds between runs; the project file also takes "1h", "15m", ...
    timezone: str | None = None  # IANA name for cron, e.g. "Europe/Berlin"; default UTC
    name: str = "scheduled"  # the deployment's name: the flow 'newsmill', deployment 'newsmill/<name>'

    def __post_init__(self):
        if self.cron is not None and self.interval is not None:
            raise ConfigError("[schedule]: give cron or interval, not both")
        if self.cron is not None:
            cron = self.cron.strip() if isinstance(self.cron, str) else self.cron
            ok = isinstance(cron, str) and (cron.lower() in _CRON_ALIASES or (
                len(cron.split()) == 5 and all(_CRON_FIELD.match(f) for f in cron.split())))
            if not ok:
                raise ConfigError(f"[schedule] cron is {self.cron!r}: give five fields (minute hour day month "
                                  f"weekday), e.g. '0 6 * * *', or one of {', '.join(_CRON_ALIASES)}")
        if self.interval is not None:
            try:
                parse_interval(self.interval)
            except ValueError as exc:
                raise ConfigError(f"[schedule] interval: {exc}") from None
        if self.timezone is not None:
            from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

            try:
                ZoneInfo(str(self.timezone))
            except (ZoneInfoNotFoundError, ValueError):
                raise ConfigError(f"[schedule] timezone is {self.timezone!r}: not an IANA time zone name "
                                  "(e.g. 'UTC', 'Europe/Berlin')") from None
        if not isinstance(self.name, str) or not self.name.strip() or "/" in self.name:
            raise ConfigError(f"[schedule] name is {self.name!r}: must be a non-empty string without '/'")

    @property
    def is_set(self) -> bool:
        return self.cron is not None or self.interval is not None


@dataclass(frozen=True)
class DaskSettings:
    """``[dask]``: run the batch tasks on Dask: a local cluster of ``workers`` processes, or ``address``."""

    workers: int | None = None  # local cluster: worker processes (one thread each)
    address: str | None = None  # an existing cluster's scheduler, e.g. "tcp://10.0.0.5:8786"

    def __post_init__(self):
        if self.workers is not None and self.address is not None:
            raise ConfigError("[dask]: give workers (a local cluster) or address (an existing one), not both")
        if self.workers is not None and (isinstance(self.workers, bool) or not isinstance(self.workers, int)
                                         or self.workers < 1):
            raise ConfigError(f"[dask] workers is {self.workers!r}: must be a whole number, at least 1")
        if self.address is not None:
            a = self.address
            scheme, sep, rest = a.partition("://") if isinstance(a, str) else ("", "", "")
            host, colon, port = (rest if sep else a if isinstance(a, str) else "").rpartition(":")
            if (sep and scheme not in _DASK_SCHEMES) or not colon or not host or not port.isdigit():
                raise ConfigError(f"[dask] address is {a!r}: give the scheduler as tcp://host:port "
                                  f"(schemes: {', '.join(_DASK_SCHEMES)})")


@dataclass(frozen=True)
class HistorySettings:
    """``[history]``: which published versions an output keeps (``newsmill versions`` lists them,
    ``read_tables(output, version=...)`` reads one). A version is kept while it is among the newest
    ``keep_versions`` and, when ``keep_days`` is above 0, younger than that; the current version and
    the one before it are always kept (a reader may be half-way through the older one). Versions
    share their unchanged part files (hard links), so a version costs only what its run changed."""

    keep_versions: int = 30
    keep_days: float = 365.0  # 0: no age limit

    def __post_init__(self):
        k = self.keep_versions
        if isinstance(k, bool) or not isinstance(k, int) or k < 2:
            raise ConfigError(f"[history] keep_versions is {k!r}: must be a whole number, at least 2 "
                              f"(the current version and the one before it)")
        d = self.keep_days
        if isinstance(d, bool) or not isinstance(d, (int, float)) or d < 0:
            raise ConfigError(f"[history] keep_days is {d!r}: must be a number of days, 0 for no age limit")


@dataclass(frozen=True)
class DaemonSettings:
    """``[daemon]``: the warm worker that takes ``newsmill run`` (newsmill.service.warm_client). One per user
    and machine; ``dir`` gives a separate one (its own folder for socket, lock and log)."""

    idle: float = 900.0  # seconds without a run before the worker exits; the project file also takes "15m"
    dir: str | None = None  # the worker's folder; default $XDG_RUNTIME_DIR/newsmill, else ~/.cache/newsmill/daemon

    def __post_init__(self):
        if isinstance(self.idle, bool) or not isinstance(self.idle, (int, float)) or not self.idle > 0:
            raise ConfigError(f"[daemon] idle is {self.idle!r}: must be a duration above 0 (seconds, or e.g. '15m')")
        if self.dir is not None and (not isinstance(self.dir, str) or not self.dir.strip()):
            raise ConfigError(f"[daemon] dir is {self.dir!r}: must be a folder path")


def _table_settings(cls, table, section: str, origin: str, env: dict, env_keys: dict[str, str],
                    exclusive: tuple[str, ...] = ()):
    """A frozen settings table from the project file's ``[section]``, then ``NEWSMILL_<...>`` variables.
    Keys in ``exclusive`` replace each other: one given in the environment clears the project file's other."""
    if not isinstance(table, dict):
        raise ConfigError(f"{origin}: [{section}] must be a table")
    known = {f.name for f in fields(cls)}
    values = {}
    for key, value in table.items():
        if key not in known:
            raise ConfigError(f"{origin}: unknown setting {key!r} in [{section}] (known: {', '.join(sorted(known))})")
        values[key] = value
    used = [var for var in env_keys if env.get(var)]
    for var in used:
        key = env_keys[var]
        if key in exclusive:
            for other in exclusive:
                values.pop(other, None)
        values[key] = env[var]
    where = origin + (f" and environment {', '.join(used)}" if used else "")
    try:
        if section == "schedule" and values.get("interval") is not None:
            values["interval"] = parse_interval(values["interval"])
        if section == "daemon" and values.get("idle") is not None:
            values["idle"] = parse_interval(values["idle"])
        if section == "dask" and isinstance(values.get("workers"), str):
            values["workers"] = int(values["workers"])
        if section == "history":
            for key, kind in (("keep_versions", int), ("keep_days", float)):
                if isinstance(values.get(key), str):
                    with contextlib.suppress(ValueError):  # else HistorySettings says what it must be
                        values[key] = kind(values[key])
        return cls(**values)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    except ValueError as exc:
        raise ConfigError(f"{where}: [{section}] {exc}") from None


def is_url(location) -> bool:
    """Whether an output location is a filesystem URL (``s3://bucket/ds``, ``memory://x``) rather
    than a local folder. ``file://`` URLs are local folders; ``Path()`` would mangle a URL
    (``s3:/bucket``), so URLs stay strings throughout."""
    if not isinstance(location, str) or "://" not in location:
        return False
    protocol = location.split("://", 1)[0].lower()
    return bool(re.fullmatch(r"[a-z][a-z0-9+.-]*", protocol)) and protocol not in ("file", "local")


def output_location(value) -> Path | str:
    """A local output folder as a Path, a remote one as its URL (see :func:`is_url`)."""
    if isinstance(value, str) and value.lower().startswith(("file://", "local://")):
        return Path(value.split("://", 1)[1])
    return value if is_url(value) else Path(value)


MIN_TARGET_FILE_BYTES = 1024  # a few KB lets tests exercise splits; real outputs keep the default


@dataclass(frozen=True)
class OutputSettings:
    """``[output]``: the size published part files are cut at (``target_file_bytes``, any output), and
    how a remote output URL (``output_dir = "s3://..."``) is reached and mirrored (see
    ``newsmill.store.remote``; those settings are ignored for a local output folder)."""

    storage_options: dict = field(default_factory=dict, repr=False)  # fsspec options, e.g. client_kwargs
    mirror: str | None = None  # local working copy; default <cache>/remote/<hash of the URL>
    lock_timeout: float | None = 300.0  # seconds to wait for another writer's push; None: no limit
    lease: float = 600.0  # a push's lock object expires this long after its last refresh (a writer that died)
    # content bytes a part file is cut at (``newsmill.store.compaction``): past 2x a file is split,
    # under 1/4 merged with a neighbour
    target_file_bytes: int = 128 << 20

    def __post_init__(self):
        v = self.target_file_bytes
        if isinstance(v, bool) or not isinstance(v, int) or v < MIN_TARGET_FILE_BYTES:
            raise ConfigError(f"[output] target_file_bytes is {v!r}: must be a whole number of bytes, at least "
                              f"{MIN_TARGET_FILE_BYTES} (default {128 << 20}, 128 MB)")
        if not isinstance(self.storage_options, dict):
            raise ConfigError("[output] storage_options must be a table, e.g. { client_kwargs = { endpoint_url = "
                              "'http://127.0.0.1:9000' } }")
        if self.mirror is not None and (not isinstance(self.mirror, str) or not self.mirror.strip()):
            raise ConfigError(f"[output] mirror is {self.mirror!r}: must be a folder path")
        for name in ("lock_timeout", "lease"):
            v = getattr(self, name)
            if v is None and name == "lock_timeout":
                continue
            if isinstance(v, bool) or not isinstance(v, (int, float)) or v <= 0:
                raise ConfigError(f"[output] {name} is {v!r}: must be a number of seconds above 0")


@dataclass(frozen=True)
class Settings:
    output_dir: Path | str = Path("output")  # a folder, or a filesystem URL (newsmill.store.remote)
    batch_size: int = 50  # pages per task: big enough to amortise orchestration, small enough to bound memory
    profiles_dir: str | None = None  # extra site profiles, on top of the bundled ones
    min_date: str = "1990-01-01"  # earliest plausible publication/comment date
    max_days_before_article: float = 2.0  # a comment this long before its article is reported (a warning: the article date is suspect)
    author_key: bytes | None = field(default=None, repr=False)
    authors: str = "keep"  # keep | pseudonymize | drop: see AUTHOR_MODES
    inputs: tuple[str, ...] = ()
    sources: tuple[SourceSpec, ...] = ()  # [[sources]] tables (live ones are fetched before planning)
    fetch: FetchSettings = field(default_factory=FetchSettings)  # [fetch] table
    incremental: bool = True  # skip inputs processed before with the same bytes (_state/ledger.sqlite); --full
    schedule: ScheduleSettings = field(default_factory=ScheduleSettings)  # [schedule] table: newsmill serve
    dask: DaskSettings = field(default_factory=DaskSettings)  # [dask] table: batch tasks on Dask
    output: OutputSettings = field(default_factory=OutputSettings)  # [output] table: part file size, remote output URLs
    history: HistorySettings = field(default_factory=HistorySettings)  # [history] table: versions kept
    daemon: DaemonSettings = field(default_factory=DaemonSettings)  # [daemon] table: the warm worker
    workers: int | None = None  # worker processes for the batches (newsmill.runtime.executors): None = one per CPU, 1 = in process
    body: str = "precise"  # article body extraction: precise | fast (see BODY_MODES)

    def __post_init__(self):
        for name in ("batch_size", "min_date", "max_days_before_article"):  # also when set from Python
            try:
                _coerce(name, getattr(self, name), "")
            except ConfigError as exc:
                raise ConfigError(f"setting {name!r}: {exc.__cause__}") from None
        if self.authors not in AUTHOR_MODES:
            raise ConfigError(f"setting 'authors' is {self.authors!r}: must be one of {', '.join(AUTHOR_MODES)}")
        if self.body not in BODY_MODES:
            raise ConfigError(f"setting 'body' is {self.body!r}: must be one of {', '.join(BODY_MODES)}")

    def with_overrides(self, **kw) -> "Settings":
        return replace(self, **{k: v for k, v in kw.items() if v is not None})

    def with_run_options(self, *, full: bool = False, workers: int | None = None,
                         dask_address: str | None = None) -> "Settings":
        """Command-line options of a run over the layers below: ``full`` turns incremental runs off;
        ``workers`` sets the worker processes; ``dask_address`` replaces the [dask] table as a whole."""
        out = replace(self, incremental=False) if full else self
        if workers is not None:
            out = replace(out, workers=_coerce("workers", workers, "--workers"))
        if dask_address is not None:
            out = replace(out, dask=DaskSettings(address=dask_address))
        return out

    def project_paths(self) -> list[str]:
        """Files, folders, globs and archives to read when no PATH is given: ``inputs`` and path/archive sources."""
        return [*self.inputs, *(src.path for src in self.sources if not src.live)]

    def live_sources(self) -> tuple[SourceSpec, ...]:
        """The sources fetched over HTTP before planning (URL lists, feeds, sitemaps)."""
        return tuple(src for src in self.sources if src.live)


_ENV = {
    "NEWSMILL_OUTPUT": "output_dir",
    "NEWSMILL_BATCH_SIZE": "batch_size",
    "NEWSMILL_PROFILES_DIR": "profiles_dir",
    "NEWSMILL_AUTHORS": "authors",
    "NEWSMILL_INCREMENTAL": "incremental",
    "NEWSMILL_WORKERS": "workers",
    "NEWSMILL_BODY": "body",
}
_SCHEDULE_ENV = {"NEWSMILL_SCHEDULE_CRON": "cron", "NEWSMILL_SCHEDULE_INTERVAL": "interval",
                 "NEWSMILL_SCHEDULE_TIMEZONE": "timezone", "NEWSMILL_SCHEDULE_NAME": "name"}
_DASK_ENV = {"NEWSMILL_DASK_WORKERS": "workers", "NEWSMILL_DASK_ADDRESS": "address"}
_HISTORY_ENV = {"NEWSMILL_HISTORY_KEEP_VERSIONS": "keep_versions", "NEWSMILL_HISTORY_KEEP_DAYS": "keep_days"}
_DAEMON_ENV = {"NEWSMILL_DAEMON_IDLE": "idle", "NEWSMILL_DAEMON_DIR": "dir"}


def _coerce(name: str, value, origin: str):
    kinds = {f.name: f.type for f in fields(Settings)}
    try:
        if name == "output_dir":
            return output_location(value)
        if name == "batch_size":
            return _whole_number(value, least=1)
        if name == "min_date":
            return _iso_date(value)
        if name == "profiles_dir":
            if not isinstance(value, str) or not value.strip():
                raise ValueError(f"{value!r} is not a folder path")
            return value
        if name == "workers":
            return _whole_number(value, least=1)
        if name == "max_days_before_article":
            if isinstance(value, bool):
                raise ValueError(f"{value!r} is not a number")
            days = float(value)
            if not math.isfinite(days) or days < 0:
                raise ValueError(f"{value!r}: must be a number of days, at least 0")
            return days
        if name == "inputs":
            if isinstance(value, str) or not isinstance(value, (list, tuple)) \
                    or not all(isinstance(v, str) and v.strip() for v in value):
                raise ValueError(f"{value!r} is not an array of paths, e.g. [\"pages/\", \"crawl/*.warc.gz\"]")
            return tuple(value)
        if name == "incremental":
            if isinstance(value, bool):
                return value
            if str(value).strip().lower() in ("1", "true", "yes", "on"):
                return True
            if str(value).strip().lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError(f"{value!r} is not true or false")
        if name == "body":
            mode = str(value).strip().lower()
            if mode not in BODY_MODES:
                raise ValueError(f"{value!r} is not one of {', '.join(BODY_MODES)}")
            return mode
        if name == "authors":
            mode = str(value).strip().lower()
            mode = _AUTHOR_MODE_ALIASES.get(mode, mode)
            if mode not in AUTHOR_MODES:
                raise ValueError(f"{value!r} is not one of {', '.join(AUTHOR_MODES)}")
            return mode
        return value
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{origin}: setting {name!r} ({kinds.get(name)}): {exc}") from exc


def _whole_number(value, *, least: int) -> int:
    """An int from 5 or "5"; refuses True, 2.5 and "2.5" (int() would take the first two silently)."""
    if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
        raise ValueError(f"{value!r} is not a whole number")
    try:
        n = int(value.strip() if isinstance(value, str) else value)
    except (TypeError, ValueError):
        raise ValueError(f"{value!r} is not a whole number") from None
    if n < least:
        raise ValueError(f"{value!r}: must be at least {least}")
    return n


def _iso_date(value) -> str:
    """An ISO date (``1990-01-01``) as text; a TOML date value is taken too. Checked here, when the settings
    are read: the validation step that uses it comes after every page was extracted."""
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, date):
        return value.isoformat()
    try:
        return date.fromisoformat(str(value).strip()).isoformat()
    except ValueError:
        raise ValueError(f"{value!r} is not a date: give it as YYYY-MM-DD, e.g. \"1990-01-01\"") from None


def _output_settings(table, origin: str) -> OutputSettings:
    if not isinstance(table, dict):
        raise ConfigError(f"{origin}: [output] must be a table")
    known = {f.name for f in fields(OutputSettings)}
    unknown = set(table) - known
    if unknown:
        raise ConfigError(f"{origin}: unknown setting(s) {', '.join(sorted(unknown))} in [output] "
                          f"(known: {', '.join(sorted(known))})")
    values = dict(table)
    if isinstance(values.get("mirror"), str) and not Path(values["mirror"]).expanduser().is_absolute():
        values["mirror"] = str(Path(origin).parent / values["mirror"])
    try:
        return OutputSettings(**values)
    except ConfigError as exc:
        raise ConfigError(f"{origin}: {exc}") from None


TABLES = {"newsmill", "sources", "fetch", "schedule", "dask", "output", "history", "daemon"}  # the project file's top level


def load_settings(project_file: Path | None = None, env: dict | None = None) -> Settings:
    """Defaults < ``newsmill.toml`` (``[newsmill]`` table) < ``NEWSMILL_*`` environment variables."""
    env = os.environ if env is None else env
    values: dict = {}
    path = project_file or Path("newsmill.toml")
    if path.exists():
        try:
            doc = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
        except UnicodeDecodeError as exc:
            raise ConfigError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
        except OSError as exc:
            raise ConfigError(f"project file {path}: cannot be read: {exc.strerror or exc}") from None
        unknown = set(doc) - TABLES
        if unknown:
            raise ConfigError(f"{path}: unknown table(s) or key(s) {', '.join(map(repr, sorted(unknown)))} at the top "
                              f"(known: {', '.join(sorted(TABLES))})")
        if not isinstance(doc.get("newsmill", {}), dict):
            raise ConfigError(f"{path}: [newsmill] must be a table")
        known = {f.name for f in fields(Settings)} - {"author_key", "sources", "fetch", "schedule", "dask", "output",
                                                      "history", "daemon"}
        for key, value in doc.get("newsmill", {}).items():
            if key not in known:
                raise ConfigError(f"{path}: unknown setting {key!r} in [newsmill] (known: {', '.join(sorted(known))})")
            values[key] = _coerce(key, value, str(path))
        if "sources" in doc:
            values["sources"] = _sources(doc["sources"], str(path), path.parent)
        fetch_table = doc.get("fetch", {})
    elif project_file is not None:
        raise ConfigError(f"project file {project_file} does not exist")
    else:
        fetch_table = {}
    values["fetch"] = _fetch_settings(fetch_table, str(path), env)
    tables = doc if path.exists() else {}
    values["schedule"] = _table_settings(ScheduleSettings, tables.get("schedule", {}), "schedule", str(path), env,
                                         _SCHEDULE_ENV, exclusive=("cron", "interval"))
    values["dask"] = _table_settings(DaskSettings, tables.get("dask", {}), "dask", str(path), env, _DASK_ENV,
                                     exclusive=("workers", "address"))
    values["output"] = _output_settings(tables.get("output", {}), str(path))
    values["history"] = _table_settings(HistorySettings, tables.get("history", {}), "history", str(path), env,
                                        _HISTORY_ENV)
    daemon = tables.get("daemon", {})
    if isinstance(daemon, dict) and isinstance(daemon.get("dir"), str) and daemon["dir"].strip():
        daemon = {**daemon, "dir": str(path.parent / Path(daemon["dir"]).expanduser())}  # relative: to the file
    values["daemon"] = _table_settings(DaemonSettings, daemon, "daemon", str(path), env, _DAEMON_ENV)
    for var, key in _ENV.items():
        if env.get(var):
            values[key] = _coerce(key, env[var], f"environment {var}")
    if env.get(AUTHOR_KEY_ENV):
        values["author_key"] = env[AUTHOR_KEY_ENV].encode()
    return Settings(**values)


def check_reachable(address: str, timeout: float = 10.0) -> None:
    """A ConfigError naming the address when no scheduler answers there: Dask's own error comes as a
    long traceback after a 30 s wait, and says nothing of what to do."""
    import socket
    from urllib.parse import urlsplit

    parts = urlsplit(address)
    try:
        host, port = parts.hostname, parts.port
    except ValueError:
        host, port = None, None
    if not host or not port:
        raise ConfigError(f"Dask scheduler address {address!r}: give it as tcp://host:port")
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError as exc:
        raise ConfigError(f"no Dask scheduler answers at {address} ({exc.strerror or exc}); start one "
                          "(`dask scheduler`, and workers with PREFECT_API_URL set) or use --workers N "
                          "for a local cluster") from None
