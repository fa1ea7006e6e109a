"""Page URLs from live source declarations: URL lists, RSS/Atom feeds, sitemaps.

Parsing is pure (bytes in, URLs out) so it can be tested without a network;
:func:`expand` does the fetching of feeds and sitemaps through a
:class:`newsmill.sources.fetch.Fetcher`, so robots.txt, rate limits, size caps
and the raw WARC apply to them as to pages.

Everything is bounded: XML is parsed without DTDs, entities or network access;
gzip is inflated up to the page size cap; a sitemap index is followed at most
:data:`MAX_SITEMAP_DEPTH` levels and :data:`MAX_SITEMAPS` files; at most
``max_urls`` page URLs are kept (the rest are counted, not fetched).
"""
from __future__ import annotations

import io
import logging
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urldefrag, urljoin

from lxml import etree

from newsmill.records import Reject
from newsmill.text import shown

if TYPE_CHECKING:  # pragma: no cover
    from newsmill.config import SourceSpec
    from newsmill.sources.fetch import Fetcher

log = logging.getLogger(__name__)

GZIP_MAGIC = b"\x1f\x8b"
MAX_SITEMAP_DEPTH = 3  # an index of indexes of sitemaps (the protocol allows one level; be lenient)
MAX_SITEMAPS = 1000  # sitemap files fetched for one source
MAX_LIST_BYTES = 64 * 1024 * 1024  # a local URL list file


class FeedError(ValueError):
    """The bytes are not a feed / sitemap / URL list we can read; the message says why."""


def gunzip_if_needed(data: bytes, max_bytes: int) -> bytes:
    """``data`` inflated when it is gzip (a ``.xml.gz`` sitemap), never more than ``max_bytes``."""
    if not data.startswith(GZIP_MAGIC):
        return data
    out, rest = bytearray(), data
    try:
        while rest.startswith(GZIP_MAGIC):  # concatenated members are one gzip stream
            d = zlib.decompressobj(wbits=31)
            out += d.decompress(rest, max_bytes + 1 - len(out))
            if len(out) > max_bytes or d.unconsumed_tail:
                raise FeedError(f"over {max_bytes} bytes once inflated")
            if not d.eof:
                raise FeedError("broken gzip: cut short")
            rest = d.unused_data
    except zlib.error as exc:
        raise FeedError(f"broken gzip: {exc}") from exc
    return bytes(out)


def _unique_urls(raw: list, base_url: str) -> list[str]:
    """Absolute, cleaned URLs in document order, each once."""
    out, seen = [], set()
    for item in raw:
        url = _clean_url(item, base_url)
        if url and url not in seen:
            seen.add(url)
            out.append(url)
    return out


def _clean_url(url: str, base: str | None = None) -> str | None:
    url = url.strip()
    if not url:
        return None
    if base:
        url = urljoin(base, url)
    return urldefrag(url).url or None


def parse_url_list(text: str) -> list[str]:
    """One URL per line; blank lines and ``#`` comments (whole line, or after whitespace) ignored;
    fragments dropped; duplicates kept once, in first-seen order."""
    seen: set[str] = set()
    out: list[str] = []
    for line in text.lstrip("\ufeff").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        url = _clean_url(line.split()[0])
        if url and url not in seen:
            seen.add(url)
            out.append(url)
    return out


def _local(tag) -> str:
    return etree.QName(tag).localname if isinstance(tag, str) else ""


def _parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, recover=True)


def parse_feed(data: bytes, base_url: str | None = None) -> list[str]:
    """Item links of an RSS 2.0, RSS 1.0 (RDF) or Atom feed, resolved against ``base_url``, in feed order."""
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as exc:
        raise FeedError(f"not XML: {exc}") from exc
    if root is None:
        raise FeedError("not XML")
    kind = _local(root.tag).lower()
    links: list[str] = []
    if kind in ("rss", "rdf"):
        for item in root.iter():
            if _local(item.tag) != "item":
                continue
            link = next((c.text for c in item if _local(c.tag) == "link" and (c.text or "").strip()), None)
            if link is None:  # RSS 1.0 names the item by rdf:about; RSS 2.0 may give only a permalink guid
                link = next((v for k, v in item.attrib.items() if _local(k) == "about"), None)
            if link is None:
                guid = next((c for c in item if _local(c.tag) == "guid"), None)
                if guid is not None and guid.get("isPermaLink", "true").lower() != "false":
                    link = guid.text
            if link:
                links.append(link)
    elif kind == "feed":
        for entry in root:
            if _local(entry.tag) != "entry":
                continue
            candidates = [c for c in entry if _local(c.tag) == "link" and c.get("href")]
            alternate = [c for c in candidates if c.get("rel", "alternate") == "alternate"]
            html = [c for c in alternate if (c.get("type") or "text/html") in ("text/html", "application/xhtml+xml")]
            chosen = (html or alternate)[:1]
            if chosen:
                links.append(chosen[0].get("href"))
    else:
        raise FeedError(f"root element <{_local(root.tag)}> is not rss, rdf:RDF or an Atom feed")
    return _unique_urls(links, base_url)


def parse_sitemap(data: bytes, base_url: str | None = None, *, limit: int | None = None) -> tuple[str, list[str]]:
    """``('urlset', page URLs)`` or ``('index', sitemap URLs)``; plain-text sitemaps (one URL a line)
    are read as ``urlset``.  Streamed: memory stays bounded by ``limit`` URLs, not by the file."""
    if not data.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<"):
        try:
            urls = parse_url_list(data.decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise FeedError("neither XML nor a UTF-8 text sitemap") from exc
        if not urls:
            raise FeedError("empty text sitemap")
        return "urlset", urls[:limit] if limit is not None else urls
    kind, locs = None, []
    try:
        for event, el in etree.iterparse(io.BytesIO(data), events=("start", "end"), resolve_entities=False,
                                          no_network=True, load_dtd=False, huge_tree=False, recover=True):
            name = _local(el.tag)
            if kind is None:
                if event != "start":
                    continue
                if name not in ("urlset", "sitemapindex"):
                    raise FeedError(f"root element <{name}> is not urlset or sitemapindex")
                kind = "urlset" if name == "urlset" else "index"
                continue
            if event == "end" and name == "loc" and el.text and el.text.strip():
                locs.append(el.text.strip())
                if limit is not None and len(locs) >= limit:
                    break
            if event == "end" and name in ("url", "sitemap"):
                el.clear()
    except etree.XMLSyntaxError as exc:
        if kind is None:
            raise FeedError(f"not XML: {exc}") from exc
        log.warning("sitemap %s: XML broken after %d locations: %s", shown(base_url), len(locs), shown(exc))
    if kind is None:
        raise FeedError("no root element")
    return kind, _unique_urls(locs, base_url)


@dataclass
class Discovery:
    """Page URLs found in the live sources, the sources that failed, and what was over the limit."""

    urls: list[str] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)
    over_limit: int = 0
    feeds: int = 0  # feeds and sitemaps read and understood
    private_ok: set = field(default_factory=set)  # URLs of sources that opted in to private addresses
    _seen: set = field(default_factory=set, repr=False)

    def add(self, url: str, max_urls: int, private_ok: bool = False) -> None:
        url = urldefrag(url.strip()).url
        if not url:
            return
        if private_ok:  # a URL listed by an opted-in source and by another one: the opt-in holds
            self.private_ok.add(url)
        if url in self._seen:
            return
        self._seen.add(url)
        if len(self.urls) >= max_urls:
            self.over_limit += 1
        else:
            self.urls.append(url)


def _read_local(path: str, max_bytes: int) -> bytes:
    p = Path(path)
    if p.stat().st_size > max_bytes:
        raise FeedError(f"file over {max_bytes} bytes")
    return p.read_bytes()


def _document(spec_url: str | None, spec_file: str | None, fetcher: "Fetcher", role: str, max_bytes: int,
              out: Discovery, private_ok: bool = False) -> tuple[bytes, str | None] | None:
    """(inflated bytes, base URL) of a feed or sitemap, or None after recording a reject."""
    if spec_file:
        try:
            return gunzip_if_needed(_read_local(spec_file, max_bytes), max_bytes), None
        except (OSError, FeedError) as exc:
            out.rejects.append(Reject(spec_file, "fetch", "unreadable", f"{role} file: {exc}"))
            return None
    res = fetcher.fetch(spec_url, role=role, keep_body=True, allow_private=private_ok)
    if res.status != "ok":
        out.rejects.append(res.reject(f"{role}: "))
        return None
    try:
        return gunzip_if_needed(res.body or b"", max_bytes), res.final_url or spec_url
    except FeedError as exc:
        out.rejects.append(Reject(spec_url, "fetch", f"bad_{role}", str(exc)))
        return None


def expand(sources: "list[SourceSpec] | tuple[SourceSpec, ...]", fetcher: "Fetcher", *, max_urls: int,
           max_bytes: int) -> Discovery:
    """The page URLs of every live source, each once, in declaration order."""
    out = Discovery()
    for spec in sources:
        private = spec.allow_private_addresses
        if spec.kind == "urls":
            for url in spec.urls:
                out.add(url, max_urls, private)
            if spec.file:
                try:
                    text = _read_local(spec.file, MAX_LIST_BYTES).decode("utf-8", "replace")
                except (OSError, FeedError) as exc:
                    out.rejects.append(Reject(spec.file, "fetch", "unreadable", f"URL list: {exc}"))
                    continue
                for url in parse_url_list(text):
                    out.add(url, max_urls, private)
        elif spec.kind == "feed":
            doc = _document(spec.url, spec.file, fetcher, "feed", max_bytes, out, private)
            if doc is None:
                continue
            try:
                links = parse_feed(*doc)
            except FeedError as exc:
                out.rejects.append(Reject(spec.url or spec.file, "fetch", "bad_feed", str(exc)))
                continue
            out.feeds += 1
            for url in links:
                out.add(url, max_urls, private)
        elif spec.kind == "sitemap":
            _expand_sitemap(spec, fetcher, out, max_urls=max_urls, max_bytes=max_bytes)
    return out


def _expand_sitemap(spec: "SourceSpec", fetcher: "Fetcher", out: Discovery, *, max_urls: int, max_bytes: int) -> None:
    queue: list[tuple[str | None, str | None, int]] = [(spec.url, spec.file, 0)]
    visited: set[str] = set()
    while queue:
        url, file, depth = queue.pop(0)
        name = url or file
        if name in visited:
            continue
        visited.add(name)
        if len(visited) > MAX_SITEMAPS:
            out.rejects.append(Reject(name, "fetch", "too_many_sitemaps", f"over {MAX_SITEMAPS} sitemaps in {spec.url or spec.file}"))
            continue
        doc = _document(url, file, fetcher, "sitemap", max_bytes, out, spec.allow_private_addresses)
        if doc is None:
            continue
        try:
            kind, locs = parse_sitemap(*doc)
        except FeedError as exc:
            out.rejects.append(Reject(name, "fetch", "bad_sitemap", str(exc)))
            continue
        out.feeds += 1
        if kind == "index":
            if depth + 1 > MAX_SITEMAP_DEPTH:
                out.rejects.append(Reject(name, "fetch", "bad_sitemap", f"sitemap indexes nested over {MAX_SITEMAP_DEPTH} levels"))
                continue
            queue += [(loc, None, depth + 1) for loc in locs]
        else:
            for loc in locs:
                out.add(loc, max_urls, spec.allow_private_addresses)
