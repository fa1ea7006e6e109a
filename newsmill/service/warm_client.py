"""The warm worker, client side: ``newsmill run`` hands its run to a process that has done the imports.

A cold ``newsmill run`` spends seconds before the first page: importing Prefect
(~1.9 s), Great Expectations (3.5-7 s) and the extraction stack, and again on
first use of each (lazy imports, the GX context, template compilation). A
long-lived local process, the *zygote* (:mod:`newsmill.service.warm_worker`), pays that once:
it imports everything, warms it up on a built-in page, and then, per request,
forks a child that runs the command exactly as the in-process path would
(``newsmill.cli.main``, a Prefect flow on the persistent local server).

This module is what the thin client imports: the standard library only. The
client sends its argv, working folder, environment and umask over a unix socket
(mode 0600 in a 0700 folder of this user, see :func:`home`), with its own stdin,
stdout and stderr *file descriptors* (SCM_RIGHTS): the child writes straight to
the client's terminal, pipe or file, so isatty, the terminal width, the progress
bar, redirections and output order are those of an in-process run. The child
reports its exit code on the socket, then closes the client's descriptors before
Prefect's exit work (flushing logs to the server), so the client returns as soon
as the summary is printed. Ctrl-C (and SIGTERM, SIGHUP) in the client is
forwarded to the child's process group; a second Ctrl-C kills it; a client that
dies makes its child stop (it watches the socket).

The run is the client's, not the worker's: the worker reads the client's credentials and limits
from ``/proc`` and either gives the run the client's cgroup, resource limits, niceness and affinity
or refuses it (:mod:`newsmill.service.peer`); the client then says why in one line and runs the
command itself. The worker's own environment is the starting client's less its secrets
(:func:`worker_environment`); each run gets its client's environment, in the forked run only.

One zygote per user and machine (its folder: :func:`home`), not per working folder or
``PREFECT_HOME``; ``[daemon] dir`` (``NEWSMILL_DAEMON_DIR``) gives a separate one. It is started by
the first client that finds none (under a lock: two clients start one), replaced when the code it
imported (newsmill, the Python, the installed packages) no longer matches the client's (a
fingerprint sent with each request), and exits after ``[daemon] idle`` (``NEWSMILL_DAEMON_IDLE``,
default 15 minutes) without a run, or at ``newsmill daemon stop``. ``NEWSMILL_DAEMON=0`` or
``newsmill run --no-daemon`` run in the calling process instead; so does any failure to reach the
worker (with a warning), before the run has started.
"""
from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import os
import re
import signal
import socket
import stat
import struct
import sys
import time
from contextlib import contextmanager
from pathlib import Path

from newsmill.runtime import flock

PROTOCOL = 1
SOCKET = "newsmill-daemon.sock"
LOCK = "newsmill-daemon.lock"  # flock held by the live zygote for its whole life; holds its details
START_LOCK = "newsmill-daemon.start.lock"  # held by the client that is starting a zygote
LOG = "newsmill-daemon.log"
IDLE_TIMEOUT = 900.0  # seconds without a run before the worker exits ([daemon] idle)
START_TIMEOUT = 120.0  # the zygote's imports and warm-up: ~10 s here, several times that on a loaded machine
HANDSHAKE_TIMEOUT = 30.0
_FALSE = {"0", "false", "no", "off"}
_FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def default_home() -> Path:
    """The user's worker folder: ``$XDG_RUNTIME_DIR/newsmill`` (a per-user tmpfs, emptied at logout) when
    that is this user's, else ``~/.cache/newsmill/daemon`` (``NEWSMILL_CACHE/daemon``)."""
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    if xdg and os.path.isabs(xdg):
        try:
            st = os.stat(xdg)
            if stat.S_ISDIR(st.st_mode) and st.st_uid == os.getuid():
                return Path(xdg) / "newsmill"
        except OSError:
            pass
    return Path(os.environ.get("NEWSMILL_CACHE") or Path.home() / ".cache" / "newsmill").expanduser() / "daemon"


def home(folder: str | os.PathLike | None = None) -> Path:
    """The worker's folder (socket, life lock, log): ``folder`` ([daemon] dir), else ``NEWSMILL_DAEMON_DIR``,
    else :func:`default_home`. One per user and machine: every working folder and ``PREFECT_HOME`` share it."""
    chosen = folder or os.environ.get("NEWSMILL_DAEMON_DIR") or default_home()
    return Path(chosen).expanduser().resolve()


def private_folder(h: Path) -> Path:
    """``h`` created if needed, and only this user's (a directory, owned by us, mode 0700): the socket in it
    is the way into runs as this user. Raises OSError when it is someone else's or not a folder."""
    h.mkdir(parents=True, exist_ok=True, mode=0o700)
    st = os.lstat(h)
    if not stat.S_ISDIR(st.st_mode):
        raise NotADirectoryError(f"{h} is not a folder (a symlink?): the warm worker's folder must be one")
    if st.st_uid != os.getuid():
        raise PermissionError(f"{h} belongs to uid {st.st_uid}, not to you: the warm worker's folder must be yours")
    if st.st_mode & 0o077:
        os.chmod(h, 0o700)
    return h


def enabled(args) -> bool:
    """Whether this ``newsmill run`` goes to the warm worker (a Prefect run, wanted, and possible here:
    Linux, where the worker can check that it runs the job with the client's credentials and limits)."""
    if getattr(args, "no_prefect", False) or getattr(args, "daemon", None) is False:
        return False
    if os.environ.get("NEWSMILL_DAEMON", "").strip().lower() in _FALSE:
        return False
    return (sys.platform.startswith("linux") and hasattr(socket, "AF_UNIX") and hasattr(os, "fork")
            and hasattr(socket, "send_fds"))


def trace(event: str, detail: str = "") -> None:
    """``NEWSMILL_DAEMON_TRACE=path``: append ``event pid monotonic-time [detail]`` (a system-wide clock), so
    that bench/first_result.py can split a run's time between the client, the worker and the exit work."""
    path = os.environ.get("NEWSMILL_DAEMON_TRACE")
    if path:
        with open(path, "a", encoding="utf-8") as f:
            f.write(f"{event} {os.getpid()} {time.monotonic():.6f}{' ' + detail if detail else ''}\n")


# What the long-lived worker keeps of the starting client's environment: what its imports and the Prefect
# server it starts read (paths, locale, Python, Prefect's and newsmill's settings), never a secret. Each run
# gets its own client's whole environment, in the forked run only.
_KEPT = re.compile(r"(PATH|HOME|USER|LOGNAME|SHELL|LANG|LANGUAGE|LC_\w+|TZ|TMPDIR|TEMP|TMP|PYTHON\w*|VIRTUAL_ENV|"
                   r"CONDA_PREFIX|LD_LIBRARY_PATH|SSL_CERT_\w+|(OPENBLAS|OMP|MKL)_\w+|XDG_\w+|DO_NOT_TRACK|"
                   r"GX_ANALYTICS_ENABLED|PREFECT_\w+|DASK_\w+|NEWSMILL_DAEMON\w*|"
                   r"NEWSMILL_PREFECT_SERVER|NEWSMILL_SERVER_\w+|NEWSMILL_CACHE)")
_SECRET = re.compile(r"KEY|SECRET|TOKEN|PASS|CREDENTIAL|AUTH|COOKIE|SESSION|PRIVATE", re.I)


def worker_environment(env: dict | None = None) -> dict:
    """The starting client's environment without what the worker does not need and any secret."""
    env = os.environ if env is None else env
    return {k: v for k, v in env.items() if _KEPT.fullmatch(k) and not _SECRET.search(k)}


def exit_without_teardown(code: int):
    """Exit as Python would, less the teardown of the heap: after a Prefect run (GX, pandas, pyarrow
    loaded), freeing every module and object took ~2 s here, after the summary was printed.

    What an exit must do still happens, in Python's order: ``threading._shutdown`` (Prefect drains its
    log and event services to the server there, and non-daemon threads are joined), then the ``atexit``
    handlers (the temporary server's stop, logging's flush, temporary folders)."""
    import atexit
    import threading

    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    try:
        threading._shutdown()  # noqa: SLF001 (what the interpreter calls first at exit)
    finally:
        try:
            atexit._run_exitfuncs()  # noqa: SLF001
        finally:
            for stream in (sys.stdout, sys.stderr):
                try:
                    stream.flush()
                except (OSError, ValueError):
                    pass
            trace("exit_work_done")
            os._exit(code)


def warn(msg: str) -> None:
    print(f"newsmill: warning: {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- what code the zygote runs


def code_roots() -> list[Path]:
    """The folder of the ``newsmill`` package this process imports (the flow is inside it)."""
    import newsmill

    return [Path(newsmill.__file__).resolve().parent]


def fingerprint() -> str:
    """What the zygote's imports depend on: the Python and ``PYTHONPATH``, newsmill's code (path,
    size, mtime of every .py file) and the installed packages (site-packages changes when one is installed)."""
    h = hashlib.sha256()
    exe = Path(sys.executable)
    h.update(f"{PROTOCOL}\0{exe}\0{exe.resolve()}\0{sys.version}\0{os.environ.get('PYTHONPATH', '')}\0".encode())
    for root in code_roots():
        for d, dirs, files in os.walk(root):
            dirs[:] = sorted(x for x in dirs if x != "__pycache__")
            for f in sorted(files):
                if f.endswith((".py", ".so")):
                    st = os.stat(os.path.join(d, f))
                    h.update(f"{d}/{f}\0{st.st_size}\0{st.st_mtime_ns}\0".encode())
    for p in sys.path:
        if p.endswith(("site-packages", "dist-packages")):
            try:
                h.update(f"{p}\0{os.stat(p).st_mtime_ns}\0".encode())
            except OSError:
                pass
    return h.hexdigest()[:32]


# --------------------------------------------------------------------------- wire format


@contextmanager
def socket_address(h: Path):
    """The socket's address; a long folder (unix socket paths have ~107 bytes) is reached
    through /proc/self/fd/<folder fd>."""
    path = str(h / SOCKET)
    if len(path.encode()) < 100:
        yield path
        return
    fd = os.open(h, os.O_RDONLY | os.O_DIRECTORY)
    try:
        yield f"/proc/self/fd/{fd}/{SOCKET}"
    finally:
        os.close(fd)


def send(sock: socket.socket, obj: dict, fds: list[int] = ()) -> None:
    """One message: 4-byte length, JSON (ASCII: lone surrogates of undecodable bytes survive)."""
    data = json.dumps(obj).encode("ascii")
    msg = struct.pack(">I", len(data)) + data
    sent = socket.send_fds(sock, [msg], list(fds)) if fds else 0
    if sent < len(msg):  # an empty sendall after a peer that already answered and closed is EPIPE
        sock.sendall(msg[sent:])


class Reader:
    """Messages from a stream socket, in order; the first may carry file descriptors."""

    def __init__(self, sock: socket.socket):
        self.sock, self.buf, self.fds = sock, b"", []

    def _fill(self, want_fds: bool) -> bool:
        if want_fds:
            data, fds, _flags, _addr = socket.recv_fds(self.sock, 65536, 8)
            self.fds += fds
        else:
            data = self.sock.recv(65536)
        self.buf += data
        return bool(data)

    def recv(self, want_fds: bool = False) -> dict | None:
        """The next message, or None at end of stream."""
        while len(self.buf) < 4 or len(self.buf) < 4 + struct.unpack(">I", self.buf[:4])[0]:
            if not self._fill(want_fds and not self.fds):
                return None
        n = struct.unpack(">I", self.buf[:4])[0]
        msg, self.buf = self.buf[4 : 4 + n], self.buf[4 + n :]
        return json.loads(msg)


# --------------------------------------------------------------------------- client


def _connect(h: Path) -> socket.socket | None:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        with socket_address(h) as addr:
            s.connect(addr)
        return s
    except OSError:  # no socket file, nobody listening, a stale file
        s.close()
        return None


@contextmanager
def _flock(path: Path, timeout: float):
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        if not flock.wait_lock(fd, timeout=timeout, poll=0.05):
            raise BlockingIOError(errno.EAGAIN, f"{path} stayed locked for {timeout} s")
        yield
    finally:
        os.close(fd)


def _log_tail(h: Path, n: int = 1500) -> str:
    try:
        return (h / LOG).read_text(encoding="utf-8", errors="replace")[-n:].strip()
    except OSError:
        return ""


def start(h: Path | None = None, timeout: float | None = None, idle: float | None = None) -> socket.socket:
    """Connect to the zygote, starting it (once, under a lock) if none answers; it exits after ``idle``
    seconds without a run. Raises OSError or RuntimeError (with its log's tail) if it does not come up."""
    import subprocess

    h = h or home()
    if (s := _connect(h)) is not None:
        return s
    private_folder(h)
    timeout = timeout or float(os.environ.get("NEWSMILL_DAEMON_START_TIMEOUT") or START_TIMEOUT)
    with _flock(h / START_LOCK, timeout):
        if (s := _connect(h)) is not None:  # another client started it while we waited
            return s
        log = h / LOG
        if log.exists() and log.stat().st_size > 2_000_000:
            log.replace(log.with_suffix(".log.1"))
        boot = ("import sys, json; sys.path[:] = json.loads(sys.argv[1]) + [p for p in sys.path if p]; "
                "from newsmill.service.warm_worker import main; main()")  # not '': the cwd of each run is not code
        path = [str(r.parent) for r in code_roots()]
        env = {**worker_environment(), "NEWSMILL_DAEMON_DIR": str(h),
               "NEWSMILL_DAEMON_IDLE": str(idle or os.environ.get("NEWSMILL_DAEMON_IDLE") or IDLE_TIMEOUT)}
        with open(log, "ab") as out:
            proc = subprocess.Popen([sys.executable, "-c", boot, json.dumps(path)], stdin=subprocess.DEVNULL,
                                    stdout=out, stderr=subprocess.STDOUT, cwd=h, start_new_session=True, env=env)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if (s := _connect(h)) is not None:
                return s
            if proc.poll() not in (None, 3):  # 3: another zygote holds the life lock and is still starting
                if (s := _connect(h)) is not None:
                    return s
                raise RuntimeError(f"it exited with code {proc.returncode}; log {log}:\n{_log_tail(h)}")
            time.sleep(0.05)
        raise RuntimeError(f"it did not answer within {timeout:.0f} s; log {log}:\n{_log_tail(h)}")


def _request(argv: list[str], fp: str, idle: float | None = None) -> dict:
    stdio = {}
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        stdio[name] = {"encoding": getattr(stream, "encoding", None), "errors": getattr(stream, "errors", None)}
    return {"v": PROTOCOL, "argv": list(argv), "cwd": os.getcwd(), "env": dict(os.environ),
            "umask": _umask(), "fingerprint": fp, "stdio": stdio, "idle": idle}


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _open_stdio() -> list[int]:
    fds = []
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
            fds.append(fd)
        except OSError:
            pass
    return fds


def run_remote(argv: list[str], folder: str | os.PathLike | None = None, idle: float | None = None) -> int | None:
    """Run ``newsmill <argv>`` in a child of the zygote (the one in ``folder``, see :func:`home`); its exit
    code, or None when the worker could not or would not take the run before it started (the caller then
    runs it in this process)."""
    trace("client")
    h = home(folder)
    try:
        fp = fingerprint()
        req = _request(argv, fp, idle)
    except OSError as exc:  # e.g. the working folder was removed
        warn(f"the warm worker cannot take this run ({exc}): running in this process")
        return None
    for _attempt in range(3):
        try:
            sock = start(h, idle=idle)
        except (OSError, RuntimeError) as exc:
            warn(f"the warm worker did not start ({exc}): running in this process")
            return None
        with sock:
            fds = _open_stdio()
            try:
                sock.settimeout(HANDSHAKE_TIMEOUT)
                send(sock, {**req, "fds": fds}, fds)
                reader = Reader(sock)
                reply = reader.recv()
            except TimeoutError:
                reply = {"error": f"no answer within {HANDSHAKE_TIMEOUT:.0f} s"}
            except OSError:  # reset: it was retiring
                reply = None
            if reply is None or "stale" in reply:  # it retired (other code, idle): the next attempt starts anew
                continue
            if "refused" in reply:  # it could not run this as this process would: credentials, limits
                warn(f"the warm worker would not run this as you ({reply['refused']}): running in this process")
                return None
            if "started" not in reply:
                why = reply.get("error") or f"it failed before the run started; log {h / LOG}"
                warn(f"the warm worker did not take the run ({why}): running in this process")
                return None
            try:
                send(sock, {"go": True})  # from here on, the run is the child's: no fallback
            except OSError as exc:
                warn(f"the warm worker went away ({exc}): running in this process")
                return None
            sock.settimeout(None)
            trace("client_started")
            code = _follow(sock, reader, h)
            trace("client_exit")
            return code
    warn("the warm worker closed the connection three times: running in this process")
    return None


def _follow(sock: socket.socket, reader: Reader, h: Path) -> int:
    """Wait for the child's exit code, forwarding signals to it meanwhile."""
    interrupts = {"n": 0, "first": None}

    def forward(signum, _frame):
        sig = signum
        interrupts["n"] += 1
        interrupts["first"] = interrupts["first"] or signum
        if signum == signal.SIGINT:
            if interrupts["n"] > 1:  # a second Ctrl-C: stop now
                sig = signal.SIGKILL
            else:
                print("\nnewsmill: stopping the run (killed in a few seconds if it does not stop; Ctrl-C again to "
                      "kill it now)", file=sys.stderr, flush=True)
        try:
            send(sock, {"signal": int(sig)})
        except OSError:
            pass

    previous = {s: signal.signal(s, forward) for s in _FORWARDED}
    try:
        while True:
            try:
                msg = reader.recv()
            except OSError:
                msg = None
            if msg is None:
                print(f"newsmill: the worker ended without an exit code (see {h / LOG})", file=sys.stderr)
                return 130 if interrupts["n"] else 1
            if "exit" in msg:
                break
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
    if msg.get("signal") == signal.SIGKILL and interrupts["first"]:  # we asked it to stop: it was
        return 128 + int(interrupts["first"])
    if msg.get("signal"):  # killed: end the same way, as the shell would have seen the run end in-process
        sig = int(msg["signal"])
        sys.stdout.flush()
        sys.stderr.flush()
        try:
            signal.signal(sig, signal.SIG_DFL)
            os.kill(os.getpid(), sig)
        except (OSError, ValueError):
            pass
    return int(msg["exit"])


# --------------------------------------------------------------------------- status / stop


def status(h: Path | None = None) -> dict | None:
    """The live zygote's details (pid, fingerprint, started, socket), or None."""
    h = h or home()
    try:
        fd = os.open(h / LOCK, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)  # we got it: nobody holds it, no zygote
            return None
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.EACCES):
                raise
        try:
            info = json.loads(os.pread(fd, 4096, 0) or b"{}")
        except ValueError:
            info = {}
        info["running"] = True
        info["current"] = info.get("fingerprint") == fingerprint()
        return info
    finally:
        os.close(fd)


def stop(h: Path | None = None, timeout: float = 10.0) -> bool:
    """Stop the zygote (runs in progress finish: they are its children's, not its own); True if one ran."""
    h = h or home()
    info = status(h)
    if not info or not isinstance(info.get("pid"), int):
        return False
    try:
        os.kill(info["pid"], signal.SIGTERM)
    except ProcessLookupError:
        return False
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if status(h) is None:
            return True
        time.sleep(0.05)
    try:
        os.kill(info["pid"], signal.SIGKILL)
    except ProcessLookupError:
        pass
    return True
