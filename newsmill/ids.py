"""Stable identifiers and author pseudonyms.

Ids are content-derived so that the same page yields the same ids in every run
(idempotent publishing, upserts).  Author pseudonyms are keyed (HMAC) so that
nobody without the key can recover a name by hashing candidate names.
"""
from __future__ import annotations

import hashlib
import hmac
import logging

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


def key_fingerprint(key: bytes) -> str:
    """Identifies a key without revealing it: tells whether an output's ids were made with this key."""
    return hmac.new(key, b"newsmill author key fingerprint", hashlib.sha256).hexdigest()[:16]
