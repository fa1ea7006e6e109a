"""Write WARC benchmark corpora of N pages by reusing real pages with varied ids and URLs.

    python bench/build_corpus.py --pages 1000          # -> ${NEWSMILL_CACHE:-~/.cache/newsmill}/corpus-1000.warc.gz
    python bench/build_corpus.py --pages 1000 --out /tmp/c.warc.gz

The default output is the cache folder (never the repo). A corpus is ~21 KB per page gzipped
(~90 KB of HTML) when the ../shared pages are present: 100k pages ~ 2.1 GB. Before writing, the
free disk space is checked against an estimate (``--max-gb`` bounds the file).

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
import shutil
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("NEWSMILL_SHARED", REPO.parent / "shared"))
CACHE = Path(os.environ.get("NEWSMILL_CACHE", "~/.cache/newsmill")).expanduser()


def default_path(n: int) -> Path:
    """Where the benchmarks look for the corpus of ``n`` pages."""
    return CACHE / f"corpus-{n}.warc.gz"


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


def estimate_bytes(pages: list[tuple[str, bytes]], n: int) -> int:
    """Rough gzipped size of an n-page corpus (HTML compresses ~4.3x)."""
    mean = sum(len(d) for _, d in pages) / len(pages)
    return int(n * (mean / 4.3 + 600))


def write_corpus(n: int, out: Path, *, limit_shared: int | None = None, max_gb: float | None = None) -> Path:
    pages = source_pages(limit_shared)
    if not pages:
        raise SystemExit("no source pages found")
    out.parent.mkdir(parents=True, exist_ok=True)
    need = estimate_bytes(pages, n)
    free = shutil.disk_usage(out.parent).free
    if max_gb is not None and need > max_gb * 1e9:
        raise SystemExit(f"estimated {need / 1e9:.1f} GB > --max-gb {max_gb}: not written")
    if need * 1.5 + 5e9 > free:
        raise SystemExit(f"estimated {need / 1e9:.1f} GB but only {free / 1e9:.1f} GB free under {out.parent}: "
                         "not written (keep 5 GB spare)")
    tmp = out.with_name(out.name + ".part")  # a killed build never leaves a truncated corpus under the real name
    t0 = datetime(2012, 1, 1, tzinfo=UTC)
    with open(tmp, "wb") as f:
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
    os.replace(tmp, out)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pages", type=int, required=True)
    ap.add_argument("--out", type=Path, default=None,
                    help="default: ${NEWSMILL_CACHE:-~/.cache/newsmill}/corpus-<pages>.warc.gz")
    ap.add_argument("--limit-shared", type=int, default=None, help="use at most this many ../shared pages")
    ap.add_argument("--max-gb", type=float, default=5.0, help="refuse corpora estimated larger than this (default 5)")
    args = ap.parse_args(argv)
    out = (args.out or default_path(args.pages)).expanduser()
    pages = source_pages(args.limit_shared)
    n_html = sum(1 for k, _ in pages if k == "html")
    print(f"{len(pages)} source pages ({n_html} html, {len(pages) - n_html} text dumps), cycled; "
          f"estimated {estimate_bytes(pages, args.pages) / 1e6:.0f} MB")
    path = write_corpus(args.pages, out, limit_shared=args.limit_shared, max_gb=args.max_gb)
    print(f"wrote {args.pages} pages to {path} ({path.stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
