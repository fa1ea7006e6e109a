"""Site profiles: what newsmill knows about particular sites, kept as data.

A profile is a TOML file in ``newsmill/profiles/`` (or in the user's ``profiles_dir``
named in ``newsmill.toml``).  ``_default.toml`` holds the generic patterns and words;
a ``_default.toml`` in ``profiles_dir`` extends it, and site files extend the
result.  One rule merges them all: a list is added in front of the one it
extends, a table is merged entry by entry (by the same rule), a scalar replaces
(time zone, publication).  :func:`profile_spec` is that one loader: everything
that reads profile data (the compiled :class:`Profile`, the lexicon of
``extract/lexicon.py``, the title and date words) goes through it, so a user's
``profiles_dir`` reaches every word.  Specs are read once per ``profiles_dir``;
code only holds generic logic.
"""
from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from urllib.parse import urlsplit

PROFILE_DIR = Path(__file__).resolve().parent / "profiles"
SYSTEMS_DIR = PROFILE_DIR / "systems"


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
    volatile_class: re.Pattern  # a class that differs between blocks of one kind ('odd', 'depth-2', 'bypostauthor')
    commenter_link: re.Pattern  # an href to a commenter or a reply form, not to another story
    extra_dir: str | None = None  # the profiles_dir it was loaded with: its lexicon comes from the same place


def _alternation(words) -> str:
    return "|".join(re.escape(w) for w in sorted(set(words), key=len, reverse=True))


def _compile(spec: dict, extra_dir: str | None) -> Profile:
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
        volatile_class=re.compile(rf"^(?:{'|'.join(spec.get('comment_volatile_classes') or ['(?!)'])})$"),
        commenter_link=re.compile("|".join(spec.get("commenter_link_patterns") or ["(?!)"]), re.I),
        extra_dir=extra_dir,
    )


def merge(base: dict, over: dict) -> dict:
    """``over`` on top of ``base``: lists are put in front of the base's, tables merged entry by entry
    (a list inside extends too: a user adds a language's month names or time units without restating
    the bundled ones), scalars replace."""
    out = dict(base)
    for key, value in over.items():
        old = base.get(key)
        if isinstance(value, list):
            out[key] = [*value, *(old if isinstance(old, list) else [])]
        elif isinstance(value, dict) and isinstance(old, dict):
            out[key] = merge(old, value)
        else:
            out[key] = value
    return out


def _read(path: Path, what: str = "site profile") -> dict:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{what} {path}: {exc}") from exc


@cache
def _specs(extra_dir: str | None = None) -> dict[str, dict]:
    """Every profile's merged spec by name, ``'unknown'`` (the generic one) first."""
    base = _read(PROFILE_DIR / "_default.toml")
    files = sorted(PROFILE_DIR.glob("*.toml"))
    if extra_dir:
        user = Path(extra_dir)
        if (user / "_default.toml").is_file():  # the user's generic words: extend every profile
            base = merge(base, {k: v for k, v in _read(user / "_default.toml").items() if k != "name"})
        files += sorted(user.glob("*.toml"))
    specs = {"unknown": base}
    for path in files:
        if path.name.startswith("_"):
            continue
        spec = merge(base, _read(path))
        if spec["name"] in specs:
            raise ValueError(f"site profile {path}: name {spec['name']!r} is used twice")
        specs[spec["name"]] = spec
    return specs


def profile_spec(name: str = "unknown", extra_dir: str | None = None) -> dict:
    """The merged data of one profile (bundled ``_default.toml``, the user's ``_default.toml``, the site
    file); an unknown name gives the generic spec.  Callers must not change it (it is shared)."""
    specs = _specs(extra_dir)
    return specs.get(name, specs["unknown"])


@cache
def system_specs(extra_dir: str | None = None) -> tuple[tuple[Path, dict], ...]:
    """The comment-system profiles (``systems/*.toml``, built-in then ``<extra_dir>/systems``) with their
    paths, read once per ``profiles_dir``; '_' files are shared data (:func:`systems_common`)."""
    files = sorted(SYSTEMS_DIR.glob("*.toml"))
    if extra_dir and (Path(extra_dir) / "systems").is_dir():
        files += sorted((Path(extra_dir) / "systems").glob("*.toml"))
    return tuple((path, _read(path, "comment system profile")) for path in files if not path.name.startswith("_"))


@cache
def systems_common(extra_dir: str | None = None) -> dict:
    """``systems/_common.toml`` (widget nodes of every system, places no comment stands in, script JSON
    keys), extended by ``<extra_dir>/systems/_common.toml`` by the same rule as the site profiles."""
    common = _read(SYSTEMS_DIR / "_common.toml", "comment system profile")
    user = Path(extra_dir) / "systems" / "_common.toml" if extra_dir else None
    return merge(common, _read(user, "comment system profile")) if user is not None and user.is_file() else common


@cache
def load_profiles(extra_dir: str | None = None) -> dict[str, Profile]:
    """All profiles by name; ``'unknown'`` is the generic default."""
    return {name: _compile(spec, extra_dir) for name, spec in _specs(extra_dir).items()}


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
