"""Text normalisation shared by every extractor and by cleaning, and untrusted text made safe to show."""
from __future__ import annotations

import html
import re
import unicodedata

_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200a\u202f\u205f\u3000]+")
_INVISIBLE = re.compile(r"[\u200b\u200c\u200d\u2060\ufeff\u00ad]")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")  # C0 and C1 controls (tab/newlines kept)
_DROP = re.compile(f"{_INVISIBLE.pattern[:-1]}{_CONTROL.pattern[1:]}")  # both, in one pass
_BLANKS = re.compile(r"\n{3,}")
_TOKEN = re.compile(r"\w+")


def normalize_line(line: str) -> str:
    """NFC, odd spaces to one space, invisible characters dropped; indentation kept."""
    if line.isascii() and line.isprintable():
        # most lines: nothing to drop or normalise, no tabs, the only space is ' ' (same result, no regex pass)
        line = line.rstrip()
        rest = line.lstrip(" ")
        return " " * (len(line) - len(rest)) + (_SPACES.sub(" ", rest) if "  " in rest else rest)
    line = unicodedata.normalize("NFC", _DROP.sub("", line))
    line = line.replace("\t", "    ").replace("\u00a0", " ").rstrip()
    indent = len(line) - len(line.lstrip(" "))
    return " " * indent + _SPACES.sub(" ", line[indent:])


def normalize_trimmed(line: str) -> str:
    """``normalize_line(line).strip()``, shorter for the common printable ASCII line."""
    if line.isascii() and line.isprintable():
        return " ".join(line.split())  # ' ' is its only whitespace: the same as collapsing and stripping
    return normalize_line(line).strip()


def flatten(text: str) -> str:
    """The words of a text on one line, normalised: the same as joining the words of its lines'
    ``normalize_line`` (dropping and NFC work the same on the whole text; every space is a separator)."""
    return " ".join(unicodedata.normalize("NFC", _DROP.sub("", text)).split())


def has_invisible(text: str) -> bool:
    """Whether ``text`` holds a character that normalising drops as invisible (zero-width, soft hyphen, BOM)."""
    return _INVISIBLE.search(text) is not None


def flatten_name(text: str) -> str:
    """:func:`flatten` that keeps the invisible characters (zero-width, soft hyphen; bidi controls are kept
    by both): for a name, where one is what tells two accounts apart (``newsmill.clean.identity_name``)."""
    return " ".join(unicodedata.normalize("NFC", _CONTROL.sub("", text)).split())


def name_as_written(name: str, lines) -> str | None:
    """``name`` (read from normalised text, so without invisible characters) as one of ``lines`` (the
    text before normalising) writes it, with its invisible characters, or None when no line holds it
    with some: the name ``newsmill.clean.identity_name`` keys ``author_id`` on."""
    words = name.split()
    if not words:
        return None
    pattern = re.compile(r"\s+".join(re.escape(w) for w in words))
    for line in lines:
        if not _INVISIBLE.search(line):
            continue
        kept, origin = [], []  # the line without its invisible characters, and where each character came from
        for i, c in enumerate(line):
            if not _INVISIBLE.match(c):
                kept.append(c)
                origin.append(i)
        seen = unicodedata.normalize("NFC", "".join(kept))
        if len(seen) != len(kept):
            continue  # NFC joined characters: the map no longer holds (rare; the name stays as read)
        m = pattern.search(seen)
        if m:
            written = flatten_name(line[origin[m.start()]: origin[m.end() - 1] + 1])
            return written if written != name else None
    return None


def normalize_text(text: str) -> str:
    """Normalised multi-line text: trimmed lines, at most one blank line between paragraphs."""
    if "\n" not in text and "\r" not in text:
        return normalize_trimmed(text)  # one line: the same result
    lines = [normalize_trimmed(l) for l in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    return _BLANKS.sub("\n\n", "\n".join(lines)).strip()


def paragraphs(text: str) -> list[str]:
    return [p for p in (p.strip() for p in text.split("\n\n")) if p]


def tokens(text: str) -> list[str]:
    """Lower-case word tokens: for fuzzy comparisons that ignore wrapping and punctuation."""
    return _TOKEN.findall(text.casefold())


# Shown text: a file name, an archive header or a server's answer can carry terminal escape sequences
# (ESC ... : clear the screen, set the window title, fake a line), bidi overrides that reorder what a
# reader sees, and markup; wherever such text is printed or written into a report it is escaped.
_UNSHOWABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_UNSHOWABLE_IN_LINES = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_NOT_TOKEN = re.compile(r"[^A-Za-z0-9_.:-]+")


def _escaped(m: re.Match) -> str:
    c = ord(m.group())
    return f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}"


def shown(text, *, lines: bool = False) -> str:
    """``text`` safe to print on a terminal: control characters (escape sequences begin with one) and
    bidi controls written as ``\\xNN`` / ``\\uNNNN``; ``lines``: newlines and tabs kept."""
    return (_UNSHOWABLE_IN_LINES if lines else _UNSHOWABLE).sub(_escaped, str(text))


def shown_markdown(text) -> str:
    """``text`` safe in a Markdown report line or table cell: :func:`shown`, markup and ``|`` escaped."""
    return html.escape(shown(text), quote=False).replace("|", "\\|")


def token(text, default: str = "unknown") -> str:
    """A category name (a reject reason, a skip count's key) made of ``[A-Za-z0-9_.:-]`` only, at most
    64 characters: such names are counted and shown, so one taken from an input must stay a name."""
    return _NOT_TOKEN.sub("_", str(text)).strip("_")[:64] or default
