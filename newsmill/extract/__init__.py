"""Extraction: one page's bytes to a RawPage, by input format.

Formats plug in here; all of them hand the same RawPage to ``clean``.
"""
from __future__ import annotations

import re

from newsmill import profiles as _profiles
from newsmill.records import PageInput, RawPage, Reject
from newsmill.sources.decode import UndecodableError, decode


_WORD = re.compile(r"\w")


def extract_page(page: PageInput, *, profiles_dir: str | None = None,
                 body_mode: str = "precise") -> tuple[RawPage, _profiles.Profile] | Reject:
    """RawPage and the site profile used, or a Reject saying why not."""
    try:
        text, _encoding = decode(page.data, page.declared_charset)
    except UndecodableError as exc:
        return Reject(page.uri, "decode", "undecodable", str(exc), page.sha256)
    if page.format == "text":
        from newsmill.extract.textdump import parse_text_dump

        raw = parse_text_dump(text, url=page.url, profiles_dir=profiles_dir)
    elif page.format == "html":
        from newsmill.extract.html import extract_html

        raw = extract_html(text, url=page.url, captured_at=page.captured_at, profiles_dir=profiles_dir,
                           body_mode=body_mode)
    else:
        return Reject(page.uri, "extract", "unsupported_format", f"input format {page.format!r} is not supported yet", page.sha256)
    if not _WORD.search(" ".join([raw.title or "", *raw.paragraphs])):
        return Reject(page.uri, "extract", "no_article", "no title and no body text found", page.sha256)
    return raw, _profiles.load_profiles(profiles_dir)[raw.profile]
