"""The user's ``profiles_dir`` extends the bundled words, through the one loader, compiled once per folder."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from newsmill import profiles
from newsmill.clean import _when
from newsmill.extract.dates import find_date
from newsmill.extract.html import extract_html
from newsmill.extract.lexicon import lexicon, lexicon_of, not_titles
from newsmill.extract.textdump import parse_text_dump

# Polish: a month name and a relative time the bundled profiles do not know
_USER_DEFAULT = r"""
relative_patterns = ['\b(?P<n>\d+)\s+{unit}\s+temu\b']
not_titles = ["Strona główna"]

[relative_units]
hour = ["godziny", "godzin"]

[month_names]
5 = ["maja"]
"""


@pytest.fixture()
def user_dir(tmp_path):
    (tmp_path / "_default.toml").write_text(_USER_DEFAULT, encoding="utf-8")
    return str(tmp_path)


def test_a_month_name_of_the_users_profiles_is_understood_only_with_profiles_dir(user_dir):
    assert find_date("3 maja 2012") is None
    m = find_date("3 maja 2012, 14:05", lex=lexicon("unknown", user_dir))
    assert (m.year, m.month, m.day, m.hour, m.minute) == (2012, 5, 3, 14, 5)


def test_a_relative_time_of_the_users_profiles_is_understood_only_with_profiles_dir(user_dir):
    assert find_date("3 godziny temu", relative=True) is None
    m = find_date("3 godziny temu", relative=True, lex=lexicon("unknown", user_dir))
    assert m is not None and m.ago_seconds == 3 * 3600


def test_the_users_words_extend_the_bundled_ones_they_do_not_replace_them(user_dir):
    lex = lexicon("unknown", user_dir)
    # lists extend: the bundled patterns still read; tables merge entry by entry: the bundled hour and
    # minute words stay, and so do the other months
    assert find_date("vor 3 Stunden", relative=True, lex=lex).ago_seconds == 3 * 3600
    assert find_date("15 minutes ago", relative=True, lex=lex).ago_seconds == 15 * 60
    assert find_date("3 May 2012", lex=lex).month == 5
    assert find_date("3 juin 2012", lex=lex).month == 6
    assert "strona główna" in not_titles(user_dir) and "home" in not_titles(user_dir)
    assert "strona główna" not in not_titles()


def test_a_site_profile_in_profiles_dir_extends_the_users_generic_words(tmp_path, user_dir):
    (tmp_path / "gazeta.toml").write_text('name = "gazeta"\ndomains = ["gazeta.example"]\n'
                                          '[month_names]\n6 = ["czerwca"]\n', encoding="utf-8")
    site = profiles.match("https://gazeta.example/a/1", extra_dir=user_dir)
    assert site.name == "gazeta" and site.extra_dir == user_dir
    lex = lexicon_of(site)
    assert find_date("3 czerwca 2012", lex=lex).month == 6
    assert find_date("3 maja 2012", lex=lex).month == 5  # the user's _default.toml under it
    assert find_date("3 czerwca 2012", lex=lexicon("unknown", user_dir)) is None


def test_clean_reads_dates_with_the_profiles_words(user_dir):
    user = profiles.load_profiles(user_dir)["unknown"]
    captured = datetime(2012, 5, 3, 12, 0, tzinfo=timezone.utc)
    assert _when("3 maja 2012", profiles.default_profile())[0] is None
    day, _, _ = _when("3 maja 2012", user)
    assert str(day) == "2012-05-03"
    _, utc, _ = _when("2 godziny temu", user, captured_at=captured)
    assert utc == datetime(2012, 5, 3, 10, 0, tzinfo=timezone.utc)


_PAGE = """<html><head><title>Artykuł</title></head><body><article><h1>Artykuł</h1><p>{body}</p></article>
<div id="comments"><ol class="commentlist">{items}</ol></div></body></html>"""
_ITEM = """<li class="comment" id="comment-{i}"><div class="comment-meta"><span class="author">{name}</span>
<span class="when">{when}</span></div><div class="comment-body"><p>{text}</p></div></li>"""
# no known system's markup: the generic layer finds the list by its dates
_PLAIN_PAGE = """<html><head><title>Artykuł</title></head><body><article><h1>Artykuł</h1><p>{body}</p></article>
<section class="opinie">{items}</section></body></html>"""
_PLAIN_ITEM = """<div class="wpis"><div class="naglowek"><b>{name}</b> <i>{when}</i></div><p>{text}</p></div>"""


def _page(page: str = _PAGE, item: str = _ITEM) -> str:
    said = ["Zgadzam się z autorem w zupełności, dobry tekst.", "Nie do końca, brakuje tu kilku ważnych faktów.",
            "Czekam na dalszy ciąg tej historii, bardzo ciekawe."]
    items = "".join(item.format(i=i, name=n, when=w, text=t)
                    for i, (n, w, t) in enumerate(zip(["Ania", "Bartek", "Celina"], ["3 maja 2012, 14:05", "3 godziny temu",
                                                                                    "4 maja 2012, 09:30"], said)))
    return page.format(body="Tekst artykułu, kilka zdań o niczym szczególnym. " * 8, items=items)


def test_extract_html_reads_comment_dates_with_the_users_words(user_dir):
    with_dir = extract_html(_page(), url="https://news.example/a", profiles_dir=user_dir)
    without = extract_html(_page(), url="https://news.example/a")
    assert [(c.author, c.posted_raw) for c in with_dir.comments] == [
        ("Ania", "3 maja 2012, 14:05"), ("Bartek", "3 godziny temu"), ("Celina", "4 maja 2012, 09:30")]
    assert [(c.author, c.posted_raw) for c in without.comments] == [("Ania", None), ("Bartek", None), ("Celina", None)]


def test_the_generic_comment_layer_finds_a_list_by_the_users_date_words(user_dir):
    page = _page(_PLAIN_PAGE, _PLAIN_ITEM)
    with_dir = extract_html(page, url="https://news.example/a", profiles_dir=user_dir)
    without = extract_html(page, url="https://news.example/a")
    assert with_dir.extractor.endswith("+generic")
    assert [(c.author, c.posted_raw) for c in with_dir.comments] == [
        ("Ania", "3 maja 2012, 14:05"), ("Bartek", "3 godziny temu"), ("Celina", "4 maja 2012, 09:30")]
    assert not any(c.posted_raw for c in without.comments)


def test_parse_text_dump_reads_stamps_with_the_users_words(user_dir):
    dump = "\n".join(["Artykuł", "", "Tekst artykułu, kilka zdań o niczym szczególnym i długim. " * 3, "", "3 Comments", "",
                      "Ania 3 maja 2012, 14:05", "Zgadzam się z autorem w zupełności, dobry tekst.", "",
                      "Bartek 3 maja 2012, 15:10", "Nie do końca, brakuje tu kilku ważnych faktów.", "",
                      "Celina 4 maja 2012, 09:30", "Czekam na dalszy ciąg tej historii, bardzo ciekawe.", ""])
    with_dir = parse_text_dump(dump, profiles_dir=user_dir)
    without = parse_text_dump(dump)
    assert [(c.author, c.posted_raw) for c in with_dir.comments] == [
        ("Ania", "3 maja 2012, 14:05"), ("Bartek", "3 maja 2012, 15:10"), ("Celina", "4 maja 2012, 09:30")]
    assert [c.posted_raw for c in without.comments] == []


def test_profiles_are_read_and_compiled_once_per_profiles_dir(tmp_path, monkeypatch):
    (tmp_path / "_default.toml").write_text('[month_names]\n5 = ["maja"]\n', encoding="utf-8")
    reads = []
    real = profiles._read
    monkeypatch.setattr(profiles, "_read", lambda path: reads.append(path) or real(path))
    d = str(tmp_path)
    first = (profiles.load_profiles(d), lexicon("unknown", d), not_titles(d))
    n = len(reads)
    assert tmp_path / "_default.toml" in reads
    again = (profiles.load_profiles(d), lexicon("unknown", d), not_titles(d), profiles.profile_spec("unknown", d))
    assert len(reads) == n  # nothing read again
    assert again[0] is first[0] and again[1] is first[1]
    assert lexicon_of(first[0]["unknown"]) is first[1]
    assert first[1] is not lexicon() and profiles.load_profiles(d) is not profiles.load_profiles()


def test_article_metadata_reads_the_publication_date_and_author_label_with_the_users_words(tmp_path, user_dir):
    (tmp_path / "_default.toml").write_text('author_labels = ["Autor tekstu"]\n' + _USER_DEFAULT, encoding="utf-8")
    page = ('<html><head><title>Artykuł</title><meta property="article:published_time" content="3 maja 2012">'
            '<meta name="twitter:label1" content="Autor tekstu"><meta name="twitter:data1" content="Jan Kowalski">'
            '</head><body><article><h1>Artykuł o czymś</h1><p>' + "Tekst artykułu, kilka zdań. " * 20 + '</p></article></body></html>')
    with_dir = extract_html(page, url="https://news.example/a", profiles_dir=user_dir)
    without = extract_html(page, url="https://news.example/a")
    assert with_dir.published_raw == "3 maja 2012" and without.published_raw != "3 maja 2012"
    assert "Jan Kowalski" in with_dir.authors and "Jan Kowalski" not in without.authors


def test_a_users_systems_common_extends_the_script_json_keys(tmp_path):
    (tmp_path / "systems").mkdir()
    (tmp_path / "systems" / "_common.toml").write_text('[script_json]\ntext_keys = ["tresc"]\n', encoding="utf-8")
    common = profiles.systems_common(str(tmp_path))
    assert common["script_json"]["text_keys"][0] == "tresc" and "body" in common["script_json"]["text_keys"]
    assert common["ui"] == profiles.systems_common()["ui"]
    said = ["Zgadzam się z autorem w zupełności, dobry tekst.", "Nie do końca, brakuje tu kilku ważnych faktów."]
    data = ",".join(f'{{"tresc": "{t}", "author": "{n}", "createdAt": "2012-05-0{i + 3}T10:00:00Z"}}'
                    for i, (n, t) in enumerate(zip(["Ania", "Bartek"], said)))
    page = ('<html><head><title>Artykuł</title></head><body><article><h1>Artykuł</h1><p>' + "Tekst artykułu. " * 30
            + '</p></article><script type="application/json">{"comments": [' + data + ']}</script></body></html>')
    with_dir = extract_html(page, url="https://news.example/a", profiles_dir=str(tmp_path))
    without = extract_html(page, url="https://news.example/a")
    assert [(c.author, c.text) for c in with_dir.comments] == list(zip(["Ania", "Bartek"], said))
    assert without.comments == []
