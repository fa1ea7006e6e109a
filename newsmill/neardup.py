"""Near-duplicate articles: SimHash fingerprints of bodies, and the links between them.

The same article reaches a run more than once in different clothes: dumped by two tools,
captured twice with a different comment count, saved with and without its site's wrapper.
Those records differ, so neither is thrown away; the later one names the earlier one in
``near_duplicate_of``, and a researcher decides whether to keep one.

SimHash (Charikar 2002) over word 3-shingles: near-identical texts get fingerprints that
differ in a few of their 64 bits.  Pairs are found by banding (4 bands of 16 bits: two
fingerprints within 3 bits agree on at least one band), so a run never compares every pair.
"""
from __future__ import annotations

import hashlib

import numpy as np

from newsmill.text import tokens

BITS = 64
MAX_DISTANCE = 3  # bits; with 4 bands of 16 bits every pair within 3 bits shares a band
_BANDS = 4
MIN_TOKENS = 30  # shorter bodies (a teaser, an error line) say too little to call two pages the same
_SHINGLE = 3


def simhash(text: str) -> str | None:
    """64-bit SimHash of a text's word 3-shingles as 16 hex digits; None for short texts."""
    words = tokens(text)
    if len(words) < MIN_TOKENS:
        return None
    shingles = {" ".join(words[i:i + _SHINGLE]) for i in range(len(words) - _SHINGLE + 1)}
    digests = b"".join(hashlib.blake2b(s.encode(), digest_size=8).digest() for s in shingles)
    bits = np.unpackbits(np.frombuffer(digests, dtype=np.uint8).reshape(-1, 8), axis=1)  # (n, 64), big-endian
    votes = bits.sum(axis=0, dtype=np.int64) * 2 - len(shingles)
    return np.packbits(votes > 0).tobytes().hex()


def distance(a: str, b: str) -> int:
    return (int(a, 16) ^ int(b, 16)).bit_count()


def link(fingerprints: list[str | None]) -> dict[int, int]:
    """For each position whose fingerprint is within :data:`MAX_DISTANCE` bits of an earlier one's:
    the earliest such position (a chain of near-duplicates points at its first member)."""
    buckets: dict[tuple[int, str], list[int]] = {}
    out: dict[int, int] = {}
    width = BITS // 4 // _BANDS  # hex digits per band
    for i, fp in enumerate(fingerprints):
        if fp is None:
            continue
        best = None
        for band in range(_BANDS):
            for j in buckets.get((band, fp[band * width:(band + 1) * width]), ()):
                if (best is None or j < best) and distance(fp, fingerprints[j]) <= MAX_DISTANCE:
                    best = j
        if best is not None:
            out[i] = out.get(best, best)
        for band in range(_BANDS):
            buckets.setdefault((band, fp[band * width:(band + 1) * width]), []).append(i)
    return out
