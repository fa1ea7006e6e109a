"""Moderation placeholders, page-level marks and permalinks in clean (issue 15.5): the words are profile
data (``moderation_placeholders`` of ``_default.toml``), the rule is generic and holds for every input
format; a placeholder row keeps its place with text '' and its state, it is not the commenter's text."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from newsmill.clean import CleanContext, _absolute, clean_page, page_marks
from newsmill.extract import extract_page
from newsmill.extract.lexicon import lexicon, placeholder
from newsmill.records import PageInput
from tests.conftest import bad_comment_page


def dump_rows(second: str, profiles_dir: str | None = None):
    data = bad_comment_page(second).encode()
    page = PageInput(uri="p.txt", data=data, sha256="0" * 64, format="text")
    raw, profile = extract_page(page, profiles_dir=profiles_dir) if profiles_dir else extract_page(page)
    return clean_page(raw, page, profile, CleanContext(b"k" * 32, datetime(2024, 1, 1, tzinfo=timezone.utc), "t"))[1]


@pytest.mark.parametrize(("text", "state"), [
    ("This comment was removed by a moderator.", "removed"),
    ("This comment was removed by a moderator because it didn't abide by our community standards. "
     "Replies may also be deleted.", "removed"),
    ("This comment has been removed by a blog administrator.", "removed"),
    ("This comment has been removed by the author.", "deleted"),
    ("This comment was deleted.", "deleted"),
    ("[deleted]", "deleted"),
    ("Your comment is awaiting moderation.", "pending"),
    ("Dieser Kommentar wurde von der Redaktion entfernt. Bitte bleiben Sie sachlich.", "removed"),
    ("Ce commentaire a été supprimé par la modération.", "removed"),
    ("Este comentario ha sido eliminado por el moderador.", "removed"),
    ("Deze reactie is verwijderd door de moderator.", "removed"),
    ("I think my comment was removed by a moderator for no reason, which is why I write it again here.", None),
    ("Deleted scenes are the best part of the film.", None),
])
def test_placeholders_in_several_languages(text, state):
    assert placeholder(text, lexicon()) == state


def test_a_placeholder_in_a_text_dump_is_a_row_without_the_words():
    rows = dump_rows("This comment was removed by a moderator.")
    assert [(r["position"], r["author"], r["text"], r["moderation"]) for r in rows] == [
        (1, "Alice Doe", "Finally some money for the roads.", None), (2, "Bob Roe", "", "removed")]
    # nothing else is read from a dump: the page fields stay null
    assert {(r["dislikes"], r["marked_edited"], r["permalink"], r["comment_system"]) for r in rows} == {(None,) * 4}
    assert [r["badges"] for r in rows] == [None, None]


def test_placeholder_words_are_profile_data(tmp_path):
    (tmp_path / "_default.toml").write_text("[moderation_placeholders]\nremoved = ['Beitrag von der Moderation verborgen']\n",
                                            encoding="utf-8")
    assert dump_rows("Beitrag von der Moderation verborgen")[1]["text"] == "Beitrag von der Moderation verborgen"
    rows = dump_rows("Beitrag von der Moderation verborgen", profiles_dir=str(tmp_path))
    assert (rows[1]["text"], rows[1]["moderation"]) == ("", "removed")


def test_marks_shown_on_some_comments_say_no_on_the_others():
    assert page_marks([None, True, None], False) == [False, True, False]
    assert page_marks([None, None], False) == [None, None]
    assert page_marks([["staff"], None], []) == [["staff"], []]


def test_permalinks_are_made_absolute_against_the_article_url():
    base = "https://news.example.com/a/story/"
    assert _absolute("#comment-3", base) == base + "#comment-3"
    assert _absolute("showthread.php?p=7#post7", base) == "https://news.example.com/a/story/showthread.php?p=7#post7"
    assert _absolute("#comment-3", None) == "#comment-3"
    assert _absolute(None, base) is None


def test_a_placeholder_paragraph_under_a_gone_mark_blanks_the_comment():
    """Blogger marks a comment its author removed (class 'deleted-comment') and a layer may keep the stamp
    line with the placeholder: the row keeps its place, without those words."""
    from newsmill.clean import _clean_comments  # noqa: F401 (the rule lives there)
    from newsmill.records import RawComment, RawPage

    raw = RawPage(title="Budget", paragraphs=["The council approved the budget on Friday after a long session."],
                  comments=[RawComment("Jo", "May 1, 2012", "This comment has been removed by the author.\n\n# posted by : 3:34 AM",
                                       moderation="deleted"),
                            RawComment("Al", "May 1, 2012", "This comment has been removed by the author? Never.\n\nIt was not.")])
    page = PageInput(uri="p.html", data=b"x", sha256="0" * 64, format="html")
    from newsmill.profiles import default_profile
    _, rows = clean_page(raw, page, default_profile(), CleanContext(b"k" * 32, datetime(2024, 1, 1, tzinfo=timezone.utc), "t"))
    assert [(r["text"], r["moderation"]) for r in rows] == [
        ("", "deleted"), ("This comment has been removed by the author? Never.\n\nIt was not.", None)]
