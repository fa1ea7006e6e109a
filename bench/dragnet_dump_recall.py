"""Comment-extraction recall of ``parse_text_dump`` on text dumps of the Dragnet pages.

The Dragnet gold files hold the hand-copied comment section of each page, so a
bag-of-tokens comparison tells how much of the readers' text the text-dump parser
recovers without needing comment boundaries to line up with the gold.  Authors and
timestamps count too because the gold often carries them.

Users dump pages with whatever text browser they have, at its default width, so
the pages are dumped by several dumpers (``--dumper``): ``w3m`` (default width,
80 columns), ``w3m100`` (``-cols 100``), ``lynx`` (``-dump -nolist``) and
``html2text`` (Debian's).  Each lays out lists, images, links and wrapping its own
way; a parser that reads only one of them is not generic.  The title the parser
gives is checked too: the issue saw dumps titled "Home", "[p]" or a site's name,
which then merged unrelated pages.  The HTML's ``og:title``/``<title>`` is the
reference (see :func:`title_verdict`).

The data is AGPLv3 and lives outside the repo (``../shared/data`` or
``$NEWSMILL_SHARED``); dumps and per-page figures go to the cache dir
(``$NEWSMILL_CACHE``, default ``~/.cache/newsmill``), never into the repo.

Usage: python bench/dragnet_dump_recall.py [--dumper w3m|w3m100|lynx|html2text|all]
                                          [--limit N [--spread]] [--json out.json] [--worst K]
"""
from __future__ import annotations

import argparse
import codecs
import csv
import gzip
import html as _html
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:  # the bench runs from a checkout, not an install
    sys.path.insert(0, str(REPO_ROOT))

W3M = "w3m"
W3M_COLS = 100
W3M_TIMEOUT_S = 20
DUMP_TIMEOUT_S = 60  # lynx and html2text are slower than w3m on the largest pages
WORKERS = 2
# name -> program it needs; the command lines are in dump_command
DUMPERS = {"w3m": "w3m", "w3m100": "w3m", "lynx": "lynx", "html2text": "html2text"}
DEFAULT_DUMPER = "w3m"

# Dragnet's separator is typed by hand and often mistyped (see the data README);
# this fragment is common to every variant seen.
GOLD_MARKER = "%^&*"
_TOKEN_RE = re.compile(r"\w+")
# Timestamps in gold comment sections: a rough per-comment anchor (see rough_comment_count).
_MONTHS = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?"
_GOLD_DATE_RE = re.compile(
    r"\b\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}\b"
    rf"|\b{_MONTHS}\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}}\b"
    rf"|\b\d{{1,2}}(?:st|nd|rd|th)?\s+{_MONTHS},?\s+\d{{4}}\b"
    r"|\b\d{4}-\d{2}-\d{2}\b"
    r"|\b\d+\s+(?:second|minute|hour|day|week|month|year)s?\s+ago\b"
    r"|\b\d{1,2}:\d{2}\s*(?:[ap]\.?m\.?)?",
    re.IGNORECASE,
)


# --------------------------------------------------------------------------- paths


def shared_data_dir() -> Path:
    """The shared data root; env override so CI and other checkouts can point elsewhere."""
    env = os.environ.get("NEWSMILL_SHARED")
    return Path(env).expanduser() if env else REPO_ROOT.parent / "shared" / "data"


def dragnet_dir() -> Path:
    return shared_data_dir() / "dragnet"


def cache_dir() -> Path:
    env = os.environ.get("NEWSMILL_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "newsmill"


def dumps_dir(dumper: str = DEFAULT_DUMPER) -> Path:
    """One folder per dumper: their dumps of a page differ."""
    return cache_dir() / "dragnet-dumps" / dumper


def dumper_available(dumper: str) -> bool:
    return shutil.which(DUMPERS[dumper]) is not None


# --------------------------------------------------------------------------- gold


def decode_gold(data: bytes) -> str:
    """Gold files are mostly UTF-8, but some bare-number IDs are cp1252 with CRLF.

    cp1252 leaves five bytes undefined, hence ``errors="replace"`` on the fallback.
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("cp1252", errors="replace")
    return text.replace("\r\n", "\n").replace("\r", "\n")


def split_gold(text: str) -> tuple[str, str | None]:
    """Split gold text into (article, comments); comments is None without a marker.

    The marker line itself belongs to neither part.
    """
    lines = text.split("\n")
    for i, line in enumerate(lines):
        if GOLD_MARKER in line:
            return "\n".join(lines[:i]), "\n".join(lines[i + 1 :])
    return text, None


def token_bag(text: str | None) -> Counter[str]:
    """Lowercase ``\\w+`` multiset: insensitive to layout, wrapping and punctuation."""
    return Counter(_TOKEN_RE.findall(text.lower())) if text else Counter()


def rough_comment_count(gold_comments: str) -> int:
    """A rough number of comments in a gold section.

    The gold has no comment boundaries.  Most sections keep one timestamp per
    comment, so lines holding a date or time are counted; sections without any fall
    back to blank-line separated blocks (or lines when there are no blank lines),
    which over-counts multi-paragraph comments.
    """
    lines = [ln for ln in gold_comments.split("\n") if ln.strip()]
    dated = sum(1 for ln in lines if _GOLD_DATE_RE.search(ln))
    if dated:
        return dated
    blocks = [b for b in re.split(r"\n\s*\n", gold_comments) if b.strip()]
    return len(blocks) if len(blocks) > 1 else len(lines)


@dataclass(frozen=True)
class GoldPage:
    page_id: str
    comments: str


def page_sort_key(page_id: str) -> tuple[str, int, str]:
    """Natural order (R2 before R10) so a ``--limit`` subset is stable and readable."""
    m = re.fullmatch(r"([A-Za-z]*)(\d+)(.*)", page_id)
    return (m.group(1), int(m.group(2)), m.group(3)) if m else (page_id, 0, "")


def load_gold_pages(root: Path) -> list[GoldPage]:
    """Pages whose gold has a non-empty comment section, in natural id order."""
    pages = []
    for path in (root / "Corrected").glob("*.html.corrected.txt"):
        _, comments = split_gold(decode_gold(path.read_bytes()))
        if comments is not None and comments.strip():
            pages.append(GoldPage(path.name.split(".", 1)[0], comments))
    return sorted(pages, key=lambda p: page_sort_key(p.page_id))


# --------------------------------------------------------------------------- dumps


def choose_input_charset(html: bytes) -> str:
    """The ``-I`` charset for w3m, which otherwise mangles cp1252-style bytes.

    Pages that are UTF-8 apart from a few stray bytes stay UTF-8: guessers misread
    those (charset-normalizer calls one such page cp775).  A declared charset that
    decodes the bytes beats a guess, which is unreliable on short texts.
    ISO-8859-1 is widened to cp1252 as browsers do, since "latin-1" pages routinely
    carry cp1252 quotes.
    """
    try:
        html.decode("utf-8")
        return "UTF-8"
    except UnicodeDecodeError:
        pass
    if html.decode("utf-8", errors="replace").count("\ufffd") * 1000 <= len(html):
        return "UTF-8"
    declared = _CHARSET_DECL.search(html[:4096])
    if declared:
        name = _w3m_charset(declared.group(1).decode("ascii"))
        try:
            html.decode(name)
            return name
        except (LookupError, UnicodeDecodeError):
            pass
    from charset_normalizer import from_bytes

    best = from_bytes(html).best()
    return _w3m_charset(best.encoding if best else "cp1252")


_CHARSET_DECL = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([A-Za-z0-9_.:-]+)""", re.IGNORECASE)


def _w3m_charset(name: str) -> str:
    """A Python codec name spelt the way w3m's ``-I`` accepts it."""
    try:
        name = codecs.lookup(name).name
    except LookupError:
        return name
    if name in {"latin-1", "iso8859-1", "ascii"}:
        return "cp1252"
    return re.sub(r"^iso8859-", "iso-8859-", name.replace("_", "-"))


@dataclass(frozen=True)
class DumpResult:
    page_id: str
    ok: bool
    note: str = ""


def _lynx_charset(python_name: str) -> str:
    """A codec name the way lynx's ``-assume_charset`` spells it."""
    name = python_name.lower().replace("_", "-")
    return {"utf-8": "utf-8", "cp1252": "windows-1252", "cp1251": "windows-1251",
            "cp1250": "windows-1250"}.get(name, name)


def dump_command(dumper: str, src: Path, charset: str) -> tuple[list[str], bytes | None]:
    """The command line that dumps ``src`` (whose bytes are in ``charset``), and, when the dumper
    cannot be told the charset, the bytes to feed it instead (re-encoded to UTF-8).

    Every command is what a user would type, plus only what makes the page's characters come
    out right: w3m ``-I``, lynx ``-assume_charset`` (lynx still prefers a ``<meta>`` charset),
    and for html2text a UTF-8 copy read with ``-nometa -utf8`` (Debian's html2text otherwise
    recodes by the ``<meta>`` tag, which is wrong on pages that declare Latin-1 and are UTF-8).
    """
    if dumper in ("w3m", "w3m100"):
        cols = ["-cols", str(W3M_COLS)] if dumper == "w3m100" else []
        return [W3M, "-dump", "-T", "text/html", "-O", "UTF-8", "-I", charset, *cols, str(src)], None
    if dumper == "lynx":
        return ["lynx", "-dump", "-nolist", "-force_html", f"-assume_charset={_lynx_charset(charset)}",
                "-display_charset=utf-8", str(src)], None
    if dumper == "html2text":
        html = src.read_bytes()
        utf8 = html if charset.upper() == "UTF-8" else html.decode(charset, errors="replace").encode("utf-8")
        return ["html2text", "-nometa", "-utf8", str(src)], utf8
    raise ValueError(f"unknown dumper {dumper!r}")


def render_dump(page_id: str, html_gz: str, out_path: str, dumper: str = DEFAULT_DUMPER) -> DumpResult:
    """Render one page with ``dumper`` into the cache (a process-pool worker).

    Writes via a temp name and rename so an interrupted run never leaves a
    truncated dump that later runs would trust.
    """
    try:
        html = gzip.decompress(Path(html_gz).read_bytes())
    except (OSError, EOFError) as exc:
        return DumpResult(page_id, False, f"unreadable HTML: {exc}")
    charset = choose_input_charset(html)
    timeout = W3M_TIMEOUT_S if dumper.startswith("w3m") else DUMP_TIMEOUT_S
    with tempfile.TemporaryDirectory(prefix="newsmill-dump-") as tmp:
        src = Path(tmp) / f"{page_id}.html"
        src.write_bytes(html)
        cmd, data = dump_command(dumper, src, charset)
        if data is not None:
            src.write_bytes(data)
        env = {**os.environ, "HOME": tmp, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}  # no user rc files
        try:
            proc = subprocess.run(
                cmd, stdin=subprocess.DEVNULL, capture_output=True,
                timeout=timeout, cwd=tmp, env=env,
            )
        except subprocess.TimeoutExpired:
            return DumpResult(page_id, False, f"{dumper} timed out after {timeout}s")
    if proc.returncode != 0:
        err = proc.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or [""]
        return DumpResult(page_id, False, f"{dumper} exit {proc.returncode}: {err[0]}")
    out = Path(out_path)
    part = out.with_suffix(".part")
    part.write_bytes(proc.stdout)
    part.replace(out)
    return DumpResult(page_id, True, charset)


def build_dumps(page_ids: Iterable[str], root: Path, out_dir: Path,
                workers: int = WORKERS, dumper: str = DEFAULT_DUMPER) -> list[DumpResult]:
    """Render the missing dumps; existing ones are trusted (delete the dir to rebuild)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    todo = [pid for pid in page_ids if not (out_dir / f"{pid}.txt").exists()]
    if not todo:
        return []
    with ProcessPoolExecutor(max_workers=workers) as pool:
        futures = [
            pool.submit(render_dump, pid, str(root / "HTML" / f"{pid}.html.gz"),
                        str(out_dir / f"{pid}.txt"), dumper)
            for pid in todo
        ]
        return [f.result() for f in futures]


# --------------------------------------------------------------------------- titles


_TITLE_TAG = re.compile(r"<title[^>]*>(.*?)</title\s*>", re.I | re.S)
_META_TAG = re.compile(r"<meta\s[^>]*>", re.I)
_ATTR = re.compile(r"""([\w:-]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""")
# ' | Site', ' - Site', ' :: Site', ' » Site': how a <title> adds the site's name to the headline
_TITLE_SEP = re.compile(r"\s+(?:[|:–—»«·•/\\-]|::|\|\|)\s+")
# a whole line that is an image placeholder: w3m '[p]', '[sd_hub_ico]', lynx '[IMG]', html2text '[alt]'
_PLACEHOLDER = re.compile(r"^(?:\[[^\]]*\]\s*)+$")


@dataclass(frozen=True)
class RefTitle:
    """What the HTML says the page is called: og:title (else twitter:title, else <title>), its
    parts between title separators, and names of the site (og:site_name, and parts that
    several pages' titles share; see :func:`site_parts`)."""
    full: str | None
    parts: tuple[str, ...] = ()
    sites: tuple[str, ...] = ()


def _meta(html: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for tag in _META_TAG.findall(html):
        attrs = {m.group(1).lower(): m.group(2) if m.group(2) is not None else
                 m.group(3) if m.group(3) is not None else m.group(4) for m in _ATTR.finditer(tag)}
        key = (attrs.get("property") or attrs.get("name") or "").lower()
        if key and attrs.get("content") and key not in out:
            out[key] = _html.unescape(attrs["content"]).strip()
    return out


def _title_parts(title: str) -> list[str]:
    return [x.strip() for x in _TITLE_SEP.split(" ".join(title.split())) if x.strip()]


def reference_title(html_bytes: bytes, shared_parts: frozenset[str] = frozenset()) -> RefTitle:
    """The page's own name for itself, as a reference for spotting titles that are navigation,
    site names or placeholders; not a gold title.  ``shared_parts``: title parts (lower case)
    that other pages of the set carry too, i.e. site names."""
    html = html_bytes.decode(choose_input_charset(html_bytes), errors="replace")
    meta = _meta(html)
    m = _TITLE_TAG.search(html)
    tag = " ".join(_html.unescape(m.group(1)).split()) if m else ""
    full = next((c for c in (meta.get("og:title"), meta.get("twitter:title"), tag)
                 if c and re.search(r"\w", c)), None)
    parts = tuple(dict.fromkeys(_title_parts(full or "") + _title_parts(tag)))
    sites = ([meta["og:site_name"]] if meta.get("og:site_name") else []) + \
        [x for x in parts if x.lower() in shared_parts]
    return RefTitle(full, parts, tuple(dict.fromkeys(sites)))


def site_parts(html_pages: Iterable[bytes]) -> frozenset[str]:
    """Title parts that at least two pages' <title> share: the site's name ('Post | Site')."""
    seen: Counter[str] = Counter()
    for data in html_pages:
        m = _TITLE_TAG.search(data.decode("utf-8", errors="replace"))
        if m:
            parts = _title_parts(_html.unescape(m.group(1)))
            if len(parts) > 1:
                seen.update({x.lower() for x in parts})
    return frozenset(x for x, n in seen.items() if n >= 2)


def _tokens(text: str | None) -> list[str]:
    return _TOKEN_RE.findall(text.lower()) if text else []


def _f1(a: list[str], b: list[str]) -> float:
    overlap = sum((Counter(a) & Counter(b)).values())
    return 2 * overlap / (len(a) + len(b)) if overlap else 0.0


def title_verdict(title: str | None, ref: RefTitle | None) -> str:
    """'ok' (the reference title or one of its non-site parts, most words shared), 'other'
    (neither ok nor visibly wrong), or why it is wrong: 'missing', 'placeholder' (an image
    placeholder), 'site' (the site's name), 'date', 'nav' (one or two words that are not the
    page's title: 'Home', 'Email').
    """
    if not title or not re.search(r"\w", title):
        return "missing"
    if _PLACEHOLDER.match(title.strip()):
        return "placeholder"
    words = _tokens(title)
    ref = ref or RefTitle(None)
    if any(words == _tokens(site) for site in ref.sites):
        return "site"
    heads = [ref.full] + [x for x in ref.parts if x not in ref.sites]
    if any(_f1(words, _tokens(h)) >= 0.6 for h in heads if h):
        return "ok"
    from newsmill.extract.dates import date_coverage, find_date

    d = find_date(title, relative=True)
    if d is not None and date_coverage(title, d) >= 0.6:
        return "date"
    if len(words) <= 2 and len(_tokens(ref.full)) > 2:
        return "nav"
    return "other"


BAD_TITLES = ("missing", "placeholder", "date", "site", "nav")


# --------------------------------------------------------------------------- scoring


def render_comment(comment) -> str:
    """What a comment contributes to the prediction: author, posted_raw and text."""
    parts = (comment.author, comment.posted_raw, comment.text)
    return "\n".join(p for p in parts if p)


def prediction_bag(comments: Sequence) -> Counter[str]:
    bag: Counter[str] = Counter()
    for comment in comments:
        bag.update(token_bag(render_comment(comment)))
    return bag


def overlap_scores(gold: Counter[str], pred: Counter[str]) -> tuple[int, float, float, float]:
    """(overlap, recall, precision, F1) of two token multisets.

    Precision of an empty prediction is 0, not undefined, so pages where the
    parser found nothing pull the average down instead of dropping out of it.
    """
    overlap = sum((gold & pred).values())
    n_gold, n_pred = sum(gold.values()), sum(pred.values())
    recall = overlap / n_gold if n_gold else 0.0
    precision = overlap / n_pred if n_pred else 0.0
    f1 = 2 * recall * precision / (recall + precision) if recall + precision else 0.0
    return overlap, recall, precision, f1


@dataclass
class PageScore:
    page_id: str
    gold_tokens: int
    pred_tokens: int
    overlap: int
    recall: float
    precision: float
    f1: float
    n_comments: int
    gold_count_rough: int
    ceiling: float  # share of gold comment tokens present anywhere in the dump
    parse_s: float
    error: str = ""
    title: str = ""  # what the parser called the page
    title_verdict: str = ""  # see title_verdict; '' when no reference was given
    has_body: bool = False  # the parser found article paragraphs


def score_page(page: GoldPage, dump: str, parse, ref: RefTitle | None = None) -> PageScore:
    gold = token_bag(page.comments)
    error = ""
    start = time.perf_counter()
    title, has_body = None, False
    try:
        parsed = parse(dump)
        comments = parsed.comments
        title, has_body = getattr(parsed, "title", None), bool(getattr(parsed, "paragraphs", None))
    except Exception as exc:  # one bad page must not hide the other 297
        comments, error = [], f"{type(exc).__name__}: {exc}"
    parse_s = time.perf_counter() - start
    pred = prediction_bag(comments)
    overlap, recall, precision, f1 = overlap_scores(gold, pred)
    _, ceiling, _, _ = overlap_scores(gold, token_bag(dump))
    return PageScore(
        page_id=page.page_id, gold_tokens=sum(gold.values()), pred_tokens=sum(pred.values()),
        overlap=overlap, recall=recall, precision=precision, f1=f1,
        n_comments=len(comments), gold_count_rough=rough_comment_count(page.comments),
        ceiling=ceiling, parse_s=parse_s, error=error, title=title or "",
        title_verdict=title_verdict(title, ref) if ref is not None else "", has_body=has_body,
    )


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0


@dataclass
class BenchResult:
    pages_with_gold: int
    scores: list[PageScore]
    skipped: list[DumpResult] = field(default_factory=list)
    dumper: str = DEFAULT_DUMPER
    negatives: tuple[int, int] | None = None  # (pages without gold comments parsed, of them with comments)

    def summary(self) -> dict:
        s = self.scores
        titled = [p for p in s if p.title_verdict]
        total_gold = sum(p.gold_tokens for p in s)
        return {
            "pages_with_gold": self.pages_with_gold,
            "pages_scored": len(s),
            "pages_skipped": len(self.skipped),
            "recall": _mean([p.recall for p in s]),
            "precision": _mean([p.precision for p in s]),
            "f1": _mean([p.f1 for p in s]),
            "micro_recall": sum(p.overlap for p in s) / total_gold if total_gold else 0.0,
            "pages_with_comments": sum(1 for p in s if p.n_comments),
            "mean_comments": _mean([p.n_comments for p in s]),
            "mean_gold_comments_rough": _mean([p.gold_count_rough for p in s]),
            "median_comments": statistics.median([p.n_comments for p in s]) if s else 0,
            "median_gold_comments_rough":
                statistics.median([p.gold_count_rough for p in s]) if s else 0,
            "dump_recall_ceiling": _mean([p.ceiling for p in s]),
            "parse_errors": sum(1 for p in s if p.error),
            "parse_s_total": sum(p.parse_s for p in s),
            "pages_with_body": sum(1 for p in s if p.has_body),
            "title_bad": _mean([p.title_verdict in BAD_TITLES for p in titled]),
            "title_ok": _mean([p.title_verdict == "ok" for p in titled]),
            "title_verdicts": dict(Counter(p.title_verdict for p in titled)),
            # a page without URL is identified by source + title + date downstream: pages that
            # share one title (all 'Home') are the ones at risk of being merged
            "title_shared": sum(n for t, n in Counter(p.title for p in s).items() if n > 1),
        }


def load_parser():
    """Imported late so the dump builder and unit tests work before the parser exists."""
    from newsmill.extract.textdump import parse_text_dump

    return parse_text_dump


def select_pages(pages: list[GoldPage], limit: int | None, spread: bool = False) -> list[GoldPage]:
    """The first ``limit`` pages, or ``limit`` pages evenly spaced over the id order.

    Natural id order puts the bare-number ids (one 2012 collection, with Slashdot
    threads and cp1252 gold) first, so a head-of-list subset is not representative;
    ``spread`` draws from all three id families and is still fixed.
    """
    if limit is None or limit >= len(pages):
        return pages
    if not spread:
        return pages[:limit]
    return [pages[i * len(pages) // limit] for i in range(limit)]


def run(limit: int | None = None, root: Path | None = None, parse=None,
        progress=None, spread: bool = False, dumper: str = DEFAULT_DUMPER) -> BenchResult:
    root = root or dragnet_dir()
    pages = load_gold_pages(root)
    n_gold = len(pages)
    pages = select_pages(pages, limit, spread)
    out_dir = dumps_dir(dumper)
    results = build_dumps([p.page_id for p in pages], root, out_dir, dumper=dumper)
    skipped = [r for r in results if not r.ok]
    if progress and results:
        progress(f"rendered {len(results) - len(skipped)} dumps into {out_dir}")
    parse = parse or load_parser()
    html = {p.page_id: gzip.decompress((root / "HTML" / f"{p.page_id}.html.gz").read_bytes())
            for p in load_gold_pages(root)}
    shared = site_parts(html.values())
    scores = []
    for page in pages:
        dump_path = out_dir / f"{page.page_id}.txt"
        if not dump_path.exists():
            continue
        dump = dump_path.read_text(encoding="utf-8", errors="replace")
        scores.append(score_page(page, dump, parse, reference_title(html[page.page_id], shared)))
    return BenchResult(n_gold, scores, skipped, dumper)


def load_negative_ids(root: Path) -> list[str]:
    """Pages whose gold has no comment marker, in natural id order: they should give no comments
    (a few do show comments the annotators left out, so this is an upper bound on false positives)."""
    ids = []
    for path in (root / "Corrected").glob("*.html.corrected.txt"):
        if split_gold(decode_gold(path.read_bytes()))[1] is None:
            ids.append(path.name.split(".", 1)[0])
    return sorted(ids, key=page_sort_key)


def run_negatives(limit: int | None, root: Path | None = None, dumper: str = DEFAULT_DUMPER,
                  parse=None) -> tuple[int, list[tuple[str, int]]]:
    """(pages parsed, [(page id, comments extracted)] for pages without gold comments that got some)."""
    root = root or dragnet_dir()
    ids = load_negative_ids(root)
    if limit is not None and limit < len(ids):
        ids = [ids[i * len(ids) // limit] for i in range(limit)]
    out_dir = cache_dir() / "dragnet-dumps-neg" / dumper
    build_dumps(ids, root, out_dir, dumper=dumper)
    parse = parse or load_parser()
    parsed, hits = 0, []
    for pid in ids:
        path = out_dir / f"{pid}.txt"
        if path.exists():
            parsed += 1
            n = len(parse(path.read_text(encoding="utf-8", errors="replace")).comments)
            if n:
                hits.append((pid, n))
    return parsed, hits


# --------------------------------------------------------------------------- reporting


def write_csv(scores: Sequence[PageScore], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    names = list(PageScore.__dataclass_fields__)
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=names)
        writer.writeheader()
        for s in scores:
            writer.writerow({k: (round(v, 4) if isinstance(v, float) else v)
                             for k, v in asdict(s).items()})


def format_report(result: BenchResult, worst: int) -> str:
    sm = result.summary()
    n = sm["pages_scored"]
    rows = [
        ("dumper", result.dumper),
        ("pages with gold comments", f"{sm['pages_with_gold']}"),
        ("pages scored / skipped", f"{n} / {sm['pages_skipped']}"),
        ("token recall (macro)", f"{sm['recall']:.3f}"),
        ("token precision (macro, P=0 if empty)", f"{sm['precision']:.3f}"),
        ("token F1 (macro)", f"{sm['f1']:.3f}"),
        ("token recall (micro)", f"{sm['micro_recall']:.3f}"),
        ("pages with >=1 extracted comment", f"{sm['pages_with_comments']} / {n}"),
        ("comments extracted / gold (rough), mean",
         f"{sm['mean_comments']:.1f} / {sm['mean_gold_comments_rough']:.1f}"),
        ("comments extracted / gold (rough), median",
         f"{sm['median_comments']:g} / {sm['median_gold_comments_rough']:g}"),
        ("dump recall ceiling", f"{sm['dump_recall_ceiling']:.3f}"),
        ("pages with article paragraphs", f"{sm['pages_with_body']} / {n}"),
        ("title bad (placeholder/nav/site/date/none)", f"{sm['title_bad']:.3f}"),
        ("title matches og:title/<title> headline", f"{sm['title_ok']:.3f}"),
        ("title verdicts", " ".join(f"{k}={v}" for k, v in sorted(sm["title_verdicts"].items()))),
        ("pages whose title another page has too", f"{sm['title_shared']} / {n}"),
        ("parse errors", f"{sm['parse_errors']}"),
        ("parse time total", f"{sm['parse_s_total']:.2f}s"),
    ]
    width = max(len(k) for k, _ in rows)
    lines = [f"{k:<{width}}  {v}" for k, v in rows]
    for r in result.skipped:
        lines.append(f"skipped {r.page_id}: {r.note}")
    if worst:
        bad = sorted(result.scores, key=lambda p: (p.recall, p.precision, -p.gold_tokens))
        lines += ["", f"worst {min(worst, len(bad))} pages by recall:",
                  f"{'id':<8}{'gold_tok':>9}{'recall':>8}{'prec':>7}{'ncom':>6}{'ceil':>7}  error"]
        for p in bad[:worst]:
            lines.append(f"{p.page_id:<8}{p.gold_tokens:>9}{p.recall:>8.3f}{p.precision:>7.3f}"
                         f"{p.n_comments:>6}{p.ceiling:>7.3f}  {p.error[:60]}")
    return "\n".join(lines)


def summary_table(results: Sequence[BenchResult]) -> str:
    """One markdown row per dumper: the figures docs/EVALUATION.md quotes."""
    lines = ["| dumper | recall | precision | F1 | pages with ≥ 1 comment | bad titles | titles = headline |"
             " title shared with another page | no-comment pages with comments |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        sm = r.summary()
        neg = f"{r.negatives[1]} / {r.negatives[0]}" if r.negatives else "–"
        lines.append(f"| {r.dumper} | {sm['recall']:.3f} | {sm['precision']:.3f} | {sm['f1']:.3f} | "
                     f"{sm['pages_with_comments']} / {sm['pages_scored']} | {sm['title_bad']:.3f} | "
                     f"{sm['title_ok']:.3f} | {sm['title_shared']} | {neg} |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dumper", choices=[*DUMPERS, "all"], default=DEFAULT_DUMPER,
                    help="text dumper whose dumps are scored (default: w3m at its default width)")
    ap.add_argument("--limit", type=int, help="score only the first N pages (natural id order)")
    ap.add_argument("--spread", action="store_true",
                    help="with --limit: take N pages evenly spaced over the ids (the test gate's subset)")
    ap.add_argument("--json", type=Path, help="also write summary and per-page rows here")
    ap.add_argument("--worst", type=int, default=10, help="list the K lowest-recall pages")
    ap.add_argument("--negatives", type=int, default=0, metavar="N",
                    help="also parse N pages without gold comments (spread over the ids) and count those "
                         "that get comments anyway")
    args = ap.parse_args(argv)

    root = dragnet_dir()
    if not (root / "Corrected").is_dir():
        print(f"skip: Dragnet data not found at {root} (set NEWSMILL_SHARED)")
        return 0
    dumpers = list(DUMPERS) if args.dumper == "all" else [args.dumper]
    results, payload = [], {}
    for dumper in dumpers:
        if not dumper_available(dumper):
            print(f"skip {dumper}: {DUMPERS[dumper]} not installed")
            continue
        result = run(limit=args.limit, root=root, spread=args.spread, dumper=dumper,
                     progress=lambda m: print(m, file=sys.stderr))
        csv_path = cache_dir() / f"dragnet-recall-{dumper}.csv"
        write_csv(result.scores, csv_path)
        payload[dumper] = {"summary": result.summary(),
                           "skipped": [asdict(r) for r in result.skipped],
                           "pages": [asdict(s) for s in result.scores]}
        print(format_report(result, args.worst))
        if args.negatives:
            parsed, hits = run_negatives(args.negatives, root, dumper)
            result.negatives = (parsed, len(hits))
            payload[dumper]["negatives"] = {"parsed": parsed, "with_comments": hits}
            print(f"pages without gold comments that get comments: {len(hits)} / {parsed}"
                  f" ({', '.join(pid for pid, _ in hits[:args.worst])}{' ...' if len(hits) > args.worst else ''})")
        print(f"\nper-page figures: {csv_path}\n")
        results.append(result)
    if len(results) > 1:
        print(summary_table(results))
    if args.json:
        out = payload[dumpers[0]] if len(dumpers) == 1 and payload else payload
        args.json.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
