"""Bytes to text, trusting the bytes over any declaration.

Order:

1. a BOM (UTF-8, UTF-16, UTF-32), or UTF-16 without a BOM (every other byte NUL);
2. strict UTF-8 (by far the most common, and cheap to check);
3. **mixed UTF-8 and cp1252** -- a UTF-8 page with stray cp1252 bytes (a comment
   pasted from an old system, a template in another encoding).  When the valid
   UTF-8 multi-byte sequences are at least as many as the bytes that are not
   UTF-8, the page is read as UTF-8 and each stray byte as its cp1252 character
   (0x92 -> '’'; the five bytes cp1252 leaves undefined -> U+FFFD).  Both parts
   come out right, where reading the whole page as either encoding garbles one
   of them.  The encoding is reported as ``'utf-8+cp1252'``.  When stray bytes
   dominate, the page is not UTF-8 and step 4 decides;
4. few non-ASCII bytes (< 32): too little for statistical detection, so the
   declared charset if it fits, else cp1252 (old Western pages), its five undefined
   bytes as U+FFFD (``'cp1252+replace'``);
5. charset-normalizer's guess (with the declared charset as a hint only); a tie with
   cp1252 goes to cp1252;
6. cp1252 as the last resort; bytes that fit nothing raise :class:`UndecodableError`
   (the page is rejected with reason ``undecodable``).

:func:`decode` never raises anything else, whatever the bytes or the declared name.
"""
from __future__ import annotations

import codecs
import re

_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_HIGH = bytes(range(0x80, 0x100))
_ESCAPED = re.compile("[\udc80-\udcff]")  # bytes that are not UTF-8, after surrogateescape
_FEW_NON_ASCII = 32


class UndecodableError(ValueError):
    pass


def utf16_without_bom(data: bytes) -> str | None:
    """'utf-16-le'/'utf-16-be' for text saved as UTF-16 without a BOM (mostly ASCII: every other byte NUL)."""
    head = data[:4096]
    if len(head) < 16:
        return None
    head = head[: len(head) // 2 * 2]
    even, odd = head[0::2], head[1::2]
    z_even, z_odd = even.count(0) / len(even), odd.count(0) / len(odd)
    enc = "utf-16-le" if z_odd > 0.7 and z_even < 0.05 else "utf-16-be" if z_even > 0.7 and z_odd < 0.05 else None
    if enc is None:
        return None
    try:  # incremental: a character cut at the end of the head is not an error
        text = codecs.getincrementaldecoder(enc)().decode(head, final=False)
    except UnicodeDecodeError:
        return None
    readable = sum(1 for c in text if c.isprintable() or c in "\t\n\r\f")
    return enc if readable >= 0.9 * len(text) else None  # 16-bit binary data is not text


def looks_binary(data: bytes) -> bool:
    """NUL bytes or many control bytes in the head: not a text or HTML page."""
    head = data[:8192]
    if any(head.startswith(bom) for bom, enc in _BOMS if enc.startswith("utf-16") or enc.startswith("utf-32")):
        return False
    if utf16_without_bom(head):
        return False
    if b"\x00" in head:
        return True
    controls = sum(1 for b in head if b < 32 and b not in (9, 10, 12, 13, 27))
    return controls > max(8, len(head) // 100)


def _stray_byte(m: re.Match) -> str:
    b = bytes([ord(m.group()) - 0xDC00])
    return b.decode("cp1252", errors="replace")


def _mixed_utf8(data: bytes) -> str | None:
    """UTF-8 with stray cp1252 bytes, when UTF-8 dominates; else None."""
    text = data.decode("utf-8", errors="surrogateescape")
    stray = len(_ESCAPED.findall(text))
    valid = len(text) - len(text.encode("ascii", errors="ignore")) - stray  # non-ASCII characters read as UTF-8
    if stray == 0 or valid < stray:
        return None
    return _ESCAPED.sub(_stray_byte, text)


def _codec(name: str | None) -> str | None:
    if not name:
        return None
    try:
        return codecs.lookup(name.strip()).name
    except (LookupError, ValueError, TypeError):
        return None


def decode(data: bytes, declared: str | None = None) -> tuple[str, str]:
    """(text, encoding used).  Raises UndecodableError when no encoding fits, nothing else."""
    for bom, enc in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(enc), enc
            except UnicodeDecodeError:
                break  # a BOM-like start of something else
    if enc := utf16_without_bom(data):  # the head decoded cleanly: an odd last byte or a stray surrogate -> U+FFFD
        return data.decode(enc, errors="replace"), enc
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    if (mixed := _mixed_utf8(data)) is not None:
        return mixed, "utf-8+cp1252"
    declared = _codec(declared)
    if len(data) - len(data.translate(None, _HIGH)) < _FEW_NON_ASCII:
        for enc in (declared, "cp1252"):
            if enc:
                try:
                    return data.decode(enc), enc
                except (UnicodeDecodeError, LookupError):
                    pass
        # a handful of bytes cp1252 leaves undefined: too little to guess another encoding from
        return data.decode("cp1252", errors="replace"), "cp1252+replace"
    from charset_normalizer import from_bytes

    try:
        results = from_bytes(data[:200_000], cp_isolation=[declared] if declared else None)
        if results.best() is None and declared:
            results = from_bytes(data[:200_000])
        best = results.best()
        # a tie between Western single-byte encodings goes to cp1252: the detector ranks cp1250
        # first for French or Spanish text ('è' would become 'č') although both read it as well
        alt = next((m for m in results if m.encoding == "cp1252"), None)
        if best is not None and alt is not None and alt.chaos <= best.chaos + 0.001 \
                and alt.coherence >= best.coherence - 0.01:
            best = alt
    except Exception:  # a detector bug must not lose the page: fall back to cp1252
        best = None
    if best is not None and best.encoding not in ("utf_8",):
        try:
            return data.decode(best.encoding), best.encoding
        except (UnicodeDecodeError, LookupError):
            pass
    try:
        return data.decode("cp1252"), "cp1252"
    except UnicodeDecodeError as exc:
        raise UndecodableError(f"no encoding fits the bytes (utf-8, detection and cp1252 failed at byte {exc.start})") from exc
