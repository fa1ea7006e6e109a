"""Hostile and broken input: every input ends as a record or as a reject with a reason, the rest
of the run goes on, time and memory stay bounded, and nothing is written outside the output.

The corpus is ``tests/hostile/`` (small files committed, big ones generated into a temporary
folder by ``tests/hostile/make_corpus.py``).  One ``pipeline.run`` over all of it is shared by
the tests below (module fixture); each test then checks one promise.
"""
from __future__ import annotations

import importlib.util
import os
import shutil
import time
import tracemalloc
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from newsmill import pipeline
from newsmill.config import Settings
from newsmill.profiles import default_profile, source_key
from newsmill.records import PageInput, Reject
from newsmill.sources import discover, files as source_files, read_input
from newsmill.sources.decode import decode, looks_binary
from newsmill.store import reading
from tests.conftest import SEED

HOSTILE = Path(__file__).resolve().parent / "hostile"
_spec = importlib.util.spec_from_file_location("make_corpus", HOSTILE / "make_corpus.py")
corpus = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(corpus)

# inputs whose current outcome is wrong; each has an xfail test below saying what it should be
KNOWN_GAPS = {"punctuation-only.txt"}
RUN_BUDGET_S = 90  # the whole corpus takes ~8 s on a 2-core machine


def _settings(out: Path, **kw) -> Settings:
    return Settings(output_dir=out, batch_size=7, author_key=b"hostile-test-key-0123456789", **kw)


def _outcomes(out: Path, run_id: str) -> dict[str, list[tuple]]:
    """File name -> every record or reject it produced: ('published'|'quarantined'|'reject', detail)."""
    found: dict[str, list[tuple]] = {}
    for r in reading.read_table("articles", out).to_pylist():
        found.setdefault(Path(r["input_uri"]).name, []).append(("published", r))
    qa = out / "quarantine" / "articles" / f"{run_id}.pq"
    if qa.exists():
        for r in pq.read_table(qa).to_pylist():
            found.setdefault(Path(r["input_uri"]).name, []).append(("quarantined", r))
    for r in pq.read_table(out / "quarantine" / "rejects" / f"{run_id}.pq").to_pylist():
        found.setdefault(Path(r["input_uri"]).name, []).append(("reject", r))
    return found


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory):
    base = tmp_path_factory.mktemp("hostile")
    gen, out = base / "generated", base / "out"
    expected = {**corpus.EXPECTED, **corpus.write_generated(gen)}
    started = time.monotonic()
    summary = pipeline.run([str(corpus.FILES), str(gen)], _settings(out))
    elapsed = time.monotonic() - started
    yield {"summary": summary, "out": out, "base": base, "gen": gen, "expected": expected, "elapsed": elapsed,
           "outcomes": _outcomes(out, summary.run_id), "inputs": _inputs([str(corpus.FILES), str(gen)])}


def _inputs(paths: list[str]) -> list[str]:
    """Every input a run must account for: the files found, and the folder entries not walked."""
    found, rejects = source_files.walk(paths)
    return [*found, *(r.input_uri for r in rejects)]


def _comments(out: Path, run_id: str, name: str) -> tuple[list[dict], list[dict]]:
    pub = [c for c in reading.read_table("comments", out).to_pylist() if Path(c["input_uri"]).name == name]
    qc = out / "quarantine" / "comments" / f"{run_id}.pq"
    quar = [c for c in pq.read_table(qc).to_pylist() if Path(c["input_uri"]).name == name] if qc.exists() else []
    return pub, quar


# --------------------------------------------------------------------------- the corpus and the run


def test_committed_corpus_matches_its_script():
    on_disk = {p.name: p.read_bytes() for p in corpus.FILES.iterdir()}
    assert on_disk == corpus.SMALL, "tests/hostile/files/ differs from make_corpus.py: run it with --small"
    assert set(corpus.EXPECTED) == set(corpus.SMALL)


def test_whole_corpus_in_one_run_every_input_accounted_for_by_name(hostile_run):
    s, outcomes = hostile_run["summary"], hostile_run["outcomes"]
    names = [Path(os.fsdecode(p)).name for p in hostile_run["inputs"]]
    # the invariant, as the summary (and the CLI) reports it
    assert s.inputs == len(names) == s.articles_published + s.articles_quarantined + s.rejected
    assert s.accounting_ok
    # ... and by name: each input is exactly one article (published or quarantined) or one reject
    shown = {n.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace") for n in names}
    assert set(outcomes) == shown
    assert all(len(v) == 1 for v in outcomes.values()), {k: [o for o, _ in v] for k, v in outcomes.items() if len(v) > 1}
    for name, [(kind, row)] in outcomes.items():
        if kind == "reject":
            assert row["reason"] and row["detail"] and row["stage"], row
        if kind == "quarantined":
            assert row["quarantine_reasons"], row


def test_each_input_gets_its_expected_outcome(hostile_run):
    outcomes = hostile_run["outcomes"]
    expected = {k.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace"): v
                for k, v in hostile_run["expected"].items()}
    wrong = {}
    for name, want in expected.items():
        if name in KNOWN_GAPS or want == "html":  # html: see test_hostile_html_pages_finish_in_bounded_time
            continue
        [(kind, row)] = outcomes[name]
        got = f"reject:{row['reason']}" if kind == "reject" else kind
        if got != want:
            wrong[name] = (want, got, row.get("detail") or row.get("quarantine_reasons"))
    assert not wrong


def test_run_finishes_in_bounded_time_and_only_critical_failures_fail_it(hostile_run):
    s = hostile_run["summary"]
    assert hostile_run["elapsed"] < RUN_BUDGET_S
    assert not s.critical_failed and s.exit_code == 0
    assert s.articles_published >= 8


# --------------------------------------------------------------------------- size limits


def test_fifty_mb_page_rejected_in_bounded_time_and_memory(hostile_run):
    page = hostile_run["gen"] / "fifty-mb.txt"
    assert page.stat().st_size == 50_000_000
    tracemalloc.start()
    t = time.perf_counter()
    res = read_input(str(page))
    elapsed = time.perf_counter() - t
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert isinstance(res, Reject) and res.reason == "too_large"
    assert "50000000 bytes" in res.detail and "text-dump limit" in res.detail
    assert elapsed < 1.0 and peak < 1_000_000  # decided from the file size: never read


def test_same_fifty_mb_as_html_or_unknown_suffix_is_over_the_page_limit(hostile_run, tmp_path):
    for name in ("big.html", "big.dat"):
        os.link(hostile_run["gen"] / "fifty-mb.txt", tmp_path / name)
        res = read_input(str(tmp_path / name))
        assert isinstance(res, Reject) and res.reason == "too_large" and "page limit" in res.detail


def test_gzip_bomb_stops_at_the_limit(hostile_run):
    tracemalloc.start()
    res = read_input(str(hostile_run["gen"] / "gzip-bomb.txt.gz"))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert isinstance(res, Reject) and res.reason == "too_large" and "decompresses" in res.detail
    assert peak < 3 * source_files.MAX_TEXT_BYTES  # 64 MiB inside: never held whole


def test_line_limit_has_its_own_reason(tmp_path):
    p = tmp_path / "lines.txt"
    p.write_bytes(b"Title\n\n" + b"x\n" * 50)
    assert isinstance(read_input(str(p), max_text_lines=100), PageInput)
    res = read_input(str(p), max_text_lines=40)
    assert res.reason == "too_many_lines" and "40-line" in res.detail
    p.write_bytes(b"Title\r\rbody\r" * 30)  # old Mac line ends count too
    assert read_input(str(p), max_text_lines=40).reason == "too_many_lines"


def test_limits_apply_after_gunzip_and_to_sniffed_text(tmp_path):
    import gzip

    big = b"Title\n\n" + b"word " * 5000
    (tmp_path / "a.txt.gz").write_bytes(gzip.compress(big))
    assert read_input(str(tmp_path / "a.txt.gz"), max_text_bytes=10_000).reason == "too_large"
    (tmp_path / "b.dat").write_bytes(big)  # no known suffix: sniffed as text, then the text limit applies
    res = read_input(str(tmp_path / "b.dat"), max_text_bytes=10_000)
    assert res.reason == "too_large" and "text-dump" in res.detail


# --------------------------------------------------------------------------- encodings and odd files


def test_mixed_utf8_cp1252_page_reads_both_parts(hostile_run):
    [(kind, art)] = hostile_run["outcomes"]["mixed-utf8-cp1252.txt"]
    assert kind == "published"
    assert art["title"] == "Zürich café wins the council vote"
    assert "Zürich’s mayor said “no” – the café stays." in art["body"]
    pub, _ = _comments(hostile_run["out"], hostile_run["summary"].run_id, "mixed-utf8-cp1252.txt")
    assert pub[0]["text"] == "Finally some money “for once” – it’s for the roads."


def test_decode_documents_its_choice_for_mixed_and_undefined_bytes():
    # UTF-8 characters at least as many as stray bytes: UTF-8 with cp1252 strays
    assert decode("café née ".encode() + b"\x93hi\x94") == ("café née “hi”", "utf-8+cp1252")
    # stray bytes outnumber UTF-8: not a UTF-8 page, read as one single-byte encoding
    text, enc = decode("é".encode() + b" \x93a\x94 \x92b\x92 \x85")
    assert enc != "utf-8+cp1252" and "“a”" in text
    assert decode(b"abc \x81 def") == ("abc \ufffd def", "cp1252+replace")


@pytest.mark.parametrize("text,encoding", [
    ("Le café était très fermé, après la fête; où est le père Noël ? Élève, château. " * 8, "cp1252"),
    ("Le café était très fermé, après la fête; où est le père Noël ? Élève, château. " * 8, "latin-1"),
    ("Zażółć gęślą jaźń. Łódź jest piękna, ale żółw śpi. Wiadomości z kraju. " * 8, "cp1250"),
    ("Привет, как дела? Это тестовая страница новостей. " * 8, "cp1251"),
])
def test_single_byte_pages_decode_to_their_own_letters(text, encoding):
    """Detection ranks cp1250 first for French text ('è' -> 'č'); a tie goes to cp1252."""
    assert decode(text.encode(encoding))[0] == text


def test_utf16_without_bom_is_text_not_binary():
    data = "Council budget, March 3, 2012".encode("utf-16-le")
    assert not looks_binary(data)
    assert decode(data) == ("Council budget, March 3, 2012", "utf-16-le")
    assert decode("Council budget, March 3, 2012".encode("utf-16-be"))[1] == "utf-16-be"


def test_multi_member_gzip_and_utf16_pages_keep_all_their_comments(hostile_run):
    run_id = hostile_run["summary"].run_id
    for name in ("multi-member.txt.gz", "utf16-no-bom.txt"):
        pub, quar = _comments(hostile_run["out"], run_id, name)
        assert len(pub) == 3 and not quar, name


def test_nul_byte_after_the_head_is_dropped_not_fatal(hostile_run):
    pub, _ = _comments(hostile_run["out"], hostile_run["summary"].run_id, "late-nul.txt")
    assert pub[0]["text"] == "Finally some money for the roads."


def test_non_utf8_file_name_gets_a_readable_uri(hostile_run):
    [(kind, art)] = hostile_run["outcomes"]["caf\\xe9-page.txt"]
    assert kind == "published" and art["input_uri"].endswith("/caf\\xe9-page.txt")


def test_fifo_is_rejected_without_blocking(tmp_path):
    os.mkfifo(tmp_path / "pipe.txt")
    res = read_input(str(tmp_path / "pipe.txt"))
    assert res.reason == "not_a_file" and "fifo" in res.detail


def test_nul_in_path_is_a_reject_not_a_crash():
    res = read_input("bad\x00name.txt")
    assert isinstance(res, Reject) and res.reason == "unreadable"


# --------------------------------------------------------------------------- markup in text


def test_script_in_article_body_is_quarantined_verbatim_with_its_comments(hostile_run):
    [(kind, art)] = hostile_run["outcomes"]["script-in-body.txt"]
    assert kind == "quarantined"
    assert 'typing <script>alert("x")</script> into the' in art["body"]  # intact: not stripped, not escaped
    assert any("HTML" in r for r in art["quarantine_reasons"])
    pub, quar = _comments(hostile_run["out"], hostile_run["summary"].run_id, "script-in-body.txt")
    assert not pub and len(quar) == 3
    assert all(r.startswith("article quarantined") for c in quar for r in c["quarantine_reasons"])


def test_script_in_comment_quarantines_that_comment_only_text_intact(hostile_run):
    [(kind, _)] = hostile_run["outcomes"]["script-in-comment.txt"]
    assert kind == "published"
    pub, quar = _comments(hostile_run["out"], hostile_run["summary"].run_id, "script-in-comment.txt")
    assert [c["text"] for c in quar] == ["Try pasting <script>alert(document.cookie)</script> in their form, lol."]
    assert any("HTML" in r for r in quar[0]["quarantine_reasons"])
    assert len(pub) == 2 and all("<" not in c["text"] for c in pub)


def test_angle_brackets_that_are_not_tags_are_published_as_written(hostile_run):
    [(kind, art)] = hostile_run["outcomes"]["angle-brackets.txt"]
    assert kind == "published"
    assert "roads < 5% of the total and schools > 40%: a => b, x<y, <3 for all." in art["body"]
    pub, quar = _comments(hostile_run["out"], hostile_run["summary"].run_id, "angle-brackets.txt")
    assert not quar
    assert "If a < b and b > c then who knows. <-- this is the key point -->" in [c["text"] for c in pub]


def test_data_docs_do_not_render_page_markup(hostile_run):
    docs = Path(hostile_run["summary"].report_dir) / "data_docs"
    pages = [p.read_text(encoding="utf-8", errors="replace") for p in docs.rglob("*.html")]
    assert pages
    assert not any("<script>alert(document.cookie)" in p for p in pages)


def test_raw_html_saved_as_text_is_quarantined_not_published(hostile_run):
    [(kind, art)] = hostile_run["outcomes"]["raw-html-as-text.txt"]
    assert kind == "quarantined" and "<p>" in art["body"]


def test_page_without_words_is_not_published(hostile_run):
    [(kind, _)] = hostile_run["outcomes"]["punctuation-only.txt"]
    assert kind != "published"


# --------------------------------------------------------------------------- dates


def test_unparsable_comment_dates_are_kept_with_null_time_and_a_flag(hostile_run):
    pub, quar = _comments(hostile_run["out"], hostile_run["summary"].run_id, "unparsable-dates.txt")
    assert len(pub) == 3 and not quar
    for c in pub:
        assert c["posted_at"] is None and "time_unparsed" in c["flags"] and c["posted_raw"].endswith("ago")
    assert pub[0]["text"] == "The ferry to the island has not run since Thursday."


def test_impossible_utc_offset_is_ignored_and_the_page_kept(tmp_path):
    (tmp_path / "p.txt").write_text(corpus.article("Offsets gone wrong").replace("March 3, 2012 at 5:20 pm",
                                                                                  "March 3, 2012 at 5:20 pm +9999"))
    s = pipeline.run([str(tmp_path / "p.txt")], _settings(tmp_path / "out"))
    assert s.articles_published == 1 and s.rejected == 0
    bob = next(c for c in reading.read_table("comments", tmp_path / "out").to_pylist() if c["position"] == 2)
    # an offset no time zone has (+99:99) is ignored: the clock time stays, read in the site's zone
    assert bob["posted_at"] is not None and bob["posted_at"].hour == 17 and "timezone_assumed_utc" in bob["flags"]


# --------------------------------------------------------------------------- paths


def test_traversal_in_publication_stays_inside_the_output(hostile_run):
    base, out = hostile_run["base"], hostile_run["out"]
    [(kind, art)] = hostile_run["outcomes"]["traversal-publication.txt"]
    assert kind == "published" and art["publication"] == "../../etc" and art["source"] == "etc"
    assert sorted(p.name for p in base.iterdir()) == ["generated", "out"]
    root = out.resolve()
    for folder, dirs, files in os.walk(out):
        for name in dirs + files:
            assert name not in ("..", "."), folder
            real = Path(os.path.realpath(Path(folder) / name))
            assert real == root or root in real.parents, real


HOSTILE_SOURCES = [
    (None, "../../etc"), (None, ".."), (None, "/"), (None, "a/../../b"), (None, "\x00"), (None, "ÄÖÜ"),
    ("http://../../etc/passwd", None), ("http://exa%2F..%2Fmple.com/x", None), ("http://user:pw@evil..com/", None),
    ("http://.../", None), ("http://-a-.com", None), ("http://a b.com/", None), ("http://%2e%2e/", None),
    ("http://[::1/x", "../x"), ("http://[evil]/", None), ("http://" + "a" * 300 + ".com/", None),
]


@pytest.mark.parametrize("url,publication", HOSTILE_SOURCES)
def test_source_key_is_safe_for_hostile_urls_and_publications(url, publication):
    key = source_key(default_profile(), url, publication)
    assert key == key.lower() and ".." not in key and "/" not in key and len(key) <= 100
    assert key[0].isalnum() and all(c.isalnum() or c in "._-" for c in key)


def test_unsafe_source_that_slips_through_is_quarantined_and_never_becomes_a_path(tmp_path):
    """Defence in depth: even a row whose source is '../../escape' never reaches the file system."""
    d = tmp_path / "in"
    d.mkdir()
    shutil.copy(SEED, d / "seed.txt")
    out = tmp_path / "sub" / "out"
    ctx = pipeline.start_run(_settings(out))
    res = pipeline.process_batch(discover([str(d)]), ctx)
    for row in res.articles + res.comments:
        row["source"] = "../../escape"
    s = pipeline.finalize([res], ctx)
    assert s.critical_failed and s.articles_published == 0 and s.articles_quarantined == 1
    assert not (tmp_path / "escape").exists() and not (tmp_path / "sub" / "escape").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in", "sub"]


# --------------------------------------------------------------------------- HTML (extractor in progress)


def test_hostile_html_pages_finish_in_bounded_time(tmp_path):
    """Deeply nested markup and entity expansion ('billion laughs'): a record or a reject, quickly."""
    d = tmp_path / "in"
    d.mkdir()
    for name in ("billion-laughs.html", "billion-laughs.xhtml"):
        shutil.copy(corpus.FILES / name, d / name)
    (d / "deep-nesting.html").write_bytes(corpus._deep_nesting())
    started = time.monotonic()
    s = pipeline.run([str(d)], _settings(tmp_path / "out"))
    elapsed = time.monotonic() - started
    outcomes = _outcomes(tmp_path / "out", s.run_id)
    if any(kind == "reject" and row["reason"] == "unsupported_format" for v in outcomes.values() for kind, row in v):
        pytest.xfail("HTML extraction is not wired into extract_page yet (newsmill/extract/html/ in progress)")
    assert elapsed < 60
    assert s.accounting_ok and set(outcomes) == {"billion-laughs.html", "billion-laughs.xhtml", "deep-nesting.html"}
    for kind, row in (o for v in outcomes.values() for o in v):
        if kind != "reject":  # entities are never expanded into the text
            assert "lollollol" not in (row["title"] or "") + (row["body"] or "")


# --------------------------------------------------------------------------- folders and links


def test_symlink_loop_and_symlinked_or_unreadable_folders_are_rejects_not_crashes(tmp_path, monkeypatch):
    """A file linked to itself, a folder linked to its parent (a loop if followed) and a folder
    that cannot be listed: one reject each with its reason, the good page still published."""
    d = tmp_path / "in"
    (d / "locked").mkdir(parents=True)
    (d / "locked" / "hidden.txt").write_text(corpus.article("Never listed"))
    shutil.copy(SEED, d / "seed.txt")
    os.symlink("self.html", d / "self.html")
    os.symlink("..", d / "up")
    real_scandir = os.scandir

    def scandir(path="."):  # root ignores permissions: an unlistable folder is simulated
        if isinstance(path, str) and path.endswith("locked"):
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    s = pipeline.run([str(d)], _settings(tmp_path / "out"))
    assert s.accounting_ok and s.articles_published == 1
    rows = pq.read_table(tmp_path / "out" / "quarantine" / "rejects" / f"{s.run_id}.pq").to_pylist()
    got = {Path(r["input_uri"]).name: r["reason"] for r in rows}
    assert got == {"self.html": "symlink_loop", "up": "symlinked_folder", "locked": "unreadable"}
    assert all(r["detail"] for r in rows)
    assert s.rejected == 3 and s.inputs == 4


# --------------------------------------------------------------------------- untrusted text where it is shown

EVIL = "\x1b]0;owned\x07\x1b[2J<script>alert(1)</script>"  # ASCII: warcio writes headers as ASCII


def _evil_warc(path: Path) -> None:
    """Archive headers chosen by whoever made the archive: record type, HTTP status, role, and a
    damaged record whose junk ends up in a reject detail."""
    import io

    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    buf = io.BytesIO()
    w = WARCWriter(buf, gzip=False)
    http = StatusAndHeaders(f"{EVIL} OK", [("Content-Type", "text/html")], protocol="HTTP/1.1")
    w.write_record(w.create_warc_record("https://example.org/a", "response", http_headers=http,
                                        payload=io.BytesIO(b"<html><body><p>x</p></body></html>")))
    w.write_record(w.create_warc_record("https://example.org/b", "resource", payload=io.BytesIO(b"x"),
                                        warc_headers_dict={"Content-Type": "text/plain"}))
    data = buf.getvalue().replace(b"WARC-Type: resource", f"WARC-Type: {EVIL}".encode())
    path.write_bytes(data + (EVIL + "\u202e").encode() + b"\r\n\r\n")


def test_escape_sequences_and_markup_from_archives_are_escaped_where_shown(tmp_path, capsys):
    from newsmill import cli

    d = tmp_path / "in"
    d.mkdir()
    _evil_warc(d / "evil.warc")
    (d / "name\x1b[2J\u202e.txt").write_bytes(b"")  # a file name with an escape sequence, empty: a reject
    s = pipeline.run([str(d)], _settings(tmp_path / "out"))
    assert s.accounting_ok
    cli._print_summary(s.to_dict())
    shown = capsys.readouterr().out
    md = (Path(s.report_dir) / "summary.md").read_text(encoding="utf-8")
    rows = pq.read_table(tmp_path / "out" / "quarantine" / "rejects" / f"{s.run_id}.pq").to_pylist()
    assert rows and s.skipped_records
    for text in (shown, md, *(r["reason"] + r["detail"] for r in rows)):
        assert "\x1b" not in text and "\x07" not in text and "\u202e" not in text
    assert "<script>" not in md and "<script>" not in shown
    assert all(r["reason"].replace("_", "").isalnum() for r in rows)
