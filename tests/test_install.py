"""newsmill installed from its wheel, outside the checkout, runs as it does from the checkout.

An editable install and the test run both see the checkout's files; a wheel sees only what it
ships. This builds the wheel, installs it into a fresh virtual environment in a temporary folder
(its dependencies come from the running environment, so nothing is downloaded), runs
``newsmill run`` on the samples there (in process, and with the batches on a local Dask cluster, whose
workers so start from the installed wheel) and compares the published rows with a run of the checkout.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from newsmill import pipeline, read_tables
from newsmill.config import Settings
from tests.conftest import REPO, SAMPLES

KEY = "k" * 32

REPORT = """
import json, sys
import newsmill
from newsmill import schema
t = newsmill.read_tables(sys.argv[1])
print(json.dumps({"module": newsmill.__file__, "schemas": str(schema.SCHEMA_DIR),
                  "articles": sorted(t["articles"]["article_id"].to_pylist()),
                  "comments": sorted(t["comments"]["comment_id"].to_pylist())}))
"""


def _venv_with_wheel(tmp_path: Path, env: dict) -> Path:
    # built from a copy: a build writes build/ and *.egg-info next to its sources
    src = tmp_path / "src"
    shutil.copytree(REPO, src, symlinks=True, ignore=shutil.ignore_patterns(
        ".git", ".venv", "output", "tests", "bench", "build", "*.egg-info", "__pycache__", ".prefect"))
    dist = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(dist), str(src)],
                   check=True, cwd=tmp_path, env=env, capture_output=True)
    (wheel,) = dist.glob("newsmill-*.whl")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    py = venv / "bin" / "python"
    subprocess.run([sys.executable, "-m", "pip", "--python", str(py), "install", "-q", "--no-deps", str(wheel)],
                   check=True, env=env, capture_output=True)
    site = Path(subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               check=True, capture_output=True, text=True).stdout.strip())
    # the dependencies: this environment's packages, after the venv's own (a path, not a site folder:
    # the .pth files there, such as an editable newsmill, are not run)
    (site / "zz_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return venv


@pytest.mark.slow
def test_the_wheel_runs_outside_the_checkout_and_publishes_the_same_rows(tmp_path, fresh_prefect_home):
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PREFECT_API_URL", "VIRTUAL_ENV")}
    venv = _venv_with_wheel(tmp_path, env)
    work = tmp_path / "elsewhere"
    work.mkdir()
    env.update(PREFECT_HOME=str(fresh_prefect_home(tmp_path / "prefect")), NEWSMILL_PREFECT_SERVER="temporary",
               NEWSMILL_AUTHOR_KEY=KEY)
    out = work / "out"
    run = subprocess.run([str(venv / "bin" / "newsmill"), "run", str(SAMPLES), "--output", str(out), "--no-daemon",
                          "--workers", "1"], cwd=work, env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout + run.stderr
    seen = subprocess.run([str(venv / "bin" / "python"), "-c", REPORT, str(out)], cwd=work, env=env,
                          capture_output=True, text=True, check=True)
    installed = json.loads(seen.stdout)
    assert Path(installed["module"]).is_relative_to(venv)  # the wheel's code, not the checkout's
    assert Path(installed["schemas"]).is_relative_to(venv)

    # the batches on a local Dask cluster: its worker processes start from the venv's Python, so they
    # too run the wheel's code (the checkout is on no path of theirs); the library path (the run above
    # went through Prefect, and both paths hand batches to the same runner)
    on_dask = work / "out-dask"
    run = subprocess.run([str(venv / "bin" / "newsmill"), "run", str(SAMPLES), "--output", str(on_dask), "--no-daemon",
                          "--no-prefect", "--no-progress", "--batch-size", "1"], cwd=work, env={**env, "NEWSMILL_DASK_WORKERS": "2"},
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout + run.stderr
    dask = json.loads(subprocess.run([str(venv / "bin" / "python"), "-c", REPORT, str(on_dask)], cwd=work, env=env,
                                     capture_output=True, text=True, check=True).stdout)
    assert (dask["articles"], dask["comments"]) == (installed["articles"], installed["comments"])

    here = tmp_path / "checkout-out"
    pipeline.run([str(SAMPLES)], Settings(output_dir=here, author_key=KEY.encode(), workers=1))
    t = read_tables(here)
    assert installed["articles"] == sorted(t["articles"]["article_id"].to_pylist())
    assert installed["comments"] == sorted(t["comments"]["comment_id"].to_pylist())
    assert installed["articles"] and installed["comments"]
