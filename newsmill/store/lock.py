"""One publisher per output folder at a time: ``flock`` on ``<output>/_state/lock``.

Why flock and not a lock file that exists or not: the kernel drops the lock when
its holder dies (even by SIGKILL), so a crashed run can never leave a lock that
has to be broken by hand or by guessing from a pid that may have been reused.
The file's content is only for people and messages: the holder's pid, host, run
id and start time, written after locking and truncated on a clean release. A
content left behind by a holder that no longer holds the lock therefore means
that run died while publishing; the next holder reports it (:attr:`OutputLock.stale`).

Local filesystems only: on NFS, Linux maps flock to byte-range locks through
lockd, which works but depends on the server; on SMB and object stores it does not.
"""
from __future__ import annotations

import json
import logging
import os
import socket
from datetime import datetime, timezone
from pathlib import Path

from newsmill.runtime import flock
from newsmill.store import layout

log = logging.getLogger(__name__)

LOCK_FILE = layout.LOCK


class LockTimeout(TimeoutError):
    """Another run holds the output folder for longer than we agreed to wait."""


def lock_path(output_dir: Path) -> Path:
    return layout.lock_file(output_dir)


def describe(holder: dict | None) -> str:
    if not holder:
        return "an unknown holder (no details written yet)"
    alive = ""
    if holder.get("host") == socket.gethostname() and isinstance(holder.get("pid"), int):
        alive = ", alive" if pid_alive(holder["pid"]) else ", process gone"
    return (f"run {holder.get('run_id')!r} (pid {holder.get('pid')} on {holder.get('host')}{alive}, "
            f"since {holder.get('since')})")


class OutputLock:
    """Context manager; waits up to ``timeout`` seconds (None: as long as it takes)."""

    def __init__(self, output_dir: Path, run_id: str, *, timeout: float | None = None, poll: float = 0.05):
        self.path = lock_path(output_dir)
        self.run_id = run_id
        self.timeout = timeout
        self.poll = poll
        self.stale: dict | None = None  # details left by a holder that died while publishing
        self._fd: int | None = None

    def __enter__(self) -> "OutputLock":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            self._acquire(fd)
            self.stale = _read(fd)
            if self.stale:
                log.warning("previous publisher died while holding %s: %s; its unfinished work is discarded",
                            self.path, describe(self.stale))
            me = {"run_id": self.run_id, "pid": os.getpid(), "host": socket.gethostname(),
                  "since": datetime.now(timezone.utc).isoformat(timespec="seconds")}
            _write(fd, json.dumps(me).encode())
        except BaseException:
            os.close(fd)  # closing also releases the flock if we got it
            raise
        self._fd = fd
        return self

    def __exit__(self, *exc) -> None:
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            _write(fd, b"")  # a clean release leaves no holder behind
        finally:
            os.close(fd)

    def _acquire(self, fd: int) -> None:
        def waiting() -> None:
            log.warning("waiting for %s: held by %s", self.path, describe(_read(fd)))

        if not flock.wait_lock(fd, timeout=self.timeout, poll=self.poll, waiting=waiting):
            raise LockTimeout(f"output folder {self.path.parent.parent} is being published by "
                              f"{describe(_read(fd))}; gave up after {self.timeout} s. Wait for it, or stop "
                              f"that process: the lock is released when it exits.")


def holder(output_dir: Path) -> dict | None:
    """Details written by the current (or a crashed) holder, for messages and tests."""
    try:
        fd = os.open(lock_path(output_dir), os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        return _read(fd)
    finally:
        os.close(fd)


def _read(fd: int) -> dict | None:
    raw = os.pread(fd, 4096, 0)
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return {"run_id": None, "raw": raw[:200].decode(errors="replace")}


def _write(fd: int, data: bytes) -> None:
    os.ftruncate(fd, 0)
    os.pwrite(fd, data, 0)
    os.fsync(fd)


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists (a zombie counts until it is reaped)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
