"""The walk-through of issue 14: what a person sees of newsmill in Prefect's UI, in the report opened offline,
and in the errors of bad invocations, with screenshots taken in a real browser (Chromium, through Playwright).

    python bench/walkthrough.py [OUT]   # default /tmp/newsmill-walkthrough; never a folder inside the repository

Run it with a Python that has Playwright (a scratch venv: ``python3 -m venv /tmp/walk-venv &&
/tmp/walk-venv/bin/pip install playwright``; the system's Chromium, ``--chromium``, is used, nothing is
downloaded). newsmill's commands run with ``--python`` (default: the repository's ``.venv/bin/python``)
and this checkout's code (``PYTHONPATH``). Everything runs in a private ``PREFECT_HOME`` and warm-worker
folder under /tmp, so no server or worker of yours is touched; everything started is stopped at the end and
the script checks that no process is left. What each screenshot should show: docs/WALKTHROUGH.md.

1. ``newsmill server start --ui``; ``newsmill serve pages --interval 30s``; waits for the scheduled run's
   summary line; opens the link ``serve`` printed in a fresh browser, logs in with the auth string (the file
   ``server start`` names), screenshots the run's page, its logs (newsmill's lines), its artifacts and each one.
2. ``newsmill run bad`` on a page whose second comment has markup (quarantined by a validation rule); takes the
   comment id from the quarantine file; opens ``summary.html`` and the Data Docs in a browser with no network
   (every request but file:// refused, DNS mapped to nothing), finds the comment by its id on each page.
3. The table of bad invocations of ``tests/test_cli_errors.py`` (its cases, run as the test runs them), written
   as ``bad-invocations.md``: command, set-up, exit code, the one line on stderr.
"""
from __future__ import annotations

import argparse
import json
import os
import queue
import re
import secrets
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
STEP_BOUND = 900.0  # seconds a step may wait for its event (a fresh server on a loaded 2-core machine: ~100 s)
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
OFFLINE_ARGS = ["--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=http://127.0.0.1:9"]
VIEWPORT = {"width": 1700, "height": 1000}
UI_WAIT = 120_000  # ms a page may take to show what is waited for (the UI on a machine at load 20: tens of s)


class Failed(Exception):
    """A step did not show what it should: the walk-through stops, says what, and cleans up."""


# --------------------------------------------------------------------------- newsmill's side (its own Python)

def newsmill_side(task: str, args: list[str]) -> None:
    """Steps that need newsmill's packages, run with ``--python``: the bad page of the tests, the quarantined
    comment, the table of bad invocations."""
    sys.path.insert(0, str(REPO))
    if task == "bad-page":
        from tests.conftest import bad_comment_page

        Path(args[0]).write_text(bad_comment_page("Nice <b>bold</b> budget."), encoding="utf-8")
    elif task == "quarantined":
        import pyarrow.parquet as pq

        out, run_id = Path(args[0]), args[1]
        rows = pq.read_table(out / "quarantine" / "comments" / f"{run_id}.parquet").to_pylist()
        print(json.dumps([{k: r[k] for k in ("comment_id", "article_id", "position", "input_uri", "text",
                                             "quarantine_reason") if k in r} for r in rows]))
    elif task == "bad-invocations":
        print(json.dumps(bad_invocations()))
    else:
        raise SystemExit(f"unknown task {task}")


def bad_invocations() -> list[dict]:
    """Each case of tests/test_cli_errors.py run as the test runs it (``cli.main`` in a working folder of its
    own, its set-up applied): what a person would read on stderr."""
    import contextlib
    import io

    from _pytest.monkeypatch import MonkeyPatch

    from newsmill import cli
    from tests import test_cli_errors as t

    rows = []
    for case, argv, setup, code, words in t.CASES:
        with tempfile.TemporaryDirectory(prefix="newsmill-walk-bad-") as d:
            mp = MonkeyPatch()
            try:
                t.working_folder(Path(d), mp)
                if setup:
                    setup(Path(d), mp)
                err, out = io.StringIO(), io.StringIO()
                with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
                    got = cli.main(list(argv))
            finally:
                mp.undo()
        lines = err.getvalue().splitlines()
        rows.append({"case": case, "command": shlex.join(["newsmill", *argv]), "setup": getattr(setup, "shows", ""),
                     "expected": code, "code": got, "lines": lines,
                     "ok": got == code and len(lines) == 1 and words in lines[0] and "Traceback" not in err.getvalue()})
    return rows


# --------------------------------------------------------------------------- processes

class Walk:
    def __init__(self, out: Path, python: str, chromium: str):
        self.out, self.python, self.chromium = out, python, chromium
        self.state = Path(tempfile.mkdtemp(prefix="newsmill-walk-"))  # short: the worker's socket lives here
        self.home, self.daemon = self.state / "prefect", self.state / "daemon"
        self.project = out / "project"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "NEWSMILL_"))}
        self.env.update(PREFECT_HOME=str(self.home), NEWSMILL_DAEMON_DIR=str(self.daemon), PYTHONPATH=str(REPO),
                        NEWSMILL_AUTHOR_KEY=secrets.token_hex(16), DO_NOT_TRACK="1",
                        # if this script dies, what it started stops by itself within 15 minutes
                        NEWSMILL_SERVER_IDLE="900", NEWSMILL_DAEMON_IDLE="900")
        self.procs: list[subprocess.Popen] = []
        self.notes: list[str] = []
        self.shots: list[tuple[str, str]] = []

    def note(self, text: str) -> None:
        print(text, flush=True)
        self.notes.append(text)

    def newsmill(self, *argv: str, timeout: float = STEP_BOUND, check: bool = True) -> subprocess.CompletedProcess:
        cmd = [self.python, "-m", "newsmill", *argv]
        self.note(f"$ newsmill {shlex.join(argv)}")
        r = subprocess.run(cmd, cwd=self.project, env=self.env, capture_output=True, text=True, timeout=timeout)
        for line in (r.stdout + r.stderr).splitlines():
            self.note(f"    {line}")
        if check and r.returncode != 0:
            raise Failed(f"newsmill {' '.join(argv)} exited {r.returncode}")
        return r

    def side(self, task: str, *args: str) -> str:
        r = subprocess.run([self.python, __file__, "--newsmill-side", task, *args], cwd=self.project, env=self.env,
                           capture_output=True, text=True, timeout=STEP_BOUND)
        if r.returncode != 0:
            raise Failed(f"{task}: {r.stderr.strip()[-2000:]}")
        return r.stdout

    def ours(self) -> list[int]:
        """Live processes started for this walk: the private PREFECT_HOME or worker folder in their environment."""
        sys.path.insert(0, str(REPO / "bench"))
        from _benchlib import processes_with

        return sorted(set(processes_with(f"PREFECT_HOME={self.home}\0".encode()))
                      | set(processes_with(f"NEWSMILL_DAEMON_DIR={self.daemon}\0".encode())))

    def stop_all(self) -> None:
        for p in self.procs:
            stop(p)
        for argv in (("daemon", "stop"), ("server", "stop")):
            try:
                self.newsmill(*argv, timeout=300, check=False)
            except subprocess.TimeoutExpired:
                self.note(f"newsmill {' '.join(argv)}: no answer within 300 s")
        deadline = time.monotonic() + 120
        while (left := self.ours()) and time.monotonic() < deadline:
            time.sleep(1)  # polling /proc: processes do not announce their exit to a non-parent
        if left:
            self.note(f"LEFT RUNNING after `daemon stop` and `server stop`: {describe(left)}; killed")
            for pid in left:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        else:
            self.note("no process left: none has this walk's PREFECT_HOME or worker folder in its environment")
        shutil.rmtree(self.state, ignore_errors=True)


def describe(pids: list[int]) -> str:
    names = []
    for pid in pids:
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            names.append(f"{pid} {cmdline[:100]}")
        except OSError:
            names.append(str(pid))
    return "; ".join(names)


def stop(p: subprocess.Popen) -> None:
    """Ctrl-C as a person would (serve pauses its schedule), then SIGTERM, then SIGKILL, to its process group."""
    for sig, grace in ((signal.SIGINT, 90), (signal.SIGTERM, 30), (signal.SIGKILL, 10)):
        if p.poll() is not None:
            break
        try:
            os.killpg(p.pid, sig)
            p.wait(timeout=grace)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            continue
    try:
        os.killpg(p.pid, signal.SIGKILL)  # anything the group still holds
    except ProcessLookupError:
        pass


class Lines:
    """A process's output, line by line, as it comes (copied to a log file)."""

    def __init__(self, proc: subprocess.Popen, log: Path):
        self.proc, self.q = proc, queue.Queue()
        self.seen: list[str] = []

        def pump():
            with open(log, "w", encoding="utf-8") as f:
                for line in proc.stdout:
                    f.write(line)
                    f.flush()
                    self.q.put(line.rstrip("\n"))
            self.q.put(None)

        threading.Thread(target=pump, daemon=True).start()

    def wait_for(self, pattern: str, what: str) -> re.Match:
        deadline = time.monotonic() + STEP_BOUND
        for line in self.seen:
            if m := re.search(pattern, line):
                return m
        while time.monotonic() < deadline:
            try:
                line = self.q.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                break
            if line is None:
                raise Failed(f"serve exited ({self.proc.wait()}) before {what}")
            self.seen.append(line)
            if m := re.search(pattern, line):
                return m
        raise Failed(f"no {what} within {STEP_BOUND:.0f} s")


# --------------------------------------------------------------------------- the browser

def launch(pw, chromium: str, offline: bool = False):
    return pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS + (OFFLINE_ARGS if offline else []))


class Watched:
    """A page whose requests are limited to ``allowed`` URL prefixes (others refused and listed)."""

    last = None  # the page most recently opened: screenshot when a step fails

    def __init__(self, browser, allowed: tuple[str, ...]):
        self.page = browser.new_context(viewport=VIEWPORT).new_page()
        Watched.last = self.page
        self.refused, self.failed = [], []

        def route(r):
            if r.request.url.startswith(allowed):
                return r.continue_()
            self.refused.append(r.request.url)
            return r.abort()

        self.page.route("**/*", route)
        self.page.on("requestfailed",
                     lambda r: None if r.url in self.refused else self.failed.append(f"{r.url}: {r.failure}"))


def shot(walk: Walk, page, name: str, what: str, full: bool = False) -> None:
    path = walk.out / name
    page.screenshot(path=str(path), full_page=full)
    walk.shots.append((name, what))
    walk.note(f"screenshot {path}: {what}")


def mark(page, text: str) -> None:
    """Find ``text`` on the page as a person's Ctrl-F would: scrolled into view and highlighted."""
    loc = page.get_by_text(text, exact=False).first
    loc.wait_for(state="visible", timeout=UI_WAIT)
    loc.scroll_into_view_if_needed()
    loc.evaluate("e => { e.style.outline = '3px solid #e0a000'; e.style.background = '#fff3b0'; }")


# --------------------------------------------------------------------------- 1. a scheduled run in the UI

def scheduled_run_in_the_ui(walk: Walk, pw) -> None:
    walk.note("\n## 1. A scheduled run in Prefect's UI\n")
    r = walk.newsmill("server", "start", "--ui")
    ui = re.search(r"^  ui:\s+(http://\S+?)/?\s", r.stdout, re.M)
    api = re.search(r"^  api:\s+(http://\S+)", r.stdout, re.M)
    auth = re.search(r"^  auth: (\S+)", r.stdout, re.M)
    if not ui or not auth:
        raise Failed("`newsmill server start --ui` printed no ui: or auth: line")
    secret = Path(auth.group(1)).read_text(encoding="utf-8").strip()
    walk.api, walk.secret = api.group(1), secret

    cmd = [walk.python, "-m", "newsmill", "serve", "pages", "--output", "out", "--interval", "30s",
           "--name", "walkthrough"]
    walk.note(f"$ newsmill {shlex.join(cmd[3:])}   (in the background, output in serve.log)")
    serve = subprocess.Popen(cmd, cwd=walk.project, env=walk.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             text=True, start_new_session=True)
    walk.procs.append(serve)
    lines = Lines(serve, walk.out / "serve.log")
    started = lines.wait_for(r"newsmill run (\S+): started, (http\S+)", "scheduled run")
    run_id, link = started.group(1), started.group(2)
    walk.note(f"    {started.group(0)}")
    summary = lines.wait_for(rf"newsmill run {re.escape(run_id)}: \d+ inputs: .*exit code (\d+)", "run summary")
    walk.note(f"    {summary.group(0)}")
    flow_run = link.rstrip("/").rsplit("/", 1)[-1]
    state = wait_for_state(walk, api.group(1), secret, flow_run)
    walk.note(f"    the flow run's state in the API: {state}")
    stop(serve)  # Ctrl-C: serving stops, the schedule is paused (one run is enough to look at)
    walk.note("    (serve stopped with Ctrl-C: the schedule is paused)")

    browser = launch(pw, walk.chromium)
    w = Watched(browser, ("http://127.0.0.1", "data:", "blob:"))
    page = w.page
    page.goto(link)
    login = page.get_by_placeholder("admin:pass")
    try:
        login.wait_for(timeout=UI_WAIT)
    except Exception as exc:
        shot(walk, page, "01-link-without-login.png", "the printed link in a fresh browser (no login prompt)")
        raise Failed(f"the printed link {link} asked for no auth string: {type(exc).__name__}") from None
    shot(walk, page, "01-login.png", "the link serve printed, in a fresh browser: Prefect asks for the auth string")
    login.fill(secret)
    page.keyboard.press("Enter")
    page.get_by_text(run_id).first.wait_for(timeout=UI_WAIT)
    page.get_by_role("tab", name="Logs").click()
    page.get_by_text(f"newsmill run {run_id}: ").first.wait_for(timeout=UI_WAIT)
    page.get_by_text("progress: ").first.wait_for(timeout=UI_WAIT)
    shot(walk, page, "02-run-logs.png",
         f"the run's page: named {run_id}, tags auto-scheduled, newsmill and the run id, Completed; Logs tab with "
         "newsmill's progress lines and its one-line summary")
    page.goto(page.url.split("?")[0] + "?tab=Artifacts")
    keys = ("newsmill-summary", "newsmill-counts", "newsmill-failed-expectations", "newsmill-report")
    for key in keys:
        page.get_by_text(key, exact=True).first.wait_for(timeout=UI_WAIT)
    shot(walk, page, "03-run-artifacts.png", "Artifacts tab: the four artifacts of the run", full=True)
    show_artifacts(walk, page, keys, "04")
    walk.run_page = page.url.split("?")[0]
    walk.ui_browser, walk.ui_page, walk.ui_watch = browser, page, w


def api_call(walk: Walk, path: str, body: dict | None = None):
    """Prefect's API with the server's auth string, as ``prefect`` commands would call it."""
    import base64
    import urllib.request

    auth = "Basic " + base64.b64encode(walk.secret.encode()).decode()
    req = urllib.request.Request(walk.api + path, data=None if body is None else json.dumps(body).encode(),
                                 headers={"Authorization": auth, "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.load(r)


def wait_for_state(walk: Walk, api: str, secret: str, flow_run: str) -> str:
    """The flow run's final state, read from the API: the summary line comes before Prefect has recorded the
    run as Completed (its result is persisted after it), and Ctrl-C in between marks the run Crashed."""
    import base64
    import urllib.request

    auth = "Basic " + base64.b64encode(secret.encode()).decode()
    deadline = time.monotonic() + STEP_BOUND
    while time.monotonic() < deadline:
        req = urllib.request.Request(f"{api}/flow_runs/{flow_run}", headers={"Authorization": auth})
        with urllib.request.urlopen(req, timeout=10) as r:
            state = json.load(r)["state"]
        if state["type"] in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED"):
            return f"{state['type']} ({state['name']})"
        time.sleep(0.5)  # the server cannot notify a client of a state change (no event stream used here)
    raise Failed(f"flow run {flow_run} not finished within {STEP_BOUND:.0f} s")


SHOWN = {"newsmill-summary": "Report files", "newsmill-counts": "(all inputs)",
         "newsmill-failed-expectations": "severity", "newsmill-report": "report page"}  # text of each, rendered


def show_artifacts(walk: Walk, page, keys, prefix: str, expect: dict | None = None) -> None:
    """Each artifact's own page, opened from the run's Artifacts tab; ``expect``: texts to find on them."""
    run_page = page.url.split("?")[0]
    expect = expect or {}
    for i, key in enumerate(keys):
        page.goto(f"{run_page}?tab=Artifacts")
        page.get_by_text(key, exact=True).first.click()
        page.wait_for_url("**/artifacts/artifact/**", timeout=UI_WAIT)
        page.get_by_text(key, exact=True).first.wait_for(timeout=UI_WAIT)
        page.wait_for_load_state("networkidle")
        page.get_by_text(SHOWN[key]).first.wait_for(timeout=UI_WAIT)  # rendered (Markdown is rendered late)
        for text in expect.get(key, ()):
            mark(page, text)
        shot(walk, page, f"{prefix}{chr(ord('a') + i)}-artifact-{key}.png", f"the artifact {key}", full=True)
    page.goto(run_page)


# --------------------------------------------------------------------------- 2. a failing run's report, offline

def failing_report_offline(walk: Walk, pw) -> None:
    walk.note("\n## 2. A run with a failing comment, its report opened offline\n")
    (walk.project / "bad").mkdir()
    walk.side("bad-page", str(walk.project / "bad" / "budget.txt"))
    r = walk.newsmill("run", "bad", "--output", "out-bad", "--no-progress")
    run_id = re.search(r"^newsmill run (\S+):", r.stdout, re.M).group(1)
    [q] = json.loads(walk.side("quarantined", str(walk.project / "out-bad"), run_id))
    cid = q["comment_id"]
    walk.note(f"    the quarantine file out-bad/quarantine/comments/{run_id}.parquet holds comment_id {cid} "
              f"(position {q['position']}, text {q['text']!r})")

    # the same run in the UI: its failed-expectations artifact names the comment
    page = walk.ui_page
    [flow_run] = api_call(walk, "/flow_runs/filter", {"flow_runs": {"name": {"any_": [run_id]}}})
    page.goto(walk.run_page.rsplit("/runs/", 1)[0] + f"/runs/flow-run/{flow_run['id']}")
    page.get_by_text(run_id).first.wait_for(timeout=UI_WAIT)
    show_artifacts(walk, page, ["newsmill-failed-expectations"], "05", {"newsmill-failed-expectations": [cid]})
    if walk.ui_watch.refused:
        walk.note(f"    the UI asked for (refused here): {sorted(set(walk.ui_watch.refused))}")
    walk.ui_browser.close()

    report = walk.project / "out-bad" / "reports" / run_id
    browser = launch(pw, walk.chromium, offline=True)
    w = Watched(browser, ("file:", "data:"))
    w.page.goto((report / "summary.html").as_uri())
    mark(w.page, f"comment_id {cid}")
    shot(walk, w.page, "06-summary-html-offline.png", f"summary.html offline, comment {cid} found by its id", True)
    if w.refused or w.failed:
        raise Failed(f"summary.html wanted more than its file: {w.refused + w.failed}")
    walk.note("    summary.html: no request besides the file itself")

    w = Watched(browser, ("file:", "data:"))
    w.page.goto((report / "data_docs" / "index.html").as_uri())
    w.page.get_by_text("validation results: comments").first.wait_for(timeout=UI_WAIT)
    shot(walk, w.page, "07-data-docs-index-offline.png", "the Data Docs index offline: newsmill's list of its pages",
         True)
    index_refused = sorted(set(w.refused))
    w.page.get_by_text("validation results: comments").first.click()
    w.page.wait_for_load_state("load")
    mark(w.page, cid)
    shot(walk, w.page, "08-data-docs-comments-offline.png",
         f"the comments validation page offline, comment {cid} found by its id", True)
    walk.note(f"    Data Docs: refused (CDN assets GX links; the pages are read without them): "
              f"{len(index_refused)} on the index, {len(set(w.refused))} on the validation page, e.g. "
              f"{index_refused[:3]}")
    if w.failed:
        raise Failed(f"Data Docs: local files failed to load: {w.failed}")
    browser.close()


# --------------------------------------------------------------------------- 3. bad invocations

def bad_invocation_table(walk: Walk) -> None:
    walk.note("\n## 3. Bad invocations\n")
    rows = json.loads(walk.side("bad-invocations"))
    md = ["# newsmill: bad invocations", "",
          "The cases of `tests/test_cli_errors.py`, run as the test runs them (a working folder with `pages/`; "
          "the set-up applied), by `bench/walkthrough.py`.", "",
          "| case | command | set-up | exit | stderr (one line) |", "|---|---|---|---:|---|"]
    for r in rows:
        line, setup = (" / ".join(r["lines"]).replace("|", "\\|"), r["setup"].replace("|", "\\|"))
        md.append(f"| {r['case']} | `{r['command']}` | {setup} | {r['code']}"
                  f"{'' if r['ok'] else ' (expected ' + str(r['expected']) + ')'} | {line} |")
    (walk.out / "bad-invocations.md").write_text("\n".join(md) + "\n", encoding="utf-8")
    bad = [r["case"] for r in rows if not r["ok"]]
    walk.note(f"    {len(rows)} cases, {len(rows) - len(bad)} as documented (one line, the README's code)"
              + (f"; NOT: {bad}" if bad else "") + f": {walk.out / 'bad-invocations.md'}")
    if bad:
        raise Failed(f"bad invocations not as documented: {bad}")


# --------------------------------------------------------------------------- main

def main(argv=None) -> int:
    if argv is None and len(sys.argv) > 2 and sys.argv[1] == "--newsmill-side":
        newsmill_side(sys.argv[2], sys.argv[3:])
        return 0
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", nargs="?", default="/tmp/newsmill-walkthrough", help="folder for screenshots and notes")
    venv = REPO / ".venv" / "bin" / "python"
    ap.add_argument("--python", default=str(venv) if venv.exists() else sys.executable,
                    help="the Python that has newsmill's packages (default: the repository's .venv)")
    ap.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium")
    args = ap.parse_args(argv)
    out = Path(args.out).resolve()
    if out == REPO or REPO in out.parents:
        ap.error(f"{out} is inside the repository: screenshots are kept out of it")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        ap.error("needs Playwright: python3 -m venv /tmp/walk-venv && /tmp/walk-venv/bin/pip install playwright, "
                 "then run this with /tmp/walk-venv/bin/python")
    if out.exists():
        shutil.rmtree(out)
    (out / "project" / "pages").mkdir(parents=True)
    for p in (REPO / "samples").iterdir():
        shutil.copy(p, out / "project" / "pages" / p.name)
    walk = Walk(out, args.python, args.chromium)
    walk.note(f"# newsmill walk-through ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})\n\n"
              f"project folder {walk.project}, PREFECT_HOME {walk.home}, NEWSMILL_DAEMON_DIR {walk.daemon}")
    started, failed = time.monotonic(), None
    try:
        with sync_playwright() as pw:
            try:
                scheduled_run_in_the_ui(walk, pw)
                failing_report_offline(walk, pw)
            except Exception:
                try:  # what the browser showed when the step failed
                    Watched.last.screenshot(path=str(out / "zz-failed-step.png"))
                    walk.note(f"the browser's page then: {Watched.last.url}: {out / 'zz-failed-step.png'}")
                except Exception:  # noqa: BLE001 (no page, or the browser is gone)
                    pass
                raise
        bad_invocation_table(walk)
    except Exception as exc:  # noqa: BLE001 (a step that did not show what it should, or a browser error)
        failed = f"{type(exc).__name__}: {exc}".splitlines()[0] if not isinstance(exc, Failed) else str(exc)
        walk.note(f"\nFAILED: {failed}")
    finally:
        walk.note("\n## Stopping what the walk-through started\n")
        walk.stop_all()
        walk.note(f"\n{time.monotonic() - started:.0f} s in all")
        (out / "walkthrough.md").write_text("\n".join(walk.notes) + "\n", encoding="utf-8")
    print(f"\nnotes: {out / 'walkthrough.md'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
