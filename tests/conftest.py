"""Test setup: Prefect and GX state kept in a throwaway folder, telemetry off, offline."""
from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import pytest

# absl (imported by mlcroissant, which the Croissant tests use) makes a logging handler when it is imported,
# writing to the sys.stderr of that moment: inside a test, pytest's capture file. When Prefect is later
# imported in the same process, its logging set-up (logging.config.dictConfig) closes every handler, and
# absl's handler closes its stream unless it is the sys.stderr of that moment, so pytest's capture file was
# closed and every later test of that xdist process failed with "I/O operation on closed file" (which process,
# and whether, depended on the order xdist gave the tests). Its stream is the real stderr instead.
try:
    from absl import logging as _absl_logging

    _absl_logging.get_absl_handler().python_handler.setStream(sys.__stderr__)
except ImportError:  # absl comes with the test extra's mlcroissant
    pass

_STATE = Path(tempfile.mkdtemp(prefix="newsmill-tests-"))
os.environ["PREFECT_HOME"] = str(_STATE / "prefect")
os.environ["NEWSMILL_DAEMON_DIR"] = str(_STATE / "prefect")  # a warm worker of the tests' own, not the user's
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
os.environ.setdefault("DASK_LOGGING__DISTRIBUTED", "warning")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")  # temporary servers: a bound, not a timing

REPO = Path(__file__).resolve().parent.parent
SAMPLES = REPO / "samples"
SEED = SAMPLES / "000_a55870ac9fdb11bd.txt"
SHARED = Path(os.environ.get("NEWSMILL_SHARED", REPO.parent / "shared"))


def load_bench(name: str):
    """A script of bench/ as a module (bench/ is not a package), registered under its name in
    sys.modules: dataclasses and process pools resolve their module by name."""
    import importlib.util
    import sys

    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, REPO / "bench" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


COMMENTS = [("Alice Doe", "March 3, 2012 at 4:15 pm", "Finally some money for the roads."),
            ("Bob Roe", "March 3, 2012 at 5:20 pm", "The schools needed it more than the roads."),
            ("Carol Poe", "March 4, 2012 at 9:05 am", "Let us see whether the repairs really start this spring.")]


def budget_page(n_comments: int) -> str:
    """A small text dump whose thread grows between two crawls."""
    head = ("Council approves new budget after long debate\n\nPublished: March 3, 2012\n\n"
            "SPRINGFIELD: The city council approved the budget on Friday after a six-hour session.\n\n"
            "Members argued over road repairs and school funding until late in the evening.\n\n"
            f"{n_comments} Comments\n")
    return head + "".join(f"\n  • {a}\n    {t}\n\n    {x}\n" for a, t, x in COMMENTS[:n_comments])



def _prefect_db_template(root: Path) -> Path:
    """A Prefect database migrated to this Prefect's head, made once for the whole test run (under a lock:
    pytest-xdist's workers share ``root``). A server started on a fresh PREFECT_HOME spends most of its
    start (tens of seconds on this machine) running Prefect's ~150 migrations; a home that gets a copy of
    this file starts like one used before. Only the tests do this: a user's home is migrated once."""
    import fcntl
    import subprocess
    import sys

    tpl = root / "prefect-db-template"
    db = tpl / "prefect.db"
    tpl.mkdir(parents=True, exist_ok=True)
    with open(tpl / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not db.exists():
            env = {**os.environ, "PREFECT_HOME": str(tpl / "home")}
            done = subprocess.run([sys.executable, "-m", "prefect", "server", "database", "upgrade", "-y"],
                                  env=env, capture_output=True, text=True, timeout=900)
            assert done.returncode == 0, done.stdout + done.stderr
            os.replace(tpl / "home" / "prefect.db", db)
    return db


@pytest.fixture(scope="session")
def prefect_db_template(tmp_path_factory) -> Path:
    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base  # the run's, not the worker's
    return _prefect_db_template(shared)


def seed_prefect_home(home: Path, template: Path) -> Path:
    """``home`` made (0700, as newsmill makes it) with a copy of the migrated database, unless it has one."""
    import shutil

    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    if not (home / "prefect.db").exists():
        shutil.copyfile(template, home / "prefect.db")
    return home


@pytest.fixture
def fresh_prefect_home(prefect_db_template):
    """``fresh_prefect_home(path)``: a PREFECT_HOME at ``path`` whose server starts without migrating."""
    return lambda path: seed_prefect_home(Path(path), prefect_db_template)


@pytest.fixture(scope="session", autouse=True)
def _session_prefect_home(request):
    """The session's own PREFECT_HOME (set above) gets the migrated database before any test starts a server,
    when the session has tests that start Prefect (marked ``slow``): a quick run of a few tests makes none."""
    if any(item.get_closest_marker("slow") for item in request.session.items):
        seed_prefect_home(Path(os.environ["PREFECT_HOME"]), request.getfixturevalue("prefect_db_template"))


@pytest.fixture(scope="session")
def seed_text() -> str:
    return SEED.read_text(encoding="utf-8")


@pytest.fixture(scope="session", autouse=True)
def _no_worker_left_running():
    """A run through the CLI may start newsmill's local Prefect server and warm worker in this session's
    PREFECT_HOME: stop them at the end (tests that start their own stop them themselves)."""
    yield
    from newsmill.service import prefect_server, warm_client

    handlers = sys.modules.get("prefect.logging.handlers")
    if handlers is not None:  # the flow runs' last log lines go to the server before it stops, not into an error at exit
        handlers.APILogWorker.drain_all(timeout=60)
    home = Path(os.environ["PREFECT_HOME"])
    warm_client.stop(home)
    prefect_server.stop(home)


@pytest.fixture(scope="session")
def prefect_server(prefect_db_template):
    """The Prefect API for tests that run flows in this process: newsmill's own local server in the session's
    PREFECT_HOME (the one the CLI runs of the session use too; its database migrated once per test run), so a
    session starts one server, not also Prefect's test harness on a database migrated from scratch. Its start
    is waited for up to 180 s: a bound against a hang on a loaded machine, not a timing."""
    from prefect.settings import PREFECT_API_AUTH_STRING, PREFECT_API_URL, temporary_settings

    from newsmill.service import prefect_server as server

    home = seed_prefect_home(Path(os.environ["PREFECT_HOME"]), prefect_db_template)
    info = server.ensure(home, timeout=180)
    with temporary_settings({PREFECT_API_URL: info["api_url"], PREFECT_API_AUTH_STRING: server.auth_string(home)}):
        yield info


# Hypothesis: modest example counts so `make test` stays fast; `HYPOTHESIS_PROFILE=thorough`
# (or `--hypothesis-profile=thorough`) for a deeper run. No deadline: a cold regex cache or a
# busy CI machine must not turn a slow example into a failure.
try:
    from hypothesis import HealthCheck, settings as _hyp_settings

    _hyp_settings.register_profile("newsmill", max_examples=60, deadline=None,
                                   suppress_health_check=[HealthCheck.too_slow])
    _hyp_settings.register_profile("thorough", max_examples=2000, deadline=None,
                                   suppress_health_check=[HealthCheck.too_slow])
    _hyp_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "newsmill"))
except ImportError:  # hypothesis is a test extra; tests that need it import it themselves
    pass


def our_processes(marker: str) -> list[int]:
    """Pids of live processes whose environment carries ``marker`` (our PREFECT_HOME)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if marker.encode() in (entry / "environ").read_bytes():
                pids.append(int(entry.name))
        except OSError:
            continue
    return pids


# ---------------------------------------------------------------- a small HTML news page (extraction tests)

ARTICLE = """
<article>
  <h1>Council approves the new riverside park</h1>
  <p>The city council voted on Tuesday evening to approve the long-debated riverside park, ending
  a planning dispute that has lasted for more than six years and divided two neighbourhoods.</p>
  <p>Construction is expected to start next spring, the mayor said, with the first section of the
  park opening to the public before the end of the following year if the weather allows it.</p>
  <p>Opponents had argued that the money would be better spent on road repairs, but the final vote
  was eleven to four in favour of the plan presented by the parks department last autumn.</p>
</article>
"""


def article_page(comments: str, head: str = "", lang: str = "en") -> str:
    """A small news page (the riverside-park article) with ``comments`` in a comment area."""
    return f"""<!DOCTYPE html><html lang="{lang}"><head><title>Riverside park</title>{head}</head>
<body><div id="main">{ARTICLE}</div><div id="comments-area">{comments}</div>
<footer><p>Copyright 2012 The Daily Example</p></footer></body></html>"""


# a WordPress comment list of two comments, for that page
WP_COMMENTS = """<h3>2 Responses</h3><ol class="commentlist">
<li class="comment" id="comment-1"><div class="comment-author vcard"><cite class="fn">Alice Doe</cite></div>
<div class="comment-meta commentmetadata"><a href="#comment-1">March 3, 2012 at 4:15 pm</a></div>
<div class="comment-content"><p>Finally a park on our side of the river, it took them long enough.</p></div></li>
<li class="comment" id="comment-2"><div class="comment-author vcard"><cite class="fn">Bob Roe</cite></div>
<div class="comment-meta commentmetadata"><a href="#comment-2">March 3, 2012 at 5:20 pm</a></div>
<div class="comment-content"><p>The road repairs would have helped far more people than this park.</p></div></li>
</ol>"""


def bad_comment_page(second_comment: str) -> str:
    """A small text dump with two comments, the second one's text given (markup a check rejects)."""
    return ("Council approves new budget after long debate\n\nPublished: March 3, 2012\n\n"
            "SPRINGFIELD: The city council approved the budget on Friday after a six-hour session.\n\n"
            "Members argued over road repairs and school funding until late in the evening.\n\n"
            "2 Comments\n\n  • Alice Doe\n    March 3, 2012 at 4:15 pm\n\n    Finally some money for the roads.\n\n"
            f"  • Bob Roe\n    March 3, 2012 at 5:20 pm\n\n    {second_comment}\n")
