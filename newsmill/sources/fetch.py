"""Polite HTTP fetching: one small interface (:class:`Fetcher`) around an ``httpx.Client``.

Tests inject an ``httpx`` transport (``MockTransport``) or point it at a local
server; nothing else in newsmill talks to the network.  What a fetch does:

* only ``http``/``https`` URLs (anything else: reject ``bad_scheme``);
* robots.txt per scheme+host+port, read once per run through the same client,
  read by RFC 9309 (protego: longest match wins, ``*`` and ``$``; a 4xx means
  no rules, a 5xx or no answer means "disallow all");
  ``Crawl-delay`` honoured, up to ``max_retry_wait``;
* per host: at most ``per_host_concurrency`` requests in flight and at least
  ``per_host_delay`` seconds between the starts of two requests; overall at
  most ``concurrency`` in flight;
* timeouts (``timeout`` of silence on connect/read, ``total_timeout`` for a
  whole exchange of one attempt: connect, TLS, request, headers and body,
  :func:`newsmill.sources.netguard.exchange`), retries with exponential back-off on connection errors,
  timeouts, 429 and 5xx, honouring ``Retry-After`` (a wait over
  ``max_retry_wait`` gives up at once);
* redirects followed by hand, each hop checked like the first, at most
  ``max_redirects``;
* loopback, link-local, private and other non-public addresses refused on
  every request and every address a name resolves to (reject
  ``private_address``, :mod:`newsmill.sources.netguard`) unless
  ``allow_private_addresses``;
* bodies streamed to a spooled temporary file and abandoned (connection
  closed) past ``max_page_bytes``: reject ``too_large``;
* every exchange written to the run's raw WARC (:mod:`newsmill.sources.rawstore`).

A fetch never raises for a bad URL or a bad server: it returns an
:class:`Outcome` whose ``status`` is ``ok``, ``not_modified`` or ``rejected``
(with a machine-readable ``reason``).
"""
from __future__ import annotations

import email.utils
import logging
import random
import socket
import tempfile
import threading
import time
import zlib
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable
import httpx
from protego import Protego

from newsmill.config import FetchSettings
from newsmill.records import Reject
from newsmill.sources import netguard
from newsmill.sources.netguard import PrivateAddress
from newsmill.sources.rawstore import RawStore
from newsmill.text import shown
from newsmill.version import __version__

log = logging.getLogger(__name__)

SCHEMES = ("http", "https")
HTML_TYPES = ("text/html", "application/xhtml+xml")  # as newsmill.sources.warc reads response records
REDIRECTS = (301, 302, 303, 307, 308)
ROBOTS_MAX_BYTES = 512 * 1024  # RFC 9309: parse at least 500 KiB
SPOOL_BYTES = 1 << 20  # a body up to this size stays in memory, bigger ones go to a temporary file
CHUNK = 64 * 1024
_OPT_IN = "(allow_private_addresses = true on the source, or in [fetch], allows it)"


def user_agent(settings: FetchSettings) -> str:
    """The User-Agent header: the configured product token (always naming newsmill) and the contact."""
    ua = settings.user_agent.strip() or f"newsmill/{__version__}"
    if "newsmill" not in ua.lower():
        ua += f" newsmill/{__version__}"
    return f"{ua} (+{settings.contact})" if settings.contact else ua


@dataclass
class Outcome:
    """What became of one URL."""

    url: str
    status: str  # 'ok' | 'not_modified' | 'rejected'
    final_url: str | None = None
    http_status: int | None = None
    content_type: str = ""
    reason: str | None = None
    detail: str = ""
    body: bytes | None = None  # decoded payload, only when asked for (feeds, sitemaps, robots.txt)
    etag: str | None = None
    last_modified: str | None = None
    redirects: int = 0

    def reject(self, prefix: str = "") -> Reject:
        return Reject(self.url, "fetch", self.reason or "fetch_error", prefix + self.detail)


@dataclass
class _Hop:
    """One request/response (no redirect followed): the status and headers, or the failure."""

    url: str
    status: int | None = None
    headers: httpx.Headers = field(default_factory=httpx.Headers)
    body: bytes | None = None
    error: str | None = None  # reject reason when the exchange failed
    detail: str = ""
    retryable: bool = False


class _Host:
    """Politeness state of one host: in-flight cap and the earliest start of its next request."""

    def __init__(self, concurrency: int, delay: float):
        self.slots = threading.BoundedSemaphore(concurrency)
        self.lock = threading.Lock()
        self.delay = delay
        self.next_start = 0.0

    def wait_turn(self) -> None:
        with self.lock:
            now = time.monotonic()
            start = max(now, self.next_start)
            self.next_start = start + self.delay
        if start > now:
            time.sleep(start - now)

    def defer(self, seconds: float) -> None:
        """Nobody starts a request to this host for ``seconds`` (Retry-After)."""
        with self.lock:
            self.next_start = max(self.next_start, time.monotonic() + seconds)


class _Rules:
    """One host's robots.txt as RFC 9309 reads it (protego: the longest matching rule wins, Allow on a
    tie; ``*`` and ``$`` wildcards; percent-encoding normalised), or 'allow all' / 'disallow all'."""

    def __init__(self, text: str | None = None, *, allow: bool = True):
        self.rules = Protego.parse(text) if text is not None else None
        self.allow = allow

    def can_fetch(self, token: str, url: str) -> bool:
        return self.rules.can_fetch(url, token) if self.rules is not None else self.allow

    def crawl_delay(self, token: str) -> float | None:
        return self.rules.crawl_delay(token) if self.rules is not None else None


class _Robots:
    def __init__(self):
        self.lock = threading.Lock()
        self.parser: _Rules | None = None
        self.reason = "robots_disallowed"  # or the network error that left robots.txt unread
        self.note = ""


def product_token(ua: str) -> str:
    """The User-Agent's product token ('newsmill' in 'newsmill/0.2.0 (+mailto:...)'): what robots.txt
    groups are matched against (RFC 9309 2.2.1), never the contact address after it."""
    return ua.split()[0].split("/")[0] if ua.strip() else "newsmill"


def _retry_after(headers: httpx.Headers) -> float | None:
    value = (headers.get("retry-after") or "").strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


def _is_dns_failure(exc: BaseException) -> bool:
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, socket.gaierror):
            return True
        text = str(exc).lower()
        if "name or service not known" in text or "nodename nor servname" in text or "name resolution" in text \
                or "getaddrinfo failed" in text:
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def _classify(exc: httpx.HTTPError) -> tuple[str, bool]:
    """(reject reason, worth retrying) for a transport error."""
    if isinstance(exc.__cause__, PrivateAddress):
        return "private_address", False
    if isinstance(exc, httpx.TimeoutException):
        return "timeout", True
    if isinstance(exc, httpx.ConnectError):
        return ("dns_error", False) if _is_dns_failure(exc) else ("connect_error", True)
    if isinstance(exc, (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)):
        return "network_error", True
    if isinstance(exc, httpx.UnsupportedProtocol):
        return "bad_scheme", False
    return "fetch_error", False


def _decode(raw: bytes, encoding: str, max_bytes: int) -> bytes:
    """The payload without its Content-Encoding (we only ever ask for gzip or deflate)."""
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        return raw
    if encoding not in ("gzip", "x-gzip", "deflate"):
        raise ValueError(f"unsupported content encoding {encoding!r}")
    d = zlib.decompressobj(wbits=47 if encoding != "deflate" else 15)
    try:
        out = d.decompress(raw, max_bytes + 1)
    except zlib.error:
        if encoding != "deflate":
            raise
        d = zlib.decompressobj(wbits=-15)  # raw deflate, as some servers send it
        out = d.decompress(raw, max_bytes + 1)
    if len(out) > max_bytes:
        raise ValueError(f"over {max_bytes} bytes once decoded")
    return out


def _raw_chunks(resp: httpx.Response):
    """The body as received (content-encoded).  A transport may hand back a body it already read (an
    ``httpx.Response(content=...)`` from a MockTransport): usable as is when it has no Content-Encoding."""
    if not resp.is_stream_consumed:
        return resp.iter_raw(CHUNK)
    if resp.headers.get("content-encoding", "identity").strip().lower() != "identity":
        raise httpx.DecodingError("transport returned an already-read, content-encoded body")
    return iter([resp.content])


class Fetcher:
    """Fetches URLs politely and records every exchange in ``store`` (when given).

    Thread-safe: call :meth:`fetch` from as many threads as you like, the
    limits hold across them.  ``transport`` replaces the network (tests).
    """

    def __init__(self, settings: FetchSettings, *, store: RawStore | None = None,
                 transport: httpx.BaseTransport | None = None):
        self.settings = settings
        self.store = store
        self.user_agent = user_agent(settings)
        self.token = product_token(self.user_agent)
        self.client = httpx.Client(
            transport=transport,
            timeout=httpx.Timeout(settings.timeout),
            follow_redirects=False,
            limits=httpx.Limits(max_connections=settings.concurrency + 2,
                                max_keepalive_connections=settings.concurrency),
            headers={"User-Agent": self.user_agent,
                     "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
                     # what warcio can decode when the archive is read back: no br, no zstd
                     "Accept-Encoding": "gzip, deflate"},
        )
        if transport is None and not netguard.install(self.client, refuse_private=not settings.allow_private_addresses):
            log.warning("fetch: this httpx cannot take newsmill's socket layer: total_timeout is checked only "
                        "between body chunks, and names resolving to private addresses are not refused")
        self._inflight = threading.BoundedSemaphore(settings.concurrency)
        self._lock = threading.Lock()
        self._hosts: dict[str, _Host] = {}
        self._robots: dict[tuple[str, str], _Robots] = {}
        self.stats: Counter = Counter()
        if not settings.contact:
            log.warning("fetch: no contact set ([fetch] contact = \"mailto:you@example.org\"): site owners "
                        "cannot reach you about newsmill's requests")

    # -- plumbing ----------------------------------------------------------------------------------

    def __enter__(self) -> "Fetcher":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.client.close()

    def _count(self, key: str, n: int = 1) -> None:
        with self._lock:
            self.stats[key] += n

    def _host(self, url: httpx.URL) -> _Host:
        key = url.host.lower()
        with self._lock:
            host = self._hosts.get(key)
            if host is None:
                host = self._hosts[key] = _Host(self.settings.per_host_concurrency, self.settings.per_host_delay)
            return host

    # -- one exchange ------------------------------------------------------------------------------

    def _attempt(self, url: httpx.URL, headers: dict, *, role: str, keep_body: bool, max_bytes: int,
                 truncate: bool = False, private_ok: bool = False) -> _Hop:
        hop = _Hop(str(url))
        private_ok = private_ok or self.settings.allow_private_addresses
        if not private_ok and (why := netguard.url_refusal(url.host)):
            hop.error, hop.detail = "private_address", f"{why}: refused {_OPT_IN}"
            return hop
        host = self._host(url)
        with host.slots, self._inflight:
            host.wait_turn()
            self._count("requests")
            started = time.monotonic()
            try:
                with netguard.exchange(self.settings.total_timeout, private_ok=private_ok), \
                        self.client.stream("GET", url, headers=headers) as resp:
                    captured = datetime.now(timezone.utc)
                    hop.status, hop.headers = resp.status_code, resp.headers
                    declared = resp.headers.get("content-length", "")
                    if declared.isdigit() and int(declared) > max_bytes and not truncate:
                        hop.error, hop.detail = "too_large", f"Content-Length {declared} over max_page_bytes {max_bytes}"
                        return hop
                    with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as spool:
                        size, cut = 0, None
                        for chunk in _raw_chunks(resp):
                            if size + len(chunk) > max_bytes:
                                if not truncate:
                                    hop.error = "too_large"
                                    hop.detail = f"body over max_page_bytes {max_bytes} (abandoned after {size + len(chunk)} bytes)"
                                    return hop
                                spool.write(chunk[: max_bytes - size])
                                size, cut = max_bytes, "length"
                                break
                            spool.write(chunk)
                            size += len(chunk)
                            if time.monotonic() - started > self.settings.total_timeout:
                                raise httpx.ReadTimeout(f"exchange not complete after total_timeout {self.settings.total_timeout} s")
                        if self.store is not None:
                            self.store.write_exchange(resp, spool, size, captured_at=captured, role=role, truncated=cut)
                        if keep_body:
                            spool.seek(0)
                            try:
                                hop.body = _decode(spool.read(), resp.headers.get("content-encoding", ""), max_bytes)
                            except (ValueError, zlib.error) as exc:
                                hop.error, hop.detail = "bad_encoding", str(exc)
            except httpx.HTTPError as exc:
                hop.error, hop.retryable = _classify(exc)
                hop.detail = f"{type(exc).__name__}: {exc}"
            return hop

    def _get(self, url: httpx.URL, headers: dict, **kw) -> _Hop:
        """One exchange with retries: back-off ``backoff * 2**n`` (with jitter), or ``Retry-After``."""
        s = self.settings
        attempt = 0
        while True:
            hop = self._attempt(url, headers, **kw)
            retryable = hop.retryable if hop.error else (hop.status == 429 or 500 <= (hop.status or 0) < 600)
            if not retryable:
                return hop
            if attempt >= s.retries:
                hop.detail = (hop.detail or f"HTTP {hop.status}") + f" (after {attempt + 1} attempts)"
                return hop
            wait = min(s.backoff * (2 ** attempt), s.max_retry_wait) * (1 + random.random() * 0.1)
            after = _retry_after(hop.headers) if not hop.error else None
            if after is not None:
                if after > s.max_retry_wait:
                    hop.detail = f"HTTP {hop.status}: Retry-After {after:.0f} s is over max_retry_wait {s.max_retry_wait} s"
                    return hop
                self._host(url).defer(after)
                wait = max(wait, after)
            self._count("retries")
            log.info("fetch %s: %s, retry %d in %.2f s", shown(url), hop.error or hop.status, attempt + 1, wait)
            time.sleep(wait)
            attempt += 1

    # -- robots.txt --------------------------------------------------------------------------------

    def _robots_for(self, url: httpx.URL, private_ok: bool = False) -> _Robots:
        key = (url.scheme, url.netloc.decode("ascii").lower(), private_ok)
        with self._lock:
            entry = self._robots.setdefault(key, _Robots())
        with entry.lock:  # one thread reads it; the others wait for its answer
            if entry.parser is None:
                entry.parser, entry.reason, entry.note = self._read_robots(url.join("/robots.txt"), private_ok)
        return entry

    def _read_robots(self, robots_url: httpx.URL, private_ok: bool = False) -> tuple[_Rules, str, str]:
        """(rules, reject reason for what they refuse, why everything is refused when it is)."""
        current = robots_url
        self._count("robots")
        for _ in range(self.settings.max_redirects + 1):
            hop = self._get(current, {}, role="robots", keep_body=True, max_bytes=ROBOTS_MAX_BYTES, truncate=True,
                            private_ok=private_ok)
            status = hop.status or 0
            if hop.error is None and status in REDIRECTS and hop.headers.get("location"):
                current = current.join(hop.headers["location"])
                if current.scheme in SCHEMES:
                    continue
                break
            if hop.error is None and 200 <= status < 300:
                parser = _Rules((hop.body or b"").decode("utf-8", "replace"))
                delay = parser.crawl_delay(self.token)
                if delay:
                    host = self._host(robots_url)
                    with host.lock:
                        host.delay = max(host.delay, min(float(delay), self.settings.max_retry_wait))
                return parser, "robots_disallowed", ""
            if hop.error is None and 400 <= status < 500:
                return _Rules(allow=True), "robots_disallowed", ""
            parser = _Rules(allow=False)  # RFC 9309 2.3.1.4: unreachable robots.txt means complete disallow
            if hop.error:  # the host cannot be reached at all: say so, not "disallowed"
                return parser, hop.error, f"robots.txt unreachable: {hop.detail}"
            return parser, "robots_disallowed", f"robots.txt unavailable (HTTP {status}): complete disallow assumed"
        # too many redirects: RFC 9309 2.3.1.2, treated as unavailable (4xx)
        return _Rules(allow=True), "robots_disallowed", ""

    def allowed(self, url: httpx.URL, private_ok: bool = False) -> tuple[str | None, str]:
        """(None, '') when robots.txt lets us fetch ``url``, else (reject reason, detail)."""
        if not self.settings.respect_robots:
            return None, ""
        entry = self._robots_for(url, private_ok)
        if entry.parser.can_fetch(self.token, str(url)):
            return None, ""
        return entry.reason, entry.note or f"robots.txt of {url.host} disallows {url.raw_path.decode('ascii', 'replace')}"

    # -- the interface -----------------------------------------------------------------------------

    def fetch(self, url: str, *, role: str = "page", keep_body: bool = False,
              validators: Callable[[str], dict | None] | None = None, allow_private: bool = False) -> Outcome:
        """GET ``url`` following redirects; ``validators(url)`` may give the ETag/Last-Modified
        remembered for a URL, sent as If-None-Match/If-Modified-Since; ``allow_private``: the URL's
        source opted in to private addresses."""
        s = self.settings
        private_ok = allow_private or s.allow_private_addresses
        try:
            current = httpx.URL(url)
        except (httpx.InvalidURL, TypeError, ValueError) as exc:
            return Outcome(url, "rejected", reason="invalid_url", detail=f"{exc}")
        for hops in range(s.max_redirects + 1):
            if current.scheme not in SCHEMES:
                return Outcome(url, "rejected", final_url=str(current), reason="bad_scheme",
                               detail=f"only http and https are fetched, not {current.scheme or 'a URL without scheme'!r}")
            if not current.host:
                return Outcome(url, "rejected", reason="invalid_url", detail=f"no host in {current}")
            if not private_ok and (why := netguard.url_refusal(current.host)):  # before robots.txt: nothing sent
                self._count("private_address")
                return Outcome(url, "rejected", final_url=str(current), reason="private_address",
                               detail=f"{why}: refused {_OPT_IN}")
            refused, why = self.allowed(current, private_ok)
            if refused:
                self._count(refused)
                return Outcome(url, "rejected", final_url=str(current), reason=refused, detail=why)
            headers = {}
            known = validators(str(current)) if validators else None
            if known:
                if known.get("etag"):
                    headers["If-None-Match"] = known["etag"]
                if known.get("last_modified"):
                    headers["If-Modified-Since"] = known["last_modified"]
            hop = self._get(current, headers, role=role, keep_body=keep_body, max_bytes=s.max_page_bytes,
                            private_ok=private_ok)
            out = Outcome(url, "rejected", final_url=str(current), http_status=hop.status, redirects=hops,
                          content_type=(hop.headers.get("content-type") or "").split(";")[0].strip().lower(),
                          etag=hop.headers.get("etag"), last_modified=hop.headers.get("last-modified"))
            if hop.error:
                out.reason, out.detail = hop.error, hop.detail
                return out
            status = hop.status or 0
            if status in REDIRECTS:
                location = hop.headers.get("location")
                if not location:
                    out.reason, out.detail = f"http_{status}", "redirect without a Location header"
                    return out
                try:
                    current = current.join(location)
                except (httpx.InvalidURL, ValueError) as exc:
                    out.reason, out.detail = "invalid_url", f"redirect to {location!r}: {exc}"
                    return out
                continue
            if status == 304:
                out.status = "not_modified"
                return out
            if 200 <= status < 300:
                if role == "page" and out.content_type not in HTML_TYPES:
                    out.reason, out.detail = "not_html", f"content type {out.content_type or 'missing'!r}"
                    return out
                out.status, out.body = "ok", hop.body
                return out
            out.reason, out.detail = f"http_{status}", hop.detail or f"HTTP {status} {hop.headers.get('content-type', '')}".strip()
            return out
        return Outcome(url, "rejected", final_url=str(current), reason="too_many_redirects", redirects=s.max_redirects + 1,
                       detail=f"more than max_redirects {s.max_redirects} redirects")
