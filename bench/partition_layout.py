"""Partitioning and file sizing of the published tables: files, bytes and read times, side by side.

A synthetic dataset of ``--pages`` articles (default 100k) from ``--sites`` sites (default 3,000,
sizes Zipf-like: a few big sites, a long tail) over 2014-2026, with ``--comments`` comments per
article on average (a skewed count, most articles none), bodies and comments of realistic length,
is written in each candidate layout by newsmill's own part-file writer (``newsmill.store.partfile``:
zstd, rows in part-file order, row groups of ``ROW_GROUP_BYTES``), then read back by DuckDB and
pandas, the layouts interleaved round by round so that a shared machine's load hits them alike:

- ``source/year``: the layout before issue 15: ``source=<s>/year=<y>/``, one file per partition;
- ``year``: ``year=<y>/`` only, rows ordered by source, files cut at ``--target-mb`` of content;
- ``flat``: no folders, rows ordered by (year, source), files cut at ``--target-mb``.

Queries: a full scan (DuckDB: ``count(*)``, ``sum(length(body))`` of articles and ``count(*)`` of
comments; pandas: the articles without their body, and all comments' ids, article ids and times),
one site (the 100th biggest; DuckDB and pandas ``filters=``), and one site in one year.

    python bench/partition_layout.py                          # 100k pages, 5 rounds
    python bench/partition_layout.py --pages 5000 --rounds 2  # a quick look

Results: docs/BENCHMARKS.md ("Partitioning and file size").
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from newsmill import schema as schemas  # noqa: E402
from newsmill.store import partfile  # noqa: E402

YEARS = np.arange(2014, 2027)


def words(rng: np.random.Generator, n_words: int = 20000) -> np.ndarray:
    lengths = rng.integers(2, 11, n_words)
    letters = np.frombuffer(b"etaoinshrdlucmfwypvbgkjqxz", dtype=np.uint8)
    p = 1 / np.arange(1, 27)
    p /= p.sum()
    return np.array([bytes(rng.choice(letters, k, p=p)).decode() for k in lengths])


def texts(rng, vocab, lengths_chars: np.ndarray) -> list[str]:
    """Zipf-distributed words, so that text compresses about as news text does (built in one join:
    the words of every text, then sliced)."""
    ranks = 1 / np.arange(1, len(vocab) + 1) ** 1.05
    ranks /= ranks.sum()
    n_words = np.maximum(1, (lengths_chars / 6.5).astype(np.int64))
    ids = rng.choice(len(vocab), int(n_words.sum()), p=ranks)
    spaced = np.array([w + " " for w in vocab], dtype=object)
    lens = np.array([len(w) + 1 for w in vocab])[ids]
    corpus = "".join(spaced[ids])
    ends = np.cumsum(lens)[np.cumsum(n_words) - 1]
    starts = np.concatenate([[0], ends[:-1]])
    return [corpus[a:b - 1] for a, b in zip(starts.tolist(), ends.tolist())]


def generate(pages: int, sites: int, comments_per_page: float, seed: int = 7) -> dict[str, pa.Table]:
    rng = np.random.default_rng(seed)
    vocab = words(rng)
    weight = 1 / np.arange(1, sites + 1) ** 0.9
    site = rng.choice(sites, pages, p=weight / weight.sum())
    site_names = np.array([f"site{i:05d}.example" for i in range(sites)])
    first_year = rng.choice(YEARS[:-1], sites)  # a site's archive starts some year
    year = np.minimum(first_year[site] + rng.geometric(0.35, pages) - 1, YEARS[-1]).astype(np.int32)
    aid = np.array([f"{i:016x}" for i in rng.permutation(pages * 16)[:pages]])
    t0 = np.array([np.datetime64(f"{y}-01-01T00:00:00", "us") for y in year])
    published = t0 + (rng.random(pages) * 364 * 86400e6).astype("timedelta64[us]")
    body_len = np.clip(rng.lognormal(np.log(3000), 0.6, pages), 200, 60000).astype(int)
    ncom = np.where(rng.random(pages) < 0.6, 0, rng.geometric(1 / (comments_per_page / 0.4), pages))
    s = schemas.load("articles")
    now = np.datetime64("2026-12-01T12:00:00", "us")
    a = {
        "article_id": aid, "source": site_names[site], "year": year,
        "publication": site_names[site], "url": [f"https://{site_names[i]}/news/{x}" for i, x in zip(site, aid)],
        "title": texts(rng, vocab, rng.integers(30, 120, pages)),
        "published_date": published.astype("datetime64[D]"), "published_at": published,
        "published_raw": [str(p)[:16] for p in published], "updated_at": None, "section": rng.choice(
            ["news", "world", "sport", "business", "opinion", "culture"], pages),
        "dateline": None, "authors": [[f"Author {k}"] for k in rng.integers(0, 5000, pages)],
        "body": texts(rng, vocab, body_len), "paragraph_count": (body_len // 400 + 1).astype(np.int32),
        "body_simhash": [f"{k:016x}" for k in rng.integers(0, 2**62, pages)], "near_duplicate_of": None,
        "captions": [[] for _ in range(pages)], "caption_credits": [[] for _ in range(pages)],
        "comment_count_declared": ncom.astype(np.int32), "comment_count_extracted": ncom.astype(np.int32),
        "comment_system": rng.choice(["disqus", "native", "facebook"], pages), "comments_in_capture": ncom > 0,
        "language": "en", "flags": [[] for _ in range(pages)], "captured_at": now, "first_captured_at": now,
        "input_uri": [f"warc://crawl-{k % 500}.warc.gz#{x}" for k, x in enumerate(aid)],
        "input_sha256": [f"{k:064x}" for k in rng.integers(0, 2**62, pages)], "input_format": "warc",
        "extractor": "newsmill/html", "extracted_at": now, "pipeline_version": "0.9.0",
    }
    articles = _table(s, a, pages)
    n = int(ncom.sum())
    owner = np.repeat(np.arange(pages), ncom)
    pos = (np.arange(n) - np.repeat(np.cumsum(ncom) - ncom, ncom) + 1).astype(np.int32)
    c = {
        "comment_id": [f"{k:016x}" for k in rng.permutation(n * 4)[:n]], "article_id": aid[owner],
        "source": site_names[site[owner]], "year": year[owner], "position": pos,
        "author": [f"reader{k}" for k in rng.integers(0, 200000, n)], "author_id": None,
        "posted_at": published[owner] + (rng.random(n) * 3 * 86400e6).astype("timedelta64[us]"),
        "posted_raw": None, "text": texts(rng, vocab, np.clip(rng.lognormal(np.log(220), 0.8, n), 5, 8000).astype(int)),
        "reply_to_name": None, "parent_comment_id": None, "quoted_comment_id": None,
        "depth": np.zeros(n, np.int32), "likes": rng.integers(0, 50, n).astype(np.int32), "flags": [[] for _ in range(n)],
        "edited": False, "first_seen_at": now, "last_seen_at": now, "removed_at_source": False,
        "removed_seen_at": None, "input_uri": a["input_uri"][0], "input_sha256": "0" * 64, "input_format": "warc",
        "extractor": "newsmill/html", "extracted_at": now, "pipeline_version": "0.9.0",
    }
    comments = _table(schemas.load("comments"), c, n)
    return {"articles": articles, "comments": comments}


def _table(s, cols: dict, n: int) -> pa.Table:
    arrow = s.arrow()
    arrays = []
    for f in arrow:
        v = cols.get(f.name)
        if v is None:
            arrays.append(pa.nulls(n, f.type))
        elif isinstance(v, (str, bool, np.datetime64)):
            arrays.append(pa.array([v] * n if not isinstance(v, np.datetime64) else np.full(n, v), f.type))
        else:
            arrays.append(pa.array(v, f.type))
    return pa.Table.from_arrays(arrays, schema=arrow)


# --- layouts -------------------------------------------------------------------------

LAYOUTS = {
    "source/year": {"partition_by": ("source", "year"), "order": None, "target": None},
    "year": {"partition_by": ("year",), "order": ("source",), "target": "target"},
    "flat": {"partition_by": (), "order": ("year", "source"), "target": "target"},
}


def write_layout(name: str, tables: dict[str, pa.Table], root: Path, target_bytes: int) -> dict:
    spec = LAYOUTS[name]
    root.mkdir(parents=True)
    for tname, t in tables.items():
        s = schemas.load(tname)
        order = [*(spec["order"] or ()), *partfile.sort_columns(s)]
        t = t.sort_by([(c, "ascending") for c in [*spec["partition_by"], *order]])
        keys = [t.column(c).to_numpy(zero_copy_only=False) for c in spec["partition_by"]]
        if keys:
            change = np.flatnonzero(np.any([k[1:] != k[:-1] for k in keys], axis=0)) + 1
            bounds = [0, *change.tolist(), t.num_rows]
        else:
            bounds = [0, t.num_rows]
        cols = [c for c in t.column_names if c not in spec["partition_by"]]
        for lo, hi in zip(bounds[:-1], bounds[1:]):
            part = t.slice(lo, hi - lo)
            rel = "/".join(f"{c}={part.column(c)[0].as_py()}" for c in spec["partition_by"])
            folder = root / tname / rel
            _write_sized(part.select(cols).replace_schema_metadata(s.stored_arrow().metadata), folder,
                         target_bytes if spec["target"] else None)
    return stats(root)


def _write_sized(t: pa.Table, folder: Path, target: int | None) -> None:
    """Files of about ``target`` content bytes (one file when None), with partfile's row groups
    (``ROW_GROUP_BYTES`` of content), compression and stored schema (its metadata and field
    descriptions: the footer every part file carries). Not fsynced: a bench, not a publish."""
    folder.mkdir(parents=True, exist_ok=True)
    step = 1024
    sizes = np.array([partfile.content_bytes(t.slice(i, step)) for i in range(0, t.num_rows, step)])
    chunk_of = np.zeros(len(sizes), int) if target is None else (np.cumsum(sizes) - 1) // target
    for k in np.unique(chunk_of):
        blocks = np.flatnonzero(chunk_of == k)
        piece = t.slice(int(blocks[0]) * step, (int(blocks[-1]) + 1 - int(blocks[0])) * step)
        group_of = (np.cumsum(sizes[blocks]) - 1) // partfile.ROW_GROUP_BYTES
        with pq.ParquetWriter(str(folder / f"part-{k:05d}.parquet"), piece.schema,
                              compression=partfile.COMPRESSION) as w:
            for g in np.unique(group_of):
                b = np.flatnonzero(group_of == g)
                rg = piece.slice(int(b[0]) * step, (int(b[-1]) + 1 - int(b[0])) * step)
                w.write_table(rg, row_group_size=max(1, rg.num_rows))


def stats(root: Path) -> dict:
    out = {}
    for tname in ("articles", "comments"):
        sizes = [f.stat().st_size for f in (root / tname).rglob("*.parquet")]
        out[tname] = {"files": len(sizes), "bytes": sum(sizes), "median_file": int(statistics.median(sizes)),
                      "under_20k": sum(s < 20_000 for s in sizes)}
    return out


# --- reads ---------------------------------------------------------------------------

def queries(site: str, year: int):
    def duck(*queries):
        """The first value of each query, read in one connection."""
        import duckdb
        con = duckdb.connect()
        try:
            return tuple(con.execute(q).fetchone()[0] for q in queries)
        finally:
            con.close()

    def scan(root, table):
        return f"read_parquet('{root}/{table}/**/*.parquet', hive_partitioning=1)"

    def duck_full(root):
        return duck(f"select count(*), sum(length(body)) from {scan(root, 'articles')}",
                    f"select count(*) from {scan(root, 'comments')}")

    def duck_site(root):
        return duck(f"select count(*), max(title) from {scan(root, 'articles')} where source = '{site}'",
                    f"select count(*), sum(length(c.text)) from {scan(root, 'comments')} c where source = '{site}'")

    def duck_site_year(root):
        return duck(f"select count(*), max(title) from {scan(root, 'articles')} "
                    f"where source = '{site}' and year = {year}")

    def pandas_full(root):
        import pandas as pd
        a = pd.read_parquet(root / "articles", columns=[c for c in schemas.load("articles").names if c != "body"])
        c = pd.read_parquet(root / "comments", columns=["comment_id", "article_id", "posted_at"])
        return (len(a), len(c))

    def pandas_site(root):
        import pandas as pd
        a = pd.read_parquet(root / "articles", filters=[("source", "==", site)])
        c = pd.read_parquet(root / "comments", filters=[("source", "==", site)])
        return (len(a), len(c))

    def pandas_site_year(root):
        import pandas as pd
        a = pd.read_parquet(root / "articles", filters=[("source", "==", site), ("year", "==", year)])
        return (len(a),)

    return {"duckdb full scan": duck_full, "duckdb one site": duck_site, "duckdb one site+year": duck_site_year,
            "pandas full scan": pandas_full, "pandas one site": pandas_site, "pandas one site+year": pandas_site_year}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pages", type=int, default=100_000)
    ap.add_argument("--sites", type=int, default=3000)
    ap.add_argument("--comments", type=float, default=6.0, help="comments per article, on average")
    ap.add_argument("--target-mb", type=float, default=128.0, help="content MB per file (year, flat)")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--layouts", default=",".join(LAYOUTS))
    ap.add_argument("--max-seconds", type=float, default=60.0,
                    help="a query slower than this in a layout is not repeated there")
    ap.add_argument("--work", type=Path, default=Path("/tmp/newsmill-partition-bench"))
    ap.add_argument("--json", type=Path)
    ap.add_argument("--reuse", action="store_true", help="measure the reads of the layouts already in --work")
    args = ap.parse_args()
    layouts = args.layouts.split(",")
    if args.reuse:  # the layouts written by an earlier run: measure the reads again
        import duckdb
        con = duckdb.connect()
        flat = args.work / layouts[-1].replace("/", "-")
        site, = con.execute(f"select source from read_parquet('{flat}/articles/**/*.parquet', hive_partitioning=1) "
                            "group by source order by count(*) desc, source limit 1 offset 99").fetchone()
        year, = con.execute(f"select year from read_parquet('{flat}/articles/**/*.parquet', hive_partitioning=1) "
                            f"where source = '{site}' group by year order by count(*) desc limit 1").fetchone()
        n_comments, = con.execute(f"select count(*) from read_parquet('{flat}/comments/**/*.parquet')").fetchone()
        result = {"pages": args.pages, "sites": args.sites, "comments": n_comments, "site": site, "year": year,
                  "target_mb": args.target_mb,
                  "layouts": {n: {"stats": stats(args.work / n.replace("/", "-")), "times": {}} for n in layouts}}
    else:
        shutil.rmtree(args.work, ignore_errors=True)
        t = time.perf_counter()
        tables = generate(args.pages, args.sites, args.comments)
        print(f"generated {tables['articles'].num_rows} articles, {tables['comments'].num_rows} comments "
              f"in {time.perf_counter() - t:.0f} s", flush=True)
        counts = tables["articles"].group_by("source").aggregate([("article_id", "count")]).sort_by(
            [("article_id_count", "descending"), ("source", "ascending")])
        site = counts.column("source")[min(99, counts.num_rows - 1)].as_py()
        yc = tables["articles"].filter(pa.compute.equal(tables["articles"]["source"], site)).column("year")
        year = int(pa.compute.mode(yc)[0]["mode"].as_py())
        result = {"pages": args.pages, "sites": args.sites, "comments": tables["comments"].num_rows,
                  "site": site, "year": year, "target_mb": args.target_mb, "layouts": {}}
        for name in layouts:
            t = time.perf_counter()
            st = write_layout(name, tables, args.work / name.replace("/", "-"), int(args.target_mb * 2**20))
            st["write_s"] = round(time.perf_counter() - t, 1)
            result["layouts"][name] = {"stats": st, "times": {}}
            print(name, json.dumps(st), flush=True)
        del tables
    qs = queries(site, year)
    answers = {}
    for r in range(args.rounds):
        for q, fn in qs.items():
            for name in (layouts if r % 2 == 0 else layouts[::-1]):  # alternate the order
                root = args.work / name.replace("/", "-")
                if max(result["layouts"][name]["times"].get(q, [0])) > args.max_seconds:
                    continue  # measured once: far slower than the others, not worth more rounds
                t = time.perf_counter()
                ans = fn(root)
                dt = time.perf_counter() - t
                result["layouts"][name]["times"].setdefault(q, []).append(dt)
                print(f"  {q} / {name}: {dt:.3f} s", flush=True)
                answers.setdefault(q, set()).add(tuple(ans[:2]))
        print(f"round {r + 1} done", flush=True)
    for q, a in answers.items():
        assert len(a) == 1, f"{q}: layouts disagree: {a}"
    print(f"\n{args.pages} pages, {args.sites} sites, {result['comments']} comments; site {site}, year {year}; "
          f"medians of {args.rounds} rounds (s)")
    print("| query | " + " | ".join(layouts) + " |")
    print("|---|" + "---:|" * len(layouts))
    for q in qs:
        meds = [statistics.median(result["layouts"][n]["times"][q]) for n in layouts]
        base = meds[0]
        ns = [len(result["layouts"][n]["times"][q]) for n in layouts]
        print(f"| {q} | " + " | ".join(f"{m:.3f} ({m / base:.2f}×)" + ("" if k == args.rounds else f" n={k}")
                                       for m, k in zip(meds, ns)) + " |")
    for tname in ("articles", "comments"):
        print(f"| {tname}: files / MB / median file KB / files < 20 KB | " + " | ".join(
            f"{s['files']} / {s['bytes'] / 2**20:.0f} / {s['median_file'] / 1024:.0f} / {s['under_20k']}"
            for s in (result["layouts"][n]["stats"][tname] for n in layouts)) + " |")
    if args.json:
        args.json.write_text(json.dumps(result, indent=1, default=str))


if __name__ == "__main__":
    main()
