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


def read_back(flow_run_id) -> dict:
    """What the Prefect server holds of a flow run: the run, its logs, its artifacts by key. Logs are
    sent in the background: drained first (returns once the server has them)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId, LogFilter, LogFilterFlowRunId
    from prefect.logging.handlers import APILogHandler

    APILogHandler().flush()
    with get_client(sync_client=True) as client:
        run = client.read_flow_run(flow_run_id)
        logs = client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id])))
        artifacts = client.read_artifacts(artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(
            any_=[flow_run_id])))
    return {"run": run, "logs": logs, "artifacts": {a.key: a for a in artifacts}}


def test_flow_run_in_prefect_named_tagged_logged_with_artifacts_and_result(flow_output):
    """What a person finds of the run in Prefect's UI, read back through the client: the run named after
    the newsmill run id and tagged with it, newsmill's log lines, the artifacts, the persisted summary."""
    import json

    from newsmill.flow import COUNTS_KEY, FAILURES_KEY, NO_FAILURES, REPORT_KEY, SUMMARY_KEY

    s, out, flow_run_id = flow_output
    got = read_back(flow_run_id)
    run = got["run"]
    assert run.name == s["run_id"]
    assert {"newsmill", s["run_id"]} <= set(run.tags)

    lines = [(log.name, log.level, log.message) for log in got["logs"]]
    ours = [m for name, _, m in lines if name.startswith("newsmill")]
    assert any(m.startswith("progress: ") and "pages to extract" in m for m in ours), lines
    assert any(m.startswith(f"newsmill run {s['run_id']}: 2 inputs: 1 articles and 33 comments published") for m in ours)
    assert not any("Traceback" in m for _, _, m in lines)

    arts = got["artifacts"]
    assert {SUMMARY_KEY, COUNTS_KEY, FAILURES_KEY, REPORT_KEY} <= set(arts)
    md = arts[SUMMARY_KEY]
    assert md.type == "markdown" and md.data.startswith(f"# newsmill run {s['run_id']}")
    assert "## Report files" in md.data and (out / "reports" / s["run_id"] / "summary.html").as_uri() in md.data
    counts = json.loads(arts[COUNTS_KEY].data)
    assert counts[0] == {"source": "(all inputs)", "inputs": 2, "articles_published": 1, "articles_quarantined": 0,
                         "comments_published": 33, "comments_quarantined": 0, "rejected": 1, "unchanged": 0}
    (site,) = counts[1:]  # one source: the seed page's site
    assert (site["articles_published"], site["comments_published"], site["rejected"]) == (1, 33, None)
    failures = json.loads(arts[FAILURES_KEY].data)
    # rows (the UI shows columns as JSON text), and one row that says so when nothing failed
    assert arts[FAILURES_KEY].type == "table" and set(failures[0]) >= {"table", "severity", "rule", "examples"}
    assert len(failures) == max(1, len(s["failed_expectations"]))
    if not s["failed_expectations"]:
        assert failures[0]["rule"] == NO_FAILURES and failures[0]["examples"] is None
    assert "summary.html)" in arts[REPORT_KEY].data  # a link artifact is stored as Markdown: [text](link)

    # persisted: the state holds where the result is stored, not the result (`untrackable_result` is another
    # matter: Prefect sets it when a returned object holds singletons such as True or small ints, which
    # its in-memory result tracking cannot tell apart; it says nothing of persistence)
    assert run.state.is_completed() and run.state.data.storage_key
    persisted = run.state.result()  # read from Prefect's result storage, not from this process
    assert persisted["run_id"] == s["run_id"] and persisted["comments_published"] == 33


def test_bad_setting_fails_the_flow_run_in_one_line(tmp_path, prefect_server):
    """A setting a person can fix ends the flow run Failed with that one line, in its state and its log,
    no traceback; the caller gets the error itself (the command line's exit code 2)."""
    from newsmill.config import ConfigError
    from newsmill.flow import newsmill_flow

    project = tmp_path / "newsmill.toml"
    project.write_text('[newsmill]\nmin_date = "yesterday"\n', encoding="utf-8")
    d = tmp_path / "in"
    d.mkdir()
    shutil.copy(SEED, d / "seed.txt")
    state = newsmill_flow(paths=[str(d)], output_dir=str(tmp_path / "out"), project_file=str(project),
                          return_state=True)
    assert state.is_failed() and "'yesterday' is not a date" in state.message and "\n" not in state.message
    assert isinstance(state.result(raise_on_failure=False), ConfigError)
    got = read_back(state.state_details.flow_run_id)
    assert not any("Traceback" in log.message for log in got["logs"])
    errors = [log.message for log in got["logs"] if log.level >= 40]
    assert len(errors) == 1 and "'yesterday' is not a date" in errors[0] and "\n" not in errors[0]
    assert got["run"].state.message == state.message


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
    """A run whose critical expectation failed is a Failed flow run in Prefect (what a schedule shows)
    whose message names the rule in the suite's words (never a derived `_chk_` column), with the summary
    persisted; and the CLI still gets the summary and exits 1."""
    from newsmill import ids
    from newsmill.cli import main
    from newsmill.flow import newsmill_flow

    monkeypatch.setattr(ids, "comment_id", lambda *a, **k: "same-id")  # duplicate keys: a critical failure
    d = tmp_path / "in"
    d.mkdir()
    shutil.copy(SEED, d / "seed.txt")
    state = newsmill_flow(paths=[str(d)], output_dir=str(tmp_path / "a"), workers=1, return_state=True)
    assert state.is_failed()
    assert "critical expectation failed" in state.message and "comments: comment_id is not unique" in state.message
    assert "_chk_" not in state.message
    summary = state.result(raise_on_failure=False)
    assert summary["exit_code"] == 1 and summary["comments_quarantined"] == 33
    run = read_back(state.state_details.flow_run_id)["run"]
    assert run.state.is_failed() and run.state.message == state.message
    assert run.state.result(raise_on_failure=False)["run_id"] == summary["run_id"]  # from result storage
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


@pytest.fixture
def ui_settings_server():
    """A server answering ``/ui-settings`` as Prefect's does (the body set by the test), on 127.0.0.1."""
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    answer = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's name)
            body = json.dumps(answer).encode() if self.path.endswith("/ui-settings") else b""
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", answer
    finally:
        server.shutdown()
        server.server_close()


def test_run_links_open_the_ui_that_asks_for_the_auth_string(ui_settings_server):
    """Prefect 3.9 serves its newer UI under /v2 by default: only there does a run's page, opened first in a
    browser, ask for the auth string (the older UI's page says "Page not found"), so the link goes there."""
    from newsmill.flow import ui_pages

    ui, answer = ui_settings_server
    answer.update(default_ui="v2", available_uis=["v1", "v2"], v1_base_url="/", v2_base_url="/v2")
    assert ui_pages(ui) == f"{ui}/v2" and ui_pages(ui + "/") == f"{ui}/v2"
    answer.update(v1_base_url="/prefect", v2_base_url="/prefect/v2")  # PREFECT_SERVER_UI_SERVE_BASE=/prefect
    assert ui_pages(f"{ui}/prefect") == f"{ui}/prefect/v2"
    answer.update(default_ui="v1")  # PREFECT_SERVER_UI_V2_ENABLED=false: the older UI is the default
    assert ui_pages(ui) == ui
    answer.clear()  # an older Prefect: no v2 in its settings
    assert ui_pages(ui) == ui


def test_run_links_without_a_ui_settings_answer_are_the_ui_itself():
    import socket

    from newsmill.flow import ui_pages

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}"
    assert ui_pages(closed) == closed
