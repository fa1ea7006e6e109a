"""Plain-text page dumps (``w3m -dump``, archive text extraction) to a RawPage.

A dump has lost its markup, so structure is read from layout: a comment is
anchored on its *timestamp line* (a line that is mostly a date), its author is
the short line just above or the name on the same line, and its text runs to
the next comment or to a line that closes the section.  Everything worded
(headers, artefacts, footers) comes from the site profile; this module only
knows layout.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from newsmill import profiles as _profiles
from newsmill.extract.dates import DateMatch, date_coverage, find_date
from newsmill.records import RawComment, RawPage
from newsmill.text import normalize_line

EXTRACTOR = "textdump/1"

_BULLET = re.compile(r"^(?:[•·*▪◦○●■□‣⁃>]|-(?=\s)|\d{1,3}[.)](?=\s))\s*")
# words around a name or date on a comment's header line, in several languages
_LEAD = re.compile(r"^(?:(?:posted|written|submitted|comment(?:ed)?|reply|antwort)\s+)?(?:by|von|par|por|di|door)\s+", re.I)
_TRAIL = re.compile(
    r"\s*(?:\b(?:says|said|wrote|writes|schreibt|schrieb|a écrit|dit|escribió|dice|scrive|on|at|am|um|le|el|il|posted|\|)\b|[|:,\-–—@]|\.\.\.|…)+\s*$",
    re.I,
)
_SENTENCE_END = re.compile(r"[.!?…]['\"”’)]*$")
_NAME_MAX_WORDS = 6
_NAME_MAX_CHARS = 48


@dataclass(frozen=True)
class _Line:
    raw: str
    text: str  # stripped, without list bullet
    indent: int
    bullet: bool

    @property
    def blank(self) -> bool:
        return not self.text


@dataclass(frozen=True)
class _Stamp:
    line: int
    match: DateMatch
    posted_raw: str
    author: str | None


def _lines(text: str) -> list[_Line]:
    out = []
    for raw in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        norm = normalize_line(raw)
        body = norm.lstrip(" ")
        m = _BULLET.match(body)
        out.append(_Line(norm, body[m.end():].strip() if m else body.strip(), len(norm) - len(body), bool(m and body[m.end():].strip())))
    return out


def _clean_name(s: str) -> str | None:
    s = _LEAD.sub("", s.strip())
    s = _TRAIL.sub("", s).strip(" \t\"'“”")
    if not s or len(s) > _NAME_MAX_CHARS or len(s.split()) > _NAME_MAX_WORDS:
        return None
    if not re.search(r"\w", s) or _SENTENCE_END.search(s) and not re.search(r"\b\w\.$", s):
        return None
    return s


def _stamp(line: _Line, i: int, profile: _profiles.Profile) -> _Stamp | None:
    """A comment timestamp line: a date, maybe a name before it, nothing else of substance."""
    if not line.text or len(line.text) > 160:
        return None
    m = find_date(line.text, day_first=profile.day_first)
    if m is None:
        return None
    before, after = line.text[: m.start], line.text[m.end :]
    after = profile.artifact_tail.sub("", after)
    if re.search(r"\w", _TRAIL.sub("", after.strip())):
        return None
    author = None
    if re.search(r"\w", before):
        author = _clean_name(before)
        if author is None:
            return None
    elif not m.has_time and date_coverage(line.text, m) < 0.6:
        return None
    return _Stamp(i, m, line.text[m.start : m.end], author)


def _matches(patterns, text: str):
    for p in patterns:
        if m := p.match(text):
            return m
    return None


def _author_line(line: _Line, profile) -> str | None:
    if line.blank or profile.artifact_line.match(line.text) or _matches(profile.comment_headers, line.text):
        return None
    return _clean_name(line.text)


def _join(lines: list[_Line], wrap_width: int | None) -> str:
    """Lines to text: blank lines separate paragraphs; a soft-wrapped line continues with a space."""
    paras, cur = [], []
    for ln in lines:
        if ln.blank:
            if cur:
                paras.append(cur)
                cur = []
            continue
        cur.append(ln)
    if cur:
        paras.append(cur)
    out = []
    for para in paras:
        text = para[0].text
        for prev, ln in zip(para, para[1:]):
            soft = wrap_width is not None and len(prev.raw) >= wrap_width - 12
            text += (" " if soft else "\n") + ln.text
        out.append(text)
    return "\n\n".join(out)


def _wrap_width(lines: list[_Line]) -> int | None:
    """Column a text browser wrapped at, if the dump looks hard-wrapped."""
    lengths = sorted(len(l.raw) for l in lines if l.text)
    if len(lengths) < 20:
        return None
    widest = lengths[-1]
    near = sum(1 for n in lengths if n >= widest - 12)
    return widest if widest <= 200 and near >= 0.1 * len(lengths) else None


def _comment_header(lines, stamps, profile, start: int) -> tuple[int | None, int | None]:
    """(line of the header that opens the comment list, declared count)."""
    stamp_lines = [s.line for s in stamps]
    chosen, count = None, None
    for i in range(start, len(lines)):
        m = _matches(profile.comment_headers, lines[i].text) if lines[i].text else None
        if not m:
            continue
        c = m.groupdict().get("count")
        n = int(re.sub(r"[,.]", "", c)) if c else (1 if re.match(r"(?i)one\b", lines[i].text) else None)
        if any(i < s <= i + 60 for s in stamp_lines):
            return i, n if n is not None else count
        if chosen is None or n is not None:
            chosen, count = i, n if n is not None else count
    return chosen, count


def parse_text_dump(text: str, profile: _profiles.Profile | None = None, *, url: str | None = None,
                    profiles_dir: str | None = None) -> RawPage:
    """Parse one page dump.  ``profile=None`` picks one from the page (publication, names)."""
    lines = _lines(text)
    if profile is None:
        profile = _detect_profile(lines, url, profiles_dir)
    wrap = _wrap_width(lines)
    page = RawPage(extractor=EXTRACTOR, url=url, profile=profile.name)

    date_idx = _find_date_line(lines, profile)
    stamps = [s for i, ln in enumerate(lines) if i != date_idx and (s := _stamp(ln, i, profile))]
    body_from = (date_idx or 0) + 1
    header, declared = _comment_header(lines, stamps, profile, body_from)
    page.comment_count_declared = declared
    comment_stamps = [s for s in stamps if header is not None and s.line > header]
    blocks = _comment_blocks(lines, comment_stamps, profile, header)
    article_stop = header if header is not None else (blocks[0][0] if blocks else len(lines))

    _fill_article(page, lines, profile, date_idx, article_stop, wrap)
    for start, stamp, end, author in blocks:
        body = [ln for ln in lines[stamp.line + 1 : end] if not profile.artifact_line.match(ln.text)]
        flags = ["ui_artifact_removed"] if len(body) < end - stamp.line - 1 else []
        page.comments.append(RawComment(author=author, posted_raw=stamp.posted_raw, text=_join(body, wrap), flags=flags))
    for ln in lines[article_stop:]:
        if m := _matches(profile.section_patterns, ln.text):
            page.section = m.group("section").strip()
    return page


def _detect_profile(lines: list[_Line], url: str | None, profiles_dir: str | None) -> _profiles.Profile:
    base = _profiles.default_profile()
    publication = None
    for ln in lines:
        if ln.text and (m := _matches(base.article_end, ln.text)) and m.groupdict().get("publication"):
            publication = m.group("publication")
            break
    edges = "\n".join(l.text for l in lines[:40] + lines[-40:])
    return _profiles.match(url=url, publication=publication, text=edges, extra_dir=profiles_dir)


def _find_date_line(lines: list[_Line], profile) -> int | None:
    """The publication date line near the top: a prefixed date line, else the first pure date line."""
    limit = min(len(lines), max(60, len(lines) // 3))
    fallback = None
    for i in range(limit):
        t = lines[i].text
        if not t or len(t) > 120:
            continue
        prefix = profile.date_line.match(t)
        m = find_date(t, day_first=profile.day_first)
        if m is None:
            continue
        if prefix and m.start <= prefix.end() + 3:
            return i
        if fallback is None and date_coverage(t, m) >= 0.7:
            fallback = i
    return fallback


def _comment_blocks(lines, stamps: list[_Stamp], profile, header: int | None):
    """(block start, stamp, block end, author) for each comment, in page order."""
    blocks = []
    floor = header + 1 if header is not None else 0
    for k, st in enumerate(stamps):
        start, author = st.line, st.author
        prev_end = blocks[-1][1].line + 1 if blocks else floor
        if author is None and not lines[st.line].bullet and st.line - 1 >= prev_end:
            if name := _author_line(lines[st.line - 1], profile):
                start, author = st.line - 1, name
        blocks.append([start, st, None, author])
    for k, b in enumerate(blocks):
        limit = blocks[k + 1][0] if k + 1 < len(blocks) else len(lines)
        indent = min(lines[b[0]].indent, lines[b[1].line].indent)
        end = b[1].line + 1
        while end < limit:
            ln = lines[end]
            if ln.text and (_matches(profile.comment_end, ln.text) or (indent > 0 and ln.indent < indent)):
                break
            end += 1
        b[2] = end
    return [tuple(b) for b in blocks]


def _fill_article(page: RawPage, lines, profile, date_idx: int | None, stop: int, wrap) -> None:
    if date_idx is not None:
        raw_line = lines[date_idx].text
        m = find_date(raw_line, day_first=profile.day_first)
        page.published_raw = raw_line[m.start : m.end]
        title_idx = next((i for i in range(date_idx - 1, -1, -1) if lines[i].text and not profile.byline.match(lines[i].text)), None)
    else:
        title_idx = next((i for i in range(stop) if lines[i].text), None)
    page.title = lines[title_idx].text if title_idx is not None else None

    body_start = (date_idx if date_idx is not None else (title_idx if title_idx is not None else -1)) + 1
    end = stop
    for i in range(body_start, stop):
        if lines[i].text and (m := _matches(profile.article_end, lines[i].text)):
            end = i
            g = m.groupdict()
            if g.get("publication"):
                page.publication = g["publication"].strip()
            if g.get("date") and page.published_raw is None:
                d = find_date(g["date"], day_first=profile.day_first)
                page.published_raw = g["date"][d.start : d.end] if d else None
            break
    if page.publication is None:
        page.publication = profile.publication

    region = lines[body_start:end]
    for i in range(title_idx + 1 if title_idx is not None else 0, body_start):
        if bm := profile.byline.match(lines[i].text):
            page.authors = _split_names(bm.group("names"))
    paras = [p for p in _join(region, wrap).split("\n\n") if p]
    seen: dict[str, int] = {}
    for p in paras:
        seen[p] = seen.get(p, 0) + 1
    body, captions = [], []
    for p in paras:
        credit = profile.caption_credit.search(p) if "\n" not in p else None
        if credit or (seen[p] > 1 and len(p) < 400):
            cap = (p[: credit.start()].strip(), credit.group("credit").strip()) if credit else (p, None)
            if cap not in captions:
                captions.append(cap)
            continue
        if profile.byline.match(p) and not body:
            page.authors = _split_names(profile.byline.match(p).group("names"))
            continue
        if profile.artifact_line.match(p):
            continue
        body.append(p)
    page.paragraphs = body
    page.captions = captions


def _split_names(s: str) -> list[str]:
    parts = re.split(r"\s*(?:,|&|\band\b|\bund\b|\bet\b|\by\b|\be\b)\s*", s.strip())
    return [p for p in (x.strip(" .") for x in parts) if p and len(p.split()) <= _NAME_MAX_WORDS]
