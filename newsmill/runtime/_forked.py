"""Imported last by the workers' fork server (``newsmill.runtime.executors.PRELOAD``), after the extraction code.

``gc.freeze()`` moves everything imported so far out of the garbage collector's reach:
otherwise every collection in a forked worker writes to those objects' headers and
copies their memory pages, one by one, into each worker (Python's documented use of it).

The server ends when the run that started it ends (``NEWSMILL_RUN_PID``), however that
ends: its own way of noticing (every user of it closing the "alive" pipe) fails as soon as
a worker exists, since each worker holds that pipe too; the workers die with the server
(``executors._worker_start``). A thread that waits on the run's pidfd does it; it
never runs Python code while the server forks.
"""
import gc
import os
import select
import threading
import time


def _watch(pid: int) -> None:
    try:
        fd = os.pidfd_open(pid)  # Linux 5.3+: readable when the process ends
        select.select([fd], [], [])
    except (AttributeError, OSError):  # no pidfd (or the run is already gone): ask for the parent now and then
        while os.getppid() == pid:
            time.sleep(1.0)
    os._exit(0)


def _watch_run() -> None:
    try:
        pid = int(os.environ.get("NEWSMILL_RUN_PID", ""))
    except ValueError:
        return
    if os.getppid() != pid:  # the run is gone already, or this is not its fork server
        if os.getppid() == 1:
            os._exit(0)
        return
    threading.Thread(target=_watch, args=(pid,), name="newsmill-run-watch", daemon=True).start()


_watch_run()
gc.freeze()
