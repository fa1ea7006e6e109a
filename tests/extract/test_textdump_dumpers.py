"""The text-dump parser on the layouts of different dumpers and widths.

Users dump pages with w3m (80 columns by default), lynx or html2text; each draws lists,
headings, links, images and wrapping its own way.  The dumps below are made up by hand in
each dumper's style (invented names and text); the last tests render one small synthetic
HTML page with every dumper that is installed and skip the others.
"""
from __future__ import annotations

import shutil
import subprocess

import pytest

from newsmill.extract.textdump import parse_text_dump


def _triples(page):
    return [(c.author, c.posted_raw, c.text) for c in page.comments]


# --------------------------------------------------------------------------- lynx

# lynx: running text indented by 3, headings at the margin (h1 centred), list levels drawn with
# '*', '+', 'o', no avatar placeholder for images without alt text
LYNX_THREAD = """   #Garden Notes RSS Feed Garden Notes » Why my tomatoes split Comments

     * Home
     * About

                             Why my tomatoes split

   Posted on August 20, 2012 by Mira Lopez

   Heavy rain after a dry spell makes the fruit swell faster than the skin
   can grow, and the skin cracks along the shoulders of the fruit.

   Water evenly and the problem mostly goes away.

3 Responses

    1. on August 21, 2012 at 9:14 am Tobias Wren
       Same here, half my crop cracked after the storm last week.
          + on August 21, 2012 at 10:02 am Mira Lopez
            Try a thick mulch next year, it keeps the soil moisture steady.
    2. on August 23, 2012 at 6:40 pm Ana P.
       Do cherry tomatoes split less? I have only grown the big ones.

Leave a Reply
"""


def test_lynx_dates_before_names_without_avatars_and_nested_plus():
    page = parse_text_dump(LYNX_THREAD)
    assert _triples(page) == [
        ("Tobias Wren", "August 21, 2012 at 9:14 am", "Same here, half my crop cracked after the storm last week."),
        ("Mira Lopez", "August 21, 2012 at 10:02 am", "Try a thick mulch next year, it keeps the soil moisture steady."),
        ("Ana P.", "August 23, 2012 at 6:40 pm", "Do cherry tomatoes split less? I have only grown the big ones."),
    ]
    assert [c.depth for c in page.comments] == [0, 1, 0]
    assert page.title == "Why my tomatoes split"  # not lynx's <link> line, not 'Home'


# lynx puts a comment's heading at the margin, left of its indented stamp; that is no step out
# of the comment
LYNX_TITLED_COMMENTS = """   Article text that is long enough to read as running text, with a full stop.

Comments

   [avatar.jpg]

Great game last night

   What a finish, nobody left their seat until the last out.

   by Ballpark Fan on Aug 8, 2012 5:21 PM PDT reply actions

Bullpen worries

   The late innings still worry me, two blown saves this week.

   by Curve Ball on Aug 8, 2012 5:24 PM PDT up reply actions

Recent Posts
"""


def test_lynx_comment_headings_at_the_margin_keep_their_text():
    page = parse_text_dump(LYNX_TITLED_COMMENTS)
    authors = [c.author for c in page.comments]
    assert authors == ["Ballpark Fan", "Curve Ball"]
    text = " ".join(c.text for c in page.comments)
    assert "What a finish" in text and "two blown saves" in text


# lynx: a name over a deeper-indented text, without bullet or avatar (the <img> had no alt)
LYNX_NAMES = """   The post itself, long enough to be running text that a reader may answer to.

   { 3 comments }

   Gibbo
          Brilliant! I only had a few reservations and you have managed to
          smash them all here. Thanks.

   Robert
          Not seeing the update appear in the installed site yet. Coming later?

        Chris Pearson
                It will show up within the next day, sites check for updates
                once every day.

Leave a Comment
"""


def test_lynx_names_over_deeper_text_without_markers():
    page = parse_text_dump(LYNX_NAMES)
    assert [c.author for c in page.comments] == ["Gibbo", "Robert", "Chris Pearson"]
    assert page.comments[2].text.startswith("It will show up")


# --------------------------------------------------------------------------- html2text

# html2text: link text written with '_' for spaces, headings between runs of '*', lists with
# '*' then 'o', no blank line between paragraphs
HTML2TEXT_THREAD = """    * Home
    * About_us
[logo_ico.png]
****** Why my tomatoes split ******
Posted on August 20, 2012 by Mira_Lopez
Heavy rain after a dry spell makes the fruit swell faster than the skin can
grow, and so on for a long line of text that wraps. See_the_seed_catalogue and
the_watering_guide, the_mulch_page and our_garden_tour for_more_reading.
**** 3 Responses ****
   1. [a.png] Tobias_Wren says:
      August 21, 2012 at 9:14 am
      Same here, half my crop cracked after the storm.
          o Mira_Lopez says:
            August 21, 2012 at 10:02 am
            Try a thick mulch next year.
   2. Ana P. says:
      August_23,_2012_at_6:40_pm
      Do cherry tomatoes split less?
**** Leave a Reply ****
"""


def test_html2text_underscored_links_starred_headings_and_o_bullets():
    page = parse_text_dump(HTML2TEXT_THREAD)
    assert _triples(page) == [
        ("Tobias Wren", "August 21, 2012 at 9:14 am", "Same here, half my crop cracked after the storm."),
        ("Mira Lopez", "August 21, 2012 at 10:02 am", "Try a thick mulch next year."),
        ("Ana P.", "August 23, 2012 at 6:40 pm", "Do cherry tomatoes split less?"),
    ]
    assert [c.depth for c in page.comments] == [0, 1, 0]
    assert page.comment_count_declared == 3
    assert page.title == "Why my tomatoes split"


def test_underscores_stay_where_links_are_not_underscored():
    # a w3m dump: one user name with an underscore is not html2text's link style
    dump = WRAPPED_80.replace("Al Byrne", "al_byrne")
    assert "al_byrne" in [c.author for c in parse_text_dump(dump).comments]


# --------------------------------------------------------------------------- w3m at 80 columns

# at 80 columns a long stamp line wraps; its tail holds only widget words ('Homepage', an id),
# which must not read as a form label closing the section
WRAPPED_80 = """The Nation Is Losing Its Toolbox

Posted by Editor on Tuesday July 24, @07:29AM

A long enough article body to count as running text for the parser, with a full stop.

The Fine Print: The following comments are owned by whoever posted them. We are
not responsible for them in any way.

  • 
    Tools are cheap (Score:2)

    by Jo Marsh (543817) writes: on Tuesday July 24, @08:06AM (#40751967)
    Homepage
   
    Cheap tools broke the habit of mending things, not the other way round.

      □ 
      □ 
        Re: Tools are cheap (Score:3)

        by Al Byrne (636235) writes: on Tuesday July 24, @09:30AM (#
        40752317) Journal
       
        My grandfather mended everything; I buy a new one.

          ☆ 
          ☆ 
            Re: Tools are cheap (Score:1)

            by Kim Ode (109879) writes: on Tuesday July 24, @10:01AM
           
            Both of you miss the point about repair shops closing.

There may be more comments in this discussion.

Copyright 2012 Example Media. Comments owned by the poster.
"""


def test_w3m_80_columns_wrapped_stamp_tails_do_not_close_the_section():
    page = parse_text_dump(WRAPPED_80)
    assert [c.author for c in page.comments] == ["Jo Marsh", "Al Byrne", "Kim Ode"]
    texts = [c.text for c in page.comments]
    assert texts[0].startswith("Cheap tools broke the habit") and "Homepage" not in texts[0]
    assert texts[1].startswith("My grandfather mended everything") and "Journal" not in texts[1]
    assert texts[2].startswith("Both of you miss the point")
    assert page.title == "The Nation Is Losing Its Toolbox"


# --------------------------------------------------------------------------- precision


def test_the_articles_own_byline_is_no_comment():
    dump = """Skip navigation

  • Home
  • World

Market rally fades

By Dana Kerr Published July 23, 2012

NEW YORK (AP) - Shares gave up early gains on Monday as investors weighed the
quarter's earnings against a weak housing report, and bond yields edged lower.

Analysts expect a quiet week ahead of the central bank's meeting.
"""
    page = parse_text_dump(dump)
    assert page.comments == []
    assert page.title == "Market rally fades"
    assert any("Shares gave up" in p for p in page.paragraphs)


def test_a_header_declaring_no_comments_owns_none():
    dump = """A post

Some running text of the post that is long enough to be prose, with a stop.

0 Comments:

Blog Archive

▼ October 2012 (4)
    Four posts this month about the garden and the weather outside today
"""
    assert parse_text_dump(dump).comments == []


# --------------------------------------------------------------------------- titles


@pytest.mark.parametrize("furniture", [
    "[p]", "[sd_hub_ico]", "Home", "Newsletter subscription status\n\n[OK]",
    "Skip to content", "  • Home\n  • About\n  • Contact", "The Everywhereist\n\n[Search]\n\n23\nJuly\n2012",
])
def test_title_skips_placeholders_navigation_and_ui_lines(furniture):
    dump = f"""{furniture}

Nostalgia in Astoria: Antique Stores

Tags: Astoria, Oregon, Shopping

I'm such a sucker for old things, whether grey-haired octogenarians or day-old
pastries. Sure, they are sometimes a bit crustier than you would like them to be.
"""
    assert parse_text_dump(dump).title == "Nostalgia in Astoria: Antique Stores"


def test_title_is_the_headline_over_a_byline_not_the_sites_tagline():
    dump = """The Endeavour

The blog of John Q. Cook

80-20 software

by John on July 22, 2012

The 80-20 rule says that often 80% of your results come from 20% of your
effort. Applied to software, most customers use a small part of the features.
"""
    page = parse_text_dump(dump)
    assert page.title == "80-20 software"
    assert page.published_raw == "July 22, 2012"


def test_title_wrapped_at_the_dump_width_is_joined():
    dump = """Athletics Nation

Not So Much A Pitching Duel; The Home Side Outslugs And Outlasts The Visitors,
Wins The Series

By Sam Writer on Aug 8, 2012

The game went eleven innings and neither starter made it past the fifth, which
nobody in the park had expected before the first pitch was thrown.
"""
    assert parse_text_dump(dump).title == ("Not So Much A Pitching Duel; The Home Side Outslugs And Outlasts "
                                          "The Visitors, Wins The Series")


def test_no_headline_like_line_gives_no_placeholder_title():
    dump = """[p]

[sd_hub_ico]

  • Home
  • Login
"""
    assert parse_text_dump(dump).title is None


# --------------------------------------------------------------------------- real dumpers

SYNTHETIC_HTML = """<html><head><meta charset="utf-8"><title>Why my tomatoes split | Garden Notes</title></head><body>
<ul><li><a href="/">Home</a></li><li><a href="/about">About us</a></li></ul>
<img src="logo_ico.png">
<h1>Why my tomatoes split</h1>
<p>Posted on August 20, 2012 by <a href="/mira">Mira Lopez</a></p>
<p>Heavy rain after a dry spell makes the fruit swell faster than the skin can grow, and the skin
cracks along the shoulders of the fruit where it is thinnest.</p>
<p>Water evenly through the summer and the problem mostly goes away.</p>
<h3>3 Responses</h3>
<ol>
<li><img src="a.png"> <a href="http://t.example">Tobias Wren</a> says:<br>August 21, 2012 at 9:14 am
<p>Same here, half my crop cracked after the storm.</p>
<ul><li><a href="/m">Mira Lopez</a> says:<br>August 21, 2012 at 10:02 am<p>Try a thick mulch next year.</p></li></ul></li>
<li>Ana Perez says:<br>August 23, 2012 at 6:40 pm<p>Do cherry tomatoes split less than the big ones?</p></li>
</ol>
<h3>Leave a Reply</h3>
<form><input name="author"> Name<br><textarea></textarea></form>
</body></html>
"""

DUMPERS = {
    "w3m": ["w3m", "-dump", "-T", "text/html", "-O", "UTF-8"],
    "w3m100": ["w3m", "-dump", "-T", "text/html", "-O", "UTF-8", "-cols", "100"],
    "lynx": ["lynx", "-dump", "-nolist", "-force_html", "-assume_charset=utf-8", "-display_charset=utf-8"],
    "html2text": ["html2text", "-nometa", "-utf8"],
}


@pytest.mark.parametrize("dumper", list(DUMPERS))
def test_synthetic_page_through_each_installed_dumper(dumper, tmp_path):
    cmd = DUMPERS[dumper]
    if shutil.which(cmd[0]) is None:
        pytest.skip(f"{cmd[0]} not installed")
    src = tmp_path / "page.html"
    src.write_text(SYNTHETIC_HTML, encoding="utf-8")
    env = {"HOME": str(tmp_path), "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "PATH": "/usr/bin:/bin"}
    dump = subprocess.run([*cmd, str(src)], capture_output=True, check=True, env=env,
                          stdin=subprocess.DEVNULL).stdout.decode("utf-8")
    page = parse_text_dump(dump)
    assert page.title == "Why my tomatoes split"
    assert [(c.author, c.posted_raw) for c in page.comments] == [
        ("Tobias Wren", "August 21, 2012 at 9:14 am"),
        ("Mira Lopez", "August 21, 2012 at 10:02 am"),
        ("Ana Perez", "August 23, 2012 at 6:40 pm"),
    ]
    assert [c.text for c in page.comments] == [
        "Same here, half my crop cracked after the storm.",
        "Try a thick mulch next year.",
        "Do cherry tomatoes split less than the big ones?",
    ]
    assert page.published_raw == "August 20, 2012"


# --------------------------------------------------------------------------- names without a header

# a static comment export: bulleted names (a site link before some) over indented text, no
# header and no dates
NAMES_NO_HEADER = """A short post

The post itself runs long enough to be the article, and ends with a full stop.

  • http://www.example.org/ Nora Quill
   
    So true! People cannot get enough of it. The power of pictures is real.

  • Pat Ruiz
   
    I love the graphics too. We use it for our bottle project every week.

  • Nora Quill
   
    Same here. It makes everyone look like a good photographer.
"""


def test_bulleted_names_over_sentences_without_header_or_dates():
    page = parse_text_dump(NAMES_NO_HEADER)
    assert [c.author for c in page.comments] == ["Nora Quill", "Pat Ruiz", "Nora Quill"]
    assert page.comments[1].text == "I love the graphics too. We use it for our bottle project every week."


def test_sidebar_widgets_with_the_same_layout_are_no_comments():
    sidebar = """A short post

The post itself runs long enough to be the article, and ends with a full stop.

  • Recommended Reading

    Our annual list of the best sites about gardens on the Internet today.

  • News from elsewhere

      □ Growers expect a record harvest this year
      □ Rain returns to the valley

  • Garden Tours

    Take a walk through a walled garden, and enjoy lunch on the terrace.

  • Weekly podcast

    A weekly podcast about gardens, hosted by two gardeners. New episodes on Friday.
"""
    assert parse_text_dump(sidebar).comments == []


def test_a_reply_reference_repeating_the_parents_stamp_is_text_not_a_comment():
    dump = """An opinion piece

Running text of the piece, long enough to be an article body, with a full stop.

3 comments

  • [60x60] Ann Lee

    1 November 2012 9:59PM

    Nothing will change after the election, whoever wins it.

  • [60x60] Ben Cho

    1 November 2012 10:22PM

    Response to Ann Lee, 1 November 2012 9:59PM

    Plenty will change, starting with the budget.

  • [60x60] Cy Dunn

    1 November 2012 10:40PM

    Both of you are guessing.
"""
    page = parse_text_dump(dump)
    assert [c.author for c in page.comments] == ["Ann Lee", "Ben Cho", "Cy Dunn"]
    assert page.comments[1].text.endswith("Plenty will change, starting with the budget.")


def test_a_sentence_in_sentence_case_above_the_body_is_no_headline():
    dump = """The Everywhereist

Nostalgia in Astoria: Antique Stores and The Goonies

Tags: Astoria, Oregon, Shopping

Posted in:

  • City Guide » Shopping

Comments:8

[7179165271_46f3f978db]

View of Astoria from the hotel window.

I have always been such a sucker for old things.

Whether it be grey-haired octogenarians or day-old pastries, I find myself smitten. Sure, they
are sometimes a bit crustier than you would like them to be, and you think of them when fresh.
"""
    assert parse_text_dump(dump).title == "Nostalgia in Astoria: Antique Stores and The Goonies"
