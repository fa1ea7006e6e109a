"""Bad invocations of ``newsmill``: each gives ONE line on stderr, no traceback, and the exit code the README
("Exit codes") documents, before any page is processed (issue 14 item 3, issue 13 item 15).

Operating-system failures are simulated by making the call that would meet them raise the OSError the kernel
gives (never by filling a disk or remounting one).
"""
from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path

import pytest

from newsmill import cli
from tests.conftest import REPO, SEED

KEY = "cli-errors-test-key-0123456789abcdef"


@pytest.fixture
def here(tmp_path, monkeypatch):
    return working_folder(tmp_path, monkeypatch)


def working_folder(tmp_path: Path, monkeypatch) -> Path:
    """A working folder of its own (no newsmill.toml), the author key set (so a run prints no key warning),
    and one page to read (also the walk-through's, bench/walkthrough.py)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NEWSMILL_AUTHOR_KEY", KEY)
    for var in ("NEWSMILL_BATCH_SIZE", "NEWSMILL_OUTPUT", "NEWSMILL_AUTHORS", "NEWSMILL_PROFILES_DIR",
                "NEWSMILL_WORKERS", "NEWSMILL_BODY", "NEWSMILL_DASK_ADDRESS", "NEWSMILL_DASK_WORKERS"):
        monkeypatch.delenv(var, raising=False)
    pages = tmp_path / "pages"
    pages.mkdir()
    (pages / "seed.txt").write_bytes(SEED.read_bytes())
    return tmp_path


def shows(what: str):
    """What a setup does, in words (the walk-through's table of bad invocations shows it)."""
    def mark(setup):
        setup.shows = what
        return setup
    return mark


def toml(body: str) -> callable:
    @shows("newsmill.toml: " + " ".join(body.split()))
    def setup(d: Path, mp):
        (d / "newsmill.toml").write_text(body, encoding="utf-8")
    return setup


def env(**values) -> callable:
    @shows(" ".join(f"{k}={v}" for k, v in values.items()))
    def setup(d: Path, mp):
        for k, v in values.items():
            mp.setenv(k, v)
    return setup


@shows("NEWSMILL_AUTHOR_KEY unset")
def no_key(d: Path, mp):
    mp.delenv("NEWSMILL_AUTHOR_KEY", raising=False)


@shows("out: a symlink to a missing folder")
def dangling(d: Path, mp):
    (d / "out").symlink_to(d / "gone")


@shows("out: a file")
def a_file(d: Path, mp):
    (d / "out").write_text("not a folder")


@shows("empty/ holds only notes.pdf")
def empty_folder(d: Path, mp):
    (d / "empty").mkdir()
    (d / "empty" / "notes.pdf").write_bytes(b"%PDF")


def probe_fails(code: int):
    """The write of the output folder's probe file meets ``code`` (os.write: where a full disk shows first)."""
    @shows(f"writing in out/ fails with {errno.errorcode[code]} (simulated)")
    def setup(d: Path, mp):
        real = os.write

        def write(fd, data):
            if os.readlink(f"/proc/self/fd/{fd}").startswith(str(d / "out")):
                raise OSError(code, os.strerror(code))
            return real(fd, data)

        mp.setattr(os, "write", write)
    return setup


def mkdir_fails(code: int):
    @shows(f"creating out/ fails with {errno.errorcode[code]} (simulated)")
    def setup(d: Path, mp):
        real = Path.mkdir

        def mkdir(self, *a, **kw):
            if str(self).startswith(str(d / "out")):
                raise OSError(code, os.strerror(code), str(self))
            return real(self, *a, **kw)

        mp.setattr(Path, "mkdir", mkdir)
    return setup


def closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


RUN = ["run", "pages", "--output", "out", "--no-prefect", "--no-progress"]

# (id, argv, setup, exit code, words the line must hold)
CASES = [
    ("batch-size-0", [*RUN, "--batch-size", "0"], None, cli.EXIT_USAGE, "--batch-size: 0: must be at least 1"),
    ("batch-size-negative", [*RUN, "--batch-size", "-5"], None, cli.EXIT_USAGE, "must be at least 1"),
    ("batch-size-not-a-number", [*RUN, "--batch-size", "ten"], None, cli.EXIT_USAGE, "not a whole number"),
    ("workers-0", [*RUN, "--workers", "0"], None, cli.EXIT_USAGE, "--workers"),
    ("authors-unknown", [*RUN, "--authors", "hide"], None, cli.EXIT_USAGE, "invalid choice: 'hide'"),
    ("unknown-option", [*RUN, "--frobnicate"], None, cli.EXIT_USAGE, "--frobnicate"),
    ("unknown-command", ["frobnicate"], None, cli.EXIT_USAGE, "invalid choice"),
    ("no-command", [], None, cli.EXIT_USAGE, "required"),
    ("dask-without-prefect", [*RUN, "--dask", "tcp://127.0.0.1:8786"], None, cli.EXIT_USAGE, "drop --no-prefect"),
    ("dask-unreachable", ["run", "pages", "-o", "out", "--dask", f"tcp://127.0.0.1:{closed_port()}"], None,
     cli.EXIT_USAGE, "no Dask scheduler answers"),
    ("min-date-yesterday", RUN, toml('[newsmill]\nmin_date = "yesterday"\n'), cli.EXIT_USAGE,
     "'yesterday' is not a date"),
    ("max-days-negative", RUN, toml("[newsmill]\nmax_days_before_article = -3\n"), cli.EXIT_USAGE, "at least 0"),
    ("batch-size-in-file", RUN, toml("[newsmill]\nbatch_size = 0\n"), cli.EXIT_USAGE, "batch_size"),
    ("unknown-setting", RUN, toml("[newsmill]\nbatchsize = 10\n"), cli.EXIT_USAGE, "unknown setting 'batchsize'"),
    ("unknown-table", RUN, toml("[shedule]\ncron = '0 6 * * *'\n"), cli.EXIT_USAGE, "'shedule'"),
    ("not-toml", RUN, toml("[newsmill\n"), cli.EXIT_USAGE, "not valid TOML"),
    ("inputs-a-string", ["run", "-o", "out", "--no-prefect"], toml('[newsmill]\ninputs = "pages/"\n'),
     cli.EXIT_USAGE, "not an array of paths"),
    ("bad-cron", RUN, toml("[schedule]\ncron = 'every day'\n"), cli.EXIT_USAGE, "five fields"),
    ("bad-fetch-value", RUN, toml("[fetch]\ntimeout = 'soon'\n"), cli.EXIT_USAGE, "must be a number"),
    ("profiles-dir-missing", RUN, toml('[newsmill]\nprofiles_dir = "no_such_profiles"\n'), cli.EXIT_USAGE,
     "no such folder"),
    ("config-missing", [*RUN, "--config", "nowhere.toml"], None, cli.EXIT_USAGE, "does not exist"),
    ("config-a-folder", [*RUN, "--config", "pages"], None, cli.EXIT_USAGE, "cannot be read"),
    ("env-batch-size", RUN, env(NEWSMILL_BATCH_SIZE="lots"), cli.EXIT_USAGE, "NEWSMILL_BATCH_SIZE"),
    ("env-authors", RUN, env(NEWSMILL_AUTHORS="hide"), cli.EXIT_USAGE, "NEWSMILL_AUTHORS"),
    ("no-inputs", ["run", "-o", "out", "--no-prefect"], None, cli.EXIT_USAGE, "no inputs"),
    ("path-matches-nothing", ["run", "pages/nope.html", "-o", "out", "--no-prefect"], None, cli.EXIT_USAGE,
     "'pages/nope.html': matches nothing"),
    ("glob-matches-nothing", ["run", "pages", "crawl/*.warc.gz", "-o", "out", "--no-prefect"], None,
     cli.EXIT_USAGE, "'crawl/*.warc.gz': matches nothing"),
    ("project-input-matches-nothing", ["run", "-o", "out", "--no-prefect"], toml('[newsmill]\ninputs = ["old/"]\n'),
     cli.EXIT_USAGE, "'old/': matches nothing"),
    ("folder-without-pages", ["run", "empty", "-o", "out", "--no-prefect"], empty_folder, cli.EXIT_USAGE,
     "'empty': no page files"),
    ("url-output-without-key", ["run", "pages", "-o", "memory://cli-errors/ds", "--no-prefect"], no_key,
     cli.EXIT_USAGE, "needs NEWSMILL_AUTHOR_KEY"),
    ("url-output-bad-scheme", ["run", "pages", "-o", "nosuchproto://b/ds", "--no-prefect"], None, cli.EXIT_USAGE,
     "not a usable filesystem URL"),
    ("output-under-proc", ["run", "pages", "-o", "/proc/newsmill-nope", "--no-prefect"], None, cli.EXIT_OUTPUT_PATH,
     "cannot be created"),
    ("output-dangling-symlink", RUN, dangling, cli.EXIT_OUTPUT_PATH, "which does not exist"),
    ("output-a-file", RUN, a_file, cli.EXIT_OUTPUT_PATH, "is not a folder"),
    ("output-read-only", RUN, mkdir_fails(errno.EROFS), cli.EXIT_READ_ONLY, "read-only"),
    ("output-permission-denied", RUN, mkdir_fails(errno.EACCES), cli.EXIT_PERMISSION, "Permission denied"),
    ("output-disk-full", RUN, probe_fails(errno.ENOSPC), cli.EXIT_NO_SPACE, "No space left on device"),
]


@pytest.mark.parametrize("argv, setup, code, words", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_invocation_is_one_line_with_its_exit_code(here, monkeypatch, capsys, argv, setup, code, words):
    if setup:
        setup(here, monkeypatch)
    assert cli.main(list(argv)) == code
    out, err = capsys.readouterr()
    assert "Traceback" not in err and "Traceback" not in out
    assert len(err.splitlines()) == 1, err
    assert err.startswith("newsmill: ") and words in err, err
    # refused before any page was processed: no output folder (nor key, nor version) made
    out_dir = here / "out"
    assert not (out_dir.is_dir() and any(out_dir.iterdir())), sorted(out_dir.iterdir())


def test_the_table_is_long_enough():
    assert len(CASES) >= 25 and len({c[0] for c in CASES}) == len(CASES)
    assert all(c[2] is None or c[2].shows for c in CASES)  # the walk-through's table says what each set up


# --- failures while a run is underway: the operating system, a bug -------------------------------

def _fail_in_publish(monkeypatch, exc: BaseException):
    """The publish step's part-file write meets ``exc`` (where a full disk or a read-only remount shows)."""
    from newsmill.store import partfile

    def close(self):
        raise exc

    monkeypatch.setattr(partfile._PartWriter, "close", close)


@pytest.mark.parametrize("exc, code, words", [
    (OSError(errno.ENOSPC, "No space left on device", "out/_building/x.parquet"), cli.EXIT_NO_SPACE, "No space left"),
    (OSError(errno.EROFS, "Read-only file system", "out/_building/x.parquet"), cli.EXIT_READ_ONLY, "Read-only"),
    (PermissionError(errno.EACCES, "Permission denied", "out/_building"), cli.EXIT_PERMISSION, "Permission denied"),
    (OSError(errno.EIO, "Input/output error", "out/_building/x.parquet"), cli.EXIT_OS, "Input/output error"),
    (TypeError("unsupported operand"), cli.EXIT_INTERNAL, "internal error: TypeError"),
], ids=["disk-full", "read-only", "permission", "io-error", "bug"])
def test_failure_during_publish_is_one_line_and_nothing_is_committed(here, monkeypatch, capsys, exc, code, words):
    _fail_in_publish(monkeypatch, exc)
    assert cli.main([*RUN, "--workers", "1"]) == code
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    assert len(err.splitlines()) == 1 and words in err, err
    assert not (here / "out" / "current").exists()  # the failed run committed no version


def test_traceback_on_request_for_a_bug(here, monkeypatch, capsys):
    _fail_in_publish(monkeypatch, TypeError("unsupported operand"))
    monkeypatch.setenv("NEWSMILL_TRACEBACK", "1")
    assert cli.main([*RUN, "--workers", "1"]) == cli.EXIT_INTERNAL
    err = capsys.readouterr().err
    assert "Traceback" in err and err.splitlines()[-1].startswith("newsmill: internal error: TypeError")


def test_critical_expectation_keeps_exit_1_alone():
    """1 is the run's own outcome (a critical expectation, broken accounting), never a crash's code."""
    codes = [v for k, v in vars(cli).items() if k.startswith("EXIT_")]
    assert len(codes) == len(set(codes)) and cli.EXIT_CRITICAL == 1


def test_the_command_checks_before_the_warm_worker_gets_the_run(here, monkeypatch, capsys):
    """``newsmill run`` itself (no argv: the warm worker's path) refuses a bad run in the client."""
    from newsmill.service import warm_client

    monkeypatch.setattr(warm_client, "enabled", lambda args: True)
    monkeypatch.setattr(warm_client, "run_remote", lambda argv: pytest.fail("the worker was asked"))
    monkeypatch.setattr(sys, "argv", ["newsmill", "run", "pages/nope/*.html", "-o", "out"])
    assert cli.main() == cli.EXIT_USAGE
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "'pages/nope/*.html': matches nothing" in err
    assert not (here / "out").exists()


def test_readme_documents_every_exit_code():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Exit codes", 1)[1].split("\n#", 1)[0]
    for name, value in vars(cli).items():
        if name.startswith("EXIT_"):
            assert f"| `{value}` |" in section, name


# --- through the real command line ----------------------------------------------------------------

@pytest.mark.parametrize("argv, setup, code, words", [
    (["run", "pages", "--batch-size", "0"], None, cli.EXIT_USAGE, "must be at least 1"),
    (["run", "pages", "-o", "out"], toml('[newsmill]\nmin_date = "yesterday"\n'), cli.EXIT_USAGE, "not a date"),
    (["run", "pages/*.htm", "-o", "out"], None, cli.EXIT_USAGE, "'pages/*.htm': matches nothing"),
    (["run", "pages", "-o", "/proc/newsmill-nope"], None, cli.EXIT_OUTPUT_PATH, "cannot be created"),
    (["run", "pages", "-o", "memory://cli-errors/ds"], no_key, cli.EXIT_USAGE, "needs NEWSMILL_AUTHOR_KEY"),
], ids=["batch-size", "min-date", "glob", "proc", "key"])
def test_bad_invocation_through_python_m(here, monkeypatch, argv, setup, code, words):
    if setup:
        setup(here, monkeypatch)
    environ = {**os.environ, "PYTHONPATH": str(REPO)}
    r = subprocess.run([sys.executable, "-m", "newsmill.cli", *argv], cwd=here, env=environ, capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == code, r.stderr
    assert "Traceback" not in r.stderr and len(r.stderr.splitlines()) == 1 and words in r.stderr, r.stderr
    assert not (here / "out").exists() and not (here / ".prefect").exists()


@pytest.mark.parametrize("module", ["newsmill.cli", "newsmill"])
def test_version(module):
    r = subprocess.run([sys.executable, "-m", module, "--version"], capture_output=True, text=True,
                       env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=60)
    from newsmill.version import __version__

    assert r.returncode == 0 and r.stdout.strip() == f"newsmill {__version__}" and not r.stderr


def test_prefect_server_gone_during_a_run_is_its_own_code(here, monkeypatch, capsys):
    """A Prefect server killed during a run: Prefect's client raises httpx's transport errors (not OSErrors)."""
    import httpx

    from newsmill import pipeline

    def finalize(*a, **kw):
        raise RuntimeError("could not report the task's state") from httpx.ConnectError("All connection attempts failed")

    monkeypatch.setattr(pipeline, "finalize", finalize)
    assert cli.main([*RUN, "--workers", "1"]) == cli.EXIT_SERVICE
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "stopped answering" in err and "Traceback" not in err


def test_disk_full_during_publish_through_python_m(here):
    """The same failure in a process of its own: one line on the real stderr (no log line of a library)."""
    script = ("import errno, sys\nfrom newsmill import cli\nfrom newsmill.store import partfile\n"
              "def close(self):\n    raise OSError(errno.ENOSPC, 'No space left on device', 'out/x.parquet')\n"
              "partfile._PartWriter.close = close\n"
              "sys.exit(cli.main(['run', 'pages', '-o', 'out', '--no-prefect', '--no-progress', '--workers', '1']))\n")
    r = subprocess.run([sys.executable, "-c", script], cwd=here, env={**os.environ, "PYTHONPATH": str(REPO)},
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == cli.EXIT_NO_SPACE, r.stderr
    assert r.stderr.splitlines() == ["newsmill: stopped: No space left on device: out/x.parquet (free some space "
                                     "there, or give another --output)"]


def test_fetch_checks_its_output_before_any_request(here, monkeypatch, capsys):
    (here / "newsmill.toml").write_text('[[sources]]\nkind = "urls"\nurls = ["http://192.0.2.1/a"]\n', encoding="utf-8")
    dangling(here, monkeypatch)
    from newsmill.sources import live

    monkeypatch.setattr(live, "fetch_sources", lambda *a, **kw: pytest.fail("fetched"))
    assert cli.main(["fetch", "--output", "out"]) == cli.EXIT_OUTPUT_PATH
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "which does not exist" in err


def test_ctrl_c_in_a_run_in_this_process_is_130_in_one_line(here, monkeypatch, capsys):
    from newsmill import pipeline

    def finalize(*a, **kw):
        raise KeyboardInterrupt

    monkeypatch.setattr(pipeline, "finalize", finalize)
    assert cli.main([*RUN, "--workers", "1"]) == cli.EXIT_INTERRUPTED
    assert capsys.readouterr().err == "newsmill: interrupted\n"


def test_the_command_line_starts_without_reading_package_metadata():
    """importlib.metadata (email, zipfile...) is ~50 ms of every command's start, the warm worker's thin client's
    too: the version is read only for --version."""
    r = subprocess.run([sys.executable, "-c", "import sys, newsmill.cli; print('importlib.metadata' in sys.modules)"],
                       capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=60)
    assert r.stdout.strip() == "False", r.stderr
