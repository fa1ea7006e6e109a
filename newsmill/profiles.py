"""Site profiles: what newsmill knows about particular sites, kept as data.

A profile is a TOML file in ``newsmill/profiles/`` (or a folder named in
``newsmill.toml``).  ``_default.toml`` holds the generic patterns; site files
add their own words in front and override scalars (time zone, publication).
Profiles are compiled once per process; code only holds generic logic.
"""
from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from urllib.parse import urlsplit

PROFILE_DIR = Path(__file__).resolve().parent / "profiles"
_LIST_KEYS = (
    "ui_artifacts", "comment_headers", "comment_end", "article_end", "section_patterns",
    "date_line_prefixes", "byline_prefixes", "domains", "names", "comment_container_hints", "listing_hints", "comment_author_hints",
)


@dataclass(frozen=True)
class Profile:
    name: str
    publication: str | None
    timezone: str
    timezone_known: bool
    day_first: bool | None  # order of ambiguous numeric dates; None: guess from the separator
    domains: tuple[str, ...]
    names: tuple[str, ...]
    ui_artifacts: tuple[str, ...]
    comment_headers: tuple[re.Pattern, ...]
    comment_end: tuple[re.Pattern, ...]
    article_end: tuple[re.Pattern, ...]
    section_patterns: tuple[re.Pattern, ...]
    date_line: re.Pattern
    byline: re.Pattern
    caption_credit: re.Pattern
    dateline: re.Pattern
    artifact_tail: re.Pattern  # artefact glued to or standing at the end of a text
    artifact_line: re.Pattern  # a line that is nothing but artefacts
    comment_hint: re.Pattern  # a class or id of a comment list or comment ('comment', 'kommentar', 'replies')
    listing_hint: re.Pattern  # a class or id of a list that is no comment list ('related', 'teaser', 'faq')
    author_hint: re.Pattern  # a class or id of a commenter's name ('author', 'user', 'fn')


def _alternation(words) -> str:
    return "|".join(re.escape(w) for w in sorted(set(words), key=len, reverse=True))


def _compile(spec: dict) -> Profile:
    pats = lambda key: tuple(re.compile(p, re.IGNORECASE if key != "section_patterns" else 0) for p in spec[key])  # noqa: E731
    art = _alternation(spec["ui_artifacts"])
    return Profile(
        name=spec["name"],
        publication=spec.get("publication"),
        timezone=spec["timezone"],
        timezone_known=bool(spec.get("timezone_known", False)),
        day_first=spec.get("day_first"),
        domains=tuple(d.lower() for d in spec["domains"]),
        names=tuple(spec["names"]),
        ui_artifacts=tuple(spec["ui_artifacts"]),
        comment_headers=pats("comment_headers"),
        comment_end=pats("comment_end"),
        article_end=pats("article_end"),
        section_patterns=pats("section_patterns"),
        date_line=re.compile(rf"^(?:{_alternation(spec['date_line_prefixes'])})\s*(?:on|:)?\s*", re.I),
        byline=re.compile(rf"^(?:{_alternation(spec['byline_prefixes'])})\s+(?P<names>\S.{{1,120}})$"),
        caption_credit=re.compile(spec["caption_credit"]),
        dateline=re.compile(spec["dateline"]),
        artifact_tail=re.compile(rf"(?:\s*(?<![\w'’-])(?:{art})\s*[|·•]?)+\s*$|(?<=[.!?)\]:;…])(?:{art})\s*$"),
        artifact_line=re.compile(rf"^(?:\s*(?:{art})\s*[|·•()\d]*)+$", re.I),
        comment_hint=re.compile("|".join(f"(?:{p})" for p in spec.get("comment_container_hints") or ["(?!)"]), re.I),
        listing_hint=re.compile("|".join(f"(?:{p})" for p in spec.get("listing_hints") or ["(?!)"]), re.I),
        author_hint=re.compile("|".join(f"(?:{p})" for p in spec.get("comment_author_hints") or ["(?!)"]), re.I),
    )


def _merge(base: dict, site: dict) -> dict:
    out = dict(base)
    for key, value in site.items():
        out[key] = [*value, *base.get(key, [])] if key in _LIST_KEYS else value
    return out


def _read(path: Path) -> dict:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"site profile {path}: {exc}") from exc


@cache
def load_profiles(extra_dir: str | None = None) -> dict[str, Profile]:
    """All profiles by name; ``'unknown'`` is the generic default."""
    base = _read(PROFILE_DIR / "_default.toml")
    files = sorted(PROFILE_DIR.glob("*.toml"))
    if extra_dir:
        files += sorted(Path(extra_dir).glob("*.toml"))
    profiles = {"unknown": _compile(base)}
    for path in files:
        if path.name.startswith("_"):
            continue
        spec = _merge(base, _read(path))
        if spec["name"] in profiles:
            raise ValueError(f"site profile {path}: name {spec['name']!r} is used twice")
        profiles[spec["name"]] = _compile(spec)
    return profiles


def default_profile() -> Profile:
    return load_profiles()["unknown"]


def _host(url: str) -> str:
    try:
        host = (urlsplit(url).hostname or "").lower()
    except ValueError:  # 'http://[::1/x' and other unsplittable URLs from hostile pages
        return ""
    return host[4:] if host.startswith("www.") else host


def match(url: str | None = None, publication: str | None = None, text: str | None = None,
          *, extra_dir: str | None = None) -> Profile:
    """The profile for a page: by URL host, else by the publication name it shows."""
    profiles = load_profiles(extra_dir)
    if url:
        host = _host(url)
        for p in profiles.values():
            if any(host == d or host.endswith("." + d) for d in p.domains):
                return p
    if publication:
        key = publication.casefold().strip()
        for p in profiles.values():
            if any(key == n.casefold() for n in p.names):
                return p
    if text:
        for p in profiles.values():
            if any(n in text for n in p.names):
                return p
    return profiles["unknown"]


_SAFE_SOURCE = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
_MAX_SOURCE = 100


def source_key(profile: Profile, url: str | None, publication: str | None) -> str:
    """Source key: profile name, else host, else publication slug.

    It names an output folder, whatever the page claims: only ``[a-z0-9._-]``,
    no '..', at most 100 characters, else 'unknown'.
    """
    if profile.name != "unknown":
        key = profile.name
    elif url and (host := _host(url)):
        key = re.sub(r"[^a-z0-9.-]+", "-", host)
    elif publication:
        key = re.sub(r"[^a-z0-9]+", "-", publication.casefold())
    else:
        key = "unknown"
    key = re.sub(r"\.{2,}", ".", key)[:_MAX_SOURCE].strip(".-_")
    return key if _SAFE_SOURCE.match(key) else "unknown"


def ui_artifact_regex(extra_dir: str | None = None) -> str:
    """One regex for 'an artefact left at the end of a text', over all profiles (for validation)."""
    words = {w for p in load_profiles(extra_dir).values() for w in p.ui_artifacts}
    return rf"(?:^|[\s.!?])(?:{_alternation(words)})\s*$"
