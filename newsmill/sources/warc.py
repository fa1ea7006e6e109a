"""WARC and WET archives as page inputs, one record at a time.

Planning scans an archive once for the offsets of its page records; each page
is then addressed as ``<archive>#<offset>`` and read on its own by seeking to
that offset (each record of a .warc.gz is its own gzip member).  So batches of
one archive can run on different workers, memory stays bounded by one record,
and the offset is the record's provenance.
"""
from __future__ import annotations

import hashlib
import os
import re
import tempfile
import threading
import zlib
from collections import Counter
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import datetime, timezone

from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed

from newsmill.records import PageInput, Reject
from newsmill.sources.files import ARCHIVE_SUFFIXES
from newsmill.text import token
_HTML_TYPES = ("text/html", "application/xhtml+xml")
_READ_ERRORS = (ArchiveLoadFailed, EOFError, OSError, zlib.error, ValueError, IndexError, KeyError)


def is_archive(path: str) -> bool:
    return path.lower().endswith(ARCHIVE_SUFFIXES)


@dataclass
class Scan:
    """Page records found in one archive, what was skipped, and each damaged part (a reject naming its offset)."""

    refs: list[str] = field(default_factory=list)
    skipped: Counter = field(default_factory=Counter)
    rejects: list[Reject] = field(default_factory=list)

    @property
    def reject(self) -> Reject | None:
        return self.rejects[0] if self.rejects else None


def _content_type(rec) -> str:
    if rec.rec_type == "response" and rec.http_headers is not None:
        value = rec.http_headers.get_header("Content-Type") or ""
    else:
        value = rec.rec_headers.get_header("Content-Type") or ""
    return value.split(";")[0].strip().lower()


def _page_kind(rec) -> tuple[str | None, str]:
    """('html'|'text', '') for a page record, else (None, why it is skipped).  The why is counted
    and shown: made of the archive's headers, so kept to a short name (:func:`newsmill.text.token`)."""
    if rec.rec_type == "response":
        role = rec.rec_headers.get_header("WARC-Newsmill-Role")  # newsmill's own raw WARCs (sources/rawstore.py)
        if role and role != "page":
            return None, token(role)  # robots.txt, feeds, sitemaps: fetched, kept, not pages
        if rec.http_headers is None:
            return None, "response_without_http"
        status = rec.http_headers.get_statuscode() or ""
        if not (len(status) == 3 and status.isdigit()):
            return None, "http_invalid_status"
        if not status.startswith("2"):
            return None, f"http_{status}"
        return ("html", "") if _content_type(rec) in _HTML_TYPES else (None, "not_html")
    if rec.rec_type == "conversion":
        return ("text", "") if _content_type(rec).startswith("text/plain") else (None, "not_text")
    if rec.rec_type == "resource":
        return ("html", "") if _content_type(rec) in _HTML_TYPES else (None, "not_html")
    return None, token(rec.rec_type or "unknown")


def _cut_short(rec) -> bool:
    """Read the record's rest: a truncated archive ends mid-record without any error from warcio."""
    while rec.raw_stream.read(1 << 16):
        pass
    return getattr(rec.raw_stream, "limit", 0) > 0


# Framing is checked here, not left to warcio: warcio trusts each record's Content-Length, so a
# missing or too-large one swallows the records after it, and it stops at the first bytes between
# gzip members that are not a member.  A record is sound when its header block has a
# Content-Length and the block ends right where the next record (or the file) begins; anything
# else is one damaged record, and the scan goes on at the next 'WARC/1.x' line.
_MAX_HEADER = 1 << 16  # a WARC header block longer than this is damage, not a record
_VERSION = re.compile(rb"WARC/1\.[01]\r?\n")
_GZIP_MAGIC = b"\x1f\x8b\x08"
_CHUNK = 1 << 20
_FILLER = b"\r\n\x00 \t"  # padding some writers leave between or after records


def _find(f, needle: bytes, start: int, end: int) -> int:
    """Offset of the first ``needle`` in f[start:end], or ``end``; reads in chunks (archives are large)."""
    pos = start
    while pos < end:
        f.seek(pos)
        chunk = f.read(min(_CHUNK, end - pos) + len(needle) - 1)
        i = chunk.find(needle)
        if i >= 0:
            return pos + i
        if len(chunk) < len(needle):
            break
        pos += len(chunk) - len(needle) + 1
    return end


def _next_record(f, start: int, end: int) -> int:
    """Offset of the next line 'WARC/1.0' or 'WARC/1.1' at or after ``start``, or ``end``."""
    pos = start
    while pos < end:
        i = _find(f, b"WARC/1.", pos, end)
        if i >= end:
            return end
        f.seek(i - 1 if i else 0)
        before = f.read(1) if i else b"\n"
        f.seek(i)
        if before == b"\n" and _VERSION.match(f.read(10)):
            return i
        pos = i + 1
    return end


def _only_filler(f, start: int, end: int) -> bool:
    f.seek(start)
    return end - start <= _CHUNK and not f.read(end - start).strip(_FILLER)


def _frame(f, start: int, end: int) -> list[tuple[int, str | None]]:
    """(offset, None) for each sound record of f[start:end], (offset, what is wrong) for each damaged part."""
    out: list[tuple[int, str | None]] = []
    pos = start
    while pos < end:
        if _only_filler(f, pos, min(end, pos + 64)) and _only_filler(f, pos, end):
            break
        f.seek(pos)
        head = f.read(min(_MAX_HEADER, end - pos))
        if not _VERSION.match(head):
            nxt = _next_record(f, pos + 1, end)
            out.append((pos, f"{nxt - pos} bytes that are not a WARC record"))
            pos = nxt
            continue
        stop, sep = head.find(b"\r\n\r\n"), 4
        lf = head.find(b"\n\n")
        if lf >= 0 and (stop < 0 or lf < stop):  # a writer that ends lines with LF alone
            stop, sep = lf, 2
        if stop < 0:
            nxt = _next_record(f, pos + 1, end)
            out.append((pos, "header block not terminated (cut short or damaged)"))
            pos = nxt
            continue
        lengths = [ln.split(b":", 1)[1].strip() for ln in head[:stop].split(b"\n")
                   if ln.lower().startswith(b"content-length:")]
        if len(lengths) != 1 or not lengths[0].isdigit():
            out.append((pos, "no valid Content-Length in its header"))
            pos = _next_record(f, pos + stop + sep, end)
            continue
        body_end = pos + stop + sep + int(lengths[0])
        if body_end > end:
            nxt = _next_record(f, pos + stop + sep, end)
            out.append((pos, f"Content-Length {int(lengths[0])} runs past the end of the "
                             f"{'archive' if nxt >= end else 'record'} (cut short, or a wrong Content-Length)"))
            pos = nxt
            continue
        f.seek(body_end)
        tail = f.read(64)
        rest = tail.lstrip(_FILLER)
        gap = len(tail) - len(rest)
        # the block ends where the next record (or the file) begins, past the CRLF CRLF that closes it
        if gap and (_VERSION.match(rest) or not rest and _only_filler(f, body_end, end)):
            out.append((pos, None))
            pos = body_end + gap if rest else end
            continue
        nxt = _next_record(f, pos + stop + sep, end)
        out.append((pos, f"Content-Length {int(lengths[0])} does not end where the next record begins (wrong length)"))
        pos = nxt
    return out


def _inflate(f, pos: int, limit: int | None = None):
    """(the gzip member at ``pos`` decompressed into a temporary file, its compressed length); raises
    EOFError or zlib.error when it is damaged, _TooBig past ``limit`` decompressed bytes."""
    f.seek(pos)
    d = zlib.decompressobj(wbits=31)
    out = tempfile.SpooledTemporaryFile(max_size=16 << 20)
    consumed = written = 0
    try:
        step = 1 << 14  # most members hold one record of a few KB: read little, then more
        while not d.eof:
            chunk = f.read(step)
            step = min(step * 4, _CHUNK)
            if not chunk:
                break
            data = d.decompress(chunk)
            written += len(data)
            if limit is not None and written > limit:
                raise _TooBig(f"gzip member at offset {pos} decompresses to over {limit} bytes")
            out.write(data)
            consumed += len(chunk)
        if not d.eof:
            raise EOFError("gzip member cut short")
    except BaseException:
        out.close()
        raise
    out.seek(0)
    return out, consumed - len(d.unused_data)


class _TooBig(ValueError):
    pass


def _members(f, size: int):
    """(offset, decompressed member as a file, None) per gzip member, (offset, None, what is wrong) per
    damaged member or run of bytes between members."""
    pos = 0
    while pos < size:
        f.seek(pos)
        if f.read(3) != _GZIP_MAGIC:
            nxt = _find(f, _GZIP_MAGIC, pos + 1, size)
            if not _only_filler(f, pos, nxt):
                yield pos, None, f"{nxt - pos} bytes between gzip members that are not a member"
            pos = nxt
            continue
        try:
            body, length = _inflate(f, pos)
        except (zlib.error, EOFError) as exc:
            yield pos, None, f"gzip member unreadable: {exc}"
            pos = _find(f, _GZIP_MAGIC, pos + 1, size)
            continue
        with body:
            yield pos, body, None
        pos += length


# A gzip member holding several records (``gzip crawl.warc``): its records are addressed as
# ``archive#<member offset>:<offset in the member's content>`` and read from a decompressed copy,
# kept for the next record of the same member (the records of one archive come in order).  Up to
# this size; a bigger member would be decompressed again for every batch, so its records are
# rejected with the command that makes them readable (one member per record).
MAX_SHARED_MEMBER = 256 << 20
_shared = {"key": None, "file": None}
_shared_lock = threading.Lock()


def _shared_member(path: str, member: int):
    st = os.stat(path)
    key = (path, member, st.st_size, st.st_mtime_ns)
    if _shared["key"] != key:
        if _shared["file"] is not None:
            _shared["file"].close()
            _shared["key"] = _shared["file"] = None
        with open(path, "rb") as f:
            _shared["file"] = _inflate(f, member, MAX_SHARED_MEMBER)[0]
        _shared["key"] = key
    return _shared["file"]


def is_record_address(offset: str) -> bool:
    """Whether the part after '#' addresses a record: ``<offset>`` or ``<member offset>:<offset in it>``."""
    member, sep, inner = offset.partition(":")
    return member.isdigit() and (not sep or inner.isdigit())


def _classify(f, offset: int):
    f.seek(offset)
    return _page_kind(next(iter(ArchiveIterator(f, arc2warc=True))))


def scan(path: str) -> Scan:
    """Offsets of the page records, the others counted by kind, and a reject per damaged part:
    every record the archive holds is accounted for, and damage costs only the damaged record."""
    if path.lower().endswith((".arc", ".arc.gz")):
        return _scan_arc(path)
    out = Scan()

    def damaged(offset: int, why: str, reason: str = "corrupt_archive") -> None:
        out.rejects.append(Reject(f"{path}#{offset}", "read", reason, f"damaged at offset {offset}: {why}"))

    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            f.seek(0)
            if f.read(2) != b"\x1f\x8b":
                for offset, why in _frame(f, 0, size):
                    if why:
                        damaged(offset, why)
                    else:
                        _count(out, path, offset, _classify(f, offset))
                return out
            for member, body, why in _members(f, size):
                if body is None:
                    damaged(member, why)
                    continue
                body.seek(0, os.SEEK_END)
                end = body.tell()
                for i, (offset, why) in enumerate(_frame(body, 0, end)):
                    if why:
                        damaged(member, f"in the gzip member, at byte {offset} of its content: {why}")
                        continue
                    kind = _classify(body, offset)
                    if i == 0 or kind[0] is None:
                        _count(out, path, member, kind)
                    elif end <= MAX_SHARED_MEMBER:
                        _count(out, path, f"{member}:{offset}", kind)
                    else:
                        out.rejects.append(Reject(
                            f"{path}#{member}:{offset}", "read", "unseekable_gzip",
                            f"page record at byte {offset} of the gzip member at offset {member}, which holds "
                            f"several records and is over {MAX_SHARED_MEMBER} bytes decompressed; recompress the "
                            "archive with `warcio recompress` (one member per record) to read them"))
    except _READ_ERRORS as exc:
        out.rejects.append(Reject(path, "read", "corrupt_archive", f"archive unreadable: {type(exc).__name__}: {exc}"))
    return out


def _count(out: Scan, path: str, offset: int | str, kind: tuple[str | None, str]) -> None:
    if kind[0]:
        out.refs.append(f"{path}#{offset}")
    else:
        out.skipped[kind[1]] += 1


def _scan_arc(path: str) -> Scan:
    """ARC files (no 'WARC/1.x' line to resynchronise on): warcio's reading; damage ends the scan."""
    out = Scan()
    offset = 0
    try:
        with open(path, "rb") as f:
            it = ArchiveIterator(f, arc2warc=True)
            for rec in it:
                offset = it.get_record_offset()
                if _cut_short(rec):
                    raise EOFError(f"record at offset {offset} is cut short")
                _count(out, path, offset, _page_kind(rec))
    except _READ_ERRORS as exc:
        out.rejects.append(Reject(f"{path}#{offset}", "read", "corrupt_archive",
                                  f"archive unreadable after {len(out.refs)} page records: {type(exc).__name__}: {exc}"))
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
    """One page record, addressed as ``archive#offset`` (or ``archive#member:offset``, see
    :data:`MAX_SHARED_MEMBER`)."""
    path, _, off = ref.rpartition("#")
    member, inner, at = off.partition(":")
    try:
        with (_shared_lock if inner else nullcontext()), (nullcontext(_shared_member(path, int(member))) if inner
                                                            else open(path, "rb")) as f:
            f.seek(int(at) if inner else int(off))
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
