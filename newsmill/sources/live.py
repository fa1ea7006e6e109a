"""Live sources (URL lists, feeds, sitemaps) turned into one raw WARC file, before planning.

``fetch_sources`` lists the page URLs (:mod:`newsmill.sources.feeds`), fetches
them politely (:mod:`newsmill.sources.fetch`) and keeps every exchange in
``<output>/raw/<run id>.warc.gz`` (:mod:`newsmill.sources.rawstore`).  The
pipeline then reads that archive like any other: the fetch adds one path to
the inputs and its rejects to the listing, so ``inputs = published +
quarantined + rejected`` still holds.  A page answered ``304 Not Modified`` is
counted (``fetch:not_modified``), not re-processed: its rows are already in
the dataset.

Conditional requests: the ETag / Last-Modified of each page are remembered in
``<output>/_state/http_cache.json`` with the id of the run that fetched it, and
sent again only once that run has finished (its report exists), so a page
fetched by a run that crashed, or by ``newsmill fetch`` alone, is fetched in
full again rather than skipped before it was ever processed.
"""
from __future__ import annotations

import json
import logging
import os
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import httpx

from newsmill.config import FetchSettings, Settings, SourceSpec
from newsmill.records import Reject
from newsmill.sources import feeds
from newsmill.sources.fetch import Fetcher, Outcome, user_agent
from newsmill.sources.rawstore import RawStore
from newsmill.text import shown

log = logging.getLogger(__name__)



@dataclass(frozen=True)
class LivePlaces:
    """Where a live fetch keeps things, given by the output's layout (``store.layout.live_places``: this
    package does not know the output folder's layout): the raw capture of this run, the HTTP validator
    cache, and whether a run got as far as its report (only its validators may be sent)."""

    raw: Path
    http_cache: Path
    finished: Callable[[str], bool]


class HttpCache:
    """ETag / Last-Modified per URL, with the run that saw them; one JSON file, replaced atomically."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.urls: dict[str, dict] = {}
        if self.path.exists():
            try:
                doc = json.loads(self.path.read_text(encoding="utf-8"))
                self.urls = dict(doc.get("urls", {}))
            except (OSError, ValueError, AttributeError) as exc:
                log.warning("%s unreadable (%s): every page is fetched in full", self.path, exc)

    def get(self, url: str) -> dict | None:
        return self.urls.get(url)

    def remember(self, url: str, *, etag: str | None, last_modified: str | None, run_id: str) -> None:
        if etag or last_modified:
            self.urls[url] = {"etag": etag, "last_modified": last_modified, "run_id": run_id,
                              "fetched_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
        else:
            self.urls.pop(url, None)

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"version": 1, "urls": self.urls}, indent=1, sort_keys=True), encoding="utf-8")
        os.replace(tmp, self.path)


@dataclass
class FetchResult:
    """What the fetch step produced: the raw WARC, the URLs that failed, and counts."""

    run_id: str
    warc_path: str | None
    rejects: list[Reject] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def skipped(self) -> dict[str, int]:
        """Counted, not inputs: pages not modified since they were processed, URLs over ``max_urls``."""
        return {f"fetch:{k}": self.counts[k] for k in ("not_modified", "over_max_urls") if self.counts.get(k)}


TRANSIENT_NAME = "raw-capture.warc.gz"  # in the run's staging area, when the raw capture is not kept


def raw_kept(settings: Settings) -> bool:
    """Whether a live fetch keeps the pages as served in ``<output>/raw/`` (``[fetch] raw``, see
    ``config.RAW_MODES``).

    A raw capture is the page as the server sent it: every commenter's name is in it, in the markup and
    in the text, and no rewriting of a WARC can find them all.  So with ``authors = pseudonymize`` or
    ``drop`` ('no name anywhere the run writes') the run keeps none by default: the capture is written to
    the run's staging area, read by the run like any archive, and removed with the area when the run
    ends (a run that is killed leaves it until the next run into the output sweeps the area).  Replay
    (``newsmill run output/raw/...``) then needs ``raw = "keep"``, which every such run warns about.
    """
    mode = settings.fetch.raw
    if mode == "keep" and settings.authors != "keep":
        log.warning("[fetch] raw = \"keep\": the raw capture in <output>/raw/ holds the pages as served, with every "
                    "commenter's names, although authors = %r keeps them out of the tables", settings.authors)
    return mode == "keep" or mode == "auto" and settings.authors == "keep"


def fetch_only_refused(settings: Settings) -> str | None:
    """Why ``newsmill fetch`` (which only writes a raw capture) must not run with these settings, or None."""
    if raw_kept(settings):
        return None
    why = (f"authors = {settings.authors!r} keeps no raw capture of the pages (it holds commenters' names)"
           if settings.fetch.raw == "auto" else "[fetch] raw = \"discard\" keeps no raw capture")
    return (f"{why}, and `newsmill fetch` writes nothing else: use `newsmill run` (it reads the capture and removes "
            f"it), or set [fetch] raw = \"keep\" (or NEWSMILL_FETCH_RAW=keep) to keep the pages as served")


def fetch_sources(sources, settings: FetchSettings, *, places: LivePlaces, run_id: str,
                  transport: httpx.BaseTransport | None = None,
                  trusted: Callable[[str], bool] | None = None, transient=None) -> FetchResult:
    """Fetch every live source into the run's raw capture (``places.raw``).

    ``trusted(run_id)`` says whether validators remembered by that run may be
    sent (default ``places.finished``: the run has a report); ``transport`` replaces the network.
    ``transient`` (a ``store.staging.Transient``; given when :func:`raw_kept` says no): the capture
    is written to the run's work area instead, removed with it when the run ends, and at once
    (``transient.discard()``) if the fetch fails.
    """
    live = [s for s in sources if isinstance(s, SourceSpec) and s.live]
    trusted = trusted or places.finished
    cache = HttpCache(places.http_cache)
    keep_raw = transient is None
    target = places.raw if keep_raw else transient.path(TRANSIENT_NAME)
    try:
        store = RawStore(target, run_id=run_id,
                         info={"http-header-user-agent": user_agent(settings), "operator": settings.contact or ""})
    except BaseException:
        if not keep_raw:
            transient.discard()
        raise
    counts: Counter = Counter()
    rejects: list[Reject] = []

    def validators(url: str) -> dict | None:
        known = cache.get(url)
        return known if known and trusted(known.get("run_id", "")) else None

    try:
        with Fetcher(settings, store=store, transport=transport) as fetcher:
            found = feeds.expand(live, fetcher, max_urls=settings.max_urls, max_bytes=settings.max_page_bytes)
            rejects += found.rejects
            counts.update(urls=len(found.urls), feeds=found.feeds, over_max_urls=found.over_limit)
            if found.over_limit:
                log.warning("fetch: %d URLs over max_urls %d not fetched", found.over_limit, settings.max_urls)

            def one(url: str) -> Outcome:
                try:
                    return fetcher.fetch(url, validators=validators, allow_private=url in found.private_ok)
                except Exception as exc:  # a bug for one URL must not lose the others
                    log.exception("fetch %s failed", shown(url))
                    return Outcome(url, "rejected", reason="fetch_error", detail=f"{type(exc).__name__}: {exc}")

            with ThreadPoolExecutor(max_workers=settings.concurrency, thread_name_prefix="newsmill-fetch") as pool:
                for out in pool.map(one, found.urls):
                    if out.status == "ok":
                        counts["fetched"] += 1
                        cache.remember(out.final_url or out.url, etag=out.etag, last_modified=out.last_modified,
                                       run_id=run_id)
                    elif out.status == "not_modified":
                        counts["not_modified"] += 1
                    else:
                        counts["rejected"] += 1
                        rejects.append(out.reject())
            counts.update({k: v for k, v in fetcher.stats.items() if k in ("requests", "retries", "robots")})
    except BaseException:
        if keep_raw:
            log.error("fetch %s stopped: the raw traffic so far is in %s", run_id, store.abort())
        else:
            store.abort()
            transient.discard()  # the transient capture goes: nothing of it is kept
            log.error("fetch %s stopped", run_id)
        raise
    path = store.close()
    cache.save()
    log.info("fetch %s: %s", run_id, dict(counts))
    return FetchResult(run_id=run_id, warc_path=path, rejects=rejects, counts={k: v for k, v in counts.items() if v})
