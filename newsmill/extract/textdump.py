"""Plain-text page dumps (``w3m -dump``, archive text extraction) to a RawPage.

A dump has lost its markup, so structure is read from layout.  A comment is
anchored on its *stamp* (see :mod:`stamps`): a line that is mostly a date.  The
comment section is chosen first, as the header ('12 Comments', 'Comments:')
followed by the most stamps before a line that closes it (a form field, 'Leave
a Reply', pagination); only then is the article date looked for above it, so a
first comment's date is never mistaken for the article's.  Sites put the stamp
before the text (most) or after it (TypePad, Blogger), so the orientation is
read per page from which edge of the section holds text.  Everything worded
(headers, artefacts, closers) comes from the site profile and the lexicon; this
module only knows layout.
"""
from __future__ import annotations

import bisect
import functools
import re
from collections import Counter
from dataclasses import dataclass

from newsmill import profiles as _profiles
from newsmill.extract.dates import date_coverage, find_date
from newsmill.extract.lexicon import Lexicon, lexicon_of, not_titles
from newsmill.extract.stamps import GLUED_DATE, IMAGE, Stamp, clean_name, parse_anchor, parse_stamp
from newsmill.records import RawComment, RawPage
from newsmill.text import has_invisible, name_as_written, normalize_line

EXTRACTOR = "textdump/2"

# list markers; w3m draws nested <ul> levels with these glyphs, in this order
_GLYPHS = "•□☆○■★◎●△▪◦‣⁃·*"
_BULLET = re.compile(r"^(?:[•□☆○■★◎●△▪◦‣⁃·*>]|-(?=\s)|\d{1,3}[.)](?=\s))\s*")
_YEAR = re.compile(r"(?:19|20)\d\d|\d[./-]\d\d?$|\d[./-]\d\d?\D")
_LONE_NUMBER = re.compile(r"^#?\d{1,4}[.)]?$")
_MAX_HEADER_GAP = 200  # lines between a header and the first stamp it can own
_RUN_GAP = 80  # lines between two stamps of one header-less run
_NAME_MAX_WORDS = 6


@dataclass(frozen=True)
class _Line:
    raw: str
    text: str  # stripped, without list bullet
    indent: int
    bullet: str  # the list marker, '' when none

    @property
    def blank(self) -> bool:
        return not self.text


@dataclass
class _Section:
    header: int | None  # line of the header, if any
    start: int  # first line that may belong to a comment
    end: int  # first line after the section
    closed: bool  # end is a closing line (form, pagination), not a guess
    stamps: list[Stamp]
    declared: int | None


def _lines(text: str) -> list[_Line]:
    raws = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    joined = _link_underscores(raws)
    out = []
    for raw in raws:
        norm = normalize_line(raw)
        body = norm.lstrip(" ")
        if "_" in body and (joined or _LINKED_TITLE.search(body)):
            body = _JOINED.sub(" ", body)
        if body.startswith(("**", "==")) or body.endswith(("**", "==")):
            body = _STAR_EDGES.sub("", body)  # '****** Title ******', also wrapped over two lines
        m = _BULLET.match(body) or (_DEEP_BULLET.match(body) if len(norm) - len(norm.lstrip(" ")) >= 4 else None)
        rest = body[m.end():].strip() if m else body.strip()
        out.append(_Line(norm, rest if m and rest else body.strip() if not m else "", len(norm) - len(norm.lstrip(" ")),
                         m.group(0).strip() if m and rest else ""))
    base = _base_indent(out)
    if base:  # lynx: headings at the margin, text indented; a heading is no step out of a comment
        out = [_Line(ln.raw, ln.text, base, ln.bullet) if ln.text and ln.indent < base else ln for ln in out]
    return out


# lynx and html2text mark deeper <ul> levels with "+", "o", "#" (w3m with the glyphs above);
# only read as markers on an indented line (an "@ jo:" reply opens with "@", so not that one)
_DEEP_BULLET = re.compile(r"^[+o#](?=\s)\s*")
# html2text's headings: '****** Title ******' (h1) ... '**** Title ****' (h3)
_STAR_EDGES = re.compile(r"^(?:\*{2,}|={2,})\s+|\s+(?:\*{2,}|={2,})$")
# a linked headline in html2text's underscored form ('Why_I’m_a_Conference_Whore') on a page with
# too few links to tell: several capitalised parts
_LINKED_TITLE = re.compile(r"(?:\b[A-Z][^\W_]*_){2,}[^\W_]")
# html2text underlines links by writing their spaces as '_' ('Real_Life_Architectures')
_JOINED = re.compile(r"(?<=[^\s_])_(?=[^\s_])")
_JOINED_WORDS = re.compile(r"[^\W\d_]{2,}_[^\W\d_]{2,}")


def _link_underscores(raws: list[str]) -> bool:
    """Whether the dumper wrote link text with '_' for spaces (html2text): words joined by '_'
    are then frequent; elsewhere they are rare (identifiers, file names)."""
    words = joined = 0
    for raw in raws:
        words += len(raw.split())
        if "_" in raw:
            joined += len(_JOINED_WORDS.findall(raw))
    return joined >= 5 and joined >= 0.03 * words


def _base_indent(lines: list[_Line]) -> int:
    """The indent of running text when the dumper indents it (lynx: 3) and sets headings at the
    margin; 0 when running text starts at the margin (w3m, html2text)."""
    counts = Counter(ln.indent for ln in lines if not ln.bullet and len(ln.text.split()) >= 8)
    if not counts:
        return 0
    indent, n = counts.most_common(1)[0]
    return indent if 0 < indent <= 6 and n >= 0.5 * sum(counts.values()) and not counts.get(0, 0) * 4 > n else 0


def _matches(patterns, text: str):
    for p in patterns:
        if m := p.match(text):
            return m
    return None


def parse_text_dump(text: str, profile: _profiles.Profile | None = None, *, url: str | None = None,
                    profiles_dir: str | None = None) -> RawPage:
    """Parse one page dump.  ``profile=None`` picks one from the page (publication, names)."""
    lines = _lines(text)
    if profile is None:
        profile = _detect_profile(lines, url, profiles_dir)
    lex = lexicon_of(profile)
    wrap = _wrap_width(lines)
    page = RawPage(extractor=EXTRACTOR, url=url, profile=profile.name)

    year = _page_year(lines, profile)
    stamps = _stamps(lines, lex, profile, year)
    # a closer is a line of its own ('Related Posts'), not a wrapped sentence going on in lower case
    closers = [i for i, ln in enumerate(lines) if _is_closer(ln, profile, lex)
               and not (ln.text[:1].islower() and i and lines[i - 1].text and len(lines[i - 1].raw) >= 50)]
    stamp_lines = {s.line for s in stamps}
    anchors = [a for i, ln in enumerate(lines) if i not in stamp_lines and (a := parse_anchor(ln.text, i, lex))]
    section = _choose_section(lines, stamps, closers, profile, lex, headed=True)
    names = _name_anchors(lines, profile, lex)
    # header-less, only names of list items with an avatar or bullet, short as people's names are
    # (lists of post titles over excerpts have the same layout)
    short_names = [n for n in names if n.shape[4] and len(n.author.split()) <= 3]
    for marks, headed in ((anchors, True), (stamps, False), (anchors, False), (names, True), (short_names, False)):
        if section is not None and section.stamps:
            break
        section = _choose_section(lines, marks, closers, profile, lex, headed=headed) or section
    if section is not None and 0 < len(section.stamps) <= 2 and names:
        # one or two stray dates (a dated link, a video's date) against a headed list of names
        # over their texts: the list is the comment section
        alt = _choose_section(lines, [n for n in names if n.shape[4]], closers, profile, lex, headed=True)
        if alt is not None and len(alt.stamps) >= 3 and alt.header is not None \
                and not any(alt.header < c < alt.stamps[0].line for c in closers) \
                and (alt.declared is None or len(alt.stamps) <= 2 * alt.declared + 2):
            section = alt
    if section is not None and section.stamps and _verbs_on_stamps(section, lines, lex):
        have = {s.line for s in section.stamps}  # the section may be made of these anchors already
        section.stamps = sorted(section.stamps + [a for a in anchors if section.start <= a.line < section.end
                                                  and a.line + 1 not in stamp_lines and a.line not in have],
                                key=lambda s: s.line)
    first_block = section.stamps[0].line if section and section.stamps else len(lines)
    date_idx = _find_date_line(lines, profile, section.header if section and section.header is not None else first_block)
    if section:
        section.stamps = [s for s in section.stamps if s.line != date_idx]
        page.comment_count_declared = section.declared
    comments = _build_comments(lines, section, set(closers), profile, lex, wrap) if section and section.stamps else []
    if sum(1 for _, c in comments if not c.text and not c.author) * 2 > len(comments):
        comments = []  # a list of dates (archives, related posts), not of anyone's words
    article_stop = section.header if section and section.header is not None else (
        comments[0][0] if comments else len(lines))
    _fill_article(page, lines, profile, date_idx, article_stop, wrap)
    if comments and has_invisible(text):
        _names_as_written(comments, text)
    page.comments = [c for _, c in comments]
    for ln in lines[article_stop:]:
        if m := _matches(profile.section_patterns, ln.text):
            page.section = m.group("section").strip()
    return page


def _names_as_written(comments: list[tuple[int, RawComment]], text: str) -> None:
    """Authors read from the normalised lines lost their invisible characters (a zero-width space that
    w3m and lynx copy into the dump): each is looked up in its block's lines as written, so that a
    name posing as another ('Ja<U+200B>ne Doe') keeps what tells it apart (``clean.identity_name``)."""
    raws = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    starts = [start for start, _ in comments] + [len(raws)]
    for k, (start, rc) in enumerate(comments):
        if rc.author:
            written = name_as_written(rc.author, raws[start: max(starts[k + 1], start + 1)])
            if written:
                rc.author = written


# --------------------------------------------------------------------------- the comment section


def _stamps(lines, lex: Lexicon, profile, year: int | None) -> list[Stamp]:
    """Every stamp line; a stamp wrapped over two lines in a narrow column ('May 1, 2012 at' / '3:04 pm') counts once."""
    out = []
    for i, ln in enumerate(lines):
        if not ln.text or lex.reply_reference.match(ln.text):
            continue
        st = parse_stamp(ln.text, i, lex, day_first=profile.day_first, default_year=year)
        if st is None and GLUED_DATE.search(ln.text):
            st = parse_stamp(GLUED_DATE.sub(" ", ln.text, count=1), i, lex, day_first=profile.day_first, default_year=year)
        if (st is None or not st.match.has_time) and lex.continued.search(ln.text) and i + 1 < len(lines) and lines[i + 1].text:
            st = parse_stamp(ln.text + " " + lines[i + 1].text, i, lex, day_first=profile.day_first, default_year=year) or st
            if st is not None and st.match.end > len(ln.text):
                out.append(st)
                lines[i + 1] = _Line("", "", 0, "")  # consumed
                continue
        if st is not None:
            out.append(st)
            _consume_stamp_tail(lines, i, st, lex, profile, year)
    return out


def _consume_stamp_tail(lines, i: int, st: Stamp, lex: Lexicon, profile, year: int | None) -> None:
    """A narrow dump wraps a long stamp line ('by Jo (123) writes: on DATE' / '(#4075) Homepage'):
    the wrapped tail holds only widget words, and left alone its 'Homepage' or 'Reply' reads as
    a form label closing the section, or as comment text.  A tail that, joined back, leaves the
    same stamp is part of it."""
    j = i + 1
    if j >= len(lines) or not (nxt := lines[j]).text or nxt.bullet or abs(nxt.indent - lines[i].indent) > 2 \
            or len(nxt.text) > 40:
        return
    sep = "" if lines[i].text.endswith(("(#", "#", "(")) else " "  # '(#' / '40752317) Journal': one token cut
    joined = parse_stamp(lines[i].text + sep + nxt.text, i, lex, day_first=profile.day_first, default_year=year)
    if joined is not None and joined.posted_raw == st.posted_raw and joined.author == st.author \
            and not re.search(r"\w", lex.stamp_noise.sub("", _STAMP_TAIL_IDS.sub("", nxt.text))):
        lines[j] = _Line("", "", 0, "")  # consumed


_STAMP_TAIL_IDS = re.compile(r"[(\[]?#?\d+[)\]]?|\(|\)")


def _is_closer(ln: _Line, profile, lex: Lexicon) -> bool:
    t = ln.text
    return bool(t) and (bool(_matches(profile.comment_end, t)) or bool(lex.section_closer.search(t)))


def _declared(m: re.Match, text: str, lex: Lexicon) -> int | None:
    c = m.groupdict().get("count")
    if c:
        return int(re.sub(r"[,.]", "", c))
    return 1 if lex.count_one.match(text) else None


class _StampIndex:
    """Stamps by line, with per-shape prefix counts: a header's run is an index range, and its
    size after ``_regular`` is known without building it.  Pages can hold a header line before
    every comment; rescanning the stamps for each of them was quadratic."""

    def __init__(self, stamps: list[Stamp]):
        self.stamps = stamps
        self.lines = [s.line for s in stamps]
        self.prefix: dict[tuple, list[int]] = {}
        self.rel = [0]
        for i, s in enumerate(stamps):
            key = s.shape[:2]
            if key not in self.prefix:
                self.prefix[key] = [0] * (i + 1)
            for k, counts in self.prefix.items():
                counts.append(counts[-1] + (k == key))
            self.rel.append(self.rel[-1] + (s.shape[0] == "rel"))

    def first_after(self, line: int) -> int:
        return bisect.bisect_right(self.lines, line)

    def before(self, line: int) -> int:
        return bisect.bisect_left(self.lines, line)

    def _top(self, k: int, e: int):
        """(shape kept by _regular, or None when the run is kept whole)."""
        n = e - k
        if n < 5:
            return None
        top, c = max(((key, pre[e] - pre[k]) for key, pre in self.prefix.items()), key=lambda kv: kv[1])
        return top if c >= 0.8 * n else None

    def _kept(self, i: int, top) -> bool:
        s = self.stamps[i]
        return top is None or s.shape[:2] == top or s.shape[0] == "rel"

    def regular_size_and_last(self, k: int, e: int) -> tuple[int, int | None]:
        top = self._top(k, e)
        if top is None:
            n = e - k
        else:
            c = self.prefix[top][e] - self.prefix[top][k]
            rel = self.rel[e] - self.rel[k]
            n = c + rel - (c if top[0] == "rel" else 0)
        last = next((i for i in range(e - 1, k - 1, -1) if self._kept(i, top)), None)
        return n, (self.stamps[last].line if last is not None else None)

    def regular(self, k: int, e: int) -> list[Stamp]:
        top = self._top(k, e)
        return [self.stamps[i] for i in range(k, e) if self._kept(i, top)]


def _choose_section(lines, stamps: list[Stamp], closers: list[int], profile, lex: Lexicon, *,
                    headed: bool) -> _Section | None:
    """The header followed by the most stamps; without one (``headed=False``), the longest regular run."""
    index = _StampIndex(stamps)
    found: list[tuple[_Section, int, int, int, int | None]] = []  # section, run range, size, last stamp line
    for i, ln in enumerate(lines):
        if not ln.text or len(ln.text) > 250 or not (m := _matches(profile.comment_headers, ln.text)):
            continue
        k, e, end, closed = _run_after(lines, i, index, closers, len(lines))
        if k == e or stamps[k].line - i > _MAX_HEADER_GAP or _declared(m, ln.text, lex) == 0:  # '0 Comments'
            found.append((_Section(i, i + 1, i + 1, False, [], _declared(m, ln.text, lex)), k, k, 0, None))
        else:
            size, last = index.regular_size_and_last(k, e)
            found.append((_Section(i, i + 1, end, closed, [], _declared(m, ln.text, lex)), k, e, size, last))
    groups: dict[int, list[tuple]] = {}
    for entry in found:
        if entry[3]:
            groups.setdefault(entry[4], []).append(entry)
    if groups:
        # headers over the same stamps: a count link above the article ('12 comments') also owns
        # the article's byline, so the real header is the last one before (nearly) all of them;
        # headers over different stamps (a sidebar's '247 comments'): the one over the most, first
        picks = []
        for entries in groups.values():
            most = max(en[3] for en in entries)
            picks.append((most, [en for en in entries if en[3] >= max(1, most - 1 - most // 10)][-1]))
        most = max(n for n, _ in picks)
        sec, k, e, _, _ = next(en for n, en in picks if n == most)
        sec.stamps = index.regular(k, e)
        return sec
    best = found[0][0] if found else None
    if headed:
        return best
    run = _longest_run(lines, stamps, closers)
    if run:
        end, closed = _end_after(run[-1].line, closers, len(lines))
        return _Section(None, _run_start(lines, run), end, closed, run, best.declared if best else None)
    return best


def _name_anchors(lines, profile, lex: Lexicon) -> list[Stamp]:
    """List items or avatar lines holding only a name, over an indented paragraph ('• Jo' /
    '    Nice post, thanks for ...'): the comment layout of sites that print no date at all."""
    out = []
    for i, ln in enumerate(lines):
        if not ln.text or len(ln.text) > 60:
            continue
        marked = bool(ln.bullet or IMAGE.match(ln.text))
        j = i + 1
        while j < len(lines) and j <= i + 2 and lines[j].blank:
            j += 1
        # without a bullet or an avatar (lynx drops images without alt text) the text must sit
        # clearly deeper, right under the name
        step = 1 if marked else 3
        if j >= len(lines) or lines[j].bullet or lines[j].indent < ln.indent + step or len(lines[j].text.split()) < 6 \
                or not marked and (j > i + 1 or lines[i - 1].text if i else False):
            continue
        name = _author_line(ln, profile, lex)
        if not marked and profile.byline.match(ln.text):
            continue  # 'BY JO SMITH' over the article's first paragraph
        if name and re.search(r"[^\W\d_]", name) and not lex.author_verb.search(ln.text):
            out.append(Stamp(i, None, None, name, False, ("name", False, True, False, "marked" if marked else "")))
    return out


def _verbs_on_stamps(sec: _Section, lines, lex: Lexicon) -> bool:
    """Stamps that say 'Jo writes: on DATE': the same site prints 'Jo writes:' alone when it hides the date."""
    n = sum(1 for s in sec.stamps if lex.author_verb_inline.search(lines[s.line].text))
    return n >= 0.5 * len(sec.stamps)


def _end_after(line: int, closers: list[int], n: int) -> tuple[int, bool]:
    """First closing line after ``line`` (closers are in line order)."""
    i = bisect.bisect_right(closers, line)
    return (closers[i], True) if i < len(closers) else (n, False)


def _run_after(lines, header: int, index: _StampIndex, closers: list[int], n: int):
    """Stamps after a header up to the first closing line past the first of them, as an index range
    (k, e) into the stamps, with the section's end line and whether a closer ends it."""
    k = index.first_after(header)
    if k == len(index.stamps):
        return k, k, n, False
    first = index.stamps[k].line
    end, closed = _end_after(first, closers, n)
    c = bisect.bisect_right(closers, header)
    if c < len(closers) and closers[c] < first:
        prose = sum(1 for ln in lines[header + 1 : closers[c]] if len(ln.text.split()) >= 6)
        if prose >= 3:  # the comments under this header ended before any stamp: these stamps are elsewhere
            return k, k, n, False
    return k, index.before(end), end, closed


def _regular(run: list[Stamp]) -> list[Stamp]:
    """Drop the odd stamp out (a dated link quoted in a comment) when nearly all share one date form."""
    if len(run) < 5:
        return run
    shapes = Counter(s.shape[:2] for s in run)
    top, n = shapes.most_common(1)[0]
    if n < 0.8 * len(run):
        return run
    return [s for s in run if s.shape[:2] == top or s.shape[0] == "rel"]


def _longest_run(lines, stamps: list[Stamp], closers: list[int]) -> list[Stamp]:
    """Consecutive stamps of one shape, close together, with nothing closing between them."""
    closer_set = set(closers)
    runs: list[list[Stamp]] = []
    for s in stamps:
        if runs and (prev := runs[-1][-1]).shape[:2] == s.shape[:2] and s.line - prev.line <= _RUN_GAP \
                and not any(c in closer_set for c in range(prev.line + 1, s.line)):
            runs[-1].append(s)
        else:
            runs.append([s])
    good = []
    for run in runs:
        if len(run) >= 3:
            gaps = [b.line - a.line for a, b in zip(run[1:], run[2:])]
            med = sorted(gaps)[len(gaps) // 2]
            if run[1].line - run[0].line > max(30, 3 * med):  # the article's own dateline
                run = run[1:]
        words = sum(len(ln.text.split()) for a, b in zip(run, run[1:]) for ln in lines[a.line + 1 : b.line])
        if run[0].shape[0] == "name" and not _names_over_sentences(lines, run):
            continue
        if len(run) >= (3 if run[0].shape[0] == "name" else 2) and words >= 4 * (len(run) - 1):
            good.append(run)
    return max(good, key=len, default=[])


def _names_over_sentences(lines, run: list[Stamp]) -> bool:
    """Header-less names are comments only when most of them head sentences, all different
    people or not (menus under a repeated heading and tag lists have names too, not prose)."""
    ends = [b.line for b in run[1:]] + [min(len(lines), run[-1].line + 12)]
    level = lines[run[0].line].indent
    if any(ln.bullet and ln.indent == level for a, b in zip(run, run[1:]) for ln in lines[a.line + 1 : b.line]):
        return False  # other items of the same list between them: a sidebar of widgets, not a thread
    with_prose = sum(1 for a, e in zip(run, ends)
                     if any(_SENTENCE.search(ln.text) for ln in lines[a.line + 1 : e] if not ln.bullet))
    return with_prose * 3 >= len(run) * 2


_SENTENCE = re.compile(r"[^\W\d_]{2,}[.!?…][\"'”’)]*(?:\s|$)")


def _run_start(lines, run: list[Stamp]) -> int:
    """Where a header-less run begins: just above its first stamp and the name over it."""
    first = run[0].line
    return max(0, first - 1 if first and lines[first - 1].text else first)


# --------------------------------------------------------------------------- comments


def _noise(ln: _Line, profile, lex: Lexicon) -> bool:
    """A line that is widget text, an image placeholder or a list number, not anyone's words."""
    t = ln.text
    if not t:
        return True
    if len(t) > 120:  # widget rows are short
        return False
    if profile.artifact_line.match(t) or _LONE_NUMBER.match(t):
        return True
    rest = lex.stamp_noise.sub("", IMAGE.sub("", t))
    return not re.search(r"\w", rest)


def _author_line(ln: _Line, profile, lex: Lexicon) -> str | None:
    if ln.blank or profile.artifact_line.match(ln.text) or _matches(profile.comment_headers, ln.text):
        return None
    if _is_closer(ln, profile, lex):
        return None
    return clean_name(ln.text, lex)


def _content(lines, a: int, b: int, profile, lex) -> list[int]:
    return [i for i in range(a, b) if not _noise(lines[i], profile, lex)]


def _is_author_ish(ln: _Line, profile, lex) -> bool:
    return bool(lex.author_verb.search(ln.text) or lex.author_prefix.match(ln.text)) and \
        _author_line(ln, profile, lex) is not None


def _orientation(lines, sec: _Section, profile, lex) -> str:
    """'head' when stamps open their comments, 'foot' when they close them.

    Read from the edges: text between the header and the first stamp that is
    not a name means the stamps come after the text; text after the last stamp
    before a closing line means they come before it.
    """
    first, last = sec.stamps[0].line, sec.stamps[-1].line
    pre = []
    if sec.header is not None:
        pre = [i for i in _content(lines, sec.start, first, profile, lex) if not _is_closer(lines[i], profile, lex)]
        if pre and pre[-1] == first - 1 and _author_line(lines[first - 1], profile, lex) and not sec.stamps[0].author:
            pre = pre[:-1]  # the first commenter's name
        pre = [i for i in pre if not _is_author_ish(lines[i], profile, lex)]
    post = _content(lines, last + 1, sec.end, profile, lex) if sec.closed else None
    pre_text = any(_author_line(lines[i], profile, lex) is None for i in pre) or len(pre) >= 2
    if pre_text and post is not None and not post:
        return "foot"
    if pre_text and post is None and sec.header is not None:
        return "foot"
    return "head"


def _build_comments(lines, sec: _Section, closers: set[int], profile, lex: Lexicon, wrap) -> list[tuple[int, RawComment]]:
    orient = _orientation(lines, sec, profile, lex)
    stamps = sec.stamps
    blocks: list[tuple[int, int, int, str | None, Stamp]] = []  # (start, text from, text to, author, stamp)
    if orient == "head":
        starts, authors = [], []
        for k, st in enumerate(stamps):
            floor = stamps[k - 1].line + 1 if k else sec.start
            start, author = st.line, st.author
            if author is None:
                j = _name_above(lines, st.line, floor, profile, lex)
                # a dated item of a list under the name ('1. Jo' / '  □ May 1, 2012' / '  □ 10:11 am')
                if j is not None and (not lines[st.line].bullet or lines[j].indent < lines[st.line].indent):
                    start, author = j, _author_line(lines[j], profile, lex)
            elif author is not None:
                j = _same_name_above(lines, st.line, floor, author, profile, lex)
                start = j if j is not None else start
            starts.append(start)
            authors.append(author)
        body_lens = [starts[k + 1] - stamps[k].line for k in range(len(stamps) - 1)]
        cap = max(25, 2 * max(body_lens, default=0))
        for k, st in enumerate(stamps):
            to = starts[k + 1] if k + 1 < len(stamps) else min(sec.end, st.line + 1 + cap)
            to = _cut_at_outdent(lines, starts[k], st.line + 1, to, closers, lex)
            blocks.append((starts[k], st.line + 1, to, authors[k], st))
    else:
        prev = sec.start
        for st in stamps:
            author, frm = st.author, prev
            content = _content(lines, prev, st.line, profile, lex)
            if content:
                head = lines[content[0]]
                name = _author_line(head, profile, lex)
                if name and (author is None and (_is_author_ish(head, profile, lex) or head.bullet or IMAGE.match(head.text))
                             or author is not None and name.casefold() == author.casefold()):
                    author, frm = name, content[0] + 1
            blocks.append((prev, frm, st.line, author, st))
            prev = st.line + 1
    out = []
    for start, frm, to, author, st in blocks:
        keep = [ln for ln in lines[frm:to] if not _noise(ln, profile, lex) or ln.blank]
        flags = ["ui_artifact_removed"] if sum(1 for ln in keep if ln.text) < sum(1 for ln in lines[frm:to] if ln.text) else []
        out.append((start, RawComment(author=author, posted_raw=st.posted_raw, text=_join(keep, wrap), flags=flags)))
    _thread(lines, [b[0] for b in blocks], [b[4] for b in blocks], [c for _, c in out])
    return out


def _name_above(lines, stamp_line: int, floor: int, profile, lex) -> int | None:
    """The line holding the commenter's name over a stamp: right above, or above one blank line
    when it says so ('Jo says:'), skipping avatar placeholders."""
    j = stamp_line - 1
    blanks = 0
    while j >= floor:
        ln = lines[j]
        if ln.blank:
            blanks += 1
            if blanks > 1:
                return None
        elif IMAGE.fullmatch(ln.text) or _LONE_NUMBER.match(ln.text):
            pass
        else:
            if _author_line(ln, profile, lex) is None:
                return None
            if blanks and not (_is_author_ish(ln, profile, lex) or ln.bullet or IMAGE.match(ln.text)):
                return None
            return j
        j -= 1
    return None


def _same_name_above(lines, stamp_line: int, floor: int, author: str, profile, lex) -> int | None:
    """A line repeating the stamp's name just above it ("Jo's picture") opens the comment too."""
    for j in range(stamp_line - 1, max(floor, stamp_line - 3) - 1, -1):
        if lines[j].text:
            name = _author_line(lines[j], profile, lex)
            return j if name and name.casefold() == author.casefold() else None
    return None


def _cut_at_outdent(lines, start: int, frm: int, to: int, closers: set[int], lex) -> int:
    """A comment's text ends where the layout steps left of where the comment began, or at a closer."""
    indent = min(lines[start].indent, lines[frm - 1].indent)
    first = next((lines[i] for i in range(frm, to) if lines[i].text and not IMAGE.fullmatch(lines[i].text)), None)
    if first is not None and first.indent < indent and not first.bullet:
        indent = first.indent  # the text sits left of its stamp (lynx: the stamp in a list item, the text not)
    for i in range(frm, to):
        ln = lines[i]
        if ln.text and (indent > 0 and ln.indent < indent or i in closers or lex.sidebar_header.search(ln.text)):
            return i
    return to


def _thread(lines, starts: list[int], stamps: list[Stamp], comments: list[RawComment]) -> None:
    """Depth from the list level of each comment's first line; parent = nearest shallower comment before it."""
    keys = []
    for start, st in zip(starts, stamps):
        ln = next((lines[i] for i in (start, st.line) if lines[i].bullet), None)
        if ln is None:
            keys.append(None)
            continue
        g = ln.bullet[0]
        keys.append(_GLYPHS.index(g) * 100 if g in _GLYPHS[:9] else (ln.indent + 1) // 4 * 100)
    levels = sorted({k for k in keys if k is not None})
    if len(levels) < 2 or sum(k is None for k in keys) > len(keys) // 2:
        return
    last_at: dict[int, int] = {}
    for idx, (k, c) in enumerate(zip(keys, comments)):
        depth = levels.index(k) if k is not None else 0
        c.depth = depth
        c.parent_index = last_at.get(depth - 1) if depth else None
        last_at[depth] = idx
        for d in [d for d in last_at if d > depth]:
            del last_at[d]


# --------------------------------------------------------------------------- text


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


# --------------------------------------------------------------------------- the article


def _detect_profile(lines: list[_Line], url: str | None, profiles_dir: str | None) -> _profiles.Profile:
    base = _profiles.default_profile()
    publication = None
    for ln in lines:
        if ln.text and (m := _matches(base.article_end, ln.text)) and m.groupdict().get("publication"):
            publication = m.group("publication")
            break
    edges = "\n".join(l.text for l in lines[:40] + lines[-40:])
    return _profiles.match(url=url, publication=publication, text=edges, extra_dir=profiles_dir)


def _page_year(lines: list[_Line], profile) -> int | None:
    """The year yearless comment stamps are read in: the article's, else the commonest on the page."""
    years: Counter[int] = Counter()
    for ln in lines:
        t = ln.text
        if t and len(t) <= 160 and _YEAR.search(t) and (m := find_date(t, day_first=profile.day_first, lex=lexicon_of(profile))):
            if profile.date_line.match(t) and not years:
                return m.year
            years[m.year] += 1
    if years:
        return years.most_common(1)[0][0]
    bare = Counter(int(y) for ln in lines for y in re.findall(r"(?<!\d)((?:19|20)\d\d)(?!\d)", ln.text))
    return bare.most_common(1)[0][0] if bare else None


def _find_date_line(lines: list[_Line], profile, stop: int) -> int | None:
    """The publication date line above the comments: a prefixed date line, else the first pure date line."""
    limit = min(stop, max(60, len(lines) // 3)) if stop >= len(lines) else stop
    fallback = None
    for i in range(limit):
        t = lines[i].text
        if not t or len(t) > 120:
            continue
        m = find_date(t, day_first=profile.day_first, lex=lexicon_of(profile))
        if m is None:
            continue
        prefix = profile.date_line.match(t) or _ci(profile.byline.pattern).match(t)
        if prefix and (m.start <= prefix.end() + 3 or len(t[prefix.end():m.start].split()) <= _NAME_MAX_WORDS + 1):
            return i  # 'Posted on DATE', 'by Jo on DATE', 'Posted by Jo Smith on DATE'
        if fallback is None and date_coverage(t, m) >= 0.7:
            fallback = i
    return fallback


_TITLE_WINDOW = 12  # non-blank lines above the body start where the headline is looked for
_CRUMBS = re.compile(r"\s(?:[|»›>/·•]|::)\s")


def _first_prose(lines, start: int, stop: int) -> int | None:
    """First line of the first block of running text (not a list) between ``start`` and ``stop``:
    where the article body starts, whatever navigation the dump printed above it."""
    i = start
    while i < stop:
        ln = lines[i]
        if ln.text and not ln.bullet and len(ln.text.split()) >= 8 and not ln.text.startswith("["):
            j, words, sentence = i, 0, False
            while j < stop and lines[j].text and not lines[j].bullet:
                words += len(lines[j].text.split())
                sentence = sentence or bool(re.search(r"\w[.!?][\"'”’)]*(?:\s|$)", lines[j].text))
                j += 1
            if words >= 25 and sentence:
                return i
            i = j
        i += 1
    return None


def _title_score(lines, i: int, distance: int, profile, lex: Lexicon, date_idx: int | None) -> float | None:
    """How much line ``i`` looks like the page's headline (None: it cannot be one).

    Headlines are short standalone lines near the body start; what is not a headline is
    visible in the line itself: a list item (navigation), an image placeholder, a date, a
    label ('Tags: ...'), a byline, a breadcrumb ('Home » News'), previous/next links, the
    tail of a wrapped paragraph.
    """
    ln = lines[i]
    t = ln.text
    words = t.split()
    rest = IMAGE.sub("", t).strip()
    if ln.bullet or len(re.findall(r"[^\W\d_]", rest)) < 2 or len(words) > 30 or rest != t and len(rest.split()) < 3:
        return None
    if t.endswith(":") or t.startswith(("[", "«", "‹")) or t.endswith(("»", "›")) or " | Main" in t \
            or _matches(profile.comment_headers, t) or lex.not_title.search(t) or _is_closer(ln, profile, lex) \
            or " ".join(t.casefold().split()) in not_titles(profile.extra_dir):
        return None
    date = find_date(t, day_first=profile.day_first, lex=lexicon_of(profile))
    if date is not None and date_coverage(t, date) >= 0.5:
        return None
    prev = lines[i - 1] if i else None
    if prev is not None and prev.text and not prev.bullet and len(prev.raw) >= 60 and not t[:1].isupper():
        return None  # the last line of a wrapped paragraph
    long_words = [w for w in words if len(w) >= 4 and w[:1].isalpha()]
    if len(words) >= 6 and re.search(r"[.!?…][\"'”’)]*$", t) and sum(w[:1].isupper() for w in long_words) * 2 < len(long_words):
        return None  # a sentence in sentence case: the body's first line, a caption, a notice
    score = 10.0 - 0.5 * distance
    score += 3 if 3 <= len(words) <= 20 else 1 if len(words) == 2 else -6 if len(words) == 1 else 0
    if re.search(r"[.,;]$", t) and not re.search(r"(?:\.\.\.|…|\b\w\.)$", t):
        score -= 4  # a sentence, or a label that runs on
    if date is not None:
        score -= 4
    if len(_CRUMBS.findall(t)) >= 2:
        score -= 4  # breadcrumbs, a menu on one line
    if i + 1 < len(lines) and lines[i + 1].text and not lines[i + 1].bullet and len(ln.raw) >= 60:
        score -= 3  # the first line of a paragraph
    if ln.raw.lstrip().startswith(("**", "==")) or ln.raw.startswith(" " * 12) and len(ln.raw) < 100:
        score += 3  # html2text's starred heading, lynx's centred <h1>
    nxt = next((j for j in range(i + 1, min(i + 4, len(lines))) if lines[j].text), None)
    if nxt is not None and (nxt == date_idx or _byline_ish(lines[nxt].text, profile)):
        score += 4  # right over the byline or the dateline
    caps = sum(1 for w in words if w[:1].isupper())
    score += 1 if caps >= 0.6 * len(words) else 0
    return score


def _byline_ish(t: str, profile) -> bool:
    return bool(_ci(profile.byline.pattern).match(t) or profile.date_line.match(t))


@functools.cache
def _ci(pattern: str) -> re.Pattern:
    """A profile pattern matched without regard to case ('by Jo' as well as 'By Jo')."""
    return re.compile(pattern, re.I)


def _is_prose(ln: _Line) -> bool:
    """A line of running text: several words, a sentence end, not a list item."""
    return len(ln.text.split()) >= 8 and not ln.bullet and bool(_SENTENCE.search(ln.text))


def _choose_title(lines, profile, lex: Lexicon, date_idx: int | None, stop: int) -> int | None:
    """The headline: the best headline-like line in a window above where the body starts (the
    dateline, else the first block of running text), plus the two lines below a dateline (some
    pages print the date over the headline).  The first line of a dump is the site's header, a
    skip link or an image placeholder as often as it is the headline."""
    prose = _first_prose(lines, 0, min(stop, len(lines)))
    anchor = date_idx if date_idx is not None and (prose is None or date_idx <= prose + 3) else prose
    if anchor is None:
        anchor = min(stop, len(lines))
    cands: list[tuple[float, int]] = []
    seen = 0
    for i in range(anchor - 1, -1, -1):
        if not lines[i].text:
            continue
        seen += 1
        if seen > _TITLE_WINDOW:
            break
        if (sc := _title_score(lines, i, seen - 1, profile, lex, date_idx)) is not None:
            cands.append((sc, i))
    if date_idx is not None and anchor == date_idx:
        below = [j for j in range(date_idx + 1, min(stop, date_idx + 6)) if lines[j].text][:2]
        for k, j in enumerate(below):
            if (sc := _title_score(lines, j, k + 2, profile, lex, date_idx)) is not None:
                cands.append((sc, j))
    if cands:
        return max(cands)[1]  # on a tie, the line nearer the body
    # no headline-like line near the body: the first line that could be one, else none (a title
    # made of '[p]' or 'Home' merges unrelated pages downstream; no title is honest)
    return next((i for i in range(min(stop, len(lines), 400))
                 if lines[i].text and _title_score(lines, i, 0, profile, lex, date_idx) is not None), None)


def _title_text(lines, i: int) -> str:
    """The headline at line ``i``, with the line it was wrapped from or onto (a long <h1> wraps
    at the dump's width like any paragraph)."""
    def wrapped(a: _Line, b: _Line) -> bool:  # b continues a
        a_open = a.raw.lstrip().startswith(("**", "==")) and not a.raw.endswith(("**", "=="))
        b_close = b.raw.endswith(("**", "==")) and not b.raw.lstrip().startswith(("**", "=="))
        starred = a.raw.lstrip().startswith(("**", "==")) or a.raw.endswith(("**", "==")) \
            or b.raw.lstrip().startswith(("**", "==")) or b.raw.endswith(("**", "=="))
        return bool(a.text and b.text and not a.bullet and not b.bullet and len(a.raw) >= 45
                    and (a_open and b_close or not starred)
                    and not re.search(r"[.!?:]$", a.text) and abs(a.indent - b.indent) <= 2)

    lo, hi = i, i
    while lo > 0 and i - lo < 2 and wrapped(lines[lo - 1], lines[lo]):
        lo -= 1
    while hi + 1 < len(lines) and hi - i < 2 and wrapped(lines[hi], lines[hi + 1]):
        hi += 1
    text = " ".join(ln.text for ln in lines[lo : hi + 1])
    return text if len(text.split()) <= 30 else lines[i].text


def _fill_article(page: RawPage, lines, profile, date_idx: int | None, stop: int, wrap) -> None:
    if date_idx is not None:
        raw_line = lines[date_idx].text
        m = find_date(raw_line, day_first=profile.day_first, lex=lexicon_of(profile))
        page.published_raw = raw_line[m.start : m.end]
    title_idx = _choose_title(lines, profile, lexicon_of(profile), date_idx, stop)
    page.title = _title_text(lines, title_idx) if title_idx is not None else None

    body_start = (date_idx if date_idx is not None else (title_idx if title_idx is not None else -1)) + 1
    end = stop
    if date_idx is not None and title_idx is not None and title_idx < date_idx \
            and not any(_is_prose(ln) for ln in lines[date_idx + 1 : stop]) \
            and any(_is_prose(ln) for ln in lines[title_idx + 1 : date_idx]):
        body_start, end = title_idx + 1, date_idx  # 'Posted by Jo on DATE' under the post (TypePad)
    prose = False
    for i in range(body_start, end):
        if lines[i].text and (m := _matches(profile.article_end, lines[i].text)):
            if not prose and not m.groupdict().get("publication"):
                continue  # a share bar under the byline ('Tweet'), not the end of a body not yet begun
            end = i
            g = m.groupdict()
            if g.get("publication"):
                page.publication = g["publication"].strip()
            if g.get("date") and page.published_raw is None:
                d = find_date(g["date"], day_first=profile.day_first, lex=lexicon_of(profile))
                page.published_raw = g["date"][d.start : d.end] if d else None
            break
        prose = prose or _is_prose(lines[i])
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
