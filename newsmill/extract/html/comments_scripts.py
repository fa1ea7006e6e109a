"""Layer 4: comment data the page holds in scripts as JSON, when its markup shows none.

Modern pages ship their state as JSON (``<script id="__NEXT_DATA__" type="application/json">``,
``window.__INITIAL_STATE__ = {...}``, other ``application/json`` islands); the comments may be in it
although no comment is rendered in the captured HTML.  A comment list is a JSON list of objects
reached through a key path that names comments (the profile's ``comment_hint``: ``comments``,
``replies``, ``kommentare``...) where each object has a text and an author or a date; a list of
articles under ``related`` or ``items`` has no such path and is left alone.  The key names are data
(``[script_json]`` in ``profiles/systems/_common.toml``).  JSON-LD is the schema.org layer's.
"""
from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from functools import cache

from lxml import etree

from newsmill.extract.html.common import Found
from newsmill.profiles import Profile, systems_common
from newsmill.records import RawComment

_SCRIPTS = etree.XPath("//script[not(@src)]")
MAX_SCRIPT = 5_000_000  # characters: bigger blobs are not parsed
MAX_NODES = 200_000  # JSON nodes visited per page


@cache
def _keys(extra_dir: str | None = None) -> dict:
    spec = systems_common(extra_dir)["script_json"]
    return {
        "text": tuple(spec["text_keys"]), "author": tuple(spec["author_keys"]), "date": tuple(spec["date_keys"]),
        "reply": tuple(spec["reply_keys"]), "state": re.compile(spec["state_assignment"]),
    }


def _blobs(tree, extra_dir: str | None = None) -> list:
    """Parsed JSON values of the page's scripts (JSON-LD excluded)."""
    keys = _keys(extra_dir)
    out = []
    decoder = json.JSONDecoder()
    for script in _SCRIPTS(tree):
        typ = (script.get("type") or "").lower()
        text = script.text or ""
        if not text.strip() or len(text) > MAX_SCRIPT or "ld+json" in typ:
            continue
        if "json" in typ:
            try:
                out.append(json.loads(text))
            except ValueError:
                pass
            continue
        if typ not in ("", "text/javascript", "application/javascript", "module"):
            continue
        for m in keys["state"].finditer(text):
            start = m.end()
            if start < len(text) and text[start] in "{[":
                try:
                    out.append(decoder.raw_decode(text, start)[0])
                except ValueError:
                    pass
    return out


def _first(d: dict, names: tuple):
    for k in names:
        v = d.get(k)
        if v not in (None, "", [], {}):
            return v
    return None


def _author(v) -> str | None:
    if isinstance(v, str):
        return v.strip() or None
    if isinstance(v, dict):
        inner = _first(v, ("name", "displayName", "display_name", "username", "userName", "nickname", "nick"))
        return inner.strip() if isinstance(inner, str) and inner.strip() else None
    return None


def _date(v) -> str | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, (int, float)) and v > 0:
        secs = v / 1000 if v > 10**11 else v  # milliseconds or seconds since the epoch
        if 946684800 <= secs <= 4102444800:  # 2000..2100
            return datetime.fromtimestamp(secs, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S+00:00")
        return None
    if isinstance(v, str) and re.search(r"\d", v):
        return v.strip()
    return None


def _is_comment(d, keys) -> bool:
    if not isinstance(d, dict):
        return False
    text = _first(d, keys["text"])
    if not isinstance(text, str) or not text.strip():
        return False
    return _author(_first(d, keys["author"])) is not None or _date(_first(d, keys["date"])) is not None


def extract(tree, profile: Profile, *, captured_at=None) -> list[RawComment]:
    from newsmill.extract.html.schemaorg import _html_text, build_from_text

    blobs = _blobs(tree, profile.extra_dir)
    if not blobs:
        return []
    keys = _keys(profile.extra_dir)
    hint = profile.comment_hint
    found: list[tuple[dict, int, int | None]] = []
    seen: set[int] = set()
    budget = [MAX_NODES]

    def take(items: list, depth: int, parent: int | None) -> None:
        for item in items:
            if not _is_comment(item, keys) or id(item) in seen:
                continue
            seen.add(id(item))
            found.append((item, depth, parent))
            me = len(found) - 1
            for rk in keys["reply"]:
                sub = item.get(rk)
                if isinstance(sub, dict):
                    sub = next((v for v in sub.values() if isinstance(v, list)), None)  # {'nodes': [...]}, {'items': [...]}
                if isinstance(sub, list):
                    take(sub, depth + 1, me)

    def walk(node, path_hinted: bool) -> None:
        budget[0] -= 1
        if budget[0] < 0:
            return
        if isinstance(node, dict):
            for k, v in node.items():
                walk(v, path_hinted or bool(hint.search(str(k))))
        elif isinstance(node, list):
            if path_hinted and node and sum(_is_comment(x, keys) for x in node[:20]) * 2 > min(len(node), 20):
                take(node, 0, None)
                return
            for v in node:
                walk(v, path_hinted)

    for blob in blobs:
        walk(blob, False)
    out: list[RawComment] = []
    kept: dict[int, int] = {}
    for pos, (item, depth, parent) in enumerate(found):
        text = _html_text(str(_first(item, keys["text"])))
        f = Found(element=None, author=_author(_first(item, keys["author"])), date=_date(_first(item, keys["date"])),
                  depth=depth, parent=kept.get(parent) if parent is not None else None)
        rc = build_from_text(f, text, profile, captured_at)
        if rc is not None:
            kept[pos] = len(out)
            out.append(rc)
    return out
