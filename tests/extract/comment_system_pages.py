"""Small synthetic comment sections modelled on common systems (written for these tests, not copied from
any site): each shows some of the fields researchers expect (votes, edit marks, moderation placeholders,
badges, permalinks, threading) and leaves others out, so that a field the page does not show can be
checked to stay null."""
from __future__ import annotations

from tests.conftest import article_page

PAGE_URL = "https://news.example.com/2012/03/riverside-park/"
HEAD = f'<link rel="canonical" href="{PAGE_URL}">'

# Disqus' static output: up and down votes apart, a moderator badge, permalinks on the time links, a deleted
# comment (the placeholder) with a reply hanging off it, and an edited one.
DISQUS = """<div id="disqus_thread"><ul class="post-list" id="post-list">
<li class="post" id="post-1001"><div class="post-content"><div class="post-body">
  <header><span class="post-byline"><span class="author publisher-anchor-color"><a href="https://disqus.com/by/alice/">Alice Doe</a></span>
  <span class="badge moderator">Mod</span></span>
  <span class="post-meta"><a class="time-ago" href="https://news.example.com/2012/03/riverside-park/#comment-1001" title="Saturday, March 3, 2012 4:15 PM">March 3, 2012 4:15 PM</a></span></header>
  <div class="post-message"><p>Finally a park on our side of the river, it took them long enough to decide.</p></div>
  <footer><menu class="comment-footer__actions"><li class="voting"><a class="vote-up" title="Vote up"><span class="updatable count">12</span></a>
  <a class="vote-down" title="Vote down"><span class="updatable count">3</span></a></li><li class="reply"><a href="#">Reply</a></li></menu></footer>
</div></div>
<ul class="children">
 <li class="post" id="post-1002"><div class="post-content"><div class="post-body">
  <header><span class="post-byline"><span class="author publisher-anchor-color"><a href="https://disqus.com/by/bob/">Bob Roe</a></span></span>
  <span class="post-meta"><a class="time-ago" href="https://news.example.com/2012/03/riverside-park/#comment-1002" title="Saturday, March 3, 2012 5:20 PM">March 3, 2012 5:20 PM</a>
  <span class="post-edited">(edited)</span></span></header>
  <div class="post-message"><p>The road repairs would have helped far more people than this park ever will.</p></div>
  <footer><menu class="comment-footer__actions"><li class="voting"><a class="vote-up"><span class="updatable count">0</span></a>
  <a class="vote-down"><span class="updatable count">5</span></a></li></menu></footer>
 </div></div></li>
</ul></li>
<li class="post" id="post-1003"><div class="post-content"><div class="post-body">
  <header><span class="post-meta"><a class="time-ago" href="https://news.example.com/2012/03/riverside-park/#comment-1003" title="Saturday, March 3, 2012 6:00 PM">March 3, 2012 6:00 PM</a></span></header>
  <div class="post-message"><p>This comment was deleted.</p></div>
</div></div>
<ul class="children">
 <li class="post" id="post-1004"><div class="post-content"><div class="post-body">
  <header><span class="post-byline"><span class="author publisher-anchor-color"><a href="https://disqus.com/by/carol/">Carol Poe</a></span></span>
  <span class="post-meta"><a class="time-ago" href="https://news.example.com/2012/03/riverside-park/#comment-1004" title="Saturday, March 3, 2012 6:30 PM">March 3, 2012 6:30 PM</a></span></header>
  <div class="post-message"><p>Whatever was written above, the council should publish the costs of the park.</p></div>
  <footer><menu class="comment-footer__actions"><li class="voting"><a class="vote-up"><span class="updatable count">4</span></a>
  <a class="vote-down"><span class="updatable count">1</span></a></li></menu></footer>
 </div></div></li>
</ul></li>
</ul></div>"""

# Coral's rendered stream: one reaction ('Respect': likes, no down-votes), a 'Featured' tag, a 'Staff'
# badge, permalinks as '?commentID=' links, a comment removed by a moderator.
CORAL = """<div id="coral_thread"><div class="coral coral-stream"><div class="coral-comments">
<div class="coral-comment coral-featured" id="comment-c3f1a2b4">
  <div class="coral-comment-header"><span class="coral-comment-username">Dana Vo</span>
  <span class="coral-comment-featuredTag">Featured</span>
  <time class="coral-comment-timestamp coral-timestamp" datetime="2012-03-04T09:05:00.000Z">March 4, 2012</time></div>
  <div class="coral-comment-content"><p>I walked past the site this morning and the first trees are already planted there.</p></div>
  <div class="coral-comment-actionBar"><button class="coral-reactButton"><span>Respect</span> <span class="coral-reactButton-count">7</span></button>
  <a class="coral-comment-permalink" href="https://news.example.com/2012/03/riverside-park/?commentID=c3f1a2b4">Share</a></div>
  <div class="coral-comment-replies">
  <div class="coral-comment" id="comment-d8e9f0a1">
    <div class="coral-comment-header"><span class="coral-comment-username">Eli Stone</span>
    <span class="coral-comment-userBadge coral-staff-badge">Staff</span>
    <time class="coral-comment-timestamp coral-timestamp" datetime="2012-03-04T10:00:00.000Z">March 4, 2012</time></div>
    <div class="coral-comment-content"><p>Thanks Dana, we will have a photo gallery of the planting next week.</p></div>
    <div class="coral-comment-actionBar"><button class="coral-reactButton"><span>Respect</span> <span class="coral-reactButton-count">2</span></button>
    <a class="coral-comment-permalink" href="https://news.example.com/2012/03/riverside-park/?commentID=d8e9f0a1">Share</a></div>
  </div></div>
</div>
<div class="coral-comment" id="comment-e1f2a3b4">
  <div class="coral-comment-header"><span class="coral-comment-username">Finn Gray</span>
  <time class="coral-comment-timestamp coral-timestamp" datetime="2012-03-04T11:30:00.000Z">March 4, 2012</time></div>
  <div class="coral-comment-content"><p>This comment was removed by a moderator because it did not abide by our community guidelines.</p></div>
</div>
</div></div></div>"""

# WordPress: the post author's highlight (bypostauthor), permalinks on the date links, nested replies,
# a comment awaiting moderation (its text kept), no votes at all.
WORDPRESS = """<h3>3 Responses</h3><ol class="commentlist">
<li class="comment even thread-even depth-1" id="comment-11"><article id="div-comment-11" class="comment-body">
 <footer class="comment-meta"><div class="comment-author vcard"><b class="fn">Gina Hart</b> <span class="says">says:</span></div>
 <div class="comment-metadata"><a href="https://news.example.com/2012/03/riverside-park/#comment-11"><time datetime="2012-03-03T16:15:00+00:00">March 3, 2012 at 4:15 pm</time></a></div></footer>
 <div class="comment-content"><p>Will there be a playground for the smaller children as well, or only the lawns?</p></div>
 <div class="reply"><a class="comment-reply-link" href="/2012/03/riverside-park/?replytocom=11#respond">Reply</a></div></article>
 <ol class="children">
 <li class="comment byuser comment-author-editor bypostauthor odd alt depth-2" id="comment-12"><article id="div-comment-12" class="comment-body">
  <footer class="comment-meta"><div class="comment-author vcard"><b class="fn">Henry Quill</b> <span class="says">says:</span></div>
  <div class="comment-metadata"><a href="https://news.example.com/2012/03/riverside-park/#comment-12"><time datetime="2012-03-03T17:00:00+00:00">March 3, 2012 at 5:00 pm</time></a></div></footer>
  <div class="comment-content"><p>Yes, the plan shows a playground next to the north entrance of the park.</p></div>
  <div class="reply"><a class="comment-reply-link" href="/2012/03/riverside-park/?replytocom=12#respond">Reply</a></div></article></li>
 </ol></li>
<li class="comment even thread-odd depth-1" id="comment-13"><article id="div-comment-13" class="comment-body">
 <footer class="comment-meta"><div class="comment-author vcard"><b class="fn">Ivy Lane</b> <span class="says">says:</span></div>
 <div class="comment-metadata"><a href="https://news.example.com/2012/03/riverside-park/#comment-13"><time datetime="2012-03-03T18:10:00+00:00">March 3, 2012 at 6:10 pm</time></a></div>
 <em class="comment-awaiting-moderation">Your comment is awaiting moderation.</em></footer>
 <div class="comment-content"><p>I hope they keep the old oak trees along the river bank where they are.</p></div></article></li>
</ol>"""

# A vBulletin-like forum thread (read by the generic 'forum' system): the post number links to the post,
# a user title under the name ('Moderator' is a staff badge), an edit note under one message; no votes.
FORUM = """<ol id="posts" class="posts">
<li class="postbitlegacy postcontainer" id="post_101">
 <div class="posthead"><span class="postdate"><span class="date">03-03-2012, 04:15 PM</span></span>
 <span class="nodecontrols"><a name="post101" href="showthread.php?t=55&amp;p=101#post101" class="postcounter">#1</a></span></div>
 <div class="postdetails"><div class="userinfo"><a class="username" href="member.php?u=7"><strong>jmorris</strong></a>
 <span class="usertitle">Senior Member</span></div>
 <div class="postbody"><div class="postrow"><div class="content"><blockquote class="postcontent restore">Has anyone seen the new plans for the riverside park? The council voted on Friday evening.</blockquote></div></div><div class="lastedited">Last edited by jmorris; 03-03-2012 at 04:40 PM.</div></div></div>
</li>
<li class="postbitlegacy postcontainer" id="post_102">
 <div class="posthead"><span class="postdate"><span class="date">03-03-2012, 05:02 PM</span></span>
 <span class="nodecontrols"><a name="post102" href="showthread.php?t=55&amp;p=102#post102" class="postcounter">#2</a></span></div>
 <div class="postdetails"><div class="userinfo"><a class="username" href="member.php?u=7"><strong>kpatel</strong></a>
 <span class="usertitle">Moderator</span></div>
 <div class="postbody"><div class="postrow"><div class="content"><blockquote class="postcontent restore">Yes, there is a map in the city paper. The playground goes to the north entrance near the bridge.</blockquote></div></div></div></div>
</li>
<li class="postbitlegacy postcontainer" id="post_103">
 <div class="posthead"><span class="postdate"><span class="date">03-03-2012, 05:40 PM</span></span>
 <span class="nodecontrols"><a name="post103" href="showthread.php?t=55&amp;p=103#post103" class="postcounter">#3</a></span></div>
 <div class="postdetails"><div class="userinfo"><a class="username" href="member.php?u=7"><strong>jmorris</strong></a>
 <span class="usertitle">Senior Member</span></div>
 <div class="postbody"><div class="postrow"><div class="content"><blockquote class="postcontent restore">[deleted]</blockquote></div></div></div></div>
</li>
</ol>"""


def page(section: str) -> str:
    return article_page(section, head=HEAD)
