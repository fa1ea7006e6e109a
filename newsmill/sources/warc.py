"""WARC and WET archives as page inputs, one record at a time.

Planning scans an archive once for the offsets of its page records; each page
is then addressed as ``<archive>#<offset>`` and read on its own by seeking to
that offset (each record of a .warc.gz is its own gzip member).  So batches of
one archive can run on different workers, memory stays bounded by one record,
and the offset is the record's provenance.
"""
from __future__ import annotations

import hashlib
import zlib
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone

from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed

from newsmill.records import PageInput, Reject
from newsmill.sources.files import ARCHIVE_SUFFIXES
_HTML_TYPES = ("text/html", "application/xhtml+xml")
_READ_ERRORS = (ArchiveLoadFailed, EOFError, OSError, zlib.error, ValueError, IndexError, KeyError)


def is_archive(path: str) -> bool:
    return path.lower().endswith(ARCHIVE_SUFFIXES)


@dataclass
class Scan:
    """Page records found in one archive, what was skipped, and the damage if any."""

    refs: list[str] = field(default_factory=list)
    skipped: Counter = field(default_factory=Counter)
    reject: Reject | None = None


def _content_type(rec) -> str:
    if rec.rec_type == "response" and rec.http_headers is not None:
        value = rec.http_headers.get_header("Content-Type") or ""
    else:
        value = rec.rec_headers.get_header("Content-Type") or ""
    return value.split(";")[0].strip().lower()


def _page_kind(rec) -> tuple[str | None, str]:
    """('html'|'text', '') for a page record, else (None, why it is skipped)."""
    if rec.rec_type == "response":
        role = rec.rec_headers.get_header("WARC-Newsmill-Role")  # newsmill's own raw WARCs (sources/rawstore.py)
        if role and role != "page":
            return None, role  # robots.txt, feeds, sitemaps: fetched, kept, not pages
        if rec.http_headers is None:
            return None, "response_without_http"
        status = rec.http_headers.get_statuscode() or ""
        if not status.startswith("2"):
            return None, f"http_{status or 'unknown'}"
        return ("html", "") if _content_type(rec) in _HTML_TYPES else (None, "not_html")
    if rec.rec_type == "conversion":
        return ("text", "") if _content_type(rec).startswith("text/plain") else (None, "not_text")
    if rec.rec_type == "resource":
        return ("html", "") if _content_type(rec) in _HTML_TYPES else (None, "not_html")
    return None, rec.rec_type or "unknown"


def _cut_short(rec) -> bool:
    """Read the record's rest: a truncated archive ends mid-record without any error from warcio."""
    while rec.raw_stream.read(1 << 16):
        pass
    return getattr(rec.raw_stream, "limit", 0) > 0


def scan(path: str) -> Scan:
    """Offsets of the page records; a damaged archive keeps what came before the damage."""
    out = Scan()
    offset = 0
    try:
        with open(path, "rb") as f:
            it = ArchiveIterator(f, arc2warc=True)
            for rec in it:
                offset = it.get_record_offset()
                if _cut_short(rec):
                    raise EOFError(f"record at offset {offset} is cut short")
                kind, why = _page_kind(rec)
                if kind:
                    out.refs.append(f"{path}#{offset}")
                else:
                    out.skipped[why] += 1
    except _READ_ERRORS as exc:
        out.reject = Reject(f"{path}#{offset}", "read", "corrupt_archive",
                            f"archive unreadable after {len(out.refs)} page records: {type(exc).__name__}: {exc}")
    return out


def _captured(rec) -> datetime | None:
    raw = rec.rec_headers.get_header("WARC-Date")
    if not raw:
        return None
    try:
        return datetime.fromisoformat(raw.replace("Z", "+00:00")).astimezone(timezone.utc)
    except ValueError:
        return None


def _charset(rec) -> str | None:
    headers = rec.http_headers if rec.http_headers is not None else rec.rec_headers
    ctype = headers.get_header("Content-Type") or ""
    for part in ctype.split(";")[1:]:
        key, _, value = part.partition("=")
        if key.strip().lower() == "charset" and value.strip():
            return value.strip().strip("\"'").lower()
    return None


def read_record(ref: str, *, max_bytes: int) -> PageInput | Reject:
    """One page record, addressed as ``archive#offset``."""
    path, _, off = ref.rpartition("#")
    try:
        with open(path, "rb") as f:
            f.seek(int(off))
            rec = next(iter(ArchiveIterator(f, arc2warc=True)))
            kind, why = _page_kind(rec)
            if kind is None:
                return Reject(ref, "read", "not_a_page", f"record is {why}")
            data = rec.content_stream().read(max_bytes + 1)
            if len(data) <= max_bytes and _cut_short(rec):
                return Reject(ref, "read", "corrupt_archive", "record is cut short (archive truncated)")
    except StopIteration:
        return Reject(ref, "read", "corrupt_archive", "no record at this offset")
    except _READ_ERRORS as exc:
        return Reject(ref, "read", "corrupt_archive", f"{type(exc).__name__}: {exc}")
    sha = hashlib.sha256(data).hexdigest()
    if len(data) > max_bytes:
        return Reject(ref, "read", "too_large", f"record payload over the {max_bytes}-byte page limit", sha)
    if not data.strip():
        return Reject(ref, "read", "empty", "record has no payload", sha)
    container = "wet" if rec.rec_type == "conversion" else "warc"
    return PageInput(uri=ref, data=data, sha256=sha, format=kind, url=rec.rec_headers.get_header("WARC-Target-URI"),
                     captured_at=_captured(rec), declared_charset=_charset(rec), container=container)
