"""The persistent local Prefect server: started once, found again, stopped cleanly."""
from __future__ import annotations

import httpx
import pytest

from newsmill import server

pytestmark = pytest.mark.slow


def test_start_reuse_stop(tmp_path):
    home = tmp_path / "prefect"
    try:
        info = server.start(home)
        assert info["api_url"].startswith("http://127.0.0.1:")
        assert httpx.get(info["api_url"] + "/health", timeout=5).status_code == 200
        again = server.start(home)  # a second start finds the running one
        assert again["pid"] == info["pid"] and server.status(home)["port"] == info["port"]
    finally:
        assert server.stop(home)
    assert server.status(home) is None
    assert not server._alive(info["pid"])
    with pytest.raises(httpx.HTTPError):
        httpx.get(info["api_url"] + "/health", timeout=2)


def test_stale_state_is_ignored(tmp_path):
    home = tmp_path / "prefect"
    home.mkdir()
    (home / "newsmill-server.json").write_text('{"pid": 999999, "port": 1, "api_url": "http://127.0.0.1:1/api"}')
    assert server.status(home) is None
    assert not (home / "newsmill-server.json").exists()
