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
        assert s.reject.reason == "corrupt_archive" and "after" in s.reject.detail


def test_garbage_is_reported_not_raised(tmp_path):
    path = tmp_path / "junk.warc.gz"
    path.write_bytes(gzip.compress(b"this is not a warc file\r\n\r\n" * 10))
    s = scan(str(path))
    assert s.refs == [] and s.reject is not None and s.reject.reason == "corrupt_archive"


def test_pipeline_reads_archives(tmp_path):
    from newsmill import pipeline, publish
    from newsmill.config import Settings

    d = tmp_path / "in"
    d.mkdir()
    write_archive(d / "crawl.warc.gz")
    cut = d / "cut.warc.gz"
    cut.write_bytes((d / "crawl.warc.gz").read_bytes()[:-200])
    s = pipeline.run([str(d)], Settings(output_dir=tmp_path / "out", author_key=b"k" * 32))
    assert s.accounting_ok
    # the seed page (WET conversion record) comes out of the intact archive with its URL
    arts = publish.read_table("articles", tmp_path / "out").to_pylist()
    seed = [a for a in arts if a["title"] and a["title"].startswith("Working together")]
    assert len(seed) == 1 and seed[0]["url"] == "https://example.org/seed" and seed[0]["input_format"] == "wet"
    assert seed[0]["input_uri"].endswith(tuple(f"#{r.rpartition('#')[2]}" for r in scan(str(d / "crawl.warc.gz")).refs))
    assert s.comments_published + s.comments_quarantined >= 33
    assert s.skipped_records == {"warc:warcinfo": 2, "warc:request": 2, "warc:not_html": 2, "warc:http_301": 2,
                                 "warc:revisit": 2}
    assert "corrupt_archive" in s.reject_reasons
