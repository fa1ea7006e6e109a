"""Files, folders and globs on disk as page inputs.

Reading never raises for a bad file: it returns a Reject with the reason, so
one broken input cannot stop a run and nothing is dropped silently.
"""
from __future__ import annotations

import glob
import gzip
import hashlib
import os
import zlib
from pathlib import Path

from newsmill.records import PageInput, Reject
from newsmill.sources.decode import looks_binary

# suffix (after removing .gz) -> input format
FORMATS = {".txt": "text", ".text": "text", ".html": "html", ".htm": "html", ".xhtml": "html"}
MAX_PAGE_BYTES = 64 * 1024 * 1024


def _format_of(path: str) -> str | None:
    name = path.lower()
    if name.endswith(".gz"):
        name = name[:-3]
    return FORMATS.get(os.path.splitext(name)[1])


def discover(paths: list[str]) -> list[str]:
    """Input files for the given files, folders (recursive) and globs, sorted, each once.

    Files named explicitly are kept whatever their suffix (they get a reject
    record if unreadable); inside folders only known page suffixes count.
    A path that matches nothing is kept, so that it is reported, not ignored.
    """
    found: list[str] = []
    for p in paths:
        matches = sorted(glob.glob(p, recursive=True)) if glob.has_magic(p) else [p]
        for m in matches:
            if os.path.isdir(m):
                for root, dirs, files in os.walk(m):
                    dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                    found += [os.path.join(root, f) for f in sorted(files) if not f.startswith(".") and _format_of(f)]
            else:
                found.append(m)
    seen, out = set(), []
    for f in found:
        key = os.path.abspath(f)
        if key not in seen:
            seen.add(key)
            out.append(f)
    return out


def read_input(path: str, *, max_bytes: int = MAX_PAGE_BYTES) -> PageInput | Reject:
    """The page's bytes (gunzipped) with its hash and format, or the reason it cannot be used."""
    uri = str(Path(path).resolve())
    fmt = _format_of(path)
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as f:
            data = f.read(max_bytes + 1)
    except FileNotFoundError:
        return Reject(uri, "read", "not_found", f"no such file: {path}")
    except IsADirectoryError:
        return Reject(uri, "read", "not_a_file", f"is a directory: {path}")
    except OSError as exc:
        return Reject(uri, "read", "unreadable", f"{type(exc).__name__}: {exc}")
    sha = hashlib.sha256(data).hexdigest()
    if size > max_bytes:
        return Reject(uri, "read", "too_large", f"{size} bytes, over the {max_bytes}-byte page limit", sha)
    if data[:2] == b"\x1f\x8b":
        try:
            data = _gunzip(data, max_bytes)
        except (OSError, EOFError, zlib.error, ValueError) as exc:
            return Reject(uri, "read", "corrupt_gzip", f"gzip stream unreadable: {exc}", sha)
    sha = hashlib.sha256(data).hexdigest()  # of the page itself, so .gz or not gives one hash
    if not data.strip():
        return Reject(uri, "read", "empty", "no content (empty or whitespace only)", sha)
    if looks_binary(data):
        return Reject(uri, "read", "binary", "binary content (NUL or control bytes), not a page", sha)
    if fmt is None:
        fmt = "html" if b"<html" in data[:4096].lower() or b"<!doctype html" in data[:4096].lower() else "text"
    return PageInput(uri=uri, data=data, sha256=sha, format=fmt)


def _gunzip(data: bytes, max_bytes: int) -> bytes:
    d = zlib.decompressobj(wbits=31)
    out = d.decompress(data, max_bytes + 1)
    if len(out) > max_bytes:
        raise ValueError(f"decompresses to over {max_bytes} bytes")
    if not d.eof:
        raise EOFError("truncated gzip stream")
    return out
