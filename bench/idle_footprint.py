"""What newsmill leaves running after a run, and for how long: CPU and memory of the local Prefect server
(with its watchdog) and the warm worker while idle, and the time until they stop by themselves.

    python bench/idle_footprint.py [--idle 120] [--window 60] [PAGES]

One ``newsmill run`` (through the warm worker, as a user runs it) in a private ``PREFECT_HOME`` with
``NEWSMILL_SERVER_IDLE`` and ``NEWSMILL_DAEMON_IDLE`` set to ``--idle``; then, for ``--window`` seconds,
each process that carries that home in its environment: resident memory (VmRSS, and PSS where readable)
and CPU time used (utime + stime, as a share of one core); then a bounded wait for every one of them to
exit. While the run goes, the connections to the server's port are sampled: a run is use, by the
watchdog's measure. Figures depend on the machine and its load: say which when you quote them.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from _benchlib import processes_with  # noqa: E402

from newsmill.service import server_watch  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")


def ours(marker: bytes) -> list[int]:
    return processes_with(marker)


def cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def memory_mb(pid: int) -> tuple[float, float | None]:
    rss = next(int(ln.split()[1]) for ln in Path(f"/proc/{pid}/status").read_text().splitlines()
               if ln.startswith("VmRSS:"))
    try:
        pss = next(int(ln.split()[1]) for ln in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()
                   if ln.startswith("Pss:"))
    except (OSError, StopIteration):
        pss = None
    return rss / 1024, (pss / 1024 if pss is not None else None)


def name(pid: int) -> str:
    cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    text = " ".join(c.decode(errors="replace") for c in cmd if c)
    if "server_watch" in text:
        return "server watchdog"
    if "server start" in text:
        return "Prefect server"
    if "warm_worker" in text or "daemon" in text:
        return "warm worker"
    return text[:60]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("pages", nargs="*", default=[str(REPO / "samples")])
    ap.add_argument("--idle", type=float, default=120.0)
    ap.add_argument("--window", type=float, default=60.0)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="newsmill-idle-"))
    home = tmp / "prefect"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "NEWSMILL_"))}
    env.update(PREFECT_HOME=str(home), PYTHONPATH=str(REPO), NEWSMILL_SERVER_IDLE=str(args.idle),
               NEWSMILL_DAEMON_IDLE=str(args.idle), NEWSMILL_AUTHOR_KEY="k" * 32, DO_NOT_TRACK="1")
    seen: dict[str, int] = {"looks": 0, "busy": 0, "established": 0}
    done = threading.Event()

    def watch_port():
        before = None
        while not done.wait(0.5):
            try:
                port = json.loads((home / "newsmill-server.json").read_text())["port"]
            except (OSError, ValueError, KeyError):
                continue
            now = server_watch.connections(port) or {}
            if before is not None:
                seen["looks"] += 1
                seen["busy"] += server_watch.busy(now, before)
                seen["established"] += any(s == "01" for s in now.values())
            before = now

    sampler = threading.Thread(target=watch_port, daemon=True)
    sampler.start()
    t0 = time.monotonic()
    run = subprocess.run([sys.executable, "-m", "newsmill.cli", "run", *args.pages, "-o", str(tmp / "out"),
                          "--no-progress"], env=env, cwd=tmp, capture_output=True, text=True, check=False)
    ended = time.monotonic()
    done.set()
    print(f"run: exit {run.returncode} in {ended - t0:.1f} s; connections to the server during the run: "
          f"{seen['busy']} of {seen['looks']} looks saw use ({seen['established']} an open connection)")
    if run.returncode != 0:
        print(run.stderr[-2000:])
    marker = f"PREFECT_HOME={home}\0".encode()
    pids = ours(marker)
    start = {p: cpu_s(p) for p in pids}
    time.sleep(args.window)  # a measurement window, not a wait for an event
    print(f"idle, {args.window:.0f} s from {time.monotonic() - ended - args.window:.0f} s after the run:")
    total_rss = 0.0
    for p in pids:
        try:
            used = cpu_s(p) - start[p]
            rss, pss = memory_mb(p)
        except OSError:
            print(f"  pid {p}: exited")
            continue
        total_rss += rss
        print(f"  {name(p):16} pid {p:>7}: RSS {rss:6.0f} MB"
              + (f", PSS {pss:6.0f} MB" if pss is not None else "")
              + f", CPU {100 * used / args.window:5.2f} % of a core")
    print(f"  total RSS {total_rss:.0f} MB")
    deadline = time.monotonic() + args.idle * 2 + 180
    while ours(marker) and time.monotonic() < deadline:
        time.sleep(1)
    left = ours(marker)
    print(f"after the idle period ({args.idle:.0f} s): "
          + (f"still running: {left}" if left else f"none left, {time.monotonic() - ended:.0f} s after the run"))
    log = home / "newsmill-server.log"
    if log.exists():
        print("server log: " + " | ".join(ln for ln in log.read_text().splitlines() if "watchdog" in ln))
    return 1 if left else 0


if __name__ == "__main__":
    sys.exit(main())
