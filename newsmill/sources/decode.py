"""Bytes to text, trusting the bytes over any declaration.

Order: BOM, then strict UTF-8 (by far the most common, and cheap to check),
then charset-normalizer's guess (with the declared charset as a hint only),
then cp1252 as the last resort of old Western pages.
"""
from __future__ import annotations

import codecs

_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


class UndecodableError(ValueError):
    pass


def looks_binary(data: bytes) -> bool:
    """NUL bytes or many control bytes in the head: not a text or HTML page."""
    head = data[:8192]
    if any(head.startswith(bom) for bom, enc in _BOMS if enc.startswith("utf-16") or enc.startswith("utf-32")):
        return False
    if b"\x00" in head:
        return True
    controls = sum(1 for b in head if b < 32 and b not in (9, 10, 12, 13, 27))
    return controls > max(8, len(head) // 100)


def decode(data: bytes, declared: str | None = None) -> tuple[str, str]:
    """(text, encoding used).  Raises UndecodableError when no encoding fits."""
    for bom, enc in _BOMS:
        if data.startswith(bom):
            return data.decode(enc), enc
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(data[:200_000], cp_isolation=[declared] if declared else None).best()
    if best is None and declared:
        best = from_bytes(data[:200_000]).best()
    if best is not None and best.encoding not in ("utf_8",):
        try:
            return data.decode(best.encoding), best.encoding
        except (UnicodeDecodeError, LookupError):
            pass
    try:
        return data.decode("cp1252"), "cp1252"
    except UnicodeDecodeError as exc:
        raise UndecodableError(f"no encoding fits the bytes (utf-8, detection and cp1252 failed at byte {exc.start})") from exc
