"""[[sources]] and [fetch] in newsmill.toml: parsed, layered with the environment, wrong ones refused clearly."""
from __future__ import annotations

from pathlib import Path

import pytest

from newsmill.config import ConfigError, FetchSettings, SourceSpec, load_settings

PROJECT = """
[newsmill]
inputs = ["extra/"]

[[sources]]
kind = "path"
path = "pages/"

[[sources]]
kind = "archive"
path = "/data/crawl.warc.gz"

[[sources]]
kind = "urls"
file = "urls.txt"
urls = ["https://news.example.org/a"]

[[sources]]
kind = "feed"
url = "https://news.example.org/rss.xml"

[[sources]]
kind = "sitemap"
url = "https://news.example.org/sitemap.xml.gz"

[fetch]
contact = "mailto:me@example.org"
per_host_delay = 2
per_host_concurrency = 2
respect_robots = true
"""


def load(tmp_path: Path, text: str, env: dict | None = None):
    path = tmp_path / "newsmill.toml"
    path.write_text(text, encoding="utf-8")
    return load_settings(path, env=env or {})


def test_sources_and_fetch_parsed(tmp_path):
    s = load(tmp_path, PROJECT)
    assert [src.kind for src in s.sources] == ["path", "archive", "urls", "feed", "sitemap"]
    assert s.sources[0].path == str(tmp_path / "pages")  # relative to the project file's folder
    assert s.sources[1].path == "/data/crawl.warc.gz"
    assert s.sources[2] == SourceSpec("urls", file=str(tmp_path / "urls.txt"), urls=("https://news.example.org/a",))
    assert s.project_paths() == ["extra/", str(tmp_path / "pages"), "/data/crawl.warc.gz"]
    assert [src.kind for src in s.live_sources()] == ["urls", "feed", "sitemap"]
    assert s.fetch == FetchSettings(contact="mailto:me@example.org", per_host_delay=2.0, per_host_concurrency=2)


def test_environment_outranks_the_project_file(tmp_path):
    s = load(tmp_path, PROJECT, env={"NEWSMILL_FETCH_PER_HOST_DELAY": "0.5", "NEWSMILL_FETCH_RESPECT_ROBOTS": "false",
                                     "NEWSMILL_FETCH_MAX_URLS": "7"})
    assert (s.fetch.per_host_delay, s.fetch.respect_robots, s.fetch.max_urls) == (0.5, False, 7)
    assert s.fetch.contact == "mailto:me@example.org"


@pytest.mark.parametrize("text, message", [
    ('[[sources]]\nkind = "rss"\nurl = "http://x"\n', "kind is 'rss'"),
    ('[[sources]]\nkind = "feed"\nurl = "http://x"\nlimit = 3\n', "unknown key(s) limit"),
    ('[[sources]]\nkind = "feed"\nurl = "http://x"\nfile = "f.xml"\n', "give url"),
    ('[[sources]]\nkind = "feed"\n', "give url"),
    ('[[sources]]\nkind = "urls"\nurls = "http://x"\n', "urls must be an array"),
    ('[[sources]]\nkind = "path"\npath = ""\n', "non-empty string"),
    ('[[sources]]\npath = "pages/"\n', "kind is None"),
    ('sources = "pages/"\n', "array of tables"),
    ('[fetch]\nper_host_dely = 1\n', "unknown setting 'per_host_dely' in [fetch]"),
    ('[fetch]\nconcurrency = 0\n', "at least 1"),
    ('[fetch]\nretries = 1.5\n', "whole number"),
    ('[fetch]\nrespect_robots = "no"\n', "true or false"),
    ('[fetch]\ntimeout = -1\n', "timeout"),
    ('[fetch]\nallow_private_addresses = "yes"\n', "true or false"),
    ('[[sources]]\nkind = "feed"\nurl = "http://x"\nallow_private_addresses = 1\n', "allow_private_addresses must be true or false"),
    ('[[sources]]\nkind = "path"\npath = "p/"\nallow_private_addresses = true\n', "only for live sources"),
])
def test_wrong_declarations_fail_fast(tmp_path, text, message):
    with pytest.raises(ConfigError) as err:
        load(tmp_path, text)
    assert message in str(err.value)


def test_bad_environment_value(tmp_path):
    with pytest.raises(ConfigError, match="NEWSMILL_FETCH_RETRIES"):
        load(tmp_path, "", env={"NEWSMILL_FETCH_RETRIES": "many"})
    with pytest.raises(ConfigError, match="NEWSMILL_FETCH_RESPECT_ROBOTS"):
        load(tmp_path, "", env={"NEWSMILL_FETCH_RESPECT_ROBOTS": "perhaps"})


def test_cli_reports_config_errors_and_missing_sources(tmp_path, capsys):
    from newsmill.cli import main

    bad = tmp_path / "bad.toml"
    bad.write_text('[[sources]]\nkind = "carrier-pigeon"\n')
    assert main(["fetch", "--config", str(bad)]) == 2
    assert "configuration error" in capsys.readouterr().err
    empty = tmp_path / "empty.toml"
    empty.write_text('[[sources]]\nkind = "path"\npath = "pages/"\n')
    assert main(["fetch", "--config", str(empty)]) == 2
    assert "nothing to fetch" in capsys.readouterr().err


def test_private_addresses_opt_in_per_source_and_for_all(tmp_path):
    s = load(tmp_path, '[[sources]]\nkind = "feed"\nurl = "http://intranet.local/feed"\nallow_private_addresses = true\n'
                       '[[sources]]\nkind = "urls"\nurls = ["https://news.example.org/a"]\n')
    assert [x.allow_private_addresses for x in s.sources] == [True, False]
    assert s.fetch.allow_private_addresses is False
    assert load(tmp_path, "[fetch]\nallow_private_addresses = true\n").fetch.allow_private_addresses is True
