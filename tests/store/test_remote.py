"""Output to an fsspec URL (issue #5): S3 against moto's server on 127.0.0.1, and memory://.

The dataset guarantees of a local output must hold remotely: readers see the committed
version or the next one (a pointer object switches them), the same input twice never
duplicates a row, a fresh machine (empty mirror) upserts into what the remote holds,
a writer that lost a race commits nothing, and storage errors are one clear line.
No test leaves 127.0.0.1.
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import pyarrow as pa
import pytest

import newsmill
from newsmill import cli, pipeline
from newsmill.config import HistorySettings, Settings
from newsmill.store import objstore, reading, remote
from tests.conftest import REPO, SAMPLES
from tests.conftest import budget_page

pytest.importorskip("s3fs")
moto_server = pytest.importorskip("moto.server")

KEY = b"remote-test-key-0123456789abcdef"
VOLATILE = ("extracted_at",)  # differs between two runs of the same input


@pytest.fixture(scope="module")
def moto():
    """moto's S3 server in a thread on a free loopback port, for this module."""
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def _offline_aws(monkeypatch, tmp_path) -> None:
    """No real AWS: no profile, no config files, no instance metadata (a non-loopback address)."""
    for var in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_ENDPOINT_URL",
                "AWS_ENDPOINT_URL_S3", "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                "AWS_WEB_IDENTITY_TOKEN_FILE", "NEWSMILL_AUTHOR_KEY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("NEWSMILL_CACHE", str(tmp_path / "cache"))


@pytest.fixture()
def s3(moto, monkeypatch, tmp_path) -> str:
    """A new bucket on the moto server, credentials and endpoint in the environment; returns its dataset URL."""
    _offline_aws(monkeypatch, tmp_path)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto)
    bucket = f"nm-{uuid.uuid4().hex[:12]}"
    fs, _ = remote.filesystem(f"s3://{bucket}/x")
    fs.mkdir(bucket)
    return f"s3://{bucket}/news"


@pytest.fixture()
def mem(monkeypatch, tmp_path) -> str:
    monkeypatch.setenv("NEWSMILL_CACHE", str(tmp_path / "cache"))
    url = f"memory://nm-{uuid.uuid4().hex[:12]}/news"
    yield url
    fs, root = remote.filesystem(url)
    if fs.exists(root):
        fs.rm(root, recursive=True)


def settings(out, **kw) -> Settings:
    return Settings(output_dir=out, batch_size=2, author_key=KEY, **kw)


def rows(table: pa.Table, key: str) -> list[dict]:
    return sorted(({k: v for k, v in r.items() if k not in VOLATILE} for r in table.to_pylist()), key=lambda r: r[key])


def keys(table: pa.Table, key: str) -> list[str]:
    return sorted(table.column(key).to_pylist())


def pointer(url: str) -> dict | None:
    fs, root = remote.filesystem(url)
    return remote.read_pointer(remote.objects(fs, root, url))[0]


def remote_files(url: str) -> list[str]:
    fs, root = remote.filesystem(url)
    fs.invalidate_cache()
    return sorted(p[len(root) + 1:] for p in fs.find(root))


def grown_page_dir(tmp_path: Path, n: int) -> Path:
    d = tmp_path / f"in{n}"
    d.mkdir(exist_ok=True)
    (d / "budget.txt").write_text(budget_page(n), encoding="utf-8")
    return d


# --- (1) publish, read back with every reader ------------------------------------------------

@pytest.mark.slow
def test_publish_samples_to_s3_and_read_back_with_every_reader(s3, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("NEWSMILL_AUTHOR_KEY", KEY.decode())
    assert cli.main(["run", str(SAMPLES), "--output", s3, "--no-prefect", "--no-progress"]) == 0
    printed = capsys.readouterr().out
    ptr = pointer(s3)
    version_url = f"{s3}/_versions/{ptr['version_dir']}"
    assert f"committed:  version {ptr['version_dir']} to {s3}" in printed
    assert f"{version_url}/comments" in printed and f"{s3}/reports/" in printed
    assert reading.current_version_url(s3) == version_url

    local = tmp_path / "local"
    assert cli.main(["run", str(SAMPLES), "--output", str(local), "--no-prefect", "--no-progress"]) == 0
    want = reading.read_tables(local)
    got = newsmill.read_tables(s3)
    for name, key in (("articles", "article_id"), ("comments", "comment_id")):
        assert got[name].schema == want[name].schema
        assert rows(got[name], key) == rows(want[name], key)
    assert got["comments"].schema.field("posted_at").type == pa.timestamp("us", tz="UTC")
    n_comments = want["comments"].num_rows
    comment_ids = keys(want["comments"], "comment_id")

    # side files under the same relative paths as in a local output
    files = remote_files(s3)
    run_id = ptr["run_id"]
    assert f"reports/{run_id}/summary.md" in files and f"reports/{run_id}/data_docs/index.html" in files
    assert "reports/LATEST" in files and "_lock.json" not in files

    import pandas as pd

    df = pd.read_parquet(f"{version_url}/comments")
    assert sorted(df["comment_id"]) == comment_ids and str(df["posted_at"].dtype) == "datetime64[us, UTC]"

    import pyarrow.dataset as ds
    from pyarrow.fs import FSSpecHandler, PyFileSystem

    fs, root = remote.filesystem(s3)
    t = ds.dataset(f"{root}/_versions/{ptr['version_dir']}/comments", filesystem=PyFileSystem(FSSpecHandler(fs)),
                   format="parquet", partitioning="hive").to_table()
    assert keys(t, "comment_id") == comment_ids and t.schema.field("posted_at").type == pa.timestamp("us", tz="UTC")

    import duckdb

    con = duckdb.connect()
    con.register_filesystem(fs)
    rel = con.sql(f"SELECT comment_id, posted_at FROM read_parquet('{version_url}/comments/**/*.parquet', "
                  f"hive_partitioning = 1) ORDER BY comment_id")
    assert rel.types[1] == "TIMESTAMP WITH TIME ZONE"
    assert [r[0] for r in rel.fetchall()] == comment_ids

    import polars as pl

    opts = {"aws_endpoint_url": os.environ["AWS_ENDPOINT_URL"], "aws_allow_http": "true", "aws_region": "us-east-1",
            "aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
    p = pl.read_parquet(f"{version_url}/comments/**/*.parquet", hive_partitioning=True, storage_options=opts)
    assert sorted(p["comment_id"].to_list()) == comment_ids and p.height == n_comments
    assert p.schema["posted_at"] == pl.Datetime("us", "UTC")


# --- (2) idempotent, (3) a fresh mirror ----------------------------------------------------

@pytest.mark.slow
def test_same_input_twice_then_new_comments_then_a_fresh_mirror(s3, tmp_path):
    first = pipeline.run([str(grown_page_dir(tmp_path, 2))], settings(s3))
    assert (first.articles_published, first.comments_published) == (1, 2)
    before = newsmill.read_tables(s3)

    again = pipeline.run([str(grown_page_dir(tmp_path, 2))], settings(s3))  # same bytes: skipped by the ledger
    assert again.unchanged_inputs == 1 and again.remote["version"] == 2
    assert again.remote["uploaded"] == 0 and again.remote["copied"] == 2  # carried partitions: copies in the store
    same = newsmill.read_tables(s3)
    assert rows(same["comments"], "comment_id") == rows(before["comments"], "comment_id")

    full = pipeline.run([str(grown_page_dir(tmp_path, 2))], settings(s3).with_run_options(full=True))
    assert {p["table"]: (p["inserted"], p["updated"]) for p in full.publish} == {"articles": (0, 0), "comments": (0, 0)}
    assert keys(newsmill.read_table("comments", s3), "comment_id") == keys(before["comments"], "comment_id")

    grown = pipeline.run([str(grown_page_dir(tmp_path, 3))],  # the thread grew by one comment
                         settings(s3, history=HistorySettings(keep_versions=2)))
    stats = {p["table"]: p for p in grown.publish}
    # the old comments are seen again on the new capture (last_seen_at moves), otherwise kept as they were
    assert (stats["comments"]["inserted"], stats["comments"]["updated"], stats["comments"]["unchanged"]) == (1, 2, 0)
    after = newsmill.read_table("comments", s3)
    assert after.num_rows == 3 and len(set(after.column("comment_id").to_pylist())) == 3
    old = {r["comment_id"]: r for r in before["comments"].to_pylist()}

    def kept(r: dict) -> dict:
        return {k: v for k, v in r.items() if k != "last_seen_at"}

    assert all(kept(r) == kept(old[r["comment_id"]]) for r in after.to_pylist() if r["comment_id"] in old)

    # [history] keep_versions = 2: the committed version and the one before; older ones are gone
    versions = sorted({f.split("/")[1] for f in remote_files(s3) if f.startswith("_versions/")})
    assert versions == sorted([full.remote["version_dir"], grown.remote["version_dir"]])

    # (3) another machine: an empty mirror pulls the committed version before planning
    shutil.rmtree(grown.remote["mirror"])
    fresh = pipeline.run([str(grown_page_dir(tmp_path, 3))], settings(s3))
    assert fresh.unchanged_inputs == 0  # the ledger stays with the mirror: a new machine reprocesses
    assert {p["table"]: p["inserted"] for p in fresh.publish} == {"articles": 0, "comments": 0}
    assert rows(newsmill.read_table("comments", s3), "comment_id") == rows(after, "comment_id")
    assert fresh.remote["version"] == grown.remote["version"] + 1


# --- (4) atomicity: killed between upload and commit -------------------------------------------

def _cli_child(args: list[str], env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "newsmill.cli", *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=300)


@pytest.mark.slow
@pytest.mark.parametrize("point", ["remote_uploaded", "remote_committed"])
def test_killed_while_pushing_readers_see_before_or_after_and_next_run_completes(s3, tmp_path, point):
    pipeline.run([str(grown_page_dir(tmp_path, 2))], settings(s3))
    before = newsmill.read_tables(s3)
    committed = pointer(s3)
    env = {**os.environ, "PYTHONPATH": str(REPO), "NEWSMILL_AUTHOR_KEY": KEY.decode(), "NEWSMILL_FAILPOINT": point}
    killed = _cli_child(["run", str(grown_page_dir(tmp_path, 3)), "-o", s3, "--no-prefect", "--no-progress"], env)
    assert killed.returncode == -9, killed.stderr[-2000:]

    now = newsmill.read_tables(s3)
    if point == "remote_committed":  # killed after the pointer moved: the new version, complete
        assert pointer(s3)["version"] == committed["version"] + 1 and now["comments"].num_rows == 3
    else:
        assert pointer(s3) == committed  # readers still see the old version, whatever was uploaded
        assert rows(now["comments"], "comment_id") == rows(before["comments"], "comment_id")

    env.pop("NEWSMILL_FAILPOINT")
    done = _cli_child(["run", str(grown_page_dir(tmp_path, 3)), "-o", s3, "--no-prefect", "--no-progress"], env)
    assert done.returncode == 0, done.stderr[-2000:]
    final = newsmill.read_tables(s3)
    assert final["comments"].num_rows == 3 and len(set(final["comments"].column("comment_id").to_pylist())) == 3
    ptr = pointer(s3)
    listed = {f.split("/")[1] for f in remote_files(s3) if f.startswith("_versions/")}
    # no orphan left: what is kept is committed versions (the [history] policy keeps them all here)
    assert ptr["version_dir"] in listed and listed <= {ptr["version_dir"], ptr["previous"], committed["version_dir"]}
    assert "_lock.json" not in remote_files(s3)  # the dead writer's lease was taken over, then released


# --- (5) a concurrent writer -------------------------------------------------------------------

@pytest.mark.slow
def test_writer_whose_base_moved_commits_nothing_then_reruns_cleanly(s3, tmp_path, monkeypatch, capsys):
    pipeline.run([str(grown_page_dir(tmp_path, 2))], settings(s3))
    other = settings(s3, output=_mirror(tmp_path / "machine-b"))
    real_push, raced, mine = remote.push, [], []

    def push_after_another_writer(t, ctx):  # machine B commits while this run is between pull and push
        if not mine:
            mine.append(ctx.run_id)
            raced.append(pipeline.run([str(SAMPLES / "000_a55870ac9fdb11bd.txt")], other))
        return real_push(t, ctx)

    monkeypatch.setattr(remote, "push", push_after_another_writer)
    monkeypatch.setenv("NEWSMILL_AUTHOR_KEY", KEY.decode())
    code = cli.main(["run", str(grown_page_dir(tmp_path, 3)), "-o", s3, "--no-prefect", "--no-progress"])
    err = capsys.readouterr().err
    assert code == cli.EXIT_REMOTE and "another writer committed" in err and "Traceback" not in err
    ptr = pointer(s3)
    assert ptr["run_id"] == raced[0].run_id  # B's commit stands, ours is not there
    files = remote_files(s3)
    assert not [f for f in files if mine[0] in f]  # no version, side file or report of the refused run
    assert sorted({f.split("/")[1] for f in files if f.startswith("_versions/")}) == sorted(
        {ptr["version_dir"], ptr["previous"]})
    assert newsmill.read_table("comments", s3).num_rows == 2 + raced[0].comments_published

    monkeypatch.setattr(remote, "push", real_push)
    assert cli.main(["run", str(grown_page_dir(tmp_path, 3)), "-o", s3, "--no-prefect", "--no-progress"]) == 0
    final = newsmill.read_tables(s3)
    assert final["articles"].num_rows == 2 and final["comments"].num_rows == 3 + raced[0].comments_published


@pytest.mark.slow
def test_commit_refused_when_the_pointer_changes_during_the_upload(s3, tmp_path, monkeypatch):
    """A writer that ignored the lease (or a store without conditional create): the pointer's
    compare-and-swap still refuses the commit, and the run's uploads are removed."""
    pipeline.run([str(grown_page_dir(tmp_path, 2))], settings(s3))
    real_upload, seen = remote._upload_version, []

    def upload_then_rogue_commit(obj, cur, m, raw, ptr, lease):
        out = real_upload(obj, cur, m, raw, ptr, lease)
        seen.append(cur.name)
        got = obj.read(remote.POINTER)
        obj.replace(remote.POINTER, json.dumps({**ptr, "committed_at": "rogue"}).encode(), got[1])
        return out

    monkeypatch.setattr(remote, "_upload_version", upload_then_rogue_commit)
    with pytest.raises(remote.RemoteConflict, match="while this run uploaded"):
        pipeline.run([str(grown_page_dir(tmp_path, 3))], settings(s3))
    assert pointer(s3)["committed_at"] == "rogue"
    assert not [f for f in remote_files(s3) if seen[0] in f]  # the uploaded version was removed
    assert newsmill.read_table("comments", s3).num_rows == 2


def _mirror(path: Path):
    from newsmill.config import OutputSettings

    return OutputSettings(mirror=str(path))


def test_s3_pointer_write_is_a_server_side_compare_and_swap(s3):
    fs, root = remote.filesystem(s3)
    obj = remote.objects(fs, root, s3)
    assert obj.atomic
    token = obj.create("probe.json", b"1")
    with pytest.raises(FileExistsError):
        obj.create("probe.json", b"2")
    newer = obj.replace("probe.json", b"3", token)
    with pytest.raises(remote.Conflict):  # a writer still holding the first ETag loses
        obj.replace("probe.json", b"4", token)
    assert obj.read("probe.json") == (b"3", newer)


def test_a_held_lease_is_waited_for_and_an_expired_one_taken_over(mem):
    from datetime import datetime, timedelta, timezone

    fs, root = remote.filesystem(mem)
    obj = remote.objects(fs, root, mem)
    held = {"run_id": "other-run", "pid": 1, "host": "elsewhere",
            "expires_at": (datetime.now(timezone.utc) + timedelta(minutes=5)).isoformat()}
    obj.create(remote.LOCK, json.dumps(held).encode())
    with pytest.raises(remote.RemoteLockTimeout, match="other-run"):
        with objstore.Lease(obj, remote.LOCK, "me", lease=60, timeout=0.3, poll=0.05):
            pass
    expired = {**held, "expires_at": (datetime.now(timezone.utc) - timedelta(seconds=1)).isoformat()}
    obj.replace(remote.LOCK, json.dumps(expired).encode(), obj.read(remote.LOCK)[1])
    with objstore.Lease(obj, remote.LOCK, "me", lease=60, timeout=0.3, poll=0.05):
        assert json.loads(obj.read(remote.LOCK)[0])["run_id"] == "me"
    assert obj.read(remote.LOCK) is None  # released


def test_fetch_to_a_remote_output_uploads_the_raw_archive(mem, tmp_path, monkeypatch, capsys):
    project = tmp_path / "newsmill.toml"
    project.write_text(f'[newsmill]\noutput_dir = "{mem}"\n[[sources]]\nkind = "urls"\n'
                       f'urls = ["http://127.0.0.1:{_free_port()}/a-page"]\n[fetch]\nretries = 0\ntimeout = 2\nallow_private_addresses = true\n',
                       encoding="utf-8")
    assert cli.main(["fetch", "--config", str(project)]) == 0
    out = capsys.readouterr().out
    assert "rejected            1   (connect_error: 1)" in out
    raw = [f for f in remote_files(mem) if f.startswith("raw/") and f.endswith(".warc.gz")]
    assert len(raw) == 1 and f"uploaded to:  {mem}/{raw[0]}" in out


def test_a_server_ignoring_conditional_writes_is_reported(mem, caplog):
    class IgnoresConditions(objstore.Objects):  # an S3-compatible server that drops If-None-Match
        atomic = True

        def create(self, rel, data):
            self.fs.pipe_file(self.key(rel), data)
            return "etag"

    fs, root = remote.filesystem(mem)
    with objstore.Lease(IgnoresConditions(fs, root, mem), remote.LOCK, "me", lease=60, timeout=1):
        pass
    assert "ignores conditional writes" in caplog.text


@pytest.mark.parametrize("value, expected", [("s3://bucket/news", "s3://bucket/news"), ("memory://x", "memory://x"),
                                             ("output", Path("output")), ("file:///data/out", Path("/data/out")),
                                             ("/data/out", Path("/data/out"))])
def test_output_location_keeps_urls_as_strings(value, expected):
    from newsmill.config import output_location

    assert output_location(value) == expected  # Path("s3://b") would be "s3:/b"


def test_output_table_is_checked(tmp_path):
    from newsmill.config import ConfigError, load_settings

    project = tmp_path / "newsmill.toml"
    project.write_text('[output]\nmirrors = "x"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="unknown setting.*mirrors"):
        load_settings(project, env={})
    project.write_text('[output]\nlease = 0\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="lease"):
        load_settings(project, env={})
    project.write_text('[newsmill]\noutput_dir = "s3://b/news/"\n[output]\nstorage_options = { anon = false }\n',
                       encoding="utf-8")
    s = load_settings(project, env={})
    assert s.output_dir == "s3://b/news/" and s.output.storage_options == {"anon": False}
    assert "anon" not in repr(s)  # storage options may hold secrets


# --- (6) errors: one clear line, non-zero exit, no traceback -----------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run_cli(capsys, output: str) -> tuple[int, str]:
    code = cli.main(["run", str(SAMPLES / "000_a55870ac9fdb11bd.txt"), "-o", output, "--no-prefect", "--no-progress"])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, err


def test_missing_credentials(moto, monkeypatch, tmp_path, capsys):
    _offline_aws(monkeypatch, tmp_path)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto)
    monkeypatch.setenv("NEWSMILL_AUTHOR_KEY", KEY.decode())
    code, err = _run_cli(capsys, "s3://some-bucket/news")
    assert code == cli.EXIT_REMOTE and "no credentials found" in err


def test_unreachable_endpoint_fails_fast(monkeypatch, tmp_path, capsys):
    _offline_aws(monkeypatch, tmp_path)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{_free_port()}")  # nothing listens there
    monkeypatch.setenv("NEWSMILL_AUTHOR_KEY", KEY.decode())
    code, err = _run_cli(capsys, "s3://some-bucket/news")
    assert code == cli.EXIT_REMOTE and "cannot be reached" in err
    assert not list((tmp_path / "cache").rglob("*.parquet"))  # refused before any input was processed


def test_missing_bucket(s3, monkeypatch, capsys):
    monkeypatch.setenv("NEWSMILL_AUTHOR_KEY", KEY.decode())
    code, err = _run_cli(capsys, f"s3://no-such-bucket-{uuid.uuid4().hex[:8]}/news")
    assert code == cli.EXIT_REMOTE and "bucket does not exist" in err


@pytest.mark.parametrize("url, message", [("nosuchproto://bucket/news", "not a usable filesystem URL"),
                                          ("s3://", "give a bucket")])
def test_bad_url_is_a_configuration_error(url, message, monkeypatch, tmp_path, capsys):
    _offline_aws(monkeypatch, tmp_path)
    monkeypatch.setenv("NEWSMILL_AUTHOR_KEY", KEY.decode())
    code, err = _run_cli(capsys, url)
    assert code == 2 and message in err


def test_remote_output_requires_the_author_key(mem, monkeypatch, capsys):
    monkeypatch.delenv("NEWSMILL_AUTHOR_KEY", raising=False)
    code, err = _run_cli(capsys, mem)
    assert code == 2 and "needs NEWSMILL_AUTHOR_KEY" in err
    assert pointer(mem) is None


def test_another_key_or_authors_mode_is_refused_before_any_input_is_read(mem, tmp_path, monkeypatch):
    pipeline.run([str(grown_page_dir(tmp_path, 2))], settings(mem))
    other_machine = {"output": _mirror(tmp_path / "b")}
    with pytest.raises(remote.author_key.AuthorKeyError, match="differs from the key"):
        pipeline.run([str(grown_page_dir(tmp_path, 3))],
                     Settings(output_dir=mem, author_key=b"another-key-0123456789abcdef", **other_machine))
    with pytest.raises(remote.author_key.AuthorsModeError, match="authors = 'keep'"):
        pipeline.run([str(grown_page_dir(tmp_path, 3))], settings(mem, authors="drop", **other_machine))
    assert newsmill.read_table("comments", mem).num_rows == 2


# --- (7) memory:// through the same code ---------------------------------------------------

def test_memory_url_end_to_end_through_the_cli(mem, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("NEWSMILL_AUTHOR_KEY", KEY.decode())
    project = tmp_path / "newsmill.toml"
    project.write_text(f'[newsmill]\noutput_dir = "{mem}"\n[output]\nmirror = "work/mirror"\n', encoding="utf-8")
    args = ["run", str(grown_page_dir(tmp_path, 2)), "--config", str(project), "--no-prefect", "--no-progress"]
    assert cli.main(args) == 0
    assert f"mirror:     {tmp_path / 'work' / 'mirror'}" in capsys.readouterr().out
    assert (tmp_path / "work" / "mirror" / "current").is_symlink()
    assert newsmill.read_table("comments", mem).num_rows == 2
    args[1] = str(grown_page_dir(tmp_path, 3))
    assert cli.main(args) == 0
    tables = newsmill.read_tables(mem)
    assert (tables["articles"].num_rows, tables["comments"].num_rows) == (1, 3)


def test_the_card_and_croissant_json_travel_with_their_version_both_ways(mem, tmp_path):
    first = pipeline.run([str(grown_page_dir(tmp_path, 2))], settings(mem))
    shutil.rmtree(first.remote["mirror"])  # another machine: an empty mirror pulls the committed version
    fresh = pipeline.run([str(grown_page_dir(tmp_path, 3))], settings(mem))
    pulled = Path(fresh.remote["mirror"]) / "_versions" / first.remote["version_dir"]
    fs, root = remote.filesystem(mem)
    for version in (first.remote["version_dir"], fresh.remote["version_dir"]):
        for doc in ("README.md", "croissant.json"):
            assert f"_versions/{version}/{doc}" in remote_files(mem)
    for doc in ("README.md", "croissant.json"):
        assert (pulled / doc).read_bytes() == fs.cat_file(f"{root}/_versions/{first.remote['version_dir']}/{doc}")


def test_empty_remote_reads_as_empty_tables_and_resets_a_stale_mirror(mem, tmp_path):
    assert newsmill.read_table("comments", mem).num_rows == 0
    first = pipeline.run([str(grown_page_dir(tmp_path, 2))], settings(mem))
    fs, root = remote.filesystem(mem)
    fs.rm(root, recursive=True)  # the remote dataset was deleted: the mirror's version is not there any more
    again = pipeline.run([str(grown_page_dir(tmp_path, 2))], settings(mem))
    assert again.unchanged_inputs == 0 and again.articles_published == 1  # reprocessed, not skipped
    assert again.remote["version"] == 1 and first.remote["mirror"] == again.remote["mirror"]
    assert newsmill.read_table("comments", mem).num_rows == 2


def test_a_reader_whose_version_was_collected_meanwhile_reads_the_new_one(mem, tmp_path, monkeypatch):
    pipeline.run([str(grown_page_dir(tmp_path, 2))], settings(mem))
    real, calls = reading._read_version, []

    def two_commits_in_between(obj, ptr, names):  # the version this reader resolved is deleted under it
        if not calls:
            calls.append(ptr["version_dir"])
            two = settings(mem, history=HistorySettings(keep_versions=2))
            pipeline.run([str(grown_page_dir(tmp_path, 3))], two)
            pipeline.run([str(SAMPLES / "000_a55870ac9fdb11bd.txt")], two)
        return real(obj, ptr, names)

    monkeypatch.setattr(reading, "_read_version", two_commits_in_between)
    tables = newsmill.read_tables(mem)
    assert not [f for f in remote_files(mem) if calls[0] in f]  # the version first resolved is gone
    monkeypatch.setattr(reading, "_read_version", real)
    now = newsmill.read_tables(mem)
    assert tables["articles"].num_rows == 2
    assert {n: rows(t, t.column_names[0]) for n, t in tables.items()} == {
        n: rows(t, t.column_names[0]) for n, t in now.items()}


@pytest.mark.slow
def test_prefect_flow_publishes_to_a_remote_url(mem, tmp_path, monkeypatch, prefect_server):
    from newsmill.flow import newsmill_flow

    monkeypatch.setenv("NEWSMILL_AUTHOR_KEY", KEY.decode())
    summary = newsmill_flow(paths=[str(grown_page_dir(tmp_path, 2))], output_dir=mem, batch_size=1)
    assert summary["remote"]["version"] == 1 and summary["exit_code"] == 0
    assert newsmill.read_table("comments", mem).num_rows == 2

    def refused(*a, **kw):
        raise remote.RemoteConflict("another writer committed (test)")

    monkeypatch.setattr(remote, "_upload_version", refused)  # the CLI catches RemoteError from the flow, too
    with pytest.raises(remote.RemoteConflict, match="another writer"):
        newsmill_flow(paths=[str(grown_page_dir(tmp_path, 3))], output_dir=mem, batch_size=1)
    assert newsmill.read_table("comments", mem).num_rows == 2
