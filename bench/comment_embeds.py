"""Comment sections a script loads: what newsmill records on AEB, fundus and Dragnet pages.

Per data set: how many pages get each ``comment_system`` with ``comments_in_capture`` false
(an embed whose comments the capture lacks), true (comment records) or null; on Dragnet, whose
gold holds the comments the annotators saw in the saved page, a cross-check: a page reported
'comments not in the capture' whose gold comments are in its HTML is a wrong report.  With
``--labels`` (hand labels, ``bench/labels/comment_embeds_handcheck.json``), the precision of the
reports and of the non-reports on the labelled pages.

The pages are read in place from ``../shared/data`` (or ``$NEWSMILL_SHARED``), never copied.

Usage: python bench/comment_embeds.py [--only aeb,fundus,dragnet] [--limit N] [--json out.json]
                                      [--labels bench/labels/comment_embeds_handcheck.json]
"""
from __future__ import annotations

import argparse
import gzip
import json
import re
import sys
import time
from collections import Counter
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = Path(__file__).resolve().parent
for _p in (REPO_ROOT, BENCH_DIR):
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))

from dragnet_dump_recall import shared_data_dir  # noqa: E402

from newsmill.clean import comments_in_capture  # noqa: E402
from newsmill.extract.html import COMMENTS_NOT_EXTRACTED, extract_html  # noqa: E402
from newsmill.extract.html.tree import parse  # noqa: E402

_WORDS = re.compile(r"\w+")


def pages(dataset: str) -> list[Path]:
    root = shared_data_dir() / dataset
    pattern = {"aeb": "html/*.html.gz", "fundus": "*/*.html.gz", "dragnet": "HTML/*.html.gz"}[dataset]
    return sorted(root.glob(pattern))


def page_id(dataset: str, path: Path) -> str:
    return f"{dataset}:{path.relative_to(shared_data_dir() / dataset)}"


def _norm(text: str) -> str:
    return " ".join(_WORDS.findall(text.lower()))


def dragnet_gold_in_html(path: Path, html: str) -> str:
    """'none' (no gold comments), 'in_html' (most gold comment lines are in the page's text) or 'absent'."""
    gold = (path.parent.parent / "Corrected" / (path.name[: -len(".html.gz")] + ".html.corrected.txt"))
    lines = gold.read_text(encoding="utf-8", errors="replace").split("\n")
    marker = next((i for i, line in enumerate(lines) if "%^&*" in line), None)
    comments = [line for line in lines[marker + 1:] if len(line.strip()) >= 40] if marker is not None else []
    if not comments:
        return "none"
    tree = parse(html)
    text = _norm(tree.text_content()) if tree is not None else ""
    found = sum(1 for line in comments if _norm(line)[:60] in text)
    return "in_html" if found / len(comments) >= 0.5 else "absent"


def run(datasets: list[str], limit: int | None) -> dict:
    out: dict = {"pages": {}, "seconds": {}}
    for ds in datasets:
        started = time.monotonic()
        for path in pages(ds)[:limit]:
            html = gzip.decompress(path.read_bytes()).decode("utf-8", "replace")
            raw = extract_html(html)
            row = {"dataset": ds, "comment_system": raw.comment_system, "comments": len(raw.comments),
                   "comments_in_capture": comments_in_capture(len(raw.comments), raw.comment_system,
                                                              unread=COMMENTS_NOT_EXTRACTED in raw.flags)}
            if ds == "dragnet":
                row["gold"] = dragnet_gold_in_html(path, html)
            out["pages"][page_id(ds, path)] = row
        out["seconds"][ds] = round(time.monotonic() - started, 1)
    return out


def report(result: dict, labels: dict | None) -> str:
    lines = []
    rows = result["pages"].values()
    for ds in dict.fromkeys(r["dataset"] for r in rows):
        mine = [r for r in rows if r["dataset"] == ds]
        states = Counter(r["comments_in_capture"] for r in mine)
        missing = Counter(r["comment_system"] for r in mine if r["comments_in_capture"] is False)
        lines.append(f"## {ds}: {len(mine)} pages ({result['seconds'][ds]} s)")
        lines.append(f"- comments_in_capture true {states[True]}, false {states[False]}, null {states[None]}")
        lines.append(f"- not in the capture, by system: {sum(missing.values())} ("
                     + ", ".join(f"{k} {v}" for k, v in missing.most_common()) + ")")
        captured = Counter(r["comment_system"] or "(none)" for r in mine if r["comments_in_capture"] is True)
        lines.append("- captured, by system: " + ", ".join(f"{k} {v}" for k, v in captured.most_common()))
        if ds == "dragnet":
            cross = Counter((r["comments_in_capture"], r["gold"]) for r in mine)
            lines.append(f"- gold cross-check: reported missing but gold comments in the HTML: {cross[(False, 'in_html')]};"
                         f" reported missing, no gold comments: {cross[(False, 'none')]};"
                         f" nothing reported, gold comments in the HTML (extraction misses): {cross[(None, 'in_html')]}")
    if labels:
        lines.append("## Hand-labelled pages (current output against the labels)")
        pages_out = result["pages"]
        scored = [(v, pages_out[k]) for k, v in labels["pages"].items() if k in pages_out]
        flagged = [(v, r) for v, r in scored if r["comments_in_capture"] is False]
        silent = [(v, r) for v, r in scored if r["comments_in_capture"] is None and r["comment_system"] is None]
        right = sum(1 for v, _ in flagged if v["truth"] == "script_loaded")
        named = [(v, r) for v, r in flagged if v["truth"] == "script_loaded" and v["system"]]
        lines.append(f"- reported 'not in the capture': {right}/{len(flagged)} correct (precision "
                     f"{right / len(flagged):.2f}); system named right {sum(1 for v, r in named if r['comment_system'] == v['system'])}"
                     f"/{len(named)}" if flagged else "- no labelled page reported")
        quiet_right = sum(1 for v, _ in silent if v["truth"] == "none")
        lines.append(f"- nothing reported: {quiet_right}/{len(silent)} correct; missed: "
                     + ", ".join(k.split('/')[-1] for k, v in labels["pages"].items()
                                 if k in pages_out and v["truth"] == "script_loaded"
                                 and pages_out[k]["comments_in_capture"] is not False) if silent else "- no labelled page silent")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", default="aeb,fundus,dragnet")
    ap.add_argument("--limit", type=int)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--labels", type=Path)
    args = ap.parse_args()
    result = run(args.only.split(","), args.limit)
    if args.json:
        args.json.write_text(json.dumps(result, indent=1), encoding="utf-8")
    labels = json.loads(args.labels.read_text(encoding="utf-8")) if args.labels else None
    print(report(result, labels))


if __name__ == "__main__":
    main()
