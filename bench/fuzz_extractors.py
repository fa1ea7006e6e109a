"""Fuzz the extractors for N minutes: crashes (any exception) and very slow inputs.

Two engines take turns on every target until the time is up:

* **hypothesis**: generated text built from page-like pieces (dates, stamps, bullets,
  names, markup, odd Unicode), shrunk to a minimal example when it fails;
* **mutation**: real pages (``samples/``, ``tests/hostile/files/``, and the cached
  Dragnet w3m dumps if present) with lines duplicated, dropped, swapped, spliced,
  digits changed and page-like pieces inserted, so the parser meets broken
  versions of the layouts it was written for.

Targets: ``find_date``, ``normalize``, ``decode``, ``textdump`` (parse_text_dump),
``page`` (bytes -> decode -> extract -> clean, in a random ``--authors`` mode) and
``html`` (the HTML extractor, when it is importable).

Every crash is written (input + traceback) to ``--out`` and deduplicated by exception
type and the line that raised; an input over ``--slow`` seconds is kept as well
(a layout that sends the parser quadratic).  Run by hand, not by ``make test``::

    python bench/fuzz_extractors.py --minutes 5
    python bench/fuzz_extractors.py --minutes 1 --target textdump --seed 7

Prints executions per target, crashes and slow inputs; exit code 1 if anything crashed.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import random
import sys
import time
import traceback
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from hypothesis import HealthCheck, Phase, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

PIECES = [
    "\n", "\n\n", "  • ", "    ", "* ", "1. ", "□ ", "☆ ", "Reply", "Report abuse", "says:", "wrote:", "said...",
    "12 Comments", "Comments (3)", "Leave a Reply", "Published: ", "Posted by ", "by ", "March 3, 2012",
    "at 4:15 pm", "3 hours ago", "vor 2 Stunden", "Yesterday at 3:45 pm", "Feb 8, 2012 - 5:11PM",
    "2012-03-03T16:15:00Z", "03/04/2012 09:02", "29.02.2013", "July 23, @09:58PM", "+0100", "GMT+2", "+9999",
    "Alice Doe", "@Bob:", "@Alice Doe:", "Bob Roe", "The council approved the budget.", "<script>alert(1)</script>",
    "[avatar]", "[a1b2c]", "—", "|", ":", "...", "\t", "\r\n", "\r", "\u00a0", "\u200b", "é", "’", "\x00", "\x0b",
    "\ufeff", "\u202e", "ﬁ", "e\u0301", "Published in ../../etc, March 3, 2012.", "Name *", "Email *",
    "Older Comments", "Recent Comments", "1 Response to", "One thought on", "#12", "Like (3)",
]


def seeds() -> list[bytes]:
    out = []
    for folder in (REPO_ROOT / "samples", REPO_ROOT / "tests" / "hostile" / "files"):
        for p in sorted(folder.glob("*")):
            if p.is_file() and p.stat().st_size < 2_000_000:
                data = p.read_bytes()
                if p.suffix == ".gz":
                    import gzip

                    try:
                        data = gzip.decompress(data)
                    except Exception:
                        pass
                out.append(data)
    cache = Path(os.environ.get("NEWSMILL_CACHE", Path.home() / ".cache" / "newsmill")) / "dragnet-dumps"
    if cache.is_dir():
        out += [p.read_bytes() for p in sorted(cache.glob("*.txt"))[:300]]
    return [s for s in out if s]


# --------------------------------------------------------------------------- targets


def _targets() -> dict:
    from newsmill import profiles
    from newsmill.clean import CleanContext, clean_page
    from newsmill.extract import extract_page
    from newsmill.extract.dates import find_date
    from newsmill.extract.textdump import parse_text_dump
    from newsmill.records import PageInput, Reject
    from newsmill.sources.decode import UndecodableError, decode
    from newsmill.text import normalize_text

    now = datetime(2026, 1, 1, tzinfo=timezone.utc)

    def t_find_date(text: str, rnd: random.Random):
        m = find_date(text, day_first=rnd.random() < 0.5, default_year=rnd.choice([None, 2012]),
                      relative=rnd.random() < 0.5)
        if m is not None:
            assert 0 <= m.start < m.end <= len(text), (m, text)
            if m.has_time and m.year is not None:
                m.to_utc(rnd.choice(["UTC", "Europe/Berlin", "America/New_York"]))
            if m.relative:
                m.resolve(now)

    def t_normalize(text: str, rnd: random.Random):
        once = normalize_text(text)
        assert normalize_text(once) == once, "normalize_text is not idempotent"

    def t_decode(data: bytes, rnd: random.Random):
        try:
            decode(data, rnd.choice([None, "utf-8", "iso-8859-1", "nonsense", "utf-16"]))
        except UndecodableError:
            pass

    def t_textdump(text: str, rnd: random.Random):
        page = parse_text_dump(text)
        for c in page.comments:
            assert c.parent_index is None or 0 <= c.parent_index < len(page.comments)

    def t_page(data: bytes, rnd: random.Random):
        page = PageInput(uri="fuzz://page", data=data, sha256=hashlib.sha256(data).hexdigest(), format="text",
                         captured_at=rnd.choice([None, now]))
        res = extract_page(page)
        if isinstance(res, Reject):
            return
        raw, profile = res
        mode = rnd.choice(["keep", "pseudonymize", "drop"])
        article, comments = clean_page(raw, page, profile, CleanContext(b"k" * 32, now, "fuzz", authors_mode=mode))
        assert len({c["comment_id"] for c in comments}) == len(comments), "duplicate comment ids"
        ids = {c["comment_id"] for c in comments}
        for c in comments:
            assert c["parent_comment_id"] is None or c["parent_comment_id"] in ids
            if mode == "drop":
                assert c["author"] is None and c["author_id"] is None

    targets = {"find_date": ("text", t_find_date), "normalize": ("text", t_normalize), "decode": ("bytes", t_decode),
               "textdump": ("text", t_textdump), "page": ("bytes", t_page)}
    try:
        from newsmill.extract.html import extract_html

        def t_html(data: bytes, rnd: random.Random):
            extract_html(data.decode("utf-8", errors="replace"))

        targets["html"] = ("bytes", t_html)
    except ImportError:
        pass
    profiles.load_profiles()
    return targets


# --------------------------------------------------------------------------- mutation engine


def mutate(data: bytes, rnd: random.Random, pool: list[bytes]) -> bytes:
    lines = data.split(b"\n")
    for _ in range(rnd.randint(1, 8)):
        op = rnd.randrange(9)
        i = rnd.randrange(len(lines)) if lines else 0
        if op == 0 and lines:
            lines.insert(i, lines[rnd.randrange(len(lines))])  # duplicate a line elsewhere
        elif op == 1 and len(lines) > 1:
            del lines[i]
        elif op == 2 and len(lines) > 1:
            j = rnd.randrange(len(lines))
            lines[i], lines[j] = lines[j], lines[i]
        elif op == 3:
            lines.insert(i, rnd.choice(PIECES).encode("utf-8"))
        elif op == 4 and lines:
            lines[i] = bytes(rnd.choice(b"0123456789") if 48 <= b <= 57 and rnd.random() < 0.5 else b for b in lines[i])
        elif op == 5 and pool:  # splice with another page
            other = rnd.choice(pool).split(b"\n")
            a = rnd.randrange(len(other))
            lines[i:i] = other[a : a + rnd.randint(1, 40)]
        elif op == 6 and lines:
            lines[i] = lines[i] + rnd.choice(PIECES).encode("utf-8")
        elif op == 7:  # a block repeated: long comment sections
            a = rnd.randrange(len(lines)) if lines else 0
            block = lines[a : a + rnd.randint(1, 12)]
            lines[i:i] = block * rnd.randint(1, 30)
        elif op == 8 and lines:
            b = bytearray(lines[i])
            for _ in range(rnd.randint(1, 4)):
                if b:
                    b[rnd.randrange(len(b))] = rnd.randrange(256)
            lines[i] = bytes(b)
    out = b"\n".join(lines)
    if rnd.random() < 0.05:
        out = out[: rnd.randrange(len(out) + 1)]
    return out[:400_000]


# --------------------------------------------------------------------------- running


class Findings:
    def __init__(self, out: Path, slow: float):
        self.out, self.slow_limit = out, slow
        self.execs: Counter[str] = Counter()
        self.crashes: dict[tuple, tuple[str, str]] = {}
        self.slow: list[tuple[float, str, str]] = []

    def run(self, name: str, fn, arg, rnd: random.Random) -> None:
        t = time.perf_counter()
        try:
            fn(arg, rnd)
        except Exception as exc:  # noqa: BLE001 - every exception is a finding
            tb = traceback.extract_tb(exc.__traceback__)
            where = tb[-1] if tb else None
            key = (name, type(exc).__name__, where.filename if where else "", where.lineno if where else 0)
            if key not in self.crashes:
                path = self._save(name, "crash", arg, traceback.format_exc())
                self.crashes[key] = (f"{type(exc).__name__}: {str(exc)[:160]}", str(path))
                print(f"  CRASH {name}: {type(exc).__name__}: {str(exc)[:120]} -> {path}", flush=True)
        finally:
            self.execs[name] += 1
            dt = time.perf_counter() - t
            if dt > self.slow_limit:
                path = self._save(name, "slow", arg, f"{dt:.1f} s")
                self.slow.append((dt, name, str(path)))
                print(f"  SLOW  {name}: {dt:.1f} s on {len(arg)} chars -> {path}", flush=True)

    def _save(self, name: str, kind: str, arg, note: str) -> Path:
        self.out.mkdir(parents=True, exist_ok=True)
        data = arg if isinstance(arg, bytes) else arg.encode("utf-8", "surrogatepass")
        path = self.out / f"{kind}-{name}-{hashlib.sha256(data).hexdigest()[:12]}"
        path.with_suffix(".input").write_bytes(data)
        path.with_suffix(".txt").write_text(note, encoding="utf-8")
        return path.with_suffix(".input")


def hypothesis_round(name: str, kind: str, fn, findings: Findings, rnd: random.Random, examples: int,
                     deadline: float) -> None:
    piece = st.one_of(st.sampled_from(PIECES), st.text(max_size=16))
    text = st.lists(piece, max_size=120).map("".join)
    strategy = text if kind == "text" else st.one_of(st.binary(max_size=2000), text.map(lambda s: s.encode("utf-8")),
                                                     text.map(lambda s: s.encode("cp1252", errors="ignore")))
    @settings(max_examples=examples, deadline=None, database=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(strategy)
    def body(arg):
        if time.monotonic() < deadline:  # past it, the remaining examples are no-ops
            findings.run(name, fn, arg, rnd)  # records, never raises: keep generating

    body()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=5.0)
    ap.add_argument("--target", default="all", help="one of find_date, normalize, decode, textdump, page, html, all")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--slow", type=float, default=5.0, help="seconds after which an input is reported as slow")
    ap.add_argument("--out", default=os.environ.get("NEWSMILL_FUZZ_OUT", "/tmp/newsmill-fuzz"))
    args = ap.parse_args(argv)

    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    rnd = random.Random(seed)
    targets = _targets()
    if args.target != "all":
        targets = {args.target: targets[args.target]}
    pool = seeds()
    findings = Findings(Path(args.out), args.slow)
    deadline = time.monotonic() + args.minutes * 60
    started = time.monotonic()
    print(f"fuzzing {', '.join(targets)} for {args.minutes} min (seed {seed}, {len(pool)} seed pages) -> {args.out}",
          flush=True)
    rounds = 0
    while time.monotonic() < deadline:
        for name, (kind, fn) in targets.items():
            if time.monotonic() >= deadline:
                break
            if rounds % 2 == 0:
                hypothesis_round(name, kind, fn, findings, rnd, examples=200, deadline=deadline)
            else:
                for _ in range(50):
                    data = mutate(rnd.choice(pool), rnd, pool)
                    arg = data if kind == "bytes" else data.decode("utf-8", errors="replace")
                    if name == "find_date":  # one line at a time, as the parser calls it
                        arg = rnd.choice(arg.split("\n") or [""])
                    findings.run(name, fn, arg, rnd)
        rounds += 1
    secs = time.monotonic() - started
    total = sum(findings.execs.values())
    print(f"\n{total} executions in {secs:.0f} s ({total / secs:.0f}/s), seed {seed}")
    for name, n in findings.execs.most_common():
        print(f"  {name:10s} {n:>8}")
    print(f"{len(findings.crashes)} distinct crashes, {len(findings.slow)} slow inputs (> {args.slow} s)")
    for (name, exc, file, line), (msg, path) in findings.crashes.items():
        print(f"  {name}: {msg} at {Path(file).name}:{line} -> {path}")
    for dt, name, path in sorted(findings.slow, reverse=True)[:10]:
        print(f"  slow {name}: {dt:.1f} s -> {path}")
    return 1 if findings.crashes else 0


if __name__ == "__main__":
    sys.exit(main())
