"""Whether the warm worker may run a client's job as that client would have run it (Linux).

A run forked from the worker inherits the *worker's* credentials, capabilities, namespaces,
security label, cgroups and resource limits, not the client's: a client whose DAC capabilities
were dropped could read a 0000 file through the worker, and ``prlimit``, ``ulimit``, a cgroup's
memory limit or a systemd scope would not apply to the run. So before serving a client the worker
reads that client from ``/proc/<pid>`` (the pid the kernel gives with ``SO_PEERCRED``, never what
the client says about itself) and compares it with itself:

- identity, capabilities, ``no_new_privs``, seccomp, namespaces, security label: must be equal
  (a process cannot take these on from another), else the worker refuses;
- cgroups: equal, or (cgroup v2) the run joins the client's cgroup, which fails unless the user
  may move processes there: then the worker refuses;
- resource limits: the run takes the client's, which it can when they are at most the worker's
  hard limits (lowering is always allowed); a client limit above the worker's: refused;
- niceness, CPU affinity, OOM score adjustment: the run takes the client's (a lower niceness or
  OOM adjustment than the worker's cannot be taken: refused).

A refusal is one line for the client, which then runs the command in its own process. When the
client has *more* than the worker (higher hard limits, more capabilities: the worker was started by
a restricted client), the worker retires instead and the client starts a new one: the new worker
serves both, lowering the limits for the restricted client's runs.
Not covered: the I/O priority (``ionice``), which Python has no call for; a job's CPU-time limit
counts from the fork, so the CPU time the client had already used is not deducted (a few tenths of a
second for the thin client).
"""
from __future__ import annotations

import os
import resource
import socket
import struct
from dataclasses import dataclass, field
from pathlib import Path

NAMESPACES = ("mnt", "user", "net", "pid", "ipc", "uts", "cgroup", "time")
STATUS_KEYS = ("Uid", "Gid", "Groups", "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs", "Seccomp")
RLIMITS = {name: getattr(resource, name) for name in sorted(dir(resource))
           if name.startswith("RLIMIT_") and isinstance(getattr(resource, name), int)}
CGROUP_ROOT = Path("/sys/fs/cgroup")
_WHAT = {"Uid": "user ids", "Gid": "group ids", "Groups": "supplementary groups", "CapInh": "inheritable capabilities",
         "CapPrm": "permitted capabilities", "CapEff": "effective capabilities", "CapBnd": "capability bounding set",
         "CapAmb": "ambient capabilities", "NoNewPrivs": "no_new_privs", "Seccomp": "seccomp mode"}


def supported() -> bool:
    """Whether a client can be checked here (``/proc`` and ``SO_PEERCRED``: Linux)."""
    return hasattr(socket, "SO_PEERCRED") and Path("/proc/self/status").exists()


def of_connection(conn: socket.socket) -> tuple[int, int, int] | None:
    """(pid, uid, gid) of the process at the other end of a unix socket, as the kernel recorded it at connect()."""
    if not hasattr(socket, "SO_PEERCRED"):
        return None
    try:
        pid, uid, gid = struct.unpack("3i", conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED,
                                                             struct.calcsize("3i")))
    except OSError:
        return None
    return pid, uid, gid


def facts(pid: int | str = "self") -> dict:
    """What a forked process cannot take on from another: identity, capabilities, namespaces, label, cgroups."""
    proc = Path(f"/proc/{pid}")
    status = {}
    for line in (proc / "status").read_text(encoding="ascii", errors="replace").splitlines():
        key, _, value = line.partition(":")
        if key in STATUS_KEYS:
            status[key] = " ".join(value.split())
    ns = {}
    for name in NAMESPACES:
        try:
            ns[name] = os.readlink(proc / "ns" / name)
        except FileNotFoundError:  # an older kernel without this namespace: absent on both sides
            continue
        except OSError as exc:  # not allowed to look: not the same process context as ours
            ns[name] = f"unreadable ({exc.strerror})"
    try:
        label = (proc / "attr" / "current").read_text(encoding="utf-8", errors="replace").strip("\0\n ")
    except OSError:  # no LSM that labels processes
        label = None
    cgroup = sorted(ln for ln in (proc / "cgroup").read_text(encoding="utf-8", errors="replace").splitlines() if ln)
    return {"status": status, "ns": ns, "label": label, "cgroup": cgroup}


def limits(pid: int = 0) -> dict:
    """The resource limits, niceness, CPU affinity and OOM score adjustment of ``pid`` (0: this process)."""
    target = pid or os.getpid()
    out = {"rlimits": {name: list(resource.prlimit(target, r)) for name, r in RLIMITS.items()},
           "nice": os.getpriority(os.PRIO_PROCESS, target),
           "affinity": sorted(os.sched_getaffinity(target)) if hasattr(os, "sched_getaffinity") else None}
    try:
        out["oom_score_adj"] = int(Path(f"/proc/{target}/oom_score_adj").read_text())
    except (OSError, ValueError):
        out["oom_score_adj"] = None
    return out


@dataclass
class Plan:
    """What a run must take on to be the client's; ``refused`` says why it cannot."""

    refused: str | None = None
    retire: bool = False  # refused because the client has more than the worker: a new worker started by it serves both
    rlimits: dict[str, tuple[int, int]] = field(default_factory=dict)  # set in the run (never raised)
    nice: int | None = None
    affinity: list[int] | None = None
    oom_score_adj: int | None = None
    cgroup: str | None = None  # cgroup v2 path of the client, to join

    def to_json(self) -> dict:
        return {"rlimits": {k: list(v) for k, v in self.rlimits.items()}, "nice": self.nice,
                "affinity": self.affinity, "oom_score_adj": self.oom_score_adj, "cgroup": self.cgroup}

    def describe(self) -> str:
        parts = [f"{k} {_shown(s)}/{_shown(h)}" for k, (s, h) in sorted(self.rlimits.items())]
        more = (("nice", self.nice), ("affinity", self.affinity), ("oom_score_adj", self.oom_score_adj),
                ("cgroup", self.cgroup))
        parts += [f"{k} {v}" for k, v in more if v is not None]
        return ", ".join(parts) or "none (the same as the worker's)"


def _shown(v: int) -> str:
    return "unlimited" if v == resource.RLIM_INFINITY else str(v)


def _rank(v: int) -> float:
    return float("inf") if v == resource.RLIM_INFINITY else v


def _superset(theirs: str | None, mine: str | None) -> bool:
    """Capability masks (hex): the client's holds every one of the worker's, and more."""
    try:
        a, b = int(theirs, 16), int(mine, 16)
    except (TypeError, ValueError):
        return False
    return a != b and a & b == b


def _v2_only(cgroup_lines: list[str]) -> str | None:
    """The path of a process in a pure cgroup v2 hierarchy ('0::/path'), else None (v1 or hybrid)."""
    if len(cgroup_lines) == 1 and cgroup_lines[0].startswith("0::"):
        return cgroup_lines[0][3:]
    return None


def plan(mine: dict, theirs: dict, my_limits: dict, their_limits: dict) -> Plan:
    """Compare the worker (``mine``) with the client (``theirs``); see the module's docstring."""
    for key in STATUS_KEYS:
        a, b = mine["status"].get(key), theirs["status"].get(key)
        if a != b:
            return Plan(refused=f"your {_WHAT[key]} differ from the worker's ({key} {b} here, {a} there)",
                        retire=key.startswith("Cap") and _superset(b, a))
    for name in sorted(set(mine["ns"]) | set(theirs["ns"])):
        if mine["ns"].get(name) != theirs["ns"].get(name):
            return Plan(refused=f"you are in another {name} namespace than the worker "
                                f"({theirs['ns'].get(name)} here, {mine['ns'].get(name)} there)")
    if mine["label"] != theirs["label"]:
        return Plan(refused=f"your security label differs from the worker's ({theirs['label']} here, "
                            f"{mine['label']} there)")
    out = Plan()
    if mine["cgroup"] != theirs["cgroup"]:
        path = _v2_only(theirs["cgroup"])
        if path is None or _v2_only(mine["cgroup"]) is None:
            return Plan(refused=f"you are in other cgroups than the worker ({', '.join(theirs['cgroup'])} here)")
        out.cgroup = path
    for name, (soft, hard) in their_limits["rlimits"].items():
        my_soft, my_hard = my_limits["rlimits"].get(name, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
        if (soft, hard) == (my_soft, my_hard):
            continue
        if _rank(hard) > _rank(my_hard):
            return Plan(refused=f"your {name} hard limit ({_shown(hard)}) is above the worker's ({_shown(my_hard)})",
                        retire=True)
        out.rlimits[name] = (soft, hard)
    if their_limits["nice"] != my_limits["nice"]:
        if their_limits["nice"] < my_limits["nice"]:
            return Plan(refused=f"your priority (nice {their_limits['nice']}) is above the worker's "
                                f"(nice {my_limits['nice']})", retire=True)
        out.nice = their_limits["nice"]
    if their_limits["affinity"] != my_limits["affinity"]:
        out.affinity = their_limits["affinity"]
    if their_limits["oom_score_adj"] != my_limits["oom_score_adj"]:
        if their_limits["oom_score_adj"] is None or my_limits["oom_score_adj"] is None \
                or their_limits["oom_score_adj"] < my_limits["oom_score_adj"]:
            return Plan(refused=f"your OOM score adjustment ({their_limits['oom_score_adj']}) is below the worker's "
                                f"({my_limits['oom_score_adj']})", retire=their_limits["oom_score_adj"] is not None)
        out.oom_score_adj = their_limits["oom_score_adj"]
    return out


def check(pid: int) -> Plan:
    """The plan for serving the process ``pid`` from this one (a refusal if it cannot be read)."""
    if not supported():
        return Plan(refused="the worker cannot check a client's credentials and limits on this system")
    try:
        theirs, their_limits = facts(pid), limits(pid)
    except OSError as exc:
        return Plan(refused=f"the worker cannot read your process' credentials and limits ({exc.strerror or exc})")
    return plan(facts(), theirs, limits(), their_limits)


# --------------------------------------------------------------------------- in the run (the forked child)


def join(p: dict) -> None:
    """In the supervisor, before the run is forked: the client's cgroup, niceness, affinity, OOM adjustment.
    Raises OSError when one cannot be taken (the client then runs the command itself)."""
    if p.get("cgroup"):
        procs = CGROUP_ROOT / p["cgroup"].lstrip("/") / "cgroup.procs"
        with open(procs, "w", encoding="ascii") as f:
            f.write(f"{os.getpid()}\n")
    if p.get("nice") is not None:
        os.setpriority(os.PRIO_PROCESS, 0, int(p["nice"]))
    if p.get("affinity"):
        os.sched_setaffinity(0, p["affinity"])
    if p.get("oom_score_adj") is not None:
        Path("/proc/self/oom_score_adj").write_text(str(int(p["oom_score_adj"])))


def apply_rlimits(p: dict) -> None:
    """In the run itself, first thing: the client's resource limits (the supervisor keeps the worker's: a
    lower address-space or process limit would keep it from starting its watcher thread)."""
    for name, (soft, hard) in (p.get("rlimits") or {}).items():
        resource.setrlimit(RLIMITS[name], (int(soft), int(hard)))
