"""A threaded HTTP server on 127.0.0.1 (ephemeral port) for the live-source tests: never the internet.

Routes map a path to a function ``(handler) -> None`` that answers through
the helpers below; the server records every request (path, headers, start
time) and the peak number of requests in flight.
"""
from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable


@dataclass
class Seen:
    path: str
    headers: dict
    at: float  # time.monotonic() when the request line arrived


@dataclass
class Stats:
    lock: threading.Lock = field(default_factory=threading.Lock)
    requests: list[Seen] = field(default_factory=list)
    inflight: int = 0
    peak: int = 0

    def paths(self) -> list[str]:
        with self.lock:
            return [r.path for r in self.requests]


class Server:
    def __init__(self, routes: dict[str, Callable], stats: Stats | None = None):
        self.routes = routes
        self.stats = stats or Stats()
        self.stop = threading.Event()  # handlers that stall wait on this, so teardown is quick
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):  # quiet
                pass

            def do_GET(self):
                st = outer.stats
                with st.lock:
                    st.requests.append(Seen(self.path, {k.lower(): v for k, v in self.headers.items()}, time.monotonic()))
                    st.inflight += 1
                    st.peak = max(st.peak, st.inflight)
                try:
                    route = outer.routes.get(self.path.split("?")[0])
                    if route is None:
                        send(self, 404, b"not here", "text/plain")
                    else:
                        route(self)
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True
                finally:
                    with st.lock:
                        st.inflight -= 1

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def url(self, path: str) -> str:
        return self.base + path

    def __enter__(self) -> "Server":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.httpd.shutdown()
        self.httpd.server_close()


def send(h: BaseHTTPRequestHandler, status: int, body: bytes = b"", ctype: str = "text/html; charset=utf-8",
         headers: dict | None = None) -> None:
    h.send_response(status)
    h.send_header("Content-Type", ctype)
    h.send_header("Content-Length", str(len(body)))
    for k, v in (headers or {}).items():
        h.send_header(k, v)
    h.end_headers()
    if body:
        h.wfile.write(body)


def page(body: bytes = b"<html><body><p>hi</p></body></html>", **kw) -> Callable:
    return lambda h: send(h, 200, body, **kw)


def robots(text: str) -> Callable:
    return lambda h: send(h, 200, text.encode(), "text/plain")


@contextmanager
def serving(routes: dict[str, Callable], stats: Stats | None = None):
    with Server(routes, stats) as s:
        yield s
