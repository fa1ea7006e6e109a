"""The end-to-end harness (bench/e2e_eval.py): its mapping and scoring rules, and a gate on real pages.

The unit tests build tiny synthetic pages and output rows: evaluation pages are never copied
into the repo.  The gate runs ``newsmill run`` (the CLI, default config, local Prefect server and
warm worker in a private PREFECT_HOME) on small subsets of ../shared/data and skips when the data
is absent.
"""
from __future__ import annotations

import datetime as dt
import gzip
import json
import os
from pathlib import Path

import pytest

from tests.conftest import load_bench, our_processes

# The gate: GATE_PAGES pages of each set, evenly spaced over the sorted ids (Dragnet: pages with
# gold comments), through the real CLI; reproduce with
#   python bench/e2e_eval.py --sets dragnet-html,dragnet-w3m,fundus --limit 20
# Floors sit a little under what that command measured after the issue-11 work (566170d,
# 2026-12-02; values in the comments; the baseline baa198d in brackets), so extractor changes that
# keep the published data as good pass and regressions fail.  Raise them when the figures improve
# (docs/EVALUATION.md has the full sets).
GATE_PAGES = 20
GATE_SETS = ("dragnet-html", "dragnet-w3m", "fundus")
FLOORS = {  # set: {figure of the set's newsmill summary: floor}
    "dragnet-html": {"comment_f1": 0.94, "body_f1": 0.81},  # 0.972 (0.915), 0.840 (0.840)
    "dragnet-w3m": {"comment_f1": 0.89, "body_f1": 0.72},  # 0.927 (0.772), 0.762 (0.616)
    "fundus": {"title_exact": 0.80, "authors_set_equal": 0.80, "date_day": 0.90,  # 0.85 (0.80), 0.85 (0.65), 0.95
               "date_minute_utc": 0.90, "body_f1": 0.90},  # 0.947 (0.737), 0.926
}
CEILINGS = {
    "dragnet-html": {"leak_share": 0.03},  # 0.007
    "dragnet-w3m": {"leak_share": 0.06},  # 0.028
}
# Pages rejected as the duplicate of a page whose gold differs: never (the baseline rejected 3 of
# the 20 w3m dumps so, identified by a title such as "Home" and no date).
MAX_FALSE_DUPLICATES = {"dragnet-html": 0, "dragnet-w3m": 0, "fundus": 0}



ev = load_bench("e2e_eval")


# --------------------------------------------------------------------------- mapping rows to pages


def test_uri_key_names_the_page_of_a_file_or_an_archive_record():
    assert ev.uri_key("/x/e2e/dragnet-html/R12.html.gz") == "R12"
    assert ev.uri_key("/x/e2e/dragnet-w3m/123.txt") == "123"
    assert ev.uri_key("/x/e2e/fundus/fundus.warc.gz#40960") == "40960"
    assert ev.uri_key(None) is None


def _corpus():
    return ev.Corpus(["/c"], {"A": "A", "B": "B", "C": "C", "D": "D"}, failed={"E": "w3m timed out"})


def _out(**kw):
    base = dict(articles=[], comments=[], q_articles=[], q_comments=[], rejects=[], summary={})
    base.update(kw)
    return ev.RunOutput(**base)


def _article(uri, body="one two three", **kw):
    return {"input_uri": uri, "body": body, "title": "t", "authors": [], "published_date": None,
            "published_at": None, **kw}


def _comment(uri, pos, text, author=None, reasons=None):
    row = {"input_uri": uri, "position": pos, "author": author, "posted_raw": None, "text": text}
    if reasons is not None:
        row["quarantine_reasons"] = reasons
    return row


def test_outcomes_map_published_quarantined_rejected_and_missing_pages():
    early = "posted_at is too long before the article was published: probably a misparsed date."
    out = _out(
        articles=[_article("/c/A.html.gz")],
        comments=[_comment("/c/A.html.gz", 2, "second"), _comment("/c/A.html.gz", 1, "first", "ann")],
        q_articles=[{**_article("/c/B.html.gz"), "quarantine_reasons": ["body is empty or only whitespace."]}],
        q_comments=[_comment("/c/A.html.gz", 3, "late", reasons=[early])],
        rejects=[{"input_uri": "/c/C.html.gz", "stage": "extract", "reason": "duplicate",
                  "detail": "same content as /c/A.html.gz"}],
    )
    res = ev.outcomes(_corpus(), out, ["A", "B", "C", "D", "E"])
    assert [res[p].status for p in "ABCDE"] == ["published", "quarantined", "rejected", "absent", "no_input"]
    assert [c["text"] for c in res["A"].comments] == ["first", "second"]  # page order
    assert res["C"].duplicate_of == "A"
    pred = ev.prediction(res["A"])
    assert pred.n_comments == 2 and pred.comments.split() == ["ann", "first", "second"]
    assert ev.prediction(res["B"]).body == "" and ev.prediction(res["C"]).status.startswith("rejected")

    tally = ev.run_tally(res, out, distinct=lambda a, b: True)
    assert (tally["published"], tally["quarantined"], tally["rejected"], tally["no_input"]) == (1, 1, 1, 1)
    assert tally["false_duplicates"] == 1 and tally["duplicates"][0]["kept"] == "A"
    assert tally["comments_quarantined_early"] == 1
    assert tally["pages_with_comments_quarantined_early"] == ["A"]
    assert ev.run_tally(res, out, distinct=lambda a, b: False)["false_duplicates"] == 0
    # A true duplicate (same gold) is in the dataset as the kept page; a false one is a miss.
    assert ev.scored_outcomes(res, distinct=lambda a, b: False)["C"] is res["A"]
    assert ev.scored_outcomes(res, distinct=lambda a, b: True)["C"] is res["C"]


def test_golds_that_differ_only_in_what_nobody_sees_are_one_article():
    """Two captures of one article whose gold titles differ by a zero-width space or a soft hyphen are the
    same article (an older_capture reject of one is scored as the other); different words are not."""
    a = "Entwurf des Gesetzes: Ein bisschen Fortschritt"
    assert ev._seen_text(a + "\u200b") == ev._seen_text(a) == ev._seen_text(" Entwurf des Ge\u00adsetzes:  Ein bisschen Fortschritt")
    assert ev._seen_text(a) != ev._seen_text(a.replace("bisschen", "wenig"))


def test_unpublished_pages_score_as_misses_on_dragnet():
    page = ev.DragnetPage("A", "the article text", "a reader comment")
    res = ev.outcomes(_corpus(), _out(rejects=[{"input_uri": "/c/A.txt", "stage": "extract",
                                                "reason": "duplicate", "detail": "same URL as /c/B.txt (another capture; its body differs or is too short to compare)"}]),
                      ["A"])
    score = ev.score_dragnet(page, "newsmill", ev.prediction(res["A"]))
    assert score.comment_f1 == 0.0 and score.body_f1 == 0.0
    assert ev.cause_of(res["A"], score, True) == "rejected duplicate (kept B)"


# --------------------------------------------------------------------------- fundus scoring


def _fundus_page(**kw):
    base = dict(page_id="xx/Pub_2024_05_03.html.gz", url="https://news.example.org/a", crawl_date="2024-05-04 01:00:00",
                title="A  title", authors=("Ann Example", "Bo Sample"),
                publishing_date="2024-05-03T23:30:00-05:00", paragraphs=("alpha beta", "gamma"))
    base.update(kw)
    return ev.FundusPage(**base)


def test_fundus_fields_compare_normalised_title_author_sets_local_day_and_utc_minute():
    page = _fundus_page()
    s = ev.score_fundus(page, "newsmill", " A title\n", ["bo  sample", "Ann Example"], dt.date(2024, 5, 3),
                        dt.datetime(2024, 5, 4, 4, 30, 59, tzinfo=dt.timezone.utc), "alpha beta gamma", "published")
    assert (s.title_ok, s.authors_ok, s.day_ok, s.minute_ok) == (True, True, True, True)
    assert s.body_f1 == 1.0
    # The UTC day (May 4) is not the page's day; a minute off is wrong; a missing author is wrong.
    s = ev.score_fundus(page, "newsmill", "A title!", ["Ann Example"], dt.date(2024, 5, 4),
                        dt.datetime(2024, 5, 4, 4, 31, tzinfo=dt.timezone.utc), "alpha", "published")
    assert (s.title_ok, s.authors_ok, s.day_ok, s.minute_ok) == (False, False, False, False)
    # trafilatura gives a day only; a gold without a zone has no UTC minute.
    assert ev.score_fundus(page, "trafilatura", None, None, "2024-05-03", None, None, "ok",
                           with_time=False).minute_ok is None
    assert ev.score_fundus(_fundus_page(publishing_date="2024-05-03 10:00:00"), "newsmill", None, None, None,
                           None, None, "published").minute_ok is None
    assert (s.title_issue, s.authors_issue, s.day_off) == ("gold plus extra text", "some missing", 1)
    summary = ev.summarize_fundus([s])
    assert summary["title_exact"] == 0.0 and summary["pages_with_gold_time"] == 1
    assert summary["day_off"] == {"+1 d": 1}


def test_field_issues_say_how_a_value_is_wrong_without_quoting_it():
    assert ev.title_issue("Story - Site", "Story") == "gold plus extra text"
    assert ev.title_issue("Story", "Story: a long one") == "part of gold"
    assert ev.title_issue(None, "Story") == "missing" and ev.title_issue("STORY", "Story") == "case"
    assert ev.title_issue("Heli\u00adkopter  plan", "Helikopter plan") == ""  # soft hyphen, spaces
    assert ev.authors_issue(["Ann", "By"], ["Ann"]) == "extra names"
    assert ev.authors_issue(["Ann Example"], ["Ann Example, Reuters"]) == "names differ in form"
    assert ev.authors_issue(["Ann"], []) == "gold has none" and ev.authors_issue([], ["Ann"]) == "missing"


# --------------------------------------------------------------------------- corpora


def test_fundus_warc_carries_url_and_crawl_date_and_indexes_record_offsets(tmp_path):
    from newsmill.sources import warc

    pages = []
    for i in range(3):
        rel = f"xx/Pub{i}_2024_05_0{i + 1}.html.gz"
        (tmp_path / "xx").mkdir(exist_ok=True)
        (tmp_path / rel).write_bytes(gzip.compress(
            f"<html><head><title>Page {i}</title></head><body><p>Text {i}</p></body></html>".encode()))
        pages.append(_fundus_page(page_id=rel, url=f"https://news.example.org/{i}",
                                  crawl_date=f"2024-05-0{i + 1} 18:19:08.721370"))
    path = tmp_path / "set.warc.gz"
    index = ev.write_warc(path, pages, root=tmp_path)
    refs = warc.scan(str(path)).refs
    assert [ev.uri_key(r) for r in refs] == list(index)
    assert list(index.values()) == [p.page_id for p in pages]
    rec = warc.read_record(refs[1], max_bytes=1 << 20)
    assert rec.url == "https://news.example.org/1"
    assert rec.captured_at == dt.datetime(2024, 5, 2, 18, 19, 8, tzinfo=dt.timezone.utc)
    assert b"Page 1" in rec.data


def test_dumpers_get_utf8_with_matching_declarations():
    page = '<html><head><meta charset="iso-8859-1"></head><body><p>caf\xe9 \u2019</p></body></html>'
    out = ev.to_utf8_html(page.encode("cp1252"))
    assert "café ’".encode() in out and b'charset="utf-8"' in out
    assert ev.dump_command("w3m", Path("p.html"), "UTF-8")[-1] == "p.html"
    assert "-cols" not in ev.dump_command("w3m", Path("p.html"), "UTF-8")  # the default width
    assert ev.dump_command("w3m100", Path("p.html"), "UTF-8")[-2:] == ["100", "p.html"]


# --------------------------------------------------------------------------- the gate


@pytest.mark.shared
@pytest.mark.slow
def test_end_to_end_gate(tmp_path):
    missing = [s for s in GATE_SETS if not ev.present(ev.SETS[s].kind)]
    if missing:
        pytest.skip(f"evaluation data not found under {ev.shared_data_dir()}: {', '.join(missing)}")
    for prog in {ev.DUMPER_PROGRAMS[ev.SETS[s].dumper] for s in GATE_SETS if ev.SETS[s].dumper}:
        if not ev.shutil.which(prog):
            pytest.skip(f"{prog} not installed")
    home = Path(os.environ["PREFECT_HOME"]).parent / "e2e-gate-prefect"
    session = ev.CliSession(daemon=True, home=home)
    results = {}
    try:
        for name in GATE_SETS:
            results[name] = ev.evaluate_set(ev.SETS[name], session, GATE_PAGES, False, lambda m: None)
    finally:
        session.close()
    assert session.leftover_processes() == [] and our_processes(str(home)) == []
    report = {n: {"summary": r.summary["newsmill"], "tally": {k: v for k, v in r.tally.items()
                                                               if k != "run_summary"}}
              for n, r in results.items()}
    (tmp_path / "gate.json").write_text(json.dumps(report, indent=1, default=str))
    failures = []
    for name, r in results.items():
        sm = r.summary["newsmill"]
        assert r.pages == GATE_PAGES and r.tally["inputs"] == GATE_PAGES
        assert r.tally["absent"] == 0, f"{name}: pages the run did not account for"
        for key, floor in FLOORS.get(name, {}).items():
            if sm[key] is None or sm[key] < floor:
                failures.append(f"{name} {key} {sm[key]} < {floor}")
        for key, ceiling in CEILINGS.get(name, {}).items():
            if sm[key] is not None and sm[key] > ceiling:
                failures.append(f"{name} {key} {sm[key]} > {ceiling}")
        if r.tally["false_duplicates"] > MAX_FALSE_DUPLICATES[name]:
            failures.append(f"{name}: false duplicates {r.tally['duplicates']}")
    assert not failures, "\n".join(failures)
