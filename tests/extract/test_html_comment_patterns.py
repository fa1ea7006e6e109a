"""Comment patterns on unfamiliar markup (issue 11, point 5), and lists that are NOT comments.

Each page here is small synthetic HTML written for the test: one per pattern the generic layers
handle (lists without dates, relative dates in several languages, Q&A answers, comments held in
scripts as JSON) and one per kind of list that carries names and dates but no reader comment
(references, related links, teasers, events, FAQ, reviews, live blogs, forms and prompts).
"""
from __future__ import annotations

import json

import pytest

from newsmill.extract.html import extract_html
from newsmill.text import tokens

ARTICLE = (
    "<article><h1>How the river was cleaned</h1><p class='byline'>By Ann Writer, March 3, 2024</p>"
    "<p>The city spent four years removing silt and old tyres from the river bed, and the water is clear "
    "again for the first time since the mills closed.</p><p>Fishermen say the trout have come back to the "
    "upper reaches, and the council plans a path along the eastern bank next spring.</p></article>"
)


def page(extra: str, head: str = "") -> str:
    return f"<html><head><title>How the river was cleaned</title>{head}</head><body>{ARTICLE}{extra}</body></html>"


def body_text(raw) -> str:
    return " ".join(raw.paragraphs)


# ----------------------------------------------------------------------------- patterns


def test_comment_list_without_dates():
    items = "".join(
        f"<li class='comment' id='comment-{n}'><cite class='comment-author'>{name}</cite>"
        f"<div class='comment-content'><p>{text}</p></div></li>"
        for n, name, text in [
            (11, "Rosa", "I walked along the river last week and saw a heron standing in the shallows."),
            (12, "Tom", "Good to read about this, the smell used to be terrible in summer."),
            (13, "Mina", "Will the new path be open to cyclists as well, or only to walkers?"),
        ]
    )
    raw = extract_html(page(f"<div id='comments'><h3>3 Responses</h3><ul class='post-comments'>{items}</ul></div>"))
    assert [c.author for c in raw.comments] == ["Rosa", "Tom", "Mina"]
    assert all(c.posted_raw is None for c in raw.comments)
    assert raw.comments[2].text.startswith("Will the new path")
    assert "heron" not in body_text(raw)  # the comment stays out of the article body


def test_single_undated_comment_needs_its_record_id():
    one = ("<div id='comments'><ol class='commentlist'><li class='the-comment' id='comment-137405'>"
           "<div class='the-comment-author vcard'><cite class='fn'>Jason</cite></div>"
           "<div class='the-comment-body'><p>Definitely, fifty percent upfront has been my policy this year.</p></div>"
           "</li></ol></div>")
    raw = extract_html(page(one))
    assert [(c.author, c.text) for c in raw.comments] == [("Jason", "Definitely, fifty percent upfront has been my policy this year.")]
    # the same block without a record id is a box of text, not a comment
    raw = extract_html(page(one.replace(" id='comment-137405'", "")))
    assert raw.comments == []


@pytest.mark.parametrize("container,item,stamps", [
    ("kommentare", "kommentar", ["vor 2 Stunden", "vor 5 Stunden", "vor einem Tag"]),
    ("commentaires", "commentaire", ["il y a 3 heures", "il y a 2 jours", "il y a une semaine"]),
    ("comentarios", "comentario", ["hace 5 minutos", "hace 2 horas", "hace un día"]),
])
def test_relative_foreign_dates(container, item, stamps):
    texts = ["Das Wasser ist wirklich viel klarer geworden seit dem Frühjahr.",
             "Ce projet a coûté cher mais le résultat est visible partout.",
             "Por fin una buena noticia sobre el río de nuestra ciudad."]
    blocks = "".join(
        f"<div class='{item}'><div class='meta'><span class='name'>Leser{i}</span> <span class='zeit'>{s}</span></div>"
        f"<p>{t}</p></div>" for i, (s, t) in enumerate(zip(stamps, texts)))
    raw = extract_html(page(f"<section class='{container}'>{blocks}</section>"))
    assert [c.posted_raw for c in raw.comments] == stamps
    assert [c.author for c in raw.comments] == ["Leser0", "Leser1", "Leser2"]
    assert [c.text for c in raw.comments] == texts


def test_qa_answer_list():
    answers = "".join(
        f"<div class='answer' id='answer-{n}'><div class='post-text'><p>{text}</p></div>"
        f"<div class='user-info'>answered {ago} <a href='/users/{n}/x'>{who}</a></div></div>"
        for n, text, ago, who in [
            (101, "Use a sediment trap upstream before dredging, otherwise the silt just moves down.", "3 hours ago", "hydro_eng"),
            (102, "The permit process matters more than the machinery; start it a year early.", "2 days ago", "planner42"),
        ]
    )
    raw = extract_html(page(f"<div id='answers'><h2>2 Answers</h2>{answers}</div>"))
    assert len(raw.comments) == 2
    assert [c.posted_raw for c in raw.comments] == ["3 hours ago", "2 days ago"]
    assert raw.comments[0].text.startswith("Use a sediment trap")


def test_qa_answers_without_dates_with_votes_and_reputation():
    answers = "".join(
        f"<div id='answer-{n}' class='answer{cls}'><div class='votecell'><span class='vote-count'>{votes}</span></div>"
        f"<div class='answercell'><div class='post-text'><p>{text}</p></div><div class='user-info'>"
        f"<div class='user-details'><a href='/users/{n}/x'>{who}</a><span class='reputation'>1,23{n}</span></div></div></div></div>"
        for n, cls, votes, text, who in [
            (1, " accepted-answer", 12, "Dredge in winter when the flow is low, and trap the silt downstream.", "hydro"),
            (2, "", 3, "Get the permits first; that takes longer than the work itself.", "planner")])
    raw = extract_html(page(f"<div id='answers'><h2>2 Answers</h2>{answers}</div>"))
    assert [c.author for c in raw.comments] == ["hydro", "planner"]
    assert "Dredge in winter" in raw.comments[0].text and "permits" in raw.comments[1].text


def test_comments_held_in_next_data_json():
    state = {"props": {"pageProps": {
        "article": {"related": [{"text": "Another story", "author": "Staff", "date": "2024-03-01"},
                                {"text": "A third story", "author": "Staff", "date": "2024-03-02"}]},
        "comments": {"nodes": [
            {"id": 1, "body": "<p>Finally some good news about the river.</p>", "author": {"name": "Jo"},
             "createdAt": 1709460000000,
             "replies": [{"body": "Agreed, it took long enough.", "user": {"displayName": "Al"},
                          "createdAt": "2024-03-03T12:00:00Z"}]},
            {"id": 2, "body": "Who paid for all this?", "author": {"name": "Bo"}, "createdAt": 1709463600},
        ]},
    }}}
    script = f"<script id='__NEXT_DATA__' type='application/json'>{json.dumps(state)}</script>"
    raw = extract_html(page(script))
    got = [(c.author, c.posted_raw, c.text, c.depth, c.parent_index) for c in raw.comments]
    assert got == [
        ("Jo", "2024-03-03T10:00:00+00:00", "Finally some good news about the river.", 0, None),
        ("Al", "2024-03-03T12:00:00Z", "Agreed, it took long enough.", 1, 0),
        ("Bo", "2024-03-03T11:00:00+00:00", "Who paid for all this?", 0, None),
    ]
    assert raw.extractor == "html+script"


def test_comments_held_in_window_state_object():
    state = {"discussion": {"posts": [
        {"message": "The trout are back, I caught two on Sunday.", "username": "angler", "timestamp": 1709460000},
        {"message": "Nice, which stretch of the river?", "username": "newbie", "timestamp": 1709463600},
    ]}}
    script = f"<script>var x = 1; window.__INITIAL_STATE__ = {json.dumps(state)}; init(x);</script>"
    raw = extract_html(page(script))
    assert [(c.author, c.text) for c in raw.comments] == [
        ("angler", "The trout are back, I caught two on Sunday."), ("newbie", "Nice, which stretch of the river?")]


def test_script_json_without_a_comment_path_gives_nothing():
    state = {"props": {"pageProps": {"related": [
        {"text": "Council approves the budget", "author": "Staff", "date": "2024-03-01"},
        {"text": "New bridge opens in May", "author": "Staff", "date": "2024-03-02"},
    ]}}}
    raw = extract_html(page(f"<script id='__NEXT_DATA__' type='application/json'>{json.dumps(state)}</script>"))
    assert raw.comments == []


# ----------------------------------------------------------------------------- negatives

def _dated_list(cls: str, item_cls: str, entries: str) -> str:
    return f"<div class='{cls}'>{entries}</div>".replace("ITEM", item_cls)


NEGATIVES = {
    "reference list": "<h2>References</h2><ol class='references'>" + "".join(
        f"<li id='cite_note-{n}'><span class='reference-text'>Smith, J. ({y}). <i>River sediment in towns</i>. "
        f"Journal of Water {n}. Retrieved March {n}, 2024.</span></li>" for n, y in [(1, 2019), (2, 2020), (3, 2021), (4, 2022)]) + "</ol>",
    "related links": "<div class='related-stories'>" + "".join(
        f"<article class='card'><h3><a href='/news/{n}'>Council votes on the new riverside cycling path plan {n}</a></h3>"
        f"<time datetime='2024-03-0{n}'>March {n}, 2024</time><p>The vote was close and the debate long.</p></article>"
        for n in range(1, 5)) + "</div>",
    "teasers without any class hint": "<ul>" + "".join(
        f"<li><a href='/story/{n}'><img src='/img/{n}.jpg' srcset='/img/{n}-2x.jpg 2x'>"
        f"<span>Storm damage closes two bridges over the weekend {n}</span></a>"
        f"<span>{n} hours ago</span><p>Engineers inspect the pillars after the flood.</p></li>" for n in range(1, 6)) + "</ul>",
    "event list": "<div class='events-list'>" + "".join(
        f"<div class='event-item'><span class='event-date'>April {n}, 2024 at 10:00 am</span>"
        f"<span class='place'>Town hall</span><p>Guided walk along the cleaned river with the engineers.</p></div>"
        for n in range(1, 5)) + "</div>",
    "FAQ": "<section class='faq'>" + "".join(
        f"<div class='faq-item'><h4>When will the path open, question {n}?</h4><p class='answer'>Updated March {n}, 2024: "
        f"the council expects to open it next spring, weather permitting.</p></div>" for n in range(1, 5)) + "</section>",
    "reviews": "<div class='reviews'>" + "".join(
        f"<div class='review'><span class='author'>Guest {n}</span> <span class='date'>March {n}, 2024</span>"
        f"<span class='rating'>4/5</span><p>Nice boat tour on the river, the guide knew a lot about it.</p></div>"
        for n in range(1, 5)) + "</div>",
    "live blog": "<div class='live-blog'>" + "".join(
        f"<div class='live-entry'><time>10:{n}5</time> <span class='by'>Ann Writer</span><h3>Update on the flood barrier {n}</h3>"
        f"<p>Water levels at the weir fell again this morning, March {n}, 2024.</p></div>" for n in range(1, 5)) + "</div>",
    "comment form only": "<div id='comments' class='comments-area'><div id='respond'><h3>Leave a Reply</h3>"
                         "<form id='commentform'><p>Your email address will not be published.</p><textarea name='comment'></textarea>"
                         "<input type='text' name='author'><input type='submit' value='Post Comment'></form></div></div>",
    "log-in prompt": "<aside class='comments-block comments'><p>Show comments</p><p>If you would like to add a comment, "
                     "please register or log in</p><a href='/register'>Register</a> <a href='/login'>Log in</a></aside>",
    "error dialog of the comment form": "<div class='modal'><div class='modal-content comment'><div class='h2'>Error</div>"
                                        "<div class='modal-body comment-body'><p>Your comment was not saved. It may be longer "
                                        "than 4000 characters, posted on May 1, 2024 within the lock time.</p></div></div></div>",
    "recent comments sidebar": "<aside class='widget widget_recent_comments'><h3>Recent Comments</h3><ul>" + "".join(
        f"<li class='recentcomments'><span class='comment-author-link'>Reader {n}</span> on "
        f"<a href='/2024/03/other-post-{n}/#comment-{n}'>Another post about our lovely river and its bridges</a></li>"
        for n in range(1, 5)) + "</ul></aside>",
    "leaderboard of names and counts": "<div id='comments-leaders'>" + "".join(
        f"<div class='leader'><span class='name'>Reader {n}</span><span>{100 * n} Recommendations</span></div>"
        for n in range(1, 5)) + "</div>",
}


@pytest.mark.parametrize("kind", sorted(NEGATIVES))
def test_lists_that_are_not_comments(kind):
    raw = extract_html(page(NEGATIVES[kind]))
    assert raw.comments == [], kind
    assert "trout" in " ".join(tokens(body_text(raw)))  # the article is still read


def test_short_dated_comments_keep_their_text():
    """A comment shorter than a stamp line: the date's stamp must not swallow the words beside it."""
    # one list per comment; the staff reply's item has its own class, so the lists are the repeated unit
    items = "".join(
        f"<ol class='commentlist'><li class='commentpost{cls}'><strong>{n} {who}</strong> | "
        f"<small class='commentmetadata'>11/{n}/2012 1:0{n}:41 AM</small><p></p><p>{text}</p></li></ol>"
        for n, cls, who, text in [(1, "", "Pat Vial", "Thanks, great news for us."), (2, "", "Mat New", "Just what was needed!"),
                                  (3, "", "Ann Lee", "Finally, well done."), (4, " staff", "Ed Brill", "Glad you like it.")])
    raw = extract_html(page(f"<div class='commentsblock'>{items}</div>"))
    assert [c.posted_raw for c in raw.comments] == [f"11/{n}/2012 1:0{n}:41 AM" for n in (1, 2, 3, 4)]
    assert [c.text.split("\n")[-1] for c in raw.comments] == [
        "Thanks, great news for us.", "Just what was needed!", "Finally, well done.", "Glad you like it."]


@pytest.mark.parametrize("stamp,seconds", [("2h ago", 7200), ("5m ago", 300), ("3 d ago", 259200), ("1 yr ago", 31536000),
                                           ("vor 1 Std.", 3600), ("vor 2 Tagen", 172800)])
def test_abbreviated_relative_times(stamp, seconds):
    from newsmill.extract.dates import find_date

    m = find_date(f"Jo · {stamp}", day_first=None, relative=True, default_year=None)
    assert m is not None and m.ago_seconds == seconds


@pytest.mark.parametrize("text", ["Route 66 s", "The 2 d", "a 5 m wall", "it's 3 o'clock"])
def test_bare_unit_letters_are_no_relative_time(text):
    from newsmill.extract.dates import find_date

    assert find_date(text, day_first=None, relative=True, default_year=None) is None


def test_undated_thread_keeps_replies_apart():
    def note(n, who, text, inner=""):
        return (f"<div class='note' id='note-{n}'><span class='user'>{who}</span>"
                f"<div class='note-text'><p>{text}</p></div>{inner}</div>")
    reply = "<div class='answers-to'>" + note(22, "Tom", "Thanks Rosa, I will try the north bank next time.") + "</div>"
    html = ("<section class='discussion'>"
            + note(21, "Rosa", "The herons are back near the old mill, worth a walk.", reply)
            + note(23, "Mina", "Will the new path be open to cyclists as well as walkers?") + "</section>")
    raw = extract_html(page(html))
    assert raw.extractor == "html+generic"
    assert [(c.author, c.depth, c.parent_index) for c in raw.comments] == [("Rosa", 0, None), ("Tom", 1, 0), ("Mina", 0, None)]
    assert "north bank" not in raw.comments[0].text
    assert raw.comments[1].text == "Thanks Rosa, I will try the north bank next time."
