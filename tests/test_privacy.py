"""Privacy: ``--authors keep|pseudonymize|drop`` and the author key (HMAC-SHA256)."""
from __future__ import annotations

import json
import re
import logging
import os
import stat
from dataclasses import replace
from datetime import datetime, timezone

import pytest

from newsmill import cli, ids, pipeline
from newsmill.clean import CleanContext, clean_page
from newsmill.config import ConfigError, Settings, load_settings
from newsmill.profiles import default_profile
from newsmill.records import PageInput, RawComment, RawPage
from newsmill.store import author_key, reading
from newsmill.text import normalize_text
from tests.conftest import SEED

KEY = b"privacy-test-key-0123456789abcdef"
NAMES = ("Alice Doe", "Bob Roe", "Carol Poe", "Dave")


def _page() -> tuple[RawPage, PageInput]:
    raw = RawPage(
        title="Council approves new budget", published_raw="March 3, 2012",
        paragraphs=["The city council approved the budget on Friday after a six-hour session."],
        comments=[
            RawComment("Alice Doe", "March 3, 2012 at 4:15 pm", "Finally some money for the roads."),
            RawComment("Bob Roe", "March 3, 2012 at 5:20 pm", "@Alice Doe: the roads were promised last year too."),
            RawComment("Carol Poe", "March 3, 2012 at 6:00 pm",
                       "@bob roe: agreed, and as @Alice Doe said, ask @Dave. Mail someone@example.com @10:30"),
            RawComment("Alice Doe", "March 4, 2012 at 9:00 am", "@Carol: thanks. Written by Alice Doe"),
            RawComment(None, "March 4, 2012 at 9:30 am", "@Bob Roe: who asked?"),
            RawComment("Bob Roe", "March 4, 2012 at 10:00 am", "Reply from a thread", parent_index=0),
        ],
    )
    page = PageInput(uri="/in/page.txt", data=b"x", sha256="0" * 64, format="text")
    return raw, page


def _clean(mode: str, key: bytes = KEY):
    raw, page = _page()
    ctx = CleanContext(key, datetime(2026, 1, 1, tzinfo=timezone.utc), "test", authors_mode=mode)
    return clean_page(raw, page, default_profile(), ctx)


def _strings(rows: list[dict]) -> str:
    return "\n".join(str(v) for r in rows for k, v in r.items() if k != "input_uri")


# --------------------------------------------------------------------------- the modes


def test_keep_shows_names_and_a_keyed_author_id():
    _, rows = _clean("keep")
    assert [r["author"] for r in rows] == ["Alice Doe", "Bob Roe", "Carol Poe", "Alice Doe", None, "Bob Roe"]
    assert rows[0]["author_id"] == rows[3]["author_id"] == ids.author_pseudonym(KEY, rows[0]["source"], "alice  doe")
    assert rows[1]["reply_to_name"] == "Alice Doe" and rows[1]["parent_comment_id"] == rows[0]["comment_id"]
    assert rows[2]["text"].startswith("@bob roe: agreed, and as @Alice Doe said, ask @Dave.")


def test_pseudonymize_replaces_names_everywhere_and_keeps_links():
    _, keep = _clean("keep")
    _, rows = _clean("pseudonymize")
    label = {r["author"]: f"user-{r['author_id']}" for r in keep if r["author"]}
    assert [r["author"] for r in rows] == [label.get(r["author"]) for r in keep]
    assert [r["author_id"] for r in rows] == [r["author_id"] for r in keep]
    # the same rows, the same links: resolution happened on the real names
    for field in ("comment_id", "parent_comment_id", "quoted_comment_id", "posted_at"):
        assert [r[field] for r in rows] == [r[field] for r in keep], field
    assert rows[1]["reply_to_name"] == label["Alice Doe"]
    assert rows[1]["text"] == f"@{label['Alice Doe']}: the roads were promised last year too."
    assert rows[2]["text"].startswith(f"@{label['Bob Roe']}: agreed, and as @{label['Alice Doe']} said, ask @user-")
    assert "someone@example.com" in rows[2]["text"] and "@10:30" in rows[2]["text"]  # not mentions
    # a mention of someone who did not comment here gets that name's own pseudonym
    dave = ids.author_label(ids.author_pseudonym(KEY, rows[0]["source"], "Dave"))
    assert f"ask @{dave}." in rows[2]["text"]
    assert rows[3]["reply_to_name"] == ids.author_label(ids.author_pseudonym(KEY, rows[0]["source"], "Carol"))
    assert rows[4]["author"] is None and rows[4]["text"] == f"@{label['Bob Roe']}: who asked?"
    assert rows[3]["text"] == f"@{ids.author_label(ids.author_pseudonym(KEY, rows[0]['source'], 'Carol'))}: thanks. Written by {label['Alice Doe']}"
    assert [n for n in NAMES if n.casefold() in _strings(rows).casefold()] == []  # also in running text


def test_drop_removes_authors_and_mentions_and_keeps_links():
    _, keep = _clean("keep")
    _, rows = _clean("drop")
    assert all(r["author"] is None and r["author_id"] is None for r in rows)
    for field in ("comment_id", "parent_comment_id", "quoted_comment_id"):
        assert [r[field] for r in rows] == [r[field] for r in keep], field
    assert rows[1]["reply_to_name"] == "[author]" and rows[1]["text"].startswith("@[author]: the roads")
    assert rows[2]["text"].startswith("@[author]: agreed, and as @[author] said, ask @[author].")
    assert "anonymous" in rows[4]["flags"]
    assert rows[3]["text"] == "@[author]: thanks. Written by [author]"
    assert [n for n in NAMES if n.casefold() in _strings(rows).casefold()] == []


def test_comment_id_is_keyed_so_names_cannot_be_confirmed_by_hashing():
    _, a = _clean("pseudonymize", KEY)
    _, b = _clean("pseudonymize", b"another-key-0123456789abcdefghij")
    assert not {r["comment_id"] for r in a} & {r["comment_id"] for r in b}
    args = ("article", "Alice Doe", "March 3, 2012", "text", 0)
    assert ids.comment_id(*args, key=KEY) == ids.comment_id(*args, key=KEY)
    assert ids.comment_id(*args, key=KEY) != ids.comment_id("article", "Bob Roe", "March 3, 2012", "text", 0, key=KEY)


# --------------------------------------------------------------------------- the key


def test_random_key_file_is_private_reused_and_logged(tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="newsmill.ids")
    k1 = author_key.resolve_author_key(None, tmp_path)
    path = tmp_path / "_state" / "author_key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(k1) >= 32 and path.read_bytes().strip() == k1
    assert any("NEWSMILL_AUTHOR_KEY is not set" in r.getMessage() for r in caplog.records)
    caplog.clear()
    assert author_key.resolve_author_key(None, tmp_path) == k1  # same key next run: ids stay stable
    assert any("NEWSMILL_AUTHOR_KEY is not set" in r.getMessage() for r in caplog.records)  # warned every run
    assert author_key.resolve_author_key(None, tmp_path / "other") != k1  # per output


def test_configured_key_wins_and_writes_no_key_file(tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="newsmill.ids")
    assert author_key.resolve_author_key(KEY, tmp_path) == KEY
    assert not (tmp_path / "_state" / "author_key").exists()
    assert not caplog.records
    author_key.resolve_author_key(b"short", tmp_path / "o2")
    assert any("only 5 bytes" in r.getMessage() for r in caplog.records)


def test_key_change_on_an_output_with_data_is_refused(tmp_path):
    author_key.resolve_author_key(KEY, tmp_path)
    author_key.resolve_author_key(b"a-different-key-0123456789abcdef", tmp_path)  # no data yet: the new key takes over
    (tmp_path / "articles").mkdir()
    with pytest.raises(author_key.AuthorKeyError, match="differs"):
        author_key.resolve_author_key(KEY, tmp_path)
    with pytest.raises(author_key.AuthorKeyError, match="NEWSMILL_AUTHOR_KEY to the key used before"):
        author_key.resolve_author_key(None, tmp_path)  # nor would a new random key


def test_lost_key_file_on_an_output_with_data_is_refused(tmp_path):
    author_key.resolve_author_key(None, tmp_path)
    (tmp_path / "comments").mkdir()
    (tmp_path / "_state" / "author_key").unlink()
    with pytest.raises(author_key.AuthorKeyError, match="missing"):
        author_key.resolve_author_key(None, tmp_path)


def test_empty_or_readable_key_file(tmp_path, caplog):
    state = tmp_path / "_state"
    state.mkdir()
    (state / "author_key").write_bytes(b"")
    with pytest.raises(author_key.AuthorKeyError, match="empty or too short"):
        author_key.resolve_author_key(None, tmp_path)
    (state / "author_key").write_bytes(b"0123456789abcdef0123456789abcdef")
    os.chmod(state / "author_key", 0o644)
    caplog.set_level(logging.WARNING, logger="newsmill.ids")
    author_key.resolve_author_key(None, tmp_path)
    assert any("readable by others" in r.getMessage() for r in caplog.records)


def test_ids_stable_across_runs_with_the_per_output_key(tmp_path):
    settings = Settings(output_dir=tmp_path / "out", authors="pseudonymize")
    first = pipeline.process_batch([str(SEED)], pipeline.start_run(settings))
    second = pipeline.process_batch([str(SEED)], pipeline.start_run(settings))
    assert [c["comment_id"] for c in first.comments] == [c["comment_id"] for c in second.comments]
    assert [c["author"] for c in first.comments] == [c["author"] for c in second.comments]
    assert all(c["author"].startswith("user-") for c in first.comments if c["author"])


# --------------------------------------------------------------------------- settings, CLI, summary


def test_authors_setting_from_file_and_environment(tmp_path):
    f = tmp_path / "newsmill.toml"
    f.write_text('[newsmill]\nauthors = "pseudonymise"\n')
    assert load_settings(f, env={}).authors == "pseudonymize"
    assert load_settings(f, env={"NEWSMILL_AUTHORS": "drop"}).authors == "drop"
    f.write_text('[newsmill]\nauthors = "hide"\n')
    with pytest.raises(ConfigError, match="authors"):
        load_settings(f, env={})
    with pytest.raises(ConfigError, match="authors"):
        Settings(authors="hide")
    assert Settings().authors == "keep"
    assert replace(Settings(), authors="drop").authors == "drop"


def test_cli_authors_mode_recorded_in_summary_and_output_refuses_another_mode(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("NEWSMILL_AUTHOR_KEY", KEY.decode())
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "out"
    code = cli.main(["run", "--no-prefect", "--authors", "drop", "-o", str(out), str(SEED)])
    printed = capsys.readouterr().out
    assert code == 0
    assert "authors:    drop (author ids keyed with NEWSMILL_AUTHOR_KEY)" in printed
    assert "accounting: inputs = published + quarantined + rejected + unchanged: 1 = 1 + 0 + 0 + 0: ok" in printed
    run_id = (out / "reports" / "LATEST").read_text().strip()
    summary = json.loads((out / "reports" / run_id / "summary.json").read_text())
    assert summary["authors_mode"] == "drop" and summary["author_key_source"] == "environment"
    comments = reading.read_table("comments", out).to_pylist()
    assert comments and all(c["author"] is None and c["author_id"] is None for c in comments)
    assert any(c["parent_comment_id"] for c in comments)  # links kept
    # a 'keep' run into the same output would mix names into a dataset that says 'drop'
    code = cli.main(["run", "--no-prefect", "--authors", "keep", "-o", str(out), str(SEED)])
    assert code == 2 and "authors = 'drop'" in capsys.readouterr().err


def test_run_summary_rechecks_the_accounting_invariant():
    base = dict(run_id="r", output_dir="o", report_dir="r", inputs=3, articles_published=1, comments_published=0,
                articles_quarantined=1, comments_quarantined=0, rejected=0, critical_failed=False,
                accounting_ok=True, seconds=0.0)
    s = pipeline.RunSummary(**base)
    assert not s.accounting_ok and s.exit_code == 1
    assert pipeline.RunSummary(**{**base, "rejected": 1}).accounting_ok
    assert pipeline.RunSummary(**{**base, "rejected": 1}).to_dict()["authors_mode"] == "keep"


def test_dataset_card_states_the_authors_mode(tmp_path):
    from newsmill import pipeline
    from newsmill.config import Settings

    d = tmp_path / "in"
    d.mkdir()
    (d / "seed.txt").write_bytes(SEED.read_bytes())
    out = tmp_path / "out"
    pipeline.run([str(d)], Settings(output_dir=out, authors="pseudonymize"))
    card_text = (out / "README.md").read_text(encoding="utf-8")
    assert "mode 'pseudonymize'" in card_text and "user-<author_id>" in card_text
    assert "only comparable within this dataset" in card_text  # no NEWSMILL_AUTHOR_KEY: per-output key


# --------------------------------------------------------------------------- names without '@' (issue 13)

def _named_page() -> tuple[RawPage, PageInput]:
    raw = RawPage(
        title="Council approves new budget", published_raw="March 3, 2012",
        paragraphs=["The city council approved the budget on Friday after a six-hour session."],
        comments=[
            RawComment("Zelda Quill", "March 3, 2012 at 4:15 pm", "Finally some money for the roads."),
            RawComment("Orson Vayle", "March 3, 2012 at 5:20 pm",
                       "Reply to Zelda Quill\n\nZelda Quill wrote: finally.\n\nI disagree, zelda  quill. Ask Ike or "
                       "the Quillsons; Zelda Quillfeather is not Zelda."),
            RawComment("Ike", "March 3, 2012 at 6:00 pm",
                       "Orson Vayle's point stands. \uff3a\uff45\uff4c\uff44\uff41 \uff31\uff55\uff49\uff4c\uff4c "
                       "agrees. Mike and Ikea and Ikes are fine."),
            RawComment("Zelda Quill", "Zelda Quill replied to Orson Vayle, March 4, 2012 at 9:00 am",
                       "Thanks, @Ike. Written by Ze\u200blda Quill"),
        ],
    )
    return raw, PageInput(uri="/in/named.txt", data=b"x", sha256="1" * 64, format="text")


def _clean_named(mode: str):
    raw, page = _named_page()
    ctx = CleanContext(KEY, datetime(2026, 1, 1, tzinfo=timezone.utc), "test", authors_mode=mode)
    return clean_page(raw, page, default_profile(), ctx)


def _leaks(rows: list[dict], names=("Zelda Quill", "Orson Vayle", "Ike")) -> list[str]:
    """The commenters' names still found in any field (also written in other widths or with hidden characters)."""
    import unicodedata

    text = unicodedata.normalize("NFKC", _strings(rows)).replace("\u200b", "")
    return [n for n in names if re.search(rf"(?<!\w){re.escape(n)}(?!\w)", text, re.IGNORECASE)]


def test_drop_removes_commenters_names_written_without_at():
    _, keep = _clean_named("keep")
    _, rows = _clean_named("drop")
    assert _leaks(keep) == ["Zelda Quill", "Orson Vayle", "Ike"]
    assert _leaks(rows) == []
    assert rows[1]["text"] == ("Reply to [author]\n\n[author] wrote: finally.\n\nI disagree, [author]. Ask [author] or "
                               "the Quillsons; Zelda Quillfeather is not Zelda.")  # not a name: left alone
    assert rows[2]["text"] == "[author]'s point stands. [author] agrees. Mike and Ikea and Ikes are fine."
    assert rows[3]["text"] == "Thanks, @[author]. Written by [author]"
    assert rows[3]["posted_raw"] == "[author] replied to [author], March 4, 2012 at 9:00 am"
    assert rows[3]["posted_at"] == keep[3]["posted_at"] is not None
    for field in ("comment_id", "parent_comment_id", "quoted_comment_id"):
        assert [r[field] for r in rows] == [r[field] for r in keep], field


def test_keep_leaves_running_text_alone_and_pseudonymize_labels_it():
    raw, _ = _named_page()
    _, keep = _clean_named("keep")
    assert [r["text"] for r in keep] == [normalize_text(rc.text) for rc in raw.comments]
    _, rows = _clean_named("pseudonymize")
    label = {r["author"]: f"user-{r['author_id']}" for r in keep}
    assert _leaks(rows) == []
    assert rows[1]["text"].startswith(f"Reply to {label['Zelda Quill']}\n\n{label['Zelda Quill']} wrote: finally.")
    assert rows[2]["text"] == (f"{label['Orson Vayle']}'s point stands. {label['Zelda Quill']} agrees. "
                               "Mike and Ikea and Ikes are fine.")
    assert rows[3]["text"] == f"Thanks, @{label['Ike']}. Written by {label['Zelda Quill']}"


# --------------------------------------------------------------------------- hidden characters in names


def _impostor_rows(mode: str = "keep", names=("Jane Doe", "Ja\u200bne Doe", "Jane Doe\u2060", "Jane Doe")):
    comments = [RawComment(n, f"March 3, 2012 at {i + 1}:15 pm", f"Comment {i} on the budget vote.")
                for i, n in enumerate(names)]
    comments.append(RawComment("Bob Roe", "March 3, 2012 at 9:00 pm", "@Jane Doe: you said it."))
    raw = RawPage(title="Council approves new budget", published_raw="March 3, 2012",
                  paragraphs=["The city council approved the budget on Friday after a six-hour session."],
                  comments=comments)
    page = PageInput(uri="/in/impostor.txt", data=b"x", sha256="2" * 64, format="text")
    ctx = CleanContext(KEY, datetime(2026, 1, 1, tzinfo=timezone.utc), "test", authors_mode=mode)
    return clean_page(raw, page, default_profile(), ctx)[1]


def test_zero_width_character_does_not_give_the_real_persons_author_id():
    rows = _impostor_rows()
    real = ids.author_pseudonym(KEY, rows[0]["source"], "Jane Doe")
    assert [r["author"] for r in rows[:4]] == ["Jane Doe"] * 4  # as a reader sees it
    assert rows[0]["author_id"] == rows[3]["author_id"] == real  # an ordinary name keeps its id
    assert len({rows[0]["author_id"], rows[1]["author_id"], rows[2]["author_id"]}) == 3
    assert [("author_hidden_characters" in r["flags"]) for r in rows[:4]] == [False, True, True, False]
    # '@Jane Doe:' is the name written as the real Jane Doe's: her latest comment, not an impostor's
    assert rows[4]["parent_comment_id"] == rows[3]["comment_id"]
    only_impostor_before = _impostor_rows(names=("Ja\u200bne Doe",))
    assert only_impostor_before[1]["parent_comment_id"] == only_impostor_before[0]["comment_id"]  # matching: normalised


def test_different_people_never_merge_and_the_same_name_always_does():
    names = ("Jane Doe", "J\u0430ne Doe", "\uff2aane Doe", "Jane Doe\u202e", "Jane  Doe", "jane doe")
    rows = _impostor_rows(names=names)
    got = [r["author_id"] for r in rows[: len(names)]]
    assert len(set(got[:4])) == 4  # Latin, Cyrillic 'а', fullwidth 'Ｊ', a bidi control: four people
    assert got[4] == got[5] == got[0]  # spacing and case: the same name (as before: ids stay stable)


def test_impostor_names_are_dropped_too():
    rows = _impostor_rows("drop")
    assert all(r["author"] is None and r["author_id"] is None for r in rows)
    assert rows[4]["text"] == "@[author]: you said it."
    assert "author_hidden_characters" in rows[1]["flags"]  # the flag names no one


def test_hostile_impostor_page_zero_width_in_markup(tmp_path):
    """The HTML of ``tests/hostile/files/impostor-zero-width.html``: names in elements, one with U+200B."""
    from tests.hostile import make_corpus as corpus

    page = tmp_path / "impostor.html"
    page.write_bytes(corpus.SMALL["impostor-zero-width.html"])
    for mode in ("keep", "drop"):
        res = pipeline.process_batch([str(page)], pipeline.start_run(
            Settings(output_dir=tmp_path / mode, author_key=KEY, authors=mode)))
        assert not res.rejects and len(res.comments) == 4
        if mode == "keep":
            by = [(c["author"], c["author_id"], "author_hidden_characters" in c["flags"]) for c in res.comments]
            assert [a for a, _, _ in by] == ["Marta Lind", "Marta Lind", "Per Holm", "Marta Lind"]
            assert by[0][1] == by[3][1] != by[1][1] and [h for *_, h in by] == [False, True, False, False]
        else:
            assert _leaks(res.comments, names=("Marta Lind", "Per Holm")) == []


def test_hostile_impostor_text_dump_zero_width_kept_from_the_dump(tmp_path):
    """``tests/hostile/files/impostor-zero-width.txt``: the dump's lines are normalised (invisible characters
    dropped) before the layout is read; the name is taken back as the dump writes it."""
    from tests.hostile import make_corpus as corpus

    page = tmp_path / "impostor.txt"
    page.write_bytes(corpus.SMALL["impostor-zero-width.txt"])
    for mode in ("keep", "drop"):
        res = pipeline.process_batch([str(page)], pipeline.start_run(
            Settings(output_dir=tmp_path / mode, author_key=KEY, authors=mode)))
        assert not res.rejects and len(res.comments) == 3
        if mode == "keep":
            assert [c["author"] for c in res.comments] == ["Alice Doe", "Bob Roe", "Alice Doe"]
            assert res.comments[0]["author_id"] != res.comments[2]["author_id"]
            assert "author_hidden_characters" in res.comments[2]["flags"]
        else:
            assert _leaks(res.comments, names=("Alice Doe", "Bob Roe")) == []


# --------------------------------------------------------------------------- what a live run writes


def _written_text(out) -> str:
    """Every string the run wrote under ``out``: table cells of Parquet files, the bytes of every other file
    (gzip opened), so that a name in any file, of any kind, is found."""
    import gzip

    import pyarrow.parquet as pq

    parts = []
    for p in sorted(out.rglob("*")):
        if p.is_dir() or p.name == author_key.KEY_FILE:
            continue
        if p.suffix == ".parquet":
            t = pq.read_table(p)
            parts += [str(v) for col in t.columns for v in col.to_pylist()]
            continue
        data = p.read_bytes()
        if data[:2] == b"\x1f\x8b":
            data = gzip.decompress(data)
        parts.append(data.decode("utf-8", "replace"))
    return "\n".join(parts)


def _live_page() -> bytes:
    from tests.hostile import make_corpus as corpus

    return corpus.IMPOSTOR.encode()


@pytest.fixture()
def live_site(monkeypatch):
    from tests.localserver import robots, send, serving

    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    routes = {"/robots.txt": robots("User-agent: *\nAllow: /\n"),
              "/2012/03/bridge": lambda h: send(h, 200, _live_page())}
    with serving(routes) as s:
        yield s


def _live_settings(out, site, **fetch):
    from newsmill.config import FetchSettings, SourceSpec

    return Settings(output_dir=out, author_key=KEY, authors="drop",
                    sources=(SourceSpec("urls", urls=(site.url("/2012/03/bridge"),)),),
                    fetch=FetchSettings(per_host_delay=0.0, retries=0, allow_private_addresses=True, **fetch))


def test_live_drop_run_keeps_no_raw_capture_and_writes_no_name(tmp_path, live_site):
    out = tmp_path / "out"
    summary = pipeline.run([], _live_settings(out, live_site))
    assert summary.accounting_ok and summary.comments_published == 4
    assert not (out / "raw").exists() or not any((out / "raw").iterdir())
    assert not any((out / "_state" / "staging").iterdir())  # the transient capture went with the run's area
    written = _written_text(out)
    assert "Harbour bridge reopens" in written and "the bridge is open again" in written  # the scan sees the data
    assert [n for n in ("Marta", "Lind", "Per Holm") if n in written] == []


def test_live_drop_run_keeps_the_raw_capture_only_when_asked_and_says_so(tmp_path, live_site, caplog):
    out = tmp_path / "out"
    caplog.set_level(logging.WARNING, logger="newsmill.sources.live")
    summary = pipeline.run([], _live_settings(out, live_site, raw="keep"))
    assert summary.accounting_ok and summary.comments_published == 4
    (warc,) = (out / "raw").glob("*.warc.gz")
    assert "Marta Lind" in _written_text(out)  # the page as served: that is what was asked for
    assert any("raw" in r.getMessage() and "names" in r.getMessage() for r in caplog.records)
    # the tables still name no one
    assert [n for n in ("Marta", "Lind", "Per Holm")
            if any(n in str(v) for t in ("articles", "comments") for r in reading.read_table(t, out).to_pylist()
                   for v in r.values())] == []


def test_raw_setting_values_and_what_each_mode_keeps(tmp_path):
    from newsmill.config import FetchSettings
    from newsmill.sources.live import raw_kept

    assert FetchSettings().raw == "auto"
    with pytest.raises(ConfigError, match="raw"):
        FetchSettings(raw="sometimes")
    assert [raw_kept(Settings(authors=m)) for m in ("keep", "pseudonymize", "drop")] == [True, False, False]
    assert raw_kept(Settings(authors="drop", fetch=FetchSettings(raw="keep")))
    assert not raw_kept(Settings(authors="keep", fetch=FetchSettings(raw="discard")))
    f = tmp_path / "newsmill.toml"
    f.write_text('[fetch]\nraw = "keep"\n')
    assert load_settings(f, env={}).fetch.raw == "keep"
    assert load_settings(f, env={"NEWSMILL_FETCH_RAW": "discard"}).fetch.raw == "discard"


def test_cli_fetch_only_refuses_to_keep_names_under_drop(tmp_path, capsys):
    toml = tmp_path / "newsmill.toml"
    toml.write_text('[newsmill]\nauthors = "drop"\n\n[[sources]]\nkind = "urls"\nurls = ["http://127.0.0.1:9/x"]\n')
    code = cli.main(["fetch", "--config", str(toml), "--output", str(tmp_path / "out")])
    assert code == 2 and 'raw = "keep"' in capsys.readouterr().err
    assert not (tmp_path / "out" / "raw").exists()


def test_names_in_text_are_whole_words_not_contractions_or_single_letters():
    comments = [RawComment("don", "March 3, 2012 at 1:15 pm", "First."),
                RawComment("s", "March 3, 2012 at 2:15 pm", "Second."),
                RawComment("ll", "March 3, 2012 at 2:30 pm", "Third."),
                RawComment("Alice", "March 3, 2012 at 2:45 pm", "Fourth."),
                RawComment("Tim", "March 3, 2012 at 3:15 pm", "I don't know, it's don's call, ask don. S is a letter; "
                                                                "Tim's post, Tim\u2019s post, Tim'd agree, I'll see. "
                                                                "Je crois qu'Alice a raison.")]
    raw = RawPage(title="Council approves new budget", published_raw="March 3, 2012",
                  paragraphs=["The city council approved the budget on Friday after a six-hour session."],
                  comments=comments)
    page = PageInput(uri="/in/words.txt", data=b"x", sha256="3" * 64, format="text")
    ctx = CleanContext(KEY, datetime(2026, 1, 1, tzinfo=timezone.utc), "test", authors_mode="drop")
    rows = clean_page(raw, page, default_profile(), ctx)[1]
    assert rows[4]["text"] == ("I don't know, it's [author]'s call, ask [author]. S is a letter; "
                               "[author]'s post, [author]\u2019s post, [author]'d agree, I'll see. "
                               "Je crois qu'[author] a raison.")
