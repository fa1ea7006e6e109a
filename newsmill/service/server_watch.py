"""The watchdog of newsmill's local Prefect server: it runs the server and stops it once nothing uses it.

newsmill starts ``python -m newsmill.service.server_watch --port P --idle S --home H -- prefect server
start ...`` in a session of its own. This process starts the server as its child, in its own process
group: ``newsmill server stop`` ends both with one signal to the group, a server that exits ends the
watchdog, and a watchdog that is killed takes the server with it (the child's parent-death signal).

*Idle* means no client, and the kernel says so: its table of TCP connections (``/proc/net/tcp``) lists
every connection to the server's port that is open (a running flow run holds its events websocket open,
``newsmill serve`` polls every few seconds, an open UI polls) or that closed less than a minute ago (the
TIME_WAIT state). Looks spaced less than that apart miss none. So every client counts, whatever speaks to
the API (runs, ``serve``, the UI, ``prefect`` commands, newsmill's own start-up health check), and a flow
run whose process was killed (left RUNNING in the database) does not keep the server up for ever, as a
query for running flow runs would. Prefect has no idle stop of its own. This process makes no request
itself, so it never counts as use.

The stop is decided under newsmill's start lock (a command that starts or finds the server holds it and
makes a health request, which is use) and removes the state file that names this process, so the next
command starts a new server. Where the table cannot be read (not Linux), the server runs until
``newsmill server stop``. Standard library only: it stays small beside the server.
"""
from __future__ import annotations

import argparse
import fcntl
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

STATE_FILE = "newsmill-server.json"
LOCK_FILE = "newsmill-server.lock"
SECRET_FILE = "newsmill-server.secret"
_TABLES = ("/proc/net/tcp", "/proc/net/tcp6")
_LISTEN, _ESTABLISHED = "0A", "01"
TIME_WAIT_S = 60.0  # Linux keeps a closed connection in TIME_WAIT this long (TCP_TIMEWAIT_LEN)


class _Stop(Exception):
    """A signal asked this process to stop (SIGTERM from `newsmill server stop`, SIGINT, SIGHUP)."""


def connections(port: int, *, listening: bool = False) -> dict[tuple[str, str], str] | None:
    """The TCP connections from or to ``port`` on this host, listening sockets left out (or, with
    ``listening``, only those): {(local address, remote address): state}; None if the kernel's tables
    cannot be read."""
    found: dict[tuple[str, str], str] = {}
    readable = False
    for table in _TABLES:
        try:
            with open(table, encoding="ascii") as f:
                lines = f.read().splitlines()[1:]
        except OSError:
            continue
        readable = True
        for line in lines:
            fields = line.split()
            if len(fields) < 4 or (fields[3] == _LISTEN) != listening:
                continue
            local, remote = fields[1], fields[2]
            try:
                ports = (int(local.rsplit(":", 1)[1], 16), int(remote.rsplit(":", 1)[1], 16))
            except (IndexError, ValueError):
                continue
            if port in ports:
                found[(local, remote)] = fields[3]
    return found if readable else None


def busy(now: dict, before: dict) -> bool:
    """Use between two looks: a connection open now, or one that was not there at the last look."""
    return any(state == _ESTABLISHED or key not in before for key, state in now.items())


def _log(message: str) -> None:
    print(f"newsmill server watchdog {time.strftime('%Y-%m-%d %H:%M:%S')}: {message}", flush=True)


def _die_with_parent() -> None:  # pragma: no cover (runs in the child between fork and exec)
    """The server gets SIGTERM when the watchdog dies, also of SIGKILL (Linux' PR_SET_PDEATHSIG)."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG = 1
    except (OSError, AttributeError):
        pass


def _end(server: subprocess.Popen, grace: float = 30.0) -> None:
    if server.poll() is not None:
        return
    server.terminate()  # uvicorn's graceful shutdown: Prefect's services stop, the database is closed
    try:
        server.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


def _forget(home: Path) -> None:
    """Remove the state and secret files if they are this watchdog's (a newer server's are left alone)."""
    try:
        if json.loads((home / STATE_FILE).read_text(encoding="utf-8")).get("pid") != os.getpid():
            return
    except (OSError, ValueError, AttributeError):
        return
    (home / STATE_FILE).unlink(missing_ok=True)
    (home / SECRET_FILE).unlink(missing_ok=True)


def _sleep(seconds: float) -> None:
    """Sleep, or less if the server exits (SIGCHLD, blocked by ``main``, ends the wait): Popen.wait(timeout)
    polls every 50 ms, which cost an idle watchdog a quarter of a percent of a core."""
    if hasattr(signal, "sigtimedwait"):
        signal.sigtimedwait({signal.SIGCHLD}, seconds)
    else:  # pragma: no cover (not Linux)
        time.sleep(seconds)


def _watch(server: subprocess.Popen, port: int, idle: float, home: Path) -> int:
    before = connections(port) if idle > 0 else None
    if idle > 0 and before is None:
        _log(f"cannot read {_TABLES[0]}: the server runs until `newsmill server stop`")
    look = min(15.0, max(0.1, idle / 5)) if before is not None else None  # < TIME_WAIT_S: no use is missed
    last = time.monotonic()
    started = False
    while True:
        code = server.poll() if look is not None else server.wait()
        if code is not None:
            _log(f"the server exited with code {code}")
            return code
        _sleep(look)
        now = connections(port) or {}
        started = started or bool(connections(port, listening=True))
        if busy(now, before) or not started:  # the idle time counts from the moment it listens
            last = time.monotonic()
        before = now
        if time.monotonic() - last < idle:
            continue
        fd = os.open(home / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:  # a command is starting or finding the server: it is about to be used
                last = time.monotonic()
                continue
            now = connections(port) or {}
            if busy(now, before):  # used while the lock was taken
                before, last = now, time.monotonic()
                continue
            _log(f"no client for {idle:.0f} s: stopping the server (pid {server.pid}, port {port})")
            _end(server)
            _forget(home)
            return 0
        finally:
            os.close(fd)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m newsmill.service.server_watch")
    ap.add_argument("--port", type=int, required=True, help="the server's port on 127.0.0.1")
    ap.add_argument("--idle", type=float, required=True, help="seconds without a client before the stop (0: never)")
    ap.add_argument("--home", required=True, help="PREFECT_HOME: the state file and newsmill's start lock")
    ap.add_argument("command", nargs=argparse.REMAINDER, help="-- the server's command line")
    args = ap.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command

    def stop(signum, _frame):
        raise _Stop(signum)

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, stop)
    server = subprocess.Popen(command, stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent)
    if hasattr(signal, "pthread_sigmask"):  # after the fork: the server keeps the usual mask
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGCHLD})  # kept pending for _sleep
    try:
        return _watch(server, args.port, args.idle, Path(args.home))
    except _Stop as exc:
        _log(f"stopping the server (signal {exc.args[0]})")
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # the group's SIGTERM may come twice
        return 0
    finally:
        _end(server)


if __name__ == "__main__":
    sys.exit(main())
