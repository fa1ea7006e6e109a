"""Reading inputs: any encoding, gzip, and a reject with a reason for anything unusable."""
from __future__ import annotations

import gzip

import pytest

from newsmill.extract import extract_page
from newsmill.records import PageInput, Reject
from newsmill.sources import discover, read_input
from newsmill.sources.decode import decode

LATIN_PAGE = """Élections à Zürich : très peu de participation

Published: March 3, 2012

ZÜRICH: Les électeurs ont boudé les urnes dimanche, a indiqué la chancellerie.

Le taux de participation n'a pas dépassé 30 % selon les résultats définitifs.

3 Comments

  * René
    March 3, 2012 at 4:15 pm

    Ça ne m'étonne guère.

  * Jürgen
    March 4, 2012 at 9:02 am

    Schade für die Demokratie.
"""


def _extract(path):
    page = read_input(str(path))
    assert isinstance(page, PageInput), page
    raw, _ = extract_page(page)
    return raw


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp1252", "utf-16"])
def test_seed_in_any_encoding(tmp_path, seed_text, encoding):
    path = tmp_path / f"seed-{encoding}.txt"
    path.write_bytes(seed_text.encode(encoding))
    raw = _extract(path)
    assert raw.title.startswith("Working together")
    assert len(raw.comments) == 33
    assert "’" in raw.paragraphs[0] + raw.captions[0][0]  # curly quotes survived the round trip


@pytest.mark.parametrize("encoding", ["latin-1", "cp1252", "utf-8"])
def test_latin1_page(tmp_path, encoding):
    path = tmp_path / "page.txt"
    path.write_bytes(LATIN_PAGE.encode(encoding))
    raw = _extract(path)
    assert raw.title == "Élections à Zürich : très peu de participation"
    assert [c.author for c in raw.comments] == ["René", "Jürgen"]
    assert raw.comments[0].text == "Ça ne m'étonne guère."


def test_gzip_input(tmp_path, seed_text):
    path = tmp_path / "seed.txt.gz"
    path.write_bytes(gzip.compress(seed_text.encode("utf-8")))
    page = read_input(str(path))
    assert page.format == "text"
    assert len(extract_page(page)[0].comments) == 33


@pytest.mark.parametrize(
    "name,content,reason",
    [
        ("empty.txt", b"", "empty"),
        ("blank.txt", b"  \n\n \t\n", "empty"),
        ("binary.txt", bytes(range(256)) * 8, "binary"),
        ("image.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 100, "binary"),
        ("truncated.txt.gz", gzip.compress(b"hello world " * 1000, mtime=0)[:60], "corrupt_gzip"),
    ],
)
def test_bad_inputs_are_rejected_with_reason(tmp_path, name, content, reason):
    path = tmp_path / name
    path.write_bytes(content)
    res = read_input(str(path))
    assert isinstance(res, Reject)
    assert res.reason == reason and res.detail


def test_missing_file_is_rejected(tmp_path):
    res = read_input(str(tmp_path / "nope.txt"))
    assert isinstance(res, Reject) and res.reason == "not_found"


def test_text_without_article_is_rejected(tmp_path):
    path = tmp_path / "junk.txt"
    path.write_text("\n\n\n", encoding="utf-8")
    assert read_input(str(path)).reason == "empty"


def test_decode_prefers_bytes_over_declaration():
    text = "Grüße aus Köln – schön"
    assert decode(text.encode("utf-8"), declared="iso-8859-1")[0] == text
    assert decode(text.encode("cp1252"), declared="utf-8")[0] == text


def test_discover_files_folders_globs(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.txt").write_text("x")
    (tmp_path / "a" / "y.txt.gz").write_bytes(gzip.compress(b"y"))
    (tmp_path / "a" / "notes.md").write_text("ignored in folders")
    (tmp_path / "a" / ".hidden.txt").write_text("hidden")
    (tmp_path / "b.txt").write_text("b")
    found = discover([str(tmp_path / "a"), str(tmp_path / "*.txt"), str(tmp_path / "a" / "x.txt")])
    assert [p.split("/")[-1] for p in found] == ["x.txt", "y.txt.gz", "b.txt"]
    assert discover([str(tmp_path / "missing.txt")]) == [str(tmp_path / "missing.txt")]
