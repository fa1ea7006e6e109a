"""Stable identifiers and author pseudonyms.

Ids are content-derived so that the same page yields the same ids in every run
(idempotent publishing, upserts).  Author pseudonyms are keyed (HMAC) so that
nobody without the key can recover a name by hashing candidate names.
"""
from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
from pathlib import Path

from newsmill.config import ConfigError
from newsmill.text import tokens

log = logging.getLogger(__name__)
_ID_LEN = 16


def _h(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:_ID_LEN]


def article_id(*, url: str | None, source: str, content: str | None, input_sha256: str) -> str:
    """From the URL when known, else from the page's content (see :func:`content_key`).

    Title and date are never the key of a page without URL: a dump's title can be a
    navigation item or the site's name and its date missing, so two different pages of one
    site would share them and the second would be thrown away as a 'duplicate'.  Only the
    same content (the same page captured twice) gives the same id.
    """
    if url:
        return _h("url", url.strip())
    if content:
        return _h("content", source, content)
    return _h("input", input_sha256)


DISTINCTIVE_BODY = 20  # words: a body this long names its page; a shorter one (a tagline, an error line) needs the comments too


def content_key(title: str | None, body: str, comments: list[tuple[str | None, str]]) -> str | None:
    """What makes two captures of a page without URL the same record (wrapping, punctuation and
    case aside): its title and body words, and, when the body is too short to name the page
    (under :data:`DISTINCTIVE_BODY` words: a site tagline or an error line where body
    extraction found nothing), each comment's author and words too.  None when the page has neither body nor comments (its bytes identify it then).

    The comments are left out of a long body's key on purpose: a thread that grows between two
    captures of the same page must stay the same article, so its old comments keep their ids.
    Captures of one story that differ otherwise are records of their own, linked by
    ``near_duplicate_of``.
    """
    words = tokens(body)
    if not words and not comments:
        return None
    h = hashlib.sha256(" ".join(tokens(title or "")).encode() + b"\x1d" + " ".join(words).encode())
    if len(words) < DISTINCTIVE_BODY:
        for author, text in comments:
            h.update(b"\x1e" + " ".join(tokens(author or "")).encode() + b"\x1f" + " ".join(tokens(text)).encode())
    return h.hexdigest()


def comment_id(article: str, author: str | None, posted_raw: str | None, text: str, occurrence: int, *,
               key: bytes) -> str:
    """Keyed (HMAC) hash of what identifies a comment; position is left out on purpose: new
    comments must not renumber old ones' ids.

    Keyed because the author's name is part of it: a plain hash would let anyone confirm
    a guessed name from the published id, undoing ``--authors pseudonymize|drop``.
    """
    msg = "\x1f".join(("comment", article, (author or "").casefold(), posted_raw or "", " ".join(tokens(text)),
                       str(occurrence)))
    return hmac.new(key, msg.encode(), hashlib.sha256).hexdigest()[:_ID_LEN]


def author_pseudonym(key: bytes, source: str, author: str | None) -> str | None:
    """HMAC-SHA256 of the normalised name within its source (same name elsewhere is another person)."""
    if author is None:
        return None
    name = " ".join(author.casefold().split())
    return hmac.new(key, f"{source}\x1f{name}".encode(), hashlib.sha256).hexdigest()[:_ID_LEN]


def author_label(author_id: str | None) -> str | None:
    """What stands for an author in ``--authors pseudonymize`` output: 'user-<author_id>'."""
    return f"user-{author_id}" if author_id else None


KEY_FILE = "author_key"
FINGERPRINT_FILE = "author_key.fingerprint"
MIN_KEY_BYTES = 16


MODE_FILE = "authors_mode"


class AuthorKeyError(ConfigError):
    """The author key cannot be used for this output (ids would not match the data already there)."""


class AuthorsModeError(ConfigError):
    """The ``authors`` mode differs from the one the output's data was written with."""


def key_fingerprint(key: bytes) -> str:
    """Identifies a key without revealing it: tells whether an output's ids were made with this key."""
    return hmac.new(key, b"newsmill author key fingerprint", hashlib.sha256).hexdigest()[:16]


def _write_new(path: Path, content: bytes) -> bool:
    """Create ``path`` (mode 0600) with ``content`` atomically; False if it already exists."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(content)
            f.flush()
            os.fsync(f.fileno())
        os.link(tmp, path)  # atomic, and fails if another run created it first
        return True
    except FileExistsError:
        return False
    finally:
        tmp.unlink(missing_ok=True)


def resolve_author_key(configured: bytes | None, output_dir: Path) -> bytes:
    """The configured key (``NEWSMILL_AUTHOR_KEY``), else a random key kept with the output.

    The random key lives in ``<output>/_state/author_key`` (mode 0600) and is reused by
    every later run into that output, so ids stay stable; a warning says so on every run,
    because ids made with it cannot be compared with any other output.  The output also
    records the key's fingerprint: a run with a different key (a new
    ``NEWSMILL_AUTHOR_KEY``, a lost key file) would give every author and comment a new
    id next to the old ones, so it stops with :class:`AuthorKeyError` instead.
    """
    state = Path(output_dir) / "_state"
    state.mkdir(parents=True, exist_ok=True)
    path, fingerprint = state / KEY_FILE, state / FINGERPRINT_FILE
    if configured:
        key = configured
        if len(key) < MIN_KEY_BYTES:
            log.warning("NEWSMILL_AUTHOR_KEY is only %d bytes: use at least %d random bytes (e.g. `openssl rand -hex 32`)",
                        len(key), MIN_KEY_BYTES)
    else:
        if not path.exists():
            if fingerprint.exists() and _has_data(output_dir):
                raise AuthorKeyError(
                    f"{path} is missing but {output_dir} holds ids made with an author key: restore the key file or "
                    f"set NEWSMILL_AUTHOR_KEY to the key used before (a new key would change every author_id and "
                    f"comment_id), or write to a new output folder")
            if _write_new(path, secrets.token_hex(32).encode()):
                log.warning("created a random author key in %s (keep it secret, and with the data)", path)
        mode = path.stat().st_mode & 0o777
        if mode & 0o077:
            log.warning("author key file %s is readable by others (mode %o): run `chmod 600 %s`", path, mode, path)
        key = path.read_bytes().strip()
        if len(key) < MIN_KEY_BYTES:
            raise AuthorKeyError(f"author key file {path} is empty or too short ({len(key)} bytes): restore it, or "
                                 f"set NEWSMILL_AUTHOR_KEY")
        log.warning("NEWSMILL_AUTHOR_KEY is not set: author_id and comment_id use the random per-output key in %s, "
                    "so they cannot be compared with any other output", path)
    _check_fingerprint(fingerprint, key, output_dir)
    return key


def _has_data(output_dir: Path) -> bool:
    """Whether a run has published into this output (tables are folders or symlinks to versions)."""
    return any(os.path.lexists(Path(output_dir) / t) for t in ("articles", "comments"))


def _check_fingerprint(path: Path, key: bytes, output_dir: Path) -> None:
    fp = key_fingerprint(key)
    if path.exists() and path.read_text(encoding="ascii", errors="replace").strip() != fp and not _has_data(output_dir):
        path.unlink()  # nothing was published with the old key: the new one takes over
    if not path.exists():
        _write_new(path, fp.encode())
    recorded = path.read_text(encoding="ascii", errors="replace").strip()
    if recorded != fp:
        raise AuthorKeyError(
            f"the author key differs from the one {output_dir} was made with (fingerprint {fp}, recorded {recorded} in "
            f"{path}): author_id and comment_id would not match the data already there. Use the same "
            f"NEWSMILL_AUTHOR_KEY (or unset it to use {path.parent / KEY_FILE}), or write to a new output folder")


def check_authors_mode(mode: str, output_dir: Path) -> None:
    """Record the output's ``authors`` mode; refuse another one once data is published.

    Runs upsert into one dataset, so a 'pseudonymize' run into an output written with
    'keep' would leave real names in every row it does not rewrite, while the dataset
    card says 'pseudonymize'.
    """
    state = Path(output_dir) / "_state"
    state.mkdir(parents=True, exist_ok=True)
    path = state / MODE_FILE
    if path.exists():
        recorded = path.read_text(encoding="utf-8", errors="replace").strip()
        if recorded == mode:
            return
        if _has_data(output_dir):
            raise AuthorsModeError(
                f"{output_dir} was written with authors = {recorded!r}; a run with {mode!r} would mix both in one "
                f"dataset: use --authors {recorded}, or write to a new output folder")
        path.unlink()
    if not _write_new(path, mode.encode()):
        check_authors_mode(mode, output_dir)  # another run recorded it just now
