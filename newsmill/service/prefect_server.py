"""A local Prefect server that newsmill starts once and then reuses.

Without one, every ``newsmill run`` process starts Prefect's temporary server:
~6 s to start (17 s and more on a fresh database, past Prefect's own 20 s
timeout on a loaded machine), ~2 s to stop at exit, and the code to run it
(~2.8 s of imports). A persistent ``prefect server start`` on 127.0.0.1 answers a
new process at once, keeps the flow runs visible after the run, and is what
``newsmill serve`` needs to schedule anything.

State lives in ``PREFECT_HOME``: ``newsmill-server.json`` (pid, port, API URL,
log), ``newsmill-server.log``, and ``newsmill-server.lock``, an flock held while
a server is being started, so that two commands started together start one
server, not two. Health is checked with the stdlib (no httpx) so that a thin
client can afford it, and a recorded pid is only trusted (or signalled) while
its command line still names the recorded port: a pid reused after a reboot is
never killed.
"""
from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

from newsmill.runtime import flock
from newsmill.store.lock import pid_alive

_STATE_FILE = "newsmill-server.json"
_LOCK_FILE = "newsmill-server.lock"
_LOG_FILE = "newsmill-server.log"
START_TIMEOUT = 90.0  # seconds; a fresh database on a loaded 2-core machine took ~25 s
_FALSE = {"0", "false", "no", "off", "temporary"}


class ServerError(RuntimeError):
    """The local server could not be started (the message has the log's tail)."""


def home() -> Path:
    return Path(os.environ.get("PREFECT_HOME") or "~/.prefect").expanduser().resolve()


_home = home


def _state_path(home: Path | None = None) -> Path:
    return (home or _home()) / _STATE_FILE


def _read_state(home: Path) -> dict | None:
    try:
        info = json.loads(_state_path(home).read_text(encoding="utf-8"))
        return info if isinstance(info.get("pid"), int) and isinstance(info.get("port"), int) else None
    except (OSError, ValueError):
        return None


def _healthy(info_or_url, timeout: float = 2.0) -> bool:
    """GET /api/health answers 200 (plain http.client: no proxy, no httpx import)."""
    port = info_or_url["port"] if isinstance(info_or_url, dict) else int(info_or_url.rsplit(":", 1)[1].split("/")[0])
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", "/api/health")
        return conn.getresponse().status == 200
    except (OSError, http.client.HTTPException):
        return False
    finally:
        conn.close()


def _alive(pid: int) -> bool:
    try:
        os.waitpid(pid, os.WNOHANG)  # reap it if it is our own child that exited
    except ChildProcessError:
        pass
    return pid_alive(pid)


def _is_ours(info: dict) -> bool:
    """The recorded pid is alive and still the server started on the recorded port (not a reused pid)."""
    pid = info["pid"]
    if not _alive(pid):
        return False
    try:
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except FileNotFoundError:
        return False
    except OSError:  # no /proc: trust the pid
        return True
    return b"server" in cmd and str(info["port"]).encode() in cmd


def status(home: Path | None = None) -> dict | None:
    """The server's {pid, port, api_url, log, healthy}, or None when none runs (a stale state file is removed).

    ``healthy`` is False while a server is still starting (or hangs)."""
    home = home or _home()
    info = _read_state(home)
    if info is None:
        return None
    if not _is_ours(info):
        _state_path(home).unlink(missing_ok=True)
        return None
    return {**info, "healthy": _healthy(info)}


@contextmanager
def _locked(path: Path, timeout: float | None):
    """flock on ``path`` (waits up to ``timeout`` s; None: returns at once with False if busy)."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        if timeout is None:
            if not flock.try_lock(fd):
                yield False
                return
        elif not flock.wait_lock(fd, timeout=timeout, poll=0.1):
            raise ServerError(f"another newsmill command has been starting the Prefect server for "
                              f"{timeout:.0f} s (lock {path})")
        yield True
    finally:
        os.close(fd)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _prefect_cli() -> list[str]:
    exe = Path(sys.executable).with_name("prefect")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "prefect"]


def _spawn(home: Path, port: int | None = None, ui: bool = False) -> dict:
    """Start ``prefect server start`` detached (own session: a Ctrl-C in a terminal does not reach it)."""
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    port = port or _free_port()
    log = home / _LOG_FILE
    if log.exists() and log.stat().st_size > 5_000_000:  # a long-lived server's log, kept bounded
        log.replace(log.with_suffix(".log.1"))
    env = {**os.environ, "PREFECT_HOME": str(home), "DO_NOT_TRACK": "1",
           "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "PREFECT_API_URL": "",
           "PREFECT_LOGGING_LEVEL": os.environ.get("NEWSMILL_SERVER_LOGGING_LEVEL", "WARNING")}
    with open(log, "ab") as out:
        out.write(f"\n--- newsmill: starting the Prefect server on 127.0.0.1:{port} "
                  f"({time.strftime('%Y-%m-%d %H:%M:%S')})\n".encode())
        out.flush()
        proc = subprocess.Popen([*_prefect_cli(), "server", "start", "--host", "127.0.0.1", "--port", str(port),
                                 *([] if ui else ["--no-ui"])], stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, env=env, cwd=home, start_new_session=True)
    info = {"pid": proc.pid, "port": port, "api_url": f"http://127.0.0.1:{port}/api", "log": str(log),
            "started": time.time()}
    tmp = _state_path(home).with_suffix(".json.tmp")
    tmp.write_text(json.dumps(info), encoding="utf-8")
    os.replace(tmp, _state_path(home))
    return info


def spawn(home: Path | None = None) -> dict | None:
    """Start a server without waiting for it (None if one runs or another command is starting one).

    The warm worker calls this before its own imports: both take seconds, on two cores they overlap."""
    home = home or _home()
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    with _locked(home / _LOCK_FILE, None) as got:
        if not got or status(home) is not None:
            return None
        return _spawn(home)


def ensure(home: Path | None = None, *, port: int | None = None, timeout: float = START_TIMEOUT,
           ui: bool = False) -> dict:
    """The running server's state, started (once, under the lock) if needed; waits until it answers.

    Raises ServerError with the log's tail when it does not answer within ``timeout`` seconds (the
    server is then stopped: the next command starts afresh)."""
    home = home or _home()
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    deadline = time.monotonic() + timeout
    with _locked(home / _LOCK_FILE, timeout):
        info = status(home)
        if info is not None and info.pop("healthy"):
            return info
        if info is None:
            info = _spawn(home, port, ui)
        while time.monotonic() < deadline:
            if not _alive(info["pid"]):
                break
            if _healthy(info, timeout=1.0):
                return info
            time.sleep(0.2)
        _kill(info["pid"])
        _state_path(home).unlink(missing_ok=True)
    log = Path(info["log"])
    tail = log.read_text(encoding="utf-8", errors="replace")[-2000:] if log.exists() else ""
    raise ServerError(f"the Prefect server did not answer on 127.0.0.1:{info['port']} within {timeout:.0f} s "
                      f"(log {log}):\n{tail}")


start = ensure  # the name the first version had


def _kill(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        return
    for _ in range(100):
        if not _alive(pid):
            return
        time.sleep(0.1)
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def stop(home: Path | None = None) -> bool:
    """Stop the server this home started; True if one was running."""
    home = home or _home()
    info = _read_state(home)
    if info is None:
        return False
    running = _is_ours(info)
    if running:
        _kill(info["pid"])
    _state_path(home).unlink(missing_ok=True)
    return running


def configured_api_url() -> str | None:
    """The Prefect API the user chose: ``PREFECT_API_URL``, else Prefect's current settings when Prefect is
    already loaded (a test harness, a profile), else the active profile in ``PREFECT_HOME/profiles.toml``."""
    url = os.environ.get("PREFECT_API_URL")
    if url:
        return url
    if "prefect.context" in sys.modules:
        from prefect.settings import get_current_settings

        url = get_current_settings().api.url
        return str(url) if url else None
    try:
        import tomllib

        profiles = tomllib.loads((_home() / "profiles.toml").read_text(encoding="utf-8"))
        active = os.environ.get("PREFECT_PROFILE") or profiles.get("active", "ephemeral")
        return (profiles.get("profiles", {}).get(active, {}).get("PREFECT_API_URL") or None)
    except (OSError, ValueError):
        return None


def use_local_server(*, required: bool = False) -> str | None:
    """Point this process at a Prefect server: the configured one, else newsmill's local server (started
    if needed). Sets ``PREFECT_API_URL`` (and refreshes Prefect's settings if Prefect is loaded).

    On failure: raises ServerError when ``required`` (``newsmill serve``), else warns and returns None,
    and the run uses Prefect's temporary server, with a startup timeout raised from Prefect's 20 s.
    ``NEWSMILL_PREFECT_SERVER=temporary`` (or 0) asks for the temporary server."""
    url = configured_api_url()
    if url:
        return url
    if not required and os.environ.get("NEWSMILL_PREFECT_SERVER", "").strip().lower() in _FALSE:
        os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")
        return None
    try:
        info = ensure()
    except (ServerError, OSError) as exc:
        if required:
            raise ServerError(str(exc)) from None
        print(f"newsmill: warning: the local Prefect server could not be started ({str(exc).splitlines()[0]}); "
              "this run uses Prefect's temporary server", file=sys.stderr, flush=True)
        os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")
        return None
    os.environ["PREFECT_API_URL"] = info["api_url"]
    if "prefect.context" in sys.modules:  # settings were read when Prefect was imported
        import prefect.context

        prefect.context.refresh_global_settings_context()
    return info["api_url"]
