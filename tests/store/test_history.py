"""History: the versions an output keeps by its [history] policy, listed and read back.

A thread is published as it grows (2, 3, 4, 5 comments: one run each); every kept version reads
back with the thread as it was then, by number, folder name, run id or time, through pyarrow,
pandas, DuckDB and Polars, locally and from a remote output (memory://).
"""
from __future__ import annotations

import json
import os
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import duckdb
import pandas as pd
import polars as pl
import pytest

import newsmill
from newsmill import cli, pipeline
from newsmill.config import ConfigError, HistorySettings, Settings, load_settings
from newsmill.store import history, manifest, remote, versions

KEY = b"k" * 32
READERS = [("Ann Lee", "wants the roads fixed first."), ("Bob Roe", "says the schools needed it more."),
           ("Carol Poe", "asks whether the repairs really start this spring."),
           ("Dan Ode", "thinks the session was far too long."), ("Eve Bay", "wonders what the buses will get."),
           ("Finn Orr", "wants the minutes published online.")]


def thread(n: int) -> str:
    """A text dump of one article whose thread has its first ``n`` comments (one a day)."""
    head = ("Council approves new budget after long debate\n\nPublished: March 3, 2012\n\n"
            "SPRINGFIELD: The city council approved the budget on Friday after a six-hour session.\n\n"
            "Members argued over road repairs and school funding until late in the evening.\n\n"
            f"{n} Comments\n")
    return head + "".join(f"\n  • {who}\n    March {4 + i}, 2012 at 5:20 pm\n\n    {who.split()[0]} {what}\n"
                          for i, (who, what) in enumerate(READERS[:n]))


def grow(tmp_path: Path, output, n: int, **kw):
    d = tmp_path / f"in{n}"
    d.mkdir(exist_ok=True)
    (d / "budget.txt").write_text(thread(n), encoding="utf-8")
    return pipeline.run([str(d)], Settings(output_dir=output, author_key=KEY, workers=1, **kw))


@pytest.fixture(scope="module")
def grown(tmp_path_factory):
    """One output, four runs: the thread has 2, 3, 4 then 5 comments; at most 3 versions kept."""
    tmp = tmp_path_factory.mktemp("history")
    out = tmp / "out"
    runs = [grow(tmp, out, n, history=HistorySettings(keep_versions=3)) for n in (2, 3, 4, 5)]
    return out, runs


def test_the_policy_keeps_the_newest_versions_and_lists_them(grown):
    out, runs = grown
    kept = newsmill.list_versions(out)
    assert [v.seq for v in kept] == [4, 3, 2]  # version 1 fell out of the newest three
    assert [v.run_id for v in kept] == [r.run_id for r in runs[:0:-1]]
    assert [v.current for v in kept] == [True, False, False]
    assert [v.rows["comments"] for v in kept] == [5, 4, 3]
    assert sorted(p.name for p in (out / versions.VERSIONS).iterdir()) == sorted(v.name for v in kept)
    assert kept[0].changes["comments"]["inserted"] == 1


@pytest.mark.parametrize("how", ["number", "name", "run id"])
def test_a_kept_version_reads_as_the_thread_was_then(grown, how):
    out, _ = grown
    v = newsmill.list_versions(out)[2]  # version 2: three comments
    key = {"number": v.seq, "name": v.name, "run id": v.run_id}[how]
    tables = newsmill.read_tables(out, version=key)
    assert (tables["articles"].num_rows, tables["comments"].num_rows) == (1, 3)
    assert newsmill.read_table("comments", out, version=key).num_rows == 3
    assert newsmill.read_table("comments", out).num_rows == 5  # the current one is untouched


def test_every_reader_reads_an_old_version_from_its_folder(grown):
    out, _ = grown
    v = newsmill.list_versions(out)[1]  # version 3: four comments
    folder = out / versions.VERSIONS / v.name / "comments"
    want = sorted(newsmill.read_table("comments", out, version=v.seq)["comment_id"].to_pylist())
    assert len(want) == 4
    assert not list(folder.rglob("*.parquet"))  # a kept version is out of reach of output/**/*.parquet
    glob = str(folder / "**" / "*.pq")
    assert sorted(pd.read_parquet(folder)["comment_id"]) == want
    assert sorted(r[0] for r in duckdb.sql(f"select comment_id from read_parquet('{glob}', hive_partitioning=true)")
                  .fetchall()) == want
    assert sorted(pl.read_parquet(glob, hive_partitioning=True)["comment_id"].to_list()) == want


def test_as_of_picks_the_newest_version_committed_by_then(grown):
    out, _ = grown
    kept = newsmill.list_versions(out)
    assert newsmill.read_table("comments", out, as_of=kept[1].created_at).num_rows == 4
    assert newsmill.read_table("comments", out, as_of=kept[0].created_at.isoformat()).num_rows == 5
    tomorrow = (kept[0].created_at + timedelta(days=1)).date()
    assert newsmill.read_table("comments", out, as_of=tomorrow).num_rows == 5  # a date: the end of that day
    with pytest.raises(history.VersionNotFound, match="no version committed by 2001-01-01 23:59:59Z"):
        newsmill.read_tables(out, as_of="2001-01-01")


def test_a_version_not_kept_is_named_with_what_is_kept(grown):
    out, runs = grown
    for gone in (1, runs[0].run_id, "v000009-x"):
        with pytest.raises(history.VersionNotFound, match=r"keeps no version .*kept, newest first: 4 \("):
            newsmill.read_tables(out, version=gone)
    with pytest.raises(ValueError, match="not both"):
        newsmill.read_tables(out, version=2, as_of="2026-01-01")
    with pytest.raises(ValueError, match="is not a date or time"):
        newsmill.read_tables(out, as_of="last tuesday")


def test_versions_older_than_keep_days_go_but_current_and_previous_stay(tmp_path):
    out = tmp_path / "out"
    for n in (2, 3, 4, 5):
        grow(tmp_path, out, n)
    assert [v.seq for v in newsmill.list_versions(out)] == [4, 3, 2, 1]  # the default keeps them all
    # make versions 1..3 look 40 days old (manifests are read-only: what a publish wrote stays)
    for v in newsmill.list_versions(out)[1:]:
        p = out / versions.VERSIONS / v.name / manifest.NAME
        m = json.loads(p.read_text())
        m["created_at"] = (datetime.now(timezone.utc) - timedelta(days=40)).isoformat(timespec="seconds")
        os.chmod(p, 0o644)
        p.write_text(json.dumps(m))
    store = versions.Store(out)
    assert store.retained(30, 365) == [v.name for v in newsmill.list_versions(out)]
    assert [versions.seq_of(n) for n in store.retained(30, 30)] == [4, 3]  # the previous one stays, though old
    grow(tmp_path, out, 6, history=HistorySettings(keep_versions=30, keep_days=30))
    assert [v.seq for v in newsmill.list_versions(out)] == [5, 4]  # 4 is younger than 30 days; 3, 2, 1 were not


def test_history_settings_are_checked_up_front(tmp_path):
    for bad, msg in (("keep_versions = 1", "at least 2"), ('keep_versions = "many"', "whole number"),
                     ("keep_days = -1", "number of days")):
        (tmp_path / "newsmill.toml").write_text(f"[history]\n{bad}\n", encoding="utf-8")
        with pytest.raises(ConfigError, match=msg):
            load_settings(tmp_path / "newsmill.toml", env={})
    (tmp_path / "newsmill.toml").write_text("[history]\nkeep_versions = 5\n", encoding="utf-8")
    s = load_settings(tmp_path / "newsmill.toml", env={"NEWSMILL_HISTORY_KEEP_DAYS": "7"})
    assert (s.history.keep_versions, s.history.keep_days) == (5, 7.0)
    assert load_settings(None, env={}).history == HistorySettings()


def test_cli_lists_versions_as_a_table_and_as_json(grown, capsys):
    out, runs = grown
    assert cli.main(["versions", str(out)]) == 0
    text = capsys.readouterr().out.splitlines()
    assert text[0].split()[:2] == ["version", "committed"]
    assert text[1].startswith("4 (current)") and runs[-1].run_id in text[1]
    assert [line.split()[0] for line in text[1:4]] == ["4", "3", "2"]
    assert cli.main(["versions", str(out), "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(v["version"], v["rows"]["comments"], v["current"]) for v in listed] == \
        [(4, 5, True), (3, 4, False), (2, 3, False)]


def test_cli_names_a_folder_that_is_not_there(tmp_path, capsys):
    assert cli.main(["versions", str(tmp_path / "nope")]) == cli.EXIT_USAGE
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and "nope does not exist" in err[0]


def test_a_remote_output_keeps_its_history_by_the_same_policy(tmp_path, monkeypatch):
    monkeypatch.setenv("NEWSMILL_CACHE", str(tmp_path / "cache"))
    url = f"memory://nm-{uuid.uuid4().hex[:12]}/news"
    try:
        for n in (2, 3, 4, 5):
            grow(tmp_path, url, n, history=HistorySettings(keep_versions=3))
        kept = newsmill.list_versions(url)
        assert [(v.seq, v.rows["comments"], v.current) for v in kept] == [(4, 5, True), (3, 4, False), (2, 3, False)]
        fs, root = remote.filesystem(url)
        fs.invalidate_cache()
        assert sorted(p.rsplit("/", 1)[-1] for p in fs.ls(f"{root}/{remote.VERSIONS}", detail=False)) == \
            sorted(v.name for v in kept)
        assert newsmill.read_table("comments", url, version=2).num_rows == 3
        assert newsmill.read_table("comments", url, as_of=kept[1].created_at).num_rows == 4
        assert newsmill.read_table("comments", url).num_rows == 5
    finally:
        fs, root = remote.filesystem(url)
        if fs.exists(root):
            fs.rm(root, recursive=True)
