"""`newsmill serve` against a real Prefect server: a scheduled run publishes data, the next one finds the
inputs unchanged. Everything runs on 127.0.0.1 with an ephemeral port and a throwaway PREFECT_HOME;
every process started here is stopped (by process group, and by a marker in its environment for
anything that left the group), also when the test fails. Each step waits for its event (the server
answers, a run completes, a summary appears) however long a loaded machine takes; a step has a
generous bound only so that a hang ends (measured: ~25 s for a fresh server, ~50 s in all)."""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import SAMPLES, our_processes

pytestmark = pytest.mark.slow

BIN = Path(sys.executable).parent
STEP_BOUND = 600.0  # seconds a step may wait for its event before the test reports a hang
INTERVAL = 5


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop(proc: subprocess.Popen, grace: float = 120.0) -> None:
    """SIGTERM to the process group (serve shuts down gracefully and pauses its schedule; SIGINT
    would do too, but a shell running tests in the background makes its children ignore SIGINT),
    then SIGKILL for anything left."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=grace)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(timeout=10)


def api(url: str, path: str, body: dict | None = None):
    import httpx

    r = httpx.post(url + path, json=body or {}, timeout=5) if body is not None else httpx.get(url + path, timeout=5)
    r.raise_for_status()
    return r.json()


def wait_for(what: str, check, procs: dict, every: float = 0.5):
    """Poll the server or the output for an event (neither can notify), failing as soon as a process dies."""
    deadline = time.monotonic() + STEP_BOUND
    while time.monotonic() < deadline:
        for name, p in procs.items():
            if p.poll() is not None:
                pytest.fail(f"{name} exited with {p.returncode} while waiting for {what}")
        try:
            got = check()
        except Exception:  # noqa: BLE001 (not up yet)
            got = None
        if got:
            return got
        time.sleep(every)
    pytest.fail(f"no {what} within {STEP_BOUND:.0f} s: hung")


def completed_runs(url: str, deployment: str) -> list[dict]:
    runs = api(url, "/flow_runs/filter", {"flow_runs": {"state": {"type": {"any_": ["COMPLETED"]}}},
                                           "deployments": {"name": {"any_": [deployment]}}, "sort": "START_TIME_ASC"})
    return runs


def check_run_in_prefect(url: str, run: dict, summary: dict, serve_log: Path, procs: dict) -> None:
    """The scheduled run as a person finds it: named after its newsmill run id and tagged with it; in serve's
    terminal its page's link (which opens) and its one-line summary; in the server its log lines and artifacts."""
    import httpx

    run_id = summary["run_id"]
    assert run["name"] == run_id and {"newsmill", run_id} <= set(run["tags"])

    def printed():
        text = serve_log.read_text(encoding="utf-8", errors="replace")
        return text if f"newsmill run {run_id}: 3 inputs: 3 articles" in text else None

    text = wait_for("the run's one-line summary in serve's terminal", printed, procs)
    pages = f"{url.removesuffix('/api')}/v2"  # Prefect 3.9's default UI: a run's page there asks for an auth string
    link = f"{pages}/runs/flow-run/{run['id']}"
    assert f"runs: each prints its run id, its page ({pages}/runs/flow-run/<id>)" in text
    assert f"newsmill run {run_id}: started, {link}\n" in text
    page = httpx.get(link, timeout=10, headers={"Accept": "text/html"})  # as a browser asks for a page
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]

    def logged():  # the run's process sends its logs in the background, the last ones as it exits
        logs = api(url, "/logs/filter", {"logs": {"flow_run_id": {"any_": [run["id"]]}}})
        return [g for g in logs if g["name"].startswith("newsmill") and g["message"].startswith(f"newsmill run {run_id}: ")]

    assert wait_for("newsmill's summary line in the run's logs", logged, procs)
    artifacts = api(url, "/artifacts/filter", {"artifacts": {"flow_run_id": {"any_": [run["id"]]}}})
    assert {"newsmill-summary", "newsmill-counts", "newsmill-failed-expectations"} <= {a["key"] for a in artifacts}


def test_serve_runs_the_flow_on_its_schedule(tmp_path, fresh_prefect_home):
    started = time.monotonic()
    home = fresh_prefect_home(tmp_path / "prefect-home")
    port = free_port()
    url = f"http://127.0.0.1:{port}/api"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "NEWSMILL_"))}
    env.update(PREFECT_HOME=str(home), DO_NOT_TRACK="1", PREFECT_SERVER_ANALYTICS_ENABLED="false",
               PREFECT_LOGGING_LEVEL="WARNING",  # the UI on: the run links serve prints must open
               PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS="1",  # schedule within a second, not a minute
               PREFECT_RUNNER_POLL_FREQUENCY="1", GX_ANALYTICS_ENABLED="false", NEWSMILL_AUTHOR_KEY="k" * 32)
    project = tmp_path / "project"
    (project / "pages").mkdir(parents=True)
    for p in SAMPLES.iterdir():
        shutil.copy(p, project / "pages" / p.name)
    (project / "newsmill.toml").write_text(
        '[newsmill]\noutput_dir = "out"\ninputs = ["pages"]\n\n'
        f'[schedule]\ninterval = "{INTERVAL}s"\nname = "every-{INTERVAL}s"\n', encoding="utf-8")
    procs: dict[str, subprocess.Popen] = {}
    logs = {name: open(tmp_path / f"{name}.log", "wb") for name in ("server", "serve")}
    try:
        procs["server"] = subprocess.Popen(
            [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
            env=env, cwd=tmp_path, stdout=logs["server"], stderr=subprocess.STDOUT, start_new_session=True)
        wait_for("the Prefect server", lambda: api(url, "/health") is True, procs)
        server_up = time.monotonic() - started

        procs["serve"] = subprocess.Popen([str(BIN / "newsmill"), "serve"], env={**env, "PREFECT_API_URL": url},
                                          cwd=project, stdout=logs["serve"], stderr=subprocess.STDOUT,
                                          start_new_session=True)
        out = project / "out"
        first = wait_for("a scheduled run that completes and publishes",
                         lambda: (completed_runs(url, f"every-{INTERVAL}s") and any((out / "articles").rglob("*.parquet"))
                                  and completed_runs(url, f"every-{INTERVAL}s")), procs)
        run = first[0]
        assert "auto-scheduled" in run["tags"]  # made by the server's scheduler, not started by hand
        assert run["parameters"]["output_dir"] == str(out.resolve())
        summaries = [json.loads(p.read_text()) for p in sorted((out / "reports").glob("*/summary.json"))]
        assert summaries[0]["articles_published"] == 3 and summaries[0]["exit_code"] == 0
        check_run_in_prefect(url, run, summaries[0], tmp_path / "serve.log", procs)
        first_run_done = time.monotonic() - started

        # the next scheduled run finds the same pages: skipped as unchanged (the incremental ledger)
        def second_summary():
            done = [json.loads(p.read_text()) for p in sorted((out / "reports").glob("*/summary.json"))]
            return done[1] if len(done) > 1 else None

        again = wait_for("a second scheduled run", second_summary, procs)
        assert again["unchanged_inputs"] == 3 and again["articles_published"] == 0 and again["exit_code"] == 0
        print(f"\nserver up after {server_up:.1f} s, first scheduled run done after {first_run_done:.1f} s, "
              f"second after {time.monotonic() - started:.1f} s")
        stop(procs.pop("serve"))  # a graceful stop pauses the deployment's schedule
        (deployment,) = api(url, "/deployments/filter", {"deployments": {"name": {"any_": [f"every-{INTERVAL}s"]}}})
        assert deployment["paused"] is True
    except BaseException:
        for name, f in logs.items():
            f.flush()
            sys.stderr.write(f"--- {name}.log (tail) ---\n"
                             + (tmp_path / f"{name}.log").read_bytes()[-3000:].decode("utf-8", "replace") + "\n")
        raise
    finally:
        for name in ("serve", "server"):  # serve first: it pauses its deployment through the server
            if name in procs:
                stop(procs[name])
        for pid in our_processes(str(home)):  # anything that left its process group
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for f in logs.values():
            f.close()
    assert our_processes(str(home)) == []
