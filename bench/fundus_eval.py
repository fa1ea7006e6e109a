"""Article metadata on the fundus pages: newsmill (extract + clean) next to bare trafilatura.

The fundus data set (``../shared/data/fundus`` or ``$NEWSMILL_SHARED/fundus``, read in place,
never copied) holds 258 current news pages of ~180 publishers with gold title, authors and
publication time (with its UTC offset); see its README.

Per page, newsmill runs as the pipeline does: ``extract_page`` on a ``PageInput`` carrying the
page URL and the crawl date as capture time, then ``clean_page``; the article row is scored.
trafilatura runs as ``bare_extraction(html, url=..., with_metadata=True)``.  Measures:

* title: exact after whitespace normalisation (and Unicode NFC, invisible formatting characters removed);
* authors: the set of names equals the gold set (whitespace-normalised, case-folded; a page whose
  gold has no author needs an empty prediction);
* date, day: the gold's calendar date in its own offset equals ``published_date`` (trafilatura:
  its ``date``, a day);
* date, minute: the gold instant in UTC equals ``published_at`` to the minute (trafilatura gives
  no time: n/a).

A reject, ``None`` or exception counts as a miss.  The trafilatura side does not change with
newsmill's code, so it is cached under ``~/.cache/newsmill/`` (keyed by the page's bytes and the
trafilatura version).

Usage: python bench/fundus_eval.py [--limit N] [--worst K] [--json out.json] [--workers N]
                                   [--systems newsmill,trafilatura]
"""
from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import sys
import time
import unicodedata
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Sequence

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

SYSTEMS = ("newsmill", "trafilatura")
MEASURES = ("title", "authors", "date_day", "date_minute")
CACHE_DIR = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "newsmill"


def fundus_dir() -> Path:
    base = os.environ.get("NEWSMILL_SHARED")
    root = Path(base) if base else REPO_ROOT.parent / "shared" / "data"
    if not (root / "fundus").is_dir():
        root = Path("/work/shared/data")
    return root / "fundus"


def fundus_present(root: Path | None = None) -> bool:
    root = root or fundus_dir()
    return (root / "pages.json").is_file()


@dataclass(frozen=True)
class FundusPage:
    page_id: str  # path under the data folder
    url: str
    crawl_date: str
    title: str
    authors: tuple[str, ...]
    publishing_date: str | None


def load_fundus(root: Path | None = None) -> list[FundusPage]:
    root = root or fundus_dir()
    data = json.loads((root / "pages.json").read_text(encoding="utf-8"))
    return [FundusPage(k, v.get("url") or "", v.get("crawl_date") or "", v.get("title") or "",
                       tuple(v.get("authors") or ()), v.get("publishing_date")) for k, v in sorted(data.items())]


def select(pages: list[FundusPage], limit: int | None) -> list[FundusPage]:
    """All pages, or ``limit`` pages evenly spaced over the sorted ids."""
    if not limit or limit >= len(pages):
        return pages
    step = len(pages) / limit
    return [pages[int(i * step)] for i in range(limit)]


# --------------------------------------------------------------------------- normalisation


# invisible formatting characters (soft hyphen, zero-width space/joiners, BOM): no reader sees them,
# and a page carries them where the gold does not or the reverse (as bench/e2e_eval.py scores)
_INVISIBLE = dict.fromkeys(map(ord, "\u00ad\u200b\u200c\u200d\u2060\ufeff"))


def norm(s: str | None) -> str:
    return " ".join(unicodedata.normalize("NFC", s or "").translate(_INVISIBLE).split())


def author_set(names) -> frozenset[str]:
    return frozenset(norm(n).casefold() for n in names or () if norm(n))


def _capture(crawl_date: str) -> datetime | None:
    try:
        t = datetime.fromisoformat(crawl_date)
    except ValueError:
        return None
    return t if t.tzinfo else t.replace(tzinfo=timezone.utc)  # the crawl log is naive; taken as UTC


# --------------------------------------------------------------------------- systems


@dataclass
class Meta:
    title: str | None = None
    authors: list[str] = field(default_factory=list)
    day: str | None = None  # YYYY-MM-DD
    minute: str | None = None  # YYYY-MM-DDTHH:MM in UTC
    status: str = "ok"
    detail: str = ""
    flags: list[str] = field(default_factory=list)


def run_newsmill(data: bytes, page: FundusPage) -> Meta:
    from newsmill.clean import CleanContext, clean_page
    from newsmill.extract import extract_page
    from newsmill.records import PageInput, Reject

    inp = PageInput(uri=page.page_id, data=data, sha256=hashlib.sha256(data).hexdigest(), format="html",
                    url=page.url or None, captured_at=_capture(page.crawl_date))
    try:
        out = extract_page(inp)
        if isinstance(out, Reject):
            return Meta(status=f"reject:{out.reason}", detail=out.detail[:200])
        raw, profile = out
        ctx = CleanContext(b"fundus-eval", datetime.now(timezone.utc), "bench")
        article, _comments = clean_page(raw, inp, profile, ctx)
    except Exception as exc:  # noqa: BLE001 - one bad page must not hide the others
        return Meta(status=f"error:{type(exc).__name__}", detail=str(exc)[:200])
    at = article["published_at"]
    return Meta(title=article["title"], authors=list(article["authors"]),
                day=article["published_date"].isoformat() if article["published_date"] else None,
                minute=at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M") if at else None,
                flags=list(article["flags"]))


def run_trafilatura(data: bytes, page: FundusPage) -> Meta:
    import trafilatura

    try:
        doc = trafilatura.bare_extraction(data, url=page.url or None, with_metadata=True)
    except Exception as exc:  # noqa: BLE001
        return Meta(status=f"error:{type(exc).__name__}", detail=str(exc)[:200])
    if doc is None:
        return Meta(status="no_result")
    author = doc.author or ""
    return Meta(title=doc.title, authors=[a.strip() for a in author.split(";") if a.strip()],
                day=(doc.date or None) and doc.date[:10])


def _traf_cache() -> Path:
    from importlib import metadata

    return CACHE_DIR / f"fundus_trafilatura_{metadata.version('trafilatura')}.json"


def extract_one(args: tuple[FundusPage, str, tuple[str, ...]]) -> tuple[str, dict[str, Meta]]:
    page, path, systems = args
    data = gzip.decompress(Path(path).read_bytes())
    runners = {"newsmill": run_newsmill, "trafilatura": run_trafilatura}
    return page.page_id, {s: runners[s](data, page) for s in systems}


# --------------------------------------------------------------------------- scoring


def gold_day_minute(page: FundusPage) -> tuple[str | None, str | None]:
    if not page.publishing_date:
        return None, None
    try:
        t = datetime.fromisoformat(page.publishing_date)
    except ValueError:
        return None, None
    minute = t.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M") if t.tzinfo else None
    return t.date().isoformat(), minute


def score(page: FundusPage, m: Meta, system: str) -> dict:
    day, minute = gold_day_minute(page)
    return {
        "title": norm(m.title) == norm(page.title),
        "authors": author_set(m.authors) == author_set(page.authors),
        "date_day": (m.day == day) if day else None,
        "date_minute": None if minute is None or system == "trafilatura" else m.minute == minute,
    }


def summarize(rows: list[dict], system: str) -> dict:
    out = {}
    for k in MEASURES:
        vals = [r[system]["score"][k] for r in rows if r[system]["score"][k] is not None]
        out[k] = {"rate": sum(vals) / len(vals) if vals else None, "n": len(vals), "ok": sum(vals)}
    out["failed"] = sum(1 for r in rows if r[system]["status"] != "ok")
    return out


def run(pages: list[FundusPage], systems: Sequence[str], workers: int) -> list[dict]:
    root = fundus_dir()
    cache: dict = {}
    cache_path = _traf_cache() if "trafilatura" in systems else None
    if cache_path and cache_path.is_file():
        cache = json.loads(cache_path.read_text(encoding="utf-8"))
    todo = []
    for p in pages:
        need = tuple(s for s in systems if not (s == "trafilatura" and p.page_id in cache))
        todo.append((p, str(root / p.page_id), need))
    results: dict[str, dict[str, Meta]] = {}
    if workers <= 1:
        for job in todo:
            pid, res = extract_one(job)
            results[pid] = res
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            for pid, res in pool.map(extract_one, todo, chunksize=4):
                results[pid] = res
    rows = []
    for p in pages:
        res = results[p.page_id]
        if "trafilatura" in systems:
            if "trafilatura" in res:
                cache[p.page_id] = asdict(res["trafilatura"])
            res["trafilatura"] = Meta(**cache[p.page_id])
        day, minute = gold_day_minute(p)
        row = {"page": p.page_id, "gold": {"title": p.title, "authors": list(p.authors), "day": day, "minute": minute}}
        for s in systems:
            m = res[s]
            row[s] = {**asdict(m), "score": score(p, m, s)}
        rows.append(row)
    if cache_path:
        cache_path.parent.mkdir(parents=True, exist_ok=True)
        cache_path.write_text(json.dumps(cache), encoding="utf-8")
    return rows


def _fmt(d: dict) -> str:
    return "n/a" if d["rate"] is None else f"{d['rate']:.3f} ({d['ok']}/{d['n']})"


def report(rows: list[dict], systems: Sequence[str]) -> list[str]:
    sums = {s: summarize(rows, s) for s in systems}
    lines = [f"fundus: {len(rows)} pages", f"{'measure':<14}" + "".join(f"{s:>22}" for s in systems)]
    for k in MEASURES:
        lines.append(f"{k:<14}" + "".join(f"{_fmt(sums[s][k]):>22}" for s in systems))
    lines.append(f"{'failed':<14}" + "".join(f"{sums[s]['failed']:>22}" for s in systems))
    return lines


def worst(rows: list[dict], system: str, k: int) -> list[str]:
    lines = []
    for measure, pred_key, gold_key in (("title", "title", "title"), ("authors", "authors", "authors"),
                                        ("date_day", "day", "day"), ("date_minute", "minute", "minute")):
        bad = [r for r in rows if r[system]["score"][measure] is False]
        lines.append(f"\n{system} {measure}: {len(bad)} wrong" + (f" (first {k})" if len(bad) > k else ""))
        for r in bad[:k]:
            lines.append(f"  {r['page']}: got {r[system][pred_key]!r} gold {r['gold'][gold_key]!r}"
                         + (f" [{r[system]['status']}]" if r[system]["status"] != "ok" else ""))
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--limit", type=int, help="N pages, evenly spaced over the sorted ids")
    ap.add_argument("--worst", type=int, default=0, help="list up to K wrong pages per measure")
    ap.add_argument("--json", type=Path, help="write summary and per-page rows here")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--systems", default=",".join(SYSTEMS))
    args = ap.parse_args(argv)
    if not fundus_present():
        print(f"skip: fundus data not found at {fundus_dir()} (set NEWSMILL_SHARED)")
        return 0
    systems = [s for s in args.systems.split(",") if s in SYSTEMS]
    start = time.perf_counter()
    rows = run(select(load_fundus(), args.limit), systems, args.workers)
    print("\n".join(report(rows, systems)))
    if args.worst:
        print("\n".join(worst(rows, systems[0], args.worst)))
    print(f"\nrun time {time.perf_counter() - start:.1f} s")
    if args.json:
        args.json.write_text(json.dumps({"summary": {s: summarize(rows, s) for s in systems}, "pages": rows},
                                        indent=1, default=str) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
