"""A local Prefect server that newsmill starts once and then reuses.

Without one, every ``newsmill run`` process starts Prefect's temporary server:
~6 s to start (17 s and more on a fresh database, past Prefect's own 20 s
timeout on a loaded machine), ~2 s to stop at exit, and the code to run it
(~2.8 s of imports). A persistent ``prefect server start`` on 127.0.0.1 answers a
new process at once, keeps the flow runs visible after the run, and is what
``newsmill serve`` needs to schedule anything.

One server per user, not per working folder: ``PREFECT_HOME`` defaults to
``$XDG_STATE_HOME/newsmill/prefect`` (``~/.local/state/newsmill/prefect``), made
for this user only (0700); an explicit ``PREFECT_HOME`` is how a user asks for
another one. State lives there: ``newsmill-server.json`` (pid, port, API URL,
log), ``newsmill-server.log``, ``newsmill-server.secret`` and
``newsmill-server.lock``, an flock held while a server is being started, so
that two commands started together start one server, not two.

Only this user can use it: it listens on 127.0.0.1, and every request but the
health check needs Prefect's basic auth (``PREFECT_SERVER_API_AUTH_STRING``),
with a random secret made for each server and kept in the 0600 secret file;
newsmill's own clients get it as ``PREFECT_API_AUTH_STRING`` (:func:`use_local_server`),
the UI asks for it. The server's environment is the settings it needs, not the
caller's secrets. It stops after ``NEWSMILL_SERVER_IDLE`` without a client
(:mod:`newsmill.service.server_watch`, the parent of ``prefect server start``).

Why not ``prefect server start --background``: it pipes the server's output
to a pipe nobody reads (no log, and a full pipe blocks the server), keeps it in
the caller's process group (a Ctrl-C there reaches it), records a pid without
its port (``prefect server stop`` signals whatever has that pid now) and has no
start lock, readiness wait or idle stop. So the process is managed here, and
Prefect's settings do the rest (host, port, the UI's API URL, auth).

Health is checked with the stdlib (no httpx) so that a thin client can afford
it, and a recorded pid is only trusted (or signalled) while its command line
still names the recorded port: a pid reused after a reboot is never killed.
"""
from __future__ import annotations

import http.client
import base64
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

from newsmill.runtime import flock
from newsmill.service import server_watch
from newsmill.store.lock import pid_alive

_STATE_FILE = server_watch.STATE_FILE
_LOCK_FILE = server_watch.LOCK_FILE
_SECRET_FILE = server_watch.SECRET_FILE
_LOG_FILE = "newsmill-server.log"
START_TIMEOUT = 180.0  # seconds; a fresh database took ~25 s on a loaded 2-core machine, over 90 s at load 9-10
IDLE_TIMEOUT = 1800.0  # seconds without a client after which the server stops (NEWSMILL_SERVER_IDLE)
_FALSE = {"0", "false", "no", "off", "temporary"}
_NEVER = {"0", "off", "never", "none"}
_WATCH = "newsmill.service.server_watch"
# what the server's process gets of the caller's environment (13.11: no client secrets in a long-lived process)
_SERVER_ENV = {"PATH", "HOME", "USER", "LOGNAME", "LANG", "LANGUAGE", "TZ", "TMPDIR", "PYTHONPATH", "PYTHONHOME",
               "VIRTUAL_ENV", "SSL_CERT_FILE", "SSL_CERT_DIR", "SYSTEMROOT", "DO_NOT_TRACK"}
_CLIENT_ONLY = {"PREFECT_API_URL", "PREFECT_API_KEY", "PREFECT_API_AUTH_STRING", "PREFECT_UI_API_URL"}


class ServerError(RuntimeError):
    """The local server could not be started (the message has the log's tail)."""


def default_home() -> Path:
    """The per-user home: ``$XDG_STATE_HOME/newsmill/prefect``, else ``~/.local/state/newsmill/prefect``
    (whatever the working folder: one server and one warm worker per user)."""
    state = os.environ.get("XDG_STATE_HOME", "")
    base = Path(state) if os.path.isabs(state) else Path("~/.local/state").expanduser()
    return base / "newsmill" / "prefect"


def home() -> Path:
    return Path(os.environ.get("PREFECT_HOME") or default_home()).expanduser().resolve()


def private_dir(path: Path) -> Path:
    """``path`` and the folders above it that are missing, created for this user only (0700).

    The home holds Prefect's database (flow-run parameters, logs) and the server's secret."""
    missing = []
    p = path
    while not p.exists() and p != p.parent:
        missing.append(p)
        p = p.parent
    for d in reversed(missing):
        try:
            d.mkdir(mode=0o700)
        except FileExistsError:
            pass
    return path


def idle_timeout(env=None) -> float:
    """``NEWSMILL_SERVER_IDLE``: seconds, or e.g. '90s', '30m', '2h'; 0/off/never: no idle stop."""
    raw = (os.environ if env is None else env).get("NEWSMILL_SERVER_IDLE", "").strip()
    if not raw:
        return IDLE_TIMEOUT
    if raw.lower() in _NEVER:
        return 0.0
    from newsmill.config import ConfigError, parse_interval

    try:
        return parse_interval(raw)
    except ValueError as exc:
        raise ConfigError(f"environment NEWSMILL_SERVER_IDLE: {exc} (0 or 'never': no idle stop)") from None


def auth_string(home: Path | None = None) -> str | None:
    """The running server's auth string (``user:secret``, Prefect's ``PREFECT_API_AUTH_STRING``), or None."""
    try:
        return ((home or _home()) / _SECRET_FILE).read_text(encoding="utf-8").strip() or None
    except OSError:
        return None


def client_env(home: Path | None = None) -> dict[str, str]:
    """What a Prefect client needs to use the running server: ``PREFECT_API_URL`` and
    ``PREFECT_API_AUTH_STRING`` ({} when none runs)."""
    home = home or _home()
    info = status(home)
    secret = auth_string(home)
    return {"PREFECT_API_URL": info["api_url"], "PREFECT_API_AUTH_STRING": secret} if info and secret else {}


def _new_secret(home: Path) -> str:
    """A new random auth string, written to the secret file (0600, replaced atomically)."""
    value = "newsmill:" + secrets.token_urlsafe(32)
    path = home / _SECRET_FILE
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(value + "\n")
    os.replace(tmp, path)
    return value


_home = home


def _state_path(home: Path | None = None) -> Path:
    return (home or _home()) / _STATE_FILE


def _read_state(home: Path) -> dict | None:
    try:
        info = json.loads(_state_path(home).read_text(encoding="utf-8"))
        return info if isinstance(info.get("pid"), int) and isinstance(info.get("port"), int) else None
    except (OSError, ValueError):
        return None


def _get(info_or_url, path: str, headers: dict | None = None, timeout: float = 2.0) -> int | None:
    """The status of GET ``path``, None without an answer (plain http.client: no proxy, no httpx import)."""
    port = info_or_url["port"] if isinstance(info_or_url, dict) else int(info_or_url.rsplit(":", 1)[1].split("/")[0])
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path, headers=headers or {})
        return conn.getresponse().status
    except (OSError, http.client.HTTPException):
        return None
    finally:
        conn.close()


def _healthy(info_or_url, timeout: float = 2.0) -> bool:
    """GET /api/health answers 200 (the one path Prefect's auth leaves open)."""
    return _get(info_or_url, "/api/health", timeout=timeout) == 200


def auth_header(secret: str) -> dict[str, str]:
    """The HTTP header Prefect's client sends for ``PREFECT_API_AUTH_STRING``."""
    return {"Authorization": "Basic " + base64.b64encode(secret.encode("utf-8")).decode("ascii")}


def _refuses(info: dict, secret: str | None) -> bool:
    """The server says 401 to this home's secret (its secret file is gone or replaced). A slow answer is
    not a refusal: a busy server is not replaced under a run."""
    return _get(info, "/api/admin/version", auth_header(secret or "-"), timeout=10.0) == 401


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
    if _WATCH.encode() in cmd:
        return f"--port={info['port']}".encode() in cmd
    return b"server" in cmd and str(info["port"]).encode() in cmd  # a server started by an older newsmill


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


def _server_env(home: Path, port: int, secret: str) -> dict[str, str]:
    """The server's environment: the settings it needs and the caller's PREFECT_* server settings, nothing
    else of the caller's (its secrets, NEWSMILL_AUTHOR_KEY, AWS_*, stay with the caller)."""
    env = {k: v for k, v in os.environ.items()
           if k in _SERVER_ENV or k.startswith(("LC_", "XDG_")) or (k.startswith("PREFECT_") and k not in _CLIENT_ONLY)}
    root = str(Path(__file__).resolve().parents[2])  # the watchdog is `python -m newsmill...`, run from the home
    env["PYTHONPATH"] = os.pathsep.join([root, *[p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]])
    api_url = f"http://127.0.0.1:{port}/api"
    env.update(PREFECT_HOME=str(home), DO_NOT_TRACK="1", PREFECT_SERVER_ANALYTICS_ENABLED="false",
               PREFECT_SERVER_API_HOST="127.0.0.1", PREFECT_SERVER_API_PORT=str(port),
               PREFECT_SERVER_UI_API_URL=api_url,  # the UI's settings: the real port, not 4200
               PREFECT_SERVER_API_AUTH_STRING=secret,
               PREFECT_LOGGING_LEVEL=os.environ.get("NEWSMILL_SERVER_LOGGING_LEVEL", "WARNING"))
    return env


def _spawn(home: Path, port: int | None = None, ui: bool = False, idle: float | None = None) -> dict:
    """Start the watchdog and, as its child, ``prefect server start``, detached (own session: a Ctrl-C in a
    terminal does not reach them)."""
    private_dir(home)
    idle = idle_timeout() if idle is None else idle
    port = port or _free_port()
    log = home / _LOG_FILE
    if log.exists() and log.stat().st_size > 5_000_000:  # a long-lived server's log, kept bounded
        log.replace(log.with_suffix(".log.1"))
    secret = _new_secret(home)
    server = [*_prefect_cli(), "server", "start", "--host", "127.0.0.1", "--port", str(port),
              "--ui" if ui else "--no-ui"]
    fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    with open(fd, "ab") as out:
        out.write(f"\n--- newsmill: starting the Prefect server on 127.0.0.1:{port} "
                  f"({time.strftime('%Y-%m-%d %H:%M:%S')}; idle stop "
                  f"{f'after {idle:.0f} s' if idle > 0 else 'off'})\n".encode())
        out.flush()
        proc = subprocess.Popen([sys.executable, "-m", _WATCH, f"--port={port}", f"--idle={idle}",
                                 f"--home={home}", "--", *server],
                                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env=_server_env(home, port, secret), cwd=home, start_new_session=True)
    info = {"pid": proc.pid, "port": port, "api_url": f"http://127.0.0.1:{port}/api", "log": str(log),
            "started": time.time(), "ui": ui, "idle": idle, "auth": True}
    tmp = _state_path(home).with_suffix(".json.tmp")
    tmp.write_text(json.dumps(info), encoding="utf-8")
    os.replace(tmp, _state_path(home))
    return info


def spawn(home: Path | None = None) -> dict | None:
    """Start a server without waiting for it (None if one runs or another command is starting one).

    The warm worker calls this before its own imports: both take seconds, on two cores they overlap."""
    home = home or _home()
    try:
        idle = idle_timeout()
    except ValueError:  # a bad NEWSMILL_SERVER_IDLE: the run's own ensure() says so (exit 2)
        return None
    private_dir(home)
    with _locked(home / _LOCK_FILE, None) as got:
        if not got or status(home) is not None:
            return None
        return _spawn(home, idle=idle)


def ensure(home: Path | None = None, *, port: int | None = None, timeout: float = START_TIMEOUT,
           ui: bool = False) -> dict:
    """The running server's state, started (once, under the lock) if needed; waits until it answers.

    Raises ServerError with the log's tail when it does not answer within ``timeout`` seconds (the
    server is then stopped: the next command starts afresh), ConfigError for a bad NEWSMILL_SERVER_IDLE.
    A running server that does not take this home's secret (one started by an older newsmill, without
    auth) is replaced. ``ui`` only matters for a server started here: see the state's ``ui``."""
    home = home or _home()
    idle = idle_timeout()
    private_dir(home)
    deadline = time.monotonic() + timeout
    with _locked(home / _LOCK_FILE, timeout):
        info = status(home)
        if info is not None and info.pop("healthy"):
            if info.get("auth") and not _refuses(info, auth_string(home)):  # a request: the watchdog sees use
                return info
            _kill(info["pid"])
            _state_path(home).unlink(missing_ok=True)
            info = None
        if info is None:
            info = _spawn(home, port, ui, idle)
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
    (home / _SECRET_FILE).unlink(missing_ok=True)
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
        _own_auth(url)
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
    _use(info["api_url"], auth_string())
    return info["api_url"]


def use_running_server() -> str | None:
    """Point this process at newsmill's local server when one is running and answering, without starting
    or waiting for one (None otherwise, and nothing changed). What the thin client of the warm worker does
    before it hands a run over: the run then builds Prefect's settings once, with the server in them,
    instead of twice (~0.1-0.3 s); a server that is not running is left to the run (:func:`use_local_server`)."""
    if configured_api_url() or os.environ.get("NEWSMILL_PREFECT_SERVER", "").strip().lower() in _FALSE:
        return None
    try:
        info = status()
        secret = auth_string()
    except (OSError, ValueError):
        return None
    if info is None or not info.get("healthy") or not info.get("auth") or not secret:
        return None
    _use(info["api_url"], secret)
    return info["api_url"]


def _use(url: str, secret: str | None) -> None:
    os.environ["PREFECT_API_URL"] = url
    if secret:
        os.environ["PREFECT_API_AUTH_STRING"] = secret
    if "prefect.context" in sys.modules:  # settings were read when Prefect was imported
        import prefect.context

        prefect.context.refresh_global_settings_context()


def _own_auth(url: str) -> None:
    """``PREFECT_API_URL`` names newsmill's running server (exported by hand, as `newsmill server status`
    shows) and no auth string is set: this home's secret goes with it."""
    if os.environ.get("PREFECT_API_AUTH_STRING"):
        return
    info = status()
    if info is not None and info["api_url"].rstrip("/") == url.rstrip("/") and (secret := auth_string()):
        _use(info["api_url"], secret)
