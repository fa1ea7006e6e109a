"""Privacy: ``--authors keep|pseudonymize|drop`` and the author key (HMAC-SHA256)."""
from __future__ import annotations

import json
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
    leaked = [n for n in NAMES if n.casefold() in _strings(rows).casefold()]
    assert leaked == ["Alice Doe"]  # only in running text ('Written by Alice Doe'): not a mention, documented


def test_drop_removes_authors_and_mentions_and_keeps_links():
    _, keep = _clean("keep")
    _, rows = _clean("drop")
    assert all(r["author"] is None and r["author_id"] is None for r in rows)
    for field in ("comment_id", "parent_comment_id", "quoted_comment_id"):
        assert [r[field] for r in rows] == [r[field] for r in keep], field
    assert rows[1]["reply_to_name"] == "[author]" and rows[1]["text"].startswith("@[author]: the roads")
    assert rows[2]["text"].startswith("@[author]: agreed, and as @[author] said, ask @[author].")
    assert "anonymous" in rows[4]["flags"]
    assert [n for n in NAMES if n.casefold() in _strings(rows).casefold()] == ["Alice Doe"]


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
