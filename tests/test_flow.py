"""The Prefect flow and the CLI end to end, and the published data in every reader."""
from __future__ import annotations

import shutil
from datetime import datetime, timezone

import pytest

from tests.conftest import SEED

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def flow_output(tmp_path_factory, prefect_server):
    from newsmill.flow import newsmill_flow

    d = tmp_path_factory.mktemp("in")
    shutil.copy(SEED, d / "seed.txt")
    (d / "empty.txt").write_bytes(b"")
    out = tmp_path_factory.mktemp("out")
    state = newsmill_flow(paths=[str(d)], output_dir=str(out), batch_size=1, return_state=True)
    return state.result(), out, state.state_details.flow_run_id


def test_flow_publishes_and_accounts(flow_output):
    s, out, _ = flow_output
    assert (s["inputs"], s["articles_published"], s["comments_published"], s["rejected"]) == (2, 1, 33, 1)
    assert s["accounting_ok"] and s["exit_code"] == 0


def test_flow_ran_one_task_per_batch(flow_output, prefect_server):
    import asyncio

    from prefect.client.orchestration import get_client

    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    async def names():  # of this flow run's tasks: other tests run flows on the same server
        async with get_client() as client:
            runs = await client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_output[2]])))
            return [r.name for r in runs]

    task_names = asyncio.run(names())
    assert sum(n.startswith("extract-clean-batch") for n in task_names) == 2  # 2 pages, batch size 1
    assert sum(n.startswith("validate-publish") for n in task_names) == 1


def test_cli_run_prints_summary_and_paths(tmp_path, prefect_server, capsys):
    from newsmill.cli import main

    d = tmp_path / "in"
    d.mkdir()
    shutil.copy(SEED, d / "seed.txt")
    code = main(["run", str(d), "--output", str(tmp_path / "out")])
    printed = capsys.readouterr().out
    assert code == 0
    assert "1 pages read" in printed and "comments   published      33" in printed
    assert str(tmp_path / "out" / "reports") in printed and "summary.md" in printed


def test_critical_failure_fails_the_flow_run_and_exits_1(tmp_path, prefect_server, monkeypatch, capsys):
    """A run whose critical expectation failed is a Failed flow run in Prefect (what a schedule shows),
    and the CLI still gets the summary and exits 1."""
    from newsmill import ids
    from newsmill.cli import main
    from newsmill.flow import newsmill_flow

    monkeypatch.setattr(ids, "comment_id", lambda *a, **k: "same-id")  # duplicate keys: a critical failure
    d = tmp_path / "in"
    d.mkdir()
    shutil.copy(SEED, d / "seed.txt")
    state = newsmill_flow(paths=[str(d)], output_dir=str(tmp_path / "a"), workers=1, return_state=True)
    assert state.is_failed()
    assert "critical expectation failed" in state.message and "comments" in state.message
    summary = state.result(raise_on_failure=False)
    assert summary["exit_code"] == 1 and summary["comments_quarantined"] == 33
    assert main(["run", str(d), "--output", str(tmp_path / "b"), "--workers", "1"]) == 1
    assert "a CRITICAL expectation failed" in capsys.readouterr().out


def test_unreachable_dask_scheduler_is_a_clear_error(tmp_path, prefect_server, capsys):
    import socket

    from newsmill.cli import main

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    d = tmp_path / "in"
    d.mkdir()
    shutil.copy(SEED, d / "seed.txt")
    code = main(["run", str(d), "--output", str(tmp_path / "out"), "--dask", f"tcp://127.0.0.1:{port}"])
    err = capsys.readouterr().err
    assert code == 2
    assert f"no Dask scheduler answers at tcp://127.0.0.1:{port}" in err and "Traceback" not in err
    assert not (tmp_path / "out" / "articles").exists()


FIRST = datetime(2012, 2, 8, 12, 11, tzinfo=timezone.utc)


def test_pandas_reads_utc(flow_output):
    import pandas as pd

    _, out, _ = flow_output
    c = pd.read_parquet(out / "comments").sort_values("position")
    assert str(c["posted_at"].dtype) == "datetime64[us, UTC]"
    assert c["posted_at"].iloc[0] == pd.Timestamp(FIRST)
    a = pd.read_parquet(out / "articles")
    assert a["title"].iloc[0].startswith("Working together")
    assert list(a["authors"].iloc[0]) == [] and list(a["caption_credits"].iloc[0]) == ["AFP"]


def test_pyarrow_reads_utc(flow_output):
    import pyarrow as pa
    import pyarrow.dataset as ds

    _, out, _ = flow_output
    t = ds.dataset(out / "comments", format="parquet", partitioning="hive").to_table()
    assert t.schema.field("posted_at").type == pa.timestamp("us", tz="UTC")
    assert min(t["posted_at"].to_pylist()) == FIRST
    assert t.schema.field("text").metadata[b"description"]


def test_duckdb_reads_utc(flow_output):
    duckdb = pytest.importorskip("duckdb")
    _, out, _ = flow_output
    con = duckdb.connect()
    con.execute("SET TimeZone = 'Asia/Karachi'")
    rel = con.sql(f"""
        SELECT c.position, c.posted_at, a.title
        FROM read_parquet('{out}/comments/**/*.parquet', hive_partitioning = 1) c
        JOIN read_parquet('{out}/articles/**/*.parquet', hive_partitioning = 1) a USING (article_id)
        ORDER BY c.position""")
    types = dict(zip(rel.columns, [str(t) for t in rel.types]))
    rows = rel.fetchall()
    assert types["posted_at"] == "TIMESTAMP WITH TIME ZONE"
    assert len(rows) == 33 and rows[0][1] == FIRST  # same instant, shown in Karachi time
    con.close()


def test_polars_reads_utc(flow_output):
    pl = pytest.importorskip("polars")
    _, out, _ = flow_output
    df = pl.scan_parquet(str(out / "comments" / "**" / "*.parquet"), hive_partitioning=True).collect()
    assert df.schema["posted_at"] == pl.Datetime("us", "UTC")
    assert df.sort("position")["posted_at"][0] == FIRST
    assert df.height == 33
