"""Settings of schedules, Dask and incremental runs (defaults < newsmill.toml < environment), the
`serve` and `run` command lines failing fast, and the progress display."""
from __future__ import annotations

import io
import shutil
from datetime import timedelta

import pytest

from newsmill.config import ConfigError, DaskSettings, ScheduleSettings, load_settings, parse_interval
from newsmill.runtime import progress
from newsmill.service import schedule
from tests.conftest import SEED


def project(tmp_path, text: str):
    p = tmp_path / "newsmill.toml"
    p.write_text(text, encoding="utf-8")
    return p


@pytest.mark.parametrize("value, seconds", [(3600, 3600.0), (0.5, 0.5), ("90", 90.0), ("90s", 90.0), ("15m", 900.0),
                                            ("1h", 3600.0), ("1d", 86400.0), ("1h30m", 5400.0), ("2H 5S", 7205.0)])
def test_parse_interval(value, seconds):
    assert parse_interval(value) == seconds


@pytest.mark.parametrize("value", [0, -5, "0s", "soon", "1 hour", "", True, "1h-5m"])
def test_parse_interval_refuses(value):
    with pytest.raises(ValueError):
        parse_interval(value)


def test_schedule_from_project_file_and_environment(tmp_path):
    p = project(tmp_path, '[schedule]\ncron = "0 6 * * *"\ntimezone = "Europe/Berlin"\nname = "daily"\n')
    s = load_settings(p, env={}).schedule
    assert (s.cron, s.interval, s.timezone, s.name) == ("0 6 * * *", None, "Europe/Berlin", "daily")
    # the environment outranks the file; giving an interval there replaces the file's cron
    s = load_settings(p, env={"NEWSMILL_SCHEDULE_INTERVAL": "15m"}).schedule
    assert (s.cron, s.interval, s.timezone) == (None, 900.0, "Europe/Berlin")
    p = project(tmp_path, '[schedule]\ninterval = "1h"\n')
    assert load_settings(p, env={}).schedule.interval == 3600.0
    assert load_settings(p, env={"NEWSMILL_SCHEDULE_CRON": "@daily"}).schedule.cron == "@daily"
    assert not ScheduleSettings().is_set and load_settings(p, env={}).schedule.is_set


@pytest.mark.parametrize("table, message", [
    ('cron = "0 6 * * *"\ninterval = 60', "not both"),
    ('cron = "every morning"', "five fields"),
    ('interval = "soon"', "not a duration"),
    ("interval = 0", "longer than 0"),
    ('cron = "0 6 * * *"\ntimezone = "Mars/Olympus"', "IANA"),
    ('every = "1h"', "unknown setting 'every' in [schedule]"),
    ('interval = 60\nname = "a/b"', "without '/'"),
])
def test_bad_schedule_fails_fast_naming_the_setting(tmp_path, table, message):
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_settings(project(tmp_path, f"[schedule]\n{table}\n"), env={})


def test_dask_settings_layers_and_checks(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    p = project(tmp_path, "[dask]\nworkers = 2\n")
    assert load_settings(p, env={}).dask == DaskSettings(workers=2)
    assert load_settings(p, env={"NEWSMILL_DASK_ADDRESS": "tcp://127.0.0.1:8786"}).dask == \
        DaskSettings(address="tcp://127.0.0.1:8786")
    assert load_settings(None, env={"NEWSMILL_DASK_WORKERS": "3"}).dask.workers == 3
    for bad, message in (("workers = 0", "at least 1"), ('workers = "two"', "whole number|invalid literal"),
                         ('address = "localhost"', "tcp://host:port"), ('address = "http://x:1"', "tcp://host:port"),
                         ('workers = 2\naddress = "tcp://x:1"', "not both")):
        with pytest.raises(ConfigError, match=message):
            load_settings(project(tmp_path, f"[dask]\n{bad}\n"), env={})
    # the command line replaces the table as a whole
    p = project(tmp_path, "[dask]\nworkers = 2\n")
    s = load_settings(p, env={}).with_run_options(dask_address="tls://10.0.0.5:8786")
    assert s.dask == DaskSettings(address="tls://10.0.0.5:8786")
    assert load_settings(p, env={}).with_run_options(full=True).incremental is False


def test_prefect_schedule_objects():
    from prefect.client.schemas.schedules import CronSchedule, IntervalSchedule

    cron = schedule.schedule_of(ScheduleSettings(cron="0 6 * * *", timezone="Europe/Berlin"))
    assert isinstance(cron, CronSchedule) and cron.cron == "0 6 * * *" and cron.timezone == "Europe/Berlin"
    every = schedule.schedule_of(ScheduleSettings(interval="1h"))
    assert isinstance(every, IntervalSchedule) and every.interval == timedelta(hours=1)
    with pytest.raises(ConfigError, match="Invalid cron"):  # well formed, but no such minute: Prefect's check
        schedule.schedule_of(ScheduleSettings(cron="61 * * * *"))
    with pytest.raises(ConfigError, match="no schedule"):
        schedule.schedule_of(ScheduleSettings())


def test_deployment_parameters_are_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    project(tmp_path, '[newsmill]\noutput_dir = "data"\ninputs = ["pages"]\n[schedule]\ninterval = 60\n')
    s = load_settings(None, env={})
    params = schedule.deployment_parameters(s, ["in/a.txt"], project_file=None)
    assert params == {"paths": [str(tmp_path / "in" / "a.txt")], "output_dir": str(tmp_path / "data"),
                      "project_file": str(tmp_path / "newsmill.toml"), "batch_size": None}
    assert schedule.deployment_parameters(s, [], project_file=None)["paths"] == []  # the project's inputs
    with pytest.raises(ConfigError, match="no inputs"):
        schedule.deployment_parameters(load_settings(tmp_path / "newsmill.toml", env={}).with_overrides(inputs=()),
                                       [], project_file=None)


def test_serve_without_a_server_or_a_schedule_exits_2(tmp_path, monkeypatch, capsys):
    from newsmill.cli import main

    monkeypatch.chdir(tmp_path)
    from newsmill.service import prefect_server

    monkeypatch.setattr(schedule, "api_url", lambda: None)

    def no_server(*a, **k):
        raise prefect_server.ServerError("port taken")

    monkeypatch.setattr(prefect_server, "configured_api_url", lambda: None)
    monkeypatch.setattr(prefect_server, "ensure", no_server)  # the local server cannot start
    assert main(["serve", str(SEED)]) == 2
    assert "no schedule" in capsys.readouterr().err
    assert main(["serve", "--interval", "10s", str(SEED)]) == 2
    err = capsys.readouterr().err
    assert "needs a Prefect server" in err and "PREFECT_API_URL" in err and "port taken" in err
    assert main(["serve", "--cron", "every day", str(SEED)]) == 2
    assert "five fields" in capsys.readouterr().err


def test_run_refuses_conflicting_scale_out_options(tmp_path, monkeypatch, capsys):
    from newsmill.cli import main

    monkeypatch.chdir(tmp_path)
    assert main(["run", str(SEED), "--workers", "2", "--dask", "tcp://127.0.0.1:1"]) == 2
    assert "not both" in capsys.readouterr().err
    assert main(["run", str(SEED), "--workers", "0"]) == 2
    assert "at least 1" in capsys.readouterr().err
    assert main(["run", str(SEED), "--no-prefect", "--dask", "tcp://127.0.0.1:1"]) == 2
    assert "drop --no-prefect" in capsys.readouterr().err
    assert main(["run", str(SEED), "--dask", "nowhere"]) == 2


class _Tty(io.StringIO):
    def isatty(self):
        return True


class _Plan:
    def __init__(self, batches, unchanged=0):
        self.batches = batches

        class _L:
            pass

        self.listed = _L()
        self.listed.unchanged = unchanged


def _drive(stream, enabled, every=10.0):
    plan = _Plan([["a", "b"], ["c"], ["d", "e", "f"]], unchanged=4)
    with progress.display(enabled, stream=stream, every=every):
        with progress.tracking(plan):
            for b in plan.batches:
                progress.batch_done(len(b))
    return stream.getvalue()


def test_progress_silent_when_not_a_terminal_unless_forced():
    assert _drive(io.StringIO(), None) == ""
    assert _drive(_Tty(), False) == ""
    forced = _drive(io.StringIO(), True, every=3600).splitlines()
    assert forced == ["progress: 6 pages to extract in batches, 4 unchanged inputs skipped",
                      forced[1]] and forced[1].startswith("progress: 6/6 pages (100%)")  # no line per batch
    assert len(_drive(io.StringIO(), True, every=0).splitlines()) == 4  # throttle off: one per batch but the last
    progress.batch_done(3)  # no display installed: nothing happens


def test_progress_bar_on_a_terminal():
    out = _drive(_Tty(), None)
    assert "6/6" in out and "pages" in out and "4 unchanged" in out


def test_cli_progress_only_on_request_when_not_a_terminal(tmp_path, capsys, monkeypatch):
    from newsmill.cli import main

    monkeypatch.setenv("NEWSMILL_AUTHOR_KEY", "k" * 32)
    d = tmp_path / "in"
    d.mkdir()
    shutil.copy(SEED, d / "seed.txt")
    assert main(["run", "--no-prefect", str(d), "-o", str(tmp_path / "out")]) == 0
    assert "progress:" not in capsys.readouterr().out
    assert main(["run", "--no-prefect", "--full", "--progress", str(d), "-o", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert "progress: 1 pages to extract" in out and "progress: 1/1 pages (100%)" in out
