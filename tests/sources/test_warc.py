"""WARC/WET archives: page records streamed by offset, the rest skipped and counted, damage reported."""
from __future__ import annotations

import gzip
import io
from pathlib import Path

import pytest
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from newsmill.records import PageInput, Reject
from newsmill.sources.warc import read_record, scan
from newsmill.store import reading
from tests.conftest import SEED

HTML = b"<html><head><meta charset='utf-8'><title>T</title></head><body><p>Hello</p></body></html>"


def write_archive(path: Path, *, gz: bool = True) -> None:
    with open(path, "wb") as f:
        w = WARCWriter(f, gzip=gz)
        w.write_record(w.create_warcinfo_record(path.name, {"software": "newsmill-tests"}))
        req = w.create_warc_record("https://example.org/a", "request", payload=io.BytesIO(b"GET /a HTTP/1.1\r\n\r\n"))
        w.write_record(req)
        http = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8")], protocol="HTTP/1.1")
        w.write_record(w.create_warc_record("https://example.org/a", "response", payload=io.BytesIO(HTML),
                                            http_headers=http, warc_headers_dict={"WARC-Date": "2012-02-09T10:00:00Z"}))
        img = StatusAndHeaders("200 OK", [("Content-Type", "image/png")], protocol="HTTP/1.1")
        w.write_record(w.create_warc_record("https://example.org/x.png", "response", payload=io.BytesIO(b"\x89PNG...."),
                                            http_headers=img))
        moved = StatusAndHeaders("301 Moved", [("Location", "/b")], protocol="HTTP/1.1")
        w.write_record(w.create_warc_record("https://example.org/old", "response", payload=io.BytesIO(b""),
                                            http_headers=moved))
        w.write_record(w.create_warc_record("https://example.org/a", "revisit", payload=io.BytesIO(b"")))
        w.write_record(w.create_warc_record("https://example.org/seed", "conversion", payload=io.BytesIO(SEED.read_bytes()),
                                            warc_headers_dict={"Content-Type": "text/plain"}))


@pytest.mark.parametrize("gz", [True, False])
def test_scan_finds_pages_and_counts_the_rest(tmp_path, gz):
    path = tmp_path / ("a.warc.gz" if gz else "a.warc")
    write_archive(path, gz=gz)
    s = scan(str(path))
    assert s.reject is None
    assert len(s.refs) == 2
    assert dict(s.skipped) == {"warcinfo": 1, "request": 1, "not_html": 1, "http_301": 1, "revisit": 1}


def test_read_record_by_offset(tmp_path):
    path = tmp_path / "a.warc.gz"
    write_archive(path)
    html_ref, text_ref = scan(str(path)).refs
    page = read_record(html_ref, max_bytes=1 << 20)
    assert isinstance(page, PageInput)
    assert (page.format, page.container, page.url, page.declared_charset) == ("html", "warc", "https://example.org/a", "utf-8")
    assert page.data == HTML and page.captured_at.isoformat() == "2012-02-09T10:00:00+00:00"
    wet = read_record(text_ref, max_bytes=1 << 20)
    assert (wet.format, wet.container) == ("text", "wet") and wet.data == SEED.read_bytes()


def test_truncated_archive_keeps_records_before_damage(tmp_path):
    path = tmp_path / "a.warc.gz"
    write_archive(path)
    data = path.read_bytes()
    cut = tmp_path / "cut.warc.gz"
    cut.write_bytes(data[: len(data) - 200])  # the last (conversion) record loses its end
    s = scan(str(cut))
    offsets = lambda refs: [r.rpartition("#")[2] for r in refs]  # noqa: E731
    assert len(s.refs) >= 1 and offsets(s.refs)[0] == offsets(scan(str(path)).refs)[0]
    # the damage is either found while scanning or when the damaged record is read: never silent
    damaged = [r for r in s.refs if isinstance(read_record(r, max_bytes=1 << 20), Reject)]
    assert s.reject is not None or damaged
    if s.reject is not None:
        assert s.reject.reason == "corrupt_archive" and s.reject.detail.startswith("damaged at offset")


def test_garbage_is_reported_not_raised(tmp_path):
    path = tmp_path / "junk.warc.gz"
    path.write_bytes(gzip.compress(b"this is not a warc file\r\n\r\n" * 10))
    s = scan(str(path))
    assert s.refs == [] and s.reject is not None and s.reject.reason == "corrupt_archive"


def test_pipeline_reads_archives(tmp_path):
    from newsmill import pipeline
    from newsmill.config import Settings

    d = tmp_path / "in"
    d.mkdir()
    write_archive(d / "crawl.warc.gz")
    cut = d / "cut.warc.gz"
    cut.write_bytes((d / "crawl.warc.gz").read_bytes()[:-200])
    s = pipeline.run([str(d)], Settings(output_dir=tmp_path / "out", author_key=b"k" * 32))
    assert s.accounting_ok
    # the seed page (WET conversion record) comes out of the intact archive with its URL
    arts = reading.read_table("articles", tmp_path / "out").to_pylist()
    seed = [a for a in arts if a["title"] and a["title"].startswith("Working together")]
    assert len(seed) == 1 and seed[0]["url"] == "https://example.org/seed" and seed[0]["input_format"] == "wet"
    assert seed[0]["input_uri"].endswith(tuple(f"#{r.rpartition('#')[2]}" for r in scan(str(d / "crawl.warc.gz")).refs))
    assert s.comments_published + s.comments_quarantined >= 33
    assert s.skipped_records == {"warc:warcinfo": 2, "warc:request": 2, "warc:not_html": 2, "warc:http_301": 2,
                                 "warc:revisit": 2}
    assert "corrupt_archive" in s.reject_reasons


# --------------------------------------------------------------------------- damage inside an archive


def _pages(n: int, *, gz: bool) -> tuple[bytes, list[int]]:
    """An archive of ``n`` HTML response records and the offset of each."""
    buf = io.BytesIO()
    w = WARCWriter(buf, gzip=gz)
    offsets = []
    for i in range(n):
        offsets.append(buf.tell())
        http = StatusAndHeaders("200 OK", [("Content-Type", "text/html")], protocol="HTTP/1.1")
        w.write_record(w.create_warc_record(f"https://example.org/{i}", "response", http_headers=http,
                                            payload=io.BytesIO(f"<html><body><p>page {i}</p></body></html>".encode())))
    return buf.getvalue(), offsets


def _with_length(record: bytes, change) -> bytes:
    head, sep, rest = record.partition(b"\r\n\r\n")
    lines = [ln for ln in head.split(b"\r\n") if not ln.lower().startswith(b"content-length:")]
    length = int(next(ln for ln in head.split(b"\r\n") if ln.lower().startswith(b"content-length:")).split(b":")[1])
    new = change(length)
    if new is not None:
        lines.append(b"Content-Length: %d" % new)
    return b"\r\n".join(lines) + sep + rest


def _accounted(path: Path) -> tuple[dict[int, str], list[Reject]]:
    """Offset -> page text of every record read, and the rejects (scan's and read_record's)."""
    s = scan(str(path))
    read, rejects = {}, list(s.rejects)
    for ref in s.refs:
        page = read_record(ref, max_bytes=1 << 20)
        if isinstance(page, Reject):
            rejects.append(page)
        else:
            at = ref.rpartition("#")[2]
            read[int(at) if at.isdigit() else at] = page.data.decode()
    return read, rejects


@pytest.mark.parametrize("change,why", [(lambda n: None, "Content-Length"), (lambda n: n + 300, "Content-Length"),
                                        (lambda n: n - 20, "Content-Length")])
def test_bad_content_length_is_a_reject_at_its_offset_and_later_records_survive(tmp_path, change, why):
    raw, offs = _pages(5, gz=False)
    path = tmp_path / "a.warc"
    bad = _with_length(raw[offs[1] : offs[2]], change)
    path.write_bytes(raw[: offs[1]] + bad + raw[offs[2] :])
    shift = len(bad) - (offs[2] - offs[1])
    read, rejects = _accounted(path)
    assert [r.input_uri for r in rejects] == [f"{path}#{offs[1]}"]
    assert rejects[0].reason == "corrupt_archive" and why in rejects[0].detail
    # every other record is read whole (a short length must not publish a cut page either)
    assert read == {offs[i] + (shift if i > 1 else 0): f"<html><body><p>page {i}</p></body></html>" for i in (0, 2, 3, 4)}


def test_junk_between_gzip_members_is_a_reject_and_the_next_member_is_read(tmp_path):
    raw, offs = _pages(5, gz=True)
    junk = b"JUNK" * 30
    path = tmp_path / "a.warc.gz"
    path.write_bytes(raw[: offs[2]] + junk + raw[offs[2] :])
    read, rejects = _accounted(path)
    assert [(r.input_uri, r.reason) for r in rejects] == [(f"{path}#{offs[2]}", "corrupt_archive")]
    assert "120 bytes" in rejects[0].detail
    assert sorted(read.values()) == [f"<html><body><p>page {i}</p></body></html>" for i in range(5)]


def test_single_gzip_member_with_several_records_reads_each(tmp_path):
    """``gzip crawl.warc`` makes one member of the whole archive: each record is addressed inside it."""
    raw, offs = _pages(5, gz=False)
    path = tmp_path / "whole.warc.gz"
    path.write_bytes(gzip.compress(raw))
    s = scan(str(path))
    assert s.rejects == [] and s.refs == [f"{path}#0"] + [f"{path}#0:{o}" for o in offs[1:]]
    read, rejects = _accounted(path)
    assert not rejects
    assert [read_record(r, max_bytes=1 << 20).data.decode() for r in s.refs] == [
        f"<html><body><p>page {i}</p></body></html>" for i in range(5)]
    from newsmill.sources import read_input

    assert read_input(s.refs[3]).data == b"<html><body><p>page 3</p></body></html>"
    # the ledger keys such a record as a record of its archive (skipped by file stat when unchanged)
    from newsmill.store import ledger

    assert ledger._split(s.refs[3]) == (str(path), "#" + s.refs[3].rpartition("#")[2])


def test_single_gzip_member_over_the_limit_is_a_reject_per_record(tmp_path, monkeypatch):
    from newsmill.sources import warc

    monkeypatch.setattr(warc, "MAX_SHARED_MEMBER", 100)
    raw, offs = _pages(5, gz=False)
    path = tmp_path / "whole.warc.gz"
    path.write_bytes(gzip.compress(raw))
    read, rejects = _accounted(path)
    assert list(read.values()) == ["<html><body><p>page 0</p></body></html>"]
    # records after the first: each a reject saying how to make them readable
    assert len(rejects) == 4 and {r.reason for r in rejects} == {"unseekable_gzip"}
    assert all("warcio recompress" in r.detail for r in rejects)
    assert [r.input_uri for r in rejects] == [f"{path}#0:{o}" for o in offs[1:]]


def test_truncated_uncompressed_archive_names_the_cut_record(tmp_path):
    raw, offs = _pages(3, gz=False)
    path = tmp_path / "cut.warc"
    path.write_bytes(raw[:-30])
    read, rejects = _accounted(path)
    assert set(read) == {offs[0], offs[1]}
    assert [r.input_uri for r in rejects] == [f"{path}#{offs[2]}"]


def test_archive_with_lf_line_ends_is_read_whole(tmp_path):
    """Some writers end header lines with LF alone: not damage, every record is read."""
    import re

    raw, _ = _pages(3, gz=False)
    out = b""
    for rec in re.split(rb"(?=WARC/1\.[01]\r\n)", raw):
        if rec:
            head, _, rest = rec.partition(b"\r\n\r\n")
            body = rest[:-4].replace(b"\r\n", b"\n")
            out += re.sub(rb"Content-Length: \d+", b"Content-Length: %d" % len(body), head).replace(b"\r\n", b"\n")
            out += b"\n\n" + body + b"\n\n"
    path = tmp_path / "lf.warc"
    path.write_bytes(out)
    read, rejects = _accounted(path)
    assert not rejects and sorted(read.values()) == [f"<html><body><p>page {i}</p></body></html>" for i in range(3)]
