"""The Output (``newsmill.store.output``), tested directly: opening a local output, its work area and
report folder, and reading back what was committed. Its commit is exercised by every pipeline test."""
from __future__ import annotations

from newsmill import schema
from newsmill.config import Settings
from newsmill.store import layout, publish
from newsmill.store.output import Output
from tests.store.conftest import sample_articles, sample_comments


def test_a_local_output_is_opened_where_the_settings_say(tmp_path):
    out = Output.open(Settings(output_dir=tmp_path / "new" / "out"), "r1")
    assert out.path == (tmp_path / "new" / "out").resolve() and out.path.is_dir() and out.remote is None
    assert out.report_dir("r1") == layout.report_dir(out.path, "r1") == out.path / "reports" / "r1"
    with out.work_area("r1") as area:
        assert area.path.is_relative_to(layout.state_dir(out.path))
    assert not area.path.exists()  # the area goes with the run


def test_read_tables_gives_typed_empty_tables_then_the_committed_rows(tmp_path):
    out = Output.open(Settings(output_dir=tmp_path), "r1")
    empty = out.read_tables()
    assert {n: t.num_rows for n, t in empty.items()} == {"articles": 0, "comments": 0}
    assert empty["articles"].schema.equals(schema.load("articles").arrow())
    publish.publish_run({"articles": sample_articles(), "comments": sample_comments()}, out.path, run_id="r1")
    got = out.read_tables()
    assert sorted(got["articles"].column("article_id").to_pylist()) == ["a0", "a1", "a2", "a3"]
    assert got["comments"].num_rows == sample_comments().num_rows
