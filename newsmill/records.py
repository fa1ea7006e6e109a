"""In-memory shapes passed between stages.

Extractors return a :class:`RawPage` (strings as found on the page, nothing
interpreted yet); ``clean`` turns it into schema rows.  Keeping the raw layer
separate lets every input format share one cleaning and validation path.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from newsmill.text import shown, token


@dataclass(frozen=True)
class PageInput:
    """One page's raw bytes plus where they came from."""

    uri: str
    data: bytes
    sha256: str
    format: str  # 'text' | 'html' | 'warc' | 'wet'
    url: str | None = None  # the page's own URL when the container knows it
    captured_at: datetime | None = None  # capture time (WARC date, HTTP Date)
    declared_charset: str | None = None  # from HTTP headers
    container: str | None = None  # 'warc' | 'wet' when the page came out of an archive


@dataclass
class RawComment:
    author: str | None
    posted_raw: str | None
    text: str  # paragraphs joined by a blank line, UI artefacts possibly still present
    depth: int | None = None
    likes: int | None = None
    parent_index: int | None = None  # index (0-based) of parent in RawPage.comments, from markup
    flags: list[str] = field(default_factory=list)
    # what the page shows about the comment beyond its text (HTML only; None: the page shows nothing of it)
    dislikes: int | None = None  # down-votes, when the page shows them apart from the up-votes (``likes``)
    marked_edited: bool | None = None  # the page marks the comment as edited ('(edited)', 'Last edited by')
    moderation: str | None = None  # 'removed' | 'deleted' | 'pending': a state the page shows (a placeholder)
    badges: list[str] | None = None  # 'editors_pick', 'staff', 'article_author', 'verified'
    permalink: str | None = None  # the comment's own link or anchor as the page gives it ('#comment-12', an href)


@dataclass
class RawPage:
    title: str | None = None
    url: str | None = None
    publication: str | None = None
    published_raw: str | None = None
    # other publication-time strings of the page, best first (meta tags, <time>, URL path): clean falls
    # back on them when published_raw cannot be read or is contradicted by the page's comments
    date_candidates: list[str] = field(default_factory=list)
    updated_raw: str | None = None
    section: str | None = None
    authors: list[str] = field(default_factory=list)
    paragraphs: list[str] = field(default_factory=list)
    captions: list[tuple[str, str | None]] = field(default_factory=list)  # (text, credit)
    comment_count_declared: int | None = None
    language: str | None = None
    comments: list[RawComment] = field(default_factory=list)
    # the comment system the page embeds or whose markup gave the comments ('disqus', 'unknown_script', ...);
    # set by the HTML extractor only: a text dump cannot show what a script would have loaded
    comment_system: str | None = None
    extractor: str = "unknown"
    profile: str = "unknown"  # name of the site profile the extractor used
    flags: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Reject:
    """An input that produced no records, with the reason (never dropped silently)."""

    input_uri: str
    stage: str
    reason: str
    detail: str
    input_sha256: str | None = None

    def __post_init__(self):
        # reason and detail are counted and shown: an archive header or a file name in them must not
        # carry escape sequences or become a new category of its own (input_uri is an address, kept)
        object.__setattr__(self, "reason", token(self.reason))
        object.__setattr__(self, "detail", shown(self.detail, lines=True))
