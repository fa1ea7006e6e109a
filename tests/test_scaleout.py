"""The flow's batch tasks on Dask (prefect-dask): a local cluster of 2 worker processes, and an
existing cluster by address, give the same dataset as the flow's own runner."""
from __future__ import annotations

import gzip
import shutil

import pytest

from newsmill import publish
from tests.conftest import SAMPLES, SEED
from tests.test_incremental import budget_page

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
    got = [{k: v for k, v in r.items() if k not in IGNORED} for r in publish.read_table(table, out).to_pylist()]
    return sorted(got, key=lambda r: r[key])


def rejects(summary: dict) -> list[tuple]:
    import pyarrow.parquet as pq
    from pathlib import Path

    t = pq.read_table(Path(summary["output_dir"]) / "quarantine" / "rejects" / f"{summary['run_id']}.parquet")
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

    from flows.newsmill_flow import newsmill_flow

    monkeypatch.setenv("NEWSMILL_AUTHOR_KEY", "k" * 32)  # comparable ids across the outputs
    monkeypatch.chdir(tmp_path)
    base = newsmill_flow(paths=[str(pages)], output_dir=str(tmp_path / "single"), batch_size=1)
    assert base["inputs"] == 6 and base["articles_published"] == 4 and base["accounting_ok"]
    assert base["reject_reasons"] == {"duplicate": 1, "empty": 1}

    state = newsmill_flow(paths=[str(pages)], output_dir=str(tmp_path / "local2"), batch_size=1, workers=2,
                          return_state=True)
    on_dask = state.result()
    assert on_dask["accounting_ok"] and on_dask["exit_code"] == 0
    # the workers reported their task runs to this session's server (not to temporary servers of their own)
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
        assert rows(tmp_path / "local2", table) == expected, table
        assert rows(tmp_path / "existing", table) == expected, table
    assert rejects(on_dask) == rejects(joined) == rejects(base)
    assert any(r[0].endswith("zz-seed-copy.txt.gz") and r[1] == "duplicate" for r in rejects(on_dask))
