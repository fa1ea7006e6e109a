"""End-to-end quality: what ``newsmill run`` publishes, scored against the gold of each page.

The per-page harnesses (``html_eval.py``, ``dragnet_dump_recall.py``) call the extractor
as a library.  A user runs the whole pipeline instead, and gets only what survives it:
pages rejected as duplicates, articles and comments quarantined by validation are not in
the dataset.  This harness does what a user does, on the evaluation pages:

1. builds each corpus once into ``$NEWSMILL_CACHE/e2e/<set>/`` (default
   ``~/.cache/newsmill``; files missing there are rebuilt): a folder of ``<id>.html.gz``
   pages, a folder of text dumps (w3m at its default width and at ``-cols 100``,
   ``lynx -dump -nolist``, ``html2text``), or a WARC (fundus: a file cannot carry its URL,
   a WARC record can, with the crawl date as ``WARC-Date``);
2. runs the real CLI, ``python -m newsmill.cli run INPUTS --output TMP`` with the default
   config, in a private ``PREFECT_HOME`` (local Prefect server and warm worker, stopped at
   the end; ``--no-daemon`` to run without the warm worker);
3. reads the published tables with ``newsmill.store.publish.read_tables``, the quarantine
   tables and the rejects, maps every row to its page through ``input_uri``, and scores the
   PUBLISHED rows with the per-page harnesses' own scoring (imported, not copied):
   quarantined and rejected records count as misses and are listed with their reasons.

Sets: dragnet-html, dragnet-w3m, dragnet-w3m100, dragnet-lynx, dragnet-html2text, aeb,
fundus.  The data lives outside the repo (``../shared/data`` or ``$NEWSMILL_SHARED``) and
only scores and page ids are printed, never page text.  Definitions: docs/EVALUATION.md.

Usage: python bench/e2e_eval.py [--sets a,b,c] [--limit N] [--all-pages] [--worst K]
                                [--json out.json] [--no-daemon] [--write-doc]
"""
from __future__ import annotations

import argparse
import datetime as _dt
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unicodedata
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Callable, Iterable, Sequence

REPO_ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = Path(__file__).resolve().parent
for _p in (REPO_ROOT, BENCH_DIR):  # the bench runs from a checkout; bench/ is not a package
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))

from _benchlib import processes_with  # noqa: E402

# Scoring, gold reading and page selection are the per-page harnesses', so the figures
# of both views are computed the same way.
from dragnet_dump_recall import (  # noqa: E402
    _CHARSET_DECL,
    cache_dir,
    choose_input_charset,
    overlap_scores,
    select_pages,
    shared_data_dir,
    token_bag,
)
from html_eval import (  # noqa: E402
    DragnetPage,
    Prediction,
    _fmt,
    aeb_dir,
    aeb_present,
    dragnet_dir,
    dragnet_present,
    load_aeb,
    load_dragnet,
    machine_info,
    read_html,
    render_comments,
    run_trafilatura,
    score_aeb,
    score_dragnet,
    select_aeb,
    select_dragnet,
    summarize_aeb,
    summarize_dragnet,
)

DOC_PATH = REPO_ROOT / "docs" / "EVALUATION.md"
DOC_START = "<!-- e2e-eval:results:start -->"
DOC_END = "<!-- e2e-eval:results:end -->"
DUMP_TIMEOUT_S = 30
DUMP_WORKERS = 2
CLI_TIMEOUT_S = 3 * 3600
# The validation reason of a comment dated before its article (validations/comments.json).
EARLY_COMMENT_REASON = "posted_at is too long before the article"


@dataclass(frozen=True)
class SetSpec:
    name: str
    kind: str  # dragnet | aeb | fundus: which gold and which scores
    fmt: str  # html | text | warc: what newsmill is given
    dumper: str | None = None  # the text-dump program of a text set
    about: str = ""


SETS: dict[str, SetSpec] = {s.name: s for s in (
    SetSpec("dragnet-html", "dragnet", "html", None, "Dragnet dev pages, saved HTML (a folder of .html.gz)"),
    SetSpec("dragnet-w3m", "dragnet", "text", "w3m",
            "Dragnet dev pages as `w3m -dump -T text/html -O UTF-8` text, default width"),
    SetSpec("dragnet-w3m100", "dragnet", "text", "w3m100", "the same with `-cols 100`"),
    SetSpec("dragnet-lynx", "dragnet", "text", "lynx", "Dragnet dev pages as `lynx -dump -nolist` text"),
    SetSpec("dragnet-html2text", "dragnet", "text", "html2text", "Dragnet dev pages as `html2text` text"),
    SetSpec("aeb", "aeb", "html", None, "AEB pages, saved HTML (a folder of .html.gz, no URL)"),
    SetSpec("fundus", "fundus", "warc", None,
            "fundus dev pages in one WARC (WARC-Target-URI = page URL, WARC-Date = crawl date)"),
)}


# --------------------------------------------------------------------------- gold: fundus


def fundus_dir() -> Path:
    return shared_data_dir() / "fundus"


def fundus_present(root: Path | None = None) -> bool:
    return ((root or fundus_dir()) / "pages.json").is_file()


@dataclass(frozen=True)
class FundusPage:
    page_id: str  # its path under the fundus folder, e.g. "at/DerStandard_2024_05_03.html.gz"
    url: str
    crawl_date: str
    title: str
    authors: tuple[str, ...]
    publishing_date: str | None  # ISO 8601 with offset
    paragraphs: tuple[str, ...]


def load_fundus(root: Path | None = None) -> list[FundusPage]:
    root = root or fundus_dir()
    raw = json.loads((root / "pages.json").read_text(encoding="utf-8"))
    return [FundusPage(k, v.get("url") or "", v.get("crawl_date") or "", v.get("title") or "",
                       tuple(v.get("authors") or ()), v.get("publishing_date"), tuple(v.get("paragraphs") or ()))
            for k, v in sorted(raw.items())]


def present(kind: str) -> bool:
    return {"dragnet": dragnet_present, "aeb": aeb_present, "fundus": fundus_present}[kind]()


# --------------------------------------------------------------------------- corpora


def corpus_root() -> Path:
    return cache_dir() / "e2e"


def results_dir() -> Path:
    return corpus_root() / "results"


def _atomic_write(path: Path, data: bytes) -> None:
    """Temp name then rename: an interrupted build never leaves a truncated file that later runs trust."""
    part = path.with_name(path.name + ".part")
    part.write_bytes(data)
    part.replace(path)


def to_utf8_html(html: bytes) -> bytes:
    """The page re-encoded as UTF-8 with its charset declarations saying so.

    lynx and html2text trust a page's ``<meta charset>`` over what they are told, and
    several Dragnet pages declare a charset their bytes are not in; w3m gets ``-I``
    instead.  The charset is the per-page harness's choice (``choose_input_charset``).
    """
    charset = choose_input_charset(html)
    try:
        text = html.decode(charset, errors="replace")
    except LookupError:
        text = html.decode("utf-8", errors="replace")
    data = text.encode("utf-8")
    return _CHARSET_DECL.sub(lambda m: m.group(0)[: m.start(1) - m.start(0)] + b"utf-8", data)


def dump_command(dumper: str, src: Path, charset: str) -> list[str]:
    if dumper == "w3m":
        return ["w3m", "-dump", "-T", "text/html", "-O", "UTF-8", "-I", charset, str(src)]
    if dumper == "w3m100":
        return ["w3m", "-dump", "-T", "text/html", "-O", "UTF-8", "-I", charset, "-cols", "100", str(src)]
    if dumper == "lynx":
        return ["lynx", "-dump", "-nolist", "-force_html", "-assume_charset=utf-8", "-display_charset=utf-8",
                str(src)]
    if dumper == "html2text":
        return ["html2text", "-utf8", "-nobs", "-nometa", str(src)]
    raise ValueError(f"unknown dumper {dumper!r}")


DUMPER_PROGRAMS = {"w3m": "w3m", "w3m100": "w3m", "lynx": "lynx", "html2text": "html2text"}


def render_one(dumper: str, html_gz: str, out_path: str) -> tuple[str, bool, str]:
    """One page dumped to text (a process-pool worker): (out_path, ok, note)."""
    try:
        html = read_html(html_gz)
    except (OSError, EOFError) as exc:
        return out_path, False, f"unreadable HTML: {exc}"
    if dumper.startswith("w3m"):
        data, charset = html, choose_input_charset(html)
    else:
        data, charset = to_utf8_html(html), "UTF-8"
    with tempfile.TemporaryDirectory(prefix="newsmill-e2e-dump-") as tmp:
        src = Path(tmp) / "page.html"
        src.write_bytes(data)
        # No COLUMNS: w3m's default width is the point of the dragnet-w3m set.
        env = {**{k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")},
               "HOME": tmp, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "TERM": "dumb"}
        try:
            proc = subprocess.run(dump_command(dumper, src, charset), stdin=subprocess.DEVNULL,
                                  capture_output=True, timeout=DUMP_TIMEOUT_S, cwd=tmp, env=env)
        except subprocess.TimeoutExpired:
            return out_path, False, f"{dumper} timed out after {DUMP_TIMEOUT_S}s"
    if proc.returncode != 0 or not proc.stdout.strip():
        err = proc.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or [""]
        return out_path, False, f"{dumper} exit {proc.returncode}: {err[0][:120]}"
    _atomic_write(Path(out_path), proc.stdout)
    return out_path, True, charset


def write_warc(path: Path, pages: Sequence[FundusPage], root: Path | None = None) -> dict[str, str]:
    """One gzipped WARC of ``response`` records; returns {record offset: page id}.

    The HTTP header gives no charset (the bytes decide, as for a saved page); the crawl
    date (no zone in the data: taken as UTC) becomes ``WARC-Date``.
    """
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    root = root or fundus_dir()
    index: dict[str, str] = {}
    part = path.with_name(path.name + ".part")
    with part.open("wb") as out:
        writer = WARCWriter(out, gzip=True)
        for p in pages:
            data = read_html(root / p.page_id)
            headers = StatusAndHeaders("200 OK", [("Content-Type", "text/html")], protocol="HTTP/1.1")
            warc_headers = {}
            date = warc_date(p.crawl_date)
            if date:
                warc_headers["WARC-Date"] = date
            rec = writer.create_warc_record(p.url or f"urn:newsmill-e2e:{p.page_id}", "response",
                                            payload=io.BytesIO(data), http_headers=headers,
                                            warc_headers_dict=warc_headers)
            index[str(out.tell())] = p.page_id
            writer.write_record(rec)
    part.replace(path)
    return index


def warc_date(crawl_date: str) -> str | None:
    try:
        d = _dt.datetime.fromisoformat(crawl_date.strip())
    except ValueError:
        return None
    if d.tzinfo is not None:
        d = d.astimezone(_dt.timezone.utc)
    return d.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Corpus:
    """What newsmill is given for one run, and how to map an ``input_uri`` back to a page."""

    inputs: list[str]  # files, folders or archives for the command line
    by_key: dict[str, str]  # uri key (file name stem, or archive offset) -> page id
    failed: dict[str, str] = field(default_factory=dict)  # page id -> why it has no input (dumper failure)


def page_key_of_file(path: str) -> str:
    """The page id of a corpus file: its name without ``.gz`` and the page suffix."""
    name = path.rsplit("/", 1)[-1]
    if name.endswith(".gz"):
        name = name[:-3]
    for suffix in (".html", ".txt"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def uri_key(uri: str | None) -> str | None:
    """The part of an ``input_uri`` that names the page: an archive's ``#offset``, else the file name."""
    if not uri:
        return None
    if "#" in uri:
        return uri.rpartition("#")[2]
    return page_key_of_file(uri)


def build_corpus(spec: SetSpec, page_ids: Sequence[str], workdir: Path,
                 progress: Callable[[str], None] | None = None) -> Corpus:
    """The set's files in the cache (built when missing) and the inputs for these pages."""
    out = corpus_root() / spec.name
    out.mkdir(parents=True, exist_ok=True)
    if spec.fmt == "warc":
        pages = {p.page_id: p for p in load_fundus()}
        full, index_path = out / "fundus.warc.gz", out / "index.json"
        if not (full.is_file() and index_path.is_file()):
            index = write_warc(full, [pages[k] for k in sorted(pages)])
            _atomic_write(index_path, json.dumps(index, indent=1).encode())
            if progress:
                progress(f"built {full} ({len(index)} records)")
        if set(page_ids) == set(pages):
            index = json.loads(index_path.read_text(encoding="utf-8"))
            return Corpus([str(full)], index)
        subset = workdir / f"{spec.name}-subset.warc.gz"
        index = write_warc(subset, [pages[k] for k in page_ids])
        return Corpus([str(subset)], index)

    root = dragnet_dir() if spec.kind == "dragnet" else aeb_dir()
    src_of = (lambda pid: root / "HTML" / f"{pid}.html.gz") if spec.kind == "dragnet" \
        else (lambda pid: root / "html" / f"{pid}.html.gz")
    suffix = ".txt" if spec.fmt == "text" else ".html.gz"
    failed: dict[str, str] = {}
    todo = [pid for pid in page_ids if not (out / f"{pid}{suffix}").exists()]
    if todo and spec.fmt == "html":
        for pid in todo:
            _atomic_write(out / f"{pid}{suffix}", src_of(pid).read_bytes())
    elif todo:
        if shutil.which(DUMPER_PROGRAMS[spec.dumper]) is None:
            raise RuntimeError(f"{DUMPER_PROGRAMS[spec.dumper]} is not installed")
        with ProcessPoolExecutor(max_workers=DUMP_WORKERS) as pool:
            futs = {pool.submit(render_one, spec.dumper, str(src_of(pid)), str(out / f"{pid}{suffix}")): pid
                    for pid in todo}
            for fut, pid in futs.items():
                _, ok, note = fut.result()
                if not ok:
                    failed[pid] = note
        if progress:
            progress(f"{spec.name}: dumped {len(todo) - len(failed)} pages into {out}"
                     + (f", {len(failed)} failed" if failed else ""))
    files = {pid: out / f"{pid}{suffix}" for pid in page_ids if (out / f"{pid}{suffix}").exists()}
    for pid in page_ids:
        if pid not in files and pid not in failed:
            failed[pid] = "no input file"
    everything = {page_key_of_file(f.name) for f in out.iterdir() if f.name.endswith(suffix)}
    inputs = [str(out)] if everything == set(files) else [str(f) for f in files.values()]
    return Corpus(inputs, {pid: pid for pid in files}, failed)


# --------------------------------------------------------------------------- the CLI


class CliSession:
    """``newsmill run`` as a user runs it, in a private PREFECT_HOME.

    The first run starts newsmill's local Prefect server (and the warm worker, unless
    ``daemon=False``); ``close`` stops both, from the same cwd and environment.
    """

    def __init__(self, daemon: bool = True, home: Path | None = None, keep: bool = False):
        self.daemon = daemon
        self.keep = keep
        self.tmp = Path(tempfile.mkdtemp(prefix="newsmill-e2e-"))
        self.home = home or self.tmp / "prefect"
        self.cwd = self.tmp / "cwd"  # no newsmill.toml here: the default config
        self.cwd.mkdir()
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("NEWSMILL_", "PREFECT_")) or k in ("NEWSMILL_SHARED", "NEWSMILL_CACHE")}
        env.update({
            "PREFECT_HOME": str(self.home), "NEWSMILL_DAEMON_DIR": str(self.home), "DO_NOT_TRACK": "1", "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "GX_ANALYTICS_ENABLED": "false", "PREFECT_LOGGING_LEVEL": "WARNING",
            "NEWSMILL_AUTHOR_KEY": "newsmill-e2e-eval-key",  # fixed: comment ids comparable between runs
            "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]),
        })
        self.env = env
        self.runs = 0

    def _cli(self, *args: str, timeout: float = CLI_TIMEOUT_S) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "newsmill.cli", *args], cwd=self.cwd, env=self.env,
                              capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)

    def run(self, inputs: Sequence[str], output: Path) -> tuple[subprocess.CompletedProcess, float]:
        args = ["run", *inputs, "--output", str(output), "--no-progress"]
        if not self.daemon:
            args.append("--no-daemon")
        start = time.perf_counter()
        proc = self._cli(*args)
        self.runs += 1
        return proc, time.perf_counter() - start

    def close(self) -> None:
        try:
            if self.runs:
                for what in ("daemon", "server"):
                    try:
                        self._cli(what, "stop", timeout=120)
                    except subprocess.TimeoutExpired:
                        print(f"warning: `newsmill {what} stop` timed out (PREFECT_HOME {self.home})",
                              file=sys.stderr)
        finally:
            if not self.keep:
                shutil.rmtree(self.tmp, ignore_errors=True)

    def leftover_processes(self, wait_s: float = 30.0) -> list[int]:
        """Pids still carrying this session's PREFECT_HOME after ``close`` (a run's exit work may lag)."""
        marker = f"PREFECT_HOME={self.home}\0".encode()
        deadline = time.monotonic() + wait_s
        while True:
            pids = processes_with(marker)
            if not pids or time.monotonic() > deadline:
                return pids
            time.sleep(0.2)

    def __enter__(self) -> "CliSession":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


# --------------------------------------------------------------------------- reading the output


ARTICLE_COLUMNS = ["article_id", "input_uri", "url", "title", "body", "authors", "published_date",
                   "published_at", "flags", "comment_count_extracted"]
COMMENT_COLUMNS = ["article_id", "input_uri", "position", "author", "posted_raw", "text", "posted_at", "flags"]


@dataclass
class RunOutput:
    articles: list[dict]
    comments: list[dict]
    q_articles: list[dict]
    q_comments: list[dict]
    rejects: list[dict]
    summary: dict


def _read_quarantine(output: Path, name: str, columns: list[str]) -> list[dict]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    files = sorted((output / "quarantine" / name).glob("*.p*"))  # .pq (since issue 15), .parquet (older outputs)
    if not files:
        return []
    tables = [pq.read_table(f) for f in files]
    t = pa.concat_tables(tables, promote_options="default") if len(tables) > 1 else tables[0]
    return t.select([c for c in columns if c in t.column_names]).to_pylist()


def read_output(output: Path) -> RunOutput:
    """The published tables (newsmill's own reader), the quarantine tables, the rejects and the report."""
    from newsmill.store.reading import read_tables

    tables = read_tables(output)
    articles = tables["articles"].select(ARTICLE_COLUMNS).to_pylist()
    comments = tables["comments"].select(COMMENT_COLUMNS).to_pylist()
    qa = _read_quarantine(output, "articles", ARTICLE_COLUMNS + ["quarantine_reasons"])
    qc = _read_quarantine(output, "comments", COMMENT_COLUMNS + ["quarantine_reasons"])
    rejects = _read_quarantine(output, "rejects", ["input_uri", "stage", "reason", "detail"])
    summary: dict = {}
    latest = output / "reports" / "LATEST"
    if latest.is_file():
        path = output / "reports" / latest.read_text().strip() / "summary.json"
        if path.is_file():
            summary = json.loads(path.read_text(encoding="utf-8"))
    return RunOutput(articles, comments, qa, qc, rejects, summary)


@dataclass
class PageOutcome:
    """What the run did with one page's input."""

    page_id: str
    status: str  # published | quarantined | rejected | no_input | absent
    reasons: list[str] = field(default_factory=list)  # quarantine reasons, or the reject reason and detail
    duplicate_of: str | None = None  # rejected as a duplicate of this page
    article: dict | None = None  # the published (or quarantined) article row
    comments: list[dict] = field(default_factory=list)  # published comment rows, in page order
    q_comments: list[dict] = field(default_factory=list)  # quarantined comment rows (with their reasons)


_SAME_AS = re.compile(r"(?:same (?:article|content|URL) as|of the article of) (\S+)")
MERGED_INTO = ("duplicate", "older_capture")  # reject reasons whose detail names the page kept


def outcomes(corpus: Corpus, out: RunOutput, page_ids: Sequence[str]) -> dict[str, PageOutcome]:
    """One outcome per page, mapped through ``input_uri``."""
    res = {pid: PageOutcome(pid, "no_input" if pid in corpus.failed else "absent",
                            [corpus.failed[pid]] if pid in corpus.failed else []) for pid in page_ids}

    def page_of(uri: str | None) -> PageOutcome | None:
        pid = corpus.by_key.get(uri_key(uri) or "")
        return res.get(pid) if pid else None

    for row in out.articles:
        if (o := page_of(row["input_uri"])) is not None:
            o.status, o.article = "published", row
    for row in out.q_articles:
        if (o := page_of(row["input_uri"])) is not None and o.status != "published":
            o.status, o.article, o.reasons = "quarantined", row, list(row.get("quarantine_reasons") or [])
    for row in out.rejects:
        o = page_of(row["input_uri"])
        if o is None or o.status in ("published", "quarantined"):
            continue
        o.status, o.reasons = "rejected", [row["reason"], row.get("detail") or ""]
        if row["reason"] in MERGED_INTO:
            m = _SAME_AS.search(row.get("detail") or "")
            kept = corpus.by_key.get(uri_key(m.group(1)) or "") if m else None
            o.duplicate_of = kept or (m.group(1) if m else None)
    for row in out.comments:
        if (o := page_of(row["input_uri"])) is not None:
            o.comments.append(row)
    for row in out.q_comments:
        if (o := page_of(row["input_uri"])) is not None:
            o.q_comments.append(row)
    for o in res.values():
        o.comments.sort(key=lambda r: r["position"] if r["position"] is not None else 1 << 30)
    return res


def prediction(o: PageOutcome) -> Prediction:
    """The page's published output in the per-page harness's terms (anything unpublished is empty)."""
    if o.status != "published":
        reason = o.reasons[0] if o.reasons else ""
        return Prediction(status=f"{o.status}:{reason}"[:120] if reason else o.status)
    comments = [SimpleNamespace(author=c["author"], posted_raw=c["posted_raw"], text=c["text"]) for c in o.comments]
    return Prediction(body=o.article.get("body") or "", comments=render_comments(comments),
                      n_comments=len(comments))


def run_tally(outs: dict[str, PageOutcome], out: RunOutput, distinct: Callable[[str, str], bool]) -> dict:
    """Accounting of the run: inputs published/quarantined/rejected with reasons, duplicates, quarantined comments."""
    status = Counter(o.status for o in outs.values())
    art_reasons = Counter(r for o in outs.values() if o.status == "quarantined" for r in o.reasons)
    rej_reasons = Counter(o.reasons[0] for o in outs.values() if o.status == "rejected")
    dups = [{"page": o.page_id, "kept": o.duplicate_of,
             "false": bool(o.duplicate_of and distinct(o.page_id, o.duplicate_of))}
            for o in outs.values() if o.status == "rejected" and o.reasons[:1] and o.reasons[0] in MERGED_INTO]
    qc = [c for o in outs.values() for c in o.q_comments]
    qc_reasons = Counter(r for c in qc for r in (c.get("quarantine_reasons") or []))
    early = [c for c in qc if any(EARLY_COMMENT_REASON in r for r in (c.get("quarantine_reasons") or []))]
    return {
        "inputs": len(outs),
        "published": status["published"],
        "quarantined": status["quarantined"],
        "rejected": status["rejected"],
        "no_input": status["no_input"],
        "absent": status["absent"],
        "article_quarantine_reasons": dict(art_reasons.most_common()),
        "reject_reasons": dict(rej_reasons.most_common()),
        "duplicates": dups,
        "false_duplicates": sum(1 for d in dups if d["false"]),
        "comments_published": sum(len(o.comments) for o in outs.values()),
        "comments_quarantined": len(qc),
        "comment_quarantine_reasons": dict(qc_reasons.most_common()),
        "comments_quarantined_early": len(early),
        "pages_with_comments_quarantined_early":
            sorted({o.page_id for o in outs.values() for c in o.q_comments if c in early}),
        "pages_with_comment_rows": sum(1 for o in outs.values() if o.comments),
        "run_summary": {k: out.summary.get(k) for k in ("inputs", "articles_published", "comments_published",
                                                         "articles_quarantined", "comments_quarantined",
                                                         "rejected", "accounting_ok", "exit_code", "seconds",
                                                         "reject_reasons")},
    }


# --------------------------------------------------------------------------- scoring: fundus


# Invisible formatting characters (soft hyphen, zero-width space/joiners, BOM): a page may carry
# them in a headline where the gold does not, or the reverse; no reader sees them.
_INVISIBLE = dict.fromkeys(map(ord, "\u00ad\u200b\u200c\u200d\u2060\ufeff"))


def norm_ws(text: str | None) -> str:
    """Whitespace runs as one space, ends trimmed, invisible formatting characters removed."""
    return " ".join((text or "").translate(_INVISIBLE).split())


def authors_equal(pred: Iterable[str] | None, gold: Iterable[str]) -> bool:
    """Same set of names, whitespace-normalised and case-folded."""
    return {norm_ws(a).casefold() for a in pred or () if norm_ws(a)} == \
        {norm_ws(a).casefold() for a in gold if norm_ws(a)}


def gold_day(iso: str | None) -> _dt.date | None:
    """The page's local date: the date part of the gold timestamp as written (with its own offset)."""
    try:
        return _dt.datetime.fromisoformat(iso).date() if iso else None
    except ValueError:
        return None


def gold_minute_utc(iso: str | None) -> _dt.datetime | None:
    try:
        d = _dt.datetime.fromisoformat(iso) if iso else None
    except ValueError:
        return None
    if d is None or d.tzinfo is None:
        return None
    return d.astimezone(_dt.timezone.utc).replace(second=0, microsecond=0, tzinfo=None)


def minute_utc(ts) -> _dt.datetime | None:
    """A published_at (UTC) truncated to the minute, naive."""
    if ts is None:
        return None
    if isinstance(ts, str):
        ts = _dt.datetime.fromisoformat(ts)
    if ts.tzinfo is not None:
        ts = ts.astimezone(_dt.timezone.utc).replace(tzinfo=None)
    return ts.replace(second=0, microsecond=0)


def as_date(value) -> _dt.date | None:
    if value is None or value == "":
        return None
    if isinstance(value, _dt.datetime):
        return value.date()
    if isinstance(value, _dt.date):
        return value
    try:
        return _dt.date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


@dataclass
class FundusScore:
    page_id: str
    system: str
    title_ok: bool
    authors_ok: bool
    day_ok: bool
    minute_ok: bool | None  # None: the system gives no time (trafilatura) or the gold has none
    body_precision: float
    body_recall: float
    body_f1: float
    has_date: bool
    status: str
    title_issue: str = ""  # how a wrong title is wrong (no text): see field_issues
    authors_issue: str = ""
    day_off: int | None = None  # predicted day minus the gold day, in days (None: no prediction or no gold)


def title_issue(pred: str | None, gold: str) -> str:
    """How a title differs, without quoting it: missing, longer (site name or kicker around the gold),
    shorter (cut), case only, or other."""
    p, g = norm_ws(pred), norm_ws(gold)
    if p == g:
        return ""
    if not p:
        return "missing"
    if p.casefold() == g.casefold():
        return "case"
    if g and g.casefold() in p.casefold():
        return "gold plus extra text"
    if p.casefold() in g.casefold():
        return "part of gold"
    return "other"


def authors_issue(pred: Iterable[str] | None, gold: Iterable[str]) -> str:
    p = {norm_ws(a).casefold() for a in pred or () if norm_ws(a)}
    g = {norm_ws(a).casefold() for a in gold if norm_ws(a)}
    if p == g:
        return ""
    if not p:
        return "missing"
    if not g:
        return "gold has none"
    if p < g:
        return "some missing"
    if p > g:
        return "extra names"
    if any(x in y or y in x for x in p for y in g):
        return "names differ in form"
    return "other"


def score_fundus(page: FundusPage, system: str, title: str | None, authors: Iterable[str] | None,
                 day, published_at, body: str | None, status: str, with_time: bool = True) -> FundusScore:
    _, r, p, f1 = overlap_scores(token_bag("\n".join(page.paragraphs)), token_bag(body))
    gm = gold_minute_utc(page.publishing_date)
    minute_ok = None if not with_time or gm is None else minute_utc(published_at) == gm
    gd, pd = gold_day(page.publishing_date), as_date(day)
    return FundusScore(page.page_id, system, norm_ws(title) == norm_ws(page.title), authors_equal(authors, page.authors),
                       gd is not None and pd == gd, minute_ok, p, r, f1, pd is not None, status,
                       title_issue(title, page.title), authors_issue(authors, page.authors),
                       (pd - gd).days if pd and gd else None)


def summarize_fundus(scores: Sequence[FundusScore]) -> dict:
    n = len(scores)
    timed = [s for s in scores if s.minute_ok is not None]
    mean = lambda xs: sum(xs) / len(xs) if xs else None  # noqa: E731
    return {
        "pages": n,
        "title_exact": mean([s.title_ok for s in scores]),
        "authors_set_equal": mean([s.authors_ok for s in scores]),
        "date_day": mean([s.day_ok for s in scores]),
        "date_minute_utc": mean([s.minute_ok for s in timed]) if timed else None,
        "pages_with_gold_time": len(timed),
        "pages_with_date": sum(1 for s in scores if s.has_date),
        "body_precision": mean([s.body_precision for s in scores]),
        "body_recall": mean([s.body_recall for s in scores]),
        "body_f1": mean([s.body_f1 for s in scores]),
        "empty_bodies": sum(1 for s in scores if s.body_recall == 0 and s.body_precision == 0),
        "title_issues": dict(Counter(s.title_issue for s in scores if s.title_issue).most_common()),
        "authors_issues": dict(Counter(s.authors_issue for s in scores if s.authors_issue).most_common()),
        "day_off": dict(Counter("missing" if s.day_off is None else
                                ("+" if s.day_off > 0 else "") + f"{s.day_off} d"
                                for s in scores if not s.day_ok).most_common()),
    }


def trafilatura_metadata(data: bytes, url: str | None) -> dict:
    """Bare trafilatura with metadata (the per-page harness asks it for text only)."""
    import trafilatura

    try:
        doc = trafilatura.bare_extraction(data, url=url, with_metadata=True)
    except Exception as exc:  # noqa: BLE001 - one bad page must not hide the others
        return {"status": f"error:{type(exc).__name__}"}
    if doc is None:
        return {"status": "no_result"}
    authors = [a.strip() for a in re.split(r";", doc.author or "") if a.strip()]
    return {"status": "ok", "title": doc.title, "authors": authors, "date": doc.date, "body": doc.text or ""}


# --------------------------------------------------------------------------- evaluating one set


@dataclass
class SetResult:
    spec: SetSpec
    pages: int
    seconds: float
    cli_seconds: float
    exit_code: int
    summary: dict  # system -> figures
    tally: dict
    rows: list[dict]  # per page: scores, status, cause (no page text)
    stderr_tail: str = ""


def cause_of(o: PageOutcome, score=None, gold_comments: bool = False) -> str:
    """Why a page scores low, in a few words (no page text)."""
    if o.status == "rejected":
        reason = o.reasons[0] if o.reasons else "?"
        return f"rejected {reason}" + (f" (kept {o.duplicate_of})" if o.duplicate_of else "")
    if o.status == "quarantined":
        return "article quarantined: " + "; ".join(r[:60] for r in o.reasons)
    if o.status in ("no_input", "absent"):
        return o.status + (f": {o.reasons[0]}" if o.reasons else "")
    parts = []
    if gold_comments and not o.comments:
        parts.append("no comments published")
    if o.q_comments:
        top = Counter(r for c in o.q_comments for r in (c.get("quarantine_reasons") or [])).most_common(1)
        parts.append(f"{len(o.q_comments)} comments quarantined ({top[0][0][:50] if top else '?'})")
    if score is not None:
        if getattr(score, "body_gold_tokens", 1) == 0:
            parts.append("gold body empty")
        elif getattr(score, "body_pred_tokens", 1) == 0:
            parts.append("empty body")
        if (getattr(score, "leak_share", None) or 0) > 0.10:
            parts.append(f"{score.leak_share:.0%} of comment tokens in body")
        cp, cr = getattr(score, "comment_precision", None), getattr(score, "comment_recall", None)
        if gold_comments and o.comments and cp is not None and cr is not None:
            if cp < 0.6:
                parts.append("comment rows beyond the gold (low precision)")
            if cr < 0.6:
                parts.append("comments partly missed (low recall)")
    return "; ".join(parts) or "partial"


def scored_outcomes(outs: dict[str, PageOutcome], distinct: Callable[[str, str], bool]) -> dict[str, PageOutcome]:
    """The outcome each page is scored on: its own, except for a page rightly rejected as the duplicate of
    another (the gold says they are the same page), which the dataset does hold: scored as the kept page."""
    res = dict(outs)
    for pid, o in outs.items():
        kept = o.duplicate_of
        if o.status == "rejected" and kept in outs and not distinct(pid, kept):
            res[pid] = outs[kept]
    return res


def _seen_text(text: str | None) -> str:
    """Text as a reader sees it: NFKC, without invisible format characters (zero-width spaces, joiners,
    soft hyphens: the two golds of one fundus article differ by a zero-width space), spaces collapsed."""
    text = unicodedata.normalize("NFKC", text or "")
    return " ".join("".join(ch for ch in text if unicodedata.category(ch) != "Cf").split())


def _distinct_dragnet(pages: dict[str, DragnetPage]):
    return lambda a, b: a in pages and b in pages and \
        token_bag(pages[a].content) != token_bag(pages[b].content)


def evaluate_set(spec: SetSpec, session: CliSession, limit: int | None, all_pages: bool,
                 progress: Callable[[str], None]) -> SetResult:
    start = time.perf_counter()
    workdir = Path(tempfile.mkdtemp(prefix=f"{spec.name}-", dir=session.tmp))
    if spec.kind == "dragnet":
        gold = load_dragnet()
        if limit is None and spec.fmt == "text" and not all_pages:
            pages = [p for p in gold if p.has_comments]
        else:
            pages = select_dragnet(gold, limit)
        ids = [p.page_id for p in pages]
    elif spec.kind == "aeb":
        pages = select_aeb(load_aeb(), limit)
        ids = [p.page_id for p in pages]
    else:
        pages = select_pages(load_fundus(), limit, spread=True)
        ids = [p.page_id for p in pages]
    corpus = build_corpus(spec, ids, workdir, progress)
    progress(f"{spec.name}: newsmill run on {len(ids)} pages ...")
    output = workdir / "output"
    proc, cli_seconds = session.run(corpus.inputs, output)
    if proc.returncode not in (0, 1) or not (output / "reports" / "LATEST").is_file():
        raise RuntimeError(f"{spec.name}: newsmill run exited {proc.returncode}:\n{proc.stderr[-3000:]}")
    out = read_output(output)
    outs = outcomes(corpus, out, ids)
    by_id = {p.page_id: p for p in pages}
    rows: list[dict] = []
    summary: dict = {}
    if spec.kind == "dragnet":
        distinct = _distinct_dragnet({p.page_id: p for p in gold})
    elif spec.kind == "aeb":
        gold_bodies = {p.page_id: p.body for p in pages}
        distinct = lambda a, b: gold_bodies.get(a) != gold_bodies.get(b)  # noqa: E731
    else:
        distinct = lambda a, b: (by_id[a].url, _seen_text(by_id[a].title)) != (by_id[b].url, _seen_text(by_id[b].title)) \
            if a in by_id and b in by_id else True  # noqa: E731
    scored = scored_outcomes(outs, distinct)

    if spec.kind == "dragnet":
        scores = {pid: score_dragnet(by_id[pid], "newsmill", prediction(scored[pid])) for pid in ids}
        summary["newsmill"] = summarize_dragnet(list(scores.values()))
        tally = run_tally(outs, out, distinct)
        missing = [pid for pid in ids if by_id[pid].has_comments and not scored[pid].comments]
        tally["pages_gold_comments_none_published"] = len(missing)
        tally["pages_gold_comments_none_published_ids"] = missing
        tally["pages_no_gold_comments_with_rows"] = sum(
            1 for pid in ids if not by_id[pid].has_comments and outs[pid].comments)
        for pid in ids:
            s, o = scores[pid], outs[pid]
            rows.append({**asdict(s), "status": o.status, "comments_quarantined": len(o.q_comments),
                         "comment_quarantine_reasons": dict(Counter(
                             r for c in o.q_comments for r in (c.get("quarantine_reasons") or []))),
                         "duplicate_of": o.duplicate_of, "cause": cause_of(o, s, by_id[pid].has_comments)})
    elif spec.kind == "aeb":
        nm = {pid: score_aeb(by_id[pid], "newsmill", prediction(scored[pid])) for pid in ids}
        progress(f"{spec.name}: bare trafilatura on the same {len(ids)} pages ...")
        tr = {pid: score_aeb(by_id[pid], "trafilatura",
                             run_trafilatura(read_html(aeb_dir() / "html" / f"{pid}.html.gz"), None, pid))
              for pid in ids}
        summary["newsmill"] = summarize_aeb(list(nm.values()))
        summary["trafilatura"] = summarize_aeb(list(tr.values()))
        tally = run_tally(outs, out, distinct)
        for pid in ids:
            rows.append({"page_id": pid, "f1": nm[pid].f1, "precision": nm[pid].precision,
                         "recall": nm[pid].recall, "trafilatura_f1": tr[pid].f1, "status": outs[pid].status,
                         "comment_rows": len(outs[pid].comments), "cause": cause_of(outs[pid])})
    else:
        nm, tr = {}, {}
        progress(f"{spec.name}: bare trafilatura on the same {len(ids)} pages ...")
        for pid in ids:
            page, o = by_id[pid], scored[pid]
            a = o.article if o.status == "published" else {}
            nm[pid] = score_fundus(page, "newsmill", a.get("title"), a.get("authors"), a.get("published_date"),
                                   a.get("published_at"), a.get("body"), o.status)
            t = trafilatura_metadata(read_html(fundus_dir() / pid), page.url or None)
            tr[pid] = score_fundus(page, "trafilatura", t.get("title"), t.get("authors"), t.get("date"), None,
                                   t.get("body"), t["status"], with_time=False)
        summary["newsmill"] = summarize_fundus(list(nm.values()))
        summary["trafilatura"] = summarize_fundus(list(tr.values()))
        tally = run_tally(outs, out, distinct)
        for pid in ids:
            s, o = nm[pid], outs[pid]
            issues = [f"title {s.title_issue}" if s.title_issue else "", f"authors {s.authors_issue}"
                      if s.authors_issue else "", "" if s.day_ok or s.day_off is None else f"day {s.day_off:+d}"]
            cause = cause_of(o, None) if o.status != "published" else "; ".join(filter(None, issues)) or "partial"
            rows.append({**asdict(s), "trafilatura": {k: v for k, v in asdict(tr[pid]).items()
                                                      if k not in ("page_id", "system")},
                         "comment_rows": len(o.comments), "cause": cause})
    return SetResult(spec, len(ids), time.perf_counter() - start, cli_seconds, proc.returncode, summary,
                     tally, rows, proc.stderr[-2000:] if proc.returncode else "")


# --------------------------------------------------------------------------- reporting


def _pct(n: int, d: int) -> str:
    return f"{n} ({n / d:.1%})" if d else str(n)


def _tally_text(d: dict, width: int = 0) -> str:
    if not d:
        return "none"
    items = [f"{k[:70] + '…' if len(k) > 70 else k} {v}" for k, v in d.items()]
    return "; ".join(items)


def _row_lines(title: str, systems: Sequence[str], rows: list[tuple[str, list[str]]], md: bool) -> list[str]:
    if md:
        out = [f"| {title} | " + " | ".join(systems) + " |", "|---|" + "---:|" * len(systems)]
        return out + [f"| {k} | " + " | ".join(v) + " |" for k, v in rows]
    width = max([len(title)] + [len(k) for k, _ in rows])
    colw = max([12] + [len(x) for _, v in rows for x in v] + [len(s) for s in systems])
    out = [f"{title:<{width}}  " + "  ".join(f"{s:>{colw}}" for s in systems)]
    return out + [f"{k:<{width}}  " + "  ".join(f"{x:>{colw}}" for x in v) for k, v in rows]


DRAGNET_ROWS = [
    ("comment token precision (macro)", "comment_precision"),
    ("comment token recall (macro)", "comment_recall"),
    ("comment token F1 (macro)", "comment_f1"),
    ("comment token recall (micro)", "comment_micro_recall"),
    ("body token precision (macro)", "body_precision"),
    ("body token recall (macro)", "body_recall"),
    ("body token F1 (macro)", "body_f1"),
    ("comment tokens leaked into body (macro)", "leak_share"),
    ("comment tokens leaked into body (micro)", "leak_share_micro"),
    ("pages leaking >10% of comment tokens", "pages_leaking_over_10pct"),
    ("pages with empty body", "empty_bodies"),
]
AEB_ROWS = [
    ("F1 (benchmark: 2PR/(P+R) of page means)", "f1"),
    ("precision (benchmark)", "precision"),
    ("recall (benchmark)", "recall"),
    ("mean page F1", "mean_page_f1"),
    ("pages with empty output", "empty_predictions"),
]
FUNDUS_ROWS = [
    ("title exact (whitespace-normalised)", "title_exact"),
    ("authors set-equal", "authors_set_equal"),
    ("date correct to the day (page's local date)", "date_day"),
    ("date correct to the minute, UTC (gold with zone)", "date_minute_utc"),
    ("pages whose gold has a time zone", "pages_with_gold_time"),
    ("pages with a date", "pages_with_date"),
    ("body token precision (macro)", "body_precision"),
    ("body token recall (macro)", "body_recall"),
    ("body token F1 (macro, gold paragraphs)", "body_f1"),
    ("pages with empty body", "empty_bodies"),
]


def set_lines(r: SetResult, md: bool = False) -> list[str]:
    t, sm = r.tally, r.summary
    systems = list(sm)
    rows: list[tuple[str, list[str]]] = []
    if r.spec.kind == "dragnet":
        n = sm["newsmill"]
        rows.append(("pages (body) / with gold comments", [f"{n['pages']} / {n['pages_with_gold_comments']}"]))
        rows += [(label, [_fmt(sm[s][key])]) for label, key in DRAGNET_ROWS for s in systems]
        pub = [x for x in r.rows if x["status"] == "published"]
        pub_c = [x["comment_f1"] for x in pub if x["comment_f1"] is not None]
        rows.append(("comment F1 on published pages only (extractor view)",
                     [f"{_fmt(sum(pub_c) / len(pub_c) if pub_c else None)} ({len(pub_c)} pages)"]))
        rows.append(("body F1 on published pages only",
                     [_fmt(sum(x["body_f1"] for x in pub) / len(pub) if pub else None)]))
        rows.append(("pages with gold comments, none published",
                     [_pct(t["pages_gold_comments_none_published"], n["pages_with_gold_comments"])]))
        rows.append(("pages without gold comments, with comment rows", [str(t["pages_no_gold_comments_with_rows"])]))
    elif r.spec.kind == "aeb":
        rows.append(("pages", [str(sm[s]["pages"]) for s in systems]))
        rows += [(label, [_fmt(sm[s][key]) for s in systems]) for label, key in AEB_ROWS]
    else:
        rows.append(("pages", [str(sm[s]["pages"]) for s in systems]))
        rows += [(label, [_fmt(sm[s][key]) for s in systems]) for label, key in FUNDUS_ROWS]
    if r.spec.kind != "dragnet":
        rows.append(("pages with comment rows (no gold comments)",
                     [str(t["pages_with_comment_rows"])] + ["-"] * (len(systems) - 1)))
    d = t["inputs"]
    acc = [("inputs published", _pct(t["published"], d)), ("inputs quarantined", _pct(t["quarantined"], d)),
           ("inputs rejected", _pct(t["rejected"], d))]
    if t["no_input"] or t["absent"]:
        acc.append(("no input (dumper failed) / not accounted", f"{t['no_input']} / {t['absent']}"))
    acc += [("false duplicates (rejected as another page)", str(t["false_duplicates"])),
            ("comments published / quarantined", f"{t['comments_published']} / {t['comments_quarantined']}"),
            ("comments quarantined as 'too long before the article'",
             f"{t['comments_quarantined_early']} on {len(t['pages_with_comments_quarantined_early'])} pages")]
    rows += [(k, [v] + ["-"] * (len(systems) - 1)) for k, v in acc]
    title = f"{r.spec.name}: {r.spec.about}"
    lines = ([f"#### `{r.spec.name}`", "", r.spec.about + ".", ""] if md else [f"== {title}"])
    lines += _row_lines("end to end (published rows)", systems, rows, md)
    b = "- " if md else "  "
    lines += [""] if md else []
    if r.spec.kind == "fundus":
        for label, key in (("wrong titles", "title_issues"), ("wrong authors", "authors_issues"),
                           ("wrong days (predicted - gold)", "day_off")):
            lines.append(f"{b}{label}: " + " | ".join(f"{s_} {_tally_text(sm[s_].get(key) or {})}" for s_ in systems))
    lines.append(f"{b}reject reasons: {_tally_text(t['reject_reasons'])}")
    lines.append(f"{b}article quarantine reasons: {_tally_text(t['article_quarantine_reasons'])}")
    lines.append(f"{b}comment quarantine reasons: {_tally_text(t['comment_quarantine_reasons'])}")
    if t["duplicates"]:
        lines.append(f"{b}rejected as duplicate (page -> kept page, * = gold differs): " + ", ".join(
            f"{x['page']}->{x['kept']}{'*' if x['false'] else ''}" for x in t["duplicates"]))
    if t["pages_with_comments_quarantined_early"]:
        lines.append(f"{b}pages with comments quarantined as too early: "
                     + ", ".join(t["pages_with_comments_quarantined_early"]))
    if r.spec.kind == "dragnet" and t["pages_gold_comments_none_published_ids"]:
        ids = t["pages_gold_comments_none_published_ids"]
        lines.append(f"{b}gold comments but none published ({len(ids)}): " + ", ".join(ids))
    lines.append(f"{b}run: `newsmill run` {r.cli_seconds:.0f} s (exit {r.exit_code}), set total {r.seconds:.0f} s")
    return lines + [""]


def worst_lines(r: SetResult, k: int, md: bool = False) -> list[str]:
    if not k:
        return []
    rows = r.rows
    out: list[str] = []

    def block(title: str, header: list[str], ranked: list[dict], cells: Callable[[dict], list[str]]) -> None:
        if md:
            out.extend([f"worst {len(ranked)} pages, {title}:", "", "| " + " | ".join(header) + " |",
                        "|" + "---|" * len(header)])
            out.extend("| " + " | ".join(cells(x)) + " |" for x in ranked)
            out.append("")
        else:
            out.append(f"  worst {len(ranked)} pages, {title}:")
            out.append("    " + "  ".join(f"{h:>8}" if i else f"{h:<34}" for i, h in enumerate(header[:-1]))
                       + "  " + header[-1])
            for x in ranked:
                c = cells(x)
                out.append("    " + "  ".join(f"{v:>8}" if i else f"{v[:34]:<34}" for i, v in enumerate(c[:-1]))
                           + "  " + c[-1])

    f = lambda v: _fmt(v, 3)  # noqa: E731
    if r.spec.kind == "dragnet":
        withc = [x for x in rows if x["comment_f1"] is not None]
        ranked = sorted(withc, key=lambda x: (x["comment_f1"], -x["comment_gold_tokens"]))[:k]
        block("comment F1", ["page", "com F1", "com P", "com R", "body F1", "rows", "cause"], ranked,
              lambda x: [x["page_id"], f(x["comment_f1"]), f(x["comment_precision"]), f(x["comment_recall"]),
                         f(x["body_f1"]), str(x["n_comments"]), x["cause"]])
        ranked = sorted(rows, key=lambda x: (x["body_f1"], x["page_id"]))[:k]
        block("body F1", ["page", "body F1", "body P", "body R", "leak", "cause"], ranked,
              lambda x: [x["page_id"], f(x["body_f1"]), f(x["body_precision"]), f(x["body_recall"]),
                         f(x["leak_share"]), x["cause"]])
    elif r.spec.kind == "aeb":
        ranked = sorted(rows, key=lambda x: (x["f1"], -x["trafilatura_f1"]))[:k]
        block("body F1 (4-shingles)", ["page", "F1", "P", "R", "trafi F1", "cause"], ranked,
              lambda x: [x["page_id"][:16], f(x["f1"]), f(x["precision"]), f(x["recall"]),
                         f(x["trafilatura_f1"]), x["cause"]])
    else:
        def wrong(x: dict) -> int:
            return sum(not x[key] for key in ("title_ok", "authors_ok", "day_ok"))

        ranked = sorted(rows, key=lambda x: (-wrong(x), x["body_f1"], x["page_id"]))[:k]
        yn = lambda v: "n/a" if v is None else ("ok" if v else "WRONG")  # noqa: E731
        block("fields wrong, then body F1", ["page", "title", "authors", "day", "minute", "body F1", "cause"],
              ranked, lambda x: [x["page_id"].replace(".html.gz", ""), yn(x["title_ok"]), yn(x["authors_ok"]),
                                 yn(x["day_ok"]), yn(x["minute_ok"]), f(x["body_f1"]), x["cause"]])
    return out


def doc_section(results: list[SetResult], machine: dict, seconds: float, worst: int) -> str:
    v = machine["versions"]
    lines = [
        DOC_START,
        "<!-- generated by `python bench/e2e_eval.py --write-doc`; do not edit by hand -->",
        "",
        f"- Run: {machine['date']}, full sets, {seconds:.0f} s wall time; newsmill git {machine['git']}, "
        f"trafilatura {v['trafilatura']}; {machine['nproc']} CPUs, load average at start "
        f"{machine['load_average']}.",
        "",
    ]
    for r in results:
        lines += set_lines(r, md=True) + worst_lines(r, worst, md=True)
    return "\n".join(lines + [DOC_END])


def write_doc(section: str, path: Path = DOC_PATH) -> None:
    text = path.read_text(encoding="utf-8")
    i, j = text.find(DOC_START), text.find(DOC_END)
    if i < 0 or j < i:
        raise ValueError(f"{path}: results markers {DOC_START} ... {DOC_END} not found")
    path.write_text(text[:i] + section + text[j + len(DOC_END):], encoding="utf-8")


def result_json(r: SetResult) -> dict:
    return {"set": r.spec.name, "kind": r.spec.kind, "format": r.spec.fmt, "about": r.spec.about, "pages": r.pages,
            "seconds": r.seconds, "cli_seconds": r.cli_seconds, "exit_code": r.exit_code, "summary": r.summary,
            "tally": r.tally, "page_rows": r.rows}


def result_from_json(d: dict) -> SetResult:
    """A set's result as saved by ``--json`` (to print it or write the doc again without re-running)."""
    return SetResult(SETS[d["set"]], d["pages"], d["seconds"], d["cli_seconds"], d["exit_code"], d["summary"],
                     d["tally"], d["page_rows"])


# --------------------------------------------------------------------------- CLI


def parse_sets(value: str) -> list[str]:
    names = [s.strip() for s in value.split(",") if s.strip()]
    if names == ["all"]:
        return list(SETS)
    bad = [n for n in names if n not in SETS]
    if bad:
        raise argparse.ArgumentTypeError(f"unknown set(s) {', '.join(bad)}; known: {', '.join(SETS)}, all")
    return names


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sets", type=parse_sets, default=list(SETS),
                    help=f"comma-separated sets (default all): {', '.join(SETS)}")
    ap.add_argument("--limit", type=int, help="N pages per set, evenly spaced over the sorted ids "
                                              "(Dragnet: N pages with gold comments)")
    ap.add_argument("--all-pages", action="store_true",
                    help="text-dump sets: all 966 Dragnet pages, not only the 298 with gold comments")
    ap.add_argument("--worst", type=int, default=10, help="list the K lowest pages per set (0: none)")
    ap.add_argument("--json", type=Path, help="also write summaries, tallies and per-page rows here")
    ap.add_argument("--no-daemon", action="store_true", help="run without the warm worker (newsmill run --no-daemon)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary outputs and PREFECT_HOME (path printed)")
    ap.add_argument("--write-doc", action="store_true",
                    help=f"rewrite the end-to-end results in {DOC_PATH.relative_to(REPO_ROOT)} (full run of all sets)")
    ap.add_argument("--from-json", type=Path, metavar="FILE",
                    help="run nothing: print (and with --write-doc, write) the results saved by --json FILE")
    args = ap.parse_args(argv)
    if args.from_json:
        saved = json.loads(args.from_json.read_text(encoding="utf-8"))
        results = [result_from_json(saved["sets"][n]) for n in args.sets if n in saved["sets"]]
        for r in results:
            print("\n".join(set_lines(r) + worst_lines(r, args.worst)))
        if args.write_doc:
            if saved.get("limit") or saved.get("all_pages") or set(saved["sets"]) != set(SETS):
                ap.error(f"--write-doc: {args.from_json} is not a full run of all sets")
            write_doc(doc_section(results, saved["machine"], saved["seconds"], min(args.worst, 10)))
            print(f"wrote results to {DOC_PATH}")
        return 0
    if args.write_doc and (args.limit or set(args.sets) != set(SETS) or args.all_pages):
        ap.error("--write-doc needs a full run of all sets (no --limit, --sets or --all-pages)")

    log = lambda m: print(m, file=sys.stderr, flush=True)  # noqa: E731
    sets = [SETS[n] for n in args.sets]
    missing = [s for s in sets if not present(s.kind)]
    for s in missing:
        print(f"skip: {s.name}: data not found under {shared_data_dir()} (set NEWSMILL_SHARED)")
    sets = [s for s in sets if s not in missing]
    if not sets:
        return 0
    if args.write_doc and missing:
        print("skip: --write-doc needs all data; the doc was not touched")
        args.write_doc = False

    start = time.perf_counter()
    machine = machine_info()
    results: list[SetResult] = []
    session = CliSession(daemon=not args.no_daemon, keep=args.keep)
    try:
        for spec in sets:
            results.append(evaluate_set(spec, session, args.limit, args.all_pages, log))
            print("\n".join(set_lines(results[-1]) + worst_lines(results[-1], args.worst)), flush=True)
    finally:
        session.close()
        if args.keep:
            log(f"kept: {session.tmp}")
        left = session.leftover_processes()
        if left:
            log(f"warning: processes of this run's PREFECT_HOME still running: {left}")
    seconds = time.perf_counter() - start
    print(f"{machine['date']}  newsmill git {machine['git']}  trafilatura {machine['versions']['trafilatura']}  "
          f"{'subset of ' + str(args.limit) + ' pages per set' if args.limit else 'full sets'}  "
          f"run time {seconds:.0f} s")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        payload = {"machine": machine, "limit": args.limit, "all_pages": args.all_pages, "seconds": seconds,
                   "daemon": not args.no_daemon, "sets": {r.spec.name: result_json(r) for r in results}}
        args.json.write_text(json.dumps(payload, indent=1, default=str) + "\n", encoding="utf-8")
        print(f"wrote {args.json}")
    if args.write_doc:
        write_doc(doc_section(results, machine, seconds, min(args.worst, 10)))
        print(f"wrote results to {DOC_PATH}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
