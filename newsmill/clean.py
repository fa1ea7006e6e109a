"""RawPage -> schema rows: normalise text, resolve times to UTC, link replies and quotes.

One cleaning path for every input format: extractors only report what the
page shows, and every interpretation (time zones, ids, threading) is here.
"""
from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import lru_cache
from urllib.parse import urljoin, urlsplit

from newsmill import ids, neardup
from newsmill.extract.dates import find_date
from newsmill.extract.lexicon import lexicon_of, not_titles, placeholder
from newsmill.threads import thread_fields
from newsmill.profiles import Profile, source_key
from newsmill.records import PageInput, RawComment, RawPage
from newsmill.text import flatten_name, normalize_text, paragraphs, tokens

_MENTION = re.compile(r"^@\s*(?P<name>[^:\n@]{1,40}?)\s*:|^@(?P<word>[\w.\-]{1,40})\b")
_QUOTE_MIN_TOKENS = 6
# Partition value for pages without a date: a null hive partition next to real years breaks
# pandas.read_parquet (pyarrow cannot unify dictionaries with nulls), so 0 stands for 'unknown'.
UNDATED_YEAR = 0


# any '@handle' not inside a word or an e-mail address ('bob@example.com' is left alone)
_HANDLE = re.compile(r"(?<![\w@.])@(?P<handle>[^\W\d][\w.\-]{0,39}?)(?=[.\-]*(?:[^\w.\-]|$))")
DROPPED_AUTHOR = "[author]"


@dataclass(frozen=True)
class CleanContext:
    author_key: bytes
    extracted_at: datetime
    pipeline_version: str
    authors_mode: str = "keep"  # keep | pseudonymize | drop (config.AUTHOR_MODES)


@lru_cache(maxsize=4096)
def _match_char(c: str) -> str:
    """One character as names are compared: NFKC (fullwidth and other compatibility forms read as the plain
    letters), case folded; format characters (zero-width, bidi controls, soft hyphen, BOM) and variation
    selectors count for nothing."""
    if c.isascii():
        return c.lower()
    if unicodedata.category(c) == "Cf" or "\ufe00" <= c <= "\ufe0f":
        return ""
    return unicodedata.normalize("NFKC", c).casefold()


def _name_key(name: str) -> str:
    """A name as it is *matched* (reply links, mentions, names in running text): :func:`_match_char` on every
    character, whitespace removed.  Never an identity: two people whose names match here keep their own
    ``author_id`` (see :func:`identity_name`)."""
    return "".join("".join(map(_match_char, name)).split())


_HIDDEN = re.compile(r"[\u00ad\u200b-\u200f\u202a-\u202e\u2060-\u206f\ufeff\ufe00-\ufe0f\u061c]")


def identity_name(raw: str | None) -> str | None:
    """The name an ``author_id`` is made of: the name as the page holds it, NFC, spacing collapsed, with its
    invisible characters (zero-width space and joiners, word joiner, bidi controls, soft hyphen) *kept*.

    Why kept: the shown ``author`` drops them, like all text (they are noise for reading and searching), so
    'Ja<U+200B>ne Doe' is shown 'Jane Doe'.  But on the site it is another account, and a name that differs
    from a real commenter's only by what a reader cannot see is how one commenter poses as another: keyed on
    the shown text it would get the real person's ``author_id``, and every analysis by author would merge the
    two.  Keyed on this name it gets its own id, and its rows are flagged ``author_hidden_characters``.
    Case and spacing are not kept (as before: ids stay stable, and templates change case and spacing).
    Homoglyphs (a Cyrillic 'а', a fullwidth 'Ｊ') are other characters: other ids already.  For matching a
    mention or a name in the text to commenters, :func:`_name_key` normalises all of this away.
    """
    if not raw:
        return None
    return flatten_name(raw) or None


def _language(page: RawPage, body: str) -> str | None:
    if page.language:
        return page.language.split("-")[0].split("_")[0].lower()[:3] or None
    if len(body) < 40:
        return None
    import py3langid  # imported here: loading its model costs ~0.5 s

    return py3langid.classify(body[:3000])[0]


def strip_artifacts(text: str, profile: Profile) -> tuple[str, bool]:
    """Drop widget words ('Reply', 'Recommend', ...) from the end of a comment."""
    end = text.rstrip()
    if not (end.endswith(profile.ui_artifacts)
            or end[-1:] in ("|", "·", "•") and end[:-1].rstrip().endswith(profile.ui_artifacts)):
        return end, False  # artifact_tail needs an artefact (and maybe a separator) last: no regex scan
    stripped = profile.artifact_tail.sub("", text).rstrip()
    return stripped, stripped != text.rstrip()


def _when(raw: str | None, profile: Profile, *, default_year: int | None = None, captured_at: datetime | None = None,
          day_first: bool | None = None):
    """(local date, UTC instant, match) of a page's date string.

    Comment stamps often omit the year ('July 23, @09:58PM'): the article's year
    fills it in.  Relative times ('3 hours ago') only mean something against the
    capture time, so they stay unresolved without one.
    """
    if not raw:
        return None, None, None
    order = profile.day_first if day_first is None else day_first
    m = find_date(raw, day_first=order, default_year=default_year, relative=captured_at is not None, lex=lexicon_of(profile))
    if m is None:
        return None, None, None
    if m.relative:
        m = m.resolve(captured_at)
    try:
        utc = m.to_utc(profile.timezone)
    except (ValueError, OverflowError):  # an impossible offset ('+9999', 'GMT+25'): no instant, the date stays
        utc = None
    return m.date, utc, m


def clean_page(raw: RawPage, page: PageInput, profile: Profile, ctx: CleanContext) -> tuple[dict, list[dict]]:
    """One article row and its comment rows, ready for validation."""
    url = _page_url(raw.url, page.url)
    source = source_key(profile, url, raw.publication)
    title = normalize_text(raw.title) if raw.title else None
    body_paras = [normalize_text(p) for p in raw.paragraphs]
    dateline = None
    if body_paras and (m := profile.dateline.match(body_paras[0])):
        dateline = m.group("dateline").strip()
        body_paras[0] = body_paras[0][m.end() :].lstrip()
    body = "\n\n".join(p for p in body_paras if p)
    candidates = _date_candidates(raw, profile, page.captured_at)
    published_raw, pub_date, pub_at, pub_match = candidates[0] if candidates else (raw.published_raw, None, None, None)
    _, upd_at, _ = _when(raw.updated_raw, profile, captured_at=page.captured_at)
    flags = list(raw.flags)
    if title is not None and not _plausible_title(title, profile):
        title = None
        flags.append("title_rejected")
    if not body:
        flags.append("body_missing")  # kept for its comments; with none, validation quarantines it
    content = ids.content_key(title, body, [(normalize_text(rc.author) if rc.author else None, normalize_text(rc.text))
                                            for rc in raw.comments])  # names as shown: the key is what it was
    aid = ids.article_id(url=None if _is_site_root(url) else url, source=source, content=content,
                         input_sha256=page.sha256)
    provenance = {
        "input_uri": page.uri,
        "input_sha256": page.sha256,
        "input_format": page.container or page.format,
        "extractor": raw.extractor,
        "extracted_at": ctx.extracted_at,
        "pipeline_version": ctx.pipeline_version,
    }

    def build(pub_date):
        year = pub_date.year if pub_date else UNDATED_YEAR
        default_year = pub_date.year if pub_date else (page.captured_at.year if page.captured_at else None)
        return aid, year, _clean_comments(raw.comments, aid, source, year, profile, ctx, provenance,
                                          default_year=default_year, captured_at=page.captured_at, article_date=pub_date,
                                          url=url, system=raw.comment_system)

    aid, year, comments = build(pub_date)
    if pub_date is not None and (first := first_comment_day(comments)) is not None \
            and pub_date > first + timedelta(days=COMMENT_DATE_TOLERANCE_DAYS):
        # an article is not published days after its first comments: the date read is probably a later
        # update; take the next candidate the page gives that the comments allow, else flag the date
        better = next((c for c in candidates[1:] if c[1] is not None
                       and c[1] <= first + timedelta(days=COMMENT_DATE_TOLERANCE_DAYS)), None)
        if better is not None:
            published_raw, pub_date, pub_at, pub_match = better
            aid, year, comments = build(pub_date)
            flags.append("published_date_from_comments_check")
        else:
            flags.append("published_date_inconsistent")
    if not profile.timezone_known and pub_at is not None and pub_match.utc_offset_minutes is None:
        flags.append("timezone_assumed_utc")
    captions = [(normalize_text(t), normalize_text(c) if c else None) for t, c in raw.captions]
    article = {
        "article_id": aid,
        "source": source,
        "year": year,
        "publication": raw.publication,
        "url": url,
        "title": title,
        "published_date": pub_date,
        "published_at": pub_at,
        "published_raw": published_raw,
        "updated_at": upd_at,
        "section": raw.section,
        "dateline": dateline,
        "authors": [normalize_text(a) for a in raw.authors],
        "body": body,
        "paragraph_count": len(paragraphs(body)),
        "body_simhash": neardup.simhash(body),
        "near_duplicate_of": None,  # filled in for the whole run (pipeline._merge)
        "captions": [t for t, _ in captions],
        "caption_credits": [c for _, c in captions],
        "comment_count_declared": raw.comment_count_declared,
        "comment_count_extracted": len(comments),
        "comment_system": raw.comment_system,
        "comments_in_capture": comments_in_capture(len(comments), raw.comment_system,
                                                   unread="comments_not_extracted" in raw.flags),
        "language": _language(raw, body),
        "flags": flags,
        **provenance,
    }
    if raw.comment_count_declared is not None and raw.comment_count_declared != len(comments):
        flags.append("comment_count_mismatch")
    return article, comments


def _is_site_root(url: str | None) -> bool:
    """A URL naming a site's front page ('https://example.com/', '.../index.html'), not an article."""
    if not url:
        return False
    parts = urlsplit(url)
    return not parts.query and _ROOT_PATH.match(parts.path) is not None


_ROOT_PATH = re.compile(r"^/?(?:(?:index|default|home)\.\w{2,5})?$", re.I)


def _page_url(canonical: str | None, address: str | None) -> str | None:
    """The page's URL: its canonical link, unless that names the site's front page while the page
    was captured at an article's address (a template that points every page's canonical link at
    the home page would give every article of the site one URL, hence one id)."""
    if canonical and address and _is_site_root(canonical) and not _is_site_root(address):
        return address
    return canonical or address


# How far an article date may lie after its page's first comment (time zones, a comment stamped in
# local time, an article re-stamped on the same day) before it is taken as contradicted.
COMMENT_DATE_TOLERANCE_DAYS = 1
# A comment this far before the median of its thread does not count as the thread's start.
_THREAD_OUTLIER_DAYS = 365


def first_comment_day(rows: list[dict]):
    """UTC day of the page's earliest comment that is in line with its thread, or None.

    A single misparsed stamp ('1999' in a 2012 thread) must not decide the article's date: with
    three or more dated comments, a stamp far before the thread's median is left out.
    """
    times = sorted(r["posted_at"] for r in rows if r["posted_at"] is not None)
    if not times:
        return None
    if len(times) >= 3:
        median = times[len(times) // 2]
        times = [t for t in times if median - t <= timedelta(days=_THREAD_OUTLIER_DAYS)]
    return times[0].date()


def _date_candidates(raw: RawPage, profile: Profile, captured_at) -> list[tuple]:
    """(raw string, local date, UTC instant, match) of every readable publication-time string, best first.

    A string without offset that states the same wall-clock time as another with an offset takes
    that offset ('2023-04-28 18:11:01.0' in JSON-LD, '2023-04-28T18:11:01+02:00' in a meta tag).
    """
    out = []
    for text in dict.fromkeys(t for t in [raw.published_raw, *raw.date_candidates] if t):
        day, utc, m = _when(text, profile, captured_at=captured_at)
        if day is not None:
            out.append((text, day, utc, m))
    for i, (text, day, utc, m) in enumerate(out):
        if m.has_time and m.utc_offset_minutes is None:
            twin = next((c[3] for c in out if c[3].has_time and c[3].utc_offset_minutes is not None
                         and (c[3].date, c[3].hour, c[3].minute) == (m.date, m.hour, m.minute)), None)
            if twin is not None:
                m = replace(m, utc_offset_minutes=twin.utc_offset_minutes)
                out[i] = (text, day, m.to_utc(profile.timezone), m)
    return out


_PLACEHOLDER_TITLE = re.compile(r"^\[[^\]]{0,40}\]$")


def _plausible_title(title: str, profile: Profile) -> bool:
    """Not a w3m image placeholder ('[p]', '[sd_hub_ico]'), not page furniture ('Home', profile data),
    not a bare date, not without any word."""
    if _PLACEHOLDER_TITLE.match(title) or not re.search(r"\w", title) or " ".join(title.casefold().split()) in not_titles(profile.extra_dir):
        return False
    m = find_date(title, lex=lexicon_of(profile))  # only a date: no word of two letters outside it
    return m is None or bool(re.search(r"[^\W\d_]{2,}", title[: m.start] + " " + title[m.end:]))


def comments_in_capture(extracted: int, system: str | None, *, unread: bool = False) -> bool | None:
    """True when the page gave comment records (they are in the capture, whatever the input format); False
    when a comment system was detected but gave none (its comments were to be loaded by script and are not
    in the capture); None when the page shows no comment section, or (``unread``: the extractor's flag
    'comments_not_extracted') one the capture holds but no layer could read: neither true nor false."""
    if extracted:
        return True
    return False if system and not unread else None


_AMBIGUOUS = re.compile(r"(?<!\d)([01]?\d)[./-]([01]?\d)[./-](?:\d\d){1,2}(?!\d)")


def _date_order(raws: list[RawComment], profile: Profile, article_date, default_year) -> bool | None:
    """Day/month order of the page's numeric comment dates ('07.08.12'), when the site's is unknown.

    Each reading is scored on what any reader would check: no comment long before its
    article, comments in chronological order (either way), and close together.  None when the
    page gives no evidence (both readings score the same) or the profile knows the order.
    """
    if profile.day_first is not None:
        return None
    stamps = [rc.posted_raw for rc in raws if rc.posted_raw and _AMBIGUOUS.search(rc.posted_raw)]
    if not stamps:
        return None
    scores = {}
    for order in (True, False):
        days = [m.date for raw in stamps if (m := find_date(raw, day_first=order, default_year=default_year, lex=lexicon_of(profile)))]
        if not days:
            return None
        early = sum(1 for d in days if article_date and d < article_date - timedelta(days=1))
        pairs = list(zip(days, days[1:]))
        disorder = min(sum(a > b for a, b in pairs), sum(a < b for a, b in pairs))
        scores[order] = (early, disorder, (max(days) - min(days)).days)
    if scores[True] == scores[False]:
        return None
    return min(scores, key=scores.get)


def _clean_comments(raws: list[RawComment], aid: str, source: str, year, profile: Profile,
                    ctx: CleanContext, provenance: dict, *, default_year: int | None = None,
                    captured_at: datetime | None = None, article_date=None, url: str | None = None,
                    system: str | None = None) -> list[dict]:
    rows: list[dict] = []
    idents: list[str | None] = []  # each row's identity_name (what its author_id is made of)
    seen_ids: dict[str, int] = {}
    order = _date_order(raws, profile, article_date, default_year)
    edited_marks = page_marks([rc.marked_edited for rc in raws], False)
    badges = page_marks([rc.badges for rc in raws], [])
    lex = lexicon_of(profile)
    for pos, rc in enumerate(raws, start=1):
        flags = list(rc.flags)
        text = normalize_text(rc.text)
        text, removed = strip_artifacts(text, profile)
        if removed and "ui_artifact_removed" not in flags:
            flags.append("ui_artifact_removed")
        moderation = rc.moderation
        state = placeholder(text, lex)
        if state is None and moderation in ("removed", "deleted"):
            # the markup says the comment is gone: a paragraph of placeholder words is the system's, and what
            # is left around it (a stamp line the layer kept) is no comment either
            state = next((st for para in paragraphs(text) if (st := placeholder(para, lex)) is not None), None)
        if state is not None:
            # the system's words in place of a gone comment: not published as if its commenter wrote them
            moderation, text = state, ""
        author = normalize_text(rc.author) if rc.author else None
        ident = identity_name(rc.author) if author else None
        if not author:
            author = None
            flags.append("anonymous")
        elif _HIDDEN.search(ident):
            flags.append("author_hidden_characters")
        _, posted_at, match = _when(rc.posted_raw, profile, default_year=default_year, captured_at=captured_at,
                                    day_first=order)
        if order is not None and rc.posted_raw and _AMBIGUOUS.search(rc.posted_raw):
            flags.append("date_order_guessed")
        if rc.posted_raw and posted_at is None:
            flags.append("time_unparsed")
        elif match is not None and match.utc_offset_minutes is None and not profile.timezone_known:
            flags.append("timezone_assumed_utc")
        if match is not None and match.year_assumed:
            flags.append("year_assumed")
        base = ids.comment_id(aid, author, rc.posted_raw, text, 0, key=ctx.author_key)
        seen_ids[base] = seen_ids.get(base, 0) + 1
        cid = base if seen_ids[base] == 1 else ids.comment_id(aid, author, rc.posted_raw, text, seen_ids[base],
                                                              key=ctx.author_key)
        rows.append({
            "comment_id": cid,
            "article_id": aid,
            "source": source,
            "year": year,
            "position": pos,
            "author": author,
            "author_id": ids.author_pseudonym(ctx.author_key, source, ident),
            "posted_at": posted_at,
            "posted_raw": rc.posted_raw,
            "text": text,
            "reply_to_name": None,
            "parent_comment_id": rows[rc.parent_index]["comment_id"] if rc.parent_index is not None and rc.parent_index < len(rows) else None,
            "quoted_comment_id": None,
            "depth": rc.depth,
            "likes": rc.likes,
            "dislikes": rc.dislikes,
            "flags": flags,
            "marked_edited": edited_marks[pos - 1],
            "moderation": moderation,
            "badges": badges[pos - 1],
            "permalink": _absolute(rc.permalink, url),
            "comment_system": system,
            **provenance,
        })
        idents.append(ident)
    link_replies(rows, idents)
    link_quotes(rows)
    thread_fields(rows)
    apply_authors_mode(rows, ctx.authors_mode, ctx.author_key, source, idents)
    return rows


def page_marks(values: list, empty) -> list:
    """A mark systems show only where it applies (an edit note, a badge), over a page's comments: when the
    page shows it on some comment, the others show its absence (``empty``); when on none, nothing is known
    about any of them (None: the page may not show such marks at all)."""
    if any(values):
        return [v if v else empty for v in values]
    return [None] * len(values)


def _absolute(link: str | None, base: str | None) -> str | None:
    """A comment's link or anchor as an absolute URL when the page's own URL is known."""
    if not link:
        return None
    link = link.strip()
    if not base:
        return link or None
    try:
        return urljoin(base, link)
    except ValueError:  # an unsplittable href ('http://[::1') from a hostile page: as the page gives it
        return link or None


def apply_authors_mode(rows: list[dict], mode: str, key: bytes, source: str,
                       idents: list[str | None] | None = None) -> None:
    """Replace commenters' names per ``--authors`` (after replies and quotes were linked by name).

    pseudonymize: ``author`` -> 'user-<author_id>'; ``reply_to_name``, '@name' mentions and the
    names of this page's commenters written in the text or in ``posted_raw`` without '@' ('Reply
    to Jane Doe', 'Jane Doe wrote:') -> that commenter's label (the label their own comments carry:
    both are the keyed pseudonym of the name within the source); any other '@handle' -> the label of
    that handle.  drop: ``author``/``author_id`` null, and all of those -> '[author]' ('@[author]'
    for a mention).  ``parent_comment_id`` and ``quoted_comment_id`` are kept.

    A name in the text is a commenter's name when it is one of this page's commenters' names, whole
    (word-bounded: 'Ike' is not replaced in 'Mike' or 'Ikea') and compared as :func:`_name_key`
    compares names (case, spacing, width and invisible characters aside).  Any other word is left
    alone, also a part of a name ('Zelda' of 'Zelda Quill'): the text is the commenter's, and only a
    name that the page itself shows as a commenter's is known to be one.
    """
    if mode == "keep":
        return
    if mode not in ("pseudonymize", "drop"):
        raise ValueError(f"unknown authors mode {mode!r}")
    idents = idents if idents is not None else [identity_name(r["author"]) for r in rows]
    exact, matched = {}, {}  # identity name / name key -> that commenter's author_id
    for r, ident in zip(rows, idents):
        if r["author"]:
            exact.setdefault(" ".join(ident.casefold().split()), r["author_id"])
            matched.setdefault(_name_key(r["author"]), r["author_id"])
    names = sorted({r["author"] for r in rows if r["author"]}, key=len, reverse=True)  # 'Bob Roe' before 'Bob'
    shown = "|".join(r"\s+".join(re.escape(w) for w in n.split()) for n in names)
    mention = re.compile((rf"(?<![\w@.])@[ \t]?(?P<name>{shown})(?!\w)|" if shown else "") + _HANDLE.pattern,
                         re.IGNORECASE)
    written = _names_pattern(names)

    def label(name: str) -> str:
        if mode == "drop":
            return DROPPED_AUTHOR
        found = exact.get(" ".join(name.casefold().split())) or matched.get(_name_key(name))
        return ids.author_label(found or ids.author_pseudonym(key, source, name.strip()))

    def rewrite(text: str) -> str:
        """Mentions and names written out, replaced in one pass: a label put in is never read again."""
        spans = [(m.start(), m.end(), "@" + label(m.group("handle") if m.group("handle") is not None
                                                   else m.group("name"))) for m in mention.finditer(text)]
        spans += [(a, b, label(text[a:b])) for a, b in _name_spans(text, written)]
        out, pos = [], 0
        for a, b, repl in sorted(spans):
            if a < pos:
                continue  # inside a mention already replaced
            out += [text[pos:a], repl]
            pos = b
        return "".join(out) + text[pos:]

    for row in rows:
        text, head = row["text"], ""
        if row["reply_to_name"] is not None:
            if lead := _MENTION.match(text):
                head = f"@{label(row['reply_to_name'])}{':' if lead.group('name') is not None else ''}"
                text = text[lead.end():]
            row["reply_to_name"] = label(row["reply_to_name"])
        row["text"] = head + rewrite(text)
        if row["posted_raw"]:
            row["posted_raw"] = rewrite(row["posted_raw"])
        if mode == "drop":
            row["author"] = row["author_id"] = None
        else:
            row["author"] = ids.author_label(row["author_id"])


def _names_pattern(names: list[str]) -> re.Pattern | None:
    """The names (longest first) as matched in :func:`_name_spans`: their :func:`_name_key` characters,
    any run of spaces between words, whole words only."""
    alts = []
    for n in names:
        words = ["".join(map(_match_char, w)) for w in n.split()]
        words = [w for w in words if w]
        size = sum(c.isalnum() for w in words for c in w)
        if words and size >= _NAME_MIN_CHARS:
            alts.append((_SHORT_BEFORE if size <= _SHORT_NAME else "") + r"\s+".join(re.escape(w) for w in words))
    if not alts:
        return None
    return re.compile(rf"(?<!\w)(?:{'|'.join(alts)})(?!\w){_NAME_AFTER}")


# A name in running text is a whole word, and not part of a contraction: a name of one or two letters is not
# taken after a letter and an apostrophe (commenter 'll' in "I'll", 're' in "you're"; a longer name is: "qu'Alice"),
# and no name before an apostrophe and 't' (commenter 'Don' in "Don't"; "Tim's", "Tim'd" are Tim).  A
# one-character name (an initial, or what extraction made of a missing name) is never searched in the text:
# it names no one, and matches letters everywhere.
_SHORT_BEFORE = r"(?<!\w['\u2019])"
_NAME_AFTER = r"(?!['\u2019]t\b)"
_NAME_MIN_CHARS, _SHORT_NAME = 2, 2


def _name_spans(text: str, pattern: re.Pattern | None) -> list[tuple[int, int]]:
    """Where in ``text`` the names of ``pattern`` are written: matched on the text mapped character by
    character through :func:`_match_char` (so 'Ｚｅｌｄａ', 'ZELDA' and 'Zel<U+200B>da' are found), and
    the spans given back in the original text."""
    if pattern is None or not text:
        return []
    if text.isascii():  # most texts: one character for one, no map needed
        return [m.span() for m in pattern.finditer(text.lower())]
    folded, origin = [], []  # origin[i]: the index in text of folded character i
    for i, c in enumerate(text):
        f = _match_char(c)
        folded.append(f)
        origin += [i] * len(f)
    return [(origin[m.start()], origin[m.end() - 1] + 1) for m in pattern.finditer("".join(folded))]


def link_replies(rows: list[dict], idents: list[str | None] | None = None) -> None:
    """'@Name:' opening a comment -> that author's latest earlier comment.

    The commenter whose name is written exactly so (case and spacing aside) is preferred; else the
    names are compared as :func:`_name_key` compares them ('@ＪＡＮＥ' finds Jane).  So a reply to
    'Jane Doe' goes to Jane Doe and not to a commenter named 'Jane<U+200B> Doe' posing as her, unless
    she did not comment before it.
    """
    idents = idents if idents is not None else [identity_name(r["author"]) for r in rows]
    for i, row in enumerate(rows):
        m = _MENTION.match(row["text"])
        if not m:
            continue
        name = (m.group("name") or m.group("word")).strip()
        row["reply_to_name"] = name
        if row["parent_comment_id"] is not None:
            continue
        written, key = " ".join(name.casefold().split()), _name_key(name)
        earlier = [(r, ident) for r, ident in zip(reversed(rows[:i]), reversed(idents[:i])) if r["author"]]
        target = next((r for r, ident in earlier if " ".join(ident.casefold().split()) == written), None) \
            or next((r for r, _ in earlier if _name_key(r["author"]) == key), None)
        if target is not None:
            row["parent_comment_id"] = target["comment_id"]
        else:
            row["flags"].append("reply_unresolved")


def link_quotes(rows: list[dict]) -> None:
    """A paragraph that repeats an earlier comment's words (wrapping and punctuation aside) quotes it."""
    # every comment's words in one string (a needle never holds the newline between two of them), so that
    # the earliest earlier comment holding a paragraph is one search instead of one per comment
    joined = "\n".join(" " + " ".join(tokens(r["text"])) + " " for r in rows)
    starts = [0]
    for r in rows[:-1]:
        starts.append(joined.index("\n", starts[-1]) + 1)
    for i, row in enumerate(rows):
        if i == 0:
            continue
        for para in paragraphs(row["text"]):
            toks = tokens(_MENTION.sub("", para))
            if len(toks) < _QUOTE_MIN_TOKENS:
                continue
            pos = joined.find(" " + " ".join(toks) + " ", 0, starts[i])
            if pos >= 0:
                row["quoted_comment_id"] = rows[bisect_right(starts, pos) - 1]["comment_id"]
                break
