"""Comment-extraction recall of ``parse_text_dump`` on w3m dumps of the Dragnet pages.

The Dragnet gold files hold the hand-copied comment section of each page, so a
bag-of-tokens comparison tells how much of the readers' text the text-dump parser
recovers without needing comment boundaries to line up with the gold.  Authors and
timestamps count too because the gold often carries them.

The data is AGPLv3 and lives outside the repo (``../shared/data`` or
``$NEWSMILL_SHARED``); dumps and per-page figures go to the cache dir
(``$NEWSMILL_CACHE``, default ``~/.cache/newsmill``), never into the repo.

Usage: python bench/dragnet_dump_recall.py [--limit N [--spread]] [--json out.json] [--worst K]
"""
from __future__ import annotations

import argparse
import codecs
import csv
import gzip
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
WORKERS = 2

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


def dumps_dir() -> Path:
    return cache_dir() / "dragnet-dumps"


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


def render_dump(page_id: str, html_gz: str, out_path: str) -> DumpResult:
    """Render one page with w3m into the cache (a process-pool worker).

    Writes via a temp name and rename so an interrupted run never leaves a
    truncated dump that later runs would trust.
    """
    try:
        html = gzip.decompress(Path(html_gz).read_bytes())
    except (OSError, EOFError) as exc:
        return DumpResult(page_id, False, f"unreadable HTML: {exc}")
    charset = choose_input_charset(html)
    with tempfile.TemporaryDirectory(prefix="newsmill-w3m-") as tmp:
        src = Path(tmp) / f"{page_id}.html"
        src.write_bytes(html)
        cmd = [W3M, "-dump", "-T", "text/html", "-O", "UTF-8", "-I", charset,
               "-cols", str(W3M_COLS), str(src)]
        try:
            proc = subprocess.run(
                cmd, stdin=subprocess.DEVNULL, capture_output=True,
                timeout=W3M_TIMEOUT_S, cwd=tmp,
            )
        except subprocess.TimeoutExpired:
            return DumpResult(page_id, False, f"w3m timed out after {W3M_TIMEOUT_S}s")
    if proc.returncode != 0:
        err = proc.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or [""]
        return DumpResult(page_id, False, f"w3m exit {proc.returncode}: {err[0]}")
    out = Path(out_path)
    part = out.with_suffix(".part")
    part.write_bytes(proc.stdout)
    part.replace(out)
    return DumpResult(page_id, True, charset)


def build_dumps(page_ids: Iterable[str], root: Path, out_dir: Path,
                workers: int = WORKERS) -> list[DumpResult]:
    """Render the missing dumps; existing ones are trusted (delete the dir to rebuild)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    todo = [pid for pid in page_ids if not (out_dir / f"{pid}.txt").exists()]
    if not todo:
        return []
    with ProcessPoolExecutor(max_workers=workers) as pool:
        futures = [
            pool.submit(render_dump, pid, str(root / "HTML" / f"{pid}.html.gz"),
                        str(out_dir / f"{pid}.txt"))
            for pid in todo
        ]
        return [f.result() for f in futures]


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


def score_page(page: GoldPage, dump: str, parse) -> PageScore:
    gold = token_bag(page.comments)
    error = ""
    start = time.perf_counter()
    try:
        comments = parse(dump).comments
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
        ceiling=ceiling, parse_s=parse_s, error=error,
    )


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0


@dataclass
class BenchResult:
    pages_with_gold: int
    scores: list[PageScore]
    skipped: list[DumpResult] = field(default_factory=list)

    def summary(self) -> dict:
        s = self.scores
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
        progress=None, spread: bool = False) -> BenchResult:
    root = root or dragnet_dir()
    pages = load_gold_pages(root)
    n_gold = len(pages)
    pages = select_pages(pages, limit, spread)
    out_dir = dumps_dir()
    results = build_dumps([p.page_id for p in pages], root, out_dir)
    skipped = [r for r in results if not r.ok]
    if progress and results:
        progress(f"rendered {len(results) - len(skipped)} dumps into {out_dir}")
    parse = parse or load_parser()
    scores = []
    for page in pages:
        dump_path = out_dir / f"{page.page_id}.txt"
        if not dump_path.exists():
            continue
        dump = dump_path.read_text(encoding="utf-8", errors="replace")
        scores.append(score_page(page, dump, parse))
    return BenchResult(n_gold, scores, skipped)


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


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--limit", type=int, help="score only the first N pages (natural id order)")
    ap.add_argument("--spread", action="store_true",
                    help="with --limit: take N pages evenly spaced over the ids (the test gate's subset)")
    ap.add_argument("--json", type=Path, help="also write summary and per-page rows here")
    ap.add_argument("--worst", type=int, default=10, help="list the K lowest-recall pages")
    args = ap.parse_args(argv)

    root = dragnet_dir()
    if not (root / "Corrected").is_dir():
        print(f"skip: Dragnet data not found at {root} (set NEWSMILL_SHARED)")
        return 0
    if shutil.which(W3M) is None:
        print("skip: w3m not installed")
        return 0

    result = run(limit=args.limit, root=root, spread=args.spread,
                 progress=lambda m: print(m, file=sys.stderr))
    csv_path = cache_dir() / "dragnet-recall.csv"
    write_csv(result.scores, csv_path)
    if args.json:
        payload = {"summary": result.summary(),
                   "skipped": [asdict(r) for r in result.skipped],
                   "pages": [asdict(s) for s in result.scores]}
        args.json.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    print(format_report(result, args.worst))
    print(f"\nper-page figures: {csv_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
