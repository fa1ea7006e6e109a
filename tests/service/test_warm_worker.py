"""The warm worker: `newsmill run` handed to a zygote process gives what an in-process run gives.

The slow tests start real processes (the local Prefect server, zygotes, clients) in throwaway
PREFECT_HOMEs and stop every one of them, also when a test fails; the last test of the module checks
that no process carrying those homes is left."""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from newsmill.service import prefect_server, warm_client
from newsmill.store import reading
from tests.conftest import REPO, SAMPLES, SEED, our_processes, seed_prefect_home

# One pytest-xdist process runs this module: its tests share the module's worker, and some replace it.
pytestmark = pytest.mark.xdist_group("warm_worker")

PY = sys.executable
IGNORED = ("extracted_at", "pipeline_version")  # per run; everything else must be equal


# --------------------------------------------------------------------------- no processes


def test_messages_carry_file_descriptors_and_undecodable_text():
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    r, w = os.pipe()
    try:
        msg = {"env": {"ODD": "caf\udce9", "X": "1" * 200_000}, "argv": ["run", "é"]}  # bigger than one recv
        warm_client.send(a, msg, [w])
        warm_client.send(a, {"go": True})
        reader = warm_client.Reader(b)
        assert reader.recv(want_fds=True) == msg
        (got,) = reader.fds
        assert reader.recv() == {"go": True}
        os.write(got, b"through the passed fd")
        os.close(got)
        assert os.read(r, 100) == b"through the passed fd"
        a.close()
        assert reader.recv() is None
    finally:
        for fd in (r, w):
            os.close(fd)
        b.close()


def test_fingerprint_follows_the_code(tmp_path, monkeypatch):
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "a.py").write_text("x = 1\n")
    monkeypatch.setattr(warm_client, "code_roots", lambda: [pkg])
    first = warm_client.fingerprint()
    assert warm_client.fingerprint() == first
    (pkg / "notes.txt").write_text("not code")
    assert warm_client.fingerprint() == first
    (pkg / "a.py").write_text("x = 22\n")
    assert warm_client.fingerprint() != first


def test_who_uses_the_worker(monkeypatch):
    ns = argparse.Namespace
    monkeypatch.delenv("NEWSMILL_DAEMON", raising=False)
    assert warm_client.enabled(ns(no_prefect=False, daemon=None))
    assert not warm_client.enabled(ns(no_prefect=True, daemon=None))
    assert not warm_client.enabled(ns(no_prefect=False, daemon=False))  # --no-daemon
    monkeypatch.setenv("NEWSMILL_DAEMON", "0")
    assert not warm_client.enabled(ns(no_prefect=False, daemon=None))


def test_python_callers_run_in_their_own_process(monkeypatch, capsys):
    """main(argv) from Python (tests, notebooks) never hands the run to a worker."""
    from newsmill import cli

    def boom(argv):
        raise AssertionError("the worker was asked")

    monkeypatch.setattr(warm_client, "run_remote", boom)
    monkeypatch.delenv("NEWSMILL_DAEMON", raising=False)
    assert cli.main(["run", str(SEED), "--workers", "0"]) == 2
    assert "at least 1" in capsys.readouterr().err


def test_no_worker_no_status(tmp_path):
    assert warm_client.status(tmp_path) is None and warm_client.stop(tmp_path) is False


def test_a_long_home_is_reached_through_its_folder(tmp_path):
    home = tmp_path / ("x" * 60) / ("y" * 60)
    home.mkdir(parents=True)
    with warm_client.socket_address(home) as addr:
        assert addr.startswith("/proc/self/fd/")
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(addr)
        listener.listen(1)
    try:
        assert (home / warm_client.SOCKET).exists()
        client = warm_client._connect(home)
        assert client is not None
        client.close()
    finally:
        listener.close()


def test_unreachable_worker_means_a_run_in_this_process(monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path))

    def fails(*a, **k):
        raise RuntimeError("it exited with code 4")

    monkeypatch.setattr(warm_client, "start", fails)
    assert warm_client.run_remote(["run", str(SEED)]) is None
    assert "did not start (it exited with code 4): running in this process" in capsys.readouterr().err


def test_no_local_server_means_the_temporary_one_with_a_warning(monkeypatch, capsys):
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    monkeypatch.delenv("NEWSMILL_PREFECT_SERVER", raising=False)
    monkeypatch.delenv("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", raising=False)
    monkeypatch.setattr(prefect_server, "configured_api_url", lambda: None)

    def fails(*a, **k):
        raise prefect_server.ServerError("the Prefect server did not answer")

    monkeypatch.setattr(prefect_server, "ensure", fails)
    assert prefect_server.use_local_server() is None
    assert "temporary server" in capsys.readouterr().err
    assert os.environ["PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"] == "90"  # not Prefect's 20 s
    with pytest.raises(prefect_server.ServerError):
        prefect_server.use_local_server(required=True)  # newsmill serve: no schedule without a server


def test_a_configured_server_is_used_as_is(monkeypatch):
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:9/api")
    monkeypatch.setattr(prefect_server, "ensure", lambda *a, **k: pytest.fail("started a server"))
    assert prefect_server.use_local_server() == "http://127.0.0.1:9/api"


def test_one_worker_per_user_not_per_folder(tmp_path, monkeypatch):
    """The worker's folder follows the user, not the working folder or PREFECT_HOME; [daemon] dir separates."""
    monkeypatch.delenv("NEWSMILL_DAEMON_DIR", raising=False)
    runtime = tmp_path / "run-user"
    runtime.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    seen = set()
    for d in ("a", "b"):
        (tmp_path / d).mkdir()
        monkeypatch.chdir(tmp_path / d)
        monkeypatch.setenv("PREFECT_HOME", str(tmp_path / d / ".prefect"))
        seen.add(warm_client.home())
    assert seen == {runtime / "newsmill"}
    monkeypatch.delenv("XDG_RUNTIME_DIR")
    monkeypatch.setenv("NEWSMILL_CACHE", str(tmp_path / "cache"))
    assert warm_client.home() == tmp_path / "cache" / "daemon"
    assert warm_client.home(tmp_path / "mine") == tmp_path / "mine"  # a separate worker, when asked
    monkeypatch.setenv("NEWSMILL_DAEMON_DIR", str(tmp_path / "env"))
    assert warm_client.home() == tmp_path / "env"


def test_the_workers_folder_is_private(tmp_path):
    h = warm_client.private_folder(tmp_path / "w" / "daemon")
    assert h.stat().st_mode & 0o777 == 0o700
    h.chmod(0o755)
    assert warm_client.private_folder(h).stat().st_mode & 0o777 == 0o700
    (tmp_path / "link").symlink_to(h)
    with pytest.raises(OSError, match="not a folder"):
        warm_client.private_folder(tmp_path / "link")


def test_the_worker_keeps_no_secret_of_its_first_client():
    env = {"PATH": "/usr/bin", "HOME": "/home/u", "PYTHONPATH": "/code", "PREFECT_HOME": "/p", "LANG": "C.UTF-8",
           "NEWSMILL_AUTHOR_KEY": "s1", "AWS_SECRET_ACCESS_KEY": "s2", "AWS_ACCESS_KEY_ID": "s3",
           "PREFECT_API_KEY": "s4", "GITHUB_TOKEN": "s5", "DB_PASSWORD": "s6", "NEWSMILL_OUTPUT": "out",
           "https_proxy": "http://user:pw@proxy:3128", "PREFECT_API_URL": "http://127.0.0.1:1/api"}
    kept = warm_client.worker_environment(env)
    assert kept == {"PATH": "/usr/bin", "HOME": "/home/u", "PYTHONPATH": "/code", "PREFECT_HOME": "/p",
                    "LANG": "C.UTF-8", "PREFECT_API_URL": "http://127.0.0.1:1/api"}


def test_daemon_settings_are_layered_and_checked(tmp_path):
    from newsmill.config import ConfigError, load_settings

    assert load_settings(env={}).daemon.idle == warm_client.IDLE_TIMEOUT == 900
    f = tmp_path / "newsmill.toml"
    f.write_text('[daemon]\nidle = "20m"\ndir = "w"\n')
    d = load_settings(f, env={}).daemon
    assert (d.idle, d.dir) == (1200.0, str(tmp_path / "w"))
    assert load_settings(f, env={"NEWSMILL_DAEMON_IDLE": "2"}).daemon.idle == 2.0  # the environment outranks
    from newsmill.service import warm_worker

    assert warm_worker._idle_from("15m", 1.0) == 900 and warm_worker._idle_from(None, 7.0) == 7.0
    for bad in ('idle = 0', 'idle = "soon"', 'idle = true', 'dir = ""', 'port = 3'):
        f.write_text(f"[daemon]\n{bad}\n")
        with pytest.raises(ConfigError, match="daemon"):
            load_settings(f, env={})


def _serve_one(monkeypatch, tmp_path, change=None):
    """The worker's handling of one request from this very process (its peer), with ``change`` made to what
    it reads of its client; returns the reply and whether it forked."""
    from newsmill.service import peer, warm_worker

    monkeypatch.setenv("NEWSMILL_DAEMON_DIR", str(tmp_path))
    real = peer.facts
    monkeypatch.setattr(peer, "facts", lambda pid="self": change(real(pid)) if pid != "self" and change else real(pid))
    monkeypatch.setattr(os, "fork", lambda: pytest.fail("forked a run"))
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    with a, listener:
        warm_client.send(a, warm_client._request(["run", "x"], "fp", idle=5))
        result = warm_worker._handle(b, listener, -1, "fp", {})
        return warm_client.Reader(a).recv(), result, warm_worker._idle


def test_a_client_with_other_credentials_is_refused(monkeypatch, tmp_path):
    def no_dac(facts):
        facts["status"]["CapEff"] = format(int(facts["status"]["CapEff"], 16) & ~0b110, "016x")  # DAC caps dropped
        return facts

    reply, result, idle = _serve_one(monkeypatch, tmp_path, no_dac)
    assert result is None and "effective capabilities differ" in reply["refused"]
    assert idle == 5  # the latest client's idle period


def test_a_client_with_more_than_the_worker_replaces_it(monkeypatch, tmp_path):
    def more_caps(facts):
        facts["status"]["CapEff"] = format(int(facts["status"]["CapEff"], 16) | (1 << 60), "016x")
        return facts

    reply, result, _ = _serve_one(monkeypatch, tmp_path, more_caps)
    assert result == "retire" and "has more than this worker" in reply["stale"]


def test_a_refusal_is_one_line_and_a_run_in_this_process(monkeypatch, capsys, tmp_path):
    import threading

    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)

    def worker():
        with b:
            warm_client.Reader(b).recv(want_fds=True)
            warm_client.send(b, {"refused": "your effective capabilities differ from the worker's (...)"})

    t = threading.Thread(target=worker)
    t.start()
    monkeypatch.setattr(warm_client, "start", lambda h, idle=None: a)
    assert warm_client.run_remote(["run", str(SEED)], tmp_path) is None
    t.join()
    err = capsys.readouterr().err.splitlines()
    assert err == ["newsmill: warning: the warm worker would not run this as you (your effective capabilities "
                   "differ from the worker's (...)): running in this process"]


# --------------------------------------------------------------------------- real processes

HOMES: list[Path] = []  # every PREFECT_HOME this module used: the last test checks none has a process left


def stop_everything(home: Path) -> None:
    warm_client.stop(home)
    prefect_server.stop(home)
    deadline = time.monotonic() + 30  # runs still finishing their exit work
    while our_processes(str(home)) and time.monotonic() < deadline:
        time.sleep(0.2)
    for pid in our_processes(str(home)):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def client_env(home: Path, code: Path = REPO, **extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "NEWSMILL_"))}
    env.update(PREFECT_HOME=str(home), NEWSMILL_DAEMON_DIR=str(home), PYTHONPATH=str(code), NEWSMILL_AUTHOR_KEY="k" * 32, DO_NOT_TRACK="1",
               PREFECT_SERVER_ANALYTICS_ENABLED="false", GX_ANALYTICS_ENABLED="false",
               NEWSMILL_DAEMON_IDLE="600", NEWSMILL_DAEMON_GRACE="3")
    env.update(extra)
    return env


def newsmill(args: list[str], env: dict, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([PY, "-m", "newsmill.cli", *args], env=env, cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, check=False)


def rows(out: Path, table: str) -> list[dict]:
    key = "article_id" if table == "articles" else "comment_id"
    got = [{k: v for k, v in r.items() if k not in IGNORED} for r in reading.read_table(table, out).to_pylist()]
    return sorted(got, key=lambda r: r[key])


def summary_lines(stdout: str, out: Path) -> list[str]:
    """The printed summary without what differs from run to run (run id, seconds, output path)."""
    text = stdout.replace(str(out), "OUT")
    text = re.sub(r"newsmill run \S+: (\d+) pages read in [\d.]+ s", r"newsmill run ID: \1 pages read", text)
    return [re.sub(r"reports/[^/]+/", "reports/ID/", ln) for ln in text.splitlines() if ln.strip()]


def daemon_pid(home: Path) -> int | None:
    info = warm_client.status(home)
    return info["pid"] if info else None


@pytest.fixture(scope="module")
def home(tmp_path_factory, prefect_db_template):
    """The module's server and warm worker, started here: with pytest-xdist the module's tests can run in
    several processes, and each test that compares against the running worker needs it up."""
    h = seed_prefect_home(tmp_path_factory.mktemp("worker") / "prefect", prefect_db_template)
    HOMES.append(h)
    for service in ("server", "daemon"):
        started = newsmill([service, "start"], client_env(h), h.parent)
        assert started.returncode == 0, started.stdout + started.stderr
    yield h
    stop_everything(h)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    d = tmp_path_factory.mktemp("pages")
    for p in sorted(SAMPLES.iterdir()):
        shutil.copy(p, d / p.name)
    (d / "empty.txt").write_bytes(b"")
    return d


@pytest.mark.slow
def test_worker_run_equals_in_process_run(home, inputs, tmp_path, monkeypatch):
    """A run through the worker the module started, then the same run in-process: same data, output, code;
    and the worker's run is a flow run on the local server."""
    env = client_env(home)
    via = newsmill(["run", str(inputs), "-o", str(tmp_path / "worker")], env, tmp_path)
    assert via.returncode == 0, via.stderr
    pid = daemon_pid(home)
    monkeypatch.setenv("PYTHONPATH", env["PYTHONPATH"])  # the fingerprint covers PYTHONPATH: compare as the client
    assert pid is not None and warm_client.status(home)["current"]
    assert b"NEWSMILL_AUTHOR_KEY=" not in Path(f"/proc/{pid}/environ").read_bytes()  # its first client's secret
    srv = prefect_server.status(home)
    assert srv is not None and srv["healthy"]
    direct = newsmill(["run", str(inputs), "-o", str(tmp_path / "direct"), "--no-daemon"], env, tmp_path)
    assert direct.returncode == 0, direct.stderr
    assert daemon_pid(home) == pid  # the zygote was not needed, nor replaced
    for table in ("articles", "comments"):
        expected = rows(tmp_path / "direct", table)
        assert len(expected) > 0 and rows(tmp_path / "worker", table) == expected, table
    assert summary_lines(via.stdout, tmp_path / "worker") == summary_lines(direct.stdout, tmp_path / "direct")
    assert "rejected inputs            1   (empty: 1)" in via.stdout

    import httpx

    runs = httpx.post(srv["api_url"] + "/flow_runs/filter", json={"sort": "START_TIME_ASC"}, timeout=10,
                      headers=prefect_server.auth_header(prefect_server.auth_string(home))).json()
    outs = {r["parameters"].get("output_dir"): r["state_type"] for r in runs}
    assert outs.get(str(tmp_path / "worker")) == "COMPLETED"  # a real flow run, visible on the server
    assert outs.get(str(tmp_path / "direct")) == "COMPLETED"  # and the in-process run used the same server


@pytest.mark.slow
def test_nothing_readable_exits_2_both_ways(home, tmp_path):
    d = tmp_path / "in"
    d.mkdir()
    (d / "empty.txt").write_bytes(b"")
    (d / "binary.txt").write_bytes(bytes(range(256)) * 8)
    env = client_env(home)
    via = newsmill(["run", str(d), "-o", str(tmp_path / "a")], env, tmp_path)
    direct = newsmill(["run", str(d), "-o", str(tmp_path / "b"), "--no-daemon"], env, tmp_path)
    assert via.returncode == direct.returncode == 2, (via.stderr, direct.stderr)
    assert summary_lines(via.stdout, tmp_path / "a") == summary_lines(direct.stdout, tmp_path / "b")
    bad = newsmill(["run", str(d), "--config", str(tmp_path / "missing.toml")], env, tmp_path)
    assert bad.returncode == 2 and "does not exist" in bad.stderr  # a configuration error, from the worker


@pytest.mark.slow
def test_the_run_has_the_clients_folder_environment_and_umask(home, inputs, tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    shutil.copytree(inputs, project / "pages")
    (project / "newsmill.toml").write_text('[newsmill]\ninputs = ["pages"]\noutput_dir = "from-file"\n')
    env = client_env(home, NEWSMILL_OUTPUT="from-env", NEWSMILL_AUTHORS="drop")
    pid = daemon_pid(home)
    p = subprocess.run(["sh", "-c", f"umask 027 && exec {PY} -m newsmill.cli run"], env=env, cwd=project,
                       capture_output=True, text=True, timeout=300, check=False)
    assert p.returncode == 0, p.stderr
    assert daemon_pid(home) == pid
    out = project / "from-env"  # relative to the client's folder; the environment outranks the file
    assert not (project / "from-file").exists()
    comments = rows(out, "comments")
    assert comments and all(c["author"] is None and c["author_id"] is None for c in comments)  # NEWSMILL_AUTHORS
    (summary,) = out.glob("reports/*/summary.json")
    assert summary.stat().st_mode & 0o777 == 0o640  # the client's umask
    assert json.loads(summary.read_text())["articles_published"] == 3


@pytest.mark.slow
def test_concurrent_clients(home, inputs, tmp_path):
    env = client_env(home)
    pid = daemon_pid(home)
    procs = [subprocess.Popen([PY, "-m", "newsmill.cli", "run", str(inputs), "-o", str(tmp_path / f"out{i}")],
                              env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for i in range(3)]
    results = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], [err for _, err in results]
    ids = {re.search(r"newsmill run (\S+):", out).group(1) for out, _ in results}
    assert len(ids) == 3
    assert daemon_pid(home) == pid
    expected = rows(tmp_path / "out0", "comments")
    assert rows(tmp_path / "out1", "comments") == rows(tmp_path / "out2", "comments") == expected


def run_children(home: Path) -> dict[int, int]:
    """{supervisor pid: runner pid} of the zygote's current runs."""
    zygote = daemon_pid(home)
    parent = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    me = Path(f"/proc/{zygote}/cmdline").read_bytes()
    sups = [p for p, pp in parent.items() if pp == zygote and _cmdline(p) == me]  # forks, not the server
    return {s: next((p for p, pp in parent.items() if pp == s), None) for s in sups}


def _cmdline(pid: int) -> bytes | None:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None


@pytest.fixture
def big_input(tmp_path):
    """Enough distinct pages for a run of several seconds."""
    d = tmp_path / "big"
    d.mkdir()
    text = SEED.read_text(encoding="utf-8")
    for i in range(150):
        (d / f"p{i:03}.txt").write_text(text.replace("Working together", f"Working together {i}", 1),
                                        encoding="utf-8")
    return d


def run_in_flow(home: Path, tmp_path: Path, big_input: Path, **popen) -> tuple[subprocess.Popen, Path]:
    """A client running ``big_input`` whose run records each page it extracts (``NEWSMILL_FAILPOINT_TRACE``,
    carried to the runner with the client's environment): the test waits for that, not for a time."""
    trace = tmp_path / "trace"
    client = subprocess.Popen([PY, "-m", "newsmill.cli", "run", str(big_input), "-o", str(tmp_path / "out"),
                               "--batch-size", "5"], env=client_env(home, NEWSMILL_FAILPOINT_TRACE=str(trace)),
                              cwd=tmp_path, text=True, **popen)
    return client, trace


def started_run(home: Path, client: subprocess.Popen, trace: Path, timeout: float = 120) -> tuple[int, int]:
    """The run's supervisor and runner, once its flow extracts pages (a page's ``extract`` is in ``trace``)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert client.poll() is None, client.communicate()
        runs = {s: r for s, r in run_children(home).items() if r}
        if runs and trace.exists() and "extract:" in trace.read_text(encoding="utf-8"):
            return next(iter(runs.items()))
        time.sleep(0.1)
    pytest.fail("the run did not start extracting")


def gone(*pids: int, within: float) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        alive = []
        for pid in pids:
            try:
                stat = Path(f"/proc/{pid}/stat").read_text()
                if stat.rsplit(")", 1)[1].split()[0] != "Z":
                    alive.append(pid)
            except OSError:
                pass
        if not alive:
            return True
        time.sleep(0.2)
    return False


@pytest.mark.slow
def test_ctrl_c_in_the_client_stops_the_run(home, big_input, tmp_path):
    client, trace = run_in_flow(home, tmp_path, big_input, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        supervisor, runner = started_run(home, client, trace)
        client.send_signal(signal.SIGINT)
        _, err = client.communicate(timeout=60)
        assert client.returncode == 130, err
        assert "stopping the run" in err
        assert gone(supervisor, runner, within=30)
    finally:
        client.kill()


@pytest.mark.slow
def test_a_killed_client_kills_its_run(home, big_input, tmp_path):
    client, trace = run_in_flow(home, tmp_path, big_input, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        supervisor, runner = started_run(home, client, trace)
    finally:
        client.kill()  # SIGKILL: nothing forwarded, the run notices its client is gone
        client.wait()
    assert gone(supervisor, runner, within=30)
    assert daemon_pid(home) is not None  # the zygote itself is unaffected


@pytest.mark.slow
def test_new_code_replaces_the_worker_and_exit_1_on_a_critical_failure(home, inputs, tmp_path):
    """A copy of the code; the worker is started for it; then the copy changes (comment ids that collide,
    a critical failure): the next run replaces the stale worker, runs the new code and exits 1, as the
    in-process run of the same code does."""
    code = tmp_path / "code"
    for name in ("newsmill",):
        shutil.copytree(REPO / name, code / name, ignore=shutil.ignore_patterns("__pycache__"))
    own = tmp_path / "prefect"  # its own worker; the module's server
    HOMES.append(own)
    newsmill(["server", "start"], client_env(home), tmp_path)
    env = client_env(own, code, **prefect_server.client_env(home))
    try:
        first = newsmill(["run", str(inputs), "-o", str(tmp_path / "a")], env, tmp_path)
        assert first.returncode == 0, first.stderr
        old = daemon_pid(own)
        with (code / "newsmill" / "ids.py").open("a") as f:
            f.write("\n\ndef comment_id(*a, **k):  # test: every comment gets the same id\n    return 'same-id'\n")
        via = newsmill(["run", str(inputs), "-o", str(tmp_path / "b")], env, tmp_path)
        assert via.returncode == 1, via.stderr
        assert "a CRITICAL expectation failed" in via.stdout
        assert "warm worker" not in via.stderr, via.stderr  # not a fallback: a new worker ran it
        new = daemon_pid(own)
        assert new is not None and new != old and gone(old, within=20)
        direct = newsmill(["run", str(inputs), "-o", str(tmp_path / "c"), "--no-daemon"], env, tmp_path)
        assert direct.returncode == 1, direct.stderr
        assert summary_lines(via.stdout, tmp_path / "b") == summary_lines(direct.stdout, tmp_path / "c")
    finally:
        stop_everything(own)


@pytest.mark.slow
def test_a_worker_that_cannot_start_means_a_run_in_the_client(home, tmp_path):
    own = tmp_path / "prefect"
    (own / warm_client.SOCKET).mkdir(parents=True)  # where the worker's socket would go: it cannot bind
    HOMES.append(own)
    newsmill(["server", "start"], client_env(home), tmp_path)
    env = client_env(own, **prefect_server.client_env(home))
    try:
        p = newsmill(["run", str(SEED), "-o", str(tmp_path / "out")], env, tmp_path)
        assert p.returncode == 0, p.stderr
        assert "warm worker did not start" in p.stderr and "running in this process" in p.stderr
        assert "comments   published      33" in p.stdout
        assert warm_client.status(own) is None
    finally:
        stop_everything(own)


def _rlimit_line(trace: Path) -> dict:
    (line,) = [ln for ln in trace.read_text().splitlines() if ln.startswith("runner_limits ")]
    return json.loads(line.split(" ", 3)[3])


@pytest.mark.slow
def test_the_run_takes_the_clients_resource_limits(home, inputs, tmp_path):
    """`prlimit --cpu=... --as=... newsmill run`: the run in the worker has those limits (read back in the run)."""
    import resource

    pid = daemon_pid(home)
    vm = int(re.search(r"VmSize:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text()).group(1)) * 1024 if pid else 0
    as_limit = 2 * vm + 4 * 2**30  # lower than unlimited, enough for the run

    def lower():
        resource.setrlimit(resource.RLIMIT_CPU, (3000, 3600))
        resource.setrlimit(resource.RLIMIT_AS, (as_limit, as_limit))

    trace = tmp_path / "trace"
    p = subprocess.run([PY, "-m", "newsmill.cli", "run", str(inputs), "-o", str(tmp_path / "out")], cwd=tmp_path,
                       env=client_env(home, NEWSMILL_DAEMON_TRACE=str(trace)), preexec_fn=lower, capture_output=True,
                       text=True, timeout=300, check=False)
    assert p.returncode == 0, p.stderr
    assert "warm worker" not in p.stderr  # served, not a fallback
    assert _rlimit_line(trace) == {"RLIMIT_AS": [as_limit, as_limit], "RLIMIT_CPU": [3000, 3600]}
    assert f"RLIMIT_AS {as_limit}/{as_limit}, RLIMIT_CPU 3000/3600" in (home / warm_client.LOG).read_text()


def _server(home: Path, tmp_path: Path) -> str:
    if prefect_server.status(home) is None:
        newsmill(["server", "start"], client_env(home), tmp_path)
    return prefect_server.status(home)["api_url"]


@pytest.mark.slow
def test_a_worker_with_less_makes_way_and_keeps_no_secret_of_its_first_client(home, tmp_path):
    """A worker started by a client with a lower hard limit is replaced by one that a client with the usual
    limits starts; that client's secrets reach its run, and not the new worker's environment."""
    import resource
    import uuid

    if resource.getrlimit(resource.RLIMIT_CORE)[1] == 0:
        pytest.skip("the core-size hard limit is already 0 here")
    own = tmp_path / "daemon"
    HOMES.append(own)
    _server(home, tmp_path)
    env = client_env(own, **prefect_server.client_env(home), NEWSMILL_DAEMON_WARMUP="0")  # URL and auth string
    try:
        low = subprocess.run([PY, "-m", "newsmill.cli", "daemon", "start"], env=env, cwd=tmp_path, capture_output=True,
                             text=True, timeout=300, check=False,
                             preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_CORE, (0, 0)))
        assert low.returncode == 0, low.stderr
        first = daemon_pid(own)
        secret = f"secret-{uuid.uuid4().hex}"
        p = newsmill(["run", str(SEED), "-o", str(tmp_path / "out")],
                     {**env, "AWS_SECRET_ACCESS_KEY": secret, "NEWSMILL_AUTHOR_KEY": secret}, tmp_path)
        assert p.returncode == 0, p.stderr
        assert "warm worker" not in p.stderr  # run by a worker, not in the client
        assert "author ids keyed with NEWSMILL_AUTHOR_KEY" in p.stdout  # the run had the client's secret
        new = daemon_pid(own)
        assert new is not None and new != first and gone(first, within=30)
        assert "a client has more than this worker (your RLIMIT_CORE hard limit (unlimited) is above the " \
               "worker's (0)): retiring" in (own / warm_client.LOG).read_text()
        environ = Path(f"/proc/{new}/environ").read_bytes()
        assert b"PREFECT_API_URL=" in environ and secret.encode() not in environ  # started by this client
    finally:
        stop_everything(own)


@pytest.mark.slow
@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setpriv"), reason="needs root and setpriv to drop capabilities")
def test_a_client_without_dac_capabilities_runs_in_its_own_process(home, tmp_path):
    """Issue 13: a client whose DAC capabilities were dropped read a 0000 file through the worker."""
    d = tmp_path / "in"
    d.mkdir()
    shutil.copy(SEED, d / "open.txt")
    other = next(p for p in sorted(SAMPLES.glob("*.txt")) if p != SEED)
    shutil.copy(other, d / "closed.txt")
    (d / "closed.txt").chmod(0)
    drop = "--bounding-set=-dac_override,-dac_read_search"
    p = subprocess.run(["setpriv", drop, PY, "-m", "newsmill.cli", "run", str(d), "-o", str(tmp_path / "out")],
                       env=client_env(home), cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False)
    assert p.returncode == 0, p.stderr
    assert "the warm worker would not run this as you (your permitted capabilities differ" in p.stderr
    assert "running in this process" in p.stderr
    assert "articles   published       1" in p.stdout and "(unreadable: 1)" in p.stdout
    assert len(rows(tmp_path / "out", "articles")) == 1


@pytest.mark.slow
def test_an_idle_worker_exits(tmp_path):
    own = tmp_path / "daemon"
    HOMES.append(own)
    env = client_env(own, PREFECT_API_URL="http://127.0.0.1:9/api", NEWSMILL_DAEMON_WARMUP="0",
                     NEWSMILL_DAEMON_IDLE="5")
    try:
        started = newsmill(["daemon", "start"], env, tmp_path)
        assert started.returncode == 0, started.stderr
        pid = int(re.search(r"pid (\d+)", started.stdout).group(1))
        assert gone(pid, within=120)  # bounded poll on the process, no fixed sleep
        assert "idle for 5 s: exiting" in (own / warm_client.LOG).read_text()
    finally:
        stop_everything(own)


@pytest.mark.slow
def test_stop_leaves_no_process(home):
    """Last: `newsmill daemon stop` and `newsmill server stop` end everything this module started."""
    env = client_env(home)
    assert "stopped" in newsmill(["daemon", "stop"], env, home.parent).stdout
    assert "stopped" in newsmill(["server", "stop"], env, home.parent).stdout
    assert newsmill(["daemon", "status"], env, home.parent).returncode == 3
    for h in HOMES:
        deadline = time.monotonic() + 30
        while our_processes(str(h)) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert our_processes(str(h)) == [], h


def test_the_warm_up_forgets_file_contents_but_keeps_code_caches():
    """What a run must read afresh (profiles, schemas) is forgotten after the warm-up; what depends on the code
    alone (the RE2 translations of the suites' regexes, ~1 s a run to rebuild) is kept for every run."""
    from newsmill import schema
    from newsmill.service import warm_worker
    from newsmill.validate import arrow_regex

    schema.load("articles")
    arrow_regex.translate(r"\bReply\s*$")
    warm_worker._forget_cached_data()
    assert schema.load.cache_info().currsize == 0
    assert arrow_regex.translate.cache_info().currsize >= 1
    assert all(fn.cache_info().currsize for fn in (arrow_regex._all_code_points,))
