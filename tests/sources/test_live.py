"""Live sources end to end: a local server with an RSS feed and two article pages with comments ->
published rows with URL provenance, the raw WARC under output/raw/, an offline replay that gives
the same rows, and a second run answered 304 Not Modified."""
from __future__ import annotations

import pytest

from newsmill import pipeline
from newsmill.config import FetchSettings, Settings, SourceSpec
from newsmill.store import reading
from tests.localserver import robots, send, serving

KEY = b"k" * 32


def article_page(n: int, title: str) -> bytes:
    comments = "".join(f"""
<li class="comment depth-1" id="li-comment-{n}{i}"><div id="comment-{n}{i}">
  <div class="comment-author vcard"><cite class="fn">Reader {i}</cite> <span class="says">says:</span></div>
  <div class="comment-meta commentmetadata"><a href="#comment-{n}{i}">March 1{n}, 2012 at {i + 1}:30 pm</a></div>
  <p>Comment {i} on story {n}: I think this is {'good' if i % 2 else 'bad'} news for the east side.</p>
  <div class="reply"><a class="comment-reply-link" href="#">Reply</a></div></div></li>""" for i in range(n + 1))
    return f"""<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{title} | The Daily Example</title>
<meta property="og:site_name" content="The Daily Example">
<meta property="article:published_time" content="2012-03-1{n}T09:00:00+00:00"></head>
<body><div id="main"><article><h1 class="entry-title">{title}</h1>
<div class="entry-content">
<p>The city council voted on Tuesday evening to approve story number {n}, ending a planning dispute that has
lasted for more than six years and divided two neighbourhoods of the old town.</p>
<p>Construction is expected to start next spring, the mayor said, with the first section opening to the public
before the end of the following year if the weather allows it and the budget holds.</p>
<p>Opponents had argued that the money would be better spent on road repairs, but the final vote was eleven to
four in favour of the plan presented by the parks department last autumn.</p>
</div></article></div>
<div id="comments"><h3 class="comments-title">{n + 1} Responses to "{title}"</h3>
<ol class="commentlist">{comments}</ol></div>
<footer><p>Copyright 2012 The Daily Example</p></footer></body></html>""".encode()


def conditional_page(body: bytes, etag: str):
    def route(h):
        if h.headers.get("If-None-Match") == etag:
            send(h, 304, b"", headers={"ETag": etag})
        else:
            send(h, 200, body, headers={"ETag": etag})
    return route


@pytest.fixture()
def site(monkeypatch):
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    routes = {"/robots.txt": robots("User-agent: *\nDisallow: /private/\n"),
              "/2012/03/story-1": conditional_page(article_page(1, "Council approves the riverside park"), '"s1"'),
              "/2012/03/story-2": conditional_page(article_page(2, "Mayor opens the new library"), '"s2"')}
    with serving(routes) as s:
        rss = f"""<?xml version="1.0"?><rss version="2.0"><channel><title>The Daily Example</title>
<item><title>Park</title><link>{s.url('/2012/03/story-1')}</link></item>
<item><title>Library</title><link>/2012/03/story-2</link></item>
<item><title>Gone</title><link>/2012/03/gone</link></item>
<item><title>Members only</title><link>/private/story-3</link></item>
</channel></rss>""".encode()
        s.routes["/feed.xml"] = lambda h: send(h, 200, rss, "application/rss+xml")
        yield s


def live_settings(out, s) -> Settings:
    return Settings(output_dir=out, author_key=KEY, sources=(SourceSpec("feed", url=s.url("/feed.xml")),),
                    fetch=FetchSettings(per_host_delay=0.0, retries=0, contact="mailto:tests@example.org",
                                        allow_private_addresses=True))


def rows(out, table: str) -> list[dict]:
    key = "article_id" if table == "articles" else "comment_id"
    got = reading.read_table(table, out).to_pylist()
    return sorted(({k: v for k, v in r.items() if k != "extracted_at"} for r in got), key=lambda r: r[key])


def test_feed_to_dataset_then_offline_replay_then_not_modified(tmp_path, site):
    out = tmp_path / "out"
    summary = pipeline.run([], live_settings(out, site))
    assert summary.accounting_ok and summary.exit_code == 0
    assert (summary.articles_published, summary.comments_published) == (2, 5)
    # the feed listed 4 pages: 2 published, 1 gone (404), 1 disallowed by robots.txt
    assert summary.inputs == 4 and summary.reject_reasons == {"http_404": 1, "robots_disallowed": 1}
    assert summary.skipped_records["warc:feed"] == 1 and summary.skipped_records["warc:robots"] == 1

    raw = out / "raw" / f"{summary.run_id}.warc.gz"
    assert raw.exists() and not list((out / "raw").glob("*.part"))
    arts = rows(out, "articles")
    assert sorted(a["url"] for a in arts) == [site.url("/2012/03/story-1"), site.url("/2012/03/story-2")]
    assert all(a["input_uri"].startswith(f"{raw}#") and a["input_format"] == "warc" for a in arts)
    comments = rows(out, "comments")
    assert sorted(c["author"] for c in comments) == ["Reader 0", "Reader 0", "Reader 1", "Reader 1", "Reader 2"]
    assert {c["article_id"] for c in comments} == {a["article_id"] for a in arts}

    # replay offline: the raw WARC alone, into a fresh output, gives the same rows
    replay = tmp_path / "replay"
    again = pipeline.run([str(raw)], Settings(output_dir=replay, author_key=KEY))
    assert again.accounting_ok and (again.articles_published, again.comments_published) == (2, 5)
    assert rows(replay, "articles") == arts and rows(replay, "comments") == comments

    # a second live run: the pages answer 304, are counted and not re-processed; the dataset keeps its rows
    n_before = len(site.stats.requests)
    second = pipeline.run([], live_settings(out, site))
    conditional = [r.headers.get("if-none-match") for r in site.stats.requests[n_before:] if r.path.startswith("/2012/03/story")]
    assert conditional == ['"s1"', '"s2"'] or conditional == ['"s2"', '"s1"']
    assert second.skipped_records["fetch:not_modified"] == 2
    assert second.articles_published == 0 and second.accounting_ok and second.exit_code == 0
    assert len(rows(out, "articles")) == 2 and len(rows(out, "comments")) == 5


def test_cli_fetch_writes_the_warc_and_counts(tmp_path, site, capsys):
    from newsmill.cli import main

    toml = tmp_path / "newsmill.toml"
    toml.write_text(f"""
[newsmill]
output_dir = "out"

[[sources]]
kind = "feed"
url = "{site.url('/feed.xml')}"

[[sources]]
kind = "urls"
urls = ["ftp://example.org/not-http"]

[fetch]
per_host_delay = 0
retries = 0
contact = "mailto:tests@example.org"
allow_private_addresses = true
""")
    code = main(["fetch", "--config", str(toml), "--output", str(tmp_path / "out")])
    printed = capsys.readouterr().out
    assert code == 0
    assert "fetched             2" in printed and "rejected            3" in printed
    assert "bad_scheme: 1" in printed and "http_404: 1" in printed and "robots_disallowed: 1" in printed
    (warc,) = (tmp_path / "out" / "raw").glob("*.warc.gz")
    assert str(warc) in printed


@pytest.mark.slow
def test_cli_run_without_paths_fetches_project_sources_in_the_flow(tmp_path, site, prefect_server, capsys,
                                                                   monkeypatch):
    from newsmill.cli import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NEWSMILL_AUTHOR_KEY", KEY.decode())
    (tmp_path / "newsmill.toml").write_text(f"""
[[sources]]
kind = "feed"
url = "{site.url('/feed.xml')}"

[fetch]
per_host_delay = 0
retries = 0
contact = "mailto:tests@example.org"
allow_private_addresses = true
""")
    code = main(["run", "--output", str(tmp_path / "out")])
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert "4 pages read" in printed and "comments   published       5" in printed
    assert "http_404: 1" in printed and "robots_disallowed: 1" in printed
    assert list((tmp_path / "out" / "raw").glob("*.warc.gz"))
