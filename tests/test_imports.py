"""The package's layout, as import-linter contracts in pyproject.toml: stages do not import the command
line, the store does not import the pipeline, validation does not import the store, no import cycles."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO


def test_the_import_contracts_hold():
    lint = Path(sys.executable).parent / "lint-imports"  # import-linter, a test dependency
    env = {**os.environ, "PYTHONPATH": str(REPO)}  # this checkout's newsmill, not an installed one
    run = subprocess.run([str(lint), "--no-cache"], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert "0 broken" in run.stdout
