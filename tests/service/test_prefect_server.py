"""The persistent local Prefect server: started once, found again, stopped cleanly."""
from __future__ import annotations

import httpx
import pytest

from newsmill.service import prefect_server

pytestmark = pytest.mark.slow


def test_start_reuse_stop(tmp_path):
    home = tmp_path / "prefect"
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


def test_two_commands_at_once_start_one_server(tmp_path):
    """The start lock: two starts racing (two threads here, two commands in life) get the same server."""
    from concurrent.futures import ThreadPoolExecutor

    home = tmp_path / "prefect"
    try:
        with ThreadPoolExecutor(2) as pool:
            a, b = pool.map(lambda _: prefect_server.ensure(home), range(2))
        assert a["pid"] == b["pid"] and a["port"] == b["port"]
    finally:
        prefect_server.stop(home)
    assert prefect_server.status(home) is None


def test_cli_server_commands(tmp_path, monkeypatch, capsys):
    from newsmill.cli import main

    monkeypatch.setenv("PREFECT_HOME", str(tmp_path / "prefect"))
    assert main(["server", "status"]) == 3
    assert "not running" in capsys.readouterr().out
    assert main(["server", "stop"]) == 0
    assert "not running" in capsys.readouterr().out
    assert main(["daemon", "status"]) == 3
