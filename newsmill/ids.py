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

from newsmill.text import tokens

log = logging.getLogger(__name__)
_ID_LEN = 16


def _h(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:_ID_LEN]


def article_id(*, url: str | None, source: str, title: str | None, published: str | None, input_sha256: str) -> str:
    """From the URL when known, else from what identifies the story on its site."""
    if url:
        return _h("url", url.strip())
    if title:
        return _h("page", source, " ".join(tokens(title)), published or "")
    return _h("input", input_sha256)


def comment_id(article: str, author: str | None, posted_raw: str | None, text: str, occurrence: int) -> str:
    """Position is left out on purpose: new comments must not renumber old ones' ids."""
    return _h("comment", article, (author or "").casefold(), posted_raw or "", " ".join(tokens(text)), str(occurrence))


def author_pseudonym(key: bytes, source: str, author: str | None) -> str | None:
    """HMAC-SHA256 of the normalised name within its source (same name elsewhere is another person)."""
    if author is None:
        return None
    name = " ".join(author.casefold().split())
    return hmac.new(key, f"{source}\x1f{name}".encode(), hashlib.sha256).hexdigest()[:_ID_LEN]


def resolve_author_key(configured: bytes | None, output_dir: Path) -> bytes:
    """The configured key, else a random key kept with the output (logged loudly)."""
    if configured:
        return configured
    path = Path(output_dir) / "_state" / "author_key"
    if path.exists():
        return path.read_bytes().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32).encode()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key)
    log.warning("NEWSMILL_AUTHOR_KEY is not set: author_id uses a random key kept in %s", path)
    return key
