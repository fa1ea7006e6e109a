"""Modules GX imports but newsmill does not use stay unloaded in a run, and still work when used."""
from __future__ import annotations

import subprocess
import sys

from tests.conftest import REPO

PROBE = """
import sys
from newsmill.validate import gx_run
gx_run._gx()
heavy = [m for m in ("scipy.stats._stats_py", "altair.vegalite") if m in sys.modules]
from scipy import stats
import altair as alt
print(heavy, stats.norm.cdf(0.0), alt.Chart.__name__, type(sys.modules["scipy.stats"]).__name__)
"""


def test_gx_context_leaves_scipy_stats_and_altair_unloaded_until_used():
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    # not loaded by building the context; used afterwards, they are the real modules
    assert done.stdout.split() == ["[]", "0.5", "Chart", "module"]


def test_a_module_that_is_not_installed_or_already_loaded_is_left_alone(monkeypatch):
    from newsmill.validate import deferred_imports

    monkeypatch.setattr(sys, "modules", dict(sys.modules))
    assert deferred_imports.defer(("json", "no_such_module_here", "no_such_package.sub")) == []
    assert type(sys.modules["json"]).__name__ == "module" and "no_such_module_here" not in sys.modules


def test_a_stand_in_imports_the_real_module_on_first_use(monkeypatch):
    from newsmill.validate import deferred_imports

    monkeypatch.setattr(sys, "modules", {k: v for k, v in sys.modules.items() if not k.startswith("colorsys")})
    assert deferred_imports.defer(("colorsys",)) == ["colorsys"]
    stand_in = sys.modules["colorsys"]
    assert isinstance(stand_in, deferred_imports.Deferred) and "rgb_to_hsv" not in vars(stand_in)
    assert stand_in.rgb_to_hsv(1.0, 0.0, 0.0) == (0.0, 1.0, 1.0)
    assert type(sys.modules["colorsys"]) is not deferred_imports.Deferred  # replaced by the real module
