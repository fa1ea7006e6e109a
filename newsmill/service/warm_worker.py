"""The warm worker, server side: a process that imports once and forks a child per ``newsmill run``.

Started by a client (:func:`newsmill.service.warm_client.start`) with the client's environment less
its secrets (:func:`~newsmill.service.warm_client.worker_environment`), in its own session, output to
``newsmill-daemon.log`` in its folder (:func:`~newsmill.service.warm_client.home`, one per user). It

1. takes the life lock (one zygote per folder), records its fingerprint;
2. starts the local Prefect server without waiting for it, when no API is configured
   (server start and imports then overlap on two cores: the first run pays the longer);
3. imports Prefect, the flow and the engine modules a flow run would import lazily,
   GX (and builds its context), pandas, pyarrow, trafilatura and the extractors;
4. runs the pipeline once, without Prefect, on a built-in page into a temporary
   folder (the first run in a process pays ~2.5 s of lazy imports, template
   compilation and first-use set-up that later runs do not), then empties every
   ``functools`` cache of newsmill except the GX context, so that no profile, schema
   or other file content read during the warm-up outlives it;
5. checks that it holds no thread (forking a process with threads can copy a held
   lock), then listens.

Per request it checks the client's uid and fingerprint (a mismatch: it retires,
the client starts a new one), then the client's credentials and limits, read from
``/proc/<peer pid>`` (:mod:`newsmill.service.peer`): a client it cannot run as is
refused (one line; the client runs the command itself), and forks. The child
leaves the zygote's state behind (own process group, the client's cgroup,
niceness, affinity, stdio, working folder, umask and environment; Prefect's
settings and logging rebuilt from that environment), the run takes the client's
resource limits, runs ``newsmill.cli.main(argv)``, sends the exit code and then
lets Prefect finish its exit work. The client's environment exists in the child
only: the zygote never puts it in its own. The zygote reaps its children, and
exits when idle (``[daemon] idle``, the latest client's), on SIGTERM
(``newsmill daemon stop``), when its socket file is removed or replaced, or when
the code it imported changes on disk.
"""
from __future__ import annotations

import fcntl
import io
import json
import os
import select
import signal
import socket
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path

from newsmill.service import peer, warm_client

_stop = False
GRACE = 10.0  # seconds a run told to stop (Ctrl-C, its client gone) has before it is killed
_idle = warm_client.IDLE_TIMEOUT  # seconds without a run before exiting: the latest client's [daemon] idle


def log(msg: str) -> None:
    print(f"{time.strftime('%Y-%m-%d %H:%M:%S')} [{os.getpid()}] {msg}", flush=True)


# --------------------------------------------------------------------------- warm-up

_PAGE_HTML = """<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<title>Warm-up article - Example News</title>
<link rel="canonical" href="https://news.example.org/2024/05/warm-up-article">
<meta property="og:title" content="Warm-up article"><meta property="og:site_name" content="Example News">
<meta name="author" content="A. Writer"><meta property="article:published_time" content="2024-05-02T08:30:00+02:00">
<script type="application/ld+json">{"@context": "https://schema.org", "@type": "NewsArticle",
 "headline": "Warm-up article", "datePublished": "2024-05-02T08:30:00+02:00",
 "author": {"@type": "Person", "name": "A. Writer"}}</script></head>
<body><header><nav><a href="/">Home</a> <a href="/world">World</a></nav></header>
<article><h1>Warm-up article</h1><p class="byline">By A. Writer, May 2, 2024</p>
<p>The council met on Thursday to discuss the new bridge over the river, which has been planned for years.</p>
<p>Residents said the crossing would shorten their commute, while shop owners worried about the building works.</p>
<p>A final decision on the budget is expected next month, after a public consultation in the town hall.</p>
<figure><img src="bridge.jpg" alt=""><figcaption>The old bridge at dusk. Photo: Agency</figcaption></figure>
</article>
<section id="comments"><h2>3 comments</h2><ol class="comment-list">
<li class="comment" id="comment-1"><div class="comment-author">Sam</div><time datetime="2024-05-02T10:00:00+02:00">May 2, 2024 at 10:00 am</time>
<div class="comment-content"><p>About time they built it, the old one is falling apart.</p></div><a class="reply">Reply</a>
<ol class="children"><li class="comment" id="comment-2"><div class="comment-author">Alex</div><time datetime="2024-05-02T11:15:00+02:00">May 2, 2024 at 11:15 am</time>
<div class="comment-content"><p>@Sam agreed, but who pays for it?</p></div><a class="reply">Reply</a></li></ol></li>
<li class="comment" id="comment-3"><div class="comment-author">Kim</div><time datetime="2024-05-03T09:05:00+02:00">May 3, 2024 at 9:05 am</time>
<div class="comment-content"><p>The consultation dates should be announced earlier this time.</p></div><a class="reply">Reply</a></li>
</ol></section><footer>Copyright Example News</footer></body></html>
"""

_PAGE_TEXT = """Warm-up story: the library opens on Sundays

Published: March 4, 2023

The town library will open on Sundays from next month, the council said on Friday.

The change follows a petition signed by more than two thousand residents over the winter.

Staff will work in rotation and no extra budget is needed, according to the head librarian.

Reader Comments (2)

  • Robin
    Mar 4, 2023 - 9:12AM

    Great news for students during exams.

  • Dana
    Mar 4, 2023 - 10:40AM

    @Robin: and for parents with small children too.
"""


def _import_all() -> None:
    """Everything a flow run imports, eagerly (names a version does not have are skipped)."""
    import importlib

    import newsmill.cli  # noqa: F401
    import newsmill.service.prefect_server  # noqa: F401
    import newsmill.flow  # noqa: F401
    import prefect  # noqa: F401
    from newsmill.validate import gx_run

    gx_run._gx()  # builds nothing thread-bound: an in-memory context
    for name in ("newsmill.pipeline", "newsmill.validate.report", "newsmill.store.publish", "newsmill.store.card", "newsmill.store.manifest",
                 "newsmill.runtime.progress", "newsmill.runtime.batch_runner", "newsmill.store.ledger", "newsmill.service.schedule",
                 "newsmill.sources.live", "prefect.flow_engine", "prefect.task_engine", "prefect.engine",
                 "prefect.utilities.visualization", "prefect.client.orchestration", "distributed", "fastapi",
                 "anyio._backends._asyncio", "opentelemetry.metrics", "opentelemetry._logs", "pydantic.color",
                 "rich.progress", "rich.console", "trafilatura", "pandas", "pyarrow.parquet", "pyarrow.dataset",
                 "py3langid"):
        try:
            importlib.import_module(name)
        except Exception as exc:  # noqa: BLE001 (an optional module: the child imports it if it needs it)
            log(f"warm import {name} skipped: {type(exc).__name__}: {exc}")


def _warm_up() -> None:
    """One run of the pipeline (no Prefect) on built-in pages, in a temporary folder."""
    from newsmill import pipeline
    from newsmill.config import Settings

    cwd = os.getcwd()
    with tempfile.TemporaryDirectory(prefix="newsmill-warmup-") as tmp:
        os.chdir(tmp)
        try:
            Path(tmp, "page.html").write_text(_PAGE_HTML, encoding="utf-8")
            Path(tmp, "page.txt").write_text(_PAGE_TEXT, encoding="utf-8")
            settings = Settings(output_dir=Path(tmp, "out"), author_key=b"warm-up key, not a secret")
            pipeline.run([str(Path(tmp, "page.html")), str(Path(tmp, "page.txt"))], settings)
        finally:
            os.chdir(cwd)
    _forget_cached_data()
    _stop_library_threads()


def _forget_cached_data() -> None:
    """Empty newsmill's functools caches (profiles, schemas, lexicons...): a run must read today's files.

    Kept: the GX context, and the caches a module lists in ``CODE_CACHES``, whose values depend on the
    code and its arguments alone, never on a file (e.g. the RE2 translations of the suites' regexes,
    ~1 s per run to rebuild)."""
    from newsmill.validate import gx_run

    keep = {gx_run._gx}
    for name, mod in list(sys.modules.items()):
        if (name == "newsmill" or name.startswith("newsmill.")) and mod is not None:
            keep.update(getattr(mod, "CODE_CACHES", ()))
    for name, mod in list(sys.modules.items()):
        if not (name == "newsmill" or name.startswith("newsmill.")) or mod is None:
            continue
        for value in list(vars(mod).values()):
            if callable(getattr(value, "cache_clear", None)) and value not in keep:
                value.cache_clear()


def _stop_library_threads() -> None:
    """tqdm (inside GX) starts a monitor thread with its first bar: stop it; a child starts its own."""
    for t in threading.enumerate():
        if hasattr(t, "tqdm_cls") and callable(getattr(t, "exit", None)):  # tqdm.std.TMonitor
            t.exit()
            t.tqdm_cls.monitor = None


# --------------------------------------------------------------------------- zygote


def _take_life_lock(h: Path, wait: float = 15.0) -> int | None:
    fd = os.open(h / warm_client.LOCK, os.O_RDWR | os.O_CREAT, 0o600)
    deadline = time.monotonic() + wait  # a retiring predecessor may still be exiting
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fd
        except OSError:
            if time.monotonic() > deadline:
                os.close(fd)
                return None
            time.sleep(0.1)


def _write_details(fd: int, info: dict) -> None:
    os.ftruncate(fd, 0)
    os.pwrite(fd, json.dumps(info).encode(), 0)


def _on_signal(signum, _frame) -> None:
    global _stop
    _stop = True


def _idle_from(value, default: float) -> float:
    """Seconds from a client's ``idle`` (checked by its settings) or ``NEWSMILL_DAEMON_IDLE`` ('900', '15m')."""
    from newsmill.config import parse_interval

    try:
        return parse_interval(value)
    except (TypeError, ValueError):
        return default


def main() -> None:
    global _idle
    h = warm_client.private_folder(warm_client.home())
    os.umask(0o077)
    _idle = _idle_from(os.environ.get("NEWSMILL_DAEMON_IDLE"), warm_client.IDLE_TIMEOUT)
    lock_fd = _take_life_lock(h)
    if lock_fd is None:
        log("another zygote holds the lock: exiting")
        sys.exit(3)
    for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(s, _on_signal)
    fp = warm_client.fingerprint()  # before importing: a file changed meanwhile shows up as a mismatch later
    details = {"pid": os.getpid(), "fingerprint": fp, "state": "starting", "started": time.time(),
               "python": sys.executable, "code": [str(r) for r in warm_client.code_roots()],
               "socket": str(h / warm_client.SOCKET)}
    _write_details(lock_fd, details)
    log(f"starting: python {sys.version.split()[0]}, code {details['code']}")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    with warm_client.socket_address(h) as addr:  # bound first: a folder that cannot hold a socket fails in a second
        try:
            os.unlink(addr)  # ours to replace: we hold the life lock
        except FileNotFoundError:
            pass
        listener.bind(addr)  # umask 077: the socket file is 0600 from the start; refused until listen()
    os.chmod(h / warm_client.SOCKET, 0o600)
    ino = os.stat(h / warm_client.SOCKET).st_ino
    try:
        _start(listener, lock_fd, details)
        _serve(listener, lock_fd, h, ino, fp)
    finally:
        listener.close()
        try:
            if os.stat(h / warm_client.SOCKET).st_ino == ino:
                os.unlink(h / warm_client.SOCKET)
        except FileNotFoundError:
            pass
        log("stopped")
        os.close(lock_fd)


def _start(listener: socket.socket, lock_fd: int, details: dict) -> None:
    """Server (not waited for), imports, warm-up, the no-thread check; then clients are let in."""
    t0 = time.monotonic()
    try:
        from newsmill.service import prefect_server

        if prefect_server.configured_api_url() is None and \
                os.environ.get("NEWSMILL_PREFECT_SERVER", "").strip().lower() not in prefect_server._FALSE:
            if (info := prefect_server.spawn()) is not None:
                log(f"started the Prefect server (pid {info['pid']}, {info['api_url']})")
        _import_all()
        t1 = time.monotonic()
        if os.environ.get("NEWSMILL_DAEMON_WARMUP", "1").strip().lower() not in warm_client._FALSE:
            _warm_up()
        t2 = time.monotonic()
    except Exception:  # noqa: BLE001
        log("could not import or warm up:\n" + traceback.format_exc())
        raise SystemExit(4) from None
    threads = [t.name for t in threading.enumerate() if t is not threading.main_thread()]
    if threads:
        log(f"refusing to serve: threads running after the imports ({threads}); forking would copy their locks")
        raise SystemExit(5)
    log(f"imports {t1 - t0:.2f} s, warm-up {t2 - t1:.2f} s")
    listener.listen(64)
    details.update(state="ready", ready=time.time(), imports_s=round(t1 - t0, 2), warm_up_s=round(t2 - t1, 2))
    _write_details(lock_fd, details)
    sys.stdout.flush()


def _serve(listener: socket.socket, lock_fd: int, h: Path, ino: int, fp: str) -> None:
    children: dict[int, float] = {}
    last = time.monotonic()
    last_check = last
    while not _stop:
        _reap(children)
        now = time.monotonic()
        if children:
            last = now
        elif now - last > _idle:
            log(f"idle for {_idle:g} s: exiting")
            return
        if now - last_check > 30:
            last_check = now
            try:
                if os.stat(h / warm_client.SOCKET).st_ino != ino:
                    log("socket replaced: exiting")
                    return
            except FileNotFoundError:
                log("socket removed: exiting")
                return
            if not children and warm_client.fingerprint() != fp:
                log("the code changed on disk: exiting")
                return
        try:
            ready, _, _ = select.select([listener], [], [], min(1.0, max(0.05, _idle / 4)))
        except InterruptedError:
            continue
        if not ready:
            continue
        try:
            conn, _ = listener.accept()
        except OSError:
            continue
        last = time.monotonic()
        if _handle(conn, listener, lock_fd, fp, children) == "retire":
            return


def _reap(children: dict[int, float]) -> None:
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        started = children.pop(pid, None)
        if started is not None:
            code = os.waitstatus_to_exitcode(status)
            log(f"run {pid} ended ({'exit ' + str(code) if code >= 0 else 'signal ' + str(-code)}) "
                f"after {time.monotonic() - started:.1f} s")


def _retire(conn: socket.socket, listener: socket.socket, why: str) -> str:
    log(f"{why}: retiring (the client starts a new zygote)")
    listener.close()  # no new connections; the caller unlinks the socket file
    _unlink_socket()
    warm_client.send(conn, {"stale": why})
    return "retire"


def _handle(conn: socket.socket, listener: socket.socket, lock_fd: int, fp: str, children: dict) -> str | None:
    global _idle
    reader = warm_client.Reader(conn)
    try:
        who = peer.of_connection(conn)
        if who is None or who[1] != os.getuid():
            log("refused a connection from another user")
            return None
        conn.settimeout(10.0)
        req = reader.recv(want_fds=True)
        if req is None:
            return None
        if req.get("v") != warm_client.PROTOCOL or req.get("fingerprint") != fp:
            return _retire(conn, listener, "a client runs other code")
        _idle = _idle_from(req.get("idle"), _idle)
        plan = peer.check(who[0])
        if plan.refused and plan.retire:  # the client has more than this zygote: a zygote started by it serves both
            return _retire(conn, listener, f"a client has more than this worker ({plan.refused})")
        if plan.refused:
            log(f"refused a run of pid {who[0]}: {plan.refused}")
            warm_client.send(conn, {"refused": plan.refused})
            return None
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            _child(conn, reader, req, listener, lock_fd, plan.to_json())  # never returns
        children[pid] = time.monotonic()
        log(f"run {pid}: newsmill {' '.join(req['argv'])[:200]}")
        if plan.describe() != _SAME:
            log(f"run {pid}: as its client (pid {who[0]}): {plan.describe()}")
        return None
    except (OSError, ValueError) as exc:
        log(f"bad request: {type(exc).__name__}: {exc}")
        return None
    finally:
        for fd in reader.fds:
            try:
                os.close(fd)
            except OSError:
                pass
        conn.close()


_SAME = peer.Plan().describe()


def _unlink_socket() -> None:
    h = warm_client.home()
    try:
        os.unlink(h / warm_client.SOCKET)
    except FileNotFoundError:
        pass


# --------------------------------------------------------------------------- child: supervisor and runner
#
# Each request forks a *supervisor*, which takes on the client's stdio, environment, working folder and
# umask, then forks the *runner* (own process group) that runs the command. The supervisor relays the
# client's signals to the runner's group and reports the runner's exit code, or the signal that killed it
# (a SIGKILL, a crash): the client ends the way an in-process run would have.


def _child(conn: socket.socket, reader: warm_client.Reader, req: dict, listener: socket.socket, lock_fd: int,
           plan: dict) -> None:
    try:
        for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(s, signal.SIG_IGN)  # the supervisor outlives the run to report how it ended
        listener.close()
        os.close(lock_fd)  # the life lock stays the zygote's alone
        os.setpgid(0, 0)
        conn.settimeout(warm_client.HANDSHAKE_TIMEOUT)
        try:
            peer.join(plan)  # the client's cgroup, niceness, affinity: before anything runs as the client
        except (OSError, ValueError) as exc:
            warm_client.send(conn, {"error": f"it cannot take on your cgroup or scheduling ({exc})"})
            os._exit(0)
        _adopt_stdio(dict(zip(req.get("fds", []), reader.fds, strict=False)), req.get("stdio") or {})
        reader.fds = []
        os.environ.clear()
        os.environ.update(req["env"])
        os.umask(int(req["umask"]))
        sys.argv = ["newsmill", *req["argv"]]
        try:
            os.chdir(req["cwd"])
        except OSError as exc:  # e.g. a folder this process may not enter: the client runs it itself
            warm_client.send(conn, {"error": f"cannot enter {req['cwd']}: {exc}"})
            os._exit(0)
        warm_client.send(conn, {"started": os.getpid()})
        go = reader.recv()
        if not go or not go.get("go"):  # the client gave up before the run started: it runs it itself
            os._exit(0)
        conn.settimeout(None)
        warm_client.trace("supervisor")
        rfd, wfd = os.pipe()
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            conn.close()
            os.close(rfd)
            _run(wfd, list(req["argv"]), plan)  # never returns
        os.close(wfd)
        try:
            os.setpgid(pid, pid)  # also done by the runner: whichever comes first
        except OSError:
            pass
        _release_stdio()  # only the runner writes to the client's terminal or pipe
        code = _supervise(conn, reader, pid, rfd)
    except BaseException:  # noqa: BLE001
        try:
            traceback.print_exc()
            warm_client.send(conn, {"error": "the worker failed: see its log"})
        finally:
            os._exit(1)
    os._exit(code & 0xFF)  # the zygote's log shows how the run ended


def _supervise(conn: socket.socket, reader: warm_client.Reader, pid: int, rfd: int) -> int:
    """Relay the client's signals until the runner reports its exit code or dies; returns that code."""
    finished = threading.Event()
    threading.Thread(target=_watch_client, args=(reader, pid, finished), name="newsmill-client-watch",
                     daemon=True).start()
    with os.fdopen(rfd, "rb") as pipe:
        line = pipe.readline()  # the runner's exit code, written before its exit work; b"" if it died first
    if line.strip():
        finished.set()
        _report(conn, {"exit": int(line)})
        os.waitpid(pid, 0)
        return int(line)
    _, status = os.waitpid(pid, 0)
    finished.set()
    code = os.waitstatus_to_exitcode(status)
    _report(conn, {"exit": code} if code >= 0 else {"exit": 128 - code, "signal": -code})
    return code if code >= 0 else 128 - code


def _report(conn: socket.socket, msg: dict) -> None:
    try:
        warm_client.send(conn, msg)
    except OSError:
        pass
    conn.close()


def _watch_client(reader: warm_client.Reader, pid: int, finished: threading.Event) -> None:
    """Signals the client forwards go to the run's process group; a client that vanishes stops the run.

    A run told to stop gets ``GRACE`` seconds, then is killed: on Ctrl-C Prefect marks the flow run
    crashed at once, but then waits for every batch task in flight (minutes on a big input); the
    output folder is safe to kill at any point (publishing is atomic, the ledger follows the commit)."""
    grace = float(os.environ.get("NEWSMILL_DAEMON_GRACE") or GRACE)

    def kill_later():
        if not finished.wait(grace):
            _killpg(pid, signal.SIGKILL)

    while True:
        try:
            msg = reader.recv()
        except (OSError, ValueError):
            msg = None
        if finished.is_set():
            return
        if msg is None:
            break
        if isinstance(msg.get("signal"), int):
            _killpg(pid, msg["signal"])
            threading.Thread(target=kill_later, daemon=True).start()
    _killpg(pid, signal.SIGINT)  # the client is gone: stop as Ctrl-C would
    kill_later()


def _killpg(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except OSError:
        pass


def _run(wfd: int, argv: list[str], plan: dict) -> None:
    """The run itself, as ``newsmill <argv>`` would run it in a fresh process, with the client's limits."""
    code = 1
    try:
        try:
            peer.apply_rlimits(plan)
        except (OSError, ValueError) as exc:  # checked before the fork: not expected
            print(f"newsmill: the warm worker could not apply your resource limits ({exc}); "
                  "run with --no-daemon", file=sys.stderr)
            code = 9  # cli.EXIT_SERVICE
            raise SystemExit from None
        if plan.get("rlimits"):
            import resource

            warm_client.trace("runner_limits", json.dumps({k: list(resource.getrlimit(peer.RLIMITS[k]))
                                                          for k in plan["rlimits"]}, sort_keys=True))
        os.setpgid(0, 0)  # its own group: the client's signals reach it and its Dask workers, nothing else
        # a Ctrl-C during the set-up (a second or more on a loaded machine) is held until it is done: raised in
        # the middle of Prefect's settings (pydantic wraps it in its own error) it read as a crash, exit 1
        held: list[int] = []
        signal.signal(signal.SIGINT, lambda signum, _frame: held.append(signum))
        for s in (signal.SIGTERM, signal.SIGHUP):
            signal.signal(s, signal.SIG_DFL)
        _fresh_runtime()
        from newsmill import cli

        signal.signal(signal.SIGINT, signal.default_int_handler)
        warm_client.trace("runner")
        try:
            if held:
                raise KeyboardInterrupt
            code = _profiled(cli.main, argv)
        except SystemExit as exc:  # argparse
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
        except KeyboardInterrupt:
            print("newsmill: interrupted", file=sys.stderr)
            code = 130
    except SystemExit:  # said above
        pass
    except BaseException:  # noqa: BLE001 (what an in-process run would show)
        traceback.print_exc()
        code = 1
    finally:
        code = int(code) if isinstance(code, int) else 1
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except Exception:  # noqa: BLE001 (a closed pipe)
            pass
        _release_stdio()  # a caller reading our output to its end, e.g. $(newsmill run ...), is not kept waiting
        warm_client.trace("runner_done")
        os.write(wfd, f"{code}\n".encode())
        os.close(wfd)
        signal.alarm(60)  # exit work that hangs (an unreachable server) must not keep the process
        warm_client.exit_without_teardown(code)  # Prefect's logs and events reach the server after the client has its answer


def _profiled(main, argv: list[str]):
    """``main(argv)``; with ``NEWSMILL_DAEMON_PROFILE=folder`` (a debugging aid: bench/one_page_run.py) under
    cProfile, its statistics written to ``folder/run-<pid>.prof`` as the run returns (before its exit work)."""
    folder = os.environ.get("NEWSMILL_DAEMON_PROFILE")
    if not folder:
        return main(argv)
    import cProfile

    prof = cProfile.Profile()
    try:
        return prof.runcall(main, argv)
    finally:
        prof.dump_stats(os.path.join(folder, f"run-{os.getpid()}.prof"))


def _release_stdio() -> None:
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.close(null)


def _adopt_stdio(fds: dict[int, int], stdio: dict) -> None:
    """The client's stdin/stdout/stderr become this process's fds 0-2 (missing ones: /dev/null)."""
    for target in (0, 1, 2):
        src = fds.pop(target, None)
        if src is None:
            src = os.open(os.devnull, os.O_RDWR)
        if src != target:
            os.dup2(src, target)
            os.close(src)
    for fd in fds.values():
        os.close(fd)
    for fd, name in ((1, "stdout"), (2, "stderr")):  # new streams, buffered as Python would for these fds
        want = stdio.get(name) or {}
        raw = io.open(fd, "wb", closefd=False)
        try:
            stream = io.TextIOWrapper(raw, encoding=want.get("encoding") or "utf-8",
                                      errors=want.get("errors") or "strict", line_buffering=os.isatty(fd) or fd == 2)
        except LookupError:
            stream = io.TextIOWrapper(raw, encoding="utf-8", errors="backslashreplace", line_buffering=True)
        setattr(sys, name, stream)
    sys.stdin = io.TextIOWrapper(io.open(0, "rb", closefd=False), encoding=sys.stdin.encoding or "utf-8",
                                 errors=sys.stdin.errors or "strict")


def _fresh_runtime() -> None:
    """Prefect's settings and logging as a process started with this environment would have them."""
    import logging

    root = logging.getLogger()
    for handler in root.handlers[:]:
        root.removeHandler(handler)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    import prefect.context
    from prefect.logging.configuration import setup_logging

    prefect.context.refresh_global_settings_context()
    setup_logging(incremental=False)
