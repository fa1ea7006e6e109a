"""Waiting for an ``flock``: the one polling loop of the output lock, the server's and the warm worker's locks.

The kernel has no "wait at most t seconds" for flock (a blocking flock cannot be interrupted
without a signal), so a bounded wait is tries spaced ``poll`` apart.
"""
from __future__ import annotations

import errno
import fcntl
import time
from typing import Callable


def try_lock(fd: int, *, shared: bool = False) -> bool:
    """One try: True if this file descriptor now holds the lock, False if another holder has it."""
    try:
        fcntl.flock(fd, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
        return True
    except OSError as exc:
        if exc.errno not in (errno.EAGAIN, errno.EACCES):
            raise
        return False


def wait_lock(fd: int, *, timeout: float | None, poll: float, waiting: Callable[[], None] | None = None) -> bool:
    """Take the exclusive lock on ``fd``, waiting up to ``timeout`` seconds (None: as long as it takes;
    0: one try). ``waiting`` is called once, when the first wait begins. False if the time ran out."""
    deadline = None if timeout is None else time.monotonic() + timeout
    told = False
    while True:
        if try_lock(fd):
            return True
        if deadline is not None and time.monotonic() >= deadline:
            return False
        if not told and waiting is not None:
            waiting()
        told = True
        time.sleep(poll)
