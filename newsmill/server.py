"""A local Prefect server that newsmill starts once and then reuses.

Without one, every ``newsmill run`` process starts Prefect's temporary server:
~11-17 s before the first flow on this kind of machine.  A persistent server on
127.0.0.1 (state under ``PREFECT_HOME``) answers a new process in about a
second, which is what makes a one-page run feel immediate.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from newsmill.lock import pid_alive

_STATE_FILE = "newsmill-server.json"


def _home() -> Path:
    return Path(os.environ.get("PREFECT_HOME", Path.home() / ".prefect")).resolve()


def _state_path(home: Path | None = None) -> Path:
    return (home or _home()) / _STATE_FILE


def _healthy(url: str, timeout: float = 2.0) -> bool:
    try:
        return httpx.get(f"{url}/health", timeout=timeout).status_code == 200
    except httpx.HTTPError:
        return False


def _alive(pid: int) -> bool:
    try:
        os.waitpid(pid, os.WNOHANG)  # reap it if it is our own child that exited
    except ChildProcessError:
        pass
    return pid_alive(pid)


def status(home: Path | None = None) -> dict | None:
    """The running server's {pid, port, api_url, log}, or None (a stale state file is removed)."""
    path = _state_path(home)
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return None
    if _alive(int(info.get("pid", -1))) and _healthy(info["api_url"]):
        return info
    path.unlink(missing_ok=True)
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _prefect_cli() -> list[str]:
    exe = Path(sys.executable).with_name("prefect")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "prefect"]


def start(home: Path | None = None, *, port: int | None = None, timeout: float = 90.0) -> dict:
    """Start (or find) the server; returns its state.  Raises RuntimeError with the log tail on failure."""
    home = home or _home()
    if info := status(home):
        return info
    home.mkdir(parents=True, exist_ok=True)
    port = port or _free_port()
    log = home / "newsmill-server.log"
    env = {**os.environ, "PREFECT_HOME": str(home), "DO_NOT_TRACK": "1",
           "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "PREFECT_API_URL": ""}
    with open(log, "ab") as out:
        proc = subprocess.Popen([*_prefect_cli(), "server", "start", "--host", "127.0.0.1", "--port", str(port),
                                 "--no-ui"], stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env=env, start_new_session=True)
    info = {"pid": proc.pid, "port": port, "api_url": f"http://127.0.0.1:{port}/api", "log": str(log)}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        if _healthy(info["api_url"], timeout=1.0):
            _state_path(home).write_text(json.dumps(info), encoding="utf-8")
            return info
        time.sleep(0.3)
    _kill(proc.pid)
    tail = log.read_text(encoding="utf-8", errors="replace")[-2000:] if log.exists() else ""
    raise RuntimeError(f"the Prefect server did not come up on 127.0.0.1:{port} within {timeout:.0f} s:\n{tail}")


def _kill(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        return
    for _ in range(50):
        if not _alive(pid):
            return
        time.sleep(0.1)
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def stop(home: Path | None = None) -> bool:
    """Stop the server this home started; True if one was running."""
    path = _state_path(home)
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return False
    _kill(int(info["pid"]))
    path.unlink(missing_ok=True)
    return True
