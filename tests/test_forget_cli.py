"""`newsmill forget` end to end: a run, an erasure, later runs (also --full) that must not bring the
records back, and the command's one-line errors."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from newsmill import cli
from newsmill.store import manifest, reading
from tests.conftest import SEED, bad_comment_page
from tests.store.conftest import read_all_ways

KEY = "forget-cli-key-0123456789abcdef0123"


@pytest.fixture
def run(tmp_path, monkeypatch):
    monkeypatch.setenv("NEWSMILL_AUTHOR_KEY", KEY)
    monkeypatch.chdir(tmp_path)
    d = tmp_path / "in"
    d.mkdir()
    shutil.copy(SEED, d / "seed.txt")
    (d / "budget.txt").write_text(bad_comment_page("Nice <script>alert(1)</script> budget."), encoding="cp1252")
    out = tmp_path / "out"

    def go(*extra: str) -> int:
        return cli.main(["run", "--no-prefect", *extra, str(d), "-o", str(out)])

    assert go() == 0
    return out, go


def consistent(out: Path) -> dict:
    """Every reader agrees; positions 1..n per article, counts = current comments."""
    for name in ("articles", "comments"):
        views = read_all_ways(out / name, name)
        assert all(v == views["pyarrow"] for v in views.values()), name
    t = reading.read_tables(out)
    arts = {a["article_id"]: a for a in t["articles"].to_pylist()}
    per: dict[str, list] = {}
    for c in t["comments"].to_pylist():
        per.setdefault(c["article_id"], []).append(c)
    for a, cs in per.items():
        assert sorted(c["position"] for c in cs) == list(range(1, len(cs) + 1)), a
    # counts = current comments, but for the one comment validation quarantined (counted as extracted)
    extra = {a: arts[a]["comment_count_extracted"] - sum(not c["removed_at_source"] for c in per.get(a, []))
             for a in arts}
    assert sorted(extra.values()) in ([0, 0], [0, 1], [0], [1]), extra
    return {"articles": arts, "comments": {c["comment_id"]: c for c in t["comments"].to_pylist()}}


def test_forget_author_then_full_run_keeps_them_out(run, capsys):
    out, go = run
    before = consistent(out)
    name = next(c["author"] for c in before["comments"].values() if c["author"])
    theirs = {k for k, c in before["comments"].items() if c["author"] == name}
    capsys.readouterr()
    assert cli.main(["forget", str(out), "--author", name, "--dry-run"]) == 0
    said = capsys.readouterr().out
    assert "dry run" in said and f"would remove {len(theirs)} comments" in said
    assert set(consistent(out)["comments"]) == set(before["comments"])
    assert cli.main(["forget", str(out), "--author", name]) == 0
    said = capsys.readouterr().out
    assert f"current version:   removed {len(theirs)} comments -> new version v000002-forget-" in said, said
    assert "kept v000001-" in said  # the version before was rewritten too
    after = consistent(out)
    assert not theirs & set(after["comments"]) and len(after["comments"]) == len(before["comments"]) - len(theirs)
    m = manifest.read(reading.current_version(out))
    assert m["erasures"][0]["comment_ids"] == sorted(theirs) and name not in json.dumps(m)
    # a later run, and a --full one, publish nothing of theirs again and count what they left out
    assert go("--full") == 0
    said = capsys.readouterr().out
    assert f"suppressed                 0 articles, {len(theirs)} comments" in said, said
    again = consistent(out)
    assert set(again["comments"]) == set(after["comments"])
    assert not any(c["author"] == name for c in again["comments"].values())
    assert go() == 0 and set(consistent(out)["comments"]) == set(after["comments"])


def test_forget_article_and_accounting_of_later_runs(run, capsys):
    out, go = run
    before = consistent(out)
    a = sorted(before["articles"])[0]
    assert cli.main(["forget", str(out), "--article-id", a, "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["current"]["articles"] == 1
    assert a not in consistent(out)["articles"]
    assert go("--full") == 0
    said = capsys.readouterr().out
    assert "accounting: inputs = published + quarantined + rejected + unchanged + suppressed: 2 = 1 + 0 + 0 + 0 + 1: ok" \
        in said, said
    assert a not in consistent(out)["articles"]
    summary = json.loads((out / "reports" / (out / "reports" / "LATEST").read_text().strip() / "summary.json")
                         .read_text())
    assert summary["articles_suppressed"] == 1 and summary["accounting_ok"]


@pytest.mark.parametrize("argv, says", [
    (["--comment-id", ""], "empty id"),
    ([], "name what to erase"),
    (["--from-file", "missing.txt"], "cannot read"),
])
def test_bad_input_is_one_line_and_exit_2(run, capsys, argv, says):
    out, _ = run
    capsys.readouterr()
    assert cli.main(["forget", str(out), *argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and says in err[0], err


def test_an_output_with_nothing_published_is_refused(tmp_path, capsys):
    assert cli.main(["forget", str(tmp_path / "nothing"), "--comment-id", "x"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "holds no published output" in err[0]
