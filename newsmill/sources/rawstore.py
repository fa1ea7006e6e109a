"""Raw HTTP traffic of a run kept as a WARC file, so that any run can be replayed offline.

Every exchange (robots.txt, feeds, sitemaps, redirects, errors, pages) becomes a
``request`` record and a ``response`` record (gzip member each, written by
warcio's WARCWriter) in ``<output>/raw/<run id>.warc.gz``.  The pipeline then
reads that file like any other archive (inventory -> ``archive#offset`` refs ->
``read_record``), and ``newsmill run output/raw/<run id>.warc.gz`` replays it.

Payloads are the bytes as received (still content-encoded: warcio decodes
``Content-Encoding`` on reading); since the HTTP client has already removed the
chunked framing, a ``Transfer-Encoding`` header is not copied (the record would
otherwise claim a framing its payload no longer has).  Responses that are not
pages are marked ``WARC-Newsmill-Role: robots|feed|sitemap`` so that a scan
counts them instead of reading them as articles.

Bodies arrive in a spooled temporary file (memory bounded) and are copied into
the archive under a lock, one exchange at a time; the file is written as
``.warc.gz.part`` and renamed when the fetch ends, so a crashed fetch never
leaves a half-written archive under the name the pipeline reads.
"""
from __future__ import annotations

import os
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import BinaryIO

import httpx
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from newsmill.version import __version__

ROLE_HEADER = "WARC-Newsmill-Role"
_DROPPED = {b"transfer-encoding"}


def _headers(raw: list[tuple[bytes, bytes]]) -> list[tuple[str, str]]:
    return [(k.decode("latin-1"), v.decode("latin-1")) for k, v in raw if k.lower() not in _DROPPED]


def _warc_date(when: datetime) -> str:
    return when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class RawStore:
    """Append-only WARC of one run's HTTP exchanges; thread-safe."""

    def __init__(self, path: str | Path, *, run_id: str, info: dict | None = None):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._part = self.path.with_name(self.path.name + ".part")
        self._file = open(self._part, "wb")
        self._writer = WARCWriter(self._file, gzip=True)
        self._lock = threading.Lock()
        self.exchanges = 0
        fields = {"software": f"newsmill/{__version__}", "format": "WARC File Format 1.0", "run-id": run_id,
                  **(info or {})}
        self._writer.write_record(self._writer.create_warcinfo_record(self.path.name, fields))

    def write_exchange(self, response: httpx.Response, body: BinaryIO, length: int, *, captured_at: datetime,
                       role: str = "page", truncated: str | None = None) -> None:
        """The request and the response (headers as sent and received, ``length`` payload bytes from ``body``)."""
        request = response.request
        target = request.url.raw_path.decode("ascii", "replace") or "/"
        version = response.http_version or "HTTP/1.1"
        uri = str(request.url)
        req_http = StatusAndHeaders(f"{request.method} {target} {version}", _headers(request.headers.raw),
                                    is_http_request=True)
        resp_http = StatusAndHeaders(f"{response.status_code} {response.reason_phrase}".strip(),
                                     _headers(response.headers.raw), protocol=version)
        date = _warc_date(captured_at)
        warc_headers = {"WARC-Date": date}
        if role != "page":
            warc_headers[ROLE_HEADER] = role
        if truncated:
            warc_headers["WARC-Truncated"] = truncated
        body.seek(0)
        with self._lock:
            resp = self._writer.create_warc_record(uri, "response", payload=body, length=length,
                                                   http_headers=resp_http, warc_headers_dict=warc_headers)
            req = self._writer.create_warc_record(
                uri, "request", payload=None, http_headers=req_http,
                warc_headers_dict={"WARC-Date": date,
                                   "WARC-Concurrent-To": resp.rec_headers.get_header("WARC-Record-ID")})
            self._writer.write_record(req)
            self._writer.write_record(resp)
            self.exchanges += 1

    def close(self) -> str:
        """Finish the archive and give it its final name; returns the path."""
        with self._lock:
            if not self._file.closed:
                self._file.flush()
                os.fsync(self._file.fileno())
                self._file.close()
                os.replace(self._part, self.path)
        return str(self.path)

    def abort(self) -> str:
        """Close after a failure: the archive keeps its ``.part`` name (not read by any run); returns it."""
        with self._lock:
            if not self._file.closed:
                self._file.close()
        return str(self._part)
