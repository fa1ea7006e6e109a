"""Write WARC benchmark corpora of N pages by reusing real pages with varied ids and URLs.

    python bench/build_corpus.py --pages 1000 --out ~/.cache/newsmill/corpus-1k.warc.gz

Pages come from `samples/` (always) and, when present, the HTML pages of `../shared/data`
(Dragnet and AEB: read in place, written only to the corpus outside the repo, never committed).
Each copy gets its own URL (so its own article id) and a slightly varied body, so that the
pipeline cannot deduplicate the corpus away: the benchmark measures N real extractions.
"""
from __future__ import annotations

import argparse
import gzip
import io
import os
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("NEWSMILL_SHARED", REPO.parent / "shared"))


def source_pages(limit_shared: int | None = None) -> list[tuple[str, bytes]]:
    """(kind, bytes): 'html' or 'text' pages to cycle through."""
    pages: list[tuple[str, bytes]] = []
    for p in sorted((REPO / "samples").iterdir()):
        data = gzip.decompress(p.read_bytes()) if p.name.endswith(".gz") else p.read_bytes()
        kind = "html" if ".htm" in p.name else "text"
        pages.append((kind, data))
    shared = sorted((SHARED / "data" / "dragnet" / "HTML").glob("*.html.gz")) + \
        sorted((SHARED / "data" / "aeb" / "html").glob("*.html.gz"))
    for p in shared[:limit_shared]:
        pages.append(("html", gzip.decompress(p.read_bytes())))
    return pages


def _vary(kind: str, data: bytes, i: int) -> bytes:
    """A marker paragraph that makes each copy a distinct page with the same structure."""
    marker = f"Corpus copy {i}.".encode()
    if kind == "html":
        lower = data.lower()
        at = lower.rfind(b"</body>")
        return data[:at] + b"<p>" + marker + b"</p>" + data[at:] if at >= 0 else data + marker
    return data + b"\n\n" + marker + b"\n"


def write_corpus(n: int, out: Path, *, limit_shared: int | None = None) -> Path:
    pages = source_pages(limit_shared)
    if not pages:
        raise SystemExit("no source pages found")
    out.parent.mkdir(parents=True, exist_ok=True)
    t0 = datetime(2012, 1, 1, tzinfo=timezone.utc)
    with open(out, "wb") as f:
        w = WARCWriter(f, gzip=True)
        for i in range(n):
            kind, data = pages[i % len(pages)]
            body = _vary(kind, data, i)
            url = f"https://corpus.newsmill.test/{i // 1000:04d}/page-{i:07d}"
            date = (t0 + timedelta(minutes=i)).strftime("%Y-%m-%dT%H:%M:%SZ")
            if kind == "html":
                http = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8"),
                                                   ("Content-Length", str(len(body)))], protocol="HTTP/1.1")
                rec = w.create_warc_record(url, "response", payload=io.BytesIO(body), http_headers=http,
                                           warc_headers_dict={"WARC-Date": date})
            else:
                rec = w.create_warc_record(url, "conversion", payload=io.BytesIO(body),
                                           warc_headers_dict={"WARC-Date": date, "Content-Type": "text/plain"})
            w.write_record(rec)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pages", type=int, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--limit-shared", type=int, default=None, help="use at most this many ../shared pages")
    args = ap.parse_args(argv)
    path = write_corpus(args.pages, args.out.expanduser(), limit_shared=args.limit_shared)
    print(f"wrote {args.pages} pages to {path} ({path.stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
