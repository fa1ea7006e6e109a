"""``re.search`` over an Arrow string column, with Python's answers at RE2's speed.

Checks are written (and were always run) as Python regexes, but Python's ``re``
costs a Python call per row: minutes on a million texts.  Arrow's
``match_substring_regex`` runs RE2 over the buffers, yet RE2 disagrees with
``re`` on exactly the things text checks use: ``\\s`` (RE2 misses NBSP and the
other Unicode spaces), ``\\b``/``\\w``/``\\d`` (ASCII only in RE2), ``(?i)``
(Python also folds e.g. 'ı' and 'İ' to 'i'), ``$`` (Python also matches before
a final newline) and look-arounds (none in RE2).

So the pattern is translated from Python's own parse tree into two RE2
patterns: a *loose* one that matches at least wherever Python matches and a
*tight* one that matches only where Python matches.  Character classes are
spelled out code point by code point from what Python's ``re`` itself matches,
so most patterns come out exact (loose == tight, one RE2 pass).  Rows that the
loose pattern finds but the tight one does not are asked to Python's ``re``:
few rows, and the answer stays exactly Python's.  A pattern RE2 cannot compile
at all (too large, too many repeats) is run by Python's ``re`` on every row.
"""
from __future__ import annotations

import re
import re._constants as C
import re._parser as P
from dataclasses import dataclass
from functools import cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

MAX_CP = 0x10FFFF
_SURROGATES = (0xD800, 0xDFFF)  # cannot occur in UTF-8 text, and RE2 rejects them in classes
NEVER = r"[^\x00-\x{10FFFF}]"  # an empty class: matches nothing, valid RE2
_RE2_MAX_REPEAT = 1000
_ASCII_LETTERS = ((0x41, 0x5A), (0x61, 0x7A))
_NON_ASCII = ((0x80, MAX_CP),)
_CATEGORY_ESCAPE = {
    C.CATEGORY_DIGIT: r"\d", C.CATEGORY_NOT_DIGIT: r"\D", C.CATEGORY_SPACE: r"\s",
    C.CATEGORY_NOT_SPACE: r"\S", C.CATEGORY_WORD: r"\w", C.CATEGORY_NOT_WORD: r"\W",
}

Ranges = tuple[tuple[int, int], ...]  # sorted, disjoint, inclusive code point ranges


# --------------------------------------------------------------------------- code point sets


def _norm(ranges) -> Ranges:
    out: list[list[int]] = []
    for lo, hi in sorted(ranges):
        if out and lo <= out[-1][1] + 1:
            out[-1][1] = max(out[-1][1], hi)
        else:
            out.append([lo, hi])
    return tuple((lo, hi) for lo, hi in out)


def _union(*sets: Ranges) -> Ranges:
    return _norm([r for s in sets for r in s])


def _complement(s: Ranges) -> Ranges:
    out, nxt = [], 0
    for lo, hi in s:
        if lo > nxt:
            out.append((nxt, lo - 1))
        nxt = hi + 1
    if nxt <= MAX_CP:
        out.append((nxt, MAX_CP))
    return tuple(out)


def _intersects(a: Ranges, b: Ranges) -> bool:
    return any(lo <= bhi and blo <= hi for lo, hi in a for blo, bhi in b)


@cache
def _category(escape: str, ascii_only: bool) -> Ranges:
    """The code points Python's ``re`` matches with ``\\s``, ``\\w``, ... (asked to ``re`` itself, once)."""
    if escape.isupper():  # \S, \W, \D
        return _complement(_category(escape.lower(), ascii_only))
    return _runs(escape, ascii_only and re.ASCII)


def _runs(char_pattern: str, flags) -> Ranges:
    """The code points a one-character Python pattern matches, as ranges (one scan in C)."""
    found = re.finditer(f"(?:{char_pattern})+", _all_code_points(), flags or 0)
    return tuple((m.start(), m.end() - 1) for m in found)


@cache
def _all_code_points() -> str:
    return "".join(map(chr, range(MAX_CP + 1)))


def _render(s: Ranges) -> str:
    """An RE2 class for a set of code points (surrogates left out: UTF-8 text has none)."""
    parts = []
    for lo, hi in s:
        for a, b in ((lo, min(hi, _SURROGATES[0] - 1)), (max(lo, _SURROGATES[1] + 1), hi)):
            if a <= b:
                parts.append(rf"\x{{{a:X}}}" if a == b else rf"\x{{{a:X}}}-\x{{{b:X}}}")
    return f"[{''.join(parts)}]" if parts else NEVER


# --------------------------------------------------------------------------- translation


@dataclass(frozen=True)
class Translation:
    loose: str  # matches wherever Python's re matches (and maybe elsewhere)
    tight: str  # matches only where Python's re matches (maybe not everywhere)

    @property
    def exact(self) -> bool:
        return self.loose == self.tight


def _charset(items, flags: int) -> Ranges:
    """The code points one character position of the pattern matches, as Python's ``re`` decides."""
    negate = False
    parts = []
    for op, av in items:
        if op is C.NEGATE:
            negate = True
        elif op is C.LITERAL:
            parts.append(((av, av),))
        elif op is C.RANGE:
            parts.append(((av[0], av[1]),))
        elif op is C.CATEGORY:
            parts.append(_category(_CATEGORY_ESCAPE[av], bool(flags & C.SRE_FLAG_ASCII)))
        else:  # pragma: no cover - the parser produces no other items for str patterns
            raise NotImplementedError(op)
    base = _union(*parts)
    if flags & C.SRE_FLAG_IGNORECASE and _intersects(base, _union(_ASCII_LETTERS, _NON_ASCII)):
        base = _folded(base, bool(flags & C.SRE_FLAG_ASCII))  # ASCII punctuation and digits fold to nothing else
    return _complement(base) if negate else base


@cache
def _folded(base: Ranges, ascii_only: bool) -> Ranges:
    """Everything ``(?i)`` lets match a member of ``base`` ('k' also matches KELVIN SIGN), asked to ``re``."""
    cls = "".join(f"\\U{lo:08x}-\\U{hi:08x}" for lo, hi in base)
    return _runs(f"[{cls}]", re.IGNORECASE | (re.ASCII if ascii_only else 0))


def _set(s: Ranges) -> Translation:
    return Translation(_render(s), _render(s))


def _seq(nodes, flags: int, final: bool) -> Translation:
    parts = [_node(op, av, flags, final and i == len(nodes) - 1) for i, (op, av) in enumerate(nodes)]
    return Translation("".join(p.loose for p in parts), "".join(p.tight for p in parts))


def _alt(branches: list[Translation]) -> Translation:
    return Translation("(?:" + "|".join(b.loose for b in branches) + ")",
                       "(?:" + "|".join(b.tight for b in branches) + ")")


def _repeat(t: Translation, lo: int, hi: int) -> Translation:
    def q(a: int, b: int | None) -> str:
        return {(0, None): "*", (1, None): "+", (0, 1): "?"}.get((a, b)) or (
            f"{{{a},}}" if b is None else f"{{{a}}}" if a == b else f"{{{a},{b}}}")

    hi_ = None if hi == C.MAXREPEAT else hi
    # RE2 refuses counts above 1000: widen the loose pattern, narrow the tight one.
    loose_q = q(min(lo, _RE2_MAX_REPEAT), hi_ if hi_ is None or hi_ <= _RE2_MAX_REPEAT else None)
    if lo > _RE2_MAX_REPEAT:
        tight = NEVER
    else:
        tight = f"(?:{t.tight}){q(lo, hi_ if hi_ is None or hi_ <= _RE2_MAX_REPEAT else _RE2_MAX_REPEAT)}"
    return Translation(f"(?:{t.loose}){loose_q}", tight)


def _node(op, av, flags: int, final: bool) -> Translation:
    if op is C.LITERAL:
        return _set(_charset([(C.LITERAL, av)], flags))
    if op is C.NOT_LITERAL:
        return _set(_charset([(C.NEGATE, None), (C.LITERAL, av)], flags))
    if op is C.IN:
        return _set(_charset(av, flags))
    if op is C.ANY:
        s = ((0, MAX_CP),) if flags & C.SRE_FLAG_DOTALL else _complement(((10, 10),))
        return _set(s)
    if op is C.BRANCH:
        return _alt([_seq(b, flags, final) for b in av[1]])
    if op is C.SUBPATTERN:
        _, add, remove, p = av
        t = _seq(p, (flags | add) & ~remove, final)
        return Translation(f"(?:{t.loose})", f"(?:{t.tight})")
    if op in (C.MAX_REPEAT, C.MIN_REPEAT):  # greedy or lazy: the same rows have a match
        lo, hi, p = av
        return _repeat(_seq(p, flags, False), lo, hi)
    if op is C.POSSESSIVE_REPEAT:  # a subset of the plain repeat's matches
        lo, hi, p = av
        return Translation(_repeat(_seq(p, flags, False), lo, hi).loose, NEVER)
    if op is C.ATOMIC_GROUP:
        return Translation(f"(?:{_seq(av, flags, False).loose})", NEVER)
    if op is C.AT:
        return _at(av, flags, final)
    if op in (C.ASSERT, C.ASSERT_NOT):  # look-around: RE2 has none
        return Translation("", NEVER)
    if op is C.GROUPREF:  # a back-reference matches some text
        return Translation(r"(?s:.*)", NEVER)
    if op is C.GROUPREF_EXISTS:
        _, yes, no = av
        return Translation(_alt([_seq(yes, flags, final), _seq(no or [], flags, final)]).loose, NEVER)
    raise NotImplementedError(f"regex node {op}")  # pragma: no cover - new in some later Python


def _at(av, flags: int, final: bool) -> Translation:
    multiline = bool(flags & C.SRE_FLAG_MULTILINE)
    if av is C.AT_BEGINNING:  # ^ : start of text, or of any line with (?m) (same in RE2)
        start = "(?m:^)" if multiline else r"\A"
        return Translation(start, start)
    if av is C.AT_BEGINNING_STRING:
        return Translation(r"\A", r"\A")
    if av is C.AT_END_STRING:  # \Z
        return Translation(r"\z", r"\z")
    if av is C.AT_END:
        if multiline:  # before any newline or at the end, in both
            return Translation("(?m:$)", "(?m:$)")
        # Python's $ also matches just before a final newline; at the very end of the pattern that is \n?\z.
        if final:
            return Translation(r"(?:\n?\z)", r"(?:\n?\z)")
        return Translation("(?m:$)", r"\z")
    if av in (C.AT_BOUNDARY, C.AT_NON_BOUNDARY):
        esc = r"\b" if av is C.AT_BOUNDARY else r"\B"
        if flags & C.SRE_FLAG_ASCII:  # RE2's \b is the ASCII one
            return Translation(esc, esc)
        return Translation("", NEVER)  # Unicode word boundaries: RE2 cannot say
    raise NotImplementedError(f"regex position {av}")  # pragma: no cover


@cache
def translate(pattern: str) -> Translation:
    """RE2 patterns bracketing Python's ``re.search(pattern, ...)``; raises ``re.error`` for a bad pattern."""
    re.compile(pattern)  # Python's own verdict on the syntax first
    tree = P.parse(pattern)
    return _seq(list(tree), tree.state.flags, True)


# --------------------------------------------------------------------------- search


@cache
def _re2_ok(pattern: str) -> bool:
    """Whether Arrow's RE2 compiles the pattern (size limits)."""
    try:
        pc.match_substring_regex(pa.array([""], pa.string()), pattern)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return False
    return True


def plan(pattern: str) -> str:
    """How a pattern is run: 're2' (exact), 're2+re' (RE2, then Python on undecided rows), or 're' (Python only)."""
    t = translate(pattern)
    if not _re2_ok(t.loose):
        return "re"
    return "re2" if t.exact else "re2+re"


# functions of the pattern (and Python's ``re``) alone: the warm worker keeps them between runs
CODE_CACHES = (_category, _all_code_points, _folded, translate, _re2_ok)


def one_array(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """The column as one array, without copying it when it already is one chunk."""
    if isinstance(values, pa.ChunkedArray):
        return values.chunk(0) if values.num_chunks == 1 else values.combine_chunks()
    return values


def search(values: pa.Array | pa.ChunkedArray, pattern: str) -> pa.Array:
    """Per row, whether ``re.search(pattern, value)`` finds a match; null where the value is null.

    One RE2 pass over all rows with the loose pattern; only the rows it finds are looked at again
    (tight pattern, then Python's ``re`` for what is still undecided) unless the pattern is exact.
    """
    t = translate(pattern)
    values = one_array(values)
    if not pa.types.is_string(values.type) and not pa.types.is_large_string(values.type):
        values = values.cast(pa.string())
    if plan(pattern) == "re2":
        return pc.match_substring_regex(values, t.loose)
    valid = values.is_valid().to_numpy(zero_copy_only=False)
    hit = np.zeros(len(values), dtype=bool)
    if plan(pattern) == "re":
        rows = np.flatnonzero(valid)
    else:
        rows = np.flatnonzero(pc.fill_null(pc.match_substring_regex(values, t.loose), False).to_numpy(zero_copy_only=False))
    if len(rows):
        candidates = values.take(pa.array(rows, pa.int64()))
        if t.tight != NEVER and _re2_ok(t.tight):
            sure = pc.fill_null(pc.match_substring_regex(candidates, t.tight), False).to_numpy(zero_copy_only=False)
            hit[rows[sure]] = True
            rows, candidates = rows[~sure], candidates.filter(pa.array(~sure))
        rx = re.compile(pattern)
        hit[rows] = [rx.search(s) is not None for s in candidates.to_pylist()]
    return pa.array(hit, pa.bool_(), mask=~valid)
