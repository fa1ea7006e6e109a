"""HTML extraction on small synthetic pages: one per comment layer and common system."""
from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from newsmill.extract.dates import find_date
from newsmill.extract.html import extract_html
from newsmill.text import tokens
from tests.conftest import article_page as page

def body_of(raw) -> str:
    return " ".join(tokens("\n".join(raw.paragraphs)))


def assert_not_in_body(raw) -> None:
    body = body_of(raw)
    assert "riverside park" in body  # the article is there
    for c in raw.comments:
        assert " ".join(tokens(c.text)) not in body, c.text


WORDPRESS = """
<h3 id="comments">3 Responses to "Riverside park"</h3>
<ol class="commentlist">
  <li class="comment even thread-even depth-1" id="li-comment-11">
    <div id="comment-11">
      <div class="comment-author vcard"><img class="avatar" src="a.png"/>
        <cite class="fn"><a href="http://jo.example" class="url">Jo Smith</a></cite> <span class="says">says:</span></div>
      <div class="comment-meta commentmetadata"><a href="#comment-11">March 12, 2012 at 2:30 pm</a></div>
      <p>Finally some good news for the east side.</p>
      <p>My kids will love it.</p>
      <div class="reply"><a class="comment-reply-link" href="#">Reply</a></div>
    </div>
    <ul class="children">
      <li class="comment odd alt depth-2" id="li-comment-12">
        <div id="comment-12">
          <div class="comment-author vcard"><cite class="fn">Max</cite> <span class="says">says:</span></div>
          <div class="comment-meta commentmetadata"><a href="#comment-12">March 12, 2012 at 3:05 pm</a></div>
          <p>Agreed, it has taken far too long.</p>
          <div class="reply"><a class="comment-reply-link" href="#">Reply</a></div>
        </div>
      </li>
    </ul>
  </li>
  <li class="comment even thread-odd depth-1" id="li-comment-13">
    <div id="comment-13">
      <div class="comment-author vcard"><cite class="fn">Ann Lee</cite></div>
      <div class="comment-meta commentmetadata"><a href="#comment-13"><time datetime="2012-03-13T08:00:00+01:00">March 13, 2012 at 8:00 am</time></a></div>
      <div class="comment-content"><p>Road repairs matter more.</p></div>
      <div class="reply"><a class="comment-reply-link" href="#">Reply</a> <a href="#">Report</a></div>
    </div>
  </li>
</ol>
<div id="respond"><h3>Leave a Reply</h3><form><textarea name="comment"></textarea></form></div>
"""


def test_wordpress_threaded_list():
    raw = extract_html(page(WORDPRESS), url="http://news.example.com/2012/03/park")
    got = [(c.author, c.posted_raw, c.text, c.depth, c.parent_index) for c in raw.comments]
    assert got == [
        ("Jo Smith", "March 12, 2012 at 2:30 pm", "Finally some good news for the east side.\n\nMy kids will love it.", 0, None),
        ("Max", "March 12, 2012 at 3:05 pm", "Agreed, it has taken far too long.", 1, 0),
        ("Ann Lee", "2012-03-13T08:00:00+01:00", "Road repairs matter more.", 0, None),
    ]
    assert raw.extractor == "html+system:wordpress"
    assert raw.title == "Council approves the new riverside park" or raw.title == "Riverside park"
    assert_not_in_body(raw)


JSONLD = {
    "@context": "https://schema.org", "@type": "NewsArticle", "headline": "Council approves the new riverside park",
    "datePublished": "2012-03-12T09:15:00-05:00", "author": [{"@type": "Person", "name": "Dana Reporter"}, {"@type": "Person", "name": "Lee Writer"}],
    "articleSection": "Local", "inLanguage": "en-US", "url": "http://news.example.com/park",
    "commentCount": 3,
    "comment": [
        {"@type": "Comment", "@id": "#c1", "author": {"@type": "Person", "name": "Pat"}, "dateCreated": "2012-03-12T10:00:00-05:00",
         "text": "Great decision by the council.", "upvoteCount": 7},
        {"@type": "Comment", "@id": "#c2", "author": "Sam", "dateCreated": "2012-03-12T11:30:00-05:00",
         "text": "It will cost too much.\n\nWait and see.", "parentItem": {"@id": "#c1"}},
        {"@type": "Comment", "@id": "#c3", "author": {"@type": "Person", "name": "Kim"}, "dateCreated": "2012-03-12T12:00:00-05:00",
         "text": "Both of you have a point.", "parentItem": {"@id": "#c2"},
         "interactionStatistic": {"@type": "InteractionCounter", "interactionType": "https://schema.org/LikeAction", "userInteractionCount": 2}},
    ],
}


def test_jsonld_comments_with_parent_item_and_metadata():
    head = f'<script type="application/ld+json">{json.dumps(JSONLD)}</script>'
    raw = extract_html(page("", head=head))
    got = [(c.author, c.posted_raw, c.text, c.depth, c.parent_index, c.likes) for c in raw.comments]
    assert got == [
        ("Pat", "2012-03-12T10:00:00-05:00", "Great decision by the council.", 0, None, 7),
        ("Sam", "2012-03-12T11:30:00-05:00", "It will cost too much.\n\nWait and see.", 1, 0, None),
        ("Kim", "2012-03-12T12:00:00-05:00", "Both of you have a point.", 2, 1, 2),
    ]
    assert raw.authors == ["Dana Reporter", "Lee Writer"]
    assert raw.published_raw == "2012-03-12T09:15:00-05:00"
    assert find_date(raw.published_raw).to_utc("UTC") == datetime(2012, 3, 12, 14, 15, tzinfo=timezone.utc)
    assert raw.section == "Local"
    assert raw.language == "en-US"
    assert raw.comment_count_declared == 3
    assert raw.extractor == "html+jsonld"


MICRODATA = """
<section class="user-comments">
 <div itemscope itemtype="http://schema.org/Comment" class="c">
   <span itemprop="author" itemscope itemtype="http://schema.org/Person"><span itemprop="name">Robin</span></span>
   <time itemprop="dateCreated" datetime="2012-03-14T09:00:00+00:00">14 March 2012</time>
   <div itemprop="text"><p>Parks are good for everyone.</p></div>
   <meta itemprop="upvoteCount" content="4">
   <div itemscope itemtype="http://schema.org/Comment" itemprop="comment" class="c reply">
     <span itemprop="author">Chris</span>
     <time itemprop="dateCreated" datetime="2012-03-14T10:15:00+00:00">14 March 2012</time>
     <div itemprop="text"><p>Not the ones with no lights.</p></div>
     <a href="#" class="reply">Reply</a>
   </div>
 </div>
</section>
"""


def test_microdata_comments_nested():
    raw = extract_html(page(MICRODATA))
    got = [(c.author, c.posted_raw, c.text, c.depth, c.parent_index, c.likes) for c in raw.comments]
    assert got == [
        ("Robin", "2012-03-14T09:00:00+00:00", "Parks are good for everyone.", 0, None, 4),
        ("Chris", "2012-03-14T10:15:00+00:00", "Not the ones with no lights.", 1, 0, None),
    ]
    assert raw.extractor == "html+microdata"
    assert_not_in_body(raw)


DISQUS = """
<div id="disqus_thread"><div id="dsq-content"><ul id="dsq-comments">
  <li class="comment depth-1" id="dsq-comment-1">
    <div class="dsq-comment-header"><cite><span>artsy</span></cite></div>
    <div class="dsq-comment-body"><div class="dsq-comment-message"><p>Lovely plan, about time.</p></div></div>
  </li>
  <li class="comment depth-2" id="dsq-comment-2">
    <div class="dsq-comment-header"><cite><span>john_b</span></cite></div>
    <div class="dsq-comment-body"><div class="dsq-comment-message"><p>Thanks for the kind words!</p></div></div>
  </li>
  <li class="comment depth-1" id="dsq-comment-3">
    <div class="dsq-comment-header"><cite><span>critic</span></cite></div>
    <div class="dsq-comment-body"><div class="dsq-comment-message"><p>Too expensive in my view.</p></div></div>
  </li>
</ul></div></div>
"""


def test_disqus_static_flat_list_with_depth_classes():
    raw = extract_html(page(DISQUS))
    got = [(c.author, c.posted_raw, c.text, c.depth, c.parent_index) for c in raw.comments]
    assert got == [
        ("artsy", None, "Lovely plan, about time.", 0, None),
        ("john_b", None, "Thanks for the kind words!", 1, 0),
        ("critic", None, "Too expensive in my view.", 0, None),
    ]
    assert raw.extractor == "html+system:disqus"
    assert_not_in_body(raw)


DRUPAL = """
<div id="comments">
  <h2 class="comments-title">Comments</h2>
  <a id="comment-501"></a>
  <div class="comment comment-by-anonymous clearfix">
    <div class="submitted">Submitted by <span class="username">Taylor (not verified)</span> on Tue, 03/13/2012 - 18:05</div>
    <div class="content"><div class="field-name-comment-body"><p>Will there be a playground?</p></div></div>
    <ul class="links"><li><a href="#">reply</a></li></ul>
  </div>
  <div class="indented">
    <a id="comment-502"></a>
    <div class="comment clearfix">
      <div class="submitted">Submitted by <span class="username">parksdept</span> on Tue, 03/13/2012 - 19:40</div>
      <div class="content"><div class="field-name-comment-body"><p>Yes, near the north entrance.</p></div></div>
      <ul class="links"><li><a href="#">reply</a></li></ul>
    </div>
  </div>
</div>
"""


def test_drupal_comments_with_indented_reply():
    raw = extract_html(page(DRUPAL))
    got = [(c.author, c.posted_raw, c.text, c.depth, c.parent_index) for c in raw.comments]
    assert got == [
        ("Taylor", "Tue, 03/13/2012 - 18:05", "Will there be a playground?", 0, None),  # '(not verified)' is not the name
        ("parksdept", "Tue, 03/13/2012 - 19:40", "Yes, near the north entrance.", 1, 0),
    ]
    assert raw.extractor == "html+system:drupal"
    assert_not_in_body(raw)


GENERIC = """
<div class="talk">
  <h4>What readers say</h4>
  <div class="entry-x">
    <div class="who"><b>Morgan</b> &middot; 15.03.2012, 09:12</div>
    <div class="what"><p>Good to hear the vote went through.</p></div>
  </div>
  <div class="entry-x">
    <div class="who"><b>Alex P.</b> &middot; 15.03.2012, 10:47</div>
    <div class="what"><p>I doubt it opens on time.</p><p>It never does.</p></div>
  </div>
  <div class="entry-x">
    <div class="who"><b>Ruth</b> &middot; 16.03.2012, 07:01</div>
    <div class="what"><p>The east side deserves this park.</p></div>
  </div>
</div>
"""


def test_generic_repeated_dated_blocks():
    raw = extract_html(page(GENERIC))
    got = [(c.author, c.posted_raw, c.text, c.depth) for c in raw.comments]
    assert got == [
        ("Morgan", "15.03.2012, 09:12", "Good to hear the vote went through.", 0),
        ("Alex P.", "15.03.2012, 10:47", "I doubt it opens on time.\n\nIt never does.", 0),
        ("Ruth", "16.03.2012, 07:01", "The east side deserves this park.", 0),
    ]
    assert raw.extractor == "html+generic"
    assert_not_in_body(raw)


def test_page_without_comments():
    raw = extract_html(page("<p>Comments are closed.</p>"))
    assert raw.comments == []
    assert raw.extractor == "html"
    assert "riverside park" in body_of(raw)


GERMAN = """
<div class="kommentare">
  <div class="kommentar">
    <div class="kopf"><span class="name">Klaus M.</span> <span class="zeit">vor 3 Stunden</span></div>
    <div class="inhalt"><p>Endlich ein Park für alle Familien.</p></div>
  </div>
  <div class="kommentar">
    <div class="kopf"><span class="name">Sabine</span> <span class="zeit">12. März 2012 um 14:30</span></div>
    <div class="inhalt"><p>Das hat viel zu lange gedauert.</p><p>Trotzdem gut.</p></div>
  </div>
</div>
"""


def test_german_relative_and_absolute_times():
    from newsmill.clean import CleanContext, clean_page
    from newsmill.profiles import default_profile
    from newsmill.records import PageInput

    captured = datetime(2012, 3, 12, 18, 0, tzinfo=timezone.utc)
    html = page(GERMAN, lang="de")
    raw = extract_html(html, captured_at=captured)
    got = [(c.author, c.posted_raw, c.text) for c in raw.comments]
    assert got == [
        ("Klaus M.", "vor 3 Stunden", "Endlich ein Park für alle Familien."),  # exactly what the page shows
        ("Sabine", "12. März 2012 um 14:30", "Das hat viel zu lange gedauert.\n\nTrotzdem gut."),
    ]
    assert raw.language == "de"
    # clean resolves the relative time against the capture time, the absolute one in the site's zone
    pin = PageInput(uri="x", data=html.encode(), sha256="0" * 64, format="html", captured_at=captured)
    _, rows = clean_page(raw, pin, default_profile(), CleanContext(b"k", captured, "t"))
    assert rows[0]["posted_at"] == datetime(2012, 3, 12, 15, 0, tzinfo=timezone.utc)
    assert rows[1]["posted_at"] == datetime(2012, 3, 12, 14, 30, tzinfo=timezone.utc)  # unknown site: UTC
    # without a capture time the relative string stays unresolved
    _, rows = clean_page(raw, PageInput(uri="x", data=b"", sha256="0" * 64, format="html"), default_profile(),
                         CleanContext(b"k", captured, "t"))
    assert rows[0]["posted_at"] is None and "time_unparsed" in rows[0]["flags"]
    assert_not_in_body(raw)


BLOGGER_CLASSIC = """
<div class="comments" id="comments"><h4>2 comments:</h4>
<dl id="comments-block">
  <dt class="comment-author" id="c1"><a name="c1"></a><a href="http://www.blogger.com/profile/1" rel="nofollow">Mia</a> said...</dt>
  <dd class="comment-body"><p>Such a pretty spot by the water.</p></dd>
  <dd class="comment-footer"><span class="comment-timestamp"><a href="#c1" title="comment permalink">March 12, 2012 4:45 AM</a></span></dd>
  <dt class="comment-author" id="c2"><a name="c2"></a>Anonymous said...</dt>
  <dd class="comment-body"><p>Will dogs be allowed?</p></dd>
  <dd class="comment-footer"><span class="comment-timestamp"><a href="#c2" title="comment permalink">March 12, 2012 6:01 AM</a></span></dd>
</dl></div>
"""


def test_blogger_classic_dt_dd_pairs():
    raw = extract_html(page(BLOGGER_CLASSIC))
    got = [(c.author, c.posted_raw, c.text) for c in raw.comments]
    assert got == [
        ("Mia", "March 12, 2012 4:45 AM", "Such a pretty spot by the water."),
        ("Anonymous", "March 12, 2012 6:01 AM", "Will dogs be allowed?"),
    ]
    assert_not_in_body(raw)


TYPEPAD = """
<div class="comments"><div class="comments-content">
  <div class="comment" id="comment-6a01">
    <div class="comment-content"><p>Long overdue, glad it passed.</p></div>
    <p class="comment-footer">Posted by: <a rel="nofollow" href="http://x.example">EricT</a> |
      <a rel="nofollow" href="http://news.example.com/park.html?cid=6a01#comment-6a01">November 01, 2012 at 03:22 PM</a></p>
  </div>
</div></div>
"""


def test_typepad_footer_stamp():
    raw = extract_html(page(TYPEPAD))
    assert [(c.author, c.posted_raw, c.text) for c in raw.comments] == [
        ("EricT", "November 01, 2012 at 03:22 PM", "Long overdue, glad it passed."),
    ]
    assert_not_in_body(raw)


def test_dispatch_and_clean_convert_times_to_utc(tmp_path):
    from newsmill.clean import CleanContext, clean_page
    from newsmill.extract import extract_page
    from newsmill.records import PageInput

    data = page(WORDPRESS).encode("utf-8")
    pi = PageInput(uri=str(tmp_path / "p.html"), data=data, sha256="0" * 64, format="html", url="http://news.example.com/park")
    raw, profile = extract_page(pi)
    article, comments = clean_page(raw, pi, profile, CleanContext(b"k" * 32, datetime(2024, 1, 1, tzinfo=timezone.utc), "test"))
    assert [c["posted_at"] for c in comments] == [
        datetime(2012, 3, 12, 14, 30, tzinfo=timezone.utc), datetime(2012, 3, 12, 15, 5, tzinfo=timezone.utc),
        datetime(2012, 3, 13, 7, 0, tzinfo=timezone.utc),
    ]
    assert comments[1]["parent_comment_id"] == comments[0]["comment_id"]
    assert "Finally some good news" not in article["body"]


# --------------------------------------------------------------------------- article metadata

_ARTICLE_BODY = "<p>" + "The council met on Tuesday and voted on the new budget for the coming year. " * 4 + "</p>"


def meta_page(head: str, body: str = "", url: str = "https://news.example.org/politics/budget") -> object:
    html = (f"<html><head>{head}</head><body><article>{body}<h1>Council passes the budget</h1>{_ARTICLE_BODY}"
            "</article></body></html>")
    return extract_html(html, url=url)


def test_jsonld_published_not_modified_and_modified_kept_apart():
    ld = {"@context": "https://schema.org", "@type": "ReportageNewsArticle", "headline": "Council passes the budget",
          "dateModified": "2024-03-09T18:00:00+01:00", "datePublished": "2024-03-05T07:15:00.123+01:00"}
    raw = meta_page(f'<script type="application/ld+json">{json.dumps(ld)}</script>'
                    '<meta property="article:modified_time" content="2024-03-09T18:00:00+01:00">')
    assert raw.published_raw == "2024-03-05T07:15:00.123+01:00"
    assert raw.updated_raw == "2024-03-09T18:00:00+01:00"
    assert "2024-03-09T18:00:00+01:00" not in raw.date_candidates
    # the ISO fraction does not cost the offset
    assert find_date(raw.published_raw).to_utc("UTC") == datetime(2024, 3, 5, 6, 15, 0, tzinfo=timezone.utc)


def test_title_without_site_suffix_and_section():
    raw = meta_page('<title>Council passes the budget | Politics | The Example Herald</title>'
                    '<meta property="og:title" content="Council passes the budget | The Example Herald">'
                    '<meta property="og:site_name" content="The Example Herald">')
    assert raw.title == "Council passes the budget"


def test_title_suffix_named_by_the_host_and_entities_decoded():
    raw = meta_page('<meta property="og:title" content="Council &amp;quot;passes&amp;quot; the budget - Newsexample.org">',
                    url="https://www.newsexample.org/a/1")
    assert raw.title == 'Council "passes" the budget'


def test_title_is_not_the_site_name_or_a_date():
    raw = meta_page('<meta property="og:title" content="The Example Herald">'
                    '<meta property="og:site_name" content="The Example Herald"><title>12.03.2024</title>')
    assert raw.title == "Council passes the budget"  # the <h1>


def test_byline_with_section_gives_the_name():
    raw = meta_page('<meta name="author" content="By Jane Doe | Politics">')
    assert raw.authors == ["Jane Doe"]


def test_authors_from_jsonld_person_objects_split_and_site_name_last():
    ld = {"@context": "https://schema.org", "@type": "NewsArticle", "headline": "Council passes the budget",
          "author": [{"@type": "Person", "givenName": "Anna Giulia", "familyName": "Fink"},
                     {"@type": "Person", "name": "Jan Roe und Lea Wagner, dpa"}]}
    raw = meta_page(f'<script type="application/ld+json">{json.dumps(ld)}</script>')
    assert raw.authors == ["Anna Giulia Fink", "Jan Roe", "Lea Wagner", "dpa"]
    # the site as author gives way to a person named elsewhere; never an e-mail address or a URL
    ld["author"] = {"@type": "Organization", "name": "Example Herald"}
    raw = meta_page(f'<script type="application/ld+json">{json.dumps(ld)}</script>'
                    '<meta property="og:site_name" content="Example Herald">'
                    '<meta name="author" content="j.roe@example.org">'
                    '<meta property="article:author" content="https://example.org/authors/jroe">'
                    '<meta name="twitter:label1" content="Written by"><meta name="twitter:data1" content="Jan Roe">')
    assert raw.authors == ["Jan Roe"]


def test_initials_of_a_name_are_not_split():
    raw = meta_page('<meta name="author" content="Miguel A. Herguedas">')
    assert raw.authors == ["Miguel A. Herguedas"]


def test_date_candidates_include_time_element_and_url_path():
    raw = meta_page('<meta property="article:published_time" content="2014-03-01T10:00:00Z">',
                    body='<time datetime="2012-05-01T09:00:00+02:00">1 May 2012</time>',
                    url="https://news.example.org/2012/05/01/budget")
    assert raw.published_raw == "2014-03-01T10:00:00Z"
    assert raw.date_candidates == ["2012-05-01T09:00:00+02:00", "2012-05-01"]


def test_without_structured_data_a_widget_heading_is_not_the_title():
    # trafilatura's heading guess and the <h1> are widget headings; the <title> names the post
    html = ("<html><head><title>Slow cooker bean soup | Kitchen Notes</title></head><body>"
            "<div class='sidebar'><h1>Translate</h1></div><article><h2>Slow cooker bean soup</h2>"
            f"{_ARTICLE_BODY}</article></body></html>")
    raw = extract_html(html, url="https://kitchennotes.example.net/2012/10/soup")
    assert raw.title == "Slow cooker bean soup"


def test_loose_byline_markup_is_weaker_evidence():
    byline = "<div class='article__author'>Von Jane Doe, Berlin</div>"
    raw = meta_page('<meta property="og:site_name" content="Example Herald"><meta name="author" content="Example Herald">',
                    body=byline)
    assert raw.authors == ["Jane Doe"]  # a 'Von ...' byline outranks the site's own name; the city is no name
    raw = meta_page("", body="<div class='author-box'>About Jane Doe</div><div class='post-author'>Folgen</div>")
    assert raw.authors == []  # an author box heading and a one-word button are no byline


def test_a_title_segment_that_starts_like_the_host_is_kept():
    # host label 'time': 'Time to act on the budget' is the headline's second half, not the site's name
    raw = meta_page('<meta property="og:title" content="Council passes the budget - Time to act on the budget">',
                    url="https://time.example/politics/1")
    assert raw.title == "Council passes the budget - Time to act on the budget"


# --------------------------------------------------------------------------- body mode


def test_body_mode_setting_layers_and_reaches_the_body_extractor(tmp_path, monkeypatch):
    import pytest
    import trafilatura

    from newsmill import pipeline
    from newsmill.config import ConfigError, Settings, load_settings
    from newsmill.records import PageInput

    f = tmp_path / "newsmill.toml"
    f.write_text('[newsmill]\nbody = "fast"\n')
    assert Settings().body == "precise"
    assert load_settings(f, env={}).body == "fast"
    assert load_settings(f, env={"NEWSMILL_BODY": "Precise"}).body == "precise"
    with pytest.raises(ConfigError, match="body"):
        load_settings(None, env={"NEWSMILL_BODY": "quick"})

    seen = []
    real = trafilatura.bare_extraction

    def spy(*args, **kwargs):
        seen.append((kwargs.get("fast", False), kwargs.get("favor_precision", False)))
        return real(*args, **kwargs)

    monkeypatch.setattr(trafilatura, "bare_extraction", spy)
    html = "<html><body><article><h1>T</h1>" + "<p>A paragraph of the article with enough words in it.</p>" * 5 + \
        "</article></body></html>"
    page = tmp_path / "p.html"
    page.write_text(html)
    for mode in ("fast", "precise"):
        settings = Settings(output_dir=tmp_path / mode, body=mode, author_key=b"k" * 32)
        ctx = pipeline.start_run(settings)
        out = pipeline.process_batch([str(page)], ctx)
        assert out.articles and "A paragraph of the article" in out.articles[0]["body"]
    assert seen == [(True, False), (False, True)]


# --------------------------------------------------------------------------- text nodes over lxml's 10 MB limit

import pytest  # noqa: E402

_HUGE = 11 * 1000 * 1000  # over libxml2's 10,000,000-byte limit for one text node or attribute value


@pytest.mark.parametrize("where,blob", [
    ("head", '<script>var x = "' + "a" * _HUGE + '";</script>'),
    ("head", '<script type="application/ld+json">{"@type": "WebPage", "x": "' + "a" * _HUGE + '"}</script>'),
    ("body", '<img alt="map" src="data:image/png;base64,' + "A" * _HUGE + '">'),
    ("body", "<!-- " + "c" * _HUGE + " -->"),
])
def test_a_text_node_over_ten_megabytes_does_not_cut_the_page(where, blob):
    """libxml2 stops at a text node or attribute value over 10 MB (an inline data: image, a big
    script): the body and the comments after it must still be read."""
    html = page(WORDPRESS, head=blob) if where == "head" else page(WORDPRESS).replace('<div id="main">', f'<div id="main">{blob}')
    raw = extract_html(html, url="http://news.example.com/2012/03/park")
    assert [c.author for c in raw.comments] == ["Jo Smith", "Max", "Ann Lee"]
    assert "riverside park" in body_of(raw)


@pytest.fixture()
def precise_cut(monkeypatch):
    """trafilatura whose favor_precision result keeps only its first ``keep`` lines (as precision does on
    some layouts); ``calls`` names each extraction made: 'precise', 'fast' or 'balanced'."""
    import types

    import trafilatura

    real = trafilatura.bare_extraction
    state = types.SimpleNamespace(calls=[], keep=1)

    def cutting(*args, **kwargs):
        state.calls.append("precise" if kwargs.get("favor_precision") else "fast" if kwargs.get("fast") else "balanced")
        doc = real(*args, **kwargs)
        if kwargs.get("favor_precision") and doc is not None:
            doc.text = "\n".join(doc.text.split("\n")[:state.keep])
        return doc

    monkeypatch.setattr(trafilatura, "bare_extraction", cutting)
    return state


def test_precise_body_that_drops_most_of_the_article_falls_back_to_trafilatura_alone(precise_cut, monkeypatch):
    from newsmill.extract import html as html_extract

    calls = precise_cut.calls
    paras = ["<p>" + " ".join(f"word{n}x{i}" for i in range(40)) + ".</p>" for n in range(8)]
    page = f"<html><body><article><h1>Headline</h1>{''.join(paras)}</article></body></html>"
    raw = extract_html(page)
    assert calls == ["precise", "fast"] and sum(len(p.split()) for p in raw.paragraphs) >= 300
    # precise keeping under the suspect share, but not under the (lowered) share of what trafilatura alone keeps
    calls.clear()
    precise_cut.keep = 3  # headline + 2 of 8 paragraphs: about 80 of 320 words, a quarter of what trafilatura alone keeps
    monkeypatch.setattr(html_extract, "PRECISE_CUT_RATIO", 0.2)
    raw = extract_html(page)
    assert calls == ["precise", "fast"] and sum(len(p.split()) for p in raw.paragraphs) < 120
    # a page offering fewer paragraph words than the check needs keeps the precise result, unchecked
    calls.clear()
    extract_html(f"<html><body><article><h1>Headline</h1>{''.join(paras[:2])}</article></body></html>")
    assert calls == ["precise"]


def test_stated_article_body_referees_a_precise_body_that_misses_most_of_it(precise_cut):
    import json as _json

    calls = precise_cut.calls
    precise_cut.keep = 2  # the headline and one paragraph of five
    texts = [" ".join(f"w{n}x{i}" for i in range(30)) + "." for n in range(5)]
    paras = "".join(f"<p>{t}</p>" for t in texts)

    def page(stated: str) -> str:
        ld = _json.dumps({"@context": "https://schema.org", "@type": "NewsArticle", "headline": "H", "articleBody": stated})
        return f"<html><head><script type='application/ld+json'>{ld}</script></head><body><article><h1>H</h1>{paras}</article></body></html>"

    raw = extract_html(page(" ".join(texts)))
    assert calls == ["precise", "balanced"] and sum(len(p.split()) for p in raw.paragraphs) >= 140
    # a stated body the balanced extraction does not cover better (other words): the precise body stays
    calls.clear()
    precise_cut.keep = 3
    raw = extract_html(page(" ".join(f"other{i}" for i in range(150))))
    assert calls == ["precise", "balanced"] and sum(len(p.split()) for p in raw.paragraphs) < 70


def test_precise_body_cut_on_a_page_without_paragraph_elements_is_checked_against_its_visible_words(precise_cut):
    lines = "<br><br>".join(" ".join(f"v{n}x{i}" for i in range(30)) + "." for n in range(12))
    raw = extract_html(f"<html><body><div class='post'><h2>Headline</h2><div>{lines}</div></div></body></html>")
    assert precise_cut.calls == ["precise", "fast"] and sum(len(p.split()) for p in raw.paragraphs) > 300
