"""Article identity: only the same content is a duplicate; near-duplicates are linked, never merged."""
from __future__ import annotations

import random
import shutil
from datetime import datetime, timezone
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from newsmill import ids, neardup, pipeline, profiles
from newsmill.clean import CleanContext, clean_page
from newsmill.config import Settings
from newsmill.records import PageInput, RawPage
from newsmill.store import reading

_VOCAB = ("council river market school bridge harvest winter budget museum league station doctor garden "
          "festival harbour railway library election tower village factory orchestra hospital forest "
          "island mayor theatre airport castle canal vineyard bakery stadium cathedral quarry lighthouse "
          "monastery brewery parliament observatory tramway aqueduct").split()


def _sentence(rng: random.Random) -> str:
    return " ".join(rng.choice(_VOCAB) for _ in range(12)).capitalize() + "."


def _page(i: int, *, title: str = "Home") -> str:
    """A dump whose title line is a navigation word and which shows no date: page i's own words."""
    rng = random.Random(i)
    paras = ["\n".join(_sentence(rng) for _ in range(3)) for _ in range(3)]
    return f"{title}\n\n" + "\n\n".join(paras) + "\n"


def _settings(out: Path) -> Settings:
    return Settings(output_dir=out, author_key=b"k" * 32)


def _rejects(s) -> list[dict]:
    return pq.read_table(Path(s.output_dir) / "quarantine" / "rejects" / f"{s.run_id}.pq").to_pylist()


def test_distinct_pages_with_the_same_wrong_title_and_no_date_stay_distinct(tmp_path):
    d = tmp_path / "in"
    d.mkdir()
    for i in range(200):
        (d / f"{i:03d}.txt").write_text(_page(i), encoding="utf-8")
    s = pipeline.run([str(d)], _settings(tmp_path / "out"))
    assert s.rejected == 0 and s.accounting_ok
    arts = reading.read_table("articles", tmp_path / "out")
    assert arts.num_rows == 200 and len(set(arts["article_id"].to_pylist())) == 200
    assert arts["near_duplicate_of"].null_count == 200
    # 'Home' is page furniture, never a title: the articles are published without one
    assert arts["title"].null_count == 200


def test_the_same_page_twice_is_one_article_and_the_reject_names_the_kept_input(tmp_path):
    d = tmp_path / "in"
    d.mkdir()
    (d / "a.txt").write_text(_page(7), encoding="utf-8")
    (d / "b.txt").write_text(_page(7), encoding="utf-8")
    s = pipeline.run([str(d)], _settings(tmp_path / "out"))
    assert (s.articles_published, s.rejected, s.reject_reasons) == (1, 1, {"duplicate": 1})
    [r] = _rejects(s)
    assert r["input_uri"].endswith("b.txt") and "same content as" in r["detail"] and r["detail"].endswith("a.txt")


def test_a_near_duplicate_capture_is_kept_and_linked_to_the_first(tmp_path):
    """The same story in two wrappers (a headline with and without the site's name): two records,
    the later one names the first."""
    d = tmp_path / "in"
    d.mkdir()
    body = _page(3).split("\n\n", 1)[1]
    (d / "a.txt").write_text("Harbour bakery reopens after the winter floods\n\n" + body, encoding="utf-8")
    (d / "b.txt").write_text("Harbour bakery reopens after the winter floods | Daily Example\n\n" + body,
                             encoding="utf-8")
    (d / "c.txt").write_text(_page(4), encoding="utf-8")
    s = pipeline.run([str(d)], _settings(tmp_path / "out"))
    assert s.articles_published == 3 and s.rejected == 0
    rows = {Path(r["input_uri"]).name: r for r in reading.read_table("articles", tmp_path / "out").to_pylist()}
    assert rows["a.txt"]["article_id"] != rows["b.txt"]["article_id"]
    assert rows["b.txt"]["near_duplicate_of"] == rows["a.txt"]["article_id"]
    assert rows["a.txt"]["near_duplicate_of"] is None and rows["c.txt"]["near_duplicate_of"] is None


def test_seed_page_twice_still_one_article(tmp_path):
    from tests.conftest import SEED

    d = tmp_path / "in"
    d.mkdir()
    shutil.copy(SEED, d / "a.txt")
    shutil.copy(SEED, d / "b.txt")
    s = pipeline.run([str(d)], _settings(tmp_path / "out"))
    assert (s.articles_published, s.comments_published, s.reject_reasons) == (1, 33, {"duplicate": 1})


# --- the rules themselves ---------------------------------------------------------------------------


def test_content_key_ignores_layout_and_a_growing_thread_of_a_long_body():
    body = "One two three.\n\nFour five six. " + "word " * ids.DISTINCTIVE_BODY
    assert ids.content_key("T", body, []) == ids.content_key("t", body.replace(". ", ",\n  "), [])
    assert ids.content_key("T", body, [("Ann", "Yes.")]) == ids.content_key("T", body, [])  # same page, more comments
    assert ids.content_key("T", body, []) != ids.content_key("Other", body, [])
    assert ids.content_key("T", body, []) != ids.content_key("T", body + " more", [])
    assert ids.content_key("T", "", []) is None


def test_content_key_of_a_short_body_includes_the_comments():
    """Two comment pages of a site whose body is a short blurb are different records."""
    assert ids.content_key("Home", "Our blog.", [("Ann", "Yes.")]) != ids.content_key("Home", "Our blog.", [("Bob", "No.")])
    assert ids.content_key("Home", "Our blog.", [("Ann", "Yes.")]) == ids.content_key("Home", "Our blog.", [("ann", "yes")])


def test_article_id_prefers_the_url_and_never_uses_title_or_date():
    a = ids.article_id(url=None, source="s", content="c1", input_sha256="x")
    assert a == ids.article_id(url=None, source="s", content="c1", input_sha256="y")
    assert a != ids.article_id(url=None, source="s", content="c2", input_sha256="x")
    assert ids.article_id(url="https://e.com/a", source="s", content="c1", input_sha256="x") != a
    assert ids.article_id(url=None, source="s", content=None, input_sha256="x") != \
        ids.article_id(url=None, source="s", content=None, input_sha256="y")


@pytest.mark.parametrize("canonical, address, expected", [
    ("https://e.com/", "https://e.com/2012/05/story.html", "https://e.com/2012/05/story.html"),
    ("https://e.com/index.php", "https://e.com/story?id=4", "https://e.com/story?id=4"),
    ("https://e.com/2012/05/story.html", "https://e.com/2012/05/story.html?page=2", "https://e.com/2012/05/story.html"),
    ("https://e.com/", None, "https://e.com/"),
    (None, "https://e.com/x", "https://e.com/x"),
])
def test_a_canonical_link_to_the_front_page_does_not_name_an_article(canonical, address, expected):
    ctx = CleanContext(author_key=b"k" * 32, extracted_at=datetime(2026, 1, 1, tzinfo=timezone.utc),
                       pipeline_version="t")
    raw = RawPage(title="T", url=canonical, paragraphs=[_page(1)], extractor="t")
    page = PageInput(uri="f.html", data=b"x", sha256="0" * 64, format="html", url=address)
    art, _ = clean_page(raw, page, profiles.match(), ctx)
    assert art["url"] == expected
    if canonical == "https://e.com/" and address is None:  # the front page is no identity: the content is
        assert art["article_id"] == ids.article_id(url=None, source=art["source"],
                                                   content=ids.content_key("T", art["body"], []), input_sha256="0" * 64)


def test_simhash_near_and_far():
    rng = random.Random(1)
    text = " ".join(rng.choice(_VOCAB) for _ in range(300))
    near = text + " station harbour"
    far = " ".join(random.Random(2).choice(_VOCAB) for _ in range(300))
    a, b, c = neardup.simhash(text), neardup.simhash(near), neardup.simhash(far)
    assert neardup.distance(a, b) <= neardup.MAX_DISTANCE < neardup.distance(a, c)
    assert neardup.simhash("too short to say") is None
    assert neardup.link([a, None, c, b]) == {3: 0}
