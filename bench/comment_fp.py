"""Comment false positives: pages WITHOUT a reader-comment section must give no comment rows.

AEB and fundus have no gold comments, so which of their pages show reader comments in the
saved HTML was decided by hand and is kept as data in ``bench/labels/comment_sections.json``
(page id -> ``{"has_comments_in_html": bool, "note": str}``; ids are ``aeb/<sha256>`` and
``fundus/<path in pages.json>``).  This script runs newsmill's ``extract_page`` on every page
of both sets and reports, over the pages labelled as having no comment section, how many got
comment rows (the false-positive page rate) and how many rows; pages that got comments but
carry no label yet are listed so that they can be looked at and labelled.

The evaluation data stays outside the repo (``../shared/data`` or ``$NEWSMILL_SHARED``).

Usage: python bench/comment_fp.py [--only aeb|fundus] [--limit N] [--list] [--json out.json]
"""
from __future__ import annotations

import argparse
import gzip
import json
import sys
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = Path(__file__).resolve().parent
for _p in (REPO_ROOT, BENCH_DIR):
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))

from dragnet_dump_recall import shared_data_dir  # noqa: E402

LABELS = BENCH_DIR / "labels" / "comment_sections.json"
TARGET = 0.02


@dataclass(frozen=True)
class Page:
    page_id: str  # 'aeb/<sha>' | 'fundus/<country>/<file>'
    path: str
    url: str | None


def pages(only: str | None = None) -> list[Page]:
    root = shared_data_dir()
    out: list[Page] = []
    if only in (None, "aeb") and (root / "aeb" / "ground-truth.json").is_file():
        gt = json.loads((root / "aeb" / "ground-truth.json").read_text(encoding="utf-8"))
        out += [Page(f"aeb/{k}", str(root / "aeb" / "html" / f"{k}.html.gz"), v.get("url") or None)
                for k, v in sorted(gt.items())]
    if only in (None, "fundus") and (root / "fundus" / "pages.json").is_file():
        meta = json.loads((root / "fundus" / "pages.json").read_text(encoding="utf-8"))
        out += [Page(f"fundus/{k}", str(root / "fundus" / k), v.get("url") or None) for k, v in sorted(meta.items())]
    return out


def run_page(page: Page) -> tuple[str, int, str]:
    """(page id, comment rows, extractor) of one page; errors count as no rows."""
    import hashlib

    from newsmill.extract import extract_page
    from newsmill.records import PageInput, Reject

    data = gzip.decompress(Path(page.path).read_bytes())
    try:
        out = extract_page(PageInput(uri=page.path, data=data, sha256=hashlib.sha256(data).hexdigest(),
                                     format="html", url=page.url))
    except Exception as exc:  # noqa: BLE001 - one bad page must not hide the others
        return page.page_id, 0, f"error:{type(exc).__name__}"
    if isinstance(out, Reject):
        return page.page_id, 0, f"reject:{out.reason}"
    raw, _ = out
    return page.page_id, len(raw.comments), raw.extractor or ""


def load_labels(path: Path = LABELS) -> dict[str, dict]:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def summarize(results: dict[str, tuple[int, str]], labels: dict[str, dict]) -> dict:
    """False-positive page rate and rows over pages labelled without comments, per data set."""
    out = {}
    for ds in sorted({pid.split("/", 1)[0] for pid in results}):
        ids = [pid for pid in results if pid.startswith(ds + "/")]
        neg = [pid for pid in ids if pid in labels and not labels[pid]["has_comments_in_html"]]
        pos = [pid for pid in ids if pid in labels and labels[pid]["has_comments_in_html"]]
        fp = [pid for pid in neg if results[pid][0] > 0]
        out[ds] = {
            "pages": len(ids),
            "labelled": len(neg) + len(pos),
            "labelled_with_comments": len(pos),
            "labelled_without_comments": len(neg),
            "false_positive_pages": len(fp),
            "false_positive_rows": sum(results[pid][0] for pid in fp),
            "false_positive_rate": len(fp) / len(neg) if neg else None,
            "with_comments_found": sum(1 for pid in pos if results[pid][0] > 0),
            "unlabelled_with_output": sorted(pid for pid in ids if pid not in labels and results[pid][0] > 0),
            "false_positives": sorted(fp),
        }
    neg_all = sum(v["labelled_without_comments"] for v in out.values())
    fp_all = sum(v["false_positive_pages"] for v in out.values())
    out["all"] = {"labelled_without_comments": neg_all, "false_positive_pages": fp_all,
                  "false_positive_rows": sum(v["false_positive_rows"] for v in out.values()),
                  "false_positive_rate": fp_all / neg_all if neg_all else None}
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", choices=("aeb", "fundus"))
    ap.add_argument("--limit", type=int, help="first N pages (sorted ids) per run, for a quick look")
    ap.add_argument("--list", action="store_true", help="print every page with comment output")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--json", type=Path, help="write per-page results and the summary here")
    args = ap.parse_args(argv)
    todo = pages(args.only)
    if not todo:
        print(f"skip: no data under {shared_data_dir()} (set NEWSMILL_SHARED)")
        return 0
    if args.limit:
        todo = todo[: args.limit]
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        results = {pid: (n, ext) for pid, n, ext in pool.map(run_page, todo, chunksize=4)}
    labels = load_labels()
    summary = summarize(results, labels)
    for ds, s in summary.items():
        if ds == "all":
            rate = s["false_positive_rate"]
            print(f"all: {s['false_positive_pages']}/{s['labelled_without_comments']} pages without comments got "
                  f"comment rows ({rate:.1%}; target <= {TARGET:.0%}), {s['false_positive_rows']} rows"
                  if rate is not None else "all: no labelled pages")
            continue
        rate = s["false_positive_rate"]
        print(f"{ds}: {s['pages']} pages, labelled {s['labelled']} ({s['labelled_with_comments']} with comments, "
              f"{s['labelled_without_comments']} without); false positives {s['false_positive_pages']} pages "
              f"({'n/a' if rate is None else f'{rate:.1%}'}), {s['false_positive_rows']} rows; "
              f"labelled-with-comments pages with output {s['with_comments_found']}/{s['labelled_with_comments']}")
        for pid in s["false_positives"]:
            print(f"  FP {pid}: {results[pid][0]} rows ({results[pid][1]})")
        for pid in s["unlabelled_with_output"]:
            print(f"  UNLABELLED with output {pid}: {results[pid][0]} rows ({results[pid][1]})")
    if args.list:
        for pid, (n, ext) in sorted(results.items()):
            if n:
                lab = labels.get(pid, {}).get("has_comments_in_html")
                print(f"{pid}\t{n}\t{ext}\tlabel={lab}")
    if args.json:
        args.json.write_text(json.dumps({"summary": summary, "pages": results}, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
