"""Erasure (``newsmill forget``, ``newsmill.store.erasure``): records gone from every place the output keeps
them, read back through every reader, checksums intact, and never published again."""
from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from newsmill.threads import thread_fields

from newsmill import ids, schema
from newsmill.store import erasure, history, integrity, layout, manifest, publish, reading, versions
from tests.conftest import REPO
from tests.store.conftest import CHILD_SCRIPT, read_all_ways, row

KEY = b"forget-test-key-0123456789abcdef"
JANE = "Jane Doe"


def aid(source: str, name: str) -> str:
    return ids.author_pseudonym(KEY, source, name)


def art(i: int, a: str, source: str, year: int, count: int) -> dict:
    return row("articles", i, article_id=a, source=source, year=year, url=f"https://{source}.test/{a}",
               comment_count_extracted=count, input_uri=f"https://{source}.test/{a}")


def com(i: int, c: str, a: str, source: str, year: int, pos: int, author: str, **kw) -> dict:
    base = dict(comment_id=c, article_id=a, source=source, year=year, position=pos, author=author,
                author_id=aid(source, author), reply_to_name=None, parent_comment_id=None, quoted_comment_id=None,
                text=f"comment {c}", removed_at_source=False, removed_seen_at=None)
    return row("comments", i, **{**base, **kw})


def v1_rows():
    arts = [art(0, "a1", "dawn", 2024, 3)]
    coms = [com(0, "c1", "a1", "dawn", 2024, 1, JANE),
            com(1, "c2", "a1", "dawn", 2024, 2, "Bob", reply_to_name=JANE, parent_comment_id="c1",
                text="@Jane Doe: no"),
            com(2, "c3", "a1", "dawn", 2024, 3, "Carl"),
            com(3, "c7", "a1", "dawn", 2024, 4, JANE, removed_at_source=True)]
    return arts, coms


def v2_rows():
    arts = [art(1, "a2", "dawn", 2024, 1), art(2, "a3", "tribune", 2023, 2), art(3, "a4", "tribune", 2023, 1)]
    coms = [com(4, "c4", "a2", "dawn", 2024, 1, JANE),
            com(5, "c5", "a3", "tribune", 2023, 1, JANE),
            com(6, "c6", "a3", "tribune", 2023, 2, "Eve"),
            com(7, "c8", "a4", "tribune", 2023, 1, "Eve")]
    return arts, coms


def tables(arts, coms) -> dict:
    return {"articles": schema.to_arrow("articles", arts), "comments": schema.to_arrow("comments", coms)}


def write_warc(path: Path, urls: list[str]) -> None:
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        w = WARCWriter(fh, gzip=True)
        for u in urls:
            body = f"<html><body>page {u} Jane Doe wrote</body></html>".encode()
            http = StatusAndHeaders("200 OK", [("Content-Type", "text/html")], protocol="HTTP/1.1")
            w.write_record(w.create_warc_record(u, "response", payload=io.BytesIO(body), http_headers=http))
            req = StatusAndHeaders(f"GET {u} HTTP/1.1", [("Host", "x")], is_http_request=True)
            w.write_record(w.create_warc_record(u, "request", payload=io.BytesIO(b""), http_headers=req))


def warc_uris(path: Path) -> list[str]:
    from warcio.archiveiterator import ArchiveIterator

    with open(path, "rb") as fh:
        return [r.rec_headers.get_header("WARC-Target-URI") for r in ArchiveIterator(fh)]


def make_output(out: Path) -> Path:
    """Two versions (v1: a1; v2: + a2, a3, a4), quarantine of run v1, the raw capture of run v2."""
    a, c = v1_rows()
    publish.publish_run(tables(a, c), out, run_id="v1")
    a2, c2 = v2_rows()
    publish.publish_run(tables(a2, c2), out, run_id="v2")
    q = [com(8, "c9", "a1", "dawn", 2024, 5, JANE), com(9, "c10", "a1", "dawn", 2024, 6, "Bob")]
    publish.write_quarantine("comments", schema.to_arrow("comments", q), out, run_id="v1")
    write_warc(out / layout.raw_rel("v2"), [f"https://{s}.test/{a}" for s, a in
                                           (("dawn", "a1"), ("dawn", "a2"), ("tribune", "a3"), ("tribune", "a4"))])
    return out


@pytest.fixture
def out(tmp_path) -> Path:
    return make_output(tmp_path / "output")


def forget(out: Path, **kw) -> erasure.Result:
    req = erasure.Request(set(kw.get("article_ids", ())), set(kw.get("comment_ids", ())),
                          set(kw.get("author_ids", ())), list(kw.get("author_names", ())),
                          mode=kw.get("mode", "remove"))
    return erasure.forget(out, req, key=KEY, run_id=kw.get("run_id", "forget-1"), keep_versions=30,
                          dry_run=kw.get("dry_run", False))


def every_reader(root: Path, name: str) -> list[dict]:
    kept = "_versions" in root.parts  # a kept version: its part files are .pq
    views = read_all_ways(root, name, suffix=layout.KEPT_SUFFIX if kept else layout.PART_SUFFIX)
    assert all(v == views["pyarrow"] for v in views.values()), f"readers disagree on {name}"
    return views["pyarrow"]


def rows_by_id(out: Path, version=None) -> dict[str, dict[str, dict]]:
    t = reading.read_tables(out, version=version)
    return {"articles": {r["article_id"]: r for r in t["articles"].to_pylist()},
            "comments": {r["comment_id"]: r for r in t["comments"].to_pylist()}}


def assert_sound(out: Path) -> None:
    """Every kept version matches its manifest (sizes, SHA-256, no stray file) and its croissant.json."""
    store = versions.Store(out)
    for v in store.versions.iterdir():
        assert manifest.verify(v) == [], v.name
        assert integrity.check(v) == [], v.name
        m = manifest.read(v)
        cr = json.loads((v / layout.CROISSANT).read_text())
        listed = {d["contentUrl"]: d["sha256"] for d in cr["distribution"] if d["@type"] == "cr:FileObject"}
        assert listed == {f"{n}/{f['path']}": f["sha256"] for n, t in m["tables"].items() for f in t["files"]}
    assert not list(store.building.iterdir()) if store.building.is_dir() else True
    assert not (out / layout.SIDE_STAGING).exists()


def positions_ok(coms: dict[str, dict], arts: dict[str, dict]) -> None:
    """(article_id, position) unique, 1..n per article; counts = current comments."""
    per: dict[str, list] = {}
    for c in coms.values():
        per.setdefault(c["article_id"], []).append(c)
    for a, cs in per.items():
        assert sorted(c["position"] for c in cs) == list(range(1, len(cs) + 1)), a
        current = [c for c in cs if not c["removed_at_source"]]
        assert max((c["position"] for c in current), default=0) == len(current)
        if a in arts:
            assert arts[a]["comment_count_extracted"] == len(current), a


def tree_digest(out: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(out.rglob("*")):
        if p.is_file() and not p.is_symlink() and "lock" not in p.name:
            h.update(p.relative_to(out).as_posix().encode() + p.read_bytes())
    return h.hexdigest()


def test_forget_author_by_name_everywhere(out):
    before_versions = [v.name for v in history.list_versions(out)]
    r = forget(out, author_names=[JANE])
    # current: a new version, Jane's comments gone (both sources: one id per source), the rest renumbered
    assert r.new_version and r.new_version not in before_versions
    cur = rows_by_id(out)
    assert set(cur["comments"]) == {"c2", "c3", "c6", "c8"}
    assert r.current == {"comments": 4}
    c = cur["comments"]
    assert (c["c2"]["position"], c["c3"]["position"], c["c6"]["position"]) == (1, 2, 1)
    assert c["c2"]["reply_to_name"] == "[author]" and c["c2"]["text"] == "@[author]: no"
    assert c["c2"]["parent_comment_id"] == "c1"  # an id, no name: the thread keeps its shape
    # ...and its derived fields describe the rows left: the reply to the erased comment heads its own thread
    assert c["c2"]["thread_root_id"] == "c2"
    for art in {c[x]["article_id"] for x in ("c2", "c3", "c6")}:  # the articles Jane commented on
        rows = [dict(r) for r in c.values() if r["article_id"] == art]
        thread_fields(rows)
        assert [(r["thread_root_id"], r["reply_count"]) for r in rows] == \
            [(c[r["comment_id"]]["thread_root_id"], c[r["comment_id"]]["reply_count"]) for r in rows]
    a = cur["articles"]
    assert (a["a1"]["comment_count_extracted"], a["a2"]["comment_count_extracted"],
            a["a3"]["comment_count_extracted"]) == (2, 0, 1)
    positions_ok(c, a)
    # every reader, on the stable links and on the version folder
    for name in schema.TABLES:
        got = every_reader(out / name, name)
        assert not any(row.get("author") == JANE for row in got)
        assert len(got) == len(cur[name])
    # kept versions rewritten too, and every one still matches its checksums
    for v in before_versions:
        old = rows_by_id(out, version=v)
        assert not any(x["author"] == JANE for x in old["comments"].values()), v
        positions_ok(old["comments"], old["articles"])
        for name in schema.TABLES:
            every_reader(out / "_versions" / v / name, name)
    assert set(r.kept) == set(before_versions)
    assert_sound(out)
    # still safe for a whole-folder glob: only the current version's part files are *.parquet
    cur_dir = reading.current_version(out).resolve()
    stray = [p for p in out.glob("**/*.parquet") if not p.resolve().is_relative_to(cur_dir)]
    assert stray == [] and list(cur_dir.glob("*/**/*.parquet"))
    # quarantine: Jane's quarantined comment gone, Bob's kept
    q = pq.read_table(layout.quarantine_file(out, "comments", "v1"))
    assert q.column("comment_id").to_pylist() == ["c10"]
    assert r.quarantine == {"comments": 1}
    # raw capture: the pages Jane commented on are gone whole, the others stay
    assert warc_uris(out / layout.raw_rel("v2")) == ["https://tribune.test/a4"] * 2
    assert r.raw == {"v2.warc.gz": 6}
    # the audit entry: ids and counts, never a name; the suppression list holds keyed hashes only
    m = manifest.read(reading.current_version(out))
    (entry,) = m["erasures"]
    assert set(entry["author_ids"]) == {aid("dawn", JANE), aid("tribune", JANE)}
    assert set(entry["comment_ids"]) == {"c1", "c4", "c5", "c7"}
    assert m["runs"][-1]["erasure"] == entry
    for v in versions.Store(out).versions.iterdir():
        for f in (manifest.NAME, layout.CARD, layout.CROISSANT):
            assert "Jane" not in (v / f).read_text(), (v.name, f)
    card = (reading.current_version(out) / layout.CARD).read_text()
    assert "`newsmill forget <output> --author NAME`" in card and "made by `newsmill forget`" in card
    assert "removing them at the source and republishing" not in card
    sup = layout.suppressed_file(out).read_text()
    assert "Jane" not in sup and aid("dawn", JANE) not in sup and "c1" not in json.loads(sup)["entries"]["comment_id"]
    # the versions listing shows the erasure as a version of its own
    listed = history.list_versions(out)
    assert listed[0].current and listed[0].name == r.new_version and len(listed) == len(before_versions) + 1


def test_forget_one_comment_by_id_renumbers_its_thread(out):
    r = forget(out, comment_ids=["c2"])
    cur = rows_by_id(out)
    assert "c2" not in cur["comments"] and {"c1", "c3", "c7"} <= set(cur["comments"])
    assert cur["comments"]["c3"]["position"] == 2 and cur["comments"]["c7"]["position"] == 3
    assert cur["articles"]["a1"]["comment_count_extracted"] == 2
    positions_ok(cur["comments"], cur["articles"])
    assert r.current == {"comments": 1}
    assert "c2" not in rows_by_id(out, version=1)["comments"]
    assert_sound(out)
    assert warc_uris(out / layout.raw_rel("v2")).count("https://dawn.test/a1") == 0
    assert warc_uris(out / layout.raw_rel("v2")).count("https://dawn.test/a2") == 2


def test_forget_article_and_author_id_and_file(out, tmp_path):
    f = tmp_path / "erase.txt"
    f.write_text(f"# request 7\narticle_id: a3\n\nauthor_id: {aid('tribune', 'Eve')}\n", encoding="utf-8")
    req = erasure.read_request_file(f)
    assert req.article_ids == {"a3"} and req.author_ids == {aid("tribune", "Eve")}
    r = erasure.forget(out, req, key=KEY, run_id="forget-f", keep_versions=30)
    cur = rows_by_id(out)
    assert "a3" not in cur["articles"] and not {"c5", "c6", "c8"} & set(cur["comments"])
    assert cur["articles"]["a4"]["comment_count_extracted"] == 0
    assert r.current == {"articles": 1, "comments": 3}
    for name in schema.TABLES:
        assert len(every_reader(out / name, name)) == len(cur[name])
    assert_sound(out)


def test_drop_mode_keeps_the_records_and_erases_the_name(out):
    before = rows_by_id(out)
    r = forget(out, author_names=[JANE], mode="drop")
    assert r.new_version and r.current == {"comment names": 4}
    for version in (None, *[v.name for v in history.list_versions(out)]):
        got = rows_by_id(out, version=version)
        for cid, c in got["comments"].items():
            if cid in ("c1", "c4", "c5", "c7"):
                assert c["author"] is None and c["author_id"] is None, (version, cid)
                assert c["text"] == before["comments"].get(cid, c)["text"]  # the record stays
        if "c2" in got["comments"]:
            assert got["comments"]["c2"]["reply_to_name"] == "[author]"
            assert got["comments"]["c2"]["text"] == "@[author]: no"
        positions_ok(got["comments"], got["articles"])
    cur = rows_by_id(out)
    assert set(cur["comments"]) == set(before["comments"]) and cur["articles"] == before["articles"]
    for name in schema.TABLES:
        rows = every_reader(out / name, name)
        assert not any(JANE in json.dumps(x, default=str) for x in rows)
    assert_sound(out)
    q = pq.read_table(layout.quarantine_file(out, "comments", "v1")).to_pylist()
    assert [x["author"] for x in q] == [None, "Bob"]
    assert warc_uris(out / layout.raw_rel("v2")) == ["https://tribune.test/a4"] * 2
    m = manifest.read(reading.current_version(out))
    assert m["erasures"][0]["unnamed_comment_ids"] == ["c1", "c4", "c5", "c7"] and JANE not in json.dumps(m)
    again = forget(out, author_names=[JANE], mode="drop", run_id="forget-2")
    assert (again.new_version, again.current, again.kept, again.quarantine, again.raw) == (None, {}, {}, {}, {})
    # later runs: the same rows come out without the name
    sup = erasure.Suppression.load(out, KEY)
    a, c = v1_rows()
    got, gone = erasure.erase_tables(tables(a, c), sup)
    assert got["comments"].column("author").to_pylist() == [None, "Bob", "Carl", None]
    assert gone.rows["comments"] == 0 and gone.rows["comment names"] == 2


def test_a_name_finds_rows_whose_names_were_pseudonymised(tmp_path):
    """--authors pseudonymize shows 'user-<author_id>': the name given is keyed into that id."""
    out = tmp_path / "output"
    a, c = v1_rows()
    for r in c:
        r["author"] = ids.author_label(r["author_id"])
    c[1]["reply_to_name"] = ids.author_label(aid("dawn", JANE))
    c[1]["text"] = f"@{c[1]['reply_to_name']}: no"
    publish.publish_run(tables(a, c), out, run_id="p1")
    r = forget(out, author_names=["  jane   DOE "])  # case and spacing as the ids ignore them
    got = rows_by_id(out)["comments"]
    assert set(got) == {"c2", "c3"} and r.current == {"comments": 2}
    assert got["c2"]["reply_to_name"] == "[author]" and got["c2"]["text"] == "@[author]: no"
    assert_sound(out)


def test_bad_request_file_names_the_line(tmp_path):
    f = tmp_path / "bad.txt"
    f.write_text("comment_id: c1\nwho knows\n", encoding="utf-8")
    with pytest.raises(erasure.ErasureError, match=r"bad.txt:2: expected"):
        erasure.read_request_file(f)


def test_dry_run_changes_nothing_and_a_second_forget_is_a_no_op(out):
    before = tree_digest(out)
    r = forget(out, author_names=[JANE], dry_run=True)
    assert r.dry_run and r.current == {"comments": 4} and r.quarantine == {"comments": 1} and r.raw
    assert tree_digest(out) == before and not layout.suppressed_file(out).exists()
    done = forget(out, author_names=[JANE])
    assert (r.current, r.kept, r.quarantine, r.raw, r.added) == \
        (done.current, done.kept, done.quarantine, done.raw, done.added)  # the dry run said what happens
    after = tree_digest(out)
    again = forget(out, author_names=[JANE], run_id="forget-2")
    assert (again.new_version, again.current, again.kept, again.quarantine, again.raw, again.added) == \
        (None, {}, {}, {}, {}, 0)
    assert tree_digest(out) == after


def test_later_publishes_keep_suppressed_rows_out_of_the_tables(out):
    """The pipeline filters by the list (tested end to end in tests/test_forget_cli.py); here: the list
    says which rows, by keyed hash, and erase_tables takes them out with their positions and counts."""
    forget(out, author_names=[JANE])
    sup = erasure.Suppression.load(out, KEY)
    a, c = v1_rows()
    got, gone = erasure.erase_tables(tables(a, c), sup)
    assert got["comments"].column("comment_id").to_pylist() == ["c2", "c3"]
    assert got["comments"].column("position").to_pylist() == [1, 2]
    assert got["articles"].column("comment_count_extracted").to_pylist() == [2]
    assert gone.rows == {"articles": 0, "comments": 2}
    with pytest.raises(erasure.ErasureError, match="another author key"):
        erasure.Suppression.load(out, b"another key, not the output's one")


def test_remote_output_is_refused_in_one_line(capsys):
    from newsmill import cli

    assert cli.main(["forget", "memory://bucket/out", "--comment-id", "c1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "remote output" in err[0] and "local output folders only" in err[0]


# --- crash safety ------------------------------------------------------------------------------------


FORGET_CHILD = """
import sys
from pathlib import Path
from newsmill.store import erasure
out, key = Path(sys.argv[1]), sys.argv[2].encode()
req = erasure.Request(author_names=sys.argv[3:])
print("ready", flush=True)
r = erasure.forget(out, req, key=key, run_id="forget-crashy", keep_versions=30)
print("done", r.new_version, flush=True)
"""


def _child(out: Path, env: dict) -> int:
    p = subprocess.run([sys.executable, "-c", FORGET_CHILD, str(out), KEY.decode(), JANE], cwd=REPO,
                       env={**os.environ, "PYTHONPATH": str(REPO), **env}, capture_output=True, text=True, timeout=120)
    return p.returncode


def _state(out: Path) -> dict:
    cur = rows_by_id(out)
    for name in schema.TABLES:  # every reader agrees with the library
        assert len(every_reader(out / name, name)) == len(cur[name])
    return {n: sorted(cur[n]) for n in schema.TABLES}


def test_forget_killed_at_every_step_is_finished_by_running_it_again(tmp_path):
    template = make_output(tmp_path / "template")
    before = _state(template)
    # the points a forget passes, from a traced run (not a hand-kept list)
    traced = tmp_path / "traced"
    shutil.copytree(template, traced, symlinks=True)
    trace = tmp_path / "trace"
    assert _child(traced, {"NEWSMILL_FAILPOINT_TRACE": str(trace)}) == 0
    after = _state(traced)
    hits = [line.split()[0] for line in trace.read_text().splitlines()]
    by_name: dict[str, list[str]] = {}
    for h in hits:
        by_name.setdefault(h.split(":")[0], []).append(h)
    points = sorted({h for hs in by_name.values() for h in (hs[0], hs[-1])}, key=hits.index)
    assert {"forget_locked:1", "forget_suppressed:1", "forget_built:1", "swapped:1", "forget_kept_swapped:1",
            "forget_quarantine:1", "forget_raw:1", "forget_done:1"} <= set(points), points
    final = {n: rows_by_id(traced, version=v.name) for v in history.list_versions(traced) for n in [v.name]}
    seen = []
    for i, point in enumerate(points):
        case = tmp_path / f"case{i}"
        shutil.copytree(template, case, symlinks=True)
        assert _child(case, {"NEWSMILL_FAILPOINT": point}) == -signal.SIGKILL, point
        got = _state(case)
        assert got in (before, after), f"killed at {point}: neither before nor after"
        for v in versions.Store(case).versions.iterdir():  # every version whole, checksums intact
            assert manifest.verify(v) == [], (point, v.name)
        seen.append(f"{point}={'after' if got == after else 'before'}")
        # running it again finishes the job: the same versions and rows as an uninterrupted forget
        assert _child(case, {}) == 0, point
        assert _state(case) == after, point
        assert_sound(case)
        kept = {v.name: rows_by_id(case, version=v.name) for v in history.list_versions(case)}
        assert len(kept) == len(final), point
        for v, rows in kept.items():
            assert not any(x["author"] == JANE for x in rows["comments"].values()), (point, v)
        q = pq.read_table(layout.quarantine_file(case, "comments", "v1"))
        assert q.column("comment_id").to_pylist() == ["c10"], point
        assert warc_uris(case / layout.raw_rel("v2")) == ["https://tribune.test/a4"] * 2, point
        shutil.rmtree(case)
    print(f"\n{len(points)} kill points: {seen}")


# --- captures of a page over time (newsmill.store.snapshots) --------------------------------------------


def test_a_forgotten_commenter_never_comes_back_through_later_captures(tmp_path):
    """Captures A then B of one thread (tests/store/test_snapshots.py): Bob is forgotten after A; B shows his
    comment again, edited (a new comment_id): neither as a current row nor as a removed one does it return,
    and positions and counts follow the rows that are there."""
    from newsmill import pipeline
    from tests.store.test_snapshots import A, B, KEY as SKEY, T1, T2, capture, settings

    out = tmp_path / "out"
    a = capture(tmp_path / "in-a", "day1.txt", A, T1)
    s = pipeline.run([str(a)], settings(out))
    assert s.exit_code == 0
    bob = {c["comment_id"] for c in reading.read_table("comments", out).to_pylist() if c["author"] == "Bob Roe"}
    r = erasure.forget(out, erasure.Request(author_names=["Bob Roe"]), key=SKEY, run_id="forget-bob", keep_versions=30)
    assert r.current == {"comments": 1}
    b = capture(tmp_path / "in-b", "day9.txt", B, T2)
    s = pipeline.run([str(b)], settings(out))
    assert s.exit_code == 0 and s.comments_suppressed == 1 and s.accounting_ok
    for again in (a, b):  # the older capture again, and the same bytes again (--full)
        st = dataclasses.replace(settings(out), incremental=False)
        assert pipeline.run([str(again)], st).exit_code == 0
    t = reading.read_tables(out)
    coms = {c["comment_id"]: c for c in t["comments"].to_pylist()}
    assert not any(c["author"] == "Bob Roe" for c in coms.values()) and not bob & set(coms)
    by = {c["author"]: c for c in coms.values()}
    assert {k: (v["position"], v["removed_at_source"]) for k, v in by.items()} == {
        "Alice Doe": (1, False), "Eve Moe": (2, False), "Carol Poe": (3, False), "Dan Foe": (4, True)}
    [article] = t["articles"].to_pylist()
    assert article["comment_count_extracted"] == 3
    for name in schema.TABLES:
        assert len(every_reader(out / name, name)) == t[name].num_rows
    assert_sound(out)
