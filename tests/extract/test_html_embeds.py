"""Script-loaded comment sections: the embed is recorded on the article (comment_system,
comments_in_capture), from the ``[[embed]]`` data of the system profiles; share and like
widgets are not comments."""
from __future__ import annotations

import hashlib
from datetime import datetime, timezone

import pytest

from newsmill.clean import CleanContext, clean_page, comments_in_capture
from newsmill.extract.html import embeds, extract_html
from newsmill.extract.html.tree import parse
from newsmill.profiles import default_profile
from newsmill.records import PageInput, RawPage
from tests.conftest import WP_COMMENTS, article_page as page


def _article(html: str) -> dict:
    raw = extract_html(html, url="https://news.example.org/2024/park")
    data = html.encode()
    inp = PageInput(uri="mem://park.html", data=data, sha256=hashlib.sha256(data).hexdigest(), format="html")
    row, _ = clean_page(raw, inp, default_profile(),
                        CleanContext(b"k" * 32, datetime(2024, 5, 1, tzinfo=timezone.utc), "test"))
    return row


# one page per system family and kind of signature: the script, the container it fills, an iframe
EMBEDS = [
    ("disqus", '<div id="disqus_thread"></div>'),
    ("disqus", '<script>var disqus_shortname = "example"; (function() { var d = document.createElement("script");'
               ' d.src = "https://" + disqus_shortname + ".disqus.com/embed.js"; document.body.appendChild(d); })();'
               '</script>'),
    ("disqus", '<script src="https://example.disqus.com/embed.js" async></script>'),
    ("facebook", '<div class="fb-comments" data-href="https://news.example.org/2024/park" data-numposts="5"></div>'),
    ("facebook", '<fb:comments href="https://news.example.org/2024/park" num_posts="10"></fb:comments>'),
    ("facebook", '<iframe src="https://www.facebook.com/plugins/comments.php?href=https%3A%2F%2Fnews.example.org"></iframe>'),
    ("spotim", '<script async src="https://launcher.spot.im/spot/sp_ABC123" data-spotim-module="spotim-launcher"'
               ' data-post-id="42"></script>'),
    ("spotim", '<div data-spotim-module="conversation" data-post-id="42"></div>'),
    ("viafoura", '<div class="viafoura"><vf-conversations limit="10"></vf-conversations></div>'),
    ("coral", '<div id="coral_thread"></div><script>Coral.createStreamEmbed({id: "coral_thread",'
              ' rootURL: "https://coral.example.org"});</script>'),
    ("livefyre", '<script src="https://zor.livefyre.com/wjs/v3.0/javascripts/livefyre.js"></script>'),
    ("intensedebate", '<div id="idc-container"></div>'),
    ("commento", '<div id="commento"></div><script defer src="https://cdn.commento.io/js/commento.js"></script>'),
    ("hyvor", '<hyvor-talk-comments website-id="1" page-id="park"></hyvor-talk-comments>'),
    ("giscus", '<script src="https://giscus.app/client.js" data-repo="a/b" crossorigin="anonymous" async></script>'),
    ("giscus", '<iframe class="giscus-frame" src="https://giscus.app/en/widget?origin=x"></iframe>'),
    ("utterances", '<script src="https://utteranc.es/client.js" repo="a/b" issue-term="pathname" async></script>'),
    ("discourse", '<div id="discourse-comments"></div><script>DiscourseEmbed = { discourseUrl: "https://forum.example.org/",'
                  ' discourseEmbedUrl: "https://news.example.org/2024/park" };</script>'),
    ("vuukle", '<div id="vuukle-comments-2024"></div>'),
    ("insticator", '<div id="insticator-commenting"></div>'),
    ("gigya", '<div id="comments"></div><script>gigya.comments.showCommentsUI({categoryID: "news",'
              ' streamID: "park", containerID: "comments"});</script>'),
    ("unknown_script", '<button class="btn" type="button">Show comments</button>'),
    ("unknown_script", '<button type="button">Kommentare anzeigen</button>'),
    ("unknown_script", '<a href="#" class="js-load-comments">Lire les 12 commentaires</a>'),
    ("unknown_script", '<button type="button">267 Kommentare</button>'),
    ("unknown_script", '<span role="button" class="load-comments"></span>'),
    ("unknown_script", '<section id="talk"><h2>Comments</h2><p>Loading comments...</p></section>'),
    ("unknown_script", '<div id="cmts"><h2>Kommentare</h2><p>Kommentare werden geladen</p></div>'),
    ("unknown_script", '<a href="#reader-comments">12 Comments</a><div id="reader-comments"></div>'),
]


@pytest.mark.parametrize(("system", "markup"), EMBEDS)
def test_embed_detected_and_comments_not_in_capture(system, markup):
    row = _article(page(markup))
    assert row["comment_system"] == system
    assert row["comments_in_capture"] is False
    assert row["comment_count_extracted"] == 0


NOT_COMMENTS = [
    # sharing and liking are not comments: the SDK, the like button, the share link, the page plugin
    '<div id="fb-root"></div><script async src="https://connect.facebook.net/en_US/sdk.js#xfbml=1"></script>'
    '<div class="fb-like" data-href="https://news.example.org/2024/park" data-layout="button_count"></div>',
    '<a class="share-facebook" href="https://www.facebook.com/sharer/sharer.php?u=https%3A%2F%2Fnews.example.org">'
    'Share on Facebook</a>',
    '<iframe src="https://www.facebook.com/plugins/like.php?href=https%3A%2F%2Fnews.example.org"></iframe>',
    '<fb:like href="https://news.example.org/2024/park"></fb:like>',
    # comment counts and links to a comment section elsewhere load no thread on this page
    '<a href="https://news.example.org/2024/park#disqus_thread" class="disqus-comment-count">0 Comments</a>'
    '<script id="dsq-count-scr" src="//example.disqus.com/count.js" async></script>',
    '<span class="viafoura"><span class="vf-counter vf-widget" data-widget="counter"></span></span>',
    '<a href="https://news.example.org/2024/park/comments">12 comments</a>',
    '<a href="#respond">Leave a comment</a>',
    '<button type="button">Add a comment</button>',
    # a paragraph about comments is not a button that loads them
    '<p>Readers can show comments to a moderator before they are published, the paper said.</p>',
    # a closed or empty section, and a sentence that mentions loading comments, are no loader
    '<div id="comments"><h2>Comments</h2><p>Comments are closed.</p></div>',
    '<p>Loading comments on a slow connection can take a while, the support page says about the new app.</p>',
    # an in-page comment link whose target holds comments' place with a form, or is missing, or is a named anchor
    '<a href="#comments">3 Comments</a><div id="comments"><form><textarea name="c"></textarea></form></div>',
    '<a href="#respond">3 Comments</a>',
    '<a href="#comments">Comments</a><a name="comments"></a>',
    '<a href="#comments-box">Add a comment</a><div id="comments-box"></div>',
    # Spot.IM's recirculation widget alone ('popular in the community') is not its conversation
    '<script async src="https://recirculation.spot.im/spot/sp_ABC123"></script>',
]


@pytest.mark.parametrize("markup", NOT_COMMENTS)
def test_share_like_and_count_widgets_are_not_a_comment_section(markup):
    row = _article(page(markup))
    assert row["comment_system"] is None
    assert row["comments_in_capture"] is None




def test_captured_comments_in_a_known_system_embed():
    """Disqus' noscript fallback holds the comments: they are in the capture, and the system is named."""
    row = _article(page(f'<div id="disqus_thread">{WP_COMMENTS}</div>'
                        '<script src="https://example.disqus.com/embed.js"></script>'))
    assert row["comment_count_extracted"] == 2
    assert row["comments_in_capture"] is True
    assert row["comment_system"] == "disqus"


def test_captured_comments_name_the_markup_system():
    row = _article(page(WP_COMMENTS))
    assert (row["comment_count_extracted"], row["comments_in_capture"], row["comment_system"]) == (2, True, "wordpress")


def test_show_more_button_beside_captured_comments_is_no_system():
    """A 'show comments' button on a page whose comments were captured names no system: the
    comments are there, the generic loader says nothing about which system wrote them."""
    row = _article(page(WP_COMMENTS + '<button type="button">Show all comments</button>'))
    assert row["comments_in_capture"] is True
    assert row["comment_system"] == "wordpress"


def test_known_system_wins_over_generic_loader():
    row = _article(page('<button type="button">Show comments</button><div id="disqus_thread"></div>'))
    assert row["comment_system"] == "disqus"


def test_comments_in_capture_rule():
    assert comments_in_capture(3, None) is True
    assert comments_in_capture(3, "disqus") is True
    assert comments_in_capture(0, "disqus") is False
    assert comments_in_capture(0, None) is None


def test_text_dumps_record_no_system():
    """A text dump cannot show an embed: the field stays null (captured comments still say so)."""
    from newsmill.extract.textdump import parse_text_dump

    dump = ("Council approves the new riverside park\n\nThe city council voted on Tuesday to approve the park.\n\n"
            "Comments powered by Disqus. Please enable JavaScript to view the comments.\n")
    raw = parse_text_dump(dump)
    assert raw.comment_system is None


def test_profiles_extra_dir_adds_a_system(tmp_path):
    (tmp_path / "systems").mkdir()
    (tmp_path / "systems" / "talkbox.toml").write_text(
        '[[embed]]\nid = "talkbox"\nscript = [\'(?:^|//)cdn\\.talkbox\\.example/embed\\.js\']\n', encoding="utf-8")
    tree = parse(page('<script src="https://cdn.talkbox.example/embed.js"></script>'))
    assert embeds.detect(tree) is None
    assert embeds.detect(tree, extra_dir=str(tmp_path)) == "talkbox"


def test_broken_embed_profile_names_its_file(tmp_path):
    (tmp_path / "systems").mkdir()
    (tmp_path / "systems" / "bad.toml").write_text('[[embed]]\nid = "bad"\nscript = [\'(unclosed\']\n', encoding="utf-8")
    with pytest.raises(ValueError, match="bad.toml"):
        embeds.load_embeds(str(tmp_path))


def test_rawpage_default_is_no_system():
    assert RawPage().comment_system is None


def test_filled_embed_no_layer_reads_is_not_called_missing():
    """A container the script would fill already holds a thread's worth of text (a static rendering
    in markup no layer knows): the comments are in the capture, so they are not reported missing;
    the article is flagged instead. An empty container of the same system is reported missing."""
    # a rendering no layer can split into comments: one block of text, no repeated items, no names
    thread = "<p>" + " ".join(f"Point {i}: the park will bring more traffic to the narrow streets nearby."
                              for i in range(8)) + "</p>"
    filled = _article(page(f'<div id="livefyre">{thread}</div>'
                           '<script src="https://zor.livefyre.com/wjs/v3.0/javascripts/livefyre.js"></script>'))
    assert (filled["comment_system"], filled["comments_in_capture"]) == ("livefyre", None)
    assert "comments_not_extracted" in filled["flags"]
    empty = _article(page('<div id="livefyre"></div>'
                          '<script src="https://zor.livefyre.com/wjs/v3.0/javascripts/livefyre.js"></script>'))
    assert (empty["comment_system"], empty["comments_in_capture"]) == ("livefyre", False)
    assert "comments_not_extracted" not in empty["flags"]


def test_livefyre_first_widget_rendered_into_the_page_is_read():
    """Livefyre's first widget, rendered into the capture: its comments are records (flat replies
    one level down by their 'lf_level_N' class), the system is named, nothing is reported missing."""
    def item(cid, level, nick, text):
        return (f'<div class="lf_comment_container lf_level_{level}" id="lf_comment_{cid}">'
                f'<div class="lf_comment_user"><a class="lf_user">avatar</a></div><div class="lf_comment">'
                f'<div class="lf_comment_body"><a class="lf_comment_user_nick">{nick}</a>'
                f'<span class="lf_comment_user_rating">5 pts</span><div class="lf_body"><p>{text}</p></div></div>'
                f'<div class="lf_comment_footer"><label class="lf_comment_date"></label><a class="lf_share">share</a>'
                f'<a class="lf_like lf_button">Like</a></div></div></div>')
    thread = (item(1, 1, "xdwyer", "The park will be flooded every spring, the river rises every year.")
              + item(2, 2, "baroo", "Not since they built the new levee upstream, check the records."))
    html = page(f'<div id="livefyre"><div id="lf_comments">{thread}</div></div>'
                '<script src="https://zor.livefyre.com/wjs/v1.0/javascripts/livefyre_init.js"></script>')
    raw = extract_html(html)
    assert [(c.author, c.depth, c.likes) for c in raw.comments] == [("xdwyer", 0, None), ("baroo", 1, None)]
    assert raw.comments[1].parent_index == 0 and "pts" not in raw.comments[0].text
    row = _article(html)
    assert (row["comment_system"], row["comments_in_capture"], row["comment_count_extracted"]) == ("livefyre", True, 2)


@pytest.mark.parametrize(("pattern", "matching", "needle"), [
    (r"(?:^|//|\.)disqus\.com/embed\.js", "https://x.disqus.com/embed.js", "disqus.com/embed.js"),
    (r"\bdisqus_shortname\s*=[^;\n]*;[\s\S]{0,600}?embed\.js", "var disqus_shortname = 'a'; x.src = 'embed.js'",
     "disqus_shortname"),
    (r"abcd?efgh", "abcefgh", "efgh"),  # an optional character ends a run
    (r"abcde+fgh", "abcdeeefgh", "abcde"),  # 'e+': the 'e' is required, the run ends after it
    (r"(?:[\w-]+\.)?openweb\.com/spot/", "launcher.openweb.com/spot/", "openweb.com/spot/"),
    (r"[]x]yzzy-thing", "]yzzy-thing", "yzzy-thing"),
    (r"foo|barbaz", "foo", None),  # a top-level branch: no substring is required
    (r"a\db", "a1b", None),  # no run of 4 literal characters
])
def test_signature_needle_is_in_every_match(pattern, matching, needle):
    import re

    assert re.search(pattern, matching)
    assert embeds._needle(pattern) == needle
    if needle is not None:
        assert needle in matching
        sig = embeds.Signature(re.compile(pattern), needle, False)
        assert sig.search(matching, matching) and not sig.search(matching.replace(needle, ""), "")
