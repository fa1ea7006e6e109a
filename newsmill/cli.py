"""The ``newsmill`` command."""
from __future__ import annotations

import argparse
import errno
import glob
import json
import logging
import os
import sys
from pathlib import Path

from newsmill.config import AUTHOR_MODES, ConfigError, check_reachable, is_url, load_settings, output_location
from newsmill.store import layout
from newsmill.text import shown

# Exit codes, one meaning each (README "Exit codes"). Every failure but a run's own outcome (0, 1) is said in
# one line on stderr, no traceback; the ones a run can be checked for are found before any page is read.
EXIT_OK = 0
EXIT_CRITICAL = 1  # the run completed, but a critical expectation failed or the accounting broke: see its report
EXIT_USAGE = 2  # a bad option, setting, input path or secret (found up front); or no input could be read
EXIT_REMOTE = 3  # a remote output could not be read or written, or its commit was refused: nothing committed
EXIT_NO_SPACE = 4  # no space left on a device (ENOSPC) or over a disk quota (EDQUOT)
EXIT_READ_ONLY = 5  # a read-only file system where newsmill writes (EROFS)
EXIT_PERMISSION = 6  # permission denied (EACCES, EPERM)
EXIT_OUTPUT_PATH = 7  # the output location cannot be a folder: a dangling symlink, a file, a path nothing can create
EXIT_OS = 8  # another operating-system failure: an I/O error, too many open files, out of memory, ...
EXIT_SERVICE = 9  # the Prefect server or the warm worker could not be started, or stopped answering during a run
EXIT_INTERNAL = 70  # a bug: an unexpected exception (one line; NEWSMILL_TRACEBACK=1 prints the traceback)
EXIT_INTERRUPTED = 130  # Ctrl-C


class Failure(Exception):
    """A failure said in one line with its exit code (raised by the checks before a run)."""

    def __init__(self, message: str, code: int):
        super().__init__(message)
        self.code = code


_ERRNO_EXIT = {errno.ENOSPC: EXIT_NO_SPACE, errno.EDQUOT: EXIT_NO_SPACE, errno.EFBIG: EXIT_NO_SPACE,
               errno.EROFS: EXIT_READ_ONLY, errno.EACCES: EXIT_PERMISSION, errno.EPERM: EXIT_PERMISSION}
_ERRNO_HINT = {EXIT_NO_SPACE: "free some space there, or give another --output",
               EXIT_READ_ONLY: "that file system is mounted read-only: give another --output",
               EXIT_PERMISSION: "check the owner and mode of that path and of the folders above it"}


def _os_failure(exc: OSError, doing: str = "") -> Failure:
    """An operating-system error as one line with its own exit code (``_ERRNO_EXIT``, else EXIT_OS)."""
    code = _ERRNO_EXIT.get(exc.errno, EXIT_OS)
    what = exc.strerror or (errno.errorcode.get(exc.errno) if exc.errno else None) or type(exc).__name__
    where = f": {shown(exc.filename)}" if exc.filename is not None else ""
    hint = _ERRNO_HINT.get(code)
    return Failure(f"{doing + ': ' if doing else ''}{what}{where}" + (f" ({hint})" if hint else ""), code)


def _chained_os_error(exc: BaseException) -> OSError | None:
    """The operating-system error behind ``exc`` (itself, or what it was raised from), if any. Network
    errors (ConnectionError, timeouts) are OSErrors too but not the machine's: they are left out."""
    seen = 0
    while exc is not None and seen < 16:
        if isinstance(exc, OSError) and not isinstance(exc, (ConnectionError, TimeoutError)) and exc.errno:
            return exc
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return None


def _lost_server(exc: BaseException) -> BaseException | None:
    """The HTTP transport error behind ``exc`` when the Prefect server went away during a run (killed,
    restarted): Prefect's client raises httpx's errors, which are not OSErrors."""
    httpx = sys.modules.get("httpx")
    transport = getattr(httpx, "TransportError", None)
    seen = 0
    while transport is not None and exc is not None and seen < 16:
        if isinstance(exc, transport):
            return exc
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return None


def _say(message: str) -> None:
    """One line on stderr: control characters (newlines, escape sequences) in ``message`` are escaped."""
    print(f"newsmill: {shown(message)}", file=sys.stderr)


def _failed(exc: BaseException) -> int:
    """What ``main`` does with an exception a command raised: one line and the exit code for it."""

    remote_error = _remote_error_class()
    if isinstance(exc, Failure):
        _say(str(exc))
        return exc.code
    if isinstance(exc, ConfigError):
        _say(str(exc))
        return EXIT_USAGE
    if remote_error is not None and isinstance(exc, remote_error):
        _say(str(exc))
        return EXIT_REMOTE
    if isinstance(exc, KeyboardInterrupt):
        _say("interrupted")
        return EXIT_INTERRUPTED
    server_error = getattr(sys.modules.get("newsmill.service.prefect_server"), "ServerError", None)
    if server_error is not None and isinstance(exc, server_error):
        _say(str(exc))
        return EXIT_SERVICE
    lost = _lost_server(exc)
    if lost is not None:
        _say(f"the Prefect server ({os.environ.get('PREFECT_API_URL') or 'local'}) stopped answering: "
             f"{type(lost).__name__}: {lost} (`newsmill server status`; what the run committed before is in "
             f"its output's report)")
        return EXIT_SERVICE
    os_error = _chained_os_error(exc)
    if os_error is not None:
        failure = _os_failure(os_error, "stopped")
        _say(str(failure))
        return failure.code
    if os.environ.get("NEWSMILL_TRACEBACK", "").strip().lower() in ("1", "true", "yes"):
        import traceback

        traceback.print_exception(exc, file=sys.stderr)
    _say(f"internal error: {type(exc).__name__}: {exc} (a bug; NEWSMILL_TRACEBACK=1 prints where)")
    return EXIT_INTERNAL


def _remote_error_class():
    """RemoteError if the store was imported (a command that never imported it cannot have raised it)."""
    mod = sys.modules.get("newsmill.store.objstore")
    return getattr(mod, "RemoteError", None)


class _NoEngineErrors(logging.Filter):
    """On the terminal, Prefect's engine logs a failing task or flow run as a traceback (at ERROR) before
    ``main`` says what failed in one line: those records stay in the run's logs (the server's API handler,
    the UI), not on the terminal."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.levelno >= logging.ERROR and record.name.startswith(("prefect.flow_runs",
                                                                                 "prefect.task_runs")))


def _terminal_logs() -> None:
    """The filter above on every handler of the root logger (Prefect may have added its console handler)."""
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, _NoEngineErrors) for f in handler.filters):
            handler.addFilter(_NoEngineErrors())


def _quiet_telemetry() -> None:
    """Before Prefect/GX are imported: keep their state local and their telemetry off."""
    if not os.environ.get("PREFECT_HOME"):  # one home per user, not per working folder (README: Prefect server)
        from newsmill.service.prefect_server import default_home

        os.environ["PREFECT_HOME"] = str(default_home())
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("DASK_LOGGING__DISTRIBUTED", "warning")  # Dask logs each worker start/stop at INFO
    # only used if Prefect's temporary server is the fallback: a fresh database on a loaded machine took longer
    # than Prefect's 20 s default to answer
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")


def _print_summary(s: dict) -> None:
    out = Path(s["output_dir"])
    print()
    print(f"newsmill run {s['run_id']}: {s['inputs']} pages read in {s['seconds']} s")
    print(f"  articles   published {s['articles_published']:>7}   quarantined {s['articles_quarantined']}")
    print(f"  comments   published {s['comments_published']:>7}   quarantined {s['comments_quarantined']}")
    reasons = ", ".join(f"{shown(k)}: {v}" for k, v in sorted(s["reject_reasons"].items()))
    print(f"  rejected inputs      {s['rejected']:>7}" + (f"   ({reasons})" if reasons else ""))
    if "comments_not_captured" in s:
        from newsmill.validate.report import not_captured_line

        print(f"  {not_captured_line(s['comments_not_captured'])}")
    if s.get("skipped_records"):
        print("  skipped, not inputs (archive records that are not pages, unchanged pages): " + ", ".join(f"{shown(k)}: {v}" for k, v in sorted(s["skipped_records"].items())))
    if s.get("articles_suppressed") or s.get("comments_suppressed"):
        print(f"  suppressed           {s['articles_suppressed']:>7} articles, {s['comments_suppressed']} comments "
              f"(erased by newsmill forget: left out, not published)")
    if "unchanged_inputs" in s:
        print(f"  unchanged inputs     {s['unchanged_inputs']:>7}   (processed by an earlier run, same bytes: "
              f"skipped; --full reprocesses them)")
    if s.get("articles_suppressed"):
        print(f"  accounting: inputs = published + quarantined + rejected + unchanged + suppressed: "
              f"{s['inputs']} = {s['articles_published']} + {s['articles_quarantined']} + {s['rejected']} + "
              f"{s.get('unchanged_inputs', 0)} + {s['articles_suppressed']}: {'ok' if s['accounting_ok'] else 'BROKEN'}")
    elif "unchanged_inputs" in s:
        print(f"  accounting: inputs = published + quarantined + rejected + unchanged: "
              f"{s['inputs']} = {s['articles_published']} + {s['articles_quarantined']} + {s['rejected']} + "
              f"{s['unchanged_inputs']}: {'ok' if s['accounting_ok'] else 'BROKEN'}")
    else:
        print(f"  accounting: inputs = published + quarantined + rejected: "
              f"{s['inputs']} = {s['articles_published']} + {s['articles_quarantined']} + {s['rejected']}: "
              f"{'ok' if s['accounting_ok'] else 'BROKEN'}")
    if "authors_mode" in s:
        key = {"environment": "NEWSMILL_AUTHOR_KEY", "output": "random per-output key in _state/"}.get(
            s.get("author_key_source"), s.get("author_key_source"))
        print(f"  authors:    {s['authors_mode']} (author ids keyed with {key})")
    for o in s["failed_expectations"]:
        print(f"  [{o['severity']}] {o['table']}: {shown(o['reason'])} ({o['unexpected_count']} rows)")
    r = s.get("remote")
    if r:  # a URL output: the run's places there (the mirror is the local working copy)
        print(f"  committed:  version {r['version_dir']} to {r['url']} (pointer {r['pointer']})")
        print(f"  data:       {r['articles']}  and  {r['comments']}")
        print(f"  read with:  newsmill.read_tables({r['url']!r})")
        print(f"  quarantine: {r['quarantine']}")
        print(f"  report:     {r['report']}")
        print(f"  data docs:  {r['data_docs']}")
        print(f"  mirror:     {r['mirror']}")
    else:
        print(f"  data:       {out / 'articles'}  and  {out / 'comments'}")
        print(f"  quarantine: {layout.quarantine_dir(out)}")
        print(f"  report:     {Path(s['report_dir']) / 'summary.md'}")
        if s.get("data_docs"):
            print(f"  data docs:  {s['data_docs']}")
    if s["critical_failed"]:
        print("  a CRITICAL expectation failed: exit code 1")


def _settings_or_none(args):
    """Layered settings for a command, or None after printing why they are wrong (exit code 2)."""
    try:
        return load_settings(Path(args.config) if args.config else None)
    except ConfigError as exc:
        print(f"newsmill: configuration error: {exc}", file=sys.stderr)
        return None


def _check_inputs(paths: list[str], origin: str) -> None:
    """Every PATH (file, folder, glob, ``archive#offset``) must match something, and a folder hold a page:
    one that matches nothing is named here, before an output folder or a key is made."""
    from newsmill.sources.files import ARCHIVE_SUFFIXES, _format_of

    def holds_pages(folder: str) -> bool:
        for _root, dirs, files in os.walk(folder):
            dirs[:] = [d for d in dirs if not d.startswith(".")]
            if any(not f.startswith(".") and (_format_of(f) or f.lower().endswith(ARCHIVE_SUFFIXES)) for f in files):
                return True
        return False

    nothing, empty = [], []
    for p in paths:
        if glob.has_magic(p):
            if next(glob.iglob(p, recursive=True), None) is None:
                nothing.append(p)
        elif os.path.isdir(p):
            if not holds_pages(p):
                empty.append(p)
        elif not os.path.lexists(p) and not os.path.lexists(p.rpartition("#")[0] or p):
            nothing.append(p)
    if nothing:
        raise ConfigError(f"{origin}{'s' if len(nothing) > 1 else ''} {', '.join(repr(p) for p in nothing)}: "
                          f"{'matches' if len(nothing) == 1 else 'match'} nothing (no such file or folder, "
                          f"or a glob without matches)")
    if empty:
        raise ConfigError(f"{origin}{'s' if len(empty) > 1 else ''} {', '.join(repr(p) for p in empty)}: no page files in "
                          f"{'this folder' if len(empty) == 1 else 'these folders'} (.txt, .html, .warc.gz, ...)")


def _check_output_folder(path: Path, what: str = "output") -> None:
    """The output folder exists afterwards and a file can be written in it, or a one-line Failure with the
    exit code of what is wrong (a dangling symlink, not a folder, read-only, no permission, no space)."""
    import tempfile

    if os.path.islink(path) and not os.path.exists(path):
        raise Failure(f"{what} {shown(path)} is a symlink to {shown(os.readlink(path))}, which does not exist: "
                      f"create its target or give another --output", EXIT_OUTPUT_PATH)
    if os.path.exists(path) and not os.path.isdir(path):
        raise Failure(f"{what} {shown(path)} exists and is not a folder: give another --output", EXIT_OUTPUT_PATH)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        failure = _os_failure(exc, f"{what} folder {shown(path)} cannot be created")
        if failure.code == EXIT_OS:  # e.g. under /proc, or below a file: not a place for a folder
            failure.code = EXIT_OUTPUT_PATH
        raise failure from None
    try:
        fd, probe = tempfile.mkstemp(dir=path, prefix=".newsmill-probe-")
        try:
            os.write(fd, b"newsmill")
        finally:
            os.close(fd)
            os.unlink(probe)
    except OSError as exc:
        raise _os_failure(exc, f"cannot write in the {what} folder {shown(path)}") from None


def _check_remote(settings) -> Path:
    """A URL output: the key, the URL, its mirror folder, and the storage (reachable, bucket there, credentials)
    checked before anything runs; returns the mirror."""
    from newsmill.store import remote

    t = remote.target(settings)  # ConfigError: no NEWSMILL_AUTHOR_KEY, a bad URL, a missing package
    _check_output_folder(Path(t.mirror), "mirror")
    fs, root = t.filesystem()
    with remote.storage_errors(t.url, "read"):
        protocols = fs.protocol if isinstance(fs.protocol, (tuple, list)) else (fs.protocol,)
        if {"s3", "s3a", "gs", "gcs", "abfs", "az"} & set(protocols):  # a bucket must exist before anything is put
            bucket = root.strip("/").split("/", 1)[0]
            try:
                fs.info(bucket)
            except FileNotFoundError:
                raise remote.RemoteError(f"cannot write to {remote.display_url(t.url)}: the bucket does not "
                                         f"exist: create {bucket!r} first") from None
        remote.read_pointer(remote.objects(fs, root, t.url))
    return Path(t.mirror)


def check_run(args, settings) -> None:
    """Everything a run can be checked for before it starts: options, inputs, output, secrets, profiles,
    the Dask scheduler. Raises ConfigError (exit 2), Failure (its code) or RemoteError (exit 3)."""
    paths = list(args.paths)
    if not paths and not settings.project_paths() and not settings.live_sources():
        raise ConfigError("no inputs: give PATH arguments, or 'inputs' or [[sources]] in newsmill.toml")
    if args.no_prefect and args.dask:
        raise ConfigError("--dask runs the batch tasks on Dask through Prefect: drop --no-prefect")
    if args.workers is not None and args.dask:
        raise ConfigError("give --workers (local processes) or --dask (an existing cluster), not both")
    _check_inputs(paths, "input") if paths else _check_inputs(settings.project_paths(), "project file input")
    run_settings = settings.with_overrides(output_dir=output_location(args.output) if args.output else None,
                                           batch_size=args.batch_size, authors=args.authors
                                           ).with_run_options(full=args.full, workers=args.workers,
                                                              dask_address=args.dask)
    if run_settings.profiles_dir and not os.path.isdir(run_settings.profiles_dir):
        raise ConfigError(f"setting 'profiles_dir' is {run_settings.profiles_dir!r}: no such folder")
    if is_url(run_settings.output_dir):
        _check_remote(run_settings)
    else:
        _check_output_folder(Path(run_settings.output_dir))
    if run_settings.dask.address:
        check_reachable(run_settings.dask.address)  # before the flow: one line, not Prefect's traceback


def cmd_run(args) -> int:
    settings = load_settings(Path(args.config) if args.config else None)
    check_run(args, settings)
    paths = list(args.paths)  # none given: the flow/pipeline read the project file's inputs and [[sources]]
    output = output_location(args.output) if args.output else settings.output_dir
    from newsmill.runtime import progress

    if args.no_prefect:
        from newsmill import pipeline

        with progress.display(args.progress):
            summary = pipeline.run(paths, settings.with_overrides(output_dir=output, batch_size=args.batch_size,
                                                                  authors=args.authors
                                                                  ).with_run_options(full=args.full,
                                                                                     workers=args.workers)
                                   ).to_dict()
    else:
        from newsmill.service import prefect_server

        prefect_server.use_local_server()  # PREFECT_API_URL, else newsmill's local server, else the temporary one
        from newsmill.flow import run_flow

        _terminal_logs()
        with progress.display(args.progress):
            summary = run_flow(paths=paths, output_dir=str(output), batch_size=args.batch_size,
                               project_file=args.config, full=args.full, workers=args.workers,
                               dask_address=args.dask, authors=args.authors)
    # failures (an author key that does not match the output, storage, the operating system) go to main
    report = Path(summary["report_dir"]) / "summary.json"
    if report.exists():
        summary = json.loads(report.read_text(encoding="utf-8"))
    _print_summary(summary)
    return summary["exit_code"]


def cmd_fetch(args) -> int:
    """Fetch the live sources into <output>/raw/<run id>.warc.gz only (no extraction); print the counts."""
    from datetime import datetime, timezone

    from newsmill.pipeline import new_run_id
    from newsmill.sources.live import fetch_only_refused, fetch_sources

    settings = _settings_or_none(args)
    if settings is None:
        return 2
    if why := fetch_only_refused(settings):  # with authors pseudonymize/drop a raw capture is kept only on request
        print(f"newsmill: {why}", file=sys.stderr)
        return 2
    live = settings.live_sources()
    if not live:
        print("newsmill: nothing to fetch: no [[sources]] of kind urls, feed or sitemap in the project file",
              file=sys.stderr)
        return 2
    output = output_location(args.output) if args.output else settings.output_dir
    run_id = new_run_id(datetime.now(timezone.utc))
    target = None
    if is_url(output):  # fetched into the mirror, then the raw WARC is uploaded beside the dataset
        from newsmill.store import remote

        try:
            target = remote.target(settings.with_overrides(output_dir=output), need_key=False)
        except ConfigError as exc:
            print(f"newsmill: {exc}", file=sys.stderr)
            return 2
        output = Path(target.mirror)
    _check_output_folder(Path(output), "mirror" if target is not None else "output")  # before any request
    from newsmill.store import layout

    res = fetch_sources(live, settings.fetch, places=layout.live_places(output, run_id), run_id=run_id)
    c = res.counts
    reasons: dict[str, int] = {}
    for r in res.rejects:
        reasons[r.reason] = reasons.get(r.reason, 0) + 1
    print(f"newsmill fetch {run_id}: {c.get('urls', 0)} page URLs from {len(live)} sources "
          f"({c.get('feeds', 0)} feeds/sitemaps read, {c.get('requests', 0)} requests, {c.get('retries', 0)} retries)")
    print(f"  fetched       {c.get('fetched', 0):>7}")
    print(f"  not modified  {c.get('not_modified', 0):>7}")
    print(f"  rejected      {len(res.rejects):>7}" + ("   (" + ", ".join(f"{k}: {v}" for k, v in sorted(reasons.items())) + ")"
                                                      if reasons else ""))
    if c.get("over_max_urls"):
        print(f"  over max_urls {c['over_max_urls']:>7}   (not fetched)")
    print(f"  raw WARC:     {res.warc_path}")
    if target is not None and res.warc_path:
        from newsmill.store.remote import RemoteError, upload_side_file

        try:
            print(f"  uploaded to:  {upload_side_file(target, Path(res.warc_path).relative_to(output).as_posix())}")
        except RemoteError as exc:
            print(f"newsmill: {exc}", file=sys.stderr)
            return EXIT_REMOTE
    print(f"  replay:       newsmill run {res.warc_path}")
    return 0


def cmd_serve(args) -> int:
    from dataclasses import replace

    from newsmill.config import ScheduleSettings

    try:
        settings = load_settings(Path(args.config) if args.config else None)
        if args.output:
            settings = settings.with_overrides(output_dir=output_location(args.output))
        sched = settings.schedule
        if args.cron or args.interval:  # the command line replaces the schedule's kind, keeps its time zone
            sched = ScheduleSettings(cron=args.cron, interval=args.interval, timezone=sched.timezone, name=sched.name)
        if args.name:
            sched = replace(sched, name=args.name)
        settings = replace(settings, schedule=sched)
        from newsmill.service import schedule

        schedule.serve(settings, list(args.paths), project_file=args.config, batch_size=args.batch_size)
    except ConfigError as exc:
        print(f"newsmill: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        pass
    return 0


def cmd_server(args) -> int:
    """The local Prefect server that `newsmill run` and `newsmill serve` use when PREFECT_API_URL is not set:
    one per user (PREFECT_HOME), only this user's (127.0.0.1 and an auth string), stopped when unused."""
    import shlex

    from newsmill.service import prefect_server

    home = prefect_server.home()
    if args.action == "stop":
        print("newsmill server: stopped" if prefect_server.stop() else "newsmill server: not running")
        return 0
    if args.action == "start":
        try:
            info = prefect_server.ensure(ui=args.ui)
        except prefect_server.ServerError as exc:
            _say(str(exc))
            return EXIT_SERVICE
    else:
        info = prefect_server.status()
    if info is None:
        print(f"newsmill server: not running (PREFECT_HOME {home})")
        return 3
    state = "running" if info.get("healthy", True) else "starting (not answering yet)"
    idle = info.get("idle")
    stops = (f"stops after {idle:.0f} s without a client (NEWSMILL_SERVER_IDLE)" if idle
             else "no idle stop" if idle is not None else "started by an older newsmill: no idle stop, no auth")
    secret = home / prefect_server._SECRET_FILE
    ui = info["api_url"].removesuffix("/api")
    print(f"newsmill server: {state}, pid {info['pid']}, {stops}\n"
          f"  api:  {info['api_url']}\n"
          f"  auth: {secret} (only you can read it: Prefect's auth string, user:secret)")
    if info.get("ui"):
        print(f"  ui:   {ui}/  (it asks for the auth string once: paste the content of the auth file)")
    elif args.action == "start" and args.ui:
        print("  ui:   off: this server was started without it (`newsmill server stop`, then "
              "`newsmill server start --ui`)")
    print(f"  for other Prefect commands: export PREFECT_API_URL={info['api_url']} "
          f"PREFECT_API_AUTH_STRING=\"$(cat {shlex.quote(str(secret))})\"\n"
          f"  home: {home}\n  log:  {info['log']}")
    return 0


def cmd_daemon(args) -> int:
    """The warm worker that takes `newsmill run` from a thin client (newsmill/service/warm_client.py): one per
    user and machine, in the folder of [daemon] dir (NEWSMILL_DAEMON_DIR), by default a per-user runtime folder."""
    from newsmill.service import warm_client

    daemon = load_settings(Path(args.config) if args.config else None).daemon
    h = warm_client.home(daemon.dir)
    if args.action == "stop":
        print("newsmill daemon: stopped (runs in progress finish)" if warm_client.stop(h) else "newsmill daemon: not running")
        return 0
    if args.action == "start":
        info = warm_client.status(h)
        if info is not None and not info["current"]:  # it runs other code: replace it
            warm_client.stop(h)
        try:
            warm_client.start(h, idle=daemon.idle).close()
        except (OSError, RuntimeError) as exc:
            _say(f"the warm worker did not start: {exc}")
            return EXIT_SERVICE
    info = warm_client.status(h)
    if info is None:
        print(f"newsmill daemon: not running (folder {h})")
        return 3
    since = f", up since {_clock(info['started'])}" if info.get("started") else ""
    print(f"newsmill daemon: {info.get('state', 'running')}, pid {info.get('pid')}{since}"
          f"{'' if info['current'] else ' (runs older code: replaced at the next run)'}\n"
          f"  imports {info.get('imports_s', '?')} s, warm-up {info.get('warm_up_s', '?')} s\n"
          f"  log:  {h / warm_client.LOG}")
    return 0


def _clock(t: float) -> str:
    import time

    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t))


def cmd_versions(args) -> int:
    """The versions an output keeps, newest first: what ``read_tables(output, version=...)`` can read."""
    from newsmill.store import history

    settings = load_settings(Path(args.config) if args.config else None)
    where = output_location(args.output) if args.output else settings.output_dir
    if not is_url(where) and not Path(where).is_dir():
        raise Failure(f"versions: the output folder {shown(where)} does not exist (give the folder a run published "
                      f"to)", EXIT_USAGE)
    kept = history.list_versions(where, storage_options=settings.output.storage_options or None)
    if args.json:
        print(json.dumps([v.as_dict() for v in kept], indent=1))
        return EXIT_OK
    if not kept:
        print(f"{shown(where)} holds no published version yet")
        return EXIT_OK
    rows = [("version", "committed (UTC)", "run id", "articles", "comments", "changed by its run")]
    for v in kept:
        change = "; ".join(f"{t} +{c.get('inserted', 0)} ~{c.get('updated', 0)}"
                           + (f" -{c['deleted']}" if c.get("deleted") else "")
                           for t, c in sorted(v.changes.items()) if isinstance(c, dict))
        rows.append((f"{v.seq}{' (current)' if v.current else ''}",
                     v.created_at.strftime("%Y-%m-%d %H:%M:%S") if v.created_at else "?", v.run_id,
                     str(v.rows.get("articles", "?")), str(v.rows.get("comments", "?")), change))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
    print(f"read one with newsmill.read_tables({str(where)!r}, version=N) or as_of='YYYY-MM-DD'; the [history] "
          f"table of newsmill.toml says how many are kept")
    return EXIT_OK


def cmd_forget(args) -> int:
    """Erase records from an output everywhere it keeps them (``newsmill.store.erasure``), for good."""
    from datetime import datetime, timezone

    from newsmill.store import author_key, erasure, versions

    settings = load_settings(Path(args.config) if args.config else None)
    where = output_location(args.output) if args.output else settings.output_dir
    if is_url(where):
        raise Failure(f"forget: {shown(where)} is a remote output; forget works on local output folders only "
                      f"(erase in a local copy and publish it, or delete the objects by hand)", EXIT_USAGE)
    out = Path(where)
    if not out.is_dir() or not (versions.Store(out).current() or layout.quarantine_files(out)
                                or layout.raw_files(out)):
        raise Failure(f"forget: {shown(where)} holds no published output (give the folder a run published to)",
                      EXIT_USAGE)
    req = erasure.Request(set(args.article_id or ()), set(args.comment_id or ()), set(args.author_id or ()),
                          list(args.author or ()), mode=args.mode)
    for f in args.from_file or ():
        req.update(erasure.read_request_file(Path(f)))
    mode_file = layout.state_dir(out) / author_key.MODE_FILE
    if (req.author_names or req.author_ids) and mode_file.is_file() and \
            mode_file.read_text(encoding="utf-8", errors="replace").strip() == "drop":
        _say("warning: this output was written with --authors drop: its rows hold no author, so only comment and "
             "article ids can find records in it")
    if any(not v.strip() for v in (*req.article_ids, *req.comment_ids, *req.author_ids, *req.author_names)):
        raise Failure("forget: an empty id or name was given", EXIT_USAGE)
    if not req and not erasure.pending(out):
        raise Failure("forget: name what to erase: --author NAME, --author-id ID, --comment-id ID, --article-id ID "
                      "or --from-file FILE", EXIT_USAGE)
    key = author_key.resolve_author_key(settings.author_key, out)
    run_id = "forget-" + datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ") + "-" + os.urandom(3).hex()
    try:
        r = erasure.forget(out, req, key=key, run_id=run_id, keep_versions=settings.history.keep_versions,
                           keep_days=settings.history.keep_days, dry_run=args.dry_run)
    except erasure.ErasureError as exc:
        raise Failure(f"forget: {exc}", EXIT_USAGE) from None
    if args.json:
        print(json.dumps(r.as_dict(), indent=1))
        return EXIT_OK
    would = "would remove" if r.dry_run else "removed"

    def rows(d: dict) -> str:
        return ", ".join(f"{n} {t}" for t, n in sorted(d.items())) or "nothing"

    print(f"newsmill forget {run_id}{' (dry run: nothing changed)' if r.dry_run else ''}")
    print(f"  suppression list:  {r.added} new entr{'y' if r.added == 1 else 'ies'}{' would be' if r.dry_run else ''} "
          f"added (keyed ids and pages: later runs leave these records out)")
    print(f"  current version:   {would} {rows(r.current)}"
          + (f" -> new version {r.new_version}" if r.new_version else ""))
    for v, d in sorted(r.kept.items()):
        print(f"  kept {v}:  {would} {rows(d)}")
    if not r.kept:
        print(f"  kept versions:     {would} nothing")
    print(f"  quarantine:        {would} {rows(r.quarantine)}")
    print(f"  raw captures:      {would} " + (", ".join(f"{n} record(s) from raw/{f}" for f, n in sorted(r.raw.items()))
                                            or "nothing"))
    return EXIT_OK


def cmd_schema(args) -> int:
    from newsmill import schema

    print(schema.data_dictionary_markdown())
    return 0


class _Parser(argparse.ArgumentParser):
    """argparse with its errors in one line (argparse prints the usage first), exit code 2."""

    def error(self, message: str):
        _say(f"{self.prog.removeprefix('newsmill').strip() or 'usage'}: {message} (see {self.prog} --help)")
        raise SystemExit(EXIT_USAGE)


def _at_least_one(text: str) -> int:
    """A whole number >= 1 (``--batch-size 0`` and ``-5`` used to be taken, and ``-5`` processed nothing)."""
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"{text}: must be at least 1")
    return n


class _Version(argparse.Action):
    """``--version``, reading the installed version only when asked: importlib.metadata is ~50 ms of every
    command's start (and of a warm-worker run's client)."""

    def __call__(self, parser, namespace, values, option_string=None):
        from newsmill.version import __version__

        print(f"newsmill {__version__}", flush=True)
        parser.exit()


def main(argv: list[str] | None = None) -> int:
    """The command. Called with no ``argv`` (the ``newsmill`` command itself), a Prefect run goes to the warm
    worker; called from Python with an ``argv``, everything runs in the calling process."""
    command_line = argv is None
    _quiet_telemetry()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    # GX sets this logger to INFO when imported, and says on every run that it made a temporary folder
    logging.getLogger("great_expectations.data_context.types.base").addFilter(lambda r: r.levelno >= logging.WARNING)
    _terminal_logs()
    parser = _Parser(prog="newsmill", description="News pages -> validated article and comment datasets.",
                     epilog="exit codes: 0 ok, 1 a critical expectation failed, 2 bad option/setting/input/secret or "
                            "nothing readable, 3 remote output, 4 no space, 5 read-only, 6 permission denied, "
                            "7 output not usable as a folder, 8 other system error, 70 internal error, "
                            "130 interrupted (README: Exit codes)")
    parser.add_argument("--version", action=_Version, nargs=0, help="show the version and exit")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="extract, clean, validate and publish pages")
    run.add_argument("paths", nargs="*", help="files, folders or globs (.txt, .txt.gz, ...); none: the project "
                                              "file's inputs and [[sources]] (live ones fetched first)")
    run.add_argument("--output", "-o", help="output folder, or a filesystem URL such as s3://bucket/dataset "
                                            "(default: output/ or newsmill.toml)")
    run.add_argument("--batch-size", type=_at_least_one, metavar="N", help="pages per task (at least 1)")
    run.add_argument("--config", help="project file (default: ./newsmill.toml if present)")
    run.add_argument("--no-prefect", action="store_true", help="run in this process without Prefect")
    run.add_argument("--authors", choices=AUTHOR_MODES,
                     help="comment authors: keep names (default), pseudonymize them ('user-<author_id>', also in "
                          "@mentions and reply_to_name) or drop them; reply links are kept in every mode")
    run.add_argument("--full", action="store_true",
                     help="reprocess every input, also those an earlier run already processed with the same bytes")
    run.add_argument("--workers", type=_at_least_one, metavar="N",
                     help="worker processes for the batches (default: one per CPU; 1: all in this process)")
    run.add_argument("--dask", metavar="ADDRESS",
                     help="run the batches on an existing Dask cluster, e.g. tcp://10.0.0.5:8786 (its workers need "
                          "newsmill installed and the inputs readable under the same paths)")
    run.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                     help="progress of the pages (default: only when stdout is a terminal; forced in a log: "
                          "a line every 10 s)")
    run.add_argument("--no-daemon", dest="daemon", action="store_false", default=None,
                     help="run in this process, not in the warm worker (also: NEWSMILL_DAEMON=0)")
    run.set_defaults(func=cmd_run)
    srv = sub.add_parser("serve", help="serve the flow as a Prefect deployment on the [schedule] of newsmill.toml "
                                       "(on the server of PREFECT_API_URL, else newsmill's local server)")
    srv.add_argument("paths", nargs="*", help="inputs of every scheduled run (default: the project file's inputs "
                                              "and [[sources]])")
    srv.add_argument("--output", "-o", help="output folder (default: output/ or newsmill.toml)")
    srv.add_argument("--config", help="project file (default: ./newsmill.toml if present)")
    srv.add_argument("--batch-size", type=_at_least_one, metavar="N", help="pages per task (at least 1)")
    when = srv.add_mutually_exclusive_group()
    when.add_argument("--cron", help="override [schedule]: a cron string, e.g. '0 6 * * *'")
    when.add_argument("--interval", help="override [schedule]: seconds, or e.g. '90s', '15m', '1h'")
    srv.add_argument("--name", help="deployment name (default: [schedule] name, 'scheduled')")
    srv.set_defaults(func=cmd_serve)
    fet = sub.add_parser("fetch", help="fetch the project file's live sources into <output>/raw/<run id>.warc.gz only")
    fet.add_argument("--output", "-o", help="output folder (default: output/ or newsmill.toml)")
    fet.add_argument("--config", help="project file (default: ./newsmill.toml if present)")
    fet.set_defaults(func=cmd_fetch)
    ver = sub.add_parser("versions", help="list the published versions an output keeps, newest first")
    ver.add_argument("output", nargs="?", help="output folder or URL (default: output/ or newsmill.toml)")
    ver.add_argument("--config", help="project file (default: ./newsmill.toml if present)")
    ver.add_argument("--json", action="store_true", help="as JSON")
    ver.set_defaults(func=cmd_versions)
    fgt = sub.add_parser("forget", help="erase records (by author, author id, comment id, article id) from the "
                                        "current and every kept version, quarantine and raw captures, for good")
    fgt.add_argument("output", nargs="?", help="output folder (default: output/ or newsmill.toml)")
    fgt.add_argument("--author", action="append", metavar="NAME", help="a commenter's name, as shown (repeatable)")
    fgt.add_argument("--author-id", action="append", metavar="ID", help="an author_id (repeatable)")
    fgt.add_argument("--comment-id", action="append", metavar="ID", help="a comment_id (repeatable)")
    fgt.add_argument("--article-id", action="append", metavar="ID",
                     help="an article_id: the article and all its comments (repeatable)")
    fgt.add_argument("--from-file", action="append", metavar="FILE",
                     help="lines 'author: NAME', 'author_id: ID', 'comment_id: ID', 'article_id: ID'")
    fgt.add_argument("--mode", choices=("remove", "drop"), default="remove",
                     help="remove the records (default), or drop only their author's name: author and author_id "
                          "null, replies and @mentions of them '[author]', as --authors drop writes")
    fgt.add_argument("--dry-run", action="store_true", help="say what would be removed, change nothing")
    fgt.add_argument("--config", help="project file (default: ./newsmill.toml if present)")
    fgt.add_argument("--json", action="store_true", help="what was removed, as JSON")
    fgt.set_defaults(func=cmd_forget)
    sch = sub.add_parser("schema", help="print the data dictionary (Markdown) generated from schemas/")
    sch.set_defaults(func=cmd_schema)
    svr = sub.add_parser("server", help="the local Prefect server that run and serve use when PREFECT_API_URL "
                                        "is not set (one per user, started by the first run, stopped after "
                                        "NEWSMILL_SERVER_IDLE without a client, default 30 min)")
    svr.add_argument("action", choices=("start", "status", "stop"))
    svr.add_argument("--ui", action="store_true", help="start: with Prefect's web UI (it asks for the auth string "
                                                       "that status shows the file of)")
    svr.set_defaults(func=cmd_server)
    dmn = sub.add_parser("daemon", help="the warm worker that runs `newsmill run` without import costs "
                                        "(one per user, started by the first run, exits after [daemon] idle)")
    dmn.add_argument("action", choices=("start", "status", "stop"))
    dmn.add_argument("--config", help="project file whose [daemon] table to use (default: ./newsmill.toml if present)")
    dmn.set_defaults(func=cmd_daemon)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, a usage error: a code, also when called from Python
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE if exc.code else EXIT_OK
    try:
        if command_line and args.command == "run":
            from newsmill.service import warm_client

            if warm_client.enabled(args):
                settings = load_settings(Path(args.config) if args.config else None)
                check_run(args, settings)  # here, not in the worker
                from newsmill.service import prefect_server

                prefect_server.use_running_server()  # the run's Prefect settings then need no second build
                code = warm_client.run_remote(sys.argv[1:], settings.daemon.dir, settings.daemon.idle)
                if code is not None:  # the run is over: its output is written, nothing here needs a teardown
                    warm_client.exit_without_teardown(code)
            code = _guarded(args)
            warm_client.trace("run_returned")
            warm_client.exit_without_teardown(code)  # a run in this process: skip the 1-2 s teardown of its heap
        return args.func(args)
    except (Exception, KeyboardInterrupt) as exc:  # noqa: BLE001 (each kind has its exit code and one line)
        return _failed(exc)


def _guarded(args) -> int:
    try:
        return args.func(args)
    except (Exception, KeyboardInterrupt) as exc:  # noqa: BLE001
        return _failed(exc)


if __name__ == "__main__":
    sys.exit(main())
