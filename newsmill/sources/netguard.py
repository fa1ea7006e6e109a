"""Which network addresses a fetch may reach (server-side request forgery).

A feed, a sitemap or a redirect names any URL it likes; without a check, a run
would fetch ``http://127.0.0.1:4200/api/admin/settings`` (the local Prefect
server), a cloud metadata service (``169.254.169.254``) or an intranet page,
keep the answer in the raw WARC and publish it.  So loopback, link-local,
private, shared (carrier-grade NAT), unspecified, multicast and reserved
addresses are refused, IPv4 and IPv6 (also an IPv4 address written as IPv6),
unless a source opts in (``allow_private_addresses = true`` in its ``[[sources]]``
entry: the source, and the links its feed or sitemap gives) or the project does
for all sources (the same key in ``[fetch]``).

Two places check: :func:`url_refusal` before every request (every redirect hop,
robots.txt, feeds, pages) for addresses written in the URL, and
:class:`Backend` where the connection is made, for every address a name
resolves to; it then connects to the address it checked, so a second DNS answer
cannot swap in another one (DNS rebinding).
"""
from __future__ import annotations

import ipaddress
import socket
import threading
import time
import typing
from contextlib import contextmanager

import httpcore

_SHARED = ipaddress.ip_network("100.64.0.0/10")  # RFC 6598, not in Python's is_private
_KINDS = ("loopback", "link_local", "private", "unspecified", "multicast", "reserved", "site_local")


class PrivateAddress(httpcore.ConnectError):
    """A connection refused because of where it would go; the message names the address."""


def refused(ip: str) -> str | None:
    """Why ``ip`` may not be fetched from ('loopback', 'private', ...), or None for a public address."""
    try:
        addr = ipaddress.ip_address(ip.split("%", 1)[0])
    except ValueError:
        return None
    if addr.version == 6 and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    for kind in _KINDS:
        if getattr(addr, f"is_{kind}", False):
            return kind.replace("_", "-")
    if addr.version == 4 and addr in _SHARED:
        return "shared (carrier-grade NAT)"
    return None


def url_refusal(host: str) -> str | None:
    """Why a URL's host may not be fetched from, when the URL itself says (an address, ``localhost``)."""
    name = host.strip("[]").lower().rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):  # RFC 6761: always loopback, never asked of DNS
        return f"{host} is loopback"
    why = refused(name)
    return f"{host} is a {why} address" if why else None


_state = threading.local()


@contextmanager
def exchange(seconds: float, *, private_ok: bool = False):
    """The socket operations of this thread's request inside the block: all ended by ``seconds`` from
    now, and (``private_ok``) allowed to reach private addresses, for a source that opted in.

    httpx's timeouts are per operation: a server sending its status line and headers one byte at a
    time, each within ``timeout``, holds a request for as long as it likes, and httpx hands back no
    response (so no body loop) that could check a clock meanwhile.  Here each read, write, connect
    and TLS handshake gets at most the time left, and none starts after the deadline.
    """
    _state.at, _state.total, _state.private_ok = time.monotonic() + seconds, seconds, private_ok
    try:
        yield
    finally:
        _state.at, _state.private_ok = None, False


def _left(timeout: float | None, error=httpcore.ReadTimeout) -> float | None:
    at = getattr(_state, "at", None)
    if at is None:
        return timeout
    left = at - time.monotonic()
    if left <= 0:
        raise error(f"exchange not complete after total_timeout {_state.total} s")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream):
        self.inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        try:
            return self.inner.read(max_bytes, _left(timeout))
        except httpcore.ReadTimeout:
            _left(None)  # say 'total_timeout' when that is what ran out
            raise

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self.inner.write(buffer, _left(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self.inner.close()

    def start_tls(self, ssl_context, server_hostname: str | None = None, timeout: float | None = None):
        return _DeadlineStream(self.inner.start_tls(ssl_context, server_hostname, _left(timeout, httpcore.ConnectTimeout)))

    def get_extra_info(self, info: str):
        return self.inner.get_extra_info(info)


class Backend(httpcore.SyncBackend):
    """httpcore's socket backend with the deadline of :func:`exchange` applied to every operation and,
    when ``refuse_private`` (and the exchange is not ``private_ok``), no connection where
    :func:`refused` says no."""

    def __init__(self, refuse_private: bool = True):
        self.refuse_private = refuse_private

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options: typing.Iterable | None = None) -> httpcore.NetworkStream:
        timeout = _left(timeout, httpcore.ConnectTimeout)
        if not self.refuse_private or getattr(_state, "private_ok", False):
            return _DeadlineStream(super().connect_tcp(host, port, timeout, local_address, socket_options))
        try:
            answers = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            raise httpcore.ConnectError(str(exc)) from exc
        addresses = list(dict.fromkeys(a[4][0] for a in answers))
        for ip in addresses:
            why = refused(ip)
            if why:
                shown = "" if ip == host else f"{host} resolves to "
                raise PrivateAddress(f"{shown}{ip}, a {why} address: refused "
                                     "(allow_private_addresses = true on the source, or in [fetch], allows it)")
        last: Exception | None = None
        for ip in addresses:
            try:
                return _DeadlineStream(super().connect_tcp(ip, port, _left(timeout, httpcore.ConnectTimeout),
                                                           local_address, socket_options))
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
        raise last or httpcore.ConnectError(f"{host}: no address")


def install(client, *, refuse_private: bool) -> bool:
    """Put :class:`Backend` into an ``httpx.Client``'s own transport; False when its layout is not the
    one known (a future httpx), so that the caller can say what is missing."""
    pool = getattr(getattr(client, "_transport", None), "_pool", None)
    if pool is None or not hasattr(pool, "_network_backend"):
        return False
    pool._network_backend = Backend(refuse_private)
    return True
