#!/usr/bin/env python3
"""The hostile-input corpus: broken, odd and malicious pages, each with the outcome it must get.

Small cases are committed in ``tests/hostile/files/`` (``--small`` rewrites them, and a
test checks the committed bytes still match); cases that are big, or cannot live in git
(a FIFO, a file name that is not UTF-8), are made at test time by :func:`write_generated`
into a temporary folder.  Nothing here is ever over a few hundred KB on disk except the
50 MB page, which is only ever written to a temporary folder.

    python tests/hostile/make_corpus.py --small            # rewrite tests/hostile/files/
    python tests/hostile/make_corpus.py --generated DIR    # write the generated cases to DIR

Expected outcomes (``EXPECTED``, by file name):

``reject:<reason>``  no records; a reject row with that reason and a detail
``published``        the article is published (its comments may be partly quarantined)
``quarantined``      the article is quarantined with reasons (text intact)
``html``             an HTML page: the run must finish in bounded time with a record or a reject
"""
from __future__ import annotations

import gzip
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
FILES = HERE / "files"

ARTICLE = """{title}

Published: March 3, 2012

SPRINGFIELD: The city council approved the budget on Friday after a six-hour session.

Members argued over road repairs and school funding until late in the evening.

{extra}

3 Comments

  • Alice Doe
    March 3, 2012 at 4:15 pm

    Finally some money for the roads.

  • Bob Roe
    March 3, 2012 at 5:20 pm

    {comment}

  • Carol Poe
    March 4, 2012 at 9:02 am

    @Alice Doe: the roads were promised last year too.
"""


def article(title: str, extra: str = "The mayor said the vote was the hardest of her term.",
            comment: str = "About time, I say.") -> str:
    """A small text dump (title, date, two paragraphs, three comments); titles keep article ids apart."""
    return ARTICLE.format(title=title, extra=extra, comment=comment)


UNPARSABLE_DATES = """Storm closes the harbour for a second day

Published: March 3, 2012

HARBOURTOWN: Ferries stayed in port on Saturday as the storm kept the harbour closed.

The port authority expects to reopen on Monday if the wind drops as forecast.

3 Comments

  • Dana Lee
    3 hours ago

    The ferry to the island has not run since Thursday.

  • Eli Moss
    2 days ago

    They should have closed it earlier.

  • Fay Ng
    5 minutes ago

    Stay safe everyone.
"""

BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<html xmlns="http://www.w3.org/1999/xhtml"><head><title>&lol9;</title></head>
<body><article><h1>Laughs &lol9;</h1><p>&lol9;</p><p>The council approved the budget on Friday.</p></article></body></html>
"""

# a page whose own body talks about markup: must be kept verbatim (quarantined, not stripped or run)
SCRIPT_IN_BODY = article("Council website fixes search box bug", extra='Security researchers showed that typing <script>alert("x")</script> into the '
                               'council website search box ran the code, a bug fixed on Monday.')
SCRIPT_IN_COMMENT = article("Council opens online complaint form", comment='Try pasting <script>alert(document.cookie)</script> in their form, lol.')
ANGLE_BRACKETS = article("Council splits budget between roads and schools", extra="Spending on roads < 5% of the total and schools > 40%: a => b, x<y, <3 for all.",
                         comment="If a < b and b > c then who knows. <-- this is the key point -->")
RAW_HTML_AS_TEXT = """<html><head><title>Council approves budget</title></head>
<body>
<h1>Council approves budget</h1>
<p>Published: March 3, 2012</p>
<div class="body"><p>The city council approved the budget on Friday after a six-hour session.</p>
<p>Members argued over road repairs and school funding until late in the evening.</p></div>
</body></html>
"""
TRAVERSAL = article("Council budget reaches the regional paper", extra="Published in ../../etc, March 3, 2012.")
MIXED = (article("Zürich café wins the council vote", extra="Zürich’s mayor said “no” – the café stays.").encode("utf-8")
         .replace("Finally some money".encode(), b"Finally some money \x93for once\x94 \x96 it\x92s"))


def _late_nul() -> bytes:
    pad = "\n\n".join(f"Paragraph {i}: members argued over road repairs and school funding." for i in range(160))
    return article("Council debate runs past midnight", extra=pad).encode("utf-8").replace(b"Finally some money", b"Finally\x00 some money")


def _multi_member_gz() -> bytes:
    data = article("Council budget arrives in two parts").encode("utf-8")
    half = len(data) // 2
    return gzip.compress(data[:half], mtime=0) + gzip.compress(data[half:], mtime=0)



def _impostor_comment(n: int, name: str, text: str) -> str:
    return f"""
<li class="comment depth-1" id="li-comment-{n}"><div id="comment-{n}">
  <div class="comment-author vcard"><cite class="fn">{name}</cite> <span class="says">says:</span></div>
  <div class="comment-meta commentmetadata"><a href="#comment-{n}">March 3, 2012 at {n}:30 pm</a></div>
  <p>{text}</p>
  <div class="reply"><a class="comment-reply-link" href="#">Reply</a></div></div></li>"""


# a commenter whose name carries a zero-width space (U+200B, invisible): looks like another commenter's name, and
# must not get that person's author_id; the names are also written in the text without '@' (--authors drop)
IMPOSTOR = ("""<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Harbour bridge reopens | The Daily Example</title>
<meta property="article:published_time" content="2012-03-03T09:00:00+00:00"></head>
<body><article><h1 class="entry-title">Harbour bridge reopens</h1><div class="entry-content">
<p>The harbour bridge reopened on Saturday after three months of repairs to its deck and railings, the city said.</p>
<p>Traffic was light in the morning, and the ferry company said it would keep its extra sailings until Monday.</p>
</div></article>
<div id="comments"><h3 class="comments-title">4 Responses to "Harbour bridge reopens"</h3><ol class="commentlist">"""
            + _impostor_comment(1, "Marta Lind", "Finally, the bridge is open again for the morning commute.")
            + _impostor_comment(2, "Mar&#8203;ta Lind", "This is the real Marta Lind: the repairs were a waste of money.")
            + _impostor_comment(3, "Per Holm", "Reply to Marta Lind: that second comment is not hers, I think.")
            + _impostor_comment(4, "Marta Lind", "Per Holm is right, that was not me.")
            + """</ol></div></body></html>""")

# the same as a text dump (w3m and lynx copy the zero-width space into the dump)
IMPOSTOR_DUMP = article("Harbour bridge reopens", comment="Reply to Alice Doe: I agree with Alice Doe.").replace(
    "  • Carol Poe", "  • Ali\u200bce Doe")

# committed: name -> bytes
SMALL: dict[str, bytes] = {
    "empty.txt": b"",
    "whitespace.txt": b"  \n\n\t \r\n",
    "binary-png.txt": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4,
    "control-bytes.txt": bytes([1, 2, 3, 4, 5, 6, 7, 8, 14, 15, 16, 17, 18, 19, 20]) * 40 + b"text",
    "truncated.txt.gz": gzip.compress(article("Truncated").encode() * 4, mtime=0)[:300],
    "fake-gzip.txt.gz": b"\x1f\x8b" + b"this is not a gzip stream at all" * 10,
    "multi-member.txt.gz": _multi_member_gz(),
    "mixed-utf8-cp1252.txt": MIXED,
    "utf16-no-bom.txt": article("Council budget saved as UTF-16").encode("utf-16-le"),
    "undefined-cp1252-bytes.txt": article("Council budget with undefined bytes").replace("•", "*").encode("ascii").replace(b"Finally", b"Fin\x81al\x8dly\x8f\x90\x9d"),
    # bytes no Western encoding defines: the detector picks some codepage (garbage in, garbage out),
    # the run does not crash; only bytes no candidate decodes at all give the reject 'undecodable'
    "undefined-bytes-only.txt": b"Council budget\n\n" + b"\x81\x8d\x8f\x90\x9d " * 100,
    "late-nul.txt": _late_nul(),
    "script-in-body.txt": SCRIPT_IN_BODY.encode(),
    "script-in-comment.txt": SCRIPT_IN_COMMENT.encode(),
    "angle-brackets.txt": ANGLE_BRACKETS.encode(),
    "raw-html-as-text.txt": RAW_HTML_AS_TEXT.encode(),
    "unparsable-dates.txt": UNPARSABLE_DATES.encode(),
    "traversal-publication.txt": TRAVERSAL.encode(),
    "punctuation-only.txt": b"---\n***\n...\n",
    "billion-laughs.xhtml": BILLION_LAUGHS.encode(),
    "billion-laughs.html": BILLION_LAUGHS.encode(),
    "impostor-zero-width.html": IMPOSTOR.encode(),
    "impostor-zero-width.txt": IMPOSTOR_DUMP.encode(),
}

FIFTY_MB = 50 * 1000 * 1000


def _deep_nesting(depth: int = 100_000) -> bytes:
    return (b"<!DOCTYPE html><html><head><title>Deep</title></head><body>" + b"<div>" * depth
            + b"<p>The council approved the budget on Friday.</p>" + b"</div>" * depth + b"</body></html>")


def _fifty_mb_page(path: Path) -> None:
    """A 50 MB text page: a real-looking article with a huge comment section, written in chunks."""
    head = article("Fifty megabytes of comments").encode()
    block = b"".join(f"  \xe2\x80\xa2 Reader {i}\n    March 4, 2012 at 9:{i % 60:02d} am\n\n    Comment number {i} "
                     f"says the roads matter more than anything.\n\n".encode() for i in range(1000))
    with open(path, "wb") as f:
        f.write(head)
        written = len(head)
        while written < FIFTY_MB:
            chunk = block[: FIFTY_MB - written]
            f.write(chunk)
            written += len(chunk)


def write_generated(dest: Path, *, fifty_mb: bool = True) -> dict[str, str]:
    """Write the big and the un-committable cases into ``dest``; returns name -> expected outcome."""
    dest.mkdir(parents=True, exist_ok=True)
    out: dict[str, str] = {}
    if fifty_mb:
        _fifty_mb_page(dest / "fifty-mb.txt")
        out["fifty-mb.txt"] = "reject:too_large"
    (dest / "gzip-bomb.txt.gz").write_bytes(gzip.compress(b"\n" * (64 * 1024 * 1024), compresslevel=9, mtime=0))
    out["gzip-bomb.txt.gz"] = "reject:too_large"
    (dest / "many-lines.txt").write_bytes(article("Too many lines").encode() + b"x\n" * 250_000)
    out["many-lines.txt"] = "reject:too_many_lines"
    (dest / "deep-nesting.html").write_bytes(_deep_nesting())
    out["deep-nesting.html"] = "html"
    os.mkfifo(dest / "fifo.txt")
    out["fifo.txt"] = "reject:not_a_file"
    # a file name that is not valid UTF-8 (Latin-1 'é'): must still get a readable, writable uri
    odd = os.fsencode(str(dest)) + b"/caf\xe9-page.txt"
    with open(odd, "wb") as f:
        f.write(article("Café owners welcome the budget", extra="The café owners welcomed the decision.").encode())
    out[os.fsdecode(b"caf\xe9-page.txt")] = "published"
    # a symlink to itself (Path.resolve() raises RuntimeError on 3.11) and a symlinked sub-folder
    # (not followed: a loop or a link out of the input tree; reported, not skipped silently)
    os.symlink("self-loop.html", dest / "self-loop.html")
    out["self-loop.html"] = "reject:symlink_loop"
    (dest / "elsewhere").mkdir()
    (dest / "elsewhere" / ".keep").write_bytes(b"")
    os.symlink("elsewhere", dest / "linked-folder")
    out["linked-folder"] = "reject:symlinked_folder"
    return out


EXPECTED: dict[str, str] = {
    "empty.txt": "reject:empty",
    "whitespace.txt": "reject:empty",
    "binary-png.txt": "reject:binary",
    "control-bytes.txt": "reject:binary",
    "truncated.txt.gz": "reject:corrupt_gzip",
    "fake-gzip.txt.gz": "reject:corrupt_gzip",
    "multi-member.txt.gz": "published",
    "mixed-utf8-cp1252.txt": "published",
    "utf16-no-bom.txt": "published",
    "undefined-cp1252-bytes.txt": "published",
    "undefined-bytes-only.txt": "published",
    "late-nul.txt": "published",
    "script-in-body.txt": "quarantined",
    "script-in-comment.txt": "published",
    "angle-brackets.txt": "published",
    "raw-html-as-text.txt": "quarantined",
    "unparsable-dates.txt": "published",
    "traversal-publication.txt": "published",
    "punctuation-only.txt": "quarantined",
    "billion-laughs.xhtml": "html",
    "billion-laughs.html": "html",
    "impostor-zero-width.html": "published",
    "impostor-zero-width.txt": "published",
}


def write_small(dest: Path = FILES) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    for name, data in SMALL.items():
        (dest / name).write_bytes(data)


def main(argv: list[str]) -> int:
    if argv[:1] == ["--small"]:
        write_small()
        print(f"wrote {len(SMALL)} files to {FILES}")
        return 0
    if argv[:1] == ["--generated"] and len(argv) == 2:
        names = write_generated(Path(argv[1]))
        print(f"wrote {len(names)} files to {argv[1]}")
        return 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
