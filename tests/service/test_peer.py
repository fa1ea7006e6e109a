"""The warm worker serves a client only as that client: its credentials, cgroups and limits (Linux)."""
from __future__ import annotations

import copy
import os
import resource
import socket
import subprocess
import sys

import pytest

from newsmill.service import peer

pytestmark = pytest.mark.skipif(not peer.supported(), reason="needs /proc and SO_PEERCRED (Linux)")
INF = resource.RLIM_INFINITY


def me():
    return peer.facts(), peer.limits()


def test_a_process_is_served_as_itself():
    facts, limits = me()
    p = peer.plan(facts, copy.deepcopy(facts), limits, copy.deepcopy(limits))
    assert p.refused is None and p.to_json() == peer.Plan().to_json()


def test_the_peer_is_who_the_kernel_says():
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    with a, b:
        assert peer.of_connection(b) == (os.getpid(), os.getuid(), os.getgid())
    assert peer.check(os.getpid()).refused is None


def test_a_client_with_lower_limits_gives_them_to_its_run():
    """Read from /proc of a real process whose limits were lowered (as `prlimit`/`ulimit` would)."""
    def lower():
        resource.setrlimit(resource.RLIMIT_CPU, (50, 60))
        resource.setrlimit(resource.RLIMIT_AS, (6_000_000_000, 6_000_000_000))

    child = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE,
                             preexec_fn=lower)
    try:
        p = peer.check(child.pid)
    finally:
        child.communicate(b"")
    assert p.refused is None
    assert p.rlimits == {"RLIMIT_CPU": (50, 60), "RLIMIT_AS": (6_000_000_000, 6_000_000_000)}
    assert "RLIMIT_CPU 50/60" in p.describe()


def test_limits_are_applied_in_the_run():
    code = ("from newsmill.service import peer; import resource; "
            "peer.apply_rlimits({'rlimits': {'RLIMIT_CPU': [40, 45], 'RLIMIT_NOFILE': [100, 200]}}); "
            "print(resource.getrlimit(resource.RLIMIT_CPU), resource.getrlimit(resource.RLIMIT_NOFILE))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert out.stdout.strip() == "(40, 45) (100, 200)"


def test_a_limit_above_the_workers_is_refused_and_the_worker_makes_way():
    facts, limits = me()
    mine = copy.deepcopy(limits)
    mine["rlimits"]["RLIMIT_CORE"] = [0, 0]
    theirs = copy.deepcopy(limits)
    theirs["rlimits"]["RLIMIT_CORE"] = [0, INF]
    p = peer.plan(facts, facts, mine, theirs)
    assert p.refused == "your RLIMIT_CORE hard limit (unlimited) is above the worker's (0)" and p.retire


@pytest.mark.parametrize("key, theirs, mine, retire", [
    ("Uid", "1000 1000 1000 1000", "0 0 0 0", False),
    ("Groups", "27", "", False),
    ("CapEff", "000001fffeffffff", "000001fffefffff9", True),  # the client has more: a new worker serves both
    ("CapEff", "000001fffefffff9", "000001fffeffffff", False),  # DAC capabilities dropped: refused, not served
    ("NoNewPrivs", "1", "0", False),
])
def test_other_credentials_are_refused(key, theirs, mine, retire):
    """Identities a test cannot take on for real: the compared values are changed."""
    facts, limits = me()
    a, b = copy.deepcopy(facts), copy.deepcopy(facts)
    a["status"][key], b["status"][key] = mine, theirs
    p = peer.plan(a, b, limits, limits)
    assert p.refused and key in p.refused and theirs in p.refused and p.retire is retire


def test_another_namespace_label_or_v1_cgroup_is_refused():
    facts, limits = me()
    for change in ({"ns": {**facts["ns"], "mnt": "mnt:[1]"}}, {"label": "unconfined_t"},
                   {"cgroup": ["4:memory:/slurm/job_7", "0::/"]}):
        p = peer.plan(facts, {**facts, **change}, limits, limits)
        assert p.refused and not p.retire, change


def test_a_cgroup_v2_client_is_joined():
    facts, limits = me()
    mine, theirs = {**facts, "cgroup": ["0::/user.slice/a.scope"]}, {**facts, "cgroup": ["0::/user.slice/b.scope"]}
    p = peer.plan(mine, theirs, limits, limits)
    assert p.refused is None and p.cgroup == "/user.slice/b.scope"


def test_a_cgroup_that_cannot_be_joined_fails(tmp_path, monkeypatch):
    monkeypatch.setattr(peer, "CGROUP_ROOT", tmp_path)  # no such cgroup there
    with pytest.raises(OSError):
        peer.join({"cgroup": "/nope.scope"})


def test_niceness_and_oom_adjustment():
    facts, limits = me()
    nicer = {**limits, "nice": limits["nice"] + 5}
    assert peer.plan(facts, facts, limits, nicer).nice == limits["nice"] + 5
    p = peer.plan(facts, facts, nicer, limits)
    assert p.refused and "nice" in p.refused and p.retire
    if limits["oom_score_adj"] is not None:
        assert peer.plan(facts, facts, limits, {**limits, "oom_score_adj": limits["oom_score_adj"] + 100}
                         ).oom_score_adj == limits["oom_score_adj"] + 100
