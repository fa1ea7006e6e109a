"""Fetching live sources: robots.txt, politeness, retries, redirects, size caps, conditional GET, raw WARC.

Real sockets on 127.0.0.1 (ephemeral ports, tests/localserver.py) wherever timing or
the connection matters; httpx.MockTransport only for what a socket cannot show
(several host names, a DNS failure).  Nothing here reaches the internet.
"""
from __future__ import annotations

import gzip
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from warcio.archiveiterator import ArchiveIterator

from newsmill.config import FetchSettings, SourceSpec
from newsmill.records import PageInput
from newsmill.sources.fetch import Fetcher, user_agent
from newsmill.sources.live import fetch_sources
from newsmill.store.layout import HTTP_CACHE, live_places
from newsmill.sources.warc import read_record, scan
from tests.localserver import page, robots, send, serving

HTML = b"<html><head><title>T</title></head><body><p>Hello there</p></body></html>"


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch):
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(var, raising=False)


class Streamed(httpx.SyncByteStream):
    """A body the client streams (an httpx.Response(content=...) is read at once, like no real transport)."""

    def __init__(self, data: bytes):
        self.data = data

    def __iter__(self):
        yield self.data


def settings(**kw) -> FetchSettings:
    # the local test server is on 127.0.0.1: loopback is opted in here, and refused in the SSRF tests below
    base = dict(per_host_delay=0.0, per_host_concurrency=4, concurrency=8, timeout=2.0, retries=2, backoff=0.01,
                contact="mailto:tests@example.org", allow_private_addresses=True)
    return FetchSettings(**{**base, **kw})


def urls(*u: str) -> list[SourceSpec]:
    return [SourceSpec("urls", urls=tuple(u))]


def fetch(tmp_path, srcs, fs, **kw):
    run_id = kw.pop("run_id", "run1")
    return fetch_sources(srcs, fs, places=live_places(tmp_path, run_id), run_id=run_id, **kw)


# -- robots.txt ------------------------------------------------------------------------------------

def test_robots_disallow_is_a_reject_and_never_requested(tmp_path):
    # the group naming newsmill applies, not the '*' one (which disallows everything)
    routes = {"/robots.txt": robots("User-agent: *\nDisallow: /\n\nUser-agent: newsmill\nDisallow: /private\n"
                                    "Disallow: /nm-only\n"),
              "/ok": page(HTML), "/private/a": page(HTML), "/nm-only": page(HTML)}
    with serving(routes) as s:
        res = fetch(tmp_path, urls(s.url("/ok"), s.url("/private/a"), s.url("/nm-only")), settings())
        seen = s.stats.paths()
        ua = s.stats.requests[0].headers["user-agent"]
    assert {r.input_uri.rsplit("/", 1)[-1]: r.reason for r in res.rejects} == {"a": "robots_disallowed",
                                                                             "nm-only": "robots_disallowed"}
    assert all(r.stage == "fetch" for r in res.rejects)
    assert res.counts["fetched"] == 1
    assert seen.count("/robots.txt") == 1 and "/private/a" not in seen and "/nm-only" not in seen  # cached per host
    assert ua.startswith("newsmill/") and "mailto:tests@example.org" in ua


def test_robots_unreachable_means_disallow_all_and_404_means_allow(tmp_path):
    with serving({"/robots.txt": lambda h: send(h, 503, b"down", "text/plain"), "/a": page(HTML)}) as s:
        res = fetch(tmp_path, urls(s.url("/a")), settings(retries=0))
        assert "/a" not in s.stats.paths()
    assert [r.reason for r in res.rejects] == ["robots_disallowed"] and "unavailable" in res.rejects[0].detail
    with serving({"/a": page(HTML)}) as s:  # no robots.txt at all (404): everything allowed
        res = fetch(tmp_path, urls(s.url("/a")), settings(), run_id="run2")
    assert res.rejects == [] and res.counts["fetched"] == 1


def test_respect_robots_false_skips_robots(tmp_path):
    with serving({"/robots.txt": robots("User-agent: *\nDisallow: /\n"), "/a": page(HTML)}) as s:
        res = fetch(tmp_path, urls(s.url("/a")), settings(respect_robots=False))
        assert "/robots.txt" not in s.stats.paths()
    assert res.counts["fetched"] == 1


RFC9309_CASES = [
    # (robots.txt, path, allowed): the most specific (longest) match wins, whatever the order
    ("User-agent: *\nAllow: /\nDisallow: /private/\n", "/private/a", False),
    ("User-agent: *\nAllow: /\nDisallow: /private/\n", "/public/a", True),
    ("User-agent: *\nDisallow: /private/\nAllow: /private/open/\n", "/private/open/a", True),
    ("User-agent: *\nDisallow: /private/\nAllow: /private/open/\n", "/private/b", False),
    ("User-agent: *\nAllow: /page\nDisallow: /page\n", "/page", True),  # a tie: the least restrictive
    # '*' matches any run of characters, '$' the end of the path
    ("User-agent: *\nDisallow: /*/comments\n", "/2012/story/comments", False),
    ("User-agent: *\nDisallow: /*/comments\n", "/2012/story", True),
    ("User-agent: *\nDisallow: /*.php$\n", "/index.php", False),
    ("User-agent: *\nDisallow: /*.php$\n", "/index.php?id=1", True),
    ("User-agent: *\nDisallow: /*.php$\n", "/index.phps", True),
    ("User-agent: *\nDisallow: /*.php\n", "/index.php?id=1", False),
    # the group naming newsmill (case-insensitive product token), else '*'
    ("User-agent: *\nDisallow: /\n\nUser-agent: NewsMill\nDisallow: /x\n", "/a", True),
    ("User-agent: other\nUser-agent: newsmill\nDisallow: /a\n\nUser-agent: *\nAllow: /\n", "/a", False),
    # percent-encoding: a rule and a path that differ only in encoding match
    ("User-agent: *\nDisallow: /caf%C3%A9\n", "/café", False),
]


@pytest.mark.parametrize("text,path,allowed", RFC9309_CASES)
def test_robots_rules_follow_rfc9309(text, path, allowed):
    def handler(req):
        if req.url.path == "/robots.txt":
            return httpx.Response(200, headers={"content-type": "text/plain"}, content=text.encode())
        return httpx.Response(404)

    with Fetcher(settings(), transport=httpx.MockTransport(handler)) as f:
        refused, _ = f.allowed(httpx.URL("http://news.example" + path))
    assert (refused is None) is allowed


def test_robots_allow_first_and_wildcards_keep_pages_unrequested(tmp_path):
    """The adversarial case: 'Allow: /' before 'Disallow: /private/', '/*/comments', '/*.php$'."""
    text = "User-agent: *\nAllow: /\nDisallow: /private/\nDisallow: /*/comments\nDisallow: /*.php$\n"
    paths = ["/ok", "/private/a", "/2012/story/comments", "/index.php"]
    with serving({"/robots.txt": robots(text), **{p: page(HTML) for p in paths}}) as s:
        res = fetch(tmp_path, urls(*(s.url(p) for p in paths)), settings())
        seen = s.stats.paths()
    assert sorted(seen) == ["/ok", "/robots.txt"]
    assert [r.reason for r in res.rejects] == ["robots_disallowed"] * 3 and res.counts["fetched"] == 1


# -- politeness ------------------------------------------------------------------------------------

def test_per_host_delay_between_request_starts(tmp_path):
    delay = 0.2
    routes = {"/robots.txt": robots("User-agent: *\nAllow: /\n"), **{f"/p{i}": page(HTML) for i in range(4)}}
    with serving(routes) as s:
        fetch(tmp_path, urls(*(s.url(f"/p{i}") for i in range(4))), settings(per_host_delay=delay, concurrency=4))
        times = sorted(r.at for r in s.stats.requests)
    assert len(times) == 5  # robots.txt counts as a request to the host too
    gaps = [b - a for a, b in zip(times, times[1:])]
    # server-side arrival times: on a loaded machine one arrival can lag by a good part of the delay
    # (shrinking the next gap: 0.09 s of 0.2 s seen in a full suite at load 7), but the whole span cannot
    # shrink, and without the delay the four concurrent requests would arrive together (gaps near zero)
    assert times[-1] - times[0] >= (len(times) - 1) * delay - 0.05, gaps
    assert min(gaps) >= delay / 5, gaps


def test_crawl_delay_from_robots_is_honoured(tmp_path):
    routes = {"/robots.txt": robots("User-agent: *\nCrawl-delay: 1\n"), "/a": page(HTML), "/b": page(HTML)}
    with serving(routes) as s:
        fetch(tmp_path, urls(s.url("/a"), s.url("/b")), settings(per_host_delay=0.0))
        times = sorted(r.at for r in s.stats.requests if r.path != "/robots.txt")
    assert times[1] - times[0] >= 1 - 0.02


def slow_page(seconds: float):
    def route(h):
        time.sleep(seconds)
        send(h, 200, HTML)
    return route


def test_per_host_concurrency_cap(tmp_path):
    routes = {f"/p{i}": slow_page(0.15) for i in range(8)}
    with serving(routes) as s:
        res = fetch(tmp_path, urls(*(s.url(f"/p{i}") for i in range(8))),
                    settings(per_host_concurrency=2, concurrency=8, respect_robots=False))
        peak = s.stats.peak
    assert res.counts["fetched"] == 8
    assert peak == 2  # used, never exceeded


def test_overall_concurrency_cap_across_hosts(tmp_path):
    lock, state = threading.Lock(), {"now": 0, "peak": 0, "hosts": {}}

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/robots.txt":
            return httpx.Response(404)
        with lock:
            state["now"] += 1
            state["peak"] = max(state["peak"], state["now"])
            h = state["hosts"]
            h[request.url.host] = h.get(request.url.host, 0) + 1
        time.sleep(0.08)
        with lock:
            state["now"] -= 1
        return httpx.Response(200, content=HTML, headers={"Content-Type": "text/html"})

    hosts = [f"http://site{i}.example" for i in range(4)]
    all_urls = [f"{h}/a{j}" for h in hosts for j in range(4)]
    res = fetch(tmp_path, urls(*all_urls), settings(per_host_concurrency=3, concurrency=3),
                transport=httpx.MockTransport(handler))
    assert res.counts["fetched"] == 16 and len(state["hosts"]) == 4
    assert state["peak"] == 3
    # the Fetcher itself holds the cap, however many threads call it
    state["peak"] = 0
    with Fetcher(settings(per_host_concurrency=3, concurrency=3), transport=httpx.MockTransport(handler)) as f, \
            ThreadPoolExecutor(16) as pool:
        outs = list(pool.map(f.fetch, all_urls))
    assert all(o.status == "ok" for o in outs) and state["peak"] == 3


# -- retries ---------------------------------------------------------------------------------------

def flaky(failures: list[tuple[int, dict]]):
    """Answers the given (status, headers) in turn, then the page."""
    left = list(failures)

    def route(h):
        if left:
            status, headers = left.pop(0)
            send(h, status, b"busy", "text/plain", headers)
        else:
            send(h, 200, HTML)
    return route


def page_times(s, path):
    return [r.at for r in s.stats.requests if r.path == path]


def test_retry_503_honours_retry_after(tmp_path):
    with serving({"/a": flaky([(503, {"Retry-After": "1"})])}) as s:
        res = fetch(tmp_path, urls(s.url("/a")), settings(respect_robots=False, backoff=0.01))
        t = page_times(s, "/a")
    assert res.counts["fetched"] == 1 and res.counts["retries"] == 1 and res.rejects == []
    assert len(t) == 2 and t[1] - t[0] >= 1.0 - 0.02


def test_retry_backoff_is_exponential(tmp_path):
    with serving({"/a": flaky([(500, {}), (502, {})])}) as s:
        res = fetch(tmp_path, urls(s.url("/a")), settings(respect_robots=False, backoff=0.15))
        t = page_times(s, "/a")
    assert res.counts["fetched"] == 1 and len(t) == 3
    assert t[1] - t[0] >= 0.15 - 0.02 and t[2] - t[1] >= 0.30 - 0.02


def test_429_retried_then_rejected_when_it_persists(tmp_path):
    with serving({"/a": flaky([(429, {"Retry-After": "0"})]), "/b": flaky([(429, {})] * 10),
                  "/c": flaky([(429, {"Retry-After": "3600"})])}) as s:
        res = fetch(tmp_path, urls(s.url("/a"), s.url("/b"), s.url("/c")), settings(respect_robots=False, retries=2))
        paths = s.stats.paths()
    assert res.counts["fetched"] == 1
    rejects = {r.input_uri.rsplit("/", 1)[-1]: r for r in res.rejects}
    assert rejects["b"].reason == "http_429" and "3 attempts" in rejects["b"].detail and paths.count("/b") == 3
    # a Retry-After longer than max_retry_wait: given up at once, not slept on
    assert rejects["c"].reason == "http_429" and "max_retry_wait" in rejects["c"].detail and paths.count("/c") == 1


def test_timeout_rejected_after_retries(tmp_path):
    with serving({}) as s:
        s.routes["/slow"] = lambda h: (s.stop.wait(3), send(h, 200, HTML))
        started = time.monotonic()
        res = fetch(tmp_path, urls(s.url("/slow")), settings(respect_robots=False, timeout=0.2, retries=1))
        took = time.monotonic() - started
        n = s.stats.paths().count("/slow")
    assert [r.reason for r in res.rejects] == ["timeout"] and "2 attempts" in res.rejects[0].detail
    assert n == 2 and took < 2.0


def _dribble(s, data: bytes, every: float):
    """A route sending ``data`` (status line and headers included) one byte at a time: never silent for
    ``timeout``, yet never done; stops when the client hangs up or the server shuts down."""
    def route(h):
        h.close_connection = True
        for byte in data:
            h.wfile.write(bytes([byte]))
            h.wfile.flush()
            if s.stop.wait(every):
                return
    return route


@pytest.mark.parametrize("part", ["headers", "body"])
def test_total_timeout_covers_slow_headers_and_body(tmp_path, part):
    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: %d\r\nX-Pad: " % len(HTML) + b"x" * 300 + b"\r\n\r\n"
    with serving({}) as s:
        if part == "headers":
            s.routes["/slow"] = _dribble(s, head + HTML, 0.05)
        else:
            s.routes["/slow"] = lambda h: (h.wfile.write(head), h.wfile.flush(), _dribble(s, HTML * 40, 0.05)(h))
        started = time.monotonic()
        res = fetch(tmp_path, urls(s.url("/slow")), settings(respect_robots=False, timeout=1.0, total_timeout=0.6,
                                                             retries=0))
        took = time.monotonic() - started
    assert [r.reason for r in res.rejects] == ["timeout"] and "total_timeout" in res.rejects[0].detail
    assert took < 3.0  # the whole dribble takes over 15 s


def test_connection_refused_and_dns_failure(tmp_path):
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    res = fetch(tmp_path, urls(f"http://127.0.0.1:{port}/a"), settings(respect_robots=False, retries=1))
    assert [r.reason for r in res.rejects] == ["connect_error"] and res.counts["retries"] == 1

    calls = []

    def no_dns(request):
        calls.append(request.url)
        raise httpx.ConnectError("[Errno -2] Name or service not known") from socket.gaierror(-2, "Name or service not known")

    res = fetch(tmp_path, urls("http://no-such-host.invalid/a"), settings(retries=3), transport=httpx.MockTransport(no_dns),
                run_id="run2")
    # robots.txt cannot be read -> nothing is fetched (RFC 9309), the reject names the cause; no retries
    assert [r.reason for r in res.rejects] == ["dns_error"] and "robots.txt unreachable" in res.rejects[0].detail
    assert len(calls) == 1
    with Fetcher(settings(respect_robots=False, retries=3), transport=httpx.MockTransport(no_dns)) as f:
        out = f.fetch("http://no-such-host.invalid/b")
    assert out.reason == "dns_error" and len(calls) == 2


# -- redirects, schemes, status --------------------------------------------------------------------

def redirect(to: str, status: int = 302):
    return lambda h: send(h, status, b"", headers={"Location": to})


def test_redirects_bounded(tmp_path):
    over = {f"/a{i}": redirect(f"/a{i + 1}") for i in range(6)}  # 6 redirects before the page
    within = {f"/b{i}": redirect(f"/b{i + 1}", 301) for i in range(5)}  # 5 redirects: allowed
    routes = {**over, "/a6": page(HTML), **within, "/b5": page(HTML), "/to-ftp": redirect("ftp://example.org/x")}
    with serving(routes) as s:
        res = fetch(tmp_path, urls(s.url("/a0"), s.url("/b0"), s.url("/to-ftp")),
                    settings(respect_robots=False, max_redirects=5))
        paths = s.stats.paths()
    rejects = {r.input_uri.rsplit("/", 1)[-1]: r.reason for r in res.rejects}
    assert rejects == {"a0": "too_many_redirects", "to-ftp": "bad_scheme"}
    assert sorted(p for p in paths if p.startswith("/a")) == [f"/a{i}" for i in range(6)]  # /a6 never requested
    assert res.counts["fetched"] == 1
    (ref,) = scan(res.warc_path).refs
    assert read_record(ref, max_bytes=1 << 20).url == s.url("/b5")  # provenance: the final URL


def test_non_http_schemes_refused_without_a_request(tmp_path):
    bad = ["ftp://example.org/a", "file:///etc/passwd", "javascript:alert(1)", "mailto:a@example.org",
           "example.org/no-scheme", "gopher://example.org/"]

    def never(request):
        raise AssertionError(f"requested {request.url}")

    res = fetch(tmp_path, urls(*bad), settings(), transport=httpx.MockTransport(never))
    assert sorted(r.input_uri for r in res.rejects) == sorted(bad)
    assert {r.reason for r in res.rejects} == {"bad_scheme"}


def test_4xx_and_non_html_are_rejects(tmp_path):
    routes = {"/gone": lambda h: send(h, 410, b"gone"), "/doc.pdf": page(b"%PDF-1.4", ctype="application/pdf")}
    with serving(routes) as s:
        res = fetch(tmp_path, urls(s.url("/gone"), s.url("/missing"), s.url("/doc.pdf")), settings(respect_robots=False))
        paths = s.stats.paths()
    assert sorted(r.reason for r in res.rejects) == ["http_404", "http_410", "not_html"]
    assert paths.count("/gone") == 1  # 4xx is not retried


# -- size cap --------------------------------------------------------------------------------------

def test_size_cap_abandons_the_stream(tmp_path):
    total = 256 * 1024 * 1024
    sent = {"bytes": 0}
    done = threading.Event()

    def endless(h, declare: bool):
        h.send_response(200)
        h.send_header("Content-Type", "text/html")
        if declare:
            h.send_header("Content-Length", str(total))
        else:
            h.send_header("Connection", "close")
            h.close_connection = True
        h.end_headers()
        chunk = b"<p>" + b"x" * 65530 + b"</p>"
        try:
            while sent["bytes"] < total:
                h.wfile.write(chunk)
                sent["bytes"] += len(chunk)
        except OSError:
            pass
        finally:
            done.set()

    with serving({"/big": lambda h: endless(h, False), "/declared": lambda h: endless(h, True)}) as s:
        started = time.monotonic()
        res = fetch(tmp_path, urls(s.url("/big")), settings(respect_robots=False, max_page_bytes=100_000, retries=0))
        took = time.monotonic() - started
        assert done.wait(5)
        streamed = sent["bytes"]
        sent["bytes"], _ = 0, done.clear()
        res2 = fetch(tmp_path, urls(s.url("/declared")), settings(respect_robots=False, max_page_bytes=100_000),
                     run_id="run2")
        assert done.wait(5)
    assert [r.reason for r in res.rejects] == ["too_large"] and "abandoned" in res.rejects[0].detail
    assert streamed < total // 4 and took < 5  # the client hung up long before the end
    assert [r.reason for r in res2.rejects] == ["too_large"] and "Content-Length" in res2.rejects[0].detail
    for r in (res, res2):  # nothing half-read goes into the archive as a page
        assert scan(r.warc_path).refs == []


# -- conditional requests --------------------------------------------------------------------------

def versioned(state: dict):
    def route(h):
        inm, ims = h.headers.get("If-None-Match"), h.headers.get("If-Modified-Since")
        state["conditional"].append((inm, ims))
        if inm == '"v1"':
            send(h, 304, b"", headers={"ETag": '"v1"'})
        else:
            send(h, 200, HTML, headers={"ETag": '"v1"', "Last-Modified": "Wed, 08 Feb 2012 12:00:00 GMT"})
    return route


def test_conditional_get_304_counted_not_reprocessed(tmp_path):
    state = {"conditional": []}
    with serving({"/a": versioned(state)}) as s:
        fs = settings(respect_robots=False)
        first = fetch(tmp_path, urls(s.url("/a")), fs, run_id="run1", trusted=lambda run: True)
        second = fetch(tmp_path, urls(s.url("/a")), fs, run_id="run2", trusted=lambda run: True)
    assert (tmp_path.joinpath(*HTTP_CACHE)).exists()
    assert state["conditional"] == [(None, None), ('"v1"', "Wed, 08 Feb 2012 12:00:00 GMT")]
    assert first.counts["fetched"] == 1 and second.counts.get("fetched", 0) == 0
    assert second.counts["not_modified"] == 1 and second.skipped == {"fetch:not_modified": 1}
    assert second.rejects == []
    s2 = scan(second.warc_path)
    assert s2.refs == [] and s2.skipped["http_304"] == 1  # kept in the raw WARC, not read as a page


def test_conditional_headers_wait_for_the_run_that_fetched_to_finish(tmp_path):
    state = {"conditional": []}
    with serving({"/a": versioned(state)}) as s:
        fs = settings(respect_robots=False)
        fetch(tmp_path, urls(s.url("/a")), fs, run_id="run1")  # default: trusted once reports/run1 exists
        fetch(tmp_path, urls(s.url("/a")), fs, run_id="run2")
        report = tmp_path / "reports" / "run2" / "summary.json"
        report.parent.mkdir(parents=True)
        report.write_text("{}")
        third = fetch(tmp_path, urls(s.url("/a")), fs, run_id="run3")
    assert [c[0] for c in state["conditional"]] == [None, None, '"v1"']
    assert third.counts["not_modified"] == 1


# -- the raw WARC ----------------------------------------------------------------------------------

def test_raw_warc_keeps_request_and_response_with_real_headers(tmp_path):
    gz = gzip.compress(HTML)

    def gzipped(h):
        send(h, 200, gz, headers={"Content-Encoding": "gzip", "X-Served-By": "tests"})

    routes = {"/robots.txt": robots("User-agent: *\nAllow: /\n"), "/z": gzipped}
    with serving(routes) as s:
        res = fetch(tmp_path, urls(s.url("/z")), settings())
    assert res.warc_path == str(tmp_path / "raw" / "run1.warc.gz")
    assert not list((tmp_path / "raw").glob("*.part"))
    with open(res.warc_path, "rb") as f:
        recs = [(r.rec_type, r.rec_headers.get_header("WARC-Target-URI"), r.http_headers, r.rec_headers,
                 r.content_stream().read()) for r in ArchiveIterator(f)]
    types = [r[0] for r in recs]
    assert types == ["warcinfo", "request", "response", "request", "response"]
    _, uri, http, warc_headers, body = recs[-1]
    assert uri == s.url("/z") and http.get_statuscode() == "200"
    assert http.get_header("X-Served-By") == "tests" and http.get_header("Content-Encoding") == "gzip"
    assert body == HTML  # stored as received (gzip), decoded on reading
    req_http = recs[-2][2]
    assert req_http.protocol == "GET" and req_http.get_header("User-Agent") == user_agent(settings())
    assert recs[-2][3].get_header("WARC-Concurrent-To") == warc_headers.get_header("WARC-Record-ID")
    assert recs[2][3].get_header("WARC-Newsmill-Role") == "robots"
    (ref,) = scan(res.warc_path).refs  # robots.txt is skipped by role, the page is read decoded
    got = read_record(ref, max_bytes=1 << 20)
    assert isinstance(got, PageInput) and got.data == HTML and got.url == s.url("/z")


def test_transfer_encoding_chunked_is_not_claimed_for_a_dechunked_payload(tmp_path):
    def chunked(h):
        h.send_response(200)
        h.send_header("Content-Type", "text/html")
        h.send_header("Transfer-Encoding", "chunked")
        h.end_headers()
        for part in (HTML[:20], HTML[20:]):
            h.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
        h.wfile.write(b"0\r\n\r\n")

    with serving({"/c": chunked}) as s:
        res = fetch(tmp_path, urls(s.url("/c")), settings(respect_robots=False))
    (ref,) = scan(res.warc_path).refs
    assert read_record(ref, max_bytes=1 << 20).data == HTML
    with open(res.warc_path, "rb") as f:
        resp = [r for r in ArchiveIterator(f) if r.rec_type == "response"][0]
        assert resp.http_headers.get_header("Transfer-Encoding") is None


def test_fetcher_keeps_feed_bodies_decoded(tmp_path):
    body = b"<rss><channel><item><link>http://x.example/a</link></item></channel></rss>"
    handler = lambda r: httpx.Response(200, stream=Streamed(gzip.compress(body)),  # noqa: E731
                                       headers={"Content-Type": "application/rss+xml", "Content-Encoding": "gzip"})
    with Fetcher(settings(respect_robots=False), transport=httpx.MockTransport(handler)) as f:
        out = f.fetch("http://x.example/rss", role="feed", keep_body=True)
    assert out.status == "ok" and out.body == body


def test_user_agent_always_names_newsmill():
    assert user_agent(FetchSettings()).startswith("newsmill/")
    ua = user_agent(FetchSettings(user_agent="LabCrawler/2.0", contact="https://lab.example/crawler"))
    assert ua.startswith("LabCrawler/2.0 newsmill/") and ua.endswith("(+https://lab.example/crawler)")


# -- SSRF: loopback, link-local and private addresses --------------------------------------------

PRIVATE = ["127.0.0.1", "127.8.9.10", "::1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "fe80::1",
           "fc00::1", "fd12:3456::1", "0.0.0.0", "::", "224.0.0.1", "ff02::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1",
           "100.64.0.1", "fec0::1"]


@pytest.mark.parametrize("ip", PRIVATE)
def test_private_addresses_are_refused(ip):
    from newsmill.sources.netguard import refused

    assert refused(ip)


@pytest.mark.parametrize("ip", ["93.184.216.34", "8.8.8.8", "2606:2800:220:1::1", "2001:4860:4860::8888"])
def test_public_addresses_are_allowed(ip):
    from newsmill.sources.netguard import refused

    assert refused(ip) is None


def test_loopback_page_is_refused_unless_opted_in(tmp_path):
    with serving({"/secret": page(HTML)}) as s:
        res = fetch(tmp_path, urls(s.url("/secret"), s.url("/secret").replace("127.0.0.1", "localhost")),
                    settings(allow_private_addresses=False, retries=0))
        assert s.stats.paths() == []  # not even robots.txt was asked for
    assert [r.reason for r in res.rejects] == ["private_address", "private_address"]
    assert "loopback" in res.rejects[0].detail


def test_redirects_and_feed_links_to_private_addresses_are_refused_on_every_hop(tmp_path):
    """A public host may point anywhere: each redirect hop and each feed link is checked again."""
    targets = ["http://127.0.0.1:4200/api/admin/settings", "http://[::1]/", "http://169.254.169.254/latest/meta-data/",
               "http://[::ffff:127.0.0.1]/", "http://0.0.0.0:8080/", "http://localhost/docs", "http://10.0.0.7/x"]
    asked = []

    def handler(req):
        asked.append(str(req.url))
        if req.url.path == "/feed":
            items = "".join(f"<item><link>{t}</link></item>" for t in targets)
            return httpx.Response(200, headers={"content-type": "application/rss+xml"},
                                  content=f"<rss><channel>{items}</channel></rss>".encode())
        if req.url.path.startswith("/go/"):
            return httpx.Response(302, headers={"location": targets[int(req.url.path[4:])]})
        return httpx.Response(404)

    srcs = [SourceSpec("feed", url="http://news.example/feed"),
            SourceSpec("urls", urls=tuple(f"http://news.example/go/{i}" for i in range(len(targets))))]
    res = fetch(tmp_path, srcs, settings(allow_private_addresses=False, retries=0), transport=httpx.MockTransport(handler))
    assert all(u.startswith("http://news.example/") for u in asked), asked
    assert [r.reason for r in res.rejects] == ["private_address"] * (2 * len(targets))
    assert "fetched" not in res.counts


def test_a_name_resolving_to_a_private_address_is_refused_at_connect(tmp_path, monkeypatch):
    """DNS answers are checked where the connection is made (a name with one public and one private
    answer too: DNS rebinding), and the connection goes to the address that was checked."""
    from newsmill.sources import netguard

    real = socket.getaddrinfo
    fake = {"inside.test": ["10.0.0.5"], "rebind.test": ["93.184.216.34", "127.0.0.1"]}

    def getaddrinfo(host, port, *a, **kw):
        if host in fake:
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, port)) for ip in fake[host]]
        return real(host, port, *a, **kw)

    monkeypatch.setattr(netguard.socket, "getaddrinfo", getaddrinfo)
    res = fetch(tmp_path, urls("http://inside.test/a", "http://rebind.test/b"),
                settings(allow_private_addresses=False, retries=2))
    assert [(r.reason, "10.0.0.5" in r.detail or "127.0.0.1" in r.detail) for r in res.rejects] == [("private_address", True)] * 2


def test_one_source_opts_in_to_private_addresses_the_others_do_not(tmp_path):
    """The opt-in covers the source and the links its feed gives, not another source on the same host."""
    with serving({"/in": page(HTML), "/out": page(HTML), "/linked": page(HTML)}) as s:
        s.routes["/feed.xml"] = lambda h: send(h, 200, f"<rss><channel><item><link>{s.url('/linked')}</link></item>"
                                                       "</channel></rss>".encode(), "application/rss+xml")
        srcs = [SourceSpec("urls", urls=(s.url("/in"),), allow_private_addresses=True),
                SourceSpec("feed", url=s.url("/feed.xml"), allow_private_addresses=True),
                SourceSpec("urls", urls=(s.url("/out"),))]
        res = fetch(tmp_path, srcs, settings(allow_private_addresses=False, retries=0, respect_robots=False))
        seen = s.stats.paths()
    assert sorted(seen) == ["/feed.xml", "/in", "/linked"] and res.counts["fetched"] == 2
    assert [(r.input_uri.rsplit("/", 1)[-1], r.reason) for r in res.rejects] == [("out", "private_address")]
