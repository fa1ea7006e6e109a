"""Choosing the title among the page's statements of it: what the page shows as its heading wins.

Small synthetic pages: a JSON-LD headline, ``og:title`` and the visible headings disagree in the
ways news pages make them disagree (an SEO headline, a teaser, a kicker, a breadcrumb ``<h1>``).
"""
from __future__ import annotations

import json

from newsmill.extract.html import extract_html
from newsmill.extract.html.titles import Heading, shown, text

URL = "https://www.herald.example/politics/council-budget-1234"
_BODY = ("<p>The city council voted on Tuesday evening to approve the budget for next year, ending a dispute that "
         "had lasted for months and divided the coalition.</p><p>The opposition had argued that the money would be "
         "better spent on schools, but the final vote was eleven to four in favour of the plan.</p>")


def _page(head: str = "", body: str = "", headline: str | None = None) -> str:
    ld = ""
    if headline is not None:
        ld = ('<script type="application/ld+json">'
              + json.dumps({"@context": "https://schema.org", "@type": "NewsArticle", "headline": headline})
              + "</script>")
    return (f"<!DOCTYPE html><html lang='en'><head><title>Herald</title>{ld}{head}</head>"
            f"<body>{body}</body></html>")


def _og(title: str) -> str:
    return f'<meta property="og:title" content="{title}"><meta property="og:site_name" content="The Herald">'


def _crumbs(last: str) -> str:
    return (f"<nav class='site-breadcrumbs'><ol><li><a href='/'>Home</a></li><li><a href='/politics'>Politics</a></li>"
            f"<li><h1>{last}</h1></li></ol></nav>")


def test_the_statement_the_heading_shows_wins_over_an_seo_headline():
    # JSON-LD carries a search-engine wording; og:title is what the <h1> over the article says
    html = _page(_og("Council backs budget after long row"),
                 f"<article><header><h1>Council backs budget after long row</h1></header>{_BODY}</article>",
                 headline="City council approves 2025 budget: what changes for residents")
    assert extract_html(html, url=URL).title == "Council backs budget after long row"


def test_a_breadcrumb_h1_is_not_the_heading():
    # the <h1> is the breadcrumb trail's last item (SEO title, also in og:title); the article's
    # heading is an <h2> that repeats the JSON-LD headline
    html = _page(_og("Budget 2025: council approves spending plan"),
                 _crumbs("Budget 2025: council approves spending plan")
                 + f"<article><hgroup><h2>Eleven votes to four: the budget passes</h2></hgroup>{_BODY}</article>",
                 headline="Eleven votes to four: the budget passes")
    assert extract_html(html, url=URL).title == "Eleven votes to four: the budget passes"


def test_a_kicker_element_is_not_part_of_the_headline():
    # JSON-LD glues the kicker to the headline; the heading shows them as two elements, og:title
    # states the headline alone
    html = _page(_og("Eleven votes to four: the budget passes"),
                 _crumbs("Town hall: Eleven votes to four: the budget passes")
                 + "<article><h2><span class='kicker'>Town hall</span> <span class='headline'>Eleven votes to four: "
                 f"the budget passes</span></h2>{_BODY}</article>",
                 headline="Town hall: Eleven votes to four: the budget passes")
    assert extract_html(html, url=URL).title == "Eleven votes to four: the budget passes"


def test_kicker_and_headline_stated_together_match_the_whole_heading():
    # no statement is the headline alone; the one with the heading's kicker and headline is taken,
    # not the JSON-LD wording that the page shows nowhere
    html = _page(_og("Town hall: Eleven votes to four, the budget passes"),
                 "<article><h2><span>Town hall</span><span>Eleven votes to four, the budget passes</span></h2>"
                 f"{_BODY}</article>",
                 headline="Council approves budget for 2025")
    assert extract_html(html, url=URL).title == "Town hall: Eleven votes to four, the budget passes"


def test_without_a_heading_that_repeats_a_statement_the_ranking_decides():
    html = _page(_og("A teaser for social media"), f"<article><h1>Something else entirely</h1>{_BODY}</article>",
                 headline="Council approves budget for 2025")
    assert extract_html(html, url=URL).title == "Council approves budget for 2025"


def test_a_heading_in_a_sidebar_or_footer_does_not_decide():
    html = _page(_og("A teaser for social media"),
                 f"<article><p>Intro</p>{_BODY}</article><aside><h2>A teaser for social media</h2></aside>"
                 "<footer><h2>A teaser for social media</h2></footer>",
                 headline="Council approves budget for 2025")
    assert extract_html(html, url=URL).title == "Council approves budget for 2025"


def test_a_glued_suffix_goes_when_another_statement_ends_there():
    # og:title has a section and the site glued on without spaces; a meta 'headline' (a statement of
    # its own) ends where the glue starts
    html = _page('<meta property="og:title" content="Council approves budget-Politics·Herald">'
                 '<meta name="headline" content="Council approves budget">'
                 '<meta property="og:site_name" content="Herald">',
                 f"<article>{_BODY}</article>")
    assert extract_html(html, url=URL).title == "Council approves budget"


def test_shown_prefers_the_headline_element_to_kicker_and_headline_glued():
    heading = Heading("Town hall Eleven votes to four", ("Town hall", "Eleven votes to four"))
    assert shown(["Town hall: Eleven votes to four", "Eleven votes to four"], [heading]) == "Eleven votes to four"
    assert shown(["Town hall: Eleven votes to four", "Other"], [heading]) == "Town hall: Eleven votes to four"
    assert shown(["Other", "Another"], [heading]) is None
    # a label element ('Live') is no headline, even when a statement says only that
    assert shown(["Live", "Council votes"], [Heading("Live Council votes on the budget", ("Live", "Council votes on the budget"))]) is None
    # the quotation marks' style and case do not matter, the order of headings does
    first, second = Heading("The ‘best’ budget"), Heading("Another headline")
    assert shown(["Another headline", "The 'best' budget"], [first, second]) == "The 'best' budget"


def test_a_closing_guillemet_is_kept_a_breadcrumb_arrow_is_not():
    assert text("Binet warns of the « gravity of the situation »") == "Binet warns of the « gravity of the situation »"
    assert text("Die Lage ist »ernst«") == "Die Lage ist »ernst«"
    assert text("» Politics") == "Politics"
    assert text("Politics »") == "Politics"
