"""Page URLs out of RSS 2.0 / RSS 1.0 / Atom feeds, sitemaps (indexes, .xml.gz, text) and URL lists."""
from __future__ import annotations

import gzip

import pytest

from newsmill.config import FetchSettings, SourceSpec
from newsmill.sources.feeds import FeedError, expand, gunzip_if_needed, parse_feed, parse_sitemap, parse_url_list
from newsmill.sources.fetch import Fetcher
from tests.localserver import send, serving

RSS = b"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Example news</title><link>https://news.example.org/</link>
  <item><title>One</title><link>https://news.example.org/2012/02/one</link><guid>x-1</guid></item>
  <item><title>Two</title><link>
      /2012/02/two#comments
  </link></item>
  <item><title>Three (permalink guid only)</title><guid isPermaLink="true">https://news.example.org/2012/02/three</guid></item>
  <item><title>No link</title><guid isPermaLink="false">urn:x:4</guid></item>
  <item><title>One again</title><link>https://news.example.org/2012/02/one</link></item>
</channel></rss>"""

ATOM = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Blog</title>
  <link rel="self" href="https://blog.example.org/feed.atom"/>
  <entry><title>A</title>
    <link rel="replies" type="application/atom+xml" href="https://blog.example.org/a/comments.atom"/>
    <link rel="alternate" type="text/html" href="https://blog.example.org/a"/>
    <link rel="enclosure" href="https://blog.example.org/a.mp3"/></entry>
  <entry><title>B</title><link href="b"/></entry>
  <entry><title>No link</title><id>urn:x:c</id></entry>
</feed>"""

RDF = b"""<?xml version="1.0"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/">
  <channel rdf:about="https://old.example.org/"><title>Old</title></channel>
  <item rdf:about="https://old.example.org/1"><title>1</title><link>https://old.example.org/1</link></item>
  <item rdf:about="https://old.example.org/2"><title>2</title></item>
</rdf:RDF>"""

URLSET = b"""<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
  <url><loc>https://news.example.org/a</loc><lastmod>2012-02-08</lastmod></url>
  <url><loc> https://news.example.org/b </loc></url>
  <url><loc>https://news.example.org/a</loc></url>
</urlset>"""


def test_rss2_links_in_order_resolved_and_deduplicated():
    assert parse_feed(RSS, "https://news.example.org/feed/") == [
        "https://news.example.org/2012/02/one", "https://news.example.org/2012/02/two",
        "https://news.example.org/2012/02/three"]


def test_atom_alternate_html_links_only():
    assert parse_feed(ATOM, "https://blog.example.org/feed.atom") == ["https://blog.example.org/a",
                                                                      "https://blog.example.org/b"]


def test_rss1_rdf_items():
    assert parse_feed(RDF, "https://old.example.org/rss") == ["https://old.example.org/1", "https://old.example.org/2"]


def test_not_a_feed_is_an_error():
    with pytest.raises(FeedError):
        parse_feed(b"<html><body>hello</body></html>")
    with pytest.raises(FeedError):
        parse_feed(b"\x00\x01 not xml at all")


def test_xml_entities_are_not_resolved():
    xxe = b"""<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY x SYSTEM "file:///etc/hostname">]>
<rss><channel><item><link>https://a.example/&x;</link></item></channel></rss>"""
    links = parse_feed(xxe)
    assert all("file" not in u and "\n" not in u for u in links)


def test_sitemap_urlset():
    assert parse_sitemap(URLSET) == ("urlset", ["https://news.example.org/a", "https://news.example.org/b"])


def test_sitemap_index_and_text_sitemap():
    index = b"""<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
      <sitemap><loc>https://news.example.org/sitemap-1.xml</loc></sitemap>
      <sitemap><loc>/sitemap-2.xml.gz</loc></sitemap></sitemapindex>"""
    assert parse_sitemap(index, "https://news.example.org/sitemap.xml") == (
        "index", ["https://news.example.org/sitemap-1.xml", "https://news.example.org/sitemap-2.xml.gz"])
    assert parse_sitemap(b"https://a.example/1\nhttps://a.example/2\n") == ("urlset", ["https://a.example/1",
                                                                                       "https://a.example/2"])
    with pytest.raises(FeedError):
        parse_sitemap(b"<rss><channel/></rss>")


def test_gzip_inflated_within_the_cap():
    assert gunzip_if_needed(gzip.compress(URLSET), 10_000) == URLSET
    assert gunzip_if_needed(URLSET, 10_000) == URLSET  # not gzip: unchanged
    bomb = gzip.compress(b"\0" * 5_000_000)
    with pytest.raises(FeedError, match="over"):
        gunzip_if_needed(bomb, 100_000)
    with pytest.raises(FeedError, match="gzip"):
        gunzip_if_needed(b"\x1f\x8b\x08\x00garbage", 100_000)


def test_url_list_comments_blank_lines_duplicates():
    text = """\ufeff# news pages to fetch
https://news.example.org/a

   https://news.example.org/b   # the second one
https://news.example.org/a
https://news.example.org/b#comments
# https://news.example.org/commented-out
ftp://files.example.org/kept-for-a-reject
"""
    assert parse_url_list(text) == ["https://news.example.org/a", "https://news.example.org/b",
                                    "ftp://files.example.org/kept-for-a-reject"]


# -- discovery through the fetcher (local server) --------------------------------------------------

@pytest.fixture(autouse=True)
def no_proxy(monkeypatch):
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(var, raising=False)


def fs(**kw) -> FetchSettings:
    return FetchSettings(**{"per_host_delay": 0.0, "retries": 0, "backoff": 0.01, "timeout": 2.0,
                            "contact": "mailto:tests@example.org", "allow_private_addresses": True, **kw})


def test_expand_sitemap_index_with_gzipped_child_and_feeds(tmp_path):
    def sitemap(body: bytes, ctype="application/xml"):
        return lambda h: send(h, 200, body, ctype)

    child1 = b"""<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
      <url><loc>/p/1</loc></url><url><loc>/p/2</loc></url></urlset>"""
    child2 = gzip.compress(b"""<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
      <url><loc>/p/2</loc></url><url><loc>/p/3</loc></url></urlset>""")
    index = b"""<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
      <sitemap><loc>/s1.xml</loc></sitemap><sitemap><loc>/s2.xml.gz</loc></sitemap>
      <sitemap><loc>/missing.xml</loc></sitemap><sitemap><loc>/s1.xml</loc></sitemap></sitemapindex>"""
    routes = {"/sitemap.xml": sitemap(index), "/s1.xml": sitemap(child1), "/s2.xml.gz": sitemap(child2, "application/gzip"),
              "/rss.xml": sitemap(RSS, "application/rss+xml"), "/html-not-feed": sitemap(b"<html></html>", "text/html")}
    listing = tmp_path / "urls.txt"
    listing.write_text("# extra\n/relative-is-kept-for-a-reject\n")
    with serving(routes) as s:
        sources = [SourceSpec("sitemap", url=s.url("/sitemap.xml")), SourceSpec("feed", url=s.url("/rss.xml")),
                   SourceSpec("feed", url=s.url("/html-not-feed")), SourceSpec("urls", urls=(s.url("/p/1"),)),
                   SourceSpec("urls", file=str(listing)), SourceSpec("urls", file=str(tmp_path / "nope.txt"))]
        with Fetcher(fs()) as f:
            found = expand(sources, f, max_urls=100, max_bytes=1 << 20)
        paths = s.stats.paths()
    assert found.urls == [s.url("/p/1"), s.url("/p/2"), s.url("/p/3"),
                          "https://news.example.org/2012/02/one", s.url("/2012/02/two"),  # relative to the feed
                          "https://news.example.org/2012/02/three", "/relative-is-kept-for-a-reject"]
    assert paths.count("/s1.xml") == 1  # listed twice in the index, read once
    assert found.feeds == 4  # index, two children, one feed
    assert sorted(r.reason for r in found.rejects) == ["bad_feed", "http_404", "unreadable"]
    assert all(r.stage == "fetch" for r in found.rejects)


def test_expand_local_gzipped_sitemap_file_and_max_urls(tmp_path):
    path = tmp_path / "sitemap.xml.gz"
    path.write_bytes(gzip.compress(URLSET))
    with Fetcher(fs()) as f:
        found = expand([SourceSpec("sitemap", file=str(path)),
                        SourceSpec("urls", urls=("https://x.example/1", "https://x.example/2"))], f, max_urls=3,
                       max_bytes=1 << 20)
    assert found.urls == ["https://news.example.org/a", "https://news.example.org/b", "https://x.example/1"]
    assert found.over_limit == 1 and found.rejects == []
