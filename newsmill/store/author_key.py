"""The output's author key and authors mode, kept in its state folder.

Author ids and comment ids are keyed (``newsmill.ids``); the key is the configured one
(``NEWSMILL_AUTHOR_KEY``) or a random key kept with the output, and the output remembers the
key's fingerprint and the ``authors`` mode it was written with, so that a later run cannot mix
ids or author handling in one dataset.
"""
from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path

from newsmill.config import ConfigError
from newsmill.ids import key_fingerprint
from newsmill.store import layout

log = logging.getLogger(__name__)

KEY_FILE = "author_key"
FINGERPRINT_FILE = "author_key.fingerprint"
MIN_KEY_BYTES = 16


MODE_FILE = "authors_mode"


class AuthorKeyError(ConfigError):
    """The author key cannot be used for this output (ids would not match the data already there)."""


class AuthorsModeError(ConfigError):
    """The ``authors`` mode differs from the one the output's data was written with."""


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
    state = layout.state_dir(output_dir)
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
    state = layout.state_dir(output_dir)
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
