"""Article dates against the page's own comments, and what validation does with the comments.

The Dragnet gold has no publication date, so its date accuracy cannot be scored; what can be
measured is whether the dates newsmill publishes are consistent with the page: per page it runs
``extract_page`` + ``clean_page`` (as the pipeline does), then ``validate_tables`` on all rows
together, and reports

* articles whose date was replaced by a candidate the comments allow
  (``published_date_from_comments_check``) or kept and flagged (``published_date_inconsistent``);
* comments the article-relative check only warns about (posted long before the article);
* comments quarantined, by reason (an out-of-line comment is quarantined alone; a whole thread
  is never quarantined because of its article's date).

Data: ``../shared/data/dragnet/HTML`` (or ``$NEWSMILL_SHARED``), read in place.

Usage: python bench/date_consistency.py [--limit N] [--list K]
"""
from __future__ import annotations

import argparse
import gzip
import hashlib
import os
import sys
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)  # validation's 'now' (dates after it are implausible)
DATE_FLAGS = ("published_date_from_comments_check", "published_date_inconsistent")


def dragnet_html() -> Path:
    base = os.environ.get("NEWSMILL_SHARED")
    root = Path(base) if base else REPO_ROOT.parent / "shared" / "data"
    if not (root / "dragnet").is_dir():
        root = Path("/work/shared/data")
    return root / "dragnet" / "HTML"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--limit", type=int, help="N pages, evenly spaced over the sorted names")
    ap.add_argument("--list", type=int, default=10, help="list up to K pages per finding")
    args = ap.parse_args(argv)
    root = dragnet_html()
    if not root.is_dir():
        print(f"skip: Dragnet HTML not found at {root} (set NEWSMILL_SHARED)")
        return 0
    from newsmill import schema
    from newsmill.clean import CleanContext, clean_page
    from newsmill.extract import extract_page
    from newsmill.records import PageInput, Reject
    from newsmill.validate import gx_run

    paths = sorted(root.glob("*.html.gz"))
    if args.limit and args.limit < len(paths):
        paths = [paths[int(i * len(paths) / args.limit)] for i in range(args.limit)]
    ctx = CleanContext(b"k" * 32, NOW, "bench")
    articles, comments, page_of = [], [], {}
    for p in paths:
        data = gzip.decompress(p.read_bytes())
        page = PageInput(uri=str(p), data=data, sha256=hashlib.sha256(data).hexdigest(), format="html")
        out = extract_page(page)
        if isinstance(out, Reject):
            continue
        raw, profile = out
        a, cs = clean_page(raw, page, profile, ctx)
        if a["article_id"] in page_of:  # the same page twice (ids from content): keep the first
            continue
        page_of[a["article_id"]] = p.name.split(".")[0]
        articles.append(a)
        comments += cs
    res = gx_run.validate_tables(schema.to_arrow("articles", articles), schema.to_arrow("comments", comments), now=NOW)
    print(f"Dragnet HTML: {len(articles)} articles, {len(comments)} comments "
          f"({sum(1 for a in articles if a['comment_count_extracted'])} articles with comments)")
    for flag in DATE_FLAGS:
        pages = [page_of[a["article_id"]] for a in articles if flag in a["flags"]]
        print(f"  articles flagged {flag}: {len(pages)}  {' '.join(pages[: args.list])}")
    early = [o for o in res.outcomes if o.column == "_chk_hours_after_article"]
    print(f"  comments posted long before their article (warning, kept): {early[0].unexpected_count if early else 0}")
    q = res.quarantine["comments"].to_pylist()
    reasons = Counter(r for row in q for r in row["quarantine_reasons"])
    print(f"  comments quarantined: {len(q)}")
    for why, n in reasons.most_common():
        pages = Counter(page_of.get(row["article_id"], "?") for row in q if why in row["quarantine_reasons"])
        print(f"    {n:5d}  {why}\n           pages: {' '.join(f'{k}({v})' for k, v in pages.most_common(args.list))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
