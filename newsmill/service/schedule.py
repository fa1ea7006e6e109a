"""``newsmill serve``: the flow as a Prefect deployment, run on the project file's schedule.

Serving needs a real Prefect server: the one of ``PREFECT_API_URL`` (or of the
Prefect profile), else newsmill's local server (:mod:`newsmill.service.prefect_server`, started if
needed and left running, shared with ``newsmill run``). Prefect's temporary server
lives only as long as its process and has no scheduler. ``flow.serve`` registers the
deployment ``newsmill/<name>`` with the schedule and the run's parameters, then
polls the server and runs each scheduled flow run in a subprocess of its own
(same working folder and environment). One run at a time (``limit=1``): runs
on one output folder would only wait for each other's lock. Stopping ``serve``
(Ctrl-C, SIGTERM) pauses the deployment's schedule.
Each run prints its run id with the link to its page in the UI, then its one-line
summary (``newsmill.flow``): the runner streams a run's output to ``serve``'s terminal.
"""
from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

from newsmill.config import ConfigError, ScheduleSettings, Settings, is_url, parse_interval

FLOW_ENTRYPOINT = "newsmill.flow.newsmill_flow"


def api_url() -> str | None:
    """The Prefect API this process would talk to (environment or Prefect profile), if any."""
    from prefect.settings import get_current_settings

    url = get_current_settings().api.url
    return str(url) if url else None


def _local_server() -> str:
    """newsmill's local Prefect server (started if needed, with its UI: the run links ``serve`` prints
    open pages there), or a ConfigError saying what to do instead."""
    from newsmill.service import prefect_server

    try:
        if prefect_server.configured_api_url() is None and prefect_server.status() is None:
            prefect_server.ensure(ui=True)
        return prefect_server.use_local_server(required=True)
    except prefect_server.ServerError as exc:
        raise ConfigError("newsmill serve needs a Prefect server and the local one could not be started "
                          f"({str(exc).splitlines()[0]}); start one with `prefect server start` and set "
                          "PREFECT_API_URL (e.g. http://127.0.0.1:4200/api); Prefect's temporary server "
                          "cannot keep a schedule") from None


def schedule_of(s: ScheduleSettings):
    """The Prefect schedule object for the [schedule] table, checked by Prefect's own validators."""
    from prefect.client.schemas.schedules import CronSchedule, IntervalSchedule

    try:
        if s.cron is not None:
            return CronSchedule(cron=s.cron.strip(), timezone=s.timezone or "UTC")
        if s.interval is not None:
            return IntervalSchedule(interval=timedelta(seconds=parse_interval(s.interval)),
                                    timezone=s.timezone or "UTC")
    except ValueError as exc:  # pydantic's ValidationError is a ValueError
        raise ConfigError(f"[schedule]: {exc}") from None
    raise ConfigError("no schedule: add a [schedule] table with cron = \"0 6 * * *\" or interval = \"1h\" "
                      "to newsmill.toml (or set NEWSMILL_SCHEDULE_CRON / NEWSMILL_SCHEDULE_INTERVAL)")


def describe(s: ScheduleSettings) -> str:
    if s.cron is not None:
        return f"cron '{s.cron}' ({s.timezone or 'UTC'})"
    seconds = parse_interval(s.interval)
    return f"every {timedelta(seconds=seconds)} ({seconds:g} s)"


def deployment_parameters(settings: Settings, paths: list[str], *, project_file: str | None,
                          batch_size: int | None = None) -> dict:
    """The flow's parameters for every scheduled run; paths made absolute (runs inherit the working
    folder, but the deployment is also shown in the UI and started by hand)."""
    if not paths and not settings.project_paths() and not settings.live_sources():
        raise ConfigError("no inputs to serve: give PATH arguments, or 'inputs' or [[sources]] in newsmill.toml")
    project = project_file or ("newsmill.toml" if Path("newsmill.toml").exists() else None)
    return {
        "paths": [os.path.abspath(p) for p in paths],  # none: the project file's inputs and sources
        "output_dir": settings.output_dir if is_url(settings.output_dir) else str(Path(settings.output_dir).resolve()),
        "project_file": str(Path(project).resolve()) if project else None,
        "batch_size": batch_size,
    }


def serve(settings: Settings, paths: list[str], *, project_file: str | None = None,
          batch_size: int | None = None, print_message: bool = True) -> None:
    """Register the deployment and run its scheduled flow runs until stopped (blocks)."""
    schedule = schedule_of(settings.schedule)  # fail fast on the configuration, before talking to a server
    params = deployment_parameters(settings, paths, project_file=project_file, batch_size=batch_size)
    url = api_url() or _local_server()
    from prefect.flows import EntrypointType

    from newsmill.flow import newsmill_flow

    if print_message:
        print(f"newsmill serve: deployment 'newsmill/{settings.schedule.name}', {describe(settings.schedule)}, "
              f"on {url}\n  output: {params['output_dir']}\n  inputs: "
              f"{', '.join(params['paths']) or 'the project file inputs and sources'}\n"
              f"  runs: {_runs_line(url)}\n"
              "  Ctrl-C stops serving (and pauses the schedule)", flush=True)
    newsmill_flow.serve(
        name=settings.schedule.name,
        schedules=[schedule],
        parameters=params,
        description=f"newsmill on a schedule: {describe(settings.schedule)} into {params['output_dir']}",
        tags=["newsmill"],  # each run adds its run id (newsmill.flow)
        limit=1,
        pause_on_shutdown=True,
        print_starting_message=print_message,
        entrypoint_type=EntrypointType.MODULE_PATH,
    )


def ui_url() -> str | None:
    """The UI of the Prefect server in use (``PREFECT_UI_URL``, else the API URL less ``/api``), if any."""
    from prefect.settings import get_current_settings

    url = get_current_settings().ui_url
    return str(url).rstrip("/") if url else None


def ui_served(url: str | None, timeout: float = 3.0) -> bool:
    """Whether ``url`` (a UI's base URL) answers with a page: a server started with ``--no-ui`` answers 404."""
    if not url:
        return False
    import httpx

    try:
        r = httpx.get(url + "/", timeout=timeout, follow_redirects=True, headers={"Accept": "text/html"})
    except httpx.HTTPError:
        return False
    return r.status_code == 200 and "html" in r.headers.get("content-type", "")


def _runs_line(api: str) -> str:
    """What ``serve`` says of the runs it will start: each prints its id and page, then its summary."""
    ui = ui_url()
    if ui_served(ui):
        from newsmill.flow import ui_pages

        return (f"each prints its run id, its page ({ui_pages(ui)}/runs/flow-run/<id>) and its one-line summary "
                "here")
    return (f"each prints its run id and its one-line summary here; the server at {api} serves no UI, so "
            "run pages do not open (newsmill's local server: `newsmill server stop`, then "
            "`newsmill server start --ui`)")
