"""HTML extraction quality and speed: newsmill's ``extract_page`` next to bare trafilatura.

Three measurements, all on evaluation data kept outside the repo (``../shared/data``
or ``$NEWSMILL_SHARED``; Dragnet is AGPLv3 and must never be copied in):

* AEB (article-extraction-benchmark, 181 pages): article body against ``articleBody``,
  scored with the benchmark's own 4-token-shingle precision/recall/F1.
* Dragnet (966 pages, 298 with gold comments): comment token P/R/F1, body token
  P/R/F1, and the share of gold comment tokens that leak into the body.
* Speed: newsmill's extract step vs bare trafilatura on the AEB pages, interleaved.

Both systems see the same bytes, the same pages and the same scoring.  A newsmill
Reject, a trafilatura ``None`` and any exception count as an empty prediction and
are counted.  Exact definitions: docs/EVALUATION.md.

Usage: python bench/html_eval.py [--only aeb|dragnet|speed] [--limit N] [--json out.json]
                                 [--worst K] [--write-doc]
"""
from __future__ import annotations

import argparse
import datetime as _dt
import gzip
import hashlib
import json
import math
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from importlib import metadata as _metadata
from pathlib import Path
from typing import Callable, Iterable, Sequence

REPO_ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = Path(__file__).resolve().parent
for _p in (REPO_ROOT, BENCH_DIR):  # the bench runs from a checkout; bench/ is not a package
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))

# Gold reading, lowercase bag-of-words tokens, comment rendering and the id order are
# the text-dump harness's, so the two harnesses score Dragnet comments identically.
from dragnet_dump_recall import (  # noqa: E402
    decode_gold,
    dragnet_dir,
    overlap_scores,
    page_sort_key,
    render_comment,
    select_pages,
    shared_data_dir,
    split_gold,
    token_bag,
)

SYSTEMS = ("newsmill", "trafilatura")
WORKERS = 2
SHINGLE_N = 4  # the benchmark's ngram_n
SPEED_REPEATS = 3
SPEED_WARMUP_PAGES = 5
SPEED_TARGET_RATIO = 1.5  # newsmill time / trafilatura time
DOC_PATH = REPO_ROOT / "docs" / "EVALUATION.md"
DOC_START = "<!-- html-eval:results:start -->"
DOC_END = "<!-- html-eval:results:end -->"

# The benchmark tokenises with a bare ``\w+`` and keeps case (its IGNORECASE flag does
# nothing for ``\w``), unlike the lowercase Dragnet bag.
_AEB_TOKEN_RE = re.compile(r"\w+")


# --------------------------------------------------------------------------- paths


def aeb_dir() -> Path:
    return shared_data_dir() / "aeb"


def aeb_present(root: Path | None = None) -> bool:
    root = root or aeb_dir()
    return (root / "ground-truth.json").is_file() and (root / "html").is_dir()


def dragnet_present(root: Path | None = None) -> bool:
    root = root or dragnet_dir()
    return (root / "Corrected").is_dir() and (root / "HTML").is_dir()


# --------------------------------------------------------------------------- AEB scoring


def aeb_tokens(text: str | None) -> list[str]:
    """The benchmark's tokens: ``\\w+`` runs, case kept."""
    return _AEB_TOKEN_RE.findall(text or "")


def shingles(text: str | None, n: int = SHINGLE_N) -> Counter[tuple[str, ...]]:
    """Multiset of n-token shingles, as the benchmark builds them.

    Like upstream, a text with 1..n-1 tokens yields one shorter shingle (all its
    tokens) and an empty text yields none.
    """
    tokens = aeb_tokens(text)
    return Counter(tuple(tokens[i : i + n]) for i in range(max(1, len(tokens) - n + 1)) if tokens[i : i + n])


def shingle_counts(gold: str | None, pred: str | None, n: int = SHINGLE_N) -> tuple[int, int, int]:
    """(tp, fp, fn) over shingle multisets: a repeated shingle matches at most as often as it occurs."""
    g, p = shingles(gold, n), shingles(pred, n)
    tp = sum((g & p).values())
    return tp, sum(p.values()) - tp, sum(g.values()) - tp


def shingle_page_scores(tp: int, fp: int, fn: int) -> tuple[float | None, float | None, float]:
    """(precision, recall, page F1) of one page under the benchmark's conventions.

    Precision is None (left out of the benchmark's mean) when the prediction has no
    shingle, recall is None when the gold has none.  The page F1 is ours, for ranking
    pages: 0 when either side is empty.
    """
    precision = tp / (tp + fp) if tp + fp else None
    recall = tp / (tp + fn) if tp + fn else None
    p, r = precision or 0.0, recall or 0.0
    return precision, recall, (2 * p * r / (p + r) if p + r else 0.0)


def _mean(values: Iterable[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return sum(vals) / len(vals) if vals else None


def _harmonic(p: float | None, r: float | None) -> float | None:
    if p is None or r is None:
        return None
    return 2 * p * r / (p + r) if p + r else 0.0


# --------------------------------------------------------------------------- Dragnet scoring


def leaked_tokens(gold_content: Counter[str], gold_comments: Counter[str], body: Counter[str]) -> int:
    """Gold comment tokens found in the predicted body beyond what the gold content accounts for.

    Per token type: min(comment count, max(0, body count - content count)), i.e.
    ``sum((C & (B - A)).values())``.  A word that the article itself uses as often
    as the body does is never blamed on the comments.
    """
    return sum((gold_comments & (body - gold_content)).values())


def leak_share(gold_content: Counter[str], gold_comments: Counter[str], body: Counter[str]) -> float | None:
    total = sum(gold_comments.values())
    return leaked_tokens(gold_content, gold_comments, body) / total if total else None


def render_comments(comments: Sequence) -> str:
    """newsmill's comments as one text: author, posted_raw and text of each, in order.

    Its token bag equals the text-dump harness's ``prediction_bag`` of the comments.
    """
    return "\n\n".join(render_comment(c) for c in comments)


# --------------------------------------------------------------------------- extraction


@dataclass
class Prediction:
    body: str = ""
    comments: str = ""  # rendered comment text (newsmill) or trafilatura's comment blob
    n_comments: int = 0  # structured comments (newsmill); 1 for a non-empty blob
    status: str = "ok"  # ok | reject:<reason> | no_result (trafilatura returned None) | error:<Type>
    detail: str = ""
    seconds: float = 0.0

    @property
    def failed(self) -> bool:
        return self.status != "ok"


_PROBE_HTML = (b"<html><head><title>Probe</title></head><body><article><h1>Probe</h1>"
               b"<p>A short paragraph that only checks the html path is dispatched.</p>"
               b"</article></body></html>")


def newsmill_html_available() -> bool:
    """Whether ``extract_page`` handles html at all (it rejects it as an unsupported format
    until the HTML extractor is wired in); a probe, since the package may exist half-written."""
    try:
        pred = run_newsmill(_PROBE_HTML, "https://example.org/probe", "probe.html")
    except Exception:  # noqa: BLE001 - an import error of a half-written package counts as absent
        return False
    return pred.status != "reject:unsupported_format"


def newsmill_page_input(data: bytes, url: str | None, uri: str):
    from newsmill.records import PageInput

    return PageInput(uri=uri, data=data, sha256=hashlib.sha256(data).hexdigest(), format="html", url=url)


def run_newsmill(data: bytes, url: str | None, uri: str) -> Prediction:
    from newsmill.extract import extract_page
    from newsmill.records import Reject

    page = newsmill_page_input(data, url, uri)
    start = time.perf_counter()
    try:
        out = extract_page(page)
    except Exception as exc:  # one bad page must not hide the others
        return Prediction(status=f"error:{type(exc).__name__}", detail=str(exc)[:200],
                          seconds=time.perf_counter() - start)
    seconds = time.perf_counter() - start
    if isinstance(out, Reject):
        return Prediction(status=f"reject:{out.reason}", detail=out.detail[:200], seconds=seconds)
    raw, _profile = out
    return Prediction(body="\n\n".join(raw.paragraphs), comments=render_comments(raw.comments),
                      n_comments=len(raw.comments), seconds=seconds)


def run_trafilatura(data: bytes, url: str | None, uri: str = "") -> Prediction:
    import trafilatura

    start = time.perf_counter()
    try:
        doc = trafilatura.bare_extraction(data, url=url, include_comments=True, with_metadata=False)
    except Exception as exc:
        return Prediction(status=f"error:{type(exc).__name__}", detail=str(exc)[:200],
                          seconds=time.perf_counter() - start)
    seconds = time.perf_counter() - start
    if doc is None:
        return Prediction(status="no_result", seconds=seconds)
    comments = doc.comments or ""
    return Prediction(body=doc.text or "", comments=comments, n_comments=int(bool(comments.strip())),
                      seconds=seconds)


RUNNERS: dict[str, Callable[[bytes, str | None, str], Prediction]] = {
    "newsmill": run_newsmill,
    "trafilatura": run_trafilatura,
}


@dataclass(frozen=True)
class Job:
    dataset: str  # 'aeb' | 'dragnet'
    page_id: str
    path: str  # gzipped HTML
    url: str | None = None


def read_html(path: str | Path) -> bytes:
    return gzip.decompress(Path(path).read_bytes())


def extract_job(job: Job, systems: Sequence[str] = SYSTEMS) -> tuple[Job, dict[str, Prediction]]:
    """Run every system on one page (a process-pool worker)."""
    try:
        data = read_html(job.path)
    except (OSError, EOFError) as exc:
        bad = Prediction(status=f"error:{type(exc).__name__}", detail=f"unreadable HTML: {exc}")
        return job, {s: bad for s in systems}
    return job, {s: RUNNERS[s](data, job.url, job.path) for s in systems}


def extract_all(jobs: Sequence[Job], systems: Sequence[str] = SYSTEMS, workers: int = WORKERS,
                progress: Callable[[str], None] | None = None) -> dict[tuple[str, str], dict[str, Prediction]]:
    """Predictions keyed by (dataset, page_id); biggest pages first so the pool stays balanced."""
    ordered = sorted(jobs, key=lambda j: -os.path.getsize(j.path) if os.path.exists(j.path) else 0)
    out: dict[tuple[str, str], dict[str, Prediction]] = {}
    if workers <= 1 or len(ordered) < 4:
        results: Iterable = (extract_job(j, systems) for j in ordered)
        for job, preds in results:
            out[(job.dataset, job.page_id)] = preds
        return out
    with ProcessPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(extract_job, j, tuple(systems)) for j in ordered]
        for i, fut in enumerate(futures, 1):
            job, preds = fut.result()
            out[(job.dataset, job.page_id)] = preds
            if progress and i % 200 == 0:
                progress(f"extracted {i}/{len(futures)} pages")
    return out


# --------------------------------------------------------------------------- data


@dataclass(frozen=True)
class AebPage:
    page_id: str
    url: str
    body: str


@dataclass(frozen=True)
class DragnetPage:
    page_id: str
    content: str  # gold before the marker (the whole gold when there is none)
    comments: str | None  # gold after the marker; None or blank = no gold comments

    @property
    def has_comments(self) -> bool:
        return bool(self.comments and self.comments.strip())


def load_aeb(root: Path | None = None) -> list[AebPage]:
    root = root or aeb_dir()
    gt = json.loads((root / "ground-truth.json").read_text(encoding="utf-8"))
    return [AebPage(k, v.get("url") or "", v.get("articleBody") or "") for k, v in sorted(gt.items())]


def load_dragnet(root: Path | None = None) -> list[DragnetPage]:
    root = root or dragnet_dir()
    pages = []
    for path in (root / "Corrected").glob("*.html.corrected.txt"):
        content, comments = split_gold(decode_gold(path.read_bytes()))
        pages.append(DragnetPage(path.name.split(".", 1)[0], content, comments))
    return sorted(pages, key=lambda p: page_sort_key(p.page_id))


def select_aeb(pages: list[AebPage], limit: int | None) -> list[AebPage]:
    """All pages, or ``limit`` pages evenly spaced over the sorted ids."""
    return select_pages(pages, limit, spread=True)


def select_dragnet(pages: list[DragnetPage], limit: int | None) -> list[DragnetPage]:
    """All pages, or ``limit`` pages with gold comments evenly spaced over the sorted ids."""
    if limit is None:
        return pages
    return select_pages([p for p in pages if p.has_comments], limit, spread=True)


# --------------------------------------------------------------------------- per-page scores


@dataclass
class AebScore:
    page_id: str
    system: str
    tp: int
    fp: int
    fn: int
    precision: float | None
    recall: float | None
    f1: float
    status: str
    seconds: float = 0.0  # extraction time in the pool (indicative only)


def score_aeb(page: AebPage, system: str, pred: Prediction) -> AebScore:
    tp, fp, fn = shingle_counts(page.body, pred.body)
    precision, recall, f1 = shingle_page_scores(tp, fp, fn)
    return AebScore(page.page_id, system, tp, fp, fn, precision, recall, f1, pred.status, pred.seconds)


@dataclass
class DragnetScore:
    page_id: str
    system: str
    body_gold_tokens: int
    body_pred_tokens: int
    body_precision: float
    body_recall: float
    body_f1: float
    comment_gold_tokens: int  # 0 when the page has no gold comments
    comment_pred_tokens: int
    comment_overlap: int
    comment_precision: float | None  # None when the page has no gold comments
    comment_recall: float | None
    comment_f1: float | None
    leaked: int | None
    leak_share: float | None
    n_comments: int
    status: str
    seconds: float = 0.0  # extraction time in the pool (indicative only)


def score_dragnet(page: DragnetPage, system: str, pred: Prediction) -> DragnetScore:
    gold_body, pred_body = token_bag(page.content), token_bag(pred.body)
    _, b_r, b_p, b_f1 = overlap_scores(gold_body, pred_body)
    pred_com = token_bag(pred.comments)
    c_p = c_r = c_f1 = leak = share = None
    c_overlap = 0
    gold_com: Counter[str] = Counter()
    if page.has_comments:
        gold_com = token_bag(page.comments)
        c_overlap, c_r, c_p, c_f1 = overlap_scores(gold_com, pred_com)
        leak = leaked_tokens(gold_body, gold_com, pred_body)
        share = leak_share(gold_body, gold_com, pred_body)
    return DragnetScore(
        page.page_id, system, sum(gold_body.values()), sum(pred_body.values()), b_p, b_r, b_f1,
        sum(gold_com.values()), sum(pred_com.values()), c_overlap, c_p, c_r, c_f1, leak, share,
        pred.n_comments, pred.status, pred.seconds,
    )


# --------------------------------------------------------------------------- summaries


def status_counts(statuses: Iterable[str]) -> dict[str, int]:
    return dict(sorted(Counter(s for s in statuses if s != "ok").items()))


def summarize_aeb(scores: Sequence[AebScore]) -> dict:
    """Benchmark figures: P and R are page means (P over pages with a prediction), F1 = 2PR/(P+R)."""
    precision = _mean(s.precision for s in scores)
    recall = _mean(s.recall for s in scores)
    return {
        "pages": len(scores),
        "precision": precision,
        "recall": recall,
        "f1": _harmonic(precision, recall),
        "precision_strict": _mean((s.precision or 0.0) for s in scores),
        "mean_page_f1": _mean(s.f1 for s in scores),
        "empty_predictions": sum(1 for s in scores if s.tp + s.fp == 0),
        "failures": status_counts(s.status for s in scores),
        **_slowest(scores),
    }


def _slowest(scores: Sequence) -> dict:
    slow = max(scores, key=lambda s: s.seconds, default=None)
    return {"slowest_page": slow.page_id if slow else None,
            "slowest_page_seconds": slow.seconds if slow else None}


def summarize_dragnet(scores: Sequence[DragnetScore]) -> dict:
    with_com = [s for s in scores if s.comment_f1 is not None]
    gold_com = sum(s.comment_gold_tokens for s in with_com)
    return {
        "pages": len(scores),
        "pages_with_gold_comments": len(with_com),
        "comment_precision": _mean(s.comment_precision for s in with_com),
        "comment_recall": _mean(s.comment_recall for s in with_com),
        "comment_f1": _mean(s.comment_f1 for s in with_com),
        "comment_micro_recall":
            sum(s.comment_overlap for s in with_com) / gold_com if gold_com else None,
        "pages_with_predicted_comments": sum(1 for s in with_com if s.comment_pred_tokens),
        "mean_comments_extracted": _mean(s.n_comments for s in with_com),
        "body_precision": _mean(s.body_precision for s in scores),
        "body_recall": _mean(s.body_recall for s in scores),
        "body_f1": _mean(s.body_f1 for s in scores),
        "leak_share": _mean(s.leak_share for s in with_com),
        "leak_share_micro": sum(s.leaked or 0 for s in with_com) / gold_com if gold_com else None,
        "pages_leaking_over_10pct": sum(1 for s in with_com if (s.leak_share or 0) > 0.10),
        "empty_bodies": sum(1 for s in scores if s.body_pred_tokens == 0),
        "failures": status_counts(s.status for s in scores),
        **_slowest(scores),
    }


# --------------------------------------------------------------------------- quality run


@dataclass
class QualityResult:
    aeb: dict[str, list[AebScore]]
    dragnet: dict[str, list[DragnetScore]]
    seconds: float

    def summary(self) -> dict:
        return {
            "aeb": {s: summarize_aeb(v) for s, v in self.aeb.items()},
            "dragnet": {s: summarize_dragnet(v) for s, v in self.dragnet.items()},
        }


def run_quality(datasets: Sequence[str] = ("aeb", "dragnet"), limit: int | None = None,
                systems: Sequence[str] = SYSTEMS, workers: int = WORKERS,
                progress: Callable[[str], None] | None = None) -> QualityResult:
    start = time.perf_counter()
    aeb_pages = select_aeb(load_aeb(), limit) if "aeb" in datasets else []
    dn_pages = select_dragnet(load_dragnet(), limit) if "dragnet" in datasets else []
    jobs = [Job("aeb", p.page_id, str(aeb_dir() / "html" / f"{p.page_id}.html.gz"), p.url or None)
            for p in aeb_pages]
    jobs += [Job("dragnet", p.page_id, str(dragnet_dir() / "HTML" / f"{p.page_id}.html.gz"))
             for p in dn_pages]
    preds = extract_all(jobs, systems, workers, progress)
    aeb = {s: [score_aeb(p, s, preds[("aeb", p.page_id)][s]) for p in aeb_pages] for s in systems}
    dragnet = {s: [score_dragnet(p, s, preds[("dragnet", p.page_id)][s]) for p in dn_pages]
               for s in systems}
    return QualityResult(aeb if aeb_pages else {}, dragnet if dn_pages else {},
                         time.perf_counter() - start)


# --------------------------------------------------------------------------- speed


def measure_speed(pages: Sequence[tuple[str, bytes, str | None]], repeats: int = SPEED_REPEATS,
                  systems: Sequence[str] = SYSTEMS, runners: dict | None = None,
                  clock: Callable[[], float] = time.perf_counter) -> dict:
    """Seconds per full pass over ``pages`` for each system, interleaved page by page.

    Each page runs once per system per repeat, back to back, with the order of the
    systems alternating between pages and between repeats, so drifts in machine load
    hit both alike.  The bytes are in memory beforehand; each call covers building the
    input and extraction (newsmill: PageInput -> extract_page, decoding included;
    trafilatura: bare_extraction on the same bytes).
    """
    runners = runners or RUNNERS
    for page_id, data, url in pages[:SPEED_WARMUP_PAGES]:  # imports, caches, profile loading
        for s in systems:
            runners[s](data, url, page_id)
    totals: dict[str, list[float]] = {s: [] for s in systems}
    for r in range(repeats):
        acc = {s: 0.0 for s in systems}
        for i, (page_id, data, url) in enumerate(pages):
            order = systems if (i + r) % 2 == 0 else tuple(reversed(systems))
            for s in order:
                t0 = clock()
                runners[s](data, url, page_id)
                acc[s] += clock() - t0
        for s in systems:
            totals[s].append(acc[s])
    med = {s: statistics.median(v) for s, v in totals.items()}
    out = {
        "pages": len(pages),
        "repeats": repeats,
        "seconds_per_pass": totals,
        "median_seconds": med,
        "pages_per_second": {s: (len(pages) / m if m else None) for s, m in med.items()},
    }
    if "newsmill" in med and "trafilatura" in med and med["trafilatura"]:
        out["ratio"] = med["newsmill"] / med["trafilatura"]
        out["target_ratio"] = SPEED_TARGET_RATIO
        out["within_target"] = out["ratio"] <= SPEED_TARGET_RATIO
    return out


def run_speed(limit: int | None = None, repeats: int = SPEED_REPEATS) -> dict:
    pages = select_aeb(load_aeb(), limit)
    loaded = [(p.page_id, read_html(aeb_dir() / "html" / f"{p.page_id}.html.gz"), p.url or None)
              for p in pages]
    result = measure_speed(loaded, repeats)
    # Throughput of rejects is meaningless: say so next to the figure.
    sample = run_newsmill(loaded[0][1], loaded[0][2], loaded[0][0]) if loaded else None
    result["newsmill_status_sample"] = sample.status if sample else None
    return result


# --------------------------------------------------------------------------- machine


def _version(dist: str) -> str:
    try:
        return _metadata.version(dist)
    except _metadata.PackageNotFoundError:
        return "-"


def _git(*args: str) -> str:
    try:
        proc = subprocess.run(["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return ""
    return proc.stdout.strip() if proc.returncode == 0 else ""


def machine_info() -> dict:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    commit = _git("rev-parse", "--short", "HEAD")
    dirty = bool(_git("status", "--porcelain", "--untracked-files=no"))
    return {
        "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "cpu": cpu or platform.processor() or "-",
        "platform": platform.platform(),
        "python": platform.python_version(),
        "versions": {d: _version(d) for d in
                     ("newsmill", "trafilatura", "lxml", "lxml_html_clean", "charset-normalizer",
                      "justext", "htmldate")},
        "git": f"{commit}{' (uncommitted changes)' if dirty else ''}" if commit else "-",
        "newsmill_html_extractor": newsmill_html_available(),
        "workers": WORKERS,
        "load_average": [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None,
    }


# --------------------------------------------------------------------------- reporting


def _fmt(v, digits: int = 3) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "n/a"
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    if isinstance(v, dict):
        return ", ".join(f"{k} {n}" for k, n in v.items()) or "0"
    return str(v)


AEB_ROWS = [
    ("pages", "pages"),
    ("precision (benchmark)", "precision"),
    ("recall (benchmark)", "recall"),
    ("F1 (benchmark)", "f1"),
    ("precision, empty output counted as 0", "precision_strict"),
    ("mean page F1", "mean_page_f1"),
    ("pages with empty output", "empty_predictions"),
]
DRAGNET_ROWS = [
    ("pages (body) / with gold comments", None),
    ("comment token precision (macro)", "comment_precision"),
    ("comment token recall (macro)", "comment_recall"),
    ("comment token F1 (macro)", "comment_f1"),
    ("comment token recall (micro)", "comment_micro_recall"),
    ("pages with comment output", "pages_with_predicted_comments"),
    ("comments per page (mean; trafilatura: 1 blob)", "mean_comments_extracted"),
    ("body token precision (macro)", "body_precision"),
    ("body token recall (macro)", "body_recall"),
    ("body token F1 (macro)", "body_f1"),
    ("comment tokens leaked into body (macro)", "leak_share"),
    ("comment tokens leaked into body (micro)", "leak_share_micro"),
    ("pages leaking >10% of comment tokens", "pages_leaking_over_10pct"),
    ("pages with empty body", "empty_bodies"),
]


def _table(title: str, rows: list[tuple[str, list[str]]], systems: Sequence[str], md: bool) -> list[str]:
    if md:
        out = [f"| {title} | " + " | ".join(systems) + " |", "|---|" + "---:|" * len(systems)]
        out += [f"| {k} | " + " | ".join(vals) + " |" for k, vals in rows]
        return out
    width = max([len(title)] + [len(k) for k, _ in rows])
    colw = max([14] + [len(v) for _, vals in rows for v in vals] + [len(s) for s in systems])
    out = [f"{title:<{width}}  " + "  ".join(f"{s:>{colw}}" for s in systems)]
    out += [f"{k:<{width}}  " + "  ".join(f"{v:>{colw}}" for v in vals) for k, vals in rows]
    return out


def _failure_lines(per_system: dict, md: bool) -> list[str]:
    """Rejects, trafilatura ``None`` results and exceptions (all scored as empty output)."""
    out = [""] if md else []
    for s, sm in per_system.items():
        slow = (f"; slowest page {sm['slowest_page'][:16]} {sm['slowest_page_seconds']:.2f} s"
                if sm.get("slowest_page") else "")
        out.append(f"{'- ' if md else ''}{s}: empty-output causes: "
                   f"{_fmt(sm['failures']) if sm['failures'] else 'none'}{slow}")
    return out


def report_lines(summary: dict, md: bool = False) -> list[str]:
    lines: list[str] = []
    aeb = summary.get("aeb") or {}
    if aeb:
        systems = list(aeb)
        rows = [(label, [_fmt(aeb[s][key]) for s in systems]) for label, key in AEB_ROWS]
        lines += _table(f"AEB article body, {SHINGLE_N}-token shingles", rows, systems, md)
        lines += _failure_lines(aeb, md) + [""]
    dn = summary.get("dragnet") or {}
    if dn:
        systems = list(dn)
        rows = []
        for label, key in DRAGNET_ROWS:
            if key is None:
                rows.append((label, [f"{dn[s]['pages']} / {dn[s]['pages_with_gold_comments']}" for s in systems]))
            else:
                digits = 1 if key == "mean_comments_extracted" else 3
                rows.append((label, [_fmt(dn[s][key], digits) for s in systems]))
        lines += _table("Dragnet, lowercase word tokens", rows, systems, md)
        lines += _failure_lines(dn, md) + [""]
    sp = summary.get("speed")
    if sp:
        systems = list(sp["median_seconds"])
        rows = [
            ("pages x repeats", [f"{sp['pages']} x {sp['repeats']}" for _ in systems]),
            ("seconds per pass (each repeat)",
             [" ".join(f"{x:.2f}" for x in sp["seconds_per_pass"][s]) for s in systems]),
            ("median seconds per pass", [f"{sp['median_seconds'][s]:.2f}" for s in systems]),
            ("pages per second (median)", [_fmt(sp["pages_per_second"][s], 1) for s in systems]),
        ]
        lines += _table("Speed on AEB (one process, interleaved)", rows, systems, md)
        if "ratio" in sp:
            note = "" if sp.get("newsmill_status_sample") in (None, "ok") else \
                f" (newsmill output: {sp['newsmill_status_sample']}; the ratio is not meaningful)"
            verdict = "within" if sp["within_target"] else "OVER"
            lines += ["", f"newsmill / trafilatura time: {sp['ratio']:.2f}x "
                          f"({verdict} the {sp['target_ratio']}x target){note}"]
        lines.append("")
    return lines


def worst_lines(result: QualityResult, k: int, by: str = "newsmill") -> list[str]:
    """The K lowest pages by ``by``'s page F1, other systems' F1 alongside."""
    lines: list[str] = []
    tables = []
    if result.aeb:
        tables.append(("AEB body (page F1)", result.aeb, lambda s: s.f1))
    if result.dragnet:
        tables.append(("Dragnet comments (page F1)",
                       {sy: [s for s in v if s.comment_f1 is not None] for sy, v in result.dragnet.items()},
                       lambda s: s.comment_f1))
        tables.append(("Dragnet body (page F1)", result.dragnet, lambda s: s.body_f1))
    for title, per_system, key in tables:
        if by not in per_system:
            continue
        others = [s for s in per_system if s != by]
        index = {s: {x.page_id: x for x in per_system[s]} for s in per_system}
        ranked = sorted(per_system[by],
                        key=lambda x: (key(x), *[-key(index[o][x.page_id]) for o in others]))[:k]
        lines += ["", f"worst {len(ranked)} pages for {by}: {title}",
                  f"{'id':<20}" + "".join(f"{s:>13}" for s in per_system) + "  status"]
        for x in ranked:
            vals = "".join(f"{key(index[s][x.page_id]):>13.3f}" for s in per_system)
            lines.append(f"{x.page_id[:18]:<20}{vals}  {x.status}")
    return lines


def doc_section(summary: dict, machine: dict, seconds: float) -> str:
    v = machine["versions"]
    extractor = ("wired into extract_page" if machine["newsmill_html_extractor"]
                 else "not wired in yet (extract_page rejects html as an unsupported format, so "
                      "every newsmill figure below is that of an empty prediction)")
    head = [
        DOC_START,
        "<!-- generated by `python bench/html_eval.py --write-doc`; do not edit by hand -->",
        "",
        f"- Run: {machine['date']}, full data, {seconds:.0f} s wall time, process pool of {machine['workers']}.",
        f"- Machine: {machine['nproc']} CPUs ({machine['cpu']}), {machine['platform']}, Python {machine['python']}; "
        f"load average at start {machine['load_average']}.",
        f"- Versions: newsmill {v['newsmill']} (git {machine['git']}), trafilatura {v['trafilatura']}, "
        f"lxml {v['lxml']}, lxml_html_clean {v['lxml_html_clean']}, charset-normalizer {v['charset-normalizer']}, "
        f"justext {v['justext']}, htmldate {v['htmldate']}.",
        f"- newsmill HTML extractor (`newsmill/extract/html/`): {extractor}.",
        "",
    ]
    return "\n".join(head + report_lines(summary, md=True) + [DOC_END])


def write_doc(section: str, path: Path = DOC_PATH) -> None:
    text = path.read_text(encoding="utf-8")
    i, j = text.find(DOC_START), text.find(DOC_END)
    if i < 0 or j < i:
        raise ValueError(f"{path}: results markers {DOC_START} ... {DOC_END} not found")
    path.write_text(text[:i] + section + text[j + len(DOC_END):], encoding="utf-8")


def _rows(scores: dict[str, list]) -> list[dict]:
    return [asdict(x) for v in scores.values() for x in v]


# --------------------------------------------------------------------------- CLI


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", choices=("aeb", "dragnet", "speed"), help="run one part only")
    ap.add_argument("--limit", type=int,
                    help="N pages per dataset, evenly spaced over the sorted ids (Dragnet: N pages "
                         "with gold comments; the test gate's subset with N=40)")
    ap.add_argument("--json", type=Path, help="also write summary, machine and per-page rows here")
    ap.add_argument("--worst", type=int, default=0, help="list the K lowest pages per measure")
    ap.add_argument("--worst-of", choices=SYSTEMS, default="newsmill", help="rank --worst by this system")
    ap.add_argument("--repeats", type=int, default=SPEED_REPEATS, help="speed passes (median reported)")
    ap.add_argument("--workers", type=int, default=WORKERS, help="extraction processes")
    ap.add_argument("--write-doc", action="store_true",
                    help=f"rewrite the results section of {DOC_PATH.relative_to(REPO_ROOT)} (full runs only)")
    args = ap.parse_args(argv)
    if args.write_doc and (args.only or args.limit):
        ap.error("--write-doc needs a full run (no --only, no --limit)")
    if args.repeats < 1:
        ap.error("--repeats must be >= 1")

    parts = [args.only] if args.only else ["aeb", "dragnet", "speed"]
    have = {"aeb": aeb_present(), "dragnet": dragnet_present(), "speed": aeb_present()}
    missing = [p for p in parts if not have[p]]
    for p in dict.fromkeys(missing):
        where = dragnet_dir() if p == "dragnet" else aeb_dir()
        print(f"skip: {p}: data not found at {where} (set NEWSMILL_SHARED)")
    parts = [p for p in parts if have[p]]
    if not parts:
        return 0
    if args.write_doc and missing:
        print("skip: --write-doc needs all data; the doc was not touched")
        args.write_doc = False

    log = lambda m: print(m, file=sys.stderr)  # noqa: E731
    start = time.perf_counter()
    machine = machine_info()
    if not machine["newsmill_html_extractor"]:
        log("note: extract_page does not handle html yet: newsmill's output is a Reject (empty prediction)")
    quality = run_quality([p for p in parts if p != "speed"], args.limit, workers=args.workers,
                          progress=log) if set(parts) - {"speed"} else QualityResult({}, {}, 0.0)
    summary = quality.summary()
    if "speed" in parts:
        log("timing...")
        summary["speed"] = run_speed(args.limit, args.repeats)
    seconds = time.perf_counter() - start

    print(f"{machine['date']}  nproc {machine['nproc']}  Python {machine['python']}  "
          f"trafilatura {machine['versions']['trafilatura']}  newsmill {machine['versions']['newsmill']} "
          f"(git {machine['git']})  html extractor: {'yes' if machine['newsmill_html_extractor'] else 'NO'}")
    if args.limit:
        print(f"subset: {args.limit} pages per dataset (evenly spaced)")
    print()
    print("\n".join(report_lines(summary)))
    if args.worst:
        print("\n".join(worst_lines(quality, args.worst, args.worst_of)))
    print(f"\nrun time {seconds:.1f} s (quality {quality.seconds:.1f} s)")
    if args.json:
        payload = {"machine": machine, "limit": args.limit, "seconds": seconds, "summary": summary,
                   "pages": {"aeb": _rows(quality.aeb), "dragnet": _rows(quality.dragnet)}}
        args.json.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    if args.write_doc:
        write_doc(doc_section(summary, machine, seconds))
        print(f"wrote results to {DOC_PATH}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
