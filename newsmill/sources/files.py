"""Files, folders and globs on disk as page inputs.

Reading never raises for a bad file: it returns a Reject with the reason, so
one broken input cannot stop a run and nothing is dropped silently.
"""
from __future__ import annotations

import errno
import glob
import hashlib
import os
import stat
import zlib
from pathlib import Path

from newsmill.records import PageInput, Reject
from newsmill.sources.decode import looks_binary

# suffix (after removing .gz) -> input format
ARCHIVE_SUFFIXES = (".warc", ".warc.gz", ".wet", ".wet.gz", ".arc", ".arc.gz")
FORMATS = {".txt": "text", ".text": "text", ".html": "html", ".htm": "html", ".xhtml": "html"}

# Size limits, each with its own reject reason (``too_large``, ``too_many_lines``).  Measured on a
# 2-core machine (Nov 2026): the text-dump parser is linear for real layouts, ~2 s per MiB of a
# real dump and ~20 us per short line; a real-looking 8 MiB dump (164k lines, 20k comments) runs
# through the whole pipeline in ~35 s at ~500 MB peak RSS.  The largest dump in the evaluation
# data is ~0.2 MiB, a page with 5000 comments ~3 MiB.  Bigger files are rejected from their size
# alone (a 50 MB page: under a millisecond, nothing read); gzip output is cut at the limit.
MAX_PAGE_BYTES = 32 * 1024 * 1024  # any page, after gunzip (HTML with inline images is rarely over 10 MiB)
MAX_TEXT_BYTES = 8 * 1024 * 1024  # a text dump, after gunzip
MAX_TEXT_LINES = 200_000  # a text dump: the parser's cost grows with lines, not bytes


class _TooLarge(ValueError):
    pass


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
    return walk(paths)[0]


def walk(paths: list[str]) -> tuple[list[str], list[Reject]]:
    """(:func:`discover`'s files, a reject per folder entry that could not be walked).

    A symlinked sub-folder is not followed (it may loop back to its parent or lead out of the
    input tree) but reported, so a whole folder of pages never disappears silently; name it
    explicitly to read it.  A sub-folder that cannot be listed is reported the same way.
    """
    found: list[str] = []
    rejects: list[Reject] = []

    def unlistable(exc: OSError) -> None:
        where = exc.filename if isinstance(exc.filename, str) else ""
        rejects.append(Reject(_display_path(where), "read", "unreadable",
                              f"folder not listed: {type(exc).__name__}: {exc.strerror or exc}"))

    for p in paths:
        matches = sorted(glob.glob(p, recursive=True)) if glob.has_magic(p) else [p]
        for m in matches:
            if os.path.isdir(m):
                for root, dirs, files in os.walk(m, onerror=unlistable):
                    keep = []
                    for d in sorted(d for d in dirs if not d.startswith(".")):
                        full = os.path.join(root, d)
                        if os.path.islink(full):
                            rejects.append(Reject(_shown(os.path.abspath(full)), "read", "symlinked_folder",
                                                  f"symlinked folder not followed (-> {_shown(os.readlink(full))}); "
                                                  "name it as an input to read it"))
                        else:
                            keep.append(d)
                    dirs[:] = keep
                    found += [os.path.join(root, f) for f in sorted(files)
                              if not f.startswith(".") and (_format_of(f) or f.lower().endswith(ARCHIVE_SUFFIXES))]
            else:
                found.append(m)
    seen, out = set(), []
    for f in found:
        key = os.path.abspath(f)
        if key not in seen:
            seen.add(key)
            out.append(f)
    return out, rejects


def _display_path(path: str) -> str:
    """The absolute path as valid UTF-8 text: undecodable bytes of a file name are shown as \\xNN
    (a lone surrogate would make the Parquet writer fail for the whole run)."""
    try:
        resolved = str(Path(path).resolve())
    except (OSError, ValueError, RuntimeError):  # a NUL in the name; a symlink loop (RuntimeError on 3.11)
        resolved = os.path.abspath(path)
    return _shown(resolved)


def _shown(path: str) -> str:
    return path.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def read_input(path: str, *, max_bytes: int = MAX_PAGE_BYTES, max_text_bytes: int = MAX_TEXT_BYTES,
               max_text_lines: int = MAX_TEXT_LINES) -> PageInput | Reject:
    """The page's bytes (gunzipped) with its hash and format, or the reason it cannot be used.

    Reads at most ``max_bytes`` (+1) bytes, so a huge file or a gzip bomb costs bounded memory.
    """
    uri = _display_path(path)
    fmt = _format_of(path)
    limit = min(max_bytes, max_text_bytes) if fmt == "text" else max_bytes
    try:
        st = os.stat(path)
        if stat.S_ISDIR(st.st_mode):
            return Reject(uri, "read", "not_a_file", f"is a directory: {path}")
        if not stat.S_ISREG(st.st_mode):  # a FIFO or device would block or never end
            return Reject(uri, "read", "not_a_file", f"not a regular file (fifo, socket or device): {path}")
        if st.st_size > limit:
            kind = "text-dump" if fmt == "text" else "page"
            return Reject(uri, "read", "too_large", f"{st.st_size} bytes, over the {limit}-byte {kind} limit")
        with open(path, "rb") as f:
            data = f.read(limit + 1)
    except FileNotFoundError:
        return Reject(uri, "read", "not_found", f"no such file: {path}")
    except IsADirectoryError:
        return Reject(uri, "read", "not_a_file", f"is a directory: {path}")
    except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the path
        if getattr(exc, "errno", None) == errno.ELOOP:
            return Reject(uri, "read", "symlink_loop", f"symbolic links loop: {path}")
        return Reject(uri, "read", "unreadable", f"{type(exc).__name__}: {exc}")
    sha = hashlib.sha256(data).hexdigest()
    if len(data) > limit:  # grew while we read it
        return Reject(uri, "read", "too_large", f"over the {limit}-byte limit", sha)
    if data[:2] == b"\x1f\x8b":
        try:
            data = _gunzip(data, limit)
        except _TooLarge as exc:
            return Reject(uri, "read", "too_large", f"gzip {exc}", sha)
        except (OSError, EOFError, zlib.error, ValueError) as exc:
            return Reject(uri, "read", "corrupt_gzip", f"gzip stream unreadable: {exc}", sha)
    sha = hashlib.sha256(data).hexdigest()  # of the page itself, so .gz or not gives one hash
    if not data.strip():
        return Reject(uri, "read", "empty", "no content (empty or whitespace only)", sha)
    if looks_binary(data):
        return Reject(uri, "read", "binary", "binary content (NUL or control bytes), not a page", sha)
    if fmt is None:
        fmt = "html" if b"<html" in data[:4096].lower() or b"<!doctype html" in data[:4096].lower() else "text"
    if fmt == "text":
        if len(data) > max_text_bytes:  # sniffed as text, or limits passed in
            return Reject(uri, "read", "too_large", f"{len(data)} bytes, over the {max_text_bytes}-byte text-dump limit", sha)
        lines = max(data.count(b"\n"), data.count(b"\r"))
        if lines > max_text_lines:
            return Reject(uri, "read", "too_many_lines",
                          f"{lines} lines, over the {max_text_lines}-line text-dump limit", sha)
    return PageInput(uri=uri, data=data, sha256=sha, format=fmt)


def _gunzip(data: bytes, max_bytes: int) -> bytes:
    """All members of a gzip file (tools concatenate them), at most ``max_bytes`` of output."""
    out = bytearray()
    rest = data
    while rest:
        d = zlib.decompressobj(wbits=31)
        out += d.decompress(rest, max_bytes + 1 - len(out))
        if len(out) > max_bytes:
            raise _TooLarge(f"decompresses to over {max_bytes} bytes")
        if not d.eof:
            if d.unconsumed_tail:  # output limit reached exactly with input left
                raise _TooLarge(f"decompresses to over {max_bytes} bytes")
            raise EOFError("truncated gzip stream")
        rest = d.unused_data
        if rest[:2] != b"\x1f\x8b":  # padding or trailing garbage after the last member: ignored, as gzip(1) does
            break
    return bytes(out)
