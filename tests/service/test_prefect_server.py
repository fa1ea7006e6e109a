"""The persistent local Prefect server: started once, found again, stopped cleanly; only this user's (a 0700
home, a 0600 secret, Prefect's basic auth); one per user; stopped when nothing uses it; its UI names its port."""
from __future__ import annotations

import os
import socket
import stat
import sys
import time
from pathlib import Path

import httpx
import pytest

from newsmill.service import prefect_server, server_watch

pytestmark = pytest.mark.slow
def test_start_reuse_stop(tmp_path, fresh_prefect_home):
    home = fresh_prefect_home(tmp_path / "prefect")
    try:
        info = prefect_server.start(home)
        assert info["api_url"].startswith("http://127.0.0.1:")
        assert httpx.get(info["api_url"] + "/health", timeout=5).status_code == 200
        again = prefect_server.start(home)  # a second start finds the running one
        assert again["pid"] == info["pid"] and prefect_server.status(home)["port"] == info["port"]
    finally:
        assert prefect_server.stop(home)
    assert prefect_server.status(home) is None
    assert not prefect_server._alive(info["pid"])
    with pytest.raises(httpx.HTTPError):
        httpx.get(info["api_url"] + "/health", timeout=2)


def test_stale_state_is_ignored(tmp_path):
    home = tmp_path / "prefect"
    home.mkdir()
    (home / "newsmill-server.json").write_text('{"pid": 999999, "port": 1, "api_url": "http://127.0.0.1:1/api"}')
    assert prefect_server.status(home) is None
    assert not (home / "newsmill-server.json").exists()


def test_two_commands_at_once_start_one_server(tmp_path, fresh_prefect_home):
    """The start lock: two starts racing (two threads here, two commands in life) get the same server."""
    from concurrent.futures import ThreadPoolExecutor

    home = fresh_prefect_home(tmp_path / "prefect")
    try:
        with ThreadPoolExecutor(2) as pool:
            a, b = pool.map(lambda _: prefect_server.ensure(home), range(2))
        assert a["pid"] == b["pid"] and a["port"] == b["port"]
    finally:
        prefect_server.stop(home)
    assert prefect_server.status(home) is None


def test_cli_server_commands(tmp_path, monkeypatch, capsys, fresh_prefect_home):
    from newsmill.cli import main

    monkeypatch.setenv("PREFECT_HOME", str(fresh_prefect_home(tmp_path / "prefect")))
    assert main(["server", "status"]) == 3
    assert "not running" in capsys.readouterr().out
    assert main(["server", "stop"]) == 0
    assert "not running" in capsys.readouterr().out
    assert main(["daemon", "status"]) == 3
    monkeypatch.setenv("NEWSMILL_SERVER_IDLE", "lots")
    assert main(["server", "start"]) == 2  # one line, before anything starts
    assert "NEWSMILL_SERVER_IDLE" in capsys.readouterr().err
    assert not (tmp_path / "prefect" / "newsmill-server.json").exists()


def children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def gone(pid: int, within: float) -> bool:
    """Bounded poll for a process's exit (a child of this process is reaped on the way)."""
    deadline = time.monotonic() + within
    while prefect_server._alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def test_only_this_user_can_use_it_and_its_ui_names_its_port(tmp_path, monkeypatch, capsys, fresh_prefect_home):
    """Issue 13.12: the home is 0700, the secret 0600; a request without the auth string (or with another)
    is refused, 401, reads and writes alike; with it, it is served, also to Prefect's own client. Issue 14.1:
    the UI's settings name the port the server listens on and ask for the auth string. The server's
    environment holds none of the caller's secrets (13.11)."""
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_AUTH_STRING, PREFECT_API_URL, temporary_settings

    from newsmill.cli import main

    home = tmp_path / "state" / "prefect"
    fresh_prefect_home(prefect_server.private_dir(home))  # newsmill's folders, with a migrated database
    monkeypatch.setenv("PREFECT_HOME", str(home))
    monkeypatch.setenv("NEWSMILL_AUTHOR_KEY", "a-secret-of-the-client-" * 2)
    try:
        assert main(["server", "start", "--ui"]) == 0
        out = capsys.readouterr().out
        info = prefect_server.status(home)
        secret = prefect_server.auth_string(home)
        secret_file = home / "newsmill-server.secret"
        assert stat.S_IMODE(home.stat().st_mode) == 0o700
        assert stat.S_IMODE(home.parent.stat().st_mode) == 0o700  # made by newsmill: private too
        assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
        assert secret.startswith("newsmill:") and len(secret) > 40

        api = info["api_url"]
        assert httpx.get(api + "/admin/version", timeout=10).status_code == 401
        assert httpx.post(api + "/flow_runs/filter", json={}, timeout=10).status_code == 401
        assert httpx.post(api + "/flows/", json={"name": "intruder"}, timeout=10).status_code == 401
        wrong = prefect_server.auth_header("newsmill:guess")
        assert httpx.get(api + "/admin/version", headers=wrong, timeout=10).status_code == 401
        mine = prefect_server.auth_header(secret)
        assert httpx.get(api + "/admin/version", headers=mine, timeout=10).status_code == 200
        assert httpx.post(api + "/flow_runs/filter", json={}, headers=mine, timeout=10).status_code == 200
        with temporary_settings({PREFECT_API_URL: api, PREFECT_API_AUTH_STRING: secret}):
            with get_client(sync_client=True) as client:
                assert isinstance(client.read_flows(), list)  # Prefect's own client with the auth string

        ui = httpx.get(api.removesuffix("/api") + "/ui-settings", timeout=10).json()
        assert ui["api_url"] == api  # the real port (it said http://127.0.0.1:4200/api)
        assert ui["auth"] == "BASIC"  # the UI asks for the auth string
        assert f"ui:   {api.removesuffix('/api')}/" in out and str(secret_file) in out

        for pid in [info["pid"], *children(info["pid"])]:
            environ = Path(f"/proc/{pid}/environ").read_bytes()
            assert b"NEWSMILL_AUTHOR_KEY" not in environ and b"a-secret-of-the-client" not in environ
        assert len(children(info["pid"])) == 1  # the watchdog and its server
    finally:
        assert main(["server", "stop"]) == 0
    assert not secret_file.exists() and prefect_server.status(home) is None


def test_a_running_servers_url_gets_its_auth_string(tmp_path, monkeypatch):
    """PREFECT_API_URL exported by hand (as `server status` shows) without the auth string: newsmill's
    clients add it when the URL is this home's server."""
    home = tmp_path / "prefect"
    home.mkdir()
    monkeypatch.setenv("PREFECT_HOME", str(home))
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:4321/api")
    monkeypatch.delenv("PREFECT_API_AUTH_STRING", raising=False)
    monkeypatch.delitem(sys.modules, "prefect.context", raising=False)  # Prefect's settings left alone
    monkeypatch.setattr(prefect_server, "status", lambda *a: {"api_url": "http://127.0.0.1:4321/api", "pid": 1})
    (home / "newsmill-server.secret").write_text("newsmill:s3cret\n")
    assert prefect_server.use_local_server() == "http://127.0.0.1:4321/api"
    assert os.environ["PREFECT_API_AUTH_STRING"] == "newsmill:s3cret"
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:9/api")  # another server: nothing added
    monkeypatch.delenv("PREFECT_API_AUTH_STRING")
    prefect_server.use_local_server()
    assert "PREFECT_API_AUTH_STRING" not in os.environ


def test_one_home_per_user_whatever_the_folder(tmp_path, monkeypatch, capsys):
    """Issue 14.4: PREFECT_HOME defaults to a per-user folder, not ./.prefect; an explicit one is kept."""
    from newsmill.cli import main

    monkeypatch.delenv("PREFECT_HOME")
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    homes = []
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        monkeypatch.chdir(tmp_path / folder)
        assert main(["server", "status"]) == 3
        homes.append(os.environ.pop("PREFECT_HOME"))
        assert not (tmp_path / folder / ".prefect").exists()
    assert homes == [str(tmp_path / "state" / "newsmill" / "prefect")] * 2
    assert f"PREFECT_HOME {homes[0]}" in capsys.readouterr().out
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path / "mine"))  # asking for another server
    assert main(["server", "status"]) == 3 and os.environ["PREFECT_HOME"] == str(tmp_path / "mine")
    monkeypatch.delenv("XDG_STATE_HOME")
    assert prefect_server.default_home() == Path("~/.local/state/newsmill/prefect").expanduser()


def test_a_connection_is_use_until_the_next_look():
    """The watchdog's signal: a connection to the port that is open, or that closed since the last look."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        before = server_watch.connections(port)
        assert before == {}  # the listening socket is not use
        client = socket.create_connection(("127.0.0.1", port))
        accepted, _ = listener.accept()
        now = server_watch.connections(port)
        assert server_watch.busy(now, before) and server_watch.busy(now, now)  # open: use at every look
        accepted.close()
        client.close()
        closed = server_watch.connections(port)  # TIME_WAIT: closed, still listed
        assert closed and server_watch.busy(closed, before)
        assert not server_watch.busy(closed, closed)  # seen at the last look, none open: no new use


def test_the_server_stops_when_unused(tmp_path, monkeypatch, fresh_prefect_home):
    """Issue 14.4: NEWSMILL_SERVER_IDLE without a client and the watchdog stops the server and itself, and
    removes its state and secret: the next command starts a new one."""
    home = fresh_prefect_home(tmp_path / "prefect")
    monkeypatch.setenv("NEWSMILL_SERVER_IDLE", "3")
    try:
        info = prefect_server.ensure(home)
        assert info["idle"] == 3
        (server,) = children(info["pid"])
        mine = prefect_server.auth_header(prefect_server.auth_string(home))
        assert httpx.get(info["api_url"] + "/admin/version", headers=mine, timeout=10).status_code == 200
        assert gone(info["pid"], within=180), "the watchdog did not stop"
        assert gone(server, within=10), "the server outlived its watchdog"
        assert prefect_server.status(home) is None
        assert not (home / "newsmill-server.secret").exists()
        log = (home / "newsmill-server.log").read_text()
        assert "no client for 3 s: stopping the server" in log
        with pytest.raises(httpx.HTTPError):
            httpx.get(info["api_url"] + "/health", timeout=2)
    finally:
        prefect_server.stop(home)
