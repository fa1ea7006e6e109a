"""One small made-up dump per comment layout the text-dump parser must read.

Every page here is synthetic (invented names and text) in the shape ``w3m -dump``
gives real pages of that family; none is copied from any data set.
"""
from __future__ import annotations

from newsmill.extract.textdump import parse_text_dump


def _parse(text: str):
    return parse_text_dump(text)


def _triples(page):
    return [(c.author, c.posted_raw, c.text) for c in page.comments]


WORDPRESS_SAYS = """Garden Notes – a blog about small gardens

Why my tomatoes split this summer

Posted on August 20, 2012 by Mira

Heavy rain after a dry spell makes the fruit swell faster than the skin can grow.

Water evenly and the problem mostly goes away.

Filed under Vegetables | Leave a comment

3 Responses to “Why my tomatoes split this summer”

 1. [a1b2c] Tobias Wren says:
    August 21, 2012 at 9:14 am

    Same here, half my crop cracked after the storm.

    Reply
      □ [d3e4f] Mira says:
        August 21, 2012 at 10:02 am

        Try a thick mulch next year, it keeps the soil moisture steady.

        Reply
 2. [0f9e8] Ana P. says:
    August 23, 2012 at 6:40 pm

    Do cherry tomatoes split less?
    I have only grown the big ones.

    Reply

Leave a Reply

Your email address will not be published. Required fields are marked *

[                              ] Name *

[                              ] Email *

Recent Posts

  • Planting garlic in autumn
"""


def test_wordpress_says_numbered_with_nested_reply():
    page = _parse(WORDPRESS_SAYS)
    assert _triples(page) == [
        ("Tobias Wren", "August 21, 2012 at 9:14 am", "Same here, half my crop cracked after the storm."),
        ("Mira", "August 21, 2012 at 10:02 am", "Try a thick mulch next year, it keeps the soil moisture steady."),
        ("Ana P.", "August 23, 2012 at 6:40 pm", "Do cherry tomatoes split less?\nI have only grown the big ones."),
    ]
    assert [c.depth for c in page.comments] == [0, 1, 0]
    assert [c.parent_index for c in page.comments] == [None, 0, None]
    assert page.comment_count_declared == 3
    assert page.published_raw == "August 20, 2012"  # the article's date, not the first comment's


BY_ON_AFTER_BODY = """Startup Diary

Should founders travel this much?

I spent 40% of last year on the road. Here is what it cost the company.

Tweet

4 comments

[9c01aa]

Travel is fine as long as the team knows who decides when you are away.

by Greta Holm on December 30, 2010 at 12:10 am. Reply #

[77b2c3]

Measure it. If the numbers hold up, keep going.

Otherwise cut the conferences first.

by Omar on December 30, 2010 at 12:23 am. Reply #

[12ab34]

Agreed with both of you.

by Li Wen on January 2, 2011 at 8:05 pm. Reply #

Leave a comment

          Name
                         [                      ]
"""


def test_by_author_on_date_after_the_body():
    page = _parse(BY_ON_AFTER_BODY)
    assert _triples(page) == [
        ("Greta Holm", "December 30, 2010 at 12:10 am.",
         "Travel is fine as long as the team knows who decides when you are away."),
        ("Omar", "December 30, 2010 at 12:23 am.",
         "Measure it. If the numbers hold up, keep going.\n\nOtherwise cut the conferences first."),
        ("Li Wen", "January 2, 2011 at 8:05 pm.", "Agreed with both of you."),
    ]


TYPEPAD_FOOTER = """Thinking Aloud

A new test for an old puzzle

Posted by Ruth Amsel on Sunday, October 28, 2012 at 06:18 PM in Logic | Permalink

The puzzle is older than most of its solutions. I report three small experiments.

Comments

Pavel Dunn

Very neat result!

Posted by: Pavel Dunn | Sunday, October 28, 2012 at 09:48 PM

Ines Calder

Nice. Did you try it with children?

Posted by: Ines Calder | Monday, October 29, 2012 at 11:25 AM

Verify your Comment

Previewing your Comment

Posted by:  |

This is only a preview. Your comment has not yet been posted.
"""


def test_typepad_posted_by_after_the_body():
    page = _parse(TYPEPAD_FOOTER)
    assert _triples(page) == [
        ("Pavel Dunn", "Sunday, October 28, 2012 at 09:48 PM", "Very neat result!"),
        ("Ines Calder", "Monday, October 29, 2012 at 11:25 AM", "Nice. Did you try it with children?"),
    ]


BLOGGER = """little notebook

Monday, September 10, 2012

back again

After a long break I am writing here again. Thank you for waiting.

Posted by Pia at 4:02 AM

5 comments:

[bla] [pro]
Kit Marlow  said...
   
    So happy to see you back!

    September 10, 2012 4:45 AM [icon_delet]
[bla] [xyz]
Anonymous  said...
   
    Missed your posts.
    Take care of yourself.

    September 11, 2012 6:14 AM [icon_delet]

Post a Comment

Newer Post Older Post Home
Subscribe to: Post Comments (Atom)
"""


def test_blogger_said_with_time_after_the_body():
    page = _parse(BLOGGER)
    assert _triples(page) == [
        ("Kit Marlow", "September 10, 2012 4:45 AM", "So happy to see you back!"),
        ("Anonymous", "September 11, 2012 6:14 AM", "Missed your posts.\nTake care of yourself."),
    ]


DRUPAL = """Opinion

What the vote told us

Thursday, 8 November 2012

The margin was narrow but the map was not.

2 comments

Hal Brenner's picture

Fri, 2012-11-09 18:05 — Hal Brenner (not verified)

I disagree with the conclusion.
Turnout explains most of it.

  • reply

Suki Tan's picture

Fri, 2012-11-09 16:55 — Suki Tan (not verified)

Good piece, thanks.

  • reply

Post new comment

Your name: * [Visitor                 ]
"""


def test_drupal_author_after_date():
    page = _parse(DRUPAL)
    assert _triples(page) == [
        ("Hal Brenner", "Fri, 2012-11-09 18:05", "I disagree with the conclusion.\nTurnout explains most of it."),
        ("Suki Tan", "Fri, 2012-11-09 16:55", "Good piece, thanks."),
    ]


THREADED = """The Long Road

Notes from the ferry

Published: March 2, 2012

We crossed at dawn. The sea was flat and grey.

Comments (4)

  • Nell
    March 2, 2012 at 8:01 pm

    Lovely piece.

      □ Arno
        March 3, 2012 at 7:12 am

        Agreed, very calm writing.

          ☆ Nell
            March 3, 2012 at 9:30 am

            Thanks Arno!

  • Dov
    March 4, 2012 at 1:00 pm

    Which ferry was it?

Leave a Reply
"""


def test_threaded_bullets_give_depth_and_parent():
    page = _parse(THREADED)
    assert [(c.author, c.posted_raw) for c in page.comments] == [
        ("Nell", "March 2, 2012 at 8:01 pm"), ("Arno", "March 3, 2012 at 7:12 am"),
        ("Nell", "March 3, 2012 at 9:30 am"), ("Dov", "March 4, 2012 at 1:00 pm"),
    ]
    assert [c.text for c in page.comments] == ["Lovely piece.", "Agreed, very calm writing.", "Thanks Arno!",
                                               "Which ferry was it?"]
    assert [c.depth for c in page.comments] == [0, 1, 2, 0]
    assert [c.parent_index for c in page.comments] == [None, 0, 1, None]
    assert page.comment_count_declared == 4


HEADERLESS = """Bits and Bytes

A faster way to sort small arrays

2012-10-16 by Sam Ortega

Insertion sort beats the general algorithms below about sixteen elements, and the reason is the
cache, not the operation count.

Posted in Algorithms | 3 Comments

 1. on 2012-10-16 at 8:03 am [6aea6] Ivo
   
    Nice write-up, I measured the same on my laptop.

 2. on 2012-10-16 at 8:11 am [e896e] Ruth K
   
    What about sorting networks for the tiny cases?
    They avoid branches entirely.

 3. on 2012-10-17 at 7:09 pm [77aa1] Paz
   
    Thanks, this settles an argument at work.

Comments RSS

Leave a Reply Cancel reply
"""


def test_page_without_a_header_line():
    page = _parse(HEADERLESS)
    assert _triples(page) == [
        ("Ivo", "2012-10-16 at 8:03 am", "Nice write-up, I measured the same on my laptop."),
        ("Ruth K", "2012-10-16 at 8:11 am", "What about sorting networks for the tiny cases?\nThey avoid branches entirely."),
        ("Paz", "2012-10-17 at 7:09 pm", "Thanks, this settles an argument at work."),
    ]


SIDEBARS = """City Desk

Bridge repairs to close the river road

By Lena Ford
Published: June 5, 2012

The road will be closed for six weeks from Monday.

Comments

Moe Hart says:
June 5, 2012 at 2:10 pm

Six weeks is optimistic.

Jana says:
June 5, 2012 at 3:45 pm

Finally! The potholes are a danger.

Leave a Reply

Recent Comments

  • Moe Hart on Bridge repairs to close the river road
  • Jana on Parking fees go up again
  • Petra L. on Library opens on Sundays

Most discussed

247 comments
Parking fees go up again
June 1, 2012

120 comments
Library opens on Sundays
May 28, 2012
"""


def test_recent_comments_sidebar_and_sidebar_count_header_are_ignored():
    page = _parse(SIDEBARS)
    assert _triples(page) == [
        ("Moe Hart", "June 5, 2012 at 2:10 pm", "Six weeks is optimistic."),
        ("Jana", "June 5, 2012 at 3:45 pm", "Finally! The potholes are a danger."),
    ]
    assert page.published_raw == "June 5, 2012"


GERMAN = """Stadtleben

Neue Radwege für die Innenstadt

Veröffentlicht: 12. März 2012

Die Stadt baut bis zum Sommer drei neue Radwege.

3 Kommentare

  • Jörg Bauer schrieb am 12. März 2012 um 14:05
    Endlich! Das wurde auch Zeit.
    Antworten
  • Anne Krüger schrieb am 13. März 2012 um 09:30
    Und wer bezahlt das alles?
    Antworten
  • Lutz schrieb am 13. März 2012 um 11:12
    Die Kreuzung am Markt bleibt trotzdem gefährlich.
    Antworten

Kommentar schreiben
"""


def test_german_page():
    page = _parse(GERMAN)
    assert _triples(page) == [
        ("Jörg Bauer", "12. März 2012 um 14:05", "Endlich! Das wurde auch Zeit."),
        ("Anne Krüger", "13. März 2012 um 09:30", "Und wer bezahlt das alles?"),
        ("Lutz", "13. März 2012 um 11:12", "Die Kreuzung am Markt bleibt trotzdem gefährlich."),
    ]
    assert page.comment_count_declared == 3


FRENCH_RELATIVE = """Le Carnet

Le marché du dimanche

Publié le 4 novembre 2012

Le marché a rouvert sous la halle rénovée.

Commentaires (2)

Lucie D.
il y a 3 heures
Enfin une bonne nouvelle pour le quartier.
Répondre

Marc
il y a 15 minutes
Les prix ont augmenté, hélas.
Répondre

Laisser un commentaire
"""


def test_french_page_with_relative_times():
    page = _parse(FRENCH_RELATIVE)
    assert _triples(page) == [
        ("Lucie D.", "il y a 3 heures", "Enfin une bonne nouvelle pour le quartier."),
        ("Marc", "il y a 15 minutes", "Les prix ont augmenté, hélas."),
    ]


NO_COMMENTS = """Morning Herald

Harbour authority approves new pier

By Tom Reyes
Published: April 2, 2012

The harbour authority approved the new pier on Monday after two years of debate.

Construction starts in the autumn.

Related articles

Fishing quotas cut again
March 28, 2012

Harbour fees to rise
March 12, 2012

Ferry timetable changes
February 27, 2012

Most Read

  • Council elections

    The results from every ward, with turnout and the new council seats.

  • Weather

    Storms are expected along the coast on Thursday and Friday this week.
"""


def test_page_without_comments_gives_none():
    page = _parse(NO_COMMENTS)
    assert page.comments == []
    assert page.published_raw == "April 2, 2012"
    assert page.paragraphs[0].startswith("The harbour authority approved")


SLASHCODE = """Tech News

Admins swap war stories

Posted by editor on Monday July 23, @08:23PM

Readers share the strangest outages they have fixed.

The Fine Print: The following comments are owned by whoever posted them.

  • 
    Power strip (Score:5, Funny)

    by lampwick (12345) writes: on Monday July 23, @08:25PM (#40743959)
    The cleaner unplugged the server to charge a phone.
    Reply to This Share
      □ 
        Re:Power strip (Score:3)

        by quietfox (67890) writes:
       
        Classic. Label every plug.

There may be more comments in this discussion.

Copyright © 2012 Tech News. Comments owned by the poster.
"""


def test_yearless_stamps_and_dateless_writes_lines():
    """Slashcode prints no year on stamps, and none at all on some replies (the page's year is used)."""
    page = _parse(SLASHCODE)
    assert [(c.author, c.posted_raw) for c in page.comments] == [
        ("lampwick", "Monday July 23, @08:25PM"), ("quietfox", None)]
    assert page.comments[0].text.startswith("The cleaner unplugged the server to charge a phone.")
    assert page.comments[1].text == "Classic. Label every plug."
