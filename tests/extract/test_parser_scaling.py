"""The text-dump parser must stay linear: 4x the input may cost ~4x the time, never ~16x.

Sizes are small (tenths of a second each) so this runs in ``make test``; the size and
line limits in ``newsmill/sources/files.py`` bound the absolute cost of one page.
Measured on a 2-core machine (Nov 2026): a real dump (the seed page repeated) takes
~2 s per MiB to parse; 8 MiB (the text limit, 164k lines) ~17 s and ~60 MB, ~35 s and
~500 MB peak RSS through the whole pipeline; ~20 us per line for short lines.
"""
from __future__ import annotations

import time

import pytest

from newsmill.extract.textdump import parse_text_dump
from tests.conftest import SEED

MAX_RATIO = 8.0  # linear gives ~4 for 4x the input, quadratic ~16

_PARA = "The council met again on Friday to argue about the budget, the roads and the schools. " * 3 + "\n\n"
_COMMENT = "  • Alice Doe\n    March 3, 2012 at 4:15 pm\n\n    Finally some money for the roads, I say.\n\n"
_HEADED = "12 Comments\n\n  • Bob\n    March 3, 2012 at 4:15 pm\n\n    Text\n\n"
_HEAD = "Council approves budget\n\nPublished: March 3, 2012\n\nThe council approved the budget on Friday.\n\n"


def _seed(n: int) -> str:
    s = SEED.read_text(encoding="utf-8")
    return (s * (n // len(s) + 1))[:n]


SHAPES = {
    "real-page": _seed,
    "prose": lambda n: (_PARA * (n // len(_PARA) + 1))[:n],
    "comments": lambda n: _HEAD + "40 Comments\n\n" + _COMMENT * (n // len(_COMMENT)),
    "date-lines": lambda n: "March 3, 2012\n" * (n // 14),
    "short-lines": lambda n: "a\n" * (n // 2),
    "one-long-line": lambda n: "word " * (n // 5),
}
SIZES = {"real-page": 40_000, "prose": 40_000, "comments": 30_000, "date-lines": 12_000, "short-lines": 8_000,
         "one-long-line": 60_000}


def _seconds(text: str, runs: int = 2) -> float:
    """Best CPU seconds of this process: growth ratios, not speeds, and other jobs on a shared machine
    must not move them (wall time under load made the 8x ratio flaky)."""
    best = float("inf")
    for _ in range(runs):
        t = time.process_time()
        parse_text_dump(text)
        best = min(best, time.process_time() - t)
    return best


def _ratio(shape, n: int) -> tuple[float, float, float]:
    small, big = _seconds(shape(n)), _seconds(shape(4 * n))
    return big / max(small, 1e-3), small, big


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_parser_time_grows_linearly(name):
    ratio, small, big = _ratio(SHAPES[name], SIZES[name])
    assert ratio < MAX_RATIO, f"{name}: {small:.3f} s -> {big:.3f} s for 4x the input (x{ratio:.1f})"


@pytest.mark.slow  # ~5 s: the quadratic term only dominates from ~30 KB on
def test_parser_linear_with_a_header_before_every_comment():
    shape = lambda n: _HEAD + _HEADED * (n // len(_HEADED))  # noqa: E731
    small, big = _seconds(shape(25_000), runs=3), _seconds(shape(200_000), runs=2)
    ratio = big / max(small, 1e-3)
    assert ratio < 2 * 8, f"{small:.3f} s -> {big:.3f} s for 8x the input (x{ratio:.1f})"  # measured: x33


@pytest.mark.slow
def test_quarter_limit_page_parses_in_bounded_time():
    """A real-looking dump of a quarter of the 8 MiB text limit (~2.5 s): with the linear growth
    above, a page at the limit stays well under a minute (measured 17 s), not hours."""
    from newsmill.sources.files import MAX_TEXT_BYTES, MAX_TEXT_LINES

    text = _seed(MAX_TEXT_BYTES // 4)
    assert text.count("\n") < MAX_TEXT_LINES // 4
    assert _seconds(text, runs=1) < 30
