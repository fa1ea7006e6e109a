"""Batches on several processes give the same dataset as one process: local worker processes
(flow and plain pipeline), a local Dask cluster of 2 workers ([dask] workers) and an existing
cluster by address."""
from __future__ import annotations

import gzip
import shutil

import pytest

from newsmill.store import layout, reading
from tests.conftest import SAMPLES, SEED
from tests.conftest import budget_page

pytestmark = pytest.mark.slow

IGNORED = ("extracted_at", "pipeline_version")  # per run; everything else must be equal


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    """Six batches of one page: three samples, a growing thread, an empty page, and a gzipped copy of the
    seed placed last, so that 'which copy is the duplicate' must follow the plan, not the finishing order."""
    d = tmp_path_factory.mktemp("pages")
    for p in sorted(SAMPLES.iterdir()):
        shutil.copy(p, d / p.name)
    (d / "budget.txt").write_text(budget_page(3), encoding="utf-8")
    (d / "empty.txt").write_bytes(b"")
    (d / "zz-seed-copy.txt.gz").write_bytes(gzip.compress(SEED.read_bytes()))
    return d


def rows(out, table: str) -> list[dict]:
    key = "article_id" if table == "articles" else "comment_id"
    got = [{k: v for k, v in r.items() if k not in IGNORED} for r in reading.read_table(table, out).to_pylist()]
    return sorted(got, key=lambda r: r[key])


def rejects(summary: dict) -> list[tuple]:
    import pyarrow.parquet as pq
    from pathlib import Path

    t = pq.read_table(layout.quarantine_file(summary["output_dir"], "rejects", summary["run_id"]))
    return sorted((r["input_uri"], r["reason"], r["input_sha256"]) for r in t.to_pylist())


def task_runs_of(flow_run_name_or_id) -> list:
    import asyncio

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    async def read():
        async with get_client() as client:
            return await client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_name_or_id])))

    return asyncio.run(read())


def test_dask_runs_give_the_same_dataset(pages, tmp_path, prefect_server, monkeypatch):
    from distributed import LocalCluster
    from prefect.client.schemas.objects import StateType

    from newsmill.flow import newsmill_flow

    monkeypatch.setenv("NEWSMILL_AUTHOR_KEY", "k" * 32)  # comparable ids across the outputs
    monkeypatch.chdir(tmp_path)
    base = newsmill_flow(paths=[str(pages)], output_dir=str(tmp_path / "single"), batch_size=1, workers=1)
    assert base["inputs"] == 6 and base["articles_published"] == 4 and base["accounting_ok"]
    assert base["reject_reasons"] == {"duplicate": 1, "empty": 1}

    state = newsmill_flow(paths=[str(pages)], output_dir=str(tmp_path / "local2"), batch_size=1, workers=2,
                          return_state=True)
    on_processes = state.result()
    assert on_processes["accounting_ok"] and on_processes["exit_code"] == 0
    runs = [r for r in task_runs_of(state.state_details.flow_run_id) if r.name.startswith("extract-clean-batch")]
    assert len(runs) == 6 and all(r.state_type == StateType.COMPLETED for r in runs)

    monkeypatch.setenv("NEWSMILL_DASK_WORKERS", "2")  # [dask] workers = 2: a local Dask cluster
    state = newsmill_flow(paths=[str(pages)], output_dir=str(tmp_path / "dask2"), batch_size=1, return_state=True)
    monkeypatch.delenv("NEWSMILL_DASK_WORKERS")
    on_dask = state.result()
    assert on_dask["accounting_ok"] and on_dask["exit_code"] == 0
    # a task run per batch, in the flow's process: Dask workers run plain functions and never talk to Prefect
    runs = [r for r in task_runs_of(state.state_details.flow_run_id) if r.name.startswith("extract-clean-batch")]
    assert len(runs) == 6 and all(r.state_type == StateType.COMPLETED for r in runs)

    with LocalCluster(n_workers=2, processes=True, threads_per_worker=1, host="127.0.0.1",
                      dashboard_address=None) as cluster:
        joined = newsmill_flow(paths=[str(pages)], output_dir=str(tmp_path / "existing"), batch_size=1,
                               dask_address=cluster.scheduler_address)
    assert joined["accounting_ok"]

    for table in ("articles", "comments"):
        expected = rows(tmp_path / "single", table)
        assert len(expected) > 0
        for other in ("local2", "dask2", "existing"):
            assert rows(tmp_path / other, table) == expected, (table, other)
    assert rejects(on_processes) == rejects(on_dask) == rejects(joined) == rejects(base)
    assert any(r[0].endswith("zz-seed-copy.txt.gz") and r[1] == "duplicate" for r in rejects(on_dask))


def test_worker_processes_give_the_same_files(pages, tmp_path):
    """Without Prefect: 1 process and 2 give the same rows and rejects, and the same part files
    holding the same keys in the same order, whatever order the batches finish in."""
    import pyarrow.parquet as pq

    from newsmill import pipeline
    from newsmill.config import Settings

    summaries, layout = {}, {}
    for n in (1, 2):
        out = tmp_path / f"w{n}"
        summaries[n] = pipeline.run([str(pages)], Settings(output_dir=out, batch_size=1, author_key=b"k" * 32,
                                                           workers=n)).to_dict()
        assert summaries[n]["accounting_ok"] and summaries[n]["reject_reasons"] == {"duplicate": 1, "empty": 1}
        # each part file as (its folder, its keys in order); file names hold a run's times, so not compared
        layout[n] = sorted((str(p.parent.relative_to(out / "current")), pq.read_table(p).column(0).to_pylist())
                           for p in (out / "current").rglob("*.parquet"))
    for table in ("articles", "comments"):
        assert rows(tmp_path / "w2", table) == rows(tmp_path / "w1", table), table
    assert rejects(summaries[2]) == rejects(summaries[1])
    assert {folder.split("/")[0] for folder, _ in layout[1]} == {"articles", "comments"} and layout[2] == layout[1]
