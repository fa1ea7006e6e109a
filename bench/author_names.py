"""What ``--authors drop`` leaves of commenters' names, on the HTML evaluation pages.

For each page: extract, clean once with ``keep`` (the names) and once with ``drop``, and count
the ``drop`` comment rows whose text, ``posted_raw``, ``reply_to_name`` or ``author`` still hold
a name that one of the page's commenters shows as theirs (whole word, case and NFKC width
aside, names of 3+ characters; a cruder check than the one cleaning applies, so the few it
finds are read by hand: e.g. commenter 'don' in "don't", left alone on purpose). Also counted:
comments naming a commenter of the page without '@' (what ``drop`` now replaces), and
authors flagged ``author_hidden_characters``.

The data lives outside the repo (``../shared/data`` or ``$NEWSMILL_SHARED``); nothing of it is
written anywhere, only counts are printed.

Usage: python bench/author_names.py [--limit N] [--seed S]
"""
from __future__ import annotations

import argparse
import os
import random
import re
import sys
import unicodedata
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from newsmill import clean  # noqa: E402
from newsmill.extract import extract_page  # noqa: E402
from newsmill.records import Reject  # noqa: E402
from newsmill.sources import read_input  # noqa: E402


def pages() -> list[Path]:
    env = os.environ.get("NEWSMILL_SHARED")
    root = Path(env).expanduser() if env else REPO.parent / "shared" / "data"
    return sorted((root / "dragnet" / "HTML").glob("*")) + sorted((root / "aeb" / "html").glob("*.html*"))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--limit", type=int, default=0, help="pages (a random sample with --seed); 0: all")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    files = pages()
    if not files:
        print("skip: no evaluation pages found (set NEWSMILL_SHARED)")
        return 0
    if args.limit:
        random.Random(args.seed).shuffle(files)
        files = files[: args.limit]
    when = datetime(2026, 1, 1, tzinfo=timezone.utc)
    keep = clean.CleanContext(b"bench-key-0123456789abcdef", when, "bench", authors_mode="keep")
    drop = clean.CleanContext(b"bench-key-0123456789abcdef", when, "bench", authors_mode="drop")
    n_pages = n_rows = left = named = hidden = 0
    for f in files:
        page = read_input(str(f))
        if isinstance(page, Reject):
            continue
        try:
            got = extract_page(page)
            if isinstance(got, Reject):
                continue
            raw, profile = got
            _, krows = clean.clean_page(raw, page, profile, keep)
            raw, profile = extract_page(page)  # cleaning takes the page's records as they come: extract again
            _, drows = clean.clean_page(raw, page, profile, drop)
        except Exception as exc:  # a bench counts pages; the pipeline's own tests cover failures
            print(f"error: {f.name}: {type(exc).__name__}: {exc}", file=sys.stderr)
            continue
        n_pages += 1
        names = sorted({r["author"] for r in krows if r["author"]}, key=len, reverse=True)
        written = clean._names_pattern(names)
        pats = [re.compile(rf"(?<!\w){re.escape(n)}(?!\w)", re.I) for n in names if len(n) >= 3]
        for k, d in zip(krows, drows):
            n_rows += 1
            hidden += "author_hidden_characters" in k["flags"]
            named += any(k["text"][max(0, a - 1):a] != "@" for a, _ in clean._name_spans(k["text"], written))
            shown = unicodedata.normalize("NFKC", " ".join(str(d[c]) for c in ("text", "posted_raw", "reply_to_name",
                                                                              "author")))
            left += any(p.search(shown) for p in pats)
    print(f"pages {n_pages}, comments {n_rows}")
    print(f"  comments naming a commenter of their page without '@': {named}")
    print(f"  authors flagged author_hidden_characters:              {hidden}")
    print(f"  drop rows still holding a commenter's name (3+ chars):  {left}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
